/* names.c - an account's files and directories as its FTP session sees
 * them (store.h, "names"): the directories and hard links of its root on
 * the data disk, or records (records_names.c) when the bytes are in
 * object storage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw.h"
#include "records_names.h"
#include "store_int.h"
#include "store_records.h"

struct store_name_reader {
	struct store *st;
	struct store_bytes_reader *r;
};

/* ---------------------------------------------------------------- which upload a name shows */

/* Disk: the upload whose own file is the one at path (`view` its fstat):
 * each upload has a file of its own, so at most one record matches. */
static void shown_on_disk(struct store *st, int64_t account_id, const char *path,
			  const struct stat *view, struct store_shown *out)
{
	struct store_view_candidate c[16];
	unsigned n = 0, i;

	if (st->rec->upload_candidates(st, account_id, path, c, GW_ARRAY_SIZE(c), &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		char name[32];
		struct stat sb;

		snprintf(name, sizeof(name), "%lld", (long long)c[i].id);
		if (fstatat(st->uploads_fd, name, &sb, 0) < 0 || sb.st_dev != view->st_dev ||
		    sb.st_ino != view->st_ino)
			continue;
		out->id = c[i].id;
		gw_strlcpy(out->state, c[i].state, sizeof(out->state));
		out->is_complete = c[i].size >= 0 && c[i].sha256[0] && c[i].size == (int64_t)sb.st_size;
		gw_strlcpy(out->sha256, out->is_complete ? c[i].sha256 : "", sizeof(out->sha256));
		return;
	}
}

/* Disk: a file or directory of the view (nothing else is shown, so
 * nothing else exists). */
static int stat_disk(const struct store_names *ns, const char *path, struct stat *sb)
{
	int fd, r;

	r = gw_open_beneath(ns->root_fd, path, O_PATH, 0, &fd);
	if (r < 0)
		return r;
	r = fstat(fd, sb) < 0 ? -errno : 0;
	close(fd);
	if (r == 0 && !S_ISREG(sb->st_mode) && !S_ISDIR(sb->st_mode))
		r = -ENOENT;
	return r;
}

void store_names_shown_stat(struct store *st, int64_t account_id, const char *path,
			    const struct stat *view, struct store_shown *out)
{
	memset(out, 0, sizeof(*out));
	out->exists = true;
	out->size = (uint64_t)view->st_size;
	out->is_dir = S_ISDIR(view->st_mode);
	if (!out->is_dir)
		shown_on_disk(st, account_id, path, view, out);
}

int store_names_shown(const struct store_names *ns, const char *path, struct store_shown *out)
{
	struct store_name_row row;
	int r;

	memset(out, 0, sizeof(*out));
	if (!ns->st->names_in_records) {
		struct stat sb;

		r = stat_disk(ns, path, &sb);
		if (r == 0)
			store_names_shown_stat(ns->st, ns->account_id, path, &sb, out);
		return r;
	}
	if (!strcmp(path, "/")) {
		out->exists = out->is_dir = true;
		return 0;
	}
	r = store_names_db_get(ns->st, ns->account_id, path, &row);
	if (r == 0 && !strcmp(row.state, "receiving") && ns->st->pg) {
		r = store_upload_take_over(ns->st, row.upload_id);
		if (r == 0)
			r = store_names_db_get(ns->st, ns->account_id, path, &row); /* as it is now */
		out->elsewhere = r == -EBUSY;
		if (r != 0 && r != -EINPROGRESS)
			r = 0; /* as it was */
	}
	if (r < 0)
		return r;
	out->exists = true;
	out->is_dir = !row.upload_id;
	out->id = row.upload_id;
	out->size = row.size > 0 ? (uint64_t)row.size : 0;
	out->mtime_ms = row.mtime_ms;
	out->is_complete = row.is_complete && row.sha256[0];
	gw_strlcpy(out->state, row.state, sizeof(out->state));
	gw_strlcpy(out->sha256, out->is_complete ? row.sha256 : "", sizeof(out->sha256));
	return 0;
}

/* ---------------------------------------------------------------- entries */

static uint64_t path_unique(const char *path)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *path; path++)
		h = (h ^ (unsigned char)*path) * 1099511628211ULL;
	return h;
}

static void entry_of_stat(struct store_entry *e, const char *name, const struct stat *sb)
{
	gw_strlcpy(e->name, name, sizeof(e->name));
	e->is_dir = S_ISDIR(sb->st_mode);
	e->size = (uint64_t)sb->st_size;
	e->mtime_s = sb->st_mtime;
	e->unique = ((uint64_t)sb->st_dev << 40) ^ (uint64_t)sb->st_ino;
}

static void entry_of_row(struct store_entry *e, const char *dir, const struct store_name_row *row)
{
	gw_strlcpy(e->name, row->name, sizeof(e->name));
	e->is_dir = !row->upload_id;
	e->size = e->is_dir || row->size < 0 ? 0 : (uint64_t)row->size;
	e->mtime_s = row->mtime_ms / 1000;
	if (row->upload_id) {
		e->unique = (uint64_t)row->upload_id;
	} else {
		char full[GW_PATH_MAX + 1];

		snprintf(full, sizeof(full), "%s/%s", strcmp(dir, "/") ? dir : "", row->name);
		e->unique = path_unique(full) | (1ULL << 63);
	}
}

static const char *last_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : "/";
}

int store_name_stat(const struct store_names *ns, const char *path, struct store_entry *out)
{
	struct store_shown sh;
	int r;

	if (!ns->st->names_in_records) {
		struct stat sb;

		r = stat_disk(ns, path, &sb);
		if (r == 0)
			entry_of_stat(out, last_name(path), &sb);
		return r;
	}
	r = store_names_shown(ns, path, &sh);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	gw_strlcpy(out->name, last_name(path), sizeof(out->name));
	out->is_dir = sh.is_dir;
	out->size = sh.is_dir ? 0 : sh.size;
	out->mtime_s = sh.mtime_ms / 1000;
	out->unique = sh.is_dir ? path_unique(path) | (1ULL << 63) : (uint64_t)sh.id;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_disk(const struct store_names *ns, const char *path, store_entry_fn *fn, void *arg)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	struct stat sb;
	DIR *dir;
	int fd, r;

	r = gw_open_beneath(ns->root_fd, path, O_RDONLY, 0, &fd);
	if (r < 0)
		return r;
	if (fstat(fd, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		r = S_ISREG(sb.st_mode) ? -ENOTDIR : -ENOENT;
		close(fd);
		return r;
	}
	dir = fdopendir(fd);
	if (!dir) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    gw_path_is_reserved_name(de->d_name, len))
			continue;
		if (n == cap) {
			char **p = realloc(names, (cap ? cap * 2 : 64) * sizeof(*names));

			if (!p) {
				r = -ENOMEM;
				goto out;
			}
			names = p;
			cap = cap ? cap * 2 : 64;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), by_name);
	for (i = 0; i < n && r == 0; i++) {
		struct store_entry e;

		if (fstatat(dirfd(dir), names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed meanwhile */
		if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
			continue;
		entry_of_stat(&e, names[i], &sb);
		r = fn(arg, &e);
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return r;
}

#define LIST_PAGE 256

int store_name_list(const struct store_names *ns, const char *path, store_entry_fn *fn, void *arg)
{
	struct store_name_row *rows;
	struct store_shown sh;
	char after[GW_PATH_COMPONENT_MAX + 1] = "";
	unsigned n, i;
	int r;

	if (!ns->st->names_in_records)
		return list_disk(ns, path, fn, arg);
	r = store_names_shown(ns, path, &sh);
	if (r < 0)
		return r;
	if (!sh.is_dir)
		return -ENOTDIR;
	rows = malloc(LIST_PAGE * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	do {
		r = store_names_db_list(ns->st, ns->account_id, path, after, rows, LIST_PAGE, &n);
		for (i = 0; r == 0 && i < n; i++) {
			struct store_entry e;

			entry_of_row(&e, path, &rows[i]);
			r = fn(arg, &e);
		}
		if (n)
			gw_strlcpy(after, rows[n - 1].name, sizeof(after));
	} while (r == 0 && n == LIST_PAGE);
	free(rows);
	return r;
}

int store_name_check_new_file(const struct store_names *ns, const char *path)
{
	struct store_shown sh;
	char parent[GW_PATH_MAX + 1];
	const char *slash = strrchr(path, '/');
	int r;

	if (!ns->st->names_in_records) {
		const char *name;
		struct stat sb;
		int dfd;

		r = gw_open_parent_beneath(ns->root_fd, path, &dfd, &name);
		if (r < 0)
			return r;
		if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(sb.st_mode))
			r = S_ISDIR(sb.st_mode) ? -EISDIR : -EACCES;
		close(dfd);
		return r;
	}
	if (!slash || !slash[1])
		return -EISDIR;
	snprintf(parent, sizeof(parent), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	r = store_names_shown(ns, parent, &sh);
	if (r == 0 && !sh.is_dir)
		r = -ENOTDIR;
	if (r == 0) {
		r = store_names_shown(ns, path, &sh);
		if (r == -ENOENT)
			return 0;
		if (r == 0 && sh.is_dir)
			r = -EISDIR;
	}
	return r;
}

/* Disk: op on the parent directory of path and its last name, made durable. */
static int at_parent(const struct store_names *ns, const char *path,
		     int (*op)(int dfd, const char *name))
{
	const char *name;
	int dfd, r;

	r = gw_open_parent_beneath(ns->root_fd, path, &dfd, &name);
	if (r < 0)
		return r;
	r = op(dfd, name);
	if (r == 0 && fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

static int unlink_file(int dfd, const char *name)
{
	struct stat sb;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(sb.st_mode))
		return -EISDIR;
	if (!S_ISREG(sb.st_mode))
		return -ENOENT;
	return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
}

static int make_dir(int dfd, const char *name)
{
	return mkdirat(dfd, name, 0750) < 0 ? -errno : 0;
}

static int remove_dir(int dfd, const char *name)
{
	return unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int store_name_mkdir(const struct store_names *ns, const char *path)
{
	int64_t prev;

	if (!ns->st->names_in_records)
		return at_parent(ns, path, make_dir);
	return store_names_db_put(ns->st, ns->account_id, path, 0, gw_now_ms(), &prev);
}

int store_name_rmdir(const struct store_names *ns, const char *path)
{
	if (!ns->st->names_in_records)
		return at_parent(ns, path, remove_dir);
	return store_names_db_remove(ns->st, ns->account_id, path, true);
}

int store_name_delete(const struct store_names *ns, const char *path)
{
	if (!ns->st->names_in_records)
		return at_parent(ns, path, unlink_file);
	return store_names_db_remove(ns->st, ns->account_id, path, false);
}

int store_name_rename(const struct store_names *ns, const char *from, const char *to)
{
	struct store_entry e;
	const char *n1, *n2;
	int d1, d2, r;

	if (ns->st->names_in_records)
		return store_names_db_rename(ns->st, ns->account_id, from, to);
	r = store_name_stat(ns, from, &e);
	if (r < 0)
		return r;
	r = gw_open_parent_beneath(ns->root_fd, from, &d1, &n1);
	if (r < 0)
		return r;
	r = gw_open_parent_beneath(ns->root_fd, to, &d2, &n2);
	if (r < 0) {
		close(d1);
		return r;
	}
	r = renameat(d1, n1, d2, n2) < 0 ? -errno : 0;
	if (r == 0 && (fsync(d1) < 0 || fsync(d2) < 0))
		r = -errno;
	close(d1);
	close(d2);
	return r;
}

/* Disk: a regular file of the view, open for reading. */
static int open_disk(const struct store_names *ns, const char *path, int *out_fd, struct stat *sb)
{
	int fd, r;

	r = gw_open_beneath(ns->root_fd, path, O_RDONLY, 0, &fd);
	if (r < 0)
		return r;
	if (fstat(fd, sb) < 0)
		r = -errno;
	else if (!S_ISREG(sb->st_mode))
		r = S_ISDIR(sb->st_mode) ? -EISDIR : -ENOENT;
	if (r < 0) {
		close(fd);
		return r;
	}
	*out_fd = fd;
	return 0;
}

int store_name_set_mtime(const struct store_names *ns, const char *path, int64_t mtime_s)
{
	struct store *st = ns->st;
	struct store_shown sh;
	int64_t id = 0;
	int r;

	if (st->names_in_records) {
		r = store_names_db_touch(st, ns->account_id, path, mtime_s * 1000, &id);
	} else {
		struct timespec ts[2] = { { (time_t)mtime_s, 0 }, { (time_t)mtime_s, 0 } };
		struct stat sb;
		int fd;

		r = open_disk(ns, path, &fd, &sb);
		if (r < 0)
			return r;
		if (futimens(fd, ts) < 0 || fstat(fd, &sb) < 0)
			r = -errno;
		close(fd);
		if (r < 0)
			return r;
		memset(&sh, 0, sizeof(sh));
		shown_on_disk(st, ns->account_id, path, &sb, &sh);
		id = sh.id;
		if (!id)
			return -ENOENT;
	}
	if (r == 0)
		r = st->rec->upload_set_client_mtime(st, id, mtime_s * 1000, gw_now_ms());
	return r;
}

int store_name_sha256(const struct store_names *ns, const char *path, bool read, char hex[65],
		      uint64_t *size)
{
	struct store_shown sh;
	struct stat sb;
	int fd = -1, r;

	if (ns->st->names_in_records) {
		r = store_names_shown(ns, path, &sh);
		if (r == 0 && sh.is_dir)
			r = -EISDIR;
		if (r < 0)
			return r;
		if (!sh.is_complete && !read)
			return -EAGAIN;
		if (!sh.is_complete)
			return store_upload_kept_sha256(ns->st, sh.id, hex, size);
		gw_strlcpy(hex, sh.sha256, 65);
		*size = sh.size;
		return 0;
	}
	r = open_disk(ns, path, &fd, &sb);
	if (r < 0)
		return r;
	memset(&sh, 0, sizeof(sh));
	shown_on_disk(ns->st, ns->account_id, path, &sb, &sh);
	if (sh.is_complete) {
		gw_strlcpy(hex, sh.sha256, 65);
		*size = (uint64_t)sb.st_size;
	} else {
		r = read ? store_hash_fd(fd, size, hex) : -EAGAIN;
	}
	close(fd);
	return r;
}

int store_name_open(const struct store_names *ns, const char *path, uint64_t offset, int *fd,
		    struct store_name_reader **reader, uint64_t *size)
{
	struct store *st = ns->st;
	struct store_name_reader *nr;
	struct store_shown sh;
	struct stat sb;
	int r;

	*fd = -1;
	*reader = NULL;
	if (!st->names_in_records) {
		r = open_disk(ns, path, fd, &sb);
		if (r == 0)
			*size = (uint64_t)sb.st_size;
		return r;
	}
	r = store_names_shown(ns, path, &sh);
	if (r == 0 && sh.is_dir)
		r = -EISDIR;
	if (r == 0 && !sh.is_complete)
		r = -EBUSY; /* its parts are not an object yet */
	if (r < 0)
		return r;
	nr = calloc(1, sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	nr->st = st;
	if (offset < sh.size) {
		r = st->bytes->ops->open_read(st->bytes, sh.id, offset, &nr->r);
		if (r < 0) {
			free(nr);
			return r;
		}
	}
	*reader = nr;
	*size = sh.size;
	return 0;
}

ssize_t store_name_read(struct store_name_reader *r, void *buf, size_t len)
{
	return r->r ? r->st->bytes->ops->read(r->r, buf, len) : 0;
}

void store_name_close(struct store_name_reader *r)
{
	if (!r)
		return;
	if (r->r)
		r->st->bytes->ops->close_read(r->r);
	free(r);
}
