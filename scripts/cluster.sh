#!/bin/sh
# A gateway cluster on one machine, from Debian's packages: PostgreSQL for
# the records (scripts/pg-local.sh), Swift's S3 API for the bytes
# (scripts/s3-local.sh), HAProxy 2.6 in front, and N ftpsgate nodes on
# their own loopback addresses. It is how to try a cluster, and how the
# cluster tests start one. Run as root (or a user who may bind 127.0.0.x).
#
#   scripts/cluster.sh up [DIR]       start it all; prints KEY=VALUE lines
#                                     (also in DIR/env):
#     FTPS=HOST:PORT                  the public address (HAProxy), implicit FTPS
#     PASSIVE=LOW-HIGH                the public passive range (a slice per node)
#     API=URL                         the admin API through HAProxy (any node)
#     ADMIN_TOKEN=...                 its bootstrap admin token
#     CLUSTER_DIR=DIR                 where everything lives (logs: DIR/*/log)
#     NODES=n1,n2,n3
#     NODE_<id>_PID, NODE_<id>_FTPS, NODE_<id>_API, NODE_<id>_PASSIVE
#     plus FTPSGATE_DATABASE_URL and the S3 settings the nodes use
#   scripts/cluster.sh status DIR     the same lines, and NODE_<id>_STATE=up|down
#   scripts/cluster.sh start-node DIR ID   start a node again (after a kill or a drain)
#   scripts/cluster.sh down DIR       stop it all and remove DIR
#
# Settings (environment): FTPSGATE_BIN (default: build/ftpsgate),
# CLUSTER_NODES (3), CLUSTER_PUBLIC (127.0.0.10; nodes take the next
# addresses: .11, .12, ...), CLUSTER_FTPS_PORT and CLUSTER_API_PORT (free
# ports by default; 990 and 443 for the real thing), CLUSTER_SLICE (100
# passive ports per node). Every other FTPSGATE_* variable set here is
# given to every node (e.g. FTPSGATE_ARGON2_M_COST_KIB).
#
# HAProxy speaks TCP only: TLS ends on the nodes. Control connections go
# to a node chosen by the client's address (all of one client's to the
# same node), each carrying a PROXY protocol v2 header
# (so bans, limits and records see the client); each node's slice of the
# passive range goes to that node only, with a header too (the same-
# address check); nodes whose /api/v1/health is not 200 (a dependency
# down, or draining) get no new control connection. The admin API is
# passed through to any node that answers. Test credentials, plain HTTP
# to the object store and a self-signed certificate: for one machine,
# never for files you keep. docs/operations.md has the real layout.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BIN=${FTPSGATE_BIN:-$root/build/ftpsgate}

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

# free_port ADDR...: a TCP port free on every one of the addresses
free_port() {
	python3 - "$@" <<'EOF'
import random, socket, sys
for _ in range(200):
    port = random.randint(20000, 59000)
    try:
        for addr in sys.argv[1:]:
            s = socket.socket()
            s.bind((addr, port))
            s.close()
    except OSError:
        continue
    print(port)
    break
else:
    sys.exit("no free port")
EOF
}

# free_range COUNT ADDR...: the first port of COUNT in a row free on all
free_range() {
	python3 - "$@" <<'EOF'
import random, socket, sys
count, addrs = int(sys.argv[1]), sys.argv[2:]
for _ in range(200):
    low = random.randint(20000, 59000 - count)
    try:
        for port in range(low, low + count):
            for addr in addrs:
                with socket.socket() as s:
                    s.bind((addr, port))
    except OSError:
        continue
    print(low)
    break
else:
    sys.exit("no free range")
EOF
}

# address N: the loopback address of node N (1-based) after the public one
address() {
	echo "$CLUSTER_PUBLIC" | awk -F. -v n="$1" '{ printf "%s.%s.%s.%d\n", $1, $2, $3, $4 + n }'
}

wait_health() { # URL [PID]: until it answers 200 (60 s), unless PID ends
	i=0
	until curl -ksf -o /dev/null "$1/api/v1/health"; do
		i=$((i + 1))
		[ $i -lt 600 ] || return 1
		[ -z "${2:-}" ] || kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
}

# start_node ID: node ID (n1, n2, ...) on its own address and slice
start_node() {
	id=$1
	n=${id#n}
	a=$(address "$n")
	low=$((PASSIVE_LOW + (n - 1) * SLICE))
	mkdir -p "$dir/$id"
	(
		# every FTPSGATE_* setting of the caller (not this script's own,
		# nor the tests'), then the cluster's
		for v in $(env | sed -n 's/^\(FTPSGATE_\(BIN\|KEEP\|LARGE_MIB\|TEST_[A-Z0-9_]*\)\)=.*/\1/p'); do
			unset "$v"
		done
		export FTPSGATE_NODE_ID="$id"
		export FTPSGATE_DATA_DIR="$dir/$id/var"
		export FTPSGATE_FTPS_LISTEN="$a:$FTPS_PORT"
		export FTPSGATE_ADMIN_LISTEN="$a:$ADMIN_PORT"
		export FTPSGATE_PASSIVE_PORTS="$low-$((low + SLICE - 1))"
		export FTPSGATE_PUBLIC_HOST="$CLUSTER_PUBLIC"
		export FTPSGATE_PROXY_PROTOCOL=all
		export FTPSGATE_PROXY_TRUSTED="$CLUSTER_PUBLIC/32"
		export FTPSGATE_ADMIN_TOKEN="$ADMIN_TOKEN"
		export FTPSGATE_MASTER_KEY_FILE="$dir/master.key"
		export FTPSGATE_TLS_CERT="$dir/tls.crt" FTPSGATE_TLS_KEY="$dir/tls.key"
		export FTPSGATE_DATABASE_URL FTPSGATE_STORAGE_URL FTPSGATE_S3_ENDPOINT FTPSGATE_S3_REGION
		export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
		exec "$BIN" >>"$dir/$id/log" 2>&1
	) &
	echo $! >"$dir/$id/pid"
	wait_health "https://$a:$ADMIN_PORT" $! ||
		{ tail -n 20 "$dir/$id/log" >&2; die "node $id did not become healthy"; }
}

haproxy_config() {
	cat <<EOF
# written by scripts/cluster.sh
global
	maxconn $MAXCONN
	pidfile $dir/haproxy.pid
	stats socket $dir/haproxy.sock mode 600 level admin

defaults
	mode tcp
	timeout connect 5s
	timeout client 1h
	timeout server 1h
	timeout check 2s
	# a node that refuses (draining, down) is passed over
	retries 3
	option redispatch

frontend ftps
	bind $CLUSTER_PUBLIC:$FTPS_PORT
	default_backend ftps

backend ftps
	# one client address, one node: a client's control connections share
	# one TLS session cache (rclone's 4), and a data connection may resume
	# a sibling's session, which only the node that issued it can check.
	# Consistent hashing moves only a lost or drained node's clients.
	balance source
	hash-type consistent
	source $CLUSTER_PUBLIC
	option httpchk GET /api/v1/health
	http-check expect status 200
EOF
	for id in $NODES; do
		n=${id#n}
		echo "	server $id $(address "$n"):$FTPS_PORT send-proxy-v2 check port $ADMIN_PORT check-ssl verify none inter 1s fall 1 rise 2"
	done
	for id in $NODES; do
		n=${id#n}
		low=$((PASSIVE_LOW + (n - 1) * SLICE))
		cat <<EOF

# node $id's passive ports: its own, whatever its health (its transfers run)
frontend passive_$id
	bind $CLUSTER_PUBLIC:$low-$((low + SLICE - 1))
	default_backend passive_$id

backend passive_$id
	source $CLUSTER_PUBLIC
	server $id $(address "$n") send-proxy-v2
EOF
	done
	cat <<EOF

frontend api
	bind $CLUSTER_PUBLIC:$API_PORT
	default_backend api

backend api
	balance roundrobin
	source $CLUSTER_PUBLIC
	option httpchk GET /api/v1/health
	# any node that answers serves the API, even one with a dependency down
	http-check expect rstatus ^(200|503)$
EOF
	for id in $NODES; do
		n=${id#n}
		echo "	server $id $(address "$n"):$ADMIN_PORT check check-ssl verify none inter 1s fall 2 rise 1"
	done
}

print_env() {
	cat "$dir/env"
	for id in $NODES; do
		pid=$(cat "$dir/$id/pid" 2>/dev/null || echo 0)
		echo "NODE_${id}_PID=$pid"
		if [ "${1:-}" = status ]; then
			if [ "$pid" != 0 ] && kill -0 "$pid" 2>/dev/null; then
				echo "NODE_${id}_STATE=up"
			else
				echo "NODE_${id}_STATE=down"
			fi
		fi
	done
}

load() {
	dir=${1:?a cluster directory}
	[ -f "$dir/env" ] || die "no cluster in $dir"
	set -a
	. "$dir/env"
	. "$dir/settings" # NODES as a list again
	set +a
}

cmd=${1:-}
case "$cmd" in
up)
	[ -x "$BIN" ] || die "no ftpsgate at $BIN (build it, or set FTPSGATE_BIN)"
	command -v haproxy >/dev/null || die "haproxy is not installed (scripts/deps.sh)"
	dir=${2:-$(mktemp -d /tmp/ftpsgate-cluster.XXXXXX)}
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	chmod 0755 "$dir"
	CLUSTER_PUBLIC=${CLUSTER_PUBLIC:-127.0.0.10}
	count=${CLUSTER_NODES:-3}
	SLICE=${CLUSTER_SLICE:-100}
	NODES=$(seq -f 'n%g' 1 "$count" | tr '\n' ' ' | sed 's/ $//')
	addrs="$CLUSTER_PUBLIC"
	for n in $(seq 1 "$count"); do addrs="$addrs $(address "$n")"; done
	FTPS_PORT=${CLUSTER_FTPS_PORT:-$(free_port $addrs)}
	API_PORT=${CLUSTER_API_PORT:-$(free_port "$CLUSTER_PUBLIC")}
	ADMIN_PORT=$(free_port $addrs)
	PASSIVE_LOW=$(free_range $((count * SLICE)) $addrs)
	ADMIN_TOKEN=$(openssl rand -hex 24)

	# the records and the bytes
	sh "$here/pg-local.sh" start "$dir/pg" >"$dir/pg.env"
	sh "$here/s3-local.sh" start "$dir/s3" >"$dir/s3.env"
	set -a
	. "$dir/pg.env"
	. "$dir/s3.env"
	set +a
	# one master key (sealing the accounts' age identities) and one
	# certificate for the public name, as a secret store would give each node
	openssl rand -hex 32 >"$dir/master.key"
	chmod 0600 "$dir/master.key"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj "/CN=$CLUSTER_PUBLIC" -addext "subjectAltName=IP:$CLUSTER_PUBLIC" \
		-keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
	cat >"$dir/settings" <<EOF
CLUSTER_PUBLIC=$CLUSTER_PUBLIC
SLICE=$SLICE
NODES="$NODES"
FTPS_PORT=$FTPS_PORT
API_PORT=$API_PORT
ADMIN_PORT=$ADMIN_PORT
PASSIVE_LOW=$PASSIVE_LOW
FTPSGATE_BIN=$BIN
EOF
	{
		echo "FTPS=$CLUSTER_PUBLIC:$FTPS_PORT"
		echo "PASSIVE=$PASSIVE_LOW-$((PASSIVE_LOW + count * SLICE - 1))"
		echo "API=https://$CLUSTER_PUBLIC:$API_PORT/api/v1"
		echo "ADMIN_TOKEN=$ADMIN_TOKEN"
		echo "CLUSTER_DIR=$dir"
		echo "NODES=$(echo "$NODES" | tr ' ' ',')"
		for id in $NODES; do
			n=${id#n}
			low=$((PASSIVE_LOW + (n - 1) * SLICE))
			echo "NODE_${id}_FTPS=$(address "$n"):$FTPS_PORT"
			echo "NODE_${id}_API=https://$(address "$n"):$ADMIN_PORT/api/v1"
			echo "NODE_${id}_PASSIVE=$low-$((low + SLICE - 1))"
		done
		grep -h -e '^FTPSGATE_' -e '^AWS_' "$dir/pg.env" "$dir/s3.env"
	} >"$dir/env"
	# the nodes, the first alone (it migrates the schema)
	for id in $NODES; do
		start_node "$id"
	done
	# two descriptors per connection, beside one per listening port, within
	# what this shell may open
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	MAXCONN=$((($(ulimit -n) - count * SLICE - 200) / 2))
	[ "$MAXCONN" -ge 100 ] || die "CLUSTER_SLICE=$SLICE: too many passive ports for $(ulimit -n) descriptors"
	haproxy_config >"$dir/haproxy.cfg"
	haproxy -c -q -f "$dir/haproxy.cfg" || die "HAProxy refused $dir/haproxy.cfg"
	haproxy -D -f "$dir/haproxy.cfg" 2>>"$dir/haproxy.log" || die "HAProxy did not start"
	wait_health "https://$CLUSTER_PUBLIC:$API_PORT" || die "the API does not answer through HAProxy"
	# HAProxy sends control connections once its checks passed (rise 2)
	i=0
	until echo "show stat" | python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"show stat\n")
out = b""
while True:
    b = s.recv(65536)
    if not b: break
    out += b
up = [l for l in out.decode().splitlines() if l.startswith("ftps,n") and ",UP," in l]
sys.exit(0 if len(up) == int(sys.argv[2]) else 1)' "$dir/haproxy.sock" "$count"; do
		i=$((i + 1))
		[ $i -lt 100 ] || die "HAProxy does not see every node up"
		sleep 0.1
	done
	print_env
	;;
status)
	load "${2:-}"
	print_env status
	;;
start-node)
	load "${2:-}"
	id=${3:?usage: cluster.sh start-node DIR ID}
	BIN=$FTPSGATE_BIN
	pid=$(cat "$dir/$id/pid" 2>/dev/null || echo 0)
	if [ "$pid" != 0 ] && kill -0 "$pid" 2>/dev/null; then
		die "node $id runs already (pid $pid)"
	fi
	start_node "$id"
	echo "NODE_${id}_PID=$(cat "$dir/$id/pid")"
	;;
down)
	dir=${2:?usage: cluster.sh down DIR}
	[ -d "$dir" ] || exit 0
	if [ -f "$dir/haproxy.pid" ]; then
		kill "$(cat "$dir/haproxy.pid")" 2>/dev/null || true
	fi
	for pidfile in "$dir"/n*/pid; do
		[ -f "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null || true
	done
	sh "$here/s3-local.sh" stop "$dir/s3" 2>/dev/null || true
	sh "$here/pg-local.sh" stop "$dir/pg" 2>/dev/null || true
	rm -rf "$dir"
	;;
*)
	echo "usage: cluster.sh up [DIR] | status DIR | start-node DIR ID | down DIR" >&2
	exit 2
	;;
esac
