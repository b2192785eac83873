/* Contract 001, the IAM two-step login.
 *   POST {prefix}/me/auth-tokens {email, password}
 *     -> 201 {authToken, is2FARequired}: a short-lived, single-use token.
 *   POST {prefix}/me/sessions {authToken, otpCode?}   (the "create session"
 *     step the contract refers to)
 *     -> 201 {accessToken, refreshToken, expiresIn, tokenType:"Bearer"}.
 * When is2FARequired is true, otpCode is the user's TOTP code or, for a user
 * without TOTP whose tenant requires MFA, the code mailed at step 1.
 * Errors are exactly {group, code, message?, traces?, validationDetail?}.
 * Tenant: the Host's domain, else the default tenant. docs/FACES.md lists
 * every answer and what produces it. */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/util.h"
#include "crypto/hash.h"

/* What the face was doing when an error came: the contract tells its 500s
 * apart by step, and its two 400s of the request group by body presence. */
typedef enum {
	IAM_AT_BODY,                 /* looking for a body: there was none */
	IAM_AT_FIELDS,               /* reading the body and its fields */
	IAM_AT_LOGIN,                /* checking the password (getting the user) */
	IAM_AT_TOKEN,                /* making and saving the auth token */
	IAM_AT_CODE,                 /* making, saving and mailing the code */
	IAM_AT_SESSION,              /* exchanging the auth token for a session */
} iam_stage;

typedef struct iam_err {
	int status;
	const char *group;
	int code;
	const char *message;
	int retry_after;
} iam_err;

/* The one table from engine errors to this face's answers. No default in
 * either switch: a new ts_err or stage makes the compiler ask for its row.
 * Faults (store, memory) are told apart by stage, as the contract does. */
static iam_err
iam_map(ts_err e, iam_stage st)
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
	case TS_E_STORE_UNAVAILABLE:
	case TS_E_MFA_NOT_ENROLLED:
	case TS_E_MAIL_UNCONFIGURED:
	case TS_E_ENROLL_PROOF_REQUIRED:
	case TS_E_REAUTH_REQUIRED:
	case TS_E_LAST_FACTOR:
	case TS_E_REGISTRATION_CLOSED: /* no self-service route here */
	case TS_E__COUNT:
		switch (st) {
		case IAM_AT_LOGIN:
			return (iam_err){ 500, "user", 1200, "Get user encountered DB error.", 0 };
		case IAM_AT_BODY:
		case IAM_AT_FIELDS:
		case IAM_AT_TOKEN:
			if (e == TS_E_NOMEM)
				return (iam_err){ 500, "session", 200, "Failed to create auth token.", 0 };
			return (iam_err){ 500, "session", 201, "Failed to save auth token data.", 0 };
		case IAM_AT_CODE:
			/* No mail server configured: a code is due but cannot go. */
			if (e == TS_E_MAIL_UNCONFIGURED)
				return (iam_err){ 500, "session", 207,
				                  "Unsupported OTP code delivery method.", 0 };
			return (iam_err){ 500, "session", 204, "Failed to create OTP code.", 0 };
		case IAM_AT_SESSION:
			return (iam_err){ 500, "session", 210, "Failed to create session.", 0 };
		}
		break;
	case TS_E_INVALID:
	case TS_E_PASSWORD_POLICY:
		if (st == IAM_AT_BODY)
			return (iam_err){ 400, "request", 1, "The request body is required.", 0 };
		return (iam_err){ 400, "request", 0, "Invalid field in the request body.", 0 };
	case TS_E_TENANT_CONFLICT:
		return (iam_err){ 400, "request", 0,
		                  "The request names two different tenants (X-Tenant-Slug, Host).", 0 };
	case TS_E_TENANT_UNKNOWN:
	case TS_E_BAD_CREDENTIALS:
	case TS_E_NOT_VERIFIED:
		/* The contract has one credentials answer; an unverified account
		 * gets it too, after the same work. */
		return (iam_err){ 400, "session", 0, "Invalid email or password.", 0 };
	case TS_E_MFA_INVALID:
		return (iam_err){ 400, "session", 1, "Invalid OTP code.", 0 };
	case TS_E_CHALLENGE_INVALID:
	case TS_E_TOKEN_INVALID:
	case TS_E_TOKEN_EXPIRED:
	case TS_E_TOKEN_REUSED:
	case TS_E_TENANT_MISMATCH:
	case TS_E_SESSION_REVOKED:
		return (iam_err){ 400, "session", 2, "Invalid or expired auth token.", 0 };
	case TS_E_LOCKED:
	case TS_E_RATE_LIMITED:
		return (iam_err){ 429, "rate-limit", 0, "Rate limit exceeded.", 60 };
	case TS_E_EMAIL_SEND:
		return (iam_err){ 500, "email", 0, "Failed to send email.", 0 };
	case TS_E_OVERLOADED:
		return (iam_err){ 503, "server", 0, "The server is busy; try again shortly.", 1 };
	}
	return (iam_err){ 500, "session", 210, "Failed to create session.", 0 };
}

/* Renders an error. details (stolen, may be NULL) becomes validationDetail;
 * message may override the table's text. */
static ts_http_action
iam_error(ts_http_resp *resp, ts_err e, iam_stage st, json_t *details, const char *message,
          int retry_after)
{
	iam_err m = iam_map(e, st);
	json_t *body = json_pack("{s:s, s:i, s:s}", "group", m.group, "code", m.code, "message",
	                         message ? message : m.message);

	if (body && m.status >= 500)
		json_object_set_new(body, "traces", json_pack("[s]", ts_strerror(e)));
	if (body && details && json_array_size(details))
		json_object_set(body, "validationDetail", details);
	json_decref(details);
	resp->retry_after = retry_after > 0 ? retry_after : m.retry_after;
	resp->log_note = m.group;
	api_reply(resp, m.status, body);
	return TS_HTTP_DONE;
}

ts_http_action
api_iam_reject(ts_http_resp *resp, const char *reason)
{
	return iam_error(resp, TS_E_INVALID, IAM_AT_FIELDS, NULL, reason, 0);
}

/* ---- request validation: the contract's validationDetail ---- */

static void
add_detail(json_t *details, const char *field, const char *expression, const char *argument,
           json_t *original, const char *reason)
{
	json_t *d = json_pack("{s:s, s:s, s:o, s:s}", "field", field, "expression", expression,
	                      "originalValue", original ? original : json_string(""),
	                      "reason", reason);

	if (d && argument)
		json_object_set_new(d, "argument", json_string(argument));
	json_array_append_new(details, d);
}

/* Checks one string member, adding a detail when it fails: absent, null and
 * "" are "required" (Go's binding:"required"), another type is "type".
 * echo: whether originalValue may repeat what was sent (never for secrets).
 * Returns the string or NULL. */
static const char *
check_string(json_t *body, const char *key, int required, int echo, json_t *details)
{
	json_t *v = json_object_get(body, key);

	if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v))) {
		if (required)
			add_detail(details, key, "required", NULL, NULL, "This field is required.");
		return NULL;
	}
	if (!json_is_string(v)) {
		add_detail(details, key, "type", "string", echo ? json_incref(v) : NULL,
		           "This field must be a string.");
		return NULL;
	}
	return json_string_value(v);
}

/* Parses the body; on failure the 400 is already in resp. */
static json_t *
parse_or_400(ts_http_req *req, ts_http_resp *resp)
{
	json_t *body;
	api_body b = api_parse_body(req, &body);

	if (b == BODY_MISSING) {
		iam_error(resp, TS_E_INVALID, IAM_AT_BODY, NULL, NULL, 0);
		return NULL;
	}
	if (b != BODY_OK) {
		iam_error(resp, TS_E_INVALID, IAM_AT_FIELDS, NULL, api_body_reason(b), 0);
		return NULL;
	}
	return body;
}

/* ---- POST /me/auth-tokens ---- */

/* Field checks done before any hashing, the same for every account; every
 * failing field is reported. */
static int
token_fields_ok(json_t *body, ts_login_req *lr, ts_http_resp *resp)
{
	json_t *details = json_array();

	if (!details) {
		iam_error(resp, TS_E_NOMEM, IAM_AT_FIELDS, NULL, NULL, 0);
		return 0;
	}
	lr->email = check_string(body, "email", 1, 1, details);
	if (lr->email && !ts_email_valid(lr->email))
		add_detail(details, "email", "email", NULL, json_string(lr->email),
		           "This field must be a valid email address.");
	lr->password = check_string(body, "password", 1, 0, details);
	lr->password_len = lr->password ? strlen(lr->password) : 0;
	if (lr->password_len > TS_PASSWORD_MAX)
		add_detail(details, "password", "max", "1024", NULL,
		           "This field must be at most 1024 bytes long.");
	if (json_array_size(details)) {
		iam_error(resp, TS_E_INVALID, IAM_AT_FIELDS, details, NULL, 0);
		return 0;
	}
	json_decref(details);
	return 1;
}

static void
token_job_run(void *arg, ts_http_resp *resp)
{
	api_login_job *j = arg;
	ts_login_ok ok;
	ts_iam_token t;
	ts_err r;
	iam_stage st = IAM_AT_LOGIN;

	memset(&t, 0, sizeof(t));
	/* The padding holds the answer, not this hashing worker. */
	r = ts_auth_password_at(j->api->auth, &j->req, &ok, &resp->not_before_us);
	if (r == TS_OK) {
		st = IAM_AT_TOKEN;
		r = ts_auth_iam_token(j->api->auth, &ok, &t);
	}
	if (r == TS_OK && t.method == TS_IAM_EMAIL) {
		st = IAM_AT_CODE;
		r = ts_auth_iam_mail_code(j->api->auth, &ok.user, &t);
	}
	if (r != TS_OK)
		iam_error(resp, r, st, NULL, NULL, 0);
	else
		api_reply(resp, 201, json_pack("{s:s, s:b}", "authToken", t.token, "is2FARequired",
		                               t.method != TS_IAM_NO_CODE));
	ts_wipe(&t, sizeof(t));
	api_login_job_free(j);
}

static ts_http_action
post_auth_tokens(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	api_login_job *j;
	json_t *body = parse_or_400(req, resp);
	int wait = 0;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!(j = calloc(1, sizeof(*j)))) {
		json_decref(body);
		return iam_error(resp, TS_E_NOMEM, IAM_AT_FIELDS, NULL, NULL, 0);
	}
	j->api = api;
	j->body = body;
	if (!token_fields_ok(body, &j->req, resp)) {
		api_login_job_free(j);
		return TS_HTTP_DONE;
	}
	/* The hash (and any mail) runs on a worker. */
	if ((r = api_login_defer(req, j, token_job_run, &wait)) != TS_OK)
		return iam_error(resp, r, IAM_AT_LOGIN, NULL, NULL, wait);
	return TS_HTTP_DEFERRED;
}

/* ---- POST /me/sessions ---- */

static ts_http_action
post_sessions(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = parse_or_400(req, resp), *details = NULL;
	const char *token, *code;
	ts_tokens t;
	ts_user u;
	int wait = 0;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!(details = json_array())) {
		iam_error(resp, TS_E_NOMEM, IAM_AT_SESSION, NULL, NULL, 0);
		goto out;
	}
	token = check_string(body, "authToken", 1, 1, details);
	code = check_string(body, "otpCode", 0, 1, details);
	if (json_array_size(details)) {
		iam_error(resp, TS_E_INVALID, IAM_AT_FIELDS, details, NULL, 0);
		details = NULL;
		goto out;
	}
	ts_tenant_hints h = { NULL, ts_http_header(req, "X-Tenant-Slug"), req->host };
	r = ts_auth_iam_session_for(api->auth, token, code, &h, &t, &u, &wait);
	if (r != TS_OK) {
		iam_error(resp, r, IAM_AT_SESSION, NULL, NULL, wait);
		goto out;
	}
	api_reply(resp, 201, json_pack("{s:s, s:s, s:I, s:s}", "accessToken", t.access,
	                               "refreshToken", t.refresh, "expiresIn",
	                               (json_int_t)t.expires_in, "tokenType", "Bearer"));
	ts_wipe(&t, sizeof(t));
out:
	json_decref(details);
	json_decref(body);
	return TS_HTTP_DONE;
}

const api_route api_iam_routes[] = {
	{ FACE_IAM, "POST", "/me/auth-tokens", post_auth_tokens, 0 },
	{ FACE_IAM, "POST", "/me/sessions", post_sessions, 0 },
	{ 0, NULL, NULL, NULL, 0 },
};
