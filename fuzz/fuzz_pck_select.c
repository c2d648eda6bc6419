/* Fuzz target: PCK certificate selection over a TCB Info body. Input: the FMSPC (6) and
 * PCE ID (2) every certificate names, a count k (one byte, at most 8), k certificates'
 * TCBs and the raw TCB (16 components, PCESVN little-endian: 18 bytes each), then the TCB
 * Info. Whatever is chosen must be at or below the raw TCB. */
#include <kubetee/attest.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 9) return 0;
    size_t k = data[8] % 9;
    if (n < 9 + 18 * (k + 1)) return 0;
    kt_pcs_pck_facts certs[8];
    const uint8_t *at = data + 9;
    for (size_t i = 0; i < k; i++, at += 18) {
        memset(&certs[i], 0, sizeof certs[i]);
        memcpy(certs[i].comp, at, 16);
        memcpy(certs[i].cpusvn, at, 16);
        certs[i].pcesvn = (uint16_t)(at[16] | at[17] << 8);
        memcpy(certs[i].fmspc, data, 6);
        memcpy(certs[i].pceid, data + 6, 2);
    }
    const uint8_t *raw = at;
    uint16_t pcesvn = (uint16_t)(raw[16] | raw[17] << 8);
    at += 18;
    size_t best = 0;
    if (kt_pcs_pck_select((const char *)at, (size_t)(data + n - at), certs, k, raw, pcesvn,
                          &best) == KT_OK) {
        if (best >= k || certs[best].pcesvn > pcesvn) abort();
        for (int i = 0; i < 16; i++)
            if (certs[best].comp[i] > raw[i]) abort();
    }
    kt_clear_error();
    return 0;
}
