/* records_names.h - an account's names as records (records_names.c), for
 * names.c and uploads.c. Not for other parts. All BLOCKING. */
#ifndef FTPSGATE_STORE_RECORDS_NAMES_H
#define FTPSGATE_STORE_RECORDS_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "gw_limits.h"

struct store;

/* Directories a renamed directory may hold, at most. */
#define GW_NAMES_SUBDIRS_MAX 65536

/* One name: a directory (upload_id 0) or a file, with its upload's facts. */
struct store_name_row {
	char name[GW_PATH_COMPONENT_MAX + 1];
	int64_t upload_id; /* 0: a directory */
	int64_t mtime_ms;
	char state[16];
	int64_t size; /* the upload's size, or the bytes it keeps */
	bool is_complete;
	char sha256[65];
	bool found;
};

int store_names_db_get(struct store *st, int64_t account, const char *path,
		       struct store_name_row *out);
/* Names in directory dir after `after` (""), by name, at most max. */
int store_names_db_list(struct store *st, int64_t account, const char *dir, const char *after,
			struct store_name_row *rows, unsigned max, unsigned *n);
/* path shows upload_id from now on (0: path becomes a directory);
 * *prev: the upload it showed before (0: none). -ENOENT (no such
 * directory), -ENOTDIR, -EISDIR, -EEXIST (a directory made again). */
int store_names_db_put(struct store *st, int64_t account, const char *path, int64_t upload_id,
		       int64_t now_ms, int64_t *prev);
/* If path still shows upload_id: it shows prev_id again (when its bytes
 * are kept), or goes. */
int store_names_db_unput(struct store *st, int64_t account, const char *path, int64_t upload_id,
			 int64_t prev_id);
/* Remove a file's name, or an empty directory. */
int store_names_db_remove(struct store *st, int64_t account, const char *path, bool dir);
int store_names_db_rename(struct store *st, int64_t account, const char *from, const char *to);
/* A file's time; *upload_id: the upload it shows. */
int store_names_db_touch(struct store *st, int64_t account, const char *path, int64_t mtime_ms,
			 int64_t *upload_id);
/* Names that show upload_id go (its bytes were purged). */
int store_names_db_forget(struct store *st, int64_t upload_id);

#endif
