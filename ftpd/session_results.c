/* session_results.c - the protocol core's side of finished requests:
 * what the client is told when a file operation, a passive port, a
 * listing or a transfer it asked for is done (see session.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "session.h"
#include "session_int.h"

/* A cluster's node died while receiving the file: the others take it
 * over once its heartbeat has been missing long enough. */
#define NODE_SILENT "The server that was receiving this file stopped answering; it can be" \
		    " resumed in a few seconds."

void ftpd_session_transfer_status(struct ftpd_session *s, uint64_t bytes)
{
	char text[96];

	snprintf(text, sizeof(text), "Transfer in progress: %llu bytes so far.",
		 (unsigned long long)bytes);
	ftpd_reply(s, 213, text);
}

void ftpd_session_done(struct ftpd_session *s, int err)
{
	enum ftpd_req kind = s->pending;

	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_READY;
	switch (kind) {
	case FTPD_REQ_CWD:
		if (err < 0) {
			ftpd_reply(s, 550, "Failed to change directory.");
			return;
		}
		if (!strcmp(s->req_path, "/")) {
			ftpd_str_clear(&s->cwd);
		} else if (ftpd_str_set(&s->cwd, s->req_path) < 0) {
			ftpd_reply(s, 550, "Failed to change directory.");
			return;
		}
		ftpd_reply(s, 250, "Directory successfully changed.");
		return;
	case FTPD_REQ_DELE:
		if (err < 0)
			ftpd_reply(s, 550, err == -EISDIR ? "Delete operation failed: that is a directory."
						     : "Delete operation failed.");
		else
			ftpd_reply(s, 250, "Delete operation successful.");
		return;
	case FTPD_REQ_RNFR:
		if (err < 0) {
			ftpd_reply(s, 550, "RNFR command failed.");
			return;
		}
		if (ftpd_str_set(&s->rename_from, s->req_path) < 0) {
			ftpd_reply(s, 550, "RNFR command failed.");
			return;
		}
		ftpd_reply(s, 350, "Ready for RNTO.");
		return;
	case FTPD_REQ_RNTO:
		ftpd_reply(s, err < 0 ? 550 : 250, err < 0 ? "Rename failed." : "Rename successful.");
		return;
	case FTPD_REQ_MKD:
		if (err < 0) {
			ftpd_reply(s, 550, "Create directory operation failed.");
			return;
		}
		gw_buf_adds(s->out, "257 ");
		ftpd_add_quoted(s->out, s->req_path);
		gw_buf_adds(s->out, " created\r\n");
		return;
	case FTPD_REQ_RMD:
		ftpd_reply(s, err < 0 ? 550 : 250, err < 0 ? "Remove directory operation failed."
						      : "Remove directory operation successful.");
		return;
	default:
		GW_BUG("ftpd_session_done for request %d", (int)kind);
	}
}

void ftpd_session_size_done(struct ftpd_session *s, int err, uint64_t size)
{
	char text[32];

	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_READY;
	if (err == -EINPROGRESS) {
		ftpd_reply(s, 450, NODE_SILENT);
		return;
	}
	if (err < 0) {
		ftpd_reply(s, 550, "Could not get file size.");
		return;
	}
	snprintf(text, sizeof(text), "%llu", (unsigned long long)size);
	ftpd_reply(s, 213, text);
}

/* End an MDTM or MFMT: the time as YYYYMMDDHHMMSS in text, or false
 * (the 550 sent) when there is none. */
static bool mtime_done(struct ftpd_session *s, int err, int64_t mtime_s, const char *fail,
		       char text[32])
{
	time_t t = (time_t)mtime_s;
	struct tm tm;

	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_READY;
	if (err < 0 || !gmtime_r(&t, &tm)) {
		ftpd_reply(s, 550, fail);
		return false;
	}
	strftime(text, 32, "%Y%m%d%H%M%S", &tm);
	return true;
}

void ftpd_session_mfmt_done(struct ftpd_session *s, int err, int64_t mtime_s)
{
	char text[32];

	if (!mtime_done(s, err, mtime_s, "Could not set file modification time.", text))
		return;
	gw_buf_addf(s->out, "213 Modify=%s; ", text);
	gw_buf_adds(s->out, s->req_path);
	gw_buf_adds(s->out, "\r\n");
}

void ftpd_session_mdtm_done(struct ftpd_session *s, int err, int64_t mtime_s)
{
	char text[32];

	if (mtime_done(s, err, mtime_s, "Could not get file modification time.", text))
		ftpd_reply(s, 213, text);
}

void ftpd_session_text_done(struct ftpd_session *s, int err, const char *text)
{
	enum ftpd_req kind = s->pending;
	struct gw_buf *b = s->out;

	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_READY;
	switch (kind) {
	case FTPD_REQ_MLST:
		if (err < 0) {
			ftpd_reply(s, 550, "No such file or directory.");
			return;
		}
		gw_buf_adds(b, "250-Listing ");
		gw_buf_adds(b, s->req_path);
		gw_buf_adds(b, "\r\n ");
		gw_buf_adds(b, text);
		gw_buf_adds(b, "\r\n250 End\r\n");
		return;
	case FTPD_REQ_STAT:
		if (err < 0) {
			ftpd_reply(s, 550, "Could not read the directory.");
			return;
		}
		gw_buf_adds(b, "213-Status follows:\r\n");
		{
			/* The control connection holds at most GW_FTP_OUTBUF_MAX
			 * of replies: a longer listing is cut at a line, and says
			 * so, rather than lost. */
			size_t len = strlen(text), room = b->max > b->len + 256 ? b->max - b->len - 256 : 0;

			if (len <= room) {
				gw_buf_adds(b, text);
				gw_buf_adds(b, "213 End of status\r\n");
				return;
			}
			while (room && text[room - 1] != '\n')
				room--;
			gw_buf_add(b, text, room);
			gw_buf_addf(b, "213 End of status: cut after %zu of %zu bytes; LIST or MLSD sends"
				    " the whole directory\r\n", room, len);
		}
		return;
	case FTPD_REQ_HASH:
		if (err < 0) {
			if (err == -EBUSY)
				ftpd_reply(s, 450, "Another HASH of this account is running; try again later.");
			else
				ftpd_reply(s, 550, err == -EISDIR ? "HASH needs a file." : "No such file.");
			return;
		}
		gw_buf_addf(b, "213 %s %s\r\n", text, s->req_path);
		return;
	default:
		GW_BUG("ftpd_session_text_done for request %d", (int)kind);
	}
}

void ftpd_session_passive_done(struct ftpd_session *s, int err, const char *ipv4, uint16_t port,
			       bool extended)
{
	char text[96];

	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_READY;
	if (err < 0) {
		s->has_passive = false;
		ftpd_reply(s, 425, err == -EADDRINUSE     ? "No passive port is free; try again later."
			      : err == -EUSERS       ? "Too many passive ports are open for this"
						       " account; try again later."
			      : err == -ETOOMANYREFS ? "Too many passive ports are open for your"
						       " address; try again later."
						     : "Could not open a passive port.");
		return;
	}
	s->has_passive = true;
	if (extended) {
		snprintf(text, sizeof(text), "Entering Extended Passive Mode (|||%u|)", port);
		ftpd_reply(s, 229, text);
		return;
	}
	snprintf(text, sizeof(text), "Entering Passive Mode (%s,%u,%u).", ipv4, (unsigned)port >> 8,
		 (unsigned)port & 255);
	for (char *p = text; *p; p++)
		if (*p == '.' && p[1] != '\0')
			*p = ',';
	ftpd_reply(s, 227, text);
}

void ftpd_session_transfer_start(struct ftpd_session *s)
{
	switch (s->pending) {
	case FTPD_REQ_STOR:
	case FTPD_REQ_APPE:
		ftpd_reply(s, 150, "Ok to send data.");
		break;
	case FTPD_REQ_RETR:
		ftpd_reply(s, 150, "Opening BINARY mode data connection.");
		break;
	default:
		ftpd_reply(s, 150, "Here comes the directory listing.");
	}
}

/* A reply with s->reason (or fallback) between before and after. */
static void reply_reason(struct ftpd_session *s, int code, const char *before, const char *fallback,
			 const char *after)
{
	char text[320];

	snprintf(text, sizeof(text), "%s%s%s", before, s->reason ? s->reason : fallback, after);
	ftpd_reply(s, code, text);
}

void ftpd_session_transfer_done(struct ftpd_session *s, enum ftpd_xfer result)
{
	enum ftpd_req kind = s->pending;
	bool upload = ftpd_is_upload(kind);

	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_READY;
	s->has_passive = false;
	switch (result) {
	case FTPD_XFER_OK:
		ftpd_reply(s, 226, upload || kind == FTPD_REQ_RETR ? "Transfer complete."
							       : "Directory send OK.");
		break;
	case FTPD_XFER_NO_CONNECTION:
		ftpd_reply(s, 425, "Failed to establish connection.");
		break;
	case FTPD_XFER_NOT_REUSED:
		ftpd_reply(s, 522, "Data connection must reuse the TLS session of the control connection.");
		break;
	case FTPD_XFER_TLS_FAILED:
		ftpd_reply(s, 425, "TLS handshake on the data connection failed.");
		break;
	case FTPD_XFER_OPEN_FAILED:
		if (upload)
			ftpd_reply(s, 553, "Could not create file.");
		else if (kind == FTPD_REQ_RETR)
			ftpd_reply(s, 550, "Failed to open file.");
		else
			ftpd_reply(s, 550, "Could not read the directory.");
		break;
	case FTPD_XFER_NOT_FOUND:
		ftpd_reply(s, 550, upload ? "No such file to resume." : "No such file or directory.");
		break;
	case FTPD_XFER_BAD_OFFSET:
		ftpd_reply(s, 554, "Restart position is beyond the end of the file.");
		break;
	case FTPD_XFER_BUSY:
		ftpd_reply(s, 450, "Another session is writing this file.");
		break;
	case FTPD_XFER_ABORTED:
		ftpd_reply(s, 426, upload ? "Failure reading network stream; the upload is kept as partial."
				     : "Failure writing network stream.");
		break;
	case FTPD_XFER_CLIENT_ABORT:
		ftpd_reply(s, 426, upload ? "Transfer aborted; the upload is kept as partial."
				     : "Transfer aborted.");
		ftpd_reply(s, 226, "ABOR successful.");
		break;
	case FTPD_XFER_LOCAL_ERROR:
		ftpd_reply(s, 451, upload ? "Failure writing to local file." : "Failure reading local file.");
		break;
	case FTPD_XFER_NO_SPACE:
		ftpd_reply(s, 452, "Insufficient storage space.");
		break;
	case FTPD_XFER_QUOTA:
		ftpd_reply(s, 552, upload ? "Exceeded storage allocation; what arrived is kept as partial."
				     : "Exceeded storage allocation.");
		break;
	case FTPD_XFER_REJECTED:
		reply_reason(s, 553, "Rejected: ", "not an age file", "; encrypt the file with age to"
			     " this account's key and upload it again.");
		break;
	case FTPD_XFER_NO_KEY:
		ftpd_reply(s, 553, "This account needs uploads encrypted to its key, and has none yet;"
			      " ask the transfer admin.");
		break;
	case FTPD_XFER_NOT_READY:
		ftpd_reply(s, 550, "This upload is not complete; it can be read once it is.");
		break;
	case FTPD_XFER_KEPT_ELSEWHERE:
		ftpd_reply(s, 554, "Restart position is not where the stored part of this upload"
			      " ends; resume at the size SIZE reports.");
		break;
	case FTPD_XFER_NODE_SILENT:
		ftpd_reply(s, 450, NODE_SILENT);
		break;
	case FTPD_XFER_TOO_BIG:
		reply_reason(s, 552, "Exceeded this account's file size limit of ", "some",
			     upload ? " bytes; what arrived is kept as partial." : " bytes.");
		break;
	case FTPD_XFER_REFUSED:
		reply_reason(s, 553, "Refused: ", "not accepted", ".");
		break;
	case FTPD_XFER_UNDECIDED:
		reply_reason(s, 451, "The upload could not be confirmed (", "no answer",
			     "); it is kept as partial: resume it to try again.");
		break;
	}
	ftpd_str_clear(&s->reason);
}

void ftpd_session_name_refused(struct ftpd_session *s, const char *patterns)
{
	char text[GW_POLICY_TEXT_MAX + 96];

	if (ftpd_req_is_transfer(s->pending))
		s->has_passive = false;
	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_READY;
	snprintf(text, sizeof(text), "File name not allowed for this account; names must match %s.",
		 patterns);
	ftpd_reply(s, 553, text);
}
