/* log.c - one JSON object per line on stdout. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"

static enum gw_log_level min_level = GW_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void gw_log_set_level(enum gw_log_level level)
{
	min_level = level;
}

int gw_json_quote(struct gw_buf *b, const char *s)
{
	int r = gw_buf_add(b, "\"", 1);

	for (; r == 0 && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			r = gw_buf_addf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			r = gw_buf_addf(b, "\\u%04x", c);
		else
			r = gw_buf_add(b, s, 1);
	}
	if (r == 0)
		r = gw_buf_add(b, "\"", 1);
	return r;
}

static void log_line(enum gw_log_level level, const char *event, const char *msg)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	struct gw_buf line;
	char ts[32];

	gw_buf_init(&line, 64 * 1024);
	gw_format_time(gw_now_ms(), ts);
	gw_buf_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, names[level]);
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

void gw_log(enum gw_log_level level, const char *event, const char *fmt, ...)
{
	struct gw_buf msg;
	va_list ap;

	if (level < min_level)
		return;
	gw_buf_init(&msg, 16 * 1024);
	va_start(ap, fmt);
	if (gw_buf_vaddf(&msg, fmt, ap) < 0)
		gw_buf_adds(&msg, "(log message too long)");
	va_end(ap);
	log_line(level, event, gw_buf_str(&msg));
	gw_buf_release(&msg);
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
