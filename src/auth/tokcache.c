/* A direct-mapped cache of verified access tokens, keyed by SHA-256. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/tokcache.h"
#include "core/util.h"
#include "crypto/hash.h"

#define STRIPES 64

typedef struct tc_slot {
	unsigned char key[TS_SHA256_LEN];   /* all zero = empty */
	char sid[TS_ID_SZ];
	char tid[TS_ID_SZ];
	char kid[TS_KID_MAX];
	int64_t exp;
} tc_slot;

struct ts_tokcache {
	size_t mask;
	tc_slot *slots;
	pthread_mutex_t locks[STRIPES];
};

ts_err
ts_tokcache_new(unsigned slots, ts_tokcache **out)
{
	ts_tokcache *c;
	size_t n = STRIPES;

	*out = NULL;
	while (n < slots)
		n <<= 1;
	if (!(c = calloc(1, sizeof(*c))))
		return TS_E_NOMEM;
	/* calloc'd pages stay untouched, so out of RSS, until used. */
	if (!(c->slots = calloc(n, sizeof(*c->slots)))) {
		free(c);
		return TS_E_NOMEM;
	}
	c->mask = n - 1;
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	*out = c;
	return TS_OK;
}

void
ts_tokcache_free(ts_tokcache *c)
{
	if (!c)
		return;
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&c->locks[i]);
	free(c->slots);
	free(c);
}

static size_t
slot_of(const ts_tokcache *c, const unsigned char key[TS_SHA256_LEN])
{
	uint64_t v;

	memcpy(&v, key, sizeof(v));
	return (size_t)v & c->mask;
}

int
ts_tokcache_get(ts_tokcache *c, const char *token, int64_t now, char sid[TS_ID_SZ],
                char tid[TS_ID_SZ], char kid[TS_KID_MAX], int64_t *exp)
{
	unsigned char key[TS_SHA256_LEN];
	size_t i;
	int hit = 0;

	if (!c)
		return 0;
	ts_sha256(token, strlen(token), key);
	i = slot_of(c, key);
	pthread_mutex_t *m = &c->locks[i % STRIPES];
	pthread_mutex_lock(m);
	const tc_slot *s = &c->slots[i];
	if (memcmp(s->key, key, sizeof(key)) == 0 && s->exp > now) {
		memcpy(sid, s->sid, TS_ID_SZ);
		memcpy(tid, s->tid, TS_ID_SZ);
		memcpy(kid, s->kid, TS_KID_MAX);
		*exp = s->exp;
		hit = 1;
	}
	pthread_mutex_unlock(m);
	return hit;
}

void
ts_tokcache_put(ts_tokcache *c, const char *token, const char *sid, const char *tid,
                const char *kid, int64_t exp)
{
	unsigned char key[TS_SHA256_LEN];
	size_t i;

	if (!c)
		return;
	ts_sha256(token, strlen(token), key);
	i = slot_of(c, key);
	pthread_mutex_t *m = &c->locks[i % STRIPES];
	pthread_mutex_lock(m);
	tc_slot *s = &c->slots[i];
	memcpy(s->key, key, sizeof(key));
	ts_strlcpy(s->sid, sid, sizeof(s->sid));
	ts_strlcpy(s->tid, tid, sizeof(s->tid));
	ts_strlcpy(s->kid, kid, sizeof(s->kid));
	s->exp = exp;
	pthread_mutex_unlock(m);
}
