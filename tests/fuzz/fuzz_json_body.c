/* Fuzzes the request-body parser every face uses (api_parse_body) and the
 * field reads after it (api_get_string), under each kind of Content-Type a
 * client may send. Invariants: a body accepted as BODY_OK is a JSON object,
 * well-formed UTF-8 without NUL, at most API_JSON_DEPTH_MAX deep, and every
 * string read from it is valid UTF-8; a refused type never gets parsed. The
 * input is also tried as a Content-Type value, for the type check itself. */
#include <jansson.h>

#include "api/api_internal.h"
#include "core/util.h"
#include "fuzz.h"

/* The members the faces read: native (002), admin (000), IAM (001), px0 (003). */
static const char *const fields[] = {
	"email", "password", "tenant_slug", "refresh_token", "challenge_id", "method",
	"code", "authToken", "otpCode", "username", "tenant", "tenantSlug", "token",
	"new_password", "otp", "mfa_code", "type", "",
};

static const char *const content_types[] = {
	NULL,                                   /* no header: parsed as JSON */
	"application/json",
	"Application/JSON; charset=utf-8",
	"text/plain;charset=UTF-8",
	"application/merge-patch+json",
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=x",
	"application/jsonx",
	"",
};

/* Depth of a parsed value (a scalar is 0). */
static int
depth_of(json_t *v)
{
	int max = 0, d;
	const char *k;
	json_t *m;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, m) {
			if ((d = depth_of(m)) > max)
				max = d;
		}
		return max + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if ((d = depth_of(m)) > max)
				max = d;
		}
		return max + 1;
	}
	return 0;
}

static int
json_type_expected(const char *ct)
{
	return ct == NULL || strcmp(ct, "application/json") == 0 ||
	       strncmp(ct, "Application/JSON", 16) == 0 || strncmp(ct, "text/plain", 10) == 0 ||
	       strcmp(ct, "application/merge-patch+json") == 0;
}

static void
check_fields(json_t *obj)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = (const char *)1;
		int r = api_get_string(obj, fields[i], &v);
		json_t *m = json_object_get(obj, fields[i]);

		FUZZ_CHECK(r >= -1 && r <= 1);
		if (r == 1) {
			FUZZ_CHECK(v != NULL && json_is_string(m));
			/* jansson's length equals strlen: no NUL inside, and the text is UTF-8. */
			FUZZ_CHECK(strlen(v) == json_string_length(m));
			FUZZ_CHECK(ts_utf8_valid(v, strlen(v)));
			/* What the faces then do with a string field. */
			(void)ts_email_valid(v);
			(void)ts_slug_valid(v);
		} else {
			FUZZ_CHECK(v == NULL);
			FUZZ_CHECK(r == 0 ? (!m || json_is_null(m)) : (m && !json_is_string(m) && !json_is_null(m)));
		}
	}
}

static api_body
parse_as(const char *body, size_t len, const char *ct, json_t **out)
{
	ts_http_req req = {
		.method = "POST",
		.path = "/v1/auth/login",
		.content_type = ct,
		.client_ip = "192.0.2.1",
		.request_id = "fuzz",
	};

	/* What the transport hands over: a NUL-terminated copy, or the flag. */
	if (len > TS_HTTP_BODY_MAX) {
		req.body_too_large = 1;
	} else if (len > 0) {
		req.body = body;
		req.body_len = len;
	}
	return api_parse_body(&req, out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = fuzz_cstr(data, size);
	api_body first = BODY_OK;

	for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++) {
		const char *ct = content_types[i];
		json_t *j = (json_t *)1;
		api_body b = parse_as(body, size, ct, &j);

		FUZZ_CHECK(b >= BODY_OK && b <= BODY_NOT_OBJECT);
		FUZZ_CHECK(api_body_reason(b) != NULL);
		if (b != BODY_OK) {
			FUZZ_CHECK(j == NULL);
		} else {
			FUZZ_CHECK(json_type_expected(ct));
			FUZZ_CHECK(json_is_object(j));
			FUZZ_CHECK(size <= TS_HTTP_BODY_MAX);
			FUZZ_CHECK(ts_utf8_valid(body, size));
			FUZZ_CHECK(depth_of(j) <= API_JSON_DEPTH_MAX);
			check_fields(j);
			json_decref(j);
		}
		/* Every accepted JSON type gives the same verdict. */
		if (json_type_expected(ct)) {
			if (ct == NULL)
				first = b;
			else
				FUZZ_CHECK(b == first);
		} else if (b != BODY_TOO_LARGE && b != BODY_MISSING) {
			FUZZ_CHECK(b == BODY_BAD_TYPE);
		}
	}

	/* The input as the Content-Type of a small valid body. */
	{
		json_t *j = NULL;
		api_body b = parse_as("{\"email\":\"a@b.c\"}", 17, body, &j);

		FUZZ_CHECK(b == BODY_OK || b == BODY_BAD_TYPE);
		json_decref(j);
	}
	free(body);
	return 0;
}
