"""Findings of a code review of the request path, each pinned by a test
that failed before its fix: what a request may still touch after the
world it ran in is released, what an answer's headers promise, and what
the web server may send in place of a path."""
import itertools
import os
import socket
import subprocess
import time
import urllib.parse

from fcgi_client import begin_body, params, read_stdout, record
from harness import REPO, SITE_ORIGIN, free_port, wait_for

_seq = itertools.count()


def good():
    return {"name": "山田 太郎", "email": "taro@example.jp",
            "message": f"レビュー {next(_seq)} {time.time()}"}


def asan_env(tmp_path):
    return {"ASAN_OPTIONS": f"log_path={tmp_path}/asan:detect_leaks=1",
            "UBSAN_OPTIONS": f"log_path={tmp_path}/ubsan:print_stacktrace=1:halt_on_error=1"}


def asan_reports(tmp_path):
    reports = list(tmp_path.glob("asan*")) + list(tmp_path.glob("ubsan*"))
    return "\n".join(p.read_text()[:3000] for p in reports)


def test_reload_during_a_request_leaves_its_log_line_whole(
        formpost_factory, formpost_config, smtpd, tmp_path, monkeypatch):
    """A request that is still reading its body when SIGHUP swaps the
    config holds the old world; when it ends, it is the last holder and the
    old config is freed.  Its log line (site=...) is written after that, so
    it must not point into the freed config (ASan: heap-use-after-free)."""
    exe = REPO / "formpost-asan"
    assert exe.exists(), f"{exe} missing: run `make units`"
    monkeypatch.setenv("FORMPOST_BIN", str(exe))
    fp = formpost_factory(formpost_config, env=asan_env(tmp_path))
    body = urllib.parse.urlencode(good()).encode()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(str(fp.socket))
    try:
        s.sendall(record(1, begin_body()) + record(4, params({
            "REQUEST_METHOD": "POST", "SCRIPT_NAME": "/formpost/example",
            "REQUEST_URI": "/formpost/example", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_ORIGIN": SITE_ORIGIN, "HTTP_ACCEPT": "application/json",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body))})) + record(4, b"")
            + record(5, body[:5]))
        time.sleep(0.5)                    # the worker now waits for the rest
        before = len(fp.events(event="reloaded"))
        fp.reload()
        wait_for(lambda: len(fp.events(event="reloaded")) > before, 10,
                 "event=reloaded")
        s.sendall(record(5, body[5:]) + record(5, b""))
        out = read_stdout(s)
    finally:
        s.close()
    assert out.startswith(b"Status: 200"), out[:300]
    wait_for(lambda: fp.events(event="accepted") or not fp.alive(), 10,
             "event=accepted")
    assert fp.alive(), asan_reports(tmp_path) or "\n".join(fp.log_lines()[-20:])
    assert [e.get("site") for e in fp.events(event="accepted")] == ["example"]
    assert smtpd.wait(1) and smtpd.count() == 1
    fp.stop()
    assert not asan_reports(tmp_path), asan_reports(tmp_path)


GETPEERNAME_FAILS = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	(void)fd; (void)sa; (void)len;
	errno = ENOTCONN;     /* the web server already hung up */
	return -1;
}
/* accept4 gives the connection but no address for it. */
int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	int c = (int)syscall(SYS_accept4, fd, sa, len, flags);
	if (c >= 0 && sa != NULL && len != NULL) {
		sa->sa_family = AF_UNSPEC;
		*len = 0;
	}
	return c;
}
"""


def test_a_peer_without_an_address_is_logged_as_unknown(
        formpost_factory, formpost_config, tmp_path):
    """On a TCP listen every connection's address is checked against
    fastcgi_allow.  When it cannot be known (accept4 gives none, or
    getpeername fails: the peer already left), the connection is refused
    and logged with peer=unknown, not with whatever bytes the buffer held
    (it was never written)."""
    src, shim = tmp_path / "nopeer.c", tmp_path / "nopeer.so"
    src.write_text(GETPEERNAME_FAILS)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(shim), str(src)],
                   check=True)
    port = free_port()
    formpost_config["listen"] = f"127.0.0.1:{port}"
    # Also under FORMPOST_BIN=formpost-asan: the shim may come first.
    asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                  "verify_asan_link_order=0"]))
    fp = formpost_factory(formpost_config, env={"LD_PRELOAD": str(shim),
                                                "ASAN_OPTIONS": asan})
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(record(1, begin_body()) + record(4, params({
            "REQUEST_METHOD": "POST", "SCRIPT_NAME": "/formpost/example"}))
            + record(4, b"") + record(5, b""))
        s.settimeout(10)
        try:
            out = read_stdout(s)
        except ConnectionResetError:
            out = b""                         # closed unread: refused before any read
        assert out == b""                     # refused: no answer at all
        s.close()
    wait_for(lambda: len(fp.events(event="peer_refused")) >= 3, 10,
             "event=peer_refused")
    # Checked at accept: the harness's readiness probe is refused too.
    peers = [e.get("peer") for e in fp.events(event="peer_refused")]
    assert len(peers) >= 3 and set(peers) == {"unknown"}
