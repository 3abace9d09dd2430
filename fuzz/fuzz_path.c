/* Fuzz the path normalizer: whatever the input, the result is absolute,
 * has no empty, "." or ".." component, no control character, and
 * normalizes to itself from any directory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

static void check(const char *p)
{
	const char *c;

	if (p[0] != '/')
		abort();
	if (strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
		abort();
	if (strlen(p) > 1 && p[strlen(p) - 1] == '/')
		abort();
	c = strrchr(p, '/');
	if (!strcmp(c, "/..") || !strcmp(c, "/."))
		abort();
	for (c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[4096], cwd[GW_PATH_MAX + 1], out[GW_PATH_MAX + 1], again[GW_PATH_MAX + 1];
	const uint8_t *split;
	size_t n;

	if (size >= sizeof(in))
		return 0;
	/* input: CWD-ARG, NUL-separated; CWD is normalized first */
	split = memchr(data, 0, size);
	n = split ? (size_t)(split - data) : 0;
	memcpy(in, data, n);
	in[n] = '\0';
	if (gw_path_normalize("/", in, cwd, sizeof(cwd)) < 0)
		return 0;
	check(cwd);
	n = split ? size - n - 1 : size;
	memcpy(in, split ? split + 1 : data, n);
	in[n] = '\0';
	if (strlen(in) != n)
		return 0; /* a NUL inside never reaches the normalizer */
	if (gw_path_normalize(cwd, in, out, sizeof(out)) < 0)
		return 0;
	check(out);
	if (gw_path_normalize("/anywhere/else", out, again, sizeof(again)) < 0 || strcmp(out, again))
		abort();
	return 0;
}
