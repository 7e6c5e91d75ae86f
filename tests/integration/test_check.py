"""`formpost check` against the example config, good environments and bad
configs: exit status and the FILE:LINE:COLUMN of each finding."""
import os
import pwd
import re
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORMPOST = os.path.join(ROOT, "formpost")
EXAMPLE = os.path.join(ROOT, "conf", "formpost.example.yaml")
SECRET = "s3cret-PASSWORD-never-printed"


def run(*args, env=None):
    p = subprocess.run([FORMPOST, *args], capture_output=True, text=True,
                       env=env, timeout=30)
    return p.returncode, p.stdout + p.stderr


@pytest.fixture
def world():
    """A world-traversable temp dir (the check may drop to user nobody)."""
    d = tempfile.mkdtemp(prefix="fp-check-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def example_in(world, user=None):
    """The example config with its paths moved into world."""
    text = open(EXAMPLE, encoding="utf-8").read()
    text = text.replace("/etc/formpost/smtp.pass", f"{world}/smtp.pass")
    text = text.replace("/var/spool/formpost", f"{world}/spool")
    text = text.replace("/usr/share/formpost/templates", f"{ROOT}/templates")
    text = text.replace("user: formpost", f"user: {user}" if user else "")
    with open(f"{world}/smtp.pass", "w") as f:
        f.write(SECRET + "\n")
    os.chmod(f"{world}/smtp.pass", 0o600)
    os.mkdir(f"{world}/spool", 0o700)
    path = f"{world}/formpost.yaml"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def test_version_and_help():
    rc, out = run("--version")
    assert rc == 0 and re.match(r"formpost \d+\.\d+\.\d+", out)
    rc, out = run("--help")
    assert rc == 0 and "formpost check" in out and "FORMPOST_CONFIG" in out


def test_unknown_command_exits_2():
    rc, out = run("frobnicate")
    assert rc == 2 and "usage:" in out


def test_example_accepted(world):
    path = example_in(world)
    env = dict(os.environ, BACKUP_SMTP_PASS=SECRET)
    rc, out = run("check", "-c", path, env=env)
    assert rc == 0, out
    assert "ok (1 site, 2 smtp profiles)" in out
    assert SECRET not in out


def test_config_from_environment(world):
    path = example_in(world)
    env = dict(os.environ, BACKUP_SMTP_PASS=SECRET, FORMPOST_CONFIG=path)
    rc, out = run("check", env=env)
    assert rc == 0, out


def test_missing_password_env_named_not_leaked(world):
    path = example_in(world)
    env = {k: v for k, v in os.environ.items() if k != "BACKUP_SMTP_PASS"}
    rc, out = run("check", "-c", path, env=env)
    assert rc == 1
    assert "BACKUP_SMTP_PASS is not set" in out
    assert SECRET not in out


def test_password_file_readable_by_others(world):
    path = example_in(world)
    os.chmod(f"{world}/smtp.pass", 0o644)
    rc, out = run("check", "-c", path, env=dict(os.environ, BACKUP_SMTP_PASS="x"))
    assert rc == 1
    assert "accessible by others: chmod 0600" in out
    assert SECRET not in out


def test_acts_as_service_user(world):
    """As root with user: nobody, the check opens files as nobody: a
    root-only password file and spool are errors."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root (CI runs as root)")
    path = example_in(world, user="nobody")
    env = dict(os.environ, BACKUP_SMTP_PASS="x")
    rc, out = run("check", "-c", path, env=env)
    assert rc == 1
    assert "cannot read password_file" in out and "Permission denied" in out
    assert "spool" in out and "not writable" in out
    nobody = pwd.getpwnam("nobody")
    os.chown(f"{world}/smtp.pass", nobody.pw_uid, nobody.pw_gid)
    os.chown(f"{world}/spool", nobody.pw_uid, nobody.pw_gid)
    rc, out = run("check", "-c", path, env=env)
    assert rc == 0, out


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777, 0o720, 0o702])
def test_spool_writable_by_others_is_an_error(world, mode):
    """A spool other users may write lets them plant messages."""
    path = example_in(world)
    env = dict(os.environ, BACKUP_SMTP_PASS="x")
    rc, out = run("check", "-c", path, env=env)
    assert rc == 0, out
    os.chmod(f"{world}/spool", mode)
    rc, out = run("check", "-c", path, env=env)
    assert rc == 1
    assert f"spool {world}/spool must be owned by the service user" in out
    assert f"mode {mode:04o}" in out


def test_spool_owned_by_another_user_is_an_error(world):
    if os.geteuid() != 0:
        pytest.fail("this test needs root (CI runs as root)")
    path = example_in(world)
    nobody = pwd.getpwnam("nobody")
    os.chown(f"{world}/spool", nobody.pw_uid, nobody.pw_gid)
    rc, out = run("check", "-c", path, env=dict(os.environ, BACKUP_SMTP_PASS="x"))
    assert rc == 1 and f"mode 0700, uid {nobody.pw_uid}" in out


def test_unknown_user(world):
    path = example_in(world, user="no-such-user-fp")
    rc, out = run("check", "-c", path, env=dict(os.environ, BACKUP_SMTP_PASS="x"))
    assert rc == 1 and "no-such-user-fp: no such user" in out


def test_missing_file():
    rc, out = run("check", "-c", "/nonexistent/formpost.yaml")
    assert rc == 1
    assert "/nonexistent/formpost.yaml: cannot read: No such file" in out


def where(text, marker, new):
    """1-based LINE:COL (COL in characters) of marker inside the text
    rewrite() put in. Searching the whole text could hit the world's
    random directory name (a world named /tmp/fp-check-6jpiandk holds 'jp')."""
    i = text.index(new) + new.index(marker)
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return f"{line}:{col}"


def rewrite(path, old, new):
    text = open(path, encoding="utf-8").read()
    assert old in text
    text = text.replace(old, new, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text


BAD = [
    # (replace this, with this, where the error points, message)
    ("workers: 8", "workers: eight", "eight", "workers must be a whole number"),
    ("workers: 8", "workers: 8\nworkers: 9", "workers: 9", "duplicate key 'workers'"),
    ("spool: ", "spool: &s ", "&s", "YAML anchors"),
    ("  max_body: 64k", "  max_body: 64 kilobytes", "64 kilo", "max_body must be a size"),
    ("  first_retry: 30s", "  first_retry: soon", "soon", "first_retry must be a duration"),
    ("    password_file:", "    password: hunter2\n    #",
     "password: hunter2", "inline passwords are not allowed: use password_file"),
    ("    to: [info@example.com]", "    to: [info@example..com]", "info@example..com",
     "to: 'info@example..com' is not an address"),
    ("    lang: ja", "    lang: jp", "jp", "lang must be ja or en"),
    ("type: select,", "type: dropdown,", "dropdown", "unknown field type 'dropdown'"),
    ("workers: 8", "workers: 8\ncolour: blue", "colour", "unknown key 'colour'"),
    ("spool: /tmp/", 'spool: "/var/spool\\0formpost" #', '"/var/spool', "NUL byte"),
    ("  max_fields: 50", "  max_fields: {a: {b: {c: {d: {e: 1}}}}}", "{e: 1}", "nested deeper"),
]


@pytest.mark.parametrize("old,new,marker,want", BAD, ids=[b[3][:30] for b in BAD])
def test_bad_config(world, old, new, marker, want):
    path = example_in(world)
    text = rewrite(path, old, new)
    rc, out = run("check", "-c", path)
    assert rc == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{path}:{where(text, marker, new)}: {want}"), first
    assert "hunter2" not in out


LINT = [
    ('from: "Example Web <noreply@example.com>"', 'from: "Shop <shop@docomo.ne.jp>"',
     '"Shop', "error: site example: from is at docomo.ne.jp"),
    ('from: "Example Web <noreply@example.com>"', 'from: "Shop <shop@gmail.com>"',
     '"Shop', "error: site example: from is at gmail.com"),
    ("envelope_from: bounces@example.com", "envelope_from: bounces@other.example",
     "bounces@other", "error: site example: envelope_from is at other.example but from is at example.com"),
]


@pytest.mark.parametrize("old,new,marker,want", LINT, ids=["carrier", "gmail", "envelope"])
def test_deliverability_errors(world, old, new, marker, want):
    path = example_in(world)
    text = rewrite(path, old, new)
    rc, out = run("check", "-c", path, env=dict(os.environ, BACKUP_SMTP_PASS="x"))
    assert rc == 1
    assert f"{path}:{where(text, marker, new)}: {want}" in out, out


def test_username_domain_warning_only(world):
    path = example_in(world)
    new = "username: relay@mailer.example"
    text = rewrite(path, "username: noreply@example.com", new)
    rc, out = run("check", "-c", path, env=dict(os.environ, BACKUP_SMTP_PASS="x"))
    assert rc == 0, out
    want = (f"{path}:{where(text, 'relay@mailer', new)}: warning: site example: "
            "smtp profile main logs in as a user at mailer.example")
    assert want in out, out


def test_template_errors_are_check_errors(world):
    """Templates are compiled by check as by serve: an unknown variable in a
    site's override template is reported with its file, line and column."""
    path = example_in(world)
    os.mkdir(f"{world}/site-tmpl")
    with open(f"{world}/site-tmpl/thanks.html", "w", encoding="utf-8") as f:
        f.write("<p>ありがとう</p>\n<p>{{nosuchfield}}</p>\n")
    rewrite(path, "    # templates: /etc/formpost/sites/example",
            f"    templates: {world}/site-tmpl")
    rc, out = run("check", "-c", path, env=dict(os.environ, BACKUP_SMTP_PASS="x"))
    assert rc == 1
    assert f"{world}/site-tmpl/thanks.html:2:6: unknown variable" in out, out
    assert "nosuchfield" in out


def test_password_credential(world):
    """password_credential NAME reads $CREDENTIALS_DIRECTORY/NAME, as
    systemd's LoadCredential= provides it; without systemd, check says to
    use LoadCredential=."""
    path = example_in(world)
    text = open(path, encoding="utf-8").read().replace(
        f"password_file: {world}/smtp.pass", "password_credential: smtp.pass")
    open(path, "w", encoding="utf-8").write(text)
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    env["BACKUP_SMTP_PASS"] = SECRET
    rc, out = run("check", "-c", path, env=env)
    assert rc == 1, out
    assert "needs $CREDENTIALS_DIRECTORY" in out and "LoadCredential=" in out
    creds = f"{world}/creds"
    os.mkdir(creds, 0o700)
    os.rename(f"{world}/smtp.pass", f"{creds}/smtp.pass")
    os.chmod(f"{creds}/smtp.pass", 0o400)
    rc, out = run("check", "-c", path, env=dict(env, CREDENTIALS_DIRECTORY=creds))
    assert rc == 0, out
    assert SECRET not in out
