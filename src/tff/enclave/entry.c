/* The enclave's single entry point: INIT, ECALL and FINI arrive here. */
#include "trts.h"
#include "../../image/internal.h"
#include "../../crypto/internal.h"

#include <stdio.h>
#include <string.h>

const kt_gate_host *kt_trts_host;
size_t kt_trts_max_message;

static void log_to_host(kt_log_level level, const char *line)
{
    if (kt_trts_host) kt_trts_host->log(kt_trts_host->ctx, (int)level, line);
}

static kt_status init(kt_gate_call *c)
{
    const kt_gate_host *h = c->host;
    if (!h || h->abi != KT_GATE_ABI) {
        kt_detail(c->detail, sizeof c->detail, "host runtime speaks another gate ABI");
        return KT_ERR_GATE_ENCLAVE;
    }
    if (kt_trts_host) {
        kt_detail(c->detail, sizeof c->detail, "enclave already initialised");
        return KT_ERR_STATE;
    }
    kt_enclave_config cfg;
    uint8_t blob[KT_CONFIG_BLOB_LEN];
    memcpy(blob, h->config, sizeof blob); /* copy in before use */
    kt_status st = kt_config_decode(blob, &cfg);
    if (st) {
        kt_detail(c->detail, sizeof c->detail, kt_last_error());
        return st;
    }
    kt_trts_max_message = cfg.max_message_size;
    kt_trts_host = h;
    kt_log_set_sink(log_to_host);
    if ((st = kt_trts_registration_status(c->detail, sizeof c->detail))) return st;
    kt_frame frame;
    kt_frame_push(&frame);
    if (!(st = kt_trts_register_builtins()) && !(st = kt_trts_register_describe()) && !(st = kt_trts_self_init()))
        st = kt_identity_init();
    kt_frame_pop(&frame);
    if (st) {
        kt_detail(c->detail, sizeof c->detail, kt_last_error());
        kt_aead_release(); /* a failed start gets no FINI: the image is unloaded next */
        kt_digest_release();
    }
    return st;
}

/* Copies exactly len bytes of a host-supplied name, which must hold no NUL. */
static bool copy_name(char dst[KT_GATE_NAME_MAX + 1], const char *src, size_t len)
{
    if (!src || len == 0 || len > KT_GATE_NAME_MAX) return false;
    if (memccpy(dst, src, '\0', len)) return false; /* one pass: a NUL within len is refused */
    dst[len] = '\0';
    return true;
}

__attribute__((visibility("default"))) kt_status kt_enclave_entry(kt_gate_call *c);

kt_status kt_enclave_entry(kt_gate_call *c)
{
    if (!c) return KT_ERR_GATE_ENCLAVE;
    switch (c->op) {
    case KT_GATE_INIT:
        return init(c);
    case KT_GATE_ECALL: {
        if (!kt_trts_host) {
            kt_detail(c->detail, sizeof c->detail, "enclave not initialised");
            return KT_ERR_GATE_ENCLAVE;
        }
        /* copy the names in: the host could change them while we look them up */
        char name[KT_GATE_NAME_MAX + 1], req_type[KT_GATE_NAME_MAX + 1],
            res_type[KT_GATE_NAME_MAX + 1];
        if ((c->req_len && !c->req) || !copy_name(name, c->name, c->name_len) ||
            !copy_name(req_type, c->req_type, c->req_type_len) ||
            !copy_name(res_type, c->res_type, c->res_type_len)) {
            kt_detail(c->detail, sizeof c->detail, "malformed call (names or request)");
            return KT_ERR_GATE_BAD_MESSAGE;
        }
        uint8_t *res = NULL;
        size_t res_len = 0;
        kt_dispatch_args a = {.name = name,
                              .req_type = req_type,
                              .res_type = res_type,
                              .req = c->req,
                              .req_len = c->req_len,
                              .max_message = kt_trts_max_message,
                              .copy_in = true,
                              .alloc = kt_trts_host->host_alloc,
                              .res_buf = c->res_inline,
                              .res_buf_cap = sizeof c->res_inline,
                              .res = &res,
                              .res_len = &res_len,
                              .detail = c->detail,
                              .detail_cap = sizeof c->detail};
        kt_status st = kt_dispatch(kt_trts_functions(), &a);
        c->res = res;
        c->res_len = res_len;
        return st;
    }
    case KT_GATE_FINI:
        kt_trts_run_fini();
        kt_identity_fini();
        kt_aead_release();
        kt_digest_release();
        kt_log_set_sink(NULL);
        kt_trts_host = NULL;
        return KT_OK;
    default:
        kt_detail(c->detail, sizeof c->detail, "unknown gate operation");
        return KT_ERR_GATE_ENCLAVE;
    }
}
