/* TOTP (RFC 6238) over HMAC-SHA1 with 30 s steps and 6 digits (liboath). */
#ifndef TS_TOTP_H
#define TS_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define TS_TOTP_SECRET_LEN 20      /* bytes, RFC 4226 §4 recommends 160 bits */
#define TS_TOTP_B32_MAX 64
#define TS_TOTP_DIGITS 6           /* what ts_totp_verify and ts_totp_uri use */
#define TS_TOTP_PERIOD 30          /* seconds per step, RFC 6238 §4.1 X */
#define TS_TOTP_WINDOW_MAX 10      /* largest window ts_totp_verify accepts */

/* Fresh random secret; b32 (RFC 4648 base32, no padding) for the user. */
void ts_totp_secret_new(unsigned char secret[TS_TOTP_SECRET_LEN], char b32[TS_TOTP_B32_MAX]);
/* RFC 4648 §6 base32, upper case, no padding, NUL-terminated. TS_E_INVALID
 * if cap is below ceil(n * 8 / 5) + 1. */
ts_err ts_totp_b32_encode(const unsigned char *secret, size_t n, char *out, size_t cap);
/* The code for Unix time t >= 0 (digits 6 or 8); out holds digits+1 bytes.
 * TS_OK, TS_E_INVALID or TS_E_INTERNAL. */
ts_err ts_totp_code(const unsigned char *secret, size_t n, int64_t t, unsigned digits, char *out);
/* Checks code against steps t-window..t+window. On a match sets *step to the
 * matched time step (t/30) so the caller can refuse a step already used.
 * TS_OK or TS_E_MFA_INVALID. Constant time in the code. code must be
 * TS_TOTP_DIGITS digits; window at most TS_TOTP_WINDOW_MAX (else
 * TS_E_INVALID). If two steps of the window share the code, the later step
 * is reported, so replay protection errs on the safe side. */
ts_err ts_totp_verify(const unsigned char *secret, size_t n, int64_t t, unsigned window,
                      const char *code, int64_t *step);
/* otpauth:// URI for authenticator apps (Google Authenticator "Key Uri
 * Format"); issuer and account are percent-encoded (RFC 3986 §2.1). Caller
 * frees. NULL on bad input (b32 not [A-Z2-7]+) or no memory. */
char *ts_totp_uri(const char *issuer, const char *account, const char *b32);

#endif
