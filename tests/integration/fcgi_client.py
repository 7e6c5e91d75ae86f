"""A minimal FastCGI client (responder role), to talk to formpost without a
web server: lets tests hold a request half-sent, or speak to an inherited
socket.  Spec: FastCGI 1.0, sections 3 and 5."""
import socket
import struct

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7


def record(rtype, content=b"", req_id=1, pad=False):
    """One record (section 3.3); pad: fill the content to a multiple of 8
    bytes, as most web servers do.  The one encoder every test uses."""
    n = (8 - len(content) % 8) % 8 if pad else 0
    return struct.pack(">BBHHBB", 1, rtype, req_id, len(content), n, 0) + content + b"\0" * n


def params(p):
    """A dict of str → str as name-value pairs (section 3.4)."""
    out = b""
    for k, v in p.items():
        k, v = k.encode(), v.encode()
        for x in (k, v):
            out += bytes([len(x)]) if len(x) < 128 else struct.pack(">I", len(x) | 0x80000000)
        out += k + v
    return out


def begin_body():
    """BEGIN_REQUEST's content: the responder role, no keep-alive."""
    return struct.pack(">HB5x", 1, 0)


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

    def begin(self, pairs):
        self.sock.sendall(record(BEGIN, begin_body(), pad=True))
        body = params(pairs)
        for i in range(0, len(body), 65535):
            self.sock.sendall(record(PARAMS, body[i:i + 65535], pad=True))
        self.sock.sendall(record(PARAMS, b"", pad=True))

    def send(self, data):
        for i in range(0, len(data), 65535):
            self.sock.sendall(record(STDIN, data[i:i + 65535], pad=True))

    def finish(self):
        self.sock.sendall(record(STDIN, b"", pad=True))
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
    pairs = {
        "REQUEST_METHOD": "POST", "REQUEST_URI": path, "SCRIPT_NAME": path,
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
        "HTTP_ORIGIN": origin,
    }
    pairs.update(extra or {})
    r = Request(target)
    r.begin(pairs)
    r.send(body)
    return r.finish()
