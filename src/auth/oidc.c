/* Tessera as an OpenID Connect provider (auth/oidc.h): one issuer per
 * tenant, client authentication, the client_credentials grant, and what
 * introspection, revocation and userinfo decide about an access token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/oidc_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/hash.h"

ts_err
ts_oidc_tenant(ts_auth *a, const char *slug, ts_tenant *t, char iss[TS_OIDC_ISS_MAX])
{
	ts_err r;
	int n;

	iss[0] = '\0';
	memset(t, 0, sizeof(*t));
	if (!a->public_url || !slug || !ts_slug_valid(slug))
		return TS_E_NOT_FOUND;
	if ((r = SOPS(a)->tenant_by_slug(ST(a), slug, t)) != TS_OK)
		return r;
	n = snprintf(iss, TS_OIDC_ISS_MAX, "%s/t/%s", a->public_url, t->slug);
	return n > 0 && n < TS_OIDC_ISS_MAX ? TS_OK : TS_E_INTERNAL;
}

ts_err
ts_oidc_client_auth(ts_auth *a, const ts_tenant *t, const char *client_id, const char *secret,
                    ts_oidc_client *out)
{
	/* The hash an unknown client is compared with: the same work. */
	static const char none[TS_HASH_SZ] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	char hash[TS_HASH_SZ];
	const char *want = none;
	int exists, confidential, match, ok;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!client_id || !*client_id || strlen(client_id) >= TS_ID_SZ)
		return TS_E_OIDC_CLIENT;
	r = SOPS(a)->client_get(ST(a), client_id, out);
	if (r != TS_OK && r != TS_E_NOT_FOUND)
		return r;
	exists = r == TS_OK && strcmp(out->tenant_id, t->id) == 0;
	confidential = exists && out->secret_hash[0];
	if (confidential)
		want = out->secret_hash;
	/* Hashed and compared whether or not the client exists. */
	ts_secret_hash(secret ? secret : "", secret ? strlen(secret) : 0, hash);
	match = ts_ct_eq(hash, want, TS_SECRET_HASH_LEN);
	/* RFC 6749 §2.3.1: a confidential client proves its secret; a
	 * public one has none to send. */
	if (!exists)
		ok = 0;
	else if (confidential)
		ok = secret != NULL && match;
	else
		ok = secret == NULL;
	ts_wipe(hash, sizeof(hash));
	if (!ok) {
		memset(out, 0, sizeof(*out));
		return TS_E_OIDC_CLIENT;
	}
	return TS_OK;
}

void
ts_oidc_new_jti(char out[64])
{
	unsigned char raw[16];

	ts_random(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

ts_err
ts_oidc_scope_grant(const ts_oidc_client *c, const char *asked, const char *refused, char *out,
            size_t cap)
{
	char buf[TS_CLIENT_LIST_MAX], *tok, *save = NULL;
	size_t used = 0;

	out[0] = '\0';
	if (!asked || !*asked)
		return TS_OK;
	if (strlen(asked) >= sizeof(buf))
		return TS_E_OIDC_SCOPE;
	memcpy(buf, asked, strlen(asked) + 1);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		size_t n = strlen(tok);
		if (!ts_oidc_has_word(c->scopes, tok) || ts_oidc_has_word(refused, tok))
			return TS_E_OIDC_SCOPE;
		if (ts_oidc_has_word(out, tok))
			continue;
		if (used + n + 2 > cap)
			return TS_E_OIDC_SCOPE;
		if (used)
			out[used++] = ' ';
		memcpy(out + used, tok, n + 1);
		used += n;
	}
	return TS_OK;
}

ts_err
ts_oidc_access_issue(ts_auth *a, const char *iss, const ts_oidc_client *c, const char *sub,
                     const char *sid, const char *scope, ts_oidc_tokens *out)
{
	ts_oidc_claims cl;
	char payload[2048];
	int64_t now = ts_now();

	memset(&cl, 0, sizeof(cl));
	ts_strlcpy(cl.iss, iss, sizeof(cl.iss));
	ts_strlcpy(cl.sub, sub, sizeof(cl.sub));
	ts_strlcpy(cl.aud, c->id, sizeof(cl.aud));
	ts_strlcpy(cl.client_id, c->id, sizeof(cl.client_id));
	ts_strlcpy(cl.sid, sid, sizeof(cl.sid));
	ts_strlcpy(cl.scope, scope, sizeof(cl.scope));
	ts_oidc_new_jti(cl.jti);
	out->expires_in = c->access_ttl ? c->access_ttl : a->cfg.access_ttl;
	cl.iat = now;
	cl.exp = now + out->expires_in;
	if (ts_oidc_access_encode(&cl, payload, sizeof(payload)) != TS_OK)
		return TS_E_INTERNAL;
	return ts_keys_sign(a, payload, 0, out->access, sizeof(out->access));
}

ts_err
ts_oidc_client_credentials(ts_auth *a, const ts_tenant *t, const char *iss,
                           const ts_oidc_client *c, const char *scope, ts_oidc_tokens *out)
{
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!c->secret_hash[0] || !ts_oidc_has_word(c->grant_types, "client_credentials"))
		return TS_E_OIDC_UNAUTHORIZED;
	if ((r = ts_oidc_scope_grant(c, scope, "openid offline_access", out->scope,
	                             sizeof(out->scope))) != TS_OK ||
	    (r = ts_oidc_access_issue(a, iss, c, c->id, "", out->scope, out)) != TS_OK)
		return r;
	ts_audit(a, "oidc_token_issued", "tenant", t->slug, "client", c->id, "grant",
	         "client_credentials", NULL);
	return TS_OK;
}

/* The access token's claims when it is ours, of issuer iss and unexpired
 * (TS_E_TOKEN_INVALID otherwise). */
static ts_err
access_claims(ts_auth *a, const char *iss, const char *token, ts_oidc_claims *out)
{
	char kid[TS_KID_MAX];
	ts_jws_parts parts;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!token || !*token || strlen(token) > TS_JWT_MAX)
		return TS_E_TOKEN_INVALID;
	if ((r = ts_keys_verify(a, token, &parts, kid)) != TS_OK)
		return r == TS_E_NOMEM ? r : TS_E_TOKEN_INVALID;
	r = ts_oidc_access_decode(parts.payload, out);
	ts_jws_parts_free(&parts);
	if (r != TS_OK || strcmp(out->iss, iss) != 0 || out->exp <= ts_now()) {
		memset(out, 0, sizeof(*out));
		return TS_E_TOKEN_INVALID;
	}
	return TS_OK;
}

ts_err
ts_oidc_introspect(ts_auth *a, const ts_tenant *t, const char *iss, const char *token,
                   int *active, ts_oidc_claims *out)
{
	char hash[TS_HASH_SZ];
	ts_oidc_client c;
	ts_secret sec;
	ts_err r;

	*active = 0;
	if ((r = access_claims(a, iss, token, out)) != TS_OK)
		return r == TS_E_TOKEN_INVALID ? TS_OK : r;
	/* A deleted client's tokens die with it; a client of another
	 * tenant cannot have been issued under this issuer. */
	r = SOPS(a)->client_get(ST(a), out->client_id, &c);
	if (r == TS_OK && strcmp(c.tenant_id, t->id) == 0) {
		ts_secret_hash(out->jti, strlen(out->jti), hash);
		r = SOPS(a)->secret_get(ST(a), TS_SECRET_OIDC_REVOKED, hash, &sec);
		if (r == TS_E_NOT_FOUND) {
			*active = 1;
			r = TS_OK;
		} else if (r == TS_OK) {
			r = TS_OK;       /* revoked */
		}
	} else if (r == TS_OK || r == TS_E_NOT_FOUND) {
		r = TS_OK;
	}
	if (r == TS_OK && *active && out->sid[0]) {
		ts_session s;
		ts_user u;
		ts_tenant st;
		ts_err sr = SOPS(a)->session_principal(ST(a), out->sid, &s, &u, &st);
		if (sr == TS_E_NOT_FOUND || (sr == TS_OK && (s.revoked_at || s.expires_at <= ts_now() ||
		                                              u.is_disabled)))
			*active = 0;
		else if (sr != TS_OK)
			r = sr;
		ts_wipe(&u, sizeof(u));
	}
	if (!*active)
		memset(out, 0, sizeof(*out));
	return r;
}

ts_err
ts_oidc_revoke(ts_auth *a, const ts_tenant *t, const char *iss, const ts_oidc_client *c,
               const char *token)
{
	ts_oidc_claims cl;
	ts_secret sec;
	ts_err r;

	if (access_claims(a, iss, token, &cl) != TS_OK || strcmp(cl.client_id, c->id) != 0)
		return TS_OK;    /* RFC 7009 §2.2: nothing to do is no error */
	memset(&sec, 0, sizeof(sec));
	ts_secret_hash(cl.jti, strlen(cl.jti), sec.hash);
	sec.kind = TS_SECRET_OIDC_REVOKED;
	ts_strlcpy(sec.tenant_id, t->id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.data, c->id, sizeof(sec.data));
	sec.created_at = ts_now();
	sec.expires_at = cl.exp;      /* swept once the token would be refused anyway */
	r = SOPS(a)->secret_put(ST(a), &sec);
	if (r == TS_E_CONFLICT)
		r = TS_OK;               /* revoked already */
	if (r == TS_OK)
		ts_audit(a, "oidc_token_revoked", "tenant", t->slug, "client", c->id, NULL);
	return r;
}

ts_err
ts_oidc_userinfo(ts_auth *a, const ts_tenant *t, const char *iss, const char *token,
                 ts_oidc_claims *claims, ts_user *u)
{
	ts_session s;
	ts_tenant st;
	int active = 0;
	ts_err r;

	memset(u, 0, sizeof(*u));
	if ((r = ts_oidc_introspect(a, t, iss, token, &active, claims)) != TS_OK)
		return r;
	if (!active || !claims->sid[0] || !ts_oidc_has_word(claims->scope, "openid"))
		return TS_E_TOKEN_INVALID;
	if ((r = SOPS(a)->session_principal(ST(a), claims->sid, &s, u, &st)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	memset(u->password_hash, 0, sizeof(u->password_hash));
	if (strcmp(u->id, claims->sub) != 0 || strcmp(st.id, t->id) != 0) {
		memset(u, 0, sizeof(*u));
		return TS_E_TOKEN_INVALID;
	}
	return TS_OK;
}

/* ---- authorize ---- */

static ts_err
authz_page(ts_oidc_authz *out, const char *error, const char *description)
{
	out->next = TS_AUTHZ_ERROR_PAGE;
	out->error = error;
	out->description = description;
	return TS_OK;
}

static ts_err
authz_redirect(ts_oidc_authz *out, const char *error, const char *description)
{
	out->next = TS_AUTHZ_ERROR_REDIRECT;
	out->error = error;
	out->description = description;
	return TS_OK;
}

/* RFC 7636 §4.1: 43 to 128 unreserved characters; an S256 challenge is
 * the 43-character base64url of a SHA-256. */
static int
challenge_ok(const char *c)
{
	size_t n = strlen(c);

	if (n != 43)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", c[i]))
			return 0;
	return 1;
}

/* prompt (OpenID Connect Core §3.1.2.1): space-separated none, login,
 * consent; none with any other is an error. 0 when refused. */
static int
prompt_read(const char *p, ts_oidc_authz *out)
{
	char buf[64], *tok, *save = NULL;

	if (!p)
		return 1;
	if (strlen(p) >= sizeof(buf))
		return 0;
	memcpy(buf, p, strlen(p) + 1);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (strcmp(tok, "none") == 0)
			out->prompt_none = 1;
		else if (strcmp(tok, "login") == 0)
			out->prompt_login = 1;
		else if (strcmp(tok, "consent") == 0)
			out->prompt_consent = 1;
		else
			return 0;
	}
	return !(out->prompt_none && (out->prompt_login || out->prompt_consent));
}

static int
max_age_read(const char *v, int64_t *out)
{
	char *end;
	long long n;

	*out = -1;
	if (!v)
		return 1;
	n = strtoll(v, &end, 10);
	if (!*v || *end || n < 0 || strlen(v) > 10)
		return 0;
	*out = n;
	return 1;
}

static void
consent_key(const char *user_id, const char *client_id, char hash[TS_HASH_SZ])
{
	char key[2 * TS_ID_SZ + 16];
	int n = snprintf(key, sizeof(key), "consent|%s|%s", user_id, client_id);

	ts_secret_hash(key, n > 0 ? (size_t)n : 0, hash);
}

/* 1 when user_id's remembered consent to z's client covers z->scope. */
static int
consented(ts_auth *a, const char *user_id, const ts_oidc_authz *z)
{
	char hash[TS_HASH_SZ], cid[TS_ID_SZ], granted[TS_CLIENT_LIST_MAX];
	ts_oidc_client narrowed;
	unsigned bits = 0;
	ts_secret sec;

	consent_key(user_id, z->client.id, hash);
	if (SOPS(a)->secret_get(ST(a), TS_SECRET_OIDC_CONSENT, hash, &sec) != TS_OK ||
	    sec.expires_at <= ts_now() || sscanf(sec.data, "%36s %x", cid, &bits) != 2 ||
	    strcmp(cid, z->client.id) != 0)
		return 0;
	narrowed = z->client;
	narrowed.scopes[0] = '\0';
	for (unsigned i = 0; i < 4; i++)
		if (bits & (1u << i)) {
			static const char *const names[] = { "openid", "email", "profile",
				                             "offline_access" };
			if (narrowed.scopes[0])
				strncat(narrowed.scopes, " ", sizeof(narrowed.scopes) - strlen(narrowed.scopes) - 1);
			strncat(narrowed.scopes, names[i], sizeof(narrowed.scopes) - strlen(narrowed.scopes) - 1);
		}
	return ts_oidc_scope_grant(&narrowed, z->scope, "", granted, sizeof(granted)) == TS_OK;
}

ts_err
ts_oidc_consent_give(ts_auth *a, const ts_tenant *t, const char *user_id, const ts_oidc_authz *z)
{
	static const char *const names[] = { "openid", "email", "profile", "offline_access" };
	unsigned bits = 0;
	ts_secret sec;
	ts_err r;

	for (unsigned i = 0; i < 4; i++)
		if (ts_oidc_has_word(z->scope, names[i]))
			bits |= 1u << i;
	memset(&sec, 0, sizeof(sec));
	consent_key(user_id, z->client.id, sec.hash);
	sec.kind = TS_SECRET_OIDC_CONSENT;
	ts_strlcpy(sec.tenant_id, t->id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, user_id, sizeof(sec.user_id));
	snprintf(sec.data, sizeof(sec.data), "%s %x", z->client.id, bits);
	sec.created_at = ts_now();
	sec.expires_at = sec.created_at + 365 * 86400;
	if ((r = SOPS(a)->secret_replace(ST(a), &sec)) == TS_OK)
		ts_audit(a, "oidc_consent_given", "tenant", t->slug, "user", user_id, "client",
		         z->client.id, NULL);
	return r;
}

/* The scope names of consent bits (ts_oidc_consent_give's order). */
static void
consent_scopes(unsigned bits, char *out, size_t cap)
{
	static const char *const names[] = { "openid", "email", "profile", "offline_access" };

	out[0] = '\0';
	for (unsigned i = 0; i < 4; i++)
		if (bits & (1u << i)) {
			if (out[0])
				strncat(out, " ", cap - strlen(out) - 1);
			strncat(out, names[i], cap - strlen(out) - 1);
		}
}

/* user_id's live consent to client c: TS_OK with *out, else NOT_FOUND. */
static ts_err
consent_get(ts_auth *a, const char *user_id, const ts_oidc_client *c, ts_secret *sec,
            ts_oidc_consent *out)
{
	char hash[TS_HASH_SZ], cid[TS_ID_SZ];
	unsigned bits = 0;
	ts_err r;

	consent_key(user_id, c->id, hash);
	if ((r = SOPS(a)->secret_get(ST(a), TS_SECRET_OIDC_CONSENT, hash, sec)) != TS_OK)
		return r;
	if (sec->expires_at <= ts_now() || sscanf(sec->data, "%36s %x", cid, &bits) != 2 ||
	    strcmp(cid, c->id) != 0 || strcmp(sec->user_id, user_id) != 0)
		return TS_E_NOT_FOUND;
	memset(out, 0, sizeof(*out));
	ts_strlcpy(out->client_id, c->id, sizeof(out->client_id));
	ts_strlcpy(out->client_name, c->name, sizeof(out->client_name));
	consent_scopes(bits, out->scopes, sizeof(out->scopes));
	out->created_at = sec->created_at;
	return TS_OK;
}

typedef struct consent_walk {
	ts_auth *a;
	const char *user_id;
	ts_oidc_consent_cb cb;
	void *arg;
	ts_err r;
} consent_walk;

static int
consent_of_client(void *arg, const ts_oidc_client *c)
{
	consent_walk *w = arg;
	ts_oidc_consent one;
	ts_secret sec;
	ts_err r = consent_get(w->a, w->user_id, c, &sec, &one);

	if (r == TS_E_NOT_FOUND)
		return 0;
	if (r != TS_OK) {
		w->r = r;
		return 1;
	}
	return w->cb(w->arg, &one);
}

/* The consent's key is a hash of (user, client), so the list is the
 * tenant's clients, each looked up: a tenant has few clients, and no
 * store op is needed. */
ts_err
ts_oidc_consents(ts_auth *a, const ts_principal *p, ts_oidc_consent_cb cb, void *arg)
{
	consent_walk w = { a, p->user.id, cb, arg, TS_OK };
	ts_err r;

	if (p->scope != TS_SESSION_FULL)
		return TS_E_FORBIDDEN;
	r = SOPS(a)->client_list(ST(a), p->tenant.id, consent_of_client, &w);
	return r != TS_OK ? r : w.r;
}

typedef struct grant_end {
	ts_auth *a;
	char label[sizeof(((ts_session *)0)->user_agent)];
	int64_t now;
	int n;
} grant_end;

static int
grant_end_one(void *arg, const ts_session *s)
{
	grant_end *g = arg;

	if (strcmp(s->user_agent, g->label) == 0 &&
	    SOPS(g->a)->session_revoke(ST(g->a), s->id, g->now) == TS_OK)
		g->n++;
	return 0;
}

ts_err
ts_oidc_consent_revoke(ts_auth *a, const ts_principal *p, const char *client_id)
{
	ts_oidc_client c;
	ts_oidc_consent one;
	ts_secret sec;
	grant_end g;
	ts_err r;

	if (p->scope != TS_SESSION_FULL)
		return TS_E_FORBIDDEN;
	if (!client_id || !*client_id || strlen(client_id) >= TS_ID_SZ)
		return TS_E_NOT_FOUND;
	if ((r = SOPS(a)->client_get(ST(a), client_id, &c)) != TS_OK)
		return r;
	if (strcmp(c.tenant_id, p->tenant.id) != 0)
		return TS_E_NOT_FOUND;
	if ((r = consent_get(a, p->user.id, &c, &sec, &one)) != TS_OK)
		return r;
	/* An expired record is no consent (consented() judges expires_at). */
	sec.expires_at = ts_now();
	if ((r = SOPS(a)->secret_replace(ST(a), &sec)) != TS_OK)
		return r;
	/* The grants: each code exchange started a session with this label
	 * (oidc_code.c); ending it ends its refresh and access tokens. Two
	 * clients of one name lose both their grants: the safe side. */
	memset(&g, 0, sizeof(g));
	g.a = a;
	g.now = ts_now();
	snprintf(g.label, sizeof(g.label), "OpenID Connect: %s", c.name);
	r = SOPS(a)->user_sessions_list(ST(a), p->user.id, g.now, grant_end_one, &g);
	ts_audit(a, "oidc_consent_revoked", "tenant", p->tenant.slug, "user", p->user.id, "client",
	         c.id, TS_LOG_INT("sessions_ended", g.n), NULL);
	return r;
}

/* After the request's checks: what the browser session allows. */
static ts_err
authz_session(ts_auth *a, ts_oidc_authz *out, const ts_oidc_authz_req *q, const char *user_id,
              int64_t auth_time)
{
	int64_t now = ts_now(), after = 0;
	int fresh;

	if (q->login_after)
		after = strtoll(q->login_after, NULL, 10);
	/* prompt=login: a sign-in made for this request; max_age: recent
	 * enough (OpenID Connect Core §3.1.2.1). */
	fresh = auth_time > 0 && user_id && (!out->prompt_login || (after > 0 && auth_time >= after)) &&
	        (out->max_age < 0 || now - auth_time <= out->max_age ||
	         (after > 0 && auth_time >= after));
	if (!fresh) {
		/* §3.1.2.6: prompt=none may not show anything. */
		if (out->prompt_none)
			return authz_redirect(out, "login_required", "The person is not signed in.");
		out->next = TS_AUTHZ_SIGN_IN;
		return TS_OK;
	}
	if (out->prompt_consent || (!out->client.first_party && !consented(a, user_id, out))) {
		if (out->prompt_none)
			return authz_redirect(out, "consent_required",
			                      "The person has not allowed this client yet.");
		out->next = TS_AUTHZ_CONSENT;
		return TS_OK;
	}
	out->next = TS_AUTHZ_CODE;
	return TS_OK;
}

ts_err
ts_oidc_authorize(ts_auth *a, const ts_tenant *t, const ts_oidc_authz_req *q,
                  const char *user_id, int64_t auth_time, ts_oidc_authz *out)
{
	const char *method = q->code_challenge_method;
	ts_err r;

	memset(out, 0, sizeof(*out));
	out->max_age = -1;
	/* §4.1.2.1: without a client and its exact redirect URI, nothing
	 * may be sent anywhere. */
	if (q->repeated)
		return authz_page(out, "invalid_request", "A parameter is given more than once.");
	if (!q->client_id || strlen(q->client_id) >= TS_ID_SZ)
		return authz_page(out, "invalid_request", "The client_id is missing or unknown.");
	r = SOPS(a)->client_get(ST(a), q->client_id, &out->client);
	if (r == TS_E_NOT_FOUND || (r == TS_OK && strcmp(out->client.tenant_id, t->id) != 0)) {
		memset(&out->client, 0, sizeof(out->client));
		return authz_page(out, "invalid_request", "The client_id is missing or unknown.");
	}
	if (r != TS_OK)
		return r;
	/* OpenID Connect Core §3.1.2.1: redirect_uri is required, and is
	 * compared exactly with a registered one (no prefix, no pattern). */
	if (!q->redirect_uri || strchr(q->redirect_uri, ' ') ||
	    !ts_oidc_has_word(out->client.redirect_uris, q->redirect_uri))
		return authz_page(out, "invalid_request",
		                  "The redirect_uri is missing or not registered for this client.");
	if (q->state && strlen(q->state) > TS_OIDC_STATE_MAX)
		return authz_page(out, "invalid_request", "The state is too long.");
	/* From here on, errors go back to the client. */
	if (!q->response_type)
		return authz_redirect(out, "invalid_request", "response_type is required.");
	if (strcmp(q->response_type, "code") != 0)
		return authz_redirect(out, "unsupported_response_type", "Only response_type=code.");
	if (!ts_oidc_has_word(out->client.grant_types, "authorization_code"))
		return authz_redirect(out, "unauthorized_client",
		                      "The client may not use the authorization code flow.");
	if (q->response_mode && strcmp(q->response_mode, "query") != 0)
		return authz_redirect(out, "invalid_request", "Only response_mode=query.");
	if (!q->scope || !ts_oidc_has_word(q->scope, "openid"))
		return authz_redirect(out, "invalid_scope", "The scope must include openid.");
	if (ts_oidc_scope_grant(&out->client, q->scope, "", out->scope, sizeof(out->scope)) != TS_OK)
		return authz_redirect(out, "invalid_scope", "A scope asked for is not allowed.");
	/* RFC 7636 §4.3: a challenge without a method means plain, which we
	 * refuse like an explicit plain. */
	if (q->code_challenge || method) {
		if (!q->code_challenge || !method || strcmp(method, "S256") != 0)
			return authz_redirect(out, "invalid_request",
			                      "PKCE must use code_challenge_method=S256.");
		if (!challenge_ok(q->code_challenge))
			return authz_redirect(out, "invalid_request", "The code_challenge is malformed.");
	} else if (!out->client.secret_hash[0]) {
		return authz_redirect(out, "invalid_request",
		                      "A public client must send a PKCE code_challenge (S256).");
	}
	if (q->nonce && (strlen(q->nonce) > TS_OIDC_NONCE_MAX || strchr(q->nonce, ' ')))
		return authz_redirect(out, "invalid_request", "The nonce is malformed or too long.");
	if (!prompt_read(q->prompt, out))
		return authz_redirect(out, "invalid_request", "The prompt is not one this server takes.");
	if (!max_age_read(q->max_age, &out->max_age))
		return authz_redirect(out, "invalid_request", "max_age must be a number of seconds.");
	return authz_session(a, out, q, user_id, auth_time);
}
