/* Prometheus metrics: one process-wide registry of fixed counters,
 * gauges and histograms, rendered in the text exposition format (0.0.4)
 * for the /metrics listener (src/http/metrics_http.c). Process-wide, like
 * the log level: every layer records into it without a handle threaded
 * through every call, and there is one process to describe.
 *
 * Cheap on the hot path: recording is a few relaxed atomic additions, no
 * lock and no allocation. Label sets are bounded by construction: routes
 * are the templates registered at start (never a raw path), faces,
 * statuses, results and kinds are fixed lists; nothing records an email,
 * an id or an address. Names follow Prometheus conventions
 * (tessera_*_total counters, *_seconds histograms); docs/OPERATIONS.md
 * lists them. */
#ifndef TS_METRICS_H
#define TS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* The contract faces, as labels (the same order as the API's faces). */
typedef enum {
	TS_M_FACE_NATIVE, TS_M_FACE_ADMIN, TS_M_FACE_IAM, TS_M_FACE_PX0, TS_M_FACE_NONE,
} ts_metrics_face;

typedef enum { TS_M_POOL_HASH, TS_M_POOL_STORE, TS_M_POOL_N } ts_metrics_pool;
typedef enum { TS_M_STORE_SQLITE, TS_M_STORE_POSTGRES, TS_M_STORE_N } ts_metrics_store;

/* Events counted one by one (tessera_*_total families, see metrics.c). */
typedef enum {
	TS_M_RATE_ADDRESS,           /* an attempt refused by the per-address bucket */
	TS_M_RATE_ACCOUNT,           /* ... by the per-account bucket */
	TS_M_LOCK_ACCOUNT,           /* an account got locked (failed logins) */
	TS_M_LOCK_MFA,               /* a second factor got locked */
	TS_M_MAIL_FAILED,            /* a mail could not be delivered */
	TS_M_TLS_RELOAD_OK,
	TS_M_TLS_RELOAD_FAILED,
	TS_M_EVENT_N,
} ts_metrics_event;

#define TS_METRICS_ROUTES_MAX 160

/* Registers a route template (e.g. face "native", path "/v1/auth/me")
 * before serving; returns its id (>= 1) for ts_metrics_request, or 0 (the
 * "unmatched" row) when the table is full. Not thread-safe: call at
 * start-up. The strings must live as long as the process (static). */
int ts_metrics_route(ts_metrics_face face, const char *path);
/* One answered request: its route id (0: no route took it), HTTP status
 * and time from the request line to the answer, in microseconds. */
void ts_metrics_request(int route, unsigned status, int64_t us);
/* A password login decided by the engine: result is "ok", "mfa",
 * "enroll", a refusal reason word (src/auth/audit.h: "tenant",
 * "credentials", "disabled", "unverified", "locked", "rate_address",
 * "rate_account") or "error"; anything else counts as "other". */
void ts_metrics_login(ts_metrics_face face, const char *result);
void ts_metrics_count(ts_metrics_event e);
/* Time a job waited in a pool's queue before a worker took it. */
void ts_metrics_pool_wait(ts_metrics_pool p, int64_t us);
/* A pool whose queue depth is read at each scrape; NULL unregisters.
 * The pool must outlive its registration. */
struct ts_pool;
void ts_metrics_pool_register(ts_metrics_pool which, struct ts_pool *pool);
/* One store op (begin to end) and how it ended: TS_E_STORE_UNAVAILABLE
 * and TS_E_INTERNAL / TS_E_NOMEM count as errors; TS_OK and the op's own
 * answers (not found, conflict...) do not. */
void ts_metrics_store_op(ts_metrics_store backend, int64_t us, ts_err r);
/* Mail waiting to be sent (set by whoever keeps an outbox). */
void ts_metrics_outbox_depth_set(int64_t n);
/* tessera_build_info{version=...} 1; version must be static. */
void ts_metrics_set_build(const char *version);

/* The exposition text; malloc'd, the caller frees. NULL on no memory. */
char *ts_metrics_render(size_t *len);

#endif
