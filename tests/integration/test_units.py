"""conf/formpost.service and formpost.socket: systemd's own analysis.
systemd is not PID 1 here, so the units are judged offline: the exposure
score of `systemd-analyze security` and a clean `systemd-analyze verify`
(with /usr/bin/formpost pointed at the built binary and the man pages of
doc/ on MANPATH, so Documentation= resolves)."""
import os
import re
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_EXPOSURE = 2.0


def exposure(unit_path):
    p = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        "--no-pager", unit_path], capture_output=True,
                       text=True, timeout=60)
    m = re.search(r"Overall exposure level for formpost\.service: (\d+\.\d+)",
                  p.stdout)
    assert m, p.stdout + p.stderr
    return float(m.group(1)), p.stdout


def test_service_exposure_ok():
    score, report = exposure(os.path.join(ROOT, "conf/formpost.service"))
    assert score <= MAX_EXPOSURE, report


def test_exposure_measure_sees_hardening(tmp_path):
    """The measure is real: the same unit without its sandbox (the shipped
    unit before hardening) scores far above the limit."""
    text = open(os.path.join(ROOT, "conf/formpost.service")).read()
    service = text.split("[Service]")[1].split("[Install]")[0]
    keep = ("Type=", "Exec", "TimeoutStopSec=", "User=", "Group=")
    bare = text.replace(service, "\n" + "\n".join(
        l for l in service.splitlines() if l.startswith(keep)) + "\n\n")
    (tmp_path / "formpost.service").write_text(bare)
    score, _ = exposure(str(tmp_path / "formpost.service"))
    assert score > 5.0


def test_units_settings():
    text = open(os.path.join(ROOT, "conf/formpost.service")).read()
    for line in ("User=formpost", "ProtectSystem=strict",
                 "ReadWritePaths=/var/spool/formpost", "PrivateTmp=yes",
                 "PrivateDevices=yes", "ProtectHome=yes",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                 "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n",
                 "MemoryDenyWriteExecute=yes", "LockPersonality=yes",
                 "UMask=0077", "LoadCredential=smtp.pass:/etc/formpost/smtp.pass"):
        assert line in text, line
    # The unit's writable spool is the config loader's default spool.
    src = open(os.path.join(ROOT, "src/config.c"), encoding="utf-8").read()
    assert 'c->spool = strdup("/var/spool/formpost")' in src
    tmpfiles = open(os.path.join(ROOT, "conf/formpost.tmpfiles")).read()
    assert re.search(r"^d /var/spool/formpost 0700 formpost formpost", tmpfiles, re.M)
    sock = open(os.path.join(ROOT, "conf/formpost.socket")).read()
    for line in ("ListenStream=/run/formpost/formpost.sock", "SocketUser=formpost",
                 "SocketGroup=www-data", "SocketMode=0660"):
        assert line in sock, line


def test_units_verify(tmp_path):
    man = tmp_path / "man"
    for sec, page in (("8", "formpost.8"), ("5", "formpost.yaml.5")):
        (man / f"man{sec}").mkdir(parents=True)
        shutil.copy(os.path.join(ROOT, "doc", page), man / f"man{sec}" / page)
    binary = os.path.join(ROOT, "formpost")
    for u in ("formpost.service", "formpost.socket"):
        text = open(os.path.join(ROOT, "conf", u)).read()
        (tmp_path / u).write_text(text.replace("/usr/bin/formpost", binary))
    env = dict(os.environ, MANPATH=str(man))
    p = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "formpost.socket"),
                        str(tmp_path / "formpost.service")], capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 0 and p.stdout + p.stderr == "", p.stdout + p.stderr
