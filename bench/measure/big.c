/* A 64 MiB enclave image for bench/measure: the array fills a loadable segment. */
#include <stdint.h>

const uint8_t kt_bench_big[64u << 20] = {1, 2, 3, 4};

int kt_enclave_entry(void *arg);
int kt_enclave_entry(void *arg)
{
    return kt_bench_big[(uintptr_t)arg & ((64u << 20) - 1)];
}
