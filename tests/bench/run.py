#!/usr/bin/python3
"""formpost benchmark: wrk through real nginx, side by side with a bare
threaded libfcgi responder (the FastCGI ceiling) in the same run.

    make bench            (or: /usr/bin/python3 tests/bench/run.py [--quick])

Prints requests/s, p50/p99 latency and the ratio to the bare responder for
each scenario, formpost's resident memory after start-up and after a flood
from many distinct client addresses, and background delivery throughput.
Absolute numbers drift ±25 % on a shared machine: read the ratios."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
from harness import Smtpd, free_port, wait_for, write_config, base_config, can_connect  # noqa: E402

ORIGIN = "https://www.example.com"
VALID = urllib.parse.urlencode({"name": "山田 太郎", "email": "taro@example.jp",
                                "message": "お見積もりをお願いします。\r\n" * 5})
INVALID = urllib.parse.urlencode({"name": "", "email": "not-an-address", "message": ""})
HONEYPOT = VALID + "&fp_extra=http%3A%2F%2Fspam.example"

NGINX_CONF = """
daemon off; master_process on; worker_processes 2; user root root;
pid {d}/nginx.pid; error_log {d}/nginx.err warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/t1; fastcgi_temp_path {d}/t2; proxy_temp_path {d}/t3;
  uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;
  map $http_x_client $client {{ "" $remote_addr; default $http_x_client; }}
  upstream fp {{ server unix:{fp}; }}
  upstream bare {{ server unix:{bare}; }}
  server {{
    listen 127.0.0.1:{port};
    location /formpost/ {{
      fastcgi_param REMOTE_ADDR $client;
      fastcgi_param REQUEST_METHOD $request_method;
      fastcgi_param REQUEST_URI $request_uri;
      fastcgi_param SCRIPT_NAME $fastcgi_script_name;
      fastcgi_param CONTENT_TYPE $content_type;
      fastcgi_param CONTENT_LENGTH $content_length;
      fastcgi_param HTTP_ORIGIN $http_origin;
      fastcgi_pass fp;
    }}
    location /bare/ {{
      fastcgi_param REQUEST_METHOD $request_method;
      fastcgi_param CONTENT_LENGTH $content_length;
      fastcgi_pass bare;
    }}
  }}
}}
"""


def wrk(url, seconds, conns, env):
    e = dict(os.environ, **env)
    p = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency",
                        "-s", str(HERE / "post.lua"), url],
                       capture_output=True, text=True, env=e)
    m = re.search(r"BENCH (.*)", p.stdout)
    if not m:
        raise RuntimeError(p.stdout + p.stderr)
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="3 s runs, small flood")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--flood", type=int, default=1000000,
                    help="requests from distinct client addresses for the memory test")
    a = ap.parse_args()
    secs = 3 if a.quick else a.seconds
    flood = 50000 if a.quick else a.flood
    work = Path(tempfile.mkdtemp(prefix="fp-bench-"))
    os.chmod(work, 0o755)
    procs = []
    try:
        smtpd = Smtpd(work, name="smtpd")
        smtpd.start(tls="none", auth=None)
        cfg = base_config(work, smtpd.port, "/dev/null")
        cfg["smtp"]["main"] = {"url": f"smtp://127.0.0.1:{smtpd.port}", "starttls": "off"}
        cfg["workers"] = 8
        cfg["limits"] = {"spool_max_messages": 10000000, "spool_min_free": "1M"}
        site = cfg["sites"]["example"]
        site["honeypot"] = "fp_extra"
        site["redirect"] = "https://www.example.com/thanks.html"
        write_config(work / "fp.yaml", cfg)
        fplog = open(work / "fp.log", "wb")
        fp = subprocess.Popen([str(REPO / "formpost"), "serve", "-c", str(work / "fp.yaml")],
                              stderr=fplog)
        procs.append(fp)
        bare = subprocess.Popen([str(REPO / "build" / "bench_bare"), str(work / "bare.sock"), "8"])
        procs.append(bare)
        wait_for(lambda: can_connect(f"unix:{work}/formpost.sock"), 10, "formpost")
        wait_for(lambda: can_connect(f"unix:{work}/bare.sock"), 10, "bare")
        time.sleep(0.5)
        rss_start = rss_kib(fp.pid)
        port = free_port()
        (work / "nginx.conf").write_text(NGINX_CONF.format(
            d=work, fp=work / "formpost.sock", bare=work / "bare.sock", port=port))
        ng = subprocess.Popen(["nginx", "-c", str(work / "nginx.conf"), "-p", str(work)])
        procs.append(ng)
        wait_for(lambda: can_connect(f"127.0.0.1:{port}"), 10, "nginx")
        base = f"http://127.0.0.1:{port}"
        rows = []

        def run(name, path, body, origin=ORIGIN, **extra):
            env = {"BENCH_BODY": body, "BENCH_ORIGIN": origin, **extra}
            r = wrk(base + path, secs, a.conns, env)
            rows.append((name, r))
            print(f"{name:34s} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                  f"p99 {r['p99_ms']:6.2f} ms  non2xx/3xx {int(r['non2xx'])}", flush=True)
            return r

        print(f"wrk -t2 -c{a.conns} -d{secs}s through nginx; formpost workers=8, bare threads=8")
        b = run("bare responder (ceiling)", "/bare/x", VALID)
        v = run("valid, durably spooled (303)", "/formpost/example", VALID,
                BENCH_UNIQUE="1", BENCH_CLIENTS="1")
        rej = [
            run("rejected: bad origin (403)", "/formpost/example", VALID, origin="https://evil.example"),
            run("rejected: invalid (422)", "/formpost/example", INVALID),
            run("rejected: honeypot (303)", "/formpost/example", HONEYPOT, BENCH_CLIENTS="1"),
            run("rejected: rate-limited (429)", "/formpost/example", VALID),
        ]
        print()
        print(f"valid / bare: {v['rps'] / b['rps']:.2f}")
        for (name, r) in rows[2:]:
            print(f"{name} / bare: {r['rps'] / b['rps']:.2f}")
        # Memory: after start, then a flood of distinct client addresses.
        rss_before = rss_kib(fp.pid)
        n = 0
        t0 = time.monotonic()
        while n < flood:
            r = wrk(base + "/formpost/example", 5, a.conns,
                    {"BENCH_BODY": HONEYPOT, "BENCH_ORIGIN": ORIGIN, "BENCH_CLIENTS": "1"})
            n += int(r["requests"])
        rss_after = rss_kib(fp.pid)
        print(f"\nRSS after start-up: {rss_start / 1024:.1f} MiB")
        print(f"RSS before flood {rss_before / 1024:.1f} MiB, after {n} posts from random "
              f"client addresses ({time.monotonic() - t0:.0f} s): {rss_after / 1024:.1f} MiB "
              f"(+{(rss_after - rss_before) / 1024:.2f} MiB)")
        # Delivery throughput: the spool drains into the local SMTP server.
        queued = len(list((work / "spool" / "queue").glob("*"))) if (work / "spool" / "queue").exists() else 0
        got0 = smtpd.count()
        t0 = time.monotonic()
        time.sleep(3)
        got1 = smtpd.count()
        print(f"\nbackground delivery: {got1 - got0} transactions in 3 s "
              f"({(got1 - got0) / 3:.0f}/s) with {queued} queued at the start; "
              f"SMTP server: aiosmtpd (Python), itself the likely bottleneck")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        try:
            smtpd.stop()
        except Exception:
            pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
