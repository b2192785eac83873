/* Fuzzes the clientDataJSON parser (WebAuthn §5.8.1). Invariants: a parse
 * either fails or gives a known type, a challenge within its buffer and a
 * NUL-terminated origin within its cap. */
#include "crypto/webauthn.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ts_wa_client_data cd;
	unsigned char *copy = malloc(size ? size : 1);

	if (!copy)
		abort();
	memcpy(copy, data, size);
	if (ts_wa_client_data_parse(copy, size, &cd) == TS_OK) {
		FUZZ_CHECK(cd.type == TS_WA_CREATE || cd.type == TS_WA_GET);
		FUZZ_CHECK(cd.challenge_len > 0 && cd.challenge_len <= sizeof(cd.challenge));
		FUZZ_CHECK(strlen(cd.origin) > 0 && strlen(cd.origin) <= TS_WA_ORIGIN_MAX);
		FUZZ_CHECK(size <= TS_WA_CLIENT_DATA_MAX);
	}
	free(copy);
	return 0;
}
