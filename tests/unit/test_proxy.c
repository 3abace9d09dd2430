/* The PROXY protocol header parser and the address lists (CIDR). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "gw.h"

static const uint8_t sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
				 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

static int parse(const char *s, struct gw_proxy_header *h)
{
	return gw_proxy_parse((const uint8_t *)s, strlen(s), h);
}

static const char *src_text(const struct gw_proxy_header *h, char *out, size_t size)
{
	unsigned port;

	if (h->src.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&h->src;

		inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)size);
		port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const void *)&h->src;

		inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)size);
		port = ntohs(in6->sin6_port);
	}
	snprintf(out + strlen(out), size - strlen(out), " %u", port);
	return out;
}

static void test_v1(void)
{
	struct gw_proxy_header h;
	char text[80];
	const char *line = "PROXY TCP4 127.0.0.2 127.0.0.10 40000 990\r\n\x16\x03\x01";

	CHECK_INT(parse(line, &h), 1);
	CHECK_INT(h.version, 1);
	CHECK_INT(h.length, strlen(line) - 3); /* the TLS bytes after it are not the header's */
	CHECK(!h.local);
	CHECK_STR(src_text(&h, text, sizeof(text)), "127.0.0.2 40000");
	CHECK_INT(parse("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n", &h), 1);
	CHECK_STR(src_text(&h, text, sizeof(text)), "2001:db8::1 65535");
	CHECK_INT(parse("PROXY UNKNOWN\r\n", &h), 1);
	CHECK(h.local);
	CHECK_INT(h.length, 15);
	CHECK_INT(parse("PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n", &h), 1);
	CHECK(h.local);
	/* not yet whole: every byte so far is the header's */
	CHECK_INT(parse("", &h), 0);
	CHECK_INT(parse("PRO", &h), 0);
	CHECK_INT(parse("PROXY TCP4 127.0.0.2 127.0", &h), 0);
	CHECK_INT(parse("PROXY TCP4 127.0.0.2 127.0.0.10 40000 990\r", &h), 0);
	/* wrong */
	CHECK_INT(parse("GET / HTTP/1.0\r\n", &h), -EPROTO);
	CHECK_INT(parse("\x16\x03\x01\x02", &h), -EPROTO);
	CHECK_INT(parse("PROXY TCP4 127.0.0.2 127.0.0.10 40000\r\n", &h), -EPROTO);
	CHECK_INT(parse("PROXY TCP4 127.0.0.2 127.0.0.10 40000 990 7\r\n", &h), -EPROTO);
	CHECK_INT(parse("PROXY TCP4 127.0.0.2  127.0.0.10 40000 990\r\n", &h), -EPROTO);
	CHECK_INT(parse("PROXY TCP4 127.0.0.2 127.0.0.10 40000 990 \r\n", &h), -EPROTO);
	CHECK_INT(parse("PROXY TCP4 ::1 127.0.0.10 40000 990\r\n", &h), -EPROTO);
	CHECK_INT(parse("PROXY TCP6 127.0.0.1 ::1 40000 990\r\n", &h), -EPROTO);
	CHECK_INT(parse("PROXY TCP4 127.0.0.2 127.0.0.10 65536 990\r\n", &h), -EPROTO);
	CHECK_INT(parse("PROXY TCP4 127.0.0.2 127.0.0.10 0400 990\r\n", &h), -EPROTO);
	CHECK_INT(parse("PROXY TCP4 127.0.0.2 127.0.0.10 -1 990\r\n", &h), -EPROTO);
	CHECK_INT(parse("PROXY UDP4 127.0.0.2 127.0.0.10 1 990\r\n", &h), -EPROTO);
	CHECK_INT(parse("PROXY TCP4 127.0.0.2 127.0.0.10 1 990\n", &h), -EPROTO);
	CHECK_INT(parse("proxy TCP4 127.0.0.2 127.0.0.10 1 990\r\n", &h), -EPROTO);
	{
		char longer[200];

		memset(longer, 'x', sizeof(longer) - 1);
		longer[sizeof(longer) - 1] = '\0';
		memcpy(longer, "PROXY UNKNOWN ", 14);
		CHECK_INT(parse(longer, &h), -EPROTO); /* no CRLF within 107 bytes */
		longer[106] = '\0';
		CHECK_INT(parse(longer, &h), 0);
	}
}

static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, size_t n,
		 size_t tlv)
{
	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)((n + tlv) >> 8);
	out[15] = (uint8_t)(n + tlv);
	memcpy(out + 16, body, n);
	memset(out + 16 + n, 0x20, tlv);
	return 16 + n + tlv;
}

static void test_v2(void)
{
	static const uint8_t in4[12] = { 127, 0, 0, 2, 127, 0, 0, 10, 0x9c, 0x40, 0x03, 0xde };
	uint8_t in6[36] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint8_t buf[400];
	struct gw_proxy_header h;
	char text[80];
	size_t n;

	n = v2(buf, 0x21, 0x11, in4, sizeof(in4), 0);
	CHECK_INT(gw_proxy_parse(buf, n, &h), 1);
	CHECK_INT(h.version, 2);
	CHECK_INT(h.length, 28);
	CHECK(!h.local);
	CHECK_STR(src_text(&h, text, sizeof(text)), "127.0.0.2 40000");
	for (size_t i = 0; i < n; i++) /* a prefix needs more */
		CHECK_INT(gw_proxy_parse(buf, i, &h), 0);
	/* TLVs: the length covers them; the address is known before they arrive */
	n = v2(buf, 0x21, 0x11, in4, sizeof(in4), 100);
	CHECK_INT(n, 128);
	CHECK_INT(gw_proxy_parse(buf, 28, &h), 1);
	CHECK_INT(h.length, 128);
	in6[15] = 1;
	in6[32] = 0x12;
	in6[33] = 0x34;
	n = v2(buf, 0x21, 0x21, in6, sizeof(in6), 0);
	CHECK_INT(gw_proxy_parse(buf, n, &h), 1);
	CHECK_STR(src_text(&h, text, sizeof(text)), "2001:db8::1 4660");
	/* LOCAL (a balancer's health check) and UNSPEC: the connection stands */
	n = v2(buf, 0x20, 0x00, in4, 0, 0);
	CHECK_INT(gw_proxy_parse(buf, n, &h), 1);
	CHECK(h.local);
	CHECK_INT(h.length, 16);
	n = v2(buf, 0x21, 0x00, in4, 0, 0);
	CHECK_INT(gw_proxy_parse(buf, n, &h), 1);
	CHECK(h.local);
	/* wrong: version, command, UDP, a body too short, the signature */
	n = v2(buf, 0x11, 0x11, in4, sizeof(in4), 0);
	CHECK_INT(gw_proxy_parse(buf, n, &h), -EPROTO);
	n = v2(buf, 0x22, 0x11, in4, sizeof(in4), 0);
	CHECK_INT(gw_proxy_parse(buf, n, &h), -EPROTO);
	n = v2(buf, 0x21, 0x12, in4, sizeof(in4), 0);
	CHECK_INT(gw_proxy_parse(buf, n, &h), -EPROTO);
	n = v2(buf, 0x21, 0x11, in4, 8, 0);
	CHECK_INT(gw_proxy_parse(buf, n, &h), -EPROTO);
	n = v2(buf, 0x21, 0x11, in4, sizeof(in4), 0);
	buf[5] = 0;
	CHECK_INT(gw_proxy_parse(buf, n, &h), -EPROTO);
	CHECK_INT(gw_proxy_parse(buf, 5, &h), 0);
	CHECK(gw_proxy_may_start(sig, 3));
	CHECK(gw_proxy_may_start((const uint8_t *)"PROXY TCP4", 10));
	CHECK(!gw_proxy_may_start((const uint8_t *)"\x16\x03\x01", 3));
}

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		ss.ss_family = AF_INET6;
		inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr);
	} else {
		ss.ss_family = AF_INET;
		inet_pton(AF_INET, text, &((struct sockaddr_in *)(void *)&ss)->sin_addr);
	}
	return ss;
}

static void test_cidr(void)
{
	struct gw_cidr list[4];
	struct sockaddr_storage ss;
	size_t n = 99;
	char err[160];

	CHECK_INT(gw_cidr_list_parse("", list, 4, &n, err, sizeof(err)), 0);
	CHECK_INT(n, 0);
	CHECK_INT(gw_cidr_list_parse("127.0.0.10, 10.0.0.0/8 2001:db8::/32", list, 4, &n, err,
				     sizeof(err)), 0);
	CHECK_INT(n, 3);
	ss = addr("127.0.0.10");
	CHECK(gw_cidr_match(list, n, &ss));
	ss = addr("127.0.0.11");
	CHECK(!gw_cidr_match(list, n, &ss));
	ss = addr("10.200.3.4");
	CHECK(gw_cidr_match(list, n, &ss));
	ss = addr("11.0.0.1");
	CHECK(!gw_cidr_match(list, n, &ss));
	ss = addr("::ffff:10.1.1.1"); /* IPv4 on a dual-stack socket */
	CHECK(gw_cidr_match(list, n, &ss));
	ss = addr("2001:db8:ffff::1");
	CHECK(gw_cidr_match(list, n, &ss));
	ss = addr("2001:db9::1");
	CHECK(!gw_cidr_match(list, n, &ss));
	CHECK_INT(gw_cidr_list_parse("127.0.0.0/25,127.0.0.128/26", list, 4, &n, err, sizeof(err)), 0);
	ss = addr("127.0.0.127");
	CHECK(gw_cidr_match(list, n, &ss));
	ss = addr("127.0.0.191");
	CHECK(gw_cidr_match(list, n, &ss));
	ss = addr("127.0.0.192");
	CHECK(!gw_cidr_match(list, n, &ss));
	CHECK_INT(gw_cidr_list_parse("0.0.0.0/0", list, 4, &n, err, sizeof(err)), 0);
	ss = addr("8.8.8.8");
	CHECK(gw_cidr_match(list, n, &ss));
	ss = addr("::1");
	CHECK(!gw_cidr_match(list, n, &ss));
	CHECK_INT(gw_cidr_list_parse("10.0.0.1/8", list, 4, &n, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "10.0.0.1/8") != NULL);
	CHECK_INT(gw_cidr_list_parse("10.0.0.0/33", list, 4, &n, err, sizeof(err)), -EINVAL);
	CHECK_INT(gw_cidr_list_parse("10.0.0.0/", list, 4, &n, err, sizeof(err)), -EINVAL);
	CHECK_INT(gw_cidr_list_parse("example.com", list, 4, &n, err, sizeof(err)), -EINVAL);
	CHECK_INT(gw_cidr_list_parse("1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5", list, 4, &n, err,
				     sizeof(err)), -E2BIG);
}

int main(void)
{
	test_v1();
	test_v2();
	test_cidr();
	return check_report("test_proxy");
}
