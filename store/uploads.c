/* uploads.c - receiving uploads durably, and their records.
 *
 * An upload's bytes are kept by the bytes backend (store_bytes.h: the
 * data directory's uploads/<id>); the account's view gets a hard link to
 * that file at the path the client named. Replacing the link (a later
 * STOR of the same name), removing it or renaming it leaves the upload's
 * own file as it was recorded.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "age.h"
#include "gw.h"
#include "store_bytes.h"
#include "store_int.h"
#include "store_records.h"

#define KEYS_MAX 16
#define UNSAVED_MAX 4096

struct store_unsaved {
	int64_t id;
	int64_t account_id;
	uint64_t bytes;
	char state[12];
	char error[200];
};

struct store_upload {
	int64_t id;
	int64_t account_id;
	struct store *st;
	/* Bytes of the account's quota held for this upload in its record
	 * (UINT64_MAX: the account has no quota). Writes past it hold more
	 * first, or fail with -EDQUOT: sessions running at once cannot
	 * together pass the quota. */
	uint64_t reserved;
	uint64_t start; /* offset this transfer began at */
	struct store_bytes_writer *w; /* its bytes, open for appending */
	int parent_fd; /* directory of the link in the account view */
	char view_name[GW_PATH_COMPONENT_MAX + 1];
	int64_t prev_id; /* the upload whose file the view showed before, or 0 */
	uint64_t bytes;
	EVP_MD_CTX *sha;
	char sha256[65];
	int write_error; /* first failed write, as a negative errno */
	struct age_reader *age; /* when the account requires encryption */
	int64_t key_ids[KEYS_MAX];
	char verdict[200]; /* why it was rejected */
};

uint64_t store_quota_hold(uint64_t room, uint64_t need)
{
	uint64_t want = (room - need) / 4;

	if (want < (1u << 20))
		want = 1u << 20;
	if (want > (64u << 20))
		want = 64u << 20;
	return room - need < want ? room : need + want;
}

static int insert_record(struct store *st, int64_t account_id, const char *path,
			 const char *client_address, int64_t *id)
{
	int r = st->rec->upload_insert(st, account_id, path, client_address, gw_now_ms(), id);

	if (r == 0)
		store_emit(st, "upload", *id, account_id, "receiving");
	return r;
}

static int finish_record(struct store *st, const struct store_upload *up, const char *state,
			 const char *sha256, const char *error)
{
	struct store_upload_end e = { up->id, state, up->bytes, sha256, error, 0 };
	int r;

	if (up->age && age_reader_key(up->age) >= 0)
		e.key_id = up->key_ids[age_reader_key(up->age)];
	r = st->rec->upload_end(st, &e, gw_now_ms(), false);
	if (r == 0)
		store_emit(st, "upload", up->id, up->account_id, state);
	return r;
}

/* The database refused an upload's final state: keep it to write again
 * (store_flush_unsaved) so that the record does not say 'receiving' for
 * a transfer that ended. Until then a resume of it gets 450. */
static void remember_unsaved(struct store *st, const struct store_upload *up, const char *state,
			     const char *error)
{
	struct store_unsaved *u;

	pthread_mutex_lock(&st->unsaved_lock);
	if (st->n_unsaved >= UNSAVED_MAX) {
		pthread_mutex_unlock(&st->unsaved_lock);
		gw_error("store.unsaved", "upload %lld stays 'receiving' in the database until the"
			 " next start: %d other records wait to be written", (long long)up->id,
			 UNSAVED_MAX);
		return;
	}
	if (!st->unsaved)
		st->unsaved = calloc(UNSAVED_MAX, sizeof(*st->unsaved));
	if (!st->unsaved) {
		pthread_mutex_unlock(&st->unsaved_lock);
		return;
	}
	u = &st->unsaved[st->n_unsaved++];
	u->id = up->id;
	u->account_id = up->account_id;
	u->bytes = up->bytes;
	gw_strlcpy(u->state, state, sizeof(u->state));
	gw_strlcpy(u->error, error ? error : "", sizeof(u->error));
	pthread_mutex_unlock(&st->unsaved_lock);
	gw_warn("store.unsaved", "upload %lld will be recorded as %s once the database takes"
		" writes again", (long long)up->id, state);
}

void store_flush_unsaved(struct store *st)
{
	struct store_unsaved done[64];
	size_t n_done = 0, i;

	/* under the lock of the list: one flush at a time, in order */
	pthread_mutex_lock(&st->unsaved_lock);
	while (st->n_unsaved && n_done < 64) {
		struct store_unsaved *u = &st->unsaved[st->n_unsaved - 1];
		struct store_upload_end e = { u->id, u->state, u->bytes, NULL, u->error, 0 };

		if (st->rec->upload_end(st, &e, gw_now_ms(), true) < 0)
			break; /* still refused: logged when it first failed */
		done[n_done++] = *u;
		st->n_unsaved--;
	}
	pthread_mutex_unlock(&st->unsaved_lock);
	for (i = 0; i < n_done; i++) {
		gw_info("store.unsaved", "upload %lld recorded as %s", (long long)done[i].id,
			done[i].state);
		store_emit(st, "upload", done[i].id, done[i].account_id, done[i].state);
	}
}

/* Make the upload's file visible at name in parent: link it under a
 * reserved temporary name, then rename over whatever had that name. */
static int link_into_view(struct store *st, int64_t id, int parent_fd, const char *name)
{
	char obj[32], tmp[64];

	snprintf(obj, sizeof(obj), "%lld", (long long)id);
	snprintf(tmp, sizeof(tmp), GW_RESERVED_PREFIX "%lld", (long long)id);
	if (linkat(st->uploads_fd, obj, parent_fd, tmp, 0) < 0)
		return -errno;
	if (renameat(parent_fd, tmp, parent_fd, name) < 0) {
		int e = errno;

		unlinkat(parent_fd, tmp, 0);
		return -e;
	}
	return 0;
}

/* Where the bytes before a resume offset come from: a file of the view
 * (fd), or the upload's own bytes (reader). */
struct prefix_source {
	int fd;
	struct store_bytes_reader *reader;
};

static ssize_t prefix_read(struct store *st, const struct prefix_source *src, void *buf,
			   size_t want, uint64_t at)
{
	ssize_t n;

	if (src->reader)
		return st->bytes->ops->read(src->reader, buf, want);
	do
		n = pread(src->fd, buf, want, (off_t)at);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Hash (and, with copy, append to the upload) the first len bytes of src. */
static int take_prefix(struct store_upload *up, const struct prefix_source *src, uint64_t len,
		       bool copy)
{
	const struct store_bytes_ops *ops = up->st->bytes->ops;
	unsigned char *buf = malloc(1 << 20);
	uint64_t done = 0;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	while (done < len) {
		size_t want = len - done < (1 << 20) ? (size_t)(len - done) : (1 << 20);
		ssize_t n = prefix_read(up->st, src, buf, want, done);

		if (n <= 0) {
			r = n < 0 ? (int)n : -EIO; /* shorter than it said */
			break;
		}
		if (copy && (r = ops->append(up->w, buf, (size_t)n)) < 0)
			break;
		EVP_DigestUpdate(up->sha, buf, (size_t)n);
		if (up->age && age_reader_feed(up->age, buf, (size_t)n) < 0) {
			snprintf(up->verdict, sizeof(up->verdict), "%s", age_reader_reason(up->age));
			r = -EBADMSG;
			break;
		}
		done += (uint64_t)n;
	}
	free(buf);
	if (r == 0) {
		up->bytes = len;
		up->start = len;
	}
	return r;
}

/* The upload whose file is the one at `path` in the account's view
 * (`view` is its fstat): each upload has a file of its own, so at most one
 * record matches. Its id (0: none), and its state and whether it is
 * complete (size and SHA-256 recorded, in sha256). */
struct view_upload {
	int64_t id;
	char state[16];
	bool is_complete;
	char sha256[65];
};

static void find_view_upload(struct store *st, int64_t account_id, const char *path,
			     const struct stat *view, struct view_upload *out)
{
	struct store_view_candidate c[16];
	unsigned n = 0, i;

	memset(out, 0, sizeof(*out));
	if (st->rec->upload_candidates(st, account_id, path, c, GW_ARRAY_SIZE(c), &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		char name[32];
		struct stat sb;

		snprintf(name, sizeof(name), "%lld", (long long)c[i].id);
		if (fstatat(st->uploads_fd, name, &sb, 0) < 0 || sb.st_dev != view->st_dev ||
		    sb.st_ino != view->st_ino)
			continue;
		out->id = c[i].id;
		gw_strlcpy(out->state, c[i].state, sizeof(out->state));
		out->is_complete = c[i].size >= 0 && c[i].sha256[0] && c[i].size == (int64_t)sb.st_size;
		gw_strlcpy(out->sha256, out->is_complete ? c[i].sha256 : "", sizeof(out->sha256));
		return;
	}
}

int store_upload_recorded_sha256(struct store *st, int64_t account_id, const char *path,
				 const struct stat *view, char hex[65])
{
	struct view_upload vu;

	find_view_upload(st, account_id, path, view, &vu);
	if (!vu.id || !vu.is_complete)
		return -ENOENT;
	gw_strlcpy(hex, vu.sha256, 65);
	return 0;
}

int store_upload_set_client_mtime(struct store *st, int64_t account_id, const char *path,
				  const struct stat *view, int64_t mtime_ms)
{
	struct view_upload vu;

	find_view_upload(st, account_id, path, view, &vu);
	if (!vu.id)
		return -ENOENT;
	return st->rec->upload_set_client_mtime(st, vu.id, mtime_ms, gw_now_ms());
}

/* Take a partial upload back into 'receiving', unless someone else did. */
static int claim_partial(struct store *st, int64_t id, const char *client_address)
{
	int64_t account = 0;
	int r = st->rec->upload_claim_partial(st, id, client_address, gw_now_ms(), &account);

	if (r == 0)
		store_emit(st, "upload", id, account, "receiving");
	return r;
}

static struct store_upload *upload_new(void)
{
	struct store_upload *up = calloc(1, sizeof(*up));

	if (!up)
		return NULL;
	up->parent_fd = -1;
	up->reserved = UINT64_MAX;
	up->sha = EVP_MD_CTX_new();
	if (!up->sha || !EVP_DigestInit_ex(up->sha, EVP_sha256(), NULL)) {
		store_upload_free(up);
		return NULL;
	}
	return up;
}

/* Continue the partial upload `id` in place at offset. */
static int resume_own(struct store *st, struct store_upload *up, int64_t id, uint64_t offset,
		      const char *client_address)
{
	const struct store_bytes_ops *ops = st->bytes->ops;
	struct prefix_source src = { -1, NULL };
	int r;

	r = claim_partial(st, id, client_address);
	if (r < 0)
		return r;
	up->id = id;
	r = ops->resume(st->bytes, id, offset, &up->w);
	if (r == 0)
		r = ops->open_read(st->bytes, id, &src.reader);
	if (r == 0)
		r = take_prefix(up, &src, offset, false);
	ops->close_read(src.reader);
	if (r < 0)
		goto fail;
	gw_info("upload.resume", "upload %lld resumed at byte %llu", (long long)id,
		(unsigned long long)offset);
	return 0;
fail:
	if (r == -EBADMSG) {
		store_upload_reject(st, up); /* what it held was no authentic age file */
		return r;
	}
	gw_error("store.upload", "cannot resume upload %lld: %s", (long long)id, strerror(-r));
	up->bytes = offset;
	finish_record(st, up, "partial", NULL, "could not be resumed");
	return r;
}

/* How many bytes this account's quota lets one file hold, counting every
 * upload it keeps but `own` (the one being resumed, or 0). */

static int quota_room(struct store *st, int64_t account_id, int64_t own, uint64_t *room)
{
	return st->rec->quota_room(st, account_id, own, room);
}

/* Hold room for `need` bytes of this upload (and some beyond, so that
 * not every chunk asks) in its record, if the account's quota has it:
 * checked and recorded under the connection's lock, so two uploads never
 * take the same room. The slack is a quarter of what is left, at most
 * 64 MiB: a small quota is shared out to the last byte. */
static int reserve(struct store_upload *up, uint64_t need)
{
	uint64_t held = UINT64_MAX;
	int r = up->st->rec->quota_hold(up->st, up->id, up->account_id, need, &held);

	if (r == 0)
		up->reserved = held;
	return r;
}

/* An account that requires encryption: its keys in use, to verify with. */
static int verifier(struct store *st, struct store_upload *up)
{
	uint8_t secrets[KEYS_MAX][32];
	struct store_account a;
	size_t n = 0;
	int r;

	r = st->rec->account_get(st, up->account_id, false, &a);
	if (r < 0 || !a.require_encryption)
		return r;
	r = store_key_secrets(st, up->account_id, secrets, up->key_ids, KEYS_MAX, &n);
	if (r == 0 && n == 0)
		r = -ENOKEY;
	if (r == 0)
		r = age_reader_new((const uint8_t(*)[32])secrets, n, true, NULL, NULL, &up->age);
	explicit_bzero(secrets, sizeof(secrets));
	return r;
}

int store_upload_begin(struct store *st, int64_t account_id, int root_fd, const char *path,
		       const char *client_address, enum store_upload_mode mode, uint64_t offset,
		       struct store_upload **out)
{
	struct store_upload *up;
	const char *name;
	const struct store_bytes_ops *ops = st->bytes->ops;
	struct stat sb;
	struct view_upload vu;
	struct prefix_source src = { -1, NULL };
	int r;
	int64_t own = 0;
	uint64_t room = UINT64_MAX;
	bool sb_found;

	up = upload_new();
	if (!up)
		return -ENOMEM;
	up->st = st;
	up->account_id = account_id;
	store_flush_unsaved(st); /* a resume must see how the last transfer ended */
	r = ops->room(st->bytes, 0);
	if (r < 0)
		goto fail;
	r = verifier(st, up);
	if (r < 0)
		goto fail;
	r = gw_open_parent_beneath(root_fd, path, &up->parent_fd, &name);
	if (r < 0)
		goto fail;
	gw_strlcpy(up->view_name, name, sizeof(up->view_name));
	sb_found = fstatat(up->parent_fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
	if (sb_found) {
		if (!S_ISREG(sb.st_mode)) {
			r = S_ISDIR(sb.st_mode) ? -EISDIR : -EACCES;
			goto fail;
		}
		if (mode == STORE_UPLOAD_APPEND)
			offset = (uint64_t)sb.st_size;
	} else if (mode == STORE_UPLOAD_RESUME && offset > 0) {
		r = -ENOENT;
		goto fail;
	} else {
		offset = 0;
	}
	if (offset > 0) {
		if (offset > (uint64_t)sb.st_size) {
			r = -ERANGE;
			goto fail;
		}
		find_view_upload(st, account_id, path, &sb, &vu);
		if (vu.id && !strcmp(vu.state, "receiving")) {
			r = -EBUSY;
			goto fail;
		}
		/* an upload still partial goes on in place */
		own = !strcmp(vu.state, "partial") ? vu.id : 0;
		r = quota_room(st, account_id, own, &room);
		if (r == 0 && offset >= room && room != UINT64_MAX)
			r = -EDQUOT;
		if (r < 0)
			goto fail;
		if (own) {
			r = resume_own(st, up, own, offset, client_address);
			if (r < 0)
				goto fail;
			if (room != UINT64_MAX && (r = reserve(up, offset)) < 0) {
				finish_record(st, up, "partial", NULL, r == -EDQUOT ?
					      "the account's quota is full" : "cannot hold quota for it");
				goto fail;
			}
			*out = up;
			return 0;
		}
		/* Not a partial upload of ours: its bytes stay as they are,
		 * and a copy of the first offset bytes starts a new upload. */
		src.fd = openat(up->parent_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (src.fd < 0) {
			r = -errno;
			goto fail;
		}
	}
	if (offset == 0) {
		r = quota_room(st, account_id, 0, &room);
		if (r == 0 && room == 0)
			r = -EDQUOT;
		if (r < 0)
			goto fail;
	}
	/* A new upload takes the name: what the view showed there comes
	 * back if this one is rejected. */
	if (sb_found) {
		find_view_upload(st, account_id, path, &sb, &vu);
		up->prev_id = vu.id;
	}
	r = insert_record(st, account_id, path, client_address, &up->id);
	if (r < 0)
		goto fail;
	r = ops->create(st->bytes, up->id, &up->w);
	if (r < 0) {
		finish_record(st, up, "partial", NULL, "cannot create the upload file");
		goto fail;
	}
	if (room != UINT64_MAX && (r = reserve(up, offset)) < 0) {
		finish_record(st, up, "partial", NULL, r == -EDQUOT ? "the account's quota is full"
				      : "cannot hold quota for it");
		goto fail;
	}
	if (src.fd >= 0) {
		r = take_prefix(up, &src, offset, true);
		if (r == -EBADMSG) {
			store_upload_reject(st, up);
			goto fail;
		}
		if (r < 0) {
			up->bytes = 0;
			finish_record(st, up, "partial", NULL, "cannot copy the file to resume");
			goto fail;
		}
	}
	r = link_into_view(st, up->id, up->parent_fd, name);
	if (r < 0) {
		gw_error("store.upload", "cannot link upload %lld at '%s': %s",
			 (long long)up->id, path, strerror(-r));
		finish_record(st, up, "partial", NULL, "cannot place the file in the account");
		goto fail;
	}
	if (src.fd >= 0)
		close(src.fd);
	*out = up;
	return 0;
fail:
	if (src.fd >= 0)
		close(src.fd);
	store_upload_free(up);
	return r;
}

int store_upload_write(struct store_upload *up, const void *buf, size_t len)
{
	int r;

	if (up->write_error)
		return up->write_error;
	if (up->reserved != UINT64_MAX && up->bytes + len > up->reserved) {
		r = reserve(up, up->bytes + len);

		if (r < 0) {
			up->write_error = r == -EDQUOT ? r : -EIO;
			return up->write_error;
		}
	}
	if (up->age && age_reader_feed(up->age, buf, len) < 0) {
		/* Not an authentic age file for this account: not kept. */
		snprintf(up->verdict, sizeof(up->verdict), "%s", age_reader_reason(up->age));
		up->write_error = -EBADMSG;
		return up->write_error;
	}
	r = up->st->bytes->ops->append(up->w, buf, len);
	if (r < 0) {
		/* what part of this chunk did land is not counted */
		up->write_error = r;
		return r;
	}
	up->bytes += len;
	return 0;
}

void store_upload_hash(struct store_upload *up, const void *buf, size_t len)
{
	EVP_DigestUpdate(up->sha, buf, len);
}

int store_upload_commit(struct store *st, struct store_upload *up)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	int r;

	if (up->write_error)
		return up->write_error;
	if (up->age && age_reader_finish(up->age) < 0) {
		snprintf(up->verdict, sizeof(up->verdict), "%s", age_reader_reason(up->age));
		return -EBADMSG;
	}
	r = st->bytes->ops->commit(up->w);
	if (r < 0)
		return r;
	/* the view's link to it, too */
	if (gw_fsync_dir(up->parent_fd) < 0) {
		r = -errno;
		gw_error("store.upload", "cannot make upload %lld durable: %s",
			 (long long)up->id, strerror(errno));
		return r;
	}
	EVP_DigestFinal_ex(up->sha, md, &mdlen);
	gw_hex(md, 32, up->sha256);
	r = finish_record(st, up, "received", up->sha256, NULL);
	if (r == 0)
		st->bytes->ops->seal(up->w); /* its bytes never change from here on */
	if (r < 0) {
		/* The client hears a failure, so this is not a completed
		 * upload: its bytes are all there, and a resume at its size
		 * completes it. */
		up->sha256[0] = '\0';
		remember_unsaved(st, up, "partial", "the database could not record the completed"
				 " upload; resume it to finish");
	}
	return r;
}

const char *store_upload_verdict(const struct store_upload *up)
{
	return up->verdict[0] ? up->verdict : "not an authentic age file for this account";
}

/* Take the upload's file out of the view, if the view still shows it
 * there: the file the name showed before this upload comes back (a
 * rejected attempt changes nothing the uploader sees), or the name goes. */
static void unlink_view(struct store *st, const struct store_upload *up)
{
	char obj[32];
	struct stat ob;

	snprintf(obj, sizeof(obj), "%lld", (long long)up->id);
	if (fstatat(st->uploads_fd, obj, &ob, 0) < 0)
		return;
	if (up->view_name[0]) {
		struct stat vb;

		if (fstatat(up->parent_fd, up->view_name, &vb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    vb.st_ino == ob.st_ino && vb.st_dev == ob.st_dev &&
		    (!up->prev_id || link_into_view(st, up->prev_id, up->parent_fd, up->view_name) < 0))
			unlinkat(up->parent_fd, up->view_name, 0);
		fsync(up->parent_fd);
	}
	st->bytes->ops->remove(st->bytes, up->id);
}

int store_upload_reject(struct store *st, struct store_upload *up)
{
	gw_metric_add(GW_M_UPLOADS_REJECTED, 1);
	unlink_view(st, up);
	up->bytes = 0;
	if (finish_record(st, up, "rejected", NULL, store_upload_verdict(up)) < 0)
		remember_unsaved(st, up, "rejected", store_upload_verdict(up));
	return 0;
}

int store_upload_abort(struct store *st, struct store_upload *up, const char *reason)
{
	uint64_t kept;

	/* Keep what arrived for a resume: it is durable before the record
	 * says how much there is (in object storage, what its confirmed
	 * parts hold). */
	if (up->w && st->bytes->ops->keep(up->w, &kept) == 0)
		up->bytes = kept;
	if (finish_record(st, up, "partial", NULL, reason) < 0)
		remember_unsaved(st, up, "partial", reason);
	return 0;
}

int64_t store_upload_id(const struct store_upload *up)
{
	return up->id;
}

uint64_t store_upload_start_offset(const struct store_upload *up)
{
	return up->start;
}

uint64_t store_upload_bytes(const struct store_upload *up)
{
	return up->bytes;
}

const char *store_upload_sha256(const struct store_upload *up)
{
	return up->sha256;
}

void store_upload_free(struct store_upload *up)
{
	if (!up)
		return;
	if (up->w)
		up->st->bytes->ops->close(up->w);
	if (up->parent_fd >= 0)
		close(up->parent_fd);
	EVP_MD_CTX_free(up->sha);
	age_reader_free(up->age);
	free(up);
}

