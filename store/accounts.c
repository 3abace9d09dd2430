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
#include "store_records.h"

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
	ch.account_id = a->id;
	ch.can_login = can_login(a);
	ch.expires_at_ms = a->expires_at_ms;
	ch.policy = a->policy;
	/* under the lock: once store_watch_accounts(st, NULL, NULL) has
	 * returned, the watcher's arg is never used again */
	pthread_mutex_lock(&st->watch_lock);
	fn = st->watch_fn;
	arg = st->watch_arg;
	if (fn)
		fn(arg, &ch);
	pthread_mutex_unlock(&st->watch_lock);
}

void store_account_changed_elsewhere(struct store *st, int64_t id)
{
	struct store_account_change ch;
	struct store_account a;
	store_account_change_fn *fn;
	void *arg;

	pthread_mutex_lock(&st->watch_lock);
	fn = st->watch_fn;
	pthread_mutex_unlock(&st->watch_lock);
	if (!fn || st->rec->account_get(st, id, false, &a) < 0) /* no watcher: no need to read */
		return;
	ch.account_id = a.id;
	ch.can_login = can_login(&a);
	ch.expires_at_ms = a.expires_at_ms;
	ch.policy = a.policy;
	pthread_mutex_lock(&st->watch_lock); /* as in changed() */
	fn = st->watch_fn;
	arg = st->watch_arg;
	if (fn)
		fn(arg, &ch);
	pthread_mutex_unlock(&st->watch_lock);
}

static int make_root(struct store *st, int64_t id)
{
	char name[32];

	snprintf(name, sizeof(name), "%lld", (long long)id);
	if (mkdirat(st->accounts_fd, name, 0750) < 0 && errno != EEXIST)
		return -errno;
	return gw_fsync_dir(st->accounts_fd);
}


/* The policy fields spec sets, onto p. */
static void policy_apply(struct gw_policy *p, const struct store_account_spec *spec)
{
	const struct gw_policy *n = &spec->policy;

	if (spec->set_policy & STORE_POLICY_ADDRESSES) {
		p->has_addresses = n->has_addresses;
		gw_strlcpy(p->addresses, n->has_addresses ? n->addresses : "", sizeof(p->addresses));
	}
	if (spec->set_policy & STORE_POLICY_NAMES) {
		p->has_names = n->has_names;
		gw_strlcpy(p->names, n->has_names ? n->names : "", sizeof(p->names));
	}
	if (spec->set_policy & STORE_POLICY_MAX_FILE) {
		p->has_max_file = n->has_max_file;
		p->max_file_bytes = n->has_max_file ? n->max_file_bytes : 0;
	}
	if (spec->set_policy & STORE_POLICY_RATE) {
		p->has_rate = n->has_rate;
		p->rate_bytes_per_s = n->has_rate ? n->rate_bytes_per_s : 0;
	}
	if (spec->set_policy & STORE_POLICY_SESSIONS) {
		p->has_sessions = n->has_sessions;
		p->max_sessions = n->has_sessions ? n->max_sessions : 0;
	}
}

int store_account_create(struct store *st, const struct store_account_spec *spec,
			 struct store_account *out, char password[STORE_PASSWORD_LEN + 1])
{
	char name[GW_USER_MAX + 1], hash[HASH_MAX];
	struct store_account_row row = { 0 };
	struct gw_policy policy = { 0 };
	int64_t now = gw_now_ms(), id = 0;
	int r, tries;

	row.description = spec->description ? spec->description : "";
	row.expires_at_ms = spec->set_expires && spec->expires_at_ms > 0 ? spec->expires_at_ms : 0;
	row.quota_bytes = spec->set_quota && spec->quota_bytes >= 0 ? spec->quota_bytes : -1;
	row.require_encryption = spec->set_require_encryption ? spec->require_encryption : true;
	policy_apply(&policy, spec);
	row.policy = &policy;
	if (strlen(row.description) > GW_DESCRIPTION_MAX)
		return -EINVAL;
	if (spec->username && *spec->username && !store_username_is_valid(spec->username))
		return -EINVAL;
	r = gw_random_token(password, STORE_PASSWORD_LEN, false);
	if (r < 0)
		return r;
	r = store_hash_password(st, password, hash, sizeof(hash));
	if (r < 0)
		goto out;
	row.password_hash = hash;
	row.username = name;
	/* a generated name is tried again when taken */
	for (tries = 0, r = -EEXIST; tries < 8 && r == -EEXIST; tries++) {
		if (spec->username && *spec->username) {
			gw_strlcpy(name, spec->username, sizeof(name));
			tries = 8;
		} else {
			gw_strlcpy(name, "ftp-", sizeof(name));
			r = gw_random_token(name + 4, 10, true);
			if (r < 0)
				goto out;
		}
		r = st->rec->account_insert(st, &row, now, &id);
	}
	if (r < 0)
		goto out;
	r = make_root(st, id);
	if (r < 0) {
		gw_error("store.account", "cannot create root of account %lld: %s",
			 (long long)id, strerror(-r));
		st->rec->account_remove(st, id);
		goto out;
	}
	r = st->rec->account_get(st, id, true, out);
out:
	if (r == 0)
		changed(st, out, "created");
	else
		explicit_bzero(password, STORE_PASSWORD_LEN + 1);
	return r;
}

int store_account_get(struct store *st, int64_t id, struct store_account *out)
{
	return st->rec->account_get(st, id, true, out);
}

int store_account_list(struct store *st, int64_t after_id, const struct store_account_filter *f,
		       unsigned max, struct store_account *items, unsigned *n, bool *more)
{
	return st->rec->account_list(st, after_id, f, max, items, n, more);
}

int store_account_update(struct store *st, int64_t id, const struct store_account_spec *spec,
			 struct store_account *out)
{
	struct store_account cur = { 0 }, next;
	const char *what = "updated";
	int r;

	if (spec->status && strcmp(spec->status, "active") && strcmp(spec->status, "disabled"))
		return -EINVAL;
	if (spec->description && strlen(spec->description) > GW_DESCRIPTION_MAX)
		return -EINVAL;
	r = st->rec->account_get(st, id, false, &cur);
	if (r < 0)
		return r;
	if (!strcmp(cur.status, "deleted"))
		return -EINVAL;
	if (spec->if_version && spec->if_version != cur.version)
		return -ESTALE;
	next = cur;
	if (spec->description)
		gw_strlcpy(next.description, spec->description, sizeof(next.description));
	if (spec->status)
		gw_strlcpy(next.status, spec->status, sizeof(next.status));
	if (spec->set_expires)
		next.expires_at_ms = spec->expires_at_ms > 0 ? spec->expires_at_ms : 0;
	if (spec->set_quota)
		next.quota_bytes = spec->quota_bytes >= 0 ? spec->quota_bytes : -1;
	if (spec->set_require_encryption)
		next.require_encryption = spec->require_encryption;
	policy_apply(&next.policy, spec);
	/* only if nobody changed it since it was read (its version) */
	r = st->rec->account_update(st, &next, gw_now_ms());
	if (r == 0)
		r = st->rec->account_get(st, id, true, out);
	if (r < 0)
		return r;
	if (spec->status && strcmp(spec->status, cur.status))
		what = spec->status[0] == 'd' ? "disabled" : "enabled";
	changed(st, out, what);
	return 0;
}

int store_account_delete(struct store *st, int64_t id)
{
	struct store_account a = { 0 };
	bool now_deleted = false;
	int r;

	r = st->rec->account_delete(st, id, gw_now_ms(), &now_deleted);
	if (r == 0)
		r = st->rec->account_get(st, id, false, &a); /* -ENOENT; deleting twice is fine */
	if (r == 0 && now_deleted)
		changed(st, &a, "deleted");
	return r;
}

int store_account_new_password(struct store *st, int64_t id, char password[STORE_PASSWORD_LEN + 1])
{
	char pw[STORE_PASSWORD_LEN + 1], hash[HASH_MAX];
	int r;

	r = gw_random_token(pw, STORE_PASSWORD_LEN, false);
	if (r == 0)
		r = store_hash_password(st, pw, hash, sizeof(hash));
	if (r == 0)
		r = st->rec->account_set_password(st, id, hash, gw_now_ms());
	if (r == 0)
		memcpy(password, pw, sizeof(pw));
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

/* cached_only: -EAGAIN where argon2id would run. */
static int login(struct store *st, const char *username, const char *password,
		 struct store_login *out, bool cached_only)
{
	uint8_t tag[32];
	bool cacheable;
	char hash[HASH_MAX];
	struct store_account a;
	bool found;
	int r;

	hash[0] = '\0';
	r = st->rec->account_find(st, username, &a, hash, sizeof(hash));
	if (r < 0 && r != -ENOENT)
		return r;
	found = r == 0;
	/* Unknown users, and deleted ones (whose hash is no argon2 hash),
	 * cost the same argon2id work as known ones. */
	if (!found || strncmp(hash, "$argon2id$", 10) != 0)
		gw_strlcpy(hash, st->dummy_hash, sizeof(hash));
	cacheable = found && st->cache && can_login(&a) &&
		    cache_tag(st, hash, password, tag) == 0;
	if (cacheable && cache_hit(st, username, tag)) {
		gw_metric_add(GW_M_LOGIN_CACHE_HITS, 1);
		r = ARGON2_OK;
	} else if (cached_only) {
		explicit_bzero(tag, sizeof(tag));
		return -EAGAIN;
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
	out->policy = a.policy;
	return 0;
}

int store_login(struct store *st, const char *username, const char *password,
		struct store_login *out)
{
	return login(st, username, password, out, false);
}

int store_login_cached(struct store *st, const char *username, const char *password,
		       struct store_login *out)
{
	return login(st, username, password, out, true);
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
