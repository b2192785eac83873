/* Digests, MACs, randomness and opaque secrets. */
#ifndef TS_HASH_H
#define TS_HASH_H

#include <stddef.h>
#include "core/err.h"

#define TS_SHA256_LEN 32
/* An opaque secret: 32 random bytes in base64url = 43 chars. */
#define TS_SECRET_TEXT_LEN 43
/* Stored form of a secret: hex SHA-256 = 64 chars. */
#define TS_SECRET_HASH_LEN 64

/* Initialises libsodium and liboath once (thread-safe, idempotent). Every
 * crypto function calls it itself, so callers need not; calling it early at
 * start-up just moves the one-time cost and surfaces a failure sooner.
 * TS_OK or TS_E_INTERNAL. */
ts_err ts_crypto_init(void) __attribute__((warn_unused_result));

void ts_sha256(const void *in, size_t n, unsigned char out[TS_SHA256_LEN]);
#define TS_SHA512_LEN 64
void ts_sha512(const void *in, size_t n, unsigned char out[TS_SHA512_LEN]);
void ts_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                    unsigned char out[TS_SHA256_LEN]);
void ts_random(void *buf, size_t n);
/* Constant-time equality of two n-byte buffers: 1 if equal. */
int ts_ct_eq(const void *a, const void *b, size_t n);

/* A new opaque secret (256 random bits, base64url); text holds 44 bytes. */
void ts_secret_new(char text[TS_SECRET_TEXT_LEN + 1]);
/* A new uuid-shaped opaque secret (all 128 bits random); text holds 37 bytes. */
void ts_secret_new_uuidlike(char text[37]);
/* The stored form of any secret text: lower-case hex SHA-256 (65 bytes). */
void ts_secret_hash(const char *text, size_t len, char out[TS_SECRET_HASH_LEN + 1]);
/* Overwrites n bytes in a way the compiler cannot drop. */
void ts_wipe(void *p, size_t n);

#endif
