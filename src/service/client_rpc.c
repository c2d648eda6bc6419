/* The client's transport in a plain process: the service's three gRPC methods. */
#include "client.h"
#include <kubetee/rpc.h>
#include "enclave_service.pb-c.h"

#include <stdlib.h>

struct kt_service_link {
    kt_rpc_client *rpc;
};

const char *kt_service_step_name(kt_service_step m)
{
    static const char *const names[] = {"Handshake", "Call", "Close"};
    return (unsigned)m < 3 ? names[m] : NULL;
}

kt_status kt_service_link_open(const char *target, const void *tls, kt_service_link **out)
{
    kt_service_link *l = calloc(1, sizeof *l);
    if (!l) return kt_fail(KT_ERR_NO_MEMORY, "service client: out of memory");
    kt_status st = kt_rpc_client_new(target, tls, &l->rpc);
    if (st) {
        free(l);
        return st;
    }
    *out = l;
    return KT_OK;
}

kt_status kt_service_link_send(kt_service_link *l, kt_service_step step, const uint8_t *in, size_t n, int timeout_ms,
                               kt_buf *out)
{
    /* the three requests (and responses) are one bytes field 1: a HandshakeRequest
     * stands for each, sent under the step's method */
    Kubetee__Enclave__V1__HandshakeRequest rq = KUBETEE__ENCLAVE__V1__HANDSHAKE_REQUEST__INIT;
    Kubetee__Enclave__V1__HandshakeResponse hs = KUBETEE__ENCLAVE__V1__HANDSHAKE_RESPONSE__INIT;
    Kubetee__Enclave__V1__CallRequest cq = KUBETEE__ENCLAVE__V1__CALL_REQUEST__INIT;
    Kubetee__Enclave__V1__CallResponse cs = KUBETEE__ENCLAVE__V1__CALL_RESPONSE__INIT;
    Kubetee__Enclave__V1__CloseRequest xq = KUBETEE__ENCLAVE__V1__CLOSE_REQUEST__INIT;
    Kubetee__Enclave__V1__CloseResponse xs = KUBETEE__ENCLAVE__V1__CLOSE_RESPONSE__INIT;
    ProtobufCBinaryData body = {n, (uint8_t *)in}, *got;
    const void *req;
    void *res;
    const char *method;
    switch (step) {
    case KT_SERVICE_HANDSHAKE:
        rq.message = body, req = &rq, res = &hs, got = &hs.message;
        method = "/kubetee.enclave.v1.EnclaveService/Handshake";
        break;
    case KT_SERVICE_CALL:
        cq.record = body, req = &cq, res = &cs, got = &cs.record;
        method = "/kubetee.enclave.v1.EnclaveService/Call";
        break;
    case KT_SERVICE_CLOSE:
        xq.record = body, req = &xq, res = &xs, got = &xs.record;
        method = "/kubetee.enclave.v1.EnclaveService/Close";
        break;
    default:
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: no step %d", (int)step);
    }
    kt_status st = kt_rpc_call(l->rpc, method, req, res, timeout_ms);
    if (!st && got->len) st = kt_buf_append(out, got->data, got->len);
    kt_message_clear(res);
    return st;
}

void kt_service_link_free(kt_service_link *l)
{
    if (!l) return;
    kt_rpc_client_free(l->rpc);
    free(l);
}
