/* PCK certificate selection: the facts of Intel's PCKCertSelection (buckets by TCB level,
 * highest first), written from its description. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* a is at or above b: no component and not the PCESVN of a is below b's. (Two TCBs each
 * above the other somewhere are not ordered: neither is at or above the other.) */
static bool at_or_above(const uint8_t a[16], uint16_t a_svn, const uint8_t b[16], uint16_t b_svn)
{
    if (a_svn < b_svn) return false;
    for (int i = 0; i < 16; i++)
        if (a[i] < b[i]) return false;
    return true;
}

kt_status kt_pcs_pck_select(const char *tcb_info, size_t n, const kt_pcs_pck_facts *certs,
                            size_t count, const uint8_t cpusvn[16], uint16_t pcesvn, size_t *best)
{
    if (!tcb_info || (!certs && count) || !cpusvn || !best)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "PCK selection: NULL argument");
    kt_tcb_info t;
    kt_status st = kt_tcb_info_parse(tcb_info, n, &t);
    if (st) return kt_fail_context(st, "PCK selection: TCB Info");
    size_t *bucket = calloc(count ? count : 1, sizeof *bucket);
    size_t *order = calloc(count ? count : 1, sizeof *order);
    if (!bucket || !order) st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    if (!st && t.tcb_type != 0)
        st = kt_fail(KT_ERR_UNSUPPORTED, "PCK selection: tcbType %d (only 0 is defined)",
                     t.tcb_type);
    for (size_t i = 0; !st && i < count; i++) {
        if (memcmp(certs[i].fmspc, t.fmspc, 6))
            st = kt_fail(KT_ERR_MALFORMED,
                         "PCK selection: certificate %zu is for another FMSPC "
                         "than the TCB Info's",
                         i);
        else if (memcmp(certs[i].pceid, t.pceid, 2))
            st = kt_fail(KT_ERR_MALFORMED,
                         "PCK selection: certificate %zu is for another PCE "
                         "ID than the TCB Info's",
                         i);
        else if (memcmp(certs[i].comp, certs[i].cpusvn, 16)) /* tcbType 0 */
            st = kt_fail(KT_ERR_MALFORMED,
                         "PCK selection: certificate %zu's TCB components are "
                         "not its CPUSVN (tcbType 0)",
                         i);
    }
    /* the bucket: the first level the certificate is at or above (levels are highest first,
     * as Intel orders them); past the last, none */
    for (size_t i = 0; !st && i < count; i++) {
        bucket[i] = t.level_count;
        for (unsigned l = 0; l < t.level_count; l++)
            if (at_or_above(certs[i].comp, certs[i].pcesvn, t.levels[l].comp, t.levels[l].pcesvn)) {
                bucket[i] = l;
                break;
            }
    }
    /* order: by bucket; inside one, a certificate goes before the first it is at or above
     * (insertion in arrival order, so equal certificates keep theirs) */
    size_t placed = 0;
    for (size_t b = 0; !st && b <= t.level_count; b++) {
        size_t start = placed;
        for (size_t i = 0; i < count; i++) {
            if (bucket[i] != b) continue;
            size_t at = start;
            while (at < placed && !at_or_above(certs[i].comp, certs[i].pcesvn,
                                               certs[order[at]].comp, certs[order[at]].pcesvn))
                at++;
            memmove(order + at + 1, order + at, (placed - at) * sizeof *order);
            order[at] = i;
            placed++;
        }
    }
    if (!st) {
        st = kt_fail(KT_ERR_NOT_FOUND, "no PCK certificate at or below the platform's TCB");
        for (size_t k = 0; k < placed; k++)
            if (at_or_above(cpusvn, pcesvn, certs[order[k]].comp, certs[order[k]].pcesvn)) {
                *best = order[k];
                kt_clear_error();
                st = KT_OK;
                break;
            }
    }
    free(bucket);
    free(order);
    kt_tcb_info_free(&t);
    return st;
}
