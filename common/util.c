/* util.c - parsing, time, randomness and small file-system helpers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"

int gw_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int gw_parse_hostport(const char *s, char *host, size_t host_size, uint16_t *port)
{
	const char *colon, *hs = s, *he;
	uint64_t p;
	size_t hl;

	if (s[0] == '[') {
		he = strchr(s, ']');
		if (!he || he[1] != ':')
			return -EINVAL;
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
		he = colon;
	}
	if (gw_parse_u64(colon + 1, 1, 65535, &p) < 0)
		return -EINVAL;
	hl = (size_t)(he - hs);
	if (hl >= host_size)
		return -ENAMETOOLONG;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int gw_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	char a[8], b[8];
	const char *dash = strchr(s, '-');
	uint64_t l, h;

	if (!dash || (size_t)(dash - s) >= sizeof(a) || strlen(dash + 1) >= sizeof(b))
		return -EINVAL;
	memcpy(a, s, (size_t)(dash - s));
	a[dash - s] = '\0';
	memcpy(b, dash + 1, strlen(dash + 1) + 1);
	if (gw_parse_u64(a, 1, 65535, &l) < 0 || gw_parse_u64(b, 1, 65535, &h) < 0 || l > h)
		return -EINVAL;
	*lo = (uint16_t)l;
	*hi = (uint16_t)h;
	return 0;
}

int64_t gw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gw_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gw_format_time(int64_t ms, char out[32])
{
	/* By hand, and not with gmtime_r(), which takes glibc's time zone
	 * lock: the API formats four of these per record it lists, on as
	 * many threads as it has connections. Days to a civil date as in
	 * Howard Hinnant's "chrono-compatible low-level date algorithms". */
	const int fields[7][2] = { { 0, 4 }, { 5, 2 }, { 8, 2 }, { 11, 2 }, { 14, 2 }, { 17, 2 },
				   { 20, 3 } };
	int64_t day_ms = 86400000, days = ms / day_ms, rest = ms % day_ms, era, doe, yoe, doy, mp;
	int values[7];
	int64_t year;

	if (rest < 0) {
		rest += day_ms;
		days--;
	}
	days += 719468; /* from 1970-01-01 to 0000-03-01 */
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	values[2] = (int)(doy - (153 * mp + 2) / 5 + 1);
	values[1] = (int)(mp < 10 ? mp + 3 : mp - 9);
	year = yoe + era * 400 + (values[1] <= 2);
	if (year < 0 || year > 9999) {
		gw_strlcpy(out, "0000-00-00T00:00:00.000Z", 32);
		return;
	}
	values[0] = (int)year;
	values[3] = (int)(rest / 3600000);
	values[4] = (int)(rest / 60000 % 60);
	values[5] = (int)(rest / 1000 % 60);
	values[6] = (int)(rest % 1000);
	memcpy(out, "0000-00-00T00:00:00.000Z", 25);
	for (int i = 0; i < 7; i++) {
		int v = values[i];

		for (int k = fields[i][1] - 1; k >= 0; k--, v /= 10)
			out[fields[i][0] + k] = (char)('0' + v % 10);
	}
}

int gw_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int gw_random_token(char *out, size_t n, bool lower_only)
{
	static const char all[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static const char lower[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	const char *set = lower_only ? lower : all;
	unsigned setlen = lower_only ? 36 : 62;
	unsigned limit = 256 - 256 % setlen; /* no modulo bias */
	size_t i = 0;

	while (i < n) {
		unsigned char r[64];
		size_t k;
		int err = gw_random(r, sizeof(r));

		if (err < 0)
			return err;
		for (k = 0; k < sizeof(r) && i < n; k++)
			if (r[k] < limit)
				out[i++] = set[r[k] % setlen];
	}
	out[n] = '\0';
	return 0;
}

void gw_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int gw_unhex(const char *in, uint8_t *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int hi = hexval(in[2 * i]), lo = hi < 0 ? -1 : hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int gw_fsync_dir(int dirfd)
{
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
}

int gw_mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	char *p;

	if (gw_strlcpy(tmp, path, sizeof(tmp)) < 0)
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int64_t metrics[GW_M_COUNT];

void gw_metric_add(enum gw_metric m, int64_t v)
{
	__atomic_add_fetch(&metrics[m], v, __ATOMIC_RELAXED);
}

int64_t gw_metric_get(enum gw_metric m)
{
	return __atomic_load_n(&metrics[m], __ATOMIC_RELAXED);
}

bool gw_is_node_id_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == '_';
}
