/* age_keys.c - what age (C2SP age.md) is built of: base64 and bech32
 * encodings, X25519, HKDF-SHA-256 and ChaCha20-Poly1305 on OpenSSL 3, and
 * the recipient and identity strings of a key.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"
#include "age_int.h"
#include "gw.h"

/* ---------------------------------------------------------------- base64 */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(unsigned char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

/* Unpadded, canonical (unused bits zero). -EINVAL otherwise. */
int age_b64_decode_raw(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
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
int age_b64_decode_padded(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t pad = 0;

	if (len % 4)
		return -EINVAL;
	while (pad < 2 && len > pad && in[len - 1 - pad] == '=')
		pad++;
	if (memchr(in, '=', len - pad))
		return -EINVAL;
	return age_b64_decode_raw(in, len - pad, out, cap, outlen);
}

void age_b64_encode_raw(const uint8_t *in, size_t len, struct gw_buf *out)
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

int age_x25519(const uint8_t secret[32], const uint8_t peer[32], uint8_t shared[32])
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

int age_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
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
int age_aead(EVP_CIPHER_CTX *ctx, bool enc, const uint8_t nonce[12], const uint8_t *in,
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

/* A chunk authenticated without being decrypted (RFC 8439, 2.6 and 2.8):
 * the Poly1305 key is the first 32 bytes of ChaCha20's block 0 under the
 * chunk's nonce; the tag covers the ciphertext, zeros to a multiple of 16
 * bytes, and the lengths (age has no associated data). Poly1305 alone
 * costs a fraction of decrypting with ChaCha20. */
struct age_tagger {
	uint8_t key[32];
	EVP_CIPHER_CTX *block;
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
};

struct age_tagger *age_tagger_new(const uint8_t key[32])
{
	struct age_tagger *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	memcpy(t->key, key, sizeof(t->key));
	t->block = EVP_CIPHER_CTX_new();
	t->mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	t->ctx = t->mac ? EVP_MAC_CTX_new(t->mac) : NULL;
	if (!t->block || !t->ctx ||
	    EVP_EncryptInit_ex(t->block, EVP_chacha20(), NULL, t->key, NULL) != 1) {
		age_tagger_free(t);
		return NULL;
	}
	return t;
}

int age_tagger_check(struct age_tagger *t, const uint8_t nonce[12], const uint8_t *in, size_t len)
{
	static const uint8_t zeros[32];
	uint8_t iv[16] = { 0 }, otk[32], lens[16] = { 0 }, tag[TAG_LEN];
	size_t n = len - TAG_LEN, taglen = 0;
	int outl = 0, ok;

	if (len < TAG_LEN)
		return -EBADMSG;
	memcpy(iv + 4, nonce, 12); /* block counter 0, then the nonce */
	for (int i = 0; i < 8; i++)
		lens[8 + i] = (uint8_t)((uint64_t)n >> (8 * i));
	ok = EVP_EncryptInit_ex(t->block, NULL, NULL, NULL, iv) == 1 &&
	     EVP_EncryptUpdate(t->block, otk, &outl, zeros, sizeof(otk)) == 1 &&
	     EVP_MAC_init(t->ctx, otk, sizeof(otk), NULL) == 1 && EVP_MAC_update(t->ctx, in, n) == 1 &&
	     (n % 16 == 0 || EVP_MAC_update(t->ctx, zeros, 16 - n % 16) == 1) &&
	     EVP_MAC_update(t->ctx, lens, sizeof(lens)) == 1 &&
	     EVP_MAC_final(t->ctx, tag, &taglen, sizeof(tag)) == 1 && taglen == TAG_LEN;
	explicit_bzero(otk, sizeof(otk));
	if (!ok)
		return -EIO;
	return CRYPTO_memcmp(tag, in + n, TAG_LEN) == 0 ? 0 : -EBADMSG;
}

void age_tagger_free(struct age_tagger *t)
{
	if (!t)
		return;
	explicit_bzero(t->key, sizeof(t->key));
	EVP_MAC_CTX_free(t->ctx);
	EVP_MAC_free(t->mac);
	EVP_CIPHER_CTX_free(t->block);
	free(t);
}

EVP_CIPHER_CTX *age_aead_new(bool enc, const uint8_t key[32])
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
int age_aead_once(bool enc, const uint8_t key[32], const uint8_t *in, size_t len, uint8_t *out)
{
	static const uint8_t zero[12];
	EVP_CIPHER_CTX *ctx = age_aead_new(enc, key);
	int r = ctx ? age_aead(ctx, enc, zero, in, len, out) : -EIO;

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
