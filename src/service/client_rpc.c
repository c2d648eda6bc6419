/* The client's transport in a plain process: the service's three gRPC methods. */
#include "client.h"
#include <kubetee/rpc.h>

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

/* The three requests (and responses) are one bytes field 1, the step's message: framed
 * here around what the caller writes and read back in place. */
typedef struct {
    kt_service_fill_fn fill;
    kt_service_got_fn got;
    void *ctx;
    size_t n;
} framing;

static kt_status fill_frame(void *ctx, uint8_t *buf, size_t len)
{
    framing *f = ctx;
    size_t h = kt_pb_header(buf, 1, f->n);
    return h + f->n == len ? f->fill(f->ctx, buf + h, f->n) : kt_fail(KT_ERR_STATE, "service client: framing");
}

static kt_status got_frame(void *ctx, const uint8_t *p, size_t n)
{
    framing *f = ctx;
    kt_pb_field m[1];
    kt_status st = kt_pb_view(p, n, "L", m, "service client: the service's response");
    return st ? st : f->got(f->ctx, m[0].data, m[0].len);
}

kt_status kt_service_link_exchange(kt_service_link *l, kt_service_step step, size_t n, kt_service_fill_fn fill,
                                   kt_service_got_fn got, void *ctx, int timeout_ms)
{
    static const char *const methods[] = {"/kubetee.enclave.v1.EnclaveService/Handshake",
                                          "/kubetee.enclave.v1.EnclaveService/Call",
                                          "/kubetee.enclave.v1.EnclaveService/Close"};
    if ((unsigned)step > KT_SERVICE_CLOSE) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: no step %d", (int)step);
    framing f = {fill, got, ctx, n};
    return kt_rpc_call_raw(l->rpc, methods[step], kt_pb_header_len(n) + n, fill_frame, got_frame, &f, timeout_ms);
}

void kt_service_link_free(kt_service_link *l)
{
    if (!l) return;
    kt_rpc_client_free(l->rpc);
    free(l);
}
