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
#define ADMIN_NAME_MAX 64 /* a {node} in a path */

#include <pthread.h>

#define AUTH_FAILURES_MAX 10   /* failed authentications from one address... */
#define AUTH_WINDOW_MS 60000   /* ...within this window get 429 */
#define AUTH_SLOTS 256
#define SSE_KEEPALIVE_MS 15000

/* Limits that keep the API answering whoever holds connections: */
#define ADMIN_THREADS 4            /* the pool serving every connection */
#define ADMIN_CONNECTIONS_MAX 1024 /* connections at once... */
#define ADMIN_CONNECTIONS_PER_IP 32 /* ...and from one address */
#define ADMIN_IDLE_TIMEOUT_S 30    /* a kept-alive connection with nothing to say */
#define ADMIN_HEADERS_MS 10000     /* a request's line and headers must come in this long */
#define ADMIN_BODY_MS 30000        /* and its body in this long */
#define ADMIN_STREAMS_MAX 64       /* event streams at once... */
#define ADMIN_STREAMS_PER_IP 8     /* ...and from one address */
#define WATCH_TICK_MS 500

/* The console's sessions (session.c): a cookie for a token, signed in. */
#define SESSION_COOKIE "ftpsgate_session"
#define SESSION_SECRET_LEN 64        /* random letters and digits: the cookie, the CSRF token */
#define SESSIONS_MAX 256             /* at once on this node; the least recently used goes */
#define SESSION_IDLE_MS (3600 * 1000) /* ends an hour after its last request... */
#define SESSION_LIFE_MS (12 * 3600 * 1000) /* ...and 12 hours after sign-in in any case */

struct console_session {
	char id[SESSION_SECRET_LEN + 1]; /* "" = a free slot */
	char csrf[SESSION_SECRET_LEN + 1];
	int64_t token_id;
	int64_t started_ms, used_ms; /* monotonic */
	int64_t expires_at_ms;       /* wall clock: what the console shows */
};

/* Bytes received by this node, in RATE_BUCKETS buckets of RATE_BUCKET_MS
 * (the last hour), for the console's throughput graph. */
#define RATE_BUCKET_MS 10000
#define RATE_BUCKETS 360

struct auth_failures {
	char ip[64];
	int64_t since_ms;
	unsigned count;
};

/* One TCP connection: where its current request is, and since when. */
enum conn_phase { P_HEADERS, P_BODY, P_ANSWERING };

struct conn_track {
	int fd;
	enum conn_phase phase;
	int64_t since_ms;
	bool cut; /* shut down by the watcher */
	struct conn_track *prev, *next;
};

struct sse;

struct admin_server {
	struct MHD_Daemon *mhd;
	struct MHD_Daemon *retired[8]; /* before reloads: they finish their connections */
	unsigned nretired;
	char *old_pems[16];
	unsigned nold;
	const struct gw_config *cfg;
	struct store *store;
	struct gw_guard *guard;
	char *cert_pem, *key_pem;
	volatile int stopping;
	pthread_mutex_t fail_lock;
	struct auth_failures fails[AUTH_SLOTS];
	/* connections (conn_lock), event streams (sse_lock), the watcher */
	pthread_mutex_t conn_lock;
	struct conn_track *conns;
	pthread_mutex_t sse_lock;
	struct sse *suspended; /* streams waiting for something to send */
	unsigned nstreams;
	struct gw_counter *streams_per_ip;
	pthread_t watcher;
	bool watching;
	pthread_mutex_t session_lock;
	struct console_session sessions[SESSIONS_MAX];
	pthread_mutex_t rate_lock;
	uint64_t rate[RATE_BUCKETS];
	int64_t rate_bucket;    /* the bucket being filled: monotonic ms / RATE_BUCKET_MS */
	int64_t rate_last;      /* the byte counter when last looked at */
	struct webhook_sender *webhooks;
};

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
	char name[ADMIN_NAME_MAX + 1]; /* what a route's {node} matched */
	const char *body;
	size_t body_len;
	struct store_token who; /* the caller's token */
	bool via_cookie;        /* a console session, not a bearer token */
	char csrf[SESSION_SECRET_LEN + 1]; /* that session's CSRF token */
	int64_t session_expires_ms;
	char client_ip[64];
	char detail[256]; /* what a change did, for the audit log */
	int64_t audit_account; /* the account it was made to (0: none, or the route's {id}) */
};

/* What a handler answers. */
struct reply {
	unsigned status;
	json_t *json;       /* owned */
	char allow[64];     /* 405: the methods the path has */
	char etag[32];      /* "" = none */
	int retry_after_s;  /* 429 */
	bool document;      /* json is the answer itself, not a problem, at any status */
	char cookie[160];   /* Set-Cookie, "" = none */
	struct MHD_Response *raw; /* instead of json: a ready response (SSE, files) */
};

struct reply admin_problem(unsigned status, const char *fmt, ...) GW_PRINTF(2, 3);
struct reply admin_ok(unsigned status, json_t *json);
/* 204, with no body. */
struct reply admin_no_content(void);
/* 503 problem+json: the records database cannot be reached (and why),
 * with Retry-After. */
struct reply admin_unavailable(struct ctx *x, const char *what);

/* routes.c: every route, and the handlers it names (one file per
 * resource: service.c, accounts.c, keys.c, uploads.c, tokens.c, bans.c,
 * audit.c). */
typedef struct reply admin_handler_fn(struct ctx *x);
struct admin_route {
	const char *method;
	const char *pattern; /* "{id}", "{key_id}": a positive integer; "{node}": a node id */
	admin_handler_fn *fn;
	bool is_public;      /* no token needed */
	bool any_scope;      /* a change a read-only token may make too (sign out) */
};
extern const struct admin_route admin_routes[];
extern const size_t admin_nroutes;

admin_handler_fn admin_get_health, admin_get_openapi, admin_get_metrics;
admin_handler_fn admin_list_nodes, admin_drain_node;
admin_handler_fn admin_create_account, admin_list_accounts, admin_get_account,
	admin_patch_account, admin_delete_account, admin_new_password;
admin_handler_fn admin_create_key, admin_list_keys, admin_get_key, admin_revoke_key;
admin_handler_fn admin_list_uploads, admin_get_upload, admin_purge_upload, admin_retry_upload,
	admin_get_events;
admin_handler_fn admin_create_token, admin_list_tokens, admin_get_token, admin_revoke_token;
admin_handler_fn admin_list_bans, admin_lift_ban;
admin_handler_fn admin_list_audit;
admin_handler_fn admin_sign_in, admin_get_session, admin_sign_out, admin_get_stats;
admin_handler_fn admin_create_webhook, admin_list_webhooks, admin_get_webhook, admin_delete_webhook,
	admin_list_deliveries, admin_retry_delivery;

/* http.c: failed authentications from an address: 0, or the seconds it
 * must wait; count one more. */
int admin_auth_wait_s(struct admin_server *srv, const char *ip);
void admin_auth_failed(struct admin_server *srv, const char *ip);

/* session.c: the caller of a request that carries the session cookie
 * (and no bearer token): x->who and the session's CSRF token, or the
 * reply refusing it (the session ended, a change without the CSRF token
 * or from another site). */
int admin_session_auth(struct ctx *x, const char *cookie, struct reply *err);

/* console.c: GET / and the console's files (any path outside API). */
struct reply admin_console_asset(struct ctx *x);
/* The headers every answer carries: the console's Content-Security-
 * Policy, no framing, no referrer, no sniffing. */
void admin_security_headers(struct MHD_Response *resp);
/* The watcher: what this node received since it last looked, into the
 * throughput buckets. */
void admin_rate_tick(struct admin_server *srv, int64_t now_ms);

/* ---------------------------------------------------------------- request.c */

/* One page of any list: the handler checks its filters, fetch reads a
 * page from the store (arg carries the filters), item turns one into
 * JSON, id gives what next_cursor continues from. */
struct admin_lister {
	const char *what;
	size_t size; /* of one item */
	int (*fetch)(struct ctx *x, const void *arg, int64_t cursor, unsigned limit, void *items,
		     unsigned *n, bool *more);
	json_t *(*item)(struct ctx *x, const void *item);
	int64_t (*id)(const void *item);
	void (*text)(struct gw_buf *b, const void *item); /* NULL: item() */
};

/* A page of the list l (limit and cursor from the query string). */
struct reply admin_list_with(struct ctx *x, const struct admin_lister *l, const void *arg);
/* limit (1-1000, default 100) and cursor of the query string. */
int admin_paging(struct ctx *x, uint64_t *limit, uint64_t *cursor, struct reply *err);

/* Every key of body must be one of fields, of the JSON type given there
 * (or null where allowed); the problem names the first that is not. */
struct admin_field {
	const char *name;
	const char *type; /* "string", "integer", "boolean" */
	bool nullable;
};

int admin_check_fields(json_t *body, const struct admin_field *fields, size_t n,
		       struct reply *err);
/* The request body as a JSON object (duplicate keys refused). */
int admin_parse_body(struct ctx *x, json_t **out, struct reply *err);
/* A request that takes no body and no query parameters. */
int admin_no_fields(struct ctx *x, struct reply *err);
/* A query-string parameter; NULL when absent. */
const char *admin_query(struct ctx *x, const char *name);
int admin_query_int(struct ctx *x, const char *name, uint64_t min, uint64_t max, uint64_t def,
		    uint64_t *out);
int admin_query_time(struct ctx *x, const char *name, int64_t *ms, struct reply *err);

/* Times as RFC 3339 strings with milliseconds, null for none (ms <= 0). */
json_t *admin_time_or_null(int64_t ms);
/* Bytes of the UTF-8 sequence at p; 0 when it is not one. */
size_t admin_utf8_sequence(const unsigned char *p);
/* JSON text into b: s as a string (not UTF-8 becomes U+FFFD), "" or
 * absent as null, a time, an integer. */
void admin_text_str(struct gw_buf *b, const char *s);
void admin_text_str_or_null(struct gw_buf *b, const char *s);
void admin_text_time(struct gw_buf *b, int64_t ms);
void admin_text_int_or_null(struct gw_buf *b, bool present, long long v);

/* uploads.c: an upload as the API shows it. */
json_t *admin_upload_json(const struct store_upload_info *u);

/* webhook_sender.c: the thread sending webhook deliveries. An address
 * a webhook may reach only with webhook_allow_private. */
struct webhook_sender;
int admin_webhooks_start(struct admin_server *srv, struct webhook_sender **out);
void admin_webhooks_stop(struct webhook_sender *ws);
bool admin_address_is_private(const struct sockaddr *sa);

/* keys.c: a key as the API shows it. */
json_t *admin_key_json(const struct store_key *k);

/* The OpenAPI document, built in (openapi.c, generated). */
extern const char admin_openapi_json[];
extern const size_t admin_openapi_json_len;

/* events.c: the Server-Sent Events response of GET /events; waking
 * the suspended streams that have something to send (the watcher). */
struct reply admin_events_response(struct ctx *x, uint64_t after, int64_t account_id);
void admin_events_wake(struct admin_server *srv, uint64_t seen, int64_t now_ms, bool stopping);
/* replies.c: send r on conn (and release what it holds). */
enum MHD_Result admin_send_reply(struct MHD_Connection *conn, struct reply *r);

/* The fields of a POST /accounts (create) or PATCH /accounts/{id} body,
 * checked (names, types, values) into spec; err names the first wrong
 * one. spec's strings point into body. */
int admin_account_body(json_t *body, bool create, struct store_account_spec *spec,
		       struct reply *err);

/* RFC 3339 ("2026-11-29T13:50:19Z", fractions and offsets allowed) to
 * milliseconds since the epoch. */
int admin_parse_time(const char *s, int64_t *ms);

#endif
