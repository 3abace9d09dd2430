/* gw_config.h - the daemon's settings: defaults, then the JSON config
 * file, then FTPSGATE_* environment variables, later ones winning.
 *
 * Every setting has a JSON key and an environment variable named
 * FTPSGATE_ + the key in upper case (e.g. "passive_ports" and
 * FTPSGATE_PASSIVE_PORTS). docs/operations.md lists them all.
 */
#ifndef FTPSGATE_CONFIG_H
#define FTPSGATE_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw.h"
#include "gw_limits.h"

#define GW_PASSIVE_SHARE UINT32_MAX
/* The default max_sessions; lowered at start to what the descriptor
 * limit allows (about 3 each), where only a setting of one's own warns. */
#define GW_MAX_SESSIONS_DEFAULT 20000

struct gw_config {
	char data_dir[PATH_MAX];
	char ftps_host[256]; /* listen address of the implicit FTPS port */
	uint16_t ftps_port;
	uint16_t passive_min, passive_max;
	char passive_address[256]; /* "" = the control connection's local address */
	char public_host[256];     /* what accounts are told to connect to */
	char admin_host[256];
	uint16_t admin_port;
	char admin_token[GW_ADMIN_TOKEN_MAX + 1]; /* "" = generate on first start */
	char tls_cert[PATH_MAX]; /* "" = self-signed in data_dir */
	char tls_key[PATH_MAX];
	char tls_min_version[8];      /* "1.2" | "1.3" */
	char tls_max_version[8];      /* "1.2" | "1.3" */
	char tls_ciphers[512];        /* TLS 1.2: OpenSSL cipher list, ECDHE AEAD only */
	char tls_ciphersuites[256];   /* TLS 1.3 */
	uint32_t argon2_t_cost;
	uint32_t argon2_m_cost_kib;
	uint32_t argon2_parallelism;
	uint32_t loops;   /* event loop threads; 0 = one per core */
	uint32_t workers; /* blocking-work threads */
	uint32_t idle_timeout_s;
	uint32_t data_timeout_s; /* passive accept, data TLS handshake */
	uint32_t max_sessions;
	uint32_t max_sessions_per_address;
	uint32_t max_sessions_per_account; /* accounts without their own max_sessions */
	/* The policy of accounts that do not set their own (gw.h, struct
	 * gw_policy): address blocks and name patterns as given (commas
	 * between them), then canonical in `policy`. */
	char default_allowed_addresses[GW_POLICY_TEXT_MAX + 1];
	char default_allowed_names[GW_POLICY_TEXT_MAX + 1];
	uint64_t default_max_file_bytes;
	uint64_t default_rate_limit_bytes_per_s;
	struct gw_policy policy; /* the above, checked; set by gw_config_load */
	/* Passive ports open at once (listening, nobody connected yet) for one
	 * account and for one client address; 0 = no limit; GW_PASSIVE_SHARE
	 * (the default) = a quarter of the range. */
	uint32_t max_passive_per_account;
	uint32_t max_passive_per_address;
	uint32_t ban_after_failures;   /* failed logins from one address; 0 = never */
	uint32_t ban_window_s;         /* ...within this long */
	uint32_t ban_duration_s;       /* then it is refused this long */
	uint32_t lock_account_after_failures; /* failed logins to one account; 0 = never */
	char ftp_explicit_host[256]; /* "" = no explicit (AUTH TLS) listener */
	uint16_t ftp_explicit_port;
	bool downloads;
	bool admin_plain_http; /* only behind a TLS-terminating proxy */
	char master_key[65];        /* hex; "" = from master_key_file */
	char import_command[PATH_MAX]; /* "" = file into data_dir/imported */
	char import_stdin[16];         /* "none" | "plaintext" */
	char accept_command[PATH_MAX]; /* "" = none: run before 226, may refuse */
	uint32_t accept_timeout_s;
	uint32_t accept_workers;       /* accept hooks at once */
	uint32_t import_workers;
	uint32_t import_timeout_s;
	uint32_t import_attempts;
	uint32_t import_backoff_s;
	uint32_t retention_days; /* 0 = keep imported files and tombstones */
	uint32_t shutdown_grace_s; /* SIGTERM: how long running transfers may finish */
	uint32_t min_free_mib; /* uploads stop (452) before the data disk has less free */
	uint32_t login_cache_s; /* verified passwords accepted again without argon2id */
	char user[64]; /* run as this user once the ports are bound ("" = stay) */
	char master_key_file[PATH_MAX]; /* "" = data_dir/master.key */
	char database_url[1024];        /* "" or "sqlite:" = data_dir; "postgresql://..." */
	uint32_t database_pool;         /* PostgreSQL connections at most */
	uint32_t database_timeout_ms;   /* a statement's limit */
	char node_id[65];               /* "" = the host name */
	/* PROXY protocol headers (v1 or v2) before the FTPS bytes: "off",
	 * "control" (control connections) or "all" (data connections too),
	 * taken from proxy_trusted (CIDRs) only, and required from them. */
	char proxy_protocol[16];
	char proxy_trusted[1024];
	uint32_t import_lease_s;        /* a claim on import work, unrenewed */
	char storage_url[1024];         /* "" or "file:" = data_dir; "s3://BUCKET[/PREFIX]" */
	char s3_endpoint[256];          /* "" = AWS S3 in s3_region */
	char s3_region[64];
	char s3_addressing[16];         /* "" (path with an endpoint, else virtual), "path", "virtual" */
	char s3_ca_file[PATH_MAX];      /* "" = the system's CAs */
	uint32_t s3_part_mib;           /* bytes of each part but the last */
	uint32_t s3_parts_in_flight;    /* per upload */
	uint32_t s3_senders;            /* parts in flight on the node */
	uint32_t s3_timeout_s;          /* one request */
	uint32_t s3_abandon_after_s;    /* a partial upload untouched this long loses its parts */
	char log_level[16];
	/* webhooks (docs/operations.md, "Webhooks") */
	bool webhook_allow_private;   /* receivers on loopback and private addresses */
	char webhook_ca_file[PATH_MAX]; /* "" = the system's CAs */
	uint32_t webhook_timeout_s;   /* one attempt, connect to last byte */
	uint32_t webhook_backoff_s;   /* after the first failed attempt; doubles, at most an hour */
	uint32_t webhook_retry_for_s; /* then a delivery is dead */
};

void gw_config_defaults(struct gw_config *c);
/* Read a JSON object from path (NULL: none), then the environment `envp`
 * (NULL-terminated "NAME=value" strings). On error, err holds one line
 * naming the setting or file and what is wrong with it. */
int gw_config_load(struct gw_config *c, const char *path, const char *const *envp,
		   char *err, size_t err_size);

/* The settings a SIGHUP may change while sessions run, as one immutable
 * snapshot: readers take the one in force with gw_live(), a reload puts a
 * new one in force whole (gw_live_set). Snapshots are never freed while
 * the process runs, so a reader may keep using the one it took. Before
 * the first gw_live_set(), the defaults. Any thread. */
struct gw_live {
	uint32_t idle_timeout_s;
	uint32_t data_timeout_s;
	uint32_t max_sessions;
	uint32_t max_sessions_per_address;
	uint32_t max_sessions_per_account;
	uint32_t shutdown_grace_s;
	uint32_t ban_after_failures;
	uint32_t ban_window_s;
	uint32_t ban_duration_s;
	uint32_t lock_account_after_failures;
	struct gw_policy policy; /* accounts' defaults, every has_* set */
};
const struct gw_live *gw_live(void);
/* Put the settings of c in force; -ENOMEM leaves the old ones. */
int gw_live_set(const struct gw_config *c);

#endif
