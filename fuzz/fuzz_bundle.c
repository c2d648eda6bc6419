/* Fuzz target: a collateral bundle as a host hands it to an enclave (KTCOLL1, eight
 * length-prefixed items), read into collateral by the code enclaves run. Whatever it
 * holds, reading ends in collateral or a named refusal; collateral that reads has its
 * anchor's fingerprint. */
#include <kubetee/attest.h>

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    kt_collateral *c = NULL;
    if (kt_collateral_from_bundle(data, n, &c) == KT_OK) {
        uint8_t fp[32];
        if (!c || kt_collateral_root_sha256(c, fp)) abort();
        kt_collateral_free(c);
    } else if (c) {
        abort();
    }
    return 0;
}
