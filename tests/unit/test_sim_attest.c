/* Simulated attestation, end to end: an enclave makes a REPORT for the simulated QE,
 * the QE quotes it, and the same verifier that checks Intel's quotes checks this one,
 * against collateral issued under the simulation root, and marks it simulated; policies
 * refuse it unless they allow simulation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/attest.h>
#include <kubetee/tff.h>
#include "tfftest.pb-c.h"
#include "tff.pb-c.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char sim_a[64], sim_b[64], share[80];

static kt_enclave *load(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/enclaves/tfftest.signed.so", KT_TEST_BINARY_DIR);
    kt_enclave_options o = {.sim_dir = dir};
    kt_enclave *e = NULL;
    if (kt_enclave_create(path, &o, &e)) fail_msg("%s", kt_last_error());
    return e;
}

/* The enclave's REPORT for the QE, quoted. */
static void quote_from_enclave(kt_enclave *e, kt_sim_qe *qe, uint8_t rd_byte, kt_buf *quote)
{
    uint8_t ti[512], rd[64];
    memset(rd, rd_byte, sizeof rd);
    assert_int_equal(kt_sim_qe_target_info(qe, ti), KT_OK);
    Tfftest__ReportRequest req = TFFTEST__REPORT_REQUEST__INIT;
    Tfftest__Bytes report = TFFTEST__BYTES__INIT;
    req.target_info.data = ti;
    req.target_info.len = sizeof ti;
    req.report_data.data = rd;
    req.report_data.len = 64;
    assert_int_equal(kt_enclave_call(e, "Report", &req, &report), KT_OK);
    if (kt_sim_qe_quote(qe, report.data.data, quote)) fail_msg("%s", kt_last_error());
    kt_message_clear(&report);
}

static void test_simulated_quote_round_trip(void **state)
{
    (void)state;
    kt_sim_qe *qe;
    assert_int_equal(kt_sim_qe_open(sim_a, &qe), KT_OK);
    kt_enclave *e = load(sim_a);
    kt_buf quote = {0};
    quote_from_enclave(e, qe, 0x42, &quote);

    kt_collateral *c;
    assert_int_equal(kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &c), KT_OK);
    assert_true(kt_collateral_is_simulated(c));
    kt_verdict v;
    assert_int_equal(kt_quote_verify(quote.data, quote.len, c, time(NULL), &v), KT_OK);
    if (!v.ok) fail_msg("%s", v.reason);
    assert_true(v.simulated);
    assert_int_equal(v.quote.version, 3);
    assert_int_equal(v.tcb_status, KT_TCB_UP_TO_DATE);
    assert_memory_equal(v.quote.sgx.mrenclave, kt_enclave_identity_of(e)->mrenclave, 32);
    assert_memory_equal(v.quote.sgx.mrsigner, kt_enclave_identity_of(e)->mrsigner, 32);
    assert_int_equal(v.quote.sgx.report_data[17], 0x42);

    /* refused unless the policy allows simulation */
    char mr[65], yaml[512];
    kt_hex_encode(v.quote.sgx.mrenclave, 32, mr, sizeof mr);
    kt_policy *p;
    snprintf(yaml, sizeof yaml, "rules:\n- mrenclave: %s\n", mr);
    assert_int_equal(kt_policy_parse(yaml, strlen(yaml), &p), KT_OK);
    assert_fails_with(kt_policy_check(p, &v), KT_ERR_DENIED, "simulation");
    kt_policy_free(p);
    snprintf(yaml, sizeof yaml, "allow_simulation: true\nrules:\n- mrenclave: %s\n", mr);
    assert_int_equal(kt_policy_parse(yaml, strlen(yaml), &p), KT_OK);
    assert_int_equal(kt_policy_check(p, &v), KT_OK);
    kt_policy_free(p);

    /* against Intel's root the same quote does not verify at all */
    char intel[600];
    snprintf(intel, sizeof intel,
             "%s/../shared/testdata/attestation/sgx-v3-dcapqvl-cfg-swhardening/intel_root_ca.pem",
             KT_TEST_SOURCE_DIR);
    kt_collateral *ic;
    assert_int_equal(kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), intel, &ic), KT_OK);
    assert_false(kt_collateral_is_simulated(ic));
    assert_int_equal(kt_quote_verify(quote.data, quote.len, ic, time(NULL), &v), KT_OK);
    assert_false(v.ok);
    assert_non_null(strstr(v.reason, "trust anchor"));
    kt_collateral_free(ic);

    /* one flipped bit of the report data breaks the quote signature */
    quote.data[48 + 320] ^= 1;
    assert_int_equal(kt_quote_verify(quote.data, quote.len, c, time(NULL), &v), KT_OK);
    assert_false(v.ok);
    assert_non_null(strstr(v.reason, "quote signature"));
    kt_collateral_free(c);
    kt_buf_free(&quote);
    kt_enclave_destroy(e);
    kt_sim_qe_free(qe);
}

static void test_qe_quotes_only_reports_made_for_it(void **state)
{
    (void)state;
    kt_sim_qe *qe;
    assert_int_equal(kt_sim_qe_open(sim_a, &qe), KT_OK);
    kt_enclave *e = load(sim_a);
    Tfftest__ReportRequest req = TFFTEST__REPORT_REQUEST__INIT;
    Tfftest__Bytes report = TFFTEST__BYTES__INIT;
    uint8_t rd[64] = {0};
    req.report_data.data = rd;
    req.report_data.len = 64; /* no target: a report for the enclave itself */
    assert_int_equal(kt_enclave_call(e, "Report", &req, &report), KT_OK);
    kt_buf quote = {0};
    assert_fails_with(kt_sim_qe_quote(qe, report.data.data, &quote), KT_ERR_VERIFY,
                      "not made for the QE");
    /* nor a report for the QE that the host edited (its own report data, say) */
    uint8_t ti[512];
    assert_int_equal(kt_sim_qe_target_info(qe, ti), KT_OK);
    req.target_info.data = ti;
    req.target_info.len = sizeof ti;
    kt_message_clear(&report);
    assert_int_equal(kt_enclave_call(e, "Report", &req, &report), KT_OK);
    assert_int_equal(kt_sim_qe_quote(qe, report.data.data, &quote), KT_OK);
    report.data.data[320] ^= 1;
    kt_buf forged = {0};
    assert_fails_with(kt_sim_qe_quote(qe, report.data.data, &forged), KT_ERR_VERIFY,
                      "not made for the QE");
    assert_int_equal(forged.len, 0);
    kt_message_clear(&report);
    kt_buf_free(&quote);
    kt_enclave_destroy(e);
    kt_sim_qe_free(qe);
}

static void test_a_cluster_shares_one_simulation_root(void **state)
{
    (void)state;
    kt_sim_qe *qa, *qb;
    assert_int_equal(kt_sim_qe_open(sim_a, &qa), KT_OK);
    assert_int_equal(kt_sim_root_export(sim_a, share), KT_OK);
    assert_int_equal(kt_sim_root_import(sim_b, share), KT_OK);
    assert_int_equal(kt_sim_qe_open(sim_b, &qb), KT_OK);
    /* node B's enclave, quoted by B's QE, verifies with node A's collateral */
    kt_enclave *e = load(sim_b);
    kt_buf quote = {0};
    quote_from_enclave(e, qb, 7, &quote);
    kt_collateral *ca;
    assert_int_equal(kt_collateral_load_dir(kt_sim_qe_collateral_dir(qa), NULL, &ca), KT_OK);
    kt_verdict v;
    assert_int_equal(kt_quote_verify(quote.data, quote.len, ca, time(NULL), &v), KT_OK);
    if (!v.ok) fail_msg("%s", v.reason);
    kt_collateral_free(ca);
    kt_buf_free(&quote);
    kt_enclave_destroy(e);
    kt_sim_qe_free(qa);
    kt_sim_qe_free(qb);
}

/* The whole path a TA takes: the enclave quotes a hash of its identity key, the host only
 * relays, and a verifier that trusts the simulation root checks measurement and binding. */
static void test_enclave_quotes_itself_binding_its_identity_key(void **state)
{
    (void)state;
    assert_int_equal(kt_attest_serve_quotes(sim_a), KT_OK);
    kt_enclave *e = load(sim_a);
    Kubetee__Tff__Empty empty = KUBETEE__TFF__EMPTY__INIT;
    Kubetee__Tff__Identity id = KUBETEE__TFF__IDENTITY__INIT;
    Tfftest__Empty req = TFFTEST__EMPTY__INIT;
    Tfftest__Bytes quote = TFFTEST__BYTES__INIT;
    assert_int_equal(kt_enclave_call(e, "kt.Identity", &empty, &id), KT_OK);
    if (kt_enclave_call(e, "QuoteIdentity", &req, &quote)) fail_msg("%s", kt_last_error());

    kt_sim_qe *qe;
    kt_collateral *c;
    kt_verdict v;
    assert_int_equal(kt_sim_qe_open(sim_a, &qe), KT_OK);
    assert_int_equal(kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &c), KT_OK);
    assert_int_equal(kt_quote_verify(quote.data.data, quote.data.len, c, time(NULL), &v), KT_OK);
    if (!v.ok) fail_msg("%s", v.reason);

    uint8_t hash[32];
    char mr[65], bind[65], yaml[512];
    assert_int_equal(kt_sha256(id.public_key.data, id.public_key.len, hash), KT_OK);
    kt_hex_encode(kt_enclave_identity_of(e)->mrenclave, 32, mr, sizeof mr);
    kt_hex_encode(hash, 32, bind, sizeof bind);
    snprintf(yaml, sizeof yaml,
             "allow_simulation: true\nrules:\n- {mrenclave: %s, report_data: %s}\n", mr, bind);
    kt_policy *p;
    assert_int_equal(kt_policy_parse(yaml, strlen(yaml), &p), KT_OK);
    assert_int_equal(kt_policy_check(p, &v), KT_OK);
    kt_policy_free(p);
    /* another key does not match the binding */
    hash[0] ^= 1;
    kt_hex_encode(hash, 32, bind, sizeof bind);
    snprintf(yaml, sizeof yaml,
             "allow_simulation: true\nrules:\n- {mrenclave: %s, report_data: %s}\n", mr, bind);
    assert_int_equal(kt_policy_parse(yaml, strlen(yaml), &p), KT_OK);
    assert_fails_with(kt_policy_check(p, &v), KT_ERR_DENIED, "report data differs");
    kt_policy_free(p);
    kt_collateral_free(c);
    kt_sim_qe_free(qe);
    kt_message_clear(&id);
    kt_message_clear(&quote);
    kt_enclave_destroy(e);
}

static void *read_pem(const char *dir, const char *name, bool key)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    void *x = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
                  : (void *)PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

/* A CRL by issuer (the sim's <issuer>.pem and .key) listing the serial of the sim's
 * certificate `listed`, made with OpenSSL and written to path. */
static void write_crl(const char *sim, const char *issuer, const char *listed, const char *path)
{
    char name[64];
    snprintf(name, sizeof name, "%s.pem", issuer);
    X509 *by = read_pem(sim, name, false);
    snprintf(name, sizeof name, "%s.key", issuer);
    EVP_PKEY *key = read_pem(sim, name, true);
    X509 *revoked = read_pem(sim, listed, false);
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_adj(NULL, time(NULL), 0, -3600),
              *t2 = ASN1_TIME_adj(NULL, time(NULL), 1, 0);
    X509_REVOKED *r = X509_REVOKED_new();
    assert_true(X509_CRL_set_version(crl, 1) &&
                X509_CRL_set_issuer_name(crl, X509_get_subject_name(by)) &&
                X509_CRL_set1_lastUpdate(crl, t1) && X509_CRL_set1_nextUpdate(crl, t2) &&
                X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked)) &&
                X509_REVOKED_set_revocationDate(r, t1) && X509_CRL_add0_revoked(crl, r) &&
                X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    assert_int_equal(kt_file_write_atomic(path, der, (size_t)n, 0644), KT_OK);
    OPENSSL_free(der);
    X509_CRL_free(crl);
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    X509_free(by);
    X509_free(revoked);
    EVP_PKEY_free(key);
}

/* Revocation: with the platform's PCK certificate on the PCK CRL, or its PCK CA on the
 * root CA CRL, a quote that is otherwise perfect fails; the same CRLs listing another
 * certificate pass, so it is the listing that fails it. */
static void test_revoked_pck_certificates_fail_verification(void **state)
{
    (void)state;
    kt_sim_qe *qe;
    assert_int_equal(kt_sim_qe_open(sim_a, &qe), KT_OK);
    kt_enclave *e = load(sim_a);
    kt_buf quote = {0};
    quote_from_enclave(e, qe, 0x11, &quote);
    char scratch[] = "/tmp/kt-revoked-XXXXXX", cmd[600], path[600], pki[512];
    assert_non_null(mkdtemp(scratch));
    snprintf(pki, sizeof pki, "%s", kt_sim_qe_collateral_dir(qe)); /* <pki>/collateral */
    *strrchr(pki, '/') = '\0';
    static const struct {
        const char *crl, *issuer, *listed;
        bool fails;
    } cases[] = {
        {"pck_crl.der", "pck_ca", "pck.pem", true},
        {"root_ca_crl.der", "root_ca", "pck_ca.pem", true},
        {"pck_crl.der", "pck_ca", "pck_ca.pem", false},   /* a serial it never issued */
        {"root_ca_crl.der", "root_ca", "pck.pem", false}, /* not the root's to revoke */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(cmd, sizeof cmd, "cp %s/* %s/", kt_sim_qe_collateral_dir(qe), scratch);
        assert_int_equal(system(cmd), 0);
        snprintf(path, sizeof path, "%s/%s", scratch, cases[i].crl);
        write_crl(pki, cases[i].issuer, cases[i].listed, path);
        kt_collateral *c;
        kt_verdict v;
        assert_int_equal(kt_collateral_load_dir(scratch, NULL, &c), KT_OK);
        assert_int_equal(kt_quote_verify(quote.data, quote.len, c, time(NULL), &v), KT_OK);
        if (cases[i].fails) {
            assert_false(v.ok);
            assert_int_equal(v.status, KT_ERR_DENIED);
            if (!strstr(v.reason, "is revoked")) fail_msg("%s", v.reason);
        } else if (!v.ok) {
            fail_msg("%s listing %s: %s", cases[i].crl, cases[i].listed, v.reason);
        }
        kt_collateral_free(c);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", scratch);
    assert_int_equal(system(cmd), 0);
    kt_buf_free(&quote);
    kt_enclave_destroy(e);
    kt_sim_qe_free(qe);
}

static int setup(void **state)
{
    (void)state;
    strcpy(sim_a, "/tmp/kt-simA-XXXXXX");
    strcpy(sim_b, "/tmp/kt-simB-XXXXXX");
    if (!mkdtemp(sim_a) || !mkdtemp(sim_b)) return -1;
    snprintf(share, sizeof share, "%s/share", sim_a);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", sim_a, sim_b);
    return system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simulated_quote_round_trip),
        cmocka_unit_test(test_qe_quotes_only_reports_made_for_it),
        cmocka_unit_test(test_revoked_pck_certificates_fail_verification),
        cmocka_unit_test(test_a_cluster_shares_one_simulation_root),
        cmocka_unit_test(test_enclave_quotes_itself_binding_its_identity_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
