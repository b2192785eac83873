/* The hosted pages (docs/PAGES.md): static HTML, CSS and JavaScript
 * compiled into the binary (share/ui/), served under /ui/ and at /verify
 * and /reset (the mailed links), and the few page routes that set or use
 * the browser-session cookie (auth/browser.h). Everything else the pages
 * do, their scripts do through the JSON API with a short-lived bearer
 * token the cookie buys at POST /ui/session-token: no face ever takes the
 * cookie as a credential.
 *
 * Page routes are not face routes: the router gives them no CORS answer,
 * so no other origin can read them. Every POST here must come from this
 * origin (Sec-Fetch-Site: same-origin, or an Origin equal to our own) and
 * carry a JSON body (a cross-site form or text/plain "simple" request
 * cannot), so no cross-site request signs anyone in or changes state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <qrencode.h>

#include "api/api_internal.h"
#include "auth/browser.h"
#include "auth/webauthn.h"
#include "core/util.h"
#include "crypto/hash.h"

/* The pages' own policy: nothing from another origin, no inline script or
 * style, never framed. */
#define PAGES_CSP                                                              \
	"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

#define COOKIE_TLS "__Host-tessera"   /* RFC 6265bis §4.1.3.2: Secure, Path=/, no Domain */
#define COOKIE_PLAIN "tessera"

/* share/ui, embedded by scripts/embed.sh (meson.build). */
extern const char ts_ui_login_html[], ts_ui_mfa_html[], ts_ui_signup_html[],
	ts_ui_verify_html[], ts_ui_forgot_html[], ts_ui_reset_html[], ts_ui_account_html[],
	ts_ui_app_js[], ts_ui_app_css[];

typedef struct page_file {
	const char *path;
	const char *body;
	const char *type;
} page_file;

static const page_file files[] = {
	{ "/ui/", ts_ui_login_html, "text/html; charset=utf-8" },
	{ "/ui/login", ts_ui_login_html, "text/html; charset=utf-8" },
	{ "/ui/mfa", ts_ui_mfa_html, "text/html; charset=utf-8" },
	{ "/ui/signup", ts_ui_signup_html, "text/html; charset=utf-8" },
	{ "/ui/forgot", ts_ui_forgot_html, "text/html; charset=utf-8" },
	{ "/ui/account", ts_ui_account_html, "text/html; charset=utf-8" },
	{ "/verify", ts_ui_verify_html, "text/html; charset=utf-8" },
	{ "/reset", ts_ui_reset_html, "text/html; charset=utf-8" },
	{ "/ui/app.js", ts_ui_app_js, "text/javascript; charset=utf-8" },
	{ "/ui/app.css", ts_ui_app_css, "text/css; charset=utf-8" },
};

/* ---- answers ---- */

typedef struct page_err {
	int status;
	const char *code;
	const char *message;
} page_err;

/* The pages' one table from engine errors to answers. No default. The
 * first group cannot come from a page route (the pages reach those
 * engine calls through the JSON API), so it is the generic answer. */
static page_err
pages_map(ts_err e)
{
	switch (e) {
	case TS_OK:
	case TS_E_NOMEM:
	case TS_E_INTERNAL:
	case TS_E_SEAL:
	case TS_E_PERMISSION:
	case TS_E_CONFLICT:
	case TS_E_PASSWORD_POLICY:
	case TS_E_REGISTRATION_CLOSED:
	case TS_E_TOKEN_REUSED:
	case TS_E_LAST_FACTOR:
	case TS_E_REAUTH_REQUIRED:
	case TS_E_ENROLL_PROOF_REQUIRED:
	case TS_E_FORBIDDEN:
	case TS_E_OIDC_CLIENT:       /* only the OpenID Connect endpoints (oidc.c) */
	case TS_E_OIDC_GRANT:
	case TS_E_OIDC_UNAUTHORIZED:
	case TS_E_OIDC_SCOPE:
		return (page_err){ 500, "internal_error", "Something went wrong. Try again." };
	case TS_E_INVALID:
		return (page_err){ 400, "invalid_request", "The request was not understood." };
	case TS_E_NOT_FOUND:
	case TS_E_TENANT_UNKNOWN:
	case TS_E_BAD_CREDENTIALS:
		return (page_err){ 401, "invalid_credentials", "Wrong email or password." };
	case TS_E_TENANT_CONFLICT:
		return (page_err){ 400, "tenant_conflict", "This address names two different tenants." };
	case TS_E_STORE_UNAVAILABLE:
	case TS_E_OVERLOADED:
		return (page_err){ 503, "unavailable", "The service is busy. Try again shortly." };
	case TS_E_NOT_VERIFIED:
		return (page_err){ 403, "email_not_verified", "Verify your email address first: see the mail we sent." };
	case TS_E_LOCKED:
	case TS_E_RATE_LIMITED:
		return (page_err){ 429, "rate_limited", "Too many attempts. Wait a while and try again." };
	case TS_E_TOKEN_INVALID:
	case TS_E_TOKEN_EXPIRED:
	case TS_E_TENANT_MISMATCH:
	case TS_E_SESSION_REVOKED:
		return (page_err){ 401, "signed_out", "You are not signed in." };
	case TS_E_MFA_INVALID:
		return (page_err){ 401, "mfa_invalid", "That did not work. Check it and try again." };
	case TS_E_CHALLENGE_INVALID:
		return (page_err){ 401, "challenge_invalid", "This sign-in has expired. Start again." };
	case TS_E_MFA_NOT_ENROLLED:
		return (page_err){ 400, "mfa_not_enrolled", "That method is not available for this account." };
	case TS_E_EMAIL_SEND:
	case TS_E_MAIL_UNCONFIGURED:
		return (page_err){ 503, "mail_unavailable", "No mail could be sent." };
	case TS_E__COUNT:
		break;
	}
	return (page_err){ 500, "internal_error", "Something went wrong. Try again." };
}

static ts_http_action
page_error(ts_http_resp *resp, ts_err e, int retry_after)
{
	page_err m = pages_map(e);

	resp->retry_after = retry_after;
	resp->log_note = m.code;
	api_reply(resp, m.status, json_pack("{s:s, s:s}", "code", m.code, "message", m.message));
	return TS_HTTP_DONE;
}

static ts_http_action
page_refuse(ts_http_resp *resp, int status, const char *code, const char *message)
{
	resp->log_note = code;
	api_reply(resp, status, json_pack("{s:s, s:s}", "code", code, "message", message));
	return TS_HTTP_DONE;
}

/* ---- the cookie ---- */

static const char *
cookie_name(const ts_http_req *req)
{
	return req->tls ? COOKIE_TLS : COOKIE_PLAIN;
}

/* value "" clears it. */
static void
set_cookie(const ts_http_req *req, ts_http_resp *resp, const char *value, int64_t max_age)
{
	snprintf(resp->set_cookie, sizeof(resp->set_cookie),
	         "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Lax%s", cookie_name(req), value,
	         (long long)(*value ? max_age : 0), req->tls ? "; Secure" : "");
}

/* Our cookie's value in the Cookie header (RFC 6265 §5.4), into out; 0
 * when absent or not of a cookie's length. */
static int
get_cookie(const ts_http_req *req, char out[TS_BROWSER_COOKIE_LEN + 1])
{
	const char *h = ts_http_header(req, "Cookie");
	const char *name = cookie_name(req);
	size_t n = strlen(name);

	while (h && *h) {
		while (*h == ' ' || *h == ';')
			h++;
		const char *end = strchr(h, ';');
		size_t len = end ? (size_t)(end - h) : strlen(h);
		if (len == n + 1 + TS_BROWSER_COOKIE_LEN && strncmp(h, name, n) == 0 && h[n] == '=') {
			memcpy(out, h + n + 1, TS_BROWSER_COOKIE_LEN);
			out[TS_BROWSER_COOKIE_LEN] = '\0';
			return 1;
		}
		h = end;
	}
	return 0;
}

/* ---- the same-origin rule ---- */

/* 1 when a state-changing request comes from a page of this origin:
 * Sec-Fetch-Site (Fetch Metadata) says same-origin when a browser sends
 * it; an Origin must be our own scheme and Host. A request with neither is
 * no browser's page request and is refused too. */
static int
same_origin(const ts_http_req *req)
{
	const char *site = ts_http_header(req, "Sec-Fetch-Site");
	const char *origin = ts_http_header(req, "Origin");
	const char *host = ts_http_header(req, "Host");
	char want[TS_ORIGIN_MAX + 16];

	if (site && strcmp(site, "same-origin") != 0)
		return 0;
	if (!origin)
		return site != NULL;
	/* A form posted from a page with Referrer-Policy: no-referrer (every
	 * page of ours) has Origin "null" (Fetch §3.1, serializing a request
	 * origin): the browser's Sec-Fetch-Site still vouches for it. */
	if (site && strcmp(origin, "null") == 0)
		return 1;
	if (!host)
		return 0;
	snprintf(want, sizeof(want), "%s://%s", req->tls ? "https" : "http", host);
	return strcasecmp(origin, want) == 0;
}

/* 1 when the Content-Type is application/json (what no simple request
 * can send, Fetch §4.3 CORS-safelisted request-header). */
static int
json_typed(const ts_http_req *req)
{
	const char *t = req->content_type;
	size_t n = strlen("application/json");

	return t && strncasecmp(t, "application/json", n) == 0 &&
	       (t[n] == '\0' || t[n] == ';' || t[n] == ' ');
}

/* The request's body after the same-origin and type checks; NULL with
 * the answer in resp. */
static json_t *
page_body(ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = NULL;

	if (!same_origin(req)) {
		page_refuse(resp, 403, "cross_site", "This request must come from this site's pages.");
		return NULL;
	}
	if (!json_typed(req)) {
		page_refuse(resp, 415, "unsupported_media_type", "Send application/json.");
		return NULL;
	}
	if (api_parse_body(req, &body) != BODY_OK) {
		page_refuse(resp, 400, "invalid_request", "The request was not understood.");
		return NULL;
	}
	return body;
}

/* The tenant the request names (body tenant_slug or ?tenant=, Host), the
 * default one when it names none. */
static ts_err
page_tenant(ts_api *api, const ts_http_req *req, json_t *body, ts_tenant *t)
{
	ts_tenant_hints h = { ts_http_query(req, "tenant"), NULL, req->host };
	const char *slug;

	/* ?tenant= and the body's slug must agree (ts_auth_request_tenant
	 * compares a body slug with the header one). */
	if (body && api_get_string(body, "tenant_slug", &slug) == 1) {
		h.header_slug = h.body_slug;
		h.body_slug = slug;
	}
	return ts_auth_request_tenant(api->auth, &h, 1, t);
}

/* The signed-in browser of this request, in the tenant it names. */
static ts_err
page_browser(ts_api *api, const ts_http_req *req, json_t *body, ts_browser *b);

ts_err
api_page_browser(ts_api *api, const ts_http_req *req, ts_browser *b)
{
	return page_browser(api, req, NULL, b);
}

ts_err
api_page_browser_of(ts_api *api, const ts_http_req *req, const ts_tenant *t, ts_browser *b)
{
	char cookie[TS_BROWSER_COOKIE_LEN + 1];
	ts_err r;

	if (!get_cookie(req, cookie))
		return TS_E_TOKEN_INVALID;
	r = ts_browser_check(api->auth, cookie, t, b);
	ts_wipe(cookie, sizeof(cookie));
	return r;
}

ts_err
api_page_sign_out(ts_api *api, const ts_http_req *req, ts_http_resp *resp)
{
	char cookie[TS_BROWSER_COOKIE_LEN + 1];
	ts_err r = TS_OK;

	if (get_cookie(req, cookie))
		r = ts_browser_end(api->auth, cookie);
	ts_wipe(cookie, sizeof(cookie));
	if (r == TS_OK)
		set_cookie(req, resp, "", 0);
	return r;
}

int
api_page_same_origin(const ts_http_req *req)
{
	return same_origin(req);
}

static ts_err
page_browser(ts_api *api, const ts_http_req *req, json_t *body, ts_browser *b)
{
	char cookie[TS_BROWSER_COOKIE_LEN + 1];
	ts_tenant t;
	ts_err r;

	if (!get_cookie(req, cookie))
		return TS_E_TOKEN_INVALID;
	if ((r = page_tenant(api, req, body, &t)) == TS_OK)
		r = ts_browser_check(api->auth, cookie, &t, b);
	ts_wipe(cookie, sizeof(cookie));
	return r;
}

/* A finished sign-in: the cookie and what the page shows next. */
static void
reply_signed_in(const ts_http_req *req, ts_http_resp *resp, const char *cookie,
                const ts_browser *b)
{
	set_cookie(req, resp, cookie, b->p.session.expires_at - ts_now());
	api_reply(resp, 200, json_pack("{s:b, s:b, s:s}", "signed_in", 1, "enrollment_required",
	                               b->p.session.kind == TS_SESSION_ENROLL, "amr", b->amr));
}

/* ---- POST /ui/session-password {email, password, tenant_slug?} ---- */

/* A login job that remembers the connection's scheme for the cookie. j
 * first: api_login_job_free frees the whole. */
typedef struct page_login {
	api_login_job j;
	int tls;
} page_login;

static void
password_run(void *arg, ts_http_resp *resp)
{
	page_login *pl = arg;
	ts_client cl = { pl->j.req.client_ip, pl->j.user_agent };
	ts_http_req conn = { .tls = pl->tls };
	ts_browser_step *st = calloc(1, sizeof(*st));
	ts_err r;

	if (!st) {
		page_error(resp, TS_E_NOMEM, 0);
		goto out;
	}
	r = ts_browser_password(pl->j.api->auth, &pl->j.req, &cl, st);
	resp->not_before_us = st->not_before;  /* the padding holds the answer */
	if (r != TS_OK) {
		page_error(resp, r, 0);
		goto out;
	}
	if (st->cookie[0]) {
		reply_signed_in(&conn, resp, st->cookie, &st->b);
		goto out;
	}
	json_t *m = json_array();
	for (int i = 0; i < st->login.n_methods; i++)
		json_array_append_new(m, json_string(st->login.methods[i]));
	api_reply(resp, 200, json_pack("{s:b, s:s, s:o}", "mfa_required", 1, "challenge_id",
	                               st->challenge_id, "methods", m));
out:
	if (st)
		ts_wipe(st, sizeof(*st));
	free(st);
	api_login_job_free(&pl->j);
}

static ts_http_action
post_password(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = page_body(req, resp);
	page_login *pl;
	ts_login_req *lr;
	int wait = 0;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!(pl = calloc(1, sizeof(*pl)))) {
		json_decref(body);
		return page_error(resp, TS_E_NOMEM, 0);
	}
	pl->j.api = api;
	pl->j.body = body;
	pl->tls = req->tls;
	lr = &pl->j.req;
	if (api_get_string(body, "email", &lr->email) != 1 || !ts_email_valid(lr->email) ||
	    api_get_string(body, "password", &lr->password) != 1 ||
	    (lr->password_len = strlen(lr->password)) == 0 || lr->password_len > TS_PASSWORD_MAX) {
		api_login_job_free(&pl->j);
		return page_error(resp, TS_E_BAD_CREDENTIALS, 0);
	}
	if (api_get_string(body, "tenant_slug", &lr->tenant_slug) != 1)
		lr->tenant_slug = ts_http_query(req, "tenant");
	if ((r = api_login_defer(req, &pl->j, password_run, &wait)) != TS_OK)
		return page_error(resp, r, wait);
	return TS_HTTP_DEFERRED;
}

/* The credential member as JSON text (malloc'd), or NULL. */
static char *
credential_text(json_t *body)
{
	json_t *c = json_object_get(body, "credential");

	return json_is_object(c) ? json_dumps(c, JSON_COMPACT) : NULL;
}

/* ---- POST /ui/session-mfa {challenge_id, method, code | credential} ---- */

static ts_http_action
post_mfa(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = page_body(req, resp);
	char cookie[TS_BROWSER_COOKIE_LEN + 1];
	ts_factor_answer ans = { 0 };
	const char *id, *method;
	char *cred = NULL;
	ts_browser b;
	ts_client cl = { req->client_ip, ts_http_header(req, "User-Agent") };
	int wait = 0;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (api_get_string(body, "challenge_id", &id) != 1 ||
	    api_get_string(body, "method", &method) != 1 || !ts_factor_by_name(method)) {
		page_error(resp, TS_E_INVALID, 0);
		goto out;
	}
	if ((cred = credential_text(body))) {
		ans.credential = cred;
		ans.credential_len = strlen(cred);
	} else if (api_get_string(body, "code", &ans.code) != 1) {
		page_error(resp, TS_E_INVALID, 0);
		goto out;
	}
	r = ts_browser_mfa(api->auth, id, method, &ans, &cl, cookie, &b, &wait);
	if (r != TS_OK)
		page_error(resp, r, wait);
	else
		reply_signed_in(req, resp, cookie, &b);
	ts_wipe(cookie, sizeof(cookie));
out:
	free(cred);
	json_decref(body);
	return TS_HTTP_DONE;
}

/* ---- POST /ui/session-passkey {challenge_id, credential} ---- */

static ts_http_action
post_passkey(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = page_body(req, resp);
	char cookie[TS_BROWSER_COOKIE_LEN + 1];
	const char *id;
	char *cred = NULL;
	ts_browser b;
	ts_client cl = { req->client_ip, ts_http_header(req, "User-Agent") };
	int wait = 0;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (api_get_string(body, "challenge_id", &id) != 1 || !(cred = credential_text(body))) {
		page_error(resp, TS_E_INVALID, 0);
		goto out;
	}
	r = ts_browser_passkey(api->auth, id, cred, strlen(cred), &cl, cookie, &b, &wait);
	if (r != TS_OK)
		page_error(resp, r, wait);
	else
		reply_signed_in(req, resp, cookie, &b);
	ts_wipe(cookie, sizeof(cookie));
out:
	free(cred);
	json_decref(body);
	return TS_HTTP_DONE;
}

/* ---- POST /ui/session-token {tenant_slug?}: a bearer for the pages' JS ---- */

static ts_http_action
post_token(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = page_body(req, resp);
	ts_browser b;
	ts_tokens t;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if ((r = page_browser(api, req, body, &b)) != TS_OK ||
	    (r = ts_browser_token(api->auth, &b, &t)) != TS_OK) {
		page_error(resp, r, 0);
		goto out;
	}
	api_reply(resp, 200, json_pack("{s:s, s:I, s:s, s:s, s:b, s:I}", "token", t.access,
	                               "expires_in", (json_int_t)t.expires_in, "email",
	                               b.p.user.email, "tenant_slug", b.p.tenant.slug,
	                               "enrollment_required", b.p.session.kind == TS_SESSION_ENROLL,
	                               "auth_time", (json_int_t)b.auth_time));
	ts_wipe(&t, sizeof(t));
out:
	json_decref(body);
	return TS_HTTP_DONE;
}

/* ---- POST /ui/session-end: sign out ---- */

static ts_http_action
post_end(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = page_body(req, resp);
	char cookie[TS_BROWSER_COOKIE_LEN + 1];
	ts_err r = TS_OK;

	if (!body)
		return TS_HTTP_DONE;
	if (get_cookie(req, cookie))
		r = ts_browser_end(api->auth, cookie);
	ts_wipe(cookie, sizeof(cookie));
	json_decref(body);
	if (r != TS_OK)
		return page_error(resp, r, 0);
	set_cookie(req, resp, "", 0);
	api_reply(resp, 200, json_pack("{s:b}", "signed_out", 1));
	return TS_HTTP_DONE;
}

/* ---- POST /ui/qr {text}: a QR code (libqrencode) as SVG ---- */

static char *
qr_svg(const char *text, size_t *len)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	size_t cap, n = 0;
	char *out = NULL;
	int w, quiet = 4;

	if (!q)
		return NULL;
	w = q->width;
	cap = 256 + (size_t)w * (size_t)w * 24;
	if (!(out = malloc(cap)))
		goto done;
	n += (size_t)snprintf(out + n, cap - n,
	                      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	                      "width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\" "
	                      "role=\"img\" aria-label=\"QR code\">"
	                      "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
	                      w + 2 * quiet, w + 2 * quiet, (w + 2 * quiet) * 6,
	                      (w + 2 * quiet) * 6, w + 2 * quiet, w + 2 * quiet);
	for (int y = 0; y < w; y++)
		for (int x = 0; x < w; x++)
			if (q->data[y * w + x] & 1)
				n += (size_t)snprintf(out + n, cap - n, "M%d %dh1v1h-1z",
				                      x + quiet, y + quiet);
	n += (size_t)snprintf(out + n, cap - n, "\"/></svg>");
	*len = n;
done:
	QRcode_free(q);
	return out;
}

static ts_http_action
post_qr(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	json_t *body = page_body(req, resp);
	const char *text;
	ts_browser b;
	ts_err r;
	size_t len = 0;

	if (!body)
		return TS_HTTP_DONE;
	if ((r = page_browser(api, req, body, &b)) != TS_OK) {
		page_error(resp, r, 0);
		goto out;
	}
	if (api_get_string(body, "text", &text) != 1 || strlen(text) > 1024) {
		page_error(resp, TS_E_INVALID, 0);
		goto out;
	}
	if (!(resp->body = qr_svg(text, &len))) {
		page_error(resp, TS_E_NOMEM, 0);
		goto out;
	}
	resp->status = 200;
	resp->body_len = len;
	resp->content_type = "image/svg+xml";
out:
	json_decref(body);
	return TS_HTTP_DONE;
}

/* ---- the router of the pages ---- */

static ts_http_action
get_file(ts_http_req *req, ts_http_resp *resp)
{
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (strcmp(req->path, files[i].path) != 0)
			continue;
		if (!(resp->body = strdup(files[i].body)))
			return page_error(resp, TS_E_NOMEM, 0);
		resp->status = 200;
		resp->body_len = strlen(resp->body);
		resp->content_type = files[i].type;
		resp->cache_control = "no-cache";
		return TS_HTTP_DONE;
	}
	return page_refuse(resp, 404, "not_found", "No such page.");
}

typedef struct page_post {
	const char *path;
	api_handler fn;
} page_post;

static const page_post posts[] = {
	{ "/ui/session-password", post_password },
	{ "/ui/session-mfa", post_mfa },
	{ "/ui/session-passkey", post_passkey },
	{ "/ui/session-token", post_token },
	{ "/ui/session-end", post_end },
	{ "/ui/qr", post_qr },
};

ts_http_action
api_pages(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	/* Every answer here, pages and errors alike, carries the policy. */
	resp->csp = PAGES_CSP;
	if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
		return get_file(req, resp);
	if (strcmp(req->method, "POST") == 0)
		for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++)
			if (strcmp(req->path, posts[i].path) == 0)
				return posts[i].fn(api, req, resp);
	resp->allow = "GET, HEAD, POST";
	return page_refuse(resp, 405, "method_not_allowed", "This method is not allowed here.");
}
