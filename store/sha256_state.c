/* sha256_state.c - a SHA-256 whose state can be saved and taken up in
 * another process: a resumed upload in object storage hashes on from
 * the end of its confirmed parts, whose bytes cannot be read back before
 * the upload completes. OpenSSL's EVP interface cannot export a state;
 * its SHA256_CTX (deprecated in OpenSSL 3, still public and computed by
 * the same code) can.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <openssl/sha.h>
#include <string.h>

#include "store_int.h"

_Static_assert(sizeof(SHA_LONG) == 4, "SHA_LONG is 32 bits");
_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct store_sha256 *)0)->ctx),
	       "struct store_sha256 holds a SHA256_CTX");

void store_sha256_start(struct store_sha256 *s)
{
	SHA256_Init((SHA256_CTX *)s->ctx);
}

void store_sha256_add(struct store_sha256 *s, const void *data, size_t len)
{
	SHA256_Update((SHA256_CTX *)s->ctx, data, len);
}

void store_sha256_end(struct store_sha256 *s, uint8_t md[32])
{
	SHA256_Final(md, (SHA256_CTX *)s->ctx);
}

static const uint8_t magic[4] = {'S', '2', '5', '6'};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* "S256", the eight state words, the bit count (Nh, Nl), the partial
 * block's length and its bytes. */
size_t store_sha256_save(const struct store_sha256 *s, uint8_t out[STORE_SHA256_STATE])
{
	const SHA256_CTX *c = (const SHA256_CTX *)s->ctx;
	int i;

	memcpy(out, magic, sizeof(magic));
	for (i = 0; i < 8; i++)
		put32(out + 4 + 4 * i, c->h[i]);
	put32(out + 36, c->Nh);
	put32(out + 40, c->Nl);
	put32(out + 44, c->num);
	memcpy(out + 48, c->data, c->num);
	return 48 + c->num;
}

int store_sha256_load(struct store_sha256 *s, const uint8_t *in, size_t len)
{
	SHA256_CTX *c = (SHA256_CTX *)s->ctx;
	uint32_t num;
	int i;

	if (len < 48 || memcmp(in, magic, sizeof(magic)) != 0)
		return -EBADMSG;
	num = get32(in + 44);
	if (num >= SHA256_CBLOCK || len != 48 + num)
		return -EBADMSG;
	SHA256_Init(c);
	for (i = 0; i < 8; i++)
		c->h[i] = get32(in + 4 + 4 * i);
	c->Nh = get32(in + 36);
	c->Nl = get32(in + 40);
	c->num = num;
	memcpy(c->data, in + 48, num);
	return 0;
}
