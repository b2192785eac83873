/* The login engine against a real SQLite store in a temporary file: logins,
 * sessions, refresh rotation and reuse, bearer checks, tenants, keys, TOTP,
 * rate limits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/ratelimit.h"
#include "check.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/base32.h"
#include "crypto/jwt_claims.h"
#include "crypto/totp.h"
#include "auth/factor.h"

static const ts_pw_cost cheap = { 1, 8192 * 1024 };
/* The key file's key of every engine here (seal.h). */
static ts_kek kek;

static ts_auth_config
config(void)
{
	return (ts_auth_config){
		.issuer = "https://auth.test", .audience = "tessera", .default_tenant = "acme",
		.alg = TS_ALG_ES256, .access_ttl = 900, .refresh_ttl = 3600, .session_ttl = 7200,
		.challenge_ttl = 300, .pw_cost = cheap, .lock_after = 10, .lock_secs = 60,
		.totp_issuer = "Test", .kek = &kek,
	};
}

static ts_login_req
login_req(const char *email, const char *pw)
{
	return (ts_login_req){ .email = email, .password = pw, .password_len = strlen(pw),
	                       .client_ip = "127.0.0.1" };
}

static void
test_login(ts_auth *a, ts_store *s)
{
	ts_login_ok ok;
	ts_login_req r = login_req("ALICE@example.com", "correct horse");

	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ok.next == TS_NEXT_SESSION);
	CHECK_STR(ok.tenant.slug, "acme");
	CHECK(ok.user.password_hash[0] == '\0');   /* never handed out */

	r = login_req("alice@example.com", "wrong horse");
	CHECK(ts_auth_password(a, &r, &ok) == TS_E_BAD_CREDENTIALS);
	r = login_req("nobody@example.com", "correct horse");
	CHECK(ts_auth_password(a, &r, &ok) == TS_E_BAD_CREDENTIALS);
	r = login_req("alice@example.com", "correct horse");
	r.tenant_slug = "no-such-tenant";
	CHECK(ts_auth_password(a, &r, &ok) == TS_E_BAD_CREDENTIALS);
	r = login_req("bob@example.com", "battery staple");
	CHECK(ts_auth_password(a, &r, &ok) == TS_E_NOT_VERIFIED);
	r = login_req("bob@example.com", "not bobs password");
	CHECK(ts_auth_password(a, &r, &ok) == TS_E_BAD_CREDENTIALS);
	r = login_req("alice@example.com", "");
	CHECK(ts_auth_password(a, &r, &ok) == TS_E_INVALID);

	/* A made-up tenant name longer than any key (found by fuzz_dispatch:
	 * it once overran the account key and crashed the server). */
	static char longslug[16000];
	memset(longslug, 's', sizeof(longslug) - 1);
	int wait;
	r = login_req("alice@example.com", "correct horse");
	r.tenant_slug = longslug;
	CHECK(ts_auth_admit(a, &r, &wait) == TS_OK);
	CHECK(ts_auth_password(a, &r, &ok) == TS_E_BAD_CREDENTIALS);

	/* Host-based resolution picks the other tenant. */
	r = login_req("carol@example.com", "carols password");
	r.host = "beta.test";
	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK_STR(ok.tenant.slug, "beta");
	(void)s;
}

static void
test_tokens(ts_auth *a)
{
	ts_login_ok ok;
	ts_login_req r = login_req("alice@example.com", "correct horse");
	ts_tokens t1, t2, t3;
	ts_principal p;
	ts_user u;
	ts_tenant tn, beta;

	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, &t1) == TS_OK);
	CHECK(strlen(t1.refresh) == 43);
	CHECK(t1.expires_in == 900);
	CHECK(ts_auth_check_token(a, t1.access, NULL, &p) == TS_OK);
	CHECK_STR(p.user.email, "Alice@Example.com");
	CHECK(p.scope == TS_SESSION_FULL);

	/* Another tenant's name on the request: refused. */
	CHECK(ts_auth_resolve_tenant(a, "beta", NULL, 0, &beta) == TS_OK);
	CHECK(ts_auth_check_token(a, t1.access, &beta, &p) == TS_E_TENANT_MISMATCH);
	CHECK(ts_auth_check_token(a, t1.access, &ok.tenant, &p) == TS_OK);

	/* A flipped signature byte, garbage, and alg none. */
	char bad[TS_JWT_MAX];
	strcpy(bad, t1.access);
	size_t n = strlen(bad);
	bad[n - 3] = bad[n - 3] == 'A' ? 'B' : 'A';
	CHECK(ts_auth_check_token(a, bad, NULL, &p) == TS_E_TOKEN_INVALID);
	CHECK(ts_auth_check_token(a, "garbage", NULL, &p) == TS_E_TOKEN_INVALID);
	CHECK(ts_auth_check_token(a, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", NULL, &p) == TS_E_TOKEN_INVALID);

	/* Rotation: the new pair works, the old refresh is spent... */
	CHECK(ts_auth_refresh(a, t1.refresh, &t2, &u, &tn) == TS_OK);
	CHECK(strcmp(t1.refresh, t2.refresh) != 0);
	CHECK(ts_auth_check_token(a, t2.access, NULL, &p) == TS_OK);
	/* ...and coming back it revokes the whole session. */
	CHECK(ts_auth_refresh(a, t1.refresh, &t3, &u, &tn) == TS_E_TOKEN_REUSED);
	CHECK(ts_auth_check_token(a, t2.access, NULL, &p) == TS_E_SESSION_REVOKED);
	CHECK(ts_auth_refresh(a, t2.refresh, &t3, &u, &tn) != TS_OK);
	CHECK(ts_auth_refresh(a, "not-a-token", &t3, &u, &tn) == TS_E_TOKEN_INVALID);

	/* Logout ends the session and its refresh token. */
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, &t1) == TS_OK);
	CHECK(ts_auth_check_token(a, t1.access, NULL, &p) == TS_OK);
	CHECK(ts_auth_logout(a, &p) == TS_OK);
	CHECK(ts_auth_check_token(a, t1.access, NULL, &p) == TS_E_SESSION_REVOKED);
	CHECK(ts_auth_refresh(a, t1.refresh, &t3, &u, &tn) != TS_OK);

	/* Opaque (px0) access tokens are checked the same way. */
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_OPAQUE, &t1) == TS_OK);
	CHECK(strlen(t1.access) == 36 && ts_is_uuid(t1.access) + 1);
	CHECK(ts_auth_check_token(a, t1.access, NULL, &p) == TS_OK);
	CHECK(ts_auth_logout(a, &p) == TS_OK);
	CHECK(ts_auth_check_token(a, t1.access, NULL, &p) == TS_E_SESSION_REVOKED);
}

/* Issue 8 item 7: with a reuse interval, a retried refresh (a lost answer,
 * a second tab) gets the same successor, which keeps working; a
 * grandparent, or a retry after the interval, is reuse and ends the
 * session. */
static void
test_refresh_retry(ts_store *s)
{
	ts_auth_config cfg = config();
	ts_auth *a = NULL;
	ts_login_ok ok;
	ts_login_req r = login_req("alice@example.com", "correct horse");
	ts_tokens t1, t2, again, t3, t4;
	ts_principal p;
	ts_user u;
	ts_tenant tn;

	cfg.refresh_reuse_interval = 2;
	CHECK(ts_auth_new(&cfg, s, &a) == TS_OK);
	if (!a)
		return;
	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, &t1) == TS_OK);
	CHECK(ts_auth_refresh(a, t1.refresh, &t2, &u, &tn) == TS_OK);
	/* The retry: the same successor, a working access token. */
	CHECK(ts_auth_refresh(a, t1.refresh, &again, &u, &tn) == TS_OK);
	CHECK_STR(again.refresh, t2.refresh);
	CHECK(ts_auth_check_token(a, again.access, NULL, &p) == TS_OK);
	CHECK(ts_auth_check_token(a, t2.access, NULL, &p) == TS_OK);
	/* The successor rotates as usual... */
	CHECK(ts_auth_refresh(a, t2.refresh, &t3, &u, &tn) == TS_OK);
	CHECK(strcmp(t3.refresh, t2.refresh) != 0);
	/* ...and then the grandparent, even within the interval, is reuse. */
	CHECK(ts_auth_refresh(a, t1.refresh, &again, &u, &tn) == TS_E_TOKEN_REUSED);
	CHECK(ts_auth_refresh(a, t3.refresh, &t4, &u, &tn) == TS_E_SESSION_REVOKED);
	CHECK(ts_auth_check_token(a, t3.access, NULL, &p) == TS_E_SESSION_REVOKED);

	/* After the interval: reuse, the session ends. */
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, &t1) == TS_OK);
	CHECK(ts_auth_refresh(a, t1.refresh, &t2, &u, &tn) == TS_OK);
	sleep(3);
	CHECK(ts_auth_refresh(a, t1.refresh, &again, &u, &tn) == TS_E_TOKEN_REUSED);
	CHECK(ts_auth_refresh(a, t2.refresh, &t3, &u, &tn) == TS_E_SESSION_REVOKED);
	ts_auth_free(a);
}

typedef struct race {
	ts_auth *a;
	const char *refresh;
	int ok;
	char next[TS_SECRET_TEXT_LEN + 1];
} race;

static void *
race_refresh(void *arg)
{
	race *r = arg;
	ts_tokens t;
	ts_user u;
	ts_tenant tn;

	r->ok = ts_auth_refresh(r->a, r->refresh, &t, &u, &tn) == TS_OK;
	if (r->ok)
		memcpy(r->next, t.refresh, sizeof(r->next));
	return NULL;
}

/* 20 refreshes with one token at once. Strict rotation (interval 0): one
 * wins, the others are reuse. With an interval (issue 8 item 7): all 20
 * win with the same successor, which works; one rotation happened, so its
 * successor is the only live refresh token. Returns the number of wins. */
static int
refresh_race(ts_auth *a, char next[TS_SECRET_TEXT_LEN + 1])
{
	ts_login_ok ok;
	ts_login_req r = login_req("alice@example.com", "correct horse");
	ts_tokens t;
	race rc[20];
	pthread_t th[20];
	int wins = 0;

	next[0] = '\0';
	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, &t) == TS_OK);
	for (int i = 0; i < 20; i++) {
		rc[i] = (race){ a, t.refresh, 0, "" };
		pthread_create(&th[i], NULL, race_refresh, &rc[i]);
	}
	for (int i = 0; i < 20; i++) {
		pthread_join(th[i], NULL);
		wins += rc[i].ok;
		if (rc[i].ok && !next[0])
			memcpy(next, rc[i].next, TS_SECRET_TEXT_LEN + 1);
		if (rc[i].ok)
			CHECK_STR(rc[i].next, next);
	}
	return wins;
}

static void
test_refresh_race(ts_auth *a)
{
	char next[TS_SECRET_TEXT_LEN + 1];

	CHECK(refresh_race(a, next) == 1);   /* a's interval is 0: strict */
}

static void
test_refresh_race_retry(ts_store *s)
{
	ts_auth_config cfg = config();
	ts_auth *a = NULL;
	char next[TS_SECRET_TEXT_LEN + 1];
	ts_tokens t, t2;
	ts_principal p;
	ts_user u;
	ts_tenant tn;

	cfg.refresh_reuse_interval = 10;
	CHECK(ts_auth_new(&cfg, s, &a) == TS_OK);
	if (!a)
		return;
	CHECK(refresh_race(a, next) == 20);
	CHECK(strlen(next) == TS_SECRET_TEXT_LEN);
	CHECK(ts_auth_refresh(a, next, &t, &u, &tn) == TS_OK);
	CHECK(ts_auth_check_token(a, t.access, NULL, &p) == TS_OK);
	/* The successor was rotated once: a second rotation of it is a
	 * retry (same answer), not a second family branch. */
	CHECK(ts_auth_refresh(a, next, &t2, &u, &tn) == TS_OK);
	CHECK_STR(t2.refresh, t.refresh);
	ts_auth_free(a);
}

static int
count_totp(void *arg, const ts_totp *t)
{
	(void)t;
	++*(int *)arg;
	return 0;
}

/* Issue 8 item 5: keys and TOTP secrets held in clear (a database from
 * before sealing) are sealed by the first start with a key file; a start
 * with another key file, or with a changed blob, is refused. */
static void
test_seal_at_rest(const char *dir)
{
	static const unsigned char other_raw[TS_KEK_LEN] = { 43 };
	ts_kek other;
	ts_store *s = NULL;
	ts_auth *a = NULL;
	ts_auth_config cfg = config();
	ts_tenant t;
	ts_user u;
	ts_key *k = NULL;
	char url[160], *pem = NULL, found[TS_KEK_ID_LEN + 1];
	ts_signing_key sk = { .kid = "legacy-kid", .alg = "ES256", .created_at = 1 };
	ts_totp tt = { .secret_b32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", .created_at = 1 };

	ts_kek_from_bytes(other_raw, &other);
	snprintf(url, sizeof(url), "sqlite:%s/seal.db", dir);
	CHECK(ts_store_open(url, &s) == TS_OK);
	if (!s)
		return;
	CHECK(ts_admin_tenant_add(s, "acme", 0, &t) == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "old@example.com", "correct horse", 13, 1, 0, &u) == TS_OK);
	CHECK(ts_key_generate(TS_ALG_ES256, &k) == TS_OK && ts_key_private_pem(k, &pem) == TS_OK);
	sk.private_pem = pem;
	CHECK(s->ops->key_add(s, &sk) == TS_OK);
	ts_strlcpy(tt.user_id, u.id, sizeof(tt.user_id));
	CHECK(s->ops->totp_put(s, &tt) == TS_OK);
	CHECK(ts_admin_sealed_kek_id(s, found) == TS_OK && found[0] == '\0');

	/* The store ops sealing uses are compare-and-set. */
	CHECK(s->ops->key_set_private(s, "legacy-kid", "not the old text", "x") == TS_E_NOT_FOUND);
	CHECK(s->ops->key_set_private(s, "no-such-kid", pem, "x") == TS_E_NOT_FOUND);
	CHECK(s->ops->totp_set_secret(s, u.id, "not the old text", "x") == TS_E_NOT_FOUND);
	int rows = 0;
	CHECK(s->ops->totp_list(s, count_totp, &rows) == TS_OK && rows == 1);

	CHECK(ts_auth_new(&cfg, s, &a) == TS_OK);   /* seals both */
	ts_auth_free(a);
	a = NULL;
	CHECK(s->ops->totp_get(s, u.id, &tt) == TS_OK);
	CHECK(ts_is_sealed(tt.secret_b32) && !strstr(tt.secret_b32, "JBSWY3DP"));
	CHECK(ts_admin_sealed_kek_id(s, found) == TS_OK);
	CHECK_STR(found, kek.id);
	/* Another key file: refused, naming the key id the data is sealed
	 * under; nothing new is made. */
	CHECK(ts_admin_seal_at_rest(s, &other, found) == TS_E_SEAL);
	CHECK_STR(found, kek.id);
	cfg.kek = &other;
	CHECK(ts_auth_new(&cfg, s, &a) == TS_E_SEAL && a == NULL);
	cfg.kek = &kek;
	/* A sealed key moved to another kid (associated data) does not open. */
	char moved[1024] = "";
	CHECK(ts_seal(&kek, "another-kid", pem, strlen(pem), moved, sizeof(moved)) == TS_OK);
	CHECK(ts_admin_seal_at_rest(s, &kek, found) == TS_OK);
	CHECK(ts_admin_keys_rotate(s, &kek, TS_ALG_ES256, 900, 0, NULL) == TS_OK);
	CHECK(s->ops->key_add(s, &(ts_signing_key){ .kid = "moved", .alg = "ES256",
	                                            .private_pem = moved, .created_at = 2 }) == TS_OK);
	CHECK(ts_admin_seal_at_rest(s, &kek, found) == TS_E_SEAL);
	CHECK_STR(found, kek.id);
	CHECK(ts_auth_new(&cfg, s, &a) == TS_E_SEAL && a == NULL);
	ts_wipe(pem, strlen(pem));
	free(pem);
	ts_key_free(k);
	ts_store_close(s);
}

static void
test_keys(ts_auth *a, ts_store *s)
{
	ts_login_ok ok;
	ts_login_req r = login_req("alice@example.com", "correct horse");
	ts_tokens before, after;
	ts_principal p;
	char kid[TS_KID_MAX];

	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, &before) == TS_OK);
	CHECK(ts_admin_keys_rotate(s, &kek, TS_ALG_EDDSA, 900, 0, kid) == TS_OK);
	/* A password login looks for a new key at once. */
	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, &after) == TS_OK);
	CHECK(strncmp(before.access, after.access, strchr(after.access, '.') - after.access) != 0);
	CHECK(strncmp(after.access, "eyJhbGciOiJFZERTQSI", 19) == 0);   /* {"alg":"EdDSA" */
	CHECK(ts_auth_check_token(a, before.access, NULL, &p) == TS_OK);
	CHECK(ts_auth_check_token(a, after.access, NULL, &p) == TS_OK);
}

/* The kid in a compact JWS's header, "" when it has none. */
static void
kid_of(const char *token, char kid[TS_KID_MAX])
{
	ts_jws_parts p;
	char alg[16];

	kid[0] = '\0';
	if (ts_jws_split(token, &p) != TS_OK)
		return;
	if (ts_jwt_header_decode(p.header, alg, sizeof(alg), kid, TS_KID_MAX) != TS_OK)
		kid[0] = '\0';
	ts_jws_parts_free(&p);
}

typedef struct jwks_seen {
	char kids[8][TS_KID_MAX];
	int n;
} jwks_seen;

static int
collect_jwk(void *arg, const ts_jwk *k)
{
	jwks_seen *j = arg;

	if (j->n < 8)
		ts_strlcpy(j->kids[j->n++], k->kid, TS_KID_MAX);
	return 0;
}

/* 1 when kid is in the JWKS the engine serves now. */
static int
published(ts_auth *a, const char *kid)
{
	jwks_seen j = { .n = 0 };

	if (ts_auth_jwks(a, collect_jwk, &j) != TS_OK)
		return -1;
	for (int i = 0; i < j.n; i++)
		if (strcmp(j.kids[i], kid) == 0)
			return 1;
	return 0;
}

/* A session's access token for alice, and the kid that signed it. */
static ts_err
alice_token(ts_auth *a, ts_tokens *t, char kid[TS_KID_MAX])
{
	ts_login_ok ok;
	ts_login_req r = login_req("alice@example.com", "correct horse");
	ts_err e;

	if ((e = ts_auth_password(a, &r, &ok)) != TS_OK)
		return e;
	e = ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, t);
	kid_of(t->access, kid);
	return e;
}

/* Sleeps past the ring's version check interval, so the next call sees the
 * store as it is now. */
static void
past_key_check(void)
{
	usleep(TS_KEYS_CHECK_US + 100 * 1000);
}

static void
test_key_lifecycle(ts_auth *a, ts_store *s)
{
	ts_tokens t1, t2, t3;
	ts_principal p;
	char k1[TS_KID_MAX], k2[TS_KID_MAX], k3[TS_KID_MAX], made[TS_KID_MAX], got[TS_KID_MAX];

	CHECK(alice_token(a, &t1, k1) == TS_OK);
	/* Verified twice: the second time from the verified-token cache. */
	CHECK(ts_auth_check_token(a, t1.access, NULL, &p) == TS_OK);
	CHECK(ts_auth_check_token(a, t1.access, NULL, &p) == TS_OK);

	/* A rotation publishes the new key at once but keeps signing with the
	 * old one until the delay has passed. */
	CHECK(ts_admin_keys_rotate(s, &kek, TS_ALG_ES256, 900, 3600, k2) == TS_OK);
	CHECK(alice_token(a, &t2, got) == TS_OK);
	CHECK_STR(got, k1);
	CHECK(published(a, k1) == 1);
	CHECK(published(a, k2) == 1);

	/* Revoking a key that does not sign leaves the signer alone. */
	CHECK(ts_admin_keys_revoke(s, &kek, k2, TS_ALG_ES256, 900, made) == TS_OK);
	CHECK_STR(made, "");
	past_key_check();
	CHECK(published(a, k2) == 0);
	CHECK(published(a, k1) == 1);

	/* Revoking the signer: a new key signs at once, and the old key's
	 * tokens stop passing, cached or not. */
	CHECK(ts_admin_keys_revoke(s, &kek, k1, TS_ALG_ES256, 900, made) == TS_OK);
	CHECK(made[0] != '\0');
	CHECK(ts_admin_keys_revoke(s, &kek, k1, TS_ALG_ES256, 900, k3) == TS_OK);   /* again: no-op */
	CHECK_STR(k3, "");
	past_key_check();
	CHECK(ts_auth_check_token(a, t1.access, NULL, &p) == TS_E_TOKEN_INVALID);
	CHECK(ts_auth_check_token(a, t2.access, NULL, &p) == TS_E_TOKEN_INVALID);
	CHECK(published(a, k1) == 0);
	CHECK(published(a, made) == 1);
	CHECK(alice_token(a, &t3, got) == TS_OK);
	CHECK_STR(got, made);
	CHECK(ts_auth_check_token(a, t3.access, NULL, &p) == TS_OK);
	CHECK(ts_admin_keys_revoke(s, &kek, "no-such-kid", TS_ALG_ES256, 900, k3) == TS_E_NOT_FOUND);

	/* A short delay: the old signer signs until it has passed, then the
	 * new key does, and every token's kid is published when issued. */
	int64_t start = ts_mono_us(), switched = 0;
	CHECK(ts_admin_keys_rotate(s, &kek, TS_ALG_ES256, 900, 1, k2) == TS_OK);
	while (ts_mono_us() - start < 4 * 1000 * 1000) {
		CHECK(alice_token(a, &t2, got) == TS_OK);
		CHECK(published(a, got) == 1);
		if (strcmp(got, k2) == 0) {
			switched = ts_mono_us() - start;
			break;
		}
		CHECK_STR(got, made);
		usleep(100 * 1000);
	}
	CHECK(switched >= 1000 * 1000);
	CHECK(ts_auth_check_token(a, t3.access, NULL, &p) == TS_OK);   /* retired, still published */
	CHECK(published(a, made) == 1);
}

static void
test_totp(ts_auth *a, ts_store *s)
{
	ts_login_ok ok;
	ts_login_req r = login_req("alice@example.com", "correct horse");
	ts_tokens t;
	ts_principal p;
	char b32[64], code[16], challenge[TS_ID_SZ];
	char *uri = NULL;
	unsigned char secret[64];
	ts_user u;
	int wait = 0;

	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, &t) == TS_OK);
	CHECK(ts_auth_check_token(a, t.access, NULL, &p) == TS_OK);
	CHECK(ts_auth_totp_begin(a, &p, b32, &uri) == TS_OK);
	CHECK(uri && strncmp(uri, "otpauth://totp/", 15) == 0);
	free(uri);
	/* Issue 7 item 10: the store holds the secret sealed, never in clear. */
	ts_totp row;
	CHECK(s->ops->totp_get(s, p.user.id, &row) == TS_OK);
	CHECK(ts_is_sealed(row.secret_b32) && strstr(row.secret_b32, b32) == NULL);
	long n = ts_base32_decode(b32, secret, sizeof(secret));
	CHECK(n == TS_TOTP_SECRET_LEN);
	CHECK(ts_totp_code(secret, (size_t)n, ts_now(), 6, code) == TS_OK);
	CHECK(ts_auth_totp_confirm(a, &p, "000000", &wait) == TS_E_MFA_INVALID || strcmp(code, "000000") == 0);
	CHECK(ts_auth_totp_confirm(a, &p, code, &wait) == TS_OK);

	/* Now a password alone only opens a challenge. */
	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ok.next == TS_NEXT_MFA);
	CHECK(ts_auth_challenge_open(a, &ok.user, challenge) == TS_OK);
	/* The code just used for enrolment is spent (RFC 6238 §5.2). */
	CHECK(ts_auth_challenge_totp(a, challenge, code, &u, &wait) == TS_E_MFA_INVALID);
	CHECK(ts_totp_code(secret, (size_t)n, ts_now() + 30, 6, code) == TS_OK);
	CHECK(ts_auth_challenge_totp(a, challenge, code, &u, &wait) == TS_OK);
	CHECK_STR(u.email, "Alice@Example.com");
	CHECK(ts_auth_challenge_totp(a, challenge, code, &u, &wait) == TS_E_CHALLENGE_INVALID);
	CHECK(ts_auth_challenge_totp(a, "00000000-0000-4000-8000-000000000000", code, &u, &wait) ==
	      TS_E_CHALLENGE_INVALID);
}

/* Issue 10: the factor engine. Recovery codes through the table (single
 * use, a new set voids the old, the amr the engine chooses), the policy's
 * mask, listing, removal with reauth and the last-factor rule. */
static int
count_info(void *arg, const ts_factor_info *f)
{
	int *n = arg;

	if (strcmp(f->method, "recovery_code") == 0)
		n[1] = f->remaining;
	n[0]++;
	return 0;
}

/* The i-th quoted string of a JSON array text after key. */
static void
nth_string(const char *json, const char *key, int i, char *out, size_t cap)
{
	out[0] = '\0';
	const char *q = strstr(json, key);
	if (!q || !(q = strchr(q + strlen(key), '[')))
		return;
	for (int k = 0; k <= i; k++) {
		const char *b = strchr(q, '"'), *e = b ? strchr(b + 1, '"') : NULL;
		if (!e)
			return;
		if (k == i) {
			snprintf(out, cap, "%.*s", (int)(e - b - 1), b + 1);
			return;
		}
		q = e + 1;
	}
}

static void
test_factors(ts_auth *a, ts_store *s)
{
	ts_login_ok ok;
	ts_login_req r = login_req("alice@example.com", "correct horse");
	ts_tokens t, t2;
	ts_principal p, old;
	ts_factor_blob b;
	ts_factor_answer ans = { 0 };
	char challenge[TS_ID_SZ], code[32], typed[32], first[32];
	const char *names[TS_FACTOR_METHODS_MAX];
	ts_user u;
	ts_tenant tn;
	unsigned mask;
	int n = 0, wait = 0, cnt[2] = { 0, -1 };

	CHECK(ts_factor_mask_parse("totp,email", &mask) == TS_OK && mask == ((1u << 1) | (1u << 2)));
	CHECK(ts_factor_mask_parse("default", &mask) == TS_OK && mask == 0);
	CHECK(ts_factor_mask_parse("sms", &mask) == TS_E_INVALID);
	CHECK(ts_factor_mask_parse(",", &mask) == TS_E_INVALID);
	CHECK(ts_admin_tenant_mfa(s, "strict", 1, "email") == TS_E_INVALID);
	CHECK(ts_admin_tenant_mfa(s, "nope", 0, NULL) == TS_E_TENANT_UNKNOWN);
	CHECK(ts_factor_by_name("totp") == &ts_factor_totp && ts_factor_by_kind(TS_FACTOR_RECOVERY) ==
	      &ts_factor_recovery && !ts_factor_by_name("sms"));

	/* alice has TOTP (test_totp); acme allows the default set */
	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ok.next == TS_NEXT_MFA && ok.n_methods == 1);
	CHECK_STR(ok.methods[0], "totp");
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd otp", TS_ACCESS_JWT, &t) == TS_OK);
	CHECK(ts_auth_check_token(a, t.access, NULL, &p) == TS_OK);
	CHECK(ts_auth_factor_enrol_begin(a, &p, "recovery_code", NULL, &b) == TS_OK);
	CHECK(b.json && strncmp(b.json, "{\"codes\":[", 10) == 0);
	nth_string(b.json, "codes", 0, code, sizeof(code));
	nth_string(b.json, "codes", 9, first, sizeof(first));
	CHECK(strlen(code) == 14 && code[4] == '-' && code[9] == '-' && strlen(first) == 14);
	ts_factor_blob_free(&b);
	ts_auth_factor_methods(a, &ok.user, &ok.tenant, names, &n);
	CHECK(n == 2 && strcmp(names[0], "totp") == 0 && strcmp(names[1], "recovery_code") == 0);

	CHECK(ts_auth_challenge_open(a, &ok.user, challenge) == TS_OK);
	ans.code = "zzzz-zzzz-zzzz";
	CHECK(ts_auth_factor_answer(a, challenge, "recovery_code", &ans, &t2, &u, &tn, &wait) ==
	      TS_E_MFA_INVALID);
	ans.code = "123456";
	CHECK(ts_auth_factor_answer(a, challenge, "email", &ans, &t2, &u, &tn, &wait) ==
	      TS_E_MFA_NOT_ENROLLED);            /* not allowed by acme, no mail */
	CHECK(ts_auth_factor_answer(a, challenge, "sms", &ans, &t2, &u, &tn, &wait) == TS_E_INVALID);
	/* typed in capitals without the dashes: the same code */
	snprintf(typed, sizeof(typed), "%.4s%.4s%.4s", code, code + 5, code + 10);
	for (char *c = typed; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	ans.code = typed;
	CHECK(ts_auth_factor_answer(a, challenge, "recovery_code", &ans, &t2, &u, &tn, &wait) == TS_OK);
	CHECK(ts_auth_check_token(a, t2.access, NULL, &old) == TS_OK);
	CHECK_STR(old.session.amr, "pwd otp");
	CHECK_STR(tn.slug, "acme");
	/* single use */
	CHECK(ts_auth_challenge_open(a, &ok.user, challenge) == TS_OK);
	ans.code = code;
	CHECK(ts_auth_factor_answer(a, challenge, "recovery_code", &ans, &t2, &u, &tn, &wait) ==
	      TS_E_MFA_INVALID);
	CHECK(ts_auth_factor_list(a, &p, count_info, cnt) == TS_OK);
	CHECK(cnt[0] == 2 && cnt[1] == 9);
	/* a new set voids the old */
	CHECK(ts_auth_factor_enrol_begin(a, &p, "recovery_code", NULL, &b) == TS_OK);
	ts_factor_blob_free(&b);
	ans.code = first;
	CHECK(ts_auth_factor_answer(a, challenge, "recovery_code", &ans, &t2, &u, &tn, &wait) ==
	      TS_E_MFA_INVALID);
	cnt[0] = 0;
	CHECK(ts_auth_factor_list(a, &p, count_info, cnt) == TS_OK);
	CHECK(cnt[0] == 2 && cnt[1] == 10);

	/* removal: a sign-in older than 5 minutes is refused */
	old = p;
	old.session.created_at -= TS_FACTOR_REAUTH_SECS + 1;
	CHECK(ts_auth_factor_remove(a, &old, "00000000-0000-4000-8000-000000000000") ==
	      TS_E_REAUTH_REQUIRED);
	CHECK(ts_auth_factor_remove(a, &p, "00000000-0000-4000-8000-000000000000") == TS_E_NOT_FOUND);
	CHECK(ts_auth_factor_remove(a, &p, "not-an-id") == TS_E_NOT_FOUND);
	old = p;
	old.scope = TS_SESSION_ENROLL;
	CHECK(ts_auth_factor_remove(a, &old, "00000000-0000-4000-8000-000000000000") == TS_E_FORBIDDEN);
	CHECK(ts_auth_factor_list(a, &old, count_info, cnt) == TS_E_FORBIDDEN);
}

/* The last primary factor of a user whose tenant requires MFA stays. */
static int
first_id(void *arg, const ts_factor_info *f)
{
	snprintf(arg, TS_ID_SZ, "%s", f->id);
	return 1;
}

static void
test_last_factor(ts_auth *a, ts_store *s)
{
	ts_login_ok ok;
	ts_login_req r = login_req("hank@example.com", "hanks password");
	ts_tokens t;
	ts_principal p;
	ts_factor_blob b;
	ts_factor_answer ans = { 0 };
	ts_factor_info info;
	char secret_b32[64] = "", code[16], id[TS_ID_SZ] = "";
	unsigned char secret[64];
	int wait = 0;

	r.tenant_slug = "strict";
	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ok.next == TS_NEXT_ENROLL);
	/* a full session, as a proven enrolment would end in */
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd mca", TS_ACCESS_JWT, &t) == TS_OK);
	CHECK(ts_auth_check_token(a, t.access, NULL, &p) == TS_OK);
	CHECK(ts_auth_factor_enrol_begin(a, &p, "totp", NULL, &b) == TS_OK);
	const char *sp = b.json ? strstr(b.json, "\"secret\":\"") : NULL;
	if (sp)
		snprintf(secret_b32, sizeof(secret_b32), "%.*s", (int)strcspn(sp + 10, "\""), sp + 10);
	ts_factor_blob_free(&b);
	long n = ts_base32_decode(secret_b32, secret, sizeof(secret));
	CHECK(n == TS_TOTP_SECRET_LEN);
	CHECK(ts_totp_code(secret, (size_t)n, ts_now(), 6, code) == TS_OK);
	ans.code = code;
	CHECK(ts_auth_factor_enrol_finish(a, &p, "totp", &ans, &info, &wait) == TS_OK);
	CHECK(ts_auth_factor_enrol_finish(a, &p, "totp", &ans, &info, &wait) == TS_E_CONFLICT);
	CHECK(ts_auth_factor_list(a, &p, first_id, id) == TS_OK && ts_is_uuid(id));
	CHECK(ts_auth_factor_remove(a, &p, id) == TS_E_LAST_FACTOR);
	CHECK(ts_auth_user_has_totp(a, &p.user));
	/* an operator may */
	CHECK(ts_auth_factor_admin_remove(a, &p.user, id, "test") == TS_OK);
	CHECK(!ts_auth_user_has_totp(a, &p.user));
	CHECK(ts_auth_factor_admin_remove(a, &p.user, id, "test") == TS_E_NOT_FOUND);
	(void)s;
}

/* Issue 7 items 1, 2 and 5: an enrolment session enrols nothing until a
 * proof beyond the password; its JWT's audience is not a login's; wrong
 * second factors lock, and a correct password does not reset them. */
static void
test_enroll_rule(ts_auth *a, ts_store *s)
{
	ts_login_ok ok;
	ts_login_req r = login_req("gina@example.com", "ginas password");
	ts_tokens t, full;
	ts_principal p, p2;
	char b32[64], link[TS_SECRET_TEXT_LEN + 1], other[TS_SECRET_TEXT_LEN + 1], challenge[TS_ID_SZ];
	char *uri = NULL;
	int64_t exp;
	int wait = 0;

	r.tenant_slug = "strict";
	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ok.next == TS_NEXT_ENROLL);
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_ENROLL, "pwd", TS_ACCESS_JWT, &t) == TS_OK);
	CHECK(ts_auth_check_token(a, t.access, NULL, &p) == TS_OK);
	CHECK(p.scope == TS_SESSION_ENROLL);
	CHECK(ts_auth_enroll_proven(&p.session) == 0);
	CHECK(ts_auth_totp_begin(a, &p, b32, &uri) == TS_E_ENROLL_PROOF_REQUIRED);
	CHECK(uri == NULL);
	CHECK(ts_auth_totp_confirm(a, &p, "123456", &wait) == TS_E_ENROLL_PROOF_REQUIRED);
	CHECK(ts_auth_enroll_finish(a, &p, &full) == TS_E_ENROLL_PROOF_REQUIRED);
	/* No mailer in this engine: the mailed proof says so. */
	CHECK(ts_auth_enroll_mail_code(a, &p, &exp, &wait) == TS_E_MAIL_UNCONFIGURED);
	CHECK(ts_auth_enroll_verify_code(a, &p, "123456", &wait) == TS_E_CHALLENGE_INVALID);

	/* Another user's link is refused and stays good for its owner. */
	CHECK(ts_admin_enroll_link(s, "strict", "hank@example.com", 600, other, &exp) == TS_OK);
	CHECK(ts_auth_enroll_link_redeem(a, &p, other) == TS_E_TOKEN_INVALID);
	CHECK(ts_admin_enroll_link(s, "strict", "nobody@example.com", 600, link, &exp) == TS_E_NOT_FOUND);
	CHECK(ts_admin_enroll_link(s, "strict", "gina@example.com", 600, link, &exp) == TS_OK);
	CHECK(strlen(link) == TS_SECRET_TEXT_LEN);
	CHECK(ts_auth_enroll_link_redeem(a, &p, link) == TS_OK);
	CHECK(ts_auth_enroll_link_redeem(a, &p, link) == TS_E_TOKEN_INVALID);   /* single use */
	CHECK(ts_auth_check_token(a, t.access, NULL, &p) == TS_OK);              /* re-read */
	CHECK(ts_auth_enroll_proven(&p.session) == 1);
	CHECK_STR(p.session.amr, "pwd link");
	CHECK(ts_auth_totp_begin(a, &p, b32, &uri) == TS_OK);
	free(uri);

	/* A full token is not accepted where its session is an enrolment one,
	 * and the other way round: the audience names the kind. */
	CHECK(ts_auth_start_session(a, &ok.user, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, &full) == TS_OK);
	CHECK(ts_auth_check_token(a, full.access, NULL, &p2) == TS_OK);
	CHECK(p2.scope == TS_SESSION_FULL);
	CHECK(ts_auth_enroll_link_redeem(a, &p2, other) == TS_E_FORBIDDEN);

	/* Wrong second factors count per account and lock at 3 here; a
	 * correct password does not reset them. */
	for (int i = 0; i < 3; i++) {
		CHECK(ts_auth_challenge_open(a, &ok.user, challenge) == TS_OK);
		CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
		CHECK(ts_auth_totp_confirm(a, &p, "000000", &wait) == TS_E_MFA_INVALID ||
		      i == 2);   /* (the third may be the lock itself) */
	}
	CHECK(ts_auth_totp_confirm(a, &p, "000000", &wait) == TS_E_LOCKED);
	CHECK(wait > 0 && wait <= 60);
	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	CHECK(ts_auth_totp_confirm(a, &p, "000000", &wait) == TS_E_LOCKED);
	CHECK(ts_admin_unlock(s, "strict", "gina@example.com") == TS_OK);
	CHECK(ts_auth_totp_confirm(a, &p, "000000", &wait) == TS_E_MFA_INVALID);
}

typedef struct fail_arg {
	ts_auth *a;
	const char *email;
} fail_arg;

static void *
fail_once(void *arg)
{
	fail_arg *f = arg;
	ts_login_req r = login_req(f->email, "wrong password");
	ts_login_ok ok;
	int wait;

	if (ts_auth_admit(f->a, &r, &wait) == TS_OK)
		(void)ts_auth_password(f->a, &r, &ok);
	return NULL;
}

typedef struct lock_count {
	const char *email;
	int failures;
	int64_t until;
} lock_count;

static int
find_lock(void *arg, const ts_lock *l)
{
	lock_count *c = arg;

	if (strcmp(l->email, c->email) != 0)
		return 0;
	c->failures = l->failures;
	c->until = l->locked_until;
	return 1;
}

/* Lockout: known and unknown accounts alike, parallel failures all count. */
static void
test_lockout(ts_store *s)
{
	ts_auth_config cfg = config();
	ts_auth *a = NULL;
	ts_login_req r;
	ts_login_ok ok;
	int wait;
	pthread_t th[50];
	fail_arg fa[50];

	cfg.lock_after = 5;
	cfg.rl_account_rate = 1000;    /* let the lock, not the bucket, decide */
	cfg.rl_account_burst = 1000;
	CHECK(ts_auth_new(&cfg, s, &a) == TS_OK);
	if (!a)
		return;
	const char *who[2] = { "dave@example.com", "ghost@example.com" };
	for (int w = 0; w < 2; w++) {
		for (int i = 0; i < 5; i++) {
			r = login_req(who[w], "wrong password");
			CHECK(ts_auth_admit(a, &r, &wait) == TS_OK);
			CHECK(ts_auth_password(a, &r, &ok) == TS_E_BAD_CREDENTIALS);
		}
		/* Locked: refused before any hashing, with a wait to report. */
		r = login_req(who[w], "dave's password");
		CHECK(ts_auth_admit(a, &r, &wait) == TS_E_LOCKED);
		CHECK(wait > 0 && wait <= 60);
	}
	/* Fifty at once count as fifty (no lost updates). */
	for (int i = 0; i < 50; i++) {
		fa[i] = (fail_arg){ a, "erin@example.com" };
		pthread_create(&th[i], NULL, fail_once, &fa[i]);
	}
	for (int i = 0; i < 50; i++)
		pthread_join(th[i], NULL);
	lock_count c = { "erin@example.com", 0, 0 };
	CHECK(s->ops->lock_list(s, find_lock, &c) == TS_OK);
	CHECK(c.failures == 50);
	CHECK(c.until > ts_now());
	/* A correct password clears the count (before the lock is reached). */
	r = login_req("frank@example.com", "wrong password");
	CHECK(ts_auth_password(a, &r, &ok) == TS_E_BAD_CREDENTIALS);
	r = login_req("frank@example.com", "franks password");
	CHECK(ts_auth_password(a, &r, &ok) == TS_OK);
	c = (lock_count){ "frank@example.com", 0, 0 };
	CHECK(s->ops->lock_list(s, find_lock, &c) == TS_OK);
	CHECK(c.failures == 0);
	ts_auth_free(a);
}

/* Two engines on one SQLite file are two nodes: the per-account bucket is
 * the store's, so attempts spread over both are limited exactly as on one
 * (issue 8 item 3), a correct password's refund included. */
typedef struct node_arg {
	ts_auth *a;
	int admitted;
} node_arg;

static void *
admit_once(void *arg)
{
	node_arg *n = arg;
	ts_login_req r = login_req("ivy-parallel@example.com", "wrong password");
	int wait;

	n->admitted = ts_auth_admit(n->a, &r, &wait) == TS_OK;
	return NULL;
}

static void
test_two_nodes(ts_store *s, const char *url)
{
	ts_auth_config cfg = config();
	ts_store *s2 = NULL;
	ts_auth *a[2] = { NULL, NULL };
	ts_login_req r;
	ts_login_ok ok;
	int wait = 0;

	cfg.lock_after = 100;           /* the bucket decides, not the lock */
	cfg.rl_account_rate = 0.1;      /* 6 a minute */
	cfg.rl_account_burst = 3;
	CHECK(ts_store_open(url, &s2) == TS_OK);
	CHECK(ts_auth_new(&cfg, s, &a[0]) == TS_OK);
	CHECK(s2 && ts_auth_new(&cfg, s2, &a[1]) == TS_OK);
	if (!a[0] || !a[1])
		goto out;
	/* node 0 wrong, node 1 right (refunded), then two wrong: three spent */
	r = login_req("ivy@example.com", "wrong password");
	CHECK(ts_auth_admit(a[0], &r, &wait) == TS_OK && wait == 0);
	CHECK(ts_auth_password(a[0], &r, &ok) == TS_E_BAD_CREDENTIALS);
	r = login_req("ivy@example.com", "ivys password");
	CHECK(ts_auth_admit(a[1], &r, &wait) == TS_OK);
	CHECK(ts_auth_password(a[1], &r, &ok) == TS_OK);
	r = login_req("IVY@example.com", "wrong password");
	CHECK(ts_auth_admit(a[1], &r, &wait) == TS_OK);
	CHECK(ts_auth_password(a[1], &r, &ok) == TS_E_BAD_CREDENTIALS);
	r = login_req("ivy@example.com", "wrong password");
	CHECK(ts_auth_admit(a[0], &r, &wait) == TS_OK);
	CHECK(ts_auth_password(a[0], &r, &ok) == TS_E_BAD_CREDENTIALS);
	/* the fourth, on either node, waits about ten seconds */
	for (int n = 0; n < 2; n++) {
		r = login_req("ivy@example.com", "ivys password");
		CHECK(ts_auth_admit(a[n], &r, &wait) == TS_E_RATE_LIMITED);
		CHECK(wait >= 1 && wait <= 10);
	}
	/* another account is untouched */
	r = login_req("other@example.com", "wrong password");
	CHECK(ts_auth_admit(a[1], &r, &wait) == TS_OK);

	/* 20 at once over both nodes: exactly the burst gets through */
	pthread_t th[20];
	node_arg na[20];
	int admitted = 0;
	for (int i = 0; i < 20; i++) {
		na[i] = (node_arg){ a[i % 2], 0 };
		pthread_create(&th[i], NULL, admit_once, &na[i]);
	}
	for (int i = 0; i < 20; i++) {
		pthread_join(th[i], NULL);
		admitted += na[i].admitted;
	}
	CHECK(admitted == 3);
out:
	ts_auth_free(a[0]);
	ts_auth_free(a[1]);
	ts_store_close(s2);
}

/* The sweep deletes exactly what auth.h promises, in bounded statements,
 * and only on the node holding the lease. A store of its own, so nothing
 * the other tests left behind is counted. */
static void
put_secret(ts_store *s, unsigned n, const char *session, int64_t expires, int64_t used)
{
	ts_secret x = { .kind = TS_SECRET_REFRESH, .created_at = 1, .expires_at = expires,
	                .used_at = used };

	snprintf(x.hash, sizeof(x.hash), "%064u", n);
	snprintf(x.session_id, sizeof(x.session_id), "%s", session);
	CHECK(s->ops->secret_put(s, &x) == TS_OK);
}

static int
secret_there(ts_store *s, unsigned n)
{
	char h[TS_HASH_SZ];
	ts_secret x;

	snprintf(h, sizeof(h), "%064u", n);
	return s->ops->secret_get(s, TS_SECRET_REFRESH, h, &x) == TS_OK;
}

static void
put_session(ts_store *s, const char *id, int64_t expires, int64_t revoked)
{
	ts_session x = { .kind = TS_SESSION_FULL, .created_at = 1, .expires_at = expires,
	                 .revoked_at = revoked };

	snprintf(x.id, sizeof(x.id), "%s", id);
	snprintf(x.tenant_id, sizeof(x.tenant_id), "t");
	snprintf(x.user_id, sizeof(x.user_id), "u");
	CHECK(s->ops->session_create(s, &x) == TS_OK);
}

static int
session_there(ts_store *s, const char *id)
{
	ts_session x = { .kind = TS_SESSION_FULL, .created_at = 1, .expires_at = 1 };

	snprintf(x.id, sizeof(x.id), "%s", id);
	snprintf(x.tenant_id, sizeof(x.tenant_id), "t");
	snprintf(x.user_id, sizeof(x.user_id), "u");
	return s->ops->session_create(s, &x) == TS_E_CONFLICT;
}

static void
test_sweep(const char *dir)
{
	char url[160];
	ts_store *s = NULL;
	ts_auth *a = NULL;
	ts_auth_config cfg = config();
	ts_sweep_config sc = { .interval = 60, .grace = 100, .retention = 1000, .batch = 2,
	                       .batches = 2 };
	ts_sweep_counts n;
	ts_lock l;
	int64_t now = ts_now();
	int wait;

	snprintf(url, sizeof(url), "sqlite:%s/sweep.db", dir);
	CHECK(ts_store_open(url, &s) == TS_OK);
	cfg.rl_account_rate = 1;
	cfg.rl_account_burst = 5;
	CHECK(s && ts_auth_new(&cfg, s, &a) == TS_OK);
	if (!a)
		goto out;
	put_session(s, "live", now + 5000, 0);
	put_session(s, "revoked-old", now + 5000, now - 2000);
	put_session(s, "revoked-new", now + 5000, now - 10);
	put_session(s, "expired-old", now - 2000, 0);
	/* 1..5: expired past the grace, spent or not: go */
	for (unsigned i = 1; i <= 5; i++)
		put_secret(s, i, i % 2 ? "live" : "", now - 101, i % 2 ? now - 500 : 0);
	put_secret(s, 6, "live", now - 50, now - 60);        /* within the grace: stays */
	put_secret(s, 7, "live", now + 3000, now - 60);      /* spent, live family: stays */
	put_secret(s, 8, "live", now + 3000, 0);             /* the live token: stays */
	put_secret(s, 9, "revoked-old", now + 3000, now - 2000);  /* ended session: goes */
	put_secret(s, 10, "revoked-old", now + 3000, now - 2000);
	put_secret(s, 11, "expired-old", now + 3000, 0);
	put_secret(s, 12, "revoked-new", now + 3000, now - 10);   /* within retention: stays */
	/* locks: idle and open goes; locked, or touched lately, stays */
	CHECK(s->ops->lock_fail(s, "old", "", "", now - 2000, 10, 60, &l) == TS_OK);
	CHECK(s->ops->lock_fail(s, "locked", "", "", now - 2000, 1, 1000000, &l) == TS_OK);
	CHECK(s->ops->lock_fail(s, "recent", "", "", now - 10, 10, 60, &l) == TS_OK);
	/* buckets: full again after burst / rate = 5 s */
	CHECK(s->ops->bucket_take(s, "old-bucket", (now - 60) * 1000, 1, 5, &wait) == TS_OK);
	CHECK(s->ops->bucket_take(s, "new-bucket", now * 1000, 1, 5, &wait) == TS_OK);

	/* another node holds the lease: nothing is deleted */
	CHECK(s->ops->sweep_lease(s, "node-b", now - 10, 180, &wait) == TS_OK && wait == 1);
	CHECK(ts_auth_sweep(a, &sc, "node-a", now, &n) == TS_OK);
	CHECK(n.held == 0 && n.secrets_expired == 0 && n.sessions == 0);
	CHECK(secret_there(s, 1));
	/* the holder renews (here: to a lease already run out) */
	CHECK(s->ops->sweep_lease(s, "node-b", now - 200, 180, &wait) == TS_OK && wait == 1);
	/* now this node takes it: at most two statements of two rows per class */
	CHECK(ts_auth_sweep(a, &sc, "node-a", now, &n) == TS_OK);
	CHECK(n.held == 1);
	CHECK(n.secrets_expired == 4);
	CHECK(n.secrets_ended == 3);
	CHECK(n.sessions == 2);
	CHECK(n.locks == 1);
	CHECK(n.buckets == 1);
	CHECK(s->ops->sweep_lease(s, "node-b", now, 180, &wait) == TS_OK && wait == 0);
	CHECK(ts_auth_sweep(a, &sc, "node-a", now, &n) == TS_OK);
	CHECK(n.held == 1 && n.secrets_expired == 1 && n.secrets_ended == 0 && n.sessions == 0 &&
	      n.locks == 0 && n.buckets == 0);
	for (unsigned i = 1; i <= 12; i++)
		CHECK(secret_there(s, i) == (i == 6 || i == 7 || i == 8 || i == 12));
	/* The store has no plain session read (session_principal needs a user
	 * and tenant): a session is there when creating its id again clashes.
	 * Each id is asked once, as the probe creates a missing one. */
	CHECK(!session_there(s, "revoked-old"));
	CHECK(!session_there(s, "expired-old"));
	CHECK(session_there(s, "revoked-new"));
	CHECK(session_there(s, "live"));
	CHECK(s->ops->lock_get(s, "old", &l) == TS_E_NOT_FOUND);
	CHECK(s->ops->lock_get(s, "locked", &l) == TS_OK);
	CHECK(s->ops->lock_get(s, "recent", &l) == TS_OK);
out:
	ts_auth_free(a);
	ts_store_close(s);
}

static void
test_limiter(void)
{
	ts_limiter *l;
	int64_t t = 1000000;

	CHECK(ts_limiter_new(1024, 1.0, 3, &l) == TS_OK);
	CHECK(ts_limiter_take(l, "k", 1, t) == 0);
	CHECK(ts_limiter_take(l, "k", 1, t) == 0);
	CHECK(ts_limiter_take(l, "k", 1, t) == 0);
	CHECK(ts_limiter_take(l, "k", 1, t) == 1);    /* burst of 3 spent */
	CHECK(ts_limiter_take(l, "other", 5, t) == 0);
	CHECK(ts_limiter_take(l, "k", 1, t + 1000000) == 0);   /* one second refills one */
	ts_limiter_free(l);
	CHECK(ts_limiter_new(1024, 0, 1, &l) == TS_OK);       /* rate 0: off */
	for (int i = 0; i < 100; i++)
		CHECK(ts_limiter_take(l, "k", 1, t) == 0);
	ts_limiter_free(l);
}

int
main(void)
{
	char dir[] = "/tmp/ts-auth-XXXXXX", url[128];
	ts_store *s = NULL;
	ts_auth *a = NULL;
	ts_tenant acme, beta;
	ts_user u;
	ts_auth_config cfg = config();

	ts_log_set_level(TS_LOG_ERROR);   /* audit lines would drown the results */
	static const unsigned char raw[TS_KEK_LEN] = { 42 };
	ts_kek_from_bytes(raw, &kek);
	if (!mkdtemp(dir))
		return 1;
	snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
	CHECK(ts_store_open(url, &s) == TS_OK);
	if (!s)
		return CHECK_DONE();
	CHECK(ts_admin_tenant_add(s, "acme", 0, &acme) == TS_OK);
	CHECK(ts_admin_tenant_add(s, "beta", 0, &beta) == TS_OK);
	ts_tenant scratch;
	CHECK(ts_admin_tenant_add(s, "Bad Slug", 0, &scratch) == TS_E_INVALID);
	CHECK(ts_admin_tenant_domain(s, &beta, "Beta.Test") == TS_OK);
	{
		/* domains as a Host header is matched: lower case, one final dot off */
		char h[TS_HOST_MAX + 1];
		const char *hosts[] = { "gamma.test", "Gamma.Test." };
		ts_tenant g;
		int bad = 0;

		CHECK(ts_admin_host_normal("Login.Beta.TEST.", h) == TS_OK);
		CHECK_STR(h, "login.beta.test");
		CHECK(ts_admin_host_normal("a.test..", h) == TS_E_INVALID);
		CHECK(ts_admin_host_normal("a.test:443", h) == TS_E_INVALID);
		CHECK(ts_admin_host_normal("a.test/x", h) == TS_E_INVALID);
		CHECK(ts_admin_host_normal("u@a.test", h) == TS_E_INVALID);
		CHECK(ts_admin_host_normal(".a.test", h) == TS_E_INVALID);
		CHECK(ts_admin_host_normal(".", h) == TS_E_INVALID);
		CHECK(ts_admin_tenant_domain(s, &beta, "beta.test.") == TS_E_CONFLICT);
		CHECK(ts_admin_tenant_create(s, "gamma", 0, hosts, 1, &g, &bad) == TS_OK);
		CHECK(ts_admin_tenant_create(s, "delta", 0, hosts + 1, 1, &g, &bad) == TS_E_CONFLICT);
		CHECK(ts_admin_tenant_create(s, "delta", 0, (const char *[]){ "ok.test", "x:1" }, 2,
		                             &g, &bad) == TS_E_INVALID && bad == 1);
		CHECK(ts_admin_tenant_create(s, "Delta", 0, NULL, 0, &g, &bad) == TS_E_INVALID && bad == -1);
		CHECK(ts_admin_tenant_domain_remove(s, "gamma", "GAMMA.test.") == TS_OK);
		CHECK(ts_admin_tenant_domain_remove(s, "gamma", "gamma.test") == TS_E_NOT_FOUND);
		CHECK(ts_admin_tenant_domain_remove(s, "nope", "gamma.test") == TS_E_TENANT_UNKNOWN);
	}
	CHECK(ts_admin_user_add(s, &cheap, "acme", "Alice@Example.com", "correct horse", 13, 1, 0, &u) == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "alice@EXAMPLE.com", "correct horse", 13, 1, 0, &u) == TS_E_CONFLICT);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "bob@example.com", "battery staple", 14, 0, 0, &u) == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "short@example.com", "short", 5, 1, 0, &u) == TS_E_PASSWORD_POLICY);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "not-an-email", "long enough", 11, 1, 0, &u) == TS_E_INVALID);
	CHECK(ts_admin_user_add(s, &cheap, "beta", "carol@example.com", "carols password", 15, 1, 0, &u) == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "dave@example.com", "daves password", 14, 1, 0, &u) == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "erin@example.com", "erins password", 14, 1, 0, &u) == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "frank@example.com", "franks password", 15, 1, 0, &u) == TS_OK);
	ts_tenant strict;
	CHECK(ts_admin_tenant_add(s, "strict", 1, &strict) == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "strict", "gina@example.com", "ginas password", 14, 1, 0, &u) == TS_OK);
	CHECK(ts_admin_user_add(s, &cheap, "strict", "hank@example.com", "hanks password", 14, 1, 0, &u) == TS_OK);
	cfg.mfa_lock_after = 3;
	cfg.mfa_lock_secs = 60;
	CHECK(ts_auth_new(&cfg, s, &a) == TS_OK);
	if (a) {
		test_login(a, s);
		test_tokens(a);
		test_refresh_race(a);
		test_refresh_race_retry(s);
		test_refresh_retry(s);
		test_keys(a, s);
		test_key_lifecycle(a, s);
		test_totp(a, s);
		test_enroll_rule(a, s);
		test_factors(a, s);
		test_last_factor(a, s);
	}
	test_seal_at_rest(dir);
	test_lockout(s);
	CHECK(ts_admin_user_add(s, &cheap, "acme", "ivy@example.com", "ivys password", 13, 1, 0, &u) == TS_OK);
	test_two_nodes(s, url);
	test_sweep(dir);
	test_limiter();
	ts_auth_free(a);
	ts_store_close(s);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return CHECK_DONE();
}
