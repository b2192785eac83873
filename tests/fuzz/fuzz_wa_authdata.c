/* Fuzzes the authenticatorData parser (WebAuthn §6.1, §6.5.2) and, through
 * it, the CBOR scanner and the COSE key parser. Invariants: every pointer
 * handed back lies inside the input (an exact-size heap copy, so ASan sees
 * any read past it), the parts add up to the whole, the caps hold. The
 * first byte picks a second target: the input as a lone CBOR item. */
#include "crypto/webauthn.h"
#include "fuzz.h"

#define INSIDE(p, n) ((p) >= buf && (p) + (n) <= buf + size)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf = malloc(size ? size : 1);
	ts_wa_authdata ad;
	size_t used;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	if (ts_wa_authdata_parse(buf, size, &ad) == TS_OK) {
		size_t parts = 37;

		FUZZ_CHECK(ad.raw == buf && ad.raw_len == size && size <= TS_WA_AUTHDATA_MAX);
		if (ad.flags & TS_WA_FLAG_AT) {
			FUZZ_CHECK(ad.cred_id_len >= 1 && ad.cred_id_len <= TS_WA_CRED_ID_MAX);
			FUZZ_CHECK(INSIDE(ad.cred_id, ad.cred_id_len) && INSIDE(ad.cose_key, ad.cose_key_len));
			FUZZ_CHECK(ad.key.alg == TS_WA_ES256 || ad.key.alg == TS_WA_EDDSA ||
			           ad.key.alg == TS_WA_RS256);
			parts += 18 + ad.cred_id_len + ad.cose_key_len;
		} else {
			FUZZ_CHECK(!ad.cred_id && !ad.cose_key);
		}
		if (ad.flags & TS_WA_FLAG_ED) {
			FUZZ_CHECK(INSIDE(ad.ext, ad.ext_len));
			parts += ad.ext_len;
		}
		FUZZ_CHECK(parts == size);
	}
	if (ts_cbor_scan(buf, size, TS_WA_CBOR_DEPTH, &used) == TS_OK)
		FUZZ_CHECK(used >= 1 && used <= size);
	{
		ts_wa_pubkey k;
		if (ts_wa_cose_parse(buf, size, &k) == TS_OK)
			FUZZ_CHECK(k.n_len <= sizeof(k.n) && k.e_len <= sizeof(k.e));
	}
	free(buf);
	return 0;
}
