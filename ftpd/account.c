/* account.c - what the sessions of one account on this node share: one
 * descriptor of its root, its policy as last read, and its upload rate.
 *
 * The rate is shared by a virtual clock: each read of an account's upload
 * moves the time its budget is next free (next_ns) on by bytes / rate,
 * and the session that read waits until then. Sessions that take turns
 * reading the same amount get equal shares, and together never more than
 * the rate; a session that reads less (a slower client) waits less.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

struct account {
	int64_t account_id;
	int root_fd;
	unsigned refs;
	struct account *next;
	pthread_mutex_t lock; /* policy, next_ns */
	struct gw_policy policy; /* its own; the server's defaults apply at use */
	int64_t next_ns;         /* CLOCK_MONOTONIC: when its rate budget is free */
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct account *ftpd_account_take(struct ftpd_server *srv, int64_t account_id, int fd,
				  const struct gw_policy *own)
{
	struct account **b = &srv->accounts[(uint64_t)account_id % ACCOUNT_BUCKETS], *a;

	pthread_mutex_lock(&srv->accounts_lock);
	for (a = *b; a && a->account_id != account_id; a = a->next)
		;
	if (a) {
		a->refs++;
		close(fd);
	} else if ((a = calloc(1, sizeof(*a))) != NULL) {
		a->account_id = account_id;
		a->root_fd = fd;
		a->refs = 1;
		pthread_mutex_init(&a->lock, NULL);
		a->next = *b;
		*b = a;
	} else {
		close(fd);
	}
	pthread_mutex_unlock(&srv->accounts_lock);
	if (a) {
		/* what the login just read is the newest word on it */
		pthread_mutex_lock(&a->lock);
		a->policy = *own;
		pthread_mutex_unlock(&a->lock);
	}
	return a;
}

static void account_free(struct account *a)
{
	close(a->root_fd);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

void ftpd_account_give(struct ftpd_server *srv, struct account *a)
{
	struct account **p = &srv->accounts[(uint64_t)a->account_id % ACCOUNT_BUCKETS];

	pthread_mutex_lock(&srv->accounts_lock);
	for (; *p; p = &(*p)->next) {
		if (*p != a)
			continue;
		if (--a->refs == 0) {
			*p = a->next;
			account_free(a);
		}
		break;
	}
	pthread_mutex_unlock(&srv->accounts_lock);
}

void ftpd_accounts_free(struct ftpd_server *srv)
{
	for (size_t b = 0; b < ACCOUNT_BUCKETS; b++) {
		while (srv->accounts[b]) {
			struct account *a = srv->accounts[b];

			srv->accounts[b] = a->next;
			account_free(a);
		}
	}
}

int ftpd_account_root(const struct account *a)
{
	return a->root_fd;
}

void ftpd_account_policy(struct account *a, struct gw_policy *effective)
{
	struct gw_policy own;

	pthread_mutex_lock(&a->lock);
	own = a->policy;
	pthread_mutex_unlock(&a->lock);
	gw_policy_effective(&own, effective);
}

void ftpd_account_policy_changed(struct ftpd_server *srv, int64_t account_id,
				 const struct gw_policy *own)
{
	struct account *a;

	pthread_mutex_lock(&srv->accounts_lock);
	for (a = srv->accounts[(uint64_t)account_id % ACCOUNT_BUCKETS]; a; a = a->next) {
		if (a->account_id != account_id)
			continue;
		pthread_mutex_lock(&a->lock);
		a->policy = *own;
		pthread_mutex_unlock(&a->lock);
		break;
	}
	pthread_mutex_unlock(&srv->accounts_lock);
}

static uint64_t rate_of(const struct account *a)
{
	return a->policy.has_rate ? a->policy.rate_bytes_per_s : gw_live()->policy.rate_bytes_per_s;
}

size_t ftpd_account_rate_quantum(struct account *a)
{
	uint64_t rate, q;

	pthread_mutex_lock(&a->lock);
	rate = rate_of(a);
	pthread_mutex_unlock(&a->lock);
	if (rate == 0)
		return 0;
	/* about 50 ms of the rate per read, so that turns come often */
	q = rate / 20;
	if (q < 4096)
		q = 4096;
	return q > GW_DATA_CHUNK ? GW_DATA_CHUNK : (size_t)q;
}

int64_t ftpd_account_rate_charge(struct account *a, size_t bytes)
{
	int64_t now = mono_ns(), start, wait;
	uint64_t rate;

	pthread_mutex_lock(&a->lock);
	rate = rate_of(a);
	if (rate == 0) {
		pthread_mutex_unlock(&a->lock);
		return 0;
	}
	/* an account idle for a while starts from now, with no credit */
	start = a->next_ns > now ? a->next_ns : now;
	a->next_ns = start + (int64_t)((double)bytes * 1e9 / (double)rate);
	wait = a->next_ns - now;
	pthread_mutex_unlock(&a->lock);
	return wait > 0 ? wait : 0;
}
