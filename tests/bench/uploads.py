#!/usr/bin/python3
"""Memory of uploads in progress (README "Attachments"): formpost's
resident memory (/proc/PID/status VmRSS) while N uploads of S MiB stream
in at once over FastCGI, slowly (64 KiB records with pauses, as a slow
client behind a streaming web server sends them), and the time and peak
memory (VmRSS, and RssAnon: the heap, what page cache does not count in)
of one large accepted upload that is composed, spooled and delivered to
the benchmark's SMTP sink (build/bench_sink, `make bench` builds it).

    /usr/bin/python3 tests/bench/uploads.py [--sizes 1,8,30] [--counts 1,4,8]
        [--accepted 30] [--formpost BINARY]

Prints one line per (count, size): base and peak VmRSS and the growth per
upload in progress.  The design bound is 1 MiB per upload whatever its
size: the growth per upload must not depend on S.  Then the accepted
upload's line: a message with attachments is written to an unnamed file
as it is made and mapped (doc/design.md "Attachments"), so RssAnon grows
by about a megabyte whatever the file's size."""
import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
from harness import wait_for, write_config, base_config, can_connect  # noqa: E402
from fcgi_client import Request  # noqa: E402
from run import Sink  # noqa: E402
from harness import free_port  # noqa: E402

JPEG = (REPO / "tests/fixtures/attach/ok.jpg").read_bytes()


def rss_kib(pid, what="VmRSS:"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(what):
            return int(line.split()[1])
    return 0


def upload(target, size, field, pause):
    head = (b"--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n"
            b"--B\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n"
            b"taro@example.jp\r\n--B\r\nContent-Disposition: form-data; name=\""
            + field.encode() + b"\"; filename=\"p.jpg\"\r\n\r\n" + JPEG[:-2])
    tail = b"\xff\xd9\r\n--B--\r\n"
    total = len(head) + size + len(tail)
    r = Request(target, timeout=120)
    r.begin({"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/formpost/example",
             "REQUEST_URI": "/formpost/example", "REMOTE_ADDR": "127.0.0.1",
             "CONTENT_TYPE": "multipart/form-data; boundary=B",
             "CONTENT_LENGTH": str(total), "HTTP_ORIGIN": "https://www.example.com",
             "HTTP_ACCEPT": "application/json"})
    r.send(head)
    chunk = bytes(65535)
    sent = 0
    while sent < size:
        n = min(len(chunk), size - sent)
        r.send(chunk[:n])
        sent += n
        if pause:
            time.sleep(pause)
    r.send(tail)
    return r.finish()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,8,30")
    ap.add_argument("--counts", default="1,4,8")
    ap.add_argument("--pause", type=float, default=0.005)
    ap.add_argument("--accepted", type=int, default=30,
                    help="MiB of the accepted upload (at most 31)")
    ap.add_argument("--formpost", default=str(REPO / "formpost"),
                    help="the binary to measure (an older build, for a before/after)")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fp-bench-up-"))
    sink = Sink(free_port())
    sink.start()
    cfg = base_config(work, sink.port, work / "none.pem")
    cfg["smtp"]["main"] = {"url": f"smtp://127.0.0.1:{sink.port}", "starttls": "off"}
    cfg["workers"] = 16
    cfg["limits"] = {"read_timeout": "5m"}
    site = cfg["sites"]["example"]
    site["max_body"] = "32M"
    site["rate_limit"] = "1000/1m"
    site["fields"] = {
        "name": {"label": "名前"}, "email": {"label": "メール", "type": "email"},
        "photo": {"label": "写真", "type": "file", "accept": ["jpg"], "max": "64k"},
        "big": {"label": "大", "type": "file", "accept": ["jpg"], "max": "31M"},
    }
    write_config(work / "fp.yaml", cfg)
    log = open(work / "fp.log", "ab")
    fp = subprocess.Popen([a.formpost, "serve", "-c",
                           str(work / "fp.yaml")], stderr=log)
    target = f"unix:{work}/formpost.sock"
    try:
        wait_for(lambda: can_connect(target), 10, "formpost")
        upload(target, 256 * 1024, "photo", 0)
        print(f"{'uploads':>8} {'MiB each':>9} {'base KiB':>9} {'peak KiB':>9} "
              f"{'KiB/upload':>11} {'seconds':>8}")
        for size in [int(s) for s in a.sizes.split(",")]:
            for count in [int(c) for c in a.counts.split(",")]:
                base, peak, codes = rss_kib(fp.pid), [0], []
                ts = [threading.Thread(target=lambda: codes.append(upload(
                    target, size << 20, "photo", a.pause))) for _ in range(count)]
                t0 = time.monotonic()
                for t in ts:
                    t.start()
                while any(t.is_alive() for t in ts):
                    peak[0] = max(peak[0], rss_kib(fp.pid))
                    time.sleep(0.02)
                dt = time.monotonic() - t0
                assert codes == [422] * count, codes
                print(f"{count:>8} {size:>9} {base:>9} {peak[0]:>9} "
                      f"{(peak[0] - base) / count:>11.0f} {dt:>8.2f}")
        base, anon0 = rss_kib(fp.pid), rss_kib(fp.pid, "RssAnon:")
        peak, anon, codes = [0], [0], []
        tx0 = sink.stats()["tx"]
        t = threading.Thread(target=lambda: codes.append(
            upload(target, a.accepted << 20, "big", 0)))
        t0 = time.monotonic()
        t.start()
        delivered = None
        while t.is_alive() or delivered is None:
            peak[0] = max(peak[0], rss_kib(fp.pid))
            anon[0] = max(anon[0], rss_kib(fp.pid, "RssAnon:"))
            if not t.is_alive() and sink.stats()["tx"] > tx0:
                delivered = time.monotonic() - t0
            if time.monotonic() - t0 > 120:
                raise SystemExit("not delivered within 120 s")
            time.sleep(0.01)
        assert codes == [200], codes
        print(f"one accepted {a.accepted} MiB upload, composed, spooled and "
              f"delivered: {delivered:.2f} s; VmRSS base {base} KiB, peak "
              f"{peak[0]} KiB; RssAnon base {anon0} KiB, peak {anon[0]} KiB "
              f"(+{anon[0] - anon0} KiB); after: VmRSS {rss_kib(fp.pid)} KiB")
    finally:
        fp.terminate()
        fp.wait(30)
        sink.stop()
        if "--keep" not in sys.argv:
            subprocess.run(["rm", "-rf", str(work)])
        else:
            print(work)


if __name__ == "__main__":
    main()
