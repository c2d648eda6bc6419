/* The client's transport in an enclave: each step goes to the host as the OCALL
 * kt.service.Relay (relay.c), which carries the bytes over gRPC. The host sees only
 * session messages; it can drop or change them, and the session refuses what it changed. */
#include "client.h"
#include <kubetee/trusted.h>
#include "enclave_service.pb-c.h"

#include <stdlib.h>
#include <string.h>

#define TARGET_MAX 255

struct kt_service_link {
    char target[TARGET_MAX + 1];
};

const char *kt_service_step_name(kt_service_step m)
{
    static const char *const names[] = {"Handshake", "Call", "Close"};
    return (unsigned)m < 3 ? names[m] : NULL;
}

kt_status kt_service_link_open(const char *target, const void *tls, kt_service_link **out)
{
    (void)tls; /* the host's choice: the session protects the bytes either way */
    size_t n = strlen(target);
    if (!n || n > TARGET_MAX) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: a target of 1 to %d bytes", TARGET_MAX);
    kt_service_link *l = calloc(1, sizeof *l);
    if (!l) return kt_fail(KT_ERR_NO_MEMORY, "service client: out of memory");
    memcpy(l->target, target, n + 1);
    *out = l;
    return KT_OK;
}

kt_status kt_service_link_exchange(kt_service_link *l, kt_service_step step, size_t n, kt_service_fill_fn fill,
                                   kt_service_got_fn got, void *ctx, int timeout_ms)
{
    Kubetee__Enclave__V1__RelayRequest rq = KUBETEE__ENCLAVE__V1__RELAY_REQUEST__INIT;
    Kubetee__Enclave__V1__RelayResponse rs = KUBETEE__ENCLAVE__V1__RELAY_RESPONSE__INIT;
    rq.target = l->target;
    rq.step = (char *)kt_service_step_name(step);
    if (!rq.step) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: no step %d", (int)step);
    /* written in enclave memory; the OCALL copies it out */
    kt_buf m = {0};
    kt_status st = kt_buf_reserve(&m, n ? n : 1);
    if (!st && !(st = fill(ctx, m.data, n))) {
        rq.message.data = m.data;
        rq.message.len = n;
        rq.timeout_ms = timeout_ms > 0 ? (uint32_t)timeout_ms : 0;
        if ((st = kt_ocall("kt.service.Relay", &rq, &rs)))
            st = kt_fail_context(st, "service client: relaying the %s to %s", rq.step, l->target);
        else /* untrusted bytes: the session judges them */
            st = got(ctx, rs.message.data, rs.message.len);
    }
    kt_buf_free(&m);
    return st;
}

void kt_service_link_free(kt_service_link *l)
{
    free(l);
}
