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
#include "age_int.h"
#include "gw.h"

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
	EVP_CIPHER_CTX *payload;   /* decrypting (plain given) */
	struct age_tagger *tagger; /* or only authenticating */
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
	age_tagger_free(r->tagger);
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

	if (s->nargs != 2 || age_b64_decode_raw(s->args[1], strlen(s->args[1]), share, sizeof(share), &len) < 0 ||
	    len != 32)
		return fail(r, AGE_STAGE_HEADER, "malformed X25519 stanza");
	if (s->body_len != 32)
		return fail(r, AGE_STAGE_HEADER, "malformed X25519 stanza body");
	for (i = 0; i < r->nsecrets; i++) {
		if (age_x25519(r->secrets[i], share, shared) < 0 || !memcmp(shared, zero, 32))
			return fail(r, AGE_STAGE_HEADER, "X25519 stanza with a low-order share");
		if (age_public_key(r->secrets[i], pub) < 0)
			return fail(r, AGE_STAGE_HEADER, "bad key");
		memcpy(salt, share, 32);
		memcpy(salt + 32, pub, 32);
		if (age_hkdf(shared, 32, salt, 64, "age-encryption.org/v1/X25519", wrap, 32) < 0)
			return fail(r, AGE_STAGE_HEADER, "key derivation failed");
		if (age_aead_once(false, wrap, s->body, 32, r->file_key) == 0) {
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
			if (age_b64_decode_raw((const char *)p, n, s->body + s->body_len,
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
			    age_b64_decode_raw(s->args[1], strlen(s->args[1]), share, sizeof(share), &sl) < 0 ||
			    sl != 32 || s->body_len != 32) {
				rc = fail(r, AGE_STAGE_HEADER, "malformed X25519 stanza");
				goto out;
			}
		}
	}
	/* "--- " mac "\n" */
	mac_line = p;
	if (end - p != 4 + 43 + 1 || memcmp(p, "--- ", 4) || end[-1] != '\n' ||
	    age_b64_decode_raw((const char *)p + 4, 43, mac, sizeof(mac), &maclen) < 0 || maclen != 32) {
		rc = fail(r, AGE_STAGE_HEADER, "malformed header MAC line");
		goto out;
	}
	if (!opened) {
		rc = fail(r, AGE_STAGE_NO_MATCH, "encrypted to none of this account's keys");
		goto out;
	}
	if (age_hkdf(r->file_key, 16, NULL, 0, "header", hmac_key, 32) < 0 ||
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
	static const char version[] = VERSION_LINE;
	const size_t vlen = sizeof(version) - 1;
	size_t i;

	*used = 0;
	for (i = 0; i < len; i++) {
		uint8_t c = data[i];
		size_t at = r->header_len;

		if (at == AGE_HEADER_MAX)
			return fail(r, AGE_STAGE_HEADER, "header longer than %d bytes: not an age file?",
				    AGE_HEADER_MAX);
		r->header[r->header_len++] = c;
		r->offset++;
		if (at < vlen) {
			if (c != (uint8_t)version[at])
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

	if (age_hkdf(r->file_key, 16, r->nonce, 16, "payload", key, 32) < 0)
		return fail(r, AGE_STAGE_PAYLOAD, "key derivation failed");
	if (r->plain)
		r->payload = age_aead_new(false, key);
	else
		r->tagger = age_tagger_new(key);
	explicit_bzero(key, sizeof(key));
	if (!r->payload && !r->tagger)
		return fail(r, AGE_STAGE_PAYLOAD, "out of memory");
	r->state = R_PAYLOAD;
	return 0;
}

void age_chunk_nonce(uint64_t counter, bool last, uint8_t nonce[12])
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

/* Authenticate the chunk (and decrypt it, for whoever takes the plaintext). */
static int open_sealed(struct age_reader *r, const uint8_t nonce[12], const uint8_t *chunk, size_t len)
{
	if (r->tagger)
		return age_tagger_check(r->tagger, nonce, chunk, len);
	return age_aead(r->payload, false, nonce, chunk, len, r->plainbuf);
}

/* The chunk at chunk (r->chunk, or whole in what was fed). */
static int open_chunk_at(struct age_reader *r, const uint8_t *chunk, size_t len, bool last)
{
	uint8_t nonce[12];
	size_t n = len - TAG_LEN;

	if (len < TAG_LEN)
		return fail(r, AGE_STAGE_PAYLOAD, "truncated at byte %llu: the last chunk is cut short",
			    (unsigned long long)chunk_start(r));
	age_chunk_nonce(r->counter, last, nonce);
	if (open_sealed(r, nonce, chunk, len) < 0) {
		if (last && len == FULL_CHUNK) {
			age_chunk_nonce(r->counter, false, nonce);
			if (open_sealed(r, nonce, chunk, len) == 0)
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

static int open_chunk(struct age_reader *r, bool last)
{
	return open_chunk_at(r, r->chunk, r->chunk_len, last);
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
			if (r->chunk_len == 0 && len > FULL_CHUNK) {
				/* a whole chunk and more: not the last, opened where it is */
				if (open_chunk_at(r, data, FULL_CHUNK, false) < 0)
					return -EBADMSG;
				r->offset += FULL_CHUNK;
				used = FULL_CHUNK;
				break;
			}
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
	if (age_b64_decode_padded(r->line, n, out, sizeof(out), &got) < 0)
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

/* ---------------------------------------------------------------- state */

/* The state: "AGS1", flags, armor state, key index, header length,
 * counter, offset, the payload nonce, the armor line and the chunk
 * filled so far; integers little-endian. No secret: the file key goes
 * apart. */
static const uint8_t state_magic[4] = { 'A', 'G', 'S', '1' };

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define STATE_FIXED (4 + 6 + 8 + 8 + 8 + 8 + 16 + 2 + 4)

int age_reader_save(const struct age_reader *r, uint8_t *out, size_t cap, size_t *len,
		    uint8_t file_key[16])
{
	uint8_t *p = out;

	if (r->state != R_PAYLOAD)
		return r->state == R_FAILED ? -EBADMSG : -EAGAIN;
	if (cap < STATE_FIXED + r->line_len + r->chunk_len)
		return -E2BIG;
	memcpy(p, state_magic, sizeof(state_magic));
	p += 4;
	*p++ = r->armored;
	*p++ = r->force_armor;
	*p++ = r->allow_armor;
	*p++ = r->line_too_long;
	*p++ = r->last_line_short;
	*p++ = (uint8_t)r->astate;
	put_u64(p, (uint64_t)(int64_t)r->key);
	put_u64(p + 8, r->header_len);
	put_u64(p + 16, r->counter);
	put_u64(p + 24, r->offset);
	p += 32;
	memcpy(p, r->nonce, 16);
	p += 16;
	*p++ = (uint8_t)(r->line_len & 0xff);
	*p++ = (uint8_t)(r->line_len >> 8);
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(r->chunk_len >> (8 * i));
	memcpy(p, r->line, r->line_len);
	p += r->line_len;
	memcpy(p, r->chunk, r->chunk_len);
	p += r->chunk_len;
	*len = (size_t)(p - out);
	memcpy(file_key, r->file_key, 16);
	return 0;
}

int age_reader_restore(const uint8_t *state, size_t len, const uint8_t file_key[16],
		       age_plain_fn *plain, void *arg, struct age_reader **out)
{
	struct age_reader *r;
	const uint8_t *p = state;
	size_t line_len, chunk_len;
	int rc;

	if (len < STATE_FIXED || memcmp(p, state_magic, sizeof(state_magic)) != 0)
		return -EBADMSG;
	/* the lengths, after magic, flags, four integers and the nonce */
	line_len = (size_t)p[58] | (size_t)p[59] << 8;
	chunk_len = (size_t)p[60] | (size_t)p[61] << 8 | (size_t)p[62] << 16 | (size_t)p[63] << 24;
	if (p[9] > A_TRAILING || line_len > ARMOR_COLUMNS + 4 || chunk_len > FULL_CHUNK ||
	    len != STATE_FIXED + line_len + chunk_len)
		return -EBADMSG;
	rc = age_reader_new(NULL, 0, p[6] != 0, plain, arg, &r);
	if (rc < 0)
		return rc;
	r->armored = p[4] != 0;
	r->force_armor = p[5] != 0;
	r->line_too_long = p[7] != 0;
	r->last_line_short = p[8] != 0;
	r->astate = (enum astate)p[9];
	p += 10;
	r->key = (int)(int64_t)get_u64(p);
	r->header_len = (size_t)get_u64(p + 8);
	r->counter = get_u64(p + 16);
	r->offset = get_u64(p + 24);
	p += 32;
	memcpy(r->nonce, p, 16);
	r->nonce_len = 16;
	p += 16 + 2 + 4;
	r->line_len = line_len;
	memcpy(r->line, p, line_len);
	p += line_len;
	r->chunk_len = chunk_len;
	memcpy(r->chunk, p, chunk_len);
	memcpy(r->file_key, file_key, 16);
	if (r->header_len > AGE_HEADER_MAX || open_payload(r) < 0) {
		age_reader_free(r);
		return -EBADMSG;
	}
	*out = r;
	return 0;
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
