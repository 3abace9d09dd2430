/* Fuzz the FTP protocol core with whole sessions: input lines are
 * commands; the byte after each line chooses the result of any request.
 * Properties: every reply line is "DDD text" or "DDD-text" (or a FEAT
 * continuation " text"), no request arrives while one is pending, paths
 * in requests are normalized, and the session never leaves its root. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "session.h"

static bool is_code(const char *p, const char *crlf)
{
	return crlf - p >= 4 && p[0] >= '1' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
	       p[2] >= '0' && p[2] <= '9' && (p[3] == ' ' || p[3] == '-');
}

/* RFC 959 replies: "DDD text", or "DDD-text" then lines of any text up
 * to "DDD text" with the same code. */
static void check_replies(const struct gw_buf *out)
{
	const char *p = gw_buf_str(out), *end = p + out->len;
	char multi[3] = { 0 }; /* the code of a multi-line reply that is open */

	while (p < end) {
		const char *crlf = strstr(p, "\r\n");

		if (!crlf)
			abort(); /* a reply without its CRLF */
		for (const char *c = p; c < crlf; c++)
			if (*c == '\r' || *c == '\n' || *c == '\0')
				abort(); /* a reply split by client input */
		if (!multi[0]) {
			if (!is_code(p, crlf))
				abort();
			if (p[3] == '-')
				memcpy(multi, p, 3);
		} else if (is_code(p, crlf) && p[3] == ' ' && !memcmp(p, multi, 3)) {
			multi[0] = 0;
		}
		p = crlf + 2;
	}
	if (multi[0])
		abort(); /* a multi-line reply left open */
}

static void check_path(const char *path)
{
	char again[GW_PATH_MAX + 1];

	if (path[0] != '/' || strstr(path, "/../") || strstr(path, "//"))
		abort();
	if (gw_path_normalize("/", path, again, sizeof(again)) < 0 || strcmp(again, path))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_buf out;
	struct ftpd_session s;
	struct ftpd_request req;
	size_t pos = 0;

	gw_buf_init(&out, 1 << 20);
	ftpd_session_init(&s, &out);
	if (size > 4 && !memcmp(data, "AUTH", 4))
		ftpd_session_require_auth_tls(&s); /* the explicit listener */
	ftpd_session_greet(&s, "fuzz");
	while (pos < size && s.state != FTPD_S_CLOSED) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
		uint8_t choice = nl && nl + 1 < data + size ? nl[1] : 0;
		/* the engine answers longer lines itself, and takes Telnet out */
		size_t fed = len > GW_FTP_LINE_MAX ? GW_FTP_LINE_MAX : len, stripped;
		char line[GW_FTP_LINE_MAX + 1];
		enum ftpd_req kind;

		memcpy(line, data + pos, fed);
		stripped = ftpd_strip_telnet(line, fed);
		if (stripped > fed)
			abort();
		kind = ftpd_session_input(&s, line, stripped, &req);

		pos += len + (nl ? 2 : 0);
		switch (kind) {
		case FTPD_REQ_NONE:
		case FTPD_REQ_CLOSE:
		case FTPD_REQ_ABOR:
		case FTPD_REQ_XFER_STAT:
			break;
		case FTPD_REQ_LOGIN:
			ftpd_session_login_done(&s, choice & 1);
			break;
		case FTPD_REQ_AUTH_TLS:
			ftpd_session_tls_started(&s);
			break;
		case FTPD_REQ_PASV:
			ftpd_session_passive_done(&s, (choice & 1) ? -98 : 0, "10.1.2.3",
						  (uint16_t)(60000 + choice), req.extended);
			break;
		case FTPD_REQ_CWD:
		case FTPD_REQ_DELE:
		case FTPD_REQ_RNFR:
		case FTPD_REQ_RNTO:
		case FTPD_REQ_MKD:
		case FTPD_REQ_RMD:
			check_path(req.path);
			if (kind == FTPD_REQ_RNTO)
				check_path(req.from);
			ftpd_session_done(&s, (choice & 1) ? -2 : 0);
			check_path(ftpd_session_cwd(&s));
			break;
		case FTPD_REQ_SIZE:
			check_path(req.path);
			ftpd_session_size_done(&s, (choice & 1) ? -2 : 0, choice);
			break;
		case FTPD_REQ_MDTM:
			check_path(req.path);
			ftpd_session_mdtm_done(&s, (choice & 1) ? -2 : 0, choice * 1000000LL);
			break;
		case FTPD_REQ_MFMT:
			/* a time the parser took is a real one, after 1970 */
			check_path(req.path);
			if (req.offset > 253402300799ULL) /* 9999-12-31 23:59:59 */
				abort();
			ftpd_session_mfmt_done(&s, (choice & 1) ? -2 : 0, (int64_t)req.offset);
			break;
		case FTPD_REQ_MLST:
		case FTPD_REQ_STAT:
		case FTPD_REQ_HASH:
			check_path(req.path);
			ftpd_session_text_done(&s, (choice & 1) ? -2 : 0,
					       kind == FTPD_REQ_STAT ? "-rw-r----- 1 ftp ftp 1 Jan  1 00:00 a\r\n"
								     : "type=file;size=1; a");
			break;
		case FTPD_REQ_LIST:
		case FTPD_REQ_NLST:
		case FTPD_REQ_MLSD:
		case FTPD_REQ_RETR:
		case FTPD_REQ_STOR:
		case FTPD_REQ_APPE:
			check_path(req.path);
			if ((kind == FTPD_REQ_STOR || kind == FTPD_REQ_APPE) && !strcmp(req.path, "/"))
				abort();
			if (choice & 1)
				ftpd_session_transfer_start(&s);
			if (choice & 2) {
				/* a STAT or ABOR arriving during the transfer */
				if (!ftpd_session_takes(&s, "ABOR", 4))
					abort();
				if (ftpd_session_takes(&s, "NOOP", 4))
					abort();
			}
			ftpd_session_transfer_done(&s, (enum ftpd_xfer)(choice % 12));
			break;
		}
		if (s.state == FTPD_S_BUSY || s.state == FTPD_S_LOGIN)
			abort(); /* every request was answered above */
		check_replies(&out);
		gw_buf_reset(&out);
	}
	ftpd_session_free(&s);
	gw_buf_release(&out);
	return 0;
}
