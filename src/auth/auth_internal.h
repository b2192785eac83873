/* Private to src/auth: the engine's state and the helpers its files share. */
#ifndef TS_AUTH_INTERNAL_H
#define TS_AUTH_INTERNAL_H

#include <pthread.h>
#include "auth/auth.h"
#include "auth/pwtime.h"
#include "auth/ratelimit.h"
#include "auth/tokcache.h"

typedef struct ts_loaded_key {
	char kid[TS_KID_MAX];
	ts_key *key;
	int64_t created_at;
	int64_t retired_at;
	int64_t publish_until;
} ts_loaded_key;

/* The signing keys, reloaded from the store when another process (the CLI's
 * `keys rotate`, another node) may have changed them. */
typedef struct ts_keyring {
	pthread_rwlock_t lock;
	ts_loaded_key *keys;         /* newest first */
	size_t n;
	int64_t loaded_us;           /* monotonic time of the last reload */
} ts_keyring;

struct ts_auth {
	ts_auth_config cfg;          /* strings below are our own copies */
	char *issuer;
	char *audience;
	char *default_tenant;
	char *totp_issuer;
	ts_store *store;             /* not owned */
	char dummy_hash[TS_PHC_MAX]; /* checked for unknown users (same work) */
	ts_keyring ring;
	int keys_ready;              /* ring initialised (ts_auth_free's guide) */
	ts_limiter *rl_ip;
	ts_limiter *rl_account;
	struct ts_mailer *mailer;    /* NULL when mail is off (email.h) */
	ts_tokcache *verified;       /* access tokens already verified */
	ts_pwtime pwtime;            /* cost of a check, per stored class */
	int pwtime_ready;
};

/* The key of an account for limits and locks: tenant id (or the name the
 * request used, when no such tenant exists) and the lower-cased email. */
#define TS_ACCOUNT_KEY_MAX (TS_ID_SZ + TS_HOST_MAX + TS_EMAIL_MAX + 4)
void ts_account_key(const ts_tenant *t, const ts_login_req *req, char *out, size_t cap);

/* tenant.c: the tenant a bearer or refresh call is bound to; *named 0
 * when the request names none (then any tenant's token may be used).
 * TS_E_TENANT_CONFLICT, or TS_E_TENANT_MISMATCH for an unknown name. */
ts_err ts_request_expect(ts_auth *a, const ts_tenant_hints *h, ts_tenant *t, int *named);

/* keys.c */
ts_err ts_keys_init(ts_auth *a);
void ts_keys_free(ts_auth *a);
/* Signs claims with the current signer. force_reload: look for a newer key
 * first (cheap enough once per password login, throttled otherwise). */
ts_err ts_keys_sign(ts_auth *a, const char *payload, int force_reload, char *out, size_t cap);
/* Verifies a compact JWS and returns its decoded payload text in
 * parts (caller frees with ts_jws_parts_free). */
ts_err ts_keys_verify(ts_auth *a, const char *token, ts_jws_parts *parts);

/* tokens.c */
ts_err ts_tokens_issue(ts_auth *a, const ts_session *s, int access_kind, int with_refresh,
                       int force_reload, ts_tokens *out);

/* The store's calls, written short. */
#define ST(a) ((a)->store)
#define SOPS(a) ((a)->store->ops)

#endif
