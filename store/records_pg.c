/* records_pg.c - upload records and import work in PostgreSQL: the
 * records contract (store_records.h) for what store/uploads.c and
 * store/pipeline.c keep, with what many nodes on one database need.
 *
 * - Each upload names the node that receives it; at start a node sets
 *   right only its own interrupted uploads and import work.
 * - Import work is claimed with a lease (FOR UPDATE SKIP LOCKED): the
 *   claiming node renews it while it works; a node that dies loses it
 *   when it ends, and another node takes the work. A node that could not
 *   renew gives the work up (pipeline.c stops its hook) before another
 *   can take it. Lease times are the database's clock, not a node's.
 * - Quota holds lock the account's row, so nodes together cannot pass a
 *   quota.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "records_pg.h"
#include "store_int.h"


#define UPLOAD_COLUMNS "id, account_id, path, state, size, bytes_received, sha256," \
		       " client_address, started_at, completed_at, error, updated_at, purged_at," \
		       " key_id, attempts, hook_exit, hook_output, client_modified_at, node"

static void row_to_info(const PGresult *res, int i, struct store_upload_info *u)
{
	u->id = pg_i64(res, i, 0);
	u->account_id = pg_i64(res, i, 1);
	pg_bytes(res, i, 2, u->path, sizeof(u->path));
	pg_text(res, i, 3, u->state, sizeof(u->state));
	u->size = pg_null(res, i, 4) ? -1 : pg_i64(res, i, 4);
	u->bytes_received = pg_i64(res, i, 5);
	pg_text(res, i, 6, u->sha256, sizeof(u->sha256));
	pg_text(res, i, 7, u->client_address, sizeof(u->client_address));
	u->started_at_ms = pg_i64(res, i, 8);
	u->completed_at_ms = pg_i64(res, i, 9);
	pg_bytes(res, i, 10, u->error, sizeof(u->error));
	u->updated_at_ms = pg_null(res, i, 11) ? u->started_at_ms : pg_i64(res, i, 11);
	u->purged_at_ms = pg_i64(res, i, 12);
	u->key_id = pg_i64(res, i, 13);
	u->attempts = (int)pg_i64(res, i, 14);
	u->hook_exit = pg_null(res, i, 15) ? -1 : (int)pg_i64(res, i, 15);
	pg_bytes(res, i, 16, u->hook_output, sizeof(u->hook_output));
	u->client_modified_at_ms = pg_i64(res, i, 17);
	pg_text(res, i, 18, u->node, sizeof(u->node));
}

/* A write; *changed when it changed a row (NULL: not wanted). */
static int write_one(struct store *st, const char *sql, const struct pg_args *a,
		     const char *what, bool *changed)
{
	PGresult *res = NULL;
	int r = pg_run(st, sql, a, &res, what);

	if (changed)
		*changed = r == 0 && pg_changes(res) > 0;
	PQclear(res);
	return r;
}

static int upload_get(struct store *st, int64_t id, struct store_upload_info *out)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pg_arg_i64(&a, id);
	r = pg_run(st, "SELECT " UPLOAD_COLUMNS " FROM uploads WHERE id = $1::bigint", &a, &res,
		   "cannot read upload");
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		r = -ENOENT;
	else
		row_to_info(res, 0, out);
	PQclear(res);
	return r;
}

static int upload_list(struct store *st, const struct store_upload_filter *f, int64_t before_id,
		       unsigned max, struct store_upload_info *items, unsigned *n, bool *more)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	pg_arg_i64(&a, f->account_id);
	pg_arg_text(&a, f->state);
	pg_arg_i64(&a, before_id);
	pg_arg_i64(&a, f->since_ms);
	pg_arg_i64(&a, f->until_ms);
	pg_arg_i64(&a, (int64_t)max + 1);
	r = pg_run(st, "SELECT " UPLOAD_COLUMNS " FROM uploads"
		       " WHERE ($1::bigint = 0 OR account_id = $1::bigint)"
		       " AND ($2::text IS NULL OR state = $2::text)"
		       " AND ($3::bigint = 0 OR id < $3::bigint)"
		       " AND ($4::bigint = 0 OR started_at >= $4::bigint)"
		       " AND ($5::bigint = 0 OR started_at < $5::bigint)"
		       " ORDER BY id DESC LIMIT $6::bigint", &a, &res, "cannot list uploads");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	*more = rows > (int)max;
	for (i = 0; i < rows && i < (int)max; i++)
		row_to_info(res, i, &items[i]);
	*n = (unsigned)i;
	PQclear(res);
	return 0;
}

static int upload_insert(struct store *st, int64_t account_id, const char *path,
			 const char *client_address, int64_t now_ms, int64_t *id)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pg_arg_i64(&a, account_id);
	pg_arg_bytes(&a, path);
	pg_arg_text(&a, client_address);
	pg_arg_i64(&a, now_ms);
	pg_arg_text(&a, st->node);
	r = pg_run(st, "INSERT INTO uploads(account_id, path, state, client_address, started_at,"
		       " updated_at, node) VALUES ($1::bigint, $2::bytea, 'receiving', $3, $4::bigint,"
		       " $4::bigint, $5) RETURNING id", &a, &res, "cannot record upload");
	if (r == 0)
		*id = pg_i64(res, 0, 0);
	PQclear(res);
	return r;
}

static int upload_end(struct store *st, const struct store_upload_end *e, int64_t now_ms,
		      bool late)
{
	struct pg_args a = { 0 };
	bool changed = false;
	int r;

	pg_arg_text(&a, e->state);
	pg_arg_i64_or_null(&a, (int64_t)e->bytes, e->sha256 != NULL);
	pg_arg_i64(&a, (int64_t)e->bytes);
	pg_arg_text(&a, e->sha256);
	pg_arg_i64_or_null(&a, now_ms, e->sha256 != NULL);
	pg_arg_bytes(&a, e->error && e->error[0] ? e->error : NULL);
	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, e->id);
	pg_arg_i64_or_null(&a, e->key_id, e->key_id != 0);
	pg_arg_text(&a, st->node);
	/* Only while it is this node's transfer: a node that lost touch with
	 * the database long enough (STORE_NODE_GONE_MS) may have had the
	 * upload taken over, and resumed, by another. */
	r = write_one(st, "UPDATE uploads SET state = $1, size = $2::bigint, bytes_received = $3::bigint,"
			  " sha256 = $4, completed_at = $5::bigint, error = $6::bytea, updated_at = $7::bigint,"
			  " key_id = COALESCE($9::bigint, key_id), reserved_bytes = 0"
			  " WHERE id = $8::bigint AND state = 'receiving' AND node = $10",
		      &a, late ? "cannot record a transfer's end (again)" : "cannot update upload",
		      &changed);
	if (r == 0 && !changed)
		return -ESTALE;
	return late && r < 0 ? -EAGAIN : r;
}

static int upload_claim_partial(struct store *st, int64_t id, const char *client_address,
				int64_t now_ms, int64_t *account_id)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pg_arg_text(&a, client_address);
	pg_arg_i64(&a, id);
	pg_arg_i64(&a, now_ms);
	pg_arg_text(&a, st->node);
	r = pg_run(st, "UPDATE uploads SET state = 'receiving', error = NULL, client_address = $1,"
		       " updated_at = $3::bigint, node = $4 WHERE id = $2::bigint"
		       " AND state = 'partial' AND purged_at IS NULL RETURNING account_id",
		   &a, &res, "cannot resume upload");
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		r = -EBUSY; /* not partial (any more): someone else has it */
	else
		*account_id = pg_i64(res, 0, 0);
	PQclear(res);
	return r;
}

static int upload_orphaned(struct store *st, int64_t id, bool take, uint64_t kept, int64_t now_ms,
			   int64_t *account_id)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pg_arg_i64(&a, id);
	pg_arg_text(&a, st->node);
	if (take) {
		pg_arg_i64(&a, (int64_t)kept);
		pg_arg_i64(&a, now_ms);
	}
	r = pg_run(st, take ? "UPDATE uploads u SET state = 'partial', bytes_received = $3::bigint,"
			      " reserved_bytes = 0, updated_at = $4::bigint,"
			      " error = 'the node receiving it stopped answering'::bytea"
			      " WHERE u.id = $1::bigint AND u.state = 'receiving' AND u.node <> $2"
			      " AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node = u.node AND n.seen_at > "
			      PG_NOW " - " GW_STR(STORE_NODE_GONE_MS) ") RETURNING u.account_id"
			    : "SELECT u.account_id, " PG_NOW " - COALESCE(max(n.seen_at), 0)"
			      " FROM uploads u LEFT JOIN nodes n ON n.node = u.node"
			      " WHERE u.id = $1::bigint AND u.state = 'receiving' AND u.node <> $2"
			      " GROUP BY u.account_id",
		   &a, &res, "cannot take over an upload of a node that is gone");
	if (r < 0)
		return r;
	r = PQntuples(res) == 1;
	if (r)
		*account_id = pg_i64(res, 0, 0);
	if (r && !take) {
		/* how long since its node's last heartbeat */
		int64_t silent = pg_i64(res, 0, 1);

		r = silent > STORE_NODE_GONE_MS ? 1 : silent > STORE_NODE_ALIVE_MS ? 2 : 3;
	}
	PQclear(res);
	return r;
}

/* What the account's quota leaves, on connection c. With lock, the
 * account's row is locked first, in a statement of its own, until the
 * transaction ends: under READ COMMITTED the sum that follows then sees
 * every hold committed before the lock was granted (one statement would
 * read them as of its start, before its wait for the lock). */
static int room_on(struct store *st, struct pg_conn *c, int64_t account_id, int64_t own,
		   bool lock, uint64_t *room)
{
	struct pg_args a = { 0 }, l = { 0 };
	PGresult *res = NULL;
	int r;

	*room = UINT64_MAX;
	pg_arg_i64(&l, account_id);
	if (lock && (r = pg_exec(st, c, "SELECT 1 FROM accounts WHERE id = $1::bigint FOR UPDATE",
				 &l, NULL, "cannot lock the account's quota")) < 0)
		return r;
	pg_arg_i64(&a, account_id);
	pg_arg_i64(&a, own);
	/* the sum only for an account with a quota */
	r = pg_exec(st, c, "SELECT quota_bytes, CASE WHEN quota_bytes IS NULL THEN 0 ELSE"
			   " (SELECT " PG_HELD_BYTES " FROM uploads WHERE account_id = $1::bigint"
			   "  AND id != $2::bigint AND purged_at IS NULL) END"
			   " FROM accounts WHERE id = $1::bigint",
		    &a, &res, "cannot read the account's quota");
	if (r < 0)
		return r;
	if (PQntuples(res) == 1 && !pg_null(res, 0, 0)) {
		int64_t quota = pg_i64(res, 0, 0), used = pg_i64(res, 0, 1);

		*room = quota > used ? (uint64_t)(quota - used) : 0;
	}
	PQclear(res);
	return 0;
}

static int quota_room(struct store *st, int64_t account_id, int64_t own, uint64_t *room)
{
	struct pg_conn *c;
	int r = pg_take(st, &c);

	if (r < 0)
		return r;
	r = room_on(st, c, account_id, own, false, room);
	pg_give(st, c, r < 0);
	return r;
}

static int quota_hold(struct store *st, int64_t id, int64_t account_id, uint64_t need,
		      uint64_t *held)
{
	struct pg_args a = { 0 };
	struct pg_conn *c;
	uint64_t room = UINT64_MAX, want;
	int r = pg_take(st, &c);

	if (r < 0)
		return r;
	r = pg_exec(st, c, "BEGIN", NULL, NULL, "cannot begin");
	if (r == 0)
		r = room_on(st, c, account_id, id, true, &room);
	if (r < 0 || room == UINT64_MAX) /* no quota (any more) */
		goto out;
	if (need > room) {
		r = -EDQUOT;
		goto out;
	}
	want = store_quota_hold(room, need);
	pg_arg_i64(&a, (int64_t)want);
	pg_arg_i64(&a, id);
	r = pg_exec(st, c, "UPDATE uploads SET reserved_bytes = $1::bigint WHERE id = $2::bigint",
		    &a, NULL, "cannot hold quota for an upload");
	room = want;
out:
	if (r == 0)
		r = pg_exec(st, c, "COMMIT", NULL, NULL, "cannot hold quota for an upload");
	pg_give(st, c, true); /* ROLLBACK when still in the transaction */
	if (r == 0)
		*held = room;
	return r;
}

static int upload_candidates(struct store *st, int64_t account_id, const char *path,
			     struct store_view_candidate *c, unsigned max, unsigned *n)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	*n = 0;
	pg_arg_i64(&a, account_id);
	pg_arg_bytes(&a, path);
	pg_arg_i64(&a, max);
	r = pg_run(st, "SELECT id, state, size, sha256 FROM uploads WHERE account_id = $1::bigint"
		       " AND path = $2::bytea AND purged_at IS NULL ORDER BY id DESC LIMIT $3::bigint",
		   &a, &res, "cannot read the uploads of a path");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && i < (int)max; i++) {
		struct store_view_candidate *v = &c[i];

		v->id = pg_i64(res, i, 0);
		pg_text(res, i, 1, v->state, sizeof(v->state));
		v->size = pg_null(res, i, 2) ? -1 : pg_i64(res, i, 2);
		pg_text(res, i, 3, v->sha256, sizeof(v->sha256));
	}
	*n = (unsigned)i;
	PQclear(res);
	return 0;
}

static int upload_set_client_mtime(struct store *st, int64_t id, int64_t mtime_ms, int64_t now_ms)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, mtime_ms);
	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, id);
	return write_one(st, "UPDATE uploads SET client_modified_at = $1::bigint,"
			     " updated_at = $2::bigint WHERE id = $3::bigint", &a,
			 "cannot record the file's time", NULL);
}

static int upload_retry(struct store *st, int64_t id, int64_t now_ms, bool *changed)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, id);
	return write_one(st, "UPDATE uploads SET state = 'verified', error = NULL,"
			     " updated_at = $1::bigint, attempts = 0, next_attempt_at = NULL"
			     " WHERE id = $2::bigint AND state = 'failed' AND purged_at IS NULL",
			 &a, "cannot queue the import again", changed);
}

static int upload_mark_purged(struct store *st, int64_t id, int64_t now_ms, bool *changed)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, id);
	return write_one(st, "UPDATE uploads SET purged_at = $1::bigint, updated_at = $1::bigint"
			     " WHERE id = $2::bigint AND purged_at IS NULL"
			     " AND state NOT IN ('receiving', 'verifying', 'importing')",
			 &a, "cannot record the purge", changed);
}

static int upload_counts(struct store *st, int64_t counts[STORE_STATES])
{
	PGresult *res = NULL;
	int r, rows, i;
	size_t k;

	memset(counts, 0, STORE_STATES * sizeof(counts[0]));
	r = pg_run(st, "SELECT state, count(*) FROM uploads WHERE purged_at IS NULL GROUP BY state",
		   NULL, &res, "cannot count uploads");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows; i++)
		for (k = 0; k < STORE_STATES; k++)
			if (!strcmp(store_upload_state_name(k), PQgetvalue(res, i, 0)))
				counts[k] = pg_i64(res, i, 1);
	PQclear(res);
	return 0;
}

static int upload_set_key(struct store *st, int64_t id, int64_t key_id)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, key_id);
	pg_arg_i64(&a, id);
	return write_one(st, "UPDATE uploads SET key_id = $1::bigint WHERE id = $2::bigint", &a,
			 "cannot record the upload's key", NULL);
}

/* At start: this node's uploads that were receiving when it stopped. */
static int recover(struct store *st, store_bytes_size_fn *size_of, unsigned *n)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	*n = 0;
	pg_arg_text(&a, st->node);
	r = pg_run(st, "SELECT id, account_id FROM uploads WHERE state = 'receiving' AND node = $1",
		   &a, &res, "cannot find interrupted uploads");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && r == 0; i++) {
		struct pg_args b = { 0 };
		int64_t id = pg_i64(res, i, 0);
		uint64_t size = 0;
		bool has_file = size_of(st, id, &size) == 0;

		pg_arg_i64(&b, (int64_t)size);
		pg_arg_i64(&b, id);
		pg_arg_bool(&b, has_file);
		r = write_one(st, "UPDATE uploads SET state = 'partial', bytes_received = $1::bigint,"
				  " reserved_bytes = 0, error = CASE WHEN $3::boolean THEN"
				  " 'transfer interrupted: the gateway stopped'::bytea ELSE 'transfer"
				  " interrupted before its file was created: the gateway stopped'::bytea END"
				  " WHERE id = $2::bigint AND state = 'receiving'",
			      &b, "cannot recover upload", NULL);
		if (r == 0) {
			store_emit(st, "upload", id, pg_i64(res, i, 1), "partial");
			(*n)++;
		}
	}
	PQclear(res);
	return r;
}

/* ---------------------------------------------------------------- import work */

static int work_claim(struct store *st, bool import, int64_t now_ms, struct store_work *w)
{
	/* the next due piece, or one whose holder's lease ended (or that
	 * has none: work moved from another records store) */
	static const char verify_sql[] =
		"UPDATE uploads SET state = 'verifying', updated_at = $1::bigint, lease_owner = $2,"
		" lease_until = " PG_NOW " + $3::bigint WHERE id ="
		" (SELECT id FROM uploads WHERE purged_at IS NULL AND (state = 'received'"
		"  OR (state = 'verifying' AND COALESCE(lease_until, 0) < " PG_NOW "))"
		"  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
		" RETURNING id, account_id, path, size, key_id, sha256, attempts";
	static const char import_sql[] =
		"UPDATE uploads SET state = 'importing', attempts = attempts + 1,"
		" updated_at = $1::bigint, lease_owner = $2, lease_until = " PG_NOW " + $3::bigint"
		" WHERE id = (SELECT id FROM uploads WHERE purged_at IS NULL AND"
		"  ((state = 'verified' AND COALESCE(next_attempt_at, 0) <= $1::bigint)"
		"  OR (state = 'importing' AND COALESCE(lease_until, 0) < " PG_NOW "))"
		"  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
		" RETURNING id, account_id, path, size, key_id, sha256, attempts";
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, found = 0;

	pg_arg_i64(&a, now_ms);
	pg_arg_text(&a, st->lease_owner);
	pg_arg_i64(&a, st->lease_ms);
	r = pg_run(st, import ? import_sql : verify_sql, &a, &res, "cannot claim import work");
	if (r < 0)
		return r;
	if (PQntuples(res) == 1) {
		memset(w, 0, sizeof(*w));
		w->id = pg_i64(res, 0, 0);
		w->account_id = pg_i64(res, 0, 1);
		pg_bytes(res, 0, 2, w->path, sizeof(w->path));
		w->size = pg_i64(res, 0, 3);
		w->key_id = pg_i64(res, 0, 4);
		pg_text(res, 0, 5, w->sha256, sizeof(w->sha256));
		w->attempts = (int)pg_i64(res, 0, 6);
		found = 1;
	}
	PQclear(res);
	return found;
}

/* At start: this node's earlier process held these; nobody else can
 * until their leases end, so they go back in the queue now. */
static int work_requeue(struct store *st)
{
	struct pg_args a = { 0 };
	char prefix[STORE_NODE_MAX + 2];

	snprintf(prefix, sizeof(prefix), "%s/", st->node);
	pg_arg_text(&a, prefix);
	pg_arg_text(&a, st->lease_owner);
	return write_one(st, "UPDATE uploads SET state = CASE state WHEN 'verifying' THEN"
			     " 'received' ELSE 'verified' END, lease_owner = NULL, lease_until = NULL"
			     " WHERE state IN ('verifying', 'importing')"
			     " AND starts_with(lease_owner, $1) AND lease_owner != $2",
			 &a, "cannot put interrupted work back in the queue", NULL);
}

static int work_renew(struct store *st, int64_t id)
{
	struct pg_args a = { 0 };
	bool changed = false;
	int r;

	pg_arg_i64(&a, st->lease_ms);
	pg_arg_i64(&a, id);
	pg_arg_text(&a, st->lease_owner);
	r = write_one(st, "UPDATE uploads SET lease_until = " PG_NOW " + $1::bigint"
			  " WHERE id = $2::bigint AND lease_owner = $3"
			  " AND state IN ('verifying', 'importing')",
		      &a, "cannot renew the lease on import work", &changed);
	return r < 0 ? r : changed ? 0 : -ESTALE;
}

static int work_set(struct store *st, int64_t id, const struct store_work_state *s,
		    int64_t now_ms, bool again)
{
	struct pg_args a = { 0 };
	bool changed = false;
	int r;

	pg_arg_text(&a, s->state);
	pg_arg_bytes(&a, s->error);
	pg_arg_i64_or_null(&a, s->next_attempt_ms, s->next_attempt_ms != 0);
	pg_arg_i64(&a, now_ms);
	pg_arg_bool(&a, s->hook);
	pg_arg_i64(&a, s->hook_exit);
	pg_arg_bytes(&a, s->hook_output ? s->hook_output : "");
	pg_arg_i64(&a, id);
	pg_arg_text(&a, st->lease_owner);
	r = write_one(st, "UPDATE uploads SET state = $1, error = $2::bytea, next_attempt_at = $3::bigint,"
			  " updated_at = $4::bigint,"
			  " hook_exit = CASE WHEN $5::boolean THEN $6::int ELSE hook_exit END,"
			  " hook_output = CASE WHEN $5::boolean THEN $7::bytea ELSE hook_output END,"
			  " lease_owner = NULL, lease_until = NULL"
			  " WHERE id = $8::bigint AND lease_owner = $9",
		      &a, again ? "cannot record the import state (again)"
				: "cannot record the import state", &changed);
	if (r < 0)
		return again ? -EAGAIN : r;
	return changed ? 0 : -ESTALE; /* the lease ended: another node has it now */
}

static int work_expired(struct store *st, int64_t cutoff_ms, int64_t *ids, unsigned max,
			unsigned *n, unsigned *dropped)
{
	struct pg_args a = { 0 }, b = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	*n = *dropped = 0;
	pg_arg_i64(&a, cutoff_ms);
	pg_arg_i64(&a, max);
	r = pg_run(st, "SELECT id FROM uploads WHERE state = 'imported' AND purged_at IS NULL"
		       " AND completed_at < $1::bigint LIMIT $2::bigint", &a, &res,
		   "cannot find expired uploads");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && *n < max; i++)
		ids[(*n)++] = pg_i64(res, i, 0);
	PQclear(res);
	res = NULL;
	pg_arg_i64(&b, cutoff_ms);
	if (pg_run(st, "DELETE FROM uploads WHERE purged_at IS NOT NULL AND purged_at < $1::bigint",
		   &b, &res, "cannot drop old tombstones") == 0)
		*dropped = (unsigned)pg_changes(res);
	PQclear(res);
	return 0;
}

static int open_pg(struct store *st, const char *data_dir, char *err, size_t err_size)
{
	(void)data_dir;
	return store_pg_open(st, st->db_url, err, err_size);
}

const struct store_records_ops store_records_pg = {
	.name = "postgresql",
	.open = open_pg,
	.close = store_pg_close,
	.account_get = store_pg_account_get,
	.account_find = store_pg_account_find,
	.account_insert = store_pg_account_insert,
	.account_remove = store_pg_account_remove,
	.account_list = store_pg_account_list,
	.account_update = store_pg_account_update,
	.account_delete = store_pg_account_delete,
	.account_set_password = store_pg_account_set_password,
	.key_insert = store_pg_key_insert,
	.key_get = store_pg_key_get,
	.key_list = store_pg_key_list,
	.key_revoke = store_pg_key_revoke,
	.key_sealed = store_pg_key_sealed,
	.token_by_hash = store_pg_token_by_hash,
	.token_touch = store_pg_token_touch,
	.token_exists = store_pg_token_exists,
	.token_put = store_pg_token_put,
	.token_get = store_pg_token_get,
	.token_list = store_pg_token_list,
	.token_revoke = store_pg_token_revoke,
	.audit_insert = store_pg_audit_insert,
	.audit_list = store_pg_audit_list,
	.upload_get = upload_get,
	.upload_list = upload_list,
	.upload_insert = upload_insert,
	.upload_end = upload_end,
	.upload_claim_partial = upload_claim_partial,
	.quota_room = quota_room,
	.quota_hold = quota_hold,
	.upload_candidates = upload_candidates,
	.upload_set_client_mtime = upload_set_client_mtime,
	.upload_retry = upload_retry,
	.upload_mark_purged = upload_mark_purged,
	.upload_counts = upload_counts,
	.upload_set_key = upload_set_key,
	.recover = recover,
	.object_begun = store_pg_object_begun,
	.object_part = store_pg_object_part,
	.object_load = store_pg_object_load,
	.object_trim = store_pg_object_trim,
	.upload_orphaned = upload_orphaned,
	.object_state = store_pg_object_state,
	.nodes_list = store_pg_nodes_list,
	.node_drain = store_pg_node_drain,
	.work_claim = work_claim,
	.work_requeue = work_requeue,
	.work_renew = work_renew,
	.work_set = work_set,
	.work_expired = work_expired,
	.webhook_insert = store_pg_webhook_insert,
	.webhook_get = store_pg_webhook_get,
	.webhook_list = store_pg_webhook_list,
	.webhook_delete = store_pg_webhook_delete,
	.webhook_sealed = store_pg_webhook_sealed,
	.hook_events_after = store_pg_hook_events_after,
	.delivery_add = store_pg_delivery_add,
	.delivery_claim = store_pg_delivery_claim,
	.delivery_set = store_pg_delivery_set,
	.delivery_get = store_pg_delivery_get,
	.delivery_list = store_pg_delivery_list,
	.webhook_prune = store_pg_webhook_prune,
};
