/* What the admin paths do to the cache: the platform registry (registrations held or
 * queued, stored, listed), PUT /platformcollateral (verified whole in a scratch trust,
 * then held) and /refresh (items fetched again now). */
#include "proxy_internal.h"

#include <kubetee/crypto.h>

#include <stdlib.h>
#include <string.h>

/* Knows a platform (a registration replaces an earlier one of the same QE ID and PCE ID),
 * by its encrypted PPID's SHA-256 too. */
kt_status coll_platform_set(kt_coll_proxy *p, const kt_coll_platform *reg, bool queued)
{
    coll_platform one = {.reg = *reg, .queued = queued};
    one.reg.manifest = (kt_buf){0};
    kt_status st = kt_buf_append(&one.reg.manifest, reg->manifest.data, reg->manifest.len);
    uint8_t ppid[KT_COLL_PPID_HEX / 2];
    if (!st && reg->ppid[0] && !kt_hex_decode(reg->ppid, ppid, sizeof ppid))
        st = kt_sha256(ppid, sizeof ppid, one.ppid_sha256);
    if (st) {
        kt_buf_free(&one.reg.manifest);
        return st;
    }
    pthread_rwlock_wrlock(&p->lock);
    size_t i;
    for (i = 0; i < p->platform_count; i++)
        if (!memcmp(p->platforms[i].reg.qeid, reg->qeid, 16) &&
            !memcmp(p->platforms[i].reg.pceid, reg->pceid, 2))
            break;
    coll_platform *grown = i < p->platform_count
                               ? p->platforms
                               : realloc(p->platforms, (p->platform_count + 1) * sizeof *grown);
    if (!grown) {
        st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        kt_buf_free(&one.reg.manifest);
    } else {
        p->platforms = grown;
        if (i < p->platform_count) kt_buf_free(&grown[i].reg.manifest);
        grown[i] = one;
        if (i == p->platform_count) p->platform_count++;
    }
    pthread_rwlock_unlock(&p->lock);
    return st;
}

/* Stored, so it is known after a restart: not a signed item (the admin's word); it only
 * chooses which verified certificates pckcerts lists, and what GET /platforms says.
 * "held " or "queued ", then the registration as GET /platforms lists it. */
kt_status coll_platform_keep(kt_coll_proxy *p, const kt_coll_platform *reg, bool queued)
{
    char key[KT_COLL_KEY_MAX], qe[33], pce[5];
    kt_hex_encode(reg->qeid, 16, qe, sizeof qe);
    kt_hex_encode(reg->pceid, 2, pce, sizeof pce);
    snprintf(key, sizeof key, "platform-%s-%s", qe, pce);
    kt_buf body = {0}, rec = {0};
    const char *state = queued ? "queued " : "held ";
    kt_status st = kt_buf_append(&body, state, strlen(state));
    if (!st) st = kt_coll_platform_json(reg, &body);
    if (!st) st = kt_coll_record_write(&rec, key, kt_coll_now(p), "", 0, body.data, body.len);
    if (!st) st = p->store->ops->put(p->store, key, &rec);
    if (!st) st = coll_platform_set(p, reg, queued);
    kt_buf_free(&body);
    kt_buf_free(&rec);
    return st;
}

kt_status kt_coll_proxy_queue(kt_coll_proxy *p, const kt_coll_platform *pl)
{
    kt_status st = coll_platform_keep(p, pl, true);
    char qe[33];
    kt_hex_encode(pl->qeid, 16, qe, sizeof qe);
    if (!st) kt_log(KT_LOG_INFO, "collateral.platform_queued", "qe_id", qe, NULL);
    return st;
}

/* The judges of a PUT body's items in a scratch trust: the body's CRLs, else those held.
 * Under p->fetch. */
static kt_status scratch_judges(kt_coll_proxy *p, const kt_coll_put *put, time_t now,
                                kt_pcs_trust **out)
{
    kt_status st = kt_pcs_trust_new((const char *)p->root_pem.data, p->root_pem.len, out);
    for (size_t j = 0; !st && j < sizeof coll_judges / sizeof coll_judges[0]; j++) {
        kt_coll_query q;
        kt_coll_key_parse(coll_judges[j], &q);
        kt_buf body = {0}, chain = {0};
        const kt_coll_put_item *it = NULL;
        for (size_t i = 0; i < put->item_count && !it; i++)
            if (!strcmp(put->items[i].q.key, coll_judges[j])) it = &put->items[i];
        if (it) {
            st = kt_buf_append(&body, it->body.data, it->body.len);
            if (!st) st = kt_buf_append(&chain, it->chain.data, it->chain.len);
        } else {
            pthread_rwlock_rdlock(&p->lock);
            coll_entry *e = coll_find(p, coll_judges[j]);
            if (e) st = kt_buf_append(&body, e->body.data, e->body.len);
            if (e && !st) st = kt_buf_append(&chain, e->chain.data, e->chain.len);
            pthread_rwlock_unlock(&p->lock);
        }
        kt_pcs_validity v;
        if (!st && body.len)
            st = j == 0 ? kt_pcs_trust_set_root_crl(*out, body.data, body.len, now, &v)
                        : kt_pcs_trust_set_pck_crl(*out, &q.id, body.data, body.len,
                                                   (const char *)chain.data, chain.len, now, &v);
        if (st) st = kt_fail_context(st, "%s%s", coll_judges[j], it ? "" : " (held)");
        kt_buf_free(&body);
        kt_buf_free(&chain);
    }
    return st;
}

/* Which of the body's PCK issuer chains a platform's certificates verify under (all
 * under one, as Intel PCS issues them), judged by the scratch trust, each tcbm its
 * certificate's and each certificate the platform's PCE ID's. */
static kt_status check_put_certs(const kt_pcs_trust *t, const kt_coll_put *put,
                                 const struct kt_coll_put_certs *c, time_t now, int *ca)
{
    kt_status st = KT_ERR_NOT_FOUND;
    kt_pcs_item_id id = {.kind = KT_PCS_PCK_CERT};
    for (*ca = 0; *ca < 2; (*ca)++) {
        const kt_buf *chain = &put->pck_chain[*ca];
        if (!chain->len) continue;
        size_t held = 0;
        st = KT_OK;
        for (size_t i = 0; !st && i < c->count; i++) {
            if (!c->certs[i].pem.len) continue; /* "Not available" */
            kt_pcs_validity v;
            st = kt_pcs_item_check(t, &id, c->certs[i].pem.data, c->certs[i].pem.len,
                                   (const char *)chain->data, chain->len, now, &v);
            uint8_t svn[2] = {(uint8_t)v.pck.pcesvn, (uint8_t)(v.pck.pcesvn >> 8)};
            if (!st && (memcmp(v.pck.cpusvn, c->certs[i].tcbm, 16) ||
                        memcmp(svn, c->certs[i].tcbm + 16, 2)))
                st = kt_fail(KT_ERR_VERIFY, "its tcbm is not its certificate's TCB");
            if (!st && memcmp(v.pck.pceid, c->platform.pceid, 2))
                st = kt_fail(KT_ERR_VERIFY, "it is for another PCE ID than the platform's");
            if (st) st = kt_fail_context(KT_ERR_VERIFY, "certificate %zu", i);
            held++;
        }
        if (!st && !held) st = kt_fail(KT_ERR_NOT_FOUND, "no certificate (all 'Not available')");
        if (!st) return KT_OK;
    }
    if (st == KT_ERR_NOT_FOUND && !put->pck_chain[0].len && !put->pck_chain[1].len)
        st = kt_fail(KT_ERR_MALFORMED, "no SGX-PCK-Certificate-Issuer-Chain to verify them by");
    return st;
}

kt_status kt_coll_proxy_put(kt_coll_proxy *p, const kt_coll_put *put)
{
    time_t now = kt_coll_now(p);
    kt_pcs_trust *t = NULL;
    int *ca = calloc(put->pck_count + 1, sizeof *ca);
    if (!ca) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_lock(&p->fetch);
    /* everything verified first, nothing held changing: a scratch trust judges it */
    kt_status st = scratch_judges(p, put, now, &t);
    for (size_t i = 0; !st && i < put->item_count; i++) {
        const kt_coll_put_item *it = &put->items[i];
        kt_pcs_validity v;
        st = kt_pcs_item_check(t, &it->q.id, it->body.data, it->body.len,
                               (const char *)it->chain.data, it->chain.len, now, &v);
        if (!st && it->q.api == 3 && it->q.id.kind == KT_PCS_TCB)
            st = coll_tcb_info_version(it->body.data, it->body.len, 2);
        pthread_rwlock_rdlock(&p->lock);
        coll_entry *cur = st ? NULL : coll_find(p, it->q.key);
        if (cur && cur->v.issued > v.issued)
            st = kt_fail(KT_ERR_VERIFY, "it is older than the one held");
        pthread_rwlock_unlock(&p->lock);
        if (st) st = kt_fail_context(st, "%s", it->q.key);
    }
    for (size_t i = 0; !st && i < put->pck_count; i++)
        if ((st = check_put_certs(t, put, &put->pck[i], now, &ca[i])))
            st = kt_fail_context(st, "pck_certs entry %zu", i);
    kt_pcs_trust_free(t);
    /* then held and stored, the CRLs first (they came first) */
    for (size_t i = 0; !st && i < put->item_count; i++) {
        const kt_coll_put_item *it = &put->items[i];
        if ((st = coll_admit(p, &it->q, it->chain.data, it->chain.len, it->body.data, it->body.len,
                             true)))
            st = kt_fail_context(st, "%s", it->q.key);
    }
    for (size_t i = 0; !st && i < put->pck_count; i++) {
        const struct kt_coll_put_certs *c = &put->pck[i];
        st = coll_hold_pckcerts(p, c->platform.qeid, c->certs, c->count, &put->pck_chain[ca[i]],
                                true);
        /* the platform as the body's platforms list has it (its raw TCB), else as here */
        const kt_coll_platform *reg = &c->platform;
        for (size_t k = 0; k < put->platform_count; k++)
            if (!memcmp(put->platforms[k].qeid, reg->qeid, 16) &&
                !memcmp(put->platforms[k].pceid, reg->pceid, 2))
                reg = &put->platforms[k];
        if (!st) st = coll_platform_keep(p, reg, false);
        if (st) st = kt_fail_context(st, "pck_certs entry %zu", i);
    }
    pthread_mutex_unlock(&p->fetch);
    free(ca);
    char n[24];
    snprintf(n, sizeof n, "%zu", put->item_count + put->pck_count);
    if (!st) kt_log(KT_LOG_INFO, "collateral.platformcollateral_put", "items", n, NULL);
    return st;
}

kt_status kt_coll_proxy_platforms(kt_coll_proxy *p, const kt_coll_query *q, kt_buf *out,
                                  size_t *count)
{
    *count = 0;
    if (q->source == 1)
        return kt_fail(KT_ERR_MALFORMED,
                       "source=reg_na: not kept apart here (a platform whose certificates are not "
                       "available stays in source=reg until they are brought)");
    time_t now = kt_coll_now(p);
    kt_status st = kt_buf_append(out, "[", 1);
    pthread_rwlock_rdlock(&p->lock);
    for (size_t i = 0; !st && i < p->platform_count; i++) {
        const coll_platform *pl = &p->platforms[i];
        bool want = q->source == 0 ? pl->queued : !pl->queued;
        if (want && q->source == 2 && q->fmspc_count) {
            /* held: by the FMSPC of its certificates held and valid now */
            bool match = false;
            for (size_t k = 0; !match && k < p->count; k++) {
                const coll_entry *e = p->entries[k];
                if (e->q.id.kind != KT_PCS_PCK_CERT || memcmp(e->q.qeid, pl->reg.qeid, 16) ||
                    memcmp(e->q.pceid, pl->reg.pceid, 2) || now < e->v.issued ||
                    now > e->v.valid_to)
                    continue;
                for (unsigned f = 0; !match && f < q->fmspc_count; f++)
                    match = !memcmp(e->v.pck.fmspc, q->fmspcs[f], 6);
            }
            want = match;
        }
        if (!want) continue;
        if (*count) st = kt_buf_append(out, ",", 1);
        if (!st) st = kt_coll_platform_json(&pl->reg, out);
        (*count)++;
    }
    pthread_rwlock_unlock(&p->lock);
    if (!st) st = kt_buf_append(out, "]", 1);
    return st;
}

/* An admin's fetch: it waits for the upstream rate rather than fail on it (the fetch lock
 * let go meanwhile, so misses are served). Under p->fetch. */
static kt_status fetch_patiently(kt_coll_proxy *p, const kt_coll_query *q)
{
    kt_status st;
    for (int tries = 0;; tries++) {
        long code = 0;
        st = coll_fetch_upstream(p, q, &code);
        if (!st || !p->rate_limited || tries == 50) break;
        kt_clear_error();
        pthread_mutex_unlock(&p->fetch);
        struct timespec nap = {0, 1000000000L / (long)p->cfg.upstream_rate + 1000000L};
        nanosleep(&nap, NULL);
        pthread_mutex_lock(&p->fetch);
    }
    return st;
}

static const char *const refresh_names[] = {"all", "certs", "crls", "tcbinfo", "enclaveidentity"};

/* Whether a refresh of rq's type takes an item of collateral (PCK certificates: certs). */
static bool refreshed_kind(const kt_coll_query *rq, const kt_coll_query *item)
{
    kt_pcs_kind k = item->id.kind;
    if (k == KT_PCS_PCK_CERT) return false;
    switch (rq->refresh) {
    case KT_COLL_REFRESH_CRLS:
        return k == KT_PCS_ROOT_CRL || k == KT_PCS_PCK_CRL;
    case KT_COLL_REFRESH_IDENTITIES:
        return k == KT_PCS_QE_IDENTITY || k == KT_PCS_QVE_IDENTITY;
    case KT_COLL_REFRESH_TCBINFO: /* with the evaluation numbers; of the FMSPCs listed */
        if (k == KT_PCS_TCB_EVAL) return !rq->fmspc_count;
        if (k != KT_PCS_TCB) return false;
        for (unsigned f = 0; f < rq->fmspc_count; f++)
            if (!memcmp(item->id.fmspc, rq->fmspcs[f], 6)) return true;
        return !rq->fmspc_count;
    default:
        return true;
    }
}

kt_status kt_coll_proxy_refresh_now(kt_coll_proxy *p, const kt_coll_query *rq, char *why,
                                    size_t cap)
{
    why[0] = '\0';
    if (!strcmp(p->cfg.mode, "offline"))
        return kt_fail(KT_ERR_STATE, "offline mode has no upstream to refresh from (import, or "
                                     "PUT /sgx/certification/v4/platformcollateral)");
    size_t n = 0, failed = 0;
    kt_status st = KT_OK;
    pthread_mutex_lock(&p->fetch);
    p->registering = true; /* req mode: an admin's refresh may fetch */
    if (rq->refresh == KT_COLL_REFRESH_CERTS) {
        /* every held platform's certificates again (of the FMSPCs listed) */
        pthread_rwlock_rdlock(&p->lock);
        size_t count = p->platform_count;
        kt_coll_platform *regs = calloc(count ? count : 1, sizeof *regs);
        for (size_t i = 0; regs && i < count; i++) {
            const coll_platform *pl = &p->platforms[i];
            bool want = !pl->queued && (!rq->fmspc_count);
            for (size_t k = 0; !want && !pl->queued && k < p->count; k++) {
                const coll_entry *e = p->entries[k];
                for (unsigned f = 0; f < rq->fmspc_count && !want; f++)
                    want = e->q.id.kind == KT_PCS_PCK_CERT &&
                           !memcmp(e->q.qeid, pl->reg.qeid, 16) &&
                           !memcmp(e->v.pck.fmspc, rq->fmspcs[f], 6);
            }
            if (want) {
                regs[n] = pl->reg;
                regs[n].manifest = (kt_buf){0};
                kt_buf_append(&regs[n].manifest, pl->reg.manifest.data, pl->reg.manifest.len);
                n++;
            }
        }
        pthread_rwlock_unlock(&p->lock);
        for (size_t i = 0; regs && i < n; i++) {
            char pceid[5], qe[33], uri[1200];
            kt_hex_encode(regs[i].pceid, 2, pceid, sizeof pceid);
            kt_hex_encode(regs[i].qeid, 16, qe, sizeof qe);
            kt_status one = coll_ensure_root(p, kt_coll_now(p));
            if (!one && !strcmp(p->cfg.upstream_kind, "pcs")) {
                one = coll_fetch_pckcerts(p, &regs[i], pceid);
            } else if (!one) {
                char cpusvn[33], pcesvn[5];
                kt_coll_query q;
                kt_hex_encode(regs[i].cpusvn, 16, cpusvn, sizeof cpusvn);
                kt_hex_encode(regs[i].pcesvn, 2, pcesvn, sizeof pcesvn);
                int len = snprintf(uri, sizeof uri,
                                   "/sgx/certification/v4/pckcert?qeid=%s&cpusvn=%s&pcesvn=%s&"
                                   "pceid=%s%s%s",
                                   qe, cpusvn, pcesvn, pceid,
                                   regs[i].ppid[0] ? "&encrypted_ppid=" : "", regs[i].ppid);
                one = regs[i].has_tcb ? kt_coll_query_parse(uri, (size_t)len, &q)
                                      : kt_fail(KT_ERR_STATE, "no raw TCB registered");
                if (!one) one = fetch_patiently(p, &q);
            }
            if (one) {
                size_t w = strlen(why);
                snprintf(why + w, cap - w, "%splatform %s: %s", failed ? "; " : "", qe,
                         kt_last_error());
                failed++;
                st = one;
            }
        }
        for (size_t i = 0; regs && i < n; i++)
            kt_coll_platform_clear(&regs[i]);
        if (!regs) st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        free(regs);
    } else {
        /* every item of collateral held, the judges first (PCK certificates: type=certs) */
        pthread_rwlock_rdlock(&p->lock);
        char(*keys)[KT_COLL_KEY_MAX] = calloc(p->count ? p->count : 1, sizeof *keys);
        for (size_t j = 0; keys && j <= sizeof coll_judges / sizeof coll_judges[0]; j++)
            for (size_t i = 0; i < p->count; i++) {
                const char *k = p->entries[i]->q.key;
                bool mine = j < sizeof coll_judges / sizeof coll_judges[0]
                                ? !strcmp(k, coll_judges[j])
                                : !coll_is_judge(k);
                if (mine && refreshed_kind(rq, &p->entries[i]->q))
                    memcpy(keys[n++], k, KT_COLL_KEY_MAX);
            }
        pthread_rwlock_unlock(&p->lock);
        for (size_t i = 0; keys && i < n; i++) {
            kt_coll_query q;
            if (kt_coll_key_parse(keys[i], &q)) continue;
            kt_status one = fetch_patiently(p, &q);
            if (one) {
                size_t w = strlen(why);
                snprintf(why + w, cap - w, "%s%s: %s", failed ? "; " : "", keys[i],
                         kt_last_error());
                failed++;
                st = one;
            } else {
                atomic_fetch_add(&p->refreshes, 1);
            }
        }
        if (!keys) st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        free(keys);
    }
    p->registering = false;
    pthread_mutex_unlock(&p->fetch);
    char counts[48];
    snprintf(counts, sizeof counts, "%zu", n - failed);
    kt_log(failed ? KT_LOG_WARN : KT_LOG_INFO, "collateral.refreshed_now", "type",
           refresh_names[rq->refresh], "refreshed", counts, NULL);
    if (st)
        return kt_fail(st, "%zu of %zu not refreshed (what was held stays): %s", failed, n, why);
    return KT_OK;
}
