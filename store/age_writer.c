/* age_writer.c - writing an age file to one X25519 recipient, as a
 * stream (tests and tools; the gateway itself only reads age files).
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
#include "age_int.h"
#include "gw.h"

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

	age_chunk_nonce(w->counter, last, nonce);
	if (age_aead(w->payload, true, nonce, w->buf, w->len, w->sealed) < 0)
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
	    age_x25519(eph, pub, shared) < 0)
		goto out;
	memcpy(salt, share, 32);
	memcpy(salt + 32, pub, 32);
	if (age_hkdf(shared, 32, salt, 64, "age-encryption.org/v1/X25519", wrap, 32) < 0 ||
	    age_aead_once(true, wrap, file_key, 16, body) < 0)
		goto out;
	gw_buf_adds(&h, VERSION_LINE "-> X25519 ");
	age_b64_encode_raw(share, 32, &h);
	gw_buf_adds(&h, "\n");
	age_b64_encode_raw(body, 32, &h);
	gw_buf_adds(&h, "\n---");
	if (age_hkdf(file_key, 16, NULL, 0, "header", hmac_key, 32) < 0 ||
	    !HMAC(EVP_sha256(), hmac_key, 32, (const uint8_t *)h.data, h.len, mac, &maclen))
		goto out;
	gw_buf_adds(&h, " ");
	age_b64_encode_raw(mac, 32, &h);
	gw_buf_adds(&h, "\n");
	if (RAND_bytes(nonce, 16) != 1 || age_hkdf(file_key, 16, nonce, 16, "payload", pkey, 32) < 0)
		goto out;
	w->payload = age_aead_new(true, pkey);
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
