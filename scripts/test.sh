#!/bin/sh
# Build ftpsgate and run the whole test suite: unit and end-to-end tests
# on a normal build, on both records backends (SQLite, and PostgreSQL on
# a throwaway server), then again under AddressSanitizer + UBSan, and
# under ThreadSanitizer.
#   scripts/test.sh            everything
#   SKIP_SANITIZE=1 scripts/test.sh   without the ASan + UBSan run
#   SKIP_TSAN=1                       without the ThreadSanitizer run
#   SKIP_FUZZ=1, SKIP_IMAGE=1         without the fuzzers, without the image test
#   SKIP_LINT=1                       without clang-tidy and cppcheck
#   SKIP_PG=1                         the end-to-end suite on SQLite only
#   SKIP_S3=1                         without the S3 store's tests
set -eu
cd "$(dirname "$0")/.."

sh scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

# Throwaway servers, stopped at the end: PostgreSQL (the end-to-end suite
# runs on it too: tests/CMakeLists.txt registers e2e_pg.* when
# FTPSGATE_TEST_PG is set) and an S3-compatible store (s3.* when
# FTPSGATE_TEST_S3 names its settings).
PG_DIR=""
S3_DIR=""
stop_servers() {
	[ -z "$PG_DIR" ] || sh scripts/pg-local.sh stop "$PG_DIR"
	[ -z "$S3_DIR" ] || sh scripts/s3-local.sh stop "$S3_DIR"
	# a cluster test stopped before its own teardown (a timeout) leaves
	# its servers: stop them too
	for d in /tmp/ftpsgate-cluster-*; do
		[ ! -f "$d/settings" ] || sh scripts/cluster.sh down "$d" || true
	done
}
trap stop_servers EXIT INT TERM
if [ "${SKIP_PG:-0}" != 1 ]; then
	pg_env=$(sh scripts/pg-local.sh start)
	PG_DIR=$(echo "$pg_env" | sed -n 's/^PG_DIR=//p')
	PG_PORT=$(echo "$pg_env" | sed -n 's/^PG_PORT=//p')
	export FTPSGATE_TEST_PG="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
	echo "== PostgreSQL 15 for the tests on 127.0.0.1:$PG_PORT"
else
	unset FTPSGATE_TEST_PG
fi
if [ "${SKIP_S3:-0}" != 1 ]; then
	s3_env=$(sh scripts/s3-local.sh start)
	S3_DIR=$(echo "$s3_env" | sed -n 's/^S3_DIR=//p')
	export FTPSGATE_TEST_S3="$S3_DIR/env"
	echo "== S3 (Swift $(dpkg-query -W -f='${Version}' swift-proxy)) for the tests on" \
		"$(echo "$s3_env" | sed -n 's/^FTPSGATE_S3_ENDPOINT=//p')"
else
	unset FTPSGATE_TEST_S3
fi

echo "== lint openapi/openapi.json"
sh scripts/lint-openapi.sh
# The console's test tools, beside the linter in build/tools:
# puppeteer-core drives Firefox (Debian has no geckodriver), axe-core
# checks each page against WCAG 2 A and AA
tools=${FTPSGATE_TOOLS_DIR:-build/tools}
if [ ! -d "$tools/node_modules/puppeteer-core" ] || [ ! -f "$tools/node_modules/axe-core/axe.min.js" ]; then
	(cd "$tools" && npm install --no-audit --no-fund --loglevel=error puppeteer-core@23.11.1 \
		axe-core@4.10.2 >/dev/null)
fi

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
if [ "${SKIP_LINT:-0}" != 1 ]; then
	echo "== static analysis (clang-tidy, cppcheck)"
	sh scripts/lint.sh build
fi
echo "== tests"
(cd build && ctest --output-on-failure -j "$jobs")

if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
	echo "== build (ASan + UBSan)"
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFTPSGATE_SANITIZE=ON >/dev/null
	cmake --build build-asan -j "$jobs"
	echo "== tests under sanitizers"
	# The 2 GiB resume test runs in full above; 256 MiB is enough here.
	(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 FTPSGATE_LARGE_MIB=256 \
		ctest --output-on-failure -j "$jobs")
fi

if [ "${SKIP_TSAN:-0}" != 1 ]; then
	# ThreadSanitizer: the whole suite, and any data race it sees ends the
	# daemon (exit code 66), which fails the test that was running.
	echo "== build (ThreadSanitizer)"
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DFTPSGATE_TSAN=ON >/dev/null
	cmake --build build-tsan -j "$jobs"
	echo "== tests under ThreadSanitizer"
	(cd build-tsan && TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1 \
		FTPSGATE_LARGE_MIB=256 ctest --output-on-failure -j "$jobs")
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
	# Fuzz every parser of untrusted input for a bounded time, starting
	# from the committed corpora (new inputs go to a scratch directory).
	echo "== fuzz (${FUZZ_SECONDS:-30} s per target)"
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DFTPSGATE_FUZZ=ON \
		-DFTPSGATE_SANITIZE=ON >/dev/null
	cmake --build build-fuzz -j "$jobs" --target fuzz_session fuzz_path fuzz_age fuzz_config \
		fuzz_admin_json fuzz_s3_xml fuzz_proxy
	for t in session path age config admin_json s3_xml proxy; do
		scratch=$(mktemp -d)
		if ! ./build-fuzz/fuzz/fuzz_$t -max_total_time="${FUZZ_SECONDS:-30}" -max_len=4096 \
			-print_final_stats=1 "$scratch" "fuzz/corpus/$t" >"$scratch.log" 2>&1; then
			tail -n 60 "$scratch.log"
			echo "fuzz_$t failed: the crashing input is named above" >&2
			exit 1
		fi
		tail -n 3 "$scratch.log"
		rm -rf "$scratch" "$scratch.log"
	done
fi
if [ "${SKIP_IMAGE:-0}" != 1 ]; then
	# The container image, built and run for real (docker/test-image.sh).
	echo "== container image"
	bash docker/test-image.sh
fi
echo "== all tests passed"
