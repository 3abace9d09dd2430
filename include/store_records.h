/* store_records.h - what the gateway keeps as records: the contract a
 * records backend keeps. SQLite (store/sqlite.c, records_sqlite.c,
 * records_sqlite_accounts.c) is the default; PostgreSQL (store/pg.c,
 * records_pg.c, records_pg_accounts.c, events_pg.c) serves many nodes
 * behind the same operations.
 *
 * The logic stays above the contract, in store/: passwords (argon2id),
 * sealing keys, quotas' policy, events and watchers, the upload
 * lifecycle. A backend stores and finds; each operation is atomic on its
 * own (a claim takes one piece of work for one caller only), may block,
 * and returns 0 or a negative errno: -ENOENT (no such record), -EAGAIN
 * (busy: try again later), -ENOSPC, -EROFS, -EIO (logged once where it
 * happened).
 *
 * Used by store/ only.
 */
#ifndef FTPSGATE_STORE_RECORDS_H
#define FTPSGATE_STORE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_bytes.h"

struct store;

/* How a transfer ended, as its record keeps it. */
struct store_upload_end {
	int64_t id;
	const char *state;  /* partial, received, rejected */
	uint64_t bytes;     /* what arrived; the size once received */
	const char *sha256; /* received: set; otherwise NULL */
	const char *error;  /* NULL: none */
	int64_t key_id;     /* the key it was verified with; 0 = unchanged */
};

/* A record that may own the file at a path of an account's view. */
/* Parts whose resume state is kept, back from the newest: at least the
 * parts one upload has in flight (store_bytes_s3_params.per_upload). */
#define STORE_PART_STATES_KEPT 32

/* A node not heard from for this long is gone: what it was receiving
 * may be resumed elsewhere (its heartbeat comes every second). */
#define STORE_NODE_GONE_MS 15000

struct store_view_candidate {
	int64_t id;
	char state[16];
	int64_t size; /* -1 until complete */
	char sha256[65];
};

/* A piece of import work, claimed by one worker. */
struct store_work {
	int64_t id, account_id, key_id;
	char path[GW_PATH_MAX + 1];
	int64_t size;
	char sha256[65];
	int attempts;
};

/* Where verification or an import ended. */
struct store_work_state {
	const char *state;
	const char *error;       /* NULL: none */
	int64_t next_attempt_ms; /* 0: now */
	bool hook;               /* hook_exit and hook_output are set */
	int hook_exit;
	const char *hook_output;
};

/* The size of an upload's bytes (from the bytes backend): -ENOENT. */
typedef int store_bytes_size_fn(struct store *st, int64_t id, uint64_t *size);

/* A new account's row. */
struct store_account_row {
	const char *username;
	const char *password_hash; /* argon2id, encoded */
	const char *description;
	int64_t expires_at_ms; /* 0 = never */
	int64_t quota_bytes;   /* -1 = no quota */
	bool require_encryption;
	const struct gw_policy *policy; /* its own */
};

/* An identity sealed under the master key: nonce, identity, tag. */
#define STORE_KEY_SEALED_LEN (12 + 32 + 16) /* 32: an X25519 identity */

struct store_records_ops {
	const char *name;
	/* Connect, and bring the schema to this version (err says why not). */
	int (*open)(struct store *st, const char *data_dir, char *err, size_t err_size);
	void (*close)(struct store *st);

	/* ------------------------------------------------ accounts */
	/* -ENOENT; a deleted account has status "deleted". With usage, also
	 * used_bytes (a sum over its uploads: only what the API shows needs
	 * it; without, used_bytes is 0). */
	int (*account_get)(struct store *st, int64_t id, bool usage, struct store_account *out);
	/* By user name, with its password hash (hash_size >= 160); a login,
	 * so without used_bytes (0). */
	int (*account_find)(struct store *st, const char *username, struct store_account *out,
			    char *hash, size_t hash_size);
	/* -EEXIST when the name is taken (also by a deleted account). */
	int (*account_insert)(struct store *st, const struct store_account_row *row,
			      int64_t now_ms, int64_t *id);
	/* Undo an insert whose account could not be set up. */
	int (*account_remove)(struct store *st, int64_t id);
	int (*account_list)(struct store *st, int64_t after_id, const struct store_account_filter *f,
			    unsigned max, struct store_account *items, unsigned *n, bool *more);
	/* Write description, status, expires_at_ms, quota_bytes,
	 * require_encryption and policy of a; -ESTALE unless its version is still
	 * a->version (then it grows by one). */
	int (*account_update)(struct store *st, const struct store_account *a, int64_t now_ms);
	/* Mark deleted (its password wiped): *changed when it was not. */
	int (*account_delete)(struct store *st, int64_t id, int64_t now_ms, bool *changed);
	int (*account_set_password)(struct store *st, int64_t id, const char *hash,
				    int64_t now_ms);

	/* ------------------------------------------------ keys */
	int (*key_insert)(struct store *st, int64_t account_id, const char *recipient,
			  const uint8_t sealed[STORE_KEY_SEALED_LEN], int64_t now_ms, int64_t *id);
	int (*key_get)(struct store *st, int64_t account_id, int64_t key_id, struct store_key *out);
	int (*key_list)(struct store *st, int64_t account_id, int64_t after_id, unsigned max,
			struct store_key *items, unsigned *n, bool *more);
	int (*key_revoke)(struct store *st, int64_t account_id, int64_t key_id, int64_t now_ms);
	/* The sealed identities of the account's keys in use, newest first. */
	int (*key_sealed)(struct store *st, int64_t account_id, unsigned max, int64_t *ids,
			  uint8_t (*sealed)[STORE_KEY_SEALED_LEN], unsigned *n);

	/* ------------------------------------------------ admin tokens and audit */
	/* The token with this SHA-256 (hex), not revoked: -ENOENT. */
	int (*token_by_hash)(struct store *st, const char *hash, struct store_token *out);
	/* Its last use (may be skipped while the backend is busy). */
	void (*token_touch)(struct store *st, int64_t id, int64_t now_ms);
	int (*token_exists)(struct store *st, const char *name, bool *exists);
	/* Insert, or (replace) set the hash of the token of that name and
	 * lift its revocation. -EEXIST: the name is taken. */
	int (*token_put)(struct store *st, const char *name, const char *hash, const char *scope,
			 int64_t now_ms, bool replace, int64_t *id);
	int (*token_get)(struct store *st, int64_t id, struct store_token *out);
	int (*token_list)(struct store *st, int64_t after_id, unsigned max,
			  struct store_token *items, unsigned *n, bool *more);
	int (*token_revoke)(struct store *st, int64_t id, int64_t now_ms);
	int (*audit_insert)(struct store *st, const struct store_audit *a);
	int (*audit_list)(struct store *st, int64_t before_id, int64_t account_id, unsigned max,
			  struct store_audit *items, unsigned *n, bool *more);

	/* ------------------------------------------------ webhooks */
	/* Its cursor starts at the newest event: it is told of later ones. */
	int (*webhook_insert)(struct store *st, const char *url, const char *events,
			      const uint8_t sealed[STORE_KEY_SEALED_LEN], int64_t now_ms, int64_t *id);
	int (*webhook_get)(struct store *st, int64_t id, struct store_webhook *out);
	int (*webhook_list)(struct store *st, int64_t after_id, unsigned max,
			    struct store_webhook *items, unsigned *n, bool *more);
	int (*webhook_delete)(struct store *st, int64_t id, int64_t now_ms);
	int (*webhook_sealed)(struct store *st, int64_t id, uint8_t sealed[STORE_KEY_SEALED_LEN]);
	/* Events after after_id, at most max, in order (type, event_id,
	 * event_at_ms, account_id, upload_id, error). */
	int (*hook_events_after)(struct store *st, int64_t after_id, unsigned max,
				 struct store_delivery *items, unsigned *n);
	/* Deliveries of ids[0..n) to webhook_id, and its cursor moved to
	 * cursor, at once (a delivery made twice is made once). */
	int (*delivery_add)(struct store *st, int64_t webhook_id, const int64_t *event_ids,
			    const int64_t *upload_ids, unsigned n, int64_t cursor, int64_t now_ms);
	int (*delivery_claim)(struct store *st, int64_t now_ms, int64_t lease_ms, unsigned max,
			      struct store_delivery *items, unsigned *n);
	int (*delivery_set)(struct store *st, const struct store_delivery *d);
	int (*delivery_get)(struct store *st, int64_t webhook_id, int64_t event_id,
			    struct store_delivery *out);
	int (*delivery_list)(struct store *st, int64_t webhook_id, const char *state,
			     int64_t before_event, unsigned max, struct store_delivery *items,
			     unsigned *n, bool *more);
	int (*webhook_prune)(struct store *st, int64_t cutoff_ms);

	/* ------------------------------------------------ upload records */
	int (*upload_get)(struct store *st, int64_t id, struct store_upload_info *out);
	int (*upload_list)(struct store *st, const struct store_upload_filter *f, int64_t before_id,
			   unsigned max, struct store_upload_info *items, unsigned *n, bool *more);
	/* A new record, 'receiving'. */
	int (*upload_insert)(struct store *st, int64_t account_id, const char *path,
			     const char *client_address, int64_t now_ms, int64_t *id);
	/* End a transfer; late (a retry of one the backend refused): only
	 * while the record still says 'receiving', and -EAGAIN rather than
	 * wait for a lock. Several nodes: only while it is this node's
	 * (-ESTALE: another node took it over, see upload_orphaned). */
	int (*upload_end)(struct store *st, const struct store_upload_end *e, int64_t now_ms,
			  bool late);
	/* A 'partial' upload of the account becomes 'receiving' again for a
	 * resume from client_address: -EBUSY when it is not partial. */
	int (*upload_claim_partial)(struct store *st, int64_t id, const char *client_address,
				    int64_t now_ms, int64_t *account_id);
	/* Several nodes: upload id is 'receiving' on a node that stopped
	 * answering (no heartbeat for STORE_NODE_GONE_MS). With take, it
	 * becomes 'partial' at kept bytes (*account_id set). 1 when it is
	 * (was taken), 0 when not; without take, 2 when its node stopped
	 * answering but is not counted gone yet, 3 when its node is alive.
	 * One node (SQLite): never. */
	int (*upload_orphaned)(struct store *st, int64_t id, bool take, uint64_t kept,
			       int64_t now_ms, int64_t *account_id);
	/* Bytes the account's quota leaves for one more file, counting every
	 * upload it keeps but `own` (UINT64_MAX: no quota). */
	int (*quota_room)(struct store *st, int64_t account_id, int64_t own, uint64_t *room);
	/* Hold room for `need` bytes of upload id against its account's
	 * quota (with what store_quota_hold() adds), atomically with the
	 * check: -EDQUOT. *held: what is held (UINT64_MAX: no quota). */
	int (*quota_hold)(struct store *st, int64_t id, int64_t account_id, uint64_t need,
			  uint64_t *held);
	/* Newest first, at most max: the records of this account and path
	 * whose bytes are kept. */
	int (*upload_candidates)(struct store *st, int64_t account_id, const char *path,
				 struct store_view_candidate *c, unsigned max, unsigned *n);
	int (*upload_set_client_mtime)(struct store *st, int64_t id, int64_t mtime_ms,
				       int64_t now_ms);
	/* failed -> verified, attempts from 0: *changed, or not failed. */
	int (*upload_retry)(struct store *st, int64_t id, int64_t now_ms, bool *changed);
	/* Mark its bytes purged unless it is receiving, verifying or
	 * importing: *changed when it did now. */
	int (*upload_mark_purged)(struct store *st, int64_t id, int64_t now_ms, bool *changed);
	int (*upload_counts)(struct store *st, int64_t counts[STORE_STATES]);
	int (*upload_set_key)(struct store *st, int64_t id, int64_t key_id);
	/* At start: what was 'receiving' becomes 'partial' at the size of
	 * its bytes (an event each), and no room stays held. *n: how many. */
	int (*recover)(struct store *st, store_bytes_size_fn *size, unsigned *n);

	/* ------------------------------------------------ bytes in object storage */
	/* The journal of store_bytes.h: upload id's multipart upload (its
	 * parts recorded so far forgotten), a part confirmed (replacing one
	 * of the same number), and what is recorded (-ENOENT: none). */
	int (*object_begun)(struct store *st, int64_t id, const char *upload_id);
	int (*object_part)(struct store *st, int64_t id, const struct store_bytes_part *part);
	int (*object_load)(struct store *st, int64_t id, char *upload_id, size_t upload_id_size,
			   struct store_bytes_part *parts, unsigned max, unsigned *n);
	/* Its parts above number go; the state kept with part number
	 * (-ENOENT: none, -EMSGSIZE: more than cap). */
	int (*object_trim)(struct store *st, int64_t id, unsigned number);
	int (*object_state)(struct store *st, int64_t id, unsigned number, void *state, size_t cap,
			    size_t *len);

	/* ------------------------------------------------ nodes */
	/* Those of store_nodes_list() from their heartbeats (one node:
	 * none), and a drain asked of another live one (-ENOENT). */
	int (*nodes_list)(struct store *st, struct store_node *items, unsigned max, unsigned *n);
	int (*node_drain)(struct store *st, const char *node);

	/* ------------------------------------------------ import work */
	/* Take the next received upload to verify (-> verifying) or the
	 * next verified one due for import (-> importing, attempts + 1):
	 * 1 and *w, 0 when there is none, or -EAGAIN. */
	int (*work_claim)(struct store *st, bool import, int64_t now_ms, struct store_work *w);
	/* At start: verifying and importing (cut short) go back in the queue
	 * (PostgreSQL: what this node's earlier process held). */
	int (*work_requeue)(struct store *st);
	/* Keep the claim on upload id's work (renewed well within
	 * st->lease_ms while it runs): -ESTALE when it was lost. */
	int (*work_renew)(struct store *st, int64_t id);
	/* again: a retry, which must not wait for a lock (-EAGAIN).
	 * -ESTALE: the claim was lost (another node has the work now). */
	int (*work_set)(struct store *st, int64_t id, const struct store_work_state *s,
			int64_t now_ms, bool again);
	/* Imported uploads completed before cutoff whose bytes are kept, at
	 * most max; and tombstones purged before cutoff are dropped. */
	int (*work_expired)(struct store *st, int64_t cutoff_ms, int64_t *ids, unsigned max,
			    unsigned *n, unsigned *dropped);
};

extern const struct store_records_ops store_records_sqlite;
extern const struct store_records_ops store_records_pg;

/* How much to hold ahead of need, given the room left: a quarter of
 * what remains, from 1 MiB to 64 MiB, never past the room. */
uint64_t store_quota_hold(uint64_t room, uint64_t need);

#endif
