"""The walking skeleton end to end: a Japanese form posted through real
nginx reaches formpost, which composes the mail and delivers it by SMTP
(STARTTLS + AUTH, certificate verified against the test CA) to a real
aiosmtpd server; the browser gets a 303 or the thanks page."""
import re

from harness import ID_RE, SITE_ORIGIN, SMTP_PASS, SMTP_USER, body_text, post_form

JA_FIELDS = {
    "name": "山田 太郎",
    "email": "taro@example.jp",
    "message": "見積もりをお願いします。\r\n二行目です。\r\n.\r\n最後の行",
}


def stack(formpost_factory, nginx_factory, config):
    fp = formpost_factory(config)
    ng = nginx_factory(fp.target)
    return fp, ng


def test_japanese_post_becomes_mail(formpost_factory, nginx_factory, formpost_config, smtpd):
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    r = post_form(ng.url("/formpost/example"), JA_FIELDS)
    assert r.status_code == 200, r.text
    assert "no-store" in r.headers["Cache-Control"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    m = re.search(r'class="ref">(' + ID_RE + ")<", r.text)
    assert m, r.text
    ref = m.group(1)
    assert smtpd.wait(1)
    env, msg = smtpd.messages()[0]
    assert env["mail_from"] == "noreply@example.com"
    assert env["rcpt_tos"] == ["info@example.com"]
    assert env["user"] == SMTP_USER and env["tls"]
    assert msg["From"] == "Example Web <noreply@example.com>"
    assert msg["Reply-To"] == "山田 太郎 <taro@example.jp>"
    assert msg["To"] == "info@example.com"
    assert msg["Subject"] == "[お問い合わせ] 山田 太郎"
    assert msg["Message-ID"] == f"<{ref}@example.com>"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    body = body_text(msg)
    assert "お名前: 山田 太郎" in body
    assert "メールアドレス: taro@example.jp" in body
    assert "  見積もりをお願いします。\n  二行目です。\n  .\n  最後の行" in body
    assert ref in body
    ev = fp.events(event="accepted")
    assert ev and ev[0]["id"] == ref and ev[0]["site"] == "example" and ev[0]["status"] == "200"
    assert not any(SMTP_PASS in line for line in fp.log_lines())
    assert not any("山田" in line for line in fp.log_lines())


def test_redirect_and_json(formpost_factory, nginx_factory, formpost_config, smtpd):
    formpost_config["sites"]["example"]["redirect"] = "https://www.example.com/thanks.html"
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    r = post_form(ng.url("/formpost/example"), JA_FIELDS)
    assert r.status_code == 303
    assert r.headers["Location"] == "https://www.example.com/thanks.html"
    assert "https://www.example.com" in r.headers["Content-Security-Policy"]
    # other content: the same content again would be a double submit
    r = post_form(ng.url("/formpost/example"), dict(JA_FIELDS, message="別件"),
                  accept="application/json")
    assert r.status_code == 200
    j = r.json()
    assert j["ok"] is True and re.fullmatch(ID_RE, j["id"])
    assert smtpd.wait(2)
    ids = {msg["Message-ID"] for _, msg in smtpd.messages()}
    assert f"<{j['id']}@example.com>" in ids


def test_invalid_form_is_rerendered(formpost_factory, nginx_factory, formpost_config, smtpd):
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    r = post_form(ng.url("/formpost/example"),
                  {"name": '<script>alert("x")</script>', "email": "taro@", "message": ""})
    assert r.status_code == 422
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in r.text
    assert "メールアドレスの形式が正しくありません" in r.text
    assert "お問い合わせ内容を入力してください。" in r.text
    assert 'value="taro@"' in r.text
    assert 'action="/formpost/example"' in r.text
    r = post_form(ng.url("/formpost/example"), {"name": "x", "email": "bad"},
                  accept="application/json")
    assert r.status_code == 422
    codes = {e["field"]: e["code"] for e in r.json()["errors"]}
    assert codes == {"email": "invalid_email", "message": "required"}
    assert smtpd.count() == 0


def test_english_site_and_smtps(formpost_factory, nginx_factory, formpost_config, smtpd_factory):
    implicit = smtpd_factory(tls="implicit")
    formpost_config["smtp"]["main"]["url"] = implicit.url
    formpost_config["sites"]["example"]["lang"] = "en"
    formpost_config["sites"]["example"]["subject"] = "Contact: {{name}}"
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    r = post_form(ng.url("/formpost/example"),
                  {"name": "Ann O'Neil", "email": "ann@example.com", "message": "Hello"})
    assert r.status_code == 200
    assert "Your reference" in r.text
    assert implicit.wait(1)
    env, msg = implicit.messages()[0]
    assert env["tls_mode"] == "implicit"
    assert msg["Subject"] == "Contact: Ann O'Neil"
    assert "Ann O'Neil" in str(msg["Reply-To"])


def test_store_failure_is_503_never_success(formpost_factory, nginx_factory, formpost_config, smtpd):
    import shutil
    from pathlib import Path
    fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    tmp = Path(formpost_config["spool"]) / "tmp"
    shutil.rmtree(tmp)
    tmp.write_text("not a directory")       # root ignores modes: break the path
    r = post_form(ng.url("/formpost/example"), JA_FIELDS)
    assert r.status_code == 503
    assert "保存されていません" in r.text
    assert fp.events(event="store_failed")
    assert not list((Path(formpost_config["spool"]) / "queue").iterdir())
    assert smtpd.count() == 0


def test_sigterm_exits_zero_quickly(formpost_factory, formpost_config):
    import time
    fp = formpost_factory(formpost_config)
    t0 = time.monotonic()
    fp.stop()          # asserts exit status 0
    assert time.monotonic() - t0 < 2
    assert fp.events(event="stopped")
