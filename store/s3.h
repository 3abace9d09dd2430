/* s3.h - a client of S3-compatible object storage, for the S3 bytes
 * backend: multipart uploads, ranged reads, deletes. Requests are signed
 * with SigV4 by libcurl (CURLOPT_AWS_SIGV4) over connections kept per
 * client; the payload's SHA-256 goes in x-amz-content-sha256.
 *
 * Every call blocks (network): never on an event loop. Errors are
 * negative errno, with what the store said in *err when given:
 *   -EACCES  credentials refused (403)        -ENOENT  no such key, upload or bucket
 *   -EINVAL  the store refused the request    -EIO     the store failed or could not
 *   (400; a bug or a store that differs)               be reached, past the retries
 * Failures that may pass (5xx, SlowDown, a broken or timed-out connection)
 * are tried again with backoff, `retries` times.
 */
#ifndef FTPSGATE_STORE_S3_H
#define FTPSGATE_STORE_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S3_KEY_MAX 512
#define S3_UPLOAD_ID_MAX 512
#define S3_ETAG_MAX 80
#define S3_MIN_PART_BYTES (5u << 20) /* every part but the last (S3's rule) */
#define S3_MAX_PARTS 10000

struct s3_config {
	char endpoint[256]; /* scheme://host[:port] */
	char region[64];
	char bucket[64];
	char prefix[256];  /* of every key, without '/' at either end; "" none */
	bool virtual_host; /* bucket.host/key rather than host/bucket/key */
	char access_key[128];
	char secret_key[128];
	char session_token[4096];
	char ca_file[256];   /* "" the system's */
	bool insecure;	     /* no TLS verification: tests only, never a default */
	unsigned timeout_ms; /* one request, connect to last byte */
	unsigned retries;
	unsigned backoff_ms; /* the first wait; doubled each try, at most 5 s */
};

/* What the store said of a refused request. */
struct s3_error {
	long status;   /* HTTP status; 0: no answer */
	char code[64]; /* "SlowDown", "NoSuchUpload", ... */
	char message[256];
};

/* FTPSGATE_STORAGE_URL's s3://BUCKET[/PREFIX] into c (other fields left). */
int s3_config_parse_url(const char *url, struct s3_config *c, char *err, size_t err_size);
/* Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN, else from the credentials file
 * (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials; profile
 * AWS_PROFILE, else "default"). */
int s3_config_credentials(struct s3_config *c, char *err, size_t err_size);

struct s3;

int s3_new(const struct s3_config *c, struct s3 **out);
void s3_free(struct s3 *s);
/* The configuration in use (for messages: never print the secrets). */
const struct s3_config *s3_config(const struct s3 *s);

/* The key of name under the prefix ("PREFIX/name"). */
void s3_key(const struct s3 *s, const char *name, char key[S3_KEY_MAX]);

int s3_multipart_start(struct s3 *s, const char *key, char upload_id[S3_UPLOAD_ID_MAX],
		       struct s3_error *err);
/* Part number (1..10000) of len bytes; its ETag in etag. */
int s3_multipart_part(struct s3 *s, const char *key, const char *upload_id, unsigned number,
		      const void *buf, size_t len, char etag[S3_ETAG_MAX], struct s3_error *err);

struct s3_part {
	unsigned number;
	char etag[S3_ETAG_MAX];
};

int s3_multipart_complete(struct s3 *s, const char *key, const char *upload_id,
			  const struct s3_part *parts, unsigned n, struct s3_error *err);
/* None is fine (-ENOENT is 0). */
int s3_multipart_abort(struct s3 *s, const char *key, const char *upload_id, struct s3_error *err);

/* One request, one object: for small ones. */
int s3_put(struct s3 *s, const char *key, const void *buf, size_t len, struct s3_error *err);

/* Receives an object's bytes in order; a negative return stops the read
 * with that error. */
typedef int s3_sink_fn(void *arg, const void *buf, size_t len);

/* The object's bytes from offset to its end (len 0) or len of them. A
 * retry after some bytes went to fn goes on from the next one. */
int s3_get(struct s3 *s, const char *key, uint64_t offset, uint64_t len, s3_sink_fn *fn, void *arg,
	   struct s3_error *err);
int s3_head(struct s3 *s, const char *key, uint64_t *size, struct s3_error *err);
/* None is fine. */
int s3_delete(struct s3 *s, const char *key, struct s3_error *err);

/* Multipart uploads in progress under prefix, to fn, page by page. */
typedef void s3_upload_fn(void *arg, const char *key, const char *upload_id, int64_t initiated_ms);
int s3_multipart_list(struct s3 *s, const char *prefix, s3_upload_fn *fn, void *arg,
		      struct s3_error *err);

/* ------------------------------------------------ the store's XML (s3_xml.c) */

/* The text of the first <tag>...</tag> in xml[len] at or after *pos,
 * entities decoded, into out[size]; *pos moves past it. -ENOENT when
 * there is none, -E2BIG when it does not fit, -EBADMSG when it is not
 * well formed. */
int s3_xml_text(const char *xml, size_t len, size_t *pos, const char *tag, char *out, size_t size);
/* The span of the next <tag>...</tag> element's content at or after *pos
 * (for lists of elements); *pos moves past it. */
int s3_xml_element(const char *xml, size_t len, size_t *pos, const char *tag, size_t *start,
		   size_t *end);
/* An ISO 8601 time as S3 writes it (2026-12-05T16:45:09.000Z) in ms. */
int s3_xml_time(const char *text, int64_t *ms);

#endif
