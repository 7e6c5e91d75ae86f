"""Hostile FastCGI heads straight on the socket (what a local peer that
is not a web server can send): declared name-value lengths past the record
or past any sane size (the 4-byte form with 31-bit values), pairs cut by
the end of the params stream, management records (FCGI_GET_VALUES, which
libfcgi parses with the same code and answers into a fixed buffer), a
second request, and floods of tiny records.  The intake drops each before
libfcgi reads a byte (event=rejected reason=params or protocol_error);
the worker stays up, on the plain and on the ASan+UBSan build, and the
normal post sent right after each is answered."""
import socket
import struct
import time
import urllib.parse

import pytest

import fcgi_client
from fcgi_client import BEGIN, PARAMS, STDIN, record, begin_body
from harness import REPO, wait_for

GET_VALUES = 9
BODY = urllib.parse.urlencode({"name": "山田", "email": "taro@example.jp",
                               "message": "こんにちは"}).encode()
HEAD = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/formpost/example",
        "SCRIPT_NAME": "/formpost/example",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(BODY)), "REMOTE_ADDR": "127.0.0.1",
        "HTTP_ORIGIN": "https://www.example.com"}


def long_len(n):
    """The 4-byte length form (FastCGI 1.0 §3.4)."""
    return struct.pack(">I", n | 0x80000000)


def pair_raw(name_len, value_len, content=b""):
    return long_len(name_len) + long_len(value_len) + content


def request_with(params_records, body=BODY, begin=None):
    out = record(BEGIN, begin_body()) if begin is None else begin
    out += b"".join(params_records)
    return out + record(STDIN, body) + record(STDIN, b"")


GOOD_PARAMS = fcgi_client.params(HEAD)
CASES = {
    # Lengths whose sum overflows an int (libfcgi adds them, plus 2).
    "overflowing_lengths": request_with([
        record(PARAMS, GOOD_PARAMS + pair_raw(0x7fffffff, 0x7fffffff, b"x" * 16)),
        record(PARAMS, b"")]),
    "huge_name": request_with([
        record(PARAMS, pair_raw(0x7ffffff0, 0x20, b"x" * 64)), record(PARAMS, b"")]),
    # A pair longer than the whole stream: it runs into the body.
    "pair_past_the_stream": request_with([
        record(PARAMS, GOOD_PARAMS + bytes([100, 100]) + b"x" * 20),
        record(PARAMS, b"")]),
    "length_cut": request_with([record(PARAMS, GOOD_PARAMS + b"\x85\x00"),
                                record(PARAMS, b"")]),
    # Over LIM_FCGI_PARAMS_BYTES in declared lengths, though small on the wire.
    "declared_over_cap": request_with([
        record(PARAMS, GOOD_PARAMS + pair_raw(70000, 0)), record(PARAMS, b"")]),
    # 300 one-byte PARAMS records: a head that spins, over the record cap.
    "tiny_records": request_with(
        [record(PARAMS, bytes([c])) for c in fcgi_client.params(
            dict(HEAD, HTTP_X_PAD="p" * 400))] + [record(PARAMS, b"")]),
    # Management records (request id 0): FCGI_GET_VALUES asking the same
    # name six times, and one with absurd lengths.
    "get_values_repeated": record(GET_VALUES, fcgi_client.params(
        {f"FCGI_MAX_CONNS": ""}) * 6, req_id=0) + request_with(
        [record(PARAMS, GOOD_PARAMS), record(PARAMS, b"")]),
    "get_values_overflow": record(GET_VALUES, pair_raw(0x7fffffff, 0x7fffffff),
                                  req_id=0),
    # A second request id on the connection.
    "other_request_id": request_with([
        record(PARAMS, GOOD_PARAMS), record(PARAMS, pair_raw(0x7fffffff, 1),
                                            req_id=2),
        record(PARAMS, b"")]),
    "params_first": request_with([record(PARAMS, GOOD_PARAMS), record(PARAMS, b"")],
                                 begin=b""),
}


def send_raw(target, data, timeout=10, pause_at=None):
    """Sends data (pausing after data[:pause_at], so that the intake hands
    the connection over first), then reads until the peer closes; returns
    what came."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(target[5:])
    try:
        try:
            if pause_at:
                s.sendall(data[:pause_at])
                time.sleep(0.5)
                data = data[pause_at:]
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return b""
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return out
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


@pytest.mark.parametrize("binary", ["formpost", "formpost-asan"])
def test_hostile_heads_dropped_worker_survives(binary, formpost_factory, formpost_config,
                                               smtpd, tmp_path, monkeypatch):
    exe = REPO / binary
    assert exe.exists(), f"{exe} missing: run `make units`"
    monkeypatch.setenv("FORMPOST_BIN", str(exe))
    env = {"ASAN_OPTIONS": f"log_path={tmp_path}/asan:detect_leaks=1",
           "UBSAN_OPTIONS": f"log_path={tmp_path}/ubsan:print_stacktrace=1:halt_on_error=1"}
    formpost_config["workers"] = 2
    formpost_config["sites"]["example"]["rate_limit"] = "1000/1m"
    fp = formpost_factory(formpost_config, env=env)
    target = f"unix:{fp.socket}"
    for n, (name, data) in enumerate(CASES.items()):
        out = send_raw(target, data)
        assert b"Status: 200" not in out, name
        assert fp.alive(), name
        status, _, body = fcgi_client.post(
            target, "/formpost/example", BODY.replace(b"message=", f"message={n}".encode()))
        assert status == 200, (name, body[:300])
    # A dropped connection's line may follow the drop: wait for all of them.
    wait_for(lambda: len(fp.events(event="rejected", reason="params")) >= 6 and
             len(fp.events(event="rejected", reason="protocol_error")) >= 4, 15,
             "malformed param sets logged")
    assert smtpd.wait(len(CASES)) and smtpd.count() == len(CASES)
    fp.stop()
    reports = list(tmp_path.glob("asan*")) + list(tmp_path.glob("ubsan*"))
    assert not reports, "\n".join(p.read_text()[:3000] for p in reports)


@pytest.mark.parametrize("mgmt", ["overflow", "repeated"])
def test_management_record_in_the_body(mgmt, formpost_factory, formpost_config, smtpd):
    """A management record after 20 KB of body, past what the intake
    inspects before it hands the connection over."""
    formpost_config["workers"] = 2
    fp = formpost_factory(formpost_config)
    target = f"unix:{fp.socket}"
    body = b"name=x&message=" + b"a" * 30000
    msg = record(BEGIN, begin_body()) + record(PARAMS, fcgi_client.params(
        dict(HEAD, CONTENT_LENGTH=str(len(body))))) + record(PARAMS, b"")
    msg += record(STDIN, body[:20000])
    first = len(msg)
    if mgmt == "overflow":
        msg += record(GET_VALUES, pair_raw(0x7ffffff0, 0x20, b"x" * 64), req_id=0)
    else:
        msg += record(GET_VALUES, fcgi_client.params({"FCGI_MAX_CONNS": ""}) * 6, req_id=0)
    msg += record(STDIN, body[20000:]) + record(STDIN, b"")
    send_raw(target, msg, pause_at=first)
    assert fp.alive()
    status, _, body = fcgi_client.post(target, "/formpost/example", BODY)
    assert status == 200, body[:300]


def read_records(raw):
    """(type, request id, content) of each record in raw."""
    out, i = [], 0
    while i + 8 <= len(raw):
        _, rtype, rid, clen, plen, _ = struct.unpack(">BBHHBB", raw[i:i + 8])
        out.append((rtype, rid, raw[i + 8:i + 8 + clen]))
        i += 8 + clen + plen
    return out


def test_head_parsed_by_formpost(formpost_factory, formpost_config, smtpd):
    """formpost reads the head itself (doc/design.md "Performance"): a
    pair cut across PARAMS records, a repeated name (the first counts),
    padding and a request id other than 1 all give the answer a web
    server expects, as STDOUT records and then END_REQUEST
    (FCGI_REQUEST_COMPLETE) on that id; a role other than the
    responder's gets END_REQUEST with FCGI_UNKNOWN_ROLE."""
    formpost_config["workers"] = 2
    fp = formpost_factory(formpost_config)
    target = f"unix:{fp.socket}"
    head = fcgi_client.params(dict(HEAD, REMOTE_ADDR="192.0.2.7")) + \
        fcgi_client.params({"REMOTE_ADDR": "198.51.100.9"})
    cut = head.index(b"REQUEST_URI") - 1        # inside a pair's lengths
    msg = record(BEGIN, begin_body(), req_id=7, pad=True)
    msg += record(PARAMS, head[:cut], req_id=7, pad=True)
    msg += record(PARAMS, head[cut:], req_id=7, pad=True) + record(PARAMS, b"", req_id=7)
    msg += record(STDIN, BODY[:10], req_id=7, pad=True) + record(STDIN, BODY[10:], req_id=7)
    msg += record(STDIN, b"", req_id=7)
    recs = read_records(send_raw(target, msg))
    assert [r[0] for r in recs][-2:] == [fcgi_client.STDOUT, fcgi_client.END]
    assert {r[1] for r in recs} == {7}
    assert recs[-2][2] == b"" and recs[-1][2] == bytes(8)
    status, _, body = fcgi_client.parse_response(
        b"".join(r[2] for r in recs if r[0] == fcgi_client.STDOUT))
    assert status == 200, body[:300]
    assert smtpd.wait(1)
    ev = wait_for(lambda: fp.events(event="accepted"), 15, "the post logged")
    assert ev[0]["ip"].startswith("192.0.2."), ev
    # FCGI_AUTHORIZER (2): not ours.
    msg = record(BEGIN, struct.pack(">HB5x", 2, 0)) + record(PARAMS, GOOD_PARAMS) + \
        record(PARAMS, b"") + record(STDIN, b"")
    recs = read_records(send_raw(target, msg))
    assert recs == [(fcgi_client.STDOUT, 1, b""), (fcgi_client.END, 1, bytes([0, 0, 0, 0, 3, 0, 0, 0]))]
    assert fp.alive()
