/* records_sqlite_webhooks.c - webhooks, the events the triggers of
 * migration 10 write, and their deliveries in SQLite: that part of the
 * records contract (store_records.h). One connection, used under st->lock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "records_sqlite.h"
#include "store_int.h"

#define WEBHOOK_COLUMNS                                                                    \
	"w.id, w.url, w.events, w.created_at, w.cursor,"                                   \
	" (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id"            \
	"   AND d.state = 'pending'),"                                                     \
	" (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id"            \
	"   AND d.state = 'dead')"

static void row_to_webhook(sqlite3_stmt *q, struct store_webhook *w)
{
	memset(w, 0, sizeof(*w));
	w->id = sqlite3_column_int64(q, 0);
	store_sqlite_text(q, 1, w->url, sizeof(w->url));
	store_sqlite_text(q, 2, w->events, sizeof(w->events));
	w->created_at_ms = sqlite3_column_int64(q, 3);
	w->cursor = sqlite3_column_int64(q, 4);
	w->pending = sqlite3_column_int64(q, 5);
	w->dead = sqlite3_column_int64(q, 6);
}

#define DELIVERY_COLUMNS                                                                   \
	"d.webhook_id, d.event_id, e.type, e.at, e.account_id, coalesce(e.upload_id, 0),"  \
	" e.error, d.state, d.attempts, d.next_at, coalesce(d.first_at, 0),"               \
	" coalesce(d.delivered_at, 0), coalesce(d.last_status, 0), d.last_error, w.url"
#define DELIVERY_FROM                                                                      \
	" FROM webhook_deliveries d JOIN hook_events e ON e.id = d.event_id"               \
	" JOIN webhooks w ON w.id = d.webhook_id"

static void row_to_delivery(sqlite3_stmt *q, struct store_delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->webhook_id = sqlite3_column_int64(q, 0);
	d->event_id = sqlite3_column_int64(q, 1);
	store_sqlite_text(q, 2, d->type, sizeof(d->type));
	d->event_at_ms = sqlite3_column_int64(q, 3);
	d->account_id = sqlite3_column_int64(q, 4);
	d->upload_id = sqlite3_column_int64(q, 5);
	store_sqlite_text(q, 6, d->error, sizeof(d->error));
	store_sqlite_text(q, 7, d->state, sizeof(d->state));
	d->attempts = (unsigned)sqlite3_column_int(q, 8);
	d->next_at_ms = sqlite3_column_int64(q, 9);
	d->first_at_ms = sqlite3_column_int64(q, 10);
	d->delivered_at_ms = sqlite3_column_int64(q, 11);
	d->last_status = sqlite3_column_int(q, 12);
	store_sqlite_text(q, 13, d->last_error, sizeof(d->last_error));
	store_sqlite_text(q, 14, d->url, sizeof(d->url));
}

int store_sqlite_webhook_insert(struct store *st, const char *url, const char *events,
				const uint8_t sealed[STORE_KEY_SEALED_LEN], int64_t now_ms, int64_t *id)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "INSERT INTO webhooks(url, events, secret_sealed, created_at, cursor)"
			      " SELECT ?1, ?2, ?3, ?4, coalesce(max(id), 0) FROM hook_events"
			      " WHERE (SELECT count(*) FROM webhooks WHERE deleted_at IS NULL) < ?5", &q);
	if (r == 0) {
		sqlite3_bind_text(q, 1, url, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 2, events, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(q, 3, sealed, STORE_KEY_SEALED_LEN, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 4, now_ms);
		sqlite3_bind_int(q, 5, GW_WEBHOOKS_MAX);
		if (sqlite3_step(q) != SQLITE_DONE)
			r = store_db_error(st, "cannot store webhook");
		else if (sqlite3_changes(st->db) != 1)
			r = -E2BIG;
		else
			*id = sqlite3_last_insert_rowid(st->db);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_webhook_get(struct store *st, int64_t id, struct store_webhook *out)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " WEBHOOK_COLUMNS " FROM webhooks w WHERE w.id = ?"
			      " AND w.deleted_at IS NULL", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, id);
		switch (sqlite3_step(q)) {
		case SQLITE_ROW:
			row_to_webhook(q, out);
			break;
		case SQLITE_DONE:
			r = -ENOENT;
			break;
		default:
			r = store_db_error(st, "cannot read webhook");
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_webhook_list(struct store *st, int64_t after_id, unsigned max,
			      struct store_webhook *items, unsigned *n, bool *more)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r, rc = SQLITE_DONE;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " WEBHOOK_COLUMNS " FROM webhooks w WHERE w.id > ?"
			      " AND w.deleted_at IS NULL ORDER BY w.id LIMIT ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, after_id);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)max + 1);
		*more = false;
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			if (count == max) {
				*more = true;
				break;
			}
			row_to_webhook(q, &items[count++]);
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			r = store_db_error(st, "cannot list webhooks");
		*n = count;
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* One write with up to three integer parameters (those beyond the
 * statement's own are not bound); *changes (or NULL). */
static int write_ints(struct store *st, const char *sql, int64_t a, int64_t b, int64_t c,
		      const char *what, int *changes)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, sql, &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, a);
		sqlite3_bind_int64(q, 2, b);
		sqlite3_bind_int64(q, 3, c);
		if (sqlite3_step(q) != SQLITE_DONE)
			r = store_db_error(st, what);
		else if (changes)
			*changes = sqlite3_changes(st->db);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_webhook_delete(struct store *st, int64_t id, int64_t now_ms)
{
	int changes = 0;
	int r = write_ints(st, "UPDATE webhooks SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
			   id, now_ms, 0, "cannot delete webhook", &changes);

	return r < 0 ? r : changes ? 0 : -ENOENT;
}

int store_sqlite_webhook_sealed(struct store *st, int64_t id, uint8_t sealed[STORE_KEY_SEALED_LEN])
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT secret_sealed FROM webhooks WHERE id = ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, id);
		if (sqlite3_step(q) != SQLITE_ROW)
			r = -ENOENT;
		else if (sqlite3_column_bytes(q, 0) != STORE_KEY_SEALED_LEN)
			r = -EBADMSG;
		else
			memcpy(sealed, sqlite3_column_blob(q, 0), STORE_KEY_SEALED_LEN);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_hook_events_after(struct store *st, int64_t after_id, unsigned max,
				   struct store_delivery *items, unsigned *n)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r, rc = SQLITE_DONE;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT id, type, at, account_id, coalesce(upload_id, 0), error"
			      " FROM hook_events WHERE id > ? ORDER BY id LIMIT ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, after_id);
		sqlite3_bind_int64(q, 2, max);
		while (count < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
			struct store_delivery *d = &items[count++];

			memset(d, 0, sizeof(*d));
			d->event_id = sqlite3_column_int64(q, 0);
			store_sqlite_text(q, 1, d->type, sizeof(d->type));
			d->event_at_ms = sqlite3_column_int64(q, 2);
			d->account_id = sqlite3_column_int64(q, 3);
			d->upload_id = sqlite3_column_int64(q, 4);
			store_sqlite_text(q, 5, d->error, sizeof(d->error));
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			r = store_db_error(st, "cannot read events");
		*n = count;
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_delivery_add(struct store *st, int64_t webhook_id, const int64_t *event_ids,
			      const int64_t *upload_ids, unsigned n, int64_t cursor, int64_t now_ms)
{
	sqlite3_stmt *ins = NULL, *cur = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_exec(st, "BEGIN IMMEDIATE");
	if (r < 0)
		goto out;
	r = store_prepare(st, "INSERT OR IGNORE INTO webhook_deliveries(webhook_id, event_id, upload_id,"
			      " state, next_at) VALUES (?1, ?2, ?3, 'pending', ?4)", &ins);
	for (unsigned i = 0; r == 0 && i < n; i++) {
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, webhook_id);
		sqlite3_bind_int64(ins, 2, event_ids[i]);
		if (upload_ids[i])
			sqlite3_bind_int64(ins, 3, upload_ids[i]);
		else
			sqlite3_bind_null(ins, 3);
		sqlite3_bind_int64(ins, 4, now_ms);
		if (sqlite3_step(ins) != SQLITE_DONE)
			r = store_db_error(st, "cannot add webhook deliveries");
	}
	if (r == 0)
		r = store_prepare(st, "UPDATE webhooks SET cursor = ?2 WHERE id = ?1 AND cursor < ?2", &cur);
	if (r == 0) {
		sqlite3_bind_int64(cur, 1, webhook_id);
		sqlite3_bind_int64(cur, 2, cursor);
		if (sqlite3_step(cur) != SQLITE_DONE)
			r = store_db_error(st, "cannot move a webhook's cursor");
	}
	if (r == 0)
		r = store_exec(st, "COMMIT");
	if (r < 0)
		store_exec(st, "ROLLBACK");
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(cur);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_delivery_claim(struct store *st, int64_t now_ms, int64_t lease_ms, unsigned max,
				struct store_delivery *items, unsigned *n)
{
	sqlite3_stmt *q = NULL, *lease = NULL;
	unsigned count = 0;
	int r, rc = SQLITE_DONE;

	pthread_mutex_lock(&st->lock);
	r = store_exec(st, "BEGIN IMMEDIATE");
	if (r < 0)
		goto out;
	/* Due, not leased, of a webhook in use; and of an upload, only when
	 * no earlier event of it waits for the same webhook. */
	r = store_prepare(st, "SELECT " DELIVERY_COLUMNS DELIVERY_FROM
			      " WHERE d.state = 'pending' AND d.next_at <= ?1"
			      " AND (d.lease_until IS NULL OR d.lease_until < ?1)"
			      " AND w.deleted_at IS NULL"
			      " AND (d.upload_id IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p"
			      "  WHERE p.webhook_id = d.webhook_id AND p.upload_id = d.upload_id"
			      "  AND p.event_id < d.event_id AND p.state = 'pending'))"
			      " ORDER BY d.event_id LIMIT ?2", &q);
	if (r == 0)
		r = store_prepare(st, "UPDATE webhook_deliveries SET lease_until = ?3"
				      " WHERE webhook_id = ?1 AND event_id = ?2", &lease);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, now_ms);
		sqlite3_bind_int64(q, 2, max);
		while (count < max && (rc = sqlite3_step(q)) == SQLITE_ROW)
			row_to_delivery(q, &items[count++]);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			r = store_db_error(st, "cannot claim webhook deliveries");
	}
	for (unsigned i = 0; r == 0 && i < count; i++) {
		sqlite3_reset(lease);
		sqlite3_bind_int64(lease, 1, items[i].webhook_id);
		sqlite3_bind_int64(lease, 2, items[i].event_id);
		sqlite3_bind_int64(lease, 3, now_ms + lease_ms);
		if (sqlite3_step(lease) != SQLITE_DONE)
			r = store_db_error(st, "cannot claim webhook deliveries");
	}
	if (r == 0)
		r = store_exec(st, "COMMIT");
	if (r < 0)
		store_exec(st, "ROLLBACK");
	*n = r == 0 ? count : 0;
out:
	sqlite3_finalize(q);
	sqlite3_finalize(lease);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_delivery_set(struct store *st, const struct store_delivery *d)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE webhook_deliveries SET state = ?3, attempts = ?4, next_at = ?5,"
			      " first_at = nullif(?6, 0), delivered_at = nullif(?7, 0),"
			      " last_status = nullif(?8, 0), last_error = nullif(?9, ''), lease_until = NULL"
			      " WHERE webhook_id = ?1 AND event_id = ?2", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, d->webhook_id);
		sqlite3_bind_int64(q, 2, d->event_id);
		sqlite3_bind_text(q, 3, d->state, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(q, 4, (int)d->attempts);
		sqlite3_bind_int64(q, 5, d->next_at_ms);
		sqlite3_bind_int64(q, 6, d->first_at_ms);
		sqlite3_bind_int64(q, 7, d->delivered_at_ms);
		sqlite3_bind_int(q, 8, d->last_status);
		sqlite3_bind_text(q, 9, d->last_error, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(q) != SQLITE_DONE)
			r = store_db_error(st, "cannot record a webhook delivery");
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_delivery_get(struct store *st, int64_t webhook_id, int64_t event_id,
			      struct store_delivery *out)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " DELIVERY_COLUMNS DELIVERY_FROM
			      " WHERE d.webhook_id = ? AND d.event_id = ? AND w.deleted_at IS NULL", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, webhook_id);
		sqlite3_bind_int64(q, 2, event_id);
		switch (sqlite3_step(q)) {
		case SQLITE_ROW:
			row_to_delivery(q, out);
			break;
		case SQLITE_DONE:
			r = -ENOENT;
			break;
		default:
			r = store_db_error(st, "cannot read a webhook delivery");
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_delivery_list(struct store *st, int64_t webhook_id, const char *state,
			       int64_t before_event, unsigned max, struct store_delivery *items,
			       unsigned *n, bool *more)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r, rc = SQLITE_DONE;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " DELIVERY_COLUMNS DELIVERY_FROM
			      " WHERE d.webhook_id = ?1 AND (?2 IS NULL OR d.state = ?2)"
			      " AND (?3 = 0 OR d.event_id < ?3) ORDER BY d.event_id DESC LIMIT ?4", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, webhook_id);
		if (state)
			sqlite3_bind_text(q, 2, state, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 3, before_event);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)max + 1);
		*more = false;
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			if (count == max) {
				*more = true;
				break;
			}
			row_to_delivery(q, &items[count++]);
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			r = store_db_error(st, "cannot list webhook deliveries");
		*n = count;
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_webhook_prune(struct store *st, int64_t cutoff_ms)
{
	int r = write_ints(st, "DELETE FROM webhook_deliveries WHERE state = 'delivered'"
			       " AND delivered_at < ?1", cutoff_ms, 0, 0,
			   "cannot prune webhook deliveries", NULL);

	if (r == 0)
		r = write_ints(st, "DELETE FROM hook_events WHERE at < ?1 AND id <= (SELECT"
				   " coalesce(min(cursor), 9223372036854775807) FROM webhooks"
				   " WHERE deleted_at IS NULL) AND NOT EXISTS (SELECT 1 FROM"
				   " webhook_deliveries d WHERE d.event_id = hook_events.id)",
			       cutoff_ms, 0, 0, "cannot prune webhook events", NULL);
	return r;
}
