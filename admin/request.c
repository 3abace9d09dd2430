/* request.c - what every handler uses: times, JSON text, the query string,
 * paging through lists, request bodies and their fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin_int.h"

json_t *admin_time_or_null(int64_t ms)
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

/* The length of the valid UTF-8 sequence of 2 to 4 bytes at p, or 0. */
size_t admin_utf8_sequence(const unsigned char *p)
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

/* JSON written as text, for the lists that are read most (uploads):
 * the same document jansson would give, without an object per field. */

/* s as a JSON string; bytes that are not UTF-8 become U+FFFD. */
void admin_text_str(struct gw_buf *b, const char *s)
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
		n = admin_utf8_sequence(p);
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

void admin_text_str_or_null(struct gw_buf *b, const char *s)
{
	if (s[0])
		admin_text_str(b, s);
	else
		gw_buf_adds(b, "null");
}

void admin_text_time(struct gw_buf *b, int64_t ms)
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

void admin_text_int_or_null(struct gw_buf *b, bool present, long long v)
{
	if (present)
		gw_buf_add_int(b, v);
	else
		gw_buf_adds(b, "null");
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

/* The page as JSON text written directly (lister.text). */
static struct reply page_text(const struct admin_lister *l, const char *items, unsigned n, bool more)
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

struct reply admin_list_with(struct ctx *x, const struct admin_lister *l, const void *arg)
{
	uint64_t limit, cursor;
	unsigned n = 0, i;
	bool more = false;
	struct reply r;
	char *items;
	json_t *arr;

	if (admin_paging(x, &limit, &cursor, &r) < 0)
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

const char *admin_query(struct ctx *x, const char *name)
{
	return MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* A query parameter as an integer in [min, max]; absent gives def. */
int admin_query_int(struct ctx *x, const char *name, uint64_t min, uint64_t max, uint64_t def,
		     uint64_t *out)
{
	const char *v = admin_query(x, name);

	if (!v) {
		*out = def;
		return 0;
	}
	return gw_parse_u64(v, min, max, out);
}

/* limit and cursor, the same on every list. */
int admin_paging(struct ctx *x, uint64_t *limit, uint64_t *cursor, struct reply *err)
{
	if (admin_query_int(x, "limit", 1, GW_PAGE_LIMIT_MAX, 100, limit) < 0) {
		*err = admin_problem(400, "invalid limit: expected an integer from 1 to %d",
				     GW_PAGE_LIMIT_MAX);
		return -EINVAL;
	}
	if (admin_query_int(x, "cursor", 1, INT64_MAX, 0, cursor) < 0) {
		*err = admin_problem(400, "invalid cursor: pass next_cursor from the previous page");
		return -EINVAL;
	}
	return 0;
}

/* Parse the body as a JSON object; an empty body is {}. */
int admin_parse_body(struct ctx *x, json_t **out, struct reply *err)
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
int admin_no_fields(struct ctx *x, struct reply *err)
{
	json_t *body;

	if (x->body_len == 0)
		return 0;
	if (admin_parse_body(x, &body, err) < 0)
		return -EINVAL;
	if (json_object_size(body)) {
		json_decref(body);
		*err = admin_problem(400, "unknown field: this request takes no fields");
		return -EINVAL;
	}
	json_decref(body);
	return 0;
}

static bool has_type(json_t *v, const char *type)
{
	if (!strcmp(type, "string"))
		return json_is_string(v);
	if (!strcmp(type, "integer"))
		return json_is_integer(v);
	if (!strcmp(type, "array"))
		return json_is_array(v);
	return json_is_boolean(v);
}

int admin_check_fields(json_t *body, const struct admin_field *fields, size_t n, struct reply *err)
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
					     strchr("ai", fields[i].type[0]) ? "an" : "a", fields[i].type,
					     fields[i].nullable ? " or null" : "");
			return -EINVAL;
		}
	}
	return 0;
}

/* Read the account fields of a POST or PATCH body into spec. */

int admin_query_time(struct ctx *x, const char *name, int64_t *ms, struct reply *err)
{
	const char *v = admin_query(x, name);

	*ms = 0;
	if (v && admin_parse_time(v, ms) < 0) {
		*err = admin_problem(400, "invalid %s: expected an RFC 3339 time such as"
					  " 2026-11-29T00:00:00Z", name);
		return -EINVAL;
	}
	return 0;
}
