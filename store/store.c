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
#include "records_pg.h"
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

/* The records backend a URL names; NULL with err when none. */
static const struct store_records_ops *records_for(const char *url, char *err, size_t err_size)
{
	if (!url || !url[0] || !strcmp(url, "sqlite:"))
		return &store_records_sqlite;
	if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11))
		return &store_records_pg;
	snprintf(err, err_size, "database_url must be 'sqlite:' or a 'postgresql://' URL, not '%.40s%s'",
		 url, strlen(url) > 40 ? "..." : "");
	return NULL;
}

/* The node id (unique among the nodes on one database) and the owner
 * name this process's leases carry: node/pid/random. */
/* Node ids go into URLs (/nodes/{id}/drain), metric labels and logs. */
static int set_node(struct store *st, const char *node_id, char *err, size_t err_size)
{
	uint8_t rnd[8];
	char hex[17];

	if (node_id && node_id[0]) {
		bool good = gw_strlcpy(st->node, node_id, sizeof(st->node)) == 0;

		for (const char *p = node_id; good && *p; p++)
			good = gw_is_node_id_char(*p);
		if (!good) {
			snprintf(err, err_size, "invalid node_id '%.80s': expected at most %d letters,"
				 " digits, '.', '-' or '_'", node_id, STORE_NODE_MAX);
			return -EINVAL;
		}
	} else if (gethostname(st->node, sizeof(st->node)) < 0 || !st->node[0]) {
		gw_strlcpy(st->node, "node", sizeof(st->node));
	}
	st->node[sizeof(st->node) - 1] = '\0';
	for (char *p = st->node; *p; p++)
		if (!gw_is_node_id_char(*p))
			*p = '-';
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	gw_hex(rnd, sizeof(rnd), hex);
	snprintf(st->lease_owner, sizeof(st->lease_owner), "%s/%ld/%s", st->node, (long)getpid(), hex);
	return 0;
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
	pthread_mutex_init(&st->share_lock, NULL);
	pthread_mutex_init(&st->node_lock, NULL);
	st->started_at_ms = gw_now_ms();
	pthread_mutex_init(&st->token_lock, NULL);
	st->rec = records_for(p->database_url, err, err_size);
	r = !st->rec ? -EINVAL : store_events_init(st);
	if (r < 0) {
		free(st);
		return r;
	}
	st->db_url = p->database_url;
	st->db_pool = p->database_pool;
	st->db_timeout_ms = p->database_timeout_ms;
	st->lease_ms = (int64_t)(p->import_lease_s ? p->import_lease_s : 60) * 1000;
	gw_strlcpy(st->accept_command, p->accept_command ? p->accept_command : "",
		   sizeof(st->accept_command));
	st->accept_timeout_s = p->accept_timeout_s ? p->accept_timeout_s : 60;
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
	r = set_node(st, p->node_id, err, err_size);
	if (r < 0)
		goto fail;
	r = st->rec->open(st, st->data_dir, err, err_size);
	st->db_url = NULL;
	if (r < 0)
		goto fail;
	st->rec_open = true;
	if (st->pg) {
		r = store_pg_events_start(st);
		if (r < 0) {
			snprintf(err, err_size, "cannot follow the shared event feed: %s", strerror(-r));
			goto fail;
		}
	}
	r = store_master_key_load(st, p, err, err_size);
	if (r < 0)
		goto fail;
	/* object storage keeps its journal in the records: after them */
	r = store_storage_open(st, p, err, err_size);
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
	store_storage_close(st); /* its senders write to the records */
	if (st->rec_open) {
		store_flush_unsaved(st); /* what stays unsaved, recover() sets right */
		store_pg_events_stop(st);
		st->rec->close(st);
	} else if (st->pg) {
		store_pg_close(st); /* opened, but its schema was refused */
	}
	free(st->unsaved);
	if (st->accounts_fd >= 0)
		close(st->accounts_fd);
	if (st->uploads_fd >= 0)
		close(st->uploads_fd);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->cache_lock);
	pthread_mutex_destroy(&st->watch_lock);
	pthread_mutex_destroy(&st->unsaved_lock);
	pthread_mutex_destroy(&st->share_lock);
	pthread_mutex_destroy(&st->node_lock);
	pthread_mutex_destroy(&st->token_lock);
	if (st->cache)
		explicit_bzero(st->cache, sizeof(*st->cache) * STORE_LOGIN_CACHE_SLOTS);
	free(st->cache);
	explicit_bzero(st->cache_key, sizeof(st->cache_key));
	store_events_release(st);
	explicit_bzero(st->master, sizeof(st->master));
	free(st);
}

const char *store_records_name(struct store *st)
{
	return st->rec->name;
}

int store_records_status(struct store *st, bool ping, char *why, size_t why_size)
{
	if (why_size)
		why[0] = '\0';
	return st->pg ? store_pg_status(st, ping, why, why_size) : 0;
}

const char *store_node_id(struct store *st)
{
	return st->node;
}
