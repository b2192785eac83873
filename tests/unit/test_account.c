/* The account engine (auth/account.c) and the outbox sender against a real
 * SQLite store: invitations, the sealed outbox row, redemption by token and
 * by code, a sender that cannot reach its mail server keeping the mail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/account.h"
#include "auth/auth.h"
#include "check.h"
#include "core/log.h"
#include "core/util.h"

static const ts_pw_cost cheap = { 1, 8192 * 1024 };
static ts_kek kek;

static ts_auth_config
config(const char *smtp)
{
	return (ts_auth_config){
		.issuer = "https://auth.test", .audience = "tessera", .default_tenant = "acme",
		.alg = TS_ALG_ES256, .access_ttl = 900, .refresh_ttl = 3600, .session_ttl = 7200,
		.challenge_ttl = 300, .pw_cost = cheap, .lock_after = 10, .lock_secs = 60,
		.totp_issuer = "Test", .kek = &kek, .smtp_url = smtp, .smtp_from = "t@localhost",
		.smtp_timeout = 1, .public_url = "https://id.test/",
	};
}

/* The token and code sealed in a claimed mail. */
static int
open_mail(const ts_mail *m, char token[TS_SECRET_TEXT_LEN + 1], char code[8])
{
	char pt[64];
	size_t n = 0;
	char *sp;

	if (ts_unseal(&kek, m->id, m->data, pt, sizeof pt - 1, &n) != TS_OK)
		return 0;
	pt[n] = '\0';
	if (!(sp = strchr(pt, ' ')))
		return 0;
	*sp = '\0';
	ts_strlcpy(token, pt, TS_SECRET_TEXT_LEN + 1);
	ts_strlcpy(code, sp + 1, 8);
	return 1;
}

static void
test_invite(ts_store *s, const ts_tenant *t)
{
	ts_auth_config cfg = config(NULL);
	ts_auth *a = NULL, *b = NULL;
	ts_user u;
	ts_mail m[4];
	ts_account_redeem rd = { 0 };
	ts_pw_reason why;
	ts_login_ok ok;
	char token[TS_SECRET_TEXT_LEN + 1], code[8];
	int n = -1, sent = -1;

	CHECK(ts_admin_user_add(s, &cheap, "acme", "invitee@example.com", "placeholder password 1", 22,
	                        0, 0, &u) == TS_OK);
	/* No mail server: nothing is queued. */
	CHECK(ts_auth_new(&cfg, s, &a) == TS_OK);
	if (!a)
		return;
	CHECK(ts_account_invite(a, t, &u) == TS_E_MAIL_UNCONFIGURED);
	CHECK(s->ops->mail_claim(s, ts_now() + 1, 30, 4, m, &n) == TS_OK && n == 0);
	ts_auth_free(a);

	/* A mail server nobody listens on: the invitation is queued, sealed. */
	cfg = config("smtp://127.0.0.1:9");
	CHECK(ts_auth_new(&cfg, s, &b) == TS_OK);
	if (!b)
		return;
	CHECK(ts_account_invite(b, t, &u) == TS_OK);
	/* The sender tries, fails, and keeps it for later. */
	CHECK(ts_outbox_run(b, ts_now(), 1, &sent) == TS_OK);
	CHECK(sent == 0);
	CHECK(s->ops->mail_claim(s, ts_now(), 30, 4, m, &n) == TS_OK && n == 0);
	CHECK(s->ops->mail_claim(s, ts_now() + 3600, 30, 4, m, &n) == TS_OK && n == 1);
	if (n != 1)
		goto out;
	CHECK(m[0].kind == TS_MAIL_INVITE);
	CHECK(m[0].attempts == 2);
	CHECK_STR(m[0].to, "invitee@example.com");
	CHECK(strncmp(m[0].data, "tsk1.", 5) == 0);
	CHECK(strstr(m[0].data, "invitee") == NULL);
	CHECK(open_mail(&m[0], token, code));
	CHECK(strlen(token) == TS_SECRET_TEXT_LEN && strlen(code) == 6);
	/* The invitation sets a first password, once; the address is proven. */
	rd.token = token;
	CHECK(ts_account_reset(b, &rd, "x", 1, &why) == TS_E_PASSWORD_POLICY && why == TS_PW_TOO_SHORT);
	CHECK(ts_account_reset(b, &rd, "a first password of mine", 24, &why) == TS_OK);
	CHECK(ts_account_reset(b, &rd, "a first password of mine", 24, &why) == TS_E_TOKEN_INVALID);
	ts_login_req lr = { .email = "invitee@example.com", .password = "a first password of mine",
	                    .password_len = 24, .client_ip = "127.0.0.1" };
	CHECK(ts_auth_password(b, &lr, &ok) == TS_OK);
	/* The code of the spent invitation is spent too. */
	memset(&rd, 0, sizeof rd);
	rd.email = "invitee@example.com";
	rd.code = code;
	CHECK(ts_account_reset(b, &rd, "another password of mine", 24, &why) == TS_E_TOKEN_INVALID);
	CHECK(s->ops->mail_delete(s, m[0].id) == TS_OK);
out:
	ts_auth_free(b);
}

int
main(void)
{
	char dir[] = "/tmp/ts-account-XXXXXX", url[128];
	static const unsigned char raw[TS_KEK_LEN] = { 7 };
	ts_store *s = NULL;
	ts_tenant acme;

	ts_log_set_level(TS_LOG_ERROR);
	ts_kek_from_bytes(raw, &kek);
	if (!mkdtemp(dir))
		return 1;
	snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
	CHECK(ts_store_open(url, &s) == TS_OK);
	if (!s)
		return CHECK_DONE();
	CHECK(ts_admin_tenant_create_open(s, "acme", 0, 1, NULL, 0, &acme, NULL) == TS_OK);
	CHECK(acme.registration_open == 1);
	test_invite(s, &acme);
	ts_store_close(s);
	snprintf(url, sizeof(url), "rm -rf %s", dir);
	if (system(url) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return CHECK_DONE();
}
