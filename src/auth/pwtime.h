/* Equal cost for every password check, whatever the stored hash.
 *
 * An unknown account is checked against a dummy hash made at the server's
 * cost; a known one against its own hash, whose cost may differ (the cost
 * was raised since, or the hash was imported). Without more, the time of a
 * failed login tells which accounts exist. So every check is padded: per
 * process we keep a running estimate (EWMA) of the wall time of one
 * verification for each class of stored parameters (algorithm + params)
 * seen recently, and every check (unknown tenant, unknown user, disabled,
 * wrong or right password) lasts at least the largest current estimate,
 * with a margin; a class not seen for a while is dropped. Authelia pads its
 * logins in the same spirit. Thread-safe. */
#ifndef TS_AUTH_PWTIME_H
#define TS_AUTH_PWTIME_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define TS_PWTIME_CLASSES 8
#define TS_PWTIME_CLASS_MAX 64

typedef struct ts_pwtime_class {
	char name[TS_PWTIME_CLASS_MAX];   /* "$argon2id$v=19$m=19456,t=2,p=1" */
	double est_us;                    /* EWMA of one verification */
	int64_t seen_us;                  /* monotonic time of the last one */
} ts_pwtime_class;

typedef struct ts_pwtime {
	pthread_mutex_t mu;
	ts_pwtime_class c[TS_PWTIME_CLASSES];
	int n;
} ts_pwtime;

void ts_pwtime_init(ts_pwtime *p);
void ts_pwtime_destroy(ts_pwtime *p);
/* ts_pw_verify, timed: the duration is folded into the estimate of phc's
 * class. Same returns as ts_pw_verify. */
ts_err ts_pwtime_verify(ts_pwtime *p, const char *phc, const char *pw, size_t len);
/* start_us (monotonic, when the check began) plus the padding target: the
 * largest live class estimate with a margin. No answer of the check may
 * leave before it. */
int64_t ts_pwtime_deadline(ts_pwtime *p, int64_t start_us);
/* Sleeps until the monotonic time until (past or 0: returns at once). */
void ts_pwtime_sleep_until(int64_t until);
/* Both: sleeps until ts_pwtime_deadline(p, start_us). */
void ts_pwtime_pad(ts_pwtime *p, int64_t start_us);
/* The target in microseconds at now_us (for tests). */
int64_t ts_pwtime_target(ts_pwtime *p, int64_t now_us);

#endif
