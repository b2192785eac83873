/* Password hashing: argon2id in PHC string form (libsodium); verification
 * of the hashes other systems make, for users imported with them. */
#ifndef TS_PASSWORD_H
#define TS_PASSWORD_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define TS_PHC_MAX 128  /* crypto_pwhash_STRBYTES */
/* A stored hash, ours or imported (a Keycloak PBKDF2-SHA512 line is ~150). */
#define TS_PW_HASH_MAX 256

typedef struct ts_pw_cost {
	uint64_t opslimit;   /* t: passes */
	size_t memlimit;     /* bytes */
} ts_pw_cost;

/* OWASP's minimum for argon2id: m=19 MiB, t=2, p=1. */
#define TS_PW_COST_DEFAULT ((ts_pw_cost){ 2, 19u * 1024u * 1024u })

/* Hashes pw[0..len) into a PHC string (out: TS_PHC_MAX bytes). The
 * password is NFKC-normalised first (ts_pw_nfkc), as ts_pw_verify does for
 * argon2 strings, so a password typed in another Unicode form matches. */
ts_err ts_pw_hash(const ts_pw_cost *c, const char *pw, size_t len, char out[TS_PHC_MAX])
	__attribute__((warn_unused_result));
/* TS_OK on a match, TS_E_BAD_CREDENTIALS on a mismatch, TS_E_INVALID when
 * phc is not a hash we can check (ts_pw_hash_check). argon2 strings are
 * checked against the NFKC form of pw; the other systems' formats against
 * pw as typed (what those systems hashed). Constant time in the password;
 * costs bounded (ts_pw_hash_check). */
ts_err ts_pw_verify(const char *phc, const char *pw, size_t len)
	__attribute__((warn_unused_result));
/* Whether hash is one ts_pw_verify checks, well formed, with costs inside
 * the bounds (docs/ADMIN.md): TS_OK, or TS_E_INVALID with *why one of
 * "unknown_hash_format", "malformed_hash", "hash_cost_too_high" (static
 * strings). Formats: $argon2id$/$argon2i$ (PHC), $2a$/$2b$/$2y$ (bcrypt),
 * $6$ (sha512-crypt), $y$ (yescrypt), pbkdf2_sha256$/pbkdf2_sha512$
 * (Django), keycloak-pbkdf2-sha256$/keycloak-pbkdf2-sha512$ (Keycloak's
 * credential, one line), $scrypt$ln=,r=,p=$ (passlib). */
ts_err ts_pw_hash_check(const char *hash, const char **why);
/* The cost class of hash: its format and parameters without salt or
 * digest ("$2b$12", "pbkdf2_sha256$870000"), for the timing padding. */
void ts_pw_class(const char *hash, char *out, size_t cap);
/* NFKC (Unicode UAX #15) of UTF-8 pw[0..len) into *out (malloc'd, NUL
 * terminated, *out_len bytes); release it with ts_pw_nfkc_free, which wipes
 * it. TS_E_INVALID when pw is not UTF-8 (then *out is NULL). */
ts_err ts_pw_nfkc(const char *pw, size_t len, char **out, size_t *out_len)
	__attribute__((warn_unused_result));
void ts_pw_nfkc_free(char *p, size_t len);
/* 1 if phc was made with a cost other than c (so it should be re-hashed). */
int ts_pw_needs_rehash(const char *phc, const ts_pw_cost *c);
/* A valid hash of a random password at cost c, made once at start-up: unknown
 * users are checked against it so they cost the same work as known ones. */
ts_err ts_pw_dummy(const ts_pw_cost *c, char out[TS_PHC_MAX]);

#endif
