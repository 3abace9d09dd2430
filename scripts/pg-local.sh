#!/bin/sh
# A throwaway PostgreSQL 15 server for trying ftpsgate's PostgreSQL
# backend, and for its tests: Debian's postgresql-15, a cluster in a
# temporary directory, on a free loopback port, owned by an unprivileged
# user (postgres when run as root, else you).
#
#   scripts/pg-local.sh start [DIR]   start it; prints KEY=VALUE lines:
#                                     FTPSGATE_DATABASE_URL, PG_DIR, PG_PORT
#   scripts/pg-local.sh stop DIR      stop it and remove DIR
#   scripts/pg-local.sh pause DIR     stop the server, keep its data (an outage)
#   scripts/pg-local.sh resume DIR    start it again on the same port
#
# Loopback connections need no password (trust): this server is for
# tests on one machine, never for records you keep. docs/operations.md
# says how to run a real one.
set -eu

BIN=/usr/lib/postgresql/15/bin
[ -x "$BIN/initdb" ] || { echo "pg-local.sh: postgresql-15 is not installed (scripts/deps.sh)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_server() {
	dir=$1
	as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -c port=$(cat "$dir/port") -c unix_socket_directories=$dir/run -c fsync=on -c max_connections=300" \
		start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
}

case "${1:-}" in
start)
	dir=${2:-$(mktemp -d /tmp/ftpsgate-pg.XXXXXX)}
	mkdir -p "$dir/run"
	[ "$(id -u)" = 0 ] && chown -R postgres "$dir"
	chmod 0755 "$dir"
	free_port >"$dir/port"
	as_owner "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	start_server "$dir"
	port=$(cat "$dir/port")
	psql -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-c "CREATE ROLE ftpsgate LOGIN" -c "CREATE DATABASE ftpsgate OWNER ftpsgate" >/dev/null
	echo "FTPSGATE_DATABASE_URL=postgresql://ftpsgate@127.0.0.1:$port/ftpsgate"
	echo "PG_DIR=$dir"
	echo "PG_PORT=$port"
	;;
stop)
	dir=${2:?usage: pg-local.sh stop DIR}
	[ -d "$dir/data" ] && as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	;;
pause)
	dir=${2:?usage: pg-local.sh pause DIR}
	as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	;;
resume)
	dir=${2:?usage: pg-local.sh resume DIR}
	start_server "$dir"
	;;
*)
	echo "usage: pg-local.sh start [DIR] | stop DIR | pause DIR | resume DIR" >&2
	exit 2
	;;
esac
