/* What a resumed upload takes up on another node: the SHA-256 and the
 * age verifier saved after some bytes and loaded in a new one go on to
 * the same digest and the same verdict as one that saw every byte; a
 * state that is not one is refused. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"
#include "check.h"
#include "gw.h"
#include "resume_state.h"
#include "store_int.h"

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		p[i] = (uint8_t)seed;
	}
}

static void sha256(void)
{
	static const size_t cuts[] = { 0, 1, 55, 63, 64, 65, 1000, 65536, 300001 };
	size_t total = 300001 + 777, i;
	uint8_t *data = malloc(total), want[32], got[32], state[STORE_SHA256_STATE];
	unsigned int mdlen = 0;

	fill(data, total, 7);
	EVP_Digest(data, total, want, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < GW_ARRAY_SIZE(cuts); i++) {
		struct store_sha256 a, b;
		size_t n;

		store_sha256_start(&a);
		store_sha256_add(&a, data, cuts[i]);
		n = store_sha256_save(&a, state);
		CHECK(n >= 48 && n < 48 + 64);
		memset(&b, 0xa5, sizeof(b));
		CHECK_INT(store_sha256_load(&b, state, n), 0);
		store_sha256_add(&b, data + cuts[i], total - cuts[i]);
		store_sha256_end(&b, got);
		CHECK(!memcmp(got, want, 32));
		/* not a state: refused */
		CHECK_INT(store_sha256_load(&b, state, n - 1 + (n == 48 ? 2 : 0)), -EBADMSG);
		state[0] ^= 1;
		CHECK_INT(store_sha256_load(&b, state, n), -EBADMSG);
	}
	free(data);
}

struct sink {
	struct gw_buf b;
};

static int out_bytes(void *arg, const uint8_t *data, size_t len)
{
	return gw_buf_add(arg, data, len);
}

static int plain_bytes(void *arg, const uint8_t *data, size_t len)
{
	return gw_buf_add(arg, data, len);
}

/* The binary age file of plain, and its armored form. */
static void encrypt(const uint8_t pub[32], const uint8_t *plain, size_t n, struct gw_buf *bin,
		    struct gw_buf *armor)
{
	struct age_writer *w;
	size_t i;

	CHECK_INT(age_writer_new(pub, out_bytes, bin, &w), 0);
	CHECK_INT(age_writer_feed(w, plain, n), 0);
	CHECK_INT(age_writer_finish(w), 0);
	age_writer_free(w);
	gw_buf_adds(armor, "-----BEGIN AGE ENCRYPTED FILE-----\n");
	for (i = 0; i < bin->len; i += 48) {
		unsigned char line[80];
		int len = EVP_EncodeBlock(line, (const unsigned char *)bin->data + i,
					  (int)(bin->len - i < 48 ? bin->len - i : 48));

		gw_buf_add(armor, line, (size_t)len);
		gw_buf_adds(armor, "\n");
	}
	gw_buf_adds(armor, "-----END AGE ENCRYPTED FILE-----\n");
}

/* Fed up to cut, saved, restored, fed the rest: verified, every
 * plaintext byte out once. */
static void resumed(const uint8_t secret[32], const struct gw_buf *file, size_t cut,
		    const uint8_t *plain, size_t plain_len, bool armor)
{
	struct age_reader *a, *b;
	struct gw_buf out;
	uint8_t *state = malloc(AGE_STATE_MAX), key[16];
	size_t len = 0;
	int r;

	gw_buf_init(&out, 1 << 24);
	CHECK_INT(age_reader_new((const uint8_t(*)[32])secret, 1, armor, plain_bytes, &out, &a), 0);
	CHECK_INT(age_reader_feed(a, (const uint8_t *)file->data, cut), 0);
	r = age_reader_save(a, state, AGE_STATE_MAX, &len, key);
	age_reader_free(a);
	if (r == -EAGAIN) { /* still in the header: nothing to take up */
		CHECK(cut < 300);
		goto out;
	}
	CHECK_INT(r, 0);
	CHECK(len <= AGE_STATE_MAX);
	CHECK_INT(age_reader_restore(state, len - 1, key, plain_bytes, &out, &b), -EBADMSG);
	CHECK_INT(age_reader_restore(state, len, key, plain_bytes, &out, &b), 0);
	CHECK_INT(age_reader_feed(b, (const uint8_t *)file->data + cut, file->len - cut), 0);
	CHECK_INT(age_reader_finish(b), 0);
	CHECK_INT(age_reader_key(b), 0);
	age_reader_free(b);
	CHECK_INT(out.len, plain_len);
	CHECK(out.len == plain_len && !memcmp(out.data, plain, plain_len));
	/* the wrong file key: the next chunk does not authenticate */
	key[0] ^= 1;
	CHECK_INT(age_reader_restore(state, len, key, NULL, NULL, &b), 0);
	CHECK_INT(age_reader_feed(b, (const uint8_t *)file->data + cut, file->len - cut) == 0 &&
		  age_reader_finish(b) == 0, 0);
	age_reader_free(b);
out:
	gw_buf_release(&out);
	free(state);
}

static void age_state(void)
{
	uint8_t secret[32], pub[32];
	size_t n = 3 * AGE_CHUNK + 1234;
	uint8_t *plain = malloc(n);
	struct gw_buf bin, armor;
	size_t bin_cuts[] = { 10, 0, 0, 0, 0, 0 }, i;
	uint8_t junk[80] = "AGS1";
	struct age_reader *r;

	fill(plain, n, 99);
	CHECK_INT(age_keygen(secret, pub), 0);
	gw_buf_init(&bin, 1 << 24);
	gw_buf_init(&armor, 1 << 24);
	encrypt(pub, plain, n, &bin, &armor);
	/* in the header; at the payload's start; within a chunk; at a
	 * chunk's end; within the last; at the very end */
	bin_cuts[1] = bin.len - (3 * (AGE_CHUNK + 16) + 1234 + 16);
	bin_cuts[2] = bin_cuts[1] + 100;
	bin_cuts[3] = bin_cuts[1] + 2 * (AGE_CHUNK + 16);
	bin_cuts[4] = bin.len - 10;
	bin_cuts[5] = bin.len;
	for (i = 0; i < GW_ARRAY_SIZE(bin_cuts); i++)
		resumed(secret, &bin, bin_cuts[i], plain, n, false);
	/* armored: within a line, and between lines */
	resumed(secret, &armor, armor.len / 2 + 7, plain, n, true);
	resumed(secret, &armor, (size_t)(strchr(armor.data + armor.len / 3, '\n') - armor.data) + 1,
		plain, n, true);
	/* not a state */
	CHECK_INT(age_reader_restore(junk, sizeof(junk), secret, NULL, NULL, &r), -EBADMSG);
	gw_buf_release(&bin);
	gw_buf_release(&armor);
	free(plain);
}

/* What is kept with a part (resume_state.c): the hash, the verifier and
 * the file key sealed for that upload alone. */
static void sealed_state(void)
{
	static struct store st; /* what sealing needs of a store: its master key */
	uint8_t secret[32], pub[32], *blob = malloc(STORE_RESUME_STATE_MAX), md1[32], md2[32];
	size_t n = 2 * AGE_CHUNK + 99, cut, len = 0;
	uint8_t *plain = malloc(n);
	struct store_sha256 sha, back;
	struct age_reader *a, *b = NULL;
	struct gw_buf bin;
	uint64_t at = 0;
	int64_t key_id = 0;

	memset(st.master, 0x42, sizeof(st.master));
	fill(plain, n, 5);
	CHECK_INT(age_keygen(secret, pub), 0);
	gw_buf_init(&bin, 1 << 24);
	{
		struct age_writer *w;

		CHECK_INT(age_writer_new(pub, out_bytes, &bin, &w), 0);
		CHECK_INT(age_writer_feed(w, plain, n), 0);
		CHECK_INT(age_writer_finish(w), 0);
		age_writer_free(w);
	}
	cut = bin.len / 2;
	CHECK_INT(age_reader_new((const uint8_t(*)[32])secret, 1, false, NULL, NULL, &a), 0);
	CHECK_INT(age_reader_feed(a, (const uint8_t *)bin.data, cut), 0);
	store_sha256_start(&sha);
	store_sha256_add(&sha, bin.data, cut);
	CHECK_INT(store_resume_state_save(&st, 5, cut, &sha, a, 9, blob, STORE_RESUME_STATE_MAX, &len), 0);
	age_reader_free(a);
	/* its own upload: goes on to the same digest and verdict */
	CHECK_INT(store_resume_state_load(&st, 5, blob, len, &at, &back, &b, &key_id), 0);
	CHECK_INT(at, cut);
	CHECK_INT(key_id, 9);
	CHECK(b != NULL);
	if (b) {
		CHECK_INT(age_reader_feed(b, (const uint8_t *)bin.data + cut, bin.len - cut), 0);
		CHECK_INT(age_reader_finish(b), 0);
		age_reader_free(b);
	}
	store_sha256_add(&sha, bin.data + cut, bin.len - cut);
	store_sha256_add(&back, bin.data + cut, bin.len - cut);
	store_sha256_end(&sha, md1);
	store_sha256_end(&back, md2);
	CHECK(!memcmp(md1, md2, 32));
	/* another upload's, cut short, altered, or under another master key: not a state */
	CHECK_INT(store_resume_state_load(&st, 6, blob, len, &at, &back, &b, &key_id), -EBADMSG);
	CHECK_INT(store_resume_state_load(&st, 5, blob, len - 1, &at, &back, &b, &key_id), -EBADMSG);
	blob[0] ^= 1;
	CHECK_INT(store_resume_state_load(&st, 5, blob, len, &at, &back, &b, &key_id), -EBADMSG);
	blob[0] ^= 1;
	st.master[0] ^= 1;
	CHECK_INT(store_resume_state_load(&st, 5, blob, len, &at, &back, &b, &key_id), -EBADMSG);
	st.master[0] ^= 1;
	/* unverified: the hash alone */
	store_sha256_start(&sha);
	CHECK_INT(store_resume_state_save(&st, 7, 0, &sha, NULL, 0, blob, STORE_RESUME_STATE_MAX, &len), 0);
	CHECK_INT(store_resume_state_load(&st, 7, blob, len, &at, &back, &b, &key_id), 0);
	CHECK(b == NULL);
	gw_buf_release(&bin);
	free(plain);
	free(blob);
}

int main(void)
{
	sha256();
	age_state();
	sealed_state();
	return check_report("test_resume_state");
}
