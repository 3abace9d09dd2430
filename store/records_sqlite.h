/* records_sqlite.h - the SQLite records backend's files, to each other.
 * Not for other parts. */
#ifndef FTPSGATE_STORE_RECORDS_SQLITE_H
#define FTPSGATE_STORE_RECORDS_SQLITE_H

#include <sqlite3.h>

#include "store_records.h"

/* SQL for the bytes an account's uploads hold against its quota: each
 * upload's size, or what arrived, or the room a running one reserved. */
#define STORE_HELD_BYTES "COALESCE(SUM(MAX(COALESCE(size, bytes_received), reserved_bytes)), 0)"

/* Log a SQLite failure once, where it happened; returns -ENOSPC (disk
 * full), -EROFS (read-only), -EAGAIN (locked by another process) or -EIO. */
int store_db_error(struct store *st, const char *what);

/* How long a statement waits for another process's lock on the database.
 * The connection's mutex is held meanwhile, so writes that are tried
 * again later wait not at all. */
#define STORE_BUSY_MS 5000

/* sqlite3_step() for a write that may be skipped or is tried again later:
 * it does not wait for another process's lock. Called with lock held. */
int store_step_now(struct store *st, sqlite3_stmt *q);

/* Prepare, or log and fail. */
int store_prepare(struct store *st, const char *sql, sqlite3_stmt **out);
int store_exec(struct store *st, const char *sql);

/* sqlite.c: the connection and the schema */
int store_sqlite_open(struct store *st, const char *data_dir, char *err, size_t err_size);
void store_sqlite_close(struct store *st);
/* Column i as text into out; NULL as "". */
void store_sqlite_text(sqlite3_stmt *q, int i, char *out, size_t size);

/* records_sqlite_accounts.c: accounts, keys, admin tokens, audit */
int store_sqlite_account_get(struct store *st, int64_t id, bool usage,
			struct store_account *out);
int store_sqlite_account_find(struct store *st, const char *username, struct store_account *out,
			      char *hash, size_t hash_size);
int store_sqlite_account_insert(struct store *st, const struct store_account_row *row,
				int64_t now_ms, int64_t *id);
int store_sqlite_account_remove(struct store *st, int64_t id);
int store_sqlite_account_list(struct store *st, int64_t after_id,
		const struct store_account_filter *f, unsigned max,
		struct store_account *items, unsigned *n, bool *more);
int store_sqlite_account_update(struct store *st, const struct store_account *a, int64_t now_ms);
int store_sqlite_account_delete(struct store *st, int64_t id, int64_t now_ms, bool *changed);
int store_sqlite_account_set_password(struct store *st, int64_t id, const char *hash,
				      int64_t now_ms);
int store_sqlite_key_insert(struct store *st, int64_t account_id, const char *recipient,
			    const uint8_t sealed[STORE_KEY_SEALED_LEN], int64_t now_ms,
			    int64_t *id);
int store_sqlite_key_get(struct store *st, int64_t account_id, int64_t key_id,
			 struct store_key *out);
int store_sqlite_key_list(struct store *st, int64_t account_id, int64_t after_id, unsigned max,
			  struct store_key *items, unsigned *n, bool *more);
int store_sqlite_key_revoke(struct store *st, int64_t account_id, int64_t key_id, int64_t now_ms);
int store_sqlite_key_sealed(struct store *st, int64_t account_id, unsigned max, int64_t *ids,
			    uint8_t (*sealed)[STORE_KEY_SEALED_LEN], unsigned *n);
int store_sqlite_token_by_hash(struct store *st, const char *hash, struct store_token *out);
void store_sqlite_token_touch(struct store *st, int64_t id, int64_t now_ms);
int store_sqlite_token_exists(struct store *st, const char *name, bool *exists);
int store_sqlite_token_put(struct store *st, const char *name, const char *hash, const char *scope,
			   int64_t now_ms, bool replace, int64_t *id);
int store_sqlite_token_get(struct store *st, int64_t id, struct store_token *out);
int store_sqlite_token_list(struct store *st, int64_t after_id, unsigned max,
			    struct store_token *items, unsigned *n, bool *more);
int store_sqlite_token_revoke(struct store *st, int64_t id, int64_t now_ms);
int store_sqlite_audit_insert(struct store *st, const struct store_audit *a);
int store_sqlite_audit_list(struct store *st, int64_t before_id, int64_t account_id, unsigned max,
			    struct store_audit *items, unsigned *n, bool *more);

/* records_objects.c */
int store_sqlite_object_begun(struct store *st, int64_t id, const char *upload_id);
int store_sqlite_object_part(struct store *st, int64_t id, const struct store_bytes_part *part);
int store_sqlite_object_trim(struct store *st, int64_t id, unsigned number);
int store_sqlite_object_state(struct store *st, int64_t id, unsigned number, void *state,
			      size_t cap, size_t *len);
int store_sqlite_object_load(struct store *st, int64_t id, char *upload_id, size_t upload_id_size,
			     struct store_bytes_part *parts, unsigned max, unsigned *n);

/* records_sqlite_webhooks.c */
int store_sqlite_webhook_insert(struct store *st, const char *url, const char *events,
				const uint8_t sealed[STORE_KEY_SEALED_LEN], int64_t now_ms, int64_t *id);
int store_sqlite_webhook_get(struct store *st, int64_t id, struct store_webhook *out);
int store_sqlite_webhook_list(struct store *st, int64_t after_id, unsigned max,
			      struct store_webhook *items, unsigned *n, bool *more);
int store_sqlite_webhook_delete(struct store *st, int64_t id, int64_t now_ms);
int store_sqlite_webhook_sealed(struct store *st, int64_t id, uint8_t sealed[STORE_KEY_SEALED_LEN]);
int store_sqlite_hook_events_after(struct store *st, int64_t after_id, unsigned max,
				   struct store_delivery *items, unsigned *n);
int store_sqlite_delivery_add(struct store *st, int64_t webhook_id, const int64_t *event_ids,
			      const int64_t *upload_ids, unsigned n, int64_t cursor, int64_t now_ms);
int store_sqlite_delivery_claim(struct store *st, int64_t now_ms, int64_t lease_ms, unsigned max,
				struct store_delivery *items, unsigned *n);
int store_sqlite_delivery_set(struct store *st, const struct store_delivery *d);
int store_sqlite_delivery_get(struct store *st, int64_t webhook_id, int64_t event_id,
			      struct store_delivery *out);
int store_sqlite_delivery_list(struct store *st, int64_t webhook_id, const char *state,
			       int64_t before_event, unsigned max, struct store_delivery *items,
			       unsigned *n, bool *more);
int store_sqlite_webhook_prune(struct store *st, int64_t cutoff_ms);

#endif
