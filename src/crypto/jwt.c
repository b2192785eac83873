/* Signing keys and compact JWS (RFC 7515) with ES256 (RFC 7518 §3.4) and
 * EdDSA over Ed25519 (RFC 8037), on OpenSSL 3 libcrypto. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "crypto/b64url.h"
#include "crypto/jwt.h"

#define ES256_COORD 32          /* P-256 field element and scalar size */
#define EC_POINT_LEN 65         /* 0x04 || x || y (SEC 1 §2.3.3) */
#define ED25519_KEY 32          /* RFC 8032 §5.1.5 */
#define PEM_MAX 16384           /* far above any P-256 or Ed25519 PEM */
#define JWK_COORD_MAX 64        /* ts_key_public_jwk's buffer size */

struct ts_key {
	ts_alg alg;
	int has_private;
	EVP_PKEY *pkey;         /* owned; OpenSSL clears private parts on free */
};

/* ---- keys ---------------------------------------------------------------- */

static int
alg_is_valid(ts_alg alg)
{
	return alg == TS_ALG_ES256 || alg == TS_ALG_EDDSA;
}

/* Takes ownership of pkey in every case. */
static ts_err
key_wrap(ts_alg alg, EVP_PKEY *pkey, int has_private, ts_key **out)
{
	ts_key *k = calloc(1, sizeof(*k));

	if (k == NULL) {
		EVP_PKEY_free(pkey);
		return TS_E_NOMEM;
	}
	k->alg = alg;
	k->has_private = has_private;
	k->pkey = pkey;
	*out = k;
	return TS_OK;
}

/* ES256 is ECDSA on P-256 only (RFC 7518 §3.4), EdDSA here Ed25519 only. A
 * key of another type or curve must never be used under these names. */
static int
pkey_matches_alg(EVP_PKEY *pkey, ts_alg alg)
{
	char group[64];
	size_t glen = 0;

	if (alg == TS_ALG_EDDSA)
		return EVP_PKEY_is_a(pkey, "ED25519");
	if (!EVP_PKEY_is_a(pkey, "EC"))
		return 0;
	/* Fails for explicit-parameter curves, which we refuse too. */
	if (!EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen))
		return 0;
	return OBJ_sn2nid(group) == NID_X9_62_prime256v1;
}

ts_err
ts_key_generate(ts_alg alg, ts_key **out)
{
	EVP_PKEY *pkey;

	*out = NULL;
	if (!alg_is_valid(alg))
		return TS_E_INVALID;
	if (alg == TS_ALG_ES256)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pkey == NULL) {
		ERR_clear_error();
		return TS_E_INTERNAL;
	}
	return key_wrap(alg, pkey, 1, out);
}

/* Refuses encrypted PEM instead of letting OpenSSL prompt on a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Reads the first private key in pem, else the first public key. Sets
 * *has_private accordingly. Caller frees the result with EVP_PKEY_free. */
static EVP_PKEY *
pem_read_any(const char *pem, int *has_private)
{
	EVP_PKEY *pkey = NULL;
	BIO *b;

	if ((b = BIO_new_mem_buf(pem, -1)) == NULL)
		return NULL;
	pkey = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	*has_private = pkey != NULL;
	if (pkey == NULL && BIO_reset(b) == 1)
		pkey = PEM_read_bio_PUBKEY(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	ERR_clear_error();   /* failed attempts leave entries behind */
	return pkey;
}

ts_err
ts_key_from_pem(ts_alg alg, const char *pem, ts_key **out)
{
	EVP_PKEY *pkey;
	int has_private = 0;

	*out = NULL;
	if (!alg_is_valid(alg) || pem == NULL || strnlen(pem, PEM_MAX) >= PEM_MAX)
		return TS_E_INVALID;
	if ((pkey = pem_read_any(pem, &has_private)) == NULL)
		return TS_E_INVALID;
	if (!pkey_matches_alg(pkey, alg)) {
		EVP_PKEY_free(pkey);
		return TS_E_INVALID;
	}
	return key_wrap(alg, pkey, has_private, out);
}

ts_err
ts_key_private_pem(const ts_key *k, char **pem)
{
	ts_err r = TS_E_INTERNAL;
	BIO *b = NULL;
	char *data;
	long len;

	*pem = NULL;
	if (k == NULL || !k->has_private)
		return TS_E_INVALID;
	/* A memory BIO's buffer is cleared when freed (BUF_MEM_free uses
	 * OPENSSL_clear_free), so the key text does not linger there. */
	if ((b = BIO_new(BIO_s_secmem())) == NULL) {
		r = TS_E_NOMEM;
		goto out;
	}
	/* No cipher: PKCS#8 PrivateKeyInfo (RFC 5958), "PRIVATE KEY". */
	if (!PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL))
		goto out;
	if ((len = BIO_get_mem_data(b, &data)) <= 0)
		goto out;
	if ((*pem = malloc((size_t)len + 1)) == NULL) {
		r = TS_E_NOMEM;
		goto out;
	}
	memcpy(*pem, data, (size_t)len);
	(*pem)[len] = '\0';
	r = TS_OK;
out:
	BIO_free(b);
	ERR_clear_error();
	return r;
}

/* Writes one big-endian EC coordinate as 32 bytes, base64url (RFC 7518
 * §6.2.1.2: the full field size, leading zeros kept). */
static ts_err
jwk_coord(EVP_PKEY *pkey, const char *param, char out[JWK_COORD_MAX])
{
	unsigned char buf[ES256_COORD];
	BIGNUM *bn = NULL;
	ts_err r = TS_E_INTERNAL;

	if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
		goto out;
	if (BN_bn2binpad(bn, buf, sizeof(buf)) != (int)sizeof(buf))
		goto out;
	ts_b64url_encode(buf, sizeof(buf), out);
	r = TS_OK;
out:
	BN_free(bn);
	return r;
}

/* RFC 8037 §2: "x" is the raw 32-byte public key. */
static ts_err
jwk_okp_x(EVP_PKEY *pkey, char out[JWK_COORD_MAX])
{
	unsigned char buf[ED25519_KEY];
	size_t len = sizeof(buf);

	if (!EVP_PKEY_get_raw_public_key(pkey, buf, &len) || len != sizeof(buf))
		return TS_E_INTERNAL;
	ts_b64url_encode(buf, sizeof(buf), out);
	return TS_OK;
}

ts_err
ts_key_public_jwk(const ts_key *k, const char **crv, char x[64], char y[64])
{
	ts_err r;

	x[0] = y[0] = '\0';
	if (k == NULL)
		return TS_E_INVALID;
	if (k->alg == TS_ALG_EDDSA) {
		*crv = "Ed25519";
		r = jwk_okp_x(k->pkey, x);
	} else {
		*crv = "P-256";   /* RFC 7518 §6.2.1.1 */
		if ((r = jwk_coord(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, x)) == TS_OK)
			r = jwk_coord(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, y);
	}
	ERR_clear_error();
	return r;
}

/* Decodes a base64url JWK member that must hold exactly n bytes. */
static int
jwk_member(const char *s, unsigned char *out, size_t n)
{
	size_t len;

	if (s == NULL || (len = strnlen(s, JWK_COORD_MAX)) >= JWK_COORD_MAX)
		return 0;
	return ts_b64url_decode(s, len, out, n) == (long)n;
}

/* Rejects points that are not on the curve (or are the point at infinity):
 * verifying with such a key would be an invalid-curve attack surface. */
static int
ec_public_ok(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static ts_err
ec_from_point(const unsigned char pt[EC_POINT_LEN], EVP_PKEY **out)
{
	char group[] = SN_X9_62_prime256v1;
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, EC_POINT_LEN),
		OSSL_PARAM_END
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	ts_err r = TS_E_NOMEM;

	*out = NULL;
	if (ctx == NULL)
		goto out;
	r = TS_E_INVALID;
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	if (!ec_public_ok(*out)) {
		EVP_PKEY_free(*out);
		*out = NULL;
		goto out;
	}
	r = TS_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

ts_err
ts_key_from_jwk(ts_alg alg, const char *x, const char *y, ts_key **out)
{
	unsigned char pt[EC_POINT_LEN];
	EVP_PKEY *pkey = NULL;
	ts_err r;

	*out = NULL;
	if (alg == TS_ALG_EDDSA) {
		if (!jwk_member(x, pt, ED25519_KEY))
			return TS_E_INVALID;
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pt, ED25519_KEY);
		r = pkey ? TS_OK : TS_E_INVALID;
	} else if (alg == TS_ALG_ES256) {
		/* SEC 1 §2.3.3 uncompressed form: 0x04 || x || y. */
		pt[0] = 0x04;
		if (!jwk_member(x, pt + 1, ES256_COORD) ||
		    !jwk_member(y, pt + 1 + ES256_COORD, ES256_COORD))
			return TS_E_INVALID;
		r = ec_from_point(pt, &pkey);
	} else {
		return TS_E_INVALID;
	}
	ERR_clear_error();
	if (r != TS_OK)
		return r;
	return key_wrap(alg, pkey, 0, out);
}

ts_alg
ts_key_alg(const ts_key *k)
{
	return k->alg;
}

void
ts_key_free(ts_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *
ts_alg_name(ts_alg alg)
{
	/* RFC 7518 §3.1 and RFC 8037 §3.1 "alg" values. */
	switch (alg) {
	case TS_ALG_ES256:
		return "ES256";
	case TS_ALG_EDDSA:
		return "EdDSA";
	}
	return "unknown";
}

int
ts_alg_parse(const char *name)
{
	/* Case-sensitive, as JOSE "alg" values are (RFC 7515 §4.1.1). */
	if (name == NULL)
		return -1;
	if (strcmp(name, "ES256") == 0)
		return TS_ALG_ES256;
	if (strcmp(name, "EdDSA") == 0)
		return TS_ALG_EDDSA;
	return -1;
}

/* ---- signatures ---------------------------------------------------------- */

/* One-shot EVP_DigestSign; md is NULL for Ed25519, which hashes inside
 * (RFC 8032 PureEdDSA). *siglen: capacity in, length out. */
static ts_err
digest_sign(EVP_PKEY *pkey, const EVP_MD *md, const void *in, size_t n,
            unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ts_err r = TS_E_NOMEM;

	if (ctx == NULL)
		goto out;
	r = TS_E_INTERNAL;
	if (EVP_DigestSignInit(ctx, NULL, md, NULL, pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, siglen, in, n) != 1)
		goto out;
	r = TS_OK;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

/* 1 if sig is valid, 0 otherwise (including malformed input), -1 when
 * memory ran out. */
static int
digest_verify(EVP_PKEY *pkey, const EVP_MD *md, const void *in, size_t n,
              const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (ctx == NULL)
		return -1;
	ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
	     EVP_DigestVerify(ctx, sig, siglen, in, n) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* OpenSSL speaks DER ECDSA-Sig-Value (RFC 3279 §2.2.3); JWS wants R || S,
 * each left-padded to 32 bytes (RFC 7518 §3.4). */
static ts_err
es256_der_to_raw(const unsigned char *der, size_t derlen, unsigned char raw[64])
{
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	const BIGNUM *r, *s;
	ts_err rc = TS_E_INTERNAL;

	if (es == NULL)
		return rc;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, raw, ES256_COORD) == ES256_COORD &&
	    BN_bn2binpad(s, raw + ES256_COORD, ES256_COORD) == ES256_COORD)
		rc = TS_OK;
	ECDSA_SIG_free(es);
	return rc;
}

/* The reverse; *der is OPENSSL_malloc'ed (caller OPENSSL_frees). R or S of
 * 0 or >= n are passed through: OpenSSL's verify refuses them (SEC 1
 * §4.1.4 step 1), so we need not decide here. */
static ts_err
es256_raw_to_der(const unsigned char raw[64], unsigned char **der, int *derlen)
{
	BIGNUM *r = BN_bin2bn(raw, ES256_COORD, NULL);
	BIGNUM *s = BN_bin2bn(raw + ES256_COORD, ES256_COORD, NULL);
	ECDSA_SIG *es = ECDSA_SIG_new();
	ts_err rc = TS_E_NOMEM;

	*der = NULL;
	if (r == NULL || s == NULL || es == NULL || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		goto out;
	}
	/* es owns r and s now. */
	if ((*derlen = i2d_ECDSA_SIG(es, der)) > 0)
		rc = TS_OK;
out:
	ECDSA_SIG_free(es);
	return rc;
}

static ts_err
es256_sign(EVP_PKEY *pkey, const void *in, size_t n, unsigned char sig[64])
{
	unsigned char der[80];   /* DER of two 33-byte INTEGERs is at most 72 */
	size_t derlen = sizeof(der);
	ts_err r;

	if ((r = digest_sign(pkey, EVP_sha256(), in, n, der, &derlen)) != TS_OK)
		return r;
	return es256_der_to_raw(der, derlen, sig);
}

static ts_err
es256_verify(EVP_PKEY *pkey, const void *in, size_t n,
             const unsigned char *sig, size_t siglen)
{
	unsigned char *der = NULL;
	int derlen = 0, ok;
	ts_err r;

	/* RFC 7518 §3.4: "the JWS Signature value MUST be a 64-octet
	 * sequence" -- refuse anything else before decoding it. */
	if (siglen != 2 * ES256_COORD)
		return TS_E_TOKEN_INVALID;
	if ((r = es256_raw_to_der(sig, &der, &derlen)) != TS_OK)
		return r;
	ok = digest_verify(pkey, EVP_sha256(), in, n, der, (size_t)derlen);
	OPENSSL_free(der);
	return ok > 0 ? TS_OK : ok < 0 ? TS_E_NOMEM : TS_E_TOKEN_INVALID;
}

static ts_err
eddsa_verify(EVP_PKEY *pkey, const void *in, size_t n,
             const unsigned char *sig, size_t siglen)
{
	int ok;

	if (siglen != TS_SIG_MAX)   /* RFC 8032 §5.1.7: 64 octets */
		return TS_E_TOKEN_INVALID;
	ok = digest_verify(pkey, NULL, in, n, sig, siglen);
	return ok > 0 ? TS_OK : ok < 0 ? TS_E_NOMEM : TS_E_TOKEN_INVALID;
}

ts_err
ts_key_sign(const ts_key *k, const void *in, size_t n,
            unsigned char sig[TS_SIG_MAX], size_t *siglen)
{
	ts_err r;

	*siglen = 0;
	if (k == NULL || !k->has_private)
		return TS_E_INVALID;
	if (k->alg == TS_ALG_ES256) {
		r = es256_sign(k->pkey, in, n, sig);
	} else {
		size_t len = TS_SIG_MAX;
		r = digest_sign(k->pkey, NULL, in, n, sig, &len);
		if (r == TS_OK && len != TS_SIG_MAX)
			r = TS_E_INTERNAL;
	}
	ERR_clear_error();
	if (r == TS_OK)
		*siglen = TS_SIG_MAX;
	return r;
}

static ts_err
key_verify(const ts_key *k, const void *in, size_t n,
           const unsigned char *sig, size_t siglen)
{
	ts_err r;

	if (k->alg == TS_ALG_ES256)
		r = es256_verify(k->pkey, in, n, sig, siglen);
	else
		r = eddsa_verify(k->pkey, in, n, sig, siglen);
	ERR_clear_error();   /* a bad signature queues an error */
	return r;
}

/* ---- compact serialisation (RFC 7515 §7.1) ------------------------------- */

/* Restricting kid to the base64url alphabet means it never needs JSON
 * escaping, and covers both ts_secret_new and uuid-shaped ids. */
static int
kid_is_valid(const char *kid)
{
	size_t i, len;

	if (kid == NULL || (len = strnlen(kid, TS_KID_MAX)) == 0 || len >= TS_KID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)kid[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* The JOSE header, compact and in a fixed member order so equal inputs
 * give byte-equal tokens. Returns its length, or 0 if it did not fit. */
static size_t
jose_header(ts_alg alg, const char *kid, char *out, size_t cap)
{
	int n = snprintf(out, cap, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
	                 ts_alg_name(alg), kid);

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

ts_err
ts_jws_sign(const ts_key *k, const char *kid, const char *payload_json,
            char *out, size_t cap)
{
	char hdr[48 + TS_KID_MAX];   /* 36 characters around the kid */
	unsigned char sig[TS_SIG_MAX];
	size_t hlen, plen, need, o, siglen;
	ts_err r;

	if (k == NULL || !k->has_private || !kid_is_valid(kid) || payload_json == NULL ||
	    (plen = strnlen(payload_json, TS_JWT_MAX + 1)) > TS_JWT_MAX ||
	    (hlen = jose_header(k->alg, kid, hdr, sizeof(hdr))) == 0)
		return TS_E_INVALID;
	need = ts_b64url_enclen(hlen) + 1 + ts_b64url_enclen(plen) + 1 +
	       ts_b64url_enclen(TS_SIG_MAX);
	/* Never issue a token our own ts_jws_split would refuse. */
	if (need > TS_JWT_MAX || need + 1 > cap)
		return TS_E_INVALID;
	/* RFC 7515 §5.1 steps 2-8: the signing input is written in place. */
	o = ts_b64url_encode((const unsigned char *)hdr, hlen, out);
	out[o++] = '.';
	o += ts_b64url_encode((const unsigned char *)payload_json, plen, out + o);
	if ((r = ts_key_sign(k, out, o, sig, &siglen)) != TS_OK) {
		out[0] = '\0';
		return r;
	}
	out[o++] = '.';
	ts_b64url_encode(sig, siglen, out + o);
	return TS_OK;
}

/* Offsets and lengths of the three segments of a compact JWS. */
typedef struct jws_seg {
	size_t off[3], len[3];
} jws_seg;

/* Exactly two dots and three non-empty segments (RFC 7515 §7.1; an empty
 * payload is legal JWS but never a JWT, RFC 7519 §7.2 step 10). */
static int
jws_segments(const char *t, size_t len, jws_seg *sg)
{
	const char *d1 = memchr(t, '.', len), *d2;

	if (d1 == NULL)
		return 0;
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t));
	if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - t)) != NULL)
		return 0;
	sg->off[0] = 0;
	sg->len[0] = (size_t)(d1 - t);
	sg->off[1] = sg->len[0] + 1;
	sg->len[1] = (size_t)(d2 - d1) - 1;
	sg->off[2] = (size_t)(d2 - t) + 1;
	sg->len[2] = len - sg->off[2];
	return sg->len[0] > 0 && sg->len[1] > 0 && sg->len[2] > 0;
}

/* Decodes src[0..n) into dst as a NUL-terminated text (dst holds n + 1).
 * Refuses NUL bytes inside: the JSON parser would stop at them, reading
 * less than was signed. Returns the text length, or -1. */
static long
decode_text(const char *src, size_t n, char *dst)
{
	long len = ts_b64url_decode(src, n, (unsigned char *)dst, n);

	if (len < 0 || memchr(dst, '\0', (size_t)len) != NULL)
		return -1;
	dst[len] = '\0';
	return len;
}

ts_err
ts_jws_split(const char *token, ts_jws_parts *parts)
{
	jws_seg sg;
	size_t len, si;
	long hl, pl, sl;
	char *b;

	memset(parts, 0, sizeof(*parts));
	if (token == NULL || (len = strnlen(token, TS_JWT_MAX + 1)) > TS_JWT_MAX ||
	    !jws_segments(token, len, &sg))
		return TS_E_TOKEN_INVALID;
	si = sg.off[2] - 1;   /* "header.payload" */
	/* One block: signing input, header, payload, signature. Decoded data
	 * is shorter than its encoding, so encoded lengths bound each part. */
	if ((b = malloc(si + 1 + sg.len[0] + 1 + sg.len[1] + 1 + sg.len[2])) == NULL)
		return TS_E_NOMEM;
	parts->buf_ = b;
	memcpy(b, token, si);
	b[si] = '\0';
	parts->signing_input = b;
	parts->signing_input_len = si;
	parts->header = b + si + 1;
	parts->payload = parts->header + sg.len[0] + 1;
	parts->sig = (unsigned char *)parts->payload + sg.len[1] + 1;
	hl = decode_text(token + sg.off[0], sg.len[0], parts->header);
	pl = decode_text(token + sg.off[1], sg.len[1], parts->payload);
	sl = ts_b64url_decode(token + sg.off[2], sg.len[2], parts->sig, sg.len[2]);
	if (hl < 0 || pl < 0 || sl <= 0) {
		ts_jws_parts_free(parts);
		return TS_E_TOKEN_INVALID;
	}
	parts->payload_len = (size_t)pl;
	parts->sig_len = (size_t)sl;
	return TS_OK;
}

void
ts_jws_parts_free(ts_jws_parts *parts)
{
	if (parts == NULL)
		return;
	free(parts->buf_);
	memset(parts, 0, sizeof(*parts));
}

ts_err
ts_jws_verify(const ts_key *k, const ts_jws_parts *parts)
{
	if (k == NULL || parts == NULL || parts->signing_input == NULL || parts->sig == NULL)
		return TS_E_TOKEN_INVALID;
	return key_verify(k, parts->signing_input, parts->signing_input_len,
	                  parts->sig, parts->sig_len);
}
