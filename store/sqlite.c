/* sqlite.c - the SQLite records backend's connection: opening the
 * database file (WAL, synchronous=FULL, private to its owner), schema
 * migrations, and the helpers its statements share.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw.h"
#include "records_sqlite.h"
#include "store_int.h"

/* Each entry moves the schema from version i to i + 1. Never edit one
 * that has shipped; append a new one. */
/* The time in milliseconds since the epoch, in SQL (for triggers). */
#define SQLITE_NOW_MS "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"

static const char *const migrations[] = {
	/* 1: accounts, uploads, admin tokens */
	"CREATE TABLE accounts ("
	"  id INTEGER PRIMARY KEY,"
	"  username TEXT NOT NULL UNIQUE,"
	"  password_hash TEXT NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','disabled')),"
	"  created_at INTEGER NOT NULL,"
	"  password_changed_at INTEGER NOT NULL"
	");"
	"CREATE TABLE uploads ("
	"  id INTEGER PRIMARY KEY,"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  path TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('receiving','partial','received',"
	"    'verifying','verified','rejected','importing','imported','failed')),"
	"  size INTEGER,"
	"  bytes_received INTEGER NOT NULL DEFAULT 0,"
	"  sha256 TEXT,"
	"  client_address TEXT NOT NULL,"
	"  started_at INTEGER NOT NULL,"
	"  completed_at INTEGER,"
	"  error TEXT"
	");"
	"CREATE INDEX uploads_by_account ON uploads(account_id, id);"
	"CREATE INDEX uploads_by_state ON uploads(state, id);"
	"CREATE TABLE admin_tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  token_hash TEXT NOT NULL UNIQUE,"
	"  created_at INTEGER NOT NULL"
	");",
	/* 2: account settings, tombstones, token scopes, audit */
	"ALTER TABLE accounts ADD COLUMN expires_at INTEGER;"
	"ALTER TABLE accounts ADD COLUMN quota_bytes INTEGER;"
	"ALTER TABLE accounts ADD COLUMN require_encryption INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE accounts ADD COLUMN updated_at INTEGER;"
	"ALTER TABLE accounts ADD COLUMN deleted_at INTEGER;"
	"ALTER TABLE accounts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE uploads ADD COLUMN updated_at INTEGER;"
	"ALTER TABLE uploads ADD COLUMN purged_at INTEGER;"
	"CREATE INDEX uploads_by_started ON uploads(started_at, id);"
	"ALTER TABLE admin_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin'"
	"  CHECK (scope IN ('admin','read'));"
	"ALTER TABLE admin_tokens ADD COLUMN last_used_at INTEGER;"
	"ALTER TABLE admin_tokens ADD COLUMN revoked_at INTEGER;"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  token_id INTEGER,"
	"  token_name TEXT NOT NULL,"
	"  client_address TEXT NOT NULL,"
	"  method TEXT NOT NULL,"
	"  path TEXT NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  detail TEXT NOT NULL DEFAULT ''"
	");",
	/* 3: encryption keys, verification verdicts, the import queue */
	"CREATE TABLE keys ("
	"  id INTEGER PRIMARY KEY,"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  recipient TEXT NOT NULL,"
	"  identity_sealed BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  revoked_at INTEGER"
	");"
	"CREATE INDEX keys_by_account ON keys(account_id, id);"
	"ALTER TABLE uploads ADD COLUMN key_id INTEGER;"
	"ALTER TABLE uploads ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE uploads ADD COLUMN next_attempt_at INTEGER;"
	"ALTER TABLE uploads ADD COLUMN hook_exit INTEGER;"
	"ALTER TABLE uploads ADD COLUMN hook_output TEXT;"
	"CREATE INDEX uploads_work ON uploads(state, next_attempt_at);",
	/* 4: quota held by running uploads */
	"ALTER TABLE uploads ADD COLUMN reserved_bytes INTEGER NOT NULL DEFAULT 0;",
	/* 5: the client's modification time (MFMT) */
	"ALTER TABLE uploads ADD COLUMN client_modified_at INTEGER;",
	/* 6: bytes in object storage: an upload's multipart upload and the
	 * parts the store confirmed (bytes_s3.c) */
	"ALTER TABLE uploads ADD COLUMN object_upload TEXT;"
	"CREATE TABLE upload_parts ("
	"  upload_id INTEGER NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,"
	"  number INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  etag TEXT NOT NULL,"
	"  PRIMARY KEY (upload_id, number)"
	");",
	/* 7: the names of accounts' files and directories when the bytes
	 * are in object storage (records_names.c), and the state a resume
	 * goes on from, with the part it ends (uploads.c) */
	"CREATE TABLE names ("
	"  account_id INTEGER NOT NULL,"
	"  parent BLOB NOT NULL,"
	"  name BLOB NOT NULL,"
	"  upload_id INTEGER,"
	"  mtime_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (account_id, parent, name)"
	");"
	"CREATE INDEX names_upload ON names(upload_id);"
	"ALTER TABLE upload_parts ADD COLUMN state BLOB;",
	/* 8: the account a change was made to, for its audit trail; the
	 * uploads kept, by state, counted from an index (the console's
	 * overview asks at every event) */
	"ALTER TABLE audit ADD COLUMN account_id INTEGER;"
	"CREATE INDEX audit_by_account ON audit(account_id, id);"
	"CREATE INDEX uploads_kept_by_state ON uploads(state) WHERE purged_at IS NULL;",
	/* 9: each account's own policy; NULL = the server's default */
	"ALTER TABLE accounts ADD COLUMN allowed_addresses TEXT;"
	"ALTER TABLE accounts ADD COLUMN allowed_names TEXT;"
	"ALTER TABLE accounts ADD COLUMN max_file_bytes INTEGER;"
	"ALTER TABLE accounts ADD COLUMN rate_limit_bytes_per_s INTEGER;"
	"ALTER TABLE accounts ADD COLUMN max_sessions INTEGER;",
	/* 10: webhooks. Every change a webhook may be told of is written to
	 * hook_events by a trigger, in the transaction that makes it: none
	 * is lost to a crash between the change and its event. Deliveries
	 * are made from them per webhook (its cursor), retried, and kept. */
	"CREATE TABLE webhooks ("
	"  id INTEGER PRIMARY KEY,"
	"  url TEXT NOT NULL,"
	"  events TEXT NOT NULL,"
	"  secret_sealed BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  deleted_at INTEGER,"
	"  cursor INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE hook_events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  type TEXT NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  account_id INTEGER NOT NULL,"
	"  upload_id INTEGER,"
	"  error TEXT"
	");"
	"CREATE TABLE webhook_deliveries ("
	"  webhook_id INTEGER NOT NULL,"
	"  event_id INTEGER NOT NULL,"
	"  upload_id INTEGER,"
	"  state TEXT NOT NULL CHECK (state IN ('pending','delivered','dead')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL,"
	"  first_at INTEGER,"
	"  last_status INTEGER,"
	"  last_error TEXT,"
	"  delivered_at INTEGER,"
	"  lease_until INTEGER,"
	"  PRIMARY KEY (webhook_id, event_id)"
	");"
	"CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_at);"
	"CREATE INDEX webhook_deliveries_by_upload ON webhook_deliveries(webhook_id, upload_id, event_id);"
	"CREATE INDEX webhook_deliveries_by_state ON webhook_deliveries(webhook_id, state, event_id);"
	"CREATE TRIGGER hook_upload AFTER UPDATE OF state ON uploads"
	"  WHEN (NEW.state = 'received' AND OLD.state = 'receiving')" /* not a requeue */
	"   OR (NEW.state IN ('rejected','imported','failed') AND NEW.state IS NOT OLD.state)"
	"  BEGIN INSERT INTO hook_events(type, at, account_id, upload_id, error)"
	"  VALUES ('upload.' || NEW.state, " SQLITE_NOW_MS ", NEW.account_id, NEW.id, NEW.error); END;"
	"CREATE TRIGGER hook_account_new AFTER INSERT ON accounts"
	"  BEGIN INSERT INTO hook_events(type, at, account_id)"
	"  VALUES ('account.created', " SQLITE_NOW_MS ", NEW.id); END;"
	"CREATE TRIGGER hook_account AFTER UPDATE ON accounts"
	"  WHEN NEW.version IS NOT OLD.version OR NEW.password_hash IS NOT OLD.password_hash"
	"  BEGIN INSERT INTO hook_events(type, at, account_id) VALUES ("
	"    CASE WHEN NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN 'account.deleted'"
	"    WHEN NEW.status IS NOT OLD.status THEN"
	"      CASE NEW.status WHEN 'disabled' THEN 'account.disabled' ELSE 'account.enabled' END"
	"    WHEN NEW.password_hash IS NOT OLD.password_hash THEN 'account.password_changed'"
	"    ELSE 'account.updated' END, " SQLITE_NOW_MS ", NEW.id); END;"
	"CREATE TRIGGER hook_key_new AFTER INSERT ON keys"
	"  BEGIN INSERT INTO hook_events(type, at, account_id)"
	"  VALUES ('account.key_issued', " SQLITE_NOW_MS ", NEW.account_id); END;"
	"CREATE TRIGGER hook_key_revoked AFTER UPDATE OF revoked_at ON keys"
	"  WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL"
	"  BEGIN INSERT INTO hook_events(type, at, account_id)"
	"  VALUES ('account.key_revoked', " SQLITE_NOW_MS ", NEW.account_id); END;",
};

int store_db_error(struct store *st, const char *what)
{
	int code = sqlite3_errcode(st->db);

	gw_error("store.sqlite", "%s: %s", what, sqlite3_errmsg(st->db));
	switch (code) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

int store_step_now(struct store *st, sqlite3_stmt *q)
{
	int rc;

	sqlite3_busy_timeout(st->db, 0);
	rc = sqlite3_step(q);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	return rc;
}

int store_prepare(struct store *st, const char *sql, sqlite3_stmt **out)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK)
		return store_db_error(st, "cannot prepare statement");
	return 0;
}

int store_exec(struct store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		gw_error("store.sqlite", "cannot run '%.60s': %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int migrate(struct store *st, char *err, size_t err_size)
{
	sqlite3_stmt *q;
	int version = 0;
	size_t i;

	if (store_prepare(st, "PRAGMA user_version", &q) < 0)
		goto fail;
	if (sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (version < 0 || (size_t)version > GW_ARRAY_SIZE(migrations)) {
		snprintf(err, err_size, "database schema version %d is newer than this ftpsgate (%zu)",
			 version, GW_ARRAY_SIZE(migrations));
		return -EINVAL;
	}
	for (i = (size_t)version; i < GW_ARRAY_SIZE(migrations); i++) {
		char pragma[64];

		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %zu", i + 1);
		if (store_exec(st, "BEGIN IMMEDIATE") < 0)
			goto fail;
		if (store_exec(st, migrations[i]) < 0 || store_exec(st, pragma) < 0) {
			store_exec(st, "ROLLBACK");
			goto fail;
		}
		if (store_exec(st, "COMMIT") < 0)
			goto fail;
		gw_info("store.migrate", "database schema now at version %zu", i + 1);
	}
	return 0;
fail:
	snprintf(err, err_size, "cannot migrate database: %s", sqlite3_errmsg(st->db));
	return -EIO;
}

/* The database holds password and token hashes: readable by its owner
 * only, whatever the umask, and also when an older version made it 0644.
 * SQLite gives its -wal and -shm files the database file's mode. */
static int private_files(const char *dbpath, char *err, size_t err_size)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char path[PATH_MAX + 40];
	size_t i;
	int fd;

	fd = open(dbpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, err_size, "cannot open database '%s': %s", dbpath, strerror(errno));
		return -errno;
	}
	close(fd);
	for (i = 0; i < GW_ARRAY_SIZE(suffixes); i++) {
		snprintf(path, sizeof(path), "%s%s", dbpath, suffixes[i]);
		if (chmod(path, 0600) < 0 && errno != ENOENT) {
			snprintf(err, err_size, "cannot make '%s' private: %s", path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int store_sqlite_open(struct store *st, const char *data_dir, char *err, size_t err_size)
{
	char dbpath[PATH_MAX + 32];
	int r;

	snprintf(dbpath, sizeof(dbpath), "%s/ftpsgate.db", data_dir);
	r = private_files(dbpath, err, err_size);
	if (r < 0)
		return r;
	if (sqlite3_open_v2(dbpath, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, err_size, "cannot open database '%s': %s", dbpath,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		return -EIO;
	}
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	sqlite3_extended_result_codes(st->db, 1);
	/* WAL for concurrent readers; synchronous=FULL so that a committed
	 * record survives power loss, which 226 promises. */
	if (store_exec(st, "PRAGMA journal_mode = WAL") < 0 ||
	    store_exec(st, "PRAGMA synchronous = FULL") < 0 ||
	    store_exec(st, "PRAGMA foreign_keys = ON") < 0) {
		snprintf(err, err_size, "cannot set up database '%s': %s", dbpath, sqlite3_errmsg(st->db));
		return -EIO;
	}
	r = private_files(dbpath, err, err_size); /* the -wal and -shm SQLite made */
	if (r < 0)
		return r;
	return migrate(st, err, err_size);
}

void store_sqlite_close(struct store *st)
{
	if (st->db)
		sqlite3_close(st->db);
	st->db = NULL;
}

void store_sqlite_text(sqlite3_stmt *q, int i, char *out, size_t size)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	gw_strlcpy(out, t ? (const char *)t : "", size);
}
