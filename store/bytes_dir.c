/* bytes_dir.c - the bytes of uploads as files of the data directory:
 * uploads/<id>, written with O_DIRECT where the file system takes it,
 * made durable with fsync of the file and of uploads/, read-only once
 * committed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "gw.h"
#include "store.h"
#include "store_bytes.h"

struct dir_bytes {
	struct store_bytes base;
	int uploads_fd; /* borrowed */
	uint64_t min_free;
};

struct store_bytes_writer {
	struct dir_bytes *b;
	int64_t id;
	int fd;        /* uploads/<id>, open for writing */
	int direct_fd; /* the same file with O_DIRECT, or -1 */
	uint64_t bytes;
};

struct store_bytes_reader {
	int fd;
};

static void obj_name(int64_t id, char obj[32])
{
	snprintf(obj, 32, "%lld", (long long)id);
}

/* Whether len more bytes leave the reserve free on the disk. */
static int check_room(const struct dir_bytes *b, int fd, uint64_t len, int64_t id)
{
	struct statvfs sv;
	uint64_t avail;

	if (!b->min_free || fstatvfs(fd, &sv) < 0)
		return 0;
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (avail >= b->min_free + len)
		return 0;
	gw_warn("store.space", "the data disk has %llu KiB free, less than min_free_mib (%llu MiB):"
		" upload %lld stopped", (unsigned long long)(avail / 1024),
		(unsigned long long)(b->min_free >> 20), (long long)id);
	return -ENOSPC;
}

/* Upload bytes go to the disk with O_DIRECT when the file system takes
 * it: they do not pass through (and crowd out) the page cache, and the
 * fsync at the end has little left to do. Writes that cannot be aligned
 * (the tail, a resume at an odd offset) use the ordinary descriptor. */
static int writer_new(struct dir_bytes *b, int64_t id, int fd, uint64_t bytes,
		      struct store_bytes_writer **out)
{
	struct store_bytes_writer *w = calloc(1, sizeof(*w));
	char obj[32];

	if (!w) {
		close(fd);
		return -ENOMEM;
	}
	w->b = b;
	w->id = id;
	w->fd = fd;
	w->bytes = bytes;
	obj_name(id, obj);
	w->direct_fd = openat(b->uploads_fd, obj, O_WRONLY | O_DIRECT | O_CLOEXEC);
	*out = w;
	return 0;
}

static int dir_create(struct store_bytes *sb, int64_t id, struct store_bytes_writer **out)
{
	struct dir_bytes *b = (struct dir_bytes *)sb;
	char obj[32];
	int fd, r;

	obj_name(id, obj);
	fd = openat(b->uploads_fd, obj, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		r = -errno;
		gw_error("store.upload", "cannot create upload file '%s': %s", obj, strerror(errno));
		return r;
	}
	return writer_new(b, id, fd, 0, out);
}

static int dir_resume(struct store_bytes *sb, int64_t id, uint64_t offset,
		      struct store_bytes_writer **out)
{
	struct dir_bytes *b = (struct dir_bytes *)sb;
	struct stat st;
	char obj[32];
	int fd, r;

	obj_name(id, obj);
	fd = openat(b->uploads_fd, obj, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < offset) {
		r = fstat(fd, &st) < 0 ? -errno : -ERANGE;
		close(fd);
		return r;
	}
	if (ftruncate(fd, (off_t)offset) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return writer_new(b, id, fd, offset, out);
}

static int dir_append(struct store_bytes_writer *w, const void *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;

	if (check_room(w->b, w->fd, len, w->id) < 0)
		return -ENOSPC;
	while (left) {
		/* Whole aligned blocks from an aligned buffer at an aligned
		 * offset: straight to the disk. */
		uint64_t at = w->bytes + (uint64_t)(p - (const char *)buf);
		bool direct = w->direct_fd >= 0 && left >= STORE_DIRECT_ALIGN &&
			      at % STORE_DIRECT_ALIGN == 0 && (uintptr_t)p % STORE_DIRECT_ALIGN == 0;
		size_t want = direct ? left & ~(size_t)(STORE_DIRECT_ALIGN - 1) : left;
		ssize_t n = pwrite(direct ? w->direct_fd : w->fd, p, want, (off_t)at);
		int e;

		if (n < 0 && direct && errno == EINVAL) {
			/* the file system refuses this direct write: no more */
			close(w->direct_fd);
			w->direct_fd = -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			/* What part of this chunk did land is not counted:
			 * the file keeps only the bytes it had. */
			if (ftruncate(w->fd, (off_t)w->bytes) < 0)
				gw_warn("store.upload", "cannot trim upload %lld to %llu bytes: %s",
					(long long)w->id, (unsigned long long)w->bytes, strerror(errno));
			return -e;
		}
		p += n;
		left -= (size_t)n;
	}
	w->bytes += len;
	return 0;
}

static int dir_commit(struct store_bytes_writer *w)
{
	int r;

	if (fsync(w->fd) < 0 || gw_fsync_dir(w->b->uploads_fd) < 0) {
		r = -errno;
		gw_error("store.upload", "cannot make upload %lld durable: %s", (long long)w->id,
			 strerror(errno));
		return r;
	}
	return 0;
}

/* Nothing writes them again, and the file says so to whatever else opens
 * it (hooks, filing). */
static void dir_seal(struct store_bytes_writer *w)
{
	if (fchmod(w->fd, 0440) < 0)
		gw_warn("store.upload", "cannot make upload %lld read-only: %s", (long long)w->id,
			strerror(errno));
}

static int dir_keep(struct store_bytes_writer *w, uint64_t *kept)
{
	*kept = w->bytes;
	/* on disk before its record says how much there is */
	if (fdatasync(w->fd) < 0) {
		gw_warn("store.upload", "cannot sync partial upload %lld: %s", (long long)w->id,
			strerror(errno));
		return -errno;
	}
	return 0;
}

static void dir_close(struct store_bytes_writer *w)
{
	if (!w)
		return;
	close(w->fd);
	if (w->direct_fd >= 0)
		close(w->direct_fd);
	free(w);
}

static int dir_open_read(struct store_bytes *sb, int64_t id, uint64_t offset,
			 struct store_bytes_reader **out)
{
	struct dir_bytes *b = (struct dir_bytes *)sb;
	struct store_bytes_reader *r;
	char obj[32];
	int fd;

	obj_name(id, obj);
	fd = openat(b->uploads_fd, obj, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (offset && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		close(fd);
		return -ENOMEM;
	}
	r->fd = fd;
	*out = r;
	return 0;
}

static ssize_t dir_read(struct store_bytes_reader *r, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(r->fd, buf, len);

		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static void dir_close_read(struct store_bytes_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r);
}

static int dir_size(struct store_bytes *sb, int64_t id, uint64_t *size)
{
	struct dir_bytes *b = (struct dir_bytes *)sb;
	struct stat st;
	char obj[32];

	obj_name(id, obj);
	if (fstatat(b->uploads_fd, obj, &st, 0) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int dir_remove(struct store_bytes *sb, int64_t id)
{
	struct dir_bytes *b = (struct dir_bytes *)sb;
	char obj[32];

	obj_name(id, obj);
	if (unlinkat(b->uploads_fd, obj, 0) < 0 && errno != ENOENT)
		return -errno;
	return fsync(b->uploads_fd) < 0 ? -errno : 0;
}

static int dir_room(struct store_bytes *sb, uint64_t len)
{
	struct dir_bytes *b = (struct dir_bytes *)sb;

	return check_room(b, b->uploads_fd, len, 0);
}

static void dir_free(struct store_bytes *sb)
{
	free(sb);
}

static const struct store_bytes_ops dir_ops = {
	.name = "file",
	.create = dir_create,
	.resume = dir_resume,
	.append = dir_append,
	.commit = dir_commit,
	.keep = dir_keep,
	.seal = dir_seal,
	.close = dir_close,
	.open_read = dir_open_read,
	.read = dir_read,
	.close_read = dir_close_read,
	.size = dir_size,
	.room = dir_room,
	.remove = dir_remove,
	.free = dir_free,
};

int store_bytes_dir_new(int uploads_fd, uint64_t min_free, struct store_bytes **out)
{
	struct dir_bytes *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->base.ops = &dir_ops;
	b->uploads_fd = uploads_fd;
	b->min_free = min_free;
	*out = &b->base;
	return 0;
}
