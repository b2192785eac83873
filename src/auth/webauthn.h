/* WebAuthn in the engine (factor_webauthn.c): passkeys and security keys
 * as two factors of the factor table (factor.h), and passwordless sign-in
 * with a passkey. The ceremonies follow WebAuthn Level 3 §7.1
 * (registration) and §7.2 (authentication) step by step; the byte formats
 * and signatures are crypto/webauthn.h's.
 *
 * Every ceremony has its own challenge: 32 random bytes, kept in the
 * secrets table (TS_SECRET_WEBAUTHN, under the hash of their base64url),
 * bound to the ceremony (registration of a kind under one session, the
 * second factor of one login challenge, or one passwordless sign-in), the
 * user and the tenant, valid TS_WA_CHALLENGE_TTL seconds and spent by the
 * first answer that names it, right or wrong. */
#ifndef TS_AUTH_WEBAUTHN_H
#define TS_AUTH_WEBAUTHN_H

#include "auth/auth.h"
#include "auth/factor.h"

#define TS_WA_CHALLENGE_LEN 32
#define TS_WA_CHALLENGE_TTL 300

/* "webauthn_passkey": a discoverable credential made with user
 * verification; good for passwordless sign-in and as a second factor.
 * "webauthn_fido": a security key, user presence only, second factor. */
extern const ts_factor_ops ts_factor_passkey;
extern const ts_factor_ops ts_factor_security_key;

/* The factor name of a registration kind ("passkey" | "security_key");
 * NULL for anything else. */
const char *ts_webauthn_method(const char *kind);

/* Request options for the second factor of the live login challenge
 * challenge_id (POST /v1/auth/mfa/webauthn/options): allowCredentials =
 * the user's credentials of the kinds the tenant allows. out->json is
 * the publicKey object. Errors as ts_auth_factor_challenge_begin. */
ts_err ts_auth_webauthn_mfa_options(ts_auth *a, const char *challenge_id, ts_factor_blob *out,
                                    int *retry_after);

/* Passwordless sign-in, step 1 (POST /v1/auth/passkey/options): a new
 * ceremony in the request's tenant (the default one when it names none);
 * id gets its handle, out->json the publicKey request options
 * (discoverable credentials: no allowCredentials; UV required). Counts as
 * a sign-in attempt of client_ip (rl_ip_*): TS_E_RATE_LIMITED with
 * *retry_after. TS_E_TENANT_UNKNOWN, TS_E_TENANT_CONFLICT, TS_E_NOT_FOUND
 * (no tenant named and no default), TS_E_MFA_NOT_ENROLLED (the tenant
 * does not allow passkeys), store errors. */
ts_err ts_auth_passkey_options(ts_auth *a, const ts_tenant_hints *h, const char *client_ip,
                               char id[TS_ID_SZ], ts_factor_blob *out, int *retry_after);

/* Step 2 (POST /v1/auth/passkey/login): credential is
 * PublicKeyCredential.toJSON() text. TS_OK starts a full session (amr
 * "hwk user mfa"). TS_E_MFA_INVALID for anything wrong: a handle that
 * names no live ceremony, an unknown credential or another tenant's, a bad
 * signature, challenge or origin, UV missing, a counter that went back
 * (the ceremony is spent by any answer that names its challenge),
 * TS_E_LOCKED (*retry_after), store errors. */
ts_err ts_auth_passkey_login(ts_auth *a, const char *challenge_id, const char *credential,
                             size_t credential_len, ts_tokens *out, ts_user *u, ts_tenant *t,
                             int *retry_after);

/* Completes a registration begun with ts_auth_factor_enrol_begin (POST
 * /v1/mfa/webauthn/register): the kind is the one the ceremony named in
 * its challenge. Errors as ts_auth_factor_enrol_finish; TS_E_MFA_INVALID
 * for a credential that fails §7.1, TS_E_CONFLICT for one registered
 * already. */
ts_err ts_auth_webauthn_register(ts_auth *a, const ts_principal *p, const ts_factor_answer *ans,
                                 ts_factor_info *out, int *retry_after);

#endif
