/* Unit tests of src/core: time and id helpers, validators, logging and the
 * worker pool. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "core/util.h"

static void
test_uuid(void)
{
	char a[TS_UUID_LEN + 1], b[TS_UUID_LEN + 1];

	ts_uuid4(a);
	ts_uuid4(b);
	CHECK(strlen(a) == TS_UUID_LEN);
	CHECK(ts_is_uuid(a));
	CHECK(ts_is_uuid(b));
	CHECK(strcmp(a, b) != 0);
	CHECK(a[14] == '4');                                   /* version */
	CHECK(strchr("89ab", a[19]) != NULL);                  /* variant */
	for (int i = 0; i < 1000; i++) {
		ts_uuid4(b);
		if (b[14] != '4' || strchr("89ab", b[19]) == NULL || !ts_is_uuid(b)) {
			CHECK(!"bad uuid");
			break;
		}
	}
	CHECK(ts_is_uuid("123e4567-e89b-12d3-a456-426614174000"));
	CHECK(ts_is_uuid("123E4567-E89B-12D3-A456-426614174000"));
	CHECK(!ts_is_uuid("123e4567-e89b-12d3-a456-42661417400"));
	CHECK(!ts_is_uuid("123e4567-e89b-12d3-a456-4266141740000"));
	CHECK(!ts_is_uuid("123e4567xe89b-12d3-a456-426614174000"));
	CHECK(!ts_is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
	CHECK(!ts_is_uuid(""));
	CHECK(!ts_is_uuid(NULL));
}

static void
test_time(void)
{
	char out[32];
	int64_t a, b;

	ts_rfc3339(0, out);
	CHECK_STR(out, "1970-01-01T00:00:00Z");
	ts_rfc3339(1700000000, out);
	CHECK_STR(out, "2023-11-14T22:13:20Z");
	ts_rfc3339(951782400, out);                 /* leap day 2000 */
	CHECK_STR(out, "2000-02-29T00:00:00Z");
	CHECK(ts_now() > 1700000000);
	a = ts_mono_us();
	usleep(2000);
	b = ts_mono_us();
	CHECK(b - a >= 2000);
}

static void
test_strings(void)
{
	char buf[8], s[] = "MiXeD-09 Z";
	char hex[33];

	CHECK(ts_strlcpy(buf, "hello", sizeof(buf)) == 5);
	CHECK_STR(buf, "hello");
	CHECK(ts_strlcpy(buf, "truncated!", sizeof(buf)) == 10);
	CHECK_STR(buf, "truncat");
	CHECK(ts_strlcpy(buf, "", sizeof(buf)) == 0);
	CHECK_STR(buf, "");
	buf[0] = 'x';
	CHECK(ts_strlcpy(buf, "abc", 0) == 3);
	CHECK(buf[0] == 'x');
	ts_ascii_lower(s);
	CHECK_STR(s, "mixed-09 z");
	ts_random_hex(hex, 16);
	CHECK(strlen(hex) == 32);
	CHECK(strspn(hex, "0123456789abcdef") == 32);
}

#define U8(lit) ts_utf8_valid(lit, sizeof(lit) - 1)

static void
test_utf8(void)
{
	CHECK(U8(""));
	CHECK(U8("plain ascii"));
	CHECK(U8("caf\xc3\xa9"));                       /* é */
	CHECK(U8("\xe2\x82\xac"));                      /* € */
	CHECK(U8("\xf0\x9f\x98\x80"));                  /* U+1F600 */
	CHECK(U8("\xf4\x8f\xbf\xbf"));                  /* U+10FFFF */
	CHECK(U8("\xed\x9f\xbf"));                      /* U+D7FF */
	CHECK(U8("\xee\x80\x80"));                      /* U+E000 */
	CHECK(!U8("a\0b"));                             /* NUL */
	CHECK(!U8("\xc0\x80"));                         /* overlong NUL */
	CHECK(!U8("\xc1\xbf"));                         /* overlong */
	CHECK(!U8("\xe0\x80\xaf"));                     /* overlong '/' */
	CHECK(!U8("\xf0\x80\x80\xaf"));                 /* overlong '/' */
	CHECK(!U8("\xed\xa0\x80"));                     /* surrogate D800 */
	CHECK(!U8("\xed\xbf\xbf"));                     /* surrogate DFFF */
	CHECK(!U8("\xf4\x90\x80\x80"));                 /* U+110000 */
	CHECK(!U8("\xf5\x80\x80\x80"));
	CHECK(!U8("\xff"));
	CHECK(!U8("\x80"));                             /* lone continuation */
	CHECK(!U8("\xc3"));                             /* truncated */
	CHECK(!U8("\xe2\x82"));                         /* truncated */
	CHECK(!U8("\xc3\x28"));                         /* bad continuation */
}

static void
test_email(void)
{
	char long_ok[TS_EMAIL_MAX + 1], too_long[TS_EMAIL_MAX + 2];

	CHECK(ts_email_valid("a@b.co"));
	CHECK(ts_email_valid("first.last+tag@example.com"));
	CHECK(ts_email_valid("j\xc3\xbcrgen@m\xc3\xbcller.de"));
	CHECK(ts_email_valid("x@sub.domain.example"));
	CHECK(!ts_email_valid(NULL));
	CHECK(!ts_email_valid(""));
	CHECK(!ts_email_valid("@example.com"));
	CHECK(!ts_email_valid("user@"));
	CHECK(!ts_email_valid("user"));
	CHECK(!ts_email_valid("user@localhost"));
	CHECK(!ts_email_valid("a@b@c.com"));
	CHECK(!ts_email_valid("a b@c.com"));
	CHECK(!ts_email_valid("a@c .com"));
	CHECK(!ts_email_valid("a\t@c.com"));
	CHECK(!ts_email_valid("a\n@c.com"));
	CHECK(!ts_email_valid("a\x7f@c.com"));
	CHECK(!ts_email_valid("a\xc2\x85@c.com"));              /* U+0085 NEL */
	CHECK(ts_email_valid("a\xc2\xa0" "b@c.com"));          /* U+00A0: printable */
	CHECK(!ts_email_valid("a@.com"));
	CHECK(!ts_email_valid("a@c..com"));
	CHECK(!ts_email_valid("a@c.com."));
	CHECK(!ts_email_valid("a@c.\xc0\x80"));
	/* exactly 254 bytes is accepted, 255 is not */
	memset(long_ok, 'a', sizeof(long_ok));
	memcpy(long_ok + TS_EMAIL_MAX - 6, "@b.com", 6);
	long_ok[TS_EMAIL_MAX] = '\0';
	CHECK(ts_email_valid(long_ok));
	memset(too_long, 'a', sizeof(too_long));
	memcpy(too_long + TS_EMAIL_MAX - 5, "@b.com", 6);
	too_long[TS_EMAIL_MAX + 1] = '\0';
	CHECK(!ts_email_valid(too_long));
}

static void
test_slug(void)
{
	char s64[65];

	CHECK(ts_slug_valid("acme"));
	CHECK(ts_slug_valid("a"));
	CHECK(ts_slug_valid("acme-2"));
	CHECK(ts_slug_valid("0day"));
	CHECK(!ts_slug_valid(""));
	CHECK(!ts_slug_valid(NULL));
	CHECK(!ts_slug_valid("-acme"));
	CHECK(!ts_slug_valid("Acme"));
	CHECK(!ts_slug_valid("ac_me"));
	CHECK(!ts_slug_valid("ac me"));
	CHECK(!ts_slug_valid("acme."));
	memset(s64, 'a', 64);
	s64[63] = '\0';
	CHECK(ts_slug_valid(s64));
	s64[63] = 'a';
	s64[64] = '\0';
	CHECK(!ts_slug_valid(s64));
}

/* Reads what the logger wrote to a pipe (one line at most 4 KiB + tail). */
static void
read_line(int fd, char *out, size_t cap)
{
	ssize_t n = read(fd, out, cap - 1);
	out[n > 0 ? n : 0] = '\0';
}

static void
test_log(void)
{
	int fds[2];
	char line[8192], big[6000];
	const char *body;

	if (pipe(fds) != 0) {
		CHECK(!"pipe");
		return;
	}
	ts_log_set_fds(fds[1], fds[1]);

	ts_log_event(TS_LOG_INFO, "login", "user", "a\"b\\c\n\x01", "note", NULL, NULL);
	read_line(fds[0], line, sizeof(line));
	body = strstr(line, "\",\"level\"");
	CHECK(strncmp(line, "{\"ts\":\"", 7) == 0);
	CHECK(strlen(line) > 31 && line[30] == 'Z' && line[26] == '.');
	CHECK_STR(body, "\",\"level\":\"info\",\"event\":\"login\","
	                "\"user\":\"a\\\"b\\\\c\\u000a\\u0001\",\"note\":null}\n");

	/* invalid UTF-8 is replaced, valid multi-byte text kept */
	ts_log_event(TS_LOG_WARN, "x", "k", "\xc3\xa9\xff\xed\xa0\x80", NULL);
	read_line(fds[0], line, sizeof(line));
	CHECK(strstr(line, "\"level\":\"warn\"") != NULL);
	CHECK(strstr(line, "\"k\":\"\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffd\"}") != NULL);

	/* numbers are JSON numbers, between string fields */
	int failures = 3;
	ts_log_event(TS_LOG_INFO, "n", "a", "x", TS_LOG_INT("failures", failures),
	             TS_LOG_INT("big", -9007199254740993LL), "b", "y", NULL);
	read_line(fds[0], line, sizeof(line));
	CHECK(strstr(line, "\"event\":\"n\",\"a\":\"x\",\"failures\":3,"
	                   "\"big\":-9007199254740993,\"b\":\"y\"}\n") != NULL);

	/* below the level: nothing written */
	ts_log_event(TS_LOG_DEBUG, "hidden", NULL);
	ts_log_set_level(TS_LOG_DEBUG);
	ts_log_event(TS_LOG_DEBUG, "shown", NULL);
	read_line(fds[0], line, sizeof(line));
	CHECK(strstr(line, "\"event\":\"shown\"") != NULL);
	CHECK(strstr(line, "hidden") == NULL);
	ts_log_set_level(TS_LOG_INFO);

	/* an oversized value is cut and the line stays closed JSON */
	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ts_log_event(TS_LOG_INFO, "big", "v", big, "after", "x", NULL);
	read_line(fds[0], line, sizeof(line));
	CHECK(strlen(line) <= 4096);
	CHECK(strstr(line, "\"after\"") == NULL);
	CHECK(strlen(line) > 20 &&
	      strcmp(line + strlen(line) - 20, "\",\"truncated\":true}\n") == 0);

	ts_error("code %d", 42);
	read_line(fds[0], line, sizeof(line));
	CHECK(strstr(line, "\"level\":\"error\",\"func\":\"test_log\",\"line\":") != NULL);
	CHECK(strstr(line, "\"msg\":\"code 42\"}\n") != NULL);

	ts_log_set_fds(1, 2);
	close(fds[0]);
	close(fds[1]);
}

/* An audit wrapper, as ts_audit is. */
static void
audit_wrapper(const char *event, ...)
{
	va_list ap;

	va_start(ap, event);
	ts_log_auditv(TS_LOG_INFO, event, ap);
	va_end(ap);
}

/* --log-format text, the request id of the thread, audit routing. */
static void
test_log_text_audit(void)
{
	int fds[2], afd[2];
	char line[8192], big[6000];

	if (pipe(fds) != 0 || pipe(afd) != 0) {
		CHECK(!"pipe");
		return;
	}
	ts_log_set_fds(fds[1], fds[1]);
	ts_log_set_format(TS_LOG_TEXT);
	ts_log_event(TS_LOG_INFO, "request", "method", "GET", "path", "/v1/auth/me",
	             TS_LOG_INT("status", 200), "note", NULL, "q", "a b\"c\\\n\x01\xff", "e", "", NULL);
	read_line(fds[0], line, sizeof(line));
	CHECK(strlen(line) > 25 && line[23] == 'Z' && line[24] == ' ');
	CHECK_STR(line + 25, "info event=request method=GET path=/v1/auth/me status=200 note=- "
	                     "q=\"a b\\\"c\\\\\\x0a\\x01\xef\xbf\xbd\" e=\"\"\n");
	/* a line too long is cut and says so */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ts_log_event(TS_LOG_INFO, "big", "v", big, "after", "x", NULL);
	read_line(fds[0], line, sizeof(line));
	CHECK(strlen(line) <= 4096);
	CHECK(strstr(line, " after=") == NULL);
	CHECK(strlen(line) > 16 && strcmp(line + strlen(line) - 16, " truncated=true\n") == 0);
	ts_error("code %d", 7);
	read_line(fds[0], line, sizeof(line));
	CHECK(strstr(line, " error func=test_log_text_audit line=") != NULL);
	CHECK(strstr(line, " msg=\"code 7\"\n") != NULL);
	ts_log_set_format(TS_LOG_JSON);

	/* the thread's request id on every record, until cleared */
	ts_log_set_request("abc-123");
	ts_log_event(TS_LOG_INFO, "login_failed", "reason", "credentials", NULL);
	read_line(fds[0], line, sizeof(line));
	CHECK(strstr(line, "\"event\":\"login_failed\",\"request_id\":\"abc-123\",\"reason\"") != NULL);
	ts_warn("w");
	read_line(fds[0], line, sizeof(line));
	CHECK(strstr(line, "\"request_id\":\"abc-123\",\"msg\":\"w\"") != NULL);
	ts_log_set_request(NULL);
	ts_log_event(TS_LOG_INFO, "sweep", NULL);
	read_line(fds[0], line, sizeof(line));
	CHECK(strstr(line, "request_id") == NULL);

	/* audit events to their own fd; others stay */
	CHECK(ts_log_is_audit("login_failed") && ts_log_is_audit("mfa_locked") &&
	      ts_log_is_audit("password_set") && ts_log_is_audit("refresh_reuse") &&
	      ts_log_is_audit("logout") && ts_log_is_audit("account_unlocked") &&
	      ts_log_is_audit("session_start") && ts_log_is_audit("enroll_proven"));
	CHECK(!ts_log_is_audit("request") && !ts_log_is_audit("store_error") &&
	      !ts_log_is_audit("key_file_created") && !ts_log_is_audit("logouts") &&
	      !ts_log_is_audit(NULL));
	ts_log_set_audit_fd(afd[1]);
	ts_log_event(TS_LOG_INFO, "session_start", "user", "u1", NULL);
	ts_log_event(TS_LOG_INFO, "request", "path", "/x", NULL);
	read_line(afd[0], line, sizeof(line));
	CHECK(strstr(line, "\"event\":\"session_start\",\"user\":\"u1\"}") != NULL);
	read_line(fds[0], line, sizeof(line));
	CHECK(strstr(line, "\"event\":\"request\"") != NULL);
	/* ts_log_auditv: the audit fd whatever the name */
	audit_wrapper("anything_at_all", "k", "v", NULL);
	read_line(afd[0], line, sizeof(line));
	CHECK(strstr(line, "\"event\":\"anything_at_all\",\"k\":\"v\"}") != NULL);
	ts_log_set_audit_fd(-1);

	ts_log_set_fds(1, 2);
	close(fds[0]);
	close(fds[1]);
	close(afd[0]);
	close(afd[1]);
}

/* The registry: idempotent routes, status rows, cumulative buckets. */
static void
test_metrics(void)
{
	int me = ts_metrics_route(TS_M_FACE_NATIVE, "/v1/auth/me");
	int again = ts_metrics_route(TS_M_FACE_NATIVE, "/v1/auth/me");
	int other = ts_metrics_route(TS_M_FACE_PX0, "/v1/auth/me");
	size_t len = 0;
	char *t;

	CHECK(me >= 1 && again == me && other != me && other >= 1);
	ts_metrics_request(me, 200, 300);        /* <= 0.5 ms */
	ts_metrics_request(me, 200, 2000);       /* <= 2.5 ms */
	ts_metrics_request(me, 299, 20000000);   /* past 10 s; an unlisted status */
	ts_metrics_request(9999, 404, 1);        /* an unknown id: unmatched */
	ts_metrics_login(TS_M_FACE_IAM, "credentials");
	ts_metrics_login(TS_M_FACE_IAM, "no-such-result");
	ts_metrics_count(TS_M_LOCK_MFA);
	ts_metrics_outbox_depth_set(7);
	ts_metrics_set_build("1.2.3");
	t = ts_metrics_render(&len);
	CHECK(t != NULL && len == strlen(t));
	if (t == NULL)
		return;
	CHECK(strstr(t, "# TYPE tessera_http_requests_total counter\n") != NULL);
	CHECK(strstr(t, "tessera_build_info{version=\"1.2.3\"} 1\n") != NULL);
	CHECK(strstr(t, "tessera_http_requests_total{route=\"/v1/auth/me\",face=\"native\",status=\"200\"} 2\n") != NULL);
	CHECK(strstr(t, "tessera_http_requests_total{route=\"/v1/auth/me\",face=\"native\",status=\"other\"} 1\n") != NULL);
	CHECK(strstr(t, "tessera_http_requests_total{route=\"unmatched\",face=\"none\",status=\"404\"} 1\n") != NULL);
	CHECK(strstr(t, "tessera_http_request_duration_seconds_bucket{route=\"/v1/auth/me\",face=\"native\",le=\"0.0005\"} 1\n") != NULL);
	CHECK(strstr(t, "tessera_http_request_duration_seconds_bucket{route=\"/v1/auth/me\",face=\"native\",le=\"0.0025\"} 2\n") != NULL);
	CHECK(strstr(t, "tessera_http_request_duration_seconds_bucket{route=\"/v1/auth/me\",face=\"native\",le=\"10\"} 2\n") != NULL);
	CHECK(strstr(t, "tessera_http_request_duration_seconds_bucket{route=\"/v1/auth/me\",face=\"native\",le=\"+Inf\"} 3\n") != NULL);
	CHECK(strstr(t, "tessera_http_request_duration_seconds_count{route=\"/v1/auth/me\",face=\"native\"} 3\n") != NULL);
	CHECK(strstr(t, "tessera_http_request_duration_seconds_sum{route=\"/v1/auth/me\",face=\"native\"} 20.002300\n") != NULL);
	CHECK(strstr(t, "tessera_logins_total{face=\"iam\",result=\"credentials\"} 1\n") != NULL);
	CHECK(strstr(t, "tessera_logins_total{face=\"iam\",result=\"other\"} 1\n") != NULL);
	CHECK(strstr(t, "tessera_locks_total{kind=\"mfa\"} 1\n") != NULL);
	CHECK(strstr(t, "tessera_mail_outbox_depth 7\n") != NULL);
	/* a route's rows appear once, however often it was registered */
	const char *first = strstr(t, "_count{route=\"/v1/auth/me\",face=\"native\"}");
	CHECK(first && !strstr(first + 1, "_count{route=\"/v1/auth/me\",face=\"native\"}"));
	free(t);
}

static atomic_int jobs_run;

static void
count_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&jobs_run, 1);
}

static void
slow_job(void *arg)
{
	usleep(*(int *)arg);
	atomic_fetch_add(&jobs_run, 1);
}

static void
test_pool_runs_all(void)
{
	ts_pool *p = NULL;
	int submitted = 0;

	atomic_store(&jobs_run, 0);
	CHECK(ts_pool_new(0, 4, &p) == TS_E_INVALID);
	CHECK(ts_pool_new(4, 0, &p) == TS_E_INVALID);
	CHECK(ts_pool_new(4, 64, &p) == TS_OK);
	CHECK(ts_pool_threads(p) == 4);
	for (int i = 0; i < 1000; i++) {
		if (ts_pool_submit(p, count_job, NULL) == TS_OK)
			submitted++;
		else
			usleep(100);        /* full: let the workers catch up */
	}
	while (atomic_load(&jobs_run) < submitted)
		usleep(1000);
	CHECK(atomic_load(&jobs_run) == submitted);
	CHECK(submitted > 0);
	CHECK(ts_pool_queued(p) == 0);
	ts_pool_free(p);
	ts_pool_free(NULL);
}

static void
test_pool_overload(void)
{
	ts_pool *p = NULL;
	int us = 200000;
	int64_t t0, t1;

	atomic_store(&jobs_run, 0);
	CHECK(ts_pool_new(1, 2, &p) == TS_OK);
	CHECK(ts_pool_submit(p, slow_job, &us) == TS_OK);
	while (ts_pool_queued(p) != 0)   /* the worker has taken it */
		usleep(1000);
	CHECK(ts_pool_submit(p, slow_job, &us) == TS_OK);
	CHECK(ts_pool_submit(p, slow_job, &us) == TS_OK);
	CHECK(ts_pool_queued(p) == 2);
	t0 = ts_mono_us();
	CHECK(ts_pool_submit(p, slow_job, &us) == TS_E_OVERLOADED);
	t1 = ts_mono_us();
	CHECK(t1 - t0 < 50000);          /* answered at once, not after a job */
	/* free drains: the two queued jobs still run */
	ts_pool_free(p);
	CHECK(atomic_load(&jobs_run) == 3);
}

int
main(void)
{
	test_uuid();
	test_time();
	test_strings();
	test_utf8();
	test_email();
	test_slug();
	test_log();
	test_log_text_audit();
	test_metrics();
	test_pool_runs_all();
	test_pool_overload();
	return CHECK_DONE();
}
