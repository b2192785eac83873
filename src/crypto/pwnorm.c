/* NFKC of passwords (NIST SP 800-63B rev. 4 §3.1.1.2: "the verifier SHOULD
 * apply the Normalization Process for Stabilized Strings using either the
 * NFKC or NFKD normalization"), via libunistring. */
#include <stdlib.h>
#include <string.h>
#include <unistr.h>
#include <uninorm.h>

#include "crypto/hash.h"
#include "crypto/password.h"

ts_err
ts_pw_nfkc(const char *pw, size_t len, char **out, size_t *out_len)
{
	uint8_t *n;
	size_t nlen = 0;

	*out = NULL;
	*out_len = 0;
	if (pw == NULL || u8_check((const uint8_t *)pw, len) != NULL)
		return TS_E_INVALID;
	/* libunistring allocates the result (NULL resultbuf); its work
	 * buffers are its own. */
	n = u8_normalize(UNINORM_NFKC, (const uint8_t *)pw, len, NULL, &nlen);
	if (n == NULL && len > 0)
		return TS_E_NOMEM;
	char *s = malloc(nlen + 1);
	if (s == NULL) {
		if (n)
			ts_wipe(n, nlen);
		free(n);
		return TS_E_NOMEM;
	}
	if (nlen)
		memcpy(s, n, nlen);
	s[nlen] = '\0';
	if (n)
		ts_wipe(n, nlen);
	free(n);
	*out = s;
	*out_len = nlen;
	return TS_OK;
}

void
ts_pw_nfkc_free(char *p, size_t len)
{
	if (p == NULL)
		return;
	ts_wipe(p, len + 1);
	free(p);
}
