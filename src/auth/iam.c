/* Contract 001's two-step login. Step 1 turns a correct password into a
 * short-lived, single-use auth token and, when the second factor is a mailed
 * code, mails one bound to that token. Step 2 turns the token (with the code
 * when one is needed) into a session. Only hashes of the token and the code
 * are stored; a code is only good together with its token. */
#include <stdio.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/email.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/hash.h"

#define IAM_CODE_TRIES 5         /* codes one auth token may be tried with */

static const char *
method_name(ts_iam_method m)
{
	switch (m) {
	case TS_IAM_NO_CODE:
		return "none";
	case TS_IAM_TOTP:
		return "totp";
	case TS_IAM_EMAIL:
		return "email";
	}
	return "none";
}

/* The method recorded in an auth token's data; -1 for anything else. */
static int
method_parse(const char *s, ts_iam_method *m)
{
	if (strcmp(s, "none") == 0)
		*m = TS_IAM_NO_CODE;
	else if (strcmp(s, "totp") == 0)
		*m = TS_IAM_TOTP;
	else if (strcmp(s, "email") == 0)
		*m = TS_IAM_EMAIL;
	else
		return -1;
	return 0;
}

ts_err
ts_auth_iam_token(ts_auth *a, const ts_login_ok *ok, ts_iam_token *out)
{
	ts_secret sec;
	int64_t now = ts_now();
	ts_err r;

	memset(out, 0, sizeof(*out));
	switch (ok->next) {
	case TS_NEXT_SESSION:
		out->method = TS_IAM_NO_CODE;
		break;
	case TS_NEXT_MFA:
		out->method = TS_IAM_TOTP;
		break;
	case TS_NEXT_ENROLL:
		/* The tenant wants a second factor and the user has none: the
		 * mailbox serves as one, the same proof beyond the password that
		 * an enrolment session needs before it may enrol (enroll.c). */
		out->method = TS_IAM_EMAIL;
		break;
	}
	memset(&sec, 0, sizeof(sec));
	ts_secret_new(out->token);
	ts_secret_hash(out->token, strlen(out->token), sec.hash);
	sec.kind = TS_SECRET_AUTH_TOKEN;
	ts_strlcpy(sec.tenant_id, ok->user.tenant_id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, ok->user.id, sizeof(sec.user_id));
	ts_strlcpy(sec.data, method_name(out->method), sizeof(sec.data));
	sec.created_at = now;
	sec.expires_at = now + a->cfg.challenge_ttl;
	if ((r = SOPS(a)->secret_put(ST(a), &sec)) != TS_OK) {
		ts_wipe(out->token, sizeof(out->token));
		return r;
	}
	out->expires_at = sec.expires_at;
	ts_log_event(TS_LOG_INFO, "iam_token_issued", "user", ok->user.id, "tenant",
	             ok->tenant.slug, "method", method_name(out->method), NULL);
	return TS_OK;
}

/* The mailed code is factor_email.c's, bound to the auth token (which is
 * not stored): it cannot be tried without the token. */
ts_err
ts_auth_iam_mail_code(ts_auth *a, const ts_user *u, const ts_iam_token *t)
{
	return ts_mail_code_send(a, u, t->token, t->expires_at, "Your sign-in code",
	                         "Your sign-in code is");
}

/* An auth token as ts_secret_new makes them: 43 base64url characters. */
static int
token_shape_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];
		if (n >= TS_SECRET_TEXT_LEN ||
		    !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return n == TS_SECRET_TEXT_LEN;
}

/* Claims one of the token's IAM_CODE_TRIES code attempts with one atomic
 * store op, so parallel guesses cannot exceed the budget.
 * TS_E_CHALLENGE_INVALID when all are used. */
static ts_err
claim_try(ts_auth *a, const ts_secret *tok, int *n)
{
	ts_err r = SOPS(a)->secret_attempt(ST(a), TS_SECRET_AUTH_TOKEN, tok->hash, IAM_CODE_TRIES, n);

	return r == TS_E_NOT_FOUND ? TS_E_CHALLENGE_INVALID : r;
}

/* Judges the code for method m. */
static ts_err
judge_code(ts_auth *a, const ts_secret *tok, ts_iam_method m, const char *auth_token,
           const char *code, const ts_user *u, int64_t now)
{
	ts_err r;

	switch (m) {
	case TS_IAM_NO_CODE:
		return TS_OK;
	case TS_IAM_TOTP:
		r = ts_auth_totp_check(a, u, code);
		/* TOTP removed since step 1: that token cannot be completed. */
		return r == TS_E_MFA_NOT_ENROLLED ? TS_E_CHALLENGE_INVALID : r;
	case TS_IAM_EMAIL:
		(void)tok;
		return ts_mail_code_check(a, auth_token, code, now);
	}
	return TS_E_INTERNAL;
}

/* Checks the second factor the token asks for: the account's second-factor
 * lock first (a locked account's code is not judged), then one attempt of
 * the token's is claimed, and a wrong code counts against the account. */
static ts_err
check_code(ts_auth *a, const ts_secret *tok, ts_iam_method m, const char *auth_token,
           const char *code, const ts_user *u, int64_t now, int *retry_after)
{
	int tries = 0;
	ts_err r;

	if ((r = ts_mfa_admit(a, u, retry_after)) != TS_OK)
		return r;
	/* No code is no guess: it costs no attempt. */
	if (!code || !*code)
		return TS_E_MFA_INVALID;
	if ((r = claim_try(a, tok, &tries)) != TS_OK)
		return r;
	r = judge_code(a, tok, m, auth_token, code, u, now);
	if (r == TS_E_MFA_INVALID)
		ts_mfa_failed(a, u, method_name(m), tries);
	else if (r == TS_OK)
		ts_mfa_passed(a, u);
	return r;
}

ts_err
ts_auth_iam_session(ts_auth *a, const char *auth_token, const char *code, ts_tokens *out,
                    ts_user *u, int *retry_after)
{
	ts_secret tok;
	char hash[TS_HASH_SZ];
	ts_iam_method m;
	const char *amr;
	int64_t now = ts_now();
	ts_err r;

	memset(out, 0, sizeof(*out));
	memset(u, 0, sizeof(*u));
	*retry_after = 0;
	if (!auth_token || !token_shape_ok(auth_token))
		return TS_E_CHALLENGE_INVALID;
	ts_secret_hash(auth_token, TS_SECRET_TEXT_LEN, hash);
	r = SOPS(a)->secret_get(ST(a), TS_SECRET_AUTH_TOKEN, hash, &tok);
	if (r != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_CHALLENGE_INVALID : r;
	if (tok.used_at || tok.expires_at <= now || method_parse(tok.data, &m) != 0)
		return TS_E_CHALLENGE_INVALID;
	if ((r = SOPS(a)->user_by_id(ST(a), tok.user_id, u)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_CHALLENGE_INVALID : r;
	memset(u->password_hash, 0, sizeof(u->password_hash));
	if (u->is_disabled)
		return TS_E_CHALLENGE_INVALID;
	if (m != TS_IAM_NO_CODE &&
	    (r = check_code(a, &tok, m, auth_token, code, u, now, retry_after)) != TS_OK)
		return r;
	/* Spend the token; of two racing with good codes, one wins. */
	r = SOPS(a)->secret_consume(ST(a), TS_SECRET_AUTH_TOKEN, hash, now, &tok);
	if (r == TS_E_TOKEN_REUSED || r == TS_E_NOT_FOUND)
		return TS_E_CHALLENGE_INVALID;
	if (r != TS_OK)
		return r;
	/* RFC 8176: "otp" for an authenticator code, "mca" (a second channel)
	 * for a mailed one. */
	amr = m == TS_IAM_TOTP ? "pwd otp" : m == TS_IAM_EMAIL ? "pwd mca" : "pwd";
	return ts_auth_start_session(a, u, TS_SESSION_FULL, amr, TS_ACCESS_JWT, out);
}
