/* bench/objtable: the AECS enclave's object table (services/aecs/enclave/objtable.c) against
 * the linear list it replaced (objects.c before: a strcmp over every entry per lookup), on
 * what Start and a Get do with a store of N objects (default 50,000): the start scan (for
 * each key the host lists, a find that must miss, then an add) and then one find per
 * object (every Get, and a rotation, look a key up). One op is one object scanned and
 * found once. CPU time of this thread, so the shared machine's load does not move it;
 * the linear list is O(N) a lookup, so its rate falls as N grows and the ratio with it.
 * Target: the table at least 10x the list at 50,000 objects.
 *   bench_objtable [N] */
#include "../bench.h"
#include "objtable.h"

#include <stdlib.h>
#include <string.h>

/* the list before: entries in order, a lookup compares every key */
typedef struct {
    char key[KT_STORE_KEY_MAX + 1];
    uint64_t version;
} old_entry;

static old_entry *old_find(old_entry *l, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l[i].key, key)) return &l[i];
    return NULL;
}

static void name(char *out, size_t i)
{
    snprintf(out, KT_STORE_KEY_MAX + 1, "secrets/svc%zu/s%06zu", i % 64, i);
}

static double linear(size_t n)
{
    old_entry *l = calloc(n, sizeof *l);
    char k[KT_STORE_KEY_MAX + 1];
    uint64_t sum = 0;
    if (!l) exit(1);
    double t0 = bench_cpu_now();
    for (size_t i = 0; i < n; i++) {
        name(k, i);
        if (old_find(l, i, k)) exit(1);
        strcpy(l[i].key, k);
        l[i].version = i + 1;
    }
    for (size_t i = 0; i < n; i++) {
        name(k, (i * 7919) % n);
        old_entry *e = old_find(l, n, k);
        if (!e) exit(1);
        sum += e->version;
    }
    double t = bench_cpu_now() - t0;
    free(l);
    return sum ? t : 0;
}

static double table(size_t n)
{
    ae_table t = {0};
    char k[KT_STORE_KEY_MAX + 1];
    uint64_t sum = 0;
    double t0 = bench_cpu_now();
    for (size_t i = 0; i < n; i++) {
        name(k, i);
        ae_entry *e;
        if (ae_table_find(&t, k) || ae_table_add(&t, k, &e)) exit(1);
        e->version = i + 1;
    }
    for (size_t i = 0; i < n; i++) {
        name(k, (i * 7919) % n);
        ae_entry *e = ae_table_find(&t, k);
        if (!e) exit(1);
        sum += e->version;
    }
    double d = bench_cpu_now() - t0;
    ae_table_clear(&t);
    return sum ? d : 0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 50000;
    if (n < 1 || n > AE_TABLE_MAX)
        return fprintf(stderr, "bench_objtable: N is 1 to %u\n", AE_TABLE_MAX), 2;
    double best = 1e9;
    for (int r = 0; r < 5; r++) { /* the table's runs are short: the best of five */
        double d = table(n);
        best = d < best ? d : best;
    }
    double base = linear(n);
    printf("%zu objects: start scan + a find each: table %.4f s, linear list %.3f s (CPU)\n", n,
           best, base);
    double rate = (double)n / best, baseline = (double)n / base;
    bench_line("aecs_objtable", rate / baseline, ">=", 10, rate, baseline);
    return 0;
}
