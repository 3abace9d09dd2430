/* log.c - one JSON object per line on stdout. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"

static enum gw_log_level min_level = GW_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void gw_log_set_level(enum gw_log_level level)
{
	__atomic_store_n(&min_level, level, __ATOMIC_RELAXED); /* SIGHUP, while others log */
}

/* Bytes in the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0. s is NUL-terminated. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

bool gw_is_utf8(const char *s)
{
	size_t n;

	for (; *s; s += n)
		if ((n = utf8_len((const unsigned char *)s)) == 0)
			return false;
	return true;
}

/* A JSON string of s. Bytes that are not UTF-8 (a file name a client
 * sent in another encoding) become the text \xNN, so that the line
 * stays valid JSON and still shows what was sent. */
int gw_json_quote(struct gw_buf *b, const char *s)
{
	int r = gw_buf_add(b, "\"", 1);

	while (r == 0 && *s) {
		unsigned char c = (unsigned char)*s;
		size_t n = utf8_len((const unsigned char *)s);

		if (c == '"' || c == '\\')
			r = gw_buf_addf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			r = gw_buf_addf(b, "\\u%04x", c);
		else if (n == 0)
			r = gw_buf_addf(b, "\\\\x%02x", c);
		else
			r = gw_buf_add(b, s, n);
		s += n ? n : 1;
	}
	if (r == 0)
		r = gw_buf_add(b, "\"", 1);
	return r;
}

/* The node id every line carries, once known (set once, read by all). */
static char node_text[80];
static const char *log_node;

void gw_log_set_node(const char *node)
{
	gw_strlcpy(node_text, node, sizeof(node_text));
	__atomic_store_n(&log_node, node_text, __ATOMIC_RELEASE);
}

static void log_line(enum gw_log_level level, const char *event, const char *msg)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	const char *node = __atomic_load_n(&log_node, __ATOMIC_ACQUIRE);
	struct gw_buf line;
	char ts[32];

	gw_buf_init(&line, 64 * 1024);
	gw_format_time(gw_now_ms(), ts);
	gw_buf_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",", ts, names[level]);
	if (node) {
		gw_buf_adds(&line, "\"node\":");
		gw_json_quote(&line, node);
		gw_buf_adds(&line, ",");
	}
	gw_buf_adds(&line, "\"event\":");
	gw_json_quote(&line, event);
	gw_buf_adds(&line, ",\"msg\":");
	gw_json_quote(&line, msg);
	gw_buf_adds(&line, "}\n");
	pthread_mutex_lock(&log_lock);
	fwrite(gw_buf_str(&line), 1, line.len, stdout);
	fflush(stdout);
	pthread_mutex_unlock(&log_lock);
	gw_buf_release(&line);
}

GW_PRINTF(3, 0) static void log_va(enum gw_log_level level, const char *event, const char *fmt,
				   va_list ap)
{
	struct gw_buf msg;

	gw_buf_init(&msg, 16 * 1024);
	if (gw_buf_vaddf(&msg, fmt, ap) < 0)
		gw_buf_adds(&msg, "(log message too long)");
	log_line(level, event, gw_buf_str(&msg));
	gw_buf_release(&msg);
}

void gw_log(enum gw_log_level level, const char *event, const char *fmt, ...)
{
	va_list ap;

	if (level < __atomic_load_n(&min_level, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	log_va(level, event, fmt, ap);
	va_end(ap);
}

void gw_log_limited(struct gw_log_limit *lim, enum gw_log_level level, const char *event,
		    const char *fmt, ...)
{
	static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;
	int64_t now = gw_mono_ms();
	unsigned dropped = 0;
	bool first_drop = false, take;
	va_list ap;

	if (level < __atomic_load_n(&min_level, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&limit_lock);
	if (!lim->start_ms || now - lim->start_ms >= lim->window_ms) {
		dropped = lim->dropped;
		lim->start_ms = now;
		lim->count = lim->dropped = 0;
	}
	take = lim->count < lim->burst;
	if (take)
		lim->count++;
	else
		first_drop = lim->dropped++ == 0;
	pthread_mutex_unlock(&limit_lock);
	if (dropped)
		gw_log(level, event, "%u more like this were not logged", dropped);
	if (first_drop)
		gw_log(level, event, "more than %u of these in %lld s: the next are counted, not"
		       " logged", lim->burst, (long long)(lim->window_ms / 1000));
	if (!take)
		return;
	va_start(ap, fmt);
	log_va(level, event, fmt, ap);
	va_end(ap);
}

void gw_bug(const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ftpsgate: BUG at %s:%d: %s\n", file, line, msg);
	abort();
}
