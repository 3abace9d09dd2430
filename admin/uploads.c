/* uploads.c - uploads: list with filters, read, retry an import, purge; the
 * event stream; the one serializer of an upload.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

/* The one serializer of an upload: JSON text, written straight into a
 * page of the list (the API's busiest); a single upload is the same text
 * read back as an object. */
static void upload_text(struct gw_buf *b, const struct store_upload_info *u)
{
	gw_buf_adds(b, "{\"id\":");
	gw_buf_add_int(b, u->id);
	gw_buf_adds(b, ",\"account_id\":");
	gw_buf_add_int(b, u->account_id);
	gw_buf_adds(b, ",\"path\":");
	admin_text_str(b, u->path);
	gw_buf_adds(b, ",\"state\":");
	admin_text_str(b, u->state);
	gw_buf_adds(b, ",\"size\":");
	admin_text_int_or_null(b, u->size >= 0, u->size);
	gw_buf_adds(b, ",\"bytes_received\":");
	gw_buf_add_int(b, u->bytes_received);
	gw_buf_adds(b, ",\"sha256\":");
	admin_text_str_or_null(b, u->sha256);
	gw_buf_adds(b, ",\"client_address\":");
	admin_text_str(b, u->client_address);
	gw_buf_adds(b, ",\"node\":");
	admin_text_str(b, u->node);
	gw_buf_adds(b, ",\"started_at\":");
	admin_text_time(b, u->started_at_ms);
	gw_buf_adds(b, ",\"completed_at\":");
	admin_text_time(b, u->completed_at_ms);
	gw_buf_adds(b, ",\"updated_at\":");
	admin_text_time(b, u->updated_at_ms);
	gw_buf_adds(b, ",\"purged_at\":");
	admin_text_time(b, u->purged_at_ms);
	gw_buf_adds(b, ",\"error\":");
	admin_text_str_or_null(b, u->error);
	gw_buf_adds(b, ",\"client_modified_at\":");
	admin_text_time(b, u->client_modified_at_ms);
	gw_buf_adds(b, ",\"import\":{\"key_id\":");
	admin_text_int_or_null(b, u->key_id != 0, u->key_id);
	gw_buf_adds(b, ",\"attempts\":");
	gw_buf_add_int(b, u->attempts);
	gw_buf_adds(b, ",\"hook_exit\":");
	admin_text_int_or_null(b, u->hook_exit >= 0 || u->attempts, u->hook_exit);
	gw_buf_adds(b, ",\"hook_output\":");
	admin_text_str_or_null(b, u->hook_output);
	gw_buf_adds(b, "}}");
}

json_t *admin_upload_json(const struct store_upload_info *u)
{
	struct gw_buf b;
	json_t *o;

	gw_buf_init(&b, 256 * 1024); /* 6 bytes a character at most, all fields at most */
	upload_text(&b, u);
	o = b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
	gw_buf_release(&b);
	return o;
}

static int fetch_uploads(struct ctx *x, const void *filter, int64_t cursor, unsigned limit,
			 void *items, unsigned *n, bool *more)
{
	return store_upload_list(x->store, filter, cursor, limit, items, n, more);
}

static int64_t upload_id(const void *u)
{
	return ((const struct store_upload_info *)u)->id;
}

static void upload_item_text(struct gw_buf *b, const void *u)
{
	upload_text(b, u);
}

struct reply admin_list_uploads(struct ctx *x)
{
	static const struct admin_lister l = { "uploads", sizeof(struct store_upload_info), fetch_uploads,
					 NULL, upload_id, upload_item_text };
	struct store_upload_filter f;
	uint64_t account;
	struct reply err;

	memset(&f, 0, sizeof(f));
	if (admin_query_int(x, "account_id", 1, INT64_MAX, 0, &account) < 0)
		return admin_problem(400, "invalid account_id: expected an account id");
	f.account_id = (int64_t)account;
	f.state = admin_query(x, "state");
	if (f.state && !store_upload_state_is_valid(f.state))
		return admin_problem(400, "invalid state '%.32s'", f.state);
	if (admin_query_time(x, "since", &f.since_ms, &err) < 0 ||
	    admin_query_time(x, "until", &f.until_ms, &err) < 0)
		return err;
	return admin_list_with(x, &l, &f);
}

static struct reply upload_reply(struct ctx *x, int rc, const struct store_upload_info *u)
{
	json_t *json;

	if (rc == -ENOENT)
		return admin_problem(404, "no upload with id %lld", (long long)x->ids[0]);
	if (rc < 0)
		return admin_problem(500, "cannot read the upload");
	json = admin_upload_json(u);
	return json ? admin_ok(200, json) : admin_problem(500, "out of memory");
}

struct reply admin_get_upload(struct ctx *x)
{
	struct store_upload_info u;

	return upload_reply(x, store_upload_get(x->store, x->ids[0], &u), &u);
}

struct reply admin_retry_upload(struct ctx *x)
{
	struct store_upload_info u;
	struct reply err;
	int rc;

	if (admin_no_fields(x, &err) < 0)
		return err;
	rc = store_upload_retry(x->store, x->ids[0], &u);

	if (rc == -EPERM)
		return admin_problem(409, "upload %lld is %s: only a failed import can be retried",
				     (long long)u.id, u.state);
	if (rc == 0) {
		x->audit_account = u.account_id;
		snprintf(x->detail, sizeof(x->detail), "upload %lld queued again", (long long)u.id);
	}
	return upload_reply(x, rc, &u);
}

struct reply admin_purge_upload(struct ctx *x)
{
	struct store_upload_info u;
	struct reply err;
	int rc;

	if (admin_no_fields(x, &err) < 0)
		return err;
	rc = store_upload_purge(x->store, x->ids[0], &u);

	if (rc == -EBUSY)
		return admin_problem(409, "upload %lld is %s: purge it once that has ended (an"
				     " import that fails can be purged once it is 'failed')",
				     (long long)u.id, u.state);
	if (rc == 0) {
		x->audit_account = u.account_id;
		snprintf(x->detail, sizeof(x->detail), "upload %lld (%.150s) purged; record kept",
			 (long long)u.id, u.path);
	}
	return upload_reply(x, rc, &u);
}

struct reply admin_get_events(struct ctx *x)
{
	const char *last = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "Last-Event-ID");
	uint64_t after = 0, account = 0;

	if (last && gw_parse_u64(last, 0, UINT64_MAX, &after) < 0)
		return admin_problem(400, "invalid Last-Event-ID");
	if (!last)
		after = store_events_last(x->store); /* from now on */
	if (admin_query_int(x, "account_id", 1, INT64_MAX, 0, &account) < 0)
		return admin_problem(400, "invalid account_id: expected an account id");
	return admin_events_response(x, after, (int64_t)account);
}

