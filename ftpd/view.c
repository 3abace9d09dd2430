/* view.c - listings and look-ups in an account's root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "view.h"

static int add_facts(struct gw_buf *out, const char *name, const struct stat *sb);

int ftpd_view_check_dir(int root_fd, const char *path)
{
	int fd, r;

	r = gw_open_beneath(root_fd, path, O_RDONLY | O_DIRECTORY, 0, &fd);
	if (r < 0)
		return r;
	close(fd);
	return 0;
}

int ftpd_view_check_new_file(int root_fd, const char *path)
{
	const char *name;
	struct stat sb;
	int dfd, r;

	r = gw_open_parent_beneath(root_fd, path, &dfd, &name);
	if (r < 0)
		return r;
	r = 0;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(sb.st_mode))
		r = S_ISDIR(sb.st_mode) ? -EISDIR : -EACCES;
	close(dfd);
	return r;
}

static int stat_path(int root_fd, const char *path, struct stat *sb)
{
	int fd, r;

	r = gw_open_beneath(root_fd, path, O_PATH, 0, &fd);
	if (r < 0)
		return r;
	r = fstat(fd, sb) < 0 ? -errno : 0;
	close(fd);
	if (r == 0 && !S_ISREG(sb->st_mode) && !S_ISDIR(sb->st_mode))
		r = -ENOENT; /* nothing else is shown, so nothing else exists */
	return r;
}

int ftpd_view_mtime(int root_fd, const char *path, int64_t *mtime_s)
{
	struct stat sb;
	int r = stat_path(root_fd, path, &sb);

	if (r < 0)
		return r;
	*mtime_s = sb.st_mtime;
	return 0;
}

int ftpd_view_facts(int root_fd, const char *path, const char *name, struct gw_buf *out)
{
	struct stat sb;
	int r = stat_path(root_fd, path, &sb);

	return r < 0 ? r : add_facts(out, name, &sb);
}

int ftpd_view_exists(int root_fd, const char *path)
{
	struct stat sb;

	return stat_path(root_fd, path, &sb);
}

/* Run op on the parent directory of path and its last name. */
static int at_parent(int root_fd, const char *path, int (*op)(int dfd, const char *name))
{
	const char *name;
	int dfd, r;

	r = gw_open_parent_beneath(root_fd, path, &dfd, &name);
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

int ftpd_view_delete(int root_fd, const char *path)
{
	return at_parent(root_fd, path, unlink_file);
}

int ftpd_view_mkdir(int root_fd, const char *path)
{
	return at_parent(root_fd, path, make_dir);
}

int ftpd_view_rmdir(int root_fd, const char *path)
{
	return at_parent(root_fd, path, remove_dir);
}

int ftpd_view_rename(int root_fd, const char *from, const char *to)
{
	const char *n1, *n2;
	int d1, d2, r;

	if (ftpd_view_exists(root_fd, from) < 0)
		return -ENOENT;
	r = gw_open_parent_beneath(root_fd, from, &d1, &n1);
	if (r < 0)
		return r;
	r = gw_open_parent_beneath(root_fd, to, &d2, &n2);
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

int ftpd_view_open_file(int root_fd, const char *path, int *out_fd, uint64_t *size)
{
	struct stat sb;
	int fd, r;

	r = gw_open_beneath(root_fd, path, O_RDONLY, 0, &fd);
	if (r < 0)
		return r;
	if (fstat(fd, &sb) < 0)
		r = -errno;
	else if (!S_ISREG(sb.st_mode))
		r = S_ISDIR(sb.st_mode) ? -EISDIR : -ENOENT;
	if (r < 0) {
		close(fd);
		return r;
	}
	*out_fd = fd;
	*size = (uint64_t)sb.st_size;
	return 0;
}

int ftpd_view_size(int root_fd, const char *path, uint64_t *size)
{
	struct stat sb;
	int fd, r;

	r = gw_open_beneath(root_fd, path, O_PATH, 0, &fd);
	if (r < 0)
		return r;
	r = fstat(fd, &sb) < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	if (!S_ISREG(sb.st_mode))
		return S_ISDIR(sb.st_mode) ? -EISDIR : -EACCES;
	*size = (uint64_t)sb.st_size;
	return 0;
}

static int add_facts(struct gw_buf *out, const char *name, const struct stat *sb)
{
	char modify[32];
	time_t t = sb->st_mtime;
	struct tm tm;
	bool dir = S_ISDIR(sb->st_mode);

	gmtime_r(&t, &tm);
	strftime(modify, sizeof(modify), "%Y%m%d%H%M%S", &tm);
	/* perm: files can be appended, deleted, renamed, read, written;
	 * directories entered, deleted, renamed, listed, made in, stored in */
	return gw_buf_addf(out, "type=%s;size=%lld;modify=%s;perm=%s;unique=%llxx%llx; %s",
			   dir ? "dir" : "file", (long long)sb->st_size, modify,
			   dir ? "cdeflmp" : "adfrw", (unsigned long long)sb->st_dev,
			   (unsigned long long)sb->st_ino, name);
}

static int add_line(struct gw_buf *out, const char *name, const struct stat *sb,
		    enum ftpd_view_format format, int64_t now_ms)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char when[48];
	struct tm tm;
	time_t t = sb->st_mtime;
	int64_t age_s = now_ms / 1000 - (int64_t)t;

	if (format == FTPD_VIEW_NAMES)
		return gw_buf_addf(out, "%s\r\n", name);
	if (format == FTPD_VIEW_FACTS) {
		int r = add_facts(out, name, sb);

		return r < 0 ? r : gw_buf_adds(out, "\r\n");
	}
	gmtime_r(&t, &tm);
	/* ls: the time for the last six months, the year otherwise. */
	if (age_s > 182LL * 24 * 3600 || age_s < -3600)
		snprintf(when, sizeof(when), "%s %2d  %04d", months[tm.tm_mon], tm.tm_mday,
			 tm.tm_year + 1900);
	else
		snprintf(when, sizeof(when), "%s %2d %02d:%02d", months[tm.tm_mon], tm.tm_mday,
			 tm.tm_hour, tm.tm_min);
	return gw_buf_addf(out, "%s    1 ftp      ftp      %12lld %s %s\r\n",
			   S_ISDIR(sb->st_mode) ? "drwxr-x---" : "-rw-r-----",
			   (long long)sb->st_size, when, name);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ftpd_view_list(int root_fd, const char *path, enum ftpd_view_format format, int64_t now_ms,
		   struct gw_buf *out)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	struct stat sb;
	DIR *dir;
	int fd, r;

	r = gw_open_beneath(root_fd, path, O_RDONLY, 0, &fd);
	if (r < 0)
		return r;
	if (fstat(fd, &sb) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (S_ISREG(sb.st_mode)) {
		const char *base = strrchr(path, '/') + 1;

		close(fd);
		if (format == FTPD_VIEW_FACTS)
			return -ENOTDIR; /* MLSD lists directories only */
		return add_line(out, base, &sb, format, now_ms);
	}
	if (!S_ISDIR(sb.st_mode)) {
		close(fd);
		return -ENOENT;
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
		if (fstatat(dirfd(dir), names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed meanwhile */
		if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
			continue;
		r = add_line(out, names[i], &sb, format, now_ms);
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return r;
}
