/* Request framing checks that libmicrohttpd 0.9.75 leaves to us. It takes
 * the first of two Content-Length fields, keeps a field named
 * "Content-Length " (space before the colon) as an unknown header, and
 * waits forever on an unknown Transfer-Encoding; each is a way for a
 * request to be framed one way by a proxy in front and another way here
 * (request smuggling), so each is refused with 400 (RFC 9112 §6.3). */
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
	if (f->transfer_encoding == 0)
		return NULL;
	if (f->content_length > 0)
		return "te_and_cl";
	if (f->transfer_encoding > 1 || f->te_other)
		return "te_unsupported";
	if (http10)
		return "te_http10";                 /* RFC 9112 §6.1 */
	return NULL;
}
