/* Recovery codes as a factor: one row per set of 10 single-use codes. */
#include "auth/factor.h"

const ts_factor_ops ts_factor_recovery = {
	.kind = TS_FACTOR_RECOVERY,
	.name = "recovery_code",
	.amr = "otp",
	.flags = TS_FACTOR_F_BACKUP,
};
