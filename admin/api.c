/* api.c - the admin REST API on libmicrohttpd (HTTPS) with jansson.
 *
 * Every request: route by method and path, check the bearer token, read
 * a bounded body, parse strict JSON, call store/, answer JSON or an
 * application/problem+json error. Handlers run on libmicrohttpd's thread
 * pool and may block on the store.
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "gw.h"

#define API "/api/v1"
#define MAX_SEGMENTS 8

struct admin_server {
	struct MHD_Daemon *mhd;
	const struct gw_config *cfg;
	struct store *store;
	char *cert_pem, *key_pem;
};

/* What one request carries between libmicrohttpd's calls. */
struct request {
	struct gw_buf body;
	bool too_large;
};

struct ctx {
	struct admin_server *srv;
	struct MHD_Connection *conn;
	const char *method;
	int64_t ids[MAX_SEGMENTS]; /* numbers found where a route has {id} */
	const char *body;
	size_t body_len;
};

struct reply {
	unsigned status;
	json_t *json; /* owned */
	const char *allow;
};

/* ---------------------------------------------------------------- replies */

static const char *reason(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	default: return "Error";
	}
}

static struct reply problem(unsigned status, const char *fmt, ...) GW_PRINTF(2, 3);

static struct reply problem(unsigned status, const char *fmt, ...)
{
	struct reply r = { status, NULL, NULL };
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	r.json = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", reason(status),
			   "status", (int)status, "detail", detail);
	return r;
}

static struct reply ok(unsigned status, json_t *json)
{
	struct reply r = { status, json, NULL };

	return r;
}

static json_t *time_or_null(int64_t ms)
{
	char ts[32];

	if (ms <= 0)
		return json_null();
	gw_format_time(ms, ts);
	return json_string(ts);
}

/* ---------------------------------------------------------------- helpers */

/* The host accounts are told to connect to. */
static void ftps_host(struct ctx *x, char *out, size_t size)
{
	const struct gw_config *cfg = x->srv->cfg;
	const char *host;
	const char *colon;

	if (cfg->public_host[0]) {
		gw_strlcpy(out, cfg->public_host, size);
		return;
	}
	if (cfg->passive_address[0]) {
		gw_strlcpy(out, cfg->passive_address, size);
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
	o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:{s:s, s:i}}", "id", (json_int_t)a->id,
		      "username", a->username, "description", a->description, "status", a->status,
		      "created_at", time_or_null(a->created_at_ms), "ftps", "host", host, "port",
		      (int)x->srv->cfg->ftps_port);
	if (o && password)
		json_object_set_new(o, "password", json_string(password));
	return o;
}

static json_t *upload_json(const struct store_upload_info *u)
{
	return json_pack("{s:I, s:I, s:s, s:s, s:o, s:I, s:o, s:s, s:o, s:o, s:o}",
			 "id", (json_int_t)u->id, "account_id", (json_int_t)u->account_id,
			 "path", u->path, "state", u->state,
			 "size", u->size < 0 ? json_null() : json_integer(u->size),
			 "bytes_received", (json_int_t)u->bytes_received,
			 "sha256", u->sha256[0] ? json_string(u->sha256) : json_null(),
			 "client_address", u->client_address,
			 "started_at", time_or_null(u->started_at_ms),
			 "completed_at", time_or_null(u->completed_at_ms),
			 "error", u->error[0] ? json_string(u->error) : json_null());
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

/* Read a query parameter as an integer in [min, max]; absent gives def. */
static int query_int(struct ctx *x, const char *name, uint64_t min, uint64_t max, uint64_t def,
		     uint64_t *out)
{
	const char *v = MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, name);

	if (!v) {
		*out = def;
		return 0;
	}
	return gw_parse_u64(v, min, max, out);
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
		*err = problem(415, "the body must be application/json");
		return -EINVAL;
	}
	root = json_loadb(x->body, x->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		*err = problem(400, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
			       jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		*err = problem(400, "the body must be a JSON object");
		return -EINVAL;
	}
	*out = root;
	return 0;
}

/* Every key of body must be one of fields, of the JSON type given there;
 * the problem names the first that is not. */
struct field {
	const char *name;
	json_type type;
};

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
			*err = problem(400, "unknown field '%.64s'", key);
			return -EINVAL;
		}
		if (json_typeof(val) != fields[i].type) {
			*err = problem(400, "field '%s' must be %s", key,
				       fields[i].type == JSON_STRING ? "a string" : "of another type");
			return -EINVAL;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- handlers */

static struct reply get_health(struct ctx *x)
{
	(void)x;
	return ok(200, json_pack("{s:s}", "status", "ok"));
}

static struct reply create_account(struct ctx *x)
{
	const char *username = NULL, *description = NULL;
	char password[STORE_PASSWORD_LEN + 1];
	struct store_account a;
	struct reply err;
	json_t *body, *o;
	int r;

	static const struct field fields[] = {
		{ "username", JSON_STRING },
		{ "description", JSON_STRING },
	};

	if (parse_body(x, &body, &err) < 0)
		return err;
	if (check_fields(body, fields, GW_ARRAY_SIZE(fields), &err) < 0) {
		json_decref(body);
		return err;
	}
	username = json_string_value(json_object_get(body, "username"));
	description = json_string_value(json_object_get(body, "description"));
	if (username && !store_username_is_valid(username)) {
		json_decref(body);
		return problem(400, "invalid username: use 1 to %d letters, digits, '.', '_' or '-',"
				    " not starting with '.' or '-'", GW_USER_MAX);
	}
	if (description && strlen(description) > GW_DESCRIPTION_MAX) {
		json_decref(body);
		return problem(400, "invalid description: longer than %d bytes", GW_DESCRIPTION_MAX);
	}
	r = store_account_create(x->srv->store, username, description, &a, password);
	json_decref(body);
	if (r == -EEXIST)
		return problem(409, "an account with this username exists");
	if (r < 0)
		return problem(500, "cannot create the account");
	gw_info("admin.account_created", "account %lld ('%s') created", (long long)a.id, a.username);
	o = account_json(x, &a, password);
	explicit_bzero(password, sizeof(password));
	return ok(201, o);
}

static struct reply list_accounts(struct ctx *x)
{
	struct store_account *items;
	uint64_t limit, cursor;
	unsigned n = 0, i;
	bool more = false;
	json_t *arr, *o;
	int r;

	if (query_int(x, "limit", 1, GW_PAGE_LIMIT_MAX, 100, &limit) < 0)
		return problem(400, "invalid limit: expected an integer from 1 to %d", GW_PAGE_LIMIT_MAX);
	if (query_int(x, "cursor", 0, INT64_MAX, 0, &cursor) < 0)
		return problem(400, "invalid cursor");
	items = calloc(limit, sizeof(*items));
	if (!items)
		return problem(500, "out of memory");
	r = store_account_list(x->srv->store, (int64_t)cursor, (unsigned)limit, items, &n, &more);
	if (r < 0) {
		free(items);
		return problem(500, "cannot list accounts");
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, account_json(x, &items[i], NULL));
	o = page(arr, more, n ? items[n - 1].id : 0);
	free(items);
	return ok(200, o);
}

static struct reply get_account(struct ctx *x)
{
	struct store_account a;
	int r = store_account_get(x->srv->store, x->ids[0], &a);

	if (r == -ENOENT)
		return problem(404, "no account with id %lld", (long long)x->ids[0]);
	if (r < 0)
		return problem(500, "cannot read the account");
	return ok(200, account_json(x, &a, NULL));
}

static struct reply new_password(struct ctx *x)
{
	char password[STORE_PASSWORD_LEN + 1];
	struct store_account a;
	json_t *o;
	int r;

	if (x->body_len) {
		json_t *body;
		struct reply err;

		if (parse_body(x, &body, &err) < 0)
			return err;
		if (json_object_size(body)) {
			json_decref(body);
			return problem(400, "this request takes no fields");
		}
		json_decref(body);
	}
	r = store_account_new_password(x->srv->store, x->ids[0], password);
	if (r == -ENOENT)
		return problem(404, "no account with id %lld", (long long)x->ids[0]);
	if (r < 0 || store_account_get(x->srv->store, x->ids[0], &a) < 0)
		return problem(500, "cannot change the password");
	gw_info("admin.password_issued", "new password for account %lld", (long long)a.id);
	o = account_json(x, &a, password);
	explicit_bzero(password, sizeof(password));
	return ok(200, o);
}

static struct reply list_uploads(struct ctx *x)
{
	struct store_upload_info *items;
	uint64_t limit, cursor, account;
	const char *state;
	unsigned n = 0, i;
	bool more = false;
	json_t *arr, *o;
	int r;

	if (query_int(x, "limit", 1, GW_PAGE_LIMIT_MAX, 100, &limit) < 0)
		return problem(400, "invalid limit: expected an integer from 1 to %d", GW_PAGE_LIMIT_MAX);
	if (query_int(x, "cursor", 1, INT64_MAX, 0, &cursor) < 0)
		return problem(400, "invalid cursor");
	if (query_int(x, "account_id", 1, INT64_MAX, 0, &account) < 0)
		return problem(400, "invalid account_id: expected an account id");
	state = MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, "state");
	if (state && !store_upload_state_is_valid(state))
		return problem(400, "invalid state '%.32s'", state);
	items = calloc(limit, sizeof(*items));
	if (!items)
		return problem(500, "out of memory");
	r = store_upload_list(x->srv->store, (int64_t)account, state, (int64_t)cursor,
			      (unsigned)limit, items, &n, &more);
	if (r < 0) {
		free(items);
		return problem(500, "cannot list uploads");
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, upload_json(&items[i]));
	o = page(arr, more, n ? items[n - 1].id : 0);
	free(items);
	return ok(200, o);
}

static struct reply get_upload(struct ctx *x)
{
	struct store_upload_info u;
	int r = store_upload_get(x->srv->store, x->ids[0], &u);

	if (r == -ENOENT)
		return problem(404, "no upload with id %lld", (long long)x->ids[0]);
	if (r < 0)
		return problem(500, "cannot read the upload");
	return ok(200, upload_json(&u));
}

/* ---------------------------------------------------------------- routing */

struct route {
	const char *method;
	const char *pattern; /* "{id}" matches a positive integer */
	bool public;
	struct reply (*fn)(struct ctx *x);
};

static const struct route routes[] = {
	{ "GET", API "/health", true, get_health },
	{ "POST", API "/accounts", false, create_account },
	{ "GET", API "/accounts", false, list_accounts },
	{ "GET", API "/accounts/{id}", false, get_account },
	{ "POST", API "/accounts/{id}/password", false, new_password },
	{ "GET", API "/uploads", false, list_uploads },
	{ "GET", API "/uploads/{id}", false, get_upload },
};

/* Match url against pattern; numbers for {id} go to ids. */
static bool match(const char *pattern, const char *url, int64_t *ids)
{
	unsigned nid = 0;

	while (*pattern && *url) {
		if (!strncmp(pattern, "{id}", 4)) {
			uint64_t v = 0;
			char num[24];
			size_t n = strcspn(url, "/");

			if (n == 0 || n >= sizeof(num))
				return false;
			memcpy(num, url, n);
			num[n] = '\0';
			if (gw_parse_u64(num, 1, INT64_MAX, &v) < 0 || nid >= MAX_SEGMENTS)
				return false;
			ids[nid++] = (int64_t)v;
			pattern += 4;
			url += n;
			continue;
		}
		if (*pattern != *url)
			return false;
		pattern++;
		url++;
	}
	return !*pattern && !*url;
}

static bool authorized(struct ctx *x)
{
	const char *h = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	return store_admin_check(x->srv->store, h + 7) == 0;
}

static struct reply route(struct ctx *x, const char *url)
{
	const struct route *found = NULL;
	bool path_known = false;
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(routes); i++) {
		int64_t ids[MAX_SEGMENTS];

		if (!match(routes[i].pattern, url, ids))
			continue;
		path_known = true;
		if (strcmp(routes[i].method, x->method) == 0) {
			found = &routes[i];
			memcpy(x->ids, ids, sizeof(ids));
			break;
		}
	}
	if (!found && path_known) {
		struct reply r = problem(405, "method %s is not allowed here", x->method);

		for (i = 0; i < GW_ARRAY_SIZE(routes); i++) {
			int64_t ids[MAX_SEGMENTS];

			if (match(routes[i].pattern, url, ids))
				r.allow = routes[i].method; /* one method per path here */
		}
		return r;
	}
	if (!found)
		return problem(404, "no such resource");
	if (!found->public && !authorized(x))
		return problem(401, "a valid admin bearer token is required");
	return found->fn(x);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text;

	if (!r->json)
		*r = problem(500, "out of memory");
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
				r->status >= 400 ? "application/problem+json" : "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void client_ip(struct MHD_Connection *conn, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	gw_strlcpy(out, "?", size);
	if (ci && ci->client_addr)
		getnameinfo(ci->client_addr,
			    ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								   : sizeof(struct sockaddr_in),
			    out, (socklen_t)size, NULL, 0, NI_NUMERICHOST);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct admin_server *srv = cls;
	struct request *rq = *req_cls;
	struct reply r;
	struct ctx x;
	char ip[64];
	unsigned status;
	enum MHD_Result ret;

	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		gw_buf_init(&rq->body, GW_ADMIN_BODY_MAX);
		*req_cls = rq;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!rq->too_large && gw_buf_add(&rq->body, upload_data, *upload_data_size) < 0) {
			rq->too_large = true;
			gw_buf_release(&rq->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	memset(&x, 0, sizeof(x));
	x.srv = srv;
	x.conn = conn;
	x.method = method;
	x.body = gw_buf_str(&rq->body);
	x.body_len = rq->body.len;
	if (rq->too_large)
		r = problem(413, "the body is larger than %d bytes", GW_ADMIN_BODY_MAX);
	else
		r = route(&x, url);
	status = r.status;
	ret = send_reply(conn, &r);
	client_ip(conn, ip, sizeof(ip));
	gw_info("admin.request", "%s %s -> %u from %s", method, url, status, ip);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *req_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!rq)
		return;
	gw_buf_release(&rq->body);
	free(rq);
	*req_cls = NULL;
}

static int read_pem(const char *path, char **out, char *err, size_t err_size)
{
	struct gw_buf b;
	char chunk[4096];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		snprintf(err, err_size, "cannot read '%s': %s", path, strerror(errno));
		return -errno;
	}
	gw_buf_init(&b, 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (gw_buf_add(&b, chunk, n) < 0) {
			fclose(f);
			gw_buf_release(&b);
			snprintf(err, err_size, "cannot read '%s': larger than 1 MiB", path);
			return -EFBIG;
		}
	}
	fclose(f);
	*out = b.data ? b.data : strdup("");
	return 0;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	gw_warn("admin.http", "%s", msg);
}

int admin_start(const struct gw_config *cfg, const char *cert, const char *key,
		struct store *st, struct admin_server **out, char *err, size_t err_size)
{
	struct admin_server *srv;
	int r, lfd = -1;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cfg = cfg;
	srv->store = st;
	r = read_pem(cert, &srv->cert_pem, err, err_size);
	if (r == 0)
		r = read_pem(key, &srv->key_pem, err, err_size);
	if (r < 0)
		goto fail;
	r = gw_listen_tcp("the admin API", cfg->admin_host, cfg->admin_port, 128, &lfd, err,
			  err_size);
	if (r < 0)
		goto fail;
	srv->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, srv,
		MHD_OPTION_EXTERNAL_LOGGER, log_mhd, srv, /* first, to catch all */
		MHD_OPTION_LISTEN_SOCKET, lfd,
		MHD_OPTION_HTTPS_MEM_CERT, srv->cert_pem,
		MHD_OPTION_HTTPS_MEM_KEY, srv->key_pem,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)64,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_END);
	if (!srv->mhd) {
		/* The socket is bound, so what is left is TLS or resources. */
		close(lfd);
		snprintf(err, err_size, "cannot start the admin API on %s:%u with certificate '%s'"
					" (see the log line before)", cfg->admin_host, cfg->admin_port, cert);
		r = -EINVAL;
		goto fail;
	}
	gw_info("admin.listen", "admin API on https://%s:%u" API, cfg->admin_host, cfg->admin_port);
	*out = srv;
	return 0;
fail:
	admin_stop(srv);
	return r;
}

void admin_stop(struct admin_server *srv)
{
	if (!srv)
		return;
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	if (srv->key_pem)
		explicit_bzero(srv->key_pem, strlen(srv->key_pem));
	free(srv->cert_pem);
	free(srv->key_pem);
	free(srv);
}
