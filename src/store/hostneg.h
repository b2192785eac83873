/* A short negative cache for tenant_by_domain: hosts that name no tenant
 * (an IP address, a name nobody configured) are the common case of a
 * token check, and each would otherwise cost a store round trip. Shared
 * by both backends; a store op that adds a domain clears it, so a domain
 * added in this process applies at once, and one added by another process
 * (the CLI, another node) within TS_HOSTNEG_TTL_MS. Hits are answered
 * under one mutex, with no allocation. */
#ifndef TS_STORE_HOSTNEG_H
#define TS_STORE_HOSTNEG_H

#include <pthread.h>
#include <stdint.h>
#include "core/util.h"
#include "store/store.h"

#define TS_HOSTNEG_TTL_MS 1000
#define TS_HOSTNEG_SLOTS 32

typedef struct ts_hostneg {
	pthread_mutex_t mu;
	uint64_t gen;               /* bumped by every clear */
	struct {
		char host[TS_HOST_MAX + 1];
		int64_t until_us;   /* monotonic; 0 = empty */
	} e[TS_HOSTNEG_SLOTS];
} ts_hostneg;

void ts_hostneg_init(ts_hostneg *c);
void ts_hostneg_destroy(ts_hostneg *c);
/* 1 when host is known (recently) to name no tenant. Otherwise 0, and
 * *gen gets the generation to hand to ts_hostneg_put after the lookup. */
int ts_hostneg_has(ts_hostneg *c, const char *host, uint64_t *gen);
/* Records that host named no tenant, unless a clear came since gen. */
void ts_hostneg_put(ts_hostneg *c, const char *host, uint64_t gen);
/* A domain was added: forget every negative answer. */
void ts_hostneg_clear(ts_hostneg *c);
/* A backend's tenant_by_domain op through the cache: find(s, host, out)
 * runs unless host is known to name no tenant, and its NOT_FOUND is
 * remembered. */
ts_err ts_hostneg_lookup(ts_hostneg *c, ts_store *s, const char *host, ts_tenant *out,
                         ts_err (*find)(ts_store *s, const char *host, ts_tenant *out));

#endif
