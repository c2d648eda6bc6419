/* sgx-device-plugin: SGX decoded from CPUID values recorded on real machines
 * (tests/data/cpuid, each file says where its values come from). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "plugin.h"

#include <stdio.h>
#include <string.h>

static void decode(const char *name, kt_sgx_caps *caps)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/data/cpuid/%s", KT_TEST_SOURCE_DIR, name);
    kt_cpuid_source src;
    if (kt_cpuid_load(path, &src)) fail_msg("%s", kt_last_error());
    kt_sgx_caps_decode(&src, caps);
}

static void test_sgx1_with_flc(void **state)
{
    (void)state;
    kt_sgx_caps c;
    decode("sgx1-xeon-e2288g.txt", &c);
    assert_true(c.usable);
    assert_true(c.sgx && c.flc && c.sgx1);
    assert_false(c.sgx2);
    assert_int_equal(c.epc_sections, 2);
    assert_int_equal(c.epc_bytes >> 20, 28); /* 26 + 2 MiB */
    assert_int_equal(c.max_enclave_bits_64, 0x24);
}

static void test_sgx2_two_sockets(void **state)
{
    (void)state;
    kt_sgx_caps c;
    decode("sgx2-xeon-gold-6354.txt", &c);
    assert_true(c.usable);
    assert_true(c.sgx1 && c.sgx2 && c.flc);
    assert_int_equal(c.epc_sections, 2);
    assert_int_equal(c.epc_bytes >> 20, 2028 + 2036);
}

static void test_no_sgx_says_why(void **state)
{
    (void)state;
    kt_sgx_caps c;
    decode("no-sgx.txt", &c);
    assert_false(c.usable);
    assert_non_null(strstr(c.why_not, "EBX[2]"));
    /* leaf 12H claims SGX1/SGX2, but without the leaf 7 bit it means nothing */
    assert_false(c.sgx1);
    decode("sgx-disabled-in-bios.txt", &c);
    assert_false(c.usable);
    assert_true(c.sgx);
    assert_non_null(strstr(c.why_not, "BIOS"));
}

static void test_bad_cpuid_files(void **state)
{
    (void)state;
    kt_cpuid_source src;
    FILE *f = fopen("/tmp/kt-cpuid-bad.txt", "w");
    fputs("7 0 0 zz 0 0\n", f);
    fclose(f);
    assert_fails_with(kt_cpuid_load("/tmp/kt-cpuid-bad.txt", &src), KT_ERR_MALFORMED, ":1:");
    assert_int_equal(kt_cpuid_load("/tmp/kt-cpuid-missing.txt", &src), KT_ERR_NOT_FOUND);
    remove("/tmp/kt-cpuid-bad.txt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgx1_with_flc),
        cmocka_unit_test(test_sgx2_two_sockets),
        cmocka_unit_test(test_no_sgx_says_why),
        cmocka_unit_test(test_bad_cpuid_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
