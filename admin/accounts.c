/* accounts.c - accounts: create, list, read, change (with If-Match), delete,
 * new passwords; the one serializer of an account.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

/* The host accounts are told to connect to. */
static void ftps_host(struct ctx *x, char *out, size_t size)
{
	const char *host, *colon;

	if (x->cfg->public_host[0]) {
		gw_strlcpy(out, x->cfg->public_host, size);
		return;
	}
	if (x->cfg->passive_address[0]) {
		gw_strlcpy(out, x->cfg->passive_address, size);
		return;
	}
	/* The name the admin used to reach us is the best guess left. */
	host = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (!host || !*host || strlen(host) >= size || host[0] == '[') {
		gw_strlcpy(out, "localhost", size);
		return;
	}
	gw_strlcpy(out, host, size);
	colon = strchr(out, ':');
	if (colon)
		out[colon - out] = '\0';
}

static json_t *account_json(struct ctx *x, const struct store_account *a, const char *password)
{
	char host[256], ports[16];
	json_t *o;

	ftps_host(x, host, sizeof(host));
	snprintf(ports, sizeof(ports), "%u-%u", (unsigned)x->cfg->passive_min,
		 (unsigned)x->cfg->passive_max);
	o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:b, s:{s:s, s:i, s:s}}",
		      "id", (json_int_t)a->id, "username", a->username,
		      "description", a->description, "status", a->status,
		      "created_at", admin_time_or_null(a->created_at_ms),
		      "updated_at", admin_time_or_null(a->updated_at_ms),
		      "expires_at", admin_time_or_null(a->expires_at_ms),
		      "quota_bytes", a->quota_bytes < 0 ? json_null() : json_integer(a->quota_bytes),
		      "used_bytes", (json_int_t)a->used_bytes,
		      "require_encryption", a->require_encryption,
		      "ftps", "host", host, "port", (int)x->cfg->ftps_port, "passive_ports", ports);
	if (o && password)
		json_object_set_new(o, "password", json_string(password));
	return o;
}

static int account_spec(json_t *body, struct store_account_spec *spec, struct reply *err)
{
	json_t *v;

	memset(spec, 0, sizeof(*spec));
	spec->username = json_string_value(json_object_get(body, "username"));
	spec->description = json_string_value(json_object_get(body, "description"));
	spec->status = json_string_value(json_object_get(body, "status"));
	if (spec->username && !store_username_is_valid(spec->username)) {
		*err = admin_problem(400, "invalid username: use 1 to %d letters, digits, '.', '_' or"
					  " '-', not starting with '.' or '-'", GW_USER_MAX);
		return -EINVAL;
	}
	if (spec->description && strlen(spec->description) > GW_DESCRIPTION_MAX) {
		*err = admin_problem(400, "invalid description: longer than %d bytes", GW_DESCRIPTION_MAX);
		return -EINVAL;
	}
	if (spec->status && strcmp(spec->status, "active") && strcmp(spec->status, "disabled")) {
		*err = admin_problem(400, "invalid status: expected active or disabled");
		return -EINVAL;
	}
	v = json_object_get(body, "expires_at");
	if (v) {
		spec->set_expires = true;
		if (json_is_string(v) && admin_parse_time(json_string_value(v), &spec->expires_at_ms) < 0) {
			*err = admin_problem(400, "invalid expires_at: expected an RFC 3339 time such as"
						  " 2026-12-31T23:59:59Z, or null");
			return -EINVAL;
		}
	}
	v = json_object_get(body, "quota_bytes");
	if (v) {
		spec->set_quota = true;
		spec->quota_bytes = json_is_null(v) ? -1 : json_integer_value(v);
		if (!json_is_null(v) && spec->quota_bytes < 0) {
			*err = admin_problem(400, "invalid quota_bytes: expected 0 or more, or null");
			return -EINVAL;
		}
	}
	v = json_object_get(body, "require_encryption");
	if (v) {
		spec->set_require_encryption = true;
		spec->require_encryption = json_is_true(v);
	}
	return 0;
}

static void set_etag(struct reply *r, const struct store_account *a)
{
	snprintf(r->etag, sizeof(r->etag), "\"v%lld\"", (long long)a->version);
}

int admin_account_body(json_t *body, bool create, struct store_account_spec *spec,
		       struct reply *err)
{
	static const struct admin_field create_fields[] = {
		{ "username", "string", false },
		{ "description", "string", false },
		{ "expires_at", "string", true },
		{ "quota_bytes", "integer", true },
		{ "require_encryption", "boolean", false },
	};
	static const struct admin_field patch_fields[] = {
		{ "description", "string", false },
		{ "status", "string", false },
		{ "expires_at", "string", true },
		{ "quota_bytes", "integer", true },
		{ "require_encryption", "boolean", false },
	};

	if (create ? admin_check_fields(body, create_fields, GW_ARRAY_SIZE(create_fields), err)
		   : admin_check_fields(body, patch_fields, GW_ARRAY_SIZE(patch_fields), err))
		return -EINVAL;
	return account_spec(body, spec, err);
}

struct reply admin_create_account(struct ctx *x)
{
	char password[STORE_PASSWORD_LEN + 1];
	struct store_account_spec spec;
	struct store_account a;
	struct reply err, r;
	json_t *body;
	int rc;

	if (admin_parse_body(x, &body, &err) < 0)
		return err;
	if (admin_account_body(body, true, &spec, &err) < 0) {
		json_decref(body);
		return err;
	}
	rc = store_account_create(x->store, &spec, &a, password);
	json_decref(body);
	if (rc == -EEXIST)
		return admin_problem(409, "an account with this username exists (or existed)");
	if (rc < 0)
		return admin_problem(500, "cannot create the account");
	snprintf(x->detail, sizeof(x->detail), "account %lld (%s) created", (long long)a.id,
		 a.username);
	x->audit_account = a.id;
	r = admin_ok(201, account_json(x, &a, password));
	if (a.require_encryption) {
		/* The key uploaders encrypt to comes with the account. */
		struct store_key k;

		if (store_key_create(x->store, a.id, &k) == 0)
			json_object_set_new(r.json, "key", admin_key_json(&k));
		else
			gw_error("admin.key", "cannot create the key of account %lld", (long long)a.id);
	}
	set_etag(&r, &a);
	explicit_bzero(password, sizeof(password));
	return r;
}

static int fetch_accounts(struct ctx *x, const void *f, int64_t cursor, unsigned limit,
			  void *items, unsigned *n, bool *more)
{
	return store_account_list(x->store, cursor, f, limit, items, n, more);
}

static json_t *account_item(struct ctx *x, const void *item)
{
	const struct store_account *a = item;
	json_t *o = account_json(x, a, NULL);

	if (o)
		json_object_set_new(o, "last_activity_at", admin_time_or_null(a->last_activity_ms));
	return o;
}

static int64_t account_id(const void *a)
{
	return ((const struct store_account *)a)->id;
}

struct reply admin_list_accounts(struct ctx *x)
{
	static const struct admin_lister l = { "accounts", sizeof(struct store_account), fetch_accounts,
					 account_item, account_id, NULL };
	struct store_account_filter f = { admin_query(x, "status"), admin_query(x, "search") };

	if (f.status && strcmp(f.status, "active") && strcmp(f.status, "disabled") &&
	    strcmp(f.status, "deleted"))
		return admin_problem(400, "invalid status: expected active, disabled or deleted");
	if (f.search && (strlen(f.search) > GW_DESCRIPTION_MAX || !gw_is_utf8(f.search)))
		return admin_problem(400, "invalid search: expected UTF-8 text of at most %d bytes",
				     GW_DESCRIPTION_MAX);
	if (f.search && !f.search[0])
		f.search = NULL;
	return admin_list_with(x, &l, &f);
}

static struct reply account_reply(struct ctx *x, int rc, const struct store_account *a)
{
	struct reply r;

	if (rc == -ENOENT)
		return admin_problem(404, "no account with id %lld", (long long)x->ids[0]);
	if (rc < 0)
		return admin_problem(500, "cannot read the account");
	r = admin_ok(200, account_json(x, a, NULL));
	set_etag(&r, a);
	return r;
}

struct reply admin_get_account(struct ctx *x)
{
	struct store_account a;

	return account_reply(x, store_account_get(x->store, x->ids[0], &a), &a);
}

/* If-Match: "v7" (or W/"v7", or *). 0 = none given. */
static int if_match(struct ctx *x, int64_t *version)
{
	const char *h = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
	char num[24];
	size_t n;
	uint64_t v;

	*version = 0;
	if (!h || !strcmp(h, "*"))
		return 0;
	if (!strncmp(h, "W/", 2))
		h += 2;
	n = strlen(h);
	if (n < 4 || n - 3 >= sizeof(num) || h[0] != '"' || h[1] != 'v' || h[n - 1] != '"')
		return -EINVAL;
	memcpy(num, h + 2, n - 3);
	num[n - 3] = '\0';
	if (gw_parse_u64(num, 1, INT64_MAX, &v) < 0)
		return -EINVAL;
	*version = (int64_t)v;
	return 0;
}

struct reply admin_patch_account(struct ctx *x)
{
	struct store_account_spec spec;
	struct store_account a;
	struct reply err;
	json_t *body;
	int64_t version;
	int rc;

	if (if_match(x, &version) < 0)
		return admin_problem(400, "invalid If-Match: use the ETag of the account, like \"v3\"");
	if (admin_parse_body(x, &body, &err) < 0)
		return err;
	if (admin_account_body(body, false, &spec, &err) < 0) {
		json_decref(body);
		return err;
	}
	spec.if_version = version;
	rc = store_account_update(x->store, x->ids[0], &spec, &a);
	json_decref(body);
	if (rc == -ESTALE)
		return admin_problem(412, "the account changed since that ETag; read it again");
	if (rc == -EINVAL)
		return admin_problem(409, "account %lld is deleted", (long long)x->ids[0]);
	if (rc == 0)
		snprintf(x->detail, sizeof(x->detail), "account %lld changed (now %s)",
			 (long long)a.id, a.status);
	return account_reply(x, rc, &a);
}

struct reply admin_delete_account(struct ctx *x)
{
	struct store_account a = { 0 };
	struct reply err;
	int rc;

	if (admin_no_fields(x, &err) < 0)
		return err;
	rc = store_account_delete(x->store, x->ids[0]);

	if (rc == 0)
		rc = store_account_get(x->store, x->ids[0], &a);
	if (rc == 0)
		snprintf(x->detail, sizeof(x->detail), "account %lld (%s) deleted; its uploads kept",
			 (long long)a.id, a.username);
	return account_reply(x, rc, &a);
}

struct reply admin_new_password(struct ctx *x)
{
	char password[STORE_PASSWORD_LEN + 1];
	struct store_account a;
	struct reply r;
	int rc;

	if (admin_no_fields(x, &r) < 0)
		return r;
	rc = store_account_new_password(x->store, x->ids[0], password);
	if (rc == -ENOENT)
		return admin_problem(404, "no account with id %lld", (long long)x->ids[0]);
	if (rc < 0 || store_account_get(x->store, x->ids[0], &a) < 0)
		return admin_problem(500, "cannot change the password");
	snprintf(x->detail, sizeof(x->detail), "new password for account %lld", (long long)a.id);
	r = admin_ok(200, account_json(x, &a, password));
	set_etag(&r, &a);
	explicit_bzero(password, sizeof(password));
	return r;
}

