/* EGETKEY as the trusted runtime calls it: the CPU answers a code, and the reason is
 * recorded here, in the enclave's own copy of the base library. */
#include "trts.h"

kt_status kt_trts_egetkey(const kt_keyrequest *kr, uint8_t key[16])
{
    if (!kt_trts_host) return kt_fail(KT_ERR_STATE, "EGETKEY: enclave not initialised");
    uint32_t code = kt_trts_host->egetkey(kt_trts_host->cpu, kr, key);
    switch (code) {
    case KT_EGETKEY_OK:
        return KT_OK;
    case KT_EGETKEY_INVALID_CPUSVN:
        return kt_fail(KT_ERR_DENIED, "EGETKEY: CPUSVN above the platform's");
    case KT_EGETKEY_INVALID_ISVSVN:
        return kt_fail(KT_ERR_DENIED, "EGETKEY: ISVSVN %u above the enclave's", kr->isvsvn);
    case KT_EGETKEY_INVALID_KEYNAME:
        return kt_fail(KT_ERR_DENIED, "EGETKEY: key name %u is not available", kr->keyname);
    default:
        return kt_fail(KT_ERR_GATE_ENCLAVE, "EGETKEY failed (code 0x%x)", code);
    }
}
