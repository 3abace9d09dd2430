/* ftpd.h - the FTPS server: implicit TLS control connections, passive TLS
 * data connections, the protocol, and each account's view of its files.
 *
 * Threads: `loops` event-loop threads (epoll), each owning its sessions
 * and their data sockets; blocking work (argon2id, SQLite, fsync) goes to
 * the worker pool given at start. See docs/ARCHITECTURE.md.
 */
#ifndef FTPSGATE_FTPD_H
#define FTPSGATE_FTPD_H

#include <stddef.h>

#include "gw.h"
#include "gw_config.h"
#include "store.h"

struct ftpd_server;

/* Make sure a certificate exists (self-signed in data_dir/tls when none is
 * configured); the paths in use are written to cert and key. */
int ftpd_prepare_tls(const struct gw_config *cfg, char *cert, char *key, size_t size,
		     char *err, size_t err_size);
/* Bind the FTPS port and start the loops. cfg, st, pool and guard (failed
 * logins and bans) are borrowed and must outlive the server. */
int ftpd_start(const struct gw_config *cfg, const char *cert, const char *key,
	       struct store *st, struct gw_pool *pool, struct gw_guard *guard,
	       struct ftpd_server **out, char *err, size_t err_size);
/* Load the certificate and key again (SIGHUP): new sessions use them,
 * running ones go on with theirs. On failure the old one stays. */
int ftpd_reload_tls(struct ftpd_server *srv, const char *cert, const char *key, char *err,
		    size_t err_size);
/* The server's session counts per account (keys: account ids) and per
 * client address: borrowed, valid until ftpd_free. */
void ftpd_session_counters(struct ftpd_server *srv, struct gw_counter **per_account,
			   struct gw_counter **per_address);
/* Draining: the listeners close (a balancer's connection is refused at
 * once and goes to another node), sessions end with a 421 once no
 * transfer of theirs runs; returns how many transfers still run. Call
 * again to watch them end. */
unsigned ftpd_drain(struct ftpd_server *srv);
/* What the node is doing: sessions, transfers running, draining. */
void ftpd_report(struct ftpd_server *srv, unsigned *sessions, unsigned *transfers,
		 bool *draining);
/* Stop accepting and stop the loops (joins them). */
void ftpd_stop(struct ftpd_server *srv);
/* After the worker pool is gone: record unfinished uploads as partial and
 * free everything. */
void ftpd_free(struct ftpd_server *srv);

#endif
