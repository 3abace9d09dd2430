/* server.c - the FTPS I/O engine: event loops, control connections,
 * passive listeners and data connections.
 *
 * Each loop thread owns an epoll set, the control connections it accepted
 * and their data sockets; nothing inside a loop is locked. The protocol
 * itself is session.c: this file turns its requests into I/O and reports
 * the results back. Blocking work runs on the worker pool as a `struct
 * job`, which is posted back to its loop (eventfd) when done.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ftpd.h"
#include "gw.h"
#include "issuers.h"
#include "session.h"
#include "tls.h"
#include "view.h"

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define BANNER "ftpsgate FTPS upload server"
#define CTRL_WRITE_CHUNK 16384
/* Connections over max_sessions are told so (421) up to this many more;
 * beyond, they are closed unanswered. */
#define FULL_MARGIN 256
/* A refused upload's data connection is drained: close_notify sent, what
 * the client still sends read and dropped, up to this much, this long,
 * and this many such connections per loop; then it is closed. */
#define DRAIN_MAX_BYTES (64ULL << 20)
#define DRAIN_MS 30000
#define DRAINS_PER_LOOP 64

struct loop;

struct watch {
	int fd;
	uint32_t events;
	bool registered;
	bool again; /* in the loop's run-again list */
	struct watch *again_next;
	void (*fn)(struct watch *w, uint32_t events);
};

enum cstate {
	C_PLAIN,     /* explicit listener, before AUTH TLS */
	C_HANDSHAKE, /* TLS handshake on the control connection */
	C_OPEN,
	C_CLOSING, /* send what is queued, then close */
};

enum dstate {
	D_NONE,
	D_LISTEN,    /* passive listener open, nobody connected yet */
	D_CONNECTED, /* TCP connection accepted, waiting for the command */
	D_HANDSHAKE, /* TLS handshake on the data connection */
	D_OPENING,   /* upload being opened by a worker */
	D_RECEIVING, /* upload bytes flowing */
	D_SENDING,   /* listing or file being sent */
	D_CLOSING,   /* close_notify sent, waiting for the client's end */
	D_FINISHING, /* upload being committed or recorded partial by a worker */
};

struct data {
	struct watch lw; /* passive listener */
	uint16_t port;
	struct watch w; /* data connection */
	struct ftpd_tls *tls;
	enum dstate state;
	enum ftpd_req kind; /* the transfer command, once it came */
	char path[GW_PATH_MAX + 1];
	uint64_t offset; /* REST offset of a RETR or STOR */
	struct store_upload *up;
	struct gw_buf listing;
	size_t sent;
	int file_fd; /* RETR: the file being sent */
	uint64_t file_pos, file_size;
	size_t buf_len, buf_pos;
	unsigned char *buf;
	/* Upload bytes are written by one worker (J_WRITE) and hashed by
	 * another (J_DIGEST) at once, while the loop decrypts the next
	 * chunks: one such pair is in flight at a time, and d->up belongs to
	 * it meanwhile. Chunks filled during a write wait in full[]; the
	 * next pair takes all of them at once. */
	unsigned char *full[GW_DATA_QUEUE]; /* filled chunks, in order */
	size_t nfull;
	unsigned char *spare[GW_DATA_QUEUE + 1]; /* chunk buffers not in use */
	size_t nspare;
	size_t fill;           /* bytes of buf received, not yet written */
	bool writing;          /* a J_WRITE holds the upload */
	bool paused;           /* every chunk is full: reading waits for the write */
	bool eof;              /* close_notify came: commit once all is written */
	bool stop_pending;     /* stop once the write is back: */
	enum ftpd_xfer stop_result;
	char stop_why[160];
	uint64_t bytes_done;   /* the upload's size after the last write */
	bool abort_requested; /* ABOR came while a job ran */
	bool running;         /* counted in GW_M_TRANSFERS */
	int64_t deadline;
	int64_t started;
	int64_t last_io;
};

struct ctrl {
	struct watch w;
	struct loop *loop;
	struct ctrl *prev, *next;
	struct ftpd_tls *tls;
	enum cstate state;
	struct ftpd_session core;
	struct gw_buf in, out;
	bool discard; /* dropping the rest of an overlong line */
	bool closed;
	bool is_explicit;   /* came in on the explicit (AUTH TLS) listener */
	bool counted_account; /* holds a slot of the per-account limit */
	bool over_limit;    /* too many sessions (from this address): 421 */
	bool server_full;   /* ... on the whole server */
	char account_key[24];
	int refs;
	struct sockaddr_storage peer, local;
	char peer_ip[INET6_ADDRSTRLEN];
	int64_t deadline; /* handshake or login */
	int64_t last_activity;
	int64_t account_id;
	int64_t expires_at_ms; /* wall clock; 0 = never */
	int root_fd;
	struct data d;
};

/* A refused upload's data connection, drained until the client's end
 * (see DRAIN_MAX_BYTES): it belongs to the loop, not to a session. */
struct drain {
	struct watch w;
	struct loop *loop;
	struct ftpd_tls *tls;
	uint64_t left;
	int64_t deadline;
	bool shut; /* close_notify sent */
	struct drain *prev, *next;
};

struct loop {
	struct ftpd_server *srv;
	int epfd;
	struct watch wake; /* eventfd: jobs done, or stop */
	struct watch accept_w;
	struct watch accept_explicit;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	struct job *done_head, *done_tail;
	struct store_account_change *changes; /* from other threads, under lock */
	size_t nchanges, changes_cap;
	struct ctrl *ctrls;
	struct ctrl *closed; /* freed at the end of the loop iteration */
	struct watch *again_head;
	int64_t accept_paused_until;
	size_t chunks; /* transfer buffers of this loop's sessions and their jobs */
	struct drain *drains;
	unsigned ndrains;
	bool lock_made; /* lock initialised (ftpd_start may fail before) */
};

#define ROOT_BUCKETS 1024

struct ftpd_server {
	const struct gw_config *cfg;
	struct store *store;
	struct gw_pool *pool;    /* password checks (argon2id), borrowed */
	struct gw_pool *io_pool; /* uploads: open, write, commit; owned */
	/* HASH of files without a recorded SHA-256 (partial uploads): one
	 * thread, and one such HASH per account at a time, so that reading
	 * files for HASH never holds the workers that write uploads. */
	struct gw_pool *hash_pool;
	struct gw_counter *hashes_per_account;
	struct ftpd_tls_ctx *tls; /* for new sessions; swapped by a reload */
	struct ftpd_tls_ctx *retired[32]; /* earlier ones, freed at the end */
	unsigned nretired;
	int listen_fd;
	int explicit_fd; /* -1 without an explicit listener */
	char passive_ipv4[INET_ADDRSTRLEN]; /* "" = the control's local address */
	unsigned nloops;
	struct loop *loops;
	volatile int stopping;
	volatile int draining; /* SIGTERM: accept no more sessions */
	int sessions; /* atomic */
	pthread_mutex_t port_lock;
	unsigned char *port_used;
	struct gw_counter *per_address;
	struct gw_counter *per_account;
	struct ftpd_issuers *issuers; /* of TLS sessions, for data connections */
	/* Passive ports each account and each address holds open: no tenant,
	 * and no address, can take the whole range. */
	struct gw_counter *ports_per_account, *ports_per_address;
	unsigned max_ports_per_account, max_ports_per_address;
	struct gw_guard *guard;
	struct ftpd_tls_policy policy;
	/* One descriptor of an account's root for all its sessions: 10,000
	 * sessions of one account hold one directory open, not 10,000. */
	pthread_mutex_t root_lock;
	struct root_share *roots[ROOT_BUCKETS];
};

struct root_share {
	int64_t account_id;
	int fd;
	unsigned refs;
	struct root_share *next;
};

/* J_HASH answers from the upload's record when it can; otherwise it goes
 * on as J_HASH_READ on the hash pool, which reads the file. */
enum job_kind { J_LOGIN, J_OPEN, J_WRITE, J_DIGEST, J_COMMIT, J_ABORT, J_HASH, J_HASH_READ, J_REJECT,
		J_MFMT };

struct job {
	struct gw_job base;
	struct job *next;
	struct ctrl *c;
	enum job_kind kind;
	int err;
	enum ftpd_xfer result; /* J_ABORT: what to tell the client */
	char user[GW_USER_MAX + 1];
	char pass[GW_PASS_MAX + 1];
	bool locked; /* J_LOGIN: the account is locked; no password is checked */
	int64_t account_id;
	int64_t expires_at_ms;
	int root_fd;
	char path[GW_PATH_MAX + 1];
	enum store_upload_mode mode;
	uint64_t offset;
	struct store_upload *up;
	unsigned char *bufs[GW_DATA_QUEUE + 1]; /* J_WRITE: the chunks, owned by the job */
	size_t lens[GW_DATA_QUEUE + 1];
	size_t nbufs;
	size_t len; /* J_WRITE: bytes in all */
	/* J_WRITE and its J_DIGEST run at once on the same chunks: the
	 * write job owns them and is handled when both are done. */
	struct job *pair; /* J_DIGEST: its write job */
	int parts;        /* J_WRITE: of the two, how many still run */
	char reason[160]; /* J_ABORT: why; J_HASH: the result */
};

static void ctrl_pump(struct ctrl *c);
static void ctrl_close(struct ctrl *c, const char *why);
static void data_pump(struct ctrl *c);
static void data_finish(struct ctrl *c, enum ftpd_xfer result);
static void submit(struct ctrl *c, struct job *j);
static void end_session(struct ctrl *c, const char *reply, const char *why);
static void write_done(struct ctrl *c, struct job *j);
static bool drain_start(struct ctrl *c);

/* ---------------------------------------------------------------- watches */

static void watch_init(struct watch *w, int fd, void (*fn)(struct watch *, uint32_t))
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->fn = fn;
}

static void watch_set(struct loop *l, struct watch *w, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	if (!w->registered) {
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
			GW_BUG("epoll_ctl ADD fd %d: %s", w->fd, strerror(errno));
		w->registered = true;
		w->events = events;
		return;
	}
	if (w->events == events)
		return;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		GW_BUG("epoll_ctl MOD fd %d: %s", w->fd, strerror(errno));
	w->events = events;
}

static void watch_again(struct loop *l, struct watch *w)
{
	if (w->again)
		return;
	w->again = true;
	w->again_next = l->again_head;
	l->again_head = w;
}

/* Unregister and close the watched fd. */
static void watch_close(struct loop *l, struct watch *w)
{
	if (w->again) {
		struct watch **p;

		for (p = &l->again_head; *p; p = &(*p)->again_next)
			if (*p == w) {
				*p = w->again_next;
				break;
			}
		w->again = false;
	}
	if (w->fd < 0)
		return;
	if (w->registered)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->registered = false;
	close(w->fd);
	w->fd = -1;
}

static uint32_t want_events(int want)
{
	return (want & FTPD_TLS_WANT_READ ? EPOLLIN : 0) | (want & FTPD_TLS_WANT_WRITE ? EPOLLOUT : 0);
}

/* ---------------------------------------------------------------- addresses */

static void addr_ip(const struct sockaddr_storage *ss, char *out, size_t size)
{
	const void *a;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out, (socklen_t)size);
			return;
		}
		a = &s6->sin6_addr;
	} else {
		a = &((const struct sockaddr_in *)(const void *)ss)->sin_addr;
	}
	if (!inet_ntop(ss->ss_family, a, out, (socklen_t)size))
		gw_strlcpy(out, "?", size);
}

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	char x[INET6_ADDRSTRLEN], y[INET6_ADDRSTRLEN];

	addr_ip(a, x, sizeof(x));
	addr_ip(b, y, sizeof(y));
	return strcmp(x, y) == 0;
}

/* ---------------------------------------------------------------- passive ports */

static void port_unmark(struct ftpd_server *srv, uint16_t port)
{
	pthread_mutex_lock(&srv->port_lock);
	srv->port_used[port - srv->cfg->passive_min] = 0;
	pthread_mutex_unlock(&srv->port_lock);
}

/* The session's passive listener closed: its port is free again. */
static void port_release(struct ctrl *c)
{
	struct ftpd_server *srv = c->loop->srv;

	gw_metric_add(GW_M_PASSIVE_PORTS, -1);
	port_unmark(srv, c->d.port);
	gw_counter_give(srv->ports_per_account, c->account_key);
	gw_counter_give(srv->ports_per_address, c->peer_ip);
}

/* Take one of the passive ports the account and the address may hold:
 * 0, -EUSERS (the account's are all open), -ETOOMANYREFS (the address's). */
static int port_take_share(struct ctrl *c)
{
	struct ftpd_server *srv = c->loop->srv;

	if (!gw_counter_take(srv->ports_per_account, c->account_key, srv->max_ports_per_account))
		return -EUSERS;
	if (!gw_counter_take(srv->ports_per_address, c->peer_ip, srv->max_ports_per_address)) {
		gw_counter_give(srv->ports_per_account, c->account_key);
		return -ETOOMANYREFS;
	}
	return 0;
}

/* Open a listener on a free port of the range, on the control connection's
 * local address. Ports in use by other sessions are skipped; so are ports
 * some other program holds (EADDRINUSE). */
static int port_listen(struct ftpd_server *srv, const struct sockaddr_storage *local,
		       int *out_fd, uint16_t *out_port)
{
	unsigned range = (unsigned)srv->cfg->passive_max - srv->cfg->passive_min + 1;
	unsigned start, i;
	int last = -EADDRINUSE;

	gw_random(&start, sizeof(start));
	for (i = 0; i < range; i++) {
		unsigned idx = (start + i) % range;
		uint16_t port = (uint16_t)(srv->cfg->passive_min + idx);
		struct sockaddr_storage ss = *local;
		socklen_t len;
		int fd, one = 1;

		pthread_mutex_lock(&srv->port_lock);
		if (srv->port_used[idx]) {
			pthread_mutex_unlock(&srv->port_lock);
			continue;
		}
		srv->port_used[idx] = 1;
		pthread_mutex_unlock(&srv->port_lock);

		if (ss.ss_family == AF_INET6) {
			((struct sockaddr_in6 *)(void *)&ss)->sin6_port = htons(port);
			len = sizeof(struct sockaddr_in6);
		} else {
			((struct sockaddr_in *)(void *)&ss)->sin_port = htons(port);
			len = sizeof(struct sockaddr_in);
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			last = -errno;
			port_unmark(srv, port);
			return last;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) == 0 && listen(fd, 64) == 0) {
			*out_fd = fd;
			*out_port = port;
			gw_metric_add(GW_M_PASSIVE_PORTS, 1);
			return 0;
		}
		last = -errno;
		close(fd);
		port_unmark(srv, port);
		if (last != -EADDRINUSE)
			return last;
	}
	return -EADDRINUSE;
}

/* ---------------------------------------------------------------- roots */

/* The shared descriptor of the account's root, given a fresh one (which
 * is used, or closed when the account has one already). */
static int root_take(struct ftpd_server *srv, int64_t account_id, int fd)
{
	struct root_share **b = &srv->roots[(uint64_t)account_id % ROOT_BUCKETS], *r;

	pthread_mutex_lock(&srv->root_lock);
	for (r = *b; r && r->account_id != account_id; r = r->next)
		;
	if (r) {
		r->refs++;
		close(fd);
		fd = r->fd;
	} else if ((r = malloc(sizeof(*r))) != NULL) {
		r->account_id = account_id;
		r->fd = fd;
		r->refs = 1;
		r->next = *b;
		*b = r;
	} else {
		close(fd);
		fd = -ENOMEM;
	}
	pthread_mutex_unlock(&srv->root_lock);
	return fd;
}

static void root_give(struct ftpd_server *srv, int64_t account_id)
{
	struct root_share **p = &srv->roots[(uint64_t)account_id % ROOT_BUCKETS], *r;

	pthread_mutex_lock(&srv->root_lock);
	for (; (r = *p) != NULL; p = &r->next) {
		if (r->account_id != account_id)
			continue;
		if (--r->refs == 0) {
			*p = r->next;
			close(r->fd);
			free(r);
		}
		break;
	}
	pthread_mutex_unlock(&srv->root_lock);
}

/* ---------------------------------------------------------------- jobs */

static void job_run(struct gw_job *gj)
{
	struct job *j = container_of(gj, struct job, base);
	struct store *st = j->c->loop->srv->store;
	struct loop *l = j->c->loop;
	uint64_t one = 1;

	switch (j->kind) {
	case J_LOGIN: {
		struct store_login who;

		j->err = j->locked ? -EACCES : store_login(st, j->user, j->pass, &who);
		explicit_bzero(j->pass, sizeof(j->pass));
		if (j->err == 0) {
			j->account_id = who.account_id;
			j->expires_at_ms = who.expires_at_ms;
		}
		if (j->err == 0)
			j->err = store_account_root(st, j->account_id, &j->root_fd);
		break;
	}
	case J_OPEN:
		j->err = store_upload_begin(st, j->account_id, j->root_fd, j->path, j->c->peer_ip,
					    j->mode, j->offset, &j->up);
		break;
	case J_HASH: {
		char hex[65];
		uint64_t size = 0;
		struct stat sb;
		int fd;

		j->err = ftpd_view_open_file(j->root_fd, j->path, &fd, &size);
		if (j->err < 0)
			break;
		if (fstat(fd, &sb) == 0 &&
		    store_upload_recorded_sha256(st, j->account_id, j->path, &sb, hex) == 0) {
			close(fd);
			gw_metric_add(GW_M_HASHES_RECORDED, 1);
			snprintf(j->reason, sizeof(j->reason), "SHA-256 0-%llu %s",
				 (unsigned long long)size, hex);
			break;
		}
		close(fd);
		if (!gw_counter_take(l->srv->hashes_per_account, j->c->account_key, 1)) {
			j->err = -EBUSY;
			break;
		}
		j->kind = J_HASH_READ;
		gw_pool_submit(l->srv->hash_pool, &j->base);
		return; /* done there */
	}
	case J_MFMT: {
		/* The file's time for listings, and the client's time on the
		 * upload's record; its bytes stay as they are. */
		struct timespec ts[2] = { { (time_t)j->offset, 0 }, { (time_t)j->offset, 0 } };
		uint64_t size = 0;
		struct stat sb;
		int fd;

		j->err = ftpd_view_open_file(j->root_fd, j->path, &fd, &size);
		if (j->err < 0)
			break;
		if (futimens(fd, ts) < 0 || fstat(fd, &sb) < 0)
			j->err = -errno;
		close(fd);
		if (j->err == 0)
			j->err = store_upload_set_client_mtime(st, j->account_id, j->path, &sb,
							       (int64_t)j->offset * 1000);
		break;
	}
	case J_HASH_READ: {
		char hex[65];
		uint64_t size = 0;
		int fd;

		j->err = ftpd_view_open_file(j->root_fd, j->path, &fd, &size);
		if (j->err == 0) {
			j->err = store_hash_fd(fd, &size, hex);
			close(fd);
		}
		gw_counter_give(l->srv->hashes_per_account, j->c->account_key);
		gw_metric_add(GW_M_HASHES_READ, 1);
		if (j->err == 0)
			snprintf(j->reason, sizeof(j->reason), "SHA-256 0-%llu %s",
				 (unsigned long long)size, hex);
		break;
	}
	case J_WRITE:
		for (size_t i = 0; i < j->nbufs && j->err == 0; i++)
			j->err = store_upload_write(j->up, j->bufs[i], j->lens[i]);
		break;
	case J_DIGEST:
		for (size_t i = 0; i < j->pair->nbufs; i++)
			store_upload_hash(j->pair->up, j->pair->bufs[i], j->pair->lens[i]);
		break;
	case J_COMMIT:
		j->err = store_upload_commit(st, j->up);
		if (j->err != -EBADMSG)
			break;
		/* The verdict came with the last byte: not kept. */
		gw_strlcpy(j->reason, store_upload_verdict(j->up), sizeof(j->reason));
		store_upload_reject(st, j->up);
		break;
	case J_REJECT:
		gw_strlcpy(j->reason, store_upload_verdict(j->up), sizeof(j->reason));
		j->err = store_upload_reject(st, j->up);
		break;
	case J_ABORT:
		j->err = store_upload_abort(st, j->up, j->reason);
		break;
	}
	pthread_mutex_lock(&l->lock);
	j->next = NULL;
	if (l->done_tail)
		l->done_tail->next = j;
	else
		l->done_head = j;
	l->done_tail = j;
	pthread_mutex_unlock(&l->lock);
	if (write(l->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		gw_error("ftpd.loop", "cannot wake loop: %s", strerror(errno));
}

/* Transfer buffers (GW_DATA_CHUNK, aligned for direct writes) are
 * counted per loop: chunks queued for a slow disk stay within a budget. */
static unsigned char *chunk_new(struct loop *l)
{
	unsigned char *p = aligned_alloc(STORE_DIRECT_ALIGN, GW_DATA_CHUNK);

	if (p) {
		l->chunks++;
		gw_metric_add(GW_M_BUFFER_BYTES, GW_DATA_CHUNK);
	}
	return p;
}

static void chunk_free(struct loop *l, unsigned char *p)
{
	if (p) {
		l->chunks--;
		gw_metric_add(GW_M_BUFFER_BYTES, -GW_DATA_CHUNK);
		free(p);
	}
}

static void job_free_bufs(struct job *j)
{
	for (size_t i = 0; i < j->nbufs; i++)
		chunk_free(j->c->loop, j->bufs[i]);
	j->nbufs = 0;
}

static struct job *job_new(struct ctrl *c, enum job_kind kind)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->c = c;
	j->kind = kind;
	j->root_fd = -1;
	j->base.run = job_run;
	return j;
}

/* Password checks and upload work run on different pools: a login storm
 * queues argon2id work, and must not queue the writes of running uploads
 * behind it. */
static void submit(struct ctrl *c, struct job *j)
{
	struct ftpd_server *srv = c->loop->srv;

	c->refs++;
	gw_pool_submit(j->kind == J_LOGIN ? srv->pool : srv->io_pool, &j->base);
}

static void ctrl_unref(struct ctrl *c)
{
	if (--c->refs > 0)
		return;
	/* Here, not at close: a job still running may be using it. */
	if (c->root_fd >= 0)
		root_give(c->loop->srv, c->account_id);
	gw_buf_release(&c->in);
	gw_buf_release(&c->out);
	free(c);
}

/* Record an upload that will not complete as partial, on a worker. */
static void abort_upload(struct ctrl *c, struct store_upload *up, const char *reason,
			 enum ftpd_xfer result)
{
	struct job *j = job_new(c, J_ABORT);

	if (!j) {
		/* Out of memory: the record stays 'receiving' and becomes
		 * 'partial' at the next start. */
		gw_error("ftpd.upload", "cannot record upload %lld as partial: out of memory",
			 (long long)store_upload_id(up));
		store_upload_free(up);
		return;
	}
	j->up = up;
	j->result = result;
	gw_strlcpy(j->reason, reason, sizeof(j->reason));
	submit(c, j);
}

static void upload_done(struct ctrl *c, struct job *j)
{
	struct data *d = &c->d;
	uint64_t bytes = store_upload_bytes(j->up);
	int64_t ms = gw_mono_ms() - d->started;

	if (j->err == -EBADMSG || j->kind == J_REJECT) {
		gw_warn("upload.rejected", "upload %lld '%s' of account %lld from %s rejected: %s",
			(long long)store_upload_id(j->up), d->path, (long long)c->account_id,
			c->peer_ip, j->reason);
		gw_strlcpy(c->core.reason, j->reason, sizeof(c->core.reason));
		data_finish(c, FTPD_XFER_REJECTED);
		return;
	}
	if (j->kind == J_COMMIT && j->err == 0) {
		uint64_t moved = bytes - store_upload_start_offset(j->up);

		gw_info("upload.received",
			"upload %lld '%s' of account %lld from %s: %llu bytes (%llu in this transfer),"
			" sha256 %s, %.1f MiB/s", (long long)store_upload_id(j->up), d->path,
			(long long)c->account_id, c->peer_ip, (unsigned long long)bytes,
			(unsigned long long)moved, store_upload_sha256(j->up),
			ms > 0 ? (double)moved / 1048576.0 / ((double)ms / 1000.0) : 0.0);
		gw_metric_add(GW_M_UPLOADS_RECEIVED, 1);
		data_finish(c, FTPD_XFER_OK);
	} else if (j->kind == J_COMMIT) {
		gw_error("upload.failed", "upload %lld '%s' of account %lld not stored: %s",
			 (long long)store_upload_id(j->up), d->path, (long long)c->account_id,
			 strerror(-j->err));
		data_finish(c, j->err == -ENOSPC || j->err == -EDQUOT ? FTPD_XFER_NO_SPACE
								     : FTPD_XFER_LOCAL_ERROR);
	} else {
		gw_info("upload.partial", "upload %lld '%s' of account %lld from %s: partial at %llu bytes: %s",
			(long long)store_upload_id(j->up), d->path, (long long)c->account_id,
			c->peer_ip, (unsigned long long)bytes, j->reason);
		data_finish(c, j->result);
	}
}

/* Count a failed login against the address and the account: true when it
 * earned the address a ban, and the session has ended. */
static bool login_failed(struct ctrl *c, bool locked)
{
	const struct gw_live *live = gw_live();
	struct gw_guard *g = c->loop->srv->guard;
	struct gw_guard_policy by_address = {
		live->ban_after_failures, live->ban_window_s, live->ban_duration_s,
	};
	struct gw_guard_policy by_account = by_address;
	int64_t now = gw_mono_ms();

	by_account.max_failures = live->lock_account_after_failures;
	gw_metric_add(GW_M_LOGINS_FAILED, 1);
	if (locked) {
		gw_metric_add(GW_M_BANNED_REFUSED, 1);
		gw_warn("session.login_failed", "login as '%s' from %s refused: the account is"
			" locked after too many failed logins", c->core.user, c->peer_ip);
	} else {
		gw_warn("session.login_failed", "login as '%s' from %s failed", c->core.user,
			c->peer_ip);
	}
	/* Names are counted only when accounts can be locked: unknown and
	 * known names alike, so a lock tells nothing about which exist. */
	if (by_account.max_failures && !locked &&
	    gw_guard_failed(g, GW_GUARD_ACCOUNT, c->core.user, &by_account, now))
		gw_warn("guard.lock", "account '%s' locked for %u s after %u failed logins",
			c->core.user, by_account.ban_s, by_account.max_failures);
	if (!gw_guard_failed(g, GW_GUARD_ADDRESS, c->peer_ip, &by_address, now))
		return false;
	gw_warn("guard.ban", "address %s banned for %u s after %u failed logins", c->peer_ip,
		by_address.ban_s, by_address.max_failures);
	end_session(c, "421 Too many failed logins from your address; try again later.\r\n",
		    "address banned");
	return true;
}

static void login_done(struct ctrl *c, struct job *j)
{
	bool ok = j->err == 0;

	if (ok) {
		snprintf(c->account_key, sizeof(c->account_key), "%lld", (long long)j->account_id);
		if (!gw_counter_take(c->loop->srv->per_account, c->account_key,
				     gw_live()->max_sessions_per_account)) {
			gw_warn("session.limit", "account %lld has %u sessions already; refused %s",
				(long long)j->account_id, gw_live()->max_sessions_per_account, c->peer_ip);
			close(j->root_fd);
			j->root_fd = -1;
			gw_buf_adds(&c->out, "421 Too many sessions for this account; try again later.\r\n");
			c->state = C_CLOSING;
			ctrl_pump(c);
			return;
		}
		c->counted_account = true;
		c->account_id = j->account_id;
		ftpd_tls_logged_in(c->tls, c->account_id);
		c->root_fd = root_take(c->loop->srv, j->account_id, j->root_fd);
		j->root_fd = -1;
		if (c->root_fd < 0) {
			end_session(c, "421 Cannot serve you now; try again later.\r\n",
				    "out of memory");
			return;
		}
		gw_metric_add(GW_M_LOGINS_OK, 1);
		gw_guard_succeeded(c->loop->srv->guard, GW_GUARD_ADDRESS, c->peer_ip);
		gw_guard_succeeded(c->loop->srv->guard, GW_GUARD_ACCOUNT, c->core.user);
		c->expires_at_ms = j->expires_at_ms;
		gw_info("session.login", "account %lld ('%s') logged in from %s",
			(long long)c->account_id, c->core.user, c->peer_ip);
	} else if (j->err != -EACCES) {
		/* Our failure, not the client's (no descriptors left, the
		 * database refusing): no 530, and not counted against it. */
		gw_error("session.login_error", "cannot log '%s' in from %s: %s", c->core.user,
			 c->peer_ip, strerror(-j->err));
		end_session(c, "421 Cannot serve you now; try again later.\r\n", strerror(-j->err));
		return;
	} else if (login_failed(c, j->locked)) {
		return;
	}
	if (ftpd_session_login_done(&c->core, ok) == FTPD_REQ_CLOSE)
		c->state = C_CLOSING;
	ctrl_pump(c);
}

/* A write job and its digest job are handled as one, once both are
 * done: the job to handle now, or NULL while the other still runs. */
static struct job *pair_done(struct job *j)
{
	if (j->kind == J_DIGEST) {
		struct job *w = j->pair;

		ctrl_unref(j->c); /* the write job still holds the session */
		free(j);
		return --w->parts > 0 ? NULL : w;
	}
	if (j->kind == J_WRITE && --j->parts > 0)
		return NULL;
	return j;
}

static void job_done(struct job *j)
{
	struct ctrl *c;

	j = pair_done(j);
	if (!j)
		return;
	c = j->c;

	if (c->closed) {
		/* The session ended while the job ran. */
		if (j->kind == J_LOGIN && j->root_fd >= 0)
			close(j->root_fd);
		if ((j->kind == J_OPEN && j->err == 0) || j->kind == J_WRITE) {
			abort_upload(c, j->up, "control connection closed", FTPD_XFER_ABORTED);
			j->up = NULL;
		}
		job_free_bufs(j);
		if (j->up)
			store_upload_free(j->up);
		goto out;
	}
	switch (j->kind) {
	case J_LOGIN:
		login_done(c, j);
		break;
	case J_HASH:
	case J_HASH_READ:
		ftpd_session_text_done(&c->core, j->err, j->reason);
		ctrl_pump(c);
		break;
	case J_MFMT:
		ftpd_session_mfmt_done(&c->core, j->err, (int64_t)j->offset);
		ctrl_pump(c);
		break;
	case J_WRITE:
		write_done(c, j);
		break;
	case J_DIGEST:
		break; /* pair_done() handed over its write job */
	case J_OPEN:
		if (j->err < 0) {
			gw_warn("upload.refused", "cannot open '%s' for account %lld: %s", j->path,
				(long long)c->account_id, strerror(-j->err));
			drain_start(c); /* it may be sending already: let it read the reply */
			data_finish(c, j->err == -ERANGE   ? FTPD_XFER_BAD_OFFSET
				       : j->err == -EBUSY  ? FTPD_XFER_BUSY
				       : j->err == -ENOENT && j->offset ? FTPD_XFER_NOT_FOUND
				       : j->err == -ENOSPC ? FTPD_XFER_NO_SPACE
				       : j->err == -EDQUOT ? FTPD_XFER_QUOTA
				       : j->err == -ENOKEY ? FTPD_XFER_NO_KEY
				       : j->err == -EBADMSG ? FTPD_XFER_REJECTED
				       /* the database is locked, read-only or failing:
					* for now, and not the client's doing */
				       : j->err == -EAGAIN || j->err == -EROFS || j->err == -EIO
					       || j->err == -ENOMEM ? FTPD_XFER_LOCAL_ERROR
							   : FTPD_XFER_OPEN_FAILED);
			break;
		}
		if (c->d.abort_requested) {
			abort_upload(c, j->up, "aborted by the client (ABOR)", FTPD_XFER_CLIENT_ABORT);
			j->up = NULL;
			watch_close(c->loop, &c->d.w);
			c->d.state = D_FINISHING;
			break;
		}
		c->d.up = j->up;
		j->up = NULL;
		gw_info("upload.start", "upload %lld '%s' of account %lld from %s starts at byte %llu",
			(long long)store_upload_id(c->d.up), c->d.path, (long long)c->account_id,
			c->peer_ip, (unsigned long long)store_upload_start_offset(c->d.up));
		c->d.buf = chunk_new(c->loop);
		if (!c->d.buf) {
			abort_upload(c, c->d.up, "out of memory", FTPD_XFER_LOCAL_ERROR);
			c->d.up = NULL;
			c->d.state = D_FINISHING;
			break;
		}
		c->d.state = D_RECEIVING;
		c->d.last_io = gw_mono_ms();
		data_pump(c);
		break;
	case J_COMMIT:
	case J_ABORT:
	case J_REJECT:
		upload_done(c, j);
		break;
	}
	if (j->up)
		store_upload_free(j->up);
out:
	ctrl_unref(c);
	free(j);
}

/* ---------------------------------------------------------------- data side */

static void data_reset(struct ctrl *c)
{
	struct data *d = &c->d;
	struct loop *l = c->loop;

	if (d->lw.fd >= 0) {
		watch_close(l, &d->lw);
		port_release(c);
	}
	if (d->tls) {
		ftpd_tls_free(d->tls);
		d->tls = NULL;
	}
	watch_close(l, &d->w);
	if (d->file_fd >= 0)
		close(d->file_fd);
	d->file_fd = -1;
	gw_buf_release(&d->listing);
	chunk_free(l, d->buf);
	d->buf = NULL;
	while (d->nfull)
		chunk_free(l, d->full[--d->nfull]);
	while (d->nspare)
		chunk_free(l, d->spare[--d->nspare]);
	d->fill = 0;
	d->writing = d->paused = d->eof = d->stop_pending = false;
	d->bytes_done = 0;
	d->sent = d->buf_len = d->buf_pos = 0;
	d->abort_requested = false;
	if (d->running)
		gw_metric_add(GW_M_TRANSFERS, -1);
	d->running = false;
	d->state = D_NONE;
	d->kind = FTPD_REQ_NONE;
}

/* The transfer is over (whatever the result): tell the client. */
static void data_finish(struct ctrl *c, enum ftpd_xfer result)
{
	if (c->d.up || c->d.writing)
		GW_BUG("data_finish with an open upload");
	data_reset(c);
	ftpd_session_transfer_done(&c->core, result);
	c->last_activity = gw_mono_ms();
	ctrl_pump(c);
}

static void data_on_event(struct watch *w, uint32_t events)
{
	struct data *d = container_of(w, struct data, w);
	struct ctrl *c = container_of(d, struct ctrl, d);

	(void)events;
	data_pump(c);
}

/* The data connection and the command are both here: 150, then TLS. */
static void data_begin(struct ctrl *c)
{
	struct data *d = &c->d;
	int r;

	ftpd_session_transfer_start(&c->core);
	d->running = true;
	gw_metric_add(GW_M_TRANSFERS, 1);
	r = ftpd_tls_new_data(d->w.fd, c->tls, &d->tls);
	if (r < 0) {
		data_finish(c, FTPD_XFER_LOCAL_ERROR);
		return;
	}
	d->state = D_HANDSHAKE;
	d->deadline = gw_mono_ms() + (int64_t)gw_live()->data_timeout_s * 1000;
	d->started = gw_mono_ms();
	ctrl_pump(c); /* send the 150 before the handshake needs it */
	if (!c->closed)
		data_pump(c);
}

static void data_on_accept(struct watch *w, uint32_t events)
{
	struct data *d = container_of(w, struct data, lw);
	struct ctrl *c = container_of(d, struct ctrl, d);
	struct loop *l = c->loop;

	(void)events;
	for (;;) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len = sizeof(ss);
		char ip[INET6_ADDRSTRLEN];
		int fd = accept4(w->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				gw_warn("ftpd.data", "cannot accept data connection: %s", strerror(errno));
			return;
		}
		if (!same_ip(&ss, &c->peer)) {
			static struct gw_log_limit lim = GW_LOG_LIMIT(20, 10000);

			addr_ip(&ss, ip, sizeof(ip));
			gw_log_limited(&lim, GW_LOG_WARN, "ftpd.data_foreign",
				       "refused data connection from %s to the passive port of %s", ip,
				       c->peer_ip);
			close(fd);
			continue;
		}
		watch_close(l, &d->lw);
		port_release(c);
		watch_init(&d->w, fd, data_on_event);
		d->state = D_CONNECTED;
		if (d->kind != FTPD_REQ_NONE)
			data_begin(c);
		return;
	}
}

static void data_handshake_done(struct ctrl *c)
{
	struct data *d = &c->d;
	struct job *j;

	if (!ftpd_tls_is_resumed(d->tls)) {
		static struct gw_log_limit lim = GW_LOG_LIMIT(20, 10000);

		gw_log_limited(&lim, GW_LOG_WARN, "ftpd.data_not_reused",
			       "data connection from %s did not reuse the control connection's TLS"
			       " session", c->peer_ip);
		data_finish(c, FTPD_XFER_NOT_REUSED);
		return;
	}
	if (d->kind == FTPD_REQ_STOR || d->kind == FTPD_REQ_APPE) {
		j = job_new(c, J_OPEN);
		if (!j) {
			data_finish(c, FTPD_XFER_LOCAL_ERROR);
			return;
		}
		j->account_id = c->account_id;
		j->root_fd = c->root_fd;
		gw_strlcpy(j->path, d->path, sizeof(j->path));
		j->mode = d->kind == FTPD_REQ_APPE ? STORE_UPLOAD_APPEND
			  : d->offset		   ? STORE_UPLOAD_RESUME
						   : STORE_UPLOAD_NEW;
		j->offset = d->offset;
		d->state = D_OPENING;
		watch_set(c->loop, &d->w, 0);
		submit(c, j);
		return;
	}
	/* A listing was made before the 150; a file was opened then. */
	d->state = D_SENDING;
	d->last_io = gw_mono_ms();
}

static void drain_end(struct drain *dr)
{
	struct loop *l = dr->loop;

	ftpd_tls_free(dr->tls);
	watch_close(l, &dr->w);
	if (dr->prev)
		dr->prev->next = dr->next;
	else
		l->drains = dr->next;
	if (dr->next)
		dr->next->prev = dr->prev;
	l->ndrains--;
	free(dr);
}

static void drain_pump(struct drain *dr)
{
	unsigned char buf[16384];
	int want = 0;

	if (!dr->shut) {
		int r = ftpd_tls_shutdown(dr->tls);

		if (r == -EAGAIN) {
			watch_set(dr->loop, &dr->w, want_events(ftpd_tls_want(dr->tls)));
			return;
		}
		if (r < 0) {
			drain_end(dr);
			return;
		}
		dr->shut = true;
	}
	for (;;) {
		ssize_t n = ftpd_tls_read(dr->tls, buf, sizeof(buf));

		if (n == -EAGAIN) {
			want = ftpd_tls_want(dr->tls);
			break;
		}
		if (n <= 0 || (uint64_t)n >= dr->left) {
			drain_end(dr); /* the client's end, or enough */
			return;
		}
		dr->left -= (uint64_t)n;
	}
	watch_set(dr->loop, &dr->w, want_events(want));
}

static void drain_on_event(struct watch *w, uint32_t events)
{
	(void)events;
	drain_pump(container_of(w, struct drain, w));
}

/* Hand the session's data connection to a drain, when it has TLS up and
 * the loop has room for one more: true when it took it. */
static bool drain_start(struct ctrl *c)
{
	struct data *d = &c->d;
	struct loop *l = c->loop;
	struct drain *dr;

	if (!d->tls || d->w.fd < 0 || l->ndrains >= DRAINS_PER_LOOP)
		return false;
	dr = calloc(1, sizeof(*dr));
	if (!dr)
		return false;
	if (d->w.registered)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, d->w.fd, NULL);
	watch_init(&dr->w, d->w.fd, drain_on_event);
	d->w.fd = -1;
	d->w.registered = false;
	watch_close(l, &d->w); /* out of the run-again list */
	dr->loop = l;
	dr->tls = d->tls;
	d->tls = NULL;
	dr->left = DRAIN_MAX_BYTES;
	dr->deadline = gw_mono_ms() + DRAIN_MS;
	dr->next = l->drains;
	if (l->drains)
		l->drains->prev = dr;
	l->drains = dr;
	l->ndrains++;
	drain_pump(dr);
	return true;
}

/* Drop the data connection of an upload that will not complete; its
 * reply comes when a worker has recorded what became of it. A refusal
 * (refused = true) first tells the client with close_notify and reads
 * what it still sends, so that it reads the reply rather than a reset. */
static void receive_close(struct ctrl *c, bool refused)
{
	struct data *d = &c->d;

	if (!refused || !drain_start(c)) {
		if (d->tls) {
			ftpd_tls_free(d->tls);
			d->tls = NULL;
		}
		watch_close(c->loop, &d->w);
	}
	d->state = D_FINISHING;
}

/* Stop receiving and record the upload partial: why, and what to say. */
static void receive_stop(struct ctrl *c, const char *why, enum ftpd_xfer result)
{
	struct data *d = &c->d;
	struct store_upload *up = d->up;

	if (d->writing) {
		/* The worker has the upload: stop when it gives it back. */
		if (!d->stop_pending) {
			d->stop_pending = true;
			d->stop_result = result;
			gw_strlcpy(d->stop_why, why, sizeof(d->stop_why));
		}
		watch_set(c->loop, &d->w, 0);
		return;
	}
	d->up = NULL;
	receive_close(c, result == FTPD_XFER_QUOTA || result == FTPD_XFER_NO_SPACE ||
			 result == FTPD_XFER_LOCAL_ERROR);
	abort_upload(c, up, why, result);
}

/* Not an authentic age file for the account: stop, drop it (a worker
 * records the verdict), and say why. */
static void receive_reject(struct ctrl *c)
{
	struct data *d = &c->d;
	struct job *j = job_new(c, J_REJECT);

	if (!j) {
		receive_stop(c, "out of memory", FTPD_XFER_LOCAL_ERROR);
		return;
	}
	j->up = d->up;
	d->up = NULL;
	receive_close(c, true);
	submit(c, j);
}

static ssize_t ctrl_read(struct ctrl *c, void *buf, size_t len, int *want);

/* Whether the client has already closed the control connection: what it
 * sent meanwhile is kept in c->in, in order, for the session to handle. */
static bool ctrl_peer_gone(struct ctrl *c)
{
	char tmp[GW_FTP_INBUF_MAX];
	int want = 0;

	while (c->in.len < GW_FTP_INBUF_MAX) {
		ssize_t n = ctrl_read(c, tmp, sizeof(tmp) - c->in.len, &want);

		if (n == -EAGAIN)
			return false;
		if (n <= 0)
			return true;
		gw_buf_add(&c->in, tmp, (size_t)n);
	}
	return false; /* a full input buffer: the client is there */
}

/* A chunk buffer for the loop to fill: a spare one, or a new one. */
static unsigned char *take_chunk(struct ctrl *c)
{
	struct data *d = &c->d;

	if (d->nspare)
		return d->spare[--d->nspare];
	return chunk_new(c->loop);
}

/* Whether one more filled chunk may wait for the disk: a few per upload,
 * and new buffers for it only while the loop is within its budget. */
static bool may_queue(const struct ctrl *c)
{
	const struct data *d = &c->d;

	return d->nfull < GW_DATA_QUEUE && (d->nspare || c->loop->chunks < GW_DATA_LOOP_CHUNKS);
}

/* Hand the full chunks, and the bytes of buf, to a worker to hash and
 * write; go on receiving into another buffer. Unless all is set (the
 * end), only whole blocks of buf go, so that the worker can write them
 * to the disk directly; the rest moves to the front of the next buffer. */
static void start_write(struct ctrl *c, bool all)
{
	struct data *d = &c->d;
	size_t len = all ? d->fill : d->fill & ~(size_t)(STORE_DIRECT_ALIGN - 1);
	unsigned char *next = NULL;
	struct job *j, *dj;

	if (len == 0 && d->nfull == 0)
		return; /* less than a block: wait for more */
	if (len)
		next = take_chunk(c);
	j = (next || !len) ? job_new(c, J_WRITE) : NULL;
	dj = j ? job_new(c, J_DIGEST) : NULL;
	if (!dj) {
		free(j);
		chunk_free(c->loop, next);
		receive_stop(c, "out of memory", FTPD_XFER_LOCAL_ERROR);
		return;
	}
	for (size_t i = 0; i < d->nfull; i++) {
		j->bufs[j->nbufs] = d->full[i];
		j->lens[j->nbufs++] = GW_DATA_CHUNK;
		j->len += GW_DATA_CHUNK;
	}
	d->nfull = 0;
	if (len) {
		j->bufs[j->nbufs] = d->buf;
		j->lens[j->nbufs++] = len;
		j->len += len;
		d->buf = next;
		d->fill -= len;
		memcpy(d->buf, j->bufs[j->nbufs - 1] + len, d->fill);
	}
	j->up = d->up;
	d->up = NULL;
	dj->pair = j;
	j->parts = 2;
	d->writing = true;
	submit(c, j);
	submit(c, dj);
}

/* Everything arrived and is written: make it durable and record it. */
static void receive_commit(struct ctrl *c)
{
	struct data *d = &c->d;
	struct job *j;

	if (ctrl_peer_gone(c)) {
		/* curl ends a transfer it gave up on (--max-time) with
		 * close_notify too, then closes the control connection at
		 * once: not a finished upload. */
		receive_stop(c, "the client closed the control connection without waiting for the"
				" upload to be confirmed", FTPD_XFER_ABORTED);
		return;
	}
	j = job_new(c, J_COMMIT);
	if (!j) {
		receive_stop(c, "out of memory", FTPD_XFER_LOCAL_ERROR);
		return;
	}
	ftpd_tls_shutdown(d->tls);
	ftpd_tls_free(d->tls);
	d->tls = NULL;
	watch_close(c->loop, &d->w);
	d->state = D_FINISHING;
	j->up = d->up;
	d->up = NULL;
	submit(c, j);
}

static void data_receive(struct ctrl *c)
{
	struct data *d = &c->d;
	size_t moved = 0;

	while (moved < GW_DATA_BURST) {
		ssize_t n;

		if (d->fill == GW_DATA_CHUNK) {
			if (!d->writing) {
				start_write(c, true);
				if (!d->writing)
					return; /* stopped */
			} else if (may_queue(c)) {
				/* queued for the next write job */
				unsigned char *next = take_chunk(c);

				if (!next) {
					receive_stop(c, "out of memory", FTPD_XFER_LOCAL_ERROR);
					return;
				}
				d->full[d->nfull++] = d->buf;
				d->buf = next;
				d->fill = 0;
			} else {
				/* Every chunk is full: wait for the worker. */
				d->paused = true;
				watch_set(c->loop, &d->w, 0);
				return;
			}
		}
		n = ftpd_tls_read(d->tls, d->buf + d->fill, GW_DATA_CHUNK - d->fill);
		if (n > 0) {
			d->fill += (size_t)n;
			moved += (size_t)n;
			d->last_io = gw_mono_ms();
			continue;
		}
		if (n == -EAGAIN) {
			if (!d->writing)
				start_write(c, false);
			if (d->state == D_RECEIVING && !d->stop_pending)
				watch_set(c->loop, &d->w, want_events(ftpd_tls_want(d->tls)));
			return;
		}
		if (n == 0) {
			/* close_notify: the client says this is all of it. */
			d->eof = true;
			watch_set(c->loop, &d->w, 0);
			if (d->writing)
				return; /* write_done goes on */
			if (d->fill || d->nfull)
				start_write(c, true);
			else
				receive_commit(c);
			return;
		}
		receive_stop(c, n == -EPROTO ? "TLS error on the data connection"
					     : "data connection closed without TLS close_notify",
			     FTPD_XFER_ABORTED);
		return;
	}
	/* Fair share used: let the other connections run, then continue. */
	if (!d->writing)
		start_write(c, false);
	if (d->state == D_RECEIVING && !d->stop_pending)
		watch_again(c->loop, &d->w);
}

/* A chunk is written (or not): the upload is back on the loop. */
static void write_done(struct ctrl *c, struct job *j)
{
	struct data *d = &c->d;
	int r = j->err;

	d->writing = false;
	d->up = j->up;
	j->up = NULL;
	/* the chunks are free again: kept, up to what a full queue needs */
	for (size_t i = 0; i < j->nbufs; i++) {
		if (d->nspare < GW_DATA_QUEUE + 1)
			d->spare[d->nspare++] = j->bufs[i];
		else
			chunk_free(c->loop, j->bufs[i]);
	}
	j->nbufs = 0;
	if (r < 0) {
		gw_error("upload.write", "cannot write upload %lld: %s", (long long)store_upload_id(d->up),
			 strerror(-r));
		d->stop_pending = false;
		if (r == -EBADMSG)
			receive_reject(c);
		else if (r == -EDQUOT)
			receive_stop(c, "the account's quota is used up", FTPD_XFER_QUOTA);
		else if (r == -ENOSPC)
			receive_stop(c, "no space left on the server", FTPD_XFER_NO_SPACE);
		else
			receive_stop(c, "cannot write the file", FTPD_XFER_LOCAL_ERROR);
		return;
	}
	gw_metric_add(GW_M_BYTES_RECEIVED, (int64_t)j->len);
	d->bytes_done = store_upload_bytes(d->up);
	if (d->stop_pending) {
		d->stop_pending = false;
		receive_stop(c, d->stop_why, d->stop_result);
		return;
	}
	if (d->eof) {
		if (d->fill || d->nfull)
			start_write(c, true);
		else
			receive_commit(c);
		return;
	}
	if (d->paused) {
		d->paused = false;
		data_receive(c);
	} else {
		/* what arrived meanwhile, without waiting for more */
		start_write(c, false);
	}
}

/* Next bytes to send: the listing, or the next chunk of the file. Returns
 * false at the end, or on a read error (*err set). */
static bool send_source(struct ctrl *c, const unsigned char **p, size_t *len, int *err)
{
	struct data *d = &c->d;

	*err = 0;
	if (d->file_fd < 0) {
		*p = (const unsigned char *)d->listing.data + d->sent;
		*len = d->listing.len - d->sent;
		return *len > 0;
	}
	if (d->buf_pos == d->buf_len) {
		ssize_t n;

		if (d->file_pos >= d->file_size)
			return false;
		n = pread(d->file_fd, d->buf, GW_DATA_CHUNK, (off_t)d->file_pos);
		if (n <= 0) {
			*err = n < 0 ? -errno : 0;
			return false; /* a file cut short while sent ends there */
		}
		d->buf_len = (size_t)n;
		d->buf_pos = 0;
		d->file_pos += (uint64_t)n;
	}
	*p = d->buf + d->buf_pos;
	*len = d->buf_len - d->buf_pos;
	return true;
}

static void sent(struct ctrl *c, size_t n)
{
	if (c->d.file_fd < 0)
		c->d.sent += n;
	else
		c->d.buf_pos += n;
}

static void data_send(struct ctrl *c)
{
	struct data *d = &c->d;
	size_t moved = 0;
	const unsigned char *p;
	size_t len;
	int err;

	while (moved < GW_DATA_BURST) {
		ssize_t n;

		if (!send_source(c, &p, &len, &err)) {
			if (err < 0) {
				gw_error("download.read", "cannot read '%s': %s", d->path, strerror(-err));
				data_finish(c, FTPD_XFER_LOCAL_ERROR);
				return;
			}
			d->state = D_CLOSING;
			d->deadline = gw_mono_ms() + GW_DATA_CLOSE_TIMEOUT_S * 1000;
			data_pump(c);
			return;
		}
		n = ftpd_tls_write(d->tls, p, len);
		if (n == -EAGAIN) {
			watch_set(c->loop, &d->w, want_events(ftpd_tls_want(d->tls)));
			return;
		}
		if (n < 0) {
			data_finish(c, FTPD_XFER_ABORTED);
			return;
		}
		sent(c, (size_t)n);
		moved += (size_t)n;
		d->last_io = gw_mono_ms();
	}
	watch_again(c->loop, &d->w);
}

static void data_pump(struct ctrl *c)
{
	struct data *d = &c->d;
	char sink[512];
	ssize_t n = 0;
	int r;

	switch (d->state) {
	case D_HANDSHAKE:
		r = ftpd_tls_handshake(d->tls);
		if (r == -EAGAIN) {
			watch_set(c->loop, &d->w, want_events(ftpd_tls_want(d->tls)));
			return;
		}
		if (r < 0) {
			gw_metric_add(GW_M_TLS_FAILURES, 1);
			gw_warn("ftpd.data_tls", "TLS handshake on the data connection from %s failed",
				c->peer_ip);
			data_finish(c, FTPD_XFER_TLS_FAILED);
			return;
		}
		data_handshake_done(c);
		if (c->closed || d->state != D_SENDING)
			return;
		data_send(c);
		return;
	case D_SENDING:
		data_send(c);
		return;
	case D_CLOSING:
		r = ftpd_tls_shutdown(d->tls);
		if (r == -EAGAIN) {
			watch_set(c->loop, &d->w, want_events(ftpd_tls_want(d->tls)));
			return;
		}
		/* Wait for the client's close_notify or EOF, so that closing
		 * here cannot reset a connection it is still reading. */
		while (r == 0 && (n = ftpd_tls_read(d->tls, sink, sizeof(sink))) > 0)
			;
		if (r == 0 && n == -EAGAIN) {
			watch_set(c->loop, &d->w, want_events(ftpd_tls_want(d->tls)));
			return;
		}
		data_finish(c, FTPD_XFER_OK);
		return;
	case D_RECEIVING:
		data_receive(c);
		return;
	case D_NONE:
	case D_LISTEN:
	case D_CONNECTED:
	case D_OPENING:
	case D_FINISHING:
		/* Nothing to do until a command or a job arrives. */
		if (d->w.fd >= 0)
			watch_set(c->loop, &d->w, 0);
		return;
	}
}

/* ABOR: end the running transfer, or close an unused passive port. */
static void data_abort(struct ctrl *c)
{
	struct data *d = &c->d;

	switch (d->state) {
	case D_NONE:
	case D_LISTEN:
	case D_CONNECTED:
		if (d->kind == FTPD_REQ_NONE) {
			data_reset(c); /* no transfer: the core said 225 */
			return;
		}
		data_finish(c, FTPD_XFER_CLIENT_ABORT);
		return;
	case D_HANDSHAKE:
	case D_SENDING:
	case D_CLOSING:
		data_finish(c, FTPD_XFER_CLIENT_ABORT);
		return;
	case D_RECEIVING:
		receive_stop(c, "aborted by the client (ABOR)", FTPD_XFER_CLIENT_ABORT);
		return;
	case D_OPENING:
		d->abort_requested = true; /* the open job's end acts on it */
		return;
	case D_FINISHING:
		return; /* the upload is being recorded; its reply comes */
	}
}

static uint64_t data_progress(const struct ctrl *c)
{
	const struct data *d = &c->d;

	if (d->up)
		return store_upload_bytes(d->up);
	if (d->writing)
		return d->bytes_done;
	if (d->file_fd >= 0)
		return d->file_pos - (d->buf_len - d->buf_pos);
	return d->sent;
}

static void passive_open(struct ctrl *c, bool extended)
{
	struct ftpd_server *srv = c->loop->srv;
	struct data *d = &c->d;
	char ip[INET6_ADDRSTRLEN];
	int fd = -1, r;

	data_reset(c);
	r = port_take_share(c);
	if (r < 0) {
		static struct gw_log_limit lim = GW_LOG_LIMIT(20, 10000);

		gw_log_limited(&lim, GW_LOG_WARN, "ftpd.passive",
			       "refused a passive port to account %lld from %s: %u open for the %s",
			       (long long)c->account_id, c->peer_ip,
			       r == -EUSERS ? srv->max_ports_per_account : srv->max_ports_per_address,
			       r == -EUSERS ? "account" : "address");
		ftpd_session_passive_done(&c->core, r, NULL, 0, extended);
		return;
	}
	r = port_listen(srv, &c->local, &fd, &d->port);
	if (r < 0) {
		gw_counter_give(srv->ports_per_account, c->account_key);
		gw_counter_give(srv->ports_per_address, c->peer_ip);
		gw_warn("ftpd.passive", "cannot open a passive port for %s: %s", c->peer_ip,
			r == -EADDRINUSE ? "every port of the range is in use" : strerror(-r));
		ftpd_session_passive_done(&c->core, r, NULL, 0, extended);
		return;
	}
	watch_init(&d->lw, fd, data_on_accept);
	watch_set(c->loop, &d->lw, EPOLLIN);
	d->state = D_LISTEN;
	d->deadline = gw_mono_ms() + (int64_t)gw_live()->data_timeout_s * 1000;
	if (srv->passive_ipv4[0])
		gw_strlcpy(ip, srv->passive_ipv4, sizeof(ip));
	else
		addr_ip(&c->local, ip, sizeof(ip));
	if (!extended && !strchr(ip, '.')) {
		/* PASV can only name an IPv4 address. */
		data_reset(c);
		ftpd_session_passive_done(&c->core, -EAFNOSUPPORT, NULL, 0, false);
		return;
	}
	/* A fresh TLS 1.3 ticket before each transfer keeps resumption
	 * working however long the session has been open. */
	ftpd_tls_refresh_ticket(c->tls);
	ftpd_session_passive_done(&c->core, 0, ip, d->port, extended);
}

/* Check what can be checked before the 150, so that a refusal leaves the
 * data connection unused: make a listing, open a file to send, check an
 * upload's target (opened for real once the data TLS is up). */
static enum ftpd_xfer transfer_prepare(struct ctrl *c, const struct ftpd_request *req)
{
	struct data *d = &c->d;
	uint64_t size = 0;
	int r;

	switch (req->kind) {
	case FTPD_REQ_STOR:
	case FTPD_REQ_APPE:
		r = ftpd_view_check_new_file(c->root_fd, req->path);
		if (r == 0 && req->kind == FTPD_REQ_STOR && req->offset > 0) {
			r = ftpd_view_size(c->root_fd, req->path, &size);
			if (r == 0 && req->offset > size)
				return FTPD_XFER_BAD_OFFSET;
			if (r == -ENOENT)
				return FTPD_XFER_NOT_FOUND;
		}
		return r < 0 ? FTPD_XFER_OPEN_FAILED : FTPD_XFER_OK;
	case FTPD_REQ_RETR:
		r = ftpd_view_open_file(c->root_fd, req->path, &d->file_fd, &d->file_size);
		if (r < 0)
			return r == -ENOENT ? FTPD_XFER_NOT_FOUND : FTPD_XFER_OPEN_FAILED;
		if (req->offset > d->file_size)
			return FTPD_XFER_BAD_OFFSET;
		d->file_pos = req->offset;
		d->buf = chunk_new(c->loop);
		return d->buf ? FTPD_XFER_OK : FTPD_XFER_LOCAL_ERROR;
	default:
		gw_buf_reset(&d->listing);
		r = ftpd_view_list(c->root_fd, req->path,
				   req->kind == FTPD_REQ_NLST   ? FTPD_VIEW_NAMES
				   : req->kind == FTPD_REQ_MLSD ? FTPD_VIEW_FACTS
								: FTPD_VIEW_LS,
				   gw_now_ms(), &d->listing);
		if (r == -ENOENT)
			return FTPD_XFER_NOT_FOUND;
		return r < 0 ? FTPD_XFER_OPEN_FAILED : FTPD_XFER_OK;
	}
}

static void transfer_request(struct ctrl *c, const struct ftpd_request *req)
{
	struct data *d = &c->d;
	enum ftpd_xfer refused;

	if (d->state == D_NONE) {
		data_finish(c, FTPD_XFER_NO_CONNECTION); /* the passive port timed out */
		return;
	}
	refused = transfer_prepare(c, req);
	if (refused != FTPD_XFER_OK) {
		data_finish(c, refused);
		return;
	}
	d->kind = req->kind;
	d->offset = req->offset;
	gw_strlcpy(d->path, req->path, sizeof(d->path));
	if (d->state == D_CONNECTED)
		data_begin(c); /* else data_on_accept starts it */
}

/* ---------------------------------------------------------------- control side */

static void ctrl_on_event(struct watch *w, uint32_t events)
{
	struct ctrl *c = container_of(w, struct ctrl, w);

	if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
		ctrl_close(c, "connection reset");
		return;
	}
	ctrl_pump(c);
}

/* Control connection I/O: TLS once it is up, plain before AUTH TLS. */
static ssize_t ctrl_read(struct ctrl *c, void *buf, size_t len, int *want)
{
	ssize_t n;

	if (c->tls) {
		n = ftpd_tls_read(c->tls, buf, len);
		if (n == -EAGAIN)
			*want |= ftpd_tls_want(c->tls);
		return n;
	}
	n = read(c->w.fd, buf, len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		*want |= FTPD_TLS_WANT_READ;
		return -EAGAIN;
	}
	return n < 0 ? -ECONNRESET : n;
}

static ssize_t ctrl_write(struct ctrl *c, const void *buf, size_t len, int *want)
{
	ssize_t n;

	if (c->tls) {
		n = ftpd_tls_write(c->tls, buf, len);
		if (n == -EAGAIN)
			*want |= ftpd_tls_want(c->tls);
		return n;
	}
	n = write(c->w.fd, buf, len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		*want |= FTPD_TLS_WANT_WRITE;
		return -EAGAIN;
	}
	return n < 0 ? -EPIPE : n;
}

static void simple_done(struct ctrl *c, int r)
{
	ftpd_session_done(&c->core, r);
}

static void handle_request(struct ctrl *c, struct ftpd_request *req)
{
	struct gw_buf text;
	struct job *j;
	uint64_t size = 0;
	int64_t mtime = 0;
	int r;

	switch (req->kind) {
	case FTPD_REQ_NONE:
		break;
	case FTPD_REQ_CLOSE:
		c->state = C_CLOSING;
		break;
	case FTPD_REQ_LOGIN:
	case FTPD_REQ_HASH:
		j = job_new(c, req->kind == FTPD_REQ_LOGIN ? J_LOGIN : J_HASH);
		if (!j) {
			if (req->kind == FTPD_REQ_LOGIN)
				ftpd_session_login_done(&c->core, false);
			else
				ftpd_session_text_done(&c->core, -ENOMEM, "");
			break;
		}
		gw_strlcpy(j->user, c->core.user, sizeof(j->user));
		gw_strlcpy(j->pass, req->arg, sizeof(j->pass));
		gw_strlcpy(j->path, req->path, sizeof(j->path));
		j->root_fd = c->root_fd;
		j->account_id = c->account_id;
		if (req->kind == FTPD_REQ_LOGIN) {
			j->root_fd = -1; /* the job's answer */
			j->locked = gw_guard_banned(c->loop->srv->guard, GW_GUARD_ACCOUNT, j->user,
						    gw_mono_ms()) > 0;
		}
		submit(c, j);
		break;
	case FTPD_REQ_AUTH_TLS:
		/* The 234 goes out in the clear; what the client sent after
		 * AUTH TLS before the handshake is dropped, never obeyed. */
		gw_buf_reset(&c->in);
		c->state = C_HANDSHAKE;
		c->deadline = gw_mono_ms() + GW_TLS_HANDSHAKE_TIMEOUT_S * 1000;
		break;
	case FTPD_REQ_PASV:
		passive_open(c, req->extended);
		break;
	case FTPD_REQ_CWD:
		simple_done(c, ftpd_view_check_dir(c->root_fd, req->path));
		break;
	case FTPD_REQ_SIZE:
		r = ftpd_view_size(c->root_fd, req->path, &size);
		ftpd_session_size_done(&c->core, r, size);
		break;
	case FTPD_REQ_MDTM:
		r = ftpd_view_mtime(c->root_fd, req->path, &mtime);
		ftpd_session_mdtm_done(&c->core, r, mtime);
		break;
	case FTPD_REQ_MFMT:
		j = job_new(c, J_MFMT);
		if (!j) {
			ftpd_session_mfmt_done(&c->core, -ENOMEM, 0);
			break;
		}
		gw_strlcpy(j->path, req->path, sizeof(j->path));
		j->root_fd = c->root_fd;
		j->account_id = c->account_id;
		j->offset = req->offset;
		submit(c, j);
		break;
	case FTPD_REQ_MLST:
	case FTPD_REQ_STAT:
		gw_buf_init(&text, GW_LISTING_MAX);
		if (req->kind == FTPD_REQ_MLST)
			r = ftpd_view_facts(c->root_fd, req->path, req->path, &text);
		else
			r = ftpd_view_list(c->root_fd, req->path, FTPD_VIEW_LS, gw_now_ms(), &text);
		ftpd_session_text_done(&c->core, r, gw_buf_str(&text));
		gw_buf_release(&text);
		break;
	case FTPD_REQ_DELE:
		simple_done(c, ftpd_view_delete(c->root_fd, req->path));
		break;
	case FTPD_REQ_RNFR:
		simple_done(c, ftpd_view_exists(c->root_fd, req->path));
		break;
	case FTPD_REQ_RNTO:
		simple_done(c, ftpd_view_rename(c->root_fd, req->from, req->path));
		break;
	case FTPD_REQ_MKD:
		simple_done(c, ftpd_view_mkdir(c->root_fd, req->path));
		break;
	case FTPD_REQ_RMD:
		simple_done(c, ftpd_view_rmdir(c->root_fd, req->path));
		break;
	case FTPD_REQ_LIST:
	case FTPD_REQ_NLST:
	case FTPD_REQ_MLSD:
	case FTPD_REQ_RETR:
	case FTPD_REQ_STOR:
	case FTPD_REQ_APPE:
		transfer_request(c, req);
		break;
	case FTPD_REQ_ABOR:
		data_abort(c);
		break;
	case FTPD_REQ_XFER_STAT:
		ftpd_session_transfer_status(&c->core, data_progress(c));
		break;
	}
	explicit_bzero(req->arg, sizeof(req->arg));
}

/* Telnet (RFC 854) on the control connection, where RFC 959 puts it:
 * commands (IAC and a command byte; WILL, WONT, DO and DONT take an
 * option byte too) are dropped only before the command's first letter,
 * where clients send them (IAC IP, IAC DM before ABOR). In the rest of
 * the line IAC IAC stands for one 0xFF (RFC 959; RFC 2640 for path
 * names) and any other 0xFF is a byte of the argument, so a file name
 * keeps the bytes it was sent with. */
static size_t strip_telnet(char *line, size_t len)
{
	const unsigned char *u = (const unsigned char *)line;
	size_t i = 0, o = 0;

	while (i + 1 < len && u[i] == 0xff && u[i + 1] >= 0xf0 && u[i + 1] != 0xff)
		i += u[i + 1] >= 0xfb ? 3 : 2; /* WILL WONT DO DONT <option> */
	for (; i < len; i++) {
		if (u[i] == 0xff && i + 1 < len && u[i + 1] == 0xff)
			i++;
		line[o++] = line[i];
	}
	return o;
}

enum line_result { LINE_NONE, LINE_DONE, LINE_WAIT };

/* Handle the next complete line of input, if the session takes it now. */
static enum line_result next_line(struct ctrl *c)
{
	struct ftpd_request req;
	char *nl = c->in.len ? memchr(c->in.data, '\n', c->in.len) : NULL;
	char line[GW_FTP_LINE_MAX + 1];
	size_t len;

	if (!nl) {
		if (c->in.len > GW_FTP_LINE_MAX) {
			/* Answer an overlong line once, then drop it to its end. */
			if (!c->discard)
				ftpd_session_line_too_long(&c->core);
			c->discard = true;
			gw_buf_reset(&c->in);
			return LINE_DONE;
		}
		return LINE_NONE;
	}
	len = (size_t)(nl - c->in.data);
	if (c->discard || len > GW_FTP_LINE_MAX) {
		if (!c->discard)
			ftpd_session_line_too_long(&c->core);
		c->discard = false;
		gw_buf_consume(&c->in, len + 1);
		return LINE_DONE;
	}
	memcpy(line, c->in.data, len);
	len = strip_telnet(line, len);
	if (!ftpd_session_takes(&c->core, line, len))
		return LINE_WAIT; /* stays queued until the running request ends */
	/* Take the line out of the buffer before acting on it: the request
	 * may finish at once and pump this connection again. */
	gw_buf_consume(&c->in, (size_t)(nl - c->in.data) + 1);
	ftpd_session_input(&c->core, line, len, &req);
	explicit_bzero(line, len);
	handle_request(c, &req);
	return LINE_DONE;
}

/* Whether to read more commands: not while a login or another job is
 * pending, but during a transfer (for ABOR and STAT). */
static bool reads_commands(const struct ctrl *c)
{
	const struct ftpd_session *s = &c->core;

	if (s->state == FTPD_S_LOGIN)
		return false;
	return s->state != FTPD_S_BUSY || ftpd_req_is_transfer(s->pending);
}

/* Over a session limit: say which, then close. */
static void limit_reply(struct ctrl *c)
{
	static struct gw_log_limit lim = GW_LOG_LIMIT(20, 10000);

	if (c->server_full) {
		gw_log_limited(&lim, GW_LOG_WARN, "session.limit",
			       "refused %s: %u sessions on the server already", c->peer_ip,
			       gw_live()->max_sessions);
		gw_buf_adds(&c->out, "421 There are too many connected users, please try later.\r\n");
	} else {
		gw_log_limited(&lim, GW_LOG_WARN, "session.limit",
			       "refused %s: %u sessions from that address already", c->peer_ip,
			       gw_live()->max_sessions_per_address);
		gw_buf_adds(&c->out,
			    "421 There are too many connections from your internet address.\r\n");
	}
	c->state = C_CLOSING;
}

static void ctrl_handshake_done(struct ctrl *c)
{
	c->state = C_OPEN;
	c->last_activity = gw_mono_ms();
	c->deadline = c->last_activity + GW_LOGIN_TIMEOUT_S * 1000;
	gw_info("session.open", "session from %s, %s%s", c->peer_ip, ftpd_tls_version(c->tls),
		c->is_explicit ? " (AUTH TLS)" : "");
	if (c->over_limit) {
		limit_reply(c);
		return;
	}
	if (c->is_explicit)
		ftpd_session_tls_started(&c->core);
	else
		ftpd_session_greet(&c->core, BANNER);
}

static void ctrl_pump(struct ctrl *c)
{
	char tmp[GW_FTP_INBUF_MAX];
	int want = 0;
	ssize_t n;

	for (;;) {
		if (c->closed)
			return; /* a request finished at once and closed it */
		while (c->out.len) {
			size_t chunk = c->out.len < CTRL_WRITE_CHUNK ? c->out.len : CTRL_WRITE_CHUNK;

			n = ctrl_write(c, c->out.data, chunk, &want);
			if (n == -EAGAIN)
				break;
			if (n < 0) {
				char why[200];

				snprintf(why, sizeof(why), "connection lost while writing: %s",
					 c->tls ? ftpd_tls_error(c->tls) : strerror(errno));
				ctrl_close(c, why);
				return;
			}
			gw_buf_consume(&c->out, (size_t)n);
		}
		if (c->out.len)
			break; /* the client reads slowly: read no more commands */
		if (c->state == C_HANDSHAKE) {
			int r;

			if (!c->tls && ftpd_tls_new_control(__atomic_load_n(&c->loop->srv->tls, __ATOMIC_ACQUIRE),
							     c->w.fd, c->loop->srv->issuers, c->peer_ip,
							     &c->tls) < 0) {
				ctrl_close(c, "out of memory");
				return;
			}
			r = ftpd_tls_handshake(c->tls);
			if (r == -EAGAIN) {
				want |= ftpd_tls_want(c->tls);
				break;
			}
			if (r < 0) {
				gw_metric_add(GW_M_TLS_FAILURES, 1);
				ctrl_close(c, c->is_explicit ? "TLS handshake after AUTH TLS failed"
							     : "TLS handshake failed (not an implicit FTPS client?)");
				return;
			}
			ctrl_handshake_done(c);
			continue; /* send the greeting (or a 421) */
		}
		if (c->state == C_CLOSING) {
			if (c->tls)
				ftpd_tls_shutdown(c->tls);
			ctrl_close(c, "session ended");
			return;
		}
		if (c->state == C_HANDSHAKE)
			continue; /* AUTH TLS: TLS starts once the 234 is out */
		switch (next_line(c)) {
		case LINE_DONE:
			continue;
		case LINE_WAIT:
			goto arm;
		case LINE_NONE:
			break;
		}
		if (!reads_commands(c))
			break;
		/* next_line() left at most GW_FTP_LINE_MAX bytes in c->in */
		n = ctrl_read(c, tmp, sizeof(tmp) - c->in.len, &want);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			ctrl_close(c, n == 0 ? "client closed the connection" : "connection lost");
			return;
		}
		c->last_activity = gw_mono_ms();
		if (gw_buf_add(&c->in, tmp, (size_t)n) < 0) {
			ctrl_close(c, "control input too long");
			return;
		}
	}
arm:
	watch_set(c->loop, &c->w, want_events(want));
}

static void ctrl_close(struct ctrl *c, const char *why)
{
	struct loop *l = c->loop;
	struct data *d = &c->d;

	if (c->closed)
		return;
	c->closed = true;
	if (d->up) {
		abort_upload(c, d->up, "control connection closed", FTPD_XFER_ABORTED);
		d->up = NULL;
	}
	data_reset(c);
	gw_info("session.close", "session from %s closed: %s", c->peer_ip, why);
	watch_close(l, &c->w);
	ftpd_tls_free(c->tls);
	c->tls = NULL;
	if (c->counted_account)
		gw_counter_give(l->srv->per_account, c->account_key);
	if (!c->over_limit)
		gw_counter_give(l->srv->per_address, c->peer_ip);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->ctrls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	__atomic_sub_fetch(&l->srv->sessions, 1, __ATOMIC_RELAXED);
	gw_metric_add(GW_M_SESSIONS, -1);
	/* Callers up the stack, and events later in this epoll batch, may
	 * still hold c: it is released once the loop iteration is over. */
	c->prev = NULL;
	c->next = l->closed;
	l->closed = c;
}

/* Say why (a 421), end any transfer (an upload stays partial), close. */
static void end_session(struct ctrl *c, const char *reply, const char *why)
{
	gw_info("session.end", "ending the session of account %lld from %s: %s",
		(long long)c->account_id, c->peer_ip, why);
	if (c->d.up || c->d.writing)
		receive_stop(c, why, FTPD_XFER_ABORTED);
	gw_buf_adds(&c->out, reply);
	c->state = C_CLOSING;
	ctrl_pump(c);
}

static void release_closed(struct loop *l)
{
	while (l->closed) {
		struct ctrl *c = l->closed;

		l->closed = c->next;
		ctrl_unref(c);
	}
}

static void ctrl_new(struct loop *l, int fd, const struct sockaddr_storage *peer, bool is_explicit,
		     bool server_full)
{
	const struct gw_config *cfg = l->srv->cfg;
	struct ctrl *c = calloc(1, sizeof(*c));
	socklen_t len = sizeof(c->local);
	int one = 1, idle = 60, intvl = 20, cnt = 3;

	if (!c) {
		close(fd);
		return;
	}
	c->refs = 1;
	c->loop = l;
	c->root_fd = -1;
	c->is_explicit = is_explicit;
	c->peer = *peer;
	addr_ip(peer, c->peer_ip, sizeof(c->peer_ip));
	getsockname(fd, (struct sockaddr *)&c->local, &len);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	gw_buf_init(&c->in, GW_FTP_INBUF_MAX);
	gw_buf_init(&c->out, GW_FTP_OUTBUF_MAX);
	ftpd_session_init(&c->core, &c->out);
	c->core.downloads = cfg->downloads;
	c->core.idle_timeout_s = gw_live()->idle_timeout_s;
	watch_init(&c->w, fd, ctrl_on_event);
	watch_init(&c->d.lw, -1, data_on_accept);
	watch_init(&c->d.w, -1, data_on_event);
	c->d.file_fd = -1;
	gw_buf_init(&c->d.listing, GW_LISTING_MAX);
	/* Over the per-address limit: counted nowhere, told so with a 421
	 * once TLS is up (before it, nothing can be said). */
	c->server_full = server_full;
	c->over_limit = server_full || !gw_counter_take(l->srv->per_address, c->peer_ip,
							gw_live()->max_sessions_per_address);
	c->deadline = gw_mono_ms() + GW_TLS_HANDSHAKE_TIMEOUT_S * 1000;
	if (is_explicit) {
		c->state = C_PLAIN;
		ftpd_session_require_auth_tls(&c->core);
		if (c->over_limit) {
			limit_reply(c);
		} else {
			ftpd_session_greet(&c->core, BANNER);
		}
		c->deadline = gw_mono_ms() + GW_LOGIN_TIMEOUT_S * 1000;
	} else {
		c->state = C_HANDSHAKE;
	}
	c->next = l->ctrls;
	if (l->ctrls)
		l->ctrls->prev = c;
	l->ctrls = c;
	__atomic_add_fetch(&l->srv->sessions, 1, __ATOMIC_RELAXED);
	gw_metric_add(GW_M_SESSIONS, 1);
	if (is_explicit)
		ctrl_pump(c);
	else
		watch_set(l, &c->w, EPOLLIN);
}

/* ---------------------------------------------------------------- loops */

/* EPOLLEXCLUSIVE registrations cannot be modified, only removed and added
 * again: pausing accepts removes the listening sockets from this loop. */
static void accept_pause(struct loop *l)
{
	struct watch *ws[2] = { &l->accept_w, &l->accept_explicit };
	int i;

	for (i = 0; i < 2; i++) {
		if (ws[i]->fd < 0 || !ws[i]->registered)
			continue;
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, ws[i]->fd, NULL);
		ws[i]->registered = false;
	}
}

static void accept_resume(struct loop *l)
{
	watch_set(l, &l->accept_w, EPOLLIN | EPOLLEXCLUSIVE);
	if (l->accept_explicit.fd >= 0)
		watch_set(l, &l->accept_explicit, EPOLLIN | EPOLLEXCLUSIVE);
}

/* A banned address is refused before any TLS work: told so in the clear
 * on the explicit listener, closed unanswered on the implicit one (before
 * the handshake, nothing else can be said). */
static bool refuse_banned(struct loop *l, int fd, const struct sockaddr_storage *ss,
			  bool is_explicit)
{
	static const char msg[] = "421 Too many failed logins from your address; try again later.\r\n";
	char ip[INET6_ADDRSTRLEN];

	addr_ip(ss, ip, sizeof(ip));
	if (!gw_guard_banned(l->srv->guard, GW_GUARD_ADDRESS, ip, gw_mono_ms()))
		return false;
	if (is_explicit && send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		gw_debug("ftpd.banned", "cannot tell %s it is banned: %s", ip, strerror(errno));
	close(fd);
	gw_metric_add(GW_M_BANNED_REFUSED, 1);
	return true;
}

static void accept_on(struct loop *l, struct watch *w, bool is_explicit)
{
	unsigned sessions;
	int i;

	if (__atomic_load_n(&l->srv->draining, __ATOMIC_RELAXED)) {
		accept_pause(l);
		return;
	}
	for (i = 0; i < 64; i++) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len = sizeof(ss);
		int fd = accept4(w->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				gw_error("ftpd.accept", "cannot accept connections: %s; pausing for a second",
					 strerror(errno));
				accept_pause(l);
				l->accept_paused_until = gw_mono_ms() + 1000;
			}
			return;
		}
		sessions = (unsigned)__atomic_load_n(&l->srv->sessions, __ATOMIC_RELAXED);
		if (sessions >= gw_live()->max_sessions + FULL_MARGIN) {
			/* Far over: not even a TLS handshake to say so. */
			close(fd);
			continue;
		}
		if (refuse_banned(l, fd, &ss, is_explicit))
			continue;
		ctrl_new(l, fd, &ss, is_explicit, sessions >= gw_live()->max_sessions);
	}
}

static void on_accept(struct watch *w, uint32_t events)
{
	(void)events;
	accept_on(container_of(w, struct loop, accept_w), w, false);
}

static void on_accept_explicit(struct watch *w, uint32_t events)
{
	(void)events;
	accept_on(container_of(w, struct loop, accept_explicit), w, true);
}

/* An account changed (the admin disabled, deleted or expired it, or moved
 * its expiry): its sessions in this loop end, or learn the new expiry. */
static void apply_account_changes(struct loop *l)
{
	struct store_account_change *list;
	struct ctrl *c, *next;
	size_t n, i;

	pthread_mutex_lock(&l->lock);
	list = l->changes;
	n = l->nchanges;
	l->changes = NULL;
	l->nchanges = l->changes_cap = 0;
	pthread_mutex_unlock(&l->lock);
	for (i = 0; i < n; i++) {
		for (c = l->ctrls; c; c = next) {
			next = c->next;
			if (c->closed || c->account_id != list[i].account_id || !c->counted_account)
				continue;
			c->expires_at_ms = list[i].expires_at_ms;
			if (!list[i].can_login)
				end_session(c, "421 This account can no longer be used; the session ends.\r\n",
					    "account disabled, deleted or expired");
		}
	}
	free(list);
}

static void on_account_change(void *arg, const struct store_account_change *change)
{
	struct ftpd_server *srv = arg;
	unsigned i;

	for (i = 0; i < srv->nloops; i++) {
		struct loop *l = &srv->loops[i];
		uint64_t one = 1;

		pthread_mutex_lock(&l->lock);
		if (l->nchanges == l->changes_cap) {
			size_t cap = l->changes_cap ? l->changes_cap * 2 : 8;
			struct store_account_change *p = realloc(l->changes, cap * sizeof(*p));

			if (!p) {
				pthread_mutex_unlock(&l->lock);
				gw_error("ftpd.account", "cannot pass on a change of account %lld: out of memory",
					 (long long)change->account_id);
				continue;
			}
			l->changes = p;
			l->changes_cap = cap;
		}
		l->changes[l->nchanges++] = *change;
		pthread_mutex_unlock(&l->lock);
		if (write(l->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			gw_error("ftpd.loop", "cannot wake loop: %s", strerror(errno));
	}
}

static void on_wake(struct watch *w, uint32_t events)
{
	struct loop *l = container_of(w, struct loop, wake);
	struct job *j;
	uint64_t v;

	(void)events;
	if (read(w->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		gw_error("ftpd.loop", "cannot read eventfd: %s", strerror(errno));
	for (;;) {
		pthread_mutex_lock(&l->lock);
		j = l->done_head;
		if (j) {
			l->done_head = j->next;
			if (!l->done_head)
				l->done_tail = NULL;
		}
		pthread_mutex_unlock(&l->lock);
		if (!j)
			break;
		job_done(j);
	}
	apply_account_changes(l);
}

/* Once a second: deadlines of handshakes, logins, idle sessions and
 * passive listeners. */
static void tick(struct loop *l)
{
	const struct gw_live *live = gw_live();
	int64_t now = gw_mono_ms();
	struct ctrl *c, *next;
	struct drain *dr, *dnext;

	for (dr = l->drains; dr; dr = dnext) {
		dnext = dr->next;
		if (now > dr->deadline)
			drain_end(dr);
	}
	if (__atomic_load_n(&l->srv->draining, __ATOMIC_RELAXED)) {
		accept_pause(l);
		l->accept_paused_until = 0;
	}
	if (l->accept_paused_until && now >= l->accept_paused_until) {
		l->accept_paused_until = 0;
		accept_resume(l);
	}
	for (c = l->ctrls; c; c = next) {
		struct data *d = &c->d;

		next = c->next;
		if (c->state == C_HANDSHAKE && now > c->deadline) {
			ctrl_close(c, "TLS handshake timed out");
			continue;
		}
		if ((c->state == C_OPEN || c->state == C_PLAIN) && c->core.state != FTPD_S_READY &&
		    c->core.state != FTPD_S_BUSY && c->core.state != FTPD_S_LOGIN &&
		    now > c->deadline) {
			gw_buf_adds(&c->out, "421 Login timeout.\r\n");
			c->state = C_CLOSING;
			ctrl_pump(c);
			continue;
		}
		if (c->expires_at_ms && gw_now_ms() >= c->expires_at_ms && c->state == C_OPEN) {
			end_session(c, "421 This account has expired; the session ends.\r\n",
				    "account expired");
			continue;
		}
		switch (d->state) {
		case D_LISTEN:
		case D_HANDSHAKE:
			if (now > d->deadline) {
				if (d->kind == FTPD_REQ_NONE)
					data_reset(c);
				else
					data_finish(c, d->state == D_LISTEN ? FTPD_XFER_NO_CONNECTION
									    : FTPD_XFER_TLS_FAILED);
			}
			continue;
		case D_CLOSING:
			if (now > d->deadline)
				data_finish(c, FTPD_XFER_OK);
			continue;
		case D_RECEIVING:
			/* a write in flight: the disk is slow, not the client */
			if (!d->writing && now - d->last_io > (int64_t)live->idle_timeout_s * 1000)
				receive_stop(c, "data connection idle too long", FTPD_XFER_ABORTED);
			continue;
		case D_SENDING:
			if (now - d->last_io > (int64_t)live->idle_timeout_s * 1000)
				data_finish(c, FTPD_XFER_ABORTED);
			continue;
		case D_OPENING:
		case D_FINISHING:
			continue; /* a transfer is running: never idle */
		case D_NONE:
		case D_CONNECTED:
			break;
		}
		if (c->state == C_OPEN && c->core.state == FTPD_S_READY &&
		    now - c->last_activity > (int64_t)live->idle_timeout_s * 1000) {
			gw_buf_adds(&c->out, "421 Timeout.\r\n");
			c->state = C_CLOSING;
			ctrl_pump(c);
		}
	}
}

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	int64_t next_tick = gw_mono_ms() + 1000;

	/* Linux: the nice value of this thread alone (see gw.h). */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), GW_NICE_TRANSFERS) < 0)
		gw_warn("ftpd.loop", "cannot lower the loop's priority: %s", strerror(errno));

	while (!__atomic_load_n(&l->srv->stopping, __ATOMIC_RELAXED)) {
		struct epoll_event evs[128];
		int timeout, n, i;
		int64_t now = gw_mono_ms();

		timeout = l->again_head ? 0 : (int)(next_tick > now ? next_tick - now : 0);
		n = epoll_wait(l->epfd, evs, (int)GW_ARRAY_SIZE(evs), timeout);
		if (n < 0 && errno != EINTR) {
			gw_error("ftpd.loop", "epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;

			w->fn(w, evs[i].events);
		}
		/* Connections that stopped early to share the loop. */
		if (l->again_head) {
			struct watch *list = l->again_head, *w;

			l->again_head = NULL;
			while (list) {
				w = list;
				list = w->again_next;
				w->again = false;
				w->fn(w, EPOLLIN);
			}
		}
		if (gw_mono_ms() >= next_tick) {
			tick(l);
			next_tick = gw_mono_ms() + 1000;
		}
		release_closed(l);
	}
	return NULL;
}

/* ---------------------------------------------------------------- server */

static int resolve_ipv4(const char *host, char *out, size_t size)
{
	struct addrinfo hints, *res = NULL;
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0 || !res)
		return -EINVAL;
	inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, out, (socklen_t)size);
	freeaddrinfo(res);
	return 0;
}

int ftpd_prepare_tls(const struct gw_config *cfg, char *cert, char *key, size_t size,
		     char *err, size_t err_size)
{
	return ftpd_tls_ensure_cert(cfg->data_dir, cfg->tls_cert, cfg->tls_key, cert, key, size,
				    err, err_size);
}

int ftpd_start(const struct gw_config *cfg, const char *cert, const char *key,
	       struct store *st, struct gw_pool *pool, struct gw_guard *guard,
	       struct ftpd_server **out, char *err, size_t err_size)
{
	struct ftpd_server *srv;
	unsigned i;
	long cores;
	int r;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cfg = cfg;
	srv->store = st;
	srv->pool = pool;
	srv->guard = guard;
	srv->policy.min_version = strcmp(cfg->tls_min_version, "1.3") ? 12 : 13;
	srv->policy.ciphers = cfg->tls_ciphers;
	srv->policy.ciphersuites = cfg->tls_ciphersuites;
	srv->listen_fd = srv->explicit_fd = -1;
	pthread_mutex_init(&srv->port_lock, NULL);
	pthread_mutex_init(&srv->root_lock, NULL);
	if (gw_counter_new(&srv->per_address) < 0 || gw_counter_new(&srv->per_account) < 0 ||
	    ftpd_issuers_new(&srv->issuers) < 0 ||
	    gw_counter_new(&srv->ports_per_account) < 0 || gw_counter_new(&srv->ports_per_address) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	{
		unsigned range = (unsigned)cfg->passive_max - cfg->passive_min + 1;
		unsigned share = range / 4 ? range / 4 : 1;

		/* gw_counter_take() takes max 0 as no limit */
		srv->max_ports_per_account = cfg->max_passive_per_account == GW_PASSIVE_SHARE
					     ? share : cfg->max_passive_per_account;
		srv->max_ports_per_address = cfg->max_passive_per_address == GW_PASSIVE_SHARE
					     ? share : cfg->max_passive_per_address;
	}
	r = gw_counter_new(&srv->hashes_per_account);
	if (r == 0)
		r = gw_pool_new(1, GW_NICE_PASSWORDS, &srv->hash_pool);
	if (r < 0) {
		snprintf(err, err_size, "cannot start the HASH worker thread: %s", strerror(-r));
		goto fail;
	}
	r = gw_pool_new(cfg->workers, GW_NICE_TRANSFERS, &srv->io_pool);
	if (r < 0) {
		snprintf(err, err_size, "cannot start upload worker threads: %s", strerror(-r));
		goto fail;
	}
	srv->port_used = calloc((size_t)cfg->passive_max - cfg->passive_min + 1, 1);
	if (!srv->port_used) {
		r = -ENOMEM;
		goto fail;
	}
	if (cfg->passive_address[0] &&
	    resolve_ipv4(cfg->passive_address, srv->passive_ipv4, sizeof(srv->passive_ipv4)) < 0) {
		snprintf(err, err_size, "cannot resolve passive_address '%s' to an IPv4 address",
			 cfg->passive_address);
		r = -EINVAL;
		goto fail;
	}
	r = ftpd_tls_ctx_new(cert, key, &srv->policy, &srv->tls, err, err_size);
	if (r < 0)
		goto fail;
	/* A burst of a thousand clients must not overflow the backlog. */
	r = gw_listen_tcp("FTPS", cfg->ftps_host, cfg->ftps_port, 4096, &srv->listen_fd, err, err_size);
	if (r < 0)
		goto fail;
	if (cfg->ftp_explicit_host[0]) {
		r = gw_listen_tcp("explicit FTPS (AUTH TLS)", cfg->ftp_explicit_host,
				  cfg->ftp_explicit_port, 4096, &srv->explicit_fd, err, err_size);
		if (r < 0)
			goto fail;
	}
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	srv->nloops = cfg->loops ? cfg->loops : (unsigned)(cores > 0 ? cores : 1);
	srv->loops = calloc(srv->nloops, sizeof(*srv->loops));
	if (!srv->loops) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < srv->nloops; i++) {
		/* what ftpd_free() releases of a loop never set up */
		srv->loops[i].epfd = -1;
		srv->loops[i].wake.fd = -1;
	}
	for (i = 0; i < srv->nloops; i++) {
		struct loop *l = &srv->loops[i];
		int efd;

		l->srv = srv;
		pthread_mutex_init(&l->lock, NULL);
		l->lock_made = true;
		l->epfd = epoll_create1(EPOLL_CLOEXEC);
		efd = l->epfd < 0 ? -1 : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (efd < 0) {
			snprintf(err, err_size, "cannot create event loop: %s", strerror(errno));
			r = -errno;
			goto fail;
		}
		watch_init(&l->wake, efd, on_wake);
		watch_set(l, &l->wake, EPOLLIN);
		/* The listening socket is shared; EPOLLEXCLUSIVE wakes one loop. */
		watch_init(&l->accept_w, srv->listen_fd, on_accept);
		watch_set(l, &l->accept_w, EPOLLIN | EPOLLEXCLUSIVE);
		watch_init(&l->accept_explicit, srv->explicit_fd, on_accept_explicit);
		if (srv->explicit_fd >= 0)
			watch_set(l, &l->accept_explicit, EPOLLIN | EPOLLEXCLUSIVE);
	}
	for (i = 0; i < srv->nloops; i++) {
		r = pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]);
		if (r != 0) {
			snprintf(err, err_size, "cannot start event loop thread: %s", strerror(r));
			r = -r;
			goto fail;
		}
		srv->loops[i].started = true;
	}
	store_watch_accounts(st, on_account_change, srv);
	gw_info("ftpd.listen", "implicit FTPS on %s:%u, passive ports %u-%u, %u loops",
		cfg->ftps_host, cfg->ftps_port, cfg->passive_min, cfg->passive_max, srv->nloops);
	if (srv->explicit_fd >= 0)
		gw_info("ftpd.listen", "explicit FTPS (AUTH TLS required) on %s:%u",
			cfg->ftp_explicit_host, cfg->ftp_explicit_port);
	*out = srv;
	return 0;
fail:
	ftpd_stop(srv);
	ftpd_free(srv);
	return r;
}

int ftpd_reload_tls(struct ftpd_server *srv, const char *cert, const char *key, char *err,
		    size_t err_size)
{
	struct ftpd_tls_ctx *fresh, *old;
	int r;

	if (srv->nretired == GW_ARRAY_SIZE(srv->retired)) {
		snprintf(err, err_size, "too many certificate reloads; restart the gateway");
		return -EBUSY;
	}
	r = ftpd_tls_ctx_new(cert, key, &srv->policy, &fresh, err, err_size);
	if (r < 0)
		return r; /* the running certificate stays */
	/* Sessions that began before keep their context (their SSL objects
	 * hold it), so it is retired, not freed. */
	old = __atomic_exchange_n(&srv->tls, fresh, __ATOMIC_ACQ_REL);
	srv->retired[srv->nretired++] = old;
	gw_info("tls.reload", "certificate '%s' loaded for new sessions", cert);
	return 0;
}

unsigned ftpd_drain(struct ftpd_server *srv)
{
	__atomic_store_n(&srv->draining, 1, __ATOMIC_RELAXED);
	return (unsigned)gw_metric_get(GW_M_TRANSFERS);
}

void ftpd_stop(struct ftpd_server *srv)
{
	unsigned i;

	if (!srv)
		return;
	store_watch_accounts(srv->store, NULL, NULL);
	__atomic_store_n(&srv->stopping, 1, __ATOMIC_RELAXED);
	for (i = 0; srv->loops && i < srv->nloops; i++) {
		uint64_t one = 1;

		if (!srv->loops[i].started)
			continue;
		if (write(srv->loops[i].wake.fd, &one, sizeof(one)) < 0)
			gw_error("ftpd.stop", "cannot wake loop: %s", strerror(errno));
		pthread_join(srv->loops[i].thread, NULL);
		srv->loops[i].started = false;
	}
}

void ftpd_free(struct ftpd_server *srv)
{
	unsigned i;

	if (!srv)
		return;
	/* Upload work still queued runs now; its results join the loops'
	 * finished jobs, handled below. */
	gw_pool_free(srv->io_pool);
	gw_pool_free(srv->hash_pool);
	gw_counter_free(srv->hashes_per_account);
	srv->io_pool = NULL;
	for (i = 0; srv->loops && i < srv->nloops; i++) {
		struct loop *l = &srv->loops[i];
		struct job *j;

		/* Finished jobs first (their sessions still exist), then every
		 * session; uploads still open are recorded partial right here,
		 * the worker pool being gone. */
		while ((j = l->done_head) != NULL) {
			l->done_head = j->next;
			j = pair_done(j);
			if (!j)
				continue;
			job_free_bufs(j);
			if (j->up && ((j->kind == J_OPEN && j->err == 0) || j->kind == J_WRITE)) {
				store_upload_abort(srv->store, j->up, "the gateway stopped");
				store_upload_free(j->up);
				j->up = NULL;
			}
			if (j->kind == J_LOGIN && j->root_fd >= 0)
				close(j->root_fd);
			if (j->up)
				store_upload_free(j->up);
			ctrl_unref(j->c);
			free(j);
		}
		while (l->ctrls) {
			struct ctrl *c = l->ctrls;

			if (c->d.up) {
				store_upload_abort(srv->store, c->d.up, "the gateway stopped");
				store_upload_free(c->d.up);
				c->d.up = NULL;
			}
			ctrl_close(c, "the gateway stopped");
		}
		release_closed(l);
		for (struct drain *dr = l->drains, *dnext; dr; dr = dnext) {
			dnext = dr->next;
			drain_end(dr);
		}
		if (l->wake.fd >= 0)
			close(l->wake.fd);
		if (l->epfd >= 0)
			close(l->epfd);
		free(l->changes);
		if (l->lock_made)
			pthread_mutex_destroy(&l->lock);
	}
	free(srv->loops);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->explicit_fd >= 0)
		close(srv->explicit_fd);
	gw_counter_free(srv->per_address);
	gw_counter_free(srv->per_account);
	gw_counter_free(srv->ports_per_account);
	gw_counter_free(srv->ports_per_address);
	ftpd_issuers_free(srv->issuers);
	ftpd_tls_ctx_free(srv->tls);
	while (srv->nretired)
		ftpd_tls_ctx_free(srv->retired[--srv->nretired]);
	free(srv->port_used);
	pthread_mutex_destroy(&srv->port_lock);
	for (size_t b = 0; b < ROOT_BUCKETS; b++) {
		while (srv->roots[b]) {
			struct root_share *r = srv->roots[b];

			srv->roots[b] = r->next;
			close(r->fd);
			free(r);
		}
	}
	pthread_mutex_destroy(&srv->root_lock);
	free(srv);
}
