/* s3put - one file through ftpsgate's S3 bytes backend (store/bytes_s3.c)
 * into the object store, as an upload's bytes go: appended in 1 MiB
 * pieces, parts sent while the next fills, completed at the end. For
 * bench/bench.py, beside rclone's upload of the same file.
 *
 *   s3put FILE PART_MIB PARTS_IN_FLIGHT
 *
 * The store from FTPSGATE_STORAGE_URL, FTPSGATE_S3_ENDPOINT,
 * FTPSGATE_S3_REGION and the AWS_* variables (scripts/s3-local.sh's
 * lines). Prints "SECONDS BYTES"; the object is removed afterwards. The
 * journal is kept in memory here: what the records store adds per part
 * (one statement) is not in the figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "s3.h"
#include "store_bytes.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char journal_upload[S3_UPLOAD_ID_MAX];

static int begun(void *arg, int64_t id, const char *upload_id)
{
	(void)arg;
	(void)id;
	pthread_mutex_lock(&lock);
	gw_strlcpy(journal_upload, upload_id, sizeof(journal_upload));
	pthread_mutex_unlock(&lock);
	return 0;
}

static int confirmed(void *arg, int64_t id, const struct store_bytes_part *part)
{
	(void)arg;
	(void)id;
	(void)part;
	return 0;
}

static int load(void *arg, int64_t id, char *upload_id, size_t size, struct store_bytes_part *parts,
		unsigned max, unsigned *n)
{
	(void)arg;
	(void)id;
	(void)parts;
	(void)max;
	pthread_mutex_lock(&lock);
	gw_strlcpy(upload_id, journal_upload, size);
	pthread_mutex_unlock(&lock);
	*n = 0;
	return 0;
}

static int trim(void *arg, int64_t id, unsigned number)
{
	(void)arg;
	(void)id;
	(void)number;
	return 0;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct store_bytes_journal j = { NULL, begun, confirmed, load, trim };
	struct store_bytes_s3_params p = { 0 };
	struct s3_config c;
	struct s3 *s;
	struct store_bytes *b;
	struct store_bytes_writer *w = NULL;
	char err[256];
	static unsigned char buf[1 << 20];
	uint64_t total = 0;
	int64_t id = 900000000 + getpid();
	double t0;
	ssize_t n;
	int fd, r;

	if (argc != 4) {
		fprintf(stderr, "usage: s3put FILE PART_MIB PARTS_IN_FLIGHT\n");
		return 2;
	}
	memset(&c, 0, sizeof(c));
	if (s3_config_parse_url(getenv("FTPSGATE_STORAGE_URL") ? getenv("FTPSGATE_STORAGE_URL") : "",
				&c, err, sizeof(err)) < 0 ||
	    s3_config_credentials(&c, err, sizeof(err)) < 0) {
		fprintf(stderr, "s3put: %s\n", err);
		return 2;
	}
	gw_strlcpy(c.endpoint, getenv("FTPSGATE_S3_ENDPOINT") ? getenv("FTPSGATE_S3_ENDPOINT") : "",
		   sizeof(c.endpoint));
	gw_strlcpy(c.region, getenv("FTPSGATE_S3_REGION") ? getenv("FTPSGATE_S3_REGION") : "",
		   sizeof(c.region));
	c.retries = 5;
	p.part_bytes = (size_t)strtoul(argv[2], NULL, 10) << 20;
	p.per_upload = (unsigned)strtoul(argv[3], NULL, 10);
	p.per_node = p.per_upload;
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || s3_new(&c, &s) < 0 || store_bytes_s3_new(s, &j, &p, &b) < 0) {
		fprintf(stderr, "s3put: cannot start\n");
		return 1;
	}
	t0 = now_s();
	r = b->ops->create(b, id, &w);
	while (r == 0 && (n = read(fd, buf, 1 << 20)) > 0) {
		r = b->ops->append(w, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (r == 0)
		r = b->ops->commit(w);
	if (r == 0)
		printf("%.3f %llu\n", now_s() - t0, (unsigned long long)total);
	else
		fprintf(stderr, "s3put: %s\n", strerror(-r));
	b->ops->close(w);
	b->ops->remove(b, id);
	b->ops->free(b);
	s3_free(s);
	close(fd);
	return r == 0 ? 0 : 1;
}
