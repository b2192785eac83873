/* Picks a store backend by the DSN's scheme. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/log.h"
#include "store/store.h"

/* Backends built into this binary. */
static const ts_store_ops *const backends[] = {
	&ts_store_sqlite,
	&ts_store_postgres,
};

static int
is_scheme(const char *name, const char *url, size_t n)
{
	return name && strlen(name) == n && memcmp(name, url, n) == 0;
}

/* Length of a leading URI scheme ("sqlite" in "sqlite:..."), or 0 when url
 * does not start with [a-z][a-z0-9+.-]*: (RFC 3986 §3.1, lower case). */
static size_t
scheme_len(const char *url)
{
	size_t i;

	if (!(url[0] >= 'a' && url[0] <= 'z'))
		return 0;
	for (i = 1; url[i] != ':'; i++) {
		char c = url[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '.' || c == '-'))
			return 0;
	}
	return i;
}

static ts_err
store_open(const char *url, ts_store_mode mode, ts_store **out)
{
	size_t n, i;
	const char *rest;

	*out = NULL;
	if (!url || !*url)
		return TS_E_INVALID;
	/* A bare path is SQLite; write "sqlite:a:b.db" for a path with a colon
	 * that would otherwise read as a scheme. */
	if ((n = scheme_len(url)) == 0)
		return ts_store_sqlite.open(url, mode, out);
	rest = url + n + 1;
	if (strncmp(rest, "//", 2) == 0)
		rest += 2;                     /* "sqlite:///var/x.db" too */
	for (i = 0; i < sizeof backends / sizeof backends[0]; i++)
		if (is_scheme(backends[i]->scheme, url, n) || is_scheme(backends[i]->alias, url, n))
			return backends[i]->open(backends[i]->whole_url ? url : rest, mode, out);
	ts_store_report("no backend for \"%.*s:\" in this build", (int)n, url);
	return TS_E_INVALID;
}

void
ts_store_close(ts_store *s)
{
	if (s)
		s->ops->close(s);
}

static _Thread_local char open_error[256];
static _Thread_local int opening;

void
ts_store_report(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (opening) {
		vsnprintf(open_error, sizeof(open_error), fmt, ap);
	} else {
		char line[512];
		vsnprintf(line, sizeof(line), fmt, ap);
		ts_log_event(TS_LOG_ERROR, "store_error", "detail", line, NULL);
	}
	va_end(ap);
}

const char *
ts_store_open_error(void)
{
	return open_error;
}

ts_err
ts_store_open(const char *url, ts_store **out)
{
	return ts_store_open_mode(url, TS_STORE_CREATE, out);
}

ts_err
ts_store_open_mode(const char *url, ts_store_mode mode, ts_store **out)
{
	ts_err r;

	open_error[0] = '\0';
	opening = 1;
	r = store_open(url, mode, out);
	opening = 0;
	if (r != TS_OK && !open_error[0])
		snprintf(open_error, sizeof(open_error), "%s", ts_strerror(r));
	return r;
}

/* Copies src[0..len) to out (size n, at o), returning the new o. */
static size_t
put(char *out, size_t n, size_t o, const char *src, size_t len)
{
	while (len-- && o + 1 < n)
		out[o++] = *src++;
	return o;
}

void
ts_store_redact(const char *url, char *out, size_t n)
{
	const char *p = url ? url : "", *sep, *at, *colon, *kw;
	size_t o = 0;

	if (n == 0)
		return;
	/* URI form: scheme://user:PASS@host... (RFC 3986 §3.2.1) */
	if ((sep = strstr(p, "://")) != NULL) {
		const char *auth = sep + 3;
		size_t alen = strcspn(auth, "/?#");

		at = memrchr(auth, '@', alen);
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			o = put(out, n, o, p, (size_t)(colon + 1 - p));
			o = put(out, n, o, "***", 3);
			p = at;
		}
	}
	/* keyword form, and URI query parameters: password=PASS */
	while ((kw = strstr(p, "password=")) != NULL) {
		size_t vlen;

		o = put(out, n, o, p, (size_t)(kw + 9 - p));
		kw += 9;
		if (*kw == '\'' ) {
			const char *e = kw + 1;

			while (*e && *e != '\'')
				e += (*e == '\\' && e[1]) ? 2 : 1;
			vlen = (size_t)(e - kw) + (*e ? 1 : 0);
		} else {
			vlen = strcspn(kw, " &");
		}
		o = put(out, n, o, "***", 3);
		p = kw + vlen;
	}
	o = put(out, n, o, p, strlen(p));
	out[o] = '\0';
}
