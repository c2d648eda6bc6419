/* Enclaves from the host's side: create, call, destroy. */
#include "host.h"
#include "../../image/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 8

/* The enclaves this thread is inside, innermost first: a nested ECALL from an OCALL
 * reuses the thread's TCS, as on SGX. */
typedef struct inside {
    kt_enclave *e;
    struct inside *prev;
} inside;
static _Thread_local inside *inside_top;
static _Thread_local unsigned inside_depth;

kt_enclave *kt_host_current(void)
{
    return inside_top ? inside_top->e : NULL;
}

static bool thread_inside(const kt_enclave *e)
{
    for (inside *i = inside_top; i; i = i->prev)
        if (i->e == e) return true;
    return false;
}

/* Each thread remembers the TCS it used last and tries it first, so threads settle on
 * TCS of their own and never contend for one cache line. */
static _Thread_local unsigned tcs_hint;

static kt_tcs *tcs_acquire(kt_enclave *e)
{
    unsigned n = e->id.config.tcs_count;
    for (unsigned i = 0; i < n; i++) {
        unsigned slot = (tcs_hint + i) % n;
        unsigned idle = 0;
        if (atomic_load_explicit(&e->tcs[slot].busy, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&e->tcs[slot].busy, &idle, 1,
                                                    memory_order_acquire, memory_order_relaxed)) {
            tcs_hint = slot;
            return &e->tcs[slot];
        }
    }
    return NULL;
}

/* Runs one gate call with TCS accounting. */
static kt_status enter(kt_enclave *e, kt_gate_call *c)
{
    c->detail[0] = '\0';
    bool nested = thread_inside(e);
    if (inside_depth >= MAX_DEPTH)
        return kt_fail(KT_ERR_GATE_DEPTH, "calls nested more than %d deep", MAX_DEPTH);
    kt_tcs *tcs = nested ? NULL : tcs_acquire(e);
    if (!nested && !tcs)
        return kt_fail(KT_ERR_GATE_OUT_OF_TCS, "all %u TCS of enclave %s are busy",
                       e->id.config.tcs_count, e->name);
    inside me = {e, inside_top};
    inside_top = &me;
    inside_depth++;
    kt_status st = kt_platform_enter(e->pe, c);
    inside_depth--;
    inside_top = me.prev;
    if (tcs) atomic_store_explicit(&tcs->busy, 0, memory_order_release);
    return st;
}

static kt_status check_signer(const kt_enclave_options *o, const kt_enclave_identity *id)
{
    if (!o->expect_mrsigner || kt_equal(o->expect_mrsigner, id->mrsigner, 32)) return KT_OK;
    char got[65], want[65];
    kt_hex_encode(id->mrsigner, 32, got, sizeof got);
    kt_hex_encode(o->expect_mrsigner, 32, want, sizeof want);
    return kt_fail(KT_ERR_DENIED, "enclave is signed by %s, expected %s", got, want);
}

kt_status kt_enclave_create(const char *path, const kt_enclave_options *opts, kt_enclave **out)
{
    if (!path || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "enclave create: NULL argument");
    *out = NULL;
    kt_enclave_options o = {0};
    if (opts) o = *opts;
    if (o.platform && strcmp(o.platform, "sim") != 0)
        return kt_fail(KT_ERR_UNSUPPORTED, "platform '%s' is not available here (only 'sim')",
                       o.platform);
    kt_enclave *e = calloc(1, sizeof *e);
    if (!e) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    kt_buf file = {0};
    kt_signed_image img;
    kt_status st = kt_file_read(path, KT_IMAGE_MAX, &file);
    if (!st) st = kt_image_verify_within(file.data, file.len, o.max_enclave_size, &img, &e->id);
    if (!st) st = check_signer(&o, &e->id);
    if (!st && !(e->tcs = aligned_alloc(64, sizeof(kt_tcs) * e->id.config.tcs_count)))
        st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (unsigned i = 0; !st && i < e->id.config.tcs_count; i++)
        atomic_init(&e->tcs[i].busy, 0);
    if (!st) st = kt_sim_state_open(o.sim_dir, &e->state);
    if (!st) st = kt_sim_load(e->state, &img, &e->id, &e->pe);
    kt_buf_free(&file);
    if (st) {
        kt_fail_context(st, "loading %s", path);
        kt_log(KT_LOG_ERROR, "enclave.refused", "path", path, "reason", kt_last_error(), NULL);
        kt_enclave_destroy(e);
        return st;
    }
    kt_hex_encode(e->id.mrenclave, 8, e->name, sizeof e->name);
    int len;
    if (o.identity_path)
        len = snprintf(e->identity_path, sizeof e->identity_path, "%s", o.identity_path);
    else {
        /* keyed by everything the sealing key depends on, so variants never share a file */
        char mre[65], mrs[65];
        kt_hex_encode(e->id.mrenclave, 32, mre, sizeof mre);
        kt_hex_encode(e->id.mrsigner, 32, mrs, sizeof mrs);
        len = snprintf(e->identity_path, sizeof e->identity_path,
                       "%s/identity/%s.%s.%016llx.%016llx.%08x.sealed", kt_sim_state_dir(e->state),
                       mre, mrs, (unsigned long long)e->id.attr_flags,
                       (unsigned long long)e->id.attr_xfrm, e->id.misc_select);
    }
    if (len < 0 || (size_t)len >= sizeof e->identity_path) {
        kt_platform_unload(e->pe); /* never started: no FINI */
        e->pe = NULL;
        kt_enclave_destroy(e);
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "loading %s: the identity file's path is too long",
                       path);
    }
    /* the config block the enclave reads is the one that was measured */
    kt_config_encode(&e->id.config, e->config_blob);
    kt_host_fill(e);

    kt_gate_call c = {.op = KT_GATE_INIT, .host = &e->host};
    st = enter(e, &c);
    if (st) {
        kt_fail(st, "starting enclave %s: %s", path, c.detail[0] ? c.detail : kt_status_name(st));
        kt_log(KT_LOG_ERROR, "enclave.start_failed", "path", path, "reason", kt_last_error(), NULL);
        kt_platform_unload(e->pe);
        e->pe = NULL;
        kt_enclave_destroy(e);
        return st;
    }
    char mre[65], mrs[65];
    kt_hex_encode(e->id.mrenclave, 32, mre, sizeof mre);
    kt_hex_encode(e->id.mrsigner, 32, mrs, sizeof mrs);
    kt_log(KT_LOG_INFO, "enclave.created", "path", path, "platform", "sim", "mrenclave", mre,
           "mrsigner", mrs, "debug", e->id.config.debug ? "true" : "false", NULL);
    *out = e;
    return KT_OK;
}

/* One ECALL of packed bytes; on KT_OK c->res holds the packed response (c->res_inline or
 * malloc'd). */
static kt_status ecall(kt_enclave *e, const char *name, const char *req_type, const char *res_type,
                       const uint8_t *req, size_t len, kt_gate_call *c)
{
    size_t name_len = strlen(name), req_type_len = strlen(req_type), res_type_len = strlen(res_type);
    if (name_len == 0 || name_len > KT_GATE_NAME_MAX || req_type_len > KT_GATE_NAME_MAX ||
        res_type_len > KT_GATE_NAME_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "enclave call: a function or type name is empty or over %d bytes",
                       KT_GATE_NAME_MAX);
    /* c is not zeroed: its buffers are large and written before they are read */
    c->op = KT_GATE_ECALL;
    c->host = NULL;
    c->name = name;
    c->req_type = req_type;
    c->res_type = res_type;
    c->name_len = name_len;
    c->req_type_len = req_type_len;
    c->res_type_len = res_type_len;
    c->req = req;
    c->req_len = len;
    c->res = NULL;
    c->res_len = 0;
    kt_status st = enter(e, c);
    if (st == KT_OK) return st;
    if (kt_status_is_gate(st)) return c->detail[0] ? kt_fail(st, "%s: %s", name, c->detail) : st;
    return kt_fail(st, "%s returned %s%s%s", name, kt_status_name(st), c->detail[0] ? ": " : "",
                   c->detail);
}

kt_status kt_enclave_call(kt_enclave *e, const char *name, const void *req, void *res)
{
    if (!e || !name || !req || !res)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "enclave call: NULL argument");
    uint8_t stack_buf[512];
    uint8_t *packed;
    size_t len;
    kt_status st = kt_pack_request(req, res, e->id.config.max_message_size, stack_buf,
                                   sizeof stack_buf, malloc, &packed, &len);
    if (st) return st;
    /* the descriptors are checked by now */
    kt_gate_call c;
    st = ecall(e, name, ((const ProtobufCMessage *)req)->descriptor->name,
               ((const ProtobufCMessage *)res)->descriptor->name, packed, len, &c);
    if (packed != stack_buf) free(packed);
    if (st) return st;
    st = kt_unpack_response(c.res, c.res_len, res, NULL);
    if (c.res != c.res_inline) free(c.res);
    return st;
}

kt_status kt_enclave_call_packed(kt_enclave *e, const char *name, const char *req_type, const char *res_type,
                                 const uint8_t *req, size_t n, uint8_t **res, size_t *res_len)
{
    if (!e || !name || !req_type || !res_type || (n && !req) || !res || !res_len)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "enclave call: NULL argument");
    *res = NULL;
    *res_len = 0;
    if (n > e->id.config.max_message_size)
        return kt_fail(KT_ERR_GATE_TOO_LARGE, "call: request of %zu bytes is over the limit of %zu", n,
                       (size_t)e->id.config.max_message_size);
    kt_gate_call c;
    kt_status st = ecall(e, name, req_type, res_type, req, n, &c);
    if (st) return st;
    if (c.res == c.res_inline) { /* a small one: the caller's own copy */
        uint8_t *p = malloc(c.res_len ? c.res_len : 1);
        if (!p) return kt_fail(KT_ERR_NO_MEMORY, "enclave call: out of memory");
        memcpy(p, c.res_inline, c.res_len);
        c.res = p;
    }
    *res = c.res;
    *res_len = c.res_len;
    return KT_OK;
}

const kt_enclave_identity *kt_enclave_identity_of(const kt_enclave *e)
{
    return e ? &e->id : NULL;
}

void kt_enclave_destroy(kt_enclave *e)
{
    if (!e) return;
    if (e->pe) {
        kt_gate_call c = {.op = KT_GATE_FINI};
        enter(e, &c);
        kt_platform_unload(e->pe);
        kt_log(KT_LOG_INFO, "enclave.destroyed", "enclave", e->name, NULL);
    }
    kt_sim_state_free(e->state);
    free(e->tcs);
    kt_wipe(e, sizeof *e);
    free(e);
}
