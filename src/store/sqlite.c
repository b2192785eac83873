/* The SQLite store: one small function per op of ts_store_ops. The SQL is
 * in sqlite_internal.h (SQ_STATEMENTS); the pool, deadlines and error
 * mapping are in sqlite_pool.c; the schema is in sqlite_schema.c.
 *
 * Every op is one sq_begin .. sq_end bracket on a pooled connection; ops
 * that write take SQ_WRITE. Callbacks (tenant_list, key_list) run while a
 * connection is held, so they should be quick. */
#include <stdlib.h>
#include <string.h>
#include "store/sqlite_internal.h"

/* A record field as (buffer, size) for sq_col_text. */
#define SQ_BUF(rec, f) (rec)->f, sizeof (rec)->f

/* ---- rows ------------------------------------------------------------ */

static void
row_tenant_at(sqlite3_stmt *st, int c0, ts_tenant *t)
{
	memset(t, 0, sizeof *t);
	sq_col_text(st, c0 + 0, SQ_BUF(t, id));
	sq_col_text(st, c0 + 1, SQ_BUF(t, slug));
	t->mfa_required = sqlite3_column_int(st, c0 + 2);
	t->created_at = sqlite3_column_int64(st, c0 + 3);
	t->registration_open = sqlite3_column_int(st, c0 + 4);
	t->password_min_length = sqlite3_column_int(st, c0 + 5);
	t->mfa_factors = (unsigned)sqlite3_column_int64(st, c0 + 6);
	sq_col_text(st, c0 + 7, SQ_BUF(t, name));
}

static void
row_tenant(sqlite3_stmt *st, ts_tenant *t)
{
	row_tenant_at(st, 0, t);
}

static void
row_user_at(sqlite3_stmt *st, int c0, ts_user *u)
{
	memset(u, 0, sizeof *u);
	sq_col_text(st, c0 + 0, SQ_BUF(u, id));
	sq_col_text(st, c0 + 1, SQ_BUF(u, tenant_id));
	sq_col_text(st, c0 + 2, SQ_BUF(u, email));
	sq_col_text(st, c0 + 3, SQ_BUF(u, password_hash));
	u->is_verified = sqlite3_column_int(st, c0 + 4);
	u->is_admin = sqlite3_column_int(st, c0 + 5);
	u->is_disabled = sqlite3_column_int(st, c0 + 6);
	u->failed_logins = sqlite3_column_int(st, c0 + 7);
	u->locked_until = sqlite3_column_int64(st, c0 + 8);
	u->created_at = sqlite3_column_int64(st, c0 + 9);
	sq_col_text(st, c0 + 10, SQ_BUF(u, email_norm));
}

static void
row_user(sqlite3_stmt *st, ts_user *u)
{
	row_user_at(st, 0, u);
}

static void
row_session_at(sqlite3_stmt *st, int c0, ts_session *x)
{
	memset(x, 0, sizeof *x);
	sq_col_text(st, c0 + 0, SQ_BUF(x, id));
	sq_col_text(st, c0 + 1, SQ_BUF(x, tenant_id));
	sq_col_text(st, c0 + 2, SQ_BUF(x, user_id));
	x->kind = sqlite3_column_int(st, c0 + 3);
	sq_col_text(st, c0 + 4, SQ_BUF(x, amr));
	x->created_at = sqlite3_column_int64(st, c0 + 5);
	x->expires_at = sqlite3_column_int64(st, c0 + 6);
	x->revoked_at = sqlite3_column_int64(st, c0 + 7);
}

static void
row_secret(sqlite3_stmt *st, ts_secret *x)
{
	memset(x, 0, sizeof *x);
	x->kind = sqlite3_column_int(st, 0);
	sq_col_text(st, 1, SQ_BUF(x, hash));
	sq_col_text(st, 2, SQ_BUF(x, tenant_id));
	sq_col_text(st, 3, SQ_BUF(x, user_id));
	sq_col_text(st, 4, SQ_BUF(x, session_id));
	sq_col_text(st, 5, SQ_BUF(x, data));
	x->created_at = sqlite3_column_int64(st, 6);
	x->expires_at = sqlite3_column_int64(st, 7);
	x->used_at = sqlite3_column_int64(st, 8);
}

static void
row_totp(sqlite3_stmt *st, ts_totp *x)
{
	memset(x, 0, sizeof *x);
	sq_col_text(st, 0, SQ_BUF(x, user_id));
	sq_col_text(st, 1, SQ_BUF(x, secret_b32));
	x->confirmed = sqlite3_column_int(st, 2);
	x->last_step = sqlite3_column_int64(st, 3);
	x->created_at = sqlite3_column_int64(st, 4);
}

static void
row_factor(sqlite3_stmt *st, ts_factor *x)
{
	memset(x, 0, sizeof *x);
	sq_col_text(st, 0, SQ_BUF(x, id));
	sq_col_text(st, 1, SQ_BUF(x, tenant_id));
	sq_col_text(st, 2, SQ_BUF(x, user_id));
	x->kind = sqlite3_column_int(st, 3);
	sq_col_text(st, 4, SQ_BUF(x, name));
	sq_col_text(st, 5, SQ_BUF(x, lookup));
	sq_col_text(st, 6, SQ_BUF(x, data));
	x->confirmed = sqlite3_column_int(st, 7);
	x->counter = sqlite3_column_int64(st, 8);
	x->created_at = sqlite3_column_int64(st, 9);
	x->last_used_at = sqlite3_column_int64(st, 10);
}

static void
row_lock(sqlite3_stmt *st, ts_lock *x)
{
	memset(x, 0, sizeof *x);
	sq_col_text(st, 0, SQ_BUF(x, key));
	sq_col_text(st, 1, SQ_BUF(x, tenant_id));
	sq_col_text(st, 2, SQ_BUF(x, email));
	x->failures = sqlite3_column_int(st, 3);
	x->locked_until = sqlite3_column_int64(st, 4);
	x->updated_at = sqlite3_column_int64(st, 5);
}

/* Shared by the by-key getters: one statement, one text key, one row. The
 * row goes through a local copy and out is cleared only at the end, so key
 * may point into out (e.g. user_by_id(s, u->id, u) to re-read a record). */
#define GET_ONE(s, stmt, key, out, type, row_fn)                            \
	do {                                                                \
		type tmp_;                                                  \
		sq_call k;                                                  \
		ts_err r;                                                   \
		if ((r = sq_begin(s, SQ_READ, stmt, &k)) == TS_OK) {        \
			sq_text(&k, 1, key);                                \
			if ((r = sq_row(&k)) == TS_OK)                      \
				row_fn(k.st, &tmp_);                        \
			r = sq_end(&k, r);                                  \
		}                                                           \
		if (r == TS_OK)                                             \
			*(out) = tmp_;                                      \
		else                                                        \
			memset(out, 0, sizeof *(out));                      \
		return r;                                                   \
	} while (0)

/* Runs a one-text-key UPDATE/DELETE; NOT_FOUND when no row matched. */
static ts_err
change_by_key(ts_store *s, sq_stmt stmt, const char *key)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, stmt, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, key);
	return sq_end(&k, sq_changed(&k));
}

/* After an UPDATE matched no row: TS_E_NOT_FOUND if the row is absent,
 * else `present` (the guard in its WHERE refused). */
static ts_err
absent_or(sq_call *k, sq_stmt exists, const char *key, ts_err present)
{
	ts_err r;

	if ((r = sq_use(k, exists)) != TS_OK)
		return r;
	sq_text(k, 1, key);
	r = sq_row(k);
	return r == TS_OK ? present : r;
}

/* ---- ops: liveness --------------------------------------------------- */

static const char *
op_location(ts_store *s)
{
	return ((sq_store *)s)->path;
}

static ts_err
op_schema_status(ts_store *s, int *current, int *latest)
{
	sq_call k;
	ts_err r;

	*current = 0;
	*latest = sq_migration_count;
	/* BEGIN is only prepared, not run: it needs no table, unlike PING. */
	if ((r = sq_begin(s, SQ_READ, ST_BEGIN, &k)) != TS_OK)
		return r;
	r = sq_user_version(k.c->db, current) == SQLITE_OK ? TS_OK : TS_E_INTERNAL;
	return sq_end(&k, r);
}

static ts_err
op_ping(ts_store *s)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_PING, &k)) != TS_OK)
		return r;
	return sq_end(&k, sq_exec(&k));
}

/* ---- ops: tenants ---------------------------------------------------- */

static ts_err
op_tenant_create(ts_store *s, const ts_tenant *t)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_TENANT_INSERT, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, t->id);
	sq_text(&k, 2, t->slug);
	sq_int(&k, 3, t->mfa_required != 0);
	sq_int(&k, 4, t->created_at);
	sq_int(&k, 5, t->registration_open != 0);
	sq_int(&k, 6, t->password_min_length);
	sq_int(&k, 7, t->mfa_factors);
	sq_text(&k, 8, t->name);
	return sq_end(&k, sq_exec(&k));
}

static ts_err
op_tenant_add_domain(ts_store *s, const char *tenant_id, const char *host)
{
	sq_call k;
	ts_err r;

	if (!host || !host[0])
		return TS_E_INVALID;
	if ((r = sq_begin(s, SQ_WRITE, ST_DOMAIN_INSERT, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, host);
	sq_text(&k, 2, tenant_id);
	r = sq_end(&k, sq_exec(&k));      /* unknown tenant: FK -> NOT_FOUND */
	ts_hostneg_clear(&((sq_store *)s)->hostneg);   /* after the commit */
	return r;
}

/* BEGIN, the tenant, each domain, COMMIT: a taken domain leaves nothing. */
static ts_err
op_tenant_create_with_domains(ts_store *s, const ts_tenant *t, const char *const *domains,
                              int ndomains)
{
	sq_call k;
	ts_err r;

	for (int i = 0; i < ndomains; i++)
		if (!domains[i] || !domains[i][0])
			return TS_E_INVALID;
	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_TENANT_INSERT)) != TS_OK)
		goto out;
	sq_text(&k, 1, t->id);
	sq_text(&k, 2, t->slug);
	sq_int(&k, 3, t->mfa_required != 0);
	sq_int(&k, 4, t->created_at);
	sq_int(&k, 5, t->registration_open != 0);
	sq_int(&k, 6, t->password_min_length);
	sq_int(&k, 7, t->mfa_factors);
	sq_text(&k, 8, t->name);
	if ((r = sq_exec(&k)) != TS_OK)
		goto out;
	for (int i = 0; i < ndomains; i++) {
		if ((r = sq_use(&k, ST_DOMAIN_INSERT)) != TS_OK)
			goto out;
		sq_text(&k, 1, domains[i]);
		sq_text(&k, 2, t->id);
		if ((r = sq_exec(&k)) != TS_OK)
			goto out;
	}
	if ((r = sq_use(&k, ST_COMMIT)) == TS_OK)
		r = sq_exec(&k);
out:
	r = sq_end(&k, r);                    /* rolls back unless committed */
	ts_hostneg_clear(&((sq_store *)s)->hostneg);   /* after the commit */
	return r;
}

static ts_err
op_tenant_remove_domain(ts_store *s, const char *tenant_id, const char *host)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_DOMAIN_DELETE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, host);
	sq_text(&k, 2, tenant_id);
	return sq_end(&k, sq_changed(&k));
}

static ts_err
op_tenant_by_slug(ts_store *s, const char *slug, ts_tenant *out)
{
	GET_ONE(s, ST_TENANT_BY_SLUG, slug, out, ts_tenant, row_tenant);
}

static ts_err
tenant_by_domain(ts_store *s, const char *host, ts_tenant *out)
{
	GET_ONE(s, ST_TENANT_BY_DOMAIN, host, out, ts_tenant, row_tenant);
}

static ts_err
op_tenant_by_domain(ts_store *s, const char *host, ts_tenant *out)
{
	return ts_hostneg_lookup(&((sq_store *)s)->hostneg, s, host, out, tenant_by_domain);
}

static ts_err
op_tenant_by_id(ts_store *s, const char *id, ts_tenant *out)
{
	GET_ONE(s, ST_TENANT_BY_ID, id, out, ts_tenant, row_tenant);
}


static ts_err
op_tenant_list(ts_store *s, ts_tenant_cb cb, void *arg)
{
	ts_tenant t;
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_TENANT_LIST, &k)) != TS_OK)
		return r;
	while ((r = sq_row(&k)) == TS_OK) {
		row_tenant(k.st, &t);
		if (cb(arg, &t) != 0)
			break;
	}
	return sq_end(&k, r == TS_E_NOT_FOUND ? TS_OK : r);
}

/* ---- ops: users ------------------------------------------------------ */

static ts_err
op_user_create(ts_store *s, const ts_user *u)
{
	sq_call k;
	ts_err r;

	if (!u->email_norm[0])
		return TS_E_INVALID;
	if ((r = sq_begin(s, SQ_WRITE, ST_USER_INSERT, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, u->id);
	sq_text(&k, 2, u->tenant_id);
	sq_text(&k, 3, u->email);
	sq_text(&k, 4, u->email_norm);
	sq_text(&k, 5, u->password_hash);
	sq_int(&k, 6, u->is_verified != 0);
	sq_int(&k, 7, u->is_admin != 0);
	sq_int(&k, 8, u->is_disabled != 0);
	sq_int(&k, 9, u->failed_logins);
	sq_int(&k, 10, u->locked_until);
	sq_int(&k, 11, u->created_at);
	return sq_end(&k, sq_exec(&k));   /* unknown tenant: FK -> NOT_FOUND */
}

static ts_err
op_user_by_email(ts_store *s, const char *tenant_id, const char *email_norm, ts_user *out)
{
	ts_user tmp;
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_USER_BY_EMAIL, &k)) == TS_OK) {
		sq_text(&k, 1, tenant_id);
		sq_text(&k, 2, email_norm);
		if ((r = sq_row(&k)) == TS_OK)
			row_user(k.st, &tmp);
		r = sq_end(&k, r);
	}
	if (r == TS_OK)
		*out = tmp;                    /* late, so tenant_id may alias out */
	else
		memset(out, 0, sizeof *out);
	return r;
}

static ts_err
op_user_by_id(ts_store *s, const char *id, ts_user *out)
{
	GET_ONE(s, ST_USER_BY_ID, id, out, ts_user, row_user);
}

static ts_err
op_user_set_password(ts_store *s, const char *id, const char *phc)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_USER_SET_PASSWORD, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, id);
	sq_text(&k, 2, phc ? phc : "");
	return sq_end(&k, sq_changed(&k));
}

static void
bind_user(sq_call *k, const ts_user *u)
{
	sq_text(k, 1, u->id);
	sq_text(k, 2, u->tenant_id);
	sq_text(k, 3, u->email);
	sq_text(k, 4, u->email_norm);
	sq_text(k, 5, u->password_hash);
	sq_int(k, 6, u->is_verified != 0);
	sq_int(k, 7, u->is_admin != 0);
	sq_int(k, 8, u->is_disabled != 0);
	sq_int(k, 9, u->failed_logins);
	sq_int(k, 10, u->locked_until);
	sq_int(k, 11, u->created_at);
}

/* BEGIN, one INSERT .. ON CONFLICT DO NOTHING per row, COMMIT. */
static ts_err
op_user_create_many(ts_store *s, const ts_user *u, int n, unsigned char *taken, int *created)
{
	sq_call k;
	ts_err r;
	int made = 0;

	*created = 0;
	if (n < 0 || n > TS_USER_BATCH_MAX)
		return TS_E_INVALID;
	for (int i = 0; i < n; i++)
		if (!u[i].email_norm[0])
			return TS_E_INVALID;
	if (n == 0)
		return TS_OK;
	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	if ((r = sq_exec(&k)) != TS_OK)
		goto out;
	for (int i = 0; i < n; i++) {
		if ((r = sq_use(&k, ST_USER_INSERT_NEW)) != TS_OK)
			goto out;
		bind_user(&k, &u[i]);
		if ((r = sq_exec(&k)) != TS_OK)
			goto out;              /* FK: NOT_FOUND; id: CONFLICT */
		taken[i] = sqlite3_changes(k.c->db) == 0;
		made += !taken[i];
	}
	if ((r = sq_use(&k, ST_COMMIT)) == TS_OK && (r = sq_exec(&k)) == TS_OK)
		*created = made;
out:
	return sq_end(&k, r);                 /* rolls back unless committed */
}

static ts_err
op_user_page(ts_store *s, const char *tenant_id, const char *after, ts_user *out, int max,
             int *n)
{
	sq_call k;
	ts_err r;

	*n = 0;
	if (max <= 0)
		return TS_OK;
	if ((r = sq_begin(s, SQ_READ, ST_USER_PAGE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, tenant_id);
	sq_text(&k, 2, after ? after : "");
	sq_int(&k, 3, max);
	while (*n < max && (r = sq_row(&k)) == TS_OK)
		row_user(k.st, &out[(*n)++]);
	return sq_end(&k, r == TS_E_NOT_FOUND || r == TS_OK ? TS_OK : r);
}

/* One transaction: no session of the old password survives the change,
 * and none slips in between. */
static ts_err
op_user_set_password_revoke(ts_store *s, const char *id, const char *phc,
                            const char *keep_session, int64_t now, int *n)
{
	sq_call k;
	ts_err r;

	*n = 0;
	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_USER_SET_PASSWORD)) != TS_OK)
		goto out;
	sq_text(&k, 1, id);
	sq_text(&k, 2, phc ? phc : "");
	if ((r = sq_changed(&k)) != TS_OK || (r = sq_use(&k, ST_USER_KILL_OTHER_SECRETS)) != TS_OK)
		goto out;
	sq_text(&k, 1, id);
	sq_int(&k, 2, now);
	sq_text(&k, 3, keep_session ? keep_session : "");
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_USER_REVOKE_OTHER_SESSIONS)) != TS_OK)
		goto out;
	sq_text(&k, 1, id);
	sq_int(&k, 2, now);
	sq_text(&k, 3, keep_session ? keep_session : "");
	if ((r = sq_exec(&k)) != TS_OK)
		goto out;
	*n = sqlite3_changes(k.c->db);
	if ((r = sq_use(&k, ST_COMMIT)) != TS_OK || (r = sq_exec(&k)) != TS_OK)
		*n = 0;
out:
	return sq_end(&k, r);
}

/* ---- ops: tenant origins (CORS) ---- */

static ts_err
origin_op(ts_store *s, sq_stmt st, const char *tenant_id, const char *origin)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, st == ST_ORIGIN_GET ? SQ_READ : SQ_WRITE, st, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, tenant_id);
	sq_text(&k, 2, origin);
	if (st == ST_ORIGIN_GET)
		r = sq_row(&k);
	else if (st == ST_ORIGIN_DELETE)
		r = sq_changed(&k);
	else
		r = sq_exec(&k);
	return sq_end(&k, r);
}

static ts_err
op_tenant_add_origin(ts_store *s, const char *tenant_id, const char *origin)
{
	return origin_op(s, ST_ORIGIN_INSERT, tenant_id, origin);
}

static ts_err
op_tenant_remove_origin(ts_store *s, const char *tenant_id, const char *origin)
{
	return origin_op(s, ST_ORIGIN_DELETE, tenant_id, origin);
}

static ts_err
op_tenant_origin_allowed(ts_store *s, const char *tenant_id, const char *origin)
{
	return origin_op(s, ST_ORIGIN_GET, tenant_id, origin);
}

static ts_err
op_user_set_flags(ts_store *s, const char *id, int is_verified, int is_admin,
                  int is_disabled)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_USER_SET_FLAGS, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, id);
	sq_int(&k, 2, is_verified != 0);
	sq_int(&k, 3, is_admin != 0);
	sq_int(&k, 4, is_disabled != 0);
	return sq_end(&k, sq_changed(&k));
}



/* ---- ops: sessions --------------------------------------------------- */

static ts_err
op_session_create(ts_store *s, const ts_session *x)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_SESSION_INSERT, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, x->id);
	sq_text(&k, 2, x->tenant_id);
	sq_text(&k, 3, x->user_id);
	sq_int(&k, 4, x->kind);
	sq_text(&k, 5, x->amr);
	sq_int(&k, 6, x->created_at);
	sq_int(&k, 7, x->expires_at);
	sq_int(&k, 8, x->revoked_at);
	sq_int(&k, 9, x->last_used_at ? x->last_used_at : x->created_at);
	sq_text(&k, 10, x->ip);
	sq_text(&k, 11, x->user_agent);
	return sq_end(&k, sq_exec(&k));
}


static ts_err
op_session_principal(ts_store *s, const char *id, ts_session *sess, ts_user *u, ts_tenant *t)
{
	sq_call k;
	ts_session x;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_SESSION_PRINCIPAL, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, id);
	if ((r = sq_row(&k)) == TS_OK) {
		/* Through a copy: id may point into *sess. */
		row_session_at(k.st, 0, &x);
		row_user_at(k.st, 8, u);
		row_tenant_at(k.st, 19, t);
	}
	r = sq_end(&k, r);
	if (r == TS_OK)
		*sess = x;
	return r;
}

static ts_err
op_secret_principal(ts_store *s, int kind, const char *hash, ts_secret *out, ts_session *sess,
                    ts_user *u, ts_tenant *t)
{
	ts_secret x;
	ts_session y;
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_SECRET_PRINCIPAL, &k)) != TS_OK)
		return r;
	sq_int(&k, 1, kind);
	sq_text(&k, 2, hash);
	if ((r = sq_row(&k)) == TS_OK) {
		/* Through copies: hash may point into *out. */
		row_secret(k.st, &x);
		if (sqlite3_column_type(k.st, 28) != SQLITE_NULL) {
			row_session_at(k.st, 9, &y);
			row_user_at(k.st, 17, u);
			row_tenant_at(k.st, 28, t);
		} else {
			memset(&y, 0, sizeof y);
			memset(u, 0, sizeof *u);
			memset(t, 0, sizeof *t);
		}
	}
	r = sq_end(&k, r);
	if (r == TS_OK) {
		*out = x;
		*sess = y;
	}
	return r;
}

static ts_err
op_session_set_amr(ts_store *s, const char *id, const char *amr)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_SESSION_SET_AMR, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, id);
	sq_text(&k, 2, amr);
	return sq_end(&k, sq_changed(&k));
}

/* One transaction, so no refresh can slip between the two updates. */
static ts_err
op_session_revoke(ts_store *s, const char *id, int64_t now)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_SESSION_REVOKE)) != TS_OK)
		goto out;
	sq_text(&k, 1, id);
	sq_int(&k, 2, now);
	r = sq_changed(&k);
	/* Already revoked keeps its earlier time, and still kills secrets. */
	if (r == TS_E_NOT_FOUND)
		r = absent_or(&k, ST_SESSION_EXISTS, id, TS_OK);
	if (r != TS_OK || (r = sq_use(&k, ST_SESSION_KILL_SECRETS)) != TS_OK)
		goto out;
	sq_text(&k, 1, id);
	sq_int(&k, 2, now);
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_COMMIT)) != TS_OK)
		goto out;
	r = sq_exec(&k);
out:
	return sq_end(&k, r);                 /* rolls back unless committed */
}

static ts_err
op_user_sessions_revoke(ts_store *s, const char *user_id, int64_t now, int *n)
{
	sq_call k;
	ts_err r;

	*n = 0;
	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	/* Secrets first: the subquery picks sessions that are still live. */
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_USER_KILL_SECRETS)) != TS_OK)
		goto out;
	sq_text(&k, 1, user_id);
	sq_int(&k, 2, now);
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_USER_REVOKE_SESSIONS)) != TS_OK)
		goto out;
	sq_text(&k, 1, user_id);
	sq_int(&k, 2, now);
	if ((r = sq_exec(&k)) != TS_OK)
		goto out;
	*n = sqlite3_changes(k.c->db);
	if ((r = sq_use(&k, ST_COMMIT)) != TS_OK || (r = sq_exec(&k)) != TS_OK)
		*n = 0;
out:
	return sq_end(&k, r);
}

/* ---- ops: secrets ---------------------------------------------------- */

/* Binds x to the current ST_SECRET_INSERT. */
static void
bind_secret(sq_call *k, const ts_secret *x)
{
	sq_int(k, 1, x->kind);
	sq_text(k, 2, x->hash);
	sq_text(k, 3, x->tenant_id);
	sq_text(k, 4, x->user_id);
	sq_text(k, 5, x->session_id);
	sq_text(k, 6, x->data);
	sq_int(k, 7, x->created_at);
	sq_int(k, 8, x->expires_at);
	sq_int(k, 9, x->used_at);
}

static ts_err
op_secret_put(ts_store *s, const ts_secret *x)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_SECRET_INSERT, &k)) != TS_OK)
		return r;
	bind_secret(&k, x);
	return sq_end(&k, sq_exec(&k));
}

static ts_err
op_secret_get(ts_store *s, int kind, const char *hash, ts_secret *out)
{
	ts_secret tmp;
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_SECRET_GET, &k)) == TS_OK) {
		sq_int(&k, 1, kind);
		sq_text(&k, 2, hash);
		if ((r = sq_row(&k)) == TS_OK)
			row_secret(k.st, &tmp);
		r = sq_end(&k, r);
	}
	if (r == TS_OK)
		*out = tmp;                    /* late, so hash may alias out */
	else
		memset(out, 0, sizeof *out);
	return r;
}

/* The guarded UPDATE is the whole of the single-use guarantee: SQLite runs
 * it under its write lock, so across threads and processes exactly one
 * caller sees a row come back. */
static ts_err
consume(sq_call *k, int kind, const char *hash, int64_t now, ts_secret *tmp)
{
	ts_err r;

	sq_int(k, 1, kind);
	sq_text(k, 2, hash);
	sq_int(k, 3, now);
	if ((r = sq_row(k)) == TS_OK) {
		row_secret(k->st, tmp);
		return sq_exec(k);             /* finish, so the commit is checked */
	}
	if (r != TS_E_NOT_FOUND || (r = sq_use(k, ST_SECRET_GET)) != TS_OK)
		return r;
	/* Nothing consumed: absent, or used before (the row tells by whom). */
	sq_int(k, 1, kind);
	sq_text(k, 2, hash);
	if ((r = sq_row(k)) != TS_OK)
		return r;
	row_secret(k->st, tmp);
	return TS_E_TOKEN_REUSED;
}

static ts_err
op_secret_consume(ts_store *s, int kind, const char *hash, int64_t now, ts_secret *out)
{
	ts_secret tmp;
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_SECRET_CONSUME, &k)) == TS_OK)
		r = sq_end(&k, consume(&k, kind, hash, now, &tmp));
	if (r == TS_OK || r == TS_E_TOKEN_REUSED)
		*out = tmp;                    /* late, so hash may alias out */
	else
		memset(out, 0, sizeof *out);
	return r;
}

/* One rotation inside the caller's write transaction: spends old_hash and
 * stores its successor. TS_OK, or the verdict of consume() with nothing
 * written (TS_E_TOKEN_REUSED, TS_E_NOT_FOUND), or an error that leaves
 * the transaction to be rolled back. */
static ts_err
rotate_in(sq_call *k, int kind, const char *old_hash, int64_t now, const char *new_hash,
          int64_t new_expires, ts_secret *tmp)
{
	ts_secret next;
	ts_err r;

	memset(tmp, 0, sizeof *tmp);
	if ((r = sq_use(k, ST_SECRET_CONSUME)) != TS_OK ||
	    (r = consume(k, kind, old_hash, now, tmp)) != TS_OK)
		return r;
	if ((r = sq_use(k, ST_SECRET_INSERT)) != TS_OK)
		return r;
	/* The successor: the spent one's owner, nothing else carried over. */
	next = (ts_secret){ .kind = kind, .created_at = now, .expires_at = new_expires };
	ts_strlcpy(next.hash, new_hash, sizeof(next.hash));
	ts_strlcpy(next.tenant_id, tmp->tenant_id, sizeof(next.tenant_id));
	ts_strlcpy(next.user_id, tmp->user_id, sizeof(next.user_id));
	ts_strlcpy(next.session_id, tmp->session_id, sizeof(next.session_id));
	bind_secret(k, &next);
	if ((r = sq_exec(k)) != TS_OK || (r = sq_use(k, ST_SESSION_TOUCH)) != TS_OK)
		return r;
	sq_text(k, 1, tmp->session_id);
	sq_int(k, 2, now);
	return sq_exec(k);
}

/* A rotation waiting for its batch (store/group.h). */
typedef struct sq_rot {
	ts_group_item link;          /* first */
	int kind;
	const char *old_hash, *new_hash;
	int64_t now, new_expires;
	ts_secret tmp;
	ts_err r;
} sq_rot;

static int
verdict(ts_err r)
{
	return r == TS_OK || r == TS_E_TOKEN_REUSED || r == TS_E_NOT_FOUND;
}

/* One rotation in a transaction of its own. */
static ts_err
rotate_alone(sq_store *s, sq_rot *x)
{
	sq_call k;
	ts_err r;

	memset(&x->tmp, 0, sizeof x->tmp);
	if ((r = sq_begin(&s->base, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	if ((r = sq_exec(&k)) == TS_OK &&
	    (r = rotate_in(&k, x->kind, x->old_hash, x->now, x->new_hash, x->new_expires,
	                   &x->tmp)) == TS_OK &&
	    (r = sq_use(&k, ST_COMMIT)) == TS_OK)
		r = sq_exec(&k);
	return sq_end(&k, r);                 /* rolls back unless committed */
}

/* The leader's batch: every rotation in one write transaction, one
 * commit. A verdict (spent, reused, absent) is each item's own and
 * writes nothing; any other error rolls the batch back and each item is
 * run alone, so one bad rotation cannot fail the others. */
static void
rotate_batch(void *ctx, ts_group_item *batch, size_t n)
{
	sq_store *s = ctx;
	sq_call k;
	ts_group_item *it;
	ts_err r;

	if (n == 1) {
		((sq_rot *)batch)->r = rotate_alone(s, (sq_rot *)batch);
		return;
	}
	if ((r = sq_begin(&s->base, SQ_WRITE, ST_BEGIN, &k)) != TS_OK) {
		for (it = batch; it; it = it->next)
			((sq_rot *)it)->r = r;
		return;
	}
	if ((r = sq_exec(&k)) != TS_OK)
		goto fail;
	for (it = batch; it; it = it->next) {
		sq_rot *x = (sq_rot *)it;

		x->r = rotate_in(&k, x->kind, x->old_hash, x->now, x->new_hash, x->new_expires,
		                 &x->tmp);
		if (!verdict(x->r)) {
			r = x->r;
			goto fail;
		}
	}
	if ((r = sq_use(&k, ST_COMMIT)) != TS_OK || (r = sq_exec(&k)) != TS_OK)
		goto fail;
	sq_end(&k, TS_OK);
	return;
fail:
	sq_end(&k, r);                        /* rolls back */
	for (it = batch; it; it = it->next)
		((sq_rot *)it)->r = rotate_alone(s, (sq_rot *)it);
}

static ts_err
op_secret_rotate(ts_store *s, int kind, const char *old_hash, int64_t now, const char *new_hash,
                 int64_t new_expires, ts_secret *out)
{
	sq_store *q = (sq_store *)s;
	sq_rot x = { .kind = kind, .old_hash = old_hash, .new_hash = new_hash,
	             .now = now, .new_expires = new_expires };

	if (q->group_max > 1)
		ts_group_run(&q->rotations, &x.link, rotate_batch, q);
	else
		x.r = rotate_alone(q, &x);
	if (x.r == TS_OK || x.r == TS_E_TOKEN_REUSED)
		*out = x.tmp;                 /* late, so old_hash may alias out */
	else
		memset(out, 0, sizeof *out);
	return x.r;
}

static ts_err
op_secret_attempt(ts_store *s, int kind, const char *hash, int max, int *n)
{
	sq_call k;
	ts_err r;

	*n = 0;
	if ((r = sq_begin(s, SQ_WRITE, ST_SECRET_ATTEMPT, &k)) != TS_OK)
		return r;
	sq_int(&k, 1, kind);
	sq_text(&k, 2, hash);
	sq_int(&k, 3, max);
	if ((r = sq_row(&k)) == TS_OK) {
		*n = sqlite3_column_int(k.st, 0);
		r = sq_exec(&k);               /* finish, so the commit is checked */
	}
	r = sq_end(&k, r);
	if (r != TS_OK)
		*n = 0;
	return r;
}

static ts_err
op_secret_replace(ts_store *s, const ts_secret *x)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_SECRET_REPLACE, &k)) != TS_OK)
		return r;
	bind_secret(&k, x);
	return sq_end(&k, sq_exec(&k));
}

/* ---- ops: the account life cycle -------------------------------------- */

static ts_err
op_user_sessions_list(ts_store *s, const char *user_id, int64_t now, ts_session_cb cb,
                      void *arg)
{
	ts_session *rows = NULL, *grown;
	size_t n = 0, cap = 0;
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_USER_SESSIONS, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, user_id);
	sq_int(&k, 2, now);
	/* Copied out first: the callback runs with no connection held. */
	while ((r = sq_row(&k)) == TS_OK) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if (!(grown = realloc(rows, cap * sizeof *rows))) {
				r = TS_E_NOMEM;
				break;
			}
			rows = grown;
		}
		row_session_at(k.st, 0, &rows[n]);
		rows[n].last_used_at = sqlite3_column_int64(k.st, 8);
		sq_col_text(k.st, 9, SQ_BUF(&rows[n], ip));
		sq_col_text(k.st, 10, SQ_BUF(&rows[n], user_agent));
		n++;
	}
	r = sq_end(&k, r == TS_E_NOT_FOUND ? TS_OK : r);
	for (size_t i = 0; r == TS_OK && i < n; i++)
		if (cb(arg, &rows[i]) != 0)
			break;
	free(rows);
	return r;
}

static void
bind_mail(sq_call *k, const ts_mail *m)
{
	sq_text(k, 1, m->id);
	sq_text(k, 2, m->tenant_id);
	sq_text(k, 3, m->user_id);
	sq_int(k, 4, m->kind);
	sq_text(k, 5, m->to);
	sq_text(k, 6, m->data);
	sq_int(k, 7, m->created_at);
	sq_int(k, 8, m->next_attempt);
	sq_int(k, 9, m->attempts);
}

/* One transaction: the mail and the secrets it carries exist together or
 * not at all. */
static ts_err
op_mail_put(ts_store *s, const ts_mail *m, const ts_secret *token, const ts_secret *code)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	if ((r = sq_exec(&k)) != TS_OK)
		goto out;
	if (token) {
		if ((r = sq_use(&k, ST_VOID_USER_SECRETS)) != TS_OK)
			goto out;
		sq_int(&k, 1, token->kind);
		sq_text(&k, 2, token->user_id);
		sq_int(&k, 3, token->created_at);
		if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_SECRET_INSERT)) != TS_OK)
			goto out;
		bind_secret(&k, token);
		if ((r = sq_exec(&k)) != TS_OK)
			goto out;
	}
	if (code) {
		if ((r = sq_use(&k, ST_SECRET_REPLACE)) != TS_OK)
			goto out;
		bind_secret(&k, code);
		if ((r = sq_exec(&k)) != TS_OK)
			goto out;
	}
	if ((r = sq_use(&k, ST_MAIL_INSERT)) != TS_OK)
		goto out;
	bind_mail(&k, m);
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_COMMIT)) != TS_OK)
		goto out;
	r = sq_exec(&k);
out:
	return sq_end(&k, r);                 /* rolls back unless committed */
}

static void
row_mail(sqlite3_stmt *st, ts_mail *m)
{
	memset(m, 0, sizeof *m);
	sq_col_text(st, 0, SQ_BUF(m, id));
	sq_col_text(st, 1, SQ_BUF(m, tenant_id));
	sq_col_text(st, 2, SQ_BUF(m, user_id));
	m->kind = sqlite3_column_int(st, 3);
	sq_col_text(st, 4, SQ_BUF(m, to));
	sq_col_text(st, 5, SQ_BUF(m, data));
	m->created_at = sqlite3_column_int64(st, 6);
	m->next_attempt = sqlite3_column_int64(st, 7);
	m->attempts = sqlite3_column_int(st, 8);
}

static ts_err
op_mail_claim(ts_store *s, int64_t now, int64_t delay, int max, ts_mail *out, int *n)
{
	sq_call k;
	ts_err r;

	*n = 0;
	if (max <= 0)
		return TS_OK;
	if ((r = sq_begin(s, SQ_WRITE, ST_MAIL_CLAIM, &k)) != TS_OK)
		return r;
	sq_int(&k, 1, now);
	sq_int(&k, 2, delay);
	sq_int(&k, 3, max);
	while (*n < max && (r = sq_row(&k)) == TS_OK)
		row_mail(k.st, &out[(*n)++]);
	if (r == TS_OK)
		r = sq_exec(&k);               /* finish, so the commit is checked */
	else if (r == TS_E_NOT_FOUND)
		r = TS_OK;                     /* stepped to the end already */
	r = sq_end(&k, r);
	if (r != TS_OK)
		*n = 0;
	return r;
}

static ts_err
op_mail_delete(ts_store *s, const char *id)
{
	return change_by_key(s, ST_MAIL_DELETE, id);
}

/* ---- ops: signing keys ----------------------------------------------- */

static ts_err
op_key_add(ts_store *s, const ts_signing_key *x)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_KEY_INSERT, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, x->kid);
	sq_text(&k, 2, x->alg);
	sq_text(&k, 3, x->private_pem);
	sq_int(&k, 4, x->created_at);
	sq_int(&k, 5, x->retired_at);
	sq_int(&k, 6, x->publish_until);
	sq_int(&k, 7, x->activate_at);
	sq_int(&k, 8, x->revoked_at);
	return sq_end(&k, sq_exec(&k));
}

/* NOT_FOUND if kid is unknown: retiring every key would leave no signer. */
static ts_err
op_key_retire_others(ts_store *s, const char *kid, int64_t at, int64_t publish_until)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_KEY_EXISTS)) != TS_OK)
		goto out;
	sq_text(&k, 1, kid);
	if ((r = sq_row(&k)) != TS_OK || (r = sq_use(&k, ST_KEY_RETIRE_OTHERS)) != TS_OK)
		goto out;
	sq_text(&k, 1, kid);
	sq_int(&k, 2, at);
	sq_int(&k, 3, publish_until);
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_COMMIT)) != TS_OK)
		goto out;
	r = sq_exec(&k);
out:
	return sq_end(&k, r);
}

/* Passes cb a private copy of each PEM, wiped and freed after the call, so
 * the callback can neither keep nor scribble on SQLite's buffer. */
static ts_err
op_key_list(ts_store *s, ts_key_cb cb, void *arg)
{
	ts_signing_key key;
	const unsigned char *pem;
	size_t len;
	sq_call k;
	ts_err r;
	int stop;

	if ((r = sq_begin(s, SQ_READ, ST_KEY_LIST, &k)) != TS_OK)
		return r;
	while ((r = sq_row(&k)) == TS_OK) {
		memset(&key, 0, sizeof key);
		sq_col_text(k.st, 0, SQ_BUF(&key, kid));
		sq_col_text(k.st, 1, SQ_BUF(&key, alg));
		pem = sqlite3_column_text(k.st, 2);
		len = (size_t)sqlite3_column_bytes(k.st, 2);
		if (!(key.private_pem = malloc(len + 1))) {
			r = TS_E_NOMEM;
			break;
		}
		if (len)
			memcpy(key.private_pem, pem, len);
		key.private_pem[len] = '\0';
		key.created_at = sqlite3_column_int64(k.st, 3);
		key.retired_at = sqlite3_column_int64(k.st, 4);
		key.publish_until = sqlite3_column_int64(k.st, 5);
		key.activate_at = sqlite3_column_int64(k.st, 6);
		key.revoked_at = sqlite3_column_int64(k.st, 7);
		stop = cb(arg, &key);
		explicit_bzero(key.private_pem, len);
		free(key.private_pem);
		if (stop)
			break;
	}
	return sq_end(&k, r == TS_E_NOT_FOUND ? TS_OK : r);
}

static ts_err
op_key_revoke(ts_store *s, const char *kid, int64_t now)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_KEY_REVOKE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, kid);
	sq_int(&k, 2, now);
	return sq_end(&k, sq_changed(&k));
}

static ts_err
op_key_version(ts_store *s, int64_t *out)
{
	sq_call k;
	ts_err r;

	*out = 0;
	if ((r = sq_begin(s, SQ_READ, ST_KEY_VERSION, &k)) != TS_OK)
		return r;
	if ((r = sq_row(&k)) == TS_OK)
		*out = sqlite3_column_int64(k.st, 0);
	return sq_end(&k, r);
}

static ts_err
op_key_set_private(ts_store *s, const char *kid, const char *old_text, const char *new_text)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_KEY_SET_PRIVATE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, kid);
	sq_text(&k, 2, old_text);
	sq_text(&k, 3, new_text);
	return sq_end(&k, sq_changed(&k));
}

/* ---- ops: TOTP ------------------------------------------------------- */

static ts_err
op_totp_list(ts_store *s, ts_totp_cb cb, void *arg)
{
	sq_call k;
	ts_totp t;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_TOTP_LIST, &k)) != TS_OK)
		return r;
	while ((r = sq_row(&k)) == TS_OK) {
		row_totp(k.st, &t);
		int stop = cb(arg, &t);
		explicit_bzero(t.secret_b32, sizeof(t.secret_b32));
		if (stop)
			break;
	}
	return sq_end(&k, r == TS_E_NOT_FOUND ? TS_OK : r);
}

static ts_err
op_totp_set_secret(ts_store *s, const char *user_id, const char *old_text, const char *new_text)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_TOTP_SET_SECRET, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, user_id);
	sq_text(&k, 2, old_text);
	sq_text(&k, 3, new_text);
	return sq_end(&k, sq_changed(&k));
}

static ts_err
op_totp_put(ts_store *s, const ts_totp *t)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_TOTP_PUT, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, t->user_id);
	sq_text(&k, 2, t->secret_b32);
	sq_int(&k, 3, t->confirmed != 0);
	sq_int(&k, 4, t->last_step);
	sq_int(&k, 5, t->created_at);
	char id[TS_ID_SZ];
	ts_uuid4(id);                        /* the row's id; kept by a replacement */
	sq_text(&k, 6, id);
	r = sq_changed(&k);
	/* Nothing changed: a confirmed factor is in the way. */
	return sq_end(&k, r == TS_E_NOT_FOUND ? TS_E_CONFLICT : r);
}

static ts_err
op_totp_get(ts_store *s, const char *user_id, ts_totp *out)
{
	GET_ONE(s, ST_TOTP_GET, user_id, out, ts_totp, row_totp);
}

static ts_err
op_totp_confirm(ts_store *s, const char *user_id)
{
	return change_by_key(s, ST_TOTP_CONFIRM, user_id);
}

/* RFC 6238 §5.2: a verifier must not accept the same code twice. The
 * guarded UPDATE makes that hold across threads and processes. */
static ts_err
op_totp_use_step(ts_store *s, const char *user_id, int64_t step)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_TOTP_USE_STEP, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, user_id);
	sq_int(&k, 2, step);
	if ((r = sq_changed(&k)) == TS_E_NOT_FOUND)
		r = absent_or(&k, ST_TOTP_EXISTS, user_id, TS_E_TOKEN_REUSED);
	return sq_end(&k, r);
}

static ts_err
op_totp_delete(ts_store *s, const char *user_id)
{
	return change_by_key(s, ST_TOTP_DELETE, user_id);
}

/* ---- ops: factors ---------------------------------------------------- */

static void
bind_factor(sq_call *k, const ts_factor *f)
{
	sq_text(k, 1, f->id);
	sq_text(k, 2, f->tenant_id);
	sq_text(k, 3, f->user_id);
	sq_int(k, 4, f->kind);
	sq_text(k, 5, f->name);
	sq_text(k, 6, f->lookup);
	sq_text(k, 7, f->data);
	sq_int(k, 8, f->confirmed != 0);
	sq_int(k, 9, f->counter);
	sq_int(k, 10, f->created_at);
	sq_int(k, 11, f->last_used_at);
}

static ts_err
op_factor_put(ts_store *s, const ts_factor *f)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_FACTOR_INSERT, &k)) != TS_OK)
		return r;
	bind_factor(&k, f);
	return sq_end(&k, sq_exec(&k));   /* unknown user: FK -> NOT_FOUND */
}

/* BEGIN, delete the kind's rows, insert, COMMIT: never two sets. */
static ts_err
op_factor_replace(ts_store *s, const ts_factor *f)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_FACTOR_DELETE_KIND)) != TS_OK)
		goto out;
	sq_text(&k, 1, f->user_id);
	sq_int(&k, 2, f->kind);
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_FACTOR_INSERT)) != TS_OK)
		goto out;
	bind_factor(&k, f);
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_COMMIT)) != TS_OK)
		goto out;
	r = sq_exec(&k);
out:
	return sq_end(&k, r);                 /* rolls back unless committed */
}

static ts_err
op_factor_get(ts_store *s, const char *user_id, const char *id, ts_factor *out)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_FACTOR_GET, &k)) != TS_OK) {
		memset(out, 0, sizeof *out);
		return r;
	}
	sq_text(&k, 1, id);
	sq_text(&k, 2, user_id);
	if ((r = sq_row(&k)) == TS_OK) {
		ts_factor tmp;                 /* id may point into out */
		row_factor(k.st, &tmp);
		*out = tmp;
	}
	r = sq_end(&k, r);
	if (r != TS_OK)
		memset(out, 0, sizeof *out);
	return r;
}

static ts_err
op_factor_find(ts_store *s, const char *tenant_id, int kind, const char *lookup, ts_factor *out)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_FACTOR_FIND, &k)) != TS_OK) {
		memset(out, 0, sizeof *out);
		return r;
	}
	sq_text(&k, 1, tenant_id);
	sq_int(&k, 2, kind);
	sq_text(&k, 3, lookup);
	if ((r = sq_row(&k)) == TS_OK) {
		ts_factor tmp;
		row_factor(k.st, &tmp);
		*out = tmp;
	}
	r = sq_end(&k, r);
	if (r != TS_OK)
		memset(out, 0, sizeof *out);
	return r;
}

static ts_err
op_factor_list(ts_store *s, const char *user_id, int kind, ts_factor_cb cb, void *arg)
{
	ts_factor *f;
	sq_call k;
	ts_err r;

	if (!(f = malloc(sizeof *f)))
		return TS_E_NOMEM;
	if ((r = sq_begin(s, SQ_READ, ST_FACTOR_LIST, &k)) != TS_OK) {
		free(f);
		return r;
	}
	sq_text(&k, 1, user_id);
	sq_int(&k, 2, kind);
	while ((r = sq_row(&k)) == TS_OK) {
		row_factor(k.st, f);
		int stop = cb(arg, f);
		explicit_bzero(f, sizeof *f);
		if (stop)
			break;
	}
	free(f);
	return sq_end(&k, r == TS_E_NOT_FOUND ? TS_OK : r);
}

static ts_err
op_factor_delete(ts_store *s, const char *user_id, const char *id, unsigned keep_mask)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_FACTOR_DELETE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, id);
	sq_text(&k, 2, user_id);
	sq_int(&k, 3, keep_mask);
	if ((r = sq_changed(&k)) == TS_E_NOT_FOUND && keep_mask) {
		/* Nothing deleted: absent, or the guard kept the last one. */
		if ((r = sq_use(&k, ST_FACTOR_EXISTS)) == TS_OK) {
			sq_text(&k, 1, id);
			sq_text(&k, 2, user_id);
			r = sq_row(&k);
			r = r == TS_OK ? TS_E_CONFLICT : r;
		}
	}
	return sq_end(&k, r);
}

/* The replay rule: the guarded UPDATE runs under the write lock, so of two
 * racing uses of one counter value exactly one moves it. */
static ts_err
op_factor_advance(ts_store *s, const char *id, int64_t counter, int64_t now)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_FACTOR_ADVANCE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, id);
	sq_int(&k, 2, counter);
	sq_int(&k, 3, now);
	if ((r = sq_changed(&k)) == TS_E_NOT_FOUND)
		r = absent_or(&k, ST_FACTOR_EXISTS_ID, id, TS_E_TOKEN_REUSED);
	return sq_end(&k, r);
}

static ts_err
op_factor_set_data(ts_store *s, const char *id, const char *old_data, const char *new_data,
                   int64_t now)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_FACTOR_SET_DATA, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, id);
	sq_text(&k, 2, old_data);
	sq_text(&k, 3, new_data);
	sq_int(&k, 4, now);
	return sq_end(&k, sq_changed(&k));
}

static ts_err
op_factor_touch(ts_store *s, const char *id, int64_t now)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_FACTOR_TOUCH, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, id);
	sq_int(&k, 2, now);
	return sq_end(&k, sq_changed(&k));
}

static ts_err
op_tenant_set_mfa(ts_store *s, const char *tenant_id, int mfa_required, unsigned mfa_factors)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_TENANT_SET_MFA, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, tenant_id);
	sq_int(&k, 2, mfa_required != 0);
	sq_int(&k, 3, mfa_factors);
	return sq_end(&k, sq_changed(&k));
}

/* ---- ops: tenant domains ------------------------------------------- */

static ts_err
op_tenant_domains(ts_store *s, const char *tenant_id, int (*cb)(void *arg, const char *host),
                  void *arg)
{
	sq_call k;
	char host[TS_HOST_MAX + 1];
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_DOMAIN_LIST, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, tenant_id);
	while ((r = sq_row(&k)) == TS_OK) {
		sq_col_text(k.st, 0, host, sizeof(host));
		if (cb(arg, host))
			break;
	}
	return sq_end(&k, r == TS_E_NOT_FOUND ? TS_OK : r);
}

/* ---- ops: account locks --------------------------------------------- */

static ts_err
op_lock_get(ts_store *s, const char *key, ts_lock *out)
{
	GET_ONE(s, ST_LOCK_GET, key, out, ts_lock, row_lock);
}

static ts_err
op_lock_fail(ts_store *s, const char *key, const char *tenant_id, const char *email,
             int64_t now, int lock_after, int64_t lock_secs, ts_lock *out)
{
	sq_call k;
	ts_err r;

	memset(out, 0, sizeof *out);
	if ((r = sq_begin(s, SQ_WRITE, ST_LOCK_FAIL, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, key);
	sq_text(&k, 2, tenant_id ? tenant_id : "");
	sq_text(&k, 3, email ? email : "");
	sq_int(&k, 4, now);
	sq_int(&k, 5, lock_after);
	sq_int(&k, 6, lock_secs);
	if ((r = sq_row(&k)) == TS_OK) {
		row_lock(k.st, out);
		r = sq_exec(&k);               /* finish, so the commit is checked */
	}
	return sq_end(&k, r);
}

static ts_err
op_lock_clear(ts_store *s, const char *key)
{
	ts_err r = change_by_key(s, ST_LOCK_CLEAR, key);

	return r == TS_E_NOT_FOUND ? TS_OK : r;
}

static ts_err
op_lock_list(ts_store *s, ts_lock_cb cb, void *arg)
{
	sq_call k;
	ts_lock l;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_LOCK_LIST, &k)) != TS_OK)
		return r;
	while ((r = sq_row(&k)) == TS_OK) {
		row_lock(k.st, &l);
		if (cb(arg, &l))
			break;
	}
	return sq_end(&k, r == TS_E_NOT_FOUND ? TS_OK : r);
}

/* ---- ops: shared state and housekeeping ------------------------------ */

static ts_err
op_bucket_take(ts_store *s, const char *key, int64_t now_ms, double rate, double burst,
               int *wait)
{
	sq_call k;
	ts_err r;
	double tokens = 0;
	int granted = 0;

	*wait = 0;
	if ((r = sq_begin(s, SQ_WRITE, ST_BUCKET_TAKE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, key);
	sq_int(&k, 2, now_ms);
	sq_real(&k, 3, rate);
	sq_real(&k, 4, burst);
	if ((r = sq_row(&k)) == TS_OK) {
		tokens = sqlite3_column_double(k.st, 0);
		granted = sqlite3_column_int(k.st, 1);
		r = sq_exec(&k);               /* finish, so the commit is checked */
	}
	if ((r = sq_end(&k, r)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_INTERNAL : r;
	if (!granted) {
		/* Whole seconds, rounded up, until one token is there. */
		double need = rate > 0 ? (1 - tokens) / rate : 60;
		*wait = need > 86400 ? 86400 : (int)need;
		if (*wait < need)
			(*wait)++;
		if (*wait < 1)
			*wait = 1;
	}
	return TS_OK;
}

static ts_err
op_bucket_give(ts_store *s, const char *key, int64_t now_ms, double rate, double burst)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_BUCKET_GIVE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, key);
	sq_int(&k, 2, now_ms);
	sq_real(&k, 3, rate);
	sq_real(&k, 4, burst);
	return sq_end(&k, sq_exec(&k));
}

static ts_err
op_sweep_lease(ts_store *s, const char *node, int64_t now, int64_t ttl, int *held)
{
	sq_call k;
	ts_err r;

	*held = 0;
	if ((r = sq_begin(s, SQ_WRITE, ST_SWEEP_LEASE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, node);
	sq_int(&k, 2, now);
	sq_int(&k, 3, ttl);
	if ((r = sq_row(&k)) == TS_OK) {
		*held = 1;
		r = sq_exec(&k);
	}
	r = sq_end(&k, r);
	if (r != TS_OK)
		*held = 0;
	return r == TS_E_NOT_FOUND ? TS_OK : r;   /* another node's lease */
}

static ts_err
op_sweep(ts_store *s, ts_sweep_class what, int64_t before, int limit, int *n)
{
	sq_stmt st = ST_SWEEP_SECRETS_EXPIRED;
	sq_call k;
	ts_err r;

	*n = 0;
	switch (what) {
	case TS_SWEEP_SECRETS_EXPIRED: st = ST_SWEEP_SECRETS_EXPIRED; break;
	case TS_SWEEP_SECRETS_ENDED: st = ST_SWEEP_SECRETS_ENDED; break;
	case TS_SWEEP_SESSIONS_ENDED: st = ST_SWEEP_SESSIONS_ENDED; break;
	case TS_SWEEP_LOCKS: st = ST_SWEEP_LOCKS; break;
	case TS_SWEEP_BUCKETS: st = ST_SWEEP_BUCKETS; break;
	case TS_SWEEP_AUDIT: st = ST_SWEEP_AUDIT; break;
	}
	if ((r = sq_begin(s, SQ_WRITE, st, &k)) != TS_OK)
		return r;
	sq_int(&k, 1, before);
	sq_int(&k, 2, limit);
	if ((r = sq_exec(&k)) == TS_OK)
		*n = sqlite3_changes(k.c->db);
	return sq_end(&k, r);
}

/* ---- ops: administration (issue 9) ---------------------------------- */

static void
row_apikey(sqlite3_stmt *st, ts_apikey *x)
{
	memset(x, 0, sizeof *x);
	sq_col_text(st, 0, SQ_BUF(x, id));
	sq_col_text(st, 1, SQ_BUF(x, tenant_id));
	sq_col_text(st, 2, SQ_BUF(x, name));
	sq_col_text(st, 3, SQ_BUF(x, hash));
	x->created_at = sqlite3_column_int64(st, 4);
	x->revoked_at = sqlite3_column_int64(st, 5);
}

static void
row_audit(sqlite3_stmt *st, ts_audit_rec *x)
{
	memset(x, 0, sizeof *x);
	x->seq = sqlite3_column_int64(st, 0);
	x->at = sqlite3_column_int64(st, 1);
	sq_col_text(st, 2, SQ_BUF(x, event));
	sq_col_text(st, 3, SQ_BUF(x, tenant));
	sq_col_text(st, 4, SQ_BUF(x, user_id));
	sq_col_text(st, 5, SQ_BUF(x, actor));
	sq_col_text(st, 6, SQ_BUF(x, data));
}

static ts_err
op_tenant_update(ts_store *s, const ts_tenant *t)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_TENANT_UPDATE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, t->id);
	sq_text(&k, 2, t->slug);
	sq_text(&k, 3, t->name);
	sq_int(&k, 4, t->mfa_required != 0);
	sq_int(&k, 5, t->registration_open != 0);
	sq_int(&k, 6, t->password_min_length);
	return sq_end(&k, sq_changed(&k));
}

/* Runs each statement of list with ?1 = key, in the open transaction. */
static ts_err
exec_each(sq_call *k, const sq_stmt *list, size_t n, const char *key)
{
	ts_err r = TS_OK;

	for (size_t i = 0; i < n && r == TS_OK; i++) {
		if ((r = sq_use(k, list[i])) != TS_OK)
			break;
		sq_text(k, 1, key);
		r = sq_exec(k);
	}
	return r;
}

static ts_err
op_tenant_delete(ts_store *s, const char *tenant_id, int force)
{
	static const sq_stmt parts[] = {
		ST_TENANT_DEL_SECRETS, ST_TENANT_DEL_SESSIONS, ST_TENANT_DEL_TOTP,
		ST_TENANT_DEL_LOCKS,   ST_TENANT_DEL_APIKEYS,  ST_TENANT_DEL_CLIENTS,
		ST_TENANT_DEL_USERS,
		ST_TENANT_DEL_DOMAINS, ST_TENANT_DEL_ORIGINS,
	};
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	if ((r = sq_exec(&k)) != TS_OK || (r = sq_use(&k, ST_TENANT_HAS_USERS)) != TS_OK)
		goto out;
	sq_text(&k, 1, tenant_id);
	if ((r = sq_row(&k)) == TS_OK && !force) {
		r = TS_E_CONFLICT;
		goto out;
	}
	if (r != TS_OK && r != TS_E_NOT_FOUND)
		goto out;
	if ((r = exec_each(&k, parts, sizeof parts / sizeof parts[0], tenant_id)) != TS_OK ||
	    (r = sq_use(&k, ST_TENANT_DEL)) != TS_OK)
		goto out;
	sq_text(&k, 1, tenant_id);
	if ((r = sq_changed(&k)) != TS_OK || (r = sq_use(&k, ST_COMMIT)) != TS_OK)
		goto out;
	r = sq_exec(&k);
out:
	return sq_end(&k, r);
}

static ts_err
op_user_scan(ts_store *s, const char *tenant_id, const char *after, int limit, ts_user_cb cb,
             void *arg)
{
	ts_user u;
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_USER_SCAN, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, tenant_id);
	sq_text(&k, 2, after ? after : "");
	sq_int(&k, 3, limit);
	while ((r = sq_row(&k)) == TS_OK) {
		row_user(k.st, &u);
		if (cb(arg, &u) != 0)
			break;
	}
	memset(&u, 0, sizeof u);
	return sq_end(&k, r == TS_E_NOT_FOUND ? TS_OK : r);
}

static ts_err
op_user_delete(ts_store *s, const char *id)
{
	static const sq_stmt parts[] = {
		ST_USER_DEL_SECRETS, ST_USER_DEL_SESSIONS, ST_USER_DEL_TOTP,
	};
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	if ((r = sq_exec(&k)) != TS_OK ||
	    (r = exec_each(&k, parts, sizeof parts / sizeof parts[0], id)) != TS_OK ||
	    (r = sq_use(&k, ST_USER_DEL)) != TS_OK)
		goto out;
	sq_text(&k, 1, id);
	if ((r = sq_changed(&k)) != TS_OK || (r = sq_use(&k, ST_COMMIT)) != TS_OK)
		goto out;
	r = sq_exec(&k);
out:
	return sq_end(&k, r);
}

static ts_err
op_user_set_email(ts_store *s, const char *id, const char *email, const char *email_norm)
{
	sq_call k;
	ts_err r;

	if (!email_norm || !email_norm[0])
		return TS_E_INVALID;
	if ((r = sq_begin(s, SQ_WRITE, ST_USER_SET_EMAIL, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, id);
	sq_text(&k, 2, email);
	sq_text(&k, 3, email_norm);
	return sq_end(&k, sq_changed(&k));
}

static ts_err
op_apikey_create(ts_store *s, const ts_apikey *x)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_APIKEY_INSERT, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, x->id);
	sq_text(&k, 2, x->tenant_id);
	sq_text(&k, 3, x->name);
	sq_text(&k, 4, x->hash);
	sq_int(&k, 5, x->created_at);
	sq_int(&k, 6, x->revoked_at);
	return sq_end(&k, sq_exec(&k));   /* unknown tenant: FK -> NOT_FOUND */
}

static ts_err
op_apikey_by_hash(ts_store *s, const char *hash, ts_apikey *out)
{
	GET_ONE(s, ST_APIKEY_BY_HASH, hash, out, ts_apikey, row_apikey);
}

static ts_err
op_apikey_list(ts_store *s, const char *tenant_id, ts_apikey_cb cb, void *arg)
{
	ts_apikey x;
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_APIKEY_LIST, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, tenant_id ? tenant_id : "");
	while ((r = sq_row(&k)) == TS_OK) {
		row_apikey(k.st, &x);
		if (cb(arg, &x) != 0)
			break;
	}
	return sq_end(&k, r == TS_E_NOT_FOUND ? TS_OK : r);
}

static ts_err
op_apikey_revoke(ts_store *s, const char *id, int64_t now)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_APIKEY_REVOKE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, id);
	sq_int(&k, 2, now);
	return sq_end(&k, sq_changed(&k));
}

static ts_err
op_audit_append(ts_store *s, const ts_audit_rec *recs, int n)
{
	sq_call k;
	ts_err r;

	if (n <= 0)
		return TS_OK;
	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK)
		return r;
	if ((r = sq_exec(&k)) != TS_OK)
		goto out;
	for (int i = 0; i < n; i++) {
		if ((r = sq_use(&k, ST_AUDIT_INSERT)) != TS_OK)
			goto out;
		sq_int(&k, 1, recs[i].at);
		sq_text(&k, 2, recs[i].event);
		sq_text(&k, 3, recs[i].tenant);
		sq_text(&k, 4, recs[i].user_id);
		sq_text(&k, 5, recs[i].actor);
		sq_text(&k, 6, recs[i].data[0] ? recs[i].data : "{}");
		if ((r = sq_exec(&k)) != TS_OK)
			goto out;
	}
	if ((r = sq_use(&k, ST_COMMIT)) == TS_OK)
		r = sq_exec(&k);
out:
	return sq_end(&k, r);
}

static ts_err
op_audit_list(ts_store *s, const ts_audit_filter *f, ts_audit_cb cb, void *arg)
{
	ts_audit_rec x;
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_AUDIT_LIST, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, f->tenant ? f->tenant : "");
	sq_text(&k, 2, f->user_id ? f->user_id : "");
	sq_text(&k, 3, f->event ? f->event : "");
	sq_int(&k, 4, f->after);
	sq_int(&k, 5, f->before_seq);
	sq_int(&k, 6, f->limit);
	while ((r = sq_row(&k)) == TS_OK) {
		row_audit(k.st, &x);
		if (cb(arg, &x) != 0)
			break;
	}
	return sq_end(&k, r == TS_E_NOT_FOUND ? TS_OK : r);
}

/* ---- ops: OpenID Connect clients (issue 11) ------------------------- */

static void
row_client(sqlite3_stmt *st, ts_oidc_client *x)
{
	memset(x, 0, sizeof *x);
	sq_col_text(st, 0, SQ_BUF(x, id));
	sq_col_text(st, 1, SQ_BUF(x, tenant_id));
	sq_col_text(st, 2, SQ_BUF(x, name));
	sq_col_text(st, 3, SQ_BUF(x, secret_hash));
	sq_col_text(st, 4, SQ_BUF(x, redirect_uris));
	sq_col_text(st, 5, SQ_BUF(x, post_logout_uris));
	sq_col_text(st, 6, SQ_BUF(x, grant_types));
	sq_col_text(st, 7, SQ_BUF(x, scopes));
	x->first_party = sqlite3_column_int(st, 8);
	x->access_ttl = sqlite3_column_int64(st, 9);
	x->refresh_ttl = sqlite3_column_int64(st, 10);
	x->id_ttl = sqlite3_column_int64(st, 11);
	x->created_at = sqlite3_column_int64(st, 12);
}

static ts_err
op_client_create(ts_store *s, const ts_oidc_client *x)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_CLIENT_INSERT, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, x->id);
	sq_text(&k, 2, x->tenant_id);
	sq_text(&k, 3, x->name);
	sq_text(&k, 4, x->secret_hash);
	sq_text(&k, 5, x->redirect_uris);
	sq_text(&k, 6, x->post_logout_uris);
	sq_text(&k, 7, x->grant_types);
	sq_text(&k, 8, x->scopes);
	sq_int(&k, 9, x->first_party);
	sq_int(&k, 10, x->access_ttl);
	sq_int(&k, 11, x->refresh_ttl);
	sq_int(&k, 12, x->id_ttl);
	sq_int(&k, 13, x->created_at);
	return sq_end(&k, sq_exec(&k));   /* unknown tenant: FK -> NOT_FOUND */
}

static ts_err
op_client_get(ts_store *s, const char *id, ts_oidc_client *out)
{
	GET_ONE(s, ST_CLIENT_GET, id, out, ts_oidc_client, row_client);
}

static ts_err
op_client_list(ts_store *s, const char *tenant_id, ts_oidc_client_cb cb, void *arg)
{
	ts_oidc_client x;
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_READ, ST_CLIENT_LIST, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, tenant_id);
	while ((r = sq_row(&k)) == TS_OK) {
		row_client(k.st, &x);
		if (cb(arg, &x) != 0)
			break;
	}
	return sq_end(&k, r == TS_E_NOT_FOUND ? TS_OK : r);
}

static ts_err
op_client_update(ts_store *s, const ts_oidc_client *x)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_CLIENT_UPDATE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, x->id);
	sq_text(&k, 2, x->tenant_id);
	sq_text(&k, 3, x->name);
	sq_text(&k, 4, x->redirect_uris);
	sq_text(&k, 5, x->post_logout_uris);
	sq_text(&k, 6, x->grant_types);
	sq_text(&k, 7, x->scopes);
	sq_int(&k, 8, x->first_party);
	sq_int(&k, 9, x->access_ttl);
	sq_int(&k, 10, x->refresh_ttl);
	sq_int(&k, 11, x->id_ttl);
	return sq_end(&k, sq_changed(&k));
}

static ts_err
op_client_delete(ts_store *s, const char *tenant_id, const char *id)
{
	sq_call k;
	ts_err r;

	if ((r = sq_begin(s, SQ_WRITE, ST_CLIENT_DELETE, &k)) != TS_OK)
		return r;
	sq_text(&k, 1, tenant_id);
	sq_text(&k, 2, id);
	return sq_end(&k, sq_changed(&k));
}

const ts_store_ops ts_store_sqlite = {
	.scheme = "sqlite",
	.remote = 0,
	.open = sq_store_open,
	.close = sq_store_close,
	.ping = op_ping,
	.location = op_location,
	.schema_status = op_schema_status,
	.tenant_create = op_tenant_create,
	.tenant_create_with_domains = op_tenant_create_with_domains,
	.tenant_add_domain = op_tenant_add_domain,
	.tenant_remove_domain = op_tenant_remove_domain,
	.tenant_by_slug = op_tenant_by_slug,
	.tenant_by_domain = op_tenant_by_domain,
	.tenant_by_id = op_tenant_by_id,
	.tenant_list = op_tenant_list,
	.user_create = op_user_create,
	.user_by_email = op_user_by_email,
	.user_by_id = op_user_by_id,
	.user_set_password = op_user_set_password,
	.user_set_flags = op_user_set_flags,
	.user_create_many = op_user_create_many,
	.user_page = op_user_page,
	.session_create = op_session_create,
	.session_principal = op_session_principal,
	.session_revoke = op_session_revoke,
	.session_set_amr = op_session_set_amr,
	.user_sessions_revoke = op_user_sessions_revoke,
	.secret_put = op_secret_put,
	.secret_get = op_secret_get,
	.secret_principal = op_secret_principal,
	.secret_consume = op_secret_consume,
	.secret_rotate = op_secret_rotate,
	.secret_attempt = op_secret_attempt,
	.secret_replace = op_secret_replace,
	.key_add = op_key_add,
	.key_retire_others = op_key_retire_others,
	.key_list = op_key_list,
	.key_revoke = op_key_revoke,
	.key_version = op_key_version,
	.factor_put = op_factor_put,
	.factor_replace = op_factor_replace,
	.factor_get = op_factor_get,
	.factor_find = op_factor_find,
	.factor_list = op_factor_list,
	.factor_delete = op_factor_delete,
	.factor_advance = op_factor_advance,
	.factor_set_data = op_factor_set_data,
	.factor_touch = op_factor_touch,
	.tenant_set_mfa = op_tenant_set_mfa,
	.totp_put = op_totp_put,
	.totp_get = op_totp_get,
	.totp_confirm = op_totp_confirm,
	.totp_use_step = op_totp_use_step,
	.totp_delete = op_totp_delete,
	.totp_list = op_totp_list,
	.totp_set_secret = op_totp_set_secret,
	.key_set_private = op_key_set_private,
	.tenant_domains = op_tenant_domains,
	.lock_get = op_lock_get,
	.lock_fail = op_lock_fail,
	.lock_clear = op_lock_clear,
	.lock_list = op_lock_list,
	.user_set_password_revoke = op_user_set_password_revoke,
	.tenant_add_origin = op_tenant_add_origin,
	.tenant_remove_origin = op_tenant_remove_origin,
	.tenant_origin_allowed = op_tenant_origin_allowed,
	.bucket_take = op_bucket_take,
	.bucket_give = op_bucket_give,
	.sweep_lease = op_sweep_lease,
	.sweep = op_sweep,
	.backup = sq_op_backup,
	.restore = sq_op_restore,
	.user_sessions_list = op_user_sessions_list,
	.mail_put = op_mail_put,
	.mail_claim = op_mail_claim,
	.mail_delete = op_mail_delete,
	.tenant_update = op_tenant_update,
	.tenant_delete = op_tenant_delete,
	.user_scan = op_user_scan,
	.user_delete = op_user_delete,
	.user_set_email = op_user_set_email,
	.apikey_create = op_apikey_create,
	.apikey_by_hash = op_apikey_by_hash,
	.apikey_list = op_apikey_list,
	.apikey_revoke = op_apikey_revoke,
	.audit_append = op_audit_append,
	.audit_list = op_audit_list,
	.client_create = op_client_create,
	.client_get = op_client_get,
	.client_list = op_client_list,
	.client_update = op_client_update,
	.client_delete = op_client_delete,
};
