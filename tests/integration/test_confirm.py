"""The review step (doc/design.md "The review step"): a `confirm: true`
site answers a valid first post with a review page (or JSON) and mails
only when 送信する posts back a `_confirm` that verifies for exactly those
values.  Through nginx, with a real SMTP server."""
import base64
import html.parser
import json
import os
import re
import threading
import time

import pytest
import requests

from harness import ID_RE, SITE_ORIGIN, body_text, post_form, wait_for

FIELDS = {"name": "山田 <b>太郎</b>", "email": "taro@example.jp",
          "message": "一行目\n二行目 & <script>x</script>\n三行目",
          "topic": "採用", "opts": ["資料", "訪問"], "agree": "1"}


class Inputs(html.parser.HTMLParser):
    """Every <input> of a page (name, value, type) and the buttons."""

    def __init__(self, text):
        super().__init__()
        self.inputs, self.buttons, self.textareas = [], [], {}
        self._ta = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input":
            self.inputs.append((a.get("name"), a.get("value", ""), a.get("type")))
        elif tag == "button":
            self.buttons.append(a)
        elif tag == "textarea":
            self._ta = a.get("name")
            self.textareas[self._ta] = ""

    def handle_data(self, data):
        if self._ta:
            self.textareas[self._ta] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._ta = None

    def hidden(self):
        return [(n, v) for n, v, t in self.inputs if t == "hidden"]


def confirm_site(config, groups=True, **extra):
    site = json.loads(json.dumps(config["sites"]["example"]))
    site["fields"]["topic"] = {"label": "種別", "type": "select",
                               "options": ["見積", "採用", "その他"]}
    if groups:
        site["fields"]["opts"] = {"label": "ご希望", "type": "checkbox",
                                  "options": ["資料", "訪問", "電話"]}
    site["fields"]["agree"] = {"label": "同意する", "type": "checkbox",
                               "required": True}
    site["confirm"] = True
    site.update(extra)
    config["sites"]["review"] = site
    return config


@pytest.fixture
def stack(formpost_factory, nginx_factory, formpost_config):
    def make(groups=True, **extra):
        confirm_site(formpost_config, groups, **extra)
        fp = formpost_factory(formpost_config)
        return fp, nginx_factory(fp.target)
    return make


def url(ng, site="review"):
    return ng.url(f"/formpost/{site}")


def pairs(fields):
    out = []
    for k, v in fields.items():
        for x in (v if isinstance(v, list) else [v]):
            out.append((k, x))
    return out


def first(ng, fields=FIELDS, **kw):
    r = post_form(url(ng), pairs(fields), **kw)
    assert r.status_code == 200, r.text
    return r


def test_review_then_send(stack, smtpd):
    fp, ng = stack()
    r = first(ng)
    assert "no-store" in r.headers["Cache-Control"]
    page = Inputs(r.text)
    hidden = page.hidden()
    # Every value escaped on the page and kept exactly in hidden inputs.
    assert "山田 &lt;b&gt;太郎&lt;/b&gt;" in r.text and "<b>太郎" not in r.text
    assert "&lt;script&gt;" in r.text and "<script>" not in r.text
    # Multi-line kept (normalised to CRLF, as the mail carries it).
    assert ("message", FIELDS["message"].replace("\n", "\r\n")) in hidden
    assert ("opts", "資料") in hidden and ("opts", "訪問") in hidden
    assert ("topic", "採用") in hidden and ("agree", "1") in hidden
    conf = dict(hidden)["_confirm"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{120}", conf)
    names = [b.get("name") for b in page.buttons]
    assert names == [None, "_back"]            # Enter sends; 修正する is _back
    assert "送信する" in r.text and "修正する" in r.text
    ev = fp.events(event="review", site="review")
    assert ev and "id" not in ev[-1]
    time.sleep(0.5)
    assert smtpd.count() == 0 and os.listdir(fp.config["spool"] + "/queue") == []

    r = post_form(url(ng), hidden)
    assert r.status_code == 200 and "受付番号" in r.text
    mid = re.search(r'class="ref">(' + ID_RE + ")<", r.text).group(1)
    smtpd.wait(1)
    msg = smtpd.messages()[0][1]
    text = body_text(msg)
    assert "二行目 & <script>x</script>" in text and "資料, 訪問" in text
    assert msg["Message-ID"] == f"<{mid}@example.com>"
    assert fp.events(event="accepted", id=mid)


def test_double_click_on_send_is_one_message(stack, smtpd):
    fp, ng = stack()
    hidden = Inputs(first(ng).text).hidden()
    got = []

    def send():
        got.append(post_form(url(ng), hidden, accept="application/json"))
    threads = [threading.Thread(target=send) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in got] == [200] * 3
    assert len({r.json()["id"] for r in got}) == 1
    smtpd.wait(1)
    time.sleep(1)
    assert smtpd.count() == 1


def test_changed_value_is_a_new_review_never_a_send(stack, smtpd):
    fp, ng = stack()
    hidden = Inputs(first(ng).text).hidden()
    changed = [(n, "書き換えた本文" if n == "message" else v) for n, v in hidden]
    r = post_form(url(ng), changed)
    assert r.status_code == 200 and "書き換えた本文" in r.text
    again = Inputs(r.text).hidden()
    assert dict(again)["_confirm"] != dict(hidden)["_confirm"]
    assert fp.events(event="review", reason="confirm_changed")
    time.sleep(0.5)
    assert smtpd.count() == 0
    r = post_form(url(ng), again)                  # the new page sends
    assert r.status_code == 200 and "受付番号" in r.text
    smtpd.wait(1)
    assert "書き換えた本文" in body_text(smtpd.messages()[0][1])


def forged(hidden, conf):
    return [(n, conf if n == "_confirm" else v) for n, v in hidden]


def test_forged_and_malformed_confirm_send_nothing(stack, smtpd):
    fp, ng = stack()
    hidden = Inputs(first(ng).text).hidden()
    raw = bytearray(base64.urlsafe_b64decode(dict(hidden)["_confirm"]))
    raw[40] ^= 1                                   # one bit of the site MAC
    flipped = base64.urlsafe_b64encode(bytes(raw)).decode()
    bad = [flipped, "A" * 120, "not base64 at all!", "", "A" * 5000,
           dict(hidden)["_confirm"] + "A", "\u3042" * 40]
    for conf in bad:
        r = post_form(url(ng), forged(hidden, conf))
        assert r.status_code == 200, (conf[:20], r.status_code)
        assert re.search(r'class="ref">' + ID_RE + "<", r.text)   # looks sent
    r = post_form(url(ng), forged(hidden, flipped), accept="application/json")
    assert r.status_code == 200 and r.json()["ok"] is True
    assert re.fullmatch(ID_RE, r.json()["id"])
    ev = fp.events(event="discarded", site="review")
    assert len(ev) == len(bad) + 1
    assert {e["reason"] for e in ev} == {"confirm_invalid"}
    time.sleep(0.5)
    assert smtpd.count() == 0


def test_confirm_of_another_site_is_refused(formpost_factory, nginx_factory,
                                            formpost_config, smtpd):
    confirm_site(formpost_config)
    formpost_config["sites"]["review2"] = json.loads(json.dumps(
        formpost_config["sites"]["review"]))
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    hidden = Inputs(first(ng).text).hidden()
    r = post_form(url(ng, "review2"), hidden)
    assert r.status_code == 200
    assert fp.events(event="discarded", site="review2", reason="confirm_invalid")
    time.sleep(0.5)
    assert smtpd.count() == 0


def test_expired_confirm_sends_nothing(stack, smtpd):
    fp, ng = stack(token={"max_age": "2s", "min_age": "0s"})
    hidden = Inputs(first(ng).text).hidden()
    time.sleep(2.5)
    r = post_form(url(ng), hidden)
    assert r.status_code == 200 and re.search(ID_RE, r.text)
    assert fp.events(event="discarded", reason="confirm_expired")
    time.sleep(0.5)
    assert smtpd.count() == 0


def test_back_keeps_every_value(stack, smtpd):
    fp, ng = stack()
    hidden = Inputs(first(ng).text).hidden()
    r = post_form(url(ng), hidden + [("_back", "1")])
    assert r.status_code == 200 and "no-store" in r.headers["Cache-Control"]
    page = Inputs(r.text)
    values = {(n, v) for n, v, t in page.inputs}
    assert ("name", FIELDS["name"]) in values
    assert ("email", FIELDS["email"]) in values
    assert page.textareas["message"].lstrip("\n").replace("\r\n", "\n") == \
        FIELDS["message"]
    assert re.search(r'value="資料" checked', r.text)
    assert re.search(r'value="電話">', r.text)
    assert re.search(r'<option value="採用" selected>', r.text)
    assert "_confirm" not in r.text
    assert fp.events(event="edit", site="review")
    # _back with invalid values: the form with its errors.
    broken = [(n, "" if n == "email" else v) for n, v in hidden]
    r = post_form(url(ng), broken + [("_back", "1")])
    assert r.status_code == 422 and 'class="error"' in r.text
    time.sleep(0.5)
    assert smtpd.count() == 0


def test_json_review_and_send(stack, smtpd):
    fp, ng = stack()
    r = first(ng, accept="application/json")
    j = r.json()
    assert j["ok"] is True and "id" not in j
    assert re.fullmatch(r"[A-Za-z0-9_-]{120}", j["confirm"])
    byname = {f["name"]: f for f in j["fields"]}
    assert [f["name"] for f in j["fields"]] == ["name", "email", "message",
                                                "topic", "opts", "agree"]
    assert byname["message"] == {"name": "message", "label": "お問い合わせ内容",
                                 "value": FIELDS["message"].replace("\n", "\r\n")}
    assert byname["opts"]["value"] == "資料, 訪問"
    # A fetch() client posts the fields it has, as typed, with _confirm.
    r = post_form(url(ng), pairs(FIELDS) + [("_confirm", j["confirm"])],
                  accept="application/json")
    assert r.status_code == 200 and re.fullmatch(ID_RE, r.json()["id"])
    smtpd.wait(1)
    # Full-width input is normalised before signing: the typed form and
    # the normalised form are the same values.
    wide = dict(FIELDS, email="ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ")
    j = first(ng, fields=wide, accept="application/json").json()
    assert {f["name"]: f for f in j["fields"]}["email"]["value"] == "taro@example.jp"
    r = post_form(url(ng), pairs(dict(wide, message="別件")) +
                  [("_confirm", j["confirm"])], accept="application/json")
    assert r.json()["ok"] is True and "confirm" in r.json()   # changed: review
    time.sleep(0.5)
    assert smtpd.count() == 1


def test_invalid_first_step_is_422_and_nothing_reviewed(stack, smtpd):
    fp, ng = stack()
    r = post_form(url(ng), pairs(dict(FIELDS, email="nope")))
    assert r.status_code == 422 and "_confirm" not in r.text
    r = post_form(url(ng), pairs(dict(FIELDS, email="nope")),
                  accept="application/json")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "email"


def test_token_min_age_only_on_first_step_and_one_token_one_message(
        stack, smtpd):
    fp, ng = stack(token={"required": True, "min_age": "1s", "max_age": "1h"})
    tok = requests.get(url(ng) + "/token", headers={"Origin": SITE_ORIGIN},
                       timeout=5).json()["token"]
    # Too fast on the first step: the usual verdict, no review.
    r = post_form(url(ng), pairs(FIELDS) + [("_token", tok)])
    assert r.status_code == 200 and "_confirm" not in r.text
    assert fp.events(event="discarded", reason="token_too_fast")
    time.sleep(1.2)
    r = post_form(url(ng), pairs(FIELDS) + [("_token", tok)])
    hidden = Inputs(r.text).hidden()
    assert "_confirm" in dict(hidden)
    # The review page does not carry the token: the second step needs none.
    r = post_form(url(ng), hidden)
    assert r.status_code == 200 and "受付番号" in r.text
    smtpd.wait(1)
    # The same token again, other values: its nonce is spent.
    r = post_form(url(ng), pairs(dict(FIELDS, message="二通目")) + [("_token", tok)])
    assert r.status_code == 200 and "_confirm" not in r.text
    assert fp.events(event="discarded", reason="token_replayed")
    time.sleep(0.5)
    assert smtpd.count() == 1


def test_site_override_of_confirm_html(stack, smtpd, tmp_path):
    """A site's templates: folder may hold its own confirm.html; the
    other pages still come from the defaults."""
    own = tmp_path / "site-templates"
    own.mkdir()
    (own / "confirm.html").write_text(
        "<!doctype html><title>check</title><h1>OWN REVIEW</h1>"
        '<form method="post" action="{{_action}}">{{#_fields}}<p>{{_label}}: '
        '{{_value}}</p><input type="hidden" name="{{_name}}" value="{{_value}}">'
        '{{/_fields}}<input type="hidden" name="_confirm" value="{{_confirm}}">'
        "<button>go</button></form>", encoding="utf-8")
    fp, ng = stack(groups=False, templates=str(own))
    # One hidden input per field: no checkbox group (an empty one is not
    # an option; the default template leaves unchosen groups out).
    fields = {k: v for k, v in FIELDS.items() if k != "opts"}
    r = first(ng, fields=fields)
    assert "OWN REVIEW" in r.text and "お名前: 山田 &lt;b&gt;" in r.text
    r = post_form(url(ng), Inputs(r.text).hidden())
    assert r.status_code == 200 and "受付番号" in r.text, r.text[-3000:]
    smtpd.wait(1)


def test_a_site_without_confirm_ignores_the_fields(stack, smtpd):
    """_confirm and _back mean nothing to a site without confirm: true."""
    fp, ng = stack()
    r = post_form(ng.url("/formpost/example"),
                  {"name": "a", "email": "a@example.jp", "message": "m",
                   "_confirm": "x" * 120, "_back": "1"}, accept="application/json")
    assert r.status_code == 200 and re.fullmatch(ID_RE, r.json()["id"])
    smtpd.wait(1)


def test_formpost_form_labels_the_button_for_the_review(formpost_config, tmp_path):
    """`formpost form` for a review site: the button leads to the review
    (入力内容を確認する); the fetch() review's own button sends (送信する)."""
    from harness import formpost_cli, write_config
    confirm_site(formpost_config)
    path = write_config(tmp_path / "fp.yaml", formpost_config)
    plain = formpost_cli(["form", "review"], config_path=path)
    assert plain.returncode == 0, plain.stderr
    assert ">入力内容を確認する</button>" in plain.stdout
    fetch = formpost_cli(["form", "review", "--fetch"], config_path=path).stdout
    assert 'data-fp-send="送信する"' in fetch
    other = formpost_cli(["form", "example"], config_path=path).stdout
    assert ">送信する</button>" in other and "入力内容を確認する" not in other


def test_the_mail_names_the_visitors_page_not_formposts(stack, smtpd):
    """The second post comes from formpost's own page (its Referer is the
    formpost URL): the page the visitor started from travels as `_page`,
    origin-checked like a Referer.  Also for a 422 form corrected and
    re-posted on a site without review."""
    fp, ng = stack()
    start = "https://www.example.com/contact.html"
    ours = "https://www.example.com/formpost/review"
    r = first(ng, headers={"Referer": start})
    hidden = Inputs(r.text).hidden()
    assert ("_page", start) in hidden
    r = post_form(url(ng), hidden, headers={"Referer": ours})
    assert r.status_code == 200
    smtpd.wait(1)
    assert "送信元ページ: " + start in body_text(smtpd.messages()[0][1])

    bad = {"name": "a", "email": "nope", "message": "m"}
    r = post_form(ng.url("/formpost/example"), bad, headers={"Referer": start})
    assert r.status_code == 422
    hidden = Inputs(r.text).hidden()
    assert ("_page", start) in hidden
    fixed = [(n, "b@example.jp" if n == "email" else v) for n, v, t in
             Inputs(r.text).inputs if n and t != "checkbox"]
    r = post_form(ng.url("/formpost/example"), fixed + [("message", "m2")],
                  headers={"Referer": "https://www.example.com/formpost/example"})
    assert r.status_code == 200, r.text
    smtpd.wait(2)
    assert "送信元ページ: " + start in body_text(smtpd.messages()[1][1])
    # A _page at another origin is not a page of the site: the Referer.
    r = post_form(ng.url("/formpost/example"),
                  {"name": "c", "email": "c@example.jp", "message": "m3",
                   "_page": "https://evil.example/x"}, headers={"Referer": start})
    smtpd.wait(3)
    text = body_text(smtpd.messages()[2][1])
    assert "evil.example" not in text and "送信元ページ: " + start in text


def form_pairs(text):
    """What a browser posts from formpost's form page (no checkboxes
    unless checked; the textarea's text)."""
    page = Inputs(text)
    out = [(n, v) for n, v, t in page.inputs
           if n and t not in ("checkbox",)]
    out += [(n, v) for n, v, t in page.inputs if t == "checkbox" and
            re.search(r'name="%s" value="%s" checked' % (re.escape(n), re.escape(v)), text)]
    out += [(n, v.lstrip("\n")) for n, v in page.textareas.items()]
    for m in re.finditer(r'<select[^>]*name="([^"]+)".*?<option value="([^"]*)" selected',
                         text, re.S):
        out.append((m.group(1), m.group(2)))
    return out


def test_token_site_edit_and_422_pages_carry_a_fresh_token(stack, smtpd):
    """On a token site the form comes back from formpost itself (修正する,
    or a 422), not from the page whose script fetched the token: it
    carries a fresh one, so sending it again (after min_age) works."""
    fp, ng = stack(groups=False,
                   token={"required": True, "min_age": "1s", "max_age": "1h"})
    tok = requests.get(url(ng) + "/token", headers={"Origin": SITE_ORIGIN},
                       timeout=5).json()["token"]
    time.sleep(1.1)
    fields = {k: v for k, v in FIELDS.items() if k != "opts"}
    r = post_form(url(ng), pairs(fields) + [("_token", tok)])
    hidden = Inputs(r.text).hidden()
    r = post_form(url(ng), hidden + [("_back", "1")])
    assert r.status_code == 200 and 'name="_token"' in r.text
    edited = [(n, "直した本文" if n == "message" else v) for n, v in form_pairs(r.text)]
    time.sleep(1.1)
    r = post_form(url(ng), edited)
    assert r.status_code == 200 and "直した本文" in r.text, r.text[-2000:]
    r = post_form(url(ng), Inputs(r.text).hidden())
    assert r.status_code == 200 and "受付番号" in r.text
    smtpd.wait(1)
    assert "直した本文" in body_text(smtpd.messages()[0][1])
    # A 422 on the token site: the corrected form is sent with its token.
    tok = requests.get(url(ng) + "/token", headers={"Origin": SITE_ORIGIN},
                       timeout=5).json()["token"]
    time.sleep(1.1)
    r = post_form(url(ng), pairs(dict(fields, email="nope")) + [("_token", tok)])
    assert r.status_code == 422 and 'name="_token"' in r.text
    fixed = [(n, "ok@example.jp" if n == "email" else v) for n, v in form_pairs(r.text)]
    time.sleep(1.1)
    r = post_form(url(ng), fixed)
    assert "_confirm" in r.text, r.text[-2000:]
