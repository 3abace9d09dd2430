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
/* Modification time, seconds since the epoch. */
int ftpd_view_mtime(int root_fd, const char *path, int64_t *mtime_s);
/* RFC 3659 facts of path followed by a space and `name`:
 * "type=file;size=5;modify=20261129135019;perm=adfrw;unique=803x1a2b; name" */
int ftpd_view_facts(int root_fd, const char *path, const char *name, struct gw_buf *out);
int ftpd_view_delete(int root_fd, const char *path);
int ftpd_view_exists(int root_fd, const char *path);
int ftpd_view_rename(int root_fd, const char *from, const char *to);
int ftpd_view_mkdir(int root_fd, const char *path);
int ftpd_view_rmdir(int root_fd, const char *path);
/* Open a regular file for reading; its size in *size. */
int ftpd_view_open_file(int root_fd, const char *path, int *out_fd, uint64_t *size);

enum ftpd_view_format { FTPD_VIEW_LS, FTPD_VIEW_NAMES, FTPD_VIEW_FACTS };

/* Append a listing of path (a directory, or one file) to out: "ls -l"
 * lines as FileZilla and WinSCP parse them, bare names, or MLSD facts
 * lines. Names the gateway reserves are left out. */
int ftpd_view_list(int root_fd, const char *path, enum ftpd_view_format format, int64_t now_ms,
		   struct gw_buf *out);

#endif
