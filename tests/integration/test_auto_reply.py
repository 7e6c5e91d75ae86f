"""Receipts (auto_reply) and carrier mail through real nginx and the real
SMTP server: the receipt's recipient, headers and content; no receipt for
any verdict but an accepted post; the limit per address and per client
network in SPOOL/autoreply.db, across a restart and across two processes
on one spool; the echo rules; the carrier notice in HTML, JSON and the
owner's mail; `formpost check` and `formpost test-mail --auto-reply`."""
import copy
import http.client
import json
import os
import time
import urllib.parse

import pytest

from harness import (SITE_ORIGIN, body_text, formpost_cli, post_form, wait_for,
                     write_config)

OWNER = "info@example.com"


def ar_config(config, **auto_reply):
    c = copy.deepcopy(config)
    site = c["sites"]["example"]
    site["auto_reply"] = dict({"echo": ["name", "message"]}, **auto_reply)
    site["rate_limit"] = "100/1m"
    return c


def stack(formpost_factory, nginx_factory, config, **auto_reply):
    c = ar_config(config, **auto_reply)
    fp = formpost_factory(c)
    return c, fp, nginx_factory(fp.target)


def fields(email, message="在庫はありますか？", name="山田 太郎", **extra):
    return dict({"name": name, "email": email, "message": message}, **extra)


def post_from(ng, src_ip, data, accept=None):
    """POST from a chosen loopback source address (127.x.y.z is all local on
    Linux), so posts come from different client networks."""
    u = urllib.parse.urlsplit(ng.url("/formpost/example"))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10,
                                      source_address=(src_ip, 0))
    body = urllib.parse.urlencode(data)
    headers = {"Origin": SITE_ORIGIN,
               "Content-Type": "application/x-www-form-urlencoded"}
    if accept:
        headers["Accept"] = accept
    conn.request("POST", u.path, body=body, headers=headers)
    r = conn.getresponse()
    status, text = r.status, r.read().decode()
    conn.close()
    assert status == 200, text
    return text


def receipts(smtpd):
    return [(env, m) for env, m in smtpd.messages() if env["rcpt_tos"] != [OWNER]]


def owners(smtpd):
    return [(env, m) for env, m in smtpd.messages() if env["rcpt_tos"] == [OWNER]]


def wait_receipts(fp, n):
    fp.wait_log(r"event=auto_reply" if n else r"event=accepted")
    for _ in range(200):
        if len(fp.events(event="auto_reply")) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"expected {n} auto_reply lines")


def test_receipt_recipient_headers_and_content(formpost_factory, nginx_factory,
                                               formpost_config, smtpd):
    c, fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    r = post_form(ng.url("/formpost/example"),
                  fields("hanako@example.jp",
                         "お世話になっております。\r\n在庫はありますか？"),
                  accept="application/json")
    assert r.status_code == 200, r.text
    ref = r.json()["id"]
    assert "carrier" not in r.json()
    smtpd.wait(2)
    (env, m), = receipts(smtpd)
    assert env["rcpt_tos"] == ["hanako@example.jp"]
    assert env["mail_from"] == "noreply@example.com"
    assert m["From"] == "Example Web <noreply@example.com>"
    assert m["Reply-To"] == OWNER
    assert m["To"] == "山田 太郎 <hanako@example.jp>"
    assert m["Auto-Submitted"] == "auto-replied"
    assert m["X-Auto-Response-Suppress"] == "All"
    assert m["Precedence"] is None and m["Cc"] is None and m["Bcc"] is None
    assert m["Message-ID"] == f"<{ref}-R@example.com>"
    assert ref in m["Subject"]
    body = body_text(m)
    assert f"受付番号: {ref}" in body
    assert "お名前: 山田 太郎" in body
    # a multi-line echo field is quoted
    assert "お問い合わせ内容:\n> お世話になっております。\n> 在庫はありますか？\n" in body
    # the owner's message is unchanged by the receipt
    (oenv, om), = owners(smtpd)
    assert om["Auto-Submitted"] is None and om["Reply-To"].endswith("<hanako@example.jp>")
    line, = fp.events(event="auto_reply")
    assert line["auto_reply"] == "queued" and line["id"] == ref
    assert fp.events(event="queued", id=f"{ref}-R")
    assert fp.wait_log(rf"event=delivered .*id={ref}-R")


def test_echo_rules(formpost_factory, nginx_factory, formpost_config, smtpd):
    """Links, addresses and long values read （省略）; a field not in echo
    never appears."""
    config = copy.deepcopy(formpost_config)
    config["sites"]["example"]["fields"]["company"] = {"label": "会社名"}
    c, fp, ng = stack(formpost_factory, nginx_factory, config, limit="20/1d",
                      echo=["name", "message"])
    cases = [
        ("詳しくは https://evil.example/x をご覧ください", True),
        ("www.evil.example に来て", True),
        ("ｗｗｗ．ｅｖｉｌ．ｅｘａｍｐｌｅ", True),
        ("連絡は spam@evil.example まで", True),
        ("evil.example/path を見て", True),
        ("あ" * 201, True),
        ("あ" * 200, False),
        ("1.5/2 の割合で", False),
    ]
    for i, (msg, omitted) in enumerate(cases):
        r = post_form(ng.url("/formpost/example"),
                      fields(f"v{i}@example.jp", msg, company="秘密商事"))
        assert r.status_code == 200, r.text
    smtpd.wait(2 * len(cases))
    for env, m in receipts(smtpd):
        i = int(env["rcpt_tos"][0][1:].split("@")[0])
        body = body_text(m)
        msg, omitted = cases[i]
        assert "秘密商事" not in body
        if omitted:
            assert "お問い合わせ内容: （省略）" in body, (msg, body)
            assert "evil" not in body
        else:
            assert f"お問い合わせ内容: {msg}\n" in body


def test_english_omitted_word(formpost_factory, nginx_factory, formpost_config, smtpd):
    config = copy.deepcopy(formpost_config)
    config["sites"]["example"]["lang"] = "en"
    c, fp, ng = stack(formpost_factory, nginx_factory, config)
    r = post_form(ng.url("/formpost/example"),
                  fields("ann@example.com", "see http://x.example"))
    assert r.status_code == 200
    smtpd.wait(2)
    (env, m), = receipts(smtpd)
    body = body_text(m)
    assert "お問い合わせ内容: (omitted)" in body and "Reference:" in body
    assert m["Auto-Submitted"] == "auto-replied"


def test_no_receipt_for_other_verdicts(formpost_factory, nginx_factory,
                                       formpost_config, smtpd):
    config = copy.deepcopy(formpost_config)
    site = config["sites"]["example"]
    site["honeypot"] = "website"
    site["filters"] = {"require_japanese": True}
    c, fp, ng = stack(formpost_factory, nginx_factory, config, limit="20/1d")
    c["sites"]["example"]["rate_limit"] = "4/1m"
    fp.stop()
    fp = formpost_factory(c, name="fp-verdicts")
    ng = nginx_factory(fp.target)
    url = ng.url("/formpost/example")
    # honeypot: success answer, no mail at all
    r = post_form(url, fields("a@example.jp", website="http://spam.example"))
    assert r.status_code == 200
    fp.wait_log(r"reason=honeypot")
    # filter: English only → 422
    r = post_form(url, fields("b@example.jp", "hello there", name="John"))
    assert r.status_code == 422
    # accepted, then the same post again: a duplicate
    r = post_form(url, fields("c@example.jp"))
    assert r.status_code == 200
    r = post_form(url, fields("c@example.jp"))
    assert r.status_code == 200
    fp.wait_log(r"reason=duplicate")
    # rate limit (4/1m: the honeypot, the post and its duplicate counted)
    r = post_form(url, fields("d@example.jp", "三通目"))
    assert r.status_code == 200
    r = post_form(url, fields("e@example.jp", "四通目"))
    assert r.status_code == 429
    smtpd.wait(4)
    time.sleep(1)
    assert sorted(env["rcpt_tos"][0] for env, _ in receipts(smtpd)) == \
        ["c@example.jp", "d@example.jp"]
    assert len(fp.events(event="auto_reply")) == 2


def test_no_receipt_for_token_verdicts(formpost_factory, nginx_factory,
                                       formpost_config, smtpd):
    config = copy.deepcopy(formpost_config)
    config["sites"]["example"]["token"] = {"required": True, "min_age": "0s",
                                           "max_age": "1h"}
    c, fp, ng = stack(formpost_factory, nginx_factory, config)
    url = ng.url("/formpost/example")
    r = post_form(url, fields("a@example.jp"))
    assert r.status_code == 200
    fp.wait_log(r"reason=token_missing")
    r = post_form(url, fields("a@example.jp", _token="A" * 76))
    assert r.status_code == 200
    fp.wait_log(r"reason=token_(invalid|expired)")
    import requests
    tok = requests.get(ng.url("/formpost/example/token"),
                       headers={"Origin": SITE_ORIGIN}, timeout=10).json()["token"]
    r = post_form(url, fields("a@example.jp", _token=tok))
    assert r.status_code == 200
    r = post_form(url, fields("a@example.jp", "二通目", _token=tok))
    fp.wait_log(r"reason=token_replayed")
    smtpd.wait(2)
    time.sleep(1)
    assert len(receipts(smtpd)) == 1 and len(owners(smtpd)) == 1


def test_limit_per_address_and_network_restart_and_two_processes(
        formpost_factory, nginx_factory, formpost_config, smtpd, tmp_path):
    c, fp, ng = stack(formpost_factory, nginx_factory, formpost_config, limit="2/1d")
    db = os.path.join(c["spool"], "autoreply.db")
    assert os.stat(db).st_mode & 0o777 == 0o600
    size = os.path.getsize(db)
    # one address from three networks: the third is over the address limit
    for i, net in enumerate(["127.1.0.1", "127.2.0.1", "127.3.0.1"]):
        post_from(ng, net, fields("same@example.jp", f"{i} 回目"))
    # three addresses from one network: the third is over the network limit
    for i, addr in enumerate(["n1@example.jp", "n2@example.jp", "n3@example.jp"]):
        post_from(ng, "127.4.0.9", fields(addr, f"ネットワーク {i}"))
    smtpd.wait(10)
    time.sleep(0.5)
    got = sorted(env["rcpt_tos"][0] for env, _ in receipts(smtpd))
    assert got == ["n1@example.jp", "n2@example.jp", "same@example.jp", "same@example.jp"]
    assert len(owners(smtpd)) == 6          # the owner always gets the post
    skipped = fp.events(event="auto_reply", auto_reply="skipped", reason="limit")
    assert len(skipped) == 2
    assert fp.wait_log(r"auto_reply=skipped reason=limit")
    # across a restart: still over
    fp.stop()
    fp = formpost_factory(c, name="fp-restarted")
    ng = nginx_factory(fp.target)
    post_from(ng, "127.5.0.1", fields("same@example.jp", "再起動後"))
    fp.wait_log(r"auto_reply=skipped reason=limit")
    # a second process on the same spool shares the table
    c2 = copy.deepcopy(c)
    c2["listen"] = f"unix:{tmp_path / 'second.sock'}"
    fp2 = formpost_factory(c2, name="fp-second")
    ng2 = nginx_factory(fp2.target)
    post_from(ng2, "127.4.0.10", fields("n4@example.jp", "別プロセス"))
    fp2.wait_log(r"auto_reply=skipped reason=limit")
    post_from(ng2, "127.6.0.1", fields("fresh@example.jp", "新しい宛先"))
    fp2.wait_log(r"auto_reply=queued")
    post_from(ng, "127.6.0.2", fields("fresh@example.jp", "もう一度"))
    post_from(ng2, "127.7.0.1", fields("fresh@example.jp", "三度目"))
    fp2.wait_log(r"auto_reply=skipped reason=limit.*\n?" )
    smtpd.wait(14)
    time.sleep(1)
    got = [env["rcpt_tos"][0] for env, _ in receipts(smtpd)]
    assert got.count("fresh@example.jp") == 2
    assert os.path.getsize(db) == size      # fixed size whatever the traffic


def test_carrier_notice_html_json_and_owner_mail(formpost_factory, nginx_factory,
                                                 formpost_config, smtpd):
    c, fp, ng = stack(formpost_factory, nginx_factory, formpost_config,
                      limit="20/1d")
    url = ng.url("/formpost/example")
    r = post_form(url, fields("taro..x.@docomo.ne.jp"))
    assert r.status_code == 200
    assert "携帯電話のメールアドレスをお使いの方へ" in r.text
    assert "@example.com" in r.text and "受信リスト設定" in r.text
    r = post_form(url, fields("hanako@ezweb.ne.jp", "JSON で"), accept="application/json")
    assert r.json()["carrier"] == "au" and r.json()["allow_domain"] == "example.com"
    r = post_form(url, fields("ann@example.jp", "普通の宛先"))
    assert "携帯電話" not in r.text
    r = post_form(url, fields("bob@example.jp", "JSON 普通"), accept="application/json")
    assert "carrier" not in r.json() and "allow_domain" not in r.json()
    smtpd.wait(8)
    time.sleep(0.5)
    notes = [body_text(m) for _, m in owners(smtpd)]
    assert sum("携帯キャリアのメール（ドコモ）" in b for b in notes) == 1
    assert sum("携帯キャリアのメール（au）" in b for b in notes) == 1
    # the legacy carrier address gets its receipt, quoted on the envelope
    legacy = [(env, m) for env, m in receipts(smtpd)
              if "docomo" in env["rcpt_tos"][0]]
    assert len(legacy) == 1, smtpd.sessions()
    assert legacy[0][0]["rcpt_tos"][0] == "taro..x.@docomo.ne.jp"
    # (a session is logged once closed: formpost idles out after 10 s)
    wait_for(lambda: 'RCPT TO:<"taro..x."@docomo.ne.jp> => 250' in
             [c for s in smtpd.sessions() for c in s["commands"]], 20,
             "the quoted RCPT TO")


def test_english_carrier_notice(formpost_factory, nginx_factory, formpost_config, smtpd):
    config = copy.deepcopy(formpost_config)
    config["sites"]["example"]["lang"] = "en"
    c, fp, ng = stack(formpost_factory, nginx_factory, config)
    r = post_form(ng.url("/formpost/example"), fields("ken@i.softbank.jp"))
    assert "You wrote from a mobile carrier address" in r.text
    assert "SoftBank" in r.text and "example.com" in r.text


def test_check_warns_once_each(formpost_config, tmp_path):
    c = ar_config(formpost_config)
    del c["sites"]["example"]["rate_limit"]
    path = tmp_path / "warn.yaml"
    write_config(path, c)
    p = formpost_cli(["check"], path)
    out = p.stdout + p.stderr
    assert out.count("auto_reply without token") == 1, out
    assert out.count("auto_reply without rate_limit") == 1, out
    c["sites"]["example"]["rate_limit"] = "5/10m"
    c["sites"]["example"]["token"] = {"required": True}
    write_config(path, c)
    p = formpost_cli(["check"], path)
    assert "auto_reply without" not in p.stdout + p.stderr


def test_config_errors(formpost_config, tmp_path):
    c = ar_config(formpost_config, echo=["nosuch"])
    path = tmp_path / "bad.yaml"
    write_config(path, c)
    p = formpost_cli(["check"], path)
    assert p.returncode != 0 and "echo: no field named 'nosuch'" in p.stdout + p.stderr
    c = ar_config(formpost_config, limit="lots")
    write_config(path, c)
    p = formpost_cli(["check"], path)
    assert p.returncode != 0 and "limit must be COUNT/DURATION" in p.stdout + p.stderr
    c = ar_config(formpost_config)
    del c["sites"]["example"]["fields"]["email"]["reply_to"]
    write_config(path, c)
    p = formpost_cli(["check"], path)
    assert p.returncode != 0 and "reply_to: true" in p.stdout + p.stderr


def test_test_mail_auto_reply(formpost_config, smtpd, tmp_path):
    c = ar_config(formpost_config)
    path = tmp_path / "tm.yaml"
    write_config(path, c)
    p = formpost_cli(["test-mail", "example", "--auto-reply", "me@example.jp"], path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "receipt to me@example.jp" in p.stdout
    (env, m), = smtpd.wait(1)
    assert env["rcpt_tos"] == ["me@example.jp"]
    assert m["Auto-Submitted"] == "auto-replied" and m["Reply-To"] == OWNER
    p = formpost_cli(["test-mail", "example", "--auto-reply", "not-an-address"], path)
    assert p.returncode == 2


def test_spamassassin_scores_receipt(formpost_factory, nginx_factory, formpost_config,
                                     smtpd, tmp_path):
    from test_mail_e2e import spamassassin
    c, fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    r = post_form(ng.url("/formpost/example"),
                  fields("hanako.sato@example.jp",
                         "いつもお世話になっております。本棚の在庫について教えてください。"))
    assert r.status_code == 200
    smtpd.wait(2)
    for env, raw in smtpd.raw_messages():
        if env["rcpt_tos"] == [OWNER]:
            continue
        score, rules, report = spamassassin(tmp_path, raw)
        assert score <= 0.0, report


def test_refused_receipt_is_info_and_no_alert(formpost_factory, nginx_factory,
                                              formpost_config, smtpd):
    """A visitor's mistyped address: the receipt fails permanently into
    failed/ID-R, logged at info; the owner's message is delivered and
    `formpost queue check` stays OK."""
    smtpd.set_faults({"rcpt": {"typo@example.jp": "550 5.1.1 no such user"}})
    c, fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    r = post_form(ng.url("/formpost/example"), fields("typo@example.jp"),
                  accept="application/json")
    ref = r.json()["id"]
    line = fp.wait_log(rf"event=failed .*id={ref}-R")
    assert line.startswith("level=info"), line
    assert fp.wait_log(rf"event=delivered .*id={ref} ")
    # (failed/ is written after the log line)
    wait_for(lambda: os.path.exists(os.path.join(c["spool"], "failed", f"{ref}-R")),
             10, "failed/ID-R")
    (env, m), = owners(smtpd)
    assert receipts(smtpd) == []
    assert not [l for l in fp.log_lines() if l.startswith("level=error")]
    p = formpost_cli(["queue", "check"], fp.config_path)
    assert p.returncode == 0 and p.stdout.startswith("OK"), p.stdout
    p = formpost_cli(["queue", "list"], fp.config_path)
    assert f"{ref}-R" in p.stdout, p.stdout


def test_receipt_never_holds_up_the_owner(formpost_factory, nginx_factory,
                                          formpost_config, smtpd):
    """The visitor's server answers 4xx: the owner's message is delivered at
    once, the receipt waits for its retry on its own, logged at info."""
    # busy until the test says otherwise: the retry (first_retry 1s) must
    # not race the look at the mailbox on a loaded machine
    smtpd.set_faults({"rcpt": {"slow@example.jp": {"do": "451 4.2.0 busy",
                                                   "times": 1000}}})
    c, fp, ng = stack(formpost_factory, nginx_factory, formpost_config)
    r = post_form(ng.url("/formpost/example"), fields("slow@example.jp"),
                  accept="application/json")
    ref = r.json()["id"]
    assert fp.wait_log(rf"event=delivered .*id={ref} ")
    line = fp.wait_log(rf"event=attempt .*id={ref}-R .*outcome=temporary")
    assert line.startswith("level=info"), line
    assert receipts(smtpd) == [] and len(owners(smtpd)) == 1
    smtpd.set_faults(None)
    # first_retry is 1s: the receipt follows on its own
    assert fp.wait_log(rf"event=delivered .*id={ref}-R", timeout=15)
    (env, m), = receipts(smtpd)
    assert env["rcpt_tos"] == ["slow@example.jp"]


def test_limit_per_ipv6_48_and_mapped_ipv4(formpost_factory, formpost_config, smtpd):
    """The network limit through formpost's own FastCGI front door, with
    the client address as the web server passes it (REMOTE_ADDR): IPv6
    counts per /48 whatever the rest of the address, and an IPv4-mapped
    IPv6 address counts with its IPv4 /24."""
    import fcgi_client
    c = ar_config(formpost_config, limit="2/1d")
    fp = formpost_factory(c)

    def post_as(remote, email, n):
        body = urllib.parse.urlencode(fields(email, f"v6 {n}")).encode()
        status, _, out = fcgi_client.post(fp.target, "/formpost/example", body,
                                          origin=SITE_ORIGIN,
                                          extra={"REMOTE_ADDR": remote,
                                                 "HTTP_ACCEPT": "application/json"})
        assert status == 200, out
        return json.loads(out)["id"]

    # three addresses, one /48 (different /64s and hosts): the third is over
    for n, remote in enumerate(["2001:db8:1:2::5", "2001:db8:1:3::9",
                                "2001:db8:1:ffff:1:2:3:4"]):
        post_as(remote, f"six{n}@example.jp", n)
    # the next /48 is another network
    post_as("2001:db8:2::1", "six3@example.jp", 3)
    # ::ffff:192.0.2.1 is 192.0.2.0/24: two posts, then one from 192.0.2.77
    post_as("::ffff:192.0.2.1", "four0@example.jp", 4)
    post_as("::ffff:192.0.2.200", "four1@example.jp", 5)
    post_as("192.0.2.77", "four2@example.jp", 6)
    smtpd.wait(7 + 4)
    time.sleep(0.5)
    got = sorted(env["rcpt_tos"][0] for env, _ in receipts(smtpd))
    assert got == ["four0@example.jp", "four1@example.jp", "six0@example.jp",
                   "six1@example.jp", "six3@example.jp"], got
    skipped = fp.events(event="auto_reply", auto_reply="skipped", reason="limit")
    assert len(skipped) == 2
