"""The fill-time token through real nginx: GET <prefix>/<site>/token, then
a post with _token.  Missing, too-fast, forged and replayed tokens get
the usual success answer, no mail, and a reason in the log."""
import os
import stat
import time

import requests

from harness import SITE_ORIGIN, post_form

FIELDS = {"name": "山田 太郎", "email": "taro@example.jp", "message": "トークン付きの問い合わせ"}


def token_stack(formpost_factory, nginx_factory, config):
    config["sites"]["example"]["token"] = {"required": True, "min_age": "1s", "max_age": "1h"}
    fp = formpost_factory(config)
    return fp, nginx_factory(fp.target)


def get_token(ng):
    r = requests.get(ng.url("/formpost/example/token"), headers={"Origin": SITE_ORIGIN},
                     timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert "no-store" in r.headers["Cache-Control"]
    assert r.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    tok = r.json()["token"]
    assert len(tok) == 76
    return tok


def test_token_route_is_get_only(formpost_factory, nginx_factory, formpost_config, smtpd):
    fp, ng = token_stack(formpost_factory, nginx_factory, formpost_config)
    r = post_form(ng.url("/formpost/example/token"), FIELDS)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET"
    assert smtpd.messages() == []


def test_token_accepted_once(formpost_factory, nginx_factory, formpost_config, smtpd):
    fp, ng = token_stack(formpost_factory, nginx_factory, formpost_config)
    key = os.path.join(formpost_config["spool"], "token.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and os.path.getsize(key) == 32
    tok = get_token(ng)
    time.sleep(1.2)                       # min_age: 1s
    r = post_form(ng.url("/formpost/example"), dict(FIELDS, _token=tok))
    assert r.status_code == 200, r.text
    assert smtpd.wait(1)
    # the same token again, other content (not a double submit): no mail
    r = post_form(ng.url("/formpost/example"), dict(FIELDS, message="二通目", _token=tok))
    assert r.status_code == 200
    fp.wait_log(r"reason=token_replayed")
    # no token at all, and a forged one: no mail
    r = post_form(ng.url("/formpost/example"), dict(FIELDS, message="三通目"))
    assert r.status_code == 200
    fp.wait_log(r"reason=token_missing")
    r = post_form(ng.url("/formpost/example"), dict(FIELDS, message="四通目", _token="A" * 76))
    assert r.status_code == 200
    fp.wait_log(r"reason=token_(invalid|expired|too_fast)")
    assert len(smtpd.messages()) == 1
    assert len(fp.events(event="accepted")) == 1
    assert len(fp.events(event="token_issued", status="200")) == 1


def test_token_too_fast_and_restart(formpost_factory, nginx_factory, formpost_config, smtpd):
    fp, ng = token_stack(formpost_factory, nginx_factory, formpost_config)
    tok = get_token(ng)
    r = post_form(ng.url("/formpost/example"), dict(FIELDS, _token=tok))
    assert r.status_code == 200
    fp.wait_log(r"reason=token_too_fast")
    # the key survives a restart: the token issued before it still works
    fp.stop()
    fp2 = formpost_factory(formpost_config)
    ng2 = nginx_factory(fp2.target)
    time.sleep(1.2)
    r = post_form(ng2.url("/formpost/example"), dict(FIELDS, _token=tok))
    assert r.status_code == 200
    assert smtpd.wait(1)
    assert len(smtpd.messages()) == 1


def test_no_token_route_without_required(formpost_factory, nginx_factory, formpost_config, smtpd):
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    r = requests.get(ng.url("/formpost/example/token"), timeout=10)
    assert r.status_code == 404
