/* resume_state.c - what a resumed upload goes on from when its bytes are
 * in object storage (the parts of a multipart upload cannot be read
 * back): at the end of each part, the running SHA-256, the age verifier
 * and the file's key (sealed under the master key, bound to the upload),
 * kept in the records with that part.
 *
 *   "FGR1" | offset u64 | key id i64 | SHA-256 state: len u16, bytes |
 *   age state: len u32, bytes | (age only) the sealed file key
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "age.h"
#include "resume_state.h"
#include "store_records.h"

static const uint8_t magic[4] = { 'F', 'G', 'R', '1' };

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void key_context(int64_t upload_id, char aad[64])
{
	snprintf(aad, 64, "ftpsgate file key of upload %lld", (long long)upload_id);
}

int store_resume_state_save(struct store *st, int64_t upload_id, uint64_t offset,
			    const struct store_sha256 *sha, const struct age_reader *age,
			    int64_t key_id, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t key[32] = { 0 };
	size_t n, at = 0, age_len = 0;
	char aad[64];
	int r;

	if (cap < STORE_RESUME_STATE_MAX)
		return -EMSGSIZE;
	memcpy(out, magic, 4);
	put_u64(out + 4, offset);
	put_u64(out + 12, (uint64_t)key_id);
	n = store_sha256_save(sha, out + 22);
	out[20] = (uint8_t)(n >> 8);
	out[21] = (uint8_t)n;
	at = 22 + n;
	if (age) {
		r = age_reader_save(age, out + at + 4, AGE_STATE_MAX, &age_len, key);
		if (r < 0)
			return r; /* before the payload, or failed: nothing to go on from */
	}
	out[at] = (uint8_t)(age_len >> 24);
	out[at + 1] = (uint8_t)(age_len >> 16);
	out[at + 2] = (uint8_t)(age_len >> 8);
	out[at + 3] = (uint8_t)age_len;
	at += 4 + age_len;
	if (age) {
		key_context(upload_id, aad);
		r = store_seal32(st, true, aad, key, out + at);
		explicit_bzero(key, sizeof(key));
		if (r < 0)
			return r;
		at += STORE_KEY_SEALED_LEN;
	}
	*len = at;
	return 0;
}

int store_resume_state_load(struct store *st, int64_t upload_id, const uint8_t *in, size_t len,
			    uint64_t *offset, struct store_sha256 *sha, struct age_reader **age,
			    int64_t *key_id)
{
	uint8_t key[32];
	size_t sha_len, age_len, at;
	char aad[64];
	int r;

	*age = NULL;
	if (len < 26 || memcmp(in, magic, 4))
		return -EBADMSG;
	sha_len = (size_t)in[20] << 8 | in[21];
	if (22 + sha_len + 4 > len)
		return -EBADMSG;
	r = store_sha256_load(sha, in + 22, sha_len);
	if (r < 0)
		return r;
	at = 22 + sha_len;
	age_len = (size_t)in[at] << 24 | (size_t)in[at + 1] << 16 | (size_t)in[at + 2] << 8 |
		  in[at + 3];
	at += 4;
	if (age_len > len - at || (age_len && len - at - age_len != STORE_KEY_SEALED_LEN) ||
	    (!age_len && at != len))
		return -EBADMSG;
	if (age_len) {
		key_context(upload_id, aad);
		r = store_seal32(st, false, aad, in + at + age_len, key);
		if (r == 0)
			r = age_reader_restore(in + at, age_len, key, NULL, NULL, age);
		explicit_bzero(key, sizeof(key));
		if (r < 0)
			return r;
	}
	*offset = get_u64(in + 4);
	*key_id = (int64_t)get_u64(in + 12);
	return 0;
}
