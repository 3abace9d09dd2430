/* events_pg.c - one event feed for every node on a PostgreSQL database.
 *
 * With PostgreSQL, store_emit() does not number an event itself: it
 * queues it here, and this file's thread writes it to the events table
 * and NOTIFYs; every node's thread LISTENs, reads what is new in id
 * order and puts it in its ring (events.c), numbered by its id. So every
 * node's GET /events shows every node's changes in one order, and an
 * event id a client saw on one node resumes its stream on any other.
 *
 * Inserts take a transaction-wide advisory lock, so ids become visible
 * in the order they were given and a reader that has seen id n never
 * finds a smaller one later. While the database cannot be reached,
 * events wait in a bounded queue and are written when it is back.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gw.h"
#include "records_pg.h"
#include "store_int.h"

#define QUEUE_MAX 8192
#define BATCH_MAX 256
#define READ_MAX 1000
#define KEEP_EVENTS 100000 /* rows the table keeps; older ones are dropped */
#define EVENTS_LOCK "SELECT pg_advisory_xact_lock(hashtext('ftpsgate.events'))"

struct store_events_pg {
	pthread_t thread;
	bool started;
	int wake_fd;
	volatile int stopping;
	pthread_mutex_t lock; /* guards the queue and the counts: */
	pthread_cond_t flushed_cond;
	struct store_event *queue;
	size_t n_queued;
	uint64_t queued_total, flushed_total; /* events queued, and written, ever */
	unsigned long dropped;
	PGconn *conn; /* the thread's own: it LISTENs */
	uint64_t last_id;
	int64_t next_prune_ms;
};

void store_pg_event_queue(struct store *st, const char *kind, int64_t id, int64_t account_id,
			  const char *state)
{
	struct store_events_pg *ep = st->evpg;
	struct store_event *e;
	uint64_t one = 1;

	pthread_mutex_lock(&ep->lock);
	if (ep->n_queued == QUEUE_MAX) {
		/* the database has been away long: the oldest goes */
		memmove(ep->queue, ep->queue + 1, (QUEUE_MAX - 1) * sizeof(*ep->queue));
		ep->n_queued--;
		if (ep->dropped++ % 1000 == 0)
			gw_warn("events.dropped", "the database is away: %lu event(s) not kept",
				ep->dropped);
	}
	e = &ep->queue[ep->n_queued++];
	ep->queued_total++;
	memset(e, 0, sizeof(*e));
	e->at_ms = gw_now_ms();
	gw_strlcpy(e->kind, kind, sizeof(e->kind));
	e->id = id;
	e->account_id = account_id;
	gw_strlcpy(e->state, state, sizeof(e->state));
	pthread_mutex_unlock(&ep->lock);
	if (write(ep->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		gw_warn("events.wake", "cannot wake the event writer: %s", strerror(errno));
}

static bool ok(PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);
	bool good = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;

	PQclear(res);
	return good;
}

static void drop_conn(struct store_events_pg *ep)
{
	PQfinish(ep->conn);
	ep->conn = NULL;
}

static bool connect_conn(struct store *st, struct store_events_pg *ep)
{
	char why[256];

	ep->conn = pg_connect(store_pg_url(st), "ftpsgate-events", why, sizeof(why));
	if (!ep->conn || !ok(PQexec(ep->conn, "SET statement_timeout = 10000; LISTEN ftpsgate_events"))) {
		drop_conn(ep);
		return false;
	}
	return true;
}

/* One element of a PostgreSQL array literal: quoted, " and \\ escaped. */
static void array_add(struct gw_buf *b, size_t i, const char *s)
{
	gw_buf_adds(b, i ? ",\"" : "{\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			gw_buf_add(b, "\\", 1);
		gw_buf_add(b, s, 1);
	}
	gw_buf_add(b, "\"", 1);
}

static void array_add_int(struct gw_buf *b, size_t i, int64_t v)
{
	gw_buf_adds(b, i ? "," : "{");
	gw_buf_add_int(b, v);
}

/* Write what is queued, in order, in one statement and one transaction;
 * false when the database refused it (it stays queued). */
static bool flush(struct store *st, struct store_events_pg *ep)
{
	struct store_event batch[BATCH_MAX];
	struct gw_buf col[5]; /* at, kind, object_id, account_id, state */
	const char *v[6];
	size_t n, i, k;
	bool good;

	pthread_mutex_lock(&ep->lock);
	n = ep->n_queued < BATCH_MAX ? ep->n_queued : BATCH_MAX;
	memcpy(batch, ep->queue, n * sizeof(*batch));
	pthread_mutex_unlock(&ep->lock);
	if (!n)
		return true;
	for (k = 0; k < 5; k++)
		gw_buf_init(&col[k], 64 * 1024);
	for (i = 0; i < n; i++) {
		array_add_int(&col[0], i, batch[i].at_ms);
		array_add(&col[1], i, batch[i].kind);
		array_add_int(&col[2], i, batch[i].id);
		array_add_int(&col[3], i, batch[i].account_id);
		array_add(&col[4], i, batch[i].state);
	}
	for (k = 0; k < 5; k++) {
		gw_buf_add(&col[k], "}", 1);
		v[k] = gw_buf_str(&col[k]);
	}
	v[5] = st->node;
	/* the lock: see the top of this file */
	good = ok(PQexec(ep->conn, "BEGIN; " EVENTS_LOCK)) &&
	       ok(PQexecParams(ep->conn, "INSERT INTO events(at, kind, object_id, account_id,"
					 " state, node) SELECT t.at, t.kind, t.object_id,"
					 " t.account_id, t.state, $6 FROM unnest($1::bigint[],"
					 " $2::text[], $3::bigint[], $4::bigint[], $5::text[])"
					 " WITH ORDINALITY AS t(at, kind, object_id, account_id,"
					 " state, i) ORDER BY t.i", 6, NULL, v, NULL, NULL, 0)) &&
	       ok(PQexec(ep->conn, "NOTIFY ftpsgate_events; COMMIT"));
	for (k = 0; k < 5; k++)
		gw_buf_release(&col[k]);
	if (!good) {
		gw_warn("events.write", "cannot write %zu event(s) yet: %s", n,
			PQerrorMessage(ep->conn));
		if (PQstatus(ep->conn) == CONNECTION_OK)
			PQclear(PQexec(ep->conn, "ROLLBACK"));
		drop_conn(ep);
		return false;
	}
	pthread_mutex_lock(&ep->lock);
	memmove(ep->queue, ep->queue + n, (ep->n_queued - n) * sizeof(*ep->queue));
	ep->n_queued -= n;
	ep->flushed_total += n;
	pthread_cond_broadcast(&ep->flushed_cond);
	pthread_mutex_unlock(&ep->lock);
	return true;
}

void store_pg_events_written(struct store *st, int timeout_ms)
{
	struct store_events_pg *ep = st->evpg;
	struct timespec until;
	uint64_t want;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ep->lock);
	/* dropped ones (the database long away) count as written: never wait for them */
	want = ep->queued_total;
	while (ep->flushed_total + ep->dropped < want && !ep->stopping &&
	       pthread_cond_timedwait(&ep->flushed_cond, &ep->lock, &until) == 0)
		;
	pthread_mutex_unlock(&ep->lock);
}

/* An event row, its columns as EVENT_COLUMNS names them. */
#define EVENT_COLUMNS "id, at, kind, object_id, account_id, state"

static void row_to_event(const PGresult *res, int i, struct store_event *e)
{
	memset(e, 0, sizeof(*e));
	e->seq = (uint64_t)pg_i64(res, i, 0);
	e->at_ms = pg_i64(res, i, 1);
	pg_text(res, i, 2, e->kind, sizeof(e->kind));
	e->id = pg_i64(res, i, 3);
	e->account_id = pg_i64(res, i, 4);
	pg_text(res, i, 5, e->state, sizeof(e->state));
}

void store_pg_replay_bans(struct store *st)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int i, rows;

	/* the newest of the table's ban events, applied oldest first (a
	 * lift after a ban wins); store_ban_elsewhere skips those past */
	pg_arg_i64(&a, READ_MAX);
	if (pg_run(st, "SELECT " EVENT_COLUMNS " FROM (SELECT " EVENT_COLUMNS " FROM events"
		       " WHERE kind = 'ban' ORDER BY id DESC LIMIT $1::bigint) AS b ORDER BY id",
		   &a, &res, "cannot read the bans made before this start") < 0)
		return;
	rows = PQntuples(res);
	for (i = 0; i < rows; i++) {
		struct store_event e;

		row_to_event(res, i, &e);
		store_ban_elsewhere(st, &e);
	}
	PQclear(res);
}

/* Read what every node wrote since the last one seen, into the ring. */
static bool follow(struct store *st, struct store_events_pg *ep)
{
	int rows;

	do {
		struct pg_args a = { 0 };
		PGresult *res;
		int i;

		pg_arg_i64(&a, (int64_t)ep->last_id);
		pg_arg_i64(&a, READ_MAX);
		res = PQexecParams(ep->conn, "SELECT " EVENT_COLUMNS ", node FROM events"
				   " WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint",
				   a.n, NULL, a.v, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			PQclear(res);
			drop_conn(ep);
			return false;
		}
		rows = PQntuples(res);
		for (i = 0; i < rows; i++) {
			struct store_event e;

			row_to_event(res, i, &e);
			store_events_put(st, &e);
			ep->last_id = e.seq;
			/* ftpd here hears of another node's change to an account,
			 * and of its bans */
			if (!strcmp(PQgetvalue(res, i, 6), st->node))
				continue;
			if (!strcmp(e.kind, "account"))
				store_account_changed_elsewhere(st, e.id);
			else if (!strcmp(e.kind, "ban"))
				store_ban_elsewhere(st, &e);
		}
		PQclear(res);
	} while (rows == READ_MAX);
	return true;
}

static void prune(struct store_events_pg *ep)
{
	struct pg_args a = { 0 };

	if (gw_mono_ms() < ep->next_prune_ms)
		return;
	ep->next_prune_ms = gw_mono_ms() + 60 * 1000;
	pg_arg_i64(&a, KEEP_EVENTS);
	PQclear(PQexecParams(ep->conn, "DELETE FROM events WHERE id <"
			     " (SELECT max(id) FROM events) - $1::bigint", a.n, NULL, a.v, NULL,
			     NULL, 0));
}

static void wait_for_news(struct store_events_pg *ep, int timeout_ms)
{
	struct pollfd fds[2] = { { ep->wake_fd, POLLIN, 0 }, { -1, POLLIN, 0 } };
	uint64_t v;
	PGnotify *n;

	if (ep->conn)
		fds[1].fd = PQsocket(ep->conn);
	if (poll(fds, fds[1].fd >= 0 ? 2 : 1, timeout_ms) > 0 && (fds[0].revents & POLLIN) &&
	    read(ep->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		gw_warn("events.wake", "cannot read the wake-up: %s", strerror(errno));
	if (ep->conn && PQconsumeInput(ep->conn))
		while ((n = PQnotifies(ep->conn)) != NULL)
			PQfreemem(n);
}

static void *run(void *arg)
{
	struct store *st = arg;
	struct store_events_pg *ep = st->evpg;
	bool good;

	while (!__atomic_load_n(&ep->stopping, __ATOMIC_RELAXED)) {
		if (!ep->conn && !connect_conn(st, ep)) {
			wait_for_news(ep, 500);
			continue;
		}
		good = flush(st, ep) && follow(st, ep);
		if (good) {
			prune(ep);
			store_pg_nodes_tick(st, ep->conn);
		}
		/* a notification, a queued event, or a second: read again (a
		 * missed notification costs at most that second) */
		wait_for_news(ep, good ? 1000 : 500);
	}
	if (ep->conn) {
		flush(st, ep); /* what this node did last reaches the others */
		store_pg_nodes_leave(st, ep->conn);
	}
	return NULL;
}

/* Start at the newest event: the ring gets the last ones, so a client
 * resuming from an id another node gave it finds what followed. */
static int load_recent(struct store *st, struct store_events_pg *ep)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pg_arg_i64(&a, STORE_EVENTS_KEPT);
	r = pg_run(st, "SELECT COALESCE(max(id), 0) - $1::bigint FROM events", &a, &res,
		   "cannot read the event feed");
	if (r < 0)
		return r;
	ep->last_id = (uint64_t)(pg_i64(res, 0, 0) > 0 ? pg_i64(res, 0, 0) : 0);
	PQclear(res);
	if (!connect_conn(st, ep) || !follow(st, ep))
		return -EAGAIN;
	return 0;
}

int store_pg_events_start(struct store *st)
{
	struct store_events_pg *ep = calloc(1, sizeof(*ep));
	int r;

	if (!ep)
		return -ENOMEM;
	ep->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ep->queue = calloc(QUEUE_MAX, sizeof(*ep->queue));
	pthread_mutex_init(&ep->lock, NULL);
	pthread_cond_init(&ep->flushed_cond, NULL);
	st->evpg = ep;
	if (ep->wake_fd < 0 || !ep->queue)
		return -ENOMEM;
	r = load_recent(st, ep);
	if (r < 0)
		return r;
	r = pthread_create(&ep->thread, NULL, run, st);
	if (r) {
		drop_conn(ep);
		return -r;
	}
	ep->started = true;
	return 0;
}

void store_pg_events_stop(struct store *st)
{
	struct store_events_pg *ep = st->evpg;
	uint64_t one = 1;

	if (!ep)
		return;
	if (ep->started) {
		__atomic_store_n(&ep->stopping, 1, __ATOMIC_RELAXED);
		if (write(ep->wake_fd, &one, sizeof(one)) < 0)
			gw_warn("events.wake", "cannot wake the event writer: %s", strerror(errno));
		pthread_join(ep->thread, NULL);
	}
	drop_conn(ep);
	if (ep->wake_fd >= 0)
		close(ep->wake_fd);
	pthread_mutex_destroy(&ep->lock);
	pthread_cond_destroy(&ep->flushed_cond);
	free(ep->queue);
	free(ep);
	st->evpg = NULL;
}
