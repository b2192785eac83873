/* Unit tests for src/crypto/webauthn.c: libfido2's published regression
 * vectors (a packed attestation with a certificate, an ES256 assertion),
 * our own vectors made with OpenSSL for ES256, EdDSA and RS256 (packed self
 * attestation and assertions), and refusal of malformed input: CBOR forms,
 * caps, COSE keys, authenticator data layouts, clientDataJSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <fido.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "crypto/hash.h"
#include "crypto/webauthn.h"
#include "webauthn_vectors.h"

/* ---- building CBOR with libcbor ---- */

static void
map_add(cbor_item_t *m, cbor_item_t *k, cbor_item_t *v)
{
	(void)cbor_map_add(m, (struct cbor_pair){ .key = cbor_move(k), .value = cbor_move(v) });
}

/* An integer in its shortest form (CTAP2 canonical CBOR; libfido2 reads
 * COSE labels only so). */
static cbor_item_t *
cint(int64_t v)
{
	uint64_t u = v >= 0 ? (uint64_t)v : (uint64_t)(-1 - v);

	if (u < 256)
		return v >= 0 ? cbor_build_uint8((uint8_t)u) : cbor_build_negint8((uint8_t)u);
	return v >= 0 ? cbor_build_uint16((uint16_t)u) : cbor_build_negint16((uint16_t)u);
}

/* Serializes and frees it; *len gets the size. Caller frees the result. */
static unsigned char *
ser(cbor_item_t *it, size_t *len)
{
	unsigned char *buf = NULL;
	size_t cap = 0;

	*len = cbor_serialize_alloc(it, &buf, &cap);
	cbor_decref(&it);
	return buf;
}

/* attestationObject {fmt, attStmt, authData}; att_stmt is consumed. */
static unsigned char *
att_obj(const char *fmt, cbor_item_t *att_stmt, const unsigned char *ad, size_t ad_len,
        size_t *len)
{
	cbor_item_t *m = cbor_new_definite_map(3);

	map_add(m, cbor_build_string("fmt"), cbor_build_string(fmt));
	map_add(m, cbor_build_string("attStmt"), att_stmt);
	map_add(m, cbor_build_string("authData"), cbor_build_bytestring(ad, ad_len));
	return ser(m, len);
}

static cbor_item_t *
packed_stmt(int64_t alg, const unsigned char *sig, size_t sig_len, const unsigned char *x5c,
            size_t x5c_len)
{
	cbor_item_t *m = cbor_new_definite_map(x5c ? 3 : 2);

	map_add(m, cbor_build_string("alg"), cint(alg));
	map_add(m, cbor_build_string("sig"), cbor_build_bytestring(sig, sig_len));
	if (x5c) {
		cbor_item_t *a = cbor_new_definite_array(1);
		(void)cbor_array_push(a, cbor_move(cbor_build_bytestring(x5c, x5c_len)));
		map_add(m, cbor_build_string("x5c"), a);
	}
	return m;
}

/* ---- CBOR scanner ---- */

static void
test_cbor_scan(void)
{
	static const unsigned char ok[] = { 0xa2, 0x01, 0x02, 0x03, 0x82, 0x04, 0x05 };
	static const unsigned char indef[] = { 0x9f, 0x01, 0xff };
	static const unsigned char tag[] = { 0xc1, 0x01 };
	static const unsigned char longstr[] = { 0x59, 0xff, 0xff, 0x00 };
	static const unsigned char hugemap[] = { 0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const unsigned char reserved[] = { 0x1c };
	unsigned char deep[16];
	size_t used = 99;

	CHECK(ts_cbor_scan(ok, sizeof(ok), TS_WA_CBOR_DEPTH, &used) == TS_OK && used == sizeof(ok));
	CHECK(ts_cbor_scan(ok, sizeof(ok) - 1, TS_WA_CBOR_DEPTH, &used) == TS_E_INVALID);
	CHECK(ts_cbor_scan(ok, 3, TS_WA_CBOR_DEPTH, &used) == TS_E_INVALID);
	CHECK(ts_cbor_scan(indef, sizeof(indef), TS_WA_CBOR_DEPTH, &used) == TS_E_INVALID);
	CHECK(ts_cbor_scan(tag, sizeof(tag), TS_WA_CBOR_DEPTH, &used) == TS_E_INVALID);
	CHECK(ts_cbor_scan(longstr, sizeof(longstr), TS_WA_CBOR_DEPTH, &used) == TS_E_INVALID);
	CHECK(ts_cbor_scan(hugemap, sizeof(hugemap), TS_WA_CBOR_DEPTH, &used) == TS_E_INVALID);
	CHECK(ts_cbor_scan(reserved, sizeof(reserved), TS_WA_CBOR_DEPTH, &used) == TS_E_INVALID);
	/* [[[[[[0]]]]]]: six arrays deep is the cap, seven is refused */
	memset(deep, 0x81, sizeof(deep));
	deep[6] = 0x00;
	CHECK(ts_cbor_scan(deep, 7, TS_WA_CBOR_DEPTH, &used) == TS_OK && used == 7);
	deep[6] = 0x81;
	deep[7] = 0x00;
	CHECK(ts_cbor_scan(deep, 8, TS_WA_CBOR_DEPTH, &used) == TS_E_INVALID);
	/* trailing bytes are reported, not swallowed */
	CHECK(ts_cbor_scan((const unsigned char *)"\x01\x02", 2, 1, &used) == TS_OK && used == 1);
}

/* ---- libfido2's packed attestation (x5c) for "localhost" ---- */

static void
test_vector_registration(void)
{
	ts_wa_attestation att;
	ts_wa_att_type type = TS_WA_ATT_SELF;
	unsigned char cdh[32];
	unsigned char *obj;
	size_t len;

	/* reg_authdata is a CBOR byte string of 196 bytes: 0x58 0xc4 ... */
	CHECK(reg_authdata[0] == 0x58 && reg_authdata[1] == 196);
	obj = att_obj("packed", packed_stmt(TS_WA_ES256, reg_sig, sizeof(reg_sig), reg_x509,
	                                    sizeof(reg_x509)),
	              reg_authdata + 2, sizeof(reg_authdata) - 2, &len);
	CHECK(ts_wa_attestation_parse(obj, len, &att) == TS_OK);
	CHECK(att.has_x5c && att.stmt_alg == TS_WA_ES256);
	CHECK(att.auth.cred_id_len == sizeof(reg_id) && memcmp(att.auth.cred_id, reg_id, sizeof(reg_id)) == 0);
	CHECK(memcmp(att.auth.aaguid, reg_aaguid, 16) == 0);
	CHECK(att.auth.key.alg == TS_WA_ES256);
	CHECK(memcmp(att.auth.key.x, reg_pubkey, 32) == 0 && memcmp(att.auth.key.y, reg_pubkey + 32, 32) == 0);
	CHECK(att.auth.flags & TS_WA_FLAG_UP);
	/* The certificate is a U2F one (X.509 version 1, no OU "Authenticator
	 * Attestation"): §8.2.1 makes it unfit for packed, whatever the
	 * signature says. */
	CHECK(ts_wa_attestation_verify(&att, reg_cdh, "localhost", 0, &type) == TS_E_INVALID);
	CHECK(type == TS_WA_ATT_NONE);
	/* §7.1 step 14: another RP's hash; step 12: another client data */
	CHECK(ts_wa_attestation_verify(&att, reg_cdh, "example.com", 0, &type) == TS_E_INVALID);
	memcpy(cdh, reg_cdh, 32);
	cdh[0] ^= 1;
	CHECK(ts_wa_attestation_verify(&att, cdh, "localhost", 0, &type) == TS_E_INVALID);
	/* step 16: this key did not verify the user */
	CHECK(ts_wa_attestation_verify(&att, reg_cdh, "localhost", 1, &type) == TS_E_INVALID);
	free(obj);

	/* The same signature claimed as self attestation: refused (the alg is
	 * the credential's, but the credential key did not sign it). */
	obj = att_obj("packed", packed_stmt(TS_WA_ES256, reg_sig, sizeof(reg_sig), NULL, 0),
	              reg_authdata + 2, sizeof(reg_authdata) - 2, &len);
	CHECK(ts_wa_attestation_parse(obj, len, &att) == TS_OK);
	CHECK(ts_wa_attestation_verify(&att, reg_cdh, "localhost", 0, &type) == TS_E_INVALID);
	free(obj);

	/* fmt matched case-sensitively (§7.1 step 21), unknown formats refused */
	obj = att_obj("Packed", packed_stmt(TS_WA_ES256, reg_sig, sizeof(reg_sig), NULL, 0),
	              reg_authdata + 2, sizeof(reg_authdata) - 2, &len);
	CHECK(ts_wa_attestation_parse(obj, len, &att) == TS_E_INVALID);
	free(obj);
	obj = att_obj("tpm", cbor_new_definite_map(0), reg_authdata + 2, sizeof(reg_authdata) - 2, &len);
	CHECK(ts_wa_attestation_parse(obj, len, &att) == TS_E_INVALID);
	free(obj);
	/* "none" with a statement in it (§8.7) */
	obj = att_obj("none", packed_stmt(TS_WA_ES256, reg_sig, sizeof(reg_sig), NULL, 0),
	              reg_authdata + 2, sizeof(reg_authdata) - 2, &len);
	CHECK(ts_wa_attestation_parse(obj, len, &att) == TS_E_INVALID);
	free(obj);
	obj = att_obj("none", cbor_new_definite_map(0), reg_authdata + 2, sizeof(reg_authdata) - 2, &len);
	CHECK(ts_wa_attestation_parse(obj, len, &att) == TS_OK);
	CHECK(ts_wa_attestation_verify(&att, reg_cdh, "localhost", 0, &type) == TS_OK &&
	      type == TS_WA_ATT_NONE);
	free(obj);
	/* authData without its last byte: the COSE key no longer parses */
	obj = att_obj("none", cbor_new_definite_map(0), reg_authdata + 2, sizeof(reg_authdata) - 3, &len);
	CHECK(ts_wa_attestation_parse(obj, len, &att) == TS_E_INVALID);
	free(obj);
}

/* ---- libfido2's ES256 assertion for "localhost" (made without UP) ---- */

static void
test_vector_assertion(void)
{
	ts_wa_pubkey k;
	ts_wa_authdata ad;
	unsigned char cdh[32], sig[sizeof(as_sig)];

	memset(&k, 0, sizeof(k));
	k.alg = TS_WA_ES256;
	memcpy(k.x, as_es256_pk, 32);
	memcpy(k.y, as_es256_pk + 32, 32);
	CHECK(as_authdata[0] == 0x58 && as_authdata[1] == 37);
	CHECK(ts_wa_authdata_parse(as_authdata + 2, 37, &ad) == TS_OK);
	CHECK(ad.flags == 0 && ad.sign_count == 3 && !ad.cred_id);
	CHECK(ts_wa_assertion_verify(&k, as_authdata + 2, 37, as_cdh, as_sig, sizeof(as_sig),
	                             "localhost", 0) == TS_OK);
	/* §7.2 step 16: UP is required by every ceremony of ours */
	CHECK(ts_wa_assertion_verify(&k, as_authdata + 2, 37, as_cdh, as_sig, sizeof(as_sig),
	                             "localhost", TS_WA_FLAG_UP) == TS_E_INVALID);
	CHECK(ts_wa_assertion_verify(&k, as_authdata + 2, 37, as_cdh, as_sig, sizeof(as_sig),
	                             "example.com", 0) == TS_E_INVALID);
	memcpy(cdh, as_cdh, 32);
	cdh[31] ^= 0x80;
	CHECK(ts_wa_assertion_verify(&k, as_authdata + 2, 37, cdh, as_sig, sizeof(as_sig),
	                             "localhost", 0) == TS_E_INVALID);
	memcpy(sig, as_sig, sizeof(sig));
	sig[sizeof(sig) - 1] ^= 1;
	CHECK(ts_wa_assertion_verify(&k, as_authdata + 2, 37, as_cdh, sig, sizeof(sig),
	                             "localhost", 0) == TS_E_INVALID);
	/* another algorithm's key claimed for the same bytes */
	k.alg = TS_WA_EDDSA;
	CHECK(ts_wa_assertion_verify(&k, as_authdata + 2, 37, as_cdh, as_sig, sizeof(as_sig),
	                             "localhost", 0) == TS_E_INVALID);
}

/* ---- our own vectors: ES256, EdDSA, RS256 with OpenSSL ---- */

typedef struct soft_key {
	EVP_PKEY *pkey;
	ts_wa_alg alg;
} soft_key;

static soft_key
soft_new(ts_wa_alg alg)
{
	soft_key k = { NULL, alg };

	if (alg == TS_WA_ES256)
		k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (alg == TS_WA_EDDSA)
		k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (!k.pkey)
		abort();
	return k;
}

/* The COSE_Key of k. Caller frees. */
static unsigned char *
soft_cose(const soft_key *k, size_t *len)
{
	unsigned char buf[600];
	size_t n = 0;
	cbor_item_t *m = cbor_new_definite_map(5);

	if (k->alg == TS_WA_ES256) {
		EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof(buf), &n);
		map_add(m, cint(1), cint(2));
		map_add(m, cint(3), cint(-7));
		map_add(m, cint(-1), cint(1));
		map_add(m, cint(-2), cbor_build_bytestring(buf + 1, 32));
		map_add(m, cint(-3), cbor_build_bytestring(buf + 33, 32));
	} else if (k->alg == TS_WA_EDDSA) {
		n = 32;
		EVP_PKEY_get_raw_public_key(k->pkey, buf, &n);
		map_add(m, cint(1), cint(1));
		map_add(m, cint(3), cint(-8));
		map_add(m, cint(-1), cint(6));
		map_add(m, cint(-2), cbor_build_bytestring(buf, 32));
	} else {
		BIGNUM *bn = NULL;

		map_add(m, cint(1), cint(3));
		map_add(m, cint(3), cint(-257));
		EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &bn);
		n = (size_t)BN_bn2bin(bn, buf);
		map_add(m, cint(-1), cbor_build_bytestring(buf, n));
		BN_free(bn);
		bn = NULL;
		EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &bn);
		n = (size_t)BN_bn2bin(bn, buf);
		map_add(m, cint(-2), cbor_build_bytestring(buf, n));
		BN_free(bn);
	}
	return ser(m, len);
}

static size_t
soft_sign(const soft_key *k, const unsigned char *a, size_t alen, const unsigned char *b,
          size_t blen, unsigned char *sig, size_t cap)
{
	unsigned char msg[4096];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = cap;

	memcpy(msg, a, alen);
	memcpy(msg + alen, b, blen);
	if (EVP_DigestSignInit(ctx, NULL, k->alg == TS_WA_EDDSA ? NULL : EVP_sha256(), NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &n, msg, alen + blen) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	return n;
}

/* authenticatorData: rpIdHash flags count [aaguid len id cose] */
static size_t
soft_authdata(const char *rp_id, uint8_t flags, uint32_t count, const unsigned char *cose,
              size_t cose_len, unsigned char *out)
{
	size_t n = 37;

	ts_sha256(rp_id, strlen(rp_id), out);
	out[32] = flags;
	out[33] = (unsigned char)(count >> 24);
	out[34] = (unsigned char)(count >> 16);
	out[35] = (unsigned char)(count >> 8);
	out[36] = (unsigned char)count;
	if (cose) {
		memset(out + n, 0, 16);
		n += 16;
		out[n++] = 0;
		out[n++] = 16;
		memset(out + n, 0xab, 16);
		n += 16;
		memcpy(out + n, cose, cose_len);
		n += cose_len;
	}
	return n;
}

static void
test_own_alg(ts_wa_alg alg)
{
	soft_key k = soft_new(alg), other = soft_new(alg == TS_WA_ES256 ? TS_WA_EDDSA : TS_WA_ES256);
	unsigned char ad[2048], sig[600], cdh[32], *cose, *obj;
	size_t cose_len, ad_len, sig_len, len;
	ts_wa_attestation att;
	ts_wa_att_type type;
	ts_wa_authdata pad;

	ts_sha256("client data", 11, cdh);
	cose = soft_cose(&k, &cose_len);
	ad_len = soft_authdata("example.org", TS_WA_FLAG_UP | TS_WA_FLAG_UV | TS_WA_FLAG_AT, 0, cose,
	                       cose_len, ad);
	sig_len = soft_sign(&k, ad, ad_len, cdh, 32, sig, sizeof(sig));
	obj = att_obj("packed", packed_stmt(alg, sig, sig_len, NULL, 0), ad, ad_len, &len);
	CHECK(ts_wa_attestation_parse(obj, len, &att) == TS_OK);
	CHECK(att.auth.key.alg == alg && att.stmt_alg == alg && !att.has_x5c);
	CHECK(att.auth.cose_key_len == cose_len && memcmp(att.auth.cose_key, cose, cose_len) == 0);
	CHECK(ts_wa_attestation_verify(&att, cdh, "example.org", 1, &type) == TS_OK &&
	      type == TS_WA_ATT_SELF);
	CHECK(ts_wa_attestation_verify(&att, cdh, "example.com", 1, &type) == TS_E_INVALID);
	free(obj);
	/* alg of the statement other than the credential's (§8.2) */
	obj = att_obj("packed", packed_stmt(alg == TS_WA_ES256 ? TS_WA_RS256 : TS_WA_ES256, sig,
	                                    sig_len, NULL, 0), ad, ad_len, &len);
	CHECK(ts_wa_attestation_parse(obj, len, &att) == TS_OK);
	CHECK(ts_wa_attestation_verify(&att, cdh, "example.org", 1, &type) == TS_E_INVALID);
	free(obj);
	/* signed by another key */
	sig_len = soft_sign(&other, ad, ad_len, cdh, 32, sig, sizeof(sig));
	obj = att_obj("packed", packed_stmt(alg, sig, sig_len, NULL, 0), ad, ad_len, &len);
	CHECK(ts_wa_attestation_parse(obj, len, &att) == TS_OK);
	CHECK(ts_wa_attestation_verify(&att, cdh, "example.org", 1, &type) == TS_E_INVALID);
	free(obj);

	/* An assertion with the registered key. */
	CHECK(ts_wa_cose_parse(cose, cose_len, &pad.key) == TS_OK);
	ad_len = soft_authdata("example.org", TS_WA_FLAG_UP | TS_WA_FLAG_UV, 7, NULL, 0, ad);
	sig_len = soft_sign(&k, ad, ad_len, cdh, 32, sig, sizeof(sig));
	CHECK(ts_wa_assertion_verify(&pad.key, ad, ad_len, cdh, sig, sig_len, "example.org",
	                             TS_WA_FLAG_UP | TS_WA_FLAG_UV) == TS_OK);
	CHECK(ts_wa_assertion_verify(&pad.key, ad, ad_len, cdh, sig, sig_len, "example.net",
	                             TS_WA_FLAG_UP) == TS_E_INVALID);
	sig[sig_len / 2] ^= 4;
	CHECK(ts_wa_assertion_verify(&pad.key, ad, ad_len, cdh, sig, sig_len, "example.org",
	                             TS_WA_FLAG_UP) == TS_E_INVALID);
	/* UP only: fine for a security key, refused where UV is needed */
	ad_len = soft_authdata("example.org", TS_WA_FLAG_UP, 8, NULL, 0, ad);
	sig_len = soft_sign(&k, ad, ad_len, cdh, 32, sig, sizeof(sig));
	CHECK(ts_wa_assertion_verify(&pad.key, ad, ad_len, cdh, sig, sig_len, "example.org",
	                             TS_WA_FLAG_UP) == TS_OK);
	CHECK(ts_wa_assertion_verify(&pad.key, ad, ad_len, cdh, sig, sig_len, "example.org",
	                             TS_WA_FLAG_UP | TS_WA_FLAG_UV) == TS_E_INVALID);
	free(cose);
	EVP_PKEY_free(k.pkey);
	EVP_PKEY_free(other.pkey);
}

/* ---- packed with a certificate (basic attestation), our own vectors ---- */

/* A self-signed attestation certificate as §8.2.1 wants it (unless told
 * otherwise): v3, OU "Authenticator Attestation", CA:FALSE, the aaguid
 * extension. DER in *der (caller frees). */
static size_t
att_cert(EVP_PKEY *key, const char *ou, int ca, const unsigned char *aaguid, unsigned char **der)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509_EXTENSION *bc;
	int len;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"SE", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Tessera Tests", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"Soft Key", -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	bc = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(x, bc, -1);
	X509_EXTENSION_free(bc);
	if (aaguid) {
		unsigned char v[18] = { 0x04, 16 };
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1);
		X509_EXTENSION *e;

		memcpy(v + 2, aaguid, 16);
		ASN1_OCTET_STRING_set(os, v, sizeof(v));
		e = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, os);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		ASN1_OBJECT_free(oid);
		ASN1_OCTET_STRING_free(os);
	}
	X509_sign(x, key, EVP_sha256());
	*der = NULL;
	len = i2d_X509(x, der);
	X509_NAME_free(n);
	X509_free(x);
	return len > 0 ? (size_t)len : 0;
}

static void
test_own_basic(void)
{
	static const unsigned char aaguid[16] = { 0xee, 0x88, 0x28, 0x79, 0x72, 0x1c, 0x49, 0x13,
	                                          0x97, 0x75, 0x3d, 0xfc, 0xce, 0x97, 0x07, 0x2a };
	soft_key cred = soft_new(TS_WA_EDDSA), att = soft_new(TS_WA_ES256);
	unsigned char ad[2048], sig[600], cdh[32], *cose, *obj, *der, other[16];
	size_t cose_len, ad_len, sig_len, len, der_len;
	ts_wa_attestation a;
	ts_wa_att_type type;

	ts_sha256("basic", 5, cdh);
	cose = soft_cose(&cred, &cose_len);
	ad_len = soft_authdata("example.org", TS_WA_FLAG_UP | TS_WA_FLAG_AT, 0, cose, cose_len, ad);
	memcpy(ad + 37, aaguid, 16);
	/* signed by the attestation key (ES256), not the credential's (EdDSA) */
	sig_len = soft_sign(&att, ad, ad_len, cdh, 32, sig, sizeof(sig));

#define BASIC(ou, ca, g, expect)                                                   \
	do {                                                                       \
		der_len = att_cert(att.pkey, ou, ca, g, &der);                     \
		obj = att_obj("packed", packed_stmt(TS_WA_ES256, sig, sig_len, der, der_len), ad, \
		              ad_len, &len);                                       \
		CHECK(ts_wa_attestation_parse(obj, len, &a) == TS_OK && a.has_x5c); \
		CHECK(ts_wa_attestation_verify(&a, cdh, "example.org", 0, &type) == (expect)); \
		free(obj);                                                         \
		OPENSSL_free(der);                                                 \
	} while (0)

	BASIC("Authenticator Attestation", 0, aaguid, TS_OK);
	CHECK(type == TS_WA_ATT_BASIC);
	BASIC("Authenticator Attestation", 0, NULL, TS_OK);   /* the extension is optional */
	/* §8.2.1: another OU, a CA certificate, another aaguid */
	BASIC("Marketing", 0, aaguid, TS_E_INVALID);
	BASIC("Authenticator Attestation", 1, aaguid, TS_E_INVALID);
	memcpy(other, aaguid, 16);
	other[15] ^= 1;
	BASIC("Authenticator Attestation", 0, other, TS_E_INVALID);
	/* the same certificate with a signature by the credential key */
	sig_len = soft_sign(&cred, ad, ad_len, cdh, 32, sig, sizeof(sig));
	BASIC("Authenticator Attestation", 0, aaguid, TS_E_INVALID);
#undef BASIC
	free(cose);
	EVP_PKEY_free(cred.pkey);
	EVP_PKEY_free(att.pkey);
}

/* ---- COSE and authData layouts ---- */

static void
test_cose_and_authdata(void)
{
	soft_key k = soft_new(TS_WA_ES256);
	unsigned char ad[2048], *cose, bad[1100];
	size_t cose_len, ad_len;
	ts_wa_pubkey pk;
	ts_wa_authdata pad;
	cbor_item_t *m;
	unsigned char *b;
	size_t blen;

	cose = soft_cose(&k, &cose_len);
	/* kty and alg disagreeing (OKP with -7) */
	m = cbor_new_definite_map(3);
	map_add(m, cint(1), cint(1));
	map_add(m, cint(3), cint(-7));
	map_add(m, cint(-2), cbor_build_bytestring(cose, 32));
	b = ser(m, &blen);
	CHECK(ts_wa_cose_parse(b, blen, &pk) == TS_E_INVALID);
	free(b);
	/* an unsupported algorithm (ES384, -35) */
	m = cbor_new_definite_map(2);
	map_add(m, cint(1), cint(2));
	map_add(m, cint(3), cint(-35));
	b = ser(m, &blen);
	CHECK(ts_wa_cose_parse(b, blen, &pk) == TS_E_INVALID);
	free(b);
	/* a label twice */
	m = cbor_new_definite_map(5);
	map_add(m, cint(1), cint(1));
	map_add(m, cint(3), cint(-8));
	map_add(m, cint(-1), cint(6));
	map_add(m, cint(-2), cbor_build_bytestring(cose, 32));
	map_add(m, cint(-2), cbor_build_bytestring(cose + 1, 32));
	b = ser(m, &blen);
	CHECK(ts_wa_cose_parse(b, blen, &pk) == TS_E_INVALID);
	free(b);
	/* EdDSA with a 31-byte key */
	m = cbor_new_definite_map(4);
	map_add(m, cint(1), cint(1));
	map_add(m, cint(3), cint(-8));
	map_add(m, cint(-1), cint(6));
	map_add(m, cint(-2), cbor_build_bytestring(cose, 31));
	b = ser(m, &blen);
	CHECK(ts_wa_cose_parse(b, blen, &pk) == TS_E_INVALID);
	free(b);

	ad_len = soft_authdata("example.org", TS_WA_FLAG_UP | TS_WA_FLAG_AT, 0, cose, cose_len, ad);
	CHECK(ts_wa_authdata_parse(ad, ad_len, &pad) == TS_OK && pad.cred_id_len == 16);
	/* a trailing byte, AT without data, ED without a map */
	ad[ad_len] = 0xa0;
	CHECK(ts_wa_authdata_parse(ad, ad_len + 1, &pad) == TS_E_INVALID);
	ad[32] |= TS_WA_FLAG_ED;
	CHECK(ts_wa_authdata_parse(ad, ad_len + 1, &pad) == TS_OK && pad.ext_len == 1);
	CHECK(ts_wa_authdata_parse(ad, ad_len, &pad) == TS_E_INVALID);
	ad[32] = TS_WA_FLAG_UP | TS_WA_FLAG_AT;
	CHECK(ts_wa_authdata_parse(ad, 37, &pad) == TS_E_INVALID);
	CHECK(ts_wa_authdata_parse(ad, 36, &pad) == TS_E_INVALID);
	/* credentialIdLength 1024 (§7.1 step 25 caps it at 1023), and 0 */
	memset(bad, 0, sizeof(bad));
	memcpy(bad, ad, 37);
	bad[53] = 0x04;
	bad[54] = 0x00;
	memcpy(bad + 55 + 1024 - 70, cose, 0);
	CHECK(ts_wa_authdata_parse(bad, sizeof(bad), &pad) == TS_E_INVALID);
	bad[53] = 0;
	bad[54] = 0;
	CHECK(ts_wa_authdata_parse(bad, sizeof(bad), &pad) == TS_E_INVALID);
	/* the most the cap allows: 1023 bytes of id, then the key */
	{
		unsigned char *big = malloc(55 + 1023 + cose_len);

		memcpy(big, ad, 53);
		big[53] = 0x03;
		big[54] = 0xff;
		memset(big + 55, 0x11, 1023);
		memcpy(big + 55 + 1023, cose, cose_len);
		CHECK(ts_wa_authdata_parse(big, 55 + 1023 + cose_len, &pad) == TS_OK &&
		      pad.cred_id_len == 1023);
		free(big);
	}
	free(cose);
	EVP_PKEY_free(k.pkey);
}

/* ---- clientDataJSON ---- */

static void
test_client_data(void)
{
	ts_wa_client_data cd;
	const char *ok = "{\"type\":\"webauthn.get\",\"challenge\":\"AAECAwQFBgcICQoLDA0ODw\","
	                 "\"origin\":\"https://example.org\",\"crossOrigin\":false,\"other\":[1]}";
	char big[TS_WA_CLIENT_DATA_MAX + 2];

#define CD(s) ts_wa_client_data_parse((const unsigned char *)(s), strlen(s), &cd)
	CHECK(CD(ok) == TS_OK);
	CHECK(cd.type == TS_WA_GET && cd.challenge_len == 16 && cd.challenge[15] == 15);
	CHECK_STR(cd.origin, "https://example.org");
	CHECK(!cd.cross_origin && !cd.has_top_origin);
	CHECK(CD("{\"type\":\"webauthn.create\",\"challenge\":\"AAEC\",\"origin\":\"https://a\","
	         "\"topOrigin\":\"https://b\",\"crossOrigin\":true}") == TS_OK);
	CHECK(cd.type == TS_WA_CREATE && cd.cross_origin && cd.has_top_origin);
	CHECK(CD("{\"type\":\"webauthn.get\",\"type\":\"webauthn.create\",\"challenge\":\"AAEC\","
	         "\"origin\":\"https://a\"}") == TS_E_INVALID);
	CHECK(CD("{\"type\":\"payment.get\",\"challenge\":\"AAEC\",\"origin\":\"https://a\"}") == TS_E_INVALID);
	CHECK(CD("{\"type\":\"webauthn.get\",\"challenge\":\"AA+C\",\"origin\":\"https://a\"}") == TS_E_INVALID);
	CHECK(CD("{\"type\":\"webauthn.get\",\"challenge\":\"AAEC\"}") == TS_E_INVALID);
	CHECK(CD("{\"type\":\"webauthn.get\",\"challenge\":\"AAEC\",\"origin\":7}") == TS_E_INVALID);
	CHECK(CD("{\"type\":\"webauthn.get\",\"challenge\":\"AAEC\",\"origin\":\"https://a\","
	         "\"crossOrigin\":\"no\"}") == TS_E_INVALID);
	CHECK(CD("[\"webauthn.get\"]") == TS_E_INVALID);
	CHECK(CD("{\"type\":\"webauthn.get\",\"challenge\":\"AAEC\",\"origin\":\"https://a\\u0000b\"}") ==
	      TS_E_INVALID);
	memset(big, ' ', sizeof(big));
	memcpy(big, ok, strlen(ok));
	big[sizeof(big) - 1] = '\0';
	CHECK(CD(big) == TS_E_INVALID);
#undef CD
}

int
main(void)
{
	if (getenv("FIDO_DBG")) fido_init(FIDO_DEBUG);
	test_cbor_scan();
	test_vector_registration();
	test_vector_assertion();
	test_own_alg(TS_WA_ES256);
	test_own_alg(TS_WA_EDDSA);
	test_own_alg(TS_WA_RS256);
	test_own_basic();
	test_cose_and_authdata();
	test_client_data();
	return CHECK_DONE();
}
