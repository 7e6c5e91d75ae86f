"""Fields and pages through real nginx: the re-rendered 422 form keeps
every value a visitor typed (escaped) with each error beside its field and
re-posts as a browser would; JSON clients get the same verdicts as HTML
clients; CORS for the site's origins only; honeypot and double submit
answer like a success without a second mail; Reply-To for IDN and legacy
carrier addresses, with reply_to_name as the display name."""
import http.client
import re
import urllib.parse
from html.parser import HTMLParser

import pytest

from harness import ID_RE, SITE_ORIGIN, body_text, post_form, wait_for


FIELDS = {
    "name": {"label": "お名前", "required": True, "max": 100},
    "email": {"label": "メールアドレス", "type": "email", "required": True,
              "reply_to": True},
    "email2": {"label": "メールアドレス（確認）", "type": "email", "confirm": "email"},
    "phone": {"label": "電話番号", "type": "tel"},
    "site": {"label": "Webサイト", "type": "url"},
    "count": {"label": "人数", "type": "number", "min": 1, "max": 20},
    "topic": {"label": "種別", "type": "select", "options": ["見積", "採用", "その他"]},
    "plan": {"label": "プラン", "type": "radio", "options": ["A & B", "\"C\""]},
    "days": {"label": "希望日", "type": "checkbox", "options": ["月", "火", "水"]},
    "zip": {"label": "郵便番号", "pattern": "[0-9]{3}-[0-9]{4}"},
    "message": {"label": "お問い合わせ内容", "type": "multiline", "required": True,
                "max": 5000},
    "agree": {"label": "個人情報の取扱いに同意する", "type": "checkbox", "required": True},
}

GOOD = [
    ("name", "山田 太郎"), ("email", "taro@example.jp"), ("email2", "taro@example.jp"),
    ("phone", "03-1234-5678"), ("site", "https://example.jp/"), ("count", "3"),
    ("topic", "見積"), ("plan", "A & B"), ("days", "月"), ("days", "水"),
    ("zip", "123-4567"), ("message", "こんにちは。\r\n二行目"), ("agree", "1"),
]


@pytest.fixture
def config(formpost_config):
    site = formpost_config["sites"]["example"]
    site["fields"] = FIELDS
    site["honeypot"] = "fp_extra"
    return formpost_config


@pytest.fixture
def stack(formpost_factory, nginx_factory, config):
    fp = formpost_factory(config)
    ng = nginx_factory(fp.target)
    return fp, ng


def with_(pairs, **changes):
    """GOOD with some fields replaced (None removes the field)."""
    out = [(k, v) for k, v in pairs if k not in changes]
    for k, v in changes.items():
        if v is None:
            continue
        for one in (v if isinstance(v, list) else [v]):
            out.append((k, one))
    return out


class FormScraper(HTMLParser):
    """What a browser would submit from the page's first form, plus where
    each error message sits."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.action = None
        self.pairs = []
        self.controls = {}        # name -> list of (tag, attrs)
        self.errors = {}          # field div's control name -> message
        self.links = []
        self._select = None
        self._textarea = None
        self._field_names = []
        self._in_error = False
        self._div_depth = 0
        self._field_div = None
        self._error_text = ""
        self.novalidate = False

    def handle_starttag(self, tag, a):
        a = dict(a)
        if tag == "form" and self.action is None:
            self.action = a.get("action")
            self.novalidate = "novalidate" in a
        if tag == "div":
            self._div_depth += 1
            if "field" in (a.get("class") or "").split():
                self._field_div = self._div_depth
                self._field_names = []
        if tag == "a":
            self.links.append(a.get("href"))
        if tag in ("input", "select", "textarea") and a.get("name"):
            self.controls.setdefault(a["name"], []).append((tag, a))
            if self._field_div:
                self._field_names.append(a["name"])
        if tag == "input" and a.get("name"):
            t = a.get("type", "text")
            if t == "checkbox":
                if "checked" in a:
                    self.pairs.append((a["name"], a.get("value", "on")))
            else:
                self.pairs.append((a["name"], a.get("value", "")))
        if tag == "select":
            self._select = [a["name"], None, None]
        if tag == "option" and self._select:
            if self._select[2] is None:
                self._select[2] = a.get("value", "")
            if "selected" in a:
                self._select[1] = a.get("value", "")
        if tag == "textarea":
            self._textarea = [a["name"], ""]
        if tag == "p" and "error" in (a.get("class") or "").split():
            self._in_error = True
            self._error_text = ""

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            name, sel, first = self._select
            self.pairs.append((name, sel if sel is not None else first))
            self._select = None
        if tag == "textarea" and self._textarea:
            # HTML: a newline right after <textarea> is dropped
            name, text = self._textarea
            if text.startswith("\n"):
                text = text[1:]
            self.pairs.append((name, text))
            self._textarea = None
        if tag == "p" and self._in_error:
            self._in_error = False
            for n in set(self._field_names):
                self.errors[n] = self._error_text
        if tag == "div":
            if self._div_depth == self._field_div:
                self._field_div = None
            self._div_depth -= 1

    def handle_data(self, data):
        if self._textarea:
            self._textarea[1] += data
        if self._in_error:
            self._error_text += data


def scrape(html):
    p = FormScraper()
    p.feed(html)
    p.close()
    return p


def norm_lines(s):
    return s.replace("\r\n", "\n")


# Values that must survive the page as typed: markup, quotes, ampersands,
# Japanese, a leading blank line in the textarea (the HTML parser drops one
# newline after <textarea>).
HOSTILE = with_(
    GOOD,
    name='<script>alert("x")</script> & \'quoted\' 山田',
    email="not an address",               # the errors

    email2='a"b@example.jp',
    phone="０３－１２３４－５６７８",
    zip="123-4567",
    message='\n先頭の空行\n<b>bold</b> & "q" \'s\'\n末尾',
)


def test_422_page_round_trips_every_value(stack, smtpd):
    fp, ng = stack
    url = ng.url("/formpost/example?from=form")
    referer = "https://www.example.com/contact/?a=1&b=<2>"
    r = post_form(url, HOSTILE, headers={"Referer": referer})
    assert r.status_code == 422
    assert r.headers["Content-Type"].startswith("text/html")
    assert "no-store" in r.headers["Cache-Control"]
    html = r.text
    # escaped in text and attributes, never live
    assert "<script>alert" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;" in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    page = scrape(html)
    assert page.action == "/formpost/example"      # same URL, no query
    assert page.novalidate                         # our messages, not the browser's
    assert page.links[-1] == referer               # the back link
    # the honeypot is in the form, empty
    assert page.controls["fp_extra"][0][1]["value"] == ""
    # every configured field is there, with its label and type
    for name, spec in FIELDS.items():
        assert name in page.controls, name
        assert spec["label"] in html
    assert page.controls["email"][0][1]["type"] == "email"
    assert page.controls["phone"][0][1]["type"] == "tel"
    assert page.controls["site"][0][1]["type"] == "url"
    assert page.controls["count"][0][1]["inputmode"] == "decimal"
    assert page.controls["message"][0][0] == "textarea"
    assert page.controls["topic"][0][0] == "select"
    assert len(page.controls["days"]) == 3
    # each error sits in its own field's block; only the broken ones
    assert set(page.errors) == {"email", "email2"}
    assert "メールアドレスの形式が正しくありません" in page.errors["email"]
    assert "メールアドレス（確認）の形式" in page.errors["email2"]
    # what a browser re-posts is exactly what was typed (email/tel fields
    # that passed are shown normalised)
    got = page.pairs
    want = [(k, v) for k, v in HOSTILE]
    want = [(k, "03-1234-5678" if k == "phone" else v) for k, v in want]
    want.append(("fp_extra", ""))
    # and the page the visitor came from, so the corrected post's mail
    # names it rather than this page (doc/design.md "The review step")
    want.append(("_page", referer))
    assert sorted((k, norm_lines(v)) for k, v in got) == \
        sorted((k, norm_lines(v)) for k, v in want)
    # re-posting the page as is: the same verdict, the same page
    r2 = post_form(ng.url(page.action), got, headers={"Referer": referer})
    assert r2.status_code == 422
    assert sorted(scrape(r2.text).pairs) == sorted(got)
    # fixing the errors completes it, with the values intact in the mail
    fixed = [(k, "taro@example.jp" if k in ("email", "email2") else v) for k, v in got]
    r3 = post_form(ng.url(page.action), fixed)
    assert r3.status_code == 200, r3.text
    (env, msg), = smtpd.wait(1)
    body = body_text(msg)
    assert '<script>alert("x")</script> & \'quoted\' 山田' in body
    assert "電話番号: 03-1234-5678" in body
    assert "  先頭の空行\n  <b>bold</b> & \"q\" 's'\n  末尾" in body
    assert "希望日: 月, 水" in body
    assert "プラン: A & B" in body


def test_422_english_page_and_select_error(stack, config, formpost_factory,
                                           nginx_factory):
    config["sites"]["example"]["lang"] = "en"
    fp = formpost_factory(config, name="fp_en")
    ng = nginx_factory(fp.target)
    r = post_form(ng.url("/formpost/example"),
                  with_(GOOD, topic="<none>", days=["月", "金"], count="２１"))
    assert r.status_code == 422
    page = scrape(r.text)
    assert page.errors == {
        "topic": "Please choose 種別 from the list.",
        "days": "Please choose 希望日 from the list.",
        "count": "人数 must be at most 20.",
    }
    assert '<html lang="en">' in r.text
    assert dict(page.pairs)["count"] == "２１"          # as typed
    assert ("days", "月") in page.pairs and ("days", "金") not in page.pairs


# (description, pairs, expected status, {field: code})
VERDICTS = [
    ("valid", GOOD, 200, {}),
    ("full-width email/tel/number", with_(
        GOOD, email="ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", email2="taro@example.jp",
        phone="０３ー１２３４ー５６７８", count="１２"), 200, {}),
    ("required missing", with_(GOOD, name=None, message="  ", agree=None), 422,
     {"name": "required", "message": "required", "agree": "required"}),
    ("CRLF header injection", with_(GOOD, name="x\r\nBcc: evil@example.net"), 422,
     {"name": "control_char"}),
    ("LF", with_(GOOD, name="a\nb"), 422, {"name": "control_char"}),
    ("NUL", with_(GOOD, name="a\x00b"), 422, {"name": "control_char"}),
    ("U+0085", with_(GOOD, name="a\u0085b"), 422, {"name": "control_char"}),
    ("U+2028", with_(GOOD, name="a\u2028b"), 422, {"name": "control_char"}),
    ("U+2029", with_(GOOD, name="a\u2029b"), 422, {"name": "control_char"}),
    ("ESC", with_(GOOD, name="a\x1bb"), 422, {"name": "control_char"}),
    ("C1", with_(GOOD, name="a\u009bb"), 422, {"name": "control_char"}),
    ("non-ASCII local part", with_(GOOD, email="たろう@example.jp",
                                   email2=None), 422,
     {"email": "non_ascii_local"}),
    ("bad email", with_(GOOD, email="taro@", email2="taro@"), 422,
     {"email": "invalid_email", "email2": "invalid_email"}),
    ("encoded-word local part", with_(
        GOOD, email="=?utf-8?q?x=0D=0ABcc=3Aevil=40evil.test?=@example.jp",
        email2="=?utf-8?q?x=0D=0ABcc=3Aevil=40evil.test?=@example.jp"), 422,
     {"email": "invalid_email", "email2": "invalid_email"}),
    ("confirm mismatch", with_(GOOD, email2="jiro@example.jp"), 422,
     {"email2": "mismatch"}),
    ("tel", with_(GOOD, phone="12345"), 422, {"phone": "invalid_tel"}),
    ("url", with_(GOOD, site="javascript:alert(1)"), 422, {"site": "invalid_url"}),
    ("number", with_(GOOD, count="abc"), 422, {"count": "invalid_number"}),
    ("number max", with_(GOOD, count="21"), 422, {"count": "too_large"}),
    ("number min", with_(GOOD, count="0"), 422, {"count": "too_small"}),
    ("select", with_(GOOD, topic="他"), 422, {"topic": "invalid_option"}),
    ("select repeated", with_(GOOD, topic=["見積", "採用"]), 422, {"topic": "repeated"}),
    ("radio", with_(GOOD, plan="D"), 422, {"plan": "invalid_option"}),
    ("group", with_(GOOD, days=["月", "日"]), 422, {"days": "invalid_option"}),
    ("pattern", with_(GOOD, zip="1234567"), 422, {"zip": "pattern"}),
    ("too long", with_(GOOD, name="あ" * 101), 422, {"name": "too_long"}),
    ("multiline keeps lines", with_(GOOD, message="一\r二\n三"), 200, {}),
]


@pytest.mark.parametrize("desc,pairs,status,codes", VERDICTS,
                         ids=[v[0] for v in VERDICTS])
def test_json_and_html_get_the_same_verdicts(stack, smtpd, desc, pairs, status,
                                             codes):
    fp, ng = stack
    url = ng.url("/formpost/example")
    rh = post_form(url, pairs)
    rj = post_form(url, pairs, accept="application/json")
    assert rh.status_code == status, rh.text[:2000]
    assert rj.status_code == status, rj.text
    assert rj.headers["Content-Type"] == "application/json"
    j = rj.json()
    if status == 200:
        assert j == {"ok": True, "id": j["id"]}
        assert re.fullmatch(ID_RE, j["id"])
        # the same content from the same client: one mail, the first id
        m = re.search(r'class="ref">(' + ID_RE + ")<", rh.text)
        assert m and m.group(1) == j["id"]
        assert len(smtpd.wait(1)) == 1
    else:
        assert j["ok"] is False
        assert {e["field"]: e["code"] for e in j["errors"]} == codes
        assert all(set(e) == {"field", "code", "message"} and e["message"]
                   for e in j["errors"])
        assert set(scrape(rh.text).errors) == set(codes)
        for e in j["errors"]:                      # the same words in both
            assert scrape(rh.text).errors[e["field"]] == e["message"]
        assert smtpd.count() == 0


def test_cors_for_the_sites_origins_only(stack, smtpd):
    fp, ng = stack
    url = ng.url("/formpost/example")
    import requests
    pre = {"Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}
    r = requests.options(url, headers=dict(pre, Origin="https://example.com"))
    assert r.status_code == 204
    # RFC 9110 §8.6: a 204 carries no Content-Length (nor a body)
    assert "Content-Length" not in r.headers and r.content == b""
    assert r.headers["Access-Control-Allow-Origin"] == "https://example.com"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in r.headers["Access-Control-Allow-Headers"]
    assert r.headers["Vary"] == "Origin"
    for bad in ("https://evil.example", "null", "https://example.com.evil.example",
                "http://example.com"):
        r = requests.options(url, headers=dict(pre, Origin=bad))
        assert r.status_code == 403, bad
        assert "Access-Control-Allow-Origin" not in r.headers
        assert r.headers["Vary"] == "Origin"
    # answers to an allowed origin carry the grant, for success and error
    r = post_form(url, GOOD, origin="https://example.com", accept="application/json")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://example.com"
    assert r.headers["Vary"] == "Origin"
    r = post_form(url, with_(GOOD, name=None), origin=SITE_ORIGIN,
                  accept="application/json")
    assert r.status_code == 422
    assert r.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    # a foreign origin: 403, no grant
    r = post_form(url, GOOD, origin="https://evil.example", accept="application/json")
    assert r.status_code == 403
    assert "Access-Control-Allow-Origin" not in r.headers
    assert r.json()["ok"] is False
    assert fp.events(event="rejected", reason="origin_not_allowed")


def test_honeypot_looks_accepted_sends_nothing(stack, smtpd):
    fp, ng = stack
    url = ng.url("/formpost/example")
    r = post_form(url, with_(GOOD, fp_extra="http://spam.example"))
    assert r.status_code == 200
    m = re.search(r'class="ref">(' + ID_RE + ")<", r.text)
    assert m
    rj = post_form(url, with_(GOOD, fp_extra="x", name="bot"),
                   accept="application/json")
    assert rj.status_code == 200
    j = rj.json()
    assert set(j) == {"ok", "id"} and j["ok"] is True
    assert re.fullmatch(ID_RE, j["id"]) and j["id"] != m.group(1)
    # even an invalid form: a bot learns nothing from a 422
    r = post_form(url, [("fp_extra", "x"), ("email", "bad")])
    assert r.status_code == 200
    # nor from a 400: the honeypot is read before the body is decoded
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    broken = b"name=%ZZ&message=%FF%FE&fp_extra=x"
    r = post_form(url, None, headers=form, data=broken)
    assert r.status_code == 200 and re.search(r'class="ref">' + ID_RE + "<", r.text)
    r = post_form(url, None, headers=form, data=broken.replace(b"=x", b"="))
    assert r.status_code == 400
    ev = fp.events(event="discarded", reason="honeypot")
    assert {e["id"] for e in ev} >= {m.group(1), j["id"]}
    # a real post afterwards is the only mail
    r = post_form(url, with_(GOOD, name="本物"))
    assert r.status_code == 200
    msgs = smtpd.wait(1)
    assert len(msgs) == 1 and "本物" in body_text(msgs[0][1])


def raw_post(ng, path, pairs, source, accept=None):
    """POST from a chosen loopback source address (another client)."""
    body = urllib.parse.urlencode(pairs).encode()
    c = http.client.HTTPConnection("127.0.0.1", ng.port, timeout=10,
                                   source_address=(source, 0))
    h = {"Content-Type": "application/x-www-form-urlencoded", "Origin": SITE_ORIGIN}
    if accept:
        h["Accept"] = accept
    c.request("POST", path, body=body, headers=h)
    r = c.getresponse()
    data = r.read().decode()
    c.close()
    return r.status, data


def test_double_submit_gets_the_first_answer(stack, smtpd):
    import json
    fp, ng = stack
    path = "/formpost/example"
    st, first = raw_post(ng, path, GOOD, "127.0.0.1", "application/json")
    assert st == 200
    first = json.loads(first)["id"]
    # the same content again (a double click, a resend), JSON or HTML
    st, again = raw_post(ng, path, GOOD, "127.0.0.1", "application/json")
    assert st == 200 and json.loads(again)["id"] == first
    st, page = raw_post(ng, path, GOOD, "127.0.0.1")
    assert st == 200 and f'class="ref">{first}<' in page
    # the same content after normalisation is the same content
    st, again = raw_post(ng, path, with_(GOOD, phone="０３－１２３４－５６７８"),
                         "127.0.0.1", "application/json")
    assert st == 200 and json.loads(again)["id"] == first
    assert len(fp.events(event="discarded", reason="duplicate")) == 3
    # another client, or other content: a new message
    st, other_ip = raw_post(ng, path, GOOD, "127.0.0.2", "application/json")
    assert st == 200 and json.loads(other_ip)["id"] != first
    st, other = raw_post(ng, path, with_(GOOD, message="別の内容"), "127.0.0.1",
                         "application/json")
    assert st == 200 and json.loads(other)["id"] not in (first,)
    msgs = smtpd.wait(3)
    assert len(msgs) == 3
    ids = sorted(m["Message-ID"] for _, m in msgs)
    assert f"<{first}@example.com>" in ids
    # an unknown (ignored) field does not make it new content
    st, again = raw_post(ng, path, GOOD + [("utm", "x")], "127.0.0.1",
                         "application/json")
    assert json.loads(again)["id"] == first
    assert smtpd.count() == 3


def test_double_submit_at_the_same_moment(stack, smtpd):
    """Two identical posts released together (a real double click), 20
    times: one mail per content, both answers carry the same id."""
    import json
    import threading
    fp, ng = stack
    path = "/formpost/example"
    rounds = 20
    for i in range(rounds):
        # a client address of its own per round: the rate limit stays out
        source = f"127.0.1.{i + 1}"
        pairs = with_(GOOD, message=f"同時送信 <{i}>")
        go = threading.Barrier(2)
        answers = [None, None]

        def post(slot):
            go.wait(timeout=10)
            answers[slot] = raw_post(ng, path, pairs, source, "application/json")

        threads = [threading.Thread(target=post, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert all(a is not None and a[0] == 200 for a in answers), answers
        ids = {json.loads(a[1])["id"] for a in answers}
        assert len(ids) == 1, (i, answers)
    msgs = smtpd.wait(rounds)
    # every message the sender ever had is delivered: nothing more to come
    wait_for(lambda: len(fp.events(event="delivered")) >= rounds, 10,
             "deliveries")
    assert len(fp.events(event="queued")) == rounds
    assert len(fp.events(event="discarded", reason="duplicate")) == rounds
    assert smtpd.count() == rounds
    bodies = [body_text(m) for _, m in msgs]
    for i in range(rounds):
        assert sum(f"同時送信 <{i}>" in b for b in bodies) == 1


@pytest.mark.parametrize("email,name,want", [
    ("taro..x.@docomo.ne.jp", "山田 太郎",
     '=?UTF-8?B?5bGx55SwIOWkqumDjg==?= <"taro..x."@docomo.ne.jp>'),
    ("hanako.@ezweb.ne.jp", "Hanako", 'Hanako <"hanako."@ezweb.ne.jp>'),
    ("ｔａｒｏ＠日本語．ｊｐ", "Taro Y", "Taro Y <taro@xn--wgv71a119e.jp>"),
    ("a@example.jp", "", "a@example.jp"),
])
def test_reply_to_in_the_composed_mail(formpost_factory, nginx_factory,
                                       formpost_config, smtpd, email, name, want):
    site = formpost_config["sites"]["example"]
    site["fields"]["name"]["required"] = False
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    r = post_form(ng.url("/formpost/example"),
                  {"name": name, "email": email, "message": "本文"})
    assert r.status_code == 200, r.text
    (env, raw), = [smtpd.wait(1) and smtpd.raw_messages()[0]]
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    reply = re.search(r"^Reply-To: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.M).group(1)
    assert reply.replace("\r\n", "") == want
    assert env["rcpt_tos"] == ["info@example.com"]     # never the visitor
    assert "\r\nFrom: Example Web <noreply@example.com>\r\n" in head + "\r\n"


@pytest.mark.parametrize("referer, shown", [
    ("https://www.example.com/contact/?a=1", True),
    ("https://evil.example/phish", False),              # Origin allowed it
    ("https://www.example.com.evil.example/", False),
    pytest.param("https://www.example.com/" + "a" * 2100, False,
                 id="over-the-page-cap"),
])
def test_page_is_the_referer_only_at_an_origin(stack, smtpd, referer, shown):
    """The Referer becomes the back link and the mail's page line only
    when it is at one of the site's origins; else there is no page."""
    fp, ng = stack
    bad = post_form(ng.url("/formpost/example"), HOSTILE,
                    headers={"Referer": referer})
    assert bad.status_code == 422
    ok = post_form(ng.url("/formpost/example"), GOOD,
                   headers={"Referer": referer})
    assert ok.status_code == 200, ok.text
    (env, msg), = smtpd.wait(1)
    body = body_text(msg)
    for html in (bad.text, ok.text):
        assert (f'href="{referer}"' in html) == shown
        assert ("evil.example" in html) is False
    assert (f"送信元ページ: {referer}" in body) == shown
    assert "送信元ページ" in body if shown else "送信元ページ" not in body
