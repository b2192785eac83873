/* TEMPORARY, until the factor engine (h-factors' factor.c) has these
 * calls: weak stand-ins so this branch links. factor.c's definitions
 * replace them; delete this file once they exist. */
#include "auth/factor.h"

__attribute__((weak)) ts_err
ts_auth_factor_challenge_begin(ts_auth *a, const char *challenge_id, const char *method,
                               ts_factor_blob *out, int *retry_after)
{
	(void)a, (void)challenge_id, (void)method, (void)out;
	*retry_after = 0;
	return TS_E_INTERNAL;
}

__attribute__((weak)) ts_err
ts_auth_factor_enrol_begin(ts_auth *a, const ts_principal *p, const char *method,
                           const char *variant, ts_factor_blob *out)
{
	(void)a, (void)p, (void)method, (void)variant, (void)out;
	return TS_E_INTERNAL;
}

__attribute__((weak)) ts_err
ts_auth_factor_enrol_finish(ts_auth *a, const ts_principal *p, const char *method,
                            const ts_factor_answer *ans, ts_factor_info *out, int *retry_after)
{
	(void)a, (void)p, (void)method, (void)ans, (void)out;
	*retry_after = 0;
	return TS_E_INTERNAL;
}
