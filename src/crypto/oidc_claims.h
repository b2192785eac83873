/* The claims of the tokens Tessera issues as an OpenID Connect provider
 * (issue 11): access tokens (RFC 9068's claims: iss, sub, aud, client_id,
 * scope, jti, iat, exp) and ID tokens (OpenID Connect Core §2), to and
 * from JSON, beside jwt_claims.c, so the engine never sees JSON. */
#ifndef TS_OIDC_CLAIMS_H
#define TS_OIDC_CLAIMS_H

#include <stdint.h>
#include "core/err.h"

typedef struct ts_oidc_claims {
	char iss[320];
	char sub[64];
	char aud[64];                /* the client_id */
	char client_id[64];          /* access tokens only ("" in an ID token) */
	char scope[256];             /* access tokens only */
	char jti[64];
	char sid[64];                /* the session; "" for client_credentials */
	char nonce[256];             /* ID token: "" = none */
	char amr[32];                /* ID token: space-separated (RFC 8176) */
	char acr[16];                /* ID token: "" = none */
	char at_hash[64];            /* ID token: "" = none */
	char email[320];             /* ID token with the email scope: "" = none */
	int email_verified;
	int64_t auth_time;           /* ID token: 0 = none */
	int64_t iat;
	int64_t exp;
} ts_oidc_claims;

/* An access token's claims as compact JSON (what an empty field leaves
 * out is said above). TS_E_INTERNAL when it does not fit cap. */
ts_err ts_oidc_access_encode(const ts_oidc_claims *c, char *out, size_t cap);
/* An ID token's claims. */
ts_err ts_oidc_id_encode(const ts_oidc_claims *c, char *out, size_t cap);
/* Parses an access token's payload: iss, sub, aud (a string), client_id,
 * jti, iat and exp are required; scope and sid optional.
 * TS_E_TOKEN_INVALID when anything is off. */
ts_err ts_oidc_access_decode(const char *json, ts_oidc_claims *out);
/* Parses an ID token's payload (id_token_hint): iss, sub, aud, iat, exp
 * required; sid optional. */
ts_err ts_oidc_id_decode(const char *json, ts_oidc_claims *out);

#endif
