/* The account life cycle (account.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/account.h"
#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "core/log.h"

#define CODE_TRIES 5
#define CODE_DATA_LEN (2 * TS_SECRET_HASH_LEN + 1)

/* ---- queueing a mail ---- */

/* The key of an account's mailed code for one purpose: the code is looked
 * up by tenant, address and purpose, never by the code itself, so the
 * guesses at it can be counted. */
static void
code_key(const char *tenant_id, const char *email_norm, int purpose, char out[TS_HASH_SZ])
{
	char text[TS_ID_SZ + TS_EMAIL_MAX + 32];
	int n = snprintf(text, sizeof text, "mailcode:%d:%s:%s", purpose, tenant_id, email_norm);

	ts_secret_hash(text, (size_t)n, out);
}

/* The stored form of a mailed code: bound to its token's hash, so a code
 * is worth nothing without the row that names the token. */
static void
code_bound(const char *token_hash, const char *code, char out[TS_HASH_SZ])
{
	char text[TS_HASH_SZ + TS_CODE_DIGITS + 2];
	int n = snprintf(text, sizeof text, "%s:%s", token_hash, code);

	ts_secret_hash(text, (size_t)n, out);
	ts_wipe(text, sizeof text);
}

static int
carries_token(ts_mail_kind k)
{
	return k == TS_MAIL_VERIFY || k == TS_MAIL_RESET || k == TS_MAIL_INVITE;
}

/* Queues a mail of kind to u (NULL: the stand-in of an unknown address,
 * kind TS_MAIL_DISCARD) with a new token of skind and its code, in one
 * store transaction. Every path does the same work: a mail that carries
 * no token (or a stand-in) gets spent stand-in secrets, so a known and an
 * unknown address cost the same statements. */
static ts_err
queue_mail(ts_auth *a, const char *tenant_id, const ts_user *u, ts_mail_kind kind, int skind,
           int64_t ttl)
{
	char token[TS_SECRET_TEXT_LEN + 1], code[TS_CODE_DIGITS + 1];
	char pt[TS_SECRET_TEXT_LEN + TS_CODE_DIGITS + 2], bound[TS_HASH_SZ];
	int real = u && carries_token(kind);
	int64_t now = ts_now();
	ts_secret tok, cs;
	ts_mail m;
	ts_err r;

	memset(&tok, 0, sizeof tok);
	memset(&cs, 0, sizeof cs);
	memset(&m, 0, sizeof m);
	ts_secret_new(token);
	ts_code_new(code);

	tok.kind = skind;
	ts_secret_hash(token, strlen(token), tok.hash);
	ts_strlcpy(tok.tenant_id, tenant_id, sizeof tok.tenant_id);
	if (real)
		ts_strlcpy(tok.user_id, u->id, sizeof tok.user_id);
	tok.created_at = now;
	tok.expires_at = now + ttl;
	tok.used_at = real ? 0 : now;        /* a stand-in is born spent */

	cs = tok;
	cs.kind = TS_SECRET_MAIL_CODE;
	if (real) {
		code_key(tenant_id, u->email_norm, skind, cs.hash);
	} else {
		char junk[TS_SECRET_TEXT_LEN + 1];
		ts_secret_new(junk);
		ts_secret_hash(junk, strlen(junk), cs.hash);
	}
	code_bound(tok.hash, code, bound);
	snprintf(cs.data, sizeof cs.data, "%s %s", bound, tok.hash);

	ts_uuid4(m.id);
	ts_strlcpy(m.tenant_id, tenant_id, sizeof m.tenant_id);
	m.kind = u ? kind : TS_MAIL_DISCARD;
	if (u) {
		ts_strlcpy(m.user_id, u->id, sizeof m.user_id);
		ts_strlcpy(m.to, u->email, sizeof m.to);
	}
	m.created_at = now;
	m.next_attempt = now;
	/* Only what the mail cannot be rebuilt without is kept, sealed. */
	snprintf(pt, sizeof pt, "%s %s", real ? token : "", real ? code : "");
	r = ts_seal(&a->kek, m.id, pt, strlen(pt), m.data, sizeof m.data);
	if (r == TS_OK)
		r = SOPS(a)->mail_put(ST(a), &m, &tok, &cs);
	ts_wipe(token, sizeof token);
	ts_wipe(code, sizeof code);
	ts_wipe(pt, sizeof pt);
	ts_wipe(m.data, sizeof m.data);
	if (r == TS_OK)
		ts_outbox_kick(a);
	return r;
}

/* The tenant and user a self-service request names: *t and *u, with
 * *have_t / *have_u. An unknown tenant or address is no error (the
 * callers answer alike); a user lookup is made either way. */
static ts_err
find_account(ts_auth *a, const ts_account_req *q, ts_tenant *t, int *have_t, ts_user *u,
             int *have_u)
{
	char norm[TS_EMAIL_MAX + 1];
	ts_err r;

	*have_t = *have_u = 0;
	memset(u, 0, sizeof *u);
	r = ts_auth_request_tenant(a, &q->hints, 1, t);
	if (r == TS_E_TENANT_CONFLICT || r == TS_E_STORE_UNAVAILABLE || r == TS_E_NOMEM ||
	    r == TS_E_INTERNAL)
		return r;
	*have_t = r == TS_OK;
	if (!*have_t)
		memset(t, 0, sizeof *t);
	if (!ts_email_norm(q->email, norm))
		return TS_E_INVALID;
	/* Looked up in "" for an unknown tenant: the same statement. */
	r = SOPS(a)->user_by_email(ST(a), t->id, norm, u);
	if (r == TS_OK)
		*have_u = 1;
	else if (r != TS_E_NOT_FOUND)
		return r;
	return TS_OK;
}

/* The per-account limit of mails (rl_account_*), its own bucket apart
 * from login attempts, keyed alike for known and unknown addresses. */
static ts_err
mail_admit(ts_auth *a, const ts_tenant *t, const ts_account_req *q, int *retry_after)
{
	char key[TS_ACCOUNT_KEY_MAX + 8], inner[TS_ACCOUNT_KEY_MAX];
	ts_login_req lr = { .tenant_slug = q->hints.body_slug, .header_slug = q->hints.header_slug,
	                    .host = q->hints.host, .email = q->email };
	ts_err r;

	ts_account_key(t, &lr, inner, sizeof inner);
	snprintf(key, sizeof key, "mail|%s", inner);
	if ((r = ts_account_take(a, key, retry_after)) != TS_OK)
		return r;
	return *retry_after > 0 ? TS_E_RATE_LIMITED : TS_OK;
}

ts_err
ts_account_register(ts_auth *a, const ts_account_req *q, ts_pw_reason *why, int *retry_after)
{
	char phc[TS_PHC_MAX];
	ts_tenant t;
	ts_user u, old;
	ts_err r;

	*why = TS_PW_OK;
	*retry_after = 0;
	memset(&u, 0, sizeof u);
	r = ts_auth_request_tenant(a, &q->hints, 1, &t);
	if (r == TS_E_TENANT_UNKNOWN || r == TS_E_NOT_FOUND)
		return TS_E_REGISTRATION_CLOSED;   /* unknown looks like closed */
	if (r != TS_OK)
		return r;
	if (!t.registration_open)
		return TS_E_REGISTRATION_CLOSED;
	if (!a->mailer)
		return TS_E_MAIL_UNCONFIGURED;
	if (!ts_email_valid(q->email) || !ts_email_norm(q->email, u.email_norm))
		return TS_E_INVALID;
	if ((r = ts_password_check(&t, q->email, q->password, q->password_len, why)) != TS_OK)
		return r;
	if ((r = mail_admit(a, &t, q, retry_after)) != TS_OK)
		return r;
	/* Hashed whether or not the address is taken: the same work. */
	if ((r = ts_pw_hash(&a->cfg.pw_cost, q->password, q->password_len, phc)) != TS_OK)
		return r;
	ts_uuid4(u.id);
	ts_strlcpy(u.tenant_id, t.id, sizeof u.tenant_id);
	ts_strlcpy(u.email, q->email, sizeof u.email);
	ts_strlcpy(u.password_hash, phc, sizeof u.password_hash);
	u.created_at = ts_now();
	r = SOPS(a)->user_create(ST(a), &u);
	if (r == TS_OK) {
		ts_audit(a, "user_registered", "tenant", t.id, "user", u.id, "ip",
		         q->client_ip ? q->client_ip : "", NULL);
		r = queue_mail(a, t.id, &u, TS_MAIL_VERIFY, TS_SECRET_VERIFY, a->cfg.verify_ttl);
		goto out;
	}
	if (r != TS_E_CONFLICT)
		goto out;
	if ((r = SOPS(a)->user_by_email(ST(a), t.id, u.email_norm, &old)) != TS_OK)
		goto out;
	if (old.is_verified || old.is_disabled || !old.password_hash[0]) {
		/* The owner hears of it; the request learns nothing. */
		r = queue_mail(a, t.id, &old, TS_MAIL_EXISTING, TS_SECRET_VERIFY, a->cfg.verify_ttl);
		goto out;
	}
	/* An unverified account: whoever proves the address gets it with the
	 * password given last, so an earlier sign-up by someone else (who
	 * cannot read the mail) gains nothing. */
	int n;
	if ((r = SOPS(a)->user_set_password_revoke(ST(a), old.id, phc, NULL, ts_now(), &n)) ==
	    TS_OK)
		r = queue_mail(a, t.id, &old, TS_MAIL_VERIFY, TS_SECRET_VERIFY, a->cfg.verify_ttl);
out:
	ts_wipe(phc, sizeof phc);
	ts_wipe(u.password_hash, sizeof u.password_hash);
	return r;
}

/* resend and forgot: one shape, the same work for every address. */
static ts_err
mail_request(ts_auth *a, const ts_account_req *q, int reset, int *retry_after)
{
	ts_tenant t;
	ts_user u;
	int have_t, have_u, send;
	ts_err r;

	*retry_after = 0;
	if (!a->mailer)
		return TS_E_MAIL_UNCONFIGURED;
	if ((r = find_account(a, q, &t, &have_t, &u, &have_u)) != TS_OK)
		return r;
	if ((r = mail_admit(a, have_t ? &t : NULL, q, retry_after)) != TS_OK)
		return r;
	send = have_u && !u.is_disabled && (reset || !u.is_verified);
	if (reset)
		r = queue_mail(a, t.id, send ? &u : NULL, TS_MAIL_RESET, TS_SECRET_RESET,
		               a->cfg.reset_ttl);
	else
		r = queue_mail(a, t.id, send ? &u : NULL, TS_MAIL_VERIFY, TS_SECRET_VERIFY,
		               a->cfg.verify_ttl);
	ts_wipe(u.password_hash, sizeof u.password_hash);
	return r;
}

ts_err
ts_account_resend(ts_auth *a, const ts_account_req *q, int *retry_after)
{
	return mail_request(a, q, 0, retry_after);
}

ts_err
ts_account_forgot(ts_auth *a, const ts_account_req *q, int *retry_after)
{
	return mail_request(a, q, 1, retry_after);
}

/* ---- redeeming a mailed token ---- */

/* The token hash a code stands for: the account's code row for purpose
 * (one guess counted first), compared in constant time. *key gets the
 * code row's key, to spend it with the token. */
static ts_err
code_token(ts_auth *a, const ts_account_redeem *q, int purpose, char hash[TS_HASH_SZ],
           char key[TS_HASH_SZ])
{
	char norm[TS_EMAIL_MAX + 1], want[TS_HASH_SZ];
	ts_tenant t;
	ts_secret cs;
	int n;
	ts_err r;

	if (!q->email || !ts_email_norm(q->email, norm) || !q->code || !ts_code_shape_ok(q->code))
		return TS_E_TOKEN_INVALID;
	r = ts_auth_request_tenant(a, &q->hints, 1, &t);
	if (r == TS_E_TENANT_CONFLICT || r == TS_E_STORE_UNAVAILABLE)
		return r;
	if (r != TS_OK)
		return TS_E_TOKEN_INVALID;
	code_key(t.id, norm, purpose, key);
	if ((r = SOPS(a)->secret_attempt(ST(a), TS_SECRET_MAIL_CODE, key, CODE_TRIES, &n)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	if ((r = SOPS(a)->secret_get(ST(a), TS_SECRET_MAIL_CODE, key, &cs)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	if (cs.used_at || cs.expires_at <= ts_now() || strlen(cs.data) != CODE_DATA_LEN ||
	    strcmp(cs.tenant_id, t.id) != 0)
		return TS_E_TOKEN_INVALID;
	ts_strlcpy(hash, cs.data + TS_SECRET_HASH_LEN + 1, TS_HASH_SZ);
	code_bound(hash, q->code, want);
	if (!ts_ct_eq(want, cs.data, TS_SECRET_HASH_LEN))
		return TS_E_TOKEN_INVALID;
	return TS_OK;
}

/* Finds the live token of kind a redeem names (without spending it) and
 * checks its tenant against the request's. */
static ts_err
redeem_find(ts_auth *a, const ts_account_redeem *q, int kind, ts_secret *sec,
            char code_row[TS_HASH_SZ])
{
	char hash[TS_HASH_SZ];
	ts_tenant want;
	int named;
	ts_err r;

	code_row[0] = '\0';
	if (q->token) {
		if (strlen(q->token) != TS_SECRET_TEXT_LEN)
			return TS_E_TOKEN_INVALID;
		ts_secret_hash(q->token, strlen(q->token), hash);
	} else if ((r = code_token(a, q, kind, hash, code_row)) != TS_OK) {
		return r;
	}
	if ((r = SOPS(a)->secret_get(ST(a), kind, hash, sec)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	if (sec->used_at || sec->expires_at <= ts_now() || !sec->user_id[0])
		return TS_E_TOKEN_INVALID;
	/* Bound to its tenant: a request naming another is refused alike. */
	if ((r = ts_request_expect(a, &q->hints, &want, &named)) != TS_OK)
		return r == TS_E_TENANT_MISMATCH ? TS_E_TOKEN_INVALID : r;
	if (named && strcmp(want.id, sec->tenant_id) != 0)
		return TS_E_TOKEN_INVALID;
	return TS_OK;
}

/* Spends the token (and its code row): one caller wins. */
static ts_err
redeem_spend(ts_auth *a, const ts_secret *sec, const char *code_row)
{
	ts_secret got;
	ts_err r = SOPS(a)->secret_consume(ST(a), sec->kind, sec->hash, ts_now(), &got);

	if (r != TS_OK)
		return r == TS_E_NOT_FOUND || r == TS_E_TOKEN_REUSED ? TS_E_TOKEN_INVALID : r;
	if (code_row[0])
		(void)SOPS(a)->secret_consume(ST(a), TS_SECRET_MAIL_CODE, code_row, ts_now(), &got);
	return TS_OK;
}

/* The user a token names, and its tenant; a disabled user's tokens are
 * invalid. */
static ts_err
token_user(ts_auth *a, const ts_secret *sec, ts_user *u, ts_tenant *t)
{
	ts_err r;

	if ((r = SOPS(a)->user_by_id(ST(a), sec->user_id, u)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	if (u->is_disabled || strcmp(u->tenant_id, sec->tenant_id) != 0)
		return TS_E_TOKEN_INVALID;
	if ((r = SOPS(a)->tenant_by_id(ST(a), u->tenant_id, t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	return TS_OK;
}

ts_err
ts_account_verify(ts_auth *a, const ts_account_redeem *q, ts_login_ok *out)
{
	char code_row[TS_HASH_SZ];
	ts_secret sec;
	ts_err r;

	memset(out, 0, sizeof *out);
	if ((r = redeem_find(a, q, TS_SECRET_VERIFY, &sec, code_row)) != TS_OK ||
	    (r = token_user(a, &sec, &out->user, &out->tenant)) != TS_OK ||
	    (r = redeem_spend(a, &sec, code_row)) != TS_OK)
		goto out;
	if (!out->user.is_verified &&
	    (r = SOPS(a)->user_set_flags(ST(a), out->user.id, 1, out->user.is_admin, 0)) != TS_OK)
		goto out;
	out->user.is_verified = 1;
	ts_audit(a, "email_verified", "tenant", out->tenant.id, "user", out->user.id, NULL);
	/* The same next step as a login with the right password. */
	out->has_totp = ts_auth_user_has_totp(a, &out->user);
	out->next = out->has_totp ? TS_NEXT_MFA
	          : out->tenant.mfa_required ? TS_NEXT_ENROLL : TS_NEXT_SESSION;
out:
	memset(out->user.password_hash, 0, sizeof out->user.password_hash);
	return r;
}

ts_err
ts_account_reset(ts_auth *a, const ts_account_redeem *q, const char *pw, size_t pw_len,
                 ts_pw_reason *why)
{
	char code_row[TS_HASH_SZ], phc[TS_PHC_MAX];
	ts_secret sec;
	ts_tenant t;
	ts_user u;
	int n = 0;
	ts_err r;

	*why = TS_PW_OK;
	phc[0] = '\0';
	if ((r = redeem_find(a, q, TS_SECRET_RESET, &sec, code_row)) != TS_OK ||
	    (r = token_user(a, &sec, &u, &t)) != TS_OK)
		goto out;
	/* A refused password does not spend the token. */
	if ((r = ts_password_check(&t, u.email, pw, pw_len, why)) != TS_OK ||
	    (r = ts_pw_hash(&a->cfg.pw_cost, pw, pw_len, phc)) != TS_OK ||
	    (r = redeem_spend(a, &sec, code_row)) != TS_OK)
		goto out;
	/* Every session ends, and every pending login step and mailed token. */
	if ((r = SOPS(a)->user_set_password_revoke(ST(a), u.id, phc, NULL, ts_now(), &n)) != TS_OK)
		goto out;
	/* The token came by mail: the address is proven. */
	if (!u.is_verified)
		(void)SOPS(a)->user_set_flags(ST(a), u.id, 1, u.is_admin, 0);
	ts_audit(a, "password_reset", "tenant", t.id, "user", u.id,
	         TS_LOG_INT("sessions_ended", n), NULL);
	(void)queue_mail(a, t.id, &u, TS_MAIL_PW_CHANGED, TS_SECRET_RESET, a->cfg.reset_ttl);
out:
	ts_wipe(phc, sizeof phc);
	return r;
}

ts_err
ts_account_change(ts_auth *a, const ts_principal *p, const char *cur, size_t cur_len,
                  const char *pw, size_t pw_len, ts_pw_reason *why, int *retry_after)
{
	char key[TS_ID_SZ + 16], phc[TS_PHC_MAX];
	ts_user u;
	int n = 0;
	ts_err r;

	*why = TS_PW_OK;
	*retry_after = 0;
	phc[0] = '\0';
	if (p->scope != TS_SESSION_FULL)
		return TS_E_FORBIDDEN;
	/* Guesses at the current password with a stolen token are limited
	 * like logins. */
	snprintf(key, sizeof key, "pwchange|%s", p->user.id);
	if ((r = ts_account_take(a, key, retry_after)) != TS_OK)
		return r;
	if (*retry_after > 0)
		return TS_E_RATE_LIMITED;
	if ((r = SOPS(a)->user_by_id(ST(a), p->user.id, &u)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_BAD_CREDENTIALS : r;
	r = u.password_hash[0] ? ts_pw_verify(u.password_hash, cur, cur_len)
	                       : TS_E_BAD_CREDENTIALS;
	if (r != TS_OK) {
		r = r == TS_E_INVALID ? TS_E_BAD_CREDENTIALS : r;
		goto out;
	}
	if ((r = ts_password_check(&p->tenant, u.email, pw, pw_len, why)) != TS_OK ||
	    (r = ts_pw_hash(&a->cfg.pw_cost, pw, pw_len, phc)) != TS_OK)
		goto out;
	r = SOPS(a)->user_set_password_revoke(ST(a), u.id, phc, p->session.id, ts_now(), &n);
	if (r != TS_OK)
		goto out;
	ts_audit(a, "password_changed", "tenant", p->tenant.id, "user", u.id,
	         TS_LOG_INT("sessions_ended", n), NULL);
	(void)queue_mail(a, p->tenant.id, &u, TS_MAIL_PW_CHANGED, TS_SECRET_RESET,
	                 a->cfg.reset_ttl);
out:
	ts_wipe(phc, sizeof phc);
	ts_wipe(u.password_hash, sizeof u.password_hash);
	return r;
}

ts_err
ts_account_sessions(ts_auth *a, const ts_principal *p, ts_session_cb cb, void *arg)
{
	return SOPS(a)->user_sessions_list(ST(a), p->user.id, ts_now(), cb, arg);
}

ts_err
ts_account_session_revoke(ts_auth *a, const ts_principal *p, const char *id)
{
	ts_session s;
	ts_user u;
	ts_tenant t;
	ts_err r;

	if (!id || strlen(id) != TS_UUID_LEN)
		return TS_E_NOT_FOUND;
	if ((r = SOPS(a)->session_principal(ST(a), id, &s, &u, &t)) != TS_OK)
		return r;
	ts_wipe(u.password_hash, sizeof u.password_hash);
	/* Another user's session is as absent as a made-up one. */
	if (strcmp(s.user_id, p->user.id) != 0 || s.revoked_at || s.expires_at <= ts_now())
		return TS_E_NOT_FOUND;
	if ((r = SOPS(a)->session_revoke(ST(a), id, ts_now())) != TS_OK)
		return r;
	ts_audit(a, "session_revoked_by_user", "tenant", p->tenant.id, "user", p->user.id,
	         "session", id, NULL);
	return TS_OK;
}

ts_err
ts_account_invite(ts_auth *a, const ts_tenant *t, const ts_user *u)
{
	if (!a->mailer)
		return TS_E_MAIL_UNCONFIGURED;
	if (strcmp(t->id, u->tenant_id) != 0)
		return TS_E_INVALID;
	return queue_mail(a, t->id, u, TS_MAIL_INVITE, TS_SECRET_RESET, a->cfg.verify_ttl);
}
