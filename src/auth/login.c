/* Password login: tenant resolution, the password check, and what a correct
 * password leads to. Unknown tenants, unknown users, wrong passwords and
 * disabled accounts all cost one argon2id verification and give the same
 * answer (OpenSSH's fakepw() idea), so none of them can be told apart. */
#include <stdio.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/factor.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"

ts_err
ts_auth_tenant_by_id(ts_auth *a, const char *id, ts_tenant *out)
{
	return SOPS(a)->tenant_by_id(ST(a), id, out);
}

void
ts_account_key(const ts_tenant *t, const ts_login_req *req, char *out, size_t cap)
{
	const char *tn = t && *t->id ? t->id
	               : req->tenant_slug ? req->tenant_slug
	               : req->header_slug ? req->header_slug : req->host ? req->host : "";
	char *bar;

	/* The tenant part is bounded so the separator always fits, however
	 * long a name the request made up. */
	snprintf(out, cap, "%.*s|%.*s", TS_HOST_MAX, tn, TS_EMAIL_MAX, req->email ? req->email : "");
	/* Emails match case-insensitively, so their limits must too. */
	if ((bar = strchr(out, '|')) != NULL)
		ts_ascii_lower(bar);
}

int
ts_email_norm(const char *in, char out[TS_EMAIL_MAX + 1])
{
	size_t n = in ? strlen(in) : 0;

	out[0] = '\0';
	if (n == 0 || n > TS_EMAIL_MAX)
		return 0;
	memcpy(out, in, n + 1);
	ts_ascii_lower(out);
	return 1;
}

/* --log-level debug: one event per decision of a password login, so an
 * operator can follow why it ended as it did. Never the email, password or
 * any secret. A NULL user_id ends the field list before "user". */
static void
trail(const char *step, const char *result, const char *tenant, const char *user_id)
{
	ts_log_event(TS_LOG_DEBUG, "login_step", "step", step, "result", result, "tenant", tenant,
	             user_id ? "user" : NULL, user_id, NULL);
}

/* Counts one failed attempt against the account; logs the moment it locks
 * (naming the user when the caller knows one: user_id may be NULL). */
static void
count_failure(ts_auth *a, const char *key, const ts_tenant *t, const char *email,
              const char *user_id)
{
	ts_lock l;
	ts_limits lim = ts_auth_limits(a);
	int64_t now = ts_now();

	if (SOPS(a)->lock_fail(ST(a), key, t ? t->id : "", email, now, lim.lock_after,
	                       lim.lock_secs, &l) != TS_OK)
		return;
	if (l.locked_until > now && l.failures == lim.lock_after) {
		char until[32];
		ts_rfc3339(l.locked_until, until);
		ts_metrics_count(TS_M_LOCK_ACCOUNT);
		ts_audit_warn(a, "account_locked", "tenant", t ? t->slug : "",
		             "until", until, TS_LOG_INT("failures", l.failures),
		             user_id ? "user" : NULL, user_id, NULL);
	}
}

ts_err
ts_account_take(ts_auth *a, const char *key, int *wait)
{
	ts_limits lim = ts_auth_limits(a);

	*wait = 0;
	if (lim.rl_account_rate <= 0)
		return TS_OK;
	return SOPS(a)->bucket_take(ST(a), key, ts_now_ms(), lim.rl_account_rate,
	                            lim.rl_account_burst < 1 ? 1 : lim.rl_account_burst, wait);
}

void
ts_account_give(ts_auth *a, const char *key)
{
	ts_limits lim = ts_auth_limits(a);

	if (lim.rl_account_rate <= 0)
		return;
	/* A refund that fails leaves the account one attempt short until the
	 * bucket refills: never more attempts than configured. */
	(void)SOPS(a)->bucket_give(ST(a), key, ts_now_ms(), lim.rl_account_rate,
	                           lim.rl_account_burst < 1 ? 1 : lim.rl_account_burst);
}

/* Every face's login names its tenant the same way (tenant.c). */
static ts_err
login_tenant(ts_auth *a, const ts_login_req *req, ts_tenant *t)
{
	ts_tenant_hints h = { req->tenant_slug, req->header_slug, req->host };

	return ts_auth_request_tenant(a, &h, 1, t);
}

ts_err
ts_auth_admit(ts_auth *a, const ts_login_req *req, int *retry_after)
{
	char key[TS_ACCOUNT_KEY_MAX];
	ts_tenant t;
	ts_lock l;
	int64_t now = ts_now(), mono = ts_mono_us();
	const char *ip = req->client_ip ? req->client_ip : "";
	int wait, have_tenant;

	*retry_after = 0;
	if ((wait = ts_limiter_take(a->rl_ip, ip, strlen(ip), mono)) > 0) {
		*retry_after = wait;
		ts_metrics_count(TS_M_RATE_ADDRESS);
		ts_metrics_login(req->face, ts_why_word(TS_WHY_RATE_ADDRESS));
		ts_audit(a, "login_throttled", "ip", ip, "reason",
		             ts_why_word(TS_WHY_RATE_ADDRESS), NULL);
		return TS_E_RATE_LIMITED;
	}
	ts_err r = login_tenant(a, req, &t);
	/* A malformed request (two tenants named), refused before any work
	 * and whoever the account: no password attempt was made. */
	if (r == TS_E_TENANT_CONFLICT)
		return r;
	have_tenant = r == TS_OK;
	if (!have_tenant)
		memset(&t, 0, sizeof(t));
	ts_account_key(&t, req, key, sizeof(key));
	r = SOPS(a)->lock_get(ST(a), key, &l);
	if (r == TS_E_STORE_UNAVAILABLE)
		return r;
	if (r == TS_OK && l.locked_until > now) {
		count_failure(a, key, have_tenant ? &t : NULL, req->email, NULL);
		*retry_after = (int)(l.locked_until - now);
		ts_metrics_login(req->face, ts_why_word(TS_WHY_LOCKED));
		ts_audit(a, "login_throttled", "ip", ip, "reason",
		             ts_why_word(TS_WHY_LOCKED), NULL);
		return TS_E_LOCKED;
	}
	if (r == TS_OK && l.locked_until && l.locked_until <= now)
		ts_audit(a, "account_unlocked", "tenant", have_tenant ? t.slug : "",
		             "reason", "expired", NULL);
	/* The token taken here is given back by a correct password
	 * (check_password): the account limit counts failures and attempts in
	 * flight, never a user who knows the password. */
	ts_err rb = ts_account_take(a, key, &wait);
	if (rb != TS_OK)
		return rb;
	if (wait > 0) {
		/* Attempts refused for speed count too: fifty at once are fifty. */
		count_failure(a, key, have_tenant ? &t : NULL, req->email, NULL);
		*retry_after = wait;
		ts_metrics_count(TS_M_RATE_ACCOUNT);
		ts_metrics_login(req->face, ts_why_word(TS_WHY_RATE_ACCOUNT));
		ts_audit(a, "login_throttled", "ip", ip, "reason",
		             ts_why_word(TS_WHY_RATE_ACCOUNT), NULL);
		return TS_E_RATE_LIMITED;
	}
	trail("lock", r == TS_OK ? "open_with_failures" : "open", have_tenant ? t.slug : NULL, NULL);
	return TS_OK;
}

/* The same work as a real check, for a request with no real account. */
static ts_err
fake_check(ts_auth *a, const ts_login_req *req)
{
	const char *dummy = ts_auth_dummy_hash(a);
	ts_err r;

	if (!dummy)
		return TS_E_INTERNAL;
	r = ts_pwtime_verify(&a->pwtime, dummy, req->password, req->password_len);
	(void)r;   /* the answer is fixed; only the work matters */
	return TS_E_BAD_CREDENTIALS;
}

/* user_id: the account's id when one was found, else NULL (then only the
 * tenant is named). */
static void
audit_fail(ts_auth *a, const ts_login_req *req, const char *tenant, const char *user_id, ts_why why)
{
	/* The email is not logged: it is personal data and, mistyped, often
	 * half a password. The tenant and address suffice for an audit. */
	ts_metrics_login(req->face, ts_why_word(why));
	ts_audit(a, "login_failed", "tenant", tenant, "ip", req->client_ip,
	             "reason", ts_why_word(why), user_id ? "user" : NULL, user_id, NULL);
}

/* Re-hashes at the configured cost after a correct password; a failure
 * here is logged and does not fail the login. */
static void
upgrade_hash(ts_auth *a, const ts_user *u, const ts_login_req *req)
{
	char phc[TS_PHC_MAX];

	if (ts_pw_hash(&a->cfg.pw_cost, req->password, req->password_len, phc) != TS_OK ||
	    SOPS(a)->user_set_password(ST(a), u->id, phc) != TS_OK) {
		ts_warn("password hash upgrade failed for user %s", u->id);
		return;
	}
	ts_audit(a, "password_rehashed", "user", u->id, NULL);
}

static void
decide_next(ts_auth *a, ts_login_ok *out)
{
	out->has_totp = ts_auth_user_has_totp(a, &out->user);
	/* Any factor of the table the tenant allows leads to a challenge. */
	ts_auth_factor_methods(a, &out->user, &out->tenant, out->methods, &out->n_methods);
	if (out->n_methods > 0) {
		out->next = TS_NEXT_MFA;
	} else if (out->tenant.mfa_required) {
		out->next = TS_NEXT_ENROLL;
		out->notices[out->n_notices++] =
			"tenant policy requires multi-factor authentication; enrol a second factor";
	} else {
		out->next = TS_NEXT_SESSION;
	}
}

/* The check itself; *rehash is set when a correct password's stored hash
 * should be replaced (done by the caller once the answer's time is fixed). */
static ts_err
check_password(ts_auth *a, const ts_login_req *req, ts_login_ok *out, int *rehash)
{
	char norm[TS_EMAIL_MAX + 1];
	ts_err r;
	ts_user *u = &out->user;
	char key[TS_ACCOUNT_KEY_MAX];

	r = login_tenant(a, req, &out->tenant);
	if (r == TS_E_TENANT_UNKNOWN || r == TS_E_NOT_FOUND) {
		ts_account_key(NULL, req, key, sizeof(key));
		trail("tenant", "unknown", req->tenant_slug, NULL);
		audit_fail(a, req, req->tenant_slug, NULL, TS_WHY_TENANT);
		count_failure(a, key, NULL, req->email, NULL);
		return fake_check(a, req);
	}
	if (r != TS_OK)
		return r;
	ts_account_key(&out->tenant, req, key, sizeof(key));
	trail("tenant", "resolved", out->tenant.slug, NULL);

	/* Too long to be anyone's: looked up as "", which no user has. */
	(void)ts_email_norm(req->email, norm);
	r = SOPS(a)->user_by_email(ST(a), out->tenant.id, norm, u);
	trail("user", r == TS_OK ? "found" : r == TS_E_NOT_FOUND ? "not_found" : ts_errname(r),
	      out->tenant.slug, r == TS_OK ? u->id : NULL);
	if (r == TS_E_NOT_FOUND) {
		audit_fail(a, req, out->tenant.slug, NULL, TS_WHY_CREDENTIALS);
		count_failure(a, key, &out->tenant, req->email, NULL);
		return fake_check(a, req);
	}
	if (r != TS_OK)
		return r;

	const char *phc = *u->password_hash ? u->password_hash : ts_auth_dummy_hash(a);
	if (!phc)
		return TS_E_INTERNAL;
	r = ts_pwtime_verify(&a->pwtime, phc, req->password, req->password_len);
	if (r != TS_OK || !*u->password_hash || u->is_disabled) {
		if (r != TS_OK && r != TS_E_BAD_CREDENTIALS)
			ts_error("stored hash of user %s cannot be checked: %s", u->id,
			         ts_strerror(r));
		trail("verify", r != TS_OK ? "wrong" : !*u->password_hash ? "no_password" : "disabled",
		      out->tenant.slug, u->id);
		audit_fail(a, req, out->tenant.slug, u->id,
		           u->is_disabled ? TS_WHY_DISABLED : TS_WHY_CREDENTIALS);
		count_failure(a, key, &out->tenant, req->email, u->id);
		return TS_E_BAD_CREDENTIALS;
	}
	trail("verify", "ok", out->tenant.slug, u->id);
	/* A correct password ends the run of failures (NIST SP 800-63B
	 * §5.2.2); reading first keeps the common case free of a write. */
	ts_lock l;
	if (SOPS(a)->lock_get(ST(a), key, &l) == TS_OK)
		(void)SOPS(a)->lock_clear(ST(a), key);
	ts_account_give(a, key);
	*rehash = ts_pw_needs_rehash(u->password_hash, &a->cfg.pw_cost);
	memset(u->password_hash, 0, sizeof(u->password_hash));
	if (!u->is_verified) {
		trail("verified", "no", out->tenant.slug, u->id);
		audit_fail(a, req, out->tenant.slug, u->id, TS_WHY_UNVERIFIED);
		return TS_E_NOT_VERIFIED;
	}
	decide_next(a, out);
	trail("next", out->next == TS_NEXT_MFA ? "mfa" : out->next == TS_NEXT_ENROLL ? "enroll" : "session",
	      out->tenant.slug, u->id);
	ts_audit(a, "login_password_ok", "user", u->id, "tenant",
	             out->tenant.slug, "ip", req->client_ip, NULL);
	return TS_OK;
}

ts_err
ts_auth_password(ts_auth *a, const ts_login_req *req, ts_login_ok *out)
{
	int64_t until = 0;
	ts_err r = ts_auth_password_at(a, req, out, &until);

	ts_pwtime_sleep_until(until);
	return r;
}

ts_err
ts_auth_password_at(ts_auth *a, const ts_login_req *req, ts_login_ok *out,
                    int64_t *not_before)
{
	int64_t start = ts_mono_us();
	int rehash = 0;
	ts_err r;

	memset(out, 0, sizeof(*out));
	*not_before = 0;
	if (!req->email || !req->password || req->password_len == 0 ||
	    req->password_len > TS_PASSWORD_MAX)
		return TS_E_INVALID;
	r = check_password(a, req, out, &rehash);
	/* Every answer of a check leaves no sooner than the slowest class of
	 * stored hash takes (pwtime.h): a known account whose hash has another
	 * cost than the dummy's is not told apart from an unknown one. */
	if (r == TS_OK || r == TS_E_BAD_CREDENTIALS || r == TS_E_NOT_VERIFIED)
		*not_before = ts_pwtime_deadline(&a->pwtime, start);
	/* The upgrade's hash is only ever paid by someone who gave the right
	 * password, and its time is not in any estimate. */
	if (rehash)
		upgrade_hash(a, &out->user, req);
	/* Refusals were counted with their reason (audit_fail). */
	if (r == TS_OK)
		ts_metrics_login(req->face, out->next == TS_NEXT_MFA ? "mfa"
		                            : out->next == TS_NEXT_ENROLL ? "enroll" : "ok");
	else if (r != TS_E_BAD_CREDENTIALS && r != TS_E_NOT_VERIFIED)
		ts_metrics_login(req->face, "error");
	return r;
}
