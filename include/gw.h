/* gw.h - helpers shared by every part of ftpsgate: bounded buffers,
 * logging, parsing, paths, time and randomness.
 *
 * Conventions: functions return 0 or a negative errno; out-parameters are
 * written only on success.
 */
#ifndef FTPSGATE_GW_H
#define FTPSGATE_GW_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gw_limits.h"

#define GW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define GW_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define GW_FALLTHROUGH __attribute__((fallthrough))

/* ---------------------------------------------------------------- buffers */

/* A growable byte buffer that refuses to grow past `max` bytes of content.
 * `data` is always NUL-terminated once anything was added; gw_buf_str()
 * gives "" for an empty buffer. */
struct gw_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void gw_buf_init(struct gw_buf *b, size_t max);
void gw_buf_release(struct gw_buf *b);
/* Make room for `extra` more bytes: -ENOBUFS past max, -ENOMEM. */
int gw_buf_reserve(struct gw_buf *b, size_t extra);
int gw_buf_add(struct gw_buf *b, const void *p, size_t n);
int gw_buf_adds(struct gw_buf *b, const char *s);
int gw_buf_addf(struct gw_buf *b, const char *fmt, ...) GW_PRINTF(2, 3);
/* v in decimal: what gw_buf_addf(b, "%lld", v) adds, without printf. */
int gw_buf_add_int(struct gw_buf *b, long long v);
int gw_buf_vaddf(struct gw_buf *b, const char *fmt, va_list ap) GW_PRINTF(2, 0);
/* Drop the first n bytes. */
void gw_buf_consume(struct gw_buf *b, size_t n);
void gw_buf_reset(struct gw_buf *b);
const char *gw_buf_str(const struct gw_buf *b);

/* Copy src into dst[size], always terminated: -E2BIG when it did not fit. */
int gw_strlcpy(char *dst, const char *src, size_t size);

/* ---------------------------------------------------------------- parsing */

/* Whole-string unsigned decimal in [min, max]: -EINVAL or -ERANGE. */
int gw_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "host:port", "[v6]:port" or ":port" (host empty). */
int gw_parse_hostport(const char *s, char *host, size_t host_size, uint16_t *port);
/* "lo-hi", both in 1..65535, lo <= hi. */
int gw_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi);
/* A character of a node id (letters, digits, '.', '-', '_'): ids go into
 * URLs, metric labels and logs. */
bool gw_is_node_id_char(char ch);

/* ---------------------------------------------------------------- paths */

/* Normalize an FTP path argument against the current directory `cwd`
 * (itself normalized). The result is absolute, starts with '/', has no
 * empty, "." or ".." components and never climbs above "/": ".." at the
 * root stays at the root. Refuses (-EINVAL) NUL, control characters,
 * backslashes and names reserved by the gateway; -ENAMETOOLONG past
 * GW_PATH_MAX or GW_PATH_COMPONENT_MAX. Idempotent. */
int gw_path_normalize(const char *cwd, const char *arg, char *out, size_t out_size);
/* True for names the gateway keeps for itself inside account roots. */
bool gw_path_is_reserved_name(const char *name, size_t len);
#define GW_RESERVED_PREFIX ".ftpsgate-"

/* Open a normalized path ("/a/b") beneath the directory fd `root` without
 * following any symlink and without leaving root. "/" opens root itself.
 * flags are open(2) flags; mode for O_CREAT. */
int gw_open_beneath(int root, const char *path, int flags, unsigned mode, int *out_fd);
/* Split "/a/b/c" into the parent directory fd (opened beneath root) and
 * the last name "c". -EINVAL for "/". */
int gw_open_parent_beneath(int root, const char *path, int *out_dirfd, const char **out_name);

/* ---------------------------------------------------------------- misc */

int64_t gw_now_ms(void);       /* wall clock, ms since the epoch */
int64_t gw_mono_ms(void);      /* monotonic, ms */
/* RFC 3339 UTC with milliseconds: "2026-11-29T13:39:48.123Z". */
void gw_format_time(int64_t ms, char out[32]);
int gw_random(void *buf, size_t len);
/* n random characters from [A-Za-z0-9] (or digits and lower case only). */
int gw_random_token(char *out, size_t n, bool lower_only);
void gw_hex(const uint8_t *in, size_t len, char *out /* 2*len+1 */);
/* 2*len hex digits (either case) into len bytes: -EINVAL on any other. */
int gw_unhex(const char *in, uint8_t *out, size_t len);
/* fsync a directory by path or fd. */
int gw_fsync_dir(int dirfd);
/* Create a directory and its parents (mode 0750). */
int gw_mkdir_p(const char *path);

/* ---------------------------------------------------------------- counters */

/* How many of something each key holds (sessions per client address or
 * per account); safe from any thread. */
struct gw_counter;
int gw_counter_new(struct gw_counter **out);
/* Count one more for key unless it already has max (0 = no limit): true
 * when counted. */
bool gw_counter_take(struct gw_counter *c, const char *key, unsigned max);
void gw_counter_give(struct gw_counter *c, const char *key);
void gw_counter_free(struct gw_counter *c);
/* What other nodes hold counts too: gw_counter_take refuses when this
 * process's count and theirs together reach max. Replaces the last
 * set: n keys with their counts. -ENOMEM leaves the last set. */
int gw_counter_set_others(struct gw_counter *c, const char *const *keys, const unsigned *counts,
			  size_t n);
/* This process's counts, one fn call per key holding any, under the
 * counter's lock: fn must not block or use the counter. */
typedef void gw_counter_each_fn(void *arg, const char *key, unsigned count);
void gw_counter_each(struct gw_counter *c, gw_counter_each_fn *fn, void *arg);

/* ---------------------------------------------------------------- guard */

/* Failed logins per client address and per account, and the bans they
 * earn (guard.c). Thread-safe; times are gw_mono_ms() milliseconds. */
#define GW_GUARD_KEY_MAX 64
enum gw_guard_kind { GW_GUARD_ADDRESS, GW_GUARD_ACCOUNT };
struct gw_guard_policy {
	unsigned max_failures; /* within window_s; 0 = never ban */
	unsigned window_s;
	unsigned ban_s;
};
struct gw_guard_entry {
	enum gw_guard_kind kind;
	char key[GW_GUARD_KEY_MAX + 1];
	unsigned failures;
	int64_t banned_ms; /* still banned for this long; 0 = not banned */
};
struct gw_guard;
int gw_guard_new(size_t max_entries, struct gw_guard **out);
/* How long key stays banned (ms); 0 = not banned. */
int64_t gw_guard_banned(struct gw_guard *g, enum gw_guard_kind kind, const char *key,
			int64_t now_ms);
/* Count a failed login: true when this failure earned key a ban. */
bool gw_guard_failed(struct gw_guard *g, enum gw_guard_kind kind, const char *key,
		     const struct gw_guard_policy *policy, int64_t now_ms);
/* A login succeeded: forget key's failures (not its ban). */
void gw_guard_succeeded(struct gw_guard *g, enum gw_guard_kind kind, const char *key);
/* Lift key's ban and forget its failures: false when it had none. */
bool gw_guard_lift(struct gw_guard *g, enum gw_guard_kind kind, const char *key);
/* A ban made elsewhere (another node): key is banned for left_ms more
 * (a longer ban it has stays), or with left_ms 0 its ban is lifted. The
 * watcher is not told. */
void gw_guard_ban(struct gw_guard *g, enum gw_guard_kind kind, const char *key, int64_t left_ms,
		  int64_t now_ms);
/* Told, outside the guard's lock, when a failure bans key (left_ms: for
 * how long) and when gw_guard_lift lifts its ban (left_ms 0). Set it
 * before other threads use the guard. */
typedef void gw_guard_change_fn(void *arg, enum gw_guard_kind kind, const char *key,
				int64_t left_ms);
void gw_guard_watch(struct gw_guard *g, gw_guard_change_fn *fn, void *arg);
/* Entries with failures in the window or a ban; fills up to max of them
 * and returns how many there are. */
size_t gw_guard_list(struct gw_guard *g, int64_t now_ms, unsigned window_s,
		     struct gw_guard_entry *out, size_t max);
size_t gw_guard_bans(struct gw_guard *g, int64_t now_ms);
void gw_guard_free(struct gw_guard *g);

/* ---------------------------------------------------------------- metrics */

/* Counters and gauges kept by every part, read for GET /metrics. */
enum gw_metric {
	GW_M_SESSIONS,           /* gauge: control connections open */
	GW_M_LOGINS_OK,          /* counter */
	GW_M_LOGINS_FAILED,      /* counter */
	GW_M_TLS_FAILURES,       /* counter: control and data handshakes */
	GW_M_PASSIVE_PORTS,      /* gauge: passive listeners open */
	GW_M_TRANSFERS,          /* gauge: data transfers running */
	GW_M_BUFFER_BYTES,       /* gauge: memory held for transfer data */
	GW_M_BYTES_RECEIVED,     /* counter */
	GW_M_UPLOADS_RECEIVED,   /* counter: 226 sent */
	GW_M_UPLOADS_REJECTED,   /* counter: not an age file for the account */
	GW_M_IMPORTS,            /* counter: imported */
	GW_M_IMPORT_MS,          /* counter: time spent importing them */
	GW_M_HOOK_FAILURES,      /* counter: attempts that failed */
	GW_M_BANS,               /* counter: bans given (address or account) */
	GW_M_BANNED_REFUSED,     /* counter: connections or logins refused by a ban */
	GW_M_GUARD_FULL,         /* counter: failures not counted, the table full */
	GW_M_LOGIN_CACHE_HITS,   /* counter: logins checked against the credential cache */
	GW_M_HASHES_RECORDED,    /* counter: HASH answered from the upload's record */
	GW_M_HASHES_READ,        /* counter: HASH that read the file */
	GW_M_COUNT
};

void gw_metric_add(enum gw_metric m, int64_t v);
int64_t gw_metric_get(enum gw_metric m);

/* ---------------------------------------------------------------- network */

/* A non-blocking listening TCP socket on host:port ("0.0.0.0", "::",
 * a name). On failure err names what (e.g. "FTPS") and why. */
int gw_listen_tcp(const char *what, const char *host, uint16_t port, int backlog, int *out_fd,
		  char *err, size_t err_size);

/* ---------------------------------------------------------------- PROXY protocol */

/* The header a load balancer sends first (HAProxy's PROXY protocol,
 * versions 1 and 2). */
struct gw_proxy_header {
	struct sockaddr_storage src, dst; /* the client and the address it reached */
	size_t length;                    /* the whole header, v2's TLVs included */
	int version;                      /* 1 or 2 */
	bool local;                       /* LOCAL/UNKNOWN: the connection's own addresses stand */
};
/* Look at the first len bytes a connection sent: 1 = a whole header is
 * known (out filled; out->length bytes are the header, which may be more
 * than len when TLVs follow), 0 = not yet (every byte of buf belongs to
 * the header), -EPROTO = not a valid header. */
int gw_proxy_parse(const uint8_t *buf, size_t len, struct gw_proxy_header *out);
/* The bytes could be the start of a header (used to refuse one from an
 * address not trusted to send it). */
bool gw_proxy_may_start(const uint8_t *buf, size_t len);

/* An address block: ADDRESS or ADDRESS/BITS, IPv4 or IPv6. */
struct gw_cidr {
	uint8_t addr[16];
	int family; /* AF_INET, AF_INET6 */
	uint8_t bits;
};
/* A list separated by commas or spaces into list[cap]; on error, err
 * says which entry is wrong. */
int gw_cidr_list_parse(const char *s, struct gw_cidr *list, size_t cap, size_t *count,
		       char *err, size_t err_size);
/* ss (IPv4, IPv6 or IPv4-mapped IPv6) is in one of the blocks. */
bool gw_cidr_match(const struct gw_cidr *list, size_t n, const struct sockaddr_storage *ss);

/* ---------------------------------------------------------------- account policy */

/* What an account may do beyond logging in with its password
 * (docs/operations.md, "Account policy"). Each limit is the account's own
 * when its has_* is set, else the server's default (gw_policy_effective). */
struct gw_policy {
	bool has_addresses, has_names, has_max_file, has_rate, has_sessions;
	/* address blocks, canonical and separated by ',' ("" = anywhere) */
	char addresses[GW_POLICY_TEXT_MAX + 1];
	/* file-name patterns (fnmatch, case-insensitive), separated by '/',
	 * which no name contains ("" = any name) */
	char names[GW_POLICY_TEXT_MAX + 1];
	uint64_t max_file_bytes;   /* 0 = no limit */
	uint64_t rate_bytes_per_s; /* one account's uploads together; 0 = no limit */
	uint32_t max_sessions;     /* 0 = no limit */
};

/* Address blocks (commas or spaces between them; see gw_cidr_list_parse)
 * in their canonical text: "10.0.0.0/8,2001:db8::/32", single addresses
 * without "/BITS". On error, err says which entry is wrong. */
int gw_addresses_canon(const char *in, char *out, size_t size, char *err, size_t err_size);
/* ss is in one of the canonical blocks (true for ""). */
bool gw_addresses_allow(const char *canon, const struct sockaddr_storage *ss);
/* One file-name pattern is acceptable: 1 to GW_NAME_PATTERN_MAX bytes of
 * UTF-8, no '/', no control character, a valid fnmatch pattern. */
bool gw_name_pattern_is_valid(const char *pattern, size_t len);
/* Patterns separated by commas (spaces around them dropped; a comma in
 * brackets, "[,]", or escaped, "\\,", is part of its pattern) into the
 * stored form, '/' between them. On error, err says which is wrong. */
int gw_names_canon(const char *in, char *out, size_t size, char *err, size_t err_size);
/* name (the last component of a path) matches one of the stored
 * patterns (true for ""), case-insensitively. */
bool gw_names_allow(const char *stored, const char *name);
/* The stored patterns as people read them: "*.nsf.age, *.age". */
void gw_names_text(const char *stored, char *out, size_t size);
/* own, with every limit it does not set taken from the server's
 * defaults in force (gw_live). */
void gw_policy_effective(const struct gw_policy *own, struct gw_policy *out);

/* ---------------------------------------------------------------- logging */

enum gw_log_level { GW_LOG_DEBUG, GW_LOG_INFO, GW_LOG_WARN, GW_LOG_ERROR };

void gw_log_set_level(enum gw_log_level level);
/* Every line names this node from now on ("node"); call once. */
void gw_log_set_node(const char *node);
/* One JSON object per line on stdout:
 * {"ts":"…","level":"info","node":"…","event":"upload.received","msg":"…"} */
void gw_log(enum gw_log_level level, const char *event, const char *fmt, ...) GW_PRINTF(3, 4);
#define gw_info(ev, ...) gw_log(GW_LOG_INFO, ev, __VA_ARGS__)
#define gw_warn(ev, ...) gw_log(GW_LOG_WARN, ev, __VA_ARGS__)
#define gw_error(ev, ...) gw_log(GW_LOG_ERROR, ev, __VA_ARGS__)
#define gw_debug(ev, ...) gw_log(GW_LOG_DEBUG, ev, __VA_ARGS__)
/* Lines of one kind that a flood can repeat (refused connections) are
 * limited: at most `burst` in each `window_ms`, then they are counted, and
 * the count is logged with the next such line after the window. One
 * static limit per call site; any thread. */
struct gw_log_limit {
	unsigned burst;
	int64_t window_ms;
	int64_t start_ms;
	unsigned count, dropped;
};
#define GW_LOG_LIMIT(burst, window_ms) { (burst), (window_ms), 0, 0, 0 }
void gw_log_limited(struct gw_log_limit *lim, enum gw_log_level level, const char *event,
		    const char *fmt, ...) GW_PRINTF(4, 5);
/* Append s to b as a JSON string literal (with quotes). */
int gw_json_quote(struct gw_buf *b, const char *s);
/* s is well-formed UTF-8 (RFC 3629) all through. */
bool gw_is_utf8(const char *s);

/* A bug of ours: log and abort. */
#define GW_BUG(...) gw_bug(__FILE__, __LINE__, __VA_ARGS__)
/* A macro's value as a string literal. */
#define GW_STR_(x) #x
#define GW_STR(x) GW_STR_(x)
_Noreturn void gw_bug(const char *file, int line, const char *fmt, ...) GW_PRINTF(3, 4);

/* ---------------------------------------------------------------- worker pool */

/* Blocking work (argon2id, SQLite, fsync) runs here, never on an event
 * loop. A job's run() executes on a worker thread; whoever submitted it
 * arranges to hear of its end (ftpd posts it back to its loop). */
struct gw_job {
	void (*run)(struct gw_job *job);
	struct gw_job *next;
};

struct gw_pool;
/* threads workers at the given nice value (0 = the process's own; higher
 * yields the CPU to everything else when it is contended). */
int gw_pool_new(unsigned threads, int nice, struct gw_pool **out);

/* Who yields the CPU to whom when it is short (Linux nice values, per
 * thread): the admin API and the import pipeline run at 0; transfers
 * (event loops, upload work) at GW_NICE_TRANSFERS, their backlog held
 * back by TCP; password checks at GW_NICE_PASSWORDS, below transfers by
 * the same factor of weight (about 9) as before the API was put first. */
#define GW_NICE_TRANSFERS 5
#define GW_NICE_PASSWORDS 15
void gw_pool_submit(struct gw_pool *pool, struct gw_job *job);
/* Queue job behind the others of key only: the workers take the keys
 * with jobs waiting in turn, one job each (see pool.c). */
void gw_pool_submit_fair(struct gw_pool *pool, struct gw_job *job, uint64_t key);
/* Finish queued jobs, join the threads, free. */
void gw_pool_free(struct gw_pool *pool);

#include "banned.h"

#endif
