"""formpost serve under valgrind's memcheck, through real nginx and the
real SMTP server: a valid post delivered (libcurl, STARTTLS, AUTH), a
422, a honeypot post, a refused origin, the review step with an upload
held in hold/ and then sent, an auto-reply, a /_metrics scrape, a reload
and a clean stop.  Any invalid read or write, use of uninitialised
memory, or definite leak fails the test (valgrind's error exit status
and its log), the way the unit programs are checked by tests/run.py.
Then the command line (check, queue list/check/show/purge) over the same
spool, under memcheck too."""
import copy
import html.parser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from harness import REPO, formpost_binary, post_form

VALGRIND = shutil.which("valgrind")
PDF = (REPO / "tests/fixtures/attach/ok.pdf").read_bytes()
TEXT = {"name": "山田 太郎", "email": "taro@example.jp"}


class Hidden(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.pairs = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.pairs.append((a["name"], a.get("value", "")))


def config(base, public_dir):
    c = copy.deepcopy(base)
    c["listen"] = f"unix:{public_dir / 'vg.sock'}"
    c["socket_group"] = "www-data"
    c["metrics"] = {"allow": ["127.0.0.1"]}
    ex = c["sites"]["example"]
    ex["honeypot"] = "website"
    ex["auto_reply"] = {"echo": ["name"]}
    jobs = copy.deepcopy(ex)
    del jobs["honeypot"], jobs["auto_reply"]
    jobs["confirm"] = True
    jobs["max_body"] = "2M"
    jobs["fields"] = {
        "name": {"label": "お名前", "required": True, "max": 100},
        "email": {"label": "メールアドレス", "type": "email",
                  "required": True, "reply_to": True},
        "resume": {"label": "履歴書", "type": "file", "required": True,
                   "accept": ["pdf"], "max": "1M"},
    }
    c["sites"]["jobs"] = jobs
    return c


@pytest.mark.skipif(VALGRIND is None, reason="valgrind is installed by tests/deps.sh")
def test_serve_is_memcheck_clean(formpost_factory, nginx_factory, formpost_config,
                                 smtpd, public_dir, tmp_path):
    log = tmp_path / "valgrind.log"
    fp = formpost_factory(
        config(formpost_config, public_dir), timeout=120,
        prefix=(VALGRIND, "-q", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite", "--track-fds=no",
                f"--log-file={log}"))
    assert "memcheck" in Path(f"/proc/{fp.pid}/exe").resolve().name
    ng = nginx_factory(fp.target, extra_server="client_max_body_size 8m;")
    ex, jobs = ng.url("/formpost/example"), ng.url("/formpost/jobs")

    r = post_form(ex, dict(TEXT, message="在庫はありますか"), accept="application/json",
                  timeout=60)
    assert r.status_code == 200, r.text
    first_id = r.json()["id"]
    r = post_form(ex, dict(TEXT, email="not-an-address", message="x"), timeout=60)
    assert r.status_code == 422
    r = post_form(ex, dict(TEXT, message="spam", website="http://spam.example"),
                  timeout=60)
    assert r.status_code in (200, 303)
    r = post_form(ex, dict(TEXT, message="x"), origin="https://evil.example",
                  timeout=60)
    assert r.status_code == 403
    # the review step: the upload waits in hold/, then goes out
    r = post_form(jobs, dict(TEXT), files={"resume": ("cv.pdf", PDF, "application/pdf")},
                  timeout=60)
    assert r.status_code == 200 and "cv.pdf" in r.text, r.text
    r = post_form(jobs, Hidden(r.text).pairs, timeout=60)
    assert r.status_code == 200 and "受付番号" in r.text, r.text
    # owner + receipt for example, owner for jobs
    assert smtpd.wait(3, timeout=120), "mail not delivered under valgrind"
    m = requests.get(ng.url("/formpost/_metrics"), timeout=60)
    assert m.status_code == 200 and "formpost_posts_total" in m.text
    fp.reload()
    fp.wait_log(r"event=reloaded", timeout=60)
    r = post_form(ex, dict(TEXT, message="再読み込み後"), accept="application/json",
                  timeout=60)
    assert r.status_code == 200, r.text
    assert smtpd.wait(5, timeout=120)
    fp.stop(timeout=120)        # valgrind's exit status: 99 on any error
    report = log.read_text()
    assert fp.log_lines(), "formpost under valgrind logged nothing"
    assert not re.search(r"Invalid (read|write)|uninitialised|definitely lost",
                         report), report[-6000:]

    # the command line over the same spool and config
    for args in (["check"], ["queue", "list", "--json"], ["queue", "check"],
                 ["queue", "show", first_id, "--json"], ["queue", "purge"]):
        p = subprocess.run([VALGRIND, "-q", "--error-exitcode=99", "--leak-check=full",
                            "--errors-for-leak-kinds=definite", str(formpost_binary()),
                            *args, "-c", str(fp.config_path)],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode != 99, (args, p.stderr[-4000:])
        assert "ERROR SUMMARY" not in p.stderr or " 0 errors" in p.stderr, p.stderr
