/* issuers.c - the issuers of TLS sessions (see issuers.h): a hash table
 * by id, and a list of the closed ones in the order they closed, from
 * which the oldest go when they expire or room is needed. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "issuers.h"

#define BUCKETS 8192

struct ftpd_issuer {
	uint8_t id[FTPD_ISSUER_ID_LEN];
	char address[64];
	int64_t account_id; /* 0 until it logged in */
	int64_t closed_at_ms; /* 0 while its control connection lives */
	struct ftpd_issuer *next;                    /* in its bucket */
	struct ftpd_issuer *closed_prev, *closed_next; /* once closed */
};

struct ftpd_issuers {
	pthread_mutex_t lock;
	unsigned count;
	struct ftpd_issuer *closed_head, *closed_tail; /* oldest first */
	struct ftpd_issuer *buckets[BUCKETS];
};

static unsigned bucket_of(const uint8_t *id)
{
	unsigned h;

	memcpy(&h, id, sizeof(h)); /* the id is random */
	return h % BUCKETS;
}

int ftpd_issuers_new(struct ftpd_issuers **out)
{
	struct ftpd_issuers *is = calloc(1, sizeof(*is));

	if (!is)
		return -ENOMEM;
	pthread_mutex_init(&is->lock, NULL);
	*out = is;
	return 0;
}

void ftpd_issuers_free(struct ftpd_issuers *is)
{
	size_t i;

	if (!is)
		return;
	for (i = 0; i < BUCKETS; i++) {
		struct ftpd_issuer *iss = is->buckets[i], *next;

		for (; iss; iss = next) {
			next = iss->next;
			free(iss);
		}
	}
	pthread_mutex_destroy(&is->lock);
	free(is);
}

/* Take a closed issuer out of the table and free it. Lock held. */
static void drop_locked(struct ftpd_issuers *is, struct ftpd_issuer *iss)
{
	struct ftpd_issuer **p;

	for (p = &is->buckets[bucket_of(iss->id)]; *p; p = &(*p)->next)
		if (*p == iss) {
			*p = iss->next;
			break;
		}
	if (iss->closed_prev)
		iss->closed_prev->closed_next = iss->closed_next;
	else
		is->closed_head = iss->closed_next;
	if (iss->closed_next)
		iss->closed_next->closed_prev = iss->closed_prev;
	else
		is->closed_tail = iss->closed_prev;
	is->count--;
	free(iss);
}

/* Closed issuers whose tickets have expired go; so does the oldest when
 * the table is full. Lock held. */
static void expire_locked(struct ftpd_issuers *is, int64_t now_ms)
{
	while (is->closed_head && (now_ms - is->closed_head->closed_at_ms >= FTPD_ISSUER_KEEP_MS ||
				   is->count >= FTPD_ISSUERS_MAX))
		drop_locked(is, is->closed_head);
}

int ftpd_issuer_open(struct ftpd_issuers *is, const char *address, int64_t now_ms,
		     struct ftpd_issuer **out)
{
	struct ftpd_issuer *iss = calloc(1, sizeof(*iss));
	unsigned b;
	int r;

	if (!iss)
		return -ENOMEM;
	r = gw_random(iss->id, sizeof(iss->id));
	if (r < 0) {
		free(iss);
		return r;
	}
	gw_strlcpy(iss->address, address, sizeof(iss->address));
	b = bucket_of(iss->id);
	pthread_mutex_lock(&is->lock);
	expire_locked(is, now_ms);
	/* Live issuers are bounded by the sessions (max_sessions): they are
	 * always taken, even past FTPD_ISSUERS_MAX. */
	iss->next = is->buckets[b];
	is->buckets[b] = iss;
	is->count++;
	pthread_mutex_unlock(&is->lock);
	*out = iss;
	return 0;
}

const uint8_t *ftpd_issuer_id(const struct ftpd_issuer *iss)
{
	return iss->id;
}

void ftpd_issuer_logged_in(struct ftpd_issuers *is, struct ftpd_issuer *iss, int64_t account_id)
{
	pthread_mutex_lock(&is->lock);
	iss->account_id = account_id;
	pthread_mutex_unlock(&is->lock);
}

void ftpd_issuer_closed(struct ftpd_issuers *is, struct ftpd_issuer *iss, int64_t now_ms)
{
	pthread_mutex_lock(&is->lock);
	iss->closed_at_ms = now_ms ? now_ms : 1;
	iss->closed_prev = is->closed_tail;
	iss->closed_next = NULL;
	if (is->closed_tail)
		is->closed_tail->closed_next = iss;
	else
		is->closed_head = iss;
	is->closed_tail = iss;
	/* One that never logged in issued nothing a data connection takes. */
	if (!iss->account_id)
		drop_locked(is, iss);
	expire_locked(is, now_ms);
	pthread_mutex_unlock(&is->lock);
}

bool ftpd_issuers_match(struct ftpd_issuers *is, const uint8_t id[FTPD_ISSUER_ID_LEN],
			const char *address, int64_t account_id, int64_t now_ms)
{
	struct ftpd_issuer *iss;
	bool ok = false;

	if (account_id <= 0)
		return false;
	pthread_mutex_lock(&is->lock);
	for (iss = is->buckets[bucket_of(id)]; iss; iss = iss->next) {
		if (memcmp(iss->id, id, FTPD_ISSUER_ID_LEN) != 0)
			continue;
		ok = iss->account_id == account_id && !strcmp(iss->address, address) &&
		     (!iss->closed_at_ms || now_ms - iss->closed_at_ms < FTPD_ISSUER_KEEP_MS);
		break;
	}
	pthread_mutex_unlock(&is->lock);
	return ok;
}

unsigned ftpd_issuers_count(struct ftpd_issuers *is)
{
	unsigned n;

	pthread_mutex_lock(&is->lock);
	n = is->count;
	pthread_mutex_unlock(&is->lock);
	return n;
}
