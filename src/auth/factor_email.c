/* A 6-digit code mailed per challenge, as a factor (no row). */
#include "auth/factor.h"

const ts_factor_ops ts_factor_email = {
	.kind = TS_FACTOR_EMAIL,
	.name = "email",
	.amr = "mca",
	.flags = TS_FACTOR_F_ROWLESS,
};
