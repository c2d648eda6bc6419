/* PCS items verified one at a time, with verify.c's own steps: a collateral of which only
 * the trust anchor, the root CA CRL and the item's chain are filled in. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kt_pcs_trust {
    kt_chain anchor;
    bool simulated;
    bool has_root_crl;
    kt_buf root_crl_der;
    kt_crl root_crl;
    struct { /* the PCK CRLs, [platform_ca] */
        bool set;
        kt_buf der, chain_pem;
        kt_crl crl;
        kt_chain chain;
    } pck[2];
};

kt_status kt_pcs_trust_new(const char *root_pem, size_t n, kt_pcs_trust **out)
{
    if (!root_pem || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "pcs trust: NULL argument");
    *out = NULL;
    kt_pcs_trust *t = calloc(1, sizeof *t);
    if (!t) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    const kt_key *key;
    kt_status st = kt_chain_from_pem(root_pem, n, &t->anchor);
    if (!st && t->anchor.count != 1)
        st = kt_fail(KT_ERR_MALFORMED, "trust anchor: %u certificates, want exactly one",
                     t->anchor.count);
    if (!st) st = kt_chain_key(&t->anchor, 0, &key);
    if (!st) st = kt_chain_crosscheck_once(&t->anchor, "trust anchor");
    if (st) {
        kt_pcs_trust_free(t);
        return kt_fail_context(st, "trust anchor");
    }
    const kt_der *der = &t->anchor.cert[0].der;
    uint8_t fp[32], intel[32];
    kt_hex_decode(KT_INTEL_ROOT_SHA256, intel, 32);
    t->simulated = kt_sha256(der->p, der->n, fp) || !kt_equal(fp, intel, 32);
    *out = t;
    return KT_OK;
}

void kt_pcs_trust_free(kt_pcs_trust *t)
{
    if (!t) return;
    kt_chain_free(&t->anchor);
    kt_buf_free(&t->root_crl_der);
    for (int i = 0; i < 2; i++) {
        kt_buf_free(&t->pck[i].der);
        kt_buf_free(&t->pck[i].chain_pem);
        kt_chain_free(&t->pck[i].chain);
    }
    free(t);
}

bool kt_pcs_trust_is_simulated(const kt_pcs_trust *t)
{
    return t && t->simulated;
}

/* The collateral verify.c's steps read: anchor and root CRL, borrowed from the trust. */
static void shell_of(const kt_pcs_trust *t, kt_collateral *c)
{
    memset(c, 0, sizeof *c);
    c->anchor = t->anchor;
    c->simulated = t->simulated;
    c->root_crl = t->root_crl;
}

static kt_status check_root_crl(const kt_pcs_trust *t, const uint8_t *der, size_t n, time_t at,
                                kt_crl *crl, kt_pcs_validity *v)
{
    kt_collateral c;
    shell_of(t, &c);
    time_t from = 0, to = (time_t)1 << 62;
    kt_status st = kt_crl_parse(der, n, crl);
    if (!st) st = kt_crl_crosscheck_once(crl, "root CA CRL");
    if (!st) st = kt_verify_cert_at(&t->anchor.cert[0], "trust anchor", at, &from, &to);
    if (!st) st = kt_verify_crl_at(crl, "root CA CRL", at, &from, &to);
    if (!st) st = kt_crl_check_issued(crl, &t->anchor.cert[0], t->anchor.key[0], "root CA CRL");
    if (st) return kt_fail_context(st, "root CA CRL");
    v->issued = crl->this_update;
    v->next_update = crl->next_update;
    v->valid_to = to;
    return KT_OK;
}

kt_status kt_pcs_trust_set_root_crl(kt_pcs_trust *t, const uint8_t *der, size_t n, time_t at,
                                    kt_pcs_validity *v)
{
    if (!t || !der || !v) return kt_fail(KT_ERR_INVALID_ARGUMENT, "pcs trust: NULL argument");
    kt_buf copy = {0};
    kt_crl crl;
    kt_status st = kt_buf_append(&copy, der, n);
    if (!st) st = check_root_crl(t, copy.data, copy.len, at, &crl, v);
    if (st) {
        kt_buf_free(&copy);
        return st;
    }
    kt_buf_free(&t->root_crl_der);
    t->root_crl_der = copy;
    t->root_crl = crl; /* views into root_crl_der */
    t->has_root_crl = true;
    return KT_OK;
}

kt_status kt_pcs_trust_set_pck_crl(kt_pcs_trust *t, const kt_pcs_item_id *id, const uint8_t *der,
                                   size_t n, const char *chain, size_t chain_len, time_t at,
                                   kt_pcs_validity *v)
{
    if (!t || !id || id->kind != KT_PCS_PCK_CRL)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "pcs trust: not a PCK CRL");
    kt_status st = kt_pcs_item_check(t, id, der, n, chain, chain_len, at, v);
    if (st) return st;
    int i = id->platform_ca;
    kt_buf d = {0}, c = {0};
    kt_crl crl;
    kt_chain ch;
    const kt_key *key;
    st = kt_buf_append(&d, der, n);
    if (!st) st = kt_buf_append(&c, chain, chain_len);
    if (!st) st = kt_crl_parse(d.data, d.len, &crl);
    if (!st) st = kt_chain_from_pem((const char *)c.data, c.len, &ch);
    if (!st && (st = kt_chain_key(&ch, 0, &key))) kt_chain_free(&ch);
    if (st) {
        kt_buf_free(&d);
        kt_buf_free(&c);
        return st;
    }
    kt_buf_free(&t->pck[i].der);
    kt_buf_free(&t->pck[i].chain_pem);
    if (t->pck[i].set) kt_chain_free(&t->pck[i].chain);
    t->pck[i].der = d;
    t->pck[i].chain_pem = c;
    t->pck[i].crl = crl;
    t->pck[i].chain = ch;
    t->pck[i].set = true;
    return KT_OK;
}

static kt_status check_pck_crl(kt_collateral *c, const kt_pcs_item_id *id, const uint8_t *body,
                               size_t n, time_t at, time_t *from, time_t *to, kt_pcs_validity *v)
{
    kt_crl crl;
    char cn[KT_X509_LABEL];
    const char *want = id->platform_ca ? "Platform" : "Processor";
    const kt_x509 *ca = &c->pck_crl_chain.cert[0];
    kt_status st = kt_verify_walk(c, &c->pck_crl_chain, 2, "the PCK CA, then the root", at,
                                  "PCK CRL issuer chain", from, to);
    if (!st && (kt_x509_common_name(ca->subject, cn, sizeof cn) || !strstr(cn, want)))
        st = kt_fail(KT_ERR_VERIFY, "PCK CRL issuer chain: '%s' is not the PCK %s CA",
                     kt_x509_label(ca, cn), want);
    if (!st) st = kt_crl_parse(body, n, &crl);
    if (!st) st = kt_crl_crosscheck_once(&crl, "PCK CRL");
    if (!st) st = kt_verify_crl_at(&crl, "PCK CRL", at, from, to);
    if (!st) st = kt_crl_check_issued(&crl, ca, c->pck_crl_chain.key[0], "PCK CRL");
    if (!st) v->issued = crl.this_update, v->next_update = crl.next_update;
    return st;
}

/* A body the TCB signing certificate signs (TCB Info, identities, TCB Evaluation Data
 * Numbers): its chain to the root, its signature over the signed bytes, its window. */
static kt_status check_tcb_signed(kt_collateral *c, const char *what, const char *signed_what,
                                  const uint8_t *signed_body, size_t signed_len,
                                  const uint8_t sig[64], time_t issue, time_t next, time_t at,
                                  time_t *from, time_t *to, kt_pcs_validity *v)
{
    char chain_what[96], window[96];
    snprintf(chain_what, sizeof chain_what, "%s issuer chain", what);
    snprintf(window, sizeof window, "%s issueDate..nextUpdate", what);
    kt_status st = kt_verify_walk(c, &c->tcb_chain, 2, "the TCB signing certificate, then the root",
                                  at, chain_what, from, to);
    if (!st)
        st = kt_verify_signed_body(c, &c->tcb_chain, signed_body, signed_len, sig, signed_what);
    if (!st) st = kt_verify_window(window, at, issue, next);
    if (!st) {
        v->issued = issue, v->next_update = next;
        if (next < *to) *to = next;
        if (issue > *from) *from = issue;
    }
    return st;
}

static kt_status check_tcb(kt_collateral *c, const kt_pcs_item_id *id, const uint8_t *body,
                           size_t n, time_t at, time_t *from, time_t *to, kt_pcs_validity *v)
{
    kt_tcb_info t;
    const char *tee = id->tee == KT_TEE_TDX ? "TDX" : "SGX";
    kt_status st = kt_tcb_info_parse((const char *)body, n, &t);
    if (st) return st;
    if (strcmp(t.id, tee))
        st = kt_fail(KT_ERR_VERIFY, "TCB Info is for %s, not %s", t.id[0] ? t.id : "SGX", tee);
    else if (memcmp(t.fmspc, id->fmspc, 6))
        st = kt_fail(KT_ERR_VERIFY, "TCB Info is for another FMSPC than the one asked for");
    else if (id->eval_number && t.eval_number != id->eval_number)
        st = kt_fail(KT_ERR_VERIFY,
                     "TCB Info has tcbEvaluationDataNumber %lld, not the %u asked for",
                     t.eval_number, id->eval_number);
    if (!st)
        st = check_tcb_signed(c, "TCB Info", "TCB Info", t.signed_body, t.signed_len, t.signature,
                              t.issue_date, t.next_update, at, from, to, v);
    kt_tcb_info_free(&t);
    return st;
}

static kt_status check_tcb_eval(kt_collateral *c, const kt_pcs_item_id *id, const uint8_t *body,
                                size_t n, time_t at, time_t *from, time_t *to, kt_pcs_validity *v)
{
    kt_tcb_eval e;
    const char *tee = id->tee == KT_TEE_TDX ? "TDX" : "SGX";
    kt_status st = kt_tcb_eval_parse((const char *)body, n, &e);
    if (st) return st;
    if (strcmp(e.id, tee))
        return kt_fail(KT_ERR_VERIFY, "TCB Evaluation Data Numbers are for %s, not %s", e.id, tee);
    return check_tcb_signed(c, "TCB Evaluation Data Numbers", "TCB Evaluation Data Numbers",
                            e.signed_body, e.signed_len, e.signature, e.issue_date, e.next_update,
                            at, from, to, v);
}

static kt_status check_identity(kt_collateral *c, const kt_pcs_item_id *id, const uint8_t *body,
                                size_t n, time_t at, time_t *from, time_t *to, kt_pcs_validity *v)
{
    kt_qe_identity q;
    const char *want = id->kind == KT_PCS_QVE_IDENTITY ? "QVE"
                       : id->tee == KT_TEE_TDX         ? "TD_QE"
                                                       : "QE";
    kt_status st = kt_qe_identity_parse((const char *)body, n, &q);
    if (st) return st;
    if (strcmp(q.id, want)) st = kt_fail(KT_ERR_VERIFY, "identity is %s, not %s", q.id, want);
    if (!st && id->eval_number && q.eval_number != id->eval_number)
        st = kt_fail(KT_ERR_VERIFY,
                     "identity has tcbEvaluationDataNumber %lld, not the %u asked for",
                     q.eval_number, id->eval_number);
    if (!st)
        st = check_tcb_signed(c, "identity", "enclave identity", q.signed_body, q.signed_len,
                              q.signature, q.issue_date, q.next_update, at, from, to, v);
    kt_qe_identity_free(&q);
    return st;
}

/* A PCK certificate chain (leaf, its CA, the root), judged by that CA's PCK CRL, which
 * the trust holds. */
static kt_status check_pck_cert(const kt_pcs_trust *t, kt_collateral *c, const kt_chain *whole,
                                time_t at, time_t *from, time_t *to, kt_pcs_validity *v)
{
    kt_pck_info info;
    char cn[KT_X509_LABEL];
    if (whole->count != 3)
        return kt_fail(KT_ERR_VERIFY,
                       "PCK certificate and issuer chain hold %u certificates; want exactly the "
                       "PCK certificate, its CA, then the root",
                       whole->count);
    const kt_x509 *ca = &whole->cert[1];
    bool platform = !kt_x509_common_name(ca->subject, cn, sizeof cn) && strstr(cn, "Platform");
    if (!t->pck[platform].set)
        return kt_fail(KT_ERR_STATE, "no verified PCK CRL of the PCK %s CA to judge it",
                       platform ? "Platform" : "Processor");
    c->pck_crl = t->pck[platform].crl;
    c->pck_crl_chain = t->pck[platform].chain;
    kt_status st = kt_verify_crl_at(&c->pck_crl, "PCK CRL", at, from, to);
    if (!st)
        st = kt_verify_walk(c, whole, 3, "the PCK certificate, its CA, then the root", at,
                            "PCK certificate chain", from, to);
    if (!st) st = kt_x509_check_signer(&whole->cert[0], "PCK certificate");
    if (!st) st = kt_pck_info_from_cert(&whole->cert[0], &info);
    if (st) return st;
    memcpy(v->pck.cpusvn, info.cpusvn, 16);
    memcpy(v->pck.comp, info.comp, 16);
    v->pck.pcesvn = info.pcesvn;
    memcpy(v->pck.pceid, info.pceid, 2);
    memcpy(v->pck.fmspc, info.fmspc, 6);
    v->pck.platform_ca = platform;
    v->issued = whole->cert[0].not_before;
    v->next_update = whole->cert[0].not_after;
    return KT_OK;
}

static const char *kind_name(kt_pcs_kind k)
{
    switch (k) {
    case KT_PCS_ROOT_CRL:
        return "root CA CRL";
    case KT_PCS_PCK_CRL:
        return "PCK CRL";
    case KT_PCS_TCB:
        return "TCB Info";
    case KT_PCS_QE_IDENTITY:
        return "QE Identity";
    case KT_PCS_QVE_IDENTITY:
        return "QvE Identity";
    case KT_PCS_PCK_CERT:
        return "PCK certificate";
    case KT_PCS_TCB_EVAL:
        return "TCB Evaluation Data Numbers";
    }
    return "item";
}

kt_status kt_pcs_item_check(const kt_pcs_trust *t, const kt_pcs_item_id *id, const uint8_t *body,
                            size_t n, const char *chain, size_t chain_len, time_t at,
                            kt_pcs_validity *v)
{
    if (!t || !id || !body || !v)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "pcs item: NULL argument");
    memset(v, 0, sizeof *v);
    if (id->kind == KT_PCS_ROOT_CRL) {
        kt_crl crl;
        return check_root_crl(t, body, n, at, &crl, v);
    }
    if (id->kind > KT_PCS_TCB_EVAL)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "pcs item: unknown kind");
    if (!t->has_root_crl)
        return kt_fail(KT_ERR_STATE, "%s: no verified root CA CRL to judge its issuer chain",
                       kind_name(id->kind));
    if (!chain || !chain_len)
        return kt_fail(KT_ERR_MALFORMED, "%s: no issuer chain", kind_name(id->kind));
    kt_collateral c;
    shell_of(t, &c);
    kt_chain *ch = id->kind == KT_PCS_PCK_CRL ? &c.pck_crl_chain : &c.tcb_chain;
    const kt_key *key;
    time_t from = 0, to = (time_t)1 << 62;
    /* the root CA CRL judges the chain: it must hold now, and bounds how long the item does */
    kt_status st = kt_verify_crl_at(&t->root_crl, "root CA CRL", at, &from, &to);
    kt_buf both = {0}; /* a PCK certificate is walked with its issuer chain */
    if (!st && id->kind == KT_PCS_PCK_CERT && !(st = kt_buf_append(&both, body, n)) &&
        !(st = kt_buf_append(&both, "\n", 1)))
        st = kt_buf_append(&both, chain, chain_len);
    if (!st)
        st = both.len ? kt_chain_from_pem((const char *)both.data, both.len, ch)
                      : kt_chain_from_pem(chain, chain_len, ch);
    kt_buf_free(&both);
    if (!st && ch->count == 0) st = kt_fail(KT_ERR_MALFORMED, "issuer chain holds no certificate");
    if (!st) st = kt_chain_key(ch, 0, &key);
    if (!st) st = kt_chain_crosscheck_once(ch, "issuer chain");
    if (!st) {
        if (id->kind == KT_PCS_PCK_CRL)
            st = check_pck_crl(&c, id, body, n, at, &from, &to, v);
        else if (id->kind == KT_PCS_TCB)
            st = check_tcb(&c, id, body, n, at, &from, &to, v);
        else if (id->kind == KT_PCS_PCK_CERT)
            st = check_pck_cert(t, &c, ch, at, &from, &to, v);
        else if (id->kind == KT_PCS_TCB_EVAL)
            st = check_tcb_eval(&c, id, body, n, at, &from, &to, v);
        else
            st = check_identity(&c, id, body, n, at, &from, &to, v);
    }
    kt_chain_free(ch);
    memset(&c, 0, sizeof c); /* borrowed */
    if (st) return kt_fail_context(st, "%s", kind_name(id->kind));
    v->valid_to = to;
    return KT_OK;
}
