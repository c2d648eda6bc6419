/* AECS configurations, which a service admin sends and the AECS enclave reads (the
 * original's JSON or key=value lines): any bytes are read or refused, never crash, and
 * what is read writes out as JSON that reads back to the same pairs. */
#include <kubetee/aecs.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    kt_aecs_config c, again;
    if (kt_aecs_config_parse(data, n, &c)) {
        if (c.count || c.items) abort();
        return 0;
    }
    kt_buf a = {0}, b = {0};
    if (kt_aecs_config_to_json(&c, &a) || kt_aecs_config_parse(a.data, a.len, &again)) abort();
    if (again.count != c.count || kt_aecs_config_to_json(&again, &b) || a.len != b.len ||
        memcmp(a.data, b.data, a.len))
        abort();
    for (size_t i = 0; i < c.count; i++)
        if (strcmp(c.items[i].key, again.items[i].key) || strcmp(c.items[i].value, again.items[i].value)) abort();
    kt_aecs_config_free(&c);
    kt_aecs_config_free(&again);
    kt_buf_free(&a);
    kt_buf_free(&b);
    return 0;
}
