/* pool.c - a bounded set of worker threads for blocking work. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gw.h"

struct gw_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct gw_job *head, *tail;
	bool stopping;
	int nice;
	unsigned nthreads;
	pthread_t threads[];
};

static void *worker(void *arg)
{
	struct gw_pool *pool = arg;

	/* Linux: the nice value of this thread alone. */
	if (pool->nice && setpriority(PRIO_PROCESS, (id_t)gettid(), pool->nice) < 0)
		gw_warn("pool.nice", "cannot lower a worker's priority: %s", strerror(errno));
	for (;;) {
		struct gw_job *job;

		pthread_mutex_lock(&pool->lock);
		while (!pool->head && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		job = pool->head;
		if (!job) {
			pthread_mutex_unlock(&pool->lock);
			return NULL;
		}
		pool->head = job->next;
		if (!pool->head)
			pool->tail = NULL;
		pthread_mutex_unlock(&pool->lock);
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

void gw_pool_submit(struct gw_pool *pool, struct gw_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&pool->lock);
	if (pool->tail)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
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
