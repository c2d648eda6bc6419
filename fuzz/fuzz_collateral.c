/* Fuzz target: the collateral parsers. First byte: 0 TCB Info, 1 QE Identity, 2 the
 * PCK certificate's SGX extensions, 3 the raw-JSON value finder, 4 the PEM chain reader
 * (quotes carry their PCK chain as PEM), 5 PCS times, 6 TCB Evaluation Data Numbers. A TCB
 * Info, QE Identity or TCB Evaluation Data Numbers that
 * parses must have read the value its signature covers: jansson on the whole body and on
 * the signed bytes alone give equal JSON, or a signature could vouch for one value while
 * the verifier reads another. */
#include "../src/attest/internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void signed_is_read(const char *text, size_t len, const char *key, const uint8_t *body,
                           size_t n)
{
    json_t *all = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *signed_value = json_loadb((const char *)body, n, JSON_REJECT_DUPLICATES, NULL);
    if (!all || !signed_value || !json_equal(json_object_get(all, key), signed_value)) abort();
    json_decref(all);
    json_decref(signed_value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t len = n - 1;
    switch (data[0] % 7) {
    case 0: {
        kt_tcb_info t;
        if (kt_tcb_info_parse(text, len, &t) == KT_OK) {
            signed_is_read(text, len, "tcbInfo", t.signed_body, t.signed_len);
            kt_tcb_info_free(&t);
        }
        break;
    }
    case 1: {
        kt_qe_identity q;
        if (kt_qe_identity_parse(text, len, &q) == KT_OK) {
            signed_is_read(text, len, "enclaveIdentity", q.signed_body, q.signed_len);
            kt_qe_identity_free(&q);
        }
        break;
    }
    case 2: {
        kt_pck_info p;
        kt_pck_ext_parse(data + 1, len, &p);
        break;
    }
    case 3: {
        const char *v;
        size_t vl;
        kt_json_raw_value(text, len, "tcbInfo", &v, &vl);
        break;
    }
    case 4: {
        kt_chain chain;
        if (kt_chain_from_pem(text, len, &chain) == KT_OK) kt_chain_free(&chain);
        break;
    }
    case 6: {
        kt_tcb_eval e;
        if (kt_tcb_eval_parse(text, len, &e) == KT_OK)
            signed_is_read(text, len, "tcbEvaluationDataNumbers", e.signed_body, e.signed_len);
        break;
    }
    default: {
        char iso[64];
        time_t t;
        size_t k = len < sizeof iso - 1 ? len : sizeof iso - 1;
        memcpy(iso, text, k);
        iso[k] = '\0';
        kt_time_parse(iso, &t);
    }
    }
    return 0;
}
