/* The administration rules (admin.h), once for the admin API and the
 * command line: who sees which tenant, what a change may set, and the
 * audit row of every change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/account.h"
#include "auth/admin.h"
#include "auth/audit.h"
#include "auth/import.h"
#include "auth/auth_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/hash.h"

ts_err
ts_auth_new_admin(ts_store *store, const ts_pw_cost *c, const char *operator_tenant,
                         ts_auth **out)
{
	ts_auth *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a)
		return TS_E_NOMEM;
	a->store = store;
	a->cfg.pw_cost = *c;
	a->admin_only = 1;
	if (operator_tenant && *operator_tenant && !(a->operator_tenant = strdup(operator_tenant))) {
		free(a);
		return TS_E_NOMEM;
	}
	*out = a;
	return TS_OK;
}

void
ts_actor_cli(ts_actor *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = TS_ACTOR_CLI;
	out->operator = 1;
	ts_strlcpy(out->label, "cli", sizeof(out->label));
}

static int
is_operator(ts_auth *a, const ts_tenant *t)
{
	return a->operator_tenant && strcmp(a->operator_tenant, t->slug) == 0;
}

static ts_err
authorize_key(ts_auth *a, const char *bearer, ts_actor *out)
{
	char hash[TS_HASH_SZ];
	ts_apikey k;
	ts_err r;

	ts_secret_hash(bearer, strlen(bearer), hash);
	if ((r = SOPS(a)->apikey_by_hash(ST(a), hash, &k)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	if (k.revoked_at != 0)
		return TS_E_TOKEN_INVALID;
	if ((r = SOPS(a)->tenant_by_id(ST(a), k.tenant_id, &out->tenant)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	out->kind = TS_ACTOR_APIKEY;
	ts_strlcpy(out->id, k.id, sizeof(out->id));
	snprintf(out->label, sizeof(out->label), "apikey:%s", k.id);
	out->operator = is_operator(a, &out->tenant);
	return TS_OK;
}

ts_err
ts_admin_authorize(ts_auth *a, const char *bearer, ts_actor *out)
{
	ts_principal p;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!bearer || !*bearer)
		return TS_E_TOKEN_INVALID;
	if (strncmp(bearer, TS_APIKEY_PREFIX, strlen(TS_APIKEY_PREFIX)) == 0)
		return authorize_key(a, bearer, out);
	if ((r = ts_auth_check_token(a, bearer, NULL, &p)) != TS_OK)
		return r;
	/* An enrolment-only session has not passed the tenant's MFA rule. */
	if (p.scope != TS_SESSION_FULL || !p.user.is_admin || p.user.is_disabled) {
		ts_wipe(&p, sizeof(p));
		return TS_E_PERMISSION;
	}
	out->kind = TS_ACTOR_USER;
	ts_strlcpy(out->id, p.user.id, sizeof(out->id));
	out->tenant = p.tenant;
	snprintf(out->label, sizeof(out->label), "user:%s", p.user.id);
	out->operator = is_operator(a, &p.tenant);
	ts_wipe(&p, sizeof(p));
	return TS_OK;
}

/* The tenant slug names, if the actor may see it: another tenant's is
 * NOT_FOUND, the same answer as a tenant that does not exist. */
static ts_err
visible_tenant(ts_auth *a, const ts_actor *who, const char *slug, ts_tenant *out)
{
	ts_err r;

	if (!slug || !ts_slug_valid(slug)) {
		memset(out, 0, sizeof(*out));
		return TS_E_NOT_FOUND;
	}
	if ((r = SOPS(a)->tenant_by_slug(ST(a), slug, out)) != TS_OK)
		return r;
	if (!who->operator && strcmp(out->id, who->tenant.id) != 0) {
		memset(out, 0, sizeof(*out));
		return TS_E_NOT_FOUND;
	}
	return TS_OK;
}

ts_err
ts_admin_visible_tenant(ts_auth *a, const ts_actor *who, const char *slug, ts_tenant *out)
{
	return visible_tenant(a, who, slug, out);
}

/* The user id of a visible tenant; the password hash never leaves. */
static ts_err
visible_user(ts_auth *a, const ts_actor *who, const char *slug, const char *id, ts_tenant *t,
             ts_user *out)
{
	char uid[TS_ID_SZ];
	ts_err r;

	/* id may point into out (a record re-read): copied first. */
	ts_strlcpy(uid, id ? id : "", sizeof(uid));
	memset(out, 0, sizeof(*out));
	if ((r = visible_tenant(a, who, slug, t)) != TS_OK)
		return r;
	if (!ts_is_uuid(uid))
		return TS_E_NOT_FOUND;
	if ((r = SOPS(a)->user_by_id(ST(a), uid, out)) != TS_OK)
		return r;
	ts_wipe(out->password_hash, sizeof(out->password_hash));
	if (strcmp(out->tenant_id, t->id) != 0) {
		memset(out, 0, sizeof(*out));
		return TS_E_NOT_FOUND;
	}
	return TS_OK;
}

/* ---- customers ---- */

static int
name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n > TS_TENANT_NAME_MAX || !ts_utf8_valid(name, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return 0;
	return 1;
}

/* Checks the patch's values; *bad names the first refused field. */
static ts_err
patch_check(const ts_tenant_patch *p, char norm[][TS_HOST_MAX + 1], const char **bad)
{
	if (p->slug && !ts_slug_valid(p->slug))
		return *bad = "slug", TS_E_INVALID;
	if (p->name && !name_ok(p->name))
		return *bad = "name", TS_E_INVALID;
	if (p->set_pw_min && p->password_min_length != 0 &&
	    (p->password_min_length < TS_PW_MIN_MFA || p->password_min_length > TS_PW_MAX_BYTES))
		return *bad = "password_min_length", TS_E_INVALID;
	if (p->set_domains) {
		if (p->ndomains < 0 || p->ndomains > TS_ADMIN_HOSTS_MAX)
			return *bad = "domains", TS_E_INVALID;
		for (int i = 0; i < p->ndomains; i++) {
			if (ts_admin_host_normal(p->domains[i], norm[i]) != TS_OK)
				return *bad = "domains", TS_E_INVALID;
			for (int j = 0; j < i; j++)
				if (strcmp(norm[i], norm[j]) == 0)
					return *bad = "domains", TS_E_INVALID;
		}
	}
	return TS_OK;
}

static void
patch_apply(const ts_tenant_patch *p, ts_tenant *t)
{
	if (p->slug)
		ts_strlcpy(t->slug, p->slug, sizeof(t->slug));
	if (p->name)
		ts_strlcpy(t->name, p->name, sizeof(t->name));
	if (p->set_mfa)
		t->mfa_required = p->mfa_required != 0;
	if (p->set_registration)
		t->registration_open = p->registration_open != 0;
	if (p->set_pw_min)
		t->password_min_length = p->password_min_length;
}

ts_err
ts_admin_tenant_new(ts_auth *a, const ts_actor *who, const ts_tenant_patch *p, ts_tenant *out,
                    const char **bad_field)
{
	char norm[TS_ADMIN_HOSTS_MAX][TS_HOST_MAX + 1];
	const char *list[TS_ADMIN_HOSTS_MAX];
	const char *dummy;
	ts_err r;

	if (!bad_field)
		bad_field = &dummy;
	*bad_field = NULL;
	memset(out, 0, sizeof(*out));
	if (!who->operator)
		return TS_E_PERMISSION;
	if (!p->slug)
		return *bad_field = "slug", TS_E_INVALID;
	if ((r = patch_check(p, norm, bad_field)) != TS_OK)
		return r;
	for (int i = 0; p->set_domains && i < p->ndomains; i++)
		list[i] = norm[i];
	ts_uuid4(out->id);
	out->created_at = ts_now();
	patch_apply(p, out);
	r = SOPS(a)->tenant_create_with_domains(ST(a), out, list, p->set_domains ? p->ndomains : 0);
	if (r == TS_OK)
		ts_audit(a, "admin_tenant_created", "tenant", out->slug, "actor", who->label, NULL);
	return r;
}

ts_err
ts_admin_tenant_get(ts_auth *a, const ts_actor *who, const char *slug, ts_tenant *out)
{
	return visible_tenant(a, who, slug, out);
}

typedef struct domain_set {
	char have[TS_ADMIN_HOSTS_MAX * 4][TS_HOST_MAX + 1];
	int n;
} domain_set;

static int
domain_collect(void *arg, const char *host)
{
	domain_set *d = arg;

	if (d->n < (int)(sizeof(d->have) / sizeof(d->have[0])))
		ts_strlcpy(d->have[d->n++], host, sizeof(d->have[0]));
	return 0;
}

/* Makes t's domains the list norm[0..n): removes the others, adds the new. */
static ts_err
domains_replace(ts_auth *a, const ts_tenant *t, char norm[][TS_HOST_MAX + 1], int n)
{
	domain_set *d = calloc(1, sizeof(*d));
	ts_err r;

	if (!d)
		return TS_E_NOMEM;
	if ((r = SOPS(a)->tenant_domains(ST(a), t->id, domain_collect, d)) != TS_OK)
		goto out;
	for (int i = 0; i < n && r == TS_OK; i++) {
		int found = 0;
		for (int j = 0; j < d->n && !found; j++)
			found = strcmp(norm[i], d->have[j]) == 0;
		if (!found)
			r = SOPS(a)->tenant_add_domain(ST(a), t->id, norm[i]);
	}
	for (int j = 0; j < d->n && r == TS_OK; j++) {
		int keep = 0;
		for (int i = 0; i < n && !keep; i++)
			keep = strcmp(norm[i], d->have[j]) == 0;
		if (!keep && (r = SOPS(a)->tenant_remove_domain(ST(a), t->id, d->have[j])) ==
		                     TS_E_NOT_FOUND)
			r = TS_OK;               /* removed meanwhile */
	}
out:
	free(d);
	return r;
}

ts_err
ts_admin_tenant_set(ts_auth *a, const ts_actor *who, const char *slug, const ts_tenant_patch *p,
                    ts_tenant *out, const char **bad_field)
{
	char norm[TS_ADMIN_HOSTS_MAX][TS_HOST_MAX + 1];
	const char *dummy;
	ts_err r;

	if (!bad_field)
		bad_field = &dummy;
	*bad_field = NULL;
	if ((r = visible_tenant(a, who, slug, out)) != TS_OK)
		return r;
	if ((r = patch_check(p, norm, bad_field)) != TS_OK)
		return r;
	/* Renaming the operator tenant would cut its administrators off. */
	if (p->slug && strcmp(p->slug, out->slug) != 0 && is_operator(a, out))
		return *bad_field = "slug", TS_E_PERMISSION;
	patch_apply(p, out);
	if ((r = SOPS(a)->tenant_update(ST(a), out)) != TS_OK)
		return r;
	if (p->set_domains && (r = domains_replace(a, out, norm, p->ndomains)) != TS_OK) {
		if (r == TS_E_CONFLICT)
			*bad_field = "domains";
		return r;
	}
	ts_audit(a, "admin_tenant_updated", "tenant", out->slug, "actor", who->label,
	         p->slug ? "old_slug" : NULL, slug, NULL);
	return TS_OK;
}

ts_err
ts_admin_tenant_remove(ts_auth *a, const ts_actor *who, const char *slug, int force)
{
	ts_tenant t;
	ts_err r;

	if ((r = visible_tenant(a, who, slug, &t)) != TS_OK)
		return r;
	if (!who->operator || is_operator(a, &t))
		return TS_E_PERMISSION;
	if ((r = SOPS(a)->tenant_delete(ST(a), t.id, force)) != TS_OK)
		return r;
	ts_audit(a, "admin_tenant_deleted", "tenant", t.slug, "actor", who->label, "force",
	         force ? "true" : "false", NULL);
	return TS_OK;
}

typedef struct tenant_vec {
	ts_tenant *v;
	size_t n, cap;
	const ts_actor *who;
	ts_err err;
} tenant_vec;

static int
tenant_collect(void *arg, const ts_tenant *t)
{
	tenant_vec *c = arg;

	if (!c->who->operator && strcmp(t->id, c->who->tenant.id) != 0)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		ts_tenant *v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			c->err = TS_E_NOMEM;
			return 1;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *t;
	return 0;
}

static int
by_slug(const void *x, const void *y)
{
	return strcmp(((const ts_tenant *)x)->slug, ((const ts_tenant *)y)->slug);
}

ts_err
ts_admin_tenant_page(ts_auth *a, const ts_actor *who, const char *after, int limit,
                     ts_tenant_cb cb, void *arg, int *more)
{
	tenant_vec c = { .who = who };
	ts_err r;
	int sent = 0;

	*more = 0;
	/* Tenants are few (one per customer): sorted here, by slug. */
	if ((r = SOPS(a)->tenant_list(ST(a), tenant_collect, &c)) == TS_OK)
		r = c.err;
	if (r == TS_OK && c.n)
		qsort(c.v, c.n, sizeof(*c.v), by_slug);
	for (size_t i = 0; r == TS_OK && i < c.n; i++) {
		if (after && *after && strcmp(c.v[i].slug, after) <= 0)
			continue;
		if (sent == limit) {
			*more = 1;
			break;
		}
		sent++;
		if (cb(arg, &c.v[i]) != 0)
			break;
	}
	free(c.v);
	return r;
}

ts_err
ts_admin_tenant_domains(ts_auth *a, const ts_tenant *t, int (*cb)(void *arg, const char *host),
                        void *arg)
{
	return SOPS(a)->tenant_domains(ST(a), t->id, cb, arg);
}

/* ---- users ---- */

typedef struct user_pager {
	ts_user_cb cb;
	void *arg;
	int limit, sent, more, stopped;
} user_pager;

static int
user_forward(void *arg, const ts_user *u)
{
	user_pager *p = arg;
	ts_user copy = *u;
	int stop;

	if (p->sent == p->limit) {
		p->more = 1;
		return 1;
	}
	p->sent++;
	ts_wipe(copy.password_hash, sizeof(copy.password_hash));
	stop = p->cb(p->arg, &copy);
	if (stop)
		p->stopped = 1;
	return stop;
}

ts_err
ts_admin_user_page(ts_auth *a, const ts_actor *who, const char *slug, const char *after,
                   const char *email, int limit, ts_user_cb cb, void *arg, int *more)
{
	user_pager p = { cb, arg, limit, 0, 0, 0 };
	ts_tenant t;
	ts_user u;
	ts_err r;

	*more = 0;
	if ((r = visible_tenant(a, who, slug, &t)) != TS_OK)
		return r;
	if (email) {
		char norm[TS_EMAIL_MAX + 1];

		if (!ts_email_norm(email, norm))
			return TS_OK;
		if ((r = SOPS(a)->user_by_email(ST(a), t.id, norm, &u)) == TS_E_NOT_FOUND)
			return TS_OK;
		if (r == TS_OK && (!after || strcmp(u.email_norm, after) > 0) && limit > 0)
			(void)user_forward(&p, &u);
		ts_wipe(&u, sizeof(u));
		return r;
	}
	/* One more than asked: whether there is a next page. */
	r = SOPS(a)->user_scan(ST(a), t.id, after ? after : "", limit + 1, user_forward, &p);
	*more = p.more;
	return r;
}

ts_err
ts_admin_user_new(ts_auth *a, const ts_actor *who, const char *slug, const char *email,
                  const char *password, size_t pwlen, int verified, int admin, ts_user *out,
                  ts_pw_reason *why, ts_err *invite)
{
	ts_tenant t;
	ts_err r;

	*why = TS_PW_OK;
	*invite = TS_OK;
	memset(out, 0, sizeof(*out));
	if ((r = visible_tenant(a, who, slug, &t)) != TS_OK)
		return r;
	if (!email || !ts_email_valid(email) || !ts_email_norm(email, out->email_norm))
		return TS_E_INVALID;
	if (password && (r = ts_password_check(&t, email, password, pwlen, why)) != TS_OK)
		return r;
	ts_uuid4(out->id);
	ts_strlcpy(out->tenant_id, t.id, sizeof(out->tenant_id));
	ts_strlcpy(out->email, email, sizeof(out->email));
	out->is_verified = verified != 0;
	out->is_admin = admin != 0;
	out->created_at = ts_now();
	if (password && (r = ts_pw_hash(&a->cfg.pw_cost, password, pwlen, out->password_hash)) != TS_OK)
		return r;
	r = SOPS(a)->user_create(ST(a), out);
	ts_wipe(out->password_hash, sizeof(out->password_hash));
	if (r != TS_OK)
		return r;
	ts_audit(a, "admin_user_created", "tenant", t.slug, "user", out->id, "actor", who->label,
	         "is_admin", out->is_admin ? "true" : "false", "password",
	         password ? "set" : "invited", NULL);
	if (!password) {
		*invite = a->admin_only ? TS_E_MAIL_UNCONFIGURED : ts_account_invite(a, &t, out);
		if (*invite != TS_OK)
			ts_log_event(TS_LOG_WARN, "invitation_not_sent", "tenant", t.slug, "user", out->id,
			             "error", ts_errname(*invite), NULL);
	}
	return TS_OK;
}

ts_err
ts_admin_user_get(ts_auth *a, const ts_actor *who, const char *slug, const char *id, ts_user *out)
{
	ts_tenant t;

	return visible_user(a, who, slug, id, &t, out);
}

ts_err
ts_admin_user_lookup(ts_auth *a, const ts_actor *who, const char *slug, const char *email,
                     ts_user *out)
{
	char norm[TS_EMAIL_MAX + 1];
	ts_tenant t;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if ((r = visible_tenant(a, who, slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	if (!email || !ts_email_norm(email, norm))
		return TS_E_NOT_FOUND;
	if ((r = SOPS(a)->user_by_email(ST(a), t.id, norm, out)) == TS_OK)
		ts_wipe(out->password_hash, sizeof(out->password_hash));
	return r;
}

ts_err
ts_admin_user_set(ts_auth *a, const ts_actor *who, const char *slug, const char *id,
                  const ts_user_patch *p, ts_user *out, int *ended)
{
	char norm[TS_EMAIL_MAX + 1];
	int was_disabled, n = 0;
	ts_tenant t;
	ts_err r;

	if (ended)
		*ended = 0;
	if ((r = visible_user(a, who, slug, id, &t, out)) != TS_OK)
		return r;
	if (p->email && (!ts_email_valid(p->email) || !ts_email_norm(p->email, norm)))
		return TS_E_INVALID;
	was_disabled = out->is_disabled;
	if (p->set_verified)
		out->is_verified = p->is_verified != 0;
	if (p->set_admin)
		out->is_admin = p->is_admin != 0;
	if (p->set_disabled)
		out->is_disabled = p->is_disabled != 0;
	if (p->email && strcmp(p->email, out->email) != 0) {
		if ((r = SOPS(a)->user_set_email(ST(a), out->id, p->email, norm)) != TS_OK)
			return r;
		ts_strlcpy(out->email, p->email, sizeof(out->email));
		ts_strlcpy(out->email_norm, norm, sizeof(out->email_norm));
	}
	if ((r = SOPS(a)->user_set_flags(ST(a), out->id, out->is_verified, out->is_admin,
	                                 out->is_disabled)) != TS_OK)
		return r;
	/* A disabled account keeps no session: whoever holds one is out
	 * (the flag alone would only stop new logins). */
	if (out->is_disabled && !was_disabled &&
	    (r = SOPS(a)->user_sessions_revoke(ST(a), out->id, ts_now(), &n)) != TS_OK)
		return r;
	if (ended)
		*ended = n;
	ts_audit(a, "admin_user_updated", "tenant", t.slug, "user", out->id, "actor", who->label,
	         "is_verified", out->is_verified ? "true" : "false", "is_admin",
	         out->is_admin ? "true" : "false", "disabled", out->is_disabled ? "true" : "false",
	         "email_changed", p->email ? "true" : "false", TS_LOG_INT("sessions_ended", n), NULL);
	return TS_OK;
}

ts_err
ts_admin_user_remove(ts_auth *a, const ts_actor *who, const char *slug, const char *id)
{
	ts_tenant t;
	ts_user u;
	ts_err r;

	if ((r = visible_user(a, who, slug, id, &t, &u)) != TS_OK)
		return r;
	if ((r = SOPS(a)->user_delete(ST(a), u.id)) != TS_OK)
		return r;
	ts_audit(a, "admin_user_deleted", "tenant", t.slug, "user", u.id, "actor", who->label, NULL);
	return TS_OK;
}

ts_err
ts_admin_user_unlock(ts_auth *a, const ts_actor *who, const char *slug, const char *id)
{
	ts_tenant t;
	ts_user u;
	ts_err r;

	if ((r = visible_user(a, who, slug, id, &t, &u)) != TS_OK)
		return r;
	if ((r = ts_admin_unlock(ST(a), t.slug, u.email)) != TS_OK)
		return r;
	ts_audit(a, "admin_user_unlocked", "tenant", t.slug, "user", u.id, "actor", who->label, NULL);
	return TS_OK;
}

ts_err
ts_admin_user_sessions_end(ts_auth *a, const ts_actor *who, const char *slug, const char *id,
                           int *ended)
{
	ts_tenant t;
	ts_user u;
	ts_err r;
	int n = 0;

	if (ended)
		*ended = 0;
	if ((r = visible_user(a, who, slug, id, &t, &u)) != TS_OK)
		return r;
	if ((r = SOPS(a)->user_sessions_revoke(ST(a), u.id, ts_now(), &n)) != TS_OK)
		return r;
	if (ended)
		*ended = n;
	ts_audit(a, "admin_sessions_revoked", "tenant", t.slug, "user", u.id, "actor", who->label,
	         TS_LOG_INT("sessions_ended", n), NULL);
	return TS_OK;
}

ts_err
ts_admin_user_new_password(ts_auth *a, const ts_actor *who, const char *slug, const char *id,
                           const char *password, size_t pwlen, ts_pw_reason *why)
{
	ts_tenant t;
	ts_user u;
	ts_err r;
	int n = 0;

	*why = TS_PW_OK;
	if ((r = visible_user(a, who, slug, id, &t, &u)) != TS_OK)
		return r;
	if ((r = ts_password_check(&t, u.email, password, pwlen, why)) != TS_OK)
		return r;
	if ((r = ts_admin_user_password(ST(a), &a->cfg.pw_cost, &u, password, pwlen, NULL, &n)) !=
	    TS_OK)
		return r;
	ts_audit(a, "admin_password_set", "tenant", t.slug, "user", u.id, "actor", who->label,
	         TS_LOG_INT("sessions_ended", n), NULL);
	return TS_OK;
}

/* ---- import ---- */

ts_err
ts_admin_users_import(ts_auth *a, const ts_actor *who, const char *slug,
                      const ts_import_src *src, int skip_bad, ts_import_report *out)
{
	ts_tenant t;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if ((r = visible_tenant(a, who, slug, &t)) != TS_OK)
		return r;
	r = ts_auth_import_users(a, &t, src, skip_bad, out);
	if (r == TS_OK || r == TS_E_INVALID)
		ts_audit(a, "admin_users_imported", "tenant", t.slug, "actor", who->label,
		         TS_LOG_INT("imported", out->imported), TS_LOG_INT("bad", out->bad), NULL);
	return r;
}

/* ---- factors ---- */

typedef struct factor_pager {
	ts_admin_factor *out;
	int max, n;
} factor_pager;

static int
factor_take(void *arg, const ts_factor *f)
{
	factor_pager *p = arg;
	const ts_factor_ops *ops = ts_factor_by_kind((ts_factor_kind)f->kind);
	ts_admin_factor *o;

	if (p->n >= p->max)
		return 1;
	o = &p->out[p->n++];
	memset(o, 0, sizeof(*o));
	ts_strlcpy(o->id, f->id, sizeof(o->id));
	ts_strlcpy(o->type, ops ? ops->name : "unknown", sizeof(o->type));
	ts_strlcpy(o->name, f->name, sizeof(o->name));
	o->confirmed = f->confirmed;
	o->created_at = f->created_at;
	o->last_used_at = f->last_used_at;
	return 0;
}

ts_err
ts_admin_factor_list(ts_auth *a, const ts_user *u, ts_admin_factor *out, int max, int *n)
{
	factor_pager p = { out, max, 0 };
	ts_err r = SOPS(a)->factor_list(ST(a), u->id, 0, factor_take, &p);

	*n = p.n;
	return r;
}

ts_err
ts_admin_factor_remove(ts_auth *a, const ts_actor *who, const char *slug, const char *user_id,
                       const char *fid)
{
	ts_tenant t;
	ts_user u;
	ts_err r;

	if ((r = visible_user(a, who, slug, user_id, &t, &u)) != TS_OK)
		return r;
	if (!fid || !*fid)
		return TS_E_NOT_FOUND;
	/* audited there (mfa_removed, with the actor) */
	return ts_auth_factor_admin_remove(a, &u, fid, who->label);
}

/* ---- API keys ---- */

ts_err
ts_admin_apikey_create(ts_auth *a, const ts_actor *who, const char *slug, const char *name,
                       char text[TS_APIKEY_TEXT_MAX], ts_apikey *out)
{
	char secret[TS_SECRET_TEXT_LEN + 1];
	ts_tenant t;
	ts_err r;

	text[0] = '\0';
	memset(out, 0, sizeof(*out));
	if ((r = visible_tenant(a, who, slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	if (!name || !*name || strlen(name) > TS_APIKEY_NAME_MAX || !name_ok(name))
		return TS_E_INVALID;
	ts_secret_new(secret);           /* 256 random bits */
	snprintf(text, TS_APIKEY_TEXT_MAX, "%s%s", TS_APIKEY_PREFIX, secret);
	ts_wipe(secret, sizeof(secret));
	ts_uuid4(out->id);
	ts_strlcpy(out->tenant_id, t.id, sizeof(out->tenant_id));
	ts_strlcpy(out->name, name, sizeof(out->name));
	ts_secret_hash(text, strlen(text), out->hash);
	out->created_at = ts_now();
	if ((r = SOPS(a)->apikey_create(ST(a), out)) != TS_OK) {
		ts_wipe(text, TS_APIKEY_TEXT_MAX);
		return r;
	}
	ts_audit(a, "admin_apikey_created", "tenant", t.slug, "actor", who->label, "apikey",
	         out->id, "name", out->name, NULL);
	return TS_OK;
}

typedef struct key_filter {
	const ts_actor *who;
	ts_apikey_cb cb;
	void *arg;
} key_filter;

static int
key_forward(void *arg, const ts_apikey *k)
{
	key_filter *f = arg;

	if (!f->who->operator && strcmp(k->tenant_id, f->who->tenant.id) != 0)
		return 0;
	return f->cb(f->arg, k);
}

ts_err
ts_admin_apikey_list(ts_auth *a, const ts_actor *who, const char *slug, ts_apikey_cb cb,
                     void *arg)
{
	key_filter f = { who, cb, arg };
	ts_tenant t;
	ts_err r;

	if (slug && (r = visible_tenant(a, who, slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	return SOPS(a)->apikey_list(ST(a), slug ? t.id : "", key_forward, &f);
}

typedef struct key_find {
	const char *id;
	ts_apikey found;
	int hit;
} key_find;

static int
key_match(void *arg, const ts_apikey *k)
{
	key_find *f = arg;

	if (strcmp(k->id, f->id) != 0)
		return 0;
	f->found = *k;
	f->hit = 1;
	return 1;
}

ts_err
ts_admin_apikey_revoke(ts_auth *a, const ts_actor *who, const char *id)
{
	key_find f = { .id = id };
	ts_tenant t;
	ts_err r;

	if ((r = ts_admin_apikey_list(a, who, NULL, key_match, &f)) != TS_OK)
		return r;
	if (!f.hit)
		return TS_E_NOT_FOUND;
	if ((r = SOPS(a)->apikey_revoke(ST(a), id, ts_now())) != TS_OK)
		return r;
	if (SOPS(a)->tenant_by_id(ST(a), f.found.tenant_id, &t) != TS_OK)
		memset(&t, 0, sizeof(t));
	ts_audit(a, "admin_apikey_revoked", "tenant", t.slug, "actor", who->label, "apikey", id,
	         NULL);
	return TS_OK;
}

/* ---- audit log ---- */

ts_err
ts_admin_audit_list(ts_auth *a, const ts_actor *who, const ts_audit_filter *f, ts_audit_cb cb,
                    void *arg)
{
	ts_audit_filter g = *f;
	ts_tenant t;
	ts_err r;

	/* The operator reads any tenant's rows, a deleted one's too. */
	if (g.tenant && *g.tenant && !who->operator) {
		if ((r = visible_tenant(a, who, g.tenant, &t)) != TS_OK)
			return r;
	} else if (!who->operator) {
		g.tenant = who->tenant.slug;     /* only their own tenant's rows */
	}
	ts_audit_flush(a);                   /* the caller's own writes are in */
	return SOPS(a)->audit_list(ST(a), &g, cb, arg);
}
