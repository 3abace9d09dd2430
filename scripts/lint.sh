#!/bin/sh
# Static analysis of ftpsgate's C: clang-tidy with .clang-tidy and cppcheck,
# each on every source file the build compiles; any finding fails.
#   scripts/lint.sh [build-dir]     (default: build, configured by CMake)
# A finding that is a false positive is silenced where it stands, with the
# reason: /* NOLINT(check): why */ or /* cppcheck-suppress id ; why */.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
db="$build/compile_commands.json"
if [ ! -f "$db" ]; then
	echo "lint.sh: no $db: configure the build first (cmake -S . -B $build)" >&2
	exit 1
fi
jobs=$(nproc 2>/dev/null || echo 2)
sources=$(ls common/*.c daemon/*.c ftpd/*.c store/*.c admin/*.c tests/unit/*.c)

echo "clang-tidy: $(echo "$sources" | wc -w) files"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# One process per file, in parallel; the exit status of each is kept.
if ! echo "$sources" | xargs -n 1 -P "$jobs" clang-tidy -p "$build" --quiet >"$out" 2>/dev/null; then
	grep -A 3 "error:\|warning:" "$out" >&2 || cat "$out" >&2
	echo "lint.sh: clang-tidy found the problems above" >&2
	exit 1
fi

echo "cppcheck: $(grep -c '"file"' "$db") compile commands"
cppcheck --project="$db" --enable=warning,performance,portability --std=c11 \
	--inline-suppr --error-exitcode=1 --quiet -j "$jobs" \
	--template='{file}:{line}: {severity} [{id}] {message}' \
	--suppress='*:/usr/*'
echo "lint: clean"
