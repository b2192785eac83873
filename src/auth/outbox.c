/* The mail outbox's sender (account.h): claims due mails from the store
 * (mail_claim: atomic, so with several nodes each mail goes out once per
 * try), rebuilds each from its kind, its address and its sealed token and
 * code, and delivers it over SMTP (email.c) on this thread, never on an
 * event thread or a hashing worker. A mail the server did not take stays
 * in the store and is claimed again after its backoff (delay, doubling
 * each try): a mail server that is down delays mail and loses none. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/account.h"
#include "auth/auth_internal.h"
#include "auth/email.h"
#include "core/log.h"

#define OUTBOX_BATCH 16
#define OUTBOX_POLL_DEFAULT 5
#define OUTBOX_RETRY_DEFAULT 30
#define MAIL_BODY_MAX 4096
#define OUTBOX_KICK_DELAY_MS 200

/* The sealed part of a mail: "TOKEN CODE" (both empty for mails that
 * carry none). Sealed with the mail id as associated data, so a blob
 * moved to another row does not open. */
typedef struct mail_secret {
	char token[TS_SECRET_TEXT_LEN + 1];
	char code[TS_CODE_DIGITS + 1];
} mail_secret;

/* A growing text buffer; overflow marks it bad instead of truncating. */
typedef struct buf {
	char *p;
	size_t n, cap;
	int bad;
} buf;

static void
put(buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->bad || b->n + n + 1 > b->cap) {
		b->bad = 1;
		return;
	}
	memcpy(b->p + b->n, s, n + 1);
	b->n += n;
}

/* HTML text: the five characters that could end an attribute or a tag. */
static void
put_html(buf *b, const char *s)
{
	char one[2] = { 0, 0 };

	for (; *s; s++) {
		switch (*s) {
		case '&': put(b, "&amp;"); break;
		case '<': put(b, "&lt;"); break;
		case '>': put(b, "&gt;"); break;
		case '"': put(b, "&quot;"); break;
		case '\'': put(b, "&#39;"); break;
		default:
			one[0] = *s;
			put(b, one);
		}
	}
}

/* The words of each kind; a link only when public_url is set. */
typedef struct mail_tpl {
	const char *subject;
	const char *intro;           /* first paragraph */
	const char *action;          /* the link's label; NULL: no token link */
	const char *page;            /* "/verify" or "/reset" */
	const char *outro;           /* last paragraph */
} mail_tpl;

static int
mail_tpl_of(ts_mail_kind k, mail_tpl *t)
{
	switch (k) {
	case TS_MAIL_VERIFY:
		*t = (mail_tpl){ "Confirm your email address",
		                 "Please confirm that this address is yours.",
		                 "Confirm your address", "/verify",
		                 "If you did not sign up, ignore this mail: nothing happens "
		                 "without the link." };
		return 1;
	case TS_MAIL_RESET:
		*t = (mail_tpl){ "Reset your password",
		                 "Someone asked to reset the password of the account with this "
		                 "address.",
		                 "Choose a new password", "/reset",
		                 "If it was not you, ignore this mail: your password stays as "
		                 "it is. A new request voids this link." };
		return 1;
	case TS_MAIL_INVITE:
		*t = (mail_tpl){ "You have been invited",
		                 "An administrator created an account for this address.",
		                 "Set your password", "/reset",
		                 "If you did not expect this, ignore this mail." };
		return 1;
	case TS_MAIL_EXISTING:
		*t = (mail_tpl){ "You already have an account",
		                 "Someone, maybe you, tried to sign up with this address, but "
		                 "it already has an account. No new account was made.",
		                 NULL, "/reset",
		                 "Sign in as usual, or reset your password if you forgot it." };
		return 1;
	case TS_MAIL_PW_CHANGED:
		*t = (mail_tpl){ "Your password was changed",
		                 "The password of the account with this address was just "
		                 "changed, and its other sessions were ended.",
		                 NULL, "/reset",
		                 "If it was not you, reset your password now and tell your "
		                 "administrator." };
		return 1;
	case TS_MAIL_DISCARD:
		return 0;
	}
	return 0;
}

static int64_t
mail_ttl(ts_auth *a, ts_mail_kind k)
{
	return k == TS_MAIL_RESET ? a->cfg.reset_ttl : a->cfg.verify_ttl;
}

/* Human text for a lifetime: "30 minutes", "24 hours". */
static void
ttl_words(int64_t s, char out[32])
{
	if (s >= 7200 && s % 3600 == 0)
		snprintf(out, 32, "%lld hours", (long long)(s / 3600));
	else if (s >= 120)
		snprintf(out, 32, "%lld minutes", (long long)(s / 60));
	else
		snprintf(out, 32, "%lld seconds", (long long)s);
}

/* Renders mail m (its secrets in sec) as text and HTML. 0, or -1. */
static int
render(ts_auth *a, const ts_mail *m, const mail_secret *sec, buf *text, buf *html,
       const char **subject)
{
	mail_tpl t;
	char link[1024] = "", home[1024] = "", ttl[32];
	const char *base = a->public_url;

	if (!mail_tpl_of((ts_mail_kind)m->kind, &t))
		return -1;
	*subject = t.subject;
	ttl_words(mail_ttl(a, (ts_mail_kind)m->kind), ttl);
	/* Links come from --public-url only, never from a request's Host. */
	if (base && t.action && sec->token[0])
		snprintf(link, sizeof link, "%s%s?token=%s", base, t.page, sec->token);
	if (base && !t.action)
		snprintf(home, sizeof home, "%s%s", base, t.page);

	put(text, t.intro);
	put(text, "\n\n");
	put(html, "<!DOCTYPE html>\n<html><body>\n<p>");
	put_html(html, t.intro);
	put(html, "</p>\n");
	if (t.action && sec->token[0]) {
		if (*link) {
			put(text, t.action);
			put(text, ":\n");
			put(text, link);
			put(text, "\n\n");
			put(html, "<p><a href=\"");
			put_html(html, link);
			put(html, "\">");
			put_html(html, t.action);
			put(html, "</a></p>\n<p>");
			put_html(html, link);
			put(html, "</p>\n");
		} else {
			put(text, "Your token:\n");
			put(text, sec->token);
			put(text, "\n\n");
			put(html, "<p>Your token: <code>");
			put_html(html, sec->token);
			put(html, "</code></p>\n");
		}
		put(text, "Reading this on another device? Enter this code instead: ");
		put(text, sec->code);
		put(text, "\n\nThe link and the code work once, for ");
		put(text, ttl);
		put(text, ".\n\n");
		put(html, "<p>Reading this on another device? Enter this code instead: <b>");
		put_html(html, sec->code);
		put(html, "</b></p>\n<p>The link and the code work once, for ");
		put_html(html, ttl);
		put(html, ".</p>\n");
	} else if (*home) {
		put(text, home);
		put(text, "\n\n");
		put(html, "<p><a href=\"");
		put_html(html, home);
		put(html, "\">");
		put_html(html, home);
		put(html, "</a></p>\n");
	}
	put(text, t.outro);
	put(text, "\n");
	put(html, "<p>");
	put_html(html, t.outro);
	put(html, "</p>\n</body></html>\n");
	return text->bad || html->bad ? -1 : 0;
}

/* Opens a mail's sealed part: "" stays empty. */
static ts_err
open_secret(ts_auth *a, const ts_mail *m, mail_secret *sec)
{
	char pt[TS_SECRET_TEXT_LEN + TS_CODE_DIGITS + 2];
	size_t n = 0;
	char *sp;
	ts_err r;

	memset(sec, 0, sizeof *sec);
	if (!m->data[0])
		return TS_OK;
	if ((r = ts_unseal(&a->kek, m->id, m->data, pt, sizeof pt - 1, &n)) != TS_OK)
		return r;
	pt[n] = '\0';
	if ((sp = strchr(pt, ' ')) != NULL) {
		*sp = '\0';
		ts_strlcpy(sec->code, sp + 1, sizeof sec->code);
	}
	ts_strlcpy(sec->token, pt, sizeof sec->token);
	ts_wipe(pt, sizeof pt);
	return TS_OK;
}

/* Delivers one claimed mail: TS_OK when it is done with (sent, or not to
 * be sent), so the caller deletes it; an error leaves it for its retry. */
static ts_err
deliver_one(ts_auth *a, const ts_mail *m)
{
	char tb[MAIL_BODY_MAX], hb[4 * MAIL_BODY_MAX];
	buf text = { tb, 0, sizeof tb, 0 }, html = { hb, 0, sizeof hb, 0 };
	const char *subject = "";
	mail_secret sec;
	ts_err r;

	if (m->kind == TS_MAIL_DISCARD)
		return TS_OK;            /* the stand-in of an unknown address */
	/* Past its token's lifetime a mail is worth nothing (its link would
	 * not work): dropped, so a long outage leaves no backlog for ever. */
	if (ts_now() > m->created_at + mail_ttl(a, (ts_mail_kind)m->kind)) {
		ts_log_event(TS_LOG_WARN, "mail_dropped", "mail", m->id, "error",
		             "expired before it could be delivered", NULL);
		return TS_OK;
	}
	if ((r = open_secret(a, m, &sec)) != TS_OK) {
		/* Another key file: it will never open here. Dropped, said once. */
		ts_log_event(TS_LOG_ERROR, "mail_dropped", "mail", m->id, "error",
		             ts_strerror(r), NULL);
		return TS_OK;
	}
	tb[0] = hb[0] = '\0';
	if (render(a, m, &sec, &text, &html, &subject) != 0) {
		ts_log_event(TS_LOG_ERROR, "mail_dropped", "mail", m->id, "error",
		             "cannot render", NULL);
		r = TS_OK;
		goto out;
	}
	r = ts_mailer_send_alt(a->mailer, m->to, subject, tb, hb);
	if (r == TS_E_INVALID) {
		ts_log_event(TS_LOG_ERROR, "mail_dropped", "mail", m->id, "error",
		             "the address cannot go into a header", NULL);
		r = TS_OK;
	} else if (r == TS_OK) {
		ts_log_event(TS_LOG_INFO, "mail_sent", "mail", m->id, "user", m->user_id,
		             TS_LOG_INT("kind", m->kind), TS_LOG_INT("attempt", m->attempts), NULL);
	} else {
		ts_log_event(TS_LOG_WARN, "mail_deferred", "mail", m->id,
		             TS_LOG_INT("attempt", m->attempts), "error", ts_strerror(r), NULL);
	}
out:
	/* The bodies hold the token and the code. */
	ts_wipe(tb, sizeof tb);
	ts_wipe(hb, sizeof hb);
	ts_wipe(&sec, sizeof sec);
	return r;
}

ts_err
ts_outbox_run(ts_auth *a, int64_t now, int64_t retry, int *sent)
{
	ts_mail *batch;
	int n = 0, ok = 0;
	/* A claim is also the lease of the delivery under way: it must
	 * outlast one SMTP transaction, or another node could send it too. */
	int64_t min_delay = (a->cfg.smtp_timeout > 0 ? a->cfg.smtp_timeout : 10) + 2;
	ts_err r;

	if (sent)
		*sent = 0;
	if (!a->mailer)
		return TS_E_MAIL_UNCONFIGURED;
	if (retry < min_delay)
		retry = min_delay;
	if (!(batch = calloc(OUTBOX_BATCH, sizeof *batch)))
		return TS_E_NOMEM;
	if ((r = SOPS(a)->mail_claim(ST(a), now, retry, OUTBOX_BATCH, batch, &n)) != TS_OK)
		goto out;
	for (int i = 0; i < n; i++) {
		if (deliver_one(a, &batch[i]) != TS_OK)
			continue;
		if (batch[i].kind != TS_MAIL_DISCARD)
			ok++;
		ts_err d = SOPS(a)->mail_delete(ST(a), batch[i].id);
		if (d != TS_OK && d != TS_E_NOT_FOUND)
			ts_log_event(TS_LOG_WARN, "mail_delete_failed", "mail", batch[i].id, "error",
			             ts_strerror(d), NULL);
	}
out:
	for (int i = 0; i < OUTBOX_BATCH; i++)
		ts_wipe(batch[i].data, sizeof batch[i].data);
	free(batch);
	if (sent)
		*sent = ok;
	return r;
}

/* ---- the thread ---- */

struct ts_outbox {
	ts_auth *a;
	int poll;
	int64_t retry;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* CLOCK_MONOTONIC; kick and stop */
	int kicked;
	int stopping;
};

static void *
outbox_main(void *arg)
{
	ts_outbox *o = arg;
	struct timespec until;
	int sent;

	pthread_mutex_lock(&o->mu);
	while (!o->stopping) {
		if (o->kicked) {
			/* A mail was just queued: let the request that queued it
			 * answer first, so that the delivery (which only a real
			 * account's request causes) does not slow that answer
			 * down; kicks in the meantime share the pass. */
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += OUTBOX_KICK_DELAY_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			while (!o->stopping &&
			       pthread_cond_timedwait(&o->cv, &o->mu, &until) != ETIMEDOUT)
				;
		}
		o->kicked = 0;
		pthread_mutex_unlock(&o->mu);
		/* A full batch may mean more is due: go again at once. */
		do {
			if (ts_outbox_run(o->a, ts_now(), o->retry, &sent) != TS_OK)
				break;
		} while (sent >= OUTBOX_BATCH);
		pthread_mutex_lock(&o->mu);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += o->poll;
		while (!o->stopping && !o->kicked &&
		       pthread_cond_timedwait(&o->cv, &o->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

void
ts_outbox_kick(ts_auth *a)
{
	ts_outbox *o = atomic_load(&a->outbox);

	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	o->kicked = 1;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

ts_err
ts_outbox_start(ts_auth *a, const ts_outbox_config *c, ts_outbox **out)
{
	ts_outbox *o;
	pthread_condattr_t ca;

	*out = NULL;
	if (!a->mailer)
		return TS_OK;
	if (!(o = calloc(1, sizeof(*o))))
		return TS_E_NOMEM;
	o->a = a;
	o->poll = c->poll > 0 ? c->poll : OUTBOX_POLL_DEFAULT;
	o->retry = c->retry > 0 ? c->retry : OUTBOX_RETRY_DEFAULT;
	pthread_mutex_init(&o->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&o->thread, NULL, outbox_main, o) != 0) {
		pthread_cond_destroy(&o->cv);
		pthread_mutex_destroy(&o->mu);
		free(o);
		return TS_E_INTERNAL;
	}
	atomic_store(&a->outbox, o);
	*out = o;
	return TS_OK;
}

void
ts_outbox_stop(ts_outbox *o)
{
	if (!o)
		return;
	atomic_store(&o->a->outbox, NULL);
	pthread_mutex_lock(&o->mu);
	o->stopping = 1;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
	pthread_join(o->thread, NULL);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
	free(o);
}
