/* A verdict as one line of JSON, for `kubetee attest verify --json` and logs. */
#include "internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *hex(const uint8_t *p, size_t n)
{
    char buf[2 * 64 + 1];
    kt_hex_encode(p, n, buf, sizeof buf);
    return json_string(buf);
}

kt_status kt_verdict_json(const kt_verdict *v, kt_buf *out)
{
    if (!v || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "verdict JSON: NULL argument");
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_boolean(v->ok));
    char reason[4 * sizeof v->reason]; /* JSON strings are UTF-8: escape what may be input */
    kt_escape_text(v->reason, v->ok ? 0 : strnlen(v->reason, sizeof v->reason), reason,
                   sizeof reason); /* a message: as it is */
    json_object_set_new(o, "reason", json_string(reason));
    json_object_set_new(o, "simulated", json_boolean(v->simulated));
    if (v->ok) {
        json_object_set_new(o, "tcb_status", json_string(kt_tcb_status_name(v->tcb_status)));
        json_object_set_new(o, "platform_tcb_status",
                            json_string(kt_tcb_status_name(v->platform_status)));
        json_object_set_new(o, "qe_tcb_status", json_string(kt_tcb_status_name(v->qe_status)));
        json_t *ids = json_array();
        for (unsigned i = 0; i < v->advisory_count; i++)
            json_array_append_new(ids, json_string(v->advisories[i]));
        json_object_set_new(o, "advisory_ids", ids);
        json_object_set_new(o, "fmspc", hex(v->fmspc, 6));
    }
    const kt_quote *q = &v->quote;
    if (q->version) {
        json_object_set_new(o, "quote_version", json_integer(q->version));
        json_object_set_new(o, "tee", json_string(q->tee == KT_TEE_TDX ? "TDX" : "SGX"));
        json_t *r = json_object();
        if (q->tee == KT_TEE_SGX) {
            json_object_set_new(r, "mrenclave", hex(q->sgx.mrenclave, 32));
            json_object_set_new(r, "mrsigner", hex(q->sgx.mrsigner, 32));
            json_object_set_new(r, "isvprodid", json_integer(q->sgx.prodid));
            json_object_set_new(r, "isvsvn", json_integer(q->sgx.svn));
            uint8_t attr[16];
            kt_put_le64(attr, q->sgx.attr_flags);
            kt_put_le64(attr + 8, q->sgx.attr_xfrm);
            json_object_set_new(r, "attributes", hex(attr, 16));
            json_object_set_new(r, "debug", json_boolean(q->sgx.attr_flags & 2));
            json_object_set_new(r, "report_data", hex(q->sgx.report_data, 64));
        } else {
            if (v->ok)
                json_object_set_new(o, "tdx_module_tcb_status",
                                    json_string(kt_tcb_status_name(v->module_status)));
            json_object_set_new(r, "mrtd", hex(q->td.mrtd, 48));
            for (int i = 0; i < 4; i++) {
                char k[8];
                snprintf(k, sizeof k, "rtmr%d", i);
                json_object_set_new(r, k, hex(q->td.rtmr[i], 48));
            }
            uint8_t a[8];
            kt_put_le64(a, q->td.td_attributes);
            json_object_set_new(r, "td_attributes", hex(a, 8));
            json_object_set_new(r, "debug", json_boolean(q->td.td_attributes & 1));
            json_object_set_new(r, "mrseam", hex(q->td.mrseam, 48));
            json_object_set_new(r, "tee_tcb_svn", hex(q->td.tee_tcb_svn, 16));
            if (q->td.td15) json_object_set_new(r, "mr_servicetd", hex(q->td.mr_servicetd, 48));
            json_object_set_new(r, "report_data", hex(q->td.report_data, 64));
        }
        json_object_set_new(o, q->tee == KT_TEE_SGX ? "enclave" : "td", r);
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    kt_status st = kt_buf_append(out, s, strlen(s) + 1);
    if (!st) out->len--; /* NUL-terminated, not counted */
    free(s);
    return st;
}
