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

/* A list kept as text, sep between its items, as a JSON array. */
static json_t *text_list(const char *text, char sep)
{
	json_t *arr = json_array();

	while (arr && *text) {
		size_t len = strcspn(text, sep == ',' ? "," : "/");

		if (len)
			json_array_append_new(arr, json_stringn(text, len));
		text += len;
		if (*text)
			text++;
	}
	return arr;
}

/* The policy fields of p, each unset one null. */
static void policy_json(json_t *o, const struct gw_policy *p)
{
	json_object_set_new(o, "allowed_addresses",
			    p->has_addresses ? text_list(p->addresses, ',') : json_null());
	json_object_set_new(o, "allowed_names", p->has_names ? text_list(p->names, '/') : json_null());
	json_object_set_new(o, "max_file_bytes",
			    p->has_max_file ? json_integer((json_int_t)p->max_file_bytes) : json_null());
	json_object_set_new(o, "rate_limit_bytes_per_s",
			    p->has_rate ? json_integer((json_int_t)p->rate_bytes_per_s) : json_null());
	json_object_set_new(o, "max_sessions",
			    p->has_sessions ? json_integer(p->max_sessions) : json_null());
}

static json_t *account_json(struct ctx *x, const struct store_account *a, const char *password)
{
	struct gw_policy effective;
	json_t *eff;
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
	if (!o)
		return NULL;
	/* its own limits (null: the server's default), and what applies */
	policy_json(o, &a->policy);
	gw_policy_effective(&a->policy, &effective);
	eff = json_object();
	if (eff) {
		policy_json(eff, &effective);
		json_object_set_new(o, "effective_policy", eff);
	}
	if (password)
		json_object_set_new(o, "password", json_string(password));
	return o;
}

/* allowed_addresses: address blocks, one per item, into the stored text. */
static int addresses_field(json_t *v, struct gw_policy *p, struct reply *err)
{
	char text[GW_POLICY_TEXT_MAX + 1], why[160];
	size_t used = 0, i;
	json_t *item;

	if (json_array_size(v) > GW_POLICY_ADDRESSES_MAX) {
		*err = admin_problem(400, "invalid allowed_addresses: more than %d blocks",
				     GW_POLICY_ADDRESSES_MAX);
		return -EINVAL;
	}
	json_array_foreach(v, i, item) {
		const char *s = json_string_value(item);
		size_t len = s ? strlen(s) : 0;

		if (!s || !len || strcspn(s, " ,\t") != len || used + len + 2 > sizeof(text)) {
			*err = admin_problem(400, "invalid allowed_addresses: item %zu must be one address"
						  " or ADDRESS/BITS, such as 203.0.113.0/24 or 2001:db8::/32", i);
			return -EINVAL;
		}
		if (used)
			text[used++] = ',';
		memcpy(text + used, s, len + 1);
		used += len;
	}
	text[used] = '\0';
	if (gw_addresses_canon(text, p->addresses, sizeof(p->addresses), why, sizeof(why)) < 0) {
		*err = admin_problem(400, "invalid allowed_addresses: %s", why);
		return -EINVAL;
	}
	p->has_addresses = true;
	return 0;
}

/* allowed_names: file-name patterns, into the stored text ('/' between). */
static int names_field(json_t *v, struct gw_policy *p, struct reply *err)
{
	size_t used = 0, i;
	json_t *item;

	if (json_array_size(v) > GW_POLICY_NAMES_MAX) {
		*err = admin_problem(400, "invalid allowed_names: more than %d patterns",
				     GW_POLICY_NAMES_MAX);
		return -EINVAL;
	}
	json_array_foreach(v, i, item) {
		const char *s = json_string_value(item);
		size_t len = s ? strlen(s) : 0;

		if (!s || !gw_name_pattern_is_valid(s, len)) {
			*err = admin_problem(400, "invalid allowed_names: item %zu must be a file-name"
						  " pattern such as *.nsf.age: 1 to %d bytes of UTF-8, no"
						  " '/' or control character", i, GW_NAME_PATTERN_MAX);
			return -EINVAL;
		}
		if (used + len + 2 > sizeof(p->names)) {
			*err = admin_problem(400, "invalid allowed_names: longer than %d bytes in all",
					     GW_POLICY_TEXT_MAX);
			return -EINVAL;
		}
		if (used)
			p->names[used++] = '/';
		memcpy(p->names + used, s, len + 1);
		used += len;
	}
	p->names[used] = '\0';
	p->has_names = true;
	return 0;
}

/* A limit of 0 (none) or more, up to max, or null (the server's). */
static int limit_field(json_t *body, const char *name, uint64_t max, bool *has, uint64_t *out,
		       struct reply *err)
{
	json_t *v = json_object_get(body, name);

	*has = !json_is_null(v);
	if (json_is_null(v))
		return 0;
	if (json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max) {
		*err = admin_problem(400, "invalid %s: expected 0 (no limit) to %llu, or null for the"
					  " server's default", name, (unsigned long long)max);
		return -EINVAL;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* The policy fields of a body (types checked already) into spec. */
static int policy_spec(json_t *body, struct store_account_spec *spec, struct reply *err)
{
	struct gw_policy *p = &spec->policy;
	uint64_t sessions = 0;
	json_t *v;

	v = json_object_get(body, "allowed_addresses");
	if (v) {
		spec->set_policy |= STORE_POLICY_ADDRESSES;
		if (!json_is_null(v) && addresses_field(v, p, err) < 0)
			return -EINVAL;
	}
	v = json_object_get(body, "allowed_names");
	if (v) {
		spec->set_policy |= STORE_POLICY_NAMES;
		if (!json_is_null(v) && names_field(v, p, err) < 0)
			return -EINVAL;
	}
	if (json_object_get(body, "max_file_bytes")) {
		spec->set_policy |= STORE_POLICY_MAX_FILE;
		if (limit_field(body, "max_file_bytes", INT64_MAX, &p->has_max_file,
				&p->max_file_bytes, err) < 0)
			return -EINVAL;
	}
	if (json_object_get(body, "rate_limit_bytes_per_s")) {
		spec->set_policy |= STORE_POLICY_RATE;
		if (limit_field(body, "rate_limit_bytes_per_s", INT64_MAX, &p->has_rate,
				&p->rate_bytes_per_s, err) < 0)
			return -EINVAL;
	}
	if (json_object_get(body, "max_sessions")) {
		spec->set_policy |= STORE_POLICY_SESSIONS;
		if (limit_field(body, "max_sessions", 1000000, &p->has_sessions, &sessions, err) < 0)
			return -EINVAL;
		p->max_sessions = (uint32_t)sessions;
	}
	return 0;
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
	return policy_spec(body, spec, err);
}

static void set_etag(struct reply *r, const struct store_account *a)
{
	snprintf(r->etag, sizeof(r->etag), "\"v%lld\"", (long long)a->version);
}

#define POLICY_FIELDS                                                                      \
	{ "allowed_addresses", "array", true }, { "allowed_names", "array", true },        \
	{ "max_file_bytes", "integer", true }, { "rate_limit_bytes_per_s", "integer", true }, \
	{ "max_sessions", "integer", true },

int admin_account_body(json_t *body, bool create, struct store_account_spec *spec,
		       struct reply *err)
{
	static const struct admin_field create_fields[] = {
		{ "username", "string", false },
		{ "description", "string", false },
		{ "expires_at", "string", true },
		{ "quota_bytes", "integer", true },
		{ "require_encryption", "boolean", false },
		POLICY_FIELDS
	};
	static const struct admin_field patch_fields[] = {
		{ "description", "string", false },
		{ "status", "string", false },
		{ "expires_at", "string", true },
		{ "quota_bytes", "integer", true },
		{ "require_encryption", "boolean", false },
		POLICY_FIELDS
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

/* What the audit log says of a change: the policy fields by name. */
static void change_detail(struct ctx *x, const struct store_account *a,
			  const struct store_account_spec *spec)
{
	static const char *const names[] = { "allowed_addresses", "allowed_names", "max_file_bytes",
					     "rate_limit_bytes_per_s", "max_sessions" };
	char fields[128] = "";
	size_t used = 0;

	for (size_t i = 0; i < GW_ARRAY_SIZE(names); i++) {
		if (!(spec->set_policy & (1u << i)))
			continue;
		used += (size_t)snprintf(fields + used, sizeof(fields) - used, "%s%s",
					 used ? ", " : "; policy set: ", names[i]);
	}
	snprintf(x->detail, sizeof(x->detail), "account %lld changed (now %s)%s", (long long)a->id,
		 a->status, fields);
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
		change_detail(x, &a, &spec);
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

