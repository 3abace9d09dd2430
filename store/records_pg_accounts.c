/* records_pg_accounts.c - accounts, their keys, admin tokens and the
 * audit log in PostgreSQL: that part of the records contract
 * (store_records.h), statement for statement what SQLite does
 * (records_sqlite_accounts.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "records_pg.h"
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
	ACCOUNT_FIELDS " (SELECT " PG_HELD_BYTES " FROM uploads u"                        \
		       "  WHERE u.account_id = a.id AND u.purged_at IS NULL)"
#define ACCOUNT_COLUMNS_NO_USAGE ACCOUNT_FIELDS " 0"
/* The last change of its newest upload (by the index on account, id). */
#define LAST_ACTIVITY                                                                      \
	"(SELECT coalesce(u.updated_at, u.started_at) FROM uploads u"                      \
	"  WHERE u.account_id = a.id ORDER BY u.id DESC LIMIT 1)"

/* Columns col.. col+4: allowed_addresses, allowed_names, max_file_bytes,
 * rate_limit_bytes_per_s, max_sessions (NULL: unset). */
static void row_to_policy(const PGresult *res, int i, int col, struct gw_policy *p)
{
	p->has_addresses = !pg_null(res, i, col);
	if (p->has_addresses)
		pg_text(res, i, col, p->addresses, sizeof(p->addresses));
	p->has_names = !pg_null(res, i, col + 1);
	if (p->has_names)
		pg_text(res, i, col + 1, p->names, sizeof(p->names));
	p->has_max_file = !pg_null(res, i, col + 2);
	p->max_file_bytes = p->has_max_file ? (uint64_t)pg_i64(res, i, col + 2) : 0;
	p->has_rate = !pg_null(res, i, col + 3);
	p->rate_bytes_per_s = p->has_rate ? (uint64_t)pg_i64(res, i, col + 3) : 0;
	p->has_sessions = !pg_null(res, i, col + 4);
	p->max_sessions = p->has_sessions ? (uint32_t)pg_i64(res, i, col + 4) : 0;
}

/* The policy's five parameters, next in a. */
static void arg_policy(struct pg_args *a, const struct gw_policy *p)
{
	pg_arg_text(a, p->has_addresses ? p->addresses : NULL);
	pg_arg_text(a, p->has_names ? p->names : NULL);
	pg_arg_i64_or_null(a, (int64_t)p->max_file_bytes, p->has_max_file);
	pg_arg_i64_or_null(a, (int64_t)p->rate_bytes_per_s, p->has_rate);
	pg_arg_i64_or_null(a, p->max_sessions, p->has_sessions);
}

static void row_to_account(const PGresult *res, int i, struct store_account *a)
{
	memset(a, 0, sizeof(*a));
	a->id = pg_i64(res, i, 0);
	pg_text(res, i, 1, a->username, sizeof(a->username));
	pg_text(res, i, 2, a->description, sizeof(a->description));
	pg_text(res, i, 3, a->status, sizeof(a->status));
	a->created_at_ms = pg_i64(res, i, 4);
	a->updated_at_ms = pg_null(res, i, 5) ? a->created_at_ms : pg_i64(res, i, 5);
	a->expires_at_ms = pg_i64(res, i, 6);
	a->quota_bytes = pg_null(res, i, 7) ? -1 : pg_i64(res, i, 7);
	a->require_encryption = PQgetvalue(res, i, 8)[0] == 't';
	a->version = pg_i64(res, i, 9);
	if (!pg_null(res, i, 10))
		gw_strlcpy(a->status, "deleted", sizeof(a->status));
	row_to_policy(res, i, 11, &a->policy);
	a->used_bytes = pg_i64(res, i, COL_USED);
}

/* A statement that reads at most one row: through fn, or -ENOENT. */
static int read_one(struct store *st, const char *sql, const struct pg_args *a,
		    void (*fn)(const PGresult *res, void *out), void *out, const char *what)
{
	PGresult *res = NULL;
	int r = pg_run(st, sql, a, &res, what);

	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		r = -ENOENT;
	else
		fn(res, out);
	PQclear(res);
	return r;
}

/* An INSERT .. RETURNING id. */
static int insert_id(struct store *st, const char *sql, const struct pg_args *a,
		     const char *what, int64_t *id)
{
	PGresult *res = NULL;
	int r = pg_run(st, sql, a, &res, what);

	if (r < 0)
		return r;
	*id = pg_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

static void account_row(const PGresult *res, void *out)
{
	row_to_account(res, 0, out);
}

int store_pg_account_get(struct store *st, int64_t id, bool usage, struct store_account *out)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, id);
	return read_one(st,
			usage ? "SELECT " ACCOUNT_COLUMNS " FROM accounts a WHERE a.id = $1::bigint"
			      : "SELECT " ACCOUNT_COLUMNS_NO_USAGE
				" FROM accounts a WHERE a.id = $1::bigint",
			&a, account_row, out, "cannot read account");
}

int store_pg_account_find(struct store *st, const char *username, struct store_account *out,
			  char *hash, size_t hash_size)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	/* Names are made through the API (JSON, so UTF-8); a login's name
	 * in another encoding names no account, and PostgreSQL would refuse
	 * it as a parameter. */
	if (!gw_is_utf8(username))
		return -ENOENT;
	pg_arg_text(&a, username);
	r = pg_run(st, "SELECT " ACCOUNT_COLUMNS_NO_USAGE ", a.password_hash FROM accounts a"
		       " WHERE a.username = $1", &a, &res, "cannot read account");
	if (r < 0)
		return r;
	if (PQntuples(res) == 0) {
		r = -ENOENT;
	} else {
		row_to_account(res, 0, out);
		pg_text(res, 0, COL_EXTRA, hash, hash_size);
	}
	PQclear(res);
	return r;
}

int store_pg_account_insert(struct store *st, const struct store_account_row *row,
			    int64_t now_ms, int64_t *id)
{
	static const struct gw_policy none;
	struct pg_args a = { 0 };

	pg_arg_text(&a, row->username);
	pg_arg_text(&a, row->password_hash);
	pg_arg_text(&a, row->description);
	pg_arg_i64(&a, now_ms);
	pg_arg_i64_or_null(&a, row->expires_at_ms, row->expires_at_ms > 0);
	pg_arg_i64_or_null(&a, row->quota_bytes, row->quota_bytes >= 0);
	pg_arg_bool(&a, row->require_encryption);
	arg_policy(&a, row->policy ? row->policy : &none);
	return insert_id(st, "INSERT INTO accounts(username, password_hash, description, created_at,"
			     " password_changed_at, updated_at, expires_at, quota_bytes,"
			     " require_encryption, allowed_addresses, allowed_names, max_file_bytes,"
			     " rate_limit_bytes_per_s, max_sessions) VALUES ($1, $2, $3, $4::bigint,"
			     " $4::bigint, $4::bigint, $5::bigint, $6::bigint, $7::boolean, $8, $9,"
			     " $10::bigint, $11::bigint, $12::integer) RETURNING id",
			 &a, "cannot create account", id);
}

int store_pg_account_remove(struct store *st, int64_t id)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, id);
	return pg_write(st, "DELETE FROM accounts WHERE id = $1::bigint", &a,
			"cannot remove account", NULL);
}

int store_pg_account_list(struct store *st, int64_t after_id,
			  const struct store_account_filter *f, unsigned max,
			  struct store_account *items, unsigned *n, bool *more)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	pg_arg_i64(&a, after_id);
	pg_arg_text(&a, f->status);
	pg_arg_i64(&a, (int64_t)max + 1);
	pg_arg_text(&a, f->search); /* UTF-8: the API refuses other searches */
	r = pg_run(st, "SELECT " ACCOUNT_COLUMNS ", " LAST_ACTIVITY " FROM accounts a"
		       " WHERE a.id > $1::bigint AND"
		       " CASE WHEN $2::text IS NULL THEN a.deleted_at IS NULL"
		       " WHEN $2::text = 'deleted' THEN a.deleted_at IS NOT NULL"
		       " ELSE a.deleted_at IS NULL AND a.status = $2::text END"
		       " AND ($4::text IS NULL OR strpos(lower(a.username), lower($4::text)) > 0"
		       "  OR strpos(lower(a.description), lower($4::text)) > 0)"
		       " ORDER BY a.id LIMIT $3::bigint", &a, &res, "cannot list accounts");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	*more = rows > (int)max;
	for (i = 0; i < rows && i < (int)max; i++) {
		row_to_account(res, i, &items[i]);
		items[i].last_activity_ms = pg_null(res, i, COL_EXTRA) ? 0 : pg_i64(res, i, COL_EXTRA);
	}
	*n = (unsigned)i;
	PQclear(res);
	return 0;
}

int store_pg_account_update(struct store *st, const struct store_account *acc, int64_t now_ms)
{
	struct pg_args a = { 0 };
	int64_t changes = 0;
	int r;

	pg_arg_text(&a, acc->description);
	pg_arg_text(&a, acc->status);
	pg_arg_i64_or_null(&a, acc->expires_at_ms, acc->expires_at_ms > 0);
	pg_arg_i64_or_null(&a, acc->quota_bytes, acc->quota_bytes >= 0);
	pg_arg_bool(&a, acc->require_encryption);
	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, acc->id);
	pg_arg_i64(&a, acc->version);
	arg_policy(&a, &acc->policy);
	r = pg_write(st, "UPDATE accounts SET description = $1, status = $2, expires_at = $3::bigint,"
			 " quota_bytes = $4::bigint, require_encryption = $5::boolean,"
			 " updated_at = $6::bigint, version = version + 1, allowed_addresses = $9,"
			 " allowed_names = $10, max_file_bytes = $11::bigint,"
			 " rate_limit_bytes_per_s = $12::bigint, max_sessions = $13::integer"
			 " WHERE id = $7::bigint AND version = $8::bigint AND deleted_at IS NULL",
		     &a, "cannot update account", &changes);
	if (r == 0 && changes != 1)
		r = -ESTALE; /* changed by someone else meanwhile */
	return r;
}

int store_pg_account_delete(struct store *st, int64_t id, int64_t now_ms, bool *changed)
{
	struct pg_args a = { 0 };
	int64_t changes = 0;
	int r;

	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, id);
	r = pg_write(st, "UPDATE accounts SET deleted_at = $1::bigint, updated_at = $1::bigint,"
			 " password_hash = '!deleted', version = version + 1"
			 " WHERE id = $2::bigint AND deleted_at IS NULL",
		     &a, "cannot delete account", &changes);
	*changed = changes == 1;
	return r;
}

int store_pg_account_set_password(struct store *st, int64_t id, const char *hash, int64_t now_ms)
{
	struct pg_args a = { 0 };
	int64_t changes = 0;
	int r;

	pg_arg_text(&a, hash);
	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, id);
	r = pg_write(st, "UPDATE accounts SET password_hash = $1, password_changed_at = $2::bigint,"
			 " updated_at = $2::bigint, version = version + 1"
			 " WHERE id = $3::bigint AND deleted_at IS NULL",
		     &a, "cannot change password", &changes);
	if (r == 0 && changes == 0)
		r = -ENOENT;
	return r;
}

/* ---------------------------------------------------------------- keys */

#define KEY_COLUMNS "id, account_id, recipient, created_at, revoked_at"

static void row_to_key(const PGresult *res, int i, struct store_key *k)
{
	memset(k, 0, sizeof(*k));
	k->id = pg_i64(res, i, 0);
	k->account_id = pg_i64(res, i, 1);
	pg_text(res, i, 2, k->recipient, sizeof(k->recipient));
	k->created_at_ms = pg_i64(res, i, 3);
	k->revoked_at_ms = pg_i64(res, i, 4);
}

static void key_row(const PGresult *res, void *out)
{
	row_to_key(res, 0, out);
}

int store_pg_key_insert(struct store *st, int64_t account_id, const char *recipient,
			const uint8_t sealed[STORE_KEY_SEALED_LEN], int64_t now_ms, int64_t *id)
{
	char hex[2 + 2 * STORE_KEY_SEALED_LEN + 1] = "\\x";
	struct pg_args a = { 0 };
	int r;

	gw_hex(sealed, STORE_KEY_SEALED_LEN, hex + 2);
	pg_arg_i64(&a, account_id);
	pg_arg_text(&a, recipient);
	pg_arg_text(&a, hex);
	pg_arg_i64(&a, now_ms);
	r = insert_id(st, "INSERT INTO keys(account_id, recipient, identity_sealed, created_at)"
			  " VALUES ($1::bigint, $2, $3::bytea, $4::bigint) RETURNING id",
		      &a, "cannot store key", id);
	explicit_bzero(hex, sizeof(hex));
	return r;
}

int store_pg_key_get(struct store *st, int64_t account_id, int64_t key_id, struct store_key *out)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, account_id);
	pg_arg_i64(&a, key_id);
	return read_one(st, "SELECT " KEY_COLUMNS " FROM keys WHERE account_id = $1::bigint"
			    " AND id = $2::bigint", &a, key_row, out, "cannot read key");
}

int store_pg_key_list(struct store *st, int64_t account_id, int64_t after_id, unsigned max,
		      struct store_key *items, unsigned *n, bool *more)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	pg_arg_i64(&a, account_id);
	pg_arg_i64(&a, after_id);
	pg_arg_i64(&a, (int64_t)max + 1);
	r = pg_run(st, "SELECT " KEY_COLUMNS " FROM keys WHERE account_id = $1::bigint"
		       " AND id > $2::bigint ORDER BY id LIMIT $3::bigint", &a, &res,
		   "cannot list keys");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	*more = rows > (int)max;
	for (i = 0; i < rows && i < (int)max; i++)
		row_to_key(res, i, &items[i]);
	*n = (unsigned)i;
	PQclear(res);
	return 0;
}

int store_pg_key_revoke(struct store *st, int64_t account_id, int64_t key_id, int64_t now_ms)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, account_id);
	pg_arg_i64(&a, key_id);
	return pg_write(st, "UPDATE keys SET revoked_at = $1::bigint WHERE account_id = $2::bigint"
			    " AND id = $3::bigint AND revoked_at IS NULL", &a, "cannot revoke key",
			NULL);
}

int store_pg_key_sealed(struct store *st, int64_t account_id, unsigned max, int64_t *ids,
			uint8_t (*sealed)[STORE_KEY_SEALED_LEN], unsigned *n)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	unsigned count = 0;
	int r, rows, i;

	*n = 0;
	pg_arg_i64(&a, account_id);
	pg_arg_i64(&a, max);
	/* encode(.., 'hex') whatever bytea_output the server has */
	r = pg_run(st, "SELECT id, encode(identity_sealed, 'hex') FROM keys"
		       " WHERE account_id = $1::bigint AND revoked_at IS NULL"
		       " ORDER BY id DESC LIMIT $2::bigint", &a, &res, "cannot read keys");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && count < max; i++) {
		const char *hex = PQgetvalue(res, i, 1);

		if (strlen(hex) != 2 * STORE_KEY_SEALED_LEN ||
		    gw_unhex(hex, sealed[count], STORE_KEY_SEALED_LEN) < 0) {
			gw_error("store.key", "key %lld of account %lld is damaged",
				 (long long)pg_i64(res, i, 0), (long long)account_id);
			continue;
		}
		ids[count++] = pg_i64(res, i, 0);
	}
	/* the sealed identities were in the result's memory */
	for (i = 0; i < rows; i++)
		explicit_bzero(PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
	PQclear(res);
	*n = count;
	return 0;
}

/* ---------------------------------------------------------------- admin tokens */

#define TOKEN_COLUMNS "id, name, scope, created_at, last_used_at, revoked_at"

static void row_to_token(const PGresult *res, int i, struct store_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = pg_i64(res, i, 0);
	pg_text(res, i, 1, t->name, sizeof(t->name));
	pg_text(res, i, 2, t->scope, sizeof(t->scope));
	t->created_at_ms = pg_i64(res, i, 3);
	t->last_used_at_ms = pg_i64(res, i, 4);
	t->revoked_at_ms = pg_i64(res, i, 5);
}

static void token_row(const PGresult *res, void *out)
{
	row_to_token(res, 0, out);
}

int store_pg_token_by_hash(struct store *st, const char *hash, struct store_token *out)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, hash);
	return read_one(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens WHERE token_hash = $1"
			    " AND revoked_at IS NULL", &a, token_row, out, "cannot read admin token");
}

void store_pg_token_touch(struct store *st, int64_t id, int64_t now_ms)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, id);
	/* at most once a second per token, and never waiting for its row */
	pg_write(st, "UPDATE admin_tokens SET last_used_at = $1::bigint WHERE id ="
		     " (SELECT id FROM admin_tokens WHERE id = $2::bigint"
		     " AND COALESCE(last_used_at, 0) < $1::bigint - 1000 FOR UPDATE SKIP LOCKED)",
		 &a, "cannot record the token's use", NULL);
}

int store_pg_token_exists(struct store *st, const char *name, bool *exists)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r;

	pg_arg_text(&a, name);
	r = pg_run(st, "SELECT 1 FROM admin_tokens WHERE name = $1", &a, &res,
		   "cannot read admin token");
	if (r < 0)
		return r;
	*exists = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

int store_pg_token_put(struct store *st, const char *name, const char *hash, const char *scope,
		       int64_t now_ms, bool replace, int64_t *id)
{
	static const char put[] = "INSERT INTO admin_tokens(name, token_hash, created_at, scope)"
				  " VALUES ($1, $2, $3::bigint, $4) ON CONFLICT(name) DO UPDATE"
				  " SET token_hash = $2, revoked_at = NULL RETURNING id";
	struct pg_args a = { 0 };
	int r;

	pg_arg_text(&a, name);
	pg_arg_text(&a, hash);
	pg_arg_i64(&a, now_ms);
	pg_arg_text(&a, scope);
	if (!replace)
		return insert_id(st, "INSERT INTO admin_tokens(name, token_hash, created_at, scope)"
				     " VALUES ($1, $2, $3::bigint, $4) RETURNING id",
				 &a, "cannot store admin token", id);
	r = insert_id(st, put, &a, "cannot store admin token", id);
	/* Two nodes starting at once put the same bootstrap token: the one
	 * that waited meets the other's row on token_hash, which ON CONFLICT
	 * does not cover; now that row is there, the update path takes it. */
	if (r == -EEXIST)
		r = insert_id(st, put, &a, "cannot store admin token", id);
	return r;
}

int store_pg_token_get(struct store *st, int64_t id, struct store_token *out)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, id);
	return read_one(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens WHERE id = $1::bigint", &a,
			token_row, out, "cannot read admin token");
}

int store_pg_token_list(struct store *st, int64_t after_id, unsigned max,
			struct store_token *items, unsigned *n, bool *more)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	pg_arg_i64(&a, after_id);
	pg_arg_i64(&a, (int64_t)max + 1);
	r = pg_run(st, "SELECT " TOKEN_COLUMNS " FROM admin_tokens WHERE id > $1::bigint"
		       " ORDER BY id LIMIT $2::bigint", &a, &res, "cannot list admin tokens");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	*more = rows > (int)max;
	for (i = 0; i < rows && i < (int)max; i++)
		row_to_token(res, i, &items[i]);
	*n = (unsigned)i;
	PQclear(res);
	return 0;
}

int store_pg_token_revoke(struct store *st, int64_t id, int64_t now_ms)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, now_ms);
	pg_arg_i64(&a, id);
	return pg_write(st, "UPDATE admin_tokens SET revoked_at = $1::bigint WHERE id = $2::bigint"
			    " AND revoked_at IS NULL", &a, "cannot revoke admin token", NULL);
}

/* ---------------------------------------------------------------- audit */

int store_pg_audit_insert(struct store *st, const struct store_audit *au)
{
	struct pg_args a = { 0 };

	pg_arg_i64(&a, au->at_ms);
	pg_arg_i64_or_null(&a, au->token_id, au->token_id != 0);
	pg_arg_text(&a, au->token_name);
	pg_arg_text(&a, au->client_address);
	pg_arg_text(&a, au->method);
	pg_arg_bytes(&a, au->path);
	pg_arg_i64(&a, au->status);
	pg_arg_bytes(&a, au->detail);
	pg_arg_i64_or_null(&a, au->account_id, au->account_id != 0);
	return pg_write(st, "INSERT INTO audit(at, token_id, token_name, client_address, method,"
			    " path, status, detail, account_id) VALUES ($1::bigint, $2::bigint, $3, $4,"
			    " $5, $6::bytea, $7::int, $8::bytea, $9::bigint)", &a, "cannot record audit entry", NULL);
}

int store_pg_audit_list(struct store *st, int64_t before_id, int64_t account_id, unsigned max,
			struct store_audit *items, unsigned *n, bool *more)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, rows, i;

	pg_arg_i64(&a, before_id);
	pg_arg_i64(&a, (int64_t)max + 1);
	pg_arg_i64(&a, account_id);
	r = pg_run(st, "SELECT id, at, token_id, token_name, client_address, method, path,"
		       " status, detail, account_id FROM audit WHERE ($1::bigint = 0 OR id < $1::bigint)"
		       " AND ($3::bigint = 0 OR account_id = $3::bigint)"
		       " ORDER BY id DESC LIMIT $2::bigint", &a, &res, "cannot list the audit log");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	*more = rows > (int)max;
	for (i = 0; i < rows && i < (int)max; i++) {
		struct store_audit *e = &items[i];

		memset(e, 0, sizeof(*e));
		e->id = pg_i64(res, i, 0);
		e->at_ms = pg_i64(res, i, 1);
		e->token_id = pg_i64(res, i, 2);
		pg_text(res, i, 3, e->token_name, sizeof(e->token_name));
		pg_text(res, i, 4, e->client_address, sizeof(e->client_address));
		pg_text(res, i, 5, e->method, sizeof(e->method));
		pg_bytes(res, i, 6, e->path, sizeof(e->path));
		e->status = (int)pg_i64(res, i, 7);
		pg_bytes(res, i, 8, e->detail, sizeof(e->detail));
		e->account_id = pg_null(res, i, 9) ? 0 : pg_i64(res, i, 9);
	}
	*n = (unsigned)i;
	PQclear(res);
	return 0;
}
