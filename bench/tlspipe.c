/* tlspipe.c - the limit an FTPS upload is measured against: one TLS 1.3
 * stream over loopback from a file into a file, fsynced at the end, with
 * the same OpenSSL and 256 KiB reads and writes; no FTP, no hashing.
 *
 *   tlspipe server PORT CERT KEY OUTFILE [direct]   take one stream, exit
 *   tlspipe client PORT INFILE                      send INFILE, wait
 *
 * With "direct" the server writes whole 4 KiB blocks with O_DIRECT, as
 * ftpsgate does, and the tail through the page cache.
 *
 * The client prints the stream's wall time and rate once the server has
 * written, fsynced and closed: the same point a 226 marks for FTPS.
 */
#define _GNU_SOURCE /* O_DIRECT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ALIGN 4096

#define CHUNK (256 * 1024)

static void die(const char *what)
{
	fprintf(stderr, "tlspipe: %s: %s\n", what, errno ? strerror(errno) : "failed");
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put(int fd, const char *p, size_t len, off_t at)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, at);

		if (n <= 0)
			die("write");
		p += n;
		len -= (size_t)n;
		at += n;
	}
}

static int server(int port, const char *cert, const char *key, const char *out, int direct)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int one = 1, lfd, fd, ofd, dfd = -1;
	char *buf = aligned_alloc(ALIGN, CHUNK);
	size_t fill = 0;
	off_t at = 0;
	SSL *ssl;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!ctx || !buf || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die("cannot load the certificate");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0)
		die("cannot listen");
	printf("ready\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("cannot accept");
	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (ofd < 0)
		die("cannot open the output file");
	if (direct && (dfd = open(out, O_WRONLY | O_DIRECT)) < 0)
		die("cannot open the output file with O_DIRECT");
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		die("handshake");
	for (;;) {
		int n = SSL_read(ssl, buf + fill, (int)(CHUNK - fill));

		if (n <= 0) {
			if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN)
				break;
			die("read");
		}
		fill += (size_t)n;
		if (!direct || fill == CHUNK) {
			put(direct ? dfd : ofd, buf, fill, at);
			at += (off_t)fill;
			fill = 0;
		}
	}
	if (fill) {
		size_t whole = fill & ~(size_t)(ALIGN - 1);

		if (whole)
			put(dfd, buf, whole, at);
		put(ofd, buf + whole, fill - whole, at + (off_t)whole);
	}
	if (fsync(ofd) < 0)
		die("fsync");
	close(ofd);
	if (dfd >= 0)
		close(dfd);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	close(lfd);
	SSL_CTX_free(ctx);
	free(buf);
	return 0;
}

static int client(int port, const char *in)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char *buf = malloc(CHUNK);
	long long total = 0;
	int fd, ifd;
	double t0, t1;
	SSL *ssl;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ifd = open(in, O_RDONLY);
	if (!ctx || !buf || ifd < 0)
		die("cannot open the input file");
	t0 = now_s();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot connect");
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		die("handshake");
	for (;;) {
		ssize_t n = read(ifd, buf, CHUNK);

		if (n < 0)
			die("read");
		if (n == 0)
			break;
		if (SSL_write(ssl, buf, (int)n) != n)
			die("send");
		total += n;
	}
	SSL_shutdown(ssl); /* close_notify: the whole file */
	while (SSL_read(ssl, buf, CHUNK) > 0)
		; /* until the server's close: its file is written and synced */
	t1 = now_s();
	printf("%lld bytes in %.3f s: %.1f MiB/s\n", total, t1 - t0,
	       (double)total / 1048576.0 / (t1 - t0));
	SSL_free(ssl);
	close(fd);
	close(ifd);
	SSL_CTX_free(ctx);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 6 || (argc == 7 && !strcmp(argv[6], "direct"))) && !strcmp(argv[1], "server"))
		return server(atoi(argv[2]), argv[3], argv[4], argv[5], argc == 7);
	if (argc == 4 && !strcmp(argv[1], "client"))
		return client(atoi(argv[2]), argv[3]);
	fprintf(stderr, "usage: tlspipe server PORT CERT KEY OUTFILE [direct] | tlspipe client PORT INFILE\n");
	return 2;
}
