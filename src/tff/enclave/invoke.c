/* One remote call as the enclave service runs it inside a session: the record's function
 * name, an Invocation payload in, a CallResult payload out. Every outcome is a CallResult,
 * so the peer learns why a call did not run (in its session, not in the host's hearing).
 * The Invocation is read in place and the response packed straight into the CallResult:
 * the request's bytes are copied once (by the function's own unpack), the response's
 * once (its pack). */
#include "trts.h"
#include "enclave_service.pb-c.h"

#include <string.h>

static kt_status pack_result(int32_t status, const char *reason, kt_buf *out)
{
    Kubetee__Enclave__V1__CallResult r = KUBETEE__ENCLAVE__V1__CALL_RESULT__INIT;
    r.status = status;
    r.reason = (char *)reason;
    size_t n = kubetee__enclave__v1__call_result__get_packed_size(&r);
    kt_status st = kt_buf_reserve(out, n);
    if (st) return st;
    out->len += kubetee__enclave__v1__call_result__pack(&r, out->data + out->len);
    return KT_OK;
}

/* A type name of the Invocation, NUL-terminated: 1..255 bytes without a NUL. */
static bool type_name(const kt_pb_field *f, char out[KT_GATE_NAME_MAX + 1])
{
    if (!f->len || f->len > KT_GATE_NAME_MAX || memchr(f->data, 0, f->len)) return false;
    memcpy(out, f->data, f->len);
    out[f->len] = '\0';
    return true;
}

/* The response goes after its CallResult header (field 3, response). */
typedef struct {
    kt_buf *b;
    size_t header;
} placing;

static uint8_t *place(void *ctx, size_t n)
{
    placing *p = ctx;
    if (kt_buf_reserve(p->b, KT_PB_HEADER_MAX + n)) return NULL;
    uint8_t *at = p->b->data + p->b->len;
    p->header = kt_pb_header(at, 3, n);
    return at + p->header;
}

kt_status kt_remote_invoke(const char *function, const uint8_t *payload, size_t n, kt_buf *result)
{
    if (!function || (n && !payload) || !result)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "remote: NULL argument");
    kt_pb_field f[3];
    char req_type[KT_GATE_NAME_MAX + 1], res_type[KT_GATE_NAME_MAX + 1];
    if (kt_pb_view(payload, n, "LLL", f, "kubetee.enclave.v1.Invocation"))
        return pack_result(KT_ERR_GATE_BAD_MESSAGE, "the payload is not a kubetee.enclave.v1.Invocation", result);
    /* the caller states both types: an empty one is refused, never taken as "any" */
    if (!f[0].len || !f[1].len)
        return pack_result(KT_ERR_GATE_TYPE_MISMATCH, "an Invocation names its request and response types", result);
    if (!type_name(&f[0], req_type) || !type_name(&f[1], res_type))
        return pack_result(KT_ERR_GATE_BAD_MESSAGE, "an Invocation's type names are 1..255 bytes without NUL", result);
    placing p = {result, 0};
    size_t len = 0;
    kt_status st = kt_remote_run(function, req_type, res_type, f[2].data, f[2].len, place, &p, &len);
    if (st) return pack_result(st, kt_last_error(), result);
    result->len += p.header + len;
    return KT_OK;
}
