/* events.c - the in-memory feed of state changes behind GET /events. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "store_int.h"

int store_events_init(struct store *st)
{
	pthread_condattr_t attr;

	st->events = calloc(STORE_EVENTS_KEPT, sizeof(*st->events));
	if (!st->events)
		return -ENOMEM;
	pthread_mutex_init(&st->ev_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&st->ev_cond, &attr);
	pthread_condattr_destroy(&attr);
	return 0;
}

void store_events_release(struct store *st)
{
	if (!st->events)
		return;
	pthread_cond_destroy(&st->ev_cond);
	pthread_mutex_destroy(&st->ev_lock);
	free(st->events);
	st->events = NULL;
}

void store_emit(struct store *st, const char *kind, int64_t id, int64_t account_id,
		const char *state)
{
	struct store_event *e;

	if (st->evpg) { /* one feed for every node: numbered by the database */
		store_pg_event_queue(st, kind, id, account_id, state);
		return;
	}
	pthread_mutex_lock(&st->ev_lock);
	st->ev_seq++;
	e = &st->events[st->ev_seq % STORE_EVENTS_KEPT];
	e->seq = st->ev_seq;
	e->at_ms = gw_now_ms();
	gw_strlcpy(e->kind, kind, sizeof(e->kind));
	e->id = id;
	e->account_id = account_id;
	gw_strlcpy(e->state, state, sizeof(e->state));
	pthread_cond_broadcast(&st->ev_cond);
	pthread_mutex_unlock(&st->ev_lock);
}

void store_emit_before(struct store *st, const char *kind, int64_t id, int64_t account_id,
		       const char *state)
{
	store_emit(st, kind, id, account_id, state);
	if (st->evpg)
		store_pg_events_written(st, 2000);
}

void store_share_ban(struct store *st, const char *address, int64_t left_ms)
{
	store_emit(st, "ban", left_ms, 0, address);
}

void store_watch_bans(struct store *st, store_ban_fn *fn, void *arg)
{
	pthread_mutex_lock(&st->watch_lock);
	st->ban_fn = fn;
	st->ban_arg = arg;
	pthread_mutex_unlock(&st->watch_lock);
	if (fn && st->evpg) /* a node that starts late learns what holds */
		store_pg_replay_bans(st);
}

void store_ban_elsewhere(struct store *st, const struct store_event *e)
{
	int64_t left = e->id;
	store_ban_fn *fn;
	void *arg;

	if (left > 0) { /* what is left of it now */
		left -= gw_now_ms() - e->at_ms;
		if (left <= 0)
			return;
	}
	/* under the lock: once store_watch_bans(st, NULL, NULL) returns, fn's
	 * arg is never used again */
	pthread_mutex_lock(&st->watch_lock);
	fn = st->ban_fn;
	arg = st->ban_arg;
	if (fn)
		fn(arg, e->state, left);
	pthread_mutex_unlock(&st->watch_lock);
}

void store_events_put(struct store *st, const struct store_event *e)
{
	pthread_mutex_lock(&st->ev_lock);
	st->events[e->seq % STORE_EVENTS_KEPT] = *e;
	if (e->seq > st->ev_seq)
		st->ev_seq = e->seq;
	pthread_cond_broadcast(&st->ev_cond);
	pthread_mutex_unlock(&st->ev_lock);
}

uint64_t store_events_last(struct store *st)
{
	uint64_t seq;

	pthread_mutex_lock(&st->ev_lock);
	seq = st->ev_seq;
	pthread_mutex_unlock(&st->ev_lock);
	return seq;
}

void store_events_close(struct store *st)
{
	pthread_mutex_lock(&st->ev_lock);
	st->ev_closed = true;
	pthread_cond_broadcast(&st->ev_cond);
	pthread_mutex_unlock(&st->ev_lock);
}

void store_events_wait(struct store *st, uint64_t after, struct store_event *out, unsigned max,
		       int timeout_ms, unsigned *n, bool *missed)
{
	struct timespec deadline;
	uint64_t oldest, seq;
	unsigned count = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st->ev_lock);
	while (st->ev_seq <= after && !st->ev_closed) {
		if (pthread_cond_timedwait(&st->ev_cond, &st->ev_lock, &deadline) == ETIMEDOUT)
			break;
	}
	oldest = st->ev_seq >= STORE_EVENTS_KEPT ? st->ev_seq - STORE_EVENTS_KEPT + 1 : 1;
	*missed = after + 1 < oldest;
	seq = after + 1 < oldest ? oldest : after + 1;
	for (; seq <= st->ev_seq && count < max; seq++)
		out[count++] = st->events[seq % STORE_EVENTS_KEPT];
	pthread_mutex_unlock(&st->ev_lock);
	*n = count;
}
