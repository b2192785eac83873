/* Audit events (audit.h): a log line, and a row in the store's append-only
 * audit log. On a server the rows go through a small in-memory queue that
 * one thread writes in batches (one transaction per batch), so a login
 * never waits for an audit INSERT; a full queue makes the caller wait for
 * room rather than drop an event, and stopping the writer flushes it.
 * Without a writer (the command line) each row is written at once. */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "core/log.h"
#include "core/util.h"

#define AUDIT_QUEUE 1024             /* rows waiting; about 1.5 MiB */
#define AUDIT_BATCH 128              /* rows per transaction */

struct ts_auditor {
	ts_store *store;                 /* not owned */
	pthread_mutex_t mu;
	pthread_cond_t more;             /* rows queued, or stop */
	pthread_cond_t room;             /* rows taken off the queue */
	pthread_cond_t done;             /* a batch written (or given up) */
	ts_audit_rec *q;                 /* ring of AUDIT_QUEUE */
	size_t head, n;
	uint64_t queued, written;        /* totals: written catches up with queued */
	int stop;
	pthread_t thread;
};

/* Appends s to the JSON text at out[*len], escaped; 0 when it does not fit. */
static int
json_put_str(char *out, size_t cap, size_t *len, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (*len + 1 >= cap)
		return 0;
	out[(*len)++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[7];
		size_t k = 0;

		if (*p == '"' || *p == '\\') {
			esc[k++] = '\\';
			esc[k++] = (char)*p;
		} else if (*p < 0x20) {
			esc[k++] = '\\';
			esc[k++] = 'u';
			esc[k++] = '0';
			esc[k++] = '0';
			esc[k++] = hex[*p >> 4];
			esc[k++] = hex[*p & 15];
		} else {
			esc[k++] = (char)*p;
		}
		if (*len + k + 1 >= cap)
			return 0;
		memcpy(out + *len, esc, k);
		*len += k;
	}
	out[(*len)++] = '"';
	out[*len] = '\0';
	return 1;
}

/* Fills rec from the event's key/value pairs: the keys with a meaning
 * of their own go to their columns, the rest to data (a JSON object). */
static void
rec_fill(ts_audit_rec *rec, const char *event, va_list ap)
{
	size_t len = 1, cap = sizeof(rec->data) - 1;   /* room for the '}' */
	const char *key;

	memset(rec, 0, sizeof(*rec));
	rec->at = ts_now();
	ts_strlcpy(rec->event, event, sizeof(rec->event));
	rec->data[0] = '{';
	while ((key = va_arg(ap, const char *)) != NULL) {
		char num[32];
		const char *v;
		int is_num = key[0] == '#';

		if (is_num) {
			snprintf(num, sizeof(num), "%lld", (long long)va_arg(ap, int64_t));
			key++;
			v = num;
		} else {
			v = va_arg(ap, const char *);
		}
		if (strcmp(key, "tenant") == 0 && v && !is_num) {
			ts_strlcpy(rec->tenant, v, sizeof(rec->tenant));
			continue;
		}
		if (strcmp(key, "user") == 0 && v && !is_num) {
			ts_strlcpy(rec->user_id, v, sizeof(rec->user_id));
			continue;
		}
		if (strcmp(key, "actor") == 0 && v && !is_num) {
			ts_strlcpy(rec->actor, v, sizeof(rec->actor));
			continue;
		}
		size_t mark = len;
		if (len > 1)
			rec->data[len++] = ',';
		rec->data[len] = '\0';
		int ok = json_put_str(rec->data, cap, &len, key) && len + 1 < cap;
		if (ok) {
			rec->data[len++] = ':';
			rec->data[len] = '\0';
			if (!v)
				ok = len + 4 < cap && (memcpy(rec->data + len, "null", 4), len += 4, 1);
			else if (is_num)
				ok = len + strlen(num) < cap &&
				     (memcpy(rec->data + len, num, strlen(num)), len += strlen(num), 1);
			else
				ok = json_put_str(rec->data, cap, &len, v);
		}
		if (!ok)
			len = mark;              /* a field that does not fit is left out */
		rec->data[len] = '\0';
	}
	rec->data[len++] = '}';
	rec->data[len] = '\0';
}

/* Rows name their tenant by slug. An event that knew only the tenant's
 * id (session_start) is resolved here, on the writer, off the login path. */
static void
resolve_tenants(ts_store *s, ts_audit_rec *rows, int n)
{
	char id[TS_ID_SZ] = "", slug[TS_SLUG_MAX + 1] = "";

	for (int i = 0; i < n; i++) {
		ts_tenant t;

		if (!ts_is_uuid(rows[i].tenant))
			continue;
		if (strcmp(rows[i].tenant, id) != 0) {
			ts_strlcpy(id, rows[i].tenant, sizeof(id));
			slug[0] = '\0';
			if (s->ops->tenant_by_id(s, id, &t) == TS_OK)
				ts_strlcpy(slug, t.slug, sizeof(slug));
		}
		if (slug[0])
			ts_strlcpy(rows[i].tenant, slug, sizeof(rows[i].tenant));
	}
}

/* Writes rows, retrying a store that is away for about two seconds (at
 * stop, three tries), then logs what could not be kept: a store that is
 * down must not stall every login behind a full queue. */
static void
write_rows(ts_store *s, const ts_audit_rec *rows, int n, int stopping)
{
	for (int tries = 0;; tries++) {
		ts_err r = s->ops->audit_append(s, rows, n);
		if (r == TS_OK)
			return;
		if (tries >= (stopping ? 2 : 10)) {
			ts_log_event(TS_LOG_ERROR, "audit_lost", TS_LOG_INT("rows", n), "error",
			             ts_errname(r), NULL);
			return;
		}
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static void *
writer_main(void *arg)
{
	ts_auditor *w = arg;
	ts_audit_rec *batch = calloc(AUDIT_BATCH, sizeof(*batch));

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->n == 0 && !w->stop)
			pthread_cond_wait(&w->more, &w->mu);
		if (w->n == 0 && w->stop)
			break;
		int k = 0;
		while (w->n > 0 && k < AUDIT_BATCH && batch) {
			batch[k++] = w->q[w->head];
			w->head = (w->head + 1) % AUDIT_QUEUE;
			w->n--;
		}
		int stopping = w->stop;
		pthread_cond_broadcast(&w->room);
		pthread_mutex_unlock(&w->mu);
		if (batch) {
			resolve_tenants(w->store, batch, k);
			write_rows(w->store, batch, k, stopping);
		}
		pthread_mutex_lock(&w->mu);
		w->written += (uint64_t)k;
		pthread_cond_broadcast(&w->done);
		if (!batch)
			break;
	}
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->mu);
	free(batch);
	return NULL;
}

ts_err
ts_auditor_start(ts_store *s, ts_auditor **out)
{
	ts_auditor *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w || !(w->q = calloc(AUDIT_QUEUE, sizeof(*w->q)))) {
		free(w);
		return TS_E_NOMEM;
	}
	w->store = s;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->more, NULL);
	pthread_cond_init(&w->room, NULL);
	pthread_cond_init(&w->done, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->more);
		pthread_cond_destroy(&w->room);
		pthread_cond_destroy(&w->done);
		free(w->q);
		free(w);
		return TS_E_INTERNAL;
	}
	*out = w;
	return TS_OK;
}

void
ts_auditor_stop(ts_auditor *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->more);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);   /* the queue is written by then */
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->more);
	pthread_cond_destroy(&w->room);
	pthread_cond_destroy(&w->done);
	free(w->q);
	free(w);
}

static void
auditor_put(ts_auditor *w, const ts_audit_rec *rec)
{
	pthread_mutex_lock(&w->mu);
	while (w->n == AUDIT_QUEUE && !w->stop)
		pthread_cond_wait(&w->room, &w->mu);   /* no event is dropped */
	if (w->n < AUDIT_QUEUE) {
		w->q[(w->head + w->n) % AUDIT_QUEUE] = *rec;
		w->n++;
		w->queued++;
		pthread_cond_signal(&w->more);
	}
	pthread_mutex_unlock(&w->mu);
}

void
ts_audit_flush(ts_auth *a)
{
	ts_auditor *w = a ? a->auditor : NULL;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	uint64_t want = w->queued;
	while (w->written < want && !w->stop)
		pthread_cond_wait(&w->done, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

static void
audit_v(ts_auth *a, ts_log_level lvl, const char *event, va_list ap)
{
	ts_audit_rec rec;
	va_list cp;

	va_copy(cp, ap);
	ts_log_auditv(lvl, event, cp);
	va_end(cp);
	if (!a || !a->store)
		return;
	rec_fill(&rec, event, ap);
	if (a->auditor)
		auditor_put(a->auditor, &rec);
	else {
		resolve_tenants(a->store, &rec, 1);
		write_rows(a->store, &rec, 1, 1);
	}
}

void
ts_audit(ts_auth *a, const char *event, ...)
{
	va_list ap;

	va_start(ap, event);
	audit_v(a, TS_LOG_INFO, event, ap);
	va_end(ap);
}

void
ts_audit_warn(ts_auth *a, const char *event, ...)
{
	va_list ap;

	va_start(ap, event);
	audit_v(a, TS_LOG_WARN, event, ap);
	va_end(ap);
}
