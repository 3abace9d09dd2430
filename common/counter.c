/* counter.c - counts per key (client address, account), shared by threads. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

#define BUCKETS 1024

struct node {
	struct node *next;
	unsigned count;
	char key[];
};

struct gw_counter {
	pthread_mutex_t lock;
	struct node *buckets[BUCKETS];
	struct node *others[BUCKETS]; /* what other nodes hold (gw_counter_set_others) */
};

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

int gw_counter_new(struct gw_counter **out)
{
	struct gw_counter *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

static void free_table(struct node **table)
{
	size_t i;

	for (i = 0; i < BUCKETS; i++) {
		while (table[i]) {
			struct node *n = table[i];

			table[i] = n->next;
			free(n);
		}
	}
}

static unsigned others_of(struct gw_counter *c, const char *key)
{
	const struct node *n;

	for (n = c->others[hash(key)]; n; n = n->next)
		if (!strcmp(n->key, key))
			return n->count;
	return 0;
}

bool gw_counter_take(struct gw_counter *c, const char *key, unsigned max)
{
	struct node **p, *n;
	bool ok = false;

	pthread_mutex_lock(&c->lock);
	for (p = &c->buckets[hash(key)]; *p; p = &(*p)->next)
		/* cppcheck-suppress nullPointerRedundantCheck ; the loop stops at NULL */
		if (!strcmp((*p)->key, key))
			break;
	n = *p;
	if (!n) {
		size_t len = strlen(key);

		n = calloc(1, sizeof(*n) + len + 1);
		if (!n)
			goto out;
		memcpy(n->key, key, len + 1);
		*p = n;
	}
	if (max == 0 || (uint64_t)n->count + others_of(c, key) < max) {
		n->count++;
		ok = true;
	} else if (n->count == 0) {
		*p = n->next; /* made for this take only */
		free(n);
	}
out:
	pthread_mutex_unlock(&c->lock);
	return ok;
}

void gw_counter_give(struct gw_counter *c, const char *key)
{
	struct node **p, *n;

	pthread_mutex_lock(&c->lock);
	for (p = &c->buckets[hash(key)]; *p; p = &(*p)->next) {
		n = *p;
		if (strcmp(n->key, key))
			continue;
		if (n->count && --n->count == 0) {
			*p = n->next;
			free(n);
		}
		break;
	}
	pthread_mutex_unlock(&c->lock);
}

int gw_counter_set_others(struct gw_counter *c, const char *const *keys, const unsigned *counts,
			  size_t n)
{
	struct node **fresh = calloc(BUCKETS, sizeof(struct node *));
	size_t i;

	if (!fresh)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		size_t len = strlen(keys[i]);
		struct node *e = calloc(1, sizeof(*e) + len + 1);
		unsigned h = hash(keys[i]);

		if (!e) {
			free_table(fresh);
			free(fresh);
			return -ENOMEM;
		}
		memcpy(e->key, keys[i], len + 1);
		e->count = counts[i];
		e->next = fresh[h];
		fresh[h] = e;
	}
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < BUCKETS; i++) { /* swap: the old set goes with fresh */
		struct node *old = c->others[i];

		c->others[i] = fresh[i];
		fresh[i] = old;
	}
	pthread_mutex_unlock(&c->lock);
	free_table(fresh);
	free(fresh);
	return 0;
}

void gw_counter_each(struct gw_counter *c, gw_counter_each_fn *fn, void *arg)
{
	size_t i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < BUCKETS; i++)
		for (const struct node *n = c->buckets[i]; n; n = n->next)
			if (n->count)
				fn(arg, n->key, n->count);
	pthread_mutex_unlock(&c->lock);
}

void gw_counter_free(struct gw_counter *c)
{
	if (!c)
		return;
	free_table(c->buckets);
	free_table(c->others);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
