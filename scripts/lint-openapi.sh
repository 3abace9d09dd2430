#!/bin/sh
# Lint openapi/openapi.json with Redocly's CLI (from the npm registry),
# against openapi/redocly.yaml. Installs Node.js from Debian when missing.
set -eu
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "lint-openapi.sh: npm is missing; run as root to install it" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
tools=${FTPSGATE_TOOLS_DIR:-build/tools}
mkdir -p "$tools"
if [ ! -x "$tools/node_modules/.bin/redocly" ]; then
	(cd "$tools" && npm install --no-audit --no-fund --loglevel=error @redocly/cli@1.34.5 >/dev/null)
fi
REDOCLY_TELEMETRY=off "$tools/node_modules/.bin/redocly" lint --config openapi/redocly.yaml \
	openapi/openapi.json
