"""A backlog larger than the sender's schedule: at most LIM_SCHEDULE
(8192) messages are held in memory, the rest wait in queue/ and are taken
in as room frees (doc/design.md "The schedule's bound").  Every message
is still delivered, and exactly once."""
import os
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

from harness import REPO, SITE_ORIGIN, wait_for

LIMIT = 8192            # src/limits.h LIM_SCHEDULE
BODY = urllib.parse.urlencode({"name": "山田 太郎", "email": "taro@example.jp",
                               "message": "在庫はありますか。"})


def spool_backlog(url, queue, want, budget_s=120):
    """Posts distinct bodies with wrk (tests/bench/post.lua) until queue/
    holds `want` files; returns how many it holds."""
    base, t0 = 0, time.monotonic()
    while len(os.listdir(queue)) < want:
        assert time.monotonic() - t0 < budget_s, \
            f"only {len(os.listdir(queue))} of {want} spooled in {budget_s} s"
        env = dict(os.environ, BENCH_BODY=BODY, BENCH_ORIGIN=SITE_ORIGIN,
                   BENCH_UNIQUE="1", BENCH_BASE=str(base))
        p = subprocess.run(["wrk", "-t2", "-c8", "-d2s", "-s",
                            str(REPO / "tests" / "bench" / "post.lua"), url],
                           capture_output=True, text=True, env=env, timeout=60)
        m = re.search(r"BENCH requests=(\d+) \S+ errors=(\d+) non2xx=(\d+)", p.stdout)
        assert m, p.stdout + p.stderr
        assert m.group(3) == "0", p.stdout       # every post accepted
        base += int(m.group(1)) + 1000           # never repeat a body
    return len(os.listdir(queue))


def test_backlog_beyond_the_schedule_is_delivered_once(
        formpost_factory, nginx_factory, formpost_config, smtpd, smtpd_factory):
    port = smtpd.port
    smtpd.stop()
    formpost_config["limits"] = {"spool_max_messages": 50000}
    formpost_config["smtp"]["main"]["connections"] = 4
    # post.lua's unique field, so that no post is a double submit
    formpost_config["sites"]["example"]["fields"]["n"] = {"label": "番号", "max": 20}
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    queue = Path(formpost_config["spool"]) / "queue"
    n = spool_backlog(ng.url("/formpost/example"), queue, LIMIT + 1200)
    fp.wait_log(r"event=schedule_full .*limit=8192", 20)

    back = smtpd_factory(port=port, pipelining=True)
    wait_for(lambda: not os.listdir(queue), 240, "the backlog delivered")
    got = [raw for _, raw in back.raw_messages()]
    ids = [re.search(rb"^Message-ID: *(\S+)", raw, re.M | re.I).group(1) for raw in got]
    assert len(ids) == n, f"{len(ids)} delivered for {n} spooled"
    assert len(set(ids)) == n, f"{n - len(set(ids))} delivered twice"
    assert fp.events(event="spool_error") == []
    assert fp.events(event="schedule_failed") == []
