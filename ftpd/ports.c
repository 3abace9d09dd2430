/* ports.c - passive ports: the range shared by all sessions, the share each
 * account and each address may hold, and PASV/EPSV.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "engine.h"

void ftpd_addr_ip(const struct sockaddr_storage *ss, char *out, size_t size)
{
	const void *a;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out, (socklen_t)size);
			return;
		}
		a = &s6->sin6_addr;
	} else {
		a = &((const struct sockaddr_in *)(const void *)ss)->sin_addr;
	}
	if (!inet_ntop(ss->ss_family, a, out, (socklen_t)size))
		gw_strlcpy(out, "?", size);
}

bool ftpd_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	char x[INET6_ADDRSTRLEN], y[INET6_ADDRSTRLEN];

	ftpd_addr_ip(a, x, sizeof(x));
	ftpd_addr_ip(b, y, sizeof(y));
	return strcmp(x, y) == 0;
}

/* ---------------------------------------------------------------- passive ports */

static void port_unmark(struct ftpd_server *srv, uint16_t port)
{
	pthread_mutex_lock(&srv->port_lock);
	srv->port_used[port - srv->cfg->passive_min] = 0;
	pthread_mutex_unlock(&srv->port_lock);
}

/* The session's passive listener closed: its port is free again. */
void ftpd_port_release(struct ctrl *c)
{
	struct ftpd_server *srv = c->loop->srv;

	gw_metric_add(GW_M_PASSIVE_PORTS, -1);
	port_unmark(srv, c->d.port);
	gw_counter_give(srv->ports_per_account, c->account_key);
	gw_counter_give(srv->ports_per_address, c->peer_ip);
}

/* Take one of the passive ports the account and the address may hold:
 * 0, -EUSERS (the account's are all open), -ETOOMANYREFS (the address's). */
static int port_take_share(struct ctrl *c)
{
	struct ftpd_server *srv = c->loop->srv;

	if (!gw_counter_take(srv->ports_per_account, c->account_key, srv->max_ports_per_account))
		return -EUSERS;
	if (!gw_counter_take(srv->ports_per_address, c->peer_ip, srv->max_ports_per_address)) {
		gw_counter_give(srv->ports_per_account, c->account_key);
		return -ETOOMANYREFS;
	}
	return 0;
}

/* Open a listener on a free port of the range, on the control connection's
 * local address. Ports in use by other sessions are skipped; so are ports
 * some other program holds (EADDRINUSE). */
static int port_listen(struct ftpd_server *srv, const struct sockaddr_storage *local,
		       int *out_fd, uint16_t *out_port)
{
	unsigned range = (unsigned)srv->cfg->passive_max - srv->cfg->passive_min + 1;
	unsigned start, i;
	int last = -EADDRINUSE;

	gw_random(&start, sizeof(start));
	for (i = 0; i < range; i++) {
		unsigned idx = (start + i) % range;
		uint16_t port = (uint16_t)(srv->cfg->passive_min + idx);
		struct sockaddr_storage ss = *local;
		socklen_t len;
		int fd, one = 1;

		pthread_mutex_lock(&srv->port_lock);
		if (srv->port_used[idx]) {
			pthread_mutex_unlock(&srv->port_lock);
			continue;
		}
		srv->port_used[idx] = 1;
		pthread_mutex_unlock(&srv->port_lock);

		if (ss.ss_family == AF_INET6) {
			((struct sockaddr_in6 *)(void *)&ss)->sin6_port = htons(port);
			len = sizeof(struct sockaddr_in6);
		} else {
			((struct sockaddr_in *)(void *)&ss)->sin_port = htons(port);
			len = sizeof(struct sockaddr_in);
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			last = -errno;
			port_unmark(srv, port);
			return last;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) == 0 && listen(fd, 64) == 0) {
			*out_fd = fd;
			*out_port = port;
			gw_metric_add(GW_M_PASSIVE_PORTS, 1);
			return 0;
		}
		last = -errno;
		close(fd);
		port_unmark(srv, port);
		if (last != -EADDRINUSE)
			return last;
	}
	return -EADDRINUSE;
}

void ftpd_passive_open(struct ctrl *c, bool extended)
{
	struct ftpd_server *srv = c->loop->srv;
	struct data *d = &c->d;
	char ip[INET6_ADDRSTRLEN];
	int fd = -1, r;

	ftpd_data_reset(c);
	r = port_take_share(c);
	if (r < 0) {
		static struct gw_log_limit lim = GW_LOG_LIMIT(20, 10000);

		gw_log_limited(&lim, GW_LOG_WARN, "ftpd.passive",
			       "refused a passive port to account %lld from %s: %u open for the %s",
			       (long long)c->account_id, c->peer_ip,
			       r == -EUSERS ? srv->max_ports_per_account : srv->max_ports_per_address,
			       r == -EUSERS ? "account" : "address");
		ftpd_session_passive_done(&c->core, r, NULL, 0, extended);
		return;
	}
	r = port_listen(srv, &c->local, &fd, &d->port);
	if (r < 0) {
		gw_counter_give(srv->ports_per_account, c->account_key);
		gw_counter_give(srv->ports_per_address, c->peer_ip);
		gw_warn("ftpd.passive", "cannot open a passive port for %s: %s", c->peer_ip,
			r == -EADDRINUSE ? "every port of the range is in use" : strerror(-r));
		ftpd_session_passive_done(&c->core, r, NULL, 0, extended);
		return;
	}
	ftpd_watch_init(&d->lw, fd, ftpd_data_on_accept);
	ftpd_watch_set(c->loop, &d->lw, EPOLLIN);
	d->state = D_LISTEN;
	d->deadline = gw_mono_ms() + (int64_t)gw_live()->data_timeout_s * 1000;
	if (srv->passive_ipv4[0])
		gw_strlcpy(ip, srv->passive_ipv4, sizeof(ip));
	else
		ftpd_addr_ip(&c->reached, ip, sizeof(ip));
	if (!extended && !strchr(ip, '.')) {
		/* PASV can only name an IPv4 address. */
		ftpd_data_reset(c);
		ftpd_session_passive_done(&c->core, -EAFNOSUPPORT, NULL, 0, false);
		return;
	}
	/* A fresh TLS 1.3 ticket before each transfer keeps resumption
	 * working however long the session has been open. */
	ftpd_tls_refresh_ticket(c->tls);
	ftpd_session_passive_done(&c->core, 0, ip, d->port, extended);
}
