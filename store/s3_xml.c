/* s3_xml.c - the few facts read from an object store's XML answers
 * (an upload id, an error's code, a list of uploads). S3's documents are
 * flat and their elements carry no attributes, so this finds an element
 * by its exact tags rather than parsing XML whole; every read is bounded
 * by the answer's length, which need not be NUL-terminated.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "s3.h"

#define TAG_MAX 64

/* The first "<tag>" or "<tag/>" at or after from. */
static const char *find_open(const char *xml, size_t len, size_t from, const char *tag, bool *empty)
{
	char open[TAG_MAX + 4];
	size_t n = strlen(tag);
	const char *p = xml + from, *end = xml + len;

	if (n == 0 || n > TAG_MAX)
		return NULL;
	snprintf(open, sizeof(open), "<%s", tag);
	while (p < end) {
		const char *hit = memmem(p, (size_t)(end - p), open, n + 1);
		const char *after;

		if (!hit)
			return NULL;
		after = hit + n + 1;
		if (after < end && *after == '>') {
			*empty = false;
			return after + 1;
		}
		if (after + 1 < end && after[0] == '/' && after[1] == '>') {
			*empty = true;
			return after + 2;
		}
		p = hit + 1; /* a longer name that begins with tag */
	}
	return NULL;
}

int s3_xml_element(const char *xml, size_t len, size_t *pos, const char *tag, size_t *start,
		   size_t *end)
{
	char close[TAG_MAX + 4];
	size_t n = strlen(tag);
	bool empty = false;
	const char *body, *stop;

	if (*pos > len)
		return -ENOENT;
	body = find_open(xml, len, *pos, tag, &empty);
	if (!body)
		return -ENOENT;
	if (empty) {
		*start = *end = (size_t)(body - xml);
		*pos = *end;
		return 0;
	}
	snprintf(close, sizeof(close), "</%s>", tag);
	stop = memmem(body, len - (size_t)(body - xml), close, n + 3);
	if (!stop)
		return -EBADMSG;
	*start = (size_t)(body - xml);
	*end = (size_t)(stop - xml);
	*pos = *end + n + 3;
	return 0;
}

/* One code point as UTF-8 into out[*o..size). */
static int put_utf8(unsigned long cp, char *out, size_t size, size_t *o)
{
	unsigned char b[4];
	size_t n, i;

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -EBADMSG;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	if (*o + n >= size)
		return -E2BIG;
	for (i = 0; i < n; i++)
		out[(*o)++] = (char)b[i];
	return 0;
}

/* "&...;" at p (before end): its character into out. */
static int entity(const char **pp, const char *end, char *out, size_t size, size_t *o)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
	const char *p = *pp + 1, *semi = memchr(p, ';', (size_t)(end - p));
	size_t n, i;

	if (!semi || semi - p > 10)
		return -EBADMSG;
	n = (size_t)(semi - p);
	*pp = semi + 1;
	if (n >= 2 && p[0] == '#') {
		unsigned long cp = 0;
		bool hex = p[1] == 'x' || p[1] == 'X';

		for (i = hex ? 2 : 1; i < n; i++) {
			int d = p[i] >= '0' && p[i] <= '9'	    ? p[i] - '0'
				: hex && p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10
				: hex && p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10
								    : -1;

			if (d < 0)
				return -EBADMSG;
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
			if (cp > 0x10FFFF)
				return -EBADMSG;
		}
		if (i == (hex ? 2u : 1u))
			return -EBADMSG;
		return put_utf8(cp, out, size, o);
	}
	for (i = 0; i < GW_ARRAY_SIZE(named); i++) {
		if (strlen(named[i].name) == n && !memcmp(p, named[i].name, n)) {
			if (*o + 1 >= size)
				return -E2BIG;
			out[(*o)++] = named[i].c;
			return 0;
		}
	}
	return -EBADMSG;
}

int s3_xml_text(const char *xml, size_t len, size_t *pos, const char *tag, char *out, size_t size)
{
	size_t start, end, o = 0, at = *pos;
	const char *p, *stop;
	int r;

	if (size == 0)
		return -E2BIG;
	r = s3_xml_element(xml, len, &at, tag, &start, &end);
	if (r < 0)
		return r;
	p = xml + start;
	stop = xml + end;
	while (p < stop) {
		if (*p == '&') {
			r = entity(&p, stop, out, size, &o);
			if (r < 0)
				return r;
		} else if (*p == '<') {
			return -EBADMSG; /* an element within: not text */
		} else {
			if (o + 1 >= size)
				return -E2BIG;
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	*pos = at;
	return 0;
}

/* n decimal digits at p: the number, or -1. */
static int digits(const char *p, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

int s3_xml_time(const char *text, int64_t *ms)
{
	struct tm tm;
	unsigned frac = 0, scale = 100;
	const char *p = text + 19;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	/* YYYY-MM-DDThh:mm:ss */
	if (strnlen(text, 20) < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
	    text[13] != ':' || text[16] != ':')
		return -EBADMSG;
	tm.tm_year = digits(text, 4);
	tm.tm_mon = digits(text + 5, 2);
	tm.tm_mday = digits(text + 8, 2);
	tm.tm_hour = digits(text + 11, 2);
	tm.tm_min = digits(text + 14, 2);
	tm.tm_sec = digits(text + 17, 2);
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			frac += (unsigned)(*p - '0') * scale;
			scale /= 10;
		}
	}
	if (p[0] != 'Z' || p[1] != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60 || tm.tm_year < 1970)
		return -EBADMSG;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EBADMSG;
	*ms = (int64_t)t * 1000 + frac;
	return 0;
}
