/* Both halves of a call by name. The callee half (kt_dispatch) serves ECALLs in the
 * enclave and OCALLs on the host; the caller half packs requests and unpacks responses.
 * One implementation, so both directions check the same things the same way. */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kt_detail(char *detail, size_t cap, const char *reason)
{
    if (detail && cap) {
        snprintf(detail, cap, "%s", reason);
    }
}

static kt_status gate_fail(const kt_dispatch_args *a, kt_status st, const char *fmt, const char *x,
                           const char *y)
{
    char reason[256];
    snprintf(reason, sizeof reason, fmt, x, y);
    kt_detail(a->detail, a->detail_cap, reason);
    return kt_fail(st, "%s", reason);
}

struct kt_raw_reply {
    const kt_dispatch_args *a;
    bool given;
};

kt_status kt_raw_reply_bytes(kt_raw_reply *r, const uint8_t *p, size_t n)
{
    if (!r || (n && !p)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "raw reply: NULL argument");
    if (r->given) return kt_fail(KT_ERR_STATE, "raw reply: the response was given already");
    const kt_dispatch_args *a = r->a;
    if (n > a->max_message) return kt_fail(KT_ERR_GATE_TOO_LARGE, "raw reply: %zu bytes over the message limit", n);
    uint8_t *out = a->res_buf && n <= a->res_buf_cap ? a->res_buf : a->alloc(n ? n : 1);
    if (!out) return kt_fail(KT_ERR_NO_MEMORY, "raw reply: out of memory for %zu bytes", n);
    if (n) memcpy(out, p, n);
    *a->res = out;
    *a->res_len = n;
    r->given = true;
    return KT_OK;
}

/* A raw function: the bytes as they are, the response as it gave it. */
static kt_status dispatch_raw(const kt_function *f, const kt_dispatch_args *a)
{
    kt_raw_reply r = {a, false};
    kt_clear_error();
    kt_status st = f->raw(a->req, a->req_len, &r);
    if (!st && !r.given) return gate_fail(a, KT_ERR_GATE_BAD_MESSAGE, "%s gave no response%s", f->name, "");
    if (st) {
        if (kt_status_is_gate(st)) st = KT_ERR_FUNCTION;
        kt_detail(a->detail, a->detail_cap, kt_last_error());
    }
    return st;
}

kt_status kt_dispatch(kt_fntab *t, const kt_dispatch_args *a)
{
    const kt_function *f = kt_fntab_find(t, a->name);
    if (!f) return gate_fail(a, KT_ERR_GATE_NO_FUNCTION, "no function named '%s'%s", a->name, "");
    if (strcmp(f->request->name, a->req_type) != 0)
        return gate_fail(a, KT_ERR_GATE_TYPE_MISMATCH, "%s takes %s", f->name, f->request->name);
    if (strcmp(f->response->name, a->res_type) != 0)
        return gate_fail(a, KT_ERR_GATE_TYPE_MISMATCH, "%s returns %s", f->name, f->response->name);
    if (a->req_len > a->max_message)
        return gate_fail(a, KT_ERR_GATE_TOO_LARGE, "request to %s is over the message limit%s",
                         f->name, "");

    if (f->raw) return dispatch_raw(f, a);

    kt_frame frame;
    kt_frame_push(&frame);
    kt_status st = KT_OK;
    const uint8_t *bytes = a->req;
    if (a->copy_in && a->req_len) {
        uint8_t *copy = kt_frame_alloc(&frame, a->req_len);
        if (!copy) {
            st = gate_fail(a, KT_ERR_GATE_ENCLAVE, "out of memory copying the request to %s%s",
                           f->name, "");
            goto out;
        }
        memcpy(copy, a->req, a->req_len);
        bytes = copy;
    }
    ProtobufCAllocator arena = kt_frame_allocator(&frame);
    ProtobufCMessage *req = protobuf_c_message_unpack(f->request, &arena, a->req_len, bytes);
    ProtobufCMessage *res = kt_frame_alloc(&frame, f->response->sizeof_message);
    if (!req) {
        st = gate_fail(a, KT_ERR_GATE_BAD_MESSAGE, "request to %s is not a valid %s", f->name,
                       f->request->name);
        goto out;
    }
    if (!res) {
        st = gate_fail(a, KT_ERR_GATE_ENCLAVE, "out of memory for the response of %s%s", f->name,
                       "");
        goto out;
    }
    protobuf_c_message_init(f->response, res);
    kt_clear_error();
    st = f->call(req, res);
    if (st != KT_OK) {
        if (kt_status_is_gate(st)) st = KT_ERR_FUNCTION; /* a function can't pass for the gate */
        kt_detail(a->detail, a->detail_cap, kt_last_error()); /* the function's own reason */
        goto out;
    }
    if (!protobuf_c_message_check(res)) {
        st = gate_fail(a, KT_ERR_GATE_BAD_MESSAGE, "%s filled an invalid %s", f->name,
                       f->response->name);
        goto out;
    }
    size_t n = protobuf_c_message_get_packed_size(res);
    if (n > a->max_message) {
        st = gate_fail(a, KT_ERR_GATE_TOO_LARGE, "response of %s is over the message limit%s",
                       f->name, "");
        goto out;
    }
    uint8_t *out = a->place                          ? a->place(a->place_ctx, n)
                   : a->res_buf && n <= a->res_buf_cap ? a->res_buf
                                                       : a->alloc(n ? n : 1);
    if (!out) {
        st = gate_fail(a, KT_ERR_GATE_ENCLAVE, "out of memory for the response of %s%s", f->name,
                       "");
        goto out;
    }
    protobuf_c_message_pack(res, out);
    *a->res = out;
    *a->res_len = n;
out:
    kt_frame_pop(&frame);
    return st;
}

kt_status kt_pack_request(const void *req, const void *res, size_t max_message, uint8_t *buf,
                          size_t buf_cap, void *(*alloc)(size_t), uint8_t **packed, size_t *len)
{
    const ProtobufCMessage *rq = req, *rs = res;
    if (!rq || !rq->descriptor || rq->descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "call: req is not a protobuf-c message");
    if (!rs || !rs->descriptor || rs->descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "call: res is not an initialised protobuf-c message (use its _INIT)");
    size_t n = protobuf_c_message_get_packed_size(rq);
    if (n > max_message)
        return kt_fail(KT_ERR_GATE_TOO_LARGE, "call: request of %zu bytes is over the limit of %zu",
                       n, max_message);
    uint8_t *p = buf && n <= buf_cap ? buf : alloc(n ? n : 1);
    if (!p) return kt_fail(KT_ERR_NO_MEMORY, "call: out of memory packing %zu bytes", n);
    protobuf_c_message_pack(rq, p);
    *packed = p;
    *len = n;
    return KT_OK;
}

kt_status kt_unpack_response(const uint8_t *data, size_t len, void *res,
                             ProtobufCAllocator *allocator)
{
    ProtobufCMessage *rs = res;
    if (!kt_unpack_into(rs, allocator, len, data))
        return kt_fail(KT_ERR_GATE_BAD_MESSAGE, "response is not a valid %s", rs->descriptor->name);
    return KT_OK;
}
