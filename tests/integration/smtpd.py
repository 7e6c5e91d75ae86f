#!/usr/bin/python3
"""A real SMTP server for formpost's integration tests (aiosmtpd 1.4.3).

Run as a subprocess:

    smtpd.py --host 127.0.0.1 --port N --maildir DIR
             [--tls none|starttls|implicit --cert F --key F]
             [--auth-file F] [--auth-mechanisms LOGIN,PLAIN] [--smtputf8]
             [--no-require-starttls] [--size BYTES] [--pipelining]

It prints "READY <port>" on stdout once it listens (--port 0 picks a free
port: read it from that line), and exits 0 on SIGTERM/SIGINT.

TLS
  none      plain SMTP; AUTH (if --auth-file) is offered in the clear.
  starttls  STARTTLS is offered; AUTH is offered only after it; every command
            but EHLO/HELO/NOOP/STARTTLS/QUIT/RSET before STARTTLS gets
            "530 5.7.0 Must issue a STARTTLS command first" (a submission
            server; --no-require-starttls lifts that).
  implicit  TLS from the first byte (smtps, port 465 style); AUTH offered.

AUTH  --auth-file holds "user:password" (one line; re-read at every AUTH, so
      a test may change the password without a restart).  PLAIN and LOGIN are
      offered (--auth-mechanisms LOGIN: only LOGIN, as some servers do); when the file is given, MAIL/RCPT/DATA without AUTH get
      "530 5.7.0 Authentication required", bad credentials
      "535 5.7.8 Authentication credentials invalid".

PIPELINING  --pipelining advertises it (RFC 2920) in the EHLO reply;
      aiosmtpd reads commands in order from its stream, so pipelined
      commands work either way.  A command that arrived while more input
      was already waiting behind it counts as pipelined (sessions.log).

Storage  every accepted message becomes
      DIR/<seq>.eml   the message exactly as received (after dot-unstuffing,
                      without the final ".\\r\\n"; line endings untouched),
      DIR/<seq>.json  {"seq", "mail_from", "rcpt_tos", "mail_options",
                       "user" (authenticated name or null), "tls" (bool),
                       "tls_mode", "peer" ([host, port]), "session" (id of the
                       connection), "txn" (1-based transaction number within
                       that connection), "time"}.
      The .eml is written first and the .json renamed into place last, so a
      reader that sees N .json files sees N complete messages.  <seq> is a
      zero-padded counter continuing after the highest existing one.

Sessions  DIR/sessions.log gets one JSON line per connection when it closes
      (or when the server stops): {"session", "peer", "tls", "user",
      "start", "end", "quit" (when QUIT came, or null), "commands": ["EHLO x => 250", "MAIL FROM:<a> => 250",
      "AUTH PLAIN *** => 235", ...], "transactions": <messages accepted>,
      "messages": [seq, ...], "closed": "client"|"server"|"shutdown",
      "pipelined": <commands read with more input already behind them>}.
      AUTH arguments are never logged.  A test that must look at a connection
      still open uses the "session"/"txn" fields of the stored messages.

Faults  Before every command (and before the greeting) the server reads
      DIR/faults.json if it exists; no restart needed.  It is one object:

        {
          "connect":   FAULT,          # before the 220 greeting
          "ehlo":      FAULT,          # also "helo", "starttls", "auth",
          "mail":      FAULT | {ADDR: FAULT, "*": FAULT},
          "rcpt":      FAULT | {ADDR: FAULT, "*": FAULT},
          "data_cmd":  FAULT,          # at the DATA command, before the 354
          "data":      FAULT,          # after the final "." (message received)
          "rset", "noop", "quit": FAULT,
          "ehlo_no_auth": true,        # EHLO does not advertise AUTH
          "ehlo_no_starttls": true     # EHLO does not advertise STARTTLS and
                                       # STARTTLS gets "454 4.7.0 TLS not available"
        }

      ADDR keys are matched case-insensitively against the command's
      address ("*" matches any address not listed).  A FAULT is one of:

        "NNN text"       reply this instead of running the command (for
                         "data": the message is not stored); use 4xx/5xx only
        "pass"           run the command normally (exempt an ADDR from "*")
        "drop"           close the connection without any reply (for "data":
                         the message is not stored)
        "accept_drop"    "data" only: store the message, then close without
                         replying (the "maybe delivered" case)
        "stall:SECONDS"  wait, then carry on normally (a client that hangs up
                         meanwhile gets nothing; nothing is stored)
        "reset_handshake"
                         "starttls" only: reply 220, let the client start its
                         TLS handshake, then reset the connection (RST)
        {"do": FAULT, "times": N, "after": M}
                         apply FAULT to the first N matching commands only,
                         after letting M of them pass (both optional);
                         the counters restart whenever faults.json changes.

      Connection-level faults ("connect": "421 4.3.2 busy") send the reply
      and close.  Unknown keys are ignored; an unreadable or half-written
      faults.json counts as no faults (write it with a rename).
"""

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import signal
import socket
import ssl
import struct
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# Commands allowed before STARTTLS when STARTTLS is required.
BEFORE_TLS = {"EHLO", "HELO", "NOOP", "STARTTLS", "QUIT", "RSET"}


class Server:
    """State shared by all connections: storage, faults, sessions."""

    def __init__(self, args):
        self.args = args
        self.maildir = args.maildir
        os.makedirs(self.maildir, exist_ok=True)
        self.seq = self._highest_seq()
        self.session_ids = itertools.count(1)
        self.open_sessions = set()
        self._faults_key = None       # hash of faults.json content
        self._faults = {}
        self._fault_uses = {}         # counter per fault key for "times"

    def _highest_seq(self):
        best = 0
        for name in os.listdir(self.maildir):
            stem, ext = os.path.splitext(name)
            if ext in (".eml", ".json") and stem.isdigit():
                best = max(best, int(stem))
        return best

    # -- faults ---------------------------------------------------------
    def faults(self):
        """Current faults.json as a dict ({} when absent or unreadable)."""
        path = os.path.join(self.maildir, "faults.json")
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError:
            raw = b""
        key = hashlib.sha256(raw).hexdigest()
        if key != self._faults_key:
            self._faults_key = key
            self._fault_uses = {}
            try:
                data = json.loads(raw) if raw.strip() else {}
                self._faults = data if isinstance(data, dict) else {}
            except ValueError:
                self._faults = {}
        return self._faults

    def fault_for(self, name, address=None):
        """The FAULT string configured for a command (or None)."""
        spec = self.faults().get(name)
        counter = name
        if isinstance(spec, dict) and "do" not in spec:
            # Per-address table (mail, rcpt).
            addr = (address or "").lower()
            table = {k.lower(): v for k, v in spec.items()}
            if addr in table:
                spec, counter = table[addr], f"{name}:{addr}"
            else:
                spec, counter = table.get("*"), f"{name}:*"
        if isinstance(spec, dict):
            times = int(spec.get("times", 1 << 30))
            after = int(spec.get("after", 0))
            used = self._fault_uses.get(counter, 0)
            self._fault_uses[counter] = used + 1
            if used < after or used >= after + times:
                return None
            spec = spec.get("do")
        if not isinstance(spec, str) or not spec or spec == "pass":
            return None
        return spec

    def flag(self, name):
        return bool(self.faults().get(name))

    # -- storage --------------------------------------------------------
    def store(self, envelope_info, content):
        self.seq += 1
        stem = os.path.join(self.maildir, f"{self.seq:06d}")
        with open(stem + ".eml", "wb") as f:
            f.write(content)
        envelope_info = dict(envelope_info, seq=self.seq)
        tmp = stem + ".json.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(envelope_info, f, ensure_ascii=False, indent=1)
        os.rename(tmp, stem + ".json")
        return self.seq

    def log_session(self, record):
        with open(os.path.join(self.maildir, "sessions.log"), "a",
                  encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def authenticator(server):
    """aiosmtpd authenticator checking against --auth-file (re-read each time)."""
    def check(smtp, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        try:
            with open(server.args.auth_file, encoding="utf-8") as f:
                user, _, password = f.read().strip("\r\n").partition(":")
        except OSError:
            return AuthResult(success=False, handled=False)
        ok = (auth_data.login == user.encode()
              and auth_data.password == password.encode())
        if ok:
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)
    return check


class Handler:
    """aiosmtpd hooks: EHLO advertisement and DATA storage."""

    def __init__(self, server):
        self.server = server

    async def handle_EHLO(self, smtp, session, envelope, hostname, responses):
        session.host_name = hostname
        if not self.server.args.auth_file or self.server.flag("ehlo_no_auth"):
            responses = [r for r in responses if not r[4:].startswith("AUTH")]
        if self.server.flag("ehlo_no_starttls"):
            responses = [r for r in responses if r[4:] != "STARTTLS"]
        if self.server.args.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, smtp, session, envelope):
        fault = self.server.fault_for("data")
        if fault and fault.startswith("stall:"):
            await asyncio.sleep(float(fault[6:]))
            fault = None
        if fault == "drop":
            await smtp.drop()
        if fault and fault != "accept_drop":
            return fault
        smtp.txn += 1
        seq = self.server.store({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "user": session.auth_data if session.authenticated else None,
            "tls": smtp.tls_active(),
            "tls_mode": self.server.args.tls,
            "peer": list(session.peer[:2]) if session.peer else None,
            "session": smtp.sid,
            "txn": smtp.txn,
            "time": time.time(),
        }, envelope.original_content)
        smtp.stored.append(seq)
        if fault == "accept_drop":
            await smtp.drop()
        return "250 2.0.0 OK queued as %06d" % seq


class FaultySMTP(SMTP):
    """aiosmtpd's SMTP with fault injection and a per-connection log."""

    def __init__(self, server, **kw):
        self.server = server
        self.sid = next(server.session_ids)
        self.txn = 0
        self.stored = []
        self.commands = []
        self.start = time.time()
        self.quit_at = None
        self.closed_by = None
        self.logged = False
        self.last_reply = None
        self.user = None
        self.pipelined = 0
        self._tls_seen = False
        super().__init__(Handler(server), **kw)
        # Route every command through _command() (faults, log, TLS rule).
        for name, method in list(self._smtp_methods.items()):
            self._smtp_methods[name] = self._wrap(name, method)

    # -- helpers used by Handler -----------------------------------------
    def tls_active(self):
        return self.server.args.tls == "implicit" or self._tls_protocol is not None

    async def drop(self):
        """Close the connection at once and never return."""
        self.closed_by = "server"
        if self.transport is not None:
            self.transport.abort()
        # connection_lost() cancels the coroutine we are running in.
        await asyncio.Event().wait()

    async def reset_handshake(self):
        """Say 220 to STARTTLS, give the client's ClientHello time to
        arrive, then reset the connection (SO_LINGER 0: RST, not FIN)."""
        await self.push("220 2.0.0 Ready to start TLS")
        await asyncio.sleep(0.3)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        await self.drop()

    # -- plumbing ---------------------------------------------------------
    async def push(self, status):
        self.last_reply = status if isinstance(status, str) else status.decode(
            "utf-8", "replace")
        await super().push(status)

    def _wrap(self, name, method):
        async def run(arg):
            shown = f"{name} {arg}" if arg else name
            if name == "AUTH" and arg:
                shown = f"AUTH {arg.split()[0]} ***"
            entry = [shown, None]
            self.commands.append(entry)
            if name == "QUIT" and self.quit_at is None:
                self.quit_at = time.time()
            reader = getattr(self, "_reader", None)
            if reader is not None and len(getattr(reader, "_buffer", b"")) > 0:
                self.pipelined += 1
            self.last_reply = None
            try:
                await self._command(name, method, arg)
            finally:
                code = (self.last_reply or "")[:3] or "-"
                entry[1] = code
        return run

    async def _command(self, name, method, arg):
        if (self.server.args.tls == "starttls" and self.server.args.require_starttls
                and self._tls_protocol is None and name not in BEFORE_TLS):
            await self.push("530 5.7.0 Must issue a STARTTLS command first")
            return
        if name == "AUTH" and not self.server.args.auth_file:
            await self.push("502 5.5.1 AUTH not available")
            return
        if name == "STARTTLS" and self.server.flag("ehlo_no_starttls"):
            await self.push("454 4.7.0 TLS not available")
            return
        key = {"DATA": "data_cmd"}.get(name, name.lower())
        address = None
        if name in ("MAIL", "RCPT") and arg:
            address, _ = self._getaddr(arg.partition(":")[2].strip())
        fault = self.server.fault_for(key, address)
        if fault and fault.startswith("stall:"):
            await asyncio.sleep(float(fault[6:]))
            fault = None
        if fault == "drop":
            await self.drop()
        if fault == "reset_handshake" and name == "STARTTLS":
            await self.reset_handshake()
        if fault:
            await self.push(fault)
            return
        await method(arg)
        if name == "AUTH" and self.session.authenticated:
            self.user = self.session.auth_data

    async def _handle_client(self):
        fault = self.server.fault_for("connect")
        if fault and fault.startswith("stall:"):
            await asyncio.sleep(float(fault[6:]))
            fault = None
        if fault == "drop":
            self.commands.append(["<connect>", "drop"])
            await self.drop()
        if fault:
            self.commands.append(["<connect>", fault[:3]])
            await self.push(fault)
            self.closed_by = "server"
            self.transport.close()
            return
        await super()._handle_client()

    def connection_made(self, transport):
        super().connection_made(transport)
        if self._tls_protocol is not None:
            self._tls_seen = True
        else:
            self.server.open_sessions.add(self)

    def connection_lost(self, error):
        self.write_log(self.closed_by or "client")
        super().connection_lost(error)

    def write_log(self, closed_by):
        if self.logged:
            return
        self.logged = True
        self.server.open_sessions.discard(self)
        peer = self.session.peer if self.session else None
        self.server.log_session({
            "session": self.sid,
            "peer": list(peer[:2]) if peer else None,
            "tls": self.server.args.tls == "implicit" or self._tls_seen,
            "user": self.user,
            "start": self.start,
            "end": time.time(),
            "quit": self.quit_at,
            "commands": [f"{c} => {r}" for c, r in self.commands],
            "transactions": self.txn,
            "messages": self.stored,
            "closed": closed_by,
            "pipelined": self.pipelined,
        })


def tls_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    return ctx


async def main_async(args):
    server = Server(args)
    ctx = tls_context(args) if args.tls != "none" else None
    auth = args.auth_file is not None

    def factory():
        kw = dict(
            hostname="smtpd.test",
            ident="formpost-test-smtpd",
            enable_SMTPUTF8=args.smtputf8,
            auth_required=auth,
            authenticator=authenticator(server) if auth else None,
            auth_exclude_mechanism=[m for m in ("LOGIN", "PLAIN")
                                    if m not in args.auth_mechanisms],
            timeout=args.timeout,
            data_size_limit=args.size,
        )
        if args.tls == "starttls":
            kw.update(tls_context=ctx, auth_require_tls=True)
        else:
            # none: AUTH in the clear; implicit: the whole connection is TLS
            # already (aiosmtpd only knows STARTTLS, so lift its TLS check).
            kw.update(auth_require_tls=False)
        return FaultySMTP(server, **kw)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    srv = await loop.create_server(
        factory, host=args.host, port=args.port,
        ssl=ctx if args.tls == "implicit" else None, reuse_address=True)
    port = srv.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    await stop.wait()
    srv.close()
    for s in list(server.open_sessions):
        s.write_log("shutdown")
        if s.transport is not None:
            try:
                s.transport.abort()
            except AttributeError:
                # a STARTTLS transport already closing (client QUIT racing
                # the shutdown) has dropped its protocol: nothing to abort
                pass


def main():
    p = argparse.ArgumentParser(description="SMTP server for formpost tests")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--maildir", required=True)
    p.add_argument("--tls", choices=("none", "starttls", "implicit"), default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth-file")
    p.add_argument("--auth-mechanisms", default="LOGIN,PLAIN",
                   type=lambda v: v.upper().split(","),
                   help="comma-separated subset of LOGIN,PLAIN to offer")
    p.add_argument("--smtputf8", action="store_true",
                   help="advertise SMTPUTF8 (off: non-ASCII envelopes get 500)")
    p.add_argument("--no-require-starttls", dest="require_starttls",
                   action="store_false")
    p.add_argument("--timeout", type=float, default=300,
                   help="idle seconds before the server hangs up")
    p.add_argument("--pipelining", action="store_true",
                   help="advertise PIPELINING (RFC 2920)")
    p.add_argument("--size", type=int, default=33554432,
                   help="EHLO SIZE: larger MAIL SIZE= or data get 552")
    args = p.parse_args()
    if args.tls != "none" and not (args.cert and args.key):
        p.error("--tls starttls|implicit needs --cert and --key")
    # aiosmtpd warns about AUTH without TLS; that is what --tls none asks for.
    warnings.simplefilter("ignore")
    import logging
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
