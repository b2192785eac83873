/* The native face: contract 002's tenant login, extended with refresh
 * tokens, the user object, logout, me, and TOTP. Errors are
 * {code, message, details?, notices?}. */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "auth/factor.h"
#include "auth/account.h"
#include "auth/oidc.h"
#include "auth/webauthn.h"
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
	case TS_E_OIDC_CLIENT:       /* only the OpenID Connect endpoints (oidc.c) */
	case TS_E_OIDC_GRANT:
	case TS_E_OIDC_UNAUTHORIZED:
	case TS_E_OIDC_SCOPE:
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
		return (native_err){ 400, "weak_password", "The password does not meet the policy (details.reason).", 0 };
	case TS_E_REGISTRATION_CLOSED:
		return (native_err){ 403, "registration_closed", "This tenant does not take sign-ups.", 0 };
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
	case TS_E_REAUTH_REQUIRED:
		return (native_err){ 403, "reauth_required", "Sign in again (within the last 5 minutes) to do this.", 0 };
	case TS_E_LAST_FACTOR:
		return (native_err){ 409, "last_factor", "The tenant requires a second factor; this is your last one.", 0 };
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
reply_login_ok(ts_api *api, const ts_login_ok *ok, const ts_client *cl, ts_http_resp *resp)
{
	ts_tokens t;
	char challenge[TS_ID_SZ];
	ts_err r;
	json_t *o;

	switch (ok->next) {
	case TS_NEXT_SESSION:
		r = ts_auth_start_session_client(api->auth, &ok->user, TS_SESSION_FULL, "pwd",
		                                 TS_ACCESS_JWT, cl, &t);
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
		o = json_pack("{s:b, s:s}", "mfa_required", 1, "challenge_id", challenge);
		if (o) {
			json_t *m = json_array();
			for (int i = 0; i < ok->n_methods; i++)
				json_array_append_new(m, json_string(ok->methods[i]));
			json_object_set_new(o, "methods", m);
		}
		api_reply(resp, o ? 200 : 500, o);
		return;
	case TS_NEXT_ENROLL:
		r = ts_auth_start_session_client(api->auth, &ok->user, TS_SESSION_ENROLL, "pwd",
		                                 TS_ACCESS_JWT, cl, &t);
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
	/* The padding holds the answer, not this hashing worker. */
	ts_err r = ts_auth_password_at(j->api->auth, &j->req, &ok, &resp->not_before_us);

	ts_client cl = { j->req.client_ip, j->user_agent };

	if (r == TS_OK)
		reply_login_ok(j->api, &ok, &cl, resp);
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

/* authenticate(), for a call only a full session may make: an
 * enrolment-only token gets 403. */
static int
authenticate_full(ts_api *api, ts_http_req *req, ts_http_resp *resp, ts_principal *p)
{
	if (!authenticate(api, req, resp, p))
		return 0;
	if (p->scope != TS_SESSION_FULL) {
		native_error(resp, TS_E_FORBIDDEN, NULL,
		             "this token is only good for enrolling a second factor", 0);
		return 0;
	}
	return 1;
}

static ts_http_action
get_me(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;

	if (!authenticate_full(api, req, resp, &p))
		return TS_HTTP_DONE;
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

/* ---- the second step: POST /v1/auth/mfa/challenge, .../email/send ---- */

/* An answer on its way to a worker (a factor may mail: a recovery code's
 * use is told to its owner). Strings point into body. */
typedef struct challenge_job {
	ts_api *api;
	json_t *body;
	const char *id, *method;
	ts_factor_answer ans;
	char *credential;            /* the credential member as JSON text, or NULL */
} challenge_job;

static void
challenge_job_free(challenge_job *j)
{
	if (!j)
		return;
	free(j->credential);
	json_decref(j->body);
	free(j);
}

static void
challenge_run(void *arg, ts_http_resp *resp)
{
	challenge_job *j = arg;
	ts_user u;
	ts_tenant tn;
	ts_tokens t;
	int wait = 0;
	ts_err r = ts_auth_factor_answer(j->api->auth, j->id, j->method, &j->ans, &t, &u, &tn, &wait);

	if (r == TS_E_INVALID)
		bad_request(resp, "method", "this method takes no answer here");
	else if (r != TS_OK)
		native_error(resp, r, NULL, NULL, wait);
	else
		reply_tokens(resp, &t, &u, &tn);
	challenge_job_free(j);
}

/* The method must be a factor this server has (the engine then says
 * whether this user may use it). */
static int
method_known(const char *method, ts_http_resp *resp)
{
	if (ts_factor_by_name(method))
		return 1;
	bad_request(resp, "method", "must be one of the methods offered at login");
	return 0;
}

static ts_http_action
post_challenge(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	challenge_job *j = calloc(1, sizeof(*j));
	json_t *cred;
	ts_err r;

	if (!j)
		return native_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	j->api = api;
	if (!(j->body = api_body_or_400(req, resp, bad_request)))
		goto done;
	if (!(j->id = api_string_or_400(j->body, "challenge_id", resp, bad_request)) ||
	    !(j->method = api_string_or_400(j->body, "method", resp, bad_request)) ||
	    !method_known(j->method, resp))
		goto done;
	/* A typed code, or a WebAuthn credential (PublicKeyCredential.toJSON()),
	 * which the factor parses and verifies: the face passes its text. */
	if ((cred = json_object_get(j->body, "credential")) != NULL) {
		if (!json_is_object(cred)) {
			bad_request(resp, "credential", "must be an object");
			goto done;
		}
		if (!(j->credential = json_dumps(cred, JSON_COMPACT))) {
			native_error(resp, TS_E_NOMEM, NULL, NULL, 0);
			goto done;
		}
		j->ans.credential = j->credential;
		j->ans.credential_len = strlen(j->credential);
	} else if (!(j->ans.code = api_string_or_400(j->body, "code", resp, bad_request))) {
		goto done;
	}
	if (!(ts_factor_by_name(j->method)->flags & TS_FACTOR_F_SLOW)) {
		challenge_run(j, resp);         /* owns and frees j */
		return TS_HTTP_DONE;
	}
	if ((r = ts_http_defer(req, challenge_run, j)) != TS_OK) {
		native_error(resp, r, NULL, NULL, 0);
		goto done;
	}
	return TS_HTTP_DEFERRED;
done:
	challenge_job_free(j);
	return TS_HTTP_DONE;
}

/* POST /v1/auth/mfa/email/send {challenge_id}: mails a code (blocks on the
 * mail server: a worker does it). */
static void
email_send_run(void *arg, ts_http_resp *resp)
{
	challenge_job *j = arg;
	ts_factor_blob b;
	int wait = 0;
	ts_err r = ts_auth_factor_challenge_begin(j->api->auth, j->id, "email", &b, &wait);

	if (r != TS_OK)
		native_error(resp, r, NULL, NULL, wait);
	else
		api_reply(resp, 202, json_pack("{s:b, s:o}", "sent", 1, "expires_at",
		                               api_time_json(b.expires_at)));
	ts_factor_blob_free(&b);
	challenge_job_free(j);
}

static ts_http_action
post_email_send(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	challenge_job *j = calloc(1, sizeof(*j));
	ts_err r;

	if (!j)
		return native_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	j->api = api;
	if (!(j->body = api_body_or_400(req, resp, bad_request)) ||
	    !(j->id = api_string_or_400(j->body, "challenge_id", resp, bad_request)))
		goto done;
	if ((r = ts_http_defer(req, email_send_run, j)) != TS_OK) {
		native_error(resp, r, NULL, NULL, 0);
		goto done;
	}
	return TS_HTTP_DEFERRED;
done:
	challenge_job_free(j);
	return TS_HTTP_DONE;
}

/* ---- the factor table under a bearer ---- */

static ts_http_action
post_recovery_codes(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	ts_factor_blob b;
	json_t *o;
	ts_err r;

	if (!authenticate(api, req, resp, &p))
		return TS_HTTP_DONE;
	if ((r = ts_auth_factor_enrol_begin(api->auth, &p, "recovery_code", NULL, &b)) != TS_OK)
		return native_error(resp, r, NULL, NULL, 0);
	o = json_loads(b.json, 0, NULL);
	api_reply(resp, o ? 200 : 500, o);
	ts_factor_blob_free(&b);
	return TS_HTTP_DONE;
}

static int
factor_json(void *arg, const ts_factor_info *f)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "id", f->id, "method", f->method, "name",
	                      f->name, "created_at", api_time_json(f->created_at));

	if (!o)
		return 1;
	json_object_set_new(o, "last_used_at",
	                    f->last_used_at ? api_time_json(f->last_used_at) : json_null());
	if (f->remaining >= 0)
		json_object_set_new(o, "remaining", json_integer(f->remaining));
	json_array_append_new(arg, o);
	return 0;
}

static ts_http_action
get_factors(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	json_t *list;
	ts_err r;

	if (!authenticate(api, req, resp, &p))
		return TS_HTTP_DONE;
	if (!(list = json_array()))
		return native_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	if ((r = ts_auth_factor_list(api->auth, &p, factor_json, list)) != TS_OK) {
		json_decref(list);
		return native_error(resp, r, NULL, r == TS_E_FORBIDDEN ?
		                    "this token is only good for enrolling a second factor" : NULL, 0);
	}
	api_reply(resp, 200, json_pack("{s:o}", "factors", list));
	return TS_HTTP_DONE;
}

static ts_http_action
delete_factor(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	const char *id = strrchr(req->path, '/') + 1;   /* the route has one */
	ts_principal p;
	ts_err r;

	if (!authenticate(api, req, resp, &p))
		return TS_HTTP_DONE;
	if ((r = ts_auth_factor_remove(api->auth, &p, id)) != TS_OK)
		return native_error(resp, r, NULL, NULL, 0);
	resp->status = 204;
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

/* ---- self-service accounts (issue 9; engine: auth/account.c) ---- */

/* The 400 for a password the policy refuses: details.reason is one word. */
static ts_http_action
weak_password(ts_http_resp *resp, ts_pw_reason why)
{
	return native_error(resp, TS_E_PASSWORD_POLICY, "password", ts_pw_reason_word(why), 0);
}

/* A request body on its way to a hashing worker; it owns the body, whose
 * password strings are wiped before it is released. */
typedef struct account_job {
	ts_api *api;
	json_t *body;
	ts_account_req q;
	ts_account_redeem rd;
	ts_principal p;
	const char *password;
	const char *current;
} account_job;

static void
account_job_free(account_job *j)
{
	if (!j)
		return;
	if (j->password)
		ts_wipe((char *)j->password, strlen(j->password));
	if (j->current)
		ts_wipe((char *)j->current, strlen(j->current));
	json_decref(j->body);
	free(j);
}

/* A new account_job for a request with a JSON body (NULL with the answer
 * in resp). */
static account_job *
account_job_new(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	account_job *j;
	json_t *body = api_body_or_400(req, resp, bad_request);

	if (!body)
		return NULL;
	if (!(j = calloc(1, sizeof(*j)))) {
		json_decref(body);
		native_error(resp, TS_E_NOMEM, NULL, NULL, 0);
		return NULL;
	}
	j->api = api;
	j->body = body;
	j->q.hints = request_hints(req);
	j->q.client_ip = req->client_ip;
	j->rd.hints = j->q.hints;
	return j;
}

/* email (a valid address) and the optional tenant_slug. */
static int
account_email_ok(account_job *j, ts_http_resp *resp)
{
	if (!(j->q.email = api_string_or_400(j->body, "email", resp, bad_request)))
		return 0;
	if (!ts_email_valid(j->q.email)) {
		bad_request(resp, "email", "must be a valid email address");
		return 0;
	}
	if (api_get_string(j->body, "tenant_slug", &j->q.hints.body_slug) < 0) {
		bad_request(resp, "tenant_slug", "must be a string");
		return 0;
	}
	j->rd.hints.body_slug = j->q.hints.body_slug;
	return 1;
}

/* A password member: a non-empty string of at most TS_PW_MAX_BYTES bytes
 * gets to the policy; a longer one is too_long at once. */
static const char *
account_password(account_job *j, const char *key, ts_http_resp *resp)
{
	const char *pw = api_string_or_400(j->body, key, resp, bad_request);

	if (!pw)
		return NULL;
	if (!*pw) {
		bad_request(resp, key, "must not be empty");
		return NULL;
	}
	if (strlen(pw) > TS_PW_MAX_BYTES) {
		native_error(resp, TS_E_PASSWORD_POLICY, key, ts_pw_reason_word(TS_PW_TOO_LONG), 0);
		return NULL;
	}
	return pw;
}

/* Sends j to a hashing worker; DONE with the error when it cannot go. */
static ts_http_action
account_defer(ts_http_req *req, ts_http_resp *resp, account_job *j, ts_http_job_fn run)
{
	ts_err r = ts_http_defer(req, run, j);

	if (r == TS_OK)
		return TS_HTTP_DEFERRED;
	account_job_free(j);
	return native_error(resp, r, NULL, NULL, 0);
}

static void
reply_accepted(ts_http_resp *resp, const char *status)
{
	api_reply(resp, 202, json_pack("{s:s}", "status", status));
}

static void
register_run(void *arg, ts_http_resp *resp)
{
	account_job *j = arg;
	ts_pw_reason why = TS_PW_OK;
	int wait = 0;
	ts_err r = ts_account_register(j->api->auth, &j->q, &why, &wait);

	if (r == TS_OK)
		reply_accepted(resp, "verification_sent");
	else if (r == TS_E_PASSWORD_POLICY)
		weak_password(resp, why);
	else
		native_error(resp, r, NULL, NULL, wait);
	account_job_free(j);
}

/* POST /v1/auth/register {email, password, tenant_slug?} */
static ts_http_action
post_register(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	account_job *j = account_job_new(api, req, resp);

	if (!j)
		return TS_HTTP_DONE;
	if (!account_email_ok(j, resp) || !(j->password = account_password(j, "password", resp))) {
		account_job_free(j);
		return TS_HTTP_DONE;
	}
	j->q.password = j->password;
	j->q.password_len = strlen(j->password);
	/* Hashing is the expensive part: a worker does it, for a new and a
	 * taken address alike. */
	return account_defer(req, resp, j, register_run);
}

/* POST /v1/auth/verify/resend and /password/forgot {email, tenant_slug?}:
 * 202 for every address and tenant. */
static ts_http_action
mail_request_route(ts_api *api, ts_http_req *req, ts_http_resp *resp, int reset)
{
	account_job *j = account_job_new(api, req, resp);
	int wait = 0;
	ts_err r;

	if (!j)
		return TS_HTTP_DONE;
	if (account_email_ok(j, resp)) {
		r = reset ? ts_account_forgot(api->auth, &j->q, &wait)
		          : ts_account_resend(api->auth, &j->q, &wait);
		if (r == TS_OK)
			reply_accepted(resp, "accepted");
		else
			native_error(resp, r, NULL, NULL, wait);
	}
	account_job_free(j);
	return TS_HTTP_DONE;
}

static ts_http_action
post_verify_resend(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	return mail_request_route(api, req, resp, 0);
}

static ts_http_action
post_password_forgot(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	return mail_request_route(api, req, resp, 1);
}

/* {token} or {email, code, tenant_slug?}: what redeems a mailed token. */
static int
redeem_fields_ok(account_job *j, ts_http_resp *resp)
{
	int t = api_get_string(j->body, "token", &j->rd.token);

	if (t < 0) {
		bad_request(resp, "token", "must be a string");
		return 0;
	}
	if (t > 0)
		return 1;
	if (api_get_string(j->body, "code", &j->rd.code) <= 0) {
		bad_request(resp, "token", "a token, or a code with the email, is required");
		return 0;
	}
	if (!account_email_ok(j, resp))
		return 0;
	j->rd.email = j->q.email;
	return 1;
}

/* POST /v1/auth/verify {token} | {email, code, tenant_slug?} */
static ts_http_action
post_verify(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	account_job *j = account_job_new(api, req, resp);
	ts_client cl = { req->client_ip, ts_http_header(req, "User-Agent") };
	ts_login_ok ok;
	ts_err r;

	if (!j)
		return TS_HTTP_DONE;
	if (redeem_fields_ok(j, resp)) {
		if ((r = ts_account_verify(api->auth, &j->rd, &ok)) == TS_OK)
			reply_login_ok(api, &ok, &cl, resp);
		else
			native_error(resp, r, NULL, NULL, 0);
	}
	account_job_free(j);
	return TS_HTTP_DONE;
}

static void
reset_run(void *arg, ts_http_resp *resp)
{
	account_job *j = arg;
	ts_pw_reason why = TS_PW_OK;
	ts_err r = ts_account_reset(j->api->auth, &j->rd, j->password, strlen(j->password), &why);

	if (r == TS_OK)
		resp->status = 204;
	else if (r == TS_E_PASSWORD_POLICY)
		weak_password(resp, why);
	else
		native_error(resp, r, NULL, NULL, 0);
	account_job_free(j);
}

/* POST /v1/auth/password/reset {token, password} | {email, code, password} */
static ts_http_action
post_password_reset(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	account_job *j = account_job_new(api, req, resp);

	if (!j)
		return TS_HTTP_DONE;
	if (!redeem_fields_ok(j, resp) || !(j->password = account_password(j, "password", resp))) {
		account_job_free(j);
		return TS_HTTP_DONE;
	}
	return account_defer(req, resp, j, reset_run);
}

static void
change_run(void *arg, ts_http_resp *resp)
{
	account_job *j = arg;
	ts_pw_reason why = TS_PW_OK;
	int wait = 0;
	ts_err r = ts_account_change(j->api->auth, &j->p, j->current, strlen(j->current),
	                             j->password, strlen(j->password), &why, &wait);

	if (r == TS_OK)
		resp->status = 204;
	else if (r == TS_E_PASSWORD_POLICY)
		weak_password(resp, why);
	else
		native_error(resp, r, NULL, NULL, wait);
	account_job_free(j);
}

/* POST /v1/auth/password/change, Bearer, {current_password, password} */
static ts_http_action
post_password_change(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	account_job *j;
	ts_principal p;

	if (!authenticate_full(api, req, resp, &p))
		return TS_HTTP_DONE;
	if (!(j = account_job_new(api, req, resp)))
		return TS_HTTP_DONE;
	j->p = p;
	if (!(j->current = api_string_or_400(j->body, "current_password", resp, bad_request)) ||
	    !(j->password = account_password(j, "password", resp))) {
		account_job_free(j);
		return TS_HTTP_DONE;
	}
	return account_defer(req, resp, j, change_run);
}

typedef struct session_list {
	json_t *items;
	const char *current;
} session_list;

static int
session_item(void *arg, const ts_session *x)
{
	session_list *l = arg;
	json_t *o;

	if (x->kind != TS_SESSION_FULL && strcmp(x->id, l->current) != 0)
		return 0;                /* a passing enrolment step is no device */
	o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:b}", "id", x->id, "created_at",
	              api_time_json(x->created_at), "last_used_at",
	              api_time_json(x->last_used_at ? x->last_used_at : x->created_at), "ip",
	              x->ip[0] ? json_string(x->ip) : json_null(), "user_agent",
	              x->user_agent[0] ? json_string(x->user_agent) : json_null(), "current",
	              strcmp(x->id, l->current) == 0);
	if (o)
		json_array_append_new(l->items, o);
	return 0;
}

/* GET /v1/auth/sessions, Bearer */
static ts_http_action
get_sessions(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	session_list l;
	ts_err r;

	if (!authenticate_full(api, req, resp, &p))
		return TS_HTTP_DONE;
	if (!(l.items = json_array()))
		return native_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	l.current = p.session.id;
	if ((r = ts_account_sessions(api->auth, &p, session_item, &l)) != TS_OK) {
		json_decref(l.items);
		return native_error(resp, r, NULL, NULL, 0);
	}
	api_reply(resp, 200, json_pack("{s:o}", "items", l.items));
	return TS_HTTP_DONE;
}

/* DELETE /v1/auth/sessions/{id}, Bearer */
static ts_http_action
delete_session(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	ts_err r;

	if (!authenticate_full(api, req, resp, &p))
		return TS_HTTP_DONE;
	if ((r = ts_account_session_revoke(api->auth, &p, api_path_tail(req))) != TS_OK)
		return native_error(resp, r, NULL,
		                    r == TS_E_NOT_FOUND ? "no such session of yours" : NULL, 0);
	resp->status = 204;
	return TS_HTTP_DONE;
}

/* ---- the user's consents to OpenID Connect clients (docs/OIDC.md) ---- */

static int
consent_item(void *arg, const ts_oidc_consent *x)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "client_id", x->client_id, "client_name",
	                      x->client_name, "scope", x->scopes, "created_at",
	                      api_time_json(x->created_at));

	if (o)
		json_array_append_new(arg, o);
	return 0;
}

/* GET /v1/auth/consents, Bearer */
static ts_http_action
get_consents(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	json_t *items;
	ts_err r;

	if (!authenticate_full(api, req, resp, &p))
		return TS_HTTP_DONE;
	if (!(items = json_array()))
		return native_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	if ((r = ts_oidc_consents(api->auth, &p, consent_item, items)) != TS_OK) {
		json_decref(items);
		return native_error(resp, r, NULL, NULL, 0);
	}
	api_reply(resp, 200, json_pack("{s:o}", "items", items));
	return TS_HTTP_DONE;
}

/* DELETE /v1/auth/consents/{client_id}, Bearer */
static ts_http_action
delete_consent(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	ts_err r;

	if (!authenticate_full(api, req, resp, &p))
		return TS_HTTP_DONE;
	if ((r = ts_oidc_consent_revoke(api->auth, &p, api_path_tail(req))) != TS_OK)
		return native_error(resp, r, NULL,
		                    r == TS_E_NOT_FOUND ? "no such consent of yours" : NULL, 0);
	resp->status = 204;
	return TS_HTTP_DONE;
}

/* ---- WebAuthn (auth/webauthn.h) ---- */

/* The credential member (PublicKeyCredential.toJSON()) as JSON text for
 * the engine, or NULL with a 400 in resp. Caller frees. */
static char *
credential_text_or_400(json_t *body, ts_http_resp *resp)
{
	json_t *c = json_object_get(body, "credential");
	char *s;

	if (!json_is_object(c)) {
		bad_request(resp, "credential", "must be the object PublicKeyCredential.toJSON() returns");
		return NULL;
	}
	if (!(s = json_dumps(c, JSON_COMPACT)))
		native_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	return s;
}

/* {publicKey: <options>}, and challenge_id when given. json is the
 * engine's JSON text (ours, so it parses). */
static ts_http_action
reply_options(ts_http_resp *resp, int status, const char *challenge_id, const char *json)
{
	json_t *pk = json_loads(json, 0, NULL);
	json_t *o = pk ? json_pack("{s:o}", "publicKey", pk) : NULL;

	if (o && challenge_id)
		json_object_set_new(o, "challenge_id", json_string(challenge_id));
	api_reply(resp, o ? status : 500, o);
	return TS_HTTP_DONE;
}

/* POST /v1/auth/mfa/webauthn/options {challenge_id} */
static ts_http_action
post_mfa_webauthn_options(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = api_body_or_400(req, resp, bad_request);
	const char *id;
	ts_factor_blob b = { 0 };
	int wait = 0;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if ((id = api_string_or_400(body, "challenge_id", resp, bad_request)) != NULL) {
		if ((r = ts_auth_webauthn_mfa_options(api->auth, id, &b, &wait)) != TS_OK)
			native_error(resp, r, NULL, NULL, wait);
		else
			reply_options(resp, 200, NULL, b.json);
	}
	ts_factor_blob_free(&b);
	json_decref(body);
	return TS_HTTP_DONE;
}

/* POST /v1/auth/passkey/options {tenant_slug?} */
static ts_http_action
post_passkey_options(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = NULL;
	ts_tenant_hints h = request_hints(req);
	char id[TS_ID_SZ];
	ts_factor_blob b = { 0 };
	int wait = 0;
	ts_err r;

	/* The body is optional: {} and no body at all both mean "no slug". */
	if (req->body || req->body_too_large) {
		if (!(body = api_body_or_400(req, resp, bad_request)))
			return TS_HTTP_DONE;
		if (api_get_string(body, "tenant_slug", &h.body_slug) < 0) {
			bad_request(resp, "tenant_slug", "must be a string");
			goto out;
		}
	}
	if ((r = ts_auth_passkey_options(api->auth, &h, req->client_ip, id, &b, &wait)) != TS_OK)
		native_error(resp, r, NULL, NULL, wait);
	else
		reply_options(resp, 200, id, b.json);
out:
	ts_factor_blob_free(&b);
	json_decref(body);
	return TS_HTTP_DONE;
}

/* POST /v1/auth/passkey/login {challenge_id, credential} */
static ts_http_action
post_passkey_login(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = api_body_or_400(req, resp, bad_request);
	const char *id;
	char *cred = NULL;
	ts_tokens t;
	ts_user u;
	ts_tenant tn;
	int wait = 0;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!(id = api_string_or_400(body, "challenge_id", resp, bad_request)) ||
	    !(cred = credential_text_or_400(body, resp)))
		goto out;
	r = ts_auth_passkey_login(api->auth, id, cred, strlen(cred), &t, &u, &tn, &wait);
	if (r != TS_OK)
		native_error(resp, r, NULL, NULL, wait);
	else
		reply_tokens(resp, &t, &u, &tn);
out:
	free(cred);
	json_decref(body);
	return TS_HTTP_DONE;
}

/* POST /v1/mfa/webauthn/register/options {kind} */
static ts_http_action
post_webauthn_register_options(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	json_t *body;
	const char *kind, *method;
	ts_factor_blob b = { 0 };
	ts_err r;

	if (!authenticate(api, req, resp, &p))
		return TS_HTTP_DONE;
	if (!(body = api_body_or_400(req, resp, bad_request)))
		return TS_HTTP_DONE;
	if (!(kind = api_string_or_400(body, "kind", resp, bad_request)))
		goto out;
	if (!(method = ts_webauthn_method(kind))) {
		bad_request(resp, "kind", "must be passkey or security_key");
		goto out;
	}
	if ((r = ts_auth_factor_enrol_begin(api->auth, &p, method, kind, &b)) != TS_OK)
		native_error(resp, r, NULL, NULL, 0);
	else
		reply_options(resp, 200, NULL, b.json);
out:
	ts_factor_blob_free(&b);
	json_decref(body);
	return TS_HTTP_DONE;
}

/* POST /v1/mfa/webauthn/register {credential, name?} */
static ts_http_action
post_webauthn_register(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	ts_principal p;
	json_t *body;
	char *cred = NULL;
	const char *name = NULL;
	ts_factor_answer ans = { 0 };
	ts_factor_info info;
	int wait = 0;
	ts_err r;

	if (!authenticate(api, req, resp, &p))
		return TS_HTTP_DONE;
	if (!(body = api_body_or_400(req, resp, bad_request)))
		return TS_HTTP_DONE;
	if (api_get_string(body, "name", &name) < 0 || (name && strlen(name) > TS_FACTOR_NAME_MAX)) {
		bad_request(resp, "name", "must be a string of at most 64 bytes");
		goto out;
	}
	if (!(cred = credential_text_or_400(body, resp)))
		goto out;
	ans.credential = cred;
	ans.credential_len = strlen(cred);
	ans.name = name;
	if ((r = ts_auth_webauthn_register(api->auth, &p, &ans, &info, &wait)) != TS_OK) {
		native_error(resp, r, NULL, NULL, wait);
		goto out;
	}
	api_reply(resp, 201, json_pack("{s:s, s:s, s:s, s:o}", "id", info.id, "kind",
	                               strcmp(info.method, "webauthn_passkey") == 0 ? "passkey" :
	                               "security_key", "name", info.name, "created_at",
	                               api_time_json(info.created_at)));
out:
	free(cred);
	json_decref(body);
	return TS_HTTP_DONE;
}

const api_route api_native_routes[] = {
	{ FACE_NATIVE, "POST", "/v1/auth/login", post_login, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/mfa/challenge", post_challenge, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/refresh", post_refresh, API_GROUPED },
	{ FACE_NATIVE, "POST", "/v1/auth/logout", post_logout, 0 },
	{ FACE_NATIVE, "GET", "/v1/auth/me", get_me, 0 },
	{ FACE_NATIVE, "POST", "/v1/mfa/totp/enroll", post_totp_enroll, 0 },
	{ FACE_NATIVE, "POST", "/v1/mfa/totp/confirm", post_totp_confirm, 0 },
	{ FACE_NATIVE, "POST", "/v1/mfa/enroll/email/send", post_enroll_email_send, 0 },
	{ FACE_NATIVE, "POST", "/v1/mfa/enroll/email/verify", post_enroll_email_verify, 0 },
	{ FACE_NATIVE, "POST", "/v1/mfa/enroll/link", post_enroll_link, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/mfa/email/send", post_email_send, 0 },
	{ FACE_NATIVE, "POST", "/v1/mfa/recovery-codes", post_recovery_codes, 0 },
	{ FACE_NATIVE, "GET", "/v1/mfa/factors", get_factors, 0 },
	{ FACE_NATIVE, "DELETE", "/v1/mfa/factors/*", delete_factor, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/register", post_register, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/verify", post_verify, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/verify/resend", post_verify_resend, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/password/forgot", post_password_forgot, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/password/reset", post_password_reset, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/password/change", post_password_change, 0 },
	{ FACE_NATIVE, "GET", "/v1/auth/sessions", get_sessions, 0 },
	{ FACE_NATIVE, "DELETE", "/v1/auth/sessions/*", delete_session, 0 },
	{ FACE_NATIVE, "GET", "/v1/auth/consents", get_consents, 0 },
	{ FACE_NATIVE, "DELETE", "/v1/auth/consents/*", delete_consent, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/mfa/webauthn/options", post_mfa_webauthn_options, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/passkey/options", post_passkey_options, 0 },
	{ FACE_NATIVE, "POST", "/v1/auth/passkey/login", post_passkey_login, 0 },
	{ FACE_NATIVE, "POST", "/v1/mfa/webauthn/register/options", post_webauthn_register_options, 0 },
	{ FACE_NATIVE, "POST", "/v1/mfa/webauthn/register", post_webauthn_register, 0 },
	{ 0, NULL, NULL, NULL, 0 },
};
