/* main.c - the ftpsgate daemon: configuration, wiring of the parts,
 * signals. */
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "ftpd.h"
#include "gw.h"
#include "gw_config.h"
#include "store.h"

#ifndef FTPSGATE_VERSION
#define FTPSGATE_VERSION "0.1.0"
#endif


static void usage(FILE *f)
{
	fprintf(f, "usage: ftpsgate [--config FILE]\n"
		   "       ftpsgate [--config FILE] migrate-records --from sqlite:[DATA_DIR]"
		   " --to postgresql://...\n"
		   "\n"
		   "FTPS intake gateway: implicit FTPS uploads, stored durably, with an admin REST API.\n"
		   "Settings come from FILE (JSON) and FTPSGATE_* environment variables;\n"
		   "see docs/operations.md.\n"
		   "\n"
		   "migrate-records copies every record of a stopped gateway's SQLite database\n"
		   "(DATA_DIR, default the configured data_dir) into an empty PostgreSQL database;\n"
		   "the nodes on PostgreSQL then need the same master key.\n");
}

static void set_log_level(const char *level)
{
	if (!strcmp(level, "debug"))
		gw_log_set_level(GW_LOG_DEBUG);
	else if (!strcmp(level, "warn"))
		gw_log_set_level(GW_LOG_WARN);
	else if (!strcmp(level, "error"))
		gw_log_set_level(GW_LOG_ERROR);
	else
		gw_log_set_level(GW_LOG_INFO);
}

static void fit_sessions(struct gw_config *cfg, bool quiet);

/* SIGHUP: read the settings again and take those that can change while
 * sessions run; the others need a restart (and say so only if changed). */
static void reload_settings(const char *path)
{
	static struct gw_config fresh;
	const struct gw_live *live;
	char err[1024];

	gw_config_defaults(&fresh);
	if (gw_config_load(&fresh, path, (const char *const *)environ, err, sizeof(err)) < 0) {
		gw_error("config.reload", "%s; the running settings stay", err);
		return;
	}
	fit_sessions(&fresh, true);
	if (gw_live_set(&fresh) < 0) {
		gw_error("config.reload", "out of memory; the running settings stay");
		return;
	}
	set_log_level(fresh.log_level);
	live = gw_live();
	gw_info("config.reload", "settings read again: log_level %s, idle_timeout_s %u,"
		" data_timeout_s %u, max_sessions %u/%u per address/%u per account,"
		" shutdown_grace_s %u, bans after %u failures in %u s for %u s, accounts locked"
		" after %u (others take effect at the next start)", fresh.log_level,
		live->idle_timeout_s, live->data_timeout_s, live->max_sessions,
		live->max_sessions_per_address, live->max_sessions_per_account,
		live->shutdown_grace_s, live->ban_after_failures, live->ban_window_s,
		live->ban_duration_s, live->lock_account_after_failures);
	explicit_bzero(&fresh, sizeof(fresh));
}

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)type;
	(void)ftw;
	if ((sb->st_uid != chown_uid || sb->st_gid != chown_gid) &&
	    lchown(path, chown_uid, chown_gid) < 0)
		return -1;
	return 0;
}

/* Once the ports are bound: become `user`, owning the data directory. */
static int drop_privileges(const struct gw_config *cfg, char *err, size_t err_size)
{
	struct passwd *pw;
	struct stat sb;

	if (!cfg->user[0]) {
		if (geteuid() == 0)
			gw_warn("daemon.root", "running as root: set FTPSGATE_USER to run as an"
					       " unprivileged user once the ports are bound");
		return 0;
	}
	pw = getpwnam(cfg->user);
	if (!pw) {
		snprintf(err, err_size, "invalid user '%s': no such user", cfg->user);
		return -EINVAL;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0;
		snprintf(err, err_size, "cannot become user '%s': not started as root", cfg->user);
		return -EPERM;
	}
	/* The data directory is the user's: walk it only if it is not yet. */
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	if (stat(cfg->data_dir, &sb) == 0 && (sb.st_uid != pw->pw_uid || sb.st_gid != pw->pw_gid) &&
	    nftw(cfg->data_dir, chown_one, 64, FTW_PHYS) != 0) {
		int e = errno;

		snprintf(err, err_size, "cannot give data directory '%.200s' to user '%s': %s",
			 cfg->data_dir, cfg->user, strerror(e));
		return -e;
	}
	if (initgroups(cfg->user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		int e = errno;

		snprintf(err, err_size, "cannot become user '%s': %s", cfg->user, strerror(e));
		return -e;
	}
	if (setuid(0) == 0) {
		snprintf(err, err_size, "cannot drop root: setuid(0) still works");
		return -EPERM;
	}
	gw_info("daemon.user", "running as user '%s' (uid %u)", cfg->user, (unsigned)pw->pw_uid);
	return 0;
}

/* Each session may hold a control socket, a passive listener or a data
 * socket, an upload's file and its directory: take all the descriptors
 * the system allows. */
#define FDS_PER_SESSION 4

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* max_sessions within the descriptors there are: the default is lowered
 * to fit them; a value of one's own that does not fit is kept, and
 * warned about. */
static void fit_sessions(struct gw_config *cfg, bool quiet)
{
	struct rlimit rl;
	rlim_t fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= (rlim_t)cfg->max_sessions * FDS_PER_SESSION + 256)
		return;
	fit = rl.rlim_cur > 256 + FDS_PER_SESSION ? (rl.rlim_cur - 256) / FDS_PER_SESSION : 1;
	if (cfg->max_sessions == GW_MAX_SESSIONS_DEFAULT) {
		cfg->max_sessions = (uint32_t)fit;
		if (!quiet)
			gw_info("daemon.fds", "%llu file descriptors: max_sessions is %u (up to %d each);"
				" raise the limit (ulimit -n, LimitNOFILE=) for more",
				(unsigned long long)rl.rlim_cur, cfg->max_sessions, FDS_PER_SESSION);
		return;
	}
	gw_warn("daemon.fds", "only %llu file descriptors: fewer than max_sessions %u needs"
		" (up to %d each); raise the limit (ulimit -n, LimitNOFILE=)",
		(unsigned long long)rl.rlim_cur, cfg->max_sessions, FDS_PER_SESSION);
}

static int fail(const char *err)
{
	fprintf(stderr, "ftpsgate: %s\n", err);
	return 1;
}

/* Address bans reach every node on the same records (store's event
 * feed): one made here goes out, one made elsewhere comes in. */
static void ban_made_here(void *arg, enum gw_guard_kind kind, const char *key, int64_t left_ms)
{
	if (kind == GW_GUARD_ADDRESS)
		store_share_ban(arg, key, left_ms);
}

static void ban_made_elsewhere(void *arg, const char *address, int64_t left_ms)
{
	gw_guard_ban(arg, GW_GUARD_ADDRESS, address, left_ms, gw_mono_ms());
}

/* What the node reports with its heartbeat and to the API. */
static void node_report(void *arg, struct store_node_report *out)
{
	ftpd_report(arg, &out->sessions, &out->transfers, &out->draining);
}

/* A drain asked through the API (of this node, or of it through another
 * node's): the same as SIGTERM, which the main thread waits for. */
static volatile int drain_by_api;

static void node_drain(void *arg)
{
	(void)arg;
	__atomic_store_n(&drain_by_api, 1, __ATOMIC_RELAXED);
	if (kill(getpid(), SIGTERM) < 0)
		gw_error("daemon.drain", "cannot start draining: %s", strerror(errno));
}

static void store_params_from(const struct gw_config *cfg, struct store_params *sp)
{
	sp->data_dir = cfg->data_dir;
	sp->master_key_hex = cfg->master_key;
	sp->master_key_file = cfg->master_key_file;
	sp->argon2_t_cost = cfg->argon2_t_cost;
	sp->argon2_m_cost_kib = cfg->argon2_m_cost_kib;
	sp->argon2_parallelism = cfg->argon2_parallelism;
	sp->min_free_bytes = (uint64_t)cfg->min_free_mib * 1024 * 1024;
	sp->login_cache_s = cfg->login_cache_s;
	sp->database_url = cfg->database_url;
	sp->database_pool = cfg->database_pool;
	sp->database_timeout_ms = cfg->database_timeout_ms;
	sp->node_id = cfg->node_id;
	sp->import_lease_s = cfg->import_lease_s;
	sp->accept_command = cfg->accept_command;
	sp->accept_timeout_s = cfg->accept_timeout_s;
	sp->storage_url = cfg->storage_url;
	sp->s3_endpoint = cfg->s3_endpoint;
	sp->s3_region = cfg->s3_region;
	sp->s3_addressing = cfg->s3_addressing;
	sp->s3_ca_file = cfg->s3_ca_file;
	sp->s3_part_mib = cfg->s3_part_mib;
	sp->s3_parts_in_flight = cfg->s3_parts_in_flight;
	sp->s3_senders = cfg->s3_senders;
	sp->s3_timeout_s = cfg->s3_timeout_s;
}

/* ftpsgate migrate-records --from sqlite:[DIR] --to postgresql://... */
static int migrate_records(struct gw_config *cfg, int argc, char **argv)
{
	const char *from = NULL, *to = NULL;
	int64_t copied[STORE_MIGRATE_TABLES];
	struct store_params sp;
	char err[1024];
	size_t i;
	int r;

	for (int k = 0; k < argc; k++) {
		if (!strcmp(argv[k], "--from") && k + 1 < argc) {
			from = argv[++k];
		} else if (!strcmp(argv[k], "--to") && k + 1 < argc) {
			to = argv[++k];
		} else {
			fprintf(stderr, "ftpsgate: migrate-records: unknown argument '%s'\n", argv[k]);
			usage(stderr);
			return 2;
		}
	}
	if (!from || strncmp(from, "sqlite:", 7) || !to) {
		fprintf(stderr, "ftpsgate: migrate-records needs --from sqlite:[DATA_DIR]"
				" and --to postgresql://...\n");
		return 2;
	}
	if (from[7] && gw_strlcpy(cfg->data_dir, from + 7, sizeof(cfg->data_dir)) < 0)
		return fail("the data directory's name is too long");
	store_params_from(cfg, &sp);
	r = store_migrate_records(&sp, to, copied, err, sizeof(err));
	explicit_bzero(cfg->master_key, sizeof(cfg->master_key));
	if (r < 0)
		return fail(err);
	printf("copied from '%s' to PostgreSQL:", cfg->data_dir);
	for (i = 0; i < STORE_MIGRATE_TABLES; i++)
		printf("%s %lld %s", i ? "," : "", (long long)copied[i], store_migrate_table_name(i));
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	static struct gw_config cfg;
	const char *config_path = NULL, *command = NULL;
	char err[1024], cert[4096], key[4096];
	char token[STORE_TOKEN_LEN + 1];
	struct store_params sp;
	struct store *st = NULL;
	struct gw_pool *pool = NULL;
	struct ftpd_server *ftpd = NULL;
	struct admin_server *admin = NULL;
	struct gw_guard *guard = NULL;
	struct store_pipeline *pipeline = NULL;
	struct store_pipeline_params pp;
	bool generated = false;
	sigset_t sigs;
	int i, r, sig;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			config_path = argv[++i];
		} else if (!strcmp(argv[i], "migrate-records")) {
			command = argv[i++];
			break;
		} else if (!strcmp(argv[i], "--version")) {
			printf("ftpsgate %s\n", FTPSGATE_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "ftpsgate: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!config_path)
		config_path = getenv("FTPSGATE_CONFIG");

	/* argon2id allocates its whole memory cost per hash: keep such blocks
	 * mmap()ed so they go back to the system when freed, instead of
	 * glibc's dynamic threshold parking them in per-thread heaps. Below
	 * 1 MiB (an API page of 100 records is about 600 KiB) blocks come from
	 * the heap, which keeps up to 4 MiB free: no page faults per request. */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);

	/* Signals are taken by sigwait() below; no thread gets them. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	gw_config_defaults(&cfg);
	if (gw_config_load(&cfg, config_path, (const char *const *)environ, err, sizeof(err)) < 0)
		return fail(err);
	set_log_level(cfg.log_level);
	if (command) /* migrate-records: its arguments follow it */
		return migrate_records(&cfg, argc - i, argv + i);
	raise_fd_limit();
	fit_sessions(&cfg, false);
	if (gw_live_set(&cfg) < 0)
		return fail("out of memory");

	store_params_from(&cfg, &sp);
	r = store_open(&sp, &st, err, sizeof(err));
	explicit_bzero(cfg.master_key, sizeof(cfg.master_key));
	explicit_bzero(cfg.database_url, sizeof(cfg.database_url)); /* it may hold a password */
	if (r < 0)
		return fail(err);
	gw_log_set_node(store_node_id(st));
	r = store_admin_bootstrap(st, cfg.admin_token, token, &generated);
	explicit_bzero(cfg.admin_token, sizeof(cfg.admin_token));
	if (r < 0) {
		store_close(st);
		return fail("cannot set up the bootstrap admin token");
	}
	if (ftpd_prepare_tls(&cfg, cert, key, sizeof(cert), err, sizeof(err)) < 0)
		goto fail;
	memset(&pp, 0, sizeof(pp));
	pp.command = cfg.import_command;
	pp.stdin_plaintext = !strcmp(cfg.import_stdin, "plaintext");
	pp.stdin_as_is = !strcmp(cfg.import_stdin, "as-is");
	pp.workers = cfg.import_workers;
	pp.timeout_s = cfg.import_timeout_s;
	pp.attempts = cfg.import_attempts;
	pp.backoff_s = cfg.import_backoff_s;
	pp.retention_days = cfg.retention_days;
	pp.abandon_after_s = cfg.s3_abandon_after_s;
	if (cfg.import_command[0] && access(cfg.import_command, X_OK) < 0) {
		snprintf(err, sizeof(err), "cannot run import_command '%.512s': %s", cfg.import_command,
			 strerror(errno));
		goto fail;
	}
	r = store_pipeline_start(st, &pp, &pipeline);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot start the import pipeline: %s", strerror(-r));
		goto fail;
	}
	/* Password checks: a login storm runs argon2id on every worker, and
	 * at this nice value those threads give the CPU to running transfers. */
	r = gw_pool_new(cfg.workers, GW_NICE_PASSWORDS, &pool);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot start worker threads: %s", strerror(-r));
		goto fail;
	}
	r = gw_guard_new(GW_GUARD_ENTRIES_MAX, &guard);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot set up login guard: %s", strerror(-r));
		goto fail;
	}
	gw_guard_watch(guard, ban_made_here, st);
	store_watch_bans(st, ban_made_elsewhere, guard);
	if (ftpd_start(&cfg, cert, key, st, pool, guard, &ftpd, err, sizeof(err)) < 0)
		goto fail;
	{
		struct gw_counter *per_account, *per_address;

		ftpd_session_counters(ftpd, &per_account, &per_address);
		store_share_counters(st, per_account, per_address); /* limits across nodes */
		store_node_hooks(st, node_report, node_drain, ftpd);
	}
	if (admin_start(&cfg, cert, key, st, guard, &admin, err, sizeof(err)) < 0)
		goto fail;
	if (drop_privileges(&cfg, err, sizeof(err)) < 0)
		goto fail;
	if (generated) {
		fprintf(stderr,
			"ftpsgate: bootstrap admin token (shown once, stored hashed): %s\n", token);
		explicit_bzero(token, sizeof(token));
	}
	gw_info("daemon.ready", "ftpsgate %s ready; data in '%s', TLS certificate '%s'",
		FTPSGATE_VERSION, cfg.data_dir, cert);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			/* New sessions get the certificate as it is on disk now
			 * (a self-signed one, or the configured files). */
			gw_info("daemon.sighup", "SIGHUP: reloading the settings and the TLS certificate");
			reload_settings(config_path);
			if (ftpd_reload_tls(ftpd, cert, key, err, sizeof(err)) < 0 ||
			    admin_reload(admin, cert, key, err, sizeof(err)) < 0)
				gw_error("tls.reload", "%s; the running certificate stays", err);
			continue;
		}
		break;
	}
	if (sig == SIGTERM && gw_live()->shutdown_grace_s) {
		/* Accept no one new; let the transfers running finish. */
		unsigned grace_s = gw_live()->shutdown_grace_s;
		int64_t until = gw_mono_ms() + (int64_t)grace_s * 1000;
		unsigned running = ftpd_drain(ftpd);

		gw_info("daemon.stop", "%s: draining; no new sessions, %u transfer(s) may finish within"
			" %u s", __atomic_load_n(&drain_by_api, __ATOMIC_RELAXED) ? "drain asked through"
			" the API" : "SIGTERM", running, grace_s);
		while ((running = ftpd_drain(ftpd)) > 0 && gw_mono_ms() < until) {
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			siginfo_t si;

			/* a second SIGTERM or SIGINT stops at once */
			if (sigtimedwait(&sigs, &si, &ts) > 0 && si.si_signo != SIGHUP)
				break;
		}
		if (running)
			gw_warn("daemon.stop", "%u transfer(s) still running are kept as partial", running);
	}
	gw_info("daemon.stop", "signal %d received, stopping", sig);
	store_pipeline_stop(pipeline); /* a running hook is stopped; it runs again at start */
	admin_stop(admin);
	store_node_hooks(st, NULL, NULL, NULL);
	ftpd_stop(ftpd);
	gw_pool_free(pool);
	store_share_counters(st, NULL, NULL);
	ftpd_free(ftpd);
	store_watch_bans(st, NULL, NULL);
	gw_guard_free(guard);
	store_close(st);
	gw_info("daemon.stopped", "stopped");
	return 0;
fail:
	admin_stop(admin);
	store_node_hooks(st, NULL, NULL, NULL);
	ftpd_stop(ftpd);
	gw_pool_free(pool);
	store_share_counters(st, NULL, NULL);
	ftpd_free(ftpd);
	store_watch_bans(st, NULL, NULL);
	gw_guard_free(guard);
	store_pipeline_stop(pipeline);
	store_close(st);
	return fail(err);
}
