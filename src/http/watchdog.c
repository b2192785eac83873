/* Header watchdog. libmicrohttpd's connection timeout measures silence
 * only, so a client that sends one header byte every few seconds keeps its
 * connection (and a slot of conn_limit) for hours: the classic slowloris.
 * This registry knows every open connection and, on a 250 ms tick, shuts
 * down any that has been waiting longer than the limit for a complete
 * request line and headers. */
#include "http/http_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"

#define WATCHDOG_TICK_NS (250 * 1000000L)

struct http_conn {
	http_conn *prev, *next;
	int fd;                     /* the transport's; only shutdown(2) here */
	int64_t waiting_since;      /* µs; start of the current header wait */
	int busy;                   /* headers in, request not yet over */
	int cut;                    /* already shut down */
	char ip[HTTP_IP_STRLEN];    /* for the log line */
};

struct http_watchdog {
	pthread_mutex_t mu;         /* guards everything below and each entry */
	pthread_cond_t cv;          /* wakes the thread to stop */
	http_conn *conns;
	int64_t limit_us;
	int stop;
	pthread_t thread;
};

static void
sweep(http_watchdog *w)
{
	int64_t now = ts_mono_us();

	for (http_conn *c = w->conns; c != NULL; c = c->next) {
		if (c->busy || c->cut || c->fd < 0 || now - c->waiting_since <= w->limit_us)
			continue;
		/* shutdown, not close: the transport still owns the fd; its
		 * event loop sees EOF and cleans up on its own thread. */
		shutdown(c->fd, SHUT_RDWR);
		c->cut = 1;
		ts_log_event(TS_LOG_INFO, "conn_cut", "ip", c->ip, "note", "header_timeout", NULL);
	}
}

static void *
watchdog_main(void *arg)
{
	http_watchdog *w = arg;
	struct timespec until;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		sweep(w);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += WATCHDOG_TICK_NS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cv, &w->mu, &until);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

ts_err
http_watchdog_start(unsigned limit_s, http_watchdog **out)
{
	http_watchdog *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (w == NULL)
		return TS_E_NOMEM;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->limit_us = (int64_t)limit_s * 1000000;
	if (pthread_create(&w->thread, NULL, watchdog_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return TS_E_INTERNAL;
	}
	*out = w;
	return TS_OK;
}

void
http_watchdog_stop(http_watchdog *w)
{
	http_conn *c, *next;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

http_conn *
http_watchdog_add(http_watchdog *w, int fd, const char *ip)
{
	http_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = fd;
	c->waiting_since = ts_mono_us();
	ts_strlcpy(c->ip, ip ? ip : "unknown", sizeof(c->ip));
	pthread_mutex_lock(&w->mu);
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	pthread_mutex_unlock(&w->mu);
	return c;
}

void
http_watchdog_remove(http_watchdog *w, http_conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&w->mu);
	free(c);
}

void
http_watchdog_busy(http_watchdog *w, http_conn *c, int busy)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	c->busy = busy;
	if (!busy)
		c->waiting_since = ts_mono_us();
	pthread_mutex_unlock(&w->mu);
}
