/* The /metrics listener: a small libmicrohttpd daemon of its own, on its
 * own address (--metrics-listen), so the exposition is never reachable on
 * the public API's port and a scrape never waits behind API traffic. One
 * thread, a few connections, plain HTTP; GET or HEAD /metrics only. */
#include "http/http.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "http/http_internal.h"

#define METRICS_CONN_LIMIT 16
#define METRICS_TIMEOUT 10

struct ts_http_metrics {
	struct MHD_Daemon *daemon;
	int lsock;
};

static enum MHD_Result
answer(struct MHD_Connection *conn, unsigned status, char *body, size_t len, const char *type)
{
	struct MHD_Response *m = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (m == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(m, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(m, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, m);
	MHD_destroy_response(m);
	return ret;
}

static enum MHD_Result
on_metrics(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size,
           void **con_cls)
{
	static int first;
	size_t len = 0;
	char *body;

	(void)cls;
	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = &first;   /* headers in; answer on the next call */
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0;   /* no body is wanted: dropped */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return answer(conn, MHD_HTTP_NOT_FOUND, strdup("not found\n"), 10, "text/plain");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("method not allowed\n"), 19,
		              "text/plain");
	if ((body = ts_metrics_render(&len)) == NULL)
		return MHD_NO;
	return answer(conn, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

ts_err
ts_http_metrics_start(const char *listen, ts_http_metrics **out, unsigned *port_out)
{
	ts_http_metrics *m;
	http_listen l;
	int err = 0;

	*out = NULL;
	if (http_parse_listen(listen, &l) != TS_OK)
		return TS_E_INVALID;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return TS_E_NOMEM;
	if (http_listen_open(&l, 64, &m->lsock, &err) != TS_OK) {
		ts_error("metrics listener %s: %s", listen, strerror(err));
		free(m);
		return TS_E_INTERNAL;
	}
	m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                             (l.v6 ? MHD_USE_IPv6 : 0),
	                             0, NULL, NULL, on_metrics, m,
	                             MHD_OPTION_LISTEN_SOCKET, (MHD_socket)m->lsock,
	                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONN_LIMIT,
	                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT,
	                             MHD_OPTION_END);
	if (m->daemon == NULL) {
		/* The socket is not closed: MHD may have closed it already
		 * (as in server.c's start). The process is about to exit. */
		ts_error("metrics listener %s: libmicrohttpd failed to start", listen);
		free(m);
		return TS_E_INTERNAL;
	}
	if (port_out != NULL)
		*port_out = http_socket_port(m->lsock);
	*out = m;
	return TS_OK;
}

void
ts_http_metrics_stop(ts_http_metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->daemon);   /* closes the listening socket too */
	free(m);
}
