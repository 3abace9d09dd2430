/* engine.h - the parts of the FTPS I/O engine, and what they share.
 *
 * Each loop thread owns an epoll set, the control connections it accepted
 * and their data sockets; nothing inside a loop is locked. The protocol
 * itself is session.c: the engine turns its requests into I/O and reports
 * the results back. Blocking work runs on worker pools as a `struct job`,
 * posted back to its loop (eventfd) when done.
 *
 *   loop.c     event loops: watches, the run-again list, wake-ups, ticks
 *   server.c   listeners, accepting sessions, account changes, start/stop
 *   control.c  a control connection: commands in, replies out, login
 *   ports.c    passive ports: who may hold how many, opening a listener
 *   data.c     a data connection: accept, TLS, its states, ABOR, drains
 *   receive.c  an upload's bytes: chunks, write and digest jobs, commit
 *   send.c     a download or a listing going out
 *   jobs.c     jobs: kinds as {run, done} operations, and HASH and MFMT
 *
 * Only control.c pumps a control connection; every other part asks for
 * it with ftpd_ctrl_wake(), which runs the pump from the loop once the
 * present event is handled. So no part can close a session under a
 * caller further up its own stack.
 */
#ifndef FTPSGATE_FTPD_ENGINE_H
#define FTPSGATE_FTPD_ENGINE_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ftpd.h"
#include "gw.h"
#include "issuers.h"
#include "session.h"
#include "tls.h"

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define BANNER "ftpsgate FTPS upload server"

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
	C_PROXY,     /* reading the PROXY protocol header of a trusted balancer */
	C_PLAIN,     /* explicit listener, before AUTH TLS */
	C_HANDSHAKE, /* TLS handshake on the control connection */
	C_OPEN,
	C_CLOSING, /* send what is queued, then close */
};

enum dstate {
	D_NONE,
	D_LISTEN,    /* passive listener open, nobody connected yet */
	D_PROXY,     /* accepted from the balancer: reading its PROXY header */
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
	struct watch tw; /* timerfd: the end of a wait for the account's rate */
	struct ftpd_tls *tls;
	enum dstate state;
	enum ftpd_req kind; /* the transfer command, once it came */
	char *path;         /* its path (heap: no room held while idle) */
	uint64_t offset; /* REST offset of a RETR or STOR */
	struct store_upload *up;
	struct gw_buf listing;
	size_t sent;
	struct store_name_reader *reader; /* RETR from object storage: its reader */
	uint64_t file_pos, file_size;
	int file_fd; /* RETR: the file being sent (on disk) */
	unsigned gen; /* grows with every reset: a read job's transfer */
	size_t buf_len, buf_pos;
	unsigned char *buf;
	/* Upload bytes are written by one worker (a write job) and hashed by
	 * another (its digest job) at once, while the loop decrypts the next
	 * chunks: one such pair is in flight at a time, and d->up belongs to
	 * it meanwhile. Chunks filled during a write wait in full[]; the
	 * next pair takes all of them at once. */
	unsigned char *full[GW_DATA_QUEUE]; /* filled chunks, in order */
	size_t nfull;
	unsigned char *spare[GW_DATA_QUEUE + 1]; /* chunk buffers not in use */
	size_t nspare;
	size_t fill;           /* bytes of buf received, not yet written */
	bool writing;          /* a write job holds the upload */
	bool paused;           /* every chunk is full: reading waits for the write */
	bool eof;              /* close_notify came: commit once all is written */
	bool throttled;        /* waiting for the account's rate (tw) */
	uint64_t start_offset; /* an upload: its size when this transfer began */
	uint64_t received;     /* ... and the bytes this transfer brought */
	uint64_t max_file;     /* the account's max_file_bytes then (0 = none) */
	bool stop_pending;     /* stop once the write is back: */
	enum ftpd_xfer stop_result;
	char *stop_why;
	uint64_t bytes_done;   /* the upload's size after the last write */
	bool abort_requested; /* ABOR came while a job ran */
	bool running;         /* counted in GW_M_TRANSFERS */
	bool preparing;       /* a job checks the transfer command (data.c) */
	bool reading;         /* the reader is lent to a read job */
	int64_t deadline;
	int64_t started;
	int64_t last_io;
	struct ftpd_proxy_read *proxy; /* D_PROXY: the header so far */
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
	char account_key[24];
	char *close_why; /* why it closed: the reason an upload it held stays partial */
	int refs;
	/* peer: the client (as a PROXY header names it); local: this socket's
	 * own end; reached: the address the client connected to (the
	 * balancer's, through one), which PASV names by default. */
	struct sockaddr_storage peer, local, reached;
	char peer_ip[INET6_ADDRSTRLEN];
	struct ftpd_proxy_read *proxy; /* C_PROXY: the header so far */
	bool proxy_check;  /* PROXY protocol on: no header from this untrusted peer */
	int64_t deadline; /* handshake or login */
	int64_t last_activity;
	int64_t account_id;
	int64_t expires_at_ms; /* wall clock; 0 = never */
	struct account *acct;  /* once logged in: what its sessions share */
	int root_fd;           /* its root (borrowed from acct) */
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
	bool accept_full; /* not accepting: max_sessions are served */
	size_t chunks; /* transfer buffers of this loop's sessions and their jobs */
	struct drain *drains;
	unsigned ndrains;
	bool lock_made; /* lock initialised (ftpd_start may fail before) */
};

#define ACCOUNT_BUCKETS 1024

struct ftpd_server {
	const struct gw_config *cfg;
	struct store *store;
	struct gw_pool *pool;    /* password checks (argon2id), borrowed */
	struct gw_pool *io_pool; /* uploads: open, write, commit; owned */
	struct gw_pool *commit_pool; /* commits, with an accept_command (else NULL); owned */
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
	int proxy; /* enum ftpd_proxy: proxy_protocol */
	struct gw_cidr proxy_trusted[GW_PROXY_TRUSTED_MAX];
	size_t nproxy_trusted;
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
	/* What the sessions of each account share (account.c): 10,000
	 * sessions of one account hold one directory open, not 10,000. */
	pthread_mutex_t accounts_lock;
	struct account *accounts[ACCOUNT_BUCKETS];
};

struct job;

/* What a kind of job does: run on a worker, then done on the loop (only
 * while its session is open; otherwise ftpd_job_drop() releases it). */
struct job_ops {
	const char *name;
	/* On a worker thread. False when the job went on to another pool,
	 * which posts it back instead. */
	bool (*run)(struct job *j);
	void (*done)(struct ctrl *c, struct job *j);
	bool commits; /* on the commit pool when there is one */
};

struct job {
	struct gw_job base;
	struct job *next;
	struct ctrl *c;
	const struct job_ops *ops;
	int err;
	enum ftpd_xfer result; /* abort: what to tell the client */
	char user[GW_USER_MAX + 1];
	char pass[GW_PASS_MAX + 1];
	bool locked; /* login: the account is locked; no password is checked */
	bool owns_root_fd; /* root_fd is the job's answer (login), not borrowed */
	bool holds_upload; /* up is open: recorded partial if the job is dropped */
	int64_t account_id;
	int64_t expires_at_ms;
	int root_fd;
	struct account *acct; /* login: the account's share, taken for the session */
	char path[GW_PATH_MAX + 1];
	enum store_upload_mode mode;
	uint64_t offset;
	struct store_upload *up;
	unsigned char *bufs[GW_DATA_QUEUE + 1]; /* write: the chunks, owned by the job */
	size_t lens[GW_DATA_QUEUE + 1];
	size_t nbufs;
	size_t len; /* write: bytes in all */
	/* A write and its digest run at once on the same chunks: the write
	 * job owns them and is handled when both are done. */
	struct job *pair; /* digest: its write job */
	int parts;        /* write: of the two, how many still run */
	char reason[160]; /* abort: why; HASH: the result */
	/* the names job (a command on the account's names), and the
	 * preparation of a transfer */
	enum ftpd_req kind;
	char from[GW_PATH_MAX + 1]; /* RNTO */
	struct gw_buf text;         /* MLST, STAT, a listing to send */
	uint64_t size;              /* SIZE; RETR: the file's size */
	int64_t mtime_s;            /* MDTM */
	enum ftpd_xfer refused;     /* a transfer's preparation: FTPD_XFER_OK or why not */
	int file_fd;                /* RETR: a file on disk, or */
	struct store_name_reader *reader; /* ... its reader (object storage) */
	unsigned gen;               /* RETR read: the transfer it reads for */
};

/* ---------------------------------------------------------------- loop.c */

void ftpd_watch_init(struct watch *w, int fd, void (*fn)(struct watch *, uint32_t));
/* Register (or change) the events the loop waits for on w. */
void ftpd_watch_set(struct loop *l, struct watch *w, uint32_t events);
/* Run w's handler again once this loop iteration's events are handled. */
void ftpd_watch_again(struct loop *l, struct watch *w);
/* Unregister and close the watched fd. */
void ftpd_watch_close(struct loop *l, struct watch *w);
/* The epoll events for a TLS want (FTPD_TLS_WANT_*). */
uint32_t ftpd_want_events(int want);
void ftpd_loop_on_wake(struct watch *w, uint32_t events);
void ftpd_loop_release_closed(struct loop *l);
void *ftpd_loop_main(void *arg);

/* ---------------------------------------------------------------- account.c */

/* The share of an account's sessions, taken for one more session (NULL:
 * out of memory). fd: a fresh descriptor of its root, used or closed;
 * own: its policy as just read. Any thread. */
struct account *ftpd_account_take(struct ftpd_server *srv, int64_t account_id, int fd,
				  const struct gw_policy *own);
void ftpd_account_give(struct ftpd_server *srv, struct account *a);
void ftpd_accounts_free(struct ftpd_server *srv);
int ftpd_account_root(const struct account *a);
/* Its policy with the server's defaults in force for what it leaves unset. */
void ftpd_account_policy(struct account *a, struct gw_policy *effective);
/* The admin changed its own policy (any thread). */
void ftpd_account_policy_changed(struct ftpd_server *srv, int64_t account_id,
				 const struct gw_policy *own);
/* Bytes one read of its upload should take at most under its rate limit
 * (0: no limit). */
size_t ftpd_account_rate_quantum(struct account *a);
/* Count bytes read against its rate: how long (ns) the reader waits. */
int64_t ftpd_account_rate_charge(struct account *a, size_t bytes);

/* ---------------------------------------------------------------- server.c */

void ftpd_accept_pause(struct loop *l);
void ftpd_accept_resume(struct loop *l);
/* Accept again if this loop stopped at max_sessions and a session ended
 * since (not while draining or out of descriptors). */
void ftpd_accept_after_full(struct loop *l);
void ftpd_apply_account_changes(struct loop *l);

/* ---------------------------------------------------------------- control.c */

/* Pump c (send replies, read and handle commands) from the loop, once the
 * present event is handled: the one way other parts move a session on. */
void ftpd_ctrl_wake(struct ctrl *c);
void ftpd_ctrl_on_event(struct watch *w, uint32_t events);
ssize_t ftpd_ctrl_read(struct ctrl *c, void *buf, size_t len, int *want);
/* Whether the client has closed the control connection already; what it
 * sent meanwhile stays in c->in, in order. */
bool ftpd_ctrl_peer_gone(struct ctrl *c);
/* Over the per-address limit: say so, then close. */
void ftpd_limit_reply(struct ctrl *c);
/* Why the session closed, for the uploads it held. */
const char *ftpd_ctrl_close_why(const struct ctrl *c);
/* STOR, APPE or RNTO (verb) of path, whose last name eff does not
 * allow: logged and answered 553 with the names it allows (true). */
bool ftpd_ctrl_name_refused(struct ctrl *c, const struct gw_policy *eff, const char *verb,
			    const char *path);
bool ftpd_ctrl_admit(struct ctrl *c);
void ftpd_ctrl_close(struct ctrl *c, const char *why);
void ftpd_ctrl_unref(struct ctrl *c);
/* Say why (a 421), end any transfer (an upload stays partial), close. */
void ftpd_end_session(struct ctrl *c, const char *reply, const char *why);
extern const struct job_ops ftpd_job_login;

/* ---------------------------------------------------------------- ports.c */

void ftpd_addr_ip(const struct sockaddr_storage *ss, char *out, size_t size);

/* ---------------------------------------------------------------- PROXY protocol (proxy.c) */

enum ftpd_proxy { FTPD_PROXY_OFF, FTPD_PROXY_CONTROL, FTPD_PROXY_ALL };
/* What a connection from peer must do: */
enum {
	FTPD_PROXY_NONE,          /* PROXY protocol off */
	FTPD_PROXY_EXPECT,        /* a trusted balancer: its header comes first */
	FTPD_PROXY_BALANCER,      /* a data connection through it, without a header */
	FTPD_PROXY_REFUSE_HEADER, /* anyone else: a header is refused */
};
int ftpd_proxy_mode(const struct ftpd_server *srv, const struct sockaddr_storage *peer, bool data);
struct ftpd_proxy_read;
/* Read the header from fd (*state keeps what came so far; freed once
 * whole): 0 = out filled, -EAGAIN = wait for more, -EPROTO = not a
 * header, else the connection failed. */
int ftpd_proxy_read(int fd, struct ftpd_proxy_read **state, struct gw_proxy_header *out);
void ftpd_proxy_read_free(struct ftpd_proxy_read **state);
/* The first byte a client sent is not a header's: 0; -EPROTO = it is;
 * -EAGAIN = nothing yet. */
int ftpd_proxy_check_none(int fd);
bool ftpd_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* PASV or EPSV: a listener on a free port of the range, and the reply. */
void ftpd_passive_open(struct ctrl *c, bool extended);
/* The session's passive listener closed: its port is free again. */
void ftpd_port_release(struct ctrl *c);

/* ---------------------------------------------------------------- data.c */

/* Transfer buffers (GW_DATA_CHUNK, aligned for direct writes), counted
 * per loop. */
unsigned char *ftpd_chunk_new(struct loop *l);
void ftpd_chunk_free(struct loop *l, unsigned char *p);
void ftpd_data_reset(struct ctrl *c);
/* The transfer is over (whatever the result): tell the client. */
void ftpd_data_finish(struct ctrl *c, enum ftpd_xfer result);
void ftpd_data_on_event(struct watch *w, uint32_t events);
/* A wait for the account's upload rate is over. */
void ftpd_data_on_timer(struct watch *w, uint32_t events);
void ftpd_data_on_accept(struct watch *w, uint32_t events);
void ftpd_data_pump(struct ctrl *c);
/* ABOR: end the running transfer, or close an unused passive port. */
void ftpd_data_abort(struct ctrl *c);
/* Bytes moved so far by the running transfer (STAT during a transfer). */
uint64_t ftpd_data_progress(const struct ctrl *c);
/* A transfer command: check what can be checked before the 150. */
void ftpd_transfer_request(struct ctrl *c, const struct ftpd_request *req);
/* Hand the data connection of a refused upload to a drain, so that the
 * client reads the reply, not a reset: true when it took it. */
bool ftpd_drain_start(struct ctrl *c);
void ftpd_drain_end(struct drain *dr);

/* ---------------------------------------------------------------- receive.c */

/* The data TLS is up for a STOR or APPE: open the upload on a worker. */
void ftpd_receive_open(struct ctrl *c);
void ftpd_data_receive(struct ctrl *c);
/* Stop receiving and record the upload partial: why, and what to say. */
void ftpd_receive_stop(struct ctrl *c, const char *why, enum ftpd_xfer result);
/* Record an upload that will not complete as partial, on a worker. */
void ftpd_abort_upload(struct ctrl *c, struct store_upload *up, const char *reason,
		       enum ftpd_xfer result);

/* ---------------------------------------------------------------- send.c */

void ftpd_data_send(struct ctrl *c);

/* ---------------------------------------------------------------- jobs.c */

/* NULL when out of memory. */
struct job *ftpd_job_new(struct ctrl *c, const struct job_ops *ops);
void ftpd_job_submit(struct ctrl *c, struct job *j);
/* From a job's run: go on to check a password, in the client's turn. */
void ftpd_job_check_password(struct job *j);
/* Post a job run on a worker back to its loop. */
void ftpd_job_post(struct job *j);
void ftpd_job_done(struct job *j);
/* A write and its digest are handled as one: the job to handle now, or
 * NULL while the other still runs. */
struct job *ftpd_job_pair_done(struct job *j);
/* Release what a job holds whose session is gone: an upload it held open
 * is recorded partial (why), on a worker, or right here when the workers
 * are gone (here = true). */
void ftpd_job_drop(struct job *j, const char *why, bool here);
void ftpd_job_free_bufs(struct job *j);
extern const struct job_ops ftpd_job_hash, ftpd_job_mfmt, ftpd_job_names;
/* The account's names as the job's session sees them. */
struct store_names ftpd_job_names_of(const struct job *j);

#endif
