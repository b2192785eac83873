/* Contract 003, px0 login: POST {prefix}/v1/auth/login {email, password}
 * answers {token, expires_at, user}. The token is opaque and uuid-shaped,
 * good as a Bearer token on the native GET /v1/auth/me until expires_at;
 * there is no refresh token. Errors are {error} with the contract's fixed
 * texts. Tenant: the Host's domain, else the default tenant. docs/FACES.md
 * lists every answer and what produces it. */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/util.h"
#include "crypto/hash.h"

typedef struct px0_err {
	int status;
	const char *error;
	int retry_after;
} px0_err;

/* The one table from engine errors to this face's answers. No default:
 * a new ts_err makes the compiler ask for its row. The face's own refusal
 * of a user with a second factor (this API has no MFA step) travels as
 * TS_E_MFA_INVALID, decided only after the password was verified. */
static px0_err
px0_map(ts_err e)
{
	switch (e) {
	case TS_OK:
	case TS_E_NOMEM:
	case TS_E_INTERNAL:
	case TS_E_SEAL:              /* a stored secret that does not open: ours to fix */
	case TS_E_PERMISSION:        /* only the admin API (000) refuses with it */
	case TS_E_OIDC_CLIENT:       /* only the OpenID Connect endpoints (oidc.c) */
	case TS_E_OIDC_GRANT:
	case TS_E_OIDC_UNAUTHORIZED:
	case TS_E_OIDC_SCOPE:
	case TS_E_CONFLICT:
	case TS_E_NOT_FOUND:
	case TS_E_FORBIDDEN:
	case TS_E_TOKEN_INVALID:
	case TS_E_TOKEN_EXPIRED:
	case TS_E_TENANT_MISMATCH:
	case TS_E_SESSION_REVOKED:
	case TS_E_TOKEN_REUSED:
	case TS_E_CHALLENGE_INVALID:
	case TS_E_MFA_NOT_ENROLLED:
	case TS_E_EMAIL_SEND:
	case TS_E_MAIL_UNCONFIGURED:
	case TS_E_ENROLL_PROOF_REQUIRED:
	case TS_E_REAUTH_REQUIRED:
	case TS_E_LAST_FACTOR:
	case TS_E_REGISTRATION_CLOSED: /* no self-service route here */
	case TS_E__COUNT:
		return (px0_err){ 500, "internal error", 0 };
	case TS_E_INVALID:
	case TS_E_PASSWORD_POLICY:
	case TS_E_TENANT_CONFLICT:   /* the contract has one 400 text */
		return (px0_err){ 400, "invalid request body", 0 };
	case TS_E_TENANT_UNKNOWN:
	case TS_E_BAD_CREDENTIALS:
		return (px0_err){ 401, "invalid credentials", 0 };
	case TS_E_NOT_VERIFIED:
		return (px0_err){ 403, "user is not verified", 0 };
	case TS_E_MFA_INVALID:
		return (px0_err){ 403, "multi-factor authentication required", 0 };
	case TS_E_LOCKED:
	case TS_E_RATE_LIMITED:
		return (px0_err){ 429, "too many requests", 60 };
	case TS_E_STORE_UNAVAILABLE:
		return (px0_err){ 503, "service unavailable", 5 };
	case TS_E_OVERLOADED:
		return (px0_err){ 503, "server busy", 1 };
	}
	return (px0_err){ 500, "internal error", 0 };
}

static ts_http_action
px0_error(ts_http_resp *resp, ts_err e, int retry_after)
{
	px0_err m = px0_map(e);

	resp->retry_after = retry_after > 0 ? retry_after : m.retry_after;
	resp->log_note = ts_errname(e);
	api_reply(resp, m.status, json_pack("{s:s}", "error", m.error));
	return TS_HTTP_DONE;
}

ts_http_action
api_px0_reject(ts_http_resp *resp, const char *reason)
{
	(void)reason;   /* the contract's 400 has one fixed text */
	return px0_error(resp, TS_E_INVALID, 0);
}

/* The contract's LoginRequest: both required strings, email in email
 * format. Anything else is the one 400 of this face. */
static int
login_fields_ok(json_t *body, ts_login_req *lr)
{
	if (api_get_string(body, "email", &lr->email) != 1 ||
	    api_get_string(body, "password", &lr->password) != 1)
		return 0;
	lr->password_len = strlen(lr->password);
	return ts_email_valid(lr->email) && lr->password_len > 0 &&
	       lr->password_len <= TS_PASSWORD_MAX;
}

static void
login_job_run(void *arg, ts_http_resp *resp)
{
	api_login_job *j = arg;
	ts_login_ok ok;
	ts_tokens t;
	json_t *o;
	/* The padding holds the answer, not this hashing worker. */
	ts_err r = ts_auth_password_at(j->api->auth, &j->req, &ok, &resp->not_before_us);

	/* A second factor is due and this API cannot take one. */
	if (r == TS_OK && ok.next != TS_NEXT_SESSION)
		r = TS_E_MFA_INVALID;
	if (r == TS_OK)
		r = ts_auth_start_session_access(j->api->auth, &ok.user, "pwd", TS_ACCESS_OPAQUE, &t);
	if (r != TS_OK) {
		px0_error(resp, r, 0);
	} else {
		o = json_pack("{s:s, s:o, s:o}", "token", t.access, "expires_at",
		              api_time_json(t.access_expires_at), "user", api_user_json(&ok.user, NULL));
		api_reply(resp, o ? 200 : 500, o);
		ts_wipe(&t, sizeof(t));
	}
	api_login_job_free(j);
}

static ts_http_action
post_login(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	api_login_job *j;
	json_t *body;
	int wait = 0;
	ts_err r;

	if (api_parse_body(req, &body) != BODY_OK)
		return px0_error(resp, TS_E_INVALID, 0);
	if (!(j = calloc(1, sizeof(*j)))) {
		json_decref(body);
		return px0_error(resp, TS_E_NOMEM, 0);
	}
	j->api = api;
	j->body = body;
	if (!login_fields_ok(body, &j->req)) {
		api_login_job_free(j);
		return px0_error(resp, TS_E_INVALID, 0);
	}
	if ((r = api_login_defer(req, j, login_job_run, &wait)) != TS_OK)
		return px0_error(resp, r, wait);
	return TS_HTTP_DEFERRED;
}

const api_route api_px0_routes[] = {
	{ FACE_PX0, "POST", "/v1/auth/login", post_login, 0 },
	{ 0, NULL, NULL, NULL, 0 },
};
