/* view.h - an account's files as its FTP session shows them: replies
 * and listings made from the store's entries (store.h, "names"). */
#ifndef FTPSGATE_FTPD_VIEW_H
#define FTPSGATE_FTPD_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "gw.h"
#include "store.h"

enum ftpd_view_format { FTPD_VIEW_LS, FTPD_VIEW_NAMES, FTPD_VIEW_FACTS };

/* RFC 3659 facts of e followed by a space and `name`:
 * "type=file;size=5;modify=20261129135019;perm=adfrw;unique=1a2b; name" */
int ftpd_view_facts(const struct store_entry *e, const char *name, struct gw_buf *out);

/* BLOCKING (the store). Append a listing of path (a directory, or one
 * file) to out: "ls -l" lines as FileZilla and WinSCP parse them, bare
 * names, or MLSD facts lines (directories only: -ENOTDIR). Names the
 * gateway reserves are left out. */
int ftpd_view_list(const struct store_names *ns, const char *path, enum ftpd_view_format format,
		   int64_t now_ms, struct gw_buf *out);

#endif
