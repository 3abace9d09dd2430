#!/bin/sh
# Install what ftpsgate needs to build, run and test on Debian 12.
# Run as root (or through sudo). Safe to run again.
set -eu

PACKAGES="build-essential cmake pkg-config
  libssl-dev libmicrohttpd-dev libjansson-dev libargon2-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev
  openssl ca-certificates sqlite3 python3 python3-jsonschema curl jq lftp wget age rclone clang
  libclang-rt-14-dev clang-tidy cppcheck postgresql-15
  swift-proxy swift-account swift-container swift-object memcached haproxy
  chromium chromium-driver python3-selenium firefox-esr fonts-dejavu-core"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing; run as root: sudo $0" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
