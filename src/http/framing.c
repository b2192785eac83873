/* Request framing checks that libmicrohttpd 0.9.75 leaves to us. It takes
 * the first of two Content-Length fields, keeps a field named
 * "Content-Length " (space before the colon) as an unknown header, and
 * waits forever on an unknown Transfer-Encoding; each is a way for a
 * request to be framed one way by a proxy in front and another way here
 * (request smuggling), so each is refused with 400 (RFC 9112 §6.3).
 * Also here: the request target's forms (§3.2) and the check that every
 * header line was one field, no fold, NUL or bare CR (§5.2, §2.2). */
#include "http/http_internal.h"

#include <string.h>
#include <strings.h>

void
http_framing_feed(http_framing *f, const char *name, const char *value)
{
	if (name == NULL || name[0] == '\0' || strpbrk(name, " \t") != NULL) {
		f->bad_name = 1; /* RFC 9112 §5.1: no whitespace before the colon */
		return;
	}
	if (strcasecmp(name, "Content-Length") == 0) {
		f->content_length++;
	} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
		f->transfer_encoding++;
		/* Only plain "chunked" is framed the same way by everyone. */
		f->te_other |= value == NULL || strcasecmp(value, "chunked") != 0;
	} else if (strcasecmp(name, "Host") == 0) {
		f->host++;
	}
}

const char *
http_framing_verdict(const http_framing *f, int http10)
{
	if (f->bad_name)
		return "bad_header_name";
	if (f->content_length > 1)
		return "dup_content_length";
	if (f->host > 1)
		return "dup_host";                  /* RFC 9112 §3.2 */
	if (f->transfer_encoding > 0) {
		if (f->content_length > 0)
			return "te_and_cl";
		if (f->transfer_encoding > 1 || f->te_other)
			return "te_unsupported";
		if (http10)
			return "te_http10";         /* RFC 9112 §6.1 */
	}
	/* RFC 9112 §3.2: answered here, not by MHD, whose own 400 for it
	 * sends its header block twice. */
	if (f->host == 0 && !http10)
		return "no_host";
	return NULL;
}

/* ---- the request target (RFC 9112 §3.2) ---- */

static int
ci_prefix(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

const char *
http_target_parse(const char *t, http_target *out)
{
	const char *a, *e;

	memset(out, 0, sizeof(*out));
	for (const char *p = t; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return "bad_target";        /* RFC 9112 §3.2: no SP or CTL */
	out->path = t;
	if (!ci_prefix(t, "http://") && !ci_prefix(t, "https://")) {
		out->path_len = strcspn(t, "?");
		return NULL;
	}
	/* Absolute form (§3.2.2): the authority names the host, and the
	 * Host field is ignored (§3.2.2: "MUST ignore the received Host"). */
	a = strstr(t, "//") + 2;
	e = a + strcspn(a, "/?#");
	if (e == a || memchr(a, '@', (size_t)(e - a)) != NULL || *e == '#')
		return "bad_target";        /* no host, or userinfo (RFC 9110 §4.2.4) */
	out->authority = a;
	out->authority_len = (size_t)(e - a);
	out->path = e;
	out->path_len = strcspn(e, "?");
	return NULL;
}

/* ---- header lines as libmicrohttpd 0.9.75 left them ---- */

/* Steps over one line end: CRLF became two NULs, a bare LF one. */
static int
skip_eol(http_fieldwalk *w)
{
	if (w->pos >= w->end || *w->pos != '\0')
		return 0;
	w->pos++;
	if (w->pos < w->end && *w->pos == '\0')
		w->pos++;
	return 1;
}

void
http_fieldwalk_feed(http_fieldwalk *w, const char *key, size_t key_len,
                    const char *value, size_t value_len)
{
	const char *p;

	if (w->bad != NULL)
		return;
	/* Each field must start where the previous line ended: anything
	 * between is a folded continuation (RFC 9112 §5.2; MHD glues it to
	 * the field name and keeps the old value) or bytes after a NUL. */
	if (!skip_eol(w) || key != w->pos || key_len == 0 ||
	    (size_t)(w->end - key) <= key_len || key[key_len] != '\0') {
		w->bad = "bad_header_line";
		return;
	}
	p = key + key_len + 1;               /* the colon became a NUL */
	while (p < w->end && (*p == ' ' || *p == '\t'))
		p++;
	if (p != value || (size_t)(w->end - value) <= value_len) {
		w->bad = "bad_header_line";
		return;
	}
	/* A bare CR is a line end to some parsers (RFC 9112 §2.2). */
	if (memchr(key, '\r', key_len) != NULL || memchr(value, '\r', value_len) != NULL) {
		w->bad = "bare_cr";
		return;
	}
	w->pos = value + value_len;
}

const char *
http_fieldwalk_verdict(const http_fieldwalk *w)
{
	const char *p;

	if (w->bad != NULL)
		return w->bad;
	/* What is left is the last line end and the empty line: 2 to 4 NULs. */
	if (w->end - w->pos < 2 || w->end - w->pos > 4)
		return "bad_header_line";
	for (p = w->pos; p < w->end; p++)
		if (*p != '\0')
			return "bad_header_line";
	return NULL;
}
