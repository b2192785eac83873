/* RFC 4648 §6 base32 decoding. */
#include <ctype.h>
#include "crypto/base32.h"

static int
b32val(int c)
{
	c = toupper((unsigned char)c);
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

long
ts_base32_decode(const char *s, unsigned char *out, size_t cap)
{
	unsigned long acc = 0;
	int bits = 0;
	size_t n = 0;

	for (; *s && *s != '='; s++) {
		int v = b32val(*s);
		if (v < 0)
			return -1;
		acc = (acc << 5) | (unsigned long)v;
		bits += 5;
		if (bits >= 8) {
			if (n >= cap)
				return -1;
			out[n++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	return (long)n;
}
