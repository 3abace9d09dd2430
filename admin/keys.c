/* keys.c - encryption keys of an account: issue, list, read, revoke.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

json_t *admin_key_json(const struct store_key *k)
{
	return json_pack("{s:I, s:I, s:s, s:o, s:o}", "id", (json_int_t)k->id,
			 "account_id", (json_int_t)k->account_id, "recipient", k->recipient,
			 "created_at", admin_time_or_null(k->created_at_ms),
			 "revoked_at", admin_time_or_null(k->revoked_at_ms));
}

static struct reply key_reply(struct ctx *x, int rc, const struct store_key *k)
{
	if (rc == -ENOENT)
		return admin_problem(404, "no key %lld of account %lld", (long long)x->ids[1],
				     (long long)x->ids[0]);
	if (rc < 0)
		return admin_problem(500, "cannot read the key");
	return admin_ok(200, admin_key_json(k));
}

struct reply admin_create_key(struct ctx *x)
{
	struct store_key k;
	struct reply r;
	int rc;

	if (admin_no_fields(x, &r) < 0)
		return r;
	rc = store_key_create(x->store, x->ids[0], &k);
	if (rc == -ENOENT)
		return admin_problem(404, "no account with id %lld", (long long)x->ids[0]);
	if (rc < 0)
		return admin_problem(500, "cannot create the key");
	snprintf(x->detail, sizeof(x->detail), "key %lld of account %lld created", (long long)k.id,
		 (long long)k.account_id);
	return admin_ok(201, admin_key_json(&k));
}

static int fetch_keys(struct ctx *x, const void *arg, int64_t cursor, unsigned limit,
		      void *items, unsigned *n, bool *more)
{
	(void)arg;
	return store_key_list(x->store, x->ids[0], cursor, limit, items, n, more);
}

static json_t *key_item(struct ctx *x, const void *k)
{
	(void)x;
	return admin_key_json(k);
}

static int64_t key_id(const void *k)
{
	return ((const struct store_key *)k)->id;
}

struct reply admin_list_keys(struct ctx *x)
{
	static const struct admin_lister l = { "keys", sizeof(struct store_key), fetch_keys, key_item,
					 key_id, NULL };
	struct store_account a;

	if (store_account_get(x->store, x->ids[0], &a) < 0)
		return admin_problem(404, "no account with id %lld", (long long)x->ids[0]);
	return admin_list_with(x, &l, NULL);
}

/* JSON, or the recipient as a text file when the client asks for one. */
struct reply admin_get_key(struct ctx *x)
{
	const char *accept = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	struct store_key k;
	struct reply r;
	int rc = store_key_get(x->store, x->ids[0], x->ids[1], &k);

	if (rc < 0 || !accept || !strstr(accept, "text/plain") || strstr(accept, "application/json"))
		return key_reply(x, rc, &k);
	r = admin_ok(200, NULL);
	{
		char text[128], disposition[96];

		snprintf(text, sizeof(text), "%s\n", k.recipient);
		snprintf(disposition, sizeof(disposition),
			 "attachment; filename=\"account-%lld-key-%lld.txt\"", (long long)k.account_id,
			 (long long)k.id);
		r.raw = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_COPY);
		if (!r.raw)
			return admin_problem(500, "out of memory");
		MHD_add_response_header(r.raw, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
		MHD_add_response_header(r.raw, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition);
	}
	return r;
}

struct reply admin_revoke_key(struct ctx *x)
{
	struct store_key k;
	struct reply err;
	int rc;

	if (admin_no_fields(x, &err) < 0)
		return err;
	rc = store_key_revoke(x->store, x->ids[0], x->ids[1], &k);
	if (rc == 0)
		snprintf(x->detail, sizeof(x->detail), "key %lld of account %lld revoked",
			 (long long)k.id, (long long)k.account_id);
	return key_reply(x, rc, &k);
}

