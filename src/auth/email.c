/* Outgoing mail over SMTP through libcurl: one message per call, sent while
 * the caller waits, so a failure is known at once (RFC 5321 transaction,
 * RFC 5322 message). Opportunistic STARTTLS on smtp://, TLS on smtps://;
 * certificates are always verified. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "auth/email.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "crypto/hash.h"

#define MAIL_TIMEOUT_DEFAULT 10
#define MAIL_TEXT_MAX 4096       /* our messages are a few lines */

struct ts_mailer {
	char *url;                   /* may hold SMTP AUTH credentials: never logged */
	char *from;
	char *password;              /* NULL: the url's, if any; never logged */
	long timeout_ms;
	atomic_int refs;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe in every libcurl we may meet. */
static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* An address that can stand between <> in the envelope and in a header:
 * local@domain, both non-empty, at most 254 bytes of UTF-8, no controls,
 * spaces, angle brackets, quotes or backslashes. Looser than
 * ts_email_valid on purpose: "tessera@localhost" is a fine sender. */
static int
address_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);

	if (n == 0 || n > TS_EMAIL_MAX || !ts_utf8_valid(s, n) || !at || at == s || !at[1] ||
	    strchr(at + 1, '@'))
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || strchr("<>\"\\", *s))
			return 0;
	return 1;
}

/* Header text: printable, no CR/LF. */
static int
header_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

ts_err
ts_mailer_new(const char *url, const char *from, int64_t timeout_s, ts_mailer **out)
{
	ts_mailer *m;

	*out = NULL;
	if (!url || !*url)
		return TS_OK;
	if (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0) {
		ts_error("smtp_url must start with smtp:// or smtps://");
		return TS_E_INVALID;
	}
	if (!from || !address_ok(from)) {
		ts_error("smtp_from is not a plain email address");
		return TS_E_INVALID;
	}
	if (!(m = calloc(1, sizeof(*m))))
		return TS_E_NOMEM;
	atomic_init(&m->refs, 1);
	m->url = strdup(url);
	m->from = strdup(from);
	m->timeout_ms = (long)(timeout_s > 0 ? timeout_s : MAIL_TIMEOUT_DEFAULT) * 1000;
	if (!m->url || !m->from) {
		ts_mailer_free(m);
		return TS_E_NOMEM;
	}
	*out = m;
	return TS_OK;
}

ts_err
ts_mailer_set_password(ts_mailer *m, const char *password)
{
	if (!password || !*password)
		return TS_OK;
	if (!(m->password = strdup(password)))
		return TS_E_NOMEM;
	return TS_OK;
}

ts_mailer *
ts_mailer_ref(ts_mailer *m)
{
	if (m)
		atomic_fetch_add(&m->refs, 1);
	return m;
}

void
ts_mailer_free(ts_mailer *m)
{
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	if (m->password)
		ts_wipe(m->password, strlen(m->password));
	free(m->password);
	if (m->url)
		ts_wipe(m->url, strlen(m->url));
	free(m->url);
	free(m->from);
	free(m);
}

/* The message, fed to libcurl by read_cb. */
typedef struct mail_src {
	const char *data;
	size_t len, off;
} mail_src;

static size_t
read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	mail_src *src = arg;
	size_t n = size * nitems;

	if (n > src->len - src->off)
		n = src->len - src->off;
	memcpy(buf, src->data + src->off, n);
	src->off += n;
	return n;
}

/* RFC 5322 §3.3 date-time in UTC. */
static void
mail_date(char out[64])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, 64, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* Builds the whole message into buf (cap bytes); 0, or -1 when too long.
 * Lines end in CRLF (RFC 5322 §2.1); libcurl dot-stuffs the body. */
static int
build_message(const ts_mailer *m, const char *to, const char *subject, const char *text,
              char *buf, size_t cap)
{
	char date[64], id[33];
	const char *domain = strchr(m->from, '@') + 1;
	size_t off;
	int n;

	mail_date(date);
	ts_random_hex(id, 16);
	n = snprintf(buf, cap,
	             "Date: %s\r\n"
	             "From: <%s>\r\n"
	             "To: <%s>\r\n"
	             "Subject: %s\r\n"
	             "Message-ID: <%s@%s>\r\n"
	             "MIME-Version: 1.0\r\n"
	             "Content-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: 8bit\r\n"
	             "Auto-Submitted: auto-generated\r\n"
	             "\r\n",
	             date, m->from, to, subject, id, domain);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	off = (size_t)n;
	/* The body's bare LFs become CRLF. */
	for (const char *p = text; *p; p++) {
		if (off + 3 >= cap)
			return -1;
		if (*p == '\n' && (p == text || p[-1] != '\r'))
			buf[off++] = '\r';
		buf[off++] = *p;
	}
	if (off + 3 >= cap)
		return -1;
	memcpy(buf + off, "\r\n", 3);
	return 0;
}

/* Appends text to buf at *off with bare LFs made CRLF; -1 when full. */
static int
put_crlf(char *buf, size_t cap, size_t *off, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*off + 3 >= cap)
			return -1;
		if (*p == '\n' && (p == text || p[-1] != '\r'))
			buf[(*off)++] = '\r';
		buf[(*off)++] = *p;
	}
	buf[*off] = '\0';
	return 0;
}

/* A multipart/alternative message (RFC 2046 §5.1.4): the plain part first,
 * the HTML part last (the one a capable reader prefers). */
static int
build_alt(const ts_mailer *m, const char *to, const char *subject, const char *text,
          const char *html, char *buf, size_t cap)
{
	char date[64], id[33], boundary[40];
	const char *domain = strchr(m->from, '@') + 1;
	size_t off;
	int n;

	mail_date(date);
	ts_random_hex(id, 16);
	memcpy(boundary, "=_ts_", 5);
	ts_random_hex(boundary + 5, 12);
	n = snprintf(buf, cap,
	             "Date: %s\r\n"
	             "From: <%s>\r\n"
	             "To: <%s>\r\n"
	             "Subject: %s\r\n"
	             "Message-ID: <%s@%s>\r\n"
	             "MIME-Version: 1.0\r\n"
	             "Content-Type: multipart/alternative; boundary=\"%s\"\r\n"
	             "Auto-Submitted: auto-generated\r\n"
	             "\r\n"
	             "--%s\r\n"
	             "Content-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: 8bit\r\n"
	             "\r\n",
	             date, m->from, to, subject, id, domain, boundary, boundary);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	off = (size_t)n;
	if (put_crlf(buf, cap, &off, text) != 0)
		return -1;
	n = snprintf(buf + off, cap - off,
	             "\r\n--%s\r\n"
	             "Content-Type: text/html; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: 8bit\r\n"
	             "\r\n", boundary);
	if (n < 0 || (size_t)n >= cap - off)
		return -1;
	off += (size_t)n;
	if (put_crlf(buf, cap, &off, html) != 0)
		return -1;
	n = snprintf(buf + off, cap - off, "\r\n--%s--\r\n", boundary);
	return n < 0 || (size_t)n >= cap - off ? -1 : 0;
}

static ts_err deliver(ts_mailer *m, const char *to, const char *msg);

ts_err
ts_mailer_send_alt(ts_mailer *m, const char *to, const char *subject, const char *text,
                   const char *html)
{
	size_t cap = strlen(text) + strlen(html) + 2048 + (strlen(text) + strlen(html)) / 8;
	char *msg;
	ts_err r;

	if (!m)
		return TS_E_EMAIL_SEND;
	if (!address_ok(to) || !header_ok(subject) || strlen(text) > MAIL_TEXT_MAX ||
	    strlen(html) > 4 * MAIL_TEXT_MAX)
		return TS_E_INVALID;
	if (!(msg = malloc(cap)))
		return TS_E_NOMEM;
	if (build_alt(m, to, subject, text, html, msg, cap) != 0)
		r = TS_E_INVALID;
	else
		r = deliver(m, to, msg);
	/* The message holds a one-time token and code. */
	ts_wipe(msg, cap);
	free(msg);
	return r;
}

ts_err
ts_mailer_send(ts_mailer *m, const char *to, const char *subject, const char *text)
{
	char msg[MAIL_TEXT_MAX + 1024];
	ts_err r;

	if (!m)
		return TS_E_EMAIL_SEND;
	if (!address_ok(to) || !header_ok(subject) || strlen(text) > MAIL_TEXT_MAX)
		return TS_E_INVALID;
	if (build_message(m, to, subject, text, msg, sizeof(msg)) != 0)
		return TS_E_INVALID;
	r = deliver(m, to, msg);
	/* The message holds a one-time code. */
	ts_wipe(msg, sizeof(msg));
	return r;
}

/* One SMTP transaction for the whole message msg. */
static ts_err
deliver(ts_mailer *m, const char *to, const char *msg)
{
	char from_env[300], to_env[300];
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *rcpt = NULL;
	mail_src src;
	CURL *c = NULL;
	CURLcode rc;
	ts_err r = TS_E_EMAIL_SEND;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		ts_error("libcurl cannot start: %s", curl_easy_strerror(curl_init_rc));
		goto out;
	}
	snprintf(from_env, sizeof(from_env), "<%s>", m->from);
	snprintf(to_env, sizeof(to_env), "<%s>", to);
	src = (mail_src){ .data = msg, .len = strlen(msg), .off = 0 };
	if (!(c = curl_easy_init()) || !(rcpt = curl_slist_append(NULL, to_env))) {
		r = TS_E_NOMEM;
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, m->url);
	if (m->password)
		curl_easy_setopt(c, CURLOPT_PASSWORD, m->password);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#endif
	curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from_env);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &src);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, m->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, m->timeout_ms);
	/* Worker threads: no SIGALRM for DNS timeouts. */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		ts_metrics_count(TS_M_MAIL_FAILED);
		ts_log_event(TS_LOG_WARN, "email_failed", "error", curl_easy_strerror(rc),
		             "detail", errbuf, NULL);
		goto out;
	}
	r = TS_OK;
out:
	curl_slist_free_all(rcpt);
	if (c)
		curl_easy_cleanup(c);
	return r;
}
