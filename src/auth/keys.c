/* Signing keys: kept in the store, cached here, rotated and revoked by the
 * CLI. A new key is published (JWKS, verification) at once but signs only
 * from its activate_at, by when every node and every JWKS cache has it; the
 * signer is the newest key whose activate_at has passed and which is not
 * retired yet. Retired keys stay published (and accepted) until
 * publish_until, by when every token they signed has expired. A revoked key
 * is dropped at once: from the JWKS, from verification and from the
 * verified-token cache (ts_keys_trusted). Every node sees a change within
 * TS_KEYS_CHECK_US of its next request (see ring_refresh).
 *
 * Private keys are stored sealed under the key file's key (crypto/seal.h,
 * the kid as associated data): a database dump alone cannot sign. A key
 * that does not open is never skipped quietly (that would make a new key
 * behind the operator's back): ts_keys_init refuses to start. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/b64url.h"
#include "crypto/hash.h"
#include "crypto/jwt_claims.h"

/* A private key's PEM (P-256: about 240 bytes, Ed25519: about 120). */
#define KEY_PEM_MAX 1024

static void
ring_clear(ts_loaded_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ts_key_free(keys[i].key);
	free(keys);
}

/* Whether a key with these times signs at now. */
static int
key_signs_at(int64_t activate_at, int64_t retired_at, int64_t now)
{
	return activate_at <= now && (retired_at == 0 || retired_at > now);
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

/* Gives the keys a failed reload took back to the ring they came from. */
static void
unsteal(ts_auth *a, load_ctx *c)
{
	for (size_t j = 0; j < c->n; j++)
		for (size_t i = 0; i < a->ring.n; i++)
			if (!a->ring.keys[i].key && strcmp(a->ring.keys[i].kid, c->keys[j].kid) == 0) {
				a->ring.keys[i].key = c->keys[j].key;
				c->keys[j].key = NULL;
				break;
			}
}

static int
load_one(void *arg, const ts_signing_key *sk)
{
	load_ctx *c = arg;
	int64_t now = ts_now();
	ts_key *k;
	int alg;

	if (sk->revoked_at)
		return 0;   /* killed: no token of it is valid */
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
		char pem[KEY_PEM_MAX];
		size_t n = 0;
		ts_err r = ts_unseal(&c->a->kek, sk->kid, sk->private_pem, pem, sizeof(pem), &n);
		alg = ts_alg_parse(sk->alg);
		if (r == TS_OK && (alg < 0 || ts_key_from_pem((ts_alg)alg, pem, &k) != TS_OK))
			r = TS_E_INTERNAL;
		ts_wipe(pem, sizeof(pem));
		if (r != TS_OK) {
			ts_log_event(TS_LOG_ERROR, "key_unusable", "kid", sk->kid, "error",
			             ts_errname(r), NULL);
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
	lk->activate_at = sk->activate_at;
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
		unsteal(a, &c);
		ring_clear(c.keys, c.n);
		return r;
	}
	ring_clear(a->ring.keys, a->ring.n);
	a->ring.keys = c.keys;
	a->ring.n = c.n;
	return TS_OK;
}

/* Brings the ring up to date: one read of the store's key version, at most
 * every TS_KEYS_CHECK_US (at once when force), and a full reload only when
 * it changed. Between checks one thread checks while the others go on with
 * the keys they have, so a change reaches every request within about
 * TS_KEYS_CHECK_US plus one store round trip. A failure keeps the cached
 * keys (signing and verification go on while the store is away). */
static ts_err
ring_refresh(ts_auth *a, int force)
{
	int64_t now = ts_mono_us(), last = atomic_load(&a->ring.checked_us), v = 0;
	int same;
	ts_err r;

	if (!force && (now - last < TS_KEYS_CHECK_US ||
	               !atomic_compare_exchange_strong(&a->ring.checked_us, &last, now)))
		return TS_OK;
	if (force)
		atomic_store(&a->ring.checked_us, now);
	if ((r = SOPS(a)->key_version(ST(a), &v)) != TS_OK)
		return r;
	pthread_rwlock_rdlock(&a->ring.lock);
	same = a->ring.version == v;
	pthread_rwlock_unlock(&a->ring.lock);
	if (same)
		return TS_OK;
	/* The version is read before the keys: a change in between only
	 * costs one more reload at the next check. */
	pthread_rwlock_wrlock(&a->ring.lock);
	r = TS_OK;
	if (a->ring.version != v && (r = ring_reload_locked(a)) == TS_OK)
		a->ring.version = v;
	pthread_rwlock_unlock(&a->ring.lock);
	return r;
}

/* The signer: the newest key that is active and not yet retired at now. */
static const ts_loaded_key *
ring_signer(const ts_auth *a, int64_t now)
{
	for (size_t i = 0; i < a->ring.n; i++) {
		const ts_loaded_key *k = &a->ring.keys[i];
		if (key_signs_at(k->activate_at, k->retired_at, now))
			return k;
	}
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
ts_admin_keys_rotate(ts_store *s, const ts_kek *kek, ts_alg alg, int64_t access_ttl,
                     int64_t activation_delay, char kid[TS_KID_MAX])
{
	ts_err r;
	ts_key *k = NULL;
	ts_signing_key sk;
	unsigned char raw[12];
	char *pem = NULL, sealed[TS_SEALED_LEN(KEY_PEM_MAX) + 1];
	int64_t now = ts_now(), at;

	memset(&sk, 0, sizeof(sk));
	/* A kid never starts with '-', so `keys revoke KID` never reads as a
	 * flag. */
	do {
		ts_random(raw, sizeof(raw));
		ts_b64url_encode(raw, sizeof(raw), sk.kid);
	} while (sk.kid[0] == '-');
	ts_strlcpy(sk.alg, ts_alg_name(alg), sizeof(sk.alg));
	sk.created_at = now;
	/* Times are whole seconds: one more makes the wait at least the
	 * delay, whatever the fraction of the second we are in. */
	at = activation_delay > 0 ? now + activation_delay + 1 : now;
	sk.activate_at = at;
	if ((r = ts_key_generate(alg, &k)) != TS_OK)
		goto out;
	if ((r = ts_key_private_pem(k, &pem)) != TS_OK)
		goto out;
	if ((r = ts_seal(kek, sk.kid, pem, strlen(pem), sealed, sizeof(sealed))) != TS_OK)
		goto out;
	sk.private_pem = sealed;
	if ((r = s->ops->key_add(s, &sk)) != TS_OK)
		goto out;
	/* The old signer signs until the new key takes over, then stays
	 * published until every token it signed has expired; a small margin
	 * covers clock skew between nodes. */
	r = s->ops->key_retire_others(s, sk.kid, at, at + access_ttl + 60);
	if (r == TS_OK && kid)
		ts_strlcpy(kid, sk.kid, TS_KID_MAX);
out:
	if (pem) {
		ts_wipe(pem, strlen(pem));
		free(pem);
	}
	ts_key_free(k);
	return r;
}

static int
find_signer(void *arg, const ts_signing_key *sk)
{
	int *found = arg;

	if (!sk->revoked_at && key_signs_at(sk->activate_at, sk->retired_at, ts_now()))
		*found = 1;
	return *found;
}

ts_err
ts_admin_keys_revoke(ts_store *s, const ts_kek *kek, const char *kid, ts_alg alg,
                     int64_t access_ttl, char new_kid[TS_KID_MAX])
{
	int found = 0;
	ts_err r;

	new_kid[0] = '\0';
	if ((r = s->ops->key_revoke(s, kid, ts_now())) != TS_OK)
		return r;
	if ((r = s->ops->key_list(s, find_signer, &found)) != TS_OK || found)
		return r;
	return ts_admin_keys_rotate(s, kek, alg, access_ttl, 0, new_kid);
}

/* ---- sealing at rest ------------------------------------------------ */

/* A row to seal (or check), copied out of the listing: no store call is
 * made from inside another op's callback. */
typedef struct clear_row {
	char id[TS_KID_MAX > TS_ID_SZ ? TS_KID_MAX : TS_ID_SZ];
	char *text;
} clear_row;

typedef struct seal_scan {
	const ts_kek *kek;
	clear_row *rows;             /* rows held in clear */
	size_t n, cap;
	int seen;                    /* sealed rows */
	char found[TS_KEK_ID_LEN + 1]; /* the first KEK id that is not ours */
	char bad_kid[TS_KID_MAX];    /* a key of ours that does not open */
	ts_err err;
} seal_scan;

static int
scan_keep(seal_scan *c, const char *id, const char *text)
{
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 8;
		clear_row *nr = realloc(c->rows, ncap * sizeof(*nr));
		if (!nr)
			return c->err = TS_E_NOMEM, 1;
		c->rows = nr;
		c->cap = ncap;
	}
	ts_strlcpy(c->rows[c->n].id, id, sizeof(c->rows[c->n].id));
	if (!(c->rows[c->n].text = strdup(text)))
		return c->err = TS_E_NOMEM, 1;
	c->n++;
	return 0;
}

static void
scan_free(seal_scan *c)
{
	for (size_t i = 0; i < c->n; i++) {
		ts_wipe(c->rows[i].text, strlen(c->rows[i].text));
		free(c->rows[i].text);
	}
	free(c->rows);
}

/* Sealed text of another KEK, or of ours that does not open, is noted;
 * clear text is kept for sealing. */
static int
scan_text(seal_scan *c, const char *id, const char *text, int is_key)
{
	char kekid[TS_KEK_ID_LEN + 1], pem[KEY_PEM_MAX];
	size_t n = 0;

	if (!ts_sealed_kek_id(text, kekid))
		return scan_keep(c, id, text);
	c->seen++;
	if (strcmp(kekid, c->kek->id) != 0) {
		if (!c->found[0])
			ts_strlcpy(c->found, kekid, sizeof(c->found));
		return 0;
	}
	if (is_key && !c->bad_kid[0] &&
	    ts_unseal(c->kek, id, text, pem, sizeof(pem), &n) != TS_OK)
		ts_strlcpy(c->bad_kid, id, sizeof(c->bad_kid));
	ts_wipe(pem, sizeof(pem));
	return 0;
}

static int
scan_key(void *arg, const ts_signing_key *k)
{
	return scan_text(arg, k->kid, k->private_pem, 1);
}

static int
scan_totp(void *arg, const ts_totp *t)
{
	return scan_text(arg, t->user_id, t->secret_b32, 0);
}

/* Seals every clear row of a scan; *n gets how many this call sealed. */
static ts_err
seal_rows(ts_store *s, const ts_kek *kek, seal_scan *c, int is_key, int *n)
{
	char sealed[TS_SEALED_LEN(KEY_PEM_MAX) + 1];
	ts_err r = TS_OK;

	*n = 0;
	for (size_t i = 0; i < c->n && r == TS_OK; i++) {
		const clear_row *row = &c->rows[i];
		if ((r = ts_seal(kek, row->id, row->text, strlen(row->text), sealed,
		                 sizeof(sealed))) != TS_OK)
			break;
		r = is_key ? s->ops->key_set_private(s, row->id, row->text, sealed)
		           : s->ops->totp_set_secret(s, row->id, row->text, sealed);
		if (r == TS_OK)
			(*n)++;
		else if (r == TS_E_NOT_FOUND)
			r = TS_OK;      /* sealed (or deleted) meanwhile by another node */
	}
	ts_wipe(sealed, sizeof(sealed));
	return r;
}

ts_err
ts_admin_seal_at_rest(ts_store *s, const ts_kek *kek, char found[TS_KEK_ID_LEN + 1])
{
	seal_scan keys = { .kek = kek, .err = TS_OK }, totp = { .kek = kek, .err = TS_OK };
	int nk = 0, nt = 0;
	ts_err r;

	found[0] = '\0';
	if ((r = s->ops->key_list(s, scan_key, &keys)) == TS_OK)
		r = keys.err;
	if (r != TS_OK)
		goto out;
	/* Never go on with keys that do not open: the engine would make a new
	 * one and every token issued so far would die unexplained. */
	if (keys.found[0] || keys.bad_kid[0]) {
		ts_strlcpy(found, keys.found[0] ? keys.found : kek->id, TS_KEK_ID_LEN + 1);
		ts_log_event(TS_LOG_ERROR, "key_file_mismatch", "sealed_under", found,
		             "key_file", kek->id, "kid", keys.bad_kid[0] ? keys.bad_kid : "-",
		             NULL);
		r = TS_E_SEAL;
		goto out;
	}
	if ((r = s->ops->totp_list(s, scan_totp, &totp)) == TS_OK)
		r = totp.err;
	if (r == TS_OK && totp.found[0]) {
		ts_strlcpy(found, totp.found, TS_KEK_ID_LEN + 1);
		ts_log_event(TS_LOG_ERROR, "key_file_mismatch", "sealed_under", found,
		             "key_file", kek->id, "what", "totp", NULL);
		r = TS_E_SEAL;
	}
	if (r != TS_OK)
		goto out;
	if ((r = seal_rows(s, kek, &keys, 1, &nk)) != TS_OK ||
	    (r = seal_rows(s, kek, &totp, 0, &nt)) != TS_OK)
		goto out;
	if (nk || nt)
		ts_log_event(TS_LOG_INFO, "secrets_sealed", "key_file", kek->id,
		             TS_LOG_INT("signing_keys", nk), TS_LOG_INT("totp_secrets", nt), NULL);
out:
	scan_free(&keys);
	scan_free(&totp);
	return r;
}

/* Whether any signing key is sealed; found gets the KEK id of the first. */
static int
first_sealed(void *arg, const ts_signing_key *k)
{
	return ts_sealed_kek_id(k->private_pem, arg);
}

ts_err
ts_admin_sealed_kek_id(ts_store *s, char found[TS_KEK_ID_LEN + 1])
{
	found[0] = '\0';
	return s->ops->key_list(s, first_sealed, found);
}

ts_err
ts_keys_init(ts_auth *a)
{
	ts_err r;
	int has;

	if (pthread_rwlock_init(&a->ring.lock, NULL) != 0)
		return TS_E_INTERNAL;
	a->ring.version = -1;
	char found[TS_KEK_ID_LEN + 1];
	if ((r = ts_admin_seal_at_rest(ST(a), &a->kek, found)) != TS_OK ||
	    (r = ring_refresh(a, 1)) != TS_OK)
		goto fail;
	pthread_rwlock_rdlock(&a->ring.lock);
	has = ring_signer(a, ts_now()) != NULL;
	pthread_rwlock_unlock(&a->ring.lock);
	if (has)
		return TS_OK;
	/* A fresh store (or every key revoked): make a key that signs at
	 * once, since nothing else can. */
	if ((r = ts_admin_keys_rotate(ST(a), &a->kek, a->cfg.alg, a->cfg.access_ttl, 0, NULL)) != TS_OK ||
	    (r = ring_refresh(a, 1)) != TS_OK)
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

	/* A failed check keeps the cached keys: signing goes on. */
	(void)ring_refresh(a, force_reload);
	pthread_rwlock_rdlock(&a->ring.lock);
	k = ring_signer(a, ts_now());
	r = k ? ts_jws_sign(k->key, k->kid, payload, out, cap) : TS_E_INTERNAL;
	pthread_rwlock_unlock(&a->ring.lock);
	if (!k)
		ts_log_event(TS_LOG_ERROR, "no_signing_key", NULL);
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
ts_keys_verify(ts_auth *a, const char *token, ts_jws_parts *parts, char kid[TS_KID_MAX])
{
	char alg[16];
	ts_err r;

	memset(parts, 0, sizeof(*parts));
	kid[0] = '\0';
	if (ts_jws_split(token, parts) != TS_OK)
		return TS_E_TOKEN_INVALID;
	if (ts_jwt_header_decode(parts->header, alg, sizeof(alg), kid, TS_KID_MAX) != TS_OK) {
		r = TS_E_TOKEN_INVALID;
		goto out;
	}
	/* Throttled, so junk kids cannot make us hammer the store; also how
	 * a revocation reaches a node that only verifies. */
	(void)ring_refresh(a, 0);
	pthread_rwlock_rdlock(&a->ring.lock);
	r = verify_locked(a, parts, alg, kid);
	pthread_rwlock_unlock(&a->ring.lock);
	if (r != TS_OK)
		r = TS_E_TOKEN_INVALID;
out:
	if (r != TS_OK)
		ts_jws_parts_free(parts);
	return r;
}

int
ts_keys_trusted(ts_auth *a, const char *kid)
{
	int ok;

	(void)ring_refresh(a, 0);
	pthread_rwlock_rdlock(&a->ring.lock);
	ok = ring_find(a, kid) != NULL;
	pthread_rwlock_unlock(&a->ring.lock);
	return ok;
}

ts_err
ts_auth_jwks(ts_auth *a, ts_jwk_cb cb, void *arg)
{
	int64_t now = ts_now();
	ts_err r = TS_OK;

	(void)ring_refresh(a, 0);
	pthread_rwlock_rdlock(&a->ring.lock);
	for (size_t i = 0; i < a->ring.n; i++) {
		ts_jwk j;
		const ts_loaded_key *k = &a->ring.keys[i];
		if (k->publish_until && k->publish_until <= now)
			continue;   /* what ring_find no longer accepts */
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
