/* handlers.c - the resources of the admin API: accounts, passwords,
 * uploads, events, tokens, audit. Each handler gets a parsed request
 * (struct ctx) and returns JSON or a problem; http.c does the rest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin_int.h"

/* ---------------------------------------------------------------- helpers */

static json_t *time_or_null(int64_t ms)
{
	char ts[32];

	if (ms <= 0)
		return json_null();
	gw_format_time(ms, ts);
	return json_string(ts);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* n digits at *p into *v. */
static bool digits(const char **p, int n, int *v)
{
	int i, r = 0;

	for (i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		r = r * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = r;
	return true;
}

int admin_parse_time(const char *s, int64_t *ms)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0;
	const char *p = s;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d) || (*p != 'T' && *p != 't') || !++p || !digits(&p, 2, &h) ||
	    *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' || !digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		int scale = 100;

		p++;
		if (!is_digit(*p))
			return -EINVAL;
		for (; is_digit(*p); p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d) /* 2026-02-30 normalizes: refuse */
		return -EINVAL;
	*ms = ((int64_t)t - sign * (oh * 3600 + om * 60)) * 1000 + frac;
	return 0;
}

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
	char host[256];
	json_t *o;

	ftps_host(x, host, sizeof(host));
	o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:b, s:{s:s, s:i}}",
		      "id", (json_int_t)a->id, "username", a->username,
		      "description", a->description, "status", a->status,
		      "created_at", time_or_null(a->created_at_ms),
		      "updated_at", time_or_null(a->updated_at_ms),
		      "expires_at", time_or_null(a->expires_at_ms),
		      "quota_bytes", a->quota_bytes < 0 ? json_null() : json_integer(a->quota_bytes),
		      "used_bytes", (json_int_t)a->used_bytes,
		      "require_encryption", a->require_encryption,
		      "ftps", "host", host, "port", (int)x->cfg->ftps_port);
	if (o && password)
		json_object_set_new(o, "password", json_string(password));
	return o;
}

/* The length of the valid UTF-8 sequence of 2 to 4 bytes at p, or 0. */
static size_t utf8_sequence(const unsigned char *p)
{
	bool c1 = (p[1] & 0xc0) == 0x80;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return c1 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f))
			return 0;
		return c1 && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
			return 0;
		return c1 && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* s as a JSON string, bytes that are not UTF-8 as U+FFFD (a hook may
 * print anything); NULL for "". jansson refuses what is not UTF-8. */
static json_t *json_text_or_null(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct gw_buf b;
	json_t *j;

	if (!s[0])
		return json_null();
	while (*p && (*p < 0x80 || utf8_sequence(p)))
		p += *p < 0x80 ? 1 : utf8_sequence(p);
	if (!*p)
		return json_string(s);
	gw_buf_init(&b, 4 * strlen(s) + 16);
	for (p = (const unsigned char *)s; *p;) {
		size_t n = *p < 0x80 ? 1 : utf8_sequence(p);

		if (n) {
			gw_buf_add(&b, p, n);
			p += n;
		} else {
			gw_buf_adds(&b, "\xef\xbf\xbd");
			p++;
		}
	}
	j = json_string(gw_buf_str(&b));
	gw_buf_release(&b);
	return j;
}

static json_t *upload_json(const struct store_upload_info *u)
{
	json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:o, s:I, s:o, s:s, s:o, s:o, s:o, s:o, s:o}",
			 "id", (json_int_t)u->id, "account_id", (json_int_t)u->account_id,
			 "path", u->path, "state", u->state,
			 "size", u->size < 0 ? json_null() : json_integer(u->size),
			 "bytes_received", (json_int_t)u->bytes_received,
			 "sha256", u->sha256[0] ? json_string(u->sha256) : json_null(),
			 "client_address", u->client_address,
			 "started_at", time_or_null(u->started_at_ms),
			 "completed_at", time_or_null(u->completed_at_ms),
			 "updated_at", time_or_null(u->updated_at_ms),
			 "purged_at", time_or_null(u->purged_at_ms),
			 "error", json_text_or_null(u->error));

	if (o)
		json_object_set_new(o, "client_modified_at", time_or_null(u->client_modified_at_ms));
	if (o)
		json_object_set_new(o, "import", json_pack("{s:o, s:i, s:o, s:o}",
			"key_id", u->key_id ? json_integer(u->key_id) : json_null(),
			"attempts", u->attempts,
			"hook_exit", u->hook_exit >= 0 || u->attempts ? json_integer(u->hook_exit) : json_null(),
			"hook_output", json_text_or_null(u->hook_output)));
	return o;
}

/* ---------------------------------------------------------------- JSON text */

/* The uploads list is the API's busiest page: its items are written as
 * text straight into the response (upload_text), the same document that
 * upload_json() gives, without an object per field. */

/* s as a JSON string; bytes that are not UTF-8 become U+FFFD. */
static void text_str(struct gw_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	gw_buf_add(b, "\"", 1);
	while (*p) {
		const unsigned char *run = p;
		size_t n;

		while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		gw_buf_add(b, run, (size_t)(p - run));
		if (!*p)
			break;
		if (*p < 0x20 || *p == '"' || *p == '\\') {
			char esc[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };

			if (*p == '"' || *p == '\\') {
				esc[1] = (char)*p;
				gw_buf_add(b, esc, 2);
			} else {
				gw_buf_add(b, esc, 6);
			}
			p++;
			continue;
		}
		n = utf8_sequence(p);
		if (n) {
			gw_buf_add(b, p, n);
			p += n;
		} else {
			gw_buf_adds(b, "\xef\xbf\xbd");
			p++;
		}
	}
	gw_buf_add(b, "\"", 1);
}

static void text_str_or_null(struct gw_buf *b, const char *s)
{
	if (s[0])
		text_str(b, s);
	else
		gw_buf_adds(b, "null");
}

static void text_time(struct gw_buf *b, int64_t ms)
{
	char ts[32];

	if (ms <= 0) {
		gw_buf_adds(b, "null");
		return;
	}
	gw_format_time(ms, ts);
	gw_buf_add(b, "\"", 1);
	gw_buf_adds(b, ts);
	gw_buf_add(b, "\"", 1);
}

static void text_int_or_null(struct gw_buf *b, bool present, long long v)
{
	if (present)
		gw_buf_add_int(b, v);
	else
		gw_buf_adds(b, "null");
}

static void upload_text(struct gw_buf *b, const struct store_upload_info *u)
{
	gw_buf_adds(b, "{\"id\":");
	gw_buf_add_int(b, u->id);
	gw_buf_adds(b, ",\"account_id\":");
	gw_buf_add_int(b, u->account_id);
	gw_buf_adds(b, ",\"path\":");
	text_str(b, u->path);
	gw_buf_adds(b, ",\"state\":");
	text_str(b, u->state);
	gw_buf_adds(b, ",\"size\":");
	text_int_or_null(b, u->size >= 0, u->size);
	gw_buf_adds(b, ",\"bytes_received\":");
	gw_buf_add_int(b, u->bytes_received);
	gw_buf_adds(b, ",\"sha256\":");
	text_str_or_null(b, u->sha256);
	gw_buf_adds(b, ",\"client_address\":");
	text_str(b, u->client_address);
	gw_buf_adds(b, ",\"started_at\":");
	text_time(b, u->started_at_ms);
	gw_buf_adds(b, ",\"completed_at\":");
	text_time(b, u->completed_at_ms);
	gw_buf_adds(b, ",\"updated_at\":");
	text_time(b, u->updated_at_ms);
	gw_buf_adds(b, ",\"purged_at\":");
	text_time(b, u->purged_at_ms);
	gw_buf_adds(b, ",\"error\":");
	text_str_or_null(b, u->error);
	gw_buf_adds(b, ",\"client_modified_at\":");
	text_time(b, u->client_modified_at_ms);
	gw_buf_adds(b, ",\"import\":{\"key_id\":");
	text_int_or_null(b, u->key_id != 0, u->key_id);
	gw_buf_adds(b, ",\"attempts\":");
	gw_buf_add_int(b, u->attempts);
	gw_buf_adds(b, ",\"hook_exit\":");
	text_int_or_null(b, u->hook_exit >= 0 || u->attempts, u->hook_exit);
	gw_buf_adds(b, ",\"hook_output\":");
	text_str_or_null(b, u->hook_output);
	gw_buf_adds(b, "}}");
}

static json_t *token_json(const struct store_token *t, const char *secret)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)t->id,
			      "name", t->name, "scope", t->scope,
			      "created_at", time_or_null(t->created_at_ms),
			      "last_used_at", time_or_null(t->last_used_at_ms),
			      "revoked_at", time_or_null(t->revoked_at_ms));

	if (o && secret)
		json_object_set_new(o, "token", json_string(secret));
	return o;
}

static json_t *key_json(const struct store_key *k)
{
	return json_pack("{s:I, s:I, s:s, s:o, s:o}", "id", (json_int_t)k->id,
			 "account_id", (json_int_t)k->account_id, "recipient", k->recipient,
			 "created_at", time_or_null(k->created_at_ms),
			 "revoked_at", time_or_null(k->revoked_at_ms));
}

/* A page of a list: {"items": [...], "next_cursor": "<last id>" | null}.
 * Steals items. */
static json_t *page(json_t *items, bool more, int64_t last_id)
{
	char next[32];

	snprintf(next, sizeof(next), "%lld", (long long)last_id);
	return json_pack("{s:o, s:o}", "items", items, "next_cursor",
			 more ? json_string(next) : json_null());
}

/* One page of any list: the handler checks its filters, fetch reads a
 * page from the store (arg carries the filters), item turns one into
 * JSON, id gives what next_cursor continues from. */
struct lister {
	const char *what;
	size_t size; /* of one item */
	int (*fetch)(struct ctx *x, const void *arg, int64_t cursor, unsigned limit, void *items,
		     unsigned *n, bool *more);
	json_t *(*item)(struct ctx *x, const void *item);
	int64_t (*id)(const void *item);
	void (*text)(struct gw_buf *b, const void *item); /* NULL: item() */
};

/* The page as JSON text written directly (lister.text). */
static struct reply page_text(const struct lister *l, const char *items, unsigned n, bool more)
{
	struct reply r = admin_ok(200, NULL);
	struct gw_buf b;
	unsigned i;

	gw_buf_init(&b, 64 * 1024 * 1024);
	gw_buf_adds(&b, "{\"items\":[");
	for (i = 0; i < n; i++) {
		if (i)
			gw_buf_add(&b, ",", 1);
		l->text(&b, items + i * l->size);
	}
	if (more)
		gw_buf_addf(&b, "],\"next_cursor\":\"%lld\"}", (long long)l->id(items + (n - 1) * l->size));
	else
		gw_buf_adds(&b, "],\"next_cursor\":null}");
	/* a failed add (out of memory, past the bound) leaves the text short */
	if (!b.data || b.data[b.len - 1] != '}') {
		gw_buf_release(&b);
		return admin_problem(500, "out of memory");
	}
	r.raw = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
	if (!r.raw) {
		gw_buf_release(&b);
		return admin_problem(500, "out of memory");
	}
	MHD_add_response_header(r.raw, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	return r;
}

static int paging(struct ctx *x, uint64_t *limit, uint64_t *cursor, struct reply *err);

static struct reply list_with(struct ctx *x, const struct lister *l, const void *arg)
{
	uint64_t limit, cursor;
	unsigned n = 0, i;
	bool more = false;
	struct reply r;
	char *items;
	json_t *arr;

	if (paging(x, &limit, &cursor, &r) < 0)
		return r;
	/* A text lister's fetch sets every field of the items it returns
	 * (no need to zero a page of 100 uploads, 550 KiB, per request). */
	items = l->text ? malloc(limit * l->size) : calloc(limit, l->size);
	if (!items)
		return admin_problem(500, "out of memory");
	if (l->fetch(x, arg, (int64_t)cursor, (unsigned)limit, items, &n, &more) < 0) {
		free(items);
		return admin_problem(500, "cannot list %s", l->what);
	}
	if (l->text) {
		r = page_text(l, items, n, more);
		free(items);
		return r;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, l->item(x, items + i * l->size));
	r = admin_ok(200, page(arr, more, n ? l->id(items + (n - 1) * l->size) : 0));
	free(items);
	return r;
}

static const char *query(struct ctx *x, const char *name)
{
	return MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* A query parameter as an integer in [min, max]; absent gives def. */
static int query_int(struct ctx *x, const char *name, uint64_t min, uint64_t max, uint64_t def,
		     uint64_t *out)
{
	const char *v = query(x, name);

	if (!v) {
		*out = def;
		return 0;
	}
	return gw_parse_u64(v, min, max, out);
}

/* limit and cursor, the same on every list. */
static int paging(struct ctx *x, uint64_t *limit, uint64_t *cursor, struct reply *err)
{
	if (query_int(x, "limit", 1, GW_PAGE_LIMIT_MAX, 100, limit) < 0) {
		*err = admin_problem(400, "invalid limit: expected an integer from 1 to %d",
				     GW_PAGE_LIMIT_MAX);
		return -EINVAL;
	}
	if (query_int(x, "cursor", 1, INT64_MAX, 0, cursor) < 0) {
		*err = admin_problem(400, "invalid cursor: pass next_cursor from the previous page");
		return -EINVAL;
	}
	return 0;
}

/* Parse the body as a JSON object; an empty body is {}. */
static int parse_body(struct ctx *x, json_t **out, struct reply *err)
{
	const char *ctype;
	json_error_t jerr;
	json_t *root;

	if (x->body_len == 0) {
		*out = json_object();
		return 0;
	}
	ctype = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!ctype || strncasecmp(ctype, "application/json", 16) != 0 ||
	    (ctype[16] != '\0' && ctype[16] != ';')) {
		*err = admin_problem(415, "the body must be application/json");
		return -EINVAL;
	}
	root = json_loadb(x->body, x->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		*err = admin_problem(400, "invalid JSON at line %d column %d: %s", jerr.line,
				     jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		*err = admin_problem(400, "the body must be a JSON object");
		return -EINVAL;
	}
	*out = root;
	return 0;
}

/* For requests that take no fields: nothing, or {} (as JSON). */
static int no_fields(struct ctx *x, struct reply *err)
{
	json_t *body;

	if (x->body_len == 0)
		return 0;
	if (parse_body(x, &body, err) < 0)
		return -EINVAL;
	if (json_object_size(body)) {
		json_decref(body);
		*err = admin_problem(400, "unknown field: this request takes no fields");
		return -EINVAL;
	}
	json_decref(body);
	return 0;
}

/* Every key of body must be one of fields, of the JSON type given there
 * (or null where allowed); the problem names the first that is not. */
struct field {
	const char *name;
	const char *type; /* "string", "integer", "boolean" */
	bool nullable;
};

static bool has_type(json_t *v, const char *type)
{
	if (!strcmp(type, "string"))
		return json_is_string(v);
	if (!strcmp(type, "integer"))
		return json_is_integer(v);
	return json_is_boolean(v);
}

static int check_fields(json_t *body, const struct field *fields, size_t n, struct reply *err)
{
	const char *key;
	json_t *val;
	size_t i;

	json_object_foreach(body, key, val) {
		for (i = 0; i < n; i++)
			if (!strcmp(fields[i].name, key))
				break;
		if (i == n) {
			*err = admin_problem(400, "unknown field '%.64s'", key);
			return -EINVAL;
		}
		if (!has_type(val, fields[i].type) && !(fields[i].nullable && json_is_null(val))) {
			*err = admin_problem(400, "field '%s' must be %s %s%s", key,
					     fields[i].type[0] == 'i' ? "an" : "a", fields[i].type,
					     fields[i].nullable ? " or null" : "");
			return -EINVAL;
		}
	}
	return 0;
}

/* Read the account fields of a POST or PATCH body into spec. */
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

/* ---------------------------------------------------------------- misc */

static struct reply get_health(struct ctx *x)
{
	(void)x;
	return admin_ok(200, json_pack("{s:s}", "status", "ok"));
}

static struct reply get_openapi(struct ctx *x)
{
	struct reply r = admin_ok(200, NULL);

	(void)x;
	r.raw = MHD_create_response_from_buffer(admin_openapi_json_len, (void *)admin_openapi_json,
						MHD_RESPMEM_PERSISTENT);
	if (r.raw)
		MHD_add_response_header(r.raw, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	return r;
}

/* Prometheus text format: what every part counts, and the uploads by
 * state from the store. */
static struct reply get_metrics(struct ctx *x)
{
	static const struct {
		const char *name, *type, *help, *labels;
		enum gw_metric m;
		double scale;
	} metrics[] = {
		{ "ftpsgate_sessions", "gauge", "FTPS control connections open.", "", GW_M_SESSIONS, 1 },
		{ "ftpsgate_logins_total", "counter", "Logins by result.", "{result=\"ok\"}",
		  GW_M_LOGINS_OK, 1 },
		{ "ftpsgate_logins_total", NULL, NULL, "{result=\"failed\"}", GW_M_LOGINS_FAILED, 1 },
		{ "ftpsgate_tls_handshake_failures_total", "counter",
		  "TLS handshakes that failed, control and data.", "", GW_M_TLS_FAILURES, 1 },
		{ "ftpsgate_passive_ports_in_use", "gauge", "Passive listeners open.", "",
		  GW_M_PASSIVE_PORTS, 1 },
		{ "ftpsgate_transfers", "gauge", "Data transfers running.", "", GW_M_TRANSFERS, 1 },
		{ "ftpsgate_transfer_buffer_bytes", "gauge",
		  "Memory held for transfer data (uploads waiting for the disk included).", "",
		  GW_M_BUFFER_BYTES, 1 },
		{ "ftpsgate_received_bytes_total", "counter", "Upload bytes received.", "",
		  GW_M_BYTES_RECEIVED, 1 },
		{ "ftpsgate_uploads_received_total", "counter", "Uploads that arrived whole (226).", "",
		  GW_M_UPLOADS_RECEIVED, 1 },
		{ "ftpsgate_uploads_rejected_total", "counter",
		  "Uploads refused: not an age file for the account's keys.", "", GW_M_UPLOADS_REJECTED, 1 },
		{ "ftpsgate_imports_total", "counter", "Uploads imported.", "", GW_M_IMPORTS, 1 },
		{ "ftpsgate_import_seconds_total", "counter", "Time spent importing them.", "",
		  GW_M_IMPORT_MS, 0.001 },
		{ "ftpsgate_import_failures_total", "counter", "Import attempts that failed.", "",
		  GW_M_HOOK_FAILURES, 1 },
		{ "ftpsgate_bans_total", "counter",
		  "Bans given after failed logins (addresses and locked accounts).", "", GW_M_BANS, 1 },
		{ "ftpsgate_banned_refused_total", "counter",
		  "Connections and logins refused by a ban.", "", GW_M_BANNED_REFUSED, 1 },
		{ "ftpsgate_guard_full_total", "counter",
		  "Failed logins not counted: the table of failures was full.", "", GW_M_GUARD_FULL, 1 },
		{ "ftpsgate_hash_commands_total", "counter",
		  "HASH commands answered, by how: from the upload's record, or by reading the file.",
		  "{source=\"record\"}", GW_M_HASHES_RECORDED, 1 },
		{ "ftpsgate_hash_commands_total", NULL, NULL, "{source=\"file\"}", GW_M_HASHES_READ, 1 },
		{ "ftpsgate_login_cache_hits_total", "counter",
		  "Logins accepted from the verified-credential cache, without argon2id.", "",
		  GW_M_LOGIN_CACHE_HITS, 1 },
	};
	int64_t counts[STORE_STATES];
	struct gw_buf b;
	struct reply r = admin_ok(200, NULL);
	size_t i;

	gw_buf_init(&b, 64 * 1024);
	for (i = 0; i < GW_ARRAY_SIZE(metrics); i++) {
		if (metrics[i].type)
			gw_buf_addf(&b, "# HELP %s %s\n# TYPE %s %s\n", metrics[i].name, metrics[i].help,
				    metrics[i].name, metrics[i].type);
		if (metrics[i].scale == 1)
			gw_buf_addf(&b, "%s%s %lld\n", metrics[i].name, metrics[i].labels,
				    (long long)gw_metric_get(metrics[i].m));
		else
			gw_buf_addf(&b, "%s%s %.3f\n", metrics[i].name, metrics[i].labels,
				    (double)gw_metric_get(metrics[i].m) * metrics[i].scale);
	}
	gw_buf_addf(&b, "# HELP ftpsgate_bans Addresses and accounts banned now.\n"
			"# TYPE ftpsgate_bans gauge\nftpsgate_bans %zu\n",
		    gw_guard_bans(x->guard, gw_mono_ms()));
	if (store_upload_counts(x->store, counts) == 0) {
		gw_buf_adds(&b, "# HELP ftpsgate_uploads Uploads kept, by state.\n"
				"# TYPE ftpsgate_uploads gauge\n");
		for (i = 0; i < STORE_STATES; i++)
			gw_buf_addf(&b, "ftpsgate_uploads{state=\"%s\"} %lld\n",
				    store_upload_state_name(i), (long long)counts[i]);
	}
	r.raw = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
	if (!r.raw) {
		gw_buf_release(&b);
		return admin_problem(500, "out of memory");
	}
	MHD_add_response_header(r.raw, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
	return r;
}

/* ---------------------------------------------------------------- accounts */

static void set_etag(struct reply *r, const struct store_account *a)
{
	snprintf(r->etag, sizeof(r->etag), "\"v%lld\"", (long long)a->version);
}

int admin_account_body(json_t *body, bool create, struct store_account_spec *spec,
		       struct reply *err)
{
	static const struct field create_fields[] = {
		{ "username", "string", false },
		{ "description", "string", false },
		{ "expires_at", "string", true },
		{ "quota_bytes", "integer", true },
		{ "require_encryption", "boolean", false },
	};
	static const struct field patch_fields[] = {
		{ "description", "string", false },
		{ "status", "string", false },
		{ "expires_at", "string", true },
		{ "quota_bytes", "integer", true },
		{ "require_encryption", "boolean", false },
	};

	if (create ? check_fields(body, create_fields, GW_ARRAY_SIZE(create_fields), err)
		   : check_fields(body, patch_fields, GW_ARRAY_SIZE(patch_fields), err))
		return -EINVAL;
	return account_spec(body, spec, err);
}

static struct reply create_account(struct ctx *x)
{
	char password[STORE_PASSWORD_LEN + 1];
	struct store_account_spec spec;
	struct store_account a;
	struct reply err, r;
	json_t *body;
	int rc;

	if (parse_body(x, &body, &err) < 0)
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
	r = admin_ok(201, account_json(x, &a, password));
	if (a.require_encryption) {
		/* The key uploaders encrypt to comes with the account. */
		struct store_key k;

		if (store_key_create(x->store, a.id, &k) == 0)
			json_object_set_new(r.json, "key", key_json(&k));
		else
			gw_error("admin.key", "cannot create the key of account %lld", (long long)a.id);
	}
	set_etag(&r, &a);
	explicit_bzero(password, sizeof(password));
	return r;
}

static int fetch_accounts(struct ctx *x, const void *status, int64_t cursor, unsigned limit,
			  void *items, unsigned *n, bool *more)
{
	return store_account_list(x->store, cursor, status, limit, items, n, more);
}

static json_t *account_item(struct ctx *x, const void *a)
{
	return account_json(x, a, NULL);
}

static int64_t account_id(const void *a)
{
	return ((const struct store_account *)a)->id;
}

static struct reply list_accounts(struct ctx *x)
{
	static const struct lister l = { "accounts", sizeof(struct store_account), fetch_accounts,
					 account_item, account_id, NULL };
	const char *status = query(x, "status");

	if (status && strcmp(status, "active") && strcmp(status, "disabled") &&
	    strcmp(status, "deleted"))
		return admin_problem(400, "invalid status: expected active, disabled or deleted");
	return list_with(x, &l, status);
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

static struct reply get_account(struct ctx *x)
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

static struct reply patch_account(struct ctx *x)
{
	struct store_account_spec spec;
	struct store_account a;
	struct reply err;
	json_t *body;
	int64_t version;
	int rc;

	if (if_match(x, &version) < 0)
		return admin_problem(400, "invalid If-Match: use the ETag of the account, like \"v3\"");
	if (parse_body(x, &body, &err) < 0)
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

static struct reply delete_account(struct ctx *x)
{
	struct store_account a = { 0 };
	struct reply err;
	int rc;

	if (no_fields(x, &err) < 0)
		return err;
	rc = store_account_delete(x->store, x->ids[0]);

	if (rc == 0)
		rc = store_account_get(x->store, x->ids[0], &a);
	if (rc == 0)
		snprintf(x->detail, sizeof(x->detail), "account %lld (%s) deleted; its uploads kept",
			 (long long)a.id, a.username);
	return account_reply(x, rc, &a);
}

static struct reply new_password(struct ctx *x)
{
	char password[STORE_PASSWORD_LEN + 1];
	struct store_account a;
	struct reply r;
	int rc;

	if (no_fields(x, &r) < 0)
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

/* ---------------------------------------------------------------- keys */

static struct reply key_reply(struct ctx *x, int rc, const struct store_key *k)
{
	if (rc == -ENOENT)
		return admin_problem(404, "no key %lld of account %lld", (long long)x->ids[1],
				     (long long)x->ids[0]);
	if (rc < 0)
		return admin_problem(500, "cannot read the key");
	return admin_ok(200, key_json(k));
}

static struct reply create_key(struct ctx *x)
{
	struct store_key k;
	struct reply r;
	int rc;

	if (no_fields(x, &r) < 0)
		return r;
	rc = store_key_create(x->store, x->ids[0], &k);
	if (rc == -ENOENT)
		return admin_problem(404, "no account with id %lld", (long long)x->ids[0]);
	if (rc < 0)
		return admin_problem(500, "cannot create the key");
	snprintf(x->detail, sizeof(x->detail), "key %lld of account %lld created", (long long)k.id,
		 (long long)k.account_id);
	return admin_ok(201, key_json(&k));
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
	return key_json(k);
}

static int64_t key_id(const void *k)
{
	return ((const struct store_key *)k)->id;
}

static struct reply list_keys(struct ctx *x)
{
	static const struct lister l = { "keys", sizeof(struct store_key), fetch_keys, key_item,
					 key_id, NULL };
	struct store_account a;

	if (store_account_get(x->store, x->ids[0], &a) < 0)
		return admin_problem(404, "no account with id %lld", (long long)x->ids[0]);
	return list_with(x, &l, NULL);
}

/* JSON, or the recipient as a text file when the client asks for one. */
static struct reply get_key(struct ctx *x)
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

static struct reply revoke_key(struct ctx *x)
{
	struct store_key k;
	struct reply err;
	int rc;

	if (no_fields(x, &err) < 0)
		return err;
	rc = store_key_revoke(x->store, x->ids[0], x->ids[1], &k);
	if (rc == 0)
		snprintf(x->detail, sizeof(x->detail), "key %lld of account %lld revoked",
			 (long long)k.id, (long long)k.account_id);
	return key_reply(x, rc, &k);
}

/* ---------------------------------------------------------------- uploads */

static int query_time(struct ctx *x, const char *name, int64_t *ms, struct reply *err)
{
	const char *v = query(x, name);

	*ms = 0;
	if (v && admin_parse_time(v, ms) < 0) {
		*err = admin_problem(400, "invalid %s: expected an RFC 3339 time such as"
					  " 2026-11-29T00:00:00Z", name);
		return -EINVAL;
	}
	return 0;
}

static int fetch_uploads(struct ctx *x, const void *filter, int64_t cursor, unsigned limit,
			 void *items, unsigned *n, bool *more)
{
	return store_upload_list(x->store, filter, cursor, limit, items, n, more);
}

static json_t *upload_item(struct ctx *x, const void *u)
{
	(void)x;
	return upload_json(u);
}

static int64_t upload_id(const void *u)
{
	return ((const struct store_upload_info *)u)->id;
}

static void upload_item_text(struct gw_buf *b, const void *u)
{
	upload_text(b, u);
}

static struct reply list_uploads(struct ctx *x)
{
	static const struct lister l = { "uploads", sizeof(struct store_upload_info), fetch_uploads,
					 upload_item, upload_id, upload_item_text };
	struct store_upload_filter f;
	uint64_t account;
	struct reply err;

	memset(&f, 0, sizeof(f));
	if (query_int(x, "account_id", 1, INT64_MAX, 0, &account) < 0)
		return admin_problem(400, "invalid account_id: expected an account id");
	f.account_id = (int64_t)account;
	f.state = query(x, "state");
	if (f.state && !store_upload_state_is_valid(f.state))
		return admin_problem(400, "invalid state '%.32s'", f.state);
	if (query_time(x, "since", &f.since_ms, &err) < 0 ||
	    query_time(x, "until", &f.until_ms, &err) < 0)
		return err;
	return list_with(x, &l, &f);
}

static struct reply upload_reply(struct ctx *x, int rc, const struct store_upload_info *u)
{
	if (rc == -ENOENT)
		return admin_problem(404, "no upload with id %lld", (long long)x->ids[0]);
	if (rc < 0)
		return admin_problem(500, "cannot read the upload");
	return admin_ok(200, upload_json(u));
}

static struct reply get_upload(struct ctx *x)
{
	struct store_upload_info u;

	return upload_reply(x, store_upload_get(x->store, x->ids[0], &u), &u);
}

static struct reply retry_upload(struct ctx *x)
{
	struct store_upload_info u;
	struct reply err;
	int rc;

	if (no_fields(x, &err) < 0)
		return err;
	rc = store_upload_retry(x->store, x->ids[0], &u);

	if (rc == -EPERM)
		return admin_problem(409, "upload %lld is %s: only a failed import can be retried",
				     (long long)u.id, u.state);
	if (rc == 0)
		snprintf(x->detail, sizeof(x->detail), "upload %lld queued again", (long long)u.id);
	return upload_reply(x, rc, &u);
}

static struct reply purge_upload(struct ctx *x)
{
	struct store_upload_info u;
	struct reply err;
	int rc;

	if (no_fields(x, &err) < 0)
		return err;
	rc = store_upload_purge(x->store, x->ids[0], &u);

	if (rc == -EBUSY)
		return admin_problem(409, "upload %lld is %s: purge it once that has ended (an"
				     " import that fails can be purged once it is 'failed')",
				     (long long)u.id, u.state);
	if (rc == 0)
		snprintf(x->detail, sizeof(x->detail), "upload %lld (%.150s) purged; record kept",
			 (long long)u.id, u.path);
	return upload_reply(x, rc, &u);
}

static struct reply get_events(struct ctx *x)
{
	const char *last = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "Last-Event-ID");
	uint64_t after = 0, account = 0;

	if (last && gw_parse_u64(last, 0, UINT64_MAX, &after) < 0)
		return admin_problem(400, "invalid Last-Event-ID");
	if (!last)
		after = store_events_last(x->store); /* from now on */
	if (query_int(x, "account_id", 1, INT64_MAX, 0, &account) < 0)
		return admin_problem(400, "invalid account_id: expected an account id");
	return admin_events_response(x, after, (int64_t)account);
}

/* ---------------------------------------------------------------- tokens */

static bool token_name_is_valid(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static struct reply create_token(struct ctx *x)
{
	static const struct field fields[] = {
		{ "name", "string", false },
		{ "scope", "string", false },
	};
	char secret[STORE_TOKEN_LEN + 1];
	const char *name, *scope;
	struct store_token t;
	struct reply err;
	json_t *body;
	int rc;

	if (parse_body(x, &body, &err) < 0)
		return err;
	if (check_fields(body, fields, GW_ARRAY_SIZE(fields), &err) < 0) {
		json_decref(body);
		return err;
	}
	name = json_string_value(json_object_get(body, "name"));
	scope = json_string_value(json_object_get(body, "scope"));
	if (!scope)
		scope = "read";
	if (!name || !token_name_is_valid(name)) {
		json_decref(body);
		return admin_problem(400, "invalid name: 1 to 64 letters, digits, '.', '_' or '-'");
	}
	if (strcmp(scope, "admin") && strcmp(scope, "read")) {
		json_decref(body);
		return admin_problem(400, "invalid scope: expected admin or read");
	}
	rc = store_token_create(x->store, name, scope, &t, secret);
	json_decref(body);
	if (rc == -EEXIST)
		return admin_problem(409, "a token with this name exists");
	if (rc < 0)
		return admin_problem(500, "cannot create the token");
	snprintf(x->detail, sizeof(x->detail), "token %lld (%s, %s) created", (long long)t.id,
		 t.name, t.scope);
	err = admin_ok(201, token_json(&t, secret));
	explicit_bzero(secret, sizeof(secret));
	return err;
}

static int fetch_tokens(struct ctx *x, const void *arg, int64_t cursor, unsigned limit,
			void *items, unsigned *n, bool *more)
{
	(void)arg;
	return store_token_list(x->store, cursor, limit, items, n, more);
}

static json_t *token_item(struct ctx *x, const void *t)
{
	(void)x;
	return token_json(t, NULL);
}

static int64_t token_id(const void *t)
{
	return ((const struct store_token *)t)->id;
}

static struct reply list_tokens(struct ctx *x)
{
	static const struct lister l = { "tokens", sizeof(struct store_token), fetch_tokens,
					 token_item, token_id, NULL };

	return list_with(x, &l, NULL);
}

static struct reply token_reply(struct ctx *x, int rc, const struct store_token *t)
{
	if (rc == -ENOENT)
		return admin_problem(404, "no token with id %lld", (long long)x->ids[0]);
	if (rc < 0)
		return admin_problem(500, "cannot read the token");
	return admin_ok(200, token_json(t, NULL));
}

static struct reply get_token(struct ctx *x)
{
	struct store_token t;

	return token_reply(x, store_token_get(x->store, x->ids[0], &t), &t);
}

static struct reply revoke_token(struct ctx *x)
{
	struct store_token t;
	struct reply err;
	int rc;

	if (no_fields(x, &err) < 0)
		return err;
	rc = store_token_revoke(x->store, x->ids[0], &t);

	if (rc == 0)
		snprintf(x->detail, sizeof(x->detail), "token %lld (%s) revoked", (long long)t.id,
			 t.name);
	return token_reply(x, rc, &t);
}

/* ---------------------------------------------------------------- bans */

static const char *guard_kind_name(enum gw_guard_kind k)
{
	return k == GW_GUARD_ACCOUNT ? "account" : "address";
}

/* Addresses and account names with failed logins in the window, and
 * those banned (locked): what the FTPS side counts right now. */
static struct reply list_bans(struct ctx *x)
{
	enum { MAX = 1000 };
	struct gw_guard_entry *list = calloc(MAX, sizeof(*list));
	int64_t mono = gw_mono_ms(), now = gw_now_ms();
	size_t n, i;
	json_t *items;

	if (!list)
		return admin_problem(503, "out of memory");
	n = gw_guard_list(x->guard, mono, gw_live()->ban_window_s,
			  list, MAX);
	items = json_array();
	for (i = 0; i < n && i < MAX; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:I, s:o}",
						       "kind", guard_kind_name(list[i].kind),
						       "key", list[i].key,
						       "failures", (json_int_t)list[i].failures,
						       "banned_until",
						       time_or_null(list[i].banned_ms
									    ? now + list[i].banned_ms
									    : 0)));
	free(list);
	return admin_ok(200, json_pack("{s:o, s:I, s:b}", "items", items, "total", (json_int_t)n,
				       "truncated", n > MAX));
}

static struct reply lift_ban(struct ctx *x)
{
	const char *address = query(x, "address"), *account = query(x, "account");
	enum gw_guard_kind kind = account ? GW_GUARD_ACCOUNT : GW_GUARD_ADDRESS;
	const char *key = account ? account : address;
	struct reply err, r;

	if (no_fields(x, &err) < 0)
		return err;
	if (!address == !account)
		return admin_problem(400, "name what to lift: ?address=IP or ?account=USERNAME");
	if (!gw_guard_lift(x->guard, kind, key))
		return admin_problem(404, "no failed logins or ban for %s '%.64s'",
				     guard_kind_name(kind), key);
	snprintf(x->detail, sizeof(x->detail), "ban of %s '%.64s' lifted", guard_kind_name(kind), key);
	r = admin_ok(204, NULL);
	r.raw = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	return r.raw ? r : admin_problem(500, "out of memory");
}

/* ---------------------------------------------------------------- audit */

static int fetch_audit(struct ctx *x, const void *arg, int64_t cursor, unsigned limit,
		       void *items, unsigned *n, bool *more)
{
	(void)arg;
	return store_audit_list(x->store, cursor, limit, items, n, more);
}

static json_t *audit_item(struct ctx *x, const void *item)
{
	const struct store_audit *a = item;

	(void)x;
	return json_pack("{s:I, s:o, s:o, s:s, s:s, s:s, s:s, s:i, s:s}", "id", (json_int_t)a->id,
			 "at", time_or_null(a->at_ms),
			 "token_id", a->token_id ? json_integer(a->token_id) : json_null(),
			 "token_name", a->token_name, "client_address", a->client_address,
			 "method", a->method, "path", a->path, "status", a->status, "detail", a->detail);
}

static int64_t audit_id(const void *a)
{
	return ((const struct store_audit *)a)->id;
}

static struct reply list_audit(struct ctx *x)
{
	static const struct lister l = { "the audit log", sizeof(struct store_audit), fetch_audit,
					 audit_item, audit_id, NULL };

	return list_with(x, &l, NULL);
}

/* ---------------------------------------------------------------- routes */

const struct admin_route admin_routes[] = {
	{ "GET", API "/health", true, get_health },
	{ "GET", API "/openapi.json", true, get_openapi },
	{ "GET", API "/metrics", false, get_metrics },
	{ "POST", API "/accounts", false, create_account },
	{ "GET", API "/accounts", false, list_accounts },
	{ "GET", API "/accounts/{id}", false, get_account },
	{ "PATCH", API "/accounts/{id}", false, patch_account },
	{ "DELETE", API "/accounts/{id}", false, delete_account },
	{ "POST", API "/accounts/{id}/password", false, new_password },
	{ "POST", API "/accounts/{id}/keys", false, create_key },
	{ "GET", API "/accounts/{id}/keys", false, list_keys },
	{ "GET", API "/accounts/{id}/keys/{key_id}", false, get_key },
	{ "DELETE", API "/accounts/{id}/keys/{key_id}", false, revoke_key },
	{ "GET", API "/uploads", false, list_uploads },
	{ "GET", API "/uploads/{id}", false, get_upload },
	{ "DELETE", API "/uploads/{id}", false, purge_upload },
	{ "POST", API "/uploads/{id}/retry", false, retry_upload },
	{ "GET", API "/events", false, get_events },
	{ "POST", API "/tokens", false, create_token },
	{ "GET", API "/tokens", false, list_tokens },
	{ "GET", API "/tokens/{id}", false, get_token },
	{ "DELETE", API "/tokens/{id}", false, revoke_token },
	{ "GET", API "/bans", false, list_bans },
	{ "DELETE", API "/bans", false, lift_ban },
	{ "GET", API "/audit", false, list_audit },
};

const size_t admin_nroutes = GW_ARRAY_SIZE(admin_routes);
