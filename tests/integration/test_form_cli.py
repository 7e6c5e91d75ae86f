"""`formpost form SITE`: the command's exits and what it prints for hostile
labels, read back with an HTML parser (the browser side is test_browser.py)."""

import subprocess
from html.parser import HTMLParser

from harness import REPO

DEMO = REPO / "conf" / "demo" / "formpost.yaml"
HOSTILE = "</label><script>alert('x')</script>&amp; \"q\""
OPTION = "\"><img src=x onerror=alert(1)>"


def form(*args, config=DEMO):
    return subprocess.run([REPO / "formpost", "form", *args, "-c", config],
                          capture_output=True, text=True, timeout=30)


def hostile_config(tmp_path, token=False):
    esc = HOSTILE.replace("\\", "\\\\").replace('"', '\\"')
    opt = OPTION.replace('"', '\\"')
    cfg = tmp_path / "formpost.yaml"
    cfg.write_text(f"""\
smtp:
  m: {{ url: "smtp://127.0.0.1:25", starttls: off }}
sites:
  evil:
    origins: [https://a.example]
    from: a@a.example
    to: [b@a.example]
    lang: en
    honeypot: fp_extra
    {"token: { required: true }" if token else ""}
    fields:
      x: {{ label: "{esc}", required: true }}
      y: {{ label: "{esc}", type: select, options: ["{opt}", "Tom & 'Jerry'"] }}
""", encoding="utf-8")
    return cfg


class Page(HTMLParser):
    """Elements by tag, and the text inside each <label> and <option>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.texts, self.open = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("label", "option", "script"):
            self.open.append([tag, ""])

    def handle_endtag(self, tag):
        if self.open and self.open[-1][0] == tag:
            self.texts.append(tuple(self.open.pop()))

    def handle_data(self, data):
        for item in self.open:
            item[1] += data


def parse(html):
    p = Page()
    p.feed(html)
    p.close()
    return p


def test_unknown_site_exits_1_naming_the_sites():
    p = form("nosuch")
    assert p.returncode == 1 and p.stdout == ""
    assert 'no site named "nosuch"' in p.stderr
    assert "configured sites: demo, demo-en" in p.stderr


def test_bad_arguments():
    p = form("demo", "--lang", "fr")
    assert p.returncode == 2 and "--lang needs ja or en" in p.stderr
    p = form("demo", "--action", "javascript:alert(1)")
    assert p.returncode == 1 and "--action must be" in p.stderr and p.stdout == ""
    p = form("demo", config=REPO / "no" / "such.yaml")
    assert p.returncode == 1 and "such.yaml" in p.stderr
    p = subprocess.run([REPO / "formpost", "help", "form"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and "--fetch" in p.stdout and "--action" in p.stdout


def test_hostile_labels_come_back_as_text(tmp_path):
    cfg = hostile_config(tmp_path)
    for extra in ([], ["--fetch"]):
        p = form("evil", *extra, config=cfg)
        assert p.returncode == 0, p.stderr
        page = parse(p.stdout)
        scripts = [t for t in page.tags if t[0] == "script"]
        assert len(scripts) == (1 if extra else 0)
        assert not any(t[0] == "img" for t in page.tags)
        assert not any(k.startswith("on") for _, a in page.tags for k in a)
        labels = [text for tag, text in page.texts if tag == "label"]
        assert labels[:2] == [HOSTILE + "required", HOSTILE + "optional"]
        options = [(a.get("value")) for t, a in page.tags if t == "option"]
        assert options == ["", OPTION, "Tom & 'Jerry'"]
        (f,) = [a for t, a in page.tags if t == "form"]
        assert f["action"] == "/formpost/evil" and f["accept-charset"] == "UTF-8"


def test_token_site_gets_the_token_script(tmp_path):
    p = form("evil", "--action", "https://forms.example.com/fp/evil",
             config=hostile_config(tmp_path, token=True))
    assert p.returncode == 0, p.stderr
    page = parse(p.stdout)
    (f,) = [a for t, a in page.tags if t == "form"]
    assert f["data-fp-token"] == "https://forms.example.com/fp/evil/token"
    assert f["data-fp-min-age"] == "3" and f["data-fp-max-age"] == "7200"
    assert ("input", {"type": "hidden", "name": "_token", "value": ""}) in page.tags
    assert sum(t == "script" for t, _ in page.tags) == 1
