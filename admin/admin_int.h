/* admin_int.h - what the files of admin/ share. Not for other parts. */
#ifndef FTPSGATE_ADMIN_INT_H
#define FTPSGATE_ADMIN_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "admin.h"
#include "gw.h"
#include "store.h"

#define API "/api/v1"
#define MAX_IDS 4

struct admin_server;

/* One request, as the handlers see it. */
struct ctx {
	struct admin_server *srv;
	struct store *store;
	struct gw_guard *guard;
	const struct gw_config *cfg;
	struct MHD_Connection *conn;
	const char *method;
	const char *url;
	int64_t ids[MAX_IDS]; /* numbers found where a route has {id} */
	const char *body;
	size_t body_len;
	struct store_token who; /* the caller's token */
	char client_ip[64];
	char detail[256]; /* what a change did, for the audit log */
};

/* What a handler answers. */
struct reply {
	unsigned status;
	json_t *json;       /* owned */
	char allow[64];     /* 405: the methods the path has */
	char etag[32];      /* "" = none */
	int retry_after_s;  /* 429 */
	struct MHD_Response *raw; /* instead of json: a ready response (SSE, files) */
};

struct reply admin_problem(unsigned status, const char *fmt, ...) GW_PRINTF(2, 3);
struct reply admin_ok(unsigned status, json_t *json);

/* handlers.c */
typedef struct reply admin_handler_fn(struct ctx *x);
struct admin_route {
	const char *method;
	const char *pattern; /* "{id}", "{key_id}": a positive integer */
	bool is_public;      /* no token needed */
	admin_handler_fn *fn;
};
extern const struct admin_route admin_routes[];
extern const size_t admin_nroutes;

/* The OpenAPI document, built in (openapi.c, generated). */
extern const char admin_openapi_json[];
extern const size_t admin_openapi_json_len;

/* http.c: Server-Sent Events response for GET /events. */
struct reply admin_events_response(struct ctx *x, uint64_t after, int64_t account_id);

/* The fields of a POST /accounts (create) or PATCH /accounts/{id} body,
 * checked (names, types, values) into spec; err names the first wrong
 * one. spec's strings point into body. */
int admin_account_body(json_t *body, bool create, struct store_account_spec *spec,
		       struct reply *err);

/* RFC 3339 ("2026-11-29T13:50:19Z", fractions and offsets allowed) to
 * milliseconds since the epoch. */
int admin_parse_time(const char *s, int64_t *ms);

#endif
