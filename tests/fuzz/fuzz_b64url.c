/* Fuzzes the base64url decoder (RFC 4648 §5, no padding). Invariants: the
 * decoder never writes past outcap (buffers are exact-size heap blocks, so
 * ASan sees any overrun), a decoded text re-encodes to exactly the input
 * (the decoder refuses non-canonical trailing bits), and the encoder's
 * length matches ts_b64url_enclen. */
#include "crypto/b64url.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_bytes(data, size);
	size_t full = size / 4 * 3 + 3;           /* more than enough */
	unsigned char *out = malloc(full);
	long n;

	if (!out)
		abort();
	n = ts_b64url_decode(s, size, out, full);
	FUZZ_CHECK(n >= -1 && n <= (long)full);
	if (n >= 0) {
		char *enc = malloc(ts_b64url_enclen((size_t)n) + 1);
		size_t m;

		if (!enc)
			abort();
		m = ts_b64url_encode(out, (size_t)n, enc);
		FUZZ_CHECK(m == ts_b64url_enclen((size_t)n));
		FUZZ_CHECK(m == size && memcmp(enc, s, size) == 0);
		free(enc);

		/* One byte short of what it needs: refused, never an overrun. */
		if (n > 0) {
			unsigned char *tight = malloc((size_t)n - 1 ? (size_t)n - 1 : 1);
			if (!tight)
				abort();
			FUZZ_CHECK(ts_b64url_decode(s, size, tight, (size_t)n - 1) == -1);
			free(tight);
		}
		/* Exactly what it needs: the same bytes. */
		unsigned char *exact = malloc(n ? (size_t)n : 1);
		if (!exact)
			abort();
		FUZZ_CHECK(ts_b64url_decode(s, size, exact, (size_t)n) == n);
		FUZZ_CHECK(memcmp(exact, out, (size_t)n) == 0);
		free(exact);
	}
	/* The input as raw bytes: encode then decode round-trips. */
	{
		char *enc = malloc(ts_b64url_enclen(size) + 1);
		unsigned char *dec = malloc(size ? size : 1);
		size_t m;

		if (!enc || !dec)
			abort();
		m = ts_b64url_encode(data, size, enc);
		FUZZ_CHECK(enc[m] == '\0');
		FUZZ_CHECK(ts_b64url_decode(enc, m, dec, size) == (long)size);
		FUZZ_CHECK(size == 0 || memcmp(dec, data, size) == 0);
		free(enc);
		free(dec);
	}
	free(out);
	free(s);
	return 0;
}
