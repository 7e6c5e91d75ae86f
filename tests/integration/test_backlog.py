"""A backlog larger than the sender's schedule: at most LIM_SCHEDULE
(8192) messages are held in memory, the rest wait in queue/ and are taken
in as room frees, by the due time their file's date says (doc/design.md
"The schedule's bound").  Every message is still delivered, exactly once,
and a relay that is down does not shut out mail for one that works.  The
build's formpost-smallq has a schedule of 64, so a few hundred messages
reach those paths."""
import copy
import os
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from harness import REPO, SITE_ORIGIN, post_form, wait_for

LIMIT = 8192            # src/limits.h LIM_SCHEDULE
SMALLQ = REPO / "formpost-smallq"
PUT = REPO / "build" / "tool_spool_put"
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
    port = smtpd.pause()
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


def put(spool, site, n, tag):
    """Commits n messages for site straight into the spool (tool_spool_put);
    returns their ids."""
    ids = []
    for i in range(n):
        p = subprocess.run([str(PUT), spool, site, "noreply@example.com",
                            "info@example.com"],
                           input=f"Subject: {tag} {i}\r\n\r\nx\r\n".encode(),
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
        ids.append(p.stdout.decode().strip())
    return ids


@pytest.fixture
def smallq(monkeypatch):
    assert SMALLQ.exists(), "make units builds formpost-smallq"
    monkeypatch.setenv("FORMPOST_BIN", str(SMALLQ))


def with_dead_site(cfg, retry):
    """Adds site `dead`, whose only relay refuses connections."""
    cfg["smtp"]["dead"] = dict(cfg["smtp"]["main"], url="smtp://localhost:1")
    dead = copy.deepcopy(cfg["sites"]["example"])
    dead["origins"] = ["https://dead.example"]
    dead["smtp"] = ["dead"]
    cfg["sites"]["dead"] = dead
    cfg["delivery"] = {"first_retry": retry[0], "max_retry": retry[1], "max_age": "1h"}


# The dead relay's messages come due again a minute later, or every few
# seconds (each time taking back the room it left).
@pytest.mark.parametrize("retry", [("60s", "60s"), ("1s", "4s")], ids=["slow", "fast"])
def test_dead_relay_backlog_does_not_shut_out_a_working_one(
        smallq, formpost_factory, nginx_factory, formpost_config, smtpd, retry):
    cfg = formpost_config
    with_dead_site(cfg, retry)
    queue = Path(cfg["spool"]) / "queue"
    # First the dead site's backlog fills the schedule (and then some),
    # deferred for a minute; then the working site's mail arrives.
    dead = put(cfg["spool"], "dead", 200, "dead")
    fp = formpost_factory(cfg)
    fp.wait_log(r"event=schedule_full", 20)
    wait_for(lambda: len(fp.events(event="attempt", profile="dead")) >= 1, 20,
             "the dead relay tried")
    fp.stop()
    ok = put(cfg["spool"], "example", 20, "ok")
    fp = formpost_factory(cfg, name="again")
    # Its files are dated now, the dead site's a minute ahead: each
    # rescan after the overflow takes them in first.
    wait_for(lambda: not any((queue / i).exists() for i in ok), 20,
             "the working site's mail delivered")
    subjects = sorted(m["Subject"] for _, m in smtpd.messages())
    assert subjects == sorted(f"ok {i}" for i in range(20))
    # A fresh post evicts a dead-site entry due later: tried at once.
    ng = nginx_factory(fp.target)
    r = post_form(ng.url("/formpost/example"),
                  {"name": "山田 太郎", "email": "taro@example.jp", "message": "今すぐ"},
                  accept="application/json")
    assert r.status_code == 200, r.text
    smtpd.wait(21, timeout=10)
    assert sum((queue / i).exists() for i in dead) == 200


def test_overflow_delivers_each_message_once(
        smallq, formpost_factory, formpost_config, smtpd, smtpd_factory):
    cfg = formpost_config
    port = smtpd.pause()
    fp = formpost_factory(cfg)
    fp.stop()
    put(cfg["spool"], "example", 400, "m")
    fp = formpost_factory(cfg, name="again")
    fp.wait_log(r"event=schedule_full .*limit=64", 20)
    back = smtpd_factory(port=port)      # the same port: the profile recovers
    wait_for(lambda: not os.listdir(Path(cfg["spool"]) / "queue"), 60,
             "the backlog delivered")
    subjects = [m["Subject"] for _, m in back.messages()]
    assert sorted(subjects) == sorted(f"m {i}" for i in range(400))
    assert fp.events(event="schedule_failed") == []
