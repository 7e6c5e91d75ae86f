"""Crash safety and shared spools (doc/design.md "The spool"):
"answered means stored, stored means delivered" under kill -9, full and
failing disks, torn files, and several processes on one spool.

Faults are injected from outside the binary, so the code under test is the
code that ships: kill -9 at random moments, strace's syscall tampering
(`-e inject=SYSCALL:signal=KILL|error=ERRNO:when=N`, counted per thread,
so N picks the request thread's N-th call from the moment strace
attached), a tmpfs mounted by the test, and smtpd.py's fault file.

Delivery timings are short (first_retry 1s, max_retry 2s)."""
import errno
import os
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import requests

from harness import body_text, free_port, post_form, wait_for
from test_delivery import FIELDS, by_id, per_recipient, post, spool, stack, wait_queue_empty

RCPTS = ["info@example.com", "sales@example.com"]
TOKEN = re.compile(r"tok-[0-9a-z-]+")


def try_post(ng, token, timeout=10):
    """One post carrying `token`; (status, id or None).  Status 0: no answer
    at all (the connection broke)."""
    try:
        r = post_form(ng.url("/formpost/example"), dict(FIELDS, message=f"token {token}"),
                      accept="application/json", timeout=timeout)
    except requests.RequestException:
        return 0, None
    return r.status_code, (r.json().get("id") if r.status_code == 200 else None)


def tokens_delivered(smtpd):
    """{token: {rcpt: copies}} over every stored message."""
    out = {}
    for env, msg in smtpd.messages():
        [tok] = TOKEN.findall(body_text(msg))
        for r in env["rcpt_tos"]:
            out.setdefault(tok, {}).setdefault(r, 0)
            out[tok][r] += 1
    return out


class Strace:
    """strace attached to every thread of pid with some syscalls tampered
    with; .detach() ends the tampering (the process lives on)."""

    def __init__(self, pid, workdir, syscalls, inject):
        self.out = Path(workdir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["strace", "-f", "-ff", "-qq", "-o", str(self.out / "t"),
             "-e", f"trace={syscalls}", "-e", f"inject={inject}", "-p", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ntask = len(os.listdir(f"/proc/{pid}/task"))
        wait_for(lambda: len(list(self.out.iterdir())) >= ntask, 10, "strace attached")

    def wait_exit(self, timeout=10):
        """The tracee died: strace ends by itself (a SIGINT now, while it
        reaps dying threads, can leave it hanging)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    def detach(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()              # releases the tracee too
            self.proc.wait(5)
            raise


def smtp_connections(pid, port):
    """pid's established TCP connections to 127.0.0.1:port."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    out = []
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[2].split(":")[1], 16) == port and f[3] == "01" and f[9] in inodes:
            out.append(f[9])
    return out


def spool_files(config):
    return {sub: spool(config, sub) for sub in ("tmp", "queue", "corrupt")}


# --------------------------------------------------------------------------
# several processes, one spool

def test_two_processes_share_a_backlog_and_send_each_message_once(
        formpost_factory, nginx_factory, formpost_config, smtpd, smtpd_factory, tmp_path):
    port = smtpd.pause()
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config, rcpt=RCPTS)
    ids = post(ng, 20)
    fp.stop()                              # the backlog stays in queue/
    procs = []
    for name in ("a", "b"):
        cfg = dict(formpost_config, listen=f"unix:{tmp_path / (name + '.sock')}")
        procs.append(formpost_factory(cfg, name=name))
    # Both loaded all 20 and both failed once: they retry side by side.
    for p in procs:
        p.wait_log(r"event=spool_loaded .*queued=20")
        p.wait_log(r"event=attempt .*outcome=temporary")
    back = smtpd_factory(port=port)
    back.wait(20, timeout=20)
    wait_queue_empty(formpost_config)
    time.sleep(1)                          # a second copy would arrive by now
    assert sorted(by_id(back)) == sorted(ids)
    assert set(per_recipient(back).values()) == {1}, per_recipient(back)
    assert len(per_recipient(back)) == 2 * len(ids)
    delivered = [{e["id"] for e in p.events(event="delivered")} for p in procs]
    assert delivered[0].isdisjoint(delivered[1])
    assert delivered[0] | delivered[1] == set(ids)
    print(f"split between the two processes: {len(delivered[0])} + {len(delivered[1])}")


def test_rescan_takes_over_what_a_killed_process_held(
        formpost_factory, nginx_factory, formpost_config, smtpd, tmp_path):
    """A holds the claim in a stalled SMTP transaction; B (same spool, no
    restart) finds the message by rescanning queue/, cannot claim it while
    A lives, and delivers it once A is killed."""
    # A waits on the stalled server for longer than the test takes.
    formpost_config["smtp"]["main"]["timeout"] = "30s"
    fp_a, ng_a = stack(formpost_factory, nginx_factory, formpost_config)
    cfg_b = dict(formpost_config, listen=f"unix:{tmp_path / 'b.sock'}")
    fp_b = formpost_factory(cfg_b, name="b")
    smtpd.set_faults({"data": "stall:20"})
    [mid] = post(ng_a)
    fp_b.wait_log(r"event=spool_rescan .*new=1", timeout=10)
    time.sleep(1.5)                        # B's claim has met A's lock
    assert not fp_b.events(event="attempt")
    smtpd.set_faults(None)
    fp_a.kill()
    smtpd.wait(1)
    wait_queue_empty(formpost_config)
    # "delivered" is logged after queue/'s fsync (src/sender.c finished),
    # so after the file left queue/.
    wait_for(lambda: fp_b.events(event="delivered"), 10, "B's delivered line")
    time.sleep(0.5)
    assert by_id(smtpd) == {mid: [["info@example.com"]]}
    assert [e["id"] for e in fp_b.events(event="delivered")] == [mid]


# --------------------------------------------------------------------------
# start-up recovery

def test_startup_recovery_tmp_leftovers_corrupt_files_and_the_rest_delivered(
        formpost_factory, nginx_factory, formpost_config, smtpd, smtpd_factory):
    port = smtpd.pause()
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    good, bad_rcpt, renamed = post(ng, 3)
    fp.stop()
    root = Path(formpost_config["spool"])
    queue = root / "queue"

    def reseal(path, edit):
        """Rewrite a spool file's head with a valid checksum: the marker
        holds, the content does not parse."""
        import hashlib
        raw = path.read_bytes()
        body = edit(raw[:-(4 + 64 + 1)])
        path.write_bytes(body + b"end " + hashlib.sha256(body).hexdigest().encode() + b"\n")

    reseal(queue / bad_rcpt, lambda b: b.replace(b"\nrcpt pending 0 ", b"\nrcpt maybe 0 "))
    other = "A" * 20
    (queue / renamed).rename(queue / other)          # id does not match the name
    (queue / "not-an-id").write_bytes(b"junk")       # never looked at
    old, young = root / "tmp" / "old.q", root / "tmp" / "young"
    old.write_bytes(b"formpost-spool 1\n")           # a crash's leftovers
    young.write_bytes(b"formpost-spool 1\n")         # another process, writing
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    back = smtpd_factory(port=port)
    fp2 = formpost_factory(formpost_config, name="again")
    back.wait(1)
    wait_for(lambda: len(spool(formpost_config, "corrupt")) == 2, 10, "corrupt/")
    assert spool(formpost_config, "tmp") == ["young"]
    assert spool(formpost_config, "queue") == ["not-an-id"]
    assert spool(formpost_config, "corrupt") == sorted([bad_rcpt, other])
    assert list(by_id(back)) == [good]
    ev = {e["id"]: e for e in fp2.events(event="corrupt")}
    assert "recipient" in ev[bad_rcpt]["error"] and ev[bad_rcpt]["level"] == "error"
    assert "id does not match" in ev[other]["error"]
    assert fp2.alive()
    fp2.stop()


# --------------------------------------------------------------------------
# capacity guard

def test_spool_max_messages_503_while_delivery_goes_on(
        formpost_factory, nginx_factory, formpost_config, smtpd, smtpd_factory):
    port = smtpd.pause()
    formpost_config["limits"] = {"spool_max_messages": 3}
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    ids = post(ng, 3)
    assert try_post(ng, "tok-over") == (503, None)
    assert len(spool(formpost_config, "queue")) == 3
    [full] = fp.events(event="spool_full")
    assert full["level"] == "warn" and "3 messages queued" in full["error"]
    [refused] = fp.events(event="store_failed")
    assert "spool_max_messages 3" in refused["error"]
    back = smtpd_factory(port=port)
    back.wait(3, timeout=15)               # delivery went on
    wait_queue_empty(formpost_config)
    status, mid = try_post(ng, "tok-after")
    assert status == 200
    back.wait(4)
    assert sorted(by_id(back)) == sorted(ids + [mid])
    assert fp.events(event="spool_room")


def _mount_tmpfs(path, size):
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                        str(path)], capture_output=True, text=True)
    return r.returncode == 0


def test_tiny_filesystem_min_free_guard_then_real_enospc(
        formpost_factory, nginx_factory, formpost_config, smtpd, smtpd_factory, tmp_path):
    """A 4 MiB tmpfs as the spool.  Below spool_min_free: 503 while queued
    mail is still delivered; space back: 200.  Then with the guard off
    (min_free 0) a truly full filesystem: the write fails with ENOSPC, 503,
    nothing published or left in tmp/; space back: 200."""
    fs = tmp_path / "fs"
    assert _mount_tmpfs(fs, "4m"), "mount -t tmpfs needs root (CAP_SYS_ADMIN)"
    try:
        port = smtpd.pause()
        formpost_config["spool"] = str(fs / "spool")
        formpost_config["limits"] = {"spool_min_free": "1M"}
        fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
        [queued] = post(ng, tag="q")
        ballast = fs / "ballast"
        st = os.statvfs(fs)
        ballast.write_bytes(b"\0" * (st.f_bavail * st.f_frsize - 512 * 1024))
        time.sleep(0.3)                    # the guard reads statvfs every 250 ms
        assert try_post(ng, "tok-full") == (503, None)
        full = fp.wait_log(r"event=spool_full")
        assert "spool_min_free 1048576" in full
        back = smtpd_factory(port=port)
        back.wait(1, timeout=15)           # delivery goes on while full
        wait_queue_empty(formpost_config)
        ballast.unlink()
        time.sleep(0.3)
        status, mid = try_post(ng, "tok-room")
        assert status == 200
        fp.wait_log(r"event=spool_room")

        # The guard off: the disk itself says no.
        text = fp.config_path.read_text().replace("spool_min_free: 1M", "spool_min_free: 0")
        assert "spool_min_free: 0" in text
        fp.config_path.write_text(text)
        fp.reload()
        fp.wait_log(r"event=reloaded")
        back.wait(2)
        wait_queue_empty(formpost_config)
        with open(ballast, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError as e:
                assert e.errno == errno.ENOSPC
        assert try_post(ng, "tok-enospc") == (503, None)
        ev = fp.events(event="store_failed")[-1]
        assert "No space left on device" in ev["error"]
        assert spool(formpost_config, "tmp") == [] and spool(formpost_config, "queue") == []
        ballast.unlink()
        status, last = try_post(ng, "tok-back")
        assert status == 200
        back.wait(3)
        wait_queue_empty(formpost_config)
        assert sorted(by_id(back)) == sorted([queued, mid, last])
        fp.stop()
    finally:
        subprocess.run(["umount", "-l", str(fs)])


# --------------------------------------------------------------------------
# injected I/O errors (a new message is published with renameat2, see
# src/spool.c rename_new)

INJECTED = [
    # a spool file is one writev: header, wire bytes, end line
    ("write", "writev:error=ENOSPC:when=1", "writev", "No space left on device"),
    ("fsync(file)", "fsync:error=EIO:when=1", "fsync", "Input/output error"),
    ("rename", "renameat2:error=EIO:when=1", "renameat2", "Input/output error"),
    ("fsync(dir)", "fsync:error=EIO:when=2", "fsync", "Input/output error"),
]


def test_enospc_and_eio_in_write_fsync_rename_give_503_and_publish_nothing(
        formpost_factory, nginx_factory, formpost_config, smtpd, tmp_path):
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    answered = []
    for i, (step, inject, syscall, text) in enumerate(INJECTED):
        tracer = Strace(fp.pid, tmp_path / f"strace{i}", "write,writev,fsync,rename,renameat2",
                        inject)
        try:
            status, _ = try_post(ng, f"tok-fail-{i}")
        finally:
            tracer.detach()
        assert status == 503, step
        ev = fp.events(event="store_failed")[-1]
        assert text in ev["error"], (step, ev)
        assert spool(formpost_config, "tmp") == [], step
        # Only messages answered 200 may be queued (or in delivery).
        assert set(spool(formpost_config, "queue")) <= set(answered), step
        # The next request, without the fault, succeeds.
        status, mid = try_post(ng, f"tok-ok-{i}")
        assert status == 200, step
        answered.append(mid)
    smtpd.wait(len(answered))
    wait_queue_empty(formpost_config)
    assert sorted(by_id(smtpd)) == sorted(answered)
    got = tokens_delivered(smtpd)
    assert sorted(got) == sorted(f"tok-ok-{i}" for i in range(len(INJECTED)))
    assert fp.alive()


# --------------------------------------------------------------------------
# kill -9

# (step, strace injection, what is on disk afterwards: a tmp/ file, empty
# or whole, never delivered; or queue/ID, delivered after a restart)
COMMIT_STEPS = [
    # the file is one writev (header, wire bytes, end line); the first
    # write(2) after it is the log's "queued" line
    ("created, nothing written", "writev:signal=KILL:when=1", "tmp-empty"),
    ("written, not synced", "fsync:signal=KILL:when=1", "tmp-full"),
    ("synced, not renamed", "renameat2:signal=KILL:when=1", "tmp-full"),
    ("renamed, directory not synced", "fsync:signal=KILL:when=2", "queue"),
    ("committed, not answered", "write:signal=KILL:when=1", "queue"),
]


def test_kill9_at_each_commit_step_gives_nothing_or_the_whole_message(
        formpost_factory, nginx_factory, formpost_config, smtpd, tmp_path):
    """strace delivers SIGKILL on entry to the request thread's N-th write/
    fsync/rename.  Until the rename nothing is in queue/ (the tmp/ file
    stays, younger than an hour, and is never delivered); from the rename
    on the whole message is, and it is delivered once after a restart.
    (kill -9 cannot tear a write: torn files are test_delivery's.)"""
    live = dict(formpost_config["smtp"]["main"])
    # While the steps run, nothing can be delivered (no server there), so
    # what a restart delivers is exactly what the kills left.
    formpost_config["smtp"]["main"] = dict(live, url=f"smtp://localhost:{free_port()}")
    ng = None
    expect = {}
    root = Path(formpost_config["spool"])
    held = tmp_path / "held"
    held.mkdir()
    for i, (step, inject, where) in enumerate(COMMIT_STEPS):
        fp = formpost_factory(formpost_config, name=f"step{i}")
        if ng is None:
            ng = nginx_factory(fp.target)
        before = spool_files(formpost_config)
        tracer = Strace(fp.pid, tmp_path / f"strace{i}", "write,writev,fsync,rename,renameat2",
                        inject)
        status, _ = try_post(ng, f"tok-step-{i}")
        assert status in (0, 502), (step, status)     # no answer: the process died
        fp.proc.popen.wait(10)
        assert fp.proc.popen.returncode == -signal.SIGKILL, step
        tracer.wait_exit()
        fp.kill()
        after = spool_files(formpost_config)
        new_tmp = sorted(set(after["tmp"]) - set(before["tmp"]))
        new_queue = sorted(set(after["queue"]) - set(before["queue"]))
        if where == "queue":
            assert new_tmp == [] and len(new_queue) == 1, (step, after)
            raw = (root / "queue" / new_queue[0]).read_bytes()
            assert re.search(rb"\nend [0-9a-f]{64}\n\Z", raw), step
            expect[f"tok-step-{i}"] = new_queue[0]
            # Set aside until the final restart: the next step's sender
            # stays idle, so the request thread is the only one writing.
            os.rename(root / "queue" / new_queue[0], held / new_queue[0])
        else:
            assert new_queue == [] and len(new_tmp) == 1, (step, after)
            size = (root / "tmp" / new_tmp[0]).stat().st_size
            assert (size == 0) == (where == "tmp-empty"), (step, size)
    formpost_config["smtp"]["main"] = live
    for name in expect.values():
        os.rename(held / name, root / "queue" / name)
    leftovers = spool(formpost_config, "tmp")
    fp = formpost_factory(formpost_config, name="restarted")
    smtpd.wait(len(expect))
    wait_queue_empty(formpost_config)
    time.sleep(0.5)
    got = tokens_delivered(smtpd)
    assert sorted(got) == sorted(expect), got
    assert all(c == {"info@example.com": 1} for c in got.values())
    assert sorted(by_id(smtpd)) == sorted(expect.values())
    assert spool(formpost_config, "tmp") == leftovers      # young: left alone
    assert spool(formpost_config, "corrupt") == []
    fp.stop()


def test_kill9_during_concurrent_posts_loses_nothing_answered(
        formpost_factory, nginx_factory, formpost_config, smtpd, capsys):
    """ROUNDS times: formpost with posts arriving from 6 threads and mail
    going out, killed with SIGKILL at a random moment, restarted.  Then:
    every post answered 200 was delivered to every recipient; nothing was
    delivered that was not posted; a post delivered without a 200 is one
    whose answer the kill cut off (no answer, or nginx's 502), never one
    answered with an error; duplicates per recipient are counted."""
    rounds, clients = 10, 6
    seed = int(os.environ.get("FORMPOST_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    formpost_config["sites"]["example"]["to"] = RCPTS
    formpost_config["delivery"] = {"first_retry": "1s", "max_retry": "2s", "max_age": "1h"}
    results = {}                          # token -> (status, id)
    lock = threading.Lock()
    ng = None
    kills = 0
    for rnd in range(rounds):
        fp = formpost_factory(formpost_config, name=f"round{rnd}")
        if ng is None:
            ng = nginx_factory(fp.target)
        stop = threading.Event()

        def client(c):
            n = 0
            while not stop.is_set():
                tok = f"tok-{rnd}-{c}-{n}"
                res = try_post(ng, tok)
                with lock:
                    results[tok] = res
                n += 1

        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.05, 0.6))
        assert fp.kill() == -signal.SIGKILL
        kills += 1
        time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(15)
    fp = formpost_factory(formpost_config, name="final")
    ok = {t for t, (st, _) in results.items() if st == 200}
    # Thousands of messages (3,500 posts on CI): minutes on a slow machine.
    wait_for(lambda: ok <= set(tokens_delivered(smtpd)), 180, "every answered post delivered",
             interval=0.5)
    wait_queue_empty(formpost_config, timeout=120)
    time.sleep(1)
    got = tokens_delivered(smtpd)
    cut_off = {t for t, (st, _) in results.items() if st in (0, 502)}
    refused = {t for t, (st, _) in results.items() if st not in (0, 200, 502)}
    assert set(got) <= set(results), "delivered something never posted"
    missing = [t for t in ok if set(got.get(t, {})) != set(RCPTS)]
    assert not missing, f"answered 200 but not delivered to all: {missing}"
    unanswered = set(got) - ok
    assert unanswered <= cut_off, f"delivered after an error answer: {unanswered & refused}"
    # Each 200's id is the delivered message's id.
    ids = {mid: [r for rcpts in copies for r in rcpts] for mid, copies in by_id(smtpd).items()}
    assert all(results[t][1] in ids for t in ok)
    dups = {(t, r): n for t, per in got.items() for r, n in per.items() if n > 1}
    assert spool(formpost_config, "corrupt") == []
    with capsys.disabled():
        print(f"\n[kill -9] seed={seed} rounds={kills} posts={len(results)} answered_200={len(ok)} "
              f"cut_off={len(cut_off)} delivered_without_answer={len(unanswered)} "
              f"refused={len(refused)} duplicate_copies={sum(n - 1 for n in dups.values())} "
              f"over {len(dups)} (message, recipient) pairs", flush=True)
    assert kills == rounds
    fp.stop()


# --------------------------------------------------------------------------
# shutdown

def test_sigterm_with_smtp_in_flight_exits_0_and_delivers_after_restart(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    """The server stalls after the message data; SIGTERM gives the
    transaction LIM_STOP_GRACE (3 s), aborts it and exits 0 well within a
    systemd-like stop timeout (10 s here, 90 s by default); the message
    stays spooled and goes out after the restart, once."""
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    smtpd.set_faults({"data": "stall:30"})
    [mid] = post(ng)
    wait_for(lambda: smtp_connections(fp.pid, smtpd.port), 10, "the SMTP connection")
    time.sleep(0.5)                         # past DATA, in the stall
    assert spool(formpost_config, "queue") == [mid] and smtpd.count() == 0
    t0 = time.monotonic()
    fp.stop(timeout=10)                     # asserts exit status 0
    took = time.monotonic() - t0
    assert spool(formpost_config, "queue") == [mid]
    assert smtpd.count() == 0
    [ev] = fp.events(event="attempt", id=mid)
    assert ev["outcome"] == "temporary" and "stopping" in ev["reply"]
    # Every sender thread ended (none left stuck in libcurl).
    assert not fp.events(event="sender_stuck") and fp.events(event="stopped")
    smtpd.set_faults(None)
    fp2 = formpost_factory(formpost_config, name="again")
    smtpd.wait(1)
    wait_queue_empty(formpost_config)
    time.sleep(0.5)
    assert by_id(smtpd) == {mid: [["info@example.com"]]}
    print(f"stopped {took:.1f}s after SIGTERM")
    fp2.stop()
