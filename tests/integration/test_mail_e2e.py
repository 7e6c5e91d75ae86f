"""The mail end to end: awkward input posted through real nginx, composed
by formpost, delivered by libcurl to a real aiosmtpd server, and read back
with Python's email package (policy default).

Two sites share one formpost:
  example  Japanese, the default templates (the shop owner's view), To + Cc
           + Bcc, subject "[お問い合わせ] {{subject}}";
  raw      English, a per-site template folder whose mail.txt is just
           "{{message}}" and subject "{{subject}}", so the received Subject
           and body can be compared with what was typed, exactly.
For every case: no defects, exactly the expected headers (names and count),
the envelope recipients are exactly the configured ones, the Subject and
Reply-To decode to the input, and the body decodes to the input.
"""
import email
import email.policy
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import body_text, post_form

HEADERS_JA = ["Date", "From", "Reply-To", "To", "Cc", "Subject", "Message-ID",
              "MIME-Version", "Content-Type", "Content-Transfer-Encoding"]
HEADERS_RAW = ["Date", "From", "Reply-To", "To", "Subject", "Message-ID",
               "MIME-Version", "Content-Type", "Content-Transfer-Encoding"]
RCPT_JA = ["info@example.com", "sales@example.com", "archive@example.com"]
RCPT_RAW = ["raw@example.com", "hidden@example.com"]

LINE_SEPS = "\r\n|\r|\n|\u2028|\u2029|\u0085"


def norm_multiline(s):
    """What the validator makes of a multiline value: every line break
    (CR, LF, CRLF, NEL, LS, PS) is CRLF, trailing blank lines dropped."""
    s = re.sub(LINE_SEPS, "\r\n", s)
    while s.endswith("\r\n"):
        s = s[:-2]
    return s


def wire_body(s):
    """A body as the writer sends it: CRLF line ends, ending in CRLF."""
    return s if s.endswith("\r\n") else s + "\r\n"


CORPUS = [
    # (id, name, subject, message)
    ("japanese", "山田 太郎", "お見積もりのお願い（至急）",
     "いつもお世話になっております。\n見積もりをお願いします。\n敬具"),
    ("emoji", "😀 Emoji Fan 👍🏻", "Party 🎉🎂 tonight 😀",
     "絵文字 🎉👨‍👩‍👧‍👦 and flags 🇯🇵\nend"),
    ("subject300_ja", "長い件名", "日本語の件名です" * 37 + "終わり",
     "body"),
    ("subject300_ascii", "Long Subject",
     " ".join(f"word{i:02d}" for i in range(50))[:300], "body"),
    ("subject_longword", "x", "y" * 300, "body"),
    ("line2000", "Line", "2000 characters",
     "z" * 2000 + "\nshort\n" + "日" * 2000 + "\n" + "é" * 2000),
    ("dots", "Dots", "dot lines",
     ".\n..\n. \n.x\n...\nend\n."),
    ("from_lines", "From Someone", "From here",
     "From here\nFrom: not a header\n>From quoted\nFrom"),
    ("mixed_eol", "EOL", "mixed line ends",
     "a\rb\nc\r\nd\n\re\r\r\nf\u2028g\u2029h\u0085i"),
    ("specials_name", 'Sales, "Tokyo" \\ <HQ> @ (1) [x]; y: z', "specials",
     "body"),
    ("specials_ja_name", "山田 \"太郎\", <boss@evil.example>", "名前に記号",
     "body"),
    ("lookalike_subject", "=?UTF-8?B?QmNjOiBldmlsQGV4YW1wbGUubmV0?=",
     "=?UTF-8?Q?=0A?=", "=?UTF-8?Q?=0ABcc:_evil@example.net?=\n=?utf-8?b?QmNjOg==?="),
    ("lookalike_mixed", "a=?b?=c", "Re: =?UTF-8?Q?Bcc:_x@evil?= 返信 =?",
     "x"),
    ("bcc_everywhere", "Bcc: evil@example.net", "Bcc: evil@example.net",
     "Bcc: evil@example.net\r\nTo: evil@example.net\r\n\r\nCc: x@evil.example"),
    ("header_in_body", "Body Injector", "body injection",
     "\r\n\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n.\r\nMAIL FROM:<x@y>"),
    ("tabs_spaces", "Tab", "  spaced   subject",
     "\tindented with tab\n   three spaces\ntrailing   \n"),
]


@pytest.fixture
def stack(tmp_path, formpost_config, formpost_factory, nginx_factory, smtpd):
    over = tmp_path / "raw-templates"
    over.mkdir()
    (over / "mail.txt").write_text("{{message}}", encoding="utf-8")
    cfg = formpost_config
    ex = cfg["sites"]["example"]
    ex["subject"] = "[お問い合わせ] {{subject}}"
    ex["cc"] = ["sales@example.com"]
    ex["bcc"] = ["archive@example.com"]
    ex["fields"] = {
        "name": {"label": "お名前", "required": True, "max": 100},
        "email": {"label": "メールアドレス", "type": "email", "required": True,
                  "reply_to": True},
        "subject": {"label": "件名", "max": 300},
        "message": {"label": "お問い合わせ内容", "type": "multiline",
                    "required": True, "max": 10000},
    }
    raw = dict(ex)
    raw.update({"from": "Raw Form <form@example.com>", "to": ["raw@example.com"],
                "cc": [], "bcc": ["hidden@example.com"], "lang": "en",
                "subject": "{{subject}}", "templates": str(over)})
    en = dict(ex)
    en.update({"from": "Oak & Pine Furniture <noreply@example.com>",
               "to": ["shop@example.com"], "cc": [], "bcc": [], "lang": "en",
               "subject": "[Contact] {{subject}}"})
    en["fields"] = {k: dict(v, label=l) for (k, v), l in zip(
        ex["fields"].items(), ["Name", "Email", "Subject", "Message"])}
    cfg["limits"] = {"max_body": "256k"}
    cfg["sites"]["raw"] = raw
    cfg["sites"]["en"] = en
    fp = formpost_factory(cfg)
    ng = nginx_factory(fp.target)
    return fp, ng, smtpd


def post_ok(ng, site, fields):
    r = post_form(ng.url(f"/formpost/{site}"), fields, accept="application/json")
    assert r.status_code == 200, r.text
    return r.json()["id"]


def received(smtpd, n):
    """The n-th message (1-based) as (envelope, raw bytes, parsed)."""
    assert smtpd.wait(n)
    env, raw = smtpd.raw_messages()[n - 1]
    return env, raw, email.message_from_bytes(raw, policy=email.policy.default)


def check_common(env, raw, msg, headers, rcpt, ref):
    assert not msg.defects, msg.defects
    assert list(msg.keys()) == headers
    for h in msg.keys():
        assert not getattr(msg[h], "defects", ()), (h, msg[h].defects)
    assert env["rcpt_tos"] == rcpt
    assert env["mail_from"] in ("noreply@example.com", "form@example.com")
    assert msg["Message-ID"] == f"<{ref}@example.com>"
    assert msg["Bcc"] is None and b"archive@" not in raw and b"hidden@" not in raw
    # CRLF only, no line over 998 octets.
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(b < 0x80 for b in head)
    for ew in re.findall(rb"=\?UTF-8\?[BQ]\?[^?]*\?=", head):
        assert len(ew) <= 75


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_round_trips(stack, case):
    _, name, subject, message = case
    fp, ng, smtpd = stack
    fields = {"name": name, "email": "taro@example.jp", "subject": subject,
              "message": message}
    subject_in = subject.strip(" ")
    message_in = norm_multiline(message)

    # The raw site: Subject and body are exactly what was typed.
    ref = post_ok(ng, "raw", fields)
    env, raw, msg = received(smtpd, 1)
    check_common(env, raw, msg, HEADERS_RAW, RCPT_RAW, ref)
    assert str(msg["Subject"]) == subject_in
    assert msg["Reply-To"].addresses[0].display_name == name.rstrip(" ")
    assert msg["Reply-To"].addresses[0].addr_spec == "taro@example.jp"
    assert msg["To"].addresses[0].addr_spec == "raw@example.com"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_payload(decode=True).decode("utf-8") == wire_body(message_in)

    # The Japanese site's default mail: the same values, label: value.
    ref = post_ok(ng, "example", fields)
    env, raw, msg = received(smtpd, 2)
    check_common(env, raw, msg, HEADERS_JA, RCPT_JA, ref)
    # One-line fields are trimmed at both ends when validated.
    assert str(msg["Subject"]) == "[お問い合わせ] " + subject.strip(" ")
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["sales@example.com"]
    body = msg.get_payload(decode=True).decode("utf-8")
    assert f"お名前: {name.rstrip(' ')}\r\n" in body
    assert "メールアドレス: taro@example.jp\r\n" in body
    indented = "".join(("  " + line if line else "") + "\r\n"
                       for line in message_in.split("\r\n"))
    assert ("お問い合わせ内容: " + message_in + "\r\n" in body
            if "\r\n" not in message_in else
            "お問い合わせ内容:\r\n" + indented in body)
    assert f"受付番号: {ref}\r\n" in body


def test_dot_line_arrives_intact(stack):
    """A 7bit body whose lines are "." and ".." goes through curl's dot
    stuffing and aiosmtpd's unstuffing unchanged, and the message does not
    end early at the first "."."""
    fp, ng, smtpd = stack
    message = "first\n.\nmiddle\n..\n.\nlast"
    ref = post_ok(ng, "raw", {"name": "Dot", "email": "d@example.com",
                              "subject": "dot", "message": message})
    env, raw, msg = received(smtpd, 1)
    check_common(env, raw, msg, HEADERS_RAW, RCPT_RAW, ref)
    assert msg["Content-Transfer-Encoding"] == "7bit"
    assert raw.endswith(b"\r\n\r\nfirst\r\n.\r\nmiddle\r\n..\r\n.\r\nlast\r\n")
    assert smtpd.count() == 1


# One-line fields carrying anything that could end a header line.
BREAKERS = ["\r\n", "\n", "\r", "\r\r\n", "\n\r", "\u2028", "\u2029", "\u0085",
            "\x00", "\x0b", "\x0c", "\x1b", "\x7f", "\u0080", "\u009b", "\t"]


@pytest.mark.parametrize("field", ["name", "subject", "email"])
@pytest.mark.parametrize("sep", BREAKERS, ids=[repr(s) for s in BREAKERS])
def test_header_breakers_refused(stack, field, sep):
    fp, ng, smtpd = stack
    fields = {"name": "Taro", "email": "taro@example.jp", "subject": "hi",
              "message": "m"}
    fields[field] += sep + "Bcc: evil@example.net"
    r = post_form(ng.url("/formpost/raw"), fields, accept="application/json")
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    # The refusal is complete: nothing was composed or sent.
    fp_ok = post_ok(ng, "raw", {"name": "Taro", "email": "taro@example.jp",
                                "subject": "ok", "message": "m"})
    env, raw, msg = received(smtpd, 1)
    check_common(env, raw, msg, HEADERS_RAW, RCPT_RAW, fp_ok)
    assert smtpd.count() == 1


def test_form_cannot_add_recipients_or_headers(stack):
    """Fields named like headers or envelope parts are unknown fields
    (ignored); addresses with lists or brackets are invalid; a multiline
    value full of header lines stays in the body."""
    fp, ng, smtpd = stack
    for bad in ["taro@example.jp, evil@example.net", "taro@example.jp>",
                "<taro@example.jp>", "Taro <taro@example.jp>",
                "taro@example.jp;evil@example.net", "evil@example.net\u2028"]:
        r = post_form(ng.url("/formpost/raw"), {"name": "n", "email": bad,
                      "subject": "s", "message": "m"}, accept="application/json")
        assert r.status_code == 422, bad
    fields = [("name", "n"), ("email", "taro@example.jp"), ("subject", "s"),
              ("message", "Bcc: evil@example.net\r\n\r\nTo: evil@example.net"),
              ("Bcc", "evil@example.net"), ("bcc", "evil@example.net"),
              ("to", "evil@example.net"), ("cc", "evil@example.net"),
              ("from", "evil@example.net"), ("reply_to", "evil@example.net"),
              ("_site", "example"), ("Subject", "injected"),
              ("Content-Type", "text/html")]
    ref = post_ok(ng, "raw", fields)
    env, raw, msg = received(smtpd, 1)
    check_common(env, raw, msg, HEADERS_RAW, RCPT_RAW, ref)
    assert str(msg["Subject"]) == "s"
    assert b"evil@example.net" not in raw.split(b"\r\n\r\n", 1)[0]
    assert body_text(msg) == "Bcc: evil@example.net\n\nTo: evil@example.net\n"
    assert smtpd.count() == 1


def test_default_body_reads_well(stack):
    """The Japanese default body: intro, each field as label: value in
    config order, multi-line values indented, then the footer."""
    fp, ng, smtpd = stack
    ref = post_ok(ng, "example", {"name": "山田 太郎", "email": "taro..x.@docomo.ne.jp",
                                  "message": "一行目\r\n\r\n三行目"})
    env, raw, msg = received(smtpd, 1)
    # The carrier's non-dot-atom local part is only valid quoted.
    assert b' <"taro..x."@docomo.ne.jp>\r\n' in raw
    assert msg["Reply-To"].addresses[0].username == "taro..x."
    body = body_text(msg)
    lines = body.split("\n")
    assert lines[0] == "example のお問い合わせフォームから、次の内容が送信されました。"
    assert lines[1] == "このメールにそのまま返信すると、送信者（taro..x.@docomo.ne.jp）に届きます。"
    start = lines.index("----------------------------------------")
    assert lines[start + 1:start + 10] == [
        "お名前: 山田 太郎",
        "メールアドレス: taro..x.@docomo.ne.jp",
        "件名: （未入力）",
        "お問い合わせ内容:",
        "  一行目",
        "",
        "  三行目",
        "----------------------------------------",
        "サイト: example",
    ]
    assert f"受付番号: {ref}" in lines
    assert any(re.fullmatch(r"受付日時: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}", l)
               for l in lines)
    assert "送信元IPアドレス: 127.0.0.1" in lines


# --------------------------------------------------------------- SpamAssassin

SA_LOCAL_CF = """\
# Offline and quick: no network tests, no learning, no per-user state.
use_bayes 0
bayes_auto_learn 0
skip_rbl_checks 1
dns_available no
use_razor2 0
use_pyzor 0
"""


def spamassassin(tmp_path, raw):
    """spamassassin -L -t with a private site config (Debian's .pre plugin
    lists, our local.cf) and a private HOME; returns (score, rules)."""
    sa = shutil.which("spamassassin")
    assert sa, "spamassassin missing: run tests/deps.sh"
    site = tmp_path / "sa-site"
    if not site.exists():
        site.mkdir()
        for pre in Path("/etc/spamassassin").glob("*.pre"):
            shutil.copy(pre, site)
        (site / "local.cf").write_text(SA_LOCAL_CF)
        (tmp_path / "sa-home").mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": str(tmp_path / "sa-home"), "LANG": "C.UTF-8"}
    p = subprocess.run([sa, "-L", "-t", f"--siteconfigpath={site}",
                        "-p", str(site / "user_prefs")],
                       input=raw, capture_output=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-2000:]
    out = email.message_from_bytes(p.stdout, policy=email.policy.compat32)
    status = re.sub(r"\s+", " ", out["X-Spam-Status"])
    m = re.search(r"score=(-?[0-9.]+) .*tests=(.*?) (?:autolearn|version)=", status)
    assert m, status
    return (float(m.group(1)), m.group(2).replace(" ", ""),
            p.stdout.decode("utf-8", "replace"))


def test_spamassassin_scores_ja_and_en(stack, tmp_path):
    fp, ng, smtpd = stack
    post_ok(ng, "example", {
        "name": "佐藤 花子",
        "email": "hanako.sato@example.jp",
        "subject": "商品の在庫と納期について",
        "message": "いつもお世話になっております。佐藤と申します。\r\n\r\n"
                   "御社のウェブサイトで拝見した木製の本棚について、"
                   "在庫があるかどうか教えていただけますでしょうか。\r\n"
                   "また、注文した場合の納期と送料もあわせて知りたいです。\r\n"
                   "配送先は東京都世田谷区です。\r\n\r\n"
                   "お忙しいところ恐れ入りますが、よろしくお願いいたします。"})
    post_ok(ng, "en", {
        "name": "Ann O'Neil",
        "email": "ann.oneil@example.com",
        "subject": "Question about the oak bookshelf",
        "message": "Hello,\r\n\r\nI saw the oak bookshelf on your website and "
                   "would like to know whether it is in stock, how long delivery "
                   "to Osaka takes, and what shipping costs.\r\n\r\n"
                   "Thank you in advance,\r\nAnn"})
    assert smtpd.wait(2)
    for env, raw in smtpd.raw_messages():
        score, rules, report = spamassassin(tmp_path, raw)
        assert score <= 0.0, report
        assert "MIME" not in rules and "HEADER" not in rules, rules
    # The rules really ran: an obvious spam scores above zero here.
    score, rules, _ = spamassassin(tmp_path, SPAM)
    assert score > 0.0 and "DRUG" in rules, rules


SPAM = (b"From: a@b.example\r\nTo: c@d.example\r\n"
        b"Subject: CHEAP VIAGRA!!! CLICK NOW\r\n"
        b"Date: Mon, 21 Sep 2026 09:13:20 -0500\r\nMessage-ID: <x@b.example>\r\n"
        b"\r\nBuy cheap viagra now! 100% FREE! CLICK NOW!!!\r\n")


def test_multipart_cannot_bend_the_mail(stack):
    """The same through multipart/form-data: a part value with CRLF in a
    one-line field is refused; in the multiline field it stays body text."""
    fp, ng, smtpd = stack
    empty_file = {"attachment": ("", b"", "application/octet-stream")}
    r = post_form(ng.url("/formpost/raw"),
                  {"name": "Taro\r\nBcc: evil@example.net", "email": "t@example.jp",
                   "subject": "s", "message": "m"},
                  files=empty_file, accept="application/json")
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["name"]
    message = "line\r\nBcc: evil@example.net\r\n.\r\nTo: evil@example.net"
    r = post_form(ng.url("/formpost/raw"),
                  {"name": "=?UTF-8?Q?Bcc=3A_evil=40example=2Enet?=",
                   "email": "t@example.jp", "subject": "Bcc: evil@example.net",
                   "message": message},
                  files=empty_file, accept="application/json")
    assert r.status_code == 200, r.text
    env, raw, msg = received(smtpd, 1)
    check_common(env, raw, msg, HEADERS_RAW, RCPT_RAW, r.json()["id"])
    assert str(msg["Subject"]) == "Bcc: evil@example.net"
    assert (msg["Reply-To"].addresses[0].display_name ==
            "=?UTF-8?Q?Bcc=3A_evil=40example=2Enet?=")
    assert msg.get_payload(decode=True).decode() == message + "\r\n"
