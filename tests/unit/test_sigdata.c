/* Signing data as a signer reads it: what kt_image_gendata writes decodes to its fields,
 * and every other 256 bytes (a field out of range, a key attribute asked for, a reserved
 * byte set, anything not SIGSTRUCT's) is refused naming what is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/image.h>

static void make(uint8_t sd[KT_SIGDATA_LEN], bool debug, uint64_t xfrm)
{
    uint8_t mr[32];
    for (int i = 0; i < 32; i++)
        mr[i] = (uint8_t)(0xa0 + i);
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    c.prodid = 0x1234;
    c.svn = 0x0102;
    c.debug = debug;
    c.xfrm = xfrm;
    assert_int_equal(kt_sigstruct_sigdata(mr, &c, 0x20261202, sd), KT_OK);
}

static void test_gendata_output_decodes(void **state)
{
    (void)state;
    uint8_t sd[KT_SIGDATA_LEN];
    kt_sigdata_info i;
    make(sd, false, KT_XFRM_DEFAULT);
    assert_int_equal(kt_sigdata_decode(sd, sizeof sd, &i), KT_OK);
    assert_int_equal(i.prodid, 0x1234);
    assert_int_equal(i.svn, 0x0102);
    assert_false(i.debug);
    assert_int_equal(i.xfrm, KT_XFRM_DEFAULT);
    assert_int_equal(i.date, 0x20261202);
    assert_int_equal(i.mrenclave[0], 0xa0);
    assert_int_equal(i.mrenclave[31], 0xa0 + 31);
    make(sd, true, 0x602E7); /* debug, AMX */
    assert_int_equal(kt_sigdata_decode(sd, sizeof sd, &i), KT_OK);
    assert_true(i.debug);
    assert_int_equal(i.xfrm, 0x602E7);
}

/* One change to good signing data, and what the refusal must say. */
static void refused(size_t off, uint8_t xor_, kt_status want, const char *needle)
{
    uint8_t sd[KT_SIGDATA_LEN];
    kt_sigdata_info i;
    make(sd, false, KT_XFRM_DEFAULT);
    sd[off] ^= xor_;
    kt_status st = kt_sigdata_decode(sd, sizeof sd, &i);
    if (st != want || !strstr(kt_last_error(), needle))
        fail_msg("byte %zu ^ 0x%02x: expected %s with '%s', got %s: %s", off, xor_,
                 kt_status_name(want), needle, kt_status_name(st), kt_last_error());
    uint8_t zero[32] = {0};
    assert_memory_equal(i.mrenclave, zero, 32); /* nothing read out of refused data */
}

static void test_each_field_refused_by_name(void **state)
{
    (void)state;
    refused(0, 1, KT_ERR_MALFORMED, "HEADER (bytes 0-15)");
    refused(16, 1, KT_ERR_MALFORMED, "VENDOR");
    refused(20, 0x0f, KT_ERR_MALFORMED, "DATE"); /* day 0x0d: not BCD */
    refused(21, 0x1f, KT_ERR_MALFORMED, "DATE"); /* month 0x0d */
    refused(22, 0x0c, KT_ERR_MALFORMED, "DATE"); /* year 0x2a: not BCD */
    refused(24, 1, KT_ERR_MALFORMED, "HEADER2");
    refused(40, 1, KT_ERR_MALFORMED, "SWDEFINED");
    refused(100, 1, KT_ERR_MALFORMED, "reserved bytes 44-127");
    refused(128, 1, KT_ERR_DENIED, "MISCSELECT");
    refused(132, 1, KT_ERR_DENIED, "MISCMASK");
    refused(136, 1, KT_ERR_MALFORMED, "after MISCMASK");
    refused(140, 1, KT_ERR_DENIED, "ISVFAMILYID");
    refused(156, 0x01, KT_ERR_DENIED, "INIT");
    refused(156, 0x04, KT_ERR_DENIED, "MODE64BIT is not set");
    refused(156, 0x10, KT_ERR_DENIED, "PROVISIONKEY");
    refused(156, 0x20, KT_ERR_DENIED, "EINITTOKEN_KEY");
    refused(156, 0x80, KT_ERR_DENIED, "KSS");
    refused(157, 0x04, KT_ERR_DENIED, "AEXNOTIFY");
    refused(157, 0x01, KT_ERR_DENIED, "ATTRIBUTES has bits 0x100 set");
    refused(160, 0x01, KT_ERR_DENIED, "ATTRIBUTES has bits 0x100000000 set");
    refused(164, 0x02, KT_ERR_INVALID_ARGUMENT, "XFRM"); /* SSE off */
    refused(172, 1, KT_ERR_DENIED, "ATTRIBUTEMASK.FLAGS");
    refused(180, 1, KT_ERR_DENIED, "ATTRIBUTEMASK.XFRM");
    refused(220, 1, KT_ERR_MALFORMED, "after ENCLAVEHASH");
    refused(236, 1, KT_ERR_DENIED, "ISVEXTPRODID");
}

static void test_not_signing_data_refused(void **state)
{
    (void)state;
    uint8_t sd[KT_SIGDATA_LEN + 1] = {0};
    kt_sigdata_info i;
    make(sd, false, KT_XFRM_DEFAULT);
    assert_fails_with(kt_sigdata_decode(sd, 255, &i), KT_ERR_MALFORMED, "255 bytes, not 256");
    assert_fails_with(kt_sigdata_decode(sd, 257, &i), KT_ERR_MALFORMED, "257 bytes");
    assert_fails_with(kt_sigdata_decode(NULL, 0, &i), KT_ERR_MALFORMED, "0 bytes");
    uint8_t zeros[KT_SIGDATA_LEN] = {0};
    assert_fails_with(kt_sigdata_decode(zeros, sizeof zeros, &i), KT_ERR_MALFORMED, "HEADER");
    /* a whole SIGSTRUCT is not signing data either */
    uint8_t whole[KT_SIGSTRUCT_LEN] = {0};
    memcpy(whole, sd, 128);
    assert_fails_with(kt_sigdata_decode(whole, sizeof whole, &i), KT_ERR_MALFORMED, "1808 bytes");
}

/* Every single-bit change anywhere outside ENCLAVEHASH, ISVPRODID and ISVSVN (which may
 * hold any value) is refused, or decodes to other fields that write the same bytes. */
static void test_every_bit_outside_free_fields(void **state)
{
    (void)state;
    uint8_t sd[KT_SIGDATA_LEN], again[KT_SIGDATA_LEN];
    kt_sigdata_info i;
    for (size_t off = 0; off < KT_SIGDATA_LEN; off++)
        for (int bit = 0; bit < 8; bit++) {
            make(sd, false, KT_XFRM_DEFAULT);
            sd[off] ^= (uint8_t)(1 << bit);
            bool free_field = (off >= 188 && off < 220) || off >= 252;
            kt_status st = kt_sigdata_decode(sd, sizeof sd, &i);
            if (free_field || st != KT_OK) {
                if (free_field) assert_int_equal(st, KT_OK);
                continue;
            }
            /* accepted: then it must be exactly what gendata writes for what was read */
            kt_enclave_config c;
            kt_enclave_config_default(&c);
            c.prodid = i.prodid, c.svn = i.svn, c.debug = i.debug, c.xfrm = i.xfrm;
            assert_int_equal(kt_sigstruct_sigdata(i.mrenclave, &c, i.date, again), KT_OK);
            assert_memory_equal(again, sd, sizeof sd);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gendata_output_decodes),
        cmocka_unit_test(test_each_field_refused_by_name),
        cmocka_unit_test(test_not_signing_data_refused),
        cmocka_unit_test(test_every_bit_outside_free_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
