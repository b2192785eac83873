/* Token buckets keyed by arbitrary bytes (a client address, an account),
 * in a fixed-size table: memory stays bounded however many keys an attacker
 * invents. Keys are hashed with a per-process random SipHash key so nobody
 * can aim collisions at a victim's bucket. */
#ifndef TS_RATELIMIT_H
#define TS_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

typedef struct ts_limiter ts_limiter;

/* slots: table size (rounded up to a power of two); rate: tokens added per
 * second; burst: bucket size. rate <= 0 disables the limiter. */
ts_err ts_limiter_new(unsigned slots, double rate, double burst, ts_limiter **out);
void ts_limiter_free(ts_limiter *l);
/* Takes one token for key at time now_us (monotonic). Returns 0 when
 * allowed, else the whole seconds until a token will be there (>= 1). */
int ts_limiter_take(ts_limiter *l, const void *key, size_t keylen, int64_t now_us);
/* Gives one token back to key's bucket (never past the burst): for an
 * attempt that was admitted and then turned out not to count. */
void ts_limiter_give(ts_limiter *l, const void *key, size_t keylen, int64_t now_us);
/* New rate and burst (SIGHUP), taken under every stripe's lock so no
 * take sees half of them; buckets keep their tokens (cut to the burst). */
void ts_limiter_set(ts_limiter *l, double rate, double burst);

#endif
