/* The settings table's parsing: flags, environment and file. Every value
 * is checked where it is set, so a bad one is refused before any command
 * opens a store or a socket, with a message naming its source. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto/hash.h"   /* ts_wipe */

enum { T_STR, T_INT };

typedef struct cfg_entry {
	const char *name;
	int type;
	const char *dflt_str;
	long long dflt_int, min, max;
	unsigned uses;               /* TS_USE_* */
	ts_config_check check;
	const char *help;
	size_t offset;
} cfg_entry;

#define TS_CFG_ENTRY_STR(name, dflt, min, max, uses, check, help) \
	{ #name, T_STR, dflt, 0, 0, 0, uses, TS_CHECK_##check, help, offsetof(ts_config, name) },
#define TS_CFG_ENTRY_INT(name, dflt, min, max, uses, check, help) \
	{ #name, T_INT, NULL, dflt, min, max, uses, TS_CHECK_##check, help, offsetof(ts_config, name) },
#define TS_CFG_ENTRY(type, name, dflt, min, max, uses, check, help) \
	TS_CFG_ENTRY_##type(name, dflt, min, max, uses, check, help)

static const cfg_entry entries[] = {
	TS_CONFIG_TABLE(TS_CFG_ENTRY)
};
#define N_ENTRIES (sizeof(entries) / sizeof(entries[0]))

static char **
str_slot(ts_config *c, const cfg_entry *e)
{
	return (char **)((char *)c + e->offset);
}

static long long *
int_slot(ts_config *c, const cfg_entry *e)
{
	return (long long *)((char *)c + e->offset);
}

void
ts_config_defaults(ts_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_ENTRIES; i++) {
		if (entries[i].type == T_STR)
			*str_slot(cfg, &entries[i]) = strdup(entries[i].dflt_str);
		else
			*int_slot(cfg, &entries[i]) = entries[i].dflt_int;
	}
}

/* Zeroes s in place (a secret's bytes before free). */
static void
wipe_str(char *s)
{
	ts_wipe(s, strlen(s));
}

void
ts_config_free(ts_config *cfg)
{
	for (size_t i = 0; i < N_ENTRIES; i++)
		if (entries[i].type == T_STR) {
			if (*str_slot(cfg, &entries[i]))
				wipe_str(*str_slot(cfg, &entries[i]));
			free(*str_slot(cfg, &entries[i]));
			*str_slot(cfg, &entries[i]) = NULL;
		}
}

/* The words a TS_CHECK_CHOICE setting takes, as one text for messages. */
static const struct {
	const char *name;
	const char *const words[5];
	const char *said;
} choices[] = {
	{ "log_level", { "debug", "info", "warn", "error", NULL }, "debug, info, warn or error" },
	{ "jwt_alg", { "ES256", "EdDSA", NULL }, "ES256 or EdDSA" },
	{ "store_defer", { "auto", "always", "never", NULL }, "auto, always or never" },
};

/* Settings whose value is a credential: redacted when printed, wiped when
 * freed, and also read from a file (NAME_file). */
static const char *const secrets[] = { "db_password", "smtp_password" };

static void
normalize(const char *name, char *norm, size_t cap)
{
	size_t i;

	for (i = 0; name[i] && i < cap - 1; i++)
		norm[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
	norm[i] = '\0';
}

/* "access-ttl" and "access_ttl" name the same setting. */
static const cfg_entry *
find(const char *name)
{
	char norm[64];

	normalize(name, norm, sizeof(norm));
	for (size_t i = 0; i < N_ENTRIES; i++)
		if (strcmp(entries[i].name, norm) == 0)
			return &entries[i];
	return NULL;
}

int
ts_config_secret(const char *name)
{
	char norm[64];

	normalize(name, norm, sizeof(norm));
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (strcmp(secrets[i], norm) == 0)
			return 1;
	return 0;
}

/* The secret setting a "NAME_file" names, or NULL. */
static const cfg_entry *
find_secret_file(const char *name)
{
	char norm[64];
	size_t n;

	normalize(name, norm, sizeof(norm));
	n = strlen(norm);
	if (n <= 5 || strcmp(norm + n - 5, "_file") != 0)
		return NULL;
	norm[n - 5] = '\0';
	return ts_config_secret(norm) ? find(norm) : NULL;
}

int
ts_config_known(const char *name)
{
	return find(name) != NULL || find_secret_file(name) != NULL;
}

/* ---- checks of text settings (ts_config_check) ---- */

/* "1".."65535" (or "0": any free port) as the whole of s. */
static int
port_ok(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n >= 1 && n <= 5 && s[n] == '\0' && atol(s) <= 65535;
}

/* ADDR:PORT, [IPv6]:PORT or :PORT; host names are refused because the
 * transport binds addresses, not names. */
static int
check_listen(const char *v, char *why, size_t n)
{
	unsigned char buf[16];
	char host[64];
	const char *colon;
	size_t hlen;
	int ok;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		hlen = close ? (size_t)(close - v - 1) : 0;
		ok = close && close[1] == ':' && hlen < sizeof(host);
		if (ok) {
			memcpy(host, v + 1, hlen);
			host[hlen] = '\0';
			ok = inet_pton(AF_INET6, host, buf) == 1 && port_ok(close + 2);
		}
	} else {
		colon = strrchr(v, ':');
		hlen = colon ? (size_t)(colon - v) : 0;
		ok = colon && hlen < sizeof(host) && !memchr(v, ':', hlen);
		if (ok) {
			memcpy(host, v, hlen);
			host[hlen] = '\0';
			ok = (hlen == 0 || inet_pton(AF_INET, host, buf) == 1) && port_ok(colon + 1);
		}
	}
	if (!ok)
		snprintf(why, n, "'%s' is not ADDR:PORT (an IPv4 address, [IPv6] in brackets, "
		         "or :PORT for every address; port 0-65535)", v);
	return ok;
}

/* One "IP" or "IP/BITS" entry of a proxy list. */
static int
cidr_ok(const char *e, size_t len)
{
	unsigned char buf[16];
	char ip[64];
	const char *slash = memchr(e, '/', len);
	size_t iplen = slash ? (size_t)(slash - e) : len;
	int v6, max;

	if (iplen == 0 || iplen >= sizeof(ip))
		return 0;
	memcpy(ip, e, iplen);
	ip[iplen] = '\0';
	v6 = strchr(ip, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, buf) != 1)
		return 0;
	if (!slash)
		return 1;
	max = v6 ? 128 : 32;
	size_t blen = len - iplen - 1;
	if (blen < 1 || blen > 3 || strspn(slash + 1, "0123456789") < blen)
		return 0;
	return atoi(slash + 1) <= max;
}

static int
check_proxies(const char *v, char *why, size_t n)
{
	const char *p = v;

	if (!*v)
		return 1;
	for (;;) {
		const char *end = strchrnul(p, ',');
		const char *b = p, *e = end;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (!cidr_ok(b, (size_t)(e - b))) {
			snprintf(why, n, "'%.*s' is not an IP address or CIDR (e.g. 10.0.0.1, 10.0.0.0/8, "
			         "fd00::/8); give a comma list", (int)(e - b), b);
			return 0;
		}
		if (!*end)
			return 1;
		p = end + 1;
	}
}

/* scheme://HOST... with HOST non-empty and no spaces or controls. */
static int
url_with_scheme(const char *v, const char *const *schemes)
{
	for (; *schemes; schemes++) {
		size_t k = strlen(*schemes);
		if (strncmp(v, *schemes, k) == 0) {
			const char *host = v + k;
			for (const char *c = v; *c; c++)
				if ((unsigned char)*c <= ' ' || *c == 0x7f)
					return 0;
			return *host && *host != '/' && *host != ':' && *host != '?' && *host != '#';
		}
	}
	return 0;
}

static int
check_smtp_url(const char *v, char *why, size_t n)
{
	static const char *const schemes[] = { "smtp://", "smtps://", NULL };

	if (!*v || url_with_scheme(v, schemes))
		return 1;
	snprintf(why, n, "'%s' is not smtp://HOST:PORT or smtps://HOST:PORT (\"\" for no mail)", v);
	return 0;
}

static int
check_url(const char *v, char *why, size_t n)
{
	static const char *const schemes[] = { "http://", "https://", NULL };

	if (!*v || (url_with_scheme(v, schemes) && !strchr(v, '#')))
		return 1;
	snprintf(why, n, "'%s' is not an absolute http:// or https:// URL", v);
	return 0;
}

static int
check_prefix(const char *v, char *why, size_t n)
{
	if (!*v || (v[0] == '/' && !strpbrk(v, " ?#\t")))
		return 1;              /* a trailing '/' is the API's to drop */
	snprintf(why, n, "'%s' is not a path prefix: start it with '/' (\"\" for none)", v);
	return 0;
}

static int
check_choice(const cfg_entry *e, const char *v, char *why, size_t n)
{
	for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
		if (strcmp(choices[i].name, e->name) != 0)
			continue;
		for (const char *const *w = choices[i].words; *w; w++)
			if (strcmp(*w, v) == 0)
				return 1;
		snprintf(why, n, "'%s' is not %s", v, choices[i].said);
		return 0;
	}
	snprintf(why, n, "no choices known");   /* a table entry without its list */
	return 0;
}

/* 1 when v passes e's check; else 0 with the reason in why. */
static int
check_value(const cfg_entry *e, const char *v, char *why, size_t n)
{
	switch (e->check) {
	case TS_CHECK_NONE:
		return 1;
	case TS_CHECK_LISTEN:
		return check_listen(v, why, n);
	case TS_CHECK_PROXIES:
		return check_proxies(v, why, n);
	case TS_CHECK_SMTP_URL:
		return check_smtp_url(v, why, n);
	case TS_CHECK_URL:
		return check_url(v, why, n);
	case TS_CHECK_PREFIX:
		return check_prefix(v, why, n);
	case TS_CHECK_CHOICE:
		return check_choice(e, v, why, n);
	case TS_CHECK_LISTEN_OPT:
		return !*v || check_listen(v, why, n);
	}
	return 0;
}

/* Sets e from the first line of the file at path: one final LF or CRLF
 * is dropped; another line, a NUL or more than 4 KiB is refused, so a
 * secret is never silently cut short. */
static int
set_from_file(ts_config *cfg, const cfg_entry *e, const char *path, char *err, size_t errsz)
{
	char buf[4098];
	size_t n;
	int rc = -1;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errsz, "%s_file: %s: %s", e->name, path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f) || n == sizeof(buf) - 1) {
		snprintf(err, errsz, "%s_file: %s: %s", e->name, path,
		         ferror(f) ? "cannot be read" : "longer than 4096 bytes");
		goto out;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (strlen(buf) != n || strpbrk(buf, "\r\n")) {
		snprintf(err, errsz, "%s_file: %s: more than one line, or a NUL byte", e->name, path);
		goto out;
	}
	char *s = strdup(buf);
	if (!s) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	if (*str_slot(cfg, e))
		wipe_str(*str_slot(cfg, e));
	free(*str_slot(cfg, e));
	*str_slot(cfg, e) = s;
	rc = 0;
out:
	ts_wipe(buf, sizeof(buf));
	fclose(f);
	return rc;
}

int
ts_config_set(ts_config *cfg, const char *name, const char *value, char *err, size_t errsz)
{
	const cfg_entry *e = find(name);
	char *end;
	long long v;

	if (!e && (e = find_secret_file(name)) != NULL)
		return set_from_file(cfg, e, value, err, errsz);
	if (!e)
		return -2;
	if (e->type == T_STR) {
		char why[200], *s;
		if (!check_value(e, value, why, sizeof(why))) {
			snprintf(err, errsz, "%s: %s", e->name, why);
			return -1;
		}
		if (!(s = strdup(value))) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		if (ts_config_secret(e->name) && *str_slot(cfg, e))
			wipe_str(*str_slot(cfg, e));
		free(*str_slot(cfg, e));
		*str_slot(cfg, e) = s;
		return 0;
	}
	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno || end == value || *end) {
		snprintf(err, errsz, "%s: '%s' is not a whole number", e->name, value);
		return -1;
	}
	if (v < e->min || v > e->max) {
		snprintf(err, errsz, "%s: %lld is outside %lld..%lld", e->name, v, e->min, e->max);
		return -1;
	}
	*int_slot(cfg, e) = v;
	return 0;
}

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* The value part of a line, in place: "text" in double quotes is taken as
 * is (a '#' inside kept; no escapes), else the text up to a '#' comment,
 * trimmed. NULL for a quote that is not closed or is followed by more than
 * spaces and a comment. */
static char *
file_value(char *v)
{
	char *close;

	v = trim(v);
	if (*v != '"') {
		v[strcspn(v, "#")] = '\0';
		return trim(v);
	}
	if (!(close = strchr(v + 1, '"')))
		return NULL;
	*close = '\0';
	char *rest = trim(close + 1);
	return *rest == '\0' || *rest == '#' ? v + 1 : NULL;
}

static const char *closest(const char *name);

/* Reads the file at path line by line. Each error is written as
 * "FILE:LINE: reason": to errs when given (every line is read), else to
 * err and the read stops. Returns the number of errors, -1 when the file
 * cannot be opened. */
static int
load_lines(ts_config *cfg, const char *path, FILE *errs, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	char line[1024], why[256], msg[1400];
	int lineno = 0, nerr = 0;

	if (!f) {
		snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
		if (errs)
			fprintf(errs, "%s\n", msg);
		else
			snprintf(err, errsz, "%s", msg);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = trim(line), *eq, *key, *val;
		int r;
		lineno++;
		if (*p == '\0' || *p == '#')
			continue;
		if (!(eq = strchr(p, '='))) {
			snprintf(msg, sizeof(msg), "%s:%d: expected 'key = value'", path, lineno);
		} else {
			*eq = '\0';
			key = trim(p);
			if (!(val = file_value(eq + 1)))
				snprintf(msg, sizeof(msg), "%s:%d: text after the closing quote, or no "
				         "closing quote", path, lineno);
			else if ((r = ts_config_set(cfg, key, val, why, sizeof(why))) == -2 && closest(key))
				snprintf(msg, sizeof(msg), "%s:%d: unknown setting '%s' (did you mean %s?)",
				         path, lineno, key, closest(key));
			else if (r == -2)
				snprintf(msg, sizeof(msg), "%s:%d: unknown setting '%s'", path, lineno, key);
			else if (r)
				snprintf(msg, sizeof(msg), "%s:%d: %s", path, lineno, why);
			else
				continue;
		}
		nerr++;
		if (!errs) {
			snprintf(err, errsz, "%s", msg);
			break;
		}
		fprintf(errs, "%s\n", msg);
	}
	ts_wipe(line, sizeof(line));
	fclose(f);
	return nerr;
}

int
ts_config_load_file(ts_config *cfg, const char *path, char *err, size_t errsz)
{
	return load_lines(cfg, path, NULL, err, errsz) ? -1 : 0;
}

int
ts_config_check_file(ts_config *cfg, const char *path, FILE *errs)
{
	return load_lines(cfg, path, errs, NULL, 0);
}

size_t
ts_config_count(void)
{
	return N_ENTRIES;
}

const char *
ts_config_name(size_t i)
{
	return i < N_ENTRIES ? entries[i].name : NULL;
}

int
ts_config_same(const ts_config *a, const ts_config *b, size_t i)
{
	const cfg_entry *e = &entries[i];

	if (e->type == T_INT)
		return *int_slot((ts_config *)a, e) == *int_slot((ts_config *)b, e);
	return strcmp(*str_slot((ts_config *)a, e), *str_slot((ts_config *)b, e)) == 0;
}

void
ts_config_swap(ts_config *a, ts_config *b, size_t i)
{
	const cfg_entry *e = &entries[i];

	if (e->type == T_INT) {
		long long t = *int_slot(a, e);
		*int_slot(a, e) = *int_slot(b, e);
		*int_slot(b, e) = t;
	} else {
		char *t = *str_slot(a, e);
		*str_slot(a, e) = *str_slot(b, e);
		*str_slot(b, e) = t;
	}
}

/* A credential in a URL's user part or a password= parameter becomes
 * *** (the same rule as ts_store_redact, kept here so config.c needs no
 * store). */
static void
redact_url(const char *url, char *out, size_t n)
{
	const char *sep = strstr(url, "://"), *at, *colon;
	char *kw;
	size_t alen;

	snprintf(out, n, "%s", url);
	if (sep) {
		alen = strcspn(sep + 3, "/?#");
		at = memrchr(sep + 3, '@', alen);
		colon = at ? memchr(sep + 3, ':', (size_t)(at - sep - 3)) : NULL;
		if (colon)
			snprintf(out, n, "%.*s***%s", (int)(colon + 1 - url), url, at);
	}
	while ((kw = strstr(out, "password=")) != NULL && kw[9] != '*') {
		char rest[1024];
		snprintf(rest, sizeof(rest), "%s", kw + 9 + strcspn(kw + 9, " &"));
		snprintf(kw + 9, n - (size_t)(kw + 9 - out), "***%s", rest);
	}
}

void
ts_config_print(FILE *f, const ts_config *cfg)
{
	char buf[2048];

	for (size_t i = 0; i < N_ENTRIES; i++) {
		const cfg_entry *e = &entries[i];
		if (e->type == T_INT) {
			fprintf(f, "%s = %lld\n", e->name, *int_slot((ts_config *)cfg, e));
			continue;
		}
		const char *v = *str_slot((ts_config *)cfg, e);
		if (ts_config_secret(e->name))
			v = *v ? "(set)" : "";
		else if (strstr(v, "://") || strstr(v, "password="))
			redact_url(v, buf, sizeof(buf)), v = buf;
		fprintf(f, "%s = \"%s\"\n", e->name, v);
	}
}

/* Levenshtein distance of a and b, each at most 63 bytes (longer: 99). */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];

	if (la > 63 || lb > 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* The setting a name is a typo of (1 + len/6 edits away), else NULL. */
static const char *
closest(const char *name)
{
	char norm[64];
	const cfg_entry *best = NULL;
	size_t bestd = 99;

	normalize(name, norm, sizeof(norm));
	for (size_t i = 0; i < N_ENTRIES; i++) {
		size_t d = edit_distance(norm, entries[i].name);
		if (d < bestd) {
			bestd = d;
			best = &entries[i];
		}
	}
	return best && bestd <= 1 + strlen(best->name) / 6 ? best->name : NULL;
}

/* A TESSERA_* variable that is no setting but within a typo of one (1 +
 * len/6 edits: TESSERA_ACESS_TTL, TESSERA_TRUSTED_PROXY) is an
 * error: the operator meant a setting that would silently not apply.
 * Names far from every setting belong to other tools (the test harness's
 * TESSERA_BIN) and are left alone. */
static int
env_misspelt(char *err, size_t errsz)
{
	extern char **environ;
	char name[64];

	for (char **ev = environ; ev && *ev; ev++) {
		const char *eq = strchr(*ev, '=');
		size_t n;
		if (strncmp(*ev, "TESSERA_", 8) != 0 || !eq || (n = (size_t)(eq - *ev) - 8) >= sizeof(name))
			continue;
		for (size_t j = 0; j < n; j++)
			name[j] = (char)tolower((unsigned char)(*ev)[8 + j]);
		name[n] = '\0';
		if (ts_config_known(name) || strcmp(name, "config") == 0)
			continue;
		const cfg_entry *best = NULL;
		size_t bestd = 99;
		for (size_t i = 0; i < N_ENTRIES; i++) {
			size_t d = edit_distance(name, entries[i].name);
			if (d < bestd) {
				bestd = d;
				best = &entries[i];
			}
		}
		if (best && bestd <= 1 + strlen(best->name) / 6) {
			char want[64];
			size_t j;
			for (j = 0; best->name[j] && j < sizeof(want) - 1; j++)
				want[j] = (char)toupper((unsigned char)best->name[j]);
			want[j] = '\0';
			snprintf(err, errsz, "%.*s is not a setting; did you mean TESSERA_%s?",
			         (int)(n + 8), *ev, want);
			return -1;
		}
	}
	return 0;
}

int
ts_config_load_env(ts_config *cfg, char *err, size_t errsz)
{
	char var[80], why[256];

	for (size_t i = 0; i < N_ENTRIES; i++) {
		size_t j;
		const char *v;
		strcpy(var, "TESSERA_");
		for (j = 0; entries[i].name[j] && j + 9 < sizeof(var); j++)
			var[8 + j] = (char)toupper((unsigned char)entries[i].name[j]);
		var[8 + j] = '\0';
		if ((v = getenv(var)) && ts_config_set(cfg, entries[i].name, v, why, sizeof(why))) {
			snprintf(err, errsz, "%s: %s", var, why);
			return -1;
		}
		if (!ts_config_secret(entries[i].name))
			continue;
		char fvar[96], fname[80];
		snprintf(fvar, sizeof(fvar), "%s_FILE", var);
		snprintf(fname, sizeof(fname), "%s_file", entries[i].name);
		const char *fv = getenv(fvar);
		if (fv && v) {
			snprintf(err, errsz, "%s and %s are both set: give one", var, fvar);
			return -1;
		}
		if (fv && ts_config_set(cfg, fname, fv, why, sizeof(why))) {
			snprintf(err, errsz, "%s: %s", fvar, why);
			return -1;
		}
	}
	return env_misspelt(err, errsz);
}

void
ts_config_usage(FILE *f, unsigned uses)
{
	char flag[64];

	for (size_t i = 0; i < N_ENTRIES; i++) {
		const cfg_entry *e = &entries[i];
		size_t j;
		if (!(e->uses & uses))
			continue;
		for (j = 0; e->name[j] && j < sizeof(flag) - 1; j++)
			flag[j] = e->name[j] == '_' ? '-' : e->name[j];
		flag[j] = '\0';
		if (e->type == T_STR)
			fprintf(f, "  --%-18s %s (default \"%s\")\n", flag, e->help, e->dflt_str);
		else
			fprintf(f, "  --%-18s %s (default %lld)\n", flag, e->help, e->dflt_int);
		if (ts_config_secret(e->name)) {
			char fflag[80], up[64];
			for (j = 0; e->name[j] && j < sizeof(up) - 1; j++)
				up[j] = (char)toupper((unsigned char)e->name[j]);
			up[j] = '\0';
			snprintf(fflag, sizeof(fflag), "%s-file FILE", flag);
			fprintf(f, "  --%-18s read --%s from FILE's one line (or TESSERA_%s_FILE)\n",
			        fflag, flag, up);
		}
	}
	fprintf(f, "  --%-18s read settings from FILE (key = value lines, # comments)\n", "config FILE");
	fprintf(f, "  Every setting may also come from TESSERA_<NAME> (e.g. TESSERA_DB) or a\n"
	           "  config file line (db = sqlite:x.db; TESSERA_CONFIG=FILE names the file).\n"
	           "  Precedence: command-line flag > TESSERA_* environment > config file > default.\n");
}
