/* records_pg_webhooks.c - webhooks, the events the triggers of migration 9
 * write, and their deliveries in PostgreSQL: that part of the records
 * contract (store_records.h), as records_sqlite_webhooks.c does it. Nodes
 * claim deliveries with a lease (FOR UPDATE SKIP LOCKED).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "records_pg.h"
#include "store_int.h"

#define WEBHOOK_COLUMNS                                                                    \
	"w.id, w.url, w.events, w.created_at, w.cursor,"                                   \
	" (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id"            \
	"   AND d.state = 'pending'),"                                                     \
	" (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id"            \
	"   AND d.state = 'dead')"

static void row_to_webhook(const PGresult *res, int i, struct store_webhook *w)
{
	memset(w, 0, sizeof(*w));
	w->id = pg_i64(res, i, 0);
	pg_text(res, i, 1, w->url, sizeof(w->url));
	pg_text(res, i, 2, w->events, sizeof(w->events));
	w->created_at_ms = pg_i64(res, i, 3);
	w->cursor = pg_i64(res, i, 4);
	w->pending = pg_i64(res, i, 5);
	w->dead = pg_i64(res, i, 6);
}

#define DELIVERY_COLUMNS                                                                   \
	"d.webhook_id, d.event_id, e.type, e.at, e.account_id, coalesce(e.upload_id, 0),"  \
	" e.error, d.state, d.attempts, d.next_at, coalesce(d.first_at, 0),"               \
	" coalesce(d.delivered_at, 0), coalesce(d.last_status, 0), d.last_error, w.url"
#define DELIVERY_FROM                                                                      \
	" FROM webhook_deliveries d JOIN hook_events e ON e.id = d.event_id"               \
	" JOIN webhooks w ON w.id = d.webhook_id"

static void row_to_delivery(const PGresult *res, int i, struct store_delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->webhook_id = pg_i64(res, i, 0);
	d->event_id = pg_i64(res, i, 1);
	pg_text(res, i, 2, d->type, sizeof(d->type));
	d->event_at_ms = pg_i64(res, i, 3);
	d->account_id = pg_i64(res, i, 4);
	d->upload_id = pg_i64(res, i, 5);
	pg_bytes(res, i, 6, d->error, sizeof(d->error));
	pg_text(res, i, 7, d->state, sizeof(d->state));
	d->attempts = (unsigned)pg_i64(res, i, 8);
	d->next_at_ms = pg_i64(res, i, 9);
	d->first_at_ms = pg_i64(res, i, 10);
	d->delivered_at_ms = pg_i64(res, i, 11);
	d->last_status = (int)pg_i64(res, i, 12);
	pg_bytes(res, i, 13, d->last_error, sizeof(d->last_error));
	pg_text(res, i, 14, d->url, sizeof(d->url));
}

int store_pg_webhook_insert(struct store *st, const char *url, const char *events,
			    const uint8_t sealed[STORE_KEY_SEALED_LEN], int64_t now_ms, int64_t *id)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pg_arg_text(&a, url);
	pg_arg_text(&a, events);
	pg_arg_blob(&a, sealed, STORE_KEY_SEALED_LEN);
	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, GW_WEBHOOKS_MAX);
	r = pg_run(st, "INSERT INTO webhooks(url, events, secret_sealed, created_at, cursor)"
		       " SELECT $1, $2, $3, $4::bigint, (SELECT coalesce(max(id), 0) FROM hook_events)"
		       " WHERE (SELECT count(*) FROM webhooks WHERE deleted_at IS NULL) < $5::bigint"
		       " RETURNING id", &a, &res, "cannot store webhook");
	if (r < 0)
		return r;
	if (PQntuples(res) != 1)
		r = -E2BIG;
	else
		*id = pg_i64(res, 0, 0);
	PQclear(res);
	return r;
}

int store_pg_webhook_get(struct store *st, int64_t id, struct store_webhook *out)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pg_arg_i64(&a, id);
	r = pg_run(st, "SELECT " WEBHOOK_COLUMNS " FROM webhooks w WHERE w.id = $1::bigint"
		       " AND w.deleted_at IS NULL", &a, &res, "cannot read webhook");
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		r = -ENOENT;
	else
		row_to_webhook(res, 0, out);
	PQclear(res);
	return r;
}

int store_pg_webhook_list(struct store *st, int64_t after_id, unsigned max,
			  struct store_webhook *items, unsigned *n, bool *more)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	pg_arg_i64(&a, after_id);
	pg_arg_i64(&a, (int64_t)max + 1);
	r = pg_run(st, "SELECT " WEBHOOK_COLUMNS " FROM webhooks w WHERE w.id > $1::bigint"
		       " AND w.deleted_at IS NULL ORDER BY w.id LIMIT $2::bigint", &a, &res,
		   "cannot list webhooks");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	*more = rows > (int)max;
	for (i = 0; i < rows && i < (int)max; i++)
		row_to_webhook(res, i, &items[i]);
	*n = (unsigned)i;
	PQclear(res);
	return 0;
}

int store_pg_webhook_delete(struct store *st, int64_t id, int64_t now_ms)
{
	struct pg_args a = { 0 };
	int64_t changes = 0;
	int r;

	pg_arg_i64(&a, id);
	pg_arg_i64(&a, now_ms);
	r = pg_write(st, "UPDATE webhooks SET deleted_at = $2::bigint WHERE id = $1::bigint"
			 " AND deleted_at IS NULL", &a, "cannot delete webhook", &changes);
	return r < 0 ? r : changes ? 0 : -ENOENT;
}

int store_pg_webhook_sealed(struct store *st, int64_t id, uint8_t sealed[STORE_KEY_SEALED_LEN])
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	size_t len = 0;
	unsigned char *raw;
	int r;

	pg_arg_i64(&a, id);
	r = pg_run(st, "SELECT secret_sealed FROM webhooks WHERE id = $1::bigint", &a, &res,
		   "cannot read webhook");
	if (r < 0)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &len);
	if (!raw || len != STORE_KEY_SEALED_LEN)
		r = -EBADMSG;
	else
		memcpy(sealed, raw, STORE_KEY_SEALED_LEN);
	PQfreemem(raw);
	PQclear(res);
	return r;
}

int store_pg_hook_events_after(struct store *st, int64_t after_id, unsigned max,
			       struct store_delivery *items, unsigned *n)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	pg_arg_i64(&a, after_id);
	pg_arg_i64(&a, max);
	r = pg_run(st, "SELECT id, type, at, account_id, coalesce(upload_id, 0), error"
		       " FROM hook_events WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint", &a,
		   &res, "cannot read events");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && i < (int)max; i++) {
		struct store_delivery *d = &items[i];

		memset(d, 0, sizeof(*d));
		d->event_id = pg_i64(res, i, 0);
		pg_text(res, i, 1, d->type, sizeof(d->type));
		d->event_at_ms = pg_i64(res, i, 2);
		d->account_id = pg_i64(res, i, 3);
		d->upload_id = pg_i64(res, i, 4);
		pg_bytes(res, i, 5, d->error, sizeof(d->error));
	}
	*n = (unsigned)i;
	PQclear(res);
	return 0;
}

/* ids as a PostgreSQL array literal: "{1,2,3}". */
static char *int_array(const int64_t *ids, unsigned n)
{
	size_t cap = 3 + (size_t)n * 21, used = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	s[used++] = '{';
	for (unsigned i = 0; i < n; i++)
		used += (size_t)snprintf(s + used, cap - used, "%s%lld", i ? "," : "",
					 (long long)ids[i]);
	s[used++] = '}';
	s[used] = '\0';
	return s;
}

int store_pg_delivery_add(struct store *st, int64_t webhook_id, const int64_t *event_ids,
			  const int64_t *upload_ids, unsigned n, int64_t cursor, int64_t now_ms)
{
	struct pg_args a = { 0 };
	char *events = int_array(event_ids, n), *uploads = int_array(upload_ids, n);
	int r = -ENOMEM;

	if (events && uploads) {
		pg_arg_i64(&a, webhook_id);
		pg_arg_text(&a, events);
		pg_arg_text(&a, uploads);
		pg_arg_i64(&a, now_ms);
		pg_arg_i64(&a, cursor);
		/* one statement: the deliveries and the cursor, or neither */
		r = pg_write(st, "WITH added AS (INSERT INTO webhook_deliveries(webhook_id, event_id,"
				 " upload_id, state, next_at) SELECT $1::bigint, e, nullif(u, 0),"
				 " 'pending', $4::bigint FROM unnest($2::bigint[], $3::bigint[]) AS t(e, u)"
				 " ON CONFLICT DO NOTHING)"
				 " UPDATE webhooks SET cursor = $5::bigint WHERE id = $1::bigint"
				 " AND cursor < $5::bigint", &a, "cannot add webhook deliveries", NULL);
	}
	free(events);
	free(uploads);
	return r;
}

int store_pg_delivery_claim(struct store *st, int64_t now_ms, int64_t lease_ms, unsigned max,
			    struct store_delivery *items, unsigned *n)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, max);
	pg_arg_i64(&a, now_ms + lease_ms);
	/* as SQLite's; a delivery another node holds is skipped, not waited for */
	r = pg_run(st, "WITH c AS (SELECT d.webhook_id, d.event_id FROM webhook_deliveries d"
		       " JOIN webhooks w ON w.id = d.webhook_id"
		       " WHERE d.state = 'pending' AND d.next_at <= $1::bigint"
		       " AND (d.lease_until IS NULL OR d.lease_until < $1::bigint)"
		       " AND w.deleted_at IS NULL"
		       " AND (d.upload_id IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p"
		       "  WHERE p.webhook_id = d.webhook_id AND p.upload_id = d.upload_id"
		       "  AND p.event_id < d.event_id AND p.state = 'pending'))"
		       " ORDER BY d.event_id LIMIT $2::bigint FOR UPDATE OF d SKIP LOCKED),"
		       " u AS (UPDATE webhook_deliveries x SET lease_until = $3::bigint FROM c"
		       "  WHERE x.webhook_id = c.webhook_id AND x.event_id = c.event_id"
		       "  RETURNING x.webhook_id, x.event_id)"
		       " SELECT " DELIVERY_COLUMNS DELIVERY_FROM
		       " JOIN u ON u.webhook_id = d.webhook_id AND u.event_id = d.event_id"
		       " ORDER BY d.event_id", &a, &res, "cannot claim webhook deliveries");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && i < (int)max; i++)
		row_to_delivery(res, i, &items[i]);
	*n = (unsigned)i;
	PQclear(res);
	return 0;
}

int store_pg_delivery_set(struct store *st, const struct store_delivery *d)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, d->webhook_id);
	pg_arg_i64(&a, d->event_id);
	pg_arg_text(&a, d->state);
	pg_arg_i64(&a, d->attempts);
	pg_arg_i64(&a, d->next_at_ms);
	pg_arg_i64_or_null(&a, d->first_at_ms, d->first_at_ms != 0);
	pg_arg_i64_or_null(&a, d->delivered_at_ms, d->delivered_at_ms != 0);
	pg_arg_i64_or_null(&a, d->last_status, d->last_status != 0);
	pg_arg_bytes(&a, d->last_error[0] ? d->last_error : NULL);
	return pg_write(st, "UPDATE webhook_deliveries SET state = $3, attempts = $4::integer,"
			    " next_at = $5::bigint, first_at = $6::bigint, delivered_at = $7::bigint,"
			    " last_status = $8::integer, last_error = $9, lease_until = NULL"
			    " WHERE webhook_id = $1::bigint AND event_id = $2::bigint",
			&a, "cannot record a webhook delivery", NULL);
}

int store_pg_delivery_get(struct store *st, int64_t webhook_id, int64_t event_id,
			  struct store_delivery *out)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pg_arg_i64(&a, webhook_id);
	pg_arg_i64(&a, event_id);
	r = pg_run(st, "SELECT " DELIVERY_COLUMNS DELIVERY_FROM " WHERE d.webhook_id = $1::bigint"
		       " AND d.event_id = $2::bigint AND w.deleted_at IS NULL", &a, &res,
		   "cannot read a webhook delivery");
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		r = -ENOENT;
	else
		row_to_delivery(res, 0, out);
	PQclear(res);
	return r;
}

int store_pg_delivery_list(struct store *st, int64_t webhook_id, const char *state,
			   int64_t before_event, unsigned max, struct store_delivery *items,
			   unsigned *n, bool *more)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	pg_arg_i64(&a, webhook_id);
	pg_arg_text(&a, state);
	pg_arg_i64(&a, before_event);
	pg_arg_i64(&a, (int64_t)max + 1);
	r = pg_run(st, "SELECT " DELIVERY_COLUMNS DELIVERY_FROM " WHERE d.webhook_id = $1::bigint"
		       " AND ($2::text IS NULL OR d.state = $2::text)"
		       " AND ($3::bigint = 0 OR d.event_id < $3::bigint)"
		       " ORDER BY d.event_id DESC LIMIT $4::bigint", &a, &res,
		   "cannot list webhook deliveries");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	*more = rows > (int)max;
	for (i = 0; i < rows && i < (int)max; i++)
		row_to_delivery(res, i, &items[i]);
	*n = (unsigned)i;
	PQclear(res);
	return 0;
}

int store_pg_webhook_prune(struct store *st, int64_t cutoff_ms)
{
	struct pg_args a = { 0 };
	int r;

	pg_arg_i64(&a, cutoff_ms);
	r = pg_write(st, "DELETE FROM webhook_deliveries WHERE state = 'delivered'"
			 " AND delivered_at < $1::bigint", &a, "cannot prune webhook deliveries", NULL);
	if (r == 0)
		r = pg_write(st, "DELETE FROM hook_events h WHERE at < $1::bigint AND id <= (SELECT"
				 " coalesce(min(cursor), 9223372036854775807) FROM webhooks"
				 " WHERE deleted_at IS NULL) AND NOT EXISTS (SELECT 1 FROM"
				 " webhook_deliveries d WHERE d.event_id = h.id)", &a,
			     "cannot prune webhook events", NULL);
	return r;
}
