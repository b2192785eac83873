/* Structured logging: each record is one JSON object (or one text line
 * of key=value pairs) on one line, built in a stack buffer and handed to
 * one write(2) so lines from different threads never interleave. A record
 * that would pass TS_LOG_LINE_MAX is cut at a character boundary and
 * closed with "truncated":true. A record written while a thread serves a
 * request carries its request_id; an audit event goes to the audit fd
 * when one is set. */
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
static atomic_int log_audit_fd = -1;
static atomic_int log_format = TS_LOG_JSON;
/* The request this thread is serving (ts_log_set_request), copied: the
 * request may be freed by another thread before this one clears it. */
static _Thread_local char tl_request_id[TS_LOG_REQUEST_ID_MAX + 1];

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

void
ts_log_set_format(ts_log_format f)
{
	atomic_store(&log_format, (int)f);
}

void
ts_log_set_audit_fd(int fd)
{
	atomic_store(&log_audit_fd, fd);
}

void
ts_log_set_request(const char *id)
{
	ts_strlcpy(tl_request_id, id ? id : "", sizeof(tl_request_id));
}

/* The audit vocabulary, told by the event's name so that every caller
 * (the engine, ts_audit, the CLI) routes alike with no extra argument:
 * what a security reviewer reads (sign-ins and their failures, second
 * factors, passwords, sessions, refresh-token reuse, enrolment, account
 * and administrative changes); faults and traffic stay in the main log. */
static int
is_audit(const char *event)
{
	static const char *const prefixes[] = {
		"login_", "account_", "mfa_", "password_", "session_", "sessions_",
		"enroll_", "iam_token_", "admin_", "tenant_", "user_", "keys_",
		"recovery_code_", "email_code_",
	};
	static const char *const names[] = {
		"logout", "refresh_reuse", "key_rotated", "key_revoked", "email_verified",
	};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(event, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(event, names[i]) == 0)
			return 1;
	return 0;
}

int
ts_log_is_audit(const char *event)
{
	return event != NULL && is_audit(event);
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
	int text;                    /* TS_LOG_TEXT: key=value, not JSON */
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

/* 1 for a byte a text value may hold unquoted. */
static int
text_bare(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-_.:/@+,%[]", c) != NULL;
}

/* Appends s as a text value: bare when every byte is safe and s is not
 * empty, else in double quotes with \" \\ and \xNN for controls;
 * invalid UTF-8 becomes U+FFFD, as in JSON. Returns 0 when nothing fit. */
static int
line_text_str(line_t *l, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i;
	char esc[8];

	for (i = 0; i < len && text_bare(p[i]); i++)
		;
	if (len > 0 && i == len) {
		line_raw(l, s, len);
		if (l->full) {
			/* cut at the room left: a bare value has no closing quote */
			size_t room = line_room(l);
			l->full = 0;
			line_raw(l, s, room);
			l->full = 1;
			return room > 0;
		}
		return 1;
	}
	line_raw(l, "\"", 1);
	if (l->full)
		return 0;
	for (i = 0; i < len && !l->full;) {
		unsigned char c = p[i];
		size_t n;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			line_raw(l, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			line_raw(l, esc, 4);
			i++;
		} else if (c < 0x80) {
			line_raw(l, (const char *)p + i, 1);
			i++;
		} else if ((n = ts_utf8_seq(p + i, len - i)) != 0) {
			line_raw(l, (const char *)p + i, n);
			i += n;
		} else {
			line_raw(l, "\xef\xbf\xbd", 3);   /* U+FFFD */
			i++;
		}
	}
	l->buf[l->len++] = '"';   /* the tail reserve keeps room for it */
	return 1;
}

/* Appends ,"key":"val" (val NULL -> null), or " key=val" (NULL -> -) in
 * text. A field whose key does not fit is dropped whole; only its value
 * may be cut. */
static void
line_field(line_t *l, const char *key, const char *val)
{
	size_t save = l->len;

	if (l->full)
		return;
	if (l->text) {
		line_raw(l, " ", 1);
		line_str(l, key);
		line_raw(l, "=", 1);
		if (l->full) {
			l->len = save;
			return;
		}
		if (val == NULL)
			line_str(l, "-");
		else if (line_text_str(l, val))
			return;
		if (l->full)
			l->len = save;
		return;
	}
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
	if (l->text) {
		snprintf(num, sizeof(num), "=%lld", (long long)v);
		line_raw(l, " ", 1);
		line_str(l, key);
		line_str(l, num);
		if (l->full)
			l->len = save;
		return;
	}
	snprintf(num, sizeof(num), ":%lld", (long long)v);
	line_raw(l, ",", 1);
	if (!l->full && line_json_str(l, key) && !l->full)
		line_str(l, num);
	if (l->full)
		l->len = save;
}

/* Opens the object with the time (milliseconds, UTC) and the level (text:
 * "TIME LEVEL"), then the request id of the thread's request, if any. */
static void
line_begin(line_t *l, ts_log_level lvl)
{
	struct timespec now;
	struct tm tm;
	char ts[64], stamp[32];

	l->len = 0;
	l->full = 0;
	l->text = atomic_load(&log_format) == TS_LOG_TEXT;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts, sizeof(ts), "%s.%03dZ", stamp, (int)(now.tv_nsec / 1000000) % 1000);
	if (l->text) {
		line_str(l, ts);
		line_str(l, " ");
		line_str(l, level_name(lvl));
	} else {
		line_str(l, "{\"ts\":\"");
		line_str(l, ts);
		line_str(l, "\",\"level\":\"");
		line_str(l, level_name(lvl));
		line_str(l, "\"");
	}
}

static void
line_request_id(line_t *l)
{
	if (tl_request_id[0] != '\0')
		line_field(l, "request_id", tl_request_id);
}

static void
line_end_and_write(line_t *l, int fd)
{
	const char *tail = l->text ? (l->full ? " truncated=true\n" : "\n")
	                           : (l->full ? ",\"truncated\":true}\n" : "}\n");
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

/* One event record; audit: to the audit fd when one is set. */
static void
event_write(ts_log_level lvl, int audit, const char *event, va_list ap)
{
	line_t l;
	const char *key;
	int afd = atomic_load(&log_audit_fd);

	if (!ts_log_enabled(lvl))
		return;
	line_begin(&l, lvl);
	line_field(&l, "event", event);
	line_request_id(&l);
	while ((key = va_arg(ap, const char *)) != NULL) {
		if (key[0] == '#') {
			line_int(&l, key + 1, va_arg(ap, int64_t));
			continue;
		}
		const char *val = va_arg(ap, const char *);
		line_field(&l, key, val);
	}
	line_end_and_write(&l, audit && afd >= 0 ? afd : atomic_load(&log_event_fd));
}

void
ts_log_eventv(ts_log_level lvl, const char *event, va_list ap)
{
	event_write(lvl, event != NULL && is_audit(event), event, ap);
}

void
ts_log_auditv(ts_log_level lvl, const char *event, va_list ap)
{
	event_write(lvl, 1, event, ap);
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
	char msg[TS_LOG_LINE_MAX];

	if (!ts_log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap); /* truncates safely */
	va_end(ap);
	line_begin(&l, lvl);
	line_field(&l, "func", func);
	line_int(&l, "line", line);
	line_request_id(&l);
	line_field(&l, "msg", msg);
	line_end_and_write(&l, atomic_load(&log_msg_fd));
}
