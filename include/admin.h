/* admin.h - the REST API for transfer admins (HTTPS, JSON). */
#ifndef FTPSGATE_ADMIN_H
#define FTPSGATE_ADMIN_H

#include <stddef.h>

#include "gw_config.h"
#include "store.h"

struct admin_server;
struct gw_guard;

/* Listen on cfg->admin_host:admin_port with the PEM certificate and key
 * at cert/key. cfg, st and guard (the FTPS bans) are borrowed and must
 * outlive the server. */
int admin_start(const struct gw_config *cfg, const char *cert, const char *key,
		struct store *st, struct gw_guard *guard, struct admin_server **out, char *err,
		size_t err_size);
/* Serve new connections with the certificate and key read again
 * (SIGHUP); connections open keep theirs. */
int admin_reload(struct admin_server *srv, const char *cert, const char *key, char *err,
		 size_t err_size);
void admin_stop(struct admin_server *srv);

#endif
