/* hash.c - the store's hashes: SHA-256 of tokens and of files, argon2id
 * of passwords. */
#include <argon2.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"
#include "store_int.h"

void store_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	gw_hex(md, 32, out);
}

int store_hash_password(struct store *st, const char *password, char *out, size_t out_size)
{
	unsigned char salt[16];
	int r;

	r = gw_random(salt, sizeof(salt));
	if (r < 0)
		return r;
	r = argon2id_hash_encoded(st->t_cost, st->m_cost_kib, st->parallelism, password,
				  strlen(password), salt, sizeof(salt), 32, out, out_size);
	if (r != ARGON2_OK) {
		gw_error("store.argon2", "cannot hash password: %s", argon2_error_message(r));
		return -EIO;
	}
	return 0;
}

int store_hash_fd(int fd, uint64_t *size, char hex[65])
{
	EVP_MD_CTX *sha = EVP_MD_CTX_new();
	unsigned char *buf = malloc(1 << 20), md[32];
	unsigned int mdlen = 0;
	uint64_t total = 0;
	int r = 0;

	if (!sha || !buf || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL)) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, 1 << 20, (off_t)total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(sha, buf, (size_t)n);
		total += (uint64_t)n;
	}
	EVP_DigestFinal_ex(sha, md, &mdlen);
	gw_hex(md, 32, hex);
	*size = total;
out:
	free(buf);
	EVP_MD_CTX_free(sha);
	return r;
}
