#!/usr/bin/python3
"""Builds the Debian package the way a clean clone would: copies the
tracked tree (git ls-files, so build outputs and untracked files stay out)
into a temporary directory, runs `dpkg-buildpackage -us -uc -b` there and
lintian on the result.  The repository tree is never written to.

  tests/package.py [--out DIR]   build; copy the .deb to DIR; print lintian

Imported by tests/integration/test_package.py (build() returns the paths).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def version():
    """The Makefile's VERSION (debian/changelog must agree)."""
    for line in open(os.path.join(ROOT, "Makefile"), encoding="utf-8"):
        if line.startswith("VERSION"):
            return line.split(":=")[1].strip()
    raise RuntimeError("no VERSION in Makefile")


def clean_copy(dest):
    """The tracked files of the working tree (as a clone of it would have
    them, with uncommitted edits) under dest."""
    files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], check=True,
                           capture_output=True).stdout.split(b"\0")
    files = [f for f in files if f and os.path.lexists(os.path.join(ROOT.encode(), f))]
    tar = subprocess.run(["tar", "-C", ROOT, "--null", "-T", "-", "-cf", "-"],
                         input=b"\0".join(files), capture_output=True, check=True)
    os.makedirs(dest)
    subprocess.run(["tar", "-C", dest, "-xf", "-"], input=tar.stdout, check=True)


def build(workdir):
    """Builds in workdir; returns {"deb", "changes", "log", "lintian"}
    (lintian: its output lines).  Raises CalledProcessError with the log
    when the build fails."""
    src = os.path.join(workdir, f"formpost-{version()}")
    clean_copy(src)
    env = dict(os.environ, DEB_BUILD_OPTIONS="parallel=2")
    log = os.path.join(workdir, "build.log")
    with open(log, "wb") as f:
        p = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src,
                           stdout=f, stderr=subprocess.STDOUT, env=env,
                           timeout=900)
    if p.returncode != 0:
        raise subprocess.CalledProcessError(p.returncode, "dpkg-buildpackage",
                                            output=open(log).read()[-6000:])
    arch = subprocess.run(["dpkg-architecture", "-qDEB_HOST_ARCH"], check=True,
                          capture_output=True, text=True).stdout.strip()
    base = os.path.join(workdir, f"formpost_{version()}_{arch}")
    lint = subprocess.run(["lintian", "--no-tag-display-limit",
                           "--display-level", ">=info", base + ".changes"],
                          capture_output=True, text=True, timeout=600)
    return {"deb": base + ".deb", "changes": base + ".changes", "log": log,
            "lintian": [l for l in lint.stdout.splitlines() if l.strip()],
            "lintian_rc": lint.returncode}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="formpost-deb-")
    try:
        try:
            r = build(work)
        except subprocess.CalledProcessError as e:
            print(e.output)
            return 1
        print("\n".join(r["lintian"]) or "lintian: no tags")
        if a.out:
            os.makedirs(a.out, exist_ok=True)
            shutil.copy(r["deb"], a.out)
            print(os.path.join(a.out, os.path.basename(r["deb"])))
        return 1 if any(l.startswith("E:") for l in r["lintian"]) else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
