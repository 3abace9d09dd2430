/* server.c - the FTPS server: listeners, accepting sessions (limits and bans
 * before any TLS work), account changes passed to the loops, and start,
 * reload, drain and stop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine.h"

/* ---------------------------------------------------------------- loops */

/* EPOLLEXCLUSIVE registrations cannot be modified, only removed and added
 * again: pausing accepts removes the listening sockets from this loop. */
void ftpd_accept_pause(struct loop *l)
{
	struct watch *ws[2] = { &l->accept_w, &l->accept_explicit };
	int i;

	for (i = 0; i < 2; i++) {
		if (ws[i]->fd < 0 || !ws[i]->registered)
			continue;
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, ws[i]->fd, NULL);
		ws[i]->registered = false;
	}
}

void ftpd_accept_resume(struct loop *l)
{
	ftpd_watch_set(l, &l->accept_w, EPOLLIN | EPOLLEXCLUSIVE);
	if (l->accept_explicit.fd >= 0)
		ftpd_watch_set(l, &l->accept_explicit, EPOLLIN | EPOLLEXCLUSIVE);
}

void ftpd_accept_after_full(struct loop *l)
{
	if (!l->accept_full ||
	    (unsigned)__atomic_load_n(&l->srv->sessions, __ATOMIC_RELAXED) >= gw_live()->max_sessions)
		return;
	l->accept_full = false;
	if (!l->accept_paused_until && !__atomic_load_n(&l->srv->draining, __ATOMIC_RELAXED))
		ftpd_accept_resume(l);
}

/* A banned address is refused before any TLS work: told so in the clear
 * on the explicit listener, closed unanswered on the implicit one (before
 * the handshake, nothing else can be said). */
static bool is_banned(struct loop *l, int fd, const char *ip, bool is_explicit)
{
	static const char msg[] = "421 Too many failed logins from your address; try again later.\r\n";

	if (!gw_guard_banned(l->srv->guard, GW_GUARD_ADDRESS, ip, gw_mono_ms()))
		return false;
	if (is_explicit && send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		gw_debug("ftpd.banned", "cannot tell %s it is banned: %s", ip, strerror(errno));
	gw_metric_add(GW_M_BANNED_REFUSED, 1);
	return true;
}

/* A session's place among max_sessions, taken before its connection is
 * accepted (so that loops accepting at once never pass the limit), and
 * given back when it ends (ftpd_ctrl_close) or was never made. */
static bool slot_take(struct ftpd_server *srv)
{
	int n = __atomic_load_n(&srv->sessions, __ATOMIC_RELAXED);

	do {
		if (n < 0 || (unsigned)n >= gw_live()->max_sessions)
			return false;
	} while (!__atomic_compare_exchange_n(&srv->sessions, &n, n + 1, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

static void slot_give(struct ftpd_server *srv)
{
	__atomic_sub_fetch(&srv->sessions, 1, __ATOMIC_RELAXED);
}

static void ctrl_link(struct loop *l, struct ctrl *c)
{
	c->next = l->ctrls;
	if (l->ctrls)
		l->ctrls->prev = c;
	l->ctrls = c;
	gw_metric_add(GW_M_SESSIONS, 1);
}

/* A session from c->peer (the client itself, or as its balancer's PROXY
 * header named it) is let in: counted per address, greeted or shaken
 * hands with. False: refused and closed (banned). */
bool ftpd_ctrl_admit(struct ctrl *c)
{
	struct loop *l = c->loop;

	if (is_banned(l, c->w.fd, c->peer_ip, c->is_explicit)) {
		c->over_limit = true; /* counted nowhere yet */
		ftpd_ctrl_close(c, "address banned");
		return false;
	}
	/* Over the per-address limit: counted nowhere, told so with a 421
	 * once TLS is up (before it, nothing can be said). */
	c->over_limit = !gw_counter_take(l->srv->per_address, c->peer_ip,
					 gw_live()->max_sessions_per_address);
	c->deadline = gw_mono_ms() + GW_TLS_HANDSHAKE_TIMEOUT_S * 1000;
	if (c->is_explicit) {
		c->state = C_PLAIN;
		ftpd_session_require_auth_tls(&c->core);
		if (c->over_limit) {
			ftpd_limit_reply(c);
		} else {
			ftpd_session_greet(&c->core, BANNER);
		}
		c->deadline = gw_mono_ms() + GW_LOGIN_TIMEOUT_S * 1000;
		ftpd_ctrl_wake(c);
	} else {
		c->state = C_HANDSHAKE;
		ftpd_watch_set(l, &c->w, EPOLLIN);
	}
	return true;
}

static void ctrl_new(struct loop *l, int fd, const struct sockaddr_storage *peer, bool is_explicit)
{
	const struct gw_config *cfg = l->srv->cfg;
	struct ctrl *c = calloc(1, sizeof(*c));
	socklen_t len = sizeof(c->local);
	int one = 1, idle = 60, intvl = 20, cnt = 3;
	int proxy = ftpd_proxy_mode(l->srv, peer, false);

	if (!c) {
		close(fd);
		slot_give(l->srv);
		return;
	}
	c->refs = 1;
	c->loop = l;
	c->root_fd = -1;
	c->is_explicit = is_explicit;
	c->peer = *peer;
	ftpd_addr_ip(peer, c->peer_ip, sizeof(c->peer_ip));
	getsockname(fd, (struct sockaddr *)&c->local, &len);
	c->reached = c->local;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	gw_buf_init(&c->in, GW_FTP_INBUF_MAX);
	gw_buf_init(&c->out, GW_FTP_OUTBUF_MAX);
	ftpd_session_init(&c->core, &c->out);
	c->core.downloads = cfg->downloads;
	c->core.idle_timeout_s = gw_live()->idle_timeout_s;
	ftpd_watch_init(&c->w, fd, ftpd_ctrl_on_event);
	ftpd_watch_init(&c->d.lw, -1, ftpd_data_on_accept);
	ftpd_watch_init(&c->d.w, -1, ftpd_data_on_event);
	ftpd_watch_init(&c->d.tw, -1, ftpd_data_on_timer);
	c->d.file_fd = -1;
	gw_buf_init(&c->d.listing, GW_LISTING_MAX);
	ctrl_link(l, c);
	if (proxy == FTPD_PROXY_EXPECT) {
		/* the balancer's header first: it names whom to count and ban */
		c->state = C_PROXY;
		c->over_limit = true; /* counted nowhere yet */
		c->deadline = gw_mono_ms() + GW_PROXY_HEADER_TIMEOUT_S * 1000;
		ftpd_watch_set(l, &c->w, EPOLLIN);
		return;
	}
	c->proxy_check = proxy == FTPD_PROXY_REFUSE_HEADER;
	ftpd_ctrl_admit(c);
}

static void accept_on(struct loop *l, struct watch *w, bool is_explicit)
{
	int i;

	if (__atomic_load_n(&l->srv->draining, __ATOMIC_RELAXED)) {
		ftpd_accept_pause(l);
		return;
	}
	for (i = 0; i < 64; i++) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len = sizeof(ss);
		int fd;

		/* Served to the limit: the next connections wait in the listen
		 * queue (its backlog; beyond, the clients' SYNs are retried)
		 * and are let in as sessions end, not refused. */
		if (!slot_take(l->srv)) {
			static struct gw_log_limit lim = GW_LOG_LIMIT(1, 10000);

			gw_log_limited(&lim, GW_LOG_WARN, "session.limit",
				       "max_sessions (%u) served: new connections wait in the listen queue",
				       gw_live()->max_sessions);
			ftpd_accept_pause(l);
			l->accept_full = true;
			return;
		}
		fd = accept4(w->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			slot_give(l->srv);
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				gw_error("ftpd.accept", "cannot accept connections: %s; pausing for a second",
					 strerror(errno));
				ftpd_accept_pause(l);
				l->accept_paused_until = gw_mono_ms() + 1000;
			}
			return;
		}
		if (ftpd_proxy_mode(l->srv, &ss, false) != FTPD_PROXY_EXPECT) {
			char ip[INET6_ADDRSTRLEN];

			ftpd_addr_ip(&ss, ip, sizeof(ip));
			if (is_banned(l, fd, ip, is_explicit)) {
				close(fd);
				slot_give(l->srv);
				continue;
			}
		}
		ctrl_new(l, fd, &ss, is_explicit);
	}
}

static void on_accept(struct watch *w, uint32_t events)
{
	(void)events;
	accept_on(container_of(w, struct loop, accept_w), w, false);
}

static void on_accept_explicit(struct watch *w, uint32_t events)
{
	(void)events;
	accept_on(container_of(w, struct loop, accept_explicit), w, true);
}

/* An account changed (the admin disabled, deleted or expired it, moved
 * its expiry, or took the session's address out of its allowed ones):
 * its sessions in this loop end, or learn the new expiry. */
void ftpd_apply_account_changes(struct loop *l)
{
	struct store_account_change *list;
	struct ctrl *c, *next;
	size_t n, i;

	pthread_mutex_lock(&l->lock);
	list = l->changes;
	n = l->nchanges;
	l->changes = NULL;
	l->nchanges = l->changes_cap = 0;
	pthread_mutex_unlock(&l->lock);
	for (i = 0; i < n; i++) {
		struct gw_policy eff;

		gw_policy_effective(&list[i].policy, &eff);
		for (c = l->ctrls; c; c = next) {
			next = c->next;
			if (c->closed || c->account_id != list[i].account_id || !c->counted_account)
				continue;
			c->expires_at_ms = list[i].expires_at_ms;
			if (!list[i].can_login)
				ftpd_end_session(c, "421 This account can no longer be used; the session ends.\r\n",
					    "account disabled, deleted or expired");
			else if (!gw_addresses_allow(eff.addresses, &c->peer))
				ftpd_end_session(c, "421 This account may no longer be used from your address;"
						 " the session ends.\r\n",
						 "address no longer in the account's allowed_addresses");
		}
	}
	free(list);
}

static void on_account_change(void *arg, const struct store_account_change *change)
{
	struct ftpd_server *srv = arg;
	unsigned i;

	ftpd_account_policy_changed(srv, change->account_id, &change->policy);
	for (i = 0; i < srv->nloops; i++) {
		struct loop *l = &srv->loops[i];
		uint64_t one = 1;

		pthread_mutex_lock(&l->lock);
		if (l->nchanges == l->changes_cap) {
			size_t cap = l->changes_cap ? l->changes_cap * 2 : 8;
			struct store_account_change *p = realloc(l->changes, cap * sizeof(*p));

			if (!p) {
				pthread_mutex_unlock(&l->lock);
				gw_error("ftpd.account", "cannot pass on a change of account %lld: out of memory",
					 (long long)change->account_id);
				continue;
			}
			l->changes = p;
			l->changes_cap = cap;
		}
		l->changes[l->nchanges++] = *change;
		pthread_mutex_unlock(&l->lock);
		if (write(l->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			gw_error("ftpd.loop", "cannot wake loop: %s", strerror(errno));
	}
}

static int resolve_ipv4(const char *host, char *out, size_t size)
{
	struct addrinfo hints, *res = NULL;
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0 || !res)
		return -EINVAL;
	inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, out, (socklen_t)size);
	freeaddrinfo(res);
	return 0;
}

int ftpd_prepare_tls(const struct gw_config *cfg, char *cert, char *key, size_t size,
		     char *err, size_t err_size)
{
	return ftpd_tls_ensure_cert(cfg->data_dir, cfg->tls_cert, cfg->tls_key, cert, key, size,
				    err, err_size);
}

int ftpd_start(const struct gw_config *cfg, const char *cert, const char *key,
	       struct store *st, struct gw_pool *pool, struct gw_guard *guard,
	       struct ftpd_server **out, char *err, size_t err_size)
{
	struct ftpd_server *srv;
	unsigned i;
	long cores;
	int r;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cfg = cfg;
	srv->store = st;
	srv->pool = pool;
	srv->guard = guard;
	srv->policy.min_version = strcmp(cfg->tls_min_version, "1.3") ? 12 : 13;
	srv->policy.max_version = strcmp(cfg->tls_max_version, "1.2") ? 13 : 12;
	srv->policy.ciphers = cfg->tls_ciphers;
	srv->policy.ciphersuites = cfg->tls_ciphersuites;
	srv->listen_fd = srv->explicit_fd = -1;
	pthread_mutex_init(&srv->port_lock, NULL);
	pthread_mutex_init(&srv->accounts_lock, NULL);
	if (gw_counter_new(&srv->per_address) < 0 || gw_counter_new(&srv->per_account) < 0 ||
	    ftpd_issuers_new(&srv->issuers) < 0 ||
	    gw_counter_new(&srv->ports_per_account) < 0 || gw_counter_new(&srv->ports_per_address) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	{
		unsigned range = (unsigned)cfg->passive_max - cfg->passive_min + 1;
		unsigned share = range / 4 ? range / 4 : 1;

		/* gw_counter_take() takes max 0 as no limit */
		srv->max_ports_per_account = cfg->max_passive_per_account == GW_PASSIVE_SHARE
					     ? share : cfg->max_passive_per_account;
		srv->max_ports_per_address = cfg->max_passive_per_address == GW_PASSIVE_SHARE
					     ? share : cfg->max_passive_per_address;
	}
	r = gw_counter_new(&srv->hashes_per_account);
	if (r == 0)
		r = gw_pool_new(1, GW_NICE_PASSWORDS, &srv->hash_pool);
	if (r < 0) {
		snprintf(err, err_size, "cannot start the HASH worker thread: %s", strerror(-r));
		goto fail;
	}
	r = gw_pool_new(cfg->workers, GW_NICE_TRANSFERS, &srv->io_pool);
	/* With an accept_command, commits wait for it: on threads of their
	 * own, so that a slow hook never holds the writes of other uploads. */
	if (r == 0 && cfg->accept_command[0])
		r = gw_pool_new(cfg->accept_workers, GW_NICE_TRANSFERS, &srv->commit_pool);
	if (r < 0) {
		snprintf(err, err_size, "cannot start upload worker threads: %s", strerror(-r));
		goto fail;
	}
	srv->port_used = calloc((size_t)cfg->passive_max - cfg->passive_min + 1, 1);
	if (!srv->port_used) {
		r = -ENOMEM;
		goto fail;
	}
	srv->proxy = !strcmp(cfg->proxy_protocol, "all")       ? FTPD_PROXY_ALL
		     : !strcmp(cfg->proxy_protocol, "control") ? FTPD_PROXY_CONTROL
							       : FTPD_PROXY_OFF;
	if (gw_cidr_list_parse(cfg->proxy_trusted, srv->proxy_trusted, GW_PROXY_TRUSTED_MAX,
			       &srv->nproxy_trusted, err, err_size) < 0) {
		r = -EINVAL;
		goto fail;
	}
	if (cfg->passive_address[0] &&
	    resolve_ipv4(cfg->passive_address, srv->passive_ipv4, sizeof(srv->passive_ipv4)) < 0) {
		snprintf(err, err_size, "cannot resolve passive_address '%s' to an IPv4 address",
			 cfg->passive_address);
		r = -EINVAL;
		goto fail;
	}
	r = ftpd_tls_ctx_new(cert, key, &srv->policy, &srv->tls, err, err_size);
	if (r < 0)
		goto fail;
	/* A burst of a thousand clients must not overflow the backlog. */
	r = gw_listen_tcp("FTPS", cfg->ftps_host, cfg->ftps_port, 4096, &srv->listen_fd, err, err_size);
	if (r < 0)
		goto fail;
	if (cfg->ftp_explicit_host[0]) {
		r = gw_listen_tcp("explicit FTPS (AUTH TLS)", cfg->ftp_explicit_host,
				  cfg->ftp_explicit_port, 4096, &srv->explicit_fd, err, err_size);
		if (r < 0)
			goto fail;
	}
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	srv->nloops = cfg->loops ? cfg->loops : (unsigned)(cores > 0 ? cores : 1);
	srv->loops = calloc(srv->nloops, sizeof(*srv->loops));
	if (!srv->loops) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < srv->nloops; i++) {
		/* what ftpd_free() releases of a loop never set up */
		srv->loops[i].epfd = -1;
		srv->loops[i].wake.fd = -1;
	}
	for (i = 0; i < srv->nloops; i++) {
		struct loop *l = &srv->loops[i];
		int efd;

		l->srv = srv;
		pthread_mutex_init(&l->lock, NULL);
		l->lock_made = true;
		l->epfd = epoll_create1(EPOLL_CLOEXEC);
		efd = l->epfd < 0 ? -1 : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (efd < 0) {
			snprintf(err, err_size, "cannot create event loop: %s", strerror(errno));
			r = -errno;
			goto fail;
		}
		ftpd_watch_init(&l->wake, efd, ftpd_loop_on_wake);
		ftpd_watch_set(l, &l->wake, EPOLLIN);
		/* The listening socket is shared; EPOLLEXCLUSIVE wakes one loop. */
		ftpd_watch_init(&l->accept_w, srv->listen_fd, on_accept);
		ftpd_watch_set(l, &l->accept_w, EPOLLIN | EPOLLEXCLUSIVE);
		ftpd_watch_init(&l->accept_explicit, srv->explicit_fd, on_accept_explicit);
		if (srv->explicit_fd >= 0)
			ftpd_watch_set(l, &l->accept_explicit, EPOLLIN | EPOLLEXCLUSIVE);
	}
	for (i = 0; i < srv->nloops; i++) {
		r = pthread_create(&srv->loops[i].thread, NULL, ftpd_loop_main, &srv->loops[i]);
		if (r != 0) {
			snprintf(err, err_size, "cannot start event loop thread: %s", strerror(r));
			r = -r;
			goto fail;
		}
		srv->loops[i].started = true;
	}
	store_watch_accounts(st, on_account_change, srv);
	gw_info("ftpd.listen", "implicit FTPS on %s:%u, passive ports %u-%u, %u loops",
		cfg->ftps_host, cfg->ftps_port, cfg->passive_min, cfg->passive_max, srv->nloops);
	if (srv->explicit_fd >= 0)
		gw_info("ftpd.listen", "explicit FTPS (AUTH TLS required) on %s:%u",
			cfg->ftp_explicit_host, cfg->ftp_explicit_port);
	*out = srv;
	return 0;
fail:
	ftpd_stop(srv);
	ftpd_free(srv);
	return r;
}

int ftpd_reload_tls(struct ftpd_server *srv, const char *cert, const char *key, char *err,
		    size_t err_size)
{
	struct ftpd_tls_ctx *fresh, *old;
	int r;

	if (srv->nretired == GW_ARRAY_SIZE(srv->retired)) {
		snprintf(err, err_size, "too many certificate reloads; restart the gateway");
		return -EBUSY;
	}
	r = ftpd_tls_ctx_new(cert, key, &srv->policy, &fresh, err, err_size);
	if (r < 0)
		return r; /* the running certificate stays */
	/* Sessions that began before keep their context (their SSL objects
	 * hold it), so it is retired, not freed. */
	old = __atomic_exchange_n(&srv->tls, fresh, __ATOMIC_ACQ_REL);
	srv->retired[srv->nretired++] = old;
	gw_info("tls.reload", "certificate '%s' loaded for new sessions", cert);
	return 0;
}

void ftpd_session_counters(struct ftpd_server *srv, struct gw_counter **per_account,
			   struct gw_counter **per_address)
{
	*per_account = srv->per_account;
	*per_address = srv->per_address;
}

unsigned ftpd_drain(struct ftpd_server *srv)
{
	if (!__atomic_exchange_n(&srv->draining, 1, __ATOMIC_RELAXED)) {
		/* Closed for connections now, not merely unwatched: a listener
		 * nobody accepts from would still complete handshakes into its
		 * backlog, and a balancer would send clients there. shutdown()
		 * keeps the descriptor (the loops may be using it) while new
		 * connections are refused and the backlog reset. */
		if (shutdown(srv->listen_fd, SHUT_RDWR) < 0)
			gw_warn("ftpd.drain", "cannot close the FTPS listener: %s", strerror(errno));
		if (srv->explicit_fd >= 0 && shutdown(srv->explicit_fd, SHUT_RDWR) < 0)
			gw_warn("ftpd.drain", "cannot close the explicit FTPS listener: %s",
				strerror(errno));
		for (unsigned i = 0; i < srv->nloops; i++) {
			uint64_t one = 1;

			if (srv->loops[i].started && write(srv->loops[i].wake.fd, &one, sizeof(one)) < 0 &&
			    errno != EAGAIN)
				gw_error("ftpd.drain", "cannot wake loop: %s", strerror(errno));
		}
	}
	return (unsigned)gw_metric_get(GW_M_TRANSFERS);
}

void ftpd_report(struct ftpd_server *srv, unsigned *sessions, unsigned *transfers,
		 bool *draining)
{
	*sessions = (unsigned)__atomic_load_n(&srv->sessions, __ATOMIC_RELAXED);
	*transfers = (unsigned)gw_metric_get(GW_M_TRANSFERS);
	*draining = __atomic_load_n(&srv->draining, __ATOMIC_RELAXED);
}

void ftpd_stop(struct ftpd_server *srv)
{
	unsigned i;

	if (!srv)
		return;
	store_watch_accounts(srv->store, NULL, NULL);
	__atomic_store_n(&srv->stopping, 1, __ATOMIC_RELAXED);
	for (i = 0; srv->loops && i < srv->nloops; i++) {
		uint64_t one = 1;

		if (!srv->loops[i].started)
			continue;
		if (write(srv->loops[i].wake.fd, &one, sizeof(one)) < 0)
			gw_error("ftpd.stop", "cannot wake loop: %s", strerror(errno));
		pthread_join(srv->loops[i].thread, NULL);
		srv->loops[i].started = false;
	}
}

void ftpd_free(struct ftpd_server *srv)
{
	unsigned i;

	if (!srv)
		return;
	/* Upload work still queued runs now; its results join the loops'
	 * finished jobs, handled below. */
	gw_pool_free(srv->commit_pool);
	gw_pool_free(srv->io_pool);
	gw_pool_free(srv->hash_pool);
	gw_counter_free(srv->hashes_per_account);
	srv->io_pool = NULL;
	srv->commit_pool = NULL;
	for (i = 0; srv->loops && i < srv->nloops; i++) {
		struct loop *l = &srv->loops[i];
		struct job *j;

		/* Finished jobs first (their sessions still exist), then every
		 * session; uploads still open are recorded partial right here,
		 * the worker pool being gone. */
		while ((j = l->done_head) != NULL) {
			l->done_head = j->next;
			j = ftpd_job_pair_done(j);
			if (!j)
				continue;
			ftpd_job_drop(j, "the gateway stopped", true);
			ftpd_ctrl_unref(j->c);
			free(j);
		}
		while (l->ctrls) {
			struct ctrl *c = l->ctrls;

			if (c->d.up) {
				store_upload_abort(srv->store, c->d.up, "the gateway stopped");
				store_upload_free(c->d.up);
				c->d.up = NULL;
			}
			ftpd_ctrl_close(c, "the gateway stopped");
		}
		ftpd_loop_release_closed(l);
		for (struct drain *dr = l->drains, *dnext; dr; dr = dnext) {
			dnext = dr->next;
			ftpd_drain_end(dr);
		}
		if (l->wake.fd >= 0)
			close(l->wake.fd);
		if (l->epfd >= 0)
			close(l->epfd);
		free(l->changes);
		if (l->lock_made)
			pthread_mutex_destroy(&l->lock);
	}
	free(srv->loops);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->explicit_fd >= 0)
		close(srv->explicit_fd);
	gw_counter_free(srv->per_address);
	gw_counter_free(srv->per_account);
	gw_counter_free(srv->ports_per_account);
	gw_counter_free(srv->ports_per_address);
	ftpd_issuers_free(srv->issuers);
	ftpd_tls_ctx_free(srv->tls);
	while (srv->nretired)
		ftpd_tls_ctx_free(srv->retired[--srv->nretired]);
	free(srv->port_used);
	pthread_mutex_destroy(&srv->port_lock);
	ftpd_accounts_free(srv);
	pthread_mutex_destroy(&srv->accounts_lock);
	free(srv);
}
