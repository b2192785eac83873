/* The account life cycle (account.h). */
#include "auth/account.h"

/* Stub until the outbox exists. */
ts_err
ts_account_invite(ts_auth *a, const ts_tenant *t, const ts_user *u)
{
	(void)a;
	(void)t;
	(void)u;
	return TS_E_MAIL_UNCONFIGURED;
}
