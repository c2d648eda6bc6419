/* Fuzz target: the enclave config text. */
#include <kubetee/image.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    kt_enclave_config_parse((const char *)data, n, &c);
    return 0;
}
