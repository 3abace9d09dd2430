#!/bin/sh
# Install what is needed, build, and start the gateway in the foreground
# with its defaults: implicit FTPS on :990, passive ports 60000-61000,
# admin API on https://127.0.0.1:8443/api/v1, data under ./var.
# Extra arguments go to ftpsgate (e.g. --config FILE); FTPSGATE_*
# environment variables override any setting.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j "$(nproc 2>/dev/null || echo 2)" --target ftpsgate >/dev/null
exec ./build-release/ftpsgate "$@"
