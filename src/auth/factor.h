/* Second factors as one table (OpenSSH's Authmethod idea): one file per
 * factor (factor_totp.c, factor_email.c, factor_recovery.c,
 * factor_webauthn.c), each exporting one const ts_factor_ops, and an engine
 * (factor.c) that runs a login challenge, an enrolment or a removal without
 * knowing which factor it runs. The engine owns every rule shared by all
 * factors (docs/FACTORS.md):
 *   - the challenge's one atomic attempt counter (secret_attempt, 5 tries
 *     whatever the factor and however many answers race) is claimed BEFORE
 *     verify is called, and the challenge is spent after verify succeeded;
 *   - the account's second-factor lock (mfa_lock.c) is checked before and
 *     counted after;
 *   - one audit event per success (mfa_passed) and failure (mfa_failed);
 *   - the session kind and the amr (RFC 8176) of the session it starts;
 *   - the tenant policy (which kinds are allowed, whether one is required).
 * A factor owns its own secret, its replay rule and its per-credential rows
 * (store.h, ts_factor). Faces (src/api) map names and errors only.
 *
 * Text crossing the face boundary for ceremonies (WebAuthn options,
 * PublicKeyCredential.toJSON()) is JSON text: the face parses the request
 * body and re-serialises the member, the factor parses and verifies it, and
 * the factor's output is JSON text the face embeds as it is. */
#ifndef TS_AUTH_FACTOR_H
#define TS_AUTH_FACTOR_H

#include <stddef.h>
#include <stdint.h>
#include "auth/auth.h"
#include "core/err.h"
#include "store/store.h"

/* The kinds a factor row (ts_factor.kind) may have. Stored as these
 * numbers: never renumber. A tenant's allowed set is a mask of
 * TS_FACTOR_BIT(kind) (ts_tenant.mfa_factors; 0 = TS_FACTOR_DEFAULT). */
typedef enum {
	TS_FACTOR_NONE = 0,
	TS_FACTOR_TOTP = 1,          /* "totp": RFC 6238 authenticator app */
	TS_FACTOR_EMAIL = 2,         /* "email": 6-digit code mailed per challenge (no row) */
	TS_FACTOR_RECOVERY = 3,      /* "recovery_code": a set of 10 single-use codes */
	TS_FACTOR_PASSKEY = 4,       /* "webauthn_passkey": discoverable, UV */
	TS_FACTOR_SECURITY_KEY = 5,  /* "webauthn_fido": a roaming security key */
	TS_FACTOR__COUNT
} ts_factor_kind;

#define TS_FACTOR_BIT(k) (1u << (unsigned)(k))
/* Kinds whose rows make a user "have a second factor" (login goes to a
 * challenge; the last one cannot be removed in an MFA-required tenant).
 * Recovery codes are a backup: offered only beside one of these. Email has
 * no row: it is offered at a challenge the user already has. */
#define TS_FACTOR_PRIMARY                                                     \
	(TS_FACTOR_BIT(TS_FACTOR_TOTP) | TS_FACTOR_BIT(TS_FACTOR_PASSKEY) |   \
	 TS_FACTOR_BIT(TS_FACTOR_SECURITY_KEY))

/* What a tenant allows when its policy names nothing: every kind but
 * email, which turns "a second factor" into "the mailbox" and must be
 * allowed by name. */
#define TS_FACTOR_DEFAULT                                                     \
	(TS_FACTOR_PRIMARY | TS_FACTOR_BIT(TS_FACTOR_RECOVERY))
/* The kinds t allows (its mask, or TS_FACTOR_DEFAULT). */
unsigned ts_factor_allowed(const ts_tenant *t);

/* Answers one login challenge may be judged on, whatever the factors. */
#define TS_FACTOR_TRIES 5

/* Properties of a factor (ts_factor_ops.flags). */
enum {
	TS_FACTOR_F_ROWLESS = 1 << 0, /* no ts_factor rows (email): never listed */
	TS_FACTOR_F_MANY = 1 << 1,    /* a user may hold several rows (WebAuthn) */
	TS_FACTOR_F_BACKUP = 1 << 2,  /* usable only beside a primary factor */
	TS_FACTOR_F_SLOW = 1 << 3,    /* verify may block (it mails): faces run it on a worker */
};

/* What the client answered at a challenge or an enrolment. Exactly one is
 * set: code for the typed factors (TOTP, email, recovery), credential for
 * WebAuthn (PublicKeyCredential.toJSON() as JSON text, credential_len
 * bytes, capped by the face's body limit). Both live during the call. */
typedef struct ts_factor_answer {
	const char *code;
	const char *credential;
	size_t credential_len;
	const char *name;            /* enrol_finish: the row's display name, NULL = default */
} ts_factor_answer;

/* What a factor hands back to the client: json is malloc'd JSON text (the
 * face embeds it: WebAuthn's publicKey options) or NULL; the caller frees
 * it with ts_factor_blob_free. expires_at: when what was begun ends (0 if
 * nothing). */
typedef struct ts_factor_blob {
	char *json;
	int64_t expires_at;
} ts_factor_blob;
void ts_factor_blob_free(ts_factor_blob *b);

/* Everything a factor is called with. Filled by the engine; the factor
 * reads it only. */
typedef struct ts_factor_ctx {
	ts_auth *a;
	const ts_user *user;         /* password_hash cleared */
	const ts_tenant *tenant;
	/* At a login challenge: its client handle (binds mailed codes and
	 * ceremonies to it) and its stored hash; both NULL otherwise
	 * (enrolment, listing, removal). */
	const char *challenge_id;
	const char *challenge_hash;
	/* At an enrolment: the bearer's session (binds the ceremony to it);
	 * NULL at a challenge. */
	const ts_session *session;
	/* Enrolment options the face passed on (WebAuthn: "passkey" or
	 * "security_key"); NULL when none. */
	const char *variant;
	int64_t now;
} ts_factor_ctx;

/* One row as the API shows it (GET /v1/mfa/factors). */
typedef struct ts_factor_info {
	char id[TS_ID_SZ];
	const char *method;          /* the factor's name (static) */
	char name[TS_FACTOR_NAME_MAX + 1];
	int64_t created_at;
	int64_t last_used_at;        /* 0 = never */
	int remaining;               /* recovery: unused codes; -1 when it does not apply */
} ts_factor_info;

/* One factor. Every function may be NULL where the factor has no such
 * step (the engine answers TS_E_MFA_NOT_ENROLLED / TS_E_INVALID then).
 * Return codes: those of the engine functions below; a wrong answer is
 * TS_E_MFA_INVALID (never anything that tells why: wrong, replayed,
 * unknown credential all look alike). */
typedef struct ts_factor_ops {
	ts_factor_kind kind;
	const char *name;            /* method name in every face: "totp", ... */
	const char *amr;             /* RFC 8176 values its success adds, space-separated */
	unsigned flags;              /* TS_FACTOR_F_* */

	/* 1 when the user can answer a challenge with this factor now (a
	 * confirmed row; for email: mail is configured). Store errors count
	 * as 0. */
	int (*usable)(const ts_factor_ctx *c);
	/* Starts an enrolment under a full or proven session (the engine has
	 * checked ts_auth_enroll_allowed). out: what the client needs (TOTP:
	 * {"secret","otpauth_uri"}; WebAuthn: the creation options; recovery:
	 * {"codes":[...]} and the set is already in force). */
	ts_err (*enrol_begin)(const ts_factor_ctx *c, ts_factor_blob *out);
	/* Completes it with the client's answer; out (may be NULL) gets the
	 * new or confirmed row. */
	ts_err (*enrol_finish)(const ts_factor_ctx *c, const ts_factor_answer *ans,
	                       ts_factor_info *out);
	/* Prepares a challenge answer for this factor (email: mails a code,
	 * voiding the last one; WebAuthn: request options with the user's
	 * credentials). The challenge is live when it is called. */
	ts_err (*challenge_begin)(const ts_factor_ctx *c, ts_factor_blob *out, int *retry_after);
	/* Judges an answer at a live challenge whose attempt the engine has
	 * claimed already. Applies the factor's replay rule atomically in the
	 * store (TOTP: last step; email: the code is consumed; recovery: the
	 * code is struck out; WebAuthn: the signature counter) and records
	 * last_used_at. used (may be NULL) gets the row that answered. */
	ts_err (*verify)(const ts_factor_ctx *c, const ts_factor_answer *ans, ts_factor *used);
	/* Fills out from a row of this kind (the engine has set id, method,
	 * name and times; the factor may adjust name and remaining). */
	void (*describe)(const ts_factor *row, ts_factor_info *out);
	/* Called after the engine deleted row (clean-up of what the factor
	 * keeps elsewhere); NULL when there is nothing. */
	void (*removed)(const ts_factor_ctx *c, const ts_factor *row);
} ts_factor_ops;

extern const ts_factor_ops ts_factor_totp;
extern const ts_factor_ops ts_factor_email;
extern const ts_factor_ops ts_factor_recovery;

/* The registry (factor.c): every factor this build has, in the order the
 * API lists methods. NULL-terminated. */
extern const ts_factor_ops *const ts_factor_table[];
/* By API name / by kind; NULL when this build has none. */
const ts_factor_ops *ts_factor_by_name(const char *name);
const ts_factor_ops *ts_factor_by_kind(ts_factor_kind k);

/* ---- the engine's calls, for faces ---- */

#define TS_FACTOR_METHODS_MAX TS_LOGIN_METHODS_MAX
_Static_assert(TS_FACTOR__COUNT <= TS_LOGIN_METHODS_MAX, "ts_login_ok.methods is too short");

/* The API names of the factors the user can answer a challenge with now,
 * in table order, allowed by the tenant's policy. *n may be 0 (then
 * ts_auth_password does not lead to a challenge). */
void ts_auth_factor_methods(ts_auth *a, const ts_user *u, const ts_tenant *t,
                            const char *names[TS_FACTOR_METHODS_MAX], int *n);

/* 1 when the user has a primary factor the tenant allows (a login leads
 * to a challenge). */
int ts_auth_factor_has_primary(ts_auth *a, const ts_user *u, const ts_tenant *t);

/* Prepares an answer by method for the live challenge challenge_id (email:
 * POST /v1/auth/mfa/email/send). TS_E_CHALLENGE_INVALID (unknown, spent,
 * expired, tries used up, disabled user), TS_E_MFA_NOT_ENROLLED (the user
 * cannot use method, or the tenant does not allow it), TS_E_RATE_LIMITED
 * (*retry_after), TS_E_MAIL_UNCONFIGURED, TS_E_EMAIL_SEND, store errors. */
ts_err ts_auth_factor_challenge_begin(ts_auth *a, const char *challenge_id, const char *method,
                                      ts_factor_blob *out, int *retry_after);

/* Answers challenge_id with method (POST /v1/auth/mfa/challenge): claims
 * one of the challenge's 5 tries atomically, lets the factor judge, spends
 * the challenge and starts a full session whose amr the engine sets
 * ("pwd" + the factor's amr). TS_E_CHALLENGE_INVALID, TS_E_MFA_INVALID,
 * TS_E_LOCKED (not judged; *retry_after), TS_E_MFA_NOT_ENROLLED, store
 * errors. u and t get the user and tenant on TS_OK. */
ts_err ts_auth_factor_answer(ts_auth *a, const char *challenge_id, const char *method,
                             const ts_factor_answer *ans, ts_tokens *out, ts_user *u,
                             ts_tenant *t, int *retry_after);

/* ts_auth_factor_answer without the session: the challenge is spent and u
 * filled on TS_OK (for faces that start their own, and the TOTP call of
 * auth.h). */
ts_err ts_auth_factor_judge(ts_auth *a, const char *challenge_id, const char *method,
                            const ts_factor_answer *ans, ts_user *u, int *retry_after);

/* Enrolment under a bearer (a full session, or a proven enrolment one):
 * variant as ts_factor_ctx.variant. TS_E_ENROLL_PROOF_REQUIRED,
 * TS_E_MFA_NOT_ENROLLED (the tenant does not allow method), TS_E_CONFLICT,
 * the factor's errors. */
ts_err ts_auth_factor_enrol_begin(ts_auth *a, const ts_principal *p, const char *method,
                                  const char *variant, ts_factor_blob *out);
ts_err ts_auth_factor_enrol_finish(ts_auth *a, const ts_principal *p, const char *method,
                                   const ts_factor_answer *ans, ts_factor_info *out,
                                   int *retry_after);

/* Calls cb for every factor row of p's user, oldest first. Full sessions
 * only (TS_E_FORBIDDEN otherwise). Non-zero from cb stops. */
typedef int (*ts_factor_info_cb)(void *arg, const ts_factor_info *f);
ts_err ts_auth_factor_list(ts_auth *a, const ts_principal *p, ts_factor_info_cb cb, void *arg);

/* How recent a token must be to remove a factor (seconds since the
 * session's last authentication: its created_at). */
#define TS_FACTOR_REAUTH_SECS 300

/* Removes one of p's factors (DELETE /v1/mfa/factors/{id}). TS_E_FORBIDDEN
 * for an enrolment session, TS_E_REAUTH_REQUIRED when the session is older
 * than TS_FACTOR_REAUTH_SECS, TS_E_NOT_FOUND (unknown, or another user's),
 * TS_E_LAST_FACTOR (the last primary factor of a user whose tenant
 * requires MFA; checked atomically with the delete). Audited. */
ts_err ts_auth_factor_remove(ts_auth *a, const ts_principal *p, const char *factor_id);
/* The same for an administrator (no reauth; the last-factor rule is not
 * applied: an operator may reset a user's factors). actor is logged. */
ts_err ts_auth_factor_admin_remove(ts_auth *a, const ts_user *u, const char *factor_id,
                                   const char *actor);

/* ---- the tenant's policy, for administrators (CLI, admin face) ---- */

/* "totp,email,..." (API names) to a mask of kinds; "default" or NULL is
 * 0 (TS_FACTOR_DEFAULT). TS_E_INVALID for an unknown name or an empty
 * list. */
ts_err ts_factor_mask_parse(const char *list, unsigned *mask);
/* Sets whether tenant slug requires a second factor and which kinds it
 * allows. TS_E_INVALID (a bad list, or required with no primary kind
 * allowed), TS_E_TENANT_UNKNOWN, store errors. */
ts_err ts_admin_tenant_mfa(ts_store *s, const char *slug, int required, const char *factors);

#endif
