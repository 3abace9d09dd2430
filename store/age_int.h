/* age_int.h - what the files of the age implementation share (age.c,
 * age_keys.c, age_writer.c). Not for other files. */
#ifndef FTPSGATE_STORE_AGE_INT_H
#define FTPSGATE_STORE_AGE_INT_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "age.h"
#include "gw.h"

#define VERSION_LINE "age-encryption.org/v1\n"
#define TAG_LEN 16
#define FULL_CHUNK (AGE_CHUNK + TAG_LEN)
#define ARMOR_BEGIN "-----BEGIN AGE ENCRYPTED FILE-----"
#define ARMOR_END "-----END AGE ENCRYPTED FILE-----"
#define ARMOR_COLUMNS 64

int age_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
	     const char *info, uint8_t *out, size_t out_len);
EVP_CIPHER_CTX *age_aead_new(bool enc, const uint8_t key[32]);
int age_b64_decode_padded(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);
int age_aead_once(bool enc, const uint8_t key[32], const uint8_t *in, size_t len, uint8_t *out);
int age_aead(EVP_CIPHER_CTX *ctx, bool enc, const uint8_t nonce[12], const uint8_t *in, size_t len,
	     uint8_t *out);
/* Authenticate a ChaCha20-Poly1305 ciphertext (with its tag) without
 * decrypting it: 0, -EBADMSG, or -EIO. */
struct age_tagger;
struct age_tagger *age_tagger_new(const uint8_t key[32]);
int age_tagger_check(struct age_tagger *t, const uint8_t nonce[12], const uint8_t *in, size_t len);
void age_tagger_free(struct age_tagger *t);
int age_x25519(const uint8_t secret[32], const uint8_t peer[32], uint8_t shared[32]);
void age_b64_encode_raw(const uint8_t *in, size_t len, struct gw_buf *out);
int age_b64_decode_raw(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);
void age_chunk_nonce(uint64_t counter, bool last, uint8_t nonce[12]);

#endif
