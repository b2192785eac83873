/* Structured logging: each record is one JSON object on one line, built in
 * a stack buffer and handed to one write(2) so lines from different threads
 * never interleave. A record that would pass TS_LOG_LINE_MAX is cut at a
 * character boundary and closed with "truncated":true. */
#include "core/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

#define TS_LOG_LINE_MAX 4096
/* Room always kept for the closing `,"truncated":true}\n`. */
#define TS_LOG_TAIL 24

static atomic_int log_level = TS_LOG_INFO;
static atomic_int log_event_fd = 1;
static atomic_int log_msg_fd = 2;

void
ts_log_set_level(ts_log_level lvl)
{
	atomic_store(&log_level, (int)lvl);
}

int
ts_log_level_parse(const char *s, ts_log_level *lvl)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*lvl = (ts_log_level)i;
			return 0;
		}
	return -1;
}

int
ts_log_enabled(ts_log_level lvl)
{
	return (int)lvl >= atomic_load(&log_level);
}

void
ts_log_set_fds(int event_fd, int msg_fd)
{
	atomic_store(&log_event_fd, event_fd);
	atomic_store(&log_msg_fd, msg_fd);
}

static const char *
level_name(ts_log_level lvl)
{
	switch (lvl) {
	case TS_LOG_DEBUG: return "debug";
	case TS_LOG_INFO: return "info";
	case TS_LOG_WARN: return "warn";
	case TS_LOG_ERROR: return "error";
	}
	return "info";
}

/* A bounded line under construction. `full` is set once something did not
 * fit; every later append is then dropped so the line stays well-formed. */
typedef struct {
	char buf[TS_LOG_LINE_MAX];
	size_t len;
	int full;
} line_t;

static size_t
line_room(const line_t *l)
{
	return sizeof(l->buf) - TS_LOG_TAIL - l->len;
}

static void
line_raw(line_t *l, const char *s, size_t n)
{
	if (l->full)
		return;
	if (n > line_room(l)) {
		l->full = 1;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void
line_str(line_t *l, const char *s)
{
	line_raw(l, s, strlen(s));
}

/* Appends s as a JSON string with its quotes (RFC 8259 §7). Control bytes
 * become \u00XX; bytes that are not valid UTF-8 become U+FFFD, so a hostile
 * path or header can never break the line or the reader's decoder. A value
 * that does not fit is cut at a character boundary and still closed.
 * Returns 0 when not even the opening quote fit. */
static int
line_json_str(line_t *l, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	char esc[8];

	line_raw(l, "\"", 1);
	if (l->full)
		return 0;
	for (size_t i = 0; i < len && !l->full;) {
		unsigned char c = p[i];
		size_t n;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			line_raw(l, esc, 2);
			i++;
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			line_raw(l, esc, 6);
			i++;
		} else if (c < 0x80) {
			line_raw(l, (const char *)p + i, 1);
			i++;
		} else if ((n = ts_utf8_seq(p + i, len - i)) != 0) {
			line_raw(l, (const char *)p + i, n);
			i += n;
		} else {
			line_raw(l, "\\ufffd", 6);
			i++;
		}
	}
	/* Once full, nothing else is appended, so this is the only closing
	 * quote ever taken from the tail reserve. */
	l->buf[l->len++] = '"';
	return 1;
}

/* Appends ,"key":"val" (val NULL -> null). A field whose key does not fit
 * is dropped whole; only its value may be cut. */
static void
line_field(line_t *l, const char *key, const char *val)
{
	size_t save = l->len;

	if (l->full)
		return;
	line_raw(l, ",", 1);
	if (!l->full && line_json_str(l, key) && !l->full)
		line_raw(l, ":", 1);
	if (l->full) {
		l->len = save;
		return;
	}
	if (val == NULL)
		line_str(l, "null");
	else if (line_json_str(l, val))
		return;
	if (l->full)
		l->len = save;
}

/* Appends ,"key":v as a JSON number; dropped whole when it does not fit. */
static void
line_int(line_t *l, const char *key, int64_t v)
{
	size_t save = l->len;
	char num[24];

	if (l->full)
		return;
	snprintf(num, sizeof(num), ":%lld", (long long)v);
	line_raw(l, ",", 1);
	if (!l->full && line_json_str(l, key) && !l->full)
		line_str(l, num);
	if (l->full)
		l->len = save;
}

/* Opens the object with the time (milliseconds, UTC) and the level. */
static void
line_begin(line_t *l, ts_log_level lvl)
{
	struct timespec now;
	struct tm tm;
	char ts[64], stamp[32];

	l->len = 0;
	l->full = 0;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts, sizeof(ts), "%s.%03dZ", stamp, (int)(now.tv_nsec / 1000000) % 1000);
	line_str(l, "{\"ts\":\"");
	line_str(l, ts);
	line_str(l, "\",\"level\":\"");
	line_str(l, level_name(lvl));
	line_str(l, "\"");
}

static void
line_end_and_write(line_t *l, int fd)
{
	const char *tail = l->full ? ",\"truncated\":true}\n" : "}\n";
	size_t n = strlen(tail), off = 0;

	memcpy(l->buf + l->len, tail, n); /* TS_LOG_TAIL keeps room for it */
	l->len += n;
	while (off < l->len) {
		ssize_t w = write(fd, l->buf + off, l->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* nowhere to report a failing log */
		off += (size_t)w;
	}
}

void
ts_log_eventv(ts_log_level lvl, const char *event, va_list ap)
{
	line_t l;
	const char *key;

	if (!ts_log_enabled(lvl))
		return;
	line_begin(&l, lvl);
	line_field(&l, "event", event);
	while ((key = va_arg(ap, const char *)) != NULL) {
		if (key[0] == '#') {
			line_int(&l, key + 1, va_arg(ap, int64_t));
			continue;
		}
		const char *val = va_arg(ap, const char *);
		line_field(&l, key, val);
	}
	line_end_and_write(&l, atomic_load(&log_event_fd));
}

void
ts_log_event(ts_log_level lvl, const char *event, ...)
{
	va_list ap;

	va_start(ap, event);
	ts_log_eventv(lvl, event, ap);
	va_end(ap);
}

void
ts_log_msg(ts_log_level lvl, const char *func, int line, const char *fmt, ...)
{
	line_t l;
	va_list ap;
	char msg[TS_LOG_LINE_MAX], num[24];

	if (!ts_log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap); /* truncates safely */
	va_end(ap);
	snprintf(num, sizeof(num), ",\"line\":%d", line);
	line_begin(&l, lvl);
	line_field(&l, "func", func);
	line_str(&l, num);
	line_field(&l, "msg", msg);
	line_end_and_write(&l, atomic_load(&log_msg_fd));
}
