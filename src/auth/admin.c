/* Administration used by the CLI (and later an admin API): tenants, users,
 * passwords. Policy checks live here so every way in applies them. */
#include <stdio.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "auth/policy.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/hash.h"

ts_err
ts_admin_host_normal(const char *host, char out[TS_HOST_MAX + 1])
{
	size_t n = host ? strlen(host) : 0;

	out[0] = '\0';
	if (n > 0 && host[n - 1] == '.')
		n--;                          /* "a.example." names "a.example" */
	if (n == 0 || n > TS_HOST_MAX)
		return TS_E_INVALID;
	for (size_t i = 0; i < n; i++) {
		char c = host[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		         c == '-' || (c == '.' && i > 0 && host[i - 1] != '.' && i + 1 < n);
		if (!ok)
			return TS_E_INVALID;
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[n] = '\0';
	return TS_OK;
}

ts_err
ts_admin_tenant_create(ts_store *s, const char *slug, int mfa_required,
                       const char *const *hosts, int nhosts, ts_tenant *out, int *bad)
{
	return ts_admin_tenant_create_open(s, slug, mfa_required, 0, hosts, nhosts, out, bad);
}

ts_err
ts_admin_tenant_create_open(ts_store *s, const char *slug, int mfa_required,
                            int registration_open, const char *const *hosts, int nhosts,
                            ts_tenant *out, int *bad)
{
	char norm[TS_ADMIN_HOSTS_MAX][TS_HOST_MAX + 1];
	const char *list[TS_ADMIN_HOSTS_MAX];
	int dummy;

	if (!bad)
		bad = &dummy;
	*bad = -1;
	memset(out, 0, sizeof(*out));
	if (!slug || !ts_slug_valid(slug) || nhosts < 0 || nhosts > TS_ADMIN_HOSTS_MAX)
		return TS_E_INVALID;
	for (int i = 0; i < nhosts; i++) {
		if (ts_admin_host_normal(hosts[i], norm[i]) != TS_OK) {
			*bad = i;
			return TS_E_INVALID;
		}
		list[i] = norm[i];
	}
	ts_uuid4(out->id);
	ts_strlcpy(out->slug, slug, sizeof(out->slug));
	out->mfa_required = mfa_required;
	out->registration_open = registration_open != 0;
	out->created_at = ts_now();
	return s->ops->tenant_create_with_domains(s, out, list, nhosts);
}

ts_err
ts_admin_tenant_add(ts_store *s, const char *slug, int mfa_required, ts_tenant *out)
{
	return ts_admin_tenant_create(s, slug, mfa_required, NULL, 0, out, NULL);
}

ts_err
ts_admin_tenant_domain(ts_store *s, const ts_tenant *t, const char *host)
{
	char h[TS_HOST_MAX + 1];

	if (ts_admin_host_normal(host, h) != TS_OK)
		return TS_E_INVALID;
	return s->ops->tenant_add_domain(s, t->id, h);
}

ts_err
ts_admin_tenant_domain_remove(ts_store *s, const char *tenant_slug, const char *host)
{
	char h[TS_HOST_MAX + 1];
	ts_tenant t;
	ts_err r;

	if (ts_admin_host_normal(host, h) != TS_OK)
		return TS_E_INVALID;
	if ((r = s->ops->tenant_by_slug(s, tenant_slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	return s->ops->tenant_remove_domain(s, t.id, h);
}

/* The one password policy (policy.c); its reason is the caller's to ask
 * (ts_password_check) when it must tell the user which rule was missed. */
static ts_err
password_policy(const ts_tenant *t, const char *email, const char *pw, size_t len)
{
	ts_pw_reason why;

	if (!pw)
		return TS_E_PASSWORD_POLICY;
	ts_err r = ts_password_check(t, email, pw, len, &why);
	return r == TS_E_INVALID ? TS_E_PASSWORD_POLICY : r;
}

ts_err
ts_admin_user_add(ts_store *s, const ts_pw_cost *c, const char *tenant_slug,
                  const char *email, const char *password, size_t pwlen,
                  int verified, int admin, ts_user *out)
{
	ts_tenant t;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!email || !ts_email_valid(email))
		return TS_E_INVALID;
	if ((r = s->ops->tenant_by_slug(s, tenant_slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	if ((r = password_policy(&t, email, password, pwlen)) != TS_OK)
		return r;
	ts_uuid4(out->id);
	ts_strlcpy(out->tenant_id, t.id, sizeof(out->tenant_id));
	ts_strlcpy(out->email, email, sizeof(out->email));
	if (!ts_email_norm(email, out->email_norm))
		return TS_E_INVALID;
	out->is_verified = verified;
	out->is_admin = admin;
	out->created_at = ts_now();
	if ((r = ts_pw_hash(c, password, pwlen, out->password_hash)) != TS_OK)
		return r;
	r = s->ops->user_create(s, out);
	memset(out->password_hash, 0, sizeof(out->password_hash));
	return r;
}

ts_err
ts_admin_user_find(ts_store *s, const char *tenant_slug, const char *email, ts_user *out)
{
	ts_tenant t;
	ts_err r;

	char norm[TS_EMAIL_MAX + 1];

	if ((r = s->ops->tenant_by_slug(s, tenant_slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	if (!ts_email_norm(email, norm)) {
		memset(out, 0, sizeof(*out));
		return TS_E_NOT_FOUND;
	}
	return s->ops->user_by_email(s, t.id, norm, out);
}

ts_err
ts_admin_user_password(ts_store *s, const ts_pw_cost *c, const ts_user *u, const char *password,
                       size_t pwlen, const char *keep_session, int *ended)
{
	char phc[TS_PHC_MAX], n_text[16];
	int n = 0;
	ts_tenant t;
	ts_err r;

	if (ended)
		*ended = 0;
	if ((r = s->ops->tenant_by_id(s, u->tenant_id, &t)) != TS_OK)
		return r;
	if ((r = password_policy(&t, u->email, password, pwlen)) != TS_OK)
		return r;
	if ((r = ts_pw_hash(c, password, pwlen, phc)) != TS_OK)
		return r;
	/* Whoever knew the old password may hold a session: a new password
	 * is the owner taking the account back, so those sessions end with it
	 * (OWASP ASVS 3.3.3). */
	r = s->ops->user_set_password_revoke(s, u->id, phc, keep_session, ts_now(), &n);
	ts_wipe(phc, sizeof(phc));
	if (r != TS_OK)
		return r;
	if (ended)
		*ended = n;
	snprintf(n_text, sizeof(n_text), "%d", n);
	ts_log_event(TS_LOG_INFO, "password_set", "user", u->id, "sessions_ended", n_text, NULL);
	return TS_OK;
}

ts_err
ts_admin_user_set_password(ts_store *s, const ts_pw_cost *c, const ts_user *u,
                           const char *password, size_t pwlen)
{
	return ts_admin_user_password(s, c, u, password, pwlen, NULL, NULL);
}

ts_err
ts_admin_tenant_origin(ts_store *s, const ts_tenant *t, const char *origin, int add)
{
	char o[TS_ORIGIN_MAX + 1];

	if (!ts_origin_normalize(origin, o))
		return TS_E_INVALID;
	return add ? s->ops->tenant_add_origin(s, t->id, o) : s->ops->tenant_remove_origin(s, t->id, o);
}

ts_err
ts_admin_unlock(ts_store *s, const char *tenant_slug, const char *email)
{
	ts_tenant t;
	ts_login_req req = { .email = email, .tenant_slug = tenant_slug };
	char key[TS_ACCOUNT_KEY_MAX];
	ts_user u;
	ts_err r;

	if ((r = s->ops->tenant_by_slug(s, tenant_slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	char norm[TS_EMAIL_MAX + 1];

	if (!ts_email_norm(email, norm))
		return TS_E_NOT_FOUND;
	if ((r = s->ops->user_by_email(s, t.id, norm, &u)) != TS_OK)
		return r;                     /* NOT_FOUND: no such user */
	ts_account_key(&t, &req, key, sizeof(key));
	if ((r = s->ops->lock_clear(s, key)) != TS_OK)
		return r;
	/* The second-factor count too (mfa_lock.c). */
	memset(u.password_hash, 0, sizeof(u.password_hash));
	ts_mfa_lock_key(u.id, key, sizeof(key));
	if ((r = s->ops->lock_clear(s, key)) != TS_OK)
		return r;
	ts_log_event(TS_LOG_INFO, "account_unlocked", "tenant", t.slug, "user", u.id, "reason",
	             "admin", NULL);
	return TS_OK;
}
