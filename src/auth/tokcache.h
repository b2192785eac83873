/* Tokens whose signature and claims have been verified, so a client that
 * presents the same access token again costs a hash lookup instead of an
 * ECDSA verification (~70 us here). Only what verification established is
 * kept (session, tenant, signing key, expiry); the session and the key are
 * still checked on every use, so revocation takes effect at once. Fixed size, direct-mapped: a
 * flood of new tokens only evicts, never grows memory. */
#ifndef TS_TOKCACHE_H
#define TS_TOKCACHE_H

#include <stdint.h>
#include "core/err.h"
#include "crypto/jwt.h"
#include "store/store.h"

typedef struct ts_tokcache ts_tokcache;

ts_err ts_tokcache_new(unsigned slots, ts_tokcache **out);
void ts_tokcache_free(ts_tokcache *c);
/* 1 and sid/tid/kid/exp filled when token was verified before and has not
 * expired at now; 0 otherwise. kid is the key that signed it: a hit is
 * good only while that key is (the caller checks; see ts_keys_trusted). */
int ts_tokcache_get(ts_tokcache *c, const char *token, int64_t now, char sid[TS_ID_SZ],
                    char tid[TS_ID_SZ], char kid[TS_KID_MAX], int64_t *exp);
void ts_tokcache_put(ts_tokcache *c, const char *token, const char *sid, const char *tid,
                     const char *kid, int64_t exp);

#endif
