/* loop.c - event loops: watches, the run-again list, wake-ups from workers and
 * other threads, and the once-a-second tick of deadlines.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "engine.h"

/* ---------------------------------------------------------------- watches */

void ftpd_watch_init(struct watch *w, int fd, void (*fn)(struct watch *, uint32_t))
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->fn = fn;
}

void ftpd_watch_set(struct loop *l, struct watch *w, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	if (!w->registered) {
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
			GW_BUG("epoll_ctl ADD fd %d: %s", w->fd, strerror(errno));
		w->registered = true;
		w->events = events;
		return;
	}
	if (w->events == events)
		return;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		GW_BUG("epoll_ctl MOD fd %d: %s", w->fd, strerror(errno));
	w->events = events;
}

void ftpd_watch_again(struct loop *l, struct watch *w)
{
	if (w->again)
		return;
	w->again = true;
	w->again_next = l->again_head;
	l->again_head = w;
}

/* Unregister and close the watched fd. */
void ftpd_watch_close(struct loop *l, struct watch *w)
{
	if (w->again) {
		struct watch **p;

		for (p = &l->again_head; *p; p = &(*p)->again_next)
			if (*p == w) {
				*p = w->again_next;
				break;
			}
		w->again = false;
	}
	if (w->fd < 0)
		return;
	if (w->registered)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->registered = false;
	close(w->fd);
	w->fd = -1;
}

uint32_t ftpd_want_events(int want)
{
	return (want & FTPD_TLS_WANT_READ ? EPOLLIN : 0) | (want & FTPD_TLS_WANT_WRITE ? EPOLLOUT : 0);
}

/* ---------------------------------------------------------------- addresses */

void ftpd_loop_release_closed(struct loop *l)
{
	while (l->closed) {
		struct ctrl *c = l->closed;

		l->closed = c->next;
		ftpd_ctrl_unref(c);
	}
}

void ftpd_loop_on_wake(struct watch *w, uint32_t events)
{
	struct loop *l = container_of(w, struct loop, wake);
	struct job *j;
	uint64_t v;

	(void)events;
	if (read(w->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		gw_error("ftpd.loop", "cannot read eventfd: %s", strerror(errno));
	for (;;) {
		pthread_mutex_lock(&l->lock);
		j = l->done_head;
		if (j) {
			l->done_head = j->next;
			if (!l->done_head)
				l->done_tail = NULL;
		}
		pthread_mutex_unlock(&l->lock);
		if (!j)
			break;
		ftpd_job_done(j);
	}
	ftpd_apply_account_changes(l);
}


/* Once a second: deadlines of handshakes, logins, idle sessions and
 * passive listeners. */
static void tick(struct loop *l)
{
	const struct gw_live *live = gw_live();
	int64_t now = gw_mono_ms();
	struct ctrl *c, *next;
	struct drain *dr, *dnext;

	for (dr = l->drains; dr; dr = dnext) {
		dnext = dr->next;
		if (now > dr->deadline)
			ftpd_drain_end(dr);
	}
	bool draining = __atomic_load_n(&l->srv->draining, __ATOMIC_RELAXED);

	if (draining) {
		ftpd_accept_pause(l);
		l->accept_paused_until = 0;
	}
	if (l->accept_paused_until && now >= l->accept_paused_until) {
		l->accept_paused_until = 0;
		if (!l->accept_full)
			ftpd_accept_resume(l);
	}
	ftpd_accept_after_full(l); /* sessions of other loops ended */
	for (c = l->ctrls; c; c = next) {
		struct data *d = &c->d;

		next = c->next;
		if (c->state == C_HANDSHAKE && now > c->deadline) {
			ftpd_ctrl_close(c, "TLS handshake timed out");
			continue;
		}
		if (c->state == C_PROXY && now > c->deadline) {
			ftpd_ctrl_close(c, "no PROXY protocol header from the load balancer in time");
			continue;
		}
		if ((c->state == C_OPEN || c->state == C_PLAIN) && c->core.state != FTPD_S_READY &&
		    c->core.state != FTPD_S_BUSY && c->core.state != FTPD_S_LOGIN &&
		    now > c->deadline) {
			gw_buf_adds(&c->out, "421 Login timeout.\r\n");
			c->state = C_CLOSING;
			ftpd_ctrl_wake(c);
			continue;
		}
		if (c->expires_at_ms && gw_now_ms() >= c->expires_at_ms && c->state == C_OPEN) {
			ftpd_end_session(c, "421 This account has expired; the session ends.\r\n",
				    "account expired");
			continue;
		}
		switch (d->state) {
		case D_LISTEN:
		case D_PROXY:
		case D_HANDSHAKE:
			if (now > d->deadline) {
				if (d->kind == FTPD_REQ_NONE)
					ftpd_data_reset(c);
				else
					ftpd_data_finish(c, d->state != D_HANDSHAKE ? FTPD_XFER_NO_CONNECTION
									    : FTPD_XFER_TLS_FAILED);
			}
			continue;
		case D_CLOSING:
			if (now > d->deadline)
				ftpd_data_finish(c, FTPD_XFER_OK);
			continue;
		case D_RECEIVING:
			/* a write in flight: the disk is slow, not the client */
			if (!d->writing && now - d->last_io > (int64_t)live->idle_timeout_s * 1000)
				ftpd_receive_stop(c, "data connection idle too long", FTPD_XFER_ABORTED);
			continue;
		case D_SENDING:
			if (now - d->last_io > (int64_t)live->idle_timeout_s * 1000)
				ftpd_data_finish(c, FTPD_XFER_ABORTED);
			continue;
		case D_OPENING:
		case D_FINISHING:
			continue; /* a transfer is running: never idle */
		case D_NONE:
		case D_CONNECTED:
			break;
		}
		if (draining && (c->state == C_OPEN || c->state == C_PLAIN) && d->state == D_NONE &&
		    !d->preparing && c->core.state != FTPD_S_BUSY && c->core.state != FTPD_S_LOGIN) {
			/* no transfer of its own runs: the client goes on through
			 * another node */
			ftpd_end_session(c, "421 This server is shutting down; connect again to go on.\r\n",
					 "the node is draining");
			continue;
		}
		if (c->state == C_OPEN && c->core.state == FTPD_S_READY &&
		    now - c->last_activity > (int64_t)live->idle_timeout_s * 1000) {
			gw_buf_adds(&c->out, "421 Timeout.\r\n");
			c->state = C_CLOSING;
			ftpd_ctrl_wake(c);
		}
	}
}

void *ftpd_loop_main(void *arg)
{
	struct loop *l = arg;
	int64_t next_tick = gw_mono_ms() + 1000;

	/* Linux: the nice value of this thread alone (see gw.h). */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), GW_NICE_TRANSFERS) < 0)
		gw_warn("ftpd.loop", "cannot lower the loop's priority: %s", strerror(errno));

	while (!__atomic_load_n(&l->srv->stopping, __ATOMIC_RELAXED)) {
		struct epoll_event evs[128];
		int timeout, n, i;
		int64_t now = gw_mono_ms();

		timeout = l->again_head ? 0 : (int)(next_tick > now ? next_tick - now : 0);
		n = epoll_wait(l->epfd, evs, (int)GW_ARRAY_SIZE(evs), timeout);
		if (n < 0 && errno != EINTR) {
			gw_error("ftpd.loop", "epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;

			w->fn(w, evs[i].events);
		}
		/* Connections that stopped early to share the loop. */
		if (l->again_head) {
			struct watch *list = l->again_head, *w;

			l->again_head = NULL;
			while (list) {
				w = list;
				list = w->again_next;
				w->again = false;
				w->fn(w, EPOLLIN);
			}
		}
		if (gw_mono_ms() >= next_tick) {
			tick(l);
			next_tick = gw_mono_ms() + 1000;
		}
		ftpd_loop_release_closed(l);
	}
	return NULL;
}

/* ---------------------------------------------------------------- server */
