/* Padding of password checks to one cost (see pwtime.h for why). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "auth/pwtime.h"
#include "core/util.h"
#include "crypto/password.h"

/* A class unseen this long no longer sets the pace: after an import or a
 * cost change the old hashes are rehashed at login and fade out. */
#define DECAY_US (15LL * 60 * 1000000)
/* Weight of one new sample. */
#define ALPHA 0.2
/* Pad to the estimate plus this share, so that a check of the slowest
 * class, which varies around its estimate, mostly ends inside the pad as
 * well, and both kinds of answer leave at the same moment. */
#define MARGIN 0.25

void
ts_pwtime_init(ts_pwtime *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
}

void
ts_pwtime_destroy(ts_pwtime *p)
{
	pthread_mutex_destroy(&p->mu);
}

/* The class of a stored hash: its format and parameters, without salt or
 * digest (ts_pw_class), e.g. "$argon2id$v=19$m=19456,t=2,p=1", "$2b$12". */
static void
class_of(const char *phc, char out[TS_PWTIME_CLASS_MAX])
{
	ts_pw_class(phc, out, TS_PWTIME_CLASS_MAX);
}

/* Slot for name, or the stalest one to reuse. Called locked. */
static ts_pwtime_class *
class_slot(ts_pwtime *p, const char *name)
{
	ts_pwtime_class *old = &p->c[0];

	for (int i = 0; i < p->n; i++) {
		if (strcmp(p->c[i].name, name) == 0)
			return &p->c[i];
		if (p->c[i].seen_us < old->seen_us)
			old = &p->c[i];
	}
	if (p->n < TS_PWTIME_CLASSES)
		old = &p->c[p->n++];
	memset(old, 0, sizeof(*old));
	ts_strlcpy(old->name, name, sizeof(old->name));
	return old;
}

static void
observe(ts_pwtime *p, const char *phc, int64_t dur_us, int64_t now_us)
{
	char name[TS_PWTIME_CLASS_MAX];
	double x = (double)dur_us;

	class_of(phc, name);
	pthread_mutex_lock(&p->mu);
	ts_pwtime_class *c = class_slot(p, name);
	if (c->est_us <= 0 || now_us - c->seen_us > DECAY_US) {
		c->est_us = x;
	} else {
		/* One stall (a descheduled worker) must not set the pace for
		 * every login after it: a sample counts at most twice the
		 * estimate. */
		if (x > 2 * c->est_us)
			x = 2 * c->est_us;
		c->est_us += ALPHA * (x - c->est_us);
	}
	c->seen_us = now_us;
	pthread_mutex_unlock(&p->mu);
}

ts_err
ts_pwtime_verify(ts_pwtime *p, const char *phc, const char *pw, size_t len)
{
	int64_t t0 = ts_mono_us();
	ts_err r = ts_pw_verify(phc, pw, len);
	int64_t t1 = ts_mono_us();

	/* A string that could not be checked cost nothing worth learning. */
	if (r == TS_OK || r == TS_E_BAD_CREDENTIALS)
		observe(p, phc, t1 - t0, t1);
	return r;
}

int64_t
ts_pwtime_target(ts_pwtime *p, int64_t now_us)
{
	double best = 0;

	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->n; i++)
		if (now_us - p->c[i].seen_us <= DECAY_US && p->c[i].est_us > best)
			best = p->c[i].est_us;
	pthread_mutex_unlock(&p->mu);
	return (int64_t)(best * (1 + MARGIN));
}

int64_t
ts_pwtime_deadline(ts_pwtime *p, int64_t start_us)
{
	return start_us + ts_pwtime_target(p, ts_mono_us());
}

void
ts_pwtime_pad(ts_pwtime *p, int64_t start_us)
{
	ts_pwtime_sleep_until(ts_pwtime_deadline(p, start_us));
}

void
ts_pwtime_sleep_until(int64_t end)
{
	struct timespec ts = { .tv_sec = end / 1000000, .tv_nsec = (end % 1000000) * 1000 };

	/* Absolute monotonic deadline: a signal cannot stretch or cut it. */
	while (ts_mono_us() < end &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}
