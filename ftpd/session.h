/* session.h - the FTP protocol core: a state machine that does no I/O.
 *
 * It takes command lines and the results of the work it asked for, and
 * writes replies into the session's output buffer. Whatever touches the
 * outside (password checks, passive ports, files, transfers) it hands to
 * the caller as a request; the caller performs it and reports back with
 * the matching ftpd_session_*_done() or transfer event. Unit tests drive
 * it with transcripts; the fuzzer drives it whole.
 */
#ifndef FTPSGATE_FTPD_SESSION_H
#define FTPSGATE_FTPD_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "gw.h"

/* A parsed command line: VERB [SP argument]. */
struct ftpd_command {
	char verb[5];  /* upper case, 3 or 4 letters */
	const char *arg; /* points into the line; "" when absent */
	bool has_arg;
};

/* Parse one NUL-terminated line of len bytes (CRLF removed). -EINVAL for a line that is not a
 * command: empty, verb not 3-4 letters, control characters or NUL. */
int ftpd_parse_command(const char *line, size_t len, struct ftpd_command *out);

/* Telnet (RFC 854) on the control connection, where RFC 959 puts it:
 * commands (IAC and a command byte; WILL, WONT, DO and DONT take an
 * option byte too) are dropped only before the command's first letter,
 * where clients send them (IAC IP, IAC DM before ABOR). In the rest of
 * the line IAC IAC stands for one 0xFF (RFC 959; RFC 2640 for path
 * names) and any other 0xFF is a byte of the argument, so a file name
 * keeps the bytes it was sent with.
 * Rewrites the line in place; returns its new length (at most len). */
size_t ftpd_strip_telnet(char *line, size_t len);

enum ftpd_req {
	FTPD_REQ_NONE,     /* replies are queued; nothing else to do */
	FTPD_REQ_CLOSE,    /* send the queued replies, then close */
	FTPD_REQ_LOGIN,    /* check session->user with request.arg as password */
	FTPD_REQ_AUTH_TLS, /* send the queued 234, then start TLS (explicit mode) */
	FTPD_REQ_PASV,     /* open a passive listener; request.extended for EPSV */
	/* file-system requests, answered with ftpd_session_done() & co */
	FTPD_REQ_CWD,  /* is path a directory? */
	FTPD_REQ_SIZE, /* size of the file path */
	FTPD_REQ_MDTM, /* modification time of the file path */
	FTPD_REQ_MFMT, /* set it to request.offset (seconds since the epoch) */
	FTPD_REQ_MLST, /* facts of path */
	FTPD_REQ_STAT, /* "ls -l" of path over the control connection */
	FTPD_REQ_HASH, /* SHA-256 of the file path */
	FTPD_REQ_DELE, /* remove the file path */
	FTPD_REQ_RNFR, /* does path exist (to be renamed)? */
	FTPD_REQ_RNTO, /* rename request.from to path */
	FTPD_REQ_MKD,  /* make the directory path */
	FTPD_REQ_RMD,  /* remove the empty directory path */
	/* transfers: ftpd_session_transfer_start(), then _transfer_done() */
	FTPD_REQ_LIST, /* send a long listing of path */
	FTPD_REQ_NLST, /* send the names in path */
	FTPD_REQ_MLSD, /* send the facts of each entry of the directory path */
	FTPD_REQ_RETR, /* send the file path from request.offset */
	FTPD_REQ_STOR, /* receive into path from request.offset (REST) */
	FTPD_REQ_APPE, /* receive onto the end of path */
	/* while a transfer runs */
	FTPD_REQ_ABOR,     /* abort it: finish with FTPD_XFER_CLIENT_ABORT */
	FTPD_REQ_XFER_STAT /* report progress: ftpd_session_transfer_status() */
};

struct ftpd_request {
	enum ftpd_req kind;
	char path[GW_PATH_MAX + 1];
	char from[GW_PATH_MAX + 1]; /* FTPD_REQ_RNTO */
	char arg[GW_PASS_MAX + 1];
	uint64_t offset; /* FTPD_REQ_STOR, FTPD_REQ_RETR: from REST */
	bool extended;
};

enum ftpd_state {
	FTPD_S_TLS,   /* explicit listener: only FEAT, QUIT and AUTH TLS */
	FTPD_S_USER,  /* waiting for USER */
	FTPD_S_PASS,  /* waiting for PASS */
	FTPD_S_LOGIN, /* password being checked */
	FTPD_S_READY, /* logged in */
	FTPD_S_BUSY,  /* a request is being carried out */
	FTPD_S_CLOSED,
};

/* How a transfer went, reported with ftpd_session_transfer_done(). */
enum ftpd_xfer {
	FTPD_XFER_OK,            /* 226 */
	FTPD_XFER_NO_CONNECTION, /* 425: nobody connected to the passive port */
	FTPD_XFER_NOT_REUSED,    /* 522: data TLS did not resume the session */
	FTPD_XFER_TLS_FAILED,    /* 425: data TLS handshake failed */
	FTPD_XFER_OPEN_FAILED,   /* 553 for uploads, 550 otherwise */
	FTPD_XFER_NOT_FOUND,     /* 550: no such file or directory */
	FTPD_XFER_BAD_OFFSET,    /* 554: REST beyond the end of the file */
	FTPD_XFER_BUSY,          /* 450: another session is writing the file */
	FTPD_XFER_ABORTED,       /* 426: connection broke, an upload is partial */
	FTPD_XFER_CLIENT_ABORT,  /* 426 then 226: ABOR */
	FTPD_XFER_LOCAL_ERROR,   /* 451 */
	FTPD_XFER_NO_SPACE,      /* 452 */
	FTPD_XFER_QUOTA,         /* 552: the account's quota is used up */
	FTPD_XFER_REJECTED,      /* 553: not an age file for the account; see reason */
	FTPD_XFER_NO_KEY,        /* 553: encryption required, but no key in use */
	FTPD_XFER_NOT_READY,     /* 550: a partial upload in object storage cannot be read */
	FTPD_XFER_KEPT_ELSEWHERE, /* 554: REST where the stored parts do not end */
	FTPD_XFER_NODE_SILENT,   /* 450: the node receiving the file stopped answering */
	FTPD_XFER_TOO_BIG,       /* 552: past the account's max_file_bytes (reason: the limit) */
	FTPD_XFER_REFUSED,       /* 553: the accept hook refused it; see reason */
	FTPD_XFER_UNDECIDED,     /* 451: the accept hook decided nothing; kept partial */
};

struct ftpd_session {
	enum ftpd_state state;
	enum ftpd_req pending;
	struct gw_buf *out; /* borrowed: where replies go */
	char user[GW_USER_MAX + 1];
	/* Paths on the heap, each as long as it is: an idle session holds a
	 * few bytes of them, not kilobytes (see ftpd_session_free). */
	char *cwd;         /* the working directory; NULL: "/" */
	char *req_path;    /* path of the pending request */
	char *rename_from; /* after a successful RNFR */
	uint64_t rest;   /* REST offset for the next transfer */
	bool pbsz;
	bool prot_private;
	bool has_passive;
	bool binary;
	bool explicit_tls; /* on the explicit listener: TLS came with AUTH TLS */
	bool downloads;    /* RETR allowed */
	unsigned failed_logins;
	unsigned max_failed_logins;
	unsigned idle_timeout_s; /* for STAT */
	char *reason; /* FTPD_XFER_REJECTED and others: why (NULL: a general word) */
};

void ftpd_session_init(struct ftpd_session *s, struct gw_buf *out);
/* What the session holds (its paths); s is as after ftpd_session_init. */
void ftpd_session_free(struct ftpd_session *s);
/* Strings held on the heap, as long as they are: *dst = a copy of src
 * (the old one freed); -ENOMEM leaves *dst as it was. */
int ftpd_str_set(char **dst, const char *src);
/* *dst freed and NULL. */
void ftpd_str_clear(char **dst);
const char *ftpd_session_cwd(const struct ftpd_session *s);
/* The explicit listener: start in FTPD_S_TLS (call before greeting). */
void ftpd_session_require_auth_tls(struct ftpd_session *s);
/* Queue the 220 greeting. */
void ftpd_session_greet(struct ftpd_session *s, const char *banner);
/* Whether a line may be handed to ftpd_session_input() now. While a
 * transfer runs, only ABOR and STAT are taken; later lines wait. While
 * anything else is pending, nothing is taken. */
bool ftpd_session_takes(const struct ftpd_session *s, const char *line, size_t len);
/* Handle one command line. Returns the request kind (also in req). */
enum ftpd_req ftpd_session_input(struct ftpd_session *s, const char *line, size_t len,
				 struct ftpd_request *req);
/* Queue a 500 for a line longer than GW_FTP_LINE_MAX. */
void ftpd_session_line_too_long(struct ftpd_session *s);

/* Results of requests. */
enum ftpd_req ftpd_session_login_done(struct ftpd_session *s, bool ok);
void ftpd_session_tls_started(struct ftpd_session *s);
void ftpd_session_passive_done(struct ftpd_session *s, int err, const char *ipv4, uint16_t port,
			       bool extended);
/* CWD, DELE, RNFR, RNTO, MKD, RMD: 0 or a negative errno. */
void ftpd_session_done(struct ftpd_session *s, int err);
void ftpd_session_size_done(struct ftpd_session *s, int err, uint64_t size);
void ftpd_session_mdtm_done(struct ftpd_session *s, int err, int64_t mtime_s);
void ftpd_session_mfmt_done(struct ftpd_session *s, int err, int64_t mtime_s);
/* "YYYYMMDDHHMMSS" (fractions of a second allowed and dropped), UTC, to
 * seconds since the epoch; -EINVAL for anything else. */
int ftpd_parse_mfmt_time(const char *s, size_t len, int64_t *out_s);
/* MLST: the facts line ("type=file;...; name"); STAT: "ls -l" lines;
 * HASH: "SHA-256 0-SIZE HEX". */
void ftpd_session_text_done(struct ftpd_session *s, int err, const char *text);
/* STOR, APPE or RNTO of a name the account's policy does not allow: 553
 * with the patterns it does allow (people's text: "*.nsf.age, *.age"). */
void ftpd_session_name_refused(struct ftpd_session *s, const char *patterns);
/* The data connection is open and the transfer starts: 150. */
void ftpd_session_transfer_start(struct ftpd_session *s);
void ftpd_session_transfer_status(struct ftpd_session *s, uint64_t bytes);
void ftpd_session_transfer_done(struct ftpd_session *s, enum ftpd_xfer result);
bool ftpd_req_is_transfer(enum ftpd_req kind);

#endif
