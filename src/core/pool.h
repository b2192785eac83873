/* A fixed set of worker threads fed by a bounded queue. Password hashing
 * runs here so connection threads never block on it; a full queue is
 * reported at once (TS_E_OVERLOADED) instead of letting latency grow. */
#ifndef TS_POOL_H
#define TS_POOL_H

#include <stddef.h>
#include "core/err.h"
#include "core/metrics.h"

typedef struct ts_pool ts_pool;
typedef void (*ts_pool_fn)(void *arg);

/* nthreads >= 1; capacity = most jobs waiting (not counting running ones). */
ts_err ts_pool_new(unsigned nthreads, unsigned capacity, ts_pool **out);
/* The same, for CPU-bound work (password hashes): the workers run at a
 * lower priority than the threads that submit (SCHED_BATCH, nice 5). */
ts_err ts_pool_new_background(unsigned nthreads, unsigned capacity, ts_pool **out);
/* Queues fn(arg). Never blocks. TS_E_OVERLOADED when the queue is full or
 * ts_pool_free has begun: fn is not called and the caller still owns arg.
 * Otherwise the job owns arg. */
ts_err ts_pool_submit(ts_pool *p, ts_pool_fn fn, void *arg);
/* Jobs waiting right now (a snapshot). */
unsigned ts_pool_queued(ts_pool *p);
unsigned ts_pool_threads(ts_pool *p);
/* Reports p's queue depth and each job's wait in the queue as pool
 * `which` (core/metrics.h). Call before submitting. */
void ts_pool_set_metrics(ts_pool *p, ts_metrics_pool which);
/* Runs every queued job, joins the threads, frees p. NULL is a no-op. */
void ts_pool_free(ts_pool *p);

#endif
