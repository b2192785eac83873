/* Answers held until a deadline, on one timer thread (http_internal.h).
 * A login's answer must not leave before its padding (auth/pwtime.h);
 * sleeping for it on a hashing worker left that worker's core idle for a
 * fifth of every login (issue 13). Here the wait costs a list entry. */
#include "http/http_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/util.h"

struct http_delay {
	pthread_mutex_t mu;         /* guards everything below */
	pthread_cond_t cv;          /* a new head, or stop */
	http_delayed *head;         /* soonest first */
	http_delay_fn fire;
	int stop;
	pthread_t thread;
};

static void *
delay_main(void *arg)
{
	http_delay *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		http_delayed *d = w->head;
		int64_t now = ts_mono_us();

		if (d && (d->at_us <= now || w->stop)) {
			w->head = d->next;
			pthread_mutex_unlock(&w->mu);
			w->fire(d);          /* d may be freed by now */
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (w->stop)
			break;
		if (d) {
			struct timespec until = { .tv_sec = d->at_us / 1000000,
			                          .tv_nsec = (d->at_us % 1000000) * 1000 };
			(void)pthread_cond_timedwait(&w->cv, &w->mu, &until);
		} else {
			pthread_cond_wait(&w->cv, &w->mu);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

ts_err
http_delay_start(http_delay_fn fire, http_delay **out)
{
	http_delay *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	int bad;

	*out = NULL;
	if (w == NULL)
		return TS_E_NOMEM;
	w->fire = fire;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* as ts_mono_us */
	bad = pthread_mutex_init(&w->mu, NULL) != 0 || pthread_cond_init(&w->cv, &ca) != 0;
	pthread_condattr_destroy(&ca);
	if (bad || pthread_create(&w->thread, NULL, delay_main, w) != 0) {
		free(w);
		return TS_E_INTERNAL;
	}
	*out = w;
	return TS_OK;
}

void
http_delay_add(http_delay *w, http_delayed *d, int64_t at_us)
{
	http_delayed **p;

	d->at_us = at_us;
	pthread_mutex_lock(&w->mu);
	for (p = &w->head; *p && (*p)->at_us <= at_us; p = &(*p)->next)
		;
	d->next = *p;
	*p = d;
	if (w->head == d)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
http_delay_stop(http_delay *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;                /* what is left fires now */
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
