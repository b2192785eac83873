/* Unit tests of src/http: the address parsers, then a real server on
 * 127.0.0.1:0 driven over raw sockets, so framing is exactly what we send. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/util.h"
#include "http/http.h"
#include "http/http_internal.h"

/* ---- parsers ---- */

static void
test_listen(void)
{
	http_listen l;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&l.ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&l.ss;

	CHECK(http_parse_listen("127.0.0.1:8080", &l) == TS_OK);
	CHECK(a4->sin_family == AF_INET && ntohs(a4->sin_port) == 8080 && !l.v6 && !l.any);
	CHECK(a4->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	CHECK(http_parse_listen("0.0.0.0:0", &l) == TS_OK);
	CHECK(ntohs(a4->sin_port) == 0);
	CHECK(http_parse_listen("[::1]:443", &l) == TS_OK);
	CHECK(a6->sin6_family == AF_INET6 && ntohs(a6->sin6_port) == 443 && l.v6);
	CHECK(http_parse_listen(":8080", &l) == TS_OK);
	CHECK(l.any && l.v6 && ntohs(a6->sin6_port) == 8080);
	CHECK(http_parse_listen("localhost:8080", &l) == TS_E_INVALID);
	CHECK(http_parse_listen("127.0.0.1", &l) == TS_E_INVALID);
	CHECK(http_parse_listen("127.0.0.1:", &l) == TS_E_INVALID);
	CHECK(http_parse_listen("127.0.0.1:65536", &l) == TS_E_INVALID);
	CHECK(http_parse_listen("127.0.0.1:80x", &l) == TS_E_INVALID);
	CHECK(http_parse_listen("::1:8080", &l) == TS_E_INVALID);
	CHECK(http_parse_listen("[::1]8080", &l) == TS_E_INVALID);
	CHECK(http_parse_listen("[::1", &l) == TS_E_INVALID);
	CHECK(http_parse_listen("[]:80", &l) == TS_E_INVALID);
	CHECK(http_parse_listen(NULL, &l) == TS_E_INVALID);
}

static void
test_host(void)
{
	char out[TS_HOST_MAX + 1], big[300];

	CHECK(http_host_normalize("Example.COM", out));
	CHECK_STR(out, "example.com");
	CHECK(http_host_normalize("auth.example.com:8443", out));
	CHECK_STR(out, "auth.example.com");
	CHECK(http_host_normalize("[::1]:8080", out));
	CHECK_STR(out, "::1");
	CHECK(http_host_normalize("[2001:DB8::1]", out));
	CHECK_STR(out, "2001:db8::1");
	CHECK(http_host_normalize("127.0.0.1:80", out));
	CHECK_STR(out, "127.0.0.1");
	CHECK(!http_host_normalize(NULL, out));
	CHECK(!http_host_normalize("", out));
	CHECK(!http_host_normalize(":80", out));
	CHECK(!http_host_normalize("a b", out));
	CHECK(!http_host_normalize("a/b", out));
	CHECK(!http_host_normalize("example.com:x", out));
	CHECK(!http_host_normalize("[::1", out));
	CHECK(!http_host_normalize("[::1]x", out));
	CHECK(!http_host_normalize("::1", out));
	memset(big, 'a', 254);
	big[254] = '\0';
	CHECK(!http_host_normalize(big, out));
	big[253] = '\0';
	CHECK(http_host_normalize(big, out));
}

static void
xff_case(const http_ip *trusted, size_t n, const char *v1, const char *v2, const char *want)
{
	http_xff x = { .trusted = trusted, .ntrusted = n };
	http_ip peer, got;
	char txt[HTTP_IP_STRLEN];

	http_ip_parse("127.0.0.1", &peer);
	http_xff_feed(&x, v1);
	http_xff_feed(&x, v2);
	http_xff_result(&x, &peer, &got);
	http_ip_format(&got, txt);
	CHECK_STR(txt, want);
}

static void
test_ips(void)
{
	http_ip *list = NULL, a, b;
	size_t n = 0;
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	char txt[HTTP_IP_STRLEN];

	CHECK(http_parse_ip_list(NULL, &list, &n) == TS_OK && n == 0 && list == NULL);
	CHECK(http_parse_ip_list("", &list, &n) == TS_OK && n == 0);
	CHECK(http_parse_ip_list("10.0.0.1,bogus", &list, &n) == TS_E_INVALID);
	CHECK(http_parse_ip_list("10.0.0.1,", &list, &n) == TS_E_INVALID);
	CHECK(http_parse_ip_list("10.0.0.0/33", &list, &n) == TS_E_INVALID);
	CHECK(http_parse_ip_list("10.0.0.0/", &list, &n) == TS_E_INVALID);
	CHECK(http_parse_ip_list("fd00::/129", &list, &n) == TS_E_INVALID);
	/* CIDRs (the --trusted-proxies setting is a CIDR list) */
	CHECK(http_parse_ip_list("10.0.0.0/8, fd00::/8,192.0.2.0/31", &list, &n) == TS_OK && n == 3);
	CHECK(http_ip_parse("10.200.3.4", &a) && http_ip_in(&a, &list[0]));
	CHECK(http_ip_parse("11.0.0.1", &a) && !http_ip_in(&a, &list[0]));
	CHECK(http_ip_parse("fdab::1", &a) && http_ip_in(&a, &list[1]) && !http_ip_in(&a, &list[0]));
	CHECK(http_ip_parse("fe00::1", &a) && !http_ip_in(&a, &list[1]));
	CHECK(http_ip_parse("192.0.2.1", &a) && http_ip_in(&a, &list[2]));
	CHECK(http_ip_parse("192.0.2.2", &a) && !http_ip_in(&a, &list[2]));
	free(list);
	CHECK(http_parse_ip_list(" 10.0.0.1 , ::1,192.0.2.9", &list, &n) == TS_OK);
	CHECK(n == 3);

	/* ::ffff:10.0.0.1 from a dual-stack socket equals 10.0.0.1 */
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &s6.sin6_addr);
	CHECK(http_ip_from_sockaddr((struct sockaddr *)&s6, &a));
	http_ip_format(&a, txt);
	CHECK_STR(txt, "10.0.0.1");
	CHECK(http_ip_parse("10.0.0.1", &b) && http_ip_equal(&a, &b));
	CHECK(!http_ip_parse("10.0.0.1:80", &b));
	CHECK(!http_ip_parse("", &b));

	xff_case(list, n, NULL, NULL, "127.0.0.1");
	xff_case(list, n, "203.0.113.5", NULL, "203.0.113.5");
	xff_case(list, n, "198.51.100.7, 203.0.113.5", NULL, "203.0.113.5");
	xff_case(list, n, "203.0.113.5, 10.0.0.1", NULL, "203.0.113.5");
	xff_case(list, n, "203.0.113.5,10.0.0.1,192.0.2.9", NULL, "203.0.113.5");
	xff_case(list, n, "198.51.100.7", "203.0.113.9", "203.0.113.9");
	xff_case(list, n, "203.0.113.5, garbage", NULL, "127.0.0.1");
	xff_case(list, n, "garbage, 203.0.113.5", NULL, "203.0.113.5");
	xff_case(list, n, "2001:db8::7", NULL, "2001:db8::7");
	xff_case(list, n, "10.0.0.1", NULL, "127.0.0.1");     /* only proxies */
	xff_case(list, n, "", NULL, "127.0.0.1");
	free(list);
}

static const char *
framing_of(const char *const *fields, int http10)
{
	http_framing f = { 0 };

	for (; fields[0] != NULL; fields += 2)
		http_framing_feed(&f, fields[0], fields[1]);
	return http_framing_verdict(&f, http10);
}

static void
test_framing(void)
{
	const char *ok_cl[] = { "Host", "a", "Content-Length", "3", NULL };
	const char *ok_te[] = { "Host", "a", "transfer-encoding", "Chunked", NULL };
	const char *both[] = { "Content-Length", "3", "Transfer-Encoding", "chunked", NULL };
	const char *dup_cl[] = { "Content-Length", "3", "content-length", "3", NULL };
	const char *dup_host[] = { "Host", "a", "HOST", "b", NULL };
	const char *sp[] = { "Content-Length ", "3", NULL };
	const char *gz[] = { "Transfer-Encoding", "gzip, chunked", NULL };
	const char *none[] = { NULL };

	CHECK(framing_of(ok_cl, 0) == NULL);
	CHECK(framing_of(ok_te, 0) == NULL);
	CHECK(framing_of(none, 1) == NULL);
	CHECK_STR(framing_of(both, 0), "te_and_cl");
	CHECK_STR(framing_of(dup_cl, 0), "dup_content_length");
	CHECK_STR(framing_of(dup_host, 0), "dup_host");
	CHECK_STR(framing_of(sp, 0), "bad_header_name");
	CHECK_STR(framing_of(gz, 0), "te_unsupported");
	CHECK_STR(framing_of(ok_te, 1), "te_http10");
	/* HTTP/1.1 without Host: ours to answer, not MHD's (its 400 doubles) */
	CHECK_STR(framing_of(none, 0), "no_host");
	CHECK_STR(framing_of(both, 1), "te_and_cl");
}

/* Parses raw in place the way libmicrohttpd 0.9.75 does (CRLF or LF to
 * NULs, each header line's first colon to a NUL, value after SP/HTAB, a
 * folded line glued onto a copy of the previous field's name) and runs the
 * field walk over it. buf must hold raw. */
static const char *
walk_of_n(char *buf, const char *raw, size_t n)
{
	size_t i = 0, nf = 0;
	struct { const char *k, *v; } f[16];
	char *folded[16];
	size_t nfolded = 0;
	http_fieldwalk w = { 0 };
	const char *verdict;
	char *line, *version = NULL;

	memcpy(buf, raw, n);
	buf[n] = '\0';
	/* request line */
	line = buf;
	while (i < n && buf[i] != '\n')
		i++;
	if (i > 0 && buf[i - 1] == '\r')
		buf[i - 1] = '\0';
	buf[i++] = '\0';
	version = strrchr(line, ' ') + 1;
	for (char *p = line; *p; p++)
		if (*p == ' ')
			*p = '\0';
	/* header lines */
	while (i < n) {
		char *l = buf + i, *c;
		while (i < n && buf[i] != '\n')
			i++;
		if (i > 0 && buf[i - 1] == '\r')
			buf[i - 1] = '\0';
		buf[i++] = '\0';
		if (*l == '\0')
			break;
		if ((*l == ' ' || *l == '\t') && nf > 0) {
			char *t = l, *k;
			while (*t == ' ' || *t == '\t')
				t++;
			k = malloc(strlen(f[nf - 1].k) + strlen(t) + 1);
			strcpy(k, f[nf - 1].k);
			strcat(k, t);
			f[nf - 1].k = folded[nfolded++] = k;
			continue;
		}
		if ((c = strchr(l, ':')) == NULL || nf == 16)
			return "mhd_refuses";
		*c++ = '\0';
		while (*c == ' ' || *c == '\t')
			c++;
		f[nf].k = l;
		f[nf++].v = c;
	}
	w.pos = version + strlen(version);
	w.end = buf + i;
	for (size_t j = 0; j < nf; j++)
		http_fieldwalk_feed(&w, f[j].k, strlen(f[j].k), f[j].v, strlen(f[j].v));
	verdict = http_fieldwalk_verdict(&w);
	while (nfolded > 0)
		free(folded[--nfolded]);
	return verdict;
}

static const char *
walk_of(char *buf, const char *raw)
{
	return walk_of_n(buf, raw, strlen(raw));
}

static void
test_fieldwalk(void)
{
	char buf[512];
	static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n";
	static const char nul_eol[] = "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0\r\nContent-Length: 2\r\n\r\n";

	CHECK(walk_of(buf, "GET / HTTP/1.1\r\nHost: a\r\n\r\n") == NULL);
	CHECK(walk_of(buf, "GET / HTTP/1.0\r\n\r\n") == NULL);
	CHECK(walk_of(buf, "GET / HTTP/1.1\nHost: a\nX-B:\n\n") == NULL);
	CHECK(walk_of(buf, "GET / HTTP/1.1\r\nHost: a\r\nX-B:   \r\nX-C: d \t\r\n\r\n") == NULL);
	CHECK(walk_of(buf, "GET / HTTP/1.1\r\nHost: a\nX-B: c\r\n\n") == NULL);
	CHECK_STR(walk_of(buf, "GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n 37\r\n\r\n"),
	          "bad_header_line");
	CHECK_STR(walk_of(buf, "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"), "bad_header_line");
	CHECK_STR(walk_of(buf, "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n"), "bare_cr");
	CHECK_STR(walk_of(buf, "GET / HTTP/1.1\r\nX-\rA: b\r\nHost: a\r\n\r\n"), "bare_cr");
	/* a NUL: MHD's strlen stops there, the rest of the line is left over */
	CHECK_STR(walk_of_n(buf, nul, sizeof(nul) - 1), "bad_header_line");
	CHECK_STR(walk_of_n(buf, nul_eol, sizeof(nul_eol) - 1), "bad_header_line");
}

static void
test_target(void)
{
	http_target t;

	CHECK(http_target_parse("/healthz?x=1", &t) == NULL);
	CHECK(t.path_len == 8 && strncmp(t.path, "/healthz", 8) == 0 && t.authority == NULL);
	CHECK(http_target_parse("/%68ealthz", &t) == NULL);
	CHECK(t.path_len == 10);                        /* raw: not decoded */
	CHECK(http_target_parse("http://Acme.example:8080/v1/auth/login?a", &t) == NULL);
	CHECK(t.authority_len == 17 && strncmp(t.authority, "Acme.example:8080", 17) == 0);
	CHECK(t.path_len == 14 && strncmp(t.path, "/v1/auth/login", 14) == 0);
	CHECK(http_target_parse("HTTPS://h", &t) == NULL);
	CHECK(t.path_len == 0 && t.authority_len == 1);
	CHECK(http_target_parse("*", &t) == NULL);
	CHECK(t.path_len == 1);
	CHECK_STR(http_target_parse("/a b", &t), "bad_target");
	CHECK_STR(http_target_parse("/a\tb", &t), "bad_target");
	CHECK_STR(http_target_parse("/a\x7f", &t), "bad_target");
	CHECK_STR(http_target_parse("http:///x", &t), "bad_target");
	CHECK_STR(http_target_parse("http://u@h/x", &t), "bad_target");
	CHECK_STR(http_target_parse("http://h#f", &t), "bad_target");
}

static void
test_connlimit(void)
{
	http_connlimit *cl;
	http_ip a, b, proxy;

	CHECK(http_ip_parse("192.0.2.1", &a) && http_ip_parse("2001:db8::1", &b));
	CHECK(http_ip_parse("10.0.0.1", &proxy));
	CHECK(http_connlimit_new(2, &proxy, 1, &cl) == TS_OK);
	CHECK(http_connlimit_admits(cl, &a));
	CHECK(http_connlimit_acquire(cl, &a) == 1);
	CHECK(http_connlimit_acquire(cl, &a) == 1);
	CHECK(!http_connlimit_admits(cl, &a));          /* at the limit */
	CHECK(http_connlimit_admits(cl, &b));           /* others are not */
	CHECK(http_connlimit_count(cl, &a) == 2);
	for (int i = 0; i < 100; i++)
		CHECK(http_connlimit_acquire(cl, &proxy) == 0); /* exempt: not counted */
	CHECK(http_connlimit_admits(cl, &proxy));
	CHECK(http_connlimit_count(cl, &proxy) == 0);
	http_connlimit_release(cl, &a);
	CHECK(http_connlimit_admits(cl, &a));
	CHECK(http_connlimit_count(cl, &a) == 1);
	http_connlimit_release(cl, &a);
	CHECK(http_connlimit_count(cl, &a) == 0);       /* entry freed */
	CHECK(http_connlimit_acquire(cl, &b) == 1);     /* freed at the end */
	http_connlimit_free(cl);

	CHECK(http_connlimit_new(0, NULL, 0, &cl) == TS_OK);   /* 0: no limit */
	CHECK(http_connlimit_acquire(cl, &a) == 0);
	CHECK(http_connlimit_admits(cl, &a));
	http_connlimit_free(cl);
}

/* ---- a live server ---- */

static atomic_int seen_too_large;

typedef struct {
	int sleep_us;
} job_arg;

static void
sleepy_job(void *arg, ts_http_resp *resp)
{
	job_arg *a = arg;

	usleep((useconds_t)a->sleep_us);
	free(a);
	resp->status = 200;
	resp->body = strdup("deferred");
	resp->body_len = strlen("deferred");
	resp->content_type = "text/plain";
	resp->log_note = "slept";
}

/* A job whose answer is held 200 ms (a login's padding): it records when
 * it ran, then leaves the hashing worker free (ts_http_resp.not_before_us). */
#define HELD_US 200000
static _Atomic int64_t held_started[2];
static atomic_int held_n;

static void
held_job(void *arg, ts_http_resp *resp)
{
	int i = atomic_fetch_add(&held_n, 1);

	(void)arg;
	if (i < 2)
		held_started[i] = ts_mono_us();
	resp->not_before_us = ts_mono_us() + HELD_US;
	resp->status = 200;
	resp->body = strdup(i == 0 ? "held0" : "held1");
	resp->body_len = 5;
}

/* A job on a second pool that hands its request on to the server's pool
 * (a login: admission on a store worker, then a hashing worker). */
static ts_pool *second_pool;

typedef struct {
	ts_http_req *req;
} handon_arg;

static void
handon_job(void *arg, ts_http_resp *resp)
{
	handon_arg *h = arg;
	job_arg *a = malloc(sizeof(*a));
	ts_http_req *req = h->req;

	free(h);
	a->sleep_us = 1000;
	if (ts_http_defer(req, sleepy_job, a) != TS_OK) {
		free(a);
		resp->status = 503;
		return;
	}
	/* A second hand-over from the same job is refused: the request is
	 * the next job's now. */
	CHECK(ts_http_defer(req, sleepy_job, NULL) == TS_E_INVALID);
}

static void
set_body(ts_http_resp *resp, int status, const char *text)
{
	resp->status = status;
	resp->body = strdup(text);
	resp->body_len = strlen(text);
}

static ts_http_action
test_dispatch(void *app, ts_http_req *req, ts_http_resp *resp)
{
	char info[1024];
	const char *q, *x;

	(void)app;
	if (req->malformed) {
		/* As every face does: refuse, in its own shape, unread. */
		CHECK(req->body == NULL);
		set_body(resp, 400, "{\"error\":\"bad request\"}");
		return TS_HTTP_DONE;
	}
	if (req->body_too_large) {
		atomic_fetch_add(&seen_too_large, 1);
		CHECK(req->body == NULL);
		set_body(resp, 413, "{\"error\":\"too large\"}");
		resp->log_note = "too_large";
		return TS_HTTP_DONE;
	}
	if (strcmp(req->path, "/echo") == 0) {
		resp->status = 200;
		if (req->body != NULL) {
			CHECK(req->body[req->body_len] == '\0');
			resp->body = malloc(req->body_len + 1);
			memcpy(resp->body, req->body, req->body_len);
			resp->body_len = req->body_len;
		}
		return TS_HTTP_DONE;
	}
	if (strcmp(req->path, "/info") == 0) {
		q = ts_http_query(req, "x");
		x = ts_http_header(req, "X-Test");
		snprintf(info, sizeof(info), "%s|%s|%s|%s|%s|%s|%s|%s|%s",
		         req->method, req->path, req->host ? req->host : "-",
		         req->client_ip, req->content_type ? req->content_type : "-",
		         req->authorization ? req->authorization : "-", q ? q : "-",
		         x ? x : "-", req->request_id);
		set_body(resp, 200, info);
		return TS_HTTP_DONE;
	}
	if (strcmp(req->path, "/defer") == 0 || strcmp(req->path, "/slow") == 0 ||
	    strcmp(req->path, "/slower") == 0) {
		job_arg *a = malloc(sizeof(*a));
		a->sleep_us = req->path[1] == 'd' ? 50000 : strlen(req->path) == 5 ? 300000 : 1500000;
		if (ts_http_defer(req, sleepy_job, a) != TS_OK) {
			free(a);
			set_body(resp, 503, "{\"error\":\"busy\"}");
			resp->retry_after = 1;
			resp->log_note = "overloaded";
			return TS_HTTP_DONE;
		}
		return TS_HTTP_DEFERRED;
	}
	if (strcmp(req->path, "/held") == 0) {
		if (ts_http_defer(req, held_job, NULL) != TS_OK) {
			set_body(resp, 503, "{\"error\":\"busy\"}");
			return TS_HTTP_DONE;
		}
		return TS_HTTP_DEFERRED;
	}
	if (strcmp(req->path, "/handon") == 0) {
		handon_arg *h = malloc(sizeof(*h));
		h->req = req;
		if (ts_http_defer_on(req, second_pool, handon_job, h) != TS_OK) {
			free(h);
			set_body(resp, 503, "{\"error\":\"busy\"}");
			return TS_HTTP_DONE;
		}
		return TS_HTTP_DEFERRED;
	}
	if (strcmp(req->path, "/repeated") == 0) {
		set_body(resp, 200, ts_http_query_repeated(req) ? "1" : "0");
		resp->location[0] = '\0';
		if (ts_http_query(req, "go"))   /* a redirect's Location */
			snprintf(resp->location, sizeof(resp->location), "https://a.example/cb?x=1");
		return TS_HTTP_DONE;
	}
	if (strcmp(req->path, "/retry") == 0) {
		set_body(resp, 429, "{}");
		resp->retry_after = 30;
		return TS_HTTP_DONE;
	}
	if (strcmp(req->path, "/me") == 0) {
		set_body(resp, 401, "{\"error\":\"invalid_token\"}");
		resp->www_authenticate = "Bearer error=\"invalid_token\"";
		return TS_HTTP_DONE;
	}
	if (strcmp(req->path, "/nostatus") == 0)
		return TS_HTTP_DONE;
	if (strcmp(req->path, "/lying") == 0)
		return TS_HTTP_DEFERRED;      /* claims deferral it never made */
	set_body(resp, 404, "{\"error\":\"not found\"}");
	return TS_HTTP_DONE;
}

typedef struct {
	int status;
	char head[4096];
	char body[4096];
} reply;

static int
connect_to(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends what it can; the server may close early (413, 400). */
static void
send_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		buf += w;
		n -= (size_t)w;
	}
}

/* Reads to EOF (requests say Connection: close) and splits the reply. */
static void
read_reply(int fd, reply *rp)
{
	char raw[16384];
	size_t len = 0;
	ssize_t n;
	char *sep;

	memset(rp, 0, sizeof(*rp));
	while (len < sizeof(raw) - 1 && (n = recv(fd, raw + len, sizeof(raw) - 1 - len, 0)) > 0)
		len += (size_t)n;
	raw[len] = '\0';
	if (sscanf(raw, "HTTP/1.%*d %d", &rp->status) != 1)
		rp->status = -1;
	if ((sep = strstr(raw, "\r\n\r\n")) != NULL) {
		*sep = '\0';
		ts_strlcpy(rp->head, raw, sizeof(rp->head));
		ts_strlcpy(rp->body, sep + 4, sizeof(rp->body));
	}
}

static void
roundtrip(unsigned port, const char *raw, size_t len, reply *rp)
{
	int fd = connect_to(port);

	memset(rp, 0, sizeof(*rp));
	rp->status = -1;
	if (fd < 0)
		return;
	send_all(fd, raw, len);
	read_reply(fd, rp);
	close(fd);
}

static void
get(unsigned port, const char *req, reply *rp)
{
	roundtrip(port, req, strlen(req), rp);
}

static int
has_header(const reply *rp, const char *line)
{
	return strstr(rp->head, line) != NULL;
}

static void
test_basic(unsigned port)
{
	reply rp;

	get(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
	          "Connection: close\r\n\r\nhello", &rp);
	CHECK(rp.status == 200);
	CHECK_STR(rp.body, "hello");
	CHECK(has_header(&rp, "Content-Type: application/json"));
	CHECK(has_header(&rp, "Cache-Control: no-store"));
	CHECK(has_header(&rp, "X-Content-Type-Options: nosniff"));
	CHECK(has_header(&rp, "X-Request-Id: "));
	CHECK(!has_header(&rp, "Retry-After"));

	get(port, "GET /info?x=1&token=s3cret HTTP/1.1\r\nHost: EXAMPLE.com:8080\r\n"
	          "Authorization: Bearer abc\r\nX-Test: v\r\nContent-Type: text/plain\r\n"
	          "X-Forwarded-For: 203.0.113.5\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 200);
	/* XFF from an untrusted peer is ignored */
	CHECK(strncmp(rp.body, "GET|/info|example.com|127.0.0.1|text/plain|Bearer abc|1|v|", 58) == 0);
	CHECK(strlen(rp.body) == 58 + 16);

	get(port, "GET /info HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n", &rp);
	CHECK(strncmp(rp.body, "GET|/info|::1|", 14) == 0);

	/* RFC 6749 §3.1 needs to know a parameter came twice */
	get(port, "GET /repeated?a=1&b=2&c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK_STR(rp.body, "0");
	CHECK(!has_header(&rp, "Location"));
	get(port, "GET /repeated?a=1&b=2&a=3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK_STR(rp.body, "1");
	get(port, "GET /repeated?go=1&go HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK_STR(rp.body, "1");
	CHECK(has_header(&rp, "Location: https://a.example/cb?x=1"));

	get(port, "GET /retry HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 429);
	CHECK(has_header(&rp, "Retry-After: 30"));

	get(port, "GET /me HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 401);
	CHECK(has_header(&rp, "WWW-Authenticate: Bearer error=\"invalid_token\""));
	get(port, "GET /info HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(!has_header(&rp, "WWW-Authenticate"));

	get(port, "GET /nostatus HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 500);
	CHECK_STR(rp.body, "{\"error\":\"internal error\"}");
	get(port, "GET /lying HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 500);

	get(port, "GET /defer HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 200);
	CHECK_STR(rp.body, "deferred");
	CHECK(has_header(&rp, "Content-Type: text/plain"));

	/* deferred on one pool, handed on to another: the last job answers */
	for (int i = 0; i < 20; i++) {
		get(port, "GET /handon HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
		CHECK(rp.status == 200);
		CHECK_STR(rp.body, "deferred");
	}
}

static void
test_bodies(unsigned port)
{
	char *big = malloc(64 * 1024);
	size_t n;
	reply rp;

	atomic_store(&seen_too_large, 0);
	/* declared too large: answered before the body is read */
	n = (size_t)sprintf(big, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\n"
	                         "Connection: close\r\n\r\n");
	memset(big + n, 'a', 20000);
	roundtrip(port, big, n + 20000, &rp);
	CHECK(rp.status == 413);
	CHECK(atomic_load(&seen_too_large) == 1);

	/* exactly the cap is fine */
	n = (size_t)sprintf(big, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
	                         "Connection: close\r\n\r\n", TS_HTTP_BODY_MAX);
	memset(big + n, 'b', TS_HTTP_BODY_MAX);
	roundtrip(port, big, n + TS_HTTP_BODY_MAX, &rp);
	CHECK(rp.status == 200);

	/* chunked past the cap */
	n = (size_t)sprintf(big, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	                         "Connection: close\r\n\r\n");
	for (int i = 0; i < 5; i++) {
		n += (size_t)sprintf(big + n, "1000\r\n");
		memset(big + n, 'c', 0x1000);
		n += 0x1000;
		n += (size_t)sprintf(big + n, "\r\n");
	}
	n += (size_t)sprintf(big + n, "0\r\n\r\n");
	roundtrip(port, big, n, &rp);
	CHECK(rp.status == 413);
	CHECK(atomic_load(&seen_too_large) == 2);

	/* chunked under the cap */
	get(port, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	          "Connection: close\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", &rp);
	CHECK(rp.status == 200);
	CHECK_STR(rp.body, "hello");

	/* both framings: smuggling attempt */
	get(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
	          "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", &rp);
	CHECK(rp.status == 400);
	get(port, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	          "Content-Length: 5\r\nConnection: close\r\n\r\n0\r\n\r\n", &rp);
	CHECK(rp.status == 400);
	CHECK(atomic_load(&seen_too_large) == 2);

	/* other framings libmicrohttpd would read one way and a proxy another */
	get(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
	          "Content-Length: 50\r\nConnection: close\r\n\r\nabc", &rp);
	CHECK(rp.status == 400);
	get(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length : 3\r\n"
	          "Connection: close\r\n\r\nabc", &rp);
	CHECK(rp.status == 400);
	get(port, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n"
	          "Content-Length: 3\r\nConnection: close\r\n\r\nabc", &rp);
	CHECK(rp.status == 400);
	get(port, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n"
	          "Connection: close\r\n\r\nabc", &rp);
	CHECK(rp.status == 400);
	get(port, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n"
	          "Connection: close\r\n\r\n0\r\n\r\n", &rp);
	CHECK(rp.status == 400);
	get(port, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	          "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", &rp);
	CHECK(rp.status == 400);
	get(port, "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &rp);
	CHECK(rp.status == 400);
	get(port, "GET /info HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 400);
	get(port, "GET /info HTTP/1.1\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 400);                /* HTTP/1.1 needs a Host */
	get(port, "GET /info HTTP/1.0\r\n\r\n", &rp);
	CHECK(rp.status == 200);
	CHECK(strncmp(rp.body, "GET|/info|-|", 12) == 0);
	free(big);
}

typedef struct {
	unsigned port;
	const char *req;
	reply rp;
} client_arg;

static void *
client_main(void *p)
{
	client_arg *c = p;

	get(c->port, c->req, &c->rp);
	return NULL;
}

static void
test_overload(unsigned port)
{
	enum { N = 5 };
	pthread_t t[N];
	client_arg c[N];
	int ok = 0, busy = 0, retry = 0;

	for (int i = 0; i < N; i++) {
		c[i].port = port;
		c[i].req = "GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
		pthread_create(&t[i], NULL, client_main, &c[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		ok += c[i].rp.status == 200;
		busy += c[i].rp.status == 503;
		retry += has_header(&c[i].rp, "Retry-After: 1");
	}
	printf("overload: %d ok, %d busy\n", ok, busy);
	CHECK(ok + busy == N);
	CHECK(ok >= 1);
	CHECK(busy >= 1);
	CHECK(retry == busy);
}

static void
test_trusted(unsigned port)
{
	reply rp;

	get(port, "GET /info HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 198.51.100.7, 203.0.113.5\r\n"
	          "Connection: close\r\n\r\n", &rp);
	CHECK(strstr(rp.body, "|203.0.113.5|") != NULL);
	get(port, "GET /info HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.5, 127.0.0.1\r\n"
	          "Connection: close\r\n\r\n", &rp);
	CHECK(strstr(rp.body, "|203.0.113.5|") != NULL);
	get(port, "GET /info HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 198.51.100.7\r\n"
	          "X-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n", &rp);
	CHECK(strstr(rp.body, "|203.0.113.9|") != NULL);
	get(port, "GET /info HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: not-an-ip\r\n"
	          "Connection: close\r\n\r\n", &rp);
	CHECK(strstr(rp.body, "|127.0.0.1|") != NULL);
	get(port, "GET /info HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(strstr(rp.body, "|127.0.0.1|") != NULL);
}

/* 1 when the server closes fd within limit_ms (EOF or reset). */
static int
closed_within(int fd, int limit_ms, int64_t *took_ms)
{
	int64_t t0 = ts_mono_us();
	char c;
	struct timeval tv = { .tv_sec = limit_ms / 1000, .tv_usec = (limit_ms % 1000) * 1000 };
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, &c, 1, 0);
	*took_ms = (ts_mono_us() - t0) / 1000;
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

typedef struct {
	int fd;
	atomic_int stop;
} dribble_arg;

static void *
dribble_main(void *p)
{
	dribble_arg *d = p;

	for (int i = 0; i < 40 && !atomic_load(&d->stop); i++) {
		send(d->fd, "a", 1, MSG_NOSIGNAL);
		usleep(200000);
	}
	return NULL;
}

static void
test_slow_clients(unsigned port)
{
	int fd;
	int64_t took;
	reply rp;
	pthread_t t;
	dribble_arg d;

	/* slowloris: headers never finish; the 1 s timeout cuts it */
	fd = connect_to(port);
	send_all(fd, "GET /info HTTP/1.1\r\nHost: t\r\n", 29);
	CHECK(closed_within(fd, 4000, &took));
	printf("slowloris cut after %lld ms\n", (long long)took);
	CHECK(took >= 500);
	close(fd);

	/* headers trickled a byte per 200 ms never go silent either: the
	 * header watchdog cuts them */
	fd = connect_to(port);
	send_all(fd, "GET /info HTTP/1.1\r\nHost: t\r\nX-Slow: ", 37);
	d.fd = fd;
	atomic_store(&d.stop, 0);
	pthread_create(&t, NULL, dribble_main, &d);
	CHECK(closed_within(fd, 4000, &took));
	printf("byte-by-byte headers cut after %lld ms\n", (long long)took);
	atomic_store(&d.stop, 1);
	pthread_join(t, NULL);
	close(fd);

	/* a job longer than the timeout is not cut: neither MHD (suspended)
	 * nor the watchdog (headers are in) counts it as waiting */
	get(port, "GET /slower HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 200);
	CHECK_STR(rp.body, "deferred");

	/* a body trickled a byte per 200 ms never goes silent, but must still
	 * finish within the timeout; meanwhile other clients are served */
	fd = connect_to(port);
	send_all(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n", 53);
	d.fd = fd;
	atomic_store(&d.stop, 0);
	pthread_create(&t, NULL, dribble_main, &d);
	get(port, "GET /info HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 200);
	CHECK(closed_within(fd, 4000, &took));
	printf("byte-by-byte body cut after %lld ms\n", (long long)took);
	atomic_store(&d.stop, 1);
	pthread_join(t, NULL);
	close(fd);
}

static void
test_access_log(const char *path)
{
	char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strstr(buf, "\"event\":\"request\",\"request_id\":\"") != NULL);
	/* numbers are JSON numbers */
	CHECK(strstr(buf, "\"method\":\"GET\",\"path\":\"/info\",\"status\":200,\"ms\":") != NULL);
	CHECK(strstr(buf, "\"path\":\"/defer\",\"status\":200,") != NULL);
	CHECK(strstr(buf, "\"note\":\"slept\"") != NULL);
	CHECK(strstr(buf, "\"status\":503,") != NULL);
	CHECK(strstr(buf, "\"note\":\"too_large\"") != NULL);
	CHECK(strstr(buf, "\"note\":\"te_and_cl\"") != NULL);
	CHECK(strstr(buf, "\"note\":\"dup_content_length\"") != NULL);
	CHECK(strstr(buf, "\"note\":\"body_timeout\"") != NULL);
	CHECK(strstr(buf, "\"event\":\"conn_cut\",\"ip\":\"127.0.0.1\",\"note\":\"header_timeout\"") != NULL);
	/* never the query, headers or bodies */
	CHECK(strstr(buf, "s3cret") == NULL);
	CHECK(strstr(buf, "Bearer") == NULL);
	CHECK(strstr(buf, "hello") == NULL);
}


/* Reads one response on a keep-alive connection, framed by Content-Length. */
static void
read_one(int fd, reply *rp)
{
	char raw[8192];
	size_t len = 0, need = 0;
	char *sep = NULL;
	ssize_t n;

	memset(rp, 0, sizeof(*rp));
	rp->status = -1;
	while (len < sizeof(raw) - 1) {
		if ((n = recv(fd, raw + len, sizeof(raw) - 1 - len, 0)) <= 0)
			return;
		len += (size_t)n;
		raw[len] = '\0';
		if (sep == NULL && (sep = strstr(raw, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(raw, "Content-Length: ");
			need = (size_t)(sep + 4 - raw) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
		}
		if (sep != NULL && len >= need)
			break;
	}
	sscanf(raw, "HTTP/1.%*d %d", &rp->status);
	*sep = '\0';
	ts_strlcpy(rp->head, raw, sizeof(rp->head));
	ts_strlcpy(rp->body, sep + 4, sizeof(rp->body));
}

/* A port in use fails with the reason, and nothing on stderr from us. */
static void
test_port_in_use(unsigned port)
{
	char listen[32];
	ts_http *h = NULL;
	ts_http_config cfg = { .listen = listen, .dispatch = test_dispatch };

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	CHECK(ts_http_start(&cfg, &h, NULL) == TS_E_INTERNAL && h == NULL);
	CHECK_STR(ts_http_start_error(), "Address already in use");
}

static void
test_keepalive(unsigned port)
{
	const char *rq = "GET /defer HTTP/1.1\r\nHost: t\r\n\r\n";
	const char *ri = "GET /info HTTP/1.1\r\nHost: t\r\n\r\n";
	int fd = connect_to(port);
	reply rp;

	/* deferred, direct, deferred again on one connection */
	send_all(fd, rq, strlen(rq));
	read_one(fd, &rp);
	CHECK(rp.status == 200);
	CHECK_STR(rp.body, "deferred");
	send_all(fd, ri, strlen(ri));
	read_one(fd, &rp);
	CHECK(rp.status == 200);
	CHECK(strncmp(rp.body, "GET|/info|t|127.0.0.1|", 22) == 0);
	send_all(fd, rq, strlen(rq));
	read_one(fd, &rp);
	CHECK(rp.status == 200);
	CHECK_STR(rp.body, "deferred");
	close(fd);
}

/* The client leaves while its job runs: nothing leaks or crashes, and the
 * server goes on serving. */
/* Two held answers on a server with one worker: each leaves no sooner
 * than HELD_US after its job ran, and the second job runs while the first
 * answer is held (the worker does not sleep through the wait). A client
 * that leaves while its answer is held costs nothing (ASan). */
typedef struct {
	unsigned port;
	reply rp;
	int64_t got_us;
} held_client;

static void *
held_main(void *arg)
{
	held_client *c = arg;

	get(c->port, "GET /held HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &c->rp);
	c->got_us = ts_mono_us();
	return NULL;
}

static void
test_held(unsigned port)
{
	held_client c[2] = { { .port = port }, { .port = port } };
	pthread_t th[2];
	int64_t first;
	int fd;

	atomic_store(&held_n, 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, held_main, &c[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK(atomic_load(&held_n) == 2);
	for (int i = 0; i < 2; i++) {
		int job = c[i].rp.body[4] == '1';   /* which job answered it */

		CHECK(c[i].rp.status == 200);
		CHECK(strncmp(c[i].rp.body, "held", 4) == 0);
		CHECK(c[i].got_us - held_started[job] >= HELD_US);
	}
	CHECK(strcmp(c[0].rp.body, c[1].rp.body) != 0);
	first = c[0].got_us < c[1].got_us ? c[0].got_us : c[1].got_us;
	CHECK(held_started[1] < first);      /* ran while the first was held */
	CHECK(held_started[1] - held_started[0] < HELD_US);

	fd = connect_to(port);
	send_all(fd, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n", 31);
	usleep(50000);
	close(fd);                           /* gone while held */
	usleep(300000);
}

static void
test_client_gone(unsigned port)
{
	const char *rq = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n";
	int fd = connect_to(port);
	reply rp;

	send_all(fd, rq, strlen(rq));
	usleep(50000);
	close(fd);
	usleep(400000);             /* the job finishes, MHD meets a dead peer */
	get(port, "GET /defer HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 200);
}

static void
test_big_headers(unsigned port)
{
	size_t n = 40 * 1024;
	char *big = malloc(n + 256);
	size_t off;
	reply rp;

	off = (size_t)sprintf(big, "GET /info HTTP/1.1\r\nHost: t\r\nX-Big: ");
	memset(big + off, 'h', n);
	off += n;
	off += (size_t)sprintf(big + off, "\r\nConnection: close\r\n\r\n");
	roundtrip(port, big, off, &rp);
	printf("40 KiB header -> %d\n", rp.status);
	CHECK(rp.status == 431 || rp.status == 413 || rp.status == 400 || rp.status == -1);
	free(big);
	/* and the server is fine */
	get(port, "GET /info HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 200);
}

/* Dual-stack ":0" serves IPv4 clients and reports them as plain IPv4. */
static void
test_any_address(void)
{
	ts_http *h = NULL;
	unsigned port = 0;
	reply rp;
	ts_http_config cfg = { .listen = ":0", .threads = 1, .dispatch = test_dispatch };

	CHECK(ts_http_start(&cfg, &h, &port) == TS_OK && port != 0);
	if (h == NULL)
		return;
	get(port, "GET /info HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &rp);
	CHECK(rp.status == 200);
	CHECK(strncmp(rp.body, "GET|/info|t|127.0.0.1|", 22) == 0);
	ts_http_stop(h);

	cfg.listen = "[::1]:0";
	if (ts_http_start(&cfg, &h, &port) != TS_OK) {
		printf("no IPv6 loopback here: [::1] listen not tested\n");
		return;
	}
	{
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
		struct timeval tv = { .tv_sec = 5 };
		int fd = socket(AF_INET6, SOCK_STREAM, 0);
		const char *rq = "GET /info HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n";

		a.sin6_addr = in6addr_loopback;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
		send_all(fd, rq, strlen(rq));
		read_reply(fd, &rp);
		close(fd);
		CHECK(strncmp(rp.body, "GET|/info|::1|::1|", 18) == 0);
	}
	ts_http_stop(h);
}

typedef struct {
	ts_http *h;
	unsigned port;
	ts_pool *pool;
} server;

static int
server_start(server *s, const char *trusted, unsigned timeout, unsigned pool_cap)
{
	ts_http_config cfg = {
		.listen = "127.0.0.1:0",
		.threads = 2,
		.conn_limit = 64,
		.conn_timeout = timeout,
		.trusted_proxies = trusted,
		.dispatch = test_dispatch,
	};

	if (ts_pool_new(1, pool_cap, &s->pool) != TS_OK)
		return 0;
	cfg.pool = s->pool;
	return ts_http_start(&cfg, &s->h, &s->port) == TS_OK && s->port != 0;
}

static void
test_bad_config(void)
{
	ts_http *h = NULL;
	ts_http_config cfg = { .listen = "nowhere:80", .dispatch = test_dispatch };

	CHECK(ts_http_start(&cfg, &h, NULL) == TS_E_INVALID && h == NULL);
	CHECK(strstr(ts_http_start_error(), "nowhere:80") != NULL);
	cfg.listen = "127.0.0.1:0";
	cfg.trusted_proxies = "10.0.0.1, proxy.local";
	CHECK(ts_http_start(&cfg, &h, NULL) == TS_E_INVALID && h == NULL);
	CHECK(strstr(ts_http_start_error(), "trusted proxies") != NULL);
	cfg.trusted_proxies = NULL;
	cfg.dispatch = NULL;
	CHECK(ts_http_start(&cfg, &h, NULL) == TS_E_INVALID && h == NULL);
	ts_http_stop(NULL);
}

/* Stop while a deferred request is in its job: the answer still goes out. */
static void
test_graceful_stop(server *s)
{
	pthread_t t;
	client_arg c = { .port = s->port,
	                 .req = "GET /defer HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" };

	pthread_create(&t, NULL, client_main, &c);
	usleep(20000);                 /* the job is sleeping now */
	ts_http_stop(s->h);
	ts_pool_free(s->pool);
	pthread_join(t, NULL);
	CHECK(c.rp.status == 200);
	CHECK_STR(c.rp.body, "deferred");
}

int
main(void)
{
	char logpath[] = "/tmp/test_http_log_XXXXXX";
	int logfd = mkstemp(logpath);
	server a = { 0 }, b = { 0 };

	test_listen();
	test_host();
	test_ips();
	test_framing();
	test_fieldwalk();
	test_target();
	test_connlimit();
	test_bad_config();

	ts_log_set_fds(logfd, 2);
	CHECK(ts_pool_new(2, 16, &second_pool) == TS_OK);
	test_any_address();
	CHECK(server_start(&a, NULL, 1, 1));
	CHECK(server_start(&b, "127.0.0.1, 10.0.0.1", 5, 8));
	if (a.h != NULL && b.h != NULL) {
		test_basic(a.port);
		test_bodies(a.port);
		test_overload(a.port);
		test_keepalive(a.port);
		test_port_in_use(a.port);
		test_client_gone(a.port);
		test_held(b.port);   /* b: a queue of 8, so both are taken */
		test_big_headers(a.port);
		test_trusted(b.port);
		test_slow_clients(a.port);
		test_graceful_stop(&b);
	}
	ts_http_stop(a.h);
	ts_pool_free(a.pool);
	ts_pool_free(second_pool);
	ts_log_set_fds(1, 2);
	test_access_log(logpath);
	close(logfd);
	unlink(logpath);
	return CHECK_DONE();
}
