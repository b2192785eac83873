/* Sessions with an access token and nothing else, for the contracts that
 * have no refresh token (000 admin, 003 px0): no refresh secret is made that
 * nobody could ever present, and the session ends with its only token. */
#include <string.h>

#include "auth/auth_internal.h"
#include "core/log.h"
#include "core/util.h"

ts_err
ts_auth_start_session_access(ts_auth *a, const ts_user *u, const char *amr,
                             int access_kind, ts_tokens *out)
{
	ts_session s;
	int64_t now = ts_now();
	ts_err r;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	ts_uuid4(s.id);
	ts_strlcpy(s.tenant_id, u->tenant_id, sizeof(s.tenant_id));
	ts_strlcpy(s.user_id, u->id, sizeof(s.user_id));
	s.kind = TS_SESSION_FULL;
	ts_strlcpy(s.amr, amr ? amr : "pwd", sizeof(s.amr));
	s.created_at = now;
	s.expires_at = now + a->cfg.access_ttl;
	if ((r = SOPS(a)->session_create(ST(a), &s)) != TS_OK)
		return r;
	r = ts_tokens_issue(a, &s, access_kind, 0, 1, out);
	if (r == TS_OK)
		ts_log_event(TS_LOG_INFO, "session_start", "session", s.id, "user", u->id,
		             "tenant", u->tenant_id, "amr", s.amr, "refresh", "none", NULL);
	return r;
}
