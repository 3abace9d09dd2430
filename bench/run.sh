#!/bin/sh
# Benchmarks: ftpsgate side by side with vsftpd, ProFTPD and pure-ftpd
# (Debian's packages) and the raw TLS limit, on this machine, in one run.
# As root on Debian 12:
#   bench/run.sh              everything (about an hour)
#   BENCH_QUICK=1 bench/run.sh   a smoke run of every scenario
# Results: the table on stdout and in bench/out/ (results.json, table.md,
# benchmarks.png). See docs/benchmarks.md.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
need=""
# vsftpd's, ProFTPD's and pure-ftpd's libraries: the servers themselves
# are unpacked from their packages by bench.py, side by side.
for p in wrk gnuplot-nox libwrap0 libpam-modules libhiredis0.14 libmemcached11 libmemcachedutil2 \
	libpcre2-posix3 libsodium23 libcap2 libidn2-0 libncursesw6; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target ftpsgate s3put >/dev/null
# Debian's Python: the console scenario drives Chromium with python3-selenium
exec /usr/bin/python3 bench/bench.py
