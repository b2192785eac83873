/* Internals of the PostgreSQL backend, shared by its three files:
 *   pg_pool.c    DSN, connection pool, prepared statements, errors
 *   pg_schema.c  versioned migrations (schema_version, advisory lock)
 *   postgres.c   the ts_store_ops table (one small function per op)
 * Nothing outside src/store/pg*.c and src/store/postgres.c includes it. */
#ifndef TS_STORE_PG_INTERNAL_H
#define TS_STORE_PG_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "store/hostneg.h"
#include "store/store.h"

#define PG_TENANT_COLS "id, slug, mfa_required, created_at, registration_open, password_min_length, " \
	"mfa_factors, name"
#define PG_USER_COLS                                                        \
	"id, tenant_id, email, password_hash, is_verified, is_admin, "      \
	"is_disabled, failed_logins, locked_until, created_at, email_norm"
#define PG_SECRET_COLS                                                      \
	"kind, hash, tenant_id, user_id, session_id, data, created_at, "    \
	"expires_at, used_at"
#define PG_KEY_COLS                                                         \
	"kid, alg, private_pem, created_at, retired_at, publish_until, "    \
	"activate_at, revoked_at"
#define PG_TOTP_COLS "user_id, data, confirmed, counter, created_at"
#define PG_FACTOR_COLS                                                      \
	"id, tenant_id, user_id, kind, name, lookup, data, confirmed, "     \
	"counter, created_at, last_used_at"
#define PG_SESSION_COLS                                                     \
	"id, tenant_id, user_id, kind, amr, created_at, expires_at, revoked_at"
#define PG_MAIL_COLS                                                        \
	"id, tenant_id, user_id, kind, to_addr, data, created_at, "         \
	"next_attempt, attempts"
#define PG_LOCK_COLS "key, tenant_id, email, failures, locked_until, updated_at"
#define PG_CLIENT_COLS                                                      \
	"id, tenant_id, name, secret_hash, redirect_uris, post_logout_uris, " \
	"grant_types, scopes, first_party, access_ttl, refresh_ttl, id_ttl, " \
	"created_at"
#define PG_APIKEY_COLS "id, tenant_id, name, hash, created_at, revoked_at"
#define PG_AUDIT_COLS "seq, at, event, tenant, user_id, actor, data"

/* A session with its user and tenant (s, u, t), as the row readers take
 * them: the session's columns 0-7, the user's 8-18, the tenant's 19-26,
 * counted from where the list starts. */
#define PG_PRINCIPAL_COLS                                                  \
	"s.id, s.tenant_id, s.user_id, s.kind, s.amr, s.created_at, "       \
	"s.expires_at, s.revoked_at, "                                      \
	"u.id, u.tenant_id, u.email, u.password_hash, u.is_verified, "      \
	"u.is_admin, u.is_disabled, u.failed_logins, u.locked_until, "      \
	"u.created_at, u.email_norm, t.id, t.slug, t.mfa_required, "        \
	"t.created_at, t.registration_open, t.password_min_length, "        \
	"t.mfa_factors, t.name "

/* Every statement, X(name, sql). Each connection prepares all of them
 * once, right after it connects (PQprepare), so an op is one round trip.
 * Parameters are sent as text; the casts say what they are. */
#define PG_STATEMENTS(X)                                                      \
	X(PG_PING, "SELECT 1")                                                \
	X(PG_TENANT_INSERT,                                                   \
	  "INSERT INTO tenants(id, slug, mfa_required, created_at, "          \
	  "registration_open, password_min_length, mfa_factors, name) "       \
	  "VALUES($1, $2, $3::int, $4::bigint, $5::int, $6::int, $7::int, $8)")        \
	X(PG_DOMAIN_INSERT,                                                   \
	  "INSERT INTO tenant_domains(host, tenant_id) VALUES($1, $2)")       \
	X(PG_DOMAIN_DELETE,                                                   \
	  "DELETE FROM tenant_domains WHERE host = $1 AND tenant_id = $2")    \
	X(PG_TENANT_BY_SLUG,                                                  \
	  "SELECT " PG_TENANT_COLS " FROM tenants WHERE slug = $1")           \
	X(PG_TENANT_BY_DOMAIN,                                                \
	  "SELECT t.id, t.slug, t.mfa_required, t.created_at, "              \
	  "t.registration_open, t.password_min_length, t.mfa_factors, t.name " \
	  "FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id "       \
	  "WHERE d.host = $1")                                                \
	X(PG_TENANT_BY_ID,                                                    \
	  "SELECT " PG_TENANT_COLS " FROM tenants WHERE id = $1")             \
	X(PG_TENANT_LIST,                                                     \
	  "SELECT " PG_TENANT_COLS " FROM tenants ORDER BY created_at, slug") \
	X(PG_DOMAIN_LIST,                                                     \
	  "SELECT host FROM tenant_domains WHERE tenant_id = $1 "             \
	  "ORDER BY host COLLATE \"C\"")                                      \
	X(PG_USER_INSERT,                                                     \
	  "INSERT INTO users(id, tenant_id, email, email_norm, password_hash, " \
	  "is_verified, is_admin, is_disabled, failed_logins, locked_until, " \
	  "created_at) VALUES($1, $2, $3, $4, $5, $6::int, $7::int, $8::int, " \
	  "$9::int, $10::bigint, $11::bigint)")                               \
	X(PG_USER_BY_EMAIL,                                                   \
	  "SELECT " PG_USER_COLS " FROM users "                               \
	  "WHERE tenant_id = $1 AND email_norm = $2")                         \
	X(PG_USER_BY_ID, "SELECT " PG_USER_COLS " FROM users WHERE id = $1")  \
	X(PG_USER_INSERT_NEW,                                                 \
	  "INSERT INTO users(id, tenant_id, email, email_norm, password_hash, " \
	  "is_verified, is_admin, is_disabled, failed_logins, locked_until, " \
	  "created_at) VALUES($1, $2, $3, $4, $5, $6::int, $7::int, $8::int, " \
	  "$9::int, $10::bigint, $11::bigint) "                               \
	  "ON CONFLICT (tenant_id, email_norm) DO NOTHING")                   \
	X(PG_USER_PAGE,                                                       \
	  "SELECT " PG_USER_COLS " FROM users WHERE tenant_id = $1 "          \
	  "AND email_norm > $2 COLLATE \"C\" ORDER BY email_norm COLLATE \"C\" " \
	  "LIMIT $3::int")                                                    \
	X(PG_USER_SET_PASSWORD,                                               \
	  "UPDATE users SET password_hash = $2 WHERE id = $1")                \
	X(PG_USER_SET_FLAGS,                                                  \
	  "UPDATE users SET is_verified = $2::int, is_admin = $3::int, "      \
	  "is_disabled = $4::int WHERE id = $1")                              \
	X(PG_SESSION_INSERT,                                                  \
	  "INSERT INTO sessions(id, tenant_id, user_id, kind, amr, created_at, " \
	  "expires_at, revoked_at, last_used_at, ip, user_agent) "            \
	  "VALUES($1, $2, $3, $4::int, $5, $6::bigint, $7::bigint, $8::bigint, " \
	  "$9::bigint, $10, $11)")                                            \
	X(PG_SESSION_TOUCH,                                                   \
	  "UPDATE sessions SET last_used_at = GREATEST(last_used_at, $2::bigint) " \
	  "WHERE id = $1")                                                    \
	X(PG_USER_SESSIONS,                                                   \
	  "SELECT " PG_SESSION_COLS ", last_used_at, ip, user_agent "         \
	  "FROM sessions WHERE user_id = $1 AND revoked_at = 0 AND "          \
	  "expires_at > $2::bigint ORDER BY created_at DESC, id COLLATE \"C\"") \
	/* A new mailed token voids the user's earlier ones of its kind. */   \
	X(PG_VOID_USER_SECRETS,                                               \
	  "UPDATE secrets SET used_at = GREATEST($3::bigint, 1) WHERE "       \
	  "kind = $1::int AND user_id = $2 AND $2 <> '' AND used_at = 0")     \
	X(PG_MAIL_INSERT,                                                     \
	  "INSERT INTO outbox(id, tenant_id, user_id, kind, to_addr, data, "  \
	  "created_at, next_attempt, attempts) VALUES($1, $2, $3, $4::int, "  \
	  "$5, $6, $7::bigint, $8::bigint, $9::int)")                         \
	/* SKIP LOCKED: two nodes claiming at once take different rows, and  \
	 * the outer WHERE re-checks a row another claim changed meanwhile. */ \
	X(PG_MAIL_CLAIM,                                                      \
	  "UPDATE outbox SET attempts = attempts + 1, "                       \
	  "next_attempt = $1::bigint + $2::bigint * (1 << LEAST(attempts, 12)) " \
	  "WHERE next_attempt <= $1::bigint AND id IN (SELECT id FROM outbox " \
	  "WHERE next_attempt <= $1::bigint ORDER BY next_attempt, id COLLATE \"C\" " \
	  "LIMIT $3::int FOR UPDATE SKIP LOCKED) RETURNING " PG_MAIL_COLS)     \
	X(PG_MAIL_DELETE, "DELETE FROM outbox WHERE id = $1")                 \
	X(PG_SESSION_PRINCIPAL,                                               \
	  "SELECT " PG_PRINCIPAL_COLS                                         \
	  "FROM sessions s JOIN users u ON u.id = s.user_id "                 \
	  "JOIN tenants t ON t.id = s.tenant_id WHERE s.id = $1")             \
	X(PG_SESSION_EXISTS, "SELECT 1 FROM sessions WHERE id = $1")          \
	/* Columns: the secret 0-8, its session 9-16, user 17-27, tenant     \
	 * 28-35; LEFT JOINs, so a secret without them still comes back. */   \
	X(PG_SECRET_PRINCIPAL,                                                \
	  "SELECT x.kind, x.hash, x.tenant_id, x.user_id, x.session_id, "     \
	  "x.data, x.created_at, x.expires_at, x.used_at, "                   \
	  PG_PRINCIPAL_COLS                                                   \
	  "FROM secrets x LEFT JOIN sessions s ON s.id = x.session_id "       \
	  "LEFT JOIN users u ON u.id = s.user_id "                            \
	  "LEFT JOIN tenants t ON t.id = s.tenant_id "                        \
	  "WHERE x.kind = $1::int AND x.hash = $2")                           \
	X(PG_SESSION_SET_AMR,                                                 \
	  "UPDATE sessions SET amr = $2 WHERE id = $1 AND revoked_at = 0")    \
	X(PG_SESSION_REVOKE,                                                  \
	  "UPDATE sessions SET revoked_at = $2::bigint "                      \
	  "WHERE id = $1 AND revoked_at = 0")                                 \
	X(PG_SESSION_KILL_SECRETS,                                            \
	  "UPDATE secrets SET used_at = GREATEST($2::bigint, 1) "             \
	  "WHERE session_id = $1 AND used_at = 0")                            \
	X(PG_USER_KILL_SECRETS,                                               \
	  "UPDATE secrets SET used_at = GREATEST($2::bigint, 1) "             \
	  "WHERE used_at = 0 AND session_id IN (SELECT id FROM sessions "     \
	  "WHERE user_id = $1 AND revoked_at = 0)")                           \
	X(PG_USER_REVOKE_SESSIONS,                                            \
	  "UPDATE sessions SET revoked_at = $2::bigint "                      \
	  "WHERE user_id = $1 AND revoked_at = 0")                            \
	X(PG_USER_KILL_OTHER_SECRETS,                                         \
	  "UPDATE secrets SET used_at = GREATEST($2::bigint, 1) "             \
	  "WHERE used_at = 0 AND (session_id IN (SELECT id FROM sessions "    \
	  "WHERE user_id = $1 AND revoked_at = 0 AND id <> $3) OR "           \
	  "(user_id = $1 AND session_id = '' AND kind IN (3, 4, 5, 8, 9, 10)))")        \
	X(PG_USER_REVOKE_OTHER_SESSIONS,                                      \
	  "UPDATE sessions SET revoked_at = $2::bigint "                      \
	  "WHERE user_id = $1 AND revoked_at = 0 AND id <> $3")               \
	X(PG_ORIGIN_INSERT,                                                   \
	  "INSERT INTO tenant_origins(tenant_id, origin) VALUES($1, $2)")     \
	X(PG_ORIGIN_DELETE,                                                   \
	  "DELETE FROM tenant_origins WHERE tenant_id = $1 AND origin = $2")  \
	X(PG_ORIGIN_GET,                                                      \
	  "SELECT 1 FROM tenant_origins WHERE tenant_id = $1 AND origin = $2") \
	X(PG_SECRET_INSERT,                                                   \
	  "INSERT INTO secrets(kind, hash, tenant_id, user_id, session_id, "  \
	  "data, created_at, expires_at, used_at) VALUES($1::int, $2, $3, $4, " \
	  "$5, $6, $7::bigint, $8::bigint, $9::bigint)")                      \
	X(PG_SECRET_GET,                                                      \
	  "SELECT " PG_SECRET_COLS " FROM secrets "                           \
	  "WHERE kind = $1::int AND hash = $2")                               \
	/* Under READ COMMITTED a second UPDATE of the same row waits for the \
	 * first to commit and then re-checks used_at = 0: one winner. */     \
	X(PG_SECRET_CONSUME,                                                  \
	  "UPDATE secrets SET used_at = GREATEST($3::bigint, 1) "             \
	  "WHERE kind = $1::int AND hash = $2 AND used_at = 0 "               \
	  "RETURNING " PG_SECRET_COLS)                                        \
	/* A refresh rotation in one statement, so one round trip: spend the   \
	 * old token, store its successor (the spent one's owner, nothing    \
	 * else carried over), move the session's last use. No row: absent   \
	 * or already spent (PG_SECRET_GET tells which). A racing twin waits  \
	 * on the row lock and then finds used_at set. */                     \
	X(PG_SECRET_ROTATE,                                                   \
	  "WITH spent AS (UPDATE secrets SET used_at = GREATEST($3::bigint, 1) " \
	  "WHERE kind = $1::int AND hash = $2 AND used_at = 0 "               \
	  "RETURNING " PG_SECRET_COLS "), "                                   \
	  "born AS (INSERT INTO secrets(" PG_SECRET_COLS ") "                 \
	  "SELECT kind, $4, tenant_id, user_id, session_id, '', $3::bigint, " \
	  "$5::bigint, 0 FROM spent), "                                       \
	  "touched AS (UPDATE sessions SET last_used_at = "                   \
	  "GREATEST(last_used_at, $3::bigint) WHERE id = "                    \
	  "(SELECT session_id FROM spent)) "                                  \
	  "SELECT " PG_SECRET_COLS " FROM spent")                             \
	X(PG_SECRET_ATTEMPT,                                                  \
	  "UPDATE secrets SET attempts = attempts + 1 "                       \
	  "WHERE kind = $1::int AND hash = $2 AND used_at = 0 "               \
	  "AND attempts < $3::int RETURNING attempts")                        \
	X(PG_SECRET_REPLACE,                                                  \
	  "INSERT INTO secrets(kind, hash, tenant_id, user_id, session_id, "  \
	  "data, created_at, expires_at, used_at) VALUES($1::int, $2, $3, $4, " \
	  "$5, $6, $7::bigint, $8::bigint, $9::bigint) "                      \
	  "ON CONFLICT (kind, hash) DO UPDATE SET tenant_id = excluded.tenant_id, " \
	  "user_id = excluded.user_id, session_id = excluded.session_id, "    \
	  "data = excluded.data, created_at = excluded.created_at, "          \
	  "expires_at = excluded.expires_at, used_at = excluded.used_at, "    \
	  "attempts = 0")                                                     \
	X(PG_KEY_INSERT,                                                      \
	  "INSERT INTO signing_keys(kid, alg, private_pem, created_at, "      \
	  "retired_at, publish_until, activate_at, revoked_at) "              \
	  "VALUES($1, $2, $3, $4::bigint, $5::bigint, $6::bigint, $7::bigint, " \
	  "$8::bigint)")                                                      \
	X(PG_KEY_EXISTS, "SELECT 1 FROM signing_keys WHERE kid = $1")         \
	X(PG_KEY_RETIRE_OTHERS,                                               \
	  "UPDATE signing_keys SET retired_at = $2::bigint, "                 \
	  "publish_until = $3::bigint WHERE kid <> $1 AND retired_at = 0")    \
	X(PG_KEY_REVOKE,                                                      \
	  "UPDATE signing_keys SET revoked_at = CASE WHEN revoked_at = 0 "    \
	  "THEN GREATEST($2::bigint, 1) ELSE revoked_at END WHERE kid = $1")  \
	X(PG_KEY_VERSION, "SELECT version FROM keys_version WHERE id = 1")    \
	X(PG_KEY_SET_PRIVATE,                                                 \
	  "UPDATE signing_keys SET private_pem = $3 "                         \
	  "WHERE kid = $1 AND private_pem = $2")                              \
	X(PG_KEY_LIST,                                                        \
	  "SELECT " PG_KEY_COLS " FROM signing_keys "                         \
	  "ORDER BY created_at DESC, kid COLLATE \"C\" DESC")                 \
	/* TOTP is the factors row of kind 1 (one per user: factors_totp). A \
	 * confirmed one is never overwritten. */                            \
	X(PG_TOTP_PUT,                                                        \
	  "INSERT INTO factors(id, tenant_id, user_id, kind, data, confirmed, " \
	  "counter, created_at) VALUES($6, (SELECT tenant_id FROM users "     \
	  "WHERE id = $1), $1, 1, $2, $3::int, $4::bigint, $5::bigint) "      \
	  "ON CONFLICT (user_id) WHERE kind = 1 DO UPDATE SET data = excluded.data, " \
	  "confirmed = excluded.confirmed, counter = excluded.counter, "      \
	  "created_at = excluded.created_at, last_used_at = 0 "               \
	  "WHERE factors.confirmed = 0")                                      \
	X(PG_TOTP_GET,                                                        \
	  "SELECT " PG_TOTP_COLS " FROM factors WHERE user_id = $1 AND kind = 1") \
	X(PG_TOTP_LIST,                                                       \
	  "SELECT " PG_TOTP_COLS " FROM factors WHERE kind = 1 "              \
	  "ORDER BY user_id COLLATE \"C\"")                                   \
	X(PG_TOTP_SET_SECRET,                                                 \
	  "UPDATE factors SET data = $3 WHERE user_id = $1 AND kind = 1 "     \
	  "AND data = $2")                                                    \
	X(PG_TOTP_EXISTS, "SELECT 1 FROM factors WHERE user_id = $1 AND kind = 1") \
	X(PG_TOTP_CONFIRM,                                                    \
	  "UPDATE factors SET confirmed = 1 WHERE user_id = $1 AND kind = 1") \
	X(PG_TOTP_USE_STEP,                                                   \
	  "UPDATE factors SET counter = $2::bigint "                          \
	  "WHERE user_id = $1 AND kind = 1 AND counter < $2::bigint")         \
	X(PG_TOTP_DELETE, "DELETE FROM factors WHERE user_id = $1 AND kind = 1") \
	X(PG_FACTOR_INSERT,                                                   \
	  "INSERT INTO factors(" PG_FACTOR_COLS ") VALUES($1, $2, $3, $4::int, " \
	  "$5, $6, $7, $8::int, $9::bigint, $10::bigint, $11::bigint)")       \
	X(PG_FACTOR_DELETE_KIND,                                              \
	  "DELETE FROM factors WHERE user_id = $1 AND kind = $2::int")        \
	X(PG_FACTOR_GET,                                                      \
	  "SELECT " PG_FACTOR_COLS " FROM factors WHERE id = $1 AND user_id = $2") \
	X(PG_FACTOR_FIND,                                                     \
	  "SELECT " PG_FACTOR_COLS " FROM factors WHERE tenant_id = $1 "      \
	  "AND kind = $2::int AND lookup = $3 AND lookup <> ''")              \
	X(PG_FACTOR_LIST,                                                     \
	  "SELECT " PG_FACTOR_COLS " FROM factors WHERE user_id = $1 "        \
	  "AND ($2::int = 0 OR kind = $2::int) "                              \
	  "ORDER BY created_at, id COLLATE \"C\"")                            \
	/* Taken first in factor_delete's transaction: deletes of one user's \
	 * factors queue behind each other, so the guard below sees the     \
	 * other's outcome (two racing deletes of the last two cannot both    \
	 * pass it under READ COMMITTED). */                                  \
	X(PG_FACTOR_LOCK_USER, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE") \
	X(PG_FACTOR_DELETE,                                                   \
	  "DELETE FROM factors WHERE id = $1 AND user_id = $2 AND ($3::bigint = 0 OR " \
	  "EXISTS (SELECT 1 FROM factors f WHERE f.user_id = $2 AND f.id <> $1 " \
	  "AND f.confirmed = 1 AND ($3::bigint & (1::bigint << f.kind)) <> 0))") \
	X(PG_FACTOR_EXISTS,                                                   \
	  "SELECT 1 FROM factors WHERE id = $1 AND user_id = $2")             \
	X(PG_FACTOR_EXISTS_ID, "SELECT 1 FROM factors WHERE id = $1")        \
	X(PG_FACTOR_ADVANCE,                                                  \
	  "UPDATE factors SET counter = $2::bigint, last_used_at = $3::bigint " \
	  "WHERE id = $1 AND counter < $2::bigint")                           \
	X(PG_FACTOR_SET_DATA,                                                 \
	  "UPDATE factors SET data = $3, last_used_at = $4::bigint "          \
	  "WHERE id = $1 AND data = $2")                                      \
	X(PG_FACTOR_TOUCH,                                                    \
	  "UPDATE factors SET last_used_at = $2::bigint WHERE id = $1")       \
	X(PG_TENANT_SET_MFA,                                                  \
	  "UPDATE tenants SET mfa_required = $2::int, mfa_factors = $3::int " \
	  "WHERE id = $1")                                                    \
	X(PG_LOCK_GET, "SELECT " PG_LOCK_COLS " FROM login_locks WHERE key = $1") \
	/* One statement, so parallel failures all count: ON CONFLICT takes  \
	 * the row lock, and the SET sees the row as it is then. */           \
	X(PG_LOCK_FAIL,                                                       \
	  "INSERT INTO login_locks AS l(key, tenant_id, email, failures, "    \
	  "locked_until, updated_at) VALUES($1, $2, $3, 1, "                  \
	  "CASE WHEN $5::int <= 1 THEN $4::bigint + $6::bigint ELSE 0 END, "  \
	  "$4::bigint) ON CONFLICT (key) DO UPDATE SET "                      \
	  "failures = CASE WHEN l.locked_until > 0 AND l.locked_until <= $4::bigint " \
	  "  THEN 1 ELSE l.failures + 1 END, "                                \
	  "locked_until = CASE "                                              \
	  "  WHEN l.locked_until > 0 AND l.locked_until <= $4::bigint "       \
	  "    THEN (CASE WHEN $5::int <= 1 THEN $4::bigint + $6::bigint ELSE 0 END) " \
	  "  WHEN l.locked_until = 0 AND l.failures + 1 >= $5::int "          \
	  "    THEN $4::bigint + $6::bigint "                                 \
	  "  ELSE l.locked_until END, "                                       \
	  "updated_at = $4::bigint RETURNING " PG_LOCK_COLS)                  \
	X(PG_LOCK_CLEAR, "DELETE FROM login_locks WHERE key = $1")            \
	/* One statement, so parallel takes on every node count exactly (the \
	 * upsert locks the row); the same arithmetic as the SQLite one.      \
	 * $1 key, $2 now ms, $3 tokens per second, $4 burst. */              \
	X(PG_BUCKET_TAKE,                                                     \
	  "INSERT INTO rate_buckets(key, tokens, updated_ms, granted) "       \
	  "VALUES($1, $4::float8 - 1, $2::bigint, 1) ON CONFLICT(key) DO UPDATE SET " \
	  "granted = (LEAST($4::float8, rate_buckets.tokens + GREATEST($2::bigint - rate_buckets.updated_ms, 0) * $3::float8 / 1000.0) >= 1)::int, " \
	  "tokens = LEAST($4::float8, rate_buckets.tokens + GREATEST($2::bigint - rate_buckets.updated_ms, 0) * $3::float8 / 1000.0) - (LEAST($4::float8, rate_buckets.tokens + GREATEST($2::bigint - rate_buckets.updated_ms, 0) * $3::float8 / 1000.0) >= 1)::int, " \
	  "updated_ms = GREATEST(rate_buckets.updated_ms, $2::bigint) "       \
	  "RETURNING tokens, granted")                                        \
	X(PG_BUCKET_GIVE,                                                     \
	  "UPDATE rate_buckets SET tokens = LEAST($4::float8, tokens + "      \
	  "GREATEST($2::bigint - updated_ms, 0) * $3::float8 / 1000.0 + 1), " \
	  "updated_ms = GREATEST(updated_ms, $2::bigint) WHERE key = $1")    \
	X(PG_SWEEP_LEASE,                                                     \
	  "INSERT INTO store_leases(name, holder, expires_at) "               \
	  "VALUES('sweep', $1, $2::bigint + $3::bigint) ON CONFLICT(name) DO UPDATE SET " \
	  "holder = excluded.holder, expires_at = excluded.expires_at "       \
	  "WHERE store_leases.holder = excluded.holder "                      \
	  "OR store_leases.expires_at <= $2::bigint RETURNING holder")        \
	/* Sweeps: one bounded DELETE each ($1 before, $2 limit). */          \
	X(PG_SWEEP_SECRETS_EXPIRED,                                           \
	  "DELETE FROM secrets WHERE (kind, hash) IN (SELECT kind, hash "     \
	  "FROM secrets WHERE expires_at < $1::bigint LIMIT $2::bigint)")     \
	X(PG_SWEEP_SECRETS_ENDED,                                             \
	  "DELETE FROM secrets WHERE (kind, hash) IN (SELECT x.kind, x.hash " \
	  "FROM sessions s JOIN secrets x ON x.session_id = s.id "            \
	  "WHERE (s.revoked_at > 0 AND s.revoked_at < $1::bigint) "           \
	  "OR s.expires_at < $1::bigint LIMIT $2::bigint)")                   \
	X(PG_SWEEP_SESSIONS_ENDED,                                            \
	  "DELETE FROM sessions WHERE id IN (SELECT s.id FROM sessions s "    \
	  "WHERE ((s.revoked_at > 0 AND s.revoked_at < $1::bigint) "          \
	  "OR s.expires_at < $1::bigint) "                                    \
	  "AND NOT EXISTS (SELECT 1 FROM secrets x WHERE x.session_id = s.id) " \
	  "LIMIT $2::bigint)")                                                \
	X(PG_SWEEP_LOCKS,                                                     \
	  "DELETE FROM login_locks WHERE key IN (SELECT key FROM login_locks " \
	  "WHERE locked_until < $1::bigint AND updated_at < $1::bigint "      \
	  "LIMIT $2::bigint)")                                                \
	X(PG_SWEEP_BUCKETS,                                                   \
	  "DELETE FROM rate_buckets WHERE key IN (SELECT key FROM rate_buckets " \
	  "WHERE updated_ms < $1::bigint LIMIT $2::bigint)")                  \
	X(PG_SWEEP_AUDIT,                                                     \
	  "DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log "    \
	  "WHERE at < $1::bigint LIMIT $2::bigint)")                          \
	/* ---- administration (issue 9) ---- */                              \
	X(PG_TENANT_UPDATE,                                                   \
	  "UPDATE tenants SET slug = $2, name = $3, mfa_required = $4::int, " \
	  "registration_open = $5::int, password_min_length = $6::int "       \
	  "WHERE id = $1")                                                    \
	X(PG_TENANT_HAS_USERS, "SELECT 1 FROM users WHERE tenant_id = $1 LIMIT 1") \
	X(PG_TENANT_DEL_SECRETS,                                              \
	  "DELETE FROM secrets WHERE tenant_id = $1 OR user_id IN "           \
	  "(SELECT id FROM users WHERE tenant_id = $1) OR session_id IN "     \
	  "(SELECT id FROM sessions WHERE tenant_id = $1)")                   \
	X(PG_TENANT_DEL_SESSIONS, "DELETE FROM sessions WHERE tenant_id = $1") \
	X(PG_TENANT_DEL_TOTP,                                                 \
	  "DELETE FROM factors WHERE user_id IN "                             \
	  "(SELECT id FROM users WHERE tenant_id = $1)")                      \
	X(PG_TENANT_DEL_LOCKS, "DELETE FROM login_locks WHERE tenant_id = $1") \
	X(PG_TENANT_DEL_APIKEYS, "DELETE FROM api_keys WHERE tenant_id = $1") \
	X(PG_TENANT_DEL_CLIENTS, "DELETE FROM oidc_clients WHERE tenant_id = $1") \
	X(PG_TENANT_DEL_USERS, "DELETE FROM users WHERE tenant_id = $1")      \
	X(PG_TENANT_DEL_DOMAINS, "DELETE FROM tenant_domains WHERE tenant_id = $1") \
	X(PG_TENANT_DEL_ORIGINS, "DELETE FROM tenant_origins WHERE tenant_id = $1") \
	X(PG_TENANT_DEL, "DELETE FROM tenants WHERE id = $1")                 \
	X(PG_USER_SCAN,                                                       \
	  "SELECT " PG_USER_COLS " FROM users WHERE tenant_id = $1 AND "      \
	  "email_norm COLLATE \"C\" > $2 ORDER BY email_norm COLLATE \"C\" "  \
	  "LIMIT $3::bigint")                                                 \
	X(PG_USER_DEL_SECRETS,                                                \
	  "DELETE FROM secrets WHERE user_id = $1 OR session_id IN "          \
	  "(SELECT id FROM sessions WHERE user_id = $1)")                     \
	X(PG_USER_DEL_SESSIONS, "DELETE FROM sessions WHERE user_id = $1")    \
	X(PG_USER_DEL_TOTP, "DELETE FROM factors WHERE user_id = $1")         \
	X(PG_USER_DEL, "DELETE FROM users WHERE id = $1")                     \
	X(PG_USER_SET_EMAIL,                                                  \
	  "UPDATE users SET email = $2, email_norm = $3 WHERE id = $1")       \
	X(PG_APIKEY_INSERT,                                                   \
	  "INSERT INTO api_keys(id, tenant_id, name, hash, created_at, "      \
	  "revoked_at) VALUES($1, $2, $3, $4, $5::bigint, $6::bigint)")       \
	X(PG_APIKEY_BY_HASH,                                                  \
	  "SELECT " PG_APIKEY_COLS " FROM api_keys WHERE hash = $1")          \
	X(PG_APIKEY_LIST,                                                     \
	  "SELECT " PG_APIKEY_COLS " FROM api_keys WHERE $1 = '' OR "         \
	  "tenant_id = $1 ORDER BY created_at, id COLLATE \"C\"")             \
	X(PG_APIKEY_REVOKE,                                                   \
	  "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN "   \
	  "greatest($2::bigint, 1) ELSE revoked_at END WHERE id = $1")        \
	X(PG_CLIENT_INSERT,                                                   \
	  "INSERT INTO oidc_clients(" PG_CLIENT_COLS ") VALUES($1, $2, $3, $4, " \
	  "$5, $6, $7, $8, $9::int, $10::bigint, $11::bigint, $12::bigint, "   \
	  "$13::bigint)")                                                     \
	X(PG_CLIENT_GET,                                                      \
	  "SELECT " PG_CLIENT_COLS " FROM oidc_clients WHERE id = $1")        \
	X(PG_CLIENT_LIST,                                                     \
	  "SELECT " PG_CLIENT_COLS " FROM oidc_clients WHERE tenant_id = $1 " \
	  "ORDER BY created_at, id COLLATE \"C\"")                            \
	X(PG_CLIENT_UPDATE,                                                   \
	  "UPDATE oidc_clients SET name = $3, redirect_uris = $4, "           \
	  "post_logout_uris = $5, grant_types = $6, scopes = $7, "            \
	  "first_party = $8::int, access_ttl = $9::bigint, "                  \
	  "refresh_ttl = $10::bigint, id_ttl = $11::bigint "                  \
	  "WHERE id = $1 AND tenant_id = $2")                                 \
	X(PG_CLIENT_DELETE,                                                   \
	  "DELETE FROM oidc_clients WHERE tenant_id = $1 AND id = $2")        \
	X(PG_AUDIT_INSERT,                                                    \
	  "INSERT INTO audit_log(at, event, tenant, user_id, actor, data) "   \
	  "VALUES($1::bigint, $2, $3, $4, $5, $6)")                           \
	X(PG_AUDIT_LIST,                                                      \
	  "SELECT " PG_AUDIT_COLS " FROM audit_log WHERE ($1 = '' OR tenant = $1) " \
	  "AND ($2 = '' OR user_id = $2) AND ($3 = '' OR event = $3) AND "    \
	  "at >= $4::bigint AND ($5::bigint = 0 OR seq < $5::bigint) "        \
	  "ORDER BY seq DESC LIMIT $6::bigint")                               \
	X(PG_LOCK_LIST,                                                       \
	  "SELECT " PG_LOCK_COLS " FROM login_locks "                         \
	  "ORDER BY updated_at DESC, key COLLATE \"C\"")

typedef enum {
#define PG_ST_ENUM(name, sql) name,
	PG_STATEMENTS(PG_ST_ENUM)
#undef PG_ST_ENUM
	PG_ST__COUNT
} pg_stmt;

typedef struct pg_conn {
	PGconn *db;
	struct pg_conn *next;         /* free list link while idle */
} pg_conn;

typedef struct pg_store {
	ts_store base;                /* first, so a ts_store * is a pg_store * */
	char *conninfo;               /* what libpq gets (holds the password) */
	char *password;               /* scrubbed from every message; may be NULL */
	char location[256];           /* user@host:port/db, never a credential */
	int max_conns;
	int wait_ms;                  /* how long an op waits for a connection */
	int opened;                   /* open has finished: outages are logged */

	pthread_mutex_t mu;           /* guards the fields below */
	pthread_cond_t cv;
	pg_conn *idle;
	int nconns;                   /* open, plus being opened */
	int down;                     /* last op failed for lack of the server */
	ts_hostneg hostneg;           /* hosts that name no tenant (hostneg.h) */
} pg_store;

/* One op's hold on a connection and its last result. */
typedef struct pg_call {
	pg_store *s;
	pg_conn *c;
	PGresult *res;
	int broken;                   /* the connection must not be reused */
	int64_t t0_us;                /* when the op began, for the latency metric */
} pg_call;

/* Parameters of one statement, as text. */
#define PG_MAX_ARGS 16
typedef struct pg_args {
	const char *v[PG_MAX_ARGS];
	char num[PG_MAX_ARGS][24];
	int n;
} pg_args;

void pg_arg_text(pg_args *a, const char *v);
void pg_arg_int(pg_args *a, int64_t v);
void pg_arg_real(pg_args *a, double v);

/* pg_pool.c */
ts_err pg_store_open(const char *dsn, ts_store_mode mode, ts_store **out);
void pg_store_close(ts_store *s);
/* Borrows a connection; on failure nothing is held. */
ts_err pg_begin(ts_store *s, pg_call *k);
/* Runs a prepared statement; the result stays in k->res until the next. */
ts_err pg_run(pg_call *k, pg_stmt st, const pg_args *a);
/* Runs a plain command ("BEGIN", "COMMIT"). */
ts_err pg_cmd(pg_call *k, const char *sql);
/* Rows of the last result, or rows changed by it. */
int pg_rows(const pg_call *k);
int pg_changed(const pg_call *k);
/* Rolls back an open transaction, returns (or drops) the connection. */
ts_err pg_end(pg_call *k, ts_err r);
/* Maps a failed result (SQLSTATE, connection state) to a ts_err, and
 * says so in the log (scrubbed) unless it is a CONFLICT/NOT_FOUND. */
ts_err pg_fail(pg_call *k, const char *what);
/* Copies msg into out with the store's password replaced by "***". */
void pg_scrub(const pg_store *s, const char *msg, char *out, size_t n);
/* Copies a text column (NULL = "") into dst of size n. */
void pg_col_text(const PGresult *res, int row, int col, char *dst, size_t n);
int64_t pg_col_int(const PGresult *res, int row, int col);

/* pg_schema.c */
extern const char *const pg_migrations[];
extern const int pg_migration_count;
/* Reads the schema version (0: no Tessera schema); never writes. */
ts_err pg_schema_version(pg_store *s, PGconn *db, int *v);
/* Brings the schema up to date under an advisory lock. */
ts_err pg_migrate(pg_store *s, PGconn *db);

#endif
