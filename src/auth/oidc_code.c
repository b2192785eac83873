/* The authorization code flow's engine (auth/oidc.h): codes bound to
 * their request, their exchange for tokens and an ID token, and refresh
 * tokens bound to their client. Each exchange starts its own session
 * (the sid of its tokens), so a replayed code or a reused refresh token
 * ends exactly what that grant issued. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/oidc_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/b64url.h"
#include "crypto/hash.h"

/* The scopes a grant may hold, as bits (the data field is short). */
static const char *const scope_names[] = { "openid", "email", "profile", "offline_access" };

static unsigned
scope_bits(const char *scope)
{
	unsigned bits = 0;

	for (unsigned i = 0; i < 4; i++)
		if (ts_oidc_has_word(scope, scope_names[i]))
			bits |= 1u << i;
	return bits;
}

static void
scope_text(unsigned bits, char *out, size_t cap)
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < 4; i++)
		if (bits & (1u << i)) {
			int n = snprintf(out + used, cap - used, "%s%s", used ? " " : "",
			                 scope_names[i]);
			if (n < 0 || (size_t)n >= cap - used)
				return;
			used += (size_t)n;
		}
}

/* 22 characters (128 bits) of base64url SHA-256 of text: a binding that
 * fits the data field. */
static void
short_hash(const char *text, char out[32])
{
	unsigned char d[TS_SHA256_LEN];

	ts_sha256(text, strlen(text), d);
	ts_b64url_encode(d, 16, out);
}

/* What a code is bound to: "client ruri challenge|- bits auth_time nonce|-"
 * (the nonce last: it may hold anything but a space). */
typedef struct code_data {
	char client_id[TS_ID_SZ];
	char ruri[32];
	char challenge[48];
	unsigned bits;
	int64_t auth_time;
	char nonce[TS_OIDC_NONCE_MAX + 1];
} code_data;

static int
code_data_read(const char *data, code_data *d)
{
	char ch[48], nonce[TS_OIDC_NONCE_MAX + 1];
	long long at;
	unsigned bits;

	memset(d, 0, sizeof(*d));
	if (sscanf(data, "%36s %22s %47s %x %lld %128s", d->client_id, d->ruri, ch, &bits, &at,
	           nonce) != 6)
		return 0;
	ts_strlcpy(d->challenge, strcmp(ch, "-") == 0 ? "" : ch, sizeof(d->challenge));
	ts_strlcpy(d->nonce, strcmp(nonce, "-") == 0 ? "" : nonce, sizeof(d->nonce));
	d->bits = bits;
	d->auth_time = at;
	return 1;
}

ts_err
ts_oidc_code_issue(ts_auth *a, const ts_tenant *t, const ts_oidc_authz_req *q,
                   const ts_oidc_authz *z, const ts_session *browser, int64_t auth_time,
                   char code[TS_SECRET_TEXT_LEN + 1])
{
	char ruri[32];
	ts_secret sec;
	int64_t now = ts_now();
	int n;
	ts_err r;

	code[0] = '\0';
	if (z->next != TS_AUTHZ_CODE || strcmp(browser->tenant_id, t->id) != 0 ||
	    browser->kind != TS_SESSION_FULL || browser->revoked_at || browser->expires_at <= now)
		return TS_E_INVALID;
	memset(&sec, 0, sizeof(sec));
	short_hash(q->redirect_uri, ruri);
	n = snprintf(sec.data, sizeof(sec.data), "%s %s %s %x %lld %s", z->client.id, ruri,
	             q->code_challenge ? q->code_challenge : "-", scope_bits(z->scope),
	             (long long)auth_time, q->nonce ? q->nonce : "-");
	if (n < 0 || (size_t)n >= sizeof(sec.data))
		return TS_E_INVALID;
	ts_secret_new(code);
	ts_secret_hash(code, strlen(code), sec.hash);
	sec.kind = TS_SECRET_OIDC_CODE;
	ts_strlcpy(sec.tenant_id, t->id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, browser->user_id, sizeof(sec.user_id));
	ts_strlcpy(sec.session_id, browser->id, sizeof(sec.session_id));
	sec.created_at = now;
	sec.expires_at = now + (a->cfg.oidc_code_ttl > 0 && a->cfg.oidc_code_ttl < TS_OIDC_CODE_TTL
	                        ? a->cfg.oidc_code_ttl : TS_OIDC_CODE_TTL);
	if ((r = SOPS(a)->secret_put(ST(a), &sec)) != TS_OK)
		ts_wipe(code, TS_SECRET_TEXT_LEN + 1);
	return r;
}

/* RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge; the verifier
 * is 43 to 128 unreserved characters. */
static int
pkce_ok(const char *challenge, const char *verifier)
{
	unsigned char d[TS_SHA256_LEN];
	char want[48];
	size_t n = verifier ? strlen(verifier) : 0;

	if (n < 43 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~",
		            verifier[i]))
			return 0;
	ts_sha256(verifier, n, d);
	ts_b64url_encode(d, sizeof(d), want);
	return strlen(challenge) == 43 && ts_ct_eq(want, challenge, 43);
}

/* OpenID Connect Core §3.1.3.6: the left half of the hash of the access
 * token, the hash being the signature's (SHA-256 for ES256; SHA-512 for
 * Ed25519, per the EdDSA errata). */
static void
at_hash_of(const char *access, char out[64])
{
	unsigned char d[TS_SHA512_LEN];
	int eddsa = 0;
	ts_jws_parts p;

	if (ts_jws_split(access, &p) == TS_OK) {
		eddsa = strstr(p.header, "\"EdDSA\"") != NULL;
		ts_jws_parts_free(&p);
	}
	if (eddsa) {
		ts_sha512(access, strlen(access), d);
		ts_b64url_encode(d, 32, out);
	} else {
		ts_sha256(access, strlen(access), d);
		ts_b64url_encode(d, 16, out);
	}
}

/* The ID token's acr (OpenID Connect Core §2), docs/OIDC.md "acr": "2"
 * when the sign-in used a second factor or a passkey (RFC 8176 otp, hwk,
 * mca), else "1" (a password only). Derived here once, from the amr. */
static const char *
acr_of(const char *amr)
{
	static const char *const strong[] = { "otp", "hwk", "mca" };

	for (size_t i = 0; i < sizeof(strong) / sizeof(strong[0]); i++)
		if (ts_amr_has(amr, strong[i]))
			return TS_OIDC_ACR_MFA;
	return TS_OIDC_ACR_PWD;
}

static ts_err
id_token_issue(ts_auth *a, const char *iss, const ts_oidc_client *c, const ts_user *u,
               const ts_session *s, const code_data *d, ts_oidc_tokens *out)
{
	ts_oidc_claims cl;
	char payload[2048];
	int64_t now = ts_now();

	memset(&cl, 0, sizeof(cl));
	ts_strlcpy(cl.iss, iss, sizeof(cl.iss));
	ts_strlcpy(cl.sub, u->id, sizeof(cl.sub));
	ts_strlcpy(cl.aud, c->id, sizeof(cl.aud));
	ts_strlcpy(cl.sid, s->id, sizeof(cl.sid));
	ts_strlcpy(cl.nonce, d->nonce, sizeof(cl.nonce));
	ts_strlcpy(cl.amr, s->amr, sizeof(cl.amr));
	ts_strlcpy(cl.acr, acr_of(s->amr), sizeof(cl.acr));
	at_hash_of(out->access, cl.at_hash);
	if (d->bits & 2) {             /* email */
		ts_strlcpy(cl.email, u->email, sizeof(cl.email));
		cl.email_verified = u->is_verified;
	}
	cl.auth_time = d->auth_time;
	cl.iat = now;
	cl.exp = now + (c->id_ttl ? c->id_ttl : a->cfg.access_ttl);
	if (ts_oidc_id_encode(&cl, payload, sizeof(payload)) != TS_OK)
		return TS_E_INTERNAL;
	return ts_keys_sign(a, payload, 0, out->id_token, sizeof(out->id_token));
}

/* A refresh token of client c for session s with scope bits. */
static ts_err
refresh_issue(ts_auth *a, const ts_oidc_client *c, const ts_session *s, unsigned bits,
              ts_oidc_tokens *out)
{
	int64_t now = ts_now(), ttl = c->refresh_ttl ? c->refresh_ttl : a->cfg.refresh_ttl;
	ts_secret sec;

	memset(&sec, 0, sizeof(sec));
	ts_secret_new(out->refresh);
	ts_secret_hash(out->refresh, strlen(out->refresh), sec.hash);
	sec.kind = TS_SECRET_OIDC_REFRESH;
	ts_strlcpy(sec.tenant_id, s->tenant_id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, s->user_id, sizeof(sec.user_id));
	ts_strlcpy(sec.session_id, s->id, sizeof(sec.session_id));
	snprintf(sec.data, sizeof(sec.data), "%s %x", c->id, bits);
	sec.created_at = now;
	sec.expires_at = now + ttl < s->expires_at ? now + ttl : s->expires_at;
	return SOPS(a)->secret_put(ST(a), &sec);
}

/* A replayed code: end the session its first use started (if any). */
static void
code_replayed(ts_auth *a, const ts_tenant *t, const char *hash)
{
	ts_secret g;

	if (SOPS(a)->secret_get(ST(a), TS_SECRET_OIDC_GRANT, hash, &g) == TS_OK)
		(void)SOPS(a)->session_revoke(ST(a), g.session_id, ts_now());
	ts_audit_warn(a, "oidc_code_reused", "tenant", t->slug, NULL);
}

/* The code's checks after it was consumed; TS_E_OIDC_GRANT when any fails. */
static ts_err
code_check(ts_auth *a, const ts_tenant *t, const ts_oidc_client *c, const ts_secret *sec,
           const char *redirect_uri, const char *verifier, code_data *d, ts_user *u,
           ts_session *browser)
{
	char ruri[32];
	ts_tenant bt;
	ts_err r;

	if (sec->expires_at <= ts_now() || strcmp(sec->tenant_id, t->id) != 0 ||
	    !code_data_read(sec->data, d) || strcmp(d->client_id, c->id) != 0 || !redirect_uri)
		return TS_E_OIDC_GRANT;
	short_hash(redirect_uri, ruri);
	if (strcmp(ruri, d->ruri) != 0)
		return TS_E_OIDC_GRANT;
	/* RFC 9700 §2.1.1: a verifier without a challenge is refused too. */
	if (d->challenge[0] ? !pkce_ok(d->challenge, verifier) : verifier != NULL)
		return TS_E_OIDC_GRANT;
	r = SOPS(a)->session_principal(ST(a), sec->session_id, browser, u, &bt);
	if (r == TS_E_NOT_FOUND || (r == TS_OK && (browser->revoked_at || u->is_disabled ||
	                                           browser->expires_at <= ts_now())))
		return TS_E_OIDC_GRANT;
	memset(u->password_hash, 0, sizeof(u->password_hash));
	return r;
}

ts_err
ts_oidc_code_exchange(ts_auth *a, const ts_tenant *t, const char *iss, const ts_oidc_client *c,
                      const char *code, const char *redirect_uri, const char *verifier,
                      ts_oidc_tokens *out)
{
	char hash[TS_HASH_SZ];
	ts_session browser, s;
	ts_secret sec, g;
	code_data d;
	ts_user u;
	int64_t now = ts_now(), life;
	int offline;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!ts_oidc_has_word(c->grant_types, "authorization_code"))
		return TS_E_OIDC_UNAUTHORIZED;
	if (!code || strlen(code) != TS_SECRET_TEXT_LEN)
		return TS_E_OIDC_GRANT;
	ts_secret_hash(code, strlen(code), hash);
	r = SOPS(a)->secret_consume(ST(a), TS_SECRET_OIDC_CODE, hash, now, &sec);
	if (r == TS_E_TOKEN_REUSED) {
		code_replayed(a, t, hash);
		return TS_E_OIDC_GRANT;
	}
	if (r == TS_E_NOT_FOUND)
		return TS_E_OIDC_GRANT;
	if (r != TS_OK)
		return r;
	if ((r = code_check(a, t, c, &sec, redirect_uri, verifier, &d, &u, &browser)) != TS_OK)
		goto out;
	/* The grant's own session: the person's sign-in facts, this
	 * client's lifetime. */
	offline = (d.bits & 8) && ts_oidc_has_word(c->grant_types, "refresh_token");
	life = offline ? (c->refresh_ttl ? c->refresh_ttl : a->cfg.session_ttl)
	               : (c->access_ttl ? c->access_ttl : a->cfg.access_ttl);
	memset(&s, 0, sizeof(s));
	ts_uuid4(s.id);
	ts_strlcpy(s.tenant_id, t->id, sizeof(s.tenant_id));
	ts_strlcpy(s.user_id, u.id, sizeof(s.user_id));
	s.kind = TS_SESSION_FULL;
	ts_strlcpy(s.amr, browser.amr, sizeof(s.amr));
	s.created_at = now;
	s.last_used_at = now;
	/* Without offline access the grant ends with the sign-in. */
	s.expires_at = offline || now + life < browser.expires_at ? now + life : browser.expires_at;
	snprintf(s.user_agent, sizeof(s.user_agent), "OpenID Connect: %s", c->name);
	if ((r = SOPS(a)->session_create(ST(a), &s)) != TS_OK)
		goto out;
	memset(&g, 0, sizeof(g));
	ts_strlcpy(g.hash, hash, sizeof(g.hash));
	g.kind = TS_SECRET_OIDC_GRANT;
	ts_strlcpy(g.tenant_id, t->id, sizeof(g.tenant_id));
	ts_strlcpy(g.user_id, u.id, sizeof(g.user_id));
	ts_strlcpy(g.session_id, s.id, sizeof(g.session_id));
	g.created_at = now;
	g.expires_at = s.expires_at;
	scope_text(d.bits & (offline ? 15u : 7u), out->scope, sizeof(out->scope));
	if ((r = SOPS(a)->secret_put(ST(a), &g)) != TS_OK ||
	    (r = ts_oidc_access_issue(a, iss, c, u.id, s.id, out->scope, out)) != TS_OK ||
	    (r = id_token_issue(a, iss, c, &u, &s, &d, out)) != TS_OK ||
	    (offline && (r = refresh_issue(a, c, &s, d.bits, out)) != TS_OK))
		goto out;
	ts_audit(a, "oidc_token_issued", "tenant", t->slug, "client", c->id, "grant",
	         "authorization_code", NULL);
out:
	ts_wipe(&u, sizeof(u));
	if (r != TS_OK)
		ts_wipe(out, sizeof(*out));
	return r;
}

ts_err
ts_oidc_refresh(ts_auth *a, const ts_tenant *t, const char *iss, const ts_oidc_client *c,
                const char *refresh, const char *scope, ts_oidc_tokens *out)
{
	char hash[TS_HASH_SZ], next[TS_SECRET_TEXT_LEN + 1], next_hash[TS_HASH_SZ];
	char owner[TS_ID_SZ], granted[TS_CLIENT_LIST_MAX];
	ts_oidc_client narrowed;
	ts_secret sec;
	ts_session s;
	ts_user u;
	ts_tenant st;
	unsigned bits = 0;
	int64_t now = ts_now();
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!ts_oidc_has_word(c->grant_types, "refresh_token"))
		return TS_E_OIDC_UNAUTHORIZED;
	if (!refresh || strlen(refresh) != TS_SECRET_TEXT_LEN)
		return TS_E_OIDC_GRANT;
	ts_secret_hash(refresh, strlen(refresh), hash);
	/* Another client's token is refused before it is spent: it cannot
	 * be used to burn a token it does not own. */
	if ((r = SOPS(a)->secret_get(ST(a), TS_SECRET_OIDC_REFRESH, hash, &sec)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_OIDC_GRANT : r;
	if (sscanf(sec.data, "%36s %x", owner, &bits) != 2 || strcmp(owner, c->id) != 0 ||
	    strcmp(sec.tenant_id, t->id) != 0 || (!sec.used_at && sec.expires_at <= now))
		return TS_E_OIDC_GRANT;
	/* §6: a narrower scope only. */
	narrowed = *c;
	scope_text(bits, narrowed.scopes, sizeof(narrowed.scopes));
	if (scope && (r = ts_oidc_scope_grant(&narrowed, scope, "", granted, sizeof(granted))) != TS_OK)
		return r;
	if (!scope)
		scope_text(bits, granted, sizeof(granted));
	ts_secret_new(next);
	ts_secret_hash(next, strlen(next), next_hash);
	r = SOPS(a)->secret_rotate(ST(a), TS_SECRET_OIDC_REFRESH, hash, now, next_hash,
	                           now + (c->refresh_ttl ? c->refresh_ttl : a->cfg.refresh_ttl),
	                           &sec);
	if (r == TS_E_TOKEN_REUSED) {
		/* a spent token again: stolen or replayed; end the grant */
		(void)SOPS(a)->session_revoke(ST(a), sec.session_id, now);
		ts_audit_warn(a, "oidc_refresh_reused", "tenant", t->slug, "client", c->id, NULL);
		r = TS_E_OIDC_GRANT;
	}
	if (r == TS_OK && sec.expires_at <= now)
		r = TS_E_OIDC_GRANT;
	if (r == TS_OK) {
		r = SOPS(a)->session_principal(ST(a), sec.session_id, &s, &u, &st);
		if (r == TS_E_NOT_FOUND ||
		    (r == TS_OK && (s.revoked_at || s.expires_at <= now || u.is_disabled)))
			r = TS_E_OIDC_GRANT;
		ts_wipe(&u, sizeof(u));
	}
	if (r == TS_OK)
		r = ts_oidc_access_issue(a, iss, c, sec.user_id, sec.session_id, granted, out);
	if (r == TS_OK) {
		ts_strlcpy(out->refresh, next, sizeof(out->refresh));
		ts_strlcpy(out->scope, granted, sizeof(out->scope));
	} else {
		ts_wipe(out, sizeof(*out));
	}
	ts_wipe(next, sizeof(next));
	return r;
}

ts_err
ts_oidc_end_session(ts_auth *a, const ts_tenant *t, const char *iss, const char *id_token_hint,
                    const char *client_id, const char *post_logout_uri, ts_oidc_logout *out)
{
	char kid[TS_KID_MAX];
	ts_jws_parts parts;
	ts_oidc_claims cl;
	const char *cid = client_id;
	ts_err r;

	memset(out, 0, sizeof(*out));
	memset(&cl, 0, sizeof(cl));
	if (id_token_hint) {
		if (strlen(id_token_hint) > TS_JWT_MAX ||
		    ts_keys_verify(a, id_token_hint, &parts, kid) != TS_OK)
			return TS_E_INVALID;
		r = ts_oidc_id_decode(parts.payload, &cl);
		ts_jws_parts_free(&parts);
		if (r != TS_OK || strcmp(cl.iss, iss) != 0 || (client_id && strcmp(client_id, cl.aud) != 0))
			return TS_E_INVALID;
		cid = cl.aud;
	}
	if (cid && strlen(cid) < TS_ID_SZ) {
		r = SOPS(a)->client_get(ST(a), cid, &out->client);
		if (r != TS_OK && r != TS_E_NOT_FOUND)
			return r;
		if (r != TS_OK || strcmp(out->client.tenant_id, t->id) != 0)
			memset(&out->client, 0, sizeof(out->client));
	}
	if (id_token_hint && !out->client.id[0])
		return TS_E_INVALID;     /* a deleted client's, or another tenant's */
	/* The grant's session, and with it every token it issued. */
	if (cl.sid[0]) {
		ts_session s;
		ts_user u;
		ts_tenant st;
		if (SOPS(a)->session_principal(ST(a), cl.sid, &s, &u, &st) == TS_OK &&
		    strcmp(s.tenant_id, t->id) == 0 && strcmp(u.id, cl.sub) == 0)
			(void)SOPS(a)->session_revoke(ST(a), s.id, ts_now());
		ts_wipe(&u, sizeof(u));
	}
	out->redirect = out->client.id[0] && post_logout_uri && !strchr(post_logout_uri, ' ') &&
	                ts_oidc_has_word(out->client.post_logout_uris, post_logout_uri);
	ts_audit(a, "oidc_end_session", "tenant", t->slug, "client", out->client.id, NULL);
	return TS_OK;
}
