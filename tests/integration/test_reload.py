"""SIGHUP reload against a running worker, a real spool and a real SMTP
server: a good config applies (to queued mail at once), a bad one is kept
out with FILE:LINE:COLUMN, keys that need a restart are named, a removed
site's messages are held as config; and in a whole operator scenario the
SMTP password, the form values and the body appear in no log or output."""
import base64
import fcntl
import json
import os
import re
import time
from pathlib import Path

from harness import (SMTP_PASS, SMTP_USER, formpost_cli, post_form, to_yaml,
                     wait_for)

FIELDS = {"name": "Reload Tarou-7f3a", "email": "visitor-7f3a@example.jp",
          "message": "Body words quokka-7f3a and more"}


def stack(formpost_factory, nginx_factory, config, first_retry="1h"):
    config["delivery"] = {"first_retry": first_retry, "max_retry": "2h",
                          "max_age": "1h"}
    fp = formpost_factory(config)
    return fp, nginx_factory(fp.target)


def post(ng, site="example", fields=FIELDS):
    r = post_form(ng.url(f"/formpost/{site}"), fields, accept="application/json")
    assert r.status_code == 200, r.text
    return r.json()["id"]


def rewrite(fp, config):
    fp.config = config
    fp.config_path.write_text(to_yaml(config) + "\n", encoding="utf-8")


def reload_and_wait(fp, event):
    before = len(fp.events(event=event))
    fp.reload()
    wait_for(lambda: len(fp.events(event=event)) > before, 10, f"event={event}")
    return fp.events(event=event)[-1]


def queue_json(fp):
    p = formpost_cli(["queue", "list", "--json"], config_path=fp.config_path)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout)


def spool(config, sub):
    return sorted(p.name for p in (Path(config["spool"]) / sub).iterdir())


def unclaimed(fp, mid):
    """True once no sender holds queue/MID (its claim is an flock,
    src/spool.c): the file is rewritten a moment before the claim ends,
    and a reload's flush that meets the claim waits a whole first_retry."""
    try:
        fd = os.open(os.path.join(fp.config["spool"], "queue", mid), os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)                # drops our lock with it


def held(fp, mid, timeout=15):
    """Waits until mid's spool file records an attempt and the sender has
    let go of it; returns it."""
    m = wait_for(lambda: next((m for m in queue_json(fp)["queue"]
                               if m["id"] == mid and m["attempts"] > 0), None),
                 timeout, f"an attempt recorded for {mid}")
    wait_for(lambda: unclaimed(fp, mid), timeout, f"the sender done with {mid}")
    return m


# --------------------------------------------------------------------------


def test_bad_reload_keeps_the_running_config_and_says_where(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config, "1s")
    good = fp.config_path.read_text()
    lines = good.splitlines()
    n = next(i for i, l in enumerate(lines) if l.startswith("workers:"))
    lines[n] = "workers: many"
    fp.config_path.write_text("\n".join(lines) + "\n")
    ev = reload_and_wait(fp, "reload_failed")
    assert ev["level"] == "error" and ev["action"] == "kept the running config"
    m = re.match(r"(.+\.yaml):(\d+):(\d+): ", ev["error"])
    assert m and m.group(1) == str(fp.config_path) and int(m.group(2)) == n + 1, ev
    # An inline password is refused without being repeated.
    fp.config_path.write_text(good.replace(
        "password_file:", f"password: {SMTP_PASS}\n    password_file:", 1))
    ev = reload_and_wait(fp, "reload_failed")
    assert "password_file" in ev["error"] and SMTP_PASS not in ev["error"]
    assert not fp.events(event="reloaded")
    mid = post(ng)
    smtpd.wait(1)
    # The server stores the mail before formpost hears its 250 and logs.
    wait_for(lambda: fp.events(event="delivered", id=mid), 10, "event=delivered")


def test_reload_with_a_fixed_password_delivers_held_mail_at_once(
        tmp_path, formpost_factory, nginx_factory, formpost_config, smtpd):
    pw = Path(formpost_config["smtp"]["main"]["password_file"])
    pw.write_text("a-typo-in-the-password\n")
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config, "1h")
    mid = post(ng)
    m = held(fp, mid)
    assert m["class"] == "config" and m["next_try"] > time.time() + 3000
    [ev] = fp.events(event="profile_state", profile="main")
    assert ev["level"] == "error" and ev["state"] == "config"
    pw.write_text(SMTP_PASS + "\n")
    time.sleep(1)
    assert smtpd.count() == 0                       # no retry for an hour
    reload_and_wait(fp, "reloaded")
    smtpd.wait(1, timeout=10)
    wait_for(lambda: not spool(formpost_config, "queue"), 10, "an empty queue/")
    assert fp.events(event="flushed", reason="reload")
    assert [e["outcome"] for e in fp.events(event="attempt", id=mid)] == \
        ["config", "sent"]
    assert fp.events(event="profile_state", profile="main", state="ok")


def test_keys_that_need_a_restart_are_named(tmp_path, formpost_factory,
                                            nginx_factory, formpost_config, smtpd):
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config, "1s")
    changed = json.loads(json.dumps(formpost_config))
    changed["workers"] = 2
    changed["spool"] = str(tmp_path / "elsewhere")
    changed["listen"] = f"unix:{tmp_path / 'other.sock'}"
    changed["sites"]["example"]["subject"] = "[Reloaded] {{name}}"
    rewrite(fp, changed)
    ev = reload_and_wait(fp, "reload_needs_restart")
    assert ev["level"] == "warn" and ev["keys"] == "listen,workers,spool"
    assert fp.events(event="reloaded")
    # The rest applied; the socket and the spool stay until a restart.
    post(ng)
    smtpd.wait(1)
    assert smtpd.messages()[0][1]["Subject"].startswith("[Reloaded]")
    assert not (tmp_path / "elsewhere").exists()
    assert not (tmp_path / "other.sock").exists()
    # A reload that changes none of them says nothing about a restart.
    changed["workers"] = 4
    changed["spool"] = formpost_config["spool"]
    changed["listen"] = formpost_config["listen"]
    rewrite(fp, changed)
    before = len(fp.events(event="reload_needs_restart"))
    reload_and_wait(fp, "reloaded")
    assert len(fp.events(event="reload_needs_restart")) == before


def test_a_removed_site_holds_its_messages_as_config(
        formpost_factory, nginx_factory, smtpd_factory, formpost_config, smtpd):
    port = smtpd.pause()
    other = json.loads(json.dumps(formpost_config["sites"]["example"]))
    formpost_config["sites"]["other"] = other
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config, "1h")
    mid = post(ng, "other")
    assert held(fp, mid)["class"] == "temporary"
    without = json.loads(json.dumps(formpost_config))
    del without["sites"]["other"]
    rewrite(fp, without)
    reload_and_wait(fp, "reloaded")
    wait_for(lambda: fp.events(event="attempt", id=mid, outcome="config"), 10,
             "the held attempt")
    ev = fp.events(event="attempt", id=mid, outcome="config")[0]
    assert ev["level"] == "error" and "site other is not in the config" in ev["reply"]
    m = wait_for(lambda: next((m for m in queue_json(fp)["queue"]
                               if m["class"] == "config"), None), 10, "class config")
    assert m["id"] == mid and m["reply"] == "config: site other is not in the config: held"
    wait_for(lambda: unclaimed(fp, mid), 15, "the sender done with it")
    p = formpost_cli(["queue", "check"], config_path=fp.config_path)
    assert p.returncode == 2 and "1 held as config" in p.stdout
    # Nothing was lost: the site back, the server up, one reload delivers it.
    back = smtpd_factory(port=port)
    rewrite(fp, formpost_config)
    reload_and_wait(fp, "reloaded")
    back.wait(1, timeout=10)
    wait_for(lambda: not spool(formpost_config, "queue"), 10, "an empty queue/")


def test_no_secret_form_value_or_body_in_any_log_or_output(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    """A whole operator scenario: a refused recipient, a wrong password
    held, list/check/flush/retry/drop, test-mail, a failed and a good
    reload.  Then every log line and every output is searched."""
    pw = Path(formpost_config["smtp"]["main"]["password_file"])
    formpost_config["sites"]["example"]["to"] = ["info@example.com",
                                                 "nobody@example.com"]
    smtpd.set_faults({"rcpt": {"nobody@example.com": "550 5.1.1 no such user"}})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config, "1h")
    outputs = []

    def cli(*args):
        p = formpost_cli(list(args), config_path=fp.config_path)
        outputs.append(p.stdout + p.stderr)
        return p

    first = post(ng)
    wait_for(lambda: spool(formpost_config, "failed") == [first], 10, "failed/")
    pw.write_text("a-typo-in-the-password\n")
    reload_and_wait(fp, "reloaded")
    second = post(ng, fields=dict(FIELDS, message=FIELDS["message"] + " 2"))
    held(fp, second)
    cli("queue", "list")
    cli("queue", "list", "--json")
    cli("queue", "check")
    cli("test-mail", "example")
    tries = len(fp.events(event="attempt", id=second))
    cli("queue", "flush")
    # The flush's attempt (the old password) must be over before the
    # reload below: one still in flight absorbs the reload's flush, and
    # its 535 puts the message off for first_retry (1h).
    wait_for(lambda: len(fp.events(event="attempt", id=second)) > tries, 15,
             "the flushed attempt")
    wait_for(lambda: unclaimed(fp, second), 15, "the sender done with it")
    text = fp.config_path.read_text()
    fp.config_path.write_text(text + "\nbogus: 1\n")
    reload_and_wait(fp, "reload_failed")
    fp.config_path.write_text(text)
    pw.write_text(SMTP_PASS + "\n")
    smtpd.set_faults({})
    reload_and_wait(fp, "reloaded")
    cli("queue", "retry", first)
    wait_for(lambda: not spool(formpost_config, "queue"), 15, "an empty queue/")
    cli("queue", "drop", second)
    cli("queue", "check")
    cli("test-mail", "example")
    assert smtpd.count() >= 3

    logs = "\n".join(fp.log_lines())
    everything = logs + "\n".join(outputs)
    for event in ("accepted", "queued", "attempt", "failed", "profile_state",
                  "delivered", "reloaded", "reload_failed", "flushed"):
        assert f"event={event} " in logs, event
    secrets = [SMTP_PASS, base64.b64encode(SMTP_PASS.encode()).decode(),
               base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASS}".encode()).decode()]
    values = [FIELDS["name"], "Tarou-7f3a", FIELDS["email"], "visitor-7f3a",
              "quokka-7f3a"]
    # And the body as it went out: every line of the received message's text.
    body = smtpd.messages()[0][1].get_payload(decode=True).decode("utf-8", "replace")
    body_lines = [l.strip() for l in body.splitlines() if len(l.strip()) > 12]
    assert body_lines
    for needle in secrets + values + body_lines:
        assert needle not in everything, needle
    # Every line is one logfmt event.
    for line in fp.log_lines():
        assert re.match(r'level=(debug|info|warn|error) event=[a-z_]+( |$)', line), line
