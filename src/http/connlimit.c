/* Per-address connection counts. libmicrohttpd's own per-IP limit cannot
 * exempt anyone, and a trusted proxy carries every client, so the
 * transport counts for itself: a hash of addresses to open connections,
 * an entry freed when its count drops to 0, so there are never more
 * entries than open connections (at most conn_limit). */
#include "http/http_internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONNLIMIT_BUCKETS 1024      /* a power of two */

typedef struct cl_entry {
	struct cl_entry *next;
	http_ip ip;
	unsigned n;
} cl_entry;

struct http_connlimit {
	pthread_mutex_t mu;         /* guards buckets */
	unsigned limit;
	http_ip *exempt;
	size_t nexempt;
	cl_entry *buckets[CONNLIMIT_BUCKETS];
};

static size_t
ip_hash(const http_ip *ip)
{
	size_t n = ip->af == AF_INET ? 4 : 16;
	uint32_t h = 2166136261u;       /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ ip->a[i]) * 16777619u;
	return h & (CONNLIMIT_BUCKETS - 1);
}

static int
is_exempt(const http_connlimit *cl, const http_ip *ip)
{
	for (size_t i = 0; i < cl->nexempt; i++)
		if (http_ip_equal(ip, &cl->exempt[i]))
			return 1;
	return 0;
}

/* The entry of ip, or where to link a new one; under mu. */
static cl_entry **
slot(http_connlimit *cl, const http_ip *ip)
{
	cl_entry **e = &cl->buckets[ip_hash(ip)];

	while (*e != NULL && !http_ip_equal(&(*e)->ip, ip))
		e = &(*e)->next;
	return e;
}

ts_err
http_connlimit_new(unsigned limit, const http_ip *exempt, size_t nexempt, http_connlimit **out)
{
	http_connlimit *cl = calloc(1, sizeof(*cl));

	*out = NULL;
	if (cl == NULL)
		return TS_E_NOMEM;
	if (nexempt > 0) {
		cl->exempt = malloc(nexempt * sizeof(*exempt));
		if (cl->exempt == NULL) {
			free(cl);
			return TS_E_NOMEM;
		}
		memcpy(cl->exempt, exempt, nexempt * sizeof(*exempt));
	}
	cl->nexempt = nexempt;
	cl->limit = limit;
	pthread_mutex_init(&cl->mu, NULL);
	*out = cl;
	return TS_OK;
}

void
http_connlimit_free(http_connlimit *cl)
{
	if (cl == NULL)
		return;
	for (size_t b = 0; b < CONNLIMIT_BUCKETS; b++) {
		cl_entry *e = cl->buckets[b];
		while (e != NULL) {
			cl_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	pthread_mutex_destroy(&cl->mu);
	free(cl->exempt);
	free(cl);
}

unsigned
http_connlimit_count(http_connlimit *cl, const http_ip *ip)
{
	cl_entry *e;
	unsigned n;

	pthread_mutex_lock(&cl->mu);
	e = *slot(cl, ip);
	n = e != NULL ? e->n : 0;
	pthread_mutex_unlock(&cl->mu);
	return n;
}

int
http_connlimit_admits(http_connlimit *cl, const http_ip *ip)
{
	if (cl->limit == 0 || is_exempt(cl, ip))
		return 1;
	return http_connlimit_count(cl, ip) < cl->limit;
}

int
http_connlimit_acquire(http_connlimit *cl, const http_ip *ip)
{
	cl_entry **e;
	int counted;

	if (cl->limit == 0 || is_exempt(cl, ip))
		return 0;
	pthread_mutex_lock(&cl->mu);
	e = slot(cl, ip);
	if (*e == NULL && (*e = calloc(1, sizeof(**e))) != NULL)
		(*e)->ip = *ip;
	counted = *e != NULL;
	if (counted)
		(*e)->n++;
	pthread_mutex_unlock(&cl->mu);
	return counted;
}

void
http_connlimit_release(http_connlimit *cl, const http_ip *ip)
{
	cl_entry **e, *dead = NULL;

	pthread_mutex_lock(&cl->mu);
	e = slot(cl, ip);
	if (*e != NULL && --(*e)->n == 0) {
		dead = *e;
		*e = dead->next;
	}
	pthread_mutex_unlock(&cl->mu);
	free(dead);
}
