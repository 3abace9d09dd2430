/* nodes_pg.c - what the nodes on one PostgreSQL database tell each other
 * besides events: that they are alive (nodes.seen_at, the database's
 * clock) and how many sessions each holds per account and per client
 * address, so that max_sessions_per_account and max_sessions_per_address
 * count every node's sessions.
 *
 * The events thread (events_pg.c) calls store_pg_nodes_tick about once a
 * second on its own connection: this node's counts are written when they
 * changed (its rows replaced in one transaction), the heartbeat always,
 * and the other live nodes' sums are read back into the counters
 * (gw_counter_set_others). A node not seen for ALIVE_MS no longer counts.
 * So a limit holds across nodes within about a second; a burst of logins
 * on several nodes inside that second can pass it by what they add.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "records_pg.h"
#include "store_int.h"

#define SHARE_EVERY_MS 1000
#define ALIVE_MS GW_STR(STORE_NODE_ALIVE_MS)

void store_share_counters(struct store *st, struct gw_counter *per_account,
			  struct gw_counter *per_address)
{
	pthread_mutex_lock(&st->share_lock);
	st->share_account = per_account;
	st->share_address = per_address;
	pthread_mutex_unlock(&st->share_lock);
}

/* This node's counts as three PostgreSQL array literals. */
struct snapshot {
	struct gw_buf kinds, keys, counts;
	const char *kind;
	size_t n;
};

static void add(void *arg, const char *key, unsigned count)
{
	struct snapshot *s = arg;

	if (strpbrk(key, "\"\\{},")) /* never in an id or an address */
		return;
	gw_buf_addf(&s->kinds, "%s%s", s->n ? "," : "", s->kind);
	gw_buf_addf(&s->keys, "%s\"%s\"", s->n ? "," : "", key);
	gw_buf_addf(&s->counts, "%s%u", s->n ? "," : "", count);
	s->n++;
}

static uint64_t digest(const struct gw_buf *b, uint64_t h)
{
	for (size_t i = 0; i < b->len; i++)
		h = (h ^ (uint8_t)b->data[i]) * 1099511628211ull; /* FNV-1a */
	return h ^ 0xff;
}

static bool ok(PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);
	bool good = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;

	if (!good)
		gw_debug("store.nodes", "cannot share session counts: %s",
			 PQresultErrorMessage(res));
	PQclear(res);
	return good;
}

/* The heartbeat, with what this node reports; a drain asked of this
 * process (not of an earlier one of the same id) is acted on. */
static bool heartbeat(struct store *st, PGconn *conn)
{
	struct store_node_report rep;
	char started[24], sessions[16], transfers[16];
	const char *v[7] = { st->node, FTPSGATE_VERSION, started, sessions, transfers, NULL, NULL };
	PGresult *res;
	bool drain;

	store_node_report(st, &rep);
	snprintf(started, sizeof(started), "%lld", (long long)st->started_at_ms);
	snprintf(sessions, sizeof(sessions), "%u", rep.sessions);
	snprintf(transfers, sizeof(transfers), "%u", rep.transfers);
	v[5] = rep.draining ? "true" : "false";
	res = PQexecParams(conn, "INSERT INTO nodes(node, seen_at, version, started_at, sessions,"
				 " transfers, draining) VALUES ($1, " PG_NOW ", $2, $3, $4, $5, $6)"
				 " ON CONFLICT (node) DO UPDATE SET seen_at = EXCLUDED.seen_at,"
				 " version = EXCLUDED.version, started_at = EXCLUDED.started_at,"
				 " sessions = EXCLUDED.sessions, transfers = EXCLUDED.transfers,"
				 " draining = EXCLUDED.draining, drain_requested ="
				 " nodes.drain_requested AND nodes.started_at = EXCLUDED.started_at"
				 " RETURNING drain_requested",
			   6, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return ok(res);
	drain = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (drain)
		store_node_drain_now(st, "a drain of this node was asked through the API of another");
	return true;
}

static bool publish(struct store *st, PGconn *conn, struct snapshot *s)
{
	const char *v[4] = { st->node, s->kinds.data, s->keys.data, s->counts.data };
	uint64_t h = digest(&s->counts, digest(&s->keys, digest(&s->kinds, 14695981039346656037ull)));
	bool good;

	if (!heartbeat(st, conn))
		return false;
	if (st->shared_digest == h)
		return true; /* as last written */
	good = ok(PQexec(conn, "BEGIN")) &&
	       ok(PQexecParams(conn, "DELETE FROM node_sessions WHERE node = $1", 1, NULL, v, NULL,
			       NULL, 0)) &&
	       ok(PQexecParams(conn, "INSERT INTO node_sessions(node, kind, key, sessions)"
				     " SELECT $1, k, c, n FROM unnest($2::text[], $3::text[],"
				     " $4::int[]) AS t(k, c, n)", 4, NULL, v, NULL, NULL, 0)) &&
	       ok(PQexec(conn, "COMMIT"));
	if (!good)
		PQclear(PQexec(conn, "ROLLBACK"));
	st->shared_digest = good ? h : 0;
	return good;
}

/* The other live nodes' sums into the counters. */
static void learn(struct store *st, PGconn *conn)
{
	const char *v[1] = { st->node };
	PGresult *res = PQexecParams(conn, "SELECT s.kind, s.key, sum(s.sessions)::int"
					   " FROM node_sessions s JOIN nodes n ON n.node = s.node"
					   " WHERE s.node <> $1 AND n.seen_at > " PG_NOW " - " ALIVE_MS
					   " GROUP BY s.kind, s.key", 1, NULL, v, NULL, NULL, 0);
	const char **keys[2] = { NULL, NULL };
	unsigned *counts[2] = { NULL, NULL };
	size_t n[2] = { 0, 0 };
	int rows, i, k;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ok(res);
		return;
	}
	rows = PQntuples(res);
	for (k = 0; k < 2; k++) {
		keys[k] = calloc((size_t)rows + 1, sizeof(*keys[k]));
		counts[k] = calloc((size_t)rows + 1, sizeof(*counts[k]));
	}
	if (keys[0] && keys[1] && counts[0] && counts[1]) {
		for (i = 0; i < rows; i++) {
			k = PQgetvalue(res, i, 0)[0] == 'a' ? 0 : 1;
			keys[k][n[k]] = PQgetvalue(res, i, 1);
			counts[k][n[k]++] = (unsigned)pg_i64(res, i, 2);
		}
		pthread_mutex_lock(&st->share_lock);
		if (st->share_account)
			gw_counter_set_others(st->share_account, keys[0], counts[0], n[0]);
		if (st->share_address)
			gw_counter_set_others(st->share_address, keys[1], counts[1], n[1]);
		pthread_mutex_unlock(&st->share_lock);
	}
	for (k = 0; k < 2; k++) {
		free(keys[k]);
		free(counts[k]);
	}
	PQclear(res);
}

void store_pg_nodes_tick(struct store *st, PGconn *conn)
{
	struct snapshot s;

	if (gw_mono_ms() < st->next_share_ms)
		return;
	st->next_share_ms = gw_mono_ms() + SHARE_EVERY_MS;
	memset(&s, 0, sizeof(s));
	gw_buf_init(&s.kinds, 1 << 20);
	gw_buf_init(&s.keys, 8 << 20);
	gw_buf_init(&s.counts, 2 << 20);
	gw_buf_adds(&s.kinds, "{");
	gw_buf_adds(&s.keys, "{");
	gw_buf_adds(&s.counts, "{");
	pthread_mutex_lock(&st->share_lock);
	s.kind = "a";
	if (st->share_account)
		gw_counter_each(st->share_account, add, &s);
	s.kind = "d";
	if (st->share_address)
		gw_counter_each(st->share_address, add, &s);
	pthread_mutex_unlock(&st->share_lock);
	gw_buf_adds(&s.kinds, "}");
	gw_buf_adds(&s.keys, "}");
	gw_buf_adds(&s.counts, "}");
	if (s.kinds.data && s.keys.data && s.counts.data && publish(st, conn, &s))
		learn(st, conn);
	gw_buf_release(&s.kinds);
	gw_buf_release(&s.keys);
	gw_buf_release(&s.counts);
}

void store_pg_nodes_leave(struct store *st, PGconn *conn)
{
	const char *v[1] = { st->node };

	ok(PQexecParams(conn, "DELETE FROM node_sessions WHERE node = $1", 1, NULL, v, NULL, NULL,
			0));
}

/* ---------------------------------------------------------------- the API's */

int store_pg_nodes_list(struct store *st, struct store_node *items, unsigned max, unsigned *n)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows;

	pg_arg_i64(&a, max);
	r = pg_run(st, "SELECT n.node, n.version, n.started_at, n.seen_at, n.sessions, n.transfers,"
		       " n.draining, n.seen_at > " PG_NOW " - " ALIVE_MS ","
		       " (SELECT count(*) FROM uploads u WHERE u.state = 'receiving' AND u.node = n.node)"
		       " FROM nodes n WHERE n.seen_at > " PG_NOW " - " GW_STR(STORE_NODES_SHOWN_MS)
		       " ORDER BY n.node LIMIT $1", &a, &res, "cannot list the nodes");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		struct store_node *x = &items[i];

		memset(x, 0, sizeof(*x));
		pg_text(res, i, 0, x->node, sizeof(x->node));
		pg_text(res, i, 1, x->version, sizeof(x->version));
		x->started_at_ms = pg_i64(res, i, 2);
		x->seen_at_ms = pg_i64(res, i, 3);
		x->sessions = (unsigned)pg_i64(res, i, 4);
		x->transfers = (unsigned)pg_i64(res, i, 5);
		x->draining = PQgetvalue(res, i, 6)[0] == 't';
		x->alive = PQgetvalue(res, i, 7)[0] == 't';
		x->uploads_receiving = pg_i64(res, i, 8);
	}
	*n = (unsigned)rows;
	PQclear(res);
	return 0;
}

int store_pg_node_drain(struct store *st, const char *node)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pg_arg_text(&a, node);
	r = pg_run(st, "UPDATE nodes SET drain_requested = true WHERE node = $1 AND seen_at > "
		       PG_NOW " - " ALIVE_MS, &a, &res, "cannot ask a node to drain");
	if (r < 0)
		return r;
	r = pg_changes(res) == 1 ? 0 : -ENOENT;
	PQclear(res);
	return r;
}
