/* OpenID Connect clients and client authentication (auth/oidc.h) against
 * a real SQLite store: what a client may be (exact https or loopback
 * redirect URIs, known grants and scopes, no client_credentials for a
 * public client, lifetime bounds), another tenant's client NOT_FOUND,
 * and ts_oidc_client_auth's one answer for every failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/oidc.h"
#include "check.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/b64url.h"
#include "crypto/hash.h"
#include "crypto/seal.h"

static const ts_pw_cost cheap = { 1, 8192 * 1024 };

static void
test_words(void)
{
	CHECK(ts_oidc_has_word("openid email", "openid"));
	CHECK(ts_oidc_has_word("openid email", "email"));
	CHECK(!ts_oidc_has_word("openid email", "open"));
	CHECK(!ts_oidc_has_word("openid xemail", "email"));
	CHECK(!ts_oidc_has_word("openid emails", "email"));
	CHECK(!ts_oidc_has_word("", "email"));
	CHECK(!ts_oidc_has_word("a b", ""));
}

/* A new confidential client of acme with one redirect URI u: the error. */
static ts_err
try_uri(ts_auth *a, const ts_actor *who, const char *u, const char **bad)
{
	const char *v[] = { u };
	ts_oidc_client_patch p = { .name = "x", .redirect_uris = { 1, v, 1 } };
	char secret[TS_SECRET_TEXT_LEN + 1];
	ts_oidc_client c;

	return ts_admin_client_new(a, who, "acme", &p, 1, secret, &c, bad);
}

static void
test_rules(ts_auth *a, const ts_actor *op)
{
	static const char *const ok[] = {
		"https://app.example/cb", "https://app.example:8443/cb?x=1", "http://127.0.0.1/cb",
		"http://127.0.0.1:8080/cb", "http://[::1]:9000/", "http://localhost", "http://localhost:3000/cb",
	};
	static const char *const refused[] = {
		"http://app.example/cb", "https://", "https:///cb", "https://:443/cb", "https://a.example/cb#f",
		"https://a.example/c b", "/cb", "app://cb", "http://localhost.evil.example/cb",
		"http://127.0.0.1.evil.example/", "http://[::1].evil/", "", "javascript:alert(1)",
	};
	char longuri[600], secret[TS_SECRET_TEXT_LEN + 1];
	const char *bad = NULL;
	ts_oidc_client c;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		CHECK(try_uri(a, op, ok[i], &bad) == TS_OK);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		bad = NULL;
		CHECK(try_uri(a, op, refused[i], &bad) == TS_E_INVALID);
		CHECK(bad && strcmp(bad, "redirect_uris") == 0);
	}
	memset(longuri, 'a', sizeof(longuri) - 1);
	memcpy(longuri, "https://", 8);
	longuri[sizeof(longuri) - 1] = '\0';
	CHECK(try_uri(a, op, longuri, &bad) == TS_E_INVALID);

	{
		const char *g[] = { "client_credentials" }, *dup[] = { "openid", "openid" };
		const char *u[] = { "https://a.example/cb" }, *sc[] = { "openid", "admin" };
		ts_oidc_client_patch p = { .name = "svc", .grant_types = { 1, g, 1 } };
		/* a public client cannot have client_credentials */
		CHECK(ts_admin_client_new(a, op, "acme", &p, 0, secret, &c, &bad) == TS_E_INVALID);
		CHECK(strcmp(bad, "grant_types") == 0);
		CHECK(secret[0] == '\0');
		CHECK(ts_admin_client_new(a, op, "acme", &p, 1, secret, &c, &bad) == TS_OK);
		CHECK(strlen(secret) == TS_SECRET_TEXT_LEN);
		CHECK(strcmp(c.grant_types, "client_credentials") == 0);
		p = (ts_oidc_client_patch){ .name = "x", .redirect_uris = { 1, u, 1 }, .scopes = { 1, dup, 2 } };
		CHECK(ts_admin_client_new(a, op, "acme", &p, 1, secret, &c, &bad) == TS_E_INVALID);
		CHECK(strcmp(bad, "scopes") == 0);
		p.scopes = (ts_oidc_strs){ 1, sc, 2 };
		CHECK(ts_admin_client_new(a, op, "acme", &p, 1, secret, &c, &bad) == TS_E_INVALID);
		p.scopes.set = 0;
		p.set_access_ttl = 1;
		p.access_ttl = TS_OIDC_TTL_MIN - 1;
		CHECK(ts_admin_client_new(a, op, "acme", &p, 1, secret, &c, &bad) == TS_E_INVALID);
		CHECK(strcmp(bad, "access_token_ttl") == 0);
		p.access_ttl = TS_OIDC_ACCESS_TTL_MAX + 1;
		CHECK(ts_admin_client_new(a, op, "acme", &p, 1, secret, &c, &bad) == TS_E_INVALID);
		p.access_ttl = TS_OIDC_ACCESS_TTL_MAX;
		CHECK(ts_admin_client_new(a, op, "acme", &p, 1, secret, &c, &bad) == TS_OK);
		CHECK(c.access_ttl == TS_OIDC_ACCESS_TTL_MAX);
		/* no name; an unknown tenant */
		p.name = NULL;
		CHECK(ts_admin_client_new(a, op, "acme", &p, 1, secret, &c, &bad) == TS_E_INVALID);
		p.name = "x";
		CHECK(ts_admin_client_new(a, op, "nope", &p, 1, secret, &c, &bad) == TS_E_TENANT_UNKNOWN);
	}
}

static void
test_auth(ts_auth *a, ts_store *s, const ts_actor *op)
{
	const char *u[] = { "https://a.example/cb" };
	ts_oidc_client_patch p = { .name = "web", .redirect_uris = { 1, u, 1 } };
	char secret[TS_SECRET_TEXT_LEN + 1], pubsec[TS_SECRET_TEXT_LEN + 1], wrong[TS_SECRET_TEXT_LEN + 1];
	ts_oidc_client conf, pub, got;
	ts_tenant acme, other;
	ts_actor them;

	CHECK(ts_admin_client_new(a, op, "acme", &p, 1, secret, &conf, NULL) == TS_OK);
	CHECK(ts_admin_client_new(a, op, "acme", &p, 0, pubsec, &pub, NULL) == TS_OK);
	CHECK(pubsec[0] == '\0' && pub.secret_hash[0] == '\0');
	CHECK(s->ops->tenant_by_slug(s, "acme", &acme) == TS_OK);
	CHECK(s->ops->tenant_by_slug(s, "other", &other) == TS_OK);

	CHECK(ts_oidc_client_auth(a, &acme, conf.id, secret, &got) == TS_OK);
	CHECK(strcmp(got.id, conf.id) == 0);
	memcpy(wrong, secret, sizeof(wrong));
	wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
	CHECK(ts_oidc_client_auth(a, &acme, conf.id, wrong, &got) == TS_E_OIDC_CLIENT);
	CHECK(got.id[0] == '\0');
	CHECK(ts_oidc_client_auth(a, &acme, conf.id, NULL, &got) == TS_E_OIDC_CLIENT);
	CHECK(ts_oidc_client_auth(a, &acme, conf.id, "", &got) == TS_E_OIDC_CLIENT);
	CHECK(ts_oidc_client_auth(a, &other, conf.id, secret, &got) == TS_E_OIDC_CLIENT);
	CHECK(ts_oidc_client_auth(a, &acme, "00000000-0000-0000-0000-000000000000", secret, &got) ==
	      TS_E_OIDC_CLIENT);
	CHECK(ts_oidc_client_auth(a, &acme, "", secret, &got) == TS_E_OIDC_CLIENT);
	CHECK(ts_oidc_client_auth(a, &acme, NULL, NULL, &got) == TS_E_OIDC_CLIENT);
	/* a public client sends no secret; one that does is refused */
	CHECK(ts_oidc_client_auth(a, &acme, pub.id, NULL, &got) == TS_OK);
	CHECK(ts_oidc_client_auth(a, &acme, pub.id, "", &got) == TS_E_OIDC_CLIENT);
	CHECK(ts_oidc_client_auth(a, &acme, pub.id, secret, &got) == TS_E_OIDC_CLIENT);

	/* an administrator of another tenant sees none of acme's */
	memset(&them, 0, sizeof(them));
	them.kind = TS_ACTOR_USER;
	them.tenant = other;
	snprintf(them.label, sizeof(them.label), "user:x");
	CHECK(ts_admin_client_get(a, &them, "acme", conf.id, &got) == TS_E_NOT_FOUND);
	CHECK(ts_admin_client_get(a, &them, "other", conf.id, &got) == TS_E_NOT_FOUND);
	CHECK(ts_admin_client_remove(a, &them, "other", conf.id) == TS_E_NOT_FOUND);
	CHECK(ts_admin_client_get(a, op, "acme", conf.id, &got) == TS_OK);
	CHECK(ts_admin_client_remove(a, op, "acme", conf.id) == TS_OK);
	CHECK(ts_oidc_client_auth(a, &acme, conf.id, secret, &got) == TS_E_OIDC_CLIENT);

	/* no --public-url: no issuer */
	{
		char iss[TS_OIDC_ISS_MAX];
		ts_tenant t;
		CHECK(ts_oidc_tenant(a, "acme", &t, iss) == TS_E_NOT_FOUND);
		CHECK(iss[0] == '\0');
	}
	ts_wipe(secret, sizeof(secret));
}

/* ---- the code flow (oidc_code.c) on a full engine ---- */

#define ISS "https://id.example/t/acme"
#define CB "https://a.example/cb"

static ts_kek kek;

typedef struct flow {
	ts_auth *a;
	ts_store *s;
	ts_tenant t;
	ts_user u;
	ts_session browser;
	ts_oidc_client pub, other, third;
	char verifier[64], challenge[48];
} flow;

/* A code of f->pub for the browser session, with PKCE and a nonce. */
static void
code_of(flow *f, const ts_oidc_client *c, const char *scope, char code[TS_SECRET_TEXT_LEN + 1])
{
	ts_oidc_authz_req q = { .client_id = c->id, .redirect_uri = CB, .response_type = "code",
		                .scope = scope, .state = "s", .nonce = "n-0S6_WzA2Mj",
		                .code_challenge = f->challenge, .code_challenge_method = "S256" };
	ts_oidc_authz z;

	code[0] = '\0';
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, f->browser.created_at, &z) == TS_OK);
	CHECK(z.next == TS_AUTHZ_CODE);
	CHECK(ts_oidc_code_issue(f->a, &f->t, &q, &z, &f->browser, f->browser.created_at, code) ==
	      TS_OK);
	CHECK(strlen(code) == TS_SECRET_TEXT_LEN);
}

static int
active(flow *f, const char *access)
{
	ts_oidc_claims cl;
	int on = -1;

	CHECK(ts_oidc_introspect(f->a, &f->t, ISS, access, &on, &cl) == TS_OK);
	return on;
}

/* The decoded payload of a compact JWS, into out. */
static void
payload_of(const char *jwt, char *out, size_t cap)
{
	ts_jws_parts p;

	out[0] = '\0';
	if (ts_jws_split(jwt, &p) == TS_OK) {
		snprintf(out, cap, "%s", p.payload);
		ts_jws_parts_free(&p);
	}
}

/* What the browser session allows after the request's checks. */
static void
test_session_rules(flow *f)
{
	ts_oidc_authz_req q = { .client_id = f->pub.id, .redirect_uri = CB, .response_type = "code",
		                .scope = "openid", .code_challenge = f->challenge,
		                .code_challenge_method = "S256" };
	int64_t at = ts_now() - 100;
	char after[24];
	ts_oidc_authz z;

	CHECK(ts_oidc_authorize(f->a, &f->t, &q, NULL, 0, &z) == TS_OK && z.next == TS_AUTHZ_SIGN_IN);
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK && z.next == TS_AUTHZ_CODE);
	q.prompt = "none";
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, NULL, 0, &z) == TS_OK);
	CHECK(z.next == TS_AUTHZ_ERROR_REDIRECT && strcmp(z.error, "login_required") == 0);
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK && z.next == TS_AUTHZ_CODE);
	q.prompt = "login";
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK && z.next == TS_AUTHZ_SIGN_IN);
	snprintf(after, sizeof(after), "%lld", (long long)at);
	q.login_after = after;         /* the sign-in made for it */
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK && z.next == TS_AUTHZ_CODE);
	snprintf(after, sizeof(after), "%lld", (long long)at + 1);
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK && z.next == TS_AUTHZ_SIGN_IN);
	q.prompt = NULL;
	q.login_after = NULL;
	q.max_age = "60";
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK && z.next == TS_AUTHZ_SIGN_IN);
	q.max_age = "600";
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK && z.next == TS_AUTHZ_CODE);
	q.max_age = NULL;
	q.prompt = "consent";          /* asked for: always asked */
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK);
	CHECK(z.next == TS_AUTHZ_CONSENT);
	q.prompt = NULL;
	q.client_id = f->third.id;     /* not first-party: asked once, remembered */
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK);
	CHECK(z.next == TS_AUTHZ_CONSENT);
	q.prompt = "none";
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK);
	CHECK(z.next == TS_AUTHZ_ERROR_REDIRECT && strcmp(z.error, "consent_required") == 0);
	q.prompt = NULL;
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK);
	CHECK(ts_oidc_consent_give(f->a, &f->t, f->u.id, &z) == TS_OK);
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK && z.next == TS_AUTHZ_CODE);
	q.scope = "openid email";      /* more than was allowed: asked again */
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, at, &z) == TS_OK && z.next == TS_AUTHZ_CONSENT);
	q.scope = "openid";
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, NULL, 0, &z) == TS_OK && z.next == TS_AUTHZ_SIGN_IN);
}

static void
test_code_refusals(flow *f)
{
	char code[TS_SECRET_TEXT_LEN + 1], wrong[64];
	ts_oidc_tokens *t = calloc(1, sizeof(*t));

	/* each refusal spends its code; one code per case */
	code_of(f, &f->pub, "openid", code);
	CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->pub, code, CB "/x", f->verifier, t) ==
	      TS_E_OIDC_GRANT);
	code_of(f, &f->pub, "openid", code);
	CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->pub, code, CB, NULL, t) == TS_E_OIDC_GRANT);
	code_of(f, &f->pub, "openid", code);
	snprintf(wrong, sizeof(wrong), "%s", f->verifier);
	wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
	CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->pub, code, CB, wrong, t) == TS_E_OIDC_GRANT);
	code_of(f, &f->pub, "openid", code);
	CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->pub, code, CB, f->challenge, t) ==
	      TS_E_OIDC_GRANT);   /* the challenge is no verifier ("plain") */
	code_of(f, &f->pub, "openid", code);
	CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->other, code, CB, f->verifier, t) ==
	      TS_E_OIDC_GRANT);   /* another client's code */
	CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->pub, "nope", CB, f->verifier, t) ==
	      TS_E_OIDC_GRANT);

	/* an expired code: the same binding, a past expiry */
	{
		ts_secret sec;
		char h[TS_HASH_SZ], old[TS_SECRET_TEXT_LEN + 1];
		code_of(f, &f->pub, "openid", code);
		ts_secret_hash(code, strlen(code), h);
		CHECK(f->s->ops->secret_get(f->s, TS_SECRET_OIDC_CODE, h, &sec) == TS_OK);
		ts_secret_new(old);
		ts_secret_hash(old, strlen(old), sec.hash);
		sec.expires_at = ts_now() - 1;
		CHECK(f->s->ops->secret_put(f->s, &sec) == TS_OK);
		CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->pub, old, CB, f->verifier, t) ==
		      TS_E_OIDC_GRANT);
		CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->pub, code, CB, f->verifier, t) == TS_OK);
	}
	free(t);
}

static void
test_code_flow(flow *f)
{
	char code[TS_SECRET_TEXT_LEN + 1], body[4096], want[80], old_refresh[TS_SECRET_TEXT_LEN + 1];
	ts_oidc_tokens *t = calloc(1, sizeof(*t)), *t2 = calloc(1, sizeof(*t2));
	ts_oidc_claims cl;
	ts_user who;

	code_of(f, &f->pub, "openid email offline_access", code);
	CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->pub, code, CB, f->verifier, t) == TS_OK);
	CHECK_STR(t->scope, "openid email offline_access");
	CHECK(t->refresh[0] && t->id_token[0] && t->access[0]);
	CHECK(active(f, t->access) == 1);
	CHECK(ts_oidc_userinfo(f->a, &f->t, ISS, t->access, &cl, &who) == TS_OK);
	CHECK_STR(who.id, f->u.id);

	/* the ID token: iss, sub, aud, nonce, amr, acr, sid, auth_time, at_hash, email */
	payload_of(t->id_token, body, sizeof(body));
	CHECK(ts_oidc_id_decode(body, &cl) == TS_OK);
	CHECK_STR(cl.iss, ISS);
	CHECK_STR(cl.sub, f->u.id);
	CHECK_STR(cl.aud, f->pub.id);
	CHECK(cl.sid[0] && strcmp(cl.sid, f->browser.id) != 0);   /* the grant's own session */
	CHECK(strstr(body, "\"nonce\":\"n-0S6_WzA2Mj\"") != NULL);
	CHECK(strstr(body, "\"amr\":[\"pwd\",\"otp\"]") != NULL);
	CHECK(strstr(body, "\"acr\":\"2\"") != NULL);   /* a second factor */
	CHECK(strstr(body, "\"email_verified\":true") != NULL);
	snprintf(want, sizeof(want), "\"auth_time\":%lld", (long long)f->browser.created_at);
	CHECK(strstr(body, want) != NULL);
	{
		unsigned char d[TS_SHA256_LEN];
		char half[32];
		ts_sha256(t->access, strlen(t->access), d);
		ts_b64url_encode(d, 16, half);
		snprintf(want, sizeof(want), "\"at_hash\":\"%s\"", half);
		CHECK(strstr(body, want) != NULL);
	}

	/* refresh: rotation; another client may not; the spent one again ends the grant */
	CHECK(ts_oidc_refresh(f->a, &f->t, ISS, &f->other, t->refresh, NULL, t2) == TS_E_OIDC_GRANT);
	CHECK(ts_oidc_refresh(f->a, &f->t, ISS, &f->pub, t->refresh, "openid admin", t2) ==
	      TS_E_OIDC_SCOPE);
	CHECK(ts_oidc_refresh(f->a, &f->t, ISS, &f->pub, t->refresh, "openid", t2) == TS_OK);
	CHECK_STR(t2->scope, "openid");
	CHECK(strcmp(t2->refresh, t->refresh) != 0);
	CHECK(active(f, t2->access) == 1);
	snprintf(old_refresh, sizeof(old_refresh), "%s", t->refresh);
	CHECK(ts_oidc_refresh(f->a, &f->t, ISS, &f->pub, old_refresh, NULL, t) == TS_E_OIDC_GRANT);
	CHECK(active(f, t2->access) == 0);
	CHECK(ts_oidc_refresh(f->a, &f->t, ISS, &f->pub, t2->refresh, NULL, t) == TS_E_OIDC_GRANT);

	/* a code presented twice ends what its first use issued */
	code_of(f, &f->pub, "openid", code);
	CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->pub, code, CB, f->verifier, t) == TS_OK);
	CHECK(t->refresh[0] == '\0');        /* no offline_access asked for */
	CHECK(active(f, t->access) == 1);
	CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->pub, code, CB, f->verifier, t2) ==
	      TS_E_OIDC_GRANT);
	CHECK(active(f, t->access) == 0);

	/* the browser session ended: its codes are worth nothing */
	code_of(f, &f->pub, "openid", code);
	CHECK(f->s->ops->session_revoke(f->s, f->browser.id, ts_now()) == TS_OK);
	CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->pub, code, CB, f->verifier, t) ==
	      TS_E_OIDC_GRANT);
	free(t);
	free(t2);
}

static int
consent_seen(void *arg, const ts_oidc_consent *c)
{
	ts_oidc_consent *last = arg;

	last[1].created_at++;          /* the count */
	last[0] = *c;
	return 0;
}

/* The account page's consents: listed, revoked with the client's grants. */
static void
test_consents(flow *f)
{
	ts_oidc_authz_req q = { .client_id = f->third.id, .redirect_uri = CB, .response_type = "code",
		                .scope = "openid", .code_challenge = f->challenge,
		                .code_challenge_method = "S256" };
	char code[TS_SECRET_TEXT_LEN + 1];
	ts_oidc_tokens *t = calloc(1, sizeof(*t));
	ts_oidc_consent seen[2];
	ts_principal p;
	ts_oidc_authz z;

	CHECK(t != NULL);
	if (!t)
		return;
	memset(&p, 0, sizeof(p));
	p.user = f->u;
	p.tenant = f->t;
	p.session = f->browser;
	p.scope = TS_SESSION_FULL;
	/* test_session_rules allowed third "openid" */
	memset(seen, 0, sizeof(seen));
	CHECK(ts_oidc_consents(f->a, &p, consent_seen, seen) == TS_OK);
	CHECK(seen[1].created_at == 1);
	CHECK_STR(seen[0].client_id, f->third.id);
	CHECK_STR(seen[0].client_name, f->third.name);
	CHECK_STR(seen[0].scopes, "openid");
	CHECK(seen[0].created_at > 0 && seen[0].created_at <= ts_now());
	code_of(f, &f->third, "openid", code);
	CHECK(ts_oidc_code_exchange(f->a, &f->t, ISS, &f->third, code, CB, f->verifier, t) == TS_OK);
	CHECK(active(f, t->access) == 1);

	p.scope = TS_SESSION_ENROLL;   /* an enrolment step sees nothing */
	CHECK(ts_oidc_consents(f->a, &p, consent_seen, seen) == TS_E_FORBIDDEN);
	CHECK(ts_oidc_consent_revoke(f->a, &p, f->third.id) == TS_E_FORBIDDEN);
	p.scope = TS_SESSION_FULL;
	CHECK(ts_oidc_consent_revoke(f->a, &p, f->other.id) == TS_E_NOT_FOUND);   /* none given */
	CHECK(ts_oidc_consent_revoke(f->a, &p, "00000000-0000-4000-8000-000000000000") ==
	      TS_E_NOT_FOUND);
	CHECK(ts_oidc_consent_revoke(f->a, &p, "") == TS_E_NOT_FOUND);
	CHECK(active(f, t->access) == 1);

	CHECK(ts_oidc_consent_revoke(f->a, &p, f->third.id) == TS_OK);
	CHECK(active(f, t->access) == 0);   /* the grant ended with it */
	memset(seen, 0, sizeof(seen));
	CHECK(ts_oidc_consents(f->a, &p, consent_seen, seen) == TS_OK && seen[1].created_at == 0);
	CHECK(ts_oidc_authorize(f->a, &f->t, &q, f->u.id, ts_now(), &z) == TS_OK);
	CHECK(z.next == TS_AUTHZ_CONSENT);   /* asked again */

	CHECK(ts_oidc_consent_revoke(f->a, &p, f->third.id) == TS_E_NOT_FOUND);
	free(t);
}

static void
test_flow(const char *dir)
{
	static const unsigned char raw[TS_KEK_LEN] = { 9 };
	const char *u[] = { CB }, *g[] = { "authorization_code", "refresh_token" };
	const char *sc[] = { "openid", "email", "offline_access" };
	ts_oidc_client_patch p = { .name = "spa", .redirect_uris = { 1, u, 1 }, .grant_types = { 1, g, 2 },
		                   .scopes = { 1, sc, 3 } };
	char url[160], secret[TS_SECRET_TEXT_LEN + 1];
	unsigned char d[TS_SHA256_LEN];
	ts_actor op;
	flow f;

	memset(&f, 0, sizeof(f));
	ts_kek_from_bytes(raw, &kek);
	ts_auth_config cfg = {
		.issuer = "https://auth.test", .audience = "tessera", .default_tenant = "acme",
		.alg = TS_ALG_ES256, .access_ttl = 900, .refresh_ttl = 3600, .session_ttl = 7200,
		.challenge_ttl = 300, .pw_cost = cheap, .lock_after = 10, .lock_secs = 60,
		.totp_issuer = "Test", .kek = &kek,
	};
	snprintf(url, sizeof(url), "sqlite:%s/flow.db", dir);
	CHECK(ts_store_open(url, &f.s) == TS_OK);
	if (!f.s)
		return;
	CHECK(ts_admin_tenant_add(f.s, "acme", 0, &f.t) == TS_OK);
	CHECK(ts_admin_user_add(f.s, &cheap, "acme", "alice@example.com", "correct horse battery staple",
	                        28, 1, 0, &f.u) == TS_OK);
	CHECK(ts_auth_new(&cfg, f.s, &f.a) == TS_OK);
	if (!f.a)
		return;
	ts_actor_cli(&op);
	CHECK(ts_admin_client_new(f.a, &op, "acme", &p, 0, secret, &f.third, NULL) == TS_OK);
	p.set_first_party = p.first_party = 1;
	CHECK(ts_admin_client_new(f.a, &op, "acme", &p, 0, secret, &f.pub, NULL) == TS_OK);
	p.name = "other";
	CHECK(ts_admin_client_new(f.a, &op, "acme", &p, 0, secret, &f.other, NULL) == TS_OK);
	ts_uuid4(f.browser.id);
	snprintf(f.browser.tenant_id, sizeof(f.browser.tenant_id), "%s", f.t.id);
	snprintf(f.browser.user_id, sizeof(f.browser.user_id), "%s", f.u.id);
	snprintf(f.browser.amr, sizeof(f.browser.amr), "pwd otp");
	f.browser.kind = TS_SESSION_FULL;
	f.browser.created_at = ts_now() - 30;
	f.browser.expires_at = ts_now() + 3600;
	CHECK(f.s->ops->session_create(f.s, &f.browser) == TS_OK);
	ts_secret_new(f.verifier);     /* 43 unreserved characters */
	ts_sha256(f.verifier, strlen(f.verifier), d);
	ts_b64url_encode(d, sizeof(d), f.challenge);

	test_session_rules(&f);
	test_consents(&f);
	test_code_refusals(&f);
	test_code_flow(&f);
	ts_auth_free(f.a);
	ts_store_close(f.s);
}

int
main(void)
{
	char dir[] = "/tmp/ts-oidc-XXXXXX", url[128];
	ts_store *s = NULL;
	ts_auth *a = NULL;
	ts_tenant t;
	ts_actor op;

	ts_log_set_level(TS_LOG_ERROR);
	test_words();
	if (!mkdtemp(dir))
		return 1;
	snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
	CHECK(ts_store_open(url, &s) == TS_OK);
	if (!s)
		return CHECK_DONE();
	CHECK(ts_admin_tenant_add(s, "acme", 0, &t) == TS_OK);
	CHECK(ts_admin_tenant_add(s, "other", 0, &t) == TS_OK);
	CHECK(ts_auth_new_admin(s, &cheap, NULL, &a) == TS_OK);
	ts_actor_cli(&op);
	test_rules(a, &op);
	test_auth(a, s, &op);
	ts_auth_free(a);
	ts_store_close(s);
	test_flow(dir);
	snprintf(url, sizeof(url), "rm -rf %s", dir);
	if (system(url) != 0)
		return 1;
	return CHECK_DONE();
}
