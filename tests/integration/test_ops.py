"""Operations (doc/design.md "Operations"): /_metrics scraped through nginx
and parsed by the Prometheus client's own parser, the allow list's 404,
alerts by mail (a second real SMTP server) and webhook (a local HTTP
receiver) with their dedupe and all-clear, retention and `queue show`,
log_ip and log_level."""
import hashlib
import http.server
import json
import os
import re
import stat
import threading
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from harness import (SMTP_PASS, SMTP_USER, formpost_cli, post_form, wait_for,
                     write_config)

FIELDS = {"name": "山田 太郎", "email": "taro@example.jp", "message": "秘密の相談です"}


def post(ng, tag="m", **kw):
    r = post_form(ng.url("/formpost/example"), dict(FIELDS, message=f"秘密の相談 {tag}"),
                  accept="application/json", **kw)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def scrape(ng):
    r = requests.get(ng.url("/formpost/_metrics"), timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(r.text)}, r.text


def sample(families, name, sample_name=None, **labels):
    fam = families[name]
    for s in fam.samples:
        if s.name == (sample_name or name) and all(
                s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


class Hook:
    """A webhook receiver on loopback: records every POST's JSON."""

    def __init__(self):
        self.got = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                outer.got.append((self.headers.get("Content-Type"),
                                  json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_port}/hook/T0/B0"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def events(self, event=None, state=None):
        return [j for _, j in self.got if (event is None or j["event"] == event)
                and (state is None or j["state"] == state)]

    def stop(self):
        self.srv.shutdown()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.stop()


def q(fp, *args):
    return formpost_cli(["queue", *args], config_path=fp.config_path)


def shown_attempted(fp, mid):
    """`queue show ID` once the file records an attempt, else None: an
    attempt is logged before its file is rewritten (src/sender.c:
    try_profile logs, conclude writes), so a reader may be early."""
    out = q(fp, "show", mid).stdout
    return None if "history: no attempt yet" in out else out


# --------------------------------------------------------------------------


def test_metrics_scrape_allow_and_log_settings(formpost_factory, nginx_factory,
                                               formpost_config, smtpd):
    formpost_config["metrics"] = {"allow": ["0:0::1", "127.0.0.1"]}
    formpost_config["log_ip"] = "masked"
    formpost_config["log_level"] = "debug"
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    mid = post(ng, "a")
    r = post_form(ng.url("/formpost/example"), dict(FIELDS, email="not-an-address"),
                  accept="application/json")
    assert r.status_code == 422
    smtpd.wait(1)
    wait_for(lambda: fp.events(event="delivered", id=mid), 10, "delivered")

    fams, text = scrape(ng)
    assert sample(fams, "formpost_posts", "formpost_posts_total",
                  site="example", result="accepted") == 1
    assert sample(fams, "formpost_posts", "formpost_posts_total",
                  site="example", result="invalid") == 1
    assert sample(fams, "formpost_deliveries", "formpost_deliveries_total",
                  site="example", profile="main", outcome="sent") == 1
    assert sample(fams, "formpost_queue_messages", state="queued") == 0
    assert sample(fams, "formpost_queue_messages", state="held") == 0
    assert sample(fams, "formpost_queue_messages", state="failed") == 0
    assert sample(fams, "formpost_oldest_queued_seconds") == 0
    assert sample(fams, "formpost_spool_free_bytes") > 0
    assert sample(fams, "formpost_resident_memory_bytes") > 1 << 20
    assert sample(fams, "formpost_build_info", version="0.2.0") == 1
    assert "formpost_auto_reply_skipped" in fams
    hist = fams["formpost_request_duration_seconds"]
    assert hist.type == "histogram"
    count = sample(fams, "formpost_request_duration_seconds",
                   "formpost_request_duration_seconds_count")
    inf = sample(fams, "formpost_request_duration_seconds",
                 "formpost_request_duration_seconds_bucket", le="+Inf")
    assert count == inf and count >= 2
    assert "秘密" not in text and "taro" not in text

    # log_ip masked: the /24, never the address; log_level debug: stages.
    acc = fp.events(event="accepted", id=mid)[0]
    assert acc["ip"] == "127.0.0.0/24"
    assert not any("127.0.0.1" in line for line in fp.log_lines()
                   if "event=accepted" in line or "event=rejected" in line)
    t = fp.events(event="timing", id=mid)
    assert t and {"admit_us", "judge_us", "store_answer_us"} <= t[0].keys()
    wait_for(lambda: fp.events(event="timing", profile="main"), 15,
             "the SMTP transaction's timing")
    wait_for(lambda: [e for e in fp.events(event="timing", id=mid)
                      if "delivery_us" in e and "claim_us" in e], 15,
             "the delivery's timing")

    # Not on the allow list: the unknown site's 404, byte for byte.
    cfg = dict(formpost_config, metrics={"allow": ["192.0.2.7"]}, log_ip="none",
               log_level="info")
    write_config(fp.config_path, cfg)
    fp.reload()
    fp.wait_log("event=reloaded")
    r = requests.get(ng.url("/formpost/_metrics"), timeout=10)
    other = requests.get(ng.url("/formpost/_nosuch"), timeout=10)
    assert r.status_code == 404 and r.text == other.text
    assert "formpost_" not in r.text
    n = len(fp.log_lines())
    mid2 = post(ng, "b")
    wait_for(lambda: fp.events(event="accepted", id=mid2), 15, "accepted")
    assert "ip" not in fp.events(event="accepted", id=mid2)[0]
    assert not fp.events(event="timing", id=mid2)
    assert len(fp.log_lines()) > n


def test_metrics_allow_is_checked(tmp_path, formpost_config):
    formpost_config["metrics"] = {"allow": ["localhost"]}
    path = tmp_path / "bad.yaml"
    write_config(path, formpost_config)
    p = formpost_cli(["check"], config_path=path)
    assert p.returncode == 1 and "not a numeric IP address" in p.stdout + p.stderr
    for url, why in (("http://hooks.example.com/x", "loopback"),
                     ("https://user:pw@hooks.example.com/x", "userinfo"),
                     ("ftp://127.0.0.1/x", "https://")):
        formpost_config["metrics"] = {"allow": ["::1"]}
        formpost_config["alerts"] = {"webhook": url}
        write_config(path, formpost_config)
        p = formpost_cli(["check"], config_path=path)
        out = p.stdout + p.stderr
        assert p.returncode == 1 and why in out, out
        assert "pw@" not in out
    formpost_config["alerts"] = {"to": ["ops@example.com"], "smtp": ["main"]}
    write_config(path, formpost_config)
    p = formpost_cli(["check"], config_path=path)
    assert "warning: alerts: smtp uses only profiles the sites send through" \
        in p.stdout + p.stderr, p.stdout + p.stderr


def test_alerts_wrong_password_then_all_clear(formpost_factory, nginx_factory,
                                              formpost_config, smtpd,
                                              smtpd_factory, hook):
    ops = smtpd_factory()
    alerts = dict(formpost_config["smtp"]["main"], url=ops.url)
    formpost_config["smtp"]["alerts"] = alerts
    formpost_config["alerts"] = {"to": ["ops@example.com"], "smtp": ["alerts"],
                                 "webhook": hook.url, "min_interval": "1h"}
    formpost_config["delivery"] = {"first_retry": "1s", "max_retry": "2s",
                                   "max_age": "1h"}
    smtpd.set_auth(SMTP_USER, "not-what-formpost-has")
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    first = post(ng, "1")
    wait_for(lambda: hook.events("profile_config"), 15, "the webhook")
    post(ng, "2")
    wait_for(lambda: len(fp.events(event="attempt", outcome="config")) >= 3, 15,
             "more config attempts")
    [ev] = hook.events("profile_config")
    assert ev["state"] == "firing" and ev["site"] == "example"
    assert ev["profile"] == "main" and ev["id"] == first
    assert ev["text"] == ev["content"] and "535" in ev["text"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ev["since"])
    [(env, msg)] = ops.wait(1)
    assert env["rcpt_tos"] == ["ops@example.com"]
    assert "profile_config" in msg["Subject"]
    body = msg.get_content()
    assert "main" in body and "example" in body
    for j in hook.events():
        s = json.dumps(j, ensure_ascii=False)
        assert SMTP_PASS not in s and "秘密" not in s and "taro" not in s
    assert SMTP_PASS not in body and "秘密" not in body

    # Fixed: the server takes the password again; a reload flushes.
    smtpd.set_auth(SMTP_USER, SMTP_PASS)
    fp.reload()
    smtpd.wait(2)
    wait_for(lambda: hook.events("profile_config", "resolved"), 15, "all-clear")
    assert len(hook.events("profile_config", "firing")) == 1
    ops.wait(2)
    assert "all clear" in ops.messages()[1][1]["Subject"]


def test_alert_dedupe_within_min_interval(formpost_factory, nginx_factory,
                                          formpost_config, smtpd, hook):
    formpost_config["alerts"] = {"webhook": hook.url, "min_interval": "1h"}
    formpost_config["sites"]["example"]["to"] = ["info@example.com",
                                                 "nobody@example.com"]
    smtpd.set_faults({"rcpt": {"nobody@example.com": "550 5.1.1 no such user"}})
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    a = post(ng, "1")
    b = post(ng, "2")
    wait_for(lambda: len(fp.events(event="failed")) >= 2, 15, "two failures")
    wait_for(lambda: hook.events("permanent_failure"), 10, "the webhook")
    time.sleep(1.5)
    [ev] = hook.events("permanent_failure")
    assert ev["id"] in (a, b) and "550 5.1.1" in ev["text"]
    assert "profile" not in ev


def test_retention_archive_purge_and_show(formpost_factory, nginx_factory,
                                          formpost_config, smtpd):
    formpost_config["retention"] = {"failed": "1d", "archive": 1}
    formpost_config["sites"]["example"]["to"] = ["info@example.com",
                                                 "nobody@example.com"]
    smtpd.set_faults({"rcpt": {"nobody@example.com": "550 5.1.1 no such user"}})
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    mid = post(ng, "1")
    smtpd.wait(1)
    spool = Path(formpost_config["spool"])
    wait_for(lambda: (spool / "sent" / mid).exists() and
             (spool / "failed" / mid).exists() and
             not (spool / "queue" / mid).exists(), 10, "sent/ and failed/")
    assert stat.S_IMODE((spool / "sent" / mid).stat().st_mode) == 0o600

    p = q(fp, "show", mid)
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    assert f"sent/{mid}" in out and "archived (delivered)" in out
    assert f"failed/{mid}" in out and "refused permanently" in out
    assert re.search(r"sent +250 +info@example.com", out)
    assert "failed   550 nobody@example.com  550 5.1.1 no such user" in out
    assert "From: Example Web <noreply@example.com>" in out
    assert "Subject:" in out and "秘密" not in out     # headers, never the body
    # The attempt history is in the files (doc/design.md "The spool").
    assert "history: 1 attempt, oldest first" in out
    assert "event=attempt" not in out
    assert q(fp, "show", "A" * 20).returncode == 1
    assert q(fp, "show", "../etc/passwd").returncode == 1

    # Younger than retention: kept.  Older: purged by the command...
    p = q(fp, "purge")
    assert p.returncode == 0 and "purged 0 from failed/ and 0 from sent/" in p.stdout
    old = time.time() - 2 * 86400
    os.utime(spool / "sent" / mid, (old, old))
    p = q(fp, "purge")
    assert "purged 0 from failed/ and 1 from sent/" in p.stdout, p.stdout
    assert not (spool / "sent" / mid).exists()
    # ... and by the running server (at start, then hourly).
    os.utime(spool / "failed" / mid, (old, old))
    fp.stop()
    fp.start()
    wait_for(lambda: fp.events(event="retention", failed_purged="1"), 10,
             "retention at start")
    assert not (spool / "failed" / mid).exists()
    assert q(fp, "show", mid).returncode == 1


def test_show_queued_and_held(formpost_factory, nginx_factory, formpost_config,
                              smtpd):
    down = dict(formpost_config["smtp"]["main"], url="smtp://localhost:1")
    formpost_config["smtp"]["down"] = down
    other = json.loads(json.dumps(formpost_config["sites"]["example"]))
    other["smtp"] = ["down"]
    formpost_config["sites"]["other"] = other
    formpost_config["delivery"] = {"first_retry": "1h", "max_retry": "2h",
                                   "max_age": "1h"}
    smtpd.set_auth(SMTP_USER, "wrong")
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    held = post(ng, "h")
    r = post_form(ng.url("/formpost/other"), FIELDS, accept="application/json")
    queued = r.json()["id"]
    wait_for(lambda: fp.events(event="attempt", id=held, outcome="config") and
             fp.events(event="attempt", id=queued, outcome="temporary"), 15,
             "both attempts")
    out = wait_for(lambda: shown_attempted(fp, held), 15, "the held file's attempt")
    assert f"queue/{held}" in out and "held (config" in out
    assert "pending" in out and "config: main auth 535" in out
    assert SMTP_PASS not in out
    out = wait_for(lambda: shown_attempted(fp, queued), 15, "the queued file's attempt")
    assert f"queue/{queued}" in out and re.search(r"state +queued", out)
    assert "temporary: down connect" in out and "next try" in out


def planted(mid, created, state="pending"):
    """A valid spool file (format of src/spool.h), one recipient."""
    data = b"Subject: x\r\n\r\nbody\r\n"
    head = (f"formpost-spool 1\nid {mid}\nsite example\ncreated {created}\n"
            f"sender noreply@example.com\nattempts 0\nnext-try 0\nreply \n"
            f"rcpt {state} 0 info@example.com \n")
    raw = head.encode() + f"size {len(data)}\n\n".encode() + data
    return raw + f"end {hashlib.sha256(raw).hexdigest()}\n".encode()


def test_alerts_queue_age_expiry_and_corrupt(formpost_factory, formpost_config,
                                            hook):
    """A message queued for two hours (the relay is down), one past max_age,
    and a torn file: one webhook each, naming the id, never the body."""
    formpost_config["smtp"]["main"]["url"] = "smtp://localhost:1"
    formpost_config["delivery"] = {"first_retry": "1h", "max_retry": "2h",
                                   "max_age": "1d"}
    formpost_config["alerts"] = {"webhook": hook.url}
    q_dir = Path(formpost_config["spool"]) / "queue"
    q_dir.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    old, expired, torn = "O" * 20, "E" * 20, "T" * 20
    (q_dir / old).write_bytes(planted(old, now - 7200))
    (q_dir / expired).write_bytes(planted(expired, now - 2 * 86400))
    (q_dir / torn).write_bytes(planted(torn, now)[:-30])
    fp = formpost_factory(formpost_config)
    wait_for(lambda: hook.events("queue_old") and hook.events("expired")
             and hook.events("corrupt"), 15, "three alerts")
    [qo] = hook.events("queue_old")
    assert qo["id"] in (old, expired) and qo["state"] == "firing"
    [ex] = hook.events("expired")
    assert ex["id"] == expired and ex["site"] == "example"
    [co] = hook.events("corrupt")
    assert co["id"] == torn
    for _, j in hook.got:
        assert "body" not in j["text"]


def test_hanging_webhook_never_delays_delivery(formpost_factory, nginx_factory,
                                               formpost_config, smtpd):
    """The webhook accepts and never answers: mail still flows at once, and
    SIGTERM still stops formpost promptly (the POST is abandoned)."""
    import socket
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    try:
        formpost_config["alerts"] = {"webhook": f"http://127.0.0.1:{port}/h"}
        formpost_config["sites"]["example"]["to"] = ["info@example.com",
                                                     "nobody@example.com"]
        smtpd.set_faults({"rcpt": {"nobody@example.com": "550 5.1.1 no such user"}})
        fp = formpost_factory(formpost_config)
        ng = nginx_factory(fp.target)
        post(ng, "1")
        smtpd.wait(1)
        conn, _ = srv.accept()                  # the alert's POST, held
        t0 = time.monotonic()
        for i in range(3):
            post(ng, f"n{i}")
        smtpd.wait(4, timeout=10)
        assert time.monotonic() - t0 < 5
        t0 = time.monotonic()
        fp.stop()
        assert time.monotonic() - t0 < 5
        conn.close()
    finally:
        srv.close()


def test_receipts_raise_no_alert_count_skips_and_show(formpost_factory, nginx_factory,
                                                      formpost_config, smtpd, hook):
    """A receipt refused for good is logged, never alerted; a receipt over
    the limit counts in formpost_auto_reply_skipped_total; `queue show`
    finds a receipt typed in lower case without hyphens."""
    formpost_config["alerts"] = {"webhook": hook.url}
    formpost_config["metrics"] = {"allow": ["127.0.0.1"]}
    site = formpost_config["sites"]["example"]
    site["auto_reply"] = {"limit": "1/1d"}
    site["rate_limit"] = "100/1m"
    smtpd.set_faults({"rcpt": {"typo@example.jp": "550 5.1.1 no such user"}})
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    r = post_form(ng.url("/formpost/example"), dict(FIELDS, email="typo@example.jp"),
                  accept="application/json")
    a = r.json()["id"]
    rid = f"{a}-R"
    wait_for(lambda: os.path.exists(os.path.join(formpost_config["spool"], "failed",
                                                 rid)), 15, "failed/ID-R")
    r = post_form(ng.url("/formpost/example"),
                  dict(FIELDS, email="typo@example.jp", message="二度目"),
                  accept="application/json")
    assert r.status_code == 200
    fp.wait_log(r"auto_reply=skipped reason=limit")
    time.sleep(1.5)
    assert [e for e in hook.events() if e.get("id") == rid] == []
    assert hook.events("permanent_failure") == []
    fams, _ = scrape(ng)
    assert sample(fams, "formpost_auto_reply_skipped",
                  "formpost_auto_reply_skipped_total",
                  site="example", reason="limit") == 1
    p = q(fp, "show", a.replace("-", "").lower() + "-r")
    assert p.returncode == 0, p.stdout
    assert f"failed/{rid}" in p.stdout, p.stdout
    # The receipt keeps its own history (doc/design.md "The spool").
    assert "history: 1 attempt, oldest first" in p.stdout, p.stdout
    assert re.search(r"^  \S+Z  main +permanent +550  .*550 5.1.1", p.stdout,
                     re.M), p.stdout
    assert re.search(r"^ +permanent +550  typo@example.jp", p.stdout, re.M)
