/* TOTP (RFC 6238): HOTP (RFC 4226) over time steps, HOTP itself from liboath. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <oath.h>

#include "crypto/hash.h"
#include "crypto/totp.h"

#define CODE_MAX 8   /* RFC 4226 §5.3 allows 6 to 8 digits; we use 6 or 8 */

static const char b32_alphabet[32] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void
ts_totp_secret_new(unsigned char secret[TS_TOTP_SECRET_LEN], char b32[TS_TOTP_B32_MAX])
{
	ts_random(secret, TS_TOTP_SECRET_LEN);
	/* 20 bytes are 32 characters: always fits, cannot fail. */
	(void)ts_totp_b32_encode(secret, TS_TOTP_SECRET_LEN, b32, TS_TOTP_B32_MAX);
}

/* RFC 4648 §6: 5 bits a character, so ceil(8n / 5) characters once the
 * '=' padding is left off (authenticator apps do not want it). */
static size_t
b32_enclen(size_t n)
{
	return n / 5 * 8 + (n % 5 * 8 + 4) / 5;
}

ts_err
ts_totp_b32_encode(const unsigned char *secret, size_t n, char *out, size_t cap)
{
	unsigned long acc = 0;
	unsigned bits = 0;
	size_t i, o = 0;

	if (out == NULL || (secret == NULL && n > 0) || b32_enclen(n) >= cap)
		return TS_E_INVALID;
	for (i = 0; i < n; i++) {
		acc = (acc << 8 | secret[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32_alphabet[acc >> bits & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32_alphabet[acc << (5 - bits) & 31];
	out[o] = '\0';
	return TS_OK;
}

/* RFC 6238 §4.2: T = floor((t - T0) / X), T0 = 0, X = 30. */
static int64_t
time_step(int64_t t)
{
	return t / TS_TOTP_PERIOD;
}

/* HOTP value for counter c (RFC 4226 §5.3) as digits characters + NUL. */
static ts_err
hotp(const unsigned char *secret, size_t n, uint64_t c, unsigned digits, char *out)
{
	ts_err r;

	if ((r = ts_crypto_init()) != TS_OK)
		return r;
	if (oath_hotp_generate((const char *)secret, n, c, digits, false,
	                       OATH_HOTP_DYNAMIC_TRUNCATION, out) != OATH_OK)
		return TS_E_INTERNAL;
	return TS_OK;
}

ts_err
ts_totp_code(const unsigned char *secret, size_t n, int64_t t, unsigned digits, char *out)
{
	if (secret == NULL || n == 0 || t < 0 || out == NULL || (digits != 6 && digits != 8))
		return TS_E_INVALID;
	return hotp(secret, n, (uint64_t)time_step(t), digits, out);
}

/* Only the shape is checked here, so this may return early: the format of
 * a code is no secret. */
static int
code_is_wellformed(const char *code)
{
	size_t i;

	if (code == NULL || strnlen(code, TS_TOTP_DIGITS + 1) != TS_TOTP_DIGITS)
		return 0;
	for (i = 0; i < TS_TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	return 1;
}

ts_err
ts_totp_verify(const unsigned char *secret, size_t n, int64_t t, unsigned window,
               const char *code, int64_t *step)
{
	char cand[CODE_MAX + 1];
	int64_t s, base, mask, found = -1;
	ts_err r = TS_OK;

	if (secret == NULL || n == 0 || t < 0 || window > TS_TOTP_WINDOW_MAX)
		return TS_E_INVALID;
	if (!code_is_wellformed(code))
		return TS_E_MFA_INVALID;
	base = time_step(t);
	/* Every step of the window is computed and compared, match or not,
	 * and the comparison is sodium_memcmp: the time taken says nothing
	 * about how close a guess came (RFC 6238 §5.2 allows the window). */
	for (s = base - (int64_t)window; s <= base + (int64_t)window; s++) {
		if (s < 0)
			continue;
		if ((r = hotp(secret, n, (uint64_t)s, TS_TOTP_DIGITS, cand)) != TS_OK)
			break;
		/* Branch-free keep-the-latest: mask is all ones on a match. */
		mask = -(int64_t)ts_ct_eq(cand, code, TS_TOTP_DIGITS);
		found = (s & mask) | (found & ~mask);
	}
	ts_wipe(cand, sizeof(cand));
	if (r != TS_OK)
		return r;
	if (found < 0)
		return TS_E_MFA_INVALID;
	if (step != NULL)
		*step = found;
	return TS_OK;
}

/* RFC 3986 §2.3 unreserved characters pass; everything else, including
 * the ':' that separates issuer from account in the label, is %XX. */
static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends the percent-encoding of s at out; returns characters written.
 * With out NULL only counts. */
static size_t
pct_encode(const char *s, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (is_unreserved(c)) {
			if (out)
				out[o] = (char)c;
			o++;
			continue;
		}
		if (out) {
			out[o] = '%';
			out[o + 1] = hex[c >> 4];
			out[o + 2] = hex[c & 15];
		}
		o += 3;
	}
	return o;
}

static int
b32_is_valid(const char *b32)
{
	size_t i, len = strnlen(b32, TS_TOTP_B32_MAX);

	if (len == 0 || len >= TS_TOTP_B32_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((b32[i] >= 'A' && b32[i] <= 'Z') || (b32[i] >= '2' && b32[i] <= '7')))
			return 0;
	return 1;
}

#define URI_ISSUER_MAX 256   /* far above any real issuer or account name */

_Static_assert(TS_TOTP_DIGITS == 6 && TS_TOTP_PERIOD == 30,
               "ts_totp_uri's tail spells out digits and period");

char *
ts_totp_uri(const char *issuer, const char *account, const char *b32)
{
	static const char tail[] = "&algorithm=SHA1&digits=6&period=30";
	size_t ie, ae, len, o;
	char *uri;

	if (issuer == NULL || account == NULL || b32 == NULL || !b32_is_valid(b32) ||
	    strnlen(issuer, URI_ISSUER_MAX) >= URI_ISSUER_MAX ||
	    strnlen(account, URI_ISSUER_MAX) >= URI_ISSUER_MAX)
		return NULL;
	ie = pct_encode(issuer, NULL);
	ae = pct_encode(account, NULL);
	/* otpauth://totp/I:A?secret=S&issuer=I<tail> */
	len = strlen("otpauth://totp/") + ie + 1 + ae + strlen("?secret=") +
	      strlen(b32) + strlen("&issuer=") + ie + strlen(tail);
	if ((uri = malloc(len + 1)) == NULL)
		return NULL;
	o = (size_t)sprintf(uri, "otpauth://totp/");
	o += pct_encode(issuer, uri + o);
	uri[o++] = ':';
	o += pct_encode(account, uri + o);
	o += (size_t)sprintf(uri + o, "?secret=%s&issuer=", b32);
	o += pct_encode(issuer, uri + o);
	memcpy(uri + o, tail, sizeof(tail));
	return uri;
}
