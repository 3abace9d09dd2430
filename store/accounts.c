/* accounts.c - accounts, their passwords (argon2id) and their roots. */
#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw.h"
#include "store_int.h"

#define HASH_MAX 160

bool store_username_is_valid(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > GW_USER_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void row_to_account(sqlite3_stmt *q, struct store_account *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(q, 0);
	gw_strlcpy(a->username, (const char *)sqlite3_column_text(q, 1), sizeof(a->username));
	gw_strlcpy(a->description, (const char *)sqlite3_column_text(q, 2), sizeof(a->description));
	gw_strlcpy(a->status, (const char *)sqlite3_column_text(q, 3), sizeof(a->status));
	a->created_at_ms = sqlite3_column_int64(q, 4);
}

#define ACCOUNT_COLUMNS "id, username, description, status, created_at"

static int make_root(struct store *st, int64_t id)
{
	char name[32];

	snprintf(name, sizeof(name), "%lld", (long long)id);
	if (mkdirat(st->accounts_fd, name, 0750) < 0 && errno != EEXIST)
		return -errno;
	return gw_fsync_dir(st->accounts_fd);
}

int store_account_create(struct store *st, const char *username, const char *description,
			 struct store_account *out, char password[STORE_PASSWORD_LEN + 1])
{
	char name[GW_USER_MAX + 1], hash[HASH_MAX];
	sqlite3_stmt *q = NULL;
	int64_t now = gw_now_ms(), id;
	int r, tries;

	if (!description)
		description = "";
	if (strlen(description) > GW_DESCRIPTION_MAX)
		return -EINVAL;
	if (username && *username && !store_username_is_valid(username))
		return -EINVAL;
	r = gw_random_token(password, STORE_PASSWORD_LEN, false);
	if (r < 0)
		return r;
	r = store_hash_password(st, password, hash, sizeof(hash));
	if (r < 0)
		return r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "INSERT INTO accounts(username, password_hash, description,"
			      " created_at, password_changed_at) VALUES (?, ?, ?, ?, ?)", &q);
	if (r < 0)
		goto out;
	for (tries = 0; tries < 8; tries++) {
		int rc;

		if (username && *username) {
			gw_strlcpy(name, username, sizeof(name));
		} else {
			memcpy(name, "ftp-", 4);
			r = gw_random_token(name + 4, 10, true);
			if (r < 0)
				goto out;
		}
		sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 2, hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 3, description, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 4, now);
		sqlite3_bind_int64(q, 5, now);
		rc = sqlite3_step(q);
		if (rc == SQLITE_DONE)
			break;
		sqlite3_reset(q);
		if (rc != SQLITE_CONSTRAINT_UNIQUE) {
			r = store_db_error(st, "cannot create account");
			goto out;
		}
		if (username && *username) {
			r = -EEXIST;
			goto out;
		}
	}
	if (tries == 8) {
		r = -EEXIST;
		goto out;
	}
	id = sqlite3_last_insert_rowid(st->db);
	r = make_root(st, id);
	if (r < 0) {
		gw_error("store.account", "cannot create root of account %lld: %s",
			 (long long)id, strerror(-r));
		sqlite3_finalize(q);
		q = NULL;
		if (store_prepare(st, "DELETE FROM accounts WHERE id = ?", &q) == 0) {
			sqlite3_bind_int64(q, 1, id);
			sqlite3_step(q);
		}
		goto out;
	}
	memset(out, 0, sizeof(*out));
	out->id = id;
	gw_strlcpy(out->username, name, sizeof(out->username));
	gw_strlcpy(out->description, description, sizeof(out->description));
	gw_strlcpy(out->status, "active", sizeof(out->status));
	out->created_at_ms = now;
	r = 0;
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_account_get(struct store *st, int64_t id, struct store_account *out)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id = ?", &q);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(q, 1, id);
	switch (sqlite3_step(q)) {
	case SQLITE_ROW:
		row_to_account(q, out);
		r = 0;
		break;
	case SQLITE_DONE:
		r = -ENOENT;
		break;
	default:
		r = store_db_error(st, "cannot read account");
	}
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_account_list(struct store *st, int64_t after_id, unsigned max,
		       struct store_account *items, unsigned *n, bool *more)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r, rc;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id > ?"
			      " ORDER BY id LIMIT ?", &q);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(q, 1, after_id);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)max + 1);
	*more = false;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (count == max) {
			*more = true;
			break;
		}
		row_to_account(q, &items[count++]);
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

int store_account_new_password(struct store *st, int64_t id, char password[STORE_PASSWORD_LEN + 1])
{
	char pw[STORE_PASSWORD_LEN + 1], hash[HASH_MAX];
	sqlite3_stmt *q = NULL;
	int r;

	r = gw_random_token(pw, STORE_PASSWORD_LEN, false);
	if (r < 0)
		return r;
	r = store_hash_password(st, pw, hash, sizeof(hash));
	if (r < 0)
		return r;
	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE accounts SET password_hash = ?, password_changed_at = ?"
			      " WHERE id = ?", &q);
	if (r < 0)
		goto out;
	sqlite3_bind_text(q, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 2, gw_now_ms());
	sqlite3_bind_int64(q, 3, id);
	if (sqlite3_step(q) != SQLITE_DONE) {
		r = store_db_error(st, "cannot change password");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		r = -ENOENT;
		goto out;
	}
	memcpy(password, pw, sizeof(pw));
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_login(struct store *st, const char *username, const char *password, int64_t *account_id)
{
	char hash[HASH_MAX];
	sqlite3_stmt *q = NULL;
	int64_t id = 0;
	bool found = false, active = false;
	int r;

	hash[0] = '\0';
	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT id, password_hash, status FROM accounts WHERE username = ?", &q);
	if (r == 0) {
		sqlite3_bind_text(q, 1, username, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(q) == SQLITE_ROW) {
			found = true;
			id = sqlite3_column_int64(q, 0);
			gw_strlcpy(hash, (const char *)sqlite3_column_text(q, 1), sizeof(hash));
			active = !strcmp((const char *)sqlite3_column_text(q, 2), "active");
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	if (r < 0)
		return r;
	/* Unknown users cost the same argon2id work as known ones. */
	r = argon2id_verify(found ? hash : st->dummy_hash, password, strlen(password));
	if (r != ARGON2_OK || !found || !active)
		return -EACCES;
	*account_id = id;
	return 0;
}

int store_account_root(struct store *st, int64_t account_id, int *out_fd)
{
	char name[32];
	int fd;

	snprintf(name, sizeof(name), "%lld", (long long)account_id);
	fd = openat(st->accounts_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* An account whose root was lost (restored database, new disk)
		 * gets an empty one rather than a failed login. */
		int r = make_root(st, account_id);

		if (r < 0)
			return r;
		fd = openat(st->accounts_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	*out_fd = fd;
	return 0;
}
