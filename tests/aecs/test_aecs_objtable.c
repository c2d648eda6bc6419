/* The AECS enclave's object table (services/aecs/enclave/objtable.c): many keys through
 * its growth (every key found, entries in the order added, deleted ones kept and found by
 * a later add), keys of every length and the ones refused by name, a full table, keys made
 * to collide (all found, the probe through their cluster right), the seed (keys colliding
 * under one table's seed spread in another's, and a cleared table draws a new one), and
 * probe lengths that stay short at 200,000 keys. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "objtable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void name(char *out, size_t i)
{
    snprintf(out, KT_STORE_KEY_MAX + 1, "secrets/svc%zu/s%zu", i % 97, i);
}

static ae_entry *add(ae_table *t, const char *key)
{
    ae_entry *e = NULL;
    assert_int_equal(ae_table_add(t, key, &e), KT_OK);
    assert_non_null(e);
    return e;
}

/* how far the entry of key sits from its hash's slot */
static size_t displacement(const ae_table *t, const char *key)
{
    size_t mask = t->n_slot - 1, home = (size_t)ae_table_hash(t, key) & mask;
    for (size_t d = 0; d < t->n_slot; d++) {
        uint32_t i = t->slot[(home + d) & mask];
        assert_int_not_equal(i, 0); /* no gap before the key: the probe reaches it */
        if (!strcmp(t->e[i - 1].key, key)) return d;
    }
    fail_msg("%s is not in the index", key);
    return 0;
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
        ae_entry *e = add(&t, k);
        assert_int_equal(e->version, 0); /* new: zeroed */
        e->version = i + 1;
        e->gen = (uint32_t)(i % 3);
    }
    assert_int_equal(t.n, n);
    assert_true(t.n_slot > 2 * n);
    size_t total = 0, most = 0;
    for (size_t i = 0; i < n; i++) {
        name(k, i);
        ae_entry *e = ae_table_find(&t, k);
        assert_non_null(e);
        assert_ptr_equal(e, &t.e[i]); /* order kept: a rotation's cursor walks it */
        assert_string_equal(e->key, k);
        assert_int_equal(e->version, i + 1);
        size_t d = displacement(&t, k);
        total += d, most = d > most ? d : most;
    }
    /* O(1): under half full, a lookup probes ~1.5 slots on average, never a long run */
    printf("200000 keys in %zu slots: %.2f slots past home on average, %zu at most\n", t.n_slot,
           (double)total / (double)n, most);
    assert_true(total < n);
    assert_true(most < 64);
    /* deletes: the entry stays (found, marked), and an add finds it again, not a new one */
    for (size_t i = 0; i < n; i += 7) {
        name(k, i);
        ae_table_find(&t, k)->deleted = true;
        if (i % 2) ae_table_find(&t, k)->damage = strdup("damaged for the test");
    }
    for (size_t i = 0; i < n; i += 14) {
        name(k, i);
        ae_entry *e = add(&t, k);
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
    ae_table_clear(&t); /* frees the damage reasons too (ASan: no leak) */
    assert_int_equal(t.n, 0);
    assert_null(t.e);
    assert_null(t.slot);
    name(k, 5);
    assert_null(ae_table_find(&t, k));
    assert_int_equal(add(&t, k)->version, 0); /* a cleared table works again */
    assert_int_equal(t.n, 1);
    ae_table_clear(&t);
}

static void test_lengths_and_refusals(void **state)
{
    (void)state;
    ae_table t = {0};
    char k[KT_STORE_KEY_MAX + 2];
    for (size_t len = 1; len <= KT_STORE_KEY_MAX; len++) {
        memset(k, 'a' + (int)(len % 26), len);
        k[len] = 0;
        add(&t, k);
    }
    for (size_t len = 1; len <= KT_STORE_KEY_MAX; len++) {
        memset(k, 'a' + (int)(len % 26), len);
        k[len] = 0;
        ae_entry *e = ae_table_find(&t, k);
        assert_non_null(e);
        assert_int_equal(strlen(e->key), len);
    }
    memset(k, 'z', KT_STORE_KEY_MAX + 1);
    k[KT_STORE_KEY_MAX + 1] = 0;
    ae_entry *e = (ae_entry *)1;
    assert_int_equal(ae_table_add(&t, k, &e),
                     KT_ERR_INVALID_ARGUMENT); /* too long: refused, not cut */
    assert_null(e);
    assert_non_null(strstr(kt_last_error(), "is 126 bytes (1 to 125)"));
    assert_int_equal(ae_table_room(&t, k), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_table_add(&t, "", &e), KT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(kt_last_error(), "is 0 bytes"));
    /* a key's bytes are escaped in the refusal */
    memset(k, 'q', KT_STORE_KEY_MAX + 1);
    k[0] = '\n';
    assert_int_equal(ae_table_add(&t, k, &e), KT_ERR_INVALID_ARGUMENT);
    assert_null(strchr(kt_last_error(), '\n'));
    assert_int_equal(t.n, KT_STORE_KEY_MAX);
    ae_table_clear(&t);
}

static void test_full(void **state)
{
    (void)state;
    ae_table t = {0};
    char k[KT_STORE_KEY_MAX + 1];
    for (size_t i = 0; i < AE_TABLE_MAX; i++) {
        name(k, i);
        add(&t, k);
    }
    assert_int_equal(t.cap, AE_TABLE_MAX); /* grown to the bound, not past it */
    assert_true(t.n_slot <= 4 * (size_t)AE_TABLE_MAX);
    ae_entry *e = NULL;
    assert_int_equal(ae_table_room(&t, "secrets/new/one"), KT_ERR_TOO_LARGE);
    assert_int_equal(ae_table_add(&t, "secrets/new/one", &e), KT_ERR_TOO_LARGE);
    assert_null(e);
    assert_non_null(strstr(kt_last_error(), "table of store keys is full (250000 keys"));
    assert_non_null(strstr(kt_last_error(), "\"secrets/new/one\" refused"));
    assert_null(ae_table_find(&t, "secrets/new/one"));
    name(k, 12345); /* a key it holds is still found and "added" */
    assert_int_equal(ae_table_add(&t, k, &e), KT_OK);
    assert_ptr_equal(e, &t.e[12345]);
    assert_int_equal(t.n, AE_TABLE_MAX);
    ae_table_clear(&t);
}

/* n keys (in keys[i], 32 bytes each) whose hash lands on slot `home` of t's index */
static void colliding(const ae_table *t, size_t home, size_t n, char (*keys)[32])
{
    size_t mask = t->n_slot - 1, found = 0;
    for (size_t i = 0; found < n; i++) {
        snprintf(keys[found], 32, "secrets/x/c%zu", i);
        if (((size_t)ae_table_hash(t, keys[found]) & mask) == home) found++;
    }
}

static void test_collisions_and_seed(void **state)
{
    (void)state;
    enum { N = 48 };
    static char keys[N][32], more[N + 8][32];
    ae_table t = {0}, u = {0};
    add(&t, "aecs/state"); /* draws t's seed; 512 slots */
    assert_int_equal(t.n_slot, 512);
    /* the last slot: the cluster wraps round to slot 0 */
    colliding(&t, t.n_slot - 1, N, keys);
    for (size_t i = 0; i < N; i++)
        add(&t, keys[i])->version = i + 100;
    size_t most = 0;
    for (size_t i = 0; i < N; i++) {
        ae_entry *e = ae_table_find(&t, keys[i]);
        assert_non_null(e);
        assert_string_equal(e->key, keys[i]);
        assert_int_equal(e->version, i + 100);
        size_t d = displacement(&t, keys[i]);
        most = d > most ? d : most;
    }
    assert_true(most >= N - 1); /* they did collide: one run of N slots */
    assert_non_null(ae_table_find(&t, "aecs/state"));
    /* keys of the same home never added: the probe walks the cluster and stops */
    colliding(&t, t.n_slot - 1, N + 8, more); /* the same first N, and 8 more */
    for (size_t i = N; i < N + 8; i++)
        assert_null(ae_table_find(&t, more[i]));
    /* growth re-places them: still every one found */
    char k[KT_STORE_KEY_MAX + 1];
    for (size_t i = 0; i < 2000; i++) {
        name(k, i);
        add(&t, k);
    }
    assert_true(t.n_slot >= 4096);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(ae_table_find(&t, keys[i])->version, i + 100);

    /* the attack: keys made to collide under t's seed, in another table (its own seed) */
    add(&u, "aecs/state");
    assert_true(u.seed[0] != t.seed[0] || u.seed[1] != t.seed[1]);
    for (size_t i = 0; i < N; i++)
        add(&u, keys[i]);
    most = 0;
    for (size_t i = 0; i < N; i++) {
        size_t d = displacement(&u, keys[i]);
        most = d > most ? d : most;
    }
    printf("%d keys colliding under one seed: a run of %zu slots under another's\n", N, most + 1);
    assert_true(most < 16);
    /* a cleared table draws a new seed */
    uint64_t s0 = u.seed[0], s1 = u.seed[1];
    ae_table_clear(&u);
    add(&u, keys[0]);
    assert_true(u.seed[0] != s0 || u.seed[1] != s1);
    ae_table_clear(&u);
    ae_table_clear(&t);
}

/* SipHash-2-4's published vector for the empty message under key 00 01 .. 0f */
static void test_siphash_vector(void **state)
{
    (void)state;
    ae_table t = {.seed = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull}};
    assert_true(ae_table_hash(&t, "") == 0x726fdb47dd0e0e31ull);
    assert_true(ae_table_hash(&t, "a") != ae_table_hash(&t, "b"));
    assert_true(ae_table_hash(&t, "abcdefgh") != ae_table_hash(&t, "abcdefgh\x01"));
    t.seed[1] ^= 1;
    assert_true(ae_table_hash(&t, "") != 0x726fdb47dd0e0e31ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_keys_deletes_recreates),
        cmocka_unit_test(test_lengths_and_refusals),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_collisions_and_seed),
        cmocka_unit_test(test_siphash_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
