/* Fuzz the config loader: a JSON file, then FTPSGATE_* variables (the
 * input's text after a NUL, one per line). Whatever the input, loading
 * ends with a valid configuration or an error that names the problem. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"
#include "gw_config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "/tmp/fuzz-config-%d.json", (int)getpid());
	atexit(remove_file);
	return 0;
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char envbuf[8192], err[1024];
	const char *envp[65];
	const uint8_t *split = memchr(data, 0, size);
	size_t file_len = split ? (size_t)(split - data) : size;
	struct gw_config c;
	size_t n = 0;
	FILE *f;
	char *p;
	int r;

	f = fopen(path, "wb");
	if (!f)
		abort();
	fwrite(data, 1, file_len, f);
	fclose(f);
	envbuf[0] = '\0';
	if (split) {
		size_t len = size - file_len - 1;

		if (len >= sizeof(envbuf))
			len = sizeof(envbuf) - 1;
		memcpy(envbuf, split + 1, len);
		envbuf[len] = '\0';
		for (p = envbuf; *p && n < 64;) {
			char *nl = strchr(p, '\n');

			envp[n++] = p;
			if (!nl)
				break;
			*nl = '\0';
			p = nl + 1;
		}
	}
	envp[n] = NULL;
	gw_config_defaults(&c);
	err[0] = '\0';
	r = gw_config_load(&c, path, envp, err, sizeof(err));
	if (r < 0) {
		if (!err[0])
			abort(); /* every refusal says why */
		return 0;
	}
	if (!terminated(c.data_dir, sizeof(c.data_dir)) || !c.data_dir[0] ||
	    !terminated(c.user, sizeof(c.user)) || !terminated(c.tls_ciphers, sizeof(c.tls_ciphers)))
		abort();
	if (c.passive_min > c.passive_max || c.passive_min == 0)
		abort();
	if (strcmp(c.tls_min_version, "1.2") && strcmp(c.tls_min_version, "1.3"))
		abort();
	if (strcmp(c.import_stdin, "none") && strcmp(c.import_stdin, "plaintext"))
		abort();
	return 0;
}
