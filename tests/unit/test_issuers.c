/* test_issuers.c - who issued each TLS session: matches by account and
 * address, expiry after close, the bound on closed issuers. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "gw.h"
#include "issuers.h"

int main(void)
{
	struct ftpd_issuers *is = NULL;
	struct ftpd_issuer *a, *b, *c, *anon;
	uint8_t ida[FTPD_ISSUER_ID_LEN], idb[FTPD_ISSUER_ID_LEN], idanon[FTPD_ISSUER_ID_LEN];
	uint8_t unknown[FTPD_ISSUER_ID_LEN] = { 0 };
	int64_t t = 1000;

	CHECK_INT(ftpd_issuers_new(&is), 0);
	CHECK_INT(ftpd_issuer_open(is, "127.0.0.1", t, &a), 0);
	CHECK_INT(ftpd_issuer_open(is, "127.0.0.1", t, &b), 0);
	CHECK_INT(ftpd_issuer_open(is, "127.0.0.1", t, &anon), 0);
	memcpy(ida, ftpd_issuer_id(a), sizeof(ida));
	memcpy(idb, ftpd_issuer_id(b), sizeof(idb));
	memcpy(idanon, ftpd_issuer_id(anon), sizeof(idanon));
	CHECK(memcmp(ida, idb, sizeof(ida)) != 0);
	CHECK_INT(ftpd_issuers_count(is), 3);

	/* not logged in yet: nothing matches */
	CHECK(!ftpd_issuers_match(is, ida, "127.0.0.1", 7, t));
	ftpd_issuer_logged_in(is, a, 7);
	ftpd_issuer_logged_in(is, b, 8);
	CHECK(ftpd_issuers_match(is, ida, "127.0.0.1", 7, t));
	CHECK(!ftpd_issuers_match(is, ida, "127.0.0.1", 8, t)); /* another account */
	CHECK(!ftpd_issuers_match(is, ida, "127.0.0.2", 7, t)); /* another address */
	CHECK(!ftpd_issuers_match(is, ida, "127.0.0.1", 0, t));
	CHECK(!ftpd_issuers_match(is, unknown, "127.0.0.1", 7, t));
	CHECK(ftpd_issuers_match(is, idb, "127.0.0.1", 8, t));

	/* closed: kept for the tickets' lifetime, then gone */
	ftpd_issuer_closed(is, a, t + 10);
	CHECK(ftpd_issuers_match(is, ida, "127.0.0.1", 7, t + 10 + FTPD_ISSUER_KEEP_MS - 1));
	CHECK(!ftpd_issuers_match(is, ida, "127.0.0.1", 7, t + 10 + FTPD_ISSUER_KEEP_MS));
	/* one that never logged in goes at once */
	ftpd_issuer_closed(is, anon, t + 20);
	CHECK_INT(ftpd_issuers_count(is), 2);
	CHECK(!ftpd_issuers_match(is, idanon, "127.0.0.1", 7, t + 20));
	/* expired ones are dropped when the next one comes */
	CHECK_INT(ftpd_issuer_open(is, "127.0.0.3", t + 20 + FTPD_ISSUER_KEEP_MS, &c), 0);
	CHECK_INT(ftpd_issuers_count(is), 2); /* a went, c came */
	ftpd_issuer_closed(is, b, t + 30);
	ftpd_issuer_closed(is, c, t + 40);
	ftpd_issuers_free(is);
	return check_report("test_issuers");
}
