/* Fuzz target: the AECS admin kubeconfig reader. */
#include <kubetee/aecs_files.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    kt_aecs_admin_config c;
    if (kt_aecs_admin_config_parse((const char *)data, n, "/nonexistent", &c) == KT_OK) {
        if (!c.identity || !c.verify || !kt_key_has_private(c.identity)) __builtin_trap();
        kt_aecs_admin_config_free(&c);
    }
    return 0;
}
