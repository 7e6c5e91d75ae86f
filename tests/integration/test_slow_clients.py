"""Slow clients against the worker pool: one read deadline per request
(limits.read_timeout) covers the FastCGI params and the body, through real
Apache (mod_proxy_fcgi streams the body) and straight on the socket; the
params are bounded in count and size."""
import socket
import struct
import threading
import time
import urllib.parse

import fcgi_client
from harness import post_form, wait_for

READ_TIMEOUT = 6                      # seconds, in the test config
SLACK = 3                             # seconds: generous, the machine is loaded;
                                      # a normal post must take less, so it
                                      # cannot have waited for read_timeout
BODY = urllib.parse.urlencode({"name": "山田", "email": "taro@example.jp",
                               "message": "こんにちは"}).encode()
GOOD = {"name": "山田", "email": "taro@example.jp"}


def slow_config(cfg, workers):
    cfg["workers"] = workers
    cfg["limits"] = {"read_timeout": f"{READ_TIMEOUT}s"}
    cfg["sites"]["example"]["rate_limit"] = "100/1m"
    return cfg


def dribble(sock, data, every, stop):
    """Sends data one byte every `every` seconds until stop is set or the
    peer gives up on us."""
    for b in data:
        if stop.wait(every):
            return
        try:
            sock.send(bytes([b]))
        except OSError:
            return


def closed_by_peer(sock, timeout):
    """True when the peer closes (or resets) sock within timeout."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def params_bytes(params):
    return fcgi_client.params(params)


def post_params(extra=None):
    p = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/formpost/example",
         "SCRIPT_NAME": "/formpost/example",
         "CONTENT_TYPE": "application/x-www-form-urlencoded",
         "CONTENT_LENGTH": str(len(BODY)), "REMOTE_ADDR": "127.0.0.1",
         "HTTP_ORIGIN": "https://www.example.com"}
    p.update(extra or {})
    return p


def test_slow_bodies_through_apache(formpost_factory, apache_factory, formpost_config,
                                    smtpd, public_dir):
    """`workers` browsers that announce 60000 bytes and send one byte every
    half second through Apache hold every worker only until read_timeout:
    a normal post sent meanwhile is answered at once, without waiting for
    them; at read_timeout they are dropped and logged."""
    workers = 2
    formpost_config["listen"] = f"unix:{public_dir / 'slow.sock'}"
    formpost_config["socket_group"] = "www-data"
    fp = formpost_factory(slow_config(formpost_config, workers))
    ap = apache_factory(fp.target)
    host, port = ap.url("/").split("//")[1].split("/")[0].rsplit(":", 1)
    stop = threading.Event()
    slow, threads = [], []
    try:
        for _ in range(workers):
            s = socket.create_connection((host, int(port)), timeout=30)
            s.sendall(b"POST /formpost/example HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Origin: https://www.example.com\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 60000\r\n\r\nname=")
            t = threading.Thread(target=dribble, args=(s, b"x" * 60000, 0.5, stop),
                                 daemon=True)
            t.start()
            slow.append(s)
            threads.append(t)
        time.sleep(1)                 # Apache has handed both to formpost
        t0 = time.monotonic()
        r = post_form(ap.url("/formpost/example"), dict(GOOD, message="apache"),
                      timeout=READ_TIMEOUT + 2 * SLACK)
        waited = time.monotonic() - t0
        assert r.status_code == 200, r.text[:300]
        assert waited < SLACK, waited
        assert not fp.events(event="rejected", reason="read_timeout")
        wait_for(lambda: len(fp.events(event="rejected", reason="read_timeout"))
                 >= workers, READ_TIMEOUT + SLACK, "every slow client dropped")
    finally:
        stop.set()
        for s in slow:
            s.close()
        for t in threads:
            t.join()
    assert smtpd.wait(1)


def test_slow_records_on_the_socket(formpost_factory, formpost_config, smtpd):
    """Straight on the socket, one connection per worker: half a record
    header, a BEGIN_REQUEST with half a PARAMS record, a complete head whose
    STDIN stalls, PARAMS sent one byte a second (which a per-read timeout
    would never cut), and 24 KB of a 60 KB body then nothing.  A normal request sent meanwhile is served at
    once; each slow one is dropped at read_timeout and logged."""
    params = params_bytes(post_params())
    begin = fcgi_client.record(fcgi_client.BEGIN, fcgi_client.begin_body())
    pr = fcgi_client.record(fcgi_client.PARAMS, params)
    end_params = fcgi_client.record(fcgi_client.PARAMS, b"")
    big_pr = fcgi_client.record(fcgi_client.PARAMS, params_bytes(
        post_params({"CONTENT_LENGTH": "60000"})))
    kinds = {
        "partial_begin": (begin[:4], b""),
        "partial_params": (begin + pr[:len(pr) // 2], b""),
        "stalled_stdin": (begin + pr + end_params +
                          fcgi_client.record(fcgi_client.STDIN, BODY[:5]), b""),
        "dribbled_params": (begin, pr),
        # Fast enough to get a worker (more than 16 KiB queued), then
        # stalled: the worker's own deadline frees it.
        "stalled_big_body": (begin + big_pr + end_params + b"".join(
            fcgi_client.record(fcgi_client.STDIN, b"x" * 8000) for _ in range(3)), b""),
    }
    fp = formpost_factory(slow_config(formpost_config, len(kinds)))
    fp.wait_log("event=started")
    stop = threading.Event()
    conns, threads = {}, []
    try:
        for name, (now, later) in kinds.items():
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(fp.socket))
            s.sendall(now)
            t = threading.Thread(target=dribble, args=(s, later, 1, stop), daemon=True)
            t.start()
            conns[name] = s
            threads.append(t)
        start = time.monotonic()
        time.sleep(0.5)
        t0 = time.monotonic()
        status, _, body = fcgi_client.post(f"unix:{fp.socket}", "/formpost/example", BODY)
        waited = time.monotonic() - t0
        assert status == 200, body
        assert waited < SLACK, waited
        for name, s in conns.items():
            left = start + READ_TIMEOUT + SLACK - time.monotonic()
            assert closed_by_peer(s, max(left, 0.1)), name
        wait_for(lambda: len(fp.events(event="rejected", reason="read_timeout"))
                 >= len(kinds), SLACK, "every slow connection logged")
    finally:
        stop.set()
        for s in conns.values():
            s.close()
        for t in threads:
            t.join()
    assert fp.alive()


def test_params_bounded(formpost_factory, formpost_config, smtpd):
    """More params than LIM_FCGI_PARAMS (256), or more than
    LIM_FCGI_PARAMS_BYTES (64 KiB) of them, are dropped unanswered and
    logged; a large but real-world set (100 params, 30 KB) is served."""
    fp = formpost_factory(slow_config(formpost_config, 2))
    target = f"unix:{fp.socket}"
    many = {f"HTTP_X_{i}": "v" for i in range(300)}
    big = {"HTTP_COOKIE": "c" * 70000}
    for extra in (many, big):
        try:
            status, _, _ = fcgi_client.post(target, "/formpost/example", BODY,
                                            extra=extra)
        except (BrokenPipeError, ConnectionResetError):
            status = None             # dropped while we were still sending
        assert status is None
    wait_for(lambda: len(fp.events(event="rejected", reason="params")) == 2,
             SLACK, "both oversized sets logged")
    fits = {f"HTTP_X_{i}": "v" * 300 for i in range(100)}
    status, _, body = fcgi_client.post(target, "/formpost/example", BODY, extra=fits)
    assert status == 200, body
    assert fp.alive()
