/* Remote functions: found by name only in their own table, so a name that is not marked
 * remote (a trusted function, a runtime built-in) is never reached this way. */
#include "trts.h"

#include <stdlib.h>
#include <string.h>

const kt_function *kt_remote_find(const char *name)
{
    return name ? kt_fntab_find(kt_trts_remote_functions(), name) : NULL;
}

size_t kt_remote_count(void)
{
    return kt_fntab_count(kt_trts_remote_functions());
}

const kt_function *kt_remote_at(size_t i)
{
    return kt_fntab_at(kt_trts_remote_functions(), i);
}

kt_status kt_remote_run(const char *name, const char *req_type, const char *res_type, const uint8_t *req, size_t n,
                        uint8_t *(*place)(void *ctx, size_t n), void *ctx, size_t *len)
{
    const kt_function *f = kt_remote_find(name);
    char detail[256];
    if (!f) {
        char esc[96];
        return kt_fail(KT_ERR_GATE_NO_FUNCTION, "no remote function named '%s'",
                       kt_escape(name, strlen(name), esc, sizeof esc));
    }
    uint8_t *out = NULL;
    kt_dispatch_args a = {
        .name = name,
        .req_type = req_type ? req_type : f->request->name,
        .res_type = res_type ? res_type : f->response->name,
        .req = req,
        .req_len = n,
        .max_message = kt_trts_max_message,
        .copy_in = false, /* the session opened it into enclave memory */
        .place = place,
        .place_ctx = ctx,
        .res = &out,
        .res_len = len,
        .detail = detail,
        .detail_cap = sizeof detail,
    };
    kt_status st = kt_dispatch(kt_trts_remote_functions(), &a);
    return st && !kt_status_is_gate(st) ? kt_fail(st, "%s", detail) : st;
}

static uint8_t *heap(void *ctx, size_t n)
{
    uint8_t **p = ctx;
    return *p = malloc(n ? n : 1);
}

kt_status kt_remote_dispatch(const char *name, const char *req_type, const char *res_type, const uint8_t *req,
                             size_t n, kt_buf *res)
{
    if (!name || (n && !req) || !res || res->data)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "remote: NULL argument or a non-empty response buffer");
    uint8_t *out = NULL;
    size_t len = 0;
    kt_status st = kt_remote_run(name, req_type, res_type, req, n, heap, &out, &len);
    if (st) {
        free(out);
        return st;
    }
    res->data = out;
    res->len = res->cap = len;
    return KT_OK;
}
