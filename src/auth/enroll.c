/* The one rule for a first second factor in a tenant that requires MFA:
 * it is enrolled only after a proof beyond the password, so a stolen
 * password cannot become a stolen account by enrolling the thief's own
 * authenticator. An enrolment-only session starts unproven; a code mailed
 * to the user's address (ts_auth_enroll_mail_code / _verify_code) or an
 * enrolment link an administrator issued (ts_admin_enroll_link /
 * ts_auth_enroll_link_redeem) proves it, and the proof is recorded in the
 * session's amr ("mca" for the mailed code, RFC 8176 §2; "link" for the
 * link, a Tessera value). Only then do ts_auth_totp_begin and _confirm
 * accept it (ts_auth_enroll_allowed). */
#include <stdio.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/email.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/hash.h"

#define ENROLL_CODE_TRIES 5      /* wrong codes before a mailed code dies */
#define AMR_MAIL "mca"
#define AMR_LINK "link"

/* ---- 6-digit codes ---- */

void
ts_code_new(char out[TS_CODE_DIGITS + 1])
{
	uint32_t v;

	/* Rejection sampling: no modulo bias. */
	do {
		ts_random(&v, sizeof(v));
	} while (v >= 4294000000u);   /* the largest multiple of 10^6 below 2^32 */
	snprintf(out, TS_CODE_DIGITS + 1, "%06u", (unsigned)(v % 1000000u));
	ts_wipe(&v, sizeof(v));
}

int
ts_code_shape_ok(const char *code)
{
	size_t n = 0;

	for (; code && code[n]; n++)
		if (n >= TS_CODE_DIGITS || code[n] < '0' || code[n] > '9')
			return 0;
	return n == TS_CODE_DIGITS;
}

/* ---- the rule ---- */

int
ts_amr_has(const char *amr, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = amr; (p = strstr(p, word)) != NULL; p += n)
		if ((p == amr || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return 1;
	return 0;
}

int
ts_auth_enroll_proven(const ts_session *s)
{
	if (s->kind != TS_SESSION_ENROLL)
		return 1;
	return ts_amr_has(s->amr, AMR_MAIL) || ts_amr_has(s->amr, AMR_LINK);
}

ts_err
ts_auth_enroll_allowed(const ts_principal *p)
{
	return ts_auth_enroll_proven(&p->session) ? TS_OK : TS_E_ENROLL_PROOF_REQUIRED;
}

const char *
ts_auth_enroll_hint(ts_auth *a)
{
	if (ts_auth_mail_on(a))
		return "prove this enrolment first: POST /v1/mfa/enroll/email/send mails a code "
		       "to your address (or redeem an enrolment link from an administrator)";
	return "prove this enrolment first with an enrolment link: this server sends no mail, "
	       "so ask an administrator for one";
}

/* Adds word to the session's amr (kept in the store: every bearer check
 * re-reads the session, so the proof holds from the next request on). */
static ts_err
session_add_amr(ts_auth *a, const ts_principal *p, const char *word)
{
	char amr[sizeof(p->session.amr)];

	if (ts_amr_has(p->session.amr, word))
		return TS_OK;
	if ((size_t)snprintf(amr, sizeof(amr), "%s %s", p->session.amr, word) >= sizeof(amr))
		return TS_E_INTERNAL;
	ts_err r = SOPS(a)->session_set_amr(ST(a), p->session.id, amr);
	return r == TS_E_NOT_FOUND ? TS_E_SESSION_REVOKED : r;
}

/* ---- the mailed code ---- */

/* One code row per session (so a new code replaces the old) ... */
static void
code_key(const char *sid, char out[TS_HASH_SZ])
{
	char text[TS_ID_SZ + 16];
	int n = snprintf(text, sizeof(text), "enroll-code:%s", sid);

	ts_secret_hash(text, (size_t)n, out);
}

/* ... holding the hash of the code bound to that session. */
static void
code_value(const char *sid, const char *code, char out[TS_HASH_SZ])
{
	ts_code_bound_hash(sid, code, out);
}

void
ts_code_bound_hash(const char *owner, const char *code, char out[TS_HASH_SZ])
{
	char text[TS_SECRET_TEXT_LEN + TS_CODE_DIGITS + 2];
	int n = snprintf(text, sizeof(text), "%s:%s", owner, code);

	ts_secret_hash(text, (size_t)n, out);
	ts_wipe(text, sizeof(text));
}

ts_err
ts_auth_enroll_mail_code(ts_auth *a, const ts_principal *p, int64_t *expires_at,
                         int *retry_after)
{
	char code[TS_CODE_DIGITS + 1], text[512], key[TS_ID_SZ + 16];
	ts_secret sec;
	int64_t now = ts_now();
	long minutes;
	int n;
	ts_err r;

	*expires_at = 0;
	*retry_after = 0;
	if (p->scope != TS_SESSION_ENROLL)
		return TS_E_FORBIDDEN;
	if (!ts_auth_mail_on(a))
		return TS_E_MAIL_UNCONFIGURED;
	n = snprintf(key, sizeof(key), "enroll-mail|%s", p->user.id);
	(void)n;
	if ((r = ts_account_take(a, key, retry_after)) != TS_OK)
		return r;
	if (*retry_after > 0) {
		ts_audit(a, "enroll_code_throttled", "user", p->user.id, NULL);
		return TS_E_RATE_LIMITED;
	}
	ts_code_new(code);
	memset(&sec, 0, sizeof(sec));
	code_key(p->session.id, sec.hash);
	code_value(p->session.id, code, sec.data);
	sec.kind = TS_SECRET_ENROLL_CODE;
	ts_strlcpy(sec.tenant_id, p->session.tenant_id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, p->session.user_id, sizeof(sec.user_id));
	/* Bound to the session: its revocation spends the code too. */
	ts_strlcpy(sec.session_id, p->session.id, sizeof(sec.session_id));
	sec.created_at = now;
	sec.expires_at = now + a->cfg.challenge_ttl;
	if (sec.expires_at > p->session.expires_at)
		sec.expires_at = p->session.expires_at;
	if ((r = SOPS(a)->secret_replace(ST(a), &sec)) != TS_OK)
		goto out;
	minutes = (long)((sec.expires_at - now + 59) / 60);
	snprintf(text, sizeof(text),
	         "Your enrolment code is %s\n"
	         "\n"
	         "It lets you set up a second factor for your account within %ld minute%s.\n"
	         "\n"
	         "If you did not just try to sign in, someone knows your password:\n"
	         "change it.\n",
	         code, minutes, minutes == 1 ? "" : "s");
	/* The mailer of now: a SIGHUP may have turned mail off since. */
	ts_mailer *m = ts_auth_mailer(a);
	r = m ? ts_mailer_send(m, p->user.email, "Your enrolment code", text) : TS_E_MAIL_UNCONFIGURED;
	ts_mailer_free(m);
	ts_wipe(text, sizeof(text));
	if (r == TS_E_INVALID)
		r = TS_E_EMAIL_SEND;   /* an address no header can carry */
	ts_log_event(r == TS_OK ? TS_LOG_INFO : TS_LOG_WARN,
	             r == TS_OK ? "enroll_code_sent" : "enroll_code_failed", "user", p->user.id,
	             NULL);
	if (r == TS_OK)
		*expires_at = sec.expires_at;
out:
	ts_wipe(code, sizeof(code));
	return r;
}

ts_err
ts_auth_enroll_verify_code(ts_auth *a, const ts_principal *p, const char *code, int *retry_after)
{
	char key[TS_HASH_SZ], h[TS_HASH_SZ];
	ts_secret sec;
	int64_t now = ts_now();
	int n;
	ts_err r;

	*retry_after = 0;
	if (p->scope != TS_SESSION_ENROLL)
		return TS_E_FORBIDDEN;
	if ((r = ts_mfa_admit(a, &p->user, retry_after)) != TS_OK)
		return r;
	code_key(p->session.id, key);
	if ((r = SOPS(a)->secret_get(ST(a), TS_SECRET_ENROLL_CODE, key, &sec)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_CHALLENGE_INVALID : r;
	if (sec.used_at || sec.expires_at <= now)
		return TS_E_CHALLENGE_INVALID;
	/* One atomic store op per guess: parallel guesses get five in all. */
	if ((r = SOPS(a)->secret_attempt(ST(a), TS_SECRET_ENROLL_CODE, key, ENROLL_CODE_TRIES,
	                                 &n)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_CHALLENGE_INVALID : r;
	if (!ts_code_shape_ok(code)) {
		memset(h, 0, sizeof(h));
	} else {
		code_value(p->session.id, code, h);
	}
	if (!ts_ct_eq(h, sec.data, TS_SECRET_HASH_LEN)) {
		ts_mfa_failed(a, &p->user, "enroll_email", n);
		return TS_E_MFA_INVALID;
	}
	r = SOPS(a)->secret_consume(ST(a), TS_SECRET_ENROLL_CODE, key, now, &sec);
	if (r == TS_E_TOKEN_REUSED || r == TS_E_NOT_FOUND)
		return TS_E_CHALLENGE_INVALID;
	if (r != TS_OK)
		return r;
	ts_mfa_passed(a, &p->user);
	if ((r = session_add_amr(a, p, AMR_MAIL)) == TS_OK)
		ts_audit(a, "enroll_proven", "user", p->user.id, "session",
		             p->session.id, "method", "email", NULL);
	return r;
}

/* ---- the administrator's link ---- */

ts_err
ts_admin_enroll_link(ts_store *s, const char *tenant_slug, const char *email, int64_t ttl,
                     char token[TS_SECRET_TEXT_LEN + 1], int64_t *expires_at)
{
	ts_secret sec;
	ts_user u;
	int64_t now = ts_now();
	ts_err r;

	token[0] = '\0';
	*expires_at = 0;
	if (ttl <= 0)
		return TS_E_INVALID;
	if ((r = ts_admin_user_find(s, tenant_slug, email, &u)) != TS_OK)
		return r;
	memset(u.password_hash, 0, sizeof(u.password_hash));
	memset(&sec, 0, sizeof(sec));
	ts_secret_new(token);       /* 256 random bits; only the hash is kept */
	ts_secret_hash(token, TS_SECRET_TEXT_LEN, sec.hash);
	sec.kind = TS_SECRET_ENROLL_LINK;
	ts_strlcpy(sec.tenant_id, u.tenant_id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, u.id, sizeof(sec.user_id));
	sec.created_at = now;
	sec.expires_at = now + ttl;
	if ((r = s->ops->secret_put(s, &sec)) != TS_OK) {
		ts_wipe(token, TS_SECRET_TEXT_LEN + 1);
		return r;
	}
	*expires_at = sec.expires_at;
	ts_log_event(TS_LOG_INFO, "enroll_link_issued", "user", u.id, NULL);
	return TS_OK;
}

ts_err
ts_auth_enroll_link_redeem(ts_auth *a, const ts_principal *p, const char *token)
{
	char hash[TS_HASH_SZ];
	ts_secret sec;
	int64_t now = ts_now();
	ts_err r;

	if (p->scope != TS_SESSION_ENROLL)
		return TS_E_FORBIDDEN;
	if (!token || strlen(token) != TS_SECRET_TEXT_LEN)
		return TS_E_TOKEN_INVALID;
	ts_secret_hash(token, TS_SECRET_TEXT_LEN, hash);
	if ((r = SOPS(a)->secret_get(ST(a), TS_SECRET_ENROLL_LINK, hash, &sec)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	/* Another user's link is refused and stays unspent for its owner. */
	if (sec.used_at || sec.expires_at <= now || strcmp(sec.user_id, p->user.id) != 0 ||
	    strcmp(sec.tenant_id, p->session.tenant_id) != 0)
		return TS_E_TOKEN_INVALID;
	r = SOPS(a)->secret_consume(ST(a), TS_SECRET_ENROLL_LINK, hash, now, &sec);
	if (r == TS_E_TOKEN_REUSED || r == TS_E_NOT_FOUND)
		return TS_E_TOKEN_INVALID;
	if (r != TS_OK)
		return r;
	if ((r = session_add_amr(a, p, AMR_LINK)) == TS_OK)
		ts_audit(a, "enroll_proven", "user", p->user.id, "session",
		             p->session.id, "method", "link", NULL);
	return r;
}

/* ---- the end of enrolment ---- */

ts_err
ts_auth_enroll_finish(ts_auth *a, const ts_principal *p, ts_tokens *out)
{
	char amr[sizeof(p->session.amr)];

	memset(out, 0, sizeof(*out));
	if (p->scope != TS_SESSION_ENROLL || !ts_auth_enroll_proven(&p->session))
		return TS_E_ENROLL_PROOF_REQUIRED;
	/* The enrolment session has served its purpose; a full one, with
	 * every proof given on the way, replaces it. */
	(void)ts_auth_logout(a, p);
	if ((size_t)snprintf(amr, sizeof(amr), "%s otp", p->session.amr) >= sizeof(amr))
		ts_strlcpy(amr, "pwd otp", sizeof(amr));
	return ts_auth_start_session(a, &p->user, TS_SESSION_FULL, amr, TS_ACCESS_JWT, out);
}
