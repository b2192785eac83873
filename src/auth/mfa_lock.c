/* Failed second-factor answers, counted per account (user id) and apart
 * from password failures: a correct password must not reset them, or an
 * attacker who has the password gets a fresh run of TOTP guesses with every
 * login (NIST SP 800-63B §5.2.2 limits failed authentication attempts per
 * authenticator, whatever else succeeded). The counts live in the account
 * lock table under their own key namespace, "mfa|<user id>". */
#include <stdio.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"

void
ts_mfa_lock_key(const char *user_id, char *out, size_t cap)
{
	snprintf(out, cap, "mfa|%s", user_id);
}

ts_err
ts_mfa_admit(ts_auth *a, const ts_user *u, int *retry_after)
{
	char key[TS_LOCK_KEY_MAX];
	int64_t now = ts_now();
	ts_lock l;
	ts_err r;

	*retry_after = 0;
	ts_mfa_lock_key(u->id, key, sizeof(key));
	r = SOPS(a)->lock_get(ST(a), key, &l);
	if (r == TS_E_NOT_FOUND)
		return TS_OK;
	if (r != TS_OK)
		return r;
	if (l.locked_until <= now)
		return TS_OK;
	*retry_after = (int)(l.locked_until - now);
	ts_audit(a, "mfa_throttled", "user", u->id, "reason",
	             ts_why_word(TS_WHY_LOCKED), NULL);
	return TS_E_LOCKED;
}

void
ts_mfa_failed(ts_auth *a, const ts_user *u, const char *method, int tries)
{
	char key[TS_LOCK_KEY_MAX], until[32];
	int64_t now = ts_now();
	ts_lock l;

	/* The audit event of every wrong second factor, whichever path. */
	if (tries > 0)
		ts_audit(a, "mfa_failed", "user", u->id, "method", method, "reason",
		         ts_why_word(TS_WHY_CODE), TS_LOG_INT("tries", tries), NULL);
	else
		ts_audit(a, "mfa_failed", "user", u->id, "method", method, "reason",
		         ts_why_word(TS_WHY_CODE), NULL);
	ts_mfa_lock_key(u->id, key, sizeof(key));
	ts_limits lim = ts_auth_limits(a);
	if (SOPS(a)->lock_fail(ST(a), key, u->tenant_id, u->email, now, lim.mfa_lock_after,
	                       lim.mfa_lock_secs, &l) != TS_OK)
		return;
	if (l.locked_until > now && l.failures == lim.mfa_lock_after) {
		ts_rfc3339(l.locked_until, until);
		ts_metrics_count(TS_M_LOCK_MFA);
		ts_audit_warn(a, "mfa_locked", "user", u->id, "until", until,
		             TS_LOG_INT("failures", l.failures), NULL);
	}
}

void
ts_mfa_passed(ts_auth *a, const ts_user *u)
{
	char key[TS_LOCK_KEY_MAX];
	ts_lock l;

	/* Reading first keeps the common case (no failures) free of a write. */
	ts_mfa_lock_key(u->id, key, sizeof(key));
	if (SOPS(a)->lock_get(ST(a), key, &l) == TS_OK && l.locked_until <= ts_now())
		(void)SOPS(a)->lock_clear(ST(a), key);
}
