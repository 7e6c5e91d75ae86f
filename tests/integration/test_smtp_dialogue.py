"""The SMTP dialogue as formpost follows it, against the real aiosmtpd server:
AUTH data is never printed and never mistaken for a command, whatever its
base64 looks like; a TLS handshake cut short is temporary; the reply to the
final dot is waited for far longer than one command's timeout; SIGTERM ends
even that wait at once, the message kept."""
import base64
import itertools
import random
import string
import time
from pathlib import Path

from harness import SMTP_USER, formpost_cli, post_form, write_config

FIELDS = {"name": "山田 太郎", "email": "taro@example.jp", "message": "お問い合わせです。"}
COMMANDS = ("QUIT", "EHLO", "HELO", "MAIL", "RCPT", "DATA", "AUTH", "RSET",
            "STARTTLS")
PRINTABLE = set(string.ascii_letters + string.digits + string.punctuation)


def run_test_mail(tmp_path, config, site="example"):
    path = tmp_path / "tm.yaml"
    write_config(path, config)
    return formpost_cli(["test-mail", site], config_path=path)


def b64(data):
    return base64.b64encode(data).decode()


def secret_forms(user, password):
    """Every way the password could show: in clear, base64 alone (LOGIN),
    inside PLAIN's "\\0user\\0password", and the base64 core of the
    password at each of the three byte alignments it can have inside any
    longer base64 text."""
    pw = password.encode()
    forms = {password, b64(pw), b64(b"\0" + user.encode() + b"\0" + pw)}
    for pad in range(3):
        enc = b64(b"\0" * pad + pw)
        # Characters fully determined by the password's own bytes.
        start = (pad * 8 + 5) // 6
        end = ((pad + len(pw)) * 8) // 6
        if end - start >= 6:
            forms.add(enc[start:end])
    return forms


def command_like_passwords(rng, per_word=8):
    """Passwords whose base64 starts with a command word in some letter
    case ("AB-..." is "QUIt...", "xyN..." is "eHlO...").  A word's first
    three bytes are fixed by its letters, so few cases decode to printable
    text (none for MAIL, HELO, DATA): each such head gets several tails."""
    out = []
    for word in COMMANDS:
        heads = []
        for c in itertools.product(*[(ch.upper(), ch.lower()) for ch in word]):
            w = "".join(c)
            head = base64.b64decode(w + "A" * (-len(w) % 4))[:len(w) * 6 // 8]
            if all(chr(b) in PRINTABLE for b in head):
                heads.append(head.decode())
        for i in range(per_word if heads else 0):
            tail = "".join(rng.choice(sorted(PRINTABLE))
                           for _ in range(rng.randint(4, 20)))
            pw = heads[i % len(heads)] + tail
            assert b64(pw.encode()).lower().startswith(word.lower())
            out.append(pw)
    return out


def test_login_only_random_passwords_never_shown_and_each_recipient_gets_its_reply(
        tmp_path, formpost_config, smtpd_factory):
    """Property: over many random passwords (a good share of them with a
    base64 starting with an SMTP command word), against a server offering
    only AUTH LOGIN, test-mail never prints the password in any form, and
    each recipient's outcome is the server's reply to it: the refused one
    permanent (550), the others sent, the message stored once per run."""
    rng = random.Random(20261202)
    server = smtpd_factory(extra_args=["--auth-mechanisms", "LOGIN"])
    server.set_faults({"rcpt": {"refused@example.com": "550 5.1.1 no such user"}})
    config = formpost_config
    config["smtp"]["main"]["url"] = server.url
    config["sites"]["example"]["to"] = ["info@example.com", "refused@example.com"]
    config["sites"]["example"]["cc"] = ["cc@example.com"]
    pwfile = Path(config["smtp"]["main"]["password_file"])
    passwords = command_like_passwords(rng)
    assert len(passwords) >= 30
    while len(passwords) < 200:
        passwords.append("".join(rng.choice(sorted(PRINTABLE))
                                 for _ in range(rng.randint(8, 32))))
    for n, pw in enumerate(passwords, 1):
        server.set_auth(SMTP_USER, pw)
        pwfile.write_text(pw + "\n")
        p = run_test_mail(tmp_path, config)
        out = p.stdout + p.stderr
        for form in secret_forms(SMTP_USER, pw):
            assert form not in out, f"password #{n} shown as {form!r}:\n{out}"
        assert "C AUTH [AUTH data hidden]" in out, out
        assert "recipient info@example.com: sent" in out, out
        assert "recipient cc@example.com: sent" in out, out
        assert ("recipient refused@example.com: permanent "
                "(550 5.1.1 no such user)") in out, out
        assert p.returncode == 3, out
        assert server.count() == n, out
    env = [e for e, _ in server.raw_messages()]
    assert all(sorted(e["rcpt_tos"]) == ["cc@example.com", "info@example.com"]
               for e in env)
    assert {e["user"] for e in env} == {SMTP_USER}
    # The server really offered LOGIN only: every login went through it.
    auths = [c for s in server.sessions() for c in s["commands"] if c.startswith("AUTH")]
    assert auths and all(c.startswith("AUTH LOGIN") for c in auths), auths


def test_reset_during_tls_handshake_is_temporary(tmp_path, formpost_config, smtpd):
    smtpd.set_faults({"starttls": "reset_handshake"})
    p = run_test_mail(tmp_path, formpost_config)
    assert "outcome: temporary at tls" in p.stdout, p.stdout
    assert p.returncode == 1, p.stdout
    assert smtpd.count() == 0


def test_ehlo_never_answered_is_temporary_after_timeout(tmp_path, formpost_config, smtpd):
    formpost_config["smtp"]["main"]["timeout"] = "1s"
    smtpd.set_faults({"ehlo": "stall:3600"})
    t0 = time.monotonic()
    p = run_test_mail(tmp_path, formpost_config)
    took = time.monotonic() - t0
    assert p.returncode == 1, p.stdout
    assert "outcome: temporary at ehlo: no reply from the server within 1 s" in p.stdout, p.stdout
    assert took < 30, took      # the profile timeout, not libcurl's 10 minutes


def stack(formpost_factory, nginx_factory, config):
    config["delivery"] = {"first_retry": "1s", "max_retry": "2s", "max_age": "1h"}
    config["smtp"]["main"]["timeout"] = "1s"
    fp = formpost_factory(config)
    return fp, nginx_factory(fp.target)


def post(ng):
    r = post_form(ng.url("/formpost/example"), FIELDS, accept="application/json")
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_dot_reply_slower_than_timeout_is_delivered_once(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    """A relay that scans the message for longer than the profile timeout
    (1 s here) before its 250: one attempt, sent, one copy."""
    smtpd.set_faults({"data": "stall:3"})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    mid = post(ng)
    fp.wait_log(rf"event=attempt .*id={mid}", timeout=30)
    time.sleep(4)          # room for a (wrong) retry to show up
    assert [e["outcome"] for e in fp.events(event="attempt", id=mid)] == ["sent"]
    assert smtpd.count() == 1
    assert not list((Path(formpost_config["spool"]) / "queue").iterdir())


def test_sigterm_during_a_long_dot_wait_exits_soon_and_keeps_the_message(
        formpost_factory, nginx_factory, formpost_config, smtpd):
    smtpd.set_faults({"data": "stall:120"})
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    mid = post(ng)
    time.sleep(5)          # well past the 1 s timeout: still waiting
    assert fp.events(event="attempt", id=mid) == [], fp.log_lines()
    t0 = time.monotonic()
    fp.stop(timeout=30)
    took = time.monotonic() - t0
    [att] = fp.events(event="attempt", id=mid)
    assert att["outcome"] == "temporary" and att["phase"] == "dot", att
    assert att["maybe_sent"] == "1", att
    assert took < 15, took     # stop grace (3 s) + one progress tick
    assert [p.name for p in (Path(formpost_config["spool"]) / "queue").iterdir()] == [mid]
    assert smtpd.count() == 0
