"""Process and file helpers for formpost's integration tests and `make run`.

Plain Python (no pytest import) so tests/demo.py can use it too; the pytest
fixtures wrapping these classes live in conftest.py.

Every process is started in its own session (process group = its pid) and
stopped by that pid; `stop()` checks that nothing of the group survives.
Everything listens on loopback only.
"""

import email
import email.policy
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent          # tests/integration
REPO = HERE.parent.parent                       # repository root
PYTHON = "/usr/bin/python3"                     # Debian's (has aiosmtpd)
SMTPD = HERE / "smtpd.py"
FCGI_ECHO = HERE / "fcgi_echo.py"
APACHE_MODULES = "/usr/lib/apache2/modules"

# Defaults shared by base_config() and post_form().
SMTP_USER = "noreply@example.com"
SMTP_PASS = "s3cret-smtp-pass"
SITE_ORIGIN = "https://www.example.com"
# A submission id as formpost writes it (doc/design.md "The id").
ID_RE = r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}"


class HarnessError(RuntimeError):
    """A helper process failed to start or stop as expected."""


# --------------------------------------------------------------------------
# small utilities

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return free_ports(1)[0]


def free_ports(n):
    """n different TCP ports on 127.0.0.1 that were free a moment ago (all
    held while picking: free_port() twice may give one port twice)."""
    socks = []
    try:
        for _ in range(n):
            socks.append(socket.socket())
            socks[-1].bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for(predicate, timeout, what, interval=0.02):
    """Poll predicate() until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def can_connect(target):
    """True when a stream connection to target ("unix:/p", "/p", "h:port") works."""
    try:
        with connect(target, timeout=1):
            return True
    except OSError:
        return False


def connect(target, timeout=5):
    if target.startswith("unix:") or target.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(target[5:] if target.startswith("unix:") else target)
        except OSError:
            s.close()
            raise
        return s
    host, _, port = target.rpartition(":")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)


def group_pids(pgid):
    """Pids of live (non-zombie) processes whose process group is pgid."""
    pids = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(stat.split("/")[2]))
    return sorted(pids)


def descendants(pid):
    """Pids of all live descendants of pid (children, grandchildren...)."""
    parent = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        if fields[0] != "Z":
            parent[int(stat.split("/")[2])] = int(fields[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return sorted(out)


def pid_alive(pid):
    """True when pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rindex(")") + 2] != "Z"


def tail(path, n=40):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM when its parent dies (prctl
    PR_SET_PDEATHSIG), so a killed pytest or demo leaves nothing running."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)       # 1 = PR_SET_PDEATHSIG


class Proc:
    """A child process in its own process group, output sent to log files.
    It is sent SIGTERM if the process that started it dies."""

    def __init__(self, argv, log, *, cwd=None, env=None, stdout=None):
        self.argv = [str(a) for a in argv]
        self.log = Path(log)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._err = open(self.log, "ab")
        out = subprocess.PIPE if stdout == "pipe" else self._err
        self.popen = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=self._err,
            cwd=cwd, env=env, start_new_session=True,
            preexec_fn=_die_with_parent)
        self.pid = self.popen.pid
        self._buf = b""

    def alive(self):
        return self.popen.poll() is None

    def read_line(self, timeout):
        """Next stdout line (stdout="pipe"), or HarnessError on exit/timeout."""
        import select
        fd = self.popen.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise HarnessError(f"{self.argv[0]}: no output in {timeout}s\n"
                                   + tail(self.log))
            chunk = os.read(fd, 4096)
            if not chunk:
                try:
                    self.popen.wait(5)
                except subprocess.TimeoutExpired:
                    pass
                raise HarnessError(f"{self.argv[0]} exited {self.popen.returncode}:\n"
                                   + tail(self.log))
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode("utf-8", "replace").strip()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signal the process, wait, make sure its whole group is gone.

        Returns the exit code.  Anything still alive after `timeout` is
        killed (by pid / by our own process group) and reported."""
        leftovers = []
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                leftovers.append(self.pid)
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        # Children (nginx workers, apache children) share the group; give
        # them a moment to follow their master.
        try:
            wait_for(lambda: not group_pids(self.pid), 10, "process group exit")
        except TimeoutError:
            leftovers += group_pids(self.pid)
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._close()
        if leftovers:
            raise HarnessError(f"{self.argv[0]}: processes left behind and "
                               f"killed: {leftovers}\n{tail(self.log)}")
        return self.popen.returncode

    def kill(self):
        """SIGKILL the process (and its group); returns the exit code."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(10)
        if group_pids(self.pid):
            os.killpg(self.pid, signal.SIGKILL)
        self._close()
        return self.popen.returncode

    def _close(self):
        if self.popen.stdout:
            self.popen.stdout.close()
        self._err.close()


# --------------------------------------------------------------------------
# PKI

class Pki:
    """A test CA and certificates, made with the openssl CLI.

    Attributes (all Paths):
      ca, ca_key                 the test CA (trust this one: ca_file)
      server_cert, server_key    CN/SAN localhost + IP 127.0.0.1, signed by ca
      wrong_cert, wrong_key      CN/SAN wrong.example, signed by ca
      untrusted_cert, untrusted_key  localhost + 127.0.0.1, signed by another CA
      other_ca                   that other CA
    """

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca, self.ca_key = self._ca("ca", "formpost test CA")
        self.other_ca, other_key = self._ca("other-ca", "some other CA")
        self.server_cert, self.server_key = self._leaf(
            "server", "localhost", "DNS:localhost,IP:127.0.0.1", self.ca, self.ca_key)
        self.wrong_cert, self.wrong_key = self._leaf(
            "wrong", "wrong.example", "DNS:wrong.example", self.ca, self.ca_key)
        self.untrusted_cert, self.untrusted_key = self._leaf(
            "untrusted", "localhost", "DNS:localhost,IP:127.0.0.1",
            self.other_ca, other_key)

    def pair(self, name):
        """(cert, key) for "server", "wrong" or "untrusted"."""
        return getattr(self, f"{name}_cert"), getattr(self, f"{name}_key")

    def _openssl(self, *args):
        subprocess.run(["openssl", *map(str, args)], check=True, cwd=self.dir,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _ca(self, name, cn):
        cert, key = self.dir / f"{name}.pem", self.dir / f"{name}.key"
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                      "-out", cert, "-days", "3650", "-subj", f"/CN={cn}",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return cert, key

    def _leaf(self, name, cn, san, ca, ca_key):
        cert, key = self.dir / f"{name}.pem", self.dir / f"{name}.key"
        csr, ext = self.dir / f"{name}.csr", self.dir / f"{name}.ext"
        ext.write_text(f"subjectAltName={san}\n"
                       "basicConstraints=critical,CA:FALSE\n"
                       "keyUsage=critical,digitalSignature,keyEncipherment\n"
                       "extendedKeyUsage=serverAuth\n")
        self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                      "-out", csr, "-subj", f"/CN={cn}")
        self._openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                      "-CAcreateserial", "-out", cert, "-days", "825",
                      "-extfile", ext)
        return cert, key


# --------------------------------------------------------------------------
# SMTP server

class Smtpd:
    """tests/integration/smtpd.py as a subprocess (see its docstring).

    smtpd = Smtpd(workdir, pki).start(tls="starttls", auth=(user, password))
    smtpd.port, smtpd.url ("smtp://localhost:PORT" / "smtps://..."), smtpd.maildir
    """

    def __init__(self, workdir, pki=None, name="smtpd", maildir=None):
        self.workdir = Path(workdir)          # log and auth file go here
        self.pki = pki
        self.name = name
        self.maildir = Path(maildir) if maildir else self.workdir / name
        self.proc = None
        self.port = None
        self.tls = None
        self.auth = None
        self._hold = None            # the port kept by pause()

    def start(self, tls="starttls", auth=(SMTP_USER, SMTP_PASS), cert="server",
              port=0, host="127.0.0.1", smtputf8=False, require_starttls=True,
              pipelining=False, extra_args=()):
        """Start listening; tls: none|starttls|implicit; auth: (user, pw) or None;
        cert: "server" | "wrong" | "untrusted" (see Pki); pipelining: advertise
        PIPELINING (formpost then pipelines, doc/design.md "A delivery")."""
        self.maildir.mkdir(parents=True, exist_ok=True)
        self.tls, self.auth = tls, auth
        argv = [PYTHON, SMTPD, "--host", host, "--port", port,
                "--maildir", self.maildir, "--tls", tls]
        if tls != "none":
            if self.pki is None:
                raise HarnessError("TLS needs a Pki")
            c, k = self.pki.pair(cert)
            argv += ["--cert", c, "--key", k]
        if auth:
            self.set_auth(*auth)
            argv += ["--auth-file", self.workdir / f"{self.name}.auth"]
        if smtputf8:
            argv.append("--smtputf8")
        if not require_starttls:
            argv.append("--no-require-starttls")
        if pipelining:
            argv.append("--pipelining")
        argv += list(extra_args)
        self.proc = Proc(argv, self.workdir / f"{self.name}.log", stdout="pipe")
        line = self.proc.read_line(15)
        if not line.startswith("READY"):
            raise HarnessError(f"smtpd said {line!r}\n{tail(self.proc.log)}")
        self.port = int(line.split()[1])
        self.host = host
        return self

    @property
    def url(self):
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        return f"{scheme}://localhost:{self.port}"

    def set_auth(self, user, password):
        """(Re)write the credentials the server accepts; effective at once."""
        path = self.workdir / f"{self.name}.auth"
        path.write_text(f"{user}:{password}\n")
        path.chmod(0o600)
        self.auth = (user, password)

    def set_faults(self, faults):
        """Replace DIR/faults.json (atomically); None or {} clears it."""
        path = self.maildir / "faults.json"
        if not faults:
            path.unlink(missing_ok=True)
            return
        tmp = self.maildir / "faults.json.tmp"
        tmp.write_text(json.dumps(faults, ensure_ascii=False))
        os.rename(tmp, path)

    def raw_messages(self):
        """[(envelope dict, exact bytes)] in arrival order."""
        out = []
        for meta in sorted(self.maildir.glob("[0-9]*.json")):
            env = json.loads(meta.read_text(encoding="utf-8"))
            out.append((env, meta.with_suffix(".eml").read_bytes()))
        return out

    def messages(self):
        """[(envelope dict, EmailMessage parsed with email.policy.default)]."""
        return [(env, email.message_from_bytes(raw, policy=email.policy.default))
                for env, raw in self.raw_messages()]

    def count(self):
        """Number of messages stored so far."""
        return len(list(self.maildir.glob("[0-9]*.json")))

    def wait(self, n, timeout=30):
        """Wait until at least n messages are stored; return messages()."""
        try:
            wait_for(lambda: self.count() >= n, timeout, f"{n} messages")
        except TimeoutError:
            raise AssertionError(
                f"expected {n} messages within {timeout}s, have {self.count()}; "
                f"sessions: {json.dumps(self.sessions(), ensure_ascii=False)}")
        return self.messages()

    def sessions(self):
        """One dict per closed connection (see smtpd.py), oldest first."""
        path = self.maildir / "sessions.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in
                path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def wait_sessions(self, n, timeout=30):
        wait_for(lambda: len(self.sessions()) >= n, timeout, f"{n} sessions")
        return self.sessions()

    def pause(self):
        """Stop the server but keep its port for a later
        Smtpd.start(port=...): a bound socket that does not listen
        (connections are refused, as by a server that is down), so no
        bind(0) elsewhere (free_port, another server) is given the port
        meanwhile.  Both set SO_REUSEADDR, so the restart binds beside it.
        Returns the port; stop() lets it go."""
        port = self.port
        self.stop()
        self._hold = socket.socket()
        self._hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._hold.bind((self.host, port))
        return port

    def stop(self):
        hold, self._hold = self._hold, None
        if hold:
            hold.close()
        if self.proc:
            rc = self.proc.stop()
            self.proc = None
            if rc != 0:
                raise HarnessError(f"smtpd exited {rc}")


def body_text(msg):
    """A parsed message's text body with CRLF turned into LF (get_content()
    keeps the wire's CRLF for 8bit and decoded base64/QP bodies)."""
    return msg.get_content().replace("\r\n", "\n")


# --------------------------------------------------------------------------
# FastCGI echo responder (harness tests and routing tests)

class FcgiEcho:
    """fcgi_echo.py: answers every FastCGI request with JSON of its params."""

    def __init__(self, workdir, listen):
        self.listen = listen
        self.proc = Proc([PYTHON, FCGI_ECHO, "--listen", listen],
                         Path(workdir) / "fcgi_echo.log", stdout="pipe")
        if self.proc.read_line(10) != "READY":
            raise HarnessError("fcgi_echo did not start")

    def stop(self):
        return self.proc.stop()


def _fcgi_target(target):
    """Normalise a FastCGI target to ("unix", path) or ("tcp", "host:port")."""
    target = str(target)
    if target.startswith("unix:"):
        return "unix", target[5:]
    if target.startswith("/"):
        return "unix", target
    return "tcp", target


# --------------------------------------------------------------------------
# Web servers

class WebServer:
    """What nginx and Apache share: a prefix folder, a port, and a start that
    retries on a fresh free port (one may be taken meanwhile)."""

    NAME = "web server"

    def __init__(self, workdir, name):
        self.prefix = Path(workdir) / name
        self.proc = None
        self.port = None

    def _launch(self, port, launch, logs):
        """launch(port) writes the config and returns the started Proc;
        logs are the files whose tails explain a failure."""
        attempts = 1 if port else 3
        for attempt in range(attempts):
            self.port = port or free_port()
            self.proc = launch(self.port)
            try:
                wait_for(lambda: not self.proc.alive() or
                         can_connect(f"127.0.0.1:{self.port}"), 10, self.NAME)
            except TimeoutError:
                self.proc.kill()
                raise HarnessError(f"{self.NAME} did not listen\n" +
                                   tail(self.prefix / "error.log"))
            if self.proc.alive():
                return self
            self.proc.stop()
        raise HarnessError(f"{self.NAME} failed to start:\n" +
                           "".join(tail(f) for f in logs))

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def error_log(self):
        return (self.prefix / "error.log").read_text(errors="replace")


class Nginx(WebServer):
    """nginx in its own prefix, proxying <location> to a FastCGI target.

    Nginx(workdir).start(fastcgi="unix:/x.sock" | "/x.sock" | "127.0.0.1:9000",
                         root=None, port=None, location="/formpost/")
    .url("/formpost/example") -> "http://127.0.0.1:PORT/formpost/example"
    """

    NAME = "nginx"

    def __init__(self, workdir, name="nginx"):
        super().__init__(workdir, name)

    def config_text(self, fastcgi, root, port, location, extra_http, extra_server,
                    extra_location):
        kind, where = _fcgi_target(fastcgi)
        upstream = f"unix:{where}" if kind == "unix" else where
        p = self.prefix
        user = "user root;" if os.geteuid() == 0 else ""
        root_line = f"root {root};" if root else f"root {p}/html;"
        return f"""# generated by tests/integration/harness.py
{user}
daemon off;
master_process on;
worker_processes 2;
pid {p}/nginx.pid;
error_log {p}/error.log info;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {p}/access.log;
    client_body_temp_path {p}/tmp/body;
    fastcgi_temp_path {p}/tmp/fastcgi;
    proxy_temp_path {p}/tmp/proxy;
    scgi_temp_path {p}/tmp/scgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    {extra_http}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        {root_line}
        index index.html;
        {extra_server}
        location {location} {{
            include /etc/nginx/fastcgi_params;
            fastcgi_pass {upstream};
            {extra_location}
        }}
    }}
}}
"""

    def start(self, fastcgi, root=None, port=None, location="/formpost/",
              extra_http="", extra_server="", extra_location=""):
        (self.prefix / "tmp").mkdir(parents=True, exist_ok=True)
        (self.prefix / "html").mkdir(exist_ok=True)
        conf = self.prefix / "nginx.conf"

        def launch(p):
            conf.write_text(self.config_text(fastcgi, root, p, location,
                                             extra_http, extra_server,
                                             extra_location))
            return Proc(["nginx", "-c", conf, "-p", self.prefix,
                         "-e", self.prefix / "error.log"],
                        self.prefix / "stderr.log")
        return self._launch(port, launch, [self.prefix / "error.log",
                                           self.prefix / "stderr.log"])

    def stop(self):
        """Fast shutdown (SIGTERM to the master); no worker may survive."""
        if self.proc:
            proc, self.proc = self.proc, None
            proc.stop(signal.SIGTERM)


class Apache(WebServer):
    """apache2 (mpm_event + mod_proxy_fcgi) with its own ServerRoot.

    Apache(workdir).start(fastcgi=..., root=None, port=None, location="/formpost/")

    Apache refuses to serve as root, so its children run as www-data: a unix
    socket it proxies to, and a static root, must be reachable by www-data
    (pytest's tmp_path is not: use the `public_dir` fixture / a 0755
    directory for those).
    """

    MODULES = ["mpm_event", "authz_core", "mime", "dir", "proxy", "proxy_fcgi"]

    NAME = "apache2"

    def __init__(self, workdir, name="apache"):
        super().__init__(workdir, name)

    def config_text(self, fastcgi, root, port, location, extra):
        kind, where = _fcgi_target(fastcgi)
        backend_path = location if location.endswith("/") else location + "/"
        if kind == "unix":
            backend = f"unix:{where}|fcgi://localhost{backend_path}"
        else:
            backend = f"fcgi://{where}{backend_path}"
        p = self.prefix
        loads = "\n".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so"
                          for m in self.MODULES)
        docroot = root or f"{p}/html"
        return f"""# generated by tests/integration/harness.py
ServerRoot "{p}"
{loads}
PidFile "{p}/apache2.pid"
DefaultRuntimeDir "{p}"
ErrorLog "{p}/error.log"
LogLevel warn
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog "{p}/access.log" common
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
User www-data
Group www-data
TypesConfig /etc/mime.types
DocumentRoot "{docroot}"
<Directory "{docroot}">
    Require all granted
</Directory>
DirectoryIndex index.html
ProxyPass "{location}" "{backend}"
{extra}
"""

    def start(self, fastcgi, root=None, port=None, location="/formpost/", extra=""):
        (self.prefix / "html").mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "apache2.conf"

        def launch(p):
            conf.write_text(self.config_text(fastcgi, root, p, location, extra))
            return Proc(["apache2", "-f", conf, "-DFOREGROUND"],
                        self.prefix / "stderr.log")
        return self._launch(port, launch, [self.prefix / "stderr.log",
                                           self.prefix / "error.log"])

    def stop(self):
        """SIGTERM to the parent (graceless stop); no child may survive."""
        if self.proc:
            proc, self.proc = self.proc, None
            proc.stop(signal.SIGTERM, timeout=15)


# --------------------------------------------------------------------------
# YAML writer (the config format; no anchors, predictable quoting)

_PLAIN = re.compile(r"""^[A-Za-z0-9_./\u0080-\U0010ffff][^\x00-\x1f\x7f"'\\#]*$""")
_NOT_PLAIN = re.compile(r"(: |:$| #|^[-+]?[0-9.]+$|^(~|null|Null|NULL)$|\s$)")


def _scalar(value, flow=False):
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    s = str(value)
    if (_PLAIN.match(s) and not _NOT_PLAIN.search(s)
            and not (flow and any(c in s for c in ",[]{}:"))):
        return s
    return json.dumps(s, ensure_ascii=False)     # JSON strings are YAML strings


def to_yaml(data, indent=0):
    """Block-style YAML for dicts/lists/scalars; short scalar lists in flow
    style.  Strings are plain when unambiguous, else double-quoted."""
    pad = " " * indent
    lines = []
    if isinstance(data, dict):
        for k, v in data.items():
            key = _scalar(k)
            if isinstance(v, dict) and v:
                lines.append(f"{pad}{key}:")
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, dict):
                lines.append(f"{pad}{key}: {{}}")
            elif isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
                lines.append(f"{pad}{key}: [" +
                             ", ".join(_scalar(x, flow=True) for x in v) + "]")
            elif isinstance(v, list):
                lines.append(f"{pad}{key}:")
                lines.append(to_yaml(v, indent + 2))
            else:
                lines.append(f"{pad}{key}: {_scalar(v)}")
    elif isinstance(data, list):
        for v in data:
            if isinstance(v, (dict, list)):
                inner = to_yaml(v, indent + 2).lstrip()
                lines.append(f"{pad}- {inner}")
            else:
                lines.append(f"{pad}- {_scalar(v)}")
    else:
        lines.append(pad + _scalar(data))
    return "\n".join(lines)


# --------------------------------------------------------------------------
# formpost itself

def formpost_binary():
    """<repo>/formpost, or $FORMPOST_BIN."""
    path = Path(os.environ.get("FORMPOST_BIN", REPO / "formpost"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise HarnessError(f"formpost binary not found at {path}: run `make` first")
    return path


def socket_activated(argv, sock_path, log_path, env=None, prefix=()):
    """Start argv (formpost serve -c FILE) the way systemd's formpost.socket
    does: a listening unix socket at sock_path as fd 3, LISTEN_FDS=1 and
    LISTEN_PID its pid (a shell sets it, then execs argv; prefix, e.g.
    strace, runs that shell).  Output to log_path; returns the Popen."""
    lsock = socket.socket(socket.AF_UNIX)
    lsock.bind(str(sock_path))
    lsock.listen(16)
    fd = lsock.fileno()
    log = open(log_path, "wb")
    try:
        return subprocess.Popen(
            [*prefix, "sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh",
             *argv],
            stdout=log, stderr=log, close_fds=False, env=env,
            preexec_fn=lambda: os.dup2(fd, 3))
    finally:
        lsock.close()
        log.close()


def write_config(path, config):
    """Write a config given as a dict (rendered as YAML) or as text."""
    path = Path(path)
    text = config if isinstance(config, str) else to_yaml(config) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def listen_of(config):
    """The `listen:` value of a config dict or text (None when absent)."""
    if isinstance(config, dict):
        return config.get("listen")
    m = re.search(r"^listen:\s*['\"]?([^'\"\s#]+)", config, re.M)
    return m.group(1) if m else None


class Formpost:
    """`formpost serve -c FILE` with stderr captured to a log file.

    Formpost(workdir, config).start()   config: dict or YAML text
    .config_path  .socket (path, for listen: unix:PATH)  .target (for nginx)
    .log_lines()  .events()  .reload()  .stop() (asserts exit 0)  .kill()
    """

    def __init__(self, workdir, config, name="formpost"):
        self.workdir = Path(workdir)
        self.name = name
        self.config = config
        self.config_path = self.workdir / f"{name}.yaml"
        self.logfile = self.workdir / f"{name}.log"
        self.proc = None
        listen = listen_of(config)
        if listen and listen.startswith("unix:"):
            path = Path(listen[5:])
            if not path.is_absolute():     # relative paths: config file's dir
                path = self.workdir / path
            if len(str(path).encode()) > 107:   # sockaddr_un.sun_path
                raise HarnessError(f"unix socket path too long: {path}")
            self.socket, self.target = path, f"unix:{path}"
        else:
            self.socket, self.target = None, listen

    def start(self, args=(), env=None, timeout=10, wait=True, prefix=()):
        """prefix: a command to run formpost under (valgrind ...)."""
        write_config(self.config_path, self.config)
        if self.socket and self.socket.exists():
            self.socket.unlink()
        argv = [*prefix, formpost_binary(), "serve", "-c", self.config_path, *args]
        full_env = dict(os.environ, **(env or {}))
        self.proc = Proc(argv, self.logfile, cwd=self.workdir, env=full_env)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=10):
        """Wait until the FastCGI socket accepts connections."""
        if not self.target:
            raise HarnessError("no listen: in config; cannot tell when ready")
        try:
            wait_for(lambda: not self.proc.alive() or can_connect(self.target),
                     timeout, f"formpost listening on {self.target}")
        except TimeoutError:
            self.proc.kill()
            raise HarnessError(f"formpost did not listen on {self.target}:\n"
                               + tail(self.logfile))
        if not self.proc.alive():
            raise HarnessError(f"formpost exited {self.proc.popen.returncode}:\n"
                               + tail(self.logfile))

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def log_lines(self):
        if not self.logfile.exists():
            return []
        return self.logfile.read_text(encoding="utf-8", errors="replace").splitlines()

    def events(self, **match):
        """Log lines parsed as logfmt dicts, filtered by key=value pairs."""
        out = []
        for line in self.log_lines():
            rec = parse_logfmt(line)
            if all(rec.get(k) == str(v) for k, v in match.items()):
                out.append(rec)
        return out

    def wait_log(self, pattern, timeout=30):
        """Wait for a log line matching the regex; return it."""
        rx = re.compile(pattern)
        return wait_for(lambda: next((l for l in self.log_lines() if rx.search(l)), None),
                        timeout, f"log line /{pattern}/")

    def reload(self):
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self, timeout=10):
        """SIGTERM; assert a clean exit 0 within `timeout` seconds."""
        if self.proc is None:
            return 0
        proc, self.proc = self.proc, None
        try:
            proc.popen.wait(0)
        except subprocess.TimeoutExpired:
            pass
        exited_before = proc.popen.returncode
        if exited_before is None:
            os.kill(proc.pid, signal.SIGTERM)
        try:
            rc = proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"formpost did not exit within {timeout}s of "
                                 f"SIGTERM\n{tail(self.logfile)}")
        proc.stop()                       # reap, check the group is gone
        assert exited_before is None, (f"formpost had already exited "
                                       f"({exited_before}):\n{tail(self.logfile)}")
        assert rc == 0, f"formpost exited {rc} on SIGTERM:\n{tail(self.logfile)}"
        return rc

    def kill(self):
        """SIGKILL (crash simulation); returns the exit status (-9)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        return proc.kill()


_LOGFMT = re.compile(r'(\w[\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line):
    out = {}
    for key, value in _LOGFMT.findall(line):
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        out[key] = value
    return out


def formpost_cli(args, config_path=None, env=None, timeout=60, input=None, cwd=None):
    """Run `formpost ARGS [-c config_path]`; CompletedProcess with text output."""
    argv = [str(formpost_binary()), *map(str, args)]
    if config_path is not None:
        argv += ["-c", str(config_path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          input=input, cwd=cwd, env=dict(os.environ, **(env or {})))


def base_config(tmp, smtp_port, ca_file, *, site="example", smtp_url=None,
                username=SMTP_USER, password=SMTP_PASS, listen=None):
    """A realistic config dict: one site `example` (ja, fields name/email/
    message), SMTP profile `main` with STARTTLS + AUTH against the test CA,
    spool and socket in `tmp`, short delivery timings.  Writes the password
    file (0600).  Edit the returned dict freely before starting formpost."""
    tmp = Path(tmp)
    pw = tmp / "smtp.pass"
    pw.write_text(password + "\n")
    pw.chmod(0o600)
    (tmp / "spool").mkdir(exist_ok=True)
    return {
        "listen": listen or f"unix:{tmp / 'formpost.sock'}",
        "spool": str(tmp / "spool"),
        "templates": str(REPO / "templates"),
        "workers": 4,
        "delivery": {"first_retry": "1s", "max_retry": "4s", "max_age": "1h"},
        "smtp": {
            "main": {
                "url": smtp_url or f"smtp://localhost:{smtp_port}",
                "starttls": "required",
                "username": username,
                "password_file": str(pw),
                "ca_file": str(ca_file),
                "timeout": "5s",
            },
        },
        "sites": {
            site: {
                "origins": [SITE_ORIGIN, "https://example.com"],
                "from": "Example Web <noreply@example.com>",
                "to": ["info@example.com"],
                "smtp": ["main"],
                "subject": "[お問い合わせ] {{name}}",
                "lang": "ja",
                "reply_to_name": "name",
                "fields": {
                    "name": {"label": "お名前", "required": True, "max": 100},
                    "email": {"label": "メールアドレス", "type": "email",
                              "required": True, "reply_to": True},
                    "message": {"label": "お問い合わせ内容", "type": "multiline",
                                "required": True, "max": 5000},
                },
            },
        },
    }


# --------------------------------------------------------------------------
# HTTP

def post_form(url, fields, headers=None, origin=SITE_ORIGIN, files=None,
              accept=None, timeout=10, data=None):
    """POST a form without following redirects; returns requests.Response.

    fields: dict or list of (name, value) pairs (urlencoded, or multipart when
    files is given); data: raw body instead (set Content-Type in headers).
    origin: the Origin header (default: the base site's); None omits it.
    accept: e.g. "application/json"."""
    import requests
    h = {}
    if origin is not None:
        h["Origin"] = origin
    if accept:
        h["Accept"] = accept
    h.update(headers or {})
    return requests.post(url, data=data if data is not None else fields,
                         files=files, headers=h, allow_redirects=False,
                         timeout=timeout)
