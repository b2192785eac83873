/* Tessera as an OpenID Connect provider (issue 11): the clients of each
 * tenant, managed under the administration rules of auth/admin.h (another
 * tenant's client is TS_E_NOT_FOUND; every change audited). Knows no HTTP
 * or JSON. docs/OIDC.md. */
#ifndef TS_AUTH_OIDC_H
#define TS_AUTH_OIDC_H

#include "auth/admin.h"
#include "crypto/jwt.h"
#include "crypto/oidc_claims.h"

/* What a client may ask for; anything else is refused. */
#define TS_OIDC_GRANTS "authorization_code refresh_token client_credentials"
#define TS_OIDC_SCOPES "openid email profile offline_access"
#define TS_OIDC_URIS_MAX 16          /* per list */
#define TS_OIDC_URI_MAX 512
/* Lifetime bounds (seconds) of what a client may set; 0 = the default. */
#define TS_OIDC_TTL_MIN 60
#define TS_OIDC_ACCESS_TTL_MAX 86400
#define TS_OIDC_REFRESH_TTL_MAX (90 * 86400)
#define TS_OIDC_ID_TTL_MAX 86400

/* A list given in a change: set 0 = unchanged. */
typedef struct ts_oidc_strs {
	int set;
	const char *const *v;
	int n;
} ts_oidc_strs;

/* A change of a client: NULL / set 0 leaves a field as it is. */
typedef struct ts_oidc_client_patch {
	const char *name;
	ts_oidc_strs redirect_uris, post_logout_uris, grant_types, scopes;
	int set_first_party, first_party;
	int set_access_ttl, set_refresh_ttl, set_id_ttl;
	int64_t access_ttl, refresh_ttl, id_ttl;
} ts_oidc_client_patch;

/* A new client of tenant slug. confidential: secret gets its secret
 * (256 random bits, base64url; shown once, only its hash is kept), else
 * secret is "". Defaults: grant authorization_code (with refresh_token),
 * scopes openid email profile; a confidential client may also have
 * client_credentials, a public one may not. TS_E_TENANT_UNKNOWN (also for
 * a tenant the actor may not see), TS_E_INVALID with *bad naming the
 * field. */
ts_err ts_admin_client_new(ts_auth *a, const ts_actor *who, const char *slug,
                           const ts_oidc_client_patch *p, int confidential,
                           char secret[TS_SECRET_TEXT_LEN + 1], ts_oidc_client *out,
                           const char **bad);
ts_err ts_admin_client_list(ts_auth *a, const ts_actor *who, const char *slug,
                            ts_oidc_client_cb cb, void *arg);
/* NOT_FOUND for a client of another tenant (or none). */
ts_err ts_admin_client_get(ts_auth *a, const ts_actor *who, const char *slug, const char *id,
                           ts_oidc_client *out);
ts_err ts_admin_client_set(ts_auth *a, const ts_actor *who, const char *slug, const char *id,
                           const ts_oidc_client_patch *p, ts_oidc_client *out,
                           const char **bad);
ts_err ts_admin_client_remove(ts_auth *a, const ts_actor *who, const char *slug,
                              const char *id);

/* ---- the provider (oidc.c) ---- */

#define TS_OIDC_ISS_MAX 320

/* The tenant slug names and its issuer, "<public-url>/t/<slug>" (one
 * issuer per tenant: a token of one tenant's issuer fails validation at
 * another's). TS_E_NOT_FOUND for no such tenant, or when the server has
 * no --public-url (an issuer must be an absolute URL we own; it is never
 * built from Host). */
ts_err ts_oidc_tenant(ts_auth *a, const char *slug, ts_tenant *t, char iss[TS_OIDC_ISS_MAX]);

/* Client authentication (RFC 6749 §2.3): client_id of tenant t with
 * secret (NULL when none was sent). A confidential client needs its
 * secret (compared in constant time, after the same hashing whether or
 * not the client exists); a public client must send none.
 * TS_E_OIDC_CLIENT for any failure (unknown, another tenant's, wrong or
 * missing secret), so the answer tells nothing about which. */
ts_err ts_oidc_client_auth(ts_auth *a, const ts_tenant *t, const char *client_id,
                           const char *secret, ts_oidc_client *out);

typedef struct ts_oidc_tokens {
	char access[TS_JWT_MAX];
	char refresh[TS_SECRET_TEXT_LEN + 1];   /* "" when none */
	char id_token[TS_JWT_MAX];              /* "" when none */
	char scope[TS_CLIENT_LIST_MAX];         /* granted */
	int64_t expires_in;
} ts_oidc_tokens;

/* RFC 6749 §4.4: an access token for client c itself (sub = client_id).
 * scope: space-separated, NULL or "" for none; each must be one of the
 * client's, and openid / offline_access are refused (there is no user,
 * and §4.4.3 gives no refresh token). TS_E_OIDC_UNAUTHORIZED when c may
 * not use client_credentials; TS_E_OIDC_SCOPE. */
ts_err ts_oidc_client_credentials(ts_auth *a, const ts_tenant *t, const char *iss,
                                  const ts_oidc_client *c, const char *scope,
                                  ts_oidc_tokens *out);

/* RFC 7662: whether token is a live access token of issuer iss: signed
 * by one of our keys, iss matching, not expired, its client still there
 * and of this tenant, not revoked, its session (if any) live. *active 0
 * for anything else (out zeroed). */
ts_err ts_oidc_introspect(ts_auth *a, const ts_tenant *t, const char *iss, const char *token,
                          int *active, ts_oidc_claims *out);

/* RFC 7009: revokes an access token of client c (a token of another
 * client, or no token of ours, is left alone: TS_OK all the same, §2.2). */
ts_err ts_oidc_revoke(ts_auth *a, const ts_tenant *t, const char *iss, const ts_oidc_client *c,
                      const char *token);

/* OpenID Connect Core §5.3: the user an active access token speaks for,
 * with the scopes it carries. TS_E_TOKEN_INVALID for a token that is not
 * active or has no user (client_credentials) or no openid scope. */
ts_err ts_oidc_userinfo(ts_auth *a, const ts_tenant *t, const char *iss, const char *token,
                        ts_oidc_claims *claims, ts_user *u);

/* ---- authorize (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2) ---- */

#define TS_OIDC_STATE_MAX 512
#define TS_OIDC_NONCE_MAX 128

/* The parameters of an authorization request (NULL = absent). */
typedef struct ts_oidc_authz_req {
	const char *client_id, *redirect_uri, *response_type, *scope, *state, *nonce;
	const char *code_challenge, *code_challenge_method, *prompt, *max_age, *login_hint;
	const char *response_mode;
	/* Ours, added to the return path after a sign-in that prompt=login
	 * asked for: a sign-in at or after this time satisfies it. */
	const char *login_after;
	int repeated;                /* a parameter was given twice (§3.1) */
} ts_oidc_authz_req;

typedef enum {
	/* The client or redirect URI cannot be trusted: show an error page,
	 * never redirect (RFC 6749 §4.1.2.1, no open redirect). */
	TS_AUTHZ_ERROR_PAGE = 0,
	/* Redirect to the (registered) redirect_uri with error, state, iss. */
	TS_AUTHZ_ERROR_REDIRECT = 1,
	/* A valid request: the person must sign in (again) first. */
	TS_AUTHZ_SIGN_IN = 2,
	/* A valid request of a signed-in person: issue the code. */
	TS_AUTHZ_CODE = 3,
	/* Signed in, but this client (not first-party) has no consent of
	 * the person for these scopes yet: ask (ts_oidc_consent_give). */
	TS_AUTHZ_CONSENT = 4,
} ts_oidc_authz_next;

typedef struct ts_oidc_authz {
	ts_oidc_authz_next next;
	const char *error;           /* static: RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6 code */
	const char *description;     /* static English */
	ts_oidc_client client;       /* set from ERROR_REDIRECT on */
	char scope[TS_CLIENT_LIST_MAX]; /* granted (SIGN_IN) */
	int prompt_none, prompt_login, prompt_consent;
	int64_t max_age;             /* -1 = none */
} ts_oidc_authz;

/* Judges an authorization request of tenant t. auth_time: when the person
 * (user_id, NULL when none) of the request's browser session signed in,
 * 0 when there is none. The
 * order is the specs': the client and its exact redirect URI first (else
 * ERROR_PAGE), then everything else is an error sent to that URI:
 * response_type (only "code"), the client's grant, scope (openid and only
 * the client's), PKCE (S256 only, required for a public client; "plain"
 * refused, RFC 7636 §4.2 / OAuth 2.0 Security BCP §2.1.1), prompt,
 * max_age, response_mode (only "query"). Then: without a session, or
 * when prompt=login or max_age asks for a fresher sign-in, SIGN_IN (with
 * prompt=none: login_required); a client not marked first-party without
 * the person's remembered consent to these scopes (or with
 * prompt=consent) is CONSENT (with prompt=none: consent_required); else
 * CODE. TS_OK with out->next, or a store error. */
ts_err ts_oidc_authorize(ts_auth *a, const ts_tenant *t, const ts_oidc_authz_req *req,
                         const char *user_id, int64_t auth_time, ts_oidc_authz *out);

/* Remembers that user_id allows client z->client the scopes z->scope (a
 * year; a later consent replaces it). */
ts_err ts_oidc_consent_give(ts_auth *a, const ts_tenant *t, const char *user_id,
                            const ts_oidc_authz *z);

/* A remembered consent, for the person's account page. */
typedef struct ts_oidc_consent {
	char client_id[TS_ID_SZ];
	char client_name[TS_CLIENT_NAME_MAX + 1];
	char scopes[TS_CLIENT_LIST_MAX];   /* the scopes allowed, space-separated */
	int64_t created_at;                /* when it was given */
} ts_oidc_consent;

typedef int (*ts_oidc_consent_cb)(void *arg, const ts_oidc_consent *c);   /* non-zero stops */

/* The live consents of the principal's user to the clients of its
 * tenant, in the order of the tenant's clients (client_list). Needs a
 * full session: TS_E_FORBIDDEN for an enrolment step. */
ts_err ts_oidc_consents(ts_auth *a, const ts_principal *p, ts_oidc_consent_cb cb, void *arg);

/* Withdraws the principal's user's consent to client_id (the next
 * authorize asks again) and ends the user's live grants of that client:
 * the sessions named "OpenID Connect: <client name>", so its refresh and
 * access tokens stop working. TS_E_NOT_FOUND when there is no live
 * consent (an unknown client, another tenant's); TS_E_FORBIDDEN for an
 * enrolment step. */
ts_err ts_oidc_consent_revoke(ts_auth *a, const ts_principal *p, const char *client_id);

/* ---- the code flow (oidc_code.c) ---- */

/* The ID token's acr values (docs/OIDC.md): a password only, or a second
 * factor or a passkey as well. Discovery lists both. */
#define TS_OIDC_ACR_PWD "1"
#define TS_OIDC_ACR_MFA "2"

#define TS_OIDC_CODE_TTL 60          /* seconds a code lives at most (--oidc-code-ttl) */

/* Issues a code for request q, judged by ts_oidc_authorize as z (next ==
 * TS_AUTHZ_CODE), for the person of browser session `browser` (a live
 * full session of t) who signed in at auth_time. The code (shown once; only its hash is kept) is
 * single use, lives cfg.oidc_code_ttl (at most TS_OIDC_CODE_TTL), and is bound to the client, the
 * exact redirect URI, the PKCE challenge, the nonce and the scope. */
ts_err ts_oidc_code_issue(ts_auth *a, const ts_tenant *t, const ts_oidc_authz_req *q,
                          const ts_oidc_authz *z, const ts_session *browser, int64_t auth_time,
                          char code[TS_SECRET_TEXT_LEN + 1]);

/* grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6) for the
 * authenticated client c: the access token, the ID token (iss, sub, aud,
 * exp, iat, auth_time, nonce, amr, acr, sid, at_hash; email claims with the
 * email scope) and, with offline_access asked for and the refresh_token
 * grant allowed, a refresh token. Each grant starts its own session
 * (sid), so ending it ends only this client's tokens. TS_E_OIDC_GRANT for
 * an unknown, expired or spent code, another client's, another redirect
 * URI, a wrong or missing verifier (or one without a challenge), or a
 * browser session that ended meanwhile; a code presented a second time
 * also ends the session the first use started (RFC 6749 §4.1.2). */
ts_err ts_oidc_code_exchange(ts_auth *a, const ts_tenant *t, const char *iss,
                             const ts_oidc_client *c, const char *code,
                             const char *redirect_uri, const char *verifier,
                             ts_oidc_tokens *out);

/* grant_type=refresh_token (RFC 6749 §6): rotates refresh (the old one
 * is spent; presenting a spent one again ends the session, the native
 * API's reuse rule) and issues a new access token. scope (may be NULL)
 * may only narrow the grant's. TS_E_OIDC_GRANT for an unknown, expired
 * or spent token, another client's (not spent by that attempt), or an
 * ended session; TS_E_OIDC_SCOPE. */
ts_err ts_oidc_refresh(ts_auth *a, const ts_tenant *t, const char *iss, const ts_oidc_client *c,
                       const char *refresh, const char *scope, ts_oidc_tokens *out);

/* ---- RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2) ---- */

typedef struct ts_oidc_logout {
	ts_oidc_client client;       /* id "" when none is known */
	int redirect;                /* post_logout_redirect_uri is registered: go there */
} ts_oidc_logout;

/* id_token_hint (may be NULL): an ID token we signed for issuer iss
 * (expired ones too, §2), whose client must be of t and agree with
 * client_id when both are given; its grant session (sid) is ended, with
 * every token it issued. post_logout_redirect_uri (may be NULL) is only
 * followed when it is exactly one of that client's. TS_E_INVALID for a
 * hint that is not ours, or disagrees (nothing ended). The browser
 * session is the caller's to end. */
ts_err ts_oidc_end_session(ts_auth *a, const ts_tenant *t, const char *iss,
                           const char *id_token_hint, const char *client_id,
                           const char *post_logout_uri, ts_oidc_logout *out);

/* 1 when word is one of the space-separated words of list. */
int ts_oidc_has_word(const char *list, const char *word);

#endif
