/* Internals of the SQLite backend, shared by its three files:
 *   sqlite_pool.c   DSN, connection pool, per-connection setup, errors
 *   sqlite_schema.c versioned migrations
 *   sqlite.c        the ts_store_ops table (one small function per op)
 * Nothing outside src/store/sqlite*.c and tests/unit/test_store.c includes it. */
#ifndef TS_STORE_SQLITE_INTERNAL_H
#define TS_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <sqlite3.h>
#include "store/group.h"
#include "store/hostneg.h"
#include "store/store.h"

/* Column lists, so each record is read by one row_*() function. */
#define SQ_TENANT_COLS "id, slug, mfa_required, created_at, registration_open, password_min_length, " \
	"mfa_factors, name"
#define SQ_USER_COLS                                                        \
	"id, tenant_id, email, password_hash, is_verified, is_admin, "      \
	"is_disabled, failed_logins, locked_until, created_at, email_norm"
#define SQ_SESSION_COLS                                                     \
	"id, tenant_id, user_id, kind, amr, created_at, expires_at, revoked_at"
#define SQ_SECRET_COLS                                                      \
	"kind, hash, tenant_id, user_id, session_id, data, created_at, "    \
	"expires_at, used_at"
#define SQ_KEY_COLS                                                         \
	"kid, alg, private_pem, created_at, retired_at, publish_until, "    \
	"activate_at, revoked_at"
#define SQ_TOTP_COLS "user_id, data, confirmed, counter, created_at"
#define SQ_FACTOR_COLS                                                      \
	"id, tenant_id, user_id, kind, name, lookup, data, confirmed, "     \
	"counter, created_at, last_used_at"
#define SQ_MAIL_COLS                                                        \
	"id, tenant_id, user_id, kind, to_addr, data, created_at, "         \
	"next_attempt, attempts"
#define SQ_LOCK_COLS "key, tenant_id, email, failures, locked_until, updated_at"
#define SQ_APIKEY_COLS "id, tenant_id, name, hash, created_at, revoked_at"
#define SQ_CLIENT_COLS                                                      \
	"id, tenant_id, name, secret_hash, redirect_uris, post_logout_uris, " \
	"grant_types, scopes, first_party, access_ttl, refresh_ttl, id_ttl, " \
	"created_at"
#define SQ_AUDIT_COLS "seq, at, event, tenant, user_id, actor, data"

/* A session with its user and tenant (s, u, t), as the row readers take
 * them: the session's columns 0-7, the user's 8-18, the tenant's 19-26,
 * counted from where the list starts. */
#define SQ_PRINCIPAL_COLS                                                  \
	"s.id, s.tenant_id, s.user_id, s.kind, s.amr, s.created_at, "       \
	"s.expires_at, s.revoked_at, "                                      \
	"u.id, u.tenant_id, u.email, u.password_hash, u.is_verified, "      \
	"u.is_admin, u.is_disabled, u.failed_logins, u.locked_until, "      \
	"u.created_at, u.email_norm, t.id, t.slug, t.mfa_required, "        \
	"t.created_at, t.registration_open, t.password_min_length, "        \
	"t.mfa_factors, t.name "

/* Every statement the backend runs, X(name, sql): each connection prepares
 * one lazily on first use and keeps it, so the hot paths never re-parse.
 * Parameters are numbered (?1..) so an op binds by meaning, not position. */
#define SQ_STATEMENTS(X)                                                      \
	X(ST_BEGIN, "BEGIN IMMEDIATE")                                        \
	X(ST_COMMIT, "COMMIT")                                                \
	X(ST_PING, "SELECT 1 FROM tenants LIMIT 1")                           \
	X(ST_TENANT_INSERT,                                                   \
	  "INSERT INTO tenants(id, slug, mfa_required, created_at, "          \
	  "registration_open, password_min_length, mfa_factors, name) "       \
	  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")                               \
	X(ST_DOMAIN_INSERT,                                                   \
	  "INSERT INTO tenant_domains(host, tenant_id) VALUES(?1, ?2)")       \
	X(ST_DOMAIN_DELETE,                                                   \
	  "DELETE FROM tenant_domains WHERE host = ?1 AND tenant_id = ?2")    \
	X(ST_TENANT_BY_SLUG,                                                  \
	  "SELECT " SQ_TENANT_COLS " FROM tenants WHERE slug = ?1")           \
	X(ST_TENANT_BY_DOMAIN,                                                \
	  "SELECT t.id, t.slug, t.mfa_required, t.created_at, "              \
	  "t.registration_open, t.password_min_length, t.mfa_factors, t.name " \
	  "FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id "       \
	  "WHERE d.host = ?1")                                                \
	X(ST_TENANT_BY_ID,                                                    \
	  "SELECT " SQ_TENANT_COLS " FROM tenants WHERE id = ?1")             \
	X(ST_TENANT_LIST,                                                     \
	  "SELECT " SQ_TENANT_COLS " FROM tenants ORDER BY created_at, slug") \
	X(ST_DOMAIN_LIST,                                                     \
	  "SELECT host FROM tenant_domains WHERE tenant_id = ?1 ORDER BY host") \
	X(ST_USER_INSERT,                                                     \
	  "INSERT INTO users(id, tenant_id, email, email_norm, password_hash, " \
	  "is_verified, is_admin, is_disabled, failed_logins, locked_until, " \
	  "created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")  \
	X(ST_USER_BY_EMAIL,                                                   \
	  "SELECT " SQ_USER_COLS " FROM users "                               \
	  "WHERE tenant_id = ?1 AND email_norm = ?2")                         \
	X(ST_USER_BY_ID, "SELECT " SQ_USER_COLS " FROM users WHERE id = ?1")  \
	X(ST_USER_INSERT_NEW,                                                 \
	  "INSERT INTO users(id, tenant_id, email, email_norm, password_hash, " \
	  "is_verified, is_admin, is_disabled, failed_logins, locked_until, " \
	  "created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "  \
	  "ON CONFLICT(tenant_id, email_norm) DO NOTHING")                    \
	X(ST_USER_PAGE,                                                       \
	  "SELECT " SQ_USER_COLS " FROM users WHERE tenant_id = ?1 "          \
	  "AND email_norm > ?2 ORDER BY email_norm LIMIT ?3")                 \
	X(ST_USER_SET_PASSWORD,                                               \
	  "UPDATE users SET password_hash = ?2 WHERE id = ?1")                \
	X(ST_USER_SET_FLAGS,                                                  \
	  "UPDATE users SET is_verified = ?2, is_admin = ?3, is_disabled = ?4 " \
	  "WHERE id = ?1")                                                    \
	X(ST_SESSION_INSERT,                                                  \
	  "INSERT INTO sessions(id, tenant_id, user_id, kind, amr, created_at, " \
	  "expires_at, revoked_at, last_used_at, ip, user_agent) "            \
	  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")             \
	X(ST_SESSION_TOUCH,                                                   \
	  "UPDATE sessions SET last_used_at = max(last_used_at, ?2) WHERE id = ?1") \
	X(ST_USER_SESSIONS,                                                   \
	  "SELECT " SQ_SESSION_COLS ", last_used_at, ip, user_agent "         \
	  "FROM sessions WHERE user_id = ?1 AND revoked_at = 0 AND "          \
	  "expires_at > ?2 ORDER BY created_at DESC, id")                     \
	/* A new mailed token voids the user's earlier ones of its kind. */   \
	X(ST_VOID_USER_SECRETS,                                               \
	  "UPDATE secrets SET used_at = max(?3, 1) WHERE kind = ?1 AND "      \
	  "user_id = ?2 AND ?2 <> '' AND used_at = 0")                        \
	X(ST_MAIL_INSERT,                                                     \
	  "INSERT INTO outbox(id, tenant_id, user_id, kind, to_addr, data, "  \
	  "created_at, next_attempt, attempts) "                              \
	  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")                       \
	/* One statement under SQLite's write lock: no mail is claimed twice. */ \
	X(ST_MAIL_CLAIM,                                                      \
	  "UPDATE outbox SET attempts = attempts + 1, "                       \
	  "next_attempt = ?1 + ?2 * (1 << min(attempts, 12)) "                \
	  "WHERE id IN (SELECT id FROM outbox WHERE next_attempt <= ?1 "      \
	  "ORDER BY next_attempt, id LIMIT ?3) RETURNING " SQ_MAIL_COLS)      \
	X(ST_MAIL_DELETE, "DELETE FROM outbox WHERE id = ?1")                 \
	X(ST_SESSION_PRINCIPAL,                                               \
	  "SELECT " SQ_PRINCIPAL_COLS                                         \
	  "FROM sessions s JOIN users u ON u.id = s.user_id "                 \
	  "JOIN tenants t ON t.id = s.tenant_id WHERE s.id = ?1")             \
	X(ST_SESSION_EXISTS, "SELECT 1 FROM sessions WHERE id = ?1")          \
	/* Columns: the secret 0-8, its session 9-16, user 17-27, tenant     \
	 * 28-35; LEFT JOINs, so a secret without them still comes back. */   \
	X(ST_SECRET_PRINCIPAL,                                                \
	  "SELECT x.kind, x.hash, x.tenant_id, x.user_id, x.session_id, "     \
	  "x.data, x.created_at, x.expires_at, x.used_at, "                   \
	  SQ_PRINCIPAL_COLS                                                   \
	  "FROM secrets x LEFT JOIN sessions s ON s.id = x.session_id "       \
	  "LEFT JOIN users u ON u.id = s.user_id "                            \
	  "LEFT JOIN tenants t ON t.id = s.tenant_id "                        \
	  "WHERE x.kind = ?1 AND x.hash = ?2")                                \
	X(ST_SESSION_SET_AMR,                                                 \
	  "UPDATE sessions SET amr = ?2 WHERE id = ?1 AND revoked_at = 0")    \
	X(ST_SESSION_REVOKE,                                                  \
	  "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at = 0") \
	X(ST_SESSION_KILL_SECRETS,                                            \
	  "UPDATE secrets SET used_at = max(?2, 1) "                          \
	  "WHERE session_id = ?1 AND used_at = 0")                            \
	X(ST_USER_KILL_SECRETS,                                               \
	  "UPDATE secrets SET used_at = max(?2, 1) WHERE used_at = 0 AND "    \
	  "session_id IN (SELECT id FROM sessions "                           \
	  "WHERE user_id = ?1 AND revoked_at = 0)")                           \
	X(ST_USER_REVOKE_SESSIONS,                                            \
	  "UPDATE sessions SET revoked_at = ?2 "                              \
	  "WHERE user_id = ?1 AND revoked_at = 0")                            \
	/* A new password: every other session of the user ends (?3 is the one
	 * kept, "" for none), and so do the login steps the old password
	 * opened (IAM auth tokens, MFA challenges, mailed codes). */         \
	X(ST_USER_KILL_OTHER_SECRETS,                                         \
	  "UPDATE secrets SET used_at = max(?2, 1) WHERE used_at = 0 AND "    \
	  "(session_id IN (SELECT id FROM sessions WHERE user_id = ?1 AND "   \
	  "revoked_at = 0 AND id <> ?3) OR (user_id = ?1 AND session_id = '' " \
	  "AND kind IN (3, 4, 5, 8, 9, 10)))")                                          \
	X(ST_USER_REVOKE_OTHER_SESSIONS,                                      \
	  "UPDATE sessions SET revoked_at = ?2 "                              \
	  "WHERE user_id = ?1 AND revoked_at = 0 AND id <> ?3")               \
	X(ST_ORIGIN_INSERT,                                                   \
	  "INSERT INTO tenant_origins(tenant_id, origin) VALUES(?1, ?2)")     \
	X(ST_ORIGIN_DELETE,                                                   \
	  "DELETE FROM tenant_origins WHERE tenant_id = ?1 AND origin = ?2")  \
	X(ST_ORIGIN_GET,                                                      \
	  "SELECT 1 FROM tenant_origins WHERE tenant_id = ?1 AND origin = ?2") \
	X(ST_SECRET_INSERT,                                                   \
	  "INSERT INTO secrets(kind, hash, tenant_id, user_id, session_id, "  \
	  "data, created_at, expires_at, used_at) "                           \
	  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")                       \
	X(ST_SECRET_GET,                                                      \
	  "SELECT " SQ_SECRET_COLS " FROM secrets WHERE kind = ?1 AND hash = ?2") \
	/* used_at 0 means unused, so a clock reading of 0 must not be stored. */ \
	X(ST_SECRET_CONSUME,                                                  \
	  "UPDATE secrets SET used_at = max(?3, 1) "                          \
	  "WHERE kind = ?1 AND hash = ?2 AND used_at = 0 "                    \
	  "RETURNING " SQ_SECRET_COLS)                                        \
	/* One statement: SQLite's write lock makes the check and the count  \
	 * one step, so parallel guesses cannot pass max. */                 \
	X(ST_SECRET_ATTEMPT,                                                  \
	  "UPDATE secrets SET attempts = attempts + 1 "                       \
	  "WHERE kind = ?1 AND hash = ?2 AND used_at = 0 AND attempts < ?3 "  \
	  "RETURNING attempts")                                               \
	X(ST_SECRET_REPLACE,                                                  \
	  "INSERT OR REPLACE INTO secrets(kind, hash, tenant_id, user_id, "   \
	  "session_id, data, created_at, expires_at, used_at) "               \
	  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")                       \
	X(ST_KEY_INSERT,                                                      \
	  "INSERT INTO signing_keys(kid, alg, private_pem, created_at, "      \
	  "retired_at, publish_until, activate_at, revoked_at) "              \
	  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")                           \
	X(ST_KEY_EXISTS, "SELECT 1 FROM signing_keys WHERE kid = ?1")         \
	X(ST_KEY_RETIRE_OTHERS,                                               \
	  "UPDATE signing_keys SET retired_at = ?2, publish_until = ?3 "      \
	  "WHERE kid <> ?1 AND retired_at = 0")                               \
	/* A second revocation keeps the first time. */                     \
	X(ST_KEY_REVOKE,                                                      \
	  "UPDATE signing_keys SET revoked_at = "                             \
	  "CASE WHEN revoked_at = 0 THEN max(?2, 1) ELSE revoked_at END "     \
	  "WHERE kid = ?1")                                                   \
	X(ST_KEY_VERSION, "SELECT version FROM keys_version WHERE id = 1")    \
	/* Compare-and-set: two nodes sealing at once both leave a good blob. */ \
	X(ST_KEY_SET_PRIVATE,                                                 \
	  "UPDATE signing_keys SET private_pem = ?3 "                         \
	  "WHERE kid = ?1 AND private_pem = ?2")                              \
	X(ST_KEY_LIST,                                                        \
	  "SELECT " SQ_KEY_COLS " FROM signing_keys "                         \
	  "ORDER BY created_at DESC, kid DESC")                             \
	/* TOTP is the factors row of kind 1 (one per user: factors_totp). A \
	 * confirmed one is never overwritten: the upsert's WHERE leaves it   \
	 * alone and changes() == 0 tells the caller. */                     \
	X(ST_TOTP_PUT,                                                        \
	  "INSERT INTO factors(id, tenant_id, user_id, kind, data, confirmed, " \
	  "counter, created_at) VALUES(?6, (SELECT tenant_id FROM users "     \
	  "WHERE id = ?1), ?1, 1, ?2, ?3, ?4, ?5) "                           \
	  "ON CONFLICT(user_id) WHERE kind = 1 DO UPDATE SET data = excluded.data, " \
	  "confirmed = excluded.confirmed, counter = excluded.counter, "      \
	  "created_at = excluded.created_at, last_used_at = 0 "               \
	  "WHERE factors.confirmed = 0")                                      \
	X(ST_TOTP_GET,                                                        \
	  "SELECT " SQ_TOTP_COLS " FROM factors WHERE user_id = ?1 AND kind = 1") \
	X(ST_TOTP_EXISTS, "SELECT 1 FROM factors WHERE user_id = ?1 AND kind = 1") \
	X(ST_TOTP_CONFIRM,                                                    \
	  "UPDATE factors SET confirmed = 1 WHERE user_id = ?1 AND kind = 1") \
	X(ST_TOTP_USE_STEP,                                                   \
	  "UPDATE factors SET counter = ?2 WHERE user_id = ?1 AND kind = 1 "  \
	  "AND counter < ?2")                                                 \
	X(ST_TOTP_DELETE, "DELETE FROM factors WHERE user_id = ?1 AND kind = 1") \
	X(ST_TOTP_LIST,                                                       \
	  "SELECT " SQ_TOTP_COLS " FROM factors WHERE kind = 1 ORDER BY user_id") \
	X(ST_TOTP_SET_SECRET,                                                 \
	  "UPDATE factors SET data = ?3 WHERE user_id = ?1 AND kind = 1 "     \
	  "AND data = ?2")                                                    \
	X(ST_FACTOR_INSERT,                                                   \
	  "INSERT INTO factors(" SQ_FACTOR_COLS ") "                          \
	  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")             \
	X(ST_FACTOR_DELETE_KIND,                                              \
	  "DELETE FROM factors WHERE user_id = ?1 AND kind = ?2")             \
	X(ST_FACTOR_GET,                                                      \
	  "SELECT " SQ_FACTOR_COLS " FROM factors WHERE id = ?1 AND user_id = ?2") \
	X(ST_FACTOR_FIND,                                                     \
	  "SELECT " SQ_FACTOR_COLS " FROM factors WHERE tenant_id = ?1 "      \
	  "AND kind = ?2 AND lookup = ?3 AND lookup <> ''")                   \
	X(ST_FACTOR_LIST,                                                     \
	  "SELECT " SQ_FACTOR_COLS " FROM factors WHERE user_id = ?1 "        \
	  "AND (?2 = 0 OR kind = ?2) ORDER BY created_at, id")                \
	/* The last-factor guard is in the DELETE itself: under SQLite's      \
	 * write lock no other delete runs between the check and the act. */ \
	X(ST_FACTOR_DELETE,                                                   \
	  "DELETE FROM factors WHERE id = ?1 AND user_id = ?2 AND (?3 = 0 OR " \
	  "EXISTS (SELECT 1 FROM factors f WHERE f.user_id = ?2 AND f.id <> ?1 " \
	  "AND f.confirmed = 1 AND (?3 & (1 << f.kind)) <> 0))")              \
	X(ST_FACTOR_EXISTS,                                                   \
	  "SELECT 1 FROM factors WHERE id = ?1 AND user_id = ?2")             \
	X(ST_FACTOR_EXISTS_ID, "SELECT 1 FROM factors WHERE id = ?1")        \
	X(ST_FACTOR_ADVANCE,                                                  \
	  "UPDATE factors SET counter = ?2, last_used_at = ?3 "               \
	  "WHERE id = ?1 AND counter < ?2")                                   \
	X(ST_FACTOR_SET_DATA,                                                 \
	  "UPDATE factors SET data = ?3, last_used_at = ?4 "                  \
	  "WHERE id = ?1 AND data = ?2")                                      \
	X(ST_FACTOR_TOUCH, "UPDATE factors SET last_used_at = ?2 WHERE id = ?1") \
	X(ST_TENANT_SET_MFA,                                                  \
	  "UPDATE tenants SET mfa_required = ?2, mfa_factors = ?3 WHERE id = ?1") \
	X(ST_LOCK_GET, "SELECT " SQ_LOCK_COLS " FROM login_locks WHERE key = ?1") \
	/* One statement, so parallel failures all count. The right-hand     \
	 * sides see the old row: an expired lock starts a fresh count; a     \
	 * live one is not extended by attempts made during it. */            \
	X(ST_LOCK_FAIL,                                                       \
	  "INSERT INTO login_locks(key, tenant_id, email, failures, "         \
	  "locked_until, updated_at) VALUES(?1, ?2, ?3, 1, "                  \
	  "CASE WHEN ?5 <= 1 THEN ?4 + ?6 ELSE 0 END, ?4) "                   \
	  "ON CONFLICT(key) DO UPDATE SET "                                   \
	  "failures = CASE WHEN locked_until > 0 AND locked_until <= ?4 "     \
	  "  THEN 1 ELSE failures + 1 END, "                                  \
	  "locked_until = CASE "                                              \
	  "  WHEN locked_until > 0 AND locked_until <= ?4 "                   \
	  "    THEN (CASE WHEN ?5 <= 1 THEN ?4 + ?6 ELSE 0 END) "             \
	  "  WHEN locked_until = 0 AND failures + 1 >= ?5 THEN ?4 + ?6 "      \
	  "  ELSE locked_until END, "                                         \
	  "updated_at = ?4 "                                                  \
	  "RETURNING " SQ_LOCK_COLS)                                          \
	X(ST_LOCK_CLEAR, "DELETE FROM login_locks WHERE key = ?1")            \
	X(ST_LOCK_LIST,                                                       \
	  "SELECT " SQ_LOCK_COLS " FROM login_locks ORDER BY updated_at DESC, key") \
	/* One statement, so parallel takes on every node count exactly. The  \
	 * refill (?2 now ms, ?3 tokens per second, ?4 burst) is written out   \
	 * in each CASE arm because SET sees only the old row; a clock that    \
	 * went back (?2 < updated_ms) refills nothing. granted says whether  \
	 * this call took a token. */                                         \
	X(ST_BUCKET_TAKE,                                                     \
	  "INSERT INTO rate_buckets(key, tokens, updated_ms, granted) "       \
	  "VALUES(?1, ?4 - 1, ?2, 1) ON CONFLICT(key) DO UPDATE SET "         \
	  "granted = (min(?4, tokens + max(?2 - updated_ms, 0) * ?3 / 1000.0) >= 1), " \
	  "tokens = min(?4, tokens + max(?2 - updated_ms, 0) * ?3 / 1000.0) - " \
	  "  (min(?4, tokens + max(?2 - updated_ms, 0) * ?3 / 1000.0) >= 1), " \
	  "updated_ms = max(updated_ms, ?2) "                                 \
	  "RETURNING tokens, granted")                                        \
	X(ST_BUCKET_GIVE,                                                     \
	  "UPDATE rate_buckets SET "                                          \
	  "tokens = min(?4, tokens + max(?2 - updated_ms, 0) * ?3 / 1000.0 + 1), " \
	  "updated_ms = max(updated_ms, ?2) WHERE key = ?1")                  \
	X(ST_SWEEP_LEASE,                                                     \
	  "INSERT INTO store_leases(name, holder, expires_at) "               \
	  "VALUES('sweep', ?1, ?2 + ?3) ON CONFLICT(name) DO UPDATE SET "     \
	  "holder = excluded.holder, expires_at = excluded.expires_at "       \
	  "WHERE store_leases.holder = excluded.holder "                      \
	  "OR store_leases.expires_at <= ?2 RETURNING holder")                \
	/* Sweeps: one bounded DELETE each (?1 before, ?2 limit), by primary  \
	 * key so the same text runs on PostgreSQL. */                        \
	X(ST_SWEEP_SECRETS_EXPIRED,                                           \
	  "DELETE FROM secrets WHERE (kind, hash) IN (SELECT kind, hash "     \
	  "FROM secrets WHERE expires_at < ?1 LIMIT ?2)")                     \
	X(ST_SWEEP_SECRETS_ENDED,                                             \
	  "DELETE FROM secrets WHERE (kind, hash) IN (SELECT x.kind, x.hash " \
	  "FROM sessions s JOIN secrets x ON x.session_id = s.id "            \
	  "WHERE (s.revoked_at > 0 AND s.revoked_at < ?1) OR s.expires_at < ?1 " \
	  "LIMIT ?2)")                                                        \
	X(ST_SWEEP_SESSIONS_ENDED,                                            \
	  "DELETE FROM sessions WHERE id IN (SELECT s.id FROM sessions s "    \
	  "WHERE ((s.revoked_at > 0 AND s.revoked_at < ?1) OR s.expires_at < ?1) " \
	  "AND NOT EXISTS (SELECT 1 FROM secrets x WHERE x.session_id = s.id) " \
	  "LIMIT ?2)")                                                        \
	X(ST_SWEEP_LOCKS,                                                     \
	  "DELETE FROM login_locks WHERE key IN (SELECT key FROM login_locks " \
	  "WHERE locked_until < ?1 AND updated_at < ?1 LIMIT ?2)")            \
	X(ST_SWEEP_BUCKETS,                                                   \
	  "DELETE FROM rate_buckets WHERE key IN (SELECT key FROM rate_buckets " \
	  "WHERE updated_ms < ?1 LIMIT ?2)")                                  \
	X(ST_SWEEP_AUDIT,                                                     \
	  "DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log "    \
	  "WHERE at < ?1 LIMIT ?2)")                                          \
	/* ---- administration (issue 9) ---- */                              \
	X(ST_TENANT_UPDATE,                                                   \
	  "UPDATE tenants SET slug = ?2, name = ?3, mfa_required = ?4, "      \
	  "registration_open = ?5, password_min_length = ?6 WHERE id = ?1")   \
	X(ST_TENANT_HAS_USERS, "SELECT 1 FROM users WHERE tenant_id = ?1 LIMIT 1") \
	X(ST_TENANT_DEL_SECRETS,                                              \
	  "DELETE FROM secrets WHERE tenant_id = ?1 OR user_id IN "           \
	  "(SELECT id FROM users WHERE tenant_id = ?1) OR session_id IN "     \
	  "(SELECT id FROM sessions WHERE tenant_id = ?1)")                   \
	X(ST_TENANT_DEL_SESSIONS, "DELETE FROM sessions WHERE tenant_id = ?1") \
	X(ST_TENANT_DEL_TOTP,                                                 \
	  "DELETE FROM factors WHERE user_id IN "                             \
	  "(SELECT id FROM users WHERE tenant_id = ?1)")                      \
	X(ST_TENANT_DEL_LOCKS, "DELETE FROM login_locks WHERE tenant_id = ?1") \
	X(ST_TENANT_DEL_APIKEYS, "DELETE FROM api_keys WHERE tenant_id = ?1") \
	X(ST_TENANT_DEL_CLIENTS, "DELETE FROM oidc_clients WHERE tenant_id = ?1") \
	X(ST_TENANT_DEL_USERS, "DELETE FROM users WHERE tenant_id = ?1")      \
	X(ST_TENANT_DEL_DOMAINS, "DELETE FROM tenant_domains WHERE tenant_id = ?1") \
	X(ST_TENANT_DEL_ORIGINS, "DELETE FROM tenant_origins WHERE tenant_id = ?1") \
	X(ST_TENANT_DEL, "DELETE FROM tenants WHERE id = ?1")                 \
	X(ST_USER_SCAN,                                                       \
	  "SELECT " SQ_USER_COLS " FROM users WHERE tenant_id = ?1 AND "      \
	  "email_norm > ?2 ORDER BY email_norm LIMIT ?3")                     \
	X(ST_USER_DEL_SECRETS,                                                \
	  "DELETE FROM secrets WHERE user_id = ?1 OR session_id IN "          \
	  "(SELECT id FROM sessions WHERE user_id = ?1)")                     \
	X(ST_USER_DEL_SESSIONS, "DELETE FROM sessions WHERE user_id = ?1")    \
	X(ST_USER_DEL_TOTP, "DELETE FROM factors WHERE user_id = ?1")         \
	X(ST_USER_DEL, "DELETE FROM users WHERE id = ?1")                     \
	X(ST_USER_SET_EMAIL,                                                  \
	  "UPDATE users SET email = ?2, email_norm = ?3 WHERE id = ?1")       \
	X(ST_APIKEY_INSERT,                                                   \
	  "INSERT INTO api_keys(id, tenant_id, name, hash, created_at, "      \
	  "revoked_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)")                       \
	X(ST_APIKEY_BY_HASH,                                                  \
	  "SELECT " SQ_APIKEY_COLS " FROM api_keys WHERE hash = ?1")          \
	X(ST_APIKEY_LIST,                                                     \
	  "SELECT " SQ_APIKEY_COLS " FROM api_keys WHERE ?1 = '' OR "         \
	  "tenant_id = ?1 ORDER BY created_at, id")                           \
	X(ST_APIKEY_REVOKE,                                                   \
	  "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN "   \
	  "max(?2, 1) ELSE revoked_at END WHERE id = ?1")                     \
	X(ST_CLIENT_INSERT,                                                   \
	  "INSERT INTO oidc_clients(" SQ_CLIENT_COLS ") VALUES(?1, ?2, ?3, ?4, " \
	  "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")                          \
	X(ST_CLIENT_GET,                                                      \
	  "SELECT " SQ_CLIENT_COLS " FROM oidc_clients WHERE id = ?1")        \
	X(ST_CLIENT_LIST,                                                     \
	  "SELECT " SQ_CLIENT_COLS " FROM oidc_clients WHERE tenant_id = ?1 " \
	  "ORDER BY created_at, id")                                          \
	X(ST_CLIENT_UPDATE,                                                   \
	  "UPDATE oidc_clients SET name = ?3, redirect_uris = ?4, "           \
	  "post_logout_uris = ?5, grant_types = ?6, scopes = ?7, "            \
	  "first_party = ?8, access_ttl = ?9, refresh_ttl = ?10, id_ttl = ?11 " \
	  "WHERE id = ?1 AND tenant_id = ?2")                                 \
	X(ST_CLIENT_DELETE,                                                   \
	  "DELETE FROM oidc_clients WHERE tenant_id = ?1 AND id = ?2")        \
	X(ST_AUDIT_INSERT,                                                    \
	  "INSERT INTO audit_log(at, event, tenant, user_id, actor, data) "   \
	  "VALUES(?1, ?2, ?3, ?4, ?5, ?6)")                                   \
	X(ST_AUDIT_LIST,                                                      \
	  "SELECT " SQ_AUDIT_COLS " FROM audit_log WHERE (?1 = '' OR tenant = ?1) " \
	  "AND (?2 = '' OR user_id = ?2) AND (?3 = '' OR event = ?3) AND "    \
	  "at >= ?4 AND (?5 = 0 OR seq < ?5) ORDER BY seq DESC LIMIT ?6")

typedef enum {
#define SQ_ST_ENUM(name, sql) name,
	SQ_STATEMENTS(SQ_ST_ENUM)
#undef SQ_ST_ENUM
	SQ_ST__COUNT
} sq_stmt;

/* One pooled connection. Only the thread that acquired it touches it. */
typedef struct sq_conn {
	sqlite3 *db;
	sqlite3_stmt *st[SQ_ST__COUNT]; /* prepared on first use, NULL before */
	struct sq_conn *next;           /* free list link while idle */
	int64_t idle_since_us;          /* monotonic; the reaper closes stale ones */
	int64_t deadline_us;            /* the busy handler gives up after this */
	int writer;                     /* holds the store's write lock */
} sq_conn;

typedef struct sq_store {
	ts_store base;        /* first, so a ts_store * is an sq_store * */
	char *path;           /* owned */
	int busy_ms;          /* total time an op may wait for locks */
	int max_conns;
	int idle_ms;          /* close connections idle this long; 0 = never */
	int stat_ms;          /* a good file check holds this long; 0 = every op */
	_Atomic int64_t checked_us;  /* monotonic time of the last good check, 0 = none */
	int memory;           /* ":memory:": one connection, no file checks */
	int create;           /* connections may create the file */
	dev_t dev;            /* identity of the file we migrated, so a */
	ino_t ino;            /* removed or replaced file is noticed */
	uid_t euid;           /* ours, for the permission check */
	int created;          /* the file exists and is migrated: open, never create */
	int inspect;          /* TS_STORE_INSPECT: opened as it is, not migrated */
	int hold_fd;          /* the "in use" lock's file, -1 none (sqlite_backup.c) */
	_Atomic(const char *) down;  /* why ops fail (a static text), NULL when up */
	ts_hostneg hostneg;   /* hosts that name no tenant (hostneg.h) */

	pthread_mutex_t mu;   /* guards the fields below */
	pthread_cond_t cv;    /* a connection came back or a slot freed */
	sq_conn *idle;        /* free list, most recently used first */
	int nconns;           /* open, plus being opened */
	int closing;
	int reopening;        /* a reopen of a restored file is under way */
	int64_t reopen_us;    /* monotonic time of the last reopen attempt */
	pthread_cond_t reaper_cv;
	pthread_t reaper;
	int has_reaper;
	/* WAL checkpoints run on their own thread, not in the commit of the
	 * request that crossed the threshold (which holds the write lock). */
	pthread_cond_t ckpt_cv;
	pthread_t ckpt;
	int has_ckpt;
	int ckpt_due;         /* a commit left the WAL over the threshold */

	/* One writer at a time inside this process: SQLite allows one anyway,
	 * and queueing here is far cheaper than every writer sleeping in the
	 * busy handler. Other processes are still kept out by SQLite's locks.
	 * A flag and a condvar rather than a mutex, so the wait can have a
	 * monotonic deadline that sanitizers understand. */
	pthread_mutex_t wmu;  /* guards writing */
	pthread_cond_t wcv;
	int writing;

	/* Refresh rotations share write transactions (store/group.h):
	 * group_max rotations at most in one; 1 = each alone. */
	ts_group rotations;
	int group_max;
} sq_store;

enum { SQ_READ = 0, SQ_WRITE = 1 };

/* One op's hold on a connection and its current statement. */
typedef struct sq_call {
	sq_store *s;
	sq_conn *c;
	sqlite3_stmt *st;     /* current statement, NULL before sq_use */
	sq_stmt id;
	int bind_rc;          /* first failed bind; the next step reports it */
	int64_t t0_us;        /* when the op began, for the latency metric */
} sq_call;

/* sqlite_pool.c */
ts_err sq_store_open(const char *dsn, ts_store_mode mode, ts_store **out);
void sq_store_close(ts_store *s);
/* Takes a connection (and for SQ_WRITE the write lock), then makes stmt
 * current. On failure nothing is held and k need not be ended. */
ts_err sq_begin(ts_store *s, int mode, sq_stmt stmt, sq_call *k);
/* Resets the current statement and makes stmt current. */
ts_err sq_use(sq_call *k, sq_stmt stmt);
void sq_text(sq_call *k, int i, const char *v);
void sq_int(sq_call *k, int i, int64_t v);
void sq_real(sq_call *k, int i, double v);
/* Steps once: TS_OK with a row, TS_E_NOT_FOUND when there is none. */
ts_err sq_row(sq_call *k);
/* Steps to the end: TS_OK, or the mapped error. */
ts_err sq_exec(sq_call *k);
/* As sq_exec, then TS_E_NOT_FOUND if no row changed. */
ts_err sq_changed(sq_call *k);
/* Rolls back an open transaction, resets, returns the connection and the
 * write lock; returns r so an op can end with `return sq_end(&k, r);`. */
ts_err sq_end(sq_call *k, ts_err r);
/* Maps a SQLite result code (extended or primary) to a ts_err. */
ts_err sq_map(int rc);
/* Logs an unexpected failure (never bound values: those may be secrets). */
void sq_log(sqlite3 *db, int rc, const char *what);
/* Copies column i into dst (size n), NUL-terminated; NULL gives "". */
void sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t n);

/* *v gets db's PRAGMA user_version; SQLite's result code. */
int sq_user_version(sqlite3 *db, int *v);

/* sqlite_backup.c: the ops of the same names (store.h). */
ts_err sq_op_backup(ts_store *s, const char *path, char *why, size_t whylen);
ts_err sq_op_restore(ts_store *s, const char *path, long *holder, char *why, size_t whylen);
/* While a store is open it holds a shared lock saying so (restore refuses
 * then); taken after the file is ready, dropped at close. */
void sq_hold(sq_store *s);
void sq_release(sq_store *s);

/* sqlite_schema.c */
extern const char *const sq_migrations[];
extern const int sq_migration_count;
/* Brings db up to n migrations, one transaction each, tracked in PRAGMA
 * user_version; already applied steps are skipped. TS_E_INTERNAL if the
 * file is newer than n (a downgrade). */
ts_err sq_migrate(sqlite3 *db, const char *const *steps, int n);

#endif
