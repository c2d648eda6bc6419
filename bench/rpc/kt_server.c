/* The server measured: the same two methods through kubetee's rpc server. */
#include "rpc.h"
#include "echo.pb-c.h"
#include "echo_count.h"
#include <kubetee/rpc.h>

#include <stdio.h>
#include <unistd.h>

static kt_status say(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    (void)ctx;
    ((Kubetee__Echo__Msg *)rs)->text = ((const Kubetee__Echo__Msg *)rq)->text;
    return KT_OK;
}

static kt_status count(void *ctx, const ProtobufCMessage *rq, kt_rpc_stream *out)
{
    (void)ctx;
    return echo_count_to(out, ((const Kubetee__Echo__CountRequest *)rq)->n);
}

int kt_serve(const char *address)
{
    const ProtobufCMessageDescriptor *msg = &kubetee__echo__msg__descriptor;
    kt_rpc_method methods[] = {
        {BENCH_SAY, msg, msg, say, NULL, NULL},
        {BENCH_COUNT, &kubetee__echo__count_request__descriptor, msg, NULL, count, NULL},
    };
    kt_log_set_level(KT_LOG_WARN); /* the BENCH lines, not "listening" */
    kt_rpc_server *s;
    int port = 0;
    /* the default pool, with a queue that takes every one of the 64 clients' calls */
    kt_rpc_limits limits = {.queue = 128};
    if (kt_rpc_server_new(address, NULL, &limits, methods, 2, &s) ||
        kt_rpc_server_start(s, &port)) {
        fprintf(stderr, "kubetee server: %s\n", kt_last_error());
        return 1;
    }
    printf("READY %d\n", port);
    fflush(stdout);
    for (;;) /* until the benchmark ends this process */
        pause();
}
