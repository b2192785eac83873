/* The three src/http entry points that src/api calls, for fuzz binaries.
 * They keep the transport's contract (http.h) so a face that breaks it (a
 * second defer, a defer after a too-large body) is caught here. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_stub.h"

const char *
ts_http_header(const ts_http_req *req, const char *name)
{
	const fuzz_http_priv *p = req->priv_;

	if (!p || !name)
		return NULL;
	for (size_t i = 0; i < p->n_hdr; i++)
		if (strcasecmp(p->hdr_name[i], name) == 0)
			return p->hdr_value[i];
	return NULL;
}

/* Finds key in "k=v&k2=v2" (no percent-decoding). The value is a copy kept
 * until fuzz_http_priv_clear, like the transport's "valid for the request". */
const char *
ts_http_query(const ts_http_req *req, const char *key)
{
	fuzz_http_priv *p = req->priv_;
	const char *q, *end;
	size_t klen;

	if (!p || !p->query || !key)
		return NULL;
	klen = strlen(key);
	for (q = p->query; *q; q = *end ? end + 1 : end) {
		const char *eq;

		end = strchr(q, '&');
		if (!end)
			end = q + strlen(q);
		eq = memchr(q, '=', (size_t)(end - q));
		if (!eq || (size_t)(eq - q) != klen || memcmp(q, key, klen) != 0)
			continue;
		char *v;
		if (p->n_query_vals == FUZZ_HDR_MAX ||
		    !(v = strndup(eq + 1, (size_t)(end - eq - 1))))
			return NULL;
		p->query_vals[p->n_query_vals++] = v;
		return v;
	}
	return NULL;
}

int
ts_http_query_repeated(const ts_http_req *req)
{
	const fuzz_http_priv *p = req->priv_;
	const char *a, *b;

	if (!p || !p->query)
		return 0;
	for (a = p->query; *a; a += strcspn(a, "&") + (a[strcspn(a, "&")] != '\0')) {
		size_t la = strcspn(a, "=&");
		for (b = a + strcspn(a, "&"); *b; ) {
			b += *b == '&';
			if (strcspn(b, "=&") == la && memcmp(a, b, la) == 0)
				return 1;
			b += strcspn(b, "&");
		}
	}
	return 0;
}

ts_err
ts_http_defer_on(ts_http_req *req, ts_pool *pool, ts_http_job_fn job, void *arg)
{
	fuzz_http_priv *p = req->priv_;

	(void)pool;
	if (!p || !job)
		abort();
	if (!p->in_job)
		return ts_http_defer(req, job, arg);
	/* From a running job: the request goes on to job, once (as the real
	 * transport allows). */
	if (p->handed)
		return TS_E_INVALID;
	p->handed = 1;
	p->job = job;
	p->job_arg = arg;
	return TS_OK;
}

ts_err
ts_http_defer(ts_http_req *req, ts_http_job_fn job, void *arg)
{
	fuzz_http_priv *p = req->priv_;

	if (!p || !job)
		abort();        /* a face deferred a request the transport never made */
	p->defer_calls++;
	if (p->defer_calls > 1 || req->body_too_large)
		return TS_E_INVALID;
	if (p->refuse_defer)
		return TS_E_OVERLOADED;
	p->job = job;
	p->job_arg = arg;
	return TS_OK;
}

void
fuzz_http_priv_clear(fuzz_http_priv *p)
{
	for (size_t i = 0; i < p->n_query_vals; i++)
		free(p->query_vals[i]);
	p->n_query_vals = 0;
}
