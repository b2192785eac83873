/* Fuzzes the reader of stored hash strings (src/crypto/pwforeign.c), the
 * part of an import that judges text from another system, and the policy's
 * reader of typed passwords (src/auth/policy.c). Invariants: no read past
 * the string; a hash judged checkable has a class that is a prefix of it;
 * a reason is always one of the documented words. */
#include "auth/policy.h"
#include "crypto/password.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), cls[64];
	const char *why = NULL;
	ts_pw_reason r;
	ts_err e = ts_pw_hash_check(s, &why);

	FUZZ_CHECK(why != NULL);
	FUZZ_CHECK(e == TS_OK ? *why == '\0'
	                      : !strcmp(why, "unknown_hash_format") || !strcmp(why, "malformed_hash") ||
	                        !strcmp(why, "hash_cost_too_high"));
	ts_pw_class(s, cls, sizeof(cls));
	FUZZ_CHECK(strlen(cls) < sizeof(cls) && strncmp(cls, s, strlen(cls)) == 0);
	e = ts_password_check(NULL, "someone@example.com", s, strlen(s), &r);
	FUZZ_CHECK(e == TS_OK || e == TS_E_PASSWORD_POLICY || e == TS_E_INVALID);
	FUZZ_CHECK((e == TS_E_PASSWORD_POLICY) == (r != TS_PW_OK));
	free(s);
	return 0;
}
