/* OCALLs: the request is packed into host memory, the response is checked against the
 * size limit and copied into the enclave before it is parsed. */
#include "trts.h"

#include <string.h>

kt_status kt_ocall(const char *name, const void *req, void *res)
{
    const kt_gate_host *h = kt_trts_host;
    if (!name || !req || !res) return kt_fail(KT_ERR_INVALID_ARGUMENT, "ocall: NULL argument");
    if (!h || !kt_in_call())
        return kt_fail(KT_ERR_GATE_NOT_ALLOWED, "ocall %s: only during a call into the enclave",
                       name);
    uint8_t *packed;
    size_t len;
    kt_status st =
        kt_pack_request(req, res, kt_trts_max_message, NULL, 0, h->host_alloc, &packed, &len);
    if (st) return st;
    uint8_t *out = NULL;
    size_t out_len = 0;
    char detail[512] = "";
    st = h->ocall(h->ctx, name, ((const ProtobufCMessage *)req)->descriptor->name,
                  ((const ProtobufCMessage *)res)->descriptor->name, packed, len, &out, &out_len,
                  detail, sizeof detail);
    h->host_free(packed);
    if (st) {
        detail[sizeof detail - 1] = '\0';
        if (kt_status_is_gate(st)) return kt_fail(st, "ocall %s: %s", name, detail);
        return kt_fail(st, "ocall %s returned %s%s%s", name, kt_status_name(st),
                       detail[0] ? ": " : "", detail);
    }
    if (out_len > kt_trts_max_message) {
        h->host_free(out);
        return kt_fail(KT_ERR_GATE_TOO_LARGE, "ocall %s: response over the message limit", name);
    }
    uint8_t *copy = kt_call_memdup(out, out_len ? out_len : 1);
    h->host_free(out);
    if (!copy) return kt_fail(KT_ERR_NO_MEMORY, "ocall %s: out of memory", name);
    return kt_unpack_response(copy, out_len, res, &kt_call_allocator);
}
