/* records_sqlite_accounts.c - accounts, their keys, admin tokens and the
 * audit log in SQLite: that part of the records contract
 * (store_records.h). One connection, used under st->lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "records_sqlite.h"
#include "store_int.h"

/* The account's columns, and the bytes its uploads hold (a sum over
 * them: only where it is shown) or 0. */
#define ACCOUNT_FIELDS                                                                     \
	"a.id, a.username, a.description, a.status, a.created_at, a.updated_at,"          \
	" a.expires_at, a.quota_bytes, a.require_encryption, a.version, a.deleted_at,"   \
	" a.allowed_addresses, a.allowed_names, a.max_file_bytes, a.rate_limit_bytes_per_s," \
	" a.max_sessions,"
/* the column after them: bytes held, then what a statement adds */
#define COL_USED 16
#define COL_EXTRA 17
#define ACCOUNT_COLUMNS                                                                    \
	ACCOUNT_FIELDS " (SELECT " STORE_HELD_BYTES " FROM uploads u"                     \
		       "  WHERE u.account_id = a.id AND u.purged_at IS NULL)"
#define ACCOUNT_COLUMNS_NO_USAGE ACCOUNT_FIELDS " 0"
/* The last change of its newest upload (by the index on account, id). */
#define LAST_ACTIVITY                                                                      \
	"(SELECT coalesce(u.updated_at, u.started_at) FROM uploads u"                      \
	"  WHERE u.account_id = a.id ORDER BY u.id DESC LIMIT 1)"

/* Columns col.. col+4: allowed_addresses, allowed_names, max_file_bytes,
 * rate_limit_bytes_per_s, max_sessions (NULL: unset). */
static void row_to_policy(sqlite3_stmt *q, int col, struct gw_policy *p)
{
	p->has_addresses = sqlite3_column_type(q, col) != SQLITE_NULL;
	if (p->has_addresses)
		store_sqlite_text(q, col, p->addresses, sizeof(p->addresses));
	p->has_names = sqlite3_column_type(q, col + 1) != SQLITE_NULL;
	if (p->has_names)
		store_sqlite_text(q, col + 1, p->names, sizeof(p->names));
	p->has_max_file = sqlite3_column_type(q, col + 2) != SQLITE_NULL;
	p->max_file_bytes = (uint64_t)sqlite3_column_int64(q, col + 2);
	p->has_rate = sqlite3_column_type(q, col + 3) != SQLITE_NULL;
	p->rate_bytes_per_s = (uint64_t)sqlite3_column_int64(q, col + 3);
	p->has_sessions = sqlite3_column_type(q, col + 4) != SQLITE_NULL;
	p->max_sessions = (uint32_t)sqlite3_column_int64(q, col + 4);
}

/* The policy's five columns from parameter col on. */
static void bind_policy(sqlite3_stmt *q, int col, const struct gw_policy *p)
{
	if (p->has_addresses)
		sqlite3_bind_text(q, col, p->addresses, -1, SQLITE_TRANSIENT);
	if (p->has_names)
		sqlite3_bind_text(q, col + 1, p->names, -1, SQLITE_TRANSIENT);
	if (p->has_max_file)
		sqlite3_bind_int64(q, col + 2, (sqlite3_int64)p->max_file_bytes);
	if (p->has_rate)
		sqlite3_bind_int64(q, col + 3, (sqlite3_int64)p->rate_bytes_per_s);
	if (p->has_sessions)
		sqlite3_bind_int64(q, col + 4, p->max_sessions);
}

static void row_to_account(sqlite3_stmt *q, struct store_account *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(q, 0);
	store_sqlite_text(q, 1, a->username, sizeof(a->username));
	store_sqlite_text(q, 2, a->description, sizeof(a->description));
	store_sqlite_text(q, 3, a->status, sizeof(a->status));
	a->created_at_ms = sqlite3_column_int64(q, 4);
	a->updated_at_ms = sqlite3_column_type(q, 5) == SQLITE_NULL ? a->created_at_ms
								     : sqlite3_column_int64(q, 5);
	a->expires_at_ms = sqlite3_column_int64(q, 6);
	a->quota_bytes = sqlite3_column_type(q, 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 7);
	a->require_encryption = sqlite3_column_int(q, 8) != 0;
	a->version = sqlite3_column_int64(q, 9);
	if (sqlite3_column_type(q, 10) != SQLITE_NULL)
		gw_strlcpy(a->status, "deleted", sizeof(a->status));
	row_to_policy(q, 11, &a->policy);
	a->used_bytes = sqlite3_column_int64(q, COL_USED);
}

/* One statement with an id: its row through fn, or -ENOENT. */
static int read_one(struct store *st, const char *sql, int64_t a, int64_t b, bool two,
		    void (*fn)(sqlite3_stmt *q, void *out), void *out, const char *what)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, sql, &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, a);
		if (two)
			sqlite3_bind_int64(q, 2, b);
		switch (sqlite3_step(q)) {
		case SQLITE_ROW:
			fn(q, out);
			break;
		case SQLITE_DONE:
			r = -ENOENT;
			break;
		default:
			r = store_db_error(st, what);
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* One write; *changes: rows it changed (NULL: not wanted). */
static int write_one(struct store *st, sqlite3_stmt *q, const char *what, int *changes)
{
	if (sqlite3_step(q) != SQLITE_DONE)
		return store_db_error(st, what);
	if (changes)
		*changes = sqlite3_changes(st->db);
	return 0;
}

static void account_row(sqlite3_stmt *q, void *out)
{
	row_to_account(q, out);
}

int store_sqlite_account_get(struct store *st, int64_t id, bool usage,
			     struct store_account *out)
{
	return read_one(st,
			usage ? "SELECT " ACCOUNT_COLUMNS " FROM accounts a WHERE a.id = ?"
			      : "SELECT " ACCOUNT_COLUMNS_NO_USAGE " FROM accounts a WHERE a.id = ?",
			id, 0, false, account_row, out, "cannot read account");
}

int store_sqlite_account_find(struct store *st, const char *username, struct store_account *out,
			      char *hash, size_t hash_size)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " ACCOUNT_COLUMNS_NO_USAGE ", a.password_hash FROM accounts a"
			      " WHERE a.username = ?", &q);
	if (r == 0) {
		sqlite3_bind_text(q, 1, username, -1, SQLITE_TRANSIENT);
		switch (sqlite3_step(q)) {
		case SQLITE_ROW:
			row_to_account(q, out);
			store_sqlite_text(q, COL_EXTRA, hash, hash_size);
			break;
		case SQLITE_DONE:
			r = -ENOENT;
			break;
		default:
			r = store_db_error(st, "cannot read account");
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_account_insert(struct store *st, const struct store_account_row *row,
				int64_t now_ms, int64_t *id)
{
	sqlite3_stmt *q = NULL;
	int r, rc;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "INSERT INTO accounts(username, password_hash, description,"
			      " created_at, password_changed_at, updated_at, expires_at, quota_bytes,"
			      " require_encryption, allowed_addresses, allowed_names, max_file_bytes,"
			      " rate_limit_bytes_per_s, max_sessions)"
			      " VALUES (?1, ?2, ?3, ?4, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)", &q);
	if (r < 0)
		goto out;
	sqlite3_bind_text(q, 1, row->username, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, row->password_hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 3, row->description, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 4, now_ms);
	if (row->expires_at_ms > 0)
		sqlite3_bind_int64(q, 5, row->expires_at_ms);
	if (row->quota_bytes >= 0)
		sqlite3_bind_int64(q, 6, row->quota_bytes);
	sqlite3_bind_int(q, 7, row->require_encryption);
	if (row->policy)
		bind_policy(q, 8, row->policy);
	rc = sqlite3_step(q);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		r = -EEXIST;
	else if (rc != SQLITE_DONE)
		r = store_db_error(st, "cannot create account");
	else
		*id = sqlite3_last_insert_rowid(st->db);
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_account_remove(struct store *st, int64_t id)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "DELETE FROM accounts WHERE id = ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, id);
		r = write_one(st, q, "cannot remove account", NULL);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_account_list(struct store *st, int64_t after_id,
			      const struct store_account_filter *f, unsigned max,
			      struct store_account *items, unsigned *n, bool *more)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r, rc;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " ACCOUNT_COLUMNS ", " LAST_ACTIVITY " FROM accounts a"
			      " WHERE a.id > ?1 AND"
			      " CASE WHEN ?2 IS NULL THEN a.deleted_at IS NULL"
			      " WHEN ?2 = 'deleted' THEN a.deleted_at IS NOT NULL"
			      " ELSE a.deleted_at IS NULL AND a.status = ?2 END"
			      " AND (?4 IS NULL OR instr(lower(a.username), lower(?4)) > 0"
			      "  OR instr(lower(a.description), lower(?4)) > 0)"
			      " ORDER BY a.id LIMIT ?3", &q);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(q, 1, after_id);
	if (f->status)
		sqlite3_bind_text(q, 2, f->status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)max + 1);
	if (f->search)
		sqlite3_bind_text(q, 4, f->search, -1, SQLITE_TRANSIENT);
	*more = false;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (count == max) {
			*more = true;
			break;
		}
		row_to_account(q, &items[count]);
		items[count++].last_activity_ms = sqlite3_column_int64(q, COL_EXTRA);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = store_db_error(st, "cannot list accounts");
		goto out;
	}
	*n = count;
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_account_update(struct store *st, const struct store_account *a, int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	int r, changes = 0;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE accounts SET description = ?1, status = ?2, expires_at = ?3,"
			      " quota_bytes = ?4, require_encryption = ?5, updated_at = ?6,"
			      " version = version + 1, allowed_addresses = ?9, allowed_names = ?10,"
			      " max_file_bytes = ?11, rate_limit_bytes_per_s = ?12, max_sessions = ?13"
			      " WHERE id = ?7 AND version = ?8 AND deleted_at IS NULL", &q);
	if (r == 0) {
		sqlite3_bind_text(q, 1, a->description, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 2, a->status, -1, SQLITE_TRANSIENT);
		if (a->expires_at_ms > 0)
			sqlite3_bind_int64(q, 3, a->expires_at_ms);
		if (a->quota_bytes >= 0)
			sqlite3_bind_int64(q, 4, a->quota_bytes);
		sqlite3_bind_int(q, 5, a->require_encryption);
		sqlite3_bind_int64(q, 6, now_ms);
		sqlite3_bind_int64(q, 7, a->id);
		sqlite3_bind_int64(q, 8, a->version);
		bind_policy(q, 9, &a->policy);
		r = write_one(st, q, "cannot update account", &changes);
		if (r == 0 && changes != 1)
			r = -ESTALE; /* changed by someone else meanwhile */
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_account_delete(struct store *st, int64_t id, int64_t now_ms, bool *changed)
{
	sqlite3_stmt *q = NULL;
	int r, changes = 0;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE accounts SET deleted_at = ?1, updated_at = ?1,"
			      " password_hash = '!deleted', version = version + 1"
			      " WHERE id = ?2 AND deleted_at IS NULL", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, now_ms);
		sqlite3_bind_int64(q, 2, id);
		r = write_one(st, q, "cannot delete account", &changes);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	*changed = changes == 1;
	return r;
}

int store_sqlite_account_set_password(struct store *st, int64_t id, const char *hash,
				      int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	int r, changes = 0;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE accounts SET password_hash = ?1, password_changed_at = ?2,"
			      " updated_at = ?2, version = version + 1"
			      " WHERE id = ?3 AND deleted_at IS NULL", &q);
	if (r == 0) {
		sqlite3_bind_text(q, 1, hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 2, now_ms);
		sqlite3_bind_int64(q, 3, id);
		r = write_one(st, q, "cannot change password", &changes);
		if (r == 0 && changes == 0)
			r = -ENOENT;
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---------------------------------------------------------------- keys */

#define KEY_COLUMNS "id, account_id, recipient, created_at, revoked_at"

static void row_to_key(sqlite3_stmt *q, struct store_key *k)
{
	memset(k, 0, sizeof(*k));
	k->id = sqlite3_column_int64(q, 0);
	k->account_id = sqlite3_column_int64(q, 1);
	store_sqlite_text(q, 2, k->recipient, sizeof(k->recipient));
	k->created_at_ms = sqlite3_column_int64(q, 3);
	k->revoked_at_ms = sqlite3_column_int64(q, 4);
}

static void key_row(sqlite3_stmt *q, void *out)
{
	row_to_key(q, out);
}

int store_sqlite_key_insert(struct store *st, int64_t account_id, const char *recipient,
			    const uint8_t sealed[STORE_KEY_SEALED_LEN], int64_t now_ms, int64_t *id)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "INSERT INTO keys(account_id, recipient, identity_sealed, created_at)"
			      " VALUES (?, ?, ?, ?)", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, account_id);
		sqlite3_bind_text(q, 2, recipient, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(q, 3, sealed, STORE_KEY_SEALED_LEN, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 4, now_ms);
		r = write_one(st, q, "cannot store key", NULL);
		if (r == 0)
			*id = sqlite3_last_insert_rowid(st->db);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_key_get(struct store *st, int64_t account_id, int64_t key_id,
			 struct store_key *out)
{
	return read_one(st, "SELECT " KEY_COLUMNS " FROM keys WHERE account_id = ? AND id = ?",
			account_id, key_id, true, key_row, out, "cannot read key");
}

int store_sqlite_key_list(struct store *st, int64_t account_id, int64_t after_id, unsigned max,
			  struct store_key *items, unsigned *n, bool *more)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " KEY_COLUMNS " FROM keys WHERE account_id = ? AND id > ?"
			      " ORDER BY id LIMIT ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, account_id);
		sqlite3_bind_int64(q, 2, after_id);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)max + 1);
		*more = false;
		while (sqlite3_step(q) == SQLITE_ROW) {
			if (count == max) {
				*more = true;
				break;
			}
			row_to_key(q, &items[count++]);
		}
		*n = count;
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_key_revoke(struct store *st, int64_t account_id, int64_t key_id, int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE keys SET revoked_at = ? WHERE account_id = ? AND id = ?"
			      " AND revoked_at IS NULL", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, now_ms);
		sqlite3_bind_int64(q, 2, account_id);
		sqlite3_bind_int64(q, 3, key_id);
		r = write_one(st, q, "cannot revoke key", NULL);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_key_sealed(struct store *st, int64_t account_id, unsigned max, int64_t *ids,
			    uint8_t (*sealed)[STORE_KEY_SEALED_LEN], unsigned *n)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT id, identity_sealed FROM keys WHERE account_id = ?"
			      " AND revoked_at IS NULL ORDER BY id DESC LIMIT ?", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, account_id);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)max);
		while (sqlite3_step(q) == SQLITE_ROW && count < max) {
			if (sqlite3_column_bytes(q, 1) != STORE_KEY_SEALED_LEN) {
				gw_error("store.key", "key %lld of account %lld is damaged",
					 (long long)sqlite3_column_int64(q, 0), (long long)account_id);
				continue;
			}
			memcpy(sealed[count], sqlite3_column_blob(q, 1), STORE_KEY_SEALED_LEN);
			ids[count++] = sqlite3_column_int64(q, 0);
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	*n = count;
	return r;
}

/* ---------------------------------------------------------------- admin tokens */

#define TOKEN_COLUMNS "id, name, scope, created_at, last_used_at, revoked_at"

static void row_to_token(sqlite3_stmt *q, struct store_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(q, 0);
	store_sqlite_text(q, 1, t->name, sizeof(t->name));
	store_sqlite_text(q, 2, t->scope, sizeof(t->scope));
	t->created_at_ms = sqlite3_column_int64(q, 3);
	t->last_used_at_ms = sqlite3_column_int64(q, 4);
	t->revoked_at_ms = sqlite3_column_int64(q, 5);
}

static void token_row(sqlite3_stmt *q, void *out)
{
	row_to_token(q, out);
}

int store_sqlite_token_by_hash(struct store *st, const char *hash, struct store_token *out)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens WHERE token_hash = ?"
			      " AND revoked_at IS NULL", &q);
	if (r == 0) {
		sqlite3_bind_text(q, 1, hash, -1, SQLITE_TRANSIENT);
		switch (sqlite3_step(q)) {
		case SQLITE_ROW:
			row_to_token(q, out);
			break;
		case SQLITE_DONE:
			r = -ENOENT;
			break;
		default:
			r = store_db_error(st, "cannot read admin token");
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

void store_sqlite_token_touch(struct store *st, int64_t id, int64_t now_ms)
{
	sqlite3_stmt *q = NULL;

	pthread_mutex_lock(&st->lock);
	if (store_prepare(st, "UPDATE admin_tokens SET last_used_at = ? WHERE id = ?", &q) == 0) {
		sqlite3_bind_int64(q, 1, now_ms);
		sqlite3_bind_int64(q, 2, id);
		store_step_now(st, q); /* skipped while another process holds the lock */
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
}

int store_sqlite_token_exists(struct store *st, const char *name, bool *exists)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT 1 FROM admin_tokens WHERE name = ?", &q);
	if (r == 0) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
		*exists = sqlite3_step(q) == SQLITE_ROW;
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_token_put(struct store *st, const char *name, const char *hash,
			   const char *scope, int64_t now_ms, bool replace, int64_t *id)
{
	sqlite3_stmt *q = NULL;
	int r, rc;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, replace ? "INSERT INTO admin_tokens(name, token_hash, created_at, scope)"
					" VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE"
					" SET token_hash = ?2, revoked_at = NULL"
				      : "INSERT INTO admin_tokens(name, token_hash, created_at, scope)"
					" VALUES (?1, ?2, ?3, ?4)", &q);
	if (r == 0) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 2, hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 3, now_ms);
		sqlite3_bind_text(q, 4, scope, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(q);
		if (rc == SQLITE_CONSTRAINT_UNIQUE)
			r = -EEXIST;
		else if (rc != SQLITE_DONE)
			r = store_db_error(st, "cannot store admin token");
		else
			*id = sqlite3_last_insert_rowid(st->db);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_token_get(struct store *st, int64_t id, struct store_token *out)
{
	return read_one(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens WHERE id = ?", id, 0,
			false, token_row, out, "cannot read admin token");
}

int store_sqlite_token_list(struct store *st, int64_t after_id, unsigned max,
			    struct store_token *items, unsigned *n, bool *more)
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

int store_sqlite_token_revoke(struct store *st, int64_t id, int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE admin_tokens SET revoked_at = ? WHERE id = ?"
			      " AND revoked_at IS NULL", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, now_ms);
		sqlite3_bind_int64(q, 2, id);
		r = write_one(st, q, "cannot revoke admin token", NULL);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---------------------------------------------------------------- audit */

int store_sqlite_audit_insert(struct store *st, const struct store_audit *a)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "INSERT INTO audit(at, token_id, token_name, client_address, method,"
			      " path, status, detail, account_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, a->at_ms);
		if (a->token_id)
			sqlite3_bind_int64(q, 2, a->token_id);
		sqlite3_bind_text(q, 3, a->token_name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 4, a->client_address, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 5, a->method, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 6, a->path, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(q, 7, a->status);
		sqlite3_bind_text(q, 8, a->detail, -1, SQLITE_TRANSIENT);
		if (a->account_id)
			sqlite3_bind_int64(q, 9, a->account_id);
		r = write_one(st, q, "cannot record audit entry", NULL);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_audit_list(struct store *st, int64_t before_id, int64_t account_id, unsigned max,
			    struct store_audit *items, unsigned *n, bool *more)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT id, at, token_id, token_name, client_address, method, path,"
			      " status, detail, account_id FROM audit WHERE (?1 = 0 OR id < ?1)"
			      " AND (?3 = 0 OR account_id = ?3)"
			      " ORDER BY id DESC LIMIT ?2", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, before_id);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)max + 1);
		sqlite3_bind_int64(q, 3, account_id);
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
			store_sqlite_text(q, 3, a->token_name, sizeof(a->token_name));
			store_sqlite_text(q, 4, a->client_address, sizeof(a->client_address));
			store_sqlite_text(q, 5, a->method, sizeof(a->method));
			store_sqlite_text(q, 6, a->path, sizeof(a->path));
			a->status = sqlite3_column_int(q, 7);
			store_sqlite_text(q, 8, a->detail, sizeof(a->detail));
			a->account_id = sqlite3_column_int64(q, 9);
			count++;
		}
		*n = count;
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}
