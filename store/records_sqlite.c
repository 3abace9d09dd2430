/* records_sqlite.c - upload records and import work in SQLite: the
 * records contract (store_records.h) for what store/uploads.c and
 * store/pipeline.c keep. One connection, used under st->lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "store_int.h"
#include "records_sqlite.h"

#define UPLOAD_COLUMNS "id, account_id, path, state, size, bytes_received, sha256," \
		       " client_address, started_at, completed_at, error, updated_at, purged_at," \
		       " key_id, attempts, hook_exit, hook_output, client_modified_at"

static void row_to_info(struct store *st, sqlite3_stmt *q, struct store_upload_info *u)
{
	/* every field is set below: no memset of the 5 KiB */
	u->id = sqlite3_column_int64(q, 0);
	u->account_id = sqlite3_column_int64(q, 1);
	store_sqlite_text(q, 2, u->path, sizeof(u->path));
	store_sqlite_text(q, 3, u->state, sizeof(u->state));
	u->size = sqlite3_column_type(q, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 4);
	u->bytes_received = sqlite3_column_int64(q, 5);
	store_sqlite_text(q, 6, u->sha256, sizeof(u->sha256));
	store_sqlite_text(q, 7, u->client_address, sizeof(u->client_address));
	u->started_at_ms = sqlite3_column_int64(q, 8);
	u->completed_at_ms = sqlite3_column_int64(q, 9);
	store_sqlite_text(q, 10, u->error, sizeof(u->error));
	u->updated_at_ms = sqlite3_column_type(q, 11) == SQLITE_NULL ? u->started_at_ms
								      : sqlite3_column_int64(q, 11);
	u->purged_at_ms = sqlite3_column_int64(q, 12);
	u->key_id = sqlite3_column_int64(q, 13);
	u->attempts = sqlite3_column_int(q, 14);
	u->hook_exit = sqlite3_column_type(q, 15) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 15);
	store_sqlite_text(q, 16, u->hook_output, sizeof(u->hook_output));
	u->client_modified_at_ms = sqlite3_column_int64(q, 17);
	gw_strlcpy(u->node, st->node, sizeof(u->node)); /* one node: this one */
}

static int upload_get(struct store *st, int64_t id, struct store_upload_info *out)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " UPLOAD_COLUMNS " FROM uploads WHERE id = ?", &q);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(q, 1, id);
	switch (sqlite3_step(q)) {
	case SQLITE_ROW:
		row_to_info(st, q, out);
		break;
	case SQLITE_DONE:
		r = -ENOENT;
		break;
	default:
		r = store_db_error(st, "cannot read upload");
	}
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int upload_list(struct store *st, const struct store_upload_filter *f, int64_t before_id,
		       unsigned max, struct store_upload_info *items, unsigned *n, bool *more)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r, rc;

	/* The filter that narrows most as a plain term, so that SQLite walks
	 * its index (account, id) or (state, id): "?1 = 0 OR ..." alone makes
	 * it walk every upload, newest first, until the page is full. */
#define UPLOAD_LIST(where)                                                                \
	"SELECT " UPLOAD_COLUMNS " FROM uploads WHERE " where " AND (?3 = 0 OR id < ?3)"  \
	" AND (?4 = 0 OR started_at >= ?4) AND (?5 = 0 OR started_at < ?5)"                \
	" ORDER BY id DESC LIMIT ?6"
	pthread_mutex_lock(&st->lock);
	r = store_prepare(st,
			  f->account_id ? UPLOAD_LIST("account_id = ?1 AND (?2 IS NULL OR state = ?2)")
			  : f->state    ? UPLOAD_LIST("?1 = 0 AND state = ?2")
					: UPLOAD_LIST("?1 = 0 AND ?2 IS NULL"),
			  &q);
#undef UPLOAD_LIST
	if (r < 0)
		goto out;
	sqlite3_bind_int64(q, 1, f->account_id);
	if (f->state)
		sqlite3_bind_text(q, 2, f->state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, before_id);
	sqlite3_bind_int64(q, 4, f->since_ms);
	sqlite3_bind_int64(q, 5, f->until_ms);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)max + 1);
	*more = false;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (count == max) {
			*more = true;
			break;
		}
		row_to_info(st, q, &items[count++]);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = store_db_error(st, "cannot list uploads");
		goto out;
	}
	*n = count;
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int upload_insert(struct store *st, int64_t account_id, const char *path,
			 const char *client_address, int64_t now_ms, int64_t *id)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "INSERT INTO uploads(account_id, path, state, client_address,"
			      " started_at, updated_at) VALUES (?1, ?2, 'receiving', ?3, ?4, ?4)", &q);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(q, 1, account_id);
	sqlite3_bind_text(q, 2, path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 3, client_address, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 4, now_ms);
	if (sqlite3_step(q) != SQLITE_DONE) {
		r = store_db_error(st, "cannot record upload");
		goto out;
	}
	*id = sqlite3_last_insert_rowid(st->db);
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int upload_end(struct store *st, const struct store_upload_end *e, int64_t now_ms,
		      bool late)
{
	sqlite3_stmt *q = NULL;
	int r, rc;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE uploads SET state = ?1, size = ?2, bytes_received = ?3,"
			      " sha256 = ?4, completed_at = ?5, error = ?6, updated_at = ?7,"
			      " key_id = COALESCE(?9, key_id), reserved_bytes = 0 WHERE id = ?8"
			      " AND (NOT ?10 OR state = 'receiving')", &q);
	if (r < 0)
		goto out;
	sqlite3_bind_text(q, 1, e->state, -1, SQLITE_TRANSIENT);
	if (e->sha256) {
		sqlite3_bind_int64(q, 2, (int64_t)e->bytes);
		sqlite3_bind_text(q, 4, e->sha256, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 5, now_ms);
	}
	sqlite3_bind_int64(q, 3, (int64_t)e->bytes);
	if (e->error && e->error[0])
		sqlite3_bind_text(q, 6, e->error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 7, now_ms);
	sqlite3_bind_int64(q, 8, e->id);
	if (e->key_id)
		sqlite3_bind_int64(q, 9, e->key_id);
	sqlite3_bind_int(q, 10, late);
	rc = late ? store_step_now(st, q) : sqlite3_step(q);
	if (rc != SQLITE_DONE)
		/* late: still refused, as logged when it first failed */
		r = late ? -EAGAIN : store_db_error(st, "cannot update upload");
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int upload_claim_partial(struct store *st, int64_t id, const char *client_address,
				int64_t now_ms, int64_t *account_id)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE uploads SET state = 'receiving', error = NULL,"
			      " client_address = ?1, updated_at = ?3 WHERE id = ?2"
			      " AND state = 'partial' AND purged_at IS NULL RETURNING account_id", &q);
	if (r == 0) {
		sqlite3_bind_text(q, 1, client_address, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 2, id);
		sqlite3_bind_int64(q, 3, now_ms);
		switch (sqlite3_step(q)) {
		case SQLITE_ROW:
			*account_id = sqlite3_column_int64(q, 0);
			break;
		case SQLITE_DONE:
			r = -EBUSY; /* not partial (any more): someone else has it */
			break;
		default:
			r = store_db_error(st, "cannot resume upload");
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int quota_room_locked(struct store *st, int64_t account_id, int64_t own, uint64_t *room)
{
	sqlite3_stmt *q = NULL;
	int r;

	*room = UINT64_MAX;
	/* the sum only for an account with a quota */
	r = store_prepare(st, "SELECT quota_bytes, CASE WHEN quota_bytes IS NULL THEN 0 ELSE"
			      " (SELECT " STORE_HELD_BYTES " FROM uploads WHERE account_id = ?1"
			      "  AND id != ?2 AND purged_at IS NULL) END"
			      " FROM accounts WHERE id = ?1", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, account_id);
		sqlite3_bind_int64(q, 2, own);
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
			int64_t quota = sqlite3_column_int64(q, 0), used = sqlite3_column_int64(q, 1);

			*room = quota > used ? (uint64_t)(quota - used) : 0;
		}
	}
	sqlite3_finalize(q);
	return r;
}

static int quota_room(struct store *st, int64_t account_id, int64_t own, uint64_t *room)
{
	int r;

	pthread_mutex_lock(&st->lock);
	r = quota_room_locked(st, account_id, own, room);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int quota_hold(struct store *st, int64_t id, int64_t account_id, uint64_t need,
		      uint64_t *held)
{
	sqlite3_stmt *q = NULL;
	uint64_t room = UINT64_MAX, want;
	int r;

	pthread_mutex_lock(&st->lock);
	r = quota_room_locked(st, account_id, id, &room);
	if (r < 0 || room == UINT64_MAX) /* no quota (any more) */
		goto out;
	if (need > room) {
		r = -EDQUOT;
		goto out;
	}
	want = store_quota_hold(room, need);
	r = store_prepare(st, "UPDATE uploads SET reserved_bytes = ? WHERE id = ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, (int64_t)want);
		sqlite3_bind_int64(q, 2, id);
		if (sqlite3_step(q) != SQLITE_DONE)
			r = store_db_error(st, "cannot hold quota for an upload");
		room = want;
	}
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	if (r == 0)
		*held = room;
	return r;
}

static int upload_orphaned(struct store *st, int64_t id, bool take, uint64_t kept, int64_t now_ms,
			   int64_t *account_id)
{
	(void)st, (void)id, (void)take, (void)kept, (void)now_ms;
	*account_id = 0;
	return 0; /* one node: what it was receiving, its next start recovers */
}

static int upload_candidates(struct store *st, int64_t account_id, const char *path,
			     struct store_view_candidate *c, unsigned max, unsigned *n)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT id, state, size, sha256 FROM uploads WHERE account_id = ?"
			      " AND path = ? AND purged_at IS NULL ORDER BY id DESC LIMIT ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, account_id);
		sqlite3_bind_text(q, 2, path, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 3, max);
		while (count < max && sqlite3_step(q) == SQLITE_ROW) {
			struct store_view_candidate *v = &c[count++];

			v->id = sqlite3_column_int64(q, 0);
			store_sqlite_text(q, 1, v->state, sizeof(v->state));
			v->size = sqlite3_column_type(q, 2) == SQLITE_NULL ? -1
									   : sqlite3_column_int64(q, 2);
			store_sqlite_text(q, 3, v->sha256, sizeof(v->sha256));
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	*n = count;
	return r;
}

static int upload_set_client_mtime(struct store *st, int64_t id, int64_t mtime_ms, int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE uploads SET client_modified_at = ?1, updated_at = ?2"
			      " WHERE id = ?3", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, mtime_ms);
		sqlite3_bind_int64(q, 2, now_ms);
		sqlite3_bind_int64(q, 3, id);
		if (sqlite3_step(q) != SQLITE_DONE)
			r = store_db_error(st, "cannot record the file's time");
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* One UPDATE of upload id that reports whether it changed the row. */
static int update_one(struct store *st, const char *sql, int64_t id, int64_t now_ms,
		      const char *what, bool *changed)
{
	sqlite3_stmt *q = NULL;
	int r;

	*changed = false;
	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, sql, &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, now_ms);
		sqlite3_bind_int64(q, 2, id);
		if (sqlite3_step(q) != SQLITE_DONE)
			r = store_db_error(st, what);
		else
			*changed = sqlite3_changes(st->db) > 0;
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int upload_retry(struct store *st, int64_t id, int64_t now_ms, bool *changed)
{
	/* Only a failed import can be queued again: it goes back to the
	 * state it had before its import. */
	return update_one(st, "UPDATE uploads SET state = 'verified', error = NULL, updated_at = ?1,"
			      " attempts = 0, next_attempt_at = NULL"
			      " WHERE id = ?2 AND state = 'failed' AND purged_at IS NULL",
			  id, now_ms, "cannot queue the import again", changed);
}

static int upload_mark_purged(struct store *st, int64_t id, int64_t now_ms, bool *changed)
{
	return update_one(st, "UPDATE uploads SET purged_at = ?1, updated_at = ?1 WHERE id = ?2"
			      " AND purged_at IS NULL"
			      " AND state NOT IN ('receiving', 'verifying', 'importing')",
			  id, now_ms, "cannot record the purge", changed);
}

/* One node: no heartbeats to list, no other node to drain. */
static int nodes_list(struct store *st, struct store_node *items, unsigned max, unsigned *n)
{
	(void)st;
	(void)items;
	(void)max;
	*n = 0;
	return 0;
}

static int node_drain(struct store *st, const char *node)
{
	(void)st;
	(void)node;
	return -ENOENT;
}

static int upload_counts(struct store *st, int64_t counts[STORE_STATES])
{
	sqlite3_stmt *q = NULL;
	int r;
	size_t i;

	memset(counts, 0, STORE_STATES * sizeof(counts[0]));
	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT state, count(*) FROM uploads WHERE purged_at IS NULL"
			      " GROUP BY state", &q);
	while (r == 0 && sqlite3_step(q) == SQLITE_ROW)
		for (i = 0; i < STORE_STATES; i++)
			if (!strcmp(store_upload_state_name(i), (const char *)sqlite3_column_text(q, 0)))
				counts[i] = sqlite3_column_int64(q, 1);
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int upload_set_key(struct store *st, int64_t id, int64_t key_id)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE uploads SET key_id = ? WHERE id = ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, key_id);
		sqlite3_bind_int64(q, 2, id);
		if (sqlite3_step(q) != SQLITE_DONE)
			r = store_db_error(st, "cannot record the upload's key");
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* Called at open, before any other thread uses the store. */
static int recover(struct store *st, store_bytes_size_fn *size_of, unsigned *n)
{
	sqlite3_stmt *sel = NULL, *upd = NULL;
	int r = -EIO;

	*n = 0;
	if (store_prepare(st, "SELECT id, account_id FROM uploads WHERE state = 'receiving'", &sel) < 0 ||
	    store_prepare(st, "UPDATE uploads SET state = 'partial', bytes_received = ?1,"
			      " error = CASE WHEN ?3 THEN 'transfer interrupted: the gateway stopped'"
			      " ELSE 'transfer interrupted before its file was created: the gateway"
			      " stopped' END WHERE id = ?2", &upd) < 0)
		goto out;
	while (sqlite3_step(sel) == SQLITE_ROW) {
		sqlite3_int64 id = sqlite3_column_int64(sel, 0);
		uint64_t size = 0;
		bool has_file = size_of(st, id, &size) == 0;

		sqlite3_bind_int64(upd, 1, (int64_t)size);
		sqlite3_bind_int64(upd, 2, id);
		sqlite3_bind_int(upd, 3, has_file);
		if (sqlite3_step(upd) != SQLITE_DONE) {
			store_db_error(st, "cannot recover upload");
			goto out;
		}
		sqlite3_reset(upd);
		store_emit(st, "upload", id, sqlite3_column_int64(sel, 1), "partial");
		(*n)++;
	}
	/* Nothing is receiving now: no room is held. */
	r = store_exec(st, "UPDATE uploads SET reserved_bytes = 0 WHERE reserved_bytes != 0");
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return r;
}

/* ---------------------------------------------------------------- import work */

static int work_claim(struct store *st, bool import, int64_t now_ms, struct store_work *w)
{
	static const char verify_sql[] =
		"UPDATE uploads SET state = 'verifying', updated_at = ?1 WHERE id ="
		" (SELECT id FROM uploads WHERE state = 'received' AND purged_at IS NULL"
		" ORDER BY id LIMIT 1)"
		" RETURNING id, account_id, path, size, key_id, sha256, attempts";
	static const char import_sql[] =
		"UPDATE uploads SET state = 'importing', attempts = attempts + 1,"
		" updated_at = ?1 WHERE id = (SELECT id FROM uploads WHERE state = 'verified'"
		" AND purged_at IS NULL AND COALESCE(next_attempt_at, 0) <= ?1"
		" ORDER BY id LIMIT 1)"
		" RETURNING id, account_id, path, size, key_id, sha256, attempts";
	sqlite3_stmt *q = NULL;
	int r, found = 0;

	/* a write, tried again at the next wake-up when another process
	 * holds the database's lock */
	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, import ? import_sql : verify_sql, &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, now_ms);
		if (store_step_now(st, q) == SQLITE_ROW) {
			memset(w, 0, sizeof(*w));
			w->id = sqlite3_column_int64(q, 0);
			w->account_id = sqlite3_column_int64(q, 1);
			store_sqlite_text(q, 2, w->path, sizeof(w->path));
			w->size = sqlite3_column_int64(q, 3);
			w->key_id = sqlite3_column_int64(q, 4);
			store_sqlite_text(q, 5, w->sha256, sizeof(w->sha256));
			w->attempts = sqlite3_column_int(q, 6);
			found = 1;
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r < 0 ? r : found;
}

static int work_requeue(struct store *st)
{
	return store_exec(st, "UPDATE uploads SET state = 'received' WHERE state = 'verifying';"
			      "UPDATE uploads SET state = 'verified' WHERE state = 'importing'");
}

static int work_renew(struct store *st, int64_t id)
{
	(void)st;
	(void)id;
	return 0; /* one process: its claims last until it ends */
}

static int work_set(struct store *st, int64_t id, const struct store_work_state *s,
		    int64_t now_ms, bool again)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE uploads SET state = ?1, error = ?2, next_attempt_at = ?3,"
			      " updated_at = ?4, hook_exit = CASE WHEN ?5 THEN ?6 ELSE hook_exit END,"
			      " hook_output = CASE WHEN ?5 THEN ?7 ELSE hook_output END WHERE id = ?8", &q);
	if (r == 0) {
		sqlite3_bind_text(q, 1, s->state, -1, SQLITE_TRANSIENT);
		if (s->error)
			sqlite3_bind_text(q, 2, s->error, -1, SQLITE_TRANSIENT);
		if (s->next_attempt_ms)
			sqlite3_bind_int64(q, 3, s->next_attempt_ms);
		sqlite3_bind_int64(q, 4, now_ms);
		sqlite3_bind_int(q, 5, s->hook);
		sqlite3_bind_int(q, 6, s->hook_exit);
		sqlite3_bind_text(q, 7, s->hook_output ? s->hook_output : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 8, id);
		if ((again ? store_step_now(st, q) : sqlite3_step(q)) != SQLITE_DONE)
			r = again ? -EAGAIN : store_db_error(st, "cannot record the import state");
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int work_expired(struct store *st, int64_t cutoff_ms, int64_t *ids, unsigned max,
			unsigned *n, unsigned *dropped)
{
	sqlite3_stmt *q = NULL;
	int r;

	*n = *dropped = 0;
	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT id FROM uploads WHERE state = 'imported' AND purged_at IS NULL"
			      " AND completed_at < ? LIMIT ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, cutoff_ms);
		sqlite3_bind_int64(q, 2, max);
		while (*n < max && sqlite3_step(q) == SQLITE_ROW)
			ids[(*n)++] = sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	q = NULL;
	if (store_prepare(st, "DELETE FROM uploads WHERE purged_at IS NOT NULL AND purged_at < ?",
			  &q) == 0) {
		sqlite3_bind_int64(q, 1, cutoff_ms);
		if (store_step_now(st, q) == SQLITE_DONE)
			*dropped = (unsigned)sqlite3_changes(st->db);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

const struct store_records_ops store_records_sqlite = {
	.name = "sqlite",
	.open = store_sqlite_open,
	.close = store_sqlite_close,
	.account_get = store_sqlite_account_get,
	.account_find = store_sqlite_account_find,
	.account_insert = store_sqlite_account_insert,
	.account_remove = store_sqlite_account_remove,
	.account_list = store_sqlite_account_list,
	.account_update = store_sqlite_account_update,
	.account_delete = store_sqlite_account_delete,
	.account_set_password = store_sqlite_account_set_password,
	.key_insert = store_sqlite_key_insert,
	.key_get = store_sqlite_key_get,
	.key_list = store_sqlite_key_list,
	.key_revoke = store_sqlite_key_revoke,
	.key_sealed = store_sqlite_key_sealed,
	.token_by_hash = store_sqlite_token_by_hash,
	.token_touch = store_sqlite_token_touch,
	.token_exists = store_sqlite_token_exists,
	.token_put = store_sqlite_token_put,
	.token_get = store_sqlite_token_get,
	.token_list = store_sqlite_token_list,
	.token_revoke = store_sqlite_token_revoke,
	.audit_insert = store_sqlite_audit_insert,
	.audit_list = store_sqlite_audit_list,
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
	.object_begun = store_sqlite_object_begun,
	.object_part = store_sqlite_object_part,
	.object_load = store_sqlite_object_load,
	.object_trim = store_sqlite_object_trim,
	.upload_orphaned = upload_orphaned,
	.object_state = store_sqlite_object_state,
	.nodes_list = nodes_list,
	.node_drain = node_drain,
	.work_claim = work_claim,
	.work_requeue = work_requeue,
	.work_renew = work_renew,
	.work_set = work_set,
	.work_expired = work_expired,
	.webhook_insert = store_sqlite_webhook_insert,
	.webhook_get = store_sqlite_webhook_get,
	.webhook_list = store_sqlite_webhook_list,
	.webhook_delete = store_sqlite_webhook_delete,
	.webhook_sealed = store_sqlite_webhook_sealed,
	.hook_events_after = store_sqlite_hook_events_after,
	.delivery_add = store_sqlite_delivery_add,
	.delivery_claim = store_sqlite_delivery_claim,
	.delivery_set = store_sqlite_delivery_set,
	.delivery_get = store_sqlite_delivery_get,
	.delivery_list = store_sqlite_delivery_list,
	.webhook_prune = store_sqlite_webhook_prune,
};
