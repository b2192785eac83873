/* Private to src/api: the router's view of a face, and JSON helpers every
 * face uses. */
#ifndef TS_API_INTERNAL_H
#define TS_API_INTERNAL_H

#include <jansson.h>
#include "api/api.h"

#define API_JSON_DEPTH_MAX 32
#define API_BEARER_MAX 4096

#define API_ROUTES_MAX 96           /* per table, for the metrics' ids */

struct ts_api {
	ts_auth *auth;
	char *prefix[4];             /* by face: native, admin, iam, px0 */
	ts_pool *store_pool;         /* not owned; NULL: store calls inline */
	ts_pool *write_pool;         /* not owned; API_GROUPED routes of an
	                                inline store; NULL: inline too */
	int route_id[6][API_ROUTES_MAX]; /* ts_metrics_route id of each route,
	                                by table (common, then the faces in
	                                order) and index; 0 past the max */
};

typedef ts_http_action (*api_handler)(ts_api *api, ts_http_req *req, ts_http_resp *resp);

typedef struct api_route {
	int face;                    /* index into ts_api.prefix */
	const char *method;
	const char *path;            /* after the face's prefix */
	api_handler fn;
	unsigned flags;              /* API_GROUPED */
} api_route;

/* The route's store write is group-committed (store/group.h): with the
 * store called inline it runs on ts_api.write_pool instead, so that
 * concurrent ones can wait together for one commit; two event threads
 * alone would never make a batch of more than two. */
#define API_GROUPED 1u

/* The same order as ts_metrics_face (core/metrics.h). */
enum { FACE_NATIVE = 0, FACE_ADMIN = 1, FACE_IAM = 2, FACE_PX0 = 3 };
/* The face whose prefix path falls under (the longest prefix wins). */
int api_face_of_path(const ts_api *api, const char *path);

/* Each face's answer to a request it must refuse before reading it (an
 * ambiguous framing): its own 400 with reason as the text. */
typedef ts_http_action (*api_reject_fn)(ts_http_resp *resp, const char *reason);
ts_http_action api_native_reject(ts_http_resp *resp, const char *reason);
ts_http_action api_admin_reject(ts_http_resp *resp, const char *reason);
ts_http_action api_iam_reject(ts_http_resp *resp, const char *reason);
ts_http_action api_px0_reject(ts_http_resp *resp, const char *reason);

/* Each face's routes, NULL-fn terminated. */
extern const api_route api_native_routes[];
extern const api_route api_admin_routes[];   /* contract 000 */
extern const api_route api_iam_routes[];     /* contract 001 */
extern const api_route api_px0_routes[];     /* contract 003 */
extern const api_route api_oidc_routes[];    /* OpenID Connect (oidc.c) */

/* The hosted pages (pages.c): every path under /ui/, and /verify and
 * /reset; a common route (no CORS answer). */
ts_http_action api_pages(ts_api *api, ts_http_req *req, ts_http_resp *resp);
/* For other browser-facing routes (OpenID Connect): the request's
 * browser session (its cookie, in the tenant the request names by
 * ?tenant= or Host, else the default); TS_E_TOKEN_INVALID without a
 * cookie, else ts_browser_check's errors. To sign a person in, send them
 * to /ui/login?return_to=<path of this origin> (docs/PAGES.md). */
struct ts_browser;
ts_err api_page_browser(ts_api *api, const ts_http_req *req, struct ts_browser *b);
/* The same in tenant t (the OpenID Connect issuer's), whatever the
 * request's own hints say. */
ts_err api_page_browser_of(ts_api *api, const ts_http_req *req, const ts_tenant *t,
                           struct ts_browser *b);
/* Ends the request's browser session (if any) and clears its cookie in
 * resp, as POST /ui/session-end does (OpenID Connect's end_session). */
ts_err api_page_sign_out(ts_api *api, const ts_http_req *req, ts_http_resp *resp);
/* 1 when a state-changing request comes from this origin (the pages'
 * rule: Sec-Fetch-Site same-origin, or Origin equal to our own). */
int api_page_same_origin(const ts_http_req *req);

/* ---- request bodies ---- */

typedef enum {
	BODY_OK,
	BODY_MISSING,                /* no body at all */
	BODY_TOO_LARGE,
	BODY_BAD_TYPE,               /* Content-Type says it is not JSON */
	BODY_TOO_DEEP,
	BODY_INVALID,                /* not JSON: syntax, UTF-8, NUL, duplicates */
	BODY_NOT_OBJECT,
} api_body;

/* Parses the request body as a JSON object under our limits. *out gets a
 * new reference (caller decrefs) only on BODY_OK. */
api_body api_parse_body(const ts_http_req *req, json_t **out);
/* A short English reason for a body status. */
const char *api_body_reason(api_body b);

/* A face's 400: field and reason (either may be NULL) in its own shape. */
typedef ts_http_action (*api_bad_fn)(ts_http_resp *resp, const char *field, const char *reason);
/* The parsed body object, or NULL with bad's 400 already in resp. Caller
 * decrefs the body. */
json_t *api_body_or_400(ts_http_req *req, ts_http_resp *resp, api_bad_fn bad);
/* A required string member, or NULL with bad's 400 in resp. */
const char *api_string_or_400(json_t *body, const char *key, ts_http_resp *resp, api_bad_fn bad);

/* A string member: 1 and *out set when present and a string, 0 when absent
 * or null, -1 when present with another type. */
int api_get_string(json_t *obj, const char *key, const char **out);

/* ---- responses ---- */

/* Serialises body (stolen) into resp with the given status. */
void api_reply(ts_http_resp *resp, int status, json_t *body);
/* The user object shared by the faces; tenant_slug NULL leaves it out. */
json_t *api_user_json(const ts_user *u, const char *tenant_slug);
/* RFC 3339 text for t, as a new JSON string. */
json_t *api_time_json(int64_t t);

/* A password attempt on its way to a hashing worker (every face's login
 * deferral). body is a reference the job owns; req's strings point into it. */
typedef struct api_login_job {
	ts_api *api;
	json_t *body;
	ts_login_req req;
	const char *user_agent;      /* the request's, NULL when none */
} api_login_job;
/* Wipes the password in the parsed body, releases the body, frees j. */
void api_login_job_free(api_login_job *j);
/* Sends a validated attempt on its way: admission (rate limits, account
 * lock) here on the connection thread, then run(j) on a hashing worker,
 * never here. TS_OK when deferred (the job owns j); otherwise the error to
 * answer with, *wait its Retry-After (0 when none), and j is freed. */
ts_err api_login_defer(ts_http_req *req, api_login_job *j, ts_http_job_fn run, int *wait);

/* The last path segment of a request whose route ends in a star
 * segment (as sent, not percent-decoded). */
const char *api_path_tail(const ts_http_req *req);
/* The router's OPTIONS answer (CORS preflight or RFC 9110 §9.3.7) for a
 * path taking the methods in allow ("GET, HEAD, PATCH"), for a face
 * route of method "*" that routes further itself. */
ts_http_action api_answer_options(ts_api *api, const ts_http_req *req, ts_http_resp *resp,
                                  const char *allow);

/* The token of an "Authorization: Bearer ..." header, or NULL. */
const char *api_bearer(const ts_http_req *req);

#endif
