/* net.c - listening sockets. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw.h"

int gw_listen_tcp(const char *what, const char *host, uint16_t port, int backlog, int *out_fd,
		  char *err, size_t err_size)
{
	struct addrinfo hints, *res = NULL;
	char portstr[8];
	int fd, one = 1, r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", port);
	r = getaddrinfo(host, portstr, &hints, &res);
	if (r != 0) {
		snprintf(err, err_size, "cannot resolve %s listen address '%s': %s", what, host,
			 gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_size, "cannot create %s socket: %s", what, strerror(errno));
		freeaddrinfo(res);
		return r;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
		r = -errno;
		snprintf(err, err_size, "cannot listen for %s on %s:%u: %s", what, host, port,
			 strerror(errno));
		close(fd);
		freeaddrinfo(res);
		return r;
	}
	freeaddrinfo(res);
	*out_fd = fd;
	return 0;
}
