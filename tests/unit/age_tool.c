/* age_tool - a test helper around store/age.c:
 *   age_tool keygen                  -> "AGE-SECRET-KEY-1... age1..."
 *   age_tool encrypt RECIPIENT       stdin plaintext -> stdout age file
 *   age_tool decrypt IDENTITY [--armored]
 *                                    stdin age file -> "ok SHA256" | "fail STAGE: reason"
 *   age_tool verify IDENTITY [--armored]
 *                                    the same without decrypting, as uploads are verified
 *                                    (fed in 1 MiB pieces) -> "ok" | "fail STAGE: reason"
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "age.h"
#include "gw.h"

static int out_stdout(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	return fwrite(data, 1, len, stdout) == len ? 0 : -EIO;
}

static int hash_plain(void *arg, const uint8_t *data, size_t len)
{
	EVP_DigestUpdate(arg, data, len);
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t buf[1 << 16];
	uint8_t key[AGE_KEY_LEN], pub[AGE_KEY_LEN];
	size_t n;

	if (argc == 2 && !strcmp(argv[1], "keygen")) {
		char id[AGE_IDENTITY_MAX], rc[AGE_RECIPIENT_MAX];

		if (age_keygen(key, pub) < 0)
			return 2;
		age_identity_string(key, id);
		age_recipient_string(pub, rc);
		printf("%s %s\n", id, rc);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "encrypt")) {
		struct age_writer *w;

		if (age_parse_recipient(argv[2], pub) < 0 || age_writer_new(pub, out_stdout, NULL, &w) < 0) {
			fprintf(stderr, "bad recipient\n");
			return 2;
		}
		while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
			if (age_writer_feed(w, buf, n) < 0)
				return 2;
		if (age_writer_finish(w) < 0)
			return 2;
		age_writer_free(w);
		return fflush(stdout) == 0 ? 0 : 2;
	}
	if ((argc == 3 || (argc == 4 && !strcmp(argv[3], "--armored"))) &&
	    (!strcmp(argv[1], "decrypt") || !strcmp(argv[1], "verify"))) {
		static const char *const stages[] = { "none", "armor failure", "header failure",
						      "no match", "HMAC failure", "payload failure" };
		EVP_MD_CTX *sha = EVP_MD_CTX_new();
		struct age_reader *r;
		unsigned char md[32];
		unsigned int mdlen;
		char hex[65];
		int rc = 0;

		if (age_parse_identity(argv[2], key) < 0) {
			printf("fail bad identity\n");
			EVP_MD_CTX_free(sha);
			return 1;
		}
		bool verify = !strcmp(argv[1], "verify");
		static uint8_t big[1 << 20];

		EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
		if (age_reader_new((const uint8_t(*)[AGE_KEY_LEN])key, 1, true, verify ? NULL : hash_plain,
				   verify ? NULL : sha, &r) < 0)
			return 2;
		if (argc == 4)
			age_reader_expect_armor(r);
		while (rc == 0 && (n = fread(verify ? big : buf, 1, verify ? sizeof(big) : sizeof(buf),
					     stdin)) > 0)
			rc = age_reader_feed(r, verify ? big : buf, n);
		if (rc == 0)
			rc = age_reader_finish(r);
		if (rc < 0) {
			printf("fail %s: %s\n", stages[age_reader_stage(r)], age_reader_reason(r));
			age_reader_free(r);
			EVP_MD_CTX_free(sha);
			return 1;
		}
		EVP_DigestFinal_ex(sha, md, &mdlen);
		gw_hex(md, 32, hex);
		printf(verify ? "ok\n" : "ok %s\n", hex);
		age_reader_free(r);
		EVP_MD_CTX_free(sha);
		return 0;
	}
	fprintf(stderr, "usage: age_tool keygen | encrypt RECIPIENT | decrypt IDENTITY\n");
	return 2;
}
