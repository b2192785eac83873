/* JSON in and out for every face: bodies parsed under limits, replies
 * serialised in one place. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "core/util.h"
#include "crypto/hash.h"

/* Nesting depth of a JSON text, counted before parsing so a deep body costs
 * a linear scan, not a deep parse. Strings are skipped, escapes honoured. */
static int
json_depth(const char *s, size_t n)
{
	int depth = 0, max = 0, in_str = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				max = depth;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return max;
}

/* Which declared types we parse as JSON: application/json, any +json type,
 * and text/plain (what fetch() sends for a string body; the seed servers
 * ignore the type altogether). Form and multipart bodies, and anything
 * else, are refused: they are what a browser posts cross-site unasked. */
static int
is_json_type(const char *ct)
{
	size_t n = strcspn(ct, ";");

	while (n && isspace((unsigned char)ct[n - 1]))
		n--;
	if ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	    (n == 10 && strncasecmp(ct, "text/plain", 10) == 0))
		return 1;
	return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
	       strncasecmp(ct + n - 5, "+json", 5) == 0;
}

api_body
api_parse_body(const ts_http_req *req, json_t **out)
{
	json_t *j;
	json_error_t err;

	*out = NULL;
	if (req->body_too_large)
		return BODY_TOO_LARGE;
	if (!req->body || req->body_len == 0)
		return BODY_MISSING;
	if (req->content_type && !is_json_type(req->content_type))
		return BODY_BAD_TYPE;
	/* A NUL byte inside the raw body is never valid JSON text. */
	if (memchr(req->body, '\0', req->body_len))
		return BODY_INVALID;
	if (json_depth(req->body, req->body_len) > API_JSON_DEPTH_MAX)
		return BODY_TOO_DEEP;
	/* jansson rejects invalid UTF-8 and \u0000 (without JSON_ALLOW_NUL);
	 * we also reject duplicate keys, which make a body ambiguous. */
	j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		return BODY_INVALID;
	if (!json_is_object(j)) {
		json_decref(j);
		return BODY_NOT_OBJECT;
	}
	*out = j;
	return BODY_OK;
}

const char *
api_body_reason(api_body b)
{
	switch (b) {
	case BODY_OK:
		return "ok";
	case BODY_MISSING:
		return "the request body is required";
	case BODY_TOO_LARGE:
		return "the request body is larger than 16 KiB";
	case BODY_BAD_TYPE:
		return "the request body must be application/json";
	case BODY_TOO_DEEP:
		return "the request body is nested too deeply";
	case BODY_INVALID:
		return "the request body is not valid JSON (UTF-8, no NUL, no duplicate keys)";
	case BODY_NOT_OBJECT:
		return "the request body must be a JSON object";
	}
	return "invalid request body";
}

int
api_get_string(json_t *obj, const char *key, const char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 1;
}

json_t *
api_body_or_400(ts_http_req *req, ts_http_resp *resp, api_bad_fn bad)
{
	json_t *body;
	api_body b = api_parse_body(req, &body);

	if (b != BODY_OK) {
		bad(resp, NULL, api_body_reason(b));
		return NULL;
	}
	return body;
}

const char *
api_string_or_400(json_t *body, const char *key, ts_http_resp *resp, api_bad_fn bad)
{
	const char *v;
	int r = api_get_string(body, key, &v);

	if (r == 1)
		return v;
	bad(resp, key, r == 0 ? "required" : "must be a string");
	return NULL;
}

void
api_reply(ts_http_resp *resp, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (!text) {
		/* Out of memory while replying: say so in the plainest form. */
		resp->status = 500;
		resp->body = strdup("{\"error\":\"internal error\"}");
		resp->body_len = resp->body ? strlen(resp->body) : 0;
		return;
	}
	resp->status = status;
	resp->body = text;
	resp->body_len = strlen(text);
}

json_t *
api_time_json(int64_t t)
{
	char buf[32];

	ts_rfc3339(t, buf);
	return json_string(buf);
}

json_t *
api_user_json(const ts_user *u, const char *tenant_slug)
{
	json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:o}", "id", u->id, "email", u->email,
	                      "is_verified", u->is_verified, "is_admin", u->is_admin,
	                      "created_at", api_time_json(u->created_at));

	if (o && tenant_slug)
		json_object_set_new(o, "tenant", json_string(tenant_slug));
	return o;
}

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int
b64token(const char *s)
{
	size_t i = 0;

	for (; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && !strchr("-._~+/", c))
			break;
	}
	if (i == 0)
		return 0;
	while (s[i] == '=')
		i++;
	return s[i] == '\0';
}

void
api_login_job_free(api_login_job *j)
{
	if (!j)
		return;
	/* The password lives in the parsed body; wipe it before it is freed. */
	if (j->req.password)
		ts_wipe((char *)j->req.password, j->req.password_len);
	json_decref(j->body);
	free(j);
}

ts_err
api_login_defer(ts_http_req *req, api_login_job *j, ts_http_job_fn run, int *wait)
{
	ts_err r;

	*wait = 0;
	j->req.host = req->host;
	j->req.header_slug = ts_http_header(req, "X-Tenant-Slug");
	j->req.client_ip = req->client_ip;
	j->user_agent = ts_http_header(req, "User-Agent");
	j->req.face = (ts_metrics_face)api_face_of_path(j->api, req->path);
	if ((r = ts_auth_admit(j->api->auth, &j->req, wait)) == TS_OK &&
	    (r = ts_http_defer(req, run, j)) == TS_OK)
		return TS_OK;
	api_login_job_free(j);
	return r;
}

const char *
api_bearer(const ts_http_req *req)
{
	const char *h = req->authorization;

	if (!h || strlen(h) > API_BEARER_MAX + 7 || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return b64token(h) ? h : NULL;
}
