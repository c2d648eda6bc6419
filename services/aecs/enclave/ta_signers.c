/* The TA signer allow-list (F12, docs/aecs.md "TA signers"): which enclave signers' TAs
 * may create TA-bound secrets, and how many secrets and bytes each signer's TAs hold
 * together, so that no one who can sign an enclave fills AECS for everyone. An AECS admin
 * sets it (aecs.SetTaSigners); it is sealed in aecs/state and audited. Until it is set no
 * TA creates a TA-bound secret (a store from before it reads the same way). A TA's reads
 * and destroys of its own do not ask it.
 * What each signer holds is counted from the records themselves (each names its creator's
 * signer): once after the object table is (re)built, then kept with every create and
 * destroy under ae_lock, so a restart counts it again and nothing can drift. */
#include "aecs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char key[KT_STORE_KEY_MAX + 1];
    bool known; /* the creator's signer is known (else: an MRENCLAVE-bound record from before, or damaged) */
    uint8_t signer[32];
    uint16_t prod_id;
    uint64_t bytes;
} held;

static held *recs;
static size_t n_recs, cap_recs;
static bool counted;
static uint64_t counted_epoch;

/* the enclave is unloaded: the counts go with it */
__attribute__((destructor)) static void unloaded(void)
{
    free(recs);
    recs = NULL;
    n_recs = cap_recs = 0;
    counted = false;
}

static kt_status keep(const char *key, const uint8_t *signer, uint16_t prod_id, uint64_t bytes)
{
    if (n_recs == cap_recs) {
        size_t cap = cap_recs ? cap_recs * 2 : 64;
        held *r = realloc(recs, cap * sizeof *r);
        if (!r) return kt_fail(KT_ERR_NO_MEMORY, "TA signers: out of memory");
        recs = r, cap_recs = cap;
    }
    held *h = &recs[n_recs++];
    memset(h, 0, sizeof *h);
    snprintf(h->key, sizeof h->key, "%s", key);
    if (signer) {
        h->known = true;
        memcpy(h->signer, signer, 32);
    }
    h->prod_id = prod_id;
    h->bytes = bytes;
    return KT_OK;
}

/* The creator a record names: its creator_signer, or for an MRSIGNER-bound record from
 * before creators were kept, its owner "mrsigner:<hex>:<prodid>[:debug]". */
static bool creator_of(const ae_secret *s, uint8_t signer[32], uint16_t *prod_id)
{
    if (s->creator_signer.len == 32) {
        memcpy(signer, s->creator_signer.data, 32);
        *prod_id = (uint16_t)s->creator_prod_id;
        return true;
    }
    char hex[65] = "", rest[8] = "";
    uint64_t p;
    const char *o = s->owner ? s->owner : "";
    if (strncmp(o, "mrsigner:", 9) || strlen(o) < 9 + 64 + 2 || o[9 + 64] != ':') return false;
    memcpy(hex, o + 9, 64);
    size_t rl = strcspn(o + 9 + 65, ":");
    if (rl >= sizeof rest) return false;
    memcpy(rest, o + 9 + 65, rl);
    if (kt_hex_decode(hex, signer, 32) || kt_decimal_parse(rest, 65535, &p)) return false;
    *prod_id = (uint16_t)p;
    return true;
}

/* Every TA-bound record, counted once after the table was (re)built. One that does not
 * open counts against no signer (AECS's total still counts it). */
static kt_status count_all(void)
{
    if (counted && counted_epoch == ae_obj_epoch()) return KT_OK;
    counted = false;
    n_recs = 0;
    const char **keys;
    size_t n;
    kt_status st = ae_obj_keys("ta/", &keys, &n);
    for (size_t i = 0; i < n && !st; i++) {
        kt_buf b = {0};
        uint64_t v, bytes = 0;
        uint8_t signer[32];
        uint16_t prod = 0;
        bool known = false;
        ae_secret *s = NULL;
        if (ae_obj_get(keys[i], &b, &v) == KT_OK && (s = ae_unpack(&kubetee__aecs__v1__stored_secret__descriptor, &b))) {
            known = creator_of(s, signer, &prod);
            for (size_t k = 0; k < s->n_versions; k++) bytes += s->versions[k]->data.len;
        }
        kt_wipe(b.data, b.len);
        kt_buf_free(&b);
        st = keep(keys[i], known ? signer : NULL, prod, bytes);
    }
    if (!st) counted = true, counted_epoch = ae_obj_epoch();
    return st;
}

/* What the TAs of entry i hold now. */
static void usage(int i, uint64_t *secrets, uint64_t *bytes)
{
    *secrets = *bytes = 0;
    for (size_t r = 0; r < n_recs; r++)
        if (recs[r].known && ae_signer_find(ae.ta_signers, ae.n_ta_signers, recs[r].signer, recs[r].prod_id) == i)
            (*secrets)++, *bytes += recs[r].bytes;
}

kt_status ae_signer_room(const ae_caller *c, size_t bytes)
{
    const kt_report_body *e = &c->peer.enclave;
    char hex[65], name[72];
    if (!ae.n_ta_signers)
        return kt_fail(KT_ERR_DENIED, "no TA may create TA-bound secrets: the TA signer allow-list is empty until an "
                                      "AECS admin allows a signer (aecsadmin tasigners --allow)");
    int i = ae_signer_find(ae.ta_signers, ae.n_ta_signers, e->mrsigner, e->prodid);
    if (i < 0) {
        kt_hex_encode(e->mrsigner, 32, hex, sizeof hex);
        return kt_fail(KT_ERR_DENIED, "this TA's signer %s (product %u) is not on the TA signer allow-list: it may "
                                      "not create TA-bound secrets", hex, (unsigned)e->prodid);
    }
    kt_status st = count_all();
    if (st) return st;
    uint64_t n, used;
    const ae_ta_signer *s = &ae.ta_signers[i];
    usage(i, &n, &used);
    ae_signer_name(s, name);
    if (n + 1 > s->max_secrets)
        return kt_fail(KT_ERR_TOO_LARGE, "quota: the TAs of signer %s hold %llu TA-bound secrets, the most its "
                                         "allow-list entry gives is %u", name, (unsigned long long)n, s->max_secrets);
    if (used + bytes > s->max_bytes)
        return kt_fail(KT_ERR_TOO_LARGE, "quota: the TAs of signer %s hold %llu bytes of TA-bound secrets; %zu more "
                                         "is over the %llu its allow-list entry gives", name, (unsigned long long)used,
                       bytes, (unsigned long long)s->max_bytes);
    return KT_OK;
}

void ae_signer_note(const char *key, const ae_caller *c, size_t bytes)
{
    if (!counted || counted_epoch != ae_obj_epoch()) return; /* the next count finds it */
    if (keep(key, c->peer.enclave.mrsigner, c->peer.enclave.prodid, bytes)) counted = false;
}

void ae_signer_forget(const char *key)
{
    for (size_t r = 0; r < n_recs; r++)
        if (!strcmp(recs[r].key, key)) {
            recs[r] = recs[--n_recs];
            return;
        }
}

kt_status ae_signers_load(const Kubetee__Aecs__V1__StoredState *s)
{
    kt_status st = ae_signers_from_msg(s->ta_signers, s->n_ta_signers, 0, ae.ta_signers, &ae.n_ta_signers);
    return st ? kt_fail_context(KT_ERR_VERIFY, "aecs/state: the TA signer allow-list") : KT_OK;
}

kt_status ae_signers_to_state(Kubetee__Aecs__V1__StoredState *s, Kubetee__Aecs__V1__TaSigner *msgs,
                              Kubetee__Aecs__V1__TaSigner **ptrs)
{
    for (size_t i = 0; i < ae.n_ta_signers; i++) {
        const ae_ta_signer *e = &ae.ta_signers[i];
        kubetee__aecs__v1__ta_signer__init(&msgs[i]);
        msgs[i].mrsigner.data = (uint8_t *)e->mrsigner;
        msgs[i].mrsigner.len = 32;
        msgs[i].check_prod_id = e->check_prod_id;
        msgs[i].prod_id = e->prod_id;
        msgs[i].max_secrets = e->max_secrets;
        msgs[i].max_bytes = e->max_bytes;
        ptrs[i] = &msgs[i];
    }
    s->ta_signers = ptrs;
    s->n_ta_signers = ae.n_ta_signers;
    return KT_OK;
}

/* The audit line's target: "none", or each entry as <mrsigner>[:<prodid>]=<secrets>/<bytes>. */
static kt_status describe(const ae_ta_signer *list, size_t n, kt_buf *out)
{
    kt_status st = n ? KT_OK : kt_buf_printf(out, "none");
    for (size_t i = 0; i < n && !st; i++) {
        char name[72];
        ae_signer_name(&list[i], name);
        st = kt_buf_printf(out, "%s%s=%u/%llu", i ? "," : "", name, list[i].max_secrets,
                           (unsigned long long)list[i].max_bytes);
    }
    return st ? st : kt_buf_append(out, "", 1);
}

static kt_status SetTaSigners(const Kubetee__Aecs__V1__SetTaSignersRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rs;
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    static ae_ta_signer list[AE_MAX_TA_SIGNERS], old[AE_MAX_TA_SIGNERS]; /* under ae_lock */
    size_t n = 0, n_old = ae.n_ta_signers;
    kt_buf target = {0};
    if (!(st = ae_admin_only(&c))) st = ae_signers_from_msg(rq->signers, rq->n_signers, ae.max_ta_total, list, &n);
    if (!st) st = describe(list, n, &target);
    if (!st) {
        memcpy(old, ae.ta_signers, sizeof old);
        memcpy(ae.ta_signers, list, n * sizeof *list);
        ae.n_ta_signers = n;
        if ((st = ae_state_save())) { /* not sealed: not in force */
            memcpy(ae.ta_signers, old, sizeof old);
            ae.n_ta_signers = n_old;
        }
    }
    ae_audit(&c, "SetTaSigners", target.len ? (const char *)target.data : "", st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    kt_buf_free(&target);
    return st;
}
KT_REMOTE_FUNCTION(SetTaSigners, "aecs.SetTaSigners", Kubetee__Aecs__V1__SetTaSignersRequest,
                   kubetee__aecs__v1__set_ta_signers_request, Kubetee__Aecs__V1__Done, kubetee__aecs__v1__done)

static kt_status list_body(Kubetee__Aecs__V1__ListTaSignersResponse *rs)
{
    kt_status st = count_all();
    if (st) return st;
    rs->signers = kt_call_alloc((ae.n_ta_signers + 1) * sizeof *rs->signers);
    if (!rs->signers) return KT_ERR_NO_MEMORY;
    for (size_t i = 0; i < ae.n_ta_signers && !st; i++) {
        const ae_ta_signer *e = &ae.ta_signers[i];
        Kubetee__Aecs__V1__TaSignerUsage *u = kt_call_alloc(sizeof *u);
        Kubetee__Aecs__V1__TaSigner *m = kt_call_alloc(sizeof *m);
        if (!u || !m) return KT_ERR_NO_MEMORY;
        kubetee__aecs__v1__ta_signer_usage__init(u);
        kubetee__aecs__v1__ta_signer__init(m);
        st = kt_call_bytes(&m->mrsigner, e->mrsigner, 32);
        m->check_prod_id = e->check_prod_id;
        m->prod_id = e->prod_id;
        m->max_secrets = e->max_secrets;
        m->max_bytes = e->max_bytes;
        uint64_t n, bytes;
        usage((int)i, &n, &bytes);
        u->signer = m;
        u->secrets = (uint32_t)n;
        u->bytes = bytes;
        rs->signers[rs->n_signers++] = u;
    }
    for (size_t r = 0; r < n_recs; r++)
        if (!recs[r].known || ae_signer_find(ae.ta_signers, ae.n_ta_signers, recs[r].signer, recs[r].prod_id) < 0)
            rs->unattributed++;
    return st;
}

static kt_status ListTaSigners(const Kubetee__Aecs__V1__ListTaSignersRequest *rq,
                               Kubetee__Aecs__V1__ListTaSignersResponse *rs)
{
    (void)rq;
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    if (!(st = ae_admin_only(&c))) st = list_body(rs);
    ae_audit(&c, "ListTaSigners", "", st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_REMOTE_FUNCTION(ListTaSigners, "aecs.ListTaSigners", Kubetee__Aecs__V1__ListTaSignersRequest,
                   kubetee__aecs__v1__list_ta_signers_request, Kubetee__Aecs__V1__ListTaSignersResponse,
                   kubetee__aecs__v1__list_ta_signers_response)
