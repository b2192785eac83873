/* Fuzzes the PublicKeyCredential.toJSON() parser (WebAuthn L3 §5.1.8) for
 * both ceremonies, and the client data inside a parsed one. Invariants:
 * every decoded part is within its cap, id and rawId agree, the
 * ceremony's members are present and the other's absent, and the free
 * leaves nothing behind (LeakSanitizer). The first byte picks the
 * ceremony. */
#include "crypto/b64url.h"
#include "crypto/webauthn.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ts_wa_credential c;
	ts_wa_client_data cd;
	ts_wa_ceremony kind;
	char *s;

	if (size < 1)
		return 0;
	kind = data[0] & 1 ? TS_WA_GET : TS_WA_CREATE;
	s = fuzz_cstr(data + 1, size - 1);
	if (ts_wa_credential_parse(s, size - 1, kind, &c) == TS_OK) {
		FUZZ_CHECK(c.raw_id && c.raw_id_len >= 1 && c.raw_id_len <= TS_WA_CRED_ID_MAX);
		FUZZ_CHECK(c.client_data && c.client_data_len <= TS_WA_CLIENT_DATA_MAX);
		if (kind == TS_WA_CREATE) {
			FUZZ_CHECK(c.attestation_object && c.attestation_object_len <= TS_WA_ATTOBJ_MAX);
			FUZZ_CHECK(!c.authenticator_data && !c.signature && !c.user_handle);
			FUZZ_CHECK(strlen(c.transports) < sizeof(c.transports));
		} else {
			FUZZ_CHECK(c.authenticator_data && c.authenticator_data_len <= TS_WA_AUTHDATA_MAX);
			FUZZ_CHECK(c.signature && c.signature_len <= TS_WA_SIG_MAX);
			FUZZ_CHECK(!c.user_handle || c.user_handle_len <= 64);
			FUZZ_CHECK(!c.attestation_object);
		}
		(void)ts_wa_client_data_parse(c.client_data, c.client_data_len, &cd);
		ts_wa_credential_free(&c);
		FUZZ_CHECK(!c.raw_id && !c.client_data);
	}
	free(s);
	return 0;
}
