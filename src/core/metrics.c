/* The metrics registry (metrics.h): fixed arrays of relaxed atomics,
 * summed into the text exposition on a scrape. Histograms keep one count
 * per bucket (not cumulative, so one addition records a value) and the
 * sum in microseconds; the renderer accumulates and converts. */
#include "core/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"

typedef _Atomic uint_fast64_t counter;

/* Upper bounds of the latency buckets, microseconds (0.5 ms .. 10 s; a
 * password check with the default argon2id cost takes 20-100 ms). */
static const int64_t bounds_us[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};
#define NB (sizeof(bounds_us) / sizeof(bounds_us[0]))

typedef struct {
	counter bucket[NB + 1];      /* the last is +Inf */
	counter sum_us;
} hist;

/* Statuses that get a row of their own; any other is "other". */
static const unsigned statuses[] = {
	200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409, 410, 413, 414,
	415, 422, 429, 431, 500, 501, 502, 503, 504, 505,
};
#define NS (sizeof(statuses) / sizeof(statuses[0]))

static const char *const face_names[] = { "native", "admin", "iam", "px0", "none" };
#define NF (sizeof(face_names) / sizeof(face_names[0]))

static const char *const login_results[] = {
	"ok", "mfa", "enroll", "tenant", "credentials", "disabled", "unverified", "locked",
	"rate_address", "rate_account", "error", "other",
};
#define NL (sizeof(login_results) / sizeof(login_results[0]))

static const char *const pool_names[] = { "hash", "store" };
static const char *const store_names[] = { "sqlite", "postgres" };

typedef struct {
	ts_metrics_face face;
	const char *path;
} route_t;

static route_t routes[TS_METRICS_ROUTES_MAX] = { [0] = { TS_M_FACE_NONE, "unmatched" } };
static atomic_int nroutes = 1;
static counter requests[TS_METRICS_ROUTES_MAX][NS + 1];
static hist latency[TS_METRICS_ROUTES_MAX];
static counter logins[NF][NL];
static counter events[TS_M_EVENT_N];
static hist pool_wait[TS_M_POOL_N];
static struct ts_pool *_Atomic pools[TS_M_POOL_N];
static hist store_latency[TS_M_STORE_N];
static counter store_errors[TS_M_STORE_N][2];  /* unavailable, internal */
static _Atomic int_fast64_t outbox_depth;
static const char *_Atomic build_version;

static void
add(counter *c, uint_fast64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint_fast64_t
get(counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void
observe(hist *h, int64_t us)
{
	size_t i = 0;

	if (us < 0)
		us = 0;
	while (i < NB && us > bounds_us[i])
		i++;
	add(&h->bucket[i], 1);
	add(&h->sum_us, (uint_fast64_t)us);
}

int
ts_metrics_route(ts_metrics_face face, const char *path)
{
	int n = atomic_load(&nroutes);

	if ((unsigned)face >= NF || path == NULL)
		return 0;
	/* Registered again (a second API in one process): the same row, so
	 * no series appears twice in the exposition. */
	for (int i = 1; i < n; i++)
		if (routes[i].face == face && strcmp(routes[i].path, path) == 0)
			return i;
	if (n >= TS_METRICS_ROUTES_MAX)
		return 0;
	routes[n] = (route_t){ face, path };
	atomic_store(&nroutes, n + 1);
	return n;
}

static size_t
status_index(unsigned status)
{
	for (size_t i = 0; i < NS; i++)
		if (statuses[i] == status)
			return i;
	return NS;
}

void
ts_metrics_request(int route, unsigned status, int64_t us)
{
	if (route < 0 || route >= atomic_load_explicit(&nroutes, memory_order_relaxed))
		route = 0;
	add(&requests[route][status_index(status)], 1);
	observe(&latency[route], us);
}

void
ts_metrics_login(ts_metrics_face face, const char *result)
{
	size_t i = 0;

	if ((unsigned)face >= NF)
		face = TS_M_FACE_NONE;
	while (i < NL - 1 && (result == NULL || strcmp(result, login_results[i]) != 0))
		i++;
	add(&logins[face][i], 1);
}

void
ts_metrics_count(ts_metrics_event e)
{
	if ((unsigned)e < TS_M_EVENT_N)
		add(&events[e], 1);
}

void
ts_metrics_pool_wait(ts_metrics_pool p, int64_t us)
{
	if ((unsigned)p < TS_M_POOL_N)
		observe(&pool_wait[p], us);
}

void
ts_metrics_pool_register(ts_metrics_pool which, struct ts_pool *pool)
{
	if ((unsigned)which < TS_M_POOL_N)
		atomic_store(&pools[which], pool);
}

void
ts_metrics_store_op(ts_metrics_store backend, int64_t us, ts_err r)
{
	if ((unsigned)backend >= TS_M_STORE_N)
		return;
	observe(&store_latency[backend], us);
	if (r == TS_E_STORE_UNAVAILABLE)
		add(&store_errors[backend][0], 1);
	else if (r == TS_E_INTERNAL || r == TS_E_NOMEM)
		add(&store_errors[backend][1], 1);
}

void
ts_metrics_outbox_depth_set(int64_t n)
{
	atomic_store_explicit(&outbox_depth, n, memory_order_relaxed);
}

void
ts_metrics_set_build(const char *version)
{
	atomic_store(&build_version, version);
}

/* ---- exposition (text format 0.0.4) ---- */

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \\, " and newline escaped. */
static void
label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

/* name_bucket{labels,le=...}, name_sum, name_count; labels is "" or
 * `k="v",` text ready to print (already escaped). */
static void
hist_render(FILE *f, const char *name, const char *labels, hist *h)
{
	uint_fast64_t cum = 0;
	size_t lablen = strlen(labels);

	for (size_t i = 0; i <= NB; i++) {
		cum += get(&h->bucket[i]);
		if (i < NB)
			fprintf(f, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels,
			        (double)bounds_us[i] / 1e6, (unsigned long long)cum);
		else
			fprintf(f, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
			        (unsigned long long)cum);
	}
	/* labels ends with ',' when not empty: drop it for _sum and _count */
	fprintf(f, "%s_sum{%.*s} %.6f\n", name, lablen ? (int)lablen - 1 : 0, labels,
	        (double)get(&h->sum_us) / 1e6);
	fprintf(f, "%s_count{%.*s} %llu\n", name, lablen ? (int)lablen - 1 : 0, labels,
	        (unsigned long long)cum);
}

/* `route="...",face="...",` for route i, escaped. */
static void
route_labels(char *buf, size_t n, int i)
{
	FILE *m = fmemopen(buf, n, "w");

	if (m == NULL) {
		buf[0] = '\0';
		return;
	}
	fputs("route=\"", m);
	label(m, routes[i].path);
	fprintf(m, "\",face=\"%s\",", face_names[routes[i].face]);
	fputc('\0', m);
	fclose(m);
	buf[n - 1] = '\0';
}

static void
render_requests(FILE *f, int nr)
{
	char labels[512];

	family(f, "tessera_http_requests_total", "counter",
	       "HTTP requests answered, by route template, face and status.");
	for (int i = 0; i < nr; i++) {
		route_labels(labels, sizeof(labels), i);
		for (size_t s = 0; s <= NS; s++) {
			uint_fast64_t v = get(&requests[i][s]);
			if (v == 0)
				continue;   /* a row appears once it counted */
			if (s < NS)
				fprintf(f, "tessera_http_requests_total{%sstatus=\"%u\"} %llu\n", labels,
				        statuses[s], (unsigned long long)v);
			else
				fprintf(f, "tessera_http_requests_total{%sstatus=\"other\"} %llu\n", labels,
				        (unsigned long long)v);
		}
	}
	family(f, "tessera_http_request_duration_seconds", "histogram",
	       "Time from the request line to the answer, by route template.");
	for (int i = 0; i < nr; i++) {
		route_labels(labels, sizeof(labels), i);
		hist_render(f, "tessera_http_request_duration_seconds", labels, &latency[i]);
	}
}

static void
render_logins(FILE *f)
{
	family(f, "tessera_logins_total", "counter",
	       "Password logins decided, by face and result (ok, mfa, enroll, or the refusal reason).");
	for (size_t fa = 0; fa < NF - 1; fa++)
		for (size_t r = 0; r < NL; r++)
			fprintf(f, "tessera_logins_total{face=\"%s\",result=\"%s\"} %llu\n",
			        face_names[fa], login_results[r], (unsigned long long)get(&logins[fa][r]));
}

static void
render_events(FILE *f)
{
	family(f, "tessera_ratelimit_refusals_total", "counter",
	       "Password attempts refused by a rate limit, by scope.");
	fprintf(f, "tessera_ratelimit_refusals_total{scope=\"address\"} %llu\n",
	        (unsigned long long)get(&events[TS_M_RATE_ADDRESS]));
	fprintf(f, "tessera_ratelimit_refusals_total{scope=\"account\"} %llu\n",
	        (unsigned long long)get(&events[TS_M_RATE_ACCOUNT]));
	family(f, "tessera_locks_total", "counter",
	       "Accounts locked after failed logins (account) or wrong second factors (mfa).");
	fprintf(f, "tessera_locks_total{kind=\"account\"} %llu\n",
	        (unsigned long long)get(&events[TS_M_LOCK_ACCOUNT]));
	fprintf(f, "tessera_locks_total{kind=\"mfa\"} %llu\n",
	        (unsigned long long)get(&events[TS_M_LOCK_MFA]));
	family(f, "tessera_mail_send_failures_total", "counter", "Mails that could not be delivered.");
	fprintf(f, "tessera_mail_send_failures_total %llu\n",
	        (unsigned long long)get(&events[TS_M_MAIL_FAILED]));
	family(f, "tessera_mail_outbox_depth", "gauge", "Mails waiting to be sent.");
	fprintf(f, "tessera_mail_outbox_depth %lld\n",
	        (long long)atomic_load_explicit(&outbox_depth, memory_order_relaxed));
	family(f, "tessera_tls_reloads_total", "counter",
	       "TLS certificate reloads (SIGHUP), by result.");
	fprintf(f, "tessera_tls_reloads_total{result=\"ok\"} %llu\n",
	        (unsigned long long)get(&events[TS_M_TLS_RELOAD_OK]));
	fprintf(f, "tessera_tls_reloads_total{result=\"failed\"} %llu\n",
	        (unsigned long long)get(&events[TS_M_TLS_RELOAD_FAILED]));
}

static void
render_pools(FILE *f)
{
	char labels[64];

	family(f, "tessera_pool_queue_depth", "gauge",
	       "Jobs waiting for a worker: hash (password checks) and store (remote store requests).");
	for (int p = 0; p < TS_M_POOL_N; p++) {
		struct ts_pool *pool = atomic_load(&pools[p]);
		if (pool != NULL)
			fprintf(f, "tessera_pool_queue_depth{pool=\"%s\"} %u\n", pool_names[p],
			        ts_pool_queued(pool));
	}
	family(f, "tessera_pool_wait_seconds", "histogram",
	       "Time a job waited in the queue before a worker took it.");
	for (int p = 0; p < TS_M_POOL_N; p++) {
		snprintf(labels, sizeof(labels), "pool=\"%s\",", pool_names[p]);
		hist_render(f, "tessera_pool_wait_seconds", labels, &pool_wait[p]);
	}
}

static void
render_store(FILE *f)
{
	char labels[64];

	family(f, "tessera_store_op_duration_seconds", "histogram",
	       "Store operations, from taking a connection to giving it back, by backend.");
	for (int b = 0; b < TS_M_STORE_N; b++) {
		snprintf(labels, sizeof(labels), "backend=\"%s\",", store_names[b]);
		hist_render(f, "tessera_store_op_duration_seconds", labels, &store_latency[b]);
	}
	family(f, "tessera_store_errors_total", "counter",
	       "Store operations that failed: the database unavailable, or an internal fault.");
	for (int b = 0; b < TS_M_STORE_N; b++) {
		fprintf(f, "tessera_store_errors_total{backend=\"%s\",kind=\"unavailable\"} %llu\n",
		        store_names[b], (unsigned long long)get(&store_errors[b][0]));
		fprintf(f, "tessera_store_errors_total{backend=\"%s\",kind=\"internal\"} %llu\n",
		        store_names[b], (unsigned long long)get(&store_errors[b][1]));
	}
}

char *
ts_metrics_render(size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	const char *version = atomic_load(&build_version);

	if (f == NULL)
		return NULL;
	family(f, "tessera_build_info", "gauge", "Always 1; the labels say which build runs.");
	fputs("tessera_build_info{version=\"", f);
	label(f, version ? version : "unknown");
	fputs("\"} 1\n", f);
	render_requests(f, atomic_load(&nroutes));
	render_logins(f);
	render_events(f);
	render_pools(f);
	render_store(f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (len != NULL)
		*len = n;
	return buf;
}
