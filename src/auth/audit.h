/* The engine's audit vocabulary: why an attempt failed, one word per
 * reason, the same in the login_failed, login_throttled and mfa_failed
 * events whichever face (native, 000, 001, 003) took the request; the faces
 * log no reasons of their own. Listed in docs/ARCHITECTURE.md ("Logs"). */
#ifndef TS_AUTH_AUDIT_H
#define TS_AUTH_AUDIT_H

#include "core/err.h"

/* X(name, word): */
#define TS_WHY_TABLE(X)                                                          \
	X(TS_WHY_TENANT, "tenant")             /* the request names no known tenant */ \
	X(TS_WHY_CREDENTIALS, "credentials")   /* unknown account or wrong password */ \
	X(TS_WHY_DISABLED, "disabled")         /* the account is disabled */           \
	X(TS_WHY_UNVERIFIED, "unverified")     /* right password, address unverified */ \
	X(TS_WHY_LOCKED, "locked")             /* locked after too many failures */    \
	X(TS_WHY_RATE_ADDRESS, "rate_address") /* too many attempts from the address */ \
	X(TS_WHY_RATE_ACCOUNT, "rate_account") /* too many attempts on the account */  \
	X(TS_WHY_CODE, "code")                 /* wrong, reused or missing code */     \
	X(TS_WHY_CHALLENGE, "challenge")       /* spent or expired, or tries used up */

typedef enum {
#define TS_WHY_ENUM(name, word) name,
	TS_WHY_TABLE(TS_WHY_ENUM)
#undef TS_WHY_ENUM
} ts_why;

static inline const char *
ts_why_word(ts_why w)
{
	switch (w) {
#define TS_WHY_CASE(name, word) case name: return word;
	TS_WHY_TABLE(TS_WHY_CASE)
#undef TS_WHY_CASE
	}
	return "unknown";
}

/* An audit event: what ts_log_event writes (the same NULL-terminated key /
 * value pairs, TS_LOG_INT for numbers), at INFO, from the engine `a` so
 * that it can also be kept in the store's audit log. Keys with a meaning
 * of their own: "tenant", "user", "actor", "ip", "reason". Never give it a
 * secret, a password, a code or a token. */
typedef struct ts_auth ts_auth;
void ts_audit(ts_auth *a, const char *event, ...);
/* The same, logged at WARN (a lock, a leaked token). */
void ts_audit_warn(ts_auth *a, const char *event, ...);

/* Waits until every event audited so far is in the store (a reader of
 * the audit log sees its own writes). */
void ts_audit_flush(ts_auth *a);

/* The writer thread of a server's audit rows (audit.c). stop writes
 * whatever is queued first. */
typedef struct ts_auditor ts_auditor;
typedef struct ts_store ts_store;
ts_err ts_auditor_start(ts_store *s, ts_auditor **out);
void ts_auditor_stop(ts_auditor *w);

#endif
