/* admin.c - admin tokens (stored as SHA-256 hashes) and the audit log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "store_int.h"

#define TOKEN_COLUMNS "id, name, scope, created_at, last_used_at, revoked_at"

static void row_to_token(sqlite3_stmt *q, struct store_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(q, 0);
	gw_strlcpy(t->name, (const char *)sqlite3_column_text(q, 1), sizeof(t->name));
	gw_strlcpy(t->scope, (const char *)sqlite3_column_text(q, 2), sizeof(t->scope));
	t->created_at_ms = sqlite3_column_int64(q, 3);
	t->last_used_at_ms = sqlite3_column_int64(q, 4);
	t->revoked_at_ms = sqlite3_column_int64(q, 5);
}

int store_admin_bootstrap(struct store *st, const char *env_token,
			  char out[STORE_TOKEN_LEN + 1], bool *generated)
{
	const char *token = env_token;
	sqlite3_stmt *q = NULL;
	char hash[65];
	bool fresh = false;
	int r = -EIO;

	pthread_mutex_lock(&st->lock);
	if (!token || !*token) {
		/* Generated once, on the first start; shown by the caller. */
		if (store_prepare(st, "SELECT 1 FROM admin_tokens WHERE name = 'bootstrap'", &q) < 0)
			goto out;
		if (sqlite3_step(q) == SQLITE_ROW) {
			r = 0;
			goto out;
		}
		sqlite3_finalize(q);
		q = NULL;
		r = gw_random_token(out, STORE_TOKEN_LEN, false);
		if (r < 0)
			goto out;
		r = -EIO;
		token = out;
		fresh = true;
	}
	/* A token from the environment replaces any earlier bootstrap token
	 * (and lifts a revocation: the environment is the operator's word). */
	/* cppcheck-suppress nullPointerRedundantCheck ; token is out when it was NULL */
	store_sha256_hex(token, strlen(token), hash);
	if (store_prepare(st, "INSERT INTO admin_tokens(name, token_hash, created_at, scope)"
			      " VALUES ('bootstrap', ?1, ?2, 'admin') ON CONFLICT(name) DO UPDATE"
			      " SET token_hash = ?1, revoked_at = NULL", &q) < 0)
		goto out;
	sqlite3_bind_text(q, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 2, gw_now_ms());
	if (sqlite3_step(q) != SQLITE_DONE) {
		store_db_error(st, "cannot store admin token");
		goto out;
	}
	r = 0;
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	*generated = r == 0 && fresh;
	return r;
}

int store_admin_check(struct store *st, const char *token, struct store_token *who)
{
	sqlite3_stmt *q = NULL;
	char hash[65];
	int64_t now = gw_now_ms();
	int r = -EACCES;

	if (!token || !*token || strlen(token) > GW_ADMIN_TOKEN_MAX)
		return -EACCES;
	store_sha256_hex(token, strlen(token), hash);
	pthread_mutex_lock(&st->lock);
	if (store_prepare(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens WHERE token_hash = ?"
			      " AND revoked_at IS NULL", &q) < 0) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(q, 1, hash, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(q) == SQLITE_ROW) {
		row_to_token(q, who);
		r = 0;
	}
	sqlite3_finalize(q);
	q = NULL;
	/* last_used_at, to the minute: not a disk write per request */
	if (r == 0 && now - who->last_used_at_ms > 60000 &&
	    store_prepare(st, "UPDATE admin_tokens SET last_used_at = ? WHERE id = ?", &q) == 0) {
		sqlite3_bind_int64(q, 1, now);
		sqlite3_bind_int64(q, 2, who->id);
		store_step_now(st, q); /* skipped while another process holds the lock */
	}
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_token_create(struct store *st, const char *name, const char *scope,
		       struct store_token *out, char token[STORE_TOKEN_LEN + 1])
{
	sqlite3_stmt *q = NULL;
	char hash[65];
	int r, rc;

	if (strcmp(scope, "admin") && strcmp(scope, "read"))
		return -EINVAL;
	r = gw_random_token(token, STORE_TOKEN_LEN, false);
	if (r < 0)
		return r;
	store_sha256_hex(token, STORE_TOKEN_LEN, hash);
	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "INSERT INTO admin_tokens(name, token_hash, created_at, scope)"
			      " VALUES (?, ?, ?, ?)", &q);
	if (r < 0)
		goto out;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, gw_now_ms());
	sqlite3_bind_text(q, 4, scope, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(q);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		r = -EEXIST;
		goto out;
	}
	if (rc != SQLITE_DONE) {
		r = store_db_error(st, "cannot create admin token");
		goto out;
	}
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_last_insert_rowid(st->db);
	gw_strlcpy(out->name, name, sizeof(out->name));
	gw_strlcpy(out->scope, scope, sizeof(out->scope));
	out->created_at_ms = gw_now_ms();
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	if (r < 0)
		explicit_bzero(token, STORE_TOKEN_LEN + 1);
	return r;
}

int store_token_get(struct store *st, int64_t id, struct store_token *out)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens WHERE id = ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, id);
		if (sqlite3_step(q) == SQLITE_ROW)
			row_to_token(q, out);
		else
			r = -ENOENT;
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_token_list(struct store *st, int64_t after_id, unsigned max, struct store_token *items,
		     unsigned *n, bool *more)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens WHERE id > ?"
			      " ORDER BY id LIMIT ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, after_id);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)max + 1);
		*more = false;
		while (sqlite3_step(q) == SQLITE_ROW) {
			if (count == max) {
				*more = true;
				break;
			}
			row_to_token(q, &items[count++]);
		}
		*n = count;
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_token_revoke(struct store *st, int64_t id, struct store_token *out)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE admin_tokens SET revoked_at = ? WHERE id = ?"
			      " AND revoked_at IS NULL", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, gw_now_ms());
		sqlite3_bind_int64(q, 2, id);
		if (sqlite3_step(q) != SQLITE_DONE)
			r = store_db_error(st, "cannot revoke admin token");
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r < 0 ? r : store_token_get(st, id, out);
}

int store_audit_add(struct store *st, const struct store_audit *a)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "INSERT INTO audit(at, token_id, token_name, client_address, method,"
			      " path, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, a->at_ms ? a->at_ms : gw_now_ms());
		if (a->token_id)
			sqlite3_bind_int64(q, 2, a->token_id);
		sqlite3_bind_text(q, 3, a->token_name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 4, a->client_address, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 5, a->method, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 6, a->path, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(q, 7, a->status);
		sqlite3_bind_text(q, 8, a->detail, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(q) != SQLITE_DONE)
			r = store_db_error(st, "cannot record audit entry");
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_audit_list(struct store *st, int64_t before_id, unsigned max, struct store_audit *items,
		     unsigned *n, bool *more)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT id, at, token_id, token_name, client_address, method, path,"
			      " status, detail FROM audit WHERE (?1 = 0 OR id < ?1)"
			      " ORDER BY id DESC LIMIT ?2", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, before_id);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)max + 1);
		*more = false;
		while (sqlite3_step(q) == SQLITE_ROW) {
			struct store_audit *a = &items[count];

			if (count == max) {
				*more = true;
				break;
			}
			memset(a, 0, sizeof(*a));
			a->id = sqlite3_column_int64(q, 0);
			a->at_ms = sqlite3_column_int64(q, 1);
			a->token_id = sqlite3_column_int64(q, 2);
			gw_strlcpy(a->token_name, (const char *)sqlite3_column_text(q, 3),
				   sizeof(a->token_name));
			gw_strlcpy(a->client_address, (const char *)sqlite3_column_text(q, 4),
				   sizeof(a->client_address));
			gw_strlcpy(a->method, (const char *)sqlite3_column_text(q, 5), sizeof(a->method));
			gw_strlcpy(a->path, (const char *)sqlite3_column_text(q, 6), sizeof(a->path));
			a->status = sqlite3_column_int(q, 7);
			gw_strlcpy(a->detail, (const char *)sqlite3_column_text(q, 8), sizeof(a->detail));
			count++;
		}
		*n = count;
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}
