/* The remote-function test enclave: two remote functions, one internal (trusted) one,
 * and test.Probe, a trusted function standing in for the enclave service's session end:
 * it looks a name up in the remote table and calls it there, as the service does after a
 * session has opened a request. */
#include <kubetee/trusted.h>
#include "remotetest.pb-c.h"

#include <stdlib.h>
#include <string.h>

static kt_status echo(const Remotetest__Text *req, Remotetest__Text *res)
{
    res->text = kt_call_strdup(req->text);
    return res->text ? KT_OK : KT_ERR_NO_MEMORY;
}
KT_REMOTE_FUNCTION(echo, "Echo", Remotetest__Text, remotetest__text, Remotetest__Text, remotetest__text)

static kt_status sum(const Remotetest__Numbers *req, Remotetest__Number *res)
{
    int64_t s = 0;
    for (size_t i = 0; i < req->n_values; i++) {
        if (__builtin_add_overflow(s, req->values[i], &s)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "Sum overflows");
    }
    res->value = s;
    return KT_OK;
}
KT_REMOTE_FUNCTION(sum, "remotetest.Sum", Remotetest__Numbers, remotetest__numbers, Remotetest__Number,
                   remotetest__number)

/* Internal: the host may call it, a remote peer never. */
static kt_status internal(const Remotetest__Text *req, Remotetest__Text *res)
{
    (void)req;
    res->text = "internal";
    return KT_OK;
}
KT_TRUSTED_FUNCTION(internal, "Internal", Remotetest__Text, remotetest__text, Remotetest__Text, remotetest__text)

#ifdef BAD_NAME
/* a remote function under a name the runtime reserves: the enclave must not start */
static kt_status echo_again(const Remotetest__Text *req, Remotetest__Text *res)
{
    return echo(req, res);
}
KT_REMOTE_FUNCTION(echo_again, BAD_NAME, Remotetest__Text, remotetest__text, Remotetest__Text, remotetest__text)
#endif

static kt_status probe(const Remotetest__ProbeRequest *req, Remotetest__ProbeReply *res)
{
    const kt_function *f = kt_remote_find(req->name);
    res->found = f != NULL;
    if (f) {
        res->request_type = (char *)f->request->name;
        res->response_type = (char *)f->response->name;
    }
    size_t n = kt_remote_count();
    res->remote_names = kt_call_alloc(n * sizeof *res->remote_names + 1);
    if (!res->remote_names) return KT_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) res->remote_names[i] = (char *)kt_remote_at(i)->name;
    res->n_remote_names = n;
    kt_buf out = {0};
    kt_status st = kt_remote_dispatch(req->name, *req->request_type ? req->request_type : NULL,
                                      *req->response_type ? req->response_type : NULL, req->request.data,
                                      req->request.len, &out);
    res->status = st;
    res->detail = kt_call_strdup(st ? kt_last_error() : "");
    if (!st) st = kt_call_bytes(&res->response, out.data, out.len);
    else
        st = KT_OK;
    kt_buf_free(&out);
    return st;
}
KT_TRUSTED_FUNCTION(probe, "test.Probe", Remotetest__ProbeRequest, remotetest__probe_request,
                    Remotetest__ProbeReply, remotetest__probe_reply)

/* test.Invoke: kt_remote_invoke as the service runs it on a payload a session opened. */
static kt_status invoke(const Remotetest__InvokeRequest *req, Remotetest__Blob *res)
{
    kt_buf out = {0};
    kt_status st = kt_remote_invoke(req->function, req->payload.data, req->payload.len, &out);
    if (!st) st = kt_call_bytes(&res->data, out.data, out.len);
    kt_buf_free(&out);
    return st;
}
KT_TRUSTED_FUNCTION(invoke, "test.Invoke", Remotetest__InvokeRequest, remotetest__invoke_request, Remotetest__Blob,
                    remotetest__blob)

#ifdef SERVICE
#include <kubetee/service.h>
/* The platform gate for quote clients, set at run time: "none", "sim" (a simulation root
 * unpinned, which is refused) or "sim:<hex>" (that root). */
static kt_status platform_gate(const Remotetest__Text *req, Remotetest__Text *res)
{
    (void)res;
    if (!strcmp(req->text, "none")) return kt_service_accept_any_enclave(NULL);
    kt_platform_policy p = {.allow_simulation = true};
    if (!strncmp(req->text, "sim:", 4) && kt_hex_decode(req->text + 4, p.simulation_root, 32))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "test: sim:<64 hex>");
    return kt_service_accept_any_enclave(&p);
}
KT_TRUSTED_FUNCTION(platform_gate, "test.PlatformGate", Remotetest__Text, remotetest__text, Remotetest__Text,
                    remotetest__text)
/* As an enclave service: the one client it serves is tests/data/service_client.pem. */
KT_SERVICE_CLIENT_KEYS({ 0xef, 0xf6, 0x5e, 0x20, 0x07, 0x77, 0xc4, 0x6e, 0x87, 0x30, 0xc8, 0xc1, 0x8b, 0x67, 0xc5, 0xbb, 0xda, 0x98, 0x22, 0x13, 0x31, 0x24, 0x92, 0xc1, 0x0d, 0xc6, 0x85, 0x62, 0xce, 0x72, 0x2e, 0x00, 0x2f, 0xe5, 0x6e, 0xa6, 0x6a, 0xf5, 0x94, 0x7a, 0xe8, 0x65, 0xbb, 0xd2, 0x15, 0x1c, 0x28, 0xd4, 0x87, 0x4b, 0x91, 0xb2, 0x41, 0x8f, 0xd1, 0x1d, 0x2d, 0xea, 0x4c, 0x90, 0x9a, 0xf5, 0xed, 0x2e})
#endif
