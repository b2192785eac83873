/* Issue 7's engine rules against a real SQLite store: one tenant decision
 * per request, bearer and refresh bound to it, refresh of an ended session,
 * logout by refresh token, a new password ending sessions, CORS origins,
 * the account limit's refund and the padding of password checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/pwtime.h"
#include "auth/ratelimit.h"
#include "check.h"
#include "core/log.h"
#include "core/util.h"

static const ts_pw_cost cheap = { 1, 8192 * 1024 };

static void
test_host_normalize(void)
{
	char h[TS_HOST_MAX + 1];

	CHECK(ts_host_normalize("Acme.Test.", h) && !strcmp(h, "acme.test"));
	CHECK(ts_host_normalize("ACME.test.:8080", h) && !strcmp(h, "acme.test"));
	CHECK(ts_host_normalize("acme.test:443", h) && !strcmp(h, "acme.test"));
	CHECK(ts_host_normalize("[::1]:8080", h) && !strcmp(h, "::1"));
	CHECK(ts_host_normalize("::1", h) && !strcmp(h, "::1"));
	CHECK(ts_host_normalize("127.0.0.1", h) && !strcmp(h, "127.0.0.1"));
	CHECK(!ts_host_normalize("", h) && !*h);
	CHECK(!ts_host_normalize(".", h));
	CHECK(!ts_host_normalize(NULL, h));
}

static void
test_origin_normalize(void)
{
	char o[TS_ORIGIN_MAX + 1];

	CHECK(ts_origin_normalize("https://App.Acme.Test/", o) && !strcmp(o, "https://app.acme.test"));
	CHECK(ts_origin_normalize("https://app.test:443", o) && !strcmp(o, "https://app.test"));
	CHECK(ts_origin_normalize("http://app.test:80", o) && !strcmp(o, "http://app.test"));
	CHECK(ts_origin_normalize("http://app.test:8443", o) && !strcmp(o, "http://app.test:8443"));
	CHECK(ts_origin_normalize("http://[::1]:3000", o) && !strcmp(o, "http://[::1]:3000"));
	CHECK(!ts_origin_normalize("*", o));
	CHECK(!ts_origin_normalize("null", o));
	CHECK(!ts_origin_normalize("https://", o));
	CHECK(!ts_origin_normalize("https://a.test/path", o));
	CHECK(!ts_origin_normalize("https://u@a.test", o));
	CHECK(!ts_origin_normalize("ftp://a.test", o));
	CHECK(!ts_origin_normalize("https://*.a.test", o));
}

static void
test_request_tenant(ts_auth *a)
{
	ts_tenant t;
	ts_tenant_hints h;

	h = (ts_tenant_hints){ "acme", "beta", NULL };
	CHECK(ts_auth_request_tenant(a, &h, 1, &t) == TS_E_TENANT_CONFLICT);
	h = (ts_tenant_hints){ NULL, "acme", "beta.test." };
	CHECK(ts_auth_request_tenant(a, &h, 1, &t) == TS_E_TENANT_CONFLICT);
	/* A made-up slug against a tenant's host: a conflict too, so nothing
	 * tells which slugs exist. */
	h = (ts_tenant_hints){ "no-such", NULL, "BETA.test" };
	CHECK(ts_auth_request_tenant(a, &h, 1, &t) == TS_E_TENANT_CONFLICT);
	h = (ts_tenant_hints){ "beta", "beta", "beta.test.:80" };
	CHECK(ts_auth_request_tenant(a, &h, 1, &t) == TS_OK && !strcmp(t.slug, "beta"));
	h = (ts_tenant_hints){ NULL, "beta", "127.0.0.1" };
	CHECK(ts_auth_request_tenant(a, &h, 1, &t) == TS_OK && !strcmp(t.slug, "beta"));
	h = (ts_tenant_hints){ "no-such", NULL, NULL };
	CHECK(ts_auth_request_tenant(a, &h, 1, &t) == TS_E_TENANT_UNKNOWN);
	h = (ts_tenant_hints){ NULL, NULL, "127.0.0.1" };
	CHECK(ts_auth_request_tenant(a, &h, 1, &t) == TS_OK && !strcmp(t.slug, "acme"));
	CHECK(ts_auth_request_tenant(a, &h, 0, &t) == TS_E_NOT_FOUND);
}

static ts_err
full_session(ts_auth *a, const char *email, const char *pw, ts_user *u, ts_tokens *t)
{
	ts_login_req r = { .email = email, .password = pw, .password_len = strlen(pw),
	                   .client_ip = "127.0.0.1" };
	ts_login_ok ok;
	ts_err e = ts_auth_password(a, &r, &ok);

	if (e != TS_OK)
		return e;
	*u = ok.user;
	return ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, t);
}

static void
test_binding(ts_auth *a)
{
	ts_tokens t, t2;
	ts_user u, u2;
	ts_tenant tn;
	ts_principal p;
	ts_tenant_hints beta = { NULL, NULL, "beta.test." }, acme = { NULL, "acme", NULL };
	ts_tenant_hints clash = { NULL, "acme", "beta.test" }, none = { 0 };

	CHECK(full_session(a, "alice@example.com", "correct horse battery", &u, &t) == TS_OK);
	CHECK(ts_auth_bearer(a, t.access, &beta, &p) == TS_E_TENANT_MISMATCH);
	CHECK(ts_auth_bearer(a, t.access, &clash, &p) == TS_E_TENANT_CONFLICT);
	CHECK(ts_auth_bearer(a, t.access, &acme, &p) == TS_OK);
	CHECK(ts_auth_bearer(a, t.access, &none, &p) == TS_OK);
	/* Refused on the wrong tenant without being spent. */
	CHECK(ts_auth_refresh_for(a, t.refresh, &beta, &t2, &u2, &tn) == TS_E_TENANT_MISMATCH);
	CHECK(ts_auth_refresh_for(a, t.refresh, &clash, &t2, &u2, &tn) == TS_E_TENANT_CONFLICT);
	CHECK(ts_auth_refresh_for(a, t.refresh, &acme, &t2, &u2, &tn) == TS_OK);
	/* Logout by refresh token: other tenant ends nothing; unknown is OK. */
	CHECK(ts_auth_logout_refresh(a, t2.refresh, &beta) == TS_E_TENANT_MISMATCH);
	CHECK(ts_auth_bearer(a, t2.access, &none, &p) == TS_OK);
	CHECK(ts_auth_logout_refresh(a, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &none) == TS_OK);
	CHECK(ts_auth_logout_refresh(a, "short", &none) == TS_OK);
	CHECK(ts_auth_logout_refresh(a, t2.refresh, &none) == TS_OK);
	CHECK(ts_auth_bearer(a, t2.access, &none, &p) == TS_E_SESSION_REVOKED);
	/* An ended session's token: session_revoked, not a reuse. */
	CHECK(ts_auth_refresh(a, t2.refresh, &t, &u2, &tn) == TS_E_SESSION_REVOKED);
	CHECK(ts_auth_refresh(a, t2.refresh, &t, &u2, &tn) == TS_E_SESSION_REVOKED);

	/* A real reuse is still one. */
	CHECK(full_session(a, "alice@example.com", "correct horse battery", &u, &t) == TS_OK);
	CHECK(ts_auth_refresh(a, t.refresh, &t2, &u2, &tn) == TS_OK);
	CHECK(ts_auth_refresh(a, t.refresh, &t2, &u2, &tn) == TS_E_TOKEN_REUSED);
	CHECK(ts_auth_refresh(a, t.refresh, &t2, &u2, &tn) == TS_E_SESSION_REVOKED);
}

static void
test_new_password(ts_auth *a, ts_store *s)
{
	ts_tokens keep, other, px;
	ts_user u, u2;
	ts_tenant tn;
	ts_principal p;
	int n = -1;

	CHECK(full_session(a, "dave@example.com", "passphrase number four", &u, &keep) == TS_OK);
	CHECK(full_session(a, "dave@example.com", "passphrase number four", &u, &other) == TS_OK);
	CHECK(ts_auth_start_session_access(a, &u, "pwd", TS_ACCESS_OPAQUE, &px) == TS_OK);
	CHECK(ts_admin_user_password(s, &cheap, &u, "short", 5, NULL, &n) == TS_E_PASSWORD_POLICY);
	CHECK(ts_auth_check_token(a, other.access, NULL, &p) == TS_OK);
	CHECK(ts_admin_user_password(s, &cheap, &u, "passphrase number four again", 28, keep.session_id, &n) == TS_OK);
	CHECK(n == 2);
	CHECK(ts_auth_check_token(a, keep.access, NULL, &p) == TS_OK);
	CHECK(ts_auth_check_token(a, other.access, NULL, &p) == TS_E_SESSION_REVOKED);
	CHECK(ts_auth_check_token(a, px.access, NULL, &p) == TS_E_SESSION_REVOKED);
	CHECK(ts_auth_refresh(a, other.refresh, &px, &u2, &tn) == TS_E_SESSION_REVOKED);
	CHECK(ts_admin_user_set_password(s, &cheap, &u, "passphrase number four thrice", 29) == TS_OK);
	CHECK(ts_auth_check_token(a, keep.access, NULL, &p) == TS_E_SESSION_REVOKED);
	CHECK(full_session(a, "dave@example.com", "passphrase number four", &u, &keep) == TS_E_BAD_CREDENTIALS);
	CHECK(full_session(a, "dave@example.com", "passphrase number four thrice", &u, &keep) == TS_OK);
}

static void
test_origins(ts_auth *a, ts_store *s, const ts_tenant *acme)
{
	ts_tenant_hints h = { NULL, "acme", NULL }, b = { NULL, NULL, "beta.test" };
	ts_tenant_hints nohint = { NULL, NULL, "127.0.0.1" };

	CHECK(ts_admin_tenant_origin(s, acme, "https://App.Acme.Test/", 1) == TS_OK);
	CHECK(ts_admin_tenant_origin(s, acme, "https://app.acme.test:443", 1) == TS_E_CONFLICT);
	CHECK(ts_admin_tenant_origin(s, acme, "*", 1) == TS_E_INVALID);
	CHECK(ts_auth_cors_allowed(a, &h, "https://app.acme.test") == TS_OK);
	CHECK(ts_auth_cors_allowed(a, &nohint, "https://app.acme.test") == TS_OK);   /* default */
	CHECK(ts_auth_cors_allowed(a, &b, "https://app.acme.test") == TS_E_NOT_FOUND);
	CHECK(ts_auth_cors_allowed(a, &h, "http://app.acme.test") == TS_E_NOT_FOUND);
	CHECK(ts_auth_cors_allowed(a, &h, "null") == TS_E_NOT_FOUND);
	CHECK(ts_admin_tenant_origin(s, acme, "https://app.acme.test", 0) == TS_OK);
	CHECK(ts_admin_tenant_origin(s, acme, "https://app.acme.test", 0) == TS_E_NOT_FOUND);
	CHECK(ts_auth_cors_allowed(a, &h, "https://app.acme.test") == TS_E_NOT_FOUND);
}

static void
test_limiter_give(void)
{
	ts_limiter *l;
	int64_t t = 1000000;

	CHECK(ts_limiter_new(1024, 0.001, 2, &l) == TS_OK);
	CHECK(ts_limiter_take(l, "k", 1, t) == 0);
	ts_limiter_give(l, "k", 1, t);
	CHECK(ts_limiter_take(l, "k", 1, t) == 0);
	CHECK(ts_limiter_take(l, "k", 1, t) == 0);
	CHECK(ts_limiter_take(l, "k", 1, t) > 0);
	ts_limiter_give(l, "k", 1, t);
	ts_limiter_give(l, "k", 1, t);
	ts_limiter_give(l, "k", 1, t);   /* never past the burst */
	CHECK(ts_limiter_take(l, "k", 1, t) == 0);
	CHECK(ts_limiter_take(l, "k", 1, t) == 0);
	CHECK(ts_limiter_take(l, "k", 1, t) > 0);
	ts_limiter_free(l);
}

static void
test_pwtime(void)
{
	ts_pwtime p;
	char slow[TS_PHC_MAX], fast[TS_PHC_MAX];
	/* 24 times the work of cheap (t=3, 64 MiB vs t=1, 8 MiB): a busy machine
	 * cannot make one look slower than the other, as t=3 at 8 MiB could. */
	ts_pw_cost hi = { 3, 65536 * 1024 };

	ts_pwtime_init(&p);
	CHECK(ts_pwtime_target(&p, ts_mono_us()) == 0);
	CHECK(ts_pw_hash(&cheap, "password", 8, fast) == TS_OK);
	CHECK(ts_pw_hash(&hi, "password", 8, slow) == TS_OK);
	CHECK(ts_pwtime_verify(&p, fast, "password", 8) == TS_OK);
	int64_t t_fast = ts_pwtime_target(&p, ts_mono_us());
	CHECK(t_fast > 0);
	CHECK(ts_pwtime_verify(&p, slow, "wrong", 5) == TS_E_BAD_CREDENTIALS);
	int64_t t_slow = ts_pwtime_target(&p, ts_mono_us());
	CHECK(t_slow > t_fast);   /* t=3 costs more than t=1: the pace is the slowest */
	CHECK(p.n == 2);
	/* A fast check is padded up to the target. */
	int64_t start = ts_mono_us();
	CHECK(ts_pwtime_verify(&p, fast, "password", 8) == TS_OK);
	ts_pwtime_pad(&p, start);
	CHECK(ts_mono_us() - start >= ts_pwtime_target(&p, ts_mono_us()) * 9 / 10);
	/* A class unseen for a long time no longer sets the pace. */
	CHECK(ts_pwtime_target(&p, ts_mono_us() + 16LL * 60 * 1000000) == 0);
	ts_pwtime_destroy(&p);
}

int
main(void)
{
	char dir[] = "/tmp/ts-tenant-XXXXXX", url[128];
	ts_store *s = NULL;
	ts_auth *a = NULL;
	ts_tenant acme, beta;
	ts_user u;
	static const unsigned char raw[TS_KEK_LEN] = { 7 };
	ts_kek kek;
	ts_auth_config cfg = {
		.issuer = "https://auth.test", .audience = "tessera", .default_tenant = "acme",
		.alg = TS_ALG_ES256, .access_ttl = 900, .refresh_ttl = 3600, .session_ttl = 7200,
		.challenge_ttl = 300, .pw_cost = cheap, .lock_after = 10, .lock_secs = 60,
		.kek = &kek,
	};

	ts_kek_from_bytes(raw, &kek);
	ts_log_set_level(TS_LOG_ERROR);
	test_host_normalize();
	test_origin_normalize();
	test_limiter_give();
	test_pwtime();
	if (!mkdtemp(dir))
		return 1;
	snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
	CHECK(ts_store_open(url, &s) == TS_OK);
	if (!s)
		return CHECK_DONE();
	CHECK(ts_admin_tenant_add(s, "acme", 0, &acme) == TS_OK);
	CHECK(ts_admin_tenant_add(s, "beta", 0, &beta) == TS_OK);
	CHECK(ts_admin_tenant_domain(s, &beta, "Beta.Test.") == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "alice@example.com", "correct horse battery", 21, 1, 0, &u) == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "dave@example.com", "passphrase number four", 22, 1, 0, &u) == TS_OK);
	CHECK(ts_auth_new(&cfg, s, &a) == TS_OK);
	if (a) {
		test_request_tenant(a);
		test_binding(a);
		test_new_password(a, s);
		test_origins(a, s, &acme);
	}
	ts_auth_free(a);
	ts_store_close(s);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return CHECK_DONE();
}
