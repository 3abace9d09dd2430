/* The store on a temporary data directory: accounts and logins, the
 * upload lifecycle (commit, partial and resume, quota, age verification,
 * rejection), what a crash leaves, tokens and the audit log, and both
 * backends' contracts (every operation present; the data directory's
 * bytes). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "age.h"
#include "store_int.h"
#include "check.h"
#include "gw.h"
#include "store.h"
#include "store_bytes.h"
#include "store_records.h"

static char dir[64];

static struct store *open_store_at(const char *database_url)
{
	struct store_params p = { 0 };
	struct store *st = NULL;
	char err[256] = "";
	int r;

	p.data_dir = dir;
	p.master_key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	p.argon2_t_cost = 1;
	p.argon2_m_cost_kib = 8;
	p.argon2_parallelism = 1;
	p.login_cache_s = 60;
	p.database_url = database_url;
	r = store_open(&p, &st, err, sizeof(err));
	CHECK_INT(r, 0);
	if (r < 0)
		fprintf(stderr, "store_open: %s\n", err);
	return st;
}

static struct store *open_store(void)
{
	return open_store_at(NULL);
}

/* A new database on the test server (admin: its administrator's URL,
 * FTPSGATE_TEST_PG), for the records tests on PostgreSQL. */
static char *pg_database(const char *admin)
{
	static char url[512];
	char sql[96], name[40];
	const char *slash;
	PGconn *c;
	PGresult *res;
	bool ok;

	if (!(slash = strrchr(admin, '/')))
		return NULL;
	snprintf(name, sizeof(name), "t_store_%d", (int)getpid());
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	c = PQconnectdb(admin);
	res = PQexec(c, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "cannot make a test database: %s", PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
	snprintf(url, sizeof(url), "%.*s/%s", (int)(slash - admin), admin, name);
	return ok ? url : NULL;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	gw_hex(md, 32, out);
}

static int root_of(struct store *st, int64_t id)
{
	int fd = -1;

	CHECK_INT(store_account_root(st, id, &fd), 0);
	return fd;
}

/* Upload data as path in one go: 0, or the error of the step that failed. */
static int upload(struct store *st, int64_t account, int root, const char *path,
		  enum store_upload_mode mode, uint64_t offset, const void *data, size_t len,
		  int64_t *id)
{
	struct store_upload *up = NULL;
	int r = store_upload_begin(st, account, root, path, "192.0.2.7", mode, offset, &up);

	if (r < 0)
		return r;
	*id = store_upload_id(up);
	store_upload_hash(up, data, len);
	r = store_upload_write(up, data, len);
	if (r == 0)
		r = store_upload_commit(st, up);
	if (r == -EBADMSG)
		store_upload_reject(st, up);
	else if (r < 0)
		store_upload_abort(st, up, "test stopped it");
	store_upload_free(up);
	return r;
}

static void test_contracts(struct store *st)
{
	/* every operation of the first backends is there */
	const void *const *ops = (const void *const *)&store_records_sqlite;

	for (size_t i = 0; i < sizeof(store_records_sqlite) / sizeof(void *); i++)
		CHECK(ops[i] != NULL);
	(void)st;
}

static void test_bytes_dir(void)
{
	char path[128];
	struct store_bytes *b = NULL;
	struct store_bytes_writer *w = NULL;
	struct store_bytes_reader *rd = NULL;
	unsigned char *block = aligned_alloc(STORE_DIRECT_ALIGN, 2 * STORE_DIRECT_ALIGN), got[64];
	uint64_t size = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/bytes", dir);
	CHECK_INT(mkdir(path, 0700), 0);
	fd = open(path, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	CHECK_INT(store_bytes_dir_new(fd, 0, &b), 0);
	memset(block, 'a', 2 * STORE_DIRECT_ALIGN);
	CHECK_INT(b->ops->create(b, 7, &w), 0);
	CHECK_INT(b->ops->create(b, 7, &(struct store_bytes_writer *){ NULL }), -EEXIST);
	CHECK_INT(b->ops->append(w, block, 2 * STORE_DIRECT_ALIGN), 0); /* aligned: direct */
	CHECK_INT(b->ops->append(w, "tail", 4), 0);
	CHECK_INT(b->ops->commit(w), 0);
	b->ops->close(w);
	CHECK_INT(b->ops->size(b, 7, &size), 0);
	CHECK_INT(size, 2 * STORE_DIRECT_ALIGN + 4);
	/* resumed: cut to the offset, then continued */
	CHECK_INT(b->ops->resume(b, 7, size + 1, &w), -ERANGE);
	CHECK_INT(b->ops->resume(b, 7, 10, &w), 0);
	CHECK_INT(b->ops->append(w, "XY", 2), 0);
	CHECK_INT(b->ops->keep(w, &size), 0);
	CHECK_INT(size, 12); /* a directory keeps every byte */
	b->ops->close(w);
	CHECK_INT(b->ops->open_read(b, 7, 0, &rd), 0);
	CHECK_INT(b->ops->read(rd, got, sizeof(got)), 12);
	CHECK(memcmp(got, "aaaaaaaaaaXY", 12) == 0);
	CHECK_INT(b->ops->read(rd, got, sizeof(got)), 0);
	b->ops->close_read(rd);
	CHECK_INT(b->ops->remove(b, 7), 0);
	CHECK_INT(b->ops->remove(b, 7), 0); /* none is fine */
	CHECK_INT(b->ops->size(b, 7, &size), -ENOENT);
	CHECK_INT(b->ops->open_read(b, 7, 0, &rd), -ENOENT);
	CHECK_INT(b->ops->room(b, 1), 0);
	b->ops->free(b);
	close(fd);
	free(block);
}

/* Its own policy: set on create and by a change, read back by get, list
 * and login, each field back to unset (the server's) by itself. */
static void test_account_policy(struct store *st, int64_t id, const char *pw)
{
	struct store_account_spec spec = { 0 }, change = { 0 };
	struct store_account a, b;
	struct store_account_filter f = { NULL, "policied" };
	struct store_login who;
	char pw2[STORE_PASSWORD_LEN + 1];
	unsigned n = 0;
	bool more = false;

	CHECK_INT(store_account_get(st, id, &a), 0);
	CHECK(!a.policy.has_addresses && !a.policy.has_names && !a.policy.has_max_file &&
	      !a.policy.has_rate && !a.policy.has_sessions);
	spec.username = "policied";
	spec.set_policy = STORE_POLICY_ADDRESSES | STORE_POLICY_NAMES | STORE_POLICY_MAX_FILE |
			  STORE_POLICY_RATE | STORE_POLICY_SESSIONS;
	spec.policy.has_addresses = spec.policy.has_names = spec.policy.has_max_file =
		spec.policy.has_rate = spec.policy.has_sessions = true;
	gw_strlcpy(spec.policy.addresses, "10.0.0.0/8,2001:db8::/32", sizeof(spec.policy.addresses));
	gw_strlcpy(spec.policy.names, "*.nsf.age/*.ntf.age", sizeof(spec.policy.names));
	spec.policy.max_file_bytes = 21474836480ULL;
	spec.policy.rate_bytes_per_s = 0; /* its own: no limit */
	spec.policy.max_sessions = 4;
	CHECK_INT(store_account_create(st, &spec, &a, pw2), 0);
	CHECK_STR(a.policy.addresses, "10.0.0.0/8,2001:db8::/32");
	CHECK_STR(a.policy.names, "*.nsf.age/*.ntf.age");
	CHECK_INT(a.policy.max_file_bytes, 21474836480LL);
	CHECK(a.policy.has_rate);
	CHECK_INT(a.policy.rate_bytes_per_s, 0);
	CHECK_INT(a.policy.max_sessions, 4);
	CHECK_INT(store_login(st, "policied", pw2, &who), 0);
	CHECK_STR(who.policy.names, "*.nsf.age/*.ntf.age");
	CHECK_INT(store_account_list(st, 0, &f, 1, &b, &n, &more), 0);
	CHECK_INT(n, 1);
	CHECK_STR(b.policy.addresses, "10.0.0.0/8,2001:db8::/32");
	CHECK_INT(b.policy.max_sessions, 4);
	/* one field back to the server's, another changed, the rest kept */
	change.set_policy = STORE_POLICY_NAMES | STORE_POLICY_RATE;
	change.policy.has_rate = true;
	change.policy.rate_bytes_per_s = 1048576;
	CHECK_INT(store_account_update(st, a.id, &change, &b), 0);
	CHECK(!b.policy.has_names);
	CHECK_STR(b.policy.names, "");
	CHECK_INT(b.policy.rate_bytes_per_s, 1048576);
	CHECK_STR(b.policy.addresses, "10.0.0.0/8,2001:db8::/32");
	CHECK_INT(b.policy.max_file_bytes, 21474836480LL);
	CHECK(b.version > a.version);
	/* the first account's is untouched */
	CHECK_INT(store_account_get(st, id, &a), 0);
	CHECK(!a.policy.has_addresses);
	CHECK_INT(store_login(st, a.username, pw, &who), 0);
	CHECK(!who.policy.has_sessions);
}

/* Webhooks in the records: the events the triggers write, made into
 * deliveries of a webhook that wants them, claimed, retried, dead,
 * replayed, delivered; the secret signs. */
static void test_webhooks(struct store *st)
{
	char secret[STORE_WEBHOOK_SECRET_LEN + 1], sig[65], want[65];
	struct store_account_spec spec = { 0 };
	struct store_delivery d[8], again;
	struct store_webhook w, other;
	struct store_account a;
	char pw[STORE_PASSWORD_LEN + 1];
	uint8_t mac[32];
	unsigned n = 0, mac_len = 0;
	bool more = false;

	CHECK(store_webhook_events_valid("upload.*,account.created"));
	CHECK(store_webhook_events_valid("*"));
	CHECK(!store_webhook_events_valid(""));
	CHECK(!store_webhook_events_valid("upload.exploded"));
	CHECK(!store_webhook_events_valid("upload.*,"));
	CHECK(!store_webhook_events_valid("upload"));
	CHECK_INT(store_webhook_create(st, "https://example.com/h", "bad", &w, secret), -EINVAL);
	CHECK_INT(store_webhook_create(st, "https://example.com/h", "account.created", &w, secret), 0);
	CHECK_INT(strlen(secret), 64);
	CHECK_INT(store_webhook_create(st, "https://example.com/o", "upload.imported", &other,
				       secret + 0), 0);
	/* the secret it showed signs */
	CHECK_INT(store_webhook_create(st, "https://example.com/s", "account.*", &w, secret), 0);
	CHECK_INT(store_webhook_sign(st, w.id, "body", 4, sig), 0);
	HMAC(EVP_sha256(), secret, 64, (const unsigned char *)"body", 4, mac, &mac_len);
	gw_hex(mac, 32, want);
	CHECK_STR(sig, want);
	/* an account made now: one event, for the webhooks that want it */
	spec.username = "hooked";
	CHECK_INT(store_account_create(st, &spec, &a, pw), 0);
	CHECK(store_delivery_claim(st, 60000, 8, d, &n) > 0);
	CHECK_INT(n, 2); /* the first and the third webhook; not "upload.imported" */
	CHECK_STR(d[0].type, "account.created");
	CHECK_INT(d[0].account_id, a.id);
	CHECK_STR(d[0].state, "pending");
	/* claimed: not claimed again while leased */
	CHECK(store_delivery_claim(st, 60000, 8, d + 2, &n) > 0);
	CHECK_INT(n, 0);
	/* a failure: pending again, later */
	CHECK_INT(store_delivery_done(st, &d[1], false, 500, "HTTP 500", 60000, 3600000), 0);
	CHECK_INT(store_delivery_list(st, w.id, NULL, 0, 8, d + 2, &n, &more), 0);
	CHECK_INT(n, 1);
	CHECK_STR(d[2].state, "pending");
	CHECK_INT(d[2].attempts, 1);
	CHECK_INT(d[2].last_status, 500);
	CHECK_STR(d[2].last_error, "HTTP 500");
	CHECK(d[2].next_at_ms > gw_now_ms() + 50000);
	CHECK_INT(store_delivery_retry(st, w.id, d[2].event_id, &again), -EBUSY);
	/* out of time: dead; replayed: pending, attempts from 0; then delivered */
	CHECK_INT(store_delivery_done(st, &d[2], false, 0, "connection refused", 1000, 0), 0);
	CHECK_INT(store_delivery_list(st, w.id, "dead", 0, 8, d + 3, &n, &more), 0);
	CHECK_INT(n, 1);
	CHECK_INT(d[3].attempts, 2);
	CHECK_INT(store_webhook_get(st, w.id, &w), 0);
	CHECK_INT(w.dead, 1);
	CHECK_INT(store_delivery_retry(st, w.id, d[3].event_id, &again), 0);
	CHECK_STR(again.state, "pending");
	CHECK_INT(again.attempts, 0);
	CHECK(store_delivery_claim(st, 60000, 8, d + 4, &n) > 0);
	CHECK_INT(n, 1);
	CHECK_INT(store_delivery_done(st, &d[4], true, 200, NULL, 1000, 0), 0);
	CHECK_INT(store_delivery_list(st, w.id, "delivered", 0, 8, d + 5, &n, &more), 0);
	CHECK_INT(n, 1);
	CHECK(d[5].delivered_at_ms > 0);
	CHECK_INT(store_delivery_retry(st, w.id, 999999, &again), -ENOENT);
	/* deleted: gone from the list, its deliveries no longer claimed */
	CHECK_INT(store_webhook_delete(st, other.id), 0);
	CHECK_INT(store_webhook_delete(st, other.id), -ENOENT);
	CHECK_INT(store_webhook_get(st, other.id, &other), -ENOENT);
	CHECK_INT(store_webhook_prune(st, gw_now_ms() + 1000), 0);
	CHECK_INT(store_delivery_list(st, w.id, "delivered", 0, 8, d, &n, &more), 0);
	CHECK_INT(n, 0);
}

static void test_accounts(struct store *st, struct store_account *out, char pw[])
{
	struct store_account_spec spec = { 0 }, change = { 0 };
	struct store_account a, b;
	struct store_login who;
	char pw2[STORE_PASSWORD_LEN + 1];

	spec.username = "alice";
	spec.set_require_encryption = true;
	spec.require_encryption = false;
	CHECK_INT(store_account_create(st, &spec, &a, pw), 0);
	CHECK_STR(a.username, "alice");
	CHECK_STR(a.status, "active");
	CHECK_INT(a.quota_bytes, -1);
	CHECK_INT(store_account_create(st, &spec, &b, pw2), -EEXIST);
	spec.username = "../x";
	CHECK_INT(store_account_create(st, &spec, &b, pw2), -EINVAL);
	CHECK_INT(store_login(st, "alice", pw, &who), 0);
	CHECK_INT(who.account_id, a.id);
	CHECK_INT(store_login(st, "alice", pw, &who), 0); /* from the cache */
	CHECK_INT(store_login(st, "alice", "wrong", &who), -EACCES);
	CHECK_INT(store_login(st, "nobody", pw, &who), -EACCES);
	/* a change with an old version is refused; a disabled account cannot log in */
	change.status = "disabled";
	change.if_version = a.version + 5;
	CHECK_INT(store_account_update(st, a.id, &change, &b), -ESTALE);
	change.if_version = a.version;
	CHECK_INT(store_account_update(st, a.id, &change, &b), 0);
	CHECK_STR(b.status, "disabled");
	CHECK(b.version > a.version);
	CHECK_INT(store_login(st, "alice", pw, &who), -EACCES);
	change.status = "active";
	change.if_version = 0;
	CHECK_INT(store_account_update(st, a.id, &change, &b), 0);
	/* a new password: the old one stops working */
	CHECK_INT(store_account_new_password(st, a.id, pw2), 0);
	CHECK_INT(store_login(st, "alice", pw, &who), -EACCES);
	CHECK_INT(store_login(st, "alice", pw2, &who), 0);
	memcpy(pw, pw2, sizeof(pw2));
	test_account_policy(st, a.id, pw);
	CHECK_INT(store_account_get(st, a.id, out), 0);
	CHECK_INT(store_account_get(st, 999999, &b), -ENOENT);
}

static void test_uploads(struct store *st, const struct store_account *a)
{
	static const char data[] = "the bytes of one upload";
	struct store_upload_info u;
	struct store_upload *up = NULL;
	struct store_account_spec quota = { 0 };
	struct store_account b;
	char hex[65];
	int64_t id = 0, id2 = 0;
	int root = root_of(st, a->id);
	unsigned n = 0;
	bool more = true;
	struct store_upload_filter f = { a->id, NULL, 0, 0 };
	struct store_upload_info items[8];

	/* received: size and SHA-256 recorded */
	CHECK_INT(upload(st, a->id, root, "/one.bin", STORE_UPLOAD_NEW, 0, data, sizeof(data) - 1, &id), 0);
	CHECK_INT(store_upload_get(st, id, &u), 0);
	CHECK_STR(u.state, "received");
	CHECK_INT(u.size, sizeof(data) - 1);
	sha256_hex(data, sizeof(data) - 1, hex);
	CHECK_STR(u.sha256, hex);
	CHECK_STR(u.client_address, "192.0.2.7");

	/* cut short: partial; resumed at its size: the same upload, completed */
	CHECK_INT(store_upload_begin(st, a->id, root, "/two.bin", "192.0.2.7", STORE_UPLOAD_NEW, 0, &up), 0);
	id2 = store_upload_id(up);
	store_upload_hash(up, data, 10);
	CHECK_INT(store_upload_write(up, data, 10), 0);
	CHECK_INT(store_upload_abort(st, up, "connection lost"), 0);
	store_upload_free(up);
	CHECK_INT(store_upload_get(st, id2, &u), 0);
	CHECK_STR(u.state, "partial");
	CHECK_INT(u.bytes_received, 10);
	CHECK_STR(u.error, "connection lost");
	CHECK_INT(upload(st, a->id, root, "/two.bin", STORE_UPLOAD_RESUME, 11, data, 1, &id), -ERANGE);
	CHECK_INT(upload(st, a->id, root, "/two.bin", STORE_UPLOAD_RESUME, 10, data + 10,
			 sizeof(data) - 11, &id), 0);
	CHECK_INT(id, id2);
	CHECK_INT(store_upload_get(st, id2, &u), 0);
	CHECK_STR(u.state, "received");
	CHECK_STR(u.sha256, hex); /* of the whole file, not of the last part */

	/* listed newest first */
	CHECK_INT(store_upload_list(st, &f, 0, 8, items, &n, &more), 0);
	CHECK_INT(n, 2);
	CHECK(!more);
	CHECK_INT(items[0].id, id2);

	/* the quota stops a write that would pass it */
	quota.set_quota = true;
	quota.quota_bytes = 2 * (int64_t)sizeof(data) + 5;
	CHECK_INT(store_account_update(st, a->id, &quota, &b), 0);
	CHECK_INT(upload(st, a->id, root, "/big.bin", STORE_UPLOAD_NEW, 0, data, sizeof(data) - 1, &id),
		  -EDQUOT);
	CHECK_INT(store_upload_get(st, id, &u), 0);
	CHECK_STR(u.state, "partial");
	quota.quota_bytes = -1;
	CHECK_INT(store_account_update(st, a->id, &quota, &b), 0);

	/* purged: its file goes, its record stays */
	CHECK_INT(store_upload_purge(st, id, &u), 0);
	CHECK(u.purged_at_ms > 0);
	CHECK_INT(store_upload_retry(st, id2, &u), -EPERM); /* not failed */
	close(root);
}

/* The S3 backend's journal, kept in the records: a multipart upload per
 * upload, its parts in order, a part confirmed twice recorded once, a
 * new multipart upload forgetting the parts of the last. */
static void test_journal(struct store *st, const struct store_account *a)
{
	static const char data[] = "journal";
	struct store_bytes_journal j;
	struct store_bytes_part parts[4], p1 = { 1, 5u << 20, "\"e1\"", "s1", 2 },
		p2 = { 2, 7, "\"e2\"", NULL, 0 };
	char upload_id[128], state[8];
	size_t len = 0;
	unsigned n = 9;
	int64_t id = 0;
	int root = root_of(st, a->id);

	CHECK_INT(upload(st, a->id, root, "/journal.bin", STORE_UPLOAD_NEW, 0, data, sizeof(data) - 1,
			 &id), 0);
	store_bytes_journal_init(st, &j);
	CHECK_INT(j.load(j.arg, id, upload_id, sizeof(upload_id), parts, 4, &n), -ENOENT);
	CHECK_INT(j.begun(j.arg, id, "mpu-1"), 0);
	CHECK_INT(j.load(j.arg, id, upload_id, sizeof(upload_id), parts, 4, &n), 0);
	CHECK_STR(upload_id, "mpu-1");
	CHECK_INT(n, 0);
	CHECK_INT(j.confirmed(j.arg, id, &p2), 0);
	CHECK_INT(j.confirmed(j.arg, id, &p1), 0);
	p2.size = 8;
	CHECK_INT(j.confirmed(j.arg, id, &p2), 0); /* sent again: replaces */
	CHECK_INT(j.load(j.arg, id, upload_id, sizeof(upload_id), parts, 4, &n), 0);
	CHECK_INT(n, 2);
	CHECK_INT(parts[0].number, 1);
	CHECK_INT(parts[0].size, 5u << 20);
	CHECK_STR(parts[0].etag, "\"e1\"");
	CHECK_INT(parts[1].number, 2);
	CHECK_INT(parts[1].size, 8);
	CHECK_INT(j.load(j.arg, id, upload_id, sizeof(upload_id), parts, 1, &n), 0);
	CHECK_INT(n, 1);
	CHECK_INT(j.load(j.arg, id, upload_id, sizeof(upload_id), NULL, 0, &n), 0);
	/* the state kept with a part, byte for byte; none with part 2 */
	CHECK_INT(st->rec->object_state(st, id, 1, state, sizeof(state), &len), 0);
	CHECK_INT(len, 2);
	CHECK(!memcmp(state, "s1", 2));
	CHECK_INT(st->rec->object_state(st, id, 1, state, 1, &len), -EMSGSIZE);
	CHECK_INT(st->rec->object_state(st, id, 2, state, sizeof(state), &len), -ENOENT);
	/* parts past a gap are forgotten, to be sent again */
	CHECK_INT(j.trim(j.arg, id, 1), 0);
	CHECK_INT(j.load(j.arg, id, upload_id, sizeof(upload_id), parts, 4, &n), 0);
	CHECK_INT(n, 1);
	CHECK_INT(j.begun(j.arg, id, "mpu-2"), 0);
	CHECK_INT(j.load(j.arg, id, upload_id, sizeof(upload_id), parts, 4, &n), 0);
	CHECK_STR(upload_id, "mpu-2");
	CHECK_INT(n, 0);
	close(root);
}

static int to_buf(void *arg, const uint8_t *data, size_t len)
{
	return gw_buf_add(arg, data, len);
}

static void test_encrypted(struct store *st)
{
	static const char plain[] = "a mail file, encrypted";
	struct store_account_spec spec = { 0 };
	struct store_account a;
	struct store_key k;
	struct store_upload_info u;
	struct age_writer *w = NULL;
	struct gw_buf file;
	uint8_t pub[AGE_KEY_LEN];
	char pw[STORE_PASSWORD_LEN + 1];
	int64_t id = 0;
	int root;

	spec.username = "bob"; /* encryption required: the default */
	CHECK_INT(store_account_create(st, &spec, &a, pw), 0);
	CHECK(a.require_encryption);
	root = root_of(st, a.id);
	/* no key yet: refused at the start */
	CHECK_INT(upload(st, a.id, root, "/x.age", STORE_UPLOAD_NEW, 0, "x", 1, &id), -ENOKEY);
	CHECK_INT(store_key_create(st, a.id, &k), 0);
	CHECK_INT(age_parse_recipient(k.recipient, pub), 0);
	gw_buf_init(&file, 1 << 20);
	CHECK_INT(age_writer_new(pub, to_buf, &file, &w), 0);
	CHECK_INT(age_writer_feed(w, (const uint8_t *)plain, sizeof(plain) - 1), 0);
	CHECK_INT(age_writer_finish(w), 0);
	age_writer_free(w);
	CHECK_INT(upload(st, a.id, root, "/mail.age", STORE_UPLOAD_NEW, 0, file.data, file.len, &id), 0);
	CHECK_INT(store_upload_get(st, id, &u), 0);
	CHECK_STR(u.state, "received");
	CHECK_INT(u.key_id, k.id);
	/* plaintext: rejected with its reason, and its file gone */
	CHECK_INT(upload(st, a.id, root, "/plain.txt", STORE_UPLOAD_NEW, 0, plain, sizeof(plain) - 1, &id),
		  -EBADMSG);
	CHECK_INT(store_upload_get(st, id, &u), 0);
	CHECK_STR(u.state, "rejected");
	CHECK(strstr(u.error, "not an age file") != NULL);
	CHECK(faccessat(root, "plain.txt", F_OK, 0) < 0);
	/* a revoked key opens nothing any more */
	CHECK_INT(store_key_revoke(st, a.id, k.id, &k), 0);
	CHECK(k.revoked_at_ms > 0);
	CHECK_INT(upload(st, a.id, root, "/late.age", STORE_UPLOAD_NEW, 0, file.data, file.len, &id),
		  -ENOKEY);
	gw_buf_release(&file);
	close(root);
}

static void test_tokens(struct store *st)
{
	char boot[STORE_TOKEN_LEN + 1], tok[STORE_TOKEN_LEN + 1], other[STORE_TOKEN_LEN + 1];
	struct store_token t, who;
	struct store_audit a = { 0 }, items[4];
	bool generated = false, more = true;
	unsigned n = 0;

	CHECK_INT(store_admin_bootstrap(st, NULL, boot, &generated), 0);
	CHECK(generated);
	CHECK_INT(store_admin_bootstrap(st, NULL, tok, &generated), 0);
	CHECK(!generated); /* once, on the first start */
	CHECK_INT(store_admin_check(st, boot, &who), 0);
	CHECK_STR(who.scope, "admin");
	CHECK_INT(store_token_create(st, "reader", "read", &t, tok), 0);
	CHECK_INT(store_token_create(st, "reader", "read", &who, other), -EEXIST);
	CHECK_INT(store_admin_check(st, tok, &who), 0);
	CHECK_STR(who.name, "reader");
	CHECK_INT(store_token_revoke(st, t.id, &t), 0);
	CHECK_INT(store_admin_check(st, tok, &who), -EACCES);
	CHECK_INT(store_admin_check(st, "not-a-token", &who), -EACCES);
	gw_strlcpy(a.method, "POST", sizeof(a.method));
	gw_strlcpy(a.path, "/api/v1/tokens", sizeof(a.path));
	a.status = 201;
	CHECK_INT(store_audit_add(st, &a), 0);
	CHECK_INT(store_audit_list(st, 0, 0, 4, items, &n, &more), 0);
	CHECK_INT(n, 1);
	CHECK_STR(items[0].path, "/api/v1/tokens");
	CHECK(items[0].at_ms > 0);
}

/* A process that dies mid-upload: the next open records it partial, at
 * the size of the bytes that reached the disk. */
static void test_crash(struct store **stp, const struct store_account *a)
{
	struct store *st = *stp;
	struct store_upload *up = NULL;
	struct store_upload_info u;
	int root = root_of(st, a->id);
	int64_t id;

	CHECK_INT(store_upload_begin(st, a->id, root, "/crash.bin", "192.0.2.7", STORE_UPLOAD_NEW, 0, &up), 0);
	id = store_upload_id(up);
	CHECK_INT(store_upload_write(up, "0123456789", 10), 0);
	store_upload_free(up); /* neither committed nor aborted */
	close(root);
	store_close(st);
	*stp = st = open_store();
	CHECK_INT(store_upload_get(st, id, &u), 0);
	CHECK_STR(u.state, "partial");
	CHECK_INT(u.bytes_received, 10);
	CHECK(strstr(u.error, "the gateway stopped") != NULL);
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	struct store_account a;
	char pw[STORE_PASSWORD_LEN + 1];
	struct store *st;
	const char *pg = getenv("FTPSGATE_TEST_PG");

	if (pg && !*pg)
		pg = NULL;
	snprintf(dir, sizeof(dir), "/tmp/ftpsgate-store-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	st = open_store();
	if (!st)
		return check_report("test_store");
	test_contracts(st);
	test_bytes_dir();
	test_accounts(st, &a, pw);
	test_uploads(st, &a);
	test_journal(st, &a);
	test_encrypted(st);
	test_tokens(st);
	test_webhooks(st);
	test_crash(&st, &a);
	store_close(st);
	/* the records contract on PostgreSQL too, when a server was given */
	if (pg) {
		char *url = pg_database(pg);
		size_t base = strlen(dir);

		CHECK(url != NULL);
		/* bytes of their own: upload ids start again at 1 there */
		snprintf(dir + base, sizeof(dir) - base, "/pg");
		st = url ? open_store_at(url) : NULL;
		dir[base] = '\0';
		if (st) {
			test_accounts(st, &a, pw);
			test_journal(st, &a);
			test_webhooks(st);
			store_close(st);
		}
	}
	/* kept to look at when a check failed */
	if (check_failures == 0 && nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_report("test_store");
}
