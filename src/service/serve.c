/* Serving an enclave with one call: the service's gRPC methods on a kt_rpc server, the
 * operator endpoints on kt_http, the start and stop logged, and (kt_service_serve) a wait
 * for SIGTERM or SIGINT followed by a drain. */
#include <kubetee/rpc.h>
#include <kubetee/service.h>
#include <kubetee/svc.h>
#include <kubetee/tff.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define MAX_EXTRA 16

struct kt_service_server {
    kt_service_host *host;
    kt_rpc_server *rpc;
    kt_http *http;
    int port, http_port, drain_ms;
};

static bool ready(void *ctx)
{
    kt_service_server *s = ctx;
    return kt_rpc_server_listening(s->rpc);
}

static void metrics(void *ctx, kt_buf *out)
{
    kt_service_server *s = ctx;
    kt_service_host_metrics(s->host, out);
    kt_rpc_server_metrics(&s->rpc, 1, out);
}

kt_status kt_service_server_start(kt_enclave *e, const kt_service_config *c, kt_service_server **out)
{
    if (!e || !c || !out || !c->listen) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service: NULL argument");
    *out = NULL;
    if (c->n_extra > MAX_EXTRA) return kt_fail(KT_ERR_TOO_LARGE, "service: more than %d extra methods", MAX_EXTRA);
    kt_service_limits l;
    kt_service_limits_default(&l);
    if (c->limits) l = *c->limits;
    kt_service_server *s = calloc(1, sizeof *s);
    if (!s) return kt_fail(KT_ERR_NO_MEMORY, "service: out of memory");
    s->drain_ms = c->drain_ms > 0 ? c->drain_ms : 10000;
    kt_rpc_method m[KT_SERVICE_METHODS + MAX_EXTRA];
    kt_status st = kt_service_host_new(e, &l, &s->host);
    size_t n = 0;
    if (!st) {
        n = kt_service_host_methods(s->host, m);
        for (size_t i = 0; i < c->n_extra; i++) m[n++] = c->extra[i];
        st = kt_rpc_server_new(c->listen, c->tls, c->rpc_limits, m, n, &s->rpc);
    }
    if (!st) st = kt_rpc_server_start(s->rpc, &s->port);
    if (!st && c->http && *c->http) st = kt_http_start(c->http, ready, metrics, s, &s->http, &s->http_port);
    if (st) {
        kt_service_server_stop(s);
        return st;
    }
    const kt_enclave_identity *id = kt_enclave_identity_of(e);
    char port[16], hport[16], mre[65], mrs[65], lim[160];
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(hport, sizeof hport, "%d", s->http_port);
    kt_hex_encode(id->mrenclave, 32, mre, sizeof mre);
    kt_hex_encode(id->mrsigner, 32, mrs, sizeof mrs);
    snprintf(lim, sizeof lim, "max_message=%zu,max_sessions=%zu,max_per_peer=%zu,handshake_ms=%llu,idle_ms=%llu",
             l.max_message, l.max_sessions, l.max_per_peer, (unsigned long long)l.handshake_ms,
             (unsigned long long)l.idle_ms);
    kt_log(KT_LOG_INFO, "service.started", "listen", c->listen, "port", port, "http_port", hport, "tls",
           c->tls ? "on" : "off", "mrenclave", mre, "mrsigner", mrs, "limits", lim, NULL);
    *out = s;
    return KT_OK;
}

int kt_service_server_port(const kt_service_server *s)
{
    return s ? s->port : 0;
}

int kt_service_server_http_port(const kt_service_server *s)
{
    return s ? s->http_port : 0;
}

kt_service_host *kt_service_server_host(kt_service_server *s)
{
    return s ? s->host : NULL;
}

void kt_service_server_stop(kt_service_server *s)
{
    if (!s) return;
    if (s->rpc) kt_rpc_server_shutdown(s->rpc, s->drain_ms);
    kt_rpc_server_free(s->rpc);
    kt_http_stop(s->http); /* after the drain: /readyz says 503 while it runs */
    kt_service_host_free(s->host);
    free(s);
}

kt_status kt_service_serve(kt_enclave *e, const kt_service_config *c)
{
    int sfd = kt_svc_signalfd();
    if (sfd < 0) return kt_fail(KT_ERR_IO, "service: signalfd: %s", strerror(errno));
    kt_service_server *s;
    kt_status st = kt_service_server_start(e, c, &s);
    if (st) {
        close(sfd);
        return st;
    }
    const char *sig = "?";
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t r = read(sfd, &si, sizeof si);
        if (r < 0 && errno == EINTR) continue;
        if (r != (ssize_t)sizeof si) break;
        if (si.ssi_signo == SIGHUP) continue; /* nothing to reload */
        sig = si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
        break;
    }
    char open[24];
    snprintf(open, sizeof open, "%zu", kt_service_host_open(s->host));
    kt_log(KT_LOG_INFO, "service.stopping", "signal", sig, "open_sessions", open, NULL);
    kt_service_server_stop(s);
    close(sfd);
    kt_log(KT_LOG_INFO, "service.stopped", NULL);
    return KT_OK;
}
