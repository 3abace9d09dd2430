/* data.c - a data connection: accepted from the client's own address, TLS
 * resumed from its control connection, its states, ABOR, and the drains
 * that let a refused client read its reply.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "engine.h"
#include "view.h"

/* A refused upload's data connection is drained: close_notify sent, what
 * the client still sends read and dropped, up to this much, this long,
 * and this many such connections per loop; then it is closed. */
#define DRAIN_MAX_BYTES (64ULL << 20)
#define DRAIN_MS 30000
#define DRAINS_PER_LOOP 64

/* Transfer buffers (GW_DATA_CHUNK, aligned for direct writes) are
 * counted per loop: chunks queued for a slow disk stay within a budget. */
unsigned char *ftpd_chunk_new(struct loop *l)
{
	unsigned char *p = aligned_alloc(STORE_DIRECT_ALIGN, GW_DATA_CHUNK);

	if (p) {
		l->chunks++;
		gw_metric_add(GW_M_BUFFER_BYTES, GW_DATA_CHUNK);
	}
	return p;
}

void ftpd_chunk_free(struct loop *l, unsigned char *p)
{
	if (p) {
		l->chunks--;
		gw_metric_add(GW_M_BUFFER_BYTES, -GW_DATA_CHUNK);
		free(p);
	}
}

void ftpd_data_reset(struct ctrl *c)
{
	struct data *d = &c->d;
	struct loop *l = c->loop;

	if (d->lw.fd >= 0) {
		ftpd_watch_close(l, &d->lw);
		ftpd_port_release(c);
	}
	if (d->tls) {
		ftpd_tls_free(d->tls);
		d->tls = NULL;
	}
	ftpd_watch_close(l, &d->w);
	ftpd_watch_close(l, &d->tw);
	d->throttled = false;
	d->received = d->start_offset = d->max_file = 0;
	ftpd_proxy_read_free(&d->proxy);
	if (d->file_fd >= 0)
		close(d->file_fd);
	d->file_fd = -1;
	store_name_close(d->reader);
	d->reader = NULL;
	d->reading = false;
	d->gen++;
	gw_buf_release(&d->listing);
	ftpd_chunk_free(l, d->buf);
	d->buf = NULL;
	while (d->nfull)
		ftpd_chunk_free(l, d->full[--d->nfull]);
	while (d->nspare)
		ftpd_chunk_free(l, d->spare[--d->nspare]);
	d->fill = 0;
	d->writing = d->paused = d->eof = d->stop_pending = false;
	d->bytes_done = 0;
	d->sent = d->buf_len = d->buf_pos = 0;
	d->abort_requested = false;
	if (d->running)
		gw_metric_add(GW_M_TRANSFERS, -1);
	d->running = false;
	d->state = D_NONE;
	d->kind = FTPD_REQ_NONE;
}

/* The transfer is over (whatever the result): tell the client. */
void ftpd_data_finish(struct ctrl *c, enum ftpd_xfer result)
{
	if (c->d.up || c->d.writing)
		GW_BUG("data_finish with an open upload");
	ftpd_data_reset(c);
	ftpd_session_transfer_done(&c->core, result);
	c->last_activity = gw_mono_ms();
	ftpd_ctrl_wake(c);
}

void ftpd_data_on_event(struct watch *w, uint32_t events)
{
	struct data *d = container_of(w, struct data, w);
	struct ctrl *c = container_of(d, struct ctrl, d);

	(void)events;
	ftpd_data_pump(c);
}

/* The data connection and the command are both here: 150, then TLS. */
static void data_begin(struct ctrl *c)
{
	struct data *d = &c->d;
	int r;

	ftpd_session_transfer_start(&c->core);
	d->running = true;
	gw_metric_add(GW_M_TRANSFERS, 1);
	r = ftpd_tls_new_data(d->w.fd, c->tls, &d->tls);
	if (r < 0) {
		ftpd_data_finish(c, FTPD_XFER_LOCAL_ERROR);
		return;
	}
	d->state = D_HANDSHAKE;
	d->deadline = gw_mono_ms() + (int64_t)gw_live()->data_timeout_s * 1000;
	d->started = gw_mono_ms();
	ftpd_ctrl_wake(c); /* the 150 goes out before the handshake needs it */
	ftpd_data_pump(c);
}

/* The data connection is the session's: no other is accepted. */
static void data_taken(struct ctrl *c, int fd)
{
	struct data *d = &c->d;

	ftpd_watch_close(c->loop, &d->lw);
	ftpd_port_release(c);
	if (d->w.fd != fd) {
		ftpd_watch_close(c->loop, &d->w);
		ftpd_watch_init(&d->w, fd, ftpd_data_on_event);
	}
	d->state = D_CONNECTED;
	if (d->kind != FTPD_REQ_NONE)
		data_begin(c);
}

static void refuse_foreign(struct ctrl *c, const struct sockaddr_storage *ss, bool proxied)
{
	static struct gw_log_limit lim = GW_LOG_LIMIT(20, 10000);
	char ip[INET6_ADDRSTRLEN];

	ftpd_addr_ip(ss, ip, sizeof(ip));
	gw_log_limited(&lim, GW_LOG_WARN, "ftpd.data_foreign",
		       "refused data connection from %s%s to the passive port of %s", ip,
		       proxied ? " (through the load balancer)" : "", c->peer_ip);
}

/* D_PROXY: the balancer's header names whose connection this is; the
 * passive listener waits meanwhile. A foreign one is closed and the
 * listener listens again. */
static void data_proxy(struct ctrl *c)
{
	struct data *d = &c->d;
	struct gw_proxy_header h;
	int r = ftpd_proxy_read(d->w.fd, &d->proxy, &h);

	if (r == -EAGAIN) {
		ftpd_watch_set(c->loop, &d->w, EPOLLIN);
		return;
	}
	if (r == 0 && !h.local && ftpd_same_ip(&h.src, &c->peer)) {
		data_taken(c, d->w.fd);
		return;
	}
	if (r == 0 && !h.local)
		refuse_foreign(c, &h.src, true);
	else if (r == 0)
		gw_warn("ftpd.proxy", "refused a data connection for %s from the load balancer: a"
			" LOCAL header names no client", c->peer_ip);
	else if (r == -EPROTO)
		gw_warn("ftpd.proxy", "refused a data connection for %s from the load balancer: not"
			" a PROXY protocol header", c->peer_ip);
	ftpd_proxy_read_free(&d->proxy);
	ftpd_watch_close(c->loop, &d->w);
	d->state = D_LISTEN;
	ftpd_watch_set(c->loop, &d->lw, EPOLLIN);
}

void ftpd_data_on_accept(struct watch *w, uint32_t events)
{
	struct data *d = container_of(w, struct data, lw);
	struct ctrl *c = container_of(d, struct ctrl, d);
	struct loop *l = c->loop;

	(void)events;
	for (;;) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len = sizeof(ss);
		int fd = accept4(w->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int proxy;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				gw_warn("ftpd.data", "cannot accept data connection: %s", strerror(errno));
			return;
		}
		proxy = ftpd_proxy_mode(l->srv, &ss, true);
		if (proxy == FTPD_PROXY_EXPECT) {
			ftpd_watch_set(l, &d->lw, 0);
			ftpd_watch_init(&d->w, fd, ftpd_data_on_event);
			d->state = D_PROXY;
			data_proxy(c);
			return;
		}
		/* Through a balancer that sends no header on data connections
		 * (proxy_protocol "control"), the address is the balancer's:
		 * the TLS session it must resume is what ties it to the
		 * session (docs/security.md). */
		if (proxy != FTPD_PROXY_BALANCER && !ftpd_same_ip(&ss, &c->peer)) {
			refuse_foreign(c, &ss, false);
			close(fd);
			continue;
		}
		data_taken(c, fd);
		return;
	}
}

static void data_handshake_done(struct ctrl *c)
{
	struct data *d = &c->d;

	if (!ftpd_tls_is_resumed(d->tls)) {
		static struct gw_log_limit lim = GW_LOG_LIMIT(20, 10000);

		gw_log_limited(&lim, GW_LOG_WARN, "ftpd.data_not_reused",
			       "data connection from %s did not reuse the control connection's TLS"
			       " session", c->peer_ip);
		ftpd_data_finish(c, FTPD_XFER_NOT_REUSED);
		return;
	}
	if (d->kind == FTPD_REQ_STOR || d->kind == FTPD_REQ_APPE) {
		ftpd_receive_open(c);
		return;
	}
	/* A listing was made before the 150; a file was opened then. */
	d->state = D_SENDING;
	d->last_io = gw_mono_ms();
}

void ftpd_drain_end(struct drain *dr)
{
	struct loop *l = dr->loop;

	ftpd_tls_free(dr->tls);
	ftpd_watch_close(l, &dr->w);
	if (dr->prev)
		dr->prev->next = dr->next;
	else
		l->drains = dr->next;
	if (dr->next)
		dr->next->prev = dr->prev;
	l->ndrains--;
	free(dr);
}

static void drain_pump(struct drain *dr)
{
	unsigned char buf[16384];
	int want = 0;

	if (!dr->shut) {
		int r = ftpd_tls_shutdown(dr->tls);

		if (r == -EAGAIN) {
			ftpd_watch_set(dr->loop, &dr->w, ftpd_want_events(ftpd_tls_want(dr->tls)));
			return;
		}
		if (r < 0) {
			ftpd_drain_end(dr);
			return;
		}
		dr->shut = true;
	}
	for (;;) {
		ssize_t n = ftpd_tls_read(dr->tls, buf, sizeof(buf));

		if (n == -EAGAIN) {
			want = ftpd_tls_want(dr->tls);
			break;
		}
		if (n <= 0 || (uint64_t)n >= dr->left) {
			ftpd_drain_end(dr); /* the client's end, or enough */
			return;
		}
		dr->left -= (uint64_t)n;
	}
	ftpd_watch_set(dr->loop, &dr->w, ftpd_want_events(want));
}

static void drain_on_event(struct watch *w, uint32_t events)
{
	(void)events;
	drain_pump(container_of(w, struct drain, w));
}

/* Hand the session's data connection to a drain, when it has TLS up and
 * the loop has room for one more: true when it took it. */
bool ftpd_drain_start(struct ctrl *c)
{
	struct data *d = &c->d;
	struct loop *l = c->loop;
	struct drain *dr;

	if (!d->tls || d->w.fd < 0 || l->ndrains >= DRAINS_PER_LOOP)
		return false;
	dr = calloc(1, sizeof(*dr));
	if (!dr)
		return false;
	if (d->w.registered)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, d->w.fd, NULL);
	ftpd_watch_init(&dr->w, d->w.fd, drain_on_event);
	d->w.fd = -1;
	d->w.registered = false;
	ftpd_watch_close(l, &d->w); /* out of the run-again list */
	dr->loop = l;
	dr->tls = d->tls;
	d->tls = NULL;
	dr->left = DRAIN_MAX_BYTES;
	dr->deadline = gw_mono_ms() + DRAIN_MS;
	dr->next = l->drains;
	if (l->drains)
		l->drains->prev = dr;
	l->drains = dr;
	l->ndrains++;
	drain_pump(dr);
	return true;
}

void ftpd_data_pump(struct ctrl *c)
{
	struct data *d = &c->d;
	char sink[512];
	ssize_t n = 0;
	int r;

	switch (d->state) {
	case D_HANDSHAKE:
		r = ftpd_tls_handshake(d->tls);
		if (r == -EAGAIN) {
			ftpd_watch_set(c->loop, &d->w, ftpd_want_events(ftpd_tls_want(d->tls)));
			return;
		}
		if (r < 0) {
			gw_metric_add(GW_M_TLS_FAILURES, 1);
			gw_warn("ftpd.data_tls", "TLS handshake on the data connection from %s failed",
				c->peer_ip);
			ftpd_data_finish(c, FTPD_XFER_TLS_FAILED);
			return;
		}
		data_handshake_done(c);
		if (d->state != D_SENDING)
			return;
		ftpd_data_send(c);
		return;
	case D_SENDING:
		ftpd_data_send(c);
		return;
	case D_CLOSING:
		r = ftpd_tls_shutdown(d->tls);
		if (r == -EAGAIN) {
			ftpd_watch_set(c->loop, &d->w, ftpd_want_events(ftpd_tls_want(d->tls)));
			return;
		}
		/* Wait for the client's close_notify or EOF, so that closing
		 * here cannot reset a connection it is still reading. */
		while (r == 0 && (n = ftpd_tls_read(d->tls, sink, sizeof(sink))) > 0)
			;
		if (r == 0 && n == -EAGAIN) {
			ftpd_watch_set(c->loop, &d->w, ftpd_want_events(ftpd_tls_want(d->tls)));
			return;
		}
		ftpd_data_finish(c, FTPD_XFER_OK);
		return;
	case D_RECEIVING:
		ftpd_data_receive(c);
		return;
	case D_PROXY:
		data_proxy(c);
		return;
	case D_NONE:
	case D_LISTEN:
	case D_CONNECTED:
	case D_OPENING:
	case D_FINISHING:
		/* Nothing to do until a command or a job arrives. */
		if (d->w.fd >= 0)
			ftpd_watch_set(c->loop, &d->w, 0);
		return;
	}
}

/* ABOR: end the running transfer, or close an unused passive port. */
void ftpd_data_abort(struct ctrl *c)
{
	struct data *d = &c->d;

	if (d->preparing) {
		d->abort_requested = true; /* the preparation's end acts on it */
		return;
	}
	switch (d->state) {
	case D_NONE:
	case D_LISTEN:
	case D_PROXY:
	case D_CONNECTED:
		if (d->kind == FTPD_REQ_NONE) {
			ftpd_data_reset(c); /* no transfer: the core said 225 */
			return;
		}
		ftpd_data_finish(c, FTPD_XFER_CLIENT_ABORT);
		return;
	case D_HANDSHAKE:
	case D_SENDING:
	case D_CLOSING:
		ftpd_data_finish(c, FTPD_XFER_CLIENT_ABORT);
		return;
	case D_RECEIVING:
		ftpd_receive_stop(c, "aborted by the client (ABOR)", FTPD_XFER_CLIENT_ABORT);
		return;
	case D_OPENING:
		d->abort_requested = true; /* the open job's end acts on it */
		return;
	case D_FINISHING:
		return; /* the upload is being recorded; its reply comes */
	}
}

uint64_t ftpd_data_progress(const struct ctrl *c)
{
	const struct data *d = &c->d;

	if (d->up)
		return store_upload_bytes(d->up);
	if (d->writing)
		return d->bytes_done;
	if (d->file_fd >= 0 || d->reader || d->reading)
		return d->file_pos - (d->buf_len - d->buf_pos);
	return d->sent;
}

/* Check what can be checked before the 150, so that a refusal leaves the
 * data connection unused: make a listing, open a file to send, check an
 * upload's target (opened for real once the data TLS is up). On a worker:
 * the store may ask the records database. */
static enum ftpd_xfer prepare(struct job *j)
{
	const struct store_names ns = ftpd_job_names_of(j);
	struct store_entry e;
	int r;

	switch (j->kind) {
	case FTPD_REQ_STOR:
	case FTPD_REQ_APPE:
		r = store_name_check_new_file(&ns, j->path);
		if (r == 0 && j->kind == FTPD_REQ_STOR && j->offset > 0) {
			r = store_name_stat(&ns, j->path, &e);
			if (r == 0 && j->offset > e.size)
				return FTPD_XFER_BAD_OFFSET;
			if (r == -ENOENT)
				return FTPD_XFER_NOT_FOUND;
		}
		if (r == -EAGAIN)
			return FTPD_XFER_LOCAL_ERROR;
		return r < 0 ? FTPD_XFER_OPEN_FAILED : FTPD_XFER_OK;
	case FTPD_REQ_RETR:
		r = store_name_open(&ns, j->path, j->offset, &j->file_fd, &j->reader, &j->size);
		if (r == -ENOENT)
			return FTPD_XFER_NOT_FOUND;
		if (r == -EBUSY)
			return FTPD_XFER_NOT_READY;
		if (r == -EAGAIN || r == -EIO)
			return FTPD_XFER_LOCAL_ERROR;
		if (r < 0)
			return FTPD_XFER_OPEN_FAILED;
		return j->offset > j->size ? FTPD_XFER_BAD_OFFSET : FTPD_XFER_OK;
	default:
		r = ftpd_view_list(&ns, j->path,
				   j->kind == FTPD_REQ_NLST   ? FTPD_VIEW_NAMES
				   : j->kind == FTPD_REQ_MLSD ? FTPD_VIEW_FACTS
							      : FTPD_VIEW_LS,
				   gw_now_ms(), &j->text);
		if (r == -ENOENT)
			return FTPD_XFER_NOT_FOUND;
		if (r == -EAGAIN)
			return FTPD_XFER_LOCAL_ERROR;
		return r < 0 ? FTPD_XFER_OPEN_FAILED : FTPD_XFER_OK;
	}
}

static bool prepare_run(struct job *j)
{
	j->refused = prepare(j);
	return true;
}

static void prepare_done(struct ctrl *c, struct job *j)
{
	struct data *d = &c->d;
	struct gw_buf swap;

	d->preparing = false;
	if (d->abort_requested) {
		ftpd_data_finish(c, FTPD_XFER_CLIENT_ABORT);
		return;
	}
	if (d->state == D_NONE) {
		ftpd_data_finish(c, FTPD_XFER_NO_CONNECTION); /* the passive port timed out */
		return;
	}
	if (j->refused != FTPD_XFER_OK) {
		ftpd_data_finish(c, j->refused);
		return;
	}
	if (j->kind == FTPD_REQ_RETR) {
		d->file_fd = j->file_fd;
		d->reader = j->reader;
		j->file_fd = -1;
		j->reader = NULL;
		d->file_size = j->size;
		d->file_pos = j->offset;
		d->buf = ftpd_chunk_new(c->loop);
		if (!d->buf) {
			ftpd_data_finish(c, FTPD_XFER_LOCAL_ERROR);
			return;
		}
	} else if (j->kind != FTPD_REQ_STOR && j->kind != FTPD_REQ_APPE) {
		swap = d->listing;
		d->listing = j->text;
		j->text = swap;
	}
	d->kind = j->kind;
	d->offset = j->offset;
	free(d->path);
	d->path = strdup(j->path);
	if (!d->path) {
		ftpd_data_finish(c, FTPD_XFER_LOCAL_ERROR);
		return;
	}
	if (d->state == D_CONNECTED)
		data_begin(c); /* else data_on_accept starts it */
}

static const struct job_ops prepare_ops = { "prepare", prepare_run, prepare_done, false };

/* An upload the account's policy refuses before it starts: a name it
 * does not allow, or a restart past its size limit. */
static bool upload_refused(struct ctrl *c, const struct ftpd_request *req)
{
	struct gw_policy eff;

	ftpd_account_policy(c->acct, &eff);
	if (ftpd_ctrl_name_refused(c, &eff, req->kind == FTPD_REQ_APPE ? "APPE" : "STOR",
				   req->path)) {
		ftpd_data_reset(c); /* the passive port goes with the command */
		c->last_activity = gw_mono_ms();
		ftpd_ctrl_wake(c);
		return true;
	}
	if (eff.max_file_bytes && req->kind == FTPD_REQ_STOR && req->offset > eff.max_file_bytes) {
		char limit[24];

		snprintf(limit, sizeof(limit), "%llu", (unsigned long long)eff.max_file_bytes);
		ftpd_str_set(&c->core.reason, limit);
		ftpd_data_finish(c, FTPD_XFER_TOO_BIG);
		return true;
	}
	return false;
}

void ftpd_transfer_request(struct ctrl *c, const struct ftpd_request *req)
{
	struct data *d = &c->d;
	struct job *j;

	if ((req->kind == FTPD_REQ_STOR || req->kind == FTPD_REQ_APPE) && upload_refused(c, req))
		return;
	if (d->state == D_NONE) {
		ftpd_data_finish(c, FTPD_XFER_NO_CONNECTION); /* the passive port timed out */
		return;
	}
	j = ftpd_job_new(c, &prepare_ops);
	if (!j) {
		ftpd_data_finish(c, FTPD_XFER_LOCAL_ERROR);
		return;
	}
	j->kind = req->kind;
	j->offset = req->offset;
	j->account_id = c->account_id;
	j->root_fd = c->root_fd;
	gw_strlcpy(j->path, req->path, sizeof(j->path));
	d->preparing = true;
	ftpd_job_submit(c, j);
}
