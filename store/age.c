/* age.c - age v1 (C2SP age.md) with X25519 recipients on OpenSSL 3.
 *
 * The reader is a byte-level state machine: armor (optional) -> header ->
 * nonce -> payload chunks. It can be fed a file in pieces of any size, as
 * an upload arrives, and fails at the first byte that proves the file is
 * not an authentic age file for one of its keys.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"
#include "gw.h"

#define VERSION_LINE "age-encryption.org/v1\n"
#define TAG_LEN 16
#define FULL_CHUNK (AGE_CHUNK + TAG_LEN)
#define ARMOR_BEGIN "-----BEGIN AGE ENCRYPTED FILE-----"
#define ARMOR_END "-----END AGE ENCRYPTED FILE-----"
#define ARMOR_COLUMNS 64

/* ---------------------------------------------------------------- base64 */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(unsigned char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

/* Unpadded, canonical (unused bits zero). -EINVAL otherwise. */
static int b64_decode_raw(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t i, o = 0;

	if (len % 4 == 1)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		int v = b64val((unsigned char)in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -EINVAL;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits && (acc & ((1u << bits) - 1)))
		return -EINVAL; /* not canonical */
	*outlen = o;
	return 0;
}

/* Padded (armor): len % 4 == 0, '=' only at the very end. */
static int b64_decode_padded(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t pad = 0;

	if (len % 4)
		return -EINVAL;
	while (pad < 2 && len > pad && in[len - 1 - pad] == '=')
		pad++;
	if (memchr(in, '=', len - pad))
		return -EINVAL;
	return b64_decode_raw(in, len - pad, out, cap, outlen);
}

static void b64_encode_raw(const uint8_t *in, size_t len, struct gw_buf *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			gw_buf_add(out, &b64chars[(acc >> bits) & 63], 1);
		}
	}
	if (bits)
		gw_buf_add(out, &b64chars[(acc << (6 - bits)) & 63], 1);
}

/* ---------------------------------------------------------------- bech32 */

static const char b32chars[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t polymod(const uint8_t *v, size_t n)
{
	static const uint32_t gen[5] = { 0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3 };
	uint32_t chk = 1;
	size_t i;
	int j;

	for (i = 0; i < n; i++) {
		uint32_t b = chk >> 25;

		chk = ((chk & 0x1ffffff) << 5) ^ v[i];
		for (j = 0; j < 5; j++)
			if ((b >> j) & 1)
				chk ^= gen[j];
	}
	return chk;
}

/* hrp (lower case) expanded, then data: into v; returns length. */
static size_t expand(const char *hrp, const uint8_t *data, size_t n, uint8_t *v)
{
	size_t h = strlen(hrp), i, k = 0;

	for (i = 0; i < h; i++)
		v[k++] = (uint8_t)((unsigned char)hrp[i] >> 5);
	v[k++] = 0;
	for (i = 0; i < h; i++)
		v[k++] = (uint8_t)((unsigned char)hrp[i] & 31);
	memcpy(v + k, data, n);
	return k + n;
}

/* c, in upper case when upper is set (bech32 strings are all one case) */
static char ascii_case(char c, bool upper)
{
	if (upper && c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	return c;
}

static char ascii_lower(char c)
{
	if (c >= 'A' && c <= 'Z')
		c = (char)(c - 'A' + 'a');
	return c;
}

static void bech32_encode(const char *hrp, const uint8_t key[AGE_KEY_LEN], bool upper, char *out,
			  size_t size)
{
	uint8_t data[64], v[160];
	uint32_t acc = 0, mod;
	size_t n = 0, i, k;
	int bits = 0;

	for (i = 0; i < AGE_KEY_LEN; i++) {
		acc = (acc << 8) | key[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			data[n++] = (uint8_t)((acc >> bits) & 31);
		}
	}
	if (bits)
		data[n++] = (uint8_t)((acc << (5 - bits)) & 31);
	k = expand(hrp, data, n, v);
	memset(v + k, 0, 6);
	mod = polymod(v, k + 6) ^ 1;
	for (i = 0; i < 6; i++)
		data[n + i] = (uint8_t)((mod >> (5 * (5 - i))) & 31);
	k = 0;
	for (i = 0; hrp[i] && k + 1 < size; i++)
		out[k++] = ascii_case(hrp[i], upper);
	if (k + 1 < size)
		out[k++] = '1';
	for (i = 0; i < n + 6 && k + 1 < size; i++) {
		char c = b32chars[data[i]];

		out[k++] = ascii_case(c, upper);
	}
	out[k] = '\0';
}

static int bech32_decode(const char *s, const char *want_hrp, uint8_t key[AGE_KEY_LEN])
{
	char low[128];
	uint8_t data[128] = { 0 }, v[300];
	const char *sep;
	size_t len = strlen(s), i, n = 0, hl, k, o = 0;
	bool has_lower = false, has_upper = false;
	uint32_t acc = 0;
	int bits = 0;

	if (len >= sizeof(low) || len < 8)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c < 33 || c > 126)
			return -EINVAL;
		has_lower |= c >= 'a' && c <= 'z';
		has_upper |= c >= 'A' && c <= 'Z';
		low[i] = ascii_lower(c);
	}
	low[len] = '\0';
	if (has_lower && has_upper)
		return -EINVAL;
	sep = strrchr(low, '1');
	if (!sep)
		return -EINVAL;
	hl = (size_t)(sep - low);
	if (hl != strlen(want_hrp) || hl >= 64 || memcmp(low, want_hrp, hl) != 0 || len - hl - 1 < 6)
		return -EINVAL;
	for (i = hl + 1; i < len; i++) {
		const char *p = strchr(b32chars, low[i]);

		if (!p)
			return -EINVAL;
		data[n++] = (uint8_t)(p - b32chars);
	}
	{
		char hrp[64];

		memcpy(hrp, low, hl);
		hrp[hl] = '\0';
		k = expand(hrp, data, n, v);
	}
	if (polymod(v, k) != 1)
		return -EINVAL;
	for (i = 0; i < n - 6; i++) {
		acc = (acc << 5) | data[i];
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (o == AGE_KEY_LEN)
				return -EINVAL;
			key[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (o != AGE_KEY_LEN || bits >= 5 || (acc & ((1u << bits) - 1)))
		return -EINVAL;
	return 0;
}

/* ---------------------------------------------------------------- crypto */

static int x25519(const uint8_t secret[32], const uint8_t peer[32], uint8_t shared[32])
{
	EVP_PKEY *priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, 32);
	EVP_PKEY *pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, 32);
	EVP_PKEY_CTX *ctx = priv ? EVP_PKEY_CTX_new(priv, NULL) : NULL;
	size_t len = 32;
	int r = -EINVAL;

	if (ctx && pub && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, pub) == 1 &&
	    EVP_PKEY_derive(ctx, shared, &len) == 1 && len == 32)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(priv);
	return r;
}

int age_public_key(const uint8_t secret[AGE_KEY_LEN], uint8_t pub[AGE_KEY_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, 32);
	size_t len = 32;
	int r = -EINVAL;

	if (k && EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == 32)
		r = 0;
	EVP_PKEY_free(k);
	return r;
}

int age_keygen(uint8_t secret[AGE_KEY_LEN], uint8_t pub[AGE_KEY_LEN])
{
	if (RAND_bytes(secret, AGE_KEY_LEN) != 1)
		return -EIO;
	return age_public_key(secret, pub);
}

static int hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		const char *info, uint8_t *out, size_t out_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	int r = -EIO;

	if (ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 &&
	    (salt_len == 0 || EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt, (int)salt_len) == 1) &&
	    EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm, (int)ikm_len) == 1 &&
	    EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)info, (int)strlen(info)) == 1 &&
	    EVP_PKEY_derive(ctx, out, &out_len) == 1)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* ChaCha20-Poly1305 with a cipher context reused per key. */
static int aead(EVP_CIPHER_CTX *ctx, bool enc, const uint8_t nonce[12], const uint8_t *in,
		size_t len, uint8_t *out)
{
	int n = 0, f = 0;

	if (enc) {
		if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
		    EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1 ||
		    EVP_EncryptFinal_ex(ctx, out + n, &f) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, out + len) != 1)
			return -EIO;
		return 0;
	}
	if (len < TAG_LEN)
		return -EBADMSG;
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, (void *)(in + len - TAG_LEN)) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, in, (int)(len - TAG_LEN)) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out + n, &f) != 1)
		return -EBADMSG;
	return 0;
}

static EVP_CIPHER_CTX *aead_new(bool enc, const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx)
		return NULL;
	if ((enc ? EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, NULL)
		 : EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, NULL)) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* One-shot AEAD under key with the all-zero nonce (stanza bodies). */
static int aead_once(bool enc, const uint8_t key[32], const uint8_t *in, size_t len, uint8_t *out)
{
	static const uint8_t zero[12];
	EVP_CIPHER_CTX *ctx = aead_new(enc, key);
	int r = ctx ? aead(ctx, enc, zero, in, len, out) : -EIO;

	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/* ---------------------------------------------------------------- keys */

void age_recipient_string(const uint8_t pub[AGE_KEY_LEN], char out[AGE_RECIPIENT_MAX])
{
	bech32_encode("age", pub, false, out, AGE_RECIPIENT_MAX);
}

void age_identity_string(const uint8_t secret[AGE_KEY_LEN], char out[AGE_IDENTITY_MAX])
{
	bech32_encode("age-secret-key-", secret, true, out, AGE_IDENTITY_MAX);
}

int age_parse_recipient(const char *s, uint8_t pub[AGE_KEY_LEN])
{
	return bech32_decode(s, "age", pub);
}

int age_parse_identity(const char *s, uint8_t secret[AGE_KEY_LEN])
{
	return bech32_decode(s, "age-secret-key-", secret);
}

/* ---------------------------------------------------------------- reader */

enum rstate { R_DETECT, R_HEADER, R_NONCE, R_PAYLOAD, R_DONE, R_FAILED };
enum astate { A_LEADING, A_BEGIN, A_BODY, A_TRAILING };

struct age_reader {
	uint8_t (*secrets)[AGE_KEY_LEN];
	size_t nsecrets;
	bool allow_armor;
	age_plain_fn *plain;
	void *plain_arg;
	enum rstate state;
	/* armor */
	bool armored;
	bool force_armor;
	enum astate astate;
	char line[ARMOR_COLUMNS + 4];
	size_t line_len;
	bool line_too_long;
	bool last_line_short; /* a line shorter than 64 (or padded) was seen */
	/* header */
	uint8_t *header;
	size_t header_len;
	uint8_t file_key[16];
	int key;
	uint8_t nonce[16];
	size_t nonce_len;
	/* payload */
	EVP_CIPHER_CTX *payload;
	uint8_t *chunk, *plainbuf;
	size_t chunk_len;
	uint64_t counter;
	uint64_t offset; /* bytes of the age file (unarmored) taken */
	enum age_stage stage;
	char reason[160];
};

static int fail(struct age_reader *r, enum age_stage stage, const char *fmt, ...) GW_PRINTF(3, 4);

static int fail(struct age_reader *r, enum age_stage stage, const char *fmt, ...)
{
	va_list ap;

	if (r->state == R_FAILED)
		return -EBADMSG;
	r->state = R_FAILED;
	r->stage = stage;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

int age_reader_new(const uint8_t (*secrets)[AGE_KEY_LEN], size_t n, bool allow_armor,
		   age_plain_fn *plain, void *arg, struct age_reader **out)
{
	struct age_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->secrets = n ? malloc(n * AGE_KEY_LEN) : NULL;
	r->header = malloc(AGE_HEADER_MAX);
	r->chunk = malloc(FULL_CHUNK);
	r->plainbuf = malloc(AGE_CHUNK);
	if ((n && !r->secrets) || !r->header || !r->chunk || !r->plainbuf) {
		age_reader_free(r);
		return -ENOMEM;
	}
	if (n)
		memcpy(r->secrets, secrets, n * AGE_KEY_LEN);
	r->nsecrets = n;
	r->allow_armor = allow_armor;
	r->plain = plain;
	r->plain_arg = arg;
	r->key = -1;
	*out = r;
	return 0;
}

void age_reader_free(struct age_reader *r)
{
	if (!r)
		return;
	if (r->secrets)
		explicit_bzero(r->secrets, r->nsecrets * AGE_KEY_LEN);
	explicit_bzero(r->file_key, sizeof(r->file_key));
	free(r->secrets);
	free(r->header);
	free(r->chunk);
	free(r->plainbuf);
	EVP_CIPHER_CTX_free(r->payload);
	free(r);
}

void age_reader_expect_armor(struct age_reader *r)
{
	r->force_armor = true;
}

enum age_stage age_reader_stage(const struct age_reader *r)
{
	return r->stage;
}

const char *age_reader_reason(const struct age_reader *r)
{
	return r->reason;
}

int age_reader_key(const struct age_reader *r)
{
	return r->key;
}

bool age_reader_header_done(const struct age_reader *r)
{
	return r->state == R_PAYLOAD || r->state == R_DONE ||
	       (r->state == R_NONCE && r->key >= 0);
}

/* A stanza: args (NUL-separated in a copy) and its decoded body. */
struct stanza {
	char *args[8];
	int nargs;
	char argbuf[AGE_HEADER_MAX];
	uint8_t body[AGE_HEADER_MAX];
	size_t body_len;
};

/* Arguments: VCHARs separated by single spaces (checked when split). */
static bool is_args_line(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < 32 || p[i] > 126)
			return false;
	return true;
}

/* Try the X25519 stanza s with every secret: 1 when one opened it. */
static int x25519_unwrap(struct age_reader *r, struct stanza *s)
{
	uint8_t share[33], shared[32], salt[64], wrap[32], pub[32];
	static const uint8_t zero[32];
	size_t len, i;

	if (s->nargs != 2 || b64_decode_raw(s->args[1], strlen(s->args[1]), share, sizeof(share), &len) < 0 ||
	    len != 32)
		return fail(r, AGE_STAGE_HEADER, "malformed X25519 stanza");
	if (s->body_len != 32)
		return fail(r, AGE_STAGE_HEADER, "malformed X25519 stanza body");
	for (i = 0; i < r->nsecrets; i++) {
		if (x25519(r->secrets[i], share, shared) < 0 || !memcmp(shared, zero, 32))
			return fail(r, AGE_STAGE_HEADER, "X25519 stanza with a low-order share");
		if (age_public_key(r->secrets[i], pub) < 0)
			return fail(r, AGE_STAGE_HEADER, "bad key");
		memcpy(salt, share, 32);
		memcpy(salt + 32, pub, 32);
		if (hkdf(shared, 32, salt, 64, "age-encryption.org/v1/X25519", wrap, 32) < 0)
			return fail(r, AGE_STAGE_HEADER, "key derivation failed");
		if (aead_once(false, wrap, s->body, 32, r->file_key) == 0) {
			r->key = (int)i;
			return 1;
		}
	}
	return 0;
}

/* The whole header (up to and including the MAC line) is in r->header. */
static int parse_header(struct age_reader *r, size_t len)
{
	const uint8_t *h = r->header, *end = h + len, *p, *mac_line;
	struct stanza *s = malloc(sizeof(*s));
	uint8_t mac[33], hmac_key[32], want[32];
	unsigned int want_len = 0, nstanzas = 0;
	bool opened = false, has_scrypt = false;
	size_t maclen;
	int rc = 0;

	if (!s)
		return fail(r, AGE_STAGE_HEADER, "out of memory");
	p = h + strlen(VERSION_LINE);
	while (p < end && !(end - p >= 3 && !memcmp(p, "---", 3))) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		char *copy, *tok;
		size_t l;

		if (!nl || nl - p < 3 || memcmp(p, "-> ", 3) || !is_args_line(p + 3, (size_t)(nl - p - 3))) {
			rc = fail(r, AGE_STAGE_HEADER, "malformed stanza in the header");
			goto out;
		}
		/* arguments */
		l = (size_t)(nl - p - 3);
		copy = s->argbuf;
		memcpy(copy, p + 3, l);
		copy[l] = '\0';
		s->nargs = 0;
		for (tok = copy; tok && *tok;) {
			char *sp = strchr(tok, ' ');

			if (s->nargs == 8 || sp == tok) {
				rc = fail(r, AGE_STAGE_HEADER, "malformed stanza arguments");
				goto out;
			}
			if (sp)
				*sp = '\0';
			s->args[s->nargs++] = tok;
			tok = sp ? sp + 1 : NULL;
			if (tok && !*tok) {
				rc = fail(r, AGE_STAGE_HEADER, "empty stanza argument");
				goto out;
			}
		}
		if (s->nargs == 0) {
			rc = fail(r, AGE_STAGE_HEADER, "stanza without a type");
			goto out;
		}
		p = nl + 1;
		/* body: full 64-column lines, then one shorter line */
		s->body_len = 0;
		for (;;) {
			const uint8_t *bl = memchr(p, '\n', (size_t)(end - p));
			size_t n, got;

			if (!bl || bl - p > 64) {
				rc = fail(r, AGE_STAGE_HEADER, "malformed stanza body");
				goto out;
			}
			n = (size_t)(bl - p);
			if (b64_decode_raw((const char *)p, n, s->body + s->body_len,
					   sizeof(s->body) - s->body_len, &got) < 0) {
				rc = fail(r, AGE_STAGE_HEADER, "stanza body is not canonical base64");
				goto out;
			}
			s->body_len += got;
			p = bl + 1;
			if (n < 64)
				break;
		}
		nstanzas++;
		has_scrypt |= !strcmp(s->args[0], "scrypt");
		if (has_scrypt && nstanzas > 1) {
			/* a passphrase stanza must stand alone */
			rc = fail(r, AGE_STAGE_HEADER, "an scrypt stanza with other stanzas");
			goto out;
		}
		if (!strcmp(s->args[0], "X25519") && !opened) {
			int u = x25519_unwrap(r, s);

			if (u < 0) {
				rc = u;
				goto out;
			}
			opened = u == 1;
		} else if (!strcmp(s->args[0], "X25519")) {
			/* still checked for form */
			uint8_t share[33];
			size_t sl;

			if (s->nargs != 2 ||
			    b64_decode_raw(s->args[1], strlen(s->args[1]), share, sizeof(share), &sl) < 0 ||
			    sl != 32 || s->body_len != 32) {
				rc = fail(r, AGE_STAGE_HEADER, "malformed X25519 stanza");
				goto out;
			}
		}
	}
	/* "--- " mac "\n" */
	mac_line = p;
	if (end - p != 4 + 43 + 1 || memcmp(p, "--- ", 4) || end[-1] != '\n' ||
	    b64_decode_raw((const char *)p + 4, 43, mac, sizeof(mac), &maclen) < 0 || maclen != 32) {
		rc = fail(r, AGE_STAGE_HEADER, "malformed header MAC line");
		goto out;
	}
	if (!opened) {
		rc = fail(r, AGE_STAGE_NO_MATCH, "encrypted to none of this account's keys");
		goto out;
	}
	if (hkdf(r->file_key, 16, NULL, 0, "header", hmac_key, 32) < 0 ||
	    !HMAC(EVP_sha256(), hmac_key, 32, h, (size_t)(mac_line - h) + 3, want, &want_len) ||
	    want_len != 32 || CRYPTO_memcmp(want, mac, 32) != 0) {
		rc = fail(r, AGE_STAGE_HMAC, "header MAC does not match: the header was altered");
		goto out;
	}
	r->state = R_NONCE;
out:
	free(s);
	return rc;
}

/* Header bytes: look for the line that starts with "---". */
static int feed_header(struct age_reader *r, const uint8_t *data, size_t len, size_t *used)
{
	size_t vlen = strlen(VERSION_LINE), i;

	*used = 0;
	for (i = 0; i < len; i++) {
		uint8_t c = data[i];

		if (r->header_len == AGE_HEADER_MAX)
			return fail(r, AGE_STAGE_HEADER, "header longer than %d bytes: not an age file?",
				    AGE_HEADER_MAX);
		r->header[r->header_len++] = c;
		r->offset++;
		if (r->header_len <= vlen) {
			if (c != (uint8_t)VERSION_LINE[r->header_len - 1])
				return fail(r, AGE_STAGE_HEADER,
					    "not an age file (it does not start with \"age-encryption.org/v1\")");
			continue;
		}
		if (c != '\n')
			continue;
		/* a line ended: is it the MAC line? */
		{
			size_t ls = r->header_len - 1;

			while (ls > 0 && r->header[ls - 1] != '\n')
				ls--;
			if (r->header_len - ls >= 3 && !memcmp(r->header + ls, "---", 3)) {
				*used = i + 1;
				return parse_header(r, r->header_len);
			}
		}
	}
	*used = len;
	return 0;
}

static int open_payload(struct age_reader *r)
{
	uint8_t key[32];

	if (hkdf(r->file_key, 16, r->nonce, 16, "payload", key, 32) < 0)
		return fail(r, AGE_STAGE_PAYLOAD, "key derivation failed");
	r->payload = aead_new(false, key);
	explicit_bzero(key, sizeof(key));
	if (!r->payload)
		return fail(r, AGE_STAGE_PAYLOAD, "out of memory");
	r->state = R_PAYLOAD;
	return 0;
}

static void chunk_nonce(uint64_t counter, bool last, uint8_t nonce[12])
{
	int i;

	memset(nonce, 0, 12);
	for (i = 0; i < 8; i++)
		nonce[10 - i] = (uint8_t)(counter >> (8 * i));
	nonce[11] = last ? 1 : 0;
}

static uint64_t chunk_start(const struct age_reader *r)
{
	return (uint64_t)r->header_len + 16 + r->counter * FULL_CHUNK;
}

static int open_chunk(struct age_reader *r, bool last)
{
	uint8_t nonce[12];
	size_t n = r->chunk_len - TAG_LEN;

	if (r->chunk_len < TAG_LEN)
		return fail(r, AGE_STAGE_PAYLOAD, "truncated at byte %llu: the last chunk is cut short",
			    (unsigned long long)chunk_start(r));
	chunk_nonce(r->counter, last, nonce);
	if (aead(r->payload, false, nonce, r->chunk, r->chunk_len, r->plainbuf) < 0) {
		if (last && r->chunk_len == FULL_CHUNK) {
			chunk_nonce(r->counter, false, nonce);
			if (aead(r->payload, false, nonce, r->chunk, r->chunk_len, r->plainbuf) == 0)
				return fail(r, AGE_STAGE_PAYLOAD, "truncated at byte %llu: the file ends"
						" without its final chunk", (unsigned long long)r->offset);
		}
		if (last)
			return fail(r, AGE_STAGE_PAYLOAD, "truncated or corrupt at byte %llu: the last"
					" chunk (%llu) does not authenticate",
				    (unsigned long long)chunk_start(r), (unsigned long long)r->counter);
		return fail(r, AGE_STAGE_PAYLOAD, "corrupt at byte %llu: chunk %llu does not authenticate",
			    (unsigned long long)chunk_start(r), (unsigned long long)r->counter);
	}
	if (last && n == 0 && r->counter > 0)
		return fail(r, AGE_STAGE_PAYLOAD, "corrupt at byte %llu: an empty final chunk",
			    (unsigned long long)chunk_start(r));
	if (r->plain && n && r->plain(r->plain_arg, r->plainbuf, n) < 0)
		return fail(r, AGE_STAGE_PAYLOAD, "the plaintext could not be written");
	r->counter++;
	r->chunk_len = 0;
	return 0;
}

/* The unarmored age file's bytes. */
static int feed_binary(struct age_reader *r, const uint8_t *data, size_t len)
{
	while (len && r->state != R_FAILED) {
		size_t used = 0, take;
		int rc;

		switch (r->state) {
		case R_DETECT:
		case R_HEADER:
			r->state = R_HEADER;
			rc = feed_header(r, data, len, &used);
			if (rc < 0)
				return rc;
			break;
		case R_NONCE:
			take = 16 - r->nonce_len < len ? 16 - r->nonce_len : len;
			memcpy(r->nonce + r->nonce_len, data, take);
			r->nonce_len += take;
			r->offset += take;
			used = take;
			if (r->nonce_len == 16 && open_payload(r) < 0)
				return -EBADMSG;
			break;
		case R_PAYLOAD:
			if (r->chunk_len == FULL_CHUNK && open_chunk(r, false) < 0)
				return -EBADMSG; /* more follows: it was not the last */
			take = FULL_CHUNK - r->chunk_len < len ? FULL_CHUNK - r->chunk_len : len;
			memcpy(r->chunk + r->chunk_len, data, take);
			r->chunk_len += take;
			r->offset += take;
			used = take;
			break;
		case R_DONE:
			return fail(r, AGE_STAGE_PAYLOAD, "data after the end of the file");
		case R_FAILED:
			return -EBADMSG;
		}
		data += used;
		len -= used;
	}
	return r->state == R_FAILED ? -EBADMSG : 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One armor line (without its "\n", with any "\r" still on). */
static int armor_line(struct age_reader *r)
{
	uint8_t out[ARMOR_COLUMNS];
	size_t n = r->line_len, got;

	if (n && r->line[n - 1] == '\r')
		n--;
	if (r->astate == A_BEGIN) {
		/* Taken for armor by its first byte only: say what it is not. */
		if (r->line_too_long || n != strlen(ARMOR_BEGIN) || memcmp(r->line, ARMOR_BEGIN, n))
			return fail(r, AGE_STAGE_ARMOR, "not an age file (it starts neither with"
				    " \"age-encryption.org/v1\" nor with an age armor begin line)");
		r->astate = A_BODY;
		return 0;
	}
	if (r->line_too_long)
		return fail(r, AGE_STAGE_ARMOR, "armor line longer than %d columns", ARMOR_COLUMNS);
	if (n == strlen(ARMOR_END) && !memcmp(r->line, ARMOR_END, n)) {
		r->astate = A_TRAILING;
		return 0;
	}
	if (n == 0 || r->last_line_short)
		return fail(r, AGE_STAGE_ARMOR, "malformed armor: short or empty line inside");
	if (b64_decode_padded(r->line, n, out, sizeof(out), &got) < 0)
		return fail(r, AGE_STAGE_ARMOR, "armor line is not canonical base64");
	if (n < ARMOR_COLUMNS || r->line[n - 1] == '=')
		r->last_line_short = true;
	return feed_binary(r, out, got);
}

static int feed_armor(struct age_reader *r, const uint8_t *data, size_t len)
{
	size_t i;

	for (i = 0; i < len && r->state != R_FAILED; i++) {
		char c = (char)data[i];

		switch (r->astate) {
		case A_LEADING:
			if (is_space(c))
				continue;
			r->astate = A_BEGIN;
			GW_FALLTHROUGH;
		case A_BEGIN:
		case A_BODY:
			if (c == '\n') {
				if (armor_line(r) < 0)
					return -EBADMSG;
				r->line_len = 0;
				r->line_too_long = false;
				continue;
			}
			if (r->line_len == sizeof(r->line))
				r->line_too_long = true;
			else
				r->line[r->line_len++] = c;
			continue;
		case A_TRAILING:
			if (!is_space(c))
				return fail(r, AGE_STAGE_ARMOR, "data after the armor end line");
			continue;
		}
	}
	return r->state == R_FAILED ? -EBADMSG : 0;
}

int age_reader_feed(struct age_reader *r, const uint8_t *data, size_t len)
{
	if (r->state == R_FAILED)
		return -EBADMSG;
	if (r->state == R_DETECT && len && !r->armored) {
		/* Binary age files start with "age-"; armor with "-----"
		 * (or whitespace before it). */
		if (r->force_armor ||
		    (r->allow_armor && (data[0] == '-' || is_space((char)data[0]))))
			r->armored = true;
		else
			r->state = R_HEADER;
	}
	return r->armored ? feed_armor(r, data, len) : feed_binary(r, data, len);
}

int age_reader_finish(struct age_reader *r)
{
	if (r->state == R_FAILED)
		return -EBADMSG;
	if (r->armored) {
		if (r->astate != A_TRAILING && r->line_len) {
			if (armor_line(r) < 0)
				return -EBADMSG;
			r->line_len = 0;
		}
		if (r->astate != A_TRAILING)
			return fail(r, AGE_STAGE_ARMOR, "armor without its end line");
	}
	switch (r->state) {
	case R_DETECT:
	case R_HEADER:
		if (!r->header_len)
			return fail(r, AGE_STAGE_HEADER, "empty: not an age file");
		return fail(r, AGE_STAGE_HEADER, "truncated at byte %llu: the header is cut short",
			    (unsigned long long)r->offset);
	case R_NONCE:
		return fail(r, AGE_STAGE_HEADER, "truncated at byte %llu: no payload nonce",
			    (unsigned long long)r->offset);
	case R_PAYLOAD:
		if (r->chunk_len == 0)
			return fail(r, AGE_STAGE_PAYLOAD, "truncated at byte %llu: no final chunk",
				    (unsigned long long)r->offset);
		if (open_chunk(r, true) < 0)
			return -EBADMSG;
		r->state = R_DONE;
		return 0;
	case R_DONE:
		return 0;
	case R_FAILED:
		break;
	}
	return -EBADMSG;
}

/* ---------------------------------------------------------------- writer */

struct age_writer {
	age_out_fn *out;
	void *arg;
	EVP_CIPHER_CTX *payload;
	uint8_t *buf, *sealed;
	size_t len;
	uint64_t counter;
};

static int seal(struct age_writer *w, bool last)
{
	uint8_t nonce[12];

	chunk_nonce(w->counter, last, nonce);
	if (aead(w->payload, true, nonce, w->buf, w->len, w->sealed) < 0)
		return -EIO;
	w->counter++;
	if (w->out(w->arg, w->sealed, w->len + TAG_LEN) < 0)
		return -EIO;
	w->len = 0;
	return 0;
}

int age_writer_new(const uint8_t pub[AGE_KEY_LEN], age_out_fn *out, void *arg,
		   struct age_writer **wp)
{
	uint8_t eph[32], share[32], shared[32], salt[64], wrap[32], file_key[16], body[32];
	uint8_t hmac_key[32], mac[32], nonce[16], pkey[32];
	unsigned int maclen = 0;
	struct age_writer *w;
	struct gw_buf h;
	int r = -EIO;

	w = calloc(1, sizeof(*w));
	gw_buf_init(&h, 4096);
	if (!w)
		return -ENOMEM;
	w->out = out;
	w->arg = arg;
	w->buf = malloc(AGE_CHUNK);
	w->sealed = malloc(FULL_CHUNK);
	if (!w->buf || !w->sealed || RAND_bytes(file_key, 16) != 1 || age_keygen(eph, share) < 0 ||
	    x25519(eph, pub, shared) < 0)
		goto out;
	memcpy(salt, share, 32);
	memcpy(salt + 32, pub, 32);
	if (hkdf(shared, 32, salt, 64, "age-encryption.org/v1/X25519", wrap, 32) < 0 ||
	    aead_once(true, wrap, file_key, 16, body) < 0)
		goto out;
	gw_buf_adds(&h, VERSION_LINE "-> X25519 ");
	b64_encode_raw(share, 32, &h);
	gw_buf_adds(&h, "\n");
	b64_encode_raw(body, 32, &h);
	gw_buf_adds(&h, "\n---");
	if (hkdf(file_key, 16, NULL, 0, "header", hmac_key, 32) < 0 ||
	    !HMAC(EVP_sha256(), hmac_key, 32, (const uint8_t *)h.data, h.len, mac, &maclen))
		goto out;
	gw_buf_adds(&h, " ");
	b64_encode_raw(mac, 32, &h);
	gw_buf_adds(&h, "\n");
	if (RAND_bytes(nonce, 16) != 1 || hkdf(file_key, 16, nonce, 16, "payload", pkey, 32) < 0)
		goto out;
	w->payload = aead_new(true, pkey);
	if (!w->payload || out(arg, (const uint8_t *)h.data, h.len) < 0 || out(arg, nonce, 16) < 0)
		goto out;
	r = 0;
	*wp = w;
out:
	explicit_bzero(file_key, sizeof(file_key));
	explicit_bzero(eph, sizeof(eph));
	explicit_bzero(pkey, sizeof(pkey));
	gw_buf_release(&h);
	if (r < 0)
		age_writer_free(w);
	return r;
}

int age_writer_feed(struct age_writer *w, const uint8_t *plain, size_t len)
{
	while (len) {
		size_t take;

		if (w->len == AGE_CHUNK && seal(w, false) < 0)
			return -EIO; /* more follows: not the last */
		take = AGE_CHUNK - w->len < len ? AGE_CHUNK - w->len : len;
		memcpy(w->buf + w->len, plain, take);
		w->len += take;
		plain += take;
		len -= take;
	}
	return 0;
}

int age_writer_finish(struct age_writer *w)
{
	return seal(w, true);
}

void age_writer_free(struct age_writer *w)
{
	if (!w)
		return;
	EVP_CIPHER_CTX_free(w->payload);
	free(w->buf);
	free(w->sealed);
	free(w);
}
