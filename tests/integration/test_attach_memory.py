"""A large attachment costs page cache, not heap (doc/design.md
"Attachments"): a 20 MiB file posted through real nginx to a site that
signs with DKIM is composed into an unnamed file as it is encoded, committed
from its mapping, claimed as a mapping, updated after a refused first try,
and delivered to the real SMTP server; Python's email package reads it back
byte for byte, python3-dkim verifies the signature, and formpost's
anonymous resident memory (/proc/PID/status RssAnon, sampled throughout)
grows by a few MiB at most, not by the message's 27 MiB (before: about
four times the file)."""
import email
import email.policy
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from harness import post_form, wait_for
from test_attach import configure, sample, tmp_empty, upload_fds
from test_dkim import SELECTOR, genkey, record_of, verify

BOUND_KIB = 8 * 1024


def rss_anon(pid):
    """RssAnon of pid in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon")


class Sampler:
    """The highest RssAnon of pid while it runs, every 10 ms."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_anon(self.pid))
            time.sleep(0.01)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.t.join()


def test_large_attachment_memory(formpost_config, formpost_factory,
                                 nginx_factory, smtpd, public_dir, tmp_path):
    key = genkey(tmp_path, "ed25519")
    cfg = configure(formpost_config, public_dir)
    site = cfg["sites"]["example"]
    site["max_body"] = "32M"
    site["fields"]["resume"]["max"] = "24M"
    site["dkim"] = {"selector": SELECTOR, "key_file": str(key)}
    cfg["limits"] = {"read_timeout": "2m"}
    fp = formpost_factory(cfg)
    ng = nginx_factory(fp.target, extra_server="client_max_body_size 64m;")
    fields = {"name": "山田 太郎", "email": "taro@example.jp"}
    # warm up: every thread and buffer a post and a delivery touch
    r = post_form(ng.url("/formpost/example"), dict(fields),
                  files={"resume": ("cv.pdf", sample("ok.pdf"), "application/pdf")},
                  accept="application/json")
    assert r.status_code == 200, r.text
    assert smtpd.wait(1)
    time.sleep(0.5)
    pdf = sample("ok.pdf") + b"%" + random.Random(16).randbytes(20 << 20)
    # the first try is refused after DATA: the mapped message is updated
    # in the spool, then delivered from the new file's claim
    smtpd.set_faults({"data": {"do": "451 4.3.0 try again later",
                               "times": 1}})
    base = rss_anon(fp.pid)
    with Sampler(fp.pid) as s:
        r = post_form(ng.url("/formpost/example"), dict(fields),
                      files={"resume": ("見積書.pdf", pdf, "application/pdf")},
                      accept="application/json", timeout=120)
        assert r.status_code == 200, r.text
        assert smtpd.wait(2, timeout=120), "not delivered"
        wait_for(lambda: not list((Path(cfg["spool"]) / "queue").iterdir()),
                 30, "queue/ empty")
    outcomes = [e["outcome"] for e in fp.events(event="attempt")]
    assert outcomes == ["sent", "temporary", "sent"], outcomes
    raw = smtpd.raw_messages()[1][1]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert not msg.defects
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain",
                                                     "application/pdf"]
    assert parts[1].get_filename() == "見積書.pdf"
    assert parts[1].get_content() == pdf
    assert raw.count(b"DKIM-Signature:") == 1
    assert verify(raw, record_of(key, "ed25519"), domain="example.com")
    growth = s.peak - base
    print(f"RssAnon base {base} KiB, peak {s.peak} KiB, growth {growth} KiB "
          f"for a {len(pdf) >> 20} MiB file ({len(raw) >> 20} MiB message)")
    assert growth < BOUND_KIB, (base, s.peak)
    assert tmp_empty(fp) and not upload_fds(fp)


def test_read_error_under_a_large_message_is_retried(
        formpost_config, formpost_factory, nginx_factory, smtpd, public_dir,
        tmp_path):
    """A claim maps a large spool file; a disk read error under a mapping
    would be a SIGBUS, so the claim reads the file through first: pread
    failing with EIO (strace injects it on that file only) is a spool
    error retried later, the process lives, and once the disk reads again
    the message is delivered whole."""
    cfg = configure(formpost_config, public_dir)
    cfg["delivery"] = {"first_retry": "3s", "max_retry": "3s", "max_age": "1h"}
    fp = formpost_factory(cfg)
    ng = nginx_factory(fp.target, extra_server="client_max_body_size 64m;")
    pdf = sample("ok.pdf") + b"%" + random.Random(7).randbytes(400 << 10)
    smtpd.set_faults({"mail": {"do": "451 4.3.0 try again later",
                               "times": 1}})
    r = post_form(ng.url("/formpost/example"),
                  {"name": "山田 太郎", "email": "taro@example.jp"},
                  files={"resume": ("cv.pdf", pdf, "application/pdf")},
                  accept="application/json")
    assert r.status_code == 200, r.text
    mid = r.json()["id"]
    queued = Path(cfg["spool"]) / "queue" / mid
    fp.wait_log(r"event=attempt .*outcome=temporary", 20)
    assert queued.stat().st_size >= 256 << 10      # LIM_SPOOL_MAP: mapped
    out = tmp_path / "strace"
    tracer = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", str(out), "-P", str(queued),
         "-e", "trace=pread64", "-e", "inject=pread64:error=EIO",
         "-p", str(fp.pid)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        ev = fp.wait_log(r"event=spool_error .*" + re.escape(mid) +
                         r".*Input/output error", 20)
        assert fp.alive(), ev
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(10)
    assert smtpd.wait(1, timeout=30), "not delivered after the disk healed"
    msg = email.message_from_bytes(smtpd.raw_messages()[0][1],
                                   policy=email.policy.default)
    assert list(msg.iter_parts())[1].get_content() == pdf
    assert fp.alive()
