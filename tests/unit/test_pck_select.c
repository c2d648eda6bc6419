/* PCK certificate selection (kt_pcs_pck_select) against the TCB levels of Intel's real TCB
 * Info (the shared sets'): certificates at several of its levels and off them, raw TCBs
 * between them, in every order given; refusals of what does not belong together. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/attest.h>

#include <stdio.h>
#include <string.h>

#define SETS KT_TEST_SOURCE_DIR "/../shared/testdata/attestation"
#define SGX_SET SETS "/sgx-v3-dcapqvl-cfg-swhardening"

static kt_buf tcb;

static int setup(void **state)
{
    (void)state;
    return kt_file_read(SGX_SET "/tcb_info.json", 1 << 20, &tcb) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_buf_free(&tcb);
    return 0;
}

/* A certificate of FMSPC 00A067110000, PCE ID 0000, TCB: the first seven components (the
 * rest zero) and PCESVN. */
static kt_pcs_pck_facts cert(const uint8_t c7[7], uint16_t pcesvn)
{
    kt_pcs_pck_facts f;
    memset(&f, 0, sizeof f);
    memcpy(f.comp, c7, 7);
    memcpy(f.cpusvn, c7, 7);
    f.pcesvn = pcesvn;
    unhex("00a067110000", f.fmspc);
    return f;
}

/* Intel's levels for this FMSPC, highest first: (11,11,2,2,255,1,12)/13, (11,11,..,0)/13,
 * (10,10,..,12)/13, (10,10,..,0)/13, (9,9,..,12)/13, (9,9,..,0)/13, (5,5,..,4)/11,
 * (5,5,..,4)/10, (5,5,..,0)/11, (5,5,..,0)/10, (5,5,..,0)/5 */
static const uint8_t L0[7] = {11, 11, 2, 2, 255, 1, 12}, L1[7] = {11, 11, 2, 2, 255, 1, 0},
                     L2[7] = {10, 10, 2, 2, 255, 1, 12}, L6[7] = {5, 5, 2, 2, 255, 1, 4},
                     L10[7] = {5, 5, 2, 2, 255, 1, 0},
                     /* off the levels: in L1's bucket, above L1's certificate */
    F[7] = {11, 11, 2, 2, 255, 1, 5};

enum { A, B, C, D, E, FF, NCERTS };

static void certs(kt_pcs_pck_facts out[NCERTS])
{
    out[A] = cert(L0, 13);
    out[B] = cert(L1, 13);
    out[C] = cert(L2, 13);
    out[D] = cert(L6, 11);
    out[E] = cert(L10, 5);
    out[FF] = cert(F, 13);
}

/* The certificate chosen for raw TCB (c7, pcesvn) from all six, in each of several orders
 * given: the same one every time, by identity (its components). */
static int pick(const uint8_t c7[7], uint16_t pcesvn)
{
    kt_pcs_pck_facts all[NCERTS], given[NCERTS];
    uint8_t raw[16] = {0};
    memcpy(raw, c7, 7);
    certs(all);
    int chosen = -2;
    static const int orders[][NCERTS] = {
        {A, B, C, D, E, FF}, {FF, E, D, C, B, A}, {C, FF, A, E, B, D}, {B, D, FF, A, C, E}};
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        for (int i = 0; i < NCERTS; i++)
            given[i] = all[orders[o][i]];
        size_t best = 99;
        kt_status st =
            kt_pcs_pck_select((const char *)tcb.data, tcb.len, given, NCERTS, raw, pcesvn, &best);
        int got = st == KT_ERR_NOT_FOUND ? -1 : st ? -3 : orders[o][best];
        if (st && st != KT_ERR_NOT_FOUND) fail_msg("select: %s", kt_last_error());
        if (chosen != -2 && got != chosen)
            fail_msg("order %zu chose %d, another %d", o, got, chosen);
        chosen = got;
    }
    return chosen;
}

static void test_levels(void **state)
{
    (void)state;
    /* exactly a certificate's level */
    assert_int_equal(pick(L0, 13), A);
    assert_int_equal(pick(L2, 13), C);
    assert_int_equal(pick(L6, 11), D);
    assert_int_equal(pick(L10, 5), E);
    /* above everything: the highest level's */
    static const uint8_t top[7] = {20, 20, 9, 9, 255, 9, 30};
    assert_int_equal(pick(top, 40), A);
    /* above L1 and F, below L0 (component 7): F, which sorts before L1's in their bucket */
    static const uint8_t mid[7] = {11, 11, 2, 2, 255, 1, 7};
    assert_int_equal(pick(mid, 13), FF);
    /* above L1's certificate but not F's: L1's */
    static const uint8_t low7[7] = {11, 11, 2, 2, 255, 1, 3};
    assert_int_equal(pick(low7, 13), B);
    /* component 2 below L0/L1/F: the (10,10,..,12) certificate */
    static const uint8_t c2[7] = {11, 10, 2, 2, 255, 1, 12};
    assert_int_equal(pick(c2, 13), C);
    /* every component of L0 but the PCESVN below L6's: the (5,5,..,0)/5 certificate */
    assert_int_equal(pick(L0, 10), E);
    /* L6's components, PCESVN 10 (below D's 11): E */
    assert_int_equal(pick(L6, 10), E);
    /* below every certificate */
    static const uint8_t zero[7] = {0};
    assert_int_equal(pick(zero, 13), -1);
    assert_int_equal(pick(L10, 4), -1);
}

/* The one real certificate of the set, chosen for its own TCB and above, not below. */
static void test_real_certificate(void **state)
{
    (void)state;
    kt_pcs_pck_facts f = cert(L1, 13);
    uint8_t raw[16] = {0};
    size_t best = 9;
    memcpy(raw, L1, 7);
    assert_int_equal(kt_pcs_pck_select((const char *)tcb.data, tcb.len, &f, 1, raw, 13, &best),
                     KT_OK);
    assert_int_equal(best, 0);
    raw[0] = 10;
    assert_fails_with(kt_pcs_pck_select((const char *)tcb.data, tcb.len, &f, 1, raw, 13, &best),
                      KT_ERR_NOT_FOUND, "at or below");
    assert_fails_with(kt_pcs_pck_select((const char *)tcb.data, tcb.len, &f, 0, raw, 13, &best),
                      KT_ERR_NOT_FOUND, "at or below");
}

/* A TDX platform's certificate against its (TDX) TCB Info's SGX components. */
static void test_tdx_set(void **state)
{
    (void)state;
    kt_buf t = {0};
    assert_int_equal(kt_file_read(SETS "/tdx-v4-dcapqvl-uptodate/tcb_info.json", 1 << 20, &t),
                     KT_OK);
    /* its PCK certificate's TCB (expected.json): the first level's */
    kt_pcs_pck_facts f;
    memset(&f, 0, sizeof f);
    static const uint8_t comp[16] = {3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(f.comp, comp, 16);
    memcpy(f.cpusvn, comp, 16);
    f.pcesvn = 11;
    unhex("b0c06f000000", f.fmspc);
    size_t best = 9;
    kt_status st = kt_pcs_pck_select((const char *)t.data, t.len, &f, 1, comp, 11, &best);
    kt_buf_free(&t);
    if (st) fail_msg("%s", kt_last_error());
    assert_int_equal(best, 0);
}

/* The six certificates with one change, for the raw TCB L0/13: refused as want, naming it. */
static void refused(void (*change)(kt_pcs_pck_facts *all), const kt_buf *info, kt_status want,
                    const char *needle)
{
    kt_pcs_pck_facts all[NCERTS];
    uint8_t raw[16] = {0};
    size_t best;
    memcpy(raw, L0, 7);
    certs(all);
    if (change) change(all);
    assert_fails_with(
        kt_pcs_pck_select((const char *)info->data, info->len, all, NCERTS, raw, 13, &best), want,
        needle);
}

static void other_fmspc(kt_pcs_pck_facts *all)
{
    all[C].fmspc[5] = 1;
}
static void other_pceid(kt_pcs_pck_facts *all)
{
    all[D].pceid[1] = 1;
}
static void components_not_cpusvn(kt_pcs_pck_facts *all)
{
    all[E].comp[0] = 6;
}

static void test_refusals(void **state)
{
    (void)state;
    refused(other_fmspc, &tcb, KT_ERR_MALFORMED, "certificate 2 is for another FMSPC");
    refused(other_pceid, &tcb, KT_ERR_MALFORMED, "certificate 3 is for another PCE ID");
    refused(components_not_cpusvn, &tcb, KT_ERR_MALFORMED, "not its CPUSVN");
    /* another tcbType: the components cannot be read off the CPUSVN */
    kt_buf other = {0};
    assert_int_equal(kt_buf_append(&other, tcb.data, tcb.len), KT_OK);
    char *at = strstr((char *)other.data, "\"tcbType\":0");
    assert_non_null(at);
    at[10] = '1';
    refused(NULL, &other, KT_ERR_UNSUPPORTED, "tcbType 1");
    kt_buf_free(&other);
    kt_buf bad = {.data = (uint8_t *)"{\"tcbInfo\":[]}", .len = 14};
    refused(NULL, &bad, KT_ERR_MALFORMED, "TCB Info");
    kt_pcs_pck_facts one = cert(L0, 13);
    size_t best;
    assert_fails_with(kt_pcs_pck_select(NULL, 0, &one, 1, one.cpusvn, 13, &best),
                      KT_ERR_INVALID_ARGUMENT, "NULL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_real_certificate),
        cmocka_unit_test(test_tdx_set),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
