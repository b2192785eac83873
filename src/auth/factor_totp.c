/* TOTP (RFC 6238) as a factor: the row of kind TS_FACTOR_TOTP. */
#include "auth/factor.h"

const ts_factor_ops ts_factor_totp = {
	.kind = TS_FACTOR_TOTP,
	.name = "totp",
	.amr = "otp",
};
