/* http.c - the admin API's HTTP side on libmicrohttpd: listening (HTTPS
 * with the configured certificate), reading bounded bodies, routing, the
 * bearer token and its scope, slowing down guessing, the audit log of
 * every change; the connections' watcher. Replies are written by
 * replies.c, the event stream by events.c.
 *
 * A few threads (poll, a pool) serve every connection: handlers block
 * on the store only briefly, and an events stream with nothing to send is
 * suspended, holding no thread, until the watcher thread resumes it for
 * a new event or a keep-alive. The watcher also closes connections that
 * take too long to send their request (headers, then body): slow clients
 * hold a connection slot for seconds, not for as long as they like.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin_int.h"

/* What one request carries between libmicrohttpd's calls. */
struct request {
	struct gw_buf body;
	bool too_large;
};

/* ---------------------------------------------------------------- guessing */

/* 0, or the seconds an address must wait after too many failures. */
int admin_auth_wait_s(struct admin_server *srv, const char *ip)
{
	int64_t now = gw_mono_ms();
	int wait = 0;
	size_t i;

	pthread_mutex_lock(&srv->fail_lock);
	for (i = 0; i < AUTH_SLOTS; i++) {
		struct auth_failures *f = &srv->fails[i];

		if (strcmp(f->ip, ip) || now - f->since_ms >= AUTH_WINDOW_MS)
			continue;
		if (f->count >= AUTH_FAILURES_MAX)
			wait = (int)((AUTH_WINDOW_MS - (now - f->since_ms)) / 1000) + 1;
		break;
	}
	pthread_mutex_unlock(&srv->fail_lock);
	return wait;
}

void admin_auth_failed(struct admin_server *srv, const char *ip)
{
	int64_t now = gw_mono_ms();
	struct auth_failures *slot = NULL, *oldest = &srv->fails[0];
	size_t i;

	pthread_mutex_lock(&srv->fail_lock);
	for (i = 0; i < AUTH_SLOTS; i++) {
		struct auth_failures *f = &srv->fails[i];

		if (!strcmp(f->ip, ip)) {
			slot = f;
			break;
		}
		if (f->since_ms < oldest->since_ms)
			oldest = f;
	}
	if (!slot) {
		slot = oldest;
		gw_strlcpy(slot->ip, ip, sizeof(slot->ip));
		slot->count = 0;
		slot->since_ms = now;
	}
	if (now - slot->since_ms >= AUTH_WINDOW_MS) {
		slot->count = 0;
		slot->since_ms = now;
	}
	slot->count++;
	pthread_mutex_unlock(&srv->fail_lock);
}

/* ---------------------------------------------------------------- routing */

/* Match url against pattern; numbers for {id} (and {key_id}) go to ids,
 * a {node} (letters, digits, '.', '-', '_') to name. */
static bool match(const char *pattern, const char *url, int64_t *ids, char name[ADMIN_NAME_MAX + 1])
{
	unsigned nid = 0;

	while (*pattern && *url) {
		if (!strncmp(pattern, "{node}", 6)) {
			size_t n = strcspn(url, "/");

			if (n == 0 || n > ADMIN_NAME_MAX)
				return false;
			for (size_t k = 0; k < n; k++)
				if (!gw_is_node_id_char(url[k]))
					return false;
			memcpy(name, url, n);
			name[n] = '\0';
			pattern += 6;
			url += n;
			continue;
		}
		if (*pattern == '{') {
			uint64_t v = 0;
			char num[24];
			size_t n = strcspn(url, "/");
			const char *close = strchr(pattern, '}');

			if (n == 0 || n >= sizeof(num) || nid >= MAX_IDS)
				return false;
			memcpy(num, url, n);
			num[n] = '\0';
			if (gw_parse_u64(num, 1, INT64_MAX, &v) < 0)
				return false;
			ids[nid++] = (int64_t)v;
			pattern = close + 1;
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

static bool is_change(const char *method)
{
	return strcmp(method, "GET") && strcmp(method, "HEAD");
}

/* The caller of a request with the Authorization header h: x->who, or
 * the reply refusing it. */
static int bearer_auth(struct ctx *x, const char *h, struct reply *err)
{
	int wait, rc = -EACCES;

	/* A valid token always works: only failures are slowed down, so
	 * that whoever shares an address (or a reverse proxy) with an admin
	 * cannot lock the admin out with bad tokens. */
	if (h && strncasecmp(h, "Bearer ", 7) == 0)
		rc = store_admin_check(x->store, h + 7, &x->who);
	if (rc < 0 && rc != -EACCES) { /* not the client's doing: not counted */
		*err = admin_unavailable(x, "cannot check the token now");
		return rc;
	}
	if (rc < 0) {
		wait = admin_auth_wait_s(x->srv, x->client_ip);
		if (wait) {
			*err = admin_problem(429, "too many failed authentications from this address; wait");
			err->retry_after_s = wait;
			return rc;
		}
		admin_auth_failed(x->srv, x->client_ip);
		gw_warn("admin.auth_failed", "%s %s from %s: no valid token", x->method, x->url,
			x->client_ip);
		*err = admin_problem(401, "a valid admin bearer token is required");
	}
	return rc;
}

static struct reply authenticate(struct ctx *x, const struct admin_route *route)
{
	const char *h = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	const char *cookie = MHD_lookup_connection_value(x->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
	struct reply r = admin_ok(0, NULL);

	/* The console's session cookie, unless a bearer token is given */
	if ((!h && cookie ? admin_session_auth(x, cookie, &r) : bearer_auth(x, h, &r)) < 0)
		return r;
	if (is_change(x->method) && strcmp(x->who.scope, "admin") && !route->any_scope)
		return admin_problem(403, "this token may only read");
	return r;
}

static struct reply route(struct ctx *x)
{
	const struct admin_route *found = NULL;
	bool path_known = false;
	struct reply r;
	size_t i;

	for (i = 0; i < admin_nroutes; i++) {
		int64_t ids[MAX_IDS];
		char name[ADMIN_NAME_MAX + 1];

		if (!match(admin_routes[i].pattern, x->url, ids, name))
			continue;
		path_known = true;
		if (strcmp(admin_routes[i].method, x->method) == 0) {
			found = &admin_routes[i];
			memcpy(x->ids, ids, sizeof(ids));
			memcpy(x->name, name, sizeof(name));
			break;
		}
	}
	if (!found && path_known) {
		r = admin_problem(405, "method %s is not allowed here", x->method);
		for (i = 0; i < admin_nroutes; i++) {
			int64_t ids[MAX_IDS];
			char name[ADMIN_NAME_MAX + 1];
			size_t used = strlen(r.allow);

			if (!match(admin_routes[i].pattern, x->url, ids, name))
				continue;
			snprintf(r.allow + used, sizeof(r.allow) - used, "%s%s", used ? ", " : "",
				 admin_routes[i].method);
		}
		return r;
	}
	if (!found)
		return admin_problem(404, "no such resource");
	if (!found->is_public) {
		r = authenticate(x, found);
		if (r.status)
			return r;
	}
	return found->fn(x);
}

/* ---------------------------------------------------------------- connections */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct admin_server *srv = cls;
	struct conn_track *t = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		t = calloc(1, sizeof(*t));
		if (!t || !ci) {
			free(t);
			return; /* not tracked: only MHD's idle timeout applies */
		}
		t->fd = ci->connect_fd;
		t->phase = P_HEADERS;
		t->since_ms = gw_mono_ms();
		pthread_mutex_lock(&srv->conn_lock);
		t->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = t;
		srv->conns = t;
		pthread_mutex_unlock(&srv->conn_lock);
		*socket_context = t;
		return;
	}
	if (!t)
		return;
	/* Closed: MHD closes the socket after this, so the watcher, which
	 * shuts sockets down under the same lock, never touches a number
	 * the kernel has given to another connection. */
	pthread_mutex_lock(&srv->conn_lock);
	if (t->prev)
		t->prev->next = t->next;
	else
		srv->conns = t->next;
	if (t->next)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&srv->conn_lock);
	free(t);
	*socket_context = NULL;
}

/* The request on conn has moved to phase. */
static void conn_phase(struct admin_server *srv, struct MHD_Connection *conn, enum conn_phase phase)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_track *t = ci ? ci->socket_context : NULL;

	if (!t)
		return;
	pthread_mutex_lock(&srv->conn_lock);
	t->phase = phase;
	t->since_ms = gw_mono_ms();
	pthread_mutex_unlock(&srv->conn_lock);
}

/* Shut down connections whose request is overdue; MHD then sees them end
 * and closes them. */
static void cut_slow(struct admin_server *srv)
{
	static struct gw_log_limit lim = GW_LOG_LIMIT(20, 10000);
	int64_t now = gw_mono_ms();
	unsigned cut = 0;
	struct conn_track *t;

	pthread_mutex_lock(&srv->conn_lock);
	for (t = srv->conns; t; t = t->next) {
		int64_t limit = t->phase == P_HEADERS ? ADMIN_HEADERS_MS
				: t->phase == P_BODY  ? ADMIN_BODY_MS
						      : 0;

		if (!limit || t->cut || now - t->since_ms < limit)
			continue;
		shutdown(t->fd, SHUT_RDWR);
		t->cut = true;
		cut++;
	}
	pthread_mutex_unlock(&srv->conn_lock);
	if (cut)
		gw_log_limited(&lim, GW_LOG_WARN, "admin.slow_client",
			       "closed %u connection(s) that took over %d s for a request's headers"
			       " or %d s for its body", cut, ADMIN_HEADERS_MS / 1000,
			       ADMIN_BODY_MS / 1000);
}

/* The watcher: wakes suspended event streams when there is something for
 * them (an event, a keep-alive, the end), and cuts slow clients. */
static void *watch_main(void *arg)
{
	struct admin_server *srv = arg;
	uint64_t seen = store_events_last(srv->store);

	for (;;) {
		bool stopping = __atomic_load_n(&srv->stopping, __ATOMIC_RELAXED);
		int64_t now = gw_mono_ms();
		unsigned n;
		bool missed;

		admin_events_wake(srv, seen, now, stopping);
		if (stopping)
			return NULL;
		cut_slow(srv);
		admin_rate_tick(srv, now);
		store_events_wait(srv->store, seen, NULL, 0, WATCH_TICK_MS, &n, &missed);
		seen = store_events_last(srv->store);
	}
}

/* ---------------------------------------------------------------- requests */

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

static void audit(struct ctx *x, unsigned status)
{
	struct store_audit a;

	memset(&a, 0, sizeof(a));
	a.token_id = x->who.id;
	gw_strlcpy(a.token_name, x->who.id ? x->who.name : "", sizeof(a.token_name));
	gw_strlcpy(a.client_address, x->client_ip, sizeof(a.client_address));
	gw_strlcpy(a.method, x->method, sizeof(a.method));
	gw_strlcpy(a.path, x->url, sizeof(a.path));
	a.status = (int)status;
	gw_strlcpy(a.detail, x->detail, sizeof(a.detail));
	a.account_id = x->audit_account;
	if (!a.account_id && !strncmp(x->url, API "/accounts/", sizeof(API "/accounts/") - 1))
		a.account_id = x->ids[0]; /* /accounts/{id} and below */
	store_audit_add(x->store, &a);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct admin_server *srv = cls;
	struct request *rq = *req_cls;
	struct reply r;
	struct ctx x;
	unsigned status;
	enum MHD_Result ret;

	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		gw_buf_init(&rq->body, GW_ADMIN_BODY_MAX);
		*req_cls = rq;
		conn_phase(srv, conn, P_BODY); /* the headers are in */
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
	conn_phase(srv, conn, P_ANSWERING);
	memset(&x, 0, sizeof(x));
	x.srv = srv;
	x.store = srv->store;
	x.guard = srv->guard;
	x.cfg = srv->cfg;
	x.conn = conn;
	x.method = method;
	x.url = url;
	x.body = gw_buf_str(&rq->body);
	x.body_len = rq->body.len;
	client_ip(conn, x.client_ip, sizeof(x.client_ip));
	if (rq->too_large)
		r = admin_problem(413, "the body is larger than %d bytes", GW_ADMIN_BODY_MAX);
	else if (strncmp(url, "/api/", 5) != 0)
		r = admin_console_asset(&x);
	else
		r = route(&x);
	if (r.status == 500 && store_records_status(x.store, false, NULL, 0) < 0) {
		if (r.json)
			json_decref(r.json);
		if (r.raw)
			MHD_destroy_response(r.raw);
		r = admin_unavailable(&x, "cannot answer now");
	}
	status = r.status;
	/* Every change, and every refused attempt at one by a known token. */
	if (is_change(method) && x.who.id)
		audit(&x, status);
	ret = admin_send_reply(conn, &r);
	/* A balancer asks /health every second: those only at debug level,
	 * unless the answer changed something to look at (not 200 or 503). */
	gw_log(!strcmp(url, API "/health") && (status == 200 || status == 503) ? GW_LOG_DEBUG
									    : GW_LOG_INFO,
	       "admin.request", "%s %s -> %u from %s%s%s", method, url, status, x.client_ip,
	       x.who.id ? " token " : "", x.who.id ? x.who.name : "");
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *req_cls;

	(void)toe;
	conn_phase(cls, conn, P_HEADERS); /* a kept-alive connection: the next request */
	if (!rq)
		return;
	gw_buf_release(&rq->body);
	free(rq);
	*req_cls = NULL;
}

/* ---------------------------------------------------------------- server */

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

GW_PRINTF(2, 0) static void log_mhd(void *cls, const char *fmt, va_list ap)
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

/* poll, not epoll: with TLS, libmicrohttpd 0.9.75's epoll loop spins
 * (epoll_wait with a zero timeout, a read that would block, again) while
 * a handshake waits for the client, so a client silent after the
 * server's first flight (or a slow health check) held a core until the
 * connection timed out. */
static unsigned daemon_flags(const struct gw_config *cfg)
{
	return MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
	       (cfg->admin_plain_http ? 0 : MHD_USE_TLS);
}

#define PRIO_AEAD "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:"
#define PRIO_TLS12 "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" PRIO_AEAD \
		   "-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"
#define PRIO_TLS13 "NORMAL:-VERS-ALL:+VERS-TLS1.3:" PRIO_AEAD "%SERVER_PRECEDENCE"

/* A daemon on the listening socket lfd, with the PEMs of srv (if TLS). */
static struct MHD_Daemon *start_daemon(struct admin_server *srv, int lfd)
{
	/* MHD takes the priority string as a non-const pointer; it reads it only */
	static char prio12[] = PRIO_TLS12, prio13[] = PRIO_TLS13;
	struct MHD_OptionItem opts[16];
	size_t n = 0;

#define OPT(o, v, p) opts[n++] = (struct MHD_OptionItem){ o, (intptr_t)(v), p }
	OPT(MHD_OPTION_LISTEN_SOCKET, lfd, NULL);
	if (!srv->cfg->admin_plain_http) {
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cert_pem);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key_pem);
		/* GnuTLS: the same floor as FTPS, ECDHE with AEAD ciphers only */
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
		    strcmp(srv->cfg->tls_min_version, "1.3") ? prio12 : prio13);
	}
	OPT(MHD_OPTION_THREAD_POOL_SIZE, ADMIN_THREADS, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, ADMIN_CONNECTIONS_MAX, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, ADMIN_CONNECTIONS_PER_IP, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, ADMIN_IDLE_TIMEOUT_S, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, 128 * 1024, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv);
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	return MHD_start_daemon(daemon_flags(srv->cfg), 0, NULL, NULL, on_request, srv,
				MHD_OPTION_EXTERNAL_LOGGER, log_mhd, srv, /* first, to catch all */
				MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

int admin_reload(struct admin_server *srv, const char *cert, const char *key, char *err,
		 size_t err_size)
{
	char *cert_pem = NULL, *key_pem = NULL, *old_cert, *old_key;
	struct MHD_Daemon *fresh;
	MHD_socket lfd;

	if (srv->cfg->admin_plain_http)
		return 0;
	if (srv->nretired == GW_ARRAY_SIZE(srv->retired)) {
		snprintf(err, err_size, "too many certificate reloads; restart the gateway");
		return -EBUSY;
	}
	if (read_pem(cert, &cert_pem, err, err_size) < 0 || read_pem(key, &key_pem, err, err_size) < 0) {
		free(cert_pem);
		return -EINVAL;
	}
	/* The listening socket moves to a daemon with the new certificate;
	 * the old daemon finishes the connections it has. */
	lfd = MHD_quiesce_daemon(srv->mhd);
	old_cert = srv->cert_pem;
	old_key = srv->key_pem;
	srv->cert_pem = cert_pem;
	srv->key_pem = key_pem;
	fresh = lfd == MHD_INVALID_SOCKET ? NULL : start_daemon(srv, lfd);
	if (!fresh) {
		snprintf(err, err_size, "cannot serve the admin API with certificate '%.200s'", cert);
		/* The old daemon has stopped listening: a new one with the
		 * old certificate takes the socket over. */
		srv->cert_pem = old_cert;
		srv->key_pem = old_key;
		explicit_bzero(key_pem, strlen(key_pem));
		free(cert_pem);
		free(key_pem);
		fresh = lfd == MHD_INVALID_SOCKET ? NULL : start_daemon(srv, lfd);
		if (fresh) {
			srv->retired[srv->nretired++] = srv->mhd;
			srv->mhd = fresh;
		}
		return -EINVAL;
	}
	srv->retired[srv->nretired++] = srv->mhd;
	srv->mhd = fresh;
	/* MHD copied nothing: the old PEMs stay until the old daemon ends. */
	srv->old_pems[srv->nold++] = old_cert;
	srv->old_pems[srv->nold++] = old_key;
	gw_info("tls.reload", "admin API certificate '%s' loaded for new connections", cert);
	return 0;
}

int admin_start(const struct gw_config *cfg, const char *cert, const char *key,
		struct store *st, struct gw_guard *guard, struct admin_server **out, char *err,
		size_t err_size)
{
	struct admin_server *srv;
	int r, lfd = -1;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cfg = cfg;
	srv->store = st;
	srv->guard = guard;
	pthread_mutex_init(&srv->fail_lock, NULL);
	pthread_mutex_init(&srv->conn_lock, NULL);
	pthread_mutex_init(&srv->sse_lock, NULL);
	pthread_mutex_init(&srv->session_lock, NULL);
	pthread_mutex_init(&srv->rate_lock, NULL);
	srv->rate_bucket = gw_mono_ms() / RATE_BUCKET_MS;
	srv->rate_last = gw_metric_get(GW_M_BYTES_RECEIVED);
	r = gw_counter_new(&srv->streams_per_ip);
	if (r == 0) {
		r = -pthread_create(&srv->watcher, NULL, watch_main, srv);
		srv->watching = r == 0;
	}
	if (r < 0) {
		snprintf(err, err_size, "cannot start the admin API's watcher: %s", strerror(-r));
		goto fail;
	}
	if (!cfg->admin_plain_http) {
		r = read_pem(cert, &srv->cert_pem, err, err_size);
		if (r == 0)
			r = read_pem(key, &srv->key_pem, err, err_size);
		if (r < 0)
			goto fail;
	}
	r = gw_listen_tcp("the admin API", cfg->admin_host, cfg->admin_port, 128, &lfd, err,
			  err_size);
	if (r < 0)
		goto fail;
	srv->mhd = start_daemon(srv, lfd);
	if (!srv->mhd) {
		/* The socket is bound, so what is left is TLS or resources. */
		close(lfd);
		snprintf(err, err_size, "cannot start the admin API on %s:%u with certificate '%s'"
					" (see the log line before)", cfg->admin_host, cfg->admin_port, cert);
		r = -EINVAL;
		goto fail;
	}
	r = admin_webhooks_start(srv, &srv->webhooks);
	if (r < 0) {
		snprintf(err, err_size, "cannot start sending webhooks: %s", strerror(-r));
		goto fail;
	}
	gw_info("admin.listen", "admin API on %s://%s:%u" API, cfg->admin_plain_http ? "http" : "https",
		cfg->admin_host, cfg->admin_port);
	if (cfg->admin_plain_http)
		gw_warn("admin.listen", "the admin API speaks plain HTTP: only behind a TLS-terminating proxy");
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
	__atomic_store_n(&srv->stopping, 1, __ATOMIC_RELAXED);
	admin_webhooks_stop(srv->webhooks);
	srv->webhooks = NULL;
	store_events_close(srv->store); /* event streams end now */
	/* The watcher resumes every suspended stream as it ends (MHD must
	 * not be stopped with one suspended); a stream that suspends after
	 * sees stopping and resumes itself. */
	if (srv->watching)
		pthread_join(srv->watcher, NULL);
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	while (srv->nretired)
		MHD_stop_daemon(srv->retired[--srv->nretired]);
	while (srv->nold) {
		char *p = srv->old_pems[--srv->nold];

		explicit_bzero(p, strlen(p));
		free(p);
	}
	if (srv->key_pem)
		explicit_bzero(srv->key_pem, strlen(srv->key_pem));
	free(srv->cert_pem);
	free(srv->key_pem);
	pthread_mutex_destroy(&srv->fail_lock);
	pthread_mutex_destroy(&srv->conn_lock);
	pthread_mutex_destroy(&srv->sse_lock);
	explicit_bzero(srv->sessions, sizeof(srv->sessions));
	pthread_mutex_destroy(&srv->session_lock);
	pthread_mutex_destroy(&srv->rate_lock);
	gw_counter_free(srv->streams_per_ip);
	free(srv);
}
