/* Administration used by the CLI (and later an admin API): tenants, users,
 * passwords. Policy checks live here so every way in applies them. */
#include <string.h>

#include "auth/auth_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/hash.h"

ts_err
ts_admin_tenant_add(ts_store *s, const char *slug, int mfa_required, ts_tenant *out)
{
	memset(out, 0, sizeof(*out));
	if (!slug || !ts_slug_valid(slug))
		return TS_E_INVALID;
	ts_uuid4(out->id);
	ts_strlcpy(out->slug, slug, sizeof(out->slug));
	out->mfa_required = mfa_required;
	out->created_at = ts_now();
	return s->ops->tenant_create(s, out);
}

ts_err
ts_admin_tenant_domain(ts_store *s, const ts_tenant *t, const char *host)
{
	char h[TS_HOST_MAX + 1];

	if (!host || !*host || strlen(host) > TS_HOST_MAX || strpbrk(host, " /:@\t"))
		return TS_E_INVALID;
	ts_strlcpy(h, host, sizeof(h));
	ts_ascii_lower(h);
	return s->ops->tenant_add_domain(s, t->id, h);
}

/* NIST SP 800-63B §5.1.1.2: at least 8 characters; we cap at 1024 bytes so
 * a hash request cannot be made arbitrarily expensive. */
static ts_err
password_policy(const char *pw, size_t len)
{
	if (!pw || len < TS_PASSWORD_MIN || len > TS_PASSWORD_MAX)
		return TS_E_PASSWORD_POLICY;
	if (!ts_utf8_valid(pw, len))
		return TS_E_PASSWORD_POLICY;
	return TS_OK;
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
	if ((r = password_policy(password, pwlen)) != TS_OK)
		return r;
	if ((r = s->ops->tenant_by_slug(s, tenant_slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	ts_uuid4(out->id);
	ts_strlcpy(out->tenant_id, t.id, sizeof(out->tenant_id));
	ts_strlcpy(out->email, email, sizeof(out->email));
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

	if ((r = s->ops->tenant_by_slug(s, tenant_slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	return s->ops->user_by_email(s, t.id, email, out);
}

ts_err
ts_admin_user_set_password(ts_store *s, const ts_pw_cost *c, const ts_user *u,
                           const char *password, size_t pwlen)
{
	char phc[TS_PHC_MAX];
	ts_err r;

	if ((r = password_policy(password, pwlen)) != TS_OK)
		return r;
	if ((r = ts_pw_hash(c, password, pwlen, phc)) != TS_OK)
		return r;
	r = s->ops->user_set_password(s, u->id, phc);
	ts_wipe(phc, sizeof(phc));
	return r;
}

ts_err
ts_admin_unlock(ts_store *s, const char *tenant_slug, const char *email)
{
	ts_tenant t;
	ts_login_req req = { .email = email, .tenant_slug = tenant_slug };
	char key[TS_ACCOUNT_KEY_MAX];
	ts_err r;

	if ((r = s->ops->tenant_by_slug(s, tenant_slug, &t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TENANT_UNKNOWN : r;
	ts_account_key(&t, &req, key, sizeof(key));
	if ((r = s->ops->lock_clear(s, key)) != TS_OK)
		return r;
	/* The second-factor count too (mfa_lock.c), when the user exists. */
	ts_user u;
	if (s->ops->user_by_email(s, t.id, email, &u) == TS_OK) {
		ts_mfa_lock_key(u.id, key, sizeof(key));
		memset(u.password_hash, 0, sizeof(u.password_hash));
		if ((r = s->ops->lock_clear(s, key)) != TS_OK)
			return r;
	}
	ts_log_event(TS_LOG_INFO, "account_unlocked", "tenant", t.slug, "reason", "admin", NULL);
	return TS_OK;
}
