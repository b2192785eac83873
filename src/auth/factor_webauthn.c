/* WebAuthn as factors (webauthn.h): passkeys and security keys, and
 * passwordless sign-in. The ceremonies are WebAuthn Level 3 §7.1 and §7.2
 * (step numbers as in crypto/webauthn.h); the bytes are checked by
 * crypto/webauthn.c (libcbor, libfido2).
 *
 * A credential is a factor row (store.h ts_factor): lookup = base64url of
 * the credential id (unique per tenant and kind), counter = the signature
 * counter, data = "alg=..;be=..;bs=..;att=..;tr=..;key=<base64url COSE>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/webauthn.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/b64url.h"
#include "crypto/hash.h"
#include "crypto/webauthn.h"

#define LOOKUP_MAX TS_FACTOR_LOOKUP_MAX

/* ---- configuration ---- */

/* The issuer URL's origin ("scheme://authority"), in out. 0 when it has
 * none or it is too long. */
static int
url_origin(const char *url, char *out, size_t cap)
{
	const char *auth = strstr(url ? url : "", "://");
	size_t n;

	if (!auth)
		return 0;
	n = (size_t)(auth - url) + 3 + strcspn(auth + 3, "/?#");
	if (n >= cap)
		return 0;
	memcpy(out, url, n);
	out[n] = '\0';
	return 1;
}

ts_err
ts_webauthn_init(ts_auth *a, const char *rp_id, const char *origins)
{
	char one[TS_ORIGIN_MAX + 64], o[TS_ORIGIN_MAX + 1], host[TS_HOST_MAX + 1], *list;
	const char *p;
	size_t len = 0, cap;

	/* The origins: the configured list, else the issuer's origin. Kept
	 * normalised, so the check is one exact comparison per entry (§7.1
	 * step 9, §7.2 step 12; §13.4.9 "Validating the origin"). */
	if (origins && *origins) {
		p = origins;
	} else {
		if (!url_origin(a->issuer, one, sizeof(one)))
			return TS_E_INVALID;
		p = one;
	}
	cap = strlen(p) + TS_ORIGIN_MAX + 2;
	if (!(list = calloc(1, cap)))
		return TS_E_NOMEM;
	while (*p) {
		char item[TS_ORIGIN_MAX + 64];
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, ",");
		while (n && p[n - 1] == ' ')
			n--;
		if (n == 0 || n >= sizeof(item))
			goto bad;
		memcpy(item, p, n);
		item[n] = '\0';
		if (!ts_origin_normalize(item, o) || len + strlen(o) + 2 > cap)
			goto bad;
		len += (size_t)snprintf(list + len, cap - len, "%s%s", len ? "," : "", o);
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	/* The RP ID (§5.1.2 "RP ID", a domain): configured, else the host of
	 * the issuer's origin. */
	if (!(rp_id && *rp_id)) {
		if (!url_origin(a->issuer, one, sizeof(one)))
			goto bad;
		rp_id = strstr(one, "://") + 3;
	}
	if (!ts_host_normalize(rp_id, host))
		goto bad;
	for (char *c = host; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (!(a->wa_rp_id = strdup(host)))
		goto bad;
	a->wa_origins = list;
	return TS_OK;
bad:
	free(list);
	return TS_E_INVALID;
}

static int
origin_allowed(ts_auth *a, const char *origin)
{
	const char *p = a->wa_origins;
	size_t n = strlen(origin);

	while (p && *p) {
		size_t len = strcspn(p, ",");

		if (len == n && memcmp(p, origin, n) == 0)
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

/* ---- rows ---- */

static int
kind_allowed(const ts_tenant *t, ts_factor_kind k)
{
	return t->mfa_factors == 0 || (t->mfa_factors & TS_FACTOR_BIT(k)) != 0;
}

/* The value of field name in a row's data ("k=v;k=v"). 0 when absent or
 * too long. */
static int
data_field(const char *data, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = data;

	while (p && *p) {
		size_t len = strcspn(p, ";");

		if (len > nl && p[nl] == '=' && memcmp(p, name, nl) == 0) {
			if (len - nl - 1 >= cap)
				return 0;
			memcpy(out, p + nl + 1, len - nl - 1);
			out[len - nl - 1] = '\0';
			return 1;
		}
		p += len + (p[len] == ';');
	}
	return 0;
}

static int
data_flag(const char *data, const char *name)
{
	char v[4];

	return data_field(data, name, v, sizeof(v)) && strcmp(v, "1") == 0;
}

/* The public key a row keeps. */
static ts_err
row_key(const ts_factor *f, ts_wa_pubkey *k)
{
	char b64[TS_FACTOR_DATA_MAX];
	unsigned char cose[TS_WA_COSE_MAX];
	long n;

	if (!data_field(f->data, "key", b64, sizeof(b64)))
		return TS_E_INTERNAL;
	n = ts_b64url_decode(b64, strlen(b64), cose, sizeof(cose));
	if (n <= 0 || ts_wa_cose_parse(cose, (size_t)n, k) != TS_OK)
		return TS_E_INTERNAL;
	return TS_OK;
}

/* A user's credentials of the WebAuthn kinds the tenant allows, as
 * allowCredentials / excludeCredentials entries. */
typedef struct cred_set {
	ts_wa_cred_ref refs[32];
	char ids[32][LOOKUP_MAX + 1];
	char tr[32][96];
	size_t n;
	int any;                      /* rows of any webauthn kind, allowed or not */
} cred_set;

static int
cred_set_add(void *arg, const ts_factor *f)
{
	cred_set *s = arg;

	if (!f->confirmed || s->n >= sizeof(s->refs) / sizeof(s->refs[0]))
		return 0;
	ts_strlcpy(s->ids[s->n], f->lookup, sizeof(s->ids[0]));
	if (!data_field(f->data, "tr", s->tr[s->n], sizeof(s->tr[0])))
		s->tr[s->n][0] = '\0';
	s->refs[s->n].id_b64 = s->ids[s->n];
	s->refs[s->n].transports = s->tr[s->n];
	s->n++;
	return 0;
}

static ts_err
cred_set_load(ts_auth *a, const ts_user *u, const ts_tenant *t, cred_set *s)
{
	static const ts_factor_kind kinds[] = { TS_FACTOR_PASSKEY, TS_FACTOR_SECURITY_KEY };
	ts_err r;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < 2; i++) {
		if (t && !kind_allowed(t, kinds[i]))
			continue;
		if ((r = SOPS(a)->factor_list(ST(a), u->id, (int)kinds[i], cred_set_add, s)) != TS_OK)
			return r;
	}
	return TS_OK;
}

/* ---- challenges ---- */

/* A new ceremony: 32 random bytes, stored under the hash of their
 * base64url, bound by data (and user, tenant, session). */
static ts_err
challenge_new(ts_auth *a, const char *tenant_id, const char *user_id, const char *session_id,
              const char *binding, unsigned char ch[TS_WA_CHALLENGE_LEN], int64_t *expires_at)
{
	char b64[64];
	ts_secret sec;
	int64_t now = ts_now();

	memset(&sec, 0, sizeof(sec));
	ts_random(ch, TS_WA_CHALLENGE_LEN);
	ts_b64url_encode(ch, TS_WA_CHALLENGE_LEN, b64);
	ts_secret_hash(b64, strlen(b64), sec.hash);
	sec.kind = TS_SECRET_WEBAUTHN;
	ts_strlcpy(sec.tenant_id, tenant_id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, user_id ? user_id : "", sizeof(sec.user_id));
	ts_strlcpy(sec.session_id, session_id ? session_id : "", sizeof(sec.session_id));
	ts_strlcpy(sec.data, binding, sizeof(sec.data));
	sec.created_at = now;
	sec.expires_at = *expires_at = now + TS_WA_CHALLENGE_TTL;
	return SOPS(a)->secret_put(ST(a), &sec);
}

/* Spends the ceremony the client data names (§7.1 step 8, §7.2 step 11:
 * the challenge must be one we sent, for this ceremony; single use, so
 * it is spent whatever the rest of the answer is). TS_OK with *sec, or
 * TS_E_MFA_INVALID (unknown, spent, expired, bound elsewhere). */
static ts_err
challenge_spend(ts_auth *a, const ts_wa_client_data *cd, const char *binding,
                const char *tenant_id, ts_secret *sec)
{
	char b64[TS_WA_CHALLENGE_MAX * 2], hash[TS_HASH_SZ];
	int64_t now = ts_now();
	ts_err r;

	if (cd->challenge_len != TS_WA_CHALLENGE_LEN)
		return TS_E_MFA_INVALID;
	ts_b64url_encode(cd->challenge, cd->challenge_len, b64);
	ts_secret_hash(b64, strlen(b64), hash);
	r = SOPS(a)->secret_consume(ST(a), TS_SECRET_WEBAUTHN, hash, now, sec);
	if (r == TS_E_NOT_FOUND || r == TS_E_TOKEN_REUSED)
		return TS_E_MFA_INVALID;
	if (r != TS_OK)
		return r;
	if (sec->expires_at <= now || strcmp(sec->data, binding) != 0 ||
	    strcmp(sec->tenant_id, tenant_id) != 0)
		return TS_E_MFA_INVALID;
	return TS_OK;
}

/* §7.1 steps 5-11 / §7.2 steps 8-14: the client data and its challenge,
 * which is spent first (any answer that names a ceremony ends it), then
 * the type and the origin; no cross-origin iframes (we never expect to be
 * embedded). sec gets the ceremony. */
static ts_err
client_data_check(ts_auth *a, const ts_wa_credential *cr, ts_wa_ceremony type,
                  const char *binding, const char *tenant_id, ts_secret *sec)
{
	ts_wa_client_data cd;
	ts_err r;

	if (ts_wa_client_data_parse(cr->client_data, cr->client_data_len, &cd) != TS_OK)
		return TS_E_MFA_INVALID;
	/* §7.1 step 8, §7.2 step 11 */
	if ((r = challenge_spend(a, &cd, binding, tenant_id, sec)) != TS_OK)
		return r;
	if (cd.type != type)                         /* §7.1 step 7, §7.2 step 10 */
		return TS_E_MFA_INVALID;
	if (!origin_allowed(a, cd.origin))           /* §7.1 step 9, §7.2 step 12 */
		return TS_E_MFA_INVALID;
	if (cd.cross_origin || cd.has_top_origin)    /* steps 10-11, 13-14 */
		return TS_E_MFA_INVALID;
	return TS_OK;
}

/* ---- the assertion (§7.2) ---- */

typedef struct assert_in {
	const ts_tenant *tenant;
	const char *user_id;         /* the user identified before (second factor); NULL passwordless */
	const char *binding;         /* the ceremony the challenge must be bound to */
	int require_uv;
	const ts_factor_kind *kinds; /* row kinds the credential may be */
	size_t n_kinds;
} assert_in;

/* Judges one assertion. TS_OK fills *row (updated counter) after the
 * counter was advanced atomically. TS_E_MFA_INVALID for anything wrong.
 * *row_found tells whether a row answered (failures then count against
 * its user). */
static ts_err
assertion_check(ts_auth *a, const assert_in *in, const char *credential, size_t len,
                ts_factor *row, int *row_found)
{
	ts_wa_credential cr;
	ts_wa_authdata ad;
	ts_wa_pubkey key;
	ts_secret sec;
	unsigned char cdh[32];
	char lookup[LOOKUP_MAX + 1];
	uint8_t need;
	ts_err r;

	*row_found = 0;
	if (ts_wa_credential_parse(credential, len, TS_WA_GET, &cr) != TS_OK)
		return TS_E_MFA_INVALID;
	if ((r = client_data_check(a, &cr, TS_WA_GET, in->binding, in->tenant->id, &sec)) != TS_OK)
		goto out;
	if (in->user_id && strcmp(sec.user_id, in->user_id) != 0) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	/* §7.2 steps 5-7: the credential is one of the user's (a second
	 * factor), or the one its user handle names (passwordless). */
	if (ts_b64url_enclen(cr.raw_id_len) > LOOKUP_MAX) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	ts_b64url_encode(cr.raw_id, cr.raw_id_len, lookup);
	r = TS_E_NOT_FOUND;
	for (size_t i = 0; i < in->n_kinds && r == TS_E_NOT_FOUND; i++)
		if (kind_allowed(in->tenant, in->kinds[i]))
			r = SOPS(a)->factor_find(ST(a), in->tenant->id, (int)in->kinds[i], lookup, row);
	if (r == TS_E_NOT_FOUND || (r == TS_OK && !row->confirmed)) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	if (r != TS_OK)
		goto out;
	if (in->user_id && strcmp(row->user_id, in->user_id) != 0) {
		r = TS_E_MFA_INVALID;   /* another user's credential */
		goto out;
	}
	*row_found = 1;
	/* §7.2 step 6: the user handle, when given, is the owner's (ours is
	 * the user id's bytes); passwordless needs it. */
	if ((!in->user_id && !cr.user_handle) ||
	    (cr.user_handle && (cr.user_handle_len != strlen(row->user_id) ||
	                        memcmp(cr.user_handle, row->user_id, cr.user_handle_len) != 0))) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	if (ts_wa_authdata_parse(cr.authenticator_data, cr.authenticator_data_len, &ad) != TS_OK ||
	    (ad.flags & TS_WA_FLAG_AT)) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	/* §7.2 step 18: BS without BE is no state; step 19: BE is a
	 * property of the credential and cannot change. */
	if (((ad.flags & TS_WA_FLAG_BS) && !(ad.flags & TS_WA_FLAG_BE)) ||
	    !!(ad.flags & TS_WA_FLAG_BE) != data_flag(row->data, "be")) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	if ((r = row_key(row, &key)) != TS_OK)
		goto out;
	/* §7.2 step 20: hash; steps 15-17 and 21 in libfido2: rpIdHash, UP,
	 * UV when required, the signature. */
	ts_sha256(cr.client_data, cr.client_data_len, cdh);
	need = TS_WA_FLAG_UP | (in->require_uv ? TS_WA_FLAG_UV : 0);
	if (ts_wa_assertion_verify(&key, cr.authenticator_data, cr.authenticator_data_len, cdh,
	                           cr.signature, cr.signature_len, a->wa_rp_id, need) != TS_OK) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	/* §7.2 step 22: a counter that does not go up, where either side
	 * counts, may mean a cloned authenticator: refused, and audited. The
	 * comparison and the update are one store op. */
	if (ad.sign_count == 0 && row->counter == 0)
		r = SOPS(a)->factor_touch(ST(a), row->id, ts_now());
	else
		r = SOPS(a)->factor_advance(ST(a), row->id, (int64_t)ad.sign_count, ts_now());
	if (r == TS_E_TOKEN_REUSED) {
		ts_audit(a, "webauthn_counter_regression", "user", row->user_id, "factor", row->id,
		         TS_LOG_INT("stored", row->counter), TS_LOG_INT("presented", ad.sign_count),
		         NULL);
		r = TS_E_MFA_INVALID;
		goto out;
	}
	if (r != TS_OK)
		goto out;
	row->counter = ad.sign_count;
	/* §7.2 step 24: the backup state is kept current (compare-and-set:
	 * a racing update of the same row wins, which is as good). */
	if (!!(ad.flags & TS_WA_FLAG_BS) != data_flag(row->data, "bs")) {
		char data[TS_FACTOR_DATA_MAX], *bs = strstr(row->data, ";bs=");

		ts_strlcpy(data, row->data, sizeof(data));
		if (bs) {
			data[bs - row->data + 4] = (ad.flags & TS_WA_FLAG_BS) ? '1' : '0';
			if (SOPS(a)->factor_set_data(ST(a), row->id, row->data, data, ts_now()) == TS_OK)
				ts_strlcpy(row->data, data, sizeof(row->data));
		}
	}
	r = TS_OK;
out:
	ts_wa_credential_free(&cr);
	return r;
}

/* ---- the factor ops ---- */

static int
count_confirmed(void *arg, const ts_factor *f)
{
	*(int *)arg += f->confirmed;
	return 0;
}

/* The user holds a credential of this kind (the method names it at the
 * login; either kind's credential may answer, see wa_verify). */
static int
usable_kind(const ts_factor_ctx *c, ts_factor_kind k)
{
	int n = 0;

	if (SOPS(c->a)->factor_list(ST(c->a), c->user->id, (int)k, count_confirmed, &n) != TS_OK)
		return 0;
	return n > 0;
}

static int
passkey_usable(const ts_factor_ctx *c)
{
	return usable_kind(c, TS_FACTOR_PASSKEY);
}

static int
seckey_usable(const ts_factor_ctx *c)
{
	return usable_kind(c, TS_FACTOR_SECURITY_KEY);
}

/* Request options for a second factor; the ceremony is bound to the
 * login challenge. UV is not asked for: the password was the other
 * factor. */
static ts_err
wa_challenge_begin(const ts_factor_ctx *c, ts_factor_blob *out, int *retry_after)
{
	unsigned char ch[TS_WA_CHALLENGE_LEN];
	char binding[256];
	cred_set s;
	ts_wa_options o;
	ts_err r;

	*retry_after = 0;
	memset(out, 0, sizeof(*out));
	if (!c->challenge_hash)
		return TS_E_INVALID;
	if ((r = cred_set_load(c->a, c->user, c->tenant, &s)) != TS_OK)
		return r;
	if (s.n == 0)
		return TS_E_MFA_NOT_ENROLLED;
	snprintf(binding, sizeof(binding), "mfa %s", c->challenge_hash);
	if ((r = challenge_new(c->a, c->tenant->id, c->user->id, NULL, binding, ch,
	                       &out->expires_at)) != TS_OK)
		return r;
	memset(&o, 0, sizeof(o));
	o.rp_id = c->a->wa_rp_id;
	o.challenge = ch;
	o.challenge_len = sizeof(ch);
	o.creds = s.refs;
	o.n_creds = s.n;
	o.timeout_ms = (int64_t)TS_WA_CHALLENGE_TTL * 1000;
	out->json = ts_wa_request_options_json(&o);
	return out->json ? TS_OK : TS_E_NOMEM;
}

static const ts_factor_kind both_kinds[] = { TS_FACTOR_PASSKEY, TS_FACTOR_SECURITY_KEY };

static ts_err
wa_verify(const ts_factor_ctx *c, const ts_factor_answer *ans, ts_factor *used)
{
	char binding[256];
	ts_factor row;
	assert_in in;
	int found;
	ts_err r;

	if (!ans->credential || !c->challenge_hash)
		return TS_E_MFA_INVALID;
	snprintf(binding, sizeof(binding), "mfa %s", c->challenge_hash);
	in = (assert_in){ .tenant = c->tenant, .user_id = c->user->id, .binding = binding,
	                  .require_uv = 0, .kinds = both_kinds, .n_kinds = 2 };
	r = assertion_check(c->a, &in, ans->credential, ans->credential_len, &row, &found);
	if (r == TS_OK && used)
		*used = row;
	return r;
}

static const char *
kind_variant(ts_factor_kind k)
{
	return k == TS_FACTOR_PASSKEY ? "passkey" : "security_key";
}

/* Creation options (§5.4). Passkeys: resident key and UV required. */
static ts_err
enrol_begin_kind(const ts_factor_ctx *c, ts_factor_kind k, ts_factor_blob *out)
{
	unsigned char ch[TS_WA_CHALLENGE_LEN];
	char binding[64];
	cred_set s;
	ts_wa_options o;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!c->session)
		return TS_E_INVALID;
	/* excludeCredentials: every credential of the user, whatever kind */
	if ((r = cred_set_load(c->a, c->user, NULL, &s)) != TS_OK)
		return r;
	snprintf(binding, sizeof(binding), "reg %s", kind_variant(k));
	if ((r = challenge_new(c->a, c->tenant->id, c->user->id, c->session->id, binding, ch,
	                       &out->expires_at)) != TS_OK)
		return r;
	memset(&o, 0, sizeof(o));
	o.rp_id = c->a->wa_rp_id;
	o.rp_name = c->a->wa_rp_id;
	o.challenge = ch;
	o.challenge_len = sizeof(ch);
	/* The user handle is the user id: no personal data (§14.6.1). */
	o.user_id = (const unsigned char *)c->user->id;
	o.user_id_len = strlen(c->user->id);
	o.user_name = c->user->email;
	o.resident_key = k == TS_FACTOR_PASSKEY;
	o.uv_required = k == TS_FACTOR_PASSKEY;
	o.creds = s.refs;
	o.n_creds = s.n;
	o.timeout_ms = (int64_t)TS_WA_CHALLENGE_TTL * 1000;
	out->json = ts_wa_creation_options_json(&o);
	return out->json ? TS_OK : TS_E_NOMEM;
}

static ts_err
passkey_enrol_begin(const ts_factor_ctx *c, ts_factor_blob *out)
{
	return enrol_begin_kind(c, TS_FACTOR_PASSKEY, out);
}

static ts_err
seckey_enrol_begin(const ts_factor_ctx *c, ts_factor_blob *out)
{
	return enrol_begin_kind(c, TS_FACTOR_SECURITY_KEY, out);
}

static const char *
att_name(ts_wa_att_type t)
{
	switch (t) {
	case TS_WA_ATT_NONE: return "none";
	case TS_WA_ATT_SELF: return "self";
	case TS_WA_ATT_BASIC: return "basic";
	}
	return "none";
}

/* §7.1, from the client's answer to the row. */
static ts_err
enrol_finish_kind(const ts_factor_ctx *c, ts_factor_kind k, const ts_factor_answer *ans,
                  ts_factor_info *info)
{
	ts_wa_credential cr;
	ts_wa_attestation att;
	ts_wa_att_type att_type;
	ts_secret sec;
	ts_factor f, other;
	unsigned char cdh[32];
	char binding[64], key_b64[TS_WA_COSE_MAX * 4 / 3 + 4];
	int uv = k == TS_FACTOR_PASSKEY;
	ts_err r;

	if (!ans->credential || !c->session)
		return TS_E_MFA_INVALID;
	if (ts_wa_credential_parse(ans->credential, ans->credential_len, TS_WA_CREATE, &cr) != TS_OK)
		return TS_E_MFA_INVALID;
	memset(&f, 0, sizeof(f));
	/* steps 5-11; step 8: our challenge, for a registration of this kind
	 * by this session and user; spent now */
	snprintf(binding, sizeof(binding), "reg %s", kind_variant(k));
	if ((r = client_data_check(c->a, &cr, TS_WA_CREATE, binding, c->tenant->id, &sec)) != TS_OK)
		goto out;
	if (strcmp(sec.user_id, c->user->id) != 0 || strcmp(sec.session_id, c->session->id) != 0) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	/* step 12 */
	ts_sha256(cr.client_data, cr.client_data_len, cdh);
	/* step 13; step 20 (alg: only ES256, EdDSA and RS256 parse) */
	if (ts_wa_attestation_parse(cr.attestation_object, cr.attestation_object_len, &att) != TS_OK) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	/* steps 14-16: rpIdHash, UP, UV for passkeys (checked here for every
	 * format: "none" has no libfido2 call to do it) */
	{
		unsigned char want[32];

		ts_sha256(c->a->wa_rp_id, strlen(c->a->wa_rp_id), want);
		if (memcmp(want, att.auth.rp_id_hash, 32) != 0 ||
		    !(att.auth.flags & TS_WA_FLAG_UP) || (uv && !(att.auth.flags & TS_WA_FLAG_UV))) {
			r = TS_E_MFA_INVALID;
			goto out;
		}
	}
	/* step 17: BS without BE is no state */
	if ((att.auth.flags & TS_WA_FLAG_BS) && !(att.auth.flags & TS_WA_FLAG_BE)) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	/* the id the client names is the one the authenticator made */
	if (cr.raw_id_len != att.auth.cred_id_len ||
	    memcmp(cr.raw_id, att.auth.cred_id, cr.raw_id_len) != 0) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	/* steps 21-22: fmt "none" or "packed", the statement verified */
	if (ts_wa_attestation_verify(&att, cdh, c->a->wa_rp_id, uv, &att_type) != TS_OK) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	/* steps 23-24: no trust anchors are configured, so every attestation
	 * that verified is accepted as it is: none and self prove nothing
	 * about the make, basic is recorded as unverified (docs/FACTORS.md). */
	/* step 25: at most 1023 bytes (ts_wa_authdata_parse); step 26: not
	 * registered yet, under either kind (the store refuses a second row
	 * of one kind; the other kind is looked at here) */
	ts_b64url_encode(att.auth.cred_id, att.auth.cred_id_len, f.lookup);
	r = SOPS(c->a)->factor_find(ST(c->a), c->tenant->id,
	                            k == TS_FACTOR_PASSKEY ? TS_FACTOR_SECURITY_KEY : TS_FACTOR_PASSKEY,
	                            f.lookup, &other);
	if (r == TS_OK) {
		r = TS_E_CONFLICT;
		goto out;
	}
	if (r != TS_E_NOT_FOUND)
		goto out;
	/* step 27: the credential record */
	ts_b64url_encode(att.auth.cose_key, att.auth.cose_key_len, key_b64);
	ts_uuid4(f.id);
	ts_strlcpy(f.tenant_id, c->tenant->id, sizeof(f.tenant_id));
	ts_strlcpy(f.user_id, c->user->id, sizeof(f.user_id));
	f.kind = (int)k;
	ts_strlcpy(f.name, ans->name && *ans->name ? ans->name :
	                   (k == TS_FACTOR_PASSKEY ? "Passkey" : "Security key"), sizeof(f.name));
	snprintf(f.data, sizeof(f.data), "alg=%d;be=%d;bs=%d;att=%s;tr=%s;key=%s", (int)att.auth.key.alg,
	         !!(att.auth.flags & TS_WA_FLAG_BE), !!(att.auth.flags & TS_WA_FLAG_BS),
	         att_name(att_type), cr.transports, key_b64);
	f.confirmed = 1;
	f.counter = att.auth.sign_count;
	f.created_at = c->now ? c->now : ts_now();
	r = SOPS(c->a)->factor_put(ST(c->a), &f);
	if (r != TS_OK)
		goto out;
	ts_audit(c->a, "webauthn_registered", "user", f.user_id, "factor", f.id, "kind",
	         kind_variant(k), "attestation", att_name(att_type), NULL);
	if (info) {
		memset(info, 0, sizeof(*info));
		ts_strlcpy(info->id, f.id, sizeof(info->id));
		info->method = k == TS_FACTOR_PASSKEY ? ts_factor_passkey.name : ts_factor_security_key.name;
		ts_strlcpy(info->name, f.name, sizeof(info->name));
		info->created_at = f.created_at;
		info->remaining = -1;
	}
out:
	ts_wa_credential_free(&cr);
	return r;
}

static ts_err
passkey_enrol_finish(const ts_factor_ctx *c, const ts_factor_answer *ans, ts_factor_info *out)
{
	return enrol_finish_kind(c, TS_FACTOR_PASSKEY, ans, out);
}

static ts_err
seckey_enrol_finish(const ts_factor_ctx *c, const ts_factor_answer *ans, ts_factor_info *out)
{
	return enrol_finish_kind(c, TS_FACTOR_SECURITY_KEY, ans, out);
}

static void
wa_describe(const ts_factor *row, ts_factor_info *out)
{
	(void)row;
	out->remaining = -1;
}

/* RFC 8176: "hwk", proof of possession of a hardware-secured key. */
const ts_factor_ops ts_factor_passkey = {
	.kind = TS_FACTOR_PASSKEY,
	.name = "webauthn_passkey",
	.amr = "hwk",
	.flags = TS_FACTOR_F_MANY,
	.usable = passkey_usable,
	.enrol_begin = passkey_enrol_begin,
	.enrol_finish = passkey_enrol_finish,
	.challenge_begin = wa_challenge_begin,
	.verify = wa_verify,
	.describe = wa_describe,
};

const ts_factor_ops ts_factor_security_key = {
	.kind = TS_FACTOR_SECURITY_KEY,
	.name = "webauthn_fido",
	.amr = "hwk",
	.flags = TS_FACTOR_F_MANY,
	.usable = seckey_usable,
	.enrol_begin = seckey_enrol_begin,
	.enrol_finish = seckey_enrol_finish,
	.challenge_begin = wa_challenge_begin,
	.verify = wa_verify,
	.describe = wa_describe,
};

const char *
ts_webauthn_method(const char *kind)
{
	if (kind && strcmp(kind, "passkey") == 0)
		return ts_factor_passkey.name;
	if (kind && strcmp(kind, "security_key") == 0)
		return ts_factor_security_key.name;
	return NULL;
}

/* ---- the engine's calls for faces ---- */

ts_err
ts_auth_webauthn_mfa_options(ts_auth *a, const char *challenge_id, ts_factor_blob *out,
                             int *retry_after)
{
	/* Either factor's options list every credential the user may use;
	 * the first the user can use is asked. */
	ts_err r = ts_auth_factor_challenge_begin(a, challenge_id, ts_factor_passkey.name, out,
	                                          retry_after);

	if (r == TS_E_MFA_NOT_ENROLLED)
		r = ts_auth_factor_challenge_begin(a, challenge_id, ts_factor_security_key.name, out,
		                                   retry_after);
	return r;
}

ts_err
ts_auth_passkey_options(ts_auth *a, const ts_tenant_hints *h, const char *client_ip,
                        char id[TS_ID_SZ], ts_factor_blob *out, int *retry_after)
{
	unsigned char ch[TS_WA_CHALLENGE_LEN];
	char binding[256], hash[TS_HASH_SZ];
	const char *ip = client_ip ? client_ip : "";
	ts_tenant t;
	ts_wa_options o;
	ts_err r;

	memset(out, 0, sizeof(*out));
	id[0] = '\0';
	/* A sign-in without a password is a sign-in attempt all the same: the
	 * per-address limit of password attempts counts it, which also bounds
	 * the ceremony rows an address can make. */
	if ((*retry_after = ts_limiter_take(a->rl_ip, ip, strlen(ip), ts_mono_us())) > 0) {
		ts_log_event(TS_LOG_INFO, "login_throttled", "ip", ip, "method", "passkey", "reason",
		             ts_why_word(TS_WHY_RATE_ADDRESS), NULL);
		return TS_E_RATE_LIMITED;
	}
	if ((r = ts_auth_request_tenant(a, h, 1, &t)) != TS_OK)
		return r;
	if (!kind_allowed(&t, TS_FACTOR_PASSKEY))
		return TS_E_MFA_NOT_ENROLLED;
	/* The handle is random and kept hashed, like a login challenge's. */
	ts_uuid4(id);
	ts_secret_hash(id, strlen(id), hash);
	snprintf(binding, sizeof(binding), "login %s", hash);
	if ((r = challenge_new(a, t.id, NULL, NULL, binding, ch, &out->expires_at)) != TS_OK) {
		id[0] = '\0';
		return r;
	}
	memset(&o, 0, sizeof(o));
	o.rp_id = a->wa_rp_id;
	o.challenge = ch;
	o.challenge_len = sizeof(ch);
	o.uv_required = 1;
	o.timeout_ms = (int64_t)TS_WA_CHALLENGE_TTL * 1000;
	out->json = ts_wa_request_options_json(&o);
	return out->json ? TS_OK : TS_E_NOMEM;
}

/* The tenant of a passwordless ceremony, from the challenge its client
 * data names (peeked at, not spent: assertion_check spends it). */
static ts_err
passkey_ceremony_tenant(ts_auth *a, const char *credential, size_t len, const char *binding,
                        ts_tenant *t)
{
	ts_wa_credential cr;
	ts_wa_client_data cd;
	ts_secret sec;
	char b64[TS_WA_CHALLENGE_MAX * 2], hash[TS_HASH_SZ];
	ts_err r = TS_E_MFA_INVALID;

	if (ts_wa_credential_parse(credential, len, TS_WA_GET, &cr) != TS_OK)
		return TS_E_MFA_INVALID;
	if (ts_wa_client_data_parse(cr.client_data, cr.client_data_len, &cd) != TS_OK ||
	    cd.challenge_len != TS_WA_CHALLENGE_LEN)
		goto out;
	ts_b64url_encode(cd.challenge, cd.challenge_len, b64);
	ts_secret_hash(b64, strlen(b64), hash);
	r = SOPS(a)->secret_get(ST(a), TS_SECRET_WEBAUTHN, hash, &sec);
	if (r == TS_E_NOT_FOUND || (r == TS_OK && strcmp(sec.data, binding) != 0)) {
		r = TS_E_MFA_INVALID;
		goto out;
	}
	if (r != TS_OK)
		goto out;
	r = ts_auth_tenant_by_id(a, sec.tenant_id, t);
	if (r == TS_E_NOT_FOUND)
		r = TS_E_MFA_INVALID;
out:
	ts_wa_credential_free(&cr);
	return r;
}

ts_err
ts_auth_passkey_login(ts_auth *a, const char *challenge_id, const char *credential,
                      size_t credential_len, ts_tokens *out, ts_user *u, ts_tenant *t,
                      int *retry_after)
{
	static const ts_factor_kind passkeys[] = { TS_FACTOR_PASSKEY };
	char binding[256], hash[TS_HASH_SZ];
	ts_factor row;
	assert_in in;
	int found = 0;
	ts_err r;

	*retry_after = 0;
	memset(u, 0, sizeof(*u));
	/* A handle that names no ceremony is one more wrong answer. */
	if (!challenge_id || !ts_is_uuid(challenge_id) || !credential)
		return TS_E_MFA_INVALID;
	ts_secret_hash(challenge_id, strlen(challenge_id), hash);
	snprintf(binding, sizeof(binding), "login %s", hash);
	if ((r = passkey_ceremony_tenant(a, credential, credential_len, binding, t)) != TS_OK)
		return r;
	in = (assert_in){ .tenant = t, .user_id = NULL, .binding = binding, .require_uv = 1,
	                  .kinds = passkeys, .n_kinds = 1 };
	r = assertion_check(a, &in, credential, credential_len, &row, &found);
	if (found) {
		ts_err ur = SOPS(a)->user_by_id(ST(a), row.user_id, u);

		if (ur != TS_OK)
			return ur == TS_E_NOT_FOUND ? TS_E_MFA_INVALID : ur;
		memset(u->password_hash, 0, sizeof(u->password_hash));
		/* A locked second factor stays locked whatever the answer (the
		 * ceremony is spent all the same). */
		if (ts_mfa_admit(a, u, retry_after) == TS_E_LOCKED)
			return TS_E_LOCKED;
		if (r == TS_E_MFA_INVALID) {
			ts_mfa_failed(a, u, "webauthn_passkey", 0);
			ts_audit(a, "passkey_login_failed", "user", u->id, NULL);
		}
	}
	if (r != TS_OK)
		return r;
	if (u->is_disabled)
		return TS_E_MFA_INVALID;
	ts_mfa_passed(a, u);
	ts_audit(a, "passkey_login", "user", u->id, "factor", row.id, NULL);
	/* RFC 8176: a hardware key, user presence, and (UV) more than one
	 * factor. */
	return ts_auth_start_session(a, u, TS_SESSION_FULL, "hwk user mfa", TS_ACCESS_JWT, out);
}

ts_err
ts_auth_webauthn_register(ts_auth *a, const ts_principal *p, const ts_factor_answer *ans,
                          ts_factor_info *out, int *retry_after)
{
	ts_wa_credential cr;
	ts_wa_client_data cd;
	ts_secret sec;
	char b64[TS_WA_CHALLENGE_MAX * 2], hash[TS_HASH_SZ];
	const char *method = NULL;
	ts_err r;

	*retry_after = 0;
	if (!ans->credential ||
	    ts_wa_credential_parse(ans->credential, ans->credential_len, TS_WA_CREATE, &cr) != TS_OK)
		return TS_E_MFA_INVALID;
	/* Which kind the ceremony was begun for: its challenge says. */
	if (ts_wa_client_data_parse(cr.client_data, cr.client_data_len, &cd) == TS_OK &&
	    cd.challenge_len == TS_WA_CHALLENGE_LEN) {
		ts_b64url_encode(cd.challenge, cd.challenge_len, b64);
		ts_secret_hash(b64, strlen(b64), hash);
		if (SOPS(a)->secret_get(ST(a), TS_SECRET_WEBAUTHN, hash, &sec) == TS_OK &&
		    strncmp(sec.data, "reg ", 4) == 0)
			method = ts_webauthn_method(sec.data + 4);
	}
	ts_wa_credential_free(&cr);
	if (!method)
		return TS_E_MFA_INVALID;
	r = ts_auth_factor_enrol_finish(a, p, method, ans, out, retry_after);
	return r;
}
