/* send.c - a download (RETR) or a listing going out on the data connection.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

/* Next bytes to send: the listing, or the next chunk of the file. Returns
 * false at the end, or on a read error (*err set). */
static bool send_source(struct ctrl *c, const unsigned char **p, size_t *len, int *err)
{
	struct data *d = &c->d;

	*err = 0;
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
	if (c->d.file_fd < 0)
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
