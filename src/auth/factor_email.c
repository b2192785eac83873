/* A 6-digit code mailed per challenge, as a factor (no row: the address is
 * the user's). The same codes serve contract 001's mailed step (iam.c):
 * one live code per owner (a login challenge, an IAM auth token), a new
 * one voiding the old, kept only as a hash bound to its owner, spent by
 * its first right use. Guesses are counted on the owner (the challenge's
 * five tries, the auth token's five), never here. */
#include <stdio.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/email.h"
#include "auth/factor.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/hash.h"

#define MAIL_CODE_TTL 600        /* a mailed login code is good for 10 minutes */

/* The row's key: one per owner, so a new code replaces the old. */
static void
code_key(const char *owner, char out[TS_HASH_SZ])
{
	char text[TS_SECRET_TEXT_LEN + 16];
	int n = snprintf(text, sizeof(text), "mail-code:%s", owner);

	ts_secret_hash(text, (size_t)n, out);
}

ts_err
ts_mail_code_send(ts_auth *a, const ts_user *u, const char *owner, int64_t expires_at,
                  const char *subject, const char *intro)
{
	char code[TS_CODE_DIGITS + 1], text[768];
	ts_secret sec;
	int64_t now = ts_now();
	long minutes;
	ts_err r;

	if (!a->mailer) {
		ts_log_event(TS_LOG_DEBUG, "email_code_failed", "user", u->id, "reason",
		             "smtp_not_configured", NULL);
		return TS_E_MAIL_UNCONFIGURED;
	}
	ts_code_new(code);
	memset(&sec, 0, sizeof(sec));
	code_key(owner, sec.hash);
	ts_code_bound_hash(owner, code, sec.data);
	sec.kind = TS_SECRET_EMAIL_OTP;
	ts_strlcpy(sec.tenant_id, u->tenant_id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, u->id, sizeof(sec.user_id));
	sec.created_at = now;
	sec.expires_at = expires_at;
	if ((r = SOPS(a)->secret_replace(ST(a), &sec)) != TS_OK)
		goto out;
	minutes = (long)((expires_at - now + 59) / 60);
	snprintf(text, sizeof(text),
	         "%s %s\n"
	         "\n"
	         "It is good for one sign-in within %ld minute%s.\n"
	         "\n"
	         "If you did not just try to sign in, someone knows your password:\n"
	         "change it.\n",
	         intro, code, minutes, minutes == 1 ? "" : "s");
	r = ts_mailer_send(a->mailer, u->email, subject, text);
	ts_wipe(text, sizeof(text));
	if (r == TS_E_INVALID)
		r = TS_E_EMAIL_SEND;   /* an address no header can carry */
	ts_log_event(r == TS_OK ? TS_LOG_INFO : TS_LOG_WARN,
	             r == TS_OK ? "email_code_sent" : "email_code_failed", "user", u->id, NULL);
out:
	ts_wipe(code, sizeof(code));
	return r;
}

ts_err
ts_mail_code_check(ts_auth *a, const char *owner, const char *code, int64_t now)
{
	char key[TS_HASH_SZ], h[TS_HASH_SZ];
	ts_secret sec;
	ts_err r;

	if (!ts_code_shape_ok(code))
		return TS_E_MFA_INVALID;
	code_key(owner, key);
	r = SOPS(a)->secret_get(ST(a), TS_SECRET_EMAIL_OTP, key, &sec);
	if (r == TS_E_NOT_FOUND)
		return TS_E_MFA_INVALID;      /* none sent (or swept) */
	if (r != TS_OK)
		return r;
	ts_code_bound_hash(owner, code, h);
	if (sec.used_at || sec.expires_at <= now || !ts_ct_eq(h, sec.data, TS_SECRET_HASH_LEN))
		return TS_E_MFA_INVALID;
	/* Single use: of two racing right answers one spends it. */
	r = SOPS(a)->secret_consume(ST(a), TS_SECRET_EMAIL_OTP, key, now, &sec);
	if (r == TS_E_NOT_FOUND || r == TS_E_TOKEN_REUSED)
		return TS_E_MFA_INVALID;
	return r;
}

static int
email_usable(const ts_factor_ctx *c)
{
	return c->a->mailer != NULL;
}

/* Mails a code for the challenge. The per-user limit (rl_account_*, under
 * its own key) keeps a password from being a licence to flood the
 * mailbox; the code's guesses are the challenge's. */
static ts_err
email_challenge_begin(const ts_factor_ctx *c, ts_factor_blob *out, int *retry_after)
{
	char key[TS_ID_SZ + 16];
	ts_secret ch;
	int64_t exp = c->now + MAIL_CODE_TTL;
	ts_err r;

	snprintf(key, sizeof(key), "mfa-mail|%s", c->user->id);
	if ((r = ts_account_take(c->a, key, retry_after)) != TS_OK)
		return r;
	if (*retry_after > 0) {
		ts_audit(c->a, "email_code_throttled", "user", c->user->id, NULL);
		return TS_E_RATE_LIMITED;
	}
	/* A code cannot outlive the challenge it answers. */
	if ((r = SOPS(c->a)->secret_get(ST(c->a), TS_SECRET_MFA_CHALLENGE, c->challenge_hash, &ch)) !=
	    TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_CHALLENGE_INVALID : r;
	if (ch.expires_at < exp)
		exp = ch.expires_at;
	r = ts_mail_code_send(c->a, c->user, c->challenge_id, exp, "Your sign-in code",
	                      "Your sign-in code is");
	if (r == TS_OK)
		out->expires_at = exp;
	return r;
}

static ts_err
email_verify(const ts_factor_ctx *c, const ts_factor_answer *ans, ts_factor *used)
{
	(void)used;
	if (!ans->code)
		return TS_E_MFA_INVALID;
	return ts_mail_code_check(c->a, c->challenge_id, ans->code, c->now);
}

const ts_factor_ops ts_factor_email = {
	.kind = TS_FACTOR_EMAIL,
	.name = "email",
	.amr = "mca",                /* RFC 8176 §2: a second channel, as contract 001 says */
	.flags = TS_FACTOR_F_ROWLESS | TS_FACTOR_F_BACKUP,
	.usable = email_usable,
	.challenge_begin = email_challenge_begin,
	.verify = email_verify,
};
