/* OpenID Connect token claims (oidc_claims.h) to and from JSON. */
#include <string.h>
#include <jansson.h>

#include "crypto/oidc_claims.h"

static int
put_str(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, json_string(v));
}

/* Sets k only when v is not empty. */
static int
put_opt(json_t *o, const char *k, const char *v)
{
	return *v ? put_str(o, k, v) : 0;
}

static int
put_common(json_t *o, const ts_oidc_claims *c)
{
	return put_str(o, "iss", c->iss) || put_str(o, "sub", c->sub) ||
	       put_str(o, "aud", c->aud) || put_opt(o, "jti", c->jti) ||
	       put_opt(o, "sid", c->sid) ||
	       json_object_set_new(o, "iat", json_integer(c->iat)) ||
	       json_object_set_new(o, "exp", json_integer(c->exp));
}

static ts_err
dump(json_t *o, char *out, size_t cap)
{
	size_t n = json_dumpb(o, out, cap, JSON_COMPACT);

	if (n == 0 || n >= cap)
		return TS_E_INTERNAL;
	out[n] = '\0';
	return TS_OK;
}

ts_err
ts_oidc_access_encode(const ts_oidc_claims *c, char *out, size_t cap)
{
	json_t *o = json_object();
	ts_err r = TS_E_INTERNAL;

	if (o && !put_common(o, c) && !put_str(o, "client_id", c->client_id) &&
	    !put_opt(o, "scope", c->scope))
		r = dump(o, out, cap);
	json_decref(o);
	return r;
}

ts_err
ts_oidc_id_encode(const ts_oidc_claims *c, char *out, size_t cap)
{
	json_t *o = json_object(), *amr = json_array();
	char buf[sizeof(c->amr)], *tok, *save = NULL;
	ts_err r = TS_E_INTERNAL;

	if (!o || !amr || put_common(o, c) || put_opt(o, "nonce", c->nonce) ||
	    put_opt(o, "acr", c->acr) || put_opt(o, "at_hash", c->at_hash))
		goto out;
	if (c->auth_time && json_object_set_new(o, "auth_time", json_integer(c->auth_time)))
		goto out;
	if (*c->email && (put_str(o, "email", c->email) ||
	                  json_object_set_new(o, "email_verified", json_boolean(c->email_verified))))
		goto out;
	/* RFC 8176: amr is an array of method names. */
	memcpy(buf, c->amr, sizeof(buf));
	buf[sizeof(buf) - 1] = '\0';
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		if (json_array_append_new(amr, json_string(tok)))
			goto out;
	if (json_array_size(amr) && json_object_set(o, "amr", amr))
		goto out;
	r = dump(o, out, cap);
out:
	json_decref(amr);
	json_decref(o);
	return r;
}

/* Copies a string member; 0 on success. Absent: -1 when required, else 0. */
static int
get_str(json_t *o, const char *k, char *dst, size_t dstsz, int required)
{
	json_t *v = json_object_get(o, k);
	const char *s;

	dst[0] = '\0';
	if (!v)
		return required ? -1 : 0;
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

static ts_err
decode(const char *json, ts_oidc_claims *out, int access)
{
	/* Duplicate members make a token ambiguous: refused (RFC 7515 §5.2). */
	json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
	ts_err r = TS_E_TOKEN_INVALID;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(o) || get_str(o, "iss", out->iss, sizeof(out->iss), 1) ||
	    get_str(o, "sub", out->sub, sizeof(out->sub), 1) ||
	    get_str(o, "aud", out->aud, sizeof(out->aud), 1) ||
	    get_str(o, "jti", out->jti, sizeof(out->jti), access) ||
	    get_str(o, "sid", out->sid, sizeof(out->sid), 0) ||
	    get_int(o, "iat", &out->iat) || get_int(o, "exp", &out->exp))
		goto out;
	if (access && (get_str(o, "client_id", out->client_id, sizeof(out->client_id), 1) ||
	               get_str(o, "scope", out->scope, sizeof(out->scope), 0)))
		goto out;
	r = TS_OK;
out:
	json_decref(o);
	return r;
}

ts_err
ts_oidc_access_decode(const char *json, ts_oidc_claims *out)
{
	return decode(json, out, 1);
}

ts_err
ts_oidc_id_decode(const char *json, ts_oidc_claims *out)
{
	return decode(json, out, 0);
}
