/* accounts.c - accounts, their passwords (argon2id) and their roots. */
#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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

#define ACCOUNT_COLUMNS                                                                    \
	"a.id, a.username, a.description, a.status, a.created_at, a.updated_at,"          \
	" a.expires_at, a.quota_bytes, a.require_encryption, a.version, a.deleted_at,"    \
	" (SELECT " STORE_HELD_BYTES " FROM uploads u"                                    \
	"  WHERE u.account_id = a.id AND u.purged_at IS NULL)"

static void row_to_account(sqlite3_stmt *q, struct store_account *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(q, 0);
	gw_strlcpy(a->username, (const char *)sqlite3_column_text(q, 1), sizeof(a->username));
	gw_strlcpy(a->description, (const char *)sqlite3_column_text(q, 2), sizeof(a->description));
	gw_strlcpy(a->status, (const char *)sqlite3_column_text(q, 3), sizeof(a->status));
	a->created_at_ms = sqlite3_column_int64(q, 4);
	a->updated_at_ms = sqlite3_column_type(q, 5) == SQLITE_NULL ? a->created_at_ms
								     : sqlite3_column_int64(q, 5);
	a->expires_at_ms = sqlite3_column_int64(q, 6);
	a->quota_bytes = sqlite3_column_type(q, 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 7);
	a->require_encryption = sqlite3_column_int(q, 8) != 0;
	a->version = sqlite3_column_int64(q, 9);
	if (sqlite3_column_type(q, 10) != SQLITE_NULL)
		gw_strlcpy(a->status, "deleted", sizeof(a->status));
	a->used_bytes = sqlite3_column_int64(q, 11);
}

static bool can_login(const struct store_account *a)
{
	return !strcmp(a->status, "active") &&
	       (a->expires_at_ms == 0 || a->expires_at_ms > gw_now_ms());
}

void store_watch_accounts(struct store *st, store_account_change_fn *fn, void *arg)
{
	/* Set once ftpd runs, while the admin API may already change
	 * accounts on its threads. */
	pthread_mutex_lock(&st->watch_lock);
	st->watch_fn = fn;
	st->watch_arg = arg;
	pthread_mutex_unlock(&st->watch_lock);
}

/* Tell the watcher (ftpd) and the event feed what became of an account. */
static void changed(struct store *st, const struct store_account *a, const char *what)
{
	struct store_account_change ch;
	store_account_change_fn *fn;
	void *arg;

	store_emit(st, "account", a->id, a->id, what);
	pthread_mutex_lock(&st->watch_lock);
	fn = st->watch_fn;
	arg = st->watch_arg;
	pthread_mutex_unlock(&st->watch_lock);
	if (!fn)
		return;
	ch.account_id = a->id;
	ch.can_login = can_login(a);
	ch.expires_at_ms = a->expires_at_ms;
	fn(arg, &ch);
}

static int make_root(struct store *st, int64_t id)
{
	char name[32];

	snprintf(name, sizeof(name), "%lld", (long long)id);
	if (mkdirat(st->accounts_fd, name, 0750) < 0 && errno != EEXIST)
		return -errno;
	return gw_fsync_dir(st->accounts_fd);
}

static int get_locked(struct store *st, int64_t id, struct store_account *out)
{
	sqlite3_stmt *q = NULL;
	int r;

	r = store_prepare(st, "SELECT " ACCOUNT_COLUMNS " FROM accounts a WHERE a.id = ?", &q);
	if (r < 0)
		return r;
	sqlite3_bind_int64(q, 1, id);
	switch (sqlite3_step(q)) {
	case SQLITE_ROW:
		row_to_account(q, out);
		break;
	case SQLITE_DONE:
		r = -ENOENT;
		break;
	default:
		r = store_db_error(st, "cannot read account");
	}
	sqlite3_finalize(q);
	return r;
}

int store_account_create(struct store *st, const struct store_account_spec *spec,
			 struct store_account *out, char password[STORE_PASSWORD_LEN + 1])
{
	const char *username = spec->username, *description = spec->description;
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
			      " created_at, password_changed_at, updated_at, expires_at, quota_bytes,"
			      " require_encryption) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", &q);
	if (r < 0)
		goto out;
	for (tries = 0; tries < 8; tries++) {
		int rc;

		if (username && *username) {
			gw_strlcpy(name, username, sizeof(name));
		} else {
			gw_strlcpy(name, "ftp-", sizeof(name));
			r = gw_random_token(name + 4, 10, true);
			if (r < 0)
				goto out;
		}
		sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 2, hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 3, description, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 4, now);
		sqlite3_bind_int64(q, 5, now);
		sqlite3_bind_int64(q, 6, now);
		if (spec->set_expires && spec->expires_at_ms > 0)
			sqlite3_bind_int64(q, 7, spec->expires_at_ms);
		if (spec->set_quota && spec->quota_bytes >= 0)
			sqlite3_bind_int64(q, 8, spec->quota_bytes);
		sqlite3_bind_int(q, 9, spec->set_require_encryption ? spec->require_encryption : 1);
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
	r = get_locked(st, id, out);
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	if (r == 0)
		changed(st, out, "created");
	else
		explicit_bzero(password, STORE_PASSWORD_LEN + 1);
	return r;
}

int store_account_get(struct store *st, int64_t id, struct store_account *out)
{
	int r;

	pthread_mutex_lock(&st->lock);
	r = get_locked(st, id, out);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_account_list(struct store *st, int64_t after_id, const char *status, unsigned max,
		       struct store_account *items, unsigned *n, bool *more)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r, rc;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " ACCOUNT_COLUMNS " FROM accounts a WHERE a.id > ?1 AND"
			      " CASE WHEN ?2 IS NULL THEN a.deleted_at IS NULL"
			      " WHEN ?2 = 'deleted' THEN a.deleted_at IS NOT NULL"
			      " ELSE a.deleted_at IS NULL AND a.status = ?2 END"
			      " ORDER BY a.id LIMIT ?3", &q);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(q, 1, after_id);
	if (status)
		sqlite3_bind_text(q, 2, status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)max + 1);
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

int store_account_update(struct store *st, int64_t id, const struct store_account_spec *spec,
			 struct store_account *out)
{
	struct store_account cur = { 0 };
	sqlite3_stmt *q = NULL;
	const char *what = "updated";
	int r;

	if (spec->status && strcmp(spec->status, "active") && strcmp(spec->status, "disabled"))
		return -EINVAL;
	if (spec->description && strlen(spec->description) > GW_DESCRIPTION_MAX)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	r = get_locked(st, id, &cur);
	if (r < 0)
		goto out;
	if (!strcmp(cur.status, "deleted")) {
		r = -EINVAL;
		goto out;
	}
	if (spec->if_version && spec->if_version != cur.version) {
		r = -ESTALE;
		goto out;
	}
	r = store_prepare(st, "UPDATE accounts SET description = ?, status = ?, expires_at = ?,"
			      " quota_bytes = ?, require_encryption = ?, updated_at = ?,"
			      " version = version + 1 WHERE id = ? AND version = ?", &q);
	if (r < 0)
		goto out;
	sqlite3_bind_text(q, 1, spec->description ? spec->description : cur.description, -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, spec->status ? spec->status : cur.status, -1, SQLITE_TRANSIENT);
	if (spec->set_expires ? spec->expires_at_ms > 0 : cur.expires_at_ms > 0)
		sqlite3_bind_int64(q, 3, spec->set_expires ? spec->expires_at_ms : cur.expires_at_ms);
	if (spec->set_quota ? spec->quota_bytes >= 0 : cur.quota_bytes >= 0)
		sqlite3_bind_int64(q, 4, spec->set_quota ? spec->quota_bytes : cur.quota_bytes);
	sqlite3_bind_int(q, 5, spec->set_require_encryption ? spec->require_encryption
							    : cur.require_encryption);
	sqlite3_bind_int64(q, 6, gw_now_ms());
	sqlite3_bind_int64(q, 7, id);
	sqlite3_bind_int64(q, 8, cur.version);
	if (sqlite3_step(q) != SQLITE_DONE) {
		r = store_db_error(st, "cannot update account");
		goto out;
	}
	if (sqlite3_changes(st->db) != 1) {
		r = -ESTALE; /* changed by someone else meanwhile */
		goto out;
	}
	r = get_locked(st, id, out);
	if (spec->status && strcmp(spec->status, cur.status))
		what = spec->status[0] == 'd' ? "disabled" : "enabled";
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	if (r == 0)
		changed(st, out, what);
	return r;
}

int store_account_delete(struct store *st, int64_t id)
{
	struct store_account a = { 0 };
	sqlite3_stmt *q = NULL;
	bool now_deleted = false;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE accounts SET deleted_at = ?1, updated_at = ?1,"
			      " password_hash = '!deleted', version = version + 1"
			      " WHERE id = ?2 AND deleted_at IS NULL", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, gw_now_ms());
		sqlite3_bind_int64(q, 2, id);
		if (sqlite3_step(q) != SQLITE_DONE)
			r = store_db_error(st, "cannot delete account");
		else
			now_deleted = sqlite3_changes(st->db) == 1;
	}
	if (r == 0)
		r = get_locked(st, id, &a); /* -ENOENT; deleting twice is fine */
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	if (r == 0 && now_deleted)
		changed(st, &a, "deleted");
	return r;
}

int store_account_new_password(struct store *st, int64_t id, char password[STORE_PASSWORD_LEN + 1])
{
	char pw[STORE_PASSWORD_LEN + 1], hash[HASH_MAX];
	struct store_account a;
	sqlite3_stmt *q = NULL;
	int r;

	r = gw_random_token(pw, STORE_PASSWORD_LEN, false);
	if (r < 0)
		return r;
	r = store_hash_password(st, pw, hash, sizeof(hash));
	if (r < 0)
		return r;
	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "UPDATE accounts SET password_hash = ?1, password_changed_at = ?2,"
			      " updated_at = ?2, version = version + 1"
			      " WHERE id = ?3 AND deleted_at IS NULL", &q);
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
	r = get_locked(st, id, &a);
	memcpy(password, pw, sizeof(pw));
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	explicit_bzero(pw, sizeof(pw));
	if (r == 0)
		store_emit(st, "account", id, id, "password");
	return r;
}

/* The verified-credential cache. After argon2id accepts a password, the
 * slot of the user name keeps HMAC-SHA256(process key, stored hash, NUL,
 * password) and the time: the same password against the same stored hash
 * within cache_ttl_ms is accepted by comparing that tag instead of running
 * argon2id again. A changed password changes the stored hash and misses;
 * a disabled, expired or deleted account is refused as before (its row is
 * read on every login); a wrong password always costs argon2id. The key
 * lives only in this process's memory. */
static size_t cache_slot(const char *username)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)username; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h % STORE_LOGIN_CACHE_SLOTS);
}

static int cache_tag(struct store *st, const char *hash, const char *password, uint8_t tag[32])
{
	uint8_t msg[HASH_MAX + 1 + GW_PASS_MAX + 1];
	size_t hl = strlen(hash), pl = strlen(password);
	unsigned int len = 32;
	int r = 0;

	if (hl >= HASH_MAX || pl > GW_PASS_MAX)
		return -EINVAL;
	memcpy(msg, hash, hl);
	msg[hl] = 0;
	memcpy(msg + hl + 1, password, pl);
	if (!HMAC(EVP_sha256(), st->cache_key, sizeof(st->cache_key), msg, hl + 1 + pl, tag, &len))
		r = -EIO;
	explicit_bzero(msg, sizeof(msg));
	return r;
}

/* True when username's slot holds tag, younger than the cache's life. */
static bool cache_hit(struct store *st, const char *username, const uint8_t tag[32])
{
	struct login_cached *e;
	bool hit = false;

	pthread_mutex_lock(&st->cache_lock);
	if (st->cache) {
		e = &st->cache[cache_slot(username)];
		hit = e->at_ms && gw_mono_ms() - e->at_ms < st->cache_ttl_ms &&
		      !strcmp(e->username, username) && CRYPTO_memcmp(e->tag, tag, 32) == 0;
	}
	pthread_mutex_unlock(&st->cache_lock);
	return hit;
}

static void cache_put(struct store *st, const char *username, const uint8_t tag[32])
{
	struct login_cached *e;

	pthread_mutex_lock(&st->cache_lock);
	if (st->cache) {
		e = &st->cache[cache_slot(username)];
		gw_strlcpy(e->username, username, sizeof(e->username));
		memcpy(e->tag, tag, 32);
		e->at_ms = gw_mono_ms();
	}
	pthread_mutex_unlock(&st->cache_lock);
}

int store_login(struct store *st, const char *username, const char *password,
		struct store_login *out)
{
	uint8_t tag[32];
	bool cacheable;
	char hash[HASH_MAX];
	struct store_account a;
	sqlite3_stmt *q = NULL;
	bool found = false;
	int r;

	hash[0] = '\0';
	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT " ACCOUNT_COLUMNS ", a.password_hash FROM accounts a"
			      " WHERE a.username = ?", &q);
	if (r == 0) {
		sqlite3_bind_text(q, 1, username, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(q) == SQLITE_ROW) {
			found = true;
			row_to_account(q, &a);
			gw_strlcpy(hash, (const char *)sqlite3_column_text(q, 12), sizeof(hash));
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	if (r < 0)
		return r;
	/* Unknown users, and deleted ones (whose hash is no argon2 hash),
	 * cost the same argon2id work as known ones. */
	if (!found || strncmp(hash, "$argon2id$", 10) != 0)
		gw_strlcpy(hash, st->dummy_hash, sizeof(hash));
	cacheable = found && st->cache && can_login(&a) &&
		    cache_tag(st, hash, password, tag) == 0;
	if (cacheable && cache_hit(st, username, tag)) {
		gw_metric_add(GW_M_LOGIN_CACHE_HITS, 1);
		r = ARGON2_OK;
	} else {
		r = argon2id_verify(hash, password, strlen(password));
		if (r == ARGON2_OK && cacheable)
			cache_put(st, username, tag);
	}
	explicit_bzero(tag, sizeof(tag));
	if (r != ARGON2_OK || !found || !can_login(&a))
		return -EACCES;
	out->account_id = a.id;
	out->expires_at_ms = a.expires_at_ms;
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
