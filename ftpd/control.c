/* control.c - a control connection: commands read and handled, replies
 * written, TLS on it, login results, and its end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "engine.h"
#include "view.h"

#define CTRL_WRITE_CHUNK 16384

void ftpd_ctrl_unref(struct ctrl *c)
{
	if (--c->refs > 0)
		return;
	/* Here, not at close: a job still running may be using it. */
	if (c->acct)
		ftpd_account_give(c->loop->srv, c->acct);
	gw_buf_release(&c->in);
	gw_buf_release(&c->out);
	ftpd_session_free(&c->core);
	free(c->d.path);
	free(c->d.stop_why);
	free(c->close_why);
	free(c);
}

static void ctrl_pump(struct ctrl *c);

/* n bytes of a control buffer handled: an idle session keeps no buffer. */
static void consume(struct gw_buf *b, size_t n)
{
	gw_buf_consume(b, n);
	if (!b->len)
		gw_buf_release(b);
}

const char *ftpd_ctrl_close_why(const struct ctrl *c)
{
	return c->close_why ? c->close_why : "the session ended";
}

void ftpd_ctrl_wake(struct ctrl *c)
{
	if (!c->closed)
		ftpd_watch_again(c->loop, &c->w);
}

/* ---------------------------------------------------------------- login */

/* A login runs in two steps. First, on the upload workers, the account's
 * record and the verified-credential cache: an honest client that logged
 * in lately is answered here, and never waits behind the argon2id of a
 * login storm. Only where argon2id must run does the job go on to the
 * password workers, in the client address's turn (login_check_run). */
static bool login_admit(struct job *j, const struct store_login *who)
{
	struct store *st = j->c->loop->srv->store;

	j->account_id = who->account_id;
	j->expires_at_ms = who->expires_at_ms;
	j->err = store_account_root(st, j->account_id, &j->root_fd);
	if (j->err == 0) {
		j->acct = ftpd_account_take(j->c->loop->srv, j->account_id, j->root_fd, &who->policy);
		j->root_fd = -1; /* the share's now, or closed */
		if (!j->acct)
			j->err = -ENOMEM;
	}
	return true;
}

static bool login_check_run(struct job *j)
{
	struct store_login who;

	j->err = store_login(j->c->loop->srv->store, j->user, j->pass, &who);
	explicit_bzero(j->pass, sizeof(j->pass));
	return j->err == 0 ? login_admit(j, &who) : true;
}

static void login_done(struct ctrl *c, struct job *j);
static const struct job_ops login_check_ops = { "login-check", login_check_run, login_done, false };

static bool login_run(struct job *j)
{
	struct store_login who;

	j->err = j->locked ? -EACCES
			   : store_login_cached(j->c->loop->srv->store, j->user, j->pass, &who);
	if (j->err == -EAGAIN) {
		j->ops = &login_check_ops;
		ftpd_job_check_password(j);
		return false;
	}
	explicit_bzero(j->pass, sizeof(j->pass));
	return j->err == 0 ? login_admit(j, &who) : true;
}

/* Count a failed login against the address and the account: true when it
 * earned the address a ban, and the session has ended. */
static bool login_failed(struct ctrl *c, bool locked)
{
	const struct gw_live *live = gw_live();
	struct gw_guard *g = c->loop->srv->guard;
	struct gw_guard_policy by_address = {
		live->ban_after_failures, live->ban_window_s, live->ban_duration_s,
	};
	struct gw_guard_policy by_account = by_address;
	int64_t now = gw_mono_ms();

	by_account.max_failures = live->lock_account_after_failures;
	gw_metric_add(GW_M_LOGINS_FAILED, 1);
	if (locked) {
		gw_metric_add(GW_M_BANNED_REFUSED, 1);
		gw_warn("session.login_failed", "login as '%s' from %s refused: the account is"
			" locked after too many failed logins", c->core.user, c->peer_ip);
	} else {
		gw_warn("session.login_failed", "login as '%s' from %s failed", c->core.user,
			c->peer_ip);
	}
	/* Names are counted only when accounts can be locked: unknown and
	 * known names alike, so a lock tells nothing about which exist. */
	if (by_account.max_failures && !locked &&
	    gw_guard_failed(g, GW_GUARD_ACCOUNT, c->core.user, &by_account, now))
		gw_warn("guard.lock", "account '%s' locked for %u s after %u failed logins",
			c->core.user, by_account.ban_s, by_account.max_failures);
	if (!gw_guard_failed(g, GW_GUARD_ADDRESS, c->peer_ip, &by_address, now))
		return false;
	gw_warn("guard.ban", "address %s banned for %u s after %u failed logins", c->peer_ip,
		by_address.ban_s, by_address.max_failures);
	ftpd_end_session(c, "421 Too many failed logins from your address; try again later.\r\n",
		    "address banned");
	return true;
}

/* Whether the account's policy lets this session in: its address, and
 * its count of sessions (taken here). Otherwise the session has its
 * answer (and the caller counts a failure where it says so). */
static bool login_admitted(struct ctrl *c, struct job *j, bool *failed)
{
	struct gw_policy eff;

	ftpd_account_policy(j->acct, &eff);
	*failed = false;
	if (!gw_addresses_allow(eff.addresses, &c->peer)) {
		gw_warn("session.login_refused", "login as '%s' (account %lld) from %s refused: not in"
			" the account's allowed_addresses", c->core.user, (long long)j->account_id,
			c->peer_ip);
		*failed = true;
		return false;
	}
	snprintf(c->account_key, sizeof(c->account_key), "%lld", (long long)j->account_id);
	if (!gw_counter_take(c->loop->srv->per_account, c->account_key, eff.max_sessions)) {
		gw_warn("session.limit", "account %lld has %u sessions already; refused %s",
			(long long)j->account_id, eff.max_sessions, c->peer_ip);
		gw_buf_adds(&c->out, "421 Too many sessions for this account; try again later.\r\n");
		c->state = C_CLOSING;
		ftpd_ctrl_wake(c);
		return false;
	}
	return true;
}

static void login_done(struct ctrl *c, struct job *j)
{
	bool ok = j->err == 0, failed = false;

	if (ok && !login_admitted(c, j, &failed)) {
		ftpd_account_give(c->loop->srv, j->acct);
		j->acct = NULL;
		if (!failed)
			return;
		/* from an address the account may not use: as a wrong password */
		ok = false;
		j->err = -EACCES;
	}
	if (ok) {
		c->counted_account = true;
		c->account_id = j->account_id;
		ftpd_tls_logged_in(c->tls, c->account_id);
		c->acct = j->acct;
		j->acct = NULL;
		c->root_fd = ftpd_account_root(c->acct);
		gw_metric_add(GW_M_LOGINS_OK, 1);
		gw_guard_succeeded(c->loop->srv->guard, GW_GUARD_ADDRESS, c->peer_ip);
		gw_guard_succeeded(c->loop->srv->guard, GW_GUARD_ACCOUNT, c->core.user);
		c->expires_at_ms = j->expires_at_ms;
		gw_info("session.login", "account %lld ('%s') logged in from %s",
			(long long)c->account_id, c->core.user, c->peer_ip);
	} else if (j->err != -EACCES) {
		/* Our failure, not the client's (no descriptors left, the
		 * database refusing): no 530, and not counted against it. */
		gw_error("session.login_error", "cannot log '%s' in from %s: %s", c->core.user,
			 c->peer_ip, strerror(-j->err));
		ftpd_end_session(c, "421 Cannot serve you now; try again later.\r\n", strerror(-j->err));
		return;
	} else if (login_failed(c, j->locked)) {
		return;
	}
	if (ftpd_session_login_done(&c->core, ok) == FTPD_REQ_CLOSE)
		c->state = C_CLOSING;
	ftpd_ctrl_wake(c);
}

const struct job_ops ftpd_job_login = { "login", login_run, login_done, false };

/* ---------------------------------------------------------------- control side */

void ftpd_ctrl_on_event(struct watch *w, uint32_t events)
{
	struct ctrl *c = container_of(w, struct ctrl, w);

	if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
		ftpd_ctrl_close(c, "connection reset");
		return;
	}
	ctrl_pump(c);
}

/* Control connection I/O: TLS once it is up, plain before AUTH TLS. */
ssize_t ftpd_ctrl_read(struct ctrl *c, void *buf, size_t len, int *want)
{
	ssize_t n;

	if (c->tls) {
		n = ftpd_tls_read(c->tls, buf, len);
		if (n == -EAGAIN)
			*want |= ftpd_tls_want(c->tls);
		return n;
	}
	n = read(c->w.fd, buf, len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		*want |= FTPD_TLS_WANT_READ;
		return -EAGAIN;
	}
	return n < 0 ? -ECONNRESET : n;
}

/* Whether the client has already closed the control connection: what it
 * sent meanwhile is kept in c->in, in order, for the session to handle. */
bool ftpd_ctrl_peer_gone(struct ctrl *c)
{
	char tmp[GW_FTP_INBUF_MAX];
	int want = 0;

	while (c->in.len < GW_FTP_INBUF_MAX) {
		ssize_t n = ftpd_ctrl_read(c, tmp, sizeof(tmp) - c->in.len, &want);

		if (n == -EAGAIN)
			return false;
		if (n <= 0)
			return true;
		gw_buf_add(&c->in, tmp, (size_t)n);
	}
	return false; /* a full input buffer: the client is there */
}

static ssize_t ctrl_write(struct ctrl *c, const void *buf, size_t len, int *want)
{
	ssize_t n;

	if (c->tls) {
		n = ftpd_tls_write(c->tls, buf, len);
		if (n == -EAGAIN)
			*want |= ftpd_tls_want(c->tls);
		return n;
	}
	n = write(c->w.fd, buf, len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		*want |= FTPD_TLS_WANT_WRITE;
		return -EAGAIN;
	}
	return n < 0 ? -EPIPE : n;
}

bool ftpd_ctrl_name_refused(struct ctrl *c, const struct gw_policy *eff, const char *verb,
			    const char *path)
{
	const char *slash = strrchr(path, '/');
	char text[GW_POLICY_TEXT_MAX + 64];

	if (gw_names_allow(eff->names, slash ? slash + 1 : path))
		return false;
	gw_names_text(eff->names, text, sizeof(text));
	gw_warn("upload.name_refused", "%s '%s' of account %lld from %s refused: not one of the"
		" account's allowed_names (%s)", verb, path, (long long)c->account_id, c->peer_ip,
		text);
	ftpd_session_name_refused(&c->core, text);
	return true;
}

/* RNTO to a name the account's policy does not allow. */
static bool rename_refused(struct ctrl *c, const struct ftpd_request *req)
{
	struct gw_policy eff;

	ftpd_account_policy(c->acct, &eff);
	return ftpd_ctrl_name_refused(c, &eff, "RNTO", req->path);
}

/* A command on the names that could not even be started. */
static void names_refused(struct ctrl *c, enum ftpd_req kind)
{
	if (kind == FTPD_REQ_SIZE)
		ftpd_session_size_done(&c->core, -ENOMEM, 0);
	else if (kind == FTPD_REQ_MDTM)
		ftpd_session_mdtm_done(&c->core, -ENOMEM, 0);
	else if (kind == FTPD_REQ_MLST || kind == FTPD_REQ_STAT)
		ftpd_session_text_done(&c->core, -ENOMEM, "");
	else
		ftpd_session_done(&c->core, -ENOMEM);
}

static void handle_request(struct ctrl *c, struct ftpd_request *req)
{
	struct job *j;

	switch (req->kind) {
	case FTPD_REQ_NONE:
		break;
	case FTPD_REQ_CLOSE:
		c->state = C_CLOSING;
		break;
	case FTPD_REQ_LOGIN:
	case FTPD_REQ_HASH:
		j = ftpd_job_new(c, req->kind == FTPD_REQ_LOGIN ? &ftpd_job_login : &ftpd_job_hash);
		if (!j) {
			if (req->kind == FTPD_REQ_LOGIN)
				ftpd_session_login_done(&c->core, false);
			else
				ftpd_session_text_done(&c->core, -ENOMEM, "");
			break;
		}
		gw_strlcpy(j->user, c->core.user, sizeof(j->user));
		gw_strlcpy(j->pass, req->arg, sizeof(j->pass));
		gw_strlcpy(j->path, req->path, sizeof(j->path));
		j->root_fd = c->root_fd;
		j->account_id = c->account_id;
		if (req->kind == FTPD_REQ_LOGIN) {
			j->root_fd = -1; /* the job's answer */
			j->owns_root_fd = true;
			j->locked = gw_guard_banned(c->loop->srv->guard, GW_GUARD_ACCOUNT, j->user,
						    gw_mono_ms()) > 0;
		}
		ftpd_job_submit(c, j);
		break;
	case FTPD_REQ_AUTH_TLS:
		/* The 234 goes out in the clear; what the client sent after
		 * AUTH TLS before the handshake is dropped, never obeyed. */
		gw_buf_reset(&c->in);
		c->state = C_HANDSHAKE;
		c->deadline = gw_mono_ms() + GW_TLS_HANDSHAKE_TIMEOUT_S * 1000;
		break;
	case FTPD_REQ_PASV:
		ftpd_passive_open(c, req->extended);
		break;
	case FTPD_REQ_MFMT:
		j = ftpd_job_new(c, &ftpd_job_mfmt);
		if (!j) {
			ftpd_session_mfmt_done(&c->core, -ENOMEM, 0);
			break;
		}
		gw_strlcpy(j->path, req->path, sizeof(j->path));
		j->root_fd = c->root_fd;
		j->account_id = c->account_id;
		j->offset = req->offset;
		ftpd_job_submit(c, j);
		break;
	case FTPD_REQ_CWD:
	case FTPD_REQ_SIZE:
	case FTPD_REQ_MDTM:
	case FTPD_REQ_MLST:
	case FTPD_REQ_STAT:
	case FTPD_REQ_DELE:
	case FTPD_REQ_RNFR:
	case FTPD_REQ_RNTO:
	case FTPD_REQ_MKD:
	case FTPD_REQ_RMD:
		if (req->kind == FTPD_REQ_RNTO && rename_refused(c, req))
			break;
		j = ftpd_job_new(c, &ftpd_job_names);
		if (!j) {
			names_refused(c, req->kind);
			break;
		}
		j->kind = req->kind;
		gw_strlcpy(j->path, req->path, sizeof(j->path));
		gw_strlcpy(j->from, req->from, sizeof(j->from));
		j->root_fd = c->root_fd;
		j->account_id = c->account_id;
		ftpd_job_submit(c, j);
		break;
	case FTPD_REQ_LIST:
	case FTPD_REQ_NLST:
	case FTPD_REQ_MLSD:
	case FTPD_REQ_RETR:
	case FTPD_REQ_STOR:
	case FTPD_REQ_APPE:
		ftpd_transfer_request(c, req);
		break;
	case FTPD_REQ_ABOR:
		ftpd_data_abort(c);
		break;
	case FTPD_REQ_XFER_STAT:
		ftpd_session_transfer_status(&c->core, ftpd_data_progress(c));
		break;
	}
	explicit_bzero(req->arg, sizeof(req->arg));
}

/* The balancer's header names the client and the address it reached. */
static void ctrl_proxied(struct ctrl *c, const struct gw_proxy_header *h)
{
	char balancer[INET6_ADDRSTRLEN];

	if (h->local)
		return; /* the balancer's own connection (a health check) */
	gw_strlcpy(balancer, c->peer_ip, sizeof(balancer));
	c->peer = h->src;
	c->reached = h->dst;
	ftpd_addr_ip(&c->peer, c->peer_ip, sizeof(c->peer_ip));
	gw_debug("session.proxied", "connection from %s through the load balancer %s", c->peer_ip,
		 balancer);
}

/* A PROXY protocol header from an address not in proxy_trusted: a client
 * naming itself someone else. */
static void refuse_header(struct ctrl *c, int r)
{
	static struct gw_log_limit lim = GW_LOG_LIMIT(20, 10000);

	if (r != -EPROTO) {
		ftpd_ctrl_close(c, "connection lost");
		return;
	}
	gw_log_limited(&lim, GW_LOG_WARN, "ftpd.proxy_untrusted",
		       "refused a PROXY protocol header from %s, which is not in proxy_trusted",
		       c->peer_ip);
	ftpd_ctrl_close(c, "PROXY protocol header from an address not trusted to send one");
}

enum line_result { LINE_NONE, LINE_DONE, LINE_WAIT };

/* Handle the next complete line of input, if the session takes it now. */
static enum line_result next_line(struct ctrl *c)
{
	struct ftpd_request req;
	char *nl = c->in.len ? memchr(c->in.data, '\n', c->in.len) : NULL;
	char line[GW_FTP_LINE_MAX + 1];
	size_t len;

	if (!nl) {
		if (c->in.len > GW_FTP_LINE_MAX) {
			/* Answer an overlong line once, then drop it to its end. */
			if (!c->discard)
				ftpd_session_line_too_long(&c->core);
			c->discard = true;
			gw_buf_reset(&c->in);
			return LINE_DONE;
		}
		return LINE_NONE;
	}
	len = (size_t)(nl - c->in.data);
	if (c->discard || len > GW_FTP_LINE_MAX) {
		if (!c->discard)
			ftpd_session_line_too_long(&c->core);
		c->discard = false;
		consume(&c->in, len + 1);
		return LINE_DONE;
	}
	memcpy(line, c->in.data, len);
	if (c->proxy_check && c->state == C_PLAIN) {
		/* the first line of an explicit session, PROXY protocol on */
		if (gw_proxy_may_start((const uint8_t *)line, len < 6 ? len : 6) && len >= 6) {
			refuse_header(c, -EPROTO);
			return LINE_DONE;
		}
		c->proxy_check = false;
	}
	len = ftpd_strip_telnet(line, len);
	if (!ftpd_session_takes(&c->core, line, len))
		return LINE_WAIT; /* stays queued until the running request ends */
	/* Take the line out of the buffer before acting on it: the request
	 * may finish at once and pump this connection again. */
	consume(&c->in, (size_t)(nl - c->in.data) + 1);
	ftpd_session_input(&c->core, line, len, &req);
	explicit_bzero(line, len);
	handle_request(c, &req);
	return LINE_DONE;
}

/* Whether to read more commands: not while a login or another job is
 * pending, but during a transfer (for ABOR and STAT). */
static bool reads_commands(const struct ctrl *c)
{
	const struct ftpd_session *s = &c->core;

	if (s->state == FTPD_S_LOGIN)
		return false;
	return s->state != FTPD_S_BUSY || ftpd_req_is_transfer(s->pending);
}

/* Over the per-address limit: say so, then close. */
void ftpd_limit_reply(struct ctrl *c)
{
	static struct gw_log_limit lim = GW_LOG_LIMIT(20, 10000);

	gw_log_limited(&lim, GW_LOG_WARN, "session.limit",
		       "refused %s: %u sessions from that address already", c->peer_ip,
		       gw_live()->max_sessions_per_address);
	gw_buf_adds(&c->out, "421 There are too many connections from your internet address.\r\n");
	c->state = C_CLOSING;
}

static void ctrl_handshake_done(struct ctrl *c)
{
	c->state = C_OPEN;
	c->last_activity = gw_mono_ms();
	c->deadline = c->last_activity + GW_LOGIN_TIMEOUT_S * 1000;
	gw_info("session.open", "session from %s, %s%s", c->peer_ip, ftpd_tls_version(c->tls),
		c->is_explicit ? " (AUTH TLS)" : "");
	if (c->over_limit) {
		ftpd_limit_reply(c);
		return;
	}
	if (c->is_explicit)
		ftpd_session_tls_started(&c->core);
	else
		ftpd_session_greet(&c->core, BANNER);
}

static void ctrl_pump(struct ctrl *c)
{
	char tmp[GW_FTP_INBUF_MAX];
	int want = 0;
	ssize_t n;

	for (;;) {
		if (c->closed)
			return; /* a request finished at once and closed it */
		while (c->out.len) {
			size_t chunk = c->out.len < CTRL_WRITE_CHUNK ? c->out.len : CTRL_WRITE_CHUNK;

			n = ctrl_write(c, c->out.data, chunk, &want);
			if (n == -EAGAIN)
				break;
			if (n < 0) {
				char why[200];

				snprintf(why, sizeof(why), "connection lost while writing: %s",
					 c->tls ? ftpd_tls_error(c->tls) : strerror(errno));
				ftpd_ctrl_close(c, why);
				return;
			}
			consume(&c->out, (size_t)n);
		}
		if (c->out.len)
			break; /* the client reads slowly: read no more commands */
		if (c->state == C_PROXY) {
			struct gw_proxy_header h;
			int r = ftpd_proxy_read(c->w.fd, &c->proxy, &h);

			if (r == -EAGAIN) {
				want |= FTPD_TLS_WANT_READ;
				break;
			}
			if (r < 0) {
				ftpd_ctrl_close(c, r == -EPROTO ? "not a PROXY protocol header from the load"
								  " balancer (proxy_trusted)"
							: "connection lost before its PROXY protocol header");
				return;
			}
			ctrl_proxied(c, &h);
			if (!ftpd_ctrl_admit(c))
				return;
			continue;
		}
		if (c->state == C_HANDSHAKE && c->proxy_check && !c->tls) {
			int r = ftpd_proxy_check_none(c->w.fd);

			if (r == -EAGAIN) {
				want |= FTPD_TLS_WANT_READ;
				break;
			}
			if (r < 0) {
				refuse_header(c, r);
				return;
			}
			c->proxy_check = false;
		}
		if (c->state == C_HANDSHAKE) {
			int r;

			if (!c->tls && ftpd_tls_new_control(__atomic_load_n(&c->loop->srv->tls, __ATOMIC_ACQUIRE),
							     c->w.fd, c->loop->srv->issuers, c->peer_ip,
							     &c->tls) < 0) {
				ftpd_ctrl_close(c, "out of memory");
				return;
			}
			r = ftpd_tls_handshake(c->tls);
			if (r == -EAGAIN) {
				want |= ftpd_tls_want(c->tls);
				break;
			}
			if (r < 0) {
				gw_metric_add(GW_M_TLS_FAILURES, 1);
				ftpd_ctrl_close(c, c->is_explicit ? "TLS handshake after AUTH TLS failed"
							     : "TLS handshake failed (not an implicit FTPS client?)");
				return;
			}
			ctrl_handshake_done(c);
			continue; /* send the greeting (or a 421) */
		}
		if (c->state == C_CLOSING) {
			if (c->tls)
				ftpd_tls_shutdown(c->tls);
			ftpd_ctrl_close(c, "session ended");
			return;
		}
		if (c->state == C_HANDSHAKE)
			continue; /* AUTH TLS: TLS starts once the 234 is out */
		switch (next_line(c)) {
		case LINE_DONE:
			continue;
		case LINE_WAIT:
			goto arm;
		case LINE_NONE:
			break;
		}
		if (!reads_commands(c))
			break;
		/* next_line() left at most GW_FTP_LINE_MAX bytes in c->in */
		n = ftpd_ctrl_read(c, tmp, sizeof(tmp) - c->in.len, &want);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			ftpd_ctrl_close(c, n == 0 ? "client closed the connection" : "connection lost");
			return;
		}
		c->last_activity = gw_mono_ms();
		if (gw_buf_add(&c->in, tmp, (size_t)n) < 0) {
			ftpd_ctrl_close(c, "control input too long");
			return;
		}
	}
arm:
	ftpd_watch_set(c->loop, &c->w, ftpd_want_events(want));
}

void ftpd_ctrl_close(struct ctrl *c, const char *why)
{
	struct loop *l = c->loop;
	struct data *d = &c->d;

	if (c->closed)
		return;
	c->closed = true;
	/* What an upload still held by a job records as its end, unless
	 * ftpd_end_session() said why already. */
	if (!c->close_why) {
		char text[200];

		snprintf(text, sizeof(text), "control connection closed: %s", why);
		ftpd_str_set(&c->close_why, text);
	}
	if (d->up) {
		ftpd_abort_upload(c, d->up, ftpd_ctrl_close_why(c), FTPD_XFER_ABORTED);
		d->up = NULL;
	}
	ftpd_data_reset(c);
	gw_info("session.close", "session from %s closed: %s", c->peer_ip, why);
	ftpd_watch_close(l, &c->w);
	ftpd_tls_free(c->tls);
	c->tls = NULL;
	ftpd_proxy_read_free(&c->proxy);
	if (c->counted_account)
		gw_counter_give(l->srv->per_account, c->account_key);
	if (!c->over_limit)
		gw_counter_give(l->srv->per_address, c->peer_ip);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->ctrls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	__atomic_sub_fetch(&l->srv->sessions, 1, __ATOMIC_RELAXED);
	gw_metric_add(GW_M_SESSIONS, -1);
	ftpd_accept_after_full(l);
	/* Events later in this epoll batch may still point at c: it is
	 * released once the loop iteration is over. */
	c->prev = NULL;
	c->next = l->closed;
	l->closed = c;
}

/* Say why (a 421), end any transfer (an upload stays partial), close. */
void ftpd_end_session(struct ctrl *c, const char *reply, const char *why)
{
	gw_info("session.end", "ending the session of account %lld from %s: %s",
		(long long)c->account_id, c->peer_ip, why);
	ftpd_str_set(&c->close_why, why);
	if (c->d.up || c->d.writing)
		ftpd_receive_stop(c, why, FTPD_XFER_ABORTED);
	gw_buf_adds(&c->out, reply);
	c->state = C_CLOSING;
	ftpd_ctrl_wake(c);
}
