/* The Count stream of the echo service. */
#include "echo_count.h"
#include "echo.pb-c.h"

#include <stdio.h>

kt_status echo_count_to(kt_rpc_stream *out, long n)
{
    for (long i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", i);
        Kubetee__Echo__Msg m = KUBETEE__ECHO__MSG__INIT;
        m.text = buf;
        kt_status st = kt_rpc_stream_send(out, &m);
        if (st) return st;
    }
    return KT_OK;
}
