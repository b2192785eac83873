/* Signing keys and compact JWS/JWT (RFC 7515, 7519) with ES256 (raw R||S,
 * RFC 7518 §3.4) and EdDSA/Ed25519 (RFC 8037). OpenSSL libcrypto inside. */
#ifndef TS_JWT_H
#define TS_JWT_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

typedef enum { TS_ALG_ES256, TS_ALG_EDDSA } ts_alg;

#define TS_KID_MAX 64
#define TS_JWT_MAX 4096   /* longest token text we accept */

typedef struct ts_key ts_key;   /* opaque; wraps an EVP_PKEY */

/* Generates a new private key. */
ts_err ts_key_generate(ts_alg alg, ts_key **out);
/* Loads a key from PEM (PKCS#8 private or SubjectPublicKeyInfo public).
 * TS_E_INVALID if pem holds no unencrypted key of type alg (P-256 for ES256). */
ts_err ts_key_from_pem(ts_alg alg, const char *pem, ts_key **out);
/* Private key as PKCS#8 PEM; caller wipes (ts_wipe) and frees *pem with
 * free(). TS_E_INVALID if k holds only a public key. */
ts_err ts_key_private_pem(const ts_key *k, char **pem);
/* Public key as a JWK's members, base64url: for EC x and y, for OKP x (y set
 * to ""). crv is "P-256" or "Ed25519". Buffers hold 64 bytes each. */
ts_err ts_key_public_jwk(const ts_key *k, const char **crv, char x[64], char y[64]);
/* Builds a public key from JWK members (y ignored for Ed25519). */
ts_err ts_key_from_jwk(ts_alg alg, const char *x, const char *y, ts_key **out);
ts_alg ts_key_alg(const ts_key *k);
void ts_key_free(ts_key *k);
/* "ES256" / "EdDSA"; ts_alg_parse returns -1 for anything else. */
const char *ts_alg_name(ts_alg alg);
int ts_alg_parse(const char *name);

/* ES256 (raw R||S, RFC 7518 §3.4) and Ed25519 (RFC 8032 §5.1.6) signatures
 * are both 64 bytes. */
#define TS_SIG_MAX 64

/* Signs the bytes in[0..n), e.g. a JWS Signing Input (RFC 7515 §5.1 step 5)
 * whose header ts_jws_sign would not build. sig receives the JWS form of
 * the signature and *siglen its length (64). TS_OK, TS_E_INVALID (k holds
 * only a public key), TS_E_NOMEM or TS_E_INTERNAL. */
ts_err ts_key_sign(const ts_key *k, const void *in, size_t n,
                   unsigned char sig[TS_SIG_MAX], size_t *siglen)
	__attribute__((warn_unused_result));

/* Signs header_b64 "." payload_b64 and returns the compact token in out
 * (capacity cap). The header is built here: {"alg":..,"typ":"JWT","kid":kid}.
 * payload_json is the exact claims text. kid is 1 to TS_KID_MAX - 1
 * characters of [A-Za-z0-9_-], so it needs no JSON escaping. TS_E_INVALID for
 * a bad kid, a public-only key, or a token that would not fit cap or
 * TS_JWT_MAX. */
ts_err ts_jws_sign(const ts_key *k, const char *kid, const char *payload_json,
                   char *out, size_t cap);

/* Splits a compact JWS without checking it. The parts point into a private
 * copy owned by *parts: free with ts_jws_parts_free. header and payload are
 * the decoded JSON texts (NUL-terminated). Rejects anything that is not three
 * base64url segments, longer than TS_JWT_MAX, or whose header or payload
 * contains a NUL byte. TS_OK, TS_E_TOKEN_INVALID or TS_E_NOMEM; on failure
 * *parts is zeroed and owns nothing. */
typedef struct ts_jws_parts {
	char *header;            /* decoded JSON */
	char *payload;           /* decoded JSON */
	size_t payload_len;
	unsigned char *sig;      /* decoded signature */
	size_t sig_len;
	const char *signing_input;  /* "h.p" of the original text */
	size_t signing_input_len;
	char *buf_;              /* owner of everything above */
} ts_jws_parts;
ts_err ts_jws_split(const char *token, ts_jws_parts *parts);
void ts_jws_parts_free(ts_jws_parts *parts);

/* Verifies parts' signature with k. TS_OK or TS_E_TOKEN_INVALID (TS_E_NOMEM
 * if memory runs out). A private key verifies as well as its public half.
 * Does not read the header: the caller has matched alg and kid. */
ts_err ts_jws_verify(const ts_key *k, const ts_jws_parts *parts);

#endif
