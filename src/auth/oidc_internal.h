/* Private to the OpenID Connect files of src/auth (oidc.c, oidc_code.c). */
#ifndef TS_AUTH_OIDC_INTERNAL_H
#define TS_AUTH_OIDC_INTERNAL_H

#include "auth/oidc.h"

/* 32 hex characters of randomness (a jti). */
void ts_oidc_new_jti(char out[64]);
/* Each asked-for scope is one of the client's and none of refused; the
 * granted list (no repeats) into out. TS_E_OIDC_SCOPE otherwise. */
ts_err ts_oidc_scope_grant(const ts_oidc_client *c, const char *asked, const char *refused,
                           char *out, size_t cap);
/* A signed access token of client c for sub (a user, or the client),
 * session sid ("" for none), scope; out->access and out->expires_in. */
ts_err ts_oidc_access_issue(ts_auth *a, const char *iss, const ts_oidc_client *c,
                            const char *sub, const char *sid, const char *scope,
                            ts_oidc_tokens *out);

#endif
