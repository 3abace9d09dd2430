/* records_pg.h - the PostgreSQL records backend's files, to each other.
 * Not for other parts.
 *
 * Statements go through a bounded pool of connections (pg.c). A call
 * takes a connection for one statement (pg_run) or one transaction
 * (pg_take .. pg_give), never longer; every statement is bounded by the
 * statement timeout. Parameters and results travel as text.
 */
#ifndef FTPSGATE_STORE_RECORDS_PG_H
#define FTPSGATE_STORE_RECORDS_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "store_records.h"

struct store;

/* The database's clock in ms: leases and heartbeats use it, not a
 * node's. */
#define PG_NOW "(extract(epoch from clock_timestamp()) * 1000)::bigint"

/* SQL for the bytes an account's uploads hold against its quota (as
 * STORE_HELD_BYTES in SQLite). */
#define PG_HELD_BYTES "COALESCE(SUM(GREATEST(COALESCE(size, bytes_received), reserved_bytes)), 0)"

/* Parameters of one statement ($1 .. $n): text, or bytes (binary). */
#define PG_ARGS_MAX 32
struct pg_args {
	int n;
	const char *v[PG_ARGS_MAX];
	int len[PG_ARGS_MAX];
	int binary[PG_ARGS_MAX];
	char num[PG_ARGS_MAX][24];
};

void pg_arg_i64(struct pg_args *a, int64_t v);
void pg_arg_text(struct pg_args *a, const char *s); /* NULL: SQL NULL */
/* s's bytes, exactly, for a BYTEA column: what clients name (paths)
 * and what programs print (hook output, errors) need not be UTF-8,
 * which a TEXT column refuses. NULL: SQL NULL. */
void pg_arg_bytes(struct pg_args *a, const char *s);
/* len bytes at data, for a BYTEA column (borrowed until the statement ran) */
void pg_arg_blob(struct pg_args *a, const void *data, size_t len);
void pg_arg_bool(struct pg_args *a, bool v);
/* v, or NULL when !present */
void pg_arg_i64_or_null(struct pg_args *a, int64_t v, bool present);

struct pg_conn;

/* One statement on a connection of the pool. *res (when wanted, and on
 * success only) is the caller's to PQclear. Errors are logged with what
 * and mapped: -EEXIST (unique violation), -EAGAIN (unreachable, timed
 * out, no connection free, serialization), -EROFS (a read-only server,
 * e.g. a standby after failover), -ENOSPC, -EIO. */
int pg_run(struct store *st, const char *sql, const struct pg_args *a, PGresult **res,
	   const char *what);
/* The rows a statement changed. */
int64_t pg_changes(PGresult *res);
/* A statement run for its effect; *changes: the rows it changed (NULL:
 * not wanted). */
int pg_write(struct store *st, const char *sql, const struct pg_args *a, const char *what,
	     int64_t *changes);

/* A connection for several statements (BEGIN .. COMMIT by the caller). */
int pg_take(struct store *st, struct pg_conn **out);
int pg_exec(struct store *st, struct pg_conn *c, const char *sql, const struct pg_args *a,
	    PGresult **res, const char *what);
/* Give it back; after a failure inside a transaction, ROLLBACK first. */
void pg_give(struct store *st, struct pg_conn *c, bool failed);

/* Result helpers: NULL reads as 0 or "". */
int64_t pg_i64(const PGresult *res, int row, int col);
bool pg_null(const PGresult *res, int row, int col);
void pg_text(const PGresult *res, int row, int col, char *out, size_t size);
/* A BYTEA column (hex output, as every connection sets) as a string;
 * cut at size - 1 bytes or at a NUL. */
void pg_bytes(const PGresult *res, int row, int col, char *out, size_t size);

/* A new connection to the database (defaults first, the URL overrides
 * them), or NULL with why. */
PGconn *pg_connect(const char *url, const char *app, char *why, size_t why_size);

/* nodes_pg.c, from the events thread on its connection: this node's
 * heartbeat and session counts out, the other nodes' in (about once a
 * second); at its end, this node's counts withdrawn. */
void store_pg_nodes_tick(struct store *st, PGconn *conn);
void store_pg_nodes_leave(struct store *st, PGconn *conn);
int store_pg_nodes_list(struct store *st, struct store_node *items, unsigned max, unsigned *n);
int store_pg_node_drain(struct store *st, const char *node);

/* pg.c: the pool and the schema */
int store_pg_open(struct store *st, const char *url, char *err, size_t err_size);
void store_pg_close(struct store *st);

/* records_pg_accounts.c */
int store_pg_account_get(struct store *st, int64_t id, bool usage,
			struct store_account *out);
int store_pg_account_find(struct store *st, const char *username, struct store_account *out,
			  char *hash, size_t hash_size);
int store_pg_account_insert(struct store *st, const struct store_account_row *row,
			    int64_t now_ms, int64_t *id);
int store_pg_account_remove(struct store *st, int64_t id);
int store_pg_account_list(struct store *st, int64_t after_id,
		const struct store_account_filter *f, unsigned max,
		struct store_account *items, unsigned *n, bool *more);
int store_pg_account_update(struct store *st, const struct store_account *a, int64_t now_ms);
int store_pg_account_delete(struct store *st, int64_t id, int64_t now_ms, bool *changed);
int store_pg_account_set_password(struct store *st, int64_t id, const char *hash, int64_t now_ms);
int store_pg_key_insert(struct store *st, int64_t account_id, const char *recipient,
			const uint8_t sealed[STORE_KEY_SEALED_LEN], int64_t now_ms, int64_t *id);
int store_pg_key_get(struct store *st, int64_t account_id, int64_t key_id, struct store_key *out);
int store_pg_key_list(struct store *st, int64_t account_id, int64_t after_id, unsigned max,
		      struct store_key *items, unsigned *n, bool *more);
int store_pg_key_revoke(struct store *st, int64_t account_id, int64_t key_id, int64_t now_ms);
int store_pg_key_sealed(struct store *st, int64_t account_id, unsigned max, int64_t *ids,
			uint8_t (*sealed)[STORE_KEY_SEALED_LEN], unsigned *n);
int store_pg_token_by_hash(struct store *st, const char *hash, struct store_token *out);
void store_pg_token_touch(struct store *st, int64_t id, int64_t now_ms);
int store_pg_token_exists(struct store *st, const char *name, bool *exists);
int store_pg_token_put(struct store *st, const char *name, const char *hash, const char *scope,
		       int64_t now_ms, bool replace, int64_t *id);
int store_pg_token_get(struct store *st, int64_t id, struct store_token *out);
int store_pg_token_list(struct store *st, int64_t after_id, unsigned max,
			struct store_token *items, unsigned *n, bool *more);
int store_pg_token_revoke(struct store *st, int64_t id, int64_t now_ms);
int store_pg_audit_insert(struct store *st, const struct store_audit *a);
int store_pg_audit_list(struct store *st, int64_t before_id, int64_t account_id, unsigned max,
			struct store_audit *items, unsigned *n, bool *more);

/* records_objects.c */
int store_pg_object_begun(struct store *st, int64_t id, const char *upload_id);
int store_pg_object_part(struct store *st, int64_t id, const struct store_bytes_part *part);
int store_pg_object_trim(struct store *st, int64_t id, unsigned number);
int store_pg_object_state(struct store *st, int64_t id, unsigned number, void *state,
			  size_t cap, size_t *len);
int store_pg_object_load(struct store *st, int64_t id, char *upload_id, size_t upload_id_size,
			 struct store_bytes_part *parts, unsigned max, unsigned *n);

/* records_pg_webhooks.c */
int store_pg_webhook_insert(struct store *st, const char *url, const char *events,
				const uint8_t sealed[STORE_KEY_SEALED_LEN], int64_t now_ms, int64_t *id);
int store_pg_webhook_get(struct store *st, int64_t id, struct store_webhook *out);
int store_pg_webhook_list(struct store *st, int64_t after_id, unsigned max,
			      struct store_webhook *items, unsigned *n, bool *more);
int store_pg_webhook_delete(struct store *st, int64_t id, int64_t now_ms);
int store_pg_webhook_sealed(struct store *st, int64_t id, uint8_t sealed[STORE_KEY_SEALED_LEN]);
int store_pg_hook_events_after(struct store *st, int64_t after_id, unsigned max,
				   struct store_delivery *items, unsigned *n);
int store_pg_delivery_add(struct store *st, int64_t webhook_id, const int64_t *event_ids,
			      const int64_t *upload_ids, unsigned n, int64_t cursor, int64_t now_ms);
int store_pg_delivery_claim(struct store *st, int64_t now_ms, int64_t lease_ms, unsigned max,
				struct store_delivery *items, unsigned *n);
int store_pg_delivery_set(struct store *st, const struct store_delivery *d);
int store_pg_delivery_get(struct store *st, int64_t webhook_id, int64_t event_id,
			      struct store_delivery *out);
int store_pg_delivery_list(struct store *st, int64_t webhook_id, const char *state,
			       int64_t before_event, unsigned max, struct store_delivery *items,
			       unsigned *n, bool *more);
int store_pg_webhook_prune(struct store *st, int64_t cutoff_ms);

#endif
