/* The S3 client and the S3 bytes backend against a real S3-compatible
 * server: the one scripts/s3-local.sh starts (OpenStack Swift's S3 API
 * from Debian), named by FTPSGATE_TEST_S3, the file of its KEY=VALUE
 * lines. Multipart uploads, ranged reads, listing and aborting, deletes,
 * what each refusal comes back as; an upload's bytes kept part by part
 * on one "node" and resumed on another that shares its journal. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "gw.h"
#include "s3.h"
#include "store_bytes.h"

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

/* ---------------------------------------------------------------- the bytes backend */

/* The journal the records store keeps, here in memory: shared by the
 * two "nodes" below as the database would be. */
struct journal {
	pthread_mutex_t lock; /* the senders write at once */
	int64_t id;
	char upload_id[S3_UPLOAD_ID_MAX];
	struct store_bytes_part parts[16];
	unsigned n;
	int confirmed_calls;
};

static int j_begun(void *arg, int64_t id, const char *upload_id)
{
	struct journal *j = arg;

	pthread_mutex_lock(&j->lock);
	j->id = id;
	gw_strlcpy(j->upload_id, upload_id, sizeof(j->upload_id));
	j->n = 0;
	pthread_mutex_unlock(&j->lock);
	return 0;
}

static int j_confirmed(void *arg, int64_t id, const struct store_bytes_part *part)
{
	struct journal *j = arg;

	int r = 0;

	pthread_mutex_lock(&j->lock);
	if (id != j->id || part->number < 1 || part->number > 16) {
		r = -EINVAL;
	} else {
		j->parts[part->number - 1] = *part;
		if (part->number > j->n)
			j->n = part->number;
		j->confirmed_calls++;
	}
	pthread_mutex_unlock(&j->lock);
	return r;
}

static int j_load(void *arg, int64_t id, char *upload_id, size_t size,
		  struct store_bytes_part *parts, unsigned max, unsigned *n)
{
	struct journal *j = arg;
	unsigned i;

	pthread_mutex_lock(&j->lock);
	if (id != j->id) {
		pthread_mutex_unlock(&j->lock);
		return -ENOENT;
	}
	gw_strlcpy(upload_id, j->upload_id, size);
	for (i = 0; i < j->n && i < max; i++)
		parts[i] = j->parts[i];
	*n = i;
	pthread_mutex_unlock(&j->lock);
	return 0;
}

static int j_trim(void *arg, int64_t id, unsigned number)
{
	struct journal *j = arg;

	pthread_mutex_lock(&j->lock);
	if (id == j->id && number < j->n)
		j->n = number;
	pthread_mutex_unlock(&j->lock);
	return 0;
}

static int read_all(struct store_bytes *b, int64_t id, unsigned char *out, size_t cap, size_t *len)
{
	struct store_bytes_reader *rd;
	ssize_t n;
	int r = b->ops->open_read(b, id, 0, &rd);

	*len = 0;
	if (r < 0)
		return r;
	/* odd sizes, across the reader's spans */
	while ((n = b->ops->read(rd, out + *len, cap - *len < 3 * MiB + 5 ? cap - *len
							     : 3 * MiB + 5)) > 0)
		*len += (size_t)n;
	b->ops->close_read(rd);
	return n < 0 ? (int)n : 0;
}

static bool wants(void *arg, int64_t id, const char *upload_id)
{
	(void)upload_id;
	return id == *(const int64_t *)arg;
}

struct listed {
	const char *prefix;
	int n;
};

static void under(void *arg, const char *key, const char *upload_id, int64_t initiated_ms)
{
	struct listed *l = arg;

	(void)upload_id;
	(void)initiated_ms;
	if (!strncmp(key, l->prefix, strlen(l->prefix)))
		l->n++;
}

/* Abandoned multipart uploads: those not wanted, begun before the
 * cutoff, are aborted; a wanted one and recent ones stay. */
static void sweep(const struct s3_config *base, const struct store_bytes_journal *jo, int64_t first)
{
	struct s3_config c = *base;
	struct store_bytes_s3_params p = { 5 * MiB, 2, 2 };
	struct store_bytes *a;
	struct s3 *s;
	struct store_bytes_writer *w;
	struct s3_error e;
	char key[S3_KEY_MAX], id[S3_UPLOAD_ID_MAX], prefix[S3_KEY_MAX];
	int64_t keep = first;
	unsigned aborted = 9;
	struct listed l = { prefix, 0 };

	/* a prefix of its own: a sweep takes whatever is under it */
	{
		size_t n = strlen(c.prefix);

		CHECK(n + 20 < sizeof(c.prefix));
		snprintf(c.prefix + n, sizeof(c.prefix) - n, "/sweep-%d", (int)getpid());
	}
	CHECK_INT(s3_new(&c, &s), 0);
	CHECK_INT(store_bytes_s3_new(s, jo, &p, &a), 0);
	CHECK_INT(a->ops->create(a, first, &w), 0);
	CHECK_INT(a->ops->append(w, "x", 1), 0);
	a->ops->close(w); /* neither completed nor kept: left in the store */
	CHECK_INT(a->ops->create(a, first + 1, &w), 0);
	a->ops->close(w);
	s3_key(s, "not-an-upload", key); /* under the prefix, names no upload */
	CHECK_INT(s3_multipart_start(s, key, id, &e), 0);
	s3_key(s, "", prefix);
	CHECK_INT(store_bytes_s3_sweep(a, (int64_t)(time(NULL) - 3600) * 1000, wants, &keep, &aborted),
		  0);
	CHECK_INT(aborted, 0); /* all recent */
	CHECK_INT(store_bytes_s3_sweep(a, (int64_t)(time(NULL) + 3600) * 1000, wants, &keep, &aborted),
		  0);
	CHECK_INT(aborted, 2);
	CHECK_INT(s3_multipart_list(s, prefix, under, &l, &e), 0);
	CHECK_INT(l.n, 1);
	keep = 0; /* no longer wanted (its upload was purged, say) */
	CHECK_INT(store_bytes_s3_sweep(a, (int64_t)(time(NULL) + 3600) * 1000, wants, &keep, &aborted),
		  0);
	CHECK_INT(aborted, 1);
	l.n = 0;
	CHECK_INT(s3_multipart_list(s, prefix, under, &l, &e), 0);
	CHECK_INT(l.n, 0);
	a->ops->free(a);
	s3_free(s);
}

/* The store down: scripts/s3-local.sh stops and starts its proxy. */
/* The store made unreachable and reachable again: a relay of this
 * test's own in front of it (tests/relay.py), stopped and started on the
 * same port, so that other tests using the store at the same time go on. */
static pid_t relay_pid = -1;
static unsigned relay_port;
static char relay_target[128];

/* A free loopback port (0 on failure). */
static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Start the relay on relay_port (chosen when 0) and wait until it takes
 * connections. */
static int relay_start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char port[16];
	int i;

	if (!relay_port && !(relay_port = free_port()))
		return -1;
	snprintf(port, sizeof(port), "%u", relay_port);
	relay_pid = fork();
	if (relay_pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execlp("python3", "python3", FTPSGATE_SOURCE_DIR "/tests/relay.py", port, relay_target,
		       (char *)NULL);
		_exit(127);
	}
	if (relay_pid < 0)
		return -1;
	a.sin_port = htons((uint16_t)relay_port);
	for (i = 0; i < 200; i++) { /* 10 s */
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&a, sizeof(a));

		if (fd >= 0)
			close(fd);
		if (r == 0)
			return 0;
		usleep(50 * 1000);
	}
	return -1;
}

static void relay_stop(void)
{
	if (relay_pid > 0) {
		kill(relay_pid, SIGTERM);
		waitpid(relay_pid, NULL, 0);
	}
	relay_pid = -1;
}

static int run_proxy(const char *what)
{
	if (!strcmp(what, "pause")) {
		relay_stop();
		return 0;
	}
	return relay_start();
}

static void proxy(const char *what)
{
	CHECK_INT(run_proxy(what), 0);
}

/* (checked by the thread that joins it: the checks count in one thread) */
static void *resume_later(void *arg)
{
	int *status = arg;

	usleep(1000 * 1000);
	*status = run_proxy("resume");
	return NULL;
}

/* Parts sent while the store is away: tried again until it is back; past
 * the tries, the upload keeps the parts confirmed before, and goes on
 * from them once the store answers again. */
static void outage(const struct s3_config *base, const struct store_bytes_journal *jo,
		   const unsigned char *data, int64_t id)
{
	struct s3_config c = *base;
	struct store_bytes_s3_params p = { 5 * MiB, 2, 2 };
	struct store_bytes *b, *brief;
	struct store_bytes_writer *w;
	struct s3 *patient, *impatient;
	pthread_t t;
	uint64_t kept = 0, size = 0;
	int resumed = -1;

	/* through a relay of its own */
	gw_strlcpy(relay_target, strstr(base->endpoint, "://") + 3, sizeof(relay_target));
	relay_port = 0;
	CHECK_INT(relay_start(), 0);
	snprintf(c.endpoint, sizeof(c.endpoint), "http://127.0.0.1:%u", relay_port);
	c.retries = 11; /* 50 ms doubling to 5 s: some 25 s */
	c.backoff_ms = 50;
	CHECK_INT(s3_new(&c, &patient), 0);
	CHECK_INT(store_bytes_s3_new(patient, jo, &p, &b), 0);
	c.retries = 1;
	CHECK_INT(s3_new(&c, &impatient), 0);
	CHECK_INT(store_bytes_s3_new(impatient, jo, &p, &brief), 0);
	/* away for a while: the part waits it out */
	CHECK_INT(b->ops->create(b, id, &w), 0);
	CHECK_INT(b->ops->append(w, data, 5 * MiB), 0);
	CHECK_INT(b->ops->keep(w, &kept), 0);
	CHECK_INT(kept, 5 * MiB);
	proxy("pause");
	CHECK_INT(pthread_create(&t, NULL, resume_later, &resumed), 0);
	CHECK_INT(b->ops->append(w, data + 5 * MiB, 5 * MiB), 0);
	CHECK_INT(b->ops->keep(w, &kept), 0);
	CHECK_INT(kept, 10 * MiB);
	pthread_join(t, NULL);
	CHECK_INT(resumed, 0);
	b->ops->close(w);
	/* away for longer than the tries: what was confirmed stays */
	CHECK_INT(brief->ops->resume(brief, id, 10 * MiB, &w), 0);
	proxy("pause");
	CHECK_INT(brief->ops->append(w, data + 10 * MiB, 5 * MiB), 0);
	CHECK_INT(brief->ops->keep(w, &kept), 0);
	CHECK_INT(kept, 10 * MiB);
	CHECK_INT(brief->ops->append(w, data, 1), -EIO);
	brief->ops->close(w);
	CHECK_INT(brief->ops->create(brief, id + 1, &w), -EIO); /* nothing new meanwhile */
	proxy("resume");
	/* and on from there once it is back */
	CHECK_INT(b->ops->resume(b, id, 10 * MiB, &w), 0);
	CHECK_INT(b->ops->append(w, data + 10 * MiB, 5 * MiB + 3), 0);
	CHECK_INT(b->ops->commit(w), 0);
	b->ops->close(w);
	CHECK_INT(b->ops->size(b, id, &size), 0);
	CHECK_INT(size, 15 * MiB + 3);
	CHECK_INT(b->ops->remove(b, id), 0);
	b->ops->free(b);
	brief->ops->free(brief);
	s3_free(patient);
	s3_free(impatient);
	relay_stop();
}

static void bytes_backend(const struct s3_config *c, const unsigned char *data, size_t total)
{
	struct journal j = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct store_bytes_journal jo = { &j, j_begun, j_confirmed, j_load, j_trim };
	struct store_bytes_s3_params p = { 5 * MiB, 2, 4 };
	struct s3 *sa, *sb;
	struct store_bytes *a, *b;
	struct store_bytes_writer *w;
	unsigned char *got = malloc(total + 1);
	int64_t id = 1000000 + getpid();
	uint64_t kept = 0, size = 0;
	size_t len = 0, i;

	CHECK_INT(s3_new(c, &sa), 0);
	CHECK_INT(s3_new(c, &sb), 0);
	CHECK_INT(store_bytes_s3_new(sa, &jo, &p, &a), 0);
	CHECK_INT(store_bytes_s3_new(sb, &jo, &p, &b), 0);
	p.part_bytes = 1 * MiB;
	CHECK_INT(store_bytes_s3_new(sa, &jo, &p, &(struct store_bytes *){ NULL }), -EINVAL);
	/* node a: 13 MiB + 3 in odd pieces; the transfer breaks there */
	CHECK_INT(a->ops->create(a, id, &w), 0);
	for (i = 0; i < 13 * MiB + 3; i += 1 * MiB + 7) {
		size_t n = 13 * MiB + 3 - i < 1 * MiB + 7 ? 13 * MiB + 3 - i : 1 * MiB + 7;

		CHECK_INT(a->ops->append(w, data + i, n), 0);
	}
	/* kept: two parts of 5 MiB; the 3 MiB + 3 after them are not a part */
	CHECK_INT(a->ops->keep(w, &kept), 0);
	CHECK_INT(kept, 10 * MiB);
	a->ops->close(w);
	pthread_mutex_lock(&j.lock);
	CHECK_INT(j.n, 2);
	CHECK_INT(j.confirmed_calls, 2);
	pthread_mutex_unlock(&j.lock);
	/* what is there so far, on either node */
	CHECK_INT(b->ops->size(b, id, &size), 0);
	CHECK_INT(size, 10 * MiB);
	/* node b resumes there, and only there */
	CHECK_INT(b->ops->resume(b, id, 10 * MiB + 1, &w), -ERANGE);
	CHECK_INT(b->ops->resume(b, id, 5 * MiB, &w), -ERANGE);
	CHECK_INT(b->ops->resume(b, id + 1, 0, &w), -ENOENT);
	CHECK_INT(b->ops->resume(b, id, 10 * MiB, &w), 0);
	CHECK_INT(b->ops->append(w, data + 10 * MiB, total - 10 * MiB), 0);
	CHECK_INT(b->ops->commit(w), 0);
	b->ops->close(w);
	CHECK_INT(a->ops->size(a, id, &size), 0);
	CHECK_INT(size, total);
	/* read back on a, whole and exact */
	CHECK_INT(read_all(a, id, got, total + 1, &len), 0);
	CHECK_INT(len, total);
	CHECK(len == total && !memcmp(got, data, total));
	CHECK_INT(a->ops->remove(a, id), 0);
	CHECK_INT(a->ops->size(a, id, &size), 0); /* the journal still has its parts */
	CHECK_INT(a->ops->open_read(a, id, 0, &(struct store_bytes_reader *){ NULL }), -ENOENT);
	/* an empty upload is an empty object */
	CHECK_INT(a->ops->create(a, id + 1, &w), 0);
	CHECK_INT(a->ops->commit(w), 0);
	a->ops->close(w);
	CHECK_INT(read_all(b, id + 1, got, total, &len), 0);
	CHECK_INT(len, 0);
	CHECK_INT(b->ops->remove(b, id + 1), 0);
	/* a part the store refuses: the upload keeps what was confirmed */
	{
		struct s3_config bad = *c;
		struct s3 *sx;
		struct store_bytes *x;

		CHECK_INT(a->ops->create(a, id + 2, &w), 0);
		CHECK_INT(a->ops->append(w, data, 5 * MiB), 0);
		CHECK_INT(a->ops->keep(w, &kept), 0);
		CHECK_INT(kept, 5 * MiB);
		a->ops->close(w);
		gw_strlcpy(bad.secret_key, "wrong", sizeof(bad.secret_key));
		CHECK_INT(s3_new(&bad, &sx), 0);
		p.part_bytes = 5 * MiB;
		CHECK_INT(store_bytes_s3_new(sx, &jo, &p, &x), 0);
		CHECK_INT(x->ops->resume(x, id + 2, 5 * MiB, &w), 0);
		CHECK_INT(x->ops->append(w, data, 5 * MiB), 0); /* sent in the background */
		CHECK_INT(x->ops->keep(w, &kept), 0);
		CHECK_INT(kept, 5 * MiB);
		CHECK_INT(x->ops->append(w, data, 1), -EACCES);
		CHECK_INT(x->ops->commit(w), -EACCES);
		x->ops->close(w);
		x->ops->free(x);
		s3_free(sx);
		CHECK_INT(a->ops->remove(a, id + 2), 0);
	}
	sweep(c, &jo, id + 10);
	outage(c, &jo, data, id + 20);
	a->ops->free(a);
	b->ops->free(b);
	s3_free(sa);
	s3_free(sb);
	free(got);
}

int main(void)
{
	const char *env = getenv("FTPSGATE_TEST_S3");
	struct s3_config c;
	struct s3 *s;
	size_t total = 17 * MiB + 7, i;
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
	multipart(s, data, 6 * MiB + 7);
	aborted(s, data);
	small(s);
	s3_free(s);
	refused(&c);
	bytes_backend(&c, data, total);
	free(data);
	return check_report("test_s3_client");
}
