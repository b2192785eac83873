/* Sessions and the tokens that speak for them: JWT (or opaque) access
 * tokens, rotating refresh tokens with reuse detection, bearer checks. */
#include <stdio.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/b64url.h"
#include "crypto/hash.h"
#include "crypto/jwt_claims.h"

static const char *
scope_name(int kind)
{
	return kind == TS_SESSION_ENROLL ? "enroll" : "full";
}

/* An enrolment-only token's audience: "<audience>:enroll". A relying party
 * that validates a login token the standard way (signature, iss, aud ==
 * its audience) refuses it, so it cannot pass for a login (RFC 8725 §3.9,
 * "use and validate audience"; §3.11 asks that kinds of JWT be told apart).
 * Returns 0 if it did not fit. */
#define ENROLL_AUD_SUFFIX ":enroll"
static int
audience_of(ts_auth *a, int kind, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s%s", a->audience,
	                 kind == TS_SESSION_ENROLL ? ENROLL_AUD_SUFFIX : "");

	return n > 0 && (size_t)n < cap;
}

/* The session kind an aud claim names: TS_SESSION_FULL or
 * TS_SESSION_ENROLL, or -1 for an audience that is not ours. */
static int
kind_of_audience(ts_auth *a, const char *aud)
{
	size_t n = strlen(a->audience);

	if (strcmp(aud, a->audience) == 0)
		return TS_SESSION_FULL;
	if (strncmp(aud, a->audience, n) == 0 && strcmp(aud + n, ENROLL_AUD_SUFFIX) == 0)
		return TS_SESSION_ENROLL;
	return -1;
}

static ts_err
issue_jwt(ts_auth *a, const ts_session *s, int64_t now, int64_t exp, int force_reload,
          ts_tokens *out)
{
	ts_jwt_claims c;
	char payload[1024];
	unsigned char jti[16];
	ts_err r;

	memset(&c, 0, sizeof(c));
	ts_strlcpy(c.iss, a->issuer, sizeof(c.iss));
	ts_strlcpy(c.sub, s->user_id, sizeof(c.sub));
	if (!audience_of(a, s->kind, c.aud, sizeof(c.aud)))
		return TS_E_INTERNAL;
	ts_strlcpy(c.tid, s->tenant_id, sizeof(c.tid));
	ts_strlcpy(c.sid, s->id, sizeof(c.sid));
	ts_strlcpy(c.scope, scope_name(s->kind), sizeof(c.scope));
	ts_strlcpy(c.amr, s->amr, sizeof(c.amr));
	ts_random(jti, sizeof(jti));
	for (size_t i = 0; i < sizeof(jti); i++)
		snprintf(c.jti + 2 * i, 3, "%02x", jti[i]);
	c.iat = now;
	c.exp = exp;
	if ((r = ts_jwt_claims_encode(&c, payload, sizeof(payload))) != TS_OK)
		return r;
	return ts_keys_sign(a, payload, force_reload, out->access, sizeof(out->access));
}

/* Stores the hash of text, a secret of session s, as a secret of kind. */
static ts_err
put_session_secret(ts_auth *a, const ts_session *s, int kind, const char *text, int64_t now,
                   int64_t exp)
{
	ts_secret sec;

	memset(&sec, 0, sizeof(sec));
	ts_secret_hash(text, strlen(text), sec.hash);
	sec.kind = kind;
	ts_strlcpy(sec.tenant_id, s->tenant_id, sizeof(sec.tenant_id));
	ts_strlcpy(sec.user_id, s->user_id, sizeof(sec.user_id));
	ts_strlcpy(sec.session_id, s->id, sizeof(sec.session_id));
	sec.created_at = now;
	sec.expires_at = exp;
	return SOPS(a)->secret_put(ST(a), &sec);
}

/* An opaque access token (px0's uuid-shaped one): only its hash is kept. */
static ts_err
issue_opaque(ts_auth *a, const ts_session *s, int64_t now, int64_t exp, ts_tokens *out)
{
	ts_secret_new_uuidlike(out->access);
	return put_session_secret(a, s, TS_SECRET_ACCESS, out->access, now, exp);
}

static ts_err
issue_refresh(ts_auth *a, const ts_session *s, int64_t now, ts_tokens *out)
{
	int64_t exp = now + a->cfg.refresh_ttl;

	ts_secret_new(out->refresh);
	return put_session_secret(a, s, TS_SECRET_REFRESH, out->refresh, now,
	                          exp < s->expires_at ? exp : s->expires_at);
}

ts_err
ts_tokens_issue(ts_auth *a, const ts_session *s, int access_kind, int with_refresh,
                int force_reload, ts_tokens *out)
{
	int64_t now = ts_now();
	int64_t exp = now + a->cfg.access_ttl;
	ts_err r;

	memset(out, 0, sizeof(*out));
	/* An access token never outlives its session. */
	if (exp > s->expires_at)
		exp = s->expires_at;
	if (access_kind == TS_ACCESS_OPAQUE)
		r = issue_opaque(a, s, now, exp, out);
	else
		r = issue_jwt(a, s, now, exp, force_reload, out);
	if (r != TS_OK)
		return r;
	if (with_refresh && (r = issue_refresh(a, s, now, out)) != TS_OK)
		return r;
	out->access_expires_at = exp;
	out->expires_in = exp - now;
	out->scope = s->kind;
	ts_strlcpy(out->session_id, s->id, sizeof(out->session_id));
	return TS_OK;
}

/* The longest prefix of in that fits cap bytes (NUL included) without
 * cutting a UTF-8 sequence; controls become spaces. */
static void
utf8_prefix(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in);

	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)in[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)in[i] < 0x20 || in[i] == 0x7f ? ' ' : in[i];
	out[n] = '\0';
	if (!ts_utf8_valid(out, n))
		out[0] = '\0';
}

/* Creates a session of kind for u lasting lifetime seconds and issues its
 * tokens (a refresh token only if with_refresh). */
static ts_err
start_session(ts_auth *a, const ts_user *u, int kind, const char *amr, int access_kind,
              int64_t lifetime, int with_refresh, const ts_client *cl, ts_tokens *out)
{
	ts_session s;
	int64_t now = ts_now();
	ts_err r;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	ts_uuid4(s.id);
	ts_strlcpy(s.tenant_id, u->tenant_id, sizeof(s.tenant_id));
	ts_strlcpy(s.user_id, u->id, sizeof(s.user_id));
	s.kind = kind;
	ts_strlcpy(s.amr, amr ? amr : "pwd", sizeof(s.amr));
	s.created_at = now;
	s.expires_at = now + lifetime;
	s.last_used_at = now;
	if (cl && cl->ip)
		ts_strlcpy(s.ip, cl->ip, sizeof(s.ip));
	if (cl && cl->user_agent)
		utf8_prefix(cl->user_agent, s.user_agent, sizeof(s.user_agent));
	if ((r = SOPS(a)->session_create(ST(a), &s)) != TS_OK)
		return r;
	r = ts_tokens_issue(a, &s, access_kind, with_refresh, 1, out);
	if (r == TS_OK)
		ts_audit(a, "session_start", "session", s.id, "user", u->id,
		             "tenant", u->tenant_id, "amr", s.amr, "refresh",
		             with_refresh ? "yes" : "none", NULL);
	return r;
}

ts_err
ts_auth_start_session_client(ts_auth *a, const ts_user *u, int kind, const char *amr,
                             int access_kind, const ts_client *cl, ts_tokens *out)
{
	/* Enrolment sessions are short: just long enough to set up a factor,
	 * and have no refresh token. */
	if (kind == TS_SESSION_ENROLL)
		return start_session(a, u, kind, amr, access_kind, a->cfg.challenge_ttl * 2, 0, cl,
		                     out);
	return start_session(a, u, kind, amr, access_kind, a->cfg.session_ttl, 1, cl, out);
}

ts_err
ts_auth_start_session(ts_auth *a, const ts_user *u, int kind, const char *amr,
                      int access_kind, ts_tokens *out)
{
	return ts_auth_start_session_client(a, u, kind, amr, access_kind, NULL, out);
}

/* For the contracts that have no refresh token (000 admin, 003 px0): no
 * refresh secret is made that nobody could ever present, and the session
 * ends with its only token. */
ts_err
ts_auth_start_session_access(ts_auth *a, const ts_user *u, const char *amr,
                             int access_kind, ts_tokens *out)
{
	return start_session(a, u, TS_SESSION_FULL, amr, access_kind, a->cfg.access_ttl, 0, NULL,
	                     out);
}

/* What ends a session for its tokens: a revocation, its absolute end, a
 * disabled user. The user's password hash is wiped from *u on the way. */
static ts_err
session_usable(const ts_session *s, ts_user *u, int64_t now)
{
	memset(u->password_hash, 0, sizeof(u->password_hash));
	if (s->revoked_at)
		return TS_E_SESSION_REVOKED;
	if (s->expires_at <= now)
		return TS_E_TOKEN_EXPIRED;
	if (u->is_disabled)
		return TS_E_SESSION_REVOKED;
	return TS_OK;
}

/* Loads a live session with its user and tenant; revoked, expired and
 * disabled all end the session's use. */
static ts_err
live_session(ts_auth *a, const char *sid, int64_t now, ts_session *s, ts_user *u, ts_tenant *t)
{
	ts_err r;

	if ((r = SOPS(a)->session_principal(ST(a), sid, s, u, t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	return session_usable(s, u, now);
}

/* The successor of a refresh token: HMAC-SHA256 under a subkey of the key
 * file's key (seal.h) of a label and the token. Deterministic, so a retry
 * of a refresh whose answer was lost gets the very token the first answer
 * carried, and nothing but its hash is stored: the parent itself is never
 * stored, so a database dump (or one without the key file) cannot derive
 * any successor. */
#define SUCCESSOR_LABEL "tessera refresh successor"
static void
successor_of(ts_auth *a, const char *parent, char next[TS_SECRET_TEXT_LEN + 1])
{
	unsigned char msg[sizeof(SUCCESSOR_LABEL) - 1 + TS_SECRET_TEXT_LEN];
	unsigned char mac[TS_SHA256_LEN];

	memcpy(msg, SUCCESSOR_LABEL, sizeof(SUCCESSOR_LABEL) - 1);
	memcpy(msg + sizeof(SUCCESSOR_LABEL) - 1, parent, TS_SECRET_TEXT_LEN);
	ts_hmac_sha256(a->successor_key, sizeof(a->successor_key), msg, sizeof(msg), mac);
	ts_b64url_encode(mac, sizeof(mac), next);
	ts_wipe(msg, sizeof(msg));
	ts_wipe(mac, sizeof(mac));
}

/* A spent parent presented again: TS_OK when it was spent at most
 * refresh_reuse_interval seconds ago and its successor is still the live
 * token of the same session (never rotated, not expired), so the caller
 * may hand that successor out again. Anything else is a reuse: a
 * grandparent (the successor was rotated already) is refused even inside
 * the interval, since the client that rotated it holds a newer token. */
static ts_err
successor_still_live(ts_auth *a, const ts_secret *parent, const char *next_hash, int64_t now)
{
	ts_secret succ;
	ts_err r;

	if (a->cfg.refresh_reuse_interval <= 0 || !parent->used_at ||
	    now - parent->used_at > a->cfg.refresh_reuse_interval)
		return TS_E_TOKEN_REUSED;
	if ((r = SOPS(a)->secret_get(ST(a), TS_SECRET_REFRESH, next_hash, &succ)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_REUSED : r;
	if (succ.used_at || succ.expires_at <= now ||
	    strcmp(succ.session_id, parent->session_id) != 0)
		return TS_E_TOKEN_REUSED;
	return TS_OK;
}

/* Rotation of a refresh token bound to expect (NULL: any tenant). */
static ts_err
refresh_rotate(ts_auth *a, const char *refresh, const ts_tenant *expect, ts_tokens *out,
               ts_user *u, ts_tenant *t)
{
	ts_secret sec;
	ts_session s = { 0 };
	char hash[TS_HASH_SZ], next_hash[TS_HASH_SZ];
	char next[TS_SECRET_TEXT_LEN + 1] = "";
	int64_t now = ts_now();
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!refresh || strlen(refresh) != TS_SECRET_TEXT_LEN)
		return TS_E_TOKEN_INVALID;
	ts_secret_hash(refresh, TS_SECRET_TEXT_LEN, hash);
	/* The session is checked before the token is spent: once it is spent,
	 * racing twins of this request are retries (or, outside the reuse
	 * interval, reuse that revokes the session), and the one that won
	 * must still get its pair. A revocation that lands after the check
	 * spends the new token too (session_revoke). */
	/* The token and its session in one read. */
	if ((r = SOPS(a)->secret_principal(ST(a), TS_SECRET_REFRESH, hash, &sec, &s, u,
	                                   t)) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	/* Another tenant's token is refused before anything is spent, so a
	 * request aimed at the wrong tenant costs its owner nothing. */
	if (expect && strcmp(expect->id, sec.tenant_id) != 0)
		return TS_E_TENANT_MISMATCH;
	if (!sec.used_at && sec.expires_at <= now)
		return TS_E_TOKEN_INVALID;
	/* A session already ended (logout, disable, a new password) spent its
	 * tokens itself: that is session_revoked, not a leak. Only a spent
	 * token of a live session is a reuse, which rotation reports. */
	if (!s.id[0])
		return TS_E_TOKEN_INVALID;
	if ((r = session_usable(&s, u, now)) != TS_OK)
		return r;
	/* The successor is known up front so that spending the old token and
	 * storing the new one is a single transaction, and single use holds
	 * however many race: exactly one rotation happens. */
	successor_of(a, refresh, next);
	ts_secret_hash(next, TS_SECRET_TEXT_LEN, next_hash);
	r = SOPS(a)->secret_rotate(ST(a), TS_SECRET_REFRESH, hash, now, next_hash,
	                           now + a->cfg.refresh_ttl, &sec);
	if (r == TS_E_TOKEN_REUSED) {
		/* A retry within the interval (the winner's transaction has
		 * committed: its used_at is what we read) gets the same
		 * successor with a fresh access token. */
		if ((r = successor_still_live(a, &sec, next_hash, now)) == TS_OK) {
			ts_log_event(TS_LOG_INFO, "refresh_retry", "session", sec.session_id,
			             "user", sec.user_id, NULL);
			goto issue;
		}
		if (r != TS_E_TOKEN_REUSED)
			goto out;
		/* RFC 6819 §5.2.2.3 / OAuth 2.1 §4.3.1: a spent refresh token
		 * coming back means it leaked; end the session it belongs to. */
		(void)SOPS(a)->session_revoke(ST(a), sec.session_id, now);
		ts_audit_warn(a, "refresh_reuse", "session", sec.session_id,
		             "user", sec.user_id, NULL);
		r = TS_E_TOKEN_REUSED;
		goto out;
	}
	if (r != TS_OK) {
		r = r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
		goto out;
	}
issue:
	if ((r = ts_tokens_issue(a, &s, TS_ACCESS_JWT, 0, 0, out)) != TS_OK)
		goto out;
	memcpy(out->refresh, next, sizeof(next));
out:
	ts_wipe(next, sizeof(next));
	return r;
}

ts_err
ts_auth_refresh(ts_auth *a, const char *refresh, ts_tokens *out, ts_user *u, ts_tenant *t)
{
	return refresh_rotate(a, refresh, NULL, out, u, t);
}

ts_err
ts_auth_refresh_for(ts_auth *a, const char *refresh, const ts_tenant_hints *h, ts_tokens *out,
                    ts_user *u, ts_tenant *t)
{
	ts_tenant expect;
	int named;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if ((r = ts_request_expect(a, h, &expect, &named)) != TS_OK)
		return r;
	return refresh_rotate(a, refresh, named ? &expect : NULL, out, u, t);
}

/* An opaque access token: 36 characters in uuid shape. */
static ts_err
check_opaque(ts_auth *a, const char *token, int64_t now, char sid[TS_ID_SZ], int64_t *exp)
{
	ts_secret sec;
	char hash[TS_HASH_SZ];
	ts_err r;

	ts_secret_hash(token, strlen(token), hash);
	r = SOPS(a)->secret_get(ST(a), TS_SECRET_ACCESS, hash, &sec);
	if (r != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_E_TOKEN_INVALID : r;
	if (sec.used_at)
		return TS_E_SESSION_REVOKED;   /* spent by the session's revocation */
	if (sec.expires_at <= now)
		return TS_E_TOKEN_EXPIRED;
	ts_strlcpy(sid, sec.session_id, TS_ID_SZ);
	*exp = sec.expires_at;
	return TS_OK;
}

/* *kind gets the session kind the token's audience names. Only full tokens
 * go into the verified-token cache, so a hit is always a full one. */
static ts_err
check_jwt(ts_auth *a, const char *token, int64_t now, char sid[TS_ID_SZ], char tid[TS_ID_SZ],
          int64_t *exp, int *kind)
{
	ts_jws_parts p;
	ts_jwt_claims c;
	char kid[TS_KID_MAX];
	ts_err r;

	*kind = TS_SESSION_FULL;
	if (ts_tokcache_get(a->verified, token, now, sid, tid, kid, exp) && ts_keys_trusted(a, kid))
		return TS_OK;
	if ((r = ts_keys_verify(a, token, &p, kid)) != TS_OK)
		return r;
	r = ts_jwt_claims_decode(p.payload, &c);
	ts_jws_parts_free(&p);
	if (r != TS_OK)
		return r;
	if (strcmp(c.iss, a->issuer) != 0 || (*kind = kind_of_audience(a, c.aud)) < 0)
		return TS_E_TOKEN_INVALID;
	if (c.exp <= now)
		return TS_E_TOKEN_EXPIRED;
	if (c.iat > now + 60)
		return TS_E_TOKEN_INVALID;   /* from the future, beyond clock skew */
	if (!ts_is_uuid(c.sid) || !ts_is_uuid(c.tid))
		return TS_E_TOKEN_INVALID;
	ts_strlcpy(sid, c.sid, TS_ID_SZ);
	ts_strlcpy(tid, c.tid, TS_ID_SZ);
	*exp = c.exp;
	if (*kind == TS_SESSION_FULL)
		ts_tokcache_put(a->verified, token, sid, tid, kid, c.exp);
	return TS_OK;
}

ts_err
ts_auth_check_token(ts_auth *a, const char *token, const ts_tenant *expect_tenant,
                    ts_principal *out)
{
	char sid[TS_ID_SZ] = "", tid[TS_ID_SZ] = "";
	int64_t now = ts_now();
	int kind = -1;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if (!token || !*token || strlen(token) >= TS_JWT_MAX)
		return TS_E_TOKEN_INVALID;
	if (strlen(token) == TS_UUID_LEN && !strchr(token, '.'))
		r = check_opaque(a, token, now, sid, &out->expires_at);
	else
		r = check_jwt(a, token, now, sid, tid, &out->expires_at, &kind);
	if (r != TS_OK)
		return r;
	if ((r = live_session(a, sid, now, &out->session, &out->user, &out->tenant)) != TS_OK)
		return r;
	/* The claim and the session must agree on the tenant. */
	if (*tid && strcmp(tid, out->session.tenant_id) != 0)
		return TS_E_TOKEN_INVALID;
	/* A JWT's audience and its session must agree on the kind. */
	if (kind >= 0 && kind != out->session.kind)
		return TS_E_TOKEN_INVALID;
	if (expect_tenant && strcmp(expect_tenant->id, out->session.tenant_id) != 0)
		return TS_E_TENANT_MISMATCH;
	out->scope = out->session.kind;
	return TS_OK;
}

ts_err
ts_auth_logout_refresh(ts_auth *a, const char *refresh, const ts_tenant_hints *h)
{
	ts_secret sec;
	ts_tenant expect;
	char hash[TS_HASH_SZ];
	int named;
	ts_err r;

	if ((r = ts_request_expect(a, h, &expect, &named)) != TS_OK)
		return r;
	/* RFC 7009 §2.2: an invalid token is no error; there is nothing left
	 * to end, and the caller learns nothing about tokens it does not hold. */
	if (!refresh || strlen(refresh) != TS_SECRET_TEXT_LEN)
		return TS_OK;
	ts_secret_hash(refresh, TS_SECRET_TEXT_LEN, hash);
	r = SOPS(a)->secret_get(ST(a), TS_SECRET_REFRESH, hash, &sec);
	if (r == TS_E_NOT_FOUND)
		return TS_OK;
	if (r != TS_OK)
		return r;
	/* As for a refresh: a request naming another tenant ends nothing. */
	if (named && strcmp(expect.id, sec.tenant_id) != 0)
		return TS_E_TENANT_MISMATCH;
	/* Spent or expired, the token still names its session: whoever holds
	 * it could end the session by replaying it on refresh anyway. */
	if ((r = SOPS(a)->session_revoke(ST(a), sec.session_id, ts_now())) != TS_OK)
		return r == TS_E_NOT_FOUND ? TS_OK : r;
	ts_audit(a, "logout", "session", sec.session_id, "user", sec.user_id,
	             "by", "refresh_token", NULL);
	return TS_OK;
}

ts_err
ts_auth_logout(ts_auth *a, const ts_principal *p)
{
	ts_err r = SOPS(a)->session_revoke(ST(a), p->session.id, ts_now());

	if (r == TS_OK)
		ts_audit(a, "logout", "session", p->session.id, "user",
		             p->user.id, NULL);
	return r;
}
