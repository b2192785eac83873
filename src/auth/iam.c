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

/* The stored form of a code: the hash of token and code together, so the
 * row's key is unique per token (6 digits alone would clash between users)
 * and the code cannot be tried without the token, which is not stored. */
static void
code_hash(const char *token, const char *code, char out[TS_HASH_SZ])
{
	ts_code_bound_hash(token, code, out);
}

ts_err
ts_auth_iam_mail_code(ts_auth *a, const ts_user *u, const ts_iam_token *t)
{
	char code[TS_CODE_DIGITS + 1], text[512];
	ts_secret sec;
	int64_t now = ts_now();
	long minutes;
	ts_mailer *m = ts_auth_mailer(a);
	ts_err r;

	if (!m) {
		/* Said once at start-up (ts_auth_new); per request only here. */
		ts_log_event(TS_LOG_DEBUG, "email_code_failed", "user", u->id, "reason",
		             "smtp_not_configured", NULL);
		return TS_E_MAIL_UNCONFIGURED;
	}
	ts_code_new(code);
	memset(&sec, 0, sizeof(sec));
	code_hash(t->token, code, sec.hash);
	sec.kind = TS_SECRET_EMAIL_OTP;
	ts_strlcpy(sec.tenant_id, u->tenant_id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, u->id, sizeof(sec.user_id));
	/* data: the token the code is bound to (its hash). */
	ts_secret_hash(t->token, strlen(t->token), sec.data);
	sec.created_at = now;
	sec.expires_at = t->expires_at;
	if ((r = SOPS(a)->secret_put(ST(a), &sec)) != TS_OK)
		goto out;
	minutes = (long)((t->expires_at - now + 59) / 60);
	snprintf(text, sizeof(text),
	         "Your sign-in code is %s\n"
	         "\n"
	         "It is good for one sign-in within %ld minute%s.\n"
	         "\n"
	         "If you did not just try to sign in, someone knows your password:\n"
	         "change it.\n",
	         code, minutes, minutes == 1 ? "" : "s");
	r = ts_mailer_send(m, u->email, "Your sign-in code", text);
	ts_wipe(text, sizeof(text));
	if (r == TS_E_INVALID)
		r = TS_E_EMAIL_SEND;   /* an address no header can carry */
	ts_log_event(r == TS_OK ? TS_LOG_INFO : TS_LOG_WARN,
	             r == TS_OK ? "email_code_sent" : "email_code_failed", "user", u->id, NULL);
out:
	ts_wipe(code, sizeof(code));
	ts_mailer_free(m);
	return r;
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

/* Checks and spends a mailed code bound to auth_token (hash tok_hash). */
static ts_err
check_mail_code(ts_auth *a, const char *auth_token, const char *tok_hash, const char *code,
                int64_t now)
{
	char hash[TS_HASH_SZ];
	ts_secret sec;
	ts_err r;

	if (!ts_code_shape_ok(code))
		return TS_E_MFA_INVALID;
	code_hash(auth_token, code, hash);
	r = SOPS(a)->secret_consume(ST(a), TS_SECRET_EMAIL_OTP, hash, now, &sec);
	if (r == TS_E_NOT_FOUND || r == TS_E_TOKEN_REUSED)
		return TS_E_MFA_INVALID;
	if (r != TS_OK)
		return r;
	if (sec.expires_at <= now || !ts_ct_eq(sec.data, tok_hash, TS_SECRET_HASH_LEN))
		return TS_E_MFA_INVALID;
	return TS_OK;
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
		return check_mail_code(a, auth_token, tok->hash, code, now);
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
