/* Fuzz target: policies (YAML and JSON). */
#include <kubetee/attest.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    kt_policy *p;
    if (kt_policy_parse((const char *)data, n, &p) == KT_OK) kt_policy_free(p);
    return 0;
}
