/* tlspipe.c - the limit an FTPS upload is measured against: one TLS 1.3
 * stream over loopback from a file into a file, fsynced at the end, with
 * the same OpenSSL and 256 KiB reads and writes; no FTP, no hashing.
 *
 *   tlspipe server PORT CERT KEY OUTFILE [direct] [http]   take one stream, exit
 *   tlspipe client PORT INFILE                             send INFILE, wait
 *
 * With "direct" the server writes whole 4 KiB blocks with O_DIRECT, as
 * ftpsgate does, and the tail through the page cache.
 *
 * With "http" the server takes one HTTP/1.1 PUT with a Content-Length
 * instead (curl -T FILE https://...): the stream is what follows the
 * request's header, and the answer, once the file is written and synced,
 * is "201 Created". That is the limit with curl itself as the client.
 *
 * The client prints the stream's time and rate once the server has
 * written, fsynced and closed (the point a 226 marks for FTPS), timed from
 * the end of the handshake (for FTPS clients, from the data phase's start:
 * see bench.py); its first line is "SECONDS BYTES".
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

/* http: the request's header is in buf[0..*fill); keep its body's start
 * there and return the body's length, from Content-Length. */
static long long http_header(char *buf, size_t *fill)
{
	char *end = memmem(buf, *fill, "\r\n\r\n", 4), *cl;
	long long len;

	if (!end)
		return -1; /* not all of it yet */
	*end = '\0';
	cl = strcasestr(buf, "\r\ncontent-length:");
	if (!cl)
		die("a PUT without Content-Length");
	len = strtoll(cl + 17, NULL, 10);
	end += 4;
	*fill -= (size_t)(end - buf);
	memmove(buf, end, *fill);
	return len;
}

static int server(int port, const char *cert, const char *key, const char *out, int direct,
		  int http)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int one = 1, lfd, fd, ofd, dfd = -1;
	char *buf = aligned_alloc(ALIGN, CHUNK);
	size_t fill = 0;
	off_t at = 0;
	long long body = -1; /* http: bytes of the body still to come */
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
		int n;

		if (http && body == 0)
			break;
		n = SSL_read(ssl, buf + fill,
			     (int)(http && body > 0 && (long long)(CHUNK - fill) > body ? (size_t)body
											: CHUNK - fill));
		if (n <= 0) {
			if (!http && SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN)
				break;
			die("read");
		}
		fill += (size_t)n;
		if (http && body < 0) {
			body = http_header(buf, &fill);
			if (body < 0) {
				if (fill == CHUNK)
					die("a request header of 256 KiB");
				continue;
			}
			body -= (long long)fill;
		} else if (http) {
			body -= n;
		}
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
	if (http) {
		static const char ok[] = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n"
					 "Connection: close\r\n\r\n";

		if (SSL_write(ssl, ok, (int)sizeof(ok) - 1) != (int)sizeof(ok) - 1)
			die("answer");
	}
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
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot connect");
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		die("handshake");
	t0 = now_s();
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
	printf("%.6f %lld\n%lld bytes in %.3f s: %.1f MiB/s\n", t1 - t0, total, total, t1 - t0,
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
	if (argc >= 6 && argc <= 8 && !strcmp(argv[1], "server")) {
		int direct = 0, http = 0;

		for (int i = 6; i < argc; i++) {
			if (!strcmp(argv[i], "direct"))
				direct = 1;
			else if (!strcmp(argv[i], "http"))
				http = 1;
			else
				goto usage;
		}
		return server(atoi(argv[2]), argv[3], argv[4], argv[5], direct, http);
	}
	if (argc == 4 && !strcmp(argv[1], "client"))
		return client(atoi(argv[2]), argv[3]);
usage:
	fprintf(stderr, "usage: tlspipe server PORT CERT KEY OUTFILE [direct] [http] |"
			" tlspipe client PORT INFILE\n");
	return 2;
}
