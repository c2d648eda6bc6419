/* Quotes from inside the enclave: a REPORT for the quoting enclave, which the host only
 * relays (it cannot alter the report without breaking its MAC, which the QE checks). */
#include "trts.h"
#include "tff.pb-c.h"

#include <string.h>

kt_status kt_quote_create(const uint8_t report_data[KT_REPORT_DATA_LEN], kt_buf *quote)
{
    if (!report_data || !quote) return kt_fail(KT_ERR_INVALID_ARGUMENT, "quote: NULL argument");
    Kubetee__Tff__Empty empty = KUBETEE__TFF__EMPTY__INIT;
    Kubetee__Tff__Blob ti = KUBETEE__TFF__BLOB__INIT, req = KUBETEE__TFF__BLOB__INIT,
                       res = KUBETEE__TFF__BLOB__INIT;
    kt_status st = kt_ocall("kt.qe.TargetInfo", &empty, &ti);
    if (st) return kt_fail_context(st, "quote: the quoting enclave's target info");
    if (ti.data.len != KT_TARGET_INFO_LEN)
        return kt_fail(KT_ERR_MALFORMED, "quote: target info of %zu bytes", ti.data.len);
    uint8_t report[KT_REPORT_LEN];
    if ((st = kt_report_create(ti.data.data, report_data, report))) return st;
    req.data.data = report;
    req.data.len = sizeof report;
    if ((st = kt_ocall("kt.qe.Quote", &req, &res))) return kt_fail_context(st, "quote");
    /* what comes back is untrusted bytes: the verifier, not this enclave, judges them */
    return kt_buf_append(quote, res.data.data, res.data.len);
}
