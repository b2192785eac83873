/* Signing keys: kept in the store, cached here, rotated by the CLI. The
 * newest unretired key signs; retired keys stay published (and accepted)
 * until publish_until, by when every token they signed has expired. */
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/b64url.h"
#include "crypto/hash.h"
#include "crypto/jwt_claims.h"

/* How stale the cache may get on paths that do not force a reload. */
#define KEYS_RELOAD_US (1000 * 1000)

static void
ring_clear(ts_loaded_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ts_key_free(keys[i].key);
	free(keys);
}

typedef struct load_ctx {
	ts_auth *a;
	ts_loaded_key *keys;
	size_t n, cap;
	ts_err err;
} load_ctx;

/* Reuses an already parsed key (parsing PEM is the slow part). */
static ts_key *
steal_loaded(ts_auth *a, const char *kid)
{
	for (size_t i = 0; i < a->ring.n; i++) {
		if (a->ring.keys[i].key && strcmp(a->ring.keys[i].kid, kid) == 0) {
			ts_key *k = a->ring.keys[i].key;
			a->ring.keys[i].key = NULL;
			return k;
		}
	}
	return NULL;
}

static int
load_one(void *arg, const ts_signing_key *sk)
{
	load_ctx *c = arg;
	int64_t now = ts_now();
	ts_key *k;
	int alg;

	/* The rotating process (often the CLI) may not know this server's
	 * token lifetime: a retired key stays at least until every token this
	 * server signed with it has expired. */
	int64_t until = sk->publish_until;
	if (sk->retired_at && until && until < sk->retired_at + c->a->cfg.access_ttl + 60)
		until = sk->retired_at + c->a->cfg.access_ttl + 60;
	if (until && until <= now)
		return 0;   /* expired from the JWKS: no token of it is valid */
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 4;
		ts_loaded_key *nk = realloc(c->keys, ncap * sizeof(*nk));
		if (!nk) {
			c->err = TS_E_NOMEM;
			return 1;
		}
		c->keys = nk;
		c->cap = ncap;
	}
	k = steal_loaded(c->a, sk->kid);
	if (!k) {
		alg = ts_alg_parse(sk->alg);
		if (alg < 0 || ts_key_from_pem((ts_alg)alg, sk->private_pem, &k) != TS_OK) {
			ts_error("signing key %s cannot be loaded; skipped", sk->kid);
			return 0;
		}
	}
	ts_loaded_key *lk = &c->keys[c->n++];
	memset(lk, 0, sizeof(*lk));
	ts_strlcpy(lk->kid, sk->kid, sizeof(lk->kid));
	lk->key = k;
	lk->created_at = sk->created_at;
	lk->retired_at = sk->retired_at;
	lk->publish_until = until;
	return 0;
}

/* Re-reads the keys from the store. Caller holds the write lock. */
static ts_err
ring_reload_locked(ts_auth *a)
{
	load_ctx c = { .a = a, .err = TS_OK };
	ts_err r = SOPS(a)->key_list(ST(a), load_one, &c);

	if (r == TS_OK)
		r = c.err;
	if (r != TS_OK) {
		ring_clear(c.keys, c.n);
		return r;
	}
	ring_clear(a->ring.keys, a->ring.n);
	a->ring.keys = c.keys;
	a->ring.n = c.n;
	a->ring.loaded_us = ts_mono_us();
	return TS_OK;
}

static ts_err
ring_reload(ts_auth *a, int force)
{
	ts_err r = TS_OK;

	pthread_rwlock_wrlock(&a->ring.lock);
	if (force || ts_mono_us() - a->ring.loaded_us >= KEYS_RELOAD_US)
		r = ring_reload_locked(a);
	pthread_rwlock_unlock(&a->ring.lock);
	return r;
}

/* The signer is the newest key that is not retired. */
static const ts_loaded_key *
ring_signer(const ts_auth *a)
{
	for (size_t i = 0; i < a->ring.n; i++)
		if (a->ring.keys[i].retired_at == 0)
			return &a->ring.keys[i];
	return NULL;
}

static const ts_loaded_key *
ring_find(const ts_auth *a, const char *kid)
{
	int64_t now = ts_now();

	for (size_t i = 0; i < a->ring.n; i++) {
		const ts_loaded_key *k = &a->ring.keys[i];
		if (strcmp(k->kid, kid) == 0)
			return (k->publish_until && k->publish_until <= now) ? NULL : k;
	}
	return NULL;
}

ts_err
ts_admin_keys_rotate(ts_store *s, ts_alg alg, int64_t access_ttl, char kid[TS_KID_MAX])
{
	ts_err r;
	ts_key *k = NULL;
	ts_signing_key sk;
	unsigned char raw[12];
	int64_t now = ts_now();

	memset(&sk, 0, sizeof(sk));
	ts_random(raw, sizeof(raw));
	ts_b64url_encode(raw, sizeof(raw), sk.kid);
	ts_strlcpy(sk.alg, ts_alg_name(alg), sizeof(sk.alg));
	sk.created_at = now;
	if ((r = ts_key_generate(alg, &k)) != TS_OK)
		goto out;
	if ((r = ts_key_private_pem(k, &sk.private_pem)) != TS_OK)
		goto out;
	if ((r = s->ops->key_add(s, &sk)) != TS_OK)
		goto out;
	/* Old keys stay published until every token they signed has expired;
	 * a small margin covers clock skew between nodes. */
	r = s->ops->key_retire_others(s, sk.kid, now, now + access_ttl + 60);
	if (r == TS_OK && kid)
		ts_strlcpy(kid, sk.kid, TS_KID_MAX);
out:
	if (sk.private_pem) {
		ts_wipe(sk.private_pem, strlen(sk.private_pem));
		free(sk.private_pem);
	}
	ts_key_free(k);
	return r;
}

ts_err
ts_keys_init(ts_auth *a)
{
	ts_err r;

	if (pthread_rwlock_init(&a->ring.lock, NULL) != 0)
		return TS_E_INTERNAL;
	if ((r = ring_reload(a, 1)) != TS_OK)
		goto fail;
	if (ring_signer(a))
		return TS_OK;
	/* A fresh store: make the first key. */
	if ((r = ts_admin_keys_rotate(ST(a), a->cfg.alg, a->cfg.access_ttl, NULL)) != TS_OK ||
	    (r = ring_reload(a, 1)) != TS_OK)
		goto fail;
	return TS_OK;
fail:
	ts_keys_free(a);
	return r;
}

void
ts_keys_free(ts_auth *a)
{
	ring_clear(a->ring.keys, a->ring.n);
	a->ring.keys = NULL;
	a->ring.n = 0;
	pthread_rwlock_destroy(&a->ring.lock);
}

ts_err
ts_keys_sign(ts_auth *a, const char *payload, int force_reload, char *out, size_t cap)
{
	const ts_loaded_key *k;
	ts_err r;

	/* A failed reload keeps the cached keys: signing goes on. */
	(void)ring_reload(a, force_reload);
	pthread_rwlock_rdlock(&a->ring.lock);
	k = ring_signer(a);
	r = k ? ts_jws_sign(k->key, k->kid, payload, out, cap) : TS_E_INTERNAL;
	pthread_rwlock_unlock(&a->ring.lock);
	return r;
}

/* Checks the header and signature with the key it names. Caller holds the
 * read lock. */
static ts_err
verify_locked(ts_auth *a, const ts_jws_parts *p, const char *alg, const char *kid)
{
	const ts_loaded_key *k = ring_find(a, kid);

	if (!k)
		return TS_E_NOT_FOUND;
	/* The key fixes the algorithm; the header's claim must agree (no
	 * "none", no algorithm confusion). */
	if (strcmp(alg, ts_alg_name(ts_key_alg(k->key))) != 0)
		return TS_E_TOKEN_INVALID;
	return ts_jws_verify(k->key, p);
}

ts_err
ts_keys_verify(ts_auth *a, const char *token, ts_jws_parts *parts)
{
	char alg[16], kid[TS_KID_MAX];
	ts_err r;

	memset(parts, 0, sizeof(*parts));
	if (ts_jws_split(token, parts) != TS_OK)
		return TS_E_TOKEN_INVALID;
	if (ts_jwt_header_decode(parts->header, alg, sizeof(alg), kid, sizeof(kid)) != TS_OK) {
		r = TS_E_TOKEN_INVALID;
		goto out;
	}
	pthread_rwlock_rdlock(&a->ring.lock);
	r = verify_locked(a, parts, alg, kid);
	pthread_rwlock_unlock(&a->ring.lock);
	if (r == TS_E_NOT_FOUND) {
		/* Perhaps a key another node just made; throttled, so junk kids
		 * cannot make us hammer the store. */
		(void)ring_reload(a, 0);
		pthread_rwlock_rdlock(&a->ring.lock);
		r = verify_locked(a, parts, alg, kid);
		pthread_rwlock_unlock(&a->ring.lock);
	}
	if (r != TS_OK)
		r = TS_E_TOKEN_INVALID;
out:
	if (r != TS_OK)
		ts_jws_parts_free(parts);
	return r;
}

ts_err
ts_auth_jwks(ts_auth *a, ts_jwk_cb cb, void *arg)
{
	ts_err r = TS_OK;

	(void)ring_reload(a, 0);
	pthread_rwlock_rdlock(&a->ring.lock);
	for (size_t i = 0; i < a->ring.n; i++) {
		ts_jwk j;
		const ts_loaded_key *k = &a->ring.keys[i];
		memset(&j, 0, sizeof(j));
		ts_strlcpy(j.kid, k->kid, sizeof(j.kid));
		j.alg = ts_alg_name(ts_key_alg(k->key));
		j.kty = ts_key_alg(k->key) == TS_ALG_ES256 ? "EC" : "OKP";
		if ((r = ts_key_public_jwk(k->key, &j.crv, j.x, j.y)) != TS_OK)
			break;
		if (cb(arg, &j))
			break;
	}
	pthread_rwlock_unlock(&a->ring.lock);
	return r;
}
