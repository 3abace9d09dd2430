/* keys.c - accounts' age encryption keys, and the master key that seals
 * their identities at rest. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "age.h"
#include "gw.h"
#include "store_int.h"
#include "store_records.h"

#define SEALED_LEN STORE_KEY_SEALED_LEN /* nonce, identity, tag */

static int parse_hex32(const char *s, uint8_t out[32])
{
	return strlen(s) == 64 ? gw_unhex(s, out, 32) : -EINVAL;
}

int store_master_key_load(struct store *st, const struct store_params *p, char *err, size_t err_size)
{
	char path[PATH_MAX + 16], hex[80];
	struct stat sb;
	ssize_t n;
	int fd;

	if (p->master_key_hex && *p->master_key_hex) {
		if (parse_hex32(p->master_key_hex, st->master) < 0) {
			snprintf(err, err_size, "invalid master_key: expected 64 hex digits");
			return -EINVAL;
		}
		return 0;
	}
	if (p->master_key_file && *p->master_key_file)
		snprintf(path, sizeof(path), "%s", p->master_key_file);
	else
		snprintf(path, sizeof(path), "%s/master.key", st->data_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !(p->master_key_file && *p->master_key_file)) {
		/* First start: make one. Lose it and the keys' identities are lost. */
		char tmp[PATH_MAX + 32];
		uint8_t key[32];

		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		if (RAND_bytes(key, 32) != 1) {
			snprintf(err, err_size, "cannot make a master key: no randomness");
			return -EIO;
		}
		gw_hex(key, 32, hex);
		gw_strlcpy(hex + 64, "\n", sizeof(hex) - 64);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, hex, 65) != 65 || fsync(fd) < 0 || close(fd) < 0 ||
		    rename(tmp, path) < 0) {
			snprintf(err, err_size, "cannot write master key '%s': %s", path, strerror(errno));
			return -EIO;
		}
		fd = open(st->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
		memcpy(st->master, key, 32);
		explicit_bzero(key, sizeof(key));
		explicit_bzero(hex, sizeof(hex));
		gw_warn("store.master_key", "made a new master key in '%s': back it up with the"
					    " database (see docs/operations.md)", path);
		return 0;
	}
	if (fd < 0 || fstat(fd, &sb) < 0) {
		snprintf(err, err_size, "cannot read master key '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	if (sb.st_mode & 077)
		gw_warn("store.master_key", "master key '%s' is readable by others: chmod 600", path);
	n = read(fd, hex, sizeof(hex) - 1);
	close(fd);
	if (n < 64) {
		snprintf(err, err_size, "invalid master key '%s': expected 64 hex digits", path);
		return -EINVAL;
	}
	hex[64] = '\0';
	if (parse_hex32(hex, st->master) < 0) {
		snprintf(err, err_size, "invalid master key '%s': expected 64 hex digits", path);
		return -EINVAL;
	}
	explicit_bzero(hex, sizeof(hex));
	return 0;
}

/* Seal or open an identity under the master key, bound to its account. */
static int seal(struct store *st, bool enc, int64_t account_id, const uint8_t *in, uint8_t *out)
{
	char aad[48];

	snprintf(aad, sizeof(aad), "ftpsgate key of account %lld", (long long)account_id);
	return store_seal32(st, enc, aad, in, out);
}

int store_seal32(struct store *st, bool enc, const char *aad, const uint8_t *in, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, f = 0, r = -EIO;

	if (!ctx)
		return -ENOMEM;
	if (enc) {
		/* out = nonce || ciphertext || tag */
		if (RAND_bytes(out, 12) != 1 ||
		    EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, st->master, out) != 1 ||
		    EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
		    EVP_EncryptUpdate(ctx, out + 12, &n, in, AGE_KEY_LEN) != 1 ||
		    EVP_EncryptFinal_ex(ctx, out + 12 + n, &f) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + 12 + AGE_KEY_LEN) != 1)
			goto out;
	} else {
		if (EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, st->master, in) != 1 ||
		    EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
		    EVP_DecryptUpdate(ctx, out, &n, in + 12, AGE_KEY_LEN) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(in + 12 + AGE_KEY_LEN)) != 1 ||
		    EVP_DecryptFinal_ex(ctx, out + n, &f) != 1) {
			r = -EBADMSG;
			goto out;
		}
	}
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int store_key_create(struct store *st, int64_t account_id, struct store_key *out)
{
	uint8_t secret[AGE_KEY_LEN], pub[AGE_KEY_LEN], sealed[SEALED_LEN];
	char recipient[AGE_RECIPIENT_MAX];
	struct store_account a;
	int64_t now = gw_now_ms(), id = 0;
	int r;

	r = st->rec->account_get(st, account_id, false, &a);
	if (r < 0)
		return r;
	if (!strcmp(a.status, "deleted"))
		return -ENOENT;
	r = age_keygen(secret, pub);
	if (r == 0)
		r = seal(st, true, account_id, secret, sealed);
	explicit_bzero(secret, sizeof(secret));
	if (r < 0)
		return r;
	age_recipient_string(pub, recipient);
	r = st->rec->key_insert(st, account_id, recipient, sealed, now, &id);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->account_id = account_id;
	gw_strlcpy(out->recipient, recipient, sizeof(out->recipient));
	out->created_at_ms = now;
	store_emit(st, "account", account_id, account_id, "key");
	return 0;
}

int store_key_get(struct store *st, int64_t account_id, int64_t key_id, struct store_key *out)
{
	return st->rec->key_get(st, account_id, key_id, out);
}

int store_key_list(struct store *st, int64_t account_id, int64_t after_id, unsigned max,
		   struct store_key *items, unsigned *n, bool *more)
{
	return st->rec->key_list(st, account_id, after_id, max, items, n, more);
}

int store_key_revoke(struct store *st, int64_t account_id, int64_t key_id, struct store_key *out)
{
	int r = st->rec->key_revoke(st, account_id, key_id, gw_now_ms());

	if (r < 0)
		return r;
	r = store_key_get(st, account_id, key_id, out);
	if (r == 0)
		store_emit(st, "account", account_id, account_id, "key_revoked");
	return r;
}

int store_key_secrets(struct store *st, int64_t account_id, uint8_t (*secrets)[32], int64_t *ids,
		      size_t max, size_t *n)
{
	uint8_t sealed[16][SEALED_LEN];
	int64_t found[16];
	unsigned got = 0, i;
	size_t count = 0;
	int r;

	if (max > GW_ARRAY_SIZE(found))
		max = GW_ARRAY_SIZE(found);
	r = st->rec->key_sealed(st, account_id, (unsigned)max, found, sealed, &got);
	for (i = 0; r == 0 && i < got; i++) {
		if (seal(st, false, account_id, sealed[i], secrets[count]) < 0) {
			gw_error("store.key", "key %lld of account %lld cannot be opened with the"
					      " master key", (long long)found[i], (long long)account_id);
			continue;
		}
		ids[count++] = found[i];
	}
	explicit_bzero(sealed, sizeof(sealed));
	*n = count;
	return r;
}
