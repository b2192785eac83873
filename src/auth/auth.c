/* The engine's life cycle. */
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/email.h"
#include "core/log.h"
#include "crypto/hash.h"

static char *
dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* The issuer and audience go into every token; keep them plain so a claim
 * compares byte for byte with what the verifier was told. */
static int
plain_text(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

/* Makes the unknown user's hash, then checks it once, which seeds the
 * server's own class so the very first unknown-user login is already
 * padded (pwtime.h). Two argon2id runs: on this thread, so that the
 * server answers meanwhile (issue 13: exec to first answer). */
static void *
dummy_main(void *arg)
{
	ts_auth *a = arg;
	char phc[TS_PHC_MAX];
	ts_err r = ts_pw_dummy(&a->cfg.pw_cost, phc);

	if (r == TS_OK)
		(void)ts_pwtime_verify(&a->pwtime, phc, "x", 1);
	else
		ts_error("cannot make the unknown-user hash: %s", ts_strerror(r));
	pthread_mutex_lock(&a->dummy_mu);
	if (r == TS_OK)
		memcpy(a->dummy_phc, phc, sizeof(phc));
	a->dummy_state = r == TS_OK ? 1 : -1;
	pthread_cond_broadcast(&a->dummy_cv);
	pthread_mutex_unlock(&a->dummy_mu);
	ts_wipe(phc, sizeof(phc));
	return NULL;
}

static ts_err
dummy_start(ts_auth *a)
{
	if (pthread_mutex_init(&a->dummy_mu, NULL) != 0)
		return TS_E_INTERNAL;
	if (pthread_cond_init(&a->dummy_cv, NULL) != 0) {
		pthread_mutex_destroy(&a->dummy_mu);
		return TS_E_INTERNAL;
	}
	a->dummy_sync = 1;
	if (pthread_create(&a->dummy_thread, NULL, dummy_main, a) != 0)
		return TS_E_INTERNAL;
	a->dummy_started = 1;
	return TS_OK;
}

const char *
ts_auth_dummy_hash(ts_auth *a)
{
	int state;

	pthread_mutex_lock(&a->dummy_mu);
	while (a->dummy_state == 0)
		pthread_cond_wait(&a->dummy_cv, &a->dummy_mu);
	state = a->dummy_state;
	pthread_mutex_unlock(&a->dummy_mu);
	return state > 0 ? a->dummy_phc : NULL;
}

ts_err
ts_auth_new(const ts_auth_config *cfg, ts_store *store, ts_auth **out)
{
	ts_auth *a;
	ts_err r = TS_E_NOMEM;

	*out = NULL;
	if (!cfg->issuer || !cfg->audience || !plain_text(cfg->issuer) ||
	    !plain_text(cfg->audience) || cfg->access_ttl <= 0 || cfg->refresh_ttl <= 0 ||
	    cfg->session_ttl <= 0 || cfg->challenge_ttl <= 0 || !cfg->kek ||
	    cfg->refresh_reuse_interval < 0)
		return TS_E_INVALID;
	/* Before any thread starts: libsodium picks its implementations in
	 * sodium_init(), and the unknown-user hash thread would otherwise be
	 * first while this thread already unseals keys (a NULL function
	 * pointer: SIGSEGV or SIGBUS at start-up, 1 start in ~20). */
	if ((r = ts_crypto_init()) != TS_OK)
		return r;
	if (!(a = calloc(1, sizeof(*a))))
		return TS_E_NOMEM;
	a->cfg = *cfg;
	if (a->cfg.mfa_lock_after <= 0)
		a->cfg.mfa_lock_after = 10;
	if (a->cfg.mfa_lock_secs <= 0)
		a->cfg.mfa_lock_secs = 900;
	ts_live_init(a);
	a->store = store;
	a->kek = *cfg->kek;
	a->cfg.kek = &a->kek;
	ts_kek_subkey(&a->kek, 3, "tsrefsuc", a->successor_key);
	ts_kek_subkey(&a->kek, 4, "tsrecovr", a->recovery_key);
	a->issuer = strdup(cfg->issuer);
	a->audience = strdup(cfg->audience);
	a->default_tenant = dup_or_null(cfg->default_tenant);
	a->totp_issuer = strdup(cfg->totp_issuer ? cfg->totp_issuer : "Tessera");
	if (cfg->public_url && *cfg->public_url) {
		size_t n = strlen(cfg->public_url);
		while (n > 1 && cfg->public_url[n - 1] == '/')
			n--;
		if (!(a->public_url = strndup(cfg->public_url, n)))
			goto fail;
	}
	a->cfg.public_url = NULL;
	if (a->cfg.verify_ttl <= 0)
		a->cfg.verify_ttl = 86400;
	if (a->cfg.reset_ttl <= 0)
		a->cfg.reset_ttl = 1800;
	if (!a->issuer || !a->audience || !a->totp_issuer ||
	    (cfg->default_tenant && *cfg->default_tenant && !a->default_tenant))
		goto fail;
	/* Pointers in the copied config would dangle; use ours. */
	a->cfg.issuer = a->issuer;
	a->cfg.audience = a->audience;
	a->cfg.default_tenant = a->default_tenant;
	a->cfg.totp_issuer = a->totp_issuer;
	a->cfg.webauthn_rp_id = a->cfg.webauthn_origins = NULL;   /* ours: a->wa_* */
	if ((r = ts_webauthn_init(a, cfg->webauthn_rp_id, cfg->webauthn_origins)) != TS_OK)
		goto fail;
	ts_pwtime_init(&a->pwtime);
	a->pwtime_ready = 1;
	if ((r = dummy_start(a)) != TS_OK)
		goto fail;
	if ((r = ts_keys_init(a)) != TS_OK)
		goto fail;
	a->keys_ready = 1;
	/* 16k slots (about 2.5 MiB once full): enough for the access tokens
	 * in use at once on a busy node. */
	if ((r = ts_tokcache_new(1u << 14, &a->verified)) != TS_OK)
		goto fail;
	/* 64k slots: a few MiB at most, whatever the number of keys seen. */
	/* Per node on purpose (docs/ARCHITECTURE.md): the per-account
	 * bucket, which must hold across nodes, is in the store. */
	if ((r = ts_limiter_new(1u << 16, cfg->rl_ip_rate, cfg->rl_ip_burst, &a->rl_ip)) != TS_OK)
		goto fail;
	if ((r = ts_mailer_new(cfg->smtp_url, cfg->smtp_from, cfg->smtp_timeout, &a->mailer)) != TS_OK)
		goto fail;
	if (a->mailer && (r = ts_mailer_set_password(a->mailer, cfg->smtp_password)) != TS_OK)
		goto fail;
	/* The mailer keeps its own copies. */
	a->cfg.smtp_url = a->cfg.smtp_from = a->cfg.smtp_password = NULL;
	if (cfg->operator_tenant && *cfg->operator_tenant &&
	    !(a->operator_tenant = strdup(cfg->operator_tenant)))
		goto fail;
	a->cfg.operator_tenant = a->operator_tenant;
	if ((r = ts_auditor_start(store, &a->auditor)) != TS_OK)
		goto fail;
	if (!a->mailer)
		ts_log_event(TS_LOG_WARN, "config_smtp_missing", "setting", "smtp_url", "effect",
		             "no mailed codes: an IAM (001) login that needs one fails (code 207)",
		             NULL);
	*out = a;
	return TS_OK;
fail:
	ts_auth_free(a);
	return r;
}

/* Frees whatever part of a was built; safe on a half-made engine. */
void
ts_auth_free(ts_auth *a)
{
	if (!a)
		return;
	ts_auditor_stop(a->auditor);     /* first: flushes the queued rows */
	free(a->operator_tenant);
	if (a->dummy_started)
		pthread_join(a->dummy_thread, NULL);
	if (a->dummy_sync) {
		pthread_cond_destroy(&a->dummy_cv);
		pthread_mutex_destroy(&a->dummy_mu);
	}
	if (a->keys_ready)
		ts_keys_free(a);
	ts_tokcache_free(a->verified);
	ts_limiter_free(a->rl_ip);
	ts_mailer_free(a->mailer);
	pthread_mutex_destroy(&a->live_mu);
	if (a->pwtime_ready)
		ts_pwtime_destroy(&a->pwtime);
	free(a->issuer);
	free(a->audience);
	free(a->default_tenant);
	free(a->totp_issuer);
	free(a->public_url);
	free(a->wa_rp_id);
	free(a->wa_origins);
	ts_wipe(a->dummy_phc, sizeof(a->dummy_phc));
	ts_kek_wipe(&a->kek);
	ts_wipe(a->successor_key, sizeof(a->successor_key));
	ts_wipe(a->recovery_key, sizeof(a->recovery_key));
	free(a);
}

ts_err
ts_auth_ready(ts_auth *a, int *current, int *latest)
{
	ts_err r = SOPS(a)->schema_status(ST(a), current, latest);

	return r == TS_OK ? TS_OK : TS_E_STORE_UNAVAILABLE;
}

int
ts_auth_store_remote(const ts_auth *a)
{
	return a->store->ops->remote;
}
