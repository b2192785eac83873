/* The administration engine (auth/admin.h) and the audit writer
 * (auth/audit.h) against a real SQLite store: scope rules by actor, the
 * audit rows of changes, the queue flushed by ts_auth_free, field
 * escaping. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/admin.h"
#include "auth/audit.h"
#include "check.h"
#include "core/log.h"
#include "core/util.h"

static const ts_pw_cost cheap = { 1, 8192 * 1024 };
static ts_kek kek;

typedef struct rows {
	ts_audit_rec r[64];
	int n;                       /* rows seen; the first 64 are kept */
} rows;

static int
collect(void *arg, const ts_audit_rec *e)
{
	rows *x = arg;

	if (x->n < 64)
		x->r[x->n] = *e;
	x->n++;
	return 0;
}

static int
count_event(ts_store *s, const char *event)
{
	ts_audit_filter f = { .event = event, .limit = 100000 };
	static rows x;

	x.n = 0;
	CHECK(s->ops->audit_list(s, &f, collect, &x) == TS_OK);
	return x.n;
}

typedef struct burst {
	ts_auth *a;
	int n;
} burst;

static void *
burst_main(void *arg)
{
	burst *b = arg;

	for (int i = 0; i < b->n; i++)
		ts_audit(b->a, "unit_burst", "tenant", "acme", TS_LOG_INT("i", i), NULL);
	return NULL;
}

/* 4 threads x 1500 events (more than the queue holds): every one is in the
 * table once the engine is freed. */
static void
test_queue(ts_store *s)
{
	ts_auth_config cfg = {
		.issuer = "https://auth.test", .audience = "tessera", .alg = TS_ALG_ES256,
		.access_ttl = 900, .refresh_ttl = 3600, .session_ttl = 7200, .challenge_ttl = 300,
		.pw_cost = cheap, .lock_after = 10, .lock_secs = 60, .kek = &kek,
	};
	pthread_t th[4];
	burst b;
	ts_auth *a = NULL;

	CHECK(ts_auth_new(&cfg, s, &a) == TS_OK);
	if (!a)
		return;
	b = (burst){ a, 1500 };
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, burst_main, &b);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ts_auth_free(a);
	CHECK(count_event(s, "unit_burst") == 6000);
}

static void
test_fields(ts_store *s, const ts_tenant *acme)
{
	ts_auth *a = NULL;
	rows x = { .n = 0 };
	ts_audit_filter f = { .event = "unit_fields", .limit = 10 };

	CHECK(ts_auth_new_admin(s, &cheap, NULL, &a) == TS_OK);
	/* a tenant id becomes the slug; text is JSON-escaped */
	ts_audit(a, "unit_fields", "tenant", acme->id, "user", "u-1", "actor", "cli", "note",
	         "a \"quoted\"\n\\ line", TS_LOG_INT("n", -7), "none", NULL, NULL);
	ts_auth_free(a);
	CHECK(s->ops->audit_list(s, &f, collect, &x) == TS_OK);
	CHECK(x.n == 1);
	if (x.n == 1) {
		CHECK_STR(x.r[0].tenant, "acme");
		CHECK_STR(x.r[0].user_id, "u-1");
		CHECK_STR(x.r[0].actor, "cli");
		CHECK_STR(x.r[0].data, "{\"note\":\"a \\\"quoted\\\"\\u000a\\\\ line\",\"n\":-7,\"none\":null}");
	}
}

static void
test_scope(ts_store *s)
{
	ts_auth *a = NULL;
	ts_actor cli, ta, tb;
	ts_tenant t;
	ts_user u, v;
	ts_pw_reason why;
	ts_err inv;
	ts_tenant_patch p = { .slug = "scope-a" };
	int more = 0;

	CHECK(ts_auth_new_admin(s, &cheap, "acme", &a) == TS_OK);
	if (!a)
		return;
	ts_actor_cli(&cli);
	CHECK(ts_admin_tenant_new(a, &cli, &p, &t, NULL) == TS_OK);
	p.slug = "scope-b";
	CHECK(ts_admin_tenant_new(a, &cli, &p, &t, NULL) == TS_OK);
	/* actors as ts_admin_authorize makes them for an admin of each */
	memset(&ta, 0, sizeof(ta));
	ta.kind = TS_ACTOR_USER;
	CHECK(ts_admin_tenant_get(a, &cli, "scope-a", &ta.tenant) == TS_OK);
	snprintf(ta.label, sizeof(ta.label), "user:x");
	tb = ta;
	CHECK(ts_admin_tenant_get(a, &cli, "scope-b", &tb.tenant) == TS_OK);

	CHECK(ts_admin_user_new(a, &ta, "scope-a", "Ann@scope.example", NULL, 0, 1, 0, &u, &why,
	                        &inv) == TS_OK);
	CHECK(inv == TS_E_MAIL_UNCONFIGURED);
	CHECK(ts_admin_user_new(a, &ta, "scope-a", "x@scope.example", "short", 5, 0, 0, &v, &why,
	                        &inv) == TS_E_PASSWORD_POLICY && why == TS_PW_TOO_SHORT);
	/* another tenant's admin: not found, never forbidden */
	CHECK(ts_admin_tenant_get(a, &tb, "scope-a", &t) == TS_E_NOT_FOUND);
	CHECK(ts_admin_user_get(a, &tb, "scope-a", u.id, &v) == TS_E_NOT_FOUND);
	CHECK(ts_admin_user_get(a, &tb, "scope-b", u.id, &v) == TS_E_NOT_FOUND);
	CHECK(ts_admin_user_remove(a, &tb, "scope-a", u.id) == TS_E_NOT_FOUND);
	CHECK(ts_admin_user_page(a, &tb, "scope-a", "", NULL, 10, NULL, NULL, &more) ==
	      TS_E_NOT_FOUND);
	/* a tenant's admin creates and deletes no tenant */
	p.slug = "scope-c";
	CHECK(ts_admin_tenant_new(a, &ta, &p, &t, NULL) == TS_E_PERMISSION);
	CHECK(ts_admin_tenant_remove(a, &ta, "scope-a", 1) == TS_E_PERMISSION);
	/* the operator tenant is kept */
	CHECK(ts_admin_tenant_remove(a, &cli, "acme", 1) == TS_E_PERMISSION);
	/* with users: only with force */
	CHECK(ts_admin_tenant_remove(a, &cli, "scope-a", 0) == TS_E_CONFLICT);
	CHECK(ts_admin_tenant_remove(a, &cli, "scope-a", 1) == TS_OK);
	CHECK(ts_admin_tenant_remove(a, &cli, "scope-b", 0) == TS_OK);
	CHECK(count_event(s, "admin_tenant_deleted") == 2);
	CHECK(count_event(s, "admin_user_created") == 1);
	ts_auth_free(a);
}

int
main(void)
{
	char dir[] = "/tmp/ts-admin-XXXXXX", url[128];
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
	CHECK(ts_admin_tenant_add(s, "acme", 0, &acme) == TS_OK);
	test_queue(s);
	test_fields(s, &acme);
	test_scope(s);
	ts_store_close(s);
	snprintf(url, sizeof(url), "rm -rf %s", dir);
	if (system(url) != 0)
		return 1;
	return CHECK_DONE();
}
