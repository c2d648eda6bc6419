/* Policies over verdicts of real quotes: exact matching only, debug and service TDs
 * refused unless a rule allows them, TCB statuses accepted only when listed, and every
 * bad key or value named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/attest.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETS KT_TEST_SOURCE_DIR "/../shared/testdata/attestation"

static kt_buf quote_bytes[4];

/* Verifies a set's quote at its verify-at time. The verdict views into the quote bytes,
 * kept in slot. */
static void verdict_of(const char *name, int slot, kt_verdict *v)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/%s", SETS, name);
    snprintf(path, sizeof path, "%s/expected.json", dir);
    json_t *e = json_load_file(path, 0, NULL);
    assert_non_null(e);
    snprintf(path, sizeof path, "%s/quote.dat", dir);
    kt_buf_free(&quote_bytes[slot]);
    assert_int_equal(kt_file_read(path, KT_QUOTE_MAX, &quote_bytes[slot]), KT_OK);
    kt_collateral *c;
    assert_int_equal(kt_collateral_load_dir(dir, NULL, &c), KT_OK);
    assert_int_equal(kt_quote_verify(quote_bytes[slot].data, quote_bytes[slot].len, c,
                                     (time_t)json_integer_value(json_object_get(e, "verify_at")),
                                     v),
                     KT_OK);
    assert_true(v->ok);
    kt_collateral_free(c);
    json_decref(e);
}

static kt_status check(const char *yaml, const kt_verdict *v)
{
    kt_policy *p;
    kt_status st = kt_policy_parse(yaml, strlen(yaml), &p);
    if (st) fail_msg("policy does not parse: %s\n%s", kt_last_error(), yaml);
    st = kt_policy_check(p, v);
    kt_policy_free(p);
    return st;
}

#define SGX_MRENCLAVE "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
#define SGX_MRSIGNER "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"

static void test_aecs_rule_keys_and_accepted_status(void **state)
{
    (void)state;
    kt_verdict v;
    verdict_of("sgx-v3-dcapqvl-cfg-swhardening", 0, &v);
    /* the original AECS keys, "" meaning not set */
    const char *aecs = "enclaveMatchAnyRules:\n"
                       "- mrenclave: \"" SGX_MRENCLAVE "\"\n"
                       "  mrsigner: \"\"\n  prodID: \"0\"\n  minIsvSvn: \"0\"\n"
                       "  user_data: \"\"\n  spid: \"\"\n  debug_disabled: \"true\"\n";
    /* the platform needs configuration and hardening: not UpToDate, so refused by default */
    assert_fails_with(check(aecs, &v), KT_ERR_DENIED,
                      "TCB status ConfigurationAndSWHardeningNeeded");
    char accepting[2048];
    snprintf(accepting, sizeof accepting,
             "accepted_tcb_status: [UpToDate, ConfigurationAndSWHardeningNeeded]\n%s", aecs);
    assert_int_equal(check(accepting, &v), KT_OK);
}

static void test_matching_is_exact_any_case_never_a_prefix(void **state)
{
    (void)state;
    kt_verdict v;
    verdict_of("sgx-v3-dcapqvl-cfg-swhardening", 0, &v);
    const char *upper =
        "accepted_tcb_status: [ConfigurationAndSWHardeningNeeded]\n"
        "rules:\n- mrsigner: 815F42F11CF64430C30BAB7816BA596A1DA0130C3B028B673133A66CF9A3E0E6\n";
    assert_int_equal(check(upper, &v), KT_OK);
    const char *other =
        "accepted_tcb_status: [ConfigurationAndSWHardeningNeeded]\n"
        "rules:\n- mrsigner: 815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e7\n";
    assert_fails_with(check(other, &v), KT_ERR_DENIED, "rule 1: MRSIGNER differs");
    /* 31 bytes is not a shorter match: it does not parse */
    const char *prefix =
        "rules:\n- mrsigner: 815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0\n";
    kt_policy *p = NULL;
    assert_fails_with(kt_policy_parse(prefix, strlen(prefix), &p), KT_ERR_MALFORMED,
                      "32 bytes of hex");
    assert_null(p);
    /* any of several rules */
    char two[1024];
    snprintf(two, sizeof two,
             "accepted_tcb_status: [ConfigurationAndSWHardeningNeeded]\nrules:\n"
             "- {mrenclave: %064d}\n- {mrenclave: " SGX_MRENCLAVE
             ", isvprodid: 0, min_isvsvn: 0}\n",
             0);
    assert_int_equal(check(two, &v), KT_OK);
    snprintf(two, sizeof two,
             "accepted_tcb_status: [ConfigurationAndSWHardeningNeeded]\nrules:\n"
             "- {mrenclave: " SGX_MRENCLAVE ", min_isvsvn: 1}\n");
    assert_fails_with(check(two, &v), KT_ERR_DENIED, "ISVSVN below the minimum");
}

static void test_report_data_binding(void **state)
{
    (void)state;
    kt_verdict v;
    verdict_of("sgx-v3-dcapqvl-cfg-swhardening", 0, &v);
    char hex[129], yaml[1024];
    kt_hex_encode(v.quote.sgx.report_data, 64, hex, sizeof hex);
    snprintf(yaml, sizeof yaml,
             "accepted_tcb_status: [ConfigurationAndSWHardeningNeeded]\n"
             "rules:\n- {mrenclave: " SGX_MRENCLAVE ", report_data: %s}\n",
             hex);
    assert_int_equal(check(yaml, &v), KT_OK);
    hex[0] = hex[0] == '4' ? '5' : '4';
    snprintf(yaml, sizeof yaml,
             "accepted_tcb_status: [ConfigurationAndSWHardeningNeeded]\n"
             "rules:\n- {mrenclave: " SGX_MRENCLAVE ", report_data: %s}\n",
             hex);
    assert_fails_with(check(yaml, &v), KT_ERR_DENIED, "report data differs");
}

static void test_debug_enclave_refused_unless_allowed(void **state)
{
    (void)state;
    kt_verdict v;
    verdict_of("sgx-v3-mobilecoin-debug-qe-outofdate", 1, &v);
    assert_true(v.quote.sgx.attr_flags & 2);
    char mr[65], yaml[1024];
    kt_hex_encode(v.quote.sgx.mrenclave, 32, mr, sizeof mr);
    snprintf(yaml, sizeof yaml, "accepted_tcb_status: [OutOfDate]\nrules:\n- mrenclave: %s\n", mr);
    assert_fails_with(check(yaml, &v), KT_ERR_DENIED, "debug enclave");
    snprintf(yaml, sizeof yaml,
             "accepted_tcb_status: [OutOfDate]\nrules:\n- {mrenclave: %s, allow_debug: true}\n",
             mr);
    assert_int_equal(check(yaml, &v), KT_OK);
    snprintf(
        yaml, sizeof yaml,
        "accepted_tcb_status: [OutOfDate]\nrules:\n- {mrenclave: %s, debug_disabled: \"false\"}\n",
        mr);
    assert_int_equal(check(yaml, &v), KT_OK);
}

static void test_td_attributes_and_service_td(void **state)
{
    (void)state;
    kt_verdict v;
    char mrtd[97], yaml[1024];
    verdict_of("tdx-v4-zkdcap-uptodate-tdattr-zero", 2, &v);
    kt_hex_encode(v.quote.td.mrtd, 48, mrtd, sizeof mrtd);
    /* the policy asks for SEPT_VE_DISABLE (bit 28), this TD has it clear */
    snprintf(yaml, sizeof yaml, "rules:\n- {mrtd: %s, td_attributes: \"0000001000000000\"}\n",
             mrtd);
    assert_fails_with(check(yaml, &v), KT_ERR_DENIED, "TD attributes differ");
    snprintf(yaml, sizeof yaml, "rules:\n- {mrtd: %s, td_attributes: \"0000000000000000\"}\n",
             mrtd);
    assert_int_equal(check(yaml, &v), KT_OK);
    /* an SGX rule never matches a TD */
    assert_fails_with(check("rules:\n- mrenclave: " SGX_MRENCLAVE "\n", &v), KT_ERR_DENIED,
                      "SGX enclave");

    verdict_of("tdx-v5-td15-automata-uptodate", 3, &v);
    kt_hex_encode(v.quote.td.mrtd, 48, mrtd, sizeof mrtd);
    snprintf(yaml, sizeof yaml, "rules:\n- mrtd: %s\n", mrtd);
    assert_fails_with(check(yaml, &v), KT_ERR_DENIED, "MR_SERVICETD");
    snprintf(yaml, sizeof yaml, "{\"rules\": [{\"mrtd\": \"%s\", \"allow_service_td\": true}]}",
             mrtd);
    assert_int_equal(check(yaml, &v), KT_OK); /* JSON works as well */
}

static void test_bad_policies_name_what_is_wrong(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *reason;
    } cases[] = {
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", mrenclav: x}\n", "unknown key 'mrenclav'"},
        {"rule:\n- {mrenclave: " SGX_MRENCLAVE "}\n", "unknown key 'rule'"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", isvprodid: 70000}\n", "isvprodid '70000'"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", isvprodid: -1}\n", "isvprodid '-1'"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", allow_debug: maybe}\n", "allow_debug 'maybe'"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", spid: abc}\n", "EPID"},
        {"rules:\n- {mrenclave: \"\", mrsigner: \"\"}\n", "pins no identity"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", mrtd: 00}\n", "48 bytes"},
        {"accepted_tcb_status: [Fine]\nrules:\n- {mrenclave: " SGX_MRENCLAVE "}\n", "'Fine'"},
        {"rules: []\n", "non-empty list"},
        {"- just a list\n", "top level"},
        {"a: &x 1\nb: *x\n", "anchors"},
        {"rules: [\n", "YAML"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kt_policy *p = NULL;
        kt_status st = kt_policy_parse(cases[i].yaml, strlen(cases[i].yaml), &p);
        if (st == KT_OK || !strstr(kt_last_error(), cases[i].reason))
            fail_msg("case %zu: expected an error mentioning '%s', got %s: %s", i, cases[i].reason,
                     kt_status_name(st), kt_last_error());
        assert_null(p);
    }
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++)
        kt_buf_free(&quote_bytes[i]);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aecs_rule_keys_and_accepted_status),
        cmocka_unit_test(test_matching_is_exact_any_case_never_a_prefix),
        cmocka_unit_test(test_report_data_binding),
        cmocka_unit_test(test_debug_enclave_refused_unless_allowed),
        cmocka_unit_test(test_td_attributes_and_service_td),
        cmocka_unit_test(test_bad_policies_name_what_is_wrong),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
