/* admin.c - admin tokens (kept as SHA-256 hashes) and the audit log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "store_int.h"
#include "store_records.h"

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
	*generated = r == 0 && fresh;
	return r;
}

int store_admin_check(struct store *st, const char *token, struct store_token *who)
{
	char hash[65];
	int64_t now = gw_now_ms();
	int r;

	if (!token || !*token || strlen(token) > GW_ADMIN_TOKEN_MAX)
		return -EACCES;
	store_sha256_hex(token, strlen(token), hash);
	r = st->rec->token_by_hash(st, hash, who);
	if (r == -ENOENT)
		return -EACCES;
	if (r < 0)
		return r;
	/* last_used_at, to the minute: not a disk write per request */
	if (now - who->last_used_at_ms > 60000)
		st->rec->token_touch(st, who->id, now);
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

	return r < 0 ? r : store_token_get(st, id, out);
}

int store_audit_add(struct store *st, const struct store_audit *a)
{
	struct store_audit e = *a;

	if (!e.at_ms)
		e.at_ms = gw_now_ms();
	return st->rec->audit_insert(st, &e);
}

int store_audit_list(struct store *st, int64_t before_id, unsigned max, struct store_audit *items,
		     unsigned *n, bool *more)
{
	return st->rec->audit_list(st, before_id, max, items, n, more);
}
