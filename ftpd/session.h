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

enum ftpd_req {
	FTPD_REQ_NONE,  /* replies are queued; nothing else to do */
	FTPD_REQ_CLOSE, /* send the queued replies, then close */
	FTPD_REQ_LOGIN, /* check session->user with request.arg as password */
	FTPD_REQ_PASV,  /* open a passive listener; request.extended for EPSV */
	FTPD_REQ_CWD,   /* is request.path a directory? */
	FTPD_REQ_SIZE,  /* size of the file request.path */
	FTPD_REQ_LIST,  /* send a long listing of request.path */
	FTPD_REQ_NLST,  /* send the names in request.path */
	FTPD_REQ_STOR,  /* receive a file into request.path */
};

struct ftpd_request {
	enum ftpd_req kind;
	char path[GW_PATH_MAX + 1];
	char arg[GW_PASS_MAX + 1];
	bool extended;
};

enum ftpd_state {
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
	FTPD_XFER_OPEN_FAILED,   /* 553 (or 550 for a listing) */
	FTPD_XFER_ABORTED,       /* 426: connection broke, upload is partial */
	FTPD_XFER_LOCAL_ERROR,   /* 451 */
	FTPD_XFER_NO_SPACE,      /* 452 */
};

struct ftpd_session {
	enum ftpd_state state;
	enum ftpd_req pending;
	struct gw_buf *out; /* borrowed: where replies go */
	char user[GW_USER_MAX + 1];
	char cwd[GW_PATH_MAX + 1];
	bool pbsz;
	bool prot_private;
	bool has_passive;
	bool binary;
	unsigned failed_logins;
	unsigned max_failed_logins;
};

void ftpd_session_init(struct ftpd_session *s, struct gw_buf *out);
/* Queue the 220 greeting. */
void ftpd_session_greet(struct ftpd_session *s, const char *banner);
/* Handle one command line. Returns the request kind (also in req). */
enum ftpd_req ftpd_session_input(struct ftpd_session *s, const char *line, size_t len,
				 struct ftpd_request *req);
/* Queue a 500 for a line longer than GW_FTP_LINE_MAX. */
void ftpd_session_line_too_long(struct ftpd_session *s);

/* Results of requests. Each returns FTPD_REQ_NONE or FTPD_REQ_CLOSE. */
enum ftpd_req ftpd_session_login_done(struct ftpd_session *s, bool ok);
void ftpd_session_passive_done(struct ftpd_session *s, int err, const char *ipv4, uint16_t port,
			       bool extended);
void ftpd_session_cwd_done(struct ftpd_session *s, const char *path, int err);
void ftpd_session_size_done(struct ftpd_session *s, int err, uint64_t size);
/* The data connection is open and the transfer starts: 150. */
void ftpd_session_transfer_start(struct ftpd_session *s);
void ftpd_session_transfer_done(struct ftpd_session *s, enum ftpd_xfer result);

#endif
