"""Tests of the test harness itself: the SMTP server, its fault injection and
session log, the web server fixtures, the formpost process wrapper (with a
stub standing in for the binary) and the YAML writer.  If these fail, no
other integration test result can be trusted."""

import json
import os
import smtplib
import socket
import ssl
import stat
import subprocess
import textwrap
import time

import pytest
import requests
import yaml

import harness
from harness import (SMTP_PASS, SMTP_USER, Formpost, base_config, formpost_cli,
                     group_pids, post_form, to_yaml)

# A message with what a real formpost mail has: CRLF, encoded header, UTF-8
# body, and a line starting with a dot (dot-stuffing must round-trip).
MESSAGE = (b"From: Example Web <noreply@example.com>\r\n"
           b"To: info@example.com\r\n"
           b"Subject: =?UTF-8?B?44GK5ZWP44GE5ZCI44KP44Gb?=\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=UTF-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n"
           b"\r\n"
           b"\xe3\x81\x8a\xe5\x90\x8d\xe5\x89\x8d: \xe5\xb1\xb1\xe7\x94\xb0\r\n"
           b".leading dot\r\n"
           b"end\r\n")


def client_ctx(pki):
    """What formpost does: verify the chain against the test CA and the name."""
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    return ctx


def smtp(server, timeout=10):
    return smtplib.SMTP("localhost", server.port, timeout=timeout)


# ------------------------------------------------------------------ PKI

def test_pki_certificates_verify_as_intended(pki):
    def verify(cert, name=None, ip=None):
        args = ["openssl", "verify", "-CAfile", str(pki.ca)]
        if name:
            args += ["-verify_hostname", name]
        if ip:
            args += ["-verify_ip", ip]
        return subprocess.run(args + [str(cert)], capture_output=True).returncode

    assert verify(pki.server_cert, name="localhost") == 0
    assert verify(pki.server_cert, ip="127.0.0.1") == 0
    assert verify(pki.wrong_cert) == 0                      # chain fine...
    assert verify(pki.wrong_cert, name="localhost") != 0    # ...name wrong
    assert verify(pki.untrusted_cert, name="localhost") != 0
    assert stat.S_IMODE(os.stat(pki.server_key).st_mode) & 0o077 == 0


# ------------------------------------------------------------------ SMTP

def test_starttls_auth_stores_exact_bytes_and_envelope(smtpd, pki):
    with smtp(smtpd) as s:
        s.ehlo("client.test")
        assert s.has_extn("starttls")
        assert not s.has_extn("auth")           # AUTH only after TLS
        s.starttls(context=client_ctx(pki))
        s.ehlo("client.test")
        assert "PLAIN" in s.esmtp_features["auth"]
        assert "LOGIN" in s.esmtp_features["auth"]
        s.login(SMTP_USER, SMTP_PASS)
        refused = s.sendmail("bounces@example.com",
                             ["info@example.com", "Sales@Example.com"], MESSAGE)
        assert refused == {}
    (env, raw), = [m for m in smtpd.raw_messages()]
    assert raw == MESSAGE
    assert env["mail_from"] == "bounces@example.com"
    assert env["rcpt_tos"] == ["info@example.com", "Sales@Example.com"]
    assert env["user"] == SMTP_USER
    assert env["tls"] is True and env["tls_mode"] == "starttls"
    assert env["peer"][0] == "127.0.0.1"
    (env2, msg), = smtpd.wait(1)
    assert msg["Subject"] == "お問い合わせ"
    assert msg.get_content().startswith("お名前: 山田\r\n.leading dot")
    assert harness.body_text(msg) == "お名前: 山田\n.leading dot\nend\n"


def test_auth_login_mechanism_works(smtpd, pki):
    with smtp(smtpd) as s:
        s.starttls(context=client_ctx(pki))
        s.ehlo()
        s.user, s.password = SMTP_USER, SMTP_PASS
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235
        s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    assert smtpd.wait(1)[0][0]["user"] == SMTP_USER


def test_wrong_password_is_535(smtpd, pki):
    with smtp(smtpd) as s:
        s.starttls(context=client_ctx(pki))
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(SMTP_USER, "wrong-password")
        assert e.value.smtp_code == 535
        assert b"5.7.8" in e.value.smtp_error


def test_password_change_takes_effect_without_restart(smtpd, pki):
    smtpd.set_auth(SMTP_USER, "new-pass")
    with smtp(smtpd) as s:
        s.starttls(context=client_ctx(pki))
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login(SMTP_USER, SMTP_PASS)
    with smtp(smtpd) as s:
        s.starttls(context=client_ctx(pki))
        assert s.login(SMTP_USER, "new-pass")[0] == 235


def test_mail_without_auth_is_530(smtpd, pki):
    with smtp(smtpd) as s:
        s.starttls(context=client_ctx(pki))
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        assert e.value.smtp_code == 530
        assert e.value.smtp_error == b"5.7.0 Authentication required"
    assert smtpd.count() == 0


def test_commands_before_starttls_are_refused(smtpd):
    with smtp(smtpd) as s:
        s.ehlo()
        code, text = s.docmd("MAIL FROM:<a@example.com>")
        assert code == 530 and b"STARTTLS" in text


def test_implicit_tls_with_auth(smtpd_factory, pki):
    server = smtpd_factory(tls="implicit")
    assert server.url.startswith("smtps://localhost:")
    with smtplib.SMTP_SSL("localhost", server.port, context=client_ctx(pki),
                          timeout=10) as s:
        s.ehlo()
        assert not s.has_extn("starttls")
        s.login(SMTP_USER, SMTP_PASS)
        s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    (env, raw), = server.raw_messages()
    assert raw == MESSAGE
    assert env["tls"] is True and env["tls_mode"] == "implicit"
    assert env["user"] == SMTP_USER


@pytest.mark.parametrize("cert", ["wrong", "untrusted"])
def test_bad_server_certificates_fail_verification(smtpd_factory, pki, cert):
    server = smtpd_factory(tls="starttls", cert=cert)
    with smtp(server) as s:
        with pytest.raises(ssl.SSLCertVerificationError):
            s.starttls(context=client_ctx(pki))


def test_plain_server_without_auth(smtpd_factory):
    server = smtpd_factory(tls="none", auth=None)
    with smtp(server) as s:
        s.ehlo()
        assert not s.has_extn("starttls") and not s.has_extn("auth")
        assert s.docmd("AUTH PLAIN AGEAYg==")[0] == 502
        s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    (env, raw), = server.raw_messages()
    assert raw == MESSAGE and env["tls"] is False and env["user"] is None


def test_non_ascii_envelope_refused_without_smtputf8(smtpd_factory):
    server = smtpd_factory(tls="none", auth=None)
    with smtp(server) as s:
        s.ehlo()
        s.send("MAIL FROM:<山田@example.com>\r\n".encode("utf-8"))
        assert s.getreply()[0] == 500


def test_bare_lf_is_kept_so_tests_can_catch_it(smtpd_factory):
    """smtplib would fix line endings; speak raw SMTP to send a bare LF."""
    server = smtpd_factory(tls="none", auth=None)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as c:
        f = c.makefile("rwb")
        def cmd(line):
            f.write(line + b"\r\n"); f.flush()
            reply = f.readline()
            while reply[3:4] == b"-":
                reply = f.readline()
            return reply
        assert f.readline().startswith(b"220")
        assert cmd(b"EHLO x").startswith(b"250")
        assert cmd(b"MAIL FROM:<a@example.com>").startswith(b"250")
        assert cmd(b"RCPT TO:<b@example.com>").startswith(b"250")
        assert cmd(b"DATA").startswith(b"354")
        assert cmd(b"Subject: x\r\n\r\nbare\nlf\r\n.").startswith(b"250")
    (env, raw), = server.raw_messages()
    assert raw == b"Subject: x\r\n\r\nbare\nlf\r\n"


# ------------------------------------------------------------------ faults

@pytest.fixture
def plain(smtpd_factory):
    """A plain server without TLS/AUTH: fault tests focus on the faults."""
    return smtpd_factory(tls="none", auth=None)


def test_fault_mail_451(plain):
    plain.set_faults({"mail": "451 4.3.0 later"})
    with smtp(plain) as s:
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        assert (e.value.smtp_code, e.value.smtp_error) == (451, b"4.3.0 later")
    assert plain.count() == 0


def test_fault_one_recipient_refused_other_accepted(plain):
    plain.set_faults({"rcpt": {"BOB@example.com": "550 5.1.1 no such user"}})
    with smtp(plain) as s:
        refused = s.sendmail("a@example.com",
                             ["bob@example.com", "alice@example.com"], MESSAGE)
    assert refused == {"bob@example.com": (550, b"5.1.1 no such user")}
    (env, raw), = plain.raw_messages()
    assert env["rcpt_tos"] == ["alice@example.com"]
    session, = plain.wait_sessions(1)
    assert "RCPT TO:<bob@example.com> => 550" in session["commands"]
    assert "RCPT TO:<alice@example.com> => 250" in session["commands"]


def test_fault_rcpt_wildcard(plain):
    plain.set_faults({"rcpt": {"ok@example.com": "pass",
                               "*": "450 4.2.1 mailbox busy"}})
    with smtp(plain) as s:
        refused = s.sendmail("a@example.com",
                             ["x@example.com", "ok@example.com"], MESSAGE)
    assert refused == {"x@example.com": (450, b"4.2.1 mailbox busy")}


def test_fault_data_554_after_message(plain):
    plain.set_faults({"data": "554 5.6.0 rejected"})
    with smtp(plain) as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        assert e.value.smtp_code == 554
    assert plain.count() == 0


def test_fault_data_cmd_before_354(plain):
    plain.set_faults({"data_cmd": "451 4.3.0 no data now"})
    with smtp(plain) as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        assert e.value.smtp_code == 451


def test_fault_data_drop(plain):
    plain.set_faults({"data": "drop"})
    with smtp(plain) as s:
        with pytest.raises(smtplib.SMTPServerDisconnected):
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    assert plain.count() == 0
    session, = plain.wait_sessions(1)
    assert session["closed"] == "server"


def test_fault_accept_drop_stores_but_never_answers(plain):
    plain.set_faults({"data": "accept_drop"})
    with smtp(plain) as s:
        with pytest.raises(smtplib.SMTPServerDisconnected):
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    assert plain.count() == 1


def test_fault_data_stall_then_client_timeout(plain):
    plain.set_faults({"data": "stall:3"})
    s = smtp(plain)                       # the greeting gets the usual 10 s,
    s.sock.settimeout(1)                  # the commands after it 1 s
    t0 = time.monotonic()
    with pytest.raises((socket.timeout, smtplib.SMTPServerDisconnected)):
        s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    assert time.monotonic() - t0 >= 0.9
    s.close()
    time.sleep(2.5)                       # the stall ends; client is gone
    assert plain.count() == 0


def test_fault_stall_short_then_success(plain):
    plain.set_faults({"mail": "stall:0.5"})
    t0 = time.monotonic()
    with smtp(plain) as s:
        s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    assert time.monotonic() - t0 >= 0.5
    assert plain.count() == 1


@pytest.mark.parametrize("fault,exc,code", [
    ("421 4.3.2 busy", smtplib.SMTPConnectError, 421),
    ("drop", smtplib.SMTPServerDisconnected, None),
])
def test_fault_connect(plain, fault, exc, code):
    plain.set_faults({"connect": fault})
    with pytest.raises(exc) as e:
        smtp(plain)
    if code:
        assert e.value.smtp_code == code
    plain.set_faults(None)
    with smtp(plain) as s:               # cleared without restart
        assert s.noop()[0] == 250


def test_fault_times_applies_to_first_n_only(plain):
    plain.set_faults({"mail": {"do": "451 4.3.0 once", "times": 1}})
    with smtp(plain) as s:
        with pytest.raises(smtplib.SMTPSenderRefused):
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        s.rset()
        assert s.sendmail("a@example.com", ["b@example.com"], MESSAGE) == {}
    # Rewriting faults.json restarts the counters.
    plain.set_faults({"mail": {"do": "451 4.3.0 again", "times": 1}})
    with smtp(plain) as s:
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        assert e.value.smtp_error == b"4.3.0 again"
    assert plain.count() == 1


def test_fault_ehlo_flags(smtpd, pki):
    smtpd.set_faults({"ehlo_no_starttls": True})
    with smtp(smtpd) as s:
        s.ehlo()
        assert not s.has_extn("starttls")
        assert s.docmd("STARTTLS")[0] == 454
    smtpd.set_faults({"ehlo_no_auth": True})
    with smtp(smtpd) as s:
        s.starttls(context=client_ctx(pki))
        s.ehlo()
        assert not s.has_extn("auth")


def test_fault_auth_reply(smtpd, pki):
    smtpd.set_faults({"auth": "454 4.7.0 temporary authentication failure"})
    with smtp(smtpd) as s:
        s.starttls(context=client_ctx(pki))
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(SMTP_USER, SMTP_PASS)
        assert e.value.smtp_code == 454


# ------------------------------------------------------------------ sessions

def test_sessions_log_counts_connections_and_transactions(smtpd, pki):
    with smtp(smtpd) as s:
        s.starttls(context=client_ctx(pki))
        s.login(SMTP_USER, SMTP_PASS)
        s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        s.sendmail("a@example.com", ["c@example.com"], MESSAGE)
        # Still open: stored messages already tell which connection they used.
        (e1, _), (e2, _) = smtpd.wait(2)
        assert e1["session"] == e2["session"] and (e1["txn"], e2["txn"]) == (1, 2)
    with smtp(smtpd) as s:
        s.starttls(context=client_ctx(pki))
        s.login(SMTP_USER, SMTP_PASS)
        s.sendmail("a@example.com", ["d@example.com"], MESSAGE)
    first, second = smtpd.wait_sessions(2)
    assert first["transactions"] == 2 and second["transactions"] == 1
    assert first["messages"] == [1, 2] and second["messages"] == [3]
    assert first["tls"] is True and first["user"] == SMTP_USER
    assert sum(c.startswith("MAIL ") for c in first["commands"]) == 2
    assert "AUTH PLAIN *** => 235" in first["commands"]
    assert not any(SMTP_PASS in c for c in first["commands"])
    log = (smtpd.maildir / "sessions.log").read_text()
    assert SMTP_PASS not in log
    assert first["session"] != second["session"]


def test_open_sessions_are_logged_at_shutdown(smtpd_factory):
    server = smtpd_factory(tls="none", auth=None)
    s = smtp(server)
    s.ehlo()
    server.stop()
    (session,) = server.sessions()
    assert session["closed"] == "shutdown"
    s.close()


def test_sequence_continues_after_restart(smtpd_factory, tmp_path):
    first = smtpd_factory(tls="none", auth=None)
    with smtp(first) as s:
        s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    first.stop()
    again = harness.Smtpd(tmp_path, name=first.name).start(tls="none", auth=None)
    try:
        with smtp(again) as s:
            s.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        assert [e["seq"] for e, _ in again.raw_messages()] == [1, 2]
    finally:
        again.stop()


def test_smtpd_stop_leaves_nothing(smtpd_factory):
    server = smtpd_factory(tls="none", auth=None)
    pid = server.proc.pid
    assert group_pids(pid) == [pid]
    server.stop()
    assert group_pids(pid) == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1)


# ------------------------------------------------------------------ web servers

def check_proxy(web, static_dir, route="/formpost/example"):
    """Static file served; POST passed through FastCGI with body and params."""
    r = requests.get(web.url("/hello.txt"), timeout=5)
    assert r.status_code == 200 and r.text == "static ok\n"
    r = requests.get(web.url("/"), timeout=5)
    assert r.status_code == 200 and "index page" in r.text
    r = post_form(web.url(route + "?x=1"), {"name": "山田", "message": "a&b"})
    assert r.status_code == 200, r.text
    got = r.json()
    p = got["params"]
    assert p["REQUEST_METHOD"] == "POST"
    assert p["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert p["REQUEST_URI"] == route + "?x=1"
    assert p["QUERY_STRING"] == "x=1"
    assert p["REMOTE_ADDR"] == "127.0.0.1"
    assert p["HTTP_ORIGIN"] == harness.SITE_ORIGIN
    assert got["stdin"] == "name=%E5%B1%B1%E7%94%B0&message=a%26b"
    return p


def make_static(d):
    d.mkdir(parents=True, exist_ok=True)
    (d / "hello.txt").write_text("static ok\n")
    (d / "index.html").write_text("<p>index page</p>\n")
    return d


def assert_stops_cleanly(web):
    master = web.proc.pid
    pids = group_pids(master)
    assert master in pids and len(pids) >= 2          # master + workers
    web.stop()
    alive = [p for p in pids if os.path.exists(f"/proc/{p}")
             and open(f"/proc/{p}/stat").read().split(") ")[1][0] != "Z"]
    assert alive == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", web.port), timeout=1)


def test_nginx_static_and_fastcgi_over_unix_socket(tmp_path, fcgi_echo_factory,
                                                    nginx_factory):
    sock = tmp_path / "echo.sock"
    echo = fcgi_echo_factory(f"unix:{sock}")
    web = nginx_factory(str(sock), root=make_static(tmp_path / "www"))
    p = check_proxy(web, tmp_path / "www")
    assert p["SCRIPT_NAME"] == "/formpost/example"
    assert_stops_cleanly(web)
    echo.stop()


def test_nginx_fastcgi_over_tcp(tmp_path, fcgi_echo_factory, nginx_factory):
    port = harness.free_port()
    fcgi_echo_factory(f"127.0.0.1:{port}")
    web = nginx_factory(f"127.0.0.1:{port}", root=make_static(tmp_path / "www"))
    check_proxy(web, tmp_path / "www")


def test_nginx_start_failure_is_reported(tmp_path, nginx_factory):
    with pytest.raises(harness.HarnessError):
        nginx_factory("/nonexistent.sock", extra_http="this_is_not_a_directive on;")


def test_apache_static_and_fastcgi_over_unix_socket(public_dir, fcgi_echo_factory,
                                                     apache_factory):
    sock = public_dir / "echo.sock"
    fcgi_echo_factory(f"unix:{sock}")
    web = apache_factory(f"unix:{sock}", root=make_static(public_dir / "www"))
    p = check_proxy(web, public_dir / "www")
    # mod_proxy_fcgi's shape differs from nginx's; routing tests rely on this.
    assert p["REQUEST_URI"] == "/formpost/example?x=1"
    assert_stops_cleanly(web)


def test_apache_fastcgi_over_tcp(public_dir, fcgi_echo_factory, apache_factory):
    port = harness.free_port()
    fcgi_echo_factory(f"127.0.0.1:{port}")
    web = apache_factory(f"127.0.0.1:{port}", root=make_static(public_dir / "www"))
    check_proxy(web, public_dir / "www")


# ------------------------------------------------------------------ formpost wrapper

def test_formpost_wrapper_with_stub_behind_nginx(tmp_path, stub_formpost, pki,
                                                  smtpd, formpost_factory,
                                                  nginx_factory):
    cfg = base_config(tmp_path, smtpd.port, pki.ca)
    fp = formpost_factory(cfg)
    assert fp.socket == tmp_path / "formpost.sock" and fp.socket.exists()
    assert stat.S_IMODE(os.stat(tmp_path / "smtp.pass").st_mode) == 0o600
    # The config it wrote is the dict, as YAML.
    assert yaml.safe_load(fp.config_path.read_text(encoding="utf-8")) == cfg
    web = nginx_factory(fp.target)
    r = post_form(web.url("/formpost/example"), {"name": "x"})
    assert r.status_code == 200 and r.json()["stdin"] == "name=x"
    fp.wait_log(r"event=start")
    assert fp.events(event="start")[0]["msg"] == "stub up"
    assert fp.stop() == 0
    assert not fp.alive()


def test_formpost_stop_asserts_exit_code(tmp_path, stub_formpost, pki, smtpd,
                                         monkeypatch):
    monkeypatch.setenv("STUB_EXIT", "3")
    cfg = base_config(tmp_path, smtpd.port, pki.ca, listen="127.0.0.1:1")
    fp = Formpost(tmp_path, cfg).start(wait=False)
    fp.wait_log("event=start")
    with pytest.raises(AssertionError, match="exited 3"):
        fp.stop()


def test_formpost_start_failure_is_reported(tmp_path, monkeypatch):
    bad = tmp_path / "formpost-bad"
    bad.write_text("#!/bin/sh\necho 'formpost.yaml:3:1: unknown key' >&2\nexit 1\n")
    bad.chmod(0o755)
    monkeypatch.setenv("FORMPOST_BIN", str(bad))
    with pytest.raises(harness.HarnessError, match="unknown key"):
        Formpost(tmp_path, "listen: unix:x.sock\n").start()


def test_formpost_missing_binary_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FORMPOST_BIN", str(tmp_path / "nope"))
    with pytest.raises(harness.HarnessError, match="run `make` first"):
        formpost_cli(["--version"])


def test_formpost_cli_helper(tmp_path, stub_formpost):
    p = formpost_cli(["check"], config_path=tmp_path / "c.yaml")
    assert p.returncode == 0 and p.stdout.strip() == f"config ok: {tmp_path}/c.yaml"


def test_formpost_kill(tmp_path, stub_formpost, pki, smtpd, formpost_factory):
    fp = formpost_factory(base_config(tmp_path, smtpd.port, pki.ca))
    pid = fp.pid
    assert fp.kill() == -9
    assert group_pids(pid) == []


# ------------------------------------------------------------------ YAML, helpers

def test_yaml_writer_round_trips_and_uses_no_anchors(tmp_path, pki):
    cfg = base_config(tmp_path, 2525, pki.ca)
    shared = ["https://a.example"]
    cfg["sites"]["example"]["origins"] = shared
    cfg["sites"]["other"] = dict(cfg["sites"]["example"], origins=shared)
    cfg["smtp"]["main"]["starttls"] = "off"
    cfg["sites"]["example"]["fields"]["topic"] = {
        "label": "種別", "type": "select", "options": ["見積", "採用", "その他"]}
    cfg["sites"]["example"]["rate_limit"] = "5/10m"
    cfg["sites"]["example"]["cc"] = []
    cfg["sites"]["example"]["filters"] = {"max_links": 3, "require_japanese": False}
    cfg["odd"] = ["a, b", "x: y", "#c", "123", "", " pad", "null", "[x]",
                  "http://h:1/p", "tab\there", 'q"uote']
    text = to_yaml(cfg)
    assert not any(getattr(e, "anchor", None) for e in yaml.parse(text))
    assert "starttls: off\n" in text          # plain, not quoted
    assert "お名前" in text                   # UTF-8, not escaped
    loaded = yaml.safe_load(text)
    # PyYAML is YAML 1.1 (plain `off` is a boolean there); formpost's
    # libyaml loader sees the plain scalar "off", which is what we want.
    assert loaded["smtp"]["main"]["starttls"] is False
    loaded["smtp"]["main"]["starttls"] = "off"
    assert loaded == cfg


def test_listen_of_text_config():
    assert harness.listen_of("a: 1\nlisten: unix:/x/y.sock  # c\n") == "unix:/x/y.sock"
    assert harness.listen_of("listen: '127.0.0.1:9000'\n") == "127.0.0.1:9000"
    assert harness.listen_of({"spool": "/s"}) is None


def test_parse_logfmt():
    rec = harness.parse_logfmt('level=info event=accepted site=example '
                               'id=Ab-9 status=303 ms=2 msg="a \\"b\\" c"')
    assert rec == {"level": "info", "event": "accepted", "site": "example",
                   "id": "Ab-9", "status": "303", "ms": "2", "msg": 'a "b" c'}


def test_post_form_defaults(tmp_path, fcgi_echo_factory, nginx_factory):
    sock = tmp_path / "echo.sock"
    fcgi_echo_factory(f"unix:{sock}")
    web = nginx_factory(str(sock))
    p = post_form(web.url("/formpost/x"), [("a", "1"), ("a", "2")],
                  accept="application/json").json()["params"]
    assert p["HTTP_ORIGIN"] == "https://www.example.com"
    assert p["HTTP_ACCEPT"] == "application/json"
    p = post_form(web.url("/formpost/x"), {"a": "1"}, origin=None,
                  headers={"Referer": "https://www.example.com/contact"}).json()["params"]
    assert "HTTP_ORIGIN" not in p
    assert p["HTTP_REFERER"] == "https://www.example.com/contact"
    r = post_form(web.url("/formpost/x"), {"a": "1"},
                  files={"f": ("", b"", "application/octet-stream")})
    assert r.json()["params"]["CONTENT_TYPE"].startswith("multipart/form-data")
    # Redirects are not followed: nginx's own 301 for a directory shows it.
    (tmp_path / "nginx" / "html" / "dir").mkdir()
    r = requests.get(web.url("/dir"), allow_redirects=False, timeout=5)
    assert r.status_code == 301
