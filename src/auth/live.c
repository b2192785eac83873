/* Settings that change while serving (SIGHUP, ts_auth_reload): limits
 * are copied out under one mutex, so a request sees one version of them
 * whole; the mailer is reference counted, so a mail being sent keeps the
 * mailer it started with while a new one takes its place. */
#include <pthread.h>

#include "auth/auth_internal.h"
#include "auth/email.h"

void
ts_live_init(ts_auth *a)
{
	pthread_mutex_init(&a->live_mu, NULL);
	a->limits = (ts_limits){
		.lock_after = a->cfg.lock_after,
		.lock_secs = a->cfg.lock_secs,
		.mfa_lock_after = a->cfg.mfa_lock_after,
		.mfa_lock_secs = a->cfg.mfa_lock_secs,
		.rl_account_rate = a->cfg.rl_account_rate,
		.rl_account_burst = a->cfg.rl_account_burst,
	};
}

ts_limits
ts_auth_limits(ts_auth *a)
{
	ts_limits l;

	pthread_mutex_lock(&a->live_mu);
	l = a->limits;
	pthread_mutex_unlock(&a->live_mu);
	return l;
}

ts_mailer *
ts_auth_mailer(ts_auth *a)
{
	ts_mailer *m;

	pthread_mutex_lock(&a->live_mu);
	m = ts_mailer_ref(a->mailer);
	pthread_mutex_unlock(&a->live_mu);
	return m;
}

int
ts_auth_mail_on(ts_auth *a)
{
	ts_mailer *m = ts_auth_mailer(a);
	int on = m != NULL;

	ts_mailer_free(m);
	return on;
}

ts_err
ts_auth_reload(ts_auth *a, const ts_auth_live *v)
{
	ts_mailer *m = NULL, *old;
	ts_err r;

	/* The new mailer is made first: a bad one changes nothing. */
	if ((r = ts_mailer_new(v->smtp_url, v->smtp_from, v->smtp_timeout, &m)) != TS_OK)
		return r;
	if (m && (r = ts_mailer_set_password(m, v->smtp_password)) != TS_OK) {
		ts_mailer_free(m);
		return r;
	}
	ts_limiter_set(a->rl_ip, v->rl_ip_rate, v->rl_ip_burst);
	pthread_mutex_lock(&a->live_mu);
	a->limits = (ts_limits){
		.lock_after = v->lock_after,
		.lock_secs = v->lock_secs,
		.mfa_lock_after = v->mfa_lock_after > 0 ? v->mfa_lock_after : 10,
		.mfa_lock_secs = v->mfa_lock_secs > 0 ? v->mfa_lock_secs : 900,
		.rl_account_rate = v->rl_account_rate,
		.rl_account_burst = v->rl_account_burst,
	};
	old = a->mailer;
	a->mailer = m;
	pthread_mutex_unlock(&a->live_mu);
	ts_mailer_free(old);         /* freed now, or by the last send using it */
	return TS_OK;
}
