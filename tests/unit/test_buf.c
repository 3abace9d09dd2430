/* Bounded buffers, bounded copies and number parsing. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "gw.h"

int main(void)
{
	struct gw_buf b;
	char small[4];
	uint64_t v = 0;
	uint16_t lo = 0, hi = 0, port = 0;
	char host[64];

	char ts[32];

	/* RFC 3339 times as the API shows them */
	gw_format_time(1795970309043, ts);
	CHECK_STR(ts, "2026-11-29T16:38:29.043Z");
	gw_format_time(1000, ts);
	CHECK_STR(ts, "1970-01-01T00:00:01.000Z");
	gw_format_time(253402300799999, ts);
	CHECK_STR(ts, "9999-12-31T23:59:59.999Z");
	gw_format_time(951782400000, ts); /* a leap day of a year divisible by 400 */
	CHECK_STR(ts, "2000-02-29T00:00:00.000Z");
	gw_format_time(-1, ts);
	CHECK_STR(ts, "1969-12-31T23:59:59.999Z");
	/* the same as gmtime_r() gives, across the years it can show (times
	 * from a fixed xorshift sequence: the same every run) */
	uint64_t seq = 88172645463325252ULL;
	for (int i = 0; i < 200000; i++) {
		int64_t ms;

		seq ^= seq << 13;
		seq ^= seq >> 7;
		seq ^= seq << 17;
		ms = (int64_t)(seq % 253402300800000ULL);
		time_t t = (time_t)(ms / 1000);
		struct tm tm;
		char want[96];

		gmtime_r(&t, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
		gw_format_time(ms, ts);
		if (strcmp(ts, want) != 0) {
			CHECK_STR(ts, want);
			break;
		}
	}

	gw_buf_init(&b, 8);
	CHECK_STR(gw_buf_str(&b), "");
	CHECK_INT(gw_buf_adds(&b, "abcd"), 0);
	CHECK_INT(gw_buf_addf(&b, "%d", 123), 0);
	CHECK_STR(gw_buf_str(&b), "abcd123");
	CHECK_INT(gw_buf_adds(&b, "xy"), -ENOBUFS); /* 9 > max 8 */
	CHECK_STR(gw_buf_str(&b), "abcd123");     /* unchanged */
	CHECK_INT(gw_buf_adds(&b, "z"), 0);       /* exactly max */
	gw_buf_consume(&b, 3);
	CHECK_STR(gw_buf_str(&b), "d123z");
	CHECK_INT(b.len, 5);
	gw_buf_consume(&b, 100);
	CHECK_INT(b.len, 0);
	gw_buf_release(&b);

	/* integers without printf, as printf writes them */
	gw_buf_init(&b, 4096);
	{
		const long long cases[] = { 0, 7, -1, 10, -10, 1234567890123LL, LLONG_MAX, LLONG_MIN };
		char want[32];

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			gw_buf_reset(&b);
			CHECK_INT(gw_buf_add_int(&b, cases[i]), 0);
			snprintf(want, sizeof(want), "%lld", cases[i]);
			CHECK_STR(gw_buf_str(&b), want);
		}
	}
	gw_buf_release(&b);

	CHECK_INT(gw_strlcpy(small, "abc", sizeof(small)), 0);
	CHECK_INT(gw_strlcpy(small, "abcd", sizeof(small)), -E2BIG);
	CHECK_STR(small, "abc");

	CHECK_INT(gw_parse_u64("42", 0, 100, &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(gw_parse_u64("", 0, 100, &v), -EINVAL);
	CHECK_INT(gw_parse_u64("-1", 0, 100, &v), -EINVAL);
	CHECK_INT(gw_parse_u64("1x", 0, 100, &v), -EINVAL);
	CHECK_INT(gw_parse_u64(" 1", 0, 100, &v), -EINVAL);
	CHECK_INT(gw_parse_u64("101", 0, 100, &v), -ERANGE);
	CHECK_INT(gw_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);

	CHECK_INT(gw_parse_port_range("60000-61000", &lo, &hi), 0);
	CHECK_INT(lo, 60000);
	CHECK_INT(hi, 61000);
	CHECK_INT(gw_parse_port_range("61000-60000", &lo, &hi), -EINVAL);
	CHECK_INT(gw_parse_port_range("0-10", &lo, &hi), -EINVAL);
	CHECK_INT(gw_parse_port_range("1-65536", &lo, &hi), -EINVAL);
	CHECK_INT(gw_parse_port_range("60000", &lo, &hi), -EINVAL);

	CHECK_INT(gw_parse_hostport("0.0.0.0:990", host, sizeof(host), &port), 0);
	CHECK_STR(host, "0.0.0.0");
	CHECK_INT(port, 990);
	CHECK_INT(gw_parse_hostport("[::1]:8443", host, sizeof(host), &port), 0);
	CHECK_STR(host, "::1");
	CHECK_INT(gw_parse_hostport(":21", host, sizeof(host), &port), 0);
	CHECK_STR(host, "");
	CHECK_INT(gw_parse_hostport("localhost", host, sizeof(host), &port), -EINVAL);
	CHECK_INT(gw_parse_hostport("a:b:1", host, sizeof(host), &port), -EINVAL);
	CHECK_INT(gw_parse_hostport("h:0", host, sizeof(host), &port), -EINVAL);
	CHECK_INT(gw_parse_hostport("h:70000", host, sizeof(host), &port), -EINVAL);

	/* JSON strings for the log: UTF-8 kept, other bytes as \xNN text */
	{
		static const struct {
			const char *in, *out;
		} quotes[] = {
			{ "plain", "\"plain\"" },
			{ "q\"b\\", "\"q\\\"b\\\\\"" },
			{ "\t\x7f", "\"\\u0009\\u007f\"" },
			{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7\"" },
			{ "a\xff\xfe.bin", "\"a\\\\xff\\\\xfe.bin\"" },
			{ "\xc0\xaf", "\"\\\\xc0\\\\xaf\"" },             /* overlong '/' */
			{ "\xed\xa0\x80", "\"\\\\xed\\\\xa0\\\\x80\"" }, /* a surrogate */
			{ "\xf4\x90\x80\x80", "\"\\\\xf4\\\\x90\\\\x80\\\\x80\"" }, /* past U+10FFFF */
			{ "\xe2\x82", "\"\\\\xe2\\\\x82\"" },             /* cut short */
		};

		for (size_t i = 0; i < sizeof(quotes) / sizeof(quotes[0]); i++) {
			gw_buf_init(&b, 1024);
			CHECK_INT(gw_json_quote(&b, quotes[i].in), 0);
			CHECK_STR(gw_buf_str(&b), quotes[i].out);
			gw_buf_release(&b);
		}
	}

	return check_report("test_buf");
}
