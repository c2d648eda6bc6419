/* Quote verification: one path for Intel's quotes and the sim platform's, in the order
 * docs/attestation.md lists:
 *
 *  1. parse the quote                          7. TCB Info and QE Identity are for this
 *  2. QE vendor ID: the anchor's QE               platform and TEE
 *  3. collateral: CRLs, issuer chains, TCB     8. QE report data binds the attestation key
 *     Info and QE Identity by the TCB signer   9. QE report matches QE Identity
 *  4. PCK chain to the anchor, with both CRLs 10. quote signed by the attestation key
 *  5. PCK SGX extensions                      11. TCB level, TDX module, QE level; status
 *  6. QE report signed by the PCK key             convergence; advisories
 * The first failure ends it, with its reason (escaped: it names certificates). Validity
 * windows are inclusive at both ends and checked here, for certificates and CRLs alike,
 * so each failure names its item. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static void narrow(time_t *from, time_t *to, time_t f, time_t t)
{
    if (f > *from) *from = f;
    if (t < *to) *to = t;
}

static bool within(time_t at, time_t from, time_t to)
{
    return at >= from && at <= to;
}

static kt_status window_fail(const char *what, time_t at, time_t from, time_t to)
{
    char a[24], f[24], t[24];
    kt_utc_format(at, a), kt_utc_format(from, f), kt_utc_format(to, t);
    return kt_fail(KT_ERR_VERIFY, "%s not valid at %s (%s .. %s)", what, a, f, t);
}

static kt_status crl_at(const kt_crl *crl, const char *what, time_t at, time_t *wfrom, time_t *wto)
{
    narrow(wfrom, wto, crl->this_update, crl->next_update);
    return within(at, crl->this_update, crl->next_update)
               ? KT_OK
               : window_fail(what, at, crl->this_update, crl->next_update);
}

/* A certificate valid at `at`, named by its common name when it is not. */
static kt_status cert_at(const kt_x509 *x, const char *what, time_t at, time_t *from, time_t *to)
{
    narrow(from, to, x->not_before, x->not_after);
    if (within(at, x->not_before, x->not_after)) return KT_OK;
    char name[KT_X509_LABEL], label[192];
    snprintf(label, sizeof label, "%s: certificate '%s'", what, kt_x509_label(x, name));
    return window_fail(label, at, x->not_before, x->not_after);
}

static bool same_cert(const kt_x509 *a, const kt_x509 *b)
{
    return kt_der_is(a->der, b->der.p, b->der.n);
}

/* The certificate's issuer signs the CRL that judges it: the root CA CRL for what the
 * anchor issued, the PCK CRL for what its issuer (same name, same key) issued. */
static const kt_crl *crl_for(const kt_collateral *c, const kt_x509 *issuer)
{
    const kt_x509 *pck_ca = &c->pck_crl_chain.cert[0];
    if (issuer == &c->anchor.cert[0]) return &c->root_crl;
    if (kt_der_is(issuer->subject, pck_ca->subject.p, pck_ca->subject.n) &&
        memcmp(issuer->pub, pck_ca->pub, 64) == 0)
        return &c->pck_crl;
    return NULL;
}

/* A chain of exactly `count` certificates (`shape` says which, for messages), the last a
 * copy of the trust anchor: each issued by the next, every issuer's pathLen judged over
 * the whole path, each valid at `at` and not on its issuer's CRL. A certificate identical
 * to known's first, issued by the anchor here as there, had its signature verified when
 * known's chain was walked; everything else about it is checked again. Narrows [from, to]
 * to where all of it holds. */
static kt_status walk(const kt_collateral *c, const kt_chain *chain, const kt_chain *known,
                      unsigned count, const char *shape, time_t at, const char *what, time_t *from,
                      time_t *to)
{
    const kt_x509 *root = &c->anchor.cert[0];
    if (chain->count != count)
        return kt_fail(KT_ERR_VERIFY, "%s holds %u certificates; it must be exactly %s", what,
                       chain->count, shape);
    if (!same_cert(&chain->cert[count - 1], root))
        return kt_fail(KT_ERR_VERIFY,
                       "%s does not verify to the trust anchor: its last certificate is not the "
                       "anchor",
                       what);
    unsigned n = count - 1;
    kt_status st = KT_OK;
    for (unsigned i = 0; i < n && !st; i++) {
        const kt_x509 *x = &chain->cert[i];
        bool by_anchor = i + 1 == n;
        const kt_x509 *issuer = by_anchor ? root : &chain->cert[i + 1];
        const kt_key *key = by_anchor ? c->anchor.key[0] : chain->key[i + 1];
        kt_key *made = NULL;
        const kt_crl *crl = crl_for(c, issuer);
        if (by_anchor && known && same_cert(x, &known->cert[0])) {
            st = kt_x509_check_issuer(x, issuer, i, what);
        } else {
            if (!key && known && same_cert(issuer, &known->cert[0])) key = known->key[0];
            if (!key && !(st = kt_x509_key(issuer, &made))) key = made;
            if (!st) st = kt_x509_check_issued(x, issuer, key, i, what);
        }
        if (!st) st = cert_at(x, what, at, from, to);
        char name[KT_X509_LABEL]; /* named only when something fails */
        if (!st && !crl)
            st = kt_fail(KT_ERR_VERIFY, "%s: no CRL judges the issuer of '%s'", what,
                         kt_x509_label(x, name));
        if (!st && kt_crl_lists(crl, x))
            st = kt_fail(KT_ERR_DENIED, "%s: certificate '%s' is revoked", what,
                         kt_x509_label(x, name));
        kt_key_free(made);
    }
    return st;
}

#define SIGNER_CHAIN "the TCB signing certificate, then the root"

/* A PCS body's signature, by the first certificate of its issuer chain, which must be the
 * TCB signing certificate: an end entity for signatures, issued by the root (walked
 * already), of the anchor's TCB signer name. Any other certificate under the root (a PCK
 * certificate, say) would otherwise vouch for any platform's TCB. */
static kt_status signed_body(const kt_collateral *c, const kt_chain *chain, const uint8_t *body,
                             size_t len, const uint8_t sig[64], const char *what)
{
    const kt_x509 *signer = &chain->cert[0];
    const char *want = c->simulated ? KT_SIM_TCB_SIGNER_CN : KT_INTEL_TCB_SIGNER_CN;
    char cn[KT_X509_LABEL], name[KT_X509_LABEL];
    kt_status st = kt_x509_check_signer(signer, what);
    if (!st && (kt_x509_common_name(signer->subject, cn, sizeof cn) || strcmp(cn, want)))
        st = kt_fail(KT_ERR_VERIFY, "%s: signer '%s' is not the TCB signing certificate '%s'", what,
                     kt_x509_label(signer, name), want);
    /* the QE Identity's signer is usually the TCB Info's: then its key is that one
     * (collateral.c makes it once) */
    const kt_key *key = chain->key[0];
    if (!key && same_cert(signer, &c->tcb_chain.cert[0])) key = c->tcb_chain.key[0];
    if (!st && (!key || kt_verify(key, body, len, sig, 64)))
        st = kt_fail(KT_ERR_VERIFY, "%s: signature does not verify", what);
    return st;
}

/* Everything the collateral vouches for by itself: both CRLs, the issuer chains, TCB Info
 * and QE Identity. One ECDSA verification each; the result holds for a window of time and
 * is kept for it. */
kt_status kt_collateral_check(const kt_collateral *c, time_t at)
{
    kt_verify_cache *k = c->cache;
    kt_mutex_lock(&k->lock);
    bool known = k->collateral_ok && within(at, k->collateral_from, k->collateral_to);
    kt_mutex_unlock(&k->lock);
    if (known) return KT_OK;
    const kt_tcb_info *t = &c->tcb;
    const kt_qe_identity *qi = &c->qe;
    time_t from = 0, to = (time_t)1 << 62;
    const kt_chain *crl_chain = &c->pck_crl_chain;
    kt_status st = cert_at(&c->anchor.cert[0], "trust anchor", at, &from, &to);
    if (!st) st = crl_at(&c->root_crl, "root CA CRL", at, &from, &to);
    if (!st && (st = kt_crl_check_issued(&c->root_crl, &c->anchor.cert[0], c->anchor.key[0],
                                         "root CA CRL")))
        st = kt_fail_context(st, "collateral does not verify to the trust anchor");
    if (!st)
        st = walk(c, crl_chain, NULL, 2, "the PCK CA, then the root", at, "PCK CRL issuer chain",
                  &from, &to);
    if (!st) st = crl_at(&c->pck_crl, "PCK CRL", at, &from, &to);
    if (!st)
        st = kt_crl_check_issued(&c->pck_crl, &crl_chain->cert[0], crl_chain->key[0], "PCK CRL");
    if (!st)
        st = walk(c, &c->tcb_chain, NULL, 2, SIGNER_CHAIN, at, "TCB Info issuer chain", &from, &to);
    if (!st)
        st = signed_body(c, &c->tcb_chain, t->signed_body, t->signed_len, t->signature, "TCB Info");
    if (!st) {
        narrow(&from, &to, t->issue_date, t->next_update);
        if (!within(at, t->issue_date, t->next_update))
            st = window_fail("TCB Info issueDate..nextUpdate", at, t->issue_date, t->next_update);
    }
    if (!st) /* usually the TCB Info's signer, walked already */
        st = walk(c, &c->qe_chain, &c->tcb_chain, 2, SIGNER_CHAIN, at, "QE Identity issuer chain",
                  &from, &to);
    if (!st)
        st = signed_body(c, &c->qe_chain, qi->signed_body, qi->signed_len, qi->signature,
                         "QE Identity");
    if (!st) {
        narrow(&from, &to, qi->issue_date, qi->next_update);
        if (!within(at, qi->issue_date, qi->next_update))
            st = window_fail("QE Identity issueDate..nextUpdate", at, qi->issue_date,
                             qi->next_update);
    }
    if (!st) {
        kt_mutex_lock(&k->lock);
        k->collateral_ok = true;
        k->collateral_from = from;
        k->collateral_to = to;
        kt_mutex_unlock(&k->lock);
    }
    return st;
}

/* The quote's PCK chain to the anchor with both CRLs, its SGX extensions, and the QE
 * report it signed. Kept per chain for the window in which it holds. */
static kt_status check_pck(const kt_collateral *c, const kt_quote *q, time_t at, kt_pck_info *pck,
                           time_t *until)
{
    kt_verify_cache *k = c->cache;
    uint8_t chain_hash[32], qe_hash[32];
    kt_sha256_ctx *h = NULL;
    kt_status st = kt_sha256(q->pck_chain_pem, q->pck_chain_len, chain_hash);
    if (!st && !(st = kt_sha256_new(&h)) && !(st = kt_sha256_update(h, q->qe_report, 384)) &&
        !(st = kt_sha256_update(h, q->qe_report_sig, 64)))
        st = kt_sha256_final(h, qe_hash);
    kt_sha256_free(h);
    if (st) return st;

    kt_mutex_lock(&k->lock);
    for (unsigned i = 0; i < KT_PCK_CACHE; i++) {
        kt_pck_entry *e = &k->pck[i];
        if (!e->used || memcmp(e->chain_hash, chain_hash, 32) || !within(at, e->from, e->to))
            continue;
        *pck = e->pck;
        *until = e->to;
        if (!e->qe_checked || memcmp(e->qe_check, qe_hash, 32)) {
            st = kt_verify(e->key, q->qe_report, 384, q->qe_report_sig, 64);
            if (!st) {
                memcpy(e->qe_check, qe_hash, 32);
                e->qe_checked = true;
            }
        }
        kt_mutex_unlock(&k->lock);
        return st ? kt_fail(KT_ERR_VERIFY, "QE report signature (by the PCK key) does not verify")
                  : KT_OK;
    }
    kt_mutex_unlock(&k->lock);

    kt_chain chain;
    if ((st = kt_chain_from_pem(q->pck_chain_pem, q->pck_chain_len, &chain)))
        return kt_fail_context(st, "quote's PCK chain");
    const kt_key *leaf_key = NULL;
    time_t from = 0, to = (time_t)1 << 62;
    /* the CRLs were judged with the collateral; they bound how long this result holds */
    narrow(&from, &to, c->root_crl.this_update, c->root_crl.next_update);
    narrow(&from, &to, c->pck_crl.this_update, c->pck_crl.next_update);
    if (!(st = walk(c, &chain, &c->pck_crl_chain, 3, "the PCK certificate, its CA, then the root",
                    at, "PCK certificate chain", &from, &to)) &&
        /* OpenSSL's second reading (~100 us a certificate, twice an ECDSA verification)
         * only once the chain's signatures hold: a forged leaf costs one verification */
        !(st = kt_chain_crosscheck_once(&chain, "quote's PCK chain")) &&
        !(st = kt_x509_check_signer(&chain.cert[0], "PCK certificate")) &&
        !(st = kt_pck_info_from_cert(&chain.cert[0], pck)) &&
        !(st = kt_chain_key(&chain, 0, &leaf_key)) &&
        kt_verify(leaf_key, q->qe_report, 384, q->qe_report_sig, 64))
        st = kt_fail(KT_ERR_VERIFY, "QE report signature (by the PCK key) does not verify");
    kt_key *key = st ? NULL : chain.key[0];
    if (key) chain.key[0] = NULL; /* the cache keeps it */
    kt_chain_free(&chain);
    if (st) return st;
    kt_mutex_lock(&k->lock);
    kt_pck_entry *e = &k->pck[k->next++ % KT_PCK_CACHE];
    kt_key_free(e->key);
    e->used = true;
    memcpy(e->chain_hash, chain_hash, 32);
    e->from = from;
    e->to = to;
    *until = to;
    e->pck = *pck;
    e->key = key;
    memcpy(e->qe_check, qe_hash, 32);
    e->qe_checked = true;
    kt_mutex_unlock(&k->lock);
    return KT_OK;
}

/* ---- TCB levels and status ---- */

static bool sgx_level_matches(const kt_tcb_level *l, const kt_pck_info *pck)
{
    for (int i = 0; i < 16; i++)
        if (l->comp[i] > pck->comp[i]) return false;
    return l->pcesvn <= pck->pcesvn;
}

static bool tdx_level_matches(const kt_tcb_level *l, const uint8_t tee_tcb_svn[16])
{
    /* with a TDX module version in TEE_TCB_SVN[1], bytes 0 and 1 are judged by the
     * module identity instead */
    int first = tee_tcb_svn[1] > 0 ? 2 : 0;
    for (int i = first; i < 16; i++)
        if (l->tdx_comp[i] > tee_tcb_svn[i]) return false;
    return true;
}

static kt_tcb_status converge(kt_tcb_status platform, kt_tcb_status other)
{
    if (platform == KT_TCB_REVOKED || other == KT_TCB_REVOKED) return KT_TCB_REVOKED;
    if (other != KT_TCB_OUT_OF_DATE && other != KT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED)
        return platform;
    switch (platform) {
    case KT_TCB_UP_TO_DATE:
    case KT_TCB_SW_HARDENING_NEEDED:
        return KT_TCB_OUT_OF_DATE;
    case KT_TCB_CONFIGURATION_NEEDED:
    case KT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
        return KT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
    default:
        return platform;
    }
}

static void add_advisories(kt_verdict *v, char (*ids)[24], unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        bool seen = false;
        for (unsigned k = 0; k < v->advisory_count && !seen; k++)
            seen = strcmp(v->advisories[k], ids[i]) == 0;
        if (!seen && v->advisory_count < KT_MAX_ADVISORIES)
            strcpy(v->advisories[v->advisory_count++], ids[i]);
    }
}

static kt_status tdx_module(const kt_tcb_info *t, const kt_td_report *td, kt_verdict *v)
{
    if (td->tee_tcb_svn[1] == 0) {
        if (t->has_tdx_module &&
            (memcmp(td->mrsignerseam, t->module_mrsigner, 48) ||
             (td->seam_attributes & t->module_attributes_mask) != t->module_attributes))
            return kt_fail(KT_ERR_VERIFY,
                           "TDX module: MRSIGNERSEAM or SEAM attributes differ from tdxModule");
        return KT_OK;
    }
    char id[16];
    snprintf(id, sizeof id, "TDX_%02X", td->tee_tcb_svn[1]);
    for (unsigned i = 0; i < t->module_count; i++) {
        const kt_tdx_module_identity *m = &t->modules[i];
        if (strcmp(m->id, id) != 0) continue;
        if (memcmp(td->mrsignerseam, m->mrsigner, 48) ||
            (td->seam_attributes & m->attributes_mask) != m->attributes)
            return kt_fail(KT_ERR_VERIFY, "TDX module %s: MRSIGNERSEAM or SEAM attributes differ",
                           id);
        for (unsigned k = 0; k < m->level_count; k++)
            if (m->levels[k].isvsvn <= td->tee_tcb_svn[0]) {
                v->module_status = m->levels[k].status;
                add_advisories(v, m->levels[k].advisories, m->levels[k].advisory_count);
                return KT_OK;
            }
        return kt_fail(KT_ERR_DENIED, "TDX module %s: no TCB level for SVN %u", id,
                       td->tee_tcb_svn[0]);
    }
    return kt_fail(KT_ERR_DENIED, "TDX module identity %s is not in the TCB Info", id);
}

/* The QE report is of the enclave QE Identity describes. */
static kt_status qe_matches(const kt_qe_identity *qi, const uint8_t *qe_report)
{
    kt_report_body r;
    kt_report_body_decode(qe_report, &r);
    if (memcmp(r.mrsigner, qi->mrsigner, 32) != 0)
        return kt_fail(KT_ERR_VERIFY, "QE report MRSIGNER is not the QE Identity's");
    if (r.prodid != qi->isvprodid)
        return kt_fail(KT_ERR_VERIFY, "QE report ISVPRODID %u is not the QE Identity's %u",
                       r.prodid, qi->isvprodid);
    if ((r.misc_select & qi->miscselect_mask) != qi->miscselect)
        return kt_fail(KT_ERR_VERIFY, "QE report MISCSELECT does not match the QE Identity");
    for (int i = 0; i < 16; i++)
        if ((qe_report[48 + i] & qi->attributes_mask[i]) != qi->attributes[i])
            return kt_fail(KT_ERR_VERIFY, "QE report ATTRIBUTES do not match the QE Identity");
    return KT_OK;
}

/* The QE's TCB level: the first with ISVSVN at most the QE report's. */
static kt_status qe_level(const kt_qe_identity *qi, const uint8_t *qe_report, kt_verdict *v)
{
    kt_report_body r;
    kt_report_body_decode(qe_report, &r);
    for (unsigned k = 0; k < qi->level_count; k++)
        if (qi->levels[k].isvsvn <= r.svn) {
            v->qe_status = qi->levels[k].status;
            add_advisories(v, qi->levels[k].advisories, qi->levels[k].advisory_count);
            return KT_OK;
        }
    return kt_fail(KT_ERR_DENIED, "QE ISVSVN %u has no TCB level in the QE Identity", r.svn);
}

#ifdef KT_TRUSTED
/* Inside an enclave `at` is the host's word: an enclave has no clock of its own. What it
 * can hold the host to: time never goes back past the newest issue date (TCB Info, QE
 * Identity, CRL thisUpdate) of collateral it has verified, so once newer collateral was
 * seen, an older time cannot make expired or superseded collateral current again. The
 * host can still freeze time and withhold newer collateral (docs/protocol.md). */
#include <stdatomic.h>
static _Atomic long long time_floor;

static time_t newest_issue(const kt_collateral *c)
{
    time_t t = c->tcb.issue_date;
    if (c->qe.issue_date > t) t = c->qe.issue_date;
    if (c->root_crl.this_update > t) t = c->root_crl.this_update;
    if (c->pck_crl.this_update > t) t = c->pck_crl.this_update;
    return t;
}

static kt_status not_before_floor(time_t at)
{
    long long floor = atomic_load(&time_floor);
    if ((long long)at >= floor) return KT_OK;
    char a[24], f[24];
    kt_utc_format(at, a), kt_utc_format((time_t)floor, f);
    return kt_fail(KT_ERR_VERIFY,
                   "time %s is before %s, the newest issue date of collateral this enclave has "
                   "verified: the host's clock went back",
                   a, f);
}

static void raise_floor(const kt_collateral *c)
{
    long long t = (long long)newest_issue(c), cur = atomic_load(&time_floor);
    while (cur < t && !atomic_compare_exchange_weak(&time_floor, &cur, t))
        ;
}
#endif

static kt_status verify_steps(const uint8_t *data, size_t n, const kt_collateral *c, time_t at,
                              kt_verdict *v)
{
    kt_quote *q = &v->quote;
    kt_status st = kt_quote_parse(data, n, q);
    if (st) return st;
    bool tdx = q->tee == KT_TEE_TDX;

    /* 2: the quote is from Intel's QE, or from the sim QE under a simulation root */
    if (memcmp(q->qe_vendor_id, KT_INTEL_QE_VENDOR_ID, 16) &&
        (!c->simulated || memcmp(q->qe_vendor_id, KT_SIM_QE_VENDOR_ID, 16))) {
        char hex[33];
        kt_hex_encode(q->qe_vendor_id, 16, hex, sizeof hex);
        return kt_fail(KT_ERR_VERIFY, "QE vendor ID %s is not Intel's QE's (%s)%s", hex,
                       "939a7233f79c4ca9940a0db3957f0607", c->simulated ? " nor the sim QE's" : "");
    }

    /* 3: the CRLs, the issuer chains, TCB Info and QE Identity */
#ifdef KT_TRUSTED
    if ((st = not_before_floor(at))) return st;
#endif
    if ((st = kt_collateral_check(c, at))) return st;
#ifdef KT_TRUSTED
    raise_floor(c);
#endif
    kt_mutex_lock(&c->cache->lock);
    time_t until = c->cache->collateral_to;
    kt_mutex_unlock(&c->cache->lock);

    /* 4, 5, 6: the PCK chain, what its leaf says, and the QE report it signed */
    kt_pck_info pck;
    time_t pck_until = 0;
    if ((st = check_pck(c, q, at, &pck, &pck_until))) return st;
    v->valid_until = pck_until < until ? pck_until : until;
    memcpy(v->fmspc, pck.fmspc, 6);

    /* 7: TCB Info and QE Identity are for this platform and quote */
    const kt_tcb_info *t = &c->tcb;
    const kt_qe_identity *qi = &c->qe;
    if (strcmp(t->id, tdx ? "TDX" : "SGX") != 0)
        return kt_fail(KT_ERR_VERIFY, "TCB Info is for %s, the quote is %s", t->id,
                       tdx ? "TDX" : "SGX");
    if (memcmp(t->fmspc, pck.fmspc, 6) || memcmp(t->pceid, pck.pceid, 2))
        return kt_fail(KT_ERR_VERIFY, "TCB Info FMSPC/PCE-ID differ from the PCK certificate's");
    if (strcmp(qi->id, tdx ? "TD_QE" : "QE") != 0)
        return kt_fail(KT_ERR_VERIFY, "QE Identity is %s, the quote needs %s", qi->id,
                       tdx ? "TD_QE" : "QE");

    /* 8: the QE report binds the attestation key */
    uint8_t binding[32];
    static const uint8_t zeros[32];
    kt_sha256_ctx *h = NULL;
    if (!(st = kt_sha256_new(&h)) && !(st = kt_sha256_update(h, q->attest_key, 64)) &&
        !(st = kt_sha256_update(h, q->qe_auth, q->qe_auth_len)))
        st = kt_sha256_final(h, binding);
    kt_sha256_free(h);
    if (st) return st;
    if (memcmp(q->qe_report + 320, binding, 32) || memcmp(q->qe_report + 352, zeros, 32))
        return kt_fail(KT_ERR_VERIFY,
                       "QE report data is not SHA-256(attestation key || QE auth data)");

    /* 9: the QE is the one QE Identity describes */
    if ((st = qe_matches(qi, q->qe_report))) return st;

    /* 10: the quote itself */
    kt_key *att_key = NULL;
    if ((st = kt_key_from_public_raw(KT_KEY_P256, q->attest_key, 64, &att_key)) ||
        kt_verify(att_key, q->signed_part, q->signed_len, q->signature, 64)) {
        kt_key_free(att_key);
        return kt_fail(KT_ERR_VERIFY, "quote signature (by the attestation key) does not verify");
    }
    kt_key_free(att_key);

    /* 11: TCB level, TDX module, QE level, convergence */
    const kt_tcb_level *level = NULL;
    for (unsigned i = 0; i < t->level_count && !level; i++)
        if (sgx_level_matches(&t->levels[i], &pck) &&
            (!tdx || tdx_level_matches(&t->levels[i], q->td.tee_tcb_svn)))
            level = &t->levels[i];
    if (!level)
        return kt_fail(KT_ERR_DENIED,
                       "TCB level not supported: no level of the TCB Info matches the "
                       "platform's SVNs");
    v->platform_status = level->status;
    add_advisories(v, level->advisories, level->advisory_count);
    if ((tdx && (st = tdx_module(t, &q->td, v))) || (st = qe_level(qi, q->qe_report, v))) return st;
    v->tcb_status = converge(converge(v->platform_status, v->qe_status), v->module_status);
    return KT_OK;
}

kt_status kt_quote_verify(const uint8_t *quote, size_t n, const kt_collateral *c, time_t at,
                          kt_verdict *v)
{
    if (!quote || !c || !v) return kt_fail(KT_ERR_INVALID_ARGUMENT, "verify: NULL argument");
    memset(v, 0, sizeof *v);
    v->simulated = c->simulated;
    memcpy(v->root_sha256, c->root_sha256, 32);
    kt_status st = verify_steps(quote, n, c, at, v);
    v->status = st;
    v->ok = st == KT_OK;
    if (st) v->valid_until = 0;
    if (st) kt_escape_text(kt_last_error(), strlen(kt_last_error()), v->reason, sizeof v->reason);
    return KT_OK;
}

/* The same checks for one PCS item at a time (pcs_item.c, the collateral proxy). */
kt_status kt_verify_walk(const kt_collateral *c, const kt_chain *chain, unsigned count,
                         const char *shape, time_t at, const char *what, time_t *from, time_t *to)
{
    return walk(c, chain, NULL, count, shape, at, what, from, to);
}

kt_status kt_verify_signed_body(const kt_collateral *c, const kt_chain *chain, const uint8_t *body,
                                size_t len, const uint8_t sig[64], const char *what)
{
    return signed_body(c, chain, body, len, sig, what);
}

kt_status kt_verify_crl_at(const kt_crl *crl, const char *what, time_t at, time_t *from, time_t *to)
{
    return crl_at(crl, what, at, from, to);
}

kt_status kt_verify_cert_at(const kt_x509 *x, const char *what, time_t at, time_t *from,
                            time_t *to)
{
    return cert_at(x, what, at, from, to);
}

kt_status kt_verify_window(const char *what, time_t at, time_t from, time_t to)
{
    return within(at, from, to) ? KT_OK : window_fail(what, at, from, to);
}
