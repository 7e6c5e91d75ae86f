#!/usr/bin/python3
"""Stand-in for the formpost binary, for the harness's own tests only.

  serve -c FILE   logs one logfmt line to stderr, then serves FastCGI (the
                  fcgi_echo responder) on the config's `listen:` (relative
                  to the working directory); STUB_EXIT=N makes it wait
                  instead and exit N on SIGTERM; STUB_FAIL=msg makes it print
                  msg and exit 1 at once.
  check -c FILE   prints "config ok: FILE" and exits 0.
"""
import os
import signal
import sys
import time

import yaml

args = sys.argv[1:]
cfg_file = args[args.index("-c") + 1]
if args[0] == "check":
    print("config ok:", cfg_file)
    sys.exit(0)
if os.environ.get("STUB_FAIL"):
    print(os.environ["STUB_FAIL"], file=sys.stderr)
    sys.exit(1)
cfg = yaml.safe_load(open(cfg_file, encoding="utf-8"))
code = os.environ.get("STUB_EXIT")
if code:
    signal.signal(signal.SIGTERM, lambda *a: os._exit(int(code)))
print("level=info event=start listen=" + cfg["listen"] + ' msg="stub up"',
      file=sys.stderr, flush=True)
if code:
    while True:
        time.sleep(1)
echo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fcgi_echo.py")
os.execv(sys.executable, [sys.executable, echo, "--listen", cfg["listen"]])
