/* The proxy: a cache of PCS items, each verified (kt_pcs_item_check) before it is cached,
 * stored or served from storage, and served only inside the window in which its
 * verification holds. A miss in lazy mode fetches from upstream, whose answer is
 * verified the same way; nothing upstream sends is cached or stored unless it verifies. */
#include "proxy_internal.h"

#include <kubetee/crypto.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *const reason_names[R_COUNT] = {
    "bad_request",
    "not_found",
    "method",
    "not_cached",
    "expired",
    "upstream_unavailable",
    "upstream_unverified",
    "upstream_not_found",
    "store_unverified",
    "upstream_rate",
    "unauthorized",
};

/* Whether a miss may go upstream now: lazy mode, or req mode while registering. Under
 * p->fetch. */
static bool may_fetch(const kt_coll_proxy *p)
{
    return !strcmp(p->cfg.mode, "lazy") || (!strcmp(p->cfg.mode, "req") && p->registering);
}

/* Why an item not held is not fetched now. */
static const char *not_fetched(const kt_coll_proxy *p)
{
    return !strcmp(p->cfg.mode, "req")
               ? "req mode: fetched when a platform is registered with POST "
                 "/sgx/certification/v4/platforms"
               : "offline mode: import it";
}

time_t kt_coll_now(const kt_coll_proxy *p)
{
    return p->cfg.now ? (time_t)p->cfg.now : time(NULL);
}

static void iso(time_t t, char out[24])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 24, "@%lld", (long long)t);
}

/* encodeURIComponent's rule, as Intel PCS encodes issuer chains: unreserved bytes stay. */
static kt_status url_encode(const uint8_t *s, size_t n, kt_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    strchr("-_.!~*'()", c);
        kt_status st = keep && c ? kt_buf_append(out, &c, 1) : kt_buf_append(out, e, 3);
        if (st) return st;
    }
    return KT_OK;
}

static kt_status header_line(kt_buf *out, const char *name, const kt_buf *chain)
{
    kt_status st = kt_buf_append(out, name, strlen(name));
    if (!st) st = kt_buf_append(out, ": ", 2);
    if (!st) st = url_encode(chain->data, chain->len, out);
    if (!st) st = kt_buf_append(out, "\n", 1);
    return st;
}

static kt_status make_headers(coll_entry *e)
{
    e->headers.len = 0;
    switch (e->q.id.kind) {
    case KT_PCS_TCB: {
        /* v4's name; SGX's v3 name too, which older clients read; v3's own item: v3's */
        kt_status st =
            e->q.api == 3 ? KT_OK : header_line(&e->headers, "TCB-Info-Issuer-Chain", &e->chain);
        if (!st && e->q.id.tee == KT_TEE_SGX)
            st = header_line(&e->headers, "SGX-TCB-Info-Issuer-Chain", &e->chain);
        return st;
    }
    case KT_PCS_QE_IDENTITY:
    case KT_PCS_QVE_IDENTITY:
        return header_line(&e->headers, "SGX-Enclave-Identity-Issuer-Chain", &e->chain);
    case KT_PCS_PCK_CRL:
        return header_line(&e->headers, "SGX-PCK-CRL-Issuer-Chain", &e->chain);
    case KT_PCS_PCK_CERT: {
        char tcbm[37], fmspc[13], line[160];
        uint8_t pcesvn[2] = {(uint8_t)e->v.pck.pcesvn, (uint8_t)(e->v.pck.pcesvn >> 8)};
        kt_hex_encode(e->v.pck.cpusvn, 16, tcbm, sizeof tcbm);
        kt_hex_encode(pcesvn, 2, tcbm + 32, 5);
        kt_hex_encode(e->v.pck.fmspc, 6, fmspc, sizeof fmspc);
        for (char *c = tcbm; *c; c++)
            if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
        for (char *c = fmspc; *c; c++)
            if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
        int n = snprintf(line, sizeof line,
                         "SGX-TCBm: %s\nSGX-FMSPC: %s\nSGX-PCK-Certificate-CA-Type: %s\n", tcbm,
                         fmspc, e->v.pck.platform_ca ? "platform" : "processor");
        kt_status st = header_line(&e->headers, "SGX-PCK-Certificate-Issuer-Chain", &e->chain);
        return st ? st : kt_buf_append(&e->headers, line, (size_t)n);
    }
    case KT_PCS_TCB_EVAL:
        return header_line(&e->headers, "TCB-Evaluation-Data-Numbers-Issuer-Chain", &e->chain);
    case KT_PCS_ROOT_CRL:
        return KT_OK;
    }
    return KT_OK;
}

static void entry_free(coll_entry *e)
{
    if (!e) return;
    kt_buf_free(&e->chain);
    kt_buf_free(&e->body);
    kt_buf_free(&e->headers);
    free(e);
}

/* Under p->lock. */
coll_entry *coll_find(kt_coll_proxy *p, const char *key)
{
    for (size_t i = 0; i < p->count; i++)
        if (!strcmp(p->entries[i]->q.key, key)) return p->entries[i];
    return NULL;
}

static const char *content_type(const kt_coll_query *q, bool pem)
{
    if (q->id.kind == KT_PCS_PCK_CERT) return "application/x-pem-file";
    bool crl = q->id.kind == KT_PCS_PCK_CRL || q->id.kind == KT_PCS_ROOT_CRL;
    return !crl ? "application/json" : pem ? "application/x-pem-file" : "application/pkix-crl";
}

/* PCS v3 serves TCB Info version 2, v4 version 3: what a v3 path serves must be v3's. */
kt_status coll_tcb_info_version(const uint8_t *body, size_t n, long long want)
{
    json_t *o = json_loadb((const char *)body, n, JSON_REJECT_DUPLICATES, NULL);
    json_t *v = json_object_get(json_object_get(o, "tcbInfo"), "version");
    long long got = json_is_integer(v) ? json_integer_value(v) : -1;
    json_decref(o);
    if (got == want) return KT_OK;
    return kt_fail(KT_ERR_VERIFY, "TCB Info version %lld, not %lld (the v3 API's)", got, want);
}

/* Verifies an item at `now` and caches it (and stores it, when asked). Under p->fetch. */
static kt_status admit_at(kt_coll_proxy *p, const kt_coll_query *q, const uint8_t *chain,
                          size_t chain_len, const uint8_t *body, size_t body_len, bool store,
                          time_t now)
{
    coll_entry *e = calloc(1, sizeof *e);
    if (!e) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    e->q = *q;
    e->q.crl_pem = false;
    e->q.api = q->id.kind == KT_PCS_TCB && q->api == 3 ? 3 : 4; /* only TCB Info differs */
    e->q.ppid[0] = '\0';
    kt_status st = kt_pcs_item_check(p->trust, &q->id, body, body_len, (const char *)chain,
                                     chain_len, now, &e->v);
    if (!st) { /* out of order: an older issue never replaces a newer one */
        char was[24], is[24];
        pthread_rwlock_rdlock(&p->lock);
        coll_entry *cur = coll_find(p, q->key);
        if (cur && cur->v.issued > e->v.issued) {
            iso(cur->v.issued, was), iso(e->v.issued, is);
            st = kt_fail(KT_ERR_VERIFY, "%s issued %s is older than the cached one (issued %s)",
                         q->key, is, was);
        }
        pthread_rwlock_unlock(&p->lock);
    }
    if (st == KT_ERR_STATE && q->id.kind == KT_PCS_PCK_CERT)
        p->need_platform_ca = e->v.pck.platform_ca;
    if (!st && e->q.api == 3) st = coll_tcb_info_version(body, body_len, 2);
    if (!st && q->id.kind == KT_PCS_PCK_CERT && memcmp(e->v.pck.pceid, q->pceid, 2))
        st = kt_fail(KT_ERR_VERIFY, "PCK certificate is for another PCE ID than the one asked for");
    /* the CRLs judge the other items from now on */
    if (!st && q->id.kind == KT_PCS_ROOT_CRL)
        st = kt_pcs_trust_set_root_crl(p->trust, body, body_len, now, &e->v);
    if (!st && q->id.kind == KT_PCS_PCK_CRL)
        st = kt_pcs_trust_set_pck_crl(p->trust, &q->id, body, body_len, (const char *)chain,
                                      chain_len, now, &e->v);
    if (!st) st = kt_buf_append(&e->chain, chain, chain_len);
    if (!st) st = kt_buf_append(&e->body, body, body_len);
    if (!st) st = make_headers(e);
    if (!st && store) {
        kt_buf rec = {0};
        st = kt_coll_record_write(&rec, q->key, now, chain, chain_len, body, body_len);
        if (!st) st = p->store->ops->put(p->store, q->key, &rec);
        kt_buf_free(&rec);
    }
    if (st) {
        entry_free(e);
        return st;
    }
    e->verified_at = now;
    pthread_rwlock_wrlock(&p->lock);
    coll_entry *old = coll_find(p, q->key);
    if (old) {
        for (size_t i = 0; i < p->count; i++)
            if (p->entries[i] == old) p->entries[i] = e;
    } else if (p->count == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        coll_entry **grown = realloc(p->entries, cap * sizeof *grown);
        if (!grown)
            st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        else
            p->entries = grown, p->cap = cap;
    }
    if (!st && !old) p->entries[p->count++] = e;
    pthread_rwlock_unlock(&p->lock);
    if (st) {
        entry_free(e);
        return st;
    }
    /* readers copy what they serve under the lock, so the old entry is no longer in use */
    entry_free(old);
    return KT_OK;
}

kt_status coll_admit(kt_coll_proxy *p, const kt_coll_query *q, const uint8_t *chain,
                     size_t chain_len, const uint8_t *body, size_t body_len, bool store)
{
    return admit_at(p, q, chain, chain_len, body, body_len, store, kt_coll_now(p));
}

kt_status kt_coll_proxy_admit(kt_coll_proxy *p, const kt_coll_query *q, const uint8_t *chain,
                              size_t chain_len, const uint8_t *body, size_t body_len, bool store)
{
    if (q->route != KT_COLL_ITEM)
        return kt_fail(KT_ERR_MALFORMED, "%s is not an item of collateral", q->key);
    pthread_mutex_lock(&p->fetch);
    kt_status st = coll_admit(p, q, chain, chain_len, body, body_len, store);
    pthread_mutex_unlock(&p->fetch);
    return st;
}

static void refuse(kt_coll_proxy *p, unsigned reason, const char *key, const char *why)
{
    atomic_fetch_add(&p->refusals[reason], 1);
    char shown[512];
    kt_escape_text(why, strlen(why), shown, sizeof shown);
    kt_log(KT_LOG_WARN, "collateral.refused", "reason", reason_names[reason], "item",
           key ? key : "", "detail", shown, NULL);
}

static kt_status ensure_pck_crl(kt_coll_proxy *p, bool platform, time_t now);

/* Fetches one item from upstream and admits it. Under p->fetch. *code: upstream's HTTP
 * status (0: no answer). */
kt_status coll_fetch_upstream(kt_coll_proxy *p, const kt_coll_query *q, long *code)
{
    char url[2048], path[1200];
    const char *base = p->cfg.upstream_url;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    kt_coll_upstream_path(q, !strcmp(p->cfg.upstream_kind, "pcs"), path, sizeof path);
    if (q->id.kind == KT_PCS_ROOT_CRL && !strcmp(p->cfg.upstream_kind, "pcs"))
        snprintf(url, sizeof url, "%s", p->cfg.root_crl_url);
    else
        snprintf(url, sizeof url, "%.*s%s", (int)bl, base, path);
    const char *header = q->id.kind == KT_PCS_TCB && q->api == 3 ? "SGX-TCB-Info-Issuer-Chain"
                         : q->id.kind == KT_PCS_TCB              ? "TCB-Info-Issuer-Chain"
                         : q->id.kind == KT_PCS_PCK_CRL          ? "SGX-PCK-CRL-Issuer-Chain"
                         : q->id.kind == KT_PCS_PCK_CERT ? "SGX-PCK-Certificate-Issuer-Chain"
                         : q->id.kind == KT_PCS_ROOT_CRL ? NULL
                         : q->id.kind == KT_PCS_TCB_EVAL
                             ? "TCB-Evaluation-Data-Numbers-Issuer-Chain"
                             : "SGX-Enclave-Identity-Issuer-Chain";
    /* a token bucket: at most upstream_rate fetches a second, whatever clients ask for */
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double rate = p->cfg.upstream_rate;
    p->tokens += rate * ((double)(t.tv_sec - p->filled.tv_sec) +
                         (double)(t.tv_nsec - p->filled.tv_nsec) / 1e9);
    if (p->tokens > rate) p->tokens = rate;
    p->filled = t;
    p->rate_limited = p->tokens < 1;
    if (p->rate_limited) {
        atomic_fetch_add(&p->upstream_errors, 1);
        return kt_fail(KT_ERR_UNAVAILABLE, "upstream fetch rate limit (%u a second) reached",
                       p->cfg.upstream_rate);
    }
    p->tokens -= 1;
    kt_buf body = {0}, chain = {0};
    atomic_fetch_add(&p->fetches, 1);
    kt_status st = kt_pcs_get(url, p->cfg.api_key[0] ? p->cfg.api_key : NULL, header, &body,
                              header ? &chain : NULL, code);
    if (!st && *code != 200)
        st = kt_fail(*code == 404 ? KT_ERR_NOT_FOUND : KT_ERR_UNAVAILABLE,
                     "upstream answered HTTP %ld", *code);
    if (!st && header && chain.len == 0)
        st = kt_fail(KT_ERR_MALFORMED, "upstream sent no %s header", header);
    if (!st && (q->id.kind == KT_PCS_ROOT_CRL || q->id.kind == KT_PCS_PCK_CRL))
        st = kt_pcs_crl_der(&body);
    bool answered = !st;
    if (!st) st = coll_admit(p, q, chain.data, chain.len, body.data, body.len, true);
    if (st == KT_ERR_STATE && q->id.kind == KT_PCS_PCK_CERT &&
        ensure_pck_crl(p, p->need_platform_ca, kt_coll_now(p)) == KT_OK)
        /* the PCK CRL of the certificate's CA was not held: fetched, try again */
        st = coll_admit(p, q, chain.data, chain.len, body.data, body.len, true);
    if (st && *code == 200)
        st = kt_fail_context(KT_ERR_VERIFY, "upstream's %s%s", q->key,
                             answered ? " does not verify" : "");
    if (st) {
        atomic_fetch_add(&p->upstream_errors, 1);
        char shown[512];
        kt_log(KT_LOG_WARN, "collateral.upstream_error", "item", q->key, "detail",
               kt_escape_text(kt_last_error(), strlen(kt_last_error()), shown, sizeof shown), NULL);
    } else {
        kt_log(KT_LOG_INFO, "collateral.fetched", "item", q->key, NULL);
    }
    kt_buf_free(&body);
    kt_buf_free(&chain);
    return st;
}

/* The root CA CRL that judges every other item, valid now: cached, re-verified from
 * storage, or fetched. Under p->fetch. */
kt_status coll_ensure_root(kt_coll_proxy *p, time_t now)
{
    kt_coll_query rq;
    kt_coll_key_parse("rootcacrl", &rq);
    pthread_rwlock_rdlock(&p->lock);
    coll_entry *e = coll_find(p, "rootcacrl");
    bool ok = e && now >= e->v.issued && now <= e->v.valid_to;
    pthread_rwlock_unlock(&p->lock);
    if (ok) return KT_OK;
    long code = 0;
    if (!may_fetch(p))
        return kt_fail(KT_ERR_UNAVAILABLE, "no valid root CA CRL to judge issuer chains (%s)",
                       not_fetched(p));
    if (coll_fetch_upstream(p, &rq, &code) == KT_OK) return KT_OK;
    return kt_fail(KT_ERR_UNAVAILABLE, "no valid root CA CRL to judge issuer chains: %s",
                   kt_last_error());
}

/* The PCK CRL that judges PCK certificates of a CA, valid now: cached, or fetched. Under
 * p->fetch. */
static kt_status ensure_pck_crl(kt_coll_proxy *p, bool platform, time_t now)
{
    kt_coll_query cq;
    const char *key = platform ? "pckcrl-platform" : "pckcrl-processor";
    kt_coll_key_parse(key, &cq);
    pthread_rwlock_rdlock(&p->lock);
    coll_entry *e = coll_find(p, key);
    bool ok = e && now >= e->v.issued && now <= e->v.valid_to;
    pthread_rwlock_unlock(&p->lock);
    if (ok) return KT_OK;
    long code = 0;
    if (!may_fetch(p))
        return kt_fail(KT_ERR_UNAVAILABLE, "no valid %s to judge PCK certificates (%s)", key,
                       not_fetched(p));
    if (coll_fetch_upstream(p, &cq, &code) == KT_OK) return KT_OK;
    return kt_fail(KT_ERR_UNAVAILABLE, "no valid %s to judge PCK certificates: %s", key,
                   kt_last_error());
}

static void reply_text(kt_http_reply *r, unsigned code, const char *msg)
{
    r->code = code;
    r->content_type = "text/plain";
    kt_buf_append(&r->body, msg, strlen(msg));
    kt_buf_append(&r->body, "\n", 1);
}

static void request_id(kt_coll_proxy *p, kt_http_reply *r)
{
    uint8_t id[16];
    unsigned long n = atomic_fetch_add(&p->rid, 1);
    memcpy(id, p->rid_prefix, 8);
    for (int i = 0; i < 8; i++)
        id[8 + i] = (uint8_t)(n >> (8 * (7 - i)));
    char hex[33], line[48];
    kt_hex_encode(id, 16, hex, sizeof hex);
    int len = snprintf(line, sizeof line, "Request-ID: %s\n", hex);
    kt_buf_append(&r->headers, line, (size_t)len);
}

static kt_status crl_pem(const kt_buf *der, kt_buf *out)
{
    kt_buf b64 = {0};
    kt_status st = kt_base64_encode(der->data, der->len, &b64);
    static const char head[] = "-----BEGIN X509 CRL-----\n", tail[] = "-----END X509 CRL-----\n";
    if (!st) st = kt_buf_append(out, head, sizeof head - 1);
    for (size_t i = 0; !st && i < b64.len; i += 64) {
        size_t n = b64.len - i < 64 ? b64.len - i : 64;
        st = kt_buf_append(out, b64.data + i, n);
        if (!st) st = kt_buf_append(out, "\n", 1);
    }
    if (!st) st = kt_buf_append(out, tail, sizeof tail - 1);
    kt_buf_free(&b64);
    return st;
}

/* Copies a servable entry into the reply (marked when served inside grace). Under p->lock
 * (read). */
static void serve(const kt_coll_query *q, const coll_entry *e, kt_http_reply *r, const char *grace)
{
    r->code = 200;
    r->content_type = content_type(q, q->crl_pem);
    kt_status st = q->crl_pem ? crl_pem(&e->body, &r->body)
                              : kt_buf_append(&r->body, e->body.data, e->body.len);
    if (!st) st = kt_buf_append(&r->headers, e->headers.data, e->headers.len);
    if (!st && grace) {
        char line[96];
        int n = snprintf(line, sizeof line, "KubeTEE-Collateral-Grace: expired %s\n", grace);
        st = kt_buf_append(&r->headers, line, (size_t)n);
    }
    if (st) {
        r->body.len = 0;
        reply_text(r, 500, "out of memory");
    }
}

typedef enum { S_SERVED, S_MISS, S_EXPIRED } lookup;

static lookup try_serve(kt_coll_proxy *p, const kt_coll_query *q, time_t now, kt_http_reply *r,
                        time_t *expired_at)
{
    pthread_rwlock_rdlock(&p->lock);
    coll_entry *e = coll_find(p, q->key);
    lookup l = S_MISS;
    if (e && now >= e->v.issued && now <= e->v.valid_to) {
        serve(q, e, r, NULL);
        l = S_SERVED;
    } else if (e) {
        *expired_at = e->v.valid_to;
        l = S_EXPIRED;
    }
    pthread_rwlock_unlock(&p->lock);
    return l;
}

/* Inside the grace window past an item's validity: served, marked and counted. */
static bool try_grace(kt_coll_proxy *p, const kt_coll_query *q, time_t now, kt_http_reply *r)
{
    if (p->cfg.grace <= 0) return false;
    bool served = false;
    char when[24];
    pthread_rwlock_rdlock(&p->lock);
    coll_entry *e = coll_find(p, q->key);
    if (e && now >= e->v.issued && now > e->v.valid_to && now - e->v.valid_to <= p->cfg.grace) {
        iso(e->v.valid_to, when);
        serve(q, e, r, when);
        served = true;
    }
    pthread_rwlock_unlock(&p->lock);
    if (served) {
        atomic_fetch_add(&p->grace_served, 1);
        kt_log(KT_LOG_WARN, "collateral.grace_served", "item", q->key, "expired", when, NULL);
    }
    return served;
}

/* What a stored copy says now, verified again (a newer root CA CRL may extend it). With
 * past, a copy that no longer verifies now is verified when it last did, so it is known
 * as expired (served inside grace only) rather than unknown. */
static bool reverify(kt_coll_proxy *p, const kt_coll_query *q, bool past)
{
    kt_buf rec = {0};
    kt_coll_record r;
    bool ok = false;
    if (p->store->ops->get(p->store, q->key, &rec) == KT_OK) {
        const uint8_t *d = rec.data;
        size_t n = rec.len;
        bool whole = kt_coll_record_next(&d, &n, &r) == KT_OK && n == 0 && !strcmp(r.key, q->key);
        ok = whole && coll_admit(p, q, r.chain, r.chain_len, r.body, r.body_len, false) == KT_OK;
        if (whole && !ok && past && r.verified_at < kt_coll_now(p))
            ok = admit_at(p, q, r.chain, r.chain_len, r.body, r.body_len, false, r.verified_at) ==
                 KT_OK;
    }
    kt_buf_free(&rec);
    kt_clear_error();
    return ok;
}

/* A TCB Info for the FMSPC that is servable now (SGX's, else TDX's: both list the SGX
 * components and PCESVN), copied; fetched from upstream in lazy mode. Under p->fetch. */
static bool tcb_for_selection(kt_coll_proxy *p, const uint8_t fmspc[6], time_t now, kt_buf *out)
{
    for (int pass = 0; pass < 2; pass++)
        for (int tdx = 0; tdx < 2; tdx++) {
            kt_coll_query tq;
            char uri[96], hex[13];
            kt_hex_encode(fmspc, 6, hex, sizeof hex);
            int n = snprintf(uri, sizeof uri, "/%s/certification/v4/tcb?fmspc=%s",
                             tdx ? "tdx" : "sgx", hex);
            if (kt_coll_query_parse(uri, (size_t)n, &tq)) return false;
            if (pass == 1) { /* none held: SGX's from upstream */
                long code = 0;
                if (tdx || !may_fetch(p) || coll_fetch_upstream(p, &tq, &code)) continue;
            }
            bool got = false;
            pthread_rwlock_rdlock(&p->lock);
            coll_entry *e = coll_find(p, tq.key);
            if (e && now >= e->v.issued && now <= e->v.valid_to)
                got = kt_buf_append(out, e->body.data, e->body.len) == KT_OK;
            pthread_rwlock_unlock(&p->lock);
            if (got) return true;
        }
    kt_clear_error();
    return false;
}

/* PCK certificate selection among the platform's certificates held (QE ID and PCE ID as
 * asked), each servable now, for the raw TCB asked for: served when one fits. *why says
 * why not. Under p->fetch. */
static bool select_held(kt_coll_proxy *p, const kt_coll_query *q, time_t now, kt_http_reply *r,
                        char *why, size_t cap)
{
    uint8_t fmspc[6];
    bool any = false;
    pthread_rwlock_rdlock(&p->lock);
    for (size_t i = 0; i < p->count && !any; i++) {
        const coll_entry *e = p->entries[i];
        if (e->q.id.kind == KT_PCS_PCK_CERT && !memcmp(e->q.qeid, q->qeid, 16) &&
            !memcmp(e->q.pceid, q->pceid, 2) && now >= e->v.issued && now <= e->v.valid_to) {
            memcpy(fmspc, e->v.pck.fmspc, 6);
            any = true;
        }
    }
    pthread_rwlock_unlock(&p->lock);
    if (!any) return false;
    kt_buf tcb = {0};
    if (!tcb_for_selection(p, fmspc, now, &tcb)) {
        snprintf(why, cap,
                 "no valid TCB Info for the platform's FMSPC to select its PCK "
                 "certificate by");
        return false;
    }
    bool served = false;
    pthread_rwlock_rdlock(&p->lock);
    kt_pcs_pck_facts *facts = calloc(p->count ? p->count : 1, sizeof *facts);
    const coll_entry **of = calloc(p->count ? p->count : 1, sizeof *of);
    size_t n = 0, best;
    for (size_t i = 0; facts && of && i < p->count; i++) {
        const coll_entry *e = p->entries[i];
        if (e->q.id.kind == KT_PCS_PCK_CERT && !memcmp(e->q.qeid, q->qeid, 16) &&
            !memcmp(e->q.pceid, q->pceid, 2) && now >= e->v.issued && now <= e->v.valid_to &&
            !memcmp(e->v.pck.fmspc, fmspc, 6)) {
            facts[n] = e->v.pck;
            of[n++] = e;
        }
    }
    uint16_t pcesvn = (uint16_t)(q->pcesvn[0] | q->pcesvn[1] << 8);
    if (facts && of &&
        kt_pcs_pck_select((const char *)tcb.data, tcb.len, facts, n, q->cpusvn, pcesvn, &best) ==
            KT_OK) {
        serve(q, of[best], r, NULL);
        served = true;
    } else {
        snprintf(why, cap, "%s", facts && of ? kt_last_error() : "out of memory");
    }
    pthread_rwlock_unlock(&p->lock);
    free(facts);
    free(of);
    kt_buf_free(&tcb);
    return served;
}

/* /fmspcs: the FMSPCs whose TCB Info (SGX's or TDX's) is held and valid now, from verified
 * items only. Intel's list also names each platform's type, which no signed item says: a
 * filter other than all is refused. */
static void list_fmspcs(kt_coll_proxy *p, const kt_coll_query *q, time_t now, kt_http_reply *r)
{
    if (q->platform != 0) {
        atomic_fetch_add(&p->refusals[R_BAD_REQUEST], 1);
        return reply_text(r, 400,
                          "platform: only 'all' is served (a platform's type is in no signed "
                          "item, and only verified collateral is served)");
    }
    kt_status st = kt_buf_append(&r->body, "[", 1);
    char seen[64][13];
    size_t n = 0;
    pthread_rwlock_rdlock(&p->lock);
    for (size_t i = 0; !st && i < p->count; i++) {
        const coll_entry *e = p->entries[i];
        if (e->q.id.kind != KT_PCS_TCB || e->q.early || now < e->v.issued || now > e->v.valid_to)
            continue;
        char hex[13];
        kt_hex_encode(e->q.id.fmspc, 6, hex, sizeof hex);
        for (char *c = hex; *c; c++)
            if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
        size_t k;
        for (k = 0; k < n && strcmp(seen[k], hex); k++)
            ;
        if (k < n || n == sizeof seen / sizeof seen[0]) continue;
        memcpy(seen[n++], hex, 13);
        char item[40];
        int len = snprintf(item, sizeof item, "%s{\"fmspc\":\"%s\"}", n > 1 ? "," : "", hex);
        st = kt_buf_append(&r->body, item, (size_t)len);
    }
    pthread_rwlock_unlock(&p->lock);
    if (!st) st = kt_buf_append(&r->body, "]", 1);
    r->code = st ? 500 : 200;
    r->content_type = "application/json";
    atomic_fetch_add(&p->hits, 1);
}

/* /pckcerts: every certificate held for a registered platform (found by its encrypted
 * PPID and PCE ID), each valid now, as Intel PCS lists them: tcb, tcbm, cert (URL-encoded
 * PEM); the issuer chain, FMSPC and CA type of the certificates (which must agree). */
static void list_pckcerts(kt_coll_proxy *p, const kt_coll_query *q, time_t now, kt_http_reply *r)
{
    uint8_t ppid[KT_COLL_PPID_HEX / 2], h[32];
    kt_hex_decode(q->ppid, ppid, sizeof ppid);
    kt_sha256(ppid, sizeof ppid, h);
    pthread_rwlock_rdlock(&p->lock);
    const coll_platform *pl = NULL;
    for (size_t i = 0; i < p->platform_count && !pl; i++)
        if (!p->platforms[i].queued && p->platforms[i].reg.ppid[0] &&
            kt_equal(p->platforms[i].ppid_sha256, h, 32) &&
            !memcmp(p->platforms[i].reg.pceid, q->pceid, 2))
            pl = &p->platforms[i];
    const coll_entry *first = NULL, **done = calloc(p->count ? p->count : 1, sizeof *done);
    size_t n = 0;
    kt_status st = done ? kt_buf_append(&r->body, "[", 1) : KT_ERR_NO_MEMORY;
    for (size_t i = 0; pl && !st && i < p->count; i++) {
        const coll_entry *e = p->entries[i];
        if (e->q.id.kind != KT_PCS_PCK_CERT || memcmp(e->q.qeid, pl->reg.qeid, 16) ||
            memcmp(e->q.pceid, pl->reg.pceid, 2) || now < e->v.issued || now > e->v.valid_to)
            continue;
        size_t k; /* a certificate held under several raw TCBs is listed once */
        for (k = 0; k < n && !(done[k]->body.len == e->body.len &&
                               !memcmp(done[k]->body.data, e->body.data, e->body.len));
             k++)
            ;
        if (k < n) continue;
        if (first &&
            (first->v.pck.platform_ca != e->v.pck.platform_ca ||
             memcmp(first->v.pck.fmspc, e->v.pck.fmspc, 6) || first->chain.len != e->chain.len ||
             memcmp(first->chain.data, e->chain.data, e->chain.len)))
            continue; /* another chain: not listed together */
        if (!first) first = e;
        done[n++] = e;
        char line[600], tcbm[37];
        int at = snprintf(line, sizeof line, "%s{\"tcb\":{", n > 1 ? "," : "");
        for (int c = 0; c < 16; c++)
            at += snprintf(line + at, sizeof line - (size_t)at, "\"sgxtcbcomp%02dsvn\":%u,", c + 1,
                           e->v.pck.comp[c]);
        uint8_t svn[2] = {(uint8_t)e->v.pck.pcesvn, (uint8_t)(e->v.pck.pcesvn >> 8)};
        kt_hex_encode(e->v.pck.cpusvn, 16, tcbm, sizeof tcbm);
        kt_hex_encode(svn, 2, tcbm + 32, 5);
        for (char *c = tcbm; *c; c++)
            if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
        at += snprintf(line + at, sizeof line - (size_t)at,
                       "\"pcesvn\":%u},\"tcbm\":\"%s\",\"cert\":\"", e->v.pck.pcesvn, tcbm);
        st = kt_buf_append(&r->body, line, (size_t)at);
        if (!st) st = url_encode(e->body.data, e->body.len, &r->body);
        if (!st) st = kt_buf_append(&r->body, "\"}", 2);
    }
    if (!st && first) {
        char line[96], fmspc[13];
        kt_hex_encode(first->v.pck.fmspc, 6, fmspc, sizeof fmspc);
        for (char *c = fmspc; *c; c++)
            if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
        int len = snprintf(line, sizeof line, "SGX-FMSPC: %s\nSGX-PCK-Certificate-CA-Type: %s\n",
                           fmspc, first->v.pck.platform_ca ? "platform" : "processor");
        st = header_line(&r->headers, "SGX-PCK-Certificate-Issuer-Chain", &first->chain);
        if (!st) st = kt_buf_append(&r->headers, line, (size_t)len);
    }
    pthread_rwlock_unlock(&p->lock);
    free(done);
    if (!st) st = kt_buf_append(&r->body, "]", 1);
    if (st || !first) {
        r->body.len = r->headers.len = 0;
        unsigned reason = !pl ? R_NOT_FOUND : R_NOT_CACHED;
        const char *msg = st    ? "out of memory"
                          : !pl ? "platform not registered (POST /sgx/certification/v4/platforms "
                                  "with its encrypted PPID)"
                                : "no PCK certificate of the platform is held and valid now";
        refuse(p, reason, q->key, msg);
        return reply_text(r, st ? 500 : 404, msg);
    }
    r->code = 200;
    r->content_type = "application/json";
    atomic_fetch_add(&p->hits, 1);
}

/* A user token, when one is configured: the request's user-token header, compared in
 * constant time (both hashed first, so neither length nor prefix shows). */
static bool token_holds(const char *want, const char *got)
{
    uint8_t a[32], b[32];
    if (!got || kt_sha256(want, strlen(want), a) || kt_sha256(got, strlen(got), b)) return false;
    return kt_equal(a, b, 32);
}

bool kt_coll_token_holds(const char *want, const char *got)
{
    return token_holds(want, got);
}

static void handle(kt_coll_proxy *p, const char *method, const char *raw_uri, kt_http_reply *r)
{
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        atomic_fetch_add(&p->refusals[R_METHOD], 1);
        return reply_text(r, 405, "method not allowed");
    }
    bool admin = kt_coll_admin_path(raw_uri);
    if (admin && !kt_coll_admin_admit(p, r)) {
        atomic_fetch_add(&p->refusals[R_UNAUTHORIZED], 1);
        return;
    }
    if (!admin && p->cfg.user_token[0] &&
        !token_holds(p->cfg.user_token, kt_http_request_header(r, "user-token"))) {
        refuse(p, R_UNAUTHORIZED, NULL, "no user-token header, or not the user token");
        return reply_text(r, 401, "Authentication failed.");
    }
    kt_coll_query q;
    kt_status st = kt_coll_query_parse(raw_uri, strlen(raw_uri), &q);
    if (st) {
        unsigned reason = st == KT_ERR_NOT_FOUND ? R_NOT_FOUND : R_BAD_REQUEST;
        refuse(p, reason, NULL, kt_last_error());
        char msg[512];
        kt_escape_text(kt_last_error(), strlen(kt_last_error()), msg, sizeof msg);
        return reply_text(r, st == KT_ERR_NOT_FOUND ? 404 : 400, msg);
    }
    time_t now = kt_coll_now(p), expired_at = 0;
    if (q.route == KT_COLL_REFRESH && !strcmp(method, "HEAD")) { /* HEAD changes nothing */
        atomic_fetch_add(&p->refusals[R_METHOD], 1);
        return reply_text(r, 405, "HEAD does not refresh: POST (or GET) /refresh");
    }
    if (q.route == KT_COLL_PLATFORMS || q.route == KT_COLL_REFRESH)
        return kt_coll_admin_get(p, &q, r);
    if (q.route == KT_COLL_FMSPCS) return list_fmspcs(p, &q, now, r);
    if (q.route == KT_COLL_PCKCERTS) return list_pckcerts(p, &q, now, r);
    if (try_serve(p, &q, now, r, &expired_at) == S_SERVED) {
        atomic_fetch_add(&p->hits, 1);
        return;
    }
    atomic_fetch_add(&p->misses, 1);
    pthread_mutex_lock(&p->fetch);
    lookup l = try_serve(p, &q, now, r, &expired_at); /* another request may have fetched it */
    char why[600] = "";
    unsigned reason = R_NOT_CACHED, code = 404;
    bool no_root = l != S_SERVED && q.id.kind != KT_PCS_ROOT_CRL && coll_ensure_root(p, now);
    if (no_root) {
        snprintf(why, sizeof why, "%s", kt_last_error());
        reason = R_UPSTREAM_UNAVAILABLE, code = 503;
    } else if (l != S_SERVED && reverify(p, &q, false)) {
        l = try_serve(p, &q, now, r, &expired_at);
    }
    if (l != S_SERVED && !why[0] && !strcmp(p->cfg.mode, "lazy")) {
        long up = 0;
        st = coll_fetch_upstream(p, &q, &up);
        if (!st)
            l = try_serve(p, &q, now, r, &expired_at);
        else {
            snprintf(why, sizeof why, "%s", kt_last_error());
            reason = p->rate_limited          ? R_RATE
                     : st == KT_ERR_NOT_FOUND ? R_UPSTREAM_NOT_FOUND
                     : st == KT_ERR_VERIFY    ? R_UPSTREAM_UNVERIFIED
                                              : R_UPSTREAM_UNAVAILABLE;
            code = st == KT_ERR_NOT_FOUND ? 404 : st == KT_ERR_VERIFY ? 502 : 503;
        }
    } else if (l != S_SERVED && !why[0]) {
        snprintf(why, sizeof why, "not cached (%s)", not_fetched(p));
    }
    /* no answer for this raw TCB (upstream's, in lazy mode): the best of the platform's
     * certificates held, selected as PCCS does */
    char sel[300] = "";
    if (l != S_SERVED && q.id.kind == KT_PCS_PCK_CERT && !no_root) {
        if (select_held(p, &q, now, r, sel, sizeof sel))
            l = S_SERVED;
        else if (sel[0] && (reason == R_NOT_CACHED || reason == R_UPSTREAM_NOT_FOUND)) {
            snprintf(why, sizeof why, "%s", sel);
            reason = R_NOT_CACHED, code = 404;
        } else if (sel[0]) { /* upstream could not say; what is held does not fit either */
            size_t w = strlen(why);
            snprintf(why + w, sizeof why - w, "; of the certificates held: %s", sel);
        }
    }
    pthread_mutex_unlock(&p->fetch);
    if (l == S_SERVED) return;
    if (try_grace(p, &q, now, r)) return;
    char msg[800], when[24];
    if (expired_at) {
        iso(expired_at, when);
        reason = R_EXPIRED, code = 503;
        snprintf(msg, sizeof msg,
                 "%s: the cached copy expired at %s and no fresh one could be had: %s", q.key, when,
                 why);
    } else {
        snprintf(msg, sizeof msg, "%s: %s", q.key, why);
    }
    refuse(p, reason, q.key, msg);
    char shown[1024];
    reply_text(r, code, kt_escape_text(msg, strlen(msg), shown, sizeof shown));
}

void kt_coll_proxy_handle(void *ctx, const char *method, const char *raw_uri, kt_http_reply *r)
{
    kt_coll_proxy *p = ctx;
    handle(p, method, raw_uri, r);
    request_id(p, r);
}

bool kt_coll_proxy_ready(void *ctx)
{
    kt_coll_proxy *p = ctx;
    if (!strcmp(p->cfg.mode, "lazy")) return true;
    time_t now = kt_coll_now(p);
    pthread_rwlock_rdlock(&p->lock);
    coll_entry *e = coll_find(p, "rootcacrl");
    bool ok = e && now <= e->v.valid_to;
    pthread_rwlock_unlock(&p->lock);
    return ok;
}

void kt_coll_proxy_metrics(void *ctx, kt_buf *out)
{
    kt_coll_proxy *p = ctx;
    kt_metric(out, "kubetee_collateral_hits_total", "counter",
              "requests served from the verified cache", NULL, (double)atomic_load(&p->hits));
    kt_metric(out, "kubetee_collateral_misses_total", "counter",
              "requests the cache could not serve at once", NULL, (double)atomic_load(&p->misses));
    kt_metric(out, "kubetee_collateral_upstream_fetches_total", "counter", "fetches from upstream",
              NULL, (double)atomic_load(&p->fetches));
    kt_metric(out, "kubetee_collateral_upstream_errors_total", "counter",
              "upstream fetches that failed or sent collateral that does not verify", NULL,
              (double)atomic_load(&p->upstream_errors));
    kt_metric(out, "kubetee_collateral_refreshes_total", "counter",
              "items fetched again ahead of their expiry", NULL,
              (double)atomic_load(&p->refreshes));
    kt_metric(out, "kubetee_collateral_grace_served_total", "counter",
              "responses served past an item's validity, inside the grace window", NULL,
              (double)atomic_load(&p->grace_served));
    for (unsigned i = 0; i < R_COUNT; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"%s\"", reason_names[i]);
        kt_metric(out, "kubetee_collateral_refusals_total", "counter",
                  i ? NULL : "requests refused, by reason", labels,
                  (double)atomic_load(&p->refusals[i]));
    }
    time_t now = kt_coll_now(p);
    pthread_rwlock_rdlock(&p->lock);
    kt_metric(out, "kubetee_collateral_items", "gauge", "verified items cached", NULL,
              (double)p->count);
    for (size_t i = 0; i < p->count; i++) {
        char labels[96];
        snprintf(labels, sizeof labels, "item=\"%s\"", p->entries[i]->q.key);
        kt_metric(out, "kubetee_collateral_age_seconds", "gauge",
                  i ? NULL : "seconds since the item was issued", labels,
                  (double)(now - p->entries[i]->v.issued));
    }
    for (size_t i = 0; i < p->count; i++) {
        char labels[96];
        snprintf(labels, sizeof labels, "item=\"%s\"", p->entries[i]->q.key);
        kt_metric(out, "kubetee_collateral_next_update_margin_seconds", "gauge",
                  i ? NULL
                    : "seconds until the item stops verifying (its nextUpdate, or an "
                      "earlier end of what it was judged by)",
                  labels, (double)(p->entries[i]->v.valid_to - now));
    }
    pthread_rwlock_unlock(&p->lock);
}

void kt_coll_proxy_refresh(kt_coll_proxy *p)
{
    if (!strcmp(p->cfg.mode, "offline") || p->cfg.refresh <= 0) return;
    time_t now = kt_coll_now(p);
    char(*keys)[KT_COLL_KEY_MAX] = NULL;
    size_t n = 0;
    pthread_rwlock_rdlock(&p->lock);
    keys = calloc(p->count ? p->count : 1, sizeof *keys);
    for (size_t i = 0; keys && i < p->count; i++)
        if (p->entries[i]->v.valid_to - now <= p->cfg.refresh)
            memcpy(keys[n++], p->entries[i]->q.key, KT_COLL_KEY_MAX);
    pthread_rwlock_unlock(&p->lock);
    /* the root CA CRL first: it judges the others */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            if ((strcmp(keys[i], "rootcacrl") == 0) != (pass == 0)) continue;
            kt_coll_query q;
            long code = 0;
            if (kt_coll_key_parse(keys[i], &q)) continue;
            pthread_mutex_lock(&p->fetch);
            if (coll_fetch_upstream(p, &q, &code) == KT_OK) {
                atomic_fetch_add(&p->refreshes, 1);
                kt_log(KT_LOG_INFO, "collateral.refreshed", "item", keys[i], NULL);
            }
            pthread_mutex_unlock(&p->fetch);
        }
    free(keys);
}

/* The CRLs first, as they judge the other items: the root CA CRL, then the PCK CRLs. */
const char *const coll_judges[3] = {"rootcacrl", "pckcrl-processor", "pckcrl-platform"};

bool coll_is_judge(const char *key)
{
    for (size_t i = 0; i < sizeof coll_judges / sizeof coll_judges[0]; i++)
        if (!strcmp(key, coll_judges[i])) return true;
    return false;
}

/* A stored registration: "held " or "queued ", then the registration's JSON. */
static void load_platform(kt_coll_proxy *p, const kt_coll_query *q)
{
    kt_buf rec = {0};
    kt_coll_record r;
    kt_coll_platform reg = {0};
    bool ok = p->store->ops->get(p->store, q->key, &rec) == KT_OK;
    const uint8_t *d = rec.data;
    size_t n = rec.len, skip = 0;
    ok = ok && kt_coll_record_next(&d, &n, &r) == KT_OK && n == 0 && r.chain_len == 0;
    bool queued = ok && r.body_len > 7 && !memcmp(r.body, "queued ", 7);
    if (ok) skip = queued ? 7 : r.body_len > 5 && !memcmp(r.body, "held ", 5) ? 5 : 0;
    ok = ok && skip &&
         kt_coll_platform_parse(r.body + skip, r.body_len - skip, true, &reg) == KT_OK &&
         !memcmp(reg.qeid, q->qeid, 16) && !memcmp(reg.pceid, q->pceid, 2) &&
         coll_platform_set(p, &reg, queued) == KT_OK;
    kt_coll_platform_clear(&reg);
    kt_buf_free(&rec);
    kt_clear_error();
    if (!ok) {
        atomic_fetch_add(&p->refusals[R_STORE_UNVERIFIED], 1);
        kt_log(KT_LOG_WARN, "collateral.store_item_refused", "item", q->key, NULL);
    }
}

static void load_one(kt_coll_proxy *p, const char *key)
{
    kt_coll_query q;
    kt_buf rec = {0};
    bool held = p->store->ops->get(p->store, key, &rec) == KT_OK;
    kt_buf_free(&rec);
    kt_clear_error();
    if (held && kt_coll_key_parse(key, &q) == KT_OK && q.route == KT_COLL_PLATFORM) {
        load_platform(p, &q);
        return;
    }
    if (!held) return;
    if (kt_coll_key_parse(key, &q) == KT_OK && !reverify(p, &q, true)) {
        atomic_fetch_add(&p->refusals[R_STORE_UNVERIFIED], 1);
        kt_log(KT_LOG_WARN, "collateral.store_item_refused", "item", key, NULL);
    }
}

static void load_rest(void *arg, const char *key)
{
    if (!coll_is_judge(key)) load_one(arg, key);
}

kt_status kt_coll_proxy_new(const kt_coll_config *c, kt_coll_proxy **out)
{
    kt_coll_proxy *p = calloc(1, sizeof *p);
    if (!p) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    p->cfg = *c;
    pthread_rwlock_init(&p->lock, NULL);
    pthread_mutex_init(&p->fetch, NULL);
    kt_buf root = {0};
    kt_status st = c->root_ca[0] ? kt_file_read(c->root_ca, 1 << 16, &root)
                                 : kt_fail(KT_ERR_INVALID_ARGUMENT, "root_ca is required");
    if (!st) st = kt_pcs_trust_new((const char *)root.data, root.len, &p->trust);
    p->root_pem = root;
    if (!st)
        st = !strcmp(c->storage, "sqlite") ? kt_coll_store_sqlite(c->storage_file, &p->store)
                                           : kt_coll_store_dir(c->storage_dir, &p->store);
    if (!st) st = kt_random(p->rid_prefix, sizeof p->rid_prefix);
    p->tokens = c->upstream_rate;
    clock_gettime(CLOCK_MONOTONIC, &p->filled);
    if (!st && !strcmp(c->upstream_kind, "pcs") && !c->root_crl_url[0] &&
        kt_crl_distribution_point(c->root_ca, p->cfg.root_crl_url, sizeof p->cfg.root_crl_url))
        st = kt_fail_context(KT_ERR_MALFORMED, "pcs upstream: no root_crl_url");
    if (st) {
        kt_coll_proxy_free(p);
        return st;
    }
    if (kt_pcs_trust_is_simulated(p->trust))
        kt_log(KT_LOG_WARN, "collateral.simulated_root", "root_ca", c->root_ca, NULL);
    if (c->now) kt_log(KT_LOG_WARN, "collateral.fixed_clock", "note", "testing only", NULL);
    pthread_mutex_lock(&p->fetch);
    for (size_t i = 0; i < sizeof coll_judges / sizeof coll_judges[0]; i++)
        load_one(p, coll_judges[i]);
    p->store->ops->list(p->store, load_rest, p);
    pthread_mutex_unlock(&p->fetch);
    char n[24];
    snprintf(n, sizeof n, "%zu", p->count);
    kt_log(KT_LOG_INFO, "collateral.loaded", "items", n, "storage",
           !strcmp(c->storage, "sqlite") ? c->storage_file : c->storage_dir, NULL);
    *out = p;
    return KT_OK;
}

/* Verifies a PCK certificate (fetching its CA's PCK CRL when needed and allowed): v says
 * what it names. Under p->fetch. */
static kt_status check_pck(kt_coll_proxy *p, const char *leaf, size_t leaf_len, const char *chain,
                           size_t chain_len, kt_pcs_validity *v)
{
    kt_pcs_item_id id = {.kind = KT_PCS_PCK_CERT};
    time_t now = kt_coll_now(p);
    kt_status st =
        kt_pcs_item_check(p->trust, &id, (const uint8_t *)leaf, leaf_len, chain, chain_len, now, v);
    if (st == KT_ERR_STATE && ensure_pck_crl(p, v->pck.platform_ca, now) == KT_OK)
        st = kt_pcs_item_check(p->trust, &id, (const uint8_t *)leaf, leaf_len, chain, chain_len,
                               now, v);
    return st;
}

/* Verifies a platform's PCK certificate and holds it under the certificate's own TCB.
 * Under p->fetch. */
static kt_status register_pck(kt_coll_proxy *p, const uint8_t qeid[16], const char *leaf,
                              size_t leaf_len, const char *chain, size_t chain_len, bool store,
                              kt_pcs_validity *v)
{
    /* what the certificate says (its TCB, PCE ID), once it verifies, names the item */
    kt_status st = check_pck(p, leaf, leaf_len, chain, chain_len, v);
    kt_coll_query q;
    if (!st) {
        char uri[256], qe[33], cpusvn[33], pcesvn[5], pceid[5];
        uint8_t svn[2] = {(uint8_t)v->pck.pcesvn, (uint8_t)(v->pck.pcesvn >> 8)};
        kt_hex_encode(qeid, 16, qe, sizeof qe);
        kt_hex_encode(v->pck.cpusvn, 16, cpusvn, sizeof cpusvn);
        kt_hex_encode(svn, 2, pcesvn, sizeof pcesvn);
        kt_hex_encode(v->pck.pceid, 2, pceid, sizeof pceid);
        int n = snprintf(uri, sizeof uri,
                         "/sgx/certification/v4/pckcert?qeid=%s&cpusvn=%s&pcesvn=%s&pceid=%s", qe,
                         cpusvn, pcesvn, pceid);
        st = kt_coll_query_parse(uri, (size_t)n, &q);
    }
    if (!st)
        st = coll_admit(p, &q, (const uint8_t *)chain, chain_len, (const uint8_t *)leaf, leaf_len,
                        store);
    if (!st && store) kt_log(KT_LOG_INFO, "collateral.platform_registered", "item", q.key, NULL);
    return st;
}

kt_status kt_coll_proxy_register_pck(kt_coll_proxy *p, const uint8_t qeid[16], const char *leaf,
                                     size_t leaf_len, const char *chain, size_t chain_len,
                                     bool store)
{
    kt_pcs_validity v;
    pthread_mutex_lock(&p->fetch);
    kt_status st = register_pck(p, qeid, leaf, leaf_len, chain, chain_len, store, &v);
    pthread_mutex_unlock(&p->fetch);
    return st;
}

/* A platform's certificates as Intel PCS lists them (pckcerts), under one issuer chain:
 * every entry verified, its tcbm matched to its certificate's TCB, then all held; one bad
 * entry holds none ("Not available" entries are skipped). Under p->fetch. */
kt_status coll_hold_pckcerts(kt_coll_proxy *p, const uint8_t qeid[16], const kt_coll_pckcert *certs,
                             size_t n, const kt_buf *chain, bool store)
{
    kt_status st = KT_OK;
    size_t held = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; !st && i < n; i++) {
            if (!certs[i].pem.len) continue; /* "Not available" */
            kt_pcs_validity v;
            const char *pem = (const char *)certs[i].pem.data;
            st = pass ? register_pck(p, qeid, pem, certs[i].pem.len, (const char *)chain->data,
                                     chain->len, store, &v)
                      : check_pck(p, pem, certs[i].pem.len, (const char *)chain->data, chain->len,
                                  &v);
            uint8_t svn[2] = {(uint8_t)v.pck.pcesvn, (uint8_t)(v.pck.pcesvn >> 8)};
            if (!st &&
                (memcmp(v.pck.cpusvn, certs[i].tcbm, 16) || memcmp(svn, certs[i].tcbm + 16, 2)))
                st = kt_fail(KT_ERR_VERIFY, "its tcbm is not its certificate's TCB");
            if (st) st = kt_fail_context(KT_ERR_VERIFY, "pckcerts entry %zu", i);
            held += pass;
        }
    if (!st && !held) st = kt_fail(KT_ERR_NOT_FOUND, "pckcerts lists no certificate");
    return st;
}

/* Intel PCS's pckcerts for the platform, by its encrypted PPID, or its platform manifest
 * (POSTed, as Intel PCS takes a multi-package platform's); all held. Under p->fetch. */
kt_status coll_fetch_pckcerts(kt_coll_proxy *p, const kt_coll_platform *pl, const char *pceid)
{
    char url[2048];
    const char *base = p->cfg.upstream_url;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    kt_buf body = {0}, chain = {0}, json = {0};
    kt_status st = KT_OK;
    if (pl->manifest.len) {
        snprintf(url, sizeof url, "%.*s/sgx/certification/v4/pckcerts", (int)bl, base);
        static const char head[] = "{\"platformManifest\":\"";
        char tail[40];
        int tn = snprintf(tail, sizeof tail, "\",\"pceid\":\"%s\"}", pceid);
        st = kt_buf_append(&json, head, sizeof head - 1);
        if (!st) st = kt_buf_append(&json, pl->manifest.data, pl->manifest.len);
        if (!st) st = kt_buf_append(&json, tail, (size_t)tn + 1); /* with its NUL */
    } else {
        snprintf(url, sizeof url, "%.*s/sgx/certification/v4/pckcerts?encrypted_ppid=%s&pceid=%s",
                 (int)bl, base, pl->ppid, pceid);
    }
    long code = 0;
    atomic_fetch_add(&p->fetches, 1);
    if (!st)
        st = kt_pcs_post(url, p->cfg.api_key[0] ? p->cfg.api_key : NULL,
                         json.len ? (const char *)json.data : NULL,
                         "SGX-PCK-Certificate-Issuer-Chain", &body, &chain, &code);
    kt_buf_free(&json);
    if (!st && code != 200)
        st = kt_fail(code == 404 ? KT_ERR_NOT_FOUND : KT_ERR_UNAVAILABLE,
                     "upstream answered HTTP %ld to pckcerts", code);
    if (!st && !chain.len)
        st = kt_fail(KT_ERR_VERIFY, "upstream's pckcerts came without an issuer chain");
    kt_coll_pckcert *certs = NULL;
    size_t n = 0;
    if (!st && (st = kt_coll_pckcerts_parse(body.data, body.len, &certs, &n)))
        st = kt_fail_context(KT_ERR_VERIFY, "upstream's pckcerts");
    if (!st && (st = coll_hold_pckcerts(p, pl->qeid, certs, n, &chain, true)))
        st = kt_fail_context(st, "upstream's pckcerts");
    kt_coll_pckcerts_free(certs, n);
    if (st) atomic_fetch_add(&p->upstream_errors, 1);
    kt_buf_free(&body);
    kt_buf_free(&chain);
    return st;
}

/* Fetches an item unless one valid now is held. Under p->fetch. */
static kt_status ensure_item(kt_coll_proxy *p, const char *uri, time_t now)
{
    kt_coll_query q;
    kt_status st = kt_coll_query_parse(uri, strlen(uri), &q);
    if (st) return st;
    pthread_rwlock_rdlock(&p->lock);
    coll_entry *e = coll_find(p, q.key);
    bool ok = e && now >= e->v.issued && now <= e->v.valid_to;
    pthread_rwlock_unlock(&p->lock);
    long code = 0;
    return ok ? KT_OK : coll_fetch_upstream(p, &q, &code);
}

kt_status kt_coll_proxy_register(kt_coll_proxy *p, const kt_coll_platform *pl)
{
    /* offline: queued for an admin, who lists it (GET /platforms) and brings its
     * collateral (PUT /platformcollateral), as PCCS's offline mode does */
    if (!strcmp(p->cfg.mode, "offline")) return kt_coll_proxy_queue(p, pl);
    char qe[33], cpusvn[33], pcesvn[5], pceid[5], uri[1200], fmspc[13];
    kt_hex_encode(pl->qeid, 16, qe, sizeof qe);
    kt_hex_encode(pl->cpusvn, 16, cpusvn, sizeof cpusvn);
    kt_hex_encode(pl->pcesvn, 2, pcesvn, sizeof pcesvn);
    kt_hex_encode(pl->pceid, 2, pceid, sizeof pceid);
    time_t now = kt_coll_now(p);
    pthread_mutex_lock(&p->fetch);
    p->registering = true;
    kt_status st = coll_ensure_root(p, now);
    /* the platform's certificates: all of them from Intel PCS; another PCCS selects one */
    if (!st && !strcmp(p->cfg.upstream_kind, "pcs")) {
        st = coll_fetch_pckcerts(p, pl, pceid);
    } else if (!st) {
        kt_coll_query q;
        long code = 0;
        int n =
            snprintf(uri, sizeof uri,
                     "/sgx/certification/v4/pckcert?qeid=%s&cpusvn=%s&pcesvn=%s&pceid=%s"
                     "%s%s",
                     qe, cpusvn, pcesvn, pceid, pl->ppid[0] ? "&encrypted_ppid=" : "", pl->ppid);
        st = kt_coll_query_parse(uri, (size_t)n, &q);
        if (!st) st = coll_fetch_upstream(p, &q, &code);
    }
    /* the collateral a quote from it needs: its FMSPC's TCB Info, the QE and QvE identities */
    bool found = false;
    pthread_rwlock_rdlock(&p->lock);
    for (size_t i = 0; !st && !found && i < p->count; i++) {
        const coll_entry *e = p->entries[i];
        if (e->q.id.kind == KT_PCS_PCK_CERT && !memcmp(e->q.qeid, pl->qeid, 16) &&
            !memcmp(e->q.pceid, pl->pceid, 2)) {
            kt_hex_encode(e->v.pck.fmspc, 6, fmspc, sizeof fmspc);
            found = true;
        }
    }
    pthread_rwlock_unlock(&p->lock);
    if (!st && found) {
        snprintf(uri, sizeof uri, "/sgx/certification/v4/tcb?fmspc=%s", fmspc);
        st = ensure_item(p, uri, now);
    }
    if (!st) st = ensure_item(p, "/sgx/certification/v4/qe/identity", now);
    /* the QvE's identity only matters to QvE-based verifiers: its absence is logged */
    if (!st && ensure_item(p, "/sgx/certification/v4/qve/identity", now)) {
        char shown[512];
        kt_log(KT_LOG_WARN, "collateral.registration_incomplete", "item", "sgx-qve", "detail",
               kt_escape_text(kt_last_error(), strlen(kt_last_error()), shown, sizeof shown), NULL);
        kt_clear_error();
    }
    /* found by its encrypted PPID from now on (pckcerts), after a restart too */
    if (!st) st = coll_platform_keep(p, pl, false);
    p->registering = false;
    pthread_mutex_unlock(&p->fetch);
    if (!st)
        kt_log(KT_LOG_INFO, "collateral.platform_registered", "qe_id", qe, "pce_id", pceid, NULL);
    if (st) { /* queued, so an admin sees it; the reason stays the answer */
        char why[600];
        kt_status was = st;
        snprintf(why, sizeof why, "%s", kt_last_error());
        kt_coll_proxy_queue(p, pl);
        st = kt_fail(was, "%s", why);
    }
    return st;
}

kt_status kt_coll_proxy_export(kt_coll_proxy *p, kt_buf *out)
{
    kt_status st = kt_buf_append(out, KT_COLL_EXPORT_MAGIC, sizeof KT_COLL_EXPORT_MAGIC - 1);
    pthread_rwlock_rdlock(&p->lock);
    /* the CRLs first, so an import can judge the rest as it reads them */
    for (size_t pass = 0; pass <= sizeof coll_judges / sizeof coll_judges[0] && !st; pass++)
        for (size_t i = 0; i < p->count && !st; i++) {
            coll_entry *e = p->entries[i];
            bool mine = pass < sizeof coll_judges / sizeof coll_judges[0]
                            ? !strcmp(e->q.key, coll_judges[pass])
                            : !coll_is_judge(e->q.key);
            if (!mine) continue;
            st = kt_coll_record_write(out, e->q.key, e->verified_at, e->chain.data, e->chain.len,
                                      e->body.data, e->body.len);
        }
    pthread_rwlock_unlock(&p->lock);
    return st;
}

void kt_coll_proxy_free(kt_coll_proxy *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->count; i++)
        entry_free(p->entries[i]);
    free(p->entries);
    for (size_t i = 0; i < p->platform_count; i++)
        kt_buf_free(&p->platforms[i].reg.manifest);
    free(p->platforms);
    kt_buf_free(&p->root_pem);
    OPENSSL_cleanse(&p->cfg, sizeof p->cfg); /* the API key and tokens */
    if (p->store) p->store->ops->free(p->store);
    kt_pcs_trust_free(p->trust);
    pthread_rwlock_destroy(&p->lock);
    pthread_mutex_destroy(&p->fetch);
    free(p);
}

const kt_coll_config *kt_coll_proxy_config(const kt_coll_proxy *p)
{
    return &p->cfg;
}
