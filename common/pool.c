/* pool.c - a bounded set of worker threads for blocking work.
 *
 * Jobs wait in lanes, and the workers serve the lanes that have work in
 * turn, one job each: a plain submission goes to the pool's own lane (one
 * lane: first come, first served), a keyed one to the lane of its key (a
 * client's address), made when the key's first job arrives and dropped
 * when its last is taken. So a key with a thousand jobs queued delays
 * another key's first job by at most one job per lane with work, not by
 * the thousand. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gw.h"

#define LANE_BUCKETS 256

struct lane {
	uint64_t key;
	struct gw_job *head, *tail;
	struct lane *next;  /* in the turn of lanes with work */
	struct lane *chain; /* in its bucket (keyed lanes) */
};

struct gw_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct lane own;                 /* plain submissions */
	struct lane *turn, *turn_tail;   /* lanes with work, next served first */
	struct lane *bucket[LANE_BUCKETS]; /* keyed lanes by key */
	bool stopping;
	int nice;
	unsigned nthreads;
	pthread_t threads[];
};

static struct lane **bucket_of(struct gw_pool *pool, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return &pool->bucket[key % LANE_BUCKETS];
}

static void turn_append(struct gw_pool *pool, struct lane *l)
{
	l->next = NULL;
	if (pool->turn_tail)
		pool->turn_tail->next = l;
	else
		pool->turn = l;
	pool->turn_tail = l;
}

/* The next job, from the lane whose turn it is; that lane goes to the
 * end of the turn if it has more, or away (a keyed one) if not. */
static struct gw_job *take(struct gw_pool *pool)
{
	struct lane *l = pool->turn;
	struct gw_job *job;

	if (!l)
		return NULL;
	job = l->head;
	l->head = job->next;
	if (!l->head)
		l->tail = NULL;
	pool->turn = l->next;
	if (!pool->turn)
		pool->turn_tail = NULL;
	if (l->head) {
		turn_append(pool, l);
	} else if (l != &pool->own) {
		struct lane **p = bucket_of(pool, l->key);

		while (*p != l)
			p = &(*p)->chain;
		*p = l->chain;
		free(l);
	}
	return job;
}

static void *worker(void *arg)
{
	struct gw_pool *pool = arg;

	/* Linux: the nice value of this thread alone. */
	if (pool->nice && setpriority(PRIO_PROCESS, (id_t)gettid(), pool->nice) < 0)
		gw_warn("pool.nice", "cannot lower a worker's priority: %s", strerror(errno));
	for (;;) {
		struct gw_job *job;

		pthread_mutex_lock(&pool->lock);
		while (!pool->turn && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		job = take(pool);
		pthread_mutex_unlock(&pool->lock);
		if (!job)
			return NULL;
		job->next = NULL;
		job->run(job);
	}
}

int gw_pool_new(unsigned threads, int nice, struct gw_pool **out)
{
	struct gw_pool *pool;
	unsigned i;

	if (threads == 0)
		return -EINVAL;
	pool = calloc(1, sizeof(*pool) + threads * sizeof(pthread_t));
	if (!pool)
		return -ENOMEM;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->nice = nice;
	for (i = 0; i < threads; i++) {
		int r = pthread_create(&pool->threads[i], NULL, worker, pool);

		if (r != 0) {
			pool->nthreads = i;
			gw_pool_free(pool);
			return -r;
		}
	}
	pool->nthreads = threads;
	*out = pool;
	return 0;
}

/* The lane of key, made if it has none (NULL: no memory for it). */
static struct lane *lane_of(struct gw_pool *pool, uint64_t key)
{
	struct lane **b = bucket_of(pool, key), *l;

	for (l = *b; l; l = l->chain)
		if (l->key == key)
			return l;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->key = key;
	l->chain = *b;
	*b = l;
	return l;
}

static void submit(struct gw_pool *pool, struct gw_job *job, bool keyed, uint64_t key)
{
	struct lane *l = NULL;

	job->next = NULL;
	pthread_mutex_lock(&pool->lock);
	if (keyed)
		l = lane_of(pool, key);
	if (!l)
		l = &pool->own; /* plain, or no memory for a lane: in order */
	if (l->tail) {
		l->tail->next = job;
	} else {
		l->head = job;
		turn_append(pool, l);
	}
	l->tail = job;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}

void gw_pool_submit(struct gw_pool *pool, struct gw_job *job)
{
	submit(pool, job, false, 0);
}

void gw_pool_submit_fair(struct gw_pool *pool, struct gw_job *job, uint64_t key)
{
	submit(pool, job, true, key);
}

void gw_pool_free(struct gw_pool *pool)
{
	unsigned i;

	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}
