/* Structured logging: one JSON object per line on stdout (requests, audit)
 * or stderr (faults). Never pass secrets: passwords, tokens, codes, keys. */
#ifndef TS_LOG_H
#define TS_LOG_H

#include <stdarg.h>
#include <stdint.h>

typedef enum { TS_LOG_DEBUG, TS_LOG_INFO, TS_LOG_WARN, TS_LOG_ERROR } ts_log_level;

/* Sets the minimum level written; default INFO. Call once at start-up. */
void ts_log_set_level(ts_log_level lvl);
int ts_log_enabled(ts_log_level lvl);
/* "debug", "info", "warn" or "error" into *lvl: 0, else -1. */
int ts_log_level_parse(const char *s, ts_log_level *lvl);
/* Where records go: ts_log_event to event_fd (default 1, stdout) and
 * ts_log_msg to msg_fd (default 2, stderr). The fds are not owned. For tests
 * and daemons that log to a file; call before the threads start. */
void ts_log_set_fds(int event_fd, int msg_fd);

typedef enum { TS_LOG_JSON, TS_LOG_TEXT } ts_log_format;

/* JSON (default): one object a line. TEXT: `TIME LEVEL event=EVENT
 * key=value ...`, a value bare when it holds only [A-Za-z0-9-_.:/@+,%[]]
 * and is not empty, else in double quotes with \" \\ and \xNN escapes;
 * a NULL value is written -. Call once at start-up. */
void ts_log_set_format(ts_log_format f);
/* Audit events (ts_log_is_audit) go to fd instead of event_fd; -1 (the
 * default) keeps them with the others. fd is not owned. */
void ts_log_set_audit_fd(int fd);
/* 1 when an event of this name is an audit event: login_*, account_*,
 * mfa_*, password_*, session_*, sessions_*, enroll_*, iam_token_*,
 * admin_*, tenant_*, user_*, keys_*, recovery_code_*, email_code_*,
 * logout, refresh_reuse, key_rotated, key_revoked, email_verified. Name
 * new audit events accordingly (or write them with ts_log_auditv). */
int ts_log_is_audit(const char *event);
/* Every record this thread writes until the next call carries
 * "request_id":id (NULL or "": none); id is copied (at most
 * TS_LOG_REQUEST_ID_MAX bytes). The transport sets it around each piece
 * of work it does for a request. */
#define TS_LOG_REQUEST_ID_MAX 64
void ts_log_set_request(const char *id);

/* Writes {"ts":...,"level":...,"event":EVENT, <fields>} where fields are
 * key/value pairs terminated by a NULL key. A value is a string (NULL is
 * written as null), JSON-escaped (invalid UTF-8 becomes U+FFFD); a key
 * written TS_LOG_INT("name", v) takes an int64_t instead, written as a JSON
 * number. A line is at most 4 KiB: past that it is cut and ends with
 * "truncated":true. Thread-safe: each line is written with one write(2). */
void ts_log_event(ts_log_level lvl, const char *event, ...);
/* The same with the pairs in a va_list (for wrappers such as ts_audit). */
void ts_log_eventv(ts_log_level lvl, const char *event, va_list ap);

/* ts_log_event with the fields as a va_list (for wrappers). */
void ts_log_eventv(ts_log_level lvl, const char *event, va_list ap);
/* The same, always an audit event (the audit fd when one is set),
 * whatever its name: for ts_audit (src/auth/audit.h), the one audit call. */
void ts_log_auditv(ts_log_level lvl, const char *event, va_list ap);

/* A number field of ts_log_event: the '#' marks the key (and is not
 * written); the cast makes the vararg the int64_t that is read. */
#define TS_LOG_INT(key, v) "#" key, (int64_t)(v)

/* Free-form diagnostic with the caller's location, to stderr. */
void ts_log_msg(ts_log_level lvl, const char *func, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define ts_error(...) ts_log_msg(TS_LOG_ERROR, __func__, __LINE__, __VA_ARGS__)
#define ts_warn(...) ts_log_msg(TS_LOG_WARN, __func__, __LINE__, __VA_ARGS__)
#define ts_info(...) ts_log_msg(TS_LOG_INFO, __func__, __LINE__, __VA_ARGS__)
#define ts_debug(...)                                                        \
	do {                                                                 \
		if (ts_log_enabled(TS_LOG_DEBUG))                            \
			ts_log_msg(TS_LOG_DEBUG, __func__, __LINE__, __VA_ARGS__); \
	} while (0)

#endif
