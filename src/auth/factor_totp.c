/* TOTP (RFC 6238) as a factor: the user's one row of kind TS_FACTOR_TOTP
 * (store.h keeps it in the factors table). Its replay rule is the row's
 * counter: the last accepted time step, moved forward by one guarded store
 * update (totp_use_step), so a code is good once (RFC 6238 §5.2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "auth/factor.h"
#include "core/util.h"
#include "crypto/hash.h"

/* The confirmed row, copied out of the store's callback. */
typedef struct totp_find {
	char id[TS_ID_SZ];
	int found;
} totp_find;

static int
take_row(void *arg, const ts_factor *f)
{
	totp_find *t = arg;

	if (!f->confirmed)
		return 0;
	ts_strlcpy(t->id, f->id, sizeof(t->id));
	t->found = 1;
	return 1;
}

static int
totp_usable(const ts_factor_ctx *c)
{
	return ts_auth_user_has_totp(c->a, c->user);
}

static ts_err
totp_verify(const ts_factor_ctx *c, const ts_factor_answer *ans, ts_factor *used)
{
	totp_find t = { 0 };
	ts_err r;

	if (!ans->code)
		return TS_E_MFA_INVALID;
	r = ts_auth_totp_check(c->a, c->user, ans->code);
	/* Removed since the challenge began: no factor, so no match. */
	if (r == TS_E_MFA_NOT_ENROLLED)
		return TS_E_MFA_INVALID;
	if (r != TS_OK)
		return r;
	/* The step is spent; record the use (informational, for listing). */
	if (SOPS(c->a)->factor_list(ST(c->a), c->user->id, TS_FACTOR_TOTP, take_row, &t) ==
	        TS_OK && t.found) {
		(void)SOPS(c->a)->factor_touch(ST(c->a), t.id, c->now);
		if (used)
			(void)SOPS(c->a)->factor_get(ST(c->a), c->user->id, t.id, used);
	}
	return TS_OK;
}

/* {"secret": base32, "otpauth_uri": uri}: the secret is shown once. */
static ts_err
totp_enrol_begin(const ts_factor_ctx *c, ts_factor_blob *out)
{
	char b32[64], *uri = NULL;
	size_t n;
	ts_err r;

	if ((r = ts_totp_enrol_new(c->a, c->user, b32, &uri)) != TS_OK)
		return r;
	/* base32 and an otpauth URI are JSON-safe text: no escaping needed
	 * (the URI is percent-encoded by ts_totp_uri). */
	n = strlen(b32) + strlen(uri) + 40;
	if ((out->json = malloc(n)) != NULL)
		snprintf(out->json, n, "{\"secret\":\"%s\",\"otpauth_uri\":\"%s\"}", b32, uri);
	ts_wipe(b32, sizeof(b32));
	free(uri);
	return out->json ? TS_OK : TS_E_NOMEM;
}

static ts_err
totp_enrol_finish(const ts_factor_ctx *c, const ts_factor_answer *ans, ts_factor_info *out)
{
	(void)out;
	if (!ans->code)
		return TS_E_INVALID;
	return ts_totp_enrol_confirm(c->a, c->user, ans->code);
}

static void
totp_describe(const ts_factor *row, ts_factor_info *out)
{
	if (!row->name[0])
		ts_strlcpy(out->name, "Authenticator app", sizeof(out->name));
}

const ts_factor_ops ts_factor_totp = {
	.kind = TS_FACTOR_TOTP,
	.name = "totp",
	.amr = "otp",                /* RFC 8176 §2: one-time password */
	.flags = 0,
	.usable = totp_usable,
	.enrol_begin = totp_enrol_begin,
	.enrol_finish = totp_enrol_finish,
	.verify = totp_verify,
	.describe = totp_describe,
};
