"""SIGTERM with requests still arriving, under a long read_timeout (60 s):
each gets LIM_STOP_READ_GRACE (2 s) to arrive whole.  A request on a worker
and one still in the intake that finish within it are answered, a complete
one waiting for a free worker is answered, one that never finishes is cut
at the grace (event=rejected reason=read_timeout), and the process exits 0
within seconds, not at read_timeout, its answered messages on disk."""
import socket
import threading
import time
import urllib.parse

import fcgi_client
from fcgi_client import BEGIN, PARAMS, STDIN, record, begin_body
from harness import wait_for

READ_TIMEOUT = 60
GRACE = 2


def head(body_len):
    return record(BEGIN, begin_body()) + record(PARAMS, fcgi_client.params({
        "REQUEST_METHOD": "POST", "REQUEST_URI": "/formpost/example",
        "SCRIPT_NAME": "/formpost/example",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(body_len), "REMOTE_ADDR": "127.0.0.1",
        "HTTP_ORIGIN": "https://www.example.com"})) + record(PARAMS, b"")


def body(n, size=0):
    return urllib.parse.urlencode({"name": "山田", "email": "taro@example.jp",
                                   "message": f"stop {n} " + "x" * size}).encode()


def stream(b):
    return b"".join(record(STDIN, b[i:i + 8000]) for i in range(0, len(b), 8000))


def connect(fp, data):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(str(fp.socket))
    s.sendall(data)
    return s


def answer(s, out, name):
    try:
        st, _, _ = fcgi_client.parse_response(fcgi_client.read_stdout(s))
    except OSError:
        st = None
    out[name] = st


def test_sigterm_gives_arriving_requests_a_short_grace(formpost_config, smtpd,
                                                       formpost_factory, tmp_path):
    formpost_config["workers"] = 2
    formpost_config["limits"] = {"read_timeout": f"{READ_TIMEOUT}s"}
    formpost_config["sites"]["example"]["rate_limit"] = "100/1m"
    formpost_config["sites"]["example"]["fields"]["message"]["max"] = 40000
    fp = formpost_factory(formpost_config)
    fp.wait_log("event=started")
    # On the workers (more than 16 KiB queued): one that finishes after
    # the signal, one that never does.
    big_a, big_b = body("a", 30000), body("b", 30000)
    a = connect(fp, head(len(big_a)) + stream(big_a[:20000]))
    b = connect(fp, head(len(big_b)) + stream(big_b[:20000]))
    time.sleep(0.5)
    # In the intake: half its params; then a complete one that waits for
    # a worker.
    small_c, small_d = body("c"), body("d")
    c_bytes = head(len(small_c)) + stream(small_c) + record(STDIN, b"")
    c = connect(fp, c_bytes[:20])
    d = connect(fp, head(len(small_d)) + stream(small_d) + record(STDIN, b""))
    time.sleep(0.3)
    t0 = time.monotonic()
    fp.proc.popen.send_signal(15)
    time.sleep(0.8)
    assert fp.alive()
    a.sendall(stream(big_a[20000:]) + record(STDIN, b""))
    c.sendall(c_bytes[20:])
    got, threads = {}, []
    for s, name in ((a, "a"), (b, "b"), (c, "c"), (d, "d")):
        t = threading.Thread(target=answer, args=(s, got, name))
        t.start()
        threads.append(t)
    rc = fp.proc.popen.wait(GRACE + 6)
    took = time.monotonic() - t0
    for t in threads:
        t.join(5)
    print(f"exited {took:.1f}s after SIGTERM; answers {got}")
    assert rc == 0
    assert took < GRACE + 4, took
    assert got == {"a": 200, "b": None, "c": 200, "d": 200}, got
    proc = fp.proc
    fp.proc = None
    proc.stop()
    log = fp.logfile.read_text()
    assert "event=rejected reason=read_timeout" in log
    assert log.count("event=accepted") == 3
    queued = len(list((tmp_path / "spool" / "queue").iterdir()))
    assert smtpd.count() + queued >= 3
    for s in (a, b, c, d):
        s.close()


def test_sigterm_right_after_accept_still_gives_the_grace(formpost_config, smtpd,
                                                          formpost_factory):
    """A request thread watches a connection whose request has not come
    whole for a few ms before passing it to the intake thread; a SIGTERM
    in that window must not drop it: it gets the grace like the others."""
    formpost_config["workers"] = 2
    formpost_config["limits"] = {"read_timeout": f"{READ_TIMEOUT}s"}
    formpost_config["sites"]["example"]["rate_limit"] = "100/1m"
    fp = formpost_factory(formpost_config)
    fp.wait_log("event=started")
    small = body("e")
    data = head(len(small)) + stream(small) + record(STDIN, b"")
    s = connect(fp, data[:20])
    time.sleep(0.005)
    fp.proc.popen.send_signal(15)
    time.sleep(0.5)
    s.sendall(data[20:])
    got = {}
    answer(s, got, "e")
    rc = fp.proc.popen.wait(GRACE + 6)
    assert rc == 0
    assert got == {"e": 200}, got
    proc = fp.proc
    fp.proc = None
    proc.stop()
    s.close()
