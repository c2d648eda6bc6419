/* The function bench/ecall measures, compiled into the enclave and into the host. */
#include "work.h"
#include <kubetee/tff_common.h>

#include <string.h>

kt_status bench_work(const Bench__Msg *req, Bench__Msg *res, void *(*alloc)(size_t))
{
    res->id = req->id + 1;
    res->name = req->name;
    uint8_t *p = alloc(req->payload.len ? req->payload.len : 1);
    if (!p) return KT_ERR_NO_MEMORY;
    for (size_t i = 0; i < req->payload.len; i++)
        p[i] = (uint8_t)(req->payload.data[i] ^ 0x5a);
    res->payload.data = p;
    res->payload.len = req->payload.len;
    return KT_OK;
}

kt_status bench_plain_echo(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    (void)ctx;
    const Bench__Msg *req = (const Bench__Msg *)rq;
    Bench__Msg *res = (Bench__Msg *)rs;
    res->id = req->id;
    return kt_call_bytes(&res->payload, req->payload.data, req->payload.len);
}
