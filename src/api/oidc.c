/* The OpenID Connect provider's endpoints (issue 11; docs/OIDC.md,
 * docs/openapi/oidc.json), one issuer per tenant under the public URL:
 *   GET  /t/{slug}/.well-known/openid-configuration   (OpenID Connect Discovery 1.0 §4)
 *   GET  /t/{slug}/jwks                               (the jwks_uri)
 *   POST /t/{slug}/token       authorization_code (§4.1.3, RFC 7636 §4.5),
 *                              refresh_token (§6), client_credentials (§4.4);
 *                              errors §5.2
 *   POST /t/{slug}/introspect                         (RFC 7662)
 *   POST /t/{slug}/revoke                             (RFC 7009)
 *   GET|POST /t/{slug}/userinfo                       (OpenID Connect Core §5.3)
 *   GET|POST /t/{slug}/authorize  the request's checks (RFC 6749 §4.1.2.1:
 *            an error page, or an error sent to the registered redirect
 *            URI with state and iss, RFC 9207); the sign-in on the hosted
 *            pages (/ui/login?return_to=), then the code
 *   GET|POST /t/{slug}/end_session  (RP-Initiated Logout 1.0): ends the
 *            browser session and, with id_token_hint, the grant's tokens
 * Requests are application/x-www-form-urlencoded (RFC 6749 §3.2); answers
 * JSON. Errors are {error, error_description} with RFC 6749's codes. The
 * engine decides (auth/oidc.h); this file only reads and writes HTTP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "api/api_internal.h"
#include "auth/browser.h"
#include "auth/oidc.h"
#include "core/util.h"

#define FORM_MAX 16                /* parameters per request */
#define FORM_VALUE_MAX 4096

typedef struct oidc_err {
	int status;
	const char *error;
	const char *description;
} oidc_err;

/* The one table from engine errors to this face's answers (RFC 6749 §5.2,
 * RFC 6750 §3.1). No default: a new ts_err makes the compiler ask. */
static oidc_err
oidc_map(ts_err e)
{
	switch (e) {
	case TS_OK:
	case TS_E_NOMEM:
	case TS_E_INTERNAL:
	case TS_E_SEAL:
	case TS_E_CONFLICT:
	case TS_E_PERMISSION:
	case TS_E_TENANT_CONFLICT:
	case TS_E_TOKEN_REUSED:
	case TS_E_CHALLENGE_INVALID:
	case TS_E_MFA_NOT_ENROLLED:
	case TS_E_EMAIL_SEND:
	case TS_E_MAIL_UNCONFIGURED:
	case TS_E_ENROLL_PROOF_REQUIRED:
	case TS_E_REAUTH_REQUIRED:
	case TS_E_LAST_FACTOR:
	case TS_E_REGISTRATION_CLOSED:
	case TS_E_BAD_CREDENTIALS:   /* no password grant here */
	case TS_E_NOT_VERIFIED:
	case TS_E_FORBIDDEN:
	case TS_E_MFA_INVALID:
	case TS_E_PASSWORD_POLICY:
	case TS_E__COUNT:
		return (oidc_err){ 500, "server_error", "Internal error." };
	case TS_E_INVALID:
		return (oidc_err){ 400, "invalid_request", "The request is malformed." };
	case TS_E_NOT_FOUND:
	case TS_E_TENANT_UNKNOWN:
		return (oidc_err){ 404, "not_found", "No such issuer or endpoint." };
	case TS_E_OIDC_CLIENT:
		return (oidc_err){ 401, "invalid_client", "Client authentication failed." };
	case TS_E_OIDC_GRANT:
		return (oidc_err){ 400, "invalid_grant",
		                   "The grant is invalid, expired, revoked or another client's." };
	case TS_E_OIDC_UNAUTHORIZED:
		return (oidc_err){ 400, "unauthorized_client",
		                   "The client may not use this grant type." };
	case TS_E_OIDC_SCOPE:
		return (oidc_err){ 400, "invalid_scope", "A scope asked for is not allowed." };
	case TS_E_TOKEN_INVALID:
	case TS_E_TOKEN_EXPIRED:
	case TS_E_TENANT_MISMATCH:
	case TS_E_SESSION_REVOKED:
		return (oidc_err){ 401, "invalid_token", "The access token is not active." };
	case TS_E_LOCKED:
	case TS_E_RATE_LIMITED:
		return (oidc_err){ 429, "slow_down", "Too many requests; try again later." };
	case TS_E_STORE_UNAVAILABLE:
	case TS_E_OVERLOADED:
		return (oidc_err){ 503, "temporarily_unavailable", "Try again shortly." };
	}
	return (oidc_err){ 500, "server_error", "Internal error." };
}

static ts_http_action
oidc_reply_err(ts_http_resp *resp, oidc_err m)
{
	api_reply(resp, m.status,
	          json_pack("{s:s, s:s}", "error", m.error, "error_description", m.description));
	resp->log_note = m.error;
	if (m.status == 503)
		resp->retry_after = 5;
	return TS_HTTP_DONE;
}

static ts_http_action
oidc_error(ts_http_resp *resp, ts_err e)
{
	return oidc_reply_err(resp, oidc_map(e));
}

/* A request error of this face's own (RFC 6749 §5.2 names it). */
static ts_http_action
oidc_bad(ts_http_resp *resp, const char *error, const char *description)
{
	return oidc_reply_err(resp, (oidc_err){ 400, error, description });
}

/* ---- application/x-www-form-urlencoded (WHATWG URL §5.1) ---- */

typedef struct form {
	char *key[FORM_MAX];
	char *val[FORM_MAX];
	int n;
	char *buf;
} form;

static int
hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes s in place ('+' is a space, %XX a byte); 0 on a bad escape or a
 * NUL byte. */
static int
unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r == '+') {
			*w++ = ' ';
		} else if (*r == '%') {
			int h = hexval(r[1]), l = h < 0 ? -1 : hexval(r[2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return 0;
			*w++ = (char)(h * 16 + l);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return 1;
}

static void
form_free(form *f)
{
	if (f->buf) {
		ts_wipe(f->buf, strlen(f->buf));   /* it may hold a secret */
		free(f->buf);
	}
	memset(f, 0, sizeof(*f));
}

/* Parses a form body; a parameter given twice is an error (RFC 6749
 * §3.2). 0 with the reason in *why. */
static int
form_parse(const ts_http_req *req, form *f, const char **why)
{
	const char *ct = req->content_type;
	char *save = NULL, *pair;

	memset(f, 0, sizeof(*f));
	*why = "the body must be application/x-www-form-urlencoded";
	if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 ||
	    (ct[33] && ct[33] != ';' && ct[33] != ' '))
		return 0;
	if (!(f->buf = strdup(req->body ? req->body : "")))
		return 0;
	for (pair = strtok_r(f->buf, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		if (!eq || f->n == FORM_MAX) {
			*why = "malformed or too many parameters";
			return 0;
		}
		*eq = '\0';
		if (!unescape(pair) || !unescape(eq + 1) || strlen(eq + 1) > FORM_VALUE_MAX) {
			*why = "malformed parameter";
			return 0;
		}
		for (int i = 0; i < f->n; i++)
			if (strcmp(f->key[i], pair) == 0) {
				*why = "a parameter is repeated";
				return 0;
			}
		f->key[f->n] = pair;
		f->val[f->n++] = eq + 1;
	}
	return 1;
}

/* The value of key, NULL when absent; "" counts as absent (RFC 6749 §3.1). */
static const char *
form_get(const form *f, const char *key)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->key[i], key) == 0)
			return *f->val[i] ? f->val[i] : NULL;
	return NULL;
}

/* ---- client authentication (RFC 6749 §2.3.1) ---- */

typedef struct client_cred {
	char id[TS_ID_SZ * 2];
	char secret[256];
	int basic;                   /* sent as HTTP Basic */
	int have_secret;
} client_cred;

/* Reads client_secret_basic or client_secret_post (or a bare client_id,
 * for none). 0 when malformed or both ways are used (§2.3: one only). */
static int
client_cred_read(const ts_http_req *req, const form *f, client_cred *c)
{
	const char *auth = req->authorization;
	const char *fid = form_get(f, "client_id"), *fsec = form_get(f, "client_secret");

	memset(c, 0, sizeof(*c));
	if (auth && strncasecmp(auth, "Basic ", 6) == 0) {
		unsigned char raw[sizeof(c->id) + sizeof(c->secret) + 2];
		size_t n = 0;
		char *colon;
		if (fsec || sodium_base642bin(raw, sizeof(raw) - 1, auth + 6, strlen(auth + 6), NULL,
		                              &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
			return 0;
		raw[n] = '\0';
		colon = memchr(raw, ':', n);
		if (!colon || memchr(raw, '\0', n) || (size_t)(colon - (char *)raw) >= sizeof(c->id) ||
		    strlen(colon + 1) >= sizeof(c->secret)) {
			sodium_memzero(raw, sizeof(raw));
			return 0;
		}
		*colon = '\0';
		memcpy(c->id, raw, strlen((char *)raw) + 1);
		memcpy(c->secret, colon + 1, strlen(colon + 1) + 1);
		sodium_memzero(raw, sizeof(raw));
		/* §2.3.1: both parts are form-encoded before Basic encoding */
		if (!unescape(c->id) || !unescape(c->secret) || (fid && strcmp(fid, c->id) != 0))
			return 0;
		c->basic = 1;
		c->have_secret = 1;
		return 1;
	}
	if (fid && strlen(fid) < sizeof(c->id))
		memcpy(c->id, fid, strlen(fid) + 1);
	if (fsec) {
		if (strlen(fsec) >= sizeof(c->secret))
			return 0;
		memcpy(c->secret, fsec, strlen(fsec) + 1);
		c->have_secret = 1;
	}
	return 1;
}

/* invalid_client: 401 (RFC 6749 §5.2), which always names a challenge
 * (RFC 9110 §15.5.2): Basic, the scheme discovery lists first. */
static ts_http_action
client_refused(ts_http_resp *resp, ts_err r)
{
	if (r == TS_E_OIDC_CLIENT)
		resp->www_authenticate = "Basic realm=\"tessera\"";
	return oidc_error(resp, r);
}

/* ---- one request ---- */

typedef struct oidc_call {
	ts_api *api;
	ts_http_req *req;
	ts_http_resp *resp;
	ts_tenant tenant;
	char iss[TS_OIDC_ISS_MAX];
} oidc_call;

static int
jwk_push(void *arg, const ts_jwk *k)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", k->kty, "crv", k->crv, "x",
	                      k->x, "kid", k->kid, "alg", k->alg, "use", "sig");

	if (o && *k->y)
		json_object_set_new(o, "y", json_string(k->y));
	return json_array_append_new(arg, o);
}

static ts_http_action
get_jwks(oidc_call *c)
{
	json_t *keys = json_array();

	if (!keys || ts_auth_jwks(c->api->auth, jwk_push, keys) != TS_OK) {
		json_decref(keys);
		return oidc_error(c->resp, TS_E_INTERNAL);
	}
	api_reply(c->resp, 200, json_pack("{s:o}", "keys", keys));
	c->resp->cache_control = "public, max-age=60";
	return TS_HTTP_DONE;
}

static json_t *
strs(const char *const *v)
{
	json_t *a = json_array();

	for (; a && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *
endpoint(const oidc_call *c, const char *rest)
{
	char url[TS_OIDC_ISS_MAX + 64];

	snprintf(url, sizeof(url), "%s%s", c->iss, rest);
	return json_string(url);
}

/* OpenID Connect Discovery 1.0 §3, RFC 8414 §2. */
static ts_http_action
get_discovery(oidc_call *c)
{
	static const char *const response_types[] = { "code", NULL };
	static const char *const grants[] = { "authorization_code", "refresh_token",
		                              "client_credentials", NULL };
	static const char *const auth_methods[] = { "client_secret_basic", "client_secret_post",
		                                    "none", NULL };
	static const char *const secret_methods[] = { "client_secret_basic",
		                                      "client_secret_post", NULL };
	static const char *const scopes[] = { "openid", "email", "profile", "offline_access",
		                              NULL };
	static const char *const algs[] = { "ES256", "EdDSA", NULL };
	static const char *const pkce[] = { "S256", NULL };
	static const char *const subjects[] = { "public", NULL };
	static const char *const claims[] = { "iss", "sub", "aud", "exp", "iat", "auth_time",
		                              "nonce", "amr", "acr", "sid", "at_hash", "email",
		                              "email_verified", "name", NULL };
	static const char *const modes[] = { "query", NULL };
	static const char *const acrs[] = { TS_OIDC_ACR_PWD, TS_OIDC_ACR_MFA, NULL };
	json_t *o = json_object();

	if (!o)
		return oidc_error(c->resp, TS_E_NOMEM);
	json_object_set_new(o, "issuer", json_string(c->iss));
	json_object_set_new(o, "authorization_endpoint", endpoint(c, "/authorize"));
	json_object_set_new(o, "token_endpoint", endpoint(c, "/token"));
	json_object_set_new(o, "userinfo_endpoint", endpoint(c, "/userinfo"));
	json_object_set_new(o, "jwks_uri", endpoint(c, "/jwks"));
	json_object_set_new(o, "introspection_endpoint", endpoint(c, "/introspect"));
	json_object_set_new(o, "revocation_endpoint", endpoint(c, "/revoke"));
	json_object_set_new(o, "end_session_endpoint", endpoint(c, "/end_session"));
	json_object_set_new(o, "response_types_supported", strs(response_types));
	json_object_set_new(o, "response_modes_supported", strs(modes));
	json_object_set_new(o, "grant_types_supported", strs(grants));
	json_object_set_new(o, "subject_types_supported", strs(subjects));
	json_object_set_new(o, "id_token_signing_alg_values_supported", strs(algs));
	json_object_set_new(o, "scopes_supported", strs(scopes));
	json_object_set_new(o, "claims_supported", strs(claims));
	json_object_set_new(o, "acr_values_supported", strs(acrs));
	json_object_set_new(o, "token_endpoint_auth_methods_supported", strs(auth_methods));
	json_object_set_new(o, "introspection_endpoint_auth_methods_supported",
	                    strs(secret_methods));
	json_object_set_new(o, "revocation_endpoint_auth_methods_supported", strs(secret_methods));
	json_object_set_new(o, "code_challenge_methods_supported", strs(pkce));
	json_object_set_new(o, "authorization_response_iss_parameter_supported", json_true());
	json_object_set_new(o, "claims_parameter_supported", json_false());
	json_object_set_new(o, "request_parameter_supported", json_false());
	json_object_set_new(o, "request_uri_parameter_supported", json_false());
	api_reply(c->resp, 200, o);
	c->resp->cache_control = "public, max-age=300";
	return TS_HTTP_DONE;
}

/* Reads the form and authenticates the client; 0 with the answer in
 * resp. Introspection and revocation, like the token endpoint, take only
 * an authenticated (confidential) client. */
static int
client_of(oidc_call *c, form *f, client_cred *cred, ts_oidc_client *cl, int need_secret)
{
	const char *why;
	ts_err r;

	if (!form_parse(c->req, f, &why)) {
		oidc_bad(c->resp, "invalid_request", why);
		return 0;
	}
	if (!client_cred_read(c->req, f, cred)) {
		oidc_bad(c->resp, "invalid_request", "malformed client authentication");
		return 0;
	}
	if (need_secret && !cred->have_secret)
		r = TS_E_OIDC_CLIENT;
	else
		r = ts_oidc_client_auth(c->api->auth, &c->tenant, cred->id,
		                        cred->have_secret ? cred->secret : NULL, cl);
	if (r != TS_OK) {
		client_refused(c->resp, r);
		return 0;
	}
	return 1;
}

static ts_http_action
token_answer(oidc_call *c, const ts_oidc_tokens *t)
{
	json_t *o = json_pack("{s:s, s:s, s:I}", "access_token", t->access, "token_type", "Bearer",
	                      "expires_in", (json_int_t)t->expires_in);

	if (o && *t->scope)
		json_object_set_new(o, "scope", json_string(t->scope));
	if (o && *t->refresh)
		json_object_set_new(o, "refresh_token", json_string(t->refresh));
	if (o && *t->id_token)
		json_object_set_new(o, "id_token", json_string(t->id_token));
	api_reply(c->resp, 200, o);
	c->resp->cache_control = "no-store";   /* RFC 6749 §5.1 */
	return TS_HTTP_DONE;
}

static ts_http_action
post_token(oidc_call *c)
{
	client_cred cred;
	ts_oidc_client cl;
	ts_oidc_tokens *t = NULL;
	const char *grant;
	ts_http_action act;
	ts_err r;
	form f;

	if (!client_of(c, &f, &cred, &cl, 0)) {
		act = TS_HTTP_DONE;
		goto out;
	}
	grant = form_get(&f, "grant_type");
	if (!grant) {
		act = oidc_bad(c->resp, "invalid_request", "grant_type is required");
		goto out;
	}
	if (strcmp(grant, "client_credentials") != 0 && strcmp(grant, "authorization_code") != 0 &&
	    strcmp(grant, "refresh_token") != 0) {
		act = oidc_bad(c->resp, "unsupported_grant_type",
		               "this server takes authorization_code, refresh_token and "
		               "client_credentials");
		goto out;
	}
	if (!(t = malloc(sizeof(*t)))) {
		act = oidc_error(c->resp, TS_E_NOMEM);
		goto out;
	}
	if (strcmp(grant, "authorization_code") == 0) {
		/* RFC 6749 §4.1.3 */
		if (!form_get(&f, "code") || !form_get(&f, "redirect_uri")) {
			act = oidc_bad(c->resp, "invalid_request", "code and redirect_uri are required");
			goto out;
		}
		r = ts_oidc_code_exchange(c->api->auth, &c->tenant, c->iss, &cl, form_get(&f, "code"),
		                          form_get(&f, "redirect_uri"), form_get(&f, "code_verifier"),
		                          t);
	} else if (strcmp(grant, "refresh_token") == 0) {
		/* RFC 6749 §6 */
		if (!form_get(&f, "refresh_token")) {
			act = oidc_bad(c->resp, "invalid_request", "refresh_token is required");
			goto out;
		}
		r = ts_oidc_refresh(c->api->auth, &c->tenant, c->iss, &cl, form_get(&f, "refresh_token"),
		                    form_get(&f, "scope"), t);
	} else {
		r = ts_oidc_client_credentials(c->api->auth, &c->tenant, c->iss, &cl,
		                               form_get(&f, "scope"), t);
	}
	act = r == TS_OK ? token_answer(c, t) : oidc_error(c->resp, r);
out:
	if (t) {
		ts_wipe(t, sizeof(*t));
		free(t);
	}
	ts_wipe(&cred, sizeof(cred));
	form_free(&f);
	return act;
}

static ts_http_action
post_introspect(oidc_call *c)
{
	client_cred cred;
	ts_oidc_client cl;
	ts_oidc_claims cc;
	ts_http_action act;
	const char *token;
	int active = 0;
	ts_err r;
	form f;

	if (!client_of(c, &f, &cred, &cl, 1)) {
		act = TS_HTTP_DONE;
		goto out;
	}
	if (!(token = form_get(&f, "token"))) {
		act = oidc_bad(c->resp, "invalid_request", "token is required");
		goto out;
	}
	/* RFC 7662 §2.2: anything not active is just {"active": false}. */
	if ((r = ts_oidc_introspect(c->api->auth, &c->tenant, c->iss, token, &active, &cc)) !=
	    TS_OK) {
		act = oidc_error(c->resp, r);
		goto out;
	}
	if (!active) {
		api_reply(c->resp, 200, json_pack("{s:b}", "active", 0));
	} else {
		json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "active", 1,
		                      "client_id", cc.client_id, "sub", cc.sub, "aud", cc.aud, "iss",
		                      cc.iss, "jti", cc.jti, "iat", (json_int_t)cc.iat, "exp",
		                      (json_int_t)cc.exp, "token_type", "Bearer");
		if (o && *cc.scope)
			json_object_set_new(o, "scope", json_string(cc.scope));
		api_reply(c->resp, 200, o);
	}
	act = TS_HTTP_DONE;
out:
	ts_wipe(&cred, sizeof(cred));
	form_free(&f);
	return act;
}

static ts_http_action
post_revoke(oidc_call *c)
{
	client_cred cred;
	ts_oidc_client cl;
	ts_http_action act;
	const char *token;
	ts_err r;
	form f;

	if (!client_of(c, &f, &cred, &cl, 1)) {
		act = TS_HTTP_DONE;
		goto out;
	}
	if (!(token = form_get(&f, "token"))) {
		act = oidc_bad(c->resp, "invalid_request", "token is required");
		goto out;
	}
	if ((r = ts_oidc_revoke(c->api->auth, &c->tenant, c->iss, &cl, token)) != TS_OK) {
		act = oidc_error(c->resp, r);
		goto out;
	}
	c->resp->status = 200;         /* RFC 7009 §2.2: an empty 200 */
	act = TS_HTTP_DONE;
out:
	ts_wipe(&cred, sizeof(cred));
	form_free(&f);
	return act;
}

/* OpenID Connect Core §5.3: the Bearer token from the header (RFC 6750
 * §2.1) or, on POST, the form's access_token (§2.2), not both. */
static ts_http_action
userinfo(oidc_call *c)
{
	const char *bearer = api_bearer(c->req), *token = bearer;
	ts_oidc_claims cc;
	ts_user u;
	ts_err r;
	form f = { 0 };
	json_t *o;

	if (strcmp(c->req->method, "POST") == 0 && c->req->body && c->req->body_len) {
		const char *why;
		if (!form_parse(c->req, &f, &why)) {
			form_free(&f);
			return oidc_bad(c->resp, "invalid_request", why);
		}
		if (form_get(&f, "access_token")) {
			if (bearer) {
				form_free(&f);
				return oidc_bad(c->resp, "invalid_request", "two access tokens");
			}
			token = form_get(&f, "access_token");
		}
	}
	r = token ? ts_oidc_userinfo(c->api->auth, &c->tenant, c->iss, token, &cc, &u)
	          : TS_E_TOKEN_INVALID;
	form_free(&f);
	if (r != TS_OK) {
		/* RFC 6750 §3: the challenge names the error */
		c->resp->www_authenticate = token ? "Bearer error=\"invalid_token\"" : "Bearer";
		return oidc_error(c->resp, r);
	}
	o = json_pack("{s:s}", "sub", u.id);
	if (o && ts_oidc_has_word(cc.scope, "email")) {
		json_object_set_new(o, "email", json_string(u.email));
		json_object_set_new(o, "email_verified", json_boolean(u.is_verified));
	}
	ts_wipe(&u, sizeof(u));
	api_reply(c->resp, 200, o);
	return TS_HTTP_DONE;
}

/* ---- authorize (RFC 6749 §4.1.1; OpenID Connect Core §3.1.2) ---- */

/* Appends "&key=value" (or "?" first), value percent-encoded (RFC 3986
 * §2.1, everything but unreserved); 0 when it does not fit. */
static int
qs_add(char *out, size_t cap, const char *key, const char *v)
{
	size_t n = strlen(out);
	int w = snprintf(out + n, cap - n, "%c%s=", strchr(out, '?') ? '&' : '?', key);

	if (w < 0 || (size_t)w >= cap - n)
		return 0;
	n += (size_t)w;
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (n + 4 > cap)
			return 0;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c))
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, 4, "%%%02X", c);
	}
	out[n] = '\0';
	return 1;
}

/* A page with fixed text (nothing of the request is echoed). */
static ts_http_action
html_page(ts_http_resp *resp, int status, const char *title, const char *text)
{
	char *b = NULL;

	if (asprintf(&b, "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
	                 "<title>%s</title><h1>%s</h1><p>%s</p></html>\n", title, title, text) < 0)
		return oidc_error(resp, TS_E_NOMEM);
	resp->status = status;
	resp->body = b;
	resp->body_len = strlen(b);
	resp->content_type = "text/html; charset=utf-8";
	return TS_HTTP_DONE;
}

/* RFC 6749 §4.1.2.1 with RFC 9207's iss: a 303 to the registered
 * redirect_uri (the engine checked it is one). */
static ts_http_action
authz_redirect(oidc_call *c, const char *uri, const ts_oidc_authz *z, const char *state)
{
	ts_http_resp *resp = c->resp;

	if (strlen(uri) >= sizeof(resp->location))
		return html_page(resp, 400, "Sign-in request refused", "The redirect URI is too long.");
	memcpy(resp->location, uri, strlen(uri) + 1);
	if (!qs_add(resp->location, sizeof(resp->location), "error", z->error) ||
	    !qs_add(resp->location, sizeof(resp->location), "error_description", z->description) ||
	    (state && !qs_add(resp->location, sizeof(resp->location), "state", state)) ||
	    !qs_add(resp->location, sizeof(resp->location), "iss", c->iss)) {
		resp->location[0] = '\0';
		return html_page(resp, 400, "Sign-in request refused", "The redirect URI is too long.");
	}
	resp->status = 303;   /* RFC 9110 §15.4.4: a GET follows, also after a POST */
	resp->log_note = z->error;
	return TS_HTTP_DONE;
}

/* The request's parameters: the query (GET) or the form (POST, §3.1). */
static int
authz_params(oidc_call *c, form *f, ts_oidc_authz_req *q)
{
	static const char *const names[] = { "client_id", "redirect_uri", "response_type", "scope",
		                             "state", "nonce", "code_challenge",
		                             "code_challenge_method", "prompt", "max_age",
		                             "login_hint", "response_mode" };
	const char **slot[] = { &q->client_id, &q->redirect_uri, &q->response_type, &q->scope,
		                &q->state, &q->nonce, &q->code_challenge, &q->code_challenge_method,
		                &q->prompt, &q->max_age, &q->login_hint, &q->response_mode };
	int post = strcmp(c->req->method, "POST") == 0;
	const char *why;

	memset(q, 0, sizeof(*q));
	memset(f, 0, sizeof(*f));
	if (!post && ts_http_query_repeated(c->req)) {
		q->repeated = 1;
		return 1;
	}
	if (post && !form_parse(c->req, f, &why)) {
		/* a repeated parameter (or a malformed form): trust none of it */
		q->repeated = 1;
		return 1;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = post ? form_get(f, names[i]) : ts_http_query(c->req, names[i]);
		*slot[i] = v && *v ? v : NULL;
	}
	q->login_after = post ? form_get(f, "login_after") : ts_http_query(c->req, "login_after");
	return 1;
}

/* The path to come back to after signing in: this request again, as a
 * GET, without prompt and, when prompt=login asked for a new sign-in,
 * with login_after (ours) so the new one satisfies it. */
static int
return_path(const oidc_call *c, const ts_oidc_authz_req *q, const ts_oidc_authz *z, char *out,
            size_t cap)
{
	const char *names[] = { "client_id", "redirect_uri", "response_type", "scope", "state",
		                "nonce", "code_challenge", "code_challenge_method", "max_age",
		                "login_hint", "response_mode" };
	const char *vals[] = { q->client_id, q->redirect_uri, q->response_type, q->scope, q->state,
		               q->nonce, q->code_challenge, q->code_challenge_method, q->max_age,
		               q->login_hint, q->response_mode };
	char now[24];
	int n = snprintf(out, cap, "/t/%s/authorize", c->tenant.slug);

	if (n < 0 || (size_t)n >= cap)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (vals[i] && !qs_add(out, cap, names[i], vals[i]))
			return 0;
	if (z->prompt_login || z->max_age >= 0) {
		snprintf(now, sizeof(now), "%lld", (long long)ts_now());
		if (!qs_add(out, cap, "login_after", now))
			return 0;
	}
	return 1;
}

/* SIGN_IN: a 303 to the hosted sign-in page, which comes back here. */
static ts_http_action
to_sign_in(oidc_call *c, const ts_oidc_authz_req *q, const ts_oidc_authz *z)
{
	char back[TS_HTTP_LOCATION_MAX / 2];
	ts_http_resp *resp = c->resp;
	int n;

	if (!return_path(c, q, z, back, sizeof(back)))
		return html_page(resp, 400, "Sign-in request refused", "The request is too long.");
	n = snprintf(resp->location, sizeof(resp->location), "/ui/login");
	if (n < 0 || !qs_add(resp->location, sizeof(resp->location), "tenant", c->tenant.slug) ||
	    (q->login_hint && !qs_add(resp->location, sizeof(resp->location), "login_hint",
	                              q->login_hint)) ||
	    !qs_add(resp->location, sizeof(resp->location), "return_to", back)) {
		resp->location[0] = '\0';
		return html_page(resp, 400, "Sign-in request refused", "The request is too long.");
	}
	resp->status = 303;
	resp->log_note = "sign_in";
	return TS_HTTP_DONE;
}

/* CODE: RFC 6749 §4.1.2 with RFC 9207's iss. */
static ts_http_action
with_code(oidc_call *c, const ts_oidc_authz_req *q, const ts_oidc_authz *z, const ts_browser *b)
{
	char code[TS_SECRET_TEXT_LEN + 1];
	ts_http_resp *resp = c->resp;
	ts_err r;

	if (strlen(q->redirect_uri) >= sizeof(resp->location))
		return html_page(resp, 400, "Sign-in request refused", "The redirect URI is too long.");
	r = ts_oidc_code_issue(c->api->auth, &c->tenant, q, z, &b->p.session, b->auth_time, code);
	if (r != TS_OK)
		return html_page(resp, 503, "Try again", "The service is unavailable; try again shortly.");
	memcpy(resp->location, q->redirect_uri, strlen(q->redirect_uri) + 1);
	if (!qs_add(resp->location, sizeof(resp->location), "code", code) ||
	    (q->state && !qs_add(resp->location, sizeof(resp->location), "state", q->state)) ||
	    !qs_add(resp->location, sizeof(resp->location), "iss", c->iss)) {
		resp->location[0] = '\0';
		ts_wipe(code, sizeof(code));
		return html_page(resp, 400, "Sign-in request refused", "The redirect URI is too long.");
	}
	ts_wipe(code, sizeof(code));
	resp->status = 303;
	resp->log_note = "code";
	return TS_HTTP_DONE;
}

/* Appends text to a page, HTML-escaped (only what the request sent is
 * ever escaped into a page: the consent form's hidden fields). 0 when it
 * does not fit. */
static int
html_add(char *out, size_t cap, const char *text)
{
	size_t n = strlen(out);

	for (; *text; text++) {
		const char *e = *text == '&' ? "&amp;" : *text == '<' ? "&lt;" : *text == '>' ? "&gt;"
		                : *text == '"' ? "&quot;" : *text == '\'' ? "&#39;" : NULL;
		size_t m = e ? strlen(e) : 1;
		if (n + m + 1 > cap)
			return 0;
		memcpy(out + n, e ? e : text, m);
		n += m;
	}
	out[n] = '\0';
	return 1;
}

/* CONSENT: a page asking the person; its form posts the request back to
 * {issuer}/consent (same origin only). */
/* The origin of a registered redirect URI (https://host[:port], or http on
 * the loopback) into out; 0 when it has anything a CSP source could not
 * carry. */
static int
uri_origin(const char *uri, char *out, size_t cap)
{
	const char *p = strstr(uri ? uri : "", "://");
	size_t n;

	if (!p || (strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0))
		return 0;
	p += 3;
	n = strcspn(p, "/?#");
	if (n == 0 || strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") < n)
		return 0;
	return snprintf(out, cap, "%.*s%.*s", (int)(p - uri), uri, (int)n, p) < (int)cap;
}

/* Adds the redirect URI's origin to the consent page's form-action, the
 * policy written after the page's NUL in body b (cap bytes). */
static void
consent_csp(ts_http_resp *resp, char *b, size_t cap, const char *redirect_uri)
{
	char origin[TS_OIDC_URI_MAX];
	size_t used = strlen(b) + 1;
	int n;

	if (!uri_origin(redirect_uri, origin, sizeof(origin)))
		return;
	n = snprintf(b + used, cap - used,
	             "default-src 'none'; form-action 'self' %s; frame-ancestors 'none'", origin);
	if (n > 0 && (size_t)n < cap - used)
		resp->csp = b + used;
}

static ts_http_action
consent_page(oidc_call *c, const ts_oidc_authz_req *q, const ts_oidc_authz *z)
{
	const char *names[] = { "client_id", "redirect_uri", "response_type", "scope", "state",
		                "nonce", "code_challenge", "code_challenge_method", "max_age",
		                "response_mode", "login_after" };
	const char *vals[] = { q->client_id, q->redirect_uri, q->response_type, q->scope, q->state,
		               q->nonce, q->code_challenge, q->code_challenge_method, q->max_age,
		               q->response_mode, q->login_after };
	size_t cap = 16384;
	char *b = malloc(cap);
	int ok;

	if (!b)
		return oidc_error(c->resp, TS_E_NOMEM);
	b[0] = '\0';
	ok = html_add(b, cap, "") && snprintf(b, cap, "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
	                                            "<title>Allow access</title><h1>Allow ") > 0;
	ok = ok && html_add(b, cap, z->client.name);
	ok = ok && strlen(b) + 200 < cap;
	if (ok) {
		strcat(b, "?</h1><p>It asks for: ");
		ok = html_add(b, cap, z->scope);
		strcat(b, "</p><form method=\"post\" action=\"/t/");
		ok = ok && html_add(b, cap, c->tenant.slug);
		strcat(b, "/consent\">");
	}
	for (size_t i = 0; ok && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!vals[i])
			continue;
		ok = strlen(b) + 64 < cap;
		if (!ok)
			break;
		strcat(b, "<input type=\"hidden\" name=\"");
		strcat(b, names[i]);
		strcat(b, "\" value=\"");
		ok = html_add(b, cap, vals[i]) && strlen(b) + 8 < cap;
		if (ok)
			strcat(b, "\">");
	}
	ok = ok && strlen(b) + 200 < cap;
	if (!ok) {
		free(b);
		return html_page(c->resp, 400, "Sign-in request refused", "The request is too long.");
	}
	strcat(b, "<button name=\"decision\" value=\"allow\">Allow</button> "
	          "<button name=\"decision\" value=\"deny\">Deny</button></form></html>\n");
	c->resp->status = 200;
	c->resp->body = b;
	c->resp->body_len = strlen(b);
	c->resp->content_type = "text/html; charset=utf-8";
	/* nothing runs, and the form goes nowhere else than here and, by the
	 * answer's redirect, the registered redirect URI: browsers check
	 * form-action on the redirects of a form's navigation too (CSP 3
	 * §6.4.1), so without its origin Allow and Deny would be blocked. The
	 * policy lives after the page's NUL, in the body the transport keeps
	 * until the answer is sent. */
	c->resp->csp = "default-src 'none'; form-action 'self'; frame-ancestors 'none'";
	consent_csp(c->resp, b, cap, q->redirect_uri);
	return TS_HTTP_DONE;
}

/* The request judged with the browser session, and its answer. decision:
 * NULL from authorize; "allow" or "deny" from the consent form. */
static ts_http_action
authz_answer(oidc_call *c, const ts_oidc_authz_req *q, const char *decision)
{
	ts_oidc_authz *z = calloc(1, sizeof(*z));
	ts_browser *b = calloc(1, sizeof(*b));
	const char *user = NULL;
	int64_t auth_time = 0;
	ts_http_action act;
	ts_err r;

	if (!z || !b) {
		free(z);
		free(b);
		return oidc_error(c->resp, TS_E_NOMEM);
	}
	/* The person's browser session in this issuer's tenant, if any; an
	 * enrolment-only one is no sign-in. */
	r = api_page_browser_of(c->api, c->req, &c->tenant, b);
	if (r == TS_OK && b->p.scope == TS_SESSION_FULL) {
		auth_time = b->auth_time;
		user = b->p.user.id;
	}
	if (r == TS_E_STORE_UNAVAILABLE || r == TS_E_NOMEM || r == TS_E_INTERNAL ||
	    (r = ts_oidc_authorize(c->api->auth, &c->tenant, q, user, auth_time, z)) != TS_OK) {
		act = html_page(c->resp, 503, "Try again", "The service is unavailable; try again shortly.");
		goto out;
	}
	if (decision && (z->next == TS_AUTHZ_CONSENT || z->next == TS_AUTHZ_CODE)) {
		if (strcmp(decision, "allow") != 0) {
			/* OpenID Connect Core §3.1.2.6 */
			z->error = "access_denied";
			z->description = "The person did not allow this client.";
			act = authz_redirect(c, q->redirect_uri, z, q->state);
			goto out;
		}
		if ((r = ts_oidc_consent_give(c->api->auth, &c->tenant, user, z)) != TS_OK) {
			act = html_page(c->resp, 503, "Try again", "The service is unavailable; try again shortly.");
			goto out;
		}
		z->next = TS_AUTHZ_CODE;
	}
	if (z->next == TS_AUTHZ_ERROR_PAGE)
		act = html_page(c->resp, 400, "Sign-in request refused", z->description);
	else if (z->next == TS_AUTHZ_ERROR_REDIRECT)
		act = authz_redirect(c, q->redirect_uri, z, q->state);
	else if (z->next == TS_AUTHZ_SIGN_IN)
		act = to_sign_in(c, q, z);
	else if (z->next == TS_AUTHZ_CONSENT)
		act = consent_page(c, q, z);
	else
		act = with_code(c, q, z, b);
out:
	ts_wipe(b, sizeof(*b));
	free(b);
	free(z);
	return act;
}

static ts_http_action
authorize(oidc_call *c)
{
	ts_oidc_authz_req q;
	ts_http_action act;
	form f;

	authz_params(c, &f, &q);
	act = authz_answer(c, &q, NULL);
	form_free(&f);
	return act;
}

/* The consent form's answer: same origin only (no other site may consent
 * for the person), the request judged again from the start. */
static ts_http_action
consent(oidc_call *c)
{
	ts_oidc_authz_req q;
	ts_http_action act;
	const char *decision;
	form f;

	if (!api_page_same_origin(c->req))
		return html_page(c->resp, 403, "Refused", "This form must come from this site.");
	authz_params(c, &f, &q);
	decision = form_get(&f, "decision");
	if (!decision)
		act = html_page(c->resp, 400, "Sign-in request refused", "No decision was made.");
	else
		act = authz_answer(c, &q, decision);
	form_free(&f);
	return act;
}

/* ---- end_session (OpenID Connect RP-Initiated Logout 1.0) ---- */

static ts_http_action
end_session(oidc_call *c)
{
	int post = strcmp(c->req->method, "POST") == 0;
	const char *hint, *cid, *uri, *state, *why;
	ts_oidc_logout *lo = calloc(1, sizeof(*lo));
	ts_http_action act;
	ts_err r;
	form f = { 0 };

	if (!lo)
		return oidc_error(c->resp, TS_E_NOMEM);
	if (post ? !form_parse(c->req, &f, &why) : ts_http_query_repeated(c->req)) {
		act = html_page(c->resp, 400, "Sign-out refused", "A parameter is malformed or repeated.");
		goto out;
	}
#define PARAM(k) (post ? form_get(&f, k) : ts_http_query(c->req, k))
	hint = PARAM("id_token_hint");
	cid = PARAM("client_id");
	uri = PARAM("post_logout_redirect_uri");
	state = PARAM("state");
#undef PARAM
	r = ts_oidc_end_session(c->api->auth, &c->tenant, c->iss, hint && *hint ? hint : NULL,
	                        cid && *cid ? cid : NULL, uri && *uri ? uri : NULL, lo);
	if (r == TS_E_INVALID) {
		act = html_page(c->resp, 400, "Sign-out refused", "The id_token_hint is not one of ours.");
		goto out;
	}
	if (r != TS_OK || (r = api_page_sign_out(c->api, c->req, c->resp)) != TS_OK) {
		act = html_page(c->resp, 503, "Try again", "The service is unavailable; try again shortly.");
		goto out;
	}
	if (lo->redirect && strlen(uri) < sizeof(c->resp->location)) {
		memcpy(c->resp->location, uri, strlen(uri) + 1);
		if (state && *state && !qs_add(c->resp->location, sizeof(c->resp->location), "state", state)) {
			c->resp->location[0] = '\0';
		} else {
			c->resp->status = 303;
			c->resp->log_note = "signed_out";
			act = TS_HTTP_DONE;
			goto out;
		}
	}
	act = html_page(c->resp, 200, "Signed out", "You are signed out.");
out:
	form_free(&f);
	free(lo);
	return act;
}

/* ---- the sub-router ---- */

typedef struct oidc_path {
	const char *rest;
	const char *allow;
	ts_http_action (*fn)(oidc_call *c);
} oidc_path;

static const oidc_path paths[] = {
	{ "/.well-known/openid-configuration", "GET, HEAD", get_discovery },
	{ "/jwks", "GET, HEAD", get_jwks },
	{ "/token", "POST", post_token },
	{ "/introspect", "POST", post_introspect },
	{ "/revoke", "POST", post_revoke },
	{ "/userinfo", "GET, HEAD, POST", userinfo },
	{ "/authorize", "GET, HEAD, POST", authorize },
	{ "/end_session", "GET, HEAD, POST", end_session },
	{ "/consent", "POST", consent },
};

static int
method_ok(const char *m, const char *allow)
{
	size_t n = strlen(m);

	for (const char *p = allow; p; p = strchr(p, ',')) {
		while (*p == ',' || *p == ' ')
			p++;
		if (strncmp(p, m, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

static ts_http_action
oidc_route(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	char slug[TS_SLUG_MAX + 1];
	const char *p = req->path, *e;
	const oidc_path *hit = NULL;
	oidc_call *c;
	ts_http_action act;
	ts_err r;

	if (strncmp(p, "/t/", 3) != 0 || !(e = strchr(p + 3, '/')) ||
	    (size_t)(e - (p + 3)) > TS_SLUG_MAX)
		return oidc_error(resp, TS_E_NOT_FOUND);
	memcpy(slug, p + 3, (size_t)(e - (p + 3)));
	slug[e - (p + 3)] = '\0';
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && !hit; i++)
		if (strcmp(e, paths[i].rest) == 0)
			hit = &paths[i];
	if (!hit)
		return oidc_error(resp, TS_E_NOT_FOUND);
	if (strcmp(req->method, "OPTIONS") == 0)
		return api_answer_options(api, req, resp, hit->allow);
	if (!method_ok(req->method, hit->allow)) {
		resp->allow = hit->allow;   /* RFC 9110 §15.5.6 */
		return oidc_reply_err(resp, (oidc_err){ 405, "invalid_request",
		                                        "This method is not allowed here." });
	}
	if (!(c = calloc(1, sizeof(*c))))
		return oidc_error(resp, TS_E_NOMEM);
	*c = (oidc_call){ .api = api, .req = req, .resp = resp };
	if ((r = ts_oidc_tenant(api->auth, slug, &c->tenant, c->iss)) != TS_OK)
		act = oidc_error(resp, r);
	else
		act = hit->fn(c);
	free(c);
	return act;
}

/* "/t*" takes every path under /t: the issuers (oidc_route answers 404 for
 * the rest). After the native routes, so none of theirs is shadowed. */
const api_route api_oidc_routes[] = {
	{ FACE_NATIVE, "*", "/t*", oidc_route, 0 },
	{ 0, NULL, NULL, NULL, 0 },
};
