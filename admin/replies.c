/* replies.c - what the admin API answers: JSON, or problem+json
 * (RFC 9457) with the status's reason, and the headers every reply has.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

static const char *reason(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

struct reply admin_problem(unsigned status, const char *fmt, ...)
{
	struct reply r;
	char detail[512];
	va_list ap;

	memset(&r, 0, sizeof(r));
	r.status = status;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* A client's text cut short ("%.64s") may end inside a character,
	 * or never was UTF-8: such bytes become '?', or JSON has no string. */
	for (size_t i = 0; detail[i];) {
		const unsigned char *c = (const unsigned char *)detail + i;
		size_t n = *c < 0x80 ? 1 : admin_utf8_sequence(c);

		if (n == 0)
			detail[i++] = '?';
		else
			i += n;
	}
	r.json = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", reason(status),
			   "status", (int)status, "detail", detail);
	return r;
}

struct reply admin_unavailable(struct ctx *x, const char *what)
{
	char why[256];
	struct reply r;

	store_records_status(x->store, false, why, sizeof(why));
	r = admin_problem(503, "%s: the records database (%s) cannot be reached%s%s", what,
			  store_records_name(x->store), why[0] ? ": " : "", why);
	r.retry_after_s = 5;
	return r;
}

struct reply admin_ok(unsigned status, json_t *json)
{
	struct reply r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.json = json;
	return r;
}

struct reply admin_no_content(void)
{
	struct reply r = admin_ok(204, NULL);

	r.raw = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	return r.raw ? r : admin_problem(500, "out of memory");
}

enum MHD_Result admin_send_reply(struct MHD_Connection *conn, struct reply *r)
{
	struct MHD_Response *resp = r->raw;
	enum MHD_Result ret;
	char *text;

	if (!resp) {
		if (!r->json) {
			*r = admin_problem(500, "out of memory");
			if (!r->json)
				return MHD_NO;
		}
		text = json_dumps(r->json, JSON_COMPACT);
		json_decref(r->json);
		r->json = NULL;
		if (!text)
			return MHD_NO;
		resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(text);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					r->status >= 400 && !r->document ? "application/problem+json"
							 : "application/json");
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	admin_security_headers(resp);
	if (r->cookie[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->cookie);
	if (r->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->etag[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
	if (r->retry_after_s) {
		char s[16];

		snprintf(s, sizeof(s), "%d", r->retry_after_s);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, s);
	}
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}
