/* The login engine: tenants, password login, sessions, tokens, MFA. Knows
 * nothing of HTTP or JSON: each contract face (src/api) parses its request,
 * calls these functions and renders the result or the ts_err it returns.
 * Thread-safe: one ts_auth serves every thread at once. */
#ifndef TS_AUTH_H
#define TS_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/err.h"
#include "core/metrics.h"
#include "crypto/jwt.h"
#include "crypto/password.h"
#include "crypto/seal.h"
#include "store/store.h"

typedef struct ts_auth_config {
	const char *issuer;          /* JWT iss */
	const char *audience;        /* JWT aud; tokens for any other are refused */
	const char *default_tenant;  /* slug used when a request names none; may be NULL */
	ts_alg alg;                  /* algorithm of newly generated signing keys */
	int64_t access_ttl;          /* seconds */
	int64_t refresh_ttl;         /* idle lifetime of one refresh token */
	int64_t session_ttl;         /* absolute lifetime of a session */
	int64_t challenge_ttl;       /* MFA challenge, IAM auth token, email code */
	ts_pw_cost pw_cost;
	int lock_after;              /* failed logins before a temporary lock */
	int64_t lock_secs;
	int mfa_lock_after;          /* wrong second-factor answers before a lock; 0 = 10 */
	int64_t mfa_lock_secs;       /* 0 = 900 */
	const char *totp_issuer;     /* label shown in authenticator apps */
	double rl_ip_rate;           /* password attempts per second per client address */
	double rl_ip_burst;
	double rl_account_rate;      /* per account (tenant + email, existing or not) */
	double rl_account_burst;
	const char *smtp_url;        /* "smtp://host:port" or "smtps://..."; NULL or "" = no mail */
	const char *smtp_from;       /* envelope sender and From: of every mail */
	int64_t smtp_timeout;        /* seconds one delivery may take; 0 = 10 */
	const char *smtp_password;   /* SMTP AUTH password; NULL or "" = the url's */
	/* Required: seals signing keys and TOTP secrets at rest and keys the
	 * refresh successors (seal.h); copied. */
	const ts_kek *kek;
	/* Seconds after a refresh token was spent during which presenting it
	 * again gets the same successor (a lost answer, racing tabs); 0 =
	 * strict rotation: any second use is a reuse. */
	int64_t refresh_reuse_interval;
	/* The account life cycle (account.h). */
	const char *public_url;      /* base of mailed links; NULL or "" = none */
	int64_t verify_ttl;          /* mailed verification/invitation token; 0 = 24 h */
	int64_t reset_ttl;           /* mailed reset token; 0 = 30 min */
	int64_t oidc_code_ttl;       /* OpenID Connect authorization code; 0 = TS_OIDC_CODE_TTL */
	/* WebAuthn (auth/webauthn.h): the RP ID ("" or NULL = the issuer's
	 * host) and the origins clientDataJSON may name, comma-separated
	 * ("" or NULL = the issuer's origin); copied. */
	const char *webauthn_rp_id;
	const char *webauthn_origins;
	/* Slug of the operator tenant: its administrators manage every
	 * tenant through the admin API (issue 9); NULL or "": none. Copied. */
	const char *operator_tenant;
} ts_auth_config;

typedef struct ts_auth ts_auth;

/* Loads signing keys (making the first one if there is none) and the dummy
 * hash. store stays owned by the caller and must outlive *out. */
ts_err ts_auth_new(const ts_auth_config *cfg, ts_store *store, ts_auth **out);
void ts_auth_free(ts_auth *a);

/* The settings that can change while serving (SIGHUP), as in
 * ts_auth_config. */
typedef struct ts_auth_live {
	int lock_after;
	int64_t lock_secs;
	int mfa_lock_after;
	int64_t mfa_lock_secs;
	double rl_ip_rate, rl_ip_burst;
	double rl_account_rate, rl_account_burst;
	const char *smtp_url;        /* NULL or "" = no mail */
	const char *smtp_from;
	const char *smtp_password;
	int64_t smtp_timeout;
} ts_auth_live;

/* Applies live: requests already running finish with the old values
 * (a mail being sent keeps its mailer), later ones see all the new ones
 * together. TS_E_INVALID (nothing changed) when the mail settings do not
 * make a mailer. Thread-safe against every other call. */
ts_err ts_auth_reload(ts_auth *a, const ts_auth_live *live);

/* ---- login ---- */

typedef struct ts_login_req {
	const char *tenant_slug;     /* NULL when the request names none */
	const char *header_slug;     /* X-Tenant-Slug; NULL when absent */
	const char *host;            /* request Host, for domain resolution; may be NULL */
	const char *email;
	const char *password;
	size_t password_len;
	const char *client_ip;       /* for the audit log and rate limits */
	ts_metrics_face face;        /* which face asked: the logins metric's label */
} ts_login_req;

/* What a correct password leads to. */
typedef enum {
	TS_NEXT_SESSION,             /* no second factor needed: issue tokens */
	TS_NEXT_MFA,                 /* the user has a second factor: challenge */
	TS_NEXT_ENROLL,              /* the tenant requires one the user lacks */
} ts_login_next;

#define TS_LOGIN_METHODS_MAX 8

typedef struct ts_login_ok {
	ts_user user;                /* password_hash cleared */
	ts_tenant tenant;
	ts_login_next next;
	int has_totp;
	/* TS_NEXT_MFA: the factors the user can answer with (auth/factor.h,
	 * static names: "totp", "email", "recovery_code", ...). */
	const char *methods[TS_LOGIN_METHODS_MAX];
	int n_methods;
	const char *notices[4];      /* static texts: policy decisions taken */
	int n_notices;
} ts_login_ok;

/* Admission of a password attempt, cheap and run before any hashing (on the
 * connection thread): the per-address and per-account rate limits and the
 * account lock. TS_OK, or TS_E_RATE_LIMITED / TS_E_LOCKED with
 * *retry_after in seconds. A refused attempt counts as a failed one. Known
 * and unknown accounts are treated alike. */
ts_err ts_auth_admit(ts_auth *a, const ts_login_req *req, int *retry_after);

/* Checks email and password (the expensive part: call it on a worker).
 * Returns TS_OK with *out filled, or TS_E_BAD_CREDENTIALS (unknown tenant,
 * unknown user, wrong password or disabled account: indistinguishable, same
 * work), TS_E_NOT_VERIFIED (only after a correct password), TS_E_LOCKED,
 * TS_E_STORE_UNAVAILABLE, TS_E_INTERNAL. No session is created. */
ts_err ts_auth_password(ts_auth *a, const ts_login_req *req, ts_login_ok *out);
/* The same without the padding's sleep (pwtime.h): *not_before gets the
 * monotonic time (ts_mono_us) before which the caller must not answer, 0
 * when any time will do. For callers that can hold an answer without a
 * thread (the faces: ts_http_resp.not_before_us), so the worker that
 * hashed is free for the next hash meanwhile. */
ts_err ts_auth_password_at(ts_auth *a, const ts_login_req *req, ts_login_ok *out,
                           int64_t *not_before);

/* ---- tokens and sessions ---- */

enum { TS_ACCESS_JWT = 0, TS_ACCESS_OPAQUE = 1 };

typedef struct ts_tokens {
	char access[TS_JWT_MAX];
	int64_t access_expires_at;
	int64_t expires_in;
	char refresh[TS_SECRET_TEXT_LEN + 1];   /* "" when none was issued */
	char session_id[TS_ID_SZ];
	int scope;                   /* TS_SESSION_FULL or TS_SESSION_ENROLL */
} ts_tokens;

/* Starts a session for a user that has passed every factor and issues its
 * tokens. access_kind: TS_ACCESS_JWT or TS_ACCESS_OPAQUE. kind: a full
 * session, or an enrolment-only one (no refresh token). amr as in RFC 8176. */
ts_err ts_auth_start_session(ts_auth *a, const ts_user *u, int kind, const char *amr,
                             int access_kind, ts_tokens *out);
/* Who started a session, for the user's list of sessions; each may be
 * NULL. The user agent is kept truncated. */
typedef struct ts_client {
	const char *ip;
	const char *user_agent;
} ts_client;
/* ts_auth_start_session recording the client (cl may be NULL). */
ts_err ts_auth_start_session_client(ts_auth *a, const ts_user *u, int kind, const char *amr,
                                    int access_kind, const ts_client *cl, ts_tokens *out);

/* Rotates a refresh token: the old one is spent, a new pair comes back.
 * TS_E_TOKEN_INVALID (unknown/expired), TS_E_SESSION_REVOKED (the session
 * was ended: logout, disable, a new password; its tokens were spent by
 * that, which is no reuse), TS_E_TOKEN_REUSED (a spent token of a live
 * session: it leaked, and the whole session is revoked and a refresh_reuse
 * warning logged). u gets the user. */
ts_err ts_auth_refresh(ts_auth *a, const char *refresh, ts_tokens *out, ts_user *u, ts_tenant *t);
/* Forward declaration; see below. */
typedef struct ts_tenant_hints ts_tenant_hints;
/* ts_auth_refresh on a request: a token of a tenant other than the one the
 * request names (ts_auth_request_tenant, no default) is refused with
 * TS_E_TENANT_MISMATCH before it is spent; TS_E_TENANT_CONFLICT for
 * disagreeing hints. */
ts_err ts_auth_refresh_for(ts_auth *a, const char *refresh, const ts_tenant_hints *h,
                           ts_tokens *out, ts_user *u, ts_tenant *t);

/* Who a bearer token speaks for. */
typedef struct ts_principal {
	ts_user user;
	ts_tenant tenant;
	ts_session session;
	int scope;                   /* TS_SESSION_FULL | TS_SESSION_ENROLL */
	int64_t expires_at;
} ts_principal;

/* Checks a bearer token (JWT, or an opaque px0 token) and its session.
 * expect_tenant: the tenant the request names (NULL for none); a token of
 * another tenant gives TS_E_TENANT_MISMATCH. Returns TS_E_TOKEN_INVALID,
 * TS_E_TOKEN_EXPIRED, TS_E_SESSION_REVOKED as fits. */
ts_err ts_auth_check_token(ts_auth *a, const char *token, const ts_tenant *expect_tenant,
                           ts_principal *out);

/* What a request says about its tenant; each may be NULL or "". */
struct ts_tenant_hints {
	const char *body_slug;       /* tenant_slug in the body (native login) */
	const char *header_slug;     /* X-Tenant-Slug */
	const char *host;            /* Host; any case, port, brackets, trailing dot */
};

/* Decides the tenant of a request, the one rule for every face. A Host that
 * is a tenant's domain names that tenant; a Host that is none (an address)
 * names nothing. The slugs and the Host must agree: two slugs that differ,
 * or a slug other than the Host's tenant's, give TS_E_TENANT_CONFLICT
 * (compared as text, so the answer does not reveal which tenants exist).
 * Otherwise: the slug's tenant (TS_E_TENANT_UNKNOWN when there is none),
 * else (when use_default) the configured default, else TS_E_NOT_FOUND. */
ts_err ts_auth_request_tenant(ts_auth *a, const ts_tenant_hints *h, int use_default,
                              ts_tenant *out);
/* ts_auth_request_tenant with only a slug and a host. */
ts_err ts_auth_resolve_tenant(ts_auth *a, const char *slug, const char *host, int use_default,
                              ts_tenant *out);
/* A Host in the form tenant domains are stored in: ASCII lower case, no
 * port, no brackets around an IPv6 literal, no trailing dot. 0 when empty
 * or too long. */
int ts_host_normalize(const char *in, char out[TS_HOST_MAX + 1]);
/* An email as the store looks users up by (ts_user.email_norm): ASCII
 * lower-cased, so matching never depends on a locale or on the backend's
 * collation. 0 when NULL, empty or too long. */
int ts_email_norm(const char *in, char out[TS_EMAIL_MAX + 1]);

/* A bearer call: decides the request's tenant (no default) and checks the
 * token against it (ts_auth_check_token). TS_E_TENANT_CONFLICT for
 * disagreeing hints, TS_E_TENANT_MISMATCH when the request names a tenant
 * (even an unknown one) that is not the token's. */
ts_err ts_auth_bearer(ts_auth *a, const char *token, const ts_tenant_hints *h, ts_principal *out);

/* Longest origin kept: scheme, "://", a host and a port. */
#define TS_ORIGIN_MAX (8 + TS_HOST_MAX + 2 + 6)
/* An origin in the form the store keeps and browsers send: "http(s)://"
 * host[:port], lower case, without a trailing slash or the scheme's default
 * port. 0 for anything else ("null", "*", paths, userinfo). */
int ts_origin_normalize(const char *in, char out[TS_ORIGIN_MAX + 1]);
/* TS_OK when origin may call the API for the tenant the request names
 * (ts_auth_request_tenant with the default), TS_E_NOT_FOUND when it may
 * not or the request names no tenant, TS_E_TENANT_CONFLICT, store errors. */
ts_err ts_auth_cors_allowed(ts_auth *a, const ts_tenant_hints *h, const char *origin);

ts_err ts_auth_tenant_by_id(ts_auth *a, const char *id, ts_tenant *out);

/* Revokes the principal's session and every token of it. */
ts_err ts_auth_logout(ts_auth *a, const ts_principal *p);
/* Logout by refresh token, needing no live access token (RFC 7009's
 * spirit): the token's session ends, whether the token is current, spent
 * or expired. TS_OK too for a token that is no refresh token at all
 * (RFC 7009 §2.2), so the answer tells nothing about unknown tokens.
 * TS_E_TENANT_MISMATCH (nothing ended) when the request names another
 * tenant, TS_E_TENANT_CONFLICT, store errors. */
ts_err ts_auth_logout_refresh(ts_auth *a, const char *refresh, const ts_tenant_hints *h);

/* ---- MFA ---- */

/* Opens a login challenge for a user who passed the password step; id gets
 * the challenge's uuid (the client's handle). */
ts_err ts_auth_challenge_open(ts_auth *a, const ts_user *u, char id[TS_ID_SZ]);
/* Completes a challenge with a TOTP code: TS_OK fills *u (the user) and the
 * challenge is spent. A challenge allows 5 codes, counted atomically.
 * TS_E_CHALLENGE_INVALID (unknown, spent, expired, or too many wrong codes),
 * TS_E_MFA_INVALID (wrong code; counted against the account's second
 * factor), TS_E_LOCKED (too many wrong second-factor answers: the code was
 * not checked; *retry_after seconds), TS_E_MFA_NOT_ENROLLED. */
ts_err ts_auth_challenge_totp(ts_auth *a, const char *challenge_id, const char *code, ts_user *u,
                              int *retry_after);

/* Starts TOTP enrolment: a new unconfirmed secret (replacing any earlier
 * unconfirmed one). TS_E_ENROLL_PROOF_REQUIRED for an unproven enrolment
 * session (enroll.c); TS_E_CONFLICT when a confirmed one exists. uri is
 * malloc'd; the caller frees it. */
ts_err ts_auth_totp_begin(ts_auth *a, const ts_principal *p, char b32[64], char **uri);
/* Confirms enrolment with a first code. TS_E_ENROLL_PROOF_REQUIRED,
 * TS_E_MFA_INVALID (counted against the account's second factor),
 * TS_E_LOCKED (not checked; *retry_after), TS_E_MFA_NOT_ENROLLED. */
ts_err ts_auth_totp_confirm(ts_auth *a, const ts_principal *p, const char *code,
                            int *retry_after);
/* Checks a TOTP code for a user with confirmed TOTP (replays refused). */
ts_err ts_auth_totp_check(ts_auth *a, const ts_user *u, const char *code);
int ts_auth_user_has_totp(ts_auth *a, const ts_user *u);

/* ---- the enrolment proof (enroll.c) ----
 * In a tenant that requires MFA, a user without a factor gets an
 * enrolment-only session at login. It enrols nothing until it is proven
 * beyond the password: by a code mailed to the user's address, or by an
 * enrolment link an administrator issued. Full sessions need no proof. */

/* 1 for a full session, or an enrolment session that has been proven. */
int ts_auth_enroll_proven(const ts_session *s);
/* TS_OK, or TS_E_ENROLL_PROOF_REQUIRED for an unproven enrolment session. */
ts_err ts_auth_enroll_allowed(const ts_principal *p);
/* A static notice for an enrolment-only login: how to prove it here. */
const char *ts_auth_enroll_hint(ts_auth *a);
/* Mails a new 6-digit code (voiding any earlier one) for the enrolment
 * session p, valid challenge_ttl seconds (*expires_at), stored hashed and
 * bound to the session. Blocks for up to smtp_timeout: call it on a
 * worker. TS_E_FORBIDDEN for a full session, TS_E_MAIL_UNCONFIGURED when
 * no SMTP server is configured, TS_E_RATE_LIMITED (*retry_after seconds:
 * the per-account limit, rl_account_*, applies to these mails too, so a
 * password is no licence to flood the user's mailbox), TS_E_EMAIL_SEND,
 * store errors. */
ts_err ts_auth_enroll_mail_code(ts_auth *a, const ts_principal *p, int64_t *expires_at,
                                int *retry_after);
/* Checks a mailed code; TS_OK marks the session proven (amr gains "mca").
 * 5 codes per mailed code, counted atomically. TS_E_CHALLENGE_INVALID (no
 * live code: none sent, spent, expired, tries used up), TS_E_MFA_INVALID
 * (wrong; counted against the account's second factor), TS_E_LOCKED (not
 * checked; *retry_after), TS_E_FORBIDDEN (full session). */
ts_err ts_auth_enroll_verify_code(ts_auth *a, const ts_principal *p, const char *code,
                                  int *retry_after);
/* Redeems an administrator's enrolment link; TS_OK marks the session proven
 * (amr gains "link") and spends the link. TS_E_TOKEN_INVALID for an
 * unknown, spent, expired or another user's link; TS_E_FORBIDDEN (full). */
ts_err ts_auth_enroll_link_redeem(ts_auth *a, const ts_principal *p, const char *token);
/* After TOTP was confirmed under a proven enrolment session: ends it and
 * starts a full session (amr: the proofs given, plus "otp"). */
ts_err ts_auth_enroll_finish(ts_auth *a, const ts_principal *p, ts_tokens *out);

/* ---- signing keys ---- */

/* How stale a node's view of the signing keys may get: the store's key
 * version is checked at most this often (microseconds), on the request
 * that needs the keys, so a rotation or revocation reaches every node
 * within this (plus one store round trip). */
#define TS_KEYS_CHECK_US (500 * 1000)

typedef struct ts_jwk {
	char kid[TS_KID_MAX];
	const char *alg;             /* "ES256" | "EdDSA" */
	const char *kty;             /* "EC" | "OKP" */
	const char *crv;
	char x[64];
	char y[64];                  /* "" for OKP */
} ts_jwk;
typedef int (*ts_jwk_cb)(void *arg, const ts_jwk *k);
/* Calls cb for every published public key, newest first. */
ts_err ts_auth_jwks(ts_auth *a, ts_jwk_cb cb, void *arg);

/* Readiness (/readyz): TS_OK when the store answers, with *current its
 * schema version and *latest the newest this build knows (ready only when
 * they are equal); TS_E_STORE_UNAVAILABLE when it does not answer. */
ts_err ts_auth_ready(ts_auth *a, int *current, int *latest);

/* 1 when the store's calls are network round trips (store.h remote). */
int ts_auth_store_remote(const ts_auth *a);

/* ---- housekeeping (sweep.c) ----
 * What a run deletes, precisely (docs/ARCHITECTURE.md "Housekeeping"):
 *   - a secret of any kind, used or not, once grace seconds past its
 *     expires_at. A spent refresh token is kept that long so that its
 *     reuse still revokes its family for its whole lifetime and grace
 *     beyond (a refresh token's lifetime is the window in which a stolen
 *     one is worth detecting); after that it is unknown (invalid_token),
 *     and the family lives on. Once its session has ended the family is
 *     revoked already and nothing more can be detected;
 *   - every secret of a session that ended (revoked, or past its absolute
 *     expiry) more than retention seconds ago, then the session itself;
 *   - account and second-factor lock rows neither locked nor touched for
 *     retention seconds (their failure count starts again from 0);
 *   - per-account rate buckets untouched long enough to be full again.
 * Each class is deleted in statements of at most batch rows, at most
 * batches statements per class per run, so a run holds the store's write
 * lock for short bursts only. */
typedef struct ts_sweep_config {
	int interval;                /* seconds between runs; 0 = no sweep */
	int64_t grace;               /* seconds an expired secret is kept */
	int64_t retention;           /* seconds an ended session, idle lock is kept */
	int batch;                   /* rows per statement; 0 = 500 */
	int batches;                 /* statements per class per run; 0 = 4 */
	int64_t audit_retention;     /* seconds an audit row is kept; 0 = forever */
} ts_sweep_config;

typedef struct ts_sweep_counts {
	int held;                    /* this node held the lease and swept */
	int secrets_expired;
	int secrets_ended;
	int sessions;
	int locks;
	int buckets;
	int audit;                   /* audit rows past audit_retention */
} ts_sweep_counts;

/* One run at time now, as node (a per-process id): takes or renews the
 * lease (ttl: three intervals, at least 10 s), and sweeps only while it
 * holds it. Logs one "sweep" event with the counts when it swept. */
ts_err ts_auth_sweep(ts_auth *a, const ts_sweep_config *c, const char *node, int64_t now,
                     ts_sweep_counts *out);

/* A background thread that runs ts_auth_sweep every c->interval seconds
 * under a random node id. *out is NULL (and nothing runs) when the
 * interval is 0. Stop before freeing the engine. */
typedef struct ts_sweeper ts_sweeper;
ts_err ts_sweeper_start(ts_auth *a, const ts_sweep_config *c, ts_sweeper **out);
void ts_sweeper_stop(ts_sweeper *w);

/* ---- administration (CLI, admin faces) ---- */

#define TS_ADMIN_HOSTS_MAX 16

ts_err ts_admin_tenant_add(ts_store *s, const char *slug, int mfa_required, ts_tenant *out);
/* The tenant and its domains in one transaction (all or nothing). Each
 * host is normalised by ts_admin_host_normal first; TS_E_INVALID for a bad
 * slug or host, and *bad (may be NULL) gets the index of the bad host, or
 * -1 for the slug. TS_E_CONFLICT when the slug or a domain is taken.
 * At most TS_ADMIN_HOSTS_MAX hosts. */
ts_err ts_admin_tenant_create(ts_store *s, const char *slug, int mfa_required,
                              const char *const *hosts, int nhosts, ts_tenant *out, int *bad);
/* The same with self-service sign-up open (registration_open) or not. */
ts_err ts_admin_tenant_create_open(ts_store *s, const char *slug, int mfa_required,
                                   int registration_open, const char *const *hosts, int nhosts,
                                   ts_tenant *out, int *bad);
ts_err ts_admin_tenant_domain(ts_store *s, const ts_tenant *t, const char *host);
/* NOT_FOUND when the tenant has no such domain; TS_E_TENANT_UNKNOWN. */
ts_err ts_admin_tenant_domain_remove(ts_store *s, const char *tenant_slug, const char *host);
/* A Host-style name as a tenant domain: ASCII lower case, one trailing dot
 * dropped; letters, digits, '-' and '.' between non-empty labels only (no
 * port, path, user or space). TS_E_INVALID otherwise. */
ts_err ts_admin_host_normal(const char *host, char out[TS_HOST_MAX + 1]);
/* Validates the email and the tenant's password policy (ts_password_check,
 * auth/policy.h: TS_E_PASSWORD_POLICY, the caller asks it for the reason),
 * hashes at cost c, creates the user. */
ts_err ts_admin_user_add(ts_store *s, const ts_pw_cost *c, const char *tenant_slug,
                         const char *email, const char *password, size_t pwlen,
                         int verified, int admin, ts_user *out);
ts_err ts_admin_user_find(ts_store *s, const char *tenant_slug, const char *email, ts_user *out);
/* ts_admin_user_password keeping no session. */
ts_err ts_admin_user_set_password(ts_store *s, const ts_pw_cost *c, const ts_user *u,
                                  const char *password, size_t pwlen);
/* Sets a new password (policy as for user_add) and, in the same store
 * transaction, ends every session of the user (keep_session: one to keep,
 * NULL for none) and the login steps the old password opened: a password
 * set by any path ends the user's other sessions. *ended (may be NULL)
 * gets how many. */
ts_err ts_admin_user_password(ts_store *s, const ts_pw_cost *c, const ts_user *u,
                              const char *password, size_t pwlen, const char *keep_session,
                              int *ended);
/* Allows (add) or stops allowing (!add) a browser origin to call the API
 * for tenant t (CORS). TS_E_INVALID for a malformed origin, TS_E_CONFLICT
 * when already allowed, TS_E_NOT_FOUND when it was not. */
ts_err ts_admin_tenant_origin(ts_store *s, const ts_tenant *t, const char *origin, int add);
/* Clears the failure count and lock of an existing user's account, and the
 * user's second-factor lock. Locks are kept for unknown addresses too (so
 * failures do not reveal who exists), but an operator naming one is told:
 * TS_E_NOT_FOUND, and nothing is cleared (those records expire after
 * lock_secs). */
ts_err ts_admin_unlock(ts_store *s, const char *tenant_slug, const char *email);
/* Issues a single-use enrolment link for the user: token gets 256 random
 * bits as text (only its hash is stored), valid ttl seconds. TS_E_INVALID
 * (ttl), TS_E_TENANT_UNKNOWN, TS_E_NOT_FOUND (no such user), store errors. */
ts_err ts_admin_enroll_link(ts_store *s, const char *tenant_slug, const char *email, int64_t ttl,
                            char token[TS_SECRET_TEXT_LEN + 1], int64_t *expires_at);

/* Makes a new signing key, published at once (every node has it within
 * TS_KEYS_CHECK_US, 0.5 s) but signing only after activation_delay seconds
 * (rounded up to the next whole second; 0 = at once), so no token carries a
 * kid that a node or a JWKS cache (max-age 60 s) does not know yet: use a
 * delay of at least 61 s when clients cache the JWKS. Until then the
 * current signer goes on signing; then it is retired and stays published
 * until every token it signed has expired (activation + access_ttl). kid
 * gets the new id (may be NULL). */
ts_err ts_admin_keys_rotate(ts_store *s, const ts_kek *kek, ts_alg alg, int64_t access_ttl,
                            int64_t activation_delay, char kid[TS_KID_MAX]);
/* Kills a (compromised) key at once: it leaves the JWKS, verifies nothing,
 * and cached verifications of its tokens stop counting, on every node
 * within TS_KEYS_CHECK_US. When no other key can sign now (kid was the
 * signer), a new key of alg is made that signs at once and new_kid gets
 * its id (else ""): its first tokens may reach clients before their cached
 * JWKS has it, which is the lesser evil. TS_E_NOT_FOUND for an unknown
 * kid; revoking a revoked key again is TS_OK. */
ts_err ts_admin_keys_revoke(ts_store *s, const ts_kek *kek, const char *kid, ts_alg alg,
                            int64_t access_ttl, char new_kid[TS_KID_MAX]);
/* Secrets at rest (crypto/seal.h). Seals what a database from before
 * sealing holds in clear (private keys, TOTP secrets; logged once as
 * secrets_sealed) after checking that kek opens what is sealed already.
 * TS_E_SEAL when something is sealed under another key file (found gets
 * that key id) or a key of this one does not open (found = kek's id): the
 * caller must not go on. Safe to run on several nodes at once. */
ts_err ts_admin_seal_at_rest(ts_store *s, const ts_kek *kek, char found[TS_KEK_ID_LEN + 1]);
/* The key id the first sealed signing key names ("" when none is
 * sealed): whether a missing key file may be created. */
ts_err ts_admin_sealed_kek_id(ts_store *s, char found[TS_KEK_ID_LEN + 1]);
/* Moving signing keys between installations (keys_move.c). export writes
 * every key not revoked, one "key KID ALG CREATED RETIRED PUBLISH_UNTIL
 * ACTIVATE SEALED" line after a "tessera-keys 1" line, the private key
 * still sealed as stored (under kek, whose id the sealed text names): the
 * file alone signs nothing. *n gets the count. */
ts_err ts_admin_keys_export(ts_store *s, FILE *out, int *n);
/* Reads an export and adds its keys to s, sealed again under to. Each
 * key is opened with to (an export of this installation) or from (the
 * exporting one's key file; may be NULL). Every line is checked and
 * opened before any key is added: TS_E_INVALID (*line: the bad line),
 * TS_E_SEAL (a key that neither key file opens; *line names it). A kid
 * present already is left as it is (*present counts them, *added the
 * new ones). */
ts_err ts_admin_keys_import(ts_store *s, const ts_kek *to, const ts_kek *from, FILE *in,
                            int *added, int *present, int *line);

/* ==== Contract faces: access-only sessions, the IAM two-step login (iam.c)
 * and mailed one-time codes (email.c). ==== */

/* Starts a full session whose only token is the access token: no refresh
 * token is made and the session ends when the access token does. For faces
 * whose contract has no refresh (000 admin, 003 px0). access_kind:
 * TS_ACCESS_JWT or TS_ACCESS_OPAQUE. out->refresh is "". */
ts_err ts_auth_start_session_access(ts_auth *a, const ts_user *u, const char *amr,
                                    int access_kind, ts_tokens *out);

/* How the second step of an IAM login is proven. */
typedef enum {
	TS_IAM_NO_CODE = 0,          /* the auth token alone suffices */
	TS_IAM_TOTP = 1,             /* a code from the user's authenticator app */
	TS_IAM_EMAIL = 2,            /* a code mailed to the user's address */
} ts_iam_method;

typedef struct ts_iam_token {
	char token[TS_SECRET_TEXT_LEN + 1];   /* the client's handle; wipe after use */
	ts_iam_method method;
	int64_t expires_at;
} ts_iam_token;

/* IAM step 1, after ts_auth_password returned TS_OK for ok: issues a
 * single-use auth token, valid challenge_ttl seconds and stored hashed. The
 * method follows ok->next: a user with TOTP proves it with TOTP; a user
 * whose tenant requires MFA and who has none gets a mailed code (call
 * ts_auth_iam_mail_code next); otherwise no code. TS_E_NOMEM when the token
 * cannot be made; store errors when it cannot be saved. */
ts_err ts_auth_iam_token(ts_auth *a, const ts_login_ok *ok, ts_iam_token *out);

/* Makes a 6-digit code bound to the auth token t (stored hashed with it,
 * same expiry) and mails it to u's address. Blocks for up to smtp_timeout:
 * call it on a worker. TS_E_MAIL_UNCONFIGURED when no SMTP server is
 * configured (the code cannot be delivered); store errors when the code
 * cannot be saved; TS_E_EMAIL_SEND when the mail server cannot be reached or
 * refuses the mail. */
ts_err ts_auth_iam_mail_code(ts_auth *a, const ts_user *u, const ts_iam_token *t);

/* IAM step 2: checks the auth token and, when its method needs one, the
 * code (NULL or "" when none was sent), spends the token and starts a full
 * session with a JWT access token and a refresh token. A method with a code
 * allows 5 codes per token, counted atomically. Errors:
 * TS_E_CHALLENGE_INVALID (unknown, spent or expired token, codes used up, or
 * the account was disabled since step 1), TS_E_MFA_INVALID (code missing or
 * wrong; a wrong one counts against the account's second factor),
 * TS_E_LOCKED (too many wrong second-factor answers: not checked,
 * *retry_after seconds), store errors. u gets the user. */
ts_err ts_auth_iam_session(ts_auth *a, const char *auth_token, const char *code,
                           ts_tokens *out, ts_user *u, int *retry_after);
/* ts_auth_iam_session on a request (tenant.c): an auth token of another
 * tenant than the one the request names is TS_E_TENANT_MISMATCH before
 * anything is spent; TS_E_TENANT_CONFLICT for disagreeing hints. */
ts_err ts_auth_iam_session_for(ts_auth *a, const char *auth_token, const char *code,
                               const ts_tenant_hints *h, ts_tokens *out, ts_user *u,
                               int *retry_after);

#endif
