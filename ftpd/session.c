/* session.c - the FTP protocol core (see session.h). Reply texts follow
 * vsftpd, whose wording the service's users already know. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gw.h"
#include "session.h"
#include "session_int.h"

#define NEED_LOGIN 1u /* only once logged in */
#define NEED_ARG 2u   /* an argument is required */
#define BEFORE_TLS 4u /* allowed on the explicit listener before AUTH TLS */

struct cmd {
	const char *verb;
	unsigned flags;
	enum ftpd_req (*fn)(struct ftpd_session *s, const struct ftpd_command *c,
			    struct ftpd_request *req);
};

void ftpd_reply(struct ftpd_session *s, int code, const char *text)
{
	/* A full output buffer means the client stopped reading; the caller
	 * notices and closes. */
	gw_buf_addf(s->out, "%d %s\r\n", code, text);
}

/* Append path as RFC 959 quotes it: inside "", with " doubled. */
void ftpd_add_quoted(struct gw_buf *b, const char *path)
{
	const char *p;

	gw_buf_adds(b, "\"");
	for (p = path; *p; p++) {
		if (*p == '"')
			gw_buf_adds(b, "\"\"");
		else
			gw_buf_add(b, p, 1);
	}
	gw_buf_adds(b, "\"");
}

bool ftpd_req_is_transfer(enum ftpd_req kind)
{
	return kind == FTPD_REQ_LIST || kind == FTPD_REQ_NLST || kind == FTPD_REQ_MLSD ||
	       kind == FTPD_REQ_RETR || kind == FTPD_REQ_STOR || kind == FTPD_REQ_APPE;
}

bool ftpd_is_upload(enum ftpd_req kind)
{
	return kind == FTPD_REQ_STOR || kind == FTPD_REQ_APPE;
}

static bool arg_is(const struct ftpd_command *c, const char *want)
{
	return strcasecmp(c->arg, want) == 0;
}

/* Normalize the argument into req->path, or answer code/text. */
static bool resolve(struct ftpd_session *s, const char *arg, struct ftpd_request *req, int code,
		    const char *text)
{
	if (gw_path_normalize(ftpd_session_cwd(s), arg, req->path, sizeof(req->path)) == 0)
		return true;
	ftpd_reply(s, code, text);
	return false;
}

/* ---------------------------------------------------------------- login */

static enum ftpd_req cmd_user(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (s->state == FTPD_S_READY) {
		ftpd_reply(s, 530, "Can't change to another user.");
		return FTPD_REQ_NONE;
	}
	/* Any name is accepted here and checked with the password, so that
	 * replies do not tell which accounts exist. */
	if (gw_strlcpy(s->user, c->arg, sizeof(s->user)) < 0)
		s->user[0] = '\0';
	s->state = FTPD_S_PASS;
	ftpd_reply(s, 331, "Please specify the password.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_pass(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	if (s->state == FTPD_S_READY) {
		ftpd_reply(s, 230, "Already logged in.");
		return FTPD_REQ_NONE;
	}
	if (s->state != FTPD_S_PASS) {
		ftpd_reply(s, 503, "Login with USER first.");
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
		ftpd_reply(s, 230, "Login successful.");
		return FTPD_REQ_NONE;
	}
	s->state = FTPD_S_USER;
	s->user[0] = '\0';
	ftpd_reply(s, 530, "Login incorrect.");
	if (++s->failed_logins >= s->max_failed_logins) {
		s->state = FTPD_S_CLOSED;
		return FTPD_REQ_CLOSE;
	}
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_auth(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (s->state != FTPD_S_TLS) {
		ftpd_reply(s, 534, "Already using TLS.");
		return FTPD_REQ_NONE;
	}
	if (!arg_is(c, "TLS") && !arg_is(c, "SSL") && !arg_is(c, "TLS-C")) {
		ftpd_reply(s, 504, "Unknown AUTH type.");
		return FTPD_REQ_NONE;
	}
	ftpd_reply(s, 234, "Proceed with negotiation.");
	return FTPD_REQ_AUTH_TLS;
}

void ftpd_session_tls_started(struct ftpd_session *s)
{
	s->pending = FTPD_REQ_NONE;
	s->state = FTPD_S_USER;
}

static enum ftpd_req cmd_quit(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	(void)req;
	ftpd_reply(s, 221, "Goodbye.");
	s->state = FTPD_S_CLOSED;
	return FTPD_REQ_CLOSE;
}

/* ---------------------------------------------------------------- settings */

static enum ftpd_req cmd_syst(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	(void)req;
	ftpd_reply(s, 215, "UNIX Type: L8");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_feat(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	(void)req;
	gw_buf_adds(s->out, "211-Features:\r\n");
	if (s->explicit_tls)
		gw_buf_adds(s->out, " AUTH TLS\r\n");
	gw_buf_adds(s->out, " EPSV\r\n"
			    " HASH SHA-256*\r\n"
			    " MDTM\r\n"
			    " MFMT\r\n"
			    " MLST type*;size*;modify*;perm*;unique*;\r\n"
			    " PASV\r\n"
			    " PBSZ\r\n"
			    " PROT\r\n"
			    " REST STREAM\r\n"
			    " SIZE\r\n"
			    " TVFS\r\n"
			    " UTF8\r\n"
			    "211 End\r\n");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_opts(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (arg_is(c, "UTF8 ON") || arg_is(c, "UTF8"))
		ftpd_reply(s, 200, "Always in UTF8 mode.");
	else if (arg_is(c, "HASH") || arg_is(c, "HASH SHA-256"))
		ftpd_reply(s, 200, "SHA-256");
	else if (!strncasecmp(c->arg, "MLST", 4) && (c->arg[4] == '\0' || c->arg[4] == ' '))
		ftpd_reply(s, 200, "MLST OPTS type;size;modify;perm;unique;");
	else
		ftpd_reply(s, 501, "Option not understood.");
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
		ftpd_reply(s, 200, "PBSZ set to 0.");
	else
		ftpd_reply(s, 200, "PBSZ=0");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_prot(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (!s->pbsz) {
		ftpd_reply(s, 503, "PBSZ must be issued before PROT.");
	} else if (arg_is(c, "P")) {
		s->prot_private = true;
		ftpd_reply(s, 200, "PROT now Private.");
	} else if (arg_is(c, "C")) {
		ftpd_reply(s, 536, "Data connections must be encrypted.");
	} else if (arg_is(c, "S") || arg_is(c, "E")) {
		ftpd_reply(s, 536, "PROT not supported.");
	} else {
		ftpd_reply(s, 504, "PROT not recognised.");
	}
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_ccc(struct ftpd_session *s, const struct ftpd_command *c,
			     struct ftpd_request *req)
{
	(void)c;
	(void)req;
	ftpd_reply(s, 534, "The control connection stays encrypted.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_type(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (arg_is(c, "I") || arg_is(c, "L 8")) {
		s->binary = true;
		ftpd_reply(s, 200, "Switching to Binary mode.");
	} else if (arg_is(c, "A") || arg_is(c, "A N")) {
		/* Files are stored as sent: encrypted uploads are binary. */
		s->binary = false;
		ftpd_reply(s, 200, "Switching to ASCII mode.");
	} else {
		ftpd_reply(s, 504, "Bad TYPE command.");
	}
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_mode(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (arg_is(c, "S"))
		ftpd_reply(s, 200, "Mode set to S.");
	else
		ftpd_reply(s, 504, "Bad MODE command.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_stru(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)req;
	if (arg_is(c, "F"))
		ftpd_reply(s, 200, "Structure set to F.");
	else
		ftpd_reply(s, 504, "Bad STRU command.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_noop(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	(void)req;
	ftpd_reply(s, 200, "NOOP ok.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_allo(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	(void)req;
	ftpd_reply(s, 202, "ALLO command ignored.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_active(struct ftpd_session *s, const struct ftpd_command *c,
				struct ftpd_request *req)
{
	(void)c;
	(void)req;
	ftpd_reply(s, 502, "Active mode is not supported; use PASV or EPSV.");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_rest(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	uint64_t v;
	char text[64];

	(void)req;
	if (gw_parse_u64(c->arg, 0, INT64_MAX, &v) < 0) {
		ftpd_reply(s, 501, "REST requires a byte offset.");
		return FTPD_REQ_NONE;
	}
	s->rest = v;
	snprintf(text, sizeof(text), "Restart position accepted (%llu).", (unsigned long long)v);
	ftpd_reply(s, 350, text);
	return FTPD_REQ_NONE;
}

/* ---------------------------------------------------------------- status */

static enum ftpd_req cmd_help(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req);

static enum ftpd_req cmd_stat(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	char line[128];

	if (s->state == FTPD_S_BUSY)
		return FTPD_REQ_XFER_STAT;
	if (c->has_arg) {
		if (!resolve(s, c->arg, req, 550, "Could not read the directory."))
			return FTPD_REQ_NONE;
		return FTPD_REQ_STAT;
	}
	gw_buf_adds(s->out, "211-FTP server status:\r\n");
	snprintf(line, sizeof(line), "     Logged in as %s\r\n", s->user);
	gw_buf_adds(s->out, line);
	gw_buf_adds(s->out, s->binary ? "     TYPE: BINARY\r\n" : "     TYPE: ASCII\r\n");
	snprintf(line, sizeof(line), "     Session timeout in seconds is %u\r\n", s->idle_timeout_s);
	gw_buf_adds(s->out, line);
	gw_buf_adds(s->out, "     Control connection is encrypted (TLS)\r\n");
	gw_buf_adds(s->out, s->prot_private ? "     Data connections will be encrypted.\r\n"
					    : "     Data connections need PBSZ 0 and PROT P.\r\n");
	gw_buf_adds(s->out, "211 End of status\r\n");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_abor(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	(void)c;
	(void)req;
	if (s->state == FTPD_S_BUSY)
		return FTPD_REQ_ABOR;
	s->has_passive = false;
	ftpd_reply(s, 225, "No transfer to ABOR.");
	return FTPD_REQ_ABOR; /* closes an idle passive listener */
}

/* ---------------------------------------------------------------- paths */

static enum ftpd_req cmd_pwd(struct ftpd_session *s, const struct ftpd_command *c,
			     struct ftpd_request *req)
{
	(void)c;
	(void)req;
	gw_buf_adds(s->out, "257 ");
	ftpd_add_quoted(s->out, ftpd_session_cwd(s));
	gw_buf_adds(s->out, "\r\n");
	return FTPD_REQ_NONE;
}

static enum ftpd_req cmd_cwd(struct ftpd_session *s, const struct ftpd_command *c,
			     struct ftpd_request *req)
{
	const char *arg = strcmp(c->verb, "CDUP") && strcmp(c->verb, "XCUP") ? c->arg : "..";

	if (!resolve(s, arg, req, 550, "Failed to change directory."))
		return FTPD_REQ_NONE;
	return FTPD_REQ_CWD;
}

static enum ftpd_req cmd_size(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	if (!resolve(s, c->arg, req, 550, "Could not get file size."))
		return FTPD_REQ_NONE;
	return FTPD_REQ_SIZE;
}

static enum ftpd_req cmd_mdtm(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	if (!resolve(s, c->arg, req, 550, "Could not get file modification time."))
		return FTPD_REQ_NONE;
	return FTPD_REQ_MDTM;
}

/* MFMT time path (draft-somers-ftp-mfxx): the client's modification time
 * of a file it uploaded. */
static enum ftpd_req cmd_mfmt(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	const char *sp = strchr(c->arg, ' ');
	int64_t t;

	if (!sp || ftpd_parse_mfmt_time(c->arg, (size_t)(sp - c->arg), &t) < 0 || !sp[1]) {
		ftpd_reply(s, 501, "MFMT needs a time YYYYMMDDHHMMSS and a file.");
		return FTPD_REQ_NONE;
	}
	if (!resolve(s, sp + 1, req, 550, "Could not set file modification time."))
		return FTPD_REQ_NONE;
	req->offset = (uint64_t)t;
	return FTPD_REQ_MFMT;
}

static enum ftpd_req cmd_mlst(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	if (!resolve(s, c->arg, req, 550, "No such file or directory."))
		return FTPD_REQ_NONE;
	return FTPD_REQ_MLST;
}

static enum ftpd_req cmd_hash(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	if (!resolve(s, c->arg, req, 550, "No such file."))
		return FTPD_REQ_NONE;
	if (!strcmp(req->path, "/")) {
		ftpd_reply(s, 553, "HASH needs a file.");
		return FTPD_REQ_NONE;
	}
	return FTPD_REQ_HASH;
}

static enum ftpd_req cmd_dele(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	if (!resolve(s, c->arg, req, 550, "Delete operation failed."))
		return FTPD_REQ_NONE;
	return FTPD_REQ_DELE;
}

static enum ftpd_req cmd_rnfr(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	ftpd_str_clear(&s->rename_from);
	if (!resolve(s, c->arg, req, 550, "RNFR command failed."))
		return FTPD_REQ_NONE;
	if (!strcmp(req->path, "/")) {
		ftpd_reply(s, 550, "RNFR command failed.");
		return FTPD_REQ_NONE;
	}
	return FTPD_REQ_RNFR;
}

static enum ftpd_req cmd_rnto(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	if (!s->rename_from) {
		ftpd_reply(s, 503, "RNFR required first.");
		return FTPD_REQ_NONE;
	}
	gw_strlcpy(req->from, s->rename_from, sizeof(req->from));
	ftpd_str_clear(&s->rename_from);
	if (!resolve(s, c->arg, req, 550, "Rename failed."))
		return FTPD_REQ_NONE;
	if (!strcmp(req->path, "/")) {
		ftpd_reply(s, 550, "Rename failed.");
		return FTPD_REQ_NONE;
	}
	return FTPD_REQ_RNTO;
}

static enum ftpd_req cmd_mkd(struct ftpd_session *s, const struct ftpd_command *c,
			     struct ftpd_request *req)
{
	if (!resolve(s, c->arg, req, 550, "Create directory operation failed."))
		return FTPD_REQ_NONE;
	return FTPD_REQ_MKD;
}

static enum ftpd_req cmd_rmd(struct ftpd_session *s, const struct ftpd_command *c,
			     struct ftpd_request *req)
{
	if (!resolve(s, c->arg, req, 550, "Remove directory operation failed."))
		return FTPD_REQ_NONE;
	if (!strcmp(req->path, "/")) {
		ftpd_reply(s, 550, "Remove directory operation failed.");
		return FTPD_REQ_NONE;
	}
	return FTPD_REQ_RMD;
}

/* ---------------------------------------------------------------- data */

static enum ftpd_req cmd_pasv(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	req->extended = !strcmp(c->verb, "EPSV");
	if (req->extended && c->has_arg && !arg_is(c, "1") && !arg_is(c, "2")) {
		if (arg_is(c, "ALL"))
			ftpd_reply(s, 200, "EPSV ALL ok.");
		else
			ftpd_reply(s, 522, "Bad network protocol.");
		return FTPD_REQ_NONE;
	}
	return FTPD_REQ_PASV;
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
		ftpd_reply(s, 521, "Data connections must be encrypted: send PBSZ 0 and PROT P first.");
		return false;
	}
	if (!s->has_passive) {
		ftpd_reply(s, 425, "Use PASV or EPSV first.");
		return false;
	}
	return true;
}

static enum ftpd_req cmd_list(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	const char *arg = strcmp(c->verb, "MLSD") ? skip_list_options(c->arg) : c->arg;

	s->rest = 0;
	if (!transfer_allowed(s))
		return FTPD_REQ_NONE;
	if (!resolve(s, arg, req, 550, "Could not read the directory."))
		return FTPD_REQ_NONE;
	if (!strcmp(c->verb, "MLSD"))
		return FTPD_REQ_MLSD;
	return strcmp(c->verb, "NLST") ? FTPD_REQ_LIST : FTPD_REQ_NLST;
}

static enum ftpd_req cmd_retr(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	req->offset = s->rest;
	s->rest = 0;
	if (!s->downloads) {
		ftpd_reply(s, 550, "Downloads are disabled on this server.");
		return FTPD_REQ_NONE;
	}
	if (!transfer_allowed(s))
		return FTPD_REQ_NONE;
	if (!resolve(s, c->arg, req, 550, "Failed to open file."))
		return FTPD_REQ_NONE;
	return FTPD_REQ_RETR;
}

static enum ftpd_req cmd_stor(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	bool append = !strcmp(c->verb, "APPE");

	req->offset = append ? 0 : s->rest;
	s->rest = 0;
	if (!transfer_allowed(s))
		return FTPD_REQ_NONE;
	if (!resolve(s, c->arg, req, 553, "Could not create file."))
		return FTPD_REQ_NONE;
	if (!strcmp(req->path, "/")) {
		ftpd_reply(s, 553, "Could not create file.");
		return FTPD_REQ_NONE;
	}
	return append ? FTPD_REQ_APPE : FTPD_REQ_STOR;
}

/* ---------------------------------------------------------------- dispatch */

static const struct cmd commands[] = {
	{ "USER", NEED_ARG, cmd_user },
	{ "PASS", 0, cmd_pass },
	{ "AUTH", NEED_ARG | BEFORE_TLS, cmd_auth },
	{ "QUIT", BEFORE_TLS, cmd_quit },
	{ "FEAT", BEFORE_TLS, cmd_feat },
	{ "SYST", 0, cmd_syst },
	{ "HELP", 0, cmd_help },
	{ "OPTS", NEED_ARG, cmd_opts },
	{ "PBSZ", NEED_ARG, cmd_pbsz },
	{ "PROT", NEED_ARG, cmd_prot },
	{ "CCC", 0, cmd_ccc },
	{ "NOOP", 0, cmd_noop },
	{ "PORT", 0, cmd_active },
	{ "EPRT", 0, cmd_active },
	{ "PWD", NEED_LOGIN, cmd_pwd },
	{ "XPWD", NEED_LOGIN, cmd_pwd },
	{ "CWD", NEED_LOGIN | NEED_ARG, cmd_cwd },
	{ "XCWD", NEED_LOGIN | NEED_ARG, cmd_cwd },
	{ "CDUP", NEED_LOGIN, cmd_cwd },
	{ "XCUP", NEED_LOGIN, cmd_cwd },
	{ "TYPE", NEED_LOGIN | NEED_ARG, cmd_type },
	{ "MODE", NEED_LOGIN | NEED_ARG, cmd_mode },
	{ "STRU", NEED_LOGIN | NEED_ARG, cmd_stru },
	{ "ALLO", NEED_LOGIN, cmd_allo },
	{ "REST", NEED_LOGIN | NEED_ARG, cmd_rest },
	{ "STAT", NEED_LOGIN, cmd_stat },
	{ "ABOR", NEED_LOGIN, cmd_abor },
	{ "PASV", NEED_LOGIN, cmd_pasv },
	{ "EPSV", NEED_LOGIN, cmd_pasv },
	{ "LIST", NEED_LOGIN, cmd_list },
	{ "NLST", NEED_LOGIN, cmd_list },
	{ "MLSD", NEED_LOGIN, cmd_list },
	{ "MLST", NEED_LOGIN, cmd_mlst },
	{ "RETR", NEED_LOGIN | NEED_ARG, cmd_retr },
	{ "STOR", NEED_LOGIN | NEED_ARG, cmd_stor },
	{ "APPE", NEED_LOGIN | NEED_ARG, cmd_stor },
	{ "SIZE", NEED_LOGIN | NEED_ARG, cmd_size },
	{ "MDTM", NEED_LOGIN | NEED_ARG, cmd_mdtm },
	{ "MFMT", NEED_LOGIN | NEED_ARG, cmd_mfmt },
	{ "HASH", NEED_LOGIN | NEED_ARG, cmd_hash },
	{ "DELE", NEED_LOGIN | NEED_ARG, cmd_dele },
	{ "RNFR", NEED_LOGIN | NEED_ARG, cmd_rnfr },
	{ "RNTO", NEED_LOGIN | NEED_ARG, cmd_rnto },
	{ "MKD", NEED_LOGIN | NEED_ARG, cmd_mkd },
	{ "XMKD", NEED_LOGIN | NEED_ARG, cmd_mkd },
	{ "RMD", NEED_LOGIN | NEED_ARG, cmd_rmd },
	{ "XRMD", NEED_LOGIN | NEED_ARG, cmd_rmd },
};

static enum ftpd_req cmd_help(struct ftpd_session *s, const struct ftpd_command *c,
			      struct ftpd_request *req)
{
	size_t i;

	(void)c;
	(void)req;
	gw_buf_adds(s->out, "214-The following commands are recognized.\r\n");
	for (i = 0; i < GW_ARRAY_SIZE(commands); i++) {
		/* continuation lines start with a space, never with a code */
		gw_buf_addf(s->out, " %s", commands[i].verb);
		if (i % 8 == 7 || i + 1 == GW_ARRAY_SIZE(commands))
			gw_buf_adds(s->out, "\r\n");
	}
	gw_buf_adds(s->out, "214 Help OK.\r\n");
	return FTPD_REQ_NONE;
}

static const struct cmd *find(const char *verb)
{
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].verb, verb))
			return &commands[i];
	return NULL;
}

void ftpd_session_init(struct ftpd_session *s, struct gw_buf *out)
{
	memset(s, 0, sizeof(*s));
	s->out = out;
	s->state = FTPD_S_USER;
	s->max_failed_logins = 3;
	s->downloads = true;
	s->binary = true;
	s->idle_timeout_s = 600;
}

void ftpd_session_free(struct ftpd_session *s)
{
	ftpd_str_clear(&s->cwd);
	ftpd_str_clear(&s->req_path);
	ftpd_str_clear(&s->rename_from);
	ftpd_str_clear(&s->reason);
}

const char *ftpd_session_cwd(const struct ftpd_session *s)
{
	return s->cwd ? s->cwd : "/";
}

int ftpd_str_set(char **dst, const char *src)
{
	char *copy = strdup(src);

	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

void ftpd_str_clear(char **dst)
{
	free(*dst);
	*dst = NULL;
}

void ftpd_session_require_auth_tls(struct ftpd_session *s)
{
	s->state = FTPD_S_TLS;
	s->explicit_tls = true;
}

void ftpd_session_greet(struct ftpd_session *s, const char *banner)
{
	ftpd_reply(s, 220, banner);
}

void ftpd_session_line_too_long(struct ftpd_session *s)
{
	ftpd_reply(s, 500, "Command line too long.");
}

bool ftpd_session_takes(const struct ftpd_session *s, const char *line, size_t len)
{
	struct ftpd_command c;
	char copy[8];
	size_t n = len < sizeof(copy) - 1 ? len : sizeof(copy) - 1;

	if (s->state == FTPD_S_LOGIN)
		return false;
	if (s->state != FTPD_S_BUSY)
		return true;
	if (!ftpd_req_is_transfer(s->pending))
		return false;
	memcpy(copy, line, n);
	copy[n] = '\0';
	if (ftpd_parse_command(copy, strcspn(copy, " \r"), &c) < 0)
		return false;
	return !strcmp(c.verb, "ABOR") || !strcmp(c.verb, "STAT");
}

enum ftpd_req ftpd_session_input(struct ftpd_session *s, const char *line, size_t len,
				 struct ftpd_request *req)
{
	char copy[GW_FTP_LINE_MAX + 1];
	struct ftpd_command c;
	const struct cmd *cmd;
	enum ftpd_req kind;

	memset(req, 0, sizeof(*req));
	req->kind = FTPD_REQ_NONE;
	if (s->state == FTPD_S_CLOSED)
		return FTPD_REQ_CLOSE;
	if (!ftpd_session_takes(s, line, len))
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
		ftpd_reply(s, 500, "Syntax error, command unrecognized.");
		return FTPD_REQ_NONE;
	}
	cmd = find(c.verb);
	if (!cmd) {
		ftpd_reply(s, 502, "Command not implemented.");
		return FTPD_REQ_NONE;
	}
	if (s->state == FTPD_S_TLS && !(cmd->flags & BEFORE_TLS)) {
		ftpd_reply(s, 530, strcmp(c.verb, "USER") ? "Please secure the connection with AUTH TLS first."
						     : "Non-anonymous sessions must use encryption.");
		return FTPD_REQ_NONE;
	}
	if ((cmd->flags & NEED_LOGIN) && s->state != FTPD_S_READY && s->state != FTPD_S_BUSY) {
		ftpd_reply(s, 530, "Please login with USER and PASS.");
		return FTPD_REQ_NONE;
	}
	if ((cmd->flags & NEED_ARG) && !c.has_arg) {
		ftpd_reply(s, 501, "Syntax error in parameters or arguments.");
		return FTPD_REQ_NONE;
	}
	kind = cmd->fn(s, &c, req);
	explicit_bzero(copy, sizeof(copy)); /* may hold a password */
	req->kind = kind;
	switch (kind) {
	case FTPD_REQ_NONE:
	case FTPD_REQ_CLOSE:
	case FTPD_REQ_ABOR:
	case FTPD_REQ_XFER_STAT:
		break; /* answered now, or about the running transfer */
	default:
		if (ftpd_str_set(&s->req_path, req->path) < 0) {
			ftpd_reply(s, 451, "Requested action aborted: local error in processing.");
			req->kind = kind = FTPD_REQ_NONE;
			break;
		}
		s->pending = kind;
		/* FTPD_S_TLS: AUTH TLS until ftpd_session_tls_started() */
		if (s->state == FTPD_S_READY || s->state == FTPD_S_TLS)
			s->state = FTPD_S_BUSY;
	}
	return kind;
}
