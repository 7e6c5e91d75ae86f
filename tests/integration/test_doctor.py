"""`formpost doctor` against a local DNS server, never the internet.

Each case runs formpost in its own network and mount namespace (unshare -n
-m, as root) where /etc/resolv.conf names 127.0.0.1 and dnsmasq serves the
zone the case describes (tests/integration/netns_dns.py).  A correct setup
exits 0; each missing record, p=none, a mismatched DKIM key, an SPF record
that does not authorise the relay or costs too many lookups, and a resolver
that is absent or silent are each reported in plain words with exit 1 or 2,
and the silent resolver within bounded time."""
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from harness import base_config, write_config
from netns_dns import run_isolated, txt_record as txt
from test_dkim import genkey, record_of

ROOT = Path(__file__).resolve().parents[2]
FORMPOST = ROOT / "formpost"
DKIM_NAME = "fp2026._domainkey.example.com"


@pytest.fixture
def world():
    if os.geteuid() != 0:
        pytest.fail("doctor tests need root for unshare -n -m (CI runs as root)")
    d = tempfile.mkdtemp(prefix="fp-doctor-")
    os.chmod(d, 0o755)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("doctorkeys")
    out = {}
    for kind in ("rsa", "ed25519"):
        path = genkey(d, kind)
        out[kind] = (path, record_of(path, kind).decode())
    return out


def zone(dkim_record, spf="v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all",
         dmarc="v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com",
         mx=True, extra=()):
    args = ["--local=/example.com/", "--local=/example.net/",
            "--host-record=relay.example.com,192.0.2.25",
            "--host-record=mx.example.com,192.0.2.26",
            txt("_spf.example.net", "v=spf1 ip4:198.51.100.0/24 ~all"),
            txt("example.com", "some-verification=abc")]
    if spf:
        args.append(txt("example.com", spf))
    if dkim_record:
        args.append(txt(DKIM_NAME, dkim_record))
    if dmarc:
        args.append(txt("_dmarc.example.com", dmarc))
    if mx:
        args.append("--mx-host=example.com,mx.example.com,10")
    return args + list(extra)


def doctor(world, key, dnsmasq_args, server="dnsmasq", args=(), dkim=True,
           timeout=120):
    config = base_config(world, 587, world / "ca.pem",
                         smtp_url="smtp://relay.example.com:587")
    (world / "ca.pem").write_text("")
    if dkim:
        config["sites"]["example"]["dkim"] = {"selector": "fp2026",
                                              "key_file": str(key)}
    path = write_config(world / "formpost.yaml", config)
    return run_isolated(world, [FORMPOST, "doctor", "-c", path, *args],
                        dnsmasq_args, server, timeout=timeout)


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_correct_setup_is_all_good(world, keys, kind):
    key, record = keys[kind]
    rc, out, _ = doctor(world, key, zone(record), args=["--lang", "en"])
    assert rc == 0, out
    assert "SPF record of example.com is valid (1 of 10 DNS lookups)" in out
    assert "SPF authorises the relay relay.example.com" in out
    assert f"DKIM record at {DKIM_NAME} matches key_file ({kind}-sha256)" in out
    assert "DMARC at _dmarc.example.com: p=quarantine" in out
    assert "aligned through SPF + DKIM" in out
    assert "MX for example.com: mx.example.com" in out
    assert out.rstrip().endswith("all good")


def test_japanese_report(world, keys):
    key, record = keys["ed25519"]
    rc, out, _ = doctor(world, key, zone(record))       # site lang: ja
    assert rc == 0 and "問題ありません" in out and "SPF がリレー" in out


def printed_record(out):
    m = re.search(re.escape(DKIM_NAME) + r'\. IN TXT((?: "[^"]*")+)', out)
    assert m, out
    parts = re.findall(r'"([^"]*)"', m.group(1))
    assert all(len(p) <= 255 for p in parts)
    return "".join(parts)


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_missing_dkim_record_prints_the_record_to_publish(world, keys, kind):
    key, record = keys[kind]
    rc, out, _ = doctor(world, key, zone(None), args=["--lang", "en"])
    assert rc == 2, out
    assert f"no DKIM record at {DKIM_NAME}" in out
    assert printed_record(out) == record       # what openssl says, exactly


def test_mismatched_dkim_key(world, keys):
    key, _ = keys["rsa"]
    other = genkey(world, "rsa")
    rc, out, _ = doctor(world, key, zone(record_of(other, "rsa").decode()),
                        args=["--lang", "en"])
    assert rc == 2, out
    assert "holds another key than key_file" in out
    assert printed_record(out) == keys["rsa"][1]
    # An Ed25519 record for an RSA key is another key too.
    rc, out, _ = doctor(world, key, zone(keys["ed25519"][1]), args=["--lang", "en"])
    assert rc == 2 and "holds another key" in out


def test_missing_spf(world, keys):
    key, record = keys["rsa"]
    rc, out, _ = doctor(world, key, zone(record, spf=None), args=["--lang", "en"])
    assert rc == 2, out
    assert "no SPF record for example.com" in out
    assert "add ip4:192.0.2.25" in out
    assert "aligned through DKIM" in out        # DKIM still carries DMARC


def test_spf_not_authorising_the_relay(world, keys):
    key, record = keys["rsa"]
    rc, out, _ = doctor(world, key, zone(record, spf="v=spf1 ip4:203.0.113.0/24 -all"),
                        args=["--lang", "en"])
    assert rc == 2, out
    assert ("SPF of example.com does not authorise the relay relay.example.com "
            "(192.0.2.25)") in out


def test_spf_over_ten_lookups(world, keys):
    key, record = keys["rsa"]
    chain = [txt(f"l{i}.example.net", f"v=spf1 include:l{i + 1}.example.net -all")
             for i in range(11)]
    chain.append(txt("l11.example.net", "v=spf1 -all"))
    rc, out, _ = doctor(world, key,
                        zone(record, spf="v=spf1 ip4:192.0.2.25 include:l0.example.net -all",
                             extra=chain), args=["--lang", "en"])
    assert rc == 2, out
    assert "needs more than 10 DNS lookups" in out


def test_spf_lookup_bomb_and_loops_are_bounded(world, keys):
    """Nine levels of nine includes each (9^9 records for an evaluator
    without a budget), an include loop and a redirect loop: each ends at
    10 DNS lookups (RFC 7208 §4.6.4) as a permerror, in seconds."""
    key, record = keys["rsa"]
    bomb = [txt(f"b{i}.example.net", "v=spf1 " + " ".join(
        [f"include:b{i + 1}.example.net"] * 9) + " -all") for i in range(9)]
    bomb.append(txt("b9.example.net", "v=spf1 -all"))
    for name, spf, extra in (
            ("bomb", "v=spf1 ip4:192.0.2.26 include:b0.example.net -all", bomb),
            ("include loop", "v=spf1 include:example.com include:example.com -all", []),
            ("redirect loop", "v=spf1 ip4:192.0.2.26 redirect=loop.example.net",
             [txt("loop.example.net", "v=spf1 a:nx1.example.net a:nx2.example.net "
                  "redirect=example.com")])):
        rc, out, secs = doctor(world, key, zone(record, spf=spf, extra=extra),
                               args=["--lang", "en"], timeout=40)
        assert rc == 2, (name, out)
        assert "SPF of example.com gives permerror for the relay" in out, (name, out)
        assert secs < 20, (name, secs)


def test_invalid_spf(world, keys):
    key, record = keys["rsa"]
    rc, out, _ = doctor(world, key, zone(record, spf="v=spf1 ip4:192.0.2.300 -all"),
                        args=["--lang", "en"])
    assert rc == 2 and 'invalid term "ip4:192.0.2.300"' in out, out


def test_missing_dmarc_is_a_warning(world, keys):
    key, record = keys["rsa"]
    rc, out, _ = doctor(world, key, zone(record, dmarc=None), args=["--lang", "en"])
    assert rc == 1, out
    assert "no DMARC record for example.com" in out


def test_dmarc_p_none_is_a_warning(world, keys):
    key, record = keys["rsa"]
    rc, out, _ = doctor(world, key, zone(record, dmarc="v=DMARC1; p=none"),
                        args=["--lang", "en"])
    assert rc == 1, out
    assert "DMARC at _dmarc.example.com is p=none" in out


def test_no_mx_is_a_warning(world, keys):
    key, record = keys["rsa"]
    rc, out, _ = doctor(world, key, zone(record, mx=False), args=["--lang", "en"])
    assert rc == 1, out
    assert "no MX for example.com" in out


def test_neither_aligned(world, keys):
    key, _ = keys["rsa"]
    rc, out, _ = doctor(world, key, zone(None, spf=None), args=["--lang", "en"])
    assert rc == 2 and "aligned neither through SPF nor through DKIM" in out, out


def test_site_without_dkim_is_warned(world, keys):
    key, record = keys["rsa"]
    rc, out, _ = doctor(world, key, zone(record), args=["--lang", "en"], dkim=False)
    assert rc == 1, out
    assert "not DKIM-signed" in out and "aligned through SPF" in out


def test_no_resolver_is_a_clear_error(world, keys):
    key, _ = keys["rsa"]
    rc, out, secs = doctor(world, key, [], server="none", args=["--lang", "en"])
    assert rc == 2, out
    assert "no answer from DNS (127.0.0.1) for example.com" in out
    assert "nothing else was checked" in out
    assert secs < 60
    rc, out, _ = doctor(world, key, [], server="none", args=["--lang", "ja"])
    assert rc == 2 and "DNS が応答しません" in out and "127.0.0.1" in out


def test_silent_resolver_gives_up_in_bounded_time(world, keys):
    key, _ = keys["rsa"]
    rc, out, secs = doctor(world, key, [], server="silent", args=["--lang", "en"])
    assert rc == 2, out
    assert "no answer from DNS (127.0.0.1)" in out
    # 3 s per try, 2 tries: far below the driver's 120 s limit.
    assert secs < 60, secs


def test_unknown_site(world, keys):
    key, record = keys["rsa"]
    rc, out, _ = doctor(world, key, zone(record), args=["nosuch"])
    assert rc == 2 and "no site named nosuch" in out
