/* Private to src/auth: outgoing mail over SMTP (RFC 5321) through libcurl.
 * One plain-text message per call; nothing is queued or retried, so the
 * caller learns at once whether the mail server took it. */
#ifndef TS_AUTH_EMAIL_H
#define TS_AUTH_EMAIL_H

#include <stdint.h>
#include "core/err.h"

typedef struct ts_mailer ts_mailer;

/* A mailer for url ("smtp://host[:port]" or "smtps://...", optionally with
 * "user:password@" for SMTP AUTH) sending as from. url NULL or "" means mail
 * is off: TS_OK with *out NULL. TS_E_INVALID for another scheme or a from
 * that is not a plain address. timeout_s <= 0 means 10 s. The strings are
 * copied; free with ts_mailer_free (NULL is a no-op). */
ts_err ts_mailer_new(const char *url, const char *from, int64_t timeout_s, ts_mailer **out);
/* The SMTP AUTH password (overriding one in the url; NULL or "" keeps
 * the url's). Before the mailer is shared. */
ts_err ts_mailer_set_password(ts_mailer *m, const char *password);
/* One more holder of m (a send under way while SIGHUP swaps the mailer);
 * ts_mailer_free drops one, freeing m with the last. */
ts_mailer *ts_mailer_ref(ts_mailer *m);
void ts_mailer_free(ts_mailer *m);

/* Sends one text/plain UTF-8 message to the address to and waits for the
 * server's answer. Thread-safe; blocks for up to the timeout. TS_OK when the
 * server accepted it; TS_E_EMAIL_SEND when it could not be reached or
 * refused it (logged, without the message); TS_E_INVALID for an address or
 * subject that cannot go into a header. Callers check for a NULL mailer
 * (mail off) first; passing one gives TS_E_EMAIL_SEND. */
ts_err ts_mailer_send(ts_mailer *m, const char *to, const char *subject, const char *text);
/* The same as multipart/alternative: a text/plain part and a text/html
 * part (both UTF-8, 8bit, lines kept short by the caller). */
ts_err ts_mailer_send_alt(ts_mailer *m, const char *to, const char *subject, const char *text,
                          const char *html);

#endif
