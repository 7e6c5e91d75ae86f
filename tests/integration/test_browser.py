"""The demo's forms in a real browser: headless Chromium (Debian's chromium
and chromium-driver, through python3-selenium) against the real demo stack
(tests/demo.py: nginx, the real formpost, the SMTP catcher) on free ports.

Each form is filled as a visitor would and sent; the thanks page (or the
fetch() form's message) must show, and the mail must reach the catcher.
Screenshots of every step are kept in build/screenshots/."""

import email
import email.policy
import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

import harness
from harness import REPO
from test_demo import WWW, demo_setup, read_until

SHOTS = REPO / "build" / "screenshots"
WAIT = 30          # seconds: generous, the machine is shared


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo with the real formpost; yields (base URL, mail dir)."""
    tmp = tmp_path_factory.mktemp("browser-demo")
    argv, http, _ = demo_setup(tmp)
    conf = tmp / "conf" / "demo" / "formpost.yaml"
    conf.write_text(conf.read_text(encoding="utf-8").replace(
        "templates: ../../templates", f"templates: {REPO / 'templates'}"),
        encoding="utf-8")
    argv[argv.index("--formpost") + 1] = REPO / "formpost"
    argv[argv.index("--www") + 1] = trap_pages(tmp, conf, http)
    proc = harness.Proc(argv, tmp / "demo.err", stdout="pipe")
    try:
        read_until(proc, r"Press Ctrl-C", timeout=60)
        yield f"http://127.0.0.1:{http}", tmp / "demo-mail"
        proc.popen.send_signal(signal.SIGINT)
        assert proc.popen.wait(30) == 0, harness.tail(proc.log)
    finally:
        proc.kill()


def trap_pages(tmp, conf, http):
    """The demo's pages plus two forms on pages with Referrer-Policy
    no-referrer (the README's trap): one posting to its own origin, one
    posting cross-site (page on localhost, formpost on 127.0.0.1)."""
    www = tmp / "www"
    shutil.copytree(WWW, www)
    meta = '<meta name="referrer" content="no-referrer">'
    for name, action, policy in (
            ("trap-same.html", None, meta),
            ("trap-cross.html", f"http://127.0.0.1:{http}/formpost/demo", meta)):
        argv = [REPO / "formpost", "form", "demo", "-c", conf]
        argv += ["--action", action] if action else []
        form = subprocess.run(argv, check=True, capture_output=True,
                              text=True).stdout
        (www / name).write_text(f"<!DOCTYPE html><meta charset=UTF-8>{policy}"
                                f"<title>{name}</title>{form}", encoding="utf-8")
    return www


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1000,1400",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    drv.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield drv
    finally:
        drv.quit()


def shot(drv, name):
    drv.save_screenshot(str(SHOTS / f"{name}.png"))


def wait(drv, cond):
    """Poll cond until it holds.  While a click's navigation replaces the
    document, an element found in the old one may fail as stale or, in
    Chromium 156, as an "unknown error" (the inspector's node no longer
    belongs to the document): both mean "not yet", so polling goes on; a
    condition that never holds still fails at WAIT with the last error."""
    return WebDriverWait(drv, WAIT,
                         ignored_exceptions=(WebDriverException,)).until(cond)


def wait_mail(maildir, marker):
    """The one message to the owner whose text holds marker, parsed (the
    Japanese demo form also sends the visitor a receipt, which may echo
    it)."""
    found = []

    def look():
        for eml in sorted(maildir.glob("*.eml")):
            if not eml.with_suffix(".json").exists():
                continue            # still being written (smtpd.py: .json last)
            msg = email.message_from_bytes(eml.read_bytes(),
                                           policy=email.policy.default)
            # the text part (the whole message, unless it has attachments)
            if (msg["Auto-Submitted"] is None and
                    marker in msg.get_body(("plain",)).get_content()):
                found.append(msg)
        return found
    harness.wait_for(look, WAIT, f"a mail holding {marker}", interval=0.2)
    assert len(found) == 1
    return found[0]


def fill(drv, values):
    for name, value in values.items():
        el = drv.find_element(By.NAME, name)
        if el.tag_name == "select":
            Select(el).select_by_visible_text(value)
        elif el.get_attribute("type") == "checkbox":
            if el.is_selected() != bool(value):
                el.click()
        else:
            el.clear()
            el.send_keys(value)


def ja_values():
    marker = uuid.uuid4().hex[:12]
    return marker, {"name": "山田 花子", "email": "hanako@example.jp",
                    "phone": "０３－１２３４－５６７８",
                    "message": f"見積もりをお願いします。{marker}\n二行目"}


def en_values():
    marker = uuid.uuid4().hex[:12]
    return marker, {"name": "Jane Doe", "email": "jane@example.com",
                    "email2": "jane@example.com", "company": "Doe & Sons",
                    "topic": "Support", "message": f"Please call me back. {marker}",
                    "agree": True}


def submit(drv):
    drv.find_element(By.CSS_SELECTOR, "form.fp-form button[type=submit]").click()


def test_ja_post_form_reaches_the_mailbox(demo, browser):
    base, maildir = demo
    browser.get(base + "/")
    browser.find_element(By.CSS_SELECTOR, "a[href='/ja.html']").click()
    wait(browser, EC.presence_of_element_located((By.NAME, "message")))
    marker, values = ja_values()
    fill(browser, values)
    shot(browser, "ja-post-filled")
    submit(browser)
    wait(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "受付番号"))
    shot(browser, "ja-post-thanks")
    msg = wait_mail(maildir, marker)
    assert msg["From"] == "formpost demo <noreply@demo.example>"
    assert msg["Reply-To"] == "山田 花子 <hanako@example.jp>"
    assert "03-1234-5678" in msg.get_content() and "二行目" in msg.get_content()


def test_jobs_form_uploads_a_file(demo, browser):
    """The demo's 応募フォーム: a file chosen in the browser arrives as an
    attachment, byte for byte, with its Japanese name."""
    base, maildir = demo
    src = REPO / "tests" / "fixtures" / "attach" / "ok.pdf"
    tmp = Path(tempfile.mkdtemp())
    cv = tmp / "履歴書_山田.pdf"
    cv.write_bytes(src.read_bytes())
    browser.get(base + "/")
    browser.find_element(By.CSS_SELECTOR, "a[href='/jobs.html']").click()
    wait(browser, EC.presence_of_element_located((By.NAME, "resume")))
    marker = uuid.uuid4().hex[:12]
    fill(browser, {"name": "山田 花子", "email": "hanako@example.jp",
                   "position": "エンジニア", "message": f"よろしくお願いします {marker}"})
    browser.find_element(By.NAME, "resume").send_keys(str(cv))
    shot(browser, "jobs-filled")
    submit(browser)
    wait(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "受付番号"))
    msg = wait_mail(maildir, marker)
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain",
                                                     "application/pdf"]
    assert parts[1].get_filename() == "履歴書_山田.pdf"
    assert parts[1].get_content() == src.read_bytes()
    shutil.rmtree(tmp)


def test_ja_post_form_missing_field_gets_the_error_page(demo, browser):
    """The browser's own check stops an empty required field; with it
    switched off (as a bot or an old browser would post), formpost's 422
    page names the field and keeps what was typed."""
    base, maildir = demo
    browser.get(base + "/ja.html")
    marker, values = ja_values()
    del values["message"]
    fill(browser, values)
    browser.execute_script("document.querySelector('form.fp-form').noValidate = true")
    submit(browser)
    wait(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "body"),
                                                   "入力内容をご確認ください"))
    shot(browser, "ja-post-422")
    err = browser.find_element(By.CSS_SELECTOR, ".field.invalid .error").text
    assert "お問い合わせ内容" in err
    assert browser.find_element(By.NAME, "name").get_attribute("value") == "山田 花子"
    time.sleep(1)
    assert not any(marker in p.read_text(errors="replace") for p in maildir.glob("*.eml"))


def test_ja_fetch_form_shows_errors_inline_then_the_number(demo, browser):
    base, maildir = demo
    browser.get(base + "/ja-fetch.html")
    marker, values = ja_values()
    fill(browser, dict(values, email="hanako@"))
    browser.find_element(By.NAME, "message").clear()
    browser.execute_script("document.querySelector('form.fp-form').noValidate = true")
    submit(browser)
    err = wait(browser, EC.visibility_of_element_located(
        (By.ID, "fp-demo-email-error")))
    shot(browser, "ja-fetch-errors")
    assert "メールアドレス" in err.text
    assert "お問い合わせ内容" in browser.find_element(By.ID, "fp-demo-message-error").text
    assert browser.find_element(By.NAME, "email").get_attribute("aria-invalid") == "true"
    assert not browser.find_element(By.ID, "fp-demo-name-error").is_displayed()
    assert browser.current_url == base + "/ja-fetch.html"      # never left the page
    fill(browser, values)
    submit(browser)
    status = wait(browser, EC.visibility_of_element_located((By.CLASS_NAME, "fp-status")))
    wait(browser, EC.text_to_be_present_in_element((By.CLASS_NAME, "fp-status"), "受付番号"))
    shot(browser, "ja-fetch-sent")
    number = status.find_element(By.TAG_NAME, "strong").text
    assert number and number in status.text
    assert not browser.find_element(By.ID, "fp-demo-email-error").is_displayed()
    assert browser.current_url == base + "/ja-fetch.html"
    msg = wait_mail(maildir, marker)
    assert msg["Reply-To"] == "山田 花子 <hanako@example.jp>"


def token_ready(drv):
    return wait(drv, lambda d: d.find_element(By.NAME, "_token").get_attribute("value"))


def test_en_post_form_with_token_reaches_the_mailbox(demo, browser):
    """demo-en requires the fill-time token: a post without a valid one is
    answered with the usual thanks but never mailed, so the mail arriving
    proves the generated script fetched and sent it."""
    base, maildir = demo
    browser.get(base + "/en.html")
    token_ready(browser)
    marker, values = en_values()
    fill(browser, values)
    time.sleep(2.5)                       # the site's token.min_age is 2s
    shot(browser, "en-post-filled")
    submit(browser)
    wait(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "Your reference"))
    shot(browser, "en-post-thanks")
    msg = wait_mail(maildir, marker)
    body = msg.get_content()
    assert msg["Reply-To"] == "Jane Doe <jane@example.com>"
    assert "Support" in body and "Doe & Sons" in body
    assert msg["Subject"] == "[Contact] Support from Jane Doe"


FRESH_TOKEN = """
var f = document.querySelector('form.fp-form'), done = arguments[0];
fetch(f.getAttribute('data-fp-token'), {cache: 'no-store'})
  .then(function (r) { return r.json(); })
  .then(function (j) { f.elements._token.value = j.token; f.fpAt = Date.now(); done(); });
"""


def test_en_fetch_form_waits_for_a_young_token(demo, browser):
    """Sent with a token issued a moment ago (younger than the site's
    min_age, which formpost would drop without a word), the script waits
    until it is old enough: the mail arriving proves it."""
    base, maildir = demo
    browser.get(base + "/en-fetch.html")
    token_ready(browser)
    marker, values = en_values()
    fill(browser, values)
    browser.set_script_timeout(WAIT)
    browser.execute_async_script(FRESH_TOKEN)
    submit(browser)
    status = wait(browser, EC.visibility_of_element_located((By.CLASS_NAME, "fp-status")))
    wait(browser, EC.text_to_be_present_in_element((By.CLASS_NAME, "fp-status"),
                                                   "Your reference"))
    shot(browser, "en-fetch-sent")
    assert re.search(r"Your reference: \S+", status.text)
    assert not browser.find_element(By.NAME, "message").is_displayed()
    wait_mail(maildir, marker)


def test_hostile_labels_stay_text_in_the_browser(browser, tmp_path):
    """A label or option holding markup shows as the characters typed in
    the config: no script runs, no element is injected."""
    from selenium.common.exceptions import NoAlertPresentException
    from test_form_cli import HOSTILE, OPTION, form, hostile_config
    p = form("evil", "--fetch", config=hostile_config(tmp_path))
    assert p.returncode == 0, p.stderr
    page = tmp_path / "evil.html"
    page.write_text("<!DOCTYPE html><meta charset=UTF-8><title>evil</title>"
                    + p.stdout, encoding="utf-8")
    browser.get(page.as_uri())
    label = wait(browser, EC.presence_of_element_located(
        (By.CSS_SELECTOR, "label[for='fp-evil-x']")))
    shot(browser, "hostile-labels")
    assert label.text.startswith(HOSTILE)
    assert browser.find_elements(By.TAG_NAME, "img") == []
    options = [o.get_attribute("value") for o in
               browser.find_elements(By.CSS_SELECTOR, "select[name=y] option")]
    assert options == ["", OPTION, "Tom & 'Jerry'"]
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text


def posted_headers(drv, url):
    """The request headers Chromium sent with its last POST to url (from
    the DevTools network events in the performance log)."""
    posts, extra = set(), {}
    for entry in drv.get_log("performance"):
        m = json.loads(entry["message"])["message"]
        p = m.get("params", {})
        if m["method"] == "Network.requestWillBeSent" and \
                p["request"]["method"] == "POST" and p["request"]["url"] == url:
            posts.add(p["requestId"])
        elif m["method"] == "Network.requestWillBeSentExtraInfo":
            extra[p["requestId"]] = {k.lower(): v for k, v in p["headers"].items()}
    sent = [extra[r] for r in posts if r in extra]
    assert sent, f"no POST to {url} in the performance log"
    return sent[-1]


@pytest.mark.parametrize("page, host, fetch_site, accepted", [
    ("ja.html", "127.0.0.1", "same-origin", True),
    ("trap-same.html", "127.0.0.1", "same-origin", True),
    ("trap-cross.html", "localhost", "cross-site", False)])
def test_referrer_policy_trap(demo, browser, page, host, fetch_site, accepted):
    """What the README says of Referrer-Policy: under no-referrer the
    browser posts Origin: null and no Referer, so only Sec-Fetch-Site
    vouches for the page; same-origin passes, cross-site is refused."""
    base, maildir = demo
    browser.get_log("performance")                  # drop older events
    browser.get(base.replace("127.0.0.1", host) + "/" + page)
    marker, values = ja_values()
    fill(browser, values)
    submit(browser)
    want = "受付番号" if accepted else "403"
    wait(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "body"), want))
    shot(browser, "referrer-" + page.replace(".html", ""))
    sent = posted_headers(browser, base + "/formpost/demo")
    assert sent["sec-fetch-site"] == fetch_site
    if page.startswith("trap"):
        assert sent["origin"] == "null" and "referer" not in sent
    else:
        assert sent["origin"] == base and sent["referer"] == base + "/" + page
    if accepted:
        wait_mail(maildir, marker)


STUB_FETCH = """<script>
/* The review step and the carrier notice are answers formpost gives only
   once those features exist; until then this page answers the form's
   fetch() with the JSON the HTTP contract describes. */
window.fpCalls = [];
window.fpAnswers = [
  {status: 200, json: {ok: true, confirm: 'SIGNED', fields: [
    {name: 'name', label: 'お名前', value: '山田 花子'},
    {name: 'message', label: 'お問い合わせ内容', value: '一行目\\n<b>二行目</b>'}]}},
  {status: 200, json: {ok: true, confirm: 'SIGNED2', fields: []}},
  {status: 200, json: {ok: true, id: 'K3M9-7QXA-2BTD', carrier: 'docomo',
                       allow_domain: 'demo.example'}}];
window.fetch = function (url, init) {
  var body = {};
  init.body.forEach(function (v, k) { body[k] = v; });
  window.fpCalls.push({url: url, accept: init.headers.Accept, body: body});
  var a = window.fpAnswers.shift();
  return Promise.resolve(new Response(JSON.stringify(a.json),
    {status: a.status, headers: {'Content-Type': 'application/json'}}));
};
</script>
"""


def test_fetch_form_review_step_and_carrier_notice(browser, tmp_path):
    """The fetch() script against the JSON of a review step
    ({"ok":true,"confirm":...,"fields":[...]}) and of a carrier visitor's
    success: values listed as text, Edit goes back with the values kept,
    Send posts them again with _confirm, then the number and the domain to
    allow are shown."""
    p = subprocess.run([REPO / "formpost", "form", "demo", "--fetch", "-c",
                        REPO / "conf" / "demo" / "formpost.yaml"],
                       check=True, capture_output=True, text=True)
    page = tmp_path / "review.html"
    page.write_text("<!DOCTYPE html><meta charset=UTF-8><title>review</title>"
                    + STUB_FETCH + p.stdout, encoding="utf-8")
    browser.get(page.as_uri())
    marker, values = ja_values()
    fill(browser, values)
    submit(browser)
    status = wait(browser, EC.visibility_of_element_located((By.CLASS_NAME, "fp-status")))
    assert [e.text for e in status.find_elements(By.TAG_NAME, "dt")] == [
        "お名前", "お問い合わせ内容"]
    assert status.find_elements(By.TAG_NAME, "dd")[1].text == "一行目\n<b>二行目</b>"
    assert not browser.find_element(By.NAME, "name").is_displayed()
    shot(browser, "fetch-review")
    send, edit = status.find_elements(By.TAG_NAME, "button")
    assert (send.text, edit.text) == ("送信する", "修正する")
    edit.click()
    wait(browser, EC.visibility_of_element_located((By.NAME, "name")))
    assert not status.is_displayed()
    assert browser.find_element(By.NAME, "email").get_attribute("value") == values["email"]
    submit(browser)
    wait(browser, EC.visibility_of_element_located((By.CLASS_NAME, "fp-status")))
    send = browser.find_element(By.CSS_SELECTOR, ".fp-status button")
    send.click()
    wait(browser, EC.text_to_be_present_in_element((By.CLASS_NAME, "fp-status"),
                                                   "K3M9-7QXA-2BTD"))
    shot(browser, "fetch-carrier")
    text = browser.find_element(By.CLASS_NAME, "fp-status").text
    assert "受付番号: K3M9-7QXA-2BTD" in text and "「demo.example」" in text
    calls = browser.execute_script("return window.fpCalls")
    assert [c["body"].get("_confirm") for c in calls] == [None, None, "SIGNED2"]
    assert all(c["url"] == "/formpost/demo" and c["accept"] == "application/json"
               for c in calls)
    assert calls[2]["body"]["message"] == values["message"]
    assert calls[2]["body"]["fp_extra"] == ""


def test_fetch_review_shows_a_consent_as_agreed(browser, tmp_path):
    """The JSON review step carries a checked consent box's value ("1");
    the fetch() review lists it as 同意する, as the review page does."""
    p = subprocess.run([REPO / "formpost", "form", "demo-review", "--fetch", "-c",
                        REPO / "conf" / "demo" / "formpost.yaml"],
                       check=True, capture_output=True, text=True)
    stub = STUB_FETCH.replace(
        "{name: 'name', label: 'お名前', value: '山田 花子'},",
        "{name: 'name', label: 'お名前', value: '山田 花子'},"
        " {name: 'agree', label: '個人情報の取扱いに同意する', value: '1'},")
    assert stub != STUB_FETCH
    page = tmp_path / "review-consent.html"
    page.write_text("<!DOCTYPE html><meta charset=UTF-8><title>review</title>"
                    + stub + p.stdout, encoding="utf-8")
    browser.get(page.as_uri())
    _, values = ja_values()
    values.pop("phone")
    values.update({"topic": "資料請求", "agree": True})
    fill(browser, values)
    submit(browser)
    status = wait(browser, EC.visibility_of_element_located((By.CLASS_NAME, "fp-status")))
    dds = [e.text for e in status.find_elements(By.TAG_NAME, "dd")]
    assert dds[:2] == ["山田 花子", "同意する"]


def review_values():
    marker = uuid.uuid4().hex[:12]
    return marker, {"name": "佐藤 一郎", "email": "ichiro@example.jp",
                    "topic": "資料請求", "message": f"資料をください。{marker}\n二行目",
                    "agree": True}


def mails_holding(maildir, marker):
    return [p for p in maildir.glob("*.eml") if marker in p.read_text(errors="replace")]


def on_review_page(drv):
    wait(drv, EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "入力内容の確認"))
    return drv.find_element(By.TAG_NAME, "dl").text


def test_ja_review_step_back_edit_and_send(demo, browser):
    """confirm: true without JavaScript: the review page shows what was
    typed; the browser's back button returns to the filled form; 修正する
    brings formpost's form with every value; only 送信する sends, and
    exactly one mail holds the last values."""
    base, maildir = demo
    browser.get(base + "/ja-review.html")
    first, values = review_values()
    fill(browser, values)
    submit(browser)
    shown = on_review_page(browser)
    shot(browser, "ja-review-page")
    assert "佐藤 一郎" in shown and "資料請求" in shown and first in shown
    assert "二行目" in shown and "同意する" in shown
    browser.back()                                   # the browser's own back
    wait(browser, EC.presence_of_element_located((By.NAME, "message")))
    assert first in browser.find_element(By.NAME, "message").get_attribute("value")
    second = uuid.uuid4().hex[:12]
    fill(browser, {"message": f"やはり見積もりも。{second}"})
    submit(browser)
    assert second in on_review_page(browser)
    browser.find_element(By.CSS_SELECTOR, "button[name=_back]").click()   # 修正する
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "textarea[name=message]")))
    shot(browser, "ja-review-edit")
    assert browser.find_element(By.NAME, "name").get_attribute("value") == "佐藤 一郎"
    assert browser.find_element(By.NAME, "agree").is_selected()
    assert Select(browser.find_element(By.NAME, "topic")).first_selected_option.text == "資料請求"
    third = uuid.uuid4().hex[:12]
    fill(browser, {"message": f"最終版です。{third}"})
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert third in on_review_page(browser)
    time.sleep(1)
    assert not any(mails_holding(maildir, m) for m in (first, second, third))
    browser.find_element(By.CSS_SELECTOR, "button:not([name])").click()   # 送信する
    wait(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "受付番号"))
    shot(browser, "ja-review-thanks")
    number = browser.find_element(By.CLASS_NAME, "ref").text
    msg = wait_mail(maildir, third)
    assert number in msg["Message-ID"]
    time.sleep(1)
    assert mails_holding(maildir, first) == [] and mails_holding(maildir, second) == []


def test_ja_review_fetch_form_lists_the_values_then_sends(demo, browser):
    base, maildir = demo
    browser.get(base + "/ja-review-fetch.html")
    marker, values = review_values()
    fill(browser, values)
    submit(browser)
    status = wait(browser, EC.visibility_of_element_located((By.CLASS_NAME, "fp-status")))
    wait(browser, EC.text_to_be_present_in_element((By.CLASS_NAME, "fp-status"), marker))
    shot(browser, "ja-review-fetch-review")
    assert "資料請求" in status.text
    time.sleep(1)
    assert mails_holding(maildir, marker) == []
    status.find_element(By.CSS_SELECTOR, "button:not(.fp-back)").click()
    wait(browser, EC.text_to_be_present_in_element((By.CLASS_NAME, "fp-status"), "受付番号"))
    shot(browser, "ja-review-fetch-sent")
    assert browser.current_url == base + "/ja-review-fetch.html"
    wait_mail(maildir, marker)


def review_file(tmp):
    src = REPO / "tests" / "fixtures" / "attach" / "ok.pdf"
    doc = Path(tmp) / "見積依頼.pdf"
    doc.write_bytes(src.read_bytes())
    return doc, src.read_bytes()


def test_ja_review_step_holds_the_file(demo, browser, tmp_path):
    """confirm: true with an attachment, without JavaScript: the review
    page names the file; 修正する keeps it (添付済み) without a second
    upload; 送信する mails it byte for byte."""
    base, maildir = demo
    doc, data = review_file(tmp_path)
    browser.get(base + "/ja-review.html")
    marker, values = review_values()
    fill(browser, values)
    browser.find_element(By.NAME, "file").send_keys(str(doc))
    submit(browser)
    shown = on_review_page(browser)
    shot(browser, "ja-review-file-page")
    assert "見積依頼.pdf" in shown
    browser.find_element(By.CSS_SELECTOR, "button[name=_back]").click()   # 修正する
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "textarea[name=message]")))
    shot(browser, "ja-review-file-edit")
    assert "添付済み: 見積依頼.pdf" in browser.find_element(By.TAG_NAME, "body").text
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert "見積依頼.pdf" in on_review_page(browser)
    time.sleep(1)
    assert mails_holding(maildir, marker) == []
    browser.find_element(By.CSS_SELECTOR, "button:not([name])").click()   # 送信する
    wait(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "受付番号"))
    msg = wait_mail(maildir, marker)
    parts = list(msg.iter_parts())
    assert parts[1].get_filename() == "見積依頼.pdf"
    assert parts[1].get_content() == data


def test_ja_review_fetch_form_sends_the_held_file(demo, browser, tmp_path):
    """The fetch() review: Send posts the file's reference, not the file,
    and the mail carries it."""
    base, maildir = demo
    doc, data = review_file(tmp_path)
    browser.get(base + "/ja-review-fetch.html")
    marker, values = review_values()
    fill(browser, values)
    browser.find_element(By.NAME, "file").send_keys(str(doc))
    submit(browser)
    status = wait(browser, EC.visibility_of_element_located((By.CLASS_NAME, "fp-status")))
    wait(browser, EC.text_to_be_present_in_element((By.CLASS_NAME, "fp-status"), "見積依頼.pdf"))
    status.find_element(By.CSS_SELECTOR, "button:not(.fp-back)").click()
    wait(browser, EC.text_to_be_present_in_element((By.CLASS_NAME, "fp-status"), "受付番号"))
    parts = list(wait_mail(maildir, marker).iter_parts())
    assert parts[1].get_filename() == "見積依頼.pdf"
    assert parts[1].get_content() == data
