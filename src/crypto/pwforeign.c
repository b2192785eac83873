/* Hashes made by other systems, for users imported with them (docs/ADMIN.md):
 * recognised, bounded and verified here; a correct password is then rehashed
 * to argon2id by the login (upgrade_hash). Every cost parameter is bounded
 * when read, at import and again at each login, so no stored string can make
 * a check cost more than about a second or a quarter of a GiB. */
#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/hash.h"
#include "crypto/password.h"
#include "crypto/pw_internal.h"

/* Bounds (docs/ADMIN.md "Bounds"). */
#define BCRYPT_COST_MAX 14              /* 2^14 rounds: ~1 s */
#define SHACRYPT_ROUNDS_MAX 1000000     /* ~0.6 s */
#define PBKDF2_ITER_MAX 2000000         /* Django 5.2 uses 1,000,000 */
#define MEM_MAX (256u * 1024u * 1024u)  /* scrypt / yescrypt / argon2 */
#define SCRYPT_WORK_MAX (1u << 26)      /* N * r * p */
#define ARGON2_T_MAX 16
#define ARGON2_P_MAX 16
#define SALT_MAX 64                     /* bytes, decoded */
#define DIGEST_MIN 16
#define DIGEST_MAX 64

static const char W_UNKNOWN[] = "unknown_hash_format";
static const char W_MALFORMED[] = "malformed_hash";
static const char W_COST[] = "hash_cost_too_high";

static int
starts(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* A decimal in [lo, hi] at *s, up to a non-digit; advances *s. */
static int
read_uint(const char **s, unsigned long long hi, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > hi)
			return -1;             /* over the bound: cost, not shape */
		p++;
	}
	*s = p;
	*out = v;
	return 1;
}

/* Standard base64 with or without padding ("=" stripped), into out. */
static int
b64_std(const char *in, size_t n, unsigned char *out, size_t cap, size_t *len)
{
	while (n > 0 && in[n - 1] == '=')
		n--;
	return n > 0 && sodium_base642bin(out, cap, in, n, NULL, len, NULL,
	                                  sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0;
}

static int
is_crypt64(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '/';
}

/* The index of c in crypt(3)'s alphabet "./0-9A-Za-z". */
static int
crypt64_index(char c)
{
	if (c == '.')
		return 0;
	if (c == '/')
		return 1;
	if (c >= '0' && c <= '9')
		return c - '0' + 2;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 12;
	return c - 'a' + 38;
}

/* ---- parsing: one struct for every PBKDF2 / scrypt form ---- */

typedef struct kdf {
	ts_pw_format fmt;
	const EVP_MD *md;
	unsigned long long iter;           /* PBKDF2 */
	unsigned long long ln, r, p;       /* scrypt */
	unsigned char salt[SALT_MAX];
	size_t salt_len;
	unsigned char digest[DIGEST_MAX];
	size_t digest_len;
} kdf;

/* "ITER$SALT$HASH" after a PBKDF2 scheme name; Django's salt is text used
 * as bytes, Keycloak's is base64. */
static const char *
parse_pbkdf2(const char *s, int salt_b64, kdf *k)
{
	const char *salt, *dig;
	int r = read_uint(&s, PBKDF2_ITER_MAX, &k->iter);

	if (r < 0)
		return W_COST;
	if (r == 0 || k->iter == 0 || *s++ != '$')
		return W_MALFORMED;
	salt = s;
	if ((dig = strchr(salt, '$')) == NULL || dig == salt)
		return W_MALFORMED;
	if (salt_b64) {
		if (!b64_std(salt, (size_t)(dig - salt), k->salt, sizeof(k->salt), &k->salt_len))
			return W_MALFORMED;
	} else {
		if ((size_t)(dig - salt) > sizeof(k->salt))
			return W_MALFORMED;
		k->salt_len = (size_t)(dig - salt);
		memcpy(k->salt, salt, k->salt_len);
	}
	dig++;
	if (!b64_std(dig, strlen(dig), k->digest, sizeof(k->digest), &k->digest_len) ||
	    k->digest_len < DIGEST_MIN)
		return W_MALFORMED;
	return NULL;
}

/* passlib's "$scrypt$ln=L,r=R,p=P$SALT$HASH", base64 without padding. */
static const char *
parse_scrypt(const char *s, kdf *k)
{
	const char *dig, *salt;
	int r;

	s += strlen("$scrypt$");
	if (!starts(s, "ln=") || (s += 3, r = read_uint(&s, 63, &k->ln)) == 0)
		return W_MALFORMED;
	if (r < 0)
		return W_COST;
	if (!starts(s, ",r=") || (s += 3, r = read_uint(&s, 1u << 20, &k->r)) == 0)
		return W_MALFORMED;
	if (r < 0)
		return W_COST;
	if (!starts(s, ",p=") || (s += 3, r = read_uint(&s, 1u << 20, &k->p)) == 0)
		return W_MALFORMED;
	if (r < 0)
		return W_COST;
	if (*s++ != '$' || k->ln < 1 || k->r < 1 || k->p < 1)
		return W_MALFORMED;
	/* Memory 128 * r * N (RFC 7914 §6); work N * r * p. */
	if (k->ln > 30 || 128ull * k->r * (1ull << k->ln) > MEM_MAX ||
	    (1ull << k->ln) * k->r * k->p > SCRYPT_WORK_MAX)
		return W_COST;
	salt = s;
	if ((dig = strchr(salt, '$')) == NULL ||
	    !b64_std(salt, (size_t)(dig - salt), k->salt, sizeof(k->salt), &k->salt_len))
		return W_MALFORMED;
	dig++;
	if (!b64_std(dig, strlen(dig), k->digest, sizeof(k->digest), &k->digest_len) ||
	    k->digest_len < DIGEST_MIN)
		return W_MALFORMED;
	return NULL;
}

static const char *
parse_kdf(const char *h, kdf *k)
{
	memset(k, 0, sizeof(*k));
	if (starts(h, "pbkdf2_sha256$")) {
		k->fmt = TS_PWF_DJANGO_PBKDF2, k->md = EVP_sha256();
		return parse_pbkdf2(h + strlen("pbkdf2_sha256$"), 0, k);
	}
	if (starts(h, "pbkdf2_sha512$")) {
		k->fmt = TS_PWF_DJANGO_PBKDF2, k->md = EVP_sha512();
		return parse_pbkdf2(h + strlen("pbkdf2_sha512$"), 0, k);
	}
	if (starts(h, "keycloak-pbkdf2-sha256$")) {
		k->fmt = TS_PWF_KEYCLOAK_PBKDF2, k->md = EVP_sha256();
		return parse_pbkdf2(h + strlen("keycloak-pbkdf2-sha256$"), 1, k);
	}
	if (starts(h, "keycloak-pbkdf2-sha512$")) {
		k->fmt = TS_PWF_KEYCLOAK_PBKDF2, k->md = EVP_sha512();
		return parse_pbkdf2(h + strlen("keycloak-pbkdf2-sha512$"), 1, k);
	}
	if (starts(h, "$scrypt$")) {
		k->fmt = TS_PWF_SCRYPT;
		return parse_scrypt(h, k);
	}
	return W_UNKNOWN;
}

/* ---- crypt(3) formats (libxcrypt) ---- */

/* "$2b$NN$" + 53 characters. */
static const char *
check_bcrypt(const char *h)
{
	size_t n = strlen(h);
	int cost;

	if (n != 60 || h[6] != '$' || h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9')
		return W_MALFORMED;
	for (size_t i = 7; i < n; i++)
		if (!is_crypt64(h[i]))
			return W_MALFORMED;
	cost = (h[4] - '0') * 10 + (h[5] - '0');
	if (cost < 4 || cost > 31)
		return W_MALFORMED;
	return cost > BCRYPT_COST_MAX ? W_COST : NULL;
}

/* "$6$[rounds=N$]SALT$HASH" (Drepper's SHA-crypt: 86-character hash). */
static const char *
check_sha512crypt(const char *h)
{
	const char *s = h + 3, *dollar;
	unsigned long long rounds;

	if (starts(s, "rounds=")) {
		s += strlen("rounds=");
		int r = read_uint(&s, SHACRYPT_ROUNDS_MAX, &rounds);
		if (r < 0)
			return W_COST;
		if (r == 0 || *s++ != '$')
			return W_MALFORMED;
	}
	if ((dollar = strchr(s, '$')) == NULL || dollar - s > 16 || strlen(dollar + 1) != 86)
		return W_MALFORMED;
	for (const char *p = s; *p; p++)
		if (p != dollar && !is_crypt64(*p))
			return W_MALFORMED;
	return NULL;
}

/* "$y$PARAMS$SALT$HASH". Only the parameter form libxcrypt's gensalt
 * writes is taken: flavour 'j' (YESCRYPT_DEFAULTS), then one character
 * each for log2(N) - 1 and r - 1, no p/t/g/ROM; memory 128 * N * r. */
static const char *
check_yescrypt(const char *h)
{
	const char *s = h + 3;
	int nlog2, r;

	if (s[0] != 'j' || !is_crypt64(s[1]) || !is_crypt64(s[2]) || s[3] != '$')
		return W_MALFORMED;
	nlog2 = crypt64_index(s[1]) + 1;
	r = crypt64_index(s[2]) + 1;
	if (nlog2 < 1 || nlog2 > 40 || 128ull * (1ull << nlog2) * (unsigned)r > MEM_MAX)
		return W_COST;
	s += 4;
	const char *dollar = strchr(s, '$');
	if (dollar == NULL || dollar == s || strlen(dollar + 1) < 20)
		return W_MALFORMED;
	for (const char *p = s; *p; p++)
		if (p != dollar && !is_crypt64(*p))
			return W_MALFORMED;
	return NULL;
}

/* ---- argon2 PHC: $argon2id$v=19$m=M,t=T,p=P$SALT$HASH ---- */
static const char *
check_argon2(const char *h)
{
	const char *s = strchr(h + 1, '$');
	unsigned long long m, t, p;
	int r;

	if (s == NULL || !starts(s, "$v=19$m="))
		return W_MALFORMED;
	s += strlen("$v=19$m=");
	if ((r = read_uint(&s, MEM_MAX / 1024, &m)) <= 0)
		return r < 0 ? W_COST : W_MALFORMED;
	if (!starts(s, ",t=") || (s += 3, r = read_uint(&s, ARGON2_T_MAX, &t)) <= 0)
		return r < 0 ? W_COST : W_MALFORMED;
	if (!starts(s, ",p=") || (s += 3, r = read_uint(&s, ARGON2_P_MAX, &p)) <= 0)
		return r < 0 ? W_COST : W_MALFORMED;
	if (*s != '$' || strnlen(h, TS_PHC_MAX) >= TS_PHC_MAX || t < 1 || p < 1 || m < 8 * p)
		return W_MALFORMED;
	return NULL;
}

ts_pw_format
ts_pw_format_of(const char *h)
{
	if (h == NULL)
		return TS_PWF_UNKNOWN;
	if (starts(h, "$argon2id$") || starts(h, "$argon2i$"))
		return TS_PWF_ARGON2;
	if (starts(h, "$2a$") || starts(h, "$2b$") || starts(h, "$2y$"))
		return TS_PWF_BCRYPT;
	if (starts(h, "$6$"))
		return TS_PWF_SHA512CRYPT;
	if (starts(h, "$y$"))
		return TS_PWF_YESCRYPT;
	if (starts(h, "pbkdf2_sha256$") || starts(h, "pbkdf2_sha512$"))
		return TS_PWF_DJANGO_PBKDF2;
	if (starts(h, "keycloak-pbkdf2-sha256$") || starts(h, "keycloak-pbkdf2-sha512$"))
		return TS_PWF_KEYCLOAK_PBKDF2;
	if (starts(h, "$scrypt$"))
		return TS_PWF_SCRYPT;
	return TS_PWF_UNKNOWN;
}

ts_err
ts_pw_hash_check(const char *h, const char **why)
{
	const char *w = NULL;
	kdf k;

	if (h == NULL || strnlen(h, TS_PW_HASH_MAX) >= TS_PW_HASH_MAX) {
		*why = h == NULL ? W_UNKNOWN : W_MALFORMED;
		return TS_E_INVALID;
	}
	switch (ts_pw_format_of(h)) {
	case TS_PWF_UNKNOWN: w = W_UNKNOWN; break;
	case TS_PWF_ARGON2: w = check_argon2(h); break;
	case TS_PWF_BCRYPT: w = check_bcrypt(h); break;
	case TS_PWF_SHA512CRYPT: w = check_sha512crypt(h); break;
	case TS_PWF_YESCRYPT: w = check_yescrypt(h); break;
	case TS_PWF_DJANGO_PBKDF2:
	case TS_PWF_KEYCLOAK_PBKDF2:
	case TS_PWF_SCRYPT:
		w = parse_kdf(h, &k);
		ts_wipe(&k, sizeof(k));
		break;
	}
	*why = w ? w : "";
	return w ? TS_E_INVALID : TS_OK;
}

void
ts_pw_class(const char *h, char *out, size_t cap)
{
	/* The class is everything before the salt: the number of '$'
	 * separated fields that hold format and parameters. */
	int fields;
	size_t n = 0;

	switch (ts_pw_format_of(h)) {
	case TS_PWF_ARGON2: fields = 4; break;           /* "" argon2id v=19 m=.. */
	case TS_PWF_BCRYPT: fields = 3; break;           /* "" 2b 12 */
	case TS_PWF_SHA512CRYPT:
		fields = strncmp(h, "$6$rounds=", 10) == 0 ? 3 : 2;
		break;
	case TS_PWF_YESCRYPT: fields = 3; break;         /* "" y j9T */
	case TS_PWF_DJANGO_PBKDF2:
	case TS_PWF_KEYCLOAK_PBKDF2: fields = 2; break;  /* name iter */
	case TS_PWF_SCRYPT: fields = 3; break;           /* "" scrypt ln=.. */
	case TS_PWF_UNKNOWN:
	default: fields = 1; break;
	}
	if (cap == 0)
		return;
	while (h && h[n] && n < cap - 1) {
		if (h[n] == '$' && --fields == 0)
			break;
		n++;
	}
	if (h)
		memcpy(out, h, n);
	out[n] = '\0';
}

/* crypt_rn with the typed password; constant-time compare of the result. */
static ts_err
verify_crypt(const char *h, const char *pw, size_t len)
{
	struct crypt_data *cd = NULL;
	char *phrase = NULL;
	const char *got;
	ts_err r = TS_E_NOMEM;

	/* crypt(3) takes a C string: a password holding a NUL cannot be the
	 * one the other system hashed. */
	if (memchr(pw, '\0', len) != NULL || len >= CRYPT_MAX_PASSPHRASE_SIZE)
		return TS_E_BAD_CREDENTIALS;
	if ((cd = calloc(1, sizeof(*cd))) == NULL || (phrase = malloc(len + 1)) == NULL)
		goto out;
	memcpy(phrase, pw, len);
	phrase[len] = '\0';
	errno = 0;
	got = crypt_rn(phrase, h, cd, (int)sizeof(*cd));
	if (got == NULL) {
		r = errno == ENOMEM ? TS_E_NOMEM : TS_E_INVALID;
		goto out;
	}
	size_t n = strlen(h);
	r = strlen(got) == n && sodium_memcmp(got, h, n) == 0 ? TS_OK : TS_E_BAD_CREDENTIALS;
out:
	if (cd)
		ts_wipe(cd, sizeof(*cd));
	free(cd);
	if (phrase)
		ts_wipe(phrase, len + 1);
	free(phrase);
	return r;
}

static ts_err
verify_kdf(const char *h, const char *pw, size_t len)
{
	unsigned char got[DIGEST_MAX];
	kdf k;
	ts_err r = TS_E_INVALID;

	if (parse_kdf(h, &k) != NULL)
		goto out;
	if (k.fmt == TS_PWF_SCRYPT) {
		uint64_t N = 1ull << k.ln;
		/* OpenSSL's own cap must admit what the bounds allow. */
		if (EVP_PBE_scrypt(pw, len, k.salt, k.salt_len, N, k.r, k.p,
		                   (uint64_t)MEM_MAX + 16u * 1024u * 1024u, got, k.digest_len) != 1) {
			r = TS_E_INTERNAL;
			goto out;
		}
	} else if (PKCS5_PBKDF2_HMAC(pw, (int)len, k.salt, (int)k.salt_len, (int)k.iter, k.md,
	                             (int)k.digest_len, got) != 1) {
		r = TS_E_INTERNAL;
		goto out;
	}
	r = sodium_memcmp(got, k.digest, k.digest_len) == 0 ? TS_OK : TS_E_BAD_CREDENTIALS;
out:
	ts_wipe(got, sizeof(got));
	ts_wipe(&k, sizeof(k));
	return r;
}

ts_err
ts_pw_verify_foreign(const char *h, const char *pw, size_t len)
{
	const char *why;

	if (ts_pw_hash_check(h, &why) != TS_OK)
		return TS_E_INVALID;
	switch (ts_pw_format_of(h)) {
	case TS_PWF_BCRYPT:
	case TS_PWF_SHA512CRYPT:
	case TS_PWF_YESCRYPT:
		return verify_crypt(h, pw, len);
	case TS_PWF_DJANGO_PBKDF2:
	case TS_PWF_KEYCLOAK_PBKDF2:
	case TS_PWF_SCRYPT:
		return verify_kdf(h, pw, len);
	case TS_PWF_ARGON2:
	case TS_PWF_UNKNOWN:
		break;
	}
	return TS_E_INVALID;
}
