/* The account life cycle (issue 9): sign-up, address verification,
 * password reset and change, the user's own sessions, invitations. Mail
 * goes through the store's outbox (mail_put), in the same transaction as
 * the token it carries, and a sender thread delivers it (outbox.c), never
 * a request's thread.
 *
 * Tokens: 256 random bits (ts_secret_new), stored hashed in the secrets
 * table (TS_SECRET_VERIFY, TS_SECRET_RESET), single use, bound to their
 * tenant, user and purpose, expiring (verify_ttl, reset_ttl). A new token
 * voids the user's earlier one of its kind; a new password voids them all.
 * Each mail also carries a 6-digit code for a reader on another device:
 * the code together with the address (and tenant) redeems the same token.
 * It is stored as TS_SECRET_MAIL_CODE under a key derived from tenant,
 * address and purpose, holding hash(token hash : code) and the token's
 * hash; 5 guesses per mail, counted atomically (secret_attempt).
 *
 * No enumeration: register, resend and forgot do the same store work for
 * a known and an unknown address (a stand-in mail the sender deletes
 * unsent, with spent stand-in secrets), and register hashes the password
 * either way. */
#ifndef TS_AUTH_ACCOUNT_H
#define TS_AUTH_ACCOUNT_H

#include "auth/auth.h"
#include "auth/policy.h"
#include "core/err.h"
#include "store/store.h"

/* A self-service request: what it says about its tenant, the address,
 * and (register) the password. */
typedef struct ts_account_req {
	ts_tenant_hints hints;
	const char *email;
	const char *password;
	size_t password_len;
	const char *client_ip;       /* for the audit log; may be NULL */
} ts_account_req;

/* Sign-up, on a hashing worker (it hashes). TS_OK means "a mail is on its
 * way" whether the address was new (an unverified user and a verification
 * mail), already an unverified user's (its password is replaced, so a
 * stranger's earlier sign-up gains nothing, and a new verification mail
 * goes), or a verified user's ("you already have an account" mail).
 * TS_E_REGISTRATION_CLOSED (the tenant is closed, or unknown: the two
 * look alike), TS_E_PASSWORD_POLICY (*why), TS_E_MAIL_UNCONFIGURED,
 * TS_E_RATE_LIMITED (*retry_after), TS_E_TENANT_CONFLICT, store errors. */
ts_err ts_account_register(ts_auth *a, const ts_account_req *r, ts_pw_reason *why,
                           int *retry_after);
/* A new verification mail for an unverified user; TS_OK for any address
 * and tenant. TS_E_MAIL_UNCONFIGURED, TS_E_RATE_LIMITED, TS_E_TENANT_CONFLICT. */
ts_err ts_account_resend(ts_auth *a, const ts_account_req *r, int *retry_after);
/* A reset mail when the account exists (and is not disabled); TS_OK for
 * any address and tenant. Same errors as resend. */
ts_err ts_account_forgot(ts_auth *a, const ts_account_req *r, int *retry_after);

/* What redeems a mailed token: the token, or the code with the address
 * (the tenant from the hints, the default when they name none). */
typedef struct ts_account_redeem {
	ts_tenant_hints hints;
	const char *token;           /* NULL when the code is used */
	const char *email;
	const char *code;
} ts_account_redeem;

/* Verifies the address and answers like a password login (out->next:
 * tokens, an MFA challenge, or enrolment). TS_E_TOKEN_INVALID for an
 * unknown, spent, expired, other-purpose or other-tenant token, a wrong
 * code, or a disabled user. */
ts_err ts_account_verify(ts_auth *a, const ts_account_redeem *r, ts_login_ok *out);
/* Sets a new password with a reset (or invitation) token, on a hashing
 * worker. Ends every session of the user and every pending login step;
 * issues no tokens, so the next login asks for the second factor as
 * always. The address counts as verified. TS_E_TOKEN_INVALID,
 * TS_E_PASSWORD_POLICY (*why; the token is not spent). */
ts_err ts_account_reset(ts_auth *a, const ts_account_redeem *r, const char *password,
                        size_t password_len, ts_pw_reason *why);
/* A signed-in user's new password, on a hashing worker: the current one
 * must match (TS_E_BAD_CREDENTIALS; limited per account like logins:
 * TS_E_RATE_LIMITED), ends the user's other sessions. TS_E_FORBIDDEN for
 * an enrolment-only session. */
ts_err ts_account_change(ts_auth *a, const ts_principal *p, const char *current,
                         size_t current_len, const char *password, size_t password_len,
                         ts_pw_reason *why, int *retry_after);
/* The principal's user's live sessions, newest first. */
ts_err ts_account_sessions(ts_auth *a, const ts_principal *p, ts_session_cb cb, void *arg);
/* Ends one of the principal's user's sessions (the current one too).
 * TS_E_NOT_FOUND for an unknown session or another user's. */
ts_err ts_account_session_revoke(ts_auth *a, const ts_principal *p, const char *id);

/* Mails user u of tenant t an invitation: a single-use link to set a
 * first password (an account created by an administrator without one),
 * valid verify_ttl seconds; redeemed like a reset token.
 * TS_E_MAIL_UNCONFIGURED when no mail server is configured. */
ts_err ts_account_invite(ts_auth *a, const ts_tenant *t, const ts_user *u);

/* ---- the outbox sender (outbox.c) ---- */

typedef struct ts_outbox_config {
	int poll;                    /* seconds between checks; <= 0: 5 */
	int64_t retry;               /* first retry delay, doubling; <= 0: 30 */
} ts_outbox_config;

/* One pass at time now: claims the mails due (mail_claim) and delivers
 * each (a stand-in is deleted unsent); a delivered mail is deleted, an
 * undelivered one stays for its retry time. *sent (may be NULL) gets the
 * number delivered. */
ts_err ts_outbox_run(ts_auth *a, int64_t now, int64_t retry, int *sent);

/* A thread running ts_outbox_run every poll seconds, and at once when
 * this node queues a mail. *out is NULL (nothing runs) when mail is off.
 * Stop it after the last request is done and before freeing the engine. */
typedef struct ts_outbox ts_outbox;
ts_err ts_outbox_start(ts_auth *a, const ts_outbox_config *c, ts_outbox **out);
void ts_outbox_stop(ts_outbox *o);

#endif
