/* HTTP transport: libmicrohttpd with epoll, request limits, per-request log
 * line, and deferral of heavy handlers to the worker pool with
 * suspend/resume. Knows routes only as a dispatch callback; knows nothing of
 * JSON or of any contract.
 *
 * Handed to the face as req->malformed (its 400, then a close): framing a
 * proxy could read differently (Transfer-Encoding with Content-Length, two
 * Content-Length or Host fields, a Transfer-Encoding other than "chunked",
 * whitespace in a field name), a header line folded (obs-fold) or holding
 * a NUL or bare CR, a target with SP, CTL or NUL, and HTTP/1.1 without
 * Host. libmicrohttpd itself answers a few (431 for a header block over
 * header_kib, a non-numeric Content-Length...; docs/ARCHITECTURE.md lists
 * them). Connections are cut when the request line and headers, or the
 * body, take longer than conn_timeout, even if the client keeps sending a
 * byte at a time; a client address over conn_limit_per_ip is refused at
 * accept. */
#ifndef TS_HTTP_H
#define TS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "core/pool.h"

#define TS_HTTP_BODY_MAX (16 * 1024)

typedef struct ts_http_req {
	const char *method;          /* "GET", "POST", ... */
	const char *path;            /* the target's path as sent (not
	                                percent-decoded), no query string; of
	                                an absolute-form target, its path */
	const char *body;            /* NUL-terminated copy; NULL when none */
	size_t body_len;
	int body_too_large;          /* the body passed TS_HTTP_BODY_MAX: body is NULL */
	const char *malformed;       /* non-NULL: the framing is ambiguous (a smuggling
	                                attempt); the reason. The body was not read,
	                                the connection closes after the answer, and the
	                                request must not be acted upon: answer 400. */
	const char *content_type;    /* header values, NULL when absent */
	const char *authorization;
	const char *host;            /* lower-cased, port stripped; an
	                                absolute-form target's authority
	                                replaces Host (RFC 9112 §3.2.2) */
	const char *client_ip;       /* socket peer, or the trusted proxy's word */
	const char *request_id;      /* for logs and error details */
	int tls;                     /* 1 when the connection is https */
	int metric_route;            /* the dispatcher's ts_metrics_route id of
	                                the route that took it; 0: none */
	void *priv_;                 /* the transport's */
} ts_http_req;

/* Query-string or header lookup; NULL when absent. Valid for the request. */
const char *ts_http_query(const ts_http_req *req, const char *key);
const char *ts_http_header(const ts_http_req *req, const char *name);
/* 1 when a query parameter name occurs more than once (or there are more
 * than TS_HTTP_QUERY_MAX of them), else 0: RFC 6749 §3.1's "MUST NOT be
 * included more than once" needs it, which a lookup cannot tell. */
#define TS_HTTP_QUERY_MAX 64
int ts_http_query_repeated(const ts_http_req *req);

/* Longest Location a face may send (OpenID Connect redirects). */
#define TS_HTTP_LOCATION_MAX 4096

typedef struct ts_http_resp {
	int status;
	char *body;                  /* malloc'd; the transport frees it */
	size_t body_len;
	const char *content_type;    /* static; default "application/json" */
	int retry_after;             /* > 0 adds Retry-After: N */
	const char *cache_control;   /* static; default "no-store" */
	const char *log_note;        /* static short word for the access log */
	const char *allow;           /* static; adds Allow (on 405) */
	const char *www_authenticate; /* static; adds WWW-Authenticate (RFC 6750 §3) */
	char location[TS_HTTP_LOCATION_MAX]; /* "" or a Location (a redirect, RFC 9110 §10.2.2) */
	/* CORS (Fetch standard §3.2), filled by the dispatcher: */
	const char *allow_origin;    /* adds Access-Control-Allow-Origin (this value)
	                                and -Allow-Credentials: true; must live until
	                                the answer is sent (a request header does) */
	const char *cors_expose;     /* static; Access-Control-Expose-Headers */
	const char *cors_methods;    /* static; preflight: -Allow-Methods */
	const char *cors_headers;    /* static; preflight: -Allow-Headers */
	int cors_max_age;            /* > 0: preflight's Access-Control-Max-Age */
	int vary_origin;             /* adds Vary: Origin */
	/* The hosted pages (api/pages.c): */
	const char *csp;             /* static; adds Content-Security-Policy */
	char set_cookie[160];        /* "" or one Set-Cookie value */
	/* A deferred job's answer leaves no sooner than this (monotonic,
	 * ts_mono_us; 0 = at once), held on a timer, not on a thread: a
	 * login's padding (auth/pwtime.h). */
	int64_t not_before_us;
} ts_http_resp;

typedef enum { TS_HTTP_DONE, TS_HTTP_DEFERRED } ts_http_action;

/* Called once per complete request on a connection thread. Fill resp and
 * return DONE, or call ts_http_defer() and return DEFERRED. */
typedef ts_http_action (*ts_http_dispatch_fn)(void *app, ts_http_req *req, ts_http_resp *resp);

/* A deferred job runs on a pool worker; it fills resp. It owns arg. */
typedef void (*ts_http_job_fn)(void *arg, ts_http_resp *resp);

/* Runs job(arg, resp) on the pool and sends resp when it returns; req stays
 * valid until then. Call only from the dispatch callback, at most once, and
 * then return DEFERRED without touching resp again: the job owns it (it may
 * already be running when ts_http_defer returns). TS_E_OVERLOADED when the
 * queue is full or ts_http_stop has begun: nothing was queued, the caller
 * still owns arg and must answer now (503). TS_E_INVALID for a second call
 * or a request whose body was too large (answer those at once). */
ts_err ts_http_defer(ts_http_req *req, ts_http_job_fn job, void *arg);
/* The same on another pool (the store pool, say). Called from inside a
 * job of the same request it hands the request on: job(arg) runs next on
 * pool, and the calling job must return without touching resp again
 * (TS_OK), or still owns arg and answers itself (TS_E_OVERLOADED: the
 * queue is full or ts_http_stop has begun). A login thus goes from a
 * store worker (admission) to a hashing worker. Every pool used must
 * outlive ts_http_stop. */
ts_err ts_http_defer_on(ts_http_req *req, ts_pool *pool, ts_http_job_fn job, void *arg);

typedef struct ts_http_config {
	const char *listen;          /* "127.0.0.1:8080", "[::1]:8080", ":8080" */
	unsigned threads;            /* event-loop threads; 0 = cores */
	unsigned conn_limit;         /* most open connections; lowered to stay
	                                HTTP_FD_HEADROOM below the open-file
	                                limit (whose soft value is raised to
	                                the hard one at start) */
	unsigned conn_limit_per_ip;  /* most open connections of one client
	                                address (the socket peer; trusted
	                                proxies exempt); 0 = none. At most
	                                3/4 of conn_limit: the rest is kept
	                                for everyone else. Excess connections
	                                are closed at once, unread. */
	unsigned conn_timeout;       /* seconds of inactivity before a cut */
	unsigned header_kib;         /* request line + header block limit, KiB
	                                (431 past it); 0 = 16. It is also each
	                                connection's arena, so it sets the
	                                memory of every open connection. */
	const char *trusted_proxies; /* comma list of IPs whose X-Forwarded-For is believed */
	const char *tls_cert;        /* PEM certificate (and chain) file; NULL or ""
	                                with tls_key: plain HTTP */
	const char *tls_key;         /* PEM private key file (no passphrase) */
	ts_pool *pool;               /* for ts_http_defer; not owned */
	ts_http_dispatch_fn dispatch;
	void *app;
} ts_http_config;

typedef struct ts_http ts_http;

/* Binds and starts serving on background threads. *port_out (may be NULL)
 * gets the bound port, useful with port 0. cfg is copied (trusted_proxies
 * is parsed; a bad entry is TS_E_INVALID); cfg->pool must outlive h. */
ts_err ts_http_start(const ts_http_config *cfg, ts_http **out, unsigned *port_out);
/* Why the last ts_http_start on this thread failed, as one line of English
 * for the operator ("Address already in use", "listen address 'x' is
 * not ..."); ts_http_start itself logs nothing, but a warning when it
 * lowers a connection limit. Never NULL. */
const char *ts_http_start_error(void);
/* Binds a socket on listen and closes it: whether serving there can work,
 * told before a server touches anything else (a second server on a busy
 * port must fail before it opens the store). TS_E_INVALID for a bad
 * address, TS_E_INTERNAL when it cannot bind; ts_http_start_error() says
 * why ("Address already in use"). Port 0 always binds. */
ts_err ts_http_listen_check(const char *listen);
/* Loads a TLS certificate and key as ts_http_start would, and lets go:
 * told before a server opens its store. TS_OK when both are unset or
 * both load and match; TS_E_INVALID with ts_http_start_error() naming
 * the file and the fault. */
ts_err ts_http_tls_check(const char *cert, const char *key);
/* Loads the TLS certificate and key again from the files ts_http_start
 * read (on SIGHUP): every handshake from now on presents the new ones;
 * open connections keep theirs and are not dropped. On a bad file the
 * old certificate stays, one tls_reload_failed error is logged and the
 * error is returned (TS_E_INVALID); tls_reloaded on success. TS_OK and
 * nothing done when h serves plain HTTP. Any thread. */
ts_err ts_http_tls_reload(ts_http *h);
/* 1 when h serves https. */
int ts_http_tls(const ts_http *h);

/* The Prometheus listener (core/metrics.h's exposition at GET /metrics),
 * on an address of its own: never the API's port. One thread, plain
 * HTTP, 16 connections. TS_E_INVALID for a bad address, TS_E_INTERNAL
 * (logged) when it cannot bind. *port_out (may be NULL) gets the port. */
typedef struct ts_http_metrics ts_http_metrics;
ts_err ts_http_metrics_start(const char *listen, ts_http_metrics **out, unsigned *port_out);
/* Stops and frees m; NULL is a no-op. */
void ts_http_metrics_stop(ts_http_metrics *m);
/* Stops accepting, refuses new deferrals (TS_E_OVERLOADED), waits for every
 * deferred job to finish and its response to be queued, then closes all
 * connections and frees h. NULL is a no-op.
 *
 * Shutdown order: ts_http_stop(h) first, ts_pool_free(pool) after. The wait
 * above needs the pool running; freeing the pool first would let a
 * connection thread still serving a keep-alive request submit to a freed
 * pool. (Draining the pool first is still safe for the transport's own
 * state, but not for that race.) */
void ts_http_stop(ts_http *h);

#endif
