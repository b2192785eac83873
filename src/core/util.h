/* Small helpers shared by every layer: time, ids, bounded strings. */
#ifndef TS_UTIL_H
#define TS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define TS_UUID_LEN 36          /* text form, without the NUL */
#define TS_EMAIL_MAX 254        /* RFC 5321 path limit */
#define TS_PASSWORD_MIN 8
#define TS_PASSWORD_MAX 1024
#define TS_SLUG_MAX 63
#define TS_HOST_MAX 253

/* Seconds since the epoch (wall clock). */
int64_t ts_now(void);
/* Milliseconds since the epoch (wall clock): for state shared by several
 * nodes, which agree on the wall clock and on no monotonic one. */
int64_t ts_now_ms(void);
/* Monotonic clock in microseconds, for durations. */
int64_t ts_mono_us(void);

/* A random version-4 UUID in lower-case text form; out holds 37 bytes. */
void ts_uuid4(char out[TS_UUID_LEN + 1]);
/* 1 if s is a UUID in canonical 8-4-4-4-12 hex text form. */
int ts_is_uuid(const char *s);

/* len bytes from libsodium's CSPRNG (initialised on first use). */
void ts_random_bytes(void *buf, size_t len);
/* nbytes (at most 64) random bytes as lower-case hex; out holds
 * 2 * nbytes + 1 bytes. For request ids, not for secrets. */
void ts_random_hex(char *out, size_t nbytes);

/* RFC 3339 UTC time ("2026-11-23T10:00:00Z"); out holds 32 bytes. */
void ts_rfc3339(int64_t t, char out[32]);

/* Copies src into dst (size dstsz, NUL-terminated, truncating).
 * Returns the length of src so callers can detect truncation. */
size_t ts_strlcpy(char *dst, const char *src, size_t dstsz);

/* Lower-cases ASCII letters of s in place. */
void ts_ascii_lower(char *s);

/* 1 if s (len bytes) is well-formed UTF-8 with no NUL byte. */
int ts_utf8_valid(const char *s, size_t len);
/* Length (1..4) of the well-formed, non-NUL UTF-8 sequence at s (len bytes
 * available), or 0 when it is malformed, overlong, a surrogate, past
 * U+10FFFF or truncated. */
size_t ts_utf8_seq(const unsigned char *s, size_t len);

/* 1 if s looks like an addr-spec we accept: one '@', a non-empty local
 * part and a dotted domain, printable ASCII or UTF-8, at most 254 bytes.
 * Deliberately simple: verification mail is the real test of an address. */
int ts_email_valid(const char *s);

/* 1 if s is a tenant slug: 1..63 of [a-z0-9-], not starting with '-'. */
int ts_slug_valid(const char *s);

#endif
