/* Transport internals shared by server.c and addr.c, and reached by the unit
 * tests: address parsing, client-IP resolution and Host normalisation. No
 * libmicrohttpd types here, so these parsers can be tested and fuzzed alone. */
#ifndef TS_HTTP_INTERNAL_H
#define TS_HTTP_INTERNAL_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/err.h"
#include "core/util.h"

/* An IP address in binary; IPv4-mapped IPv6 (::ffff:a.b.c.d) is stored as
 * IPv4 so a dual-stack socket peer compares equal to "a.b.c.d". */
typedef struct {
	int af;                     /* AF_INET or AF_INET6 */
	unsigned char a[16];        /* 4 or 16 bytes used */
	int bits;                   /* leading bits that count: 32 or 128 for an
	                               address, the prefix for a list's CIDR */
} http_ip;

#define HTTP_IP_STRLEN INET6_ADDRSTRLEN

/* The parsed "listen" setting. */
typedef struct {
	struct sockaddr_storage ss;
	socklen_t len;
	int any;                    /* ":PORT": every address */
	int v6;                     /* ss holds a sockaddr_in6 */
} http_listen;

/* Parses "A.B.C.D:PORT", "[V6]:PORT" or ":PORT" (every address; an IPv6
 * dual-stack wildcard). Host names are refused: TS_E_INVALID. */
ts_err http_parse_listen(const char *s, http_listen *out);

/* Opens a listening TCP socket on l (non-blocking, close-on-exec,
 * SO_REUSEADDR; ":PORT" is dual-stack, or IPv4 only where the host has no
 * IPv6, in which case l is rewritten). TS_OK with *fd_out, which the
 * caller owns; or TS_E_INTERNAL with the errno in *err. */
ts_err http_listen_open(http_listen *l, int backlog, int *fd_out, int *err);
/* The local port of a bound socket; 0 when unknown. */
unsigned http_socket_port(int fd);

/* 1 and *out filled when s is exactly an IPv4 or IPv6 literal. */
int http_ip_parse(const char *s, http_ip *out);
/* 1 and *out filled for an AF_INET/AF_INET6 socket address. */
int http_ip_from_sockaddr(const struct sockaddr *sa, http_ip *out);
/* Text form; out holds HTTP_IP_STRLEN bytes. */
void http_ip_format(const http_ip *ip, char out[HTTP_IP_STRLEN]);
int http_ip_equal(const http_ip *x, const http_ip *y);
/* 1 when ip lies in net (its first net->bits bits, same family). */
int http_ip_in(const http_ip *ip, const http_ip *net);

/* Parses a comma list of IP literals or CIDRs, "10.0.0.0/8", "fd00::/8"
 * (match with http_ip_in; spaces allowed around entries; NULL
 * or "" is the empty list). *out is malloc'd, caller frees; NULL when n is
 * 0. TS_E_INVALID names no entry: the caller logs the whole setting. */
ts_err http_parse_ip_list(const char *s, http_ip **out, size_t *n);

/* Client-IP resolution over one or more X-Forwarded-For values, fed in
 * header order. Proxies append, so the rightmost entry that is not one of
 * our trusted proxies is the first hop we cannot vouch for: the client. */
typedef struct {
	const http_ip *trusted;
	size_t ntrusted;
	int have;                   /* an untrusted entry was seen */
	int valid;                  /* ... and it parsed as an IP */
	http_ip cand;
} http_xff;

void http_xff_feed(http_xff *x, const char *value);
/* The resolved client: the candidate when valid, else peer. */
void http_xff_result(const http_xff *x, const http_ip *peer, http_ip *out);

/* Framing checks over the request's header fields (framing.c): fed every
 * field in order, then asked for a verdict. */
typedef struct {
	unsigned content_length;    /* Content-Length fields seen */
	unsigned transfer_encoding; /* Transfer-Encoding fields seen */
	unsigned host;              /* Host fields seen */
	int te_other;               /* a Transfer-Encoding other than "chunked" */
	int bad_name;               /* a field name empty or holding whitespace */
} http_framing;

void http_framing_feed(http_framing *f, const char *name, const char *value);
/* NULL when the framing is unambiguous; otherwise a short static reason
 * (for the access log) and the request must be answered 400. HTTP/1.1
 * without Host is one ("no_host"). */
const char *http_framing_verdict(const http_framing *f, int http10);

/* The request target (RFC 9112 §3.2), split. Refuses ("bad_target") SP,
 * CTL bytes, and an absolute form without a host or with userinfo;
 * otherwise NULL and *out points into t. */
typedef struct {
	const char *path;           /* origin form's path; "" for "http://h" */
	size_t path_len;            /* up to the query */
	const char *authority;      /* absolute form (§3.2.2) only, else NULL */
	size_t authority_len;
} http_target;

const char *http_target_parse(const char *t, http_target *out);

/* Checks that each header line was one field, as libmicrohttpd 0.9.75
 * parsed it in place: CRLF (or LF) became NULs, each line's first colon a
 * NUL, and key and value point into the block. A folded line (RFC 9112
 * §5.2), which MHD glues onto the field name, or bytes after a NUL, which
 * MHD drops, leave bytes no field accounts for. Start with pos at the NUL
 * ending the request line's version and end at the end of the block; feed
 * every header field in order. */
typedef struct {
	const char *pos;
	const char *end;
	const char *bad;            /* first reason, or NULL */
} http_fieldwalk;

void http_fieldwalk_feed(http_fieldwalk *w, const char *key, size_t key_len,
                         const char *value, size_t value_len);
/* NULL when every byte was accounted for; else a short static reason:
 * "bad_header_line" (fold, NUL, stray bytes) or "bare_cr". */
const char *http_fieldwalk_verdict(const http_fieldwalk *w);

/* Per-address connection counts (connlimit.c): a client may hold at most
 * `limit` connections; exempt addresses (trusted proxies, which carry
 * everyone) are not counted. Thread-safe. */
typedef struct http_connlimit http_connlimit;

/* limit 0: no limit (every call admits). exempt is copied. */
ts_err http_connlimit_new(unsigned limit, const http_ip *exempt, size_t nexempt,
                          http_connlimit **out);
void http_connlimit_free(http_connlimit *cl);
/* 1 when ip may open one more connection. */
int http_connlimit_admits(http_connlimit *cl, const http_ip *ip);
/* Counts an open connection of ip; 1 when counted (release it later), 0
 * when exempt, unlimited or out of memory. */
int http_connlimit_acquire(http_connlimit *cl, const http_ip *ip);
void http_connlimit_release(http_connlimit *cl, const http_ip *ip);
/* Open connections counted for ip. */
unsigned http_connlimit_count(http_connlimit *cl, const http_ip *ip);

/* The header watchdog (watchdog.c): cuts connections that take longer
 * than a limit to deliver a request line and headers, which MHD's
 * silence-only timeout lets a slowloris client do. */
typedef struct http_watchdog http_watchdog;
typedef struct http_conn http_conn;

/* Starts the sweeping thread; limit_s seconds of header wait are allowed. */
ts_err http_watchdog_start(unsigned limit_s, http_watchdog **out);
/* Stops the thread and frees w with any entries left. NULL is a no-op. */
void http_watchdog_stop(http_watchdog *w);
/* Registers an open connection; NULL on out-of-memory (it then goes
 * unwatched). fd stays the caller's: the watchdog only shuts it down. */
http_conn *http_watchdog_add(http_watchdog *w, int fd, const char *ip);
/* Unregisters and frees c (NULL is a no-op). Call before closing the fd,
 * so a reused fd number is never shut down. */
void http_watchdog_remove(http_watchdog *w, http_conn *c);
/* busy = 1 when a request's headers are in; 0 when the request is over and
 * the connection waits for the next one (the wait clock restarts). */
void http_watchdog_busy(http_watchdog *w, http_conn *c, int busy);

/* Answers held until a deadline (delay.c): one timer thread calls fire(d)
 * at each entry's time, soonest first. An entry lives in its owner (a
 * request) until fired. */
typedef struct http_delay http_delay;
typedef struct http_delayed {
	struct http_delayed *next;
	int64_t at_us;              /* monotonic (ts_mono_us) */
} http_delayed;
typedef void (*http_delay_fn)(http_delayed *d);

ts_err http_delay_start(http_delay_fn fire, http_delay **out);
/* Queues d to fire at at_us. */
void http_delay_add(http_delay *w, http_delayed *d, int64_t at_us);
/* Fires every entry left at once, stops the thread, frees w (NULL: no-op). */
void http_delay_stop(http_delay *w);

/* Normalises a Host header value: lower-cased, port and IPv6 brackets
 * removed. 1 on success; 0 when the value is empty, too long or holds a
 * byte that no host name or IP literal has. out holds TS_HOST_MAX + 1. */
int http_host_normalize(const char *in, char out[TS_HOST_MAX + 1]);

#endif
