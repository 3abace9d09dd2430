/* age.h - the age v1 file format (C2SP age.md) with X25519 recipients,
 * on OpenSSL 3: key generation, Bech32 key strings, a streaming reader
 * that verifies (and can decrypt) as bytes arrive, ASCII armor, and a
 * writer. Used by store/ for encryption keys and upload verification. */
#ifndef FTPSGATE_AGE_H
#define FTPSGATE_AGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGE_KEY_LEN 32
#define AGE_RECIPIENT_MAX 80 /* "age1" + 58 Bech32 characters */
#define AGE_IDENTITY_MAX 80  /* "AGE-SECRET-KEY-1" + 58 */
#define AGE_CHUNK 65536
#define AGE_HEADER_MAX (64 * 1024)

int age_keygen(uint8_t secret[AGE_KEY_LEN], uint8_t pub[AGE_KEY_LEN]);
int age_public_key(const uint8_t secret[AGE_KEY_LEN], uint8_t pub[AGE_KEY_LEN]);
void age_recipient_string(const uint8_t pub[AGE_KEY_LEN], char out[AGE_RECIPIENT_MAX]);
void age_identity_string(const uint8_t secret[AGE_KEY_LEN], char out[AGE_IDENTITY_MAX]);
int age_parse_recipient(const char *s, uint8_t pub[AGE_KEY_LEN]);
int age_parse_identity(const char *s, uint8_t secret[AGE_KEY_LEN]);

/* Where a file failed, as the test vectors name the stages. */
enum age_stage {
	AGE_STAGE_NONE,
	AGE_STAGE_ARMOR,   /* "armor failure" */
	AGE_STAGE_HEADER,  /* "header failure": not an age file, damaged header */
	AGE_STAGE_NO_MATCH, /* "no match": encrypted to no key we hold */
	AGE_STAGE_HMAC,    /* "HMAC failure" */
	AGE_STAGE_PAYLOAD, /* "payload failure": corrupt or truncated */
};

typedef int age_plain_fn(void *arg, const uint8_t *plain, size_t len);

struct age_reader;

/* A reader that tries each of n secret keys. Armored input is accepted
 * when allow_armor. plain (may be NULL) receives the plaintext. */
int age_reader_new(const uint8_t (*secrets)[AGE_KEY_LEN], size_t n, bool allow_armor,
		   age_plain_fn *plain, void *arg, struct age_reader **out);
/* The input is armored, whatever it starts with. */
void age_reader_expect_armor(struct age_reader *r);
/* Feed the next bytes of the file: 0, or -EBADMSG once it failed (then
 * age_reader_stage() and age_reader_reason() say where and why). */
int age_reader_feed(struct age_reader *r, const uint8_t *data, size_t len);
/* The file ended: 0 when it was complete and authentic. */
int age_reader_finish(struct age_reader *r);
enum age_stage age_reader_stage(const struct age_reader *r);
const char *age_reader_reason(const struct age_reader *r);
/* Index of the key that opened the file, or -1 before the header. */
int age_reader_key(const struct age_reader *r);
/* Whether the header has been read and authenticated. */
bool age_reader_header_done(const struct age_reader *r);
void age_reader_free(struct age_reader *r);
/* The reader's state within the payload, to go on in another process
 * (a resumed upload): the state into out[cap] (*len bytes, at most
 * AGE_STATE_MAX, no secret in it) and the file's key (a secret: keep it
 * sealed). -EAGAIN before the payload, -EBADMSG once failed. */
#define AGE_STATE_MAX (AGE_CHUNK + 256)
int age_reader_save(const struct age_reader *r, uint8_t *out, size_t cap, size_t *len,
		    uint8_t file_key[16]);
/* A reader that goes on from a saved state (-EBADMSG: not one). */
int age_reader_restore(const uint8_t *state, size_t len, const uint8_t file_key[16],
		       age_plain_fn *plain, void *arg, struct age_reader **out);

/* Encrypt to one recipient; the age file goes to out. */
struct age_writer;
typedef int age_out_fn(void *arg, const uint8_t *data, size_t len);
int age_writer_new(const uint8_t pub[AGE_KEY_LEN], age_out_fn *out, void *arg,
		   struct age_writer **w);
int age_writer_feed(struct age_writer *w, const uint8_t *plain, size_t len);
int age_writer_finish(struct age_writer *w);
void age_writer_free(struct age_writer *w);

#endif
