/* The worker pool's order: plain jobs first come, first served; keyed
 * jobs in turns between keys, one job a key a turn. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "gw.h"

struct rec {
	struct gw_job base;
	char name[8];
	pthread_mutex_t *gate; /* held until the test lets the worker go */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_cond = PTHREAD_COND_INITIALIZER;
static char order[256];
static int ran;

static void run(struct gw_job *job)
{
	struct rec *r = (struct rec *)job;

	if (r->gate) {
		pthread_mutex_lock(r->gate);
		pthread_mutex_unlock(r->gate);
	}
	pthread_mutex_lock(&log_lock);
	snprintf(order + strlen(order), sizeof(order) - strlen(order), "%s ", r->name);
	ran++;
	pthread_cond_signal(&log_cond);
	pthread_mutex_unlock(&log_lock);
}

static void wait_for(int n)
{
	pthread_mutex_lock(&log_lock);
	while (ran < n)
		pthread_cond_wait(&log_cond, &log_lock);
	pthread_mutex_unlock(&log_lock);
}

static void init(struct rec *r, const char *name, pthread_mutex_t *gate)
{
	memset(r, 0, sizeof(*r));
	r->base.run = run;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->gate = gate;
}

int main(void)
{
	pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
	struct gw_pool *pool;
	struct rec held, a[5], b[2], c, p[3];
	char name[8];

	CHECK_INT(gw_pool_new(0, 0, &pool), -EINVAL);
	CHECK_INT(gw_pool_new(1, 0, &pool), 0);

	/* one worker, held while the queue fills */
	pthread_mutex_lock(&gate);
	init(&held, "h", &gate);
	gw_pool_submit(pool, &held.base);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		init(&a[i], name, NULL);
		gw_pool_submit_fair(pool, &a[i].base, 0xa);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		init(&b[i], name, NULL);
		gw_pool_submit_fair(pool, &b[i].base, 0xb);
	}
	init(&c, "c0", NULL);
	gw_pool_submit_fair(pool, &c.base, 0xc);
	pthread_mutex_unlock(&gate);
	wait_for(9);
	/* b and c came after a's five, and each waits for one of a's */
	CHECK_STR(order, "h a0 b0 c0 a1 b1 a2 a3 a4 ");

	/* plain jobs: in order */
	order[0] = '\0';
	ran = 0;
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		init(&p[i], name, NULL);
		gw_pool_submit(pool, &p[i].base);
	}
	wait_for(3);
	CHECK_STR(order, "p0 p1 p2 ");

	/* a key's lane is made again after it emptied */
	order[0] = '\0';
	ran = 0;
	init(&a[0], "a0", NULL);
	gw_pool_submit_fair(pool, &a[0].base, 0xa);
	wait_for(1);
	CHECK_STR(order, "a0 ");
	gw_pool_free(pool);
	return check_report("test_pool");
}
