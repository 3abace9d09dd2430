#!/bin/sh
# First start: a cluster, the role and the database; then the server in
# the foreground, listening on every address, passwords required.
set -eu
BIN=/usr/lib/postgresql/15/bin
DATA=/var/lib/postgresql/data
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
if [ ! -s "$DATA/PG_VERSION" ]; then
	"$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
	echo "host all all 0.0.0.0/0 scram-sha-256" >>"$DATA/pg_hba.conf"
	"$BIN/pg_ctl" -D "$DATA" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w start >/dev/null
	psql -q -h /tmp -U postgres -v ON_ERROR_STOP=1 -v pw="$POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE ftpsgate LOGIN PASSWORD :'pw';
CREATE DATABASE ftpsgate OWNER ftpsgate;
SQL
	"$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
fi
exec "$BIN/postgres" -D "$DATA" -c listen_addresses='*' -c unix_socket_directories=/tmp \
	-c max_connections=300
