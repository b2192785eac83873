/* Tessera as an OpenID Connect provider (issue 11): the clients of each
 * tenant, managed under the administration rules of auth/admin.h (another
 * tenant's client is TS_E_NOT_FOUND; every change audited). Knows no HTTP
 * or JSON. docs/OIDC.md. */
#ifndef TS_AUTH_OIDC_H
#define TS_AUTH_OIDC_H

#include "auth/admin.h"

/* What a client may ask for; anything else is refused. */
#define TS_OIDC_GRANTS "authorization_code refresh_token client_credentials"
#define TS_OIDC_SCOPES "openid email profile offline_access"
#define TS_OIDC_URIS_MAX 16          /* per list */
#define TS_OIDC_URI_MAX 512
/* Lifetime bounds (seconds) of what a client may set; 0 = the default. */
#define TS_OIDC_TTL_MIN 60
#define TS_OIDC_ACCESS_TTL_MAX 86400
#define TS_OIDC_REFRESH_TTL_MAX (90 * 86400)
#define TS_OIDC_ID_TTL_MAX 86400

/* A list given in a change: set 0 = unchanged. */
typedef struct ts_oidc_strs {
	int set;
	const char *const *v;
	int n;
} ts_oidc_strs;

/* A change of a client: NULL / set 0 leaves a field as it is. */
typedef struct ts_oidc_client_patch {
	const char *name;
	ts_oidc_strs redirect_uris, post_logout_uris, grant_types, scopes;
	int set_first_party, first_party;
	int set_access_ttl, set_refresh_ttl, set_id_ttl;
	int64_t access_ttl, refresh_ttl, id_ttl;
} ts_oidc_client_patch;

/* A new client of tenant slug. confidential: secret gets its secret
 * (256 random bits, base64url; shown once, only its hash is kept), else
 * secret is "". Defaults: grant authorization_code (with refresh_token),
 * scopes openid email profile; a confidential client may also have
 * client_credentials, a public one may not. TS_E_TENANT_UNKNOWN (also for
 * a tenant the actor may not see), TS_E_INVALID with *bad naming the
 * field. */
ts_err ts_admin_client_new(ts_auth *a, const ts_actor *who, const char *slug,
                           const ts_oidc_client_patch *p, int confidential,
                           char secret[TS_SECRET_TEXT_LEN + 1], ts_oidc_client *out,
                           const char **bad);
ts_err ts_admin_client_list(ts_auth *a, const ts_actor *who, const char *slug,
                            ts_oidc_client_cb cb, void *arg);
/* NOT_FOUND for a client of another tenant (or none). */
ts_err ts_admin_client_get(ts_auth *a, const ts_actor *who, const char *slug, const char *id,
                           ts_oidc_client *out);
ts_err ts_admin_client_set(ts_auth *a, const ts_actor *who, const char *slug, const char *id,
                           const ts_oidc_client_patch *p, ts_oidc_client *out,
                           const char **bad);
ts_err ts_admin_client_remove(ts_auth *a, const ts_actor *who, const char *slug,
                              const char *id);

/* 1 when word is one of the space-separated words of list. */
int ts_oidc_has_word(const char *list, const char *word);

#endif
