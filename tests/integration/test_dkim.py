"""DKIM signing verified by an independent implementation (python3-dkim).

The signer (build/tool_dkim_sign, the same dkim_sign the server calls) signs
messages with long Japanese subjects, folded headers and a multipart/mixed
attachment, with RSA-2048 and Ed25519 keys made here by `openssl genpkey`;
python3-dkim, and OpenDKIM's opendkim-testmsg (in a network namespace
against dnsmasq), verify them against a record built from `openssl pkey`
output, never from formpost's own code.  End to end, formpost signs at
spool time and the SMTP server refuses the first attempt: the delivered
copy still verifies, and a resent copy carries the very same signature.
`formpost check` refuses weak, foreign-readable, unreadable and non-key
files."""
import base64
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import dkim
import pytest

from harness import base_config, post_form, wait_for

ROOT = Path(__file__).resolve().parents[2]
SIGN = ROOT / "build" / "tool_dkim_sign"
DUMP = ROOT / "build" / "tool_mime_dump"
FORMPOST = ROOT / "formpost"
SELECTOR = "fp2026"
T = 1764680000

LONG_JA = "【お問い合わせ】見積のご依頼について：" + "長い日本語の件名" * 12


def genkey(directory, kind, bits=2048):
    path = Path(directory) / f"{kind}{bits}.pem"
    args = ["openssl", "genpkey", "-out", str(path)]
    if kind == "rsa":
        args += ["-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}"]
    else:
        args += ["-algorithm", "ED25519"]
    subprocess.run(args, check=True, capture_output=True)
    path.chmod(0o600)
    return path


def record_of(path, kind):
    """The DNS record, from openssl's output (independent of formpost)."""
    der = subprocess.run(["openssl", "pkey", "-in", str(path), "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    if kind == "ed25519":
        der = der[-32:]          # SubjectPublicKeyInfo ends with the raw key
    return f"v=DKIM1; k={kind}; p={base64.b64encode(der).decode()}".encode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("dkimkeys")
    out = {}
    for kind in ("rsa", "ed25519"):
        path = genkey(d, kind)
        out[kind] = (path, record_of(path, kind))
    return out


def verify(msg, record, domain="example.jp"):
    def dnsfunc(name, timeout=5):
        assert name == f"{SELECTOR}._domainkey.{domain}.".encode(), name
        return record
    return dkim.verify(msg, dnsfunc=dnsfunc)


def sign(key, msg, domain="example.jp", selector=SELECTOR):
    p = subprocess.run([str(SIGN), str(key), domain, selector, str(T)],
                       input=msg, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def formpost_message(subject, body):
    """A real formpost message (the MIME writer) with this subject."""
    fields = [subject, "お問い合わせフォーム", "山田 太郎", "taro@example.jp",
              "", "info@example.jp", body]
    p = subprocess.run([str(DUMP)], input="\0".join(fields).encode(),
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


FOLDED = (b"From: Web Form <form@example.jp>\r\n"
          b"To: info@example.jp,\r\n\t  sales@example.jp\r\n"
          b"Subject:   spaced    out\t\r\n   and folded  \r\n"
          b"Date: Wed, 02 Dec 2026 10:00:00 +0900\r\n"
          b"Message-ID: <x@example.jp>\r\n"
          b"X-Unsigned: kept\r\n"
          b"\r\n"
          b"line  with   spaces \t\r\n\r\ntrailing empties\r\n\r\n\r\n")


def multipart():
    att = base64.encodebytes(bytes(range(256)) * 40).replace(b"\n", b"\r\n")
    return (b"From: =?UTF-8?B?5bGx55Sw?= <form@example.jp>\r\n"
            b"To: info@example.jp\r\n"
            b"Subject: =?UTF-8?B?5bGl5q205pu4?=\r\n"
            b"Date: Wed, 02 Dec 2026 10:00:00 +0900\r\n"
            b"Message-ID: <m@example.jp>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
            b"\r\n"
            b"--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode("添付します。\n".encode()) + b"\r\n"
            b"--b1\r\nContent-Type: application/pdf\r\n"
            b"Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + att +
            b"--b1--\r\n")


MESSAGES = {
    "long_japanese_subject": lambda: formpost_message(LONG_JA, "本文です。\n" * 30),
    "folded_headers": lambda: FOLDED,
    "multipart_attachment": multipart,
}


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_signature_verifies_independently(keys, kind, name):
    key, record = keys[kind]
    original = MESSAGES[name]()
    signed = sign(key, original)
    assert signed.endswith(original)            # nothing else changed
    head = signed[:len(signed) - len(original)].decode()
    assert head.startswith("DKIM-Signature: v=1; a=%s-sha256; c=relaxed/relaxed;"
                           % kind)
    assert all(len(line) <= 78 for line in head.split("\r\n"))
    tags = dict(t.strip().split("=", 1) for t in
                "".join(head[len("DKIM-Signature:"):].split()).split(";") if t)
    assert tags["d"] == "example.jp" and tags["s"] == SELECTOR
    assert tags["t"] == str(T) and "l" not in tags
    assert tags["h"].startswith("from:")
    assert tags["h"].endswith(":from:reply-to:to:cc:subject")
    assert verify(signed, record)


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_changes_break_the_signature(keys, kind):
    key, record = keys[kind]
    signed = sign(key, multipart())
    assert verify(signed, record)
    # An added From, Reply-To, To, Cc or Subject (over-signed), a changed
    # body byte, a changed header: each must fail.
    assert not verify(b"From: evil@example.net\r\n" + signed, record)
    assert not verify(b"Reply-To: evil@example.net\r\n" + signed, record)
    assert not verify(b"To: evil@example.net\r\n" + signed, record)
    assert not verify(b"Cc: evil@example.net\r\n" + signed, record)
    assert not verify(b"Subject: other\r\n" + signed, record)
    assert not verify(signed.replace(b"AAECAwQF", b"AAECAwQG", 1), record)
    assert not verify(signed.replace(b"To: info@", b"To: inf0@", 1), record)
    # A header outside h= may be added (relays add Received:).
    assert verify(b"Received: from relay\r\n" + signed, record)


def test_record_printed_for_the_key_matches_openssl(keys):
    for kind, (key, record) in keys.items():
        p = subprocess.run([str(SIGN), str(key), "-record"],
                           capture_output=True, timeout=30)
        assert p.returncode == 0 and p.stdout.strip() == record


# ------------------------------------------------------------- end to end

def dkim_config(tmp_path, smtpd, pki, key):
    config = base_config(tmp_path, smtpd.port, pki.ca)
    config["delivery"] = {"first_retry": "1s", "max_retry": "2s", "max_age": "1h"}
    config["sites"]["example"]["dkim"] = {"selector": SELECTOR, "key_file": str(key)}
    return config


FIELDS = {"name": "山田 太郎", "email": "taro@example.jp",
          "message": "見積をお願いします。\n" * 20}


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
@pytest.mark.parametrize("fault", ["451 4.3.0 try again later", "accept_drop"])
def test_spooled_signature_survives_a_retry(keys, kind, fault, tmp_path, smtpd,
                                            pki, formpost_factory, nginx_factory):
    """The first attempt is refused after DATA (451) or stored and then
    dropped (so the server holds two copies); the retried copy verifies
    and carries the signature made at spool time."""
    key, record = keys[kind]
    smtpd.set_faults({"data": {"do": fault, "times": 1}})
    fp = formpost_factory(dkim_config(tmp_path, smtpd, pki, key))
    ng = nginx_factory(fp.target)
    r = post_form(ng.url("/formpost/example"),
                  dict(FIELDS, name="山田 太郎" + "（長いお名前）" * 6),
                  accept="application/json")
    assert r.status_code == 200, r.text
    want = 2 if fault == "accept_drop" else 1
    smtpd.wait(want, timeout=20)
    wait_for(lambda: len(fp.events(event="attempt")) >= 2, 20, "a retry")
    outcomes = [e["outcome"] for e in fp.events(event="attempt")]
    assert outcomes == ["temporary", "sent"]
    copies = [raw for _, raw in smtpd.raw_messages()]
    assert len(copies) == want
    for raw in copies:
        assert raw.count(b"DKIM-Signature:") == 1
        assert verify(raw, record, domain="example.com")
    assert len(set(copies)) == 1          # the resent bytes are the same


def test_unsigned_site_sends_no_signature(tmp_path, smtpd, pki,
                                          formpost_factory, nginx_factory):
    config = base_config(tmp_path, smtpd.port, pki.ca)
    fp = formpost_factory(config)
    ng = nginx_factory(fp.target)
    r = post_form(ng.url("/formpost/example"), FIELDS, accept="application/json")
    assert r.status_code == 200
    smtpd.wait(1)
    [(_, raw)] = smtpd.raw_messages()
    assert b"DKIM-Signature" not in raw


# ------------------------------------------------------------ check/serve

@pytest.fixture
def world():
    d = tempfile.mkdtemp(prefix="fp-dkim-")
    os.chmod(d, 0o755)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def check(world, key, user=None):
    config = base_config(world, 2525, world / "ca.pem")
    (world / "ca.pem").write_text("")
    config["sites"]["example"]["dkim"] = {"selector": SELECTOR, "key_file": str(key)}
    if user:
        config["user"] = user
        nobody = pwd.getpwnam(user)
        for p in (world / "spool", world / "smtp.pass", world / "ca.pem"):
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
    from harness import write_config
    path = write_config(world / "formpost.yaml", config)
    p = subprocess.run([str(FORMPOST), "check", "-c", str(path)],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_check_accepts_good_keys(world):
    for kind in ("rsa", "ed25519"):
        rc, out = check(world, genkey(world, kind))
        assert rc == 0, out


def test_check_refuses_a_weak_rsa_key(world):
    rc, out = check(world, genkey(world, "rsa", 1024))
    assert rc == 1 and "1024-bit RSA key" in out and "2048" in out


def test_check_refuses_a_key_readable_by_others(world):
    key = genkey(world, "ed25519")
    key.chmod(0o644)
    rc, out = check(world, key)
    assert rc == 1 and "accessible by others" in out
    assert "PRIVATE KEY" not in out


def test_check_refuses_a_file_that_is_not_a_key(world):
    key = world / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes",
                    "-keyout", str(world / "k.pem"), "-out", str(key),
                    "-subj", "/CN=x"], check=True, capture_output=True)
    key.chmod(0o600)
    rc, out = check(world, key)
    assert rc == 1 and "not an unencrypted PEM private key" in out
    enc = world / "enc.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ED25519", "-aes256",
                    "-pass", "pass:x", "-out", str(enc)], check=True,
                   capture_output=True)
    enc.chmod(0o600)
    rc, out = check(world, enc)    # encrypted: refused, never a prompt
    assert rc == 1 and "not an unencrypted PEM private key" in out


def test_check_opens_the_key_as_the_service_user(world):
    if os.geteuid() != 0:
        pytest.fail("this test needs root (CI runs as root)")
    key = genkey(world, "rsa")             # root-owned 0600
    rc, out = check(world, key, user="nobody")
    assert rc == 1 and "cannot read key_file" in out and "Permission denied" in out
    nobody = pwd.getpwnam("nobody")
    os.chown(key, nobody.pw_uid, nobody.pw_gid)
    rc, out = check(world, key, user="nobody")
    assert rc == 0, out


def test_serve_refuses_to_start_with_a_bad_key(world):
    key = genkey(world, "rsa", 1024)
    config = base_config(world, 2525, world / "ca.pem")
    config["sites"]["example"]["dkim"] = {"selector": SELECTOR, "key_file": str(key)}
    from harness import write_config
    path = write_config(world / "formpost.yaml", config)
    p = subprocess.run([str(FORMPOST), "serve", "-c", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "1024-bit RSA key" in p.stderr


@pytest.mark.parametrize("dkim_yaml,message", [
    ("{ selector: fp2026 }", "dkim needs selector and key_file"),
    ("{ selector: 'a b', key_file: k.pem }", "dkim selector must be DNS labels"),
    ("{ selector: s, key_file: k.pem, l: 10 }", "unknown key"),
])
def test_bad_dkim_config_is_a_located_error(world, dkim_yaml, message):
    config = base_config(world, 2525, world / "ca.pem")
    from harness import to_yaml
    text = to_yaml(config) + "\n"
    text = text.replace("    lang: ja\n", f"    lang: ja\n    dkim: {dkim_yaml}\n")
    assert "dkim:" in text
    path = world / "formpost.yaml"
    path.write_text(text, encoding="utf-8")
    p = subprocess.run([str(FORMPOST), "check", "-c", str(path)],
                       capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    assert p.returncode == 1 and message in out, out
    assert f"{path}:" in out


def test_test_mail_is_signed(keys, tmp_path, smtpd, pki):
    from harness import formpost_cli, write_config
    key, record = keys["ed25519"]
    path = write_config(tmp_path / "tm.yaml", dkim_config(tmp_path, smtpd, pki, key))
    p = formpost_cli(["test-mail", "example"], config_path=path)
    assert p.returncode == 0, p.stdout + p.stderr
    smtpd.wait(1)
    [(_, raw)] = smtpd.raw_messages()
    assert verify(raw, record, domain="example.com")


def test_reload_with_a_bad_key_keeps_signing_with_the_old_one(
        keys, tmp_path, smtpd, pki, formpost_factory, nginx_factory):
    key, record = keys["rsa"]
    mine = tmp_path / "site.key"
    shutil.copy(key, mine)
    mine.chmod(0o600)
    fp = formpost_factory(dkim_config(tmp_path, smtpd, pki, mine))
    ng = nginx_factory(fp.target)
    mine.chmod(0o644)                   # now readable by others
    fp.reload()
    ev = wait_for(lambda: fp.events(event="reload_failed"), 10, "reload_failed")[-1]
    assert "accessible by others" in ev["error"] and "PRIVATE" not in ev["error"]
    r = post_form(ng.url("/formpost/example"), FIELDS, accept="application/json")
    assert r.status_code == 200
    smtpd.wait(1)
    [(_, raw)] = smtpd.raw_messages()
    assert verify(raw, record, domain="example.com")


def test_opendkim_verifies_too(keys, tmp_path):
    """A second independent verifier: OpenDKIM's opendkim-testmsg fetches
    the key from DNS, so it runs in a network namespace against dnsmasq
    serving the records (see netns_dns.py); it exits 0 for a good
    signature and non-zero for a changed body."""
    from netns_dns import run_isolated, txt_record
    if os.geteuid() != 0:
        pytest.fail("needs root for unshare -n -m (CI runs as root)")
    os.chmod(tmp_path, 0o755)
    dns, script = ["--local=/example.jp/"], []
    for kind in ("rsa", "ed25519"):
        key, record = keys[kind]
        # One selector per key: a name with two key records is refused.
        dns.append(txt_record(f"{kind}._domainkey.example.jp", record.decode()))
        for name in sorted(MESSAGES):
            signed = sign(key, MESSAGES[name](), selector=kind)
            (tmp_path / f"{kind}-{name}.eml").write_bytes(signed)
            script.append(f"{kind}-{name}")
        bad = sign(key, multipart(), selector=kind).replace(b"AAECAwQF",
                                                            b"AAECAwQG", 1)
        (tmp_path / f"{kind}-changed.eml").write_bytes(bad)
        script.append(f"{kind}-changed")
    sh = "; ".join(f"opendkim-testmsg < {tmp_path}/{n}.eml; echo {n}=$?"
                   for n in script)
    rc, out, _ = run_isolated(tmp_path, ["sh", "-c", sh], dns)
    results = dict(re.findall(r"^(\S+)=(\d+)$", out, re.M))
    assert len(results) == len(script), out
    for n in script:
        assert (results[n] == "0") == (not n.endswith("-changed")), out
