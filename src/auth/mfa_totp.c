/* TOTP as a second factor (RFC 6238): enrolment, login challenges, and the
 * check itself, where each time step is accepted at most once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/factor.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/base32.h"
#include "crypto/hash.h"
#include "crypto/totp.h"

#define TOTP_WINDOW 1            /* steps either side: ±30 s of clock drift */

int
ts_auth_user_has_totp(ts_auth *a, const ts_user *u)
{
	ts_totp t;

	return SOPS(a)->totp_get(ST(a), u->id, &t) == TS_OK && t.confirmed;
}

/* Verifies code against t's secret (sealed at rest, the user id as
 * associated data: a blob copied to another user's row does not open) and
 * spends its time step. */
static ts_err
totp_verify_and_spend(ts_auth *a, const ts_totp *t, const char *code)
{
	unsigned char secret[64];
	char b32[TS_TOTP_B32_MAX];
	size_t blen = 0;
	long n;
	int64_t step = 0;
	ts_err r;

	if ((r = ts_unseal(&a->kek, t->user_id, t->secret_b32, b32, sizeof(b32), &blen)) != TS_OK) {
		ts_log_event(TS_LOG_ERROR, "totp_unusable", "user", t->user_id, "error",
		             ts_errname(r), NULL);
		return r == TS_E_INVALID ? TS_E_SEAL : r;
	}
	n = ts_base32_decode(b32, secret, sizeof(secret));
	ts_wipe(b32, sizeof(b32));
	if (n <= 0)
		return TS_E_INTERNAL;
	r = ts_totp_verify(secret, (size_t)n, ts_now(), TOTP_WINDOW, code, &step);
	ts_wipe(secret, sizeof(secret));
	if (r != TS_OK)
		return TS_E_MFA_INVALID;
	/* RFC 6238 §5.2: a code is good once; a replay within its window is
	 * refused. */
	r = SOPS(a)->totp_use_step(ST(a), t->user_id, step);
	return r == TS_E_TOKEN_REUSED ? TS_E_MFA_INVALID : r;
}

ts_err
ts_auth_totp_check(ts_auth *a, const ts_user *u, const char *code)
{
	ts_totp t;
	ts_err r = SOPS(a)->totp_get(ST(a), u->id, &t);

	if (r == TS_E_NOT_FOUND || (r == TS_OK && !t.confirmed))
		return TS_E_MFA_NOT_ENROLLED;
	if (r != TS_OK)
		return r;
	return totp_verify_and_spend(a, &t, code);
}

ts_err
ts_totp_enrol_new(ts_auth *a, const ts_user *u, char b32[64], char **uri)
{
	unsigned char secret[TS_TOTP_SECRET_LEN];
	ts_totp t;
	ts_err r;

	*uri = NULL;
	r = SOPS(a)->totp_get(ST(a), u->id, &t);
	if (r == TS_OK && t.confirmed)
		return TS_E_CONFLICT;
	if (r != TS_OK && r != TS_E_NOT_FOUND)
		return r;
	memset(&t, 0, sizeof(t));
	ts_strlcpy(t.user_id, u->id, sizeof(t.user_id));
	ts_totp_secret_new(secret, b32);
	ts_wipe(secret, sizeof(secret));
	r = ts_seal(&a->kek, t.user_id, b32, strlen(b32), t.secret_b32, sizeof(t.secret_b32));
	t.created_at = ts_now();
	if (r == TS_OK)
		r = SOPS(a)->totp_put(ST(a), &t);
	ts_wipe(t.secret_b32, sizeof(t.secret_b32));
	if (r != TS_OK) {
		ts_wipe(b32, 64);
		return r;
	}
	*uri = ts_totp_uri(a->totp_issuer, u->email, b32);
	return *uri ? TS_OK : TS_E_NOMEM;
}

ts_err
ts_totp_enrol_confirm(ts_auth *a, const ts_user *u, const char *code)
{
	ts_totp t;
	ts_err r;

	r = SOPS(a)->totp_get(ST(a), u->id, &t);
	if (r == TS_E_NOT_FOUND)
		return TS_E_MFA_NOT_ENROLLED;   /* confirm before any enrolment */
	if (r != TS_OK)
		return r;
	if (t.confirmed)
		return TS_E_CONFLICT;
	/* A right first code does not clear the failure count: it proves the
	 * new secret, not the user. */
	if ((r = totp_verify_and_spend(a, &t, code)) != TS_OK)
		return r;
	if ((r = SOPS(a)->totp_confirm(ST(a), u->id)) != TS_OK)
		return r;
	ts_log_event(TS_LOG_INFO, "mfa_enrolled", "user", u->id, "method", "totp", NULL);
	return TS_OK;
}

ts_err
ts_auth_totp_begin(ts_auth *a, const ts_principal *p, char b32[64], char **uri)
{
	ts_err r;

	*uri = NULL;
	if ((r = ts_auth_enroll_allowed(p)) != TS_OK)
		return r;
	if (!(ts_factor_allowed(&p->tenant) & TS_FACTOR_BIT(TS_FACTOR_TOTP)))
		return TS_E_MFA_NOT_ENROLLED;   /* the tenant's policy has no TOTP */
	return ts_totp_enrol_new(a, &p->user, b32, uri);
}

ts_err
ts_auth_totp_confirm(ts_auth *a, const ts_principal *p, const char *code, int *retry_after)
{
	ts_totp t;
	ts_err r;

	*retry_after = 0;
	if ((r = ts_auth_enroll_allowed(p)) != TS_OK)
		return r;
	r = SOPS(a)->totp_get(ST(a), p->user.id, &t);
	if (r == TS_E_NOT_FOUND)
		return TS_E_MFA_NOT_ENROLLED;
	if (r != TS_OK)
		return r;
	if (t.confirmed)
		return TS_E_CONFLICT;
	if ((r = ts_mfa_admit(a, &p->user, retry_after)) != TS_OK)
		return r;
	/* A wrong first code counts like any wrong second factor. */
	r = ts_totp_enrol_confirm(a, &p->user, code);
	if (r == TS_E_MFA_INVALID)
		ts_mfa_failed(a, &p->user, "totp_confirm", 0);
	else if (r == TS_OK)
		ts_audit(a, "mfa_enrolled", "user", p->user.id, "method", "totp", NULL);
	return r;
}

ts_err
ts_auth_challenge_open(ts_auth *a, const ts_user *u, char id[TS_ID_SZ])
{
	ts_secret sec;
	int64_t now = ts_now();

	memset(&sec, 0, sizeof(sec));
	/* The id is the client's only handle on a half-done login, so it is
	 * random and kept hashed like any other secret. */
	ts_uuid4(id);
	ts_secret_hash(id, strlen(id), sec.hash);
	sec.kind = TS_SECRET_MFA_CHALLENGE;
	ts_strlcpy(sec.tenant_id, u->tenant_id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, u->id, sizeof(sec.user_id));
	sec.created_at = now;
	sec.expires_at = now + a->cfg.challenge_ttl;
	return SOPS(a)->secret_put(ST(a), &sec);
}

ts_err
ts_auth_challenge_totp(ts_auth *a, const char *challenge_id, const char *code, ts_user *u,
                       int *retry_after)
{
	ts_factor_answer ans = { .code = code };

	/* The factor engine's rules (factor.c), with TOTP as the factor. */
	return ts_auth_factor_judge(a, challenge_id, "totp", &ans, u, retry_after);
}
