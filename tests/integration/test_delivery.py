"""The spool and the sender end to end (doc/design.md "A delivery"):
posts through real nginx are answered once they are durable, and the
background sender delivers them to a real aiosmtpd server whose faults the
tests control, each recipient exactly once, whatever the server does.

Delivery timings are short (first_retry 1s, max_retry 2s)."""
import json
import os
import re
import stat
import time
from pathlib import Path

from harness import (ID_RE, SMTP_PASS, SMTP_USER, free_port, post_form, wait_for)

FIELDS = {"name": "山田 太郎", "email": "taro@example.jp", "message": "お問い合わせです。"}


def stack(formpost_factory, nginx_factory, config, rcpt=None):
    config["delivery"] = {"first_retry": "1s", "max_retry": "2s", "max_age": "1h"}
    if rcpt:
        config["sites"]["example"]["to"] = rcpt
    fp = formpost_factory(config)
    ng = nginx_factory(fp.target)
    return fp, ng


def post(ng, n=1, tag="m"):
    """n accepted posts (JSON answers); returns their ids in order."""
    ids = []
    for i in range(n):
        r = post_form(ng.url("/formpost/example"),
                      dict(FIELDS, message=f"token {tag}-{i}"),
                      accept="application/json")
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    return ids


def spool(config, sub):
    return sorted(p.name for p in (Path(config["spool"]) / sub).iterdir())


def wait_queue_empty(config, timeout=15):
    wait_for(lambda: not spool(config, "queue"), timeout, "an empty queue/")


def by_id(smtpd):
    """{id: [rcpt_tos of each stored copy]} from the server's mailbox."""
    out = {}
    for env, msg in smtpd.messages():
        mid = re.fullmatch("<(" + ID_RE + r")@example\.com>", msg["Message-ID"]).group(1)
        out.setdefault(mid, []).append(env["rcpt_tos"])
    return out


def per_recipient(smtpd):
    """{(id, rcpt): copies received}."""
    counts = {}
    for mid, copies in by_id(smtpd).items():
        for rcpts in copies:
            for r in rcpts:
                counts[(mid, r)] = counts.get((mid, r), 0) + 1
    return counts


def read_spool_file(path):
    raw = Path(path).read_bytes()
    head, _, _ = raw.partition(b"\n\n")
    return head.decode(), raw


def commands(smtpd):
    return [c for s in smtpd.sessions() for c in s["commands"]]


# --------------------------------------------------------------------------

def test_server_down_posts_succeed_then_all_delivered_once_over_reused_connections(
        formpost_factory, nginx_factory, formpost_config, smtpd, smtpd_factory):
    port = smtpd.pause()
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    ids = post(ng, 6)
    queued = spool(formpost_config, "queue")
    assert sorted(ids) == queued
    for name in queued:                       # private, complete, verifiable
        path = Path(formpost_config["spool"]) / "queue" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        head, raw = read_spool_file(path)
        # Version 1 until an attempt is in its history, then 2
        # (doc/design.md "The spool").
        assert re.match(rf"formpost-spool (1|2)\nid {name}\nsite example\n", head)
        assert ("\nhistory " in head) == head.startswith("formpost-spool 2")
        assert re.search(rb"\nend [0-9a-f]{64}\n\Z", raw)
    for sub in ("tmp", "queue", "failed", "corrupt"):
        mode = (Path(formpost_config["spool"]) / sub).stat().st_mode
        assert stat.S_IMODE(mode) == 0o700
    assert fp.events(event="attempt", outcome="temporary")
    back = smtpd_factory(port=port)
    back.wait(6, timeout=15)
    wait_queue_empty(formpost_config)
    time.sleep(0.5)
    got = by_id(back)
    assert sorted(got) == sorted(ids)
    assert all(copies == [["info@example.com"]] for copies in got.values())
    # The backlog drained over at most one connection per sender thread.
    envs = [env for env, _ in back.raw_messages()]
    assert len({e["session"] for e in envs}) <= 2
    assert max(e["txn"] for e in envs) >= 3
    # "delivered" follows queue/'s fsync (src/sender.c finished).
    wait_for(lambda: len(fp.events(event="delivered")) >= 6, 10, "6 delivered lines")
    assert len(fp.events(event="delivered")) == 6
    assert len(fp.events(event="queued")) == 6
    assert not any(SMTP_PASS in line for line in fp.log_lines())
    assert not any("token" in line for line in fp.log_lines())


def test_queued_messages_survive_a_restart(formpost_factory, nginx_factory,
                                           formpost_config, smtpd, smtpd_factory):
    port = smtpd.pause()
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    ids = post(ng, 3)
    fp.stop()
    back = smtpd_factory(port=port)
    fp2 = formpost_factory(formpost_config, name="again")
    back.wait(3)
    wait_queue_empty(formpost_config)
    assert sorted(by_id(back)) == sorted(ids)
    assert fp2.events(event="spool_loaded", queued="3")


def test_451_at_mail_is_retried_and_delivered_once(formpost_factory, nginx_factory,
                                                   formpost_config, smtpd):
    smtpd.set_faults({"mail": {"do": "451 4.3.0 try again later", "times": 1}})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    [mid] = post(ng)
    smtpd.wait(1)
    wait_queue_empty(formpost_config)
    assert by_id(smtpd) == {mid: [["info@example.com"]]}
    outcomes = [e["outcome"] for e in fp.events(event="attempt", id=mid)]
    assert outcomes == ["temporary", "sent"]
    first = fp.events(event="attempt", id=mid)[0]
    assert first["code"] == "451" and first["next_try"]
    assert "451 4.3.0" in first["reply"]


def test_451_at_rcpt_for_one_recipient(formpost_factory, nginx_factory,
                                       formpost_config, smtpd):
    smtpd.set_faults({"rcpt": {"sales@example.com": {"do": "451 4.2.0 mailbox busy",
                                                      "times": 1}}})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                   rcpt=["info@example.com", "sales@example.com"])
    [mid] = post(ng)
    smtpd.wait(2)
    wait_queue_empty(formpost_config)
    time.sleep(0.3)
    assert sorted(by_id(smtpd)[mid]) == [["info@example.com"], ["sales@example.com"]]
    assert set(per_recipient(smtpd).values()) == {1}


def test_451_after_data_is_retried(formpost_factory, nginx_factory, formpost_config, smtpd):
    smtpd.set_faults({"data": {"do": "451 4.3.0 local error", "times": 1}})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                   rcpt=["info@example.com", "sales@example.com"])
    [mid] = post(ng)
    smtpd.wait(1)
    wait_queue_empty(formpost_config)
    time.sleep(0.3)
    assert by_id(smtpd) == {mid: [["info@example.com", "sales@example.com"]]}
    assert [e["outcome"] for e in fp.events(event="attempt", id=mid)] == ["temporary", "sent"]


def test_550_at_rcpt_fails_that_recipient_only(formpost_factory, nginx_factory,
                                               formpost_config, smtpd):
    smtpd.set_faults({"rcpt": {"nobody@example.com": "550 5.1.1 no such user"}})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                   rcpt=["info@example.com", "nobody@example.com", "sales@example.com"])
    [mid] = post(ng)
    smtpd.wait(1)
    wait_queue_empty(formpost_config)
    time.sleep(0.3)
    assert by_id(smtpd) == {mid: [["info@example.com", "sales@example.com"]]}
    assert spool(formpost_config, "failed") == [mid]
    head, _ = read_spool_file(Path(formpost_config["spool"]) / "failed" / mid)
    rcpts = [l for l in head.splitlines() if l.startswith("rcpt ")]
    assert rcpts == ["rcpt failed 550 nobody@example.com 550 5.1.1 no such user"]
    [ev] = fp.events(event="failed")
    assert ev["level"] == "error" and ev["rcpt"] == "nobody@example.com" and ev["code"] == "550"
    assert len(fp.events(event="attempt", id=mid)) == 1


def test_550_5_6_after_data_fails_at_once(formpost_factory, nginx_factory,
                                          formpost_config, smtpd):
    smtpd.set_faults({"data": "550 5.6.0 message content rejected"})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                   rcpt=["info@example.com", "sales@example.com"])
    [mid] = post(ng)
    wait_for(lambda: spool(formpost_config, "failed"), 10, "failed/")
    wait_queue_empty(formpost_config)
    time.sleep(1.5)                     # past first_retry: no second attempt
    assert smtpd.count() == 0
    assert len(fp.events(event="attempt", id=mid)) == 1
    assert fp.events(event="attempt", id=mid)[0]["outcome"] == "permanent"
    head, _ = read_spool_file(Path(formpost_config["spool"]) / "failed" / mid)
    assert head.count("rcpt failed 550 ") == 2
    assert len(fp.events(event="failed", id=mid)) == 2


def held_then_fixed(fp, formpost_config, smtpd, fix, mid, retried=True):
    ev = fp.wait_log(r"event=profile_state .*state=config")
    assert "level=error" in ev
    if retried:
        wait_for(lambda: len(fp.events(event="attempt", id=mid)) >= 2, 10, "a retry")
    assert smtpd.count() == 0
    assert spool(formpost_config, "queue") == [mid]
    assert not spool(formpost_config, "failed")
    head, _ = read_spool_file(Path(formpost_config["spool"]) / "queue" / mid)
    assert re.search(r"^rcpt pending ", head, re.M)
    # Logged at level=error once for the state change, not per attempt.
    assert len(fp.events(event="profile_state", state="config")) == 1
    fix()
    smtpd.wait(1)
    wait_queue_empty(formpost_config)
    assert list(by_id(smtpd)) == [mid]
    assert fp.wait_log(r"event=profile_state .*state=ok")


def test_535_is_held_and_delivered_after_the_password_is_fixed(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    smtpd.set_auth(SMTP_USER, "a-different-password")
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    [mid] = post(ng)
    held_then_fixed(fp, formpost_config, smtpd,
                    lambda: smtpd.set_auth(SMTP_USER, SMTP_PASS), mid)
    assert fp.events(event="attempt", id=mid)[0]["code"] == "535"
    assert not any(SMTP_PASS in line for line in fp.log_lines())


def test_553_5_7_1_sender_refused_is_held(formpost_factory, nginx_factory,
                                          formpost_config, smtpd):
    smtpd.set_faults({"mail": "553 5.7.1 sender address not owned by user"})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    [mid] = post(ng)
    held_then_fixed(fp, formpost_config, smtpd, lambda: smtpd.set_faults(None), mid,
                    retried=False)


def _tls_case(kind, smtpd_factory):
    if kind == "untrusted":
        return smtpd_factory(cert="untrusted")
    if kind == "wrong_host":
        return smtpd_factory(cert="wrong")
    s = smtpd_factory(require_starttls=False)
    s.set_faults({"ehlo_no_starttls": True})
    return s


def test_tls_problems_send_nothing_in_clear_and_hold(formpost_factory, nginx_factory,
                                                     formpost_config, smtpd_factory):
    for kind in ("untrusted", "wrong_host", "no_starttls"):
        server = _tls_case(kind, smtpd_factory)
        config = json.loads(json.dumps(formpost_config))
        config["smtp"]["main"]["url"] = server.url
        config["listen"] = config["listen"].replace(".sock", f"-{kind}.sock")
        config["spool"] = str(Path(config["spool"]).with_name(f"spool-{kind}"))
        fp, ng = stack(formpost_factory, nginx_factory, config)
        [mid] = post(ng, tag=kind)
        fp.wait_log(r"event=profile_state .*state=config")
        assert server.count() == 0
        assert spool(config, "queue") == [mid]
        sent = " ".join(commands(server))
        assert "MAIL" not in sent and "AUTH" not in sent and "RCPT" not in sent, kind
        assert fp.events(event="attempt", id=mid)[0]["outcome"] == "config"
        if kind == "no_starttls":
            server.set_faults(None)
            server.wait(1)
            wait_queue_empty(config)
            assert [e["tls"] for e, _ in server.raw_messages()] == [True]
        fp.stop()


def test_main_down_backup_up_delivers_through_backup_once(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    cfg = formpost_config
    backup = dict(cfg["smtp"]["main"])
    cfg["smtp"]["backup"] = backup
    cfg["smtp"]["main"] = dict(backup, url=f"smtp://localhost:{free_port()}")
    cfg["sites"]["example"]["smtp"] = ["main", "backup"]
    fp, ng = stack(formpost_factory, nginx_factory, cfg)
    [first] = post(ng, tag="a")
    smtpd.wait(1)
    rest = post(ng, 4, tag="b")
    smtpd.wait(5)
    wait_queue_empty(cfg)
    time.sleep(0.3)
    got = by_id(smtpd)
    assert sorted(got) == sorted([first] + rest)
    assert all(len(copies) == 1 for copies in got.values())
    ev = fp.events(event="attempt", id=first)
    assert [(e["profile"], e["outcome"]) for e in ev] == [("main", "temporary"),
                                                         ("backup", "sent")]
    # main is backing off: the later messages did not each try it first.
    main_tries = fp.events(event="attempt", profile="main")
    assert len(main_tries) < 5


def test_wrong_password_over_a_backlog_costs_one_attempt_per_step(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    smtpd.set_auth(SMTP_USER, "a-different-password")
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    t0 = time.monotonic()
    ids = post(ng, 10)
    time.sleep(2)
    broken = time.monotonic() - t0
    smtpd.set_auth(SMTP_USER, SMTP_PASS)
    smtpd.wait(10, timeout=15)
    wait_queue_empty(formpost_config)
    auth_fail = [c for c in commands(smtpd) if c.startswith("AUTH") and c.endswith("535")]
    # Probes at most every first_retry (1 s) plus one per sender thread at
    # the very start; per-message retries would be 10 per step.
    assert 1 <= len(auth_fail) <= broken + 3, auth_fail
    assert len(auth_fail) < len(ids)
    assert sorted(by_id(smtpd)) == sorted(ids)


def test_torn_file_goes_to_corrupt_and_the_rest_is_delivered(
        formpost_factory, nginx_factory, formpost_config, smtpd, smtpd_factory):
    port = smtpd.pause()
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    torn, flipped, good = post(ng, 3)
    fp.stop()
    queue = Path(formpost_config["spool"]) / "queue"
    raw = (queue / torn).read_bytes()
    (queue / torn).write_bytes(raw[:len(raw) // 2])
    raw = bytearray((queue / flipped).read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (queue / flipped).write_bytes(bytes(raw))
    back = smtpd_factory(port=port)
    fp2 = formpost_factory(formpost_config, name="again")
    back.wait(1)
    wait_queue_empty(formpost_config)
    assert list(by_id(back)) == [good]
    assert spool(formpost_config, "corrupt") == sorted([torn, flipped])
    # The file is renamed into corrupt/, both folders fsynced, then the
    # line logged (src/spool.c move_corrupt): wait for the lines.
    wait_for(lambda: len(fp2.events(event="corrupt")) >= 2, 10, "two corrupt lines")
    ev = {e["id"]: e for e in fp2.events(event="corrupt")}
    assert ev[torn]["level"] == "error" and "marker" in ev[torn]["error"]
    assert "checksum" in ev[flipped]["error"]


def test_strace_audit_commit_order(formpost_factory, nginx_factory, formpost_config,
                                   smtpd, tmp_path):
    """For every request: write(FILE) → fsync(FILE) → rename(FILE,
    queue/ID) → fsync(queue/) → the answer's write on the FastCGI socket,
    in that order; 8 requests at once.  FILE is tmp/ID, created O_EXCL, or
    a free/ file a delivery left (delivery starts while later posts
    arrive).  All in the thread that handled it
    but fsync(queue/), which is group-committed (doc/design.md
    "Performance"): one that some thread starts after the rename returned
    and that returns before the answer."""
    import signal
    import subprocess
    from concurrent.futures import ThreadPoolExecutor
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    # Two delivered files wait in free/: both committed before either is
    # delivered (else the second post reuses the first's file).
    smtpd.set_faults({"mail": "451 4.3.0 not yet"})
    post(ng, 2)
    smtpd.set_faults(None)
    smtpd.wait(2)
    wait_queue_empty(formpost_config)
    wait_for(lambda: len(spool(formpost_config, "free")) == 2, 15, "free/")
    out = tmp_path / "strace"
    out.mkdir()
    tracer = subprocess.Popen(
        ["strace", "-f", "-ff", "-qq", "-y", "-ttt", "-T", "-s", "4096",
         "-o", str(out / "t"),
         "-e", "trace=openat,write,writev,sendto,fsync,rename,renameat,renameat2",
         "-p", str(fp.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ntask = len(os.listdir(f"/proc/{fp.pid}/task"))
        wait_for(lambda: len(list(out.iterdir())) >= ntask, 10, "strace attached")
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda i: post(ng, 1, tag=f"s{i}")[0], range(8)))
        smtpd.wait(10)
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(10)
    spool_dir = formpost_config["spool"]
    # "1796276213.123456 call(...) = 0 <0.000012>": when strace saw the
    # call enter, and how long it took (so when it returned).
    timed = re.compile(r"^(\d+\.\d+) (.*?)(?: <(\d+\.\d+)>)?$")
    threads = []
    for p in out.iterdir():
        calls = []
        for raw in p.read_text(errors="replace").splitlines():
            m = timed.match(raw)
            if m:
                at = float(m.group(1))
                calls.append((at, at + float(m.group(3) or 0), m.group(2)))
        threads.append(calls)
    dir_syncs = [(at, end) for t in threads for at, end, l in t
                 if l.startswith("fsync(") and f"<{spool_dir}/queue>" in l
                 and l.endswith("= 0")]
    queue_dst = re.compile(r'^rename\w*\(.*?"([^"]+)".*"' + re.escape(spool_dir) +
                           r'/queue/([^"]+)"')

    def commits(lines, mid):
        """The files renamed to queue/MID as a new message (a sender's
        update renames tmp/MID.SUFFIX there too)."""
        return {m.group(1) for l in lines if (m := queue_dst.match(l))
                and m.group(2) == mid and l.endswith("= 0") and
                (m.group(1) == f"{spool_dir}/tmp/{mid}" or
                 m.group(1).startswith(f"{spool_dir}/free/"))}
    reused = 0
    for mid in ids:
        [calls] = [t for t in threads if commits([l for _, _, l in t], mid)]
        lines = [l for _, _, l in calls]

        def first(after, pred, what):
            for i in range(after + 1, len(lines)):
                if pred(lines[i]):
                    return i
            raise AssertionError(f"{mid}: no {what} after line {after}:\n" +
                                 "\n".join(lines))
        queue = f"{spool_dir}/queue/{mid}"
        [tmp] = commits(lines, mid)
        new = tmp.startswith(f"{spool_dir}/tmp/")
        i_open = first(-1, lambda l: l.startswith("openat(") and f'"{tmp}"' in l
                       and ("O_EXCL" in l) == new, "openat")
        # one writev: header, wire bytes, end line (doc/design.md "The spool")
        i_write = first(i_open, lambda l: l.startswith(("write(", "writev(")) and
                        f"<{tmp}>" in l, "write")
        i_fsync = first(i_write, lambda l: l.startswith("fsync(") and f"<{tmp}>" in l
                        and l.endswith("= 0"), "fsync(file)")
        i_rename = first(i_fsync, lambda l: l.startswith("rename") and f'"{queue}"' in l
                         and l.endswith("= 0"), "rename")
        i_answer = first(i_open, lambda l: l.startswith(("write(", "sendto("))
                         and "socket:[" in l, "answer")
        assert i_open < i_write < i_fsync < i_rename < i_answer, mid
        assert mid in "\n".join(lines[i_answer:])
        renamed, answered = calls[i_rename][1], calls[i_answer][0]
        assert any(renamed <= at and end <= answered for at, end in dir_syncs), \
            f"{mid}: no fsync(queue/) between its rename and its answer"
        reused += not new
    assert reused >= 2              # both paths were audited


def test_connections_per_profile_deliver_in_parallel_to_a_slow_server(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    """`connections: 4`: a server that takes a second per message gets four
    sessions at once, never more; the backlog drains in about a quarter of
    the time one connection would take."""
    smtpd.set_faults({"mail": "stall:1"})
    formpost_config["smtp"]["main"]["connections"] = 4
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    ids = post(ng, 8)
    smtpd.wait(8, timeout=30)
    wait_queue_empty(formpost_config)
    envs = [env for env, _ in smtpd.raw_messages()]
    assert sorted(by_id(smtpd)) == sorted(ids)
    assert len({e["session"] for e in envs}) == 4
    # Stored after a 1 s stall each: with four sessions at once, four
    # messages land within one second of each other (one session alone
    # would space them a second apart).
    times = sorted(e["time"] for e in envs)
    assert max(sum(1 for t in times if t0 <= t < t0 + 0.9) for t0 in times) >= 3
    # The server stores a message before formpost logs it.
    wait_for(lambda: len(fp.events(event="delivered")) == 8, 10, "8 delivered")


def test_one_connection_sends_one_message_at_a_time(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    smtpd.set_faults({"mail": "stall:0.5"})
    formpost_config["smtp"]["main"]["connections"] = 1
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    post(ng, 4)
    smtpd.wait(4, timeout=30)
    envs = [env for env, _ in smtpd.raw_messages()]
    assert len({e["session"] for e in envs}) == 1
    times = sorted(e["time"] for e in envs)
    assert all(b - a >= 0.45 for a, b in zip(times, times[1:]))


def test_a_message_left_in_free_is_never_delivered(formpost_factory, nginx_factory,
                                                   formpost_config, smtpd, smtpd_factory):
    """free/ holds emptied files of delivered messages for reuse
    (doc/design.md "Performance").  A crash between moving a delivered
    file there and emptying it leaves a whole message in free/: it is
    never read as a message, nor written over by a later process."""
    port = smtpd.pause()
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    [mid] = post(ng, 1)
    fp.stop()
    root = Path(formpost_config["spool"])
    (root / "queue" / mid).rename(root / "free" / mid)
    kept = (root / "free" / mid).read_bytes()
    back = smtpd_factory(port=port)
    fp2 = formpost_factory(formpost_config, name="again")
    ng2 = nginx_factory(fp2.target)
    ids = post(ng2, 3, tag="n")
    back.wait(3)
    time.sleep(6)                        # past a rescan of queue/
    assert sorted(by_id(back)) == sorted(ids)
    assert mid not in by_id(back)
    assert (root / "free" / mid).read_bytes() == kept
    assert not spool(formpost_config, "corrupt")


def test_delivered_file_in_free_holds_only_zeros(formpost_factory, nginx_factory,
                                                 formpost_config, smtpd):
    """A delivered file waits in free/ with its blocks, for a commit to
    write over, but its bytes are zeroed once queue/ no longer names it
    (doc/design.md "Performance"): no delivered text stays readable."""
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    ids = post(ng, 3, tag="kept")
    smtpd.wait(3)
    wait_queue_empty(formpost_config)
    root = Path(formpost_config["spool"]) / "free"
    # Up to three: a post reuses an earlier post's file when that one was
    # delivered before the later was committed (a slow disk).
    wait_for(lambda: spool(formpost_config, "free"), 15, "free/")

    def zeroed():
        return all(set((root / n).read_bytes()) <= {0} for n in spool(formpost_config, "free"))
    wait_for(zeroed, 10, "free/ zeroed")
    sizes = [(root / n).stat().st_size for n in spool(formpost_config, "free")]
    assert all(size > 1000 for size in sizes), sizes        # blocks kept
    # A later post writes over one of them: a whole message, once.
    [later] = post(ng, 1, tag="later")
    smtpd.wait(4)
    wait_queue_empty(formpost_config)
    assert sorted(by_id(smtpd)) == sorted(ids + [later])
    assert set(per_recipient(smtpd).values()) == {1}
    assert not spool(formpost_config, "corrupt")
    fp.stop()


def test_free_keeps_nothing_on_a_small_filesystem(formpost_factory, nginx_factory,
                                                  formpost_config, smtpd, tmp_path):
    """Below LIM_SPOOL_FREE_ROOM (64 MiB) free, a delivered file is
    emptied at once: free/ holds no blocks a full disk would need, and a
    commit on a full disk fails (test_crash's ENOSPC case)."""
    import subprocess
    fs = tmp_path / "fs"
    fs.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(fs)],
                   check=True)
    try:
        formpost_config["spool"] = str(fs / "spool")
        formpost_config["limits"] = {"spool_min_free": "1M"}
        fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
        post(ng, 2, tag="small")
        smtpd.wait(2)
        wait_queue_empty(formpost_config)
        root = fs / "spool" / "free"
        # In free/ from the rename on, emptied once queue/'s fsync is
        # done; a kept file would stay at its size.  One or two files: the
        # second post reuses the first's when that one was delivered
        # before the second was committed (a loaded machine).
        wait_for(lambda: (sizes := [(root / n).stat().st_size
                                    for n in spool(formpost_config, "free")])
                 and set(sizes) == {0}, 15, "emptied files in free/")
        fp.stop()
    finally:
        subprocess.run(["umount", "-l", str(fs)])


def test_relay_down_new_posts_wait_unread(formpost_factory, nginx_factory, formpost_config,
                                          smtpd, smtpd_factory, tmp_path):
    """While every profile of the site backs off, a new post is scheduled
    for the end of the back-off without its file being opened again (the
    sender asks the profiles before the file, as for a deferred message):
    a relay outage costs a post no claim.  Delivered once it is back."""
    import signal
    import subprocess
    port = smtpd.pause()
    formpost_config["delivery"] = {"first_retry": "5s", "max_retry": "10s", "max_age": "1h"}
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    [probe] = post(ng, 1, tag="probe")
    wait_for(lambda: fp.events(event="attempt", id=probe), 10, "the failed probe")
    out = tmp_path / "strace.out"
    tracer = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(out),
                               "-p", str(fp.pid)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        ids = post(ng, 4, tag="rest")
        time.sleep(0.3)
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(10)
    queue = f"{formpost_config['spool']}/queue/"
    claims = [line for line in out.read_text().splitlines()
              if any(queue + i in line for i in ids) and "O_RDONLY" in line]
    assert claims == [], claims
    back = smtpd_factory(port=port)
    back.wait(5, timeout=20)
    wait_queue_empty(formpost_config)
    assert sorted(by_id(back)) == sorted(ids + [probe])
