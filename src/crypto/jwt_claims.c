/* JWT claims and header (RFC 7519 §4, RFC 7515 §4) to and from JSON. */
#include <string.h>
#include <jansson.h>

#include "crypto/jwt_claims.h"

static int
put_str(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, json_string(v));
}

ts_err
ts_jwt_claims_encode(const ts_jwt_claims *c, char *out, size_t cap)
{
	ts_err r = TS_E_INTERNAL;
	json_t *o = json_object(), *amr = json_array();
	char buf[sizeof(c->amr)], *tok, *save = NULL;

	if (!o || !amr)
		goto out;
	if (put_str(o, "iss", c->iss) || put_str(o, "sub", c->sub) ||
	    put_str(o, "aud", c->aud) || put_str(o, "tid", c->tid) ||
	    put_str(o, "sid", c->sid) || put_str(o, "jti", c->jti) ||
	    put_str(o, "scope", c->scope) ||
	    json_object_set_new(o, "iat", json_integer(c->iat)) ||
	    json_object_set_new(o, "exp", json_integer(c->exp)))
		goto out;
	/* RFC 8176: amr is an array of method names. */
	memcpy(buf, c->amr, sizeof(buf));
	buf[sizeof(buf) - 1] = '\0';
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		if (json_array_append_new(amr, json_string(tok)))
			goto out;
	if (json_object_set(o, "amr", amr))
		goto out;
	size_t n = json_dumpb(o, out, cap, JSON_COMPACT);
	if (n == 0 || n >= cap)
		goto out;
	out[n] = '\0';
	r = TS_OK;
out:
	json_decref(amr);
	json_decref(o);
	return r;
}

/* Copies a required string member; 0 on success. */
static int
get_str(json_t *o, const char *k, char *dst, size_t dstsz)
{
	json_t *v = json_object_get(o, k);
	const char *s;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (strlen(s) >= dstsz)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int
get_int(json_t *o, const char *k, int64_t *dst)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		return -1;
	*dst = (int64_t)json_integer_value(v);
	return 0;
}

static json_t *
load(const char *json)
{
	/* Duplicate members make a token ambiguous (RFC 7515 §5.2 allows
	 * refusing them), so refuse. */
	return json_loads(json, JSON_REJECT_DUPLICATES, NULL);
}

ts_err
ts_jwt_claims_decode(const char *json, ts_jwt_claims *out)
{
	ts_err r = TS_E_TOKEN_INVALID;
	json_t *o = load(json), *aud, *amr;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(o))
		goto out;
	if (get_str(o, "iss", out->iss, sizeof(out->iss)) ||
	    get_str(o, "sub", out->sub, sizeof(out->sub)) ||
	    get_str(o, "tid", out->tid, sizeof(out->tid)) ||
	    get_str(o, "sid", out->sid, sizeof(out->sid)) ||
	    get_str(o, "jti", out->jti, sizeof(out->jti)) ||
	    get_int(o, "iat", &out->iat) || get_int(o, "exp", &out->exp))
		goto out;
	aud = json_object_get(o, "aud");
	if (json_is_array(aud))
		aud = json_array_get(aud, 0);
	if (!json_is_string(aud) || strlen(json_string_value(aud)) >= sizeof(out->aud))
		goto out;
	strcpy(out->aud, json_string_value(aud));
	if (json_object_get(o, "scope") && get_str(o, "scope", out->scope, sizeof(out->scope)))
		goto out;
	amr = json_object_get(o, "amr");
	if (json_is_array(amr)) {
		size_t i, used = 0;
		json_t *m;
		json_array_foreach(amr, i, m) {
			const char *s = json_string_value(m);
			size_t n = s ? strlen(s) : 0;
			if (!s || used + n + 2 > sizeof(out->amr))
				goto out;
			if (used)
				out->amr[used++] = ' ';
			memcpy(out->amr + used, s, n + 1);
			used += n;
		}
	}
	r = TS_OK;
out:
	json_decref(o);
	return r;
}

ts_err
ts_jwt_header_decode(const char *json, char *alg, size_t algsz, char *kid, size_t kidsz)
{
	ts_err r = TS_E_TOKEN_INVALID;
	json_t *o = load(json), *typ;

	if (!json_is_object(o))
		goto out;
	if (get_str(o, "alg", alg, algsz) || get_str(o, "kid", kid, kidsz))
		goto out;
	if (json_object_get(o, "crit"))
		goto out;
	typ = json_object_get(o, "typ");
	if (typ && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
		goto out;
	r = TS_OK;
out:
	json_decref(o);
	return r;
}
