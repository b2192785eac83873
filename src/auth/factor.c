/* The factor engine: the registry of factors and every rule they share
 * (factor.h). It runs a challenge, an enrolment or a removal without
 * knowing which factor it runs. */
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/factor.h"
#include "auth/webauthn.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/hash.h"

/* The order methods are listed in. A factor added here is offered
 * everywhere (factor_webauthn.c adds its two entries before recovery). */
const ts_factor_ops *const ts_factor_table[] = {
	&ts_factor_totp,
	&ts_factor_email,
	&ts_factor_passkey,
	&ts_factor_security_key,
	&ts_factor_recovery,
	NULL,
};

const ts_factor_ops *
ts_factor_by_name(const char *name)
{
	for (int i = 0; name && ts_factor_table[i]; i++)
		if (strcmp(ts_factor_table[i]->name, name) == 0)
			return ts_factor_table[i];
	return NULL;
}

const ts_factor_ops *
ts_factor_by_kind(ts_factor_kind k)
{
	for (int i = 0; ts_factor_table[i]; i++)
		if (ts_factor_table[i]->kind == k)
			return ts_factor_table[i];
	return NULL;
}

void
ts_factor_blob_free(ts_factor_blob *b)
{
	if (!b)
		return;
	free(b->json);
	b->json = NULL;
}
