/* session_parse.c - parsers of what clients send: Telnet in a command
 * line, the command line, and the time of MFMT. Pure functions, fuzzed whole (fuzz/fuzz_session.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "session.h"

int ftpd_parse_command(const char *line, size_t len, struct ftpd_command *out)
{
	size_t i, v = 0;

	if (len && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		/* Names may be UTF-8; nothing below 0x20 and no DEL. */
		if (c < 0x20 || c == 0x7f)
			return -EINVAL;
	}
	while (v < len && v < 5 && line[v] != ' ') {
		char c = line[v];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z')
			return -EINVAL;
		out->verb[v++] = c;
	}
	if (v < 3 || v > 4 || (v < len && line[v] != ' '))
		return -EINVAL;
	out->verb[v] = '\0';
	out->has_arg = v + 1 < len;
	out->arg = out->has_arg ? line + v + 1 : "";
	return 0;
}

int ftpd_parse_mfmt_time(const char *s, size_t len, int64_t *out_s)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int v[6], widths[6] = { 4, 2, 2, 2, 2, 2 };
	int64_t y, era, yoe, doy, doe, epoch_days;
	size_t i, at = 0, k;

	if (len < 14)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		v[i] = 0;
		for (k = 0; k < (size_t)widths[i]; k++, at++) {
			if (s[at] < '0' || s[at] > '9')
				return -EINVAL;
			v[i] = v[i] * 10 + (s[at] - '0');
		}
	}
	if (at < len) { /* ".sss": digits only, dropped */
		if (s[at] != '.' || at + 1 == len)
			return -EINVAL;
		for (at++; at < len; at++)
			if (s[at] < '0' || s[at] > '9')
				return -EINVAL;
	}
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return -EINVAL;
	if (v[2] > days[v[1] - 1] + (v[1] == 2 && (v[0] % 4 == 0 && (v[0] % 100 || v[0] % 400 == 0))))
		return -EINVAL;
	/* days from the civil date (H. Hinnant's algorithm) */
	y = v[0] - (v[1] <= 2);
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (v[1] + (v[1] > 2 ? -3 : 9)) + 2) / 5 + v[2] - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	epoch_days = era * 146097 + doe - 719468;
	*out_s = epoch_days * 86400 + v[3] * 3600 + v[4] * 60 + (v[5] == 60 ? 59 : v[5]);
	return 0;
}

size_t ftpd_strip_telnet(char *line, size_t len)
{
	const unsigned char *u = (const unsigned char *)line;
	size_t i = 0, o = 0;

	while (i + 1 < len && u[i] == 0xff && u[i + 1] >= 0xf0 && u[i + 1] != 0xff)
		i += u[i + 1] >= 0xfb ? 3 : 2; /* WILL WONT DO DONT <option> */
	for (; i < len; i++) {
		if (u[i] == 0xff && i + 1 < len && u[i + 1] == 0xff)
			i++;
		line[o++] = line[i];
	}
	return o;
}
