"""`make run` (tests/demo.py) and its files.  The demo runs here with
formpost_stub.py in place of the binary (on other ports, in tmp_path), which
proves everything around formpost: the catcher, nginx, the static form,
routing to the FastCGI socket, Ctrl-C cleanup and the error paths."""

import os
import re
import signal
import smtplib
import socket
import subprocess
import time
from html.parser import HTMLParser

import pytest
import requests
import yaml

import harness
from harness import PYTHON, REPO, descendants, free_ports, pid_alive

DEMO = REPO / "tests" / "demo.py"
CONFIG = REPO / "conf" / "demo" / "formpost.yaml"
WWW = REPO / "conf" / "demo" / "www"


def test_demo_config_matches_the_brief():
    cfg = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert cfg["listen"] == "unix:../../run/formpost.sock"
    assert cfg["spool"] == "../../run/spool"
    assert cfg["templates"] == "../../templates"
    assert (CONFIG.parent / cfg["templates"]).resolve() == REPO / "templates"
    (profile,) = cfg["smtp"].values()
    assert profile["url"] == "smtp://127.0.0.1:2525"
    assert profile["starttls"] is False          # plain `off` (YAML 1.1 reading)
    assert "username" not in profile and "password_file" not in profile
    assert list(cfg["sites"]) == ["demo", "demo-en", "jobs", "demo-review"]
    jobs = cfg["sites"]["jobs"]
    files = [f for f in jobs["fields"].values() if f.get("type") == "file"]
    assert files and all(f["accept"] and f["max"] for f in files)
    assert cfg["sites"]["demo-review"]["confirm"] is True
    site = cfg["sites"]["demo"]
    assert site["lang"] == "ja"
    assert "http://127.0.0.1:8080" in site["origins"]
    assert list(site["fields"]) == ["name", "email", "phone", "message"]
    assert all(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", f["label"])
               for f in site["fields"].values())
    en = cfg["sites"]["demo-en"]
    assert en["lang"] == "en" and en["token"]["required"] is True
    assert en["origins"] == site["origins"]
    assert {f.get("type", "text") for f in en["fields"].values()} >= {
        "text", "email", "select", "multiline", "checkbox"}
    for s in cfg["sites"].values():
        assert set(s["smtp"]) <= set(cfg["smtp"])
        assert s["origins"] == site["origins"]
    events = list(yaml.parse(CONFIG.read_text(encoding="utf-8")))
    assert not any(getattr(e, "anchor", None) for e in events)   # no anchors/aliases


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self.inputs, self.meta = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(a)
        elif tag in ("input", "textarea", "select"):
            self.inputs.append(a)
        elif tag == "meta":
            self.meta.append(a)


def test_demo_forms_post_the_configured_fields():
    cfg = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["sites"]
    for page, site in (("ja.html", "demo"), ("ja-fetch.html", "demo"),
                       ("ja-review.html", "demo-review"),
                       ("ja-review-fetch.html", "demo-review"),
                       ("en.html", "demo-en"), ("en-fetch.html", "demo-en")):
        p = FormParser()
        p.feed((WWW / page).read_text(encoding="utf-8"))
        (form,) = p.forms
        assert form["method"] == "post" and form["action"] == f"/formpost/{site}"
        assert form["accept-charset"] == "UTF-8"
        names = [i["name"] for i in p.inputs if i.get("type") != "hidden"]
        assert list(dict.fromkeys(names)) == list(cfg[site]["fields"]) + [cfg[site]["honeypot"]]
        assert ("_token" in [i["name"] for i in p.inputs]) == (site == "demo-en")
        assert ("data-fp-fetch" in form) == page.endswith("-fetch.html")
        assert any(m.get("name") == "viewport" for m in p.meta)
        assert any(m.get("charset") == "UTF-8" for m in p.meta)


def test_demo_pages_are_what_formpost_form_prints():
    """The demo's form pages are `formpost form` output (the tool rewrites
    them); a change to the generator or the demo config without them fails."""
    p = subprocess.run([PYTHON, REPO / "tests" / "tools" / "demo_forms.py", "--check"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_demo_index_lists_both_languages_and_both_kinds():
    p = LinkParser()
    p.feed((WWW / "index.html").read_text(encoding="utf-8"))
    assert p.links == ["/ja.html", "/ja-fetch.html", "/jobs.html",
                       "/ja-review.html", "/ja-review-fetch.html", "/en.html",
                       "/en-fetch.html"]
    assert all((WWW / link.lstrip("/")).is_file() for link in p.links)


class LinkParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs)["href"])


def demo_setup(tmp_path):
    """A copy of the demo config under tmp_path/conf/demo with free ports."""
    http, smtp = free_ports(2)
    text = CONFIG.read_text(encoding="utf-8")
    text = text.replace(":2525", f":{smtp}").replace(":8080", f":{http}")
    conf = tmp_path / "conf" / "demo"
    conf.mkdir(parents=True)
    (conf / "formpost.yaml").write_text(text, encoding="utf-8")
    argv = [PYTHON, DEMO, "--config", conf / "formpost.yaml",
            "--formpost", harness.HERE / "formpost_stub.py", "--www", WWW,
            "--http-port", http, "--smtp-port", smtp,
            "--mail-dir", tmp_path / "demo-mail", "--run-dir", tmp_path / "run"]
    return argv, http, smtp


def port_free(port):
    """Nobody listens on port (TIME_WAIT leftovers do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def read_until(proc, pattern, timeout=20):
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.read_line(max(0.1, deadline - time.monotonic()))
        lines.append(line)
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"no /{pattern}/ in demo output:\n" + "\n".join(lines))


def test_demo_runs_and_ctrl_c_stops_everything(tmp_path):
    argv, http, smtp = demo_setup(tmp_path)
    demo = harness.Proc(argv, tmp_path / "demo.err", stdout="pipe")
    try:
        out = read_until(demo, r"Press Ctrl-C")
        assert f"http://127.0.0.1:{http}/" in "\n".join(out)
        assert str(tmp_path / "demo-mail") in "\n".join(out)

        r = requests.get(f"http://127.0.0.1:{http}/", timeout=5)
        assert r.status_code == 200 and 'href="/ja-fetch.html"' in r.text
        r = requests.get(f"http://127.0.0.1:{http}/ja.html", timeout=5)
        assert r.status_code == 200 and 'action="/formpost/demo"' in r.text
        r = harness.post_form(f"http://127.0.0.1:{http}/formpost/demo",
                              {"name": "山田"}, origin=f"http://127.0.0.1:{http}")
        assert r.status_code == 200
        assert r.json()["params"]["SCRIPT_NAME"] == "/formpost/demo"
        assert (tmp_path / "run" / "formpost.sock").exists()

        with smtplib.SMTP("127.0.0.1", smtp, timeout=5) as s:
            s.sendmail("noreply@demo.example", ["owner@demo.example"],
                       b"Subject: demo test\r\n\r\nhello\r\n")
        read_until(demo, r"mail: .*000001\.eml\s+Subject: demo test")
        assert (tmp_path / "demo-mail" / "000001.eml").read_bytes().endswith(b"hello\r\n")

        kids = descendants(demo.pid)
        assert len(kids) >= 4          # smtpd, stub, nginx master + workers
        demo.popen.send_signal(signal.SIGINT)
        assert demo.popen.wait(20) == 0, harness.tail(demo.log)
        assert [k for k in kids if pid_alive(k)] == []
        assert port_free(http) and port_free(smtp)
    finally:
        leftovers = descendants(demo.pid)
        demo.kill()
        for pid in leftovers:          # only if an assertion failed above
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_demo_without_binary_says_make(tmp_path):
    argv, http, smtp = demo_setup(tmp_path)
    argv[argv.index("--formpost") + 1] = tmp_path / "no-formpost"
    p = subprocess.run(list(map(str, argv)), capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1
    assert "formpost binary not found" in p.stderr and "make" in p.stderr
    assert port_free(http) and port_free(smtp)


def test_demo_reports_formpost_failure_and_cleans_up(tmp_path, monkeypatch):
    argv, http, smtp = demo_setup(tmp_path)
    monkeypatch.setenv("STUB_FAIL", "formpost.yaml:12:3: unknown key \"lisen\"")
    p = subprocess.run(list(map(str, argv)), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1
    assert "formpost exited with status 1" in p.stderr
    assert 'unknown key "lisen"' in p.stderr
    assert port_free(http) and port_free(smtp)


def test_demo_refuses_a_busy_port(tmp_path):
    argv, http, smtp = demo_setup(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", http))
        s.listen(1)
        p = subprocess.run(list(map(str, argv)), capture_output=True, text=True,
                           timeout=30)
    assert p.returncode == 1 and "already in use" in p.stderr
    assert port_free(smtp)


def test_demo_killed_hard_leaves_nothing(tmp_path):
    """kill -9 of the demo: its children get SIGTERM (PR_SET_PDEATHSIG)."""
    argv, http, smtp = demo_setup(tmp_path)
    demo = harness.Proc(argv, tmp_path / "demo.err", stdout="pipe")
    read_until(demo, r"Press Ctrl-C")
    kids = descendants(demo.pid)
    assert len(kids) >= 4
    demo.kill()
    try:
        harness.wait_for(lambda: not any(pid_alive(k) for k in kids), 10,
                         "demo children to exit")
    finally:
        for pid in kids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert port_free(http) and port_free(smtp)


def test_demo_with_the_real_formpost(tmp_path):
    """`make run` end to end with the real binary: the demo's own form,
    posted through the demo's nginx, lands as an .eml with the fixed From,
    the visitor as Reply-To and the Japanese text intact."""
    import email
    import email.policy
    argv, http, smtp = demo_setup(tmp_path)
    conf = tmp_path / "conf" / "demo" / "formpost.yaml"
    conf.write_text(conf.read_text(encoding="utf-8").replace(
        "templates: ../../templates", f"templates: {REPO / 'templates'}"), encoding="utf-8")
    argv[argv.index("--formpost") + 1] = REPO / "formpost"
    demo = harness.Proc(argv, tmp_path / "demo.err", stdout="pipe")
    try:
        read_until(demo, r"Press Ctrl-C")
        page = requests.get(f"http://127.0.0.1:{http}/ja.html", timeout=5).text
        p = FormParser()
        p.feed(page)
        names = {i.get("name") for i in p.inputs}
        assert {"name", "email", "phone", "message"} <= names
        fields = {"name": "山田 花子", "email": "hanako@example.jp",
                  "phone": "０３－１２３４－５６７８", "message": "見積もりをお願いします。\n二行目"}
        r = harness.post_form(f"http://127.0.0.1:{http}/formpost/demo", fields,
                              origin=f"http://127.0.0.1:{http}")
        assert r.status_code == 200 and "受付番号" in r.text
        lines = read_until(demo, r"mail: .*\.eml")
        lines += read_until(demo, r"mail: .*\.eml")   # and the receipt
        mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                 for p in sorted((tmp_path / "demo-mail").glob("*.eml"))]
        msg, = [m for m in mails if m["To"] == "owner@demo.example"]
        receipt, = [m for m in mails if m["Auto-Submitted"] == "auto-replied"]
        assert receipt["To"] == "山田 花子 <hanako@example.jp>"
        assert "見積もりをお願いします。" in receipt.get_content()
        assert msg["From"] == "formpost demo <noreply@demo.example>"
        assert msg["Reply-To"] == "山田 花子 <hanako@example.jp>"
        body = msg.get_content()
        assert "山田 花子" in body and "03-1234-5678" in body and "二行目" in body
        assert lines
        # a carrier address: the thanks page says which domain to allow
        r = harness.post_form(f"http://127.0.0.1:{http}/formpost/demo",
                              dict(fields, email="hanako@docomo.ne.jp"),
                              origin=f"http://127.0.0.1:{http}")
        assert r.status_code == 200 and "@demo.example" in r.text
        assert "携帯電話のメールアドレスをお使いの方へ" in r.text
        demo.popen.send_signal(signal.SIGINT)
        assert demo.popen.wait(20) == 0, harness.tail(demo.log)
    finally:
        demo.kill()
