#!/bin/sh
# Installs the Debian packages formpost needs to build, test and run its
# demo.  Idempotent: only what is missing; apt-get as root, else prints the
# command to run.
PKGS="build-essential clang libclang-rt-14-dev pkg-config
libfcgi-dev libcurl4-openssl-dev libssl-dev libyaml-dev libidn2-dev
libcmocka-dev zlib1g-dev nginx-light apache2 spawn-fcgi openssl ca-certificates
chromium chromium-driver python3-selenium fonts-ipafont-gothic
python3 python3-aiosmtpd python3-pytest python3-requests strace wrk
spamassassin
systemd debhelper lintian dpkg-dev man-db groff-base git
python3-dkim opendkim-tools dnsmasq-base iproute2
python3-prometheus-client valgrind"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "formpost needs:$missing"
	echo "run: sudo apt-get install -y$missing"
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || exit 1
apt-get install -y -qq --no-install-recommends $missing >/dev/null || exit 1
