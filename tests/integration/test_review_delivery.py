"""Delivery edge cases found in a review of the storage and delivery path
(spool, sender, smtp, queue): each test pins one fix.  Timings as in
test_delivery.py (first_retry 1s, max_retry 2s)."""
import time
from pathlib import Path

from harness import base_config, wait_for
from test_delivery import commands, post, read_spool_file, spool, stack


def test_failed_record_that_could_not_be_written_is_written_at_the_next_try(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    # The only recipient is refused for good, but failed/ cannot take the
    # record: the queue file keeps the failed state.  The next try must
    # write the record and finish, not wait for max_age (1 h here) with
    # nothing left to send.
    smtpd.set_faults({"rcpt": "550 5.1.1 no such user"})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    root = Path(formpost_config["spool"])
    (root / "failed").rename(root / "failed.away")
    (root / "failed").write_text("")          # rename into failed/ fails
    [mid] = post(ng)
    fp.wait_log(r"event=spool_error .*id=" + mid)
    wait_for(lambda: "\nrcpt failed 550 info@example.com " in
             read_spool_file(root / "queue" / mid)[0], 10, "the failed state in queue/")
    (root / "failed").unlink()
    (root / "failed.away").rename(root / "failed")
    wait_for(lambda: not spool(formpost_config, "queue"), 10,
             "queue/ empty once failed/ is writable again")
    assert spool(formpost_config, "failed") == [mid]
    head, _ = read_spool_file(root / "failed" / mid)
    assert "\nrcpt failed 550 info@example.com 550 5.1.1 no such user\n" in head
    assert smtpd.count() == 0
    assert len(fp.events(event="attempt", id=mid)) == 1


def test_drop_after_the_final_dot_is_logged_as_maybe_sent(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    # The server stores the message and hangs up before its 250: the
    # retry may duplicate it (better than a loss), and the log must say
    # so (maybe_sent=1; doc/design.md "The four outcomes").
    smtpd.set_faults({"data": {"do": "accept_drop", "times": 1}})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    [mid] = post(ng)
    smtpd.wait(2)
    wait_for(lambda: not spool(formpost_config, "queue"), 10, "an empty queue/")
    first, second = fp.events(event="attempt", id=mid)
    assert first["outcome"] == "temporary" and first["phase"] == "dot"
    assert first.get("maybe_sent") == "1"
    assert first["code"] == "0"           # no reply, not the 354
    assert second["outcome"] == "sent" and "maybe_sent" not in second


def test_username_but_no_auth_offered_holds_and_backs_off_the_profile(
        tmp_path, formpost_factory, nginx_factory, smtpd_factory, pki):
    # A server that accepts mail without AUTH while the profile has a
    # username: never sent unauthenticated, held as config, and -
    # like a wrong password - it costs one attempt per back-off step over
    # a backlog, not one per message (each one hands MAIL FROM and RCPT TO
    # to a server we did not authenticate to).
    server = smtpd_factory(tls="starttls", auth=None)
    config = base_config(tmp_path, server.port, pki.ca)
    fp, ng = stack(formpost_factory, nginx_factory, config)
    t0 = time.monotonic()
    ids = [post(ng, tag=f"n{i}")[0] for i in range(8)]
    time.sleep(2)
    # At least one attempt, however slow the machine (the bound below
    # grows with the time waited).
    wait_for(lambda: fp.events(event="attempt"), 15, "an attempt")
    broken = time.monotonic() - t0
    assert server.count() == 0
    assert sorted(spool(config, "queue")) == sorted(ids)
    attempts = fp.events(event="attempt")
    assert attempts and all(a["outcome"] == "config" for a in attempts)
    assert "no AUTH" in attempts[0]["reply"]
    assert len(fp.events(event="profile_state", state="config")) == 1
    mails = [c for c in commands(server) if c.startswith("MAIL")]
    assert len(mails) <= broken + 3, mails
    assert len(attempts) < len(ids)
