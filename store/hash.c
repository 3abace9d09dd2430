/* hash.c - the store's hashes: SHA-256 of tokens, argon2id of passwords. */
#include <argon2.h>
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

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
