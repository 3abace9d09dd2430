/* storage.c - where upload bytes live, as storage_url says: the data
 * directory, or S3-compatible object storage (the client, the bytes
 * backend on it with its journal in the records, its health, and the
 * sweep of abandoned multipart uploads).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "s3.h"
#include "store_int.h"
#include "store_records.h"

static bool is_file_url(const char *url)
{
	return !url || !url[0] || !strcmp(url, "file:");
}

/* The S3 client's settings from p; err says what is wrong. */
static int s3_settings(const struct store_params *p, struct s3_config *c, char *err,
		       size_t err_size)
{
	const char *addressing = p->s3_addressing ? p->s3_addressing : "";
	const char *region = p->s3_region && p->s3_region[0] ? p->s3_region : "us-east-1";
	int r;

	memset(c, 0, sizeof(*c));
	r = s3_config_parse_url(p->storage_url, c, err, err_size);
	if (r < 0)
		return r;
	if (gw_strlcpy(c->region, region, sizeof(c->region)) < 0 ||
	    strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region)) {
		snprintf(err, err_size, "s3_region '%.64s' is not a region name (us-east-1, ...)",
			 region);
		return -EINVAL;
	}
	if (p->s3_endpoint && p->s3_endpoint[0]) {
		if ((strncmp(p->s3_endpoint, "https://", 8) && strncmp(p->s3_endpoint, "http://", 7)) ||
		    gw_strlcpy(c->endpoint, p->s3_endpoint, sizeof(c->endpoint)) < 0 ||
		    strpbrk(p->s3_endpoint + 7, "?# ")) {
			snprintf(err, err_size, "s3_endpoint '%.200s' is not https://HOST[:PORT]"
				 " (or http://)", p->s3_endpoint);
			return -EINVAL;
		}
		while (strlen(c->endpoint) > 8 && c->endpoint[strlen(c->endpoint) - 1] == '/')
			c->endpoint[strlen(c->endpoint) - 1] = '\0';
	} else {
		snprintf(c->endpoint, sizeof(c->endpoint), "https://s3.%s.amazonaws.com", c->region);
	}
	if (!strcmp(addressing, "virtual")) {
		c->virtual_host = true;
	} else if (!strcmp(addressing, "path")) {
		c->virtual_host = false;
	} else if (!addressing[0]) {
		/* AWS: the bucket in the host name; other stores: in the path */
		c->virtual_host = !(p->s3_endpoint && p->s3_endpoint[0]);
	} else {
		snprintf(err, err_size, "s3_addressing '%.16s' must be path or virtual", addressing);
		return -EINVAL;
	}
	if (p->s3_ca_file && gw_strlcpy(c->ca_file, p->s3_ca_file, sizeof(c->ca_file)) < 0) {
		snprintf(err, err_size, "s3_ca_file is too long");
		return -EINVAL;
	}
	c->timeout_ms = (p->s3_timeout_s ? p->s3_timeout_s : 300) * 1000;
	c->retries = 6; /* 200 ms doubling: some 12 s of waiting */
	c->backoff_ms = 200;
	return s3_config_credentials(c, err, err_size);
}

int store_storage_open(struct store *st, const struct store_params *p, char *err, size_t err_size)
{
	struct store_bytes_s3_params bp = { 0 };
	struct store_bytes_journal j;
	struct s3_config c;
	int r;

	if (is_file_url(p->storage_url)) {
		r = store_bytes_dir_new(st->uploads_fd, st->min_free_bytes, &st->bytes);
		if (r < 0)
			snprintf(err, err_size, "cannot set up the bytes store: %s", strerror(-r));
		return r;
	}
	if (strncmp(p->storage_url, "s3://", 5)) {
		snprintf(err, err_size, "storage_url must be 'file:' or 's3://BUCKET[/PREFIX]', not"
			 " '%.60s'", p->storage_url);
		return -EINVAL;
	}
	r = s3_settings(p, &c, err, err_size);
	if (r == 0) {
		r = s3_new(&c, &st->s3);
		if (r < 0)
			snprintf(err, err_size, "cannot set up the S3 client: %s", strerror(-r));
	}
	explicit_bzero(&c, sizeof(c));
	if (r < 0)
		return r;
	bp.part_bytes = (size_t)(p->s3_part_mib ? p->s3_part_mib : 16) << 20;
	bp.per_upload = p->s3_parts_in_flight ? p->s3_parts_in_flight : 4;
	if (bp.per_upload > STORE_PART_STATES_KEPT)
		bp.per_upload = STORE_PART_STATES_KEPT;
	bp.per_node = p->s3_senders ? p->s3_senders : 16;
	store_bytes_journal_init(st, &j);
	r = store_bytes_s3_new(st->s3, &j, &bp, &st->bytes);
	if (r < 0) {
		snprintf(err, err_size, "cannot set up the S3 bytes store: %s", strerror(-r));
		return r;
	}
	st->names_in_records = true;
	gw_info("store.storage", "upload bytes go to s3://%s/%s at %s (%s-style), parts of %zu MiB,"
		" %u in flight per upload and %u on this node: at most %zu MiB held per upload",
		s3_config(st->s3)->bucket, s3_config(st->s3)->prefix, s3_config(st->s3)->endpoint,
		s3_config(st->s3)->virtual_host ? "virtual-host" : "path", bp.part_bytes >> 20,
		bp.per_upload, bp.per_node, ((size_t)bp.per_upload + 1) * (bp.part_bytes >> 20));
	return 0;
}

void store_storage_close(struct store *st)
{
	if (st->bytes)
		st->bytes->ops->free(st->bytes); /* its senders end first */
	st->bytes = NULL;
	s3_free(st->s3);
	st->s3 = NULL;
}

void store_storage_object_url(struct store *st, int64_t id, char *out, size_t size)
{
	char name[32], key[S3_KEY_MAX];

	snprintf(name, sizeof(name), "%lld", (long long)id);
	s3_key(st->s3, name, key);
	snprintf(out, size, "s3://%s/%s", s3_config(st->s3)->bucket, key);
}

const char *store_bytes_name(struct store *st)
{
	return st->s3 ? "s3" : "file";
}

int store_bytes_status(struct store *st, bool ping, char *why, size_t why_size)
{
	struct s3_error e = { 0 };
	char key[S3_KEY_MAX];
	uint64_t size = 0;
	int r;

	why[0] = '\0';
	if (!st->s3) {
		/* past the reserve of min_free_mib: no upload can start here */
		if (st->bytes->ops->room(st->bytes, 0) != -ENOSPC)
			return 0;
		snprintf(why, why_size, "the data disk is full");
		return -EAGAIN;
	}
	if (!ping)
		return 0;
	/* a key that is never written: 404 says the store is there and
	 * takes these credentials */
	s3_key(st->s3, ".ftpsgate-health", key);
	r = s3_head(st->s3, key, &size, &e);
	if (r == 0 || r == -ENOENT)
		return 0;
	if (r == -EACCES)
		snprintf(why, why_size, "the object store refused the credentials (%ld %s)", e.status,
			 e.code);
	else if (e.status)
		snprintf(why, why_size, "the object store answered %ld %s", e.status, e.code);
	else
		snprintf(why, why_size, "the object store does not answer");
	return -EAGAIN;
}

/* ---------------------------------------------------------------- abandoned multipart uploads */

struct abandon {
	struct store *st;
	int64_t before_ms;
	unsigned tombstones;
};

/* An upload wants its multipart upload while it is partial and was
 * touched since before_ms, or while it is being received; otherwise the
 * parts go, and a partial upload says so in its record. */
static bool wanted(void *arg, int64_t id, const char *upload_id)
{
	struct abandon *a = arg;
	struct store_upload_info u;
	char mpu[S3_UPLOAD_ID_MAX];
	unsigned n = 0;

	if (a->st->rec->upload_get(a->st, id, &u) < 0)
		return false; /* no such upload */
	if (a->st->rec->object_load(a->st, id, mpu, sizeof(mpu), NULL, 0, &n) < 0 ||
	    strcmp(mpu, upload_id))
		return false; /* not its multipart upload (any more) */
	if (!strcmp(u.state, "receiving"))
		return true;
	if (strcmp(u.state, "partial"))
		return false; /* completed, rejected or purged: the parts are left over */
	if (u.updated_at_ms >= a->before_ms)
		return true;
	/* its record stays, as a tombstone (purged) */
	if (store_upload_purge(a->st, id, &u) == 0)
		a->tombstones++;
	return false;
}

int store_sweep_abandoned(struct store *st, int64_t abandon_ms, unsigned *aborted)
{
	struct abandon a = { st, gw_now_ms() - abandon_ms, 0 };
	int r;

	*aborted = 0;
	if (!st->s3)
		return 0;
	r = store_bytes_s3_sweep(st->bytes, a.before_ms, wanted, &a, aborted);
	if (*aborted || a.tombstones)
		gw_info("store.sweep", "aborted %u multipart upload(s) nobody will resume; %u partial"
			" upload(s) untouched for %lld s purged", *aborted, a.tombstones,
			(long long)(abandon_ms / 1000));
	return r;
}
