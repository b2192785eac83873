/* Small helpers shared by every layer: clocks, random ids, bounded strings
 * and the validators for the few text forms every layer meets. */
#include "core/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void
sodium_init_once(void)
{
	/* sodium_init() only fails when no entropy source can be opened; the
	 * process cannot mint ids or keys then, so stopping is the safe answer. */
	if (sodium_init() < 0)
		abort();
}

void
ts_random_bytes(void *buf, size_t len)
{
	pthread_once(&sodium_once, sodium_init_once);
	randombytes_buf(buf, len);
}

void
ts_random_hex(char *out, size_t nbytes)
{
	unsigned char raw[64];
	size_t n = nbytes < sizeof(raw) ? nbytes : sizeof(raw);

	ts_random_bytes(raw, n);
	sodium_bin2hex(out, 2 * n + 1, raw, n);
	sodium_memzero(raw, sizeof(raw));
}

int64_t
ts_now(void)
{
	return (int64_t)time(NULL);
}

int64_t
ts_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
ts_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
ts_uuid4(char out[TS_UUID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t o = 0;

	ts_random_bytes(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* RFC 9562 §5.4: version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10xx */
	for (size_t i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0x0f];
	}
	out[o] = '\0';
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int
ts_is_uuid(const char *s)
{
	if (s == NULL)
		return 0;
	for (size_t i = 0; i < TS_UUID_LEN; i++) {
		int dash = (i == 8 || i == 13 || i == 18 || i == 23);
		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return 0; /* also stops at an early NUL */
	}
	return s[TS_UUID_LEN] == '\0';
}

void
ts_rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		ts_strlcpy(out, "1970-01-01T00:00:00Z", 32);
}

size_t
ts_strlcpy(char *dst, const char *src, size_t dstsz)
{
	size_t len = strlen(src);

	if (dstsz > 0) {
		size_t n = len < dstsz - 1 ? len : dstsz - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

void
ts_ascii_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

size_t
ts_utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp, min;

	if (len == 0 || c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	/* RFC 3629 §4: lead bytes C0, C1 and F5..FF never appear. */
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2; cp = c & 0x1f; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3; cp = c & 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4; cp = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF
	 * are how validators get bypassed; RFC 3629 §3 forbids all three. */
	if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

int
ts_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = ts_utf8_seq(p + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* A domain of dot-separated non-empty labels with at least one dot. */
static int
domain_valid(const char *d)
{
	size_t label = 0;
	int dots = 0;

	for (; *d; d++) {
		if (*d == '.') {
			if (label == 0)
				return 0;
			label = 0;
			dots++;
		} else {
			label++;
		}
	}
	return dots > 0 && label > 0;
}

int
ts_email_valid(const char *s)
{
	const char *at = NULL;
	size_t len;

	if (s == NULL)
		return 0;
	len = strlen(s);
	if (len == 0 || len > TS_EMAIL_MAX || !ts_utf8_valid(s, len))
		return 0;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f)
			return 0; /* controls and spaces */
		if (c == 0xc2 && (unsigned char)p[1] >= 0x80 && (unsigned char)p[1] <= 0x9f)
			return 0; /* C1 controls U+0080..U+009F */
		if (c == '@') {
			if (at != NULL)
				return 0;
			at = p;
		}
	}
	return at != NULL && at != s && domain_valid(at + 1);
}

int
ts_slug_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL || s[0] == '-')
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
		if (n >= TS_SLUG_MAX)
			return 0;
	}
	return n > 0;
}
