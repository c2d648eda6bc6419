/* Fuzz target: the AECS TA signer allow-list check (services/aecs/enclave/signers_check.c)
 * over any bytes that decode as a SetTaSignersRequest. What passes has one entry per
 * message, each as given, and every TA matches at most one entry. */
#include "signers_check.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    Kubetee__Aecs__V1__SetTaSignersRequest *m = kubetee__aecs__v1__set_ta_signers_request__unpack(NULL, n, data);
    if (!m) return 0;
    ae_ta_signer list[AE_MAX_TA_SIGNERS];
    size_t got = 0;
    if (ae_signers_from_msg(m->signers, m->n_signers, 4096, list, &got) == KT_OK) {
        if (got != m->n_signers) __builtin_trap();
        uint64_t sum = 0;
        for (size_t i = 0; i < got; i++) {
            const Kubetee__Aecs__V1__TaSigner *s = m->signers[i];
            if (memcmp(list[i].mrsigner, s->mrsigner.data, 32) || list[i].max_secrets != s->max_secrets ||
                list[i].max_bytes != s->max_bytes || !list[i].max_secrets || !list[i].max_bytes)
                __builtin_trap();
            if (ae_signer_find(list, got, list[i].mrsigner, list[i].prod_id) != (int)i) __builtin_trap();
            sum += list[i].max_secrets;
        }
        if (sum > 4096) __builtin_trap();
    }
    kubetee__aecs__v1__set_ta_signers_request__free_unpacked(m, NULL);
    return 0;
}
