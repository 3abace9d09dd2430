/* s3.c - requests to S3-compatible object storage through libcurl.
 *
 * Each request is signed by libcurl (CURLOPT_AWS_SIGV4). libcurl 7.88
 * signs the query as written and does not hash the payload into
 * x-amz-content-sha256, so every URL here is built in canonical form
 * (parameters sorted, each with '=', values encoded as SigV4 wants) and
 * the payload's SHA-256 is sent by us. Easy handles are kept in a small
 * pool, each with its connections, so parts reuse TLS sessions.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "s3.h"
#include "store_int.h"

#define HANDLES_KEPT 16
#define ANSWER_MAX (1u << 20) /* an XML answer or an error's body */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3 {
	struct s3_config c;
	char sigv4[96];
	pthread_mutex_t lock; /* guards kept */
	CURL *kept[HANDLES_KEPT];
	unsigned n_kept;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_ready;

static void curl_start(void)
{
	curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---------------------------------------------------------------- configuration */

int s3_config_parse_url(const char *url, struct s3_config *c, char *err, size_t err_size)
{
	const char *b, *slash;
	size_t n;

	if (strncmp(url, "s3://", 5) != 0) {
		snprintf(err, err_size, "storage_url '%s' is not s3://BUCKET[/PREFIX]", url);
		return -EINVAL;
	}
	b = url + 5;
	slash = strchr(b, '/');
	n = slash ? (size_t)(slash - b) : strlen(b);
	/* S3's bucket names: 3-63 of a-z 0-9 . - (what other stores take too) */
	if (n < 3 || n >= sizeof(c->bucket) ||
	    strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") < n) {
		snprintf(err, err_size,
			 "storage_url '%s': the bucket name must be 3 to 63 of"
			 " a-z, 0-9, '.' and '-'",
			 url);
		return -EINVAL;
	}
	memcpy(c->bucket, b, n);
	c->bucket[n] = '\0';
	c->prefix[0] = '\0';
	if (slash) {
		const char *p = slash + 1;
		size_t m = strlen(p);

		while (m && p[m - 1] == '/')
			m--;
		if (m >= sizeof(c->prefix) || memchr(p, '\\', m) || (m && p[0] == '/')) {
			snprintf(err, err_size,
				 "storage_url '%s': the key prefix must be under %zu"
				 " bytes, without '\\' or '//'",
				 url, sizeof(c->prefix));
			return -EINVAL;
		}
		memcpy(c->prefix, p, m);
		c->prefix[m] = '\0';
		for (n = 0; n < m; n++) {
			if ((unsigned char)c->prefix[n] < 0x20 ||
			    (c->prefix[n] == '/' && n + 1 < m && c->prefix[n + 1] == '/')) {
				snprintf(err, err_size,
					 "storage_url '%s': the key prefix must be"
					 " printable, without '//'",
					 url);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* "key = value" lines of [profile] in the credentials file. */
static int read_credentials_file(struct s3_config *c, const char *path, const char *profile,
				 char *err, size_t err_size)
{
	FILE *f = fopen(path, "re");
	char line[4200];
	bool in = false, any = false;

	if (!f) {
		snprintf(err, err_size,
			 "no S3 credentials: AWS_ACCESS_KEY_ID is not set and"
			 " '%s' cannot be read: %s",
			 path, strerror(errno));
		return -ENOENT;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *eq, *k_end, *v;
		size_t n = strcspn(line, "\r\n");

		line[n] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '[') {
			char *close = strchr(p, ']');

			if (close)
				*close = '\0';
			in = close && !strcmp(p + 1, profile);
			continue;
		}
		if (!in || *p == '#' || *p == ';' || !(eq = strchr(p, '=')))
			continue;
		for (k_end = eq; k_end > p && (k_end[-1] == ' ' || k_end[-1] == '\t'); k_end--)
			;
		*k_end = '\0';
		for (v = eq + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (n = strlen(v); n && (v[n - 1] == ' ' || v[n - 1] == '\t'); n--)
			v[n - 1] = '\0';
		if (!strcmp(p, "aws_access_key_id"))
			any |= gw_strlcpy(c->access_key, v, sizeof(c->access_key)) == 0;
		else if (!strcmp(p, "aws_secret_access_key"))
			gw_strlcpy(c->secret_key, v, sizeof(c->secret_key));
		else if (!strcmp(p, "aws_session_token"))
			gw_strlcpy(c->session_token, v, sizeof(c->session_token));
	}
	fclose(f);
	explicit_bzero(line, sizeof(line));
	if (!any || !c->secret_key[0]) {
		snprintf(err, err_size, "no S3 credentials for profile '%s' in '%s'", profile,
			 path);
		return -ENOENT;
	}
	return 0;
}

int s3_config_credentials(struct s3_config *c, char *err, size_t err_size)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN"), *file, *profile, *home;
	char path[512];

	if (id && *id) {
		if (!secret || !*secret) {
			snprintf(err, err_size,
				 "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
			return -EINVAL;
		}
		if (gw_strlcpy(c->access_key, id, sizeof(c->access_key)) < 0 ||
		    gw_strlcpy(c->secret_key, secret, sizeof(c->secret_key)) < 0 ||
		    gw_strlcpy(c->session_token, token ? token : "", sizeof(c->session_token)) <
			0) {
			snprintf(err, err_size, "an S3 credential is longer than this build takes");
			return -EINVAL;
		}
		return 0;
	}
	file = getenv("AWS_SHARED_CREDENTIALS_FILE");
	profile = getenv("AWS_PROFILE");
	home = getenv("HOME");
	if (file && *file)
		gw_strlcpy(path, file, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s/.aws/credentials", home && *home ? home : "");
	return read_credentials_file(c, path, profile && *profile ? profile : "default", err,
				     err_size);
}

/* ---------------------------------------------------------------- URLs */

/* SigV4's URI encoding: all but A-Z a-z 0-9 - . _ ~ as %XX (and '/' kept
 * in a path). */
static int add_encoded(struct gw_buf *b, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
		    (keep_slash && ch == '/')) {
			if (gw_buf_add(b, s, 1) < 0)
				return -ENOMEM;
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};

			if (gw_buf_add(b, e, 3) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

/* The request's URL: the object's (key "" : the bucket's), then query,
 * already canonical. */
static int make_url(const struct s3 *s, const char *key, const char *query, struct gw_buf *url)
{
	const char *host = strstr(s->c.endpoint, "://");
	size_t scheme = host ? (size_t)(host - s->c.endpoint) + 3 : 0;

	if (s->c.virtual_host) {
		gw_buf_add(url, s->c.endpoint, scheme);
		gw_buf_adds(url, s->c.bucket);
		gw_buf_adds(url, ".");
		gw_buf_adds(url, s->c.endpoint + scheme);
		gw_buf_adds(url, "/");
	} else {
		gw_buf_adds(url, s->c.endpoint);
		gw_buf_adds(url, "/");
		gw_buf_adds(url, s->c.bucket);
		gw_buf_adds(url, "/");
	}
	if (add_encoded(url, key, true) < 0)
		return -ENOMEM;
	if (query && *query) {
		gw_buf_adds(url, "?");
		gw_buf_adds(url, query);
	}
	return url->data ? 0 : -ENOMEM;
}

void s3_key(const struct s3 *s, const char *name, char key[S3_KEY_MAX])
{
	snprintf(key, S3_KEY_MAX, "%s%s%s", s->c.prefix, s->c.prefix[0] ? "/" : "", name);
}

/* ---------------------------------------------------------------- requests */

struct request {
	const char *method;
	const char *key;
	const char *query; /* canonical */
	const void *body;
	size_t body_len;
	const char *content_type;
	uint64_t range_from, range_len; /* GET: range_len 0 and from 0: all */
	bool ranged;
	s3_sink_fn *sink; /* a 2xx GET's bytes */
	void *sink_arg;
	bool sent_range; /* this try asked for a range: 206 or nothing */
	/* answers */
	long status;
	struct gw_buf answer; /* a non-2xx body, or an XML answer */
	char etag[S3_ETAG_MAX];
	uint64_t length;    /* Content-Length */
	uint64_t delivered; /* bytes given to sink */
	int sink_error;
};

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct request *q = arg;
	size_t len = size * n, v, e;

	if (len > 5 && !strncasecmp(p, "HTTP/", 5)) {
		q->etag[0] = '\0'; /* a new answer (after 100 Continue, a redirect) */
		return len;
	}
	if (len > 5 && !strncasecmp(p, "ETag:", 5)) {
		for (v = 5; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
			;
		for (e = len; e > v && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' ');
		     e--)
			;
		if (e - v < sizeof(q->etag)) {
			memcpy(q->etag, p + v, e - v);
			q->etag[e - v] = '\0';
		}
	} else if (len > 15 && !strncasecmp(p, "Content-Length:", 15)) {
		q->length = strtoull(p + 15, NULL, 10);
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct request *q = arg;
	size_t len = size * n;

	if (q->sink && q->status / 100 == 2) {
		int r;

		if (q->sent_range && q->status != 206) {
			/* the whole object where a range was asked: not what
			 * goes after the bytes already read */
			q->sink_error = -EIO;
			return 0;
		}
		r = q->sink(q->sink_arg, p, len);

		if (r < 0) {
			q->sink_error = r;
			return 0; /* stops the transfer */
		}
		q->delivered += len;
		return len;
	}
	if (gw_buf_add(&q->answer, p, len) < 0)
		return 0;
	return len;
}

/* The status is known once the headers are: on_body needs it. */
static size_t on_body_first(char *p, size_t size, size_t n, void *arg);

static CURL *take_handle(struct s3 *s)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->n_kept)
		h = s->kept[--s->n_kept];
	pthread_mutex_unlock(&s->lock);
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	return h;
}

static void give_handle(struct s3 *s, CURL *h, bool keep)
{
	pthread_mutex_lock(&s->lock);
	if (keep && s->n_kept < HANDLES_KEPT) {
		s->kept[s->n_kept++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (h)
		curl_easy_cleanup(h);
}

struct with_handle {
	struct request *q;
	CURL *h;
};

static size_t on_body_first(char *p, size_t size, size_t n, void *arg)
{
	struct with_handle *w = arg;

	if (!w->q->status)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->q->status);
	return on_body(p, size, n, w->q);
}

/* Append a header line; false (the list kept as it was) without memory. */
static bool add_header(struct curl_slist **hs, const char *line)
{
	struct curl_slist *more = curl_slist_append(*hs, line);

	if (!more)
		return false;
	*hs = more;
	return true;
}

/* One try: 0 with q->status set, or a curl failure as -EIO (may pass)
 * or -ENOMEM. */
static int send_once(struct s3 *s, struct request *q, char *why, size_t why_size)
{
	struct gw_buf url;
	struct curl_slist *hs = NULL;
	char line[4200], sha[65];
	struct with_handle w = {q, NULL};
	CURLcode cc;
	bool ok;
	int r = 0;

	gw_buf_init(&url, 4096);
	w.h = take_handle(s);
	if (!w.h || make_url(s, q->key, q->query, &url) < 0) {
		r = -ENOMEM;
		goto out;
	}
	q->status = 0;
	q->etag[0] = '\0';
	q->length = 0;
	gw_buf_reset(&q->answer);
	if (q->body_len)
		store_sha256_hex(q->body, q->body_len, sha);
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", q->body_len ? sha : EMPTY_SHA256);
	ok = add_header(&hs, line);
	if (s->c.session_token[0]) {
		snprintf(line, sizeof(line), "x-amz-security-token: %s", s->c.session_token);
		ok = ok && add_header(&hs, line);
	}
	/* (a header removed with "Name:" would be signed by libcurl 7.88,
	 * empty, yet not sent: none is) */
	if (q->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", q->content_type);
		ok = ok && add_header(&hs, line);
	}
	q->sent_range = q->ranged || q->delivered; /* a retry goes on after what was read */
	if (q->sent_range) {
		uint64_t from = q->range_from + q->delivered;

		if (q->range_len)
			snprintf(line, sizeof(line), "Range: bytes=%llu-%llu",
				 (unsigned long long)from,
				 (unsigned long long)(q->range_from + q->range_len - 1));
		else
			snprintf(line, sizeof(line), "Range: bytes=%llu-",
				 (unsigned long long)from);
		ok = ok && add_header(&hs, line);
	}
	if (!ok) {
		r = -ENOMEM;
		goto out;
	}
	curl_easy_setopt(w.h, CURLOPT_URL, gw_buf_str(&url));
	curl_easy_setopt(w.h, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(w.h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(w.h, CURLOPT_USERNAME, s->c.access_key);
	curl_easy_setopt(w.h, CURLOPT_PASSWORD, s->c.secret_key);
	curl_easy_setopt(w.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w.h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(w.h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(w.h, CURLOPT_TIMEOUT_MS, (long)s->c.timeout_ms);
	curl_easy_setopt(w.h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	/* a stalled transfer fails in 30 s, whatever the whole may take */
	curl_easy_setopt(w.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(w.h, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(w.h, CURLOPT_SSL_VERIFYPEER, s->c.insecure ? 0L : 1L);
	curl_easy_setopt(w.h, CURLOPT_SSL_VERIFYHOST, s->c.insecure ? 0L : 2L);
	if (s->c.ca_file[0])
		curl_easy_setopt(w.h, CURLOPT_CAINFO, s->c.ca_file);
	curl_easy_setopt(w.h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(w.h, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(w.h, CURLOPT_WRITEFUNCTION, on_body_first);
	curl_easy_setopt(w.h, CURLOPT_WRITEDATA, &w);
	if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(w.h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "GET")) {
		curl_easy_setopt(w.h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(w.h, CURLOPT_CUSTOMREQUEST, q->method);
		curl_easy_setopt(w.h, CURLOPT_POSTFIELDS, q->body_len ? q->body : "");
		curl_easy_setopt(w.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
	}
	cc = curl_easy_perform(w.h);
	if (!q->status)
		curl_easy_getinfo(w.h, CURLINFO_RESPONSE_CODE, &q->status);
	if (q->sink_error) {
		r = q->sink_error;
		snprintf(why, why_size, "the reader stopped: %s", strerror(-r));
	} else if (cc != CURLE_OK) {
		r = cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
		snprintf(why, why_size, "%s", curl_easy_strerror(cc));
		q->status = 0;
	}
out:
	curl_slist_free_all(hs);
	if (w.h)
		give_handle(s, w.h, r == 0);
	gw_buf_release(&url);
	return r;
}

static bool passes(const struct request *q, const struct s3_error *e)
{
	return q->status == 0 || q->status >= 500 || q->status == 408 || q->status == 429 ||
	       !strcmp(e->code, "SlowDown") || !strcmp(e->code, "InternalError") ||
	       !strcmp(e->code, "RequestTimeout");
}

static void read_error(const struct request *q, struct s3_error *e)
{
	const char *xml = q->answer.data ? q->answer.data : "";
	size_t pos = 0;

	e->status = q->status;
	e->code[0] = e->message[0] = '\0';
	if (s3_xml_text(xml, q->answer.len, &pos, "Code", e->code, sizeof(e->code)) < 0)
		e->code[0] = '\0';
	pos = 0;
	if (s3_xml_text(xml, q->answer.len, &pos, "Message", e->message, sizeof(e->message)) < 0)
		e->message[0] = '\0';
}

/* A request, tried again while its failure may pass. ok(status) says
 * which answers succeed. */
static int perform(struct s3 *s, struct request *q, struct s3_error *err)
{
	struct s3_error e = {0};
	unsigned attempt, wait_ms = s->c.backoff_ms ? s->c.backoff_ms : 200;
	char why[256] = "";
	int r = -EIO;

	for (attempt = 0; attempt <= s->c.retries; attempt++) {
		if (attempt) {
			usleep(wait_ms * 1000u);
			wait_ms = wait_ms * 2 > 5000 ? 5000 : wait_ms * 2;
		}
		why[0] = '\0';
		r = send_once(s, q, why, sizeof(why));
		if (r == -ENOMEM || (r < 0 && q->sink_error))
			break;
		memset(&e, 0, sizeof(e));
		if (r == 0 && q->status / 100 == 2) {
			/* CompleteMultipartUpload may fail after its 200 */
			size_t pos = 0, start, end;
			const char *xml = q->answer.data ? q->answer.data : "";

			if (q->sink || !q->answer.len ||
			    s3_xml_element(xml, q->answer.len, &pos, "Error", &start, &end) < 0)
				return 0;
			read_error(q, &e);
			if (!strcmp(e.code, "InternalError") || !strcmp(e.code, "SlowDown"))
				continue;
			r = -EIO;
			break;
		}
		if (r == 0)
			read_error(q, &e);
		else
			snprintf(e.message, sizeof(e.message), "%s", why);
		if (r == 0 && !passes(q, &e))
			break;
		/* a read that got some bytes goes on from the next one */
		gw_debug("s3.retry", "%s '%s': %ld %s %s; try %u of %u", q->method, q->key,
			 q->status, e.code, e.message, attempt + 1, s->c.retries + 1);
		r = -EIO;
	}
	if (r == 0) {
		switch (q->status) {
		case 403:
			r = -EACCES;
			break;
		case 404:
			r = -ENOENT;
			break;
		case 400:
		case 409:
		case 411:
		case 412:
		case 416:
			r = -EINVAL;
			break;
		default:
			r = -EIO;
		}
	}
	if (err)
		*err = e;
	return r;
}

static void request_init(struct request *q, const char *method, const char *key, const char *query)
{
	memset(q, 0, sizeof(*q));
	q->method = method;
	q->key = key;
	q->query = query;
	gw_buf_init(&q->answer, ANSWER_MAX);
}

/* ---------------------------------------------------------------- operations */

int s3_new(const struct s3_config *c, struct s3 **out)
{
	struct s3 *s;

	pthread_once(&curl_once, curl_start);
	if (curl_ready != CURLE_OK)
		return -EIO;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->c = *c;
	if (!s->c.timeout_ms)
		s->c.timeout_ms = 300000;
	snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3",
		 c->region[0] ? c->region : "us-east-1");
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
}

void s3_free(struct s3 *s)
{
	unsigned i;

	if (!s)
		return;
	for (i = 0; i < s->n_kept; i++)
		curl_easy_cleanup(s->kept[i]);
	pthread_mutex_destroy(&s->lock);
	explicit_bzero(&s->c, sizeof(s->c));
	free(s);
}

const struct s3_config *s3_config(const struct s3 *s)
{
	return &s->c;
}

int s3_multipart_start(struct s3 *s, const char *key, char upload_id[S3_UPLOAD_ID_MAX],
		       struct s3_error *err)
{
	struct request q;
	size_t pos = 0;
	int r;

	request_init(&q, "POST", key, "uploads=");
	q.content_type = "application/octet-stream"; /* the object's, once complete */
	r = perform(s, &q, err);
	if (r == 0 && s3_xml_text(q.answer.data ? q.answer.data : "", q.answer.len, &pos,
				  "UploadId", upload_id, S3_UPLOAD_ID_MAX) < 0) {
		if (err)
			snprintf(err->message, sizeof(err->message), "no UploadId in the answer");
		r = -EIO;
	}
	gw_buf_release(&q.answer);
	return r;
}

static int upload_query(const char *upload_id, unsigned number, struct gw_buf *b)
{
	if (number)
		gw_buf_addf(b, "partNumber=%u&", number);
	gw_buf_adds(b, "uploadId=");
	return add_encoded(b, upload_id, false) < 0 || !b->data ? -ENOMEM : 0;
}

int s3_multipart_part(struct s3 *s, const char *key, const char *upload_id, unsigned number,
		      const void *buf, size_t len, char etag[S3_ETAG_MAX], struct s3_error *err)
{
	struct request q;
	struct gw_buf query;
	int r;

	if (number < 1 || number > S3_MAX_PARTS)
		return -EINVAL;
	gw_buf_init(&query, 2048);
	r = upload_query(upload_id, number, &query);
	if (r < 0) {
		gw_buf_release(&query);
		return r;
	}
	request_init(&q, "PUT", key, gw_buf_str(&query));
	q.body = buf;
	q.body_len = len;
	r = perform(s, &q, err);
	if (r == 0 && !q.etag[0]) {
		if (err)
			snprintf(err->message, sizeof(err->message), "no ETag for part %u", number);
		r = -EIO;
	}
	if (r == 0)
		gw_strlcpy(etag, q.etag, S3_ETAG_MAX);
	gw_buf_release(&q.answer);
	gw_buf_release(&query);
	return r;
}

/* An ETag as XML text (it holds quotes). */
static void add_xml_text(struct gw_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			gw_buf_adds(b, "&amp;");
			break;
		case '<':
			gw_buf_adds(b, "&lt;");
			break;
		case '>':
			gw_buf_adds(b, "&gt;");
			break;
		case '"':
			gw_buf_adds(b, "&quot;");
			break;
		default:
			gw_buf_add(b, s, 1);
		}
	}
}

int s3_multipart_complete(struct s3 *s, const char *key, const char *upload_id,
			  const struct s3_part *parts, unsigned n, struct s3_error *err)
{
	struct request q;
	struct gw_buf query, body;
	unsigned i;
	int r;

	gw_buf_init(&query, 2048);
	gw_buf_init(&body, (size_t)S3_MAX_PARTS * 160 + 128);
	r = upload_query(upload_id, 0, &query);
	gw_buf_adds(&body, "<CompleteMultipartUpload>");
	for (i = 0; i < n; i++) {
		gw_buf_addf(&body, "<Part><PartNumber>%u</PartNumber><ETag>", parts[i].number);
		add_xml_text(&body, parts[i].etag);
		gw_buf_adds(&body, "</ETag></Part>");
	}
	if (gw_buf_adds(&body, "</CompleteMultipartUpload>") < 0)
		r = -ENOMEM;
	if (r == 0) {
		request_init(&q, "POST", key, gw_buf_str(&query));
		q.body = body.data;
		q.body_len = body.len;
		q.content_type = "application/xml";
		r = perform(s, &q, err);
		gw_buf_release(&q.answer);
	}
	gw_buf_release(&body);
	gw_buf_release(&query);
	return r;
}

int s3_multipart_abort(struct s3 *s, const char *key, const char *upload_id, struct s3_error *err)
{
	struct request q;
	struct gw_buf query;
	int r;

	gw_buf_init(&query, 2048);
	r = upload_query(upload_id, 0, &query);
	if (r == 0) {
		request_init(&q, "DELETE", key, gw_buf_str(&query));
		r = perform(s, &q, err);
		gw_buf_release(&q.answer);
	}
	gw_buf_release(&query);
	return r == -ENOENT ? 0 : r;
}

int s3_put(struct s3 *s, const char *key, const void *buf, size_t len, struct s3_error *err)
{
	struct request q;
	int r;

	request_init(&q, "PUT", key, NULL);
	q.content_type = "application/octet-stream";
	q.body = buf;
	q.body_len = len;
	r = perform(s, &q, err);
	gw_buf_release(&q.answer);
	return r;
}

int s3_get(struct s3 *s, const char *key, uint64_t offset, uint64_t len, s3_sink_fn *fn, void *arg,
	   struct s3_error *err)
{
	struct request q;
	int r;

	request_init(&q, "GET", key, NULL);
	q.ranged = offset || len;
	q.range_from = offset;
	q.range_len = len;
	q.sink = fn;
	q.sink_arg = arg;
	r = perform(s, &q, err);
	/* a range past the end of the object: nothing to read */
	if (r == -EINVAL && q.status == 416)
		r = 0;
	gw_buf_release(&q.answer);
	return r;
}

int s3_head(struct s3 *s, const char *key, uint64_t *size, struct s3_error *err)
{
	struct request q;
	int r;

	request_init(&q, "HEAD", key, NULL);
	r = perform(s, &q, err);
	if (r == 0)
		*size = q.length;
	gw_buf_release(&q.answer);
	return r;
}

int s3_delete(struct s3 *s, const char *key, struct s3_error *err)
{
	struct request q;
	int r;

	request_init(&q, "DELETE", key, NULL);
	r = perform(s, &q, err);
	gw_buf_release(&q.answer);
	return r == -ENOENT ? 0 : r;
}

int s3_multipart_list(struct s3 *s, const char *prefix, s3_upload_fn *fn, void *arg,
		      struct s3_error *err)
{
	char key_marker[S3_KEY_MAX] = "", id_marker[S3_UPLOAD_ID_MAX] = "";
	int r = 0;

	for (;;) {
		struct request q;
		struct gw_buf query;
		char truncated[8] = "";
		size_t pos = 0, start, end;
		const char *xml;

		/* parameters in canonical (sorted) order */
		gw_buf_init(&query, 4096);
		if (key_marker[0]) {
			gw_buf_adds(&query, "key-marker=");
			add_encoded(&query, key_marker, false);
			gw_buf_adds(&query, "&");
		}
		gw_buf_adds(&query, "prefix=");
		add_encoded(&query, prefix, false);
		gw_buf_adds(&query, "&");
		if (id_marker[0]) {
			gw_buf_adds(&query, "upload-id-marker=");
			add_encoded(&query, id_marker, false);
			gw_buf_adds(&query, "&");
		}
		gw_buf_adds(&query, "uploads=");
		request_init(&q, "GET", "", gw_buf_str(&query));
		r = perform(s, &q, err);
		xml = q.answer.data ? q.answer.data : "";
		while (r == 0 &&
		       s3_xml_element(xml, q.answer.len, &pos, "Upload", &start, &end) == 0) {
			char key[S3_KEY_MAX], id[S3_UPLOAD_ID_MAX], when[64];
			size_t p = 0;
			int64_t ms = 0;

			if (s3_xml_text(xml + start, end - start, &p, "Key", key, sizeof(key)) <
				0 ||
			    (p = 0, s3_xml_text(xml + start, end - start, &p, "UploadId", id,
						sizeof(id))) < 0)
				continue;
			p = 0;
			if (s3_xml_text(xml + start, end - start, &p, "Initiated", when,
					sizeof(when)) < 0 ||
			    s3_xml_time(when, &ms) < 0)
				ms = 0;
			fn(arg, key, id, ms);
		}
		pos = 0;
		if (r == 0 &&
		    s3_xml_text(xml, q.answer.len, &pos, "IsTruncated", truncated,
				sizeof(truncated)) == 0 &&
		    !strcmp(truncated, "true")) {
			size_t p1 = 0, p2 = 0;

			if (s3_xml_text(xml, q.answer.len, &p1, "NextKeyMarker", key_marker,
					sizeof(key_marker)) < 0 ||
			    s3_xml_text(xml, q.answer.len, &p2, "NextUploadIdMarker", id_marker,
					sizeof(id_marker)) < 0)
				truncated[0] = '\0';
		} else {
			truncated[0] = '\0';
		}
		gw_buf_release(&q.answer);
		gw_buf_release(&query);
		if (r < 0 || strcmp(truncated, "true"))
			break;
	}
	return r;
}
