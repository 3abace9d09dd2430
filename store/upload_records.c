/* upload_records.c - what the API reads and changes of uploads: their
 * records (with live progress from their bytes), a failed import queued
 * again, a purge (bytes gone, the record kept as a tombstone), counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw.h"
#include "records_names.h"
#include "store_int.h"
#include "store_records.h"

static const char *const states[] = {
	"receiving", "partial", "received", "verifying", "verified",
	"rejected", "importing", "imported", "failed",
};

bool store_upload_state_is_valid(const char *state)
{
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(states); i++)
		if (!strcmp(states[i], state))
			return true;
	return false;
}

/* Live progress of a running upload comes from its bytes, not from
 * record updates. */
static void live_progress(struct store *st, struct store_upload_info *u)
{
	uint64_t size;

	if (!strcmp(u->state, "receiving") && st->bytes->ops->size(st->bytes, u->id, &size) == 0)
		u->bytes_received = (int64_t)size;
}

int store_upload_get(struct store *st, int64_t id, struct store_upload_info *out)
{
	int r = st->rec->upload_get(st, id, out);

	if (r == 0)
		live_progress(st, out);
	return r;
}

int store_upload_list(struct store *st, const struct store_upload_filter *f, int64_t before_id,
		      unsigned max, struct store_upload_info *items, unsigned *n, bool *more)
{
	int r = st->rec->upload_list(st, f, before_id, max, items, n, more);

	for (unsigned i = 0; r == 0 && i < *n; i++)
		live_progress(st, &items[i]);
	return r;
}

int store_upload_retry(struct store *st, int64_t id, struct store_upload_info *out)
{
	bool changed = false;
	int r = st->rec->upload_retry(st, id, gw_now_ms(), &changed);

	if (r < 0)
		return r;
	r = store_upload_get(st, id, out);
	if (r == 0 && changed)
		store_emit(st, "upload", id, out->account_id, "verified");
	if (r == 0 && !changed)
		r = -EPERM;
	return r;
}

int store_upload_purge(struct store *st, int64_t id, struct store_upload_info *out)
{
	char obj[32], view[64];
	struct stat ob, vb;
	int r, root = -1, dfd = -1;
	bool changed = false;
	const char *name;

	/* The record first, and only while no one works on the upload: a
	 * transfer, a verification or an import reading its bytes. Workers
	 * claim only records not purged, so once this is committed nothing
	 * starts on it, and a crash before the file is gone leaves a record
	 * that says purged, whose file the next purge removes. */
	r = st->rec->upload_mark_purged(st, id, gw_now_ms(), &changed);
	if (r < 0)
		return r;
	r = store_upload_get(st, id, out);
	if (r < 0)
		return r;
	if (!changed && !out->purged_at_ms)
		return -EBUSY; /* receiving, verifying or importing: out->state says */
	if (st->names_in_records) {
		/* its names go with it; the object (or the parts) too */
		r = store_names_db_forget(st, id);
		if (r == 0)
			r = st->bytes->ops->remove(st->bytes, id);
		if (r < 0) {
			gw_error("store.purge", "cannot remove the bytes of upload %lld: %s",
				 (long long)id, strerror(-r));
			return r;
		}
		if (changed)
			store_emit(st, "upload", id, out->account_id, "purged");
		return 0;
	}
	snprintf(obj, sizeof(obj), "%lld", (long long)id);
	snprintf(view, sizeof(view), "%lld", (long long)out->account_id);
	/* The account's view loses its link only if it is still this file;
	 * purging twice removes what a crash left. */
	if (fstatat(st->uploads_fd, obj, &ob, 0) == 0) {
		root = openat(st->accounts_fd, view, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (root >= 0 && gw_open_parent_beneath(root, out->path, &dfd, &name) == 0 &&
		    fstatat(dfd, name, &vb, AT_SYMLINK_NOFOLLOW) == 0 && vb.st_ino == ob.st_ino &&
		    vb.st_dev == ob.st_dev) {
			unlinkat(dfd, name, 0);
			fsync(dfd);
		}
		r = st->bytes->ops->remove(st->bytes, id);
		if (r < 0) {
			gw_error("store.purge", "cannot remove the file of upload %lld: %s",
				 (long long)id, strerror(-r));
			goto out;
		}
	}
	if (changed)
		store_emit(st, "upload", id, out->account_id, "purged");
out:
	if (dfd >= 0)
		close(dfd);
	if (root >= 0)
		close(root);
	return r;
}

int store_upload_counts(struct store *st, int64_t counts[STORE_STATES])
{
	return st->rec->upload_counts(st, counts);
}

const char *store_upload_state_name(size_t i)
{
	return i < GW_ARRAY_SIZE(states) ? states[i] : NULL;
}
