/* proxy.c - the PROXY protocol header a load balancer puts before a
 * connection's first byte (versions 1 and 2, HAProxy's specification),
 * and the address lists (CIDR) that say whom to believe it from.
 *
 * Nothing here reads a socket: gw_proxy_parse looks at the bytes it is
 * given and says whether the header is complete, needs more, or is not a
 * header. The reader (ftpd/) never takes a byte past the header, so what
 * follows (a TLS ClientHello) is left in the socket for OpenSSL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "gw.h"

static const uint8_t v2_sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
				    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };
static const char v1_sig[] = "PROXY ";

#define V1_MAX 107 /* the longest line, CRLF included */

/* "0".."65535" without a sign, a leading zero (but "0" itself) or more. */
static int v1_port(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EPROTO;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -EPROTO;
	*out = (uint16_t)v;
	return 0;
}

static int v1_addr(int family, const char *s, size_t n, struct sockaddr_storage *ss)
{
	char text[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(text))
		return -EPROTO;
	memcpy(text, s, n);
	text[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;

		in->sin_family = AF_INET;
		return inet_pton(AF_INET, text, &in->sin_addr) == 1 ? 0 : -EPROTO;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;

	in6->sin6_family = AF_INET6;
	return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1 ? 0 : -EPROTO;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)(void *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons(port);
}

/* "PROXY TCP4 src dst sport dport\r\n", "PROXY TCP6 …", "PROXY UNKNOWN…\r\n" */
static int parse_v1(const uint8_t *buf, size_t len, struct gw_proxy_header *out)
{
	const char *line = (const char *)buf, *f[6];
	size_t flen[6], end, i, nf = 0, pos;
	int family;
	uint16_t sport, dport;
	bool found = false;

	for (end = 0; end + 1 < len && end + 2 <= V1_MAX; end++)
		if (buf[end] == '\r' && buf[end + 1] == '\n') {
			found = true;
			break;
		}
	if (!found) {
		/* no CRLF yet: a header is at most V1_MAX bytes */
		if (len >= V1_MAX)
			return -EPROTO;
		for (i = 0; i < len; i++)
			if (buf[i] == '\n' || buf[i] == '\0')
				return -EPROTO;
		return 0;
	}
	/* fields separated by exactly one space */
	for (pos = 0; pos <= end && nf < 6;) {
		size_t n = 0;

		while (pos + n < end && line[pos + n] != ' ')
			n++;
		f[nf] = line + pos;
		flen[nf++] = n;
		pos += n + 1;
		if (pos > end)
			break;
	}
	if (nf < 2 || flen[0] != 5 || memcmp(f[0], "PROXY", 5))
		return -EPROTO;
	memset(out, 0, sizeof(*out));
	out->version = 1;
	out->length = end + 2;
	if (flen[1] == 7 && !memcmp(f[1], "UNKNOWN", 7)) {
		out->local = true; /* the rest of the line is to be ignored */
		return 1;
	}
	if (flen[1] == 4 && !memcmp(f[1], "TCP4", 4))
		family = AF_INET;
	else if (flen[1] == 4 && !memcmp(f[1], "TCP6", 4))
		family = AF_INET6;
	else
		return -EPROTO;
	if (nf != 6 || pos <= end)
		return -EPROTO;
	for (i = 0; i < 6; i++)
		if (flen[i] == 0)
			return -EPROTO;
	if (v1_addr(family, f[2], flen[2], &out->src) < 0 ||
	    v1_addr(family, f[3], flen[3], &out->dst) < 0 || v1_port(f[4], flen[4], &sport) < 0 ||
	    v1_port(f[5], flen[5], &dport) < 0)
		return -EPROTO;
	set_port(&out->src, sport);
	set_port(&out->dst, dport);
	return 1;
}

static int parse_v2(const uint8_t *buf, size_t len, struct gw_proxy_header *out)
{
	size_t body, need;
	unsigned cmd, fam, proto;

	if (len < 16)
		return 0;
	if ((buf[12] >> 4) != 2)
		return -EPROTO;
	cmd = buf[12] & 0x0F;
	fam = buf[13] >> 4;
	proto = buf[13] & 0x0F;
	body = (size_t)buf[14] << 8 | buf[15];
	if (cmd > 1 || fam > 3 || proto > 2)
		return -EPROTO;
	memset(out, 0, sizeof(*out));
	out->version = 2;
	out->length = 16 + body;
	if (cmd == 0 || fam == 0 || fam == 3) {
		/* LOCAL (the balancer's own check), or an address we do not
		 * serve: the connection's own addresses stand. */
		out->local = true;
		return 1;
	}
	if (proto != 1) /* a stream carried over UDP, or unspecified */
		return -EPROTO;
	need = fam == 1 ? 12 : 36;
	if (body < need)
		return -EPROTO;
	if (len < 16 + need)
		return 0;
	if (fam == 1) {
		struct sockaddr_in *s = (struct sockaddr_in *)(void *)&out->src;
		struct sockaddr_in *d = (struct sockaddr_in *)(void *)&out->dst;

		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, buf + 16, 4);
		memcpy(&d->sin_addr, buf + 20, 4);
		memcpy(&s->sin_port, buf + 24, 2);
		memcpy(&d->sin_port, buf + 26, 2);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)(void *)&out->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)(void *)&out->dst;

		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, buf + 16, 16);
		memcpy(&d->sin6_addr, buf + 32, 16);
		memcpy(&s->sin6_port, buf + 48, 2);
		memcpy(&d->sin6_port, buf + 50, 2);
	}
	return 1;
}

int gw_proxy_parse(const uint8_t *buf, size_t len, struct gw_proxy_header *out)
{
	size_t n;

	if (len == 0)
		return 0;
	if (buf[0] == v2_sig[0]) {
		n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
		if (memcmp(buf, v2_sig, n))
			return -EPROTO;
		return parse_v2(buf, len, out);
	}
	n = len < sizeof(v1_sig) - 1 ? len : sizeof(v1_sig) - 1;
	if (memcmp(buf, v1_sig, n))
		return -EPROTO;
	return parse_v1(buf, len, out);
}

bool gw_proxy_may_start(const uint8_t *buf, size_t len)
{
	size_t n;

	if (len == 0)
		return true;
	if (buf[0] == v2_sig[0]) {
		n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
		return !memcmp(buf, v2_sig, n);
	}
	n = len < sizeof(v1_sig) - 1 ? len : sizeof(v1_sig) - 1;
	return !memcmp(buf, v1_sig, n);
}

/* ---------------------------------------------------------------- CIDR */

static int cidr_one(const char *s, size_t n, struct gw_cidr *out)
{
	char text[INET6_ADDRSTRLEN + 8], *slash;
	uint64_t bits;
	unsigned max;

	if (n == 0 || n >= sizeof(text))
		return -EINVAL;
	memcpy(text, s, n);
	text[n] = '\0';
	slash = strchr(text, '/');
	if (slash)
		*slash = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	bits = max;
	if (slash && gw_parse_u64(slash + 1, 0, max, &bits) < 0)
		return -EINVAL;
	out->bits = (uint8_t)bits;
	/* host bits set ("10.0.0.1/8") are a typo more often than not */
	for (unsigned i = out->bits; i < max; i++)
		if (out->addr[i / 8] & (0x80 >> (i % 8)))
			return -EINVAL;
	return 0;
}

int gw_cidr_list_parse(const char *s, struct gw_cidr *list, size_t cap, size_t *count,
		       char *err, size_t err_size)
{
	size_t n = 0;

	while (*s) {
		size_t len;

		s += strspn(s, " ,\t");
		len = strcspn(s, " ,\t");
		if (len == 0)
			break;
		if (n == cap) {
			snprintf(err, err_size, "more than %zu addresses", cap);
			return -E2BIG;
		}
		if (cidr_one(s, len, &list[n]) < 0) {
			snprintf(err, err_size, "'%.*s' is not an address or ADDRESS/BITS (host bits"
				 " must be zero)", (int)(len > 64 ? 64 : len), s);
			return -EINVAL;
		}
		n++;
		s += len;
	}
	*count = n;
	return 0;
}

static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole))
		return false;
	return !rest || !((a[whole] ^ b[whole]) & (uint8_t)(0xFF00 >> rest));
}

bool gw_cidr_match(const struct gw_cidr *list, size_t n, const struct sockaddr_storage *ss)
{
	const uint8_t *a;
	uint8_t v4[4];
	int family = ss->ss_family;

	if (family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)ss)->sin_addr;
	} else if (family == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
		/* an IPv4 client on a dual-stack socket: ::ffff:a.b.c.d */
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)a)) {
			memcpy(v4, a + 12, 4);
			a = v4;
			family = AF_INET;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (list[i].family == family && bits_equal(list[i].addr, a, list[i].bits))
			return true;
	return false;
}
