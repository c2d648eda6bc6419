/* The etcd backend of kt_store: etcd's v3 gRPC API (proto/etcd_kv.proto) through kt_rpc.
 *
 *   put/create   Txn: compare version(key) == expected (and the lock's, when held); success put
 *                and the head, failure range (the key, and the lock key)
 *   delete       Txn: compare version(key) == expected (> 0 for any), as put; success delete and
 *                the head
 *   get          Range of the key
 *   list         Txn of two Ranges, one snapshot: [ns+prefix, ns+prefix+1) in key order
 *                (limit, continued after a key) and the head
 *   revision     Range of the head: its mod_revision
 *   changes      Watch of the namespace from after+1, up to the head's revision read first
 *   wait         Watch of the namespace from after+1 until the first event or the deadline
 *
 * Every kt_store key lives under "<namespace>/" in etcd. The namespace's head is the key
 * "<namespace>/" itself (no store key is empty): every write of this backend puts it in
 * the same Txn, so the head's mod_revision is the namespace's last change, and a watch of
 * the namespace alone is sure to see the event at that revision (etcd's progress
 * notifications are not ordered with events before 3.4.25/3.5.8, so they cannot say
 * when a watch has caught up). Revisions are etcd's: they count every change in the
 * cluster, so other tenants' changes leave gaps, but never move this namespace's
 * revision or wake its watches.
 *
 * With a holder named at open, the namespace has one holder: a lease and the lock key
 * "<namespace>/#lock" bound to it, which every write's Txn also compares (etcd_lock.c);
 * no try of a unary call, nor a round of the endpoints, goes past the lock's deadline.
 *
 * Endpoints: calls go to the one that answered last; one that is unavailable (or past a
 * call's deadline) hands the call to the next, logged once as store.etcd.failover. A
 * write whose first try may have landed before the member went away is read back when
 * its retry finds the key changed: the change is ours when the key holds our bytes. */
#include "etcd_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALL_MS 5000    /* one unary call */
#define WATCH_MS 10000  /* catching up a changes() watch */
#define SCAN_MAX 100000 /* events a changes() call reads before it returns */
#define ROUND_PAUSE_MS 300 /* between two rounds of the endpoints */
#define FAILOVER_MS 8000   /* rounds of the endpoints start until this long after the first try */
/* A watch answer is not bounded by the request: etcd sends the events of up to 1000
 * revisions at once, and may leave a catch-up unfragmented (it registers the fragment
 * flag after the watch). So watches take what etcd's own client takes; unary answers
 * stay under kt_rpc's 4 MiB (a list page is halved until it fits). */
#define WATCH_RECEIVE_MAX 0x7fffffffu

/* ---- keys ---- */

/* ns + key (+ suffix byte when extra is not 0) into out, as a bytes field. */
static ProtobufCBinaryData ekey(const etcd_store *e, const char *key, char extra,
                                char out[ETCD_KEY_MAX + 1])
{
    size_t n = strlen(key);
    memcpy(out, e->ns, e->ns_len);
    memcpy(out + e->ns_len, key, n);
    n += e->ns_len;
    if (extra) out[n++] = extra;
    out[n] = '\0';
    return (ProtobufCBinaryData){n, (uint8_t *)out};
}

/* The end of the range of keys that begin with p: p with its last byte + 1 (every byte
 * of a store key or namespace is ASCII, so no carry). */
static ProtobufCBinaryData range_end(ProtobufCBinaryData p, char out[ETCD_KEY_MAX + 1])
{
    memcpy(out, p.data, p.len);
    out[p.len - 1]++;
    return (ProtobufCBinaryData){p.len, (uint8_t *)out};
}

/* A key etcd returned, back to a store key: it must lie under the namespace and follow
 * the store's rules (something other than kt_store may have written it). */
static kt_status store_key(const etcd_store *e, ProtobufCBinaryData k,
                           char out[KT_STORE_KEY_MAX + 1])
{
    char esc[4 * 64 + 1];
    if (k.len <= e->ns_len || memcmp(k.data, e->ns, e->ns_len) ||
        kt_store_key_check(k.data + e->ns_len, k.len - e->ns_len)) {
        kt_escape(k.data, k.len < 64 ? k.len : 64, esc, sizeof esc);
        return kt_fail(KT_ERR_MALFORMED,
                       "%s: etcd holds key '%s' in the namespace, which kt_store never writes "
                       "(another client wrote it)",
                       e->where, esc);
    }
    memcpy(out, k.data + e->ns_len, k.len - e->ns_len);
    out[k.len - e->ns_len] = '\0';
    return KT_OK;
}

/* ---- calls, on the endpoints in turn ---- */

static bool elsewhere(kt_status st)
{
    return st == KT_ERR_UNAVAILABLE || st == KT_ERR_TIMEOUT;
}

/* f on the endpoint that answered last, then on each other in turn while they are
 * unavailable (a member down, or one that lost its leader: "leader changed"), round after
 * round with a pause between for up to FAILOVER_MS, as a cluster may be electing a
 * leader; the first that answers is used from then on. *retried (may be NULL): an earlier
 * try may have reached etcd before its endpoint failed. */
kt_status etcd_on_endpoints(etcd_store *e, etcd_try_fn f, void *ctx, bool *retried)
{
    return etcd_on_endpoints_within(e, f, ctx, retried, FAILOVER_MS);
}

kt_status etcd_on_endpoints_within(etcd_store *e, etcd_try_fn f, void *ctx, bool *retried,
                                   long budget_ms)
{
    size_t first = atomic_load(&e->cur);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kt_status st = KT_OK;
    if (retried) *retried = false;
    for (size_t t = 0;; t++) {
        size_t i = (first + t) % e->n;
        st = f(e, &e->ep[i], ctx);
        if (!elsewhere(st)) {
            if (t) atomic_store(&e->cur, i);
            return st;
        }
        if (e->n == 1) return st; /* one endpoint: its own reconnecting is the retry */
        if (t == 0) { /* once per call: the endpoint in use stopped answering */
            char why[300];
            const char *err = kt_last_error();
            kt_escape_text(err, strlen(err), why, sizeof why);
            kt_log(KT_LOG_WARN, "store.etcd.failover", "store", e->where, "from", e->ep[i].name, "to",
                   e->ep[(i + 1) % e->n].name, "reason", why, NULL);
        }
        if ((t + 1) % e->n == 0) { /* a round without an answer */
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (long)(now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
            if (ms + ROUND_PAUSE_MS > budget_ms) break;
            nanosleep(&(struct timespec){0, ROUND_PAUSE_MS * 1000000L}, NULL);
        }
        if (retried) *retried = true;
    }
    return kt_fail_context(st, "none of the %zu etcd endpoints answered in %ld ms; the last", e->n,
                           budget_ms);
}

typedef struct {
    const char *method;
    const void *req;
    void *res;
    bool login; /* the Authenticate call itself */
} unary_ctx;

static kt_status login(etcd_store *e);

/* With auth, a refused call is tried once more with a new token: an expired token and a
 * missing permission look alike (PERMISSION_DENIED or UNAUTHENTICATED). A call that went
 * out with no token at all is refused as INVALID_ARGUMENT "user name is empty": login()
 * drops every endpoint's token while it asks for a new one (etcd refuses Authenticate
 * itself with a stale token), so a call of another thread in that moment (the lock's
 * keeper, a watch, a request) goes out bare, and is a refusal to log in again for too. */
static bool refused(kt_status st)
{
    return st == KT_ERR_DENIED || (st == KT_ERR_INVALID_ARGUMENT &&
                                   strstr(kt_last_error(), "etcdserver: user name is empty"));
}

bool etcd_login_again(etcd_store *e, kt_status st)
{
    if (!e->auth || !refused(st)) return false;
    char why[512];
    snprintf(why, sizeof why, "%s", kt_last_error());
    if (!login(e)) return true;
    kt_fail(KT_ERR_DENIED, "%s", why); /* the refusal, not the login's reason, if it failed too */
    return false;
}

/* A try's time: CALL_MS, and, holding the lock, none past its deadline (an answer after it
 * is of no use: the lock is lost then). */
static kt_status try_ms(etcd_store *e, int *ms)
{
    long left = e->lock ? etcd_lock_left_ms(e) : CALL_MS;
    if (left <= 0) return kt_fail(KT_ERR_TIMEOUT, "%s: past the lock's deadline", e->where);
    *ms = left < CALL_MS ? (int)left : CALL_MS;
    return KT_OK;
}

/* How long rounds of the endpoints may start: FAILOVER_MS, and, holding the lock, not past
 * its deadline. */
static long rounds_ms(etcd_store *e)
{
    long left = e->lock ? etcd_lock_left_ms(e) : FAILOVER_MS;
    return left < 0 ? 0 : left < FAILOVER_MS ? left : FAILOVER_MS;
}

static kt_status try_unary(etcd_store *e, etcd_endpoint *ep, void *ctx)
{
    unary_ctx *u = ctx;
    int ms = 0;
    kt_status st = try_ms(e, &ms);
    if (!st) st = kt_rpc_call(ep->kv, u->method, u->req, u->res, ms);
    if (!u->login && etcd_login_again(e, st) && !(st = try_ms(e, &ms)))
        st = kt_rpc_call(ep->kv, u->method, u->req, u->res, ms);
    return st ? kt_fail_context(st, "%s", ep->name) : KT_OK;
}

/* Authenticate as the user: the token goes into every endpoint's calls. */
static kt_status login(etcd_store *e)
{
    pthread_mutex_lock(&e->auth_mu);
    Etcdserverpb__AuthenticateRequest req = ETCDSERVERPB__AUTHENTICATE_REQUEST__INIT;
    Etcdserverpb__AuthenticateResponse res = ETCDSERVERPB__AUTHENTICATE_RESPONSE__INIT;
    req.name = e->user;
    req.password = e->password;
    unary_ctx u = {"/etcdserverpb.Auth/Authenticate", &req, &res, true};
    kt_status st = KT_OK;
    for (size_t i = 0; i < e->n; i++) /* etcd refuses even Authenticate with a stale token */
        kt_rpc_client_set_header(e->ep[i].kv, "token", NULL), kt_rpc_client_set_header(e->ep[i].watch, "token", NULL);
    st = etcd_on_endpoints_within(e, try_unary, &u, NULL, rounds_ms(e));
    if (st)
        st = kt_fail_context(st, "%s: etcd auth as user '%s'", e->where, e->user);
    else if (!res.token || !*res.token)
        st = kt_fail(KT_ERR_MALFORMED, "%s: etcd auth as user '%s': no token in the answer (is auth enabled?)",
                     e->where, e->user);
    for (size_t i = 0; !st && i < e->n; i++)
        if ((st = kt_rpc_client_set_header(e->ep[i].kv, "token", res.token)) ||
            (st = kt_rpc_client_set_header(e->ep[i].watch, "token", res.token)))
            st = kt_fail_context(st, "%s: etcd's token", e->where);
    if (res.token) kt_wipe(res.token, strlen(res.token));
    kt_message_clear(&res);
    pthread_mutex_unlock(&e->auth_mu);
    return st;
}

static kt_status call_retried(etcd_store *e, const char *method, const void *req, void *res, bool *retried)
{
    unary_ctx u = {method, req, res};
    /* past the lock's deadline: lost (unless renewed meanwhile) */
    kt_status st = e->lock && etcd_lock_left_ms(e) <= 0 ? etcd_lock_check(e) : KT_OK;
    if (st) return st;
    st = etcd_on_endpoints_within(e, try_unary, &u, retried, rounds_ms(e));
    return st ? kt_fail_context(st, "%s", e->where) : KT_OK;
}

kt_status etcd_call(etcd_store *e, const char *method, const void *req, void *res)
{
    return call_retried(e, method, req, res, NULL);
}

/* ---- the namespace's head ---- */

static kt_status counters(const etcd_store *e, const Etcdserverpb__KeyValue *kv)
{
    if (kv->version <= 0 || kv->create_revision <= 0 || kv->mod_revision < kv->create_revision)
        return kt_fail(KT_ERR_MALFORMED, "%s: etcd sent a key with impossible counters", e->where);
    return KT_OK;
}

static bool is_head(const etcd_store *e, ProtobufCBinaryData k)
{
    return k.len == e->ns_len && !memcmp(k.data, e->ns, e->ns_len);
}

/* The head's revision from a Range of it. */
static kt_status head_revision(const etcd_store *e, const Etcdserverpb__RangeResponse *r, uint64_t *rev)
{
    if (!r || r->n_kvs != 1 || !is_head(e, r->kvs[0]->key))
        return kt_fail(KT_ERR_STATE,
                       "%s: the namespace's head key '%s' is missing (another client deleted it; opening the "
                       "store again puts it back)",
                       e->where, e->ns);
    kt_status st = counters(e, r->kvs[0]);
    if (!st) *rev = (uint64_t)r->kvs[0]->mod_revision;
    return st;
}

static ProtobufCBinaryData head_key(const etcd_store *e)
{
    return (ProtobufCBinaryData){e->ns_len, (uint8_t *)e->ns};
}

static kt_status etcd_revision(void *impl, uint64_t *rev)
{
    etcd_store *e = impl;
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    Etcdserverpb__RangeResponse res = ETCDSERVERPB__RANGE_RESPONSE__INIT;
    req.key = head_key(e);
    kt_status st = etcd_call(e, "/etcdserverpb.KV/Range", &req, &res);
    if (!st) st = head_revision(e, &res, rev);
    kt_message_clear(&res);
    return st;
}

kt_status etcd_create(etcd_store *e, ProtobufCBinaryData key, ProtobufCBinaryData value,
                      int64_t lease, etcd_call_fn call, Etcdserverpb__TxnResponse *res)
{
    Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
    cmp.key = key;
    cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
    cmp.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
    Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
    put.key = key;
    put.value = value;
    put.lease = lease;
    Etcdserverpb__RangeRequest read = ETCDSERVERPB__RANGE_REQUEST__INIT;
    read.key = key;
    Etcdserverpb__RequestOp op = ETCDSERVERPB__REQUEST_OP__INIT,
                            read_op = ETCDSERVERPB__REQUEST_OP__INIT;
    op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    op.request_put = &put;
    read_op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
    read_op.request_range = &read;
    return etcd_txn1(e, &cmp, &op, &read_op, call, res);
}

kt_status etcd_txn1(etcd_store *e, Etcdserverpb__Compare *cmp, Etcdserverpb__RequestOp *success,
                    Etcdserverpb__RequestOp *failure, etcd_call_fn call,
                    Etcdserverpb__TxnResponse *res)
{
    Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
    req.n_compare = 1;
    req.compare = &cmp;
    req.n_success = 1;
    req.success = &success;
    req.n_failure = failure ? 1 : 0;
    req.failure = failure ? &failure : NULL;
    return call(e, "/etcdserverpb.KV/Txn", &req, res);
}

/* ---- writes ---- */

const Etcdserverpb__RangeResponse *etcd_txn_range(const Etcdserverpb__TxnResponse *r, size_t i)
{
    const Etcdserverpb__ResponseOp *o = i < r->n_responses ? r->responses[i] : NULL;
    return o && o->response_case == ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE ? o->response_range : NULL;
}


/* A Txn on one key: compare its version (== expected, or > 0 when any) and, holding the
 * lock, that the lock key is still ours; then `op` and the head or, failing the compare,
 * read the key (and the lock key) for the reason. */
static kt_status txn(etcd_store *e, const char *key, uint64_t expected, bool any,
                     Etcdserverpb__RequestOp *op, uint64_t *rev, bool *retried)
{
    if (retried) *retried = false;
    kt_status st = e->lock ? etcd_lock_check(e) : KT_OK; /* lost: refused before etcd is asked */
    if (st) return st;
    char k[ETCD_KEY_MAX + 1];
    Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT, fence = ETCDSERVERPB__COMPARE__INIT,
                          *cmps[2] = {&cmp, &fence};
    cmp.key = ekey(e, key, 0, k);
    cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
    cmp.result = any ? ETCDSERVERPB__COMPARE__COMPARE_RESULT__GREATER
                     : ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
    cmp.version = any ? 0 : (int64_t)expected;
    Etcdserverpb__RangeRequest read = ETCDSERVERPB__RANGE_REQUEST__INIT, lock_read = ETCDSERVERPB__RANGE_REQUEST__INIT;
    read.key = cmp.key;
    read.keys_only = true;
    if (e->lock) etcd_lock_compare(e, &fence, &lock_read);
    Etcdserverpb__PutRequest head = ETCDSERVERPB__PUT_REQUEST__INIT;
    head.key = head_key(e);
    head.value = (ProtobufCBinaryData){sizeof ETCD_HEAD_VALUE - 1, (uint8_t *)ETCD_HEAD_VALUE};
    Etcdserverpb__RequestOp head_op = ETCDSERVERPB__REQUEST_OP__INIT, other = ETCDSERVERPB__REQUEST_OP__INIT,
                            lock_op = ETCDSERVERPB__REQUEST_OP__INIT, *success[2] = {op, &head_op},
                            *failure[2] = {&other, &lock_op};
    head_op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    head_op.request_put = &head;
    other.request_case = lock_op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
    other.request_range = &read;
    lock_op.request_range = &lock_read;
    Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
    req.n_compare = e->lock ? 2 : 1;
    req.compare = cmps;
    req.n_success = 2;
    req.success = success;
    req.n_failure = e->lock ? 2 : 1;
    req.failure = failure;
    Etcdserverpb__TxnResponse res = ETCDSERVERPB__TXN_RESPONSE__INIT;
    st = call_retried(e, "/etcdserverpb.KV/Txn", &req, &res, retried);
    if (st) return st;
    if (!res.header || res.header->revision <= 0) {
        st = kt_fail(KT_ERR_MALFORMED, "%s: a Txn answer without a revision", e->where);
    } else if (res.succeeded) {
        if (rev) *rev = (uint64_t)res.header->revision;
    } else {
        const Etcdserverpb__RangeResponse *r = etcd_txn_range(&res, 0);
        if (res.n_responses != req.n_failure || !r || r->n_kvs > 1)
            st = kt_fail(KT_ERR_MALFORMED, "%s: a failed Txn without the key's state", e->where);
        else if (!e->lock ||
                 !(st = etcd_lock_fenced(e, etcd_txn_range(&res, 1)))) /* lost: the reason */
            st = kt_store_version_check(key, r->n_kvs == 1, r->n_kvs ? (uint64_t)r->kvs[0]->version : 0,
                                        expected, any);
        if (!st) /* the compare failed, yet the state read says it held: a race we lost */
            st = kt_fail(KT_ERR_STATE, "store: %s changed under the compare; try again", key);
    }
    kt_message_clear(&res);
    return st;
}

static kt_status etcd_get(void *impl, const char *key, kt_store_object *out);

/* A put retried on another endpoint found the key changed: it is this put's own change
 * when the key holds these bytes at expected + 1 (sealed objects are unique). Otherwise
 * the conflict st stands. */
static kt_status landed(etcd_store *e, const char *key, const void *value, size_t n, uint64_t expected,
                        uint64_t *rev, kt_status st)
{
    char why[512];
    snprintf(why, sizeof why, "%s", kt_last_error());
    kt_store_object o = {0};
    bool ours = !etcd_get(e, key, &o) && o.version == expected + 1 && o.value.len == n &&
                (n == 0 || !memcmp(o.value.data, value, n));
    if (ours && rev) *rev = o.mod_revision;
    kt_store_object_free(&o);
    return ours ? KT_OK : kt_fail(st, "%s", why);
}

static kt_status etcd_put(void *impl, const char *key, const void *value, size_t n,
                          uint64_t expected, uint64_t *rev)
{
    etcd_store *e = impl;
    char k[ETCD_KEY_MAX + 1];
    Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
    put.key = ekey(e, key, 0, k);
    put.value = (ProtobufCBinaryData){n, (uint8_t *)value};
    Etcdserverpb__RequestOp op = ETCDSERVERPB__REQUEST_OP__INIT;
    op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    op.request_put = &put;
    bool retried;
    kt_status st = txn(e, key, expected, false, &op, rev, &retried);
    if (retried && (st == KT_ERR_EXISTS || st == KT_ERR_STATE)) st = landed(e, key, value, n, expected, rev, st);
    return st;
}

static kt_status etcd_del(void *impl, const char *key, uint64_t expected, uint64_t *rev)
{
    etcd_store *e = impl;
    char k[ETCD_KEY_MAX + 1];
    Etcdserverpb__DeleteRangeRequest del = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    del.key = ekey(e, key, 0, k);
    Etcdserverpb__RequestOp op = ETCDSERVERPB__REQUEST_OP__INIT;
    op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
    op.request_delete_range = &del;
    bool retried;
    kt_status st = txn(e, key, expected, expected == KT_STORE_ANY_VERSION, &op, rev, &retried);
    /* retried and gone: the first try deleted it (the head's revision is at or past it) */
    if (retried && st == KT_ERR_NOT_FOUND) {
        uint64_t now;
        st = etcd_revision(e, &now);
        if (!st && rev) *rev = now;
    }
    return st;
}

/* ---- reads ---- */

static kt_status etcd_get(void *impl, const char *key, kt_store_object *out)
{
    etcd_store *e = impl;
    char k[ETCD_KEY_MAX + 1];
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    Etcdserverpb__RangeResponse res = ETCDSERVERPB__RANGE_RESPONSE__INIT;
    req.key = ekey(e, key, 0, k);
    kt_status st = etcd_call(e, "/etcdserverpb.KV/Range", &req, &res);
    if (st) return st;
    if (res.n_kvs == 0) {
        st = kt_fail(KT_ERR_NOT_FOUND, "store: %s does not exist", key);
    } else if (res.n_kvs > 1 || res.kvs[0]->key.len != req.key.len ||
               memcmp(res.kvs[0]->key.data, req.key.data, req.key.len)) {
        st = kt_fail(KT_ERR_MALFORMED, "%s: etcd answered a get of %s with another key", e->where,
                     key);
    } else if (res.kvs[0]->value.len > KT_STORE_VALUE_MAX) {
        st = kt_fail(KT_ERR_TOO_LARGE, "%s: %s holds %zu bytes, over the limit of %d", e->where,
                     key, res.kvs[0]->value.len, KT_STORE_VALUE_MAX);
    } else if (!(st = counters(e, res.kvs[0]))) {
        out->value.len = 0; /* the caller's buffer is reused, as fs does */
        st = kt_buf_append(&out->value, res.kvs[0]->value.data, res.kvs[0]->value.len);
        out->version = (uint64_t)res.kvs[0]->version;
        out->create_revision = (uint64_t)res.kvs[0]->create_revision;
        out->mod_revision = (uint64_t)res.kvs[0]->mod_revision;
    }
    kt_message_clear(&res);
    return st;
}

/* One page and the head, in one Txn (one snapshot: the page's revision is the head's).
 * Values come with the keys (a list reports their sizes), so a page of large values can
 * pass the client's message limit: then the page is halved and asked again, down to one
 * key (which always fits). */
static kt_status etcd_list(void *impl, const char *prefix, const char *after, size_t limit,
                           kt_store_list_result *out)
{
    etcd_store *e = impl;
    char k[ETCD_KEY_MAX + 1], p[ETCD_KEY_MAX + 1], end[ETCD_KEY_MAX + 1];
    memset(out, 0, sizeof *out);
    Etcdserverpb__RangeRequest page = ETCDSERVERPB__RANGE_REQUEST__INIT, head = ETCDSERVERPB__RANGE_REQUEST__INIT;
    page.range_end = range_end(ekey(e, prefix, 0, p), end);
    /* after "a/x": from "a/x\0", the least key past it; the whole namespace: past the head
     * and the lock key (which sort below every store key) */
    page.key = after && *after ? ekey(e, after, 0, k) : ekey(e, *prefix ? prefix : ETCD_LOCK_NAME, 0, k);
    if ((after && *after) || !*prefix) page.key.len++; /* the NUL ekey wrote */
    head.key = head_key(e);
    Etcdserverpb__RequestOp ops[2] = {ETCDSERVERPB__REQUEST_OP__INIT, ETCDSERVERPB__REQUEST_OP__INIT},
                            *success[2] = {&ops[0], &ops[1]};
    ops[0].request_case = ops[1].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
    ops[0].request_range = &page;
    ops[1].request_range = &head;
    Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
    req.n_success = 2;
    req.success = success;
    Etcdserverpb__TxnResponse res = ETCDSERVERPB__TXN_RESPONSE__INIT;
    kt_status st;
    for (page.limit = (int64_t)limit;; page.limit /= 2) {
        st = etcd_call(e, "/etcdserverpb.KV/Txn", &req, &res);
        if (st != KT_ERR_NO_MEMORY && st != KT_ERR_TOO_LARGE) break;
        if (page.limit == 1) break;
    }
    if (st) return kt_fail_context(st, "list");
    const Etcdserverpb__RangeResponse *r = etcd_txn_range(&res, 0);
    uint64_t rev = 0;
    if (!res.succeeded || res.n_responses != 2 || !r || r->n_kvs > limit)
        st = kt_fail(KT_ERR_MALFORMED, "%s: a bad Txn answer to a list", e->where);
    /* a head another client deleted: the list still answers (the cluster's revision);
     * the next write puts the head back */
    const Etcdserverpb__RangeResponse *h = etcd_txn_range(&res, 1);
    if (!st && h && h->n_kvs == 0 && res.header && res.header->revision > 0)
        rev = (uint64_t)res.header->revision;
    else if (!st)
        st = head_revision(e, h, &rev);
    if (!st && r->n_kvs && !(out->entries = calloc(r->n_kvs, sizeof *out->entries)))
        st = kt_fail(KT_ERR_NO_MEMORY, "store: list");
    for (size_t i = 0; !st && i < r->n_kvs; i++) {
        kt_store_entry *en = &out->entries[i];
        if ((st = store_key(e, r->kvs[i]->key, en->key)) || (st = counters(e, r->kvs[i]))) break;
        if (!kt_store_in_prefix(en->key, prefix) ||
            (i && strcmp(out->entries[i - 1].key, en->key) >= 0)) {
            st = kt_fail(KT_ERR_MALFORMED, "%s: etcd listed keys out of order or range", e->where);
            break;
        }
        en->version = (uint64_t)r->kvs[i]->version;
        en->create_revision = (uint64_t)r->kvs[i]->create_revision;
        en->mod_revision = (uint64_t)r->kvs[i]->mod_revision;
        en->value_len = r->kvs[i]->value.len;
        out->count++;
    }
    if (!st) {
        out->revision = rev;
        out->more = r->more && out->count > 0;
        if (out->more) strcpy(out->next, out->entries[out->count - 1].key);
    }
    kt_message_clear(&res);
    if (st) kt_store_list_result_free(out);
    return st;
}

/* ---- watch: the namespace only ---- */

typedef struct {
    const char *prefix;
    uint64_t from, upto; /* changes(): the head's revision read before the watch; wait(): 0 */
    size_t limit;
    kt_store_changes_result *out; /* NULL: wait() */
    struct timespec deadline;     /* wait() */
    /* each try */
    etcd_store *e;
    uint64_t last; /* revision of the last event read */
    size_t scanned;
    bool done, compacted, timed_out;
    int64_t compact_revision;
} watch_ctx;

static kt_status on_watch(void *ctx, const ProtobufCMessage *msg)
{
    watch_ctx *w = ctx;
    const Etcdserverpb__WatchResponse *r = (const Etcdserverpb__WatchResponse *)msg;
    char esc[200];
    if (r->canceled) {
        if (r->compact_revision > 0) {
            w->compacted = true;
            w->compact_revision = r->compact_revision;
            return KT_ERR_CANCELLED; /* ends the call; watch() reads the flags */
        }
        kt_escape(r->cancel_reason, strlen(r->cancel_reason), esc, sizeof esc);
        return kt_fail(strstr(r->cancel_reason, "permission denied") ? KT_ERR_DENIED : KT_ERR_IO,
                       "%s: etcd cancelled the watch: %s", w->e->where, esc);
    }
    for (size_t i = 0; i < r->n_events; i++) {
        const Etcdserverpb__Event *ev = r->events[i];
        if (!ev->kv || ev->kv->mod_revision <= 0 || (uint64_t)ev->kv->mod_revision < w->last)
            return kt_fail(KT_ERR_MALFORMED, "%s: a watch event out of order", w->e->where);
        uint64_t rev = (uint64_t)ev->kv->mod_revision;
        if (!w->out) { /* wait(): any change will do (the lock's are none of the store's) */
            if (etcd_is_lock(w->e, ev->kv->key)) continue;
            w->done = true;
            return KT_ERR_CANCELLED;
        }
        if (rev > w->upto) {
            w->done = true;
            return KT_ERR_CANCELLED;
        }
        w->last = rev;
        w->scanned++;
        const Etcdserverpb__KeyValue *kv = ev->kv;
        if (is_head(w->e, kv->key) || etcd_is_lock(w->e, kv->key)) continue;
        kt_store_event se = {0};
        kt_status st = store_key(w->e, kv->key, se.key);
        if (st) return st;
        if (!kt_store_in_prefix(se.key, w->prefix)) continue;
        if (w->out->count == w->limit) {
            w->out->next = w->out->events[w->limit - 1].revision;
            w->done = true;
            return KT_ERR_CANCELLED;
        }
        se.type = ev->type == ETCDSERVERPB__EVENT__EVENT_TYPE__DELETE ? KT_STORE_EVENT_DELETE
                                                                      : KT_STORE_EVENT_PUT;
        se.revision = rev;
        se.version = se.type == KT_STORE_EVENT_DELETE ? 0 : (uint64_t)kv->version;
        w->out->events[w->out->count++] = se;
    }
    /* the end of a response (not a fragment of one) never splits a revision: past upto,
     * or past the scan budget, stop there */
    if (w->out && r->n_events && !r->fragment && (w->last >= w->upto || w->scanned >= SCAN_MAX)) {
        w->out->next = w->last;
        w->done = true;
        return KT_ERR_CANCELLED;
    }
    return KT_OK;
}

static long ms_until(struct timespec t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(t.tv_sec - now.tv_sec) * 1000 + (t.tv_nsec - now.tv_nsec) / 1000000;
}

/* One watch of the namespace from w->from until on_watch has enough, on one endpoint
 * (from the start again on each). */
static kt_status watch_once(etcd_store *e, etcd_endpoint *ep, void *ctx)
{
    watch_ctx *w = ctx;
    char end[ETCD_KEY_MAX + 1];
    w->e = e;
    w->last = 0, w->scanned = 0, w->done = w->compacted = w->timed_out = false;
    if (w->out) w->out->count = 0;
    long ms = w->out ? WATCH_MS : ms_until(w->deadline);
    if (ms <= 0) {
        w->timed_out = true;
        return KT_OK;
    }
    Etcdserverpb__WatchCreateRequest create = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
    create.key = head_key(e);
    create.range_end = range_end(create.key, end);
    create.start_revision = (int64_t)w->from;
    create.fragment = true; /* answers cut to etcd's request size (when etcd registers it in time) */
    Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
    req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
    req.create_request = &create;
    kt_status st = kt_rpc_call_stream(ep->watch, "/etcdserverpb.Watch/Watch", &req,
                                      &etcdserverpb__watch_response__descriptor, on_watch, w,
                                      (int)(ms > 0x7fffffff ? 0x7fffffff : ms));
    if (w->done || w->compacted) return KT_OK;
    /* wait(): the deadline ends the call from either side (etcd may report its own end
     * of the context, not DEADLINE_EXCEEDED, when it notices first) */
    if (!w->out && st != KT_ERR_UNAVAILABLE && (st == KT_ERR_TIMEOUT || ms_until(w->deadline) <= 1)) {
        w->timed_out = true;
        return KT_OK;
    }
    if (!st) return kt_fail(KT_ERR_IO, "%s: etcd ended the watch", ep->name);
    return kt_fail_context(st, "%s: watch", ep->name);
}

static kt_status try_watch(etcd_store *e, etcd_endpoint *ep, void *ctx)
{
    kt_status st = watch_once(e, ep, ctx);
    return etcd_login_again(e, st) ? watch_once(e, ep, ctx) : st;
}

static kt_status watch(etcd_store *e, watch_ctx *w)
{
    kt_status st = etcd_on_endpoints(e, try_watch, w, NULL);
    return st ? kt_fail_context(st, "%s", e->where) : KT_OK;
}

static kt_status etcd_changes(void *impl, const char *prefix, uint64_t after, size_t limit,
                              kt_store_changes_result *out)
{
    etcd_store *e = impl;
    uint64_t now;
    memset(out, 0, sizeof *out);
    kt_status st = etcd_revision(e, &now);
    if (st) return st;
    if (after > now)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store: revision %llu is in the future (now %llu)",
                       (unsigned long long)after, (unsigned long long)now);
    out->next = now;
    if (after == now) return KT_OK;
    if (!(out->events = calloc(limit, sizeof *out->events)))
        return kt_fail(KT_ERR_NO_MEMORY, "store: changes");
    watch_ctx w = {.prefix = prefix, .from = after + 1, .upto = now, .limit = limit, .out = out};
    st = watch(e, &w);
    if (!st && w.compacted)
        st = kt_fail(KT_ERR_STATE,
                     "store: changes after revision %llu are compacted (etcd keeps those after "
                     "%lld); list again and continue from the list's revision",
                     (unsigned long long)after, (long long)w.compact_revision - 1);
    if (st) kt_store_changes_result_free(out);
    return st;
}

static kt_status etcd_wait(void *impl, uint64_t after, unsigned timeout_ms)
{
    etcd_store *e = impl;
    uint64_t now;
    kt_status st = etcd_revision(e, &now);
    if (st || now > after) return st;
    if (timeout_ms > 0) {
        watch_ctx w = {.from = after + 1};
        clock_gettime(CLOCK_MONOTONIC, &w.deadline);
        w.deadline.tv_sec += timeout_ms / 1000;
        w.deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (w.deadline.tv_nsec >= 1000000000) w.deadline.tv_sec++, w.deadline.tv_nsec -= 1000000000;
        st = watch(e, &w);
        if (st || !w.timed_out) return st; /* an event, or history compacted past after: it moved on */
    }
    return kt_fail(KT_ERR_TIMEOUT, "store: no change after revision %llu in %u ms",
                   (unsigned long long)after, timeout_ms);
}

static void etcd_lock_info(void *impl, kt_store_lock_info *out)
{
    etcd_lock_state(impl, out);
}

static void etcd_close(void *impl)
{
    etcd_store *e = impl;
    if (!e) return;
    etcd_lock_release(e); /* before the clients it revokes the lease through */
    kt_wipe(e->password, sizeof e->password);
    pthread_mutex_destroy(&e->auth_mu);
    for (size_t i = 0; i < e->n; i++) {
        kt_rpc_client_free(e->ep[i].kv);
        kt_rpc_client_free(e->ep[i].watch);
    }
    free(e);
}

static const kt_store_ops etcd_ops = {etcd_put,  etcd_get,      etcd_del,   etcd_list,     etcd_changes,
                                      etcd_wait, etcd_revision, etcd_close, etcd_lock_info,
                                      NULL /* batches: one put after another (store.c) */};

/* ---- open ---- */

static bool set(const char *s)
{
    return s && *s;
}

/* TLS or plaintext, as the options and the endpoints allow. */
static kt_status transport(const kt_etcd_url *u, const kt_store_options *o, const char *esc, kt_rpc_tls *tls)
{
    static const kt_store_options none = {0};
    if (!o) o = &none;
    memset(tls, 0, sizeof *tls);
    if (set(o->tls_cert) != set(o->tls_key))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store %s: store_tls_cert and store_tls_key go together", esc);
    if (set(o->user) != set(o->password_file))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "store %s: store_user and store_password_file go together (with client certificates "
                       "etcd takes the user from the certificate: set neither)",
                       esc);
    if (!set(o->tls_ca)) {
        if (set(o->tls_cert) || set(o->server_name))
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "store %s: a client certificate or store_server_name needs store_tls_ca (the CA "
                           "etcd's certificates chain to)",
                           esc);
        for (size_t i = 0; i < u->n && !o->insecure; i++)
            if (!u->ep[i].loopback)
                return kt_fail(KT_ERR_INVALID_ARGUMENT,
                               "store %s: endpoint %s:%u is not on loopback, and plaintext would show the "
                               "network every name and sealed object and let anyone on the path answer for "
                               "etcd; set store_tls_ca (with store_tls_cert and store_tls_key for etcd's "
                               "--client-cert-auth), or store_insecure: true to accept plaintext",
                               esc, u->ep[i].host, u->ep[i].port);
        return KT_OK;
    }
    if (o->insecure)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "store %s: store_insecure asks for plaintext, store_tls_ca for TLS: set one", esc);
    tls->ca = o->tls_ca;
    tls->cert = set(o->tls_cert) ? o->tls_cert : NULL;
    tls->key = set(o->tls_key) ? o->tls_key : NULL;
    tls->server_name = set(o->server_name) ? o->server_name : NULL;
    return KT_OK;
}

/* The user's name and the password, the first line of password_file. */
static kt_status credentials(etcd_store *e, const char *user, const char *password_file, const char *esc)
{
    size_t un = strlen(user);
    bool ok = un < sizeof e->user;
    for (size_t i = 0; ok && i < un; i++) ok = user[i] > 0x20 && user[i] < 0x7f;
    if (!ok)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store %s: store_user is 1..%zu printable ASCII bytes, no spaces",
                       esc, sizeof e->user - 1);
    memcpy(e->user, user, un + 1);
    kt_buf b = {0};
    kt_status st = kt_file_read(password_file, 4096, &b);
    if (st) return kt_fail_context(st, "store %s: store_password_file", esc);
    size_t n = 0;
    while (n < b.len && b.data[n] != '\n') n++;
    if (n && b.data[n - 1] == '\r') n--;
    ok = n > 0 && n < sizeof e->password;
    for (size_t i = 0; ok && i < n; i++) ok = b.data[i] >= 0x20 && b.data[i] != 0x7f;
    if (ok) {
        memcpy(e->password, b.data, n);
        e->password[n] = '\0';
        e->auth = true;
    }
    kt_wipe(b.data, b.len);
    kt_buf_free(&b);
    return ok ? KT_OK
              : kt_fail(KT_ERR_INVALID_ARGUMENT,
                        "store %s: store_password_file's first line is the password: 1..%zu bytes, no control "
                        "bytes",
                        esc, sizeof e->password - 1);
}

kt_status kt_store_etcd_open(const char *url, const kt_store_options *o, kt_store **out)
{
    char esc[256];
    kt_etcd_url u;
    kt_rpc_tls tls;
    kt_escape(url, strlen(url), esc, sizeof esc);
    kt_status st = kt_store_etcd_url_parse(url, &u);
    if (!st) st = transport(&u, o, esc, &tls);
    if (st) return st;
    etcd_store *e = calloc(1, sizeof *e);
    kt_store *s = calloc(1, sizeof *s);
    if (!e || !s) {
        free(e);
        free(s);
        return kt_fail(KT_ERR_NO_MEMORY, "store etcd: open");
    }
    memcpy(e->where, "store ", 6);
    kt_store_etcd_url_format(&u, e->where + 6, sizeof e->where - 6);
    e->ns_len = (size_t)snprintf(e->ns, sizeof e->ns, "%s/", u.ns);
    pthread_mutex_init(&e->auth_mu, NULL);
    if (o && set(o->user)) st = credentials(e, o->user, o->password_file, esc);
    kt_rpc_client_options kv = {.tls = tls.ca ? &tls : NULL}, wo = kv;
    wo.max_receive = WATCH_RECEIVE_MAX;
    for (size_t i = 0; i < u.n && !st; i++) {
        etcd_endpoint *ep = &e->ep[e->n++];
        snprintf(ep->name, sizeof ep->name, "%s:%u", u.ep[i].host, u.ep[i].port);
        st = kt_rpc_client_open(ep->name, &kv, &ep->kv);
        if (!st) st = kt_rpc_client_open(ep->name, &wo, &ep->watch);
    }
    if (!st && !tls.ca && o && o->insecure)
        for (size_t i = 0; i < u.n; i++)
            if (!u.ep[i].loopback) {
                kt_log(KT_LOG_WARN, "store.etcd.plaintext", "store", e->where, "endpoint", e->ep[i].name, "note",
                       "store_insecure: etcd is reached without TLS over the network", NULL);
                break;
            }
    if (!st && e->auth) st = login(e);
    /* reachable, speaking etcd's API, no namespace around or inside, and the head in place */
    if (!st) st = etcd_namespace_claim(e);
    if (st == KT_ERR_UNAVAILABLE) { /* gRPC's words, and what they may mean here */
        char why[1024];
        snprintf(why, sizeof why, "%s", kt_last_error());
        st = kt_fail(st, "%s (%s)", why,
                     tls.ca ? "with TLS: is store_tls_ca the CA of etcd's certificate, does that certificate name "
                              "the endpoint or store_server_name, and does etcd accept the client certificate?"
                            : "reached in plaintext: if etcd serves TLS, set store_tls_ca");
    }
    if (!st && o && set(o->holder)) st = etcd_lock_take(e, o); /* one holder of the namespace */
    if (st) {
        etcd_close(e);
        free(s);
        return st;
    }
    s->ops = &etcd_ops;
    s->impl = e;
    *out = s;
    return KT_OK;
}
