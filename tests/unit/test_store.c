/* The store conformance suite: every op of store.h against the backend
 * chosen at run time by TESSERA_TEST_STORE:
 *   unset or "sqlite"   SQLite files in a temporary directory under /tmp
 *   "postgres://..." or "postgres:KEYWORDS"
 *                       an admin DSN (CREATEDB): a fresh database is made
 *                       for the run and dropped at the end
 * The concurrency tests run on both. Tests named *_sqlite exercise what
 * only a SQLite file has (modes, removal, locks, PRAGMA user_version);
 * tests named *_pg what only PostgreSQL has (DSN forms, password
 * scrubbing, advisory-locked migrations). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include <libpq-fe.h>
#include "store/store.h"
#include "store/sqlite_internal.h"
#include "store/group.h"
#include "check.h"

static char dir[64];          /* this run's temporary directory */
static int on_pg;             /* the shared suite runs on PostgreSQL */

/* Ids are made here: the store only stores what callers give it. */
static void
mkid(char out[TS_ID_SZ], unsigned n)
{
	snprintf(out, TS_ID_SZ, "00000000-0000-4000-8000-%012u", n);
}

static void
mkhash(char out[TS_HASH_SZ], unsigned n)
{
	snprintf(out, TS_HASH_SZ, "%064u", n);
}

static void
db_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void
db_remove(const char *name)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[128];
	size_t i;

	for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(p, sizeof p, "%s/%s%s", dir, name, suffix[i]);
		unlink(p);
	}
}

/* Opens dir/name with optional "?options". */
static ts_store *
open_db(const char *name, const char *opts)
{
	char url[256];
	ts_store *s = NULL;
	ts_err r;

	snprintf(url, sizeof url, "sqlite:%s/%s%s", dir, name, opts ? opts : "");
	r = ts_store_open(url, &s);
	CHECK(r == TS_OK);
	CHECK(s != NULL);
	return s;
}

static int64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A tenant and one user in it, the fixture most tests start from. */
static void
seed(ts_store *s, unsigned tn, unsigned un, ts_tenant *t, ts_user *u)
{
	memset(t, 0, sizeof *t);
	mkid(t->id, tn);
	snprintf(t->slug, sizeof t->slug, "tenant-%u", tn);
	t->created_at = 1000 + tn;
	CHECK(s->ops->tenant_create(s, t) == TS_OK);
	memset(u, 0, sizeof *u);
	mkid(u->id, un);
	memcpy(u->tenant_id, t->id, sizeof u->tenant_id);
	snprintf(u->email, sizeof u->email, "User%u@Example.COM", un);
	snprintf(u->email_norm, sizeof u->email_norm, "user%u@example.com", un);
	strcpy(u->password_hash, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
	u->created_at = 2000;
	CHECK(s->ops->user_create(s, u) == TS_OK);
}

/* ---- open ------------------------------------------------------------ */

static void
test_open_sqlite(void)
{
	char url[256];
	ts_store *s = NULL;

	CHECK(ts_store_open("", &s) == TS_E_INVALID && s == NULL);
	CHECK(ts_store_open("nosuch://localhost/x", &s) == TS_E_INVALID && s == NULL);
	CHECK(ts_store_open("sqlite:", &s) == TS_E_INVALID);
	snprintf(url, sizeof url, "sqlite:%s/o.db?bogus=1", dir);
	CHECK(ts_store_open(url, &s) == TS_E_INVALID && s == NULL);
	snprintf(url, sizeof url, "sqlite:%s/o.db?busy_timeout=abc", dir);
	CHECK(ts_store_open(url, &s) == TS_E_INVALID);
	snprintf(url, sizeof url, "%s/nodir/o.db", dir);
	CHECK(ts_store_open(url, &s) == TS_E_STORE_UNAVAILABLE && s == NULL);

	/* TS_STORE_EXISTING creates nothing and names the resolved path */
	snprintf(url, sizeof url, "sqlite:%s/o.db", dir);
	CHECK(ts_store_open_mode(url, TS_STORE_EXISTING, &s) == TS_E_NOT_FOUND && s == NULL);
	CHECK(strstr(ts_store_open_error(), "no database at ") != NULL);
	CHECK(strstr(ts_store_open_error(), "/o.db") != NULL);
	{
		char p[128];
		db_path(p, sizeof p, "o.db");
		CHECK(access(p, F_OK) != 0);
	}

	/* bare path, then the same file as sqlite:// with every option */
	snprintf(url, sizeof url, "%s/o.db", dir);
	CHECK(ts_store_open(url, &s) == TS_OK);
	CHECK(s && strcmp(s->ops->scheme, "sqlite") == 0);
	CHECK(s && s->ops->ping(s) == TS_OK);
	ts_store_close(s);
	snprintf(url, sizeof url, "sqlite://%s/o.db?busy_timeout=250&pool=4&idle_ms=0", dir);
	CHECK(ts_store_open(url, &s) == TS_OK);
	CHECK(s && s->ops->ping(s) == TS_OK);
	ts_store_close(s);
	CHECK(ts_store_open_mode(url, TS_STORE_EXISTING, &s) == TS_OK);   /* exists now */
	ts_store_close(s);
	ts_store_close(NULL);
	db_remove("o.db");

	/* a relative path keeps meaning the same file after a chdir */
	{
		char cwd[512], p[128];
		ts_tenant t = { 0 };

		CHECK(getcwd(cwd, sizeof cwd) != NULL);
		CHECK(chdir(dir) == 0);
		CHECK(ts_store_open("sqlite:rel.db", &s) == TS_OK);
		CHECK(chdir("/") == 0);
		strcpy(t.id, "rel");
		strcpy(t.slug, "rel");
		CHECK(s && s->ops->tenant_create(s, &t) == TS_OK);
		CHECK(s && s->ops->ping(s) == TS_OK);
		ts_store_close(s);
		db_path(p, sizeof p, "rel.db");
		CHECK(access(p, F_OK) == 0);
		CHECK(chdir(cwd) == 0);
		db_remove("rel.db");
	}

	CHECK(ts_store_open("sqlite::memory:", &s) == TS_OK);
	CHECK(s && s->ops->ping(s) == TS_OK);
	ts_store_close(s);
}

/* ---- tenants --------------------------------------------------------- */

static int
collect_slugs(void *arg, const ts_tenant *t)
{
	char *buf = arg;

	strcat(buf, t->slug);
	strcat(buf, ",");
	return strcmp(t->slug, "c") == 0;   /* stop after "c" */
}

static int
collect_host(void *arg, const char *host)
{
	strcat(arg, host);
	strcat(arg, ",");
	return 0;
}

static void
test_tenants(ts_store *s)
{
	ts_tenant t = { 0 }, got, dup;
	char list[256] = "";
	const char *slugs[] = { "b", "a", "c", "d" };
	int i;

	mkid(t.id, 100);
	strcpy(t.slug, "acme");
	t.mfa_required = 1;
	t.registration_open = 1;
	t.password_min_length = 20;
	t.created_at = 111;
	CHECK(s->ops->tenant_create(s, &t) == TS_OK);
	dup = t;
	CHECK(s->ops->tenant_create(s, &dup) == TS_E_CONFLICT);      /* same id */
	mkid(dup.id, 101);
	CHECK(s->ops->tenant_create(s, &dup) == TS_E_CONFLICT);      /* same slug */

	CHECK(s->ops->tenant_by_slug(s, "acme", &got) == TS_OK);
	CHECK_STR(got.id, t.id);
	CHECK(got.mfa_required == 1 && got.created_at == 111);
	CHECK(got.registration_open == 1 && got.password_min_length == 20);
	CHECK(s->ops->tenant_by_slug(s, "nope", &got) == TS_E_NOT_FOUND);
	CHECK(got.id[0] == '\0');                                    /* cleared */
	CHECK(s->ops->tenant_by_id(s, t.id, &got) == TS_OK);
	CHECK_STR(got.slug, "acme");
	CHECK(s->ops->tenant_by_id(s, dup.id, &got) == TS_E_NOT_FOUND);

	/* hosts are stored and matched exactly as given: the engine
	 * lower-cases them before the call (ts_admin_host_normal) */
	CHECK(s->ops->tenant_add_domain(s, t.id, "auth.acme.example") == TS_OK);
	CHECK(s->ops->tenant_add_domain(s, t.id, "login.acme.example") == TS_OK);
	CHECK(s->ops->tenant_add_domain(s, t.id, "auth.acme.example") == TS_E_CONFLICT);
	CHECK(s->ops->tenant_add_domain(s, t.id, "") == TS_E_INVALID);
	CHECK(s->ops->tenant_add_domain(s, dup.id, "x.example") == TS_E_NOT_FOUND);
	CHECK(s->ops->tenant_by_domain(s, "auth.acme.example", &got) == TS_OK);
	CHECK_STR(got.slug, "acme");
	CHECK(got.registration_open == 1 && got.password_min_length == 20);
	CHECK(s->ops->tenant_by_domain(s, "login.acme.example", &got) == TS_OK);
	CHECK_STR(got.id, t.id);
	CHECK(s->ops->tenant_by_domain(s, "LOGIN.acme.example", &got) == TS_E_NOT_FOUND);
	/* bytes that are not UTF-8 (a hostile Host header) match nothing */
	CHECK(s->ops->tenant_by_domain(s, "\xff\xfe.example", &got) == TS_E_NOT_FOUND);
	CHECK(s->ops->tenant_by_slug(s, "\xc3", &got) == TS_E_NOT_FOUND);
	CHECK(s->ops->tenant_by_domain(s, "other.example", &got) == TS_E_NOT_FOUND);

	/* tenant and domains in one transaction: a taken domain leaves nothing */
	{
		ts_tenant w = { 0 };
		const char *clash[] = { "w.example", "auth.acme.example" };
		const char *fine[] = { "w.example", "www.w.example" };

		mkid(w.id, 102);
		strcpy(w.slug, "w");
		w.created_at = 200;                 /* listed after the ones below */
		CHECK(s->ops->tenant_create_with_domains(s, &w, clash, 2) == TS_E_CONFLICT);
		CHECK(s->ops->tenant_by_slug(s, "w", &got) == TS_E_NOT_FOUND);
		CHECK(s->ops->tenant_by_domain(s, "w.example", &got) == TS_E_NOT_FOUND);
		CHECK(s->ops->tenant_create_with_domains(s, &w, fine, 2) == TS_OK);
		CHECK(s->ops->tenant_by_domain(s, "w.example", &got) == TS_OK);
		CHECK_STR(got.slug, "w");
		CHECK(s->ops->tenant_remove_domain(s, w.id, "auth.acme.example") == TS_E_NOT_FOUND);
		CHECK(s->ops->tenant_remove_domain(s, w.id, "WWW.w.example") == TS_E_NOT_FOUND);
		CHECK(s->ops->tenant_remove_domain(s, w.id, "www.w.example") == TS_OK);
		CHECK(s->ops->tenant_remove_domain(s, w.id, "www.w.example") == TS_E_NOT_FOUND);
		CHECK(s->ops->tenant_by_domain(s, "www.w.example", &got) == TS_E_NOT_FOUND);
		CHECK(s->ops->tenant_by_domain(s, "auth.acme.example", &got) == TS_OK);
	}

	/* Issue 13: "names no tenant" is cached briefly; a domain added here
	 * applies at once all the same (the add clears the cache). */
	{
		for (int i = 0; i < 3; i++)
			CHECK(s->ops->tenant_by_domain(s, "late.w.example", &got) == TS_E_NOT_FOUND);
		CHECK(s->ops->tenant_by_slug(s, "w", &got) == TS_OK);
		CHECK(s->ops->tenant_add_domain(s, got.id, "late.w.example") == TS_OK);
		CHECK(s->ops->tenant_by_domain(s, "late.w.example", &got) == TS_OK);
		CHECK_STR(got.slug, "w");
		CHECK(s->ops->tenant_remove_domain(s, got.id, "late.w.example") == TS_OK);
		CHECK(s->ops->tenant_by_domain(s, "late.w.example", &got) == TS_E_NOT_FOUND);
	}

	/* domains of a tenant, in byte order; none for an unknown tenant */
	{
		char hosts[128] = "";

		CHECK(s->ops->tenant_domains(s, t.id, collect_host, hosts) == TS_OK);
		CHECK_STR(hosts, "auth.acme.example,login.acme.example,");
		hosts[0] = '\0';
		CHECK(s->ops->tenant_domains(s, dup.id, collect_host, hosts) == TS_OK);
		CHECK_STR(hosts, "");
	}

	/* list: oldest first (created_at, then slug), callback can stop */
	for (i = 0; i < 4; i++) {
		ts_tenant x = { 0 };

		mkid(x.id, 110 + (unsigned)i);
		strcpy(x.slug, slugs[i]);
		x.created_at = i < 2 ? 50 : 60;     /* b, a tie at 50 */
		CHECK(s->ops->tenant_create(s, &x) == TS_OK);
	}
	CHECK(s->ops->tenant_list(s, collect_slugs, list) == TS_OK);
	CHECK_STR(list, "a,b,c,");                 /* the tie at 50 by slug */
}

/* ---- users ----------------------------------------------------------- */

static void
test_users(ts_store *s)
{
	ts_tenant t, t2;
	ts_user u, got, dup;
	char missing[TS_ID_SZ], other[TS_ID_SZ];
	int n = -1;

	seed(s, 200, 201, &t, &u);
	mkid(missing, 299);

	/* email_norm unique per tenant (the engine lower-cases it) */
	dup = u;
	mkid(dup.id, 202);
	strcpy(dup.email, "user201@example.com");
	CHECK(s->ops->user_create(s, &dup) == TS_E_CONFLICT);
	dup = u;
	CHECK(s->ops->user_create(s, &dup) == TS_E_CONFLICT);        /* same id */
	seed(s, 210, 211, &t2, &dup);
	mkid(dup.id, 212);
	strcpy(dup.email, "USER201@example.com");                    /* other tenant */
	strcpy(dup.email_norm, "user201@example.com");
	CHECK(s->ops->user_create(s, &dup) == TS_OK);
	memcpy(other, dup.id, sizeof other);
	mkid(dup.id, 213);
	memcpy(dup.tenant_id, missing, sizeof dup.tenant_id);
	CHECK(s->ops->user_create(s, &dup) == TS_E_NOT_FOUND);       /* no tenant */
	memcpy(dup.tenant_id, t.id, sizeof dup.tenant_id);
	dup.email_norm[0] = '\0';
	CHECK(s->ops->user_create(s, &dup) == TS_E_INVALID);

	/* the backend matches email_norm exactly; it lower-cases nothing */
	CHECK(s->ops->user_by_email(s, t.id, "user201@EXAMPLE.com", &got) == TS_E_NOT_FOUND);
	CHECK(s->ops->user_by_email(s, t.id, "user201@example.com", &got) == TS_OK);
	CHECK_STR(got.email_norm, "user201@example.com");
	{
		ts_user none;

		CHECK(s->ops->user_by_email(s, t.id, "\xffuser201@example.com", &none) ==
		      TS_E_NOT_FOUND);
	}
	CHECK_STR(got.id, u.id);
	CHECK_STR(got.email, "User201@Example.COM");                 /* as given */
	CHECK_STR(got.password_hash, u.password_hash);
	CHECK(got.created_at == 2000 && got.failed_logins == 0 && got.locked_until == 0);
	CHECK(s->ops->user_by_email(s, t2.id, "user201@example.com", &got) == TS_OK);
	CHECK_STR(got.id, other);
	CHECK(s->ops->user_by_email(s, t.id, "nobody@example.com", &got) == TS_E_NOT_FOUND);
	CHECK(s->ops->user_by_email(s, missing, "user201@example.com", &got) == TS_E_NOT_FOUND);
	CHECK(s->ops->user_by_id(s, u.id, &got) == TS_OK);
	CHECK_STR(got.tenant_id, t.id);
	CHECK(s->ops->user_by_id(s, missing, &got) == TS_E_NOT_FOUND);

	CHECK(s->ops->user_set_password(s, u.id, "$argon2id$new") == TS_OK);
	CHECK(s->ops->user_set_password(s, missing, "$x") == TS_E_NOT_FOUND);
	CHECK(s->ops->user_set_flags(s, u.id, 1, 1, 0) == TS_OK);
	CHECK(s->ops->user_set_flags(s, missing, 1, 1, 1) == TS_E_NOT_FOUND);
	CHECK(s->ops->user_by_id(s, u.id, &got) == TS_OK);
	CHECK_STR(got.password_hash, "$argon2id$new");
	CHECK(got.is_verified == 1 && got.is_admin == 1 && got.is_disabled == 0);

	(void)n;
}

static int
collect_lock(void *arg, const ts_lock *l)
{
	strcat(arg, l->key);
	strcat(arg, ",");
	return 0;
}

/* Account locks: counted by lock_fail, one failure per call. */
static void
test_locks(ts_store *s)
{
	ts_lock l;
	char seen[256] = "";

	CHECK(s->ops->lock_get(s, "t|a@x", &l) == TS_E_NOT_FOUND);
	CHECK(s->ops->lock_fail(s, "t|a@x", "t", "a@x", 5000, 3, 60, &l) == TS_OK);
	CHECK(l.failures == 1 && l.locked_until == 0 && l.updated_at == 5000);
	CHECK_STR(l.email, "a@x");
	CHECK(s->ops->lock_fail(s, "t|a@x", "t", "a@x", 5001, 3, 60, &l) == TS_OK && l.failures == 2);
	CHECK(l.locked_until == 0);
	CHECK(s->ops->lock_fail(s, "t|a@x", "t", "a@x", 5002, 3, 60, &l) == TS_OK && l.failures == 3);
	CHECK(l.locked_until == 5062);
	/* a live lock is not extended by attempts made during it */
	CHECK(s->ops->lock_fail(s, "t|a@x", "t", "a@x", 5010, 3, 60, &l) == TS_OK && l.failures == 4);
	CHECK(l.locked_until == 5062);
	/* a lock that ran out starts a fresh count */
	CHECK(s->ops->lock_fail(s, "t|a@x", "t", "a@x", 5100, 3, 60, &l) == TS_OK);
	CHECK(l.failures == 1 && l.locked_until == 0);
	CHECK(s->ops->lock_get(s, "t|a@x", &l) == TS_OK && l.failures == 1);
	/* lock_after 1 locks at the first failure */
	CHECK(s->ops->lock_fail(s, "t|b@x", "t", "b@x", 5200, 1, 10, &l) == TS_OK);
	CHECK(l.failures == 1 && l.locked_until == 5210);
	/* list: most recently updated first */
	CHECK(s->ops->lock_list(s, collect_lock, seen) == TS_OK);
	CHECK_STR(seen, "t|b@x,t|a@x,");
	CHECK(s->ops->lock_clear(s, "t|a@x") == TS_OK);
	CHECK(s->ops->lock_clear(s, "t|a@x") == TS_OK);       /* absent: fine */
	CHECK(s->ops->lock_get(s, "t|a@x", &l) == TS_E_NOT_FOUND);
	CHECK(s->ops->lock_clear(s, "t|b@x") == TS_OK);
}

/* ---- sessions and secrets -------------------------------------------- */

/* A session read back (session_principal: its user and tenant must exist). */
static ts_err
get_session(ts_store *s, const char *id, ts_session *out)
{
	ts_user u;
	ts_tenant t;

	return s->ops->session_principal(s, id, out, &u, &t);
}

static void
put_secret(ts_store *s, int kind, unsigned hn, const char *session_id, const char *user_id,
           int64_t expires_at)
{
	ts_secret x = { 0 };

	x.kind = kind;
	mkhash(x.hash, hn);
	strcpy(x.tenant_id, "t");
	strcpy(x.user_id, user_id);
	strcpy(x.session_id, session_id);
	x.created_at = 100;
	x.expires_at = expires_at;
	CHECK(s->ops->secret_put(s, &x) == TS_OK);
}

/* secret_attempt, secret_replace and session_set_amr one at a time. */
static void
test_attempts(ts_store *s)
{
	ts_secret x = { 0 }, got;
	ts_session ss = { 0 };
	ts_tenant t;
	ts_user u;
	char h[TS_HASH_SZ];
	int n = -1;

	seed(s, 820, 821, &t, &u);
	put_secret(s, TS_SECRET_ENROLL_CODE, 800, "", "u", 9999);
	mkhash(h, 800);
	for (int i = 1; i <= 3; i++) {
		CHECK(s->ops->secret_attempt(s, TS_SECRET_ENROLL_CODE, h, 3, &n) == TS_OK);
		CHECK(n == i);
	}
	CHECK(s->ops->secret_attempt(s, TS_SECRET_ENROLL_CODE, h, 3, &n) == TS_E_NOT_FOUND);
	CHECK(n == 0);
	/* A replacement starts afresh, with new data. */
	x.kind = TS_SECRET_ENROLL_CODE;
	mkhash(x.hash, 800);
	strcpy(x.user_id, "u");
	strcpy(x.data, "second");
	x.expires_at = 9999;
	CHECK(s->ops->secret_replace(s, &x) == TS_OK);
	CHECK(s->ops->secret_get(s, TS_SECRET_ENROLL_CODE, h, &got) == TS_OK);
	CHECK_STR(got.data, "second");
	CHECK(s->ops->secret_attempt(s, TS_SECRET_ENROLL_CODE, h, 3, &n) == TS_OK && n == 1);
	/* A spent secret takes no more guesses; an absent one none at all. */
	CHECK(s->ops->secret_consume(s, TS_SECRET_ENROLL_CODE, h, 50, &got) == TS_OK);
	CHECK(s->ops->secret_attempt(s, TS_SECRET_ENROLL_CODE, h, 3, &n) == TS_E_NOT_FOUND);
	mkhash(h, 801);
	CHECK(s->ops->secret_attempt(s, TS_SECRET_ENROLL_CODE, h, 3, &n) == TS_E_NOT_FOUND);

	strcpy(ss.id, "00000000-0000-4000-8000-0000000000a1");
	memcpy(ss.tenant_id, t.id, sizeof ss.tenant_id);
	memcpy(ss.user_id, u.id, sizeof ss.user_id);
	ss.kind = TS_SESSION_ENROLL;
	strcpy(ss.amr, "pwd");
	ss.expires_at = 9999;
	CHECK(s->ops->session_create(s, &ss) == TS_OK);
	CHECK(s->ops->session_set_amr(s, ss.id, "pwd mca") == TS_OK);
	CHECK(get_session(s, ss.id, &ss) == TS_OK);
	CHECK_STR(ss.amr, "pwd mca");
	CHECK(s->ops->session_revoke(s, ss.id, 60) == TS_OK);
	CHECK(s->ops->session_set_amr(s, ss.id, "pwd link") == TS_E_NOT_FOUND);
	CHECK(s->ops->session_set_amr(s, "00000000-0000-4000-8000-0000000000a2", "x") == TS_E_NOT_FOUND);
}

static void
test_sessions(ts_store *s)
{
	ts_tenant t;
	ts_user u;
	ts_session x = { 0 }, got;
	ts_secret sec;
	char h[TS_HASH_SZ], missing[TS_ID_SZ];
	int n = -1, i;

	seed(s, 300, 301, &t, &u);
	mkid(missing, 399);
	mkid(x.id, 310);
	memcpy(x.tenant_id, t.id, sizeof x.tenant_id);
	memcpy(x.user_id, u.id, sizeof x.user_id);
	x.kind = TS_SESSION_ENROLL;
	strcpy(x.amr, "pwd otp");
	x.created_at = 10;
	x.expires_at = 9999;
	CHECK(s->ops->session_create(s, &x) == TS_OK);
	CHECK(s->ops->session_create(s, &x) == TS_E_CONFLICT);
	CHECK(get_session(s, x.id, &got) == TS_OK);
	CHECK_STR(got.user_id, u.id);
	CHECK_STR(got.amr, "pwd otp");
	CHECK(got.kind == TS_SESSION_ENROLL && got.expires_at == 9999 && got.revoked_at == 0);
	CHECK(get_session(s, missing, &got) == TS_E_NOT_FOUND);
	{
		ts_user pu;
		ts_tenant pt;

		CHECK(s->ops->session_principal(s, x.id, &got, &pu, &pt) == TS_OK);
		CHECK_STR(pu.id, u.id);
		CHECK_STR(pu.email, "User301@Example.COM");
		CHECK_STR(pt.slug, "tenant-300");
	}

	/* revoke kills the session's unused secrets and only those */
	put_secret(s, TS_SECRET_REFRESH, 1, x.id, u.id, 9999);
	put_secret(s, TS_SECRET_ACCESS, 2, x.id, u.id, 9999);
	put_secret(s, TS_SECRET_REFRESH, 3, x.id, u.id, 9999);
	put_secret(s, TS_SECRET_REFRESH, 4, "other-session", u.id, 9999);
	mkhash(h, 3);
	CHECK(s->ops->secret_consume(s, TS_SECRET_REFRESH, h, 50, &sec) == TS_OK);
	CHECK(s->ops->session_revoke(s, x.id, 77) == TS_OK);
	CHECK(get_session(s, x.id, &got) == TS_OK && got.revoked_at == 77);
	mkhash(h, 1);
	CHECK(s->ops->secret_get(s, TS_SECRET_REFRESH, h, &sec) == TS_OK && sec.used_at == 77);
	CHECK(s->ops->secret_consume(s, TS_SECRET_REFRESH, h, 80, &sec) == TS_E_TOKEN_REUSED);
	CHECK_STR(sec.session_id, x.id);
	mkhash(h, 2);
	CHECK(s->ops->secret_get(s, TS_SECRET_ACCESS, h, &sec) == TS_OK && sec.used_at == 77);
	mkhash(h, 3);
	CHECK(s->ops->secret_get(s, TS_SECRET_REFRESH, h, &sec) == TS_OK && sec.used_at == 50);
	mkhash(h, 4);
	CHECK(s->ops->secret_get(s, TS_SECRET_REFRESH, h, &sec) == TS_OK && sec.used_at == 0);
	/* secret_principal: the secret with its session, user and tenant in
	 * one read; a secret of an unknown session comes back alone. */
	{
		ts_secret ps;
		ts_session pss;
		ts_user pu;
		ts_tenant pt;

		mkhash(h, 1);
		CHECK(s->ops->secret_principal(s, TS_SECRET_REFRESH, h, &ps, &pss, &pu, &pt) == TS_OK);
		CHECK(ps.used_at == 77 && ps.expires_at == 9999 && ps.kind == TS_SECRET_REFRESH);
		CHECK_STR(ps.session_id, x.id);
		CHECK_STR(pss.id, x.id);
		CHECK(pss.revoked_at == 77 && pss.kind == TS_SESSION_ENROLL);
		CHECK_STR(pss.amr, "pwd otp");
		CHECK_STR(pu.id, u.id);
		CHECK_STR(pu.email, "User301@Example.COM");
		CHECK_STR(pt.id, t.id);
		CHECK_STR(pt.slug, "tenant-300");
		mkhash(h, 4);
		memset(&pu, 'x', sizeof pu);
		CHECK(s->ops->secret_principal(s, TS_SECRET_REFRESH, h, &ps, &pss, &pu, &pt) == TS_OK);
		CHECK_STR(ps.session_id, "other-session");
		CHECK(pss.id[0] == 0 && pu.id[0] == 0 && pu.password_hash[0] == 0 && pt.id[0] == 0);
		mkhash(h, 2);
		CHECK(s->ops->secret_principal(s, TS_SECRET_REFRESH, h, &ps, &pss, &pu, &pt) ==
		      TS_E_NOT_FOUND);                     /* hash 2 is an access secret */
		mkhash(h, 999);
		CHECK(s->ops->secret_principal(s, TS_SECRET_REFRESH, h, &ps, &pss, &pu, &pt) ==
		      TS_E_NOT_FOUND);
	}
	/* again: keeps the first time */
	CHECK(s->ops->session_revoke(s, x.id, 88) == TS_OK);
	CHECK(get_session(s, x.id, &got) == TS_OK && got.revoked_at == 77);
	CHECK(s->ops->session_revoke(s, missing, 88) == TS_E_NOT_FOUND);

	/* user_sessions_revoke: three live, one already revoked */
	for (i = 0; i < 3; i++) {
		mkid(x.id, 320 + (unsigned)i);
		CHECK(s->ops->session_create(s, &x) == TS_OK);
		put_secret(s, TS_SECRET_REFRESH, 20 + (unsigned)i, x.id, u.id, 9999);
	}
	CHECK(s->ops->user_sessions_revoke(s, u.id, 90, &n) == TS_OK && n == 3);
	CHECK(get_session(s, x.id, &got) == TS_OK && got.revoked_at == 90);
	mkid(x.id, 310);
	CHECK(get_session(s, x.id, &got) == TS_OK && got.revoked_at == 77);
	mkhash(h, 22);
	CHECK(s->ops->secret_consume(s, TS_SECRET_REFRESH, h, 91, &sec) == TS_E_TOKEN_REUSED);
	CHECK(sec.used_at == 90);
	CHECK(s->ops->user_sessions_revoke(s, u.id, 95, &n) == TS_OK && n == 0);
	CHECK(s->ops->user_sessions_revoke(s, missing, 95, &n) == TS_OK && n == 0);
}

static void
test_secrets(ts_store *s)
{
	ts_secret x = { 0 }, got;
	char h[TS_HASH_SZ];
	int n = -1;

	x.kind = TS_SECRET_MFA_CHALLENGE;
	mkhash(x.hash, 400);
	strcpy(x.tenant_id, "tenant");
	strcpy(x.user_id, "user");
	strcpy(x.data, "{\"attempts\":0}");
	x.created_at = 1;
	x.expires_at = 500;
	CHECK(s->ops->secret_put(s, &x) == TS_OK);
	CHECK(s->ops->secret_put(s, &x) == TS_E_CONFLICT);
	x.kind = TS_SECRET_EMAIL_OTP;               /* same hash, other kind */
	CHECK(s->ops->secret_put(s, &x) == TS_OK);

	CHECK(s->ops->secret_get(s, TS_SECRET_MFA_CHALLENGE, x.hash, &got) == TS_OK);
	CHECK(got.kind == TS_SECRET_MFA_CHALLENGE && got.expires_at == 500 && got.used_at == 0);
	CHECK_STR(got.data, "{\"attempts\":0}");
	CHECK_STR(got.session_id, "");
	CHECK_STR(got.hash, x.hash);
	CHECK(s->ops->secret_get(s, TS_SECRET_REFRESH, x.hash, &got) == TS_E_NOT_FOUND);


	CHECK(s->ops->secret_consume(s, TS_SECRET_MFA_CHALLENGE, x.hash, 42, &got) == TS_OK);
	CHECK(got.used_at == 42);
	CHECK_STR(got.user_id, "user");
	CHECK(s->ops->secret_consume(s, TS_SECRET_MFA_CHALLENGE, x.hash, 43, &got) == TS_E_TOKEN_REUSED);
	CHECK(got.used_at == 42);
	CHECK_STR(got.data, "{\"attempts\":0}");
	mkhash(h, 499);
	CHECK(s->ops->secret_consume(s, TS_SECRET_MFA_CHALLENGE, h, 43, &got) == TS_E_NOT_FOUND);
	CHECK(got.hash[0] == '\0');
	/* inputs may point into the output record */
	got.kind = TS_SECRET_MFA_CHALLENGE;
	mkhash(got.hash, 400);
	CHECK(s->ops->secret_consume(s, got.kind, got.hash, 44, &got) == TS_E_TOKEN_REUSED);
	CHECK(got.used_at == 42 && got.kind == TS_SECRET_MFA_CHALLENGE);
	CHECK(s->ops->secret_get(s, got.kind, got.hash, &got) == TS_OK && got.used_at == 42);
	/* a clock reading of 0 still marks it used */
	CHECK(s->ops->secret_consume(s, TS_SECRET_EMAIL_OTP, x.hash, 0, &got) == TS_OK);
	CHECK(s->ops->secret_consume(s, TS_SECRET_EMAIL_OTP, x.hash, 0, &got) == TS_E_TOKEN_REUSED);

	/* sweep of expired secrets: strictly before, at most limit per call */
	x.kind = TS_SECRET_AUTH_TOKEN;
	mkhash(x.hash, 401);
	x.expires_at = 600;
	CHECK(s->ops->secret_put(s, &x) == TS_OK);
	mkhash(x.hash, 402);
	x.expires_at = 700;
	CHECK(s->ops->secret_put(s, &x) == TS_OK);
	CHECK(s->ops->sweep(s, TS_SWEEP_SECRETS_EXPIRED, 600, 1, &n) == TS_OK && n == 1);
	CHECK(s->ops->sweep(s, TS_SWEEP_SECRETS_EXPIRED, 600, 1000, &n) == TS_OK);
	CHECK(n >= 1);                                   /* the rest at 500, maybe more */
	CHECK(s->ops->sweep(s, TS_SWEEP_SECRETS_EXPIRED, 600, 1000, &n) == TS_OK && n == 0);
	CHECK(s->ops->secret_get(s, TS_SECRET_AUTH_TOKEN, x.hash, &got) == TS_OK);
	mkhash(h, 401);
	CHECK(s->ops->secret_get(s, TS_SECRET_AUTH_TOKEN, h, &got) == TS_OK);
	CHECK(s->ops->sweep(s, TS_SWEEP_SECRETS_EXPIRED, 601, 1000, &n) == TS_OK && n == 1);
	CHECK(s->ops->secret_get(s, TS_SECRET_AUTH_TOKEN, h, &got) == TS_E_NOT_FOUND);
}

/* ---- shared state: buckets and the sweep lease ----------------------- */

typedef struct take_arg {
	ts_store *s;
	int64_t now_ms;
	int granted;
} take_arg;

static void *
take_main(void *p)
{
	take_arg *t = p;
	int wait = -1;

	if (t->s->ops->bucket_take(t->s, "race-bucket", t->now_ms, 0.001, 3, &wait) == TS_OK &&
	    wait == 0)
		t->granted = 1;
	return NULL;
}

/* The per-account limit of every node: one atomic statement per take. */
static void
test_buckets(ts_store *s)
{
	const int64_t t0 = 1000000000;     /* ms */
	pthread_t th[20];
	take_arg ta[20];
	int wait = -1, held = -1, granted = 0;

	/* burst 3, 1 token per second: three takes, then a wait of 1 s */
	for (int i = 0; i < 3; i++)
		CHECK(s->ops->bucket_take(s, "b1", t0, 1, 3, &wait) == TS_OK && wait == 0);
	CHECK(s->ops->bucket_take(s, "b1", t0, 1, 3, &wait) == TS_OK && wait == 1);
	/* half a second later half a token: still a wait of 1 s (rounded up) */
	CHECK(s->ops->bucket_take(s, "b1", t0 + 500, 1, 3, &wait) == TS_OK && wait == 1);
	/* a token given back is there at once */
	CHECK(s->ops->bucket_give(s, "b1", t0 + 500, 1, 3) == TS_OK);
	CHECK(s->ops->bucket_take(s, "b1", t0 + 500, 1, 3, &wait) == TS_OK && wait == 0);
	/* a clock that went back refills nothing */
	CHECK(s->ops->bucket_take(s, "b1", t0 - 10000, 1, 3, &wait) == TS_OK && wait >= 1);
	/* never past burst, however long it was idle */
	for (int i = 0; i < 3; i++)
		CHECK(s->ops->bucket_take(s, "b1", t0 + 3600000, 1, 3, &wait) == TS_OK && wait == 0);
	CHECK(s->ops->bucket_take(s, "b1", t0 + 3600000, 1, 3, &wait) == TS_OK && wait >= 1);
	/* giving to a bucket that does not exist leaves it missing (full) */
	CHECK(s->ops->bucket_give(s, "never", t0, 1, 3) == TS_OK);
	/* a full bucket is swept, a used one is not (before = last touch) */
	int n = -1;
	CHECK(s->ops->sweep(s, TS_SWEEP_BUCKETS, t0 + 3600000, 100, &n) == TS_OK && n == 0);
	CHECK(s->ops->sweep(s, TS_SWEEP_BUCKETS, t0 + 3600001, 100, &n) == TS_OK && n == 1);
	/* twenty at once on one key with burst 3: exactly three get a token */
	for (int i = 0; i < 20; i++) {
		ta[i] = (take_arg){ .s = s, .now_ms = t0 };
		pthread_create(&th[i], NULL, take_main, &ta[i]);
	}
	for (int i = 0; i < 20; i++) {
		pthread_join(th[i], NULL);
		granted += ta[i].granted;
	}
	CHECK(granted == 3);

	/* the lease: one holder; renewed by it; taken over once run out */
	CHECK(s->ops->sweep_lease(s, "node-a", 1000, 60, &held) == TS_OK && held == 1);
	CHECK(s->ops->sweep_lease(s, "node-b", 1010, 60, &held) == TS_OK && held == 0);
	CHECK(s->ops->sweep_lease(s, "node-a", 1050, 60, &held) == TS_OK && held == 1);
	CHECK(s->ops->sweep_lease(s, "node-b", 1100, 60, &held) == TS_OK && held == 0);
	CHECK(s->ops->sweep_lease(s, "node-b", 1110, 60, &held) == TS_OK && held == 1);
	CHECK(s->ops->sweep_lease(s, "node-a", 1120, 60, &held) == TS_OK && held == 0);
}

/* ---- signing keys ---------------------------------------------------- */

struct key_seen {
	char order[128];
	int64_t retired[8], until[8];
	int n, stop_at;
};

static int
collect_keys(void *arg, const ts_signing_key *k)
{
	struct key_seen *ks = arg;

	strcat(ks->order, k->kid);
	strcat(ks->order, ",");
	if (ks->n < 8) {
		ks->retired[ks->n] = k->retired_at;
		ks->until[ks->n] = k->publish_until;
	}
	CHECK(strncmp(k->private_pem, "-----BEGIN", 10) == 0);
	return ++ks->n == ks->stop_at;
}

static int
find_k1(void *arg, const ts_signing_key *k)
{
	ts_signing_key *out = arg;

	if (strcmp(k->kid, "k1") != 0)
		return 0;
	out->activate_at = k->activate_at;
	out->revoked_at = k->revoked_at;
	return 1;
}

/* Issue 7 item 9: revocation, and the version every key change bumps. */
static void
test_key_revoke(ts_store *s)
{
	ts_signing_key got = { 0 }, k = { 0 };
	int64_t v0 = -1, v1 = -1, v2 = -1, v3 = -1;

	CHECK(s->ops->key_version(s, &v0) == TS_OK && v0 > 0);
	CHECK(s->ops->key_revoke(s, "nope", 700) == TS_E_NOT_FOUND);
	CHECK(s->ops->key_revoke(s, "k1", 700) == TS_OK);
	CHECK(s->ops->key_version(s, &v1) == TS_OK && v1 > v0);
	CHECK(s->ops->key_revoke(s, "k1", 800) == TS_OK);   /* the first time stays */
	CHECK(s->ops->key_list(s, find_k1, &got) == TS_OK);
	CHECK(got.revoked_at == 700);
	CHECK(s->ops->key_version(s, &v2) == TS_OK && v2 >= v1);
	k.private_pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQ==\n-----END PRIVATE KEY-----\n";
	strcpy(k.alg, "EdDSA");
	strcpy(k.kid, "k5");
	k.created_at = 900;
	k.activate_at = 960;
	CHECK(s->ops->key_add(s, &k) == TS_OK);
	CHECK(s->ops->key_version(s, &v3) == TS_OK && v3 > v2);
}

static void
test_keys(ts_store *s)
{
	static const struct { const char *kid; int64_t at; } keys[] = {
		{ "k1", 100 }, { "k2", 300 }, { "k3", 200 }, { "k4", 300 },
	};
	ts_signing_key k = { 0 };
	struct key_seen ks = { .stop_at = -1 };
	size_t i;

	k.private_pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQ==\n-----END PRIVATE KEY-----\n";
	strcpy(k.alg, "EdDSA");
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		strcpy(k.kid, keys[i].kid);
		k.created_at = keys[i].at;
		CHECK(s->ops->key_add(s, &k) == TS_OK);
	}
	CHECK(s->ops->key_add(s, &k) == TS_E_CONFLICT);
	CHECK(s->ops->key_list(s, collect_keys, &ks) == TS_OK);
	CHECK_STR(ks.order, "k4,k2,k3,k1,");       /* newest first, ties: kid descending */

	CHECK(s->ops->key_retire_others(s, "nope", 400, 500) == TS_E_NOT_FOUND);
	CHECK(s->ops->key_retire_others(s, "k4", 400, 500) == TS_OK);
	memset(&ks, 0, sizeof ks);
	ks.stop_at = -1;
	CHECK(s->ops->key_list(s, collect_keys, &ks) == TS_OK);
	CHECK(ks.retired[0] == 0 && ks.until[0] == 0);              /* k4 */
	CHECK(ks.retired[1] == 400 && ks.until[1] == 500);          /* k2 */
	CHECK(ks.retired[3] == 400 && ks.until[3] == 500);          /* k1 */
	/* already retired keys keep their dates */
	CHECK(s->ops->key_retire_others(s, "k4", 450, 900) == TS_OK);
	memset(&ks, 0, sizeof ks);
	ks.stop_at = 2;
	CHECK(s->ops->key_list(s, collect_keys, &ks) == TS_OK);
	CHECK_STR(ks.order, "k4,k2,");
	CHECK(ks.retired[1] == 400 && ks.until[1] == 500);
	test_key_revoke(s);
}

/* ---- TOTP ------------------------------------------------------------ */

static void
test_totp(ts_store *s)
{
	ts_tenant t;
	ts_user u;
	ts_totp x = { 0 }, got;
	char missing[TS_ID_SZ];

	seed(s, 500, 501, &t, &u);
	mkid(missing, 599);
	memcpy(x.user_id, u.id, sizeof x.user_id);
	strcpy(x.secret_b32, "JBSWY3DPEHPK3PXP");
	x.created_at = 5;
	CHECK(s->ops->totp_put(s, &x) == TS_OK);
	strcpy(x.secret_b32, "KRSXG5CTMVRXEZLU");       /* unconfirmed: replaced */
	x.created_at = 6;
	CHECK(s->ops->totp_put(s, &x) == TS_OK);
	CHECK(s->ops->totp_get(s, u.id, &got) == TS_OK);
	CHECK_STR(got.secret_b32, "KRSXG5CTMVRXEZLU");
	CHECK(got.confirmed == 0 && got.created_at == 6 && got.last_step == 0);
	CHECK(s->ops->totp_get(s, missing, &got) == TS_E_NOT_FOUND);

	CHECK(s->ops->totp_use_step(s, u.id, 1000) == TS_OK);
	CHECK(s->ops->totp_use_step(s, u.id, 1000) == TS_E_TOKEN_REUSED);   /* replay */
	CHECK(s->ops->totp_use_step(s, u.id, 999) == TS_E_TOKEN_REUSED);    /* older */
	CHECK(s->ops->totp_use_step(s, u.id, 1001) == TS_OK);
	CHECK(s->ops->totp_use_step(s, missing, 5) == TS_E_NOT_FOUND);
	CHECK(s->ops->totp_confirm(s, u.id) == TS_OK);
	CHECK(s->ops->totp_confirm(s, missing) == TS_E_NOT_FOUND);
	CHECK(s->ops->totp_get(s, u.id, &got) == TS_OK);
	CHECK(got.confirmed == 1 && got.last_step == 1001);
	strcpy(x.secret_b32, "AAAAAAAAAAAAAAAA");       /* confirmed: kept */
	CHECK(s->ops->totp_put(s, &x) == TS_E_CONFLICT);
	CHECK(s->ops->totp_get(s, u.id, &got) == TS_OK);
	CHECK_STR(got.secret_b32, "KRSXG5CTMVRXEZLU");
	CHECK(s->ops->totp_delete(s, u.id) == TS_OK);
	CHECK(s->ops->totp_delete(s, u.id) == TS_E_NOT_FOUND);
	CHECK(s->ops->totp_put(s, &x) == TS_OK);
}

/* ---- migrations and reopen ------------------------------------------- */

static int
user_version(const char *name)
{
	char p[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int v = -1;

	db_path(p, sizeof p, name);
	if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
test_reopen_sqlite(void)
{
	ts_store *s;
	ts_tenant t, got;
	ts_user u;
	char p[128];
	sqlite3 *db = NULL;

	s = open_db("r.db", NULL);
	seed(s, 600, 601, &t, &u);
	ts_store_close(s);
	CHECK(user_version("r.db") == sq_migration_count);
	s = open_db("r.db", NULL);                 /* migrations already applied */
	CHECK(s->ops->tenant_by_id(s, t.id, &got) == TS_OK);
	CHECK_STR(got.slug, "tenant-600");
	ts_store_close(s);
	CHECK(user_version("r.db") == sq_migration_count);

	/* a file from a newer build is refused */
	db_path(p, sizeof p, "r.db");
	CHECK(sqlite3_open(p, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	s = NULL;
	snprintf(p, sizeof p, "%s/r.db", dir);
	CHECK(ts_store_open(p, &s) == TS_E_INTERNAL && s == NULL);
	db_remove("r.db");
}

/* The migration engine on its own: only new steps run, in order. */
static void
test_migrate_steps_sqlite(void)
{
	static const char *const steps[] = {
		"CREATE TABLE a(x); INSERT INTO a VALUES(1);",
		"INSERT INTO a VALUES(2);",
		"INSERT INTO a VALUES(3);",
		"THIS IS NOT SQL",
	};
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char p[128];
	int sum = -1;

	db_path(p, sizeof p, "m.db");
	CHECK(sqlite3_open(p, &db) == SQLITE_OK);
	CHECK(sq_migrate(db, steps, 1) == TS_OK);
	CHECK(sq_migrate(db, steps, 1) == TS_OK);
	CHECK(sq_migrate(db, steps, 3) == TS_OK);
	CHECK(sq_migrate(db, steps, 3) == TS_OK);
	CHECK(sq_migrate(db, steps, 2) == TS_E_INTERNAL);     /* file is newer */
	fprintf(stderr, "(an error about \"THIS\" is expected next)\n");
	CHECK(sq_migrate(db, steps, 4) == TS_E_INTERNAL);     /* bad step: rolled back */
	CHECK(sqlite3_prepare_v2(db, "SELECT sum(x) * 10 + count(*) FROM a", -1, &st, NULL) == SQLITE_OK);
	if (st && sqlite3_step(st) == SQLITE_ROW)
		sum = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	CHECK(sum == 63);                                      /* 1+2+3, three rows */
	CHECK(user_version("m.db") == 3);
	db_remove("m.db");
}

/* Migration 8 (the last) moves TOTP rows into factors and leaves a view named totp. */
static void
test_migrate_totp_sqlite(void)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char p[128], got[256] = "";

	db_path(p, sizeof p, "m8.db");
	CHECK(sqlite3_open(p, &db) == SQLITE_OK);
	CHECK(sq_migrate(db, sq_migrations, 7) == TS_OK);     /* before factors */
	CHECK(sqlite3_exec(db,
	      "INSERT INTO tenants(id, slug, created_at) VALUES('t1', 'acme', 1);"
	      "INSERT INTO users(id, tenant_id, email, email_norm, password_hash, created_at) "
	      "VALUES('u1', 't1', 'a@x', 'a@x', '', 1);"
	      "INSERT INTO totp(user_id, secret_b32, confirmed, last_step, created_at) "
	      "VALUES('u1', 'sealed', 1, 4242, 77);", NULL, NULL, NULL) == SQLITE_OK || (fprintf(stderr, "%s\n", sqlite3_errmsg(db)), 0));
	CHECK(sq_migrate(db, sq_migrations, sq_migration_count) == TS_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT tenant_id || ' ' || user_id || ' ' || kind || ' ' || "
	      "data || ' ' || confirmed || ' ' || counter || ' ' || created_at || ' ' || "
	      "length(id) || substr(id, 15, 1) FROM factors", -1, &st, NULL) == SQLITE_OK);
	if (st && sqlite3_step(st) == SQLITE_ROW)
		snprintf(got, sizeof got, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	CHECK_STR(got, "t1 u1 1 sealed 1 4242 77 364");
	got[0] = '\0';
	CHECK(sqlite3_prepare_v2(db, "SELECT secret_b32 || last_step FROM totp", -1, &st, NULL) == SQLITE_OK);
	if (st && sqlite3_step(st) == SQLITE_ROW)
		snprintf(got, sizeof got, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	CHECK_STR(got, "sealed4242");
	sqlite3_close(db);
	db_remove("m8.db");
}

/* ---- concurrency ----------------------------------------------------- */

struct race {
	ts_store *s;
	pthread_barrier_t go;
	const char *id;      /* user for login_failed */
	char hash[TS_HASH_SZ];
	ts_err res[64];
	int count[64];
	int next;
	pthread_mutex_t mu;
};

static int
race_slot(struct race *r)
{
	int i;

	pthread_mutex_lock(&r->mu);
	i = r->next++;
	pthread_mutex_unlock(&r->mu);
	return i;
}

static void *
consume_main(void *arg)
{
	struct race *r = arg;
	ts_secret out;
	int i = race_slot(r);

	pthread_barrier_wait(&r->go);
	r->res[i] = r->s->ops->secret_consume(r->s, TS_SECRET_REFRESH, r->hash, 1234, &out);
	return NULL;
}

/* The same on the read-then-consume path of access tokens. */
static void *
consume_access_main(void *arg)
{
	struct race *r = arg;
	ts_secret out;
	int i = race_slot(r);

	pthread_barrier_wait(&r->go);
	if (r->s->ops->secret_get(r->s, TS_SECRET_ACCESS, r->hash, &out) != TS_OK)
		r->res[i] = TS_E_INTERNAL;
	else
		r->res[i] = r->s->ops->secret_consume(r->s, TS_SECRET_ACCESS, r->hash, 9, &out);
	return NULL;
}

/* Guesses at one challenge: secret_attempt is the whole try budget. */
static void *
attempt_main(void *arg)
{
	struct race *r = arg;
	int i = race_slot(r);

	pthread_barrier_wait(&r->go);
	r->res[i] = r->s->ops->secret_attempt(r->s, TS_SECRET_MFA_CHALLENGE, r->hash, 5,
	                                      &r->count[i]);
	return NULL;
}

static void *
failed_main(void *arg)
{
	struct race *r = arg;
	int i = race_slot(r);

	pthread_barrier_wait(&r->go);
	ts_lock l;

	r->res[i] = r->s->ops->lock_fail(r->s, r->id, "t", "e", 7000, 10, 300, &l);
	r->count[i] = l.failures;
	return NULL;
}

/* Twenty refreshes with one token at once: one rotation, each with its
 * own successor hash (i). */
static void *
rotate_main(void *arg)
{
	struct race *r = arg;
	char next[TS_HASH_SZ];
	ts_secret out;
	int i = race_slot(r);

	mkhash(next, 7100 + (unsigned)i);
	pthread_barrier_wait(&r->go);
	r->res[i] = r->s->ops->secret_rotate(r->s, TS_SECRET_REFRESH, r->hash, 1234, next, 9999,
	                                     &out);
	return NULL;
}

static void
run_race(struct race *r, int n, void *(*fn)(void *))
{
	pthread_t th[64];
	int i;

	r->next = 0;
	pthread_mutex_init(&r->mu, NULL);
	pthread_barrier_init(&r->go, NULL, (unsigned)n);
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, fn, r);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r->go);
	pthread_mutex_destroy(&r->mu);
}

/* Forty rotations of forty tokens at once, the way concurrent refreshes
 * reach a group commit (store/group.h): each gets its own verdict in the
 * shared transaction. Every tenth token is absent and every tenth but one
 * was spent before; neither may fail or undo the others. */
struct batch_race {
	ts_store *s;
	pthread_barrier_t *go;
	int i;
	ts_err res;
	ts_secret out;
};

static void *
batch_main(void *arg)
{
	struct batch_race *b = arg;
	char old[TS_HASH_SZ], next[TS_HASH_SZ];

	mkhash(old, 7200 + (unsigned)b->i);
	mkhash(next, 7300 + (unsigned)b->i);
	pthread_barrier_wait(b->go);
	b->res = b->s->ops->secret_rotate(b->s, TS_SECRET_REFRESH, old, 1500, next, 9999, &b->out);
	return NULL;
}

static void
test_rotate_batch(ts_store *s)
{
	enum { N = 40 };
	struct batch_race b[N];
	pthread_barrier_t go;
	pthread_t th[N];
	char sid[32], h[TS_HASH_SZ];
	ts_secret got;
	int i;

	for (i = 0; i < N; i++) {
		snprintf(sid, sizeof sid, "sess-b%d", i);
		if (i % 10 != 9)
			put_secret(s, TS_SECRET_REFRESH, 7200 + (unsigned)i, sid, "user", 9999);
		if (i % 10 == 8) {
			mkhash(h, 7200 + (unsigned)i);
			CHECK(s->ops->secret_consume(s, TS_SECRET_REFRESH, h, 1400, &got) == TS_OK);
		}
	}
	pthread_barrier_init(&go, NULL, N);
	for (i = 0; i < N; i++) {
		b[i] = (struct batch_race){ .s = s, .go = &go, .i = i };
		pthread_create(&th[i], NULL, batch_main, &b[i]);
	}
	for (i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < N; i++) {
		snprintf(sid, sizeof sid, "sess-b%d", i);
		mkhash(h, 7300 + (unsigned)i);
		if (i % 10 == 9) {
			CHECK(b[i].res == TS_E_NOT_FOUND);
			CHECK(s->ops->secret_get(s, TS_SECRET_REFRESH, h, &got) == TS_E_NOT_FOUND);
		} else if (i % 10 == 8) {
			CHECK(b[i].res == TS_E_TOKEN_REUSED);
			CHECK(b[i].out.used_at == 1400);   /* the earlier spend, not ours */
			CHECK(s->ops->secret_get(s, TS_SECRET_REFRESH, h, &got) == TS_E_NOT_FOUND);
		} else {
			CHECK(b[i].res == TS_OK);
			CHECK_STR(b[i].out.session_id, sid);
			CHECK(s->ops->secret_get(s, TS_SECRET_REFRESH, h, &got) == TS_OK);
			CHECK_STR(got.session_id, sid);
			CHECK(got.used_at == 0 && got.created_at == 1500 && got.expires_at == 9999);
			mkhash(h, 7200 + (unsigned)i);
			CHECK(s->ops->secret_get(s, TS_SECRET_REFRESH, h, &got) == TS_OK);
			CHECK(got.used_at == 1500);
		}
	}
}

static void
test_races(ts_store *s)
{
	struct race r = { .s = s };
	ts_tenant t;
	ts_user u;
	int ok = 0, reused = 0, i, seen[51] = { 0 }, distinct = 0;

	put_secret(s, TS_SECRET_REFRESH, 700, "sess", "user", 9999);
	mkhash(r.hash, 700);
	run_race(&r, 20, consume_main);
	for (i = 0; i < 20; i++) {
		ok += r.res[i] == TS_OK;
		reused += r.res[i] == TS_E_TOKEN_REUSED;
	}
	CHECK(ok == 1);
	CHECK(reused == 19);

	/* the 20-way refresh race: one rotation, one successor stored */
	put_secret(s, TS_SECRET_REFRESH, 701, "sess-r", "user", 9999);
	mkhash(r.hash, 701);
	run_race(&r, 20, rotate_main);
	ok = reused = 0;
	for (i = 0; i < 20; i++) {
		ok += r.res[i] == TS_OK;
		reused += r.res[i] == TS_E_TOKEN_REUSED;
	}
	CHECK(ok == 1);
	CHECK(reused == 19);
	{
		ts_secret got;
		char h[TS_HASH_SZ];
		int live = 0;

		for (i = 0; i < 20; i++) {
			mkhash(h, 7100 + (unsigned)i);
			if (s->ops->secret_get(s, TS_SECRET_REFRESH, h, &got) == TS_OK) {
				live++;
				CHECK_STR(got.session_id, "sess-r");
				CHECK(got.used_at == 0 && got.created_at == 1234);
			}
		}
		CHECK(live == 1);
	}

	/* 20 guesses at once at a challenge allowing 5: exactly 5 are let
	 * through, numbered 1..5 once each; the rest find none left. */
	put_secret(s, TS_SECRET_MFA_CHALLENGE, 705, "", "user", 9999);
	mkhash(r.hash, 705);
	run_race(&r, 20, attempt_main);
	ok = 0;
	int nf = 0, tries[6] = { 0 };
	for (i = 0; i < 20; i++) {
		if (r.res[i] == TS_OK && r.count[i] >= 1 && r.count[i] <= 5 && !tries[r.count[i]]++)
			ok++;
		nf += r.res[i] == TS_E_NOT_FOUND && r.count[i] == 0;
	}
	CHECK(ok == 5);
	CHECK(nf == 15);
	memset(r.count, 0, sizeof(r.count));

	/* 50 failed logins at once on one account: all 50 counted */
	seed(s, 710, 711, &t, &u);
	r.id = "t|race@example.com";
	run_race(&r, 50, failed_main);
	for (i = 0; i < 50; i++) {
		CHECK(r.res[i] == TS_OK);
		if (r.count[i] >= 1 && r.count[i] <= 50 && !seen[r.count[i]]++)
			distinct++;
	}
	CHECK(distinct == 50);                 /* every count 1..50 seen once */
	{
		ts_lock l;

		CHECK(s->ops->lock_get(s, r.id, &l) == TS_OK);
		CHECK(l.failures == 50 && l.locked_until == 7300);
	}
}

/* ---- unavailability -------------------------------------------------- */

struct writer {
	ts_store *s;
	const char *id;
	ts_err r;
	int64_t ms;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	int64_t t0 = ms_now();

	w->r = w->s->ops->tenant_add_origin(w->s, w->id, "https://w.example");
	w->ms = ms_now() - t0;
	return NULL;
}

/* Runs 8 writers at once against a locked file; returns the slowest's ms. */
static int64_t
queued_writers(ts_store *s, const char *id)
{
	struct writer w[8];
	pthread_t th[8];
	int64_t worst = 0;
	int i;

	for (i = 0; i < 8; i++) {
		w[i] = (struct writer){ s, id, TS_OK, 0 };
		pthread_create(&th[i], NULL, writer_main, &w[i]);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		CHECK(w[i].r == TS_E_STORE_UNAVAILABLE);
		if (w[i].ms > worst)
			worst = w[i].ms;
	}
	return worst;
}

/* Another process-like connection takes the file for itself: every op,
 * reads included, must give up within about the busy timeout. */
static void
test_exclusive_lock_sqlite(void)
{
	ts_store *s;
	ts_tenant t = { 0 }, got;
	ts_session sess;
	char p[128];
	sqlite3 *db = NULL;
	int64_t t0, waited;
	ts_err r;

	s = open_db("x.db", "?busy_timeout=200&idle_ms=50");
	mkid(t.id, 800);
	strcpy(t.slug, "locked");
	CHECK(s->ops->tenant_create(s, &t) == TS_OK);
	msleep(300);        /* idle connections closed, so none holds a lock */

	db_path(p, sizeof p, "x.db");
	CHECK(sqlite3_open(p, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; "
	                   "UPDATE tenants SET mfa_required = 1;", NULL, NULL, NULL) == SQLITE_OK);

	t0 = ms_now();
	r = s->ops->tenant_add_origin(s, t.id, "https://a.example");
	waited = ms_now() - t0;
	CHECK(r == TS_E_STORE_UNAVAILABLE);
	CHECK(waited >= 150 && waited < 1000);
	t0 = ms_now();
	CHECK(get_session(s, "x", &sess) == TS_E_STORE_UNAVAILABLE);
	CHECK(s->ops->ping(s) == TS_E_STORE_UNAVAILABLE);
	CHECK(ms_now() - t0 < 2000);

	/* many queued writers: each gives up within its own deadline */
	CHECK(queued_writers(s, t.id) < 1000);

	CHECK(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK(s->ops->ping(s) == TS_OK);
	CHECK(s->ops->tenant_add_origin(s, t.id, "https://a.example") == TS_OK);
	CHECK(s->ops->tenant_origin_allowed(s, t.id, "https://a.example") == TS_OK);
	CHECK(s->ops->tenant_by_id(s, t.id, &got) == TS_OK);
	ts_store_close(s);

	/* and at open: the lock is there first */
	CHECK(sqlite3_open(p, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; "
	                   "UPDATE tenants SET mfa_required = 1;", NULL, NULL, NULL) == SQLITE_OK);
	snprintf(p, sizeof p, "sqlite:%s/x.db?busy_timeout=100", dir);
	s = NULL;
	t0 = ms_now();
	CHECK(ts_store_open(p, &s) == TS_E_STORE_UNAVAILABLE && s == NULL);
	CHECK(ms_now() - t0 < 1000);
	sqlite3_close(db);
	db_remove("x.db");
}

/* Open descriptors outlive chmod and unlink; the store must not. */
static void
test_file_gone_sqlite(void)
{
	ts_store *s;
	ts_tenant t = { 0 }, got;
	char p[128];

	s = open_db("g.db", "?busy_timeout=200&stat_ms=0");
	mkid(t.id, 900);
	strcpy(t.slug, "gone");
	CHECK(s->ops->tenant_create(s, &t) == TS_OK);
	db_path(p, sizeof p, "g.db");

	CHECK(chmod(p, 0) == 0);
	CHECK(s->ops->ping(s) == TS_E_STORE_UNAVAILABLE);
	CHECK(s->ops->tenant_by_id(s, t.id, &got) == TS_E_STORE_UNAVAILABLE);
	CHECK(chmod(p, 0600) == 0);
	CHECK(s->ops->tenant_by_id(s, t.id, &got) == TS_OK);

	db_remove("g.db");
	CHECK(s->ops->ping(s) == TS_E_STORE_UNAVAILABLE);
	t.slug[0] = 'G';
	mkid(t.id, 901);
	CHECK(s->ops->tenant_create(s, &t) == TS_E_STORE_UNAVAILABLE);
	ts_store_close(s);
	db_remove("g.db");
}

/* Issue 13: a good file check holds for stat_ms, so a busy server stats
 * the path at most every stat_ms (default 100 ms), not once per op; a bad
 * one is never held. */
static void
test_file_check_interval_sqlite(void)
{
	ts_store *s;
	ts_tenant t = { 0 }, got;
	char p[128];

	s = open_db("ci.db", "?busy_timeout=200&stat_ms=60000");
	mkid(t.id, 920);
	strcpy(t.slug, "held");
	CHECK(s->ops->tenant_create(s, &t) == TS_OK);
	db_path(p, sizeof p, "ci.db");
	CHECK(chmod(p, 0) == 0);
	/* Checked good a moment ago: held, not stat'ed again. */
	CHECK(s->ops->tenant_by_id(s, t.id, &got) == TS_OK);
	CHECK(s->ops->ping(s) == TS_OK);
	CHECK(chmod(p, 0600) == 0);
	ts_store_close(s);
	s = NULL;
	CHECK(ts_store_open("sqlite:/nonexistent-dir/x.db?stat_ms=60001", &s) == TS_E_INVALID &&
	      s == NULL);
	db_remove("ci.db");
}

/* Issue 7 item 10: made 0600 whatever the umask; -wal and -shm follow. */
static void
test_file_modes_sqlite(void)
{
	ts_store *s;
	struct stat st;
	char p[128], q[140];
	mode_t old = umask(022);

	s = open_db("m0.db", "?idle_ms=0");
	umask(old);
	CHECK(s && s->ops->ping(s) == TS_OK);
	db_path(p, sizeof p, "m0.db");
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
	snprintf(q, sizeof q, "%s-wal", p);
	CHECK(stat(q, &st) == 0 && (st.st_mode & 0777) == 0600);
	snprintf(q, sizeof q, "%s-shm", p);
	CHECK(stat(q, &st) == 0 && (st.st_mode & 0777) == 0600);
	ts_store_close(s);
	db_remove("m0.db");
}

/* A database removed while open answers UNAVAILABLE; a copy put back at
 * the path is reopened (and written to); an empty file is not taken. */
static void
test_file_restored_sqlite(void)
{
	ts_store *s;
	ts_tenant t = { 0 }, got;
	char p[128], copy[160], sqlq[200];
	sqlite3 *db = NULL;

	s = open_db("rs.db", "?busy_timeout=200&stat_ms=0");
	mkid(t.id, 950);
	strcpy(t.slug, "kept");
	CHECK(s->ops->tenant_create(s, &t) == TS_OK);
	db_path(p, sizeof p, "rs.db");
	snprintf(copy, sizeof copy, "%s.copy", p);
	snprintf(sqlq, sizeof sqlq, "VACUUM INTO '%s'", copy);
	CHECK(sqlite3_open(p, &db) == SQLITE_OK && sqlite3_exec(db, sqlq, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);

	CHECK(unlink(p) == 0);
	CHECK(s->ops->ping(s) == TS_E_STORE_UNAVAILABLE);
	CHECK(rename(copy, p) == 0);
	CHECK(s->ops->ping(s) == TS_OK);
	CHECK(s->ops->tenant_by_id(s, t.id, &got) == TS_OK && strcmp(got.slug, "kept") == 0);
	mkid(t.id, 951);
	strcpy(t.slug, "after");
	CHECK(s->ops->tenant_create(s, &t) == TS_OK);
	CHECK(s->ops->tenant_by_slug(s, "after", &got) == TS_OK);

	/* An empty file is no restore: left empty, the store stays down. */
	CHECK(unlink(p) == 0);
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK(s->ops->ping(s) == TS_E_STORE_UNAVAILABLE);
	struct stat st;
	CHECK(stat(p, &st) == 0 && st.st_size == 0);
	ts_store_close(s);
	db_remove("rs.db");
}

/* Fewer connections than threads: callers queue for one. */
static void
test_small_pool_sqlite(void)
{
	ts_store *s = open_db("p.db", "?pool=2");
	struct race r = { .s = s };
	int ok = 0, i;

	put_secret(s, TS_SECRET_ACCESS, 1, "sess", "user", 9999);
	r.s = s;
	mkhash(r.hash, 1);
	run_race(&r, 20, consume_access_main);
	for (i = 0; i < 20; i++)
		ok += r.res[i] == TS_OK;
	CHECK(ok == 1);
	ts_store_close(s);
	db_remove("p.db");
}

/* ---- speed of the token paths (informational) ------------------------ */

struct bench {
	ts_store *s;
	unsigned base;
	int n;
};

static void *
bench_main(void *arg)
{
	struct bench *b = arg;
	ts_secret x = { 0 }, out;
	ts_session sess;
	ts_user u;
	ts_tenant t;
	int i;

	for (i = 0; i < b->n; i++) {
		x.kind = TS_SECRET_REFRESH;
		mkhash(x.hash, b->base + (unsigned)i);
		strcpy(x.session_id, "00000000-0000-4000-8000-000000000310");
		x.expires_at = 10;
		if (b->s->ops->secret_put(b->s, &x) != TS_OK ||
		    b->s->ops->secret_get(b->s, x.kind, x.hash, &out) != TS_OK ||
		    b->s->ops->session_principal(b->s, x.session_id, &sess, &u, &t) == TS_E_INTERNAL ||
		    b->s->ops->secret_consume(b->s, x.kind, x.hash, 5, &out) != TS_OK)
			break;
	}
	b->n = i;
	return NULL;
}

static void
test_bench(ts_store *s)
{
	enum { THREADS = 4, EACH_SQLITE = 5000, EACH_PG = 500 };
	const int EACH = on_pg ? EACH_PG : EACH_SQLITE;
	struct bench b[THREADS];
	pthread_t th[THREADS];
	int64_t t0 = ms_now(), ms;
	int i, done = 0;

	for (i = 0; i < THREADS; i++) {
		b[i] = (struct bench){ s, 100000 + (unsigned)i * EACH, EACH };
		pthread_create(&th[i], NULL, bench_main, &b[i]);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		done += b[i].n;
	}
	ms = ms_now() - t0;
	CHECK(done == THREADS * EACH);
	fprintf(stderr, "bench: %d x (put+get+principal+consume) on %d threads in %lld ms"
	        " = %lld ops/s\n", done, THREADS, (long long)ms,
	        (long long)(ms ? (int64_t)done * 4 * 1000 / ms : 0));
}

/* ---- PostgreSQL -------------------------------------------------------- */

/* PQexec on the admin DSN; 0 when it worked. */
static int
pg_admin(const char *dsn, const char *sql)
{
	PGconn *c = PQconnectdb(dsn);
	PGresult *res;
	int bad;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pg admin: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	res = PQexec(c, sql);
	bad = PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK;
	if (bad)
		fprintf(stderr, "pg admin: %s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(c);
	return bad ? -1 : 0;
}

/* The admin DSN with database db instead of its own: a URI's path is
 * replaced, a keyword form gets a later dbname= (the last one wins). */
static void
pg_dsn_for(const char *admin, const char *db, char *out, size_t n)
{
	const char *sep = strstr(admin, "://"), *path, *q;

	if (!sep) {
		snprintf(out, n, "%s dbname=%s", admin, db);
		return;
	}
	path = strchr(sep + 3, '/');
	q = strchr(sep + 3, '?');
	if (!path || (q && path > q))
		path = q ? q : admin + strlen(admin);
	snprintf(out, n, "%.*s/%s%s", (int)(path - admin), admin, db, q ? q : "");
}

static char pg_admin_dsn[512];
static unsigned pg_seq;

/* A fresh database for one test; its DSN in out. */
static int
pg_fresh(char *out, size_t n, char *name, size_t namelen)
{
	char sql[128];

	snprintf(name, namelen, "ts_test_%d_%u", (int)getpid(), pg_seq++);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	if (pg_admin(pg_admin_dsn, sql) != 0)
		return -1;
	pg_dsn_for(pg_admin_dsn, name, out, n);
	return 0;
}

static void
pg_drop(const char *name)
{
	char sql[128];

	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	(void)pg_admin(pg_admin_dsn, sql);
}

struct opener {
	const char *dsn;
	ts_err r;
	ts_store *s;
};

static void *
open_main(void *arg)
{
	struct opener *o = arg;

	o->r = ts_store_open(o->dsn, &o->s);
	return NULL;
}

/* Modes, versions, migrations under the advisory lock, and the password
 * never shown. */
static void
test_open_pg(void)
{
	char dsn[600], name[64], bad[700], sql[256];
	const char *pw;
	struct opener op[6];
	pthread_t th[6];
	ts_store *s = NULL;
	int cur = -1, latest = -1, i, ok = 0;

	if (pg_fresh(dsn, sizeof dsn, name, sizeof name) != 0) {
		CHECK(!"cannot create a test database");
		return;
	}
	/* INSPECT and EXISTING on an empty database create nothing */
	CHECK(ts_store_open_mode(dsn, TS_STORE_INSPECT, &s) == TS_OK);
	CHECK(s && s->ops->schema_status(s, &cur, &latest) == TS_OK);
	CHECK(cur == 0 && latest >= 5);
	ts_store_close(s);
	s = NULL;
	CHECK(ts_store_open_mode(dsn, TS_STORE_EXISTING, &s) == TS_E_NOT_FOUND && s == NULL);
	CHECK(strstr(ts_store_open_error(), "no Tessera schema") != NULL);
	CHECK(ts_store_open_mode(dsn, TS_STORE_INSPECT, &s) == TS_OK);
	CHECK(s && s->ops->schema_status(s, &cur, &latest) == TS_OK && cur == 0);
	ts_store_close(s);

	/* six nodes start at once: every open succeeds, one schema results */
	for (i = 0; i < 6; i++) {
		op[i] = (struct opener){ dsn, TS_E_INTERNAL, NULL };
		pthread_create(&th[i], NULL, open_main, &op[i]);
	}
	for (i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		ok += op[i].r == TS_OK;
	}
	CHECK(ok == 6);
	CHECK(op[0].s && op[0].s->ops->schema_status(op[0].s, &cur, &latest) == TS_OK);
	CHECK(cur == latest);
	{
		ts_tenant t = { 0 }, got;

		strcpy(t.id, "pg-t");
		strcpy(t.slug, "pg-t");
		CHECK(op[1].s && op[1].s->ops->tenant_create(op[1].s, &t) == TS_OK);
		CHECK(op[2].s && op[2].s->ops->tenant_by_slug(op[2].s, "pg-t", &got) == TS_OK);
	}
	for (i = 0; i < 6; i++)
		ts_store_close(op[i].s);
	s = NULL;
	CHECK(ts_store_open_mode(dsn, TS_STORE_EXISTING, &s) == TS_OK);
	CHECK(s && strcmp(s->ops->scheme, "postgres") == 0);
	CHECK(s && strstr(s->ops->location(s), name) != NULL);
	ts_store_close(s);

	/* a schema newer than this build is refused, but db status reads it */
	{
		char dsn2[700];

		pg_dsn_for(pg_admin_dsn, name, dsn2, sizeof dsn2);
		CHECK(pg_admin(dsn2, "UPDATE schema_version SET version = 999") == 0);
		s = NULL;
		CHECK(ts_store_open(dsn2, &s) == TS_E_INTERNAL && s == NULL);
		CHECK(strstr(ts_store_open_error(), "newer") != NULL);
		CHECK(ts_store_open_mode(dsn2, TS_STORE_INSPECT, &s) == TS_OK);
		CHECK(s && s->ops->schema_status(s, &cur, &latest) == TS_OK && cur == 999);
		ts_store_close(s);
	}

	/* a wrong password, an unknown option: the password never shows */
	pw = getenv("TESSERA_TEST_PG_PASSWORD");
	if (strstr(dsn, "://") && strchr(dsn, '@')) {
		const char *at = strchr(dsn, '@'), *colon = memchr(dsn + 13, ':', (size_t)(at - dsn - 13));

		if (colon) {
			snprintf(bad, sizeof bad, "%.*sWrongPw-s3cr3t%s", (int)(colon + 1 - dsn), dsn, at);
			s = NULL;
			CHECK(ts_store_open(bad, &s) == TS_E_STORE_UNAVAILABLE && s == NULL);
			CHECK(ts_store_open_error()[0] != '\0');
			CHECK(strstr(ts_store_open_error(), "WrongPw-s3cr3t") == NULL);
			snprintf(bad, sizeof bad, "%.*sWrongPw-s3cr3t%s%sbogus_opt=1", (int)(colon + 1 - dsn),
			         dsn, at, strchr(at, '?') ? "&" : "?");
			CHECK(ts_store_open(bad, &s) == TS_E_INVALID && s == NULL);
			CHECK(strstr(ts_store_open_error(), "WrongPw-s3cr3t") == NULL);
			ts_store_redact(bad, sql, sizeof sql);
			CHECK(strstr(sql, "WrongPw-s3cr3t") == NULL && strstr(sql, ":***@") != NULL);
		}
	}
	if (pw && *pw) {
		CHECK(strstr(ts_store_open_error(), pw) == NULL);
	}
	ts_store_redact("postgres:host=/tmp password='a b' dbname=x", sql, sizeof sql);
	CHECK_STR(sql, "postgres:host=/tmp password=*** dbname=x");
	ts_store_redact("postgresql://u:p%40ss@h:5/db?sslmode=disable", sql, sizeof sql);
	CHECK_STR(sql, "postgresql://u:***@h:5/db?sslmode=disable");
	ts_store_redact("sqlite:/var/lib/x.db", sql, sizeof sql);
	CHECK_STR(sql, "sqlite:/var/lib/x.db");

	/* an unreachable server: UNAVAILABLE, within connect_timeout */
	{
		int64_t t0 = ms_now();

		s = NULL;
		CHECK(ts_store_open("postgres://u:pw@127.0.0.1:1/x?connect_timeout=2", &s) ==
		      TS_E_STORE_UNAVAILABLE && s == NULL);
		CHECK(ms_now() - t0 < 5000);
	}
	pg_drop(name);
}

/* pool=N (taken out before libpq sees it): fewer connections than
 * threads, callers queue for one; a bad N is refused. */
static void
test_small_pool_pg(const char *dsn)
{
	char url[700];
	ts_store *s = NULL;
	struct race r;
	int ok = 0, i;

	snprintf(url, sizeof url, "%s%spool=2", dsn, strchr(dsn, '?') ? "&" : "?");
	CHECK(ts_store_open(url, &s) == TS_OK);
	if (!s)
		return;
	r = (struct race){ .s = s };
	put_secret(s, TS_SECRET_ACCESS, 1, "sess", "user", 9999);
	mkhash(r.hash, 1);
	run_race(&r, 20, consume_access_main);
	for (i = 0; i < 20; i++)
		ok += r.res[i] == TS_OK;
	CHECK(ok == 1);
	ts_store_close(s);
	s = NULL;
	snprintf(url, sizeof url, "%s%spool=0", dsn, strchr(dsn, '?') ? "&" : "?");
	CHECK(ts_store_open(url, &s) == TS_E_INVALID && s == NULL);
	snprintf(url, sizeof url, "%s%spool=99", dsn, strchr(dsn, '?') ? "&" : "?");
	CHECK(ts_store_open(url, &s) == TS_E_INVALID && s == NULL);
}

/* A connection the server ends is dropped, the op answers UNAVAILABLE, and
 * the next op works on a fresh connection. */
static void
test_reconnect_pg(ts_store *s, const char *name)
{
	char sql[256];
	ts_tenant got;
	ts_err r;

	CHECK(s->ops->ping(s) == TS_OK);
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	         "WHERE datname = '%s' AND pid <> pg_backend_pid()", name);
	CHECK(pg_admin(pg_admin_dsn, sql) == 0);
	msleep(100);
	/* every pooled connection is dead now: the first op to find out
	 * answers UNAVAILABLE and drops them all; the next one reconnects */
	r = s->ops->tenant_by_slug(s, "tenant-200", &got);
	CHECK(r == TS_E_STORE_UNAVAILABLE);
	CHECK(s->ops->tenant_by_slug(s, "tenant-200", &got) == TS_OK);
	CHECK_STR(got.slug, "tenant-200");
	CHECK(s->ops->ping(s) == TS_OK);
}

/* ---- bulk users (import, export) ---------------------------------- */

static void
bulk_user(ts_user *u, const ts_tenant *t, unsigned n)
{
	memset(u, 0, sizeof *u);
	mkid(u->id, n);
	memcpy(u->tenant_id, t->id, sizeof u->tenant_id);
	snprintf(u->email, sizeof u->email, "Bulk%u@Example.com", n);
	snprintf(u->email_norm, sizeof u->email_norm, "bulk%u@example.com", n);
	/* An imported hash is longer than our PHC strings: kept whole. */
	snprintf(u->password_hash, sizeof u->password_hash, "keycloak-pbkdf2-sha512$27500$%0120u", n);
	u->is_verified = n % 2;
	u->is_admin = n % 3 == 0;
	u->created_at = 3000 + n;
}

static void
test_users_bulk(ts_store *s)
{
	ts_tenant t, t2;
	ts_user seedu, u[5], page[4], got;
	unsigned char taken[5];
	int created = -1, n = -1;

	seed(s, 9700, 9701, &t, &seedu);
	seed(s, 9710, 9711, &t2, &got);
	for (unsigned i = 0; i < 4; i++)
		bulk_user(&u[i], &t, 720 + i);
	/* row 2 clashes with the seeded user, row 3 with row 0 of the call */
	strcpy(u[2].email_norm, seedu.email_norm);
	strcpy(u[3].email_norm, u[0].email_norm);
	CHECK(s->ops->user_create_many(s, u, 4, taken, &created) == TS_OK);
	CHECK(created == 2);
	CHECK(taken[0] == 0 && taken[1] == 0 && taken[2] == 1 && taken[3] == 1);
	CHECK(s->ops->user_by_id(s, u[1].id, &got) == TS_OK);
	CHECK_STR(got.password_hash, u[1].password_hash);
	CHECK(strlen(got.password_hash) > 140);
	CHECK(got.is_verified == 1 && got.is_admin == 0 && got.created_at == 3721);
	CHECK(s->ops->user_by_id(s, u[2].id, &got) == TS_E_NOT_FOUND);

	/* all or nothing: an unknown tenant in the last row leaves none */
	for (unsigned i = 0; i < 3; i++)
		bulk_user(&u[i], &t, 730 + i);
	mkid(u[2].tenant_id, 799);
	created = -1;
	CHECK(s->ops->user_create_many(s, u, 3, taken, &created) == TS_E_NOT_FOUND);
	CHECK(created == 0);
	CHECK(s->ops->user_by_id(s, u[0].id, &got) == TS_E_NOT_FOUND);
	/* a taken id is a conflict of the call, not a skipped row */
	bulk_user(&u[0], &t, 740);
	memcpy(u[0].id, seedu.id, sizeof u[0].id);
	CHECK(s->ops->user_create_many(s, u, 1, taken, &created) == TS_E_CONFLICT);
	bulk_user(&u[0], &t, 741);
	u[0].email_norm[0] = '\0';
	CHECK(s->ops->user_create_many(s, u, 1, taken, &created) == TS_E_INVALID);
	CHECK(s->ops->user_create_many(s, u, TS_USER_BATCH_MAX + 1, taken, &created) ==
	      TS_E_INVALID);
	CHECK(s->ops->user_create_many(s, u, 0, taken, &created) == TS_OK && created == 0);

	/* pages by email_norm in byte order, this tenant only */
	CHECK(s->ops->user_page(s, t.id, "", page, 2, &n) == TS_OK);
	CHECK(n == 2);
	CHECK_STR(page[0].email_norm, "bulk720@example.com");
	CHECK_STR(page[1].email_norm, "bulk721@example.com");
	CHECK(s->ops->user_page(s, t.id, page[1].email_norm, page, 4, &n) == TS_OK);
	CHECK(n == 1);
	CHECK_STR(page[0].email_norm, "user9701@example.com");
	CHECK(s->ops->user_page(s, t.id, page[0].email_norm, page, 4, &n) == TS_OK);
	CHECK(n == 0);
	CHECK(s->ops->user_page(s, t2.id, "", page, 4, &n) == TS_OK);
	CHECK(n == 1);
	CHECK_STR(page[0].email_norm, "user9711@example.com");
}

/* ---- factors (issue 10) -------------------------------------------- */

static void
mkfactor(ts_factor *f, const ts_user *u, unsigned id, int kind, int64_t created)
{
	memset(f, 0, sizeof *f);
	mkid(f->id, id);
	memcpy(f->tenant_id, u->tenant_id, sizeof f->tenant_id);
	memcpy(f->user_id, u->id, sizeof f->user_id);
	f->kind = kind;
	f->confirmed = 1;
	f->created_at = created;
	snprintf(f->name, sizeof f->name, "factor %u", id);
}

struct fl {
	int n;
	char ids[8][TS_ID_SZ];
	int kinds[8];
};

static int
fl_cb(void *arg, const ts_factor *f)
{
	struct fl *l = arg;

	if (l->n < 8) {
		memcpy(l->ids[l->n], f->id, TS_ID_SZ);
		l->kinds[l->n] = f->kind;
	}
	l->n++;
	return 0;
}

/* ---- administration (issue 9): tenant settings and deletion, user
 * pages, deletion and email, API keys, the audit log ---- */

static int
count_user(void *arg, const ts_user *u)
{
	char (*names)[TS_EMAIL_MAX + 1] = arg;
	int i = 0;

	while (names[i][0])
		i++;
	snprintf(names[i], TS_EMAIL_MAX + 1, "%s", u->email_norm);
	names[i + 1][0] = '\0';
	return 0;
}

static int
count_key(void *arg, const ts_apikey *k)
{
	(void)k;
	(*(int *)arg)++;
	return 0;
}

static int
copy_audit(void *arg, const ts_audit_rec *e)
{
	ts_audit_rec *out = arg;
	int i = 0;

	while (out[i].seq)
		i++;
	out[i] = *e;
	out[i + 1].seq = 0;
	return 0;
}

static void
test_factors(ts_store *s)
{
	ts_tenant t, got_t;
	ts_user u, v;
	ts_factor f, g;
	struct fl l;
	char missing[TS_ID_SZ];

	seed(s, 800, 801, &t, &u);
	memset(&v, 0, sizeof v);
	mkid(v.id, 802);
	memcpy(v.tenant_id, t.id, sizeof v.tenant_id);
	strcpy(v.email, "v@example.com");
	strcpy(v.email_norm, "v@example.com");
	CHECK(s->ops->user_create(s, &v) == TS_OK);
	mkid(missing, 899);

	/* put, get (only by its user), conflicts */
	mkfactor(&f, &u, 810, 4, 100);
	strcpy(f.lookup, "Y3JlZC1pZA");
	strcpy(f.data, "{\"pk\":\"x\"}");
	f.counter = 7;
	CHECK(s->ops->factor_put(s, &f) == TS_OK);
	CHECK(s->ops->factor_put(s, &f) == TS_E_CONFLICT);            /* id */
	mkfactor(&g, &v, 811, 4, 101);
	strcpy(g.lookup, "Y3JlZC1pZA");
	CHECK(s->ops->factor_put(s, &g) == TS_E_CONFLICT);            /* lookup in the tenant */
	g.lookup[0] = '\0';
	CHECK(s->ops->factor_put(s, &g) == TS_OK);                    /* "" is no key */
	mkfactor(&g, &v, 812, 5, 102);
	CHECK(s->ops->factor_put(s, &g) == TS_OK);
	mkfactor(&g, &u, 813, 4, 103);
	memcpy(g.user_id, missing, sizeof g.user_id);
	CHECK(s->ops->factor_put(s, &g) == TS_E_NOT_FOUND);           /* unknown user */
	CHECK(s->ops->factor_get(s, u.id, f.id, &g) == TS_OK);
	CHECK_STR(g.lookup, "Y3JlZC1pZA");
	CHECK_STR(g.data, "{\"pk\":\"x\"}");
	CHECK_STR(g.name, "factor 810");
	CHECK(g.kind == 4 && g.confirmed == 1 && g.counter == 7 && g.created_at == 100 &&
	      g.last_used_at == 0);
	CHECK(s->ops->factor_get(s, v.id, f.id, &g) == TS_E_NOT_FOUND); /* another user's */
	CHECK(s->ops->factor_find(s, t.id, 4, "Y3JlZC1pZA", &g) == TS_OK);
	CHECK_STR(g.id, f.id);
	CHECK(s->ops->factor_find(s, t.id, 5, "Y3JlZC1pZA", &g) == TS_E_NOT_FOUND);
	CHECK(s->ops->factor_find(s, t.id, 4, "", &g) == TS_E_NOT_FOUND);

	/* the replay rule and the uses */
	CHECK(s->ops->factor_advance(s, f.id, 8, 500) == TS_OK);
	CHECK(s->ops->factor_advance(s, f.id, 8, 501) == TS_E_TOKEN_REUSED);
	CHECK(s->ops->factor_advance(s, f.id, 3, 502) == TS_E_TOKEN_REUSED);
	CHECK(s->ops->factor_advance(s, missing, 9, 503) == TS_E_NOT_FOUND);
	CHECK(s->ops->factor_get(s, u.id, f.id, &g) == TS_OK);
	CHECK(g.counter == 8 && g.last_used_at == 500);
	CHECK(s->ops->factor_set_data(s, f.id, "not the old", "new", 600) == TS_E_NOT_FOUND);
	CHECK(s->ops->factor_set_data(s, f.id, "{\"pk\":\"x\"}", "new", 600) == TS_OK);
	CHECK(s->ops->factor_set_data(s, f.id, "{\"pk\":\"x\"}", "newer", 601) == TS_E_NOT_FOUND);
	CHECK(s->ops->factor_touch(s, f.id, 700) == TS_OK);
	CHECK(s->ops->factor_touch(s, missing, 700) == TS_E_NOT_FOUND);
	CHECK(s->ops->factor_get(s, u.id, f.id, &g) == TS_OK);
	CHECK_STR(g.data, "new");
	CHECK(g.last_used_at == 700);

	/* list: oldest first, by kind; replace voids the kind's rows */
	mkfactor(&g, &u, 820, 3, 50);
	strcpy(g.data, "set-1");
	CHECK(s->ops->factor_replace(s, &g) == TS_OK);
	mkfactor(&g, &u, 821, 3, 150);
	strcpy(g.data, "set-2");
	CHECK(s->ops->factor_replace(s, &g) == TS_OK);
	memset(&l, 0, sizeof l);
	CHECK(s->ops->factor_list(s, u.id, 0, fl_cb, &l) == TS_OK);
	CHECK(l.n == 2);
	CHECK_STR(l.ids[0], f.id);                                     /* created 100 */
	mkid(missing, 821);
	CHECK_STR(l.ids[1], missing);                                  /* created 150 */
	memset(&l, 0, sizeof l);
	CHECK(s->ops->factor_list(s, u.id, 3, fl_cb, &l) == TS_OK && l.n == 1 && l.kinds[0] == 3);
	memset(&l, 0, sizeof l);
	CHECK(s->ops->factor_list(s, v.id, 0, fl_cb, &l) == TS_OK && l.n == 2);
	mkid(missing, 899);
	memset(&l, 0, sizeof l);
	CHECK(s->ops->factor_list(s, missing, 0, fl_cb, &l) == TS_OK && l.n == 0);

	/* delete with the last-factor guard: v has kinds 4 and 5 */
	unsigned keep = (1u << 4) | (1u << 5) | (1u << 1);
	mkid(missing, 811);
	CHECK(s->ops->factor_delete(s, v.id, missing, keep) == TS_OK);  /* 812 remains */
	mkid(missing, 812);
	CHECK(s->ops->factor_delete(s, v.id, missing, keep) == TS_E_CONFLICT); /* the last */
	CHECK(s->ops->factor_delete(s, u.id, missing, 0) == TS_E_NOT_FOUND);   /* not u's */
	CHECK(s->ops->factor_delete(s, v.id, missing, 0) == TS_OK);            /* no guard */
	CHECK(s->ops->factor_delete(s, v.id, missing, 0) == TS_E_NOT_FOUND);
	CHECK(s->ops->factor_delete(s, v.id, missing, keep) == TS_E_NOT_FOUND);

	/* TOTP lives in the same table */
	ts_totp x = { 0 }, gx;
	memcpy(x.user_id, v.id, sizeof x.user_id);
	strcpy(x.secret_b32, "sealed-text");
	x.created_at = 900;
	CHECK(s->ops->totp_put(s, &x) == TS_OK);
	memset(&l, 0, sizeof l);
	CHECK(s->ops->factor_list(s, v.id, 1, fl_cb, &l) == TS_OK && l.n == 1);
	CHECK(s->ops->factor_get(s, v.id, l.ids[0], &g) == TS_OK);
	CHECK_STR(g.data, "sealed-text");
	CHECK_STR(g.tenant_id, t.id);
	CHECK(g.confirmed == 0 && g.created_at == 900);
	CHECK(s->ops->totp_confirm(s, v.id) == TS_OK);
	CHECK(s->ops->factor_advance(s, g.id, 55, 901) == TS_OK);
	CHECK(s->ops->totp_use_step(s, v.id, 55) == TS_E_TOKEN_REUSED);  /* one replay rule */
	CHECK(s->ops->totp_get(s, v.id, &gx) == TS_OK && gx.last_step == 55 && gx.confirmed == 1);
	CHECK(s->ops->totp_put(s, &x) == TS_E_CONFLICT);
	mkfactor(&g, &v, 830, 1, 950);
	CHECK(s->ops->factor_put(s, &g) == TS_E_CONFLICT);             /* one TOTP per user */

	/* the tenant's policy */
	CHECK(s->ops->tenant_set_mfa(s, t.id, 1, (1u << 1) | (1u << 3)) == TS_OK);
	CHECK(s->ops->tenant_by_id(s, t.id, &got_t) == TS_OK);
	CHECK(got_t.mfa_required == 1 && got_t.mfa_factors == ((1u << 1) | (1u << 3)));
	CHECK(s->ops->tenant_by_slug(s, t.slug, &got_t) == TS_OK && got_t.mfa_factors == 10u);
	mkid(missing, 899);
	CHECK(s->ops->tenant_set_mfa(s, missing, 1, 0) == TS_E_NOT_FOUND);
	ts_session sess = { 0 }, gs;
	ts_user gu;
	mkid(sess.id, 840);
	memcpy(sess.tenant_id, t.id, sizeof sess.tenant_id);
	memcpy(sess.user_id, u.id, sizeof sess.user_id);
	strcpy(sess.amr, "pwd");
	sess.expires_at = 99999;
	CHECK(s->ops->session_create(s, &sess) == TS_OK);
	CHECK(s->ops->session_principal(s, sess.id, &gs, &gu, &got_t) == TS_OK);
	CHECK(got_t.mfa_factors == 10u && got_t.mfa_required == 1);
}

/* Two deletes of a user's last two primary factors at once: the guard
 * lets exactly one through, on either store. */
struct del_race {
	ts_store *s;
	pthread_barrier_t go;
	const char *user;
	char ids[2][TS_ID_SZ];
	ts_err res[2];
};

static void *
del_main(void *arg)
{
	struct del_race *d = arg;
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static int next;
	int i;

	pthread_mutex_lock(&mu);
	i = next++ % 2;
	pthread_mutex_unlock(&mu);
	pthread_barrier_wait(&d->go);
	d->res[i] = d->s->ops->factor_delete(d->s, d->user, d->ids[i], 1u << 1 | 1u << 4);
	return NULL;
}

static void
test_factor_races(ts_store *s)
{
	ts_tenant t;
	ts_user u;
	ts_factor f;

	seed(s, 850, 851, &t, &u);
	for (int round = 0; round < 10; round++) {
		struct del_race d = { .s = s, .user = u.id };
		pthread_t th[2];
		int ok = 0, kept = 0;

		for (int i = 0; i < 2; i++) {
			mkfactor(&f, &u, 860 + (unsigned)(round * 2 + i), 4, 10 + i);
			CHECK(s->ops->factor_put(s, &f) == TS_OK);
			memcpy(d.ids[i], f.id, TS_ID_SZ);
		}
		pthread_barrier_init(&d.go, NULL, 2);
		for (int i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, del_main, &d);
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&d.go);
		for (int i = 0; i < 2; i++) {
			ok += d.res[i] == TS_OK;
			kept += d.res[i] == TS_E_CONFLICT;
		}
		CHECK(ok == 1 && kept == 1);
		/* clean up the survivor for the next round */
		for (int i = 0; i < 2; i++)
			if (d.res[i] == TS_E_CONFLICT)
				CHECK(s->ops->factor_delete(s, u.id, d.ids[i], 0) == TS_OK);
	}
}

/* ---- the account life cycle (issue 9) --------------------------------- */

static int
collect_session(void *arg, const ts_session *x)
{
	ts_session *out = arg;

	for (int i = 0; i < 4; i++)
		if (!out[i].id[0]) {
			out[i] = *x;
			return 0;
		}
	return 1;
}

/* user_sessions_list: live ones only, newest first, with their client
 * facts; secret_rotate moves last_used_at. */
static void
test_session_list(ts_store *s)
{
	ts_session ss[3], got[4];
	ts_secret x = { 0 }, out;
	ts_tenant t;
	ts_user u;
	char h2[TS_HASH_SZ];

	seed(s, 900, 901, &t, &u);
	for (int i = 0; i < 3; i++) {
		memset(&ss[i], 0, sizeof ss[i]);
		mkid(ss[i].id, 910 + (unsigned)i);
		memcpy(ss[i].tenant_id, t.id, sizeof ss[i].tenant_id);
		memcpy(ss[i].user_id, u.id, sizeof ss[i].user_id);
		strcpy(ss[i].amr, "pwd");
		ss[i].created_at = 100 + i;
		ss[i].expires_at = i == 2 ? 150 : 9999;   /* the third ends at 150 */
		snprintf(ss[i].ip, sizeof ss[i].ip, "192.0.2.%d", i + 1);
		snprintf(ss[i].user_agent, sizeof ss[i].user_agent, "agent/%d", i);
		CHECK(s->ops->session_create(s, &ss[i]) == TS_OK);
	}
	memset(got, 0, sizeof got);
	CHECK(s->ops->user_sessions_list(s, u.id, 200, collect_session, got) == TS_OK);
	CHECK_STR(got[0].id, ss[1].id);
	CHECK_STR(got[1].id, ss[0].id);
	CHECK(got[2].id[0] == '\0');
	CHECK_STR(got[0].ip, "192.0.2.2");
	CHECK_STR(got[0].user_agent, "agent/1");
	CHECK(got[0].created_at == 101 && got[0].last_used_at == 101);
	/* A refresh of the first session moves its last use. */
	x.kind = TS_SECRET_REFRESH;
	mkhash(x.hash, 930);
	memcpy(x.tenant_id, t.id, sizeof x.tenant_id);
	memcpy(x.user_id, u.id, sizeof x.user_id);
	memcpy(x.session_id, ss[0].id, sizeof x.session_id);
	x.created_at = 100;
	x.expires_at = 9999;
	CHECK(s->ops->secret_put(s, &x) == TS_OK);
	mkhash(h2, 931);
	CHECK(s->ops->secret_rotate(s, TS_SECRET_REFRESH, x.hash, 170, h2, 9999, &out) == TS_OK);
	CHECK(s->ops->session_revoke(s, ss[1].id, 180) == TS_OK);
	memset(got, 0, sizeof got);
	CHECK(s->ops->user_sessions_list(s, u.id, 200, collect_session, got) == TS_OK);
	CHECK_STR(got[0].id, ss[0].id);
	CHECK(got[0].last_used_at == 170);
	CHECK(got[1].id[0] == '\0');
	memset(got, 0, sizeof got);
	CHECK(s->ops->user_sessions_list(s, "00000000-0000-4000-8000-000000000999", 200,
	                                 collect_session, got) == TS_OK);
	CHECK(got[0].id[0] == '\0');
}

static void
mk_mail(ts_mail *m, unsigned n, const ts_user *u, int64_t due)
{
	memset(m, 0, sizeof *m);
	mkid(m->id, n);
	memcpy(m->tenant_id, u->tenant_id, sizeof m->tenant_id);
	memcpy(m->user_id, u->id, sizeof m->user_id);
	m->kind = TS_MAIL_RESET;
	memcpy(m->to, u->email, sizeof m->to);
	strcpy(m->data, "tsk1.sealed");
	m->created_at = due;
	m->next_attempt = due;
}

/* mail_put: the mail and its secrets together; a new token voids the
 * user's earlier one of its kind; mail_claim and its backoff. */
static void
test_outbox(ts_store *s)
{
	ts_secret tok = { 0 }, code = { 0 }, got;
	ts_mail m, out[8];
	ts_tenant t;
	ts_user u;
	int n = -1;

	seed(s, 940, 941, &t, &u);
	tok.kind = TS_SECRET_RESET;
	mkhash(tok.hash, 950);
	memcpy(tok.tenant_id, t.id, sizeof tok.tenant_id);
	memcpy(tok.user_id, u.id, sizeof tok.user_id);
	tok.created_at = 1000;
	tok.expires_at = 5000;
	code = tok;
	code.kind = TS_SECRET_MAIL_CODE;
	mkhash(code.hash, 960);
	strcpy(code.data, "first");
	mk_mail(&m, 970, &u, 1000);
	CHECK(s->ops->mail_put(s, &m, &tok, &code) == TS_OK);
	CHECK(s->ops->secret_get(s, TS_SECRET_RESET, tok.hash, &got) == TS_OK && got.used_at == 0);
	/* The second token voids the first; the code row is replaced. */
	mkhash(tok.hash, 951);
	tok.created_at = 1010;
	strcpy(code.data, "second");
	mk_mail(&m, 971, &u, 1010);
	CHECK(s->ops->mail_put(s, &m, &tok, &code) == TS_OK);
	mkhash(got.hash, 950);
	CHECK(s->ops->secret_get(s, TS_SECRET_RESET, got.hash, &got) == TS_OK);
	CHECK(got.used_at == 1010);
	CHECK(s->ops->secret_get(s, TS_SECRET_RESET, tok.hash, &got) == TS_OK && got.used_at == 0);
	CHECK(s->ops->secret_get(s, TS_SECRET_MAIL_CODE, code.hash, &got) == TS_OK);
	CHECK_STR(got.data, "second");
	/* A taken token hash: nothing of the call is stored. */
	mk_mail(&m, 972, &u, 1020);
	CHECK(s->ops->mail_put(s, &m, &tok, NULL) == TS_E_CONFLICT);
	CHECK(s->ops->secret_get(s, TS_SECRET_RESET, tok.hash, &got) == TS_OK && got.used_at == 0);
	/* user_id "": nothing is voided. */
	tok.user_id[0] = '\0';
	mkhash(tok.hash, 952);
	mk_mail(&m, 973, &u, 1030);
	m.kind = TS_MAIL_DISCARD;
	CHECK(s->ops->mail_put(s, &m, &tok, NULL) == TS_OK);
	mkhash(got.hash, 951);
	CHECK(s->ops->secret_get(s, TS_SECRET_RESET, got.hash, &got) == TS_OK && got.used_at == 0);
	/* A mail without secrets. */
	mk_mail(&m, 974, &u, 3000);
	CHECK(s->ops->mail_put(s, &m, NULL, NULL) == TS_OK);
	CHECK(s->ops->mail_put(s, &m, NULL, NULL) == TS_E_CONFLICT);

	/* Due at 1020: 970 and 971, oldest first; 972 was never stored. */
	CHECK(s->ops->mail_claim(s, 1020, 10, 8, out, &n) == TS_OK);
	CHECK(n == 2);
	if (n == 2) {
		int a = strcmp(out[0].id, out[1].id) < 0 ? 0 : 1;
		mkid(m.id, 970);
		CHECK_STR(out[a].id, m.id);
		CHECK(out[a].attempts == 1 && out[a].next_attempt == 1030);
		CHECK_STR(out[a].data, "tsk1.sealed");
		CHECK_STR(out[a].to, u.email);
		CHECK(out[a].kind == TS_MAIL_RESET);
	}
	/* Claimed: not due again until its retry time. */
	CHECK(s->ops->mail_claim(s, 1025, 10, 8, out, &n) == TS_OK && n == 0);
	/* At 1030: 970, 971 again (second try: 2 x delay) and 973; max 2. */
	CHECK(s->ops->mail_claim(s, 1030, 10, 2, out, &n) == TS_OK && n == 2);
	CHECK(s->ops->mail_claim(s, 1030, 10, 8, out, &n) == TS_OK && n == 1);
	mkid(m.id, 971);
	CHECK(s->ops->mail_delete(s, m.id) == TS_OK);
	CHECK(s->ops->mail_delete(s, m.id) == TS_E_NOT_FOUND);
	mkid(m.id, 973);
	CHECK(s->ops->mail_delete(s, m.id) == TS_OK);
	mkid(m.id, 970);
	CHECK(s->ops->mail_claim(s, 1049, 10, 8, out, &n) == TS_OK && n == 0);
	CHECK(s->ops->mail_claim(s, 1050, 10, 8, out, &n) == TS_OK && n == 1);
	CHECK(n == 1 && out[0].attempts == 3 && out[0].next_attempt == 1050 + 40);
	CHECK_STR(out[0].id, m.id);
	/* Clean up for the race below: every mail gone. */
	for (unsigned i = 970; i <= 974; i++) {
		mkid(m.id, i);
		(void)s->ops->mail_delete(s, m.id);
	}
}

typedef struct claim_arg {
	ts_store *s;
	int got[40];
	int n;
} claim_arg;

static void *
claim_main(void *p)
{
	claim_arg *c = p;
	ts_mail out[3];
	int n;

	for (int round = 0; round < 100; round++) {
		if (c->s->ops->mail_claim(c->s, 10000, 1000, 3, out, &n) != TS_OK)
			continue;
		for (int i = 0; i < n && c->n < 40; i++)
			c->got[c->n++] = atoi(out[i].id + 24);
	}
	return NULL;
}

/* Several claimers at once: every mail is claimed exactly once. */
static void
test_outbox_race(ts_store *s)
{
	claim_arg c[3];
	pthread_t th[3];
	int seen[30] = { 0 }, total = 0, twice = 0;
	ts_tenant t;
	ts_user u;
	ts_mail m;

	seed(s, 980, 981, &t, &u);
	for (unsigned i = 0; i < 30; i++) {
		mk_mail(&m, 10000 + i, &u, 9000);
		CHECK(s->ops->mail_put(s, &m, NULL, NULL) == TS_OK);
	}
	for (int i = 0; i < 3; i++) {
		memset(&c[i], 0, sizeof c[i]);
		c[i].s = s;
		pthread_create(&th[i], NULL, claim_main, &c[i]);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < c[i].n; j++) {
			int k = c[i].got[j] - 10000;
			if (k >= 0 && k < 30 && seen[k]++)
				twice++;
			total++;
		}
	CHECK(total == 30);
	CHECK(twice == 0);
	for (unsigned i = 0; i < 30; i++) {
		mkid(m.id, 10000 + i);
		CHECK(s->ops->mail_delete(s, m.id) == TS_OK);
	}
}

static void
test_admin_store(ts_store *s)
{
	ts_tenant t = { 0 }, got, other = { 0 };
	ts_user u = { 0 }, v;
	ts_session sess = { 0 };
	ts_secret sec = { 0 };
	ts_totp totp = { 0 };
	ts_apikey k = { 0 }, kg = { 0 };
	char names[8][TS_EMAIL_MAX + 1] = { { 0 } };
	ts_audit_rec recs[3] = { { 0 } }, back[8] = { { 0 } };
	int n = 0;

	mkid(t.id, 9001);
	snprintf(t.slug, sizeof t.slug, "adm-one");
	snprintf(t.name, sizeof t.name, "Admin One");
	t.created_at = 1;
	CHECK(s->ops->tenant_create(s, &t) == TS_OK);
	CHECK(s->ops->tenant_by_slug(s, "adm-one", &got) == TS_OK);
	CHECK_STR(got.name, "Admin One");
	mkid(other.id, 9002);
	snprintf(other.slug, sizeof other.slug, "adm-two");
	CHECK(s->ops->tenant_create(s, &other) == TS_OK);

	/* update: every setting; a taken slug is a clash; unknown id */
	snprintf(t.slug, sizeof t.slug, "adm-uno");
	snprintf(t.name, sizeof t.name, "Uno");
	t.mfa_required = 1;
	t.registration_open = 1;
	t.password_min_length = 20;
	CHECK(s->ops->tenant_update(s, &t) == TS_OK);
	CHECK(s->ops->tenant_by_id(s, t.id, &got) == TS_OK);
	CHECK_STR(got.slug, "adm-uno");
	CHECK_STR(got.name, "Uno");
	CHECK(got.mfa_required == 1 && got.registration_open == 1 && got.password_min_length == 20);
	snprintf(got.slug, sizeof got.slug, "adm-two");
	CHECK(s->ops->tenant_update(s, &got) == TS_E_CONFLICT);
	mkid(got.id, 9999);
	snprintf(got.slug, sizeof got.slug, "adm-nobody");
	CHECK(s->ops->tenant_update(s, &got) == TS_E_NOT_FOUND);

	/* users: pages in byte order of email_norm */
	for (int i = 0; i < 5; i++) {
		memset(&u, 0, sizeof u);
		mkid(u.id, 9100 + (unsigned)i);
		snprintf(u.tenant_id, sizeof u.tenant_id, "%s", t.id);
		snprintf(u.email, sizeof u.email, "U%d@x.example", 4 - i);
		snprintf(u.email_norm, sizeof u.email_norm, "u%d@x.example", 4 - i);
		CHECK(s->ops->user_create(s, &u) == TS_OK);
	}
	CHECK(s->ops->user_scan(s, t.id, "", 2, count_user, names) == TS_OK);
	CHECK_STR(names[0], "u0@x.example");
	CHECK_STR(names[1], "u1@x.example");
	CHECK(names[2][0] == '\0');
	names[0][0] = '\0';
	CHECK(s->ops->user_scan(s, t.id, "u1@x.example", 10, count_user, names) == TS_OK);
	CHECK_STR(names[0], "u2@x.example");
	CHECK_STR(names[2], "u4@x.example");
	CHECK(names[3][0] == '\0');
	names[0][0] = '\0';
	CHECK(s->ops->user_scan(s, other.id, "", 10, count_user, names) == TS_OK);
	CHECK(names[0][0] == '\0');

	/* email: clash within the tenant, then a change */
	mkid(u.id, 9100);   /* u4 */
	CHECK(s->ops->user_set_email(s, u.id, "u3@x.example", "u3@x.example") == TS_E_CONFLICT);
	CHECK(s->ops->user_set_email(s, u.id, "New@x.example", "new@x.example") == TS_OK);
	CHECK(s->ops->user_by_id(s, u.id, &v) == TS_OK);
	CHECK_STR(v.email, "New@x.example");
	CHECK_STR(v.email_norm, "new@x.example");
	CHECK(s->ops->user_set_email(s, u.id, "", "") == TS_E_INVALID);
	mkid(v.id, 9999);
	CHECK(s->ops->user_set_email(s, v.id, "a@b.example", "a@b.example") == TS_E_NOT_FOUND);

	/* delete: the user with their session, secrets and factor */
	mkid(sess.id, 9200);
	snprintf(sess.tenant_id, sizeof sess.tenant_id, "%s", t.id);
	snprintf(sess.user_id, sizeof sess.user_id, "%s", u.id);
	sess.expires_at = 4000000000;
	CHECK(s->ops->session_create(s, &sess) == TS_OK);
	mkhash(sec.hash, 9200);
	sec.kind = TS_SECRET_REFRESH;
	snprintf(sec.session_id, sizeof sec.session_id, "%s", sess.id);
	sec.expires_at = 4000000000;
	CHECK(s->ops->secret_put(s, &sec) == TS_OK);
	snprintf(totp.user_id, sizeof totp.user_id, "%s", u.id);
	snprintf(totp.secret_b32, sizeof totp.secret_b32, "JBSWY3DPEHPK3PXP");
	CHECK(s->ops->totp_put(s, &totp) == TS_OK);
	CHECK(s->ops->user_delete(s, u.id) == TS_OK);
	CHECK(s->ops->user_by_id(s, u.id, &v) == TS_E_NOT_FOUND);
	CHECK(s->ops->secret_get(s, TS_SECRET_REFRESH, sec.hash, &sec) == TS_E_NOT_FOUND);
	CHECK(s->ops->totp_get(s, u.id, &totp) == TS_E_NOT_FOUND);
	{
		ts_session ps;
		ts_user pu;
		ts_tenant pt;
		CHECK(s->ops->session_principal(s, sess.id, &ps, &pu, &pt) == TS_E_NOT_FOUND);
	}
	CHECK(s->ops->user_delete(s, u.id) == TS_E_NOT_FOUND);

	/* API keys */
	mkid(k.id, 9300);
	snprintf(k.tenant_id, sizeof k.tenant_id, "%s", t.id);
	snprintf(k.name, sizeof k.name, "ci");
	mkhash(k.hash, 9300);
	k.created_at = 5;
	CHECK(s->ops->apikey_create(s, &k) == TS_OK);
	CHECK(s->ops->apikey_create(s, &k) == TS_E_CONFLICT);
	mkid(kg.id, 9301);
	mkid(kg.tenant_id, 9999);
	mkhash(kg.hash, 9301);
	CHECK(s->ops->apikey_create(s, &kg) == TS_E_NOT_FOUND);
	CHECK(s->ops->apikey_by_hash(s, k.hash, &kg) == TS_OK);
	CHECK_STR(kg.id, k.id);
	CHECK_STR(kg.name, "ci");
	CHECK(kg.revoked_at == 0);
	n = 0;
	CHECK(s->ops->apikey_list(s, t.id, count_key, &n) == TS_OK && n == 1);
	n = 0;
	CHECK(s->ops->apikey_list(s, other.id, count_key, &n) == TS_OK && n == 0);
	n = 0;
	CHECK(s->ops->apikey_list(s, "", count_key, &n) == TS_OK && n >= 1);
	CHECK(s->ops->apikey_revoke(s, k.id, 77) == TS_OK);
	CHECK(s->ops->apikey_revoke(s, k.id, 99) == TS_OK);
	CHECK(s->ops->apikey_by_hash(s, k.hash, &kg) == TS_OK && kg.revoked_at == 77);
	CHECK(s->ops->apikey_revoke(s, kg.tenant_id, 99) == TS_E_NOT_FOUND);

	/* tenant delete: refused while it has users, unless forced */
	CHECK(s->ops->tenant_delete(s, t.id, 0) == TS_E_CONFLICT);
	CHECK(s->ops->tenant_by_id(s, t.id, &got) == TS_OK);
	CHECK(s->ops->tenant_delete(s, t.id, 1) == TS_OK);
	CHECK(s->ops->tenant_by_id(s, t.id, &got) == TS_E_NOT_FOUND);
	mkid(v.id, 9101);
	CHECK(s->ops->user_by_id(s, v.id, &v) == TS_E_NOT_FOUND);
	CHECK(s->ops->apikey_by_hash(s, k.hash, &kg) == TS_E_NOT_FOUND);
	CHECK(s->ops->tenant_delete(s, other.id, 0) == TS_OK);
	CHECK(s->ops->tenant_delete(s, other.id, 0) == TS_E_NOT_FOUND);

	/* audit: appended, newest first, filtered, paged, swept */
	for (int i = 0; i < 3; i++) {
		recs[i].at = 1000 + i;
		snprintf(recs[i].event, sizeof recs[i].event, i == 1 ? "logout" : "login_failed");
		snprintf(recs[i].tenant, sizeof recs[i].tenant, i == 2 ? "b" : "a");
		snprintf(recs[i].actor, sizeof recs[i].actor, "cli");
	}
	snprintf(recs[0].data, sizeof recs[0].data, "{\"reason\":\"credentials\"}");
	CHECK(s->ops->audit_append(s, recs, 3) == TS_OK);
	{
		ts_audit_filter f = { .limit = 10 };
		CHECK(s->ops->audit_list(s, &f, copy_audit, back) == TS_OK);
		CHECK(back[0].seq > back[1].seq && back[1].seq > back[2].seq && back[3].seq == 0);
		CHECK(back[0].at == 1002 && back[2].at == 1000);
		CHECK_STR(back[2].data, "{\"reason\":\"credentials\"}");
		CHECK_STR(back[1].data, "{}");
		CHECK_STR(back[0].tenant, "b");
		int64_t mid = back[1].seq;
		memset(back, 0, sizeof back);
		f = (ts_audit_filter){ .tenant = "a", .limit = 10 };
		CHECK(s->ops->audit_list(s, &f, copy_audit, back) == TS_OK);
		CHECK(back[0].at == 1001 && back[1].at == 1000 && back[2].seq == 0);
		memset(back, 0, sizeof back);
		f = (ts_audit_filter){ .event = "logout", .limit = 10 };
		CHECK(s->ops->audit_list(s, &f, copy_audit, back) == TS_OK);
		CHECK(back[0].at == 1001 && back[1].seq == 0);
		memset(back, 0, sizeof back);
		f = (ts_audit_filter){ .before_seq = mid, .limit = 10 };
		CHECK(s->ops->audit_list(s, &f, copy_audit, back) == TS_OK);
		CHECK(back[0].at == 1000 && back[1].seq == 0);
		memset(back, 0, sizeof back);
		f = (ts_audit_filter){ .after = 1001, .limit = 1 };
		CHECK(s->ops->audit_list(s, &f, copy_audit, back) == TS_OK);
		CHECK(back[0].at == 1002 && back[1].seq == 0);
		CHECK(s->ops->sweep(s, TS_SWEEP_AUDIT, 1002, 100, &n) == TS_OK && n == 2);
		memset(back, 0, sizeof back);
		f = (ts_audit_filter){ .limit = 10 };
		CHECK(s->ops->audit_list(s, &f, copy_audit, back) == TS_OK);
		CHECK(back[0].at == 1002 && back[1].seq == 0);
	}
}

static int
copy_client(void *arg, const ts_oidc_client *c)
{
	ts_oidc_client *out = arg;
	int i = 0;

	while (i < 3 && out[i].id[0])
		i++;
	if (i < 3)
		out[i] = *c;
	return 0;
}

/* OpenID Connect clients (issue 11): create, get, list in order, update
 * (id, tenant, secret and creation kept), delete only within the tenant,
 * and gone with their tenant. */
static void
test_client_store(ts_store *s)
{
	ts_tenant t = { 0 }, other = { 0 };
	ts_oidc_client c = { 0 }, d, got, back[3];

	mkid(t.id, 9501);
	snprintf(t.slug, sizeof t.slug, "cli-one");
	CHECK(s->ops->tenant_create(s, &t) == TS_OK);
	mkid(other.id, 9502);
	snprintf(other.slug, sizeof other.slug, "cli-two");
	CHECK(s->ops->tenant_create(s, &other) == TS_OK);

	mkid(c.id, 9510);
	snprintf(c.tenant_id, sizeof c.tenant_id, "%s", t.id);
	snprintf(c.name, sizeof c.name, "Web app");
	mkhash(c.secret_hash, 9510);
	snprintf(c.redirect_uris, sizeof c.redirect_uris, "https://a.example/cb https://a.example/cb2");
	snprintf(c.post_logout_uris, sizeof c.post_logout_uris, "https://a.example/");
	snprintf(c.grant_types, sizeof c.grant_types, "authorization_code refresh_token");
	snprintf(c.scopes, sizeof c.scopes, "openid email offline_access");
	c.first_party = 1;
	c.access_ttl = 300;
	c.refresh_ttl = 86400;
	c.id_ttl = 600;
	c.created_at = 20;
	CHECK(s->ops->client_create(s, &c) == TS_OK);
	CHECK(s->ops->client_create(s, &c) == TS_E_CONFLICT);
	d = c;
	mkid(d.id, 9511);
	d.secret_hash[0] = '\0';
	d.created_at = 10;
	CHECK(s->ops->client_create(s, &d) == TS_OK);
	got = d;
	mkid(got.id, 9512);
	mkid(got.tenant_id, 9999);
	CHECK(s->ops->client_create(s, &got) == TS_E_NOT_FOUND);

	CHECK(s->ops->client_get(s, c.id, &got) == TS_OK);
	CHECK_STR(got.tenant_id, t.id);
	CHECK_STR(got.name, "Web app");
	CHECK_STR(got.secret_hash, c.secret_hash);
	CHECK_STR(got.redirect_uris, "https://a.example/cb https://a.example/cb2");
	CHECK_STR(got.post_logout_uris, "https://a.example/");
	CHECK_STR(got.grant_types, "authorization_code refresh_token");
	CHECK_STR(got.scopes, "openid email offline_access");
	CHECK(got.first_party == 1 && got.access_ttl == 300 && got.refresh_ttl == 86400);
	CHECK(got.id_ttl == 600 && got.created_at == 20);
	mkid(got.id, 9599);
	CHECK(s->ops->client_get(s, got.id, &got) == TS_E_NOT_FOUND);

	memset(back, 0, sizeof back);
	CHECK(s->ops->client_list(s, t.id, copy_client, back) == TS_OK);
	CHECK_STR(back[0].id, d.id);      /* older first */
	CHECK_STR(back[1].id, c.id);
	CHECK(back[2].id[0] == '\0');
	memset(back, 0, sizeof back);
	CHECK(s->ops->client_list(s, other.id, copy_client, back) == TS_OK);
	CHECK(back[0].id[0] == '\0');

	got = c;
	snprintf(got.name, sizeof got.name, "Renamed");
	snprintf(got.redirect_uris, sizeof got.redirect_uris, "https://b.example/cb");
	snprintf(got.post_logout_uris, sizeof got.post_logout_uris, "%s", "");
	snprintf(got.grant_types, sizeof got.grant_types, "client_credentials");
	snprintf(got.scopes, sizeof got.scopes, "openid");
	got.first_party = 0;
	got.access_ttl = 60;
	got.refresh_ttl = 0;
	got.id_ttl = 120;
	mkhash(got.secret_hash, 1);       /* not changed by an update */
	got.created_at = 99;
	CHECK(s->ops->client_update(s, &got) == TS_OK);
	CHECK(s->ops->client_get(s, c.id, &got) == TS_OK);
	CHECK_STR(got.name, "Renamed");
	CHECK_STR(got.redirect_uris, "https://b.example/cb");
	CHECK_STR(got.post_logout_uris, "");
	CHECK_STR(got.grant_types, "client_credentials");
	CHECK_STR(got.scopes, "openid");
	CHECK(got.first_party == 0 && got.access_ttl == 60 && got.refresh_ttl == 0);
	CHECK(got.id_ttl == 120 && got.created_at == 20);
	CHECK_STR(got.secret_hash, c.secret_hash);
	snprintf(got.tenant_id, sizeof got.tenant_id, "%s", other.id);
	CHECK(s->ops->client_update(s, &got) == TS_E_NOT_FOUND);

	CHECK(s->ops->client_delete(s, other.id, c.id) == TS_E_NOT_FOUND);
	CHECK(s->ops->client_delete(s, t.id, c.id) == TS_OK);
	CHECK(s->ops->client_get(s, c.id, &got) == TS_E_NOT_FOUND);
	CHECK(s->ops->client_delete(s, t.id, c.id) == TS_E_NOT_FOUND);

	CHECK(s->ops->tenant_delete(s, t.id, 0) == TS_OK);
	CHECK(s->ops->client_get(s, d.id, &got) == TS_E_NOT_FOUND);
	CHECK(s->ops->tenant_delete(s, other.id, 0) == TS_OK);
}

/* The suite every backend passes. */
/* ---- backup and restore (ops backup, restore) ------------------------- */

/* PostgreSQL has none (pg_dump); SQLite: a copy at a new path only, made
 * 0600 with no .partial left; a restore brings back the copy's rows in one
 * transaction and refuses what is not a Tessera database. */
static void
test_backup_restore(ts_store *s)
{
	char bk[160], junk[160], why[512], partial[200];
	ts_tenant t, t2, got;
	ts_user u;
	struct stat st;
	long holder = -1;
	FILE *f;

	if (on_pg) {
		CHECK(s->ops->backup == NULL);
		CHECK(s->ops->restore == NULL);
		return;
	}
	seed(s, 9100, 9101, &t, &u);
	db_path(bk, sizeof bk, "backup-copy.db");
	CHECK(s->ops->backup(s, bk, why, sizeof why) == TS_OK);
	CHECK(stat(bk, &st) == 0 && (st.st_mode & 0777) == 0600);
	snprintf(partial, sizeof partial, "%s.partial", bk);
	CHECK(access(partial, F_OK) != 0);
	CHECK(s->ops->backup(s, bk, why, sizeof why) == TS_E_CONFLICT);
	/* After the backup: gone again once it is restored. */
	memset(&t2, 0, sizeof t2);
	mkid(t2.id, 9102);
	strcpy(t2.slug, "after-backup");
	CHECK(s->ops->tenant_create(s, &t2) == TS_OK);
	/* Another open store of the file (a server, even with every
	 * connection idle-closed) makes restore refuse; closed, it may go. */
	char url[300];
	ts_store *other = NULL;
	snprintf(url, sizeof url, "sqlite:%s", s->ops->location(s));
	CHECK(ts_store_open_mode(url, TS_STORE_EXISTING, &other) == TS_OK);
	CHECK(s->ops->restore(s, bk, &holder, why, sizeof why) == TS_E_CONFLICT);
	CHECK(holder == -1);   /* this process: no pid to name */
	CHECK(s->ops->tenant_by_slug(s, "after-backup", &got) == TS_OK);
	ts_store_close(other);
	CHECK(s->ops->restore(s, bk, &holder, why, sizeof why) == TS_OK);
	CHECK(holder == 0);
	CHECK(s->ops->tenant_by_slug(s, "after-backup", &got) == TS_E_NOT_FOUND);
	CHECK(s->ops->tenant_by_slug(s, t.slug, &got) == TS_OK);
	/* Not a database: refused, nothing changed. */
	db_path(junk, sizeof junk, "junk.db");
	CHECK((f = fopen(junk, "w")) != NULL);
	if (f) {
		fputs("not a database", f);
		fclose(f);
	}
	CHECK(s->ops->restore(s, junk, &holder, why, sizeof why) == TS_E_INVALID);
	CHECK(s->ops->tenant_by_slug(s, t.slug, &got) == TS_OK);
	unlink(junk);
	unlink(bk);
}

static void
conformance(ts_store *s)
{
	test_tenants(s);
	test_users(s);
	test_users_bulk(s);
	test_locks(s);
	test_sessions(s);
	test_secrets(s);
	test_attempts(s);
	test_keys(s);
	test_totp(s);
	test_factors(s);
	test_factor_races(s);
	test_races(s);
	test_rotate_batch(s);
	test_buckets(s);
	test_session_list(s);
	test_outbox(s);
	test_outbox_race(s);
	test_admin_store(s);
	test_client_store(s);
	test_bench(s);
	test_backup_restore(s);
}

/* ts_group (store/group.h) alone: every item is run once, before its
 * caller returns; callers that come while a batch runs share the next;
 * no batch exceeds max. The first batch is held until all callers have
 * arrived, so the second must hold every other one (up to max). */
struct grp_test {
	ts_group g;
	pthread_mutex_t mu;
	int arrived, batches, biggest, second, runs_of[32];
};

struct grp_item {
	ts_group_item link;          /* first */
	int id, result;
	struct grp_test *t;
};

static void
grp_run(void *ctx, ts_group_item *batch, size_t n)
{
	struct grp_test *t = ctx;
	size_t seen = 0;
	int first;

	pthread_mutex_lock(&t->mu);
	first = t->batches++ == 0;
	if ((int)n > t->biggest)
		t->biggest = (int)n;
	if (t->batches == 2)
		t->second = (int)n;
	pthread_mutex_unlock(&t->mu);
	if (first) {
		for (;;) {
			pthread_mutex_lock(&t->mu);
			int all = t->arrived == 16;
			pthread_mutex_unlock(&t->mu);
			if (all)
				break;
			usleep(1000);
		}
		usleep(50000);               /* the others reach the queue */
	}
	for (ts_group_item *x = batch; x; x = x->next, seen++) {
		struct grp_item *it = (struct grp_item *)x;

		CHECK(!x->done);
		it->result = it->id * 3;
		pthread_mutex_lock(&t->mu);
		t->runs_of[it->id]++;
		pthread_mutex_unlock(&t->mu);
	}
	CHECK(seen == n);
}

static void *
grp_main(void *arg)
{
	struct grp_item *it = arg;

	pthread_mutex_lock(&it->t->mu);
	it->t->arrived++;
	pthread_mutex_unlock(&it->t->mu);
	ts_group_run(&it->t->g, &it->link, grp_run, it->t);
	CHECK(it->result == it->id * 3);
	return NULL;
}

static void
test_group_once(size_t max, int want_second)
{
	struct grp_test t = { .arrived = 0 };
	struct grp_item it[16];
	pthread_t th[16];
	int i;

	CHECK(ts_group_init(&t.g, max) == 0);
	pthread_mutex_init(&t.mu, NULL);
	/* The first caller leads alone; the rest arrive while it runs. */
	it[0] = (struct grp_item){ .id = 0, .t = &t };
	pthread_create(&th[0], NULL, grp_main, &it[0]);
	while (1) {
		pthread_mutex_lock(&t.mu);
		int started = t.batches > 0;
		pthread_mutex_unlock(&t.mu);
		if (started)
			break;
		usleep(1000);
	}
	for (i = 1; i < 16; i++) {
		it[i] = (struct grp_item){ .id = i, .t = &t };
		pthread_create(&th[i], NULL, grp_main, &it[i]);
	}
	for (i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 16; i++)
		CHECK(t.runs_of[i] == 1);
	CHECK(t.g.items == 16);
	CHECK(t.biggest <= (int)max);
	CHECK(t.second == want_second);
	pthread_mutex_destroy(&t.mu);
	ts_group_destroy(&t.g);
}

static void
test_group(void)
{
	test_group_once(64, 15);
	test_group_once(4, 4);
	test_group_once(1, 1);
}

int
main(void)
{
	const char *want = getenv("TESSERA_TEST_STORE");
	ts_store *s;

	snprintf(dir, sizeof dir, "/tmp/ts-store-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	on_pg = want && strncmp(want, "postgres", 8) == 0;
	if (on_pg) {
		char dsn[600], name[64];

		fprintf(stderr, "store suite on PostgreSQL\n");
		snprintf(pg_admin_dsn, sizeof pg_admin_dsn, "%s", want);
		test_open_pg();
		if (pg_fresh(dsn, sizeof dsn, name, sizeof name) == 0) {
			s = NULL;
			CHECK(ts_store_open(dsn, &s) == TS_OK);
			if (s) {
				conformance(s);
				test_reconnect_pg(s, name);
				ts_store_close(s);
				if (strstr(dsn, "://"))
					test_small_pool_pg(dsn);
			}
			pg_drop(name);
		} else {
			CHECK(!"cannot create a test database");
		}
		rmdir(dir);
		return CHECK_DONE();
	}
	fprintf(stderr, "store suite on SQLite\n");
	test_group();
	test_open_sqlite();
	s = open_db("main.db", NULL);
	if (s) {
		conformance(s);
		ts_store_close(s);
	}
	db_remove("main.db");
	test_reopen_sqlite();
	test_migrate_steps_sqlite();
	test_migrate_totp_sqlite();
	test_small_pool_sqlite();
	test_exclusive_lock_sqlite();
	test_file_gone_sqlite();
	test_file_check_interval_sqlite();
	test_file_modes_sqlite();
	test_file_restored_sqlite();
	if (rmdir(dir) != 0)
		fprintf(stderr, "rmdir %s: %s\n", dir, strerror(errno));
	return CHECK_DONE();
}
