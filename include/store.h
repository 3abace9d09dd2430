/* store.h - accounts, credentials, upload records and the files on disk.
 *
 * The only part that knows SQLite and argon2. ftpd/ and admin/ call it
 * from any thread; every function that can block (SQLite, argon2id,
 * fsync) is marked BLOCKING and must not run on an event loop thread.
 *
 * On-disk layout under the data directory:
 *   ftpsgate.db            SQLite (WAL): accounts, uploads, admin tokens
 *   accounts/<id>/         each account's view ("/" of its FTP session)
 *   uploads/<upload id>    the bytes of each upload; the account's view
 *                          holds a hard link to it, so a later STOR, DELE
 *                          or rename in the view never changes the bytes a
 *                          completed upload recorded.
 */
#ifndef FTPSGATE_STORE_H
#define FTPSGATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "gw.h"
#include "gw_limits.h"

#define STORE_PASSWORD_LEN 24 /* generated passwords: ~142 bits */
#define STORE_TOKEN_LEN 40    /* generated admin tokens: ~238 bits */

struct store;

struct store_params {
	const char *data_dir;
	const char *master_key_hex;  /* 64 hex digits, or NULL/"" */
	const char *master_key_file; /* NULL/"": data_dir/master.key */
	uint32_t argon2_t_cost;
	uint32_t argon2_m_cost_kib;
	uint32_t argon2_parallelism;
	/* Space uploads leave free on the data directory's disk, so that the
	 * database can still record what happened (0 = none kept back). */
	uint64_t min_free_bytes;
	/* A password argon2id accepted is accepted again for this long by a
	 * keyed hash, without argon2id (0 = every login runs argon2id). */
	uint32_t login_cache_s;
	/* Where records live: NULL, "" or "sqlite:" = data_dir/ftpsgate.db;
	 * "postgresql://..." or "postgres://..." = that PostgreSQL database
	 * (a libpq URI), shared by every node that names it. */
	const char *database_url;
	uint32_t database_pool;       /* PostgreSQL connections at most (0: 16) */
	uint32_t database_timeout_ms; /* a statement's limit (0: 5000) */
	const char *node_id;          /* this node's id (NULL/"": the host name) */
	uint32_t import_lease_s;      /* a claim on import work, unrenewed (0: 60) */
	/* Where upload bytes live: NULL, "" or "file:" = data_dir/uploads;
	 * "s3://BUCKET[/PREFIX]" = objects PREFIX/<upload id> in that bucket
	 * of S3-compatible storage, with the account's names as records.
	 * Credentials come from the AWS_* variables or credentials file. */
	const char *storage_url;
	const char *s3_endpoint;   /* scheme://host[:port]; NULL/"": AWS S3 in s3_region */
	const char *s3_region;     /* NULL/"": us-east-1 */
	const char *s3_addressing; /* "path", "virtual"; NULL/"": path with an endpoint */
	const char *s3_ca_file;    /* NULL/"": the system's CAs */
	uint32_t s3_part_mib;      /* 0: 16 */
	uint32_t s3_parts_in_flight; /* per upload (0: 4) */
	uint32_t s3_senders;       /* in flight on the node (0: 16) */
	uint32_t s3_timeout_s;     /* one request (0: 300) */
	/* A program run on each completed upload before 226, which may
	 * refuse it (NULL/"": none), and its time limit (0: 60 s). */
	const char *accept_command;
	uint32_t accept_timeout_s;
};

/* BLOCKING. Create the data directory layout and database if needed, run
 * schema migrations, and bring records in line with the disk after a
 * crash (an upload still 'receiving' becomes 'partial'). */
int store_open(const struct store_params *p, struct store **out, char *err, size_t err_size);
void store_close(struct store *st);

/* BLOCKING. Copy every record of the SQLite database of p->data_dir
 * (accounts, keys, tokens, audit, uploads; ids kept, bytes exact) into
 * the PostgreSQL database at to_url, which must hold no records yet, in
 * one transaction; the uploads become p->node_id's. Both schemas are
 * brought to this binary's version first. copied[i]: the rows of table
 * store_migrate_table_name(i). The gateway must not run meanwhile. */
#define STORE_MIGRATE_TABLES 7
int store_migrate_records(const struct store_params *p, const char *to_url,
			  int64_t copied[STORE_MIGRATE_TABLES], char *err, size_t err_size);
const char *store_migrate_table_name(size_t i);

/* The bytes backend: "file" or "s3"; and 0 when it answers, or -EAGAIN
 * and why it does not (ping: ask it now, BLOCKING). */
const char *store_bytes_name(struct store *st);
int store_bytes_status(struct store *st, bool ping, char *why, size_t why_size);
/* BLOCKING. Object storage: abort the multipart uploads of partial
 * uploads untouched for abandon_ms (each then says so in its record)
 * and those no upload wants; *aborted: how many. 0 on disk. */
int store_sweep_abandoned(struct store *st, int64_t abandon_ms, unsigned *aborted);

/* The records backend: "sqlite" or "postgresql". */
const char *store_records_name(struct store *st);
/* 0 when the records backend answers, or -EAGAIN and why it does not;
 * ping: ask it now (BLOCKING, bounded by the statement timeout),
 * otherwise as the last statement found it. */
int store_records_status(struct store *st, bool ping, char *why, size_t why_size);
/* This node's id, as records name it. */
const char *store_node_id(struct store *st);

/* ---------------------------------------------------------------- nodes */

/* What this node is doing, as the daemon reports it. */
struct store_node_report {
	unsigned sessions;  /* control connections */
	unsigned transfers; /* data transfers running */
	bool draining;      /* taking no new sessions; ends once they are done */
};
typedef void store_node_report_fn(void *arg, struct store_node_report *out);
typedef void store_node_drain_fn(void *arg);
/* How this node tells what it does (asked about once a second and by
 * the API), and what it does when asked to drain (by any node's API,
 * through the records); NULLs: nothing. Any thread. */
void store_node_hooks(struct store *st, store_node_report_fn *report, store_node_drain_fn *drain,
		      void *arg);
void store_node_report(struct store *st, struct store_node_report *out);

struct store_node {
	char node[65];
	char version[32];
	int64_t started_at_ms;
	int64_t seen_at_ms;        /* its last heartbeat */
	unsigned sessions, transfers;
	int64_t uploads_receiving; /* its uploads 'receiving' in the records */
	bool alive;                /* a heartbeat within STORE_NODE_ALIVE_MS */
	bool draining;
	bool self;                 /* the node answering */
};
#define STORE_NODE_ALIVE_MS 5000
#define STORE_NODES_SHOWN_MS (3600 * 1000) /* a node gone is listed this long */
/* The nodes sharing the records (PostgreSQL: alive, or gone within
 * STORE_NODES_SHOWN_MS, by id; SQLite: this one), at most max. BLOCKING. */
int store_nodes_list(struct store *st, struct store_node *items, unsigned max, unsigned *n);
/* Ask node to drain (this node: at once; another: at its next heartbeat,
 * within about a second). -ENOENT: no such node alive. BLOCKING. */
int store_node_drain(struct store *st, const char *node);

/* ---------------------------------------------------------------- accounts */

struct store_account {
	int64_t id;
	char username[GW_USER_MAX + 1];
	char description[GW_DESCRIPTION_MAX + 1];
	char status[16]; /* "active" | "disabled" | "deleted" */
	int64_t created_at_ms;
	int64_t updated_at_ms;
	int64_t expires_at_ms; /* 0 = never */
	int64_t quota_bytes;   /* -1 = no quota */
	int64_t used_bytes;    /* bytes of its uploads still held */
	int64_t last_activity_ms; /* its newest upload's last change; 0 = none (lists only) */
	bool require_encryption;
	int64_t version; /* grows with every change: the API's ETag */
	struct gw_policy policy; /* its own limits; unset ones are the server's */
};

/* What a new account, or a change to one, sets. */
struct store_account_spec {
	const char *username;    /* create: NULL or "" generates one */
	const char *description; /* NULL = unchanged (create: "") */
	const char *status;      /* change: NULL, "active" or "disabled" */
	bool set_expires;
	int64_t expires_at_ms; /* 0 = never */
	bool set_quota;
	int64_t quota_bytes; /* -1 = no quota */
	bool set_require_encryption;
	bool require_encryption; /* create default: true */
	/* The policy fields it sets (STORE_POLICY_* bits), from policy: a
	 * field set with its has_* false goes back to the server's default. */
	unsigned set_policy;
	struct gw_policy policy;
	int64_t if_version;      /* change: 0, or -ESTALE unless it matches */
};

enum {
	STORE_POLICY_ADDRESSES = 1,
	STORE_POLICY_NAMES = 2,
	STORE_POLICY_MAX_FILE = 4,
	STORE_POLICY_RATE = 8,
	STORE_POLICY_SESSIONS = 16,
};

/* True when name is acceptable as a user name: 1..64 of [A-Za-z0-9._-],
 * not starting with '.' or '-'. */
bool store_username_is_valid(const char *name);

/* BLOCKING. Create an account with a generated password (written to
 * password, shown once). -EEXIST when the name is taken (also by a deleted
 * account), -EINVAL when it is not valid. */
int store_account_create(struct store *st, const struct store_account_spec *spec,
			 struct store_account *out, char password[STORE_PASSWORD_LEN + 1]);
/* BLOCKING. -ENOENT when there is no such account. */
int store_account_get(struct store *st, int64_t id, struct store_account *out);
/* Which accounts a list shows. */
struct store_account_filter {
	const char *status; /* NULL: all but deleted */
	const char *search; /* NULL: all; else in the user name or description (any case) */
};

/* BLOCKING. Accounts with id > after_id, ascending, at most max items,
 * that f lets through, with their last activity. *more is set when
 * others follow. */
int store_account_list(struct store *st, int64_t after_id, const struct store_account_filter *f,
		       unsigned max, struct store_account *items, unsigned *n, bool *more);
/* BLOCKING. Change what spec sets. -ENOENT, -ESTALE (if_version differs),
 * -EINVAL (a deleted account, or a bad status). */
int store_account_update(struct store *st, int64_t id, const struct store_account_spec *spec,
			 struct store_account *out);
/* BLOCKING. Delete an account: it can never log in again (its password is
 * wiped, its sessions end), its name stays taken, and its uploads' records
 * and files are kept until purged one by one (DELETE /uploads/{id}). */
int store_account_delete(struct store *st, int64_t id);
/* BLOCKING. Issue a new generated password; the old one stops working. */
int store_account_new_password(struct store *st, int64_t id, char password[STORE_PASSWORD_LEN + 1]);

struct store_login {
	int64_t account_id;
	int64_t expires_at_ms; /* 0 = never */
	struct gw_policy policy; /* the account's own */
};
/* BLOCKING (argon2id). 0 when the credentials are right and the account
 * is active and not expired; -EACCES otherwise (the same work is done for
 * unknown users). */
int store_login(struct store *st, const char *username, const char *password,
		struct store_login *out);
/* BLOCKING (the records; no argon2id): store_login's answer when the
 * verified-credential cache holds these credentials (see accounts.c);
 * -EAGAIN when only argon2id can tell (store_login then). */
int store_login_cached(struct store *st, const char *username, const char *password,
		       struct store_login *out);
/* BLOCKING. Open the account's root directory (O_RDONLY|O_DIRECTORY). */
int store_account_root(struct store *st, int64_t account_id, int *out_fd);

/* Told after every change to an account that matters to its sessions,
 * from the thread that made the change. ftpd ends the sessions of an
 * account that can no longer log in. */
struct store_account_change {
	int64_t account_id;
	bool can_login;        /* active, not deleted, not expired */
	int64_t expires_at_ms; /* 0 = never */
	struct gw_policy policy; /* its own, as it is now */
};
typedef void store_account_change_fn(void *arg, const struct store_account_change *change);
void store_watch_accounts(struct store *st, store_account_change_fn *fn, void *arg);

/* ---------------------------------------------------------------- names */

/* What an account's FTP session sees: its directories and files, each
 * file the bytes of one upload. With bytes on the data disk they are the
 * directories and hard links under accounts/<id>/ (root_fd, from
 * store_account_root); with bytes in object storage they are records,
 * the same on every node (root_fd is then not used). Paths are
 * normalized FTP paths. All BLOCKING. Errors: -ENOENT, -ENOTDIR,
 * -EISDIR, -EEXIST, -ENOTEMPTY, -EINVAL (a directory into itself),
 * -EAGAIN (the records store does not answer). */
struct store_entry {
	char name[GW_PATH_COMPONENT_MAX + 1];
	bool is_dir;
	uint64_t size;   /* a partial upload: the bytes it keeps */
	int64_t mtime_s; /* seconds since the epoch */
	uint64_t unique; /* the same while it is the same file */
};

struct store_names {
	struct store *st;
	int64_t account_id;
	int root_fd; /* borrowed */
};

int store_name_stat(const struct store_names *ns, const char *path, struct store_entry *out);
/* Each entry of directory path, by name (byte order), leaving out the
 * names the gateway reserves; fn's non-zero return stops there and is
 * returned. -ENOTDIR when path is a file. */
typedef int store_entry_fn(void *arg, const struct store_entry *e);
int store_name_list(const struct store_names *ns, const char *path, store_entry_fn *fn, void *arg);
/* 0 when a file can be stored at path: its directory exists and path is
 * no directory. */
int store_name_check_new_file(const struct store_names *ns, const char *path);
int store_name_mkdir(const struct store_names *ns, const char *path);
int store_name_rmdir(const struct store_names *ns, const char *path);
/* Remove a file's name; its upload's bytes and record stay. */
int store_name_delete(const struct store_names *ns, const char *path);
/* A file replaces a file of that name; a directory takes its subtree. */
int store_name_rename(const struct store_names *ns, const char *from, const char *to);
/* The client's time for the file (MFMT): listings show it, its upload's
 * record keeps it; its bytes are not touched. */
int store_name_set_mtime(const struct store_names *ns, const char *path, int64_t mtime_s);
/* SHA-256 of the file's bytes and their count: recorded for a completed
 * upload; with read, otherwise computed (from the disk, or from the
 * state kept with the last part in object storage). -EAGAIN without
 * read when it would have to be computed. */
int store_name_sha256(const struct store_names *ns, const char *path, bool read, char hex[65],
		      uint64_t *size);

/* A file's bytes, from offset: an fd (bytes on disk: *fd >= 0, to be
 * read on any thread) or a reader (object storage: *fd = -1, read with
 * store_name_read() on a worker). -ENOENT; -EBUSY for a file whose bytes
 * cannot be read yet (a partial upload in object storage). */
struct store_name_reader;
int store_name_open(const struct store_names *ns, const char *path, uint64_t offset, int *fd,
		    struct store_name_reader **reader, uint64_t *size);
/* BLOCKING. Up to len bytes; 0 at the end. */
ssize_t store_name_read(struct store_name_reader *r, void *buf, size_t len);
void store_name_close(struct store_name_reader *r);

/* ---------------------------------------------------------------- uploads */

struct store_upload_info {
	int64_t id;
	int64_t account_id;
	int64_t size;           /* -1 until complete */
	int64_t bytes_received; /* live while receiving */
	int64_t started_at_ms;
	int64_t completed_at_ms; /* 0 until complete */
	int64_t updated_at_ms;
	int64_t purged_at_ms; /* 0 while its file is kept */
	int64_t client_modified_at_ms; /* the client's time for the file (MFMT); 0 = none */
	int64_t key_id; /* the key that opened it; 0 = not encrypted */
	int attempts;   /* import attempts so far */
	int hook_exit;  /* the import hook's exit status; -1 = none yet */
	char path[GW_PATH_MAX + 1];
	char state[16];
	char sha256[65];        /* "" until complete */
	char client_address[64];
	char node[65];          /* the node that received it (node_id) */
	char error[256];
	char hook_output[4097]; /* its output's tail */
};

struct store_upload_filter {
	int64_t account_id; /* 0 = all */
	const char *state;  /* NULL = all */
	int64_t since_ms;   /* started at or after; 0 = no bound */
	int64_t until_ms;   /* started before; 0 = no bound */
};

/* BLOCKING. -ENOENT when there is no such upload. */
int store_upload_get(struct store *st, int64_t id, struct store_upload_info *out);
/* BLOCKING. Newest first: ids < before_id (0 = from the newest). */
int store_upload_list(struct store *st, const struct store_upload_filter *f, int64_t before_id,
		      unsigned max, struct store_upload_info *items, unsigned *n, bool *more);
/* BLOCKING. Queue a failed upload's import again: -ENOENT, -EPERM when it
 * is not in a state that can be retried. */
int store_upload_retry(struct store *st, int64_t id, struct store_upload_info *out);
/* BLOCKING. Remove an upload's file (and its link in the account's view,
 * if still that file); the record stays as a tombstone. -EBUSY (out set,
 * its state telling why) while it is received, verified or imported. */
int store_upload_purge(struct store *st, int64_t id, struct store_upload_info *out);
bool store_upload_state_is_valid(const char *state);
#define STORE_STATES 9
/* BLOCKING. How many uploads (not purged) are in each state, in the order
 * of store_upload_state_name(). */
int store_upload_counts(struct store *st, int64_t counts[STORE_STATES]);
const char *store_upload_state_name(size_t i);

/* An upload being received. Created by store_upload_begin() on a worker;
 * each chunk in order is hashed with store_upload_hash() and written with
 * store_upload_write(); ended by exactly one of store_upload_commit() or
 * store_upload_abort() on a worker; then store_upload_free(). Calls on
 * one upload come one at a time, except that store_upload_hash() may run
 * on one thread while another runs store_upload_write() (the two touch
 * different parts of the upload); each in chunk order. */
struct store_upload;

enum store_upload_mode {
	STORE_UPLOAD_NEW,    /* STOR: a new file, replacing any of that name */
	STORE_UPLOAD_RESUME, /* REST offset + STOR: continue the file at offset */
	STORE_UPLOAD_APPEND, /* APPE: continue at the end of the file, or create */
};

/* BLOCKING. Start receiving the normalized path under the account root
 * root_fd, visible there at once.
 *
 * A resumed or appended file that is the account's partial upload goes on
 * as that same upload (one record, whatever the number of interruptions):
 * it is cut to offset, the SHA-256 of what stays is computed again, and
 * the record is 'receiving' again. Any other file (a completed upload,
 * whose bytes never change) is copied up to offset into a new upload.
 *
 * Errors: -ENOENT when the parent directory (or, to resume, the file) does
 * not exist; -EISDIR when path is a directory; -ERANGE when offset is past
 * the end of the file; -EBUSY when another session is writing it. */
int store_upload_begin(struct store *st, int64_t account_id, int root_fd, const char *path,
		       const char *client_address, enum store_upload_mode mode, uint64_t offset,
		       struct store_upload **out);
/* SHA-256 of everything fd holds from offset 0; its size in *size. */
int store_hash_fd(int fd, uint64_t *size, char hex[65]);
/* Add the next chunk to the upload's SHA-256 (only the digest is touched). */
void store_upload_hash(struct store_upload *up, const void *buf, size_t len);
/* BLOCKING (the disk, not the database). Check the quota, the free space
 * and, when the account requires it, the age format; write the chunk. */
int store_upload_write(struct store_upload *up, const void *buf, size_t len);
/* BLOCKING. Make the bytes and the record durable: fsync the file and its
 * directories, ask the accept_command, then commit state 'received' with
 * size and SHA-256. Only after this returns 0 may the client be told 226.
 * -EBADMSG: not an age file for the account; -EPERM: the accept_command
 * refused it (both: store_upload_verdict() says why; reject it);
 * -ETIMEDOUT: the accept_command decided nothing, and the upload is now
 * partial (store_upload_verdict() says why). */
int store_upload_commit(struct store *st, struct store_upload *up);
/* store_upload_write() sends whole blocks of this size from a buffer
 * aligned to it, at an offset aligned to it, to the disk directly. */
#define STORE_DIRECT_ALIGN 4096

/* Errors of store_upload_write() and _commit() worth knowing: -EDQUOT
 * (the account's quota), -EBADMSG (the account requires encryption and
 * this is not an authentic age file for one of its keys in use: see
 * store_upload_verdict(), and record it with store_upload_reject()).
 * store_upload_begin() answers -ENOKEY for an account that requires
 * encryption but has no key in use. */
const char *store_upload_verdict(const struct store_upload *up);
/* BLOCKING. Record the upload 'rejected' with its verdict, and drop its
 * bytes (its file, and its link in the account's view). */
int store_upload_reject(struct store *st, struct store_upload *up);
/* BLOCKING. The transfer broke: keep what arrived as a 'partial' upload
 * with the reason. */
int store_upload_abort(struct store *st, struct store_upload *up, const char *reason);
int64_t store_upload_id(const struct store_upload *up);
/* Where the bytes of this transfer began: 0, or the resume offset. */
uint64_t store_upload_start_offset(const struct store_upload *up);
uint64_t store_upload_bytes(const struct store_upload *up);
/* After a commit: the SHA-256 in hex. */
const char *store_upload_sha256(const struct store_upload *up);
void store_upload_free(struct store_upload *up);

/* ---------------------------------------------------------------- keys */

/* An account's age (X25519) encryption key. The recipient ("age1...") is
 * what uploaders encrypt to; the identity never leaves the store, and is
 * kept sealed under the master key. */
struct store_key {
	int64_t id;
	int64_t account_id;
	char recipient[80];
	int64_t created_at_ms;
	int64_t revoked_at_ms; /* 0 = in use */
};

/* BLOCKING. -ENOENT: no such account (or deleted). */
int store_key_create(struct store *st, int64_t account_id, struct store_key *out);
int store_key_get(struct store *st, int64_t account_id, int64_t key_id, struct store_key *out);
int store_key_list(struct store *st, int64_t account_id, int64_t after_id, unsigned max,
		   struct store_key *items, unsigned *n, bool *more);
/* BLOCKING. Files encrypted to a revoked key are rejected from then on;
 * revoking twice is fine. */
int store_key_revoke(struct store *st, int64_t account_id, int64_t key_id, struct store_key *out);

/* ---------------------------------------------------------------- import */

/* After 'received': verifying -> verified | rejected, then importing ->
 * imported, or back to verified to be retried with exponential backoff,
 * then failed. The queue is the uploads table itself, so work resumes
 * after a restart (an import cut short by a crash runs again: hooks must
 * be idempotent, keyed by FTPSGATE_UPLOAD_ID). */
struct store_pipeline_params {
	const char *command; /* "" = file into data_dir/imported/<account>/ */
	bool stdin_plaintext; /* the hook's stdin: the upload decrypted, */
	bool stdin_as_is;     /* ... or its bytes as they are (else none) */
	unsigned workers;
	unsigned timeout_s;
	unsigned attempts;
	unsigned backoff_s;
	unsigned retention_days; /* 0 = keep; else purge imported files, then
				  * drop tombstones, that many days after */
	unsigned abandon_after_s; /* object storage: a partial upload untouched
				   * this long loses its parts (0: never) */
};
struct store_pipeline;
int store_pipeline_start(struct store *st, const struct store_pipeline_params *p,
			 struct store_pipeline **out);
/* Stop taking work; let the running imports end (a hook is killed). */
void store_pipeline_stop(struct store_pipeline *pl);

/* ---------------------------------------------------------------- events */

/* Every change of an upload's or an account's state, in order, numbered
 * from 1; the last STORE_EVENTS_KEPT are kept in memory for watchers. */
#define STORE_EVENTS_KEPT 4096

struct store_event {
	uint64_t seq;
	int64_t at_ms;
	char kind[8]; /* "upload" | "account" | "ban" */
	int64_t id;   /* the upload's, the account's; a ban: how long in ms (0: lifted) */
	int64_t account_id;
	char state[48]; /* upload state; account: created, updated, disabled, deleted,
			 * password; a ban: the client address */
};

/* A client address this node banned (for left_ms; 0: an admin lifted
 * its ban): on the event feed, so that every node on the same records
 * database bans it too. Does not block. */
void store_share_ban(struct store *st, const char *address, int64_t left_ms);
/* fn is told of bans other nodes made or lifted (from the events
 * thread; it must not block); on PostgreSQL, at once also of those made
 * before this call that still hold (this call then reads the database). */
typedef void store_ban_fn(void *arg, const char *address, int64_t left_ms);
void store_watch_bans(struct store *st, store_ban_fn *fn, void *arg);

/* Session counts per account and per client address that hold across
 * the nodes of one records database (PostgreSQL): each node publishes
 * its own about every second, and learns the others' into the counters
 * (gw_counter_set_others), so that a limit counts every node's sessions.
 * Borrowed until called again with NULLs (before they are freed). With
 * SQLite (one node) nothing is shared. */
struct gw_counter;
void store_share_counters(struct store *st, struct gw_counter *per_account,
			  struct gw_counter *per_address);

/* Copy up to max events after seq `after` to out, waiting up to
 * timeout_ms for the first. *n is how many; *next_seq what to ask for
 * next. When events after `after` were already dropped, *missed is set. */
void store_events_wait(struct store *st, uint64_t after, struct store_event *out, unsigned max,
		       int timeout_ms, unsigned *n, bool *missed);
/* The newest event's number (0: none yet). */
uint64_t store_events_last(struct store *st);
/* Wake every waiter (at shutdown). */
void store_events_close(struct store *st);

/* ---------------------------------------------------------------- webhooks */

/* Every upload reaching received, rejected, imported or failed, and
 * every change to an account or its keys, is an event in the records,
 * written in the transaction of the change. A webhook is sent the events
 * its patterns name ("upload.imported", "upload.*", "account.*", "*")
 * from its creation on: each as a delivery, retried until it succeeds or
 * its time runs out (then "dead", replayable). docs/operations.md. */
#define STORE_WEBHOOK_SECRET_LEN 64 /* hex */
struct store_webhook {
	int64_t id;
	char url[GW_WEBHOOK_URL_MAX + 1];
	char events[GW_WEBHOOK_EVENTS_MAX + 1]; /* patterns, ',' between them */
	int64_t created_at_ms;
	int64_t pending, dead; /* its deliveries in those states (get and list) */
	int64_t cursor;        /* the last event made into its deliveries */
};
struct store_delivery {
	int64_t webhook_id;
	int64_t event_id;
	char type[32];      /* "upload.imported", "account.created", ... */
	int64_t event_at_ms;
	int64_t account_id;
	int64_t upload_id;  /* 0: an account's event */
	char error[256];    /* upload.rejected, upload.failed: why, as it was then */
	char state[12];     /* "pending" | "delivered" | "dead" */
	unsigned attempts;
	int64_t next_at_ms; /* pending: when it is tried next */
	int64_t first_at_ms; /* its first attempt (0: none yet) */
	int64_t delivered_at_ms;
	int last_status;    /* the receiver's HTTP status (0: none) */
	char last_error[256];
	char url[GW_WEBHOOK_URL_MAX + 1]; /* claimed: where it goes */
};

/* True when a pattern list ("upload.*, account.created") is acceptable:
 * 1 to 16 patterns of known event types, or type families with ".*". */
bool store_webhook_events_valid(const char *events);
/* BLOCKING. -E2BIG: GW_WEBHOOKS_MAX already. secret: shown once. */
int store_webhook_create(struct store *st, const char *url, const char *events,
			 struct store_webhook *out, char secret[STORE_WEBHOOK_SECRET_LEN + 1]);
int store_webhook_get(struct store *st, int64_t id, struct store_webhook *out);
int store_webhook_list(struct store *st, int64_t after_id, unsigned max,
		       struct store_webhook *items, unsigned *n, bool *more);
/* Its deliveries stop; what was delivered stays listed. */
int store_webhook_delete(struct store *st, int64_t id);
/* Newest first; state NULL for any. */
int store_delivery_list(struct store *st, int64_t webhook_id, const char *state,
			int64_t before_event, unsigned max, struct store_delivery *items,
			unsigned *n, bool *more);
/* A dead (or delivered) delivery is tried again now, its attempts from
 * 0: -ENOENT, -EBUSY while it is pending. */
int store_delivery_retry(struct store *st, int64_t webhook_id, int64_t event_id,
			 struct store_delivery *out);

/* The sender (any node): new events become deliveries of the webhooks
 * that want them; then up to max due deliveries are claimed for lease_ms,
 * the next of one upload only once its earlier ones are done. Returns the
 * number of webhooks in use (0: none, nothing to send), or an error. */
int store_delivery_claim(struct store *st, int64_t lease_ms, unsigned max,
			 struct store_delivery *items, unsigned *n);
/* How an attempt went: status (0 when no answer came) and error; ok
 * marks it delivered. Else it is tried again after backoff_ms doubled
 * per attempt (at most an hour), or dead once retry_for_ms have passed
 * since its first attempt. */
int store_delivery_done(struct store *st, const struct store_delivery *d, bool ok, int status,
			const char *error, int64_t backoff_ms, int64_t retry_for_ms);
/* HMAC-SHA256 of data with the webhook's secret, as hex. */
int store_webhook_sign(struct store *st, int64_t webhook_id, const void *data, size_t len,
		       char hex[65]);
/* Delivered deliveries and events older than cutoff go (dead ones stay). */
int store_webhook_prune(struct store *st, int64_t cutoff_ms);

/* ---------------------------------------------------------------- admin tokens */

struct store_token {
	int64_t id;
	char name[65];
	char scope[8]; /* "admin" (everything) | "read" (GET only) */
	int64_t created_at_ms;
	int64_t last_used_at_ms; /* 0 = never */
	int64_t revoked_at_ms;   /* 0 = valid */
};

/* BLOCKING. Make sure a bootstrap admin token (name "bootstrap", scope
 * admin) exists. With env_token set, that token (stored hashed) is the
 * bootstrap token. Without, one is generated on the first start only:
 * *generated is set and the token is in out, to be shown once. */
int store_admin_bootstrap(struct store *st, const char *env_token,
			  char out[STORE_TOKEN_LEN + 1], bool *generated);
/* BLOCKING. 0 and who it is when token is valid and not revoked;
 * -EACCES otherwise. */
int store_admin_check(struct store *st, const char *token, struct store_token *who);
/* BLOCKING. A new token, shown once in token. -EEXIST: name taken. */
int store_token_create(struct store *st, const char *name, const char *scope,
		       struct store_token *out, char token[STORE_TOKEN_LEN + 1]);
int store_token_get(struct store *st, int64_t id, struct store_token *out);
int store_token_list(struct store *st, int64_t after_id, unsigned max, struct store_token *items,
		     unsigned *n, bool *more);
/* BLOCKING. -ENOENT; revoking twice is fine. */
int store_token_revoke(struct store *st, int64_t id, struct store_token *out);

/* ---------------------------------------------------------------- audit */

struct store_audit {
	int64_t id;
	int64_t at_ms;
	int64_t token_id;
	char token_name[65];
	char client_address[64];
	char method[8];
	char path[256];
	int status;
	char detail[256];
	int64_t account_id; /* the account changed (or whose upload was); 0 = none */
};

/* BLOCKING. Record one change made through the API. */
int store_audit_add(struct store *st, const struct store_audit *a);
/* BLOCKING. Newest first, ids < before_id (0 = from the newest); with
 * account_id, only the changes to that account and its uploads. */
int store_audit_list(struct store *st, int64_t before_id, int64_t account_id, unsigned max,
		     struct store_audit *items, unsigned *n, bool *more);

#endif
