/* The etcd store's namespace at open: refused when it lies inside another kt_store
 * namespace or holds one, as the two would share keys (the outer's "b/k" is the inner
 * "b"'s "k", and the inner's head breaks the outer's lists); the head put when missing.
 *
 * One Txn, so two stores opened at once cannot both pass: compare that the head is
 * missing, that every enclosing namespace's head ("x/" and "x/y/" for "x/y/z") is, and that
 * the namespace holds no key at all; then put the head. etcd stops at the first compare
 * that fails, so the last one, which reads what the range holds, only runs for a namespace
 * without its head: a new one (empty) or one another client left without it. Failing, it
 * reads those heads (exact keys) and the namespace's first key (limit 1), no more: a key
 * there that ends in '/', which no store key does, is the head of a namespace inside. */
#include "etcd_internal.h"

#include <string.h>

#define ANCESTORS_MAX (KT_STORE_KEY_MAX / 2 + 1) /* '/'s of a namespace, at most */
#define READS_MAX (ANCESTORS_MAX + 2)            /* the head, the ancestors', the first key */
#define TRIES 3 /* the compare failed yet nothing was found: a key came and went between */

typedef struct {
    Etcdserverpb__Compare cmp[READS_MAX], *cmps[READS_MAX];
    Etcdserverpb__RangeRequest read[READS_MAX];
    Etcdserverpb__RequestOp op[READS_MAX], *ops[READS_MAX], put_op, *puts[1];
    Etcdserverpb__PutRequest put;
    char end[KT_STORE_KEY_MAX + 2];
    /* compares, and reads on failure: [0] the head, [1..n-2] ancestors', [n-1] the first key */
    size_t n;
} claim;

static void absent(claim *c, ProtobufCBinaryData key, bool range)
{
    size_t i = c->n++;
    Etcdserverpb__Compare *cmp = &c->cmp[i];
    Etcdserverpb__RangeRequest *r = &c->read[i];
    *cmp = (Etcdserverpb__Compare)ETCDSERVERPB__COMPARE__INIT;
    cmp->key = key;
    cmp->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
    cmp->result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    cmp->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
    *r = (Etcdserverpb__RangeRequest)ETCDSERVERPB__RANGE_REQUEST__INIT;
    r->key = key;
    r->keys_only = true;
    if (range) {
        cmp->range_end = r->range_end = (ProtobufCBinaryData){key.len, (uint8_t *)c->end};
        r->limit = 1;
    }
    c->op[i] = (Etcdserverpb__RequestOp)ETCDSERVERPB__REQUEST_OP__INIT;
    c->op[i].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
    c->op[i].request_range = r;
    c->cmps[i] = cmp;
    c->ops[i] = &c->op[i];
}

static void build(const etcd_store *e, claim *c)
{
    memset(c, 0, sizeof *c);
    ProtobufCBinaryData head = {e->ns_len, (uint8_t *)e->ns};
    absent(c, head, false);
    for (size_t j = 0; j + 1 < e->ns_len; j++)
        if (e->ns[j] == '/') absent(c, (ProtobufCBinaryData){j + 1, (uint8_t *)e->ns}, false);
    memcpy(c->end, e->ns, e->ns_len);
    c->end[e->ns_len - 1]++; /* "<namespace>0": past every key under "<namespace>/" */
    absent(c, head, true);
    c->put = (Etcdserverpb__PutRequest)ETCDSERVERPB__PUT_REQUEST__INIT;
    c->put.key = head;
    c->put.value = (ProtobufCBinaryData){sizeof ETCD_HEAD_VALUE - 1, (uint8_t *)ETCD_HEAD_VALUE};
    c->put_op = (Etcdserverpb__RequestOp)ETCDSERVERPB__REQUEST_OP__INIT;
    c->put_op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    c->put_op.request_put = &c->put;
    c->puts[0] = &c->put_op;
}

/* A failed claim's reads: KT_OK (the namespace is there), KT_ERR_EXISTS naming the
 * namespace around or inside, or KT_ERR_STATE (nothing found: try again). */
static kt_status judge(etcd_store *e, const claim *c, const Etcdserverpb__TxnResponse *res,
                       bool *put_back)
{
    *put_back = false;
    bool whole = res->n_responses == c->n;
    for (size_t i = 0; whole && i < c->n; i++)
        whole = etcd_txn_range(res, i) != NULL;
    if (!whole)
        return kt_fail(KT_ERR_MALFORMED, "%s: a failed Txn without the reads it asked for",
                       e->where);
    int ours = (int)e->ns_len - 1;
    for (size_t i = 1; i + 1 < c->n; i++)
        if (etcd_txn_range(res, i)->n_kvs)
            return kt_fail(
                KT_ERR_EXISTS,
                "%s: the namespace '%.*s' lies inside the kt_store namespace '%.*s' (its head, the "
                "etcd key '%.*s', exists): the two would share keys; choose one outside it",
                e->where, ours, e->ns, (int)c->read[i].key.len - 1, e->ns, (int)c->read[i].key.len,
                e->ns);
    if (etcd_txn_range(res, 0)->n_kvs) return KT_OK; /* the namespace is there */
    const Etcdserverpb__RangeResponse *first = etcd_txn_range(res, c->n - 1);
    if (!first->n_kvs)
        return kt_fail(KT_ERR_STATE, "%s: the namespace changed under the open", e->where);
    ProtobufCBinaryData k = first->kvs[0]->key;
    if (k.len > e->ns_len && k.data[k.len - 1] == '/') {
        char shown[4 * 64 + 1];
        kt_escape(k.data, k.len - 1 < 64 ? k.len - 1 : 64, shown, sizeof shown);
        return kt_fail(
            KT_ERR_EXISTS,
            "%s: the namespace '%.*s' holds the kt_store namespace '%s' (its head, the etcd key "
            "'%s/', exists): the two would share keys; choose one that holds none",
            e->where, ours, e->ns, shown, shown);
    }
    /* a namespace's own keys without its head (another client deleted it): put it back */
    *put_back = true;
    return KT_OK;
}

kt_status etcd_namespace_claim(etcd_store *e)
{
    claim c;
    build(e, &c);
    Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
    req.n_compare = c.n;
    req.compare = c.cmps;
    req.n_success = 1;
    req.success = c.puts;
    req.n_failure = c.n;
    req.failure = c.ops;
    kt_status st = KT_OK;
    for (int t = 0; t < TRIES; t++) {
        Etcdserverpb__TxnResponse res = ETCDSERVERPB__TXN_RESPONSE__INIT;
        bool put_back = false;
        st = etcd_call(e, "/etcdserverpb.KV/Txn", &req, &res);
        if (!st && !res.succeeded) st = judge(e, &c, &res, &put_back);
        kt_message_clear(&res);
        if (!st && put_back) {
            Etcdserverpb__TxnResponse r2 = ETCDSERVERPB__TXN_RESPONSE__INIT;
            st = etcd_create(e, c.put.key, c.put.value, 0, etcd_call, &r2);
            kt_message_clear(&r2);
        }
        if (st == KT_ERR_DENIED && c.n > 2) /* etcd's RBAC: the enclosing heads are read too */
            return kt_fail_context(
                st,
                "%s: opening reads the namespace '%.*s' and the heads of those around it "
                "(the etcd keys '%.*s' and on): the role needs read on each",
                e->where, (int)e->ns_len - 1, e->ns, (int)c.read[1].key.len, e->ns);
        if (st != KT_ERR_STATE) return st;
    }
    return st;
}
