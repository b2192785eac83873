/* Browser sessions (auth/browser.h) against a real SQLite store: the
 * cookie is made only by a finished sign-in, stored hashed, bound to its
 * tenant, slides its idle end, dies at its idle or absolute end, at sign
 * out and with the user's other sessions; its bearer is its session's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/admin.h"
#include "auth/auth.h"
#include "auth/browser.h"
#include "check.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/hash.h"

static const ts_pw_cost cheap = { 1, 8192 * 1024 };
static ts_kek kek;

static ts_login_req
login_req(const char *email, const char *pw)
{
	return (ts_login_req){ .email = email, .password = pw, .password_len = strlen(pw),
	                       .client_ip = "127.0.0.1" };
}

/* The stored row of a cookie. */
static ts_err
row(ts_store *s, const char *cookie, ts_secret *out)
{
	char h[TS_HASH_SZ];

	ts_secret_hash(cookie, strlen(cookie), h);
	return s->ops->secret_get(s, TS_SECRET_BROWSER, h, out);
}

static void
test_browser(ts_auth *a, ts_store *s, const ts_tenant *acme, const ts_tenant *beta)
{
	ts_browser_step st;
	ts_browser b;
	ts_secret sec;
	ts_client cl = { "192.0.2.7", "Test/1.0" };
	ts_login_req r = login_req("alice@example.com", "correct horse battery staple");
	int64_t now = ts_now();

	/* a wrong password makes no cookie */
	r.password = "wrong horse battery staple";
	r.password_len = strlen(r.password);
	CHECK(ts_browser_password(a, &r, &cl, &st) == TS_E_BAD_CREDENTIALS);
	CHECK(st.cookie[0] == '\0');

	r = login_req("alice@example.com", "correct horse battery staple");
	CHECK(ts_browser_password(a, &r, &cl, &st) == TS_OK);
	CHECK(st.login.next == TS_NEXT_SESSION);
	CHECK(strlen(st.cookie) == TS_BROWSER_COOKIE_LEN);
	CHECK(st.challenge_id[0] == '\0');
	CHECK_STR(st.b.amr, "pwd");

	/* stored as its hash only, bound to tenant, user and session */
	CHECK(row(s, st.cookie, &sec) == TS_OK);
	CHECK_STR(sec.tenant_id, acme->id);
	CHECK_STR(sec.session_id, st.b.session_id);
	CHECK(strcmp(sec.hash, st.cookie) != 0);
	CHECK(sec.expires_at <= now + TS_BROWSER_IDLE_SECS + 1);

	CHECK(ts_browser_check(a, st.cookie, acme, &b) == TS_OK);
	CHECK_STR(b.p.user.email, "alice@example.com");
	CHECK_STR(b.p.tenant.slug, "acme");
	CHECK_STR(b.session_id, st.b.session_id);
	CHECK_STR(b.amr, "pwd");
	CHECK(b.auth_time >= now && b.auth_time <= ts_now());
	CHECK(b.p.user.password_hash[0] == '\0');
	CHECK(ts_browser_check(a, st.cookie, NULL, &b) == TS_OK);
	CHECK(ts_browser_check(a, st.cookie, beta, &b) == TS_E_TENANT_MISMATCH);
	CHECK(ts_browser_check(a, "nonsense", acme, &b) == TS_E_TOKEN_INVALID);
	char other[TS_SECRET_TEXT_LEN + 1];
	ts_secret_new(other);
	CHECK(ts_browser_check(a, other, acme, &b) == TS_E_TOKEN_INVALID);
	CHECK(ts_browser_check(a, NULL, acme, &b) == TS_E_TOKEN_INVALID);

	/* the idle end slides forward when a check comes well before it */
	sec.expires_at = now + 100;
	CHECK(s->ops->secret_replace(s, &sec) == TS_OK);
	CHECK(ts_browser_check(a, st.cookie, acme, &b) == TS_OK);
	CHECK(b.expires_at >= now + TS_BROWSER_IDLE_SECS - 5);
	CHECK(row(s, st.cookie, &sec) == TS_OK);
	CHECK(sec.expires_at == b.expires_at);
	/* ... and past it the cookie is dead */
	sec.expires_at = ts_now() - 1;
	CHECK(s->ops->secret_replace(s, &sec) == TS_OK);
	CHECK(ts_browser_check(a, st.cookie, acme, &b) == TS_E_TOKEN_EXPIRED);

	/* the bearer it buys belongs to its session and ends with it */
	r = login_req("alice@example.com", "correct horse battery staple");
	CHECK(ts_browser_password(a, &r, &cl, &st) == TS_OK);
	CHECK(ts_browser_check(a, st.cookie, acme, &b) == TS_OK);
	ts_tokens t;
	ts_principal p;
	CHECK(ts_browser_token(a, &b, &t) == TS_OK);
	CHECK(t.refresh[0] == '\0');
	CHECK(ts_auth_check_token(a, t.access, acme, &p) == TS_OK);
	CHECK_STR(p.session.id, b.session_id);
	CHECK(ts_browser_end(a, st.cookie) == TS_OK);
	CHECK(ts_browser_check(a, st.cookie, acme, &b) == TS_E_SESSION_REVOKED);
	CHECK(ts_auth_check_token(a, t.access, acme, &p) == TS_E_SESSION_REVOKED);
	CHECK(ts_browser_end(a, st.cookie) == TS_OK);
	CHECK(ts_browser_end(a, "nonsense") == TS_OK);
	CHECK(ts_browser_end(a, other) == TS_OK);

	/* all the user's sessions ending (a new password) ends the cookie */
	CHECK(ts_browser_password(a, &r, &cl, &st) == TS_OK);
	int n = 0;
	CHECK(s->ops->user_sessions_revoke(s, st.b.p.user.id, ts_now(), &n) == TS_OK && n >= 1);
	CHECK(ts_browser_check(a, st.cookie, acme, &b) == TS_E_SESSION_REVOKED);

	/* every sign-in has a cookie of its own */
	char first[TS_BROWSER_COOKIE_LEN + 1];
	r = login_req("bob@example.com", "battery staple mango tango");
	CHECK(ts_browser_password(a, &r, &cl, &st) == TS_OK);
	memcpy(first, st.cookie, sizeof(first));
	CHECK(ts_browser_password(a, &r, &cl, &st) == TS_OK);
	CHECK(strcmp(first, st.cookie) != 0);
	CHECK(ts_browser_check(a, first, acme, &b) == TS_OK);
	CHECK_STR(b.p.user.email, "bob@example.com");
}

static void
test_absolute(ts_auth *a, const ts_tenant *acme)
{
	ts_browser_step st;
	ts_login_req r = login_req("alice@example.com", "correct horse battery staple");

	/* the cookie never outlives its session (session_ttl 2 here) */
	CHECK(ts_browser_password(a, &r, NULL, &st) == TS_OK);
	CHECK(st.b.expires_at == st.b.p.session.expires_at);
	sleep(3);
	ts_browser b;
	CHECK(ts_browser_check(a, st.cookie, acme, &b) == TS_E_TOKEN_EXPIRED);
}

int
main(void)
{
	char dir[] = "/tmp/ts-browser-XXXXXX", url[128];
	ts_store *s = NULL;
	ts_auth *a = NULL;
	ts_tenant acme, beta;
	ts_user u;
	ts_auth_config cfg = {
		.issuer = "https://auth.test", .audience = "tessera", .default_tenant = "acme",
		.alg = TS_ALG_ES256, .access_ttl = 900, .refresh_ttl = 3600, .session_ttl = 7200,
		.challenge_ttl = 300, .pw_cost = cheap, .lock_after = 10, .lock_secs = 60,
		.totp_issuer = "Test", .kek = &kek,
	};
	static const unsigned char raw[TS_KEK_LEN] = { 7 };

	ts_log_set_level(TS_LOG_ERROR);
	ts_kek_from_bytes(raw, &kek);
	if (!mkdtemp(dir))
		return 1;
	snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
	CHECK(ts_store_open(url, &s) == TS_OK);
	if (!s)
		return CHECK_DONE();
	CHECK(ts_admin_tenant_add(s, "acme", 0, &acme) == TS_OK);
	CHECK(ts_admin_tenant_add(s, "beta", 0, &beta) == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "alice@example.com", "correct horse battery staple",
	                        28, 1, 0, &u) == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "bob@example.com", "battery staple mango tango",
	                        26, 1, 0, &u) == TS_OK);
	CHECK(ts_auth_new(&cfg, s, &a) == TS_OK);
	if (a)
		test_browser(a, s, &acme, &beta);
	ts_auth_free(a);
	a = NULL;
	cfg.session_ttl = 2;
	CHECK(ts_auth_new(&cfg, s, &a) == TS_OK);
	if (a)
		test_absolute(a, &acme);
	ts_auth_free(a);
	s->ops->close(s);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return CHECK_DONE();
}
