/* send.c - a download (RETR) or a listing going out on the data connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

/* ---------------------------------------------------------------- reading a file in object storage */

static bool read_run(struct job *j)
{
	ssize_t n = store_name_read(j->reader, j->bufs[0], GW_DATA_CHUNK);

	j->err = n < 0 ? (int)n : 0;
	j->len = n > 0 ? (size_t)n : 0;
	return true;
}

static void read_done(struct ctrl *c, struct job *j)
{
	struct data *d = &c->d;
	unsigned char *full = j->bufs[0];

	if (j->gen != d->gen || !d->reading) {
		ftpd_job_free_bufs(j); /* the transfer ended meanwhile */
		return;
	}
	d->reading = false;
	d->reader = j->reader;
	j->reader = NULL;
	if (j->err < 0) {
		ftpd_job_free_bufs(j);
		gw_error("download.read", "cannot read '%s': %s", d->path, strerror(-j->err));
		ftpd_data_finish(c, FTPD_XFER_LOCAL_ERROR);
		return;
	}
	j->bufs[0] = d->buf;
	d->buf = full;
	ftpd_job_free_bufs(j);
	d->buf_len = j->len;
	d->buf_pos = 0;
	d->file_pos += j->len;
	if (j->len == 0)
		d->file_size = d->file_pos; /* shorter than it said: it ends here */
	ftpd_data_send(c);
}

static const struct job_ops read_ops = { "read", read_run, read_done, false };

/* The next chunk from the reader, on a worker: -EINPROGRESS meanwhile. */
static int read_next(struct ctrl *c)
{
	struct data *d = &c->d;
	struct job *j;

	if (d->reading)
		return -EINPROGRESS;
	j = ftpd_job_new(c, &read_ops);
	if (j)
		j->bufs[0] = ftpd_chunk_new(c->loop);
	if (!j || !j->bufs[0]) {
		free(j);
		return -ENOMEM;
	}
	j->nbufs = 1;
	j->account_id = c->account_id;
	j->reader = d->reader;
	j->gen = d->gen;
	d->reader = NULL;
	d->reading = true;
	ftpd_job_submit(c, j);
	return -EINPROGRESS;
}

/* ---------------------------------------------------------------- sending */

/* Next bytes to send: the listing, or the next chunk of the file. Returns
 * false at the end, on a read error (*err set), or while a worker reads
 * the next chunk (*err = -EINPROGRESS). */
static bool send_source(struct ctrl *c, const unsigned char **p, size_t *len, int *err)
{
	struct data *d = &c->d;

	*err = 0;
	if (d->reader || d->reading) {
		if (d->buf_pos == d->buf_len) {
			if (d->file_pos >= d->file_size)
				return false;
			*err = read_next(c);
			return false;
		}
		*p = d->buf + d->buf_pos;
		*len = d->buf_len - d->buf_pos;
		return true;
	}
	if (d->file_fd < 0) {
		*p = (const unsigned char *)d->listing.data + d->sent;
		*len = d->listing.len - d->sent;
		return *len > 0;
	}
	if (d->buf_pos == d->buf_len) {
		ssize_t n;

		if (d->file_pos >= d->file_size)
			return false;
		n = pread(d->file_fd, d->buf, GW_DATA_CHUNK, (off_t)d->file_pos);
		if (n <= 0) {
			*err = n < 0 ? -errno : 0;
			return false; /* a file cut short while sent ends there */
		}
		d->buf_len = (size_t)n;
		d->buf_pos = 0;
		d->file_pos += (uint64_t)n;
	}
	*p = d->buf + d->buf_pos;
	*len = d->buf_len - d->buf_pos;
	return true;
}

static void sent(struct ctrl *c, size_t n)
{
	if (c->d.file_fd < 0 && !c->d.reader && !c->d.reading)
		c->d.sent += n;
	else
		c->d.buf_pos += n;
}

void ftpd_data_send(struct ctrl *c)
{
	struct data *d = &c->d;
	size_t moved = 0;
	const unsigned char *p;
	size_t len;
	int err;

	while (moved < GW_DATA_BURST) {
		ssize_t n;

		if (!send_source(c, &p, &len, &err)) {
			if (err == -EINPROGRESS) {
				ftpd_watch_set(c->loop, &d->w, 0); /* until the chunk is read */
				return;
			}
			if (err < 0) {
				gw_error("download.read", "cannot read '%s': %s", d->path, strerror(-err));
				ftpd_data_finish(c, FTPD_XFER_LOCAL_ERROR);
				return;
			}
			d->state = D_CLOSING;
			d->deadline = gw_mono_ms() + GW_DATA_CLOSE_TIMEOUT_S * 1000;
			ftpd_data_pump(c);
			return;
		}
		n = ftpd_tls_write(d->tls, p, len);
		if (n == -EAGAIN) {
			ftpd_watch_set(c->loop, &d->w, ftpd_want_events(ftpd_tls_want(d->tls)));
			return;
		}
		if (n < 0) {
			ftpd_data_finish(c, FTPD_XFER_ABORTED);
			return;
		}
		sent(c, (size_t)n);
		moved += (size_t)n;
		d->last_io = gw_mono_ms();
	}
	ftpd_watch_again(c->loop, &d->w);
}
