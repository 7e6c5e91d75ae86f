"""The man pages in doc/: they render without a single groff or man-db
warning, formpost.yaml(5) has an entry for every key the config loader
accepts, and formpost(8) one for every command `formpost --help` lists."""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = ["doc/formpost.8", "doc/formpost.yaml.5"]


def rendered(page):
    """The page as `man -l` shows it, plain text."""
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    p = subprocess.run(["man", "-l", "-Tutf8", os.path.join(ROOT, page)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    return re.sub(r".\x08", "", p.stdout)


def config_keys():
    """Every key in src/config.c's key tables (static const char *const
    NAME[] = { "a", "b", ..., NULL })."""
    src = open(os.path.join(ROOT, "src/config.c"), encoding="utf-8").read()
    tables = re.findall(r"static const char \*const \w+\[\] = \{([^;\[]*?)NULL \};",
                        src, re.S)
    assert len(tables) >= 6, "the key tables of config.c were not found"
    return sorted({k for t in tables for k in re.findall(r'"([a-z_0-9]+)"', t)})


@pytest.mark.parametrize("page", PAGES)
def test_renders_without_warnings(page):
    """groff's full warnings (-ww) and man-db's --warnings, as lintian runs
    them: no output on stderr."""
    path = os.path.join(ROOT, page)
    p = subprocess.run(["groff", "-mandoc", "-ww", "-z", "-Tutf8", path],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8",
                        "-Z", path], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    text = rendered(page)
    name = os.path.basename(page).rsplit(".", 1)[0].upper()
    assert text.startswith(name + "(")


def test_every_config_key_documented():
    source = open(os.path.join(ROOT, "doc/formpost.yaml.5"), encoding="utf-8").read()
    documented = set(re.findall(r"^\.It Ic (\S+)", source, re.M))
    keys = config_keys()
    assert "password_credential" in keys and "max_body" in keys
    missing = [k for k in keys if k not in documented]
    assert not missing, f"formpost.yaml(5) lacks .It Ic entries for: {missing}"
    text = rendered("doc/formpost.yaml.5")
    for k in keys:
        assert re.search(rf"^ +{k} ", text, re.M), k


def help_commands():
    """The commands of `formpost --help` (its command list) and the
    subcommands of `formpost help queue` (its COMMANDS section)."""
    fp = os.path.join(ROOT, "formpost")
    over = subprocess.run([fp, "--help"], capture_output=True, text=True,
                          timeout=10).stdout
    cmds = re.findall(r"^([a-z][a-z-]*) {2,}\S", over, re.M)
    assert {"serve", "check", "queue"} <= set(cmds), over
    cmds.append("help")
    queue = subprocess.run([fp, "help", "queue"], capture_output=True,
                           text=True, timeout=10).stdout
    section = queue.split("\nCOMMANDS\n", 1)[1].split("\n\n", 1)[0]
    subs = re.findall(r"^ {4}([a-z]+)\b", section, re.M)
    assert {"list", "flush", "retry", "drop", "check"} <= set(subs), section
    return cmds, subs


def test_every_command_documented():
    cmds, subs = help_commands()
    text = rendered("doc/formpost.8")
    commands = text.split("\nCOMMANDS\n", 1)[1].split("\nOPTIONS\n", 1)[0]
    for c in cmds:
        assert re.search(rf"^ +formpost \[?{re.escape(c)}\b", commands, re.M), c
    for s in subs:
        assert re.search(rf"^ +formpost queue {s}\b", commands, re.M), s
    for section in ("SIGNALS", "FILES", "EXIT STATUS", "EXAMPLES", "ENVIRONMENT"):
        assert f"\n{section}\n" in text, section
