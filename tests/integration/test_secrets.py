"""Secrets stay out of core dumps and /proc: formpost started directly as
an unprivileged service user (as a systemd unit with User= does) with its
SMTP password in password_env is not dumpable, has no core size, and its
/proc/PID/environ no longer holds the password; a reload still has it."""
import os
import pwd
import re
import resource
import shutil
import subprocess
from pathlib import Path

from harness import (SMTP_PASS, Formpost, base_config, formpost_binary,
                     post_form, wait_for)

VAR = "FP_TEST_SMTP_PASS"
FIELDS = {"name": "山田 太郎", "email": "taro@example.jp", "message": "secret"}


def as_nobody(nobody):
    return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
            "--clear-groups", "--"]


def test_password_env_not_in_proc_nor_dumpable_and_reload_keeps_it(
        public_dir, smtpd, pki, nginx_factory, monkeypatch):
    assert os.geteuid() == 0, "this test needs root (CI runs as root)"
    nobody = pwd.getpwnam("nobody")
    shutil.copy(pki.ca, public_dir / "ca.pem")
    config = base_config(public_dir, smtpd.port, public_dir / "ca.pem")
    main = config["smtp"]["main"]
    del main["password_file"]
    main["password_env"] = VAR
    (public_dir / "smtp.pass").unlink()
    for p in [public_dir, *public_dir.rglob("*")]:
        os.chown(p, nobody.pw_uid, nobody.pw_gid)
    wrapper = public_dir / "as-nobody.sh"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(as_nobody(nobody)) +
                       f" {formpost_binary()} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("FORMPOST_BIN", str(wrapper))
    # A core limit the process inherits and must lower itself.
    old = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,
                                              resource.RLIM_INFINITY))
    try:
        fp = Formpost(public_dir, config).start(env={VAR: SMTP_PASS})
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, old)
    try:
        proc = Path(f"/proc/{fp.pid}")
        status = (proc / "status").read_text()
        assert re.search(rf"^Uid:\s+{nobody.pw_uid}\s", status, re.M)
        # Not dumpable: its /proc entries are root's, so the same user
        # cannot read them (nor ptrace it).
        assert (proc / "environ").stat().st_uid == 0
        peek = subprocess.run(as_nobody(nobody) + ["cat", str(proc / "environ")],
                              capture_output=True)
        assert peek.returncode != 0 and b"Permission denied" in peek.stderr
        limits = (proc / "limits").read_text()
        assert re.search(r"^Max core file size\s+0\s+0\s", limits, re.M), limits
        # The value is wiped from the environment block (the variable is
        # gone from environ too).
        env = (proc / "environ").read_bytes()
        i = env.find(f"{VAR}=".encode())
        assert SMTP_PASS.encode() not in env, env[i - 20:i + 60]
        # It still authenticates, before and after a reload.
        ng = nginx_factory(fp.target)
        r = post_form(ng.url("/formpost/example"), FIELDS)
        assert r.status_code == 200, r.text
        smtpd.wait(1)
        fp.reload()
        wait_for(lambda: fp.events(event="reloaded"), 10, "reloaded")
        assert not fp.events(event="reload_failed")
        r = post_form(ng.url("/formpost/example"), dict(FIELDS, message="again"))
        assert r.status_code == 200, r.text
        smtpd.wait(2)
        assert SMTP_PASS.encode() not in (proc / "environ").read_bytes()
        assert not any(SMTP_PASS in line for line in fp.log_lines())
    finally:
        fp.stop()
