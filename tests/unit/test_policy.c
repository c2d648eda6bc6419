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

/* The verdict of a debug enclave's quote, and its MRENCLAVE in hex. */
static void debug_enclave(kt_verdict *v, char mr[65])
{
    verdict_of("sgx-v3-mobilecoin-debug-qe-outofdate", 1, v);
    assert_true(v->quote.sgx.attr_flags & 2);
    kt_hex_encode(v->quote.sgx.mrenclave, 32, mr, 65);
}

static void test_debug_enclave_refused_unless_allowed(void **state)
{
    (void)state;
    kt_verdict v;
    char mr[65], yaml[1024];
    debug_enclave(&v, mr);
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

typedef struct {
    const char *yaml, *reason;
} bad_policy;

/* Each policy fails to parse with an error mentioning its reason. */
static void refused(const bad_policy *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kt_policy *p = NULL;
        kt_status st = kt_policy_parse(cases[i].yaml, strlen(cases[i].yaml), &p);
        if (st == KT_OK || !strstr(kt_last_error(), cases[i].reason))
            fail_msg("case %zu: expected an error mentioning '%s', got %s: %s", i, cases[i].reason,
                     kt_status_name(st), kt_last_error());
        assert_null(p);
    }
}

static void test_bad_policies_name_what_is_wrong(void **state)
{
    (void)state;
    static const bad_policy cases[] = {
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", mrenclav: x}\n", "unknown key 'mrenclav'"},
        /* what came from the file is escaped before it reaches a message */
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", \"a\\e[31mb\": x}\n", "unknown key 'a\\x1b[31mb'"},
        {"\"top\\nkey\": 1\nrules:\n- {mrenclave: " SGX_MRENCLAVE "}\n", "unknown key 'top\\x0akey'"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", isvprodid: \"1\\x7f\"}\n", "isvprodid '1\\x7f'"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", allow_debug: \"y\\te\"}\n", "allow_debug 'y\\x09e'"},
        {"accepted_tcb_status: [\"Up\\x01\"]\nrules:\n- {mrenclave: " SGX_MRENCLAVE "}\n", "'Up\\x01'"},
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
    refused(cases, sizeof cases / sizeof cases[0]);
}

/* Which of two values a reader keeps is no policy: a key given twice, two names of one
 * setting, and numbers that read one way in octal and another in decimal are refused. */
static void test_duplicates_conflicts_and_non_decimal_numbers_refused(void **state)
{
    (void)state;
    kt_verdict v;
    char mr[65], yaml[1024];
    debug_enclave(&v, mr);
    /* each of these let the debug enclave through when the last value won */
    const char *forms[] = {
        "accepted_tcb_status: [OutOfDate]\nrules:\n- mrenclave: %s\n  allow_debug: false\n"
        "  allow_debug: true\n",
        "{\"accepted_tcb_status\": [\"OutOfDate\"], \"rules\": [{\"mrenclave\": \"%s\", "
        "\"allow_debug\": false, \"allow_debug\": true}]}",
        "accepted_tcb_status: [OutOfDate]\nrules:\n- mrenclave: %s\n  allow_debug: false\n"
        "  debug_disabled: \"false\"\n",
    };
    const char *why[] = {"key 'allow_debug' appears twice in a mapping (lines 4 and 5)",
                         "key 'allow_debug' appears twice",
                         "rule 1: allow_debug and debug_disabled are one setting"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(yaml, sizeof yaml, forms[i], mr);
        kt_policy *p = NULL;
        assert_fails_with(kt_policy_parse(yaml, strlen(yaml), &p), KT_ERR_MALFORMED, why[i]);
        assert_null(p);
    }
    /* a TCB status listed twice; Revoked, which no policy may accept */
    const char *lists[][2] = {
        {"accepted_tcb_status: [OutOfDate, UpToDate, OutOfDate]\nrules:\n- mrenclave: %s\n",
         "OutOfDate is listed twice (line 1)"},
        {"accepted_tcb_status:\n- UpToDate\n- Revoked\nrules:\n- mrenclave: %s\n",
         "Revoked cannot be accepted"},
    };
    for (size_t i = 0; i < 2; i++) {
        snprintf(yaml, sizeof yaml, lists[i][0], mr);
        kt_policy *p = NULL;
        assert_fails_with(kt_policy_parse(yaml, strlen(yaml), &p), KT_ERR_MALFORMED, lists[i][1]);
        assert_null(p);
    }
    /* with one of them it parses, and the debug enclave is refused */
    snprintf(yaml, sizeof yaml, "accepted_tcb_status: [OutOfDate]\nrules:\n- mrenclave: %s\n", mr);
    assert_fails_with(check(yaml, &v), KT_ERR_DENIED, "debug enclave");

    static const bad_policy cases[] = {
        {"accepted_tcb_status: [UpToDate]\naccepted_tcb_status: [OutOfDate]\n"
         "rules:\n- {mrenclave: " SGX_MRENCLAVE "}\n",
         "key 'accepted_tcb_status' appears twice"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE "}\nrules:\n- {mrsigner: " SGX_MRSIGNER "}\n",
         "key 'rules' appears twice"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", \"mrenclave\": " SGX_MRSIGNER "}\n",
         "key 'mrenclave' appears twice"},
        {"{\"rules\": [{\"mrsigner\": \"" SGX_MRSIGNER "\"}], \"rules\": []}",
         "key 'rules' appears twice"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE
         "}\nenclaveMatchAnyRules:\n- {mrsigner: " SGX_MRSIGNER "}\n",
         "policy: rules and enclaveMatchAnyRules are one setting; give only one (line 1)"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", isvprodid: 1, prodID: \"\"}\n",
         "rule 1: isvprodid and prodID are one setting"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", minIsvSvn: 1, min_isvsvn: 2}\n",
         "rule 1: min_isvsvn and minIsvSvn are one setting"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", user_data: \"\", report_data: \"\"}\n",
         "rule 1: report_data and user_data are one setting"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", isvprodid: 010}\n",
         "isvprodid '010' (line 2): a leading zero (decimal only)"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", min_isvsvn: 0177777}\n",
         "min_isvsvn '0177777' (line 2): a leading zero"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", min_isvsvn: 177777}\n",
         "min_isvsvn '177777' (line 2): over 65535"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", prodID: \"0x10\"}\n", "prodID '0x10'"},
        {"rules:\n- {mrenclave: " SGX_MRENCLAVE ", prodID: \" 1\"}\n",
         "prodID ' 1' (line 2): not a decimal number"},
    };
    refused(cases, sizeof cases / sizeof cases[0]);
    /* decimal numbers still read as decimal: one above this enclave's ISVSVN is refused */
    snprintf(yaml, sizeof yaml,
             "accepted_tcb_status: [OutOfDate]\nrules:\n- {mrenclave: %s, allow_debug: true, "
             "min_isvsvn: %u}\n",
             mr, (unsigned)v.quote.sgx.svn + 1);
    assert_fails_with(check(yaml, &v), KT_ERR_DENIED, "ISVSVN below the minimum");
    snprintf(yaml, sizeof yaml,
             "accepted_tcb_status: [OutOfDate]\nrules:\n- {mrenclave: %s, allow_debug: true, "
             "min_isvsvn: %u}\n",
             mr, (unsigned)v.quote.sgx.svn);
    assert_int_equal(check(yaml, &v), KT_OK);
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++)
        kt_buf_free(&quote_bytes[i]);
    return 0;
}

/* The default policy (kubetee attest verify without --policy) is exactly the defaults
 * docs/attestation.md lists, each refusing its case for any identity, and nothing else. */
static kt_status check_default(bool allow_simulation, const kt_verdict *v)
{
    kt_policy *p;
    assert_int_equal(kt_policy_default(allow_simulation, &p), KT_OK);
    kt_status st = kt_policy_check(p, v);
    kt_policy_free(p);
    return st;
}

static void test_default_policy_accepts_an_up_to_date_tee_of_any_identity(void **state)
{
    (void)state;
    kt_verdict v;
    verdict_of("tdx-v4-dcapqvl-uptodate", 0, &v);
    assert_int_equal(check_default(false, &v), KT_OK);
    verdict_of("tdx-v4-zkdcap-uptodate-tdattr-zero", 1, &v);
    assert_int_equal(check_default(false, &v), KT_OK);
}

static void test_default_policy_accepts_only_up_to_date(void **state)
{
    (void)state;
    kt_verdict v;
    verdict_of("sgx-v3-zkdcap-swhardening", 0, &v);
    assert_false(v.quote.sgx.attr_flags & 2);
    assert_fails_with(check_default(false, &v), KT_ERR_DENIED,
                      "TCB status SWHardeningNeeded is not accepted");
    verdict_of("tdx-v4-zkdcap-outofdate", 1, &v);
    assert_fails_with(check_default(false, &v), KT_ERR_DENIED, "TCB status OutOfDate");
}

static void test_default_policy_refuses_a_debug_enclave(void **state)
{
    (void)state;
    kt_verdict v;
    verdict_of("sgx-v3-mobilecoin-debug-qe-outofdate", 0, &v);
    assert_true(v.quote.sgx.attr_flags & 2);
    v.tcb_status = KT_TCB_UP_TO_DATE; /* the TCB default is the one above */
    assert_fails_with(check_default(true, &v), KT_ERR_DENIED, "debug enclave");
    v.quote.sgx.attr_flags &= ~(uint64_t)2;
    assert_int_equal(check_default(true, &v), KT_OK);
}

static void test_default_policy_refuses_a_debug_td(void **state)
{
    (void)state;
    kt_verdict v;
    verdict_of("tdx-v4-dcapqvl-uptodate", 0, &v);
    v.quote.td.td_attributes |= 1; /* no real UpToDate debug TD quote is at hand */
    assert_fails_with(check_default(true, &v), KT_ERR_DENIED, "debug TD");
}

static void test_default_policy_refuses_a_td_bound_to_a_service_td(void **state)
{
    (void)state;
    kt_verdict v;
    verdict_of("tdx-v5-td15-automata-uptodate", 0, &v);
    assert_int_equal(v.tcb_status, KT_TCB_UP_TO_DATE);
    assert_fails_with(check_default(true, &v), KT_ERR_DENIED, "bound to a service TD");
}

static void test_default_policy_refuses_simulation_unless_allowed(void **state)
{
    (void)state;
    kt_verdict v;
    verdict_of("tdx-v4-dcapqvl-uptodate", 0, &v);
    v.simulated = true; /* what a quote under a simulation root is marked */
    assert_fails_with(check_default(false, &v), KT_ERR_DENIED, "does not allow simulation");
    assert_int_equal(check_default(true, &v), KT_OK);
}

/* A platform-only policy (kt_policy_from_platform, the gate of kt_service_accept_any_enclave):
 * any identity; simulation only under its pinned root, debug only when allowed, only the
 * TCB statuses listed, never Revoked. */
static kt_status check_platform(const kt_platform_policy *pp, const kt_verdict *v)
{
    kt_policy *p;
    assert_int_equal(kt_policy_from_platform(pp, &p), KT_OK);
    kt_status st = kt_policy_check(p, v);
    kt_policy_free(p);
    return st;
}

static void test_platform_policy(void **state)
{
    (void)state;
    kt_verdict v;
    kt_policy *p = NULL;
    kt_platform_policy pp = {0};
    verdict_of("sgx-v3-zkdcap-swhardening", 0, &v);
    assert_fails_with(check_platform(&pp, &v), KT_ERR_DENIED, "TCB status SWHardeningNeeded");
    pp.tcb_statuses = KT_TCB_BIT(KT_TCB_UP_TO_DATE) | KT_TCB_BIT(KT_TCB_SW_HARDENING_NEEDED);
    assert_int_equal(check_platform(&pp, &v), KT_OK); /* whoever it is */
    v.quote.sgx.attr_flags |= 2;
    assert_fails_with(check_platform(&pp, &v), KT_ERR_DENIED, "debug enclave");
    pp.allow_debug = true;
    assert_int_equal(check_platform(&pp, &v), KT_OK);
    v.simulated = true;
    memset(v.root_sha256, 0x5a, 32);
    assert_fails_with(check_platform(&pp, &v), KT_ERR_DENIED, "does not allow simulation");
    pp.allow_simulation = true;
    memset(pp.simulation_root, 0x5b, 32);
    assert_fails_with(check_platform(&pp, &v), KT_ERR_DENIED, "not the policy's simulation_root");
    memset(pp.simulation_root, 0x5a, 32);
    assert_int_equal(check_platform(&pp, &v), KT_OK);
    /* what it refuses to be */
    kt_platform_policy bad = pp;
    memset(bad.simulation_root, 0, 32);
    assert_fails_with(kt_policy_from_platform(&bad, &p), KT_ERR_INVALID_ARGUMENT, "names no simulation_root");
    bad = pp;
    bad.allow_simulation = false;
    assert_fails_with(kt_policy_from_platform(&bad, &p), KT_ERR_INVALID_ARGUMENT, "without allow_simulation");
    bad = pp;
    bad.tcb_statuses |= KT_TCB_BIT(KT_TCB_REVOKED);
    assert_fails_with(kt_policy_from_platform(&bad, &p), KT_ERR_INVALID_ARGUMENT, "Revoked platform is never accepted");
    bad.tcb_statuses = 1u << 20;
    assert_fails_with(kt_policy_from_platform(&bad, &p), KT_ERR_INVALID_ARGUMENT, "unknown TCB status bits");
    assert_null(p);
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
        cmocka_unit_test(test_duplicates_conflicts_and_non_decimal_numbers_refused),
        cmocka_unit_test(test_default_policy_accepts_an_up_to_date_tee_of_any_identity),
        cmocka_unit_test(test_default_policy_accepts_only_up_to_date),
        cmocka_unit_test(test_default_policy_refuses_a_debug_enclave),
        cmocka_unit_test(test_default_policy_refuses_a_debug_td),
        cmocka_unit_test(test_default_policy_refuses_a_td_bound_to_a_service_td),
        cmocka_unit_test(test_default_policy_refuses_simulation_unless_allowed),
        cmocka_unit_test(test_platform_policy),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
