/* Fuzzes the JWT reader: ts_jws_split, the JOSE header and claims decoders,
 * and ts_jws_verify against a fixed ES256 and a fixed Ed25519 key (public
 * halves rebuilt from their JWKs, as a verifier holds them). The input is
 * also signed as a payload, which must round-trip and verify, and stop
 * verifying once a signature bit flips. */
#include "crypto/jwt.h"
#include "crypto/jwt_claims.h"
#include "fuzz.h"

static ts_key *es_priv, *es_pub, *ed_priv, *ed_pub;

static ts_key *
public_half(ts_key *k, ts_alg alg)
{
	const char *crv;
	char x[64], y[64];
	ts_key *pub = NULL;

	if (ts_key_public_jwk(k, &crv, x, y) != TS_OK || ts_key_from_jwk(alg, x, y, &pub) != TS_OK)
		abort();
	return pub;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (ts_key_generate(TS_ALG_ES256, &es_priv) != TS_OK ||
	    ts_key_generate(TS_ALG_EDDSA, &ed_priv) != TS_OK)
		abort();
	es_pub = public_half(es_priv, TS_ALG_ES256);
	ed_pub = public_half(ed_priv, TS_ALG_EDDSA);
	return 0;
}

static int
terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* Reads a token as the engine does and checks what the reader promises. */
static void
read_token(const char *tok)
{
	ts_jws_parts p;
	ts_err r = ts_jws_split(tok, &p);
	char alg[16], kid[TS_KID_MAX];
	ts_jwt_claims c;

	if (r != TS_OK) {
		FUZZ_CHECK(r == TS_E_TOKEN_INVALID || r == TS_E_NOMEM);
		FUZZ_CHECK(p.buf_ == NULL && p.header == NULL && p.payload == NULL && p.sig == NULL);
		ts_jws_parts_free(&p);
		return;
	}
	size_t len = strlen(tok);
	FUZZ_CHECK(len <= TS_JWT_MAX);
	FUZZ_CHECK(p.signing_input_len < len && tok[p.signing_input_len] == '.');
	FUZZ_CHECK(memcmp(p.signing_input, tok, p.signing_input_len) == 0);
	FUZZ_CHECK(strlen(p.payload) == p.payload_len);
	FUZZ_CHECK(p.sig_len > 0 && p.sig_len <= len);
	(void)strlen(p.header);

	memset(alg, 'x', sizeof(alg));
	memset(kid, 'x', sizeof(kid));
	if (ts_jwt_header_decode(p.header, alg, sizeof(alg), kid, sizeof(kid)) == TS_OK) {
		FUZZ_CHECK(terminated(alg, sizeof(alg)) && terminated(kid, sizeof(kid)));
		(void)ts_alg_parse(alg);
	}
	memset(&c, 'x', sizeof(c));
	if (ts_jwt_claims_decode(p.payload, &c) == TS_OK) {
		FUZZ_CHECK(terminated(c.iss, sizeof(c.iss)) && terminated(c.sub, sizeof(c.sub)) &&
		           terminated(c.aud, sizeof(c.aud)) && terminated(c.tid, sizeof(c.tid)) &&
		           terminated(c.sid, sizeof(c.sid)) && terminated(c.jti, sizeof(c.jti)) &&
		           terminated(c.scope, sizeof(c.scope)) && terminated(c.amr, sizeof(c.amr)));
	}
	/* Nobody can forge these keys' signatures: never valid. */
	FUZZ_CHECK(ts_jws_verify(es_pub, &p) != TS_OK);
	FUZZ_CHECK(ts_jws_verify(ed_pub, &p) != TS_OK);
	ts_jws_parts_free(&p);
}

/* Signs payload with k and checks the result reads back and verifies. */
static void
round_trip(const ts_key *k, const ts_key *pub, const ts_key *other, const char *kid,
           const char *alg, const char *payload)
{
	char tok[TS_JWT_MAX + 1];
	ts_jws_parts p;
	char a[16], kd[TS_KID_MAX];

	if (ts_jws_sign(k, kid, payload, tok, sizeof(tok)) != TS_OK)
		return;           /* too long for a token: refused, fine */
	FUZZ_CHECK(strlen(tok) <= TS_JWT_MAX);
	FUZZ_CHECK(ts_jws_split(tok, &p) == TS_OK);
	FUZZ_CHECK(strcmp(p.payload, payload) == 0);
	FUZZ_CHECK(ts_jwt_header_decode(p.header, a, sizeof(a), kd, sizeof(kd)) == TS_OK);
	FUZZ_CHECK(strcmp(a, alg) == 0 && strcmp(kd, kid) == 0);
	FUZZ_CHECK(ts_jws_verify(pub, &p) == TS_OK);
	FUZZ_CHECK(ts_jws_verify(k, &p) == TS_OK);
	FUZZ_CHECK(ts_jws_verify(other, &p) != TS_OK);
	/* Any flipped signature bit breaks it. */
	size_t bit = strlen(payload) % (p.sig_len * 8);
	p.sig[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	FUZZ_CHECK(ts_jws_verify(pub, &p) != TS_OK);
	ts_jws_parts_free(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);

	read_token(s);
	/* NUL inside the input: what follows it is a second token. */
	if (strlen(s) < size)
		read_token(s + strlen(s) + 1);
	/* Signing costs a millisecond, so only JSON-looking inputs are signed.
	 * (An empty payload would fail: ts_jws_sign accepts "" although
	 * ts_jws_split refuses the token it makes.) */
	if (s[0] == '{' && size < 3000) {
		round_trip(es_priv, es_pub, ed_pub, "fuzz-es", "ES256", s);
		round_trip(ed_priv, ed_pub, es_pub, "fuzz-ed", "EdDSA", s);
	}
	/* The header and claims decoders on the raw text, without base64. */
	{
		char alg[16], kid[TS_KID_MAX];
		ts_jwt_claims c;
		(void)ts_jwt_header_decode(s, alg, sizeof(alg), kid, sizeof(kid));
		(void)ts_jwt_claims_decode(s, &c);
	}
	free(s);
	return 0;
}
