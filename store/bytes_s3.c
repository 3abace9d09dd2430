/* bytes_s3.c - the bytes of uploads as objects of an S3-compatible
 * store: PREFIX/<id>, written as a multipart upload while the upload
 * arrives.
 *
 * A writer fills a part in memory; a full part goes to one of the
 * backend's sending threads and the writer fills the next while it is
 * sent, with at most per_upload parts of one upload and per_node parts
 * of all uploads in flight (a writer waits for room: the upload's
 * client is slowed, nothing is dropped). Memory per upload is at most
 * (per_upload + 1) * part_bytes. Each part the store confirms goes to
 * the journal (the records store), so that keep() leaves exactly the
 * confirmed parts and any node resumes after them; commit() sends the
 * last part and completes the multipart upload.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "s3.h"
#include "store_bytes.h"

#define READ_SPAN (8u << 20) /* bytes one ranged GET of a reader asks for */
#define PARTS_MAX S3_MAX_PARTS

struct send;

static const struct store_bytes_ops s3_ops;

#define SPARES_MAX 33 /* per_upload + 1 at most (s3_parts_in_flight <= 32) */

struct s3_bytes {
	struct store_bytes base;
	struct s3 *s3; /* borrowed */
	struct store_bytes_journal j;
	struct store_bytes_s3_params p;
	pthread_mutex_t lock; /* guards the queue and the spare parts */
	pthread_cond_t queued;
	struct send *head, *tail;
	bool stopping;
	/* Part buffers sent, kept for the next parts while writers are open:
	 * a fresh part_bytes buffer costs a page fault every 4 KiB when it is
	 * filled (about a third of the node's CPU per GiB). Up to
	 * per_upload + 1, what one upload fills and has in flight; all freed
	 * when the last writer closes. */
	unsigned char *spare[SPARES_MAX];
	unsigned nspare;
	unsigned writers;
	pthread_t *threads;
	unsigned nthreads;
};

struct store_bytes_writer {
	struct s3_bytes *b;
	int64_t id;
	char key[S3_KEY_MAX];
	char upload_id[S3_UPLOAD_ID_MAX];
	unsigned char *fill; /* the part being filled */
	size_t fill_len;
	void *fill_state; /* the state a resume at its end goes on from */
	size_t fill_state_len;
	uint64_t bytes;	      /* appended in all, from the start of the upload */
	pthread_mutex_t lock; /* guards what the senders change: */
	pthread_cond_t done;
	unsigned in_flight;
	int error;			/* the first part that failed: what every call says */
	struct store_bytes_part *parts; /* confirmed, index number - 1 */
	unsigned nparts;		/* parts numbered so far (sent or being sent) */
	bool finished;			/* completed or given up: close() aborts nothing */
};

struct send {
	struct send *next;
	struct store_bytes_writer *w;
	unsigned number;
	unsigned char *buf;
	size_t len;
	void *state;
	size_t state_len;
};

struct store_bytes_reader {
	struct s3_bytes *b;
	char key[S3_KEY_MAX];
	uint64_t at, size;
	unsigned char *buf;
	size_t len, pos;
};

static void key_of(const struct s3_bytes *b, int64_t id, char key[S3_KEY_MAX])
{
	char name[32];

	snprintf(name, sizeof(name), "%lld", (long long)id);
	s3_key(b->s3, name, key);
}

/* What failed (of upload id, when there is one), and what the store said. */
static void log_refusal(const char *what, int64_t id, int r, const struct s3_error *e)
{
	char of[40] = "";

	if (id)
		snprintf(of, sizeof(of), " of upload %lld", (long long)id);
	if (r == -EACCES)
		gw_error("s3.credentials",
			 "cannot %s%s: the object store refused the credentials"
			 " (%ld %s: %s)",
			 what, of, e->status, e->code, e->message);
	else
		gw_error("s3.request", "cannot %s%s: %s (%ld %s %s)", what, of, strerror(-r),
			 e->status, e->code, e->message);
}

/* ---------------------------------------------------------------- sending */

static unsigned char *part_get(struct s3_bytes *b)
{
	unsigned char *p = NULL;

	pthread_mutex_lock(&b->lock);
	if (b->nspare)
		p = b->spare[--b->nspare];
	pthread_mutex_unlock(&b->lock);
	return p ? p : malloc(b->p.part_bytes);
}

static void part_put(struct s3_bytes *b, unsigned char *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&b->lock);
	if (b->writers && b->nspare < b->p.per_upload + 1 && b->nspare < SPARES_MAX) {
		b->spare[b->nspare++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&b->lock);
	free(p);
}

static void *sender(void *arg)
{
	struct s3_bytes *b = arg;

	for (;;) {
		struct send *s;
		struct store_bytes_writer *w;
		struct store_bytes_part part = {0};
		struct s3_error e = {0};
		int r;

		pthread_mutex_lock(&b->lock);
		while (!b->head && !b->stopping)
			pthread_cond_wait(&b->queued, &b->lock);
		s = b->head;
		if (s) {
			b->head = s->next;
			if (!b->head)
				b->tail = NULL;
		}
		pthread_mutex_unlock(&b->lock);
		if (!s)
			return NULL; /* stopping, nothing left */
		w = s->w;
		part.number = s->number;
		part.size = s->len;
		part.state = s->state;
		part.state_len = s->state_len;
		r = s3_multipart_part(b->s3, w->key, w->upload_id, s->number, s->buf, s->len,
				      part.etag, &e);
		if (r < 0)
			log_refusal("send a part", w->id, r, &e);
		else
			r = b->j.confirmed(b->j.arg, w->id, &part);
		part_put(b, s->buf);
		free(s->state);
		free(s);
		part.state = NULL;
		part.state_len = 0;
		pthread_mutex_lock(&w->lock);
		if (r == 0)
			w->parts[part.number - 1] = part;
		else if (!w->error)
			w->error = r == -EACCES || r == -ENOMEM ? r : -EIO;
		w->in_flight--;
		pthread_cond_broadcast(&w->done);
		pthread_mutex_unlock(&w->lock);
	}
}

/* Hand the filled part to a sender, once the upload has room in flight. */
static int send_part(struct store_bytes_writer *w)
{
	struct s3_bytes *b = w->b;
	struct send *s;
	int r;

	if (w->nparts == PARTS_MAX)
		return -EFBIG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&w->lock);
	while (w->in_flight >= b->p.per_upload && !w->error)
		pthread_cond_wait(&w->done, &w->lock);
	r = w->error;
	if (r == 0)
		w->in_flight++;
	pthread_mutex_unlock(&w->lock);
	if (r < 0) {
		free(s);
		return r;
	}
	s->w = w;
	s->number = ++w->nparts;
	s->buf = w->fill;
	s->len = w->fill_len;
	s->state = w->fill_state;
	s->state_len = w->fill_state_len;
	w->fill = NULL;
	w->fill_len = 0;
	w->fill_state = NULL;
	w->fill_state_len = 0;
	pthread_mutex_lock(&b->lock);
	if (b->tail)
		b->tail->next = s;
	else
		b->head = s;
	b->tail = s;
	pthread_cond_signal(&b->queued);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* Until every part sent is answered: the first failure, or 0. */
static int wait_sent(struct store_bytes_writer *w)
{
	int r;

	pthread_mutex_lock(&w->lock);
	while (w->in_flight)
		pthread_cond_wait(&w->done, &w->lock);
	r = w->error;
	pthread_mutex_unlock(&w->lock);
	return r;
}

/* ---------------------------------------------------------------- writers */

static int writer_new(struct s3_bytes *b, int64_t id, struct store_bytes_writer **out)
{
	struct store_bytes_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->parts = calloc(PARTS_MAX, sizeof(*w->parts));
	if (!w->parts) {
		free(w);
		return -ENOMEM;
	}
	w->b = b;
	w->id = id;
	key_of(b, id, w->key);
	pthread_mutex_lock(&b->lock);
	b->writers++;
	pthread_mutex_unlock(&b->lock);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->done, NULL);
	*out = w;
	return 0;
}

static void writer_free(struct store_bytes_writer *w)
{
	struct s3_bytes *b = w->b;
	unsigned char *drop[SPARES_MAX];
	unsigned n = 0;

	part_put(b, w->fill);
	pthread_mutex_lock(&b->lock);
	if (--b->writers == 0) {
		n = b->nspare;
		memcpy(drop, b->spare, n * sizeof(*drop));
		b->nspare = 0;
	}
	pthread_mutex_unlock(&b->lock);
	while (n)
		free(drop[--n]);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->done);
	free(w->fill_state);
	free(w->parts);
	free(w);
}

static int s3b_create(struct store_bytes *sb, int64_t id, struct store_bytes_writer **out)
{
	struct s3_bytes *b = (struct s3_bytes *)sb;
	struct store_bytes_writer *w;
	struct s3_error e = {0};
	int r = writer_new(b, id, &w);

	if (r < 0)
		return r;
	r = s3_multipart_start(b->s3, w->key, w->upload_id, &e);
	if (r < 0) {
		log_refusal("start the multipart upload", id, r, &e);
		writer_free(w);
		return r == -EACCES ? r : -EIO;
	}
	r = b->j.begun(b->j.arg, id, w->upload_id);
	if (r < 0) {
		s3_multipart_abort(b->s3, w->key, w->upload_id, &e);
		writer_free(w);
		return r;
	}
	*out = w;
	return 0;
}

/* Continue where the journal says the confirmed parts end: offset must
 * be there (-ERANGE elsewhere: the bytes past it are not in the store). */
static int s3b_resume(struct store_bytes *sb, int64_t id, uint64_t offset,
		      struct store_bytes_writer **out)
{
	struct s3_bytes *b = (struct s3_bytes *)sb;
	struct store_bytes_writer *w;
	unsigned n = 0, i;
	uint64_t total = 0;
	int r = writer_new(b, id, &w);

	if (r < 0)
		return r;
	r = b->j.load(b->j.arg, id, w->upload_id, sizeof(w->upload_id), w->parts, PARTS_MAX, &n);
	/* the parts from 1 on without a gap; those after a gap (confirmed
	 * while an earlier one was not) are sent again */
	for (i = 0; r == 0 && i < n && w->parts[i].number == i + 1; i++)
		total += w->parts[i].size;
	if (r == 0 && total != offset)
		r = -ERANGE;
	if (r == 0 && i < n)
		r = b->j.trim(b->j.arg, id, i);
	n = i;
	if (r < 0) {
		writer_free(w);
		return r;
	}
	w->nparts = n;
	w->bytes = total;
	*out = w;
	return 0;
}

static size_t s3b_part_room(struct store_bytes_writer *w)
{
	return w->b->p.part_bytes - w->fill_len;
}

static int s3b_part_state(struct store_bytes_writer *w, const void *state, size_t len)
{
	void *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, state, len);
	free(w->fill_state);
	w->fill_state = copy;
	w->fill_state_len = len;
	return 0;
}

static int s3b_append(struct store_bytes_writer *w, const void *buf, size_t len)
{
	size_t part = w->b->p.part_bytes;
	const unsigned char *p = buf;
	int r;

	pthread_mutex_lock(&w->lock);
	r = w->error;
	pthread_mutex_unlock(&w->lock);
	if (r < 0)
		return r;
	while (len) {
		size_t n;

		if (!w->fill && !(w->fill = part_get(w->b)))
			return -ENOMEM;
		n = part - w->fill_len < len ? part - w->fill_len : len;
		memcpy(w->fill + w->fill_len, p, n);
		w->fill_len += n;
		w->bytes += n;
		p += n;
		len -= n;
		if (w->fill_len == part && (r = send_part(w)) < 0)
			return r;
	}
	return 0;
}

static int s3b_commit(struct store_bytes_writer *w)
{
	struct s3_bytes *b = w->b;
	struct s3_part *list = NULL;
	struct s3_error e = {0};
	unsigned i;
	int r = 0;

	/* the last part, whatever its size; an empty upload: an empty object */
	if (w->fill_len)
		r = send_part(w);
	if (r == 0)
		r = wait_sent(w);
	if (r == 0 && w->nparts == 0) {
		s3_multipart_abort(b->s3, w->key, w->upload_id, &e);
		r = s3_put(b->s3, w->key, "", 0, &e);
		if (r < 0)
			log_refusal("store the empty object", w->id, r, &e);
		w->finished = r == 0;
		return r < 0 ? (r == -EACCES ? r : -EIO) : 0;
	}
	if (r == 0 && !(list = calloc(w->nparts, sizeof(*list))))
		r = -ENOMEM;
	for (i = 0; r == 0 && i < w->nparts; i++) {
		list[i].number = w->parts[i].number;
		gw_strlcpy(list[i].etag, w->parts[i].etag, sizeof(list[i].etag));
	}
	if (r == 0) {
		r = s3_multipart_complete(b->s3, w->key, w->upload_id, list, w->nparts, &e);
		if (r < 0) {
			log_refusal("complete the multipart upload", w->id, r, &e);
			r = r == -EACCES ? r : -EIO;
		}
	}
	free(list);
	w->finished = r == 0;
	return r;
}

/* The confirmed parts stay; so does a filled part big enough to be one
 * (S3 takes no part under 5 MiB but the last) with the state to resume
 * from at its end; the rest is dropped. A part that failed leaves out it
 * and those after it. */
static int s3b_keep(struct store_bytes_writer *w, uint64_t *kept)
{
	uint64_t total = 0;
	unsigned i;

	if (w->fill_len >= S3_MIN_PART_BYTES && w->fill_state)
		send_part(w);
	wait_sent(w);
	/* what is confirmed from part 1 on, without a gap */
	pthread_mutex_lock(&w->lock);
	for (i = 0; i < w->nparts && w->parts[i].number == i + 1; i++)
		total += w->parts[i].size;
	pthread_mutex_unlock(&w->lock);
	*kept = total;
	return 0;
}

static void s3b_seal(struct store_bytes_writer *w)
{
	(void)w; /* a completed object is never written again */
}

static void s3b_close(struct store_bytes_writer *w)
{
	if (!w)
		return;
	/* the parts in flight end first: they use w */
	wait_sent(w);
	writer_free(w);
}

/* ---------------------------------------------------------------- readers */

static int take_bytes(void *arg, const void *buf, size_t len)
{
	struct store_bytes_reader *r = arg;

	if (r->len + len > READ_SPAN)
		return -EIO; /* more than was asked for */
	memcpy(r->buf + r->len, buf, len);
	r->len += len;
	return 0;
}

static int s3b_open_read(struct store_bytes *sb, int64_t id, uint64_t offset,
			 struct store_bytes_reader **out)
{
	struct s3_bytes *b = (struct s3_bytes *)sb;
	struct store_bytes_reader *r = calloc(1, sizeof(*r));
	struct s3_error e = {0};
	int rc;

	if (!r)
		return -ENOMEM;
	r->b = b;
	r->at = offset;
	key_of(b, id, r->key);
	rc = s3_head(b->s3, r->key, &r->size, &e);
	if (rc == 0 && offset > r->size)
		rc = -ERANGE;
	if (rc == 0 && !(r->buf = malloc(READ_SPAN)))
		rc = -ENOMEM;
	if (rc < 0) {
		if (rc != -ENOENT && rc != -ERANGE)
			log_refusal("read", id, rc, &e);
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static ssize_t s3b_read(struct store_bytes_reader *r, void *buf, size_t len)
{
	size_t n;

	if (r->pos == r->len) {
		struct s3_error e = {0};
		uint64_t want = r->size - r->at < READ_SPAN ? r->size - r->at : READ_SPAN;
		int rc;

		if (want == 0)
			return 0;
		r->len = r->pos = 0;
		rc = s3_get(r->b->s3, r->key, r->at, want, take_bytes, r, &e);
		if (rc < 0) {
			gw_error("s3.request", "cannot read '%s' at byte %llu: %s (%ld %s)", r->key,
				 (unsigned long long)r->at, strerror(-rc), e.status, e.code);
			return rc == -ENOENT ? -ENOENT : -EIO;
		}
		if (r->len == 0)
			return -EIO; /* shorter than its HEAD said */
		r->at += r->len;
	}
	n = r->len - r->pos < len ? r->len - r->pos : len;
	memcpy(buf, r->buf + r->pos, n);
	r->pos += n;
	return (ssize_t)n;
}

static void s3b_close_read(struct store_bytes_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

/* ---------------------------------------------------------------- the rest */

/* A complete object's size; else what the confirmed parts hold. */
static int s3b_size(struct store_bytes *sb, int64_t id, uint64_t *size)
{
	struct s3_bytes *b = (struct s3_bytes *)sb;
	struct store_bytes_part *parts;
	struct s3_error e = {0};
	char key[S3_KEY_MAX], upload_id[S3_UPLOAD_ID_MAX];
	unsigned n = 0, i;
	int r;

	key_of(b, id, key);
	r = s3_head(b->s3, key, size, &e);
	if (r != -ENOENT)
		return r;
	parts = calloc(PARTS_MAX, sizeof(*parts));
	if (!parts)
		return -ENOMEM;
	r = b->j.load(b->j.arg, id, upload_id, sizeof(upload_id), parts, PARTS_MAX, &n);
	if (r == 0) {
		*size = 0;
		for (i = 0; i < n && parts[i].number == i + 1; i++)
			*size += parts[i].size;
	}
	free(parts);
	return r;
}

static int s3b_room(struct store_bytes *sb, uint64_t len)
{
	(void)sb;
	(void)len;
	return 0; /* the store's own limits answer for themselves */
}

static int s3b_remove(struct store_bytes *sb, int64_t id)
{
	struct s3_bytes *b = (struct s3_bytes *)sb;
	struct s3_error e = {0};
	char key[S3_KEY_MAX], upload_id[S3_UPLOAD_ID_MAX];
	unsigned n = 0;
	int r;

	key_of(b, id, key);
	/* a multipart upload not completed holds parts: gone with it */
	if (b->j.load(b->j.arg, id, upload_id, sizeof(upload_id), NULL, 0, &n) == 0) {
		r = s3_multipart_abort(b->s3, key, upload_id, &e);
		if (r < 0) {
			log_refusal("abort the multipart upload", id, r, &e);
			return r;
		}
	}
	r = s3_delete(b->s3, key, &e);
	if (r < 0)
		log_refusal("delete", id, r, &e);
	return r;
}

struct sweep {
	struct s3_bytes *b;
	char prefix[S3_KEY_MAX];
	size_t prefix_len;
	int64_t before_ms;
	store_bytes_wanted_fn *wanted;
	void *arg;
	unsigned aborted;
	/* what to abort, gathered first: the listing is paged by key */
	struct doomed {
		char key[S3_KEY_MAX];
		char upload_id[S3_UPLOAD_ID_MAX];
	} * doomed;
	unsigned n, cap;
};

/* The upload id a key names ("PREFIX/123"), or 0. */
static int64_t id_of(const struct sweep *w, const char *key)
{
	const char *p = key + w->prefix_len;
	int64_t id = 0;

	if (strncmp(key, w->prefix, w->prefix_len) != 0 || !*p)
		return 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || id > (INT64_MAX - 9) / 10)
			return 0;
		id = id * 10 + (*p - '0');
	}
	return id;
}

static void consider(void *arg, const char *key, const char *upload_id, int64_t initiated_ms)
{
	struct sweep *w = arg;
	int64_t id = id_of(w, key);

	if (!initiated_ms || initiated_ms >= w->before_ms)
		return; /* recent (or of unknown age): left alone */
	if (id && w->wanted(w->arg, id, upload_id))
		return;
	if (w->n == w->cap) {
		unsigned cap = w->cap ? 2 * w->cap : 64;
		struct doomed *d = realloc(w->doomed, cap * sizeof(*d));

		if (!d)
			return; /* the next sweep takes it */
		w->doomed = d;
		w->cap = cap;
	}
	gw_strlcpy(w->doomed[w->n].key, key, S3_KEY_MAX);
	gw_strlcpy(w->doomed[w->n].upload_id, upload_id, S3_UPLOAD_ID_MAX);
	w->n++;
}

int store_bytes_s3_sweep(struct store_bytes *sb, int64_t before_ms, store_bytes_wanted_fn *wanted,
			 void *arg, unsigned *aborted)
{
	struct s3_bytes *b = (struct s3_bytes *)sb;
	struct sweep w = {0};
	struct s3_error e = {0};
	unsigned i;
	int r;

	*aborted = 0;
	if (sb->ops != &s3_ops)
		return -EINVAL;
	w.b = b;
	w.before_ms = before_ms;
	w.wanted = wanted;
	w.arg = arg;
	s3_key(b->s3, "", w.prefix);
	w.prefix_len = strlen(w.prefix);
	r = s3_multipart_list(b->s3, w.prefix, consider, &w, &e);
	if (r < 0)
		log_refusal("list the multipart uploads", 0, r, &e);
	for (i = 0; r == 0 && i < w.n; i++) {
		r = s3_multipart_abort(b->s3, w.doomed[i].key, w.doomed[i].upload_id, &e);
		if (r < 0)
			log_refusal("abort an abandoned multipart upload",
				    id_of(&w, w.doomed[i].key), r, &e);
		else
			w.aborted++;
	}
	free(w.doomed);
	*aborted = w.aborted;
	return r;
}

static void s3b_free(struct store_bytes *sb)
{
	struct s3_bytes *b = (struct s3_bytes *)sb;
	unsigned i;

	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	pthread_cond_broadcast(&b->queued);
	pthread_mutex_unlock(&b->lock);
	for (i = 0; i < b->nthreads; i++)
		pthread_join(b->threads[i], NULL);
	while (b->nspare)
		free(b->spare[--b->nspare]);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->queued);
	free(b->threads);
	free(b);
}

static const struct store_bytes_ops s3_ops = {
    .name = "s3",
    .create = s3b_create,
    .resume = s3b_resume,
    .append = s3b_append,
    .commit = s3b_commit,
    .keep = s3b_keep,
    .part_room = s3b_part_room,
    .part_state = s3b_part_state,
    .seal = s3b_seal,
    .close = s3b_close,
    .open_read = s3b_open_read,
    .read = s3b_read,
    .close_read = s3b_close_read,
    .size = s3b_size,
    .room = s3b_room,
    .remove = s3b_remove,
    .free = s3b_free,
};

int store_bytes_s3_new(struct s3 *s3, const struct store_bytes_journal *journal,
		       const struct store_bytes_s3_params *p, struct store_bytes **out)
{
	struct s3_bytes *b;
	unsigned i;

	if (p->part_bytes < S3_MIN_PART_BYTES || p->part_bytes > (512u << 20) || !p->per_upload ||
	    !p->per_node || p->per_node > 256)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->base.ops = &s3_ops;
	b->s3 = s3;
	b->j = *journal;
	b->p = *p;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->queued, NULL);
	b->threads = calloc(p->per_node, sizeof(*b->threads));
	for (i = 0; b->threads && i < p->per_node; i++) {
		if (pthread_create(&b->threads[i], NULL, sender, b) != 0)
			break;
		b->nthreads++;
	}
	if (!b->nthreads) {
		s3b_free(&b->base);
		return -EAGAIN;
	}
	*out = &b->base;
	return 0;
}
