/* ftpsload.c - a load generator for FTPS servers, in C, so that the
 * client's own CPU is small and measured apart from the server's. Runs N
 * sessions at once (a thread each, released together); each connects
 * (implicit TLS, or AUTH TLS with -e), logs in, sends PBSZ 0, PROT P,
 * TYPE I and PASV, uploads SIZE bytes with STOR over a data connection
 * that resumes the control connection's TLS session, and QUITs.
 *
 *   ftpsload [-e] HOST PORT USER PASSWORD SESSIONS [SIZE [SOURCE...]]
 *
 * SIZE defaults to 65536; each SOURCE is a local address to connect from,
 * taken in turn. With -f FILE, each session uploads FILE instead (read in
 * 256 KiB pieces, as the raw TLS pipe's client of bench/tlspipe.c reads).
 * Prints "SESSIONS OK FAILED WALL_SECONDS DATA_SECONDS" on the first line
 * (the wall time from the release of all sessions to the end of the last;
 * the data phase from the first data connection's handshake to the last
 * 226), then up to 5 of the errors. Exits 0 when every session succeeded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_S 600
#define MAX_ERRORS 5

static const char *host, *user, *password;
static int port, explicit_tls;
static size_t size = 65536;
static char **sources;
static int nsources;
static SSL_CTX *ctx;
static unsigned char *payload;
static const char *file; /* -f: upload this file */
static double data_first, data_last; /* under lock: the data phase */
static pthread_barrier_t start;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int ok, failed;
static char errors[MAX_ERRORS][200];
static int nerrors;

struct conn {
	int fd;
	SSL *ssl;
	char buf[1024];
	size_t fill;
};

struct session {
	int index;
	struct conn ctrl, data;
	double data_start; /* the data connection's handshake done */
	char why[160];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(struct session *s, const char *what)
{
	unsigned long e = ERR_get_error();

	if (e)
		snprintf(s->why, sizeof(s->why), "%s: %s", what, ERR_reason_error_string(e));
	else
		snprintf(s->why, sizeof(s->why), "%s%s%s", what, errno ? ": " : "",
			 errno ? strerror(errno) : "");
	ERR_clear_error();
	return -1;
}

static int dial(struct session *s, int to_port, struct conn *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)to_port) };
	struct timeval tv = { TIMEOUT_S, 0 };

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return fail(s, "socket");
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (nsources) {
		struct sockaddr_in from = { .sin_family = AF_INET };

		if (inet_pton(AF_INET, sources[s->index % nsources], &from.sin_addr) != 1 ||
		    bind(c->fd, (struct sockaddr *)&from, sizeof(from)) < 0)
			return fail(s, "bind to the source address");
	}
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		errno = EINVAL;
		return fail(s, "HOST must be an IPv4 address");
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail(s, "connect");
	return 0;
}

static int tls(struct session *s, struct conn *c, SSL_SESSION *resume)
{
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return fail(s, "SSL_new");
	if (resume)
		SSL_set_session(c->ssl, resume);
	if (SSL_connect(c->ssl) != 1)
		return fail(s, "TLS handshake");
	return 0;
}

static int put(struct session *s, struct conn *c, const void *p, size_t len)
{
	while (len) {
		int n = c->ssl ? SSL_write(c->ssl, p, len > 1 << 20 ? 1 << 20 : (int)len)
			       : (int)send(c->fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return fail(s, "write");
		p = (const char *)p + n;
		len -= (size_t)n;
	}
	return 0;
}

/* One line (without CRLF) into line. */
static int get_line(struct session *s, struct conn *c, char *line, size_t cap)
{
	line[0] = '\0';
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->fill);
		int n;

		if (nl) {
			size_t len = (size_t)(nl - c->buf);

			if (len && c->buf[len - 1] == '\r')
				len--;
			if (len >= cap)
				len = cap - 1;
			memcpy(line, c->buf, len);
			line[len] = '\0';
			c->fill -= (size_t)(nl + 1 - c->buf);
			memmove(c->buf, nl + 1, c->fill);
			return 0;
		}
		if (c->fill == sizeof(c->buf)) {
			errno = EPROTO;
			return fail(s, "reply line too long");
		}
		n = c->ssl ? SSL_read(c->ssl, c->buf + c->fill, (int)(sizeof(c->buf) - c->fill))
			   : (int)recv(c->fd, c->buf + c->fill, sizeof(c->buf) - c->fill, 0);
		if (n <= 0) {
			errno = n == 0 ? ECONNRESET : errno;
			return fail(s, "reading a reply");
		}
		c->fill += (size_t)n;
	}
}

/* The reply's code, its last line in line (RFC 959: a multi-line reply
 * ends with its code and a space). */
static int reply(struct session *s, struct conn *c, char *line, size_t cap)
{
	char first[4];

	if (get_line(s, c, line, cap) < 0)
		return -1;
	if (strlen(line) >= 4 && line[3] == '-') {
		memcpy(first, line, 3);
		first[3] = ' ';
		do {
			if (get_line(s, c, line, cap) < 0)
				return -1;
		} while (strncmp(line, first, 4) != 0);
	}
	return (int)strtol(line, NULL, 10);
}

/* Send a command, expect a reply of class want (2: 2xx, ...). */
static int command(struct session *s, const char *cmd, int want, char *line, size_t cap)
{
	char out[600];
	int code;

	snprintf(out, sizeof(out), "%s\r\n", cmd);
	if (put(s, &s->ctrl, out, strlen(out)) < 0)
		return -1;
	code = reply(s, &s->ctrl, line, cap);
	if (code < 0)
		return -1;
	if (code / 100 != want) {
		char verb[8];

		snprintf(verb, sizeof(verb), "%.4s", cmd);
		snprintf(s->why, sizeof(s->why), "%s: %.140s", verb, line);
		return -1;
	}
	return code;
}

static int passive_port(struct session *s, const char *line)
{
	unsigned h[6];
	const char *p = strchr(line, '(');

	if (!p || sscanf(p, "(%u,%u,%u,%u,%u,%u)", &h[0], &h[1], &h[2], &h[3], &h[4], &h[5]) != 6) {
		snprintf(s->why, sizeof(s->why), "PASV: %.140s", line);
		return -1;
	}
	return (int)(h[4] * 256 + h[5]);
}

static int put_file(struct session *s)
{
	enum { PIECE = 256 * 1024 };
	unsigned char *piece = malloc(PIECE);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;
	int r = 0;

	if (!piece || fd < 0)
		r = fail(s, piece ? "open the file" : "out of memory");
	while (r == 0 && (n = read(fd, piece, PIECE)) > 0)
		r = put(s, &s->data, piece, (size_t)n);
	if (r == 0 && n < 0)
		r = fail(s, "read the file");
	if (fd >= 0)
		close(fd);
	free(piece);
	return r;
}

static void close_conn(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

static int one_session(struct session *s)
{
	char line[512], cmd[600];
	SSL_SESSION *resume;
	int data_port, r;

	if (dial(s, port, &s->ctrl) < 0)
		return -1;
	if (explicit_tls) {
		if (reply(s, &s->ctrl, line, sizeof(line)) != 220 ||
		    command(s, "AUTH TLS", 2, line, sizeof(line)) < 0)
			return -1;
	}
	if (tls(s, &s->ctrl, NULL) < 0)
		return -1;
	if (!explicit_tls && reply(s, &s->ctrl, line, sizeof(line)) != 220)
		return s->why[0] ? -1 : fail(s, "no 220 greeting");
	snprintf(cmd, sizeof(cmd), "USER %s", user);
	if (command(s, cmd, 3, line, sizeof(line)) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "PASS %s", password);
	if (command(s, cmd, 2, line, sizeof(line)) < 0 || command(s, "PBSZ 0", 2, line, sizeof(line)) < 0 ||
	    command(s, "PROT P", 2, line, sizeof(line)) < 0 || command(s, "TYPE I", 2, line, sizeof(line)) < 0 ||
	    command(s, "PASV", 2, line, sizeof(line)) < 0)
		return -1;
	data_port = passive_port(s, line);
	if (data_port < 0 || dial(s, data_port, &s->data) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "STOR load%d.bin", s->index);
	if (command(s, cmd, 1, line, sizeof(line)) < 0)
		return -1;
	resume = SSL_get1_session(s->ctrl.ssl);
	r = tls(s, &s->data, resume);
	SSL_SESSION_free(resume);
	s->data_start = now_s();
	if (r < 0 || (file ? put_file(s) : put(s, &s->data, payload, size)) < 0)
		return -1;
	/* close_notify: the upload is whole; then wait for the server to
	 * close its side, so that nothing it sent (a session ticket) is left
	 * unread here, which would make the close a reset that can cost the
	 * server the end of the upload */
	if (SSL_shutdown(s->data.ssl) == 0) {
		char sink[256];

		while (SSL_read(s->data.ssl, sink, sizeof(sink)) > 0)
			;
	}
	close_conn(&s->data);
	r = reply(s, &s->ctrl, line, sizeof(line));
	if (r < 0)
		return -1;
	if (r != 226) {
		snprintf(s->why, sizeof(s->why), "STOR: %.140s", line);
		return -1;
	}
	if (command(s, "QUIT", 2, line, sizeof(line)) < 0)
		return -1;
	SSL_shutdown(s->ctrl.ssl);
	return 0;
}

static void *run(void *arg)
{
	struct session *s = arg;
	int r;

	s->ctrl.fd = s->data.fd = -1;
	pthread_barrier_wait(&start);
	errno = 0;
	r = one_session(s);
	close_conn(&s->data);
	close_conn(&s->ctrl);
	ERR_clear_error();
	pthread_mutex_lock(&lock);
	if (r == 0) {
		double end = now_s();

		if (!data_first || s->data_start < data_first)
			data_first = s->data_start;
		if (end > data_last)
			data_last = end;
		ok++;
	} else {
		failed++;
		if (nerrors < MAX_ERRORS)
			snprintf(errors[nerrors++], sizeof(errors[0]), "session %d: %s", s->index,
				 s->why[0] ? s->why : "failed");
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	pthread_attr_t attr;
	pthread_t *threads;
	struct session *ss;
	double t0;
	int n, i, created = 0, arg = 1;

	for (; arg < argc && argv[arg][0] == '-'; arg++) {
		if (!strcmp(argv[arg], "-e")) {
			explicit_tls = 1;
		} else if (!strcmp(argv[arg], "-f") && arg + 1 < argc) {
			file = argv[++arg];
		} else {
			arg = argc;
			break;
		}
	}
	if (argc - arg < 5) {
		fprintf(stderr, "usage: ftpsload [-e] [-f FILE] HOST PORT USER PASSWORD SESSIONS"
				" [SIZE [SOURCE...]]\n");
		return 2;
	}
	host = argv[arg];
	port = (int)strtol(argv[arg + 1], NULL, 10);
	user = argv[arg + 2];
	password = argv[arg + 3];
	n = (int)strtol(argv[arg + 4], NULL, 10);
	if (argc - arg > 5)
		size = strtoull(argv[arg + 5], NULL, 10);
	if (argc - arg > 6) {
		sources = argv + arg + 6;
		nsources = argc - arg - 6;
	}
	if (n <= 0 || port <= 0 || port > 65535) {
		fprintf(stderr, "ftpsload: SESSIONS and PORT must be positive\n");
		return 2;
	}
	/* two descriptors a session, and some */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max < 2 * (rlim_t)n + 64 ? rl.rlim_max : 2 * (rlim_t)n + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	payload = malloc(size ? size : 1);
	ss = calloc((size_t)n, sizeof(*ss));
	threads = calloc((size_t)n, sizeof(*threads));
	ctx = SSL_CTX_new(TLS_client_method());
	if (!payload || !ss || !threads || !ctx) {
		fprintf(stderr, "ftpsload: out of memory\n");
		free(payload);
		free(ss);
		free(threads);
		return 2;
	}
	for (size_t k = 0; k < size; k++)
		payload[k] = (unsigned char)(k * 2654435761u >> 13);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
	pthread_barrier_init(&start, NULL, (unsigned)n + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (i = 0; i < n; i++) {
		ss[i].index = i;
		if (pthread_create(&threads[i], &attr, run, &ss[i]) != 0) {
			fprintf(stderr, "ftpsload: cannot start session %d's thread\n", i);
			return 2; /* the others wait at the barrier: exit */
		}
		created++;
	}
	pthread_barrier_wait(&start);
	t0 = now_s();
	for (i = 0; i < created; i++)
		pthread_join(threads[i], NULL);
	printf("%d %d %d %.3f %.3f\n", n, ok, failed, now_s() - t0, ok ? data_last - data_first : 0.0);
	for (i = 0; i < nerrors; i++)
		printf("%s\n", errors[i]);
	SSL_CTX_free(ctx);
	free(threads);
	free(ss);
	free(payload);
	return failed ? 1 : 0;
}
