/* store.c - opening the store: the data directory's layout, the bytes
 * and records backends, the master key, and what a crash left (uploads
 * still 'receiving' become 'partial').
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw.h"
#include "store_int.h"
#include "store_records.h"

static int bytes_size(struct store *st, int64_t id, uint64_t *size)
{
	return st->bytes->ops->size(st->bytes, id, size);
}

/* Uploads that were receiving when the process died are partial: their
 * bytes stay (resumable), their size is what is kept. */
static int recover(struct store *st)
{
	unsigned n = 0;
	int r = st->rec->recover(st, bytes_size, &n);

	if (n)
		gw_warn("store.recover", "%u interrupted upload(s) marked partial", n);
	return r;
}

static int open_dir(const char *base, const char *name, int *out, char *err, size_t err_size)
{
	char path[PATH_MAX + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", base, name);
	if (mkdir(path, 0750) < 0 && errno != EEXIST) {
		snprintf(err, err_size, "cannot create '%s': %s", path, strerror(errno));
		return -errno;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_size, "cannot open '%s': %s", path, strerror(errno));
		return -errno;
	}
	*out = fd;
	return 0;
}

int store_open(const struct store_params *p, struct store **out, char *err, size_t err_size)
{
	struct store *st;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->accounts_fd = st->uploads_fd = -1;
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->cache_lock, NULL);
	pthread_mutex_init(&st->watch_lock, NULL);
	pthread_mutex_init(&st->unsaved_lock, NULL);
	st->rec = &store_records_sqlite;
	if (store_events_init(st) < 0) {
		free(st);
		return -ENOMEM;
	}
	st->t_cost = p->argon2_t_cost;
	st->min_free_bytes = p->min_free_bytes;
	st->cache_ttl_ms = p->login_cache_s * 1000;
	if (st->cache_ttl_ms) {
		st->cache = calloc(STORE_LOGIN_CACHE_SLOTS, sizeof(*st->cache));
		if (!st->cache || RAND_bytes(st->cache_key, sizeof(st->cache_key)) != 1) {
			snprintf(err, err_size, "cannot set up the login cache");
			r = -ENOMEM;
			goto fail;
		}
	}
	st->m_cost_kib = p->argon2_m_cost_kib;
	st->parallelism = p->argon2_parallelism;
	if (gw_strlcpy(st->data_dir, p->data_dir, sizeof(st->data_dir)) < 0) {
		snprintf(err, err_size, "data_dir is too long");
		r = -ENAMETOOLONG;
		goto fail;
	}
	r = gw_mkdir_p(st->data_dir);
	if (r < 0) {
		snprintf(err, err_size, "cannot create data directory '%s': %s", st->data_dir, strerror(-r));
		goto fail;
	}
	r = open_dir(st->data_dir, "accounts", &st->accounts_fd, err, err_size);
	if (r < 0)
		goto fail;
	r = open_dir(st->data_dir, "uploads", &st->uploads_fd, err, err_size);
	if (r < 0)
		goto fail;
	r = store_bytes_dir_new(st->uploads_fd, st->min_free_bytes, &st->bytes);
	if (r < 0) {
		snprintf(err, err_size, "cannot set up the bytes store: %s", strerror(-r));
		goto fail;
	}
	r = st->rec->open(st, st->data_dir, err, err_size);
	if (r < 0)
		goto fail;
	st->rec_open = true;
	r = store_master_key_load(st, p, err, err_size);
	if (r < 0)
		goto fail;
	r = recover(st);
	if (r < 0) {
		snprintf(err, err_size, "cannot recover interrupted uploads: %s", strerror(-r));
		goto fail;
	}
	r = store_hash_password(st, "unknown-user", st->dummy_hash, sizeof(st->dummy_hash));
	if (r < 0) {
		snprintf(err, err_size, "cannot hash with argon2id (t=%u m=%u KiB p=%u)",
			 st->t_cost, st->m_cost_kib, st->parallelism);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	store_close(st);
	return r;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->rec_open) {
		store_flush_unsaved(st); /* what stays unsaved, recover() sets right */
		st->rec->close(st);
	}
	free(st->unsaved);
	if (st->accounts_fd >= 0)
		close(st->accounts_fd);
	if (st->bytes)
		st->bytes->ops->free(st->bytes);
	if (st->uploads_fd >= 0)
		close(st->uploads_fd);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->cache_lock);
	pthread_mutex_destroy(&st->watch_lock);
	pthread_mutex_destroy(&st->unsaved_lock);
	if (st->cache)
		explicit_bzero(st->cache, sizeof(*st->cache) * STORE_LOGIN_CACHE_SLOTS);
	free(st->cache);
	explicit_bzero(st->cache_key, sizeof(st->cache_key));
	store_events_release(st);
	explicit_bzero(st->master, sizeof(st->master));
	free(st);
}
