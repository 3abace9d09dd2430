/* view.c - listings and facts of an account's files. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "view.h"

int ftpd_view_facts(const struct store_entry *e, const char *name, struct gw_buf *out)
{
	char modify[32];
	time_t t = (time_t)e->mtime_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(modify, sizeof(modify), "%Y%m%d%H%M%S", &tm);
	/* perm: files can be appended, deleted, renamed, read, written;
	 * directories entered, deleted, renamed, listed, made in, stored in */
	return gw_buf_addf(out, "type=%s;size=%llu;modify=%s;perm=%s;unique=%llx; %s",
			   e->is_dir ? "dir" : "file", (unsigned long long)e->size, modify,
			   e->is_dir ? "cdeflmp" : "adfrw", (unsigned long long)e->unique, name);
}

struct listing {
	struct gw_buf *out;
	enum ftpd_view_format format;
	int64_t now_ms;
};

static int add_line(void *arg, const struct store_entry *e)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	const struct listing *l = arg;
	char when[48];
	struct tm tm;
	time_t t = (time_t)e->mtime_s;
	int64_t age_s = l->now_ms / 1000 - e->mtime_s;

	if (l->format == FTPD_VIEW_NAMES)
		return gw_buf_addf(l->out, "%s\r\n", e->name);
	if (l->format == FTPD_VIEW_FACTS) {
		int r = ftpd_view_facts(e, e->name, l->out);

		return r < 0 ? r : gw_buf_adds(l->out, "\r\n");
	}
	gmtime_r(&t, &tm);
	/* ls: the time for the last six months, the year otherwise. */
	if (age_s > 182LL * 24 * 3600 || age_s < -3600)
		snprintf(when, sizeof(when), "%s %2d  %04d", months[tm.tm_mon], tm.tm_mday,
			 tm.tm_year + 1900);
	else
		snprintf(when, sizeof(when), "%s %2d %02d:%02d", months[tm.tm_mon], tm.tm_mday,
			 tm.tm_hour, tm.tm_min);
	return gw_buf_addf(l->out, "%s    1 ftp      ftp      %12llu %s %s\r\n",
			   e->is_dir ? "drwxr-x---" : "-rw-r-----", (unsigned long long)e->size,
			   when, e->name);
}

int ftpd_view_list(const struct store_names *ns, const char *path, enum ftpd_view_format format,
		   int64_t now_ms, struct gw_buf *out)
{
	struct listing l = { out, format, now_ms };
	struct store_entry e;
	int r = store_name_list(ns, path, add_line, &l);

	if (r != -ENOTDIR)
		return r;
	if (format == FTPD_VIEW_FACTS)
		return -ENOTDIR; /* MLSD lists directories only */
	r = store_name_stat(ns, path, &e);
	return r < 0 ? r : add_line(&l, &e);
}
