/* kubetee svc: what every kubetee service exposes over HTTP for its operators:
 *   /healthz  200 while the process serves requests at all
 *   /readyz   200 when ready() says so, else 503
 *   /metrics  Prometheus text exposition from metrics()
 * (libmicrohttpd, its own thread; GET only, no request bodies). */
#ifndef KUBETEE_SVC_H
#define KUBETEE_SVC_H

#include <kubetee/base.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kt_http kt_http;
typedef bool (*kt_http_ready_fn)(void *ctx);
/* Appends metrics in Prometheus text format to out. */
typedef void (*kt_http_metrics_fn)(void *ctx, kt_buf *out);

/* address: "host:port" or ":port" (all interfaces); port 0 picks one, returned in *port. */
kt_status kt_http_start(const char *address, kt_http_ready_fn ready, kt_http_metrics_fn metrics,
                        void *ctx, kt_http **out, int *port);
void kt_http_stop(kt_http *h);

/* Appends one sample: name{labels} value, with a HELP/TYPE header when help is given. */
void kt_metric(kt_buf *out, const char *name, const char *type, const char *help,
               const char *labels, double value);

#ifdef __cplusplus
}
#endif
#endif
