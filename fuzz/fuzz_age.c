/* Fuzz the age reader: any bytes, fed whole, in pieces, or in two halves
 * with the reader's state saved and restored between them (a resumed
 * upload), must give the same verdict, and never a crash or a read past
 * what was given; only authenticating (as uploads are verified) and
 * decrypting too must agree. The corpus holds test vectors for the test
 * key. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int discard(void *arg, const uint8_t *plain, size_t len)
{
	(void)arg;
	(void)plain;
	(void)len;
	return 0;
}

static int verdict(const uint8_t *key, const uint8_t *data, size_t size, size_t step,
		   bool decrypt, enum age_stage *stage)
{
	struct age_reader *r;
	size_t off = 0;
	int rc = 0;

	if (age_reader_new((const uint8_t(*)[AGE_KEY_LEN])key, 1, true, decrypt ? discard : NULL, NULL,
			   &r) < 0)
		abort();
	while (rc == 0 && off < size) {
		size_t n = size - off < step ? size - off : step;

		rc = age_reader_feed(r, data + off, n);
		off += n;
	}
	if (rc == 0)
		rc = age_reader_finish(r);
	*stage = age_reader_stage(r);
	age_reader_free(r);
	return rc;
}

/* Fed up to cut; then, when the reader is in the payload, its state
 * saved and taken up by a new reader; then the rest. */
static int resumed(const uint8_t *key, const uint8_t *data, size_t size, size_t cut)
{
	static uint8_t state[AGE_STATE_MAX];
	uint8_t file_key[16];
	struct age_reader *r, *again;
	size_t len;
	int rc;

	if (age_reader_new((const uint8_t(*)[AGE_KEY_LEN])key, 1, true, NULL, NULL, &r) < 0)
		abort();
	rc = age_reader_feed(r, data, cut);
	if (rc == 0 && age_reader_save(r, state, sizeof(state), &len, file_key) == 0) {
		if (age_reader_restore(state, len, file_key, NULL, NULL, &again) < 0)
			abort(); /* a state just saved is always taken */
		age_reader_free(r);
		r = again;
	}
	if (rc == 0)
		rc = age_reader_feed(r, data + cut, size - cut);
	if (rc == 0)
		rc = age_reader_finish(r);
	age_reader_free(r);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t key[AGE_KEY_LEN];
	static int ready;
	enum age_stage whole, pieces, decrypted;
	size_t step;
	int rc;

	if (!ready) {
		/* the key of the public test vectors */
		if (age_parse_identity("AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0",
				       key) < 0)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	step = 1 + data[0] % 97;
	rc = verdict(key, data + 1, size - 1, size, false, &whole);
	if (rc != verdict(key, data + 1, size - 1, step, false, &pieces) || whole != pieces)
		abort();
	if (rc != verdict(key, data + 1, size - 1, step, true, &decrypted) || whole != decrypted)
		abort();
	if (rc != resumed(key, data + 1, size - 1, (size - 1) * data[0] / 256))
		abort();
	return 0;
}
