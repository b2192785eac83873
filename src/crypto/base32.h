/* base32 decoding (RFC 4648 §6) for TOTP secrets kept in text form. */
#ifndef TS_BASE32_H
#define TS_BASE32_H

#include <stddef.h>

/* Decodes s (upper or lower case, padding optional) into out (capacity
 * cap). Returns the decoded length, or -1 on a bad character or overflow. */
long ts_base32_decode(const char *s, unsigned char *out, size_t cap);

#endif
