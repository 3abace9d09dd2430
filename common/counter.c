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
	if (max == 0 || n->count < max) {
		n->count++;
		ok = true;
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

void gw_counter_free(struct gw_counter *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < BUCKETS; i++) {
		while (c->buckets[i]) {
			struct node *n = c->buckets[i];

			c->buckets[i] = n->next;
			free(n);
		}
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}
