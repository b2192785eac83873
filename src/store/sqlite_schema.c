/* The SQLite schema as an ordered list of migrations. Step i (from 0) moves a
 * database from PRAGMA user_version i to i + 1. Steps are append-only: never
 * edit one that has shipped, add the next instead. */
#include <stdio.h>
#include "store/sqlite_internal.h"

const char *const sq_migrations[] = {
	/* 1: initial schema. Times are epoch seconds, 0 meaning "not set";
	 * NOT NULL everywhere so the C side never meets a NULL it did not
	 * expect. */
	"CREATE TABLE tenants ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  slug TEXT NOT NULL UNIQUE,"
	"  mfa_required INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE tenant_domains ("
	"  host TEXT PRIMARY KEY NOT NULL,"          /* lower-case */
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE);"
	"CREATE INDEX tenant_domains_tenant ON tenant_domains(tenant_id);"
	"CREATE TABLE users ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  email TEXT NOT NULL,"                     /* as given */
	"  email_norm TEXT NOT NULL,"                /* ASCII lower-cased */
	"  password_hash TEXT NOT NULL DEFAULT '',"
	"  is_verified INTEGER NOT NULL DEFAULT 0,"
	"  is_admin INTEGER NOT NULL DEFAULT 0,"
	"  is_disabled INTEGER NOT NULL DEFAULT 0,"
	"  failed_logins INTEGER NOT NULL DEFAULT 0,"
	"  locked_until INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (tenant_id, email_norm));"
	"CREATE TABLE sessions ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  tenant_id TEXT NOT NULL,"
	"  user_id TEXT NOT NULL,"
	"  kind INTEGER NOT NULL DEFAULT 0,"
	"  amr TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL DEFAULT 0,"
	"  expires_at INTEGER NOT NULL DEFAULT 0,"
	"  revoked_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX sessions_user ON sessions(user_id);"
	/* Only hashes of secrets are stored (see store.h). */
	"CREATE TABLE secrets ("
	"  kind INTEGER NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  tenant_id TEXT NOT NULL DEFAULT '',"
	"  user_id TEXT NOT NULL DEFAULT '',"
	"  session_id TEXT NOT NULL DEFAULT '',"
	"  data TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL DEFAULT 0,"
	"  expires_at INTEGER NOT NULL DEFAULT 0,"
	"  used_at INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (kind, hash));"
	"CREATE INDEX secrets_session ON secrets(session_id);"
	"CREATE INDEX secrets_expires ON secrets(expires_at);"
	"CREATE TABLE signing_keys ("
	"  kid TEXT PRIMARY KEY NOT NULL,"
	"  alg TEXT NOT NULL,"
	"  private_pem TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL DEFAULT 0,"
	"  retired_at INTEGER NOT NULL DEFAULT 0,"
	"  publish_until INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE totp ("
	"  user_id TEXT PRIMARY KEY NOT NULL,"
	"  secret_b32 TEXT NOT NULL,"
	"  confirmed INTEGER NOT NULL DEFAULT 0,"
	"  last_step INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL DEFAULT 0);",
	/* 2: failed logins per account key (tenant + email), kept whether or
	 * not such a user exists, so a lock reveals nothing about existence. */
	"CREATE TABLE login_locks ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  tenant_id TEXT NOT NULL DEFAULT '',"
	"  email TEXT NOT NULL DEFAULT '',"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  locked_until INTEGER NOT NULL DEFAULT 0,"
	"  updated_at INTEGER NOT NULL DEFAULT 0);",
	/* 3: key lifecycle. A new key is published at once but signs only from
	 * activate_at; a revoked key is neither published nor accepted. The
	 * triggers count every change to signing_keys (ours, another node's
	 * or a hand-made one), so a node can poll one integer instead of
	 * re-reading every key. */
	"ALTER TABLE signing_keys ADD COLUMN activate_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE signing_keys ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE keys_version ("
	"  id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),"
	"  version INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO keys_version(id, version) VALUES (1, 0);"
	"CREATE TRIGGER signing_keys_ins AFTER INSERT ON signing_keys "
	"  BEGIN UPDATE keys_version SET version = version + 1; END;"
	"CREATE TRIGGER signing_keys_upd AFTER UPDATE ON signing_keys "
	"  BEGIN UPDATE keys_version SET version = version + 1; END;"
	"CREATE TRIGGER signing_keys_del AFTER DELETE ON signing_keys "
	"  BEGIN UPDATE keys_version SET version = version + 1; END;",
	/* 4: guesses made at a secret (a login challenge, an IAM auth token,
	 * an enrolment code), counted by one guarded UPDATE (secret_attempt). */
	"ALTER TABLE secrets ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;",
	/* 5: origins (scheme://host[:port], as browsers send them) whose
	 * pages may call the API for a tenant (CORS). */
	"CREATE TABLE tenant_origins ("
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  origin TEXT NOT NULL,"
	"  PRIMARY KEY (tenant_id, origin));",
	/* 6: state every node shares (issue 8): per-account token buckets
	 * (bucket_take), the housekeeping lease (sweep_lease), and the
	 * indexes the bounded sweeps walk. */
	"CREATE TABLE rate_buckets ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  tokens REAL NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  granted INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX rate_buckets_updated ON rate_buckets(updated_ms);"
	"CREATE TABLE store_leases ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  holder TEXT NOT NULL,"
	"  expires_at INTEGER NOT NULL);"
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
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  tenant_id TEXT NOT NULL,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  kind INTEGER NOT NULL,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  lookup TEXT NOT NULL DEFAULT '',"
	"  data TEXT NOT NULL DEFAULT '',"
	"  confirmed INTEGER NOT NULL DEFAULT 0,"
	"  counter INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL DEFAULT 0,"
	"  last_used_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX factors_user ON factors(user_id, created_at);"
	"CREATE UNIQUE INDEX factors_lookup ON factors(tenant_id, kind, lookup) WHERE lookup <> '';"
	"CREATE UNIQUE INDEX factors_totp ON factors(user_id) WHERE kind = 1;"
	"INSERT INTO factors(id, tenant_id, user_id, kind, data, confirmed, counter, created_at) "
	"  SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || "
	"    substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + abs(random() % 4), 1) || "
	"    substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))), "
	"    u.tenant_id, t.user_id, 1, t.secret_b32, t.confirmed, t.last_step, t.created_at "
	"  FROM totp t JOIN users u ON u.id = t.user_id;"
	"DROP TABLE totp;"
	"CREATE VIEW totp AS SELECT user_id, data AS secret_b32, confirmed, "
	"  counter AS last_step, created_at FROM factors WHERE kind = 1;"
	"ALTER TABLE tenants ADD COLUMN mfa_factors INTEGER NOT NULL DEFAULT 0;",
	/* 9: the account life cycle (issue 9): what a user's list of
	 * sessions shows, the index that voids a user's earlier mailed
	 * tokens, and the durable mail outbox (mail_put, mail_claim). */
	"ALTER TABLE sessions ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX secrets_user ON secrets(user_id, kind);"
	"CREATE TABLE outbox ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  tenant_id TEXT NOT NULL,"
	"  user_id TEXT NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  to_addr TEXT NOT NULL,"
	"  data TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  next_attempt INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX outbox_due ON outbox(next_attempt);",
	/* 10: administration (issue 9): a tenant's display name, API keys
	 * (hashed; an administrator of their tenant) and the append-only
	 * audit log (rows are only ever inserted, and deleted by the
	 * retention sweep). */
	"ALTER TABLE tenants ADD COLUMN name TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE api_keys ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  hash TEXT NOT NULL UNIQUE,"
	"  created_at INTEGER NOT NULL DEFAULT 0,"
	"  revoked_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX api_keys_tenant ON api_keys(tenant_id);"
	"CREATE TABLE audit_log ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  tenant TEXT NOT NULL DEFAULT '',"
	"  user_id TEXT NOT NULL DEFAULT '',"
	"  actor TEXT NOT NULL DEFAULT '',"
	"  data TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX audit_log_at ON audit_log(at);"
	"CREATE INDEX audit_log_tenant ON audit_log(tenant, seq);"
	"CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log "
	"  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;",
	/* 11: OpenID Connect clients (issue 11): one row per client of a
	 * tenant; the secret is stored hashed, lists are space-separated. */
	"CREATE TABLE oidc_clients ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  secret_hash TEXT NOT NULL DEFAULT '',"
	"  redirect_uris TEXT NOT NULL DEFAULT '',"
	"  post_logout_uris TEXT NOT NULL DEFAULT '',"
	"  grant_types TEXT NOT NULL DEFAULT '',"
	"  scopes TEXT NOT NULL DEFAULT '',"
	"  first_party INTEGER NOT NULL DEFAULT 0,"
	"  access_ttl INTEGER NOT NULL DEFAULT 0,"
	"  refresh_ttl INTEGER NOT NULL DEFAULT 0,"
	"  id_ttl INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX oidc_clients_tenant ON oidc_clients(tenant_id, created_at);",
};

const int sq_migration_count = (int)(sizeof sq_migrations / sizeof sq_migrations[0]);

/* *v gets PRAGMA user_version. */
static int
read_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/* Applies step i in its own transaction unless another process got there
 * first (the version is re-read under the write lock). *v gets the version
 * found, so the caller can tell a newer file. */
static int
apply_step(sqlite3 *db, const char *sql, int i, int *v)
{
	char setv[48];
	int rc;

	if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK) {
		sq_log(db, rc, "migrate");
		return rc;
	}
	if ((rc = read_version(db, v)) != SQLITE_OK)
		goto out;
	if (*v > i)
		goto out;      /* done meanwhile by someone else */
	if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
		goto out;
	snprintf(setv, sizeof setv, "PRAGMA user_version = %d", i + 1);
	rc = sqlite3_exec(db, setv, NULL, NULL, NULL);
out:
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sq_log(db, rc, "migrate");     /* before ROLLBACK resets the message */
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}

ts_err
sq_migrate(sqlite3 *db, const char *const *steps, int n)
{
	int rc, v = 0, i;

	/* The common case, an up-to-date file, takes no write lock. */
	if ((rc = read_version(db, &v)) != SQLITE_OK) {
		sq_log(db, rc, "migrate");
		goto fail;
	}
	for (i = v; i < n && v <= n; i++)
		if ((rc = apply_step(db, steps[i], i, &v)) != SQLITE_OK)
			goto fail;
	if (v > n) {
		/* A newer build migrated it; our statements may not fit. */
		ts_store_report("database schema version %d is newer than this "
		                "build's %d; refusing to use it", v, n);
		return TS_E_INTERNAL;
	}
	return TS_OK;
fail:
	if (sq_map(rc) == TS_OK)
		return TS_E_INTERNAL;
	return sq_map(rc);
}
