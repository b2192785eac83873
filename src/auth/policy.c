/* The password policy (policy.h): NIST SP 800-63B rev. 4 §3.1.1.2. Lengths
 * in characters (Unicode code points) of the NFKC form, no composition rules,
 * a blocklist of common and breached passwords, and context words. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unistr.h>
#include <uninorm.h>

#include "auth/policy.h"
#include "crypto/hash.h"
#include "crypto/password.h"

/* share/common-passwords.txt, embedded at build time (scripts/embed.sh):
 * one entry per line, NFKC and case-folded, "#" lines are provenance. */
extern const char ts_common_passwords[];

/* A context word shorter than this is not looked for: "a" or "io" would
 * refuse half of all passwords and protect nobody. */
#define CONTEXT_MIN 4
#define CONTEXT_MAX 16                  /* words taken from one address */

typedef struct entry {
	const char *p;
	size_t n;
} entry;

static entry *list;
static size_t list_n;
static pthread_once_t list_once = PTHREAD_ONCE_INIT;

static int
entry_cmp(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Indexes the embedded text once: ~600 entries, sorted here again so the
 * lookup does not depend on how the file was sorted. */
static void
list_load(void)
{
	const char *s = ts_common_passwords;
	size_t cap = 0;

	for (const char *p = s; *p; p++)
		cap += *p == '\n';
	if ((list = calloc(cap + 1, sizeof(*list))) == NULL)
		return;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		if (n > 0 && s[0] != '#')
			list[list_n++] = (entry){ s, n };
		s += n + (nl != NULL);
	}
	qsort(list, list_n, sizeof(*list), entry_cmp);
}

/* O(log n): binary search over the sorted index. */
static int
listed(const char *folded, size_t n)
{
	entry key = { folded, n };

	pthread_once(&list_once, list_load);
	return list && bsearch(&key, list, list_n, sizeof(*list), entry_cmp) != NULL;
}

const char *
ts_pw_reason_word(ts_pw_reason r)
{
	switch (r) {
#define TS_PW_REASON_CASE(name, word) case name: return word;
	TS_PW_REASON_TABLE(TS_PW_REASON_CASE)
#undef TS_PW_REASON_CASE
	}
	return "unknown";
}

int
ts_password_min_length(const ts_tenant *t)
{
	int min = t && t->mfa_required ? TS_PW_MIN_MFA : TS_PW_MIN_SINGLE;

	if (t && t->password_min_length > min)
		min = t->password_min_length;
	return min;
}

/* NFKC, then Unicode case folding (which keeps NFKC): the form both the
 * list and the context words are compared in. Caller frees with free_fold. */
static uint8_t *
fold(const char *s, size_t n, size_t *out_n)
{
	*out_n = 0;
	return u8_casefold((const uint8_t *)s, n, NULL, UNINORM_NFKC, NULL, out_n);
}

static void
free_fold(uint8_t *p, size_t n)
{
	if (p)
		ts_wipe(p, n);
	free(p);
}

static int
contains(const uint8_t *hay, size_t hn, const uint8_t *w, size_t wn)
{
	if (wn == 0 || wn > hn)
		return 0;
	for (size_t i = 0; i + wn <= hn; i++)
		if (memcmp(hay + i, w, wn) == 0)
			return 1;
	return 0;
}

/* Whether the folded password holds word s[0..n) (folded the same way),
 * when the word has at least CONTEXT_MIN characters. */
static int
holds_word(const uint8_t *pw, size_t pn, const char *s, size_t n)
{
	size_t wn;
	uint8_t *w;
	int hit;

	if (n == 0 || u8_mbsnlen((const uint8_t *)s, n) < CONTEXT_MIN)
		return 0;
	if ((w = fold(s, n, &wn)) == NULL)
		return 0;
	hit = contains(pw, pn, w, wn);
	free_fold(w, wn);
	return hit;
}

static int
is_sep(char c, const char *seps)
{
	return strchr(seps, c) != NULL;
}

/* The text itself and each piece of it between separators. */
static int
holds_parts(const uint8_t *pw, size_t pn, const char *s, size_t n, const char *seps)
{
	size_t i = 0;

	if (holds_word(pw, pn, s, n))
		return 1;
	while (i < n) {
		size_t j = i;
		while (j < n && !is_sep(s[j], seps))
			j++;
		if (j - i < n && holds_word(pw, pn, s + i, j - i))
			return 1;
		i = j + 1;
	}
	return 0;
}

/* NIST SP 800-63B rev. 4 §3.1.1.2: "context-specific words, such as the
 * name of the service, the username, and derivatives thereof": the
 * address's local part and its pieces, each label of its domain, the
 * tenant's slug and its pieces, and the service's name. */
static int
has_context(const uint8_t *pw, size_t pn, const ts_tenant *t, const char *email)
{
	static const char service[] = "tessera";

	if (holds_word(pw, pn, service, sizeof(service) - 1))
		return 1;
	if (t && holds_parts(pw, pn, t->slug, strlen(t->slug), "-_"))
		return 1;
	if (email) {
		const char *at = strrchr(email, '@');
		size_t local = at ? (size_t)(at - email) : strlen(email);
		if (holds_parts(pw, pn, email, local, "._+-"))
			return 1;
		if (at && holds_parts(pw, pn, at + 1, strlen(at + 1), ".-"))
			return 1;
	}
	return 0;
}

ts_err
ts_password_check(const ts_tenant *t, const char *email, const char *pw, size_t pw_len,
                  ts_pw_reason *why)
{
	char *norm = NULL;
	size_t nlen = 0, fn = 0;
	uint8_t *folded = NULL;
	ts_err r;

	*why = TS_PW_OK;
	if (pw == NULL && pw_len > 0)
		return TS_E_INVALID;
	/* The byte cap applies to what was typed, before any work. */
	if (pw_len > TS_PW_MAX_BYTES) {
		*why = TS_PW_TOO_LONG;
		return TS_E_PASSWORD_POLICY;
	}
	if ((r = ts_pw_nfkc(pw ? pw : "", pw_len, &norm, &nlen)) != TS_OK)
		return r;                     /* INVALID: not UTF-8 */
	/* §3.1.1.2: each Unicode code point counts as one character. */
	if (u8_mbsnlen((const uint8_t *)norm, nlen) < (size_t)ts_password_min_length(t)) {
		*why = TS_PW_TOO_SHORT;
		goto out;
	}
	if ((folded = fold(norm, nlen, &fn)) == NULL) {
		r = TS_E_NOMEM;
		goto out;
	}
	if (listed((const char *)folded, fn))
		*why = TS_PW_COMMON;
	else if (has_context(folded, fn, t, email))
		*why = TS_PW_CONTEXT;
out:
	free_fold(folded, fn);
	ts_pw_nfkc_free(norm, nlen);
	if (r != TS_OK)
		return r;
	return *why == TS_PW_OK ? TS_OK : TS_E_PASSWORD_POLICY;
}
