/* Password hashing: argon2id in PHC string form (libsodium). */
#ifndef TS_PASSWORD_H
#define TS_PASSWORD_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define TS_PHC_MAX 128  /* crypto_pwhash_STRBYTES */

typedef struct ts_pw_cost {
	uint64_t opslimit;   /* t: passes */
	size_t memlimit;     /* bytes */
} ts_pw_cost;

/* OWASP's minimum for argon2id: m=19 MiB, t=2, p=1. */
#define TS_PW_COST_DEFAULT ((ts_pw_cost){ 2, 19u * 1024u * 1024u })

/* Hashes pw[0..len) into a PHC string (out: TS_PHC_MAX bytes). */
ts_err ts_pw_hash(const ts_pw_cost *c, const char *pw, size_t len, char out[TS_PHC_MAX])
	__attribute__((warn_unused_result));
/* TS_OK on a match, TS_E_BAD_CREDENTIALS on a mismatch, TS_E_INVALID when
 * phc is not an argon2 string we can check. Constant time in the password. */
ts_err ts_pw_verify(const char *phc, const char *pw, size_t len)
	__attribute__((warn_unused_result));
/* 1 if phc was made with a cost other than c (so it should be re-hashed). */
int ts_pw_needs_rehash(const char *phc, const ts_pw_cost *c);
/* A valid hash of a random password at cost c, made once at start-up: unknown
 * users are checked against it so they cost the same work as known ones. */
ts_err ts_pw_dummy(const ts_pw_cost *c, char out[TS_PHC_MAX]);

#endif
