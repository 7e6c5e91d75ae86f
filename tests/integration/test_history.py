"""The attempt history of a spool file (format version 2, doc/design.md "The
spool") as `formpost queue show` prints it, with the real SMTP server in
failure modes: a 451 then success, a wrong password then a fixed config and
a reload, a permanent refusal then `queue retry`; queued, held, failed and
archived (sent/) messages.  And a file of a newer format version, left
where it is with one warning."""
import hashlib
import json
import re
import time
from pathlib import Path

from harness import SMTP_PASS, SMTP_USER, formpost_cli, post_form, wait_for

FIELDS = {"name": "山田 太郎", "email": "taro@example.jp", "message": "秘密の相談です"}
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def post(ng, tag="m"):
    r = post_form(ng.url("/formpost/example"), dict(FIELDS, message=f"秘密の相談 {tag}"),
                  accept="application/json")
    assert r.status_code == 200, r.text
    return r.json()["id"]


def q(fp, *args):
    return formpost_cli(["queue", *args], config_path=fp.config_path)


def show(fp, mid):
    p = q(fp, "show", mid)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def section(out, where):
    """The part of `show` about SUB/ID (sections are blank-line separated)."""
    for part in out.split("\n\n"):
        if part.startswith(where):
            return part
    raise AssertionError(f"no {where} in:\n{out}")


def attempts(part):
    """The attempt lines of a `show` section: (profile, event, code, text)."""
    return [m.groups() for m in re.finditer(
        rf"^  {ISO}  (\S+) +(\S+) +(\d+)  (.*)$", part, re.M)]


def queued_with(fp, mid, n):
    """`show`'s queue/ID section once it lists n attempts, else None: an
    attempt is logged before the file is rewritten with it (src/sender.c:
    try_profile logs, conclude writes), so a reader may be early."""
    part = section(show(fp, mid), f"queue/{mid}")
    return part if len(attempts(part)) >= n else None


def fast(config, **extra):
    config["delivery"] = {"first_retry": "1s", "max_retry": "2s", "max_age": "1h"}
    config.update(extra)


def test_temporary_then_sent_archived_and_failed(formpost_factory, nginx_factory,
                                                 formpost_config, smtpd):
    """451 to the data twice, then 250; one recipient refused with 550 at
    the first attempt: sent/ and failed/ both show every attempt, oldest
    first, with what each did for each recipient."""
    fast(formpost_config, retention={"archive": 1})
    formpost_config["sites"]["example"]["to"] = ["info@example.com",
                                                 "nobody@example.com"]
    smtpd.set_faults({"data": {"do": "451 4.3.0 try again later", "times": 2},
                      "rcpt": {"nobody@example.com": "550 5.1.1 no such user"}})
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    mid = post(ng)
    spool = Path(formpost_config["spool"])
    wait_for(lambda: fp.events(event="attempt", id=mid, outcome="temporary"), 15,
             "the first attempt")
    time.sleep(0.3)
    # Queued, one attempt so far: the history says so.
    out = show(fp, mid)
    if f"queue/{mid}\n" in out:     # unless the next attempt was quicker
        part = section(out, f"queue/{mid}")
        assert attempts(part)[0][:3] == ("main", "temporary", "451")
    smtpd.wait(1, timeout=20)
    wait_for(lambda: (spool / "sent" / mid).exists() and
             not (spool / "queue" / mid).exists(), 15, "archived")
    assert (spool / "sent" / mid).read_bytes().startswith(b"formpost-spool 2\n")
    out = show(fp, mid)
    assert "event=attempt" not in out       # the file has the history
    assert SMTP_PASS not in out and "秘密" not in out
    sent = section(out, f"sent/{mid}")
    assert "history: 3 attempts, oldest first" in sent
    assert attempts(sent) == [
        ("main", "temporary", "451", "451 4.3.0 try again later"),
        ("main", "temporary", "451", "451 4.3.0 try again later"),
        ("main", "sent", "250", attempts(sent)[2][3]),
    ]
    lines = sent.rstrip("\n").split("\n")
    first = next(i for i, l in enumerate(lines) if re.match(rf"^  {ISO}", l))
    # First attempt: info@ waits (the data's 451), nobody@ refused.
    assert re.match(r"^ +temporary +451  info@example.com$", lines[first + 1])
    assert re.match(r"^ +permanent +550  nobody@example.com  550 5.1.1 no such user$",
                    lines[first + 2])
    # Later attempts concern info@ alone.
    assert re.match(r"^ +sent +250  info@example.com", lines[-1]), sent
    times = re.findall(rf"^  ({ISO})", sent, re.M)
    assert times == sorted(times)
    failed = section(out, f"failed/{mid}")
    assert "refused permanently" in failed
    assert [a[1] for a in attempts(failed)] == ["temporary", "temporary", "sent"]

    # --json: the same history, for scripts.
    p = q(fp, "show", mid, "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    j = json.loads(p.stdout)
    assert j["id"] == mid and j["corrupt"] is False and j["unreadable"] == []
    where = {f["where"]: f for f in j["found"]}
    assert set(where) == {"failed", "sent"}
    sent_j = where["sent"]
    assert sent_j["state"] == "archived (delivered)" and sent_j["site"] == "example"
    assert sent_j["history"]["total"] == 3
    kept = sent_j["history"]["kept"]
    assert [(a["profile"], a["event"], a["code"]) for a in kept] == [
        ("main", "temporary", 451), ("main", "temporary", 451), ("main", "sent", 250)]
    assert kept[0]["to"] == [
        {"addr": "info@example.com", "event": "temporary", "code": 451, "reply": None},
        {"addr": "nobody@example.com", "event": "permanent", "code": 550,
         "reply": "550 5.1.1 no such user"}]
    assert [a["at"] for a in kept] == sorted(a["at"] for a in kept)
    assert {r["addr"]: r["state"] for r in where["failed"]["rcpt"]} == {
        "nobody@example.com": "failed"}
    assert SMTP_PASS not in p.stdout and "秘密" not in p.stdout
    p = q(fp, "show", "K3M9-7QXA-2BTD", "--json")
    assert p.returncode == 1 and json.loads(p.stdout)["found"] == []


def test_wrong_password_then_reload_held_then_archived(formpost_factory, nginx_factory,
                                                       formpost_config, smtpd):
    """A held message shows its config attempts (535) while the password is
    wrong; after the fix and a reload the archived copy shows them and the
    delivery."""
    fast(formpost_config, retention={"archive": 1})
    smtpd.set_auth(SMTP_USER, "not-what-formpost-has")
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    mid = post(ng)
    wait_for(lambda: len(fp.events(event="attempt", id=mid, outcome="config")) >= 2,
             20, "two config attempts")
    held = wait_for(lambda: queued_with(fp, mid, 2), 15, "two attempts in the file")
    assert "held (config" in held
    got = attempts(held)
    assert len(got) >= 2 and all(a[:3] == ("main", "config", "535") for a in got)
    assert re.search(r"^ +config +535  info@example.com$", held, re.M)
    assert SMTP_PASS not in held

    smtpd.set_auth(SMTP_USER, SMTP_PASS)
    fp.reload()
    smtpd.wait(1, timeout=20)
    spool = Path(formpost_config["spool"])
    wait_for(lambda: (spool / "sent" / mid).exists(), 15, "archived")
    sent = section(show(fp, mid), f"sent/{mid}")
    got = attempts(sent)
    assert [a[1] for a in got[:-1]] == ["config"] * (len(got) - 1)
    assert got[-1][:3] == ("main", "sent", "250")


def test_failed_then_retried_by_the_operator(formpost_factory, nginx_factory,
                                             formpost_config, smtpd):
    """550 for the only recipient: failed/ shows it; `queue retry` is in
    the history of the queued message and of its archived copy."""
    fast(formpost_config, retention={"archive": 1})
    smtpd.set_faults({"rcpt": {"info@example.com": "550 5.1.1 no such user"}})
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    mid = post(ng)
    spool = Path(formpost_config["spool"])
    wait_for(lambda: (spool / "failed" / mid).exists() and
             not (spool / "queue" / mid).exists(), 15, "failed/")
    failed = section(show(fp, mid), f"failed/{mid}")
    assert attempts(failed) == [("main", "permanent", "550",
                                 attempts(failed)[0][3])]
    assert re.search(r"^ +permanent +550  info@example.com", failed, re.M)

    fp.stop()                       # so the retried file can be looked at
    smtpd.set_faults({})
    p = q(fp, "retry", mid)
    assert p.returncode == 0, p.stdout + p.stderr
    queued = section(show(fp, mid), f"queue/{mid}")
    assert [a[:2] for a in attempts(queued)] == [("main", "permanent"),
                                                 ("-", "retried")]
    assert re.search(r"^ +retried +0  info@example.com$", queued, re.M)
    fp.start()
    smtpd.wait(1, timeout=20)
    wait_for(lambda: (spool / "sent" / mid).exists(), 15, "archived")
    sent = section(show(fp, mid), f"sent/{mid}")
    assert [a[1] for a in attempts(sent)] == ["permanent", "retried", "sent"]


def planted(mid, version, created):
    data = b"Subject: x\r\n\r\nbody\r\n"
    head = (f"formpost-spool {version}\nid {mid}\nsite example\ncreated {created}\n"
            f"sender noreply@example.com\nattempts 3\nnext-try 0\n"
            f"reply temporary: main rcpt 451 later\n"
            f"rcpt pending 0 info@example.com \n"
            + ("a-line-this-build-does-not-know 1\n" if version > 2 else ""))
    raw = head.encode() + f"size {len(data)}\n\n".encode() + data
    return raw + f"end {hashlib.sha256(raw).hexdigest()}\n".encode()


def test_newer_version_left_in_place_with_one_warning(formpost_factory,
                                                      formpost_config, smtpd):
    """A file a newer formpost wrote (a downgrade, or a rolling upgrade
    sharing the spool) is not corrupt: it stays in queue/, undelivered,
    with one warning; the queue commands say what it is.  A version 1
    file next to it is delivered, and `show` says its history is in the
    log."""
    fast(formpost_config, retention={"archive": 1})
    spool = Path(formpost_config["spool"])
    for sub in ("queue", "failed", "corrupt", "tmp"):
        (spool / sub).mkdir(parents=True, exist_ok=True)
    newer, old = "K3M9-7QXA-2BTD", "K3M9-7QXA-2BTE"
    now = int(time.time())
    (spool / "queue" / newer).write_bytes(planted(newer, 3, now))
    (spool / "queue" / old).write_bytes(planted(old, 1, now))
    fp = formpost_factory(formpost_config)
    wait_for(lambda: fp.events(event="spool_newer"), 10, "the warning")
    smtpd.wait(1, timeout=15)
    wait_for(lambda: (spool / "sent" / old).exists(), 10, "the old one archived")
    time.sleep(2 * 5 + 1)           # two rescans (LIM_SPOOL_RESCAN)
    [ev] = fp.events(event="spool_newer")
    assert ev["id"] == newer and ev["level"] == "warn"
    assert "version 3" in ev["error"]
    assert (spool / "queue" / newer).read_bytes() == planted(newer, 3, now)
    assert not (spool / "corrupt" / newer).exists()
    assert not fp.events(event="corrupt")
    assert len(smtpd.messages()) == 1

    p = q(fp, "list")
    assert f"newer: {newer} (written by a newer formpost" in p.stdout, p.stdout
    p = q(fp, "check")
    assert p.returncode == 1 and "newer formpost" in p.stdout, p.stdout
    out = show(fp, newer)
    assert f"queue/{newer}: written by a newer formpost" in out
    assert "version 3" in out
    assert q(fp, "retry", newer).returncode == 1
    assert q(fp, "drop", newer).returncode == 1
    assert (spool / "queue" / newer).exists()
    # Beside it, a failed/ copy that does not verify and one in corrupt/:
    # show names each, in text and in --json.
    (spool / "failed" / newer).write_bytes(b"formpost-spool 1\nid " + newer.encode() + b"\n")
    (spool / "corrupt" / newer).write_bytes(b"torn")
    out = show(fp, newer)
    assert f"failed/{newer}: unreadable: " in out and f"corrupt/{newer}: did not verify" in out
    p = q(fp, "show", newer, "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    j = json.loads(p.stdout)
    assert (j["found"], j["unreadable"], j["newer"], j["corrupt"]) == (
        [], ["failed"], ["queue"], True)
    (spool / "failed" / newer).unlink()
    (spool / "corrupt" / newer).unlink()

    # The version 1 file: delivered; its archived copy has the attempt
    # made here, and says the earlier ones are only in the log.
    out = section(show(fp, old), f"sent/{old}")
    assert attempts(out) == [("main", "sent", "250", attempts(out)[0][3])]
    assert "history: 4 attempts, oldest first" in out
    assert f"  3 earlier attempts not kept (in the log: event=attempt id={old})" in out


def test_expired_after_max_age(formpost_factory, formpost_config):
    """A message past max_age (spooled by an earlier build, the relay
    down): failed/ has one "expired" entry naming each recipient."""
    formpost_config["smtp"]["main"]["url"] = "smtp://localhost:1"
    formpost_config["delivery"] = {"first_retry": "1h", "max_retry": "2h",
                                   "max_age": "1d"}
    spool = Path(formpost_config["spool"])
    (spool / "queue").mkdir(parents=True, exist_ok=True)
    mid = "K3M9-7QXA-2BTG"
    (spool / "queue" / mid).write_bytes(planted(mid, 1, int(time.time()) - 2 * 86400))
    fp = formpost_factory(formpost_config)
    wait_for(lambda: (spool / "failed" / mid).exists() and
             not (spool / "queue" / mid).exists(), 15, "expired to failed/")
    out = section(show(fp, mid), f"failed/{mid}")
    assert "failed (expired after max_age)" in out
    [(profile, event, code, text)] = attempts(out)
    assert (profile, event, code) == ("-", "expired", "0")
    assert text == "expired after max_age; last: temporary: main rcpt 451 later"
    assert re.search(r"^ +expired +0  info@example.com$", out, re.M)


def test_show_version_1_file(formpost_factory, formpost_config):
    """failed/ as an earlier build wrote it: what version 1 has, and where
    the rest is."""
    fast(formpost_config)
    spool = Path(formpost_config["spool"])
    (spool / "failed").mkdir(parents=True, exist_ok=True)
    mid = "K3M9-7QXA-2BTF"
    raw = planted(mid, 1, int(time.time())).replace(b"rcpt pending 0", b"rcpt failed 550")
    raw = raw[:raw.rindex(b"end ")]
    (spool / "failed" / mid).write_bytes(raw + f"end {hashlib.sha256(raw).hexdigest()}\n".encode())
    fp = formpost_factory(formpost_config)
    out = show(fp, mid)
    assert f"failed/{mid}" in out and re.search(r"attempts +3", out)
    assert f"history: not in this file" in out
    assert f"event=attempt id={mid}" in out
