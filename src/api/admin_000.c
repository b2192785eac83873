/* Contract 000, the admin face. POST {prefix}/auth/token {email, password}
 * answers {accessToken (JWT), tokenType:"bearer", expiresIn}. Only for
 * verified administrators without a second factor (this API has no MFA
 * step). Tenant: the Host's domain, else the default tenant; the body
 * names none. Since issue 9 also the Customers, Users and Audit resources
 * (bearer routes, below; docs/ADMIN.md). Errors are {error, code,
 * details?}. docs/FACES.md lists every answer and what produces it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_internal.h"
#include "api/jsonl.h"
#include "auth/admin.h"
#include "auth/import.h"
#include "auth/oidc.h"
#include "core/util.h"
#include "crypto/b64url.h"
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
	case TS_E_TOKEN_REUSED:
	case TS_E_CHALLENGE_INVALID:
	case TS_E_MFA_NOT_ENROLLED:
	case TS_E_EMAIL_SEND:
	case TS_E_ENROLL_PROOF_REQUIRED:
	case TS_E_REAUTH_REQUIRED:
	case TS_E_LAST_FACTOR:
	case TS_E_REGISTRATION_CLOSED: /* no self-service route here */
	case TS_E_OIDC_CLIENT:       /* only the OpenID Connect endpoints (oidc.c) */
	case TS_E_OIDC_GRANT:
	case TS_E_OIDC_UNAUTHORIZED:
	case TS_E_OIDC_SCOPE:
	case TS_E__COUNT:
		return (admin_err){ 500, "internal_error", "Internal error.", 0 };
	case TS_E_INVALID:
		return (admin_err){ 400, "invalid_request", "The request is invalid.", 0 };
	case TS_E_PASSWORD_POLICY:
		return (admin_err){ 400, "weak_password", "The password does not meet the policy.", 0 };
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
	/* Bearer routes (issue 9): */
	case TS_E_TOKEN_INVALID:
	case TS_E_SESSION_REVOKED:
	case TS_E_TENANT_MISMATCH:
		return (admin_err){ 401, "unauthorized", "A valid bearer token is required.", 0 };
	case TS_E_TOKEN_EXPIRED:
		return (admin_err){ 401, "token_expired", "The bearer token has expired.", 0 };
	case TS_E_PERMISSION:
		return (admin_err){ 403, "forbidden", "The caller may not do this.", 0 };
	case TS_E_NOT_FOUND:
		return (admin_err){ 404, "not_found", "No such resource.", 0 };
	case TS_E_CONFLICT:
		return (admin_err){ 409, "conflict", "The request conflicts with the current state.", 0 };
	case TS_E_MAIL_UNCONFIGURED:
		return (admin_err){ 501, "mail_unconfigured", "No mail server is configured.", 0 };
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
	if (m.status == 401 && (e == TS_E_TOKEN_INVALID || e == TS_E_TOKEN_EXPIRED ||
	                        e == TS_E_SESSION_REVOKED || e == TS_E_TENANT_MISMATCH))
		resp->www_authenticate = "Bearer";   /* RFC 6750 §3 */
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
	/* The padding holds the answer, not this hashing worker. */
	ts_err r = ts_auth_password_at(j->api->auth, &j->req, &ok, &resp->not_before_us);

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

/* ==== Customers, users and the audit log (issue 9) ====
 * Bearer routes; the rules are the engine's (auth/admin.h): this part
 * only parses, checks field shapes and renders. Paths:
 *   /customers                                   GET POST
 *   /customers/{slug}                            GET PATCH DELETE
 *   /customers/{slug}/users                      GET POST
 *   /customers/{slug}/users/import               POST (JSON Lines)
 *   /customers/{slug}/users/{id}                 GET PATCH DELETE
 *   /customers/{slug}/users/{id}/unlock          POST
 *   /customers/{slug}/users/{id}/sessions        DELETE
 *   /customers/{slug}/users/{id}/factors/{fid}   DELETE
 *   /audit                                       GET */

#define PAGE_DEFAULT 50
#define PAGE_MAX 500
#define SEG_MAX 7
#define SEG_LEN 128

typedef struct admin_call {
	ts_api *api;
	ts_http_req *req;
	ts_http_resp *resp;
	ts_actor who;
	char seg[SEG_MAX][SEG_LEN];
	int nseg;
} admin_call;

static ts_http_action
not_found(ts_http_resp *resp)
{
	return admin_error(resp, TS_E_NOT_FOUND, NULL, NULL, 0);
}

/* A field refused by name: "unknown field", "read-only field", or why. */
static ts_http_action
field_error(ts_http_resp *resp, const char *field, const char *reason)
{
	return admin_error(resp, TS_E_INVALID, field, reason, 0);
}

/* ---- cursors: opaque to clients (base64url of "c1:" and the key) ---- */

static void
cursor_make(const char *key, char out[2 * SEG_LEN * 2])
{
	char raw[TS_EMAIL_MAX + 8];
	size_t n = (size_t)snprintf(raw, sizeof(raw), "c1:%s", key);

	ts_b64url_encode((const unsigned char *)raw, n, out);
}

/* 1 and key filled when text is a cursor of ours (or absent: key ""). */
static int
cursor_read(const char *text, char *key, size_t cap)
{
	unsigned char raw[TS_EMAIL_MAX + 8];
	long n;

	key[0] = '\0';
	if (!text)
		return 1;
	if (strlen(text) > 2 * sizeof(raw) ||
	    (n = ts_b64url_decode(text, strlen(text), raw, sizeof(raw) - 1)) < 3 ||
	    memcmp(raw, "c1:", 3) != 0 || (size_t)n - 3 >= cap)
		return 0;
	raw[n] = '\0';
	if (memchr(raw, '\0', (size_t)n))
		return 0;
	memcpy(key, raw + 3, (size_t)n - 2);
	return 1;
}

/* limit from the query: PAGE_DEFAULT when absent, 0 when malformed. */
static int
query_limit(const ts_http_req *req)
{
	const char *v = ts_http_query(req, "limit");
	char *end;
	long n;

	if (!v)
		return PAGE_DEFAULT;
	n = strtol(v, &end, 10);
	if (!*v || *end || n < 1 || n > PAGE_MAX)
		return 0;
	return (int)n;
}

/* ---- bodies ---- */

typedef enum { F_STRING, F_BOOL, F_INT, F_STRINGS, F_STRING_OR_NULL } field_type;

typedef struct field_spec {
	const char *name;
	field_type type;
} field_spec;

/* Fields a client may see but never set. */
static const char *const read_only[] = {
	"id", "created_at", "updated_at", "tenant", "tenant_id", "customer", "factors",
	"password_hash", "locked", "next_cursor", NULL,
};

/* 1 when every member of body is in spec with the right type; else the
 * 400 naming the first member that is not is in resp. */
static int
body_fields_ok(json_t *body, const field_spec *spec, ts_http_resp *resp)
{
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v) {
		const field_spec *f = NULL;
		for (const field_spec *s = spec; s->name && !f; s++)
			if (strcmp(s->name, key) == 0)
				f = s;
		if (!f) {
			int ro = 0;
			for (int i = 0; read_only[i] && !ro; i++)
				ro = strcmp(read_only[i], key) == 0;
			field_error(resp, key, ro ? "read-only field" : "unknown field");
			return 0;
		}
		int ok = 0;
		switch (f->type) {
		case F_STRING: ok = json_is_string(v); break;
		case F_STRING_OR_NULL: ok = json_is_string(v) || json_is_null(v); break;
		case F_BOOL: ok = json_is_boolean(v); break;
		case F_INT: ok = json_is_integer(v); break;
		case F_STRINGS: {
			size_t i;
			json_t *e;
			ok = json_is_array(v) && json_array_size(v) <= TS_ADMIN_HOSTS_MAX;
			json_array_foreach(v, i, e)
				ok = ok && json_is_string(e);
			break;
		}
		}
		if (!ok) {
			field_error(resp, key,
			            f->type == F_BOOL ? "must be a boolean"
			            : f->type == F_INT ? "must be an integer"
			            : f->type == F_STRINGS ? "must be an array of at most 16 strings"
			                                   : "must be a string");
			return 0;
		}
	}
	return 1;
}

static int
get_bool(json_t *body, const char *key, int *set, int *val)
{
	json_t *v = json_object_get(body, key);

	*set = v != NULL;
	*val = v && json_is_true(v);
	return *set;
}

/* ---- renderings ---- */

static int
domain_push(void *arg, const char *host)
{
	return json_array_append_new(arg, json_string(host)) != 0;
}

static json_t *
customer_json(ts_api *api, const ts_tenant *t)
{
	json_t *d = json_array();
	json_t *o;

	if (d && ts_admin_tenant_domains(api->auth, t, domain_push, d) != TS_OK) {
		json_decref(d);
		return NULL;
	}
	o = json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:i, s:o}", "id", t->id, "slug", t->slug,
	              "name", t->name, "domains", d, "mfa_required", t->mfa_required,
	              "registration_open", t->registration_open, "password_min_length",
	              t->password_min_length, "created_at", api_time_json(t->created_at));
	return o;
}

static json_t *
user_json(const ts_user *u, const char *slug)
{
	json_t *o = api_user_json(u, slug);

	if (o)
		json_object_set_new(o, "disabled", json_boolean(u->is_disabled));
	return o;
}

static json_t *
user_json_full(ts_api *api, const ts_user *u, const char *slug)
{
	ts_admin_factor f[TS_ADMIN_FACTORS_MAX];
	json_t *o = user_json(u, slug), *list = json_array();
	int n = 0;

	if (!o || !list || ts_admin_factor_list(api->auth, u, f, TS_ADMIN_FACTORS_MAX, &n) != TS_OK) {
		json_decref(o);
		json_decref(list);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:o}", "id", f[i].id, "type",
		                                      f[i].type, "confirmed", f[i].confirmed,
		                                      "created_at", api_time_json(f[i].created_at)));
	json_object_set_new(o, "factors", list);
	return o;
}

static ts_http_action
reply_json(ts_http_resp *resp, int status, json_t *body)
{
	if (!body)
		return admin_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	api_reply(resp, status, body);
	return TS_HTTP_DONE;
}

static ts_http_action
reply_page(ts_http_resp *resp, json_t *items, const char *last, int more)
{
	char cur[2 * SEG_LEN * 2];

	if (!items)
		return admin_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	if (more && last)
		cursor_make(last, cur);
	return reply_json(resp, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor",
	                                       more && last ? json_string(cur) : json_null()));
}

static ts_http_action
no_content(ts_http_resp *resp)
{
	resp->status = 204;
	return TS_HTTP_DONE;
}

/* ---- customers ---- */

static const field_spec customer_fields[] = {
	{ "slug", F_STRING },
	{ "name", F_STRING },
	{ "domains", F_STRINGS },
	{ "mfa_required", F_BOOL },
	{ "registration_open", F_BOOL },
	{ "password_min_length", F_INT },
	{ NULL, F_STRING },
};

/* The patch a customer body asks for; hosts holds the domain pointers. */
static void
customer_patch(json_t *body, ts_tenant_patch *p, const char *hosts[TS_ADMIN_HOSTS_MAX])
{
	json_t *d = json_object_get(body, "domains"), *pm = json_object_get(body, "password_min_length");

	memset(p, 0, sizeof(*p));
	(void)api_get_string(body, "slug", &p->slug);
	(void)api_get_string(body, "name", &p->name);
	get_bool(body, "mfa_required", &p->set_mfa, &p->mfa_required);
	get_bool(body, "registration_open", &p->set_registration, &p->registration_open);
	if (pm) {
		json_int_t v = json_integer_value(pm);
		p->set_pw_min = 1;
		p->password_min_length = v < 0 || v > 100000 ? -1 : (int)v;
	}
	if (d) {
		size_t i;
		json_t *e;
		p->set_domains = 1;
		json_array_foreach(d, i, e)
			hosts[i] = json_string_value(e);
		p->domains = hosts;
		p->ndomains = (int)json_array_size(d);
	}
}

typedef struct page_ctx {
	ts_api *api;
	json_t *items;
	char last[TS_EMAIL_MAX + 1];
	const char *slug;
	int failed;
} page_ctx;

static int
customer_push(void *arg, const ts_tenant *t)
{
	page_ctx *c = arg;
	json_t *o = customer_json(c->api, t);

	ts_strlcpy(c->last, t->slug, sizeof(c->last));
	if (!o || json_array_append_new(c->items, o) != 0)
		return c->failed = 1;
	return 0;
}

static ts_http_action
customers_list(admin_call *c)
{
	page_ctx p = { .api = c->api, .items = json_array() };
	char after[SEG_LEN];
	int limit = query_limit(c->req), more = 0;
	ts_err r;

	if (!limit) {
		json_decref(p.items);
		return field_error(c->resp, "limit", "must be an integer from 1 to 500");
	}
	if (!cursor_read(ts_http_query(c->req, "cursor"), after, sizeof(after))) {
		json_decref(p.items);
		return field_error(c->resp, "cursor", "not a cursor of this list");
	}
	r = ts_admin_tenant_page(c->api->auth, &c->who, after, limit, customer_push, &p, &more);
	if (r == TS_OK && p.failed)
		r = TS_E_NOMEM;
	if (r != TS_OK) {
		json_decref(p.items);
		return admin_error(c->resp, r, NULL, NULL, 0);
	}
	return reply_page(c->resp, p.items, p.last, more);
}

static ts_http_action
customer_write(admin_call *c, const char *slug)
{
	const char *hosts[TS_ADMIN_HOSTS_MAX];
	json_t *body = api_body_or_400(c->req, c->resp, bad_request);
	const char *bad = NULL;
	ts_tenant_patch p;
	ts_tenant t;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!body_fields_ok(body, customer_fields, c->resp)) {
		json_decref(body);
		return TS_HTTP_DONE;
	}
	customer_patch(body, &p, hosts);
	r = slug ? ts_admin_tenant_set(c->api->auth, &c->who, slug, &p, &t, &bad)
	         : ts_admin_tenant_new(c->api->auth, &c->who, &p, &t, &bad);
	json_decref(body);
	if (r != TS_OK)
		return admin_error(c->resp, r, r == TS_E_INVALID || r == TS_E_CONFLICT ? bad : NULL,
		                   r == TS_E_INVALID ? "invalid value" : NULL, 0);
	return reply_json(c->resp, slug ? 200 : 201, customer_json(c->api, &t));
}

static int
query_bool(const ts_http_req *req, const char *key, int *out)
{
	const char *v = ts_http_query(req, key);

	*out = 0;
	if (!v)
		return 1;
	if (strcmp(v, "true") == 0)
		*out = 1;
	else if (strcmp(v, "false") != 0)
		return 0;
	return 1;
}

static ts_http_action
customer_one(admin_call *c, const char *slug)
{
	ts_tenant t;
	ts_err r;
	int force;

	if (strcmp(c->req->method, "GET") == 0 || strcmp(c->req->method, "HEAD") == 0) {
		if ((r = ts_admin_tenant_get(c->api->auth, &c->who, slug, &t)) != TS_OK)
			return admin_error(c->resp, r, NULL, NULL, 0);
		return reply_json(c->resp, 200, customer_json(c->api, &t));
	}
	if (strcmp(c->req->method, "PATCH") == 0)
		return customer_write(c, slug);
	if (!query_bool(c->req, "force", &force))
		return field_error(c->resp, "force", "must be true or false");
	if ((r = ts_admin_tenant_remove(c->api->auth, &c->who, slug, force)) != TS_OK)
		return admin_error(c->resp, r, NULL,
		                   r == TS_E_CONFLICT ? "the customer has users (use ?force=true)" : NULL,
		                   0);
	return no_content(c->resp);
}

/* ---- users ---- */

static const field_spec user_new_fields[] = {
	{ "email", F_STRING },
	{ "password", F_STRING },
	{ "is_verified", F_BOOL },
	{ "is_admin", F_BOOL },
	{ NULL, F_STRING },
};

static const field_spec user_patch_fields[] = {
	{ "email", F_STRING },
	{ "is_verified", F_BOOL },
	{ "is_admin", F_BOOL },
	{ "disabled", F_BOOL },
	{ NULL, F_STRING },
};

static int
user_push(void *arg, const ts_user *u)
{
	page_ctx *c = arg;
	json_t *o = user_json(u, c->slug);

	ts_strlcpy(c->last, u->email_norm, sizeof(c->last));
	if (!o || json_array_append_new(c->items, o) != 0)
		return c->failed = 1;
	return 0;
}

static ts_http_action
users_list(admin_call *c, const char *slug)
{
	page_ctx p = { .api = c->api, .items = json_array(), .slug = slug };
	char after[TS_EMAIL_MAX + 1];
	int limit = query_limit(c->req), more = 0;
	ts_err r;

	if (!limit) {
		json_decref(p.items);
		return field_error(c->resp, "limit", "must be an integer from 1 to 500");
	}
	if (!cursor_read(ts_http_query(c->req, "cursor"), after, sizeof(after))) {
		json_decref(p.items);
		return field_error(c->resp, "cursor", "not a cursor of this list");
	}
	r = ts_admin_user_page(c->api->auth, &c->who, slug, after, ts_http_query(c->req, "email"),
	                       limit, user_push, &p, &more);
	if (r == TS_OK && p.failed)
		r = TS_E_NOMEM;
	if (r != TS_OK) {
		json_decref(p.items);
		return admin_error(c->resp, r, NULL, NULL, 0);
	}
	return reply_page(c->resp, p.items, p.last, more);
}

/* A user's creation on its way to a hashing worker (a password is
 * hashed): the engine call and the answer happen there. */
typedef struct user_new_job {
	ts_api *api;
	ts_actor who;
	json_t *body;
	char slug[TS_SLUG_MAX + 1];
} user_new_job;

static void
user_new_answer(ts_api *api, const ts_actor *who, const char *slug, json_t *body,
                ts_http_resp *resp)
{
	const char *email = json_string_value(json_object_get(body, "email"));
	const char *pw = json_string_value(json_object_get(body, "password"));
	ts_pw_reason why = TS_PW_OK;
	ts_err invite = TS_OK, r;
	ts_user u;
	json_t *o;

	r = ts_admin_user_new(api->auth, who, slug, email, pw, pw ? strlen(pw) : 0,
	                      json_is_true(json_object_get(body, "is_verified")),
	                      json_is_true(json_object_get(body, "is_admin")), &u, &why, &invite);
	if (r == TS_E_PASSWORD_POLICY) {
		admin_error(resp, r, "password", ts_pw_reason_word(why), 0);
		return;
	}
	if (r != TS_OK) {
		admin_error(resp, r, r == TS_E_INVALID ? "email" : r == TS_E_CONFLICT ? "email" : NULL,
		            r == TS_E_INVALID ? "must be a valid email address"
		            : r == TS_E_CONFLICT ? "already taken" : NULL, 0);
		return;
	}
	if ((o = user_json_full(api, &u, slug)) && !pw) {
		/* No password: the user is invited. Without a mail server the
		 * account still exists (an operator can send a link later). */
		json_object_set_new(o, "invitation", json_string(invite == TS_OK ? "sent" : "not_sent"));
		if (invite != TS_OK)
			json_object_set_new(o, "invitation_error", json_string(admin_map(invite).code));
	}
	reply_json(resp, 201, o);
}

/* Wipes the password held in the parsed body before it is freed. */
static void
body_wipe_free(json_t *body)
{
	json_t *pw = body ? json_object_get(body, "password") : NULL;

	if (pw && json_is_string(pw)) {
		char *p = (char *)json_string_value(pw);
		ts_wipe(p, strlen(p));
	}
	json_decref(body);
}

static void
user_new_run(void *arg, ts_http_resp *resp)
{
	user_new_job *j = arg;

	user_new_answer(j->api, &j->who, j->slug, j->body, resp);
	body_wipe_free(j->body);
	free(j);
}

static ts_http_action
user_new(admin_call *c, const char *slug)
{
	json_t *body = api_body_or_400(c->req, c->resp, bad_request);
	user_new_job *j;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!body_fields_ok(body, user_new_fields, c->resp) ||
	    !api_string_or_400(body, "email", c->resp, bad_request)) {
		body_wipe_free(body);
		return TS_HTTP_DONE;
	}
	if (!json_object_get(body, "password")) {
		user_new_answer(c->api, &c->who, slug, body, c->resp);
		json_decref(body);
		return TS_HTTP_DONE;
	}
	if (strlen(json_string_value(json_object_get(body, "password"))) > TS_PASSWORD_MAX) {
		body_wipe_free(body);
		return admin_error(c->resp, TS_E_PASSWORD_POLICY, "password", "too_long", 0);
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		body_wipe_free(body);
		return admin_error(c->resp, TS_E_NOMEM, NULL, NULL, 0);
	}
	*j = (user_new_job){ .api = c->api, .who = c->who, .body = body };
	ts_strlcpy(j->slug, slug, sizeof(j->slug));
	/* Hashing never runs on an event thread or a store worker. */
	if ((r = ts_http_defer(c->req, user_new_run, j)) == TS_OK)
		return TS_HTTP_DEFERRED;
	body_wipe_free(body);
	free(j);
	return admin_error(c->resp, r == TS_E_OVERLOADED ? r : TS_E_INTERNAL, NULL, NULL, 0);
}

static ts_http_action
user_one(admin_call *c, const char *slug, const char *id)
{
	ts_user u;
	ts_err r;

	if (strcmp(c->req->method, "GET") == 0 || strcmp(c->req->method, "HEAD") == 0) {
		if ((r = ts_admin_user_get(c->api->auth, &c->who, slug, id, &u)) != TS_OK)
			return admin_error(c->resp, r, NULL, NULL, 0);
		return reply_json(c->resp, 200, user_json_full(c->api, &u, slug));
	}
	if (strcmp(c->req->method, "DELETE") == 0) {
		if ((r = ts_admin_user_remove(c->api->auth, &c->who, slug, id)) != TS_OK)
			return admin_error(c->resp, r, NULL, NULL, 0);
		return no_content(c->resp);
	}
	/* PATCH */
	json_t *body = api_body_or_400(c->req, c->resp, bad_request);
	ts_user_patch p = { 0 };

	if (!body)
		return TS_HTTP_DONE;
	if (!body_fields_ok(body, user_patch_fields, c->resp)) {
		json_decref(body);
		return TS_HTTP_DONE;
	}
	(void)api_get_string(body, "email", &p.email);
	get_bool(body, "is_verified", &p.set_verified, &p.is_verified);
	get_bool(body, "is_admin", &p.set_admin, &p.is_admin);
	get_bool(body, "disabled", &p.set_disabled, &p.is_disabled);
	r = ts_admin_user_set(c->api->auth, &c->who, slug, id, &p, &u, NULL);
	json_decref(body);
	if (r != TS_OK)
		return admin_error(c->resp, r, r == TS_E_INVALID || r == TS_E_CONFLICT ? "email" : NULL,
		                   r == TS_E_INVALID ? "must be a valid email address"
		                   : r == TS_E_CONFLICT ? "already taken" : NULL, 0);
	return reply_json(c->resp, 200, user_json_full(c->api, &u, slug));
}

static ts_http_action
user_action(admin_call *c, const char *slug, const char *id, const char *what, const char *fid)
{
	ts_err r;

	if (strcmp(what, "unlock") == 0)
		r = ts_admin_user_unlock(c->api->auth, &c->who, slug, id);
	else if (strcmp(what, "sessions") == 0)
		r = ts_admin_user_sessions_end(c->api->auth, &c->who, slug, id, NULL);
	else
		r = ts_admin_factor_remove(c->api->auth, &c->who, slug, id, fid);
	if (r != TS_OK)
		return admin_error(c->resp, r, NULL, NULL, 0);
	return no_content(c->resp);
}

/* ---- OpenID Connect clients (issue 11; auth/oidc.h) ---- */

static const field_spec client_fields[] = {
	{ "name", F_STRING },
	{ "type", F_STRING },                 /* creation only */
	{ "redirect_uris", F_STRINGS },
	{ "post_logout_redirect_uris", F_STRINGS },
	{ "grant_types", F_STRINGS },
	{ "scopes", F_STRINGS },
	{ "first_party", F_BOOL },
	{ "access_token_ttl", F_INT },
	{ "refresh_token_ttl", F_INT },
	{ "id_token_ttl", F_INT },
	{ NULL, F_STRING },
};

/* A space-separated list as a JSON array. */
static json_t *
words_json(const char *list)
{
	json_t *a = json_array();
	const char *p = list;

	while (a && *p) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (json_array_append_new(a, json_stringn(p, n)) != 0) {
			json_decref(a);
			return NULL;
		}
		p += n + (e != NULL);
	}
	return a;
}

static json_t *
client_json(const ts_oidc_client *c, const char *slug)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:b, s:I, s:I, s:I, s:o}",
	                 "client_id", c->id, "customer", slug, "name", c->name, "type",
	                 c->secret_hash[0] ? "confidential" : "public", "redirect_uris",
	                 words_json(c->redirect_uris), "post_logout_redirect_uris",
	                 words_json(c->post_logout_uris), "grant_types", words_json(c->grant_types),
	                 "scopes", words_json(c->scopes), "first_party", c->first_party,
	                 "access_token_ttl", (json_int_t)c->access_ttl, "refresh_token_ttl",
	                 (json_int_t)c->refresh_ttl, "id_token_ttl", (json_int_t)c->id_ttl,
	                 "created_at", api_time_json(c->created_at));
}

typedef struct client_strs {
	const char *v[4][TS_ADMIN_HOSTS_MAX];
} client_strs;

static void
strs_of(json_t *body, const char *key, ts_oidc_strs *out, const char **v)
{
	json_t *a = json_object_get(body, key), *e;
	size_t i;

	out->set = a != NULL;
	out->v = v;
	out->n = 0;
	json_array_foreach(a, i, e)
		v[out->n++] = json_string_value(e);
}

static void
int_of(json_t *body, const char *key, int *set, int64_t *val)
{
	json_t *v = json_object_get(body, key);

	*set = v != NULL;
	*val = v ? (int64_t)json_integer_value(v) : 0;
}

/* The engine's patch of a client body (checked by body_fields_ok). */
static void
client_patch(json_t *body, ts_oidc_client_patch *p, client_strs *s)
{
	memset(p, 0, sizeof(*p));
	(void)api_get_string(body, "name", &p->name);
	strs_of(body, "redirect_uris", &p->redirect_uris, s->v[0]);
	strs_of(body, "post_logout_redirect_uris", &p->post_logout_uris, s->v[1]);
	strs_of(body, "grant_types", &p->grant_types, s->v[2]);
	strs_of(body, "scopes", &p->scopes, s->v[3]);
	get_bool(body, "first_party", &p->set_first_party, &p->first_party);
	int_of(body, "access_token_ttl", &p->set_access_ttl, &p->access_ttl);
	int_of(body, "refresh_token_ttl", &p->set_refresh_ttl, &p->refresh_ttl);
	int_of(body, "id_token_ttl", &p->set_id_ttl, &p->id_ttl);
}

static ts_http_action
client_refused(ts_http_resp *resp, ts_err r, const char *bad)
{
	if (r == TS_E_TENANT_UNKNOWN)
		r = TS_E_NOT_FOUND;      /* a bearer route: the customer is a resource */
	return admin_error(resp, r, r == TS_E_INVALID ? (bad ? bad : "body") : NULL,
	                   r == TS_E_INVALID ? "not accepted (docs/OIDC.md)" : NULL, 0);
}

typedef struct client_page {
	json_t *items;
	const char *slug;
	int failed;
} client_page;

static int
client_push(void *arg, const ts_oidc_client *c)
{
	client_page *p = arg;
	json_t *o = client_json(c, p->slug);

	if (!o || json_array_append_new(p->items, o) != 0)
		return p->failed = 1;
	return 0;
}

static ts_http_action
clients_list(admin_call *c, const char *slug)
{
	client_page p = { .items = json_array(), .slug = slug };
	ts_err r;

	if (!p.items)
		return admin_error(c->resp, TS_E_NOMEM, NULL, NULL, 0);
	r = ts_admin_client_list(c->api->auth, &c->who, slug, client_push, &p);
	if (r == TS_OK && p.failed)
		r = TS_E_NOMEM;
	if (r != TS_OK) {
		json_decref(p.items);
		return client_refused(c->resp, r, NULL);
	}
	return reply_page(c->resp, p.items, NULL, 0);
}

static ts_http_action
client_new(admin_call *c, const char *slug)
{
	json_t *body = api_body_or_400(c->req, c->resp, bad_request), *o;
	char secret[TS_SECRET_TEXT_LEN + 1];
	const char *type = "confidential", *bad = NULL;
	ts_oidc_client_patch p;
	ts_oidc_client cl;
	client_strs s;
	ts_err r;

	if (!body)
		return TS_HTTP_DONE;
	if (!body_fields_ok(body, client_fields, c->resp)) {
		json_decref(body);
		return TS_HTTP_DONE;
	}
	if (api_get_string(body, "type", &type) != 1)
		type = "confidential";
	if (strcmp(type, "confidential") != 0 && strcmp(type, "public") != 0) {
		json_decref(body);
		return field_error(c->resp, "type", "must be \"confidential\" or \"public\"");
	}
	client_patch(body, &p, &s);
	r = ts_admin_client_new(c->api->auth, &c->who, slug, &p, strcmp(type, "confidential") == 0,
	                        secret, &cl, &bad);
	json_decref(body);
	if (r != TS_OK)
		return client_refused(c->resp, r, bad);
	o = client_json(&cl, slug);
	if (o && secret[0])   /* shown this once: only its hash is kept */
		json_object_set_new(o, "client_secret", json_string(secret));
	ts_wipe(secret, sizeof(secret));
	return reply_json(c->resp, 201, o);
}

static ts_http_action
client_one(admin_call *c, const char *slug, const char *id)
{
	const char *bad = NULL;
	ts_oidc_client_patch p;
	ts_oidc_client cl;
	client_strs s;
	json_t *body;
	ts_err r;

	if (strcmp(c->req->method, "GET") == 0 || strcmp(c->req->method, "HEAD") == 0) {
		if ((r = ts_admin_client_get(c->api->auth, &c->who, slug, id, &cl)) != TS_OK)
			return client_refused(c->resp, r, NULL);
		return reply_json(c->resp, 200, client_json(&cl, slug));
	}
	if (strcmp(c->req->method, "DELETE") == 0) {
		if ((r = ts_admin_client_remove(c->api->auth, &c->who, slug, id)) != TS_OK)
			return client_refused(c->resp, r, NULL);
		return no_content(c->resp);
	}
	if (!(body = api_body_or_400(c->req, c->resp, bad_request)))
		return TS_HTTP_DONE;
	if (!body_fields_ok(body, client_fields, c->resp)) {
		json_decref(body);
		return TS_HTTP_DONE;
	}
	if (json_object_get(body, "type")) {
		json_decref(body);
		return field_error(c->resp, "type", "read-only field");
	}
	client_patch(body, &p, &s);
	r = ts_admin_client_set(c->api->auth, &c->who, slug, id, &p, &cl, &bad);
	json_decref(body);
	if (r != TS_OK)
		return client_refused(c->resp, r, bad);
	return reply_json(c->resp, 200, client_json(&cl, slug));
}

/* ---- audit ---- */

static int
query_time(const char *v, int64_t *out)
{
	struct tm tm;
	char *end;

	*out = 0;
	if (!v)
		return 1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end && (strcmp(end, "Z") == 0 || strcmp(end, "+00:00") == 0)) {
		*out = (int64_t)timegm(&tm);
		return 1;
	}
	long long n = strtoll(v, &end, 10);
	if (*v && !*end && n >= 0) {
		*out = n;
		return 1;
	}
	return 0;
}

typedef struct audit_ctx {
	json_t *items;
	int64_t last;
	int n, limit, more, failed;
} audit_ctx;

static int
audit_push(void *arg, const ts_audit_rec *e)
{
	audit_ctx *c = arg;
	char seq[24];
	json_t *data, *o;

	if (c->n == c->limit) {
		c->more = 1;
		return 1;
	}
	c->n++;
	c->last = e->seq;
	snprintf(seq, sizeof(seq), "%lld", (long long)e->seq);
	data = json_loads(e->data, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(data)) {
		json_decref(data);
		data = json_object();
	}
	o = json_pack("{s:s, s:o, s:s, s:o, s:o, s:o, s:o}", "id", seq, "at", api_time_json(e->at),
	              "type", e->event, "customer", *e->tenant ? json_string(e->tenant) : json_null(),
	              "user", *e->user_id ? json_string(e->user_id) : json_null(), "actor",
	              *e->actor ? json_string(e->actor) : json_null(), "data", data);
	if (!o || json_array_append_new(c->items, o) != 0)
		return c->failed = 1;
	return 0;
}

static ts_http_action
audit_list(admin_call *c)
{
	audit_ctx a = { .items = json_array(), .limit = query_limit(c->req) };
	ts_audit_filter f = { 0 };
	char cur[SEG_LEN], last[24];
	ts_err r;

	if (!a.items)
		return admin_error(c->resp, TS_E_NOMEM, NULL, NULL, 0);
	if (!a.limit) {
		json_decref(a.items);
		return field_error(c->resp, "limit", "must be an integer from 1 to 500");
	}
	if (!query_time(ts_http_query(c->req, "after"), &f.after)) {
		json_decref(a.items);
		return field_error(c->resp, "after", "must be an RFC 3339 UTC time or epoch seconds");
	}
	if (!cursor_read(ts_http_query(c->req, "cursor"), cur, sizeof(cur)) ||
	    (*cur && (f.before_seq = strtoll(cur, NULL, 10)) <= 0)) {
		json_decref(a.items);
		return field_error(c->resp, "cursor", "not a cursor of this list");
	}
	f.tenant = ts_http_query(c->req, "customer");
	f.user_id = ts_http_query(c->req, "user");
	f.event = ts_http_query(c->req, "type");
	f.limit = a.limit + 1;
	r = ts_admin_audit_list(c->api->auth, &c->who, &f, audit_push, &a);
	if (r == TS_OK && a.failed)
		r = TS_E_NOMEM;
	if (r != TS_OK) {
		json_decref(a.items);
		return admin_error(c->resp, r, NULL, NULL, 0);
	}
	snprintf(last, sizeof(last), "%lld", (long long)a.last);
	return reply_page(c->resp, a.items, last, a.more);
}

/* ---- import: POST /customers/{slug}/users/import ---- */

/* The body is JSON Lines (docs/ADMIN.md "Import and export of users"), at
 * most TS_HTTP_BODY_MAX: larger imports go through `tessera user import`.
 * ?skip_bad=true imports the good lines of a file with bad ones. */
static ts_http_action
users_import(admin_call *c, const char *slug)
{
	const char *sb = ts_http_query(c->req, "skip_bad");
	ts_jsonl_src j;
	ts_import_src src;
	ts_import_report rep;
	json_t *errs, *body;
	ts_err r;
	int skip_bad;

	if (sb && strcmp(sb, "true") != 0 && strcmp(sb, "false") != 0)
		return bad_request(c->resp, "skip_bad", "must be true or false");
	skip_bad = sb && strcmp(sb, "true") == 0;
	if (!c->req->body || c->req->body_len == 0)
		return bad_request(c->resp, "body", "must be JSON Lines of users, one a line");
	ts_jsonl_src_mem(&j, c->req->body, c->req->body_len);
	src = ts_jsonl_source(&j);
	r = ts_admin_users_import(c->api->auth, &c->who, slug, &src, skip_bad, &rep);
	ts_jsonl_src_done(&j);
	if (r != TS_OK && r != TS_E_INVALID) {
		ts_import_report_free(&rep);
		return admin_error(c->resp, r, NULL, NULL, 0);
	}
	if (!(errs = json_array())) {
		ts_import_report_free(&rep);
		return admin_error(c->resp, TS_E_NOMEM, NULL, NULL, 0);
	}
	for (int i = 0; i < rep.n_errors; i++)
		json_array_append_new(errs, json_pack("{s:I, s:s}", "line", (json_int_t)rep.errors[i].line,
		                                      "reason", rep.errors[i].reason));
	body = json_pack("{s:I, s:I, s:I, s:o}", "lines", (json_int_t)rep.lines, "imported",
	                 (json_int_t)rep.imported, "bad", (json_int_t)rep.bad, "errors", errs);
	ts_import_report_free(&rep);
	/* Bad lines without skip_bad: 200 too, with imported 0 and the lines
	 * named (issue 9: "200 with counts and per-line errors"). */
	return reply_json(c->resp, 200, body);
}

/* ---- the sub-router ---- */

/* Splits the path after the face's prefix into segments; 0 when one is
 * empty, too long or there are too many. */
static int
split_path(admin_call *c, const char *rest)
{
	c->nseg = 0;
	if (*rest != '/')
		return 0;
	while (*rest == '/') {
		const char *s = rest + 1, *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || n >= SEG_LEN || c->nseg == SEG_MAX)
			return 0;
		memcpy(c->seg[c->nseg], s, n);
		c->seg[c->nseg++][n] = '\0';
		rest = s + n;
	}
	return 1;
}

/* The methods a path takes (static texts), NULL for no such path. */
static const char *
allow_of_path(const admin_call *c)
{
	const int n = c->nseg;

	if (n == 1 && strcmp(c->seg[0], "audit") == 0)
		return "GET, HEAD";
	if (strcmp(c->seg[0], "customers") != 0)
		return NULL;
	if (n == 1)
		return "GET, HEAD, POST";
	if (n == 2)
		return "GET, HEAD, PATCH, DELETE";
	if (strcmp(c->seg[2], "clients") == 0)
		return n == 3 ? "GET, HEAD, POST" : n == 4 ? "GET, HEAD, PATCH, DELETE" : NULL;
	if (strcmp(c->seg[2], "users") != 0)
		return NULL;
	if (n == 3)
		return "GET, HEAD, POST";
	if (n == 4 && strcmp(c->seg[3], "import") == 0)
		return "POST";
	if (n == 4)
		return "GET, HEAD, PATCH, DELETE";
	if (n == 5 && strcmp(c->seg[4], "unlock") == 0)
		return "POST";
	if (n == 5 && strcmp(c->seg[4], "sessions") == 0)
		return "DELETE";
	if (n == 6 && strcmp(c->seg[4], "factors") == 0)
		return "DELETE";
	return NULL;
}

static int
method_in(const char *m, const char *allow)
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
admin_manage(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	admin_call *c = calloc(1, sizeof(*c));
	const char *allow, *m = req->method;
	ts_http_action act;
	ts_err r;

	if (!c)
		return admin_error(resp, TS_E_NOMEM, NULL, NULL, 0);
	c->api = api;
	c->req = req;
	c->resp = resp;
	if (!split_path(c, req->path + strlen(api->prefix[FACE_ADMIN])) ||
	    !(allow = allow_of_path(c))) {
		act = not_found(resp);
		goto out;
	}
	if (strcmp(m, "OPTIONS") == 0) {
		act = api_answer_options(api, req, resp, allow);
		goto out;
	}
	if (!method_in(m, allow)) {
		resp->allow = allow;   /* RFC 9110 §15.5.6 */
		resp->log_note = "method_not_allowed";
		act = reply_json(resp, 405, json_pack("{s:s, s:s}", "error",
		                                      "This method is not allowed on this path.",
		                                      "code", "method_not_allowed"));
		goto out;
	}
	/* Who asks, before anything about what: every route needs it. */
	if ((r = ts_admin_authorize(api->auth, api_bearer(req), &c->who)) != TS_OK) {
		act = admin_error(resp, r, NULL, NULL, 0);
		goto out;
	}
	int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	const char *slug = c->seg[1], *id = c->seg[3];
	switch (c->nseg) {
	case 1:
		act = strcmp(c->seg[0], "audit") == 0 ? audit_list(c)
		      : get ? customers_list(c) : customer_write(c, NULL);
		break;
	case 2: act = customer_one(c, slug); break;
	case 3:
		if (strcmp(c->seg[2], "clients") == 0)
			act = get ? clients_list(c, slug) : client_new(c, slug);
		else
			act = get ? users_list(c, slug) : user_new(c, slug);
		break;
	case 4:
		if (strcmp(c->seg[2], "clients") == 0)
			act = client_one(c, slug, id);
		else
			act = strcmp(id, "import") == 0 ? users_import(c, slug) : user_one(c, slug, id);
		break;
	default: act = user_action(c, slug, id, c->seg[4], c->nseg == 6 ? c->seg[5] : NULL); break;
	}
out:
	ts_wipe(&c->who, sizeof(c->who));
	free(c);
	return act;
}

const api_route api_admin_routes[] = {
	{ FACE_ADMIN, "POST", "/auth/token", post_token, 0 },
	{ FACE_ADMIN, "*", "/customers*", admin_manage, 0 },
	{ FACE_ADMIN, "*", "/audit", admin_manage, 0 },
	{ 0, NULL, NULL, NULL, 0 },
};
