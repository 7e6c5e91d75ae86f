"""Files planted in the spool's queue/ (a symlink out of the spool, a file
of another user, a FIFO, a directory, a symlink to something that cannot be
opened): none is followed or delivered; each goes to corrupt/ once, with one
log line, and is not retried."""
import os
import pwd
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from harness import post_form, wait_for

FIELDS = {"name": "山田 太郎", "email": "taro@example.jp", "message": "planted"}


def spool(config, sub):
    return sorted(p.name for p in (Path(config["spool"]) / sub).iterdir())


def test_planted_files_go_to_corrupt_once_and_nothing_is_delivered(
        formpost_factory, nginx_factory, formpost_config, smtpd, smtpd_factory):
    if os.geteuid() != 0:
        pytest.fail("this test needs root (CI runs as root)")
    formpost_config["delivery"] = {"first_retry": "1s", "max_retry": "2s",
                                   "max_age": "1h"}
    port = smtpd.pause()
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(fp.target)
    ids = []
    for i in range(3):
        r = post_form(ng.url("/formpost/example"), dict(FIELDS, message=f"m{i}"),
                      accept="application/json")
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    fp.stop()
    linked, foreign, good = ids
    queue = Path(formpost_config["spool"]) / "queue"
    outside = Path(tempfile.mkdtemp(prefix="fp-out-"))
    try:
        # A valid message moved out of the spool, a symlink left in its place.
        shutil.move(str(queue / linked), str(outside / linked))
        os.symlink(outside / linked, queue / linked)
        kept = (outside / linked).read_bytes()
        # A valid message that another user owns.
        nobody = pwd.getpwnam("nobody")
        os.chown(queue / foreign, nobody.pw_uid, nobody.pw_gid)
        # A symlink to a socket: opening it fails (ENXIO) every time.
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(outside / "s"))
        os.symlink(outside / "s", queue / ("S" * 20))
        os.mkfifo(queue / ("F" * 20))
        (queue / ("D" * 20)).mkdir()
        planted = sorted([linked, foreign, "S" * 20, "F" * 20, "D" * 20])

        back = smtpd_factory(port=port)
        fp2 = formpost_factory(formpost_config, name="again")
        back.wait(1)
        wait_for(lambda: spool(formpost_config, "corrupt") == planted, 10,
                 "corrupt/")
        time.sleep(12)             # two rescans (every 5 s) and retries
        assert spool(formpost_config, "queue") == []
        assert spool(formpost_config, "corrupt") == planted
        got = [m["Message-ID"] for _, m in back.messages()]
        assert len(got) == 1 and good in got[0]
        ev = fp2.events(event="corrupt")
        assert sorted(e["id"] for e in ev) == planted      # once each
        assert all("not a regular file owned by the service user"
                   in e["error"] for e in ev)
        assert fp2.events(event="spool_error") == []
        # The symlink itself was moved; what it pointed at is untouched.
        corrupt = Path(formpost_config["spool"]) / "corrupt"
        assert (corrupt / linked).is_symlink()
        assert (outside / linked).read_bytes() == kept
        sock.close()
    finally:
        shutil.rmtree(outside, ignore_errors=True)
