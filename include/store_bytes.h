/* store_bytes.h - where the bytes of uploads live: the contract a bytes
 * backend keeps. The data directory (store/bytes_dir.c) is the first;
 * object storage comes behind the same operations.
 *
 * An upload's bytes are named by its id. A writer appends to them in
 * order, from one thread at a time; commit makes all of them durable
 * (only then may an upload be called received); keep makes them durable
 * enough to be resumed (a partial upload). Readers read them from the
 * start. Every operation may block (disk, network): never on an event
 * loop. Errors are negative errno: -ENOENT (no such bytes), -ENOSPC (no
 * room: the backend keeps its configured reserve free), -EIO.
 *
 * Used by store/ only; a backend sees nothing of records.
 */
#ifndef FTPSGATE_STORE_BYTES_H
#define FTPSGATE_STORE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct store_bytes;
struct store_bytes_writer;
struct store_bytes_reader;

struct store_bytes_ops {
	const char *name;
	/* New, empty bytes for upload id (-EEXIST when it has some). */
	int (*create)(struct store_bytes *b, int64_t id, struct store_bytes_writer **out);
	/* The bytes of upload id cut to offset, to be continued there
	 * (-ERANGE when they are shorter). */
	int (*resume)(struct store_bytes *b, int64_t id, uint64_t offset,
		      struct store_bytes_writer **out);
	/* Append len bytes. Whole blocks of STORE_DIRECT_ALIGN from a buffer
	 * aligned to it may bypass caches. On failure the bytes keep what
	 * they held before the call. */
	int (*append)(struct store_bytes_writer *w, const void *buf, size_t len);
	int (*commit)(struct store_bytes_writer *w);
	/* *kept: how many bytes a resume finds (all of them in a directory;
	 * in object storage those of the parts it confirmed). */
	int (*keep)(struct store_bytes_writer *w, uint64_t *kept);
	/* Backends that keep bytes in parts (NULL otherwise): how many more
	 * bytes the part being filled takes, and the state a resume at its
	 * end goes on from (copied), given before the append that ends it
	 * (or before keep, for what is filled): a part is kept only with
	 * one. */
	size_t (*part_room)(struct store_bytes_writer *w);
	int (*part_state)(struct store_bytes_writer *w, const void *state, size_t len);
	/* After its record says received: the bytes never change again. */
	void (*seal)(struct store_bytes_writer *w);
	/* End the writer (after commit or keep, or to give up). */
	void (*close)(struct store_bytes_writer *w);
	int (*open_read)(struct store_bytes *b, int64_t id, uint64_t offset,
			 struct store_bytes_reader **out);
	/* Up to len bytes from where the last read ended (at first: offset);
	 * 0 at the end. */
	ssize_t (*read)(struct store_bytes_reader *r, void *buf, size_t len);
	void (*close_read)(struct store_bytes_reader *r);
	int (*size)(struct store_bytes *b, int64_t id, uint64_t *size);
	/* -ENOSPC when len more bytes would eat into the reserve. */
	int (*room)(struct store_bytes *b, uint64_t len);
	/* Remove the bytes of upload id durably; none is fine. */
	int (*remove)(struct store_bytes *b, int64_t id);
	void (*free)(struct store_bytes *b);
};

/* Every backend's handle begins with this. */
struct store_bytes {
	const struct store_bytes_ops *ops;
};

/* ---------------------------------------------------------------- object storage */

/* The most parts one upload has (S3's limit). */
#define STORE_BYTES_PARTS_MAX 10000

/* A part of an upload's bytes that the object store confirmed. */
struct store_bytes_part {
	unsigned number; /* 1, 2, ... in order */
	uint64_t size;
	char etag[80];
	/* what the writer gave with part_state() (NULL: none), borrowed */
	const void *state;
	size_t state_len;
};

/* What the object-storage backend keeps in the records store, through
 * these calls (made from its own threads; each may block). */
struct store_bytes_journal {
	void *arg;
	/* Upload id's bytes go to the store's multipart upload upload_id. */
	int (*begun)(void *arg, int64_t id, const char *upload_id);
	/* Its part `number` is in the store (a number confirmed again
	 * replaces what was recorded for it). */
	int (*confirmed)(void *arg, int64_t id, const struct store_bytes_part *part);
	/* What is recorded of upload id: its multipart upload and its parts,
	 * numbers 1..n in order (-ENOENT: none begun; parts NULL and max 0:
	 * only the upload). */
	int (*load)(void *arg, int64_t id, char *upload_id, size_t upload_id_size,
		    struct store_bytes_part *parts, unsigned max, unsigned *n);
	/* Forget its parts numbered above `number` (they are sent again). */
	int (*trim)(void *arg, int64_t id, unsigned number);
};

struct s3;

struct store_bytes_s3_params {
	size_t part_bytes;       /* >= 5 MiB; each part in flight holds one in memory */
	unsigned per_upload;     /* parts in flight per upload */
	unsigned per_node;       /* parts in flight in all: the sending threads */
};

/* Whether the multipart upload upload_id of upload id is still wanted
 * (its upload is partial and may yet be resumed). */
typedef bool store_bytes_wanted_fn(void *arg, int64_t id, const char *upload_id);

/* Abort the store's multipart uploads under the prefix that began
 * before before_ms and that wanted() does not want (and those that
 * name no upload); *aborted: how many. Their parts are gone. */
int store_bytes_s3_sweep(struct store_bytes *b, int64_t before_ms, store_bytes_wanted_fn *wanted,
			 void *arg, unsigned *aborted);

/* Uploads as objects PREFIX/<id> of an S3-compatible store (s3 borrowed),
 * each written as a multipart upload, part by part, while it arrives;
 * what keep() leaves is the bytes of the confirmed parts, and any node
 * with the same journal resumes there. */
int store_bytes_s3_new(struct s3 *s3, const struct store_bytes_journal *journal,
		       const struct store_bytes_s3_params *p, struct store_bytes **out);

/* The data directory's uploads/ (opened by the caller, borrowed): each
 * upload's bytes are the file uploads/<id>. Appends leave min_free bytes
 * free on its disk (0: no reserve). */
int store_bytes_dir_new(int uploads_fd, uint64_t min_free, struct store_bytes **out);

#endif
