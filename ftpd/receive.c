/* receive.c - an upload's bytes: chunks filled from TLS while workers write
 * and hash the ones before, the jobs that open, write, commit, reject or
 * record an upload partial, and what the client is told.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "engine.h"

/* ---------------------------------------------------------------- what became of it */

static void log_partial(struct ctrl *c, struct job *j)
{
	gw_info("upload.partial", "upload %lld '%s' of account %lld from %s: partial at %llu bytes: %s",
		(long long)store_upload_id(j->up), c->d.path, (long long)c->account_id, c->peer_ip,
		(unsigned long long)store_upload_bytes(j->up), j->reason);
}

/* Not kept: its verdict is the reply. */
static void rejected(struct ctrl *c, struct job *j)
{
	gw_warn("upload.rejected", "upload %lld '%s' of account %lld from %s rejected: %s",
		(long long)store_upload_id(j->up), c->d.path, (long long)c->account_id, c->peer_ip,
		j->reason);
	ftpd_str_set(&c->core.reason, j->reason);
	ftpd_data_finish(c, FTPD_XFER_REJECTED);
}

static bool abort_run(struct job *j)
{
	j->err = store_upload_abort(j->c->loop->srv->store, j->up, j->reason);
	return true;
}

static void abort_done(struct ctrl *c, struct job *j)
{
	log_partial(c, j);
	ftpd_data_finish(c, j->result);
}

static const struct job_ops abort_ops = { "abort", abort_run, abort_done, false };

void ftpd_abort_upload(struct ctrl *c, struct store_upload *up, const char *reason,
		       enum ftpd_xfer result)
{
	struct job *j = ftpd_job_new(c, &abort_ops);

	if (!j) {
		/* Out of memory: the record stays 'receiving' and becomes
		 * 'partial' at the next start. */
		gw_error("ftpd.upload", "cannot record upload %lld as partial: out of memory",
			 (long long)store_upload_id(up));
		store_upload_free(up);
		return;
	}
	j->up = up;
	j->result = result;
	gw_strlcpy(j->reason, reason, sizeof(j->reason));
	ftpd_job_submit(c, j);
}

static bool reject_run(struct job *j)
{
	gw_strlcpy(j->reason, store_upload_verdict(j->up), sizeof(j->reason));
	j->err = store_upload_reject(j->c->loop->srv->store, j->up);
	return true;
}

static const struct job_ops reject_ops = { "reject", reject_run, rejected, false };

static bool commit_run(struct job *j)
{
	struct store *st = j->c->loop->srv->store;

	j->err = store_upload_commit(st, j->up);
	if (j->err == -ETIMEDOUT) /* undecided by the accept hook: kept partial */
		gw_strlcpy(j->reason, store_upload_verdict(j->up), sizeof(j->reason));
	if (j->err == -EBADMSG || j->err == -EPERM) {
		/* The verdict came with the last byte: not kept. */
		gw_strlcpy(j->reason, store_upload_verdict(j->up), sizeof(j->reason));
		store_upload_reject(st, j->up);
	}
	return true;
}

static void commit_done(struct ctrl *c, struct job *j)
{
	struct data *d = &c->d;
	uint64_t bytes = store_upload_bytes(j->up);
	uint64_t moved = bytes - store_upload_start_offset(j->up);
	int64_t ms = gw_mono_ms() - d->started;

	if (j->err == -EBADMSG) {
		rejected(c, j);
		return;
	}
	if (j->err == -EPERM) {
		gw_warn("upload.rejected", "upload %lld '%s' of account %lld from %s refused by the"
			" accept hook: %s", (long long)store_upload_id(j->up), d->path,
			(long long)c->account_id, c->peer_ip, j->reason);
		ftpd_str_set(&c->core.reason, j->reason);
		ftpd_data_finish(c, FTPD_XFER_REFUSED);
		return;
	}
	if (j->err == -ETIMEDOUT) {
		log_partial(c, j);
		ftpd_str_set(&c->core.reason, j->reason);
		ftpd_data_finish(c, FTPD_XFER_UNDECIDED);
		return;
	}
	if (j->err < 0) {
		gw_error("upload.failed", "upload %lld '%s' of account %lld not stored: %s",
			 (long long)store_upload_id(j->up), d->path, (long long)c->account_id,
			 strerror(-j->err));
		ftpd_data_finish(c, j->err == -ENOSPC || j->err == -EDQUOT ? FTPD_XFER_NO_SPACE
									     : FTPD_XFER_LOCAL_ERROR);
		return;
	}
	gw_info("upload.received",
		"upload %lld '%s' of account %lld from %s: %llu bytes (%llu in this transfer),"
		" sha256 %s, %.1f MiB/s", (long long)store_upload_id(j->up), d->path,
		(long long)c->account_id, c->peer_ip, (unsigned long long)bytes,
		(unsigned long long)moved, store_upload_sha256(j->up),
		ms > 0 ? (double)moved / 1048576.0 / ((double)ms / 1000.0) : 0.0);
	gw_metric_add(GW_M_UPLOADS_RECEIVED, 1);
	ftpd_data_finish(c, FTPD_XFER_OK);
}

static const struct job_ops commit_ops = { "commit", commit_run, commit_done, true };

/* ---------------------------------------------------------------- opening */

static bool open_run(struct job *j)
{
	j->err = store_upload_begin(j->c->loop->srv->store, j->account_id, j->root_fd, j->path,
				    j->c->peer_ip, j->mode, j->offset, &j->up);
	j->holds_upload = j->err == 0;
	return true;
}

static enum ftpd_xfer open_refusal(const struct job *j)
{
	switch (j->err) {
	case -ERANGE:
		return FTPD_XFER_BAD_OFFSET;
	case -ESPIPE:
		return FTPD_XFER_KEPT_ELSEWHERE;
	case -EBUSY:
		return FTPD_XFER_BUSY;
	case -EINPROGRESS:
		return FTPD_XFER_NODE_SILENT;
	case -ENOENT:
		return j->offset ? FTPD_XFER_NOT_FOUND : FTPD_XFER_OPEN_FAILED;
	case -ENOSPC:
		return FTPD_XFER_NO_SPACE;
	case -EDQUOT:
		return FTPD_XFER_QUOTA;
	case -ENOKEY:
		return FTPD_XFER_NO_KEY;
	case -EBADMSG:
		return FTPD_XFER_REJECTED;
	case -EAGAIN:
	case -EROFS:
	case -EIO:
	case -ENOMEM:
		/* the database is locked, read-only or failing: for now, and
		 * not the client's doing */
		return FTPD_XFER_LOCAL_ERROR;
	default:
		return FTPD_XFER_OPEN_FAILED;
	}
}

static void open_done(struct ctrl *c, struct job *j)
{
	struct data *d = &c->d;

	if (j->err < 0) {
		gw_warn("upload.refused", "cannot open '%s' for account %lld: %s", j->path,
			(long long)c->account_id, strerror(-j->err));
		ftpd_drain_start(c); /* it may be sending already: let it read the reply */
		ftpd_data_finish(c, open_refusal(j));
		return;
	}
	if (d->abort_requested) {
		ftpd_abort_upload(c, j->up, "aborted by the client (ABOR)", FTPD_XFER_CLIENT_ABORT);
		j->up = NULL;
		ftpd_watch_close(c->loop, &d->w);
		d->state = D_FINISHING;
		return;
	}
	d->up = j->up;
	j->up = NULL;
	gw_info("upload.start", "upload %lld '%s' of account %lld from %s starts at byte %llu",
		(long long)store_upload_id(d->up), d->path, (long long)c->account_id, c->peer_ip,
		(unsigned long long)store_upload_start_offset(d->up));
	d->buf = ftpd_chunk_new(c->loop);
	if (!d->buf) {
		ftpd_abort_upload(c, d->up, "out of memory", FTPD_XFER_LOCAL_ERROR);
		d->up = NULL;
		d->state = D_FINISHING;
		return;
	}
	{
		struct gw_policy eff;

		ftpd_account_policy(c->acct, &eff);
		d->max_file = eff.max_file_bytes;
	}
	d->start_offset = store_upload_start_offset(d->up);
	d->received = 0;
	d->state = D_RECEIVING;
	d->last_io = gw_mono_ms();
	ftpd_data_pump(c);
}

static const struct job_ops open_ops = { "open", open_run, open_done, false };

void ftpd_receive_open(struct ctrl *c)
{
	struct data *d = &c->d;
	struct job *j = ftpd_job_new(c, &open_ops);

	if (!j) {
		ftpd_data_finish(c, FTPD_XFER_LOCAL_ERROR);
		return;
	}
	j->account_id = c->account_id;
	j->root_fd = c->root_fd;
	gw_strlcpy(j->path, d->path, sizeof(j->path));
	j->mode = d->kind == FTPD_REQ_APPE ? STORE_UPLOAD_APPEND
		  : d->offset		   ? STORE_UPLOAD_RESUME
					   : STORE_UPLOAD_NEW;
	j->offset = d->offset;
	d->state = D_OPENING;
	ftpd_watch_set(c->loop, &d->w, 0);
	ftpd_job_submit(c, j);
}

/* ---------------------------------------------------------------- receiving */

/* Drop the data connection of an upload that will not complete; its
 * reply comes when a worker has recorded what became of it. A refusal
 * (refused = true) first tells the client with close_notify and reads
 * what it still sends, so that it reads the reply rather than a reset. */
static void receive_close(struct ctrl *c, bool refused)
{
	struct data *d = &c->d;

	if (!refused || !ftpd_drain_start(c)) {
		if (d->tls) {
			ftpd_tls_free(d->tls);
			d->tls = NULL;
		}
		ftpd_watch_close(c->loop, &d->w);
	}
	d->state = D_FINISHING;
}

/* Stop receiving and record the upload partial: why, and what to say. */
void ftpd_receive_stop(struct ctrl *c, const char *why, enum ftpd_xfer result)
{
	struct data *d = &c->d;
	struct store_upload *up = d->up;

	if (d->writing) {
		/* The worker has the upload: stop when it gives it back. */
		if (!d->stop_pending) {
			d->stop_pending = true;
			d->stop_result = result;
			ftpd_str_set(&d->stop_why, why);
		}
		ftpd_watch_set(c->loop, &d->w, 0);
		return;
	}
	d->up = NULL;
	receive_close(c, result == FTPD_XFER_QUOTA || result == FTPD_XFER_NO_SPACE ||
			 result == FTPD_XFER_LOCAL_ERROR || result == FTPD_XFER_TOO_BIG);
	ftpd_abort_upload(c, up, why, result);
}

/* Not an authentic age file for the account: stop, drop it (a worker
 * records the verdict), and say why. */
static void receive_reject(struct ctrl *c)
{
	struct data *d = &c->d;
	struct job *j = ftpd_job_new(c, &reject_ops);

	if (!j) {
		ftpd_receive_stop(c, "out of memory", FTPD_XFER_LOCAL_ERROR);
		return;
	}
	j->up = d->up;
	d->up = NULL;
	receive_close(c, true);
	ftpd_job_submit(c, j);
}

/* A chunk buffer for the loop to fill: a spare one, or a new one. */
static unsigned char *take_chunk(struct ctrl *c)
{
	struct data *d = &c->d;

	if (d->nspare)
		return d->spare[--d->nspare];
	return ftpd_chunk_new(c->loop);
}

/* Whether one more filled chunk may wait for the disk: a few per upload,
 * and new buffers for it only while the loop is within its budget. */
static bool may_queue(const struct ctrl *c)
{
	const struct data *d = &c->d;

	return d->nfull < GW_DATA_QUEUE && (d->nspare || c->loop->chunks < GW_DATA_LOOP_CHUNKS);
}

static void write_done(struct ctrl *c, struct job *j);

static bool write_run(struct job *j)
{
	for (size_t i = 0; i < j->nbufs && j->err == 0; i++)
		j->err = store_upload_write(j->up, j->bufs[i], j->lens[i]);
	return true;
}

/* The digest job hashes the chunks its write job writes, at once. */
static bool digest_run(struct job *j)
{
	for (size_t i = 0; i < j->pair->nbufs; i++)
		store_upload_hash(j->pair->up, j->pair->bufs[i], j->pair->lens[i]);
	return true;
}

static const struct job_ops write_ops = { "write", write_run, write_done, false };
static const struct job_ops digest_ops = { "digest", digest_run, NULL, false };

/* Hand the full chunks, and the bytes of buf, to a worker to hash and
 * write; go on receiving into another buffer. Unless all is set (the
 * end), only whole blocks of buf go, so that the worker can write them
 * to the disk directly; the rest moves to the front of the next buffer. */
static void start_write(struct ctrl *c, bool all)
{
	struct data *d = &c->d;
	size_t len = all ? d->fill : d->fill & ~(size_t)(STORE_DIRECT_ALIGN - 1);
	unsigned char *next = NULL;
	struct job *j, *dj;

	if (len == 0 && d->nfull == 0)
		return; /* less than a block: wait for more */
	if (len)
		next = take_chunk(c);
	j = (next || !len) ? ftpd_job_new(c, &write_ops) : NULL;
	dj = j ? ftpd_job_new(c, &digest_ops) : NULL;
	if (!dj) {
		free(j);
		ftpd_chunk_free(c->loop, next);
		ftpd_receive_stop(c, "out of memory", FTPD_XFER_LOCAL_ERROR);
		return;
	}
	for (size_t i = 0; i < d->nfull; i++) {
		j->bufs[j->nbufs] = d->full[i];
		j->lens[j->nbufs++] = GW_DATA_CHUNK;
		j->len += GW_DATA_CHUNK;
	}
	d->nfull = 0;
	if (len) {
		j->bufs[j->nbufs] = d->buf;
		j->lens[j->nbufs++] = len;
		j->len += len;
		d->buf = next;
		d->fill -= len;
		memcpy(d->buf, j->bufs[j->nbufs - 1] + len, d->fill);
	}
	j->up = d->up;
	j->holds_upload = true;
	d->up = NULL;
	dj->pair = j;
	j->parts = 2;
	d->writing = true;
	ftpd_job_submit(c, j);
	ftpd_job_submit(c, dj);
}

/* Everything arrived and is written: make it durable and record it. */
static void receive_commit(struct ctrl *c)
{
	struct data *d = &c->d;
	struct job *j;

	if (ftpd_ctrl_peer_gone(c)) {
		/* curl ends a transfer it gave up on (--max-time) with
		 * close_notify too, then closes the control connection at
		 * once: not a finished upload. */
		ftpd_receive_stop(c, "the client closed the control connection without waiting for the"
				" upload to be confirmed", FTPD_XFER_ABORTED);
		return;
	}
	j = ftpd_job_new(c, &commit_ops);
	if (!j) {
		ftpd_receive_stop(c, "out of memory", FTPD_XFER_LOCAL_ERROR);
		return;
	}
	ftpd_tls_shutdown(d->tls);
	ftpd_tls_free(d->tls);
	d->tls = NULL;
	ftpd_watch_close(c->loop, &d->w);
	d->state = D_FINISHING;
	j->up = d->up;
	d->up = NULL;
	ftpd_job_submit(c, j);
}

/* The client's end (close_notify): what arrived is written, then the
 * upload is committed. */
static void end_after_writes(struct ctrl *c)
{
	struct data *d = &c->d;

	if (d->writing)
		return; /* write_done comes back here */
	if (d->fill || d->nfull)
		start_write(c, true);
	else
		receive_commit(c);
}

/* Past the account's max_file_bytes: stop, keep what is written. */
static void receive_too_big(struct ctrl *c)
{
	struct data *d = &c->d;
	char why[160], limit[24];

	snprintf(why, sizeof(why), "larger than the account's max_file_bytes (%llu)",
		 (unsigned long long)d->max_file);
	snprintf(limit, sizeof(limit), "%llu", (unsigned long long)d->max_file);
	ftpd_str_set(&c->core.reason, limit);
	ftpd_receive_stop(c, why, FTPD_XFER_TOO_BIG);
}

/* Wait wait_ns for the account's rate before reading on: false when no
 * timer could be set (then it reads on at once). */
static bool receive_wait(struct ctrl *c, int64_t wait_ns)
{
	struct data *d = &c->d;
	struct itimerspec its = { 0 };

	if (d->tw.fd < 0) {
		int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

		if (fd < 0) {
			gw_warn("ftpd.rate", "cannot make a timer to pace an upload: %s", strerror(errno));
			return false;
		}
		ftpd_watch_init(&d->tw, fd, ftpd_data_on_timer);
		ftpd_watch_set(c->loop, &d->tw, EPOLLIN);
	}
	its.it_value.tv_sec = wait_ns / 1000000000;
	its.it_value.tv_nsec = wait_ns % 1000000000;
	if (timerfd_settime(d->tw.fd, 0, &its, NULL) < 0)
		return false;
	d->throttled = true;
	ftpd_watch_set(c->loop, &d->w, 0);
	return true;
}

void ftpd_data_on_timer(struct watch *w, uint32_t events)
{
	struct data *d = container_of(w, struct data, tw);
	struct ctrl *c = container_of(d, struct ctrl, d);
	uint64_t expirations;

	(void)events;
	if (read(w->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		gw_warn("ftpd.rate", "cannot read an upload's timer: %s", strerror(errno));
	if (!d->throttled)
		return;
	d->throttled = false;
	if (d->state == D_RECEIVING && !d->stop_pending && !d->paused)
		ftpd_data_receive(c);
}

void ftpd_data_receive(struct ctrl *c)
{
	struct data *d = &c->d;
	size_t moved = 0, quantum = ftpd_account_rate_quantum(c->acct);

	if (d->throttled)
		return; /* its timer reads on */
	while (moved < GW_DATA_BURST) {
		size_t room;
		ssize_t n;

		if (d->fill == GW_DATA_CHUNK) {
			if (!d->writing) {
				start_write(c, true);
				if (!d->writing)
					return; /* stopped */
			} else if (may_queue(c)) {
				/* queued for the next write job */
				unsigned char *next = take_chunk(c);

				if (!next) {
					ftpd_receive_stop(c, "out of memory", FTPD_XFER_LOCAL_ERROR);
					return;
				}
				d->full[d->nfull++] = d->buf;
				d->buf = next;
				d->fill = 0;
			} else {
				/* Every chunk is full: wait for the worker. */
				d->paused = true;
				ftpd_watch_set(c->loop, &d->w, 0);
				return;
			}
		}
		room = GW_DATA_CHUNK - d->fill;
		if (quantum && room > quantum)
			room = quantum;
		if (d->max_file) {
			/* one byte past the limit tells it is passed */
			uint64_t left = d->start_offset + d->received > d->max_file
						? 0 : d->max_file - d->start_offset - d->received;

			if (room > left + 1)
				room = (size_t)left + 1;
		}
		n = ftpd_tls_read(d->tls, d->buf + d->fill, room);
		if (n > 0) {
			int64_t wait;

			d->fill += (size_t)n;
			moved += (size_t)n;
			d->received += (uint64_t)n;
			d->last_io = gw_mono_ms();
			if (d->max_file && d->start_offset + d->received > d->max_file) {
				receive_too_big(c);
				return;
			}
			if (!quantum)
				continue;
			wait = ftpd_account_rate_charge(c->acct, (size_t)n);
			if (wait > 0 && receive_wait(c, wait)) {
				if (!d->writing)
					start_write(c, false);
				return;
			}
			continue;
		}
		if (n == -EAGAIN) {
			if (!d->writing)
				start_write(c, false);
			if (d->state == D_RECEIVING && !d->stop_pending)
				ftpd_watch_set(c->loop, &d->w, ftpd_want_events(ftpd_tls_want(d->tls)));
			return;
		}
		if (n == 0) {
			/* close_notify: the client says this is all of it. */
			d->eof = true;
			ftpd_watch_set(c->loop, &d->w, 0);
			end_after_writes(c);
			return;
		}
		/* Broken: what is written stays (partial); what waits to be
		 * written goes. A client that resumes from SIZE sends it again,
		 * and one killed just before its end does not find a partial
		 * upload as long as its file, which it would take as done. */
		ftpd_receive_stop(c, n == -EPROTO ? "TLS error on the data connection"
					     : "data connection closed without TLS close_notify",
			     FTPD_XFER_ABORTED);
		return;
	}
	/* Fair share used: let the other connections run, then continue. */
	if (!d->writing)
		start_write(c, false);
	if (d->state == D_RECEIVING && !d->stop_pending)
		ftpd_watch_again(c->loop, &d->w);
}

/* A chunk is written (or not): the upload is back on the loop. */
static void write_done(struct ctrl *c, struct job *j)
{
	struct data *d = &c->d;
	int r = j->err;

	d->writing = false;
	d->up = j->up;
	j->up = NULL;
	/* the chunks are free again: kept, up to what a full queue needs */
	for (size_t i = 0; i < j->nbufs; i++) {
		if (d->nspare < GW_DATA_QUEUE + 1)
			d->spare[d->nspare++] = j->bufs[i];
		else
			ftpd_chunk_free(c->loop, j->bufs[i]);
	}
	j->nbufs = 0;
	if (r < 0) {
		gw_error("upload.write", "cannot write upload %lld: %s", (long long)store_upload_id(d->up),
			 strerror(-r));
		d->stop_pending = false;
		if (r == -EBADMSG)
			receive_reject(c);
		else if (r == -EDQUOT)
			ftpd_receive_stop(c, "the account's quota is used up", FTPD_XFER_QUOTA);
		else if (r == -ENOSPC)
			ftpd_receive_stop(c, "no space left on the server", FTPD_XFER_NO_SPACE);
		else
			ftpd_receive_stop(c, "cannot write the file", FTPD_XFER_LOCAL_ERROR);
		return;
	}
	gw_metric_add(GW_M_BYTES_RECEIVED, (int64_t)j->len);
	d->bytes_done = store_upload_bytes(d->up);
	if (d->stop_pending) {
		d->stop_pending = false;
		ftpd_receive_stop(c, d->stop_why ? d->stop_why : "stopped", d->stop_result);
		return;
	}
	if (d->eof) {
		end_after_writes(c);
		return;
	}
	if (d->paused) {
		d->paused = false;
		ftpd_data_receive(c);
	} else {
		/* what arrived meanwhile, without waiting for more */
		start_write(c, false);
	}
}
