/* Inside src/crypto: the stored-hash formats (pwforeign.c). */
#ifndef TS_CRYPTO_PW_INTERNAL_H
#define TS_CRYPTO_PW_INTERNAL_H

#include <stddef.h>
#include "core/err.h"

typedef enum {
	TS_PWF_UNKNOWN = 0,
	TS_PWF_ARGON2,            /* ours, or imported PHC */
	TS_PWF_BCRYPT,
	TS_PWF_SHA512CRYPT,
	TS_PWF_YESCRYPT,
	TS_PWF_DJANGO_PBKDF2,
	TS_PWF_KEYCLOAK_PBKDF2,
	TS_PWF_SCRYPT,
} ts_pw_format;

/* By prefix only (ts_pw_hash_check judges the rest). */
ts_pw_format ts_pw_format_of(const char *h);
/* ts_pw_verify for every format but argon2; pw as typed. */
ts_err ts_pw_verify_foreign(const char *h, const char *pw, size_t len);

#endif
