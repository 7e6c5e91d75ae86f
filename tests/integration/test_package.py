"""The Debian package, built as from a clean clone (tests/package.py: the
tracked tree copied to a temporary directory, `dpkg-buildpackage -us -uc
-b`, lintian): its lintian verdict, file list, conffile and maintainer
scripts, then an install into a temporary root (dpkg -x, the package's own
sysusers.d and tmpfiles.d applied with --root) whose binary, config and
templates pass `check` and serve a post end to end."""
import os
import re
import subprocess
import sys
import urllib.parse

import pytest

import fcgi_client
from harness import SMTP_PASS, body_text, socket_activated, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import package  # noqa: E402  (tests/package.py)

# Lintian tags kept on purpose, with why (no error is ever kept):
KEPT = {
    # formpost is run by systemd (or spawn-fcgi, see formpost(8)); a
    # sysvinit script would duplicate the sandbox badly.
    "package-supports-alternative-init-but-no-init.d-script",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return package.build(str(tmp_path_factory.mktemp("deb")))


@pytest.fixture(scope="module")
def root(built, tmp_path_factory):
    """The package unpacked in a fresh root, with the formpost user and the
    spool made by the package's own sysusers.d and tmpfiles.d files."""
    r = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", built["deb"], str(r)], check=True)
    (r / "etc").mkdir(exist_ok=True)
    for f in ("passwd", "group"):
        (r / "etc" / f).write_text(open(f"/etc/{f}").read())
    subprocess.run(["systemd-sysusers", f"--root={r}", "formpost.conf"],
                   check=True, capture_output=True)
    subprocess.run(["systemd-tmpfiles", f"--root={r}", "--create",
                    "formpost.conf"], check=True, capture_output=True)
    return r


def test_version_agrees():
    """debian/changelog's version is the Makefile's VERSION."""
    v = subprocess.run(["dpkg-parsechangelog", "-l",
                        os.path.join(ROOT, "debian/changelog"), "-S", "Version"],
                       capture_output=True, text=True, check=True).stdout.strip()
    assert v == package.version()


def test_lintian(built):
    tags = [l for l in built["lintian"] if re.match(r"[EWIXP]: ", l)]
    errors = [l for l in tags if l.startswith("E: ")]
    assert not errors, "\n".join(built["lintian"])
    warnings = {l.split()[2] for l in tags if l.startswith(("W: ", "I: ", "P: "))}
    assert warnings <= KEPT, "\n".join(tags)


def test_file_list(built):
    out = subprocess.run(["dpkg-deb", "-c", built["deb"]], capture_output=True,
                         text=True, check=True).stdout
    files = {l.split()[5].lstrip(".") : l.split()[0] for l in out.splitlines()}
    want = {
        "/usr/bin/formpost": "-rwxr-xr-x",
        "/etc/formpost/formpost.yaml": "-rw-r--r--",
        "/lib/systemd/system/formpost.service": "-rw-r--r--",
        "/lib/systemd/system/formpost.socket": "-rw-r--r--",
        "/usr/lib/sysusers.d/formpost.conf": "-rw-r--r--",
        "/usr/lib/tmpfiles.d/formpost.conf": "-rw-r--r--",
        "/usr/share/man/man8/formpost.8.gz": "-rw-r--r--",
        "/usr/share/man/man5/formpost.yaml.5.gz": "-rw-r--r--",
        "/usr/share/doc/formpost/copyright": "-rw-r--r--",
        "/usr/share/doc/formpost/examples/formpost.example.yaml": "-rw-r--r--",
    }
    for lang in ("ja", "en"):
        for t in ("thanks.html", "form.html", "error.html", "mail.txt",
                  "confirm.html", "auto_reply.txt"):
            want[f"/usr/share/formpost/templates/{lang}/{t}"] = "-rw-r--r--"
    for path, mode in want.items():
        assert files.get(path) == mode, (path, files.get(path))
    regular = {p for p, m in files.items() if m.startswith("-")}
    extra = regular - set(want) - {"/usr/share/doc/formpost/changelog.gz",
                                   "/usr/share/doc/formpost/README.md.gz",
                                   "/usr/share/doc/formpost/examples/nginx.example.conf",
                                   "/usr/share/doc/formpost/examples/apache-formpost.conf"}
    assert not extra, extra
    # The unit's ExecStart= is the packaged binary.
    unit = subprocess.run(["dpkg-deb", "--fsys-tarfile", built["deb"]],
                          capture_output=True, check=True).stdout
    assert b"ExecStart=/usr/bin/formpost serve" in unit


def control_file(built, name, tmp_path):
    subprocess.run(["dpkg-deb", "-e", built["deb"], str(tmp_path / "ctl")], check=True)
    return (tmp_path / "ctl" / name).read_text()


def test_conffile_and_scripts(built, tmp_path):
    assert control_file(built, "conffiles", tmp_path).split() == ["/etc/formpost/formpost.yaml"]
    post = (tmp_path / "ctl" / "postinst").read_text()
    users = post.index("systemd-sysusers ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} formpost.conf")
    spool = post.index("systemd-tmpfiles ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} --create formpost.conf")
    assert users < spool, "the user must exist before the spool is chowned to it"
    assert "adduser --system" in post          # without systemd
    assert "deb-systemd-helper enable 'formpost.socket'" in post
    assert "deb-systemd-invoke $_dh_action 'formpost.socket'" in post
    # The service is started by the socket, not by the install.
    assert "deb-systemd-invoke $_dh_action 'formpost.service'" not in post
    ctl = (tmp_path / "ctl" / "control").read_text()
    assert re.search(r"^Version: " + re.escape(package.version()) + "$", ctl, re.M)


def test_installed_root(root):
    """sysusers.d made a locked system user; tmpfiles.d a private spool."""
    entry = [l.split(":") for l in (root / "etc/passwd").read_text().splitlines()
             if l.startswith("formpost:")]
    assert len(entry) == 1
    uid, home, shell = int(entry[0][2]), entry[0][5], entry[0][6]
    assert 0 < uid < 1000 and home == "/var/spool/formpost"
    assert shell.endswith("nologin")
    st = os.stat(root / "var/spool/formpost")
    assert (st.st_mode & 0o7777, st.st_uid) == (0o700, uid)


def test_installed_units(root, tmp_path):
    """The installed units: exposure OK, and `systemd-analyze verify`
    clean with the installed binary and man pages."""
    p = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        f"--root={root}", "formpost.service"],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for formpost\.service: (\d+\.\d+) OK", p.stdout)
    assert m and float(m.group(1)) <= 2.0, p.stdout + p.stderr
    for u in ("formpost.service", "formpost.socket"):
        text = (root / "lib/systemd/system" / u).read_text()
        (tmp_path / u).write_text(text.replace("/usr/bin/formpost",
                                               str(root / "usr/bin/formpost")))
    p = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "formpost.socket"),
                        str(tmp_path / "formpost.service")], capture_output=True,
                       text=True, timeout=120,
                       env=dict(os.environ, MANPATH=str(root / "usr/share/man")))
    assert p.returncode == 0 and p.stdout + p.stderr == "", p.stdout + p.stderr


def installed_config(root, tmp_path, smtp_port, ca):
    """The package's /etc/formpost/formpost.yaml as an operator would fill
    it in, moved into tmp_path: the SMTP server and its CA, and the
    password in the credential directory systemd would provide."""
    text = (root / "etc/formpost/formpost.yaml").read_text()
    text = text.replace("smtp://smtp.example.com:587", f"smtp://localhost:{smtp_port}")
    text = text.replace("    password_credential: smtp.pass",
                        f"    password_credential: smtp.pass\n    ca_file: {ca}")
    text = text.replace("/var/spool/formpost", str(tmp_path / "spool"))
    text = text.replace("/usr/share/formpost/templates",
                        str(root / "usr/share/formpost/templates"))
    text = re.sub(r"^user: formpost.*$", "", text, flags=re.M)
    (tmp_path / "spool").mkdir(mode=0o700)
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    (creds / "smtp.pass").write_text(SMTP_PASS + "\n")
    (creds / "smtp.pass").chmod(0o400)
    (tmp_path / "formpost.yaml").write_text(text)
    return tmp_path / "formpost.yaml", creds


def test_installed_formpost_checks_and_serves(root, tmp_path, smtpd, pki):
    """The installed binary with the installed config (filled in), its
    templates and a credential: `check` passes, and `serve` on a socket
    handed over like formpost.socket does answers a post and mails it."""
    binary = str(root / "usr/bin/formpost")
    out = subprocess.run([binary, "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == f"formpost {package.version()}"
    cfg, creds = installed_config(root, tmp_path, smtpd.port, pki.ca)
    env = dict(os.environ, CREDENTIALS_DIRECTORY=str(creds))
    p = subprocess.run([binary, "check", "-c", str(cfg)], capture_output=True,
                       text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ok (1 site, 1 smtp profile)" in p.stdout
    path = str(tmp_path / "formpost.sock")
    proc = socket_activated([binary, "serve", "-c", str(cfg)], path,
                            tmp_path / "fp.log", env=env)
    try:
        wait_for(lambda: b"event=started" in (tmp_path / "fp.log").read_bytes(),
                 10, "start")
        body = urllib.parse.urlencode({"name": "Taro", "email": "taro@example.jp",
                                       "message": "Hello from the package"}).encode()
        status, _, page = fcgi_client.post(f"unix:{path}", "/formpost/example", body)
        assert status == 200, page
        _, msg = smtpd.wait(1)[0]
        assert "Hello from the package" in body_text(msg)
        assert msg["Reply-To"].addresses[0].addr_spec == "taro@example.jp"
        assert b"Thank" in page or b"thank" in page   # the en thanks page
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    assert SMTP_PASS.encode() not in (tmp_path / "fp.log").read_bytes()
