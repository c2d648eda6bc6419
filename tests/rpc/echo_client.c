/* The rpc module's test client: `echo_client TARGET [--ca CA] [--cert C --key K]
 * [--name N]`. Calls Say, Count and Fail and prints what came back. */
#include <kubetee/rpc.h>
#include "echo.pb-c.h"

#include <stdio.h>
#include <string.h>

static kt_status on_msg(void *ctx, const ProtobufCMessage *m)
{
    ++*(int *)ctx;
    printf("count: %s\n", ((const Kubetee__Echo__Msg *)m)->text);
    return KT_OK;
}

/* Stops the stream after two messages. */
static kt_status stop_after_two(void *ctx, const ProtobufCMessage *m)
{
    (void)m;
    return ++*(int *)ctx == 2 ? kt_fail(KT_ERR_CANCELLED, "enough") : KT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    kt_rpc_tls tls = {0};
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ca"))
            tls.ca = argv[i + 1];
        else if (!strcmp(argv[i], "--cert"))
            tls.cert = argv[i + 1];
        else if (!strcmp(argv[i], "--key"))
            tls.key = argv[i + 1];
        else if (!strcmp(argv[i], "--name"))
            tls.server_name = argv[i + 1];
    }
    kt_rpc_client *c;
    if (kt_rpc_client_new(argv[1], &tls, &c)) {
        fprintf(stderr, "echo_client: %s\n", kt_last_error());
        return 1;
    }
    Kubetee__Echo__Msg req = KUBETEE__ECHO__MSG__INIT, res = KUBETEE__ECHO__MSG__INIT;
    req.text = "hello";
    kt_status st = kt_rpc_call(c, "/kubetee.echo.Echo/Say", &req, &res, 5000);
    printf("say: %s %s\n", kt_status_name(st), st ? kt_last_error() : res.text);
    kt_message_clear(&res);
    Kubetee__Echo__CountRequest cr = KUBETEE__ECHO__COUNT_REQUEST__INIT;
    cr.n = 3;
    int n = 0;
    st = kt_rpc_call_stream(c, "/kubetee.echo.Echo/Count", &cr, &kubetee__echo__msg__descriptor,
                            on_msg, &n, 5000);
    printf("count done: %s %d\n", kt_status_name(st), n);
    n = 0;
    cr.n = 1000;
    st = kt_rpc_call_stream(c, "/kubetee.echo.Echo/Count", &cr, &kubetee__echo__msg__descriptor,
                            stop_after_two, &n, 5000);
    printf("count stopped: %s %d %s\n", kt_status_name(st), n, kt_last_error());
    st = kt_rpc_call(c, "/kubetee.echo.Echo/Fail", &req, &res, 5000);
    printf("fail: %s %s\n", kt_status_name(st), kt_last_error());
    kt_message_clear(&res);
    req.text = "limit";
    st = kt_rpc_call(c, "/kubetee.echo.Echo/Fail", &req, &res, 5000);
    printf("fail limit: %s %s\n", kt_status_name(st), kt_last_error());
    kt_message_clear(&res);
    kt_rpc_client_free(c);
    return 0;
}
