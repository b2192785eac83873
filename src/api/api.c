/* The router: finds the face and handler for a request, and serves the few
 * endpoints that belong to no contract (JWKS, OpenAPI, health). */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/log.h"
#include "core/metrics.h"

extern const char ts_openapi_native[];   /* embedded docs/openapi/native.json */

static const api_reject_fn rejects[] = {
	[FACE_NATIVE] = api_native_reject,
	[FACE_ADMIN] = api_admin_reject,
	[FACE_IAM] = api_iam_reject,
	[FACE_PX0] = api_px0_reject,
};

static const api_route *const faces[] = {
	api_native_routes,
	api_admin_routes,
	api_iam_routes,
	api_px0_routes,
	api_oidc_routes,             /* last: its "/t*" must not shadow a face's route */
};

static ts_http_action
reply_simple(ts_http_resp *resp, int status, const char *code, const char *message)
{
	api_reply(resp, status, json_pack("{s:s, s:s}", "code", code, "message", message));
	return TS_HTTP_DONE;
}

typedef struct jwks_ctx {
	json_t *keys;
} jwks_ctx;

static int
jwks_add(void *arg, const ts_jwk *k)
{
	jwks_ctx *c = arg;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", k->kty, "crv", k->crv,
	                      "x", k->x, "kid", k->kid, "alg", k->alg, "use", "sig");

	if (o && *k->y)
		json_object_set_new(o, "y", json_string(k->y));
	return json_array_append_new(c->keys, o);
}

static ts_http_action
get_jwks(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	jwks_ctx c = { .keys = json_array() };

	(void)req;
	if (!c.keys || ts_auth_jwks(api->auth, jwks_add, &c) != TS_OK) {
		json_decref(c.keys);
		return reply_simple(resp, 500, "internal", "signing keys unavailable");
	}
	api_reply(resp, 200, json_pack("{s:o}", "keys", c.keys));
	/* Verifiers may cache it briefly; rotation keeps old keys published. */
	resp->cache_control = "public, max-age=60";
	return TS_HTTP_DONE;
}

static ts_http_action
get_openapi(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	(void)api;
	(void)req;
	resp->status = 200;
	resp->body = strdup(ts_openapi_native);
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	resp->cache_control = "public, max-age=300";
	if (!resp->body)
		resp->status = 500;
	return TS_HTTP_DONE;
}

/* Liveness: answers without touching the store, so a slow or absent
 * database never makes a balancer kill a node that could recover. */
static ts_http_action
get_health(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	(void)api;
	(void)req;
	api_reply(resp, 200, json_pack("{s:s}", "status", "ok"));
	return TS_HTTP_DONE;
}

/* Readiness: the store answers and its schema is the one this build
 * runs (a node started before a migration it does not know, or during
 * one, is taken out of rotation rather than failing requests). */
static ts_http_action
get_ready(ts_api *api, ts_http_req *req, ts_http_resp *resp)
{
	int current = 0, latest = 0;
	ts_err r = ts_auth_ready(api->auth, &current, &latest);

	(void)req;
	if (r == TS_OK && current == latest) {
		api_reply(resp, 200, json_pack("{s:s, s:i}", "status", "ready", "schema", current));
		return TS_HTTP_DONE;
	}
	resp->retry_after = 5;
	resp->log_note = r != TS_OK ? "store_unavailable" : "schema_mismatch";
	if (r != TS_OK)
		api_reply(resp, 503, json_pack("{s:s, s:s, s:s}", "status", "not_ready",
		                               "code", "store_unavailable",
		                               "message", "the store is unavailable"));
	else
		api_reply(resp, 503, json_pack("{s:s, s:s, s:s, s:i, s:i}", "status", "not_ready",
		                               "code", "schema_mismatch",
		                               "message", "the store's schema is not the one this build runs",
		                               "schema", current, "schema_latest", latest));
	return TS_HTTP_DONE;
}

static const api_route common_routes[] = {
	{ FACE_NATIVE, "GET", "/.well-known/jwks.json", get_jwks, 0 },
	{ FACE_NATIVE, "GET", "/openapi.json", get_openapi, 0 },
	{ FACE_NATIVE, "GET", "/healthz", get_health, 0 },
	{ FACE_NATIVE, "GET", "/readyz", get_ready, 0 },
	/* The hosted pages: never face routes, so never a CORS answer. */
	{ FACE_NATIVE, "*", "/ui/*", api_pages, 0 },
	{ FACE_NATIVE, "*", "/ui/", api_pages, 0 },
	{ FACE_NATIVE, "GET", "/verify", api_pages, 0 },
	{ FACE_NATIVE, "GET", "/reset", api_pages, 0 },
	{ 0, NULL, NULL, NULL, 0 },
};

/* The only routes that never touch the store, so always run inline: the
 * liveness check must answer while every store worker waits. */
static int
touches_store(const api_route *r)
{
	return r->fn != get_health && r->fn != get_openapi;
}

/* ---- CORS (Fetch standard §3.2) ----
 * Every face route is CORS-aware: an Origin allowed for the request's
 * tenant (tessera tenant origin add) is echoed with credentials allowed;
 * there is no "*". The tenant is decided as for any call (tenant.c); a
 * preflight carries no custom header, so there only the Host counts. */

#define CORS_HEADERS "Authorization, Content-Type, X-Tenant-Slug"
#define CORS_EXPOSE "Retry-After, WWW-Authenticate, X-Request-Id"
#define CORS_MAX_AGE 600

/* Fills resp's CORS fields; 1 when the origin is allowed. */
static int
cors_decide(ts_api *api, const ts_http_req *req, ts_http_resp *resp, int preflight)
{
	const char *origin = ts_http_header(req, "Origin");
	ts_tenant_hints h = { NULL, preflight ? NULL : ts_http_header(req, "X-Tenant-Slug"),
	                      req->host };

	/* The answer depends on Origin, whether or not one was sent, so no
	 * cache may hand one origin's answer to another. */
	resp->vary_origin = 1;
	if (!origin || ts_auth_cors_allowed(api->auth, &h, origin) != TS_OK)
		return 0;
	resp->allow_origin = origin;
	resp->cors_expose = CORS_EXPOSE;
	return 1;
}

/* OPTIONS on a route's path: a CORS preflight when it asks for a method,
 * else the plain RFC 9110 §9.3.7 answer. 204 either way; only an allowed
 * origin gets the Access-Control-Allow-* fields. */
/* The method a preflight asks for, as a static text, when the path takes
 * it; method is the path's Allow value: one method, or "GET, HEAD". */
static const char *
preflight_method(const char *method, const char *want)
{
	static const char *const known[] = { "GET", "HEAD", "POST", "PATCH", "PUT", "DELETE" };
	size_t n = strlen(want);

	/* method is a list such as "GET, HEAD, PATCH" (the admin face's
	 * paths take several) */
	for (const char *p = method; p && *p;) {
		if (strncmp(p, want, n) == 0 && (p[n] == ',' || p[n] == '\0')) {
			for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
				if (strcmp(known[i], want) == 0)
					return known[i];
		}
		p = strchr(p, ',');
		while (p && (*p == ',' || *p == ' '))
			p++;
	}
	return NULL;
}

ts_http_action
api_answer_options(ts_api *api, const ts_http_req *req, ts_http_resp *resp, const char *method)
{
	const char *want = ts_http_header(req, "Access-Control-Request-Method");
	int allowed = cors_decide(api, req, resp, 1);

	resp->status = 204;
	resp->allow = method;
	resp->cors_expose = NULL;
	const char *asked = want ? preflight_method(method, want) : NULL;
	if (asked && allowed) {
		resp->cors_methods = asked;
		resp->cors_headers = CORS_HEADERS;
		resp->cors_max_age = CORS_MAX_AGE;
	} else {
		resp->allow_origin = NULL;   /* no preflight, or a method the path does not take */
	}
	resp->log_note = want ? "preflight" : "options";
	return TS_HTTP_DONE;
}

/* 1 if path is prefix + rest exactly; a rest whose last segment is a
 * star (slash, star) matches any one non-empty segment there
 * (api_path_tail); a rest ending in a star right after other text takes
 * any path that begins with the part before it (the face routes further). */
static int
path_is(const char *path, const char *prefix, const char *rest)
{
	size_t n = strlen(prefix), m = strlen(rest);

	if (strncmp(path, prefix, n) != 0)
		return 0;
	path += n;
	if (m >= 2 && strcmp(rest + m - 2, "/*") == 0)
		return strncmp(path, rest, m - 1) == 0 && path[m - 1] &&
		       !strchr(path + m - 1, '/');
	if (m && rest[m - 1] == '*')
		return strncmp(path, rest, m - 1) == 0;
	return strcmp(path, rest) == 0;
}

const char *
api_path_tail(const ts_http_req *req)
{
	const char *slash = strrchr(req->path, '/');

	return slash ? slash + 1 : req->path;
}

/* 1 if a request with method m is served by a route taking rm: HEAD is
 * GET without the body (RFC 9110 §9.3.2; MHD leaves the body out). */
static int
method_matches(const char *m, const char *rm)
{
	/* "*": the handler answers every method itself (405, OPTIONS) */
	return strcmp(rm, "*") == 0 || strcmp(m, rm) == 0 ||
	       (strcmp(m, "HEAD") == 0 && strcmp(rm, "GET") == 0);
}

/* The Allow value of a path taking method rm (RFC 9110 §15.5.6). */
static const char *
allow_of(const char *rm)
{
	return strcmp(rm, "GET") == 0 ? "GET, HEAD" : rm;
}

/* Finds the route for req; *allowed is set to the Allow value of the path
 * when it exists under another method (every path takes one method, and
 * HEAD along with GET). */
static const api_route *
route_find(const ts_api *api, ts_http_req *req, const char **allowed, int *face_route)
{
	const api_route *tables[1 + sizeof(faces) / sizeof(faces[0])];
	size_t nt = 0;

	tables[nt++] = common_routes;
	for (size_t i = 0; i < sizeof(faces) / sizeof(faces[0]); i++)
		tables[nt++] = faces[i];
	*allowed = NULL;
	for (size_t t = 0; t < nt; t++) {
		for (const api_route *r = tables[t]; r->fn; r++) {
			const char *prefix = t == 0 ? "" : api->prefix[r->face];
			if (!path_is(req->path, prefix, r->path))
				continue;
			*face_route = t > 0;
			if (method_matches(req->method, r->method)) {
				size_t i = (size_t)(r - tables[t]);
				req->metric_route = i < API_ROUTES_MAX ? api->route_id[t][i] : 0;
				return r;
			}
			*allowed = allow_of(r->method);
		}
	}
	return NULL;
}

/* The face whose prefix path falls under, for answers to requests that
 * match no route (the longest prefix wins; native has none). */
int
api_face_of_path(const ts_api *api, const char *path)
{
	int best = FACE_NATIVE;
	size_t best_n = 0;

	for (int f = 0; f < 4; f++) {
		size_t n = strlen(api->prefix[f]);
		if (n > best_n && strncmp(path, api->prefix[f], n) == 0 &&
		    (path[n] == '/' || path[n] == '\0')) {
			best = f;
			best_n = n;
		}
	}
	return best;
}

/* Everything after routing: CORS, the handler, or the 405. Runs on the
 * event thread, or on a store worker when the store is deferred. */
static ts_http_action
dispatch_routed(ts_api *api, ts_http_req *req, ts_http_resp *resp, const api_route *r,
                const char *allowed, int face_route)
{
	if (face_route && !r && allowed && strcmp(req->method, "OPTIONS") == 0)
		return api_answer_options(api, req, resp, allowed);
	if (face_route)
		(void)cors_decide(api, req, resp, 0);
	if (r)
		return r->fn(api, req, resp);
	resp->allow = allowed;   /* RFC 9110 §15.5.6 */
	return reply_simple(resp, 405, "method_not_allowed",
	                    "this method is not allowed on this path");
}

/* A routed request on its way to a store worker. */
typedef struct store_job {
	ts_api *api;
	ts_http_req *req;            /* valid until the answer is sent */
	const api_route *route;
	const char *allowed;
	int face_route;
} store_job;

static void
store_job_run(void *arg, ts_http_resp *resp)
{
	store_job j = *(store_job *)arg;

	free(arg);
	/* DEFERRED means the handler handed the request on (a login to a
	 * hashing worker): that job answers. */
	(void)dispatch_routed(j.api, j.req, resp, j.route, j.allowed, j.face_route);
}

/* Sends a routed request to a store pool; DONE with a 503 when its
 * queue is full, so a slow database sheds load instead of queueing it. */
static ts_http_action
defer_to_store(ts_api *api, ts_pool *pool, ts_http_req *req, ts_http_resp *resp,
               const api_route *r, const char *allowed, int face_route)
{
	store_job *j = malloc(sizeof(*j));
	ts_err e;

	if (!j)
		return reply_simple(resp, 500, "internal", "out of memory");
	*j = (store_job){ api, req, r, allowed, face_route };
	if ((e = ts_http_defer_on(req, pool, store_job_run, j)) == TS_OK)
		return TS_HTTP_DEFERRED;
	free(j);
	if (e != TS_E_OVERLOADED)
		return reply_simple(resp, 500, "internal", "the request could not be run");
	resp->retry_after = 1;
	resp->log_note = "store_queue_full";
	return reply_simple(resp, 503, "overloaded", "the server is busy; try again shortly");
}

ts_http_action
ts_api_dispatch(void *app, ts_http_req *req, ts_http_resp *resp)
{
	ts_api *api = app;
	const char *allowed;
	int face_route = 0;
	const api_route *r = route_find(api, req, &allowed, &face_route);

	if (req->malformed)
		return rejects[r ? r->face : api_face_of_path(api, req->path)](
		        resp, "malformed or ambiguous request framing");
	if (!r && !allowed)
		return reply_simple(resp, 404, "not_found", "no such endpoint");
	/* A body too large is answered at once (ts_http_defer refuses it);
	 * its handler's 413 touches no store. */
	if (api->store_pool && !req->body_too_large && (face_route || (r && touches_store(r))))
		return defer_to_store(api, api->store_pool, req, resp, r, allowed, face_route);
	if (api->write_pool && !req->body_too_large && r && (r->flags & API_GROUPED))
		return defer_to_store(api, api->write_pool, req, resp, r, allowed, face_route);
	return dispatch_routed(api, req, resp, r, allowed, face_route);
}

/* Each route template gets its metrics row, labelled by face and the path
 * after the face's prefix (so a moved prefix keeps its dashboards). */
static void
register_routes(ts_api *api)
{
	for (size_t t = 0; t < 1 + sizeof(faces) / sizeof(faces[0]); t++) {
		const api_route *tab = t == 0 ? common_routes : faces[t - 1];
		for (size_t i = 0; tab[i].fn && i < API_ROUTES_MAX; i++)
			api->route_id[t][i] = ts_metrics_route((ts_metrics_face)tab[i].face, tab[i].path);
	}
}

static char *
prefix_dup(const char *p, const char *dflt)
{
	const char *v = p ? p : dflt;
	size_t n = strlen(v);

	/* "/" and "" both mean no prefix; a trailing slash is dropped. */
	while (n && v[n - 1] == '/')
		n--;
	return strndup(v, n);
}

ts_err
ts_api_new(const ts_api_config *cfg, ts_auth *auth, ts_api **out)
{
	ts_api *api = calloc(1, sizeof(*api));

	*out = NULL;
	if (!api)
		return TS_E_NOMEM;
	api->auth = auth;
	api->store_pool = cfg->store_defer ? cfg->store_pool : NULL;
	api->write_pool = cfg->write_pool;
	api->prefix[FACE_NATIVE] = prefix_dup(cfg->prefix_native, "");
	api->prefix[FACE_ADMIN] = prefix_dup(cfg->prefix_admin, "/admin");
	api->prefix[FACE_IAM] = prefix_dup(cfg->prefix_iam, "/iam");
	api->prefix[FACE_PX0] = prefix_dup(cfg->prefix_px0, "/px0");
	for (int i = 0; i < 4; i++) {
		if (!api->prefix[i]) {
			ts_api_free(api);
			return TS_E_NOMEM;
		}
	}
	register_routes(api);
	*out = api;
	return TS_OK;
}

void
ts_api_free(ts_api *api)
{
	if (!api)
		return;
	for (int i = 0; i < 4; i++)
		free(api->prefix[i]);
	free(api);
}
