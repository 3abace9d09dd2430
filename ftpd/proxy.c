/* proxy.c - the PROXY protocol header on FTPS connections: read from a
 * trusted load balancer without taking a byte past it (what follows is
 * the client's TLS, for OpenSSL), refused from anyone else.
 *
 * The bytes are looked at with MSG_PEEK and only the header's are taken:
 * while the header is incomplete every byte seen is the header's, so it
 * is taken and kept; once it is known, exactly the rest of it (v2's TLVs)
 * is read and dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "engine.h"

struct ftpd_proxy_read {
	uint8_t buf[232]; /* the longest header we look into: v2 with a UNIX address */
	size_t have;
	size_t skip; /* the rest of a known header, not yet read */
	bool known;
	struct gw_proxy_header h;
};

int ftpd_proxy_mode(const struct ftpd_server *srv, const struct sockaddr_storage *peer,
		    bool data)
{
	if (srv->proxy == FTPD_PROXY_OFF)
		return FTPD_PROXY_NONE;
	if (gw_cidr_match(srv->proxy_trusted, srv->nproxy_trusted, peer)) {
		if (!data || srv->proxy == FTPD_PROXY_ALL)
			return FTPD_PROXY_EXPECT;
		return FTPD_PROXY_BALANCER; /* a data connection through it, headerless */
	}
	return FTPD_PROXY_REFUSE_HEADER;
}

static ssize_t take(int fd, void *buf, size_t n)
{
	ssize_t r = recv(fd, buf, n, 0);

	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	return r == 0 ? -ECONNRESET : r;
}

int ftpd_proxy_read(int fd, struct ftpd_proxy_read **state, struct gw_proxy_header *out)
{
	struct ftpd_proxy_read *p = *state;
	uint8_t drop[512];
	ssize_t n;
	int r;

	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		*state = p;
	}
	while (!p->known) {
		n = recv(fd, p->buf + p->have, sizeof(p->buf) - p->have, MSG_PEEK);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
		if (n == 0)
			return -ECONNRESET;
		r = gw_proxy_parse(p->buf, p->have + (size_t)n, &p->h);
		if (r < 0)
			return -EPROTO;
		if (r == 0) {
			/* all header: take them, look for more */
			if (take(fd, p->buf + p->have, (size_t)n) != n)
				return -EIO;
			p->have += (size_t)n;
			if (p->have == sizeof(p->buf))
				return -EPROTO;
			continue;
		}
		p->known = true;
		p->skip = p->h.length - p->have;
	}
	while (p->skip) {
		n = take(fd, drop, p->skip < sizeof(drop) ? p->skip : sizeof(drop));
		if (n < 0)
			return (int)n;
		p->skip -= (size_t)n;
	}
	*out = p->h;
	free(p);
	*state = NULL;
	return 0;
}

void ftpd_proxy_read_free(struct ftpd_proxy_read **state)
{
	free(*state);
	*state = NULL;
}

int ftpd_proxy_check_none(int fd)
{
	uint8_t first;
	ssize_t n = recv(fd, &first, 1, MSG_PEEK);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	if (n == 0)
		return -ECONNRESET;
	return gw_proxy_may_start(&first, 1) ? -EPROTO : 0;
}
