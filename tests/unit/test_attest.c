/* attest against real Intel quotes: every set in ../shared/testdata/attestation verifies
 * to exactly its expected status and advisories at its verify-at time, fails one second
 * outside its window, and every single-fault corruption fails for its stated reason. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "../../src/attest/internal.h"
#include <kubetee/attest.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETS KT_TEST_SOURCE_DIR "/../shared/testdata/attestation"

typedef struct {
    char dir[512];
    json_t *expected;
    kt_buf quote;
    kt_collateral *coll;
} set;

static void open_set(set *s, const char *name)
{
    snprintf(s->dir, sizeof s->dir, "%s/%s", SETS, name);
    char path[600];
    snprintf(path, sizeof path, "%s/expected.json", s->dir);
    json_error_t err;
    s->expected = json_load_file(path, 0, &err);
    if (!s->expected)
        fail_msg("%s: %s (the test sets live in ../shared beside the repository)", path, err.text);
    snprintf(path, sizeof path, "%s/quote.dat", s->dir);
    memset(&s->quote, 0, sizeof s->quote);
    assert_int_equal(kt_file_read(path, KT_QUOTE_MAX, &s->quote), KT_OK);
    if (kt_collateral_load_dir(s->dir, NULL, &s->coll) != KT_OK) fail_msg("%s", kt_last_error());
}

static void close_set(set *s)
{
    json_decref(s->expected);
    kt_buf_free(&s->quote);
    kt_collateral_free(s->coll);
}

static time_t expected_time(const set *s, const char *a, const char *b)
{
    json_t *v = json_object_get(s->expected, a);
    if (b) v = json_object_get(v, b);
    return (time_t)json_integer_value(v);
}

static void check_outcome(const set *s, const kt_verdict *v)
{
    const char *result = json_string_value(json_object_get(s->expected, "expected_result"));
    if (strcmp(result, "OK") != 0) {
        assert_false(v->ok);
        assert_non_null(strstr(v->reason, "TCB level not supported"));
        return;
    }
    if (!v->ok) fail_msg("%s: %s", s->dir, v->reason);
    assert_false(v->simulated);
    const char *want = json_string_value(json_object_get(s->expected, "tcb_status"));
    assert_string_equal(kt_tcb_status_name(v->tcb_status), want);
    json_t *ids = json_object_get(s->expected, "advisory_ids");
    assert_int_equal(v->advisory_count, json_array_size(ids));
    for (size_t i = 0; i < json_array_size(ids); i++) {
        bool found = false;
        for (unsigned k = 0; k < v->advisory_count; k++)
            found |= strcmp(v->advisories[k], json_string_value(json_array_get(ids, i))) == 0;
        if (!found)
            fail_msg("%s: advisory %s missing", s->dir, json_string_value(json_array_get(ids, i)));
    }
    const char *qe = json_string_value(json_object_get(s->expected, "qe_identity_tcb_status"));
    assert_string_equal(kt_tcb_status_name(v->qe_status), qe);
}

static void verify_set(void **state)
{
    const char *name = *state;
    set s;
    open_set(&s, name);
    kt_verdict v;
    time_t at = expected_time(&s, "verify_at", NULL);
    assert_int_equal(kt_quote_verify(s.quote.data, s.quote.len, s.coll, at, &v), KT_OK);
    check_outcome(&s, &v);

    /* the window's edges pass (inclusive), one second outside fails */
    time_t from = expected_time(&s, "collateral_window", "start");
    time_t to = expected_time(&s, "collateral_window", "end");
    bool ok_set =
        strcmp(json_string_value(json_object_get(s.expected, "expected_result")), "OK") == 0;
    assert_int_equal(kt_quote_verify(s.quote.data, s.quote.len, s.coll, from, &v), KT_OK);
    assert_int_equal(v.ok, ok_set);
    assert_int_equal(kt_quote_verify(s.quote.data, s.quote.len, s.coll, to, &v), KT_OK);
    assert_int_equal(v.ok, ok_set);
    assert_int_equal(kt_quote_verify(s.quote.data, s.quote.len, s.coll, from - 1, &v), KT_OK);
    assert_false(v.ok);
    assert_non_null(strstr(v.reason, "not valid at"));
    assert_int_equal(kt_quote_verify(s.quote.data, s.quote.len, s.coll, to + 1, &v), KT_OK);
    assert_false(v.ok);
    assert_non_null(strstr(v.reason, "not valid at"));
    close_set(&s);
}

/* Copies a set's collateral into a scratch directory with one file replaced. */
static void scratch_with(const char *dir, const char *replace, const char *with, char out[64])
{
    snprintf(out, 64, "/tmp/kt-attest-XXXXXX");
    assert_non_null(mkdtemp(out));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp %s/*.pem %s/*.der %s/*.json %s/ && cp %s %s/%s", dir, dir, dir,
             out, with, out, replace);
    assert_int_equal(system(cmd), 0);
}

static void negatives(void **state)
{
    const char *name = *state;
    set s;
    open_set(&s, name);
    time_t at = expected_time(&s, "verify_at", NULL);
    static const struct {
        const char *file, *replaces, *reason;
    } cases[] = {
        {"quote_bad_reportdata.dat", "quote.dat", "quote signature (by the attestation key)"},
        {"quote_bad_header.dat", "quote.dat", "quote signature (by the attestation key)"},
        {"quote_bad_qe_report.dat", "quote.dat", "QE report signature (by the PCK key)"},
        {"quote_bad_qe_auth_data.dat", "quote.dat", "QE report data is not SHA-256"},
        {"quote_truncated.dat", "quote.dat", "quote: signature data length"},
        {"tcb_info_tampered.json", "tcb_info.json", "TCB Info: signature does not verify"},
        {"qe_identity_tampered.json", "qe_identity.json", "QE Identity: signature does not verify"},
        {"tcb_info_bad_signature.json", "tcb_info.json", "TCB Info: signature does not verify"},
        {"untrusted_root_ca.pem", "intel_root_ca.pem", "does not verify to the trust anchor"},
    };
    char neg[600];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(neg, sizeof neg, "%s/negative/%s", s.dir, cases[i].file);
        kt_verdict v;
        if (strcmp(cases[i].replaces, "quote.dat") == 0) {
            kt_buf q = {0};
            assert_int_equal(kt_file_read(neg, KT_QUOTE_MAX, &q), KT_OK);
            assert_int_equal(kt_quote_verify(q.data, q.len, s.coll, at, &v), KT_OK);
            kt_buf_free(&q);
        } else {
            char dir[64], cmd[128];
            kt_collateral *c;
            scratch_with(s.dir, cases[i].replaces, neg, dir);
            assert_int_equal(kt_collateral_load_dir(dir, NULL, &c), KT_OK);
            assert_int_equal(kt_quote_verify(s.quote.data, s.quote.len, c, at, &v), KT_OK);
            kt_collateral_free(c);
            snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
            assert_int_equal(system(cmd), 0);
        }
        if (v.ok || !strstr(v.reason, cases[i].reason))
            fail_msg("%s/%s: expected failure '%s', got %s", name, cases[i].file, cases[i].reason,
                     v.ok ? "success" : v.reason);
    }
    close_set(&s);
}

static void test_every_byte_of_a_truncated_quote_is_refused_cleanly(void **state)
{
    (void)state;
    set s;
    open_set(&s, "sgx-v3-dcapqvl-cfg-swhardening");
    kt_quote q;
    for (size_t n = 0; n < s.quote.len; n += 13)
        assert_int_not_equal(kt_quote_parse(s.quote.data, n, &q), KT_OK);
    assert_int_equal(kt_quote_parse(s.quote.data, s.quote.len, &q), KT_OK);
    assert_int_equal(q.version, 3);
    assert_int_equal(q.sgx.prodid, 0);
    close_set(&s);
}

static void test_root_crl_distribution_point(void **state)
{
    (void)state;
    char url[256];
    assert_int_equal(kt_crl_distribution_point(
                         SETS "/sgx-v3-dcapqvl-cfg-swhardening/intel_root_ca.pem", url, sizeof url),
                     KT_OK);
    assert_string_equal(url, "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der");
    assert_int_equal(kt_crl_distribution_point(SETS "/sgx-v3-dcapqvl-cfg-swhardening/pck_crl.der",
                                               url, sizeof url),
                     KT_ERR_MALFORMED);
}

/* Collateral that is not there is refused naming what is missing: the directory, or the
 * file in it (each read by name in the directory, opened once). */
static void test_missing_collateral_is_named(void **state)
{
    (void)state;
    kt_collateral *c = NULL;
    assert_fails_with(kt_collateral_load_dir("/tmp/kt-no-such-collateral", NULL, &c),
                      KT_ERR_NOT_FOUND, "/tmp/kt-no-such-collateral");
    assert_null(c);
    assert_fails_with(
        kt_collateral_load_dir(SETS "/sgx-v3-dcapqvl-cfg-swhardening/quote.dat", NULL, &c),
        KT_ERR_IO, "quote.dat: Not a directory");
    static const char *const files[] = {"intel_root_ca.pem",
                                        "root_ca_crl.der",
                                        "pck_crl.der",
                                        "pck_crl_issuer_chain.pem",
                                        "tcb_info_issuer_chain.pem",
                                        "qe_identity_issuer_chain.pem",
                                        "tcb_info.json",
                                        "qe_identity.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char dir[64], cmd[256];
        scratch_with(SETS "/sgx-v3-dcapqvl-cfg-swhardening", "README", "/dev/null", dir);
        snprintf(cmd, sizeof cmd, "rm %s/%s", dir, files[i]);
        assert_int_equal(system(cmd), 0);
        assert_fails_with(kt_collateral_load_dir(dir, NULL, &c), KT_ERR_NOT_FOUND, files[i]);
        assert_null(c);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
    }
}

/* dir's collateral with the first `from` in `file` replaced by `to` is refused when it is
 * loaded: KT_ERR_MALFORMED naming `reason` (kt_last_error() tells the rest). */
static void refused_when_edited(const char *dir, const char *file, const char *from, const char *to,
                                const char *reason)
{
    char path[600], edited[] = "/tmp/kt-edited-XXXXXX", scratch[64], cmd[128];
    kt_buf b = {0};
    snprintf(path, sizeof path, "%s/%s", dir, file);
    assert_int_equal(kt_file_read(path, 1 << 20, &b), KT_OK);
    assert_int_equal(kt_buf_append(&b, "", 1), KT_OK);
    char *at = strstr((char *)b.data, from);
    assert_non_null(at);
    int fd = mkstemp(edited);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "%.*s%s%s", (int)(at - (char *)b.data), (char *)b.data, to, at + strlen(from));
    fclose(f);
    kt_buf_free(&b);
    scratch_with(dir, file, edited, scratch);
    kt_collateral *c = NULL;
    assert_fails_with(kt_collateral_load_dir(scratch, NULL, &c), KT_ERR_MALFORMED, reason);
    assert_null(c);
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", scratch, edited);
    assert_int_equal(system(cmd), 0);
}

/* Levels judged by one ISVSVN (QE Identity, TDX module identities) are refused by name
 * when a level has no tcb object or its ISVSVN is out of range, given twice or not plain
 * decimal. */
static void test_malformed_svn_levels_are_refused_by_name(void **state)
{
    (void)state;
    const char *dir = SETS "/tdx-v4-dcapqvl-uptodate";
    static const struct {
        const char *file, *from, *to, *reason;
    } cases[] = {
        {"qe_identity.json", "\"tcb\":{\"isvsvn\":4}", "\"tcb\":4",
         "enclaveIdentity: level 0 has no tcb"},
        {"qe_identity.json", "\"isvsvn\":4", "\"isvsvn\":65536",
         "enclaveIdentity: \"isvsvn\" = 65536 out of range"},
        {"tcb_info.json", "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":3}", "\"tcbLevels\":[{\"tcb\":[3]",
         "TDX_03: level 0 has no tcb"},
        {"tcb_info.json", "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":3}",
         "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":256}", "TDX_03: \"isvsvn\" = 256 out of range"},
        /* advisory IDs reach the output as they are: an allow-list of characters */
        {"tcb_info.json", "\"INTEL-SA-00837\"", "\"INTEL-SA-00837\\nPASS\"",
         "is not a short string of letters, digits"},
        /* no reading of two values: a key given twice, a number with a leading zero */
        {"tcb_info.json", "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":3}",
         "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":3,\"isvsvn\":9}", "key 'isvsvn' appears twice"},
        {"qe_identity.json", "\"isvsvn\":4", "\"isvsvn\":04", "a number with a leading zero"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused_when_edited(dir, cases[i].file, cases[i].from, cases[i].to, cases[i].reason);
}

/* TCB Info says what it is for: version 3 names its TEE, and a TDX one has its module's
 * identity; neither is defaulted or skipped (as SGX, or as no module to check). */
static void test_tcb_info_names_its_tee_and_tdx_module(void **state)
{
    (void)state;
    const char *dir = SETS "/tdx-v4-dcapqvl-uptodate";
    static const struct {
        const char *from, *to, *reason;
    } cases[] = {
        {"\"id\":\"TDX\",", "", "tcbInfo: \"id\" missing or not a string"},
        {"\"id\":\"TDX\",", "\"id\":5,", "tcbInfo: \"id\" missing or not a string"},
        {"\"id\":\"TDX\",", "\"id\":\"TDXSGXTDX\",", "id \"TDXSGXT\" is neither SGX nor TDX"},
        {"\"tdxModule\":{", "\"tdxModuleX\":{", "a TDX TCB Info without a \"tdxModule\" object"},
        {"\"tdxModuleIdentities\":[", "\"tdxModuleIdentities\":7,\"x\":[",
         "\"tdxModuleIdentities\" is not a list of at most 64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused_when_edited(dir, "tcb_info.json", cases[i].from, cases[i].to, cases[i].reason);
}

/* Each place for certification data takes one type: the PCK chain (5) inside the QE's
 * block, QE report certification data (6) at the top of a v4/v5 quote. */
static void test_certification_data_of_the_wrong_type_is_refused(void **state)
{
    (void)state;
    static const struct {
        const char *set;
        size_t at; /* offset of the type, before any QE auth data */
        bool after_qe_auth;
        const char *reason;
    } cases[] = {
        {"sgx-v3-dcapqvl-cfg-swhardening", 48 + 384 + 4 + 64 + 64 + 384 + 64 + 2, true,
         "certification data type 6 where type 5 (PCK certificate chain) belongs"},
        {"tdx-v4-dcapqvl-uptodate", 48 + 584 + 4 + 64 + 64, false,
         "certification data type 5 where type 6 (QE report certification data) belongs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set s;
        open_set(&s, cases[i].set);
        size_t at = cases[i].at;
        if (cases[i].after_qe_auth) at += kt_le16(s.quote.data + at - 2);
        uint8_t *type = s.quote.data + at;
        kt_quote q;
        assert_int_equal(kt_quote_parse(s.quote.data, s.quote.len, &q), KT_OK);
        *type ^= 5 ^ 6;
        assert_fails_with(kt_quote_parse(s.quote.data, s.quote.len, &q), KT_ERR_UNSUPPORTED,
                          cases[i].reason);
        close_set(&s);
    }
}

/* The PEM certificates of a chain, each with its END line. */
typedef struct {
    char pem[4][2048];
    unsigned count;
} pem_list;

static void split_pem(const char *pem, size_t n, pem_list *out)
{
    static const char end[] = "-----END CERTIFICATE-----";
    out->count = 0;
    const char *at = pem, *stop = pem + n;
    for (const char *b; (b = memmem(at, (size_t)(stop - at), "-----BEGIN", 10));) {
        const char *e = memmem(b, (size_t)(stop - b), end, sizeof end - 1);
        assert_non_null(e);
        e += sizeof end - 1;
        assert_true(out->count < 4 && (size_t)(e - b) < sizeof out->pem[0] - 1);
        snprintf(out->pem[out->count++], sizeof out->pem[0], "%.*s\n", (int)(e - b), b);
        at = e;
    }
}

/* A v3 quote with its PCK chain (certification data type 5, last in the quote) replaced;
 * the quote signature covers header and body only, and the QE report is unchanged. */
static void with_pck_chain(const kt_buf *quote, const char *pem, kt_buf *out)
{
    kt_quote q;
    assert_int_equal(kt_quote_parse(quote->data, quote->len, &q), KT_OK);
    assert_int_equal(q.version, 3);
    size_t at = (size_t)((const uint8_t *)q.pck_chain_pem - quote->data);
    size_t n = strlen(pem), tail = at + q.pck_chain_len;
    out->len = 0;
    assert_int_equal(kt_buf_append(out, quote->data, at), KT_OK);
    assert_int_equal(kt_buf_append(out, pem, n), KT_OK);
    assert_int_equal(kt_buf_append(out, quote->data + tail, quote->len - tail), KT_OK);
    kt_put_le32(out->data + at - 4, (uint32_t)n);
    kt_put_le32(out->data + 48 + 384,
                kt_le32(quote->data + 48 + 384) + (uint32_t)n - (uint32_t)q.pck_chain_len);
}

/* The quote's PCK chain is exactly leaf, PCK CA, root: nothing after the root, no second
 * copy of a CA, the root's copy present, in that order. */
static void test_the_pck_chain_is_exactly_leaf_ca_root(void **state)
{
    (void)state;
    set s;
    open_set(&s, "sgx-v3-dcapqvl-cfg-swhardening");
    time_t at = expected_time(&s, "verify_at", NULL);
    kt_quote q;
    assert_int_equal(kt_quote_parse(s.quote.data, s.quote.len, &q), KT_OK);
    pem_list chain, tcb;
    split_pem(q.pck_chain_pem, q.pck_chain_len, &chain);
    assert_int_equal(chain.count, 3);
    char path[600];
    kt_buf file = {0}, edited = {0};
    snprintf(path, sizeof path, "%s/tcb_info_issuer_chain.pem", s.dir);
    assert_int_equal(kt_file_read(path, 1 << 16, &file), KT_OK);
    split_pem((const char *)file.data, file.len, &tcb);
    const char *leaf = chain.pem[0], *ca = chain.pem[1], *root = chain.pem[2];
    static const struct {
        int order[4]; /* 0 leaf, 1 CA, 2 root, 3 a foreign certificate; -1 ends */
        const char *reason;
    } cases[] = {
        {{0, 1, 2, -1}, NULL},
        {{0, 1, 2, 3},
         "PCK certificate chain holds 4 certificates; it must be exactly the PCK "
         "certificate, its CA, then the root"},
        {{0, 1, 1, 2}, "PCK certificate chain holds 4 certificates"},
        {{0, 1, -1}, "PCK certificate chain holds 2 certificates"},
        {{0, 2, 1, -1}, "PCK certificate chain does not verify to the trust anchor"},
        {{1, 0, 2, -1},
         "PCK certificate chain: 'Intel SGX PCK Processor CA' names another "
         "issuer than 'Intel SGX PCK Certificate'"},
    };
    const char *certs[] = {leaf, ca, root, tcb.pem[0]};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char pem[8192] = "";
        for (int k = 0; k < 4 && cases[i].order[k] >= 0; k++)
            strcat(pem, certs[cases[i].order[k]]);
        with_pck_chain(&s.quote, pem, &edited);
        kt_verdict v;
        assert_int_equal(kt_quote_verify(edited.data, edited.len, s.coll, at, &v), KT_OK);
        if (!cases[i].reason && !v.ok) fail_msg("case %zu: %s", i, v.reason);
        if (cases[i].reason && (v.ok || !strstr(v.reason, cases[i].reason)))
            fail_msg("case %zu: expected '%s', got %s", i, cases[i].reason,
                     v.ok ? "success" : v.reason);
    }
    kt_buf_free(&file);
    kt_buf_free(&edited);
    close_set(&s);
}

/* Work an unauthenticated quote can ask for comes after the cheap checks: a PCK leaf not
 * signed by its CA is refused on that one ECDSA verification, before OpenSSL's second
 * reading of the certificate (about twice as costly) is made. */
static void test_a_forged_pck_leaf_costs_one_verification(void **state)
{
    (void)state;
    set s;
    open_set(&s, "sgx-v3-dcapqvl-cfg-swhardening");
    kt_quote q;
    assert_int_equal(kt_quote_parse(s.quote.data, s.quote.len, &q), KT_OK);
    pem_list chain;
    split_pem(q.pck_chain_pem, q.pck_chain_len, &chain);
    /* the leaf with the last byte of its signature changed */
    char *b = strchr(chain.pem[0], '\n') + 1, *e = strstr(b, "-----END"), clean[2048];
    size_t k = 0;
    for (char *c = b; c < e; c++)
        if (*c != '\n' && *c != '\r') clean[k++] = *c;
    kt_buf der = {0}, b64 = {0}, edited = {0};
    assert_int_equal(kt_base64_decode(clean, k, &der), KT_OK);
    der.data[der.len - 1] ^= 1;
    assert_int_equal(kt_base64_encode(der.data, der.len, &b64), KT_OK);
    char pem[8192];
    snprintf(pem, sizeof pem, "-----BEGIN CERTIFICATE-----\n%.*s\n-----END CERTIFICATE-----\n%s%s",
             (int)b64.len, (char *)b64.data, chain.pem[1], chain.pem[2]);
    with_pck_chain(&s.quote, pem, &edited);
    unsigned long decoded = kt_x509_crosscheck_count();
    kt_verdict v;
    assert_int_equal(
        kt_quote_verify(edited.data, edited.len, s.coll, expected_time(&s, "verify_at", NULL), &v),
        KT_OK);
    if (v.ok || !strstr(v.reason, "signature of 'Intel SGX PCK Certificate' does not verify"))
        fail_msg("%s", v.ok ? "success" : v.reason);
    assert_int_equal(kt_x509_crosscheck_count(), decoded);
    kt_buf_free(&der);
    kt_buf_free(&b64);
    kt_buf_free(&edited);
    close_set(&s);
}

/* The PCS issuer chains are exactly their signer (or the PCK CA), then the root. */
static void test_the_pcs_issuer_chains_are_exactly_signer_then_root(void **state)
{
    (void)state;
    set s;
    open_set(&s, "tdx-v4-dcapqvl-uptodate");
    time_t at = expected_time(&s, "verify_at", NULL);
    static const struct {
        const char *file;
        int order[4]; /* certificates of the file's own chain: 0 first, 1 root; -1 ends */
        const char *reason;
    } cases[] = {
        {"tcb_info_issuer_chain.pem", {0, -1}, "TCB Info issuer chain holds 1 certificates"},
        {"tcb_info_issuer_chain.pem", {0, 1, 1, -1}, "TCB Info issuer chain holds 3 certificates"},
        {"qe_identity_issuer_chain.pem",
         {0, 0, 1, -1},
         "QE Identity issuer chain holds 3 certificates"},
        {"pck_crl_issuer_chain.pem", {0, -1}, "PCK CRL issuer chain holds 1 certificates"},
        {"pck_crl_issuer_chain.pem",
         {1, 0, -1},
         "PCK CRL issuer chain does not verify to the "
         "trust anchor"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[600], edited[] = "/tmp/kt-chain-XXXXXX", dir[64], cmd[128];
        kt_buf file = {0};
        pem_list chain;
        snprintf(path, sizeof path, "%s/%s", s.dir, cases[i].file);
        assert_int_equal(kt_file_read(path, 1 << 16, &file), KT_OK);
        split_pem((const char *)file.data, file.len, &chain);
        assert_int_equal(chain.count, 2);
        int fd = mkstemp(edited);
        assert_true(fd >= 0);
        FILE *f = fdopen(fd, "w");
        for (int k = 0; k < 4 && cases[i].order[k] >= 0; k++)
            fputs(chain.pem[cases[i].order[k]], f);
        fclose(f);
        scratch_with(s.dir, cases[i].file, edited, dir);
        kt_collateral *c;
        kt_verdict v;
        assert_int_equal(kt_collateral_load_dir(dir, NULL, &c), KT_OK);
        assert_int_equal(kt_quote_verify(s.quote.data, s.quote.len, c, at, &v), KT_OK);
        if (v.ok || !strstr(v.reason, cases[i].reason))
            fail_msg("case %zu: expected '%s', got %s", i, cases[i].reason,
                     v.ok ? "success" : v.reason);
        kt_collateral_free(c);
        kt_buf_free(&file);
        snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, edited);
        assert_int_equal(system(cmd), 0);
    }
    close_set(&s);
}

/* Times are real dates and times, read one way: no 30 February or second 60 (timegm
 * would read them as another time), no fraction without digits; a verification time no
 * calendar date can name is written as Unix seconds, not as a garbled date. */
static void test_times_are_real_and_read_one_way(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        time_t want; /* 0: refused */
        const char *reason;
    } cases[] = {
        {"2025-07-04T10:00:00Z", 1751623200, NULL},
        {"2025-07-04T10:00:00.5Z", 1751623200, NULL},
        {"2024-02-29T00:00:00Z", 1709164800, NULL},
        {"2025-02-29T00:00:00Z", 0, "no such day"},
        {"2025-04-31T00:00:00Z", 0, "no such day"},
        {"2025-07-04T10:00:60Z", 0, "is not a UTC time"},
        {"2025-07-04T10:00:00.Z", 0, "is not a UTC time"},
        {"2025-07-04T10:00:00+00:00", 0, "is not a UTC time"},
        {" 2025-07-04T10:00:00Z", 0, "is not YYYY-MM-DDThh:mm:ssZ"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        time_t t = 0;
        kt_status st = kt_time_parse(cases[i].text, &t);
        if (cases[i].want && (st || t != cases[i].want))
            fail_msg("'%s': %s, %lld", cases[i].text, kt_last_error(), (long long)t);
        if (!cases[i].want) assert_fails_with(st, KT_ERR_MALFORMED, cases[i].reason);
    }
    /* collateral dated 30 February is refused when it is loaded, naming the date given */
    refused_when_edited(SETS "/sgx-v3-dcapqvl-cfg-swhardening", "qe_identity.json",
                        "\"issueDate\":\"2025-06-19T", "\"issueDate\":\"2025-02-30T",
                        "enclaveIdentity: \"issueDate\": time '2025-02-30T10:01:18Z': no such day");

    set s;
    open_set(&s, "sgx-v3-dcapqvl-cfg-swhardening");
    kt_verdict v;
    time_t far[] = {(time_t)1 << 62, -((time_t)1 << 62)};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(kt_quote_verify(s.quote.data, s.quote.len, s.coll, far[i], &v), KT_OK);
        char want[64];
        snprintf(want, sizeof want, "not valid at @%lld (2018-05-21T10:45:10Z ..",
                 (long long)far[i]);
        if (v.ok || !strstr(v.reason, want)) fail_msg("want '%s', got %s", want, v.reason);
    }
    close_set(&s);
}

/* Under Intel's root only Intel's QE vendor ID passes (the check precedes the quote's
 * signature; tests/unit/test_sim_attest.c shows it with the signature intact). */
static void test_a_quote_not_from_intels_qe_is_refused(void **state)
{
    (void)state;
    static const uint8_t ids[][16] = {{0}, "kubetee-sim-qe"};
    for (size_t i = 0; i < 2; i++) {
        set s;
        open_set(&s, i ? "tdx-v4-dcapqvl-uptodate" : "sgx-v3-dcapqvl-cfg-swhardening");
        memcpy(s.quote.data + 12, ids[i], 16);
        kt_verdict v;
        assert_int_equal(kt_quote_verify(s.quote.data, s.quote.len, s.coll,
                                         expected_time(&s, "verify_at", NULL), &v),
                         KT_OK);
        assert_false(v.ok);
        if (!strstr(v.reason, "is not Intel's QE's (939a7233f79c4ca9940a0db3957f0607)") ||
            strstr(v.reason, "nor the sim"))
            fail_msg("%s", v.reason);
        close_set(&s);
    }
}

int main(void)
{
    static const char *names[] = {
        "sgx-v3-dcapqvl-cfg-swhardening",
        "sgx-v3-mobilecoin-debug-qe-outofdate",
        "sgx-v3-mobilecoin-quote-outofdate",
        "sgx-v3-zkdcap-swhardening",
        "tdx-v4-dcapqvl-uptodate",
        "tdx-v4-zkdcap-outofdate",
        "tdx-v4-zkdcap-uptodate-tdattr-zero",
        "tdx-v5-td15-automata-uptodate",
        "tdx-v5-td15-dcapqvl-tcb-not-supported",
    };
    struct CMUnitTest tests[24];
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(verify_set, (void *)names[i]);
        tests[n++].name = names[i];
    }
    tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(negatives, (void *)names[0]);
    tests[n++].name = "negatives sgx-v3-dcapqvl-cfg-swhardening";
    tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(negatives, (void *)names[4]);
    tests[n++].name = "negatives tdx-v4-dcapqvl-uptodate";
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_every_byte_of_a_truncated_quote_is_refused_cleanly);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_root_crl_distribution_point);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_missing_collateral_is_named);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_malformed_svn_levels_are_refused_by_name);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tcb_info_names_its_tee_and_tdx_module);
    tests[n++] =
        (struct CMUnitTest)cmocka_unit_test(test_certification_data_of_the_wrong_type_is_refused);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_the_pck_chain_is_exactly_leaf_ca_root);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_a_forged_pck_leaf_costs_one_verification);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        test_the_pcs_issuer_chains_are_exactly_signer_then_root);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_a_quote_not_from_intels_qe_is_refused);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_times_are_real_and_read_one_way);
    return _cmocka_run_group_tests("attest", tests, n, NULL, NULL);
}
