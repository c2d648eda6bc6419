/* Simulated attestation, end to end: an enclave makes a REPORT for the simulated QE,
 * the QE quotes it, and the same verifier that checks Intel's quotes checks this one,
 * against collateral issued under the simulation root, and marks it simulated; policies
 * refuse it unless they allow simulation. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "../../src/attest/internal.h"
#include <kubetee/attest.h>
#include <kubetee/tff.h>
#include "tfftest.pb-c.h"
#include "tff.pb-c.h"

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char sim_a[64], sim_b[64], sim_c[64], share[80];

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

    /* against Intel's root the same quote does not verify at all: its QE is not Intel's */
    char intel[600];
    snprintf(intel, sizeof intel,
             "%s/../shared/testdata/attestation/sgx-v3-dcapqvl-cfg-swhardening/intel_root_ca.pem",
             KT_TEST_SOURCE_DIR);
    kt_collateral *ic;
    assert_int_equal(kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), intel, &ic), KT_OK);
    assert_false(kt_collateral_is_simulated(ic));
    assert_int_equal(kt_quote_verify(quote.data, quote.len, ic, time(NULL), &v), KT_OK);
    assert_false(v.ok);
    if (!strstr(v.reason, "is not Intel's QE's")) fail_msg("%s", v.reason);
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
    assert_int_equal(rm_tree(scratch), 0);
    kt_buf_free(&quote);
    kt_enclave_destroy(e);
    kt_sim_qe_free(qe);
}

/* ---- what only the anchor's TCB signer, the anchor's QE and the whole path vouch for ---- */

/* <sim>/attest: the sim PKI's certificates and keys, beside its collateral. */
static void pki_of(const kt_sim_qe *qe, char out[512])
{
    snprintf(out, 512, "%s", kt_sim_qe_collateral_dir(qe));
    *strrchr(out, '/') = '\0';
}

/* ECDSA r||s over msg by the PEM key dir/name. */
static void sign_with(const char *dir, const char *name, const void *msg, size_t n, uint8_t sig[64])
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    kt_buf pem = {0}, s = {0};
    kt_key *k = NULL;
    assert_int_equal(kt_file_read(path, 1 << 16, &pem), KT_OK);
    assert_int_equal(kt_key_from_pem((const char *)pem.data, pem.len, &k), KT_OK);
    assert_int_equal(kt_sign(k, msg, n, &s), KT_OK);
    assert_int_equal(s.len, 64);
    memcpy(sig, s.data, 64);
    kt_key_free(k);
    kt_buf_free(&pem);
    kt_buf_free(&s);
}

/* A sim quote of an enclave body with report data byte rd (not debug). */
static void sim_quote(const kt_sim_qe *qe, uint8_t rd, kt_buf *quote)
{
    kt_report_body b = {.attr_flags = 0x4, .attr_xfrm = 0x3, .prodid = 1, .svn = 1};
    memset(b.mrenclave, 0x11, 32);
    memset(b.report_data, rd, 64);
    uint8_t body[KT_REPORT_BODY_LEN];
    kt_report_body_encode(&b, body);
    assert_int_equal(kt_sim_qe_quote_body(qe, body, quote), KT_OK);
}

/* The quote's header with QE vendor ID `vendor`, header and body signed again by the sim
 * QE's attestation key: only the vendor ID differs from what the QE wrote. */
static void with_vendor(const char *pki, kt_buf *quote, const void *vendor)
{
    memcpy(quote->data + 12, vendor, 16);
    sign_with(pki, "attestation.key", quote->data, 48 + 384, quote->data + 48 + 384 + 4);
}

static kt_verdict verify_in(const char *dir, const char *root, const kt_buf *quote)
{
    kt_collateral *c = NULL;
    kt_verdict v;
    if (kt_collateral_load_dir(dir, root, &c)) fail_msg("%s: %s", dir, kt_last_error());
    assert_int_equal(kt_quote_verify(quote->data, quote->len, c, time(NULL), &v), KT_OK);
    kt_collateral_free(c);
    return v;
}

static void expect_refused(const kt_verdict *v, const char *reason)
{
    if (v->ok || !strstr(v->reason, reason))
        fail_msg("expected '%s', got %s", reason, v->ok ? "success" : v->reason);
}

static void scratch_copy(const char *dir, char out[64])
{
    snprintf(out, 64, "/tmp/kt-pinned-XXXXXX");
    assert_non_null(mkdtemp(out));
    char cmd[800];
    snprintf(cmd, sizeof cmd, "cp %s/* %s/", dir, out);
    assert_int_equal(system(cmd), 0);
}

/* The exact bytes of the value of `key` in dir/file (a PCS body), with its first `from`
 * replaced by `to` when from is given. */
static char *pcs_value(const char *dir, const char *file, const char *key, const char *from,
                       const char *to)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    kt_buf b = {0};
    assert_int_equal(kt_file_read(path, 1 << 20, &b), KT_OK);
    const char *v;
    size_t n;
    assert_int_equal(kt_json_raw_value((const char *)b.data, b.len, key, &v, &n), KT_OK);
    char *out = calloc(1, n + (to ? strlen(to) : 0) + 1);
    memcpy(out, v, n);
    kt_buf_free(&b);
    if (from) {
        char *at = strstr(out, from);
        assert_non_null(at);
        char *rest = strdup(at + strlen(from));
        strcpy(at, to);
        strcat(at, rest);
        free(rest);
    }
    return out;
}

/* dir/file: the PCS body {"<key>":value,"signature":...}, signed with the key pki/signer. */
static void write_pcs_body(const char *dir, const char *file, const char *key, const char *value,
                           const char *pki, const char *signer)
{
    uint8_t sig[64];
    char hex[129], path[600];
    sign_with(pki, signer, value, strlen(value), sig);
    kt_hex_encode(sig, 64, hex, sizeof hex);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"%s\":%s,\"signature\":\"%s\"}", key, value, hex);
    fclose(f);
}

/* dir/file: the PEM certificates pki/<names...> in order (NULL-terminated). */
static void write_chain(const char *dir, const char *file, const char *pki, ...)
{
    char cmd[2048] = "cat";
    va_list ap;
    va_start(ap, pki);
    for (const char *n; (n = va_arg(ap, const char *));)
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s/%s", pki, n);
    va_end(ap);
    snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " > %s/%s", dir, file);
    assert_int_equal(system(cmd), 0);
}

/* dir/<base>.pem and .key, made with OpenSSL: a P-256 certificate for CN cn, issued by
 * issuer_dir/<issuer>.pem and .key (self-signed when issuer is NULL); a CA with pathLen
 * path_len (-1: unconstrained), or an end entity for signatures when path_len is -2. */
static void ossl_issue(const char *dir, const char *base, const char *cn, const char *issuer_dir,
                       const char *issuer, int path_len)
{
    static long serial = 1000;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *by = NULL, *x = X509_new();
    EVP_PKEY *by_key = key;
    char name[64], bc[64], path[600];
    if (issuer) {
        snprintf(name, sizeof name, "%s.pem", issuer);
        by = read_pem(issuer_dir, name, false);
        snprintf(name, sizeof name, "%s.key", issuer);
        by_key = read_pem(issuer_dir, name, true);
    }
    X509_NAME *subject = X509_NAME_new();
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 30 * 86400);
    X509_set_subject_name(x, subject);
    X509_set_issuer_name(x, by ? X509_get_subject_name(by) : subject);
    X509_set_pubkey(x, key);
    if (path_len == -2)
        snprintf(bc, sizeof bc, "critical,CA:FALSE");
    else if (path_len == -1)
        snprintf(bc, sizeof bc, "critical,CA:TRUE");
    else
        snprintf(bc, sizeof bc, "critical,CA:TRUE,pathlen:%d", path_len);
    const char *ku = path_len == -2 ? "critical,digitalSignature" : "critical,keyCertSign,cRLSign";
    int nids[] = {NID_basic_constraints, NID_key_usage, NID_subject_key_identifier};
    const char *values[] = {bc, ku, "hash"}; /* the sim PKI issues with authority key IDs */
    for (int i = 0; i < 3; i++) {
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, by ? by : x, x, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nids[i], values[i]);
        assert_non_null(ext);
        assert_true(X509_add_ext(x, ext, -1));
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, by_key, EVP_sha256()) > 0);
    snprintf(path, sizeof path, "%s/%s.pem", dir, base);
    FILE *f = fopen(path, "w");
    assert_true(f && PEM_write_X509(f, x));
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.key", dir, base);
    f = fopen(path, "w");
    assert_true(f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    X509_NAME_free(subject);
    X509_free(x);
    X509_free(by);
    if (by_key != key) EVP_PKEY_free(by_key);
    EVP_PKEY_free(key);
}

/* TCB Info and QE Identity count only when signed by the TCB signing certificate issued
 * directly by the root. A PCK certificate is an end entity for signatures under the same
 * root, and whoever holds one PCK key could otherwise sign "UpToDate" for any platform:
 * the OutOfDate platform below stays OutOfDate. */
static void test_only_the_tcb_signer_vouches_for_tcb_info_and_qe_identity(void **state)
{
    (void)state;
    kt_sim_qe *qe;
    assert_int_equal(kt_sim_qe_open(sim_a, &qe), KT_OK);
    kt_buf quote = {0};
    sim_quote(qe, 0x21, &quote);
    char pki[512], dir[64];
    pki_of(qe, pki);
    const char *coll = kt_sim_qe_collateral_dir(qe);
    scratch_copy(coll, dir);

    /* the platform is out of date, as the TCB signer says */
    char *out_of_date =
        pcs_value(coll, "tcb_info.json", "tcbInfo", "\"UpToDate\"", "\"OutOfDate\"");
    write_pcs_body(dir, "tcb_info.json", "tcbInfo", out_of_date, pki, "tcb_signing.key");
    kt_verdict v = verify_in(dir, NULL, &quote);
    if (!v.ok) fail_msg("%s", v.reason);
    assert_int_equal(v.tcb_status, KT_TCB_OUT_OF_DATE);

    /* "UpToDate" signed by the PCK key, with the PCK certificate's chain: refused */
    char *up_to_date = pcs_value(coll, "tcb_info.json", "tcbInfo", NULL, NULL);
    write_pcs_body(dir, "tcb_info.json", "tcbInfo", up_to_date, pki, "pck.key");
    write_chain(dir, "tcb_info_issuer_chain.pem", pki, "pck.pem", "pck_ca.pem", "root_ca.pem",
                NULL);
    v = verify_in(dir, NULL, &quote);
    expect_refused(&v, "TCB Info issuer chain holds 3 certificates; it must be exactly the TCB "
                       "signing certificate, then the root");
    /* nor with the PCK certificate placed right under the root */
    write_chain(dir, "tcb_info_issuer_chain.pem", pki, "pck.pem", "root_ca.pem", NULL);
    v = verify_in(dir, NULL, &quote);
    expect_refused(&v, "'kubetee Simulation PCK Certificate' names another issuer");
    /* an end entity the root did issue, under another name (Intel's, even): refused */
    ossl_issue(dir, "impostor", KT_INTEL_TCB_SIGNER_CN, pki, "root_ca", -2);
    write_pcs_body(dir, "tcb_info.json", "tcbInfo", up_to_date, dir, "impostor.key");
    write_chain(dir, "tcb_info_issuer_chain.pem", dir, "impostor.pem", "intel_root_ca.pem", NULL);
    v = verify_in(dir, NULL, &quote);
    expect_refused(&v, "TCB Info: signer 'Intel SGX TCB Signing' is not the TCB signing "
                       "certificate 'kubetee Simulation TCB Signing'");

    /* QE Identity: the same rule */
    write_pcs_body(dir, "tcb_info.json", "tcbInfo", out_of_date, pki, "tcb_signing.key");
    write_chain(dir, "tcb_info_issuer_chain.pem", pki, "tcb_signing.pem", "root_ca.pem", NULL);
    char *qe_id = pcs_value(coll, "qe_identity.json", "enclaveIdentity", NULL, NULL);
    write_pcs_body(dir, "qe_identity.json", "enclaveIdentity", qe_id, pki, "pck.key");
    write_chain(dir, "qe_identity_issuer_chain.pem", pki, "pck.pem", "pck_ca.pem", "root_ca.pem",
                NULL);
    v = verify_in(dir, NULL, &quote);
    expect_refused(&v, "QE Identity issuer chain holds 3 certificates");
    write_pcs_body(dir, "qe_identity.json", "enclaveIdentity", qe_id, dir, "impostor.key");
    write_chain(dir, "qe_identity_issuer_chain.pem", dir, "impostor.pem", "intel_root_ca.pem",
                NULL);
    v = verify_in(dir, NULL, &quote);
    expect_refused(&v, "QE Identity: signer 'Intel SGX TCB Signing' is not the TCB signing");
    /* and signed as the PCS would, it verifies, still out of date */
    write_pcs_body(dir, "qe_identity.json", "enclaveIdentity", qe_id, pki, "tcb_signing.key");
    write_chain(dir, "qe_identity_issuer_chain.pem", pki, "tcb_signing.pem", "root_ca.pem", NULL);
    v = verify_in(dir, NULL, &quote);
    if (!v.ok) fail_msg("%s", v.reason);
    assert_int_equal(v.tcb_status, KT_TCB_OUT_OF_DATE);
    /* another TCB signing certificate of the root (the same name, its own key) as the QE
     * Identity's signer: the body is verified with its key, never the TCB Info signer's,
     * which the loader shares only with a byte-identical certificate */
    ossl_issue(dir, "second_signer", KT_SIM_TCB_SIGNER_CN, pki, "root_ca", -2);
    write_chain(dir, "qe_identity_issuer_chain.pem", dir, "second_signer.pem", "intel_root_ca.pem",
                NULL);
    v = verify_in(dir, NULL, &quote);
    expect_refused(&v, "QE Identity: signature does not verify");
    write_pcs_body(dir, "qe_identity.json", "enclaveIdentity", qe_id, dir, "second_signer.key");
    v = verify_in(dir, NULL, &quote);
    if (!v.ok) fail_msg("%s", v.reason);
    assert_int_equal(v.tcb_status, KT_TCB_OUT_OF_DATE);

    free(out_of_date);
    free(up_to_date);
    free(qe_id);
    assert_int_equal(rm_tree(dir), 0);
    kt_buf_free(&quote);
    kt_sim_qe_free(qe);
}

/* A verdict holds every advisory ID of its matched levels: a platform level with the most
 * a level may list and a QE level with one more give all of them (the QE's was dropped
 * when the union was capped at one level's worth); a level with more is refused. */
static void test_the_verdict_keeps_every_advisory_of_its_levels(void **state)
{
    (void)state;
    kt_sim_qe *qe;
    assert_int_equal(kt_sim_qe_open(sim_a, &qe), KT_OK);
    kt_buf quote = {0};
    sim_quote(qe, 0x25, &quote);
    char pki[512], dir[64], ids[64 * 20] = "", with[sizeof ids + 64];
    pki_of(qe, pki);
    const char *coll = kt_sim_qe_collateral_dir(qe);
    scratch_copy(coll, dir);
    for (int i = 0; i < KT_LEVEL_MAX_ADVISORIES; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s\"INTEL-SA-%05d\"", i ? "," : "",
                 i);
    snprintf(with, sizeof with, "\"tcbStatus\":\"UpToDate\",\"advisoryIDs\":[%s]", ids);
    char *tcb = pcs_value(coll, "tcb_info.json", "tcbInfo", "\"tcbStatus\":\"UpToDate\"", with);
    write_pcs_body(dir, "tcb_info.json", "tcbInfo", tcb, pki, "tcb_signing.key");
    char *qe_id =
        pcs_value(coll, "qe_identity.json", "enclaveIdentity", "\"tcbStatus\":\"UpToDate\"",
                  "\"tcbStatus\":\"UpToDate\",\"advisoryIDs\":[\"INTEL-SA-00000\",\"QE-ONLY\"]");
    write_pcs_body(dir, "qe_identity.json", "enclaveIdentity", qe_id, pki, "tcb_signing.key");
    kt_verdict v = verify_in(dir, NULL, &quote);
    if (!v.ok) fail_msg("%s", v.reason);
    assert_int_equal(v.advisory_count, KT_LEVEL_MAX_ADVISORIES + 1);
    assert_string_equal(v.advisories[KT_LEVEL_MAX_ADVISORIES - 1], "INTEL-SA-00031");
    assert_string_equal(v.advisories[KT_LEVEL_MAX_ADVISORIES], "QE-ONLY");
    /* one more on a level is refused by name */
    snprintf(with, sizeof with, "\"tcbStatus\":\"UpToDate\",\"advisoryIDs\":[%s,\"X\"]", ids);
    free(tcb);
    tcb = pcs_value(coll, "tcb_info.json", "tcbInfo", "\"tcbStatus\":\"UpToDate\"", with);
    write_pcs_body(dir, "tcb_info.json", "tcbInfo", tcb, pki, "tcb_signing.key");
    kt_collateral *c = NULL;
    assert_fails_with(kt_collateral_load_dir(dir, NULL, &c), KT_ERR_MALFORMED,
                      "\"advisoryIDs\" is not a list of at most 32");
    free(tcb);
    free(qe_id);
    assert_int_equal(rm_tree(dir), 0);
    kt_buf_free(&quote);
    kt_sim_qe_free(qe);
}

/* TCB Info for the same FMSPC but another PCE-ID, signed by the TCB signer, is another
 * platform's: refused (the FMSPC case is tests/unit/test_collateral_match.c's). */
static void test_tcb_info_for_another_pce_id_is_refused(void **state)
{
    (void)state;
    kt_sim_qe *qe;
    assert_int_equal(kt_sim_qe_open(sim_a, &qe), KT_OK);
    kt_buf quote = {0};
    sim_quote(qe, 0x26, &quote);
    char pki[512], dir[64];
    pki_of(qe, pki);
    const char *coll = kt_sim_qe_collateral_dir(qe);
    scratch_copy(coll, dir);
    char *tcb =
        pcs_value(coll, "tcb_info.json", "tcbInfo", "\"pceId\":\"0000\"", "\"pceId\":\"0001\"");
    write_pcs_body(dir, "tcb_info.json", "tcbInfo", tcb, pki, "tcb_signing.key");
    kt_verdict v = verify_in(dir, NULL, &quote);
    expect_refused(&v, "TCB Info FMSPC/PCE-ID differ from the PCK certificate's");
    free(tcb);
    assert_int_equal(rm_tree(dir), 0);
    kt_buf_free(&quote);
    kt_sim_qe_free(qe);
}

/* The QE vendor ID in the header is Intel's QE's; the sim QE's own is accepted only under
 * a simulation root. Each quote here is signed again after its vendor ID changed, so the
 * signature holds and the vendor ID is what is judged. */
static void test_the_qe_vendor_id_is_the_anchors(void **state)
{
    (void)state;
    kt_sim_qe *qe;
    assert_int_equal(kt_sim_qe_open(sim_a, &qe), KT_OK);
    kt_buf quote = {0};
    sim_quote(qe, 0x22, &quote);
    char pki[512], intel[600];
    pki_of(qe, pki);
    snprintf(intel, sizeof intel,
             "%s/../shared/testdata/attestation/sgx-v3-dcapqvl-cfg-swhardening/intel_root_ca.pem",
             KT_TEST_SOURCE_DIR);
    const char *coll = kt_sim_qe_collateral_dir(qe);
    static const uint8_t zero[16];

    with_vendor(pki, &quote, zero);
    kt_verdict v = verify_in(coll, NULL, &quote);
    expect_refused(&v, "QE vendor ID 00000000000000000000000000000000 is not Intel's QE's "
                       "(939a7233f79c4ca9940a0db3957f0607) nor the sim QE's");
    with_vendor(pki, &quote, KT_SIM_QE_VENDOR_ID); /* what the sim QE wrote, signed again */
    v = verify_in(coll, NULL, &quote);
    if (!v.ok) fail_msg("%s", v.reason);
    /* under Intel's root only Intel's QE; with its ID the chain is what fails */
    v = verify_in(coll, intel, &quote);
    expect_refused(&v, "QE vendor ID 6b7562657465652d73696d2d71650000 is not Intel's QE's");
    with_vendor(pki, &quote, KT_INTEL_QE_VENDOR_ID);
    v = verify_in(coll, intel, &quote);
    expect_refused(&v, "does not verify to the trust anchor");
    v = verify_in(coll, NULL, &quote); /* a simulation root accepts Intel's ID too */
    if (!v.ok) fail_msg("%s", v.reason);
    kt_buf_free(&quote);
    kt_sim_qe_free(qe);
}

/* The root's pathLenConstraint is judged over the whole PCK path (root, PCK CA, PCK
 * certificate), though the PCK CA itself was checked with the PCK CRL's shorter chain. */
static void test_the_root_path_length_counts_the_whole_pck_path(void **state)
{
    (void)state;
    for (int root_path_len = 0; root_path_len <= 1; root_path_len++) {
        char pki[64] = "/tmp/kt-pathlen-XXXXXX";
        assert_non_null(mkdtemp(pki));
        ossl_issue(pki, "root_ca", "kubetee Simulation Root CA", NULL, NULL, root_path_len);
        ossl_issue(pki, "pck_ca", "kubetee Simulation PCK Platform CA", pki, "root_ca", 0);
        ossl_issue(pki, "tcb_signing", KT_SIM_TCB_SIGNER_CN, pki, "root_ca", -2);
        if (kt_sim_root_import(sim_c, pki)) fail_msg("%s", kt_last_error());
        kt_sim_qe *qe;
        assert_int_equal(kt_sim_qe_open(sim_c, &qe), KT_OK);
        kt_buf quote = {0};
        sim_quote(qe, 0x23, &quote);
        kt_verdict v = verify_in(kt_sim_qe_collateral_dir(qe), NULL, &quote);
        if (root_path_len == 0)
            expect_refused(&v, "PCK certificate chain: 'kubetee Simulation Root CA' allows 0 CAs "
                               "below it, the chain has 1");
        else if (!v.ok)
            fail_msg("pathLen 1: %s", v.reason);
        kt_buf_free(&quote);
        kt_sim_qe_free(qe);
        assert_int_equal(rm_tree(pki), 0);
    }
}

/* A certificate's name is input: a crafted one reaches the reason escaped, so it cannot
 * start a line of its own, and the verdict stays valid JSON with its reason. */
/* path: a PEM of der, then rest (the END line and what followed it). */
static void write_first_cert(const char *path, const kt_buf *der, const char *rest)
{
    kt_buf b64 = {0};
    assert_int_equal(kt_base64_encode(der->data, der->len, &b64), KT_OK);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "-----BEGIN CERTIFICATE-----\n%.*s\n%s", (int)b64.len, (char *)b64.data, rest);
    fclose(f);
    kt_buf_free(&b64);
}

static void test_a_crafted_common_name_is_escaped_in_the_verdict(void **state)
{
    (void)state;
    kt_sim_qe *qe;
    assert_int_equal(kt_sim_qe_open(sim_a, &qe), KT_OK);
    kt_buf quote = {0};
    sim_quote(qe, 0x24, &quote);
    char dir[64], path[600];
    scratch_copy(kt_sim_qe_collateral_dir(qe), dir);
    /* the TCB signer's name rewritten in place (its signature then fails, naming it) */
    snprintf(path, sizeof path, "%s/tcb_info_issuer_chain.pem", dir);
    kt_buf pem = {0}, der = {0};
    assert_int_equal(kt_file_read(path, 1 << 16, &pem), KT_OK);
    assert_int_equal(kt_buf_append(&pem, "", 1), KT_OK);
    char *begin = strstr((char *)pem.data, "-----BEGIN CERTIFICATE-----") + 27;
    char *end = strstr(begin, "-----END CERTIFICATE-----");
    char clean[4096];
    size_t k = 0;
    for (char *c = begin; c < end; c++)
        if (*c != '\n' && *c != '\r') clean[k++] = *c;
    assert_int_equal(kt_base64_decode(clean, k, &der), KT_OK);
    static const char name[] = KT_SIM_TCB_SIGNER_CN;
    /* a name that is not UTF-8 is refused by the reader, before it could reach a reason */
    static const char not_utf8[] = "\nPASS  tcb=UpToDate\"}\xff\xfe\x01xxxxxx";
    /* valid UTF-8 (é), so the reader takes it, with a line feed and a control byte */
    static const char crafted[] = "\nPASS  tcb=UpToDate\"}\xc3\xa9\x01xxxxxx";
    assert_int_equal(sizeof crafted, sizeof name);
    assert_int_equal(sizeof not_utf8, sizeof name);
    uint8_t *at = memmem(der.data, der.len, name, sizeof name - 1);
    assert_non_null(at);
    memcpy(at, not_utf8, sizeof not_utf8 - 1);
    write_first_cert(path, &der, end);
    kt_collateral *refused = NULL;
    assert_fails_with(kt_collateral_load_dir(dir, NULL, &refused), KT_ERR_MALFORMED,
                      "certificate subject: a name is not a sequence of single attributes");
    memcpy(at, crafted, sizeof crafted - 1);
    write_first_cert(path, &der, end);

    kt_verdict v = verify_in(dir, NULL, &quote);
    expect_refused(&v, "signature of '\\x0aPASS  tcb=UpToDate\\x22}\\xc3\\xa9\\x01xxxxxx' does not "
                       "verify with the key of 'kubetee Simulation Root CA'");
    for (const char *c = v.reason; *c; c++)
        assert_true(*c >= 0x20 && *c <= 0x7e);
    kt_buf js = {0};
    assert_int_equal(kt_verdict_json(&v, &js), KT_OK);
    json_error_t err;
    json_t *o = json_loads((const char *)js.data, 0, &err);
    if (!o) fail_msg("verdict JSON does not parse: %s: %s", err.text, (char *)js.data);
    const char *reason = json_string_value(json_object_get(o, "reason"));
    assert_non_null(reason);
    assert_string_equal(reason, v.reason);
    assert_true(json_is_false(json_object_get(o, "ok")));
    json_decref(o);
    kt_buf_free(&js);
    kt_buf_free(&pem);
    kt_buf_free(&der);
    assert_int_equal(rm_tree(dir), 0);
    kt_buf_free(&quote);
    kt_sim_qe_free(qe);
}

static int setup(void **state)
{
    (void)state;
    strcpy(sim_a, "/tmp/kt-simA-XXXXXX");
    strcpy(sim_b, "/tmp/kt-simB-XXXXXX");
    strcpy(sim_c, "/tmp/kt-simC-XXXXXX");
    if (!mkdtemp(sim_a) || !mkdtemp(sim_b) || !mkdtemp(sim_c)) return -1;
    snprintf(share, sizeof share, "%s/share", sim_a);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return rm_tree(sim_a) || rm_tree(sim_b) || rm_tree(sim_c) ? -1 : 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simulated_quote_round_trip),
        cmocka_unit_test(test_qe_quotes_only_reports_made_for_it),
        cmocka_unit_test(test_revoked_pck_certificates_fail_verification),
        cmocka_unit_test(test_a_cluster_shares_one_simulation_root),
        cmocka_unit_test(test_enclave_quotes_itself_binding_its_identity_key),
        cmocka_unit_test(test_only_the_tcb_signer_vouches_for_tcb_info_and_qe_identity),
        cmocka_unit_test(test_the_verdict_keeps_every_advisory_of_its_levels),
        cmocka_unit_test(test_tcb_info_for_another_pce_id_is_refused),
        cmocka_unit_test(test_the_qe_vendor_id_is_the_anchors),
        cmocka_unit_test(test_the_root_path_length_counts_the_whole_pck_path),
        cmocka_unit_test(test_a_crafted_common_name_is_escaped_in_the_verdict),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
