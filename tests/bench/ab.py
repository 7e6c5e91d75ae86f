#!/usr/bin/python3
"""A/B of two formpost binaries in the production case, interleaved.

    /usr/bin/python3 tests/bench/ab.py OLD NEW [--rounds 5] [--seconds 3]
                                       [--dir DIR | --tmpfs | --ext4-loop]
                                       [--workers N] [--workers-new N]

OLD and NEW may be the same binary, run with a different `workers`
(--workers-new): a config compared the same way.

Both binaries run for the whole comparison, each on its own spool in the
same directory, behind one nginx (/a/ and /b/); one SMTP sink takes both
deliveries.  Each round posts valid, distinct bodies to A for SECONDS,
waits until the sink has every one of them, then does the same to B (the
order alternates every round).  Per round and binary: posts/s, p99 and
the CPU of every formpost thread from the first post until the queue
drained, per message accepted and delivered (as run.py's first
scenario).  The disk of this VM changes its cost per commit several-fold
from one minute to the next: only rounds taken side by side compare, so
the medians of the per-round ratios B/A are printed with the medians of
each.  A `disk` line per round (tests/bench/disk.c, 8 threads, 1 s) shows
what the disk did meanwhile."""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run  # noqa: E402

NGINX_AB = run.NGINX_HEAD + """
  server {{
    listen 127.0.0.1:{port};
    location ~ ^/(a|b)/formpost/ {{
      fastcgi_param REMOTE_ADDR $client;
      fastcgi_param REQUEST_METHOD $request_method;
      fastcgi_param REQUEST_URI /formpost/example;
      fastcgi_param SCRIPT_NAME /formpost/example;
      fastcgi_param CONTENT_TYPE $content_type;
      fastcgi_param CONTENT_LENGTH $content_length;
      fastcgi_param HTTP_ORIGIN $http_origin;
      fastcgi_pass unix:{d}/$1/formpost.sock;
    }}
  }}
}}
"""


def one_round(name, work, fp, base, sink, a):
    s0, c0 = sink.stats(), run.cpu_total(fp.pid)
    r = run.wrk(f"{base}/{name}/formpost/example", a.seconds, a.conns,
                {"BENCH_BODY": run.VALID, "BENCH_ORIGIN": run.ORIGIN,
                 "BENCH_UNIQUE": "1", "BENCH_CLIENTS": "1"})
    accepted = int(r["requests"] - r["non2xx"])
    st = run.drain(sink, s0["tx"] + accepted, max(3 * a.seconds, 30))
    c1 = run.cpu_total(fp.pid)
    done = min(accepted, int(st["tx"] - s0["tx"]))
    cpu = (c1 - c0) / done * 1e3 if done else float("nan")
    return {"rps": r["rps"], "p99": r["p99_ms"], "cpu": cpu,
            "left": run.queued(work)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--workers-new", type=int,
                    help="NEW's workers (default: --workers)")
    ap.add_argument("--dir")
    ap.add_argument("--tmpfs", action="store_true")
    ap.add_argument("--ext4-loop", action="store_true")
    a = ap.parse_args()
    loop = run.Ext4Loop() if a.ext4_loop else None
    where = loop.mnt if loop else "/dev/shm" if a.tmpfs else a.dir
    top = Path(tempfile.mkdtemp(prefix="fp-ab-", dir=where))
    os.chmod(top, 0o755)
    sink = run.Sink(run.free_port())
    fps, procs = {}, []
    try:
        sink.start()
        for name, binary, workers in (("a", a.old, a.workers),
                                      ("b", a.new, a.workers_new or a.workers)):
            work = top / name
            work.mkdir()
            run.bench_config(work, sink.port, workers, rejections=False)
            run.FORMPOST[0] = os.path.abspath(binary)
            fps[name] = (work, run.start_formpost(work))
        port = run.free_port()
        (top / "nginx.conf").write_text(NGINX_AB.format(d=top, port=port))
        procs.append(subprocess.Popen(["nginx", "-c", str(top / "nginx.conf"),
                                       "-p", str(top)]))
        run.wait_for(lambda: run.can_connect(f"127.0.0.1:{port}"), 10, "nginx")
        base = f"http://127.0.0.1:{port}"
        print(f"A {a.old}\nB {a.new}\nspool under {top}; {a.rounds} rounds of "
              f"{a.seconds} s each, c={a.conns}, workers={a.workers} / "
              f"{a.workers_new or a.workers}", flush=True)
        res = {"a": [], "b": []}
        for i in range(a.rounds):
            d = run.disk_rate(top, 8, 1)
            order = ("a", "b") if i % 2 == 0 else ("b", "a")
            for name in order:
                work, fp = fps[name]
                res[name].append(one_round(name, work, fp, base, sink, a))
            ra, rb = res["a"][-1], res["b"][-1]
            print(f"round {i + 1}: disk {d['commits_per_s']:.0f} commits/s at "
                  f"{d['sys_us_per_commit']:.0f} us; "
                  f"A {ra['rps']:.0f}/s p99 {ra['p99']:.1f} ms {ra['cpu']:.3f} ms/msg; "
                  f"B {rb['rps']:.0f}/s p99 {rb['p99']:.1f} ms {rb['cpu']:.3f} ms/msg",
                  flush=True)
        med = statistics.median
        for key, what in (("rps", "posts/s"), ("p99", "p99 ms"), ("cpu", "CPU ms/msg")):
            va = [r[key] for r in res["a"]]
            vb = [r[key] for r in res["b"]]
            ratios = [y / x for x, y in zip(va, vb) if x]
            print(f"{what:11s} A median {med(va):.3f}  B median {med(vb):.3f}  "
                  f"B/A median {med(ratios):.3f} (range {min(ratios):.3f}-"
                  f"{max(ratios):.3f})")
    finally:
        run.stop_all([fp for _, fp in fps.values()], procs, sink)
        shutil.rmtree(top, ignore_errors=True)
        if loop:
            loop.close()


if __name__ == "__main__":
    main()
