/* buf.c - bounded growable buffers and bounded string copies. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

void gw_buf_init(struct gw_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void gw_buf_release(struct gw_buf *b)
{
	free(b->data);
	gw_buf_init(b, b->max);
}

int gw_buf_reserve(struct gw_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return -ENOBUFS;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int gw_buf_add(struct gw_buf *b, const void *p, size_t n)
{
	int r = gw_buf_reserve(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int gw_buf_adds(struct gw_buf *b, const char *s)
{
	return gw_buf_add(b, s, strlen(s));
}

int gw_buf_add_int(struct gw_buf *b, long long v)
{
	char digits[24];
	size_t i = sizeof(digits);
	/* through unsigned, so that LLONG_MIN negates */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		digits[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		digits[--i] = '-';
	return gw_buf_add(b, digits + i, sizeof(digits) - i);
}

int gw_buf_vaddf(struct gw_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, r;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -EINVAL;
	r = gw_buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int gw_buf_addf(struct gw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = gw_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

void gw_buf_consume(struct gw_buf *b, size_t n)
{
	if (n >= b->len) {
		gw_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void gw_buf_reset(struct gw_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

const char *gw_buf_str(const struct gw_buf *b)
{
	return b->data ? b->data : "";
}

int gw_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return -E2BIG;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -E2BIG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}
