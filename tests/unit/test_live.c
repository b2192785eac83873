/* Settings changed while serving (SIGHUP, src/auth/live.c): a reload is
 * seen whole by every reader, a bad one changes nothing, a mailer in use
 * outlives its replacement, and the per-address limiter takes new rates. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth_internal.h"
#include "auth/email.h"
#include "auth/ratelimit.h"
#include "check.h"
#include "core/log.h"

static ts_kek kek;

static const ts_auth_live A = {
	.lock_after = 3, .lock_secs = 30, .mfa_lock_after = 4, .mfa_lock_secs = 40,
	.rl_ip_rate = 1, .rl_ip_burst = 5, .rl_account_rate = 0.5, .rl_account_burst = 2,
};
static const ts_auth_live B = {
	.lock_after = 7, .lock_secs = 70, .mfa_lock_after = 8, .mfa_lock_secs = 80,
	.rl_ip_rate = 2, .rl_ip_burst = 9, .rl_account_rate = 1.5, .rl_account_burst = 6,
};

static int
is(const ts_limits *l, const ts_auth_live *v)
{
	return l->lock_after == v->lock_after && l->lock_secs == v->lock_secs &&
	       l->mfa_lock_after == v->mfa_lock_after && l->mfa_lock_secs == v->mfa_lock_secs &&
	       l->rl_account_rate == v->rl_account_rate && l->rl_account_burst == v->rl_account_burst;
}

typedef struct reader {
	ts_auth *a;
	atomic_int *stop;
	atomic_int *started;         /* readers that have read once */
	long reads, torn;
} reader;

static void *
read_loop(void *arg)
{
	reader *r = arg;

	while (!atomic_load(r->stop)) {
		ts_limits l = ts_auth_limits(r->a);
		if (r->reads++ == 0)
			atomic_fetch_add(r->started, 1);
		if (!is(&l, &A) && !is(&l, &B))
			r->torn++;
	}
	return NULL;
}

static void
test_whole(ts_auth *a)
{
	pthread_t t[3];
	reader r[3];
	atomic_int stop = 0, started = 0;
	long torn = 0, reads = 0;

	CHECK(ts_auth_reload(a, &A) == TS_OK);
	for (int i = 0; i < 3; i++) {
		r[i] = (reader){ a, &stop, &started, 0, 0 };
		pthread_create(&t[i], NULL, read_loop, &r[i]);
	}
	/* The reloads race the readers only once all of them are reading (a
	 * slow start could let them all finish first). */
	while (atomic_load(&started) < 3)
		usleep(100);
	for (int i = 0; i < 2000; i++)
		CHECK(ts_auth_reload(a, i % 2 ? &A : &B) == TS_OK);
	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		torn += r[i].torn;
		reads += r[i].reads;
	}
	CHECK(reads > 0);
	CHECK(torn == 0);
	ts_limits l = ts_auth_limits(a);
	CHECK(is(&l, &A));
}

static void
test_bad_changes_nothing(ts_auth *a)
{
	ts_auth_live bad = B;

	CHECK(ts_auth_reload(a, &A) == TS_OK);
	bad.smtp_url = "ftp://mail.test";
	bad.smtp_from = "t@test";
	CHECK(ts_auth_reload(a, &bad) == TS_E_INVALID);
	ts_limits l = ts_auth_limits(a);
	CHECK(is(&l, &A));
	CHECK(!ts_auth_mail_on(a));
}

static void
test_mailer_outlives(ts_auth *a)
{
	ts_auth_live on = A;
	ts_mailer *m;

	on.smtp_url = "smtp://127.0.0.1:1";
	on.smtp_from = "tessera@test";
	on.smtp_password = "not-logged";
	on.smtp_timeout = 1;
	CHECK(ts_auth_reload(a, &on) == TS_OK);
	CHECK(ts_auth_mail_on(a));
	m = ts_auth_mailer(a);       /* a send under way */
	CHECK(m != NULL);
	CHECK(ts_auth_reload(a, &A) == TS_OK);   /* mail off */
	CHECK(!ts_auth_mail_on(a));
	/* Still usable (ASan: no use after free): nobody listens on port 1. */
	CHECK(ts_mailer_send(m, "u@test", "s", "t") == TS_E_EMAIL_SEND);
	ts_mailer_free(m);           /* the last reference */
}

static void
test_limiter_set(void)
{
	ts_limiter *l = NULL;

	CHECK(ts_limiter_new(64, 0, 1, &l) == TS_OK);   /* off */
	if (!l)
		return;
	for (int i = 0; i < 5; i++)
		CHECK(ts_limiter_take(l, "k", 1, 1000000) == 0);
	ts_limiter_set(l, 1, 1);                       /* 1/s, burst 1 */
	CHECK(ts_limiter_take(l, "k2", 2, 1000000) == 0);
	CHECK(ts_limiter_take(l, "k2", 2, 1000000) == 1);
	ts_limiter_set(l, 0, 1);                       /* off again */
	CHECK(ts_limiter_take(l, "k2", 2, 1000000) == 0);
	ts_limiter_free(l);
}

int
main(void)
{
	char dir[] = "/tmp/ts-live-XXXXXX", url[128];
	static const unsigned char raw[TS_KEK_LEN] = { 7 };
	ts_store *s = NULL;
	ts_auth *a = NULL;

	ts_log_set_level(TS_LOG_ERROR);
	ts_kek_from_bytes(raw, &kek);
	if (!mkdtemp(dir))
		return 1;
	snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
	CHECK(ts_store_open(url, &s) == TS_OK);
	ts_auth_config cfg = {
		.issuer = "https://auth.test", .audience = "tessera", .alg = TS_ALG_ES256,
		.access_ttl = 900, .refresh_ttl = 3600, .session_ttl = 7200, .challenge_ttl = 300,
		.pw_cost = { 1, 8192 * 1024 }, .lock_after = 10, .lock_secs = 60, .kek = &kek,
	};
	CHECK(s && ts_auth_new(&cfg, s, &a) == TS_OK);
	if (a) {
		ts_limits l = ts_auth_limits(a);
		CHECK(l.lock_after == 10 && l.lock_secs == 60 && l.mfa_lock_after == 10);
		test_whole(a);
		test_bad_changes_nothing(a);
		test_mailer_outlives(a);
	}
	test_limiter_set();
	ts_auth_free(a);
	ts_store_close(s);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return CHECK_DONE();
}
