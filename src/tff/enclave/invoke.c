/* One remote call as the enclave service runs it inside a session: the record's function
 * name, an Invocation payload in, a CallResult payload out. Every outcome is a CallResult,
 * so the peer learns why a call did not run (in its session, not in the host's hearing). */
#include "trts.h"
#include "enclave_service.pb-c.h"

#include <string.h>

static kt_status pack_result(int32_t status, const char *reason, const kt_buf *response, kt_buf *out)
{
    Kubetee__Enclave__V1__CallResult r = KUBETEE__ENCLAVE__V1__CALL_RESULT__INIT;
    r.status = status;
    r.reason = (char *)(status ? reason : "");
    if (!status && response) {
        r.response.data = response->data;
        r.response.len = response->len;
    }
    size_t n = kubetee__enclave__v1__call_result__get_packed_size(&r);
    kt_status st = kt_buf_reserve(out, n);
    if (st) return st;
    out->len += kubetee__enclave__v1__call_result__pack(&r, out->data + out->len);
    return KT_OK;
}

kt_status kt_remote_invoke(const char *function, const uint8_t *payload, size_t n, kt_buf *result)
{
    if (!function || (n && !payload) || !result)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "remote: NULL argument");
    Kubetee__Enclave__V1__Invocation *inv = kubetee__enclave__v1__invocation__unpack(NULL, n, payload);
    if (!inv)
        return pack_result(KT_ERR_GATE_BAD_MESSAGE, "the payload is not a kubetee.enclave.v1.Invocation", NULL,
                           result);
    kt_buf res = {0};
    /* the caller states both types: an empty one is refused, never taken as "any" */
    kt_status st = !*inv->request_type || !*inv->response_type
                       ? kt_fail(KT_ERR_GATE_TYPE_MISMATCH, "an Invocation names its request and response types")
                       : kt_remote_dispatch(function, inv->request_type, inv->response_type, inv->request.data,
                                            inv->request.len, &res);
    kubetee__enclave__v1__invocation__free_unpacked(inv, NULL);
    st = pack_result(st, kt_last_error(), &res, result);
    kt_buf_free(&res);
    return st;
}
