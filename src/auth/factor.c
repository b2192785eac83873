/* The factor engine: the registry of factors and every rule they share
 * (factor.h). It runs a challenge, an enrolment or a removal without
 * knowing which factor it runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/factor.h"
#include "auth/webauthn.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/hash.h"

/* The order methods are listed in. A factor added here is offered
 * everywhere (factor_webauthn.c adds its two entries before recovery). */
const ts_factor_ops *const ts_factor_table[] = {
	&ts_factor_totp,
	&ts_factor_email,
	&ts_factor_passkey,
	&ts_factor_security_key,
	&ts_factor_recovery,
	NULL,
};

const ts_factor_ops *
ts_factor_by_name(const char *name)
{
	for (int i = 0; name && ts_factor_table[i]; i++)
		if (strcmp(ts_factor_table[i]->name, name) == 0)
			return ts_factor_table[i];
	return NULL;
}

const ts_factor_ops *
ts_factor_by_kind(ts_factor_kind k)
{
	for (int i = 0; ts_factor_table[i]; i++)
		if (ts_factor_table[i]->kind == k)
			return ts_factor_table[i];
	return NULL;
}

void
ts_factor_blob_free(ts_factor_blob *b)
{
	if (!b)
		return;
	if (b->json)
		ts_wipe(b->json, strlen(b->json));   /* it may hold codes or a secret */
	free(b->json);
	b->json = NULL;
}

/* ---- the tenant's policy ---- */

unsigned
ts_factor_allowed(const ts_tenant *t)
{
	return t && t->mfa_factors ? t->mfa_factors : TS_FACTOR_DEFAULT;
}

static int
allowed(const ts_tenant *t, const ts_factor_ops *f)
{
	return (ts_factor_allowed(t) & TS_FACTOR_BIT(f->kind)) != 0;
}

/* Whether the user can answer with f now, by the policy and the factor. A
 * backup factor only beside a primary one (has_primary). */
static int
offered(const ts_factor_ctx *c, const ts_factor_ops *f, int has_primary)
{
	if (!allowed(c->tenant, f) || !f->usable || !f->verify)
		return 0;
	if ((f->flags & TS_FACTOR_F_BACKUP) && !has_primary)
		return 0;
	return f->usable(c);
}

static int
has_primary(const ts_factor_ctx *c)
{
	for (int i = 0; ts_factor_table[i]; i++)
		if (!(ts_factor_table[i]->flags & TS_FACTOR_F_BACKUP) &&
		    offered(c, ts_factor_table[i], 1))
			return 1;
	return 0;
}

static void
ctx_init(ts_factor_ctx *c, ts_auth *a, const ts_user *u, const ts_tenant *t)
{
	memset(c, 0, sizeof(*c));
	c->a = a;
	c->user = u;
	c->tenant = t;
	c->now = ts_now();
}

void
ts_auth_factor_methods(ts_auth *a, const ts_user *u, const ts_tenant *t,
                       const char *names[TS_FACTOR_METHODS_MAX], int *n)
{
	ts_factor_ctx c;
	int primary;

	*n = 0;
	ctx_init(&c, a, u, t);
	primary = has_primary(&c);
	for (int i = 0; ts_factor_table[i] && *n < TS_FACTOR_METHODS_MAX; i++)
		if (offered(&c, ts_factor_table[i], primary))
			names[(*n)++] = ts_factor_table[i]->name;
}

int
ts_auth_factor_has_primary(ts_auth *a, const ts_user *u, const ts_tenant *t)
{
	ts_factor_ctx c;

	ctx_init(&c, a, u, t);
	return has_primary(&c);
}

/* ---- challenges ---- */

/* A live challenge and its user (not disabled) and tenant. */
static ts_err
challenge_load(ts_auth *a, const char *challenge_id, char hash[TS_HASH_SZ], ts_user *u,
               ts_tenant *t)
{
	ts_secret sec;
	ts_err r;

	memset(u, 0, sizeof(*u));
	memset(t, 0, sizeof(*t));
	if (!challenge_id || !ts_is_uuid(challenge_id))
		return TS_E_CHALLENGE_INVALID;
	ts_secret_hash(challenge_id, strlen(challenge_id), hash);
	r = SOPS(a)->secret_get(ST(a), TS_SECRET_MFA_CHALLENGE, hash, &sec);
	if (r != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_CHALLENGE_INVALID : r;
	if (sec.used_at || sec.expires_at <= ts_now())
		return TS_E_CHALLENGE_INVALID;
	if ((r = SOPS(a)->user_by_id(ST(a), sec.user_id, u)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_CHALLENGE_INVALID : r;
	memset(u->password_hash, 0, sizeof(u->password_hash));
	if (u->is_disabled)
		return TS_E_CHALLENGE_INVALID;
	if ((r = SOPS(a)->tenant_by_id(ST(a), u->tenant_id, t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_CHALLENGE_INVALID : r;
	return TS_OK;
}

/* The factor named method, if the user may answer with it now. */
static ts_err
challenge_factor(const ts_factor_ctx *c, const char *method, const ts_factor_ops **out)
{
	const ts_factor_ops *f = ts_factor_by_name(method);

	*out = NULL;
	if (!f)
		return TS_E_INVALID;
	if (!offered(c, f, has_primary(c)))
		return TS_E_MFA_NOT_ENROLLED;
	*out = f;
	return TS_OK;
}

ts_err
ts_auth_factor_challenge_begin(ts_auth *a, const char *challenge_id, const char *method,
                               ts_factor_blob *out, int *retry_after)
{
	char hash[TS_HASH_SZ];
	const ts_factor_ops *f;
	ts_factor_ctx c;
	ts_user u;
	ts_tenant t;
	ts_err r;

	memset(out, 0, sizeof(*out));
	*retry_after = 0;
	if ((r = challenge_load(a, challenge_id, hash, &u, &t)) != TS_OK)
		return r;
	ctx_init(&c, a, &u, &t);
	c.challenge_id = challenge_id;
	c.challenge_hash = hash;
	if ((r = challenge_factor(&c, method, &f)) != TS_OK)
		return r;
	if (!f->challenge_begin)
		return TS_E_INVALID;          /* nothing to prepare: answer at once */
	return f->challenge_begin(&c, out, retry_after);
}

/* The shared rules of an answer (factor.h): lock, one claimed try, the
 * factor's verdict, audit, the challenge spent. u and t get the user and
 * tenant; *used_method the factor's table entry on TS_OK. */
static ts_err
judge(ts_auth *a, const char *challenge_id, const char *method, const ts_factor_answer *ans,
      ts_user *u, ts_tenant *t, const ts_factor_ops **used_method, int *retry_after)
{
	char hash[TS_HASH_SZ];
	const ts_factor_ops *f;
	ts_factor_ctx c;
	ts_secret sec;
	int tries = 0;
	ts_err r;

	*retry_after = 0;
	*used_method = NULL;
	if ((r = challenge_load(a, challenge_id, hash, u, t)) != TS_OK)
		return r;
	ctx_init(&c, a, u, t);
	c.challenge_id = challenge_id;
	c.challenge_hash = hash;
	if ((r = challenge_factor(&c, method, &f)) != TS_OK)
		return r;
	if ((r = ts_mfa_admit(a, u, retry_after)) != TS_OK)
		return r;
	/* The try is claimed before the answer is judged, by one atomic store
	 * op: however many answers race, at most TS_FACTOR_TRIES are judged,
	 * whichever factors they name. */
	r = SOPS(a)->secret_attempt(ST(a), TS_SECRET_MFA_CHALLENGE, hash, TS_FACTOR_TRIES, &tries);
	if (r != TS_OK) {
		if (r == TS_E_NOT_FOUND)
			ts_audit(a, "mfa_failed", "user", u->id, "tenant", t->slug, "method", f->name,
			         "reason", ts_why_word(TS_WHY_CHALLENGE), NULL);
		return r == TS_E_NOT_FOUND ? TS_E_CHALLENGE_INVALID : r;
	}
	r = f->verify(&c, ans, NULL);
	if (r == TS_E_MFA_INVALID) {
		ts_mfa_failed(a, u, f->name, tries);   /* the audit event, and the lock */
		return r;
	}
	if (r != TS_OK)
		return r;
	ts_mfa_passed(a, u);
	/* Spend the challenge; a racing twin that also had a good answer loses. */
	r = SOPS(a)->secret_consume(ST(a), TS_SECRET_MFA_CHALLENGE, hash, c.now, &sec);
	if (r == TS_E_TOKEN_REUSED || r == TS_E_NOT_FOUND)
		return TS_E_CHALLENGE_INVALID;
	if (r != TS_OK)
		return r;
	ts_audit(a, "mfa_passed", "user", u->id, "tenant", t->slug, "method", f->name,
	         TS_LOG_INT("tries", tries), NULL);
	*used_method = f;
	return TS_OK;
}

ts_err
ts_auth_factor_judge(ts_auth *a, const char *challenge_id, const char *method,
                     const ts_factor_answer *ans, ts_user *u, int *retry_after)
{
	const ts_factor_ops *f;
	ts_tenant t;

	return judge(a, challenge_id, method, ans, u, &t, &f, retry_after);
}

ts_err
ts_auth_factor_answer(ts_auth *a, const char *challenge_id, const char *method,
                      const ts_factor_answer *ans, ts_tokens *out, ts_user *u, ts_tenant *t,
                      int *retry_after)
{
	const ts_factor_ops *f;
	char amr[32];
	ts_err r;

	memset(out, 0, sizeof(*out));
	if ((r = judge(a, challenge_id, method, ans, u, t, &f, retry_after)) != TS_OK)
		return r;
	/* The engine, not the face, says what was proven (RFC 8176). */
	snprintf(amr, sizeof(amr), "pwd %s", f->amr);
	return ts_auth_start_session(a, u, TS_SESSION_FULL, amr, TS_ACCESS_JWT, out);
}

/* ---- enrolment, listing, removal ---- */

static ts_err
enrol_factor(const ts_principal *p, const char *method, const ts_factor_ops **out)
{
	const ts_factor_ops *f = ts_factor_by_name(method);
	ts_err r;

	*out = NULL;
	if (!f)
		return TS_E_INVALID;
	if ((r = ts_auth_enroll_allowed(p)) != TS_OK)
		return r;
	if (!allowed(&p->tenant, f))
		return TS_E_MFA_NOT_ENROLLED;
	*out = f;
	return TS_OK;
}

ts_err
ts_auth_factor_enrol_begin(ts_auth *a, const ts_principal *p, const char *method,
                           const char *variant, ts_factor_blob *out)
{
	const ts_factor_ops *f;
	ts_factor_ctx c;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if ((r = enrol_factor(p, method, &f)) != TS_OK)
		return r;
	if (!f->enrol_begin)
		return TS_E_INVALID;
	ctx_init(&c, a, &p->user, &p->tenant);
	c.session = &p->session;
	c.variant = variant;
	if ((r = f->enrol_begin(&c, out)) == TS_OK)
		ts_audit(a, "mfa_enrol_begun", "user", p->user.id, "tenant", p->tenant.slug,
		         "method", f->name, NULL);
	return r;
}

ts_err
ts_auth_factor_enrol_finish(ts_auth *a, const ts_principal *p, const char *method,
                            const ts_factor_answer *ans, ts_factor_info *out, int *retry_after)
{
	const ts_factor_ops *f;
	ts_factor_ctx c;
	ts_err r;

	*retry_after = 0;
	if ((r = enrol_factor(p, method, &f)) != TS_OK)
		return r;
	if (!f->enrol_finish)
		return TS_E_INVALID;
	if ((r = ts_mfa_admit(a, &p->user, retry_after)) != TS_OK)
		return r;
	ctx_init(&c, a, &p->user, &p->tenant);
	c.session = &p->session;
	r = f->enrol_finish(&c, ans, out);
	if (r == TS_E_MFA_INVALID) {
		ts_mfa_failed(a, &p->user, f->name, 0);
		return r;
	}
	if (r == TS_OK)
		ts_audit(a, "mfa_enrolled", "user", p->user.id, "tenant", p->tenant.slug, "method",
		         f->name, NULL);
	return r;
}

static void
info_of(const ts_factor *row, const ts_factor_ops *f, ts_factor_info *out)
{
	memset(out, 0, sizeof(*out));
	ts_strlcpy(out->id, row->id, sizeof(out->id));
	out->method = f->name;
	ts_strlcpy(out->name, row->name, sizeof(out->name));
	out->created_at = row->created_at;
	out->last_used_at = row->last_used_at;
	out->remaining = -1;
	if (f->describe)
		f->describe(row, out);
}

/* The rows are copied out first: a store callback may not call the
 * store, and the caller's cb may. */
typedef struct list_acc {
	ts_factor_info *v;
	int n, cap;
	ts_err err;
} list_acc;

static int
list_take(void *arg, const ts_factor *row)
{
	list_acc *l = arg;
	const ts_factor_ops *f = ts_factor_by_kind((ts_factor_kind)row->kind);

	/* Unconfirmed rows (an enrolment under way) and kinds this build
	 * does not have are not shown. */
	if (!f || !row->confirmed || (f->flags & TS_FACTOR_F_ROWLESS))
		return 0;
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 8;
		ts_factor_info *v = realloc(l->v, (size_t)cap * sizeof(*v));
		if (!v) {
			l->err = TS_E_NOMEM;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	info_of(row, f, &l->v[l->n++]);
	return 0;
}

ts_err
ts_auth_factor_list(ts_auth *a, const ts_principal *p, ts_factor_info_cb cb, void *arg)
{
	list_acc l = { 0 };
	ts_err r;

	if (p->scope != TS_SESSION_FULL)
		return TS_E_FORBIDDEN;
	r = SOPS(a)->factor_list(ST(a), p->user.id, 0, list_take, &l);
	if (r == TS_OK)
		r = l.err;
	for (int i = 0; r == TS_OK && i < l.n; i++)
		if (cb(arg, &l.v[i]))
			break;
	free(l.v);
	return r;
}

/* Deletes u's row factor_id; guard: apply the last-factor rule. */
static ts_err
remove_row(ts_auth *a, const ts_user *u, const ts_tenant *t, const char *factor_id, int guard,
           const ts_factor_ops **used)
{
	const ts_factor_ops *f;
	ts_factor_ctx c;
	ts_factor *row;
	unsigned keep = 0;
	ts_err r;

	*used = NULL;
	if (!factor_id || !ts_is_uuid(factor_id))
		return TS_E_NOT_FOUND;
	if (!(row = malloc(sizeof(*row))))
		return TS_E_NOMEM;
	if ((r = SOPS(a)->factor_get(ST(a), u->id, factor_id, row)) != TS_OK)
		goto out;
	if (!(f = ts_factor_by_kind((ts_factor_kind)row->kind))) {
		r = TS_E_NOT_FOUND;
		goto out;
	}
	/* In a tenant that requires MFA a primary factor goes only while
	 * another allowed one stays: the store judges that with the delete. */
	if (guard && t->mfa_required && !(f->flags & TS_FACTOR_F_BACKUP) && row->confirmed)
		keep = TS_FACTOR_PRIMARY & ts_factor_allowed(t);
	r = SOPS(a)->factor_delete(ST(a), u->id, factor_id, keep);
	if (r == TS_E_CONFLICT)
		r = TS_E_LAST_FACTOR;
	if (r != TS_OK)
		goto out;
	*used = f;
	if (f->removed) {
		ctx_init(&c, a, u, t);
		f->removed(&c, row);
	}
out:
	ts_wipe(row, sizeof(*row));
	free(row);
	return r;
}

ts_err
ts_auth_factor_remove(ts_auth *a, const ts_principal *p, const char *factor_id)
{
	const ts_factor_ops *f;
	ts_err r;

	if (p->scope != TS_SESSION_FULL)
		return TS_E_FORBIDDEN;
	/* A stolen token alone must not strip the account's factors: the
	 * sign-in behind it must be recent. */
	if (ts_now() - p->session.created_at > TS_FACTOR_REAUTH_SECS)
		return TS_E_REAUTH_REQUIRED;
	r = remove_row(a, &p->user, &p->tenant, factor_id, 1, &f);
	if (r == TS_OK)
		ts_audit(a, "mfa_removed", "user", p->user.id, "tenant", p->tenant.slug, "method",
		         f->name, "factor", factor_id, NULL);
	else if (r == TS_E_LAST_FACTOR)
		ts_audit(a, "mfa_remove_refused", "user", p->user.id, "tenant", p->tenant.slug,
		         "factor", factor_id, "reason", "last_factor", NULL);
	return r;
}

ts_err
ts_auth_factor_admin_remove(ts_auth *a, const ts_user *u, const char *factor_id,
                            const char *actor)
{
	const ts_factor_ops *f;
	ts_tenant t;
	ts_err r;

	if ((r = SOPS(a)->tenant_by_id(ST(a), u->tenant_id, &t)) != TS_OK)
		return r;
	r = remove_row(a, u, &t, factor_id, 0, &f);
	if (r == TS_OK)
		ts_audit(a, "mfa_removed", "user", u->id, "tenant", t.slug, "method", f->name,
		         "factor", factor_id, "actor", actor ? actor : "", NULL);
	return r;
}

/* ---- the policy, for administrators ---- */

ts_err
ts_factor_mask_parse(const char *list, unsigned *mask)
{
	char buf[256], *save = NULL;

	*mask = 0;
	if (!list || strcmp(list, "default") == 0)
		return TS_OK;
	if (strlen(list) >= sizeof(buf))
		return TS_E_INVALID;
	ts_strlcpy(buf, list, sizeof(buf));
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const ts_factor_ops *f = ts_factor_by_name(t);
		if (!f)
			return TS_E_INVALID;
		*mask |= TS_FACTOR_BIT(f->kind);
	}
	return *mask ? TS_OK : TS_E_INVALID;
}

ts_err
ts_admin_tenant_mfa(ts_store *s, const char *slug, int required, const char *factors)
{
	ts_tenant t;
	unsigned mask;
	ts_err r;

	if ((r = ts_factor_mask_parse(factors, &mask)) != TS_OK)
		return r;
	if ((r = s->ops->tenant_by_slug(s, slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	/* Requiring MFA with nothing a user could enrol would lock everyone
	 * in the enrolment flow. */
	if (required && !((mask ? mask : TS_FACTOR_DEFAULT) & TS_FACTOR_PRIMARY))
		return TS_E_INVALID;
	if ((r = s->ops->tenant_set_mfa(s, t.id, required, mask)) == TS_OK)
		ts_log_event(TS_LOG_INFO, "tenant_mfa_set", "tenant", t.slug, "required",
		             required ? "yes" : "no", "factors", factors ? factors : "default", NULL);
	return r;
}
