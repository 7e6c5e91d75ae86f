#!/usr/bin/python3
"""`make run`: a local formpost demo.

Starts, in this order:
  1. an SMTP catcher on 127.0.0.1:2525 (tests/integration/smtpd.py, no TLS,
     no AUTH) that saves every mail as demo-mail/<n>.eml (+ <n>.json envelope);
  2. formpost serve -c conf/demo/formpost.yaml (socket and spool under run/);
  3. nginx on http://127.0.0.1:8080/ serving conf/demo/www/ and passing
     /formpost/ to formpost.
Then prints where to look, echoes formpost's log and each received mail, and
on Ctrl-C (SIGINT) or SIGTERM stops everything it started and exits 0.  If
anything fails to start or dies, it stops the rest and exits 1 with the
reason.  Options exist so the harness tests can run it on other ports.
"""

import argparse
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))

import harness  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=REPO / "conf/demo/formpost.yaml", type=Path)
    p.add_argument("--formpost", default=REPO / "formpost", type=Path)
    p.add_argument("--www", default=REPO / "conf/demo/www", type=Path)
    p.add_argument("--http-port", default=8080, type=int)
    p.add_argument("--smtp-port", default=2525, type=int)
    p.add_argument("--mail-dir", default=REPO / "demo-mail", type=Path)
    p.add_argument("--run-dir", default=REPO / "run", type=Path)
    args = p.parse_args()
    for name in ("config", "formpost", "www", "mail_dir", "run_dir"):
        setattr(args, name, getattr(args, name).absolute())
    return args


class DemoError(Exception):
    pass


def socket_path(config):
    """The unix socket from the config's `listen:` (relative to its dir)."""
    listen = harness.listen_of(config.read_text(encoding="utf-8"))
    if not listen or not listen.startswith("unix:"):
        raise DemoError(f"{config}: the demo needs `listen: unix:PATH`")
    path = Path(listen[5:])
    return path if path.is_absolute() else (config.parent / path).resolve()


def check_port_free(port, what):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(f"127.0.0.1:{port} ({what}) is already in use — "
                            "is another demo running?")


class Demo:
    def __init__(self, args):
        self.args = args
        self.smtpd = self.formpost = self.nginx = None
        self.log_pos = 0
        self.seen_mails = set()

    # -- start ------------------------------------------------------------
    def start(self):
        a = self.args
        if not (a.formpost.is_file() and os.access(a.formpost, os.X_OK)):
            raise DemoError(f"formpost binary not found at {a.formpost}: "
                            "build it with `make` (`make run` does it for you)")
        sock = socket_path(a.config)
        check_port_free(a.smtp_port, "SMTP catcher")
        check_port_free(a.http_port, "nginx")
        a.run_dir.mkdir(parents=True, exist_ok=True)
        a.mail_dir.mkdir(parents=True, exist_ok=True)
        sock.parent.mkdir(parents=True, exist_ok=True)

        print(f"* SMTP catcher on 127.0.0.1:{a.smtp_port}", flush=True)
        self.smtpd = harness.Smtpd(a.run_dir, name="smtpd", maildir=a.mail_dir)
        self.smtpd.start(tls="none", auth=None, port=a.smtp_port)

        print(f"* formpost serve -c {a.config}", flush=True)
        if sock.exists():
            sock.unlink()
        self.formpost_log = a.run_dir / "formpost.log"
        self.formpost_log.write_text("")
        # cwd = the config's directory, so relative paths mean the same
        # whether or not the loader resolves them itself.
        self.formpost = harness.Proc(
            [a.formpost, "serve", "-c", a.config], self.formpost_log,
            cwd=a.config.parent)
        try:
            harness.wait_for(lambda: not self.formpost.alive() or
                             harness.can_connect(f"unix:{sock}"), 15,
                             f"formpost socket {sock}")
        except TimeoutError as e:
            raise DemoError(f"{e}\n{harness.tail(self.formpost_log)}")
        if not self.formpost.alive():
            raise DemoError(f"formpost exited with status "
                            f"{self.formpost.popen.returncode}:\n"
                            f"{harness.tail(self.formpost_log)}")

        print(f"* nginx on 127.0.0.1:{a.http_port}", flush=True)
        self.nginx = harness.Nginx(a.run_dir, name="nginx")
        # the jobs form takes attachments up to its max_body (8M)
        self.nginx.start(f"unix:{sock}", root=a.www.resolve(), port=a.http_port,
                         extra_server="client_max_body_size 10m;")

    # -- run --------------------------------------------------------------
    def banner(self):
        a = self.args
        print(f"""
formpost demo is running.

  Demo forms:    http://127.0.0.1:{a.http_port}/  (日本語 / English, POST and fetch())
  Mails land in: {a.mail_dir}/  (*.eml, envelope in *.json)
  Logs:          {a.run_dir}/formpost.log, {a.run_dir}/nginx/error.log

Press Ctrl-C to stop.
""", flush=True)

    def poll(self):
        """Echo new formpost log lines and new mails; check children."""
        try:
            with open(self.formpost_log, "rb") as f:
                f.seek(self.log_pos)
                chunk = f.read()
                self.log_pos += len(chunk)
            for line in chunk.decode("utf-8", "replace").splitlines():
                print(f"  formpost: {line}", flush=True)
        except OSError:
            pass
        for meta in sorted(self.args.mail_dir.glob("[0-9]*.json")):
            if meta.name in self.seen_mails:
                continue
            self.seen_mails.add(meta.name)
            eml = meta.with_suffix(".eml")
            subject = ""
            try:
                import email
                import email.policy
                msg = email.message_from_bytes(eml.read_bytes(),
                                               policy=email.policy.default)
                subject = str(msg.get("Subject", ""))
            except Exception:
                pass
            print(f"  mail: {eml}  Subject: {subject}", flush=True)
        for name in ("smtpd", "formpost", "nginx"):
            obj = getattr(self, name)
            proc = obj if isinstance(obj, harness.Proc) else obj.proc
            if not proc.alive():
                raise DemoError(f"{name} exited unexpectedly with status "
                                f"{proc.popen.returncode}:\n{harness.tail(proc.log)}")

    # -- stop -------------------------------------------------------------
    def stop(self):
        """Stop what was started, web server first; report, never raise."""
        ok = True
        for name in ("nginx", "formpost", "smtpd"):
            obj = getattr(self, name)
            if obj is None:
                continue
            setattr(self, name, None)
            try:
                rc = obj.stop()
                if name == "formpost" and rc not in (0, None):
                    print(f"formpost exited with status {rc}", file=sys.stderr)
                    ok = False
            except Exception as e:
                print(f"stopping {name}: {e}", file=sys.stderr)
                ok = False
        return ok


def main():
    args = parse_args()
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    demo = Demo(args)
    try:
        demo.start()
        demo.poll()
        demo.banner()
        while not stopping:
            time.sleep(0.3)
            demo.poll()
    except (DemoError, harness.HarnessError) as e:
        print(f"\ndemo: error: {e}", file=sys.stderr, flush=True)
        demo.stop()
        return 1
    except BaseException:
        demo.stop()                   # never leave anything running
        raise
    print("\nstopping…", flush=True)
    return 0 if demo.stop() else 1


if __name__ == "__main__":
    sys.exit(main())
