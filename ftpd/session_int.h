/* session_int.h - what the files of the protocol core share (session.c,
 * session_results.c). Not for the engine. */
#ifndef FTPSGATE_FTPD_SESSION_INT_H
#define FTPSGATE_FTPD_SESSION_INT_H

#include "session.h"

/* Queue the reply "code text". A full output buffer means the client
 * stopped reading; the engine notices and closes. */
void ftpd_reply(struct ftpd_session *s, int code, const char *text);
/* Append path as RFC 959 quotes it: inside "", with " doubled. */
void ftpd_add_quoted(struct gw_buf *b, const char *path);
bool ftpd_is_upload(enum ftpd_req kind);


#endif
