#!/bin/bash
# Build the ftpsgate image, run it, and walk the quick start against it:
# create an account, upload with curl over implicit FTPS, find the record
# with the right SHA-256; then stop it. Exit 0 when all of that worked.
#
#   bash docker/test-image.sh       (as root, from anywhere in the clone)
#
# Works with Docker where it runs (and pulls debian:bookworm-slim from its
# registry), else with podman from Debian; when no registry is reachable,
# the base image is made locally with debootstrap from the Debian mirror
# that apt already uses. Podman runs with runc (Debian's crun refuses
# hybrid cgroup hosts) and with ulimits under the host's hard limits.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=${FTPSGATE_IMAGE_STATE:-/var/lib/ftpsgate-image-test}
BASE=debian:bookworm-slim
TAG=localhost/ftpsgate:test
NAME=ftpsgate-image-test-$$
mkdir -p "$STATE"

log() { printf '[test-image] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

need() {
	missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	log "installing$missing"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# ---------------------------------------------------------------- engine
if command -v docker >/dev/null 2>&1 && docker version >/dev/null 2>&1; then
	ENGINE=docker
else
	ENGINE=podman
	need podman runc debootstrap curl python3
	nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
	nproc=$(ulimit -Hu); pidmax=$(cat /proc/sys/kernel/pid_max)
	{ [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pidmax" ]; } && nproc=$pidmax
	cat > "$STATE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
EOF
	if [ ! -d /run/systemd/system ]; then
		printf 'cgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >> "$STATE/containers.conf"
	fi
	export CONTAINERS_CONF="$STATE/containers.conf"
fi
log "engine: $ENGINE"

has_image() {
	if [ "$ENGINE" = podman ]; then podman image exists "docker.io/library/$1"; else docker image inspect "$1" >/dev/null 2>&1; fi
}

# ---------------------------------------------------------------- base image
if ! has_image "$BASE" && ! timeout 60 "$ENGINE" pull -q "$BASE" >/dev/null 2>&1; then
	log "no registry: making $BASE with debootstrap"
	need debootstrap
	mirror=$(apt-get indextargets --format '$(RELEASE) $(COMPONENT) $(SITE)' 2>/dev/null |
		awk '$1 == "bookworm" && $2 == "main" { print $3; exit }')
	[ -n "$mirror" ] || { apt-get update -qq; mirror=$(apt-get indextargets --format '$(RELEASE) $(COMPONENT) $(SITE)' |
		awk '$1 == "bookworm" && $2 == "main" { print $3; exit }'); }
	[ -n "$mirror" ] || die "apt has no bookworm main source to debootstrap from"
	root=$(mktemp -d "$STATE/rootfs.XXXXXX")
	timeout 1200 debootstrap --variant=minbase bookworm "$root" "$mirror" >"$STATE/debootstrap.log" 2>&1 ||
		{ tail -5 "$STATE/debootstrap.log" >&2; die "debootstrap failed"; }
	apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy) ' \
		> "$root/etc/apt/apt.conf.d/90host" || true
	rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin
	tar --numeric-owner -C "$root" -cf "$STATE/base.tar" .
	rm -rf "$root"
	if [ "$ENGINE" = podman ]; then ref=docker.io/library/$BASE; else ref=$BASE; fi
	"$ENGINE" import --change 'CMD ["bash"]' "$STATE/base.tar" "$ref" >/dev/null
fi

# ---------------------------------------------------------------- build
log "building $TAG"
if [ "$ENGINE" = podman ]; then
	timeout 1800 podman build --pull=never --network host --isolation oci --format docker \
		-t "$TAG" -f docker/Dockerfile . >"$STATE/build.log" 2>&1 ||
		{ tail -20 "$STATE/build.log" >&2; die "image build failed"; }
else
	DOCKER_BUILDKIT=0 timeout 1800 docker build --network host -t "$TAG" -f docker/Dockerfile . \
		>"$STATE/build.log" 2>&1 || { tail -20 "$STATE/build.log" >&2; die "image build failed"; }
fi

# ---------------------------------------------------------------- run
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FTPS=$(free_port); ADMIN=$(free_port); PASV=$(( 40000 + $$ % 2000 ))
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
cleanup() {
	if [ "$ENGINE" = podman ]; then podman rm -f -t 5 "$NAME" >/dev/null 2>&1 || true
	else docker rm -f "$NAME" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
"$ENGINE" run -d --name "$NAME" --network host \
	-e FTPSGATE_FTPS_LISTEN=127.0.0.1:$FTPS -e FTPSGATE_ADMIN_LISTEN=127.0.0.1:$ADMIN \
	-e FTPSGATE_PASSIVE_PORTS=$PASV-$((PASV + 9)) -e FTPSGATE_ADMIN_TOKEN="$TOKEN" \
	"$TAG" >/dev/null
API=https://127.0.0.1:$ADMIN/api/v1
ok=""
for _ in $(seq 1 60); do
	curl -fsk "$API/health" >/dev/null 2>&1 && { ok=1; break; }
	sleep 1
done
[ -n "$ok" ] || { "$ENGINE" logs "$NAME" 2>&1 | tail -20 >&2; die "the gateway did not come up"; }
log "gateway up in the container; quick start"
"$ENGINE" exec "$NAME" id -un | grep -qx ftpsgate || die "the gateway does not run as user ftpsgate"
# Read the whole reply before looking into it: `curl | grep -q` under
# pipefail fails whenever grep exits before curl's last write.
script=$(curl -fsSk "https://127.0.0.1:$ADMIN/console/app.js") ||
	die "the image's gateway does not serve the console (curl exit $?)"
grep -q "export function h" <<<"$script" || die "the image's console script is not the console's app.js"

# ---------------------------------------------------------------- quick start
acct=$(curl -fsk -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	-d '{"description": "image test", "require_encryption": false}' "$API/accounts")
user=$(printf '%s' "$acct" | python3 -c 'import json,sys; print(json.load(sys.stdin)["username"])')
pass=$(printf '%s' "$acct" | python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])')
file=$(mktemp)
head -c 5M /dev/urandom > "$file"
want=$(sha256sum "$file" | cut -d' ' -f1)
curl -sS --ssl-reqd -k -T "$file" "ftps://$user:$pass@127.0.0.1:$FTPS/mail.bin" || die "upload failed"
rm -f "$file"
got=$(curl -fsk -H "Authorization: Bearer $TOKEN" "$API/uploads" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["sha256"])')
[ "$got" = "$want" ] || die "the record's SHA-256 is $got, not $want"
if [ "$ENGINE" = podman ] && [ "$(podman inspect -f '{{if .Config.Healthcheck}}y{{end}}' "$NAME")" = y ]; then
	podman healthcheck run "$NAME" >/dev/null || die "the HEALTHCHECK fails"
fi
log "PASS: image built, gateway ran as ftpsgate, upload recorded with SHA-256 $want"
