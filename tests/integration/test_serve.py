"""The worker process: where it listens (own unix/TCP socket, systemd's
fd 3, spawn-fcgi's fd 0), who may talk to it over TCP, surviving fd
exhaustion, and stopping without dropping a request in hand."""
import os
import signal
import socket
import subprocess
import time
import urllib.parse

import pytest

import fcgi_client
from harness import (formpost_binary, free_port, parse_logfmt, post_form,
                     wait_for, write_config)

BODY = urllib.parse.urlencode({"name": "山田", "email": "taro@example.jp",
                               "message": "こんにちは"}).encode()


def start_plain(tmp_path, config, argv_prefix=(), **popen):
    """formpost serve with stderr to a file; returns (Popen, log path)."""
    cfg = tmp_path / "fp.yaml"
    write_config(cfg, config)
    log = open(tmp_path / "fp.log", "wb")
    p = subprocess.Popen([*argv_prefix, formpost_binary(), "serve", "-c", str(cfg)],
                         stderr=log, stdout=log, **popen)
    return p, tmp_path / "fp.log"


def stop_plain(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(10) == 0


def test_spawn_fcgi_fd0(tmp_path, formpost_config, smtpd):
    """spawn-fcgi hands the listener over as fd 0."""
    del formpost_config["listen"]
    sock = tmp_path / "spawn.sock"
    cfg = tmp_path / "fp.yaml"
    write_config(cfg, formpost_config)
    log = open(tmp_path / "fp.log", "wb")
    p = subprocess.Popen(["spawn-fcgi", "-n", "-s", str(sock), "--",
                          formpost_binary(), "serve", "-c", str(cfg)],
                         stdout=log, stderr=log)
    try:
        wait_for(lambda: sock.exists(), 15, "spawn-fcgi socket")
        wait_for(lambda: b"event=started" in (tmp_path / "fp.log").read_bytes(), 15, "start")
        status, _, body = fcgi_client.post(f"unix:{sock}", "/formpost/example", BODY)
        assert status == 200, body
        assert smtpd.wait(1)
    finally:
        stop_plain(p)


def test_systemd_fd3(tmp_path, formpost_config, smtpd):
    """systemd socket activation: fd 3 with LISTEN_PID/LISTEN_FDS."""
    del formpost_config["listen"]
    path = str(tmp_path / "sd.sock")
    lsock = socket.socket(socket.AF_UNIX)
    lsock.bind(path)
    lsock.listen(16)
    fd = lsock.fileno()
    cfg = tmp_path / "fp.yaml"
    write_config(cfg, formpost_config)
    log = open(tmp_path / "fp.log", "wb")
    p = subprocess.Popen(
        ["sh", "-c", f'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" serve -c "$1"',
         formpost_binary(), str(cfg)],
        stdout=log, stderr=log, close_fds=False,
        preexec_fn=lambda: os.dup2(fd, 3))
    lsock.close()
    try:
        wait_for(lambda: b"event=started" in (tmp_path / "fp.log").read_bytes(), 15, "start")
        status, _, body = fcgi_client.post(f"unix:{path}", "/formpost/example", BODY)
        assert status == 200, body
        assert smtpd.wait(1)
    finally:
        stop_plain(p)


def test_no_listener_is_a_clear_error(tmp_path, formpost_config):
    del formpost_config["listen"]
    p, log = start_plain(tmp_path, formpost_config, stdin=subprocess.DEVNULL)
    assert p.wait(10) == 1
    assert b"no listen: in the config, and no inherited socket" in log.read_bytes()


def test_tcp_listen_checks_peer(tmp_path, formpost_config, smtpd, nginx_factory,
                                formpost_factory):
    """On TCP, only fastcgi_allow peers may talk: nginx connects from
    127.0.0.1, which is not in the list, so it gets nothing (502)."""
    port = free_port()
    formpost_config["listen"] = f"127.0.0.1:{port}"
    formpost_config["fastcgi_allow"] = ["127.0.0.2"]
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(f"127.0.0.1:{port}")
    r = post_form(ng.url("/formpost/example"), {"name": "a", "email": "a@b.jp", "message": "m"})
    assert r.status_code == 502
    wait_for(lambda: fp.events(event="peer_refused"), 15, "peer_refused log")
    assert fp.events(event="peer_refused")[0]["peer"] == "127.0.0.1"
    assert smtpd.count() == 0


def test_tcp_loopback_default(tmp_path, formpost_config, smtpd, nginx_factory,
                              formpost_factory):
    port = free_port()
    formpost_config["listen"] = f"127.0.0.1:{port}"
    fp = formpost_factory(formpost_config)
    ng = nginx_factory(f"127.0.0.1:{port}")
    r = post_form(ng.url("/formpost/example"), {"name": "a", "email": "a@b.jp", "message": "m"})
    assert r.status_code == 200
    assert smtpd.wait(1)


def test_stale_socket_replaced_live_one_kept(tmp_path, formpost_config, formpost_factory):
    sock = tmp_path / "formpost.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))          # stale: bound, nobody listening after close
    s.close()
    fp = formpost_factory(formpost_config)
    assert oct(sock.stat().st_mode & 0o777) == "0o660"
    # A second instance must not steal the live socket.
    p, log = start_plain(tmp_path, formpost_config)
    assert p.wait(10) == 1
    assert b"is in use by a running process" in log.read_bytes()
    assert fp.alive()


def test_survives_fd_exhaustion(tmp_path, formpost_config, smtpd, formpost_factory):
    """EMFILE from accept() must not kill the workers."""
    fp = formpost_factory(formpost_config)
    # The socket accepts (into the backlog) before start-up is over:
    # measure and squeeze only once every thread and file is open.
    fp.wait_log("event=started")
    base = len(os.listdir(f"/proc/{fp.pid}/fd"))
    subprocess.run(["prlimit", f"--pid={fp.pid}", f"--nofile={base}:"], check=True)
    held = []
    for _ in range(6):
        c = socket.socket(socket.AF_UNIX)
        c.connect(str(fp.socket))
        held.append(c)
    wait_for(lambda: fp.events(event="accept_failed"), 15, "accept_failed logged")
    assert "Too many open files" in fp.events(event="accept_failed")[0]["error"]
    for c in held:
        c.close()
    subprocess.run(["prlimit", f"--pid={fp.pid}", "--nofile=1024:"], check=True)
    time.sleep(0.3)
    status, _, body = fcgi_client.post(f"unix:{fp.socket}", "/formpost/example", BODY)
    assert status == 200, body
    assert fp.alive()


def test_sigterm_finishes_request_in_hand(tmp_path, formpost_config, smtpd, formpost_factory):
    """SIGTERM while a request is half-received: the request completes with
    its answer, then the process exits 0."""
    fp = formpost_factory(formpost_config)
    req = fcgi_client.Request(f"unix:{fp.socket}")
    req.begin({"REQUEST_METHOD": "POST", "REQUEST_URI": "/formpost/example",
               "CONTENT_TYPE": "application/x-www-form-urlencoded",
               "CONTENT_LENGTH": str(len(BODY)), "REMOTE_ADDR": "127.0.0.1",
               "HTTP_ORIGIN": "https://www.example.com"})
    req.send(BODY[:10])
    time.sleep(0.3)
    os.kill(fp.pid, signal.SIGTERM)
    time.sleep(0.5)
    assert fp.alive()
    req.send(BODY[10:])
    status, _, body = req.finish()
    assert status == 200, body
    # The answered message is on disk; the process then exits 0 by itself.
    proc = fp.proc
    assert proc.popen.wait(10) == 0
    fp.proc = None
    proc.stop()
    queued = list((tmp_path / "spool" / "queue").iterdir())
    assert smtpd.count() == 1 or len(queued) == 1


def test_sighup_reload_keeps_old_on_error(tmp_path, formpost_config, smtpd, formpost_factory):
    fp = formpost_factory(formpost_config)
    text = fp.config_path.read_text()
    fp.config_path.write_text(text + "\nbogus_key: 1\n")
    fp.reload()
    fp.wait_log("event=reload_failed")
    ev = fp.events(event="reload_failed")[0]
    assert "unknown key 'bogus_key'" in ev["error"]
    status, _, _ = fcgi_client.post(f"unix:{fp.socket}", "/formpost/example", BODY)
    assert status == 200
    fp.config_path.write_text(text.replace("[お問い合わせ]", "[Reloaded]"))
    fp.reload()
    fp.wait_log("event=reloaded")
    status, _, _ = fcgi_client.post(f"unix:{fp.socket}", "/formpost/example",
                                    BODY.replace(b"message=", b"message=2"))
    assert status == 200
    assert smtpd.wait(2)
    subjects = [m["Subject"] for _, m in smtpd.messages()]
    assert any(s.startswith("[Reloaded]") for s in subjects), subjects
