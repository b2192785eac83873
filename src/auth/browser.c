/* Browser sessions (browser.h): an engine session reached through a hashed
 * cookie value. */
#include "auth/browser.h"

#include <stdio.h>
#include <string.h>
#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/webauthn.h"
#include "core/util.h"

/* Points b's shortcuts into its principal. */
static void
browser_fill(ts_browser *b, int64_t expires_at)
{
	b->p.scope = b->p.session.kind;
	b->p.expires_at = expires_at;
	ts_strlcpy(b->session_id, b->p.session.id, sizeof(b->session_id));
	ts_strlcpy(b->amr, b->p.session.amr, sizeof(b->amr));
	b->auth_time = b->p.session.created_at;
	b->expires_at = expires_at;
}

/* The session, its user and tenant, live: revoked, expired and disabled
 * all end it (as a bearer's session, tokens.c). */
static ts_err
live_session(ts_auth *a, const char *sid, int64_t now, ts_principal *p)
{
	ts_err r;

	r = SOPS(a)->session_principal(ST(a), sid, &p->session, &p->user, &p->tenant);
	if (r != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	memset(p->user.password_hash, 0, sizeof(p->user.password_hash));
	if (p->session.revoked_at || p->user.is_disabled)
		return TS_E_SESSION_REVOKED;
	if (p->session.expires_at <= now)
		return TS_E_TOKEN_EXPIRED;
	return TS_OK;
}

static int64_t
idle_end(const ts_session *s, int64_t now)
{
	int64_t exp = now + TS_BROWSER_IDLE_SECS;

	return exp < s->expires_at ? exp : s->expires_at;
}

ts_err
ts_browser_bind(ts_auth *a, const char *session_id, char cookie[TS_BROWSER_COOKIE_LEN + 1],
                ts_browser *out)
{
	ts_secret sec;
	int64_t now = ts_now();
	ts_err r;

	memset(out, 0, sizeof(*out));
	cookie[0] = '\0';
	if ((r = live_session(a, session_id, now, &out->p)) != TS_OK)
		return r;
	memset(&sec, 0, sizeof(sec));
	sec.kind = TS_SECRET_BROWSER;
	ts_strlcpy(sec.tenant_id, out->p.session.tenant_id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, out->p.session.user_id, sizeof(sec.user_id));
	ts_strlcpy(sec.session_id, out->p.session.id, sizeof(sec.session_id));
	sec.created_at = now;
	sec.expires_at = idle_end(&out->p.session, now);
	ts_secret_new(cookie);
	ts_secret_hash(cookie, strlen(cookie), sec.hash);
	if ((r = SOPS(a)->secret_put(ST(a), &sec)) != TS_OK) {
		ts_wipe(cookie, TS_BROWSER_COOKIE_LEN + 1);
		return r;
	}
	browser_fill(out, sec.expires_at);
	ts_audit(a, "browser_session_start", "session", out->p.session.id, "user",
	         out->p.user.id, "tenant", out->p.tenant.id, "amr", out->p.session.amr, NULL);
	return TS_OK;
}

/* Starts an engine session for u and binds a cookie to it; the session's
 * own tokens are dropped unseen (the cookie is its only handle). */
static ts_err
start(ts_auth *a, const ts_user *u, int kind, const char *amr, const ts_client *cl,
      char cookie[TS_BROWSER_COOKIE_LEN + 1], ts_browser *out)
{
	ts_tokens t;
	ts_err r;

	r = ts_auth_start_session_client(a, u, kind, amr, TS_ACCESS_JWT, cl, &t);
	if (r == TS_OK)
		r = ts_browser_bind(a, t.session_id, cookie, out);
	ts_wipe(&t, sizeof(t));
	return r;
}

ts_err
ts_browser_password(ts_auth *a, const ts_login_req *req, const ts_client *cl,
                    ts_browser_step *out)
{
	ts_err r;

	memset(out, 0, sizeof(*out));
	if ((r = ts_auth_password_at(a, req, &out->login, &out->not_before)) != TS_OK)
		return r;
	switch (out->login.next) {
	case TS_NEXT_MFA:
		return ts_auth_challenge_open(a, &out->login.user, out->challenge_id);
	case TS_NEXT_ENROLL:
		return start(a, &out->login.user, TS_SESSION_ENROLL, "pwd", cl, out->cookie,
		             &out->b);
	case TS_NEXT_SESSION:
		return start(a, &out->login.user, TS_SESSION_FULL, "pwd", cl, out->cookie,
		             &out->b);
	}
	return TS_E_INTERNAL;
}

ts_err
ts_browser_mfa(ts_auth *a, const char *challenge_id, const char *method,
               const ts_factor_answer *ans, const ts_client *cl,
               char cookie[TS_BROWSER_COOKIE_LEN + 1], ts_browser *out, int *retry_after)
{
	const ts_factor_ops *f;
	char amr[32];
	ts_user u;
	ts_err r;

	memset(out, 0, sizeof(*out));
	cookie[0] = '\0';
	if ((r = ts_auth_factor_judge(a, challenge_id, method, ans, &u, retry_after)) != TS_OK)
		return r;
	/* judge succeeded, so method names a factor of the table. */
	if (!(f = ts_factor_by_name(method)))
		return TS_E_INTERNAL;
	/* The engine says what was proven (RFC 8176), as factor.c does. */
	snprintf(amr, sizeof(amr), "pwd %s", f->amr);
	memset(u.password_hash, 0, sizeof(u.password_hash));
	return start(a, &u, TS_SESSION_FULL, amr, cl, cookie, out);
}

ts_err
ts_browser_passkey(ts_auth *a, const char *challenge_id, const char *credential,
                   size_t credential_len, const ts_client *cl,
                   char cookie[TS_BROWSER_COOKIE_LEN + 1], ts_browser *out, int *retry_after)
{
	ts_tokens t;
	ts_user u;
	ts_tenant ten;
	ts_err r;

	(void)cl; /* ts_auth_passkey_login records no client */
	memset(out, 0, sizeof(*out));
	cookie[0] = '\0';
	r = ts_auth_passkey_login(a, challenge_id, credential, credential_len, &t, &u, &ten,
	                          retry_after);
	if (r == TS_OK)
		r = ts_browser_bind(a, t.session_id, cookie, out);
	ts_wipe(&t, sizeof(t));
	return r;
}

/* The cookie's stored form, or 0 for a value that cannot be one of ours. */
static int
cookie_hash(const char *cookie, char hash[TS_HASH_SZ])
{
	if (!cookie || strlen(cookie) != TS_BROWSER_COOKIE_LEN)
		return 0;
	ts_secret_hash(cookie, TS_BROWSER_COOKIE_LEN, hash);
	return 1;
}

/* Moves the idle end, at most once a minute. Replacing the row may bring
 * back one a concurrent sign-out just spent; that does no harm, since
 * every check also asks the session, which sign-out revoked. */
static int64_t
slide(ts_auth *a, ts_secret *sec, const ts_session *s, int64_t now)
{
	int64_t next = idle_end(s, now);

	if (next - sec->expires_at < TS_BROWSER_SLIDE_SECS)
		return sec->expires_at;
	sec->expires_at = next;
	if (SOPS(a)->secret_replace(ST(a), sec) != TS_OK)
		return now + 1; /* not moved: still good for this request */
	return next;
}

ts_err
ts_browser_check(ts_auth *a, const char *cookie, const ts_tenant *expect_tenant,
                 ts_browser *out)
{
	char hash[TS_HASH_SZ];
	ts_secret sec;
	int64_t now = ts_now();
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!cookie_hash(cookie, hash))
		return TS_E_TOKEN_INVALID;
	if ((r = SOPS(a)->secret_get(ST(a), TS_SECRET_BROWSER, hash, &sec)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	if (sec.used_at)
		return TS_E_SESSION_REVOKED;
	if (sec.expires_at <= now)
		return TS_E_TOKEN_EXPIRED;
	if (expect_tenant && strcmp(expect_tenant->id, sec.tenant_id) != 0)
		return TS_E_TENANT_MISMATCH;
	if ((r = live_session(a, sec.session_id, now, &out->p)) != TS_OK) {
		memset(out, 0, sizeof(*out));
		return r;
	}
	browser_fill(out, slide(a, &sec, &out->p.session, now));
	return TS_OK;
}

ts_err
ts_browser_end(ts_auth *a, const char *cookie)
{
	char hash[TS_HASH_SZ];
	ts_secret sec;
	ts_err r;

	if (!cookie_hash(cookie, hash))
		return TS_OK;
	if ((r = SOPS(a)->secret_get(ST(a), TS_SECRET_BROWSER, hash, &sec)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_OK : r;
	if ((r = SOPS(a)->session_revoke(ST(a), sec.session_id, ts_now())) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_OK : r;
	ts_audit(a, "browser_session_end", "session", sec.session_id, "user", sec.user_id,
	         "tenant", sec.tenant_id, NULL);
	return TS_OK;
}

ts_err
ts_browser_token(ts_auth *a, const ts_browser *b, ts_tokens *out)
{
	return ts_tokens_issue(a, &b->p.session, TS_ACCESS_JWT, 0, 0, out);
}
