/* The account life cycle (issue 9): sign-up, address verification,
 * password reset and change, invitations. Mail goes through the store's
 * outbox. */
#ifndef TS_AUTH_ACCOUNT_H
#define TS_AUTH_ACCOUNT_H

#include "core/err.h"
#include "store/store.h"

typedef struct ts_auth ts_auth;

/* Mails user u of tenant t an invitation: a single-use link to set a
 * first password (an account created by an administrator without one). */
ts_err ts_account_invite(ts_auth *a, const ts_tenant *t, const ts_user *u);

#endif
