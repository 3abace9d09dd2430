/* admin.c - admin tokens (kept as SHA-256 hashes) and the audit log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "store_int.h"
#include "store_records.h"

/* Valid tokens seen within the last TOKEN_CACHE_MS: an API request then
 * costs no records query for its token (with PostgreSQL, a round trip
 * and a query of the database's). A token revoked or replaced on this
 * node is refused at once (the cache is emptied); one revoked on another
 * node of the same database is refused here within TOKEN_CACHE_MS. */
#define TOKEN_CACHE_MS 1000

static struct store_token_cached *token_slot(struct store *st, const char *hash)
{
	/* a SHA-256 in hex: its first digit chooses as well as any */
	unsigned v = (unsigned)(hash[0] <= '9' ? hash[0] - '0' : hash[0] - 'a' + 10);

	return &st->token_cache[v % GW_ARRAY_SIZE(st->token_cache)];
}

static void forget_tokens(struct store *st)
{
	pthread_mutex_lock(&st->token_lock);
	memset(st->token_cache, 0, sizeof(st->token_cache));
	pthread_mutex_unlock(&st->token_lock);
}

int store_admin_bootstrap(struct store *st, const char *env_token,
			  char out[STORE_TOKEN_LEN + 1], bool *generated)
{
	const char *token = env_token;
	char hash[65];
	bool fresh = false, exists = false;
	int64_t id;
	int r;

	*generated = false;
	if (!token || !*token) {
		/* Generated once, on the first start; shown by the caller. */
		r = st->rec->token_exists(st, "bootstrap", &exists);
		if (r < 0 || exists)
			return r;
		r = gw_random_token(out, STORE_TOKEN_LEN, false);
		if (r < 0)
			return r;
		token = out;
		fresh = true;
	}
	/* A token from the environment replaces any earlier bootstrap token
	 * (and lifts a revocation: the environment is the operator's word). */
	store_sha256_hex(token, strlen(token), hash);
	r = st->rec->token_put(st, "bootstrap", hash, "admin", gw_now_ms(), true, &id);
	forget_tokens(st);
	*generated = r == 0 && fresh;
	return r;
}

int store_admin_check(struct store *st, const char *token, struct store_token *who)
{
	struct store_token_cached *slot;
	char hash[65];
	int64_t now = gw_now_ms();
	bool cached;
	int r;

	if (!token || !*token || strlen(token) > GW_ADMIN_TOKEN_MAX)
		return -EACCES;
	store_sha256_hex(token, strlen(token), hash);
	slot = token_slot(st, hash);
	pthread_mutex_lock(&st->token_lock);
	cached = slot->at_ms && now - slot->at_ms < TOKEN_CACHE_MS && !strcmp(slot->hash, hash);
	if (cached)
		*who = slot->who;
	pthread_mutex_unlock(&st->token_lock);
	if (!cached) {
		r = st->rec->token_by_hash(st, hash, who);
		if (r == -ENOENT)
			return -EACCES;
		if (r < 0)
			return r;
	}
	/* last_used_at, to the minute: not a disk write per request */
	if (now - who->last_used_at_ms > 60000) {
		st->rec->token_touch(st, who->id, now);
		who->last_used_at_ms = now;
	}
	if (!cached) {
		pthread_mutex_lock(&st->token_lock);
		gw_strlcpy(slot->hash, hash, sizeof(slot->hash));
		slot->who = *who;
		slot->at_ms = now;
		pthread_mutex_unlock(&st->token_lock);
	}
	return 0;
}

int store_token_create(struct store *st, const char *name, const char *scope,
		       struct store_token *out, char token[STORE_TOKEN_LEN + 1])
{
	char hash[65];
	int64_t now = gw_now_ms(), id = 0;
	int r;

	if (strcmp(scope, "admin") && strcmp(scope, "read"))
		return -EINVAL;
	r = gw_random_token(token, STORE_TOKEN_LEN, false);
	if (r < 0)
		return r;
	store_sha256_hex(token, STORE_TOKEN_LEN, hash);
	r = st->rec->token_put(st, name, hash, scope, now, false, &id);
	if (r < 0) {
		explicit_bzero(token, STORE_TOKEN_LEN + 1);
		return r;
	}
	memset(out, 0, sizeof(*out));
	out->id = id;
	gw_strlcpy(out->name, name, sizeof(out->name));
	gw_strlcpy(out->scope, scope, sizeof(out->scope));
	out->created_at_ms = now;
	return 0;
}

int store_token_get(struct store *st, int64_t id, struct store_token *out)
{
	return st->rec->token_get(st, id, out);
}

int store_token_list(struct store *st, int64_t after_id, unsigned max, struct store_token *items,
		     unsigned *n, bool *more)
{
	return st->rec->token_list(st, after_id, max, items, n, more);
}

int store_token_revoke(struct store *st, int64_t id, struct store_token *out)
{
	int r = st->rec->token_revoke(st, id, gw_now_ms());

	forget_tokens(st);
	return r < 0 ? r : store_token_get(st, id, out);
}

int store_audit_add(struct store *st, const struct store_audit *a)
{
	struct store_audit e = *a;

	if (!e.at_ms)
		e.at_ms = gw_now_ms();
	return st->rec->audit_insert(st, &e);
}

int store_audit_list(struct store *st, int64_t before_id, int64_t account_id, unsigned max,
		     struct store_audit *items, unsigned *n, bool *more)
{
	return st->rec->audit_list(st, before_id, account_id, max, items, n, more);
}
