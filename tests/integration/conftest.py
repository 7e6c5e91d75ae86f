"""pytest fixtures for formpost's integration tests.

The classes and helpers live in harness.py (importable from tests as
`from harness import base_config, post_form, formpost_cli, ...`); this file
wraps them in fixtures that start processes in tmp_path, on free loopback
ports, and stop every one of them (by pid) at teardown.

Fixtures
  pki                          session: test CA + certificates (harness.Pki)
  smtpd_factory(**start_kw)    -> started harness.Smtpd (see Smtpd.start)
  smtpd                        one Smtpd: STARTTLS + AUTH (SMTP_USER, SMTP_PASS)
  fcgi_echo_factory(listen)    -> started harness.FcgiEcho
  nginx_factory(fastcgi, **kw) -> started harness.Nginx
  apache_factory(fastcgi, **kw)-> started harness.Apache
  formpost_factory(config, name="formpost", **start_kw) -> started harness.Formpost
  formpost_config              base_config(tmp_path, smtpd.port, pki.ca)
  stub_formpost                FORMPOST_BIN -> formpost_stub.py (harness tests)
  public_dir                   a 0755 directory outside tmp_path that Apache's
                               www-data children can reach (sockets, static roots)
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (Apache, FcgiEcho, Formpost, Nginx, Pki,  # noqa: E402
                     Smtpd, base_config)


def _factory(make):
    """Generic factory fixture body: make(*a, **kw) -> started object with
    .stop(); everything made is stopped at teardown, newest first.  Stop
    failures are collected and reported after all stops ran."""
    made = []

    def create(*args, **kwargs):
        obj = make(len(made), *args, **kwargs)
        made.append(obj)
        return obj

    yield create
    errors = []
    for obj in reversed(made):
        try:
            obj.stop()
        except Exception as e:          # report all, stop all
            errors.append(f"{type(obj).__name__}: {e}")
    if errors:
        raise AssertionError("teardown: " + "\n".join(errors))


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def smtpd_factory(tmp_path, pki):
    def make(i, **start_kw):
        return Smtpd(tmp_path, pki, name=f"smtpd{i or ''}").start(**start_kw)
    yield from _factory(make)


@pytest.fixture
def smtpd(smtpd_factory):
    return smtpd_factory()


@pytest.fixture
def fcgi_echo_factory(tmp_path):
    def make(i, listen):
        return FcgiEcho(tmp_path / f"fcgi{i}", listen)
    yield from _factory(make)


@pytest.fixture
def nginx_factory(tmp_path):
    def make(i, fastcgi, **kw):
        return Nginx(tmp_path, name=f"nginx{i or ''}").start(fastcgi, **kw)
    yield from _factory(make)


@pytest.fixture
def apache_factory(tmp_path):
    def make(i, fastcgi, **kw):
        return Apache(tmp_path, name=f"apache{i or ''}").start(fastcgi, **kw)
    yield from _factory(make)


@pytest.fixture
def formpost_factory(tmp_path):
    """Start formpost; at teardown any still running is stopped with SIGTERM
    and must exit 0 within 10 s (a failed clean shutdown fails the test)."""
    def make(i, config, name=None, **start_kw):
        return Formpost(tmp_path, config, name=name or f"formpost{i or ''}").start(**start_kw)
    yield from _factory(make)


@pytest.fixture
def formpost_config(tmp_path, smtpd, pki):
    """base_config() pointing at the `smtpd` fixture (STARTTLS + AUTH)."""
    return base_config(tmp_path, smtpd.port, pki.ca)


@pytest.fixture
def public_dir():
    """A fresh 0755 directory under /tmp, removed afterwards.  pytest's
    tmp_path lives under a 0700 directory that Apache's www-data children
    cannot traverse; put unix sockets and static roots for Apache here."""
    path = Path(tempfile.mkdtemp(prefix="formpost-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def stub_formpost(monkeypatch):
    """Point the harness at formpost_stub.py instead of the real binary
    (only for testing the harness itself)."""
    stub = Path(__file__).resolve().parent / "formpost_stub.py"
    monkeypatch.setenv("FORMPOST_BIN", str(stub))
    return stub
