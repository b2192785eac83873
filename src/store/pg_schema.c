/* The PostgreSQL schema as an ordered list of migrations, the same logical
 * schema as sqlite_schema.c step for step (step i here is step i there),
 * so one version number describes both. Steps are append-only.
 *
 * The version lives in schema_version (one row). Migrating holds a
 * session advisory lock, so N nodes starting at once migrate exactly once:
 * the first applies the steps, the others wait, then find nothing to do.
 * Each step runs in its own transaction with the version bump. */
#include <stdio.h>
#include <string.h>
#include "store/pg_internal.h"

/* pg_advisory_lock key: "tessera" in ASCII, so it is recognisable in
 * pg_locks and unlikely to clash with another application's. */
#define PG_MIGRATE_LOCK "7310575219516729697"

const char *const pg_migrations[] = {
	/* 1: initial schema. Times are epoch seconds, 0 meaning "not set". */
	"CREATE TABLE tenants ("
	"  id TEXT PRIMARY KEY,"
	"  slug TEXT NOT NULL UNIQUE,"
	"  mfa_required INTEGER NOT NULL DEFAULT 0,"
	"  created_at BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE tenant_domains ("
	"  host TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE);"
	"CREATE INDEX tenant_domains_tenant ON tenant_domains(tenant_id);"
	"CREATE TABLE users ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  email TEXT NOT NULL,"
	"  email_norm TEXT NOT NULL,"
	"  password_hash TEXT NOT NULL DEFAULT '',"
	"  is_verified INTEGER NOT NULL DEFAULT 0,"
	"  is_admin INTEGER NOT NULL DEFAULT 0,"
	"  is_disabled INTEGER NOT NULL DEFAULT 0,"
	"  failed_logins INTEGER NOT NULL DEFAULT 0,"
	"  locked_until BIGINT NOT NULL DEFAULT 0,"
	"  created_at BIGINT NOT NULL DEFAULT 0,"
	"  UNIQUE (tenant_id, email_norm));"
	"CREATE TABLE sessions ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL,"
	"  user_id TEXT NOT NULL,"
	"  kind INTEGER NOT NULL DEFAULT 0,"
	"  amr TEXT NOT NULL DEFAULT '',"
	"  created_at BIGINT NOT NULL DEFAULT 0,"
	"  expires_at BIGINT NOT NULL DEFAULT 0,"
	"  revoked_at BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX sessions_user ON sessions(user_id);"
	"CREATE TABLE secrets ("
	"  kind INTEGER NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  tenant_id TEXT NOT NULL DEFAULT '',"
	"  user_id TEXT NOT NULL DEFAULT '',"
	"  session_id TEXT NOT NULL DEFAULT '',"
	"  data TEXT NOT NULL DEFAULT '',"
	"  created_at BIGINT NOT NULL DEFAULT 0,"
	"  expires_at BIGINT NOT NULL DEFAULT 0,"
	"  used_at BIGINT NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (kind, hash));"
	"CREATE INDEX secrets_session ON secrets(session_id);"
	"CREATE INDEX secrets_expires ON secrets(expires_at);"
	"CREATE TABLE signing_keys ("
	"  kid TEXT PRIMARY KEY,"
	"  alg TEXT NOT NULL,"
	"  private_pem TEXT NOT NULL,"
	"  created_at BIGINT NOT NULL DEFAULT 0,"
	"  retired_at BIGINT NOT NULL DEFAULT 0,"
	"  publish_until BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE totp ("
	"  user_id TEXT PRIMARY KEY,"
	"  secret_b32 TEXT NOT NULL,"
	"  confirmed INTEGER NOT NULL DEFAULT 0,"
	"  last_step BIGINT NOT NULL DEFAULT 0,"
	"  created_at BIGINT NOT NULL DEFAULT 0);",
	/* 2: failed logins per account key. */
	"CREATE TABLE login_locks ("
	"  key TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL DEFAULT '',"
	"  email TEXT NOT NULL DEFAULT '',"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  locked_until BIGINT NOT NULL DEFAULT 0,"
	"  updated_at BIGINT NOT NULL DEFAULT 0);",
	/* 3: key lifecycle and a change counter bumped by a statement trigger
	 * on any change to signing_keys, by any node. */
	"ALTER TABLE signing_keys ADD COLUMN activate_at BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE signing_keys ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;"
	"CREATE TABLE keys_version ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  version BIGINT NOT NULL DEFAULT 0);"
	"INSERT INTO keys_version(id, version) VALUES (1, 0);"
	"CREATE FUNCTION tessera_keys_bump() RETURNS trigger LANGUAGE plpgsql AS $$"
	"  BEGIN UPDATE keys_version SET version = version + 1; RETURN NULL; END $$;"
	"CREATE TRIGGER signing_keys_changed AFTER INSERT OR UPDATE OR DELETE "
	"  ON signing_keys FOR EACH ROW EXECUTE FUNCTION tessera_keys_bump();",
	/* 4: guesses made at a secret. */
	"ALTER TABLE secrets ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;",
	/* 5: CORS origins per tenant. */
	"CREATE TABLE tenant_origins ("
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  origin TEXT NOT NULL,"
	"  PRIMARY KEY (tenant_id, origin));",
	/* 6: state every node shares: per-account token buckets
	 * (bucket_take), the housekeeping lease (sweep_lease), and the
	 * indexes the bounded sweeps walk. */
	"CREATE TABLE rate_buckets ("
	"  key TEXT PRIMARY KEY,"
	"  tokens DOUBLE PRECISION NOT NULL,"
	"  updated_ms BIGINT NOT NULL,"
	"  granted INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX rate_buckets_updated ON rate_buckets(updated_ms);"
	"CREATE TABLE store_leases ("
	"  name TEXT PRIMARY KEY,"
	"  holder TEXT NOT NULL,"
	"  expires_at BIGINT NOT NULL);"
	"CREATE INDEX login_locks_updated ON login_locks(updated_at);"
	"CREATE INDEX sessions_revoked ON sessions(revoked_at);"
	"CREATE INDEX sessions_expires ON sessions(expires_at);",
	/* 7: tenant settings of the account life cycle (issue 9). */
	/* (one literal: clang's -Wstring-concatenation takes two for a lost comma) */
	"ALTER TABLE tenants ADD COLUMN registration_open INTEGER NOT NULL DEFAULT 0; ALTER TABLE tenants ADD COLUMN password_min_length INTEGER NOT NULL DEFAULT 0",
	/* 8: second factors as one table (issue 10, auth/factor.h): a user
	 * has any number of rows of any kind. TOTP moves in (kind 1, the
	 * sealed secret in data, the last accepted step in counter) and the
	 * old table becomes a read-only view of it. The tenant's policy says
	 * which kinds are allowed (a mask of 1 << kind, 0 = every kind). */
	"CREATE TABLE factors ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  kind INTEGER NOT NULL,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  lookup TEXT NOT NULL DEFAULT '',"
	"  data TEXT NOT NULL DEFAULT '',"
	"  confirmed INTEGER NOT NULL DEFAULT 0,"
	"  counter BIGINT NOT NULL DEFAULT 0,"
	"  created_at BIGINT NOT NULL DEFAULT 0,"
	"  last_used_at BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX factors_user ON factors(user_id, created_at);"
	"CREATE UNIQUE INDEX factors_lookup ON factors(tenant_id, kind, lookup) WHERE lookup <> '';"
	"CREATE UNIQUE INDEX factors_totp ON factors(user_id) WHERE kind = 1;"
	"INSERT INTO factors(id, tenant_id, user_id, kind, data, confirmed, counter, created_at) "
	"  SELECT gen_random_uuid()::text, "
	"    u.tenant_id, t.user_id, 1, t.secret_b32, t.confirmed, t.last_step, t.created_at "
	"  FROM totp t JOIN users u ON u.id = t.user_id;"
	"DROP TABLE totp;"
	"CREATE VIEW totp AS SELECT user_id, data AS secret_b32, confirmed, "
	"  counter AS last_step, created_at FROM factors WHERE kind = 1;"
	"ALTER TABLE tenants ADD COLUMN mfa_factors INTEGER NOT NULL DEFAULT 0;",
	/* 9: the account life cycle (issue 9): what a user's list of
	 * sessions shows, the index that voids a user's earlier mailed
	 * tokens, and the durable mail outbox (mail_put, mail_claim). */
	"ALTER TABLE sessions ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX secrets_user ON secrets(user_id, kind);"
	"CREATE TABLE outbox ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL,"
	"  user_id TEXT NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  to_addr TEXT NOT NULL,"
	"  data TEXT NOT NULL,"
	"  created_at BIGINT NOT NULL,"
	"  next_attempt BIGINT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX outbox_due ON outbox(next_attempt);",
	/* 10: administration (issue 9): a tenant's display name, API keys
	 * (hashed) and the append-only audit log (inserted, never updated;
	 * deleted only by the retention sweep). */
	"ALTER TABLE tenants ADD COLUMN name TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE api_keys ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  hash TEXT NOT NULL UNIQUE,"
	"  created_at BIGINT NOT NULL DEFAULT 0,"
	"  revoked_at BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX api_keys_tenant ON api_keys(tenant_id);"
	"CREATE TABLE audit_log ("
	"  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  at BIGINT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  tenant TEXT NOT NULL DEFAULT '',"
	"  user_id TEXT NOT NULL DEFAULT '',"
	"  actor TEXT NOT NULL DEFAULT '',"
	"  data TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX audit_log_at ON audit_log(at);"
	"CREATE INDEX audit_log_tenant ON audit_log(tenant, seq);"
	"CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
	"  $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;"
	"CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log "
	"  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();",
	/* 11: OpenID Connect clients (issue 11): one row per client of a
	 * tenant; the secret is stored hashed, lists are space-separated. */
	"CREATE TABLE oidc_clients ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  secret_hash TEXT NOT NULL DEFAULT '',"
	"  redirect_uris TEXT NOT NULL DEFAULT '',"
	"  post_logout_uris TEXT NOT NULL DEFAULT '',"
	"  grant_types TEXT NOT NULL DEFAULT '',"
	"  scopes TEXT NOT NULL DEFAULT '',"
	"  first_party INTEGER NOT NULL DEFAULT 0,"
	"  access_ttl BIGINT NOT NULL DEFAULT 0,"
	"  refresh_ttl BIGINT NOT NULL DEFAULT 0,"
	"  id_ttl BIGINT NOT NULL DEFAULT 0,"
	"  created_at BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX oidc_clients_tenant ON oidc_clients(tenant_id, created_at);",
};

const int pg_migration_count = (int)(sizeof pg_migrations / sizeof pg_migrations[0]);

static ts_err
exec(pg_store *s, PGconn *db, const char *sql, const char *what)
{
	PGresult *res = PQexec(db, sql);
	ExecStatusType st = PQresultStatus(res);
	ts_err r = TS_OK;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char clean[512];

		pg_scrub(s, PQresultErrorMessage(res), clean, sizeof clean);
		ts_store_report("postgres migrate (%s): %s", what, clean);
		r = PQstatus(db) == CONNECTION_OK ? TS_E_INTERNAL : TS_E_STORE_UNAVAILABLE;
	}
	PQclear(res);
	return r;
}

/* One integer from sql into *v; 0 when there is no row. */
static ts_err
query_int(pg_store *s, PGconn *db, const char *sql, int *v)
{
	PGresult *res = PQexec(db, sql);
	ts_err r = TS_OK;

	*v = 0;
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		if (PQntuples(res) > 0)
			*v = (int)pg_col_int(res, 0, 0);
	} else {
		char clean[512];

		pg_scrub(s, PQresultErrorMessage(res), clean, sizeof clean);
		ts_store_report("postgres schema version: %s", clean);
		r = PQstatus(db) == CONNECTION_OK ? TS_E_INTERNAL : TS_E_STORE_UNAVAILABLE;
	}
	PQclear(res);
	return r;
}

ts_err
pg_schema_version(pg_store *s, PGconn *db, int *v)
{
	int present = 0;
	ts_err r;

	*v = 0;
	/* to_regclass: NULL when the table is absent, without an error (a
	 * failed statement would abort a surrounding transaction). */
	if ((r = query_int(s, db, "SELECT (to_regclass('schema_version') IS NOT NULL)::int",
	                   &present)) != TS_OK || !present)
		return r;
	return query_int(s, db, "SELECT coalesce(max(version), 0) FROM schema_version", v);
}

/* Step i (from 0) and the version bump in one transaction. */
static ts_err
apply_step(pg_store *s, PGconn *db, int i)
{
	char setv[96], what[32];
	ts_err r;

	snprintf(what, sizeof what, "step %d", i + 1);
	snprintf(setv, sizeof setv, "UPDATE schema_version SET version = %d", i + 1);
	if ((r = exec(s, db, "BEGIN", what)) != TS_OK)
		return r;
	if ((r = exec(s, db, pg_migrations[i], what)) == TS_OK &&
	    (r = exec(s, db, setv, what)) == TS_OK)
		r = exec(s, db, "COMMIT", what);
	if (r != TS_OK)
		(void)exec(s, db, "ROLLBACK", what);
	return r;
}

ts_err
pg_migrate(pg_store *s, PGconn *db)
{
	ts_err r, u;
	int v = 0;

	if ((r = exec(s, db, "SELECT pg_advisory_lock(" PG_MIGRATE_LOCK ")", "lock")) != TS_OK)
		return r;
	/* Under the lock: whoever held it before us may have done it all. */
	if ((r = exec(s, db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
	              "schema_version")) != TS_OK ||
	    (r = exec(s, db, "INSERT INTO schema_version(version) SELECT 0 "
	                     "WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
	              "schema_version")) != TS_OK ||
	    (r = pg_schema_version(s, db, &v)) != TS_OK)
		goto out;
	if (v > pg_migration_count) {
		ts_store_report("database schema version %d is newer than this build's %d; "
		                "refusing to use it", v, pg_migration_count);
		r = TS_E_INTERNAL;
		goto out;
	}
	for (int i = v; i < pg_migration_count && r == TS_OK; i++)
		r = apply_step(s, db, i);
out:
	u = exec(s, db, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK ")", "unlock");
	return r != TS_OK ? r : u;
}
