/* Server and CLI settings: one table, so the struct, the flags, the
 * TESSERA_* environment variables and the config file cannot drift apart.
 * Precedence: default < config file < environment < command-line flag. */
#ifndef TS_CONFIG_H
#define TS_CONFIG_H

#include <stdio.h>

/* Which commands use a setting (their --help lists it). */
#define TS_USE_SERVE 1u              /* tessera serve */
#define TS_USE_STORE 2u              /* every command that opens the store */
#define TS_USE_HASH 4u               /* commands that hash a password */
#define TS_USE_KEYS 8u               /* keys rotate */
#define TS_USE_ALL (TS_USE_SERVE | TS_USE_STORE)

/* How a text setting is checked when it is set (each its own message):
 * LISTEN ADDR:PORT, [IPv6]:PORT or :PORT; PROXIES comma list of IPs and
 * CIDRs; SMTP_URL "" or smtp[s]://...; URL an absolute http(s) URL or "";
 * PREFIX "" or a path starting with '/'; CHOICE one of a fixed list of words
 * (config.c's choices table: log_level, jwt_alg, store_defer); LISTEN_OPT
 * "" (off) or as LISTEN. */
typedef enum {
	TS_CHECK_NONE, TS_CHECK_LISTEN, TS_CHECK_PROXIES, TS_CHECK_SMTP_URL, TS_CHECK_URL,
	TS_CHECK_PREFIX, TS_CHECK_CHOICE, TS_CHECK_LISTEN_OPT,
} ts_config_check;

/* X(type, name, default, min, max, uses, check, help). Strings ignore min
 * and max; integers ignore check (their bounds are the check). */
#define TS_CONFIG_TABLE(X)                                                              \
	X(STR, listen, "127.0.0.1:8080", 0, 0, TS_USE_SERVE, LISTEN, "address to serve on, ADDR:PORT")           \
	X(STR, db, "sqlite:data/tessera.db", 0, 0, TS_USE_ALL, NONE, "store: sqlite:PATH or postgres://USER@HOST/DB")\
	X(STR, db_password, "", 0, 0, TS_USE_ALL, NONE, "PostgreSQL password, added to a postgres:// --db (secret: prefer --db-password-file)") \
	X(STR, default_tenant, "", 0, 0, TS_USE_SERVE, NONE, "tenant slug used when a request names none")     \
	X(STR, issuer, "", 0, 0, TS_USE_SERVE, URL, "JWT issuer (iss), an absolute http(s) URL (\"\" = http://LISTEN)")                  \
	X(STR, audience, "tessera", 0, 0, TS_USE_SERVE, NONE, "JWT audience (aud)")                             \
	X(STR, jwt_alg, "ES256", 0, 0, TS_USE_SERVE | TS_USE_KEYS, CHOICE, "signing algorithm of new keys: ES256 or EdDSA")    \
	X(INT, access_ttl, 900, 1, 86400, TS_USE_SERVE | TS_USE_KEYS, NONE, "access token lifetime, seconds")                \
	X(INT, key_activation_delay, 90, 0, 86400, TS_USE_SERVE | TS_USE_KEYS, NONE, "seconds a new key (keys rotate) is published before it signs; keep >= 61 (JWKS max-age 60 + key reload 0.5)") \
	X(INT, refresh_ttl, 2592000, 60, 31536000, TS_USE_SERVE, NONE, "refresh token lifetime, seconds")      \
	X(INT, refresh_reuse_interval, 10, 0, 300, TS_USE_SERVE, NONE, "seconds a spent refresh token still gets its one successor (lost answer, racing tabs); 0 = strict rotation") \
	X(STR, key_file, "", 0, 0, TS_USE_SERVE | TS_USE_KEYS, NONE, "key file (32 bytes) sealing signing keys and TOTP secrets (\"\" = the SQLite database's path + .key, made 0600 when missing; required for other stores)") \
	X(INT, session_ttl, 2592000, 60, 31536000, TS_USE_SERVE, NONE, "absolute session lifetime, seconds")   \
	X(INT, challenge_ttl, 300, 10, 3600, TS_USE_SERVE, NONE, "MFA challenge lifetime, seconds")            \
	X(INT, pw_opslimit, 2, 1, 64, TS_USE_SERVE | TS_USE_HASH, NONE, "argon2id passes (t)")                               \
	X(INT, pw_memlimit_kib, 19456, 8, 4194304, TS_USE_SERVE | TS_USE_HASH, NONE, "argon2id memory (m), KiB")             \
	X(INT, hash_workers, 0, 0, 256, TS_USE_SERVE, NONE, "password hashing threads (0 = cores)")            \
	X(INT, hash_queue, 32, 1, 100000, TS_USE_SERVE, NONE, "logins that may wait for a hashing thread")     \
	X(INT, http_threads, 0, 0, 256, TS_USE_SERVE, NONE, "HTTP event-loop threads (0 = cores)")             \
	X(INT, conn_limit, 4096, 16, 1000000, TS_USE_SERVE, NONE, "most open connections")                     \
	X(INT, conn_limit_per_ip, 256, 0, 1000000, TS_USE_SERVE, NONE, "most open connections of one client address (0 = no limit; trusted proxies exempt)") \
	X(INT, conn_timeout, 10, 1, 3600, TS_USE_SERVE, NONE, "idle connection timeout, seconds")              \
	X(INT, http_header_kib, 16, 8, 64, TS_USE_SERVE, NONE, "most KiB of a request line and header block (431 past it); every open connection holds this much") \
	X(STR, trusted_proxies, "", 0, 0, TS_USE_SERVE, PROXIES, "comma list of proxy IPs or CIDRs whose X-Forwarded-For counts") \
	X(INT, lock_after, 10, 1, 100, TS_USE_SERVE, NONE, "failed logins before an account is locked")        \
	X(INT, rl_ip_per_min, 600, 0, 100000000, TS_USE_SERVE, NONE, "password attempts per minute per client address (0 = off)") \
	X(INT, rl_ip_burst, 100, 1, 100000000, TS_USE_SERVE, NONE, "burst of attempts per client address")      \
	X(INT, rl_account_per_min, 6, 0, 100000000, TS_USE_SERVE, NONE, "password attempts per minute per account (0 = off)") \
	X(INT, rl_account_burst, 5, 1, 100000000, TS_USE_SERVE, NONE, "burst of attempts per account")           \
	X(INT, lock_secs, 900, 1, 86400, TS_USE_SERVE, NONE, "lock duration, seconds")                          \
	X(INT, mfa_lock_after, 10, 1, 1000, TS_USE_SERVE, NONE, "wrong second-factor answers before an account's second factor is locked") \
	X(INT, mfa_lock_secs, 900, 1, 86400, TS_USE_SERVE, NONE, "second-factor lock duration, seconds")        \
	X(STR, prefix_native, "", 0, 0, TS_USE_SERVE, PREFIX, "path prefix of the native API")                   \
	X(STR, prefix_admin, "/admin", 0, 0, TS_USE_SERVE, PREFIX, "path prefix of contract 000")                \
	X(STR, prefix_iam, "/iam", 0, 0, TS_USE_SERVE, PREFIX, "path prefix of contract 001")                    \
	X(STR, prefix_px0, "/px0", 0, 0, TS_USE_SERVE, PREFIX, "path prefix of contract 003")                    \
	X(STR, log_level, "info", 0, 0, TS_USE_SERVE, CHOICE, "debug, info, warn or error")                     \
	X(STR, smtp_url, "", 0, 0, TS_USE_SERVE, SMTP_URL, "SMTP server for mailed codes, smtp[s]://[user:pass@]host:port (\"\" = no mail)") \
	X(STR, smtp_password, "", 0, 0, TS_USE_SERVE, NONE, "SMTP AUTH password for the user in smtp_url (secret: prefer --smtp-password-file)") \
	X(STR, smtp_from, "tessera@localhost", 0, 0, TS_USE_SERVE, NONE, "sender address of mailed codes")      \
	X(INT, smtp_timeout, 10, 1, 300, TS_USE_SERVE, NONE, "seconds one mail delivery may take") \
	X(INT, store_workers, 0, 0, 256, TS_USE_SERVE, NONE, "threads that run requests touching a remote store, or the group-committed writes of a local one (0 = 8 x cores)") \
	X(INT, store_queue, 256, 1, 100000, TS_USE_SERVE, NONE, "requests that may wait for a store thread (full: 503 at once)") \
	X(STR, store_defer, "auto", 0, 0, TS_USE_SERVE, CHOICE, "run store requests on the store threads: auto (when the store is remote), always or never") \
	X(INT, sweep_interval, 60, 0, 86400, TS_USE_SERVE, NONE, "seconds between housekeeping sweeps (0 = off)") \
	X(INT, sweep_grace, 3600, 0, 31536000, TS_USE_SERVE, NONE, "seconds an expired secret is kept before the sweep deletes it") \
	X(INT, sweep_retention, 86400, 0, 31536000, TS_USE_SERVE, NONE, "seconds an ended session (and its secrets) or an idle lock is kept") \
	X(STR, public_url, "", 0, 0, TS_USE_SERVE, URL, "base URL of the pages mailed links open (URL/verify?token=..., URL/reset?token=...); \"\" = mails carry the token and code only") \
	X(INT, verify_ttl, 86400, 2, 2592000, TS_USE_SERVE, NONE, "lifetime of a mailed address-verification or invitation token, seconds") \
	X(INT, reset_ttl, 1800, 2, 86400, TS_USE_SERVE, NONE, "lifetime of a mailed password-reset token, seconds") \
	X(INT, oidc_code_ttl, 60, 1, 60, TS_USE_SERVE, NONE, "lifetime of an OpenID Connect authorization code, seconds (RFC 6749 §4.1.2: short)") \
	X(INT, mail_retry, 30, 1, 3600, TS_USE_SERVE, NONE, "seconds before an undelivered mail is tried again (doubling each try, at most 4096 x)") \
	X(INT, mail_poll, 5, 1, 3600, TS_USE_SERVE, NONE, "seconds between outbox checks for mail other nodes queued or that is due again") \
	X(STR, webauthn_rp_id, "", 0, 0, TS_USE_SERVE, NONE, "WebAuthn RP ID, a domain (\"\" = the issuer URL's host)") \
	X(STR, webauthn_origins, "", 0, 0, TS_USE_SERVE, NONE, "comma list of origins WebAuthn ceremonies may come from (\"\" = the issuer URL's origin)") \
	X(INT, audit_retention_days, 365, 0, 36500, TS_USE_SERVE, NONE, "days an audit log row is kept (0 = forever)") \
	X(STR, operator_tenant, "", 0, 0, TS_USE_SERVE, NONE, "tenant slug whose administrators manage every tenant through the admin API (\"\" = none)") \
	X(STR, tls_cert, "", 0, 0, TS_USE_SERVE, NONE, "TLS certificate file, PEM, the chain after it (with --tls-key: serve https; reloaded on SIGHUP)") \
	X(STR, tls_key, "", 0, 0, TS_USE_SERVE, NONE, "TLS private key file, PEM, no passphrase (reloaded on SIGHUP)") \
	X(STR, metrics_listen, "", 0, 0, TS_USE_SERVE, LISTEN_OPT, "address of the Prometheus /metrics listener, ADDR:PORT, kept off the API's (\"\" = none; use a loopback or private address)") \
	X(STR, log_format, "json", 0, 0, TS_USE_ALL, NONE, "log lines: json (one object a line) or text (key=value)") \
	X(STR, audit_log, "", 0, 0, TS_USE_ALL, NONE, "file the audit events (logins, second factors, passwords, sessions, administration) are appended to instead of stdout (\"\" = with the other events)")

#define TS_CFG_TYPE_STR char *
#define TS_CFG_TYPE_INT long long

typedef struct ts_config {
#define TS_CFG_FIELD(type, name, dflt, min, max, uses, check, help) TS_CFG_TYPE_##type name;
	TS_CONFIG_TABLE(TS_CFG_FIELD)
#undef TS_CFG_FIELD
} ts_config;

/* Fills cfg with defaults. */
void ts_config_defaults(ts_config *cfg);
void ts_config_free(ts_config *cfg);

/* Sets one setting by name ("access_ttl" or "access-ttl") from text.
 * Returns 0, or -1 with a one-line reason in err (errsz bytes); -2 when the
 * name is not a setting. */
int ts_config_set(ts_config *cfg, const char *name, const char *value, char *err, size_t errsz);
/* 1 if name ("access_ttl" or "access-ttl") is a setting. */
int ts_config_known(const char *name);
/* Secret settings (db_password, smtp_password): each also takes NAME_file
 * (--NAME-file, TESSERA_NAME_FILE, `NAME_file = PATH`), a file whose one
 * line is the value, so the secret stays out of argv and the environment.
 * 1 when name is one. */
int ts_config_secret(const char *name);
/* Applies a `key = value` file; errors cite FILE:LINE. '#' starts a
 * comment (a whole line or after a value); a value in double quotes is
 * taken as is, '#' included. */
int ts_config_load_file(ts_config *cfg, const char *path, char *err, size_t errsz);
/* Applies every TESSERA_<NAME> variable that is set. A TESSERA_* name a
 * few edits from a setting's (a typo) is an error naming the setting;
 * names far from every setting are other tools' and ignored. */
int ts_config_load_env(ts_config *cfg, char *err, size_t errsz);
/* Like ts_config_load_file but reads the whole file, writing every error
 * ("FILE:LINE: reason") as one line to errs. Returns the number of errors
 * (-1 when the file cannot be read, said in errs). */
int ts_config_check_file(ts_config *cfg, const char *path, FILE *errs);
/* Prints every effective setting as a config file line ("name = value"),
 * secrets redacted: a secret as "(set)" or "", a credential inside a URL
 * (db, smtp_url) as ***. */
void ts_config_print(FILE *f, const ts_config *cfg);
/* The settings, by index 0..ts_config_count()-1, for comparing two
 * configurations (SIGHUP reload): the name, and 1 when a and b agree. */
size_t ts_config_count(void);
const char *ts_config_name(size_t i);
int ts_config_same(const ts_config *a, const ts_config *b, size_t i);
/* Swaps setting i's values of a and b (a string by its pointer). */
void ts_config_swap(ts_config *a, ts_config *b, size_t i);
/* Prints "  --name VALUE  help (default)" lines for --help, for the
 * settings whose uses share a bit with uses (TS_USE_*). */
void ts_config_usage(FILE *f, unsigned uses);

#endif
