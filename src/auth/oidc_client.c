/* OpenID Connect clients of a tenant (auth/oidc.h): their checks, once
 * for the admin API and the command line. */
#include <stdio.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/oidc.h"
#include "core/util.h"
#include "crypto/hash.h"

int
ts_oidc_has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	if (n == 0)
		return 0;
	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

/* A redirect URI we accept: absolute https, or http on the loopback
 * (RFC 8252 §7.3), no fragment (RFC 6749 §3.1.2), no space or control
 * character (the list is space-separated). Compared later byte for byte. */
static int
loopback(const char *u)
{
	static const char *const base[] = { "http://127.0.0.1", "http://localhost",
		                            "http://[::1]" };

	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		size_t n = strlen(base[i]);
		if (strncmp(u, base[i], n) == 0 && strchr(":/?", u[n]) != NULL)
			return 1;     /* strchr finds the '\0' too: the end */
	}
	return 0;
}

static int
uri_ok(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n > TS_OIDC_URI_MAX || strchr(u, '#'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
			return 0;
	if (strncmp(u, "https://", 8) == 0)
		return u[8] != '\0' && strchr("/:?", u[8]) == NULL;
	return loopback(u);
}

/* Joins v into out (space-separated) when every word passes ok and none
 * repeats; 0 otherwise. */
static int
join_list(const ts_oidc_strs *l, int (*ok)(const char *), char *out, size_t cap)
{
	size_t used = 0;

	if (l->n < 0 || l->n > TS_OIDC_URIS_MAX)
		return 0;
	out[0] = '\0';
	for (int i = 0; i < l->n; i++) {
		size_t n = strlen(l->v[i]);
		if (!ok(l->v[i]) || ts_oidc_has_word(out, l->v[i]) || used + n + 2 > cap)
			return 0;
		if (used)
			out[used++] = ' ';
		memcpy(out + used, l->v[i], n + 1);
		used += n;
	}
	return 1;
}

static int
grant_ok(const char *g)
{
	return !strchr(g, ' ') && ts_oidc_has_word(TS_OIDC_GRANTS, g);
}

static int
scope_ok(const char *s)
{
	return !strchr(s, ' ') && ts_oidc_has_word(TS_OIDC_SCOPES, s);
}

static int
name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > TS_CLIENT_NAME_MAX || !ts_utf8_valid(name, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return 0;
	return 1;
}

static int
ttl_ok(int64_t v, int64_t max)
{
	return v == 0 || (v >= TS_OIDC_TTL_MIN && v <= max);
}

/* Applies p to c (checked); *bad names the first refused field. */
static ts_err
patch_apply(const ts_oidc_client_patch *p, ts_oidc_client *c, const char **bad)
{
	const char *why = NULL;

	if (p->name && !name_ok(p->name))
		why = "name";
	else if (p->redirect_uris.set &&
	         !join_list(&p->redirect_uris, uri_ok, c->redirect_uris, sizeof(c->redirect_uris)))
		why = "redirect_uris";
	else if (p->post_logout_uris.set &&
	         !join_list(&p->post_logout_uris, uri_ok, c->post_logout_uris,
	                    sizeof(c->post_logout_uris)))
		why = "post_logout_redirect_uris";
	else if (p->grant_types.set &&
	         !join_list(&p->grant_types, grant_ok, c->grant_types, sizeof(c->grant_types)))
		why = "grant_types";
	else if (p->scopes.set && !join_list(&p->scopes, scope_ok, c->scopes, sizeof(c->scopes)))
		why = "scopes";
	else if (p->set_access_ttl && !ttl_ok(p->access_ttl, TS_OIDC_ACCESS_TTL_MAX))
		why = "access_token_ttl";
	else if (p->set_refresh_ttl && !ttl_ok(p->refresh_ttl, TS_OIDC_REFRESH_TTL_MAX))
		why = "refresh_token_ttl";
	else if (p->set_id_ttl && !ttl_ok(p->id_ttl, TS_OIDC_ID_TTL_MAX))
		why = "id_token_ttl";
	if (!why) {
		if (p->name)
			ts_strlcpy(c->name, p->name, sizeof(c->name));
		if (p->set_first_party)
			c->first_party = p->first_party != 0;
		if (p->set_access_ttl)
			c->access_ttl = p->access_ttl;
		if (p->set_refresh_ttl)
			c->refresh_ttl = p->refresh_ttl;
		if (p->set_id_ttl)
			c->id_ttl = p->id_ttl;
		/* RFC 6749 §4.4: client_credentials needs a client that can
		 * authenticate; a code flow needs somewhere to send the code. */
		if (!c->secret_hash[0] && ts_oidc_has_word(c->grant_types, "client_credentials"))
			why = "grant_types";
		else if (ts_oidc_has_word(c->grant_types, "authorization_code") &&
		         !c->redirect_uris[0])
			why = "redirect_uris";
	}
	if (bad)
		*bad = why;
	return why ? TS_E_INVALID : TS_OK;
}

ts_err
ts_admin_client_new(ts_auth *a, const ts_actor *who, const char *slug,
                    const ts_oidc_client_patch *p, int confidential,
                    char secret[TS_SECRET_TEXT_LEN + 1], ts_oidc_client *out, const char **bad)
{
	ts_tenant t;
	ts_err r;

	secret[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (bad)
		*bad = NULL;
	if ((r = ts_admin_visible_tenant(a, who, slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	if (!p->name) {
		if (bad)
			*bad = "name";
		return TS_E_INVALID;
	}
	ts_uuid4(out->id);
	ts_strlcpy(out->tenant_id, t.id, sizeof(out->tenant_id));
	ts_strlcpy(out->grant_types, "authorization_code refresh_token", sizeof(out->grant_types));
	ts_strlcpy(out->scopes, "openid email profile", sizeof(out->scopes));
	if (confidential) {
		ts_secret_new(secret);      /* 256 random bits: a fast hash suffices */
		ts_secret_hash(secret, strlen(secret), out->secret_hash);
	}
	out->created_at = ts_now();
	if ((r = patch_apply(p, out, bad)) != TS_OK ||
	    (r = SOPS(a)->client_create(ST(a), out)) != TS_OK) {
		ts_wipe(secret, TS_SECRET_TEXT_LEN + 1);
		memset(out, 0, sizeof(*out));
		return r;
	}
	ts_audit(a, "admin_client_created", "tenant", t.slug, "actor", who->label, "client",
	         out->id, "name", out->name, NULL);
	return TS_OK;
}

ts_err
ts_admin_client_list(ts_auth *a, const ts_actor *who, const char *slug, ts_oidc_client_cb cb,
                     void *arg)
{
	ts_tenant t;
	ts_err r;

	if ((r = ts_admin_visible_tenant(a, who, slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	return SOPS(a)->client_list(ST(a), t.id, cb, arg);
}

/* The client id of tenant slug, when the actor may see that tenant. */
static ts_err
visible_client(ts_auth *a, const ts_actor *who, const char *slug, const char *id, ts_tenant *t,
               ts_oidc_client *out)
{
	ts_err r;

	if ((r = ts_admin_visible_tenant(a, who, slug, t)) != TS_OK)
		return r;
	if ((r = SOPS(a)->client_get(ST(a), id, out)) != TS_OK)
		return r;
	if (strcmp(out->tenant_id, t->id) != 0) {
		memset(out, 0, sizeof(*out));
		return TS_E_NOT_FOUND;
	}
	return TS_OK;
}

ts_err
ts_admin_client_get(ts_auth *a, const ts_actor *who, const char *slug, const char *id,
                    ts_oidc_client *out)
{
	ts_tenant t;

	return visible_client(a, who, slug, id, &t, out);
}

ts_err
ts_admin_client_set(ts_auth *a, const ts_actor *who, const char *slug, const char *id,
                    const ts_oidc_client_patch *p, ts_oidc_client *out, const char **bad)
{
	ts_oidc_client c;
	ts_tenant t;
	ts_err r;

	if (bad)
		*bad = NULL;
	if ((r = visible_client(a, who, slug, id, &t, &c)) != TS_OK)
		return r;
	if ((r = patch_apply(p, &c, bad)) != TS_OK ||
	    (r = SOPS(a)->client_update(ST(a), &c)) != TS_OK)
		return r;
	ts_audit(a, "admin_client_changed", "tenant", t.slug, "actor", who->label, "client", c.id,
	         NULL);
	*out = c;
	return TS_OK;
}

ts_err
ts_admin_client_remove(ts_auth *a, const ts_actor *who, const char *slug, const char *id)
{
	ts_oidc_client c;
	ts_tenant t;
	ts_err r;

	if ((r = visible_client(a, who, slug, id, &t, &c)) != TS_OK)
		return r;
	if ((r = SOPS(a)->client_delete(ST(a), t.id, id)) != TS_OK)
		return r;
	ts_audit(a, "admin_client_deleted", "tenant", t.slug, "actor", who->label, "client", id,
	         NULL);
	return TS_OK;
}
