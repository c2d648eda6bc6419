/* The rpc module's test server: `echo_server ADDRESS [--tls CERT KEY [--mtls CA]]`.
 * Prints "READY <port>" when serving; on SIGTERM lets calls in flight finish and exits 0. */
#include <kubetee/rpc.h>
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

static kt_status slow(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Kubetee__Echo__Msg *req = (const Kubetee__Echo__Msg *)rq;
    struct timespec ts = {req->delay_ms / 1000, (long)(req->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return say(ctx, rq, rs);
}

static kt_status fail(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    (void)ctx, (void)rq, (void)rs;
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: echo_server ADDRESS [--tls CERT KEY [--mtls CA]]\n");
        return 2;
    }
    kt_rpc_tls tls = {0};
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--tls") && i + 2 < argc) {
            tls.cert = argv[++i];
            tls.key = argv[++i];
        } else if (!strcmp(argv[i], "--mtls") && i + 1 < argc) {
            tls.ca = argv[++i];
            tls.require_client_cert = true;
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
    if (kt_rpc_server_new(argv[1], &tls, methods, 5, &s) || kt_rpc_server_start(s, &port)) {
        fprintf(stderr, "echo_server: %s\n", kt_last_error());
        return 1;
    }
    printf("READY %d\n", port);
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    kt_rpc_server_shutdown(s, 5000);
    kt_rpc_server_free(s);
    printf("STOPPED\n");
    return 0;
}
