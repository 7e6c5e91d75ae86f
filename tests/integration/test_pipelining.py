"""Pipelined delivery (RFC 2920; doc/design.md "A delivery"): against a
real aiosmtpd (STARTTLS + AUTH) that advertises PIPELINING, formpost
sends several messages in flight over one connection, and every
recipient ends exactly as it does over the old one-command-at-a-time
path: each scenario runs twice, PIPELINING advertised and not, and the
attempts, the failed/ records and what the server stored must match.

One sender connection (`connections: 1`), so the messages of a test share
one session; a first message teaches the sender the server's
capabilities (the old path's EHLO), the messages under test follow."""
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness import ID_RE, SMTP_PASS, base_config, post_form, wait_for
from test_dkim import SELECTOR, genkey, record_of, verify

FIELDS = {"name": "山田 太郎", "email": "taro@example.jp", "message": "お問い合わせです。"}


class Run:
    """formpost behind nginx, delivering to its own aiosmtpd."""

    def __init__(self, tmp_path, pki, smtpd_factory, formpost_factory, nginx_factory,
                 pipelining, rcpt=None, connections=1, edit=None, **smtpd_kw):
        self.dir = tmp_path / ("on" if pipelining else "off")
        self.dir.mkdir(exist_ok=True)
        self.smtpd = smtpd_factory(pipelining=pipelining, **smtpd_kw)
        cfg = base_config(self.dir, self.smtpd.port, pki.ca)
        cfg["smtp"]["main"]["connections"] = connections
        cfg["delivery"] = {"first_retry": "1s", "max_retry": "2s", "max_age": "1h"}
        if rcpt:
            cfg["sites"]["example"]["to"] = rcpt
        if edit:
            edit(cfg)
        self.cfg = cfg
        self.fp = formpost_factory(cfg)
        self.ng = nginx_factory(self.fp.target)

    def post(self, n=1, tag="m", **fields):
        ids = []
        for i in range(n):
            r = post_form(self.ng.url("/formpost/example"),
                          dict(FIELDS, **dict({"message": f"token {tag}-{i}"}, **fields)),
                          accept="application/json")
            assert r.status_code == 200, r.text
            ids.append(r.json()["id"])
        return ids

    def spool(self, sub):
        return sorted(p.name for p in (Path(self.cfg["spool"]) / sub).iterdir())

    def settle(self, timeout=20):
        wait_for(lambda: not self.spool("queue"), timeout, "an empty queue/")
        time.sleep(0.3)

    def warm(self):
        """One message the old path delivers: the sender learns PIPELINING."""
        [mid] = self.post(tag="warm")
        self.smtpd.wait(1)
        self.settle()
        return mid

    def copies(self):
        """{id: [rcpt_tos of each stored copy]}."""
        out = {}
        for env, msg in self.smtpd.messages():
            mid = re.fullmatch("<(" + ID_RE + r")@example\.com>",
                               msg["Message-ID"]).group(1)
            out.setdefault(mid, []).append(sorted(env["rcpt_tos"]))
        return out

    def record(self, mid):
        """What happened to mid, in the words both paths must agree on."""
        attempts = [(e["outcome"], e["phase"], e["code"],
                     re.sub(r"queued as \d+", "queued as N", e["reply"]),
                     e.get("maybe_sent"), e["rcpt_count"])
                    for e in self.fp.events(event="attempt", id=mid)]
        failed = []
        if mid in self.spool("failed"):
            head = (Path(self.cfg["spool"]) / "failed" / mid).read_bytes()
            failed = [line for line in head.partition(b"\n\n")[0].decode().splitlines()
                      if line.startswith("rcpt ")]
        events = sorted((e["rcpt"], e["code"], e["reply"])
                        for e in self.fp.events(event="failed", id=mid))
        return {"attempts": attempts, "failed": failed, "failed_events": events,
                "copies": sorted(self.copies().get(mid, []))}

    def sessions(self):
        """The server's sessions, once formpost has hung up (stopped) and
        the server has logged them."""
        self.fp.stop()
        wait_for(self.smtpd.sessions, 10, "the server's session log")
        time.sleep(0.5)
        return self.smtpd.sessions()


@pytest.fixture
def run(tmp_path, pki, smtpd_factory, formpost_factory, nginx_factory):
    def make(pipelining, **kw):
        return Run(tmp_path, pki, smtpd_factory, formpost_factory, nginx_factory,
                   pipelining, **kw)
    return make


RCPTS = ["info@example.com", "nobody@example.com", "sales@example.com"]

SCENARIOS = {
    # one RCPT 550, one 451 (then accepted), one 250, in one message
    "rcpt_550_451_250": ({"rcpt": {"nobody@example.com": "550 5.1.1 no such user",
                                   "sales@example.com": {"do": "451 4.2.0 mailbox busy",
                                                         "times": 1}}}, RCPTS),
    # every RCPT refused: DATA gets 503/554 under pipelining; no body sent
    "every_rcpt_refused": ({"rcpt": {"*": "550 5.1.1 no such user"}},
                           ["info@example.com", "sales@example.com"]),
    "every_rcpt_451_once": ({"rcpt": {"*": {"do": "451 4.2.0 later", "times": 2}}},
                            ["info@example.com", "sales@example.com"]),
    "mail_451_once": ({"mail": {"do": "451 4.3.0 try again later", "times": 1}}, None),
    "mail_550_once": ({"mail": {"do": "550 5.1.0 sender rejected", "times": 1}}, None),
    "data_cmd_451_once": ({"data_cmd": {"do": "451 4.3.0 not now", "times": 1}}, RCPTS[::2]),
    "data_cmd_554": ({"data_cmd": "554 5.5.1 no thanks"}, RCPTS[::2]),
    "dot_451_once": ({"data": {"do": "451 4.3.0 local error", "times": 1}}, RCPTS[::2]),
    "dot_554": ({"data": "554 5.6.0 content rejected"}, RCPTS[::2]),
}


def scenario(run, pipelining, faults, rcpt):
    r = run(pipelining, rcpt=rcpt)
    r.warm()
    r.smtpd.set_faults(faults)
    [mid] = r.post(tag="test")
    wait_for(lambda: r.fp.events(event="attempt", id=mid), 15, "an attempt")
    r.settle()
    rec = r.record(mid)
    pipelined = sum(s.get("pipelined", 0) for s in r.sessions())
    return rec, pipelined


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_outcomes_match_the_old_path(run, name):
    faults, rcpt = SCENARIOS[name]
    old, p_old = scenario(run, False, faults, rcpt)
    new, p_new = scenario(run, True, faults, rcpt)
    assert p_old == 0 and p_new > 0, (p_old, p_new)
    assert new == old
    # and what the old path gives is what doc/design.md says
    first = old["attempts"][0][0]
    assert first == {"rcpt_550_451_250": "permanent", "every_rcpt_refused": "permanent",
                     "every_rcpt_451_once": "temporary", "mail_451_once": "temporary",
                     "mail_550_once": "config", "data_cmd_451_once": "temporary",
                     "data_cmd_554": "permanent", "dot_451_once": "temporary",
                     "dot_554": "permanent"}[name]


def test_a_window_of_messages_goes_over_one_connection(run):
    r = run(True)
    r.warm()
    # The first message waits at MAIL, so the others queue up behind it
    # and go as one window.
    r.smtpd.set_faults({"mail": {"do": "stall:1", "times": 1}})
    ids = r.post(7, tag="w")
    r.smtpd.wait(8, timeout=20)
    r.settle()
    copies = r.copies()
    assert all(copies[m] == [["info@example.com"]] for m in ids)
    by_session = {}
    for env, _ in r.smtpd.raw_messages():
        by_session.setdefault(env["session"], []).append(env["txn"])
    # the warm-up's session (old path) and one pipelined session
    assert max(len(t) for t in by_session.values()) >= 6, by_session
    sessions = r.sessions()
    busiest = max(sessions, key=lambda s: s["transactions"])
    assert busiest["transactions"] >= 6 and busiest["pipelined"] > 0
    # `connections: 1` bounds what the relay sees at every moment: the
    # warm-up's session has said QUIT (and had its 221) before the
    # pipelined one connects.
    warm = [s for s in sessions if s is not busiest and s["start"] < busiest["start"]]
    assert warm and all(s["quit"] is not None and s["quit"] < busiest["start"]
                        for s in warm), sessions
    assert [e["outcome"] for m in ids for e in r.fp.events(event="attempt", id=m)] == \
        ["sent"] * len(ids)
    # The session was opened (AUTH included) by libcurl; nothing of the
    # secret reaches a log.
    assert SMTP_PASS not in Path(r.fp.logfile).read_text(errors="replace")
    assert SMTP_PASS not in (r.smtpd.maildir / "sessions.log").read_text()


@pytest.mark.parametrize("fault", ["drop", "accept_drop"])
def test_connection_lost_mid_window_loses_nothing(run, fault):
    """The third message's final dot is answered by a hang-up: what was
    answered 250 stands, the rest is retried and delivered; a message the
    server took before hanging up (accept_drop) may come twice, never a
    message marked sent without its 250."""
    r = run(True)
    r.warm()
    r.smtpd.set_faults({"mail": {"do": "stall:1", "times": 1},
                        "data": {"do": fault, "after": 2, "times": 1}})
    ids = r.post(6, tag="d")
    wait_for(lambda: not r.spool("queue") and
             all(e["outcome"] == "sent" for m in ids
                 for e in r.fp.events(event="attempt", id=m)[-1:]), 30, "all sent")
    r.settle()
    copies = r.copies()
    counts = {m: len(copies.get(m, [])) for m in ids}
    assert all(c >= 1 for c in counts.values()), counts
    dup = [m for m, c in counts.items() if c > 1]
    assert len(dup) == (1 if fault == "accept_drop" else 0), counts
    maybe = [e for m in ids for e in r.fp.events(event="attempt", id=m)
             if e.get("maybe_sent") == "1"]
    assert len(maybe) == 1 and maybe[0]["outcome"] == "temporary"
    if dup:
        assert dup == [maybe[0]["id"]]
    for m in ids:
        outcomes = [e["outcome"] for e in r.fp.events(event="attempt", id=m)]
        assert outcomes.count("sent") == 1 and outcomes[-1] == "sent", (m, outcomes)
        # sent only after the server stored it
        assert counts[m] >= 1


def test_leading_dots_arrive_intact_and_dkim_verifies(run, tmp_path):
    """Lines that start with "." (two field labels and a value here)
    arrive as they were signed.  formpost's quoted-printable writes such a
    dot as =2E, so the stuffing itself (RFC 5321 §4.5.2) is pinned byte
    for byte against libcurl's in tests/unit/test_smtppipe.c."""
    key = genkey(tmp_path, "rsa")
    record = record_of(key, "rsa")

    def edit(cfg):
        site = cfg["sites"]["example"]
        site["dkim"] = {"selector": SELECTOR, "key_file": str(key)}
        site["lang"] = "en"
        site["fields"]["dot1"] = {"label": ".note", "max": 100}
        site["fields"]["dot2"] = {"label": "..", "max": 100}
    r = run(True, edit=edit)
    r.warm()
    [mid] = r.post(tag="dots", dot1=".x", dot2="y")
    r.smtpd.wait(2)
    r.settle()
    [raw] = [raw for _, raw in r.smtpd.raw_messages()
             if f"<{mid}@example.com>".encode() in raw]
    assert b"\r\n=2Enote: .x\r\n" in raw and b"\r\n=2E.: y\r\n" in raw
    assert verify(raw, record, domain="example.com")
    assert max(s["pipelined"] for s in r.sessions()) > 0


def test_tls_verification_failure_still_fails(run, pki, smtpd_factory):
    """The pipelined session is opened by libcurl: a server whose
    certificate is not trusted gets nothing, in clear or otherwise."""
    r = run(True)
    r.warm()
    port = r.smtpd.pause()
    bad = smtpd_factory(pipelining=True, cert="untrusted", port=port)
    [mid] = r.post(tag="tls")
    wait_for(lambda: r.fp.events(event="attempt", id=mid), 15, "an attempt")
    [ev] = r.fp.events(event="attempt", id=mid)[:1]
    assert ev["outcome"] == "config" and ev["phase"] in ("tls", "connect")
    assert bad.count() == 0
    assert mid in r.spool("queue")


def test_international_address_as_before(run):
    """A visitor's address with an internationalised domain: its receipt
    goes to the A-label form (formpost's envelopes are ASCII; no SMTPUTF8
    parameter), over either path, to a server that offers SMTPUTF8."""
    def edit(cfg):
        site = cfg["sites"]["example"]
        site["auto_reply"] = {"echo": ["name", "message"]}
        site["rate_limit"] = "100/1m"
    out = []
    for pipelining in (False, True):
        r = run(pipelining, smtputf8=True, edit=edit)
        r.warm()
        r.post(tag="idn", email="taro@日本語.jp")
        r.smtpd.wait(4)
        r.settle()
        got = sorted((env["rcpt_tos"], env["mail_options"])
                     for env, _ in r.smtpd.raw_messages()[2:])
        out.append(got)
        assert (max(s["pipelined"] for s in r.sessions()) > 0) == pipelining
    assert out[0] == out[1]
    assert [(rcpt, [o for o in opts if o.upper() == "SMTPUTF8"])
            for rcpt, opts in out[0]] == [(["info@example.com"], []),
                                          (["taro@xn--wgv71a119e.jp"], [])]


def test_a_refused_sender_stops_the_window(run):
    """MAIL refused for policy (the profile's fault, not a message's): the
    messages not yet started wait for the profile's back-off, as on the
    old path, instead of each being refused in turn."""
    def edit(cfg):
        cfg["delivery"] = {"first_retry": "5s", "max_retry": "10s", "max_age": "1h"}
    r = run(True, edit=edit)
    r.warm()
    # One file for both faults: the first MAIL (the first message's)
    # passes whenever it comes, every later one is refused.  (Switching
    # faults.json after a fixed pause refused the first message too when
    # its MAIL came late.)
    r.smtpd.set_faults({"data_cmd": {"do": "stall:1", "times": 1},
                        "mail": {"do": "553 5.7.1 sender not owned", "after": 1}})
    [first] = r.post(tag="first")
    time.sleep(0.3)                 # the rest arrive while it waits at DATA
    ids = r.post(4, tag="held")
    wait_for(lambda: any(r.fp.events(event="attempt", id=m) for m in ids), 15,
             "an attempt")
    wait_for(lambda: r.fp.events(event="attempt", id=first), 15, "the first's attempt")
    time.sleep(1.5)
    attempts = [e for m in ids for e in r.fp.events(event="attempt", id=m)]
    assert [e["outcome"] for e in attempts] == ["config"], attempts
    assert [e["outcome"] for e in r.fp.events(event="attempt", id=first)] == ["sent"]
    assert sorted(r.spool("queue")) == sorted(ids)


def test_sigterm_mid_window_keeps_every_message(run, formpost_factory):
    """Stopping while a window waits on a dot's reply: formpost exits
    within the stop grace; the message after its data is temporary (maybe
    sent), the rest of the window untouched (the next one's commands were
    written, but no reply about it was read); a restart delivers each
    once."""
    r = run(True)
    r.warm()
    r.smtpd.set_faults({"mail": {"do": "stall:1", "times": 1},
                        "data": {"do": "stall:120", "after": 1}})
    ids = r.post(4, tag="s")
    wait_for(lambda: r.smtpd.count() >= 2, 15, "the first test message")
    time.sleep(2)
    t0 = time.monotonic()
    r.fp.stop(timeout=30)
    assert time.monotonic() - t0 < 15
    attempts = {m: [e["outcome"] for e in r.fp.events(event="attempt", id=m)] for m in ids}
    assert sum(a == ["sent"] for a in attempts.values()) == 1, attempts
    assert sum(a == ["temporary"] for a in attempts.values()) == 1, attempts
    assert sum(a == [] for a in attempts.values()) == 2, attempts
    maybe = [e for m in ids for e in r.fp.events(event="attempt", id=m)
             if e.get("maybe_sent") == "1"]
    assert len(maybe) == 1 and maybe[0]["phase"] == "dot"
    assert len(r.spool("queue")) == 3
    r.smtpd.set_faults({})
    fp2 = formpost_factory(r.cfg)
    r.fp = fp2
    r.smtpd.wait(5, timeout=20)
    r.settle()
    assert all(len(r.copies().get(m, [])) == 1 for m in ids), r.copies()


VALGRIND = shutil.which("valgrind")


@pytest.mark.skipif(VALGRIND is None, reason="valgrind is installed by tests/deps.sh")
def test_pipelined_path_is_memcheck_clean(tmp_path, pki, smtpd_factory, formpost_factory,
                                          nginx_factory):
    """formpost serve under memcheck over a pipelined session: a window,
    a refused recipient, a hang-up mid-window, a stop."""
    log = tmp_path / "valgrind.log"
    smtpd = smtpd_factory(pipelining=True)
    cfg = base_config(tmp_path, smtpd.port, pki.ca)
    cfg["smtp"]["main"]["connections"] = 1
    cfg["smtp"]["main"]["timeout"] = "30s"
    cfg["sites"]["example"]["to"] = ["info@example.com", "nobody@example.com"]
    fp = formpost_factory(cfg, timeout=120, prefix=(
        VALGRIND, "-q", "--error-exitcode=99", "--leak-check=full",
        "--errors-for-leak-kinds=definite", "--track-fds=no", f"--log-file={log}"))
    assert "memcheck" in Path(f"/proc/{fp.pid}/exe").resolve().name
    ng = nginx_factory(fp.target)

    def post(n, tag):
        for i in range(n):
            r = post_form(ng.url("/formpost/example"),
                          dict(FIELDS, message=f"{tag}-{i}"), accept="application/json",
                          timeout=60)
            assert r.status_code == 200, r.text
    post(1, "warm")
    smtpd.wait(1, timeout=120)
    smtpd.set_faults({"mail": {"do": "stall:2", "times": 1},
                      "rcpt": {"nobody@example.com": "550 5.1.1 no such user"},
                      "data": {"do": "drop", "after": 2, "times": 1}})
    post(5, "w")
    smtpd.wait(6, timeout=180)
    wait_for(lambda: not list((Path(cfg["spool"]) / "queue").iterdir()), 180,
             "an empty queue/")
    fp.stop(timeout=120)        # valgrind's exit status: 99 on any error
    report = log.read_text()
    assert not re.search(r"Invalid (read|write)|uninitialised|definitely lost",
                         report), report[-6000:]
    assert max(s["pipelined"] for s in smtpd.sessions()) > 0


SPOOL_PUT = Path(__file__).resolve().parents[2] / "build" / "tool_spool_put"
ODD_BODIES = [
    b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nend.\r\n",
    b"Subject: lf\r\n\r\na\n.b\nc\r\n",
    b"Subject: cr\r\n\r\na\rb\r\n.\rc\r\n",
    b"Subject: nofinal\r\n\r\nlast line",
    b"Subject: dotlast\r\n\r\nx\r\n.",
    b"Subject: empty\r\n\r\n",
]


def test_wire_bytes_match_the_old_path(run, formpost_factory):
    """Messages no form produces (lines starting with ".", bare LF or CR,
    no final CRLF), put in the spool directly: the server stores the same
    bytes whichever path sent them (dot-stuffing and the end of data as
    libcurl does them, RFC 5321 §4.5.2)."""
    stored = []
    for pipelining in (False, True):
        r = run(pipelining)
        r.warm()
        r.fp.stop()
        for body in ODD_BODIES:
            p = subprocess.run([str(SPOOL_PUT), r.cfg["spool"], "example",
                                "noreply@example.com", "info@example.com"],
                               input=body, capture_output=True, timeout=30)
            assert p.returncode == 0, p.stderr
        r.fp = formpost_factory(r.cfg)
        r.smtpd.wait(1 + len(ODD_BODIES), timeout=30)
        r.settle()
        got = {}
        for _, raw in r.smtpd.raw_messages()[1:]:
            got[raw.split(b"\r\n", 1)[0]] = raw
        stored.append(got)
        assert (max(s["pipelined"] for s in r.sessions()) > 0) == pipelining
    assert stored[0] == stored[1]
    # and what ends in CRLF arrives exactly as spooled
    for body in ODD_BODIES:
        if body.endswith(b"\r\n"):
            assert stored[1][body.split(b"\r\n", 1)[0]] == body


class RawServer:
    """A plain SMTP server (no TLS, no AUTH) that offers PIPELINING and
    answers its first transaction normally, then misbehaves as `mode`
    says: "early:REPLY" answers the DATA's data before it has come (right
    after the 354); "trickle" answers MAIL with a reply that never ends
    ("250-" once a second).  Counts what it stored."""

    def __init__(self, mode):
        import socket
        import threading
        self.mode, self.stored, self.txn = mode, 0, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.open = True
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        import threading
        while self.open:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        f = c.makefile("rb")
        try:
            c.sendall(b"220 raw ESMTP\r\n")
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line[:4].upper()
                if cmd == b"EHLO":
                    c.sendall(b"250-raw\r\n250-SIZE 10000000\r\n250 PIPELINING\r\n")
                elif cmd == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                elif cmd == b"MAIL":
                    self.txn += 1
                    if self.txn > 1 and self.mode == "trickle":
                        while True:
                            c.sendall(b"250-still thinking\r\n")
                            time.sleep(1)
                    c.sendall(b"250 ok\r\n")
                elif cmd == b"DATA":
                    early = self.txn > 1 and self.mode.startswith("early:")
                    c.sendall(b"354 go\r\n" + (self.mode[6:].encode() + b"\r\n"
                                               if early else b""))
                    data = b""
                    while not data.endswith(b"\r\n.\r\n"):
                        chunk = f.readline()
                        if not chunk:
                            return
                        data += chunk
                    if not early:
                        self.stored += 1
                        c.sendall(b"250 stored\r\n")
                else:
                    c.sendall(b"250 ok\r\n")
        except OSError:
            return
        finally:
            c.close()

    def close(self):
        self.open = False
        self.sock.close()


def raw_stack(tmp_path, formpost_factory, nginx_factory, server, **smtp):
    cfg = base_config(tmp_path, server.port, tmp_path / "none.pem")
    main = cfg["smtp"]["main"]
    main.update({"url": f"smtp://127.0.0.1:{server.port}", "starttls": "off",
                 "connections": 1}, **smtp)
    del main["username"], main["password_file"], main["ca_file"]
    cfg["delivery"] = {"first_retry": "30s", "max_retry": "60s", "max_age": "1h"}
    cfg["sites"]["example"]["fields"]["message"]["max"] = 200000
    cfg["sites"]["example"]["max_body"] = "4M"
    fp = formpost_factory(cfg)
    return cfg, fp, nginx_factory(fp.target, extra_server="client_max_body_size 8m;")


def raw_post(ng, message):
    r = post_form(ng.url("/formpost/example"), dict(FIELDS, message=message),
                  accept="application/json", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["id"]


@pytest.mark.parametrize("lines", [1400, 4000])     # ~130 KB in memory, ~370 KB in its file
@pytest.mark.parametrize("reply", ["554 5.6.0 rejected early", "250 2.0.0 queued early"])
def test_a_reply_before_the_data_ends_is_never_a_verdict(tmp_path, formpost_factory,
                                                         nginx_factory, reply, lines):
    """The server answers while a large message's data is still being
    written: nothing is marked sent or failed on it, the session is
    dropped (its data cannot be ended cleanly), the message is retried;
    nothing of another message, or of memory, goes out (run it with
    FORMPOST_BIN=formpost-asan: no use after free)."""
    server = RawServer("early:" + reply)
    try:
        cfg, fp, ng = raw_stack(tmp_path, formpost_factory, nginx_factory, server)
        warm = raw_post(ng, "warm")
        wait_for(lambda: fp.events(event="delivered", id=warm), 15, "the warm-up")
        big = raw_post(ng, "大きなお問い合わせ。\n" * lines)
        wait_for(lambda: fp.events(event="attempt", id=big), 20, "an attempt")
        [ev] = fp.events(event="attempt", id=big)
        assert ev["outcome"] == "temporary", ev
        assert big in [p.name for p in (Path(cfg["spool"]) / "queue").iterdir()]
        assert server.stored == 1
        assert fp.alive()
    finally:
        server.close()


def test_a_reply_that_never_ends_is_bound_by_the_timeout(tmp_path, formpost_factory,
                                                          nginx_factory):
    """A server that keeps a reply open ("250-" once a second) gets the
    profile's timeout, as one command at a time would."""
    server = RawServer("trickle")
    try:
        cfg, fp, ng = raw_stack(tmp_path, formpost_factory, nginx_factory, server,
                                timeout="3s")
        warm = raw_post(ng, "warm")
        wait_for(lambda: fp.events(event="delivered", id=warm), 15, "the warm-up")
        t0 = time.monotonic()
        mid = raw_post(ng, "slow")
        wait_for(lambda: fp.events(event="attempt", id=mid), 20, "an attempt")
        assert time.monotonic() - t0 < 8
        [ev] = fp.events(event="attempt", id=mid)
        assert ev["outcome"] == "temporary" and "3 s" in ev["reply"], ev
    finally:
        server.close()


def test_a_hang_up_charges_only_the_message_it_cut(run):
    """The server hangs up at the third message's final dot: that message
    is temporary (maybe sent); the one whose commands were written behind
    its dot is not charged, and the profile does not back off (a long
    first_retry would show it)."""
    def edit(cfg):
        cfg["delivery"] = {"first_retry": "60s", "max_retry": "120s", "max_age": "1h"}
    r = run(True, edit=edit)
    r.warm()
    r.smtpd.set_faults({"mail": {"do": "stall:1", "times": 1},
                        "data": {"do": "drop", "after": 2, "times": 1}})
    ids = r.post(5, tag="h")
    wait_for(lambda: sum(len(r.copies().get(m, [])) for m in ids) >= 4, 20,
             "four of five delivered")
    time.sleep(1)
    charged = [e for m in ids for e in r.fp.events(event="attempt", id=m)
               if e["outcome"] != "sent"]
    assert len(charged) == 1 and charged[0]["maybe_sent"] == "1", charged
    assert not r.fp.events(event="profile_state"), r.fp.events(event="profile_state")
    assert sum(len(r.copies().get(m, [])) for m in ids) == 4


def test_a_refused_login_costs_one_login(run):
    """The password stops working while the sender knows the server
    pipelines: the pipelined session's AUTH fails and that is the
    attempt (config), with no second login through the old path."""
    def edit(cfg):
        cfg["delivery"] = {"first_retry": "60s", "max_retry": "120s", "max_age": "1h"}
    r = run(True, edit=edit)
    r.warm()
    r.smtpd.set_auth("noreply@example.com", "another-password")
    [mid] = r.post(tag="auth")
    wait_for(lambda: r.fp.events(event="attempt", id=mid), 15, "an attempt")
    time.sleep(1)
    [ev] = r.fp.events(event="attempt", id=mid)
    assert ev["outcome"] == "config" and ev["phase"] == "auth", ev
    logins = [c for s in r.sessions() for c in s["commands"]
              if c.startswith("AUTH") and c.endswith("535")]
    assert len(logins) == 1, logins
