/* The native face: contract 002's tenant login, extended with refresh
 * tokens, the user object, logout, me, and TOTP. Errors are
 * {code, message, details?, notices?}. */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/util.h"
#include "crypto/hash.h"

typedef struct native_err {
	int status;
	const char *code;
	const char *message;
	int retry_after;
} native_err;

/* The one table from engine errors to this face's answers. No default:
 * a new ts_err makes the compiler ask for its row. */
static native_err
native_map(ts_err e)
{
	switch (e) {
	case TS_OK:
	case TS_E_NOMEM:
	case TS_E_INTERNAL:
	case TS_E_SEAL:              /* a stored secret that does not open: ours to fix */
	case TS_E_PERMISSION:        /* only the admin API (000) refuses with it */
		return (native_err){ 500, "internal_error", "Internal error.", 0 };
	case TS_E_INVALID:
		return (native_err){ 400, "invalid_request", "Malformed request body.", 0 };
	case TS_E_NOT_FOUND:
		return (native_err){ 404, "not_found", "Not found.", 0 };
	case TS_E_CONFLICT:
		return (native_err){ 409, "conflict", "Already exists.", 0 };
	case TS_E_STORE_UNAVAILABLE:
		return (native_err){ 503, "store_unavailable", "The store is unavailable; try again.", 5 };
	case TS_E_TENANT_UNKNOWN:
	case TS_E_BAD_CREDENTIALS:
		return (native_err){ 401, "invalid_credentials", "Invalid email or password.", 0 };
	case TS_E_NOT_VERIFIED:
		return (native_err){ 403, "email_not_verified", "Email not verified.", 0 };
	case TS_E_LOCKED:
		return (native_err){ 429, "rate_limited", "Too many failed attempts for this account; try again later.", 900 };
	case TS_E_FORBIDDEN:
		return (native_err){ 403, "forbidden", "This token does not allow this.", 0 };
	case TS_E_PASSWORD_POLICY:
		return (native_err){ 400, "password_policy", "The password must be 8 to 1024 bytes of UTF-8.", 0 };
	case TS_E_TOKEN_INVALID:
		return (native_err){ 401, "invalid_token", "The token is invalid.", 0 };
	case TS_E_TOKEN_EXPIRED:
		return (native_err){ 401, "token_expired", "The token has expired.", 0 };
	case TS_E_TENANT_MISMATCH:
		return (native_err){ 401, "tenant_mismatch", "The token belongs to another tenant.", 0 };
	case TS_E_SESSION_REVOKED:
		return (native_err){ 401, "session_revoked", "The session has ended.", 0 };
	case TS_E_TOKEN_REUSED:
		return (native_err){ 401, "token_reused", "The refresh token was already used; the session is revoked.", 0 };
	case TS_E_MFA_INVALID:
		return (native_err){ 401, "mfa_invalid", "Invalid verification code.", 0 };
	case TS_E_CHALLENGE_INVALID:
		return (native_err){ 401, "challenge_invalid", "Unknown or expired challenge.", 0 };
	case TS_E_MFA_NOT_ENROLLED:
		return (native_err){ 400, "mfa_not_enrolled", "That method is not enrolled.", 0 };
	case TS_E_RATE_LIMITED:
		return (native_err){ 429, "rate_limited", "Too many requests; try again later.", 60 };
	case TS_E_OVERLOADED:
		return (native_err){ 503, "overloaded", "The server is busy; try again shortly.", 1 };
	case TS_E_EMAIL_SEND:
		return (native_err){ 500, "email_failed", "The email could not be sent.", 0 };
	case TS_E_MAIL_UNCONFIGURED:
		return (native_err){ 501, "mail_unconfigured", "This server sends no mail.", 0 };
	case TS_E_ENROLL_PROOF_REQUIRED:
		return (native_err){ 403, "enrollment_proof_required", "Prove this enrolment first: a code mailed to you or an enrolment link from an administrator.", 0 };
	case TS_E_TENANT_CONFLICT:
		return (native_err){ 400, "tenant_conflict",
		                     "The request names two different tenants (body, X-Tenant-Slug, Host).", 0 };
	case TS_E__COUNT:
		break;
	}
	return (native_err){ 500, "internal_error", "Internal error.", 0 };
}

/* Renders an engine error; field and reason (may be NULL) go to details,
 * notice (may be NULL) to notices. */
static ts_http_action
native_error_notice(ts_http_resp *resp, ts_err e, const char *field, const char *reason,
                    int retry_after, const char *notice)
{
	native_err m = native_map(e);
	json_t *body = json_pack("{s:s, s:s}", "code", m.code, "message", m.message);

	if (body && notice)
		json_object_set_new(body, "notices", json_pack("[s]", notice));
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
native_error(ts_http_resp *resp, ts_err e, const char *field, const char *reason,
             int retry_after)
{
	return native_error_notice(resp, e, field, reason, retry_after, NULL);
}

static ts_http_action
bad_request(ts_http_resp *resp, const char *field, const char *reason)
{
	return native_error(resp, TS_E_INVALID, field, reason, 0);
}

ts_http_action
api_native_reject(ts_http_resp *resp, const char *reason)
{
	return bad_request(resp, NULL, reason);
}

static json_t *
token_set_json(const ts_tokens *t, const ts_user *u, const ts_tenant *tn)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:o}", "token", t->access, "token_type", "Bearer",
	                      "expires_in", (json_int_t)t->expires_in, "expires_at",
	                      api_time_json(t->access_expires_at));

	if (o && *t->refresh)
		json_object_set_new(o, "refresh_token", json_string(t->refresh));
	if (o && u)
		json_object_set_new(o, "user", api_user_json(u, tn ? tn->slug : NULL));
	return o;
}

static ts_http_action
reply_tokens(ts_http_resp *resp, const ts_tokens *t, const ts_user *u, const ts_tenant *tn)
{
	json_t *o = token_set_json(t, u, tn);

	api_reply(resp, o ? 200 : 500, o);
	return TS_HTTP_DONE;
}

/* ---- POST /v1/auth/login ---- */

static void
reply_login_ok(ts_api *api, const ts_login_ok *ok, ts_http_resp *resp)
{
	ts_tokens t;
	char challenge[TS_ID_SZ];
	ts_err r;
	json_t *o;

	switch (ok->next) {
	case TS_NEXT_SESSION:
		r = ts_auth_start_session(api->auth, &ok->user, TS_SESSION_FULL, "pwd",
		                          TS_ACCESS_JWT, &t);
		if (r != TS_OK) {
			native_error(resp, r, NULL, NULL, 0);
			return;
		}
		reply_tokens(resp, &t, &ok->user, &ok->tenant);
		return;
	case TS_NEXT_MFA:
		if ((r = ts_auth_challenge_open(api->auth, &ok->user, challenge)) != TS_OK) {
			native_error(resp, r, NULL, NULL, 0);
			return;
		}
		o = json_pack("{s:b, s:s, s:[s]}", "mfa_required", 1, "challenge_id", challenge,
		              "methods", "totp");
		api_reply(resp, o ? 200 : 500, o);
		return;
	case TS_NEXT_ENROLL:
		r = ts_auth_start_session(api->auth, &ok->user, TS_SESSION_ENROLL, "pwd",
		                          TS_ACCESS_JWT, &t);
		if (r != TS_OK) {
			native_error(resp, r, NULL, NULL, 0);
			return;
		}
		o = token_set_json(&t, NULL, NULL);
		if (o) {
			json_t *n = json_array();
			for (int i = 0; i < ok->n_notices; i++)
				json_array_append_new(n, json_string(ok->notices[i]));
			json_array_append_new(n, json_string(ts_auth_enroll_hint(api->auth)));
			json_object_set_new(o, "enrollment_required", json_true());
			json_object_set_new(o, "notices", n);
		}
		api_reply(resp, o ? 200 : 500, o);
		return;
	}
}

static void
login_job_run(void *arg, ts_http_resp *resp)
{
	api_login_job *j = arg;
	ts_login_ok ok;
	ts_err r = ts_auth_password(j->api->auth, &j->req, &ok);

	if (r == TS_OK)
		reply_login_ok(j->api, &ok, resp);
	else
		native_error(resp, r, NULL, NULL, 0);
	api_login_job_free(j);
}

/* Field checks done before any hashing, the same for every account. */
static int
login_fields_ok(json_t *body, ts_login_req *lr, ts_http_resp *resp)
{
	int r;

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
		bad_request(resp, "password", "must not be empty");
		return 0;
	}
	if (lr->password_len > TS_PASSWORD_MAX) {
		bad_request(resp, "password", "must be at most 1024 bytes");
		return 0;
	}
	r = api_get_string(body, "tenant_slug", &lr->tenant_slug);
	if (r < 0) {
		bad_request(resp, "tenant_slug", "must be a string");
		return 0;
	}
	return 1;
}

static ts_http_action
post_login(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	api_login_job *j;
	json_t *body = api_body_or_400(req, resp, bad_request);
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!(j = calloc(1, sizeof(*j)))) {
		json_decref(body);
		return native_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	}
	j->api = api;
	j->body = body;
	if (!login_fields_ok(body, &j->req, resp)) {
		api_login_job_free(j);
		return TS_HTTP_DONE;
	}
	int wait;
	if ((r = api_login_defer(req, j, login_job_run, &wait)) != TS_OK)
		return native_error(resp, r, NULL, NULL, wait);
	return TS_HTTP_DEFERRED;
}

/* ---- bearer calls ---- */

/* What this request says about its tenant (the engine decides). */
static ts_tenant_hints
request_hints(const ts_http_req *req)
{
	return (ts_tenant_hints){ NULL, ts_http_header(req, "X-Tenant-Slug"), req->host };
}

/* Checks the bearer token against the tenant the request names. On failure
 * the error is in resp and 0 is returned. */
static int
authenticate(ts_api *api, ts_http_req *req, ts_http_resp *resp, ts_principal *p)
{
	const char *tok = api_bearer(req);
	ts_tenant_hints h = request_hints(req);
	ts_err r;

	if (!tok) {
		/* RFC 6750 §3: no credentials, so no error code in the challenge. */
		native_error(resp, TS_E_TOKEN_INVALID, NULL, "a Bearer token is required", 0);
		resp->www_authenticate = "Bearer realm=\"tessera\"";
		return 0;
	}
	if ((r = ts_auth_bearer(api->auth, tok, &h, p)) != TS_OK) {
		native_error(resp, r, NULL, NULL, 0);
		if (resp->status == 401)
			resp->www_authenticate = "Bearer realm=\"tessera\", error=\"invalid_token\"";
		return 0;
	}
	return 1;
}

static ts_http_action
get_me(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;

	if (!authenticate(api, req, resp, &p))
		return TS_HTTP_DONE;
	if (p.scope != TS_SESSION_FULL)
		return native_error(resp, TS_E_FORBIDDEN, NULL,
		                    "this token is only good for enrolling a second factor", 0);
	api_reply(resp, 200, json_pack("{s:o}", "user", api_user_json(&p.user, p.tenant.slug)));
	return TS_HTTP_DONE;
}

/* POST /v1/auth/logout {refresh_token}: no Bearer needed, so a client
 * whose access token has expired can still end its session. */
static ts_http_action
logout_by_refresh(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = api_body_or_400(req, resp, bad_request);
	ts_tenant_hints h = request_hints(req);
	const char *rt;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!(rt = api_string_or_400(body, "refresh_token", resp, bad_request))) {
		json_decref(body);
		return TS_HTTP_DONE;
	}
	r = ts_auth_logout_refresh(api->auth, rt, &h);
	json_decref(body);
	if (r != TS_OK)
		return native_error(resp, r, NULL, NULL, 0);
	resp->status = 204;
	return TS_HTTP_DONE;
}

static ts_http_action
post_logout(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	ts_err r;

	/* A body means the refresh token form, whatever else is sent. */
	if (req->body || req->body_too_large)
		return logout_by_refresh(api, req, resp);
	if (!authenticate(api, req, resp, &p))
		return TS_HTTP_DONE;
	if ((r = ts_auth_logout(api->auth, &p)) != TS_OK)
		return native_error(resp, r, NULL, NULL, 0);
	resp->status = 204;
	return TS_HTTP_DONE;
}

/* ---- POST /v1/auth/refresh ---- */

static ts_http_action
post_refresh(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = api_body_or_400(req, resp, bad_request);
	const char *rt;
	ts_tokens t;
	ts_user u;
	ts_tenant tn;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!(rt = api_string_or_400(body, "refresh_token", resp, bad_request))) {
		json_decref(body);
		return TS_HTTP_DONE;
	}
	ts_tenant_hints h = request_hints(req);
	r = ts_auth_refresh_for(api->auth, rt, &h, &t, &u, &tn);
	json_decref(body);
	if (r != TS_OK)
		return native_error(resp, r, NULL, NULL, 0);
	return reply_tokens(resp, &t, &u, &tn);
}

/* ---- POST /v1/auth/mfa/challenge ---- */

static ts_http_action
post_challenge(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = api_body_or_400(req, resp, bad_request);
	const char *id, *method, *code;
	ts_user u;
	ts_tenant tn;
	ts_tokens t;
	int wait = 0;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!(id = api_string_or_400(body, "challenge_id", resp, bad_request)) ||
	    !(method = api_string_or_400(body, "method", resp, bad_request)) ||
	    !(code = api_string_or_400(body, "code", resp, bad_request)))
		goto out;
	if (strcmp(method, "totp") != 0) {
		bad_request(resp, "method", "must be one of the methods offered: totp");
		goto out;
	}
	r = ts_auth_challenge_totp(api->auth, id, code, &u, &wait);
	if (r == TS_OK)
		r = ts_auth_tenant_by_id(api->auth, u.tenant_id, &tn);
	if (r == TS_OK)
		r = ts_auth_start_session(api->auth, &u, TS_SESSION_FULL, "pwd otp", TS_ACCESS_JWT, &t);
	if (r != TS_OK)
		native_error(resp, r, NULL, NULL, wait);
	else
		reply_tokens(resp, &t, &u, &tn);
out:
	json_decref(body);
	return TS_HTTP_DONE;
}

/* ---- TOTP enrolment ---- */

static ts_http_action
post_totp_enroll(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	char b32[64];
	char *uri = NULL;
	ts_err r;

	if (!authenticate(api, req, resp, &p))
		return TS_HTTP_DONE;
	if ((r = ts_auth_totp_begin(api->auth, &p, b32, &uri)) != TS_OK)
		return native_error(resp, r, NULL, NULL, 0);
	api_reply(resp, 200, json_pack("{s:s, s:s}", "secret", b32, "otpauth_uri", uri));
	ts_wipe(b32, sizeof(b32));
	free(uri);
	return TS_HTTP_DONE;
}

static ts_http_action
post_totp_confirm(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	json_t *body = NULL, *o;
	const char *code;
	ts_tokens t;
	int wait = 0;
	ts_err r;

	if (!authenticate(api, req, resp, &p))
		return TS_HTTP_DONE;
	if (!(body = api_body_or_400(req, resp, bad_request)))
		return TS_HTTP_DONE;
	if (!(code = api_string_or_400(body, "code", resp, bad_request)))
		goto out;
	if ((r = ts_auth_totp_confirm(api->auth, &p, code, &wait)) != TS_OK) {
		native_error(resp, r, NULL, NULL, wait);
		goto out;
	}
	if (p.scope == TS_SESSION_FULL) {
		api_reply(resp, 200, json_pack("{s:b}", "enabled", 1));
		goto out;
	}
	/* Enrolled under a proven enrolment-only token: a full session
	 * replaces it. */
	if ((r = ts_auth_enroll_finish(api->auth, &p, &t)) != TS_OK) {
		native_error(resp, r, NULL, NULL, 0);
		goto out;
	}
	o = token_set_json(&t, &p.user, &p.tenant);
	if (o)
		json_object_set_new(o, "enabled", json_true());
	api_reply(resp, o ? 200 : 500, o);
out:
	json_decref(body);
	return TS_HTTP_DONE;
}

/* ---- the enrolment proof: a mailed code or an administrator's link ---- */

static ts_http_action
reply_proven(ts_http_resp *resp)
{
	api_reply(resp, 200, json_pack("{s:b}", "enrollment_proven", 1));
	return TS_HTTP_DONE;
}

typedef struct enroll_mail_job {
	ts_api *api;
	ts_principal p;
} enroll_mail_job;

static void
enroll_mail_run(void *arg, ts_http_resp *resp)
{
	enroll_mail_job *j = arg;
	int64_t exp = 0;
	int wait = 0;
	ts_err r = ts_auth_enroll_mail_code(j->api->auth, &j->p, &exp, &wait);

	if (r == TS_E_MAIL_UNCONFIGURED)
		native_error_notice(resp, r, NULL, NULL, 0, ts_auth_enroll_hint(j->api->auth));
	else if (r != TS_OK)
		native_error(resp, r, NULL, NULL, wait);
	else
		api_reply(resp, 202, json_pack("{s:b, s:o}", "sent", 1, "expires_at",
		                               api_time_json(exp)));
	free(j);
}

static ts_http_action
post_enroll_email_send(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	enroll_mail_job *j;
	ts_err r;

	if (!(j = calloc(1, sizeof(*j))))
		return native_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	if (!authenticate(api, req, resp, &j->p)) {
		free(j);
		return TS_HTTP_DONE;
	}
	j->api = api;
	/* Sending blocks on the mail server: a worker does it. */
	if ((r = ts_http_defer(req, enroll_mail_run, j)) != TS_OK) {
		free(j);
		return native_error(resp, r, NULL, NULL, 0);
	}
	return TS_HTTP_DEFERRED;
}

static ts_http_action
post_enroll_email_verify(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	json_t *body;
	const char *code;
	int wait = 0;
	ts_err r;

	if (!authenticate(api, req, resp, &p))
		return TS_HTTP_DONE;
	if (!(body = api_body_or_400(req, resp, bad_request)))
		return TS_HTTP_DONE;
	if ((code = api_string_or_400(body, "code", resp, bad_request)) != NULL) {
		if ((r = ts_auth_enroll_verify_code(api->auth, &p, code, &wait)) != TS_OK)
			native_error(resp, r, NULL, NULL, wait);
		else
			reply_proven(resp);
	}
	json_decref(body);
	return TS_HTTP_DONE;
}

static ts_http_action
post_enroll_link(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	json_t *body;
	const char *link;
	ts_err r;

	if (!authenticate(api, req, resp, &p))
		return TS_HTTP_DONE;
	if (!(body = api_body_or_400(req, resp, bad_request)))
		return TS_HTTP_DONE;
	if ((link = api_string_or_400(body, "token", resp, bad_request)) != NULL) {
		if ((r = ts_auth_enroll_link_redeem(api->auth, &p, link)) != TS_OK)
			native_error(resp, r, NULL,
			             r == TS_E_TOKEN_INVALID ?
			             "the enrolment link is unknown, spent, expired or another user's" :
			             NULL, 0);
		else
			reply_proven(resp);
	}
	json_decref(body);
	return TS_HTTP_DONE;
}

const api_route api_native_routes[] = {
	{ FACE_NATIVE, "POST", "/v1/auth/login", post_login },
	{ FACE_NATIVE, "POST", "/v1/auth/mfa/challenge", post_challenge },
	{ FACE_NATIVE, "POST", "/v1/auth/refresh", post_refresh },
	{ FACE_NATIVE, "POST", "/v1/auth/logout", post_logout },
	{ FACE_NATIVE, "GET", "/v1/auth/me", get_me },
	{ FACE_NATIVE, "POST", "/v1/mfa/totp/enroll", post_totp_enroll },
	{ FACE_NATIVE, "POST", "/v1/mfa/totp/confirm", post_totp_confirm },
	{ FACE_NATIVE, "POST", "/v1/mfa/enroll/email/send", post_enroll_email_send },
	{ FACE_NATIVE, "POST", "/v1/mfa/enroll/email/verify", post_enroll_email_verify },
	{ FACE_NATIVE, "POST", "/v1/mfa/enroll/link", post_enroll_link },
	{ 0, NULL, NULL, NULL },
};
