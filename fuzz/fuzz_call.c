/* Fuzz target: the call-message decoder, the code on both sides of the gate that takes
 * a packed request or response from the other side. The first byte picks the function
 * (and so the message type); the rest is the packed message. */
#include "fuzz_gate.h"
#include "tff.pb-c.h"

#include <stdlib.h>
#include <string.h>

static kt_status echo_blob(const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Kubetee__Tff__Blob *req = (const Kubetee__Tff__Blob *)rq;
    Kubetee__Tff__Blob *res = (Kubetee__Tff__Blob *)rs;
    return kt_call_bytes(&res->data, req->data.data, req->data.len);
}

static kt_status echo_identity(const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    memcpy(rs, rq, sizeof(Kubetee__Tff__Identity)); /* fields are call memory: still valid */
    return KT_OK;
}

static const kt_function fns[] = {
    {"Blob", &kubetee__tff__blob__descriptor, &kubetee__tff__blob__descriptor, echo_blob,
     sizeof(Kubetee__Tff__Blob), sizeof(Kubetee__Tff__Blob)},
    {"Identity", &kubetee__tff__identity__descriptor, &kubetee__tff__identity__descriptor,
     echo_identity, sizeof(Kubetee__Tff__Identity), sizeof(Kubetee__Tff__Identity)},
};
static kt_fntab tab = KT_FNTAB_INIT;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (atomic_load(&tab.count) == 0)
        for (size_t i = 0; i < 2; i++)
            kt_fntab_add(&tab, &fns[i]);
    if (n < 1) return 0;
    const kt_function *f = &fns[data[0] & 1];
    uint8_t *res = NULL, inline_buf[64];
    size_t res_len = 0;
    const fuzz_gate g = {.max_message = 1 << 16,
                         .copy_in = true,
                         .res_buf = inline_buf,
                         .res_buf_cap = sizeof inline_buf};
    if (fuzz_dispatch(&tab, f, &g, data + 1, n - 1, &res, &res_len) == KT_OK) {
        /* the caller's half: unpack what came back */
        Kubetee__Tff__Identity out = KUBETEE__TFF__IDENTITY__INIT;
        Kubetee__Tff__Blob blob = KUBETEE__TFF__BLOB__INIT;
        void *msg = f->response == &kubetee__tff__blob__descriptor ? (void *)&blob : (void *)&out;
        if (kt_unpack_response(res, res_len, msg, NULL) == KT_OK) kt_message_clear(msg);
        fuzz_gate_free(&g, res);
    }
    /* and the caller's half on raw bytes */
    Kubetee__Tff__Identity raw = KUBETEE__TFF__IDENTITY__INIT;
    if (kt_unpack_response(data + 1, n - 1, &raw, NULL) == KT_OK) kt_message_clear(&raw);
    return 0;
}
