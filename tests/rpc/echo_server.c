/* The rpc module's test server:
 *   echo_server ADDRESS [--tls CERT KEY [--mtls CA]] [--limits SPEC] [--metrics HOST:PORT]
 *               [--grace MS]
 * Prints "READY <port>" (and "METRICS <port>") when serving; on SIGTERM lets calls in
 * flight finish and exits 0. */
#include <kubetee/rpc.h>
#include <kubetee/svc.h>
#include "echo.pb-c.h"
#include "echo_count.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static kt_status say(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    (void)ctx;
    const Kubetee__Echo__Msg *req = (const Kubetee__Echo__Msg *)rq;
    Kubetee__Echo__Msg *res = (Kubetee__Echo__Msg *)rs;
    size_t n = strlen(req->text) + 8;
    char *s = kt_call_alloc(n);
    snprintf(s, n, "echo: %s", req->text);
    res->text = s;
    return KT_OK;
}

/* Takes delay_ms, in 10 ms steps, and gives up when the call is cancelled or past its
 * deadline; delay_ms < 0 ignores both (a handler that never looks). */
static kt_status slow(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Kubetee__Echo__Msg *req = (const Kubetee__Echo__Msg *)rq;
    int ms = req->delay_ms < 0 ? -req->delay_ms : req->delay_ms;
    for (int t = 0; t < ms; t += 10) {
        if (req->delay_ms > 0 && kt_rpc_cancelled())
            return kt_fail(KT_ERR_CANCELLED, "gave up: the call was cancelled");
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return say(ctx, rq, rs);
}

/* Refuses every request: text "limit" as a limit would (KT_ERR_TOO_LARGE), any other as
 * a bad argument. */
static kt_status fail(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    (void)ctx, (void)rs;
    if (!strcmp(((const Kubetee__Echo__Msg *)rq)->text, "limit"))
        return kt_fail(KT_ERR_TOO_LARGE, "over this method's limit");
    return kt_fail(KT_ERR_INVALID_ARGUMENT, "this method always fails");
}

static kt_status count(void *ctx, const ProtobufCMessage *rq, kt_rpc_stream *out)
{
    (void)ctx;
    const Kubetee__Echo__CountRequest *req = (const Kubetee__Echo__CountRequest *)rq;
    if (req->n < 0 || req->n > 100000) return kt_fail(KT_ERR_INVALID_ARGUMENT, "n out of range");
    return echo_count_to(out, req->n);
}

/* Sends one message, then waits until the client goes away or the server stops. */
static kt_status forever(void *ctx, const ProtobufCMessage *rq, kt_rpc_stream *out)
{
    (void)ctx, (void)rq;
    Kubetee__Echo__Msg m = KUBETEE__ECHO__MSG__INIT;
    m.text = "first";
    kt_status st = kt_rpc_stream_send(out, &m);
    while (!st && !kt_rpc_stream_wait_closed(out, 1000))
        ;
    return st;
}

static bool ready(void *ctx)
{
    return kt_rpc_server_listening(ctx);
}

static void write_metrics(void *ctx, kt_buf *out)
{
    kt_rpc_server *s = ctx;
    kt_rpc_server_metrics(&s, 1, out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: echo_server ADDRESS [--tls CERT KEY [--mtls CA]]\n");
        return 2;
    }
    kt_rpc_tls tls = {0};
    kt_rpc_limits limits = {0};
    const char *metrics = NULL;
    int grace = 5000;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--tls") && i + 2 < argc) {
            tls.cert = argv[++i];
            tls.key = argv[++i];
        } else if (!strcmp(argv[i], "--mtls") && i + 1 < argc) {
            tls.ca = argv[++i];
            tls.require_client_cert = true;
        } else if (!strcmp(argv[i], "--limits") && i + 1 < argc) {
            if (kt_rpc_limits_parse(argv[++i], &limits)) {
                fprintf(stderr, "echo_server: %s\n", kt_last_error());
                return 2;
            }
        } else if (!strcmp(argv[i], "--grace") && i + 1 < argc) {
            grace = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--metrics") && i + 1 < argc) {
            metrics = argv[++i];
        } else {
            fprintf(stderr, "echo_server: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    const ProtobufCMessageDescriptor *msg = &kubetee__echo__msg__descriptor;
    kt_rpc_method methods[] = {
        {"/kubetee.echo.Echo/Say", msg, msg, say, NULL, NULL},
        {"/kubetee.echo.Echo/Count", &kubetee__echo__count_request__descriptor, msg, NULL, count,
         NULL},
        {"/kubetee.echo.Echo/Fail", msg, msg, fail, NULL, NULL},
        {"/kubetee.echo.Echo/Slow", msg, msg, slow, NULL, NULL},
        {"/kubetee.echo.Echo/Forever", msg, msg, NULL, forever, NULL},
    };
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    kt_rpc_server *s;
    int port = 0;
    if (kt_rpc_server_new(argv[1], &tls, &limits, methods, 5, &s) ||
        kt_rpc_server_start(s, &port)) {
        fprintf(stderr, "echo_server: %s\n", kt_last_error());
        return 1;
    }
    kt_http *http = NULL;
    int mport = 0;
    if (metrics && kt_http_start(metrics, ready, write_metrics, s, &http, &mport)) {
        fprintf(stderr, "echo_server: %s\n", kt_last_error());
        return 1;
    }
    if (http) printf("METRICS %d\n", mport);
    printf("READY %d\n", port);
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    kt_rpc_server_shutdown(s, grace);
    kt_http_stop(http);
    kt_rpc_server_free(s);
    printf("STOPPED\n");
    return 0;
}
