/* Collateral that vouches for itself but not for the quote at hand: every signature in it
 * verifies, yet it is for another TEE, another platform or another QE. Real Intel files
 * swapped between the shared sets show the TCB Info and QE Identity checks; a QE Identity
 * re-signed by the sim platform's TCB signing key shows each comparison of the QE report
 * with it. Each case first passes unchanged, so the one change is what fails it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/attest.h>
#include <kubetee/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SETS KT_TEST_SOURCE_DIR "/../shared/testdata/attestation"

static char scratch[64];

static void run(const char *cmd)
{
    if (system(cmd) != 0) fail_msg("%s failed", cmd);
}

/* scratch := a copy of collateral directory dir. */
static void copy_collateral(const char *dir)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir %s && cp %s/*.pem %s/*.der %s/*.json %s/",
             scratch, scratch, dir, dir, dir, scratch);
    run(cmd);
}

/* The verdict for quote q against the collateral in scratch at time at. */
static void verify_scratch(const kt_buf *q, time_t at, kt_verdict *v)
{
    kt_collateral *c;
    if (kt_collateral_load_dir(scratch, NULL, &c)) fail_msg("%s", kt_last_error());
    assert_int_equal(kt_quote_verify(q->data, q->len, c, at, v), KT_OK);
    kt_collateral_free(c);
}

static void expect_fail(const kt_verdict *v, const char *reason)
{
    if (v->ok || !strstr(v->reason, reason))
        fail_msg("expected '%s', got %s", reason, v->ok ? "a pass" : v->reason);
}

/* Quote of set `quote_set`, collateral of set `coll_set` with `files` (a shell glob) taken
 * from `from_set`, at time at: must fail with reason; without the swap it must pass. */
static void swapped(const char *quote_set, const char *coll_set, const char *from_set,
                    const char *files, time_t at, const char *reason)
{
    char path[600], cmd[1400];
    kt_buf q = {0};
    snprintf(path, sizeof path, "%s/%s/quote.dat", SETS, quote_set);
    assert_int_equal(kt_file_read(path, KT_QUOTE_MAX, &q), KT_OK);
    snprintf(path, sizeof path, "%s/%s", SETS, coll_set);
    copy_collateral(path);
    kt_verdict v;
    if (strcmp(quote_set, coll_set) == 0) {
        verify_scratch(&q, at, &v);
        if (!v.ok) fail_msg("%s unchanged: %s", quote_set, v.reason);
    }
    snprintf(cmd, sizeof cmd, "cp %s/%s/%s %s/", SETS, from_set, files, scratch);
    run(cmd);
    verify_scratch(&q, at, &v);
    expect_fail(&v, reason);
    kt_buf_free(&q);
}

/* TCB Info's id names the quote's TEE; QE Identity's id its QE (QE or TD_QE). The
 * 2025-01-21 sets share one TCB signing certificate and overlapping windows. */
static void test_tcb_info_and_qe_identity_for_another_tee_are_refused(void **state)
{
    (void)state;
    const time_t at = 1737467060; /* 2025-01-21T13:44:20Z, inside both windows */
    swapped("tdx-v4-zkdcap-outofdate", "tdx-v4-zkdcap-outofdate", "sgx-v3-zkdcap-swhardening",
            "tcb_info*", at, "TCB Info is for SGX, the quote is TDX");
    swapped("sgx-v3-zkdcap-swhardening", "sgx-v3-zkdcap-swhardening", "tdx-v4-zkdcap-outofdate",
            "tcb_info*", at, "TCB Info is for TDX, the quote is SGX");
    swapped("sgx-v3-zkdcap-swhardening", "sgx-v3-zkdcap-swhardening", "tdx-v4-zkdcap-outofdate",
            "qe_identity*", at, "QE Identity is TD_QE, the quote needs QE");
    swapped("tdx-v4-zkdcap-outofdate", "tdx-v4-zkdcap-outofdate", "sgx-v3-zkdcap-swhardening",
            "qe_identity*", at, "QE Identity is QE, the quote needs TD_QE");
}

/* TCB Info for another platform: the FMSPC in the PCK certificate decides. The quote of
 * one SGX set (FMSPC 00A067110000) against another's collateral (00906ED50000), whose
 * PCK CRL is the same Processor CA's. */
static void test_tcb_info_for_another_platform_is_refused(void **state)
{
    (void)state;
    swapped("sgx-v3-dcapqvl-cfg-swhardening", "sgx-v3-zkdcap-swhardening",
            "sgx-v3-zkdcap-swhardening", "tcb_info.json", 1737458686,
            "TCB Info FMSPC/PCE-ID differ from the PCK certificate's");
}

/* The sim collateral's QE Identity body with `from` replaced by `to`, re-signed by the sim
 * TCB signing key, written into scratch. */
static void resign_qe_identity(const char *sim, const char *from, const char *to)
{
    char path[600];
    kt_buf b = {0}, keypem = {0}, sig = {0};
    snprintf(path, sizeof path, "%s/attest/collateral/qe_identity.json", sim);
    assert_int_equal(kt_file_read(path, 1 << 20, &b), KT_OK);
    assert_int_equal(kt_buf_append(&b, "", 1), KT_OK);
    const char *head = "{\"enclaveIdentity\":", *tail = ",\"signature\":\"";
    char *text = (char *)b.data, *body = text + strlen(head), *end = strstr(text, tail);
    assert_true(strncmp(text, head, strlen(head)) == 0 && end);
    *end = 0;
    char *at = strstr(body, from);
    if (!at) fail_msg("'%s' is not in the sim QE Identity", from);
    char edited[4096], hex[129], out[4400];
    snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - body), body, to, at + strlen(from));
    snprintf(path, sizeof path, "%s/attest/tcb_signing.key", sim);
    assert_int_equal(kt_file_read(path, 1 << 16, &keypem), KT_OK);
    kt_key *key;
    assert_int_equal(kt_key_from_pem((const char *)keypem.data, keypem.len, &key), KT_OK);
    assert_int_equal(kt_sign(key, edited, strlen(edited), &sig), KT_OK);
    assert_int_equal(kt_hex_encode(sig.data, sig.len, hex, sizeof hex), KT_OK);
    int n = snprintf(out, sizeof out, "%s%s%s%s\"}", head, edited, tail, hex);
    snprintf(path, sizeof path, "%s/qe_identity.json", scratch);
    assert_int_equal(kt_file_write_atomic(path, out, (size_t)n, 0644), KT_OK);
    kt_key_free(key);
    kt_buf_free(&b);
    kt_buf_free(&keypem);
    kt_buf_free(&sig);
}

/* The QE report against QE Identity: MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under
 * their masks, then a TCB level for its ISVSVN. The sim QE reports MISCSELECT 0,
 * ATTRIBUTES 0x11 in byte 0, ISVPRODID 1, ISVSVN 1. */
static void test_qe_report_against_qe_identity_each_field(void **state)
{
    (void)state;
    char sim[] = "/tmp/kt-qematch-XXXXXX", cmd[256];
    assert_non_null(mkdtemp(sim));
    kt_sim_qe *qe;
    assert_int_equal(kt_sim_qe_open(sim, &qe), KT_OK);
    uint8_t body[384] = {0};
    kt_buf q = {0};
    assert_int_equal(kt_sim_qe_quote_body(qe, body, &q), KT_OK);
    /* another MRSIGNER: the identity's first hex digit changed */
    char path[600], mrs_from[16], mrs_to[16];
    kt_buf id = {0};
    snprintf(path, sizeof path, "%s/qe_identity.json", kt_sim_qe_collateral_dir(qe));
    assert_int_equal(kt_file_read(path, 1 << 20, &id), KT_OK);
    assert_int_equal(kt_buf_append(&id, "", 1), KT_OK);
    const char *m = strstr((const char *)id.data, "\"mrsigner\":\"");
    assert_non_null(m);
    snprintf(mrs_from, sizeof mrs_from, "%.13s", m);
    snprintf(mrs_to, sizeof mrs_to, "%.12s%c", m, m[12] == '0' ? '1' : '0');
    kt_buf_free(&id);
    const struct {
        const char *from, *to, *reason;
    } cases[] = {
        {"\"isvprodid\":1", "\"isvprodid\":1", NULL}, /* re-signed unchanged: passes */
        {mrs_from, mrs_to, "QE report MRSIGNER is not the QE Identity's"},
        {"\"isvprodid\":1", "\"isvprodid\":2", "QE report ISVPRODID 1 is not the QE Identity's 2"},
        {"\"miscselect\":\"00000000\"", "\"miscselect\":\"00000001\"",
         "QE report MISCSELECT does not match the QE Identity"},
        {"\"attributes\":\"11", "\"attributes\":\"13", "QE report ATTRIBUTES do not match"},
        {"\"isvsvn\":1}", "\"isvsvn\":2}", "QE ISVSVN 1 has no TCB level in the QE Identity"},
    };
    time_t at = time(NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        copy_collateral(kt_sim_qe_collateral_dir(qe));
        resign_qe_identity(sim, cases[i].from, cases[i].to);
        kt_verdict v;
        verify_scratch(&q, at, &v);
        if (!cases[i].reason) {
            if (!v.ok) fail_msg("re-signed unchanged: %s", v.reason);
            assert_true(v.simulated);
        } else {
            expect_fail(&v, cases[i].reason);
        }
    }
    kt_buf_free(&q);
    kt_sim_qe_free(qe);
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", sim, scratch);
    run(cmd);
}

int main(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/kt-collmatch-%d", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcb_info_and_qe_identity_for_another_tee_are_refused),
        cmocka_unit_test(test_tcb_info_for_another_platform_is_refused),
        cmocka_unit_test(test_qe_report_against_qe_identity_each_field),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rm_tree(scratch)) rc = 1;
    return rc;
}
