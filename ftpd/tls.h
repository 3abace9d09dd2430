/* tls.h - TLS for control and data connections (OpenSSL, non-blocking).
 * The only interface through which ftpd/ sees TLS; tls.c is the only file
 * that includes OpenSSL's SSL headers.
 *
 * A data connection must resume a TLS session (by id or ticket, TLS 1.2
 * or 1.3) that was issued on a control connection logged in to the same
 * account from the same client address as its own control connection:
 * its own, or a sibling's (clients with several control connections and
 * one session cache resume any of them). Each session carries a mark
 * naming the control connection that issued it (in its tickets and in the
 * cache); issuers.h keeps who each one was. A data connection that did
 * not resume such a session is refused (ftpd_tls_is_resumed), and a
 * session born on one (a full handshake) is taken out of the cache with
 * its tickets never accepted, so that whoever made it cannot resume it on
 * the next port.
 */
#ifndef FTPSGATE_FTPD_TLS_H
#define FTPSGATE_FTPD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { FTPD_TLS_WANT_READ = 1, FTPD_TLS_WANT_WRITE = 2 };

struct ftpd_tls_ctx;
struct ftpd_tls;

/* Use the configured certificate and key, or make a self-signed pair in
 * data_dir/tls/ on first start. The paths in use are written to cert_out
 * and key_out. */
int ftpd_tls_ensure_cert(const char *data_dir, const char *cert, const char *key,
			 char *cert_out, char *key_out, size_t out_size,
			 char *err, size_t err_size);
/* What TLS the gateway speaks (the tls_* settings). */
struct ftpd_tls_policy {
	int min_version;         /* 12 (TLS 1.2) or 13 (TLS 1.3) */
	int max_version;         /* likewise, at least min_version */
	const char *ciphers;     /* TLS 1.2, OpenSSL cipher list: AEAD ones only */
	const char *ciphersuites; /* TLS 1.3 */
};
int ftpd_tls_ctx_new(const char *cert, const char *key, const struct ftpd_tls_policy *policy,
		     struct ftpd_tls_ctx **out, char *err, size_t err_size);
void ftpd_tls_ctx_free(struct ftpd_tls_ctx *ctx);

struct ftpd_issuers;
/* A control connection from the client at address; issuers is borrowed
 * and outlives it. */
int ftpd_tls_new_control(struct ftpd_tls_ctx *ctx, int fd, struct ftpd_issuers *issuers,
			 const char *address, struct ftpd_tls **out);
/* The control connection logged in: its sessions now serve data
 * connections of that account from its address. */
void ftpd_tls_logged_in(struct ftpd_tls *control, int64_t account_id);
/* A data connection of the FTP session whose control is `control`, once
 * it logged in (in the same TLS context, whatever was reloaded since). */
int ftpd_tls_new_data(int fd, const struct ftpd_tls *control, struct ftpd_tls **out);
/* Free the connection. A control connection's sessions stay resumable
 * by its siblings' data connections for their lifetime. */
void ftpd_tls_free(struct ftpd_tls *t);

/* 0 when done; -EAGAIN (see ftpd_tls_want); -EPROTO when the peer does
 * not speak TLS or the handshake failed. */
int ftpd_tls_handshake(struct ftpd_tls *t);
/* > 0 bytes read; 0 when the peer sent close_notify; -EAGAIN;
 * -ECONNRESET when the connection ended without close_notify; -EPROTO. */
ssize_t ftpd_tls_read(struct ftpd_tls *t, void *buf, size_t len);
/* > 0 bytes written; -EAGAIN; -EPIPE when the connection is gone. */
ssize_t ftpd_tls_write(struct ftpd_tls *t, const void *buf, size_t len);
/* Send close_notify: 0 when sent, -EAGAIN, -EPIPE. */
int ftpd_tls_shutdown(struct ftpd_tls *t);
/* What the last failure was, in words, for the log. */
const char *ftpd_tls_error(const struct ftpd_tls *t);
/* What the last -EAGAIN waits for: FTPD_TLS_WANT_READ or _WRITE. */
int ftpd_tls_want(const struct ftpd_tls *t);
/* A data connection: it resumed a session it may (see above). A control
 * connection: it resumed any session. */
bool ftpd_tls_is_resumed(const struct ftpd_tls *t);
const char *ftpd_tls_version(const struct ftpd_tls *t);
/* TLS 1.3: send a fresh ticket on the control connection, so that a data
 * connection hours into the session still resumes. */
void ftpd_tls_refresh_ticket(struct ftpd_tls *t);

#endif
