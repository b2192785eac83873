/* Worker pool: nthreads threads take jobs from a fixed ring buffer under one
 * mutex. Submitting never waits: a full ring is TS_E_OVERLOADED, so a burst
 * of password hashes turns into quick 503s instead of a growing queue. */
#include "core/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"

typedef struct {
	ts_pool_fn fn;
	void *arg;
	int64_t queued_us;     /* when submitted, for the wait metric */
} job_t;

struct ts_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;     /* signalled when a job arrives or on stop */
	job_t *ring;           /* capacity slots */
	unsigned capacity;
	unsigned head;         /* next job to run */
	unsigned count;        /* jobs waiting */
	int stopping;          /* set by ts_pool_free: drain, then exit */
	pthread_t *threads;
	unsigned nthreads;     /* threads actually started */
	_Atomic int metric;    /* ts_metrics_pool of its waits, or -1 */
	int background;        /* workers run below the event threads */
};

/* SCHED_BATCH (the kernel treats them as CPU-bound: no wakeup preemption
 * in their favour) and nice POOL_NICE, so an event thread that wakes to
 * answer a token check or a 503 gets a core before an argon2id hash does.
 * Both only lower our own priority: no privilege needed; failures are
 * harmless and ignored. */
#define POOL_NICE 5
static void
lower_priority(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	(void)sched_setscheduler(0, SCHED_BATCH, &sp);
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), POOL_NICE);
}

/* Takes the next job, waiting for one; 0 when the pool is stopping and the
 * ring is empty. */
static int
take_job(ts_pool *p, job_t *out)
{
	int got = 0;

	pthread_mutex_lock(&p->mu);
	while (p->count == 0 && !p->stopping)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->count > 0) {
		*out = p->ring[p->head];
		p->head = (p->head + 1) % p->capacity;
		p->count--;
		got = 1;
	}
	pthread_mutex_unlock(&p->mu);
	return got;
}

static void *
worker_main(void *arg)
{
	ts_pool *p = arg;
	job_t job;

	if (p->background)
		lower_priority();
	while (take_job(p, &job)) {
		int m = atomic_load_explicit(&p->metric, memory_order_relaxed);
		if (m >= 0)
			ts_metrics_pool_wait((ts_metrics_pool)m, ts_mono_us() - job.queued_us);
		job.fn(job.arg);
	}
	return NULL;
}

/* Stops and joins the started threads, then frees p. */
static void
pool_destroy(ts_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p->ring);
	free(p);
}

static ts_err
pool_new(unsigned nthreads, unsigned capacity, int background, ts_pool **out)
{
	ts_pool *p = NULL;
	ts_err r = TS_E_INVALID;

	*out = NULL;
	if (nthreads == 0 || capacity == 0)
		return TS_E_INVALID;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return TS_E_NOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->capacity = capacity;
	atomic_init(&p->metric, -1);
	p->background = background;
	p->ring = calloc(capacity, sizeof(*p->ring));
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (p->ring == NULL || p->threads == NULL) {
		r = TS_E_NOMEM;
		goto out;
	}
	for (; p->nthreads < nthreads; p->nthreads++) {
		if (pthread_create(&p->threads[p->nthreads], NULL, worker_main, p) != 0) {
			ts_error("pthread_create failed after %u threads", p->nthreads);
			r = TS_E_INTERNAL;
			goto out;
		}
	}
	*out = p;
	p = NULL;
	r = TS_OK;
out:
	if (p != NULL)
		pool_destroy(p);
	return r;
}

ts_err
ts_pool_new(unsigned nthreads, unsigned capacity, ts_pool **out)
{
	return pool_new(nthreads, capacity, 0, out);
}

ts_err
ts_pool_new_background(unsigned nthreads, unsigned capacity, ts_pool **out)
{
	return pool_new(nthreads, capacity, 1, out);
}

ts_err
ts_pool_submit(ts_pool *p, ts_pool_fn fn, void *arg)
{
	ts_err r = TS_E_OVERLOADED;

	pthread_mutex_lock(&p->mu);
	if (!p->stopping && p->count < p->capacity) {
		p->ring[(p->head + p->count) % p->capacity] = (job_t){ fn, arg, ts_mono_us() };
		p->count++;
		pthread_cond_signal(&p->cv);
		r = TS_OK;
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

void
ts_pool_set_metrics(ts_pool *p, ts_metrics_pool which)
{
	atomic_store(&p->metric, (int)which);
	ts_metrics_pool_register(which, p);
}

unsigned
ts_pool_queued(ts_pool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->mu);
	n = p->count;
	pthread_mutex_unlock(&p->mu);
	return n;
}

unsigned
ts_pool_threads(ts_pool *p)
{
	return p->nthreads;
}

void
ts_pool_free(ts_pool *p)
{
	if (p == NULL)
		return;
	int m = atomic_load(&p->metric);

	if (m >= 0)
		ts_metrics_pool_register((ts_metrics_pool)m, NULL); /* a scrape must not read it */
	/* Workers keep taking jobs until the ring is empty, so every queued
	 * job runs (and frees its arg) before the threads exit. */
	pool_destroy(p);
}
