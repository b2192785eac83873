/* The password policy (policy.h). */
#include "auth/policy.h"

const char *
ts_pw_reason_word(ts_pw_reason r)
{
	switch (r) {
#define TS_PW_REASON_CASE(name, word) case name: return word;
	TS_PW_REASON_TABLE(TS_PW_REASON_CASE)
#undef TS_PW_REASON_CASE
	}
	return "unknown";
}

int
ts_password_min_length(const ts_tenant *t)
{
	int min = t && t->mfa_required ? TS_PW_MIN_MFA : TS_PW_MIN_SINGLE;

	if (t && t->password_min_length > min)
		min = t->password_min_length;
	return min;
}

/* Stub: lengths in bytes only; the passwords work (issue 9) counts
 * characters after NFKC and adds the list and the context words. */
ts_err
ts_password_check(const ts_tenant *t, const char *email, const char *pw, size_t pw_len,
                  ts_pw_reason *why)
{
	(void)email;
	(void)pw;
	*why = TS_PW_OK;
	if (pw_len > TS_PW_MAX_BYTES)
		*why = TS_PW_TOO_LONG;
	else if (pw_len < (size_t)ts_password_min_length(t))
		*why = TS_PW_TOO_SHORT;
	return *why == TS_PW_OK ? TS_OK : TS_E_PASSWORD_POLICY;
}
