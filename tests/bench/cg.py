#!/usr/bin/python3
"""Instructions and system calls per request, deterministically: formpost
(or the bare libfcgi responder, build/bench_bare) serves N requests of one
kind straight over FastCGI, one at a time, each on its own connection
(as nginx sends them: the whole request in one write, records padded).

    /usr/bin/python3 tests/bench/cg.py [-n 300] [--formpost BIN] [KIND ...]
    /usr/bin/python3 tests/bench/cg.py --syscalls [KIND ...]
    /usr/bin/python3 tests/bench/cg.py [--syscalls] -n 500 deliver

KIND is any of bare, origin (403), invalid (422), honeypot (the quiet
303), ratelimited (429), valid (303, committed to the spool), deliver
(below); default: all but valid and deliver.  The site and bodies are tests/bench/run.py's.

Instructions: the process runs under `valgrind --tool=callgrind
--instr-atstart=no`; after a warm-up (--warm requests, so caches, the
rate-limit budget and lazy set-up are past) `callgrind_control -i on`,
then N requests, then a dump: the dump's total Ir over N, every thread
of the process together (request threads, intake, watchdog...).  The
figure moves by well under 1 % between runs, unlike requests/s.

--syscalls: the process runs natively; `perf stat -e
raw_syscalls:sys_enter,context-switches` over the N requests (after
the same warm-up), per request; --strace adds `strace -c -f`'s table.
The client's own calls are not counted.

KIND deliver measures the sender instead: instructions (or system calls)
per message DELIVERED, over the pipelined path as production takes it
(the bench sink, build/bench_sink, offers PIPELINING).  N valid posts
are spooled first by a formpost running natively with the sink down,
then stopped; their files (all but the one that probed the dead sink)
are set aside.  The measured formpost starts on the same spool with the
sink up, delivers --warm posts of its own (each sender thread learns
the server's capabilities on its first transaction and goes pipelined
after), and once those are delivered and queue/ is empty, counting
starts: the set-aside files are renamed into queue/ and the spool's
trigger file is written (what `formpost queue flush` does), the N
messages are delivered, and counting stops once the sink has counted
them and queue/ is empty again (every finish done).  The total over N:
claim, parse and verify, the SMTP dialogue, the log lines, history,
the finish and its fsyncs, the wake-ups; plus the flush's one scan of
queue/ (a few instructions per message, where production's posts wake
the sender instead)."""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(HERE))
from harness import free_port, wait_for, can_connect  # noqa: E402
from fcgi_client import BEGIN, PARAMS, STDIN, record, params, begin_body, read_stdout, parse_response  # noqa: E402
from run import ORIGIN, VALID, INVALID, HONEYPOT, Sink, bench_config  # noqa: E402

import socket  # noqa: E402

PATH = "/formpost/example"

# kind → (body, origin, a distinct client per request, a distinct body
# per request, the status expected)
KINDS = {
    "bare": (VALID, ORIGIN, False, False, 200),
    "origin": (VALID, "https://evil.example", False, False, 403),
    "invalid": (INVALID, ORIGIN, False, False, 422),
    "honeypot": (HONEYPOT, ORIGIN, True, False, 303),
    "ratelimited": (VALID, ORIGIN, False, True, 429),
    "valid": (VALID, ORIGIN, True, True, 303),
    "deliver": (VALID, ORIGIN, True, True, 303),   # posts spooled, then delivered
}


def request_bytes(kind, n):
    """The whole FastCGI request, as nginx would send it (run.py's
    fastcgi_params plus the request's headers as HTTP_*)."""
    body, origin, clients, unique, _ = KINDS[kind]
    if unique:
        body += f"&n={n}"
    client = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" if clients else "127.0.0.1"
    if kind == "bare":
        p = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body.encode()))}
    else:
        p = {"REMOTE_ADDR": client, "REQUEST_METHOD": "POST", "REQUEST_URI": PATH,
             "SCRIPT_NAME": PATH, "CONTENT_TYPE": "application/x-www-form-urlencoded",
             "CONTENT_LENGTH": str(len(body.encode())), "HTTP_ORIGIN": origin}
    p.update({"HTTP_HOST": "127.0.0.1:8080", "HTTP_CONTENT_LENGTH": str(len(body.encode())),
              "HTTP_CONTENT_TYPE": "application/x-www-form-urlencoded",
              "HTTP_ORIGIN": origin})
    if clients:
        p["HTTP_X_CLIENT"] = client
    b = body.encode()
    return (record(BEGIN, begin_body(), pad=True) + record(PARAMS, params(p), pad=True) +
            record(PARAMS, b"", pad=True) + record(STDIN, b, pad=True) +
            record(STDIN, b"", pad=True))


def send(sockpath, kind, n):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sockpath)
    s.sendall(request_bytes(kind, n))
    st, _, _ = parse_response(read_stdout(s))
    s.close()
    return st


_seq = [0]


def batch(sockpath, kind, count):
    want = KINDS[kind][4]
    bad = 0
    for _ in range(count):
        _seq[0] += 1
        bad += send(sockpath, kind, _seq[0]) != want
    return bad


def start(kind, work, binary, workers, wrap):
    sock = work / ("bare.sock" if kind == "bare" else "formpost.sock")
    if kind == "bare":
        cmd = [str(REPO / "build" / "bench_bare"), str(sock), str(workers)]
    else:
        cmd = [binary, "serve", "-c", str(work / "fp.yaml")]
    log = open(work / f"{kind}.log", "ab")
    p = subprocess.Popen(wrap + cmd, stderr=log, stdout=log)
    wait_for(lambda: can_connect(f"unix:{sock}"), 60, kind)
    return p, str(sock)


def stop(p, kind):
    p.send_signal(signal.SIGKILL if kind == "bare" else signal.SIGTERM)
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def callgrind(kind, work, a):
    out = work / f"cg.{kind}.out"
    wrap = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out}"]
    p, sock = start(kind, work, a.formpost, a.workers, wrap)
    try:
        batch(sock, kind, a.warm)
        subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], check=True,
                       capture_output=True)
        bad = batch(sock, kind, a.n)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True,
                       capture_output=True)
    finally:
        stop(p, kind)
    return dump_total(work, kind, a) / a.n, bad


def dump_total(work, kind, a):
    """The instructions of callgrind's dumps cg.KIND.out* (the largest
    total: the measured part), which are then copied to --keep-out and
    removed."""
    ir = 0
    for f in work.glob(f"cg.{kind}.out*"):
        for line in open(f):
            m = re.match(r"(?:summary|totals): (\d+)", line)
            if m:
                ir = max(ir, int(m.group(1)))
                break
        if a.keep_out and f.stat().st_size:
            shutil.copy(f, a.keep_out / f.name)
        f.unlink()
    return ir


def syscalls(kind, work, a):
    p, sock = start(kind, work, a.formpost, a.workers, [])
    try:
        batch(sock, kind, a.warm)
        perf = subprocess.Popen(["perf", "stat", "-x,", "-e",
                                 "raw_syscalls:sys_enter,context-switches", "-p",
                                 str(p.pid)], stderr=subprocess.PIPE, text=True)
        st = subprocess.Popen(["strace", "-c", "-f", "-p", str(p.pid)],
                              stderr=subprocess.PIPE, text=True) if a.strace else None
        time.sleep(0.5)
        bad = batch(sock, kind, a.n)
        time.sleep(0.2)
        perf.send_signal(signal.SIGINT)
        err = perf.communicate(timeout=30)[1]
        table = ""
        if st:
            st.send_signal(signal.SIGINT)
            table = st.communicate(timeout=30)[1]
    finally:
        stop(p, kind)
    got = {}
    for line in err.splitlines():
        f = line.split(",")
        if len(f) > 3 and f[0].strip().isdigit():
            got[f[2]] = int(f[0]) / a.n
    return got, bad, table


def queue_files(work):
    q = work / "spool" / "queue"
    return sorted(q.iterdir()) if q.exists() else []


def wait_until(cond, limit, what):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > limit:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stash_backlog(work, a):
    """N valid posts spooled by a native formpost while the sink is
    down, moved to work/stash; returns their paths there."""
    p, sock = start("deliver", work, a.formpost, a.workers, [])
    try:
        bad = batch(sock, "deliver", a.n + 1)
    finally:
        stop(p, "deliver")
    stash = work / "stash"
    stash.mkdir(exist_ok=True)
    moved = []
    for f in queue_files(work):
        head = f.read_bytes()[:4096]
        if b"\nattempts 0\n" in head:          # not the probe
            os.rename(f, stash / f.name)
            moved.append(stash / f.name)
        else:
            f.unlink()
    moved = moved[:a.n]
    for f in sorted(stash.iterdir())[len(moved):]:
        f.unlink()
    return moved, bad


def deliver(work, a, wrap, begin, end):
    """The delivery measurement shared by callgrind and perf: returns
    (messages delivered while measuring, unexpected statuses)."""
    sink = Sink(int(a.sink_port))
    files, bad = stash_backlog(work, a)
    sink.start()
    p, sock = start("deliver", work, a.formpost, a.workers, wrap)
    try:
        bad += batch(sock, "deliver", a.warm)
        wait_until(lambda: sink.stats()["tx"] >= a.warm and not queue_files(work),
                   300, "the warm-up's delivery")
        time.sleep(0.5)
        tx0 = sink.stats()["tx"]
        begin(p)
        for f in files:
            os.rename(f, work / "spool" / "queue" / f.name)
        (work / "spool" / "flush").write_text(f"flush {int(time.time())}\n")
        wait_until(lambda: sink.stats()["tx"] >= tx0 + len(files) and not queue_files(work),
                   1800, "the backlog's delivery")
        time.sleep(0.5)
        delivered = sink.stats()["tx"] - tx0
        end(p)
    finally:
        stop(p, "deliver")
        sink.stop()
    if delivered != len(files):
        bad += abs(int(delivered) - len(files))
    return len(files), bad


def deliver_callgrind(work, a):
    out = work / "cg.deliver.out"
    wrap = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out}"]

    def ctl(flag):
        return lambda p: subprocess.run(["callgrind_control", flag, *(
            ["on"] if flag == "-i" else []), str(p.pid)], check=True, capture_output=True)
    n, bad = deliver(work, a, wrap, ctl("-i"), ctl("-d"))
    return dump_total(work, "deliver", a) / n, bad


def deliver_syscalls(work, a):
    st = {}

    def begin(p):
        st["perf"] = subprocess.Popen(["perf", "stat", "-x,", "-e",
                                       "raw_syscalls:sys_enter,context-switches", "-p",
                                       str(p.pid)], stderr=subprocess.PIPE, text=True)
        st["strace"] = subprocess.Popen(["strace", "-c", "-f", "-p", str(p.pid)],
                                        stderr=subprocess.PIPE, text=True) \
            if a.strace else None
        time.sleep(0.5)

    def end(p):
        for k in ("perf", "strace"):
            if st[k]:
                st[k].send_signal(signal.SIGINT)
                st[k + ".err"] = st[k].communicate(timeout=30)[1]
    n, bad = deliver(work, a, [], begin, end)
    got = {}
    for line in st["perf.err"].splitlines():
        f = line.split(",")
        if len(f) > 3 and f[0].strip().isdigit():
            got[f[2]] = int(f[0]) / n
    return got, bad, st.get("strace.err", "")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kinds", nargs="*", help=", ".join(KINDS))
    ap.add_argument("-n", type=int, default=300, help="requests measured per kind")
    ap.add_argument("--warm", type=int, default=30, help="requests before measuring")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--formpost", default=str(REPO / "formpost"))
    ap.add_argument("--syscalls", action="store_true",
                    help="perf stat system calls and context switches instead")
    ap.add_argument("--strace", action="store_true", help="with --syscalls: strace -c -f too")
    ap.add_argument("--keep-out", type=Path, help="copy the callgrind dumps here")
    a = ap.parse_args()
    a.formpost = os.path.abspath(a.formpost)
    kinds = a.kinds or [k for k in KINDS if k not in ("valid", "deliver")]
    for k in kinds:
        if k not in KINDS:
            ap.error(f"unknown kind {k}")
    work = Path(tempfile.mkdtemp(prefix="fp-cg-"))
    os.chmod(work, 0o755)
    try:
        a.sink_port = free_port()
        bench_config(work, a.sink_port, a.workers)
        print(f"{os.path.basename(a.formpost)}: {a.n} requests per kind after {a.warm} "
              f"(workers={a.workers})", flush=True)
        for k in kinds:
            if a.syscalls:
                got, bad, table = syscalls(k, work, a) if k != "deliver" else \
                    deliver_syscalls(work, a)
                print(f"{k:12s} {got.get('raw_syscalls:sys_enter', 0):6.2f} system calls, "
                      f"{got.get('context-switches', 0):5.2f} context switches per "
                      f"{'delivered message' if k == 'deliver' else 'request'}"
                      f"{f'  ({bad} unexpected statuses)' if bad else ''}", flush=True)
                if table:
                    print(table)
            else:
                ir, bad = callgrind(k, work, a) if k != "deliver" else \
                    deliver_callgrind(work, a)
                print(f"{k:12s} {ir:10.0f} instructions per "
                      f"{'delivered message' if k == 'deliver' else 'request'}"
                      f"{f'  ({bad} unexpected statuses)' if bad else ''}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
