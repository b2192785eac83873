/* HTTP transport on libmicrohttpd: epoll event-loop threads, bounded
 * headers and bodies, one access-log line per request, and deferral of
 * heavy handlers to the worker pool by suspending the connection.
 *
 * A request's life: on_target() (MHD's URI log callback) allocates it
 * when the request line is in and keeps the raw target; on_access() is
 * called once when the headers are in (on_headers), once per body chunk
 * (on_body_chunk) and once more when the body is complete (dispatch).
 * dispatch() either queues the response at once or, when the handler
 * deferred, suspends the connection until the pool job has filled the
 * response; MHD then calls on_access() again and
 * the stored response is queued (on_resumed). on_completed() logs the
 * request and frees it. on_accept() refuses a client address over its
 * connection limit (connlimit.c); on_connection() counts each connection
 * and registers it with the header watchdog (watchdog.c). */
#include "http/http.h"

#include <microhttpd.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "http/http_internal.h"
#include "http/tls.h"

/* Header block limit: MHD keeps the request line and headers in a
 * per-connection arena of this size and answers 431 past it. MHD zeroes
 * the whole arena after each request, so every kept-alive connection
 * holds all of it: 16 KiB (Node.js's default limit) halves the memory of
 * 1,000 idle connections against 32 KiB (issue 13). */
#define HTTP_CONN_MEMORY_KIB 16
#define HTTP_DEFAULT_TIMEOUT 10
#define HTTP_DEFAULT_CONN_LIMIT 1024
#define HTTP_BACKLOG 1024      /* the kernel caps it at somaxconn */
/* File descriptors kept out of conn_limit: the store, the pool, epoll and
 * event fds, the listening socket, logs, mail. */
#define HTTP_FD_HEADROOM 256
#define HTTP_MIN_CONN_LIMIT 16
/* A chunked body past TS_HTTP_BODY_MAX cannot be answered mid-upload (MHD
 * queues responses only between uploads), so it is read and dropped; past
 * this much the connection is cut instead. */
#define HTTP_DISCARD_MAX (256 * 1024)
#define HTTP_REQID_BYTES 8
/* A request id a trusted proxy sends (X-Request-Id) is taken when it has
 * 1 to this many bytes, all of [A-Za-z0-9._:-]: it goes into every log
 * line and back into a header, so nothing that could break either. */
#define HTTP_REQID_MAX TS_LOG_REQUEST_ID_MAX

struct ts_http {
	struct MHD_Daemon *daemon;
	ts_http_dispatch_fn dispatch;
	void *app;
	ts_pool *pool;
	http_ip *trusted;           /* owned; ntrusted entries */
	size_t ntrusted;
	unsigned conn_timeout;      /* seconds; also the body deadline */
	size_t conn_memory;         /* bytes of MHD's per-connection arena */
	http_connlimit *connlimit;  /* owned; per client address */
	atomic_ulong refused;       /* connections refused by connlimit */
	pthread_mutex_t mu;         /* guards closing and ndeferred */
	pthread_cond_t cv;          /* signalled when ndeferred drops to 0 */
	int closing;                /* ts_http_stop began: no new deferrals */
	http_watchdog *watchdog;    /* owned */
	unsigned ndeferred;         /* deferred requests not yet completed
	                               (answered or dropped); stop waits for 0 */
	http_tls *tls;              /* owned; NULL: plain HTTP */
	http_delay *delay;          /* owned; answers held to not_before_us */
};

/* An open connection: MHD's socket context. */
typedef struct http_sock {
	ts_http *h;
	http_tls_bundle *tls;       /* the certificate its handshake presented:
	                               held until the connection closes */
	http_conn *wd;              /* the watchdog entry, or NULL */
	http_ip ip;                 /* socket peer */
	int counted;                /* holds a connlimit count for ip */
} http_sock;

typedef struct http_request {
	ts_http *h;
	http_conn *c;               /* the connection's watchdog entry, or NULL */
	struct MHD_Connection *conn;
	ts_http_req req;
	ts_http_resp resp;
	char *target;               /* owned copy of the raw request target */
	const char *target_at;      /* where MHD's buffer held it; compared,
	                               never read */
	int started;                /* the headers are in (on_headers ran) */
	char *path;                 /* owned: the target's path, raw (not
	                               percent-decoded), for routing */
	char *method;               /* owned copy: logged after MHD's arena
	                               may have been reset */
	char *body;                 /* owned; TS_HTTP_BODY_MAX + 1 bytes */
	size_t body_len;
	size_t discarded;           /* bytes dropped after too_large */
	int too_large;
	int dispatched;             /* dispatch ran (or the transport answered) */
	unsigned status;            /* status queued to MHD; 0 = none */
	int64_t start_us;
	char id[HTTP_REQID_MAX + 1]; /* ours, or a trusted proxy's */
	char host[TS_HOST_MAX + 1];
	char ip[HTTP_IP_STRLEN];

	/* Deferral. job and job_arg are set before submission; deferred is
	 * only touched on the connection thread. The rest is shared with the
	 * pool worker under mu. */
	ts_http_job_fn job;
	void *job_arg;
	int deferred;               /* a job was submitted */
	pthread_mutex_t mu;
	int job_done;               /* the job has filled resp */
	int suspended;              /* the connection thread suspended conn */
	int orphaned;               /* MHD dropped the request while the job
	                               ran: the worker frees it */
	http_delayed delayed;       /* while its answer waits for not_before_us */
} http_request;

static const char body_internal[] = "{\"error\":\"internal error\"}";

/* ---- connections: per-address limit and the header watchdog ---- */

/* MHD's accept policy: a client at its limit is refused at once (MHD
 * closes the socket before reading from it), so it cannot take the slots
 * that everyone else and the health checks need. */
static enum MHD_Result
on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	ts_http *h = cls;
	http_ip ip;
	char text[HTTP_IP_STRLEN], count[24];
	unsigned long n;

	(void)addrlen;
	if (!http_ip_from_sockaddr(addr, &ip) || http_connlimit_admits(h->connlimit, &ip))
		return MHD_YES;
	/* One line for the 1st, 2nd, 4th, 8th... refusal: a flood stays a
	 * few lines. */
	n = atomic_fetch_add(&h->refused, 1) + 1;
	if ((n & (n - 1)) == 0) {
		http_ip_format(&ip, text);
		snprintf(count, sizeof(count), "%lu", n);
		ts_log_event(TS_LOG_WARN, "conn_refused", "ip", text, "note", "per_ip_limit",
		             "refused", count, NULL);
	}
	return MHD_NO;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
	ts_http *h = cls;
	const union MHD_ConnectionInfo *fdi, *ai;
	http_sock *sk = *socket_context;
	char ip[HTTP_IP_STRLEN] = "unknown";

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		/* MHD closes the fd after this returns. */
		if (sk != NULL) {
			http_watchdog_remove(h->watchdog, sk->wd);
			if (sk->counted)
				http_connlimit_release(h->connlimit, &sk->ip);
			http_tls_release(sk->tls); /* MHD ran gnutls_deinit already */
			free(sk);
		}
		*socket_context = NULL;
		return;
	}
	if ((sk = calloc(1, sizeof(*sk))) == NULL)
		return; /* unwatched and uncounted; a TLS handshake fails */
	sk->h = h;
	fdi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	ai = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ai != NULL && http_ip_from_sockaddr(ai->client_addr, &sk->ip)) {
		http_ip_format(&sk->ip, ip);
		sk->counted = http_connlimit_acquire(h->connlimit, &sk->ip);
	}
	sk->wd = fdi ? http_watchdog_add(h->watchdog, fdi->connect_fd, ip) : NULL;
	*socket_context = sk;
}

/* The watchdog entry of conn, marked busy: its headers are in. */
static http_conn *
conn_busy(ts_http *h, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	const http_sock *sk;
	http_conn *c;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	sk = ci ? ci->socket_context : NULL;
	c = sk ? sk->wd : NULL;
	http_watchdog_busy(h->watchdog, c, 1);
	return c;
}

/* GnuTLS asks, once per handshake, which certificate to present
 * (gnutls_certificate_retrieve_function2). The connection takes a
 * reference to the current bundle and keeps it until it closes: GnuTLS
 * keeps pointing at what it was given. A second handshake on the same
 * connection (a TLS 1.2 renegotiation) gets the same bundle. MHD set the
 * session's pointer to its connection. */
static int
on_tls_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
            const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
            gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *key)
{
	struct MHD_Connection *conn = gnutls_session_get_ptr(session);
	const union MHD_ConnectionInfo *ci;
	http_sock *sk;

	(void)req_ca_rdn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	ci = conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
	sk = ci ? ci->socket_context : NULL;
	if (sk == NULL || sk->h->tls == NULL)
		return -1;   /* the handshake fails; the connection closes */
	if (sk->tls == NULL)
		sk->tls = http_tls_acquire(sk->h->tls);
	http_tls_bundle_get(sk->tls, pcert, pcert_length, key);
	return 0;
}

/* ---- per-request state ---- */

/* A request id: HTTP_REQID_BYTES random bytes in hex, taken from a
 * per-thread reserve that is refilled 32 ids at a time, so a request costs
 * no getrandom(2) of its own (issue 13). Ids only correlate log lines
 * with answers; they are still unpredictable. */
static void
new_request_id(char out[2 * HTTP_REQID_BYTES + 1])
{
	static _Thread_local unsigned char reserve[32 * HTTP_REQID_BYTES];
	static _Thread_local size_t left;
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b;

	if (left < HTTP_REQID_BYTES) {
		ts_random_bytes(reserve, sizeof(reserve));
		left = sizeof(reserve);
	}
	left -= HTTP_REQID_BYTES;
	b = reserve + left;
	for (size_t i = 0; i < HTTP_REQID_BYTES; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * HTTP_REQID_BYTES] = '\0';
}

static void
request_free(http_request *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->resp.body);
	free(r->body);
	free(r->path);
	free(r->target);
	free(r->method);
	free(r);
}

/* Resolves the client address: the socket peer, or, when the peer is one
 * of our trusted proxies, the rightmost X-Forwarded-For entry that is not. */
static enum MHD_Result
xff_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	if (key != NULL && strcasecmp(key, "X-Forwarded-For") == 0)
		http_xff_feed(cls, value);
	return MHD_YES;
}

/* Sets r->ip; 1 when the socket peer is a trusted proxy. */
static int
resolve_client_ip(http_request *r)
{
	const union MHD_ConnectionInfo *ci;
	http_ip peer, client;
	int trusted = 0;

	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || !http_ip_from_sockaddr(ci->client_addr, &peer)) {
		ts_strlcpy(r->ip, "unknown", sizeof(r->ip));
		return 0;
	}
	for (size_t i = 0; i < r->h->ntrusted; i++)
		trusted |= http_ip_in(&peer, &r->h->trusted[i]);
	client = peer;
	if (trusted) {
		/* All X-Forwarded-For fields, in order: a proxy may add its
		 * own field rather than extend the first one. */
		http_xff x = { .trusted = r->h->trusted, .ntrusted = r->h->ntrusted };
		MHD_get_connection_values(r->conn, MHD_HEADER_KIND, xff_value, &x);
		http_xff_result(&x, &peer, &client);
	}
	http_ip_format(&client, r->ip);
	return trusted;
}

static const char *
header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* MHD's URI log callback: the request line is in, and this is the last
 * moment its target is as the client sent it (MHD percent-decodes it in
 * place next). The request is allocated here; it becomes MHD's con_cls.
 * NULL on out-of-memory: on_headers then closes the connection. */
static void *
on_target(void *cls, const char *uri, struct MHD_Connection *conn)
{
	http_request *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	r->h = cls;
	r->conn = conn;
	r->start_us = ts_mono_us();
	r->target_at = uri;
	if ((r->target = strdup(uri ? uri : "")) == NULL) {
		request_free(r);
		return NULL;
	}
	return r;
}

/* The header block as MHD parsed it in place: every byte must belong to
 * one field line (http_fieldwalk). */
static enum MHD_Result
walk_field(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
           const char *value, size_t value_size)
{
	(void)kind;
	http_fieldwalk_feed(cls, key, key_size, value, value_size);
	return MHD_YES;
}

static const char *
header_lines_verdict(struct MHD_Connection *conn, const char *method, const char *version)
{
	const union MHD_ConnectionInfo *ci;
	http_fieldwalk w = { 0 };

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	if (ci == NULL || method == NULL || version == NULL)
		return "bad_header_line";
	w.pos = version + strlen(version);
	w.end = method + ci->header_size;
	if (w.end < w.pos)
		return "bad_header_line";
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, walk_field, &w);
	return http_fieldwalk_verdict(&w);
}

/* 1 when v may serve as a request id (HTTP_REQID_MAX). */
static int
reqid_ok(const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n == 0 || n > HTTP_REQID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

/* The request's id: a trusted proxy's X-Request-Id when it is a valid one
 * (so a request is traced across the proxy's logs and ours), else 16 new
 * hex digits. A client's own X-Request-Id is never taken: it could forge
 * or collide with another request's lines. */
static void
request_id(http_request *r, int peer_trusted)
{
	const char *v = peer_trusted ? header(r->conn, "X-Request-Id") : NULL;

	if (reqid_ok(v))
		ts_strlcpy(r->id, v, sizeof(r->id));
	else
		new_request_id(r->id);
}

/* Fills the request from its target and headers once they are in. NULL, or
 * the reason the request is malformed (it is then answered 400; path is
 * still set, for the face of the answer). *oom set on out-of-memory. */
static const char *
request_start(http_request *r, const char *method, const char *version, int *oom)
{
	struct MHD_Connection *conn = r->conn;
	http_target t;
	const char *bad, *host;
	char *authority = NULL;

	*oom = 0;
	r->started = 1;
	r->c = conn_busy(r->h, conn);
	request_id(r, resolve_client_ip(r));
	bad = http_target_parse(r->target, &t);
	if (bad != NULL)
		t = (http_target){ .path = r->target, .path_len = strcspn(r->target, "?") };
	else if (r->target_at + strlen(r->target) + 1 != version)
		bad = "nul_in_target";      /* MHD's copy stopped at a NUL */
	r->path = t.path_len ? strndup(t.path, t.path_len) : strdup("/");
	r->method = strdup(method ? method : "-");
	if (t.authority != NULL)
		authority = strndup(t.authority, t.authority_len);
	if (r->path == NULL || r->method == NULL || (t.authority != NULL && authority == NULL)) {
		free(authority);
		*oom = 1;
		return NULL;
	}
	r->req.method = r->method;
	r->req.path = r->path;
	r->req.content_type = header(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
	r->req.authorization = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
	/* RFC 9112 §3.2.2: an absolute-form target's authority is the host. */
	host = authority != NULL ? authority : header(conn, MHD_HTTP_HEADER_HOST);
	r->req.host = http_host_normalize(host, r->host) ? r->host : NULL;
	if (authority != NULL && r->req.host == NULL && bad == NULL)
		bad = "bad_target";
	free(authority);
	r->req.client_ip = r->ip;
	r->req.tls = r->h->tls != NULL;
	r->req.request_id = r->id;
	r->req.priv_ = r;
	if (bad == NULL)
		bad = header_lines_verdict(conn, method, version);
	return bad;
}

/* ---- responses ---- */

/* Makes resp a transport-made answer with a static JSON body. */
static void
resp_set_static(ts_http_resp *resp, int status, const char *body, const char *note)
{
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
	resp->status = status;
	resp->body = strdup(body);
	resp->body_len = resp->body ? strlen(body) : 0;
	resp->log_note = note;
}

/* The CORS fields of rs, as the dispatcher decided them. */
static int
add_cors_headers(struct MHD_Response *m, const ts_http_resp *rs)
{
	char age[16];
	int ok = 1;

	if (rs->vary_origin)
		ok &= MHD_add_response_header(m, MHD_HTTP_HEADER_VARY, "Origin") == MHD_YES;
	if (rs->allow_origin == NULL)
		return ok;
	ok &= MHD_add_response_header(m, "Access-Control-Allow-Origin", rs->allow_origin) == MHD_YES;
	ok &= MHD_add_response_header(m, "Access-Control-Allow-Credentials", "true") == MHD_YES;
	if (rs->cors_expose != NULL)
		ok &= MHD_add_response_header(m, "Access-Control-Expose-Headers",
		                              rs->cors_expose) == MHD_YES;
	if (rs->cors_methods != NULL)
		ok &= MHD_add_response_header(m, "Access-Control-Allow-Methods",
		                              rs->cors_methods) == MHD_YES;
	if (rs->cors_headers != NULL)
		ok &= MHD_add_response_header(m, "Access-Control-Allow-Headers",
		                              rs->cors_headers) == MHD_YES;
	if (rs->cors_max_age > 0) {
		snprintf(age, sizeof(age), "%d", rs->cors_max_age);
		ok &= MHD_add_response_header(m, "Access-Control-Max-Age", age) == MHD_YES;
	}
	return ok;
}

static int
add_headers(struct MHD_Response *m, const http_request *r)
{
	const ts_http_resp *rs = &r->resp;
	char retry[16];
	int ok = 1;

	ok &= MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE,
	                              rs->content_type ? rs->content_type : "application/json") == MHD_YES;
	ok &= MHD_add_response_header(m, MHD_HTTP_HEADER_CACHE_CONTROL,
	                              rs->cache_control ? rs->cache_control : "no-store") == MHD_YES;
	ok &= MHD_add_response_header(m, "X-Request-Id", r->id) == MHD_YES;
	/* A JSON API is never framed or sniffed into HTML. */
	ok &= MHD_add_response_header(m, "X-Content-Type-Options", "nosniff") == MHD_YES;
	ok &= MHD_add_response_header(m, "X-Frame-Options", "DENY") == MHD_YES;
	ok &= MHD_add_response_header(m, "Referrer-Policy", "no-referrer") == MHD_YES;
	/* RFC 6797 §7.2: only over a secure transport; a year, the usual
	 * floor of preload lists, without includeSubDomains (the operator's
	 * other hosts are not ours to commit). */
	if (r->h->tls != NULL)
		ok &= MHD_add_response_header(m, "Strict-Transport-Security",
		                              "max-age=31536000") == MHD_YES;
	/* After an ambiguous framing nothing more on this connection can be
	 * trusted to start where we think it does. */
	if (r->req.malformed != NULL)
		ok &= MHD_add_response_header(m, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
	if (rs->allow != NULL)
		ok &= MHD_add_response_header(m, MHD_HTTP_HEADER_ALLOW, rs->allow) == MHD_YES;
	if (rs->www_authenticate != NULL)
		ok &= MHD_add_response_header(m, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                              rs->www_authenticate) == MHD_YES;
	if (rs->csp != NULL)
		ok &= MHD_add_response_header(m, "Content-Security-Policy", rs->csp) == MHD_YES;
	if (rs->set_cookie[0] != '\0')
		ok &= MHD_add_response_header(m, MHD_HTTP_HEADER_SET_COOKIE, rs->set_cookie) == MHD_YES;
	if (rs->location[0] != '\0')
		ok &= MHD_add_response_header(m, MHD_HTTP_HEADER_LOCATION, rs->location) == MHD_YES;
	if (rs->retry_after > 0) {
		snprintf(retry, sizeof(retry), "%d", rs->retry_after);
		ok &= MHD_add_response_header(m, MHD_HTTP_HEADER_RETRY_AFTER, retry) == MHD_YES;
	}
	return ok && add_cors_headers(m, rs);
}

/* Queues r->resp; the body's ownership passes to MHD. A handler that left
 * no valid status gets the internal-error answer. */
static enum MHD_Result
send_resp(http_request *r)
{
	ts_http_resp *rs = &r->resp;
	struct MHD_Response *m;
	enum MHD_Result ret;

	if (rs->status < 100 || rs->status > 599) {
		if (rs->status != 0)
			ts_error("handler set status %d for %s", rs->status, r->path);
		resp_set_static(rs, 500, body_internal, rs->log_note ? rs->log_note : "no_status");
	}
	if (rs->body != NULL && rs->body_len > 0) {
		m = MHD_create_response_from_buffer(rs->body_len, rs->body, MHD_RESPMEM_MUST_FREE);
		if (m != NULL)
			rs->body = NULL;
	} else {
		m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (m == NULL)
		return MHD_NO; /* out of memory: MHD closes the connection */
	if (!add_headers(m, r)) {
		MHD_destroy_response(m);
		return MHD_NO;
	}
	ret = MHD_queue_response(r->conn, (unsigned)rs->status, m);
	MHD_destroy_response(m);
	if (ret == MHD_YES)
		r->status = (unsigned)rs->status;
	return ret;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes a URL in place, as MHD's default does, except that %00
 * stays as it is: a decoded NUL would cut the path short in C, so that
 * "/healthz%00.json" would be routed as "/healthz". */
static size_t
unescape_keep_nul(void *cls, struct MHD_Connection *conn, char *s)
{
	char *w = s;
	const char *p = s;

	(void)cls;
	(void)conn;
	while (*p) {
		int hi, lo;
		if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 &&
		    (hi | lo) != 0) {
			*w++ = (char)(hi << 4 | lo);
			p += 3;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* ---- the access handler ---- */

static enum MHD_Result
dispatch(http_request *r)
{
	ts_http *h = r->h;
	ts_http_action act;

	if (r->body != NULL) {
		r->body[r->body_len] = '\0';
		r->req.body = r->body;
		r->req.body_len = r->body_len;
	}
	r->req.body_too_large = r->too_large;
	r->dispatched = 1;
	ts_log_set_request(r->id);
	act = h->dispatch(h->app, &r->req, &r->resp);
	ts_log_set_request(NULL);
	if (r->req.malformed != NULL && !r->deferred)
		r->resp.log_note = r->req.malformed; /* the log says why, not just "400" */

	if (r->deferred) {
		/* The job owns resp now, whatever the handler returned. */
		if (act != TS_HTTP_DEFERRED)
			ts_error("dispatch deferred %s but returned DONE", r->path);
		pthread_mutex_lock(&r->mu);
		if (!r->job_done) {
			/* Suspend under mu: the worker resumes only a connection
			 * it sees suspended, so resume never precedes suspend. */
			MHD_suspend_connection(r->conn);
			r->suspended = 1;
			pthread_mutex_unlock(&r->mu);
			return MHD_YES;
		}
		pthread_mutex_unlock(&r->mu);
		return send_resp(r); /* the job already finished */
	}
	if (act == TS_HTTP_DEFERRED) {
		ts_error("dispatch returned DEFERRED for %s without ts_http_defer", r->path);
		resp_set_static(&r->resp, 500, body_internal, "bad_defer");
	}
	return send_resp(r);
}

/* Called again after the worker resumed the connection. */
static enum MHD_Result
on_resumed(http_request *r)
{
	int done;

	pthread_mutex_lock(&r->mu);
	done = r->deferred && r->job_done;
	pthread_mutex_unlock(&r->mu);
	if (!done) {
		/* MHD calls a non-suspended handler until it answers; nothing
		 * else can reach here. */
		ts_error("request %s called again before its job finished", r->id);
		return MHD_NO;
	}
	return send_resp(r);
}

static enum MHD_Result
framing_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	http_framing_feed(cls, key, value);
	return MHD_YES;
}

/* First call, headers complete. Refuses a malformed target or header
 * line and ambiguous framing (framing.c), and answers at once when the
 * declared body is over the cap. */
static enum MHD_Result
on_headers(http_request *r, const char *method, const char *version)
{
	struct MHD_Connection *conn = r->conn;
	http_framing f = { 0 };
	const char *bad, *cl;
	int oom;

	bad = request_start(r, method, version, &oom);
	if (oom)
		return MHD_NO;
	if (bad == NULL) {
		MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_field, &f);
		bad = http_framing_verdict(&f, version != NULL &&
		                               strcmp(version, MHD_HTTP_VERSION_1_0) == 0);
	}
	if (bad != NULL) {
		/* The face answers in its own error shape; the connection is
		 * closed after it (see add_headers). */
		r->req.malformed = bad;
		r->resp.log_note = bad;
		return dispatch(r);
	}
	cl = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		char *end;
		unsigned long long n = strtoull(cl, &end, 10);
		if (n > TS_HTTP_BODY_MAX || *end != '\0') {
			r->too_large = 1;
			return dispatch(r); /* the rest is never read */
		}
	}
	return MHD_YES;
}

static enum MHD_Result
on_body_chunk(http_request *r, const char *data, size_t *size)
{
	size_t n = *size;

	*size = 0;
	/* MHD's timeout is for silence; a body trickled a byte at a time must
	 * also finish within it, or it holds a connection slot forever. */
	if (ts_mono_us() - r->start_us > (int64_t)r->h->conn_timeout * 1000000) {
		r->resp.log_note = "body_timeout";
		return MHD_NO;
	}
	if (r->too_large) {
		r->discarded += n;
		return r->discarded > HTTP_DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (n > TS_HTTP_BODY_MAX - r->body_len) {
		r->too_large = 1;
		free(r->body);
		r->body = NULL;
		r->body_len = 0;
		r->discarded = n;
		return MHD_YES;
	}
	if (r->body == NULL && (r->body = malloc(TS_HTTP_BODY_MAX + 1)) == NULL)
		return MHD_NO;
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	return MHD_YES;
}

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size,
          void **con_cls)
{
	http_request *r = *con_cls;

	(void)cls;
	(void)conn;
	(void)url;   /* decoded by MHD; r->path is the raw one */
	if (r == NULL)
		return MHD_NO; /* on_target ran out of memory */
	if (!r->started)
		return on_headers(r, method, version);
	if (r->dispatched)
		return on_resumed(r);
	if (*upload_data_size > 0)
		return on_body_chunk(r, upload_data, upload_data_size);
	return dispatch(r);
}

/* ---- completion and logging ---- */

/* A deferred request is over (answered, or dropped): ts_http_stop may go
 * on once none is left. */
static void
deferred_done(ts_http *h)
{
	pthread_mutex_lock(&h->mu);
	if (--h->ndeferred == 0)
		pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static const char *
termination_note(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK: return NULL;
	case MHD_REQUEST_TERMINATED_WITH_ERROR: return "conn_error";
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: return "timeout";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: return "shutdown";
	case MHD_REQUEST_TERMINATED_READ_ERROR: return "read_error";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT: return "client_abort";
	}
	return "terminated";
}

static void
log_access(const http_request *r, const char *note)
{
	/* Path only: query strings, headers and bodies may carry secrets. */
	ts_log_set_request(r->id[0] ? r->id : NULL);
	ts_log_event(TS_LOG_INFO, "request", "method", r->req.method ? r->req.method : "-",
	             "path", r->path ? r->path : r->target, TS_LOG_INT("status", r->status),
	             TS_LOG_INT("ms", (ts_mono_us() - r->start_us) / 1000), "ip", r->ip,
	             "note", note, NULL);
	ts_log_set_request(NULL);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	http_request *r = *con_cls;
	const char *note;
	int orphan;

	(void)cls;
	if (r == NULL)
		return;
	*con_cls = NULL;
	if (!r->started) {
		/* MHD refused the request itself (a malformed line, a bad
		 * Content-Length...) before our handler saw it, or the
		 * client left mid-headers. Logged when MHD answered. */
		const union MHD_ConnectionInfo *ci =
		        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
		r->status = ci ? ci->http_status : 0;
		if (r->status != 0) {
			resolve_client_ip(r);
			ts_metrics_request(0, r->status, ts_mono_us() - r->start_us);
			log_access(r, "refused_by_mhd");
		}
		request_free(r);
		return;
	}
	http_watchdog_busy(r->h->watchdog, r->c, 0);
	pthread_mutex_lock(&r->mu);
	orphan = r->deferred && !r->job_done;
	r->orphaned = orphan;
	pthread_mutex_unlock(&r->mu);
	if (orphan) {
		/* Cannot happen while the connection is suspended; if MHD ever
		 * drops it anyway, the job still writes resp, so leave r to it. */
		log_access(r, "orphaned");
		return;
	}
	note = r->resp.log_note;
	if (r->status == 0) {
		/* MHD may have refused the body itself (a malformed chunk). */
		const union MHD_ConnectionInfo *ci =
		        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
		r->status = ci ? ci->http_status : 0;
		if (r->status != 0 && note == NULL)
			note = "refused_by_mhd";
	}
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && note == NULL)
		note = termination_note(toe);
	if (r->status != 0)
		ts_metrics_request(r->req.metric_route, r->status, ts_mono_us() - r->start_us);
	log_access(r, note);
	if (r->deferred)
		deferred_done(r->h);
	request_free(r);
}

/* ---- deferral ---- */

/* The request whose job this thread is running, and whether that job has
 * handed the request on to another pool (ts_http_defer_on from inside a
 * job): then the next job owns r and this thread must not touch it. */
static _Thread_local http_request *tl_running;
static _Thread_local int tl_handed_on;

/* The job's answer is ready to go: the connection thread sends it. */
static void
job_finish(http_request *r)
{
	ts_http *h = r->h;
	struct MHD_Connection *conn = r->conn;
	int resume, orphan;

	pthread_mutex_lock(&r->mu);
	r->job_done = 1;
	resume = r->suspended;
	orphan = r->orphaned;
	pthread_mutex_unlock(&r->mu);
	/* From here r may be freed by the connection thread: only locals. */
	if (orphan) {
		request_free(r);
		deferred_done(h);
	} else if (resume) {
		MHD_resume_connection(conn);
	}
}

static void
delay_fired(http_delayed *d)
{
	job_finish((http_request *)(void *)((char *)d - offsetof(http_request, delayed)));
}

static void
run_job(void *arg)
{
	http_request *r = arg;

	tl_running = r;
	tl_handed_on = 0;
	ts_log_set_request(r->id);
	r->job(r->job_arg, &r->resp);
	ts_log_set_request(NULL);   /* before r may be freed */
	tl_running = NULL;
	if (tl_handed_on)
		return;   /* r is the next job's now, maybe already answered */
	/* Until then the request stays deferred and unanswered, as if its
	 * job were still running (a client that leaves orphans it). */
	if (r->resp.not_before_us > ts_mono_us()) {
		http_delay_add(r->h->delay, &r->delayed, r->resp.not_before_us);
		return;
	}
	job_finish(r);
}

/* From inside r's running job: queue the next step on pool. The request
 * stays deferred (one count in ndeferred) across the hand-over. */
static ts_err
hand_on(http_request *r, ts_pool *pool, ts_http_job_fn job, void *arg)
{
	ts_http *h = r->h;
	ts_err e;

	pthread_mutex_lock(&h->mu);
	if (h->closing || pool == NULL) {
		e = TS_E_OVERLOADED;
	} else {
		ts_http_job_fn was_job = r->job;
		void *was_arg = r->job_arg;
		r->job = job;
		r->job_arg = arg;
		/* Set first: the next job may start and finish before
		 * ts_pool_submit even returns. */
		tl_handed_on = 1;
		if ((e = ts_pool_submit(pool, run_job, r)) != TS_OK) {
			tl_handed_on = 0;
			r->job = was_job;
			r->job_arg = was_arg;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return e;
}

ts_err
ts_http_defer_on(ts_http_req *req, ts_pool *pool, ts_http_job_fn job, void *arg)
{
	http_request *r = req ? req->priv_ : NULL;
	ts_http *h;
	ts_err e;

	if (r == NULL || job == NULL)
		return TS_E_INVALID;
	/* Asked from r's own job: a hand-over. Told by the thread, not by
	 * r->deferred, which the connection thread may not have set yet when
	 * the job starts. */
	if (r == tl_running)
		return tl_handed_on ? TS_E_INVALID : hand_on(r, pool, job, arg);
	if (r->deferred || r->status != 0 || r->too_large)
		return TS_E_INVALID;
	h = r->h;
	r->job = job;
	r->job_arg = arg;
	/* Under h->mu so ts_http_stop, once it has set closing, knows no
	 * connection thread is between the check and the submit. */
	pthread_mutex_lock(&h->mu);
	if (h->closing || pool == NULL)
		e = TS_E_OVERLOADED;
	else
		e = ts_pool_submit(pool, run_job, r);
	if (e == TS_OK) {
		h->ndeferred++;
		r->deferred = 1;
	}
	pthread_mutex_unlock(&h->mu);
	return e;
}

ts_err
ts_http_defer(ts_http_req *req, ts_http_job_fn job, void *arg)
{
	http_request *r = req ? req->priv_ : NULL;

	return ts_http_defer_on(req, r ? r->h->pool : NULL, job, arg);
}

const char *
ts_http_query(const ts_http_req *req, const char *key)
{
	const http_request *r = req ? req->priv_ : NULL;

	return r ? MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key) : NULL;
}

typedef struct query_names {
	const char *name[TS_HTTP_QUERY_MAX];
	int n, repeated;
} query_names;

static enum MHD_Result
query_name(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	query_names *q = cls;

	(void)kind;
	(void)value;
	if (q->n == TS_HTTP_QUERY_MAX) {
		q->repeated = 1;
		return MHD_NO;
	}
	for (int i = 0; i < q->n; i++)
		if (strcmp(q->name[i], key) == 0) {
			q->repeated = 1;
			return MHD_NO;
		}
	q->name[q->n++] = key;
	return MHD_YES;
}

int
ts_http_query_repeated(const ts_http_req *req)
{
	const http_request *r = req ? req->priv_ : NULL;
	query_names q = { .n = 0 };

	if (!r)
		return 0;
	(void)MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_name, &q);
	return q.repeated;
}

const char *
ts_http_header(const ts_http_req *req, const char *name)
{
	const http_request *r = req ? req->priv_ : NULL;

	return r ? header(r->conn, name) : NULL;
}

/* ---- daemon ---- */

/* Why the last ts_http_start on this thread failed (ts_http_start_error). */
static _Thread_local char start_error[256];

static void start_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
start_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(start_error, sizeof(start_error), fmt, ap);
	va_end(ap);
}

const char *
ts_http_start_error(void)
{
	return start_error[0] ? start_error : "no error";
}

/* MHD's messages about what clients did wrong (framing, timeouts, early
 * closes) are routine on a public port: debug level, so a scan does not
 * flood stderr. Anything else (accept, epoll, thread faults) is a warning. */
static ts_log_level
mhd_msg_level(const char *msg)
{
	static const char *const routine[] = {
		"Connection was closed", "Connection socket is closed",
		"Application reported internal error", "Error processing request",
		"Failed to parse", "Received HTTP/1.1 request without",
		"Error while parsing", "Received malformed", "Failed to receive",
		"Failed to send", "Connection reset", "Too large value",
	};

	for (size_t i = 0; i < sizeof(routine) / sizeof(routine[0]); i++)
		if (strncmp(msg, routine[i], strlen(routine[i])) == 0)
			return TS_LOG_DEBUG;
	return TS_LOG_WARN;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;
	ts_log_level lvl;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	lvl = mhd_msg_level(msg);
	if (ts_log_enabled(lvl))
		ts_log_msg(lvl, "libmicrohttpd", 0, "%s", msg);
}

static unsigned
event_threads(unsigned wanted)
{
	long n;

	if (wanted > 0)
		return wanted;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* Starts MHD on our own listening socket, so a failure to bind is our
 * errno, not a log line. */
static struct MHD_Daemon *
start_daemon(ts_http *h, const ts_http_config *cfg, int lsock, int v6, unsigned limit)
{
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
	                 MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) |
	                 (h->tls ? MHD_USE_TLS : 0);
	unsigned threads = event_threads(cfg->threads);
	/* TLS: the certificate comes from on_tls_cert at each handshake (so
	 * a reload reaches the next connection), never from
	 * MHD_OPTION_HTTPS_MEM_CERT, which MHD reads once. */
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)on_tls_cert },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_OptionItem no_opts[] = { { MHD_OPTION_END, 0, NULL } };

	/* The logger goes first so MHD's start-up messages use it. The
	 * thread-pool option goes last because MHD warns about a pool of 0 or
	 * 1: for one thread the list simply ends before it. MHD_USE_TURBO was
	 * measured and gave nothing here, so MHD keeps its shutdown() calls.
	 * STRICT_FOR_CLIENT 0: the two checks level 1 adds in 0.9.75 (Host
	 * on HTTP/1.1, no space in the target) are made in on_headers, so
	 * the answer is the face's 400 and not MHD's, which sends its header
	 * block twice. */
	return MHD_start_daemon(flags, 0, on_accept, h, on_access, h,
	        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
	        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)lsock,
	        MHD_OPTION_CONNECTION_LIMIT, limit,
	        MHD_OPTION_CONNECTION_TIMEOUT, h->conn_timeout,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, h->conn_memory,
	        MHD_OPTION_STRICT_FOR_CLIENT, 0,
	        MHD_OPTION_URI_LOG_CALLBACK, on_target, h,
	        MHD_OPTION_UNESCAPE_CALLBACK, unescape_keep_nul, NULL,
	        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
	        MHD_OPTION_ARRAY, h->tls ? tls_opts : no_opts,
	        threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads,
	        MHD_OPTION_END);
}

static void
http_free(ts_http *h)
{
	if (h == NULL)
		return;
	if (h->daemon != NULL)
		MHD_stop_daemon(h->daemon);
	http_watchdog_stop(h->watchdog); /* after MHD: it unregisters on close */
	http_delay_stop(h->delay);         /* after the deferred requests ended */
	http_connlimit_free(h->connlimit); /* after MHD: it releases on close */
	http_tls_free(h->tls);             /* after MHD: connections hold bundles */
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h->trusted);
	free(h);
}

/* Raises the soft limit on open files to the hard one (a default soft
 * limit of 1024 would make any conn_limit above it meaningless) and
 * returns the soft limit now in force. */
static rlim_t
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = was;
	}
	return rl.rlim_cur;
}

/* The connection limits in force: conn_limit below the fd limit with
 * headroom, and the per-address limit leaving a quarter of conn_limit to
 * other clients and health checks. A lowered setting is logged. */
static void
effective_limits(const ts_http_config *cfg, unsigned *limit, unsigned *per_ip)
{
	rlim_t fds = raise_fd_limit();
	unsigned max = fds > HTTP_FD_HEADROOM + HTTP_MIN_CONN_LIMIT
	               ? (fds - HTTP_FD_HEADROOM > UINT_MAX ? UINT_MAX : (unsigned)(fds - HTTP_FD_HEADROOM))
	               : HTTP_MIN_CONN_LIMIT;
	unsigned reserve;

	*limit = cfg->conn_limit ? cfg->conn_limit : HTTP_DEFAULT_CONN_LIMIT;
	if (*limit > max) {
		ts_warn("conn_limit %u lowered to %u: the open-file limit is %llu", *limit, max,
		        (unsigned long long)fds);
		*limit = max;
	}
	reserve = *limit / 4;
	*per_ip = cfg->conn_limit_per_ip;
	if (*per_ip > *limit - reserve) {
		ts_warn("conn_limit_per_ip %u lowered to %u: a quarter of conn_limit (%u) is "
		        "kept for other clients", *per_ip, *limit - reserve, *limit);
		*per_ip = *limit - reserve;
	}
}

/* The certificate and key of cert and key, or *out NULL when both are
 * unset (plain HTTP). TS_E_INVALID with start_error set. */
static ts_err
tls_open(const char *cert, const char *key, http_tls **out)
{
	char why[512];
	ts_err r;

	*out = NULL;
	if ((!cert || !*cert) && (!key || !*key))
		return TS_OK;
	if (!cert || !*cert || !key || !*key) {
		start_fail("TLS needs both a certificate (--tls-cert) and a key (--tls-key)");
		return TS_E_INVALID;
	}
	if ((r = http_tls_new(cert, key, out, why, sizeof(why))) != TS_OK)
		start_fail("%s", why);
	return r;
}

ts_err
ts_http_tls_check(const char *cert, const char *key)
{
	http_tls *t = NULL;
	ts_err r;

	start_error[0] = '\0';
	r = tls_open(cert, key, &t);
	http_tls_free(t);
	return r;
}

ts_err
ts_http_start(const ts_http_config *cfg, ts_http **out, unsigned *port_out)
{
	unsigned limit, per_ip;
	ts_http *h = NULL;
	http_listen l;
	int lsock = -1, err = 0;
	ts_err r;

	*out = NULL;
	start_error[0] = '\0';
	if (cfg == NULL || cfg->dispatch == NULL) {
		start_fail("no dispatch callback");
		return TS_E_INVALID;
	}
	if (http_parse_listen(cfg->listen, &l) != TS_OK) {
		start_fail("listen address '%.64s' is not IP:PORT, [IPv6]:PORT or :PORT",
		           cfg->listen ? cfg->listen : "");
		return TS_E_INVALID;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return TS_E_NOMEM;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->dispatch = cfg->dispatch;
	h->app = cfg->app;
	h->pool = cfg->pool;
	h->conn_timeout = cfg->conn_timeout ? cfg->conn_timeout : HTTP_DEFAULT_TIMEOUT;
	h->conn_memory = (size_t)(cfg->header_kib ? cfg->header_kib : HTTP_CONN_MEMORY_KIB) * 1024;
	if ((r = http_parse_ip_list(cfg->trusted_proxies, &h->trusted, &h->ntrusted)) != TS_OK) {
		start_fail("trusted proxies must be a comma list of IP addresses or CIDRs");
		goto out;
	}
	if ((r = tls_open(cfg->tls_cert, cfg->tls_key, &h->tls)) != TS_OK)
		goto out;
	effective_limits(cfg, &limit, &per_ip);
	/* A trusted proxy carries every client: it is not limited. */
	if ((r = http_connlimit_new(per_ip, h->trusted, h->ntrusted, &h->connlimit)) != TS_OK) {
		start_fail("out of memory");
		goto out;
	}
	if ((r = http_delay_start(delay_fired, &h->delay)) != TS_OK) {
		start_fail("cannot start the answer timer thread");
		goto out;
	}
	/* Before the daemon: MHD reports connections to it at once. */
	if ((r = http_watchdog_start(h->conn_timeout, &h->watchdog)) != TS_OK) {
		start_fail("cannot start the header watchdog thread");
		goto out;
	}
	if ((r = http_listen_open(&l, HTTP_BACKLOG, &lsock, &err)) != TS_OK) {
		start_fail("%s", strerror(err)); /* e.g. "Address already in use" */
		goto out;
	}
	if ((h->daemon = start_daemon(h, cfg, lsock, l.v6, limit)) == NULL) {
		/* Not closed: whether MHD already closed it depends on where it
		 * failed, and a double close could hit another thread's fd. */
		start_fail("libmicrohttpd failed to start (see its log line)");
		r = TS_E_INTERNAL;
		goto out;
	}
	if (port_out != NULL)
		*port_out = http_socket_port(lsock);
	*out = h;
	h = NULL;
	r = TS_OK;
out:
	http_free(h);
	return r;
}

ts_err
ts_http_listen_check(const char *listen)
{
	http_listen l;
	int fd = -1, err = 0;

	start_error[0] = '\0';
	if (http_parse_listen(listen, &l) != TS_OK) {
		start_fail("listen address '%.64s' is not IP:PORT, [IPv6]:PORT or :PORT",
		           listen ? listen : "");
		return TS_E_INVALID;
	}
	if (http_listen_open(&l, 1, &fd, &err) != TS_OK) {
		start_fail("%s", strerror(err));
		return TS_E_INTERNAL;
	}
	close(fd);
	return TS_OK;
}

ts_err
ts_http_tls_reload(ts_http *h)
{
	char why[512];
	ts_err r;

	if (h == NULL || h->tls == NULL)
		return TS_OK;
	if ((r = http_tls_reload(h->tls, why, sizeof(why))) != TS_OK) {
		/* The old certificate keeps serving: a typo in a renewal must
		 * not take the server down. */
		ts_log_event(TS_LOG_ERROR, "tls_reload_failed", "reason", why, NULL);
		ts_metrics_count(TS_M_TLS_RELOAD_FAILED);
		return r;
	}
	ts_log_event(TS_LOG_INFO, "tls_reloaded", NULL);
	ts_metrics_count(TS_M_TLS_RELOAD_OK);
	return TS_OK;
}

int
ts_http_tls(const ts_http *h)
{
	return h != NULL && h->tls != NULL;
}

void
ts_http_stop(ts_http *h)
{
	MHD_socket lsock;
	int64_t waited_from;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->closing = 1;
	pthread_mutex_unlock(&h->mu);
	lsock = MHD_quiesce_daemon(h->daemon);

	/* MHD_stop_daemon must not meet a suspended connection (it aborts),
	 * so wait until every deferred request has been answered: the jobs
	 * need the pool running, the answers the (quiesced) event loop. A
	 * client that stops reading is cut by the connection timeout. */
	waited_from = ts_mono_us();
	pthread_mutex_lock(&h->mu);
	while (h->ndeferred > 0) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		if (pthread_cond_timedwait(&h->cv, &h->mu, &until) != 0 && h->ndeferred > 0)
			ts_warn("stop: %u deferred requests still running after %lld s",
			        h->ndeferred, (long long)((ts_mono_us() - waited_from) / 1000000));
	}
	pthread_mutex_unlock(&h->mu);

	MHD_stop_daemon(h->daemon);
	h->daemon = NULL;
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock); /* quiesce handed it to us; only after stop */
	http_free(h);
}
