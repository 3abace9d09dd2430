/* guard.c - failed logins per client address and per account, and the
 * bans they earn. Shared by the FTPS loops (count, refuse) and the admin
 * API (list, lift); one lock, a bounded number of entries. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

#define BUCKETS 4096

struct entry {
	struct entry *next;
	unsigned failures;     /* within the window that began at since_ms */
	int64_t since_ms;      /* first failure of the window */
	int64_t banned_until_ms; /* 0 = not banned */
	enum gw_guard_kind kind;
	char key[GW_GUARD_KEY_MAX + 1];
};

struct gw_guard {
	pthread_mutex_t lock;
	gw_guard_change_fn *watch_fn; /* set before threads share the guard */
	void *watch_arg;
	size_t n[2], max; /* entries of each kind, at most max of each */
	struct entry *buckets[BUCKETS];
};

static unsigned hash(enum gw_guard_kind kind, const char *s)
{
	unsigned h = 2166136261u ^ (unsigned)kind; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

int gw_guard_new(size_t max_entries, struct gw_guard **out)
{
	struct gw_guard *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	pthread_mutex_init(&g->lock, NULL);
	g->max = max_entries;
	*out = g;
	return 0;
}

/* An entry that neither bans nor counts within the window any more. */
static bool stale(const struct entry *e, int64_t now_ms, unsigned window_s)
{
	return e->banned_until_ms <= now_ms && e->since_ms + (int64_t)window_s * 1000 <= now_ms;
}

static void sweep(struct gw_guard *g, int64_t now_ms, unsigned window_s)
{
	size_t i;

	for (i = 0; i < BUCKETS; i++) {
		struct entry **p = &g->buckets[i];

		while (*p) {
			struct entry *e = *p;

			if (stale(e, now_ms, window_s)) {
				*p = e->next;
				g->n[e->kind]--;
				free(e);
			} else {
				p = &e->next;
			}
		}
	}
}

static struct entry **find(struct gw_guard *g, enum gw_guard_kind kind, const char *key)
{
	struct entry **p;

	for (p = &g->buckets[hash(kind, key)]; *p; p = &(*p)->next)
		if ((*p)->kind == kind && !strcmp((*p)->key, key))
			break;
	return p;
}

/* A new entry for key at *p (the end of its chain), or NULL. */
static struct entry *add_at(struct gw_guard *g, struct entry **p, enum gw_guard_kind kind,
			    const char *key, int64_t now_ms)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->kind = kind;
	gw_strlcpy(e->key, key, sizeof(e->key));
	e->since_ms = now_ms;
	*p = e;
	g->n[kind]++;
	return e;
}

/* Forget key: false when it had no entry. Under the lock. */
static bool drop(struct gw_guard *g, enum gw_guard_kind kind, const char *key)
{
	struct entry **p = find(g, kind, key), *e = *p;

	if (!e)
		return false;
	*p = e->next;
	g->n[kind]--;
	free(e);
	return true;
}

int64_t gw_guard_banned(struct gw_guard *g, enum gw_guard_kind kind, const char *key,
			int64_t now_ms)
{
	struct entry *e;
	int64_t left = 0;

	pthread_mutex_lock(&g->lock);
	e = *find(g, kind, key);
	if (e && e->banned_until_ms > now_ms)
		left = e->banned_until_ms - now_ms;
	pthread_mutex_unlock(&g->lock);
	return left;
}

bool gw_guard_failed(struct gw_guard *g, enum gw_guard_kind kind, const char *key,
		     const struct gw_guard_policy *policy, int64_t now_ms)
{
	struct entry *e;
	bool banned_now = false;

	if (strlen(key) > GW_GUARD_KEY_MAX)
		return false;
	pthread_mutex_lock(&g->lock);
	e = *find(g, kind, key);
	if (!e) {
		if (g->n[kind] >= g->max)
			sweep(g, now_ms, policy->window_s);
		if (g->n[kind] >= g->max) {
			/* Full of live entries: this one goes uncounted. */
			gw_metric_add(GW_M_GUARD_FULL, 1);
			goto out;
		}
		/* find again: the sweep may have changed the chain */
		e = add_at(g, find(g, kind, key), kind, key, now_ms);
		if (!e)
			goto out;
	}
	if (e->since_ms + (int64_t)policy->window_s * 1000 <= now_ms) {
		e->since_ms = now_ms;
		e->failures = 0;
	}
	e->failures++;
	if (policy->max_failures && e->failures >= policy->max_failures &&
	    e->banned_until_ms <= now_ms) {
		e->banned_until_ms = now_ms + (int64_t)policy->ban_s * 1000;
		e->failures = 0;
		e->since_ms = now_ms;
		banned_now = true;
		gw_metric_add(GW_M_BANS, 1);
	}
out:
	pthread_mutex_unlock(&g->lock);
	if (banned_now && g->watch_fn)
		g->watch_fn(g->watch_arg, kind, key, (int64_t)policy->ban_s * 1000);
	return banned_now;
}

void gw_guard_succeeded(struct gw_guard *g, enum gw_guard_kind kind, const char *key)
{
	struct entry **p, *e;

	pthread_mutex_lock(&g->lock);
	p = find(g, kind, key);
	e = *p;
	if (e && !e->banned_until_ms) {
		*p = e->next;
		g->n[kind]--;
		free(e);
	}
	pthread_mutex_unlock(&g->lock);
}

bool gw_guard_lift(struct gw_guard *g, enum gw_guard_kind kind, const char *key)
{
	bool found;

	pthread_mutex_lock(&g->lock);
	found = drop(g, kind, key);
	pthread_mutex_unlock(&g->lock);
	if (found && g->watch_fn)
		g->watch_fn(g->watch_arg, kind, key, 0);
	return found;
}

void gw_guard_ban(struct gw_guard *g, enum gw_guard_kind kind, const char *key, int64_t left_ms,
		  int64_t now_ms)
{
	struct entry **p, *e;

	if (strlen(key) > GW_GUARD_KEY_MAX)
		return;
	pthread_mutex_lock(&g->lock);
	if (left_ms <= 0) {
		drop(g, kind, key);
	} else {
		p = find(g, kind, key);
		e = *p;
		if (!e && g->n[kind] < g->max)
			e = add_at(g, p, kind, key, now_ms);
		if (e && e->banned_until_ms < now_ms + left_ms)
			e->banned_until_ms = now_ms + left_ms;
	}
	pthread_mutex_unlock(&g->lock);
}

void gw_guard_watch(struct gw_guard *g, gw_guard_change_fn *fn, void *arg)
{
	g->watch_fn = fn;
	g->watch_arg = arg;
}

size_t gw_guard_list(struct gw_guard *g, int64_t now_ms, unsigned window_s,
		     struct gw_guard_entry *out, size_t max)
{
	size_t i, n = 0;

	pthread_mutex_lock(&g->lock);
	sweep(g, now_ms, window_s);
	for (i = 0; i < BUCKETS; i++) {
		const struct entry *e;

		for (e = g->buckets[i]; e; e = e->next) {
			if (n < max) {
				out[n].kind = e->kind;
				gw_strlcpy(out[n].key, e->key, sizeof(out[n].key));
				out[n].failures = e->failures;
				out[n].banned_ms = e->banned_until_ms > now_ms
							   ? e->banned_until_ms - now_ms
							   : 0;
			}
			n++;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return n;
}

size_t gw_guard_bans(struct gw_guard *g, int64_t now_ms)
{
	size_t i, n = 0;

	pthread_mutex_lock(&g->lock);
	for (i = 0; i < BUCKETS; i++) {
		const struct entry *e;

		for (e = g->buckets[i]; e; e = e->next)
			n += e->banned_until_ms > now_ms;
	}
	pthread_mutex_unlock(&g->lock);
	return n;
}

void gw_guard_free(struct gw_guard *g)
{
	size_t i;

	if (!g)
		return;
	for (i = 0; i < BUCKETS; i++) {
		while (g->buckets[i]) {
			struct entry *e = g->buckets[i];

			g->buckets[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&g->lock);
	free(g);
}
