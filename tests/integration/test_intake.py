"""Request intake end to end: every answer of README's table but 422 through
real nginx (ja and en pages, security headers), routing through nginx and
Apache, and hostile bytes — hundreds of malformed requests, client aborts
and broken FastCGI streams — after which a good post still succeeds, on the
plain and on the ASan+UBSan build of the worker."""
import itertools
import os
import random
import shutil
import re
import socket
import struct
import time
import urllib.parse

import pytest
import requests

import fcgi_client
from harness import REPO, SITE_ORIGIN, post_form

GOOD = {"name": "山田 太郎", "email": "taro@example.jp", "message": "こんにちは"}
_seq = itertools.count()


def good():
    """A valid form with content no earlier post had: resends are
    deduplicated (same site, client and content within 10 minutes)."""
    return dict(GOOD, message=f"こんにちは {next(_seq)}")

PAGES = {
    "ja": {400: "送信内容を読み取れません", 403: "このページからは送信できません",
           404: "ページが見つかりません", 405: "送信方法が正しくありません",
           413: "送信内容が大きすぎます", 415: "送信形式が正しくありません",
           429: "送信回数が多すぎます", 503: "ただいま送信を受け付けられません"},
    "en": {400: "The form could not be read", 403: "This page may not post here",
           404: "Not found", 405: "Method not allowed", 413: "Too large",
           415: "Unsupported form encoding", 429: "Too many submissions",
           503: "Temporarily unavailable"},
}
NOT_UTF8 = "the form is not UTF-8: add accept-charset=&quot;UTF-8&quot;"


def configure(cfg, lang="ja", rate="2/10m"):
    site = cfg["sites"]["example"]
    site["lang"] = lang
    site["redirect"] = "https://www.example.com/thanks.html"
    site["rate_limit"] = rate
    cfg["limits"] = {"max_body": "4k"}
    return cfg


def assert_page(r, status, lang, text=None):
    """An error answer: status, its page in lang, the security headers."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert f'<html lang="{lang}">' in r.text
    assert PAGES[lang][status] in r.text
    if text:
        assert text in r.text


def multipart(fields, boundary="----formpostB"):
    out = b""
    for name, value in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; "
                f"name=\"{name}\"\r\n\r\n").encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), \
        f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_status_through_nginx(lang, formpost_factory, nginx_factory,
                                    formpost_config, smtpd):
    fp = formpost_factory(configure(formpost_config, lang))
    ng = nginx_factory(fp.target)
    url = ng.url("/formpost/example")

    # 400: bad percent-encoding, bad multipart, bytes that are not UTF-8
    # (what a Shift_JIS page without accept-charset really sends).
    r = post_form(url, None, data="name=%zz&email=a", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert_page(r, 400, lang)
    body, ct = multipart([("name", b"x")])
    r = post_form(url, None, data=body.replace(b"Content-Disposition", b"Content Disposition"),
                  headers={"Content-Type": ct})
    assert_page(r, 400, lang)
    r = post_form(url, None, data=body[:-10], headers={"Content-Type": ct})
    assert_page(r, 400, lang)
    sjis = "お名前=山田&message=お問い合わせ"
    enc = "&".join(f"{urllib.parse.quote_from_bytes(k.encode('shift_jis'))}="
                   f"{urllib.parse.quote_from_bytes(v.encode('shift_jis'))}"
                   for k, v in (p.split("=") for p in sjis.split("&")))
    assert "%82%A8" in enc                         # really Shift_JIS
    r = post_form(url, None, data=enc, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert_page(r, 400, lang, NOT_UTF8)
    body, ct = multipart([("name", "山田".encode("shift_jis")),
                          ("email", b"taro@example.jp")])
    r = post_form(url, None, data=body, headers={"Content-Type": ct})
    assert_page(r, 400, lang, NOT_UTF8)
    if lang == "ja":
        assert "UTF-8ではありません" in r.text
    assert fp.events(event="rejected", reason="not_utf8")

    # 403 by the Origin rule, each reason logged.
    cases = [
        ({"Origin": "https://evil.example"}, "origin_not_allowed"),
        ({"Origin": "null"}, "no_origin_or_referer"),
        ({"Origin": "null", "Referer": "https://evil.example/form.html"},
         "referer_not_allowed"),
        ({"Referer": "https://www.example.com.evil.example/"}, "referer_not_allowed"),
        ({"Origin": SITE_ORIGIN, "Sec-Fetch-Site": "cross-site"},
         "sec_fetch_site_cross_site"),
        ({"Sec-Fetch-Site": "none"}, "sec_fetch_site_not_same"),
        ({}, "no_origin_or_referer"),
    ]
    for headers, reason in cases:
        r = post_form(url, good(), origin=None, headers=headers)
        assert_page(r, 403, lang)
        assert fp.events(status=403, reason=reason), reason
    # ...and what the rule lets through reaches validation (422).
    for headers in ({"Origin": "null", "Referer": SITE_ORIGIN + "/contact.html"},
                    {"Referer": "https://example.com/"},
                    {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "same-site"}):
        r = post_form(url, {"name": "x"}, origin=None, headers=headers)
        assert r.status_code == 422, headers

    # 404: unknown site (page language from Accept-Language), the token route.
    for al, page_lang in (("en-US,en;q=0.9", "en"), ("ja,en;q=0.5", "ja")):
        r = post_form(ng.url("/formpost/nosuchsite"), good(),
                      headers={"Accept-Language": al})
        assert_page(r, 404, page_lang)
    r = requests.get(ng.url("/formpost/example/token"), timeout=5)
    assert_page(r, 404, lang)

    # 405 with Allow.
    for method in ("GET", "PUT", "DELETE"):
        r = requests.request(method, url, timeout=5)
        assert_page(r, 405, lang)
        assert r.headers["Allow"] == "POST, OPTIONS"
    r = requests.options(url, headers={"Origin": SITE_ORIGIN,
                                       "Access-Control-Request-Method": "POST"}, timeout=5)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN

    # 413 from Content-Length (before reading), and from a chunked body
    # (no length: enforced while reading).
    big = {"name": "x", "email": "a@example.jp", "message": "あ" * 2000}
    r = post_form(url, big)
    assert_page(r, 413, lang)
    assert fp.events(status=413, reason="body_too_large")
    r = requests.post(url, data=iter([b"name=x&message=", b"a" * 5000]),
                      headers={"Origin": SITE_ORIGIN,
                               "Content-Type": "application/x-www-form-urlencoded"},
                      allow_redirects=False, timeout=10)
    assert_page(r, 413, lang)
    r = post_form(url, {f"f{i}": "1" for i in range(60)})
    assert_page(r, 413, lang)

    # 415
    for ctype in ("text/plain", "application/json", "multipart/mixed; boundary=x"):
        r = post_form(url, None, data="name=x", headers={"Content-Type": ctype})
        assert_page(r, 415, lang)

    # 429: 2/10m per client; refused posts above were not counted.
    assert smtpd.count() == 0
    for _ in range(2):
        r = post_form(url, good())
        assert r.status_code == 303
        assert r.headers["Location"] == "https://www.example.com/thanks.html"
        assert r.headers["Content-Security-Policy"].endswith(
            "form-action 'self' https://www.example.com")
    r = post_form(url, good())
    assert_page(r, 429, lang)
    assert 290 <= int(r.headers["Retry-After"]) <= 300
    r = post_form(url, good(), accept="application/json")
    assert r.status_code == 429 and r.json() == {"ok": False, "error": "rate_limited"}
    assert fp.events(status=429, reason="rate_limited")
    assert smtpd.wait(2) and smtpd.count() == 2

    # 503: the message could not be stored — never a success answer.
    fp.stop()
    fp = formpost_factory(configure(formpost_config, lang), name="fp503")
    ng2 = nginx_factory(fp.target)
    tmp = os.path.join(formpost_config["spool"], "tmp")
    shutil.rmtree(tmp)
    with open(tmp, "w") as f:           # root ignores modes: break the path
        f.write("not a directory")
    r = post_form(ng2.url("/formpost/example"), good())
    assert_page(r, 503, lang)
    assert fp.events(event="store_failed")


def test_chunked_body_within_limit(formpost_factory, nginx_factory, formpost_config, smtpd):
    """A chunked request (no Content-Length from the browser) still posts."""
    fp = formpost_factory(configure(formpost_config))
    ng = nginx_factory(fp.target)
    data = urllib.parse.urlencode(good()).encode()
    r = requests.post(ng.url("/formpost/example"), data=iter([data[:7], data[7:]]),
                      headers={"Origin": SITE_ORIGIN,
                               "Content-Type": "application/x-www-form-urlencoded"},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert smtpd.wait(1)


# ------------------------------------------------------------------ routing

def test_routing_nginx_and_apache(formpost_factory, nginx_factory, apache_factory,
                                  formpost_config, smtpd, public_dir):
    """Both web servers' parameter shapes route to the same site; Apache's
    www-data children reach the socket through socket_group."""
    formpost_config["listen"] = f"unix:{public_dir / 'fp.sock'}"
    formpost_config["socket_group"] = "www-data"
    fp = formpost_factory(configure(formpost_config, rate="100/1m"))
    ng = nginx_factory(fp.target, extra_server=(
        "location = /contact { rewrite ^ /formpost/example last; }"))
    ap = apache_factory(fp.target)
    sent = 0
    for web in (ng, ap):
        name = type(web).__name__
        for path in ("/formpost/example", "/formpost/example?utm=1&x=/y",
                     "/formpost/example/"):
            r = post_form(web.url(path), good())
            assert r.status_code == 303, (name, path, r.text[:200])
            sent += 1
        r = post_form(web.url("/formpost/elsewhere"), good())
        assert_page(r, 404, "ja")
        r = requests.get(web.url("/formpost/example"), timeout=5)
        assert_page(r, 405, "ja")
        r = requests.get(web.url("/formpost/example/token"), timeout=5)
        assert_page(r, 404, "ja")
        # 422 re-renders the form with the URL the browser posted to.
        r = post_form(web.url("/formpost/example?a=1"), {"name": "x"})
        assert r.status_code == 422, name
        assert 'action="/formpost/example"' in r.text
    # An nginx rewrite: SCRIPT_NAME names the site, not REQUEST_URI.
    r = post_form(ng.url("/contact"), good())
    assert r.status_code == 303
    sent += 1
    assert smtpd.wait(sent) and smtpd.count() == sent
    assert fp.events(event="accepted", site="example")


# -------------------------------------------------------------- hostile bytes

def http_raw(port, data, abort=False, timeout=10):
    """Send raw bytes; return the status (int), or None for an abort (the
    connection is reset after sending) or when the server sent nothing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if abort:
            time.sleep(0.05)       # let nginx start streaming to formpost
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return None
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
        return int(m.group(1)) if m else None
    finally:
        s.close()


def request(body, ctype="application/x-www-form-urlencoded", length=None,
            extra=b"", path=b"/formpost/example"):
    if length is None:
        length = str(len(body)).encode()
    head = (b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Origin: " + SITE_ORIGIN.encode() + b"\r\nConnection: close\r\n")
    if ctype is not None:
        head += b"Content-Type: " + ctype.encode() + b"\r\n"
    if length != b"":
        head += b"Content-Length: " + length + b"\r\n"
    return head + extra + b"\r\n" + body


def hostile_requests(rng):
    """About 300 (request bytes, abort) pairs, none of which may be stored."""
    mp_ct = "multipart/form-data; boundary=XyZ"
    good_mp = (b"--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n"
               b"\xe5\xb1\xb1\r\n--XyZ\r\nContent-Disposition: form-data; "
               b"name=\"message\"\r\n\r\nhello\r\n--XyZ--\r\n")
    out = []
    for i in range(80):                        # random bytes, both encodings
        junk = rng.randbytes(rng.randint(0, 3000))
        out.append((request(junk), False))
        out.append((request(junk, mp_ct), False))
    for cut in range(0, len(good_mp), 3):      # truncated multipart
        out.append((request(good_mp[:cut], mp_ct), False))
    for i in range(20):                        # damaged multipart
        b = bytearray(good_mp)
        for _ in range(3):
            b[rng.randrange(len(b))] = rng.randrange(256)
        out.append((request(bytes(b), mp_ct), False))
    for ct in ("multipart/form-data", "multipart/form-data; boundary=",
               "multipart/form-data; boundary=\"unterminated",
               "multipart/form-data; boundary=" + "b" * 200,
               "multipart/form-data; boundary=a; boundary=b",
               "application/x-www-form-urlencoded; charset=\x01", ""):
        out.append((request(good_mp, ct), False))
    for length in (b"-1", b"abc", b"1e3", b"99999999999999999999999", b" 5",
                   b"0x10", b"5, 5"):          # bad lengths
        out.append((request(b"name=x", length=length), False))
    out.append((request(b"name=x", length=b"1000"), True))  # short, then gone
    for i in range(30):                        # aborts mid-body
        body = b"name=" + b"a" * rng.randint(100, 3000)
        out.append((request(body[:rng.randint(0, len(body) - 1)],
                            length=str(len(body)).encode()), True))
        body, ct = good_mp, mp_ct
        out.append((request(body[:rng.randint(0, len(body) - 1)], ct,
                            length=str(len(body)).encode()), True))
    for size in (4000, 9000, 40000):           # huge headers
        out.append((request(b"name=x", extra=b"X-Junk: " + b"j" * size + b"\r\n"), False))
        out.append((request(b"name=x", extra=b"Referer: https://www.example.com/"
                            + b"r" * size + b"\r\n"), False))
    out.append((request(b"name=x", extra=b"Origin: " + b"o" * 5000 + b"\r\n"), False))
    out.append((request(b"%" * 3000), False))
    out.append((request(b"&" * 3000), False))
    out.append((request(b"=" * 3000), False))
    out.append((request(b"a=%00%FF%C0%80%ED%A0%80"), False))
    out.append((b"\x00\xff garbage that is not HTTP\r\n\r\n", False))
    return out


def fcgi_request(target, params, stdin, end_stdin=True, timeout=10):
    """Speak FastCGI to formpost directly (what nginx would): returns the
    STDOUT bytes, or b"" when it answered nothing."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(target[5:])
    try:
        msg = fcgi_client.record(1, fcgi_client.begin_body())
        msg += fcgi_client.record(4, fcgi_client.params(params)) + fcgi_client.record(4, b"")
        for i in range(0, len(stdin), 8000):
            msg += fcgi_client.record(5, stdin[i:i + 8000])
        if end_stdin:
            msg += fcgi_client.record(5, b"")
        s.sendall(msg)
        if not end_stdin:
            s.shutdown(socket.SHUT_WR)          # the web server went away
        return fcgi_client.read_stdout(s)
    finally:
        s.close()


FCGI_BASE = {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/formpost/example",
             "REQUEST_URI": "/formpost/example", "REMOTE_ADDR": "127.0.0.1",
             "HTTP_ORIGIN": SITE_ORIGIN,
             "CONTENT_TYPE": "application/x-www-form-urlencoded"}


def fcgi_status(out):
    m = re.match(rb"Status: (\d{3})", out)
    return int(m.group(1)) if m else None


@pytest.mark.parametrize("binary", ["formpost", "formpost-asan"])
def test_hostile_bytes_then_a_good_post(binary, formpost_factory, nginx_factory,
                                        formpost_config, smtpd, tmp_path, monkeypatch):
    """A few hundred malformed requests, aborts and broken FastCGI streams;
    the worker answers each, never stores one, and then accepts a good
    post.  On the ASan build any memory error or leak fails the test: the
    sanitizer reports land in asan.* and a leak makes the exit status non-zero
    (Formpost.stop asserts 0)."""
    exe = REPO / binary
    assert exe.exists(), f"{exe} missing: run `make units`"
    monkeypatch.setenv("FORMPOST_BIN", str(exe))
    env = {"ASAN_OPTIONS": f"log_path={tmp_path}/asan:detect_leaks=1",
           "UBSAN_OPTIONS": f"log_path={tmp_path}/ubsan:print_stacktrace=1:halt_on_error=1"}
    fp = formpost_factory(configure(formpost_config, rate="10000/1m"), env=env)
    # Request buffering off: nginx streams bodies, so aborts reach formpost.
    ng = nginx_factory(fp.target, extra_location="fastcgi_request_buffering off;")
    rng = random.Random(20240611)
    statuses = {}
    cases = hostile_requests(rng)
    if binary == "formpost-asan":
        cases = cases[::3]                     # a subset: ASan is slower
    for data, abort in cases:
        st = http_raw(ng.port, data, abort=abort)
        statuses[st] = statuses.get(st, 0) + 1
        assert st not in (200, 303, 502, 504), (st, data[:200])
    assert len(cases) >= 100
    assert statuses.get(400, 0) > 20 and None in statuses
    # Straight to the FastCGI socket: a body shorter than CONTENT_LENGTH
    # (the stream ends early) and one cut off mid-record.
    out = fcgi_request(fp.target, dict(FCGI_BASE, CONTENT_LENGTH="100"), b"name=x")
    assert fcgi_status(out) == 400
    fcgi_request(fp.target, dict(FCGI_BASE, CONTENT_LENGTH="100"), b"name=x",
                 end_stdin=False)
    for junk in (b"\x01\x01\x00\x01\xff\xff\x00\x00", os.urandom(300), b"\x00" * 64):
        s = socket.socket(socket.AF_UNIX)
        s.connect(fp.target[5:])
        s.sendall(junk)
        s.close()
    assert fp.alive()
    assert smtpd.count() == 0
    # The aborts really reached the worker (streamed by nginx, or cut
    # short on the FastCGI socket), and each ended as one.
    aborts = sum(1 for _, abort in cases if abort)
    assert len(fp.events(reason="client_aborted")) >= aborts // 2
    r = post_form(ng.url("/formpost/example"), good())
    assert r.status_code == 303, r.text[:300]
    out = fcgi_request(fp.target, dict(FCGI_BASE, CONTENT_LENGTH="40"),
                       urllib.parse.urlencode(good()).encode()[:40])
    assert fcgi_status(out) in (400, 422)      # cut mid-field: whatever it parses to
    assert smtpd.wait(1) and smtpd.count() == 1
    assert not any(e.get("event") == "accepted" and e.get("reason") for e in fp.events())
    fp.stop()                                  # exit 0: no leak, no crash
    reports = list(tmp_path.glob("asan*")) + list(tmp_path.glob("ubsan*"))
    assert not reports, "\n".join(p.read_text()[:3000] for p in reports)
