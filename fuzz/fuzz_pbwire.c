/* Fuzz target: the protobuf wire view (kt_pb_view), against protobuf-c on the same bytes.
 * The first byte picks the message: 0 CallResult (VLL), 1 Invocation (LLL), 2
 * EnclaveStepResult (LLLLVLV), 3 CallRequest (L). Whatever the view accepts protobuf-c must
 * accept with the same values (the view is the stricter: no unknown or repeated fields). */
#include <kubetee/base.h>
#include "enclave_service.pb-c.h"

#include <stdlib.h>
#include <string.h>

static void same_bytes(const kt_pb_field *f, const ProtobufCBinaryData *b)
{
    if (f->len != b->len || (f->len && memcmp(f->data, b->data, f->len))) abort();
}

/* A string protobuf-c cut at its first NUL: the view's bytes up to there. */
static void same_string(const kt_pb_field *f, const char *s)
{
    size_t n = strlen(s);
    const uint8_t *nul = f->len ? memchr(f->data, 0, f->len) : NULL;
    if (n != (nul ? (size_t)(nul - f->data) : f->len) || (n && memcmp(f->data, s, n))) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t *m = data + 1;
    size_t n = size - 1;
    kt_pb_field f[7];
    switch (data[0] % 4) {
    case 0: {
        if (kt_pb_view(m, n, "VLL", f, "CallResult")) return 0;
        Kubetee__Enclave__V1__CallResult *r = kubetee__enclave__v1__call_result__unpack(NULL, n, m);
        if (!r || r->status != (int32_t)(uint32_t)f[0].varint) abort();
        same_string(&f[1], r->reason);
        same_bytes(&f[2], &r->response);
        kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
        break;
    }
    case 1: {
        if (kt_pb_view(m, n, "LLL", f, "Invocation")) return 0;
        Kubetee__Enclave__V1__Invocation *r = kubetee__enclave__v1__invocation__unpack(NULL, n, m);
        if (!r) abort();
        same_string(&f[0], r->request_type);
        same_string(&f[1], r->response_type);
        same_bytes(&f[2], &r->request);
        kubetee__enclave__v1__invocation__free_unpacked(r, NULL);
        break;
    }
    case 2: {
        if (kt_pb_view(m, n, "LLLLVLV", f, "EnclaveStepResult")) return 0;
        Kubetee__Enclave__V1__EnclaveStepResult *r = kubetee__enclave__v1__enclave_step_result__unpack(NULL, n, m);
        if (!r || r->ended != (f[4].varint != 0)) abort();
        same_bytes(&f[0], &r->message);
        same_bytes(&f[1], &r->session_id);
        same_bytes(&f[2], &r->peer);
        same_string(&f[3], r->refusal);
        same_string(&f[5], r->reason);
        if (r->proof != (uint32_t)f[6].varint) abort();
        kubetee__enclave__v1__enclave_step_result__free_unpacked(r, NULL);
        break;
    }
    default: {
        if (kt_pb_view(m, n, "L", f, "CallRequest")) return 0;
        Kubetee__Enclave__V1__CallRequest *r = kubetee__enclave__v1__call_request__unpack(NULL, n, m);
        if (!r) abort();
        same_bytes(&f[0], &r->record);
        kubetee__enclave__v1__call_request__free_unpacked(r, NULL);
        break;
    }
    }
    return 0;
}
