/* bench/store: puts/s into an fs store in batches of 16 (kt_store_put_batch) against the
 * same puts one by one (kt_store_put), measured in the same run on the same store: what a
 * storage key rotation does (every object put again at its next version). N objects
 * (default 512) of 300 bytes (about a sealed secret) are created first; then rounds
 * alternate: N/8 single puts, N/8 batched puts, each time on objects of their own, until
 * every object has been put again twice. Wall time: fsyncs are waits, not CPU.
 * Target: batches at least 4x the single puts.
 *   bench_store [N] [dir]   (dir: where the store goes, default a new one under /var/tmp) */
#include "../bench.h"
#include <kubetee/store.h>

#include <stdlib.h>
#include <string.h>

#define BATCH 16
#define VALUE 300

static kt_store *store;
static char (*keys)[32];
static uint64_t *versions;
static uint8_t value[VALUE];

static void die(const char *what)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, kt_last_error());
    exit(1);
}

/* objects [from, to) put again one by one */
static void singles(size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (kt_store_put(store, keys[i], value, VALUE, versions[i], NULL)) die("put");
        versions[i]++;
    }
}

/* objects [from, to) put again in batches */
static void batches(size_t from, size_t to)
{
    kt_store_put_item it[BATCH];
    for (size_t i = from; i < to; i += BATCH) {
        size_t n = to - i < BATCH ? to - i : BATCH;
        for (size_t j = 0; j < n; j++)
            it[j] = (kt_store_put_item){.key = keys[i + j], .value = value, .n = VALUE,
                                        .expected_version = versions[i + j]};
        if (kt_store_put_batch(store, it, n)) die("put batch");
        for (size_t j = 0; j < n; j++)
            versions[i + j]++;
    }
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
    if (n < 64 || n % 64) {
        fprintf(stderr, "bench_store: N must be a multiple of 64\n");
        return 2;
    }
    char dir[256] = "/var/tmp/kt-bench-store-XXXXXX", url[300];
    if (argc > 2)
        snprintf(dir, sizeof dir, "%s/kt-bench-store-XXXXXX", argv[2]);
    if (!mkdtemp(dir)) {
        perror("bench_store: mkdtemp");
        return 1;
    }
    snprintf(url, sizeof url, "fs:%s/store", dir);
    if (kt_store_open(url, &store)) die("open");
    keys = calloc(n, sizeof *keys);
    versions = calloc(n, sizeof *versions);
    if (!keys || !versions) return 1;
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < n; i++)
        snprintf(keys[i], sizeof keys[i], "secrets/svc/s%06zu", i);
    batches(0, n); /* created (versions 0 -> 1) */

    size_t part = n / 8; /* 8 parts, alternating: 4 single, 4 batched, twice over */
    double t_single = 0, t_batch = 0;
    size_t done_single = 0, done_batch = 0;
    for (int round = 0; round < 2; round++)
        for (size_t p = 0; p < 8; p += 2) {
            double t0 = bench_now();
            singles(p * part, (p + 1) * part);
            double t1 = bench_now();
            batches((p + 1) * part, (p + 2) * part);
            double t2 = bench_now();
            t_single += t1 - t0, t_batch += t2 - t1;
            done_single += part, done_batch += part;
        }
    kt_store_free(store);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_store: %s was not removed\n", dir);
    double single = (double)done_single / t_single, batch = (double)done_batch / t_batch;
    printf("fs store, %zu objects of %d bytes: single puts %.0f/s, batches of %d %.0f/s\n", n, VALUE, single,
           BATCH, batch);
    bench_line("store_fs_batch", batch / single, ">=", 4.0, batch, single);
    free(keys);
    free(versions);
    return 0;
}
