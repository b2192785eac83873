/* Fuzzes the base32 decoder used for TOTP secrets (RFC 4648 §6). Invariants:
 * no write past cap (exact-size heap buffers), the length is at most
 * 5/8 of the characters, and a smaller cap either gives the same prefix or
 * -1. */
#include "crypto/base32.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	size_t chars = strlen(s);
	size_t cap = chars * 5 / 8 + 1;
	unsigned char *out = malloc(cap);
	long n;

	if (!out)
		abort();
	n = ts_base32_decode(s, out, cap);
	FUZZ_CHECK(n >= -1 && n <= (long)(chars * 5 / 8));
	if (n > 0) {
		size_t small = (size_t)n - 1;
		unsigned char *t = malloc(small ? small : 1);
		if (!t)
			abort();
		FUZZ_CHECK(ts_base32_decode(s, t, small) == -1);
		free(t);
	}
	/* A TOTP-sized buffer, as the engine uses. */
	{
		unsigned char *t = malloc(20);
		long m;
		if (!t)
			abort();
		m = ts_base32_decode(s, t, 20);
		FUZZ_CHECK(m >= -1 && m <= 20);
		if (m >= 0 && n >= 0)
			FUZZ_CHECK(m == n && memcmp(t, out, (size_t)m) == 0);
		free(t);
	}
	free(out);
	free(s);
	return 0;
}
