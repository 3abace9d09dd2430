/* The S3 client against a real S3-compatible server: the one
 * scripts/s3-local.sh starts (OpenStack Swift's S3 API from Debian),
 * named by FTPSGATE_TEST_S3, the file of its KEY=VALUE lines. Multipart
 * uploads, ranged reads, listing and aborting, deletes, and what each
 * refusal comes back as. Skipped (exit 0, said) without a server. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "gw.h"
#include "s3.h"

#define MiB (1024 * 1024)

struct sink {
	unsigned char *buf;
	size_t len, cap;
};

static int collect(void *arg, const void *buf, size_t len)
{
	struct sink *k = arg;

	if (k->len + len > k->cap)
		return -EFBIG;
	memcpy(k->buf + k->len, buf, len);
	k->len += len;
	return 0;
}

/* KEY=VALUE lines into the environment. */
static int load_env(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\n")] = '\0';
		if (!eq)
			continue;
		*eq = '\0';
		setenv(line, eq + 1, 1);
	}
	fclose(f);
	return 0;
}

static int setup(struct s3_config *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	if (s3_config_parse_url(getenv("FTPSGATE_STORAGE_URL"), c, err, sizeof(err)) < 0 ||
	    s3_config_credentials(c, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	gw_strlcpy(c->endpoint, getenv("FTPSGATE_S3_ENDPOINT"), sizeof(c->endpoint));
	gw_strlcpy(c->region, getenv("FTPSGATE_S3_REGION"), sizeof(c->region));
	c->retries = 2;
	c->backoff_ms = 50;
	c->timeout_ms = 60000;
	return 0;
}

struct found {
	const char *upload_id;
	int n;
	int64_t initiated_ms;
};

static void count(void *arg, const char *key, const char *upload_id, int64_t initiated_ms)
{
	struct found *f = arg;

	(void)key;
	if (!strcmp(upload_id, f->upload_id)) {
		f->n++;
		f->initiated_ms = initiated_ms;
	}
}

static void multipart(struct s3 *s, const unsigned char *data, size_t total)
{
	char key[S3_KEY_MAX], id[S3_UPLOAD_ID_MAX], name[64];
	struct s3_part parts[2];
	struct s3_error e;
	struct sink k = { malloc(total), 0, total };
	uint64_t size = 0;
	struct found f = { id, 0, 0 };

	snprintf(name, sizeof(name), "client-test/%d/mp", (int)getpid());
	s3_key(s, name, key);
	CHECK_INT(s3_multipart_start(s, key, id, &e), 0);
	CHECK(id[0] != '\0');
	/* in progress: listed under its prefix */
	CHECK_INT(s3_multipart_list(s, key, count, &f, &e), 0);
	CHECK_INT(f.n, 1);
	CHECK(f.initiated_ms > (int64_t)(time(NULL) - 3600) * 1000);
	parts[0].number = 1;
	CHECK_INT(s3_multipart_part(s, key, id, 1, data, 5 * MiB, parts[0].etag, &e), 0);
	parts[1].number = 2;
	CHECK_INT(s3_multipart_part(s, key, id, 2, data + 5 * MiB, total - 5 * MiB, parts[1].etag, &e),
		  0);
	CHECK(parts[0].etag[0] && parts[1].etag[0]);
	/* a part that is not there cannot be named */
	{
		struct s3_part bad[2] = { parts[0], { 2, "\"0123456789abcdef0123456789abcdef\"" } };

		CHECK_INT(s3_multipart_complete(s, key, id, bad, 2, &e), -EINVAL);
		CHECK_INT(e.status, 400);
		CHECK_STR(e.code, "InvalidPart");
	}
	CHECK_INT(s3_multipart_complete(s, key, id, parts, 2, &e), 0);
	CHECK_INT(s3_head(s, key, &size, &e), 0);
	CHECK_INT(size, total);
	/* whole, ranged, to the end */
	CHECK_INT(s3_get(s, key, 0, 0, collect, &k, &e), 0);
	CHECK_INT(k.len, total);
	CHECK(k.len == total && !memcmp(k.buf, data, total));
	k.len = 0;
	CHECK_INT(s3_get(s, key, 5 * MiB - 3, 10, collect, &k, &e), 0);
	CHECK_INT(k.len, 10);
	CHECK(!memcmp(k.buf, data + 5 * MiB - 3, 10));
	k.len = 0;
	CHECK_INT(s3_get(s, key, total - 7, 0, collect, &k, &e), 0);
	CHECK_INT(k.len, 7);
	CHECK(!memcmp(k.buf, data + total - 7, 7));
	/* a reader that stops says why */
	k.len = 0;
	k.cap = 1000;
	CHECK_INT(s3_get(s, key, 0, 0, collect, &k, &e), -EFBIG);
	/* the finished upload is no longer listed */
	f.n = 0;
	CHECK_INT(s3_multipart_list(s, key, count, &f, &e), 0);
	CHECK_INT(f.n, 0);
	CHECK_INT(s3_delete(s, key, &e), 0);
	CHECK_INT(s3_head(s, key, &size, &e), -ENOENT);
	k.len = 0;
	k.cap = total;
	CHECK_INT(s3_get(s, key, 0, 0, collect, &k, &e), -ENOENT);
	CHECK_INT(e.status, 404);
	CHECK_INT(s3_delete(s, key, &e), 0); /* none is fine */
	free(k.buf);
}

static void aborted(struct s3 *s, const unsigned char *data)
{
	char key[S3_KEY_MAX], id[S3_UPLOAD_ID_MAX], name[64], etag[S3_ETAG_MAX];
	struct s3_error e;
	struct found f = { id, 0, 0 };

	snprintf(name, sizeof(name), "client-test/%d/aborted", (int)getpid());
	s3_key(s, name, key);
	CHECK_INT(s3_multipart_start(s, key, id, &e), 0);
	CHECK_INT(s3_multipart_part(s, key, id, 1, data, 1000, etag, &e), 0);
	CHECK_INT(s3_multipart_abort(s, key, id, &e), 0);
	CHECK_INT(s3_multipart_list(s, key, count, &f, &e), 0);
	CHECK_INT(f.n, 0);
	/* parts of an upload that is gone */
	CHECK_INT(s3_multipart_part(s, key, id, 2, data, 1000, etag, &e), -ENOENT);
	CHECK_STR(e.code, "NoSuchUpload");
	CHECK_INT(s3_multipart_abort(s, key, id, &e), 0); /* twice is fine */
}

static void small(struct s3 *s)
{
	char key[S3_KEY_MAX], name[64];
	unsigned char buf[64];
	struct sink k = { buf, 0, sizeof(buf) };
	struct s3_error e;
	uint64_t size = 1;

	/* a name that needs encoding */
	snprintf(name, sizeof(name), "client-test/%d/a b+c&d%%e~", (int)getpid());
	s3_key(s, name, key);
	CHECK_INT(s3_put(s, key, "hello", 5, &e), 0);
	CHECK_INT(s3_get(s, key, 0, 0, collect, &k, &e), 0);
	CHECK(k.len == 5 && !memcmp(buf, "hello", 5));
	CHECK_INT(s3_delete(s, key, &e), 0);
	CHECK_INT(s3_put(s, key, "", 0, &e), 0);
	CHECK_INT(s3_head(s, key, &size, &e), 0);
	CHECK_INT(size, 0);
	CHECK_INT(s3_delete(s, key, &e), 0);
}

static void refused(const struct s3_config *good)
{
	struct s3_config c = *good;
	struct s3 *s;
	struct s3_error e;
	char id[S3_UPLOAD_ID_MAX];
	time_t t0;

	/* a wrong secret: refused at once, not tried again */
	gw_strlcpy(c.secret_key, "not-the-secret", sizeof(c.secret_key));
	CHECK_INT(s3_new(&c, &s), 0);
	t0 = time(NULL);
	CHECK_INT(s3_multipart_start(s, "client-test/refused", id, &e), -EACCES);
	CHECK_INT(e.status, 403);
	CHECK_STR(e.code, "SignatureDoesNotMatch");
	CHECK(time(NULL) - t0 < 5);
	s3_free(s);
	/* nobody there: tried again, then -EIO without a status */
	c = *good;
	gw_strlcpy(c.endpoint, "http://127.0.0.1:9", sizeof(c.endpoint));
	CHECK_INT(s3_new(&c, &s), 0);
	CHECK_INT(s3_multipart_start(s, "client-test/nobody", id, &e), -EIO);
	CHECK_INT(e.status, 0);
	CHECK(e.message[0] != '\0');
	s3_free(s);
}

int main(void)
{
	const char *env = getenv("FTPSGATE_TEST_S3");
	struct s3_config c;
	struct s3 *s;
	size_t total = 6 * MiB + 7, i;
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	unsigned char *data;

	if (!env || !*env) {
		printf("test_s3_client: skipped (FTPSGATE_TEST_S3 names no server)\n");
		return 0;
	}
	if (load_env(env) < 0 || setup(&c) < 0) {
		fprintf(stderr, "test_s3_client: cannot read the server's settings from %s\n", env);
		return 1;
	}
	data = malloc(total);
	for (i = 0; i < total; i++) { /* xorshift: bytes that differ everywhere */
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		data[i] = (unsigned char)seed;
	}
	CHECK_INT(s3_new(&c, &s), 0);
	multipart(s, data, total);
	aborted(s, data);
	small(s);
	s3_free(s);
	refused(&c);
	free(data);
	return check_report("test_s3_client");
}
