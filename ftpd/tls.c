/* tls.c - OpenSSL for ftpd: contexts, certificates, non-blocking I/O and
 * session-reuse binding. See tls.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw.h"
#include "issuers.h"
#include "tls.h"

/* What a session carries (its ticket application data, kept inside the
 * encrypted ticket and in the server's cache): MARK_CONTROL and the id of
 * the control connection that issued it (issuers.h), or MARK_DATA for one
 * born on a data connection, which nothing may resume. */
#define MARK_CONTROL 'C'
#define MARK_DATA 'D'
#define MARK_LEN (1 + FTPD_ISSUER_ID_LEN)
#define DATA_READ_AHEAD (64 * 1024) /* bytes a data connection reads at once */
/* One session-id context for every connection: which sessions resume
 * where is decided by their marks, not by OpenSSL's context check. */
static const unsigned char sid_ctx[] = "ftpsgate";

struct ftpd_tls_ctx {
	SSL_CTX *ctx;
};

struct ftpd_tls {
	SSL *ssl;
	SSL_CTX *ctx;
	int want;
	bool is_control;
	char error[160]; /* what the last failure was, for the log */
	struct ftpd_issuers *issuers;
	struct ftpd_issuer *issuer; /* control: itself as an issuer */
	/* What a data connection resumes: sessions marked with its control
	 * connection's id, or with the id of the session that control
	 * connection itself resumed (alias), or of an issuer from the same
	 * address logged in to the same account. */
	uint8_t id[FTPD_ISSUER_ID_LEN];
	uint8_t alias[FTPD_ISSUER_ID_LEN];
	bool has_alias;
	char address[64];
	int64_t account_id;
};

/* Drain OpenSSL's error queue into one line. */
static void drain_errors(char *out, size_t size)
{
	unsigned long e;
	size_t used = 0;

	if (size)
		out[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		if (used + 3 < size) {
			int n = snprintf(out + used, size - used, "%s%s", used ? "; " : "", one);

			if (n > 0)
				used += (size_t)n;
		}
	}
	if (size && !out[0])
		snprintf(out, size, "unknown TLS error");
}

static int write_pem(const char *path, bool is_key, EVP_PKEY *pkey, X509 *x)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, is_key ? 0600 : 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	ok = is_key ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)
		    : PEM_write_X509(f, x);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	fclose(f);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

static int make_self_signed(const char *cert_path, const char *key_path, char *err, size_t err_size)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int r = -EIO;

	pkey = EVP_EC_gen("P-256");
	x = X509_new();
	if (!pkey || !x)
		goto out;
	gw_random(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto out;
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
	X509_set_pubkey(x, pkey);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"ftpsgate", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
	if (!ext || !X509_add_ext(x, ext, -1))
		goto out;
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto out;
	r = write_pem(key_path, true, pkey, NULL);
	if (r == 0)
		r = write_pem(cert_path, false, NULL, x);
out:
	if (r < 0) {
		char e[256];

		drain_errors(e, sizeof(e));
		snprintf(err, err_size, "cannot create self-signed certificate '%s': %s", cert_path,
			 r == -EIO ? e : strerror(-r));
	}
	X509_EXTENSION_free(ext);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return r;
}

int ftpd_tls_ensure_cert(const char *data_dir, const char *cert, const char *key,
			 char *cert_out, char *key_out, size_t out_size,
			 char *err, size_t err_size)
{
	char dir[PATH_MAX];
	struct stat sb;

	if (cert[0]) {
		if (gw_strlcpy(cert_out, cert, out_size) < 0 || gw_strlcpy(key_out, key, out_size) < 0) {
			snprintf(err, err_size, "TLS certificate path too long");
			return -ENAMETOOLONG;
		}
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/tls", data_dir);
	if (gw_mkdir_p(dir) < 0) {
		snprintf(err, err_size, "cannot create '%s': %s", dir, strerror(errno));
		return -errno;
	}
	if (snprintf(cert_out, out_size, "%s/cert.pem", dir) >= (int)out_size ||
	    snprintf(key_out, out_size, "%s/key.pem", dir) >= (int)out_size) {
		snprintf(err, err_size, "data_dir path too long");
		return -ENAMETOOLONG;
	}
	if (stat(cert_out, &sb) == 0 && stat(key_out, &sb) == 0)
		return 0;
	gw_info("tls.selfsigned", "generating a self-signed certificate in '%s'", dir);
	return make_self_signed(cert_out, key_out, err, err_size);
}

/* Every TLS 1.2 cipher the list allows is an AEAD one with forward
 * secrecy: CBC and static-RSA suites are refused, whatever is configured. */
static int check_ciphers(SSL_CTX *ctx, char *err, size_t err_size)
{
	STACK_OF(SSL_CIPHER) *list = SSL_CTX_get_ciphers(ctx);
	int i;

	for (i = 0; list && i < sk_SSL_CIPHER_num(list); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(list, i);

		if (SSL_CIPHER_get_kx_nid(c) == NID_kx_any) /* TLS 1.3: all AEAD */
			continue;
		if (!SSL_CIPHER_is_aead(c) || SSL_CIPHER_get_kx_nid(c) != NID_kx_ecdhe) {
			snprintf(err, err_size, "invalid tls_ciphers: %s is not an ECDHE AEAD cipher",
				 SSL_CIPHER_get_name(c));
			return -EINVAL;
		}
	}
	return 0;
}

/* The issuer id a session was marked with on a control connection, or
 * NULL (no mark, or born on a data connection). */
static const uint8_t *issuer_of(SSL_SESSION *sess)
{
	void *data = NULL;
	size_t len = 0;

	if (!sess || !SSL_SESSION_get0_ticket_appdata(sess, &data, &len) || len != MARK_LEN ||
	    ((const unsigned char *)data)[0] != MARK_CONTROL)
		return NULL;
	return (const uint8_t *)data + 1;
}

/* Whether the data connection t may resume sess (see struct ftpd_tls). */
static bool may_resume(const struct ftpd_tls *t, SSL_SESSION *sess)
{
	const uint8_t *id = issuer_of(sess);

	if (!id || t->account_id <= 0)
		return false;
	if (CRYPTO_memcmp(id, t->id, FTPD_ISSUER_ID_LEN) == 0 ||
	    (t->has_alias && CRYPTO_memcmp(id, t->alias, FTPD_ISSUER_ID_LEN) == 0))
		return true;
	return ftpd_issuers_match(t->issuers, id, t->address, t->account_id, gw_mono_ms());
}

static void mark_control(const struct ftpd_tls *t, SSL_SESSION *sess)
{
	unsigned char mark[MARK_LEN];

	mark[0] = MARK_CONTROL;
	memcpy(mark + 1, t->id, FTPD_ISSUER_ID_LEN);
	if (sess && !SSL_SESSION_set1_ticket_appdata(sess, mark, sizeof(mark)))
		ERR_clear_error();
}

/* A ticket is about to be made (TLS 1.2 in the handshake, TLS 1.3 after
 * it): say where its session was born. A session that was resumed keeps
 * the mark it came with (a control connection that resumed a session is
 * that session's issuer's heir; a data connection may be handed a renewed
 * ticket of its control's session); a session born on a data connection
 * is marked so that no ticket of it is ever taken. */
static int on_ticket_made(SSL *ssl, void *arg)
{
	const struct ftpd_tls *t = SSL_get_app_data(ssl);
	SSL_SESSION *sess = SSL_get0_session(ssl);
	unsigned char mark = MARK_DATA;

	(void)arg;
	if (!t || !sess || issuer_of(sess))
		return 1;
	if (t->is_control)
		mark_control(t, sess);
	else if (!SSL_SESSION_set1_ticket_appdata(sess, &mark, 1))
		ERR_clear_error();
	return 1;
}

/* A client offered a ticket that decrypted. On a data connection it is
 * taken only if may_resume(); otherwise the handshake is a full one,
 * which is refused after it (522). No ticket is renewed on a data
 * connection. */
static SSL_TICKET_RETURN on_ticket_offered(SSL *ssl, SSL_SESSION *sess, const unsigned char *name,
					   size_t name_len, SSL_TICKET_STATUS status, void *arg)
{
	const struct ftpd_tls *t = SSL_get_app_data(ssl);

	(void)name;
	(void)name_len;
	(void)arg;
	if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW)
		return t && !t->is_control ? SSL_TICKET_RETURN_IGNORE : SSL_TICKET_RETURN_IGNORE_RENEW;
	if (!t)
		return SSL_TICKET_RETURN_IGNORE;
	if (t->is_control)
		return status == SSL_TICKET_SUCCESS_RENEW ? SSL_TICKET_RETURN_USE_RENEW
							  : SSL_TICKET_RETURN_USE;
	return may_resume(t, sess) ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_IGNORE;
}

int ftpd_tls_ctx_new(const char *cert, const char *key, const struct ftpd_tls_policy *policy,
		     struct ftpd_tls_ctx **out, char *err, size_t err_size)
{
	struct ftpd_tls_ctx *c;
	char e[512];

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	ERR_clear_error();
	c->ctx = SSL_CTX_new(TLS_server_method());
	if (!c->ctx) {
		drain_errors(e, sizeof(e));
		snprintf(err, err_size, "cannot create TLS context: %s", e);
		goto fail;
	}
	SSL_CTX_set_min_proto_version(c->ctx,
				      policy->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	/* Some Windows clients resume TLS 1.2 sessions only (tls_max_version). */
	SSL_CTX_set_max_proto_version(c->ctx,
				      policy->max_version == 12 ? TLS1_2_VERSION : TLS1_3_VERSION);
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (!SSL_CTX_set_cipher_list(c->ctx, policy->ciphers)) {
		drain_errors(e, sizeof(e));
		snprintf(err, err_size, "invalid tls_ciphers '%.200s': %s", policy->ciphers, e);
		goto fail;
	}
	if (!SSL_CTX_set_ciphersuites(c->ctx, policy->ciphersuites)) {
		drain_errors(e, sizeof(e));
		snprintf(err, err_size, "invalid tls_ciphersuites '%.200s': %s", policy->ciphersuites, e);
		goto fail;
	}
	if (check_ciphers(c->ctx, err, err_size) < 0)
		goto fail;
	/* Sessions live as long as a long upload session may, and outlive
	 * the control connection that issued them: a sibling's data
	 * connection may resume one (issuers.h). */
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_timeout(c->ctx, 24 * 3600);
	SSL_CTX_set_session_ticket_cb(c->ctx, on_ticket_made, on_ticket_offered, NULL);
	if (SSL_CTX_use_certificate_chain_file(c->ctx, cert) != 1) {
		drain_errors(e, sizeof(e));
		snprintf(err, err_size, "cannot load TLS certificate '%s': %s", cert, e);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1) {
		drain_errors(e, sizeof(e));
		snprintf(err, err_size, "cannot load TLS key '%s': %s", key, e);
		goto fail;
	}
	if (SSL_CTX_check_private_key(c->ctx) != 1) {
		drain_errors(e, sizeof(e));
		snprintf(err, err_size, "TLS key '%s' does not match certificate '%s'", key, cert);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	ftpd_tls_ctx_free(c);
	return -EINVAL;
}

void ftpd_tls_ctx_free(struct ftpd_tls_ctx *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ctx);
	free(c);
}

static int tls_new(SSL_CTX *ctx, int fd, struct ftpd_tls **out)
{
	struct ftpd_tls *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->ctx = ctx;
	t->ssl = SSL_new(ctx);
	if (!t->ssl || !SSL_set_fd(t->ssl, fd)) {
		ERR_clear_error();
		SSL_free(t->ssl);
		free(t);
		return -ENOMEM;
	}
	SSL_set_accept_state(t->ssl);
	SSL_set_app_data(t->ssl, t);
	*out = t;
	return 0;
}

int ftpd_tls_new_control(struct ftpd_tls_ctx *ctx, int fd, struct ftpd_issuers *issuers,
			 const char *address, struct ftpd_tls **out)
{
	struct ftpd_tls *t;
	int r = tls_new(ctx->ctx, fd, &t);

	if (r < 0)
		return r;
	t->is_control = true;
	t->issuers = issuers;
	gw_strlcpy(t->address, address, sizeof(t->address));
	r = ftpd_issuer_open(issuers, address, gw_mono_ms(), &t->issuer);
	if (r == 0)
		memcpy(t->id, ftpd_issuer_id(t->issuer), sizeof(t->id));
	if (r < 0 || !SSL_set_session_id_context(t->ssl, sid_ctx, sizeof(sid_ctx))) {
		ftpd_tls_free(t);
		return r < 0 ? r : -ENOMEM;
	}
	/* Idle control connections hold no TLS buffers. */
	SSL_set_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
	*out = t;
	return 0;
}

int ftpd_tls_new_data(int fd, const struct ftpd_tls *control, struct ftpd_tls **out)
{
	struct ftpd_tls *t;
	/* The control connection's context: its session cache and ticket
	 * keys, even after a certificate reload made a new one. */
	int r = tls_new(control->ctx, fd, &t);

	if (r < 0)
		return r;
	t->issuers = control->issuers;
	memcpy(t->id, control->id, sizeof(t->id));
	memcpy(t->alias, control->alias, sizeof(t->alias));
	t->has_alias = control->has_alias;
	gw_strlcpy(t->address, control->address, sizeof(t->address));
	t->account_id = control->account_id;
	if (!SSL_set_session_id_context(t->ssl, sid_ctx, sizeof(sid_ctx))) {
		ftpd_tls_free(t);
		return -ENOMEM;
	}
	/* A TLS 1.3 ticket sent on an upload connection that the client
	 * never reads would break the upload: none here. Nor does this side
	 * ever start a KeyUpdate (OpenSSL sends one only when asked to). */
	SSL_set_num_tickets(t->ssl, 0);
	/* A data connection is busy while it lives: read what the socket
	 * holds in one call, not a record header and a record at a time.
	 * The loop reads until EAGAIN, so nothing waits in the buffer. The
	 * buffer is small: before each record OpenSSL moves what is left in
	 * it to the front (to align the payload), so a large one is copied
	 * over and over. 64 KiB against 256 KiB: 4 to 9 % less CPU per
	 * byte received (bench/, age uploads). */
	SSL_set_read_ahead(t->ssl, 1);
	SSL_set_default_read_buffer_len(t->ssl, DATA_READ_AHEAD);
	*out = t;
	return 0;
}

void ftpd_tls_free(struct ftpd_tls *t)
{
	if (!t)
		return;
	if (t->issuer)
		ftpd_issuer_closed(t->issuers, t->issuer, gw_mono_ms());
	SSL_free(t->ssl);
	ERR_clear_error();
	free(t);
}

/* Map the result of an SSL call that returned n <= 0. */
static int map_error(struct ftpd_tls *t, int n, bool reading)
{
	int e = SSL_get_error(t->ssl, n);
	unsigned long err;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		t->want = FTPD_TLS_WANT_READ;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		t->want = FTPD_TLS_WANT_WRITE;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		snprintf(t->error, sizeof(t->error), "%s", errno ? strerror(errno) : "connection closed");
		ERR_clear_error();
		return reading ? -ECONNRESET : -EPIPE;
	case SSL_ERROR_SSL:
		err = ERR_peek_last_error();
		drain_errors(t->error, sizeof(t->error));
		if (ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			return reading ? -ECONNRESET : -EPIPE;
		return -EPROTO;
	default:
		snprintf(t->error, sizeof(t->error), "TLS error %d", e);
		ERR_clear_error();
		return -EPROTO;
	}
}

int ftpd_tls_handshake(struct ftpd_tls *t)
{
	int n, r;

	ERR_clear_error();
	n = SSL_do_handshake(t->ssl);
	if (n == 1) {
		SSL_SESSION *sess = SSL_get0_session(t->ssl);
		const uint8_t *heir_of = issuer_of(sess);

		if (t->is_control && SSL_session_reused(t->ssl) && heir_of) {
			/* It resumed a session: what that session's data
			 * connections may resume, its own may too. */
			memcpy(t->alias, heir_of, sizeof(t->alias));
			t->has_alias = true;
		} else if (t->is_control) {
			/* A session kept in the cache (TLS 1.2 by session id)
			 * carries the mark too, not only its tickets. */
			mark_control(t, sess);
		} else if (!ftpd_tls_is_resumed(t)) {
			/* Born here: out of the cache at once. */
			SSL_CTX_remove_session(t->ctx, SSL_get0_session(t->ssl));
		}
		return 0;
	}
	r = map_error(t, n, true);
	return r == -EAGAIN ? r : -EPROTO;
}

ssize_t ftpd_tls_read(struct ftpd_tls *t, void *buf, size_t len)
{
	int n;

	ERR_clear_error();
	n = SSL_read(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (n > 0)
		return n;
	return map_error(t, n, true);
}

ssize_t ftpd_tls_write(struct ftpd_tls *t, const void *buf, size_t len)
{
	int n, r;

	ERR_clear_error();
	n = SSL_write(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (n > 0)
		return n;
	r = map_error(t, n, false);
	return r == 0 ? -EPIPE : r;
}

int ftpd_tls_shutdown(struct ftpd_tls *t)
{
	int n, r;

	ERR_clear_error();
	n = SSL_shutdown(t->ssl);
	if (n >= 0)
		return 0;
	r = map_error(t, n, false);
	return r == -EAGAIN ? r : -EPIPE;
}

const char *ftpd_tls_error(const struct ftpd_tls *t)
{
	return t->error[0] ? t->error : "no detail";
}

int ftpd_tls_want(const struct ftpd_tls *t)
{
	return t->want;
}

bool ftpd_tls_is_resumed(const struct ftpd_tls *t)
{
	/* Resumed, and a session it may resume: by ticket that was checked
	 * as it was offered; by session id, here. */
	return SSL_session_reused(t->ssl) == 1 &&
	       (t->is_control || may_resume(t, SSL_get0_session(t->ssl)));
}

void ftpd_tls_logged_in(struct ftpd_tls *control, int64_t account_id)
{
	control->account_id = account_id;
	if (control->issuer)
		ftpd_issuer_logged_in(control->issuers, control->issuer, account_id);
}

const char *ftpd_tls_version(const struct ftpd_tls *t)
{
	return SSL_get_version(t->ssl);
}

void ftpd_tls_refresh_ticket(struct ftpd_tls *t)
{
	if (SSL_version(t->ssl) == TLS1_3_VERSION && !SSL_new_session_ticket(t->ssl))
		ERR_clear_error();
}
