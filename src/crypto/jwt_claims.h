/* The JSON inside a JWT: our claims set and the JOSE header. Kept in the
 * crypto layer, beside the signature code, so the engine handles tokens as
 * typed structs and never sees JSON. */
#ifndef TS_JWT_CLAIMS_H
#define TS_JWT_CLAIMS_H

#include <stdint.h>
#include "core/err.h"

typedef struct ts_jwt_claims {
	char iss[256];
	char sub[64];
	char aud[128];
	char tid[64];
	char sid[64];
	char jti[64];
	char scope[16];
	char amr[32];              /* space-separated, e.g. "pwd otp" */
	int64_t iat;
	int64_t exp;
} ts_jwt_claims;

/* Writes the claims as compact JSON into out (capacity cap). */
ts_err ts_jwt_claims_encode(const ts_jwt_claims *c, char *out, size_t cap);
/* Parses a payload; every string claim above is required except amr and
 * scope, iat and exp must be integers, aud may be a string or an array of
 * strings (the first is kept). TS_E_TOKEN_INVALID when anything is off. */
ts_err ts_jwt_claims_decode(const char *json, ts_jwt_claims *out);
/* Parses the JOSE header: alg and kid are required strings, typ if present
 * must be "JWT", and a "crit" member is refused (RFC 7515 §4.1.11). */
ts_err ts_jwt_header_decode(const char *json, char *alg, size_t algsz, char *kid, size_t kidsz);

#endif
