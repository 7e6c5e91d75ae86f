"""conf/formpost.service and formpost.socket: systemd's own analysis.
systemd is not PID 1 here, so the units are judged offline: the exposure
score of `systemd-analyze security` and a clean `systemd-analyze verify`
(with /usr/bin/formpost pointed at the built binary and the man pages of
doc/ on MANPATH, so Documentation= resolves)."""
import os
import re
import shutil
import signal
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


def syscall_set(group, seen=None):
    """The system calls in a systemd syscall-filter group, nested groups
    expanded (`systemd-analyze syscall-filter GROUP`)."""
    seen = set() if seen is None else seen
    if group in seen:
        return set()
    seen.add(group)
    out = subprocess.run(["systemd-analyze", "syscall-filter", group],
                         capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        word = line.split("#", 1)[0].strip()
        if word.startswith("@"):
            calls |= syscall_set(word, seen)
        elif word:
            calls.add(word)
    return calls


def unit_syscall_filter():
    """The set the unit's SystemCallFilter= lines allow (an allow list,
    then ~deny lists, applied in order as systemd does)."""
    text = open(os.path.join(ROOT, "conf/formpost.service")).read()
    allowed = None
    for value in re.findall(r"^SystemCallFilter=(.*)$", text, re.M):
        deny = value.startswith("~")
        names = set()
        for w in value.lstrip("~").split():
            names |= syscall_set(w) if w.startswith("@") else {w}
        allowed = (allowed - names) if deny else ((allowed or set()) | names)
    return allowed


def test_sandbox_allows_what_formpost_does(tmp_path, formpost_config, smtpd):
    """systemd cannot run the unit here, so trace what it would confine:
    `check` and `serve` (socket handed over as fd 3, a post accepted and
    delivered, TERM) under strace.  Every system call made must pass the
    unit's SystemCallFilter=, every socket must be of a family
    RestrictAddressFamilies= allows, and every file written must be under
    the spool (ProtectSystem=strict with ReadWritePaths= the spool)."""
    import fcgi_client
    from harness import (descendants, formpost_binary, socket_activated,
                         wait_for, write_config)
    del formpost_config["listen"]
    spool = formpost_config["spool"]
    cfg = write_config(tmp_path / "fp.yaml", formpost_config)
    trace = tmp_path / "strace.log"
    p = subprocess.run(["strace", "-f", "-qq", "-o", str(trace), str(formpost_binary()),
                        "check", "-c", str(cfg)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    checked = trace.read_text()
    path = str(tmp_path / "sd.sock")
    proc = socket_activated([str(formpost_binary()), "serve", "-c", str(cfg)],
                            path, tmp_path / "fp.log",
                            prefix=("strace", "-f", "-qq", "-o", str(trace)))
    try:
        wait_for(lambda: b"event=started" in (tmp_path / "fp.log").read_bytes(), 20, "start")
        body = b"name=a&email=a%40example.jp&message=m"
        status, _, page = fcgi_client.post(f"unix:{path}", "/formpost/example", body)
        assert status == 200, page
        smtpd.wait(1, timeout=20)
        wait_for(lambda: not os.listdir(os.path.join(spool, "queue")), 20, "delivered")
    finally:
        # TERM to formpost itself (strace's only child); strace then exits
        # with formpost's status.
        for pid in descendants(proc.pid):
            os.kill(pid, signal.SIGTERM)
        assert proc.wait(20) == 0
    lines = (checked + trace.read_text()).splitlines()
    calls = {m.group(1) for l in lines
             if (m := re.match(r"^\d+ +([a-z0-9_]+)\(", l))}
    assert {"openat", "fsync", "rename", "sendto", "connect"} & calls
    denied = calls - unit_syscall_filter()
    assert not denied, f"SystemCallFilter= would refuse: {sorted(denied)}"
    families = set(re.findall(r" socket\((AF_[A-Z0-9]+)", "\n".join(lines)))
    assert families and families <= {"AF_UNIX", "AF_INET", "AF_INET6"}, families
    written = set()
    for l in lines:
        m = re.search(r' (?:openat|open)\((?:AT_FDCWD|\d+), "([^"]+)", ([A-Z_|]+)', l)
        if m and re.search(r"O_WRONLY|O_RDWR|O_CREAT", m.group(2)) and "= -1" not in l:
            written.add(m.group(1))
        m = re.search(r' (?:mkdir|mkdirat|unlink|unlinkat|rename|renameat2?)\((?:AT_FDCWD, |\d+, )?"([^"]+)"', l)
        if m and "= -1" not in l:
            written.add(m.group(1))
    outside = {w for w in written if not (w.startswith(spool) or w == "/dev/null"
                                          or not w.startswith("/"))}
    assert not outside, f"writes outside the spool: {sorted(outside)}"
