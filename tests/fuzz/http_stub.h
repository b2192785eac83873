/* A stand-in for src/http in the fuzz binaries that drive src/api: the
 * request's headers and query live in a fuzz_http_priv hung on req->priv_,
 * and ts_http_defer records the job so the harness runs it after dispatch
 * returns (what a pool worker would do). libts_http is not linked. */
#ifndef TS_FUZZ_HTTP_STUB_H
#define TS_FUZZ_HTTP_STUB_H

#include "http/http.h"

#define FUZZ_HDR_MAX 16

typedef struct fuzz_http_priv {
	const char *hdr_name[FUZZ_HDR_MAX];
	const char *hdr_value[FUZZ_HDR_MAX];
	size_t n_hdr;
	const char *query;           /* "a=1&b=2" without the '?', or NULL */
	char *query_vals[FUZZ_HDR_MAX];   /* values handed out; freed by fuzz_http_priv_clear */
	size_t n_query_vals;
	int refuse_defer;            /* answer TS_E_OVERLOADED, as a full queue does */
	int defer_calls;
	ts_http_job_fn job;
	void *job_arg;
	int in_job;                  /* the harness is running job */
	int handed;                  /* a running job handed the request on */
} fuzz_http_priv;

/* Frees what ts_http_query handed out for this request. */
void fuzz_http_priv_clear(fuzz_http_priv *p);

#endif
