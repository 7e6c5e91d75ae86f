#!/usr/bin/python3
"""Runs one command against a private DNS server, never the internet.

Started by test_doctor.py as `unshare -n -m netns_dns.py SPEC.json`: in a new
network namespace (only loopback, brought up here) and a private mount
namespace, it bind-mounts a resolv.conf naming 127.0.0.1 over
/etc/resolv.conf, starts the DNS server SPEC asks for on 127.0.0.1:53, waits
until it answers, runs SPEC's command, stops the server and prints JSON
{"rc", "out", "seconds"} on stdout.

SPEC: {"workdir": DIR, "server": "dnsmasq" | "silent" | "none",
       "dnsmasq_args": [...], "argv": [...], "timeout": SECONDS}
"silent" is a UDP socket on port 53 that reads queries and never answers;
"none" is no server at all (queries are refused by the kernel)."""
import json
import os
import socket
import struct
import subprocess
import sys
import time


def txt_record(name, value):
    """dnsmasq --txt-record, split into strings of at most 255 octets (an
    argument, not a shell word: dnsmasq keeps quotes, so there are none)."""
    assert "," not in value
    parts = [value[i:i + 255] for i in range(0, len(value), 255)] or [""]
    return f"--txt-record={name}," + ",".join(parts)


def run_isolated(workdir, argv, dnsmasq_args=(), server="dnsmasq", timeout=120):
    """For the tests: argv inside a new namespace against this DNS server;
    returns (rc, stdout + stderr, seconds).  Needs root."""
    spec = {"workdir": str(workdir), "server": server,
            "dnsmasq_args": list(dnsmasq_args), "timeout": timeout,
            "argv": [str(a) for a in argv]}
    path = os.path.join(str(workdir), "spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    p = subprocess.run(["unshare", "-n", "-m", sys.executable,
                        os.path.abspath(__file__), path],
                       capture_output=True, text=True, timeout=timeout + 60)
    assert p.returncode == 0, p.stdout + p.stderr
    res = json.loads(p.stdout)
    return res["rc"], res["out"], res["seconds"]


def query_packet(name):
    head = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return head + q + struct.pack(">HH", 16, 1)      # TXT, IN


def wait_dns(timeout=20):
    """Until 127.0.0.1:53 answers a query (dnsmasq is ready)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(query_packet("ready.invalid"), ("127.0.0.1", 53))
            if s.recvfrom(4096)[0][:2] == b"\x12\x34":
                return
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    raise SystemExit("DNS server did not answer")


def main():
    spec = json.load(open(sys.argv[1]))
    work = spec["workdir"]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    resolv = os.path.join(work, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\n")
    subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)
    server = silent = None
    if spec["server"] == "dnsmasq":
        server = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
             "--no-resolv", "--no-hosts", "--no-poll", "--port=53",
             "--listen-address=127.0.0.1", "--bind-interfaces",
             "--user=root", f"--pid-file={work}/dnsmasq.pid",
             f"--log-facility={work}/dnsmasq.log", "--log-queries",
             *spec["dnsmasq_args"]],
            stdout=subprocess.DEVNULL, stderr=open(f"{work}/dnsmasq.err", "w"))
        wait_dns()
    elif spec["server"] == "silent":
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 53))
    start = time.monotonic()
    try:
        p = subprocess.run(spec["argv"], capture_output=True, text=True,
                           timeout=spec.get("timeout", 120))
        rc, out = p.returncode, p.stdout + p.stderr
    finally:
        if server:
            server.terminate()
            server.wait(10)
        if silent:
            silent.close()
    print(json.dumps({"rc": rc, "out": out,
                      "seconds": time.monotonic() - start}))


if __name__ == "__main__":
    main()
