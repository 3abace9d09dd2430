/* jobs.c - blocking work for a session on a worker pool: kinds are
 * {run, done} operations (struct job_ops), posted back to their loop when
 * run; what becomes of a job whose session ended; and the jobs of HASH
 * and MFMT. The kinds of uploads are in receive.c, login in control.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
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
	j->file_fd = -1;
	gw_buf_init(&j->text, GW_LISTING_MAX);
	j->base.run = job_run;
	return j;
}

struct store_names ftpd_job_names_of(const struct job *j)
{
	return (struct store_names){ j->c->loop->srv->store, j->account_id, j->root_fd };
}

/* What a job made that nobody took. */
static void job_release(struct job *j)
{
	if (j->file_fd >= 0)
		close(j->file_fd);
	j->file_fd = -1;
	store_name_close(j->reader);
	j->reader = NULL;
	gw_buf_release(&j->text);
}

void ftpd_job_submit(struct ctrl *c, struct job *j)
{
	struct ftpd_server *srv = c->loop->srv;

	c->refs++;
	gw_pool_submit(j->ops->commits && srv->commit_pool ? srv->commit_pool : srv->io_pool,
		       &j->base);
}

/* The client's share of the password pool: its address, an IPv6 one by
 * its /64 (what one host is commonly given). */
static uint64_t password_key(const struct ctrl *c)
{
	const struct sockaddr_storage *ss = &c->peer;
	uint64_t key = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		key = 1ull << 32 | ntohl(in->sin_addr.s_addr);
	} else if (ss->ss_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a))
			return 1ull << 32 | (uint64_t)a[12] << 24 | (uint64_t)a[13] << 16 |
			       (uint64_t)a[14] << 8 | a[15];
		for (int i = 0; i < 8; i++)
			key = key << 8 | a[i];
		key |= 1ull << 63; /* apart from IPv4's */
	}
	return key;
}

/* Password checks (argon2id) run on a pool of their own, so that a login
 * storm never queues the writes of running uploads; within it each client
 * address waits only behind its own checks and one of every other
 * address with checks waiting (gw_pool_submit_fair). */
void ftpd_job_check_password(struct job *j)
{
	gw_pool_submit_fair(j->c->loop->srv->pool, &j->base, password_key(j->c));
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
	if (j->acct)
		ftpd_account_give(j->c->loop->srv, j->acct);
	j->acct = NULL;
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
	job_release(j);
}

void ftpd_job_done(struct job *j)
{
	struct ctrl *c;

	j = ftpd_job_pair_done(j);
	if (!j)
		return;
	c = j->c;
	if (c->closed)
		ftpd_job_drop(j, ftpd_ctrl_close_why(c), false); /* the session ended while it ran */
	else
		j->ops->done(c, j);
	if (j->up)
		store_upload_free(j->up);
	job_release(j);
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
	const struct store_names ns = ftpd_job_names_of(j);
	char hex[65];
	uint64_t size = 0;

	j->err = store_name_sha256(&ns, j->path, true, hex, &size);
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
	const struct store_names ns = ftpd_job_names_of(j);
	char hex[65];
	uint64_t size = 0;

	j->err = store_name_sha256(&ns, j->path, false, hex, &size);
	if (j->err == 0) {
		gw_metric_add(GW_M_HASHES_RECORDED, 1);
		hash_answer(j, size, hex);
	}
	if (j->err != -EAGAIN)
		return true;
	j->err = 0;
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
	const struct store_names ns = ftpd_job_names_of(j);

	j->err = store_name_set_mtime(&ns, j->path, (int64_t)j->offset);
	return true;
}

static void mfmt_done(struct ctrl *c, struct job *j)
{
	ftpd_session_mfmt_done(&c->core, j->err, (int64_t)j->offset);
	ftpd_ctrl_wake(c);
}

const struct job_ops ftpd_job_mfmt = { "mfmt", mfmt_run, mfmt_done, false };

/* ---------------------------------------------------------------- names */

/* CWD, SIZE, MDTM, MLST, STAT, DELE, RNFR, RNTO, MKD, RMD: the store may
 * ask the records database, so never on the loop. */
static bool names_run(struct job *j)
{
	const struct store_names ns = ftpd_job_names_of(j);
	struct store_entry e;
	int r = 0;

	switch (j->kind) {
	case FTPD_REQ_CWD:
	case FTPD_REQ_SIZE:
	case FTPD_REQ_MDTM:
	case FTPD_REQ_MLST:
	case FTPD_REQ_RNFR:
		r = store_name_stat(&ns, j->path, &e);
		if (r == 0 && j->kind == FTPD_REQ_CWD && !e.is_dir)
			r = -ENOTDIR;
		if (r == 0 && j->kind == FTPD_REQ_SIZE && e.is_dir)
			r = -EISDIR;
		if (r == 0 && j->kind == FTPD_REQ_MLST)
			r = ftpd_view_facts(&e, j->path, &j->text);
		if (r == 0) {
			j->size = e.size;
			j->mtime_s = e.mtime_s;
		}
		break;
	case FTPD_REQ_STAT:
		r = ftpd_view_list(&ns, j->path, FTPD_VIEW_LS, gw_now_ms(), &j->text);
		break;
	case FTPD_REQ_DELE:
		r = store_name_delete(&ns, j->path);
		break;
	case FTPD_REQ_RNTO:
		r = store_name_rename(&ns, j->from, j->path);
		break;
	case FTPD_REQ_MKD:
		r = store_name_mkdir(&ns, j->path);
		break;
	case FTPD_REQ_RMD:
		r = store_name_rmdir(&ns, j->path);
		break;
	default:
		GW_BUG("names job of kind %d", (int)j->kind);
	}
	j->err = r;
	return true;
}

static void names_done(struct ctrl *c, struct job *j)
{
	switch (j->kind) {
	case FTPD_REQ_SIZE:
		ftpd_session_size_done(&c->core, j->err, j->size);
		break;
	case FTPD_REQ_MDTM:
		ftpd_session_mdtm_done(&c->core, j->err, j->mtime_s);
		break;
	case FTPD_REQ_MLST:
	case FTPD_REQ_STAT:
		ftpd_session_text_done(&c->core, j->err, gw_buf_str(&j->text));
		break;
	default:
		ftpd_session_done(&c->core, j->err);
		break;
	}
	ftpd_ctrl_wake(c);
}

const struct job_ops ftpd_job_names = { "names", names_run, names_done, false };
