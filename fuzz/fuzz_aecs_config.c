/* Fuzz target: the AECS admin kubeconfig reader (aecsServer.instance among its fields). */
#include <kubetee/aecs_files.h>

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    kt_aecs_admin_config c, again;
    if (kt_aecs_admin_config_parse((const char *)data, n, "/nonexistent", &c) == KT_OK) {
        if (!c.identity || !c.verify || !kt_key_has_private(c.identity)) __builtin_trap();
        /* the same bytes read again: the same pin (or none) */
        if (kt_aecs_admin_config_parse((const char *)data, n, "/nonexistent", &again) != KT_OK ||
            again.has_instance != c.has_instance ||
            (c.has_instance && memcmp(again.instance, c.instance, sizeof c.instance)))
            __builtin_trap();
        kt_aecs_admin_config_free(&again);
        kt_aecs_admin_config_free(&c);
    }
    return 0;
}
