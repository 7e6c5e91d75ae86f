"""formpost test-mail SITE against a real SMTP server: up, down, wrong
password, refused recipient, untrusted certificate; exit status per
outcome, the dialogue printed, the password never."""
import base64

from harness import SMTP_PASS, SMTP_USER, formpost_cli, write_config


def run(tmp_path, config, site="example"):
    path = tmp_path / "tm.yaml"
    write_config(path, config)
    return formpost_cli(["test-mail", site], config_path=path)


def secret_free(p):
    out = p.stdout + p.stderr
    assert SMTP_PASS not in out
    b64 = base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASS}".encode()).decode()
    assert b64 not in out
    assert base64.b64encode(SMTP_PASS.encode()).decode() not in out
    return out


def test_sent(tmp_path, formpost_config, smtpd):
    formpost_config["sites"]["example"]["cc"] = ["cc@example.com"]
    formpost_config["sites"]["example"]["bcc"] = ["bcc@example.com"]
    p = run(tmp_path, formpost_config)
    out = secret_free(p)
    assert p.returncode == 0, out
    assert "C EHLO" in out and "C STARTTLS" in out
    assert "C AUTH [AUTH data hidden]" in out
    assert "outcome: sent" in out
    assert smtpd.wait(1)
    env, msg = smtpd.messages()[0]
    assert sorted(env["rcpt_tos"]) == ["bcc@example.com", "cc@example.com", "info@example.com"]
    assert "Bcc" not in msg and "bcc@example.com" not in str(msg)
    assert msg["Subject"].startswith("[テスト] formpost test mail")
    assert msg["From"] == "Example Web <noreply@example.com>"


def test_server_down_is_temporary(tmp_path, formpost_config, smtpd):
    smtpd.stop()
    p = run(tmp_path, formpost_config)
    assert p.returncode == 1, p.stdout
    assert "outcome: temporary at connect" in p.stdout


def test_wrong_password_is_config(tmp_path, formpost_config, smtpd):
    smtpd.set_auth(SMTP_USER, "another-password")
    p = run(tmp_path, formpost_config)
    out = secret_free(p)
    assert p.returncode == 2, out
    assert "outcome: config at auth: 535" in out
    assert smtpd.count() == 0


def test_refused_recipient_is_permanent(tmp_path, formpost_config, smtpd):
    smtpd.set_faults({"rcpt": {"info@example.com": "550 5.1.1 no such user"}})
    p = run(tmp_path, formpost_config)
    assert p.returncode == 3, p.stdout
    assert "recipient info@example.com: permanent (550 5.1.1 no such user)" in p.stdout


def test_untrusted_certificate_is_config(tmp_path, formpost_config, smtpd_factory):
    bad = smtpd_factory(cert="untrusted")
    formpost_config["smtp"]["main"]["url"] = bad.url
    p = run(tmp_path, formpost_config)
    out = secret_free(p)
    assert p.returncode == 2, out
    assert "outcome: config" in out
    assert bad.count() == 0


def test_backup_profile_after_main_fails(tmp_path, formpost_config, smtpd, smtpd_factory):
    backup = smtpd_factory()
    main = formpost_config["smtp"]["main"]
    formpost_config["smtp"]["backup"] = dict(main, url=backup.url)
    formpost_config["sites"]["example"]["smtp"] = ["main", "backup"]
    smtpd.stop()
    p = run(tmp_path, formpost_config)
    assert p.returncode == 0, p.stdout
    assert "profile main" in p.stdout and "profile backup" in p.stdout
    assert backup.wait(1)


def test_unknown_site(tmp_path, formpost_config, smtpd):
    p = run(tmp_path, formpost_config, site="nope")
    assert p.returncode == 2
    assert "no site named nope" in p.stdout
