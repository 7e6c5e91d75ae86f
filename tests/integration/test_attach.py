"""Attachments end to end (README "Attachments"): files posted through real
nginx and Apache (which streams bodies to FastCGI as they arrive), sniffed,
mailed as multipart/mixed to a real aiosmtpd server and parsed back with
Python's email package byte for byte; every refusal class is a 422 naming
the field (or 413 over max_body), and nothing is ever left in the spool's
tmp/, whatever the client does.  The samples are tests/fixtures/attach
(tests/tools/make_attach_samples.py)."""
import email
import email.policy
import os
import socket
import struct
import time
from pathlib import Path

import pytest
import requests

from harness import SITE_ORIGIN, Smtpd, post_form, wait_for

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests/fixtures/attach"


def sample(name):
    return (SAMPLES / name).read_bytes()


def configure(cfg, public_dir):
    cfg["listen"] = f"unix:{public_dir / 'fp.sock'}"
    cfg["socket_group"] = "www-data"
    site = cfg["sites"]["example"]
    site["max_body"] = "2M"
    site["fields"] = {
        "name": {"label": "お名前", "required": True, "max": 100},
        "email": {"label": "メールアドレス", "type": "email",
                  "required": True, "reply_to": True},
        "resume": {"label": "履歴書", "type": "file", "required": True,
                   "accept": ["pdf", "docx", "jpg"], "max": "1M"},
        "photo": {"label": "写真", "type": "file",
                  "accept": ["jpg", "png", "gif", "heic"], "max": "64k"},
    }
    return cfg


@pytest.fixture
def stack(formpost_config, formpost_factory, nginx_factory, apache_factory,
          smtpd, public_dir):
    fp = formpost_factory(configure(formpost_config, public_dir))
    ng = nginx_factory(fp.target, extra_server="client_max_body_size 64m;")
    ap = apache_factory(fp.target)
    return fp, {"nginx": ng, "apache": ap}, smtpd


TEXT = {"name": "山田 太郎", "email": "taro@example.jp"}


def post(web, files, fields=TEXT):
    return post_form(web.url("/formpost/example"), dict(fields), files=files,
                     accept="application/json")


def tmp_empty(fp):
    spool = Path(fp.config["spool"]) / "tmp"
    return not any(spool.iterdir())


def upload_fds(fp):
    """formpost's open fds on files under the spool's tmp/."""
    tmp = str(Path(fp.config["spool"]) / "tmp") + "/"
    out = []
    for p in Path(f"/proc/{fp.pid}/fd").iterdir():
        try:
            if os.readlink(p).startswith(tmp):
                out.append(p)
        except OSError:
            pass
    return out


def raw_mail(smtpd, n):
    """The n-th message's exact bytes (1-based)."""
    return smtpd.raw_messages()[n - 1][1]


def received(smtpd, n):
    assert smtpd.wait(n), "mail not delivered"
    return email.message_from_bytes(raw_mail(smtpd, n),
                                    policy=email.policy.default)


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_good_files_arrive_byte_for_byte(stack, server):
    fp, webs, smtpd = stack
    pdf, jpg = sample("ok.pdf"), sample("ok.jpg")
    r = post(webs[server], {"resume": ("履歴書（山田）.pdf", pdf, "application/pdf"),
                            "photo": ("写真.jpg", jpg, "image/jpeg")})
    assert r.status_code == 200, r.text
    msg = received(smtpd, 1)
    assert not msg.defects
    assert msg.get_content_type() == "multipart/mixed"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "application/pdf", "image/jpeg"]
    text = parts[0].get_content()
    assert "添付ファイル: 履歴書（山田）.pdf" in text and "写真.jpg" in text
    assert parts[1].get_filename() == "履歴書（山田）.pdf"
    assert parts[1].get_content() == pdf
    assert parts[2].get_filename() == "写真.jpg"
    assert parts[2].get_content() == jpg
    raw = raw_mail(smtpd, 1)
    assert b"filename*=UTF-8''%E5%B1%A5%E6%AD%B4%E6%9B%B8" in raw
    assert all(len(l) <= 998 for l in raw.split(b"\r\n"))
    # base64 in 76-column lines
    body = raw.split(b"Content-Transfer-Encoding: base64\r\n\r\n", 1)[1]
    assert max(len(l) for l in body.split(b"\r\n")[:3]) == 76
    assert tmp_empty(fp)


@pytest.mark.parametrize("name,ctype", [
    ("ok.docx", "application/vnd.openxmlformats-officedocument."
     "wordprocessingml.document"),
    ("ok.jpg", "image/jpeg")])
def test_docx_and_jpg_resume(stack, name, ctype):
    fp, webs, smtpd = stack
    data = sample(name)
    r = post(webs["apache"], {"resume": ("職務経歴書." + name.split(".")[1],
                                         data, "application/octet-stream")})
    assert r.status_code == 200, r.text
    part = list(received(smtpd, 1).iter_parts())[1]
    assert part.get_content_type() == ctype
    assert part.get_content() == data


REFUSED = [
    # (field, file name, sample, code)
    ("resume", "cv.pdf", "html.pdf", "file_type"),            # HTML as .pdf
    ("resume", "cv.pdf", "pdfhtml.pdf", "file_type"),         # polyglot
    ("resume", "cv.pdf", "jpg.pdf", "file_mismatch"),         # a JPEG as .pdf
    ("resume", "cv.docx", "macro.docx", "file_macro"),        # docm renamed
    ("resume", "cv.docx", "vba.docx", "file_macro"),
    ("resume", "cv.exe", "mz.jpg", "file_type"),              # not accepted
    ("resume", "cv.jpg", "mz.jpg", "file_type"),              # MZ as .jpg
    ("resume", "cv.zip", "exe.zip", "file_type"),             # unlisted
    ("photo", "p.png", "elf.png", "file_type"),               # ELF as .png
    ("photo", "p.png", "svg.png", "file_type"),
    ("photo", "p.gif", "gifar.gif", "file_type"),             # GIFAR
    ("resume", "cv.pdf", None, "file_empty"),                 # empty, required
    ("photo", "big.jpg", "big", "file_too_large"),            # over its max
]


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_refusals_name_the_field(stack, server):
    fp, webs, smtpd = stack
    for field, fname, name, code in REFUSED:
        data = (b"" if name is None else
                sample("ok.jpg")[:-2] + bytes(70000) + b"\xff\xd9"
                if name == "big" else sample(name))
        files = {field: (fname, data, "application/octet-stream")}
        if field != "resume":
            files["resume"] = ("cv.pdf", sample("ok.pdf"), "application/pdf")
        r = post(webs[server], files)
        assert r.status_code == 422, (name, r.status_code, r.text[:300])
        errs = r.json()["errors"]
        assert {"field": field, "code": code} in [
            {"field": e["field"], "code": e["code"]} for e in errs], (name, errs)
    # The 422 page (HTML) re-renders a file input, multipart, with accept.
    r = post_form(webs[server].url("/formpost/example"), dict(TEXT),
                  files={"resume": ("cv.pdf", sample("html.pdf"), "text/html")})
    assert r.status_code == 422
    assert 'enctype="multipart/form-data"' in r.text
    assert 'type="file" name="resume" accept=".pdf,.docx,.jpg"' in r.text
    assert "履歴書：この種類のファイルは添付できません。" in r.text
    assert smtpd.count() == 0
    assert tmp_empty(fp)


def test_shape_refusals(stack):
    """Two files for one field, a file for a text field: 422 naming it; a
    body over the site's max_body: 413; a part cut short: 400."""
    fp, webs, smtpd = stack
    web = webs["nginx"]
    pdf = sample("ok.pdf")
    r = post_form(web.url("/formpost/example"), dict(TEXT), files=[
        ("resume", ("a.pdf", pdf, "application/pdf")),
        ("resume", ("b.pdf", pdf, "application/pdf"))],
        accept="application/json")
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "file_multiple"
    r = post_form(web.url("/formpost/example"), {"email": TEXT["email"]},
                  files={"name": ("n.pdf", pdf, "application/pdf"),
                         "resume": ("a.pdf", pdf, "application/pdf")},
                  accept="application/json")
    assert r.status_code == 422
    assert r.json()["errors"][0] == {**r.json()["errors"][0], "field": "name",
                                     "code": "file_not_allowed"}
    r = post(web, {"resume": ("a.pdf", pdf + bytes(3 * 1024 * 1024),
                              "application/pdf")})
    assert r.status_code == 413
    part = (b"--B\r\nContent-Disposition: form-data; name=\"resume\"; "
            b"filename=\"a.pdf\"\r\n\r\n" + pdf)
    for ctype, body, status in [
            ("multipart/form-data; boundary=B", part, 400),      # cut short
            ("multipart/form-data", part + b"\r\n--B--\r\n", 400),  # no boundary
            ("multipart/form-data; boundary=B",                  # no headers
             b"--B\r\n\r\n" + pdf + b"\r\n--B--\r\n", 400),
            ("multipart/form-data; boundary=B",                  # headers too long
             b"--B\r\nX-A: " + b"a" * 2000 + b"\r\n" + part[3:] +
             b"\r\n--B--\r\n", 400)]:
        r = requests.post(web.url("/formpost/example"), data=body, headers={
            "Origin": SITE_ORIGIN, "Content-Type": ctype}, timeout=10)
        assert r.status_code == status, (ctype, body[:40], r.status_code)
    assert smtpd.count() == 0
    assert tmp_empty(fp)


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_disconnect_mid_upload_leaves_nothing(stack, server):
    fp, webs, smtpd = stack
    web = webs[server]
    port = int(web.url("/").split(":")[2].split("/")[0])
    head = (b"--B\r\nContent-Disposition: form-data; name=\"resume\"; "
            b"filename=\"a.pdf\"\r\n\r\n" + sample("ok.pdf") + bytes(300000))
    req = (b"POST /formpost/example HTTP/1.1\r\nHost: localhost\r\n"
           b"Origin: " + SITE_ORIGIN.encode() + b"\r\n"
           b"Content-Type: multipart/form-data; boundary=B\r\n"
           b"Content-Length: 1500000\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req + head)
    spool_tmp = Path(fp.config["spool"]) / "tmp"
    if server == "apache":
        # the upload streams into an unnamed file under tmp/ ...
        wait_for(lambda: upload_fds(fp), 10, "an upload file open")
    else:
        time.sleep(0.5)
    # ... that has no name there
    assert tmp_empty(fp)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    if server == "apache":
        # Apache streams the body: formpost saw the upload begin and end
        wait_for(lambda: fp.events(reason="client_aborted"), 15,
                 "the aborted upload's log line")
    else:
        # nginx buffers the body first: formpost never hears of it
        time.sleep(1)
        assert not fp.events(site="example")
    assert not any(spool_tmp.iterdir())
    wait_for(lambda: not upload_fds(fp), 10, "no upload fd left open")
    assert smtpd.count() == 0


NAMES = [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("C:\\x\\y.pdf", "y.pdf"),
    ("\u202egpj.exe.pdf", "gpj.exe.pdf"),
    ("履歴書_山田太郎_2026年版.pdf", "履歴書_山田太郎_2026年版.pdf"),
    ("a\u200f\u2066b.pdf", "ab.pdf"),
]


def test_names_are_labels(stack):
    fp, webs, smtpd = stack
    for i, (sent, want) in enumerate(NAMES, 1):
        r = post(webs["nginx"], {"resume": (sent, sample("ok.pdf"),
                                            "application/pdf")},
                 fields={**TEXT, "name": f"n{i}"})
        assert r.status_code == 200, r.text
        part = list(received(smtpd, i).iter_parts())[1]
        assert part.get_filename() == want
        raw = raw_mail(smtpd, i)
        fallback = raw.split(b'filename="', 1)[1].split(b'"', 1)[0]
        assert all(0x20 <= c < 0x7f for c in fallback)
        assert b"/" not in fallback and b"\\" not in fallback


def test_relay_size_refusal_is_permanent(formpost_config, formpost_factory,
                                         nginx_factory, tmp_path, pki,
                                         public_dir):
    small = Smtpd(tmp_path, pki, name="small").start(
        extra_args=["--size", "2000"])
    try:
        cfg = configure(formpost_config, public_dir)
        cfg["smtp"]["main"]["url"] = small.url
        fp = formpost_factory(cfg)
        ng = nginx_factory(fp.target, extra_server="client_max_body_size 8m;")
        r = post(ng, {"resume": ("cv.pdf", sample("ok.pdf") + b"%" +
                                 bytes(5000), "application/pdf")})
        assert r.status_code == 200, r.text
        ev = fp.wait_log(r"event=attempt .*outcome=permanent", 20)
        assert "552" in ev and "the message is" in ev and "bytes" in ev
        spool = Path(cfg["spool"])
        wait_for(lambda: list((spool / "failed").iterdir()) and not list(
            (spool / "queue").iterdir()), 10, "failed/ID written, queue/ empty")
        (failed,) = list((spool / "failed").iterdir())
        assert b"552" in failed.read_bytes()
    finally:
        small.stop()


def vm_rss(pid):
    """Resident memory of pid in KiB (/proc/PID/status VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def slow_upload(port, size, chunk=64 * 1024, pause=0.02, field="photo"):
    """Streams a multipart body of about `size` bytes in chunks with pauses;
    returns the HTTP status line."""
    head = (b"--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n"
            b"x\r\n--B\r\nContent-Disposition: form-data; name=\"email\"\r\n"
            b"\r\ntaro@example.jp\r\n--B\r\nContent-Disposition: form-data; "
            b"name=\"" + field.encode() + b"\"; filename=\"p.jpg\"\r\n\r\n" +
            sample("ok.jpg")[:-2])
    tail = b"\xff\xd9\r\n--B--\r\n"
    total = len(head) + size + len(tail)
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(b"POST /formpost/example HTTP/1.1\r\nHost: localhost\r\n"
              b"Origin: " + SITE_ORIGIN.encode() + b"\r\n"
              b"Accept: application/json\r\nConnection: close\r\n"
              b"Content-Type: multipart/form-data; boundary=B\r\n"
              b"Content-Length: " + str(total).encode() + b"\r\n\r\n" + head)
    sent = 0
    while sent < size:
        n = min(chunk, size - sent)
        s.sendall(bytes(n))
        sent += n
        time.sleep(pause)
    s.sendall(tail)
    status = s.makefile("rb").readline()
    s.close()
    return status


def test_concurrent_slow_uploads_memory(formpost_config, formpost_factory,
                                        apache_factory, smtpd, public_dir):
    """Six uploads of 8 MiB each, streamed slowly through Apache at once:
    formpost's resident memory grows by far less than the bodies (here at
    most 2 MiB per upload in progress, twice the design's 1 MiB)."""
    import threading
    n, size = 6, 8 * 1024 * 1024
    cfg = configure(formpost_config, public_dir)
    cfg["workers"] = 8
    cfg["limits"] = {"read_timeout": "2m"}
    cfg["sites"]["example"]["max_body"] = "32M"
    fp = formpost_factory(cfg)
    ap = apache_factory(fp.target)
    port = int(ap.url("/").split(":")[2].split("/")[0])
    # warm up: threads, buffers and libraries touched once
    assert b"422" in slow_upload(port, 256 * 1024, pause=0)
    base = vm_rss(fp.pid)
    results, peak = [], [0]
    threads = [threading.Thread(target=lambda: results.append(
        slow_upload(port, size))) for _ in range(n)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], vm_rss(fp.pid), 0)
        time.sleep(0.05)
    for t in threads:
        t.join()
    # the files are over the photo field's max: every one a 422, read whole
    assert len(results) == n and all(b" 422 " in r for r in results), results
    growth = peak[0] - base
    print(f"VmRSS base {base} KiB, peak {peak[0]} KiB, growth {growth} KiB "
          f"for {n} uploads of {size // 1048576} MiB")
    assert growth <= n * 2048, (base, peak[0])
    assert tmp_empty(fp) and not upload_fds(fp)


def test_test_mail_reports_size(tmp_path, formpost_config, pki, public_dir):
    """test-mail prints the relay's SIZE and warns when the site's max_body
    in base64 (x 4/3) is over it; silent when it fits."""
    from harness import formpost_cli, write_config
    small = Smtpd(tmp_path, pki, name="small").start(
        extra_args=["--size", "1500000"])
    try:
        cfg = configure(formpost_config, public_dir)
        cfg["smtp"]["main"]["url"] = small.url
        path = write_config(tmp_path / "t.yaml", cfg)
        p = formpost_cli(["test-mail", "example"], config_path=path)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "server SIZE: 1500000 bytes" in p.stdout
        assert "warning: site example has max_body 2097152 bytes" in p.stdout
        cfg["sites"]["example"]["max_body"] = "1M"
        cfg["sites"]["example"]["fields"]["resume"]["max"] = "1M"
        write_config(path, cfg)
        p = formpost_cli(["test-mail", "example"], config_path=path)
        assert "server SIZE: 1500000 bytes" in p.stdout
        assert "warning" not in p.stdout
    finally:
        small.stop()


def test_check_refuses_an_unknown_accept_entry(tmp_path, formpost_config,
                                               public_dir):
    from harness import formpost_cli, write_config
    cfg = configure(formpost_config, public_dir)
    cfg["sites"]["example"]["fields"]["resume"]["accept"] = ["pdf", "exe"]
    path = write_config(tmp_path / "bad.yaml", cfg)
    p = formpost_cli(["check"], config_path=path)
    assert p.returncode == 1
    assert "accept: 'exe' is not in the accept table" in p.stderr + p.stdout


def test_check_accepts_confirm_with_file_fields(tmp_path, formpost_config,
                                                public_dir):
    # The review step holds uploads in the spool's hold/ between its
    # posts (test_review_attach.py): `check` validates such a site.
    from harness import formpost_cli, write_config
    cfg = configure(formpost_config, public_dir)
    cfg["sites"]["example"]["confirm"] = True
    path = write_config(tmp_path / "ok.yaml", cfg)
    p = formpost_cli(["check"], config_path=path)
    assert "confirm: true cannot be used" not in p.stderr + p.stdout
    assert "type: file" not in p.stderr + p.stdout
