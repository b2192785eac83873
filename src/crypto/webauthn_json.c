/* The JSON forms of the browser's WebAuthn API (webauthn.h): credentials
 * as PublicKeyCredential.toJSON() gives them, options as
 * parseCreationOptionsFromJSON() / parseRequestOptionsFromJSON() read
 * them. Kept in this layer, beside the byte formats, so that the engine
 * sees decoded bytes only. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/b64url.h"
#include "crypto/webauthn.h"

/* The whole credential text: its parts are capped below, this bounds the
 * parse (base64url of a 16 KiB attestation object and the rest). */
#define CREDENTIAL_JSON_MAX 32768

/* Decodes member name of o (a base64url string of 1..max bytes) into a
 * malloc'd buffer. 0, or -1 when absent (and required), malformed or too
 * long. */
static int
b64_member(json_t *o, const char *name, size_t max, int required, unsigned char **out,
           size_t *len)
{
	json_t *v = json_object_get(o, name);
	size_t sl;
	long n;

	*out = NULL;
	*len = 0;
	if (!v || json_is_null(v))
		return required ? -1 : 0;
	if (!json_is_string(v) || (sl = json_string_length(v)) == 0 || sl > (max * 4 + 2) / 3)
		return -1;
	if (!(*out = malloc(sl)))
		return -1;
	n = ts_b64url_decode(json_string_value(v), sl, *out, sl);
	if (n <= 0 || (size_t)n > max) {
		free(*out);
		*out = NULL;
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

/* §5.8.4 AuthenticatorTransport: the values we keep; others are dropped
 * (clients must ignore unknown ones, and so do we). */
static void
transports_of(json_t *arr, char out[96])
{
	static const char *const known[] = { "usb", "nfc", "ble", "smart-card", "hybrid", "internal", NULL };
	size_t i;
	json_t *v;

	out[0] = '\0';
	if (!json_is_array(arr))
		return;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		for (int k = 0; s && known[k]; k++) {
			if (strcmp(s, known[k]) != 0 || strstr(out, known[k]))
				continue;
			if (out[0])
				strcat(out, ",");
			strcat(out, known[k]);
		}
		if (i >= 8)
			break;
	}
}

void
ts_wa_credential_free(ts_wa_credential *c)
{
	if (!c)
		return;
	free(c->raw_id);
	free(c->client_data);
	free(c->attestation_object);
	free(c->authenticator_data);
	free(c->signature);
	free(c->user_handle);
	memset(c, 0, sizeof(*c));
}

ts_err
ts_wa_credential_parse(const char *json, size_t n, ts_wa_ceremony kind, ts_wa_credential *out)
{
	json_t *root = NULL, *resp, *id;
	json_error_t jerr;
	char *raw_b64 = NULL;
	ts_err r = TS_E_INVALID;

	memset(out, 0, sizeof(*out));
	if (!json || n == 0 || n > CREDENTIAL_JSON_MAX)
		return TS_E_INVALID;
	root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root))
		goto out;
	if (!json_is_string(json_object_get(root, "type")) ||
	    strcmp(json_string_value(json_object_get(root, "type")), "public-key") != 0)
		goto out;
	resp = json_object_get(root, "response");
	if (!json_is_object(resp))
		goto out;
	if (b64_member(root, "rawId", TS_WA_CRED_ID_MAX, 1, &out->raw_id, &out->raw_id_len) != 0)
		goto out;
	/* id is rawId in base64url (§5.1): two spellings of one id must agree */
	id = json_object_get(root, "id");
	if (!json_is_string(id) || !(raw_b64 = malloc(ts_b64url_enclen(out->raw_id_len) + 1)))
		goto out;
	ts_b64url_encode(out->raw_id, out->raw_id_len, raw_b64);
	if (strcmp(raw_b64, json_string_value(id)) != 0)
		goto out;
	if (b64_member(resp, "clientDataJSON", TS_WA_CLIENT_DATA_MAX, 1, &out->client_data,
	               &out->client_data_len) != 0)
		goto out;
	if (kind == TS_WA_CREATE) {
		if (b64_member(resp, "attestationObject", TS_WA_ATTOBJ_MAX, 1, &out->attestation_object,
		               &out->attestation_object_len) != 0)
			goto out;
		transports_of(json_object_get(resp, "transports"), out->transports);
	} else {
		if (b64_member(resp, "authenticatorData", TS_WA_AUTHDATA_MAX, 1,
		               &out->authenticator_data, &out->authenticator_data_len) != 0 ||
		    b64_member(resp, "signature", TS_WA_SIG_MAX, 1, &out->signature,
		               &out->signature_len) != 0 ||
		    b64_member(resp, "userHandle", 64, 0, &out->user_handle, &out->user_handle_len) != 0)
			goto out;
	}
	r = TS_OK;
out:
	free(raw_b64);
	json_decref(root);
	if (r != TS_OK)
		ts_wa_credential_free(out);
	return r;
}

/* ---- options ---- */

static json_t *
b64_value(const unsigned char *p, size_t n)
{
	char *s = malloc(ts_b64url_enclen(n) + 1);
	json_t *v;

	if (!s)
		return NULL;
	ts_b64url_encode(p, n, s);
	v = json_string(s);
	free(s);
	return v;
}

/* [{type, id, transports}] */
static json_t *
cred_list(const ts_wa_options *o)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < o->n_creds; i++) {
		json_t *tr = json_array();
		const char *p = o->creds[i].transports;

		while (tr && p && *p) {
			size_t len = strcspn(p, ",");
			json_array_append_new(tr, json_stringn(p, len));
			p += len + (p[len] == ',');
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o*}", "type", "public-key", "id",
		                                     o->creds[i].id_b64, "transports", tr));
	}
	return arr;
}

static char *
dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

char *
ts_wa_creation_options_json(const ts_wa_options *o)
{
	/* §5.4: ES256 first (every authenticator has it), then EdDSA, RS256 */
	json_t *params = json_pack("[{s:s,s:i},{s:s,s:i},{s:s,s:i}]",
	                           "type", "public-key", "alg", (int)TS_WA_ES256,
	                           "type", "public-key", "alg", (int)TS_WA_EDDSA,
	                           "type", "public-key", "alg", (int)TS_WA_RS256);

	return dump(json_pack("{s:{s:s,s:s}, s:{s:o*,s:s,s:s}, s:o*, s:o*, s:I, s:o*, s:{s:s,s:b,s:s}, s:s}",
	                      "rp", "id", o->rp_id, "name", o->rp_name,
	                      "user", "id", b64_value(o->user_id, o->user_id_len), "name", o->user_name,
	                      "displayName", o->user_name,
	                      "challenge", b64_value(o->challenge, o->challenge_len),
	                      "pubKeyCredParams", params,
	                      "timeout", (json_int_t)o->timeout_ms,
	                      "excludeCredentials", cred_list(o),
	                      "authenticatorSelection",
	                      "residentKey", o->resident_key ? "required" : "discouraged",
	                      "requireResidentKey", o->resident_key,
	                      "userVerification", o->uv_required ? "required" : "discouraged",
	                      "attestation", "none"));
}

char *
ts_wa_request_options_json(const ts_wa_options *o)
{
	return dump(json_pack("{s:o*, s:I, s:s, s:o*, s:s}",
	                      "challenge", b64_value(o->challenge, o->challenge_len),
	                      "timeout", (json_int_t)o->timeout_ms,
	                      "rpId", o->rp_id,
	                      "allowCredentials", cred_list(o),
	                      "userVerification", o->uv_required ? "required" : "discouraged"));
}
