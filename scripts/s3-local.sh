#!/bin/sh
# A throwaway S3-compatible object store for trying ftpsgate's S3 bytes
# backend, and for its tests: OpenStack Swift from Debian's packages
# (swift-proxy, -account, -container, -object) with its S3 API
# middleware (s3api: SigV4, multipart uploads, ranged GETs), one replica,
# in a temporary directory, on free loopback ports.
#
#   scripts/s3-local.sh start [DIR]   start it, with a bucket "ftpsgate";
#                                     prints KEY=VALUE lines:
#                                     FTPSGATE_STORAGE_URL, FTPSGATE_S3_ENDPOINT,
#                                     FTPSGATE_S3_REGION, AWS_ACCESS_KEY_ID,
#                                     AWS_SECRET_ACCESS_KEY, S3_DIR, S3_PORT
#                                     (also in DIR/env)
#   scripts/s3-local.sh stop DIR      stop it and remove DIR
#   scripts/s3-local.sh pause DIR     stop the proxy only (the store is unreachable)
#   scripts/s3-local.sh resume DIR    start the proxy again on the same port
#
# S3_BIND (default 127.0.0.1) and S3_LISTEN_PORT (default: a free one)
# place its S3 endpoint; docker/cluster runs it in a container that way.
#
# Its credentials are fixed test ones and it speaks plain HTTP: it is for
# tests and trials, never for bytes you keep.
# docs/operations.md says what a real deployment uses.
set -eu

SWIFT_PY=/usr/bin/python3 # Debian's python3-swift, whatever python3 is first on PATH
[ -x /usr/bin/swift-proxy-server ] ||
	{ echo "s3-local.sh: swift-proxy is not installed (scripts/deps.sh)" >&2; exit 1; }

ACCESS=ftpsgate:tester
SECRET=ftpsgate-test-secret
REGION=us-east-1
BUCKET=ftpsgate

free_port() {
	"$SWIFT_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

owner() {
	if [ "$(id -u)" = 0 ]; then echo swift; else id -un; fi
}

# server NAME: start swift-NAME-server in the background, its pid in DIR/NAME.pid
server() {
	name=$1
	"$SWIFT_PY" "/usr/bin/swift-$name-server" "$dir/etc/$name-server.conf" \
		>>"$dir/log/$name.log" 2>&1 &
	echo $! >"$dir/$name.pid"
}

stop_server() {
	name=$1
	[ -f "$dir/$name.pid" ] || return 0
	pid=$(cat "$dir/$name.pid")
	kill "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$dir/$name.pid"
}

# wait_http PORT [PATH]: until the server answers (20 s); with PATH, with 2xx
wait_http() {
	i=0
	until curl -sS -o /dev/null ${2:+-f} "http://127.0.0.1:$1${2:-/}" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			echo "s3-local.sh: the server on port $1 did not come up; its logs:" >&2
			tail -n 20 "$dir"/log/*.log >&2
			exit 1
		fi
		sleep 0.1
	done
}

write_configs() {
	user=$(owner)
	cat >"$dir/etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = ftpsgate-local
swift_hash_path_suffix = $(od -An -N8 -tx8 /dev/urandom | tr -d ' ')

[storage-policy:0]
name = local
default = yes

[swift-constraints]
max_file_size = 5368709122
EOF
	for kind in account container object; do
		cat >"$dir/etc/$kind-server.conf" <<EOF
[DEFAULT]
swift_dir = $dir/etc
devices = $dir/srv
mount_check = false
bind_ip = 127.0.0.1
bind_port = $(cat "$dir/$kind.port")
workers = 1
user = $user
log_facility = LOG_LOCAL0
log_name = $kind
log_level = WARNING

[pipeline:main]
pipeline = $kind-server

[app:$kind-server]
use = egg:swift#$kind
EOF
	done
	cat >"$dir/etc/proxy-server.conf" <<EOF
[DEFAULT]
swift_dir = $dir/etc
bind_ip = ${S3_BIND:-127.0.0.1}
bind_port = $(cat "$dir/port")
workers = 1
user = $user
log_name = proxy
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_ftpsgate_tester = $SECRET .admin

[filter:s3api]
use = egg:swift#s3api
location = $REGION
s3_acl = false

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$(cat "$dir/memcached.port")

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
}

make_rings() {
	for kind in account container object; do
		(cd "$dir/etc" && swift-ring-builder "$kind.builder" create 6 1 1 >/dev/null &&
			swift-ring-builder "$kind.builder" add \
				"r1z1-127.0.0.1:$(cat "$dir/$kind.port")/d1" 1 >/dev/null &&
			swift-ring-builder "$kind.builder" rebalance >/dev/null)
	done
}

start_proxy() {
	server proxy
	wait_http "$(cat "$dir/port")" /healthcheck
}

case "${1:-}" in
start)
	dir=${2:-$(mktemp -d /tmp/ftpsgate-s3.XXXXXX)}
	mkdir -p "$dir/etc" "$dir/srv/d1" "$dir/log" "$dir/run"
	for p in port account.port container.port object.port memcached.port; do
		free_port >"$dir/$p"
	done
	[ -z "${S3_LISTEN_PORT:-}" ] || echo "$S3_LISTEN_PORT" >"$dir/port"
	write_configs
	make_rings
	[ "$(id -u)" = 0 ] && chown -R swift "$dir"
	chmod 0755 "$dir"
	if [ "$(id -u)" = 0 ]; then
		memcached -d -u nobody -l 127.0.0.1 -p "$(cat "$dir/memcached.port")" -U 0 -m 32 \
			-P "$dir/run/memcached.pid"
	else
		memcached -d -l 127.0.0.1 -p "$(cat "$dir/memcached.port")" -U 0 -m 32 \
			-P "$dir/run/memcached.pid"
	fi
	for kind in account container object; do
		server "$kind"
	done
	for kind in account container object; do
		wait_http "$(cat "$dir/$kind.port")"
	done
	start_proxy
	port=$(cat "$dir/port")
	# the bucket, made through the S3 API itself: curl signs with SigV4
	# (the access key's ':' escaped in the URL; the empty body's hash,
	# which curl 7.88 does not send itself)
	i=0
	until curl -fsS -o /dev/null -X PUT --aws-sigv4 "aws:amz:$REGION:s3" \
		-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
		"http://$(echo "$ACCESS" | sed 's/:/%3A/'):$SECRET@127.0.0.1:$port/$BUCKET" \
		2>"$dir/log/bucket.err"; do
		i=$((i + 1))
		if [ $i -gt 50 ]; then
			echo "s3-local.sh: cannot make the bucket:" >&2
			cat "$dir/log/bucket.err" "$dir"/log/*.log >&2
			exit 1
		fi
		sleep 0.2
	done
	{
		echo "FTPSGATE_STORAGE_URL=s3://$BUCKET/uploads"
		echo "FTPSGATE_S3_ENDPOINT=http://127.0.0.1:$port"
		echo "FTPSGATE_S3_REGION=$REGION"
		echo "AWS_ACCESS_KEY_ID=$ACCESS"
		echo "AWS_SECRET_ACCESS_KEY=$SECRET"
		echo "S3_DIR=$dir"
		echo "S3_PORT=$port"
	} | tee "$dir/env"
	;;
stop)
	dir=${2:?usage: s3-local.sh stop DIR}
	[ -d "$dir/etc" ] || exit 0
	for kind in proxy account container object; do
		stop_server "$kind"
	done
	# memcached runs as nobody, which may not write its pid file here: by
	# its port, then
	if [ -f "$dir/run/memcached.pid" ]; then
		kill "$(cat "$dir/run/memcached.pid")" 2>/dev/null || true
	elif [ -f "$dir/memcached.port" ]; then
		pkill -f "^memcached .*-p $(cat "$dir/memcached.port") " 2>/dev/null || true
	fi
	rm -rf "$dir"
	;;
pause)
	dir=${2:?usage: s3-local.sh pause DIR}
	stop_server proxy
	;;
resume)
	dir=${2:?usage: s3-local.sh resume DIR}
	start_proxy
	;;
*)
	echo "usage: s3-local.sh start [DIR] | stop DIR | pause DIR | resume DIR" >&2
	exit 2
	;;
esac
