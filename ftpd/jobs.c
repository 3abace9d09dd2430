/* jobs.c - blocking work for a session on a worker pool: kinds are
 * {run, done} operations (struct job_ops), posted back to their loop when
 * run; what becomes of a job whose session ended; and the jobs of HASH
 * and MFMT. The kinds of uploads are in receive.c, login in control.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "view.h"

static void job_run(struct gw_job *gj)
{
	struct job *j = container_of(gj, struct job, base);

	if (j->ops->run(j))
		ftpd_job_post(j);
}

void ftpd_job_post(struct job *j)
{
	struct loop *l = j->c->loop;
	uint64_t one = 1;

	pthread_mutex_lock(&l->lock);
	j->next = NULL;
	if (l->done_tail)
		l->done_tail->next = j;
	else
		l->done_head = j;
	l->done_tail = j;
	pthread_mutex_unlock(&l->lock);
	if (write(l->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		gw_error("ftpd.loop", "cannot wake loop: %s", strerror(errno));
}

struct job *ftpd_job_new(struct ctrl *c, const struct job_ops *ops)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->c = c;
	j->ops = ops;
	j->root_fd = -1;
	j->base.run = job_run;
	return j;
}

/* Password checks and upload work run on different pools: a login storm
 * queues argon2id work, and must not queue the writes of running uploads
 * behind it. */
void ftpd_job_submit(struct ctrl *c, struct job *j)
{
	struct ftpd_server *srv = c->loop->srv;

	c->refs++;
	gw_pool_submit(j->ops->checks_password ? srv->pool : srv->io_pool, &j->base);
}

void ftpd_job_free_bufs(struct job *j)
{
	for (size_t i = 0; i < j->nbufs; i++)
		ftpd_chunk_free(j->c->loop, j->bufs[i]);
	j->nbufs = 0;
}

struct job *ftpd_job_pair_done(struct job *j)
{
	if (j->pair) {
		struct job *w = j->pair;

		ftpd_ctrl_unref(j->c); /* the write job still holds the session */
		free(j);
		return --w->parts > 0 ? NULL : w;
	}
	if (j->parts && --j->parts > 0)
		return NULL;
	return j;
}

void ftpd_job_drop(struct job *j, const char *why, bool here)
{
	if (j->owns_root_fd && j->root_fd >= 0)
		close(j->root_fd);
	j->root_fd = -1;
	ftpd_job_free_bufs(j);
	if (j->up && j->holds_upload) {
		if (here) {
			store_upload_abort(j->c->loop->srv->store, j->up, why);
		} else {
			ftpd_abort_upload(j->c, j->up, why, FTPD_XFER_ABORTED);
			j->up = NULL;
		}
	}
	if (j->up)
		store_upload_free(j->up);
	j->up = NULL;
}

void ftpd_job_done(struct job *j)
{
	struct ctrl *c;

	j = ftpd_job_pair_done(j);
	if (!j)
		return;
	c = j->c;
	if (c->closed)
		ftpd_job_drop(j, c->close_why, false); /* the session ended while it ran */
	else
		j->ops->done(c, j);
	if (j->up)
		store_upload_free(j->up);
	ftpd_ctrl_unref(c);
	free(j);
}

/* ---------------------------------------------------------------- HASH */

static void hash_answer(struct job *j, uint64_t size, const char *hex)
{
	snprintf(j->reason, sizeof(j->reason), "SHA-256 0-%llu %s", (unsigned long long)size, hex);
}

/* HASH reads the file (hash_read_run) only for a file without a recorded
 * SHA-256 (a partial upload): on one thread, one such HASH per account at
 * a time, so that reading files never holds the workers of uploads. */
static bool hash_read_run(struct job *j)
{
	struct ftpd_server *srv = j->c->loop->srv;
	char hex[65];
	uint64_t size = 0;
	int fd;

	j->err = ftpd_view_open_file(j->root_fd, j->path, &fd, &size);
	if (j->err == 0) {
		j->err = store_hash_fd(fd, &size, hex);
		close(fd);
	}
	gw_counter_give(srv->hashes_per_account, j->c->account_key);
	gw_metric_add(GW_M_HASHES_READ, 1);
	if (j->err == 0)
		hash_answer(j, size, hex);
	return true;
}

static void hash_done(struct ctrl *c, struct job *j)
{
	ftpd_session_text_done(&c->core, j->err, j->reason);
	ftpd_ctrl_wake(c);
}

static const struct job_ops hash_read_ops = { "hash-read", hash_read_run, hash_done, false };

static bool hash_run(struct job *j)
{
	struct ftpd_server *srv = j->c->loop->srv;
	char hex[65];
	uint64_t size = 0;
	struct stat sb;
	int fd;

	j->err = ftpd_view_open_file(j->root_fd, j->path, &fd, &size);
	if (j->err < 0)
		return true;
	if (fstat(fd, &sb) == 0 &&
	    store_upload_recorded_sha256(srv->store, j->account_id, j->path, &sb, hex) == 0) {
		close(fd);
		gw_metric_add(GW_M_HASHES_RECORDED, 1);
		hash_answer(j, size, hex);
		return true;
	}
	close(fd);
	if (!gw_counter_take(srv->hashes_per_account, j->c->account_key, 1)) {
		j->err = -EBUSY;
		return true;
	}
	j->ops = &hash_read_ops;
	gw_pool_submit(srv->hash_pool, &j->base);
	return false;
}

const struct job_ops ftpd_job_hash = { "hash", hash_run, hash_done, false };

/* ---------------------------------------------------------------- MFMT */

/* The file's time for listings, and the client's time on the upload's
 * record; its bytes stay as they are. */
static bool mfmt_run(struct job *j)
{
	struct timespec ts[2] = { { (time_t)j->offset, 0 }, { (time_t)j->offset, 0 } };
	uint64_t size = 0;
	struct stat sb;
	int fd;

	j->err = ftpd_view_open_file(j->root_fd, j->path, &fd, &size);
	if (j->err < 0)
		return true;
	if (futimens(fd, ts) < 0 || fstat(fd, &sb) < 0)
		j->err = -errno;
	close(fd);
	if (j->err == 0)
		j->err = store_upload_set_client_mtime(j->c->loop->srv->store, j->account_id, j->path,
						       &sb, (int64_t)j->offset * 1000);
	return true;
}

static void mfmt_done(struct ctrl *c, struct job *j)
{
	ftpd_session_mfmt_done(&c->core, j->err, (int64_t)j->offset);
	ftpd_ctrl_wake(c);
}

const struct job_ops ftpd_job_mfmt = { "mfmt", mfmt_run, mfmt_done, false };
