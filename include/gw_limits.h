/* gw_limits.h - every size limit on untrusted input, in one place. */
#ifndef FTPSGATE_LIMITS_H
#define FTPSGATE_LIMITS_H

/* FTP control channel */
#define GW_FTP_LINE_MAX 1024          /* one command line, CRLF included */
#define GW_FTP_INBUF_MAX 4096         /* unprocessed control input */
#define GW_FTP_OUTBUF_MAX (256 * 1024) /* queued replies (STAT output later) */
#define GW_PATH_MAX 1024              /* a normalized FTP path */
#define GW_PATH_COMPONENT_MAX 255     /* one name inside a path */
#define GW_USER_MAX 64                /* account user name */
#define GW_PASS_MAX 256               /* password as sent with PASS */
#define GW_LISTING_MAX (16 * 1024 * 1024) /* one LIST/NLST reply */
#define GW_DATA_CHUNK (1024 * 1024)    /* one buffer of a transfer's data */
#define GW_DATA_QUEUE 4                /* filled chunks of an upload waiting for the disk */
#define GW_DATA_LOOP_CHUNKS 64         /* a loop's transfer buffers before uploads stop queueing */
#define GW_DATA_BURST (4 * 1024 * 1024) /* bytes moved per wake-up, for fairness */

/* admin API */
#define GW_ADMIN_BODY_MAX (64 * 1024)
#define GW_ADMIN_TOKEN_MAX 256
#define GW_DESCRIPTION_MAX 1024
#define GW_PAGE_LIMIT_MAX 1000
#define GW_WEBHOOK_URL_MAX 2048       /* a webhook's URL */
#define GW_WEBHOOK_EVENTS_MAX 255     /* its event patterns, as text */
#define GW_WEBHOOKS_MAX 100           /* webhooks at once */

/* configuration */
#define GW_CONFIG_FILE_MAX (1024 * 1024)
#define GW_CONFIG_VALUE_MAX 4096

/* timeouts, seconds */
#define GW_TLS_HANDSHAKE_TIMEOUT_S 30
#define GW_LOGIN_TIMEOUT_S 60
#define GW_DATA_CLOSE_TIMEOUT_S 10

/* account policy (gw.h, struct gw_policy) */
#define GW_POLICY_TEXT_MAX 1024       /* an account's address blocks, or its name patterns, as text */
#define GW_POLICY_ADDRESSES_MAX 32    /* address blocks in allowed_addresses */
#define GW_POLICY_NAMES_MAX 32        /* patterns in allowed_names */
#define GW_NAME_PATTERN_MAX 255       /* one pattern */

#define GW_PROXY_TRUSTED_MAX 64     /* address blocks in proxy_trusted */
#define GW_PROXY_HEADER_TIMEOUT_S 5 /* a trusted balancer sends its header at once */
#define GW_GUARD_ENTRIES_MAX 100000 /* addresses (and as many account names) with failed logins */

#endif
