/* Token-bucket rate limiting in a bounded, striped hash table. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "auth/ratelimit.h"

#define STRIPES 64               /* locks; slots are split evenly among them */
#define PROBE 8                  /* slots looked at for a key */

typedef struct rl_slot {
	uint64_t key;                /* 0 = empty */
	double tokens;
	int64_t last_us;
} rl_slot;

struct ts_limiter {
	double rate, burst;
	size_t mask;
	rl_slot *slots;
	unsigned char sipkey[crypto_shorthash_KEYBYTES];
	pthread_mutex_t locks[STRIPES];
};

ts_err
ts_limiter_new(unsigned slots, double rate, double burst, ts_limiter **out)
{
	ts_limiter *l;
	size_t n = STRIPES * PROBE;

	*out = NULL;
	if (sodium_init() < 0)
		return TS_E_INTERNAL;
	while (n < slots)
		n <<= 1;
	if (!(l = calloc(1, sizeof(*l))))
		return TS_E_NOMEM;
	if (!(l->slots = calloc(n, sizeof(*l->slots)))) {
		free(l);
		return TS_E_NOMEM;
	}
	l->rate = rate;
	l->burst = burst < 1 ? 1 : burst;
	l->mask = n - 1;
	randombytes_buf(l->sipkey, sizeof(l->sipkey));
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&l->locks[i], NULL);
	*out = l;
	return TS_OK;
}

void
ts_limiter_free(ts_limiter *l)
{
	if (!l)
		return;
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&l->locks[i]);
	free(l->slots);
	free(l);
}

/* Tokens in s brought up to now. */
static double
refilled(const ts_limiter *l, const rl_slot *s, int64_t now_us)
{
	double t = s->tokens + (double)(now_us - s->last_us) / 1e6 * l->rate;

	return t > l->burst ? l->burst : t;
}

/* The slot for key among its PROBE candidates: its own, else an empty one,
 * else the one that has refilled most (the least recently throttled), whose
 * client loses little by being forgotten. */
static rl_slot *
find_slot(ts_limiter *l, uint64_t key, size_t base, int64_t now_us)
{
	rl_slot *victim = NULL;
	double best = -1;

	for (size_t i = 0; i < PROBE; i++) {
		rl_slot *s = &l->slots[(base + i) & l->mask];
		if (s->key == key)
			return s;
		double t = s->key == 0 ? l->burst + 1 : refilled(l, s, now_us);
		if (t > best) {
			best = t;
			victim = s;
		}
	}
	victim->key = key;
	victim->tokens = l->burst;
	victim->last_us = now_us;
	return victim;
}

/* The slot of key, locked: *m gets the stripe lock to release. */
static rl_slot *
slot_lock(ts_limiter *l, const void *key, size_t keylen, int64_t now_us, pthread_mutex_t **m)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t k;
	size_t base;

	crypto_shorthash(h, key, keylen, l->sipkey);
	memcpy(&k, h, sizeof(k));
	k |= 1;   /* never 0, which marks an empty slot */
	/* Groups of PROBE slots never straddle two stripes. */
	base = (size_t)(k >> 8) & l->mask & ~(size_t)(PROBE - 1);
	*m = &l->locks[(base / PROBE) % STRIPES];
	pthread_mutex_lock(*m);
	rl_slot *s = find_slot(l, k, base, now_us);
	s->tokens = refilled(l, s, now_us);
	s->last_us = now_us;
	return s;
}

int
ts_limiter_take(ts_limiter *l, const void *key, size_t keylen, int64_t now_us)
{
	pthread_mutex_t *m;
	int wait = 0;

	if (!l)
		return 0;
	rl_slot *s = slot_lock(l, key, keylen, now_us, &m);
	if (l->rate <= 0) {
		/* off; read under the lock, as ts_limiter_set writes it */
	} else if (s->tokens >= 1) {
		s->tokens -= 1;
	} else {
		wait = (int)ceil((1 - s->tokens) / l->rate);
		if (wait < 1)
			wait = 1;
	}
	pthread_mutex_unlock(m);
	return wait;
}

void
ts_limiter_give(ts_limiter *l, const void *key, size_t keylen, int64_t now_us)
{
	pthread_mutex_t *m;

	if (!l)
		return;
	rl_slot *s = slot_lock(l, key, keylen, now_us, &m);
	if (l->rate > 0)
		s->tokens = s->tokens + 1 > l->burst ? l->burst : s->tokens + 1;
	pthread_mutex_unlock(m);
}

void
ts_limiter_set(ts_limiter *l, double rate, double burst)
{
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_lock(&l->locks[i]);
	l->rate = rate;
	l->burst = burst < 1 ? 1 : burst;
	for (int i = STRIPES - 1; i >= 0; i--)
		pthread_mutex_unlock(&l->locks[i]);
}
