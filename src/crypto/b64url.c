/* base64url without padding (RFC 4648 §5; RFC 7515 §2 "Base64url Encoding"). */
#include "crypto/b64url.h"

static const char b64url_alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
ts_b64url_enclen(size_t n)
{
	/* Every 3 bytes become 4 characters; a tail of 1 or 2 bytes becomes
	 * 2 or 3 characters because the '=' padding is dropped. */
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t
ts_b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i = 0, o = 0;

	for (; i + 3 <= n; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16 |
		                  (unsigned long)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		out[o++] = b64url_alphabet[in[i] >> 2];
		out[o++] = b64url_alphabet[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		out[o++] = b64url_alphabet[in[i] >> 2];
		out[o++] = b64url_alphabet[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = b64url_alphabet[(in[i + 1] & 15) << 2];
	}
	out[o] = '\0';
	return o;
}

/* The 6-bit value of one alphabet character, or -1. Arithmetic instead of a
 * 256-entry table keeps the decoder free of secret-dependent table lookups
 * (tokens and secrets pass through here). */
static int
b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decoded length of len characters, or -1 when no encoding has that length
 * (a single character left over carries only 6 bits: RFC 4648 §5 never
 * produces it). */
static long
b64url_declen(size_t len)
{
	if (len % 4 == 1)
		return -1;
	return (long)(len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1));
}

long
ts_b64url_decode(const char *s, size_t len, unsigned char *out, size_t outcap)
{
	unsigned long acc = 0;
	unsigned bits = 0;
	size_t i, o = 0;
	long want = b64url_declen(len);

	if (want < 0 || (size_t)want > outcap)
		return -1;
	for (i = 0; i < len; i++) {
		int v = b64url_val((unsigned char)s[i]);
		if (v < 0)
			return -1;   /* also refuses '=': padding is not allowed */
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* The unused low bits of the last character must be zero, so that
	 * each byte string has exactly one encoding (RFC 4648 §3.5). */
	if (acc & ((1ul << bits) - 1))
		return -1;
	return (long)o;
}
