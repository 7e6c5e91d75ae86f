"""The readable id (doc/design.md "The id"): new submissions get
XXXX-XXXX-XXXX everywhere a person sees it, and mail spooled by 0.1.0
(20-character base64url ids) is still delivered, listed and addressable
after an upgrade."""
import hashlib
import json
import re
import time
from pathlib import Path

from harness import ID_RE, body_text, formpost_cli, post_form, wait_for

FIELDS = {"name": "山田 太郎", "email": "taro@example.jp", "message": "お問い合わせです。"}


def spool_010(mid, rcpt, state="pending", code=0, reply=""):
    """A spool file exactly as formpost 0.1.0 wrote it (format version 1,
    src/spool.h; unchanged since): the wire bytes carry the old id in
    their Message-ID."""
    data = ("From: Example Web <noreply@example.com>\r\n"
            "To: info@example.com\r\n"
            f"Subject: =?UTF-8?B?5pen44GE?= {mid}\r\n"
            "Date: Mon, 01 Dec 2025 10:00:00 +0900\r\n"
            f"Message-ID: <{mid}@example.com>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            f"old message {mid}\r\n").encode()
    head = (f"formpost-spool 1\nid {mid}\nsite example\ncreated {int(time.time()) - 60}\n"
            f"sender noreply@example.com\nattempts 1\nnext-try 0\nreply {reply}\n"
            f"rcpt {state} {code} {rcpt} {reply}\n")
    raw = head.encode() + f"size {len(data)}\n\n".encode() + data
    return raw + f"end {hashlib.sha256(raw).hexdigest()}\n".encode()


def message_ids(smtpd):
    return [m["Message-ID"] for _, m in smtpd.messages()]


def test_upgrade_from_010_spool(formpost_factory, formpost_config, smtpd):
    sp = Path(formpost_config["spool"])
    for sub in ("tmp", "queue", "failed", "corrupt"):
        (sp / sub).mkdir(mode=0o700, exist_ok=True)
    queued, failed, dropped = ("_yqZi-ORzQMt5TAW040x", "-QvA7xk0lIO_9mZ2bYc1",
                               "AbCdEfGhIjKlMnOpQrSt")
    (sp / "queue" / queued).write_bytes(spool_010(queued, "info@example.com"))
    for mid in (failed, dropped):
        (sp / "failed" / mid).write_bytes(spool_010(
            mid, "info@example.com", "failed", 550, "550 5.1.1 no such user"))

    fp = formpost_factory(formpost_config)
    # Delivered as it was spooled: the old id in the Message-ID and log.
    smtpd.wait(1)
    assert message_ids(smtpd) == [f"<{queued}@example.com>"]
    wait_for(lambda: fp.events(event="delivered", id=queued), 10, "delivered")
    wait_for(lambda: not (sp / "queue" / queued).exists(), 10, "queue/ emptied")

    # Listed, and addressable by the queue commands exactly as written.
    p = formpost_cli(["queue", "list", "--json"], config_path=fp.config_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(m["id"] for m in json.loads(p.stdout)["failed"]) == sorted(
        [failed, dropped])
    p = formpost_cli(["queue", "retry", failed], config_path=fp.config_path)
    assert p.returncode == 0, p.stdout + p.stderr
    smtpd.wait(2)
    assert f"<{failed}@example.com>" in message_ids(smtpd)
    # Old ids are case-sensitive: the lowercase form names nothing.
    p = formpost_cli(["queue", "drop", dropped.lower()], config_path=fp.config_path)
    assert p.returncode == 1 and (sp / "failed" / dropped).exists()
    p = formpost_cli(["queue", "drop", dropped], config_path=fp.config_path)
    assert p.returncode == 0 and not (sp / "failed" / dropped).exists(), p.stdout
    assert list((sp / "corrupt").iterdir()) == []


def test_new_id_everywhere_and_typed_forms(formpost_factory, nginx_factory,
                                          formpost_config, smtpd):
    """JSON id = thanks page's 受付番号 form = Message-ID local part = log
    id= = the mail footer; queue commands take it in any case, without
    hyphens, with O/I/L typed for 0/1."""
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    r = post_form(ng.url("/formpost/example"), FIELDS, accept="application/json")
    assert r.status_code == 200, r.text
    mid = r.json()["id"]
    assert re.fullmatch(ID_RE, mid)
    smtpd.wait(1)
    msg = smtpd.messages()[0][1]
    assert msg["Message-ID"] == f"<{mid}@example.com>"
    assert mid in body_text(msg)
    assert fp.events(event="accepted", id=mid)
    wait_for(lambda: fp.events(event="delivered", id=mid), 10, "delivered")
    r = post_form(ng.url("/formpost/example"), dict(FIELDS, message="二通目"))
    assert r.status_code == 200
    page_id = re.search(r'class="ref">(' + ID_RE + ")<", r.text).group(1)
    assert page_id != mid

    # A message in failed/ under a new id, addressed as a person types it.
    sp = Path(formpost_config["spool"])
    new = "K3M9-7QXA-2BTD"
    (sp / "failed" / new).write_bytes(spool_010(
        new, "info@example.com", "failed", 550, "550 5.1.1 no such user"))
    typed = "k3m97qxa2btd"
    p = formpost_cli(["queue", "drop", typed], config_path=fp.config_path)
    assert p.returncode == 0 and f"{new}: removed from failed/" in p.stdout, p.stdout
    (sp / "failed" / "1100-0011-0000").write_bytes(spool_010(
        "1100-0011-0000", "info@example.com", "failed", 550, "550 5.1.1 x"))
    p = formpost_cli(["queue", "retry", "iLoo-OOil-oooo"], config_path=fp.config_path)
    assert p.returncode == 0, p.stdout + p.stderr
    smtpd.wait(3)
    p = formpost_cli(["queue", "drop", "K3M9-7QXA-2BTU"], config_path=fp.config_path)
    assert p.returncode == 1 and "is not a message id" in p.stdout
