/* path.c - FTP path normalization and opening files beneath a root.
 *
 * Two layers keep an account inside its root: a pure normalizer that can
 * never produce a path above "/", and opens that the kernel confines to the
 * root directory fd (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or a
 * per-component O_NOFOLLOW walk on kernels without openat2).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gw.h"

bool gw_path_is_reserved_name(const char *name, size_t len)
{
	size_t plen = sizeof(GW_RESERVED_PREFIX) - 1;

	return len >= plen && memcmp(name, GW_RESERVED_PREFIX, plen) == 0;
}

/* Append one component to out (which holds a normalized path). */
static int push(char *out, size_t *len, size_t size, const char *c, size_t n)
{
	size_t need = *len + (*len > 1 ? 1 : 0) + n;

	if (n > GW_PATH_COMPONENT_MAX)
		return -ENAMETOOLONG;
	if (need >= size || need > GW_PATH_MAX)
		return -ENAMETOOLONG;
	if (*len > 1)
		out[(*len)++] = '/';
	memcpy(out + *len, c, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

static void pop(char *out, size_t *len)
{
	char *slash = strrchr(out, '/');

	*len = slash == out ? 1 : (size_t)(slash - out);
	out[*len] = '\0';
}

static int walk(char *out, size_t *len, size_t size, const char *p)
{
	while (*p) {
		const char *start, *q;
		size_t n;
		int r;

		while (*p == '/')
			p++;
		start = p;
		for (q = p; *q && *q != '/'; q++) {
			unsigned char c = (unsigned char)*q;

			if (c < 0x20 || c == 0x7f || c == '\\')
				return -EINVAL;
		}
		n = (size_t)(q - start);
		p = q;
		if (n == 0 || (n == 1 && start[0] == '.'))
			continue;
		if (n == 2 && start[0] == '.' && start[1] == '.') {
			pop(out, len);
			continue;
		}
		if (gw_path_is_reserved_name(start, n))
			return -EINVAL;
		r = push(out, len, size, start, n);
		if (r < 0)
			return r;
	}
	return 0;
}

int gw_path_normalize(const char *cwd, const char *arg, char *out, size_t out_size)
{
	char tmp[GW_PATH_MAX + 1];
	size_t len = 1;
	int r;

	if (out_size < 2)
		return -ENAMETOOLONG;
	tmp[0] = '/';
	tmp[1] = '\0';
	if (arg[0] != '/') {
		r = walk(tmp, &len, sizeof(tmp), cwd);
		if (r < 0)
			return r;
	}
	r = walk(tmp, &len, sizeof(tmp), arg);
	if (r < 0)
		return r;
	if (len >= out_size)
		return -ENAMETOOLONG;
	memcpy(out, tmp, len + 1);
	return 0;
}

static int walk_open(int root, const char *rel, int flags, unsigned mode, int *out_fd)
{
	char comp[GW_PATH_COMPONENT_MAX + 1];
	int dir = root, fd;

	for (;;) {
		const char *slash = strchr(rel, '/');
		size_t n = slash ? (size_t)(slash - rel) : strlen(rel);

		if (n > GW_PATH_COMPONENT_MAX) {
			if (dir != root)
				close(dir);
			return -ENAMETOOLONG;
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		if (!slash) {
			fd = openat(dir, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			if (fd < 0)
				fd = -errno;
		} else {
			fd = openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				fd = -errno;
		}
		if (dir != root)
			close(dir);
		if (fd < 0)
			return fd == -ELOOP ? -EACCES : fd;
		if (!slash) {
			*out_fd = fd;
			return 0;
		}
		dir = fd;
		rel = slash + 1;
	}
}

int gw_open_beneath(int root, const char *path, int flags, unsigned mode, int *out_fd)
{
	static int have_openat2 = 1;
	struct open_how how;
	const char *rel;
	long fd;

	if (path[0] != '/')
		return -EINVAL;
	rel = path[1] ? path + 1 : ".";
	if (__atomic_load_n(&have_openat2, __ATOMIC_RELAXED)) {
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(flags | O_CLOEXEC);
		how.mode = (flags & O_CREAT) ? mode : 0;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		fd = syscall(SYS_openat2, root, rel, &how, sizeof(how));
		if (fd >= 0) {
			*out_fd = (int)fd;
			return 0;
		}
		if (errno != ENOSYS)
			return errno == ELOOP || errno == EXDEV ? -EACCES : -errno;
		__atomic_store_n(&have_openat2, 0, __ATOMIC_RELAXED);
	}
	if (!path[1]) {
		fd = openat(root, ".", flags | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		*out_fd = (int)fd;
		return 0;
	}
	return walk_open(root, rel, flags, mode, out_fd);
}

int gw_open_parent_beneath(int root, const char *path, int *out_dirfd, const char **out_name)
{
	char parent[GW_PATH_MAX + 1];
	const char *slash = strrchr(path, '/');
	size_t n;
	int r, fd = -1;

	if (path[0] != '/' || !path[1] || !slash || !slash[1])
		return -EINVAL;
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1;
	if (n > GW_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(parent, path, n);
	parent[n] = '\0';
	r = gw_open_beneath(root, parent, O_RDONLY | O_DIRECTORY, 0, &fd);
	if (r < 0)
		return r;
	*out_dirfd = fd;
	*out_name = slash + 1;
	return 0;
}
