/* A minimal image for the image tests: an entry point, code, data and bss, and no
 * trusted runtime. FORBIDDEN builds a variant that imports an OS function. */
#include <stddef.h>
#include <stdint.h>
#ifdef FORBIDDEN
#include <stdio.h>
#endif

uint8_t bare_data[8192] = {1, 2, 3};
uint8_t bare_bss[20000];

int kt_enclave_entry(void *arg);
int kt_enclave_entry(void *arg)
{
#ifdef FORBIDDEN
    FILE *f = fopen((const char *)arg, "r");
    return f != NULL;
#else
    bare_bss[1] = bare_data[(size_t)arg % sizeof bare_data];
    return bare_bss[1];
#endif
}
