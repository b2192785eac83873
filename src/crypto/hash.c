/* Digests, MACs, randomness and opaque secrets, on libsodium; SHA-256 on
 * OpenSSL, whose SHA-NI code is ~10x libsodium's portable one here (it
 * hashes every bearer token on the hot path). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <oath.h>
#include <openssl/evp.h>

#include "crypto/b64url.h"
#include "crypto/hash.h"

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static ts_err crypto_init_result = TS_E_INTERNAL;
/* Fetched once: EVP_Digest with a NULL-free md skips the per-call lookup. */
static EVP_MD *sha256_md;

static void
crypto_init_once(void)
{
	/* sodium_init() returns 1 when already initialised: still fine. */
	if (sodium_init() < 0)
		return;
	if (oath_init() != OATH_OK)
		return;
	if (!(sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)))
		return;
	crypto_init_result = TS_OK;
}

ts_err
ts_crypto_init(void)
{
	if (pthread_once(&crypto_once, crypto_init_once) != 0)
		return TS_E_INTERNAL;
	return crypto_init_result;
}

/* For the void functions below: without an initialised library a "secret"
 * could come out predictable, and there is no error to return, so stop. */
static void
crypto_init_or_die(void)
{
	if (ts_crypto_init() != TS_OK)
		abort();
}

void
ts_sha256(const void *in, size_t n, unsigned char out[TS_SHA256_LEN])
{
	crypto_init_or_die();
	if (EVP_Digest(in, n, out, NULL, sha256_md, NULL) != 1)
		abort();   /* cannot happen with a fetched SHA-256; no error to return */
}

void
ts_sha512(const void *in, size_t n, unsigned char out[TS_SHA512_LEN])
{
	crypto_init_or_die();
	crypto_hash_sha512(out, in, n);   /* libsodium's; cannot fail */
}

void
ts_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
               unsigned char out[TS_SHA256_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_init_or_die();
	/* The init/update/final form takes a key of any length (RFC 2104 §2:
	 * longer keys are hashed first); crypto_auth_hmacsha256() would
	 * insist on exactly 32 bytes. */
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, msg, n);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));   /* holds the padded key */
}

void
ts_random(void *buf, size_t n)
{
	crypto_init_or_die();
	randombytes_buf(buf, n);
}

int
ts_ct_eq(const void *a, const void *b, size_t n)
{
	crypto_init_or_die();
	return sodium_memcmp(a, b, n) == 0;
}

void
ts_secret_new(char text[TS_SECRET_TEXT_LEN + 1])
{
	unsigned char raw[32];

	ts_random(raw, sizeof(raw));
	ts_b64url_encode(raw, sizeof(raw), text);
	ts_wipe(raw, sizeof(raw));
}

void
ts_secret_new_uuidlike(char text[37])
{
	/* Only the 8-4-4-4-12 shape of RFC 9562 §4: no version or variant
	 * bits are set, so all 128 bits stay random. */
	static const size_t groups[5] = { 4, 2, 2, 2, 6 };
	unsigned char raw[16];
	size_t g, in = 0, o = 0;

	ts_random(raw, sizeof(raw));
	for (g = 0; g < 5; g++) {
		if (g > 0)
			text[o++] = '-';
		/* sodium_bin2hex is constant time, unlike a table lookup. */
		sodium_bin2hex(text + o, groups[g] * 2 + 1, raw + in, groups[g]);
		o += groups[g] * 2;
		in += groups[g];
	}
	text[o] = '\0';
	ts_wipe(raw, sizeof(raw));
}

void
ts_secret_hash(const char *text, size_t len, char out[TS_SECRET_HASH_LEN + 1])
{
	unsigned char d[TS_SHA256_LEN];

	/* A fast hash is enough here: secrets are 128+ random bits, so there
	 * is nothing to guess, unlike passwords. */
	ts_sha256(text, len, d);
	sodium_bin2hex(out, TS_SECRET_HASH_LEN + 1, d, sizeof(d));
}

void
ts_wipe(void *p, size_t n)
{
	/* sodium_memzero needs no sodium_init(). */
	sodium_memzero(p, n);
}
