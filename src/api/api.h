/* The contract faces: each maps its own JSON to and from the engine. This is
 * the one layer that knows JSON and HTTP status codes. */
#ifndef TS_API_H
#define TS_API_H

#include "auth/auth.h"
#include "http/http.h"

typedef struct ts_api_config {
	const char *prefix_native;   /* "" by default */
	const char *prefix_admin;    /* contract 000, "/admin" */
	const char *prefix_iam;      /* contract 001, "/iam" */
	const char *prefix_px0;      /* contract 003, "/px0" */
	/* Requests that touch the store run on this pool (its threads may
	 * wait on the database; the event threads never do) when
	 * store_defer is set; NULL / 0: inline. Must outlive ts_http_stop. */
	ts_pool *store_pool;
	int store_defer;
	/* With the store inline: the pool of the routes whose writes are
	 * group-committed (a refresh); NULL: those run inline too. */
	ts_pool *write_pool;
} ts_api_config;

typedef struct ts_api ts_api;

/* auth must outlive the api. */
ts_err ts_api_new(const ts_api_config *cfg, ts_auth *auth, ts_api **out);
void ts_api_free(ts_api *api);
/* The transport's dispatch callback (app = the ts_api). */
ts_http_action ts_api_dispatch(void *app, ts_http_req *req, ts_http_resp *resp);

#endif
