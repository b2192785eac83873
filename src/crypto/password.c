/* Password hashing: argon2id (RFC 9106) in PHC string form, via libsodium. */
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "crypto/b64url.h"
#include "crypto/hash.h"
#include "crypto/password.h"
#include "crypto/pw_internal.h"

_Static_assert(TS_PHC_MAX == crypto_pwhash_STRBYTES, "PHC buffer size");

#define PREFIX_ID "$argon2id$"
#define PREFIX_I "$argon2i$"

static int
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* libsodium reads phc up to its NUL; refuse anything that could not have
 * come from ts_pw_hash (no NUL within TS_PHC_MAX) or is not argon2. */
static int
phc_is_argon2(const char *phc)
{
	if (phc == NULL || strnlen(phc, TS_PHC_MAX) >= TS_PHC_MAX)
		return 0;
	return has_prefix(phc, PREFIX_ID) || has_prefix(phc, PREFIX_I);
}

static int
cost_is_valid(const ts_pw_cost *c)
{
	return c != NULL &&
	       c->opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
	       c->opslimit <= crypto_pwhash_argon2id_OPSLIMIT_MAX &&
	       c->memlimit >= crypto_pwhash_argon2id_MEMLIMIT_MIN &&
	       c->memlimit <= crypto_pwhash_argon2id_MEMLIMIT_MAX;
}

/* ts_pw_nfkc, or pw itself when it is not UTF-8 (such a password cannot
 * be set, so hashing it as it is changes nothing a user can see). */
static const char *
nfkc_or_raw(const char *pw, size_t len, char **norm, size_t *nlen)
{
	if (pw != NULL && ts_pw_nfkc(pw, len, norm, nlen) == TS_OK)
		return *norm;
	*norm = NULL;
	*nlen = len;
	return pw;
}

static ts_err hash_as_is(const ts_pw_cost *c, const char *pw, size_t len, char out[TS_PHC_MAX]);
static ts_err verify_argon2(const char *phc, const char *pw, size_t len);

ts_err
ts_pw_hash(const ts_pw_cost *c, const char *pw, size_t len, char out[TS_PHC_MAX])
{
	char *norm;
	size_t nlen;
	const char *p = nfkc_or_raw(pw, len, &norm, &nlen);
	ts_err r = hash_as_is(c, p, nlen, out);

	ts_pw_nfkc_free(norm, nlen);
	return r;
}

static ts_err
hash_as_is(const ts_pw_cost *c, const char *pw, size_t len, char out[TS_PHC_MAX])
{
	ts_err r;

	memset(out, 0, TS_PHC_MAX);
	if ((r = ts_crypto_init()) != TS_OK)
		return r;
	if (!cost_is_valid(c) || (pw == NULL && len > 0) ||
	    len > crypto_pwhash_argon2id_PASSWD_MAX)
		return TS_E_INVALID;
	/* libsodium picks a random 16-byte salt and always uses p=1. */
	errno = 0;
	if (crypto_pwhash_str_alg(out, pw ? pw : "", len, c->opslimit, c->memlimit,
	                          crypto_pwhash_ALG_ARGON2ID13) == 0)
		return TS_OK;
	/* The only failure left after the checks above is argon2's memory
	 * allocation (the matrix is memlimit bytes). */
	return errno == ENOMEM ? TS_E_NOMEM : TS_E_INTERNAL;
}

ts_err
ts_pw_verify(const char *phc, const char *pw, size_t len)
{
	if (phc != NULL && ts_pw_format_of(phc) != TS_PWF_ARGON2 &&
	    ts_pw_format_of(phc) != TS_PWF_UNKNOWN) {
		if (pw == NULL && len > 0)
			return TS_E_INVALID;
		return ts_pw_verify_foreign(phc, pw ? pw : "", len);
	}
	char *norm;
	size_t nlen;
	const char *p = nfkc_or_raw(pw, len, &norm, &nlen);
	ts_err r = verify_argon2(phc, p, nlen);

	ts_pw_nfkc_free(norm, nlen);
	return r;
}

static ts_err
verify_argon2(const char *phc, const char *pw, size_t len)
{
	ts_err r;

	if ((r = ts_crypto_init()) != TS_OK)
		return r;
	if (!phc_is_argon2(phc) || (pw == NULL && len > 0) ||
	    len > crypto_pwhash_argon2id_PASSWD_MAX)
		return TS_E_INVALID;
	errno = 0;
	/* The final tag comparison inside is sodium_memcmp (constant time). */
	if (crypto_pwhash_str_verify(phc, pw ? pw : "", len) == 0)
		return TS_OK;
	/* libsodium sets EINVAL for ARGON2_VERIFY_MISMATCH only; a string it
	 * cannot decode leaves errno alone, a failed allocation ENOMEM. */
	if (errno == EINVAL)
		return TS_E_BAD_CREDENTIALS;
	if (errno == ENOMEM)
		return TS_E_NOMEM;
	return TS_E_INVALID;
}

int
ts_pw_needs_rehash(const char *phc, const ts_pw_cost *c)
{
	/* Anything but argon2id at exactly cost c should be replaced at the
	 * next successful login, including argon2i and strings we cannot
	 * read (-1 from libsodium). */
	if (ts_crypto_init() != TS_OK || !phc_is_argon2(phc) ||
	    !has_prefix(phc, PREFIX_ID) || !cost_is_valid(c))
		return 1;
	return crypto_pwhash_argon2id_str_needs_rehash(phc, c->opslimit, c->memlimit) != 0;
}

ts_err
ts_pw_dummy(const ts_pw_cost *c, char out[TS_PHC_MAX])
{
	unsigned char raw[32];
	char pw[TS_SECRET_TEXT_LEN + 1];
	ts_err r;

	/* Nobody knows this password, so no request can ever match it; it
	 * exists only to make an unknown user cost one argon2 run. */
	ts_random(raw, sizeof(raw));
	ts_b64url_encode(raw, sizeof(raw), pw);
	r = ts_pw_hash(c, pw, strlen(pw), out);
	ts_wipe(raw, sizeof(raw));
	ts_wipe(pw, sizeof(pw));
	return r;
}
