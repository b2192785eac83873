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
	int64_t activate_at;
} ts_loaded_key;

/* The signing keys, reloaded from the store when another process (the CLI's
 * `keys rotate` or `keys revoke`, another node) changed them: the store's
 * key version is read at most every TS_KEYS_CHECK_US, and only a new
 * version costs a full reload. */
typedef struct ts_keyring {
	pthread_rwlock_t lock;
	ts_loaded_key *keys;         /* newest first; revoked keys never */
	size_t n;
	int64_t version;             /* store's key_version of these keys; -1 none */
	_Atomic int64_t checked_us;  /* monotonic time of the last version check */
} ts_keyring;

/* The limits SIGHUP may change (ts_auth_live), read as one copy so a
 * request never mixes an old rate with a new burst. */
typedef struct ts_limits {
	int lock_after;
	int64_t lock_secs;
	int mfa_lock_after;
	int64_t mfa_lock_secs;
	double rl_account_rate, rl_account_burst;
} ts_limits;

struct ts_auth {
	ts_auth_config cfg;          /* strings below are our own copies */
	char *issuer;
	char *audience;
	char *default_tenant;
	char *totp_issuer;
	ts_store *store;             /* not owned */
	/* Checked for unknown users (the same work). Made on its own thread
	 * (two argon2id runs) so that start-up does not wait for it: read it
	 * only through ts_auth_dummy_hash(), which waits until it is made. */
	char dummy_phc[TS_PHC_MAX];
	pthread_mutex_t dummy_mu;
	pthread_cond_t dummy_cv;
	pthread_t dummy_thread;
	int dummy_state;             /* 0 being made, 1 made, -1 failed */
	int dummy_started;           /* dummy_thread runs (join it) */
	int dummy_sync;              /* mu and cv initialised */
	ts_keyring ring;
	int keys_ready;              /* ring initialised (ts_auth_free's guide) */
	ts_limiter *rl_ip;
	/* Guards limits and mailer, which ts_auth_reload swaps; the cfg
	 * fields of the same names are start-up values, not to be read. */
	pthread_mutex_t live_mu;
	ts_limits limits;
	struct ts_mailer *mailer;    /* NULL when mail is off (email.h); use ts_auth_mailer */
	ts_tokcache *verified;       /* access tokens already verified */
	ts_pwtime pwtime;            /* cost of a check, per stored class */
	int pwtime_ready;
	ts_kek kek;                  /* the key file's key (seal.h) */
	unsigned char successor_key[TS_KEK_LEN]; /* HMAC key of refresh successors */
	unsigned char recovery_key[TS_KEK_LEN];  /* HMAC key of recovery code hashes */
	char *public_url;            /* our copy, no trailing slash; NULL = none */
	_Atomic(struct ts_outbox *) outbox; /* the sender to wake; NULL when none */
	char *wa_rp_id;              /* WebAuthn RP ID (factor_webauthn.c) */
	char *wa_origins;            /* allowed origins, normalised, comma-separated */
	struct ts_auditor *auditor;  /* audit rows' writer; NULL: written at once */
	char *operator_tenant;       /* slug whose admins manage every tenant; NULL */
	int admin_only;              /* ts_auth_new_admin: store and hashing only */
};

/* live.c: the current limits (a copy), and the mailer with a reference
 * the caller drops with ts_mailer_free (NULL: mail is off). */
ts_limits ts_auth_limits(ts_auth *a);
struct ts_mailer *ts_auth_mailer(ts_auth *a);
int ts_auth_mail_on(ts_auth *a);   /* 1 when a mailer is set now */
/* Sets up limits and live_mu from a->cfg (ts_auth_new). */
void ts_live_init(ts_auth *a);

/* outbox.c: wakes the sender after a mail was queued (no-op without one). */
void ts_outbox_kick(ts_auth *a);

/* factor_webauthn.c: the RP ID and origins from the config (defaults from the
 * issuer). TS_E_INVALID for an origin that does not normalise. */
ts_err ts_webauthn_init(ts_auth *a, const char *rp_id, const char *origins);

/* The key of an account for limits and locks: tenant id (or the name the
 * request used, when no such tenant exists) and the lower-cased email. */
#define TS_ACCOUNT_KEY_MAX (TS_ID_SZ + TS_HOST_MAX + TS_EMAIL_MAX + 4)
void ts_account_key(const ts_tenant *t, const ts_login_req *req, char *out, size_t cap);
/* The per-account token bucket (rl_account_*), kept in the store so every
 * node counts against the same one: *wait 0 when an attempt may go on,
 * else its Retry-After in seconds. A store error is returned (and the
 * attempt refused): a limit that cannot be read is not waived. */
ts_err ts_account_take(ts_auth *a, const char *key, int *wait);
/* Gives back the token of an attempt that turned out not to count. */
void ts_account_give(ts_auth *a, const char *key);

/* mfa_lock.c: failed second-factor answers per account (user id), apart
 * from password failures. */
void ts_mfa_lock_key(const char *user_id, char *out, size_t cap);
/* Before a second-factor answer is checked: TS_OK, or TS_E_LOCKED with
 * *retry_after in seconds (the answer must not be checked), or a store
 * error. */
ts_err ts_mfa_admit(ts_auth *a, const ts_user *u, int *retry_after);
/* Counts one wrong answer (method names it in the log, with tries: the
 * guesses made at this challenge so far, 0 when the method has none);
 * locks at mfa_lock_after. */
void ts_mfa_failed(ts_auth *a, const ts_user *u, const char *method, int tries);
/* A correct second factor ends the run of failures. */
void ts_mfa_passed(ts_auth *a, const ts_user *u);

/* mfa_totp.c: TOTP enrolment for a user, without the session rules
 * (ts_auth_totp_begin / _confirm and factor_totp.c add them). */
ts_err ts_totp_enrol_new(ts_auth *a, const ts_user *u, char b32[64], char **uri);
ts_err ts_totp_enrol_confirm(ts_auth *a, const ts_user *u, const char *code);

/* factor_email.c: a mailed 6-digit code bound to an owner (a login
 * challenge, an IAM auth token): one live code per owner (a new one voids
 * the old), stored as a hash bound to the owner, single use. subject and
 * intro head the mail. */
ts_err ts_mail_code_send(ts_auth *a, const ts_user *u, const char *owner, int64_t expires_at,
                         const char *subject, const char *intro);
/* TS_OK and the code spent, or TS_E_MFA_INVALID (wrong, expired, spent,
 * none sent); store errors. */
ts_err ts_mail_code_check(ts_auth *a, const char *owner, const char *code, int64_t now);

/* enroll.c: mailed 6-digit codes, shared by IAM's login codes and the
 * enrolment proof. */
#define TS_CODE_DIGITS 6
void ts_code_new(char out[TS_CODE_DIGITS + 1]);
int ts_code_shape_ok(const char *code);
/* enroll.c: 1 when the space-separated amr list (RFC 8176) holds word. */
int ts_amr_has(const char *amr, const char *word);
/* The stored form of a mailed code: the hash of "owner:code", owner being
 * what the code is bound to (an IAM auth token, an enrolment session id),
 * so a code cannot be tried without its owner. */
void ts_code_bound_hash(const char *owner, const char *code, char out[TS_HASH_SZ]);

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
 * parts (caller frees with ts_jws_parts_free) and the kid that signed it. */
ts_err ts_keys_verify(ts_auth *a, const char *token, ts_jws_parts *parts,
                      char kid[TS_KID_MAX]);
/* 1 when kid is a key that tokens may still be verified with (published,
 * not revoked), as of the store at most TS_KEYS_CHECK_US ago. For the
 * verified-token cache: a hit counts only while its key does. */
int ts_keys_trusted(ts_auth *a, const char *kid);

/* tokens.c */
ts_err ts_tokens_issue(ts_auth *a, const ts_session *s, int access_kind, int with_refresh,
                       int force_reload, ts_tokens *out);

/* auth.c: the unknown user's hash (see dummy_phc), waiting for it while
 * it is still being made; NULL if it could not be made. */
const char *ts_auth_dummy_hash(ts_auth *a);

/* The store's calls, written short. */
#define ST(a) ((a)->store)
#define SOPS(a) ((a)->store->ops)

#endif
