/* Contract 000, the admin token: POST {prefix}/auth/token {email, password}
 * answers {accessToken (JWT), tokenType:"bearer", expiresIn}. Only for
 * verified administrators without a second factor (this API has no MFA
 * step). Errors are {error, code, details?}. Tenant: the Host's domain,
 * else the default tenant; the body names none. docs/FACES.md lists every
 * answer and what produces it. */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/util.h"
#include "crypto/hash.h"

typedef struct admin_err {
	int status;
	const char *code;
	const char *error;
	int retry_after;
} admin_err;

/* The one table from engine errors to this face's answers. No default:
 * a new ts_err makes the compiler ask for its row. Two refusals of this
 * face travel as engine codes too: TS_E_FORBIDDEN (not an administrator)
 * and TS_E_MFA_INVALID (a second factor is needed, and this API cannot
 * take one). Both are only decided after the password was verified. */
static admin_err
admin_map(ts_err e)
{
	switch (e) {
	case TS_OK:
	case TS_E_NOMEM:
	case TS_E_INTERNAL:
	case TS_E_SEAL:              /* a stored secret that does not open: ours to fix */
	case TS_E_CONFLICT:
	case TS_E_NOT_FOUND:
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
	case TS_E__COUNT:
		return (admin_err){ 500, "internal_error", "Internal error.", 0 };
	case TS_E_INVALID:
	case TS_E_PASSWORD_POLICY:
		return (admin_err){ 400, "invalid_request", "The request is invalid.", 0 };
	case TS_E_TENANT_CONFLICT:
		return (admin_err){ 400, "tenant_conflict",
		                    "The request names two different tenants (X-Tenant-Slug, Host).", 0 };
	case TS_E_TENANT_UNKNOWN:
	case TS_E_BAD_CREDENTIALS:
		return (admin_err){ 401, "invalid_credentials", "Invalid email or password.", 0 };
	case TS_E_NOT_VERIFIED:
		return (admin_err){ 401, "email_not_verified", "The email address is not verified.", 0 };
	case TS_E_FORBIDDEN:
		return (admin_err){ 401, "not_admin", "This account is not an administrator.", 0 };
	case TS_E_MFA_INVALID:
		return (admin_err){ 401, "mfa_required",
		                    "This account needs a second factor, which this API cannot take.", 0 };
	case TS_E_LOCKED:
	case TS_E_RATE_LIMITED:
		return (admin_err){ 429, "rate_limited", "Too many attempts; try again later.", 60 };
	case TS_E_STORE_UNAVAILABLE:
		return (admin_err){ 503, "store_unavailable", "The store is unavailable; try again.", 5 };
	case TS_E_OVERLOADED:
		return (admin_err){ 503, "overloaded", "The server is busy; try again shortly.", 1 };
	}
	return (admin_err){ 500, "internal_error", "Internal error.", 0 };
}

/* Renders an engine error; field and reason (may be NULL) go to details. */
static ts_http_action
admin_error(ts_http_resp *resp, ts_err e, const char *field, const char *reason, int retry_after)
{
	admin_err m = admin_map(e);
	json_t *body = json_pack("{s:s, s:s}", "error", m.error, "code", m.code);

	if (body && (field || reason)) {
		json_t *d = json_object();
		if (field)
			json_object_set_new(d, "field", json_string(field));
		if (reason)
			json_object_set_new(d, "reason", json_string(reason));
		json_object_set_new(body, "details", d);
	}
	resp->retry_after = retry_after > 0 ? retry_after : m.retry_after;
	resp->log_note = m.code;
	api_reply(resp, m.status, body);
	return TS_HTTP_DONE;
}

static ts_http_action
bad_request(ts_http_resp *resp, const char *field, const char *reason)
{
	return admin_error(resp, TS_E_INVALID, field, reason, 0);
}

ts_http_action
api_admin_reject(ts_http_resp *resp, const char *reason)
{
	return bad_request(resp, NULL, reason);
}

/* Field checks done before any hashing, the same for every account. */
static int
token_fields_ok(json_t *body, ts_login_req *lr, ts_http_resp *resp)
{
	if (!(lr->email = api_string_or_400(body, "email", resp, bad_request)))
		return 0;
	if (!(lr->password = api_string_or_400(body, "password", resp, bad_request)))
		return 0;
	lr->password_len = strlen(lr->password);
	if (!ts_email_valid(lr->email)) {
		bad_request(resp, "email", "must be a valid email address");
		return 0;
	}
	if (lr->password_len == 0) {
		bad_request(resp, "password", "required");
		return 0;
	}
	if (lr->password_len > TS_PASSWORD_MAX) {
		bad_request(resp, "password", "must be at most 1024 bytes");
		return 0;
	}
	return 1;
}

static void
token_job_run(void *arg, ts_http_resp *resp)
{
	api_login_job *j = arg;
	ts_login_ok ok;
	ts_tokens t;
	ts_err r = ts_auth_password(j->api->auth, &j->req, &ok);

	/* Refusals after a correct password: the caller has proven the
	 * password, so saying why is safe. */
	if (r == TS_OK && !ok.user.is_admin)
		r = TS_E_FORBIDDEN;
	else if (r == TS_OK && ok.next != TS_NEXT_SESSION)
		r = TS_E_MFA_INVALID;
	if (r == TS_OK)
		r = ts_auth_start_session_access(j->api->auth, &ok.user, "pwd", TS_ACCESS_JWT, &t);
	if (r != TS_OK) {
		admin_error(resp, r, NULL, NULL, 0);
	} else {
		api_reply(resp, 200, json_pack("{s:s, s:s, s:I}", "accessToken", t.access,
		                               "tokenType", "bearer", "expiresIn",
		                               (json_int_t)t.expires_in));
		ts_wipe(&t, sizeof(t));
	}
	api_login_job_free(j);
}

static ts_http_action
post_token(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	api_login_job *j;
	json_t *body = api_body_or_400(req, resp, bad_request);
	int wait = 0;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!(j = calloc(1, sizeof(*j)))) {
		json_decref(body);
		return admin_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	}
	j->api = api;
	j->body = body;
	if (!token_fields_ok(body, &j->req, resp)) {
		api_login_job_free(j);
		return TS_HTTP_DONE;
	}
	if ((r = api_login_defer(req, j, token_job_run, &wait)) != TS_OK)
		return admin_error(resp, r, NULL, NULL, wait);
	return TS_HTTP_DEFERRED;
}

const api_route api_admin_routes[] = {
	{ FACE_ADMIN, "POST", "/auth/token", post_token },
	{ 0, NULL, NULL, NULL },
};
