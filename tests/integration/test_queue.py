"""formpost queue list|flush|retry|drop|check against a real spool, a
running worker and a real SMTP server: an operator finds every stuck
message, sees why, and fixes it with these commands alone."""
import hashlib
import json
import os
import pwd
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

import pytest

from harness import (ID_RE, SMTP_PASS, SMTP_USER, formpost_cli, post_form, wait_for,
                     write_config)

FIELDS = {"name": "山田 太郎", "email": "taro@example.jp", "message": "お問い合わせです。"}


def stack(formpost_factory, nginx_factory, config, rcpt=None, first_retry="1s",
          max_retry="2s", name=None):
    config["delivery"] = {"first_retry": first_retry, "max_retry": max_retry,
                          "max_age": "1h"}
    if rcpt:
        config["sites"]["example"]["to"] = rcpt
    fp = formpost_factory(config, name=name) if name else formpost_factory(config)
    ng = nginx_factory(fp.target)
    return fp, ng


def post(ng, tag="m", site="example"):
    r = post_form(ng.url(f"/formpost/{site}"), dict(FIELDS, message=f"token {tag}"),
                  accept="application/json")
    assert r.status_code == 200, r.text
    return r.json()["id"]


def q(fp, *args):
    """formpost queue ARGS -c <fp's config>; CompletedProcess.  A message a
    sender still holds (its claim outlives the logged attempt and the
    rewritten file for a moment) is asked again, as the command says to."""
    def once():
        p = formpost_cli(["queue", *args], config_path=fp.config_path)
        return None if "is being delivered at this moment" in p.stdout else p
    return wait_for(once, 10, f"queue {' '.join(args)} on a message not busy",
                    interval=0.2)


def listing(fp):
    p = q(fp, "list", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout)


def spool(config, sub):
    return sorted(p.name for p in (Path(config["spool"]) / sub).iterdir())


def wait_attempt(fp, mid, outcome, timeout=15):
    wait_for(lambda: fp.events(event="attempt", id=mid, outcome=outcome), timeout,
             f"an attempt on {mid} with outcome {outcome}")
    # The spool file is rewritten after the attempt is logged.
    wait_for(lambda: next((m for m in listing(fp)["queue"]
                           if m["id"] == mid and m["attempts"] > 0), None)
             or mid not in spool(fp.config, "queue"), 10, "the recorded attempt")


def delivered_ids(smtpd):
    out = []
    for _, msg in smtpd.messages():
        out.append(re.fullmatch("<(" + ID_RE + r")@example\.com>",
                                msg["Message-ID"]).group(1))
    return out


def no_secret(*texts):
    for t in texts:
        assert SMTP_PASS not in t


# --------------------------------------------------------------------------


def test_list_shows_every_state_and_check_is_critical(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    """One message per state: delivered (absent), a refused recipient in
    failed/, one held by a wrong password (config), one waiting on a
    server that is down (temporary), a corrupt file."""
    down = formpost_config["smtp"]["main"].copy()
    down["url"] = "smtp://localhost:1"              # nothing listens there
    formpost_config["smtp"]["down"] = down
    other = json.loads(json.dumps(formpost_config["sites"]["example"]))
    other["smtp"] = ["down"]
    formpost_config["sites"]["other"] = other
    smtpd.set_faults({"rcpt": {"nobody@example.com": "550 5.1.1 no such user"}})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                   rcpt=["info@example.com", "nobody@example.com"],
                   first_retry="1h", max_retry="2h")
    failed_id = post(ng, "refused")
    smtpd.wait(1)
    wait_for(lambda: spool(formpost_config, "failed") == [failed_id], 10, "failed/")
    wait_for(lambda: failed_id not in spool(formpost_config, "queue"), 10, "done")
    smtpd.set_auth(SMTP_USER, "not-what-formpost-has")
    held_id = post(ng, "held")
    wait_attempt(fp, held_id, "config")
    temp_id = post(ng, "temp", site="other")
    wait_attempt(fp, temp_id, "temporary")
    bad = Path(formpost_config["spool"]) / "corrupt" / ("C" * 20)
    bad.write_bytes(b"formpost-spool 1\nid torn")

    p = q(fp, "list")
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    no_secret(out, p.stderr)
    queue_part, failed_part = out.split("failed/:")
    assert "queue/: 2 messages" in queue_part
    held_line = next(l for l in queue_part.splitlines() if l.startswith(held_id))
    assert "CONFIG" in held_line and "fix the setup" in held_line
    assert re.search(r"\bin (59m|1h00m)\b", held_line), held_line  # back-off 1h
    assert "reply: config: main auth 535 5.7.8" in queue_part
    temp_line = next(l for l in queue_part.splitlines() if l.startswith(temp_id))
    assert temp_line.split()[1] == "other" and "temporary" in temp_line
    assert "reply: temporary: down connect" in queue_part
    assert "pending info@example.com" in queue_part
    assert failed_part.startswith(" 1 message")
    assert failed_id in failed_part and "permanent" in failed_part
    assert "failed  nobody@example.com  550 5.1.1 no such user" in failed_part
    assert "corrupt/: 1 file" in out

    data = listing(fp)
    by = {m["id"]: m for m in data["queue"]}
    assert by[held_id]["class"] == "config" and by[held_id]["attempts"] == 1
    assert by[held_id]["rcpt"][0]["state"] == "pending"
    assert by[held_id]["next_try"] > time.time() + 3000
    assert by[temp_id]["class"] == "temporary" and by[temp_id]["site"] == "other"
    [f] = data["failed"]
    assert f["id"] == failed_id and f["class"] == "permanent"
    assert f["rcpt"] == [{"addr": "nobody@example.com", "state": "failed",
                          "code": 550, "reply": "550 5.1.1 no such user"}]
    assert data["corrupt"] == 1 and data["unreadable"] == []

    p = q(fp, "check")
    assert p.returncode == 2, p.stdout
    line = p.stdout.strip()
    assert "\n" not in line and line.startswith("CRITICAL: ")
    assert f"1 failed (oldest {failed_id}: 550 5.1.1 no such user)" in line
    assert f"1 held as config ({held_id}: config: main auth 535" in line
    assert "1 corrupt" in line
    no_secret(p.stdout, p.stderr)


def test_flush_delivers_a_held_message_at_once_in_the_running_worker(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    smtpd.set_auth(SMTP_USER, "wrong-on-the-server")
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                   first_retry="1h", max_retry="2h")
    mid = post(ng, "flush")
    wait_attempt(fp, mid, "config")
    smtpd.set_auth(SMTP_USER, SMTP_PASS)            # the provider fixed it
    time.sleep(1.5)
    assert smtpd.count() == 0                       # back-off: 1h
    p = q(fp, "flush")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 message due now" in p.stdout and "woke the running workers" in p.stdout
    smtpd.wait(1, timeout=10)
    assert delivered_ids(smtpd) == [mid]
    wait_for(lambda: not spool(formpost_config, "queue"), 10, "an empty queue/")
    assert fp.events(event="flushed", reason="queue flush", queued="1")
    assert [e["outcome"] for e in fp.events(event="attempt", id=mid)] == \
        ["config", "sent"]
    # The flush file belongs to the spool's user and says nothing secret.
    flush = Path(formpost_config["spool"]) / "flush"
    assert re.fullmatch(r"flush \d+\n", flush.read_text())
    assert stat.S_IMODE(flush.stat().st_mode) == 0o600
    p = q(fp, "check")
    assert p.returncode == 0 and p.stdout.startswith("OK: "), p.stdout


def test_flush_wakes_every_worker_sharing_the_spool(
        tmp_path, formpost_factory, formpost_config, smtpd):
    fp1 = formpost_factory(formpost_config, name="one")
    second = dict(formpost_config, listen=f"unix:{tmp_path / 'two.sock'}")
    fp2 = formpost_factory(second, name="two")
    # Listening is not watching yet: the flush file's watcher starts
    # after the socket (src/serve.c); "started" comes after both.
    for fp in (fp1, fp2):
        fp.wait_log("event=started")
    p = q(fp1, "flush")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 messages due now" in p.stdout
    for fp in (fp1, fp2):
        wait_for(lambda: fp.events(event="flushed", reason="queue flush"), 10,
                 f"{fp.name} flushed")


def test_flush_without_a_running_worker_holds_for_the_next_start(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    smtpd.set_auth(SMTP_USER, "wrong-on-the-server")
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                   first_retry="1h", max_retry="2h")
    mid = post(ng, "restart")
    wait_attempt(fp, mid, "config")
    fp.stop()
    smtpd.set_auth(SMTP_USER, SMTP_PASS)
    p = q(fp, "flush")
    assert p.returncode == 0 and "1 message due now" in p.stdout, p.stdout
    assert listing(fp)["queue"][0]["next_try"] == 0
    formpost_factory(formpost_config, name="again")
    smtpd.wait(1, timeout=10)
    assert delivered_ids(smtpd) == [mid]


def test_retry_revives_a_failed_message(formpost_factory, nginx_factory,
                                        formpost_config, smtpd):
    smtpd.set_faults({"rcpt": {"nobody@example.com": "550 5.1.1 no such user"}})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                   rcpt=["info@example.com", "nobody@example.com"])
    mid = post(ng, "retry")
    wait_for(lambda: spool(formpost_config, "failed") == [mid], 10, "failed/")
    wait_for(lambda: not spool(formpost_config, "queue"), 10, "an empty queue/")
    smtpd.wait(1)
    assert q(fp, "check").returncode == 2
    smtpd.set_faults({})                            # the mailbox exists now
    p = q(fp, "retry", mid)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{mid}: 1 recipient queued again, due now" in p.stdout
    assert not spool(formpost_config, "failed")
    smtpd.wait(2, timeout=10)
    wait_for(lambda: not spool(formpost_config, "queue"), 10, "an empty queue/")
    rcpts = [env["rcpt_tos"] for env, _ in smtpd.messages()]
    assert rcpts == [["info@example.com"], ["nobody@example.com"]]
    assert q(fp, "check").returncode == 0


def test_retry_merges_failed_recipients_into_a_queued_message(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    """One recipient refused (failed/), another deferred (queue/, next try
    in an hour): retry puts both back and sends both at once, each once."""
    smtpd.set_faults({"rcpt": {
        "nobody@example.com": {"do": "550 5.1.1 no such user", "times": 1},
        "info@example.com": {"do": "451 4.2.0 mailbox busy", "times": 1}}})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                   rcpt=["info@example.com", "nobody@example.com"],
                   first_retry="1h", max_retry="2h")
    mid = post(ng, "merge")
    wait_for(lambda: spool(formpost_config, "failed") == [mid], 10, "failed/")
    wait_for(lambda: listing(fp)["queue"][0]["attempts"] == 1, 10, "the attempt")
    [m] = listing(fp)["queue"]
    assert [(r["addr"], r["state"]) for r in m["rcpt"]] == \
        [("info@example.com", "pending"), ("nobody@example.com", "failed")]
    p = q(fp, "retry", mid)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 recipients queued again" not in p.stdout   # one was failed
    assert f"{mid}: 1 recipient queued again" in p.stdout
    smtpd.wait(1, timeout=10)
    wait_for(lambda: not spool(formpost_config, "queue"), 10, "an empty queue/")
    assert not spool(formpost_config, "failed")
    [env] = [env for env, _ in smtpd.messages()]
    assert sorted(env["rcpt_tos"]) == ["info@example.com", "nobody@example.com"]


def test_drop_removes_a_message_and_unknown_ids_fail(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    port = smtpd.pause()
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                   first_retry="1h", max_retry="2h")
    keep, drop = post(ng, "keep"), post(ng, "drop")
    # One attempt puts the profile in back-off: the other message waits
    # for it without an attempt of its own.
    wait_for(lambda: fp.events(event="attempt"), 10, "an attempt")
    time.sleep(0.5)
    p = q(fp, "drop", drop)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{drop}: removed from queue/" in p.stdout
    assert spool(formpost_config, "queue") == [keep]
    p = q(fp, "drop", drop)
    assert p.returncode == 1 and "no message" in p.stdout
    p = q(fp, "drop", "../../etc/passwd")
    assert p.returncode == 1 and "not a message id" in p.stdout
    p = q(fp, "retry", "A" * 20)
    assert p.returncode == 1 and "no message" in p.stdout
    # Failed and corrupt leftovers go too, and check is happy again.
    (Path(formpost_config["spool"]) / "corrupt" / keep).write_bytes(b"torn")
    assert q(fp, "check").returncode == 2
    assert q(fp, "drop", keep).stdout.count("removed from") == 2
    assert not spool(formpost_config, "queue") and not spool(formpost_config, "corrupt")
    assert q(fp, "check").returncode == 0
    assert port


def test_check_exit_codes(tmp_path, formpost_factory, nginx_factory,
                          formpost_config, smtpd):
    smtpd.pause()
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                   first_retry="1h", max_retry="2h")
    p = q(fp, "check")
    assert (p.returncode, p.stdout) == (0, "OK: formpost queue: 0 queued, none "
                                           "older than 1h00m; nothing failed\n")
    mid = post(ng, "old")
    wait_attempt(fp, mid, "temporary")
    assert q(fp, "check").returncode == 0           # younger than 1h
    time.sleep(2.1)
    p = q(fp, "check", "--older-than", "2s")
    assert p.returncode == 1, p.stdout
    assert p.stdout.startswith(f"WARNING: formpost queue: 1 message older than 2s "
                               f"(oldest {mid}, ")
    assert "temporary: main connect" in p.stdout
    p = q(fp, "check", "--older-than", "soon")
    assert p.returncode == 2 and "--older-than needs a duration" in p.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("spool: [\n")
    p = formpost_cli(["queue", "check"], config_path=broken)
    assert p.returncode == 3 and p.stdout.startswith("UNKNOWN: "), p.stdout


def test_help_pages():
    for args in (["help", "queue"], ["queue", "--help"], ["queue", "list", "--help"]):
        p = formpost_cli(args)
        assert p.returncode == 0, args
        for word in ("SYNOPSIS", "queue list [--json]", "queue retry ID",
                     "EXIT STATUS", "CRITICAL", "--older-than"):
            assert word in p.stdout, (args, word)
    for cmd in ("serve", "check", "test-mail"):
        p = formpost_cli(["help", cmd])
        assert p.returncode == 0 and "SYNOPSIS" in p.stdout and "EXIT STATUS" in p.stdout
    assert "SIGNALS" in formpost_cli(["serve", "--help"]).stdout
    p = formpost_cli(["queue", "frob"])
    assert p.returncode == 2 and "queue list" in p.stderr
    p = formpost_cli(["help", "frob"])
    assert p.returncode == 2


@pytest.fixture
def world():
    """A world-traversable temp dir: the CLI drops to user nobody."""
    d = tempfile.mkdtemp(prefix="fp-queue-")
    os.chmod(d, 0o755)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def spool_file(mid, rcpts, reply="", state="failed", created=None):
    """A valid spool file (format of src/spool.h)."""
    data = b"Subject: x\r\n\r\nbody\r\n"
    head = (f"formpost-spool 1\nid {mid}\nsite example\ncreated "
            f"{created or int(time.time())}\nsender noreply@example.com\n"
            f"attempts 3\nnext-try 0\nreply {reply}\n")
    for r in rcpts:
        head += f"rcpt {state} 550 {r} 550 5.1.1 no such user\n"
    raw = head.encode() + f"size {len(data)}\n\n".encode() + data
    return raw + f"end {hashlib.sha256(raw).hexdigest()}\n".encode()


def test_run_as_root_acts_as_user(world, formpost_config):
    """Root runs `queue retry`: the files it writes belong to user:."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root (CI runs as root)")
    nobody = pwd.getpwnam("nobody")
    sp = world / "spool"
    for sub in ("", "tmp", "queue", "failed", "corrupt"):
        (sp / sub).mkdir(mode=0o700, exist_ok=True)
        os.chown(sp / sub, nobody.pw_uid, nobody.pw_gid)
    mid = "B" * 20
    (sp / "failed" / mid).write_bytes(spool_file(mid, ["info@example.com"]))
    os.chown(sp / "failed" / mid, nobody.pw_uid, nobody.pw_gid)
    config = dict(formpost_config, spool=str(sp), user="nobody")
    path = write_config(world / "fp.yaml", config)
    p = formpost_cli(["queue", "retry", mid], config_path=path)
    assert p.returncode == 0, p.stdout + p.stderr
    for f in (sp / "queue" / mid, sp / "flush"):
        assert f.stat().st_uid == nobody.pw_uid, f
    assert not (sp / "failed" / mid).exists()
    text = (sp / "queue" / mid).read_text()
    assert "rcpt pending 0 info@example.com \n" in text
    assert "\nattempts 0\nnext-try 0\nreply retried by the operator\n" in text
    p = formpost_cli(["queue", "list"], config_path=path)
    assert p.returncode == 0 and mid in p.stdout
    # A spool nobody cannot read is a clear error, not a crash.
    os.chown(sp, 0, 0)
    p = formpost_cli(["queue", "check"], config_path=path)
    assert p.returncode == 3 and "Permission denied" in p.stdout, p.stdout


def test_unreadable_file_in_queue_is_reported_not_fatal(world, formpost_config):
    sp = world / "spool"
    for sub in ("", "tmp", "queue", "failed", "corrupt"):
        (sp / sub).mkdir(mode=0o700, exist_ok=True)
    good, torn = "G" * 20, "T" * 20
    (sp / "failed" / good).write_bytes(spool_file(good, ["a@example.com"],
                                                  reply="temporary: main connect x"))
    (sp / "queue" / torn).write_bytes(spool_file(torn, ["b@example.com"],
                                                 state="pending")[:-10])
    config = dict(formpost_config, spool=str(sp))
    path = write_config(world / "fp.yaml", config)
    p = formpost_cli(["queue", "list", "--json"], config_path=path)
    data = json.loads(p.stdout)
    assert data["unreadable"] == [torn] and data["failed"][0]["id"] == good
    assert (sp / "queue" / torn).exists()          # list moves nothing
    p = formpost_cli(["queue", "check"], config_path=path)
    assert p.returncode == 2 and "1 unreadable" in p.stdout


def test_ids_that_start_with_a_dash(world, formpost_config):
    """Ids are URL-safe base64: one in six starts with '-'."""
    sp = world / "spool"
    for sub in ("", "tmp", "queue", "failed", "corrupt"):
        (sp / sub).mkdir(mode=0o700, exist_ok=True)
    a, b = "-" + "a" * 19, "-" + "b" * 19
    for mid in (a, b):
        (sp / "failed" / mid).write_bytes(spool_file(mid, ["a@example.com"]))
    path = write_config(world / "fp.yaml", dict(formpost_config, spool=str(sp)))
    p = formpost_cli(["queue", "retry", a], config_path=path)
    assert p.returncode == 0 and (sp / "queue" / a).exists(), p.stdout + p.stderr
    p = formpost_cli(["queue", "drop", "-c", str(path), "--", b])
    assert p.returncode == 0 and not (sp / "failed" / b).exists(), p.stdout + p.stderr
    p = formpost_cli(["queue", "drop", "-x"], config_path=path)
    assert p.returncode == 2 and "unknown option -x" in p.stderr
