/* Fuzzes api_bearer on an Authorization header value made from the input.
 * Invariants: a token is returned only for a "Bearer " header (any case),
 * points into the header, is an RFC 6750 b64token, and the header is not
 * longer than API_BEARER_MAX + 7. */
#include <ctype.h>
#include <strings.h>

#include "api/api_internal.h"
#include "fuzz.h"

static int
b64token_char(unsigned char c)
{
	return isalnum(c) || (c && strchr("-._~+/", c));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h = fuzz_cstr(data, size);
	ts_http_req req = { .method = "GET", .path = "/v1/auth/me", .authorization = h };
	const char *tok = api_bearer(&req);

	if (tok) {
		size_t n = strlen(h), i = 0;

		FUZZ_CHECK(n <= API_BEARER_MAX + 7);
		FUZZ_CHECK(strncasecmp(h, "Bearer ", 7) == 0);
		FUZZ_CHECK(tok >= h + 7 && tok < h + n);
		while (b64token_char((unsigned char)tok[i]))
			i++;
		FUZZ_CHECK(i > 0);
		while (tok[i] == '=')
			i++;
		FUZZ_CHECK(tok[i] == '\0');
		for (const char *p = h + 7; p < tok; p++)
			FUZZ_CHECK(*p == ' ');
	}
	/* No header at all. */
	req.authorization = NULL;
	FUZZ_CHECK(api_bearer(&req) == NULL);
	free(h);
	return 0;
}
