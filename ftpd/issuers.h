/* issuers.h - who issued each TLS session that a data connection may
 * resume.
 *
 * Every control connection is an issuer: a random id, the client address
 * it came from and, once it logged in, its account. The sessions it
 * issues carry its id (tls.c). A data connection may resume a session
 * whose issuer came from the same address and logged in to the same
 * account as the data connection's own control connection: clients that
 * run several control connections with one TLS session cache (rclone,
 * anything on Go's crypto/tls) resume a sibling's session, and that
 * sibling may have closed since. Nothing else counts: not another
 * account's session, not one issued to another address, not one born on
 * a data connection (no issuer at all).
 *
 * An issuer is kept while its control connection lives and for
 * FTPD_ISSUER_KEEP_MS after (its tickets' lifetime); at most
 * FTPD_ISSUERS_MAX are kept, the ones that closed first going first when
 * more are needed. Thread-safe.
 */
#ifndef FTPSGATE_FTPD_ISSUERS_H
#define FTPSGATE_FTPD_ISSUERS_H

#include <stdbool.h>
#include <stdint.h>

#define FTPD_ISSUER_ID_LEN 16
#define FTPD_ISSUER_KEEP_MS (24LL * 3600 * 1000)
#define FTPD_ISSUERS_MAX 100000

struct ftpd_issuers;
struct ftpd_issuer;

int ftpd_issuers_new(struct ftpd_issuers **out);
void ftpd_issuers_free(struct ftpd_issuers *is);

/* A control connection from address began: its issuer, with a fresh id
 * (held by the caller until ftpd_issuer_closed). */
int ftpd_issuer_open(struct ftpd_issuers *is, const char *address, int64_t now_ms,
		     struct ftpd_issuer **out);
const uint8_t *ftpd_issuer_id(const struct ftpd_issuer *iss);
/* It logged in to account_id. */
void ftpd_issuer_logged_in(struct ftpd_issuers *is, struct ftpd_issuer *iss, int64_t account_id);
/* Its control connection ended: the caller lets go of iss. */
void ftpd_issuer_closed(struct ftpd_issuers *is, struct ftpd_issuer *iss, int64_t now_ms);

/* Whether the issuer with this id came from address and logged in to
 * account_id (> 0). */
bool ftpd_issuers_match(struct ftpd_issuers *is, const uint8_t id[FTPD_ISSUER_ID_LEN],
			const char *address, int64_t account_id, int64_t now_ms);
/* How many are kept (tests, metrics). */
unsigned ftpd_issuers_count(struct ftpd_issuers *is);

#endif
