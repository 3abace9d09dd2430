/* config.c - settings from defaults, a JSON file and the environment.
 *
 * The config file is JSON, so this file uses jansson; it is the one place
 * outside admin/ that does (see docs/ARCHITECTURE.md, "Fences").
 */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gw.h"
#include "gw_config.h"

enum kind { K_STR, K_U32, K_U64, K_HOSTPORT, K_RANGE, K_LEVEL, K_BOOL };

struct setting {
	const char *key;
	enum kind kind;
	size_t off;      /* string field, u32 field, host field or range low */
	size_t size;     /* string field size */
	size_t off2;     /* port field (K_HOSTPORT) or range high (K_RANGE) */
	uint64_t min, max;
};

#define STR(k, f) { k, K_STR, offsetof(struct gw_config, f), sizeof(((struct gw_config *)0)->f), 0, 0, 0 }
#define U32(k, f, lo, hi) { k, K_U32, offsetof(struct gw_config, f), 0, 0, lo, hi }
#define U64(k, f, lo, hi) { k, K_U64, offsetof(struct gw_config, f), 0, 0, lo, hi }
#define HOSTPORT(k, h, p) { k, K_HOSTPORT, offsetof(struct gw_config, h), sizeof(((struct gw_config *)0)->h), offsetof(struct gw_config, p), 0, 0 }

static const struct setting settings[] = {
	STR("data_dir", data_dir),
	HOSTPORT("ftps_listen", ftps_host, ftps_port),
	{ "passive_ports", K_RANGE, offsetof(struct gw_config, passive_min), 0,
	  offsetof(struct gw_config, passive_max), 0, 0 },
	STR("passive_address", passive_address),
	STR("public_host", public_host),
	HOSTPORT("admin_listen", admin_host, admin_port),
	STR("admin_token", admin_token),
	STR("tls_cert", tls_cert),
	STR("tls_key", tls_key),
	STR("tls_min_version", tls_min_version),
	STR("tls_max_version", tls_max_version),
	STR("tls_ciphers", tls_ciphers),
	STR("tls_ciphersuites", tls_ciphersuites),
	U32("argon2_t_cost", argon2_t_cost, 1, 100),
	U32("argon2_m_cost_kib", argon2_m_cost_kib, 8, 4 * 1024 * 1024),
	U32("argon2_parallelism", argon2_parallelism, 1, 64),
	U32("loops", loops, 0, 256),
	U32("workers", workers, 1, 256),
	U32("idle_timeout_s", idle_timeout_s, 1, 86400),
	U32("data_timeout_s", data_timeout_s, 1, 3600),
	U32("max_sessions", max_sessions, 1, 1000000),
	U32("max_sessions_per_address", max_sessions_per_address, 0, 1000000),
	U32("max_sessions_per_account", max_sessions_per_account, 0, 1000000),
	STR("default_allowed_addresses", default_allowed_addresses),
	STR("default_allowed_names", default_allowed_names),
	U64("default_max_file_bytes", default_max_file_bytes, 0, INT64_MAX),
	U64("default_rate_limit_bytes_per_s", default_rate_limit_bytes_per_s, 0, INT64_MAX),
	U32("max_passive_per_account", max_passive_per_account, 0, 65536),
	U32("max_passive_per_address", max_passive_per_address, 0, 65536),
	U32("ban_after_failures", ban_after_failures, 0, 1000000),
	U32("ban_window_s", ban_window_s, 1, 86400 * 30),
	U32("ban_duration_s", ban_duration_s, 1, 86400 * 365),
	U32("lock_account_after_failures", lock_account_after_failures, 0, 1000000),
	HOSTPORT("ftp_explicit_listen", ftp_explicit_host, ftp_explicit_port),
	{ "downloads", K_BOOL, offsetof(struct gw_config, downloads), 0, 0, 0, 0 },
	{ "admin_plain_http", K_BOOL, offsetof(struct gw_config, admin_plain_http), 0, 0, 0, 0 },
	STR("master_key", master_key),
	STR("import_command", import_command),
	STR("import_stdin", import_stdin),
	STR("accept_command", accept_command),
	U32("accept_timeout_s", accept_timeout_s, 1, 3600),
	U32("accept_workers", accept_workers, 1, 256),
	U32("import_workers", import_workers, 1, 64),
	U32("import_timeout_s", import_timeout_s, 1, 86400),
	U32("import_attempts", import_attempts, 1, 1000),
	U32("import_backoff_s", import_backoff_s, 0, 86400),
	U32("retention_days", retention_days, 0, 36500),
	U32("shutdown_grace_s", shutdown_grace_s, 0, 86400),
	U32("min_free_mib", min_free_mib, 0, 16 * 1024 * 1024),
	U32("login_cache_s", login_cache_s, 0, 86400),
	STR("user", user),
	STR("master_key_file", master_key_file),
	STR("database_url", database_url),
	U32("database_pool", database_pool, 1, 1000),
	U32("database_timeout_ms", database_timeout_ms, 100, 600000),
	STR("node_id", node_id),
	STR("proxy_protocol", proxy_protocol),
	STR("proxy_trusted", proxy_trusted),
	U32("import_lease_s", import_lease_s, 3, 86400),
	STR("storage_url", storage_url),
	STR("s3_endpoint", s3_endpoint),
	STR("s3_region", s3_region),
	STR("s3_addressing", s3_addressing),
	STR("s3_ca_file", s3_ca_file),
	U32("s3_part_mib", s3_part_mib, 5, 5120),
	U32("s3_parts_in_flight", s3_parts_in_flight, 1, 32),
	U32("s3_senders", s3_senders, 1, 1024),
	U32("s3_timeout_s", s3_timeout_s, 5, 3600),
	U32("s3_abandon_after_s", s3_abandon_after_s, 10, 86400 * 3650),
	{ "webhook_allow_private", K_BOOL, offsetof(struct gw_config, webhook_allow_private), 0, 0, 0, 0 },
	STR("webhook_ca_file", webhook_ca_file),
	U32("webhook_timeout_s", webhook_timeout_s, 1, 300),
	U32("webhook_backoff_s", webhook_backoff_s, 1, 3600),
	U32("webhook_retry_for_s", webhook_retry_for_s, 1, 86400 * 30),
	{ "log_level", K_LEVEL, offsetof(struct gw_config, log_level),
	  sizeof(((struct gw_config *)0)->log_level), 0, 0, 0 },
};

void gw_config_defaults(struct gw_config *c)
{
	memset(c, 0, sizeof(*c));
	gw_strlcpy(c->data_dir, "./var", sizeof(c->data_dir));
	gw_strlcpy(c->ftps_host, "0.0.0.0", sizeof(c->ftps_host));
	c->ftps_port = 990;
	c->passive_min = 60000;
	c->passive_max = 61000;
	gw_strlcpy(c->admin_host, "127.0.0.1", sizeof(c->admin_host));
	c->admin_port = 8443;
	/* OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. */
	c->argon2_t_cost = 2;
	c->argon2_m_cost_kib = 19 * 1024;
	c->argon2_parallelism = 1;
	c->workers = 4;
	c->idle_timeout_s = 600;
	c->data_timeout_s = 60;
	c->max_sessions = GW_MAX_SESSIONS_DEFAULT;
	c->max_sessions_per_address = 64;
	c->max_sessions_per_account = 32;
	c->policy = (struct gw_policy){ .has_addresses = true, .has_names = true, .has_max_file = true,
					.has_rate = true, .has_sessions = true, .max_sessions = 32 };
	c->max_passive_per_account = GW_PASSIVE_SHARE;
	c->max_passive_per_address = GW_PASSIVE_SHARE;
	c->ban_after_failures = 10;
	c->ban_window_s = 600;
	c->ban_duration_s = 900;
	c->lock_account_after_failures = 0;
	c->downloads = true;
	gw_strlcpy(c->import_stdin, "none", sizeof(c->import_stdin));
	gw_strlcpy(c->tls_min_version, "1.2", sizeof(c->tls_min_version));
	gw_strlcpy(c->tls_max_version, "1.3", sizeof(c->tls_max_version));
	gw_strlcpy(c->tls_ciphers, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL", sizeof(c->tls_ciphers));
	gw_strlcpy(c->tls_ciphersuites,
		   "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
		   sizeof(c->tls_ciphersuites));
	c->import_workers = 2;
	c->accept_timeout_s = 60;
	c->accept_workers = 8;
	c->import_timeout_s = 600;
	c->import_attempts = 5;
	c->import_backoff_s = 5;
	c->shutdown_grace_s = 30;
	c->min_free_mib = 64;
	c->login_cache_s = 300;
	c->database_pool = 16;
	c->database_timeout_ms = 5000;
	c->import_lease_s = 60;
	gw_strlcpy(c->s3_region, "us-east-1", sizeof(c->s3_region));
	gw_strlcpy(c->proxy_protocol, "off", sizeof(c->proxy_protocol));
	c->s3_part_mib = 16; /* docs/benchmarks.md: the fastest of 5-32 MiB */
	c->s3_parts_in_flight = 4;
	c->s3_senders = 16;
	c->s3_timeout_s = 300;
	c->s3_abandon_after_s = 86400 * 7;
	gw_strlcpy(c->log_level, "info", sizeof(c->log_level));
	c->webhook_timeout_s = 10;
	c->webhook_backoff_s = 10;
	c->webhook_retry_for_s = 86400;
}

/* Apply one textual value to a setting. */
static int apply(struct gw_config *c, const struct setting *s, const char *v,
		 char *err, size_t err_size, const char *origin)
{
	char *base = (char *)c;
	uint64_t u;

	switch (s->kind) {
	case K_STR:
		if (gw_strlcpy(base + s->off, v, s->size) < 0)
			goto bad;
		return 0;
	case K_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
			*(bool *)(void *)(base + s->off) = true;
		else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
			*(bool *)(void *)(base + s->off) = false;
		else
			goto bad;
		return 0;
	case K_LEVEL:
		if (strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") &&
		    strcmp(v, "error"))
			goto bad;
		gw_strlcpy(base + s->off, v, s->size);
		return 0;
	case K_U32:
		if (gw_parse_u64(v, s->min, s->max, &u) < 0)
			goto bad;
		*(uint32_t *)(void *)(base + s->off) = (uint32_t)u;
		return 0;
	case K_U64:
		if (gw_parse_u64(v, s->min, s->max, &u) < 0)
			goto bad;
		*(uint64_t *)(void *)(base + s->off) = u;
		return 0;
	case K_HOSTPORT:
		if (gw_parse_hostport(v, base + s->off, s->size,
				      (uint16_t *)(void *)(base + s->off2)) < 0)
			goto bad;
		if (!base[s->off])
			gw_strlcpy(base + s->off, "0.0.0.0", s->size);
		return 0;
	case K_RANGE:
		if (gw_parse_port_range(v, (uint16_t *)(void *)(base + s->off),
					(uint16_t *)(void *)(base + s->off2)) < 0)
			goto bad;
		return 0;
	}
bad:
	switch (s->kind) {
	case K_BOOL:
		snprintf(err, err_size, "invalid %s '%s' in %s: expected true or false", s->key, v, origin);
		break;
	case K_U32:
	case K_U64:
		snprintf(err, err_size, "invalid %s '%s' in %s: expected an integer from %llu to %llu",
			 s->key, v, origin,
			 (unsigned long long)s->min, (unsigned long long)s->max);
		break;
	case K_HOSTPORT:
		snprintf(err, err_size, "invalid %s '%s' in %s: expected HOST:PORT", s->key, v, origin);
		break;
	case K_RANGE:
		snprintf(err, err_size, "invalid %s '%s' in %s: expected LOW-HIGH ports", s->key, v, origin);
		break;
	case K_LEVEL:
		snprintf(err, err_size, "invalid %s '%s' in %s: expected debug, info, warn or error", s->key, v, origin);
		break;
	case K_STR:
		snprintf(err, err_size, "invalid %s in %s: longer than %zu bytes", s->key, origin, s->size - 1);
		break;
	}
	return -EINVAL;
}

static const struct setting *find(const char *key)
{
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(settings); i++)
		if (!strcmp(settings[i].key, key))
			return &settings[i];
	return NULL;
}

static int load_file(struct gw_config *c, const char *path, char *err, size_t err_size)
{
	char origin[PATH_MAX + 16];
	json_error_t jerr;
	json_t *root, *val;
	const char *key;
	struct stat st;
	int r = 0;

	snprintf(origin, sizeof(origin), "config '%s'", path);
	if (stat(path, &st) < 0) {
		snprintf(err, err_size, "cannot read config '%s': %s", path, strerror(errno));
		return -errno;
	}
	if (st.st_size > GW_CONFIG_FILE_MAX) {
		snprintf(err, err_size, "cannot read config '%s': larger than %d bytes", path, GW_CONFIG_FILE_MAX);
		return -EFBIG;
	}
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, err_size, "invalid config '%s' line %d column %d: %s", path,
			 jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, err_size, "invalid config '%s': expected a JSON object", path);
		json_decref(root);
		return -EINVAL;
	}
	json_object_foreach(root, key, val) {
		const struct setting *s = find(key);
		char num[32];
		const char *v;

		if (!s) {
			snprintf(err, err_size, "unknown setting '%s' in config '%s'", key, path);
			r = -EINVAL;
			break;
		}
		if (s->kind == K_BOOL && json_is_boolean(val)) {
			v = json_is_true(val) ? "true" : "false";
		} else if ((s->kind == K_U32 || s->kind == K_U64) && json_is_integer(val)) {
			if (json_integer_value(val) < 0) {
				snprintf(num, sizeof(num), "%s", "-1");
			} else {
				snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(val));
			}
			v = num;
		} else if (s->kind != K_U32 && s->kind != K_U64 && json_is_string(val)) {
			v = json_string_value(val);
		} else {
			snprintf(err, err_size, "invalid %s in config '%s': expected %s", key, path,
				 s->kind == K_U32 || s->kind == K_U64 ? "an integer"
				 : s->kind == K_BOOL		      ? "true or false"
								      : "a string");
			r = -EINVAL;
			break;
		}
		r = apply(c, s, v, err, err_size, origin);
		if (r < 0)
			break;
	}
	json_decref(root);
	return r;
}

/* The accounts' default policy, checked and made canonical. */
static int config_policy(struct gw_config *c, char *err, size_t err_size)
{
	struct gw_policy *p = &c->policy;
	char why[160];

	memset(p, 0, sizeof(*p));
	if (gw_addresses_canon(c->default_allowed_addresses, p->addresses, sizeof(p->addresses),
			       why, sizeof(why)) < 0) {
		snprintf(err, err_size, "invalid default_allowed_addresses: %s", why);
		return -EINVAL;
	}
	if (gw_names_canon(c->default_allowed_names, p->names, sizeof(p->names), why,
			   sizeof(why)) < 0) {
		snprintf(err, err_size, "invalid default_allowed_names: %s", why);
		return -EINVAL;
	}
	p->max_file_bytes = c->default_max_file_bytes;
	p->rate_bytes_per_s = c->default_rate_limit_bytes_per_s;
	p->max_sessions = c->max_sessions_per_account;
	p->has_addresses = p->has_names = p->has_max_file = p->has_rate = p->has_sessions = true;
	return 0;
}

int gw_config_load(struct gw_config *c, const char *path, const char *const *envp,
		   char *err, size_t err_size)
{
	static const char prefix[] = "FTPSGATE_";
	size_t i;
	int r;

	if (path) {
		r = load_file(c, path, err, err_size);
		if (r < 0)
			return r;
	}
	for (i = 0; envp && envp[i]; i++) {
		const char *e = envp[i], *eq = strchr(e, '=');
		char key[64], origin[80];
		const struct setting *s;
		size_t n, k;

		if (!eq || strncmp(e, prefix, sizeof(prefix) - 1) != 0)
			continue;
		n = (size_t)(eq - e) - (sizeof(prefix) - 1);
		if (n == 0 || n >= sizeof(key))
			continue;
		for (k = 0; k < n; k++) {
			char ch = e[sizeof(prefix) - 1 + k];

			key[k] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
		}
		key[n] = '\0';
		s = find(key);
		if (!s) {
			/* FTPSGATE_CONFIG and friends are not settings; a typo
			 * of one would silently do nothing, so name it. */
			if (!strcmp(key, "config"))
				continue;
			snprintf(err, err_size, "unknown setting in environment: %.*s",
				 (int)(eq - e), e);
			return -EINVAL;
		}
		snprintf(origin, sizeof(origin), "environment FTPSGATE_%.*s", (int)n,
			 e + sizeof(prefix) - 1);
		r = apply(c, s, eq + 1, err, err_size, origin);
		if (r < 0)
			return r;
	}
	if (c->passive_address[0] == '\0' && c->public_host[0] == '\0' &&
	    strcmp(c->ftps_host, "0.0.0.0") && strcmp(c->ftps_host, "::"))
		gw_strlcpy(c->public_host, c->ftps_host, sizeof(c->public_host));
	if (!c->data_dir[0]) {
		snprintf(err, err_size, "invalid data_dir: empty");
		return -EINVAL;
	}
	if (strcmp(c->import_stdin, "none") && strcmp(c->import_stdin, "plaintext") &&
	    strcmp(c->import_stdin, "as-is")) {
		snprintf(err, err_size, "invalid import_stdin '%s': expected none, plaintext or as-is",
			 c->import_stdin);
		return -EINVAL;
	}
	if (strcmp(c->tls_min_version, "1.2") && strcmp(c->tls_min_version, "1.3")) {
		snprintf(err, err_size, "invalid tls_min_version '%s': expected 1.2 or 1.3",
			 c->tls_min_version);
		return -EINVAL;
	}
	if (strcmp(c->tls_max_version, "1.2") && strcmp(c->tls_max_version, "1.3")) {
		snprintf(err, err_size, "invalid tls_max_version '%s': expected 1.2 or 1.3",
			 c->tls_max_version);
		return -EINVAL;
	}
	if (strcmp(c->tls_min_version, c->tls_max_version) > 0) {
		snprintf(err, err_size, "invalid tls_max_version '%s': below tls_min_version '%s'",
			 c->tls_max_version, c->tls_min_version);
		return -EINVAL;
	}
	r = config_policy(c, err, err_size);
	if (r < 0)
		return r;
	if (strcmp(c->proxy_protocol, "off") && strcmp(c->proxy_protocol, "control") &&
	    strcmp(c->proxy_protocol, "all")) {
		snprintf(err, err_size, "invalid proxy_protocol '%s': expected off, control or all",
			 c->proxy_protocol);
		return -EINVAL;
	}
	{
		struct gw_cidr list[GW_PROXY_TRUSTED_MAX];
		char why[160];
		size_t n = 0;

		if (gw_cidr_list_parse(c->proxy_trusted, list, GW_ARRAY_SIZE(list), &n, why,
				       sizeof(why)) < 0) {
			snprintf(err, err_size, "invalid proxy_trusted: %s", why);
			return -EINVAL;
		}
		if (strcmp(c->proxy_protocol, "off") && n == 0) {
			snprintf(err, err_size, "invalid proxy_protocol '%s': proxy_trusted must list the"
				 " load balancers' addresses (ADDRESS or ADDRESS/BITS)", c->proxy_protocol);
			return -EINVAL;
		}
	}
	if (!!c->tls_cert[0] != !!c->tls_key[0]) {
		snprintf(err, err_size, "invalid TLS settings: tls_cert and tls_key must be set together");
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------- live settings */

static const struct gw_live live_defaults = {
	.idle_timeout_s = 600, .data_timeout_s = 60, .max_sessions = GW_MAX_SESSIONS_DEFAULT,
	.max_sessions_per_address = 64, .max_sessions_per_account = 32, .shutdown_grace_s = 30,
	.ban_after_failures = 10, .ban_window_s = 600, .ban_duration_s = 900,
	.policy = { .has_addresses = true, .has_names = true, .has_max_file = true, .has_rate = true,
		    .has_sessions = true, .max_sessions = 32 },
};
static const struct gw_live *live_now = &live_defaults;

/* Every snapshot made, newest first: the ones replaced stay (a reader may
 * still hold one; a reload is rare and a snapshot small), and stay
 * reachable, so that leak checkers see them as kept, not lost. */
struct live_node {
	struct gw_live live;
	struct live_node *older;
};
static struct live_node *live_made;

const struct gw_live *gw_live(void)
{
	return __atomic_load_n(&live_now, __ATOMIC_ACQUIRE);
}

int gw_live_set(const struct gw_config *c)
{
	struct live_node *n = malloc(sizeof(*n));
	struct gw_live *l;

	if (!n)
		return -ENOMEM;
	l = &n->live;
	l->idle_timeout_s = c->idle_timeout_s;
	l->data_timeout_s = c->data_timeout_s;
	l->max_sessions = c->max_sessions;
	l->max_sessions_per_address = c->max_sessions_per_address;
	l->max_sessions_per_account = c->max_sessions_per_account;
	l->shutdown_grace_s = c->shutdown_grace_s;
	l->ban_after_failures = c->ban_after_failures;
	l->ban_window_s = c->ban_window_s;
	l->ban_duration_s = c->ban_duration_s;
	l->lock_account_after_failures = c->lock_account_after_failures;
	l->policy = c->policy;
	/* SIGHUP is handled by one thread: no lock around live_made */
	n->older = live_made;
	live_made = n;
	__atomic_store_n(&live_now, l, __ATOMIC_RELEASE);
	return 0;
}
