/* Administration of customers (tenants), their users, API keys and the
 * audit log (issue 9): the rules written once, called by the admin API
 * (contract 000) and by the command line alike. Knows no HTTP or JSON.
 *
 * Who may do what (ts_admin_authorize decides the actor):
 *   - an administrator of the operator tenant (--operator-tenant), or an
 *     API key of it, manages every tenant;
 *   - an administrator (or API key) of another tenant manages only that
 *     tenant: another tenant's resources are TS_E_NOT_FOUND, never
 *     TS_E_PERMISSION, so they cannot be probed; creating or deleting a
 *     tenant is TS_E_PERMISSION;
 *   - the command line acts as the operator.
 * Every change is audited with its actor ("user:ID", "apikey:ID", "cli"). */
#ifndef TS_AUTH_ADMIN_H
#define TS_AUTH_ADMIN_H

#include "auth/auth.h"
#include "auth/policy.h"
#include "auth/factor.h"

typedef enum {
	TS_ACTOR_CLI = 0,            /* the command line: the operator */
	TS_ACTOR_USER = 1,           /* an administrator's bearer token */
	TS_ACTOR_APIKEY = 2,         /* an API key */
} ts_actor_kind;

typedef struct ts_actor {
	ts_actor_kind kind;
	char id[TS_ID_SZ];           /* user or API key id; "" for the CLI */
	ts_tenant tenant;            /* home tenant (zeroed for the CLI) */
	int operator;                /* manages every tenant */
	char label[TS_AUDIT_ACTOR_MAX]; /* the audit log's actor */
} ts_actor;

/* Length of an API key's text: "tsk_" and 256 random bits. */
#define TS_APIKEY_PREFIX "tsk_"
#define TS_APIKEY_TEXT_MAX (4 + TS_SECRET_TEXT_LEN + 1)

/* A minimal engine for the command line: the store, password hashing at
 * cost c and synchronous audit rows; no signing keys, mail or caches.
 * operator_tenant as in ts_auth_config (may be NULL).
 * Only the ts_admin_* functions may be called on it. */
ts_err ts_auth_new_admin(ts_store *store, const ts_pw_cost *c, const char *operator_tenant,
                         ts_auth **out);

/* The command line's actor. */
void ts_actor_cli(ts_actor *out);

/* Who a bearer credential speaks for: an API key, or an access token
 * (the admin token's JWT, a native access token) of an administrator.
 * TS_E_TOKEN_INVALID (none, unknown, revoked key), TS_E_TOKEN_EXPIRED,
 * TS_E_SESSION_REVOKED (401); TS_E_PERMISSION for a valid token of a
 * user who is not an administrator, or an enrolment-only session (403). */
ts_err ts_admin_authorize(ts_auth *a, const char *bearer, ts_actor *out);

/* ---- customers (tenants) ---- */

/* A change of settings: a NULL text or a set_* of 0 leaves it as is. */
typedef struct ts_tenant_patch {
	const char *slug;
	const char *name;
	int set_mfa, mfa_required;
	int set_registration, registration_open;
	int set_pw_min, password_min_length;
	int set_domains;
	const char *const *domains;
	int ndomains;
} ts_tenant_patch;

/* *bad_field (may be NULL) names the field refused with TS_E_INVALID. */
ts_err ts_admin_tenant_new(ts_auth *a, const ts_actor *who, const ts_tenant_patch *p,
                           ts_tenant *out, const char **bad_field);
ts_err ts_admin_tenant_get(ts_auth *a, const ts_actor *who, const char *slug, ts_tenant *out);
ts_err ts_admin_tenant_set(ts_auth *a, const ts_actor *who, const char *slug,
                           const ts_tenant_patch *p, ts_tenant *out, const char **bad_field);
/* TS_E_CONFLICT while the tenant has users (unless force); the operator
 * tenant cannot be deleted (TS_E_PERMISSION). */
ts_err ts_admin_tenant_remove(ts_auth *a, const ts_actor *who, const char *slug, int force);
/* Up to limit tenants the actor sees, by slug, after the slug `after`
 * ("" = first); *more is set when there are others after them. */
ts_err ts_admin_tenant_page(ts_auth *a, const ts_actor *who, const char *after, int limit,
                            ts_tenant_cb cb, void *arg, int *more);
/* Calls cb with each domain of t (byte order). */
ts_err ts_admin_tenant_domains(ts_auth *a, const ts_tenant *t,
                               int (*cb)(void *arg, const char *host), void *arg);

/* ---- users of a customer ---- */

/* Up to limit users of tenant slug by normalised email after `after`;
 * with email set, only that address (an exact search). *more as above. */
ts_err ts_admin_user_page(ts_auth *a, const ts_actor *who, const char *slug, const char *after,
                          const char *email, int limit, ts_user_cb cb, void *arg, int *more);
/* Creates a user. With a password (checked by ts_password_check: *why
 * gets the reason of a TS_E_PASSWORD_POLICY) it is hashed; without one
 * the user gets an invitation (ts_account_invite): *invite gets its
 * result (TS_OK, or e.g. TS_E_MAIL_UNCONFIGURED: the user exists, no mail
 * went out). TS_E_CONFLICT for a taken address. */
ts_err ts_admin_user_new(ts_auth *a, const ts_actor *who, const char *slug, const char *email,
                         const char *password, size_t pwlen, int verified, int admin,
                         ts_user *out, ts_pw_reason *why, ts_err *invite);
/* The user id of tenant slug (password hash cleared); NOT_FOUND. */
ts_err ts_admin_user_get(ts_auth *a, const ts_actor *who, const char *slug, const char *id,
                         ts_user *out);
/* By address (the command line names users so). */
ts_err ts_admin_user_lookup(ts_auth *a, const ts_actor *who, const char *slug, const char *email,
                            ts_user *out);

typedef struct ts_user_patch {
	const char *email;           /* NULL: unchanged */
	int set_verified, is_verified;
	int set_admin, is_admin;
	int set_disabled, is_disabled;
} ts_user_patch;

/* Disabling a user ends every session of theirs (*ended gets how many;
 * may be NULL). TS_E_CONFLICT for a taken address, TS_E_INVALID for a
 * malformed one. */
ts_err ts_admin_user_set(ts_auth *a, const ts_actor *who, const char *slug, const char *id,
                         const ts_user_patch *p, ts_user *out, int *ended);
/* Deletes the user with their sessions and factors. */
ts_err ts_admin_user_remove(ts_auth *a, const ts_actor *who, const char *slug, const char *id);
/* Lifts the password and second-factor locks of the user. */
ts_err ts_admin_user_unlock(ts_auth *a, const ts_actor *who, const char *slug, const char *id);
ts_err ts_admin_user_sessions_end(ts_auth *a, const ts_actor *who, const char *slug,
                                  const char *id, int *ended);
/* Sets a password (ts_password_check, *why) and ends the user's
 * sessions. */
ts_err ts_admin_user_new_password(ts_auth *a, const ts_actor *who, const char *slug,
                                  const char *id, const char *password, size_t pwlen,
                                  ts_pw_reason *why);

/* ---- import (auth/import.h) ----
 * Users with hashes made by other systems into tenant slug: what
 * ts_auth_import_users does, for an actor who may manage the tenant.
 * TS_E_INVALID when lines are bad and skip_bad is 0 (nothing imported;
 * out says which). Audited with the counts. */
struct ts_import_src;
struct ts_import_report;
ts_err ts_admin_users_import(ts_auth *a, const ts_actor *who, const char *slug,
                             const struct ts_import_src *src, int skip_bad,
                             struct ts_import_report *out);

/* ---- second factors (auth/factor.h: the factor table) ---- */

/* What the admin API shows of a factor (never its secret). */
#define TS_ADMIN_FACTORS_MAX 48      /* more than a user can have (32 WebAuthn + the rest) */
typedef struct ts_admin_factor {
	char id[TS_ID_SZ];
	char type[24];               /* the factor's API name: "totp", "webauthn_passkey"... */
	char name[TS_FACTOR_NAME_MAX + 1];
	int confirmed;
	int64_t created_at;
	int64_t last_used_at;
} ts_admin_factor;
/* Up to max factors of user u (every kind); *n gets how many. */
ts_err ts_admin_factor_list(ts_auth *a, const ts_user *u, ts_admin_factor *out, int max, int *n);
/* Removes factor fid of the user (no reauth, no last-factor rule: an
 * administrator's decision): NOT_FOUND when they have none such. */
ts_err ts_admin_factor_remove(ts_auth *a, const ts_actor *who, const char *slug,
                              const char *user_id, const char *fid);

/* ---- API keys ---- */

/* Makes a key for tenant slug: text gets it (shown once; only its hash
 * is kept). */
ts_err ts_admin_apikey_create(ts_auth *a, const ts_actor *who, const char *slug,
                              const char *name, char text[TS_APIKEY_TEXT_MAX], ts_apikey *out);
/* Keys of tenant slug (NULL: every tenant the actor sees). */
ts_err ts_admin_apikey_list(ts_auth *a, const ts_actor *who, const char *slug, ts_apikey_cb cb,
                            void *arg);
ts_err ts_admin_apikey_revoke(ts_auth *a, const ts_actor *who, const char *id);

/* The tenant slug names when who may see it, else NOT_FOUND (the same
 * answer as no such tenant): for the other admin resources (auth/oidc.h). */
ts_err ts_admin_visible_tenant(ts_auth *a, const ts_actor *who, const char *slug,
                               ts_tenant *out);

/* ---- audit log ---- */

/* f->tenant is a slug; an actor who is not the operator sees only their
 * tenant's rows (another tenant named: NOT_FOUND). Newest first. */
ts_err ts_admin_audit_list(ts_auth *a, const ts_actor *who, const ts_audit_filter *f,
                           ts_audit_cb cb, void *arg);

#endif
