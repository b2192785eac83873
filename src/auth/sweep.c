/* Housekeeping: bounded deletes of what can no longer matter (auth.h says
 * exactly what), by one node at a time under a lease in the store. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_internal.h"
#include "core/log.h"

#define SWEEP_BATCH 500
#define SWEEP_BATCHES 4
#define SWEEP_LEASE_MIN 10

/* Up to batches statements of batch rows of one class; *n adds what went. */
static ts_err
sweep_class(ts_auth *a, ts_sweep_class what, int64_t before, int batch, int batches, int *n)
{
	ts_err r = TS_OK;
	int got;

	for (int i = 0; i < batches; i++) {
		if ((r = SOPS(a)->sweep(ST(a), what, before, batch, &got)) != TS_OK)
			break;
		*n += got;
		if (got < batch)
			break;   /* clean as of now */
	}
	return r;
}

/* Epoch ms before which an untouched account bucket is full again. */
static int64_t
buckets_before(ts_auth *a, int64_t now)
{
	ts_limits lim = ts_auth_limits(a);
	double rate = lim.rl_account_rate, burst = lim.rl_account_burst;
	int64_t full_ms = rate > 0 ? (int64_t)(burst / rate * 1000.0) + 1000 : 0;

	return now * 1000 - full_ms;
}

ts_err
ts_auth_sweep(ts_auth *a, const ts_sweep_config *c, const char *node, int64_t now,
              ts_sweep_counts *out)
{
	int batch = c->batch > 0 ? c->batch : SWEEP_BATCH;
	int batches = c->batches > 0 ? c->batches : SWEEP_BATCHES;
	int64_t ttl = 3 * (int64_t)c->interval;
	int64_t ended = now - c->retention;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (ttl < SWEEP_LEASE_MIN)
		ttl = SWEEP_LEASE_MIN;
	if ((r = SOPS(a)->sweep_lease(ST(a), node, now, ttl, &out->held)) != TS_OK || !out->held)
		return r;
	/* Secrets of ended sessions before the sessions: no secret outlives
	 * the session it names. */
	if ((r = sweep_class(a, TS_SWEEP_SECRETS_EXPIRED, now - c->grace, batch, batches,
	                     &out->secrets_expired)) != TS_OK ||
	    (r = sweep_class(a, TS_SWEEP_SECRETS_ENDED, ended, batch, batches,
	                     &out->secrets_ended)) != TS_OK ||
	    (r = sweep_class(a, TS_SWEEP_SESSIONS_ENDED, ended, batch, batches,
	                     &out->sessions)) != TS_OK ||
	    (r = sweep_class(a, TS_SWEEP_LOCKS, ended, batch, batches, &out->locks)) != TS_OK ||
	    (r = sweep_class(a, TS_SWEEP_BUCKETS, buckets_before(a, now), batch, batches,
	                     &out->buckets)) != TS_OK ||
	    (c->audit_retention > 0 &&
	     (r = sweep_class(a, TS_SWEEP_AUDIT, now - c->audit_retention, batch, batches,
	                      &out->audit)) != TS_OK))
		ts_log_event(TS_LOG_WARN, "sweep_failed", "error", ts_strerror(r), NULL);
	ts_log_event(TS_LOG_INFO, "sweep", "node", node,
	             TS_LOG_INT("secrets_expired", out->secrets_expired),
	             TS_LOG_INT("secrets_ended", out->secrets_ended),
	             TS_LOG_INT("sessions", out->sessions), TS_LOG_INT("locks", out->locks),
	             TS_LOG_INT("buckets", out->buckets), TS_LOG_INT("audit", out->audit), NULL);
	return r;
}

/* ---- the background thread ---- */

struct ts_sweeper {
	ts_auth *a;
	ts_sweep_config cfg;
	char node[TS_ID_SZ];
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* CLOCK_MONOTONIC; signalled by stop */
	int stopping;
};

static void *
sweeper_main(void *arg)
{
	ts_sweeper *w = arg;
	struct timespec until;
	ts_sweep_counts n;

	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += w->cfg.interval;
		while (!w->stopping &&
		       pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
			;
		if (w->stopping)
			break;
		pthread_mutex_unlock(&w->mu);
		(void)ts_auth_sweep(w->a, &w->cfg, w->node, ts_now(), &n);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

ts_err
ts_sweeper_start(ts_auth *a, const ts_sweep_config *c, ts_sweeper **out)
{
	ts_sweeper *w;
	pthread_condattr_t ca;

	*out = NULL;
	if (c->interval <= 0)
		return TS_OK;
	if (!(w = calloc(1, sizeof(*w))))
		return TS_E_NOMEM;
	w->a = a;
	w->cfg = *c;
	ts_uuid4(w->node);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, sweeper_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return TS_E_INTERNAL;
	}
	*out = w;
	return TS_OK;
}

void
ts_sweeper_stop(ts_sweeper *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
