#!/usr/bin/python3
"""Writes the demo's form pages (conf/demo/www/{ja,ja-fetch,jobs,ja-review,
ja-review-fetch,en,en-fetch}.html)
from `formpost form`, so the demo shows exactly what the command prints.

    tests/tools/demo_forms.py           rewrite the pages (after `make`)
    tests/tools/demo_forms.py --check   exit 1 naming each page that differs

Each page is a small shell (title, heading, a line about the form) around
the fragment `formpost form SITE --lang L [--fetch]` prints for the demo
config, between the markers <!-- formpost form ... --> and <!-- /formpost form -->.
"""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
CONFIG = REPO / "conf" / "demo" / "formpost.yaml"
WWW = REPO / "conf" / "demo" / "www"

# file: (site, lang, fetch, title, lead)
PAGES = {
    "ja.html": ("demo", "ja", False, "お問い合わせ",
                "ふつうの POST フォームです。送信すると formpost の受付ページが表示されます。"),
    "ja-fetch.html": ("demo", "ja", True, "お問い合わせ（fetch 版）",
                      "fetch() で送信します。ページを移動せずに、エラーは各項目の下に、受付番号はこの場所に表示されます。"),
    "jobs.html": ("jobs", "ja", False, "応募フォーム",
                  "履歴書（PDF・Word）と写真を添付できます。ファイルは中身で種類を確かめ、メールに添付されます。"),
    "ja-review.html": ("demo-review", "ja", False, "ご相談（確認画面つき）",
                       "送信すると、まず formpost の確認画面に入力内容が表示されます。「送信する」で送られ、「修正する」で戻って直せます。"),
    "ja-review-fetch.html": ("demo-review", "ja", True, "ご相談（確認画面つき・fetch 版）",
                             "fetch() で送信します。確認の内容はこのページの中に表示され、「送信する」で送られます。"),
    "en.html": ("demo-en", "en", False, "Contact us",
                "A plain POST form with the fill-time token: sending shows formpost's thanks page."),
    "en-fetch.html": ("demo-en", "en", True, "Contact us (fetch)",
                      "Sent with fetch(): errors appear beside their fields and the reference number here, without leaving the page."),
}

SHELL = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | formpost demo</title>
<style>
body{{margin:0;background:#f5f6f8;color:#1f2328;font:16px/1.7 system-ui,-apple-system,"Hiragino Sans","Noto Sans JP",Meiryo,sans-serif}}
main{{max-width:42rem;margin:0 auto;padding:1.5rem 1rem 3rem}}
h1{{font-size:1.5rem;margin:.5rem 0 .25rem}}
.lead,.nav,footer{{color:#57606a;font-size:.95rem}}
footer{{text-align:center;font-size:.8rem;margin-top:2rem}}
</style>
</head>
<body>
<main>
<p class="nav"><a href="/">formpost demo</a></p>
<h1>{title}</h1>
<p class="lead">{lead}</p>
<!-- {command} -->
{form}<!-- /formpost form -->
<footer>formpost demo: mails land in demo-mail/ as .eml files.</footer>
</main>
</body>
</html>
"""


def command(site, lang, fetch):
    return ["formpost", "form", site, "--lang", lang] + (["--fetch"] if fetch else [])


def render(name, formpost=REPO / "formpost"):
    site, lang, fetch, title, lead = PAGES[name]
    argv = command(site, lang, fetch)
    form = subprocess.run([str(formpost)] + argv[1:] + ["-c", str(CONFIG)],
                          check=True, capture_output=True, text=True).stdout
    return SHELL.format(lang=lang, title=title, lead=lead, form=form,
                        command=" ".join(argv))


def main():
    check = sys.argv[1:] == ["--check"]
    stale = []
    for name in PAGES:
        page = render(name)
        path = WWW / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != page:
                stale.append(name)
        else:
            path.write_text(page, encoding="utf-8")
    if stale:
        print("out of step with `formpost form`: " + ", ".join(stale) +
              "\nrun: make && tests/tools/demo_forms.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
