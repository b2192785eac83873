/* WebAuthn's byte formats and signature checks (see webauthn.h). The
 * clientDataJSON is parsed with jansson, which this layer already uses for
 * JWTs: the input is capped at 4 KiB before parsing (bounding jansson's
 * recursion and allocations), duplicate keys are refused so no two readers
 * can see two different objects, and only the members §5.8.1 defines are
 * read. A hand-written "limited verification" parser (§5.8.1.2) would be a
 * second JSON parser to fuzz for no gain. */
#include <string.h>

#include <cbor.h>
#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>
#include <fido/rs256.h>
#include <jansson.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/b64url.h"
#include "crypto/webauthn.h"

/* ---- CBOR (RFC 8949) ---- */

/* One item's head at p[0..n): major type, argument, head length. 0 or -1
 * (truncated, reserved additional info, indefinite length). */
static int
cbor_head(const unsigned char *p, size_t n, int *major, uint64_t *arg, size_t *hlen)
{
	unsigned ai;
	size_t k, i;

	if (n < 1)
		return -1;
	*major = p[0] >> 5;
	ai = p[0] & 31u;
	if (ai < 24) {
		*arg = ai;
		*hlen = 1;
		return 0;
	}
	if (ai > 27)
		return -1;           /* 28-30 reserved, 31 indefinite (§3.2) */
	k = (size_t)1 << (ai - 24);
	if (n < 1 + k)
		return -1;
	*arg = 0;
	for (i = 0; i < k; i++)
		*arg = (*arg << 8) | p[1 + i];
	*hlen = 1 + k;
	return 0;
}

ts_err
ts_cbor_scan(const unsigned char *p, size_t n, int max_depth, size_t *used)
{
	uint64_t left[TS_WA_CBOR_DEPTH + 1];
	size_t pos = 0, hlen;
	int depth = 0, major;
	uint64_t arg;

	*used = 0;
	if (max_depth < 0 || max_depth > TS_WA_CBOR_DEPTH)
		return TS_E_INVALID;
	left[0] = 1;
	for (;;) {
		if (left[depth] == 0) {
			if (depth == 0)
				break;
			depth--;
			continue;
		}
		left[depth]--;
		if (cbor_head(p + pos, n - pos, &major, &arg, &hlen) != 0)
			return TS_E_INVALID;
		pos += hlen;
		switch (major) {
		case 0: case 1:      /* integers */
			break;
		case 2: case 3:      /* byte and text strings */
			if (arg > n - pos)
				return TS_E_INVALID;
			pos += (size_t)arg;
			break;
		case 4: case 5:      /* arrays and maps: each member takes a byte at least */
			if (major == 5 && arg > UINT64_MAX / 2)
				return TS_E_INVALID;
			if (major == 5)
				arg *= 2;
			if (arg > n - pos)
				return TS_E_INVALID;
			if (arg == 0)
				break;
			if (depth + 1 > max_depth)
				return TS_E_INVALID;
			left[++depth] = arg;
			break;
		case 6:              /* tags: CTAP2 canonical CBOR has none */
			return TS_E_INVALID;
		default:             /* 7: false, true, null, undefined, floats */
			if (!((arg >= 20 && arg <= 23 && hlen == 1) || hlen >= 3))
				return TS_E_INVALID;
			break;
		}
	}
	*used = pos;
	return TS_OK;
}

/* An integer item's value (RFC 8949 §3.1: major 1 means -1 - n). */
static int
cbor_int_value(const cbor_item_t *it, int64_t *v)
{
	uint64_t u;

	if (!cbor_isa_uint(it) && !cbor_isa_negint(it))
		return -1;
	u = cbor_get_int(it);
	if (u > INT64_MAX)
		return -1;
	*v = cbor_isa_uint(it) ? (int64_t)u : -1 - (int64_t)u;
	return 0;
}

static int
cbor_text_is(const cbor_item_t *it, const char *s)
{
	size_t n = strlen(s);

	return cbor_isa_string(it) && cbor_string_is_definite(it) &&
	       cbor_string_length(it) == n && memcmp(cbor_string_handle(it), s, n) == 0;
}

/* Loads p[0..n) with libcbor after our scanner has vouched for its form
 * (exactly one item, depth capped). Caller cbor_decref()s. */
static cbor_item_t *
cbor_load_checked(const unsigned char *p, size_t n)
{
	struct cbor_load_result res;
	cbor_item_t *it;
	size_t used;

	if (ts_cbor_scan(p, n, TS_WA_CBOR_DEPTH, &used) != TS_OK || used != n)
		return NULL;
	it = cbor_load(p, n, &res);
	if (it && (res.error.code != CBOR_ERR_NONE || res.read != n)) {
		cbor_decref(&it);
		return NULL;
	}
	return it;
}

/* ---- client data ---- */

ts_err
ts_wa_client_data_parse(const unsigned char *json, size_t n, ts_wa_client_data *out)
{
	json_t *root = NULL, *v;
	json_error_t jerr;
	const char *s;
	long len;
	ts_err r = TS_E_INVALID;

	memset(out, 0, sizeof(*out));
	if (!json || n == 0 || n > TS_WA_CLIENT_DATA_MAX)
		return TS_E_INVALID;
	root = json_loadb((const char *)json, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root))
		goto out;
	/* §5.8.1: type */
	s = json_string_value(json_object_get(root, "type"));
	if (s && strcmp(s, "webauthn.create") == 0)
		out->type = TS_WA_CREATE;
	else if (s && strcmp(s, "webauthn.get") == 0)
		out->type = TS_WA_GET;
	else
		goto out;
	/* challenge: base64url of the raw bytes the RP sent */
	v = json_object_get(root, "challenge");
	if (!json_is_string(v))
		goto out;
	len = ts_b64url_decode(json_string_value(v), json_string_length(v), out->challenge,
	                       sizeof(out->challenge));
	if (len <= 0)
		goto out;
	out->challenge_len = (size_t)len;
	v = json_object_get(root, "origin");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > TS_WA_ORIGIN_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		goto out;
	memcpy(out->origin, json_string_value(v), json_string_length(v) + 1);
	v = json_object_get(root, "crossOrigin");
	if (v && !json_is_boolean(v) && !json_is_null(v))
		goto out;
	out->cross_origin = json_is_true(v);
	v = json_object_get(root, "topOrigin");
	if (v && !json_is_string(v))
		goto out;
	out->has_top_origin = v != NULL;
	r = TS_OK;
out:
	json_decref(root);
	return r;
}

/* ---- COSE keys ---- */

enum {
	COSE_KTY = 1, COSE_ALG = 3, COSE_P1 = -1, COSE_P2 = -2, COSE_P3 = -3,
	KTY_OKP = 1, KTY_EC2 = 2, KTY_RSA = 3, CRV_P256 = 1, CRV_ED25519 = 6,
};

/* Copies a definite byte string of length in [min, max] to dst. */
static int
cbor_bytes_to(const cbor_item_t *it, unsigned char *dst, size_t min, size_t max, size_t *len)
{
	size_t n;

	if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
		return -1;
	n = cbor_bytestring_length(it);
	if (n < min || n > max)
		return -1;
	memcpy(dst, cbor_bytestring_handle(it), n);
	if (len)
		*len = n;
	return 0;
}

ts_err
ts_wa_cose_parse(const unsigned char *p, size_t n, ts_wa_pubkey *out)
{
	cbor_item_t *root = NULL;
	struct cbor_pair *pairs;
	int64_t kty = 0, alg = 0, crv = 0, label;
	unsigned seen = 0;
	size_t i, cnt;
	ts_err r = TS_E_INVALID;

	memset(out, 0, sizeof(*out));
	if (n > TS_WA_COSE_MAX || !(root = cbor_load_checked(p, n)))
		return TS_E_INVALID;
	if (!cbor_isa_map(root) || !cbor_map_is_definite(root))
		goto out;
	pairs = cbor_map_handle(root);
	cnt = cbor_map_size(root);
	/* First pass: kty and alg decide how the parameters read. */
	for (i = 0; i < cnt; i++) {
		if (cbor_int_value(pairs[i].key, &label) != 0)
			goto out;        /* RFC 9052 §7: labels are ints or texts; ours are ints */
		if (label == COSE_KTY && cbor_int_value(pairs[i].value, &kty) != 0)
			goto out;
		if (label == COSE_ALG && cbor_int_value(pairs[i].value, &alg) != 0)
			goto out;
	}
	if (!((alg == TS_WA_ES256 && kty == KTY_EC2) || (alg == TS_WA_EDDSA && kty == KTY_OKP) ||
	      (alg == TS_WA_RS256 && kty == KTY_RSA)))
		goto out;
	out->alg = (ts_wa_alg)alg;
	for (i = 0; i < cnt; i++) {
		unsigned bit;
		int bad = 0;

		(void)cbor_int_value(pairs[i].key, &label);
		if (label < -3 || label > 3)
			continue;    /* kid (2), key_ops (4)...: not ours to judge */
		bit = 1u << (label + 3);
		if (seen & bit)
			goto out;    /* a label twice: two readers could differ */
		seen |= bit;
		if (kty == KTY_RSA && label == COSE_P1)      /* RFC 8230 §4: n */
			bad = cbor_bytes_to(pairs[i].value, out->n, 1, sizeof(out->n), &out->n_len);
		else if (kty == KTY_RSA && label == COSE_P2) /* e */
			bad = cbor_bytes_to(pairs[i].value, out->e, 1, sizeof(out->e), &out->e_len);
		else if (kty != KTY_RSA && label == COSE_P1) /* RFC 9053 §7.1: crv */
			bad = cbor_int_value(pairs[i].value, &crv);
		else if (kty != KTY_RSA && label == COSE_P2) /* x */
			bad = cbor_bytes_to(pairs[i].value, out->x, 32, 32, NULL);
		else if (kty == KTY_EC2 && label == COSE_P3) /* y */
			bad = cbor_bytes_to(pairs[i].value, out->y, 32, 32, NULL);
		if (bad)
			goto out;
	}
	if (kty == KTY_RSA) {
		if (!(seen & (1u << 2)) || !(seen & (1u << 1)) || out->n[0] == 0)
			goto out;
	} else if (kty == KTY_EC2) {
		if (crv != CRV_P256 || !(seen & (1u << 1)) || !(seen & 1u))
			goto out;
	} else if (crv != CRV_ED25519 || !(seen & (1u << 1))) {
		goto out;
	}
	r = TS_OK;
out:
	if (root)
		cbor_decref(&root);
	return r;
}

/* ---- authenticator data ---- */

ts_err
ts_wa_authdata_parse(const unsigned char *p, size_t n, ts_wa_authdata *out)
{
	size_t pos = 37, used;

	memset(out, 0, sizeof(*out));
	if (!p || n < 37 || n > TS_WA_AUTHDATA_MAX)
		return TS_E_INVALID;
	out->raw = p;
	out->raw_len = n;
	out->rp_id_hash = p;
	out->flags = p[32];
	out->sign_count = (uint32_t)p[33] << 24 | (uint32_t)p[34] << 16 | (uint32_t)p[35] << 8 | p[36];
	if (out->flags & TS_WA_FLAG_AT) {
		/* §6.5.2: aaguid(16) credentialIdLength(2) credentialId credentialPublicKey */
		if (n - pos < 18)
			return TS_E_INVALID;
		memcpy(out->aaguid, p + pos, 16);
		out->cred_id_len = (size_t)p[pos + 16] << 8 | p[pos + 17];
		pos += 18;
		if (out->cred_id_len == 0 || out->cred_id_len > TS_WA_CRED_ID_MAX ||
		    out->cred_id_len > n - pos)
			return TS_E_INVALID;
		out->cred_id = p + pos;
		pos += out->cred_id_len;
		if (ts_cbor_scan(p + pos, n - pos, TS_WA_CBOR_DEPTH, &used) != TS_OK ||
		    used > TS_WA_COSE_MAX)
			return TS_E_INVALID;
		out->cose_key = p + pos;
		out->cose_key_len = used;
		if (ts_wa_cose_parse(out->cose_key, used, &out->key) != TS_OK)
			return TS_E_INVALID;
		pos += used;
	}
	if (out->flags & TS_WA_FLAG_ED) {
		/* §6.1: a CBOR map of extension outputs; its entries are skipped */
		if (pos >= n || (p[pos] >> 5) != 5 ||
		    ts_cbor_scan(p + pos, n - pos, TS_WA_CBOR_DEPTH, &used) != TS_OK)
			return TS_E_INVALID;
		out->ext = p + pos;
		out->ext_len = used;
		pos += used;
	}
	return pos == n ? TS_OK : TS_E_INVALID;
}

/* ---- attestation object ---- */

/* packed's attStmt (§8.2): {alg, sig, x5c?} and nothing else. */
static ts_err
packed_stmt_parse(ts_wa_attestation *out)
{
	cbor_item_t *root = cbor_load_checked(out->att_stmt, out->att_stmt_len);
	struct cbor_pair *pairs;
	int64_t alg = 0;
	int has_sig = 0;
	size_t i;
	ts_err r = TS_E_INVALID;

	if (!root)
		return TS_E_INVALID;
	if (!cbor_isa_map(root) || !cbor_map_is_definite(root))
		goto out;
	pairs = cbor_map_handle(root);
	for (i = 0; i < cbor_map_size(root); i++) {
		const cbor_item_t *k = pairs[i].key, *v = pairs[i].value;

		if (cbor_text_is(k, "alg") && !alg) {
			if (cbor_int_value(v, &alg) != 0 || alg == 0)
				goto out;
		} else if (cbor_text_is(k, "sig") && !has_sig) {
			if (!cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v) ||
			    cbor_bytestring_length(v) == 0 || cbor_bytestring_length(v) > TS_WA_SIG_MAX)
				goto out;
			has_sig = 1;
		} else if (cbor_text_is(k, "x5c") && !out->has_x5c) {
			size_t j;

			if (!cbor_isa_array(v) || !cbor_array_is_definite(v) || cbor_array_size(v) == 0)
				goto out;
			for (j = 0; j < cbor_array_size(v); j++) {
				cbor_item_t *c = cbor_array_get(v, j);
				int ok = cbor_isa_bytestring(c) && cbor_bytestring_is_definite(c) &&
				         cbor_bytestring_length(c) > 0;

				cbor_decref(&c);
				if (!ok)
					goto out;
			}
			out->has_x5c = 1;
		} else {
			goto out;
		}
	}
	if (!alg || !has_sig)
		goto out;
	if (alg != TS_WA_ES256 && alg != TS_WA_EDDSA && alg != TS_WA_RS256)
		goto out;
	out->stmt_alg = (ts_wa_alg)alg;
	r = TS_OK;
out:
	cbor_decref(&root);
	return r;
}

ts_err
ts_wa_attestation_parse(const unsigned char *p, size_t n, ts_wa_attestation *out)
{
	const unsigned char *ad = NULL;
	size_t pos, hlen, used, ad_len = 0;
	uint64_t arg;
	int major, i, have_fmt = 0;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!p || n == 0 || n > TS_WA_ATTOBJ_MAX)
		return TS_E_INVALID;
	if (ts_cbor_scan(p, n, TS_WA_CBOR_DEPTH, &used) != TS_OK || used != n)
		return TS_E_INVALID;
	/* §6.5.4: a map of exactly fmt, attStmt and authData. Walked by hand
	 * so that authData and attStmt stay pointers into the input (the
	 * scan above vouched for every length). */
	if (cbor_head(p, n, &major, &arg, &hlen) != 0 || major != 5 || arg != 3)
		return TS_E_INVALID;
	pos = hlen;
	for (i = 0; i < 3; i++) {
		const unsigned char *key;
		size_t klen;

		if (cbor_head(p + pos, n - pos, &major, &arg, &hlen) != 0 || major != 3)
			return TS_E_INVALID;
		key = p + pos + hlen;
		klen = (size_t)arg;
		pos += hlen + klen;
		if (ts_cbor_scan(p + pos, n - pos, TS_WA_CBOR_DEPTH, &used) != TS_OK ||
		    cbor_head(p + pos, n - pos, &major, &arg, &hlen) != 0)
			return TS_E_INVALID;
		if (klen == 3 && memcmp(key, "fmt", 3) == 0 && !have_fmt) {
			if (major != 3 || arg == 0 || arg > TS_WA_FMT_MAX)
				return TS_E_INVALID;
			memcpy(out->fmt, p + pos + hlen, (size_t)arg);
			out->fmt[arg] = '\0';
			have_fmt = 1;
		} else if (klen == 7 && memcmp(key, "attStmt", 7) == 0 && !out->att_stmt) {
			if (major != 5)
				return TS_E_INVALID;
			out->att_stmt = p + pos;
			out->att_stmt_len = used;
		} else if (klen == 8 && memcmp(key, "authData", 8) == 0 && !ad) {
			if (major != 2)
				return TS_E_INVALID;
			ad = p + pos + hlen;
			ad_len = (size_t)arg;
		} else {
			return TS_E_INVALID;
		}
		pos += used;
	}
	if (!have_fmt || !out->att_stmt || !ad || pos != n)
		return TS_E_INVALID;
	if ((r = ts_wa_authdata_parse(ad, ad_len, &out->auth)) != TS_OK)
		return r;
	/* §7.1 step 13 feeds step 20 onwards: a registration carries the new
	 * credential. */
	if (!(out->auth.flags & TS_WA_FLAG_AT))
		return TS_E_INVALID;
	/* §7.1 step 21: fmt is matched case-sensitively. */
	if (strcmp(out->fmt, "packed") == 0)
		return packed_stmt_parse(out);
	if (strcmp(out->fmt, "none") == 0)
		/* §8.7: the none statement is an empty map. */
		return out->att_stmt_len == 1 && out->att_stmt[0] == 0xa0 ? TS_OK : TS_E_INVALID;
	return TS_E_INVALID;
}

/* ---- verification (libfido2) ---- */

/* §8.2.1: the requirements on a packed attestation certificate: version
 * 3, subject OU "Authenticator Attestation", not a CA, and the
 * id-fido-gen-ce-aaguid extension, when present, equal to the aaguid. */
static ts_err
packed_cert_check(const unsigned char *der, size_t len, const unsigned char aaguid[16])
{
	const unsigned char *q = der;
	X509 *x = d2i_X509(NULL, &q, (long)len);
	X509_NAME *sub;
	ASN1_OBJECT *oid = NULL;
	char ou[64];
	int idx;
	ts_err r = TS_E_INVALID;

	if (!x || q != der + len)
		goto out;
	if (X509_get_version(x) != 2 || X509_check_ca(x) != 0)
		goto out;
	sub = X509_get_subject_name(x);
	if (!sub || X509_NAME_get_text_by_NID(sub, NID_organizationalUnitName, ou, sizeof(ou)) < 0 ||
	    strcmp(ou, "Authenticator Attestation") != 0)
		goto out;
	if (!(oid = OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1)))
		goto out;
	idx = X509_get_ext_by_OBJ(x, oid, -1);
	if (idx >= 0) {
		/* The extension's value is an OCTET STRING holding the 16 bytes,
		 * DER: 04 10 <aaguid>. */
		X509_EXTENSION *e = X509_get_ext(x, idx);
		ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);

		if (X509_EXTENSION_get_critical(e) || ASN1_STRING_length(v) != 18 ||
		    ASN1_STRING_get0_data(v)[0] != 0x04 || ASN1_STRING_get0_data(v)[1] != 16 ||
		    memcmp(ASN1_STRING_get0_data(v) + 2, aaguid, 16) != 0)
			goto out;
	}
	r = TS_OK;
out:
	ASN1_OBJECT_free(oid);
	X509_free(x);
	return r;
}

/* The extension outputs of authData in the form fido_cred_verify compares
 * them with (it refuses outputs nobody asked for): credProtect and
 * hmac-secret are passed on, any other known one fails the check. */
static int
cred_set_extensions(fido_cred_t *c, const ts_wa_authdata *ad)
{
	cbor_item_t *root;
	struct cbor_pair *pairs;
	size_t i;
	int ok = -1;

	if (!ad->ext)
		return 0;
	if (!(root = cbor_load_checked(ad->ext, ad->ext_len)))
		return -1;
	pairs = cbor_map_handle(root);
	for (i = 0; i < cbor_map_size(root); i++) {
		int64_t v;

		if (cbor_text_is(pairs[i].key, "credProtect")) {
			if (cbor_int_value(pairs[i].value, &v) != 0 || v < 1 || v > 3 ||
			    fido_cred_set_prot(c, (int)v) != FIDO_OK)
				goto out;
		} else if (cbor_text_is(pairs[i].key, "hmac-secret")) {
			if (cbor_is_bool(pairs[i].value) && cbor_get_bool(pairs[i].value) &&
			    fido_cred_set_extensions(c, FIDO_EXT_HMAC_SECRET) != FIDO_OK)
				goto out;
		}
	}
	ok = 0;
out:
	cbor_decref(&root);
	return ok;
}

ts_err
ts_wa_attestation_verify(const ts_wa_attestation *att, const unsigned char cdh[32],
                         const char *rp_id, int require_uv, ts_wa_att_type *type)
{
	fido_cred_t *c = NULL;
	ts_err r = TS_E_INVALID;
	int fr;

	*type = TS_WA_ATT_NONE;
	if (strcmp(att->fmt, "none") == 0)
		return att->att_stmt_len == 1 && att->att_stmt[0] == 0xa0 ? TS_OK : TS_E_INVALID;
	if (strcmp(att->fmt, "packed") != 0)
		return TS_E_INVALID;
	/* §8.2 verification procedure, self attestation: alg must be the
	 * credential's own. */
	if (!att->has_x5c && att->stmt_alg != att->auth.key.alg)
		return TS_E_INVALID;
	if (!(c = fido_cred_new()))
		return TS_E_NOMEM;
	if (fido_cred_set_type(c, att->auth.key.alg) != FIDO_OK ||
	    fido_cred_set_fmt(c, "packed") != FIDO_OK ||
	    fido_cred_set_rp(c, rp_id, NULL) != FIDO_OK ||
	    fido_cred_set_clientdata_hash(c, cdh, 32) != FIDO_OK ||
	    fido_cred_set_authdata_raw(c, att->auth.raw, att->auth.raw_len) != FIDO_OK ||
	    fido_cred_set_attstmt(c, att->att_stmt, att->att_stmt_len) != FIDO_OK ||
	    fido_cred_set_uv(c, require_uv ? FIDO_OPT_TRUE : FIDO_OPT_OMIT) != FIDO_OK ||
	    cred_set_extensions(c, &att->auth) != 0)
		goto out;
	if (att->has_x5c) {
		/* Basic (or AttCA) attestation: the signature by x5c[0]'s key and
		 * §8.2.1's certificate requirements; the chain is the caller's. */
		if (packed_cert_check(fido_cred_x5c_ptr(c), fido_cred_x5c_len(c), att->auth.aaguid) != TS_OK)
			goto out;
		fr = fido_cred_verify(c);
		*type = TS_WA_ATT_BASIC;
	} else {
		fr = fido_cred_verify_self(c);
		*type = TS_WA_ATT_SELF;
	}
	if (fr == FIDO_OK)
		r = TS_OK;
out:
	if (r != TS_OK)
		*type = TS_WA_ATT_NONE;
	fido_cred_free(&c);
	return r;
}

ts_err
ts_wa_assertion_verify(const ts_wa_pubkey *key, const unsigned char *authdata,
                       size_t authdata_len, const unsigned char cdh[32],
                       const unsigned char *sig, size_t sig_len, const char *rp_id,
                       uint8_t need_flags)
{
	fido_assert_t *as = NULL;
	es256_pk_t *es = NULL;
	eddsa_pk_t *ed = NULL;
	rs256_pk_t *rs = NULL;
	const void *pk = NULL;
	unsigned char buf[259];
	ts_err r = TS_E_INVALID;

	if (!sig || sig_len == 0 || sig_len > TS_WA_SIG_MAX)
		return TS_E_INVALID;
	switch (key->alg) {
	case TS_WA_ES256:
		buf[0] = 0x04;   /* SEC 1 §2.3.3 uncompressed point */
		memcpy(buf + 1, key->x, 32);
		memcpy(buf + 33, key->y, 32);
		if (!(es = es256_pk_new()) || es256_pk_from_ptr(es, buf, 65) != FIDO_OK)
			goto out;
		pk = es;
		break;
	case TS_WA_EDDSA:
		if (!(ed = eddsa_pk_new()) || eddsa_pk_from_ptr(ed, key->x, 32) != FIDO_OK)
			goto out;
		pk = ed;
		break;
	case TS_WA_RS256:
		/* libfido2's rs256_pk_t is a 2048-bit modulus and a 3-byte
		 * exponent: other sizes are refused. */
		if (key->n_len != 256 || key->e_len > 3)
			goto out;
		memset(buf, 0, sizeof(buf));
		memcpy(buf, key->n, 256);
		memcpy(buf + 256 + (3 - key->e_len), key->e, key->e_len);
		if (!(rs = rs256_pk_new()) || rs256_pk_from_ptr(rs, buf, 259) != FIDO_OK)
			goto out;
		pk = rs;
		break;
	case TS_WA_ALG_NONE:
		goto out;
	}
	if (!(as = fido_assert_new()) || fido_assert_set_rp(as, rp_id) != FIDO_OK ||
	    fido_assert_set_clientdata_hash(as, cdh, 32) != FIDO_OK ||
	    fido_assert_set_count(as, 1) != FIDO_OK ||
	    fido_assert_set_authdata_raw(as, 0, authdata, authdata_len) != FIDO_OK ||
	    fido_assert_set_sig(as, 0, sig, sig_len) != FIDO_OK ||
	    fido_assert_set_up(as, need_flags & TS_WA_FLAG_UP ? FIDO_OPT_TRUE : FIDO_OPT_OMIT) != FIDO_OK ||
	    fido_assert_set_uv(as, need_flags & TS_WA_FLAG_UV ? FIDO_OPT_TRUE : FIDO_OPT_OMIT) != FIDO_OK)
		goto out;
	if (fido_assert_verify(as, 0, key->alg, pk) == FIDO_OK)
		r = TS_OK;
out:
	fido_assert_free(&as);
	es256_pk_free(&es);
	eddsa_pk_free(&ed);
	rs256_pk_free(&rs);
	return r;
}
