/* Fuzzes the input checks of src/core/util.c: ts_utf8_valid/ts_utf8_seq
 * against a second, table-driven UTF-8 validator (Unicode 15 §3.9, table
 * 3-7 "well-formed byte sequences"), and ts_email_valid / ts_slug_valid
 * against the rules their header states. */
#include "core/util.h"
#include "fuzz.h"

/* Length of the well-formed sequence at p per Table 3-7, or 0. NUL is
 * refused as ts_utf8_seq does. */
static size_t
ref_seq(const unsigned char *p, size_t len)
{
	static const struct {
		unsigned char lo[4], hi[4];
		size_t n;
	} rows[] = {
		{ { 0x01 }, { 0x7f }, 1 },
		{ { 0xc2, 0x80 }, { 0xdf, 0xbf }, 2 },
		{ { 0xe0, 0xa0, 0x80 }, { 0xe0, 0xbf, 0xbf }, 3 },
		{ { 0xe1, 0x80, 0x80 }, { 0xec, 0xbf, 0xbf }, 3 },
		{ { 0xed, 0x80, 0x80 }, { 0xed, 0x9f, 0xbf }, 3 },
		{ { 0xee, 0x80, 0x80 }, { 0xef, 0xbf, 0xbf }, 3 },
		{ { 0xf0, 0x90, 0x80, 0x80 }, { 0xf0, 0xbf, 0xbf, 0xbf }, 4 },
		{ { 0xf1, 0x80, 0x80, 0x80 }, { 0xf3, 0xbf, 0xbf, 0xbf }, 4 },
		{ { 0xf4, 0x80, 0x80, 0x80 }, { 0xf4, 0x8f, 0xbf, 0xbf }, 4 },
	};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		size_t i;

		if (len < rows[r].n)
			continue;
		for (i = 0; i < rows[r].n; i++)
			if (p[i] < rows[r].lo[i] || p[i] > rows[r].hi[i])
				break;
		if (i == rows[r].n)
			return rows[r].n;
	}
	return 0;
}

static int
ref_valid(const unsigned char *p, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((n = ref_seq(p + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

static void
check_email(const char *s)
{
	size_t len = strlen(s), ats = 0;
	const char *at = NULL;

	if (!ts_email_valid(s))
		return;
	FUZZ_CHECK(len > 0 && len <= TS_EMAIL_MAX);
	FUZZ_CHECK(ref_valid((const unsigned char *)s, len));
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		FUZZ_CHECK(c > 0x20 && c != 0x7f);
		if (c == '@') {
			ats++;
			at = p;
		}
	}
	FUZZ_CHECK(ats == 1 && at != s);
	/* a dotted domain: a dot, neither first nor last, none doubled */
	const char *d = at + 1;
	FUZZ_CHECK(*d && *d != '.' && strchr(d, '.') && d[strlen(d) - 1] != '.' && !strstr(d, ".."));
}

static void
check_slug(const char *s)
{
	size_t n = strlen(s);

	if (!ts_slug_valid(s))
		return;
	FUZZ_CHECK(n >= 1 && n <= TS_SLUG_MAX && s[0] != '-');
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *b = fuzz_bytes(data, size);
	char *s = fuzz_cstr(data, size);
	int v = ts_utf8_valid(b, size);

	FUZZ_CHECK(v == ref_valid(data, size));
	if (size > 0) {
		size_t n = ts_utf8_seq((const unsigned char *)b, size);
		FUZZ_CHECK(n == ref_seq(data, size));
	}
	check_email(s);
	check_slug(s);
	/* Lower-casing keeps a valid text valid and never changes its length. */
	{
		size_t n = strlen(s);
		int was = ts_utf8_valid(s, n);
		ts_ascii_lower(s);
		FUZZ_CHECK(strlen(s) == n);
		FUZZ_CHECK(ts_utf8_valid(s, n) == was);
	}
	free(s);
	free(b);
	return 0;
}
