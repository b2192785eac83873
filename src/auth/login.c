/* Password login: tenant resolution, the password check, and what a correct
 * password leads to. Unknown tenants, unknown users, wrong passwords and
 * disabled accounts all cost one argon2id verification and give the same
 * answer (OpenSSH's fakepw() idea), so none of them can be told apart. */
#include <stdio.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "core/log.h"
#include "core/util.h"

ts_err
ts_auth_resolve_tenant(ts_auth *a, const char *slug, const char *host, int use_default,
                       ts_tenant *out)
{
	ts_err r;

	if (slug && *slug) {
		if (!ts_slug_valid(slug))
			return TS_E_TENANT_UNKNOWN;
		r = SOPS(a)->tenant_by_slug(ST(a), slug, out);
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	}
	if (host && *host) {
		r = SOPS(a)->tenant_by_domain(ST(a), host, out);
		if (r != TS_E_NOT_FOUND)
			return r;
	}
	if (use_default && a->default_tenant) {
		r = SOPS(a)->tenant_by_slug(ST(a), a->default_tenant, out);
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	}
	return TS_E_NOT_FOUND;
}

ts_err
ts_auth_tenant_by_id(ts_auth *a, const char *id, ts_tenant *out)
{
	return SOPS(a)->tenant_by_id(ST(a), id, out);
}

void
ts_account_key(const ts_tenant *t, const ts_login_req *req, char *out, size_t cap)
{
	const char *tn = t && *t->id ? t->id
	               : req->tenant_slug ? req->tenant_slug : req->host ? req->host : "";

	snprintf(out, cap, "%s|%s", tn, req->email ? req->email : "");
	/* Emails match case-insensitively, so their limits must too. */
	ts_ascii_lower(strchr(out, '|'));
}

ts_err
ts_auth_admit(ts_auth *a, const ts_login_req *req, int *retry_after)
{
	char key[TS_ACCOUNT_KEY_MAX];
	ts_tenant t;
	int64_t now = ts_mono_us();
	const char *ip = req->client_ip ? req->client_ip : "";
	int wait;

	*retry_after = 0;
	if ((wait = ts_limiter_take(a->rl_ip, ip, strlen(ip), now)) > 0) {
		*retry_after = wait;
		ts_log_event(TS_LOG_INFO, "login_throttled", "ip", ip, "limit", "address", NULL);
		return TS_E_RATE_LIMITED;
	}
	if (ts_auth_resolve_tenant(a, req->tenant_slug, req->host, 1, &t) != TS_OK)
		memset(&t, 0, sizeof(t));
	ts_account_key(&t, req, key, sizeof(key));
	if ((wait = ts_limiter_take(a->rl_account, key, strlen(key), now)) > 0) {
		*retry_after = wait;
		ts_log_event(TS_LOG_INFO, "login_throttled", "ip", ip, "limit", "account", NULL);
		return TS_E_RATE_LIMITED;
	}
	return TS_OK;
}

/* The same work as a real check, for a request with no real account. */
static ts_err
fake_check(ts_auth *a, const ts_login_req *req)
{
	ts_err r = ts_pw_verify(a->dummy_hash, req->password, req->password_len);

	(void)r;   /* the answer is fixed; only the work matters */
	return TS_E_BAD_CREDENTIALS;
}

static void
audit_fail(const ts_login_req *req, const char *tenant, const char *why)
{
	/* The email is not logged: it is personal data and, mistyped, often
	 * half a password. The tenant and address suffice for an audit. */
	ts_log_event(TS_LOG_INFO, "login_failed", "tenant", tenant, "ip", req->client_ip,
	             "reason", why, NULL);
}

/* Re-hashes at the configured cost after a correct password; a failure
 * here is logged and does not fail the login. */
static void
upgrade_hash(ts_auth *a, const ts_user *u, const ts_login_req *req)
{
	char phc[TS_PHC_MAX];

	if (!ts_pw_needs_rehash(u->password_hash, &a->cfg.pw_cost))
		return;
	if (ts_pw_hash(&a->cfg.pw_cost, req->password, req->password_len, phc) != TS_OK ||
	    SOPS(a)->user_set_password(ST(a), u->id, phc) != TS_OK) {
		ts_warn("password hash upgrade failed for user %s", u->id);
		return;
	}
	ts_log_event(TS_LOG_INFO, "password_rehashed", "user", u->id, NULL);
}

static void
decide_next(ts_auth *a, ts_login_ok *out)
{
	out->has_totp = ts_auth_user_has_totp(a, &out->user);
	if (out->has_totp) {
		out->next = TS_NEXT_MFA;
	} else if (out->tenant.mfa_required) {
		out->next = TS_NEXT_ENROLL;
		out->notices[out->n_notices++] =
			"tenant policy requires multi-factor authentication; enrol a second factor";
	} else {
		out->next = TS_NEXT_SESSION;
	}
}

ts_err
ts_auth_password(ts_auth *a, const ts_login_req *req, ts_login_ok *out)
{
	ts_err r;
	ts_user *u = &out->user;

	memset(out, 0, sizeof(*out));
	if (!req->email || !req->password || req->password_len == 0 ||
	    req->password_len > TS_PASSWORD_MAX)
		return TS_E_INVALID;

	r = ts_auth_resolve_tenant(a, req->tenant_slug, req->host, 1, &out->tenant);
	if (r == TS_E_TENANT_UNKNOWN || r == TS_E_NOT_FOUND) {
		audit_fail(req, req->tenant_slug, "tenant");
		return fake_check(a, req);
	}
	if (r != TS_OK)
		return r;

	r = SOPS(a)->user_by_email(ST(a), out->tenant.id, req->email, u);
	if (r == TS_E_NOT_FOUND) {
		audit_fail(req, out->tenant.slug, "credentials");
		return fake_check(a, req);
	}
	if (r != TS_OK)
		return r;

	const char *phc = *u->password_hash ? u->password_hash : a->dummy_hash;
	r = ts_pw_verify(phc, req->password, req->password_len);
	if (r != TS_OK || !*u->password_hash || u->is_disabled) {
		if (r != TS_OK && r != TS_E_BAD_CREDENTIALS)
			ts_error("stored hash of user %s cannot be checked: %s", u->id,
			         ts_strerror(r));
		audit_fail(req, out->tenant.slug, u->is_disabled ? "disabled" : "credentials");
		return TS_E_BAD_CREDENTIALS;
	}
	upgrade_hash(a, u, req);
	memset(u->password_hash, 0, sizeof(u->password_hash));
	if (!u->is_verified) {
		audit_fail(req, out->tenant.slug, "unverified");
		return TS_E_NOT_VERIFIED;
	}
	decide_next(a, out);
	ts_log_event(TS_LOG_INFO, "login_password_ok", "user", u->id, "tenant",
	             out->tenant.slug, "ip", req->client_ip, NULL);
	return TS_OK;
}
