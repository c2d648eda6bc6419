/* Fuzz target: the AECS TA platform policy check (services/aecs/enclave/platform_check.c)
 * over any bytes that decode as a TaPlatformPolicy. What passes must make a policy. */
#include "platform_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    Kubetee__Aecs__V1__TaPlatformPolicy *m = kubetee__aecs__v1__ta_platform_policy__unpack(NULL, n, data);
    if (!m) return 0;
    kt_platform_policy p;
    if (ae_platform_from_msg(m, &p) == KT_OK) {
        kt_policy *pol = NULL;
        if (kt_policy_from_platform(&p, &pol) != KT_OK || !pol) __builtin_trap();
        if (p.allow_simulation != m->allow_simulation || p.allow_debug != m->allow_debug) __builtin_trap();
        kt_policy_free(pol);
    }
    kubetee__aecs__v1__ta_platform_policy__free_unpacked(m, NULL);
    return 0;
}
