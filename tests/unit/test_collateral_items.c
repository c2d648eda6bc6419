/* The collateral proxy's per-item check at library level: every item of a real Intel set
 * verifies on its own (kt_pcs_item_check) and one changed byte, another FMSPC, a time
 * outside its window or a missing CRL fails it; then through the proxy's own code
 * (collateral_core): an item is verified before it is cached or stored, and a stored item
 * whose bytes were changed is refused when read back, never served. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "collateral.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SET KT_TEST_SOURCE_DIR "/../shared/testdata/attestation/sgx-v3-dcapqvl-cfg-swhardening"
#define AT 1751623200 /* the set's verify_at */

static kt_buf rootcrl, pckcrl, pckcrl_chain, tcb, tcb_chain, qe, qe_chain, pck_leaf, pck_rest;
static char dir[64];

static void load(const char *name, kt_buf *b)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", SET, name);
    if (kt_file_read(path, 1 << 20, b)) fail_msg("%s", kt_last_error());
}

static int setup(void **state)
{
    (void)state;
    kt_buf chain = {0};
    load("root_ca_crl.der", &rootcrl), load("pck_crl.der", &pckcrl);
    load("pck_crl_issuer_chain.pem", &pckcrl_chain);
    load("tcb_info.json", &tcb), load("tcb_info_issuer_chain.pem", &tcb_chain);
    load("qe_identity.json", &qe), load("qe_identity_issuer_chain.pem", &qe_chain);
    load("pck_chain.pem", &chain);
    const char *end = strstr((const char *)chain.data, "-----END CERTIFICATE-----\n");
    size_t leaf = (size_t)(end - (const char *)chain.data) + 26;
    kt_buf_append(&pck_leaf, chain.data, leaf);
    kt_buf_append(&pck_rest, chain.data + leaf, chain.len - leaf);
    kt_buf_free(&chain);
    snprintf(dir, sizeof dir, "/tmp/kt-items-%d", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_buf *all[] = {&rootcrl, &pckcrl,   &pckcrl_chain, &tcb,     &tcb_chain,
                     &qe,      &qe_chain, &pck_leaf,     &pck_rest};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        kt_buf_free(all[i]);
    return rm_tree(dir);
}

static kt_pcs_trust *trust(bool with_crls)
{
    kt_buf root = {0};
    kt_pcs_trust *t;
    kt_pcs_validity v;
    load("intel_root_ca.pem", &root);
    assert_int_equal(kt_pcs_trust_new((const char *)root.data, root.len, &t), KT_OK);
    kt_buf_free(&root);
    if (!with_crls) return t;
    assert_int_equal(kt_pcs_trust_set_root_crl(t, rootcrl.data, rootcrl.len, AT, &v), KT_OK);
    kt_pcs_item_id id = {.kind = KT_PCS_PCK_CRL};
    assert_int_equal(kt_pcs_trust_set_pck_crl(t, &id, pckcrl.data, pckcrl.len,
                                              (const char *)pckcrl_chain.data, pckcrl_chain.len, AT,
                                              &v),
                     KT_OK);
    return t;
}

/* body with byte i changed */
static kt_buf changed(const kt_buf *b, size_t i)
{
    kt_buf c = {0};
    assert_int_equal(kt_buf_append(&c, b->data, b->len), KT_OK);
    c.data[i] ^= 1;
    return c;
}

static void test_item_check(void **state)
{
    (void)state;
    kt_pcs_trust *t = trust(false);
    kt_pcs_validity v;
    kt_pcs_item_id tid = {.kind = KT_PCS_TCB, .tee = KT_TEE_SGX},
                   qid = {.kind = KT_PCS_QE_IDENTITY}, pid = {.kind = KT_PCS_PCK_CERT};
    unhex("00a067110000", tid.fmspc);
    /* no root CA CRL yet: nothing is judged */
    assert_fails_with(kt_pcs_item_check(t, &tid, tcb.data, tcb.len, (const char *)tcb_chain.data,
                                        tcb_chain.len, AT, &v),
                      KT_ERR_STATE, "root CA CRL");
    kt_pcs_trust_free(t);
    t = trust(true);
    assert_int_equal(kt_pcs_item_check(t, &tid, tcb.data, tcb.len, (const char *)tcb_chain.data,
                                       tcb_chain.len, AT, &v),
                     KT_OK);
    assert_true(v.issued <= AT && AT <= v.valid_to);
    assert_int_equal(kt_pcs_item_check(t, &qid, qe.data, qe.len, (const char *)qe_chain.data,
                                       qe_chain.len, AT, &v),
                     KT_OK);
    assert_int_equal(kt_pcs_item_check(t, &pid, pck_leaf.data, pck_leaf.len,
                                       (const char *)pck_rest.data, pck_rest.len, AT, &v),
                     KT_OK);
    assert_int_equal(v.pck.pcesvn, 13);
    assert_int_equal(v.pck.comp[0], 11);
    assert_memory_equal(v.pck.comp, v.pck.cpusvn, 16);
    /* one byte of the signed TCB Info changed (inside "tcbLevels": a digit of an SVN) */
    const char *svn = strstr((const char *)tcb.data, "\"svn\":11");
    kt_buf bad = changed(&tcb, (size_t)(svn - (const char *)tcb.data) + 7);
    assert_fails_with(kt_pcs_item_check(t, &tid, bad.data, bad.len, (const char *)tcb_chain.data,
                                        tcb_chain.len, AT, &v),
                      KT_ERR_VERIFY, "");
    kt_buf_free(&bad);
    /* the QE Identity's signature */
    const char *sig = strstr((const char *)qe.data, "\"signature\":\"");
    bad = changed(&qe, (size_t)(sig - (const char *)qe.data) + 14);
    assert_int_not_equal(kt_pcs_item_check(t, &qid, bad.data, bad.len, (const char *)qe_chain.data,
                                           qe_chain.len, AT, &v),
                         KT_OK);
    kt_buf_free(&bad);
    /* the PCK certificate: a byte inside its base64 */
    bad = changed(&pck_leaf, 200);
    assert_int_not_equal(kt_pcs_item_check(t, &pid, bad.data, bad.len, (const char *)pck_rest.data,
                                           pck_rest.len, AT, &v),
                         KT_OK);
    kt_buf_free(&bad);
    /* a sound item for another FMSPC than the one asked for */
    tid.fmspc[5] = 1;
    assert_fails_with(kt_pcs_item_check(t, &tid, tcb.data, tcb.len, (const char *)tcb_chain.data,
                                        tcb_chain.len, AT, &v),
                      KT_ERR_VERIFY, "FMSPC");
    tid.fmspc[5] = 0;
    /* past its window */
    assert_int_not_equal(kt_pcs_item_check(t, &tid, tcb.data, tcb.len, (const char *)tcb_chain.data,
                                           tcb_chain.len, v.valid_to + 400 * 86400, &v),
                         KT_OK);
    kt_pcs_trust_free(t);
}

static kt_coll_proxy *proxy(void)
{
    kt_coll_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.mode, sizeof c.mode, "offline");
    snprintf(c.upstream_kind, sizeof c.upstream_kind, "pccs");
    snprintf(c.root_ca, sizeof c.root_ca, "%s/intel_root_ca.pem", SET);
    snprintf(c.storage, sizeof c.storage, "dir");
    snprintf(c.storage_dir, sizeof c.storage_dir, "%s", dir);
    c.now = AT;
    c.upstream_rate = 10;
    kt_coll_proxy *p;
    if (kt_coll_proxy_new(&c, &p)) fail_msg("%s", kt_last_error());
    return p;
}

static void admit(kt_coll_proxy *p, const char *key, const kt_buf *chain, const kt_buf *body)
{
    kt_coll_query q;
    assert_int_equal(kt_coll_key_parse(key, &q), KT_OK);
    kt_status st = kt_coll_proxy_admit(p, &q, chain ? chain->data : NULL, chain ? chain->len : 0,
                                       body->data, body->len, true);
    if (st) fail_msg("%s: %s", key, kt_last_error());
}

static unsigned get(kt_coll_proxy *p, const char *target, kt_buf *body)
{
    kt_http_reply r = {.code = 0};
    kt_coll_proxy_handle(p, "GET", target, &r);
    kt_buf_free(body);
    *body = r.body;
    kt_buf_free(&r.headers);
    return r.code;
}

static bool file_exists(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void test_proxy_check(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    assert_int_equal(system(cmd), 0);
    const char *target = "/sgx/certification/v4/tcb?fmspc=00a067110000";
    kt_coll_proxy *p = proxy();
    admit(p, "rootcacrl", NULL, &rootcrl);
    admit(p, "pckcrl-processor", &pckcrl_chain, &pckcrl);
    /* verified before it is cached or stored: a changed TCB Info is neither */
    const char *svn = strstr((const char *)tcb.data, "\"svn\":11");
    kt_buf bad = changed(&tcb, (size_t)(svn - (const char *)tcb.data) + 7);
    kt_coll_query q;
    assert_int_equal(kt_coll_key_parse("sgx-tcb-00a067110000", &q), KT_OK);
    assert_int_not_equal(
        kt_coll_proxy_admit(p, &q, tcb_chain.data, tcb_chain.len, bad.data, bad.len, true), KT_OK);
    assert_false(file_exists("sgx-tcb-00a067110000.item"));
    kt_buf body = {0};
    assert_int_equal(get(p, target, &body), 404);
    /* the real one is, and is served byte for byte */
    admit(p, "sgx-tcb-00a067110000", &tcb_chain, &tcb);
    assert_true(file_exists("sgx-tcb-00a067110000.item"));
    assert_int_equal(get(p, target, &body), 200);
    assert_int_equal(body.len, tcb.len);
    assert_memory_equal(body.data, tcb.data, tcb.len);
    kt_coll_proxy_free(p);
    /* read back from storage after a restart: verified again, served */
    p = proxy();
    assert_int_equal(get(p, target, &body), 200);
    assert_memory_equal(body.data, tcb.data, tcb.len);
    kt_coll_proxy_free(p);
    /* the stored bytes changed (the same SVN digit, inside the record): refused on load
     * and on the request's own read of storage, never served */
    char path[256];
    kt_buf rec = {0};
    snprintf(path, sizeof path, "%s/sgx-tcb-00a067110000.item", dir);
    assert_int_equal(kt_file_read(path, 1 << 20, &rec), KT_OK);
    uint8_t *in = memmem(rec.data, rec.len, "\"svn\":11", 8);
    assert_non_null(in);
    in[7] ^= 1;
    assert_int_equal(kt_file_write_atomic(path, rec.data, rec.len, 0644), KT_OK);
    p = proxy();
    assert_int_equal(get(p, target, &body), 404);
    assert_null(memmem(body.data, body.len, "tcbInfo", 7));
    kt_buf m = {0};
    kt_coll_proxy_metrics(p, &m);
    static const char refused[] =
        "kubetee_collateral_refusals_total{reason=\"store_unverified\"} 1\n";
    assert_non_null(memmem(m.data, m.len, refused, sizeof refused - 1));
    kt_buf_free(&m);
    /* the other items still are */
    assert_int_equal(get(p, "/sgx/certification/v4/pckcrl?ca=processor&encoding=der", &body), 200);
    assert_memory_equal(body.data, pckcrl.data, pckcrl.len);
    kt_coll_proxy_free(p);
    kt_buf_free(&rec);
    kt_buf_free(&bad);
    kt_buf_free(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_item_check),
        cmocka_unit_test(test_proxy_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
