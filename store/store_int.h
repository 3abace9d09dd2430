/* store_int.h - what the files of store/ share. Not for other parts. */
#ifndef FTPSGATE_STORE_INT_H
#define FTPSGATE_STORE_INT_H

#include <limits.h>
#include <pthread.h>

#include "store.h"
#include "store_bytes.h"

struct store_records_ops;
struct sqlite3;
struct store_pg;
struct store_events_pg;

#define STORE_NODE_MAX 64

struct store {
	const struct store_records_ops *rec; /* where records live (store_records.h) */
	bool rec_open;
	struct sqlite3 *db; /* the SQLite records backend's connection */
	pthread_mutex_t lock; /* one connection, used by one thread at a time */
	/* the PostgreSQL records backend (pg.c): its pool and settings */
	struct store_pg *pg;
	const char *db_url; /* while opening only */
	unsigned db_pool, db_timeout_ms;
	struct store_events_pg *evpg; /* events shared by every node (events_pg.c) */
	char node[STORE_NODE_MAX + 1]; /* this node's id */
	char lease_owner[STORE_NODE_MAX + 48]; /* node/pid/random: this process's leases */
	int64_t lease_ms; /* how long a claim on import work lasts unrenewed */
	char accept_command[PATH_MAX]; /* run before 226 ("": none), accept_hook.c */
	uint32_t accept_timeout_s;
	char data_dir[PATH_MAX];
	int accounts_fd; /* data_dir/accounts */
	int uploads_fd;  /* data_dir/uploads: the bytes backend's, and the views' links */
	struct store_bytes *bytes; /* where upload bytes live (store_bytes.h) */
	struct s3 *s3; /* the object store's client, when the bytes are there */
	/* bytes in object storage: accounts' names are records
	 * (records_names.c), not the directories of accounts/ */
	bool names_in_records;
	bool drain_asked; /* nodes.c: the drain hook ran (under node_lock) */
	uint32_t t_cost, m_cost_kib, parallelism;
	char dummy_hash[160]; /* verified against for unknown users */
	uint8_t master[32]; /* seals the identities of encryption keys */
	uint64_t min_free_bytes; /* kept free on the data disk for the database */
	/* verified credentials (accounts.c): a slot per user name hash */
	pthread_mutex_t cache_lock;
	struct login_cached *cache;
	uint32_t cache_ttl_ms;
	uint8_t cache_key[32];
	/* Final states of uploads the database refused to record (disk full,
	 * locked, read-only): written again until it takes them. Guarded by
	 * unsaved_lock; beyond UNSAVED_MAX the restart's recovery sets them right. */
	pthread_mutex_t unsaved_lock;
	/* valid admin tokens seen lately (admin.c) */
	pthread_mutex_t token_lock;
	struct store_token_cached {
		char hash[65];
		struct store_token who;
		int64_t at_ms; /* 0: empty */
	} token_cache[16];
	/* what this node reports and how it drains (nodes.c) */
	pthread_mutex_t node_lock;
	store_node_report_fn *node_report;
	store_node_drain_fn *node_drain;
	void *node_arg;
	int64_t started_at_ms;
	/* session counts shared with the other nodes (nodes_pg.c) */
	pthread_mutex_t share_lock; /* guards the two counters' pointers */
	struct gw_counter *share_account, *share_address;
	int64_t next_share_ms;   /* the events thread's only */
	uint64_t shared_digest;  /* of the counts last written; the events thread's only */
	struct store_unsaved *unsaved;
	size_t n_unsaved;
	pthread_mutex_t watch_lock; /* guards watch_fn and watch_arg */
	store_account_change_fn *watch_fn;
	void *watch_arg;
	store_ban_fn *ban_fn; /* under watch_lock too */
	void *ban_arg;
	/* events: a ring of the last STORE_EVENTS_KEPT */
	pthread_mutex_t ev_lock;
	pthread_cond_t ev_cond;
	struct store_event *events;
	uint64_t ev_seq; /* number of the newest event */
	bool ev_closed;
};

/* Record an event (any thread, any lock held or not but ev_lock). */
void store_emit(struct store *st, const char *kind, int64_t id, int64_t account_id,
		const char *state);
/* The event of a state that makes work for others (received, verified),
 * emitted before that state is written: every node's feed has it before
 * the event of whoever takes the work (BLOCKING on PostgreSQL, until the
 * shared table has it, at most 2 s). Should the write then fail, the
 * state that is recorded instead has its own event. */
void store_emit_before(struct store *st, const char *kind, int64_t id, int64_t account_id,
		       const char *state);
int store_events_init(struct store *st);
/* keys.c: 32 bytes sealed under the master key (out: nonce, sealed
 * bytes, tag: STORE_KEY_SEALED_LEN), bound to the context aad; or opened
 * (-EBADMSG: not sealed so). */
int store_seal32(struct store *st, bool enc, const char *aad, const uint8_t *in, uint8_t *out);
/* keys.c */
int store_master_key_load(struct store *st, const struct store_params *p, char *err, size_t err_size);
/* The identities of an account's keys in use, at most max. */
int store_key_secrets(struct store *st, int64_t account_id, uint8_t (*secrets)[32], int64_t *ids,
		      size_t max, size_t *n);
void store_events_release(struct store *st);
/* records_objects.c: the S3 backend's journal, kept in st's records */
void store_bytes_journal_init(struct store *st, struct store_bytes_journal *j);
/* Put an event numbered elsewhere (events_pg.c) in the ring. */
void store_events_put(struct store *st, const struct store_event *e);
/* events_pg.c */
int store_pg_events_start(struct store *st);
void store_pg_events_stop(struct store *st);
void store_pg_event_queue(struct store *st, const char *kind, int64_t id, int64_t account_id,
			  const char *state);
/* Until every event queued so far is in the shared table (at most
 * timeout_ms: the database may be away). */
void store_pg_events_written(struct store *st, int timeout_ms);
/* The bans other nodes (or this one before a restart) made that still
 * hold, to the ban watcher. Blocks: at start only. */
void store_pg_replay_bans(struct store *st);
/* pg.c: the database's URL (the events thread's connection); down or not */
const char *store_pg_url(struct store *st);
int store_pg_status(struct store *st, bool ping, char *why, size_t why_size);
/* nodes.c: a drain was asked of this node (the first time logs why and
 * runs the hook; later ones do nothing). */
void store_node_drain_now(struct store *st, const char *why);

/* accounts.c: another node changed account id: tell the watcher (ftpd) */
void store_account_changed_elsewhere(struct store *st, int64_t id);
/* events.c: another node banned an address, or lifted its ban */
void store_ban_elsewhere(struct store *st, const struct store_event *e);


/* Slots of the verified-credential cache; a name takes the slot its hash
 * points to, so a flood of names can only push entries out. */
#define STORE_LOGIN_CACHE_SLOTS 4096
struct login_cached {
	char username[GW_USER_MAX + 1];
	uint8_t tag[32];
	int64_t at_ms;
};
/* names.c: the upload a name shows. */
struct store_shown {
	bool exists, is_dir;
	int64_t id; /* the upload (0: none known) */
	char state[16];
	bool is_complete; /* size and SHA-256 recorded */
	bool elsewhere; /* being received on another node (records, several nodes) */
	char sha256[65];
	uint64_t size;
	int64_t mtime_ms; /* names in records only */
};
int store_names_shown(const struct store_names *ns, const char *path, struct store_shown *out);
/* Disk: what `view` (an fstat of path in the account's view) shows. */
void store_names_shown_stat(struct store *st, int64_t account_id, const char *path,
			    const struct stat *view, struct store_shown *out);
/* uploads.c: an upload 'receiving' on a node that is gone becomes
 * 'partial' at what its store kept, to be resumed here. */
int store_upload_take_over(struct store *st, int64_t id);
/* uploads.c: the SHA-256 of what partial upload id keeps (object
 * storage: from the state kept with its last part). */
int store_upload_kept_sha256(struct store *st, int64_t id, char hex[65], uint64_t *size);
/* storage.c: the bytes backend storage_url names (after the records:
 * object storage keeps its journal there); closed before them. */
int store_storage_open(struct store *st, const struct store_params *p, char *err, size_t err_size);
void store_storage_close(struct store *st);
/* Object storage: where upload id's object is, as s3://BUCKET/KEY. */
void store_storage_object_url(struct store *st, int64_t id, char *out, size_t size);
/* Write the final states the database refused before (uploads.c). */
void store_flush_unsaved(struct store *st);
void store_sha256_hex(const void *data, size_t len, char out[65]);

/* sha256_state.c: SHA-256 with a state that can be saved and loaded
 * (ctx holds OpenSSL's SHA256_CTX, which store/ alone sees). */
struct store_sha256 {
	_Alignas(8) unsigned char ctx[112];
};
#define STORE_SHA256_STATE 112 /* the most store_sha256_save() writes */
void store_sha256_start(struct store_sha256 *s);
void store_sha256_add(struct store_sha256 *s, const void *data, size_t len);
void store_sha256_end(struct store_sha256 *s, uint8_t md[32]);
size_t store_sha256_save(const struct store_sha256 *s, uint8_t out[STORE_SHA256_STATE]);
/* -EBADMSG: not a saved state */
int store_sha256_load(struct store_sha256 *s, const uint8_t *in, size_t len);
int store_hash_password(struct store *st, const char *password, char *out, size_t out_size);

/* pipeline.c: start a hook (no shell, envp as given, its own process
 * group, killed with the gateway; in_fd < 0: /dev/null; stdout and
 * stderr to out_fd): 0 or a positive errno. */
int store_spawn_hook(const char *command, char *const argv[], char *const envp[], int in_fd,
		     int out_fd, pid_t *out);
/* accept_hook.c: the accept_command's verdict on a completed upload whose
 * bytes are durable: 0 accepted (or no command), -EPERM refused (reason:
 * its first line of output, or its exit status), -ETIMEDOUT or -EIO when
 * it gave none (reason says why). */
int store_accept_hook(struct store *st, int64_t id, int64_t account_id, const char *path,
		      uint64_t size, const char *sha256, char *reason, size_t reason_size);

#endif
