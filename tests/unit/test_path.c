/* Path normalization and confinement beneath an account root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "gw.h"

static const char *norm(const char *cwd, const char *arg)
{
	static char out[GW_PATH_MAX + 1];
	int r = gw_path_normalize(cwd, arg, out, sizeof(out));

	if (r < 0)
		snprintf(out, sizeof(out), "error %d", r);
	return out;
}

static void test_normalize(void)
{
	char longname[300], longpath[2100];
	size_t i;

	CHECK_STR(norm("/", ""), "/");
	CHECK_STR(norm("/", "a"), "/a");
	CHECK_STR(norm("/a", "b"), "/a/b");
	CHECK_STR(norm("/a", "/b"), "/b");
	CHECK_STR(norm("/a/b", ".."), "/a");
	CHECK_STR(norm("/", ".."), "/");
	CHECK_STR(norm("/", "../../../etc/passwd"), "/etc/passwd");
	CHECK_STR(norm("/a", "../../.."), "/");
	CHECK_STR(norm("/", "a//b/./c/"), "/a/b/c");
	CHECK_STR(norm("/", "./.."), "/");
	CHECK_STR(norm("/", "..."), "/...");
	CHECK_STR(norm("/", "a b"), "/a b");
	CHECK_STR(norm("/", "\xc3\xa9t\xc3\xa9.age"), "/\xc3\xa9t\xc3\xa9.age");
	CHECK_STR(norm("/", "a\\..\\b"), "error -22");
	CHECK_STR(norm("/", "a\tb"), "error -22");
	CHECK_STR(norm("/", "a\x7f"), "error -22");
	CHECK_STR(norm("/", ".ftpsgate-12"), "error -22");
	CHECK_STR(norm("/", "x/.ftpsgate-tmp/y"), "error -22");
	CHECK_STR(norm("/", ".ftpsgat"), "/.ftpsgat");

	memset(longname, 'n', 256);
	longname[256] = '\0';
	CHECK_STR(norm("/", longname), "error -36");
	for (i = 0; i < sizeof(longpath) - 1; i++)
		longpath[i] = (i % 2) ? '/' : 'a';
	longpath[sizeof(longpath) - 1] = '\0';
	CHECK_STR(norm("/", longpath), "error -36");

	/* Idempotent: a normalized path normalizes to itself. */
	{
		const char *samples[] = { "/", "/a", "/a/b c/d", "/..." };

		for (i = 0; i < GW_ARRAY_SIZE(samples); i++) {
			char once[GW_PATH_MAX + 1];

			gw_strlcpy(once, norm("/", samples[i]), sizeof(once));
			CHECK_STR(norm("/", once), once);
			CHECK_STR(norm("/x/y", once), once);
		}
	}
}

static void test_beneath(void)
{
	char tmpl[] = "/tmp/ftpsgate-path-XXXXXX";
	char *base = mkdtemp(tmpl), p[512];
	int root, fd = -1, dfd = -1;
	const char *name = NULL;

	CHECK(base != NULL);
	if (!base)
		return;
	snprintf(p, sizeof(p), "%s/root", base);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/root/sub", base);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/secret", base);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	snprintf(p, sizeof(p), "%s/root/escape", base);
	CHECK_INT(symlink("../secret", p), 0);
	snprintf(p, sizeof(p), "%s/root/abs", base);
	CHECK_INT(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/root", base);
	root = open(p, O_RDONLY | O_DIRECTORY);
	CHECK(root >= 0);

	CHECK_INT(gw_open_beneath(root, "/", O_RDONLY | O_DIRECTORY, 0, &fd), 0);
	close(fd);
	CHECK_INT(gw_open_beneath(root, "/sub", O_RDONLY | O_DIRECTORY, 0, &fd), 0);
	close(fd);
	CHECK_INT(gw_open_beneath(root, "/sub/new", O_WRONLY | O_CREAT, 0600, &fd), 0);
	close(fd);
	/* symlinks are never followed, wherever they point */
	CHECK_INT(gw_open_beneath(root, "/escape", O_RDONLY, 0, &fd), -EACCES);
	CHECK_INT(gw_open_beneath(root, "/abs", O_RDONLY, 0, &fd), -EACCES);
	CHECK_INT(gw_open_beneath(root, "/missing", O_RDONLY, 0, &fd), -ENOENT);
	CHECK_INT(gw_open_beneath(root, "relative", O_RDONLY, 0, &fd), -EINVAL);
	CHECK_INT(gw_open_parent_beneath(root, "/sub/file", &dfd, &name), 0);
	CHECK_STR(name, "file");
	close(dfd);
	CHECK_INT(gw_open_parent_beneath(root, "/top", &dfd, &name), 0);
	CHECK_STR(name, "top");
	close(dfd);
	CHECK_INT(gw_open_parent_beneath(root, "/", &dfd, &name), -EINVAL);
	CHECK_INT(gw_open_parent_beneath(root, "/nodir/file", &dfd, &name), -ENOENT);
	close(root);
	{
		const char *files[] = { "root/sub/new", "root/escape", "root/abs", "secret",
					"root/sub", "root", "" };
		size_t i;

		for (i = 0; i < GW_ARRAY_SIZE(files); i++) {
			snprintf(p, sizeof(p), "%s/%s", base, files[i]);
			if (unlink(p) < 0)
				rmdir(p);
		}
	}
}

int main(void)
{
	test_normalize();
	test_beneath();
	return check_report("test_path");
}
