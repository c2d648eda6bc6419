/* /healthz, /readyz and /metrics with libmicrohttpd. */
#include <kubetee/svc.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kt_http {
    struct MHD_Daemon *d;
    kt_http_ready_fn ready;
    kt_http_metrics_fn metrics;
    void *ctx;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version, (void)upload, (void)state;
    kt_http *h = cls;
    if (*upload_size) return MHD_NO;
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return reply(c, 405, "text/plain", "method not allowed\n", 19);
    if (!strcmp(url, "/healthz")) return reply(c, 200, "text/plain", "ok\n", 3);
    if (!strcmp(url, "/readyz")) {
        bool ready = !h->ready || h->ready(h->ctx);
        return ready ? reply(c, 200, "text/plain", "ready\n", 6)
                     : reply(c, 503, "text/plain", "not ready\n", 10);
    }
    if (!strcmp(url, "/metrics")) {
        kt_buf b = {0};
        if (h->metrics) h->metrics(h->ctx, &b);
        enum MHD_Result ok =
            reply(c, 200, "text/plain; version=0.0.4", b.data ? (char *)b.data : "", b.len);
        kt_buf_free(&b);
        return ok;
    }
    return reply(c, 404, "text/plain", "not found\n", 10);
}

kt_status kt_http_start(const char *address, kt_http_ready_fn ready, kt_http_metrics_fn metrics,
                        void *ctx, kt_http **out, int *port)
{
    if (!address || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "http: NULL argument");
    const char *colon = strrchr(address, ':');
    char host[64] = "0.0.0.0";
    if (!colon || colon - address >= (long)sizeof host)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "http: address '%s' is not host:port", address);
    if (colon > address) snprintf(host, sizeof host, "%.*s", (int)(colon - address), address);
    char *end;
    long p = strtol(colon + 1, &end, 10);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    if (*end || p < 0 || p > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "http: address '%s' is not IPv4 host:port",
                       address);
    kt_http *h = calloc(1, sizeof *h);
    if (!h) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    h->ready = ready;
    h->metrics = metrics;
    h->ctx = ctx;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)p, NULL, NULL, handle, h,
                            MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_LIMIT, 64U,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
    if (!h->d) {
        free(h);
        return kt_fail(KT_ERR_IO, "http: cannot listen on %s", address);
    }
    if (port) {
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
        *port = i ? i->port : (int)p;
    }
    kt_log(KT_LOG_INFO, "http.listening", "address", address, NULL);
    *out = h;
    return KT_OK;
}

void kt_http_stop(kt_http *h)
{
    if (!h) return;
    MHD_stop_daemon(h->d);
    free(h);
}

void kt_metric(kt_buf *out, const char *name, const char *type, const char *help,
               const char *labels, double value)
{
    char line[512];
    int n;
    if (help) {
        n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
        kt_buf_append(out, line, (size_t)n);
    }
    n = snprintf(line, sizeof line, "%s%s%s%s %.17g\n", name, labels ? "{" : "",
                 labels ? labels : "", labels ? "}" : "", value);
    kt_buf_append(out, line, (size_t)n);
}
