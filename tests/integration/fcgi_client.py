"""A minimal FastCGI client (responder role), to talk to formpost without a
web server: lets tests hold a request half-sent, or speak to an inherited
socket.  Spec: FastCGI 1.0, sections 3 and 5."""
import socket
import struct

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7


def _record(rtype, content, req_id=1):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, rtype, req_id, len(content), pad, 0) + content + b"\0" * pad


def _nv(name, value):
    out = b""
    for x in (name, value):
        out += bytes([len(x)]) if len(x) < 128 else struct.pack(">I", len(x) | 0x80000000)
    return out + name + value


class Request:
    """One request on its own connection: .begin(params), .send(body part),
    .finish() → (status, headers dict, body bytes)."""

    def __init__(self, target, timeout=10):
        if target.startswith("unix:"):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(timeout)
            self.sock.connect(target[5:])
        else:
            host, port = target.rsplit(":", 1)
            self.sock = socket.create_connection((host, int(port)), timeout=timeout)

    def begin(self, params):
        self.sock.sendall(_record(BEGIN, struct.pack(">HB5x", 1, 0)))
        body = b"".join(_nv(k.encode(), v.encode()) for k, v in params.items())
        for i in range(0, len(body), 65535):
            self.sock.sendall(_record(PARAMS, body[i:i + 65535]))
        self.sock.sendall(_record(PARAMS, b""))

    def send(self, data):
        for i in range(0, len(data), 65535):
            self.sock.sendall(_record(STDIN, data[i:i + 65535]))

    def finish(self):
        self.sock.sendall(_record(STDIN, b""))
        try:
            return parse_response(read_stdout(self.sock))
        finally:
            self.sock.close()


def read_stdout(sock):
    """The STDOUT bytes of one FastCGI answer, up to END_REQUEST (or until
    the peer closes)."""
    out = b""
    while True:
        head = b""
        while len(head) < 8:
            chunk = sock.recv(8 - len(head))
            if not chunk:
                return out
            head += chunk
        _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", head)
        content = b""
        while len(content) < clen + plen:
            chunk = sock.recv(clen + plen - len(content))
            if not chunk:
                return out
            content += chunk
        if rtype == STDOUT:
            out += content[:clen]
        elif rtype == END:
            return out


def parse_response(raw):
    if not raw:
        return None, {}, b""
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body


def post(target, path, body, origin="https://www.example.com", extra=None):
    """A complete urlencoded POST; returns (status, headers, body)."""
    params = {
        "REQUEST_METHOD": "POST", "REQUEST_URI": path, "SCRIPT_NAME": path,
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
        "HTTP_ORIGIN": origin,
    }
    params.update(extra or {})
    r = Request(target)
    r.begin(params)
    r.send(body)
    return r.finish()
