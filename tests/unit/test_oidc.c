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
	snprintf(url, sizeof(url), "rm -rf %s", dir);
	if (system(url) != 0)
		return 1;
	return CHECK_DONE();
}
