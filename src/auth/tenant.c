/* The tenant of a request, decided once for every face: its hints (a body
 * tenant_slug, the X-Tenant-Slug header, the Host) must agree, hosts are
 * compared in one normal form, and bearer and refresh checks bind the token
 * to the tenant so decided. Also the CORS origin check, which is a tenant
 * decision too. */
#include <string.h>

#include "auth/auth_internal.h"
#include "core/util.h"

int
ts_host_normalize(const char *in, char out[TS_HOST_MAX + 1])
{
	const char *b = in, *e;
	size_t n;

	out[0] = '\0';
	if (!in || !*in)
		return 0;
	if (*b == '[') {
		/* RFC 3986 §3.2.2: an IPv6 literal in brackets, maybe a port. */
		if (!(e = strchr(b, ']')))
			return 0;
		b++;
	} else {
		const char *c = strchr(b, ':');
		/* One colon is host:port; more are a bare IPv6 literal. */
		e = c && !strchr(c + 1, ':') ? c : b + strlen(b);
	}
	n = (size_t)(e - b);
	/* RFC 1034 §3.1: "example.com." is the same name as "example.com". */
	if (n && b[n - 1] == '.')
		n--;
	if (n == 0 || n > TS_HOST_MAX)
		return 0;
	memcpy(out, b, n);
	out[n] = '\0';
	ts_ascii_lower(out);
	return 1;
}

/* The tenant whose domain host is: TS_OK, or TS_E_NOT_FOUND when the host
 * names none (an address, an unknown name: no hint at all). */
static ts_err
tenant_of_host(ts_auth *a, const char *host, ts_tenant *out)
{
	char h[TS_HOST_MAX + 1];

	if (!ts_host_normalize(host, h))
		return TS_E_NOT_FOUND;
	return SOPS(a)->tenant_by_domain(ST(a), h, out);
}

static const char *
nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

ts_err
ts_auth_request_tenant(ts_auth *a, const ts_tenant_hints *h, int use_default, ts_tenant *out)
{
	const char *body = nonempty(h->body_slug), *header = nonempty(h->header_slug);
	const char *slug = body ? body : header;
	ts_err r;

	memset(out, 0, sizeof(*out));
	/* Two names for one request: refuse rather than pick one, since a
	 * check made against one and an action against the other is how a
	 * token of tenant A gets used on tenant B. Slugs are compared as
	 * text, so the answer does not depend on which tenants exist. */
	if (body && header && strcmp(body, header) != 0)
		return TS_E_TENANT_CONFLICT;
	r = tenant_of_host(a, h->host, out);
	if (r == TS_OK) {
		if (slug && strcmp(slug, out->slug) != 0) {
			memset(out, 0, sizeof(*out));
			return TS_E_TENANT_CONFLICT;
		}
		return TS_OK;
	}
	if (r != TS_E_NOT_FOUND)
		return r;
	if (slug) {
		if (!ts_slug_valid(slug))
			return TS_E_TENANT_UNKNOWN;
		r = SOPS(a)->tenant_by_slug(ST(a), slug, out);
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	}
	if (use_default && a->default_tenant) {
		r = SOPS(a)->tenant_by_slug(ST(a), a->default_tenant, out);
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	}
	return TS_E_NOT_FOUND;
}

ts_err
ts_auth_resolve_tenant(ts_auth *a, const char *slug, const char *host, int use_default,
                       ts_tenant *out)
{
	ts_tenant_hints h = { .body_slug = slug, .host = host };

	return ts_auth_request_tenant(a, &h, use_default, out);
}

/* The tenant a bearer or refresh call must belong to: *named 1 and *t set
 * when the request names one. A name that is no tenant cannot be the
 * token's, so it is a mismatch. */
ts_err
ts_request_expect(ts_auth *a, const ts_tenant_hints *h, ts_tenant *t, int *named)
{
	ts_err r = ts_auth_request_tenant(a, h, 0, t);

	*named = r == TS_OK;
	if (r == TS_E_NOT_FOUND)
		return TS_OK;
	return r == TS_E_TENANT_UNKNOWN ? TS_E_TENANT_MISMATCH : r;
}

ts_err
ts_auth_bearer(ts_auth *a, const char *token, const ts_tenant_hints *h, ts_principal *out)
{
	ts_tenant t;
	int named;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if ((r = ts_request_expect(a, h, &t, &named)) != TS_OK)
		return r;
	return ts_auth_check_token(a, token, named ? &t : NULL, out);
}

/* ---- CORS (Fetch standard §3.2) ---- */

static int
origin_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '[' || c == ']' || c == ':';
}

int
ts_origin_normalize(const char *in, char out[TS_ORIGIN_MAX + 1])
{
	size_t n, skip;
	const char *host;

	out[0] = '\0';
	if (!in || (n = strlen(in)) == 0 || n > TS_ORIGIN_MAX)
		return 0;
	ts_strlcpy(out, in, TS_ORIGIN_MAX + 1);
	ts_ascii_lower(out);
	/* A trailing slash is what people paste; the browser never sends it. */
	if (out[n - 1] == '/')
		out[--n] = '\0';
	if (strncmp(out, "https://", 8) == 0)
		skip = 8;
	else if (strncmp(out, "http://", 7) == 0)
		skip = 7;
	else
		goto bad;   /* also "null" and "*": never an allowed origin */
	host = out + skip;
	if (!*host)
		goto bad;
	for (const char *p = host; *p; p++)
		if (!origin_host_char(*p))
			goto bad;   /* a path, userinfo, query or wildcard */
	/* Browsers leave the scheme's default port out (RFC 6454 §6.1). */
	const char *dflt = skip == 8 ? ":443" : ":80";
	size_t dl = strlen(dflt);
	if (n - skip > dl && strcmp(out + n - dl, dflt) == 0 && out[n - dl - 1] != ':')
		out[n - dl] = '\0';
	return 1;
bad:
	out[0] = '\0';
	return 0;
}

ts_err
ts_auth_cors_allowed(ts_auth *a, const ts_tenant_hints *h, const char *origin)
{
	char o[TS_ORIGIN_MAX + 1];
	ts_tenant t;
	ts_err r;

	if (!ts_origin_normalize(origin, o))
		return TS_E_NOT_FOUND;
	if ((r = ts_auth_request_tenant(a, h, 1, &t)) != TS_OK)
		return r == TS_E_TENANT_UNKNOWN ? TS_E_NOT_FOUND : r;
	return SOPS(a)->tenant_origin_allowed(ST(a), t.id, o);
}

ts_err
ts_auth_iam_session_for(ts_auth *a, const char *auth_token, const char *code,
                        const ts_tenant_hints *h, ts_tokens *out, ts_user *u, int *retry_after)
{
	ts_secret tok;
	ts_tenant expect;
	char hash[TS_HASH_SZ];
	int named;
	ts_err r;

	memset(out, 0, sizeof(*out));
	memset(u, 0, sizeof(*u));
	*retry_after = 0;
	if ((r = ts_request_expect(a, h, &expect, &named)) != TS_OK)
		return r;
	/* Bound like a bearer token, and checked before anything (a code
	 * try, the token itself) is spent. */
	if (named && auth_token && strlen(auth_token) == TS_SECRET_TEXT_LEN) {
		ts_secret_hash(auth_token, TS_SECRET_TEXT_LEN, hash);
		r = SOPS(a)->secret_get(ST(a), TS_SECRET_AUTH_TOKEN, hash, &tok);
		if (r == TS_OK && strcmp(tok.tenant_id, expect.id) != 0)
			return TS_E_TENANT_MISMATCH;
		if (r != TS_OK && r != TS_E_NOT_FOUND)
			return r;
	}
	return ts_auth_iam_session(a, auth_token, code, out, u, retry_after);
}
