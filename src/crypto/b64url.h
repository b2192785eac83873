/* base64url without padding (RFC 4648 §5, RFC 7515 §2). */
#ifndef TS_B64URL_H
#define TS_B64URL_H

#include <stddef.h>

/* Encoded length of n bytes, without the NUL. */
size_t ts_b64url_enclen(size_t n);
/* Writes the encoding of in[0..n) and a NUL to out, which holds
 * ts_b64url_enclen(n) + 1 bytes. Returns the encoded length. */
size_t ts_b64url_encode(const unsigned char *in, size_t n, char *out);
/* Decodes s[0..len) into out (capacity outcap). Rejects padding, characters
 * outside the alphabet, an impossible length (len % 4 == 1) and non-zero
 * trailing bits. Returns the decoded length, or -1. */
long ts_b64url_decode(const char *s, size_t len, unsigned char *out, size_t outcap);

#endif
