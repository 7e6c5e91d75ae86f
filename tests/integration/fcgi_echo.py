#!/usr/bin/python3
"""A tiny FastCGI responder that echoes what the web server sent.

    fcgi_echo.py --listen unix:/path/to.sock | 127.0.0.1:PORT

Prints "READY" once listening; exits 0 on SIGTERM.  Every request is answered
200 with a JSON body {"params": {FastCGI params}, "stdin": "<request body>"},
so harness and routing tests can see exactly what nginx or Apache pass
(SCRIPT_NAME, PATH_INFO, REQUEST_URI, ...).  A unix socket is made 0666 so
Apache's www-data children can connect.
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading

from fcgi_client import record

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT = 1, 2, 3, 4, 5, 6
KEEP_CONN = 1


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_record(conn):
    _ver, rtype, rid, clen, plen, _ = struct.unpack("!BBHHBB", read_exact(conn, 8))
    content = read_exact(conn, clen)
    read_exact(conn, plen)
    return rtype, rid, content


def parse_params(data):
    out, i = {}, 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] & 0x80:
                lens.append(struct.unpack("!I", data[i:i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        name = data[i:i + lens[0]].decode("latin-1")
        i += lens[0]
        out[name] = data[i:i + lens[1]].decode("utf-8", "replace")
        i += lens[1]
    return out


def serve(conn):
    with conn:
        try:
            while True:
                params, body, keep, rid = b"", b"", False, 0
                while True:
                    rtype, rid, content = read_record(conn)
                    if rtype == BEGIN:
                        keep = bool(content[2] & KEEP_CONN)
                    elif rtype == PARAMS:
                        params += content
                    elif rtype == STDIN:
                        if not content:
                            break
                        body += content
                    elif rtype == ABORT:
                        break
                reply = json.dumps({"params": parse_params(params),
                                    "stdin": body.decode("utf-8", "replace")})
                out = (b"Status: 200 OK\r\nContent-Type: application/json\r\n\r\n"
                       + reply.encode())
                msg = b""
                for i in range(0, len(out), 65535):
                    msg += record(STDOUT, out[i:i + 65535], rid)
                msg += record(STDOUT, b"", rid) + record(END, b"\0" * 8, rid)
                conn.sendall(msg)
                if not keep:
                    return
        except (EOFError, OSError):
            return


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    args = p.parse_args()
    if args.listen.startswith("unix:"):
        path = args.listen[5:]
        if os.path.exists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        os.chmod(path, 0o666)
    else:
        host, _, port = args.listen.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
    sock.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY", flush=True)
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
