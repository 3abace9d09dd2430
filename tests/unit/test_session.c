/* The protocol core, driven by transcripts:
 *   > LINE        a command line from the client
 *   < TEXT        the next reply line the server must have queued
 *   = KIND        the request the last command must have produced
 *   ! EVENT ARGS  the result of that request, reported back
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gw.h"
#include "session.h"

static const char *const kinds[] = { "NONE", "CLOSE", "LOGIN", "AUTH_TLS", "PASV", "CWD", "SIZE",
				     "MDTM", "MFMT", "MLST", "STAT", "HASH", "DELE", "RNFR", "RNTO", "MKD",
				     "RMD", "LIST", "NLST", "MLSD", "RETR", "STOR", "APPE", "ABOR",
				     "XFER_STAT" };

static const struct {
	const char *name;
	enum ftpd_xfer x;
} xfers[] = {
	{ "OK", FTPD_XFER_OK }, { "NO_CONNECTION", FTPD_XFER_NO_CONNECTION },
	{ "NOT_REUSED", FTPD_XFER_NOT_REUSED }, { "TLS_FAILED", FTPD_XFER_TLS_FAILED },
	{ "OPEN_FAILED", FTPD_XFER_OPEN_FAILED }, { "ABORTED", FTPD_XFER_ABORTED },
	{ "NOT_FOUND", FTPD_XFER_NOT_FOUND }, { "BAD_OFFSET", FTPD_XFER_BAD_OFFSET },
	{ "BUSY", FTPD_XFER_BUSY }, { "CLIENT_ABORT", FTPD_XFER_CLIENT_ABORT },
	{ "LOCAL_ERROR", FTPD_XFER_LOCAL_ERROR }, { "NO_SPACE", FTPD_XFER_NO_SPACE },
};

static void event(struct ftpd_session *s, const struct ftpd_request *req, const char *ev)
{
	char word[32] = "", arg[64] = "";
	const char *sp = strchr(ev, ' ');
	size_t i;

	if (sp) {
		memcpy(word, ev, (size_t)(sp - ev));
		gw_strlcpy(arg, sp + 1, sizeof(arg));
	} else {
		gw_strlcpy(word, ev, sizeof(word));
	}
	if (!strcmp(word, "path")) {
		CHECK_STR(req->path, arg); /* what the I/O layer is asked to touch */
	} else if (!strcmp(word, "offset")) {
		CHECK_INT(req->offset, strtoull(arg, NULL, 10));
	} else if (!strcmp(word, "tls")) {
		ftpd_session_tls_started(s);
	} else if (!strcmp(word, "login")) {
		ftpd_session_login_done(s, !strcmp(arg, "ok"));
	} else if (!strcmp(word, "pasv")) {
		ftpd_session_passive_done(s, 0, "127.0.0.1", 60202, false);
	} else if (!strcmp(word, "epsv")) {
		ftpd_session_passive_done(s, 0, NULL, 60202, true);
	} else if (!strcmp(word, "pasv_full")) {
		ftpd_session_passive_done(s, -EADDRINUSE, NULL, 0, false);
	} else if (!strcmp(word, "ok")) {
		ftpd_session_done(s, 0);
	} else if (!strcmp(word, "fail")) {
		ftpd_session_done(s, -ENOENT);
	} else if (!strcmp(word, "cwd")) {
		ftpd_session_done(s, !strcmp(arg, "ok") ? 0 : -ENOENT);
	} else if (!strcmp(word, "mdtm")) {
		ftpd_session_mdtm_done(s, 0, 1764424219); /* 2025-11-29 13:50:19 */
	} else if (!strcmp(word, "mfmt")) {
		ftpd_session_mfmt_done(s, !strcmp(arg, "fail") ? -ENOENT : 0, 1764424219);
	} else if (!strcmp(word, "text")) {
		ftpd_session_text_done(s, 0, arg);
	} else if (!strcmp(word, "status")) {
		ftpd_session_transfer_status(s, 4096);
	} else if (!strcmp(word, "size")) {
		ftpd_session_size_done(s, !strcmp(arg, "fail") ? -ENOENT : 0,
				       strtoull(arg, NULL, 10));
	} else if (!strcmp(word, "start")) {
		ftpd_session_transfer_start(s);
	} else if (!strcmp(word, "done")) {
		for (i = 0; i < GW_ARRAY_SIZE(xfers); i++)
			if (!strcmp(xfers[i].name, arg))
				ftpd_session_transfer_done(s, xfers[i].x);
	} else {
		fprintf(stderr, "unknown transcript event '%s'\n", ev);
		CHECK(0);
	}
}

static void transcript(const char *name, const char *script)
{
	struct gw_buf out;
	struct ftpd_session s;
	struct ftpd_request req;
	enum ftpd_req last = FTPD_REQ_NONE;
	char *copy = strdup(script), *line, *save = NULL;
	size_t pos = 0;
	int n = 0;

	gw_buf_init(&out, 65536);
	ftpd_session_init(&s, &out);
	memset(&req, 0, sizeof(req));
	if (strstr(name, "explicit"))
		ftpd_session_require_auth_tls(&s);
	ftpd_session_greet(&s, "test");
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		n++;
		if (line[0] == '>') {
			CHECK_STR(gw_buf_str(&out) + pos, ""); /* every reply was expected */
			gw_buf_reset(&out);
			pos = 0;
			last = ftpd_session_input(&s, line + 2, strlen(line + 2), &req);
		} else if (line[0] == '<') {
			const char *have = gw_buf_str(&out) + pos;
			const char *crlf = strstr(have, "\r\n");
			char got[512] = "";

			if (crlf) {
				memcpy(got, have, (size_t)(crlf - have) < sizeof(got) - 1
							  ? (size_t)(crlf - have) : sizeof(got) - 1);
				pos += (size_t)(crlf - have) + 2;
			}
			if (strcmp(got, line + 2) != 0)
				fprintf(stderr, "transcript '%s' line %d:\n", name, n);
			CHECK_STR(got, line + 2);
		} else if (line[0] == '=') {
			if (strcmp(kinds[last], line + 2) != 0)
				fprintf(stderr, "transcript '%s' line %d:\n", name, n);
			CHECK_STR(kinds[last], line + 2);
		} else if (line[0] == '!') {
			event(&s, &req, line + 2);
		}
	}
	CHECK_STR(gw_buf_str(&out) + pos, "");
	free(copy);
	ftpd_session_free(&s);
	gw_buf_release(&out);
}

/* Telnet before a command goes; IAC IAC in an argument is one 0xFF; any
 * other byte, 0xFF included, stays. */
static void test_telnet(void)
{
	char a[] = "\xff\xf4\xff\xf2" "ABOR"; /* IAC IP, IAC DM */
	char b[] = "STOR a\xff\xff" "b";
	char c[] = "STOR a\xff" "b";
	char d[] = "\xff\xfb\x01" "NOOP"; /* IAC WILL ECHO */
	char e[] = "\xff\xfb"; /* cut short */

	CHECK_INT(ftpd_strip_telnet(a, sizeof(a) - 1), 4);
	CHECK(memcmp(a, "ABOR", 4) == 0);
	CHECK_INT(ftpd_strip_telnet(b, sizeof(b) - 1), 8);
	CHECK(memcmp(b, "STOR a\xff" "b", 8) == 0);
	CHECK_INT(ftpd_strip_telnet(c, sizeof(c) - 1), 8);
	CHECK(memcmp(c, "STOR a\xff" "b", 8) == 0);
	CHECK_INT(ftpd_strip_telnet(d, sizeof(d) - 1), 4);
	CHECK(memcmp(d, "NOOP", 4) == 0);
	CHECK_INT(ftpd_strip_telnet(e, sizeof(e) - 1), 0);
}

static void test_parser(void)
{
	struct ftpd_command c;

	CHECK_INT(ftpd_parse_command("user bob", 8, &c), 0);
	CHECK_STR(c.verb, "USER");
	CHECK_STR(c.arg, "bob");
	CHECK_INT(ftpd_parse_command("PWD\r", 4, &c), 0);
	CHECK_STR(c.verb, "PWD");
	CHECK(!c.has_arg);
	CHECK_INT(ftpd_parse_command("STOR a b.age", 12, &c), 0);
	CHECK_STR(c.arg, "a b.age");
	CHECK_INT(ftpd_parse_command("", 0, &c), -EINVAL);
	CHECK_INT(ftpd_parse_command("AB", 2, &c), -EINVAL);
	CHECK_INT(ftpd_parse_command("STORE x", 7, &c), -EINVAL);
	CHECK_INT(ftpd_parse_command("ST0R x", 6, &c), -EINVAL);
	CHECK_INT(ftpd_parse_command("STOR a\0b", 8, &c), -EINVAL);
	CHECK_INT(ftpd_parse_command("STOR a\rb", 8, &c), -EINVAL);
	CHECK_INT(ftpd_parse_command(" USER x", 7, &c), -EINVAL);
}

static void test_mfmt_time(void)
{
	int64_t t = -1;

	CHECK_INT(ftpd_parse_mfmt_time("19700101000000", 14, &t), 0);
	CHECK_INT(t, 0);
	CHECK_INT(ftpd_parse_mfmt_time("20251129135019", 14, &t), 0);
	CHECK_INT(t, 1764424219);
	CHECK_INT(ftpd_parse_mfmt_time("20240229235959.5", 16, &t), 0); /* a leap day */
	CHECK_INT(t, 1709251199);
	CHECK_INT(ftpd_parse_mfmt_time("21000301000000", 14, &t), 0);
	CHECK_INT(t, 4107542400);
	CHECK_INT(ftpd_parse_mfmt_time("21000229000000", 14, &t), -EINVAL); /* not a leap year */
	CHECK_INT(ftpd_parse_mfmt_time("20251301000000", 14, &t), -EINVAL);
	CHECK_INT(ftpd_parse_mfmt_time("20251100000000", 14, &t), -EINVAL);
	CHECK_INT(ftpd_parse_mfmt_time("19691231235959", 14, &t), -EINVAL);
	CHECK_INT(ftpd_parse_mfmt_time("2025112913501x", 14, &t), -EINVAL);
	CHECK_INT(ftpd_parse_mfmt_time("20251129135019.", 15, &t), -EINVAL);
	CHECK_INT(ftpd_parse_mfmt_time("20251129135019Z", 15, &t), -EINVAL);
	CHECK_INT(ftpd_parse_mfmt_time("2025112913501", 13, &t), -EINVAL);
}

int main(void)
{
	test_parser();
	test_telnet();
	test_mfmt_time();

	/* The seed's FileZilla session, reply for reply. */
	transcript("seed",
		   "< 220 test\n"
		   "> USER 20745886_0054824112001\n"
		   "< 331 Please specify the password.\n"
		   "> PASS secret\n"
		   "= LOGIN\n"
		   "! login ok\n"
		   "< 230 Login successful.\n"
		   "> SYST\n"
		   "< 215 UNIX Type: L8\n"
		   "> OPTS UTF8 ON\n"
		   "< 200 Always in UTF8 mode.\n"
		   "> PBSZ 0\n"
		   "< 200 PBSZ set to 0.\n"
		   "> PROT P\n"
		   "< 200 PROT now Private.\n"
		   "> PWD\n"
		   "< 257 \"/\"\n"
		   "> TYPE I\n"
		   "< 200 Switching to Binary mode.\n"
		   "> PASV\n"
		   "= PASV\n"
		   "! pasv\n"
		   "< 227 Entering Passive Mode (127,0,0,1,235,42).\n"
		   "> LIST\n"
		   "= LIST\n"
		   "! start\n"
		   "< 150 Here comes the directory listing.\n"
		   "! done OK\n"
		   "< 226 Directory send OK.\n"
		   "> QUIT\n"
		   "= CLOSE\n"
		   "< 221 Goodbye.\n");

	transcript("nothing before login",
		   "< 220 test\n"
		   "> PWD\n"
		   "< 530 Please login with USER and PASS.\n"
		   "> STOR x\n"
		   "< 530 Please login with USER and PASS.\n"
		   "> PASV\n"
		   "< 530 Please login with USER and PASS.\n"
		   "> PASS x\n"
		   "< 503 Login with USER first.\n"
		   "> FEAT\n"
		   "< 211-Features:\n"
		   "<  EPSV\n"
		   "<  HASH SHA-256*\n"
		   "<  MDTM\n"
		   "<  MFMT\n"
		   "<  MLST type*;size*;modify*;perm*;unique*;\n"
		   "<  PASV\n"
		   "<  PBSZ\n"
		   "<  PROT\n"
		   "<  REST STREAM\n"
		   "<  SIZE\n"
		   "<  TVFS\n"
		   "<  UTF8\n"
		   "< 211 End\n");

	transcript("three wrong passwords close the session",
		   "< 220 test\n"
		   "> USER a\n< 331 Please specify the password.\n"
		   "> PASS x\n= LOGIN\n! login fail\n< 530 Login incorrect.\n"
		   "> USER a\n< 331 Please specify the password.\n"
		   "> PASS x\n= LOGIN\n! login fail\n< 530 Login incorrect.\n"
		   "> USER a\n< 331 Please specify the password.\n"
		   "> PASS x\n= LOGIN\n! login fail\n< 530 Login incorrect.\n"
		   "> NOOP\n= CLOSE\n");

	transcript("strict data channel",
		   "< 220 test\n"
		   "> USER a\n< 331 Please specify the password.\n"
		   "> PASS x\n! login ok\n< 230 Login successful.\n"
		   "> PORT 127,0,0,1,4,1\n< 502 Active mode is not supported; use PASV or EPSV.\n"
		   "> EPRT |1|127.0.0.1|1025|\n< 502 Active mode is not supported; use PASV or EPSV.\n"
		   "> PROT P\n< 503 PBSZ must be issued before PROT.\n"
		   "> PBSZ 0\n< 200 PBSZ set to 0.\n"
		   "> PROT C\n< 536 Data connections must be encrypted.\n"
		   "> PROT X\n< 504 PROT not recognised.\n"
		   "> PASV\n= PASV\n! pasv\n< 227 Entering Passive Mode (127,0,0,1,235,42).\n"
		   "> STOR a\n< 521 Data connections must be encrypted: send PBSZ 0 and PROT P first.\n"
		   "> PROT P\n< 200 PROT now Private.\n"
		   "> STOR a\n= STOR\n! start\n< 150 Ok to send data.\n"
		   "! done NOT_REUSED\n< 522 Data connection must reuse the TLS session of the control connection.\n"
		   "> STOR a\n< 425 Use PASV or EPSV first.\n"
		   "> EPSV\n= PASV\n! epsv\n< 229 Entering Extended Passive Mode (|||60202|)\n"
		   "> STOR a\n= STOR\n! start\n< 150 Ok to send data.\n"
		   "! done ABORTED\n< 426 Failure reading network stream; the upload is kept as partial.\n"
		   "> PASV\n= PASV\n! pasv_full\n< 425 No passive port is free; try again later.\n"
		   "> EPSV 3\n< 522 Bad network protocol.\n"
		   "> CCC\n< 534 The control connection stays encrypted.\n"
		   "> SITE CHMOD 600 x\n< 502 Command not implemented.\n"
		   "> XYZZY\n< 500 Syntax error, command unrecognized.\n");

	transcript("paths stay inside the root",
		   "< 220 test\n"
		   "> USER a\n< 331 Please specify the password.\n"
		   "> PASS x\n! login ok\n< 230 Login successful.\n"
		   "> CWD ../../etc\n= CWD\n! cwd fail\n< 550 Failed to change directory.\n"
		   "> CWD sub\n= CWD\n! cwd ok\n< 250 Directory successfully changed.\n"
		   "> PWD\n< 257 \"/sub\"\n"
		   "> CDUP\n= CWD\n! cwd ok\n< 250 Directory successfully changed.\n"
		   "> CDUP\n= CWD\n! cwd ok\n< 250 Directory successfully changed.\n"
		   "> PWD\n< 257 \"/\"\n"
		   "> SIZE .ftpsgate-1\n< 550 Could not get file size.\n"
		   "> SIZE a\\b\n< 550 Could not get file size.\n"
		   "> SIZE f\n= SIZE\n! size 1234\n< 213 1234\n"
		   "> PBSZ 0\n< 200 PBSZ set to 0.\n"
		   "> PROT P\n< 200 PROT now Private.\n"
		   "> PASV\n= PASV\n! pasv\n< 227 Entering Passive Mode (127,0,0,1,235,42).\n"
		   "> STOR /\n< 553 Could not create file.\n"
		   "> STOR ../../x\n= STOR\n! start\n< 150 Ok to send data.\n"
		   "! done OK\n< 226 Transfer complete.\n"
		   "> USER b\n< 530 Can't change to another user.\n");

	transcript("files, resume and ABOR",
		   "< 220 test\n"
		   "> USER a\n< 331 Please specify the password.\n"
		   "> PASS x\n! login ok\n< 230 Login successful.\n"
		   "> PBSZ 0\n< 200 PBSZ set to 0.\n"
		   "> PROT P\n< 200 PROT now Private.\n"
		   "> MKD d\n= MKD\n! path /d\n! ok\n< 257 \"/d\" created\n"
		   "> CWD d\n= CWD\n! ok\n< 250 Directory successfully changed.\n"
		   "> REST 1048576\n< 350 Restart position accepted (1048576).\n"
		   "> PASV\n= PASV\n! pasv\n< 227 Entering Passive Mode (127,0,0,1,235,42).\n"
		   "> STOR big.age\n= STOR\n! path /d/big.age\n! offset 1048576\n"
		   "! start\n< 150 Ok to send data.\n"
		   "> STAT\n= XFER_STAT\n! status\n< 213 Transfer in progress: 4096 bytes so far.\n"
		   "> ABOR\n= ABOR\n! done CLIENT_ABORT\n"
		   "< 426 Transfer aborted; the upload is kept as partial.\n< 226 ABOR successful.\n"
		   "> ABOR\n= ABOR\n< 225 No transfer to ABOR.\n"
		   "> PASV\n= PASV\n! pasv\n< 227 Entering Passive Mode (127,0,0,1,235,42).\n"
		   "> APPE big.age\n= APPE\n! offset 0\n! start\n< 150 Ok to send data.\n"
		   "! done OK\n< 226 Transfer complete.\n"
		   "> REST 99\n< 350 Restart position accepted (99).\n"
		   "> PASV\n= PASV\n! pasv\n< 227 Entering Passive Mode (127,0,0,1,235,42).\n"
		   "> RETR big.age\n= RETR\n! offset 99\n! done BAD_OFFSET\n"
		   "< 554 Restart position is beyond the end of the file.\n"
		   "> REST x\n< 501 REST requires a byte offset.\n"
		   "> MDTM big.age\n= MDTM\n! mdtm\n< 213 20251129135019\n"
		   "> MFMT 20251129135019 big.age\n= MFMT\n! offset 1764424219\n! mfmt\n"
		   "< 213 Modify=20251129135019; /d/big.age\n"
		   "> MFMT 20251129135019.123 big.age\n= MFMT\n! offset 1764424219\n! mfmt fail\n"
		   "< 550 Could not set file modification time.\n"
		   "> MFMT 2025112913501 big.age\n< 501 MFMT needs a time YYYYMMDDHHMMSS and a file.\n"
		   "> MFMT 20251129135019\n< 501 MFMT needs a time YYYYMMDDHHMMSS and a file.\n"
		   "> MFMT 20250229000000 big.age\n< 501 MFMT needs a time YYYYMMDDHHMMSS and a file.\n"
		   "> MLST big.age\n= MLST\n! text type=file;size=5; /d/big.age\n"
		   "< 250-Listing /d/big.age\n<  type=file;size=5; /d/big.age\n< 250 End\n"
		   "> HASH big.age\n= HASH\n! text SHA-256 0-5 abcd\n< 213 SHA-256 0-5 abcd /d/big.age\n"
		   "> RNTO x\n< 503 RNFR required first.\n"
		   "> RNFR big.age\n= RNFR\n! ok\n< 350 Ready for RNTO.\n"
		   "> RNTO ../../../moved.age\n= RNTO\n! path /moved.age\n! ok\n< 250 Rename successful.\n"
		   "> RNTO again\n< 503 RNFR required first.\n"
		   "> DELE /moved.age\n= DELE\n! ok\n< 250 Delete operation successful.\n"
		   "> DELE nothing\n= DELE\n! fail\n< 550 Delete operation failed.\n"
		   "> CDUP\n= CWD\n! ok\n< 250 Directory successfully changed.\n"
		   "> RMD d\n= RMD\n! ok\n< 250 Remove directory operation successful.\n"
		   "> RMD /\n< 550 Remove directory operation failed.\n"
		   "> RNFR /\n< 550 RNFR command failed.\n");

	transcript("explicit listener: AUTH TLS first",
		   "< 220 test\n"
		   "> USER a\n< 530 Non-anonymous sessions must use encryption.\n"
		   "> PASS a\n< 530 Please secure the connection with AUTH TLS first.\n"
		   "> PBSZ 0\n< 530 Please secure the connection with AUTH TLS first.\n"
		   "> AUTH XYZ\n< 504 Unknown AUTH type.\n"
		   "> AUTH TLS\n= AUTH_TLS\n< 234 Proceed with negotiation.\n"
		   "! tls\n"
		   "> AUTH TLS\n< 534 Already using TLS.\n"
		   "> USER a\n< 331 Please specify the password.\n");

	{
		/* The path that reached the I/O layer for "STOR ../../x". */
		struct gw_buf out;
		struct ftpd_session s;
		struct ftpd_request req;

		gw_buf_init(&out, 4096);
		ftpd_session_init(&s, &out);
		/* The argument ends where the line ends, CR excluded, even when
		 * more input follows in the same buffer. */
		ftpd_session_input(&s, "USER bob\r\nPASS x\r\n", 9, &req);
		CHECK_STR(s.user, "bob");
		ftpd_session_input(&s, "USER a", 6, &req);
		ftpd_session_input(&s, "PASS b", 6, &req);
		ftpd_session_login_done(&s, true);
		ftpd_session_input(&s, "PBSZ 0", 6, &req);
		ftpd_session_input(&s, "PROT P", 6, &req);
		ftpd_session_input(&s, "PASV", 4, &req);
		ftpd_session_passive_done(&s, 0, "10.0.0.1", 60000, false);
		CHECK_INT(ftpd_session_input(&s, "STOR ../../x", 12, &req), FTPD_REQ_STOR);
		CHECK_STR(req.path, "/x");
		ftpd_session_free(&s);
	gw_buf_release(&out);
	}
	/* An idle session holds its paths on the heap, as long as they are:
	 * the state itself stays small (it was 3.4 KiB with arrays) */
	CHECK(sizeof(struct ftpd_session) <= 512);
	return check_report("test_session");
}
