"""Attachments through the review step (doc/design.md "The review step"):
a file posted to a `confirm: true` site is held in the spool's hold/
under a name the server chose, the review page carries a signed
reference to it, and 送信する mails it byte for byte and empties hold/.
Through real nginx (and Apache for one case) with a real SMTP server;
the mail is parsed back with Python's email package.  Whatever is
tampered with, nothing is sent and no held file is opened (watched with
inotify)."""
import base64
import ctypes
import ctypes.util
import email
import email.policy
import html.parser
import os
import re
import struct
import time
from pathlib import Path

import pytest

from harness import post_form, wait_for

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests/fixtures/attach"
PDF = (SAMPLES / "ok.pdf").read_bytes()
JPG = (SAMPLES / "ok.jpg").read_bytes()
PNG = (SAMPLES / "ok.png").read_bytes()
TEXT = {"name": "山田 太郎", "email": "taro@example.jp"}
REF_RE = r"[A-Za-z0-9_-]{120}\..+"


class Inputs(html.parser.HTMLParser):
    """Every <input> of a page as (name, value, type)."""

    def __init__(self, text):
        super().__init__()
        self.inputs = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "input":
            a = dict(attrs)
            self.inputs.append((a.get("name"), a.get("value", ""),
                                a.get("type")))

    def hidden(self):
        return [(n, v) for n, v, t in self.inputs if t == "hidden"]


def configure(cfg, public_dir, token=None, limits=None):
    cfg["listen"] = f"unix:{public_dir / 'fp.sock'}"
    cfg["socket_group"] = "www-data"
    site = cfg["sites"]["example"]
    site["confirm"] = True
    site["max_body"] = "2M"
    site["fields"] = {
        "name": {"label": "お名前", "required": True, "max": 100},
        "email": {"label": "メールアドレス", "type": "email",
                  "required": True, "reply_to": True},
        "resume": {"label": "履歴書", "type": "file", "required": True,
                   "accept": ["pdf", "docx", "jpg"], "max": "1M"},
        "photo": {"label": "写真", "type": "file",
                  "accept": ["jpg", "png"], "max": "64k"},
    }
    if token:
        site["token"] = token
    if limits:
        cfg.setdefault("limits", {}).update(limits)
    return cfg


@pytest.fixture
def stack(formpost_config, formpost_factory, nginx_factory, apache_factory,
          smtpd, public_dir):
    def make(token=None, limits=None, apache=False):
        fp = formpost_factory(configure(formpost_config, public_dir, token,
                                        limits))
        web = (apache_factory(fp.target) if apache else
               nginx_factory(fp.target,
                             extra_server="client_max_body_size 64m;"))
        return fp, web
    return make


def url(web):
    return web.url("/formpost/example")


def hold_dir(fp):
    return Path(fp.config["spool"]) / "hold"


def held(fp):
    return sorted(p.name for p in hold_dir(fp).iterdir())


def first(web, files, fields=TEXT, **kw):
    r = post_form(url(web), dict(fields), files=files, **kw)
    assert r.status_code == 200, r.text
    return r


def resume_files(data=PDF, name="履歴書（山田）.pdf"):
    return {"resume": (name, data, "application/pdf")}


def received(smtpd, n):
    assert smtpd.wait(n), "mail not delivered"
    return email.message_from_bytes(smtpd.raw_messages()[n - 1][1],
                                    policy=email.policy.default)


class Opens:
    """inotify on hold/: the names of files opened there (not the
    directory itself, which every hold and sweep reads)."""
    IN_OPEN, IN_NONBLOCK, IN_ISDIR = 0x20, 0o4000, 0x40000000

    def __init__(self, path):
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"),
                                use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        assert self.fd >= 0
        assert self.libc.inotify_add_watch(self.fd, str(path).encode(),
                                           self.IN_OPEN) >= 0

    def names(self):
        out = []
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return out
            i = 0
            while i < len(buf):
                _, mask, _, n = struct.unpack_from("iIII", buf, i)
                name = buf[i + 16:i + 16 + n].rstrip(b"\0").decode()
                if name and not mask & self.IN_ISDIR:
                    out.append(name)
                i += 16 + n

    def close(self):
        os.close(self.fd)


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_review_then_send_carries_the_files(stack, smtpd, server):
    fp, web = stack(apache=server == "apache")
    r = first(web, {**resume_files(),
                    "photo": ("写真.jpg", JPG, "image/jpeg")})
    hidden = dict(Inputs(r.text).hidden())
    # The review page names each file with its size; the hidden inputs
    # carry references, never the files.
    assert "履歴書（山田）.pdf" in r.text and "写真.jpg" in r.text
    assert f"（{len(PDF)} B）" in r.text or "KB）" in r.text
    assert re.fullmatch(REF_RE, hidden["resume"])
    assert hidden["resume"].endswith(".履歴書（山田）.pdf")
    assert re.fullmatch(REF_RE, hidden["photo"])
    names = held(fp)
    assert len(names) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", n)
                                   for n in names)
    for n in names:
        st = (hold_dir(fp) / n).stat()
        assert st.st_mode & 0o777 == 0o600
    assert sorted((hold_dir(fp) / n).read_bytes() for n in names) == \
        sorted([PDF, JPG])
    time.sleep(0.3)
    assert smtpd.count() == 0

    r = post_form(url(web), list(hidden.items()))
    assert r.status_code == 200 and "受付番号" in r.text, r.text
    msg = received(smtpd, 1)
    assert not msg.defects
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "application/pdf", "image/jpeg"]
    assert parts[1].get_filename() == "履歴書（山田）.pdf"
    assert parts[1].get_content() == PDF
    assert parts[2].get_filename() == "写真.jpg"
    assert parts[2].get_content() == JPG
    assert held(fp) == []
    assert not any((Path(fp.config["spool"]) / "tmp").iterdir())
    # A second click on 送信する: the first answer, no second mail.
    r2 = post_form(url(web), list(hidden.items()))
    assert r2.status_code == 200
    time.sleep(0.5)
    assert smtpd.count() == 1


def test_json_review_lists_files_and_sends(stack, smtpd):
    fp, web = stack()
    r = first(web, resume_files(name="cv.pdf"), accept="application/json")
    j = r.json()
    assert j["ok"] is True and len(j["confirm"]) == 120
    f = {x["name"]: x for x in j["fields"]}
    assert f["resume"]["label"] == "履歴書"
    assert f["resume"]["value"] == "cv.pdf"
    assert f["resume"]["size"] == len(PDF)
    assert re.fullmatch(REF_RE, f["resume"]["hold"])
    assert "hold" not in f["photo"] and "hold" not in f["name"]
    send = dict(TEXT, resume=f["resume"]["hold"], _confirm=j["confirm"])
    r = post_form(url(web), send, accept="application/json")
    assert r.status_code == 200 and r.json()["ok"] is True
    assert received(smtpd, 1).get_payload()[1].get_content() == PDF
    assert held(fp) == []


def test_back_keeps_the_file(stack, smtpd):
    fp, web = stack()
    r = first(web, resume_files())
    hidden = Inputs(r.text).hidden()
    ref = dict(hidden)["resume"]
    r = post_form(url(web), hidden + [("_back", "1")])
    assert r.status_code == 200
    page = Inputs(r.text)
    # The form again: the held file named with its size, its reference
    # kept, and a file input to replace it.
    assert "添付済み: 履歴書（山田）.pdf" in r.text
    assert ("resume", ref, "hidden") in page.inputs
    assert ("resume", "", "file") in page.inputs
    assert 'enctype="multipart/form-data"' in r.text
    assert len(held(fp)) == 1
    # Posted again with no new file chosen (the browser sends an empty
    # file part): the same held file is reviewed again, not held twice.
    fields = [(n, v) for n, v, t in page.inputs
              if n and t != "file" and n in ("name", "email", "resume")]
    r = post_form(url(web), fields,
                  files={"resume": ("", b"", "application/octet-stream")})
    assert r.status_code == 200 and "_confirm" in r.text, r.text
    again = dict(Inputs(r.text).hidden())
    assert again["resume"] == ref and len(held(fp)) == 1
    r = post_form(url(web), list(again.items()))
    assert r.status_code == 200 and "受付番号" in r.text
    assert received(smtpd, 1).get_payload()[1].get_content() == PDF
    assert held(fp) == []


@pytest.mark.parametrize("back", [False, True])
def test_replacing_the_file_on_the_second_post(stack, smtpd, back):
    fp, web = stack()
    r = first(web, {**resume_files(), "photo": ("a.png", PNG, "image/png")})
    hidden = dict(Inputs(r.text).hidden())
    old = set(held(fp))
    # 送信する with a new file for photo: a new review page, nothing sent.
    # (the old reference travels too, as from the edit page's form)
    r = post_form(url(web), list(hidden.items()),
                  files={"photo": ("b.jpg", JPG, "image/jpeg")})
    assert r.status_code == 200 and "_confirm" in r.text, r.text
    again = dict(Inputs(r.text).hidden())
    assert again["resume"] == hidden["resume"]
    assert again["photo"] != hidden["photo"] and again["photo"].endswith(
        ".b.jpg")
    assert len(held(fp)) == 3 and old < set(held(fp))
    assert fp.events(event="review", reason="confirm_changed")
    time.sleep(0.3)
    assert smtpd.count() == 0
    if back:
        # The browser's back button to the first review page, 送信する:
        # the replaced file is still held, and that page's values go.
        r = post_form(url(web), list(hidden.items()))
        assert r.status_code == 200 and "受付番号" in r.text
        parts = received(smtpd, 1).get_payload()
        assert parts[2].get_content() == PNG
        # Both pages share one nonce: the newer one sends nothing more.
        r = post_form(url(web), list(again.items()))
        assert r.status_code == 200
        time.sleep(0.5)
        assert smtpd.count() == 1
        # Its upload stays until it expires.
        assert [(hold_dir(fp) / n).read_bytes() for n in held(fp)] == [JPG]
        return
    r = post_form(url(web), list(again.items()))
    assert r.status_code == 200 and "受付番号" in r.text
    parts = received(smtpd, 1).get_payload()
    assert parts[1].get_content() == PDF and parts[2].get_content() == JPG
    assert parts[2].get_filename() == "b.jpg"
    # The sent files are gone; the replaced one stays until it expires.
    assert [(hold_dir(fp) / n).read_bytes() for n in held(fp)] == [PNG]


def flip(ref):
    raw = bytearray(base64.urlsafe_b64decode(ref[:120]))
    raw[12] ^= 1                         # a bit of the name
    return base64.urlsafe_b64encode(bytes(raw)).decode() + ref[120:]


def test_tampered_references_and_confirm_send_and_open_nothing(stack, smtpd):
    fp, web = stack()
    other = dict(Inputs(first(web, resume_files(name="other.pdf")).text)
                 .hidden())
    r = first(web, resume_files())
    hidden = dict(Inputs(r.text).hidden())
    ref = hidden["resume"]
    opens = Opens(hold_dir(fp))
    try:
        bad_refs = [flip(ref), "../" * 10 + "etc/passwd",
                    ref[:121] + "../../token.key", ref + "x" * 600,
                    ref[:121] + "evil.pdf", ref[:-1], held(fp)[0],
                    ref.replace(".", "/", 1)]
        posts = [{**hidden, "resume": bad} for bad in bad_refs]
        # A reference is good for its own field only.
        posts.append({**hidden, "photo": ref})
        # With a genuine _confirm the visitor may have done nothing wrong
        # (a custom page, a copy and paste): the field asks for the
        # file again, the other values kept.
        for fields in posts:
            r = post_form(url(web), list(fields.items()))
            assert r.status_code == 422, r.text
            assert "もう一度選んでください" in r.text and "山田 太郎" in r.text
        ev = fp.events(event="hold_refused", reason="hold_invalid")
        assert len(ev) == len(posts)
        # Another genuine reference is a change: a new review page.
        r = post_form(url(web),
                      list({**hidden, "resume": other["resume"]}.items()))
        assert r.status_code == 200 and "_confirm" in r.text
        # A forged _confirm, with the genuine reference or a bad one: the
        # quiet answer, before any reference is looked at.
        conf = bytearray(base64.urlsafe_b64decode(hidden["_confirm"]))
        conf[30] ^= 1                    # the site MAC
        forged = base64.urlsafe_b64encode(bytes(conf)).decode()
        for res in (ref, flip(ref)):
            r = post_form(url(web), list({**hidden, "_confirm": forged,
                                          "resume": res}.items()))
            assert r.status_code == 200 and "受付番号" in r.text
        assert len(fp.events(event="discarded",
                             reason="confirm_invalid")) == 2
        time.sleep(0.5)
        assert smtpd.count() == 0
        assert opens.names() == []
        assert len(held(fp)) == 2
        # The genuine post still goes, and only it opens its file.
        r = post_form(url(web), list(hidden.items()))
        assert r.status_code == 200
        assert received(smtpd, 1).get_payload()[1].get_content() == PDF
        assert len(set(opens.names())) == 1
    finally:
        opens.close()


def test_expired_hold_is_swept_and_answered_like_an_expired_token(
        stack, smtpd):
    fp, web = stack(token={"max_age": "2s", "min_age": "0s"})
    hidden = dict(Inputs(first(web, resume_files()).text).hidden())
    gone = held(fp)
    time.sleep(3.2)
    # The next hold sweeps what is older than token.max_age.
    first(web, resume_files(name="later.pdf"))
    assert not set(gone) & set(held(fp)) and len(held(fp)) == 1
    r = post_form(url(web), list(hidden.items()))
    assert r.status_code == 200 and "受付番号" in r.text
    assert fp.events(event="discarded", reason="confirm_expired")
    time.sleep(0.5)
    assert smtpd.count() == 0


def test_stale_holds_are_removed_at_start(formpost_config, formpost_factory,
                                          public_dir):
    cfg = configure(formpost_config, public_dir)
    spool = Path(cfg["spool"])
    (spool / "hold").mkdir(parents=True, mode=0o700)
    spool.chmod(0o700)
    stale, fresh = spool / "hold" / ("a" * 32), spool / "hold" / ("b" * 32)
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(stale, (time.time() - 3 * 3600, time.time() - 3 * 3600))
    fp = formpost_factory(cfg)
    # The sweep unlinks, then logs the count (src/hold.c, src/ops.c): the
    # line is what says it is done.
    wait_for(lambda: fp.events(event="hold_expired"), 10, "event=hold_expired")
    assert not stale.exists() and fresh.exists()
    assert fp.events(event="hold_expired", removed="1")


def test_hold_caps_answer_503(stack, smtpd):
    fp, web = stack(limits={"spool_max_held": 2,
                            "spool_max_held_bytes": "1M"})
    first(web, resume_files())
    first(web, resume_files(name="b.pdf"))
    r = post_form(url(web), dict(TEXT), files=resume_files(name="c.pdf"),
                  accept="application/json")
    assert r.status_code == 503 and r.json()["error"] == "hold_full"
    assert len(held(fp)) == 2
    assert fp.events(status="503", reason="hold_full")


def test_each_review_site_keeps_its_share_of_hold(
        formpost_config, formpost_factory, nginx_factory, smtpd, public_dir):
    """Two sites hold uploads: spool_max_held 4 gives each 2, so a flood
    of first steps on one leaves the other its room; the names say whose
    they are (the site's tag, then the random part)."""
    configure(formpost_config, public_dir, limits={"spool_max_held": 4})
    formpost_config["sites"]["shop"] = dict(formpost_config["sites"]["example"])
    fp = formpost_factory(formpost_config)
    web = nginx_factory(fp.target, extra_server="client_max_body_size 64m;")
    for name in ("a.pdf", "b.pdf"):
        first(web, resume_files(name=name))
    r = post_form(url(web), dict(TEXT), files=resume_files(name="c.pdf"),
                  accept="application/json")
    assert r.status_code == 503 and r.json()["error"] == "hold_full"
    assert len(held(fp)) == 2
    shop = post_form(web.url("/formpost/shop"), dict(TEXT),
                     files=resume_files(name="d.pdf"))
    assert shop.status_code == 200, shop.text
    names = held(fp)
    assert len(names) == 3
    tags = sorted(n[:8] for n in names)
    assert len(set(tags)) == 2 and tags.count(tags[0]) in (1, 2)
    assert len({n[8:] for n in names}) == 3


def test_hold_bytes_cap(stack, smtpd):
    fp, web = stack(limits={"spool_max_held_bytes": len(PDF) + 10})
    first(web, resume_files())
    r = post_form(url(web), dict(TEXT), files=resume_files(name="b.pdf"))
    assert r.status_code == 503
    assert len(held(fp)) == 1


def test_label_with_markup_travels_as_text(stack, smtpd):
    fp, web = stack()
    name = "x<i>&'.pdf"
    r = first(web, resume_files(name=name))
    assert "<i>" not in r.text and "&lt;i&gt;" in r.text
    hidden = dict(Inputs(r.text).hidden())
    assert hidden["resume"].endswith("." + name)
    r = post_form(url(web), list(hidden.items()))
    assert r.status_code == 200 and "受付番号" in r.text
    part = received(smtpd, 1).get_payload()[1]
    assert part.get_filename() == name and part.get_content() == PDF


@pytest.mark.parametrize("how", ["missing", "changed"])
def test_lost_hold_after_a_good_confirm_asks_for_the_file(stack, smtpd, how):
    """A held file gone (a crash, a sweep) or altered between the posts:
    _confirm verified, so the visitor did nothing wrong: a 422 asking
    for the file again, the other values kept, never a quiet answer."""
    fp, web = stack()
    hidden = dict(Inputs(first(web, resume_files()).text).hidden())
    (name,) = held(fp)
    if how == "missing":
        (hold_dir(fp) / name).unlink()
    else:
        data = bytearray(PDF)
        data[-10] ^= 1
        (hold_dir(fp) / name).write_bytes(bytes(data))
    r = post_form(url(web), list(hidden.items()))
    assert r.status_code == 422
    assert "履歴書：ファイルの保管期限が切れました" in r.text
    assert 'value="山田 太郎"' in r.text
    assert fp.events(event="hold_lost", reason=f"hold_{how}")
    # The form takes the file again, and then it goes.
    fields = [(n, v) for n, v, t in Inputs(r.text).inputs
              if n in ("name", "email")]
    r = post_form(url(web), fields, files=resume_files())
    hidden = dict(Inputs(r.text).hidden())
    r = post_form(url(web), list(hidden.items()))
    assert r.status_code == 200 and "受付番号" in r.text
    assert smtpd.wait(1) and smtpd.count() == 1
    assert received(smtpd, 1).get_payload()[1].get_content() == PDF


def test_custom_review_page_must_post_the_reference(tmp_path, formpost_config,
                                                    public_dir):
    # A confirm.html written for text fields only (value="{{_value}}"
    # everywhere) would post the file's name and lose every attachment.
    from harness import formpost_cli, write_config
    cfg = configure(formpost_config, public_dir)
    tdir = tmp_path / "tpl"
    tdir.mkdir()
    page = (REPO / "templates/ja/confirm.html").read_text(encoding="utf-8")
    old = page.replace('{{#_is_file}}<input type="hidden" name="{{_name}}" '
                       'value="{{_hold}}">\n{{/_is_file}}', "")
    assert old != page
    (tdir / "confirm.html").write_text(old, encoding="utf-8")
    cfg["sites"]["example"]["templates"] = str(tdir)
    p = formpost_cli(["check"], config_path=write_config(tmp_path / "c.yaml",
                                                         cfg))
    assert p.returncode == 1
    assert "must post each file field's {{_hold}}" in p.stdout + p.stderr


def test_holding_files_has_its_own_rate_limit(
        formpost_config, formpost_factory, nginx_factory, smtpd, public_dir):
    """Review pages give their message slot back (rate_limit counts
    messages), but holding files takes from a budget of its own (the
    site's rate_limit): hold/ is disk, and one client must not fill it."""
    cfg = configure(formpost_config, public_dir)
    cfg["sites"]["example"]["rate_limit"] = "1/10m"
    fp = formpost_factory(cfg)
    web = nginx_factory(fp.target, extra_server="client_max_body_size 64m;")
    hidden = dict(Inputs(first(web, resume_files()).text).hidden())
    # The review page gave its message slot back, but another upload to
    # hold is over the budget: 429, and nothing more held.
    r = post_form(url(web), dict(TEXT), files=resume_files(name="b.pdf"))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert len(held(fp)) == 1
    # The message itself still has its slot.
    r = post_form(url(web), list(hidden.items()))
    assert r.status_code == 200 and "受付番号" in r.text
    assert received(smtpd, 1).get_payload()[1].get_content() == PDF
    assert held(fp) == []


def test_no_orphans_when_a_second_file_does_not_fit(stack, smtpd):
    fp, web = stack(limits={"spool_max_held": 2})
    first(web, resume_files())
    r = post_form(url(web), dict(TEXT), files={
        **resume_files(name="x.pdf"), "photo": ("p.png", PNG, "image/png")})
    assert r.status_code == 503
    assert len(held(fp)) == 1


def test_metrics_count_what_hold_keeps(stack, smtpd, formpost_config):
    """/_metrics shows the uploads waiting in hold/ between a review page
    and its send (files and bytes), and none once the mail is out."""
    from test_ops import sample, scrape
    formpost_config["metrics"] = {"allow": ["127.0.0.1"]}
    fp, web = stack()
    fams, _ = scrape(web)
    assert sample(fams, "formpost_held_uploads") == 0
    r = first(web, {**resume_files(), "photo": ("p.jpg", JPG, "image/jpeg")})
    fams, _ = scrape(web)
    assert sample(fams, "formpost_held_uploads") == 2
    assert sample(fams, "formpost_held_upload_bytes") == len(PDF) + len(JPG)
    r = post_form(url(web), list(dict(Inputs(r.text).hidden()).items()))
    assert r.status_code == 200 and "受付番号" in r.text, r.text
    received(smtpd, 1)
    fams, _ = scrape(web)
    assert sample(fams, "formpost_held_uploads") == 0
    assert sample(fams, "formpost_held_upload_bytes") == 0
