/* Browser sessions: what the hosted pages (src/api/pages.c) and the OpenID
 * Connect pages sign a person in with. A browser session is an engine
 * session (the user's list of sessions shows it, signing out or a new
 * password ends it) reached through an opaque cookie value: 256 random
 * bits, base64url, kept only as its hash in the secrets table
 * (TS_SECRET_BROWSER), bound to the tenant, user and session. It has an
 * idle end (TS_BROWSER_IDLE_SECS after the last check, moved at most once
 * a minute) and an absolute one (the session's, session_ttl).
 *
 * It is never an API token: no face accepts a cookie as a bearer, and the
 * only way from a cookie to an API call is ts_browser_token, which the
 * pages call on a same-origin request only (docs/PAGES.md).
 *
 * Sign-in runs the engine's own steps: ts_auth_password (after
 * ts_auth_admit, as every face does), then, when the user has a second
 * factor, ts_auth_factor_judge on the challenge it opened; or passwordless
 * with a passkey (ts_auth_passkey_login). Only a finished sign-in makes a
 * cookie. */
#ifndef TS_AUTH_BROWSER_H
#define TS_AUTH_BROWSER_H

#include "auth/auth.h"
#include "auth/factor.h"
#include "crypto/hash.h"

/* The cookie's value: a secret text (crypto/hash.h). */
#define TS_BROWSER_COOKIE_LEN TS_SECRET_TEXT_LEN
/* Idle lifetime: a cookie not checked for this long is dead. */
#define TS_BROWSER_IDLE_SECS (30 * 60)
/* The idle end moves forward at most this often (a write per minute, not
 * per request). */
#define TS_BROWSER_SLIDE_SECS 60

/* A live browser session, as ts_browser_check finds it. */
typedef struct ts_browser {
	/* user (password_hash cleared), tenant, session (id, kind, amr,
	 * created_at = auth_time), scope: usable with the engine's calls
	 * that take a principal. */
	ts_principal p;
	char session_id[TS_ID_SZ];   /* = p.session.id */
	char amr[32];                /* = p.session.amr, RFC 8176 values */
	int64_t auth_time;           /* when the person last authenticated */
	int64_t expires_at;          /* the cookie's current end (idle or absolute) */
} ts_browser;

/* Where a password sign-in got to. */
typedef struct ts_browser_step {
	ts_login_ok login;           /* ts_auth_password's answer */
	/* TS_NEXT_MFA: the challenge to answer (ts_browser_mfa) with one of
	 * login.methods; "" otherwise. */
	char challenge_id[TS_ID_SZ];
	/* TS_NEXT_SESSION (full) and TS_NEXT_ENROLL (an enrolment-only
	 * session): the new cookie's value; "" otherwise. Wipe it after use. */
	char cookie[TS_BROWSER_COOKIE_LEN + 1];
	ts_browser b;                /* the session, when cookie is set */
	/* The answer must not leave before this (ts_auth_password_at), even
	 * when an error is returned. */
	int64_t not_before;
} ts_browser_step;

/* Step 1: the password (call ts_auth_admit first, on the connection
 * thread; this hashes: call it on a worker). Errors as ts_auth_password.
 * cl (may be NULL) is recorded in the session. */
ts_err ts_browser_password(ts_auth *a, const ts_login_req *req, const ts_client *cl,
                           ts_browser_step *out);

/* Step 2: the second factor at the challenge step 1 opened (methods and
 * answers as ts_auth_factor_judge; email and WebAuthn answers are
 * prepared with ts_auth_factor_challenge_begin /
 * ts_auth_webauthn_mfa_options). TS_OK makes a full session with amr "pwd
 * " + the factor's, and its cookie. Errors as ts_auth_factor_judge. */
ts_err ts_browser_mfa(ts_auth *a, const char *challenge_id, const char *method,
                      const ts_factor_answer *ans, const ts_client *cl,
                      char cookie[TS_BROWSER_COOKIE_LEN + 1], ts_browser *out,
                      int *retry_after);

/* Passwordless sign-in with a passkey: the ceremony was opened with
 * ts_auth_passkey_options. Errors as ts_auth_passkey_login. */
ts_err ts_browser_passkey(ts_auth *a, const char *challenge_id, const char *credential,
                          size_t credential_len, const ts_client *cl,
                          char cookie[TS_BROWSER_COOKIE_LEN + 1], ts_browser *out,
                          int *retry_after);

/* A cookie for a session the engine started already (session_id of u),
 * e.g. after a face of its own ran the factors. */
ts_err ts_browser_bind(ts_auth *a, const char *session_id, char cookie[TS_BROWSER_COOKIE_LEN + 1],
                       ts_browser *out);

/* Checks a cookie value. expect_tenant: the tenant the request names (NULL:
 * any); a cookie of another tenant is TS_E_TENANT_MISMATCH. Moves the idle
 * end. TS_E_TOKEN_INVALID (unknown or malformed), TS_E_TOKEN_EXPIRED
 * (idle or absolute end passed), TS_E_SESSION_REVOKED (signed out, a new
 * password, disabled user), store errors. */
ts_err ts_browser_check(ts_auth *a, const char *cookie, const ts_tenant *expect_tenant,
                        ts_browser *out);

/* Ends the cookie's session (and every token of it). TS_OK also for a
 * cookie that names nothing live, so signing out always works. */
ts_err ts_browser_end(ts_auth *a, const char *cookie);

/* A short-lived JWT access token of b's session (no refresh token), for
 * the pages' own scripts to call the JSON API with. The pages hand it out
 * only to a same-origin request (docs/PAGES.md). */
ts_err ts_browser_token(ts_auth *a, const ts_browser *b, ts_tokens *out);

#endif
