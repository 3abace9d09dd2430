/* events.c - GET /events as Server-Sent Events: each stream follows the
 * store's event feed from where its client asked (Last-Event-ID), and
 * is suspended (holding no thread) while there is nothing to send, until
 * the watcher wakes it for an event, a keep-alive or the end.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

struct sse {
	struct admin_server *srv;
	struct MHD_Connection *conn;
	uint64_t after;
	int64_t account_id;
	int64_t last_sent_ms;
	struct gw_buf pending;
	bool suspended; /* in srv->suspended, under sse_lock */
	struct sse *next;
	char ip[64];
};

/* Take the stream out of the suspended list and let MHD call it again.
 * Called with sse_lock held. */
static void sse_wake_locked(struct admin_server *srv, struct sse *s)
{
	struct sse **p;

	for (p = &srv->suspended; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	s->suspended = false;
	MHD_resume_connection(s->conn);
}

/* Nothing to send: hold no thread until the watcher resumes the stream
 * (a new event, a keep-alive due, or the end). */
static void sse_suspend(struct sse *s)
{
	struct admin_server *srv = s->srv;

	MHD_suspend_connection(s->conn);
	pthread_mutex_lock(&srv->sse_lock);
	s->suspended = true;
	s->next = srv->suspended;
	srv->suspended = s;
	/* An event that came after the look and before the list had it
	 * would wake nobody: look again. */
	if (store_events_last(srv->store) > s->after ||
	    __atomic_load_n(&srv->stopping, __ATOMIC_RELAXED))
		sse_wake_locked(srv, s);
	pthread_mutex_unlock(&srv->sse_lock);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *s = cls;
	size_t n;

	(void)pos;
	while (s->pending.len == 0) {
		struct store_event ev[16];
		unsigned count = 0, i;
		bool missed = false;

		if (__atomic_load_n(&s->srv->stopping, __ATOMIC_RELAXED))
			return MHD_CONTENT_READER_END_OF_STREAM;
		store_events_wait(s->srv->store, s->after, ev, GW_ARRAY_SIZE(ev), 0, &count, &missed);
		if (missed)
			gw_buf_adds(&s->pending, "event: reset\ndata: {\"reason\":\"events were missed;"
						 " list again\"}\n\n");
		for (i = 0; i < count; i++) {
			char at[32];

			s->after = ev[i].seq;
			if (s->account_id && ev[i].account_id != s->account_id)
				continue;
			gw_format_time(ev[i].at_ms, at);
			gw_buf_addf(&s->pending,
				    "id: %llu\nevent: %s\ndata: {\"seq\":%llu,\"at\":\"%s\",\"kind\":\"%s\","
				    "\"id\":%lld,\"account_id\":%lld,\"state\":\"%s\"}\n\n",
				    (unsigned long long)ev[i].seq, ev[i].kind,
				    (unsigned long long)ev[i].seq, at, ev[i].kind, (long long)ev[i].id,
				    (long long)ev[i].account_id, ev[i].state);
		}
		if (s->pending.len)
			break;
		if (count)
			continue; /* events of other accounts: there may be more */
		if (gw_mono_ms() - s->last_sent_ms >= SSE_KEEPALIVE_MS) {
			gw_buf_adds(&s->pending, ": keep-alive\n\n");
			break;
		}
		sse_suspend(s);
		return 0;
	}
	n = s->pending.len < max ? s->pending.len : max;
	memcpy(buf, s->pending.data, n);
	gw_buf_consume(&s->pending, n);
	s->last_sent_ms = gw_mono_ms();
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct sse *s = cls;
	struct admin_server *srv = s->srv;

	pthread_mutex_lock(&srv->sse_lock);
	if (s->suspended) { /* cannot be: a suspended stream is not closed */
		struct sse **p;

		for (p = &srv->suspended; *p; p = &(*p)->next)
			if (*p == s) {
				*p = s->next;
				break;
			}
	}
	srv->nstreams--;
	pthread_mutex_unlock(&srv->sse_lock);
	gw_counter_give(srv->streams_per_ip, s->ip);
	gw_buf_release(&s->pending);
	free(s);
}

struct reply admin_events_response(struct ctx *x, uint64_t after, int64_t account_id)
{
	struct admin_server *srv = x->srv;
	struct reply r = admin_ok(200, NULL);
	struct sse *s;
	bool full;

	/* Streams are capped apart from requests, and per address, so that
	 * subscribers cannot take the connections everyone else needs. */
	if (!gw_counter_take(srv->streams_per_ip, x->client_ip, ADMIN_STREAMS_PER_IP)) {
		r = admin_problem(429, "%d event streams from this address are open already; close"
				  " one first", ADMIN_STREAMS_PER_IP);
		r.retry_after_s = 15;
		return r;
	}
	pthread_mutex_lock(&srv->sse_lock);
	full = srv->nstreams >= ADMIN_STREAMS_MAX;
	if (!full)
		srv->nstreams++;
	pthread_mutex_unlock(&srv->sse_lock);
	if (full) {
		gw_counter_give(srv->streams_per_ip, x->client_ip);
		r = admin_problem(503, "%d event streams are open already; try again later",
				  ADMIN_STREAMS_MAX);
		r.retry_after_s = 15;
		return r;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		pthread_mutex_lock(&srv->sse_lock);
		srv->nstreams--;
		pthread_mutex_unlock(&srv->sse_lock);
		gw_counter_give(srv->streams_per_ip, x->client_ip);
		return admin_problem(500, "out of memory");
	}
	s->srv = srv;
	s->conn = x->conn;
	s->after = after;
	s->account_id = account_id;
	s->last_sent_ms = gw_mono_ms();
	gw_strlcpy(s->ip, x->client_ip, sizeof(s->ip));
	gw_buf_init(&s->pending, 1 << 20);
	gw_buf_adds(&s->pending, "retry: 2000\n\n");
	r.raw = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
	if (!r.raw) {
		sse_free(s);
		return admin_problem(500, "out of memory");
	}
	MHD_add_response_header(r.raw, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	return r;
}

void admin_events_wake(struct admin_server *srv, uint64_t seen, int64_t now_ms, bool stopping)
{
	struct sse *s, *next;

	pthread_mutex_lock(&srv->sse_lock);
	for (s = srv->suspended; s; s = next) {
		next = s->next;
		if (stopping || s->after < seen || now_ms - s->last_sent_ms >= SSE_KEEPALIVE_MS)
			sse_wake_locked(srv, s);
	}
	pthread_mutex_unlock(&srv->sse_lock);
}
