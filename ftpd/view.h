/* view.h - an account's files as its FTP session sees them. Paths are
 * normalized FTP paths; every open stays beneath the account root. */
#ifndef FTPSGATE_FTPD_VIEW_H
#define FTPSGATE_FTPD_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "gw.h"

/* 0 when path is a directory, -ENOTDIR, -ENOENT, ... */
int ftpd_view_check_dir(int root_fd, const char *path);
/* 0 when a file can be stored at path: its directory exists and path is
 * not a directory or anything but a regular file. */
int ftpd_view_check_new_file(int root_fd, const char *path);
/* Size of a regular file: -ENOENT, -EISDIR, ... */
int ftpd_view_size(int root_fd, const char *path, uint64_t *size);
/* Append a listing of path (a directory, or one file) to out: "ls -l"
 * lines as FileZilla and WinSCP parse them, or bare names. Names the
 * gateway reserves are left out. */
int ftpd_view_list(int root_fd, const char *path, bool names_only, int64_t now_ms,
		   struct gw_buf *out);

#endif
