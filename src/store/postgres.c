/* The PostgreSQL store: one small function per op of ts_store_ops, with
 * the same semantics as sqlite.c (store.h is the contract). The SQL is in
 * pg_internal.h (PG_STATEMENTS), the pool and error mapping in pg_pool.c,
 * the schema in pg_schema.c.
 *
 * Atomicity: a counter or single-use guard is one guarded statement
 * (UPDATE ... WHERE ... RETURNING, INSERT ... ON CONFLICT): PostgreSQL's row
 * lock serialises concurrent writers of a row and READ COMMITTED re-checks
 * the WHERE after waiting, so exactly one wins. Multi-statement ops run in
 * one transaction on one borrowed connection. */
#include <stdlib.h>
#include <string.h>
#include "store/pg_internal.h"

#define PG_BUF(rec, f) (rec)->f, sizeof (rec)->f

/* ---- rows ----------------------------------------------------------- */

static void
row_tenant(const PGresult *r, int i, int c0, ts_tenant *t)
{
	memset(t, 0, sizeof *t);
	pg_col_text(r, i, c0 + 0, PG_BUF(t, id));
	pg_col_text(r, i, c0 + 1, PG_BUF(t, slug));
	t->mfa_required = (int)pg_col_int(r, i, c0 + 2);
	t->created_at = pg_col_int(r, i, c0 + 3);
	t->registration_open = (int)pg_col_int(r, i, c0 + 4);
	t->password_min_length = (int)pg_col_int(r, i, c0 + 5);
	t->mfa_factors = (unsigned)pg_col_int(r, i, c0 + 6);
	pg_col_text(r, i, c0 + 7, PG_BUF(t, name));
}

static void
row_user(const PGresult *r, int i, int c0, ts_user *u)
{
	memset(u, 0, sizeof *u);
	pg_col_text(r, i, c0 + 0, PG_BUF(u, id));
	pg_col_text(r, i, c0 + 1, PG_BUF(u, tenant_id));
	pg_col_text(r, i, c0 + 2, PG_BUF(u, email));
	pg_col_text(r, i, c0 + 3, PG_BUF(u, password_hash));
	u->is_verified = (int)pg_col_int(r, i, c0 + 4);
	u->is_admin = (int)pg_col_int(r, i, c0 + 5);
	u->is_disabled = (int)pg_col_int(r, i, c0 + 6);
	u->failed_logins = (int)pg_col_int(r, i, c0 + 7);
	u->locked_until = pg_col_int(r, i, c0 + 8);
	u->created_at = pg_col_int(r, i, c0 + 9);
	pg_col_text(r, i, c0 + 10, PG_BUF(u, email_norm));
}

static void
row_session(const PGresult *r, int i, int c0, ts_session *x)
{
	memset(x, 0, sizeof *x);
	pg_col_text(r, i, c0 + 0, PG_BUF(x, id));
	pg_col_text(r, i, c0 + 1, PG_BUF(x, tenant_id));
	pg_col_text(r, i, c0 + 2, PG_BUF(x, user_id));
	x->kind = (int)pg_col_int(r, i, c0 + 3);
	pg_col_text(r, i, c0 + 4, PG_BUF(x, amr));
	x->created_at = pg_col_int(r, i, c0 + 5);
	x->expires_at = pg_col_int(r, i, c0 + 6);
	x->revoked_at = pg_col_int(r, i, c0 + 7);
}

static void
row_secret(const PGresult *r, int i, ts_secret *x)
{
	memset(x, 0, sizeof *x);
	x->kind = (int)pg_col_int(r, i, 0);
	pg_col_text(r, i, 1, PG_BUF(x, hash));
	pg_col_text(r, i, 2, PG_BUF(x, tenant_id));
	pg_col_text(r, i, 3, PG_BUF(x, user_id));
	pg_col_text(r, i, 4, PG_BUF(x, session_id));
	pg_col_text(r, i, 5, PG_BUF(x, data));
	x->created_at = pg_col_int(r, i, 6);
	x->expires_at = pg_col_int(r, i, 7);
	x->used_at = pg_col_int(r, i, 8);
}

static void
row_totp(const PGresult *r, int i, ts_totp *x)
{
	memset(x, 0, sizeof *x);
	pg_col_text(r, i, 0, PG_BUF(x, user_id));
	pg_col_text(r, i, 1, PG_BUF(x, secret_b32));
	x->confirmed = (int)pg_col_int(r, i, 2);
	x->last_step = pg_col_int(r, i, 3);
	x->created_at = pg_col_int(r, i, 4);
}

static void
row_factor(const PGresult *r, int i, ts_factor *x)
{
	memset(x, 0, sizeof *x);
	pg_col_text(r, i, 0, PG_BUF(x, id));
	pg_col_text(r, i, 1, PG_BUF(x, tenant_id));
	pg_col_text(r, i, 2, PG_BUF(x, user_id));
	x->kind = (int)pg_col_int(r, i, 3);
	pg_col_text(r, i, 4, PG_BUF(x, name));
	pg_col_text(r, i, 5, PG_BUF(x, lookup));
	pg_col_text(r, i, 6, PG_BUF(x, data));
	x->confirmed = (int)pg_col_int(r, i, 7);
	x->counter = pg_col_int(r, i, 8);
	x->created_at = pg_col_int(r, i, 9);
	x->last_used_at = pg_col_int(r, i, 10);
}

static void
row_lock(const PGresult *r, int i, ts_lock *x)
{
	memset(x, 0, sizeof *x);
	pg_col_text(r, i, 0, PG_BUF(x, key));
	pg_col_text(r, i, 1, PG_BUF(x, tenant_id));
	pg_col_text(r, i, 2, PG_BUF(x, email));
	x->failures = (int)pg_col_int(r, i, 3);
	x->locked_until = pg_col_int(r, i, 4);
	x->updated_at = pg_col_int(r, i, 5);
}

/* ---- shapes every op is one of -------------------------------------- */

/* Runs st with a; TS_OK, or the error. */
static ts_err
run(ts_store *s, pg_stmt st, const pg_args *a)
{
	pg_call k;
	ts_err r;

	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	return pg_end(&k, pg_run(&k, st, a));
}

/* As run, NOT_FOUND when no row changed. */
static ts_err
change(ts_store *s, pg_stmt st, const pg_args *a)
{
	pg_call k;
	ts_err r;

	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, st, a)) == TS_OK && pg_changed(&k) == 0)
		r = TS_E_NOT_FOUND;
	return pg_end(&k, r);
}

/* Runs st and hands its whole result to the caller (who PQclears it),
 * with the connection already back in the pool: a list op's callback then
 * holds no connection, so it may not starve the pool or deadlock on it. */
static ts_err
fetch_all(ts_store *s, pg_stmt st, const pg_args *a, PGresult **res)
{
	pg_call k;
	ts_err r;

	*res = NULL;
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, st, a)) != TS_OK)
		return pg_end(&k, r);
	*res = k.res;
	k.res = NULL;
	return pg_end(&k, TS_OK);
}

static ts_err
change1(ts_store *s, pg_stmt st, const char *key)
{
	pg_args a = { 0 };

	pg_arg_text(&a, key);
	return change(s, st, &a);
}

/* A one-row read by one text key: fill(res, out) on a row. Through a
 * copy, so key may point into out. */
#define GET_ONE(s, st, key, out, type, fill)                                \
	do {                                                                \
		pg_args a_ = { 0 };                                         \
		type tmp_;                                                  \
		pg_call k_;                                                 \
		ts_err r_;                                                  \
		pg_arg_text(&a_, key);                                      \
		if ((r_ = pg_begin(s, &k_)) == TS_OK) {                     \
			if ((r_ = pg_run(&k_, st, &a_)) == TS_OK) {         \
				if (pg_rows(&k_) > 0)                       \
					fill;                               \
				else                                        \
					r_ = TS_E_NOT_FOUND;                \
			}                                                   \
			r_ = pg_end(&k_, r_);                               \
		}                                                           \
		if (r_ == TS_OK)                                            \
			*(out) = tmp_;                                      \
		else                                                        \
			memset(out, 0, sizeof *(out));                      \
		return r_;                                                  \
	} while (0)

/* ---- liveness ------------------------------------------------------- */

static const char *
op_location(ts_store *s)
{
	return ((pg_store *)s)->location;
}

static ts_err
op_ping(ts_store *s)
{
	return run(s, PG_PING, NULL);
}

static ts_err
op_schema_status(ts_store *base, int *current, int *latest)
{
	pg_call k;
	ts_err r;

	*latest = pg_migration_count;
	*current = 0;
	if ((r = pg_begin(base, &k)) != TS_OK)
		return r;
	return pg_end(&k, pg_schema_version(k.s, k.c->db, current));
}

/* ---- tenants -------------------------------------------------------- */

static void
args_tenant(pg_args *a, const ts_tenant *t)
{
	pg_arg_text(a, t->id);
	pg_arg_text(a, t->slug);
	pg_arg_int(a, t->mfa_required != 0);
	pg_arg_int(a, t->created_at);
	pg_arg_int(a, t->registration_open != 0);
	pg_arg_int(a, t->password_min_length);
	pg_arg_int(a, t->mfa_factors);
	pg_arg_text(a, t->name);
}

static ts_err
op_tenant_create(ts_store *s, const ts_tenant *t)
{
	pg_args a = { 0 };

	args_tenant(&a, t);
	return run(s, PG_TENANT_INSERT, &a);
}

static ts_err
op_tenant_create_with_domains(ts_store *s, const ts_tenant *t, const char *const *domains,
                              int ndomains)
{
	pg_args a = { 0 };
	pg_call k;
	ts_err r;

	for (int i = 0; i < ndomains; i++)
		if (!domains[i] || !domains[i][0])
			return TS_E_INVALID;
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	args_tenant(&a, t);
	if ((r = pg_cmd(&k, "BEGIN")) != TS_OK || (r = pg_run(&k, PG_TENANT_INSERT, &a)) != TS_OK)
		goto out;
	for (int i = 0; i < ndomains; i++) {
		pg_args d = { 0 };

		pg_arg_text(&d, domains[i]);
		pg_arg_text(&d, t->id);
		if ((r = pg_run(&k, PG_DOMAIN_INSERT, &d)) != TS_OK)
			goto out;
	}
	r = pg_cmd(&k, "COMMIT");
out:
	r = pg_end(&k, r);                    /* rolls back unless committed */
	ts_hostneg_clear(&((pg_store *)s)->hostneg);   /* after the commit */
	return r;
}

static ts_err
op_tenant_add_domain(ts_store *s, const char *tenant_id, const char *host)
{
	pg_args a = { 0 };
	ts_err r;

	if (!host || !host[0])
		return TS_E_INVALID;
	pg_arg_text(&a, host);
	pg_arg_text(&a, tenant_id);
	r = run(s, PG_DOMAIN_INSERT, &a);     /* unknown tenant: FK -> NOT_FOUND */
	ts_hostneg_clear(&((pg_store *)s)->hostneg);   /* after the commit */
	return r;
}

static ts_err
op_tenant_remove_domain(ts_store *s, const char *tenant_id, const char *host)
{
	pg_args a = { 0 };

	pg_arg_text(&a, host);
	pg_arg_text(&a, tenant_id);
	return change(s, PG_DOMAIN_DELETE, &a);
}

static ts_err
op_tenant_by_slug(ts_store *s, const char *slug, ts_tenant *out)
{
	GET_ONE(s, PG_TENANT_BY_SLUG, slug, out, ts_tenant, row_tenant(k_.res, 0, 0, &tmp_));
}

static ts_err
tenant_by_domain(ts_store *s, const char *host, ts_tenant *out)
{
	GET_ONE(s, PG_TENANT_BY_DOMAIN, host, out, ts_tenant, row_tenant(k_.res, 0, 0, &tmp_));
}

static ts_err
op_tenant_by_domain(ts_store *s, const char *host, ts_tenant *out)
{
	return ts_hostneg_lookup(&((pg_store *)s)->hostneg, s, host, out, tenant_by_domain);
}

static ts_err
op_tenant_by_id(ts_store *s, const char *id, ts_tenant *out)
{
	GET_ONE(s, PG_TENANT_BY_ID, id, out, ts_tenant, row_tenant(k_.res, 0, 0, &tmp_));
}

/* The whole result is fetched, then the connection returned, then cb
 * runs: a callback may call the store without holding a connection. */
static ts_err
op_tenant_list(ts_store *s, ts_tenant_cb cb, void *arg)
{
	PGresult *res;
	ts_tenant t;
	ts_err r;

	if ((r = fetch_all(s, PG_TENANT_LIST, NULL, &res)) != TS_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		row_tenant(res, i, 0, &t);
		if (cb(arg, &t) != 0)
			break;
	}
	PQclear(res);
	return TS_OK;
}

static ts_err
op_tenant_domains(ts_store *s, const char *tenant_id, int (*cb)(void *arg, const char *host),
                  void *arg)
{
	char host[TS_HOST_MAX + 1];
	pg_args a = { 0 };
	PGresult *res;
	ts_err r;

	pg_arg_text(&a, tenant_id);
	if ((r = fetch_all(s, PG_DOMAIN_LIST, &a, &res)) != TS_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		pg_col_text(res, i, 0, host, sizeof host);
		if (cb(arg, host))
			break;
	}
	PQclear(res);
	return TS_OK;
}

/* ---- users ---------------------------------------------------------- */

static void
args_user(pg_args *a, const ts_user *u)
{
	pg_arg_text(a, u->id);
	pg_arg_text(a, u->tenant_id);
	pg_arg_text(a, u->email);
	pg_arg_text(a, u->email_norm);
	pg_arg_text(a, u->password_hash);
	pg_arg_int(a, u->is_verified != 0);
	pg_arg_int(a, u->is_admin != 0);
	pg_arg_int(a, u->is_disabled != 0);
	pg_arg_int(a, u->failed_logins);
	pg_arg_int(a, u->locked_until);
	pg_arg_int(a, u->created_at);
}

/* BEGIN, one INSERT .. ON CONFLICT DO NOTHING per row (prepared, on one
 * connection), COMMIT. */
static ts_err
op_user_create_many(ts_store *s, const ts_user *u, int n, unsigned char *taken, int *created)
{
	pg_call k;
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
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_cmd(&k, "BEGIN")) != TS_OK)
		goto out;
	for (int i = 0; i < n; i++) {
		pg_args a = { 0 };

		args_user(&a, &u[i]);
		if ((r = pg_run(&k, PG_USER_INSERT_NEW, &a)) != TS_OK)
			goto out;              /* FK: NOT_FOUND; id: CONFLICT */
		taken[i] = pg_changed(&k) == 0;
		made += !taken[i];
	}
	if ((r = pg_cmd(&k, "COMMIT")) == TS_OK)
		*created = made;
out:
	return pg_end(&k, r);                 /* rolls back unless committed */
}

static ts_err
op_user_page(ts_store *s, const char *tenant_id, const char *after, ts_user *out, int max,
             int *n)
{
	pg_args a = { 0 };
	pg_call k;
	ts_err r;

	*n = 0;
	if (max <= 0)
		return TS_OK;
	pg_arg_text(&a, tenant_id);
	pg_arg_text(&a, after ? after : "");
	pg_arg_int(&a, max);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, PG_USER_PAGE, &a)) == TS_OK)
		for (int i = 0; i < pg_rows(&k) && i < max; i++)
			row_user(k.res, i, 0, &out[(*n)++]);
	return pg_end(&k, r);
}

static ts_err
op_user_create(ts_store *s, const ts_user *u)
{
	pg_args a = { 0 };

	if (!u->email_norm[0])
		return TS_E_INVALID;
	pg_arg_text(&a, u->id);
	pg_arg_text(&a, u->tenant_id);
	pg_arg_text(&a, u->email);
	pg_arg_text(&a, u->email_norm);
	pg_arg_text(&a, u->password_hash);
	pg_arg_int(&a, u->is_verified != 0);
	pg_arg_int(&a, u->is_admin != 0);
	pg_arg_int(&a, u->is_disabled != 0);
	pg_arg_int(&a, u->failed_logins);
	pg_arg_int(&a, u->locked_until);
	pg_arg_int(&a, u->created_at);
	return run(s, PG_USER_INSERT, &a);    /* unknown tenant: FK -> NOT_FOUND */
}

static ts_err
op_user_by_email(ts_store *s, const char *tenant_id, const char *email_norm, ts_user *out)
{
	pg_args a = { 0 };
	ts_user tmp;
	pg_call k;
	ts_err r;

	pg_arg_text(&a, tenant_id);
	pg_arg_text(&a, email_norm);
	if ((r = pg_begin(s, &k)) == TS_OK) {
		if ((r = pg_run(&k, PG_USER_BY_EMAIL, &a)) == TS_OK) {
			if (pg_rows(&k) > 0)
				row_user(k.res, 0, 0, &tmp);
			else
				r = TS_E_NOT_FOUND;
		}
		r = pg_end(&k, r);
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
	GET_ONE(s, PG_USER_BY_ID, id, out, ts_user, row_user(k_.res, 0, 0, &tmp_));
}

static ts_err
op_user_set_password(ts_store *s, const char *id, const char *phc)
{
	pg_args a = { 0 };

	pg_arg_text(&a, id);
	pg_arg_text(&a, phc ? phc : "");
	return change(s, PG_USER_SET_PASSWORD, &a);
}

static ts_err
op_user_set_flags(ts_store *s, const char *id, int is_verified, int is_admin, int is_disabled)
{
	pg_args a = { 0 };

	pg_arg_text(&a, id);
	pg_arg_int(&a, is_verified != 0);
	pg_arg_int(&a, is_admin != 0);
	pg_arg_int(&a, is_disabled != 0);
	return change(s, PG_USER_SET_FLAGS, &a);
}

static ts_err
op_user_set_password_revoke(ts_store *s, const char *id, const char *phc,
                            const char *keep_session, int64_t now, int *n)
{
	pg_args p = { 0 }, a = { 0 };
	pg_call k;
	ts_err r;
	int ended = 0;

	*n = 0;
	pg_arg_text(&p, id);
	pg_arg_text(&p, phc ? phc : "");
	pg_arg_text(&a, id);
	pg_arg_int(&a, now);
	pg_arg_text(&a, keep_session ? keep_session : "");
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_cmd(&k, "BEGIN")) != TS_OK || (r = pg_run(&k, PG_USER_SET_PASSWORD, &p)) != TS_OK)
		goto out;
	if (pg_changed(&k) == 0) {
		r = TS_E_NOT_FOUND;
		goto out;
	}
	if ((r = pg_run(&k, PG_USER_KILL_OTHER_SECRETS, &a)) != TS_OK ||
	    (r = pg_run(&k, PG_USER_REVOKE_OTHER_SESSIONS, &a)) != TS_OK)
		goto out;
	ended = pg_changed(&k);
	if ((r = pg_cmd(&k, "COMMIT")) == TS_OK)
		*n = ended;
out:
	return pg_end(&k, r);
}

/* ---- tenant origins ------------------------------------------------- */

static ts_err
origin_op(ts_store *s, pg_stmt st, const char *tenant_id, const char *origin)
{
	pg_args a = { 0 };
	pg_call k;
	ts_err r;

	pg_arg_text(&a, tenant_id);
	pg_arg_text(&a, origin);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, st, &a)) == TS_OK) {
		if (st == PG_ORIGIN_GET && pg_rows(&k) == 0)
			r = TS_E_NOT_FOUND;
		else if (st == PG_ORIGIN_DELETE && pg_changed(&k) == 0)
			r = TS_E_NOT_FOUND;
	}
	return pg_end(&k, r);
}

static ts_err
op_tenant_add_origin(ts_store *s, const char *tenant_id, const char *origin)
{
	return origin_op(s, PG_ORIGIN_INSERT, tenant_id, origin);
}

static ts_err
op_tenant_remove_origin(ts_store *s, const char *tenant_id, const char *origin)
{
	return origin_op(s, PG_ORIGIN_DELETE, tenant_id, origin);
}

static ts_err
op_tenant_origin_allowed(ts_store *s, const char *tenant_id, const char *origin)
{
	return origin_op(s, PG_ORIGIN_GET, tenant_id, origin);
}

/* ---- sessions ------------------------------------------------------- */

static ts_err
op_session_create(ts_store *s, const ts_session *x)
{
	pg_args a = { 0 };

	pg_arg_text(&a, x->id);
	pg_arg_text(&a, x->tenant_id);
	pg_arg_text(&a, x->user_id);
	pg_arg_int(&a, x->kind);
	pg_arg_text(&a, x->amr);
	pg_arg_int(&a, x->created_at);
	pg_arg_int(&a, x->expires_at);
	pg_arg_int(&a, x->revoked_at);
	pg_arg_int(&a, x->last_used_at ? x->last_used_at : x->created_at);
	pg_arg_text(&a, x->ip);
	pg_arg_text(&a, x->user_agent);
	return run(s, PG_SESSION_INSERT, &a);
}

static ts_err
op_session_principal(ts_store *s, const char *id, ts_session *sess, ts_user *u, ts_tenant *t)
{
	pg_args a = { 0 };
	ts_session x;
	pg_call k;
	ts_err r;

	pg_arg_text(&a, id);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, PG_SESSION_PRINCIPAL, &a)) == TS_OK) {
		if (pg_rows(&k) > 0) {
			row_session(k.res, 0, 0, &x);
			row_user(k.res, 0, 8, u);
			row_tenant(k.res, 0, 19, t);
		} else {
			r = TS_E_NOT_FOUND;
		}
	}
	r = pg_end(&k, r);
	if (r == TS_OK)
		*sess = x;                     /* late: id may point into *sess */
	return r;
}

static ts_err
op_secret_principal(ts_store *s, int kind, const char *hash, ts_secret *out, ts_session *sess,
                    ts_user *u, ts_tenant *t)
{
	pg_args a = { 0 };
	ts_secret x;
	ts_session y;
	pg_call k;
	ts_err r;

	pg_arg_int(&a, kind);
	pg_arg_text(&a, hash);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, PG_SECRET_PRINCIPAL, &a)) == TS_OK) {
		if (pg_rows(&k) == 0) {
			r = TS_E_NOT_FOUND;
		} else {
			/* Through copies: hash may point into *out. */
			row_secret(k.res, 0, &x);
			if (!PQgetisnull(k.res, 0, 28)) {
				row_session(k.res, 0, 9, &y);
				row_user(k.res, 0, 17, u);
				row_tenant(k.res, 0, 28, t);
			} else {
				memset(&y, 0, sizeof y);
				memset(u, 0, sizeof *u);
				memset(t, 0, sizeof *t);
			}
		}
	}
	r = pg_end(&k, r);
	if (r == TS_OK) {
		*out = x;
		*sess = y;
	}
	return r;
}

static ts_err
op_session_set_amr(ts_store *s, const char *id, const char *amr)
{
	pg_args a = { 0 };

	pg_arg_text(&a, id);
	pg_arg_text(&a, amr);
	return change(s, PG_SESSION_SET_AMR, &a);
}

static ts_err
op_session_revoke(ts_store *s, const char *id, int64_t now)
{
	pg_args a = { 0 }, e = { 0 };
	pg_call k;
	ts_err r;

	pg_arg_text(&a, id);
	pg_arg_int(&a, now);
	pg_arg_text(&e, id);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_cmd(&k, "BEGIN")) != TS_OK || (r = pg_run(&k, PG_SESSION_REVOKE, &a)) != TS_OK)
		goto out;
	/* Already revoked keeps its earlier time, and still kills secrets. */
	if (pg_changed(&k) == 0) {
		if ((r = pg_run(&k, PG_SESSION_EXISTS, &e)) != TS_OK)
			goto out;
		if (pg_rows(&k) == 0) {
			r = TS_E_NOT_FOUND;
			goto out;
		}
	}
	if ((r = pg_run(&k, PG_SESSION_KILL_SECRETS, &a)) == TS_OK)
		r = pg_cmd(&k, "COMMIT");
out:
	return pg_end(&k, r);
}

static ts_err
op_user_sessions_revoke(ts_store *s, const char *user_id, int64_t now, int *n)
{
	pg_args a = { 0 };
	pg_call k;
	ts_err r;
	int ended = 0;

	*n = 0;
	pg_arg_text(&a, user_id);
	pg_arg_int(&a, now);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	/* Secrets first: the subquery picks sessions that are still live. */
	if ((r = pg_cmd(&k, "BEGIN")) != TS_OK || (r = pg_run(&k, PG_USER_KILL_SECRETS, &a)) != TS_OK ||
	    (r = pg_run(&k, PG_USER_REVOKE_SESSIONS, &a)) != TS_OK)
		goto out;
	ended = pg_changed(&k);
	if ((r = pg_cmd(&k, "COMMIT")) == TS_OK)
		*n = ended;
out:
	return pg_end(&k, r);
}

/* ---- secrets -------------------------------------------------------- */

static void
args_secret(pg_args *a, const ts_secret *x)
{
	pg_arg_int(a, x->kind);
	pg_arg_text(a, x->hash);
	pg_arg_text(a, x->tenant_id);
	pg_arg_text(a, x->user_id);
	pg_arg_text(a, x->session_id);
	pg_arg_text(a, x->data);
	pg_arg_int(a, x->created_at);
	pg_arg_int(a, x->expires_at);
	pg_arg_int(a, x->used_at);
}

static ts_err
op_secret_put(ts_store *s, const ts_secret *x)
{
	pg_args a = { 0 };

	args_secret(&a, x);
	return run(s, PG_SECRET_INSERT, &a);
}

static ts_err
op_secret_replace(ts_store *s, const ts_secret *x)
{
	pg_args a = { 0 };

	args_secret(&a, x);
	return run(s, PG_SECRET_REPLACE, &a);
}

static ts_err
op_secret_get(ts_store *s, int kind, const char *hash, ts_secret *out)
{
	pg_args a = { 0 };
	ts_secret tmp;
	pg_call k;
	ts_err r;

	pg_arg_int(&a, kind);
	pg_arg_text(&a, hash);
	if ((r = pg_begin(s, &k)) == TS_OK) {
		if ((r = pg_run(&k, PG_SECRET_GET, &a)) == TS_OK) {
			if (pg_rows(&k) > 0)
				row_secret(k.res, 0, &tmp);
			else
				r = TS_E_NOT_FOUND;
		}
		r = pg_end(&k, r);
	}
	if (r == TS_OK)
		*out = tmp;
	else
		memset(out, 0, sizeof *out);
	return r;
}

/* The guarded UPDATE; when it matched nothing, a read tells absent from
 * spent (and by whom, for the caller's revocation). */
static ts_err
consume(pg_call *k, int kind, const char *hash, int64_t now, ts_secret *tmp)
{
	pg_args a = { 0 }, g = { 0 };
	ts_err r;

	pg_arg_int(&a, kind);
	pg_arg_text(&a, hash);
	pg_arg_int(&a, now);
	if ((r = pg_run(k, PG_SECRET_CONSUME, &a)) != TS_OK)
		return r;
	if (pg_rows(k) > 0) {
		row_secret(k->res, 0, tmp);
		return TS_OK;
	}
	pg_arg_int(&g, kind);
	pg_arg_text(&g, hash);
	if ((r = pg_run(k, PG_SECRET_GET, &g)) != TS_OK)
		return r;
	if (pg_rows(k) == 0)
		return TS_E_NOT_FOUND;
	row_secret(k->res, 0, tmp);
	return TS_E_TOKEN_REUSED;
}

static ts_err
op_secret_consume(ts_store *s, int kind, const char *hash, int64_t now, ts_secret *out)
{
	ts_secret tmp;
	pg_call k;
	ts_err r;

	if ((r = pg_begin(s, &k)) == TS_OK)
		r = pg_end(&k, consume(&k, kind, hash, now, &tmp));
	if (r == TS_OK || r == TS_E_TOKEN_REUSED)
		*out = tmp;
	else
		memset(out, 0, sizeof *out);
	return r;
}

/* One round trip in its own (implicit) transaction; see PG_SECRET_ROTATE. */
static ts_err
op_secret_rotate(ts_store *s, int kind, const char *old_hash, int64_t now, const char *new_hash,
                 int64_t new_expires, ts_secret *out)
{
	ts_secret tmp;
	pg_args a = { 0 }, g = { 0 };
	pg_call k;
	ts_err r;

	memset(&tmp, 0, sizeof tmp);
	if ((r = pg_begin(s, &k)) != TS_OK) {
		memset(out, 0, sizeof *out);
		return r;
	}
	pg_arg_int(&a, kind);
	pg_arg_text(&a, old_hash);
	pg_arg_int(&a, now);
	pg_arg_text(&a, new_hash);
	pg_arg_int(&a, new_expires);
	if ((r = pg_run(&k, PG_SECRET_ROTATE, &a)) != TS_OK)
		goto out;
	if (pg_rows(&k) > 0) {
		row_secret(k.res, 0, &tmp);
		goto out;
	}
	/* Nothing spent: absent, or used before (the row tells by whom). */
	pg_arg_int(&g, kind);
	pg_arg_text(&g, old_hash);
	if ((r = pg_run(&k, PG_SECRET_GET, &g)) != TS_OK)
		goto out;
	if (pg_rows(&k) == 0) {
		r = TS_E_NOT_FOUND;
		goto out;
	}
	row_secret(k.res, 0, &tmp);
	r = TS_E_TOKEN_REUSED;
out:
	r = pg_end(&k, r);
	if (r == TS_OK || r == TS_E_TOKEN_REUSED)
		*out = tmp;                   /* late, so old_hash may alias out */
	else
		memset(out, 0, sizeof *out);
	return r;
}

static ts_err
op_secret_attempt(ts_store *s, int kind, const char *hash, int max, int *n)
{
	pg_args a = { 0 };
	pg_call k;
	ts_err r;

	*n = 0;
	pg_arg_int(&a, kind);
	pg_arg_text(&a, hash);
	pg_arg_int(&a, max);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, PG_SECRET_ATTEMPT, &a)) == TS_OK) {
		if (pg_rows(&k) > 0)
			*n = (int)pg_col_int(k.res, 0, 0);
		else
			r = TS_E_NOT_FOUND;
	}
	return pg_end(&k, r);
}

/* ---- the account life cycle ------------------------------------------ */

static ts_err
op_user_sessions_list(ts_store *s, const char *user_id, int64_t now, ts_session_cb cb,
                      void *arg)
{
	pg_args a = { 0 };
	PGresult *res;
	ts_session x;
	ts_err r;

	pg_arg_text(&a, user_id);
	pg_arg_int(&a, now);
	if ((r = fetch_all(s, PG_USER_SESSIONS, &a, &res)) != TS_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		row_session(res, i, 0, &x);
		x.last_used_at = pg_col_int(res, i, 8);
		pg_col_text(res, i, 9, PG_BUF(&x, ip));
		pg_col_text(res, i, 10, PG_BUF(&x, user_agent));
		if (cb(arg, &x) != 0)
			break;
	}
	PQclear(res);
	return TS_OK;
}

static void
args_mail(pg_args *a, const ts_mail *m)
{
	pg_arg_text(a, m->id);
	pg_arg_text(a, m->tenant_id);
	pg_arg_text(a, m->user_id);
	pg_arg_int(a, m->kind);
	pg_arg_text(a, m->to);
	pg_arg_text(a, m->data);
	pg_arg_int(a, m->created_at);
	pg_arg_int(a, m->next_attempt);
	pg_arg_int(a, m->attempts);
}

/* One transaction: the mail and the secrets it carries exist together or
 * not at all. */
static ts_err
op_mail_put(ts_store *s, const ts_mail *m, const ts_secret *token, const ts_secret *code)
{
	pg_args a;
	pg_call k;
	ts_err r;

	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_cmd(&k, "BEGIN")) != TS_OK)
		goto out;
	if (token) {
		memset(&a, 0, sizeof a);
		pg_arg_int(&a, token->kind);
		pg_arg_text(&a, token->user_id);
		pg_arg_int(&a, token->created_at);
		if ((r = pg_run(&k, PG_VOID_USER_SECRETS, &a)) != TS_OK)
			goto out;
		memset(&a, 0, sizeof a);
		args_secret(&a, token);
		if ((r = pg_run(&k, PG_SECRET_INSERT, &a)) != TS_OK)
			goto out;
	}
	if (code) {
		memset(&a, 0, sizeof a);
		args_secret(&a, code);
		if ((r = pg_run(&k, PG_SECRET_REPLACE, &a)) != TS_OK)
			goto out;
	}
	memset(&a, 0, sizeof a);
	args_mail(&a, m);
	if ((r = pg_run(&k, PG_MAIL_INSERT, &a)) == TS_OK)
		r = pg_cmd(&k, "COMMIT");
out:
	return pg_end(&k, r);                 /* rolls back unless committed */
}

static ts_err
op_mail_claim(ts_store *s, int64_t now, int64_t delay, int max, ts_mail *out, int *n)
{
	pg_args a = { 0 };
	pg_call k;
	ts_err r;

	*n = 0;
	if (max <= 0)
		return TS_OK;
	pg_arg_int(&a, now);
	pg_arg_int(&a, delay);
	pg_arg_int(&a, max);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, PG_MAIL_CLAIM, &a)) == TS_OK) {
		for (int i = 0; i < pg_rows(&k) && *n < max; i++) {
			ts_mail *m = &out[(*n)++];
			memset(m, 0, sizeof *m);
			pg_col_text(k.res, i, 0, PG_BUF(m, id));
			pg_col_text(k.res, i, 1, PG_BUF(m, tenant_id));
			pg_col_text(k.res, i, 2, PG_BUF(m, user_id));
			m->kind = (int)pg_col_int(k.res, i, 3);
			pg_col_text(k.res, i, 4, PG_BUF(m, to));
			pg_col_text(k.res, i, 5, PG_BUF(m, data));
			m->created_at = pg_col_int(k.res, i, 6);
			m->next_attempt = pg_col_int(k.res, i, 7);
			m->attempts = (int)pg_col_int(k.res, i, 8);
		}
	}
	r = pg_end(&k, r);
	if (r != TS_OK)
		*n = 0;
	return r;
}

static ts_err
op_mail_delete(ts_store *s, const char *id)
{
	return change1(s, PG_MAIL_DELETE, id);
}

/* ---- signing keys --------------------------------------------------- */

static ts_err
op_key_add(ts_store *s, const ts_signing_key *x)
{
	pg_args a = { 0 };

	pg_arg_text(&a, x->kid);
	pg_arg_text(&a, x->alg);
	pg_arg_text(&a, x->private_pem);
	pg_arg_int(&a, x->created_at);
	pg_arg_int(&a, x->retired_at);
	pg_arg_int(&a, x->publish_until);
	pg_arg_int(&a, x->activate_at);
	pg_arg_int(&a, x->revoked_at);
	return run(s, PG_KEY_INSERT, &a);
}

static ts_err
op_key_retire_others(ts_store *s, const char *kid, int64_t at, int64_t publish_until)
{
	pg_args e = { 0 }, a = { 0 };
	pg_call k;
	ts_err r;

	pg_arg_text(&e, kid);
	pg_arg_text(&a, kid);
	pg_arg_int(&a, at);
	pg_arg_int(&a, publish_until);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_cmd(&k, "BEGIN")) != TS_OK || (r = pg_run(&k, PG_KEY_EXISTS, &e)) != TS_OK)
		goto out;
	if (pg_rows(&k) == 0) {
		r = TS_E_NOT_FOUND;
		goto out;
	}
	if ((r = pg_run(&k, PG_KEY_RETIRE_OTHERS, &a)) == TS_OK)
		r = pg_cmd(&k, "COMMIT");
out:
	return pg_end(&k, r);
}

/* Each PEM is copied for the callback and wiped after; the rows are
 * fetched first and the connection returned before any callback runs. */
static ts_err
op_key_list(ts_store *s, ts_key_cb cb, void *arg)
{
	ts_signing_key key;
	PGresult *res;
	ts_err r;
	int stop = 0;

	if ((r = fetch_all(s, PG_KEY_LIST, NULL, &res)) != TS_OK)
		return r;
	for (int i = 0; i < PQntuples(res) && !stop && r == TS_OK; i++) {
		const char *pem = PQgetvalue(res, i, 2);
		size_t len = strlen(pem);

		memset(&key, 0, sizeof key);
		pg_col_text(res, i, 0, PG_BUF(&key, kid));
		pg_col_text(res, i, 1, PG_BUF(&key, alg));
		if (!(key.private_pem = malloc(len + 1))) {
			r = TS_E_NOMEM;
			break;
		}
		memcpy(key.private_pem, pem, len + 1);
		key.created_at = pg_col_int(res, i, 3);
		key.retired_at = pg_col_int(res, i, 4);
		key.publish_until = pg_col_int(res, i, 5);
		key.activate_at = pg_col_int(res, i, 6);
		key.revoked_at = pg_col_int(res, i, 7);
		stop = cb(arg, &key);
		ts_wipe(key.private_pem, len);
		free(key.private_pem);
	}
	/* libpq's copies of the PEMs, too */
	for (int i = 0; i < PQntuples(res); i++)
		ts_wipe(PQgetvalue(res, i, 2), strlen(PQgetvalue(res, i, 2)));
	PQclear(res);
	return r;
}

static ts_err
op_key_revoke(ts_store *s, const char *kid, int64_t now)
{
	pg_args a = { 0 };

	pg_arg_text(&a, kid);
	pg_arg_int(&a, now);
	return change(s, PG_KEY_REVOKE, &a);
}

static ts_err
op_key_version(ts_store *s, int64_t *out)
{
	pg_call k;
	ts_err r;

	*out = 0;
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, PG_KEY_VERSION, NULL)) == TS_OK) {
		if (pg_rows(&k) > 0)
			*out = pg_col_int(k.res, 0, 0);
		else
			r = TS_E_NOT_FOUND;
	}
	return pg_end(&k, r);
}

/* ---- TOTP ----------------------------------------------------------- */

static ts_err
op_totp_put(ts_store *s, const ts_totp *t)
{
	pg_args a = { 0 };
	ts_err r;

	pg_arg_text(&a, t->user_id);
	pg_arg_text(&a, t->secret_b32);
	pg_arg_int(&a, t->confirmed != 0);
	pg_arg_int(&a, t->last_step);
	pg_arg_int(&a, t->created_at);
	char id[TS_ID_SZ];
	ts_uuid4(id);                        /* the row's id; kept by a replacement */
	pg_arg_text(&a, id);
	r = change(s, PG_TOTP_PUT, &a);
	/* Nothing changed: a confirmed factor is in the way. */
	return r == TS_E_NOT_FOUND ? TS_E_CONFLICT : r;
}

static ts_err
op_totp_get(ts_store *s, const char *user_id, ts_totp *out)
{
	GET_ONE(s, PG_TOTP_GET, user_id, out, ts_totp, row_totp(k_.res, 0, &tmp_));
}

/* Every row is read and the connection given back before cb runs, so cb
 * holds no connection of the pool. */
static ts_err
op_totp_list(ts_store *s, ts_totp_cb cb, void *arg)
{
	PGresult *res;
	ts_totp t;
	ts_err r;

	if ((r = fetch_all(s, PG_TOTP_LIST, NULL, &res)) != TS_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		row_totp(res, i, &t);
		int stop = cb(arg, &t);
		explicit_bzero(t.secret_b32, sizeof(t.secret_b32));
		if (stop)
			break;
	}
	PQclear(res);   /* the rows held sealed secrets only */
	return TS_OK;
}

/* Compare-and-set: NOT_FOUND when the row no longer holds old_text. */
static ts_err
op_totp_set_secret(ts_store *s, const char *user_id, const char *old_text, const char *new_text)
{
	pg_args a = { 0 };

	pg_arg_text(&a, user_id);
	pg_arg_text(&a, old_text);
	pg_arg_text(&a, new_text);
	return change(s, PG_TOTP_SET_SECRET, &a);
}

static ts_err
op_key_set_private(ts_store *s, const char *kid, const char *old_text, const char *new_text)
{
	pg_args a = { 0 };

	pg_arg_text(&a, kid);
	pg_arg_text(&a, old_text);
	pg_arg_text(&a, new_text);
	return change(s, PG_KEY_SET_PRIVATE, &a);
}

static ts_err
op_totp_confirm(ts_store *s, const char *user_id)
{
	return change1(s, PG_TOTP_CONFIRM, user_id);
}

/* RFC 6238 §5.2: the same code is never accepted twice. */
static ts_err
op_totp_use_step(ts_store *s, const char *user_id, int64_t step)
{
	pg_args a = { 0 }, e = { 0 };
	pg_call k;
	ts_err r;

	pg_arg_text(&a, user_id);
	pg_arg_int(&a, step);
	pg_arg_text(&e, user_id);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, PG_TOTP_USE_STEP, &a)) == TS_OK && pg_changed(&k) == 0) {
		if ((r = pg_run(&k, PG_TOTP_EXISTS, &e)) == TS_OK)
			r = pg_rows(&k) > 0 ? TS_E_TOKEN_REUSED : TS_E_NOT_FOUND;
	}
	return pg_end(&k, r);
}

static ts_err
op_totp_delete(ts_store *s, const char *user_id)
{
	return change1(s, PG_TOTP_DELETE, user_id);
}

/* ---- factors -------------------------------------------------------- */

static void
args_factor(pg_args *a, const ts_factor *f)
{
	pg_arg_text(a, f->id);
	pg_arg_text(a, f->tenant_id);
	pg_arg_text(a, f->user_id);
	pg_arg_int(a, f->kind);
	pg_arg_text(a, f->name);
	pg_arg_text(a, f->lookup);
	pg_arg_text(a, f->data);
	pg_arg_int(a, f->confirmed != 0);
	pg_arg_int(a, f->counter);
	pg_arg_int(a, f->created_at);
	pg_arg_int(a, f->last_used_at);
}

static ts_err
op_factor_put(ts_store *s, const ts_factor *f)
{
	pg_args a = { 0 };

	args_factor(&a, f);
	return run(s, PG_FACTOR_INSERT, &a);  /* unknown user: FK -> NOT_FOUND */
}

static ts_err
op_factor_replace(ts_store *s, const ts_factor *f)
{
	pg_args a = { 0 }, d = { 0 };
	pg_call k;
	ts_err r;

	args_factor(&a, f);
	pg_arg_text(&d, f->user_id);
	pg_arg_int(&d, f->kind);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_cmd(&k, "BEGIN")) == TS_OK && (r = pg_run(&k, PG_FACTOR_DELETE_KIND, &d)) == TS_OK &&
	    (r = pg_run(&k, PG_FACTOR_INSERT, &a)) == TS_OK)
		r = pg_cmd(&k, "COMMIT");
	return pg_end(&k, r);
}

/* One row of st with a, through a copy (keys may point into out). */
static ts_err
factor_one(ts_store *s, pg_stmt st, const pg_args *a, ts_factor *out)
{
	pg_call k;
	ts_err r;

	if ((r = pg_begin(s, &k)) == TS_OK) {
		if ((r = pg_run(&k, st, a)) == TS_OK) {
			if (pg_rows(&k) > 0) {
				ts_factor tmp;
				row_factor(k.res, 0, &tmp);
				*out = tmp;
			} else {
				r = TS_E_NOT_FOUND;
			}
		}
		r = pg_end(&k, r);
	}
	if (r != TS_OK)
		memset(out, 0, sizeof *out);
	return r;
}

static ts_err
op_factor_get(ts_store *s, const char *user_id, const char *id, ts_factor *out)
{
	pg_args a = { 0 };

	pg_arg_text(&a, id);
	pg_arg_text(&a, user_id);
	return factor_one(s, PG_FACTOR_GET, &a, out);
}

static ts_err
op_factor_find(ts_store *s, const char *tenant_id, int kind, const char *lookup, ts_factor *out)
{
	pg_args a = { 0 };

	pg_arg_text(&a, tenant_id);
	pg_arg_int(&a, kind);
	pg_arg_text(&a, lookup);
	return factor_one(s, PG_FACTOR_FIND, &a, out);
}

static ts_err
op_factor_list(ts_store *s, const char *user_id, int kind, ts_factor_cb cb, void *arg)
{
	pg_args a = { 0 };
	PGresult *res;
	ts_factor *f;
	ts_err r;

	pg_arg_text(&a, user_id);
	pg_arg_int(&a, kind);
	if (!(f = malloc(sizeof *f)))
		return TS_E_NOMEM;
	if ((r = fetch_all(s, PG_FACTOR_LIST, &a, &res)) != TS_OK) {
		free(f);
		return r;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		row_factor(res, i, f);
		int stop = cb(arg, f);
		explicit_bzero(f, sizeof *f);
		if (stop)
			break;
	}
	PQclear(res);
	free(f);
	return TS_OK;
}

static ts_err
op_factor_delete(ts_store *s, const char *user_id, const char *id, unsigned keep_mask)
{
	pg_args a = { 0 }, u = { 0 }, e = { 0 };
	pg_call k;
	ts_err r;

	pg_arg_text(&a, id);
	pg_arg_text(&a, user_id);
	pg_arg_int(&a, keep_mask);
	pg_arg_text(&u, user_id);
	pg_arg_text(&e, id);
	pg_arg_text(&e, user_id);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_cmd(&k, "BEGIN")) != TS_OK || (r = pg_run(&k, PG_FACTOR_LOCK_USER, &u)) != TS_OK ||
	    (r = pg_run(&k, PG_FACTOR_DELETE, &a)) != TS_OK)
		goto out;
	if (pg_changed(&k) == 0) {
		/* Nothing deleted: absent, or the guard kept the last one. */
		if ((r = pg_run(&k, PG_FACTOR_EXISTS, &e)) != TS_OK)
			goto out;
		r = pg_rows(&k) > 0 && keep_mask ? TS_E_CONFLICT : TS_E_NOT_FOUND;
		goto out;
	}
	r = pg_cmd(&k, "COMMIT");
out:
	return pg_end(&k, r);
}

/* The replay rule: the guarded UPDATE takes the row lock, so of two racing
 * uses of one counter value exactly one moves it. */
static ts_err
op_factor_advance(ts_store *s, const char *id, int64_t counter, int64_t now)
{
	pg_args a = { 0 }, e = { 0 };
	pg_call k;
	ts_err r;

	pg_arg_text(&a, id);
	pg_arg_int(&a, counter);
	pg_arg_int(&a, now);
	pg_arg_text(&e, id);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, PG_FACTOR_ADVANCE, &a)) == TS_OK && pg_changed(&k) == 0) {
		if ((r = pg_run(&k, PG_FACTOR_EXISTS_ID, &e)) == TS_OK)
			r = pg_rows(&k) > 0 ? TS_E_TOKEN_REUSED : TS_E_NOT_FOUND;
	}
	return pg_end(&k, r);
}

static ts_err
op_factor_set_data(ts_store *s, const char *id, const char *old_data, const char *new_data,
                   int64_t now)
{
	pg_args a = { 0 };

	pg_arg_text(&a, id);
	pg_arg_text(&a, old_data);
	pg_arg_text(&a, new_data);
	pg_arg_int(&a, now);
	return change(s, PG_FACTOR_SET_DATA, &a);
}

static ts_err
op_factor_touch(ts_store *s, const char *id, int64_t now)
{
	pg_args a = { 0 };

	pg_arg_text(&a, id);
	pg_arg_int(&a, now);
	return change(s, PG_FACTOR_TOUCH, &a);
}

static ts_err
op_tenant_set_mfa(ts_store *s, const char *tenant_id, int mfa_required, unsigned mfa_factors)
{
	pg_args a = { 0 };

	pg_arg_text(&a, tenant_id);
	pg_arg_int(&a, mfa_required != 0);
	pg_arg_int(&a, mfa_factors);
	return change(s, PG_TENANT_SET_MFA, &a);
}

/* ---- account locks -------------------------------------------------- */

static ts_err
op_lock_get(ts_store *s, const char *key, ts_lock *out)
{
	GET_ONE(s, PG_LOCK_GET, key, out, ts_lock, row_lock(k_.res, 0, &tmp_));
}

static ts_err
op_lock_fail(ts_store *s, const char *key, const char *tenant_id, const char *email,
             int64_t now, int lock_after, int64_t lock_secs, ts_lock *out)
{
	pg_args a = { 0 };
	pg_call k;
	ts_err r;

	memset(out, 0, sizeof *out);
	pg_arg_text(&a, key);
	pg_arg_text(&a, tenant_id ? tenant_id : "");
	pg_arg_text(&a, email ? email : "");
	pg_arg_int(&a, now);
	pg_arg_int(&a, lock_after);
	pg_arg_int(&a, lock_secs);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, PG_LOCK_FAIL, &a)) == TS_OK) {
		if (pg_rows(&k) > 0)
			row_lock(k.res, 0, out);
		else
			r = TS_E_INTERNAL;
	}
	return pg_end(&k, r);
}

static ts_err
op_lock_clear(ts_store *s, const char *key)
{
	ts_err r = change1(s, PG_LOCK_CLEAR, key);

	return r == TS_E_NOT_FOUND ? TS_OK : r;
}

static ts_err
op_lock_list(ts_store *s, ts_lock_cb cb, void *arg)
{
	PGresult *res;
	ts_lock l;
	ts_err r;

	if ((r = fetch_all(s, PG_LOCK_LIST, NULL, &res)) != TS_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		row_lock(res, i, &l);
		if (cb(arg, &l))
			break;
	}
	PQclear(res);
	return TS_OK;
}

/* ---- shared state for several nodes, and housekeeping -------------- */

static ts_err
op_bucket_take(ts_store *s, const char *key, int64_t now_ms, double rate, double burst,
               int *wait)
{
	pg_args a = { 0 };
	double tokens = 0;
	int granted = 0;
	pg_call k;
	ts_err r;

	*wait = 0;
	pg_arg_text(&a, key);
	pg_arg_int(&a, now_ms);
	pg_arg_real(&a, rate);
	pg_arg_real(&a, burst);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, PG_BUCKET_TAKE, &a)) == TS_OK) {
		if (pg_rows(&k) == 1) {
			tokens = strtod(PQgetvalue(k.res, 0, 0), NULL);
			granted = (int)pg_col_int(k.res, 0, 1);
		} else {
			r = TS_E_INTERNAL;
		}
	}
	if ((r = pg_end(&k, r)) != TS_OK)
		return r;
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
	pg_args a = { 0 };
	ts_err r;

	pg_arg_text(&a, key);
	pg_arg_int(&a, now_ms);
	pg_arg_real(&a, rate);
	pg_arg_real(&a, burst);
	r = change(s, PG_BUCKET_GIVE, &a);
	return r == TS_E_NOT_FOUND ? TS_OK : r;   /* a missing bucket is full */
}

static ts_err
op_sweep_lease(ts_store *s, const char *node, int64_t now, int64_t ttl, int *held)
{
	pg_args a = { 0 };
	pg_call k;
	ts_err r;

	*held = 0;
	pg_arg_text(&a, node);
	pg_arg_int(&a, now);
	pg_arg_int(&a, ttl);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, PG_SWEEP_LEASE, &a)) == TS_OK)
		*held = pg_rows(&k) == 1;   /* no row: another node's lease */
	return pg_end(&k, r);
}

static ts_err
op_sweep(ts_store *s, ts_sweep_class what, int64_t before, int limit, int *n)
{
	pg_stmt st = PG_SWEEP_SECRETS_EXPIRED;
	pg_args a = { 0 };
	pg_call k;
	ts_err r;

	*n = 0;
	switch (what) {
	case TS_SWEEP_SECRETS_EXPIRED: st = PG_SWEEP_SECRETS_EXPIRED; break;
	case TS_SWEEP_SECRETS_ENDED: st = PG_SWEEP_SECRETS_ENDED; break;
	case TS_SWEEP_SESSIONS_ENDED: st = PG_SWEEP_SESSIONS_ENDED; break;
	case TS_SWEEP_LOCKS: st = PG_SWEEP_LOCKS; break;
	case TS_SWEEP_BUCKETS: st = PG_SWEEP_BUCKETS; break;
	case TS_SWEEP_AUDIT: st = PG_SWEEP_AUDIT; break;
	}
	pg_arg_int(&a, before);
	pg_arg_int(&a, limit);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_run(&k, st, &a)) == TS_OK)
		*n = pg_changed(&k);
	return pg_end(&k, r);
}

/* ---- administration (issue 9) --------------------------------------- */

static void
row_apikey(const PGresult *r, int i, ts_apikey *x)
{
	memset(x, 0, sizeof *x);
	pg_col_text(r, i, 0, PG_BUF(x, id));
	pg_col_text(r, i, 1, PG_BUF(x, tenant_id));
	pg_col_text(r, i, 2, PG_BUF(x, name));
	pg_col_text(r, i, 3, PG_BUF(x, hash));
	x->created_at = pg_col_int(r, i, 4);
	x->revoked_at = pg_col_int(r, i, 5);
}

static void
row_audit(const PGresult *r, int i, ts_audit_rec *x)
{
	memset(x, 0, sizeof *x);
	x->seq = pg_col_int(r, i, 0);
	x->at = pg_col_int(r, i, 1);
	pg_col_text(r, i, 2, PG_BUF(x, event));
	pg_col_text(r, i, 3, PG_BUF(x, tenant));
	pg_col_text(r, i, 4, PG_BUF(x, user_id));
	pg_col_text(r, i, 5, PG_BUF(x, actor));
	pg_col_text(r, i, 6, PG_BUF(x, data));
}

static ts_err
op_tenant_update(ts_store *s, const ts_tenant *t)
{
	pg_args a = { 0 };

	pg_arg_text(&a, t->id);
	pg_arg_text(&a, t->slug);
	pg_arg_text(&a, t->name);
	pg_arg_int(&a, t->mfa_required != 0);
	pg_arg_int(&a, t->registration_open != 0);
	pg_arg_int(&a, t->password_min_length);
	return change(s, PG_TENANT_UPDATE, &a);
}

/* Runs each statement of list with $1 = key, in the open transaction. */
static ts_err
run_each(pg_call *k, const pg_stmt *list, size_t n, const char *key)
{
	pg_args a = { 0 };
	ts_err r = TS_OK;

	pg_arg_text(&a, key);
	for (size_t i = 0; i < n && r == TS_OK; i++)
		r = pg_run(k, list[i], &a);
	return r;
}

static ts_err
op_tenant_delete(ts_store *s, const char *tenant_id, int force)
{
	static const pg_stmt parts[] = {
		PG_TENANT_DEL_SECRETS, PG_TENANT_DEL_SESSIONS, PG_TENANT_DEL_TOTP,
		PG_TENANT_DEL_LOCKS,   PG_TENANT_DEL_APIKEYS,  PG_TENANT_DEL_CLIENTS,
		PG_TENANT_DEL_USERS,
		PG_TENANT_DEL_DOMAINS, PG_TENANT_DEL_ORIGINS,
	};
	pg_args a = { 0 };
	pg_call k;
	ts_err r;

	pg_arg_text(&a, tenant_id);
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_cmd(&k, "BEGIN")) != TS_OK || (r = pg_run(&k, PG_TENANT_HAS_USERS, &a)) != TS_OK)
		goto out;
	if (pg_rows(&k) > 0 && !force) {
		r = TS_E_CONFLICT;
		goto out;
	}
	if ((r = run_each(&k, parts, sizeof parts / sizeof parts[0], tenant_id)) != TS_OK ||
	    (r = pg_run(&k, PG_TENANT_DEL, &a)) != TS_OK)
		goto out;
	if (pg_changed(&k) == 0) {
		r = TS_E_NOT_FOUND;
		goto out;
	}
	r = pg_cmd(&k, "COMMIT");
out:
	return pg_end(&k, r);
}

static ts_err
op_user_scan(ts_store *s, const char *tenant_id, const char *after, int limit, ts_user_cb cb,
             void *arg)
{
	pg_args a = { 0 };
	PGresult *res;
	ts_user u;
	ts_err r;

	pg_arg_text(&a, tenant_id);
	pg_arg_text(&a, after ? after : "");
	pg_arg_int(&a, limit);
	if ((r = fetch_all(s, PG_USER_SCAN, &a, &res)) != TS_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		row_user(res, i, 0, &u);
		if (cb(arg, &u) != 0)
			break;
	}
	memset(&u, 0, sizeof u);
	PQclear(res);
	return TS_OK;
}

static ts_err
op_user_delete(ts_store *s, const char *id)
{
	static const pg_stmt parts[] = {
		PG_USER_DEL_SECRETS, PG_USER_DEL_SESSIONS, PG_USER_DEL_TOTP, PG_USER_DEL,
	};
	pg_call k;
	ts_err r;

	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_cmd(&k, "BEGIN")) != TS_OK ||
	    (r = run_each(&k, parts, sizeof parts / sizeof parts[0], id)) != TS_OK)
		goto out;
	if (pg_changed(&k) == 0) {    /* of the last: the user row */
		r = TS_E_NOT_FOUND;
		goto out;
	}
	r = pg_cmd(&k, "COMMIT");
out:
	return pg_end(&k, r);
}

static ts_err
op_user_set_email(ts_store *s, const char *id, const char *email, const char *email_norm)
{
	pg_args a = { 0 };

	if (!email_norm || !email_norm[0])
		return TS_E_INVALID;
	pg_arg_text(&a, id);
	pg_arg_text(&a, email);
	pg_arg_text(&a, email_norm);
	return change(s, PG_USER_SET_EMAIL, &a);
}

static ts_err
op_apikey_create(ts_store *s, const ts_apikey *x)
{
	pg_args a = { 0 };

	pg_arg_text(&a, x->id);
	pg_arg_text(&a, x->tenant_id);
	pg_arg_text(&a, x->name);
	pg_arg_text(&a, x->hash);
	pg_arg_int(&a, x->created_at);
	pg_arg_int(&a, x->revoked_at);
	return run(s, PG_APIKEY_INSERT, &a);  /* unknown tenant: FK -> NOT_FOUND */
}

static ts_err
op_apikey_by_hash(ts_store *s, const char *hash, ts_apikey *out)
{
	GET_ONE(s, PG_APIKEY_BY_HASH, hash, out, ts_apikey, row_apikey(k_.res, 0, &tmp_));
}

static ts_err
op_apikey_list(ts_store *s, const char *tenant_id, ts_apikey_cb cb, void *arg)
{
	pg_args a = { 0 };
	PGresult *res;
	ts_apikey x;
	ts_err r;

	pg_arg_text(&a, tenant_id ? tenant_id : "");
	if ((r = fetch_all(s, PG_APIKEY_LIST, &a, &res)) != TS_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		row_apikey(res, i, &x);
		if (cb(arg, &x) != 0)
			break;
	}
	PQclear(res);
	return TS_OK;
}

static ts_err
op_apikey_revoke(ts_store *s, const char *id, int64_t now)
{
	pg_args a = { 0 };

	pg_arg_text(&a, id);
	pg_arg_int(&a, now);
	return change(s, PG_APIKEY_REVOKE, &a);
}

static ts_err
op_audit_append(ts_store *s, const ts_audit_rec *recs, int n)
{
	pg_call k;
	ts_err r;

	if (n <= 0)
		return TS_OK;
	if ((r = pg_begin(s, &k)) != TS_OK)
		return r;
	if ((r = pg_cmd(&k, "BEGIN")) != TS_OK)
		goto out;
	for (int i = 0; i < n && r == TS_OK; i++) {
		pg_args a = { 0 };

		pg_arg_int(&a, recs[i].at);
		pg_arg_text(&a, recs[i].event);
		pg_arg_text(&a, recs[i].tenant);
		pg_arg_text(&a, recs[i].user_id);
		pg_arg_text(&a, recs[i].actor);
		pg_arg_text(&a, recs[i].data[0] ? recs[i].data : "{}");
		r = pg_run(&k, PG_AUDIT_INSERT, &a);
	}
	if (r == TS_OK)
		r = pg_cmd(&k, "COMMIT");
out:
	return pg_end(&k, r);
}

static ts_err
op_audit_list(ts_store *s, const ts_audit_filter *f, ts_audit_cb cb, void *arg)
{
	pg_args a = { 0 };
	PGresult *res;
	ts_audit_rec x;
	ts_err r;

	pg_arg_text(&a, f->tenant ? f->tenant : "");
	pg_arg_text(&a, f->user_id ? f->user_id : "");
	pg_arg_text(&a, f->event ? f->event : "");
	pg_arg_int(&a, f->after);
	pg_arg_int(&a, f->before_seq);
	pg_arg_int(&a, f->limit);
	if ((r = fetch_all(s, PG_AUDIT_LIST, &a, &res)) != TS_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		row_audit(res, i, &x);
		if (cb(arg, &x) != 0)
			break;
	}
	PQclear(res);
	return TS_OK;
}

/* ---- OpenID Connect clients (issue 11) ------------------------------ */

static void
row_client(const PGresult *r, int i, ts_oidc_client *x)
{
	memset(x, 0, sizeof *x);
	pg_col_text(r, i, 0, PG_BUF(x, id));
	pg_col_text(r, i, 1, PG_BUF(x, tenant_id));
	pg_col_text(r, i, 2, PG_BUF(x, name));
	pg_col_text(r, i, 3, PG_BUF(x, secret_hash));
	pg_col_text(r, i, 4, PG_BUF(x, redirect_uris));
	pg_col_text(r, i, 5, PG_BUF(x, post_logout_uris));
	pg_col_text(r, i, 6, PG_BUF(x, grant_types));
	pg_col_text(r, i, 7, PG_BUF(x, scopes));
	x->first_party = (int)pg_col_int(r, i, 8);
	x->access_ttl = pg_col_int(r, i, 9);
	x->refresh_ttl = pg_col_int(r, i, 10);
	x->id_ttl = pg_col_int(r, i, 11);
	x->created_at = pg_col_int(r, i, 12);
}

static ts_err
op_client_create(ts_store *s, const ts_oidc_client *x)
{
	pg_args a = { 0 };

	pg_arg_text(&a, x->id);
	pg_arg_text(&a, x->tenant_id);
	pg_arg_text(&a, x->name);
	pg_arg_text(&a, x->secret_hash);
	pg_arg_text(&a, x->redirect_uris);
	pg_arg_text(&a, x->post_logout_uris);
	pg_arg_text(&a, x->grant_types);
	pg_arg_text(&a, x->scopes);
	pg_arg_int(&a, x->first_party);
	pg_arg_int(&a, x->access_ttl);
	pg_arg_int(&a, x->refresh_ttl);
	pg_arg_int(&a, x->id_ttl);
	pg_arg_int(&a, x->created_at);
	return run(s, PG_CLIENT_INSERT, &a);  /* unknown tenant: FK -> NOT_FOUND */
}

static ts_err
op_client_get(ts_store *s, const char *id, ts_oidc_client *out)
{
	GET_ONE(s, PG_CLIENT_GET, id, out, ts_oidc_client, row_client(k_.res, 0, &tmp_));
}

static ts_err
op_client_list(ts_store *s, const char *tenant_id, ts_oidc_client_cb cb, void *arg)
{
	pg_args a = { 0 };
	PGresult *res;
	ts_oidc_client x;
	ts_err r;

	pg_arg_text(&a, tenant_id);
	if ((r = fetch_all(s, PG_CLIENT_LIST, &a, &res)) != TS_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		row_client(res, i, &x);
		if (cb(arg, &x) != 0)
			break;
	}
	PQclear(res);
	return TS_OK;
}

static ts_err
op_client_update(ts_store *s, const ts_oidc_client *x)
{
	pg_args a = { 0 };

	pg_arg_text(&a, x->id);
	pg_arg_text(&a, x->tenant_id);
	pg_arg_text(&a, x->name);
	pg_arg_text(&a, x->redirect_uris);
	pg_arg_text(&a, x->post_logout_uris);
	pg_arg_text(&a, x->grant_types);
	pg_arg_text(&a, x->scopes);
	pg_arg_int(&a, x->first_party);
	pg_arg_int(&a, x->access_ttl);
	pg_arg_int(&a, x->refresh_ttl);
	pg_arg_int(&a, x->id_ttl);
	return change(s, PG_CLIENT_UPDATE, &a);
}

static ts_err
op_client_delete(ts_store *s, const char *tenant_id, const char *id)
{
	pg_args a = { 0 };

	pg_arg_text(&a, tenant_id);
	pg_arg_text(&a, id);
	return change(s, PG_CLIENT_DELETE, &a);
}

const ts_store_ops ts_store_postgres = {
	.scheme = "postgres",
	.remote = 1,
	.alias = "postgresql",
	.whole_url = 1,
	.open = pg_store_open,
	.close = pg_store_close,
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
	.tenant_domains = op_tenant_domains,
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
	.totp_list = op_totp_list,
	.totp_set_secret = op_totp_set_secret,
	.key_set_private = op_key_set_private,
	.totp_confirm = op_totp_confirm,
	.totp_use_step = op_totp_use_step,
	.totp_delete = op_totp_delete,
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
	/* pg_dump / pg_restore (docs/OPERATIONS.md): no file to copy. */
	.backup = NULL,
	.restore = NULL,
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
