/* session.c - the FTP protocol core (see session.h). Reply texts follow
 * vsftpd, whose wording the service's users already know. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gw.h"
#include "session.h"

#define NEED_LOGIN 1u
#define NEED_ARG 2u

struct cmd {
	const char *verb;
	unsigned flags;
	enum ftpd_req (*fn)(struct ftpd_session *s, const struct ftpd_command *c,
			    struct ftpd_request *req);
};

static void reply(struct ftpd_session *s, int code, const char *text)
{
	/* A full output buffer means the client stopped reading; the caller
	 * notices and closes. */
	gw_buf_addf(s->out, "%d %s\r\n", code, text);
}

int ftpd_parse_command(const char *line, size_t len, struct ftpd_command *out)
{
	size_t i, v = 0;

	if (len && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		/* Names may be UTF-8; nothing below 0x20 and no DEL. */
		if (c < 0x20 || c == 0x7f)
			return -EINVAL;
	}
	while (v < len && v < 5 && line[v] != ' ') {
		char c = line[v];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z')
			return -EINVAL;
		out->verb[v++] = c;
	}
	if (v < 3 || v > 4 || (v < len && line[v] != ' '))
		return -EINVAL;
	out->verb[v] = '\0';
	out->has_arg = v + 1 < len;
	out->arg = out->has_arg ? line + v + 1 : "";
	return 0;
}

/* ---------------------------------------------------------------- login */

static enum ftpd_req cmd_user(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (s->state == FTPD_S_READY) {
		reply(s, 530, "Can't change to another user.");
		return FTPD_REQ_NONE;
	}
	/* Any name is accepted here and checked with the password, so that
	 * replies do not tell which accounts exist. */
	if (gw_strlcpy(s->user, c->arg, sizeof(s->user)) < 0)
		s->user[0] = '\0';
	s->state = FTPD_S_PASS;
	reply(s, 331, "Please specify the password.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_pass(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	if (s->state == FTPD_S_READY) {
		reply(s, 230, "Already logged in.");
		return FTPD_REQ_NONE;
	}
	if (s->state != FTPD_S_PASS) {
		reply(s, 503, "Login with USER first.");
		return FTPD_REQ_NONE;
	}
	if (gw_strlcpy(req->arg, c->arg, sizeof(req->arg)) < 0 || !s->user[0]) {
		/* Too long to be ours: fail as slowly as a wrong password. */
		req->arg[0] = '\0';
	}
	s->state = FTPD_S_LOGIN;
	return FTPD_REQ_LOGIN;
}

enum ftpd_req ftpd_session_login_done(struct ftpd_session *s, bool ok)
{
	s->pending = FTPD_REQ_NONE;
	if (ok) {
		s->state = FTPD_S_READY;
		reply(s, 230, "Login successful.");
		return FTPD_REQ_NONE;
	}
	s->state = FTPD_S_USER;
	s->user[0] = '\0';
	reply(s, 530, "Login incorrect.");
	if (++s->failed_logins >= s->max_failed_logins) {
		s->state = FTPD_S_CLOSED;
		return FTPD_REQ_CLOSE;
	}
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_quit(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	(void)req;
	reply(s, 221, "Goodbye.");
	s->state = FTPD_S_CLOSED;
	return FTPD_REQ_CLOSE;
}

/* ---------------------------------------------------------------- settings */

static enum ftpd_req cmd_syst(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	(void)req;
	reply(s, 215, "UNIX Type: L8");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_feat(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	(void)req;
	gw_buf_adds(s->out, "211-Features:\r\n"
			    " EPSV\r\n"
			    " PASV\r\n"
			    " PBSZ\r\n"
			    " PROT\r\n"
			    " SIZE\r\n"
			    " UTF8\r\n"
			    "211 End\r\n");
	return FTPD_REQ_NONE;
}

static bool arg_is(const struct ftpd_command *c, const char *want)
{
	return strcasecmp(c->arg, want) == 0;
}

static enum ftpd_req cmd_opts(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (arg_is(c, "UTF8 ON") || arg_is(c, "UTF8"))
		reply(s, 200, "Always in UTF8 mode.");
	else
		reply(s, 501, "Option not understood.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_pbsz(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	/* RFC 4217: a streaming protocol's buffer size is 0; any other
	 * value is answered with the one we use. */
	s->pbsz = true;
	if (strcmp(c->arg, "0") == 0)
		reply(s, 200, "PBSZ set to 0.");
	else
		reply(s, 200, "PBSZ=0");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_prot(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (!s->pbsz) {
		reply(s, 503, "PBSZ must be issued before PROT.");
	} else if (arg_is(c, "P")) {
		s->prot_private = true;
		reply(s, 200, "PROT now Private.");
	} else if (arg_is(c, "C")) {
		reply(s, 536, "Data connections must be encrypted.");
	} else if (arg_is(c, "S") || arg_is(c, "E")) {
		reply(s, 536, "PROT not supported.");
	} else {
		reply(s, 504, "PROT not recognised.");
	}
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_type(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (arg_is(c, "I") || arg_is(c, "L 8")) {
		s->binary = true;
		reply(s, 200, "Switching to Binary mode.");
	} else if (arg_is(c, "A") || arg_is(c, "A N")) {
		/* Files are stored as sent: encrypted uploads are binary. */
		s->binary = false;
		reply(s, 200, "Switching to ASCII mode.");
	} else {
		reply(s, 504, "Bad TYPE command.");
	}
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_mode(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (arg_is(c, "S"))
		reply(s, 200, "Mode set to S.");
	else
		reply(s, 504, "Bad MODE command.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_stru(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (arg_is(c, "F"))
		reply(s, 200, "Structure set to F.");
	else
		reply(s, 504, "Bad STRU command.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_noop(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	(void)req;
	reply(s, 200, "NOOP ok.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_allo(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	(void)req;
	reply(s, 202, "ALLO command ignored.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_active(struct ftpd_session *s, const struct ftpd_command *c,
				struct ftpd_request *req)
{
	(void)c;
	(void)req;
	reply(s, 502, "Active mode is not supported; use PASV or EPSV.");
	return FTPD_REQ_NONE;
}

/* ---------------------------------------------------------------- paths */

static enum ftpd_req cmd_pwd(struct ftpd_session *s, const struct ftpd_command *c,
			     struct ftpd_request *req)
{
	const char *p;

	(void)c;
	(void)req;
	/* RFC 959: a double quote inside the name is doubled. */
	gw_buf_adds(s->out, "257 \"");
	for (p = s->cwd; *p; p++) {
		if (*p == '"')
			gw_buf_adds(s->out, "\"\"");
		else
			gw_buf_add(s->out, p, 1);
	}
	gw_buf_adds(s->out, "\"\r\n");
	return FTPD_REQ_NONE;
}

static enum ftpd_req change_dir(struct ftpd_session *s, const char *arg, struct ftpd_request *req)
{
	if (gw_path_normalize(s->cwd, arg, req->path, sizeof(req->path)) < 0) {
		reply(s, 550, "Failed to change directory.");
		return FTPD_REQ_NONE;
	}
	return FTPD_REQ_CWD;
}

static enum ftpd_req cmd_cwd(struct ftpd_session *s, const struct ftpd_command *c,
			     struct ftpd_request *req)
{
	return change_dir(s, c->arg, req);
}

static enum ftpd_req cmd_cdup(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	return change_dir(s, "..", req);
}

void ftpd_session_cwd_done(struct ftpd_session *s, const char *path, int err)
{
	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_READY;
	if (err < 0) {
		reply(s, 550, "Failed to change directory.");
		return;
	}
	gw_strlcpy(s->cwd, path, sizeof(s->cwd));
	reply(s, 250, "Directory successfully changed.");
}

static enum ftpd_req cmd_size(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	if (gw_path_normalize(s->cwd, c->arg, req->path, sizeof(req->path)) < 0) {
		reply(s, 550, "Could not get file size.");
		return FTPD_REQ_NONE;
	}
	return FTPD_REQ_SIZE;
}

void ftpd_session_size_done(struct ftpd_session *s, int err, uint64_t size)
{
	char text[32];

	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_READY;
	if (err < 0) {
		reply(s, 550, "Could not get file size.");
		return;
	}
	snprintf(text, sizeof(text), "%llu", (unsigned long long)size);
	reply(s, 213, text);
}

/* ---------------------------------------------------------------- data */

static enum ftpd_req cmd_pasv(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	req->extended = !strcmp(c->verb, "EPSV");
	if (req->extended && c->has_arg && !arg_is(c, "1") && !arg_is(c, "2")) {
		if (arg_is(c, "ALL"))
			reply(s, 200, "EPSV ALL ok.");
		else
			reply(s, 522, "Bad network protocol.");
		return FTPD_REQ_NONE;
	}
	return FTPD_REQ_PASV;
}

void ftpd_session_passive_done(struct ftpd_session *s, int err, const char *ipv4, uint16_t port,
			       bool extended)
{
	char text[96];

	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_READY;
	if (err < 0) {
		s->has_passive = false;
		reply(s, 425, err == -EADDRINUSE ? "No passive port is free; try again later."
						 : "Could not open a passive port.");
		return;
	}
	s->has_passive = true;
	if (extended) {
		snprintf(text, sizeof(text), "Entering Extended Passive Mode (|||%u|)", port);
		reply(s, 229, text);
		return;
	}
	snprintf(text, sizeof(text), "Entering Passive Mode (%s,%u,%u).", ipv4, port >> 8, port & 255);
	for (char *p = text; *p; p++)
		if (*p == '.' && p[1] != '\0')
			*p = ',';
	reply(s, 227, text);
}

/* Skip "-la"-style options that clients put before a LIST path. */
static const char *skip_list_options(const char *arg)
{
	while (arg[0] == '-') {
		while (*arg && *arg != ' ')
			arg++;
		while (*arg == ' ')
			arg++;
	}
	return arg;
}

static bool transfer_allowed(struct ftpd_session *s)
{
	if (!s->prot_private) {
		reply(s, 521, "Data connections must be encrypted: send PBSZ 0 and PROT P first.");
		return false;
	}
	if (!s->has_passive) {
		reply(s, 425, "Use PASV or EPSV first.");
		return false;
	}
	return true;
}

static enum ftpd_req cmd_list(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	const char *arg = skip_list_options(c->arg);

	if (!transfer_allowed(s))
		return FTPD_REQ_NONE;
	if (gw_path_normalize(s->cwd, arg, req->path, sizeof(req->path)) < 0) {
		reply(s, 550, "Could not read the directory.");
		return FTPD_REQ_NONE;
	}
	return strcmp(c->verb, "NLST") ? FTPD_REQ_LIST : FTPD_REQ_NLST;
}

static enum ftpd_req cmd_stor(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	if (!transfer_allowed(s))
		return FTPD_REQ_NONE;
	if (gw_path_normalize(s->cwd, c->arg, req->path, sizeof(req->path)) < 0 ||
	    !strcmp(req->path, "/")) {
		reply(s, 553, "Could not create file.");
		return FTPD_REQ_NONE;
	}
	return FTPD_REQ_STOR;
}

void ftpd_session_transfer_start(struct ftpd_session *s)
{
	if (s->pending == FTPD_REQ_STOR)
		reply(s, 150, "Ok to send data.");
	else
		reply(s, 150, "Here comes the directory listing.");
}

void ftpd_session_transfer_done(struct ftpd_session *s, enum ftpd_xfer result)
{
	bool listing = s->pending != FTPD_REQ_STOR;

	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_READY;
	s->has_passive = false;
	switch (result) {
	case FTPD_XFER_OK:
		reply(s, 226, listing ? "Directory send OK." : "Transfer complete.");
		break;
	case FTPD_XFER_NO_CONNECTION:
		reply(s, 425, "Failed to establish connection.");
		break;
	case FTPD_XFER_NOT_REUSED:
		reply(s, 522, "Data connection must reuse the TLS session of the control connection.");
		break;
	case FTPD_XFER_TLS_FAILED:
		reply(s, 425, "TLS handshake on the data connection failed.");
		break;
	case FTPD_XFER_OPEN_FAILED:
		if (listing)
			reply(s, 550, "Could not read the directory.");
		else
			reply(s, 553, "Could not create file.");
		break;
	case FTPD_XFER_ABORTED:
		reply(s, 426, listing ? "Failure writing network stream."
				      : "Failure reading network stream; the upload is kept as partial.");
		break;
	case FTPD_XFER_LOCAL_ERROR:
		reply(s, 451, "Failure writing to local file.");
		break;
	case FTPD_XFER_NO_SPACE:
		reply(s, 452, "Insufficient storage space.");
		break;
	}
}

/* ---------------------------------------------------------------- dispatch */

static const struct cmd commands[] = {
	{ "USER", NEED_ARG, cmd_user },
	{ "PASS", 0, cmd_pass },
	{ "QUIT", 0, cmd_quit },
	{ "SYST", 0, cmd_syst },
	{ "FEAT", 0, cmd_feat },
	{ "OPTS", NEED_ARG, cmd_opts },
	{ "PBSZ", NEED_ARG, cmd_pbsz },
	{ "PROT", NEED_ARG, cmd_prot },
	{ "NOOP", 0, cmd_noop },
	{ "PORT", 0, cmd_active },
	{ "EPRT", 0, cmd_active },
	{ "PWD", NEED_LOGIN, cmd_pwd },
	{ "XPWD", NEED_LOGIN, cmd_pwd },
	{ "CWD", NEED_LOGIN | NEED_ARG, cmd_cwd },
	{ "XCWD", NEED_LOGIN | NEED_ARG, cmd_cwd },
	{ "CDUP", NEED_LOGIN, cmd_cdup },
	{ "XCUP", NEED_LOGIN, cmd_cdup },
	{ "TYPE", NEED_LOGIN | NEED_ARG, cmd_type },
	{ "MODE", NEED_LOGIN | NEED_ARG, cmd_mode },
	{ "STRU", NEED_LOGIN | NEED_ARG, cmd_stru },
	{ "ALLO", NEED_LOGIN, cmd_allo },
	{ "PASV", NEED_LOGIN, cmd_pasv },
	{ "EPSV", NEED_LOGIN, cmd_pasv },
	{ "LIST", NEED_LOGIN, cmd_list },
	{ "NLST", NEED_LOGIN, cmd_list },
	{ "STOR", NEED_LOGIN | NEED_ARG, cmd_stor },
	{ "SIZE", NEED_LOGIN | NEED_ARG, cmd_size },
};

void ftpd_session_init(struct ftpd_session *s, struct gw_buf *out)
{
	memset(s, 0, sizeof(*s));
	s->out = out;
	s->state = FTPD_S_USER;
	s->cwd[0] = '/';
	s->max_failed_logins = 3;
}

void ftpd_session_greet(struct ftpd_session *s, const char *banner)
{
	reply(s, 220, banner);
}

void ftpd_session_line_too_long(struct ftpd_session *s)
{
	reply(s, 500, "Command line too long.");
}

enum ftpd_req ftpd_session_input(struct ftpd_session *s, const char *line, size_t len,
				 struct ftpd_request *req)
{
	char copy[GW_FTP_LINE_MAX + 1];
	struct ftpd_command c;
	const struct cmd *cmd = NULL;
	enum ftpd_req kind;
	size_t i;

	memset(req, 0, sizeof(*req));
	req->kind = FTPD_REQ_NONE;
	if (s->state == FTPD_S_CLOSED)
		return FTPD_REQ_CLOSE;
	if (s->state == FTPD_S_LOGIN || s->state == FTPD_S_BUSY)
		GW_BUG("command fed while a request is pending");
	if (len > GW_FTP_LINE_MAX) {
		ftpd_session_line_too_long(s);
		return FTPD_REQ_NONE;
	}
	/* The argument must end where the line ends. */
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (len && copy[len - 1] == '\r')
		copy[--len] = '\0';
	if (ftpd_parse_command(copy, len, &c) < 0) {
		reply(s, 500, "Syntax error, command unrecognized.");
		return FTPD_REQ_NONE;
	}
	for (i = 0; i < GW_ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].verb, c.verb))
			cmd = &commands[i];
	if (!cmd) {
		reply(s, 502, "Command not implemented.");
		return FTPD_REQ_NONE;
	}
	if ((cmd->flags & NEED_LOGIN) && s->state != FTPD_S_READY) {
		reply(s, 530, "Please login with USER and PASS.");
		return FTPD_REQ_NONE;
	}
	if ((cmd->flags & NEED_ARG) && !c.has_arg) {
		reply(s, 501, "Syntax error in parameters or arguments.");
		return FTPD_REQ_NONE;
	}
	kind = cmd->fn(s, &c, req);
	explicit_bzero(copy, sizeof(copy)); /* may hold a password */
	req->kind = kind;
	if (kind != FTPD_REQ_NONE && kind != FTPD_REQ_CLOSE) {
		s->pending = kind;
		if (s->state == FTPD_S_READY)
			s->state = FTPD_S_BUSY;
	}
	return kind;
}
