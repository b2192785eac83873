/* TOTP (RFC 6238) over HMAC-SHA1 with 30 s steps and 6 digits (liboath). */
#ifndef TS_TOTP_H
#define TS_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define TS_TOTP_SECRET_LEN 20      /* bytes, RFC 4226 §4 recommends 160 bits */
#define TS_TOTP_B32_MAX 64

/* Fresh random secret; b32 (RFC 4648 base32, no padding) for the user. */
void ts_totp_secret_new(unsigned char secret[TS_TOTP_SECRET_LEN], char b32[TS_TOTP_B32_MAX]);
ts_err ts_totp_b32_encode(const unsigned char *secret, size_t n, char *out, size_t cap);
/* The code for time t (digits 6 or 8); out holds digits+1 bytes. */
ts_err ts_totp_code(const unsigned char *secret, size_t n, int64_t t, unsigned digits, char *out);
/* Checks code against steps t-window..t+window. On a match sets *step to the
 * matched time step (t/30) so the caller can refuse a step already used.
 * TS_OK or TS_E_MFA_INVALID. Constant time in the code. */
ts_err ts_totp_verify(const unsigned char *secret, size_t n, int64_t t, unsigned window,
                      const char *code, int64_t *step);
/* otpauth:// URI for authenticator apps; caller frees. */
char *ts_totp_uri(const char *issuer, const char *account, const char *b32);

#endif
