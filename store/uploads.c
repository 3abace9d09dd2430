/* uploads.c - receiving uploads durably, and their records.
 *
 * An upload's bytes are kept by the bytes backend (store_bytes.h): the
 * data directory's uploads/<id>, or an object in object storage. The
 * account's names show it at the path the client named: a hard link to
 * that file in the account's view on disk, or a name in the records
 * (names.c). Replacing the name (a later STOR of the same name),
 * removing it or renaming it leaves the upload's own bytes as they were
 * recorded.
 *
 * In object storage the bytes go in parts, and the parts of an upload
 * not yet completed cannot be read back: so the SHA-256 runs in the
 * write path, and at the end of each part its state and the age
 * verifier's are kept with the part (resume_state.c), for a resume on
 * any node.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "age.h"
#include "gw.h"
#include "records_names.h"
#include "resume_state.h"
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
	bool in_parts; /* the backend keeps bytes in parts (object storage) */
	int parent_fd; /* disk: directory of the link in the account view */
	char view_name[GW_PATH_COMPONENT_MAX + 1];
	char path[GW_PATH_MAX + 1]; /* its name in the account's names */
	bool named; /* records: path shows it */
	int64_t prev_id; /* the upload whose file the view showed before, or 0 */
	uint64_t bytes;
	struct store_sha256 sha;
	char sha256[65];
	uint8_t *state; /* in parts: room for a resume state */
	int64_t resumed_key_id; /* the key a resumed verifier was opened with */
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

	if (up->resumed_key_id)
		e.key_id = up->resumed_key_id;
	else if (up->age && age_reader_key(up->age) >= 0)
		e.key_id = up->key_ids[age_reader_key(up->age)];
	/* received makes work for the verifiers, here or on another node */
	if (!strcmp(state, "received"))
		store_emit_before(st, "upload", up->id, up->account_id, state);
	r = st->rec->upload_end(st, &e, gw_now_ms(), false);
	if (r == 0 && strcmp(state, "received"))
		store_emit(st, "upload", up->id, up->account_id, state);
	if (r == -ESTALE)
		gw_warn("store.upload", "upload %lld was taken over by another node while this one"
			" could not reach the records; its end here (%s) is not recorded",
			(long long)up->id, state);
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
	int r;

	/* under the lock of the list: one flush at a time, in order */
	pthread_mutex_lock(&st->unsaved_lock);
	while (st->n_unsaved && n_done < 64) {
		struct store_unsaved *u = &st->unsaved[st->n_unsaved - 1];
		struct store_upload_end e = { u->id, u->state, u->bytes, NULL, u->error, 0 };

		r = st->rec->upload_end(st, &e, gw_now_ms(), true);
		if (r < 0 && r != -ESTALE)
			break; /* still refused: logged when it first failed */
		if (r == -ESTALE)
			gw_warn("store.unsaved", "upload %lld was taken over by another node meanwhile;"
				" its end here (%s) is not recorded", (long long)u->id, u->state);
		else
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

static int feed(struct store_upload *up, const void *buf, size_t len);

/* Hash and verify (and, with copy, append to the upload) the first len
 * bytes of src. */
static int take_prefix(struct store_upload *up, const struct prefix_source *src, uint64_t len,
		       bool copy)
{
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
		if (!up->in_parts) /* in parts, feed() hashes */
			store_sha256_add(&up->sha, buf, (size_t)n);
		if (copy) {
			r = feed(up, buf, (size_t)n);
		} else if (up->age && age_reader_feed(up->age, buf, (size_t)n) < 0) {
			snprintf(up->verdict, sizeof(up->verdict), "%s", age_reader_reason(up->age));
			r = -EBADMSG;
		}
		if (r < 0)
			break;
		if (copy)
			up->bytes += (uint64_t)n;
		done += (uint64_t)n;
	}
	free(buf);
	if (r == 0) {
		up->bytes = len;
		up->start = len;
	}
	return r;
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

static struct store_upload *upload_new(struct store *st)
{
	struct store_upload *up = calloc(1, sizeof(*up));

	if (!up)
		return NULL;
	up->st = st;
	up->parent_fd = -1;
	up->reserved = UINT64_MAX;
	up->in_parts = st->bytes->ops->part_room != NULL;
	store_sha256_start(&up->sha);
	if (up->in_parts && !(up->state = malloc(STORE_RESUME_STATE_MAX))) {
		free(up);
		return NULL;
	}
	return up;
}

/* In parts: the hash and verifier as they were at offset, from the state
 * kept with the last part (none at 0). */
static int restore_state(struct store *st, struct store_upload *up, uint64_t offset)
{
	struct store_bytes_part *parts = NULL;
	struct age_reader *age = NULL;
	char upload_id[128];
	size_t len = 0;
	uint64_t at = 0;
	int64_t key_id = 0;
	unsigned n = 0;
	int r;

	if (offset == 0)
		return 0;
	parts = calloc(STORE_BYTES_PARTS_MAX, sizeof(*parts));
	if (!parts)
		return -ENOMEM;
	r = st->rec->object_load(st, up->id, upload_id, sizeof(upload_id), parts,
				 STORE_BYTES_PARTS_MAX, &n);
	free(parts);
	if (r == 0 && n == 0)
		r = -EIO;
	if (r == 0)
		r = st->rec->object_state(st, up->id, n, up->state, STORE_RESUME_STATE_MAX, &len);
	if (r == 0)
		r = store_resume_state_load(st, up->id, up->state, len, &at, &up->sha, &age, &key_id);
	if (r == 0 && at != offset)
		r = -EIO;
	if (r == 0 && up->age && !age)
		r = -EIO; /* received unverified: cannot be verified now */
	if (r < 0) {
		age_reader_free(age);
		gw_error("store.upload", "cannot read where upload %lld stopped: %s",
			 (long long)up->id, r == -ENOENT ? "no state was kept with its last part"
			 : strerror(-r));
		return r == -ENOENT || r == -EBADMSG ? -EIO : r;
	}
	if (up->age) {
		age_reader_free(up->age);
		up->age = age;
		up->resumed_key_id = key_id;
	} else {
		age_reader_free(age);
	}
	return 0;
}

/* Continue the partial upload `id` in place at offset; it kept `had`
 * bytes. */
static int resume_own(struct store *st, struct store_upload *up, int64_t id, uint64_t offset,
		      uint64_t had, const char *client_address)
{
	const struct store_bytes_ops *ops = st->bytes->ops;
	struct prefix_source src = { -1, NULL };
	int r;

	r = claim_partial(st, id, client_address);
	if (r < 0)
		return r;
	up->id = id;
	up->named = st->names_in_records; /* its name shows it already */
	r = ops->resume(st->bytes, id, offset, &up->w);
	if (r == 0 && up->in_parts) {
		r = restore_state(st, up, offset);
		if (r == 0) {
			up->bytes = up->start = offset;
		}
	} else if (r == 0) {
		r = ops->open_read(st->bytes, id, 0, &src.reader);
		if (r == 0)
			r = take_prefix(up, &src, offset, false);
		ops->close_read(src.reader);
	}
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
	if (r == -ERANGE && up->in_parts) {
		/* its parts end elsewhere (another node kept more meanwhile):
		 * nothing changed */
		up->bytes = had;
		finish_record(st, up, "partial", NULL, "resumed at an offset its parts do not end at");
		return -ESPIPE;
	}
	gw_error("store.upload", "cannot resume upload %lld: %s", (long long)id, strerror(-r));
	up->bytes = up->in_parts ? had : offset;
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

/* What path shows now: in the view on disk (its directory opened in
 * up->parent_fd, *sb its stat when *found), or in the records. */
static int look_up(struct store_upload *up, const struct store_names *ns, const char *path,
		   bool *found, struct store_shown *sh)
{
	const char *name;
	struct stat sb;
	int r;

	memset(sh, 0, sizeof(*sh));
	*found = false;
	if (up->st->names_in_records) {
		r = store_names_shown(ns, path, sh);
		*found = r == 0;
		return r == -ENOENT ? 0 : r;
	}
	r = gw_open_parent_beneath(ns->root_fd, path, &up->parent_fd, &name);
	if (r < 0)
		return r;
	gw_strlcpy(up->view_name, name, sizeof(up->view_name));
	if (fstatat(up->parent_fd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (!S_ISREG(sb.st_mode))
		return S_ISDIR(sb.st_mode) ? -EISDIR : -EACCES;
	*found = true;
	store_names_shown_stat(up->st, ns->account_id, path, &sb, sh);
	return 0;
}

/* The new upload takes the name (what it showed before: up->prev_id). */
static int place(struct store_upload *up, const char *path)
{
	int r;

	if (!up->st->names_in_records)
		return link_into_view(up->st, up->id, up->parent_fd, up->view_name);
	r = store_names_db_put(up->st, up->account_id, path, up->id, gw_now_ms(), &up->prev_id);
	up->named = r == 0;
	return r;
}

int store_upload_begin(struct store *st, int64_t account_id, int root_fd, const char *path,
		       const char *client_address, enum store_upload_mode mode, uint64_t offset,
		       struct store_upload **out)
{
	const struct store_names ns = { st, account_id, root_fd };
	const struct store_bytes_ops *ops = st->bytes->ops;
	struct store_upload *up;
	struct store_shown sh;
	struct prefix_source src = { -1, NULL };
	int r;
	int64_t own = 0;
	uint64_t room = UINT64_MAX;
	bool found;

	up = upload_new(st);
	if (!up)
		return -ENOMEM;
	up->account_id = account_id;
	gw_strlcpy(up->path, path, sizeof(up->path));
	store_flush_unsaved(st); /* a resume must see how the last transfer ended */
	r = ops->room(st->bytes, 0);
	if (r < 0)
		goto fail;
	r = verifier(st, up);
	if (r < 0)
		goto fail;
	r = look_up(up, &ns, path, &found, &sh);
	if (r == 0 && found && sh.is_dir)
		r = -EISDIR;
	if (r < 0)
		goto fail;
	if (found && sh.elsewhere) {
		/* a second writer would leave one of the two unnamed */
		r = -EBUSY;
		goto fail;
	}
	if (found && mode == STORE_UPLOAD_APPEND) {
		offset = sh.size;
	} else if (!found && mode == STORE_UPLOAD_RESUME && offset > 0) {
		r = -ENOENT;
		goto fail;
	} else if (!found) {
		offset = 0;
	}
	/* a partial upload that kept nothing goes on as the same upload
	 * when its name is stored again (REST 0 is no REST at all) */
	if (offset > 0 || (found && sh.id && sh.size == 0 && !strcmp(sh.state, "partial"))) {
		if (offset > sh.size) {
			r = -ERANGE;
			goto fail;
		}
		if (sh.id && !strcmp(sh.state, "receiving")) {
			r = -EBUSY;
			goto fail;
		}
		/* an upload still partial goes on in place */
		own = !strcmp(sh.state, "partial") ? sh.id : 0;
		r = quota_room(st, account_id, own, &room);
		if (r == 0 && offset >= room && room != UINT64_MAX)
			r = -EDQUOT;
		if (r < 0)
			goto fail;
		if (own) {
			r = resume_own(st, up, own, offset, sh.size, client_address);
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
		if (st->names_in_records) {
			r = sh.id && sh.is_complete ? ops->open_read(st->bytes, sh.id, 0, &src.reader)
						    : -ENOENT;
		} else {
			src.fd = openat(up->parent_fd, up->view_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			r = src.fd < 0 ? -errno : 0;
		}
		if (r < 0)
			goto fail;
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
	up->prev_id = sh.id;
	r = insert_record(st, account_id, path, client_address, &up->id);
	if (r < 0)
		goto fail;
	r = ops->create(st->bytes, up->id, &up->w);
	if (r < 0) {
		if (r == -EACCES)
			r = -EIO; /* the object store refused our credentials: ours to fix */
		finish_record(st, up, "partial", NULL, "cannot create the upload file");
		goto fail;
	}
	if (room != UINT64_MAX && (r = reserve(up, offset)) < 0) {
		finish_record(st, up, "partial", NULL, r == -EDQUOT ? "the account's quota is full"
				      : "cannot hold quota for it");
		goto fail;
	}
	if (src.fd >= 0 || src.reader) {
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
	r = place(up, path);
	if (r < 0) {
		if (r != -ENOENT && r != -ENOTDIR && r != -EISDIR)
			gw_error("store.upload", "cannot name upload %lld '%s': %s",
				 (long long)up->id, path, strerror(-r));
		finish_record(st, up, "partial", NULL, "cannot place the file in the account");
		goto fail;
	}
	if (src.fd >= 0)
		close(src.fd);
	ops->close_read(src.reader);
	*out = up;
	return 0;
fail:
	if (src.fd >= 0)
		close(src.fd);
	ops->close_read(src.reader);
	store_upload_free(up);
	return r;
}

/* In parts: the state a resume at `at` goes on from, with the part that
 * ends there. A state that cannot be made (the age header not all
 * there) leaves the part without one: it is then not kept. */
static void give_state(struct store_upload *up, uint64_t at)
{
	size_t len = 0;
	int r = store_resume_state_save(up->st, up->id, at, &up->sha, up->age, up->resumed_key_id ?
					up->resumed_key_id : up->age && age_reader_key(up->age) >= 0 ?
					up->key_ids[age_reader_key(up->age)] : 0,
					up->state, STORE_RESUME_STATE_MAX, &len);

	if (r == 0)
		r = up->st->bytes->ops->part_state(up->w, up->state, len);
	if (r < 0 && r != -EAGAIN)
		gw_warn("store.upload", "upload %lld keeps no state to resume from at byte %llu: %s",
			(long long)up->id, (unsigned long long)at, strerror(-r));
}

/* Verify and write a chunk (in parts: hash it too, and give each part
 * that it ends its state). */
static int feed(struct store_upload *up, const void *buf, size_t len)
{
	const struct store_bytes_ops *ops = up->st->bytes->ops;
	const unsigned char *p = buf;
	uint64_t at = up->bytes;
	int r;

	while (len) {
		size_t room = up->in_parts ? ops->part_room(up->w) : len;
		size_t n = len < room ? len : room;

		if (up->in_parts)
			store_sha256_add(&up->sha, p, n);
		if (up->age && age_reader_feed(up->age, p, n) < 0) {
			/* Not an authentic age file for this account: not kept. */
			snprintf(up->verdict, sizeof(up->verdict), "%s", age_reader_reason(up->age));
			return -EBADMSG;
		}
		at += n;
		if (up->in_parts && n == room)
			give_state(up, at);
		r = ops->append(up->w, p, n);
		if (r < 0)
			return r;
		p += n;
		len -= n;
	}
	return 0;
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
	r = feed(up, buf, len);
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
	if (!up->in_parts) /* in parts the write hashes */
		store_sha256_add(&up->sha, buf, len);
}

int store_upload_commit(struct store *st, struct store_upload *up)
{
	uint8_t md[32];
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
	if (!st->names_in_records && gw_fsync_dir(up->parent_fd) < 0) {
		r = -errno;
		gw_error("store.upload", "cannot make upload %lld durable: %s",
			 (long long)up->id, strerror(errno));
		return r;
	}
	store_sha256_end(&up->sha, md);
	gw_hex(md, 32, up->sha256);
	r = store_accept_hook(st, up->id, up->account_id, up->path, up->bytes, up->sha256,
			      up->verdict, sizeof(up->verdict));
	if (r == -EPERM)
		return r; /* the caller rejects it */
	if (r < 0) {
		/* Undecided: all its bytes are kept, and a resume at its size
		 * asks again. */
		up->sha256[0] = '\0';
		r = finish_record(st, up, "partial", NULL, up->verdict);
		if (r < 0 && r != -ESTALE)
			remember_unsaved(st, up, "partial", up->verdict);
		return -ETIMEDOUT;
	}
	r = finish_record(st, up, "received", up->sha256, NULL);
	if (r == 0)
		st->bytes->ops->seal(up->w); /* its bytes never change from here on */
	if (r < 0 && r != -ESTALE) {
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

	if (st->names_in_records) {
		if (up->named)
			store_names_db_unput(st, up->account_id, up->path, up->id, up->prev_id);
		st->bytes->ops->remove(st->bytes, up->id);
		return;
	}
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
	int r;

	gw_metric_add(GW_M_UPLOADS_REJECTED, 1);
	unlink_view(st, up);
	up->bytes = 0;
	r = finish_record(st, up, "rejected", NULL, store_upload_verdict(up));
	if (r < 0 && r != -ESTALE)
		remember_unsaved(st, up, "rejected", store_upload_verdict(up));
	return 0;
}

int store_upload_abort(struct store *st, struct store_upload *up, const char *reason)
{
	uint64_t kept;
	int r;

	/* Keep what arrived for a resume: it is durable before the record
	 * says how much there is (in object storage, what its confirmed
	 * parts hold, and a filled part with the state at its end). */
	if (up->w && up->in_parts && !up->write_error)
		give_state(up, up->bytes);
	if (up->w && st->bytes->ops->keep(up->w, &kept) == 0)
		up->bytes = kept;
	r = finish_record(st, up, "partial", NULL, reason);
	if (r < 0 && r != -ESTALE)
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
	age_reader_free(up->age);
	free(up->state);
	free(up);
}

int store_upload_take_over(struct store *st, int64_t id)
{
	int64_t account = 0;
	uint64_t kept = 0;
	int r = st->rec->upload_orphaned(st, id, false, 0, 0, &account);

	if (r == 2)
		return -EINPROGRESS; /* gone, maybe: a few more seconds tell */
	if (r == 3)
		return -EBUSY; /* another node is receiving it */
	if (r <= 0)
		return r;
	r = st->bytes->ops->size(st->bytes, id, &kept);
	if (r == -ENOENT) {
		kept = 0; /* its multipart upload was not even begun */
		r = 0;
	}
	if (r == 0)
		r = st->rec->upload_orphaned(st, id, true, kept, gw_now_ms(), &account);
	if (r == 1) {
		gw_warn("upload.taken_over", "upload %lld: the node receiving it stopped answering;"
			" partial at %llu bytes, resumable here", (long long)id,
			(unsigned long long)kept);
		store_emit(st, "upload", id, account, "partial");
	}
	return r < 0 ? r : 0;
}

int store_upload_kept_sha256(struct store *st, int64_t id, char hex[65], uint64_t *size)
{
	struct store_upload *up = upload_new(st);
	struct store_upload_info info;
	uint8_t md[32];
	int r;

	if (!up)
		return -ENOMEM;
	up->id = id;
	r = st->rec->upload_get(st, id, &info);
	if (r == 0 && strcmp(info.state, "partial"))
		r = -EBUSY;
	if (r == 0)
		r = restore_state(st, up, (uint64_t)info.bytes_received);
	if (r == 0) {
		store_sha256_end(&up->sha, md);
		gw_hex(md, 32, hex);
		*size = (uint64_t)info.bytes_received;
	}
	store_upload_free(up);
	return r;
}

