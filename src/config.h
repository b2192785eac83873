/* Server and CLI settings: one table, so the struct, the flags, the
 * TESSERA_* environment variables and the config file cannot drift apart.
 * Precedence: default < config file < environment < command-line flag. */
#ifndef TS_CONFIG_H
#define TS_CONFIG_H

#include <stdio.h>

/* X(type, name, default, min, max, help). Strings ignore min and max. */
#define TS_CONFIG_TABLE(X)                                                              \
	X(STR, listen, "127.0.0.1:8080", 0, 0, "address to serve on, ADDR:PORT")           \
	X(STR, db, "sqlite:data/tessera.db", 0, 0, "store, sqlite:PATH")                    \
	X(STR, default_tenant, "", 0, 0, "tenant slug used when a request names none")     \
	X(STR, issuer, "http://127.0.0.1:8080", 0, 0, "JWT issuer (iss)")                  \
	X(STR, audience, "tessera", 0, 0, "JWT audience (aud)")                             \
	X(STR, jwt_alg, "ES256", 0, 0, "signing algorithm of new keys: ES256 or EdDSA")    \
	X(INT, access_ttl, 900, 1, 86400, "access token lifetime, seconds")                \
	X(INT, refresh_ttl, 2592000, 60, 31536000, "refresh token lifetime, seconds")      \
	X(INT, session_ttl, 2592000, 60, 31536000, "absolute session lifetime, seconds")   \
	X(INT, challenge_ttl, 300, 10, 3600, "MFA challenge lifetime, seconds")            \
	X(INT, pw_opslimit, 2, 1, 64, "argon2id passes (t)")                               \
	X(INT, pw_memlimit_kib, 19456, 8, 4194304, "argon2id memory (m), KiB")             \
	X(INT, hash_workers, 0, 0, 256, "password hashing threads (0 = cores)")            \
	X(INT, hash_queue, 32, 1, 100000, "logins that may wait for a hashing thread")     \
	X(INT, http_threads, 0, 0, 256, "HTTP event-loop threads (0 = cores)")             \
	X(INT, conn_limit, 4096, 16, 1000000, "most open connections")                     \
	X(INT, conn_limit_per_ip, 256, 0, 1000000, "most open connections of one client address (0 = no limit; trusted proxies exempt)") \
	X(INT, conn_timeout, 10, 1, 3600, "idle connection timeout, seconds")              \
	X(STR, trusted_proxies, "", 0, 0, "comma list of proxy IPs whose X-Forwarded-For counts") \
	X(INT, lock_after, 10, 1, 100, "failed logins before an account is locked")        \
	X(INT, rl_ip_per_min, 600, 0, 100000000, "password attempts per minute per client address (0 = off)") \
	X(INT, rl_ip_burst, 100, 1, 100000000, "burst of attempts per client address")      \
	X(INT, rl_account_per_min, 6, 0, 100000000, "password attempts per minute per account (0 = off)") \
	X(INT, rl_account_burst, 5, 1, 100000000, "burst of attempts per account")           \
	X(INT, lock_secs, 900, 1, 86400, "lock duration, seconds")                          \
	X(STR, prefix_native, "", 0, 0, "path prefix of the native API")                   \
	X(STR, prefix_admin, "/admin", 0, 0, "path prefix of contract 000")                \
	X(STR, prefix_iam, "/iam", 0, 0, "path prefix of contract 001")                    \
	X(STR, prefix_px0, "/px0", 0, 0, "path prefix of contract 003")                    \
	X(STR, log_level, "info", 0, 0, "debug, info, warn or error")                     \
	X(STR, smtp_url, "", 0, 0, "SMTP server for mailed codes, smtp[s]://[user:pass@]host:port (\"\" = no mail)") \
	X(STR, smtp_from, "tessera@localhost", 0, 0, "sender address of mailed codes")      \
	X(INT, smtp_timeout, 10, 1, 300, "seconds one mail delivery may take")

#define TS_CFG_TYPE_STR char *
#define TS_CFG_TYPE_INT long long

typedef struct ts_config {
#define TS_CFG_FIELD(type, name, dflt, min, max, help) TS_CFG_TYPE_##type name;
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
/* Applies a `key = value` file (# comments); errors cite FILE:LINE. */
int ts_config_load_file(ts_config *cfg, const char *path, char *err, size_t errsz);
/* Applies every TESSERA_<NAME> variable that is set. */
int ts_config_load_env(ts_config *cfg, char *err, size_t errsz);
/* Prints "  --name VALUE  help (default)" lines for --help. */
void ts_config_usage(FILE *f);

#endif
