/* The only way the core touches persistent data. A backend is a const table
 * of functions (like curl's vtls or SQLite's VFS): sqlite*.c and
 * postgres.c/pg_*.c, chosen by the DSN scheme in ts_store_open(). Both pass
 * the same conformance suite (tests/unit/test_store.c).
 *
 * Records are plain structs with fixed-size fields, so nothing a backend
 * returns needs freeing. Every function is safe to call from any thread at
 * once; a backend serialises or pools connections as it needs.
 * Times are seconds since the epoch. Ids are UUID text. Secrets are never
 * stored: callers pass the hex SHA-256 (ts_secret_hash) of each.
 *
 * Backend-neutral: a backend stores and compares exactly the text it is
 * given (byte-wise). Normalising (lower-casing emails and hosts) is the
 * engine's job, done before the call; lists come in the order stated per
 * op, never in a storage order (rowid, heap).
 *
 * Return codes common to every op: TS_OK; TS_E_STORE_UNAVAILABLE when the
 * database cannot be reached, times out, is locked past the busy timeout or
 * is read-only (nothing was changed, or the transaction was rolled back;
 * only a connection lost during COMMIT leaves the outcome unknown, as for
 * any client of a networked database);
 * TS_E_NOMEM; TS_E_INTERNAL for anything else (logged). Per op below:
 * TS_E_NOT_FOUND (absent row; also an unknown referenced row, e.g. an
 * unknown tenant_id on an insert that references tenants), TS_E_CONFLICT
 * (a unique clash), TS_E_INVALID (a value the schema refuses).
 * Every op is atomic: it happens entirely or not at all, and a multi-step
 * op is one transaction. A callback (tenant_list, tenant_domains, key_list,
 * lock_list) runs after the rows are read, with no store resource held, yet
 * it must not call the store (the engine's callers copy and then act). */
#ifndef TS_STORE_H
#define TS_STORE_H

#include <stdint.h>
#include "core/err.h"
#include "core/util.h"
#include "crypto/hash.h"
#include "crypto/password.h"

#define TS_ID_SZ (TS_UUID_LEN + 1)
#define TS_HASH_SZ (TS_SECRET_HASH_LEN + 1)
#define TS_TENANT_NAME_MAX 200

typedef struct ts_tenant {
	char id[TS_ID_SZ];
	char slug[TS_SLUG_MAX + 1];
	int mfa_required;            /* every user must have a second factor */
	int registration_open;       /* self-service sign-up allowed (issue 9) */
	int password_min_length;     /* 0 = the engine's default for the tenant */
	unsigned mfa_factors;        /* kinds allowed (mask of 1 << kind, auth/factor.h); 0 = all */
	int64_t created_at;
	char name[TS_TENANT_NAME_MAX + 1]; /* display name, "" when none (migration 8) */
} ts_tenant;

typedef struct ts_user {
	char id[TS_ID_SZ];
	char tenant_id[TS_ID_SZ];
	char email[TS_EMAIL_MAX + 1];    /* as given, for display and mail */
	char email_norm[TS_EMAIL_MAX + 1]; /* the lookup key: ts_email_norm(email) */
	char password_hash[TS_PW_HASH_MAX]; /* ours (PHC) or imported, "" when none */
	int is_verified;
	int is_admin;
	int is_disabled;
	int failed_logins;               /* consecutive failures */
	int64_t locked_until;            /* 0 when not locked */
	int64_t created_at;
} ts_user;

/* kind of session: full access, or only good to enrol a second factor */
enum { TS_SESSION_FULL = 0, TS_SESSION_ENROLL = 1 };

typedef struct ts_session {
	char id[TS_ID_SZ];
	char tenant_id[TS_ID_SZ];
	char user_id[TS_ID_SZ];
	int kind;                    /* TS_SESSION_* */
	char amr[32];                /* methods used, e.g. "pwd" or "pwd otp" */
	int64_t created_at;
	int64_t expires_at;          /* absolute end, refresh cannot pass it */
	int64_t revoked_at;          /* 0 when live */
	/* Client facts for the user's list of sessions (issue 9): set at
	 * creation; last_used_at moves at each refresh only (secret_rotate),
	 * so a bearer call costs no write. */
	int64_t last_used_at;
	char ip[64];                 /* "" when unknown */
	char user_agent[256];        /* truncated, "" when none */
} ts_session;

/* Opaque, hashed, expiring secrets of every kind share one table. */
typedef enum {
	TS_SECRET_REFRESH = 1,       /* refresh token: session_id set */
	TS_SECRET_ACCESS = 2,        /* opaque access token (px0): session_id set */
	TS_SECRET_AUTH_TOKEN = 3,    /* IAM step-1 token: user_id, data = state */
	TS_SECRET_MFA_CHALLENGE = 4, /* login challenge: user_id, data = state */
	TS_SECRET_EMAIL_OTP = 5,     /* emailed code: user_id, data = bound token */
	TS_SECRET_ENROLL_CODE = 6,   /* enrolment proof code: session_id, data = code hash */
	TS_SECRET_ENROLL_LINK = 7,   /* admin-issued enrolment link: tenant_id, user_id */
	TS_SECRET_VERIFY = 8,        /* mailed address-verification token: tenant_id, user_id */
	TS_SECRET_RESET = 9,         /* mailed password-reset (or invitation) token */
	TS_SECRET_MAIL_CODE = 10,    /* the 6-digit code of a mailed token: hash = the
	                              * account's code key, data = "CODEHASH TOKENHASH" */
	TS_SECRET_WEBAUTHN = 11,     /* WebAuthn challenge (hash of its base64url): tenant_id,
	                              * user_id ("" passwordless), session_id (registration),
	                              * data = the ceremony it is bound to (auth/webauthn.c) */
	TS_SECRET_BROWSER = 12,      /* browser session cookie (auth/browser.h): tenant_id,
	                              * user_id, session_id */
	/* OpenID Connect (issue 11; numbered apart so other branches' new
	 * kinds do not clash): */
	TS_SECRET_OIDC_REVOKED = 20, /* a revoked access token: hash of its jti, tenant_id,
	                              * data = client_id; expires with the token */
	TS_SECRET_OIDC_CODE = 21,    /* authorization code: tenant_id, user_id, session_id =
	                              * the browser session, data = its binding (oidc_code.c) */
	TS_SECRET_OIDC_GRANT = 22,   /* hash = the code's: session_id = the session the code
	                              * started, so a replayed code can end it */
	TS_SECRET_OIDC_REFRESH = 23, /* refresh token of a client: session_id = the grant's
	                              * session, data = client_id and scope */
	TS_SECRET_OIDC_CONSENT = 24, /* a consent given: hash of "consent|user|client",
	                              * tenant_id, user_id, data = client_id and scope bits */
} ts_secret_kind;

/* A mail waiting in the outbox (account.c renders it when it is sent). */
typedef enum {
	TS_MAIL_DISCARD = 0,         /* equal-cost stand-in for no account: deleted unsent */
	TS_MAIL_VERIFY = 1,
	TS_MAIL_RESET = 2,
	TS_MAIL_EXISTING = 3,        /* "you already have an account" */
	TS_MAIL_PW_CHANGED = 4,
	TS_MAIL_INVITE = 5,
} ts_mail_kind;

typedef struct ts_mail {
	char id[TS_ID_SZ];
	char tenant_id[TS_ID_SZ];
	char user_id[TS_ID_SZ];
	int kind;                    /* ts_mail_kind */
	char to[TS_EMAIL_MAX + 1];
	char data[512];              /* sealed by the engine (token, code), "" when none */
	int64_t created_at;
	int64_t next_attempt;        /* not claimed again before */
	int attempts;                /* claims so far */
} ts_mail;

typedef struct ts_secret {
	char hash[TS_HASH_SZ];       /* primary key together with kind */
	int kind;                    /* ts_secret_kind */
	char tenant_id[TS_ID_SZ];
	char user_id[TS_ID_SZ];
	char session_id[TS_ID_SZ];   /* "" when none */
	char data[256];              /* kind-specific state, "" when none */
	int64_t created_at;
	int64_t expires_at;
	int64_t used_at;             /* 0 until consumed */
} ts_secret;

typedef struct ts_signing_key {
	char kid[64];
	char alg[16];                /* "ES256" | "EdDSA" */
	char *private_pem;           /* sealed PEM (crypto/seal.h, kid as associated
	                              * data; clear in a database from before
	                              * sealing); see key_list for ownership */
	int64_t created_at;
	int64_t retired_at;          /* 0 = not retired; else stops signing then */
	int64_t publish_until;       /* 0 = forever; else drop from JWKS after */
	int64_t activate_at;         /* signs from then on (published before) */
	int64_t revoked_at;          /* 0 = live; else never published nor accepted */
} ts_signing_key;

typedef struct ts_totp {
	char user_id[TS_ID_SZ];
	/* The base32 secret, sealed by the engine (crypto/seal.h, the user id
	 * as associated data); a database from before sealing holds it in
	 * clear until the next start seals it. The store keeps the text. */
	char secret_b32[160];
	int confirmed;               /* 0 until the first code is accepted */
	int64_t last_step;           /* last accepted RFC 6238 time step */
	int64_t created_at;
} ts_totp;

/* One second factor of a user (auth/factor.h says what kind means). A
 * user may have several rows, of one kind or many. */
#define TS_FACTOR_NAME_MAX 64
#define TS_FACTOR_LOOKUP_MAX 1400    /* base64url of a 1023-byte credential id */
#define TS_FACTOR_DATA_MAX 4096
typedef struct ts_factor {
	char id[TS_ID_SZ];
	char tenant_id[TS_ID_SZ];
	char user_id[TS_ID_SZ];
	int kind;                    /* ts_factor_kind */
	char name[TS_FACTOR_NAME_MAX + 1]; /* display name, "" for none */
	/* A key the row is found by without its user (WebAuthn: the
	 * credential id), unique per (tenant, kind) when not "". */
	char lookup[TS_FACTOR_LOOKUP_MAX + 1];
	/* Kind-specific text; sealed by the engine where it is secret
	 * (TOTP), hashes where it is checked (recovery codes). */
	char data[TS_FACTOR_DATA_MAX];
	int confirmed;               /* 0 until enrolment is complete */
	int64_t counter;             /* replay guard: TOTP's last step, WebAuthn's sign count */
	int64_t created_at;
	int64_t last_used_at;        /* 0 = never */
} ts_factor;

/* Failed password attempts of one account key (tenant + lower-cased
 * email), whether or not the user exists. */
#define TS_LOCK_KEY_MAX 600
typedef struct ts_lock {
	char key[TS_LOCK_KEY_MAX];
	char tenant_id[TS_ID_SZ];
	char email[TS_EMAIL_MAX + 1];
	int failures;
	int64_t locked_until;        /* 0 = not locked */
	int64_t updated_at;
} ts_lock;

typedef struct ts_store ts_store;

/* What one sweep call deletes (rows whose time is before `before`):
 *   SECRETS_EXPIRED   secrets whose expires_at < before, any kind, used
 *                     or not (a spent refresh token past its own expiry
 *                     is refused as expired by the engine anyway);
 *   SECRETS_ENDED     secrets of sessions that ended before `before`
 *                     (revoked_at in (0, before), or expires_at < before);
 *   SESSIONS_ENDED    those sessions, once none of their secrets is left
 *                     (so no secret outlives its session);
 *   LOCKS             login_locks rows not locked at `before`
 *                     (locked_until < before) and untouched since
 *                     (updated_at < before);
 *   BUCKETS           rate buckets untouched since `before` (epoch ms):
 *                     full again, the same as absent. */
typedef enum {
	TS_SWEEP_SECRETS_EXPIRED = 0,
	TS_SWEEP_SECRETS_ENDED = 1,
	TS_SWEEP_SESSIONS_ENDED = 2,
	TS_SWEEP_LOCKS = 3,
	TS_SWEEP_BUCKETS = 4,
	TS_SWEEP_AUDIT = 5,          /* audit rows whose at < before (retention) */
} ts_sweep_class;

/* An API key (issue 9): acts as an administrator of its tenant. Only the
 * hash of the key is stored. */
#define TS_APIKEY_NAME_MAX 100
typedef struct ts_apikey {
	char id[TS_ID_SZ];
	char tenant_id[TS_ID_SZ];
	char name[TS_APIKEY_NAME_MAX + 1];
	char hash[TS_HASH_SZ];
	int64_t created_at;
	int64_t revoked_at;          /* 0 = live */
} ts_apikey;

/* One row of the append-only audit log. seq is given by the store
 * (ascending in insertion order across every node); data is a JSON
 * object of the event's other key/value pairs (no secret ever). */
#define TS_AUDIT_EVENT_MAX 48
#define TS_AUDIT_ACTOR_MAX 80
#define TS_AUDIT_DATA_MAX 1024
typedef struct ts_audit_rec {
	int64_t seq;
	int64_t at;                  /* epoch seconds */
	char event[TS_AUDIT_EVENT_MAX];
	char tenant[TS_SLUG_MAX + 1];  /* tenant slug, "" when none */
	char user_id[TS_ID_SZ];      /* "" when none */
	char actor[TS_AUDIT_ACTOR_MAX]; /* "user:ID", "apikey:ID", "cli", "" */
	char data[TS_AUDIT_DATA_MAX];
} ts_audit_rec;

/* What audit_list returns: rows matching every non-empty field, newest
 * first (seq descending), at most limit. */
typedef struct ts_audit_filter {
	const char *tenant;          /* slug or NULL */
	const char *user_id;
	const char *event;
	int64_t after;               /* at >= after; 0 = any */
	int64_t before_seq;          /* seq < before_seq; 0 = any (paging) */
	int limit;
} ts_audit_filter;

/* An OpenID Connect client of a tenant (issue 11; auth/oidc.h). Lists
 * of URIs, grant types and scopes are space-separated text (a URI has
 * no space), compared exactly by the engine. */
#define TS_CLIENT_NAME_MAX 100
#define TS_CLIENT_URIS_MAX 2048
#define TS_CLIENT_LIST_MAX 256
typedef struct ts_oidc_client {
	char id[TS_ID_SZ];           /* the client_id */
	char tenant_id[TS_ID_SZ];
	char name[TS_CLIENT_NAME_MAX + 1];
	char secret_hash[TS_HASH_SZ]; /* ts_secret_hash of the secret; "" = public client */
	char redirect_uris[TS_CLIENT_URIS_MAX];
	char post_logout_uris[TS_CLIENT_URIS_MAX];
	char grant_types[TS_CLIENT_LIST_MAX];
	char scopes[TS_CLIENT_LIST_MAX];
	int first_party;             /* no consent screen */
	int64_t access_ttl;          /* seconds; 0 = the server's default */
	int64_t refresh_ttl;
	int64_t id_ttl;
	int64_t created_at;
} ts_oidc_client;

typedef int (*ts_oidc_client_cb)(void *arg, const ts_oidc_client *c);   /* non-zero stops */
typedef int (*ts_tenant_cb)(void *arg, const ts_tenant *t);   /* non-zero stops */
typedef int (*ts_key_cb)(void *arg, const ts_signing_key *k); /* non-zero stops */
typedef int (*ts_lock_cb)(void *arg, const ts_lock *l);       /* non-zero stops */
typedef int (*ts_totp_cb)(void *arg, const ts_totp *t);       /* non-zero stops */
typedef int (*ts_factor_cb)(void *arg, const ts_factor *f);   /* non-zero stops */
typedef int (*ts_session_cb)(void *arg, const ts_session *s); /* non-zero stops */
typedef int (*ts_user_cb)(void *arg, const ts_user *u);       /* non-zero stops */
typedef int (*ts_apikey_cb)(void *arg, const ts_apikey *k);   /* non-zero stops */
typedef int (*ts_audit_cb)(void *arg, const ts_audit_rec *e); /* non-zero stops */

/* Whether ts_store_open may create a database that does not exist yet.
 * Only commands that start a deployment (serve, tenant add, db migrate)
 * create; the others would otherwise turn a mistyped path into an empty
 * store. On PostgreSQL "create" means the schema only: the database itself
 * must exist (Tessera never runs CREATE DATABASE). */
typedef enum {
	TS_STORE_CREATE = 0,   /* SQLite: make the file; both: create/migrate schema */
	TS_STORE_EXISTING = 1, /* the database and its schema must exist; migrates */
	TS_STORE_INSPECT = 2,  /* must exist; neither creates nor migrates (db status) */
} ts_store_mode;

typedef struct ts_store_ops {
	const char *scheme;          /* "sqlite", "postgres" */
	const char *alias;           /* another scheme for it ("postgresql"), or NULL */
	int whole_url;               /* open gets the whole URL, not what follows "scheme:" */
	/* dsn is the part after "scheme:" (or the whole URL, see whole_url).
	 * Migrates the schema; creates the database only with TS_STORE_CREATE
	 * (else TS_E_NOT_FOUND, with a ts_store_report naming the resolved
	 * location). A schema newer than this build: TS_E_INTERNAL, reported.
	 * PostgreSQL: the database itself must exist (Tessera never creates
	 * databases); CREATE may create the schema in an empty one, EXISTING
	 * requires it (NOT_FOUND otherwise), both migrate under an advisory
	 * lock. INSPECT: opens what is there, changes nothing. */
	/* 1 when a call is a network round trip (PostgreSQL): the server then
	 * runs every request that touches the store on its store pool, never
	 * on an event thread. 0 for a local file (SQLite), called inline. */
	int remote;
	ts_err (*open)(const char *dsn, ts_store_mode mode, ts_store **out);
	void (*close)(ts_store *s);
	/* Cheap liveness check (SELECT 1). */
	ts_err (*ping)(ts_store *s);
	/* Where the data lives, for messages: SQLite's absolute path (a
	 * relative --db is shown as resolved), PostgreSQL's
	 * "postgres://user@host:port/db"; never a credential. Lives as long
	 * as s. */
	const char *(*location)(ts_store *s);
	/* The schema version of the database and the newest this build knows
	 * (equal after a migrating open). Changes nothing. */
	ts_err (*schema_status)(ts_store *s, int *current, int *latest);

	/* Tenants. slug and every domain are unique (CONFLICT); domains are
	 * stored as given (the engine lower-cases them). */
	ts_err (*tenant_create)(ts_store *s, const ts_tenant *t);
	/* The tenant and its ndomains domains in one transaction: all or
	 * nothing (CONFLICT when the slug or any domain is taken). */
	ts_err (*tenant_create_with_domains)(ts_store *s, const ts_tenant *t,
	                                     const char *const *domains, int ndomains);
	/* CONFLICT when any tenant has host; NOT_FOUND for an unknown tenant;
	 * INVALID for "". */
	ts_err (*tenant_add_domain)(ts_store *s, const char *tenant_id, const char *host);
	/* NOT_FOUND when the tenant has no such domain. */
	ts_err (*tenant_remove_domain)(ts_store *s, const char *tenant_id, const char *host);
	/* Exact match; NOT_FOUND (out zeroed) when none. */
	ts_err (*tenant_by_slug)(ts_store *s, const char *slug, ts_tenant *out);
	ts_err (*tenant_by_domain)(ts_store *s, const char *host, ts_tenant *out);
	ts_err (*tenant_by_id)(ts_store *s, const char *id, ts_tenant *out);
	/* Every tenant, ordered by created_at then slug (byte order). */
	ts_err (*tenant_list)(ts_store *s, ts_tenant_cb cb, void *arg);
	/* Calls cb with each domain of a tenant in byte order; an unknown
	 * tenant has none (TS_OK, no call). */
	ts_err (*tenant_domains)(ts_store *s, const char *tenant_id,
	                         int (*cb)(void *arg, const char *host), void *arg);

	/* Users. (tenant_id, email_norm) is unique: CONFLICT; an unknown
	 * tenant_id: NOT_FOUND; an empty email_norm: INVALID. */
	ts_err (*user_create)(ts_store *s, const ts_user *u);
	/* Exact match on email_norm (the caller normalises). NOT_FOUND. */
	ts_err (*user_by_email)(ts_store *s, const char *tenant_id, const char *email_norm,
	                        ts_user *out);
	ts_err (*user_by_id)(ts_store *s, const char *id, ts_user *out);
	/* NOT_FOUND for an unknown id (both). */
	ts_err (*user_set_password)(ts_store *s, const char *id, const char *phc);
	ts_err (*user_set_flags)(ts_store *s, const char *id, int is_verified, int is_admin,
	                         int is_disabled);

	/* Sessions. create: CONFLICT on a taken id. */
	ts_err (*session_create)(ts_store *s, const ts_session *sess);
	/* A session with its user and tenant in one read (the bearer-check
	 * path runs it on every request). NOT_FOUND when any is missing. */
	ts_err (*session_principal)(ts_store *s, const char *id, ts_session *sess, ts_user *u,
	                            ts_tenant *t);
	/* One transaction: sets revoked_at (keeps an earlier one); also marks
	 * the session's unused secrets used, so none of them works again.
	 * NOT_FOUND for an unknown id. */
	ts_err (*session_revoke)(ts_store *s, const char *id, int64_t now);
	/* Sets the amr of a live session (a proof given after it started).
	 * NOT_FOUND when absent or revoked. */
	ts_err (*session_set_amr)(ts_store *s, const char *id, const char *amr);
	/* One transaction: revokes every live session of a user and their
	 * secrets; *n gets how many (0 for an unknown user, TS_OK). */
	ts_err (*user_sessions_revoke)(ts_store *s, const char *user_id, int64_t now, int *n);

	/* Secrets. put: CONFLICT when (kind, hash) exists. */
	ts_err (*secret_put)(ts_store *s, const ts_secret *sec);
	/* Reads without consuming; NOT_FOUND when absent (expiry is the
	 * caller's to judge from the record). */
	ts_err (*secret_get)(ts_store *s, int kind, const char *hash, ts_secret *out);
	/* secret_get and session_principal of its session in one read (a
	 * refresh needs both; one statement is one round trip, and on SQLite
	 * one read transaction). NOT_FOUND when the secret is absent; TS_OK
	 * otherwise, with sess->id "" (and *u, *t zeroed) when its session,
	 * the session's user or its tenant is missing. */
	ts_err (*secret_principal)(ts_store *s, int kind, const char *hash, ts_secret *out,
	                           ts_session *sess, ts_user *u, ts_tenant *t);
	/* Single use, atomic across threads and processes: sets used_at = now
	 * only if it was 0. TS_OK when this call consumed it; TS_E_TOKEN_REUSED
	 * when it had been consumed already (out is filled, so the caller can
	 * revoke the session); NOT_FOUND when absent. Expiry is the caller's. */
	ts_err (*secret_consume)(ts_store *s, int kind, const char *hash, int64_t now, ts_secret *out);
	/* Rotation in one transaction: consumes old_hash exactly as
	 * secret_consume does and, only if that succeeded, stores a fresh
	 * secret of the same kind, tenant, user and session with new_hash,
	 * created now and expiring at new_expires, and sets the session's
	 * last_used_at to now. Same returns. */
	ts_err (*secret_rotate)(ts_store *s, int kind, const char *old_hash, int64_t now,
	                        const char *new_hash, int64_t new_expires, ts_secret *out);
	/* Claims one of a secret's max attempts (a guess at a code), atomic
	 * across threads and processes: the count goes up only while it is
	 * below max and the secret is unused. TS_OK with *n the number of this
	 * attempt (1..max); NOT_FOUND when absent, spent, or every attempt is
	 * used. Expiry is the caller's. */
	ts_err (*secret_attempt)(ts_store *s, int kind, const char *hash, int max, int *n);
	/* Stores sec, replacing any secret of the same kind and hash; the
	 * replacement starts with no attempts and unused. */
	ts_err (*secret_replace)(ts_store *s, const ts_secret *sec);

	/* Signing keys. key_list calls cb for every key, newest first
	 * (created_at descending, then kid descending in byte order); the
	 * private_pem it passes lives only during the call. add: CONFLICT on
	 * a taken kid. */
	ts_err (*key_add)(ts_store *s, const ts_signing_key *k);
	/* Retires every unretired key but kid: retired_at = at (which may be
	 * in the future: the key signs until then), publish_until given. One
	 * transaction; NOT_FOUND when kid is unknown (nothing retired). */
	ts_err (*key_retire_others)(ts_store *s, const char *kid, int64_t at, int64_t publish_until);
	ts_err (*key_list)(ts_store *s, ts_key_cb cb, void *arg);
	/* Sets revoked_at = now (a repeat keeps the first time). NOT_FOUND for
	 * an unknown kid. */
	ts_err (*key_revoke)(ts_store *s, const char *kid, int64_t now);
	/* A number that changes whenever any signing key is added, changed or
	 * deleted (by any process): cheap enough to poll every request. */
	ts_err (*key_version)(ts_store *s, int64_t *out);
	/* Replaces a key's private_pem text, only if it still is old_text
	 * (compare-and-set, so two nodes sealing at once cannot clash).
	 * NOT_FOUND when no such kid holds old_text. Counts as a key change
	 * (key_version). */
	ts_err (*key_set_private)(ts_store *s, const char *kid, const char *old_text,
	                          const char *new_text);

	/* Factors (auth/factor.h). put: CONFLICT on a taken id or (tenant,
	 * kind, lookup) with a non-empty lookup; NOT_FOUND for an unknown
	 * user. replace: one transaction that deletes the user's rows of
	 * f->kind and inserts f (a new recovery set voids the old). */
	ts_err (*factor_put)(ts_store *s, const ts_factor *f);
	ts_err (*factor_replace)(ts_store *s, const ts_factor *f);
	/* By id, only when it is user_id's (NOT_FOUND otherwise). */
	ts_err (*factor_get)(ts_store *s, const char *user_id, const char *id, ts_factor *out);
	/* By (tenant, kind, lookup); NOT_FOUND. */
	ts_err (*factor_find)(ts_store *s, const char *tenant_id, int kind, const char *lookup,
	                      ts_factor *out);
	/* Every row of a user, oldest first (created_at, then id); kind 0 =
	 * every kind, else that kind only. The row lives during the call. */
	ts_err (*factor_list)(ts_store *s, const char *user_id, int kind, ts_factor_cb cb,
	                      void *arg);
	/* Deletes user_id's row id. keep_mask != 0: only when another
	 * confirmed row of the user whose kind is in keep_mask (bit 1 << kind)
	 * remains, judged atomically with the delete (two racing deletes of
	 * a user's last two such rows cannot both win): TS_E_CONFLICT, and
	 * nothing deleted, otherwise. NOT_FOUND when absent. */
	ts_err (*factor_delete)(ts_store *s, const char *user_id, const char *id,
	                        unsigned keep_mask);
	/* The replay guard, one statement: sets counter and last_used_at =
	 * now only when counter > the stored one; TS_E_TOKEN_REUSED when not
	 * (replay, or a WebAuthn counter that went back); NOT_FOUND. */
	ts_err (*factor_advance)(ts_store *s, const char *id, int64_t counter, int64_t now);
	/* Compare-and-set of data (a recovery code struck out): sets data =
	 * new_data and last_used_at = now only when data still is old_data.
	 * NOT_FOUND when no row id holds old_data. */
	ts_err (*factor_set_data)(ts_store *s, const char *id, const char *old_data,
	                          const char *new_data, int64_t now);
	/* last_used_at = now (a use with no counter). NOT_FOUND. */
	ts_err (*factor_touch)(ts_store *s, const char *id, int64_t now);
	/* Tenant policy: mfa_required and the allowed kinds. NOT_FOUND. */
	ts_err (*tenant_set_mfa)(ts_store *s, const char *tenant_id, int mfa_required,
	                         unsigned mfa_factors);

	/* TOTP, kept in the factors table (kind 1, secret in data, last step
	 * in counter): the ops below are views of it. One per user; put replaces an unconfirmed one and gives
	 * CONFLICT over a confirmed one. get/confirm/delete: NOT_FOUND. */
	ts_err (*totp_put)(ts_store *s, const ts_totp *t);
	ts_err (*totp_get)(ts_store *s, const char *user_id, ts_totp *out);
	ts_err (*totp_confirm)(ts_store *s, const char *user_id);
	/* Atomically records step as used if it is greater than last_step:
	 * TS_OK, or TS_E_TOKEN_REUSED when step <= last_step (replay);
	 * NOT_FOUND when the user has no factor. */
	ts_err (*totp_use_step)(ts_store *s, const char *user_id, int64_t step);
	ts_err (*totp_delete)(ts_store *s, const char *user_id);
	/* Calls cb for every TOTP row, by user id; the secret it passes lives
	 * only during the call. Make no store call from cb. */
	ts_err (*totp_list)(ts_store *s, ts_totp_cb cb, void *arg);
	/* Replaces secret_b32, only if it still is old_text (compare-and-set).
	 * NOT_FOUND when no such row holds old_text. */
	ts_err (*totp_set_secret)(ts_store *s, const char *user_id, const char *old_text,
	                          const char *new_text);

	/* Account locks. lock_fail counts one failure atomically: a lock
	 * that has run out starts a fresh count; reaching lock_after sets
	 * locked_until = now + lock_secs. out gets the row after the change.
	 * lock_get: NOT_FOUND. lock_clear: TS_OK whether or not there was one.
	 * lock_list: most recently updated first, then key in byte order. */
	ts_err (*lock_get)(ts_store *s, const char *key, ts_lock *out);
	ts_err (*lock_fail)(ts_store *s, const char *key, const char *tenant_id, const char *email,
	                    int64_t now, int lock_after, int64_t lock_secs, ts_lock *out);
	ts_err (*lock_clear)(ts_store *s, const char *key);
	ts_err (*lock_list)(ts_store *s, ts_lock_cb cb, void *arg);

	/* A new password, in one transaction: sets the hash and revokes every
	 * live session of the user but keep_session (NULL or "": none), their
	 * secrets and the user's pending login steps (auth tokens, MFA
	 * challenges, mailed codes). NOT_FOUND for no such user. *n gets the
	 * number of sessions ended. */
	ts_err (*user_set_password_revoke)(ts_store *s, const char *id, const char *phc,
	                                   const char *keep_session, int64_t now, int *n);

	/* Origins allowed to call the API for a tenant (CORS), exact
	 * "scheme://host[:port]" text. add: CONFLICT when present; remove:
	 * NOT_FOUND when absent; allowed: TS_OK or NOT_FOUND. */
	ts_err (*tenant_add_origin)(ts_store *s, const char *tenant_id, const char *origin);
	ts_err (*tenant_remove_origin)(ts_store *s, const char *tenant_id, const char *origin);
	ts_err (*tenant_origin_allowed)(ts_store *s, const char *tenant_id, const char *origin);

	/* ---- shared state for several nodes, and housekeeping ---- */

	/* Token bucket of key, shared by every process on the store, in ONE
	 * atomic statement: refills at rate tokens per second up to burst
	 * since the bucket was last touched (a clock that went back refills
	 * nothing), then takes one token if there is one. A new key starts
	 * full. *wait gets 0 when a token was taken, else the whole seconds
	 * until one will be there (>= 1). now_ms is wall-clock milliseconds
	 * (every node must agree on it). */
	ts_err (*bucket_take)(ts_store *s, const char *key, int64_t now_ms, double rate,
	                      double burst, int *wait);
	/* Gives one token back to key's bucket (refilled as above, never past
	 * burst), for an attempt that was admitted and turned out not to
	 * count. A missing bucket is left missing (it is full). One
	 * statement. */
	ts_err (*bucket_give)(ts_store *s, const char *key, int64_t now_ms, double rate,
	                      double burst);
	/* The housekeeping lease, one statement: takes it for node (a
	 * per-process id) until now + ttl when it is free, expired, or
	 * already node's (then it is renewed). *held gets 1 when node holds
	 * it after the call, else 0. */
	ts_err (*sweep_lease)(ts_store *s, const char *node, int64_t now, int64_t ttl, int *held);
	/* Deletes at most limit rows of one class, in one statement; *n gets
	 * how many (fewer than limit: the class is clean as of now). */
	ts_err (*sweep)(ts_store *s, ts_sweep_class what, int64_t before, int limit, int *n);
	/* Backup and restore of a store that is one file (SQLite); NULL for
	 * a store with its own tools (PostgreSQL: pg_dump and pg_restore,
	 * docs/OPERATIONS.md). why gets one line on failure.
	 * backup: a consistent copy (one read transaction: writers go on) at
	 * path, made 0600 as path.partial and renamed, so path is either the
	 * whole copy or untouched. TS_E_CONFLICT when path exists.
	 * restore: replaces the content with the copy at path in ONE write
	 * transaction (a crash leaves the old content, never half of each).
	 * TS_E_INVALID when path is not a Tessera database this build opens
	 * (quick_check, schema version); TS_E_CONFLICT when another process
	 * has the database open (*holder gets its pid, or -1 when not known):
	 * stop the servers first, whose caches would outlive the restore.
	 * (Every open SQLite store holds a shared lock saying so, also while
	 * its connections are idle-closed.) The schema is the
	 * copy's: reopen the store to migrate it. */
	ts_err (*backup)(ts_store *s, const char *path, char *why, size_t whylen);
	ts_err (*restore)(ts_store *s, const char *path, long *holder, char *why, size_t whylen);

	/* ---- bulk users (imports, exports) ---- */

	/* Inserts u[0..n) (n <= TS_USER_BATCH_MAX) in ONE transaction. A row
	 * whose (tenant_id, email_norm) is taken, in the store or earlier in
	 * u, is skipped and marked taken[i] = 1 (else 0); *created gets how
	 * many were inserted. Any other failure (an unknown tenant_id:
	 * NOT_FOUND; an empty email_norm: INVALID, checked first; a taken id:
	 * CONFLICT) rolls the whole call back: nothing inserted, *created 0. */
	ts_err (*user_create_many)(ts_store *s, const ts_user *u, int n, unsigned char *taken,
	                           int *created);
	/* Users of a tenant whose email_norm is byte-wise greater than after
	 * ("" for the first page), ascending by email_norm, at most max into
	 * out; *n gets how many (fewer than max: that was the last page). */
	ts_err (*user_page)(ts_store *s, const char *tenant_id, const char *after, ts_user *out,
	                    int max, int *n);

	/* ---- the account life cycle (issue 9) ---- */

	/* Live sessions of a user (revoked_at 0, expires_at > now), newest
	 * first (created_at descending, then id). An unknown user has none. */
	ts_err (*user_sessions_list)(ts_store *s, const char *user_id, int64_t now,
	                             ts_session_cb cb, void *arg);
	/* Enqueues mail m in one transaction with the secrets it carries
	 * (either may be NULL): token is inserted after every unused secret
	 * of its kind and user is marked used (a new token voids the one
	 * before; nothing is voided for user_id ""); code replaces any secret
	 * of its kind and hash (fresh attempts). CONFLICT on a taken mail id
	 * or token hash (nothing stored). */
	ts_err (*mail_put)(ts_store *s, const ts_mail *m, const ts_secret *token,
	                   const ts_secret *code);
	/* Claims up to max mails due at now (next_attempt <= now), oldest due
	 * first, atomically across processes (a mail is claimed by one caller
	 * only): each gets attempts + 1 and next_attempt = now + delay *
	 * 2^min(attempts before, 12), its retry time should this delivery
	 * fail (and its lease while it is tried). *n gets how many went to
	 * out. */
	ts_err (*mail_claim)(ts_store *s, int64_t now, int64_t delay, int max, ts_mail *out,
	                     int *n);
	/* Deletes a mail (sent, or not to be sent). NOT_FOUND when absent. */
	ts_err (*mail_delete)(ts_store *s, const char *id);

	/* ---- administration (issue 9) ---- */

	/* Sets slug, name, mfa_required, registration_open and
	 * password_min_length of tenant t->id. NOT_FOUND, CONFLICT (slug). */
	ts_err (*tenant_update)(ts_store *s, const ts_tenant *t);
	/* One transaction: the tenant and everything of it (domains, origins,
	 * users, their sessions, secrets, TOTP factors, locks, API keys,
	 * OpenID Connect clients).
	 * Without force: CONFLICT (nothing deleted) while it has users.
	 * NOT_FOUND for an unknown tenant. */
	ts_err (*tenant_delete)(ts_store *s, const char *tenant_id, int force);
	/* At most limit users of a tenant whose email_norm is greater (byte
	 * order) than after ("" = from the start), by email_norm. */
	ts_err (*user_scan)(ts_store *s, const char *tenant_id, const char *after, int limit,
	                    ts_user_cb cb, void *arg);
	/* One transaction: the user, their sessions, secrets and TOTP factor.
	 * NOT_FOUND. */
	ts_err (*user_delete)(ts_store *s, const char *id);
	/* NOT_FOUND; CONFLICT when another user of the tenant has email_norm;
	 * INVALID for an empty email_norm. */
	ts_err (*user_set_email)(ts_store *s, const char *id, const char *email,
	                         const char *email_norm);
	/* API keys. create: CONFLICT on a taken id or hash; NOT_FOUND for an
	 * unknown tenant. by_hash: NOT_FOUND (revoked ones are returned: the
	 * caller judges). list: tenant_id "" for every tenant, by created_at
	 * then id. revoke: sets revoked_at (keeps an earlier one); NOT_FOUND. */
	ts_err (*apikey_create)(ts_store *s, const ts_apikey *k);
	ts_err (*apikey_by_hash)(ts_store *s, const char *hash, ts_apikey *out);
	ts_err (*apikey_list)(ts_store *s, const char *tenant_id, ts_apikey_cb cb, void *arg);
	ts_err (*apikey_revoke)(ts_store *s, const char *id, int64_t now);
	/* Appends n rows in one transaction (their seq is ignored and given
	 * by the store). Rows are never changed; only the sweep removes them. */
	ts_err (*audit_append)(ts_store *s, const ts_audit_rec *recs, int n);
	ts_err (*audit_list)(ts_store *s, const ts_audit_filter *f, ts_audit_cb cb, void *arg);

	/* ---- OpenID Connect clients (issue 11) ---- */

	/* create: CONFLICT on a taken id; NOT_FOUND for an unknown tenant.
	 * get: by client_id, whatever the tenant (the engine judges);
	 * NOT_FOUND. list: the tenant's, by created_at then id. update: every
	 * field but id, tenant_id, secret_hash and created_at, of the row
	 * (c->id, c->tenant_id); NOT_FOUND. delete: the row of that tenant,
	 * NOT_FOUND otherwise. A deleted tenant's clients go with it. */
	ts_err (*client_create)(ts_store *s, const ts_oidc_client *c);
	ts_err (*client_get)(ts_store *s, const char *id, ts_oidc_client *out);
	ts_err (*client_list)(ts_store *s, const char *tenant_id, ts_oidc_client_cb cb, void *arg);
	ts_err (*client_update)(ts_store *s, const ts_oidc_client *c);
	ts_err (*client_delete)(ts_store *s, const char *tenant_id, const char *id);
} ts_store_ops;

#define TS_USER_BATCH_MAX 1000

/* Every store begins with this, so the generic calls below can dispatch. */
struct ts_store {
	const ts_store_ops *ops;
};

extern const ts_store_ops ts_store_sqlite;
extern const ts_store_ops ts_store_postgres;

/* url with any password replaced by "***" (URI user:PASS@ and keyword
 * password=PASS), for messages. */
void ts_store_redact(const char *url, char *out, size_t n);

/* Opens "sqlite:PATH" (or a bare path), creating it when missing, or
 * "postgres://...", "postgresql://...", "postgres:KEYWORDS" (libpq). */
ts_err ts_store_open(const char *url, ts_store **out);
/* The same with a mode: TS_STORE_EXISTING fails (TS_E_NOT_FOUND) when
 * there is no database yet, and creates nothing. */
ts_err ts_store_open_mode(const char *url, ts_store_mode mode, ts_store **out);
/* Why the last ts_store_open on this thread failed, one line ("" if unknown). */
const char *ts_store_open_error(void);
/* For backends: a problem worth telling. Inside ts_store_open it becomes
 * the open error (so a command-line tool prints one line, not two);
 * elsewhere it is logged as a "store_error" event. */
void ts_store_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ts_store_close(ts_store *s);

#endif
