/* The host's side of OCALLs: the table of untrusted functions, the runtime's own
 * (kt.identity.load/store), and the log line an enclave hands out. */
#include "host.h"
#include "tff.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kt_fntab untrusted = KT_FNTAB_INIT;

kt_status kt_untrusted_register(const kt_function *f)
{
    if (f && f->name && strncmp(f->name, "kt.", 3) == 0)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "register: names starting with 'kt.' are reserved");
    return kt_fntab_add(&untrusted, f);
}

kt_status kt_untrusted_register_runtime(const kt_function *f)
{
    if (!f || !f->name || strncmp(f->name, "kt.", 3) != 0)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "register: runtime functions are named kt.*");
    return kt_fntab_add(&untrusted, f);
}

/* ---- the runtime's own untrusted functions ---- */

static kt_status add_builtin(const kt_function *f)
{
    return kt_fntab_add(&untrusted, f);
}

static kt_status identity_load(const Kubetee__Tff__Empty *req, Kubetee__Tff__Blob *res)
{
    (void)req;
    kt_enclave *e = kt_host_current();
    kt_buf b = {0};
    kt_status st = kt_file_read(e->identity_path, 1 << 20, &b);
    if (st == KT_OK) st = kt_call_bytes(&res->data, b.data, b.len);
    kt_buf_free(&b);
    return st;
}

static kt_status identity_store(const Kubetee__Tff__Blob *req, Kubetee__Tff__Empty *res)
{
    (void)res;
    kt_enclave *e = kt_host_current();
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", e->identity_path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        kt_status st = kt_mkdirs(dir, 0700);
        if (st) return st;
    }
    kt_status st = kt_file_write_atomic(e->identity_path, req->data.data, req->data.len, 0600);
    if (!st)
        kt_log(KT_LOG_INFO, "enclave.identity_stored", "enclave", e->name, "path", e->identity_path,
               NULL);
    return st;
}

KT__FUNCTION(add_builtin, identity_load, "kt.identity.load", Kubetee__Tff__Empty,
             kubetee__tff__empty, Kubetee__Tff__Blob, kubetee__tff__blob)
KT__FUNCTION(add_builtin, identity_store, "kt.identity.store", Kubetee__Tff__Blob,
             kubetee__tff__blob, Kubetee__Tff__Empty, kubetee__tff__empty)

/* ---- the gate's host table ---- */

static kt_status host_ocall(void *ctx, const char *name, const char *req_type, const char *res_type,
                            const uint8_t *req, size_t req_len, uint8_t **res, size_t *res_len,
                            char *detail, size_t detail_cap)
{
    kt_enclave *e = ctx;
    /* the names come from the enclave: bounded before they are compared */
    if (!name || !req_type || !res_type || strnlen(name, 256) == 256 ||
        strnlen(req_type, 256) == 256 || strnlen(res_type, 256) == 256 || (req_len && !req)) {
        kt_detail(detail, detail_cap, "malformed OCALL (names or request)");
        return KT_ERR_GATE_BAD_MESSAGE;
    }
    kt_dispatch_args a = {.name = name,
                          .req_type = req_type,
                          .res_type = res_type,
                          .req = req,
                          .req_len = req_len,
                          .max_message = e->id.config.max_message_size,
                          .alloc = malloc,
                          .res = res,
                          .res_len = res_len,
                          .detail = detail,
                          .detail_cap = detail_cap};
    return kt_dispatch(&untrusted, &a);
}

static void host_log(void *ctx, int level, const char *line)
{
    kt_enclave *e = ctx;
    kt_log((kt_log_level)level, "enclave.log", "enclave", e->name, "line", line, NULL);
}

void kt_host_fill(kt_enclave *e)
{
    e->host.abi = KT_GATE_ABI;
    e->host.ctx = e;
    e->host.ocall = host_ocall;
    e->host.host_alloc = malloc;
    e->host.host_free = free;
    e->host.log = host_log;
    e->host.config = e->config_blob;
    kt_platform_cpu(e->pe, &e->host);
}
