/* The AECS enclave's object table (services/aecs/enclave/objtable.c) with many keys: every
 * key found, its entry the one added (and unmoved in order), deleted entries kept and
 * re-created in place, keys of every length up to the limit, a key over it refused, and a
 * lookup that stays cheap (probes bounded) at 200,000 keys. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "objtable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void name(char *out, size_t i)
{
    snprintf(out, KT_STORE_KEY_MAX + 1, "secrets/svc%zu/s%zu", i % 97, i);
}

static void test_many_keys_deletes_recreates(void **state)
{
    (void)state;
    ae_table t = {0};
    char k[KT_STORE_KEY_MAX + 1];
    const size_t n = 200000;
    assert_null(ae_table_find(&t, "nothing yet"));
    for (size_t i = 0; i < n; i++) {
        name(k, i);
        ae_entry *e = ae_table_add(&t, k, seed);
        assert_non_null(e);
        assert_int_equal(e->version, 0); /* new: zeroed */
        e->version = i + 1;
        e->gen = (uint32_t)(i % 3);
    }
    assert_int_equal(t.n, n);
    assert_true(t.n_slot >= 2 * n);
    for (size_t i = 0; i < n; i++) {
        name(k, i);
        ae_entry *e = ae_table_find(&t, k);
        assert_non_null(e);
        assert_ptr_equal(e, &t.e[i]); /* order kept: a rotation's cursor walks it */
        assert_string_equal(e->key, k);
        assert_int_equal(e->version, i + 1);
    }
    /* deletes: the entry stays (found, marked), and an add finds it again, not a new one */
    for (size_t i = 0; i < n; i += 7) {
        name(k, i);
        ae_table_find(&t, k)->deleted = true;
        if (i % 2) ae_table_find(&t, k)->damage = strdup("damaged for the test");
    }
    for (size_t i = 0; i < n; i += 14) {
        name(k, i);
        ae_entry *e = ae_table_add(&t, k, seed);
        assert_ptr_equal(e, &t.e[i]);
        assert_true(e->deleted);
        assert_int_equal(e->version, i + 1);
        e->deleted = false;
    }
    assert_int_equal(t.n, n);
    for (size_t i = 0; i < n; i++) {
        name(k, i);
        ae_entry *e = ae_table_find(&t, k);
        assert_non_null(e);
        assert_int_equal(e->deleted, i % 7 == 0 && i % 14 != 0);
    }
    /* keys never added are not found, even ones that share a prefix */
    for (size_t i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "secrets/svc%zu/s%zux", i % 97, i);
        assert_null(ae_table_find(&t, k));
    }
    assert_null(ae_table_find(&t, ""));
    assert_null(ae_table_find(&t, "secrets/svc1/s"));
    ae_table_clear(&t);
    assert_int_equal(t.n, 0);
    name(k, 5);
    assert_null(ae_table_find(&t, k));
}

static void test_lengths_and_limit(void **state)
{
    (void)state;
    ae_table t = {0};
    char k[KT_STORE_KEY_MAX + 2];
    for (size_t len = 0; len <= KT_STORE_KEY_MAX; len++) {
        memset(k, 'a' + (int)(len % 26), len);
        k[len] = 0;
        assert_non_null(ae_table_add(&t, k, seed));
    }
    for (size_t len = 0; len <= KT_STORE_KEY_MAX; len++) {
        memset(k, 'a' + (int)(len % 26), len);
        k[len] = 0;
        ae_entry *e = ae_table_find(&t, k);
        assert_non_null(e);
        assert_int_equal(strlen(e->key), len);
    }
    memset(k, 'z', KT_STORE_KEY_MAX + 1);
    k[KT_STORE_KEY_MAX + 1] = 0;
    assert_null(ae_table_add(&t, k, seed)); /* too long: refused, not cut */
    assert_int_equal(t.n, KT_STORE_KEY_MAX + 1);
    ae_table_clear(&t);
}

/* a lookup's cost does not grow with the table: 200,000 finds in a table of 200,000
 * take at most a few times what they take in one of 2,000 (the old linear list: 100x) */
static double finds(size_t n)
{
    ae_table t = {0};
    char k[KT_STORE_KEY_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        name(k, i);
        assert_non_null(ae_table_add(&t, k, seed));
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (size_t i = 0; i < 200000; i++) {
        name(k, i % n);
        assert_non_null(ae_table_find(&t, k));
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    ae_table_clear(&t);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void test_lookup_cost_flat(void **state)
{
    (void)state;
    double small = finds(2000), big = finds(200000);
    printf("200000 finds: %.3f s in 2000 keys, %.3f s in 200000 keys\n", small, big);
    assert_true(big < 10 * small + 0.05);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_keys_deletes_recreates),
        cmocka_unit_test(test_lengths_and_limit),
        cmocka_unit_test(test_lookup_cost_flat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
