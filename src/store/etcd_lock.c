/* The etcd backend's lock: one holder per namespace (docs/operations.md "One AECS host per
 * store"), taken at open when the options name a holder.
 *
 *   take      LeaseGrant(TTL); Txn: compare version(lock key) == 0, success put the
 *             lock key (the holder's words) bound to the lease, failure range the lock key.
 *             The range finding our own lease and words, unmodified, is our create landed
 *             with its answer lost (retried on the next endpoint): ours. Refused: the
 *             holder's words and its lease's time left (LeaseTimeToLive) in the reason,
 *             our lease revoked
 *   keep      a thread: LeaseKeepAlive every third of the TTL (one request on the stream,
 *             which etcd answers and then ends): renewed from its send; then a Range of
 *             the lock key. etcd answering TTL 0 (the lease is gone), the key gone,
 *             another's, or rewritten (its mod_revision moved, or bound to another lease
 *             or none), or no renewal confirmed by the deadline loses it
 *   deadline  the last confirmed renewal's send + TTL - a margin (a fifth of the TTL), on
 *             CLOCK_BOOTTIME (it counts a suspend, as etcd's count elsewhere does): etcd
 *             starts its count after that send, so the lock is lost at least the margin
 *             before etcd may let it go. Each try of the lock's calls takes at most
 *             call_ms (a fifth of the TTL, LOCK_CALL_MS at most), and none, nor a round of
 *             the endpoints, goes past the deadline; every look at the lock (a write,
 *             etcd_lock_state: /readyz, metrics, aecs-server's requests) checks it by the
 *             clock too. So answers up to call_ms late never lose the lock: a renewal is
 *             two tries (keepalive, range), 2/5 of the TTL, the next starts a third of it
 *             after the last (or at once after a slow one) and has until 4/5
 *   fence     every write Txn compares mod_revision(lock key) == the revision this store
 *             created it at (this store never modifies it): a next holder's key has
 *             another, an expired one none, a rewritten one a later one. A write refused
 *             so loses the lock too
 *   release   the keeper stopped (its try in flight ends within call_ms), then a delete of
 *             the lock key guarded by its create_revision (ours even when another client
 *             rewrote it, unbound from the lease: it would stay; a next holder's has
 *             another) and LeaseRevoke, both by STOP_MS: a stop takes at most call_ms +
 *             STOP_MS (6 s) with etcd unreachable
 *
 * Lost is for good: the store refuses every write from then on and calls the holder's
 * lock_lost once; the process is to stop (aecs-server does) and start again, which takes
 * the lock again if nobody else did. */
#include "etcd_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TTL_MS 10000
#define TTL_MIN_MS 1000
#define TTL_MAX_MS 3600000
#define HOLDER_MAX 512
#define LOCK_CALL_MS 3000 /* one call of the lock's, at most; a fifth of the TTL when less */
#define STOP_MS 3000      /* release: the delete and the revoke together, on all endpoints */
#define TAKE_TRIES 3      /* a lock key that goes between the compare and the read */

struct etcd_lock {
    char key[ETCD_KEY_MAX + 1]; /* "<namespace>/#lock" */
    size_t key_len;
    int64_t lease, create_rev;
    unsigned ttl_ms;  /* as etcd granted it */
    unsigned call_ms; /* one try of a call: LOCK_CALL_MS, or a fifth of the TTL when less */
    void (*on_lost)(void *ctx, const char *why);
    void *ctx;
    atomic_int_fast64_t renewed_ms; /* CLOCK_BOOTTIME ms of the last confirmed renewal's send */
    int64_t stop_ms;                /* release: its calls end by then */
    atomic_uint_fast64_t renewals, failures;
    pthread_mutex_t mu; /* stop, lost, why */
    pthread_cond_t cv;
    bool stop, running;
    atomic_bool lost, stopping;
    char why[600];
    pthread_t thread;
};

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_BOOTTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* When the lock is lost unless a renewal is confirmed before (see the top). */
static int64_t deadline_ms(const etcd_lock *l)
{
    return atomic_load(&l->renewed_ms) + l->ttl_ms - l->ttl_ms / 5;
}

bool etcd_is_lock(const etcd_store *e, ProtobufCBinaryData k)
{
    size_t n = sizeof ETCD_LOCK_NAME - 1;
    return k.len == e->ns_len + n && !memcmp(k.data, e->ns, e->ns_len) &&
           !memcmp(k.data + e->ns_len, ETCD_LOCK_NAME, n);
}

static ProtobufCBinaryData lock_key(etcd_lock *l)
{
    return (ProtobufCBinaryData){l->key_len, (uint8_t *)l->key};
}

static void escape_value(ProtobufCBinaryData v, char *out, size_t cap)
{
    kt_escape(v.data, v.len < HOLDER_MAX ? v.len : HOLDER_MAX, out, cap);
}

/* Lost, once: logged, recorded for every later write's reason, and the holder told. */
static void lose(etcd_store *e, const char *why)
{
    etcd_lock *l = e->lock;
    pthread_mutex_lock(&l->mu);
    bool first = !atomic_load(&l->lost);
    if (first) {
        snprintf(l->why, sizeof l->why, "%s", why);
        atomic_store(&l->lost, true);
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (!first) return;
    char lease[24];
    snprintf(lease, sizeof lease, "%llx", (unsigned long long)l->lease);
    kt_log(KT_LOG_ERROR, "store.etcd.lock_lost", "store", e->where, "lease", lease, "reason", why,
           NULL);
    if (l->on_lost) l->on_lost(l->ctx, why);
}

static kt_status lost_error(etcd_store *e)
{
    etcd_lock *l = e->lock;
    pthread_mutex_lock(&l->mu);
    char why[sizeof l->why];
    memcpy(why, l->why, sizeof why);
    pthread_mutex_unlock(&l->mu);
    return kt_fail(
        KT_ERR_UNAVAILABLE,
        "%s: this store lost its lock on the namespace (%s); it refuses every write, as another "
        "host may hold the namespace now",
        e->where, why);
}

/* No renewal confirmed by the deadline: etcd may let the lease go a margin later. */
static bool expired(etcd_lock *l, int64_t *since)
{
    int64_t now = now_ms();
    *since = now - atomic_load(&l->renewed_ms);
    return now >= deadline_ms(l);
}

static void lose_expired(etcd_store *e, int64_t since)
{
    char why[240];
    snprintf(why, sizeof why,
             "no renewal of its lease confirmed for %lld ms, its TTL is %u ms (lost %u ms before "
             "etcd may end it): the process was paused or etcd unreachable",
             (long long)since, e->lock->ttl_ms, e->lock->ttl_ms / 5);
    lose(e, why);
}

kt_status etcd_lock_check(etcd_store *e)
{
    int64_t since;
    if (!atomic_load(&e->lock->lost) && expired(e->lock, &since)) lose_expired(e, since);
    return atomic_load(&e->lock->lost) ? lost_error(e) : KT_OK;
}

void etcd_lock_compare(etcd_store *e, Etcdserverpb__Compare *cmp, Etcdserverpb__RangeRequest *read)
{
    cmp->key = lock_key(e->lock);
    cmp->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD;
    cmp->result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    cmp->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
    cmp->mod_revision = e->lock->create_rev; /* created so, never modified by this store */
    read->key = cmp->key;
}

/* The lock key as this store created it: its creation, unmodified, bound to its lease. */
static bool ours(const etcd_lock *l, const Etcdserverpb__KeyValue *kv)
{
    return kv->create_revision == l->create_rev && kv->mod_revision == l->create_rev &&
           kv->lease == l->lease;
}

/* Why kv (the lock key read back, or NULL: gone) is not ours, into out. */
static void not_ours(const etcd_lock *l, const Etcdserverpb__KeyValue *kv, char *out, size_t cap)
{
    char who[4 * HOLDER_MAX + 1];
    if (kv) escape_value(kv->value, who, sizeof who);
    if (!kv)
        snprintf(out, cap, "its lock key %s is gone: its lease ended, or another client deleted it",
                 l->key);
    else if (kv->create_revision == l->create_rev)
        snprintf(
            out, cap,
            "its lock key %s was rewritten by another client (now '%s', lease %llx): no longer "
            "bound to its lease, it would outlive this holder",
            l->key, who, (unsigned long long)kv->lease);
    else
        snprintf(out, cap, "its lock key %s is another's now: '%s'", l->key, who);
}

kt_status etcd_lock_fenced(etcd_store *e, const Etcdserverpb__RangeResponse *r)
{
    etcd_lock *l = e->lock;
    if (!r || r->n_kvs > 1)
        return kt_fail(KT_ERR_MALFORMED, "%s: a failed Txn without the lock key's state", e->where);
    if (r->n_kvs == 1 && ours(l, r->kvs[0])) return KT_OK; /* still ours */
    char why[sizeof l->why], reason[sizeof l->why - 40];
    not_ours(l, r->n_kvs ? r->kvs[0] : NULL, reason, sizeof reason);
    snprintf(why, sizeof why, "a write was fenced: %s", reason);
    lose(e, why);
    return lost_error(e);
}

/* ---- lease calls ---- */

/* A try's time: the lock's call_ms at most, and up to until_ms (CLOCK_BOOTTIME) when set;
 * none left: KT_ERR_TIMEOUT. A keeper's try also ends (KT_ERR_CANCELLED) once the lock is
 * stopped or lost. */
static kt_status call_ms(etcd_store *e, int64_t until_ms, bool keeper, int *ms)
{
    etcd_lock *l = e->lock;
    if (keeper && (atomic_load(&l->stopping) || atomic_load(&l->lost)))
        return kt_fail(KT_ERR_CANCELLED, "%s: the lock is stopped", e->where);
    int64_t left = until_ms ? until_ms - now_ms() : (int64_t)l->call_ms;
    if (left <= 0)
        return kt_fail(KT_ERR_TIMEOUT, "%s: no time left before the lock's deadline", e->where);
    *ms = left < (int64_t)l->call_ms ? (int)left : (int)l->call_ms;
    return KT_OK;
}

typedef struct {
    const char *method;
    const void *req;
    void *res;
    int64_t until_ms; /* 0: call_ms a try, etcd.c's rounds */
    bool keeper;
} lease_call;

static kt_status try_lease(etcd_store *e, etcd_endpoint *ep, void *ctx)
{
    lease_call *c = ctx;
    int ms = 0;
    kt_status st = call_ms(e, c->until_ms, c->keeper, &ms);
    if (!st) st = kt_rpc_call(ep->kv, c->method, c->req, c->res, ms);
    if (etcd_login_again(e, st) && !(st = call_ms(e, c->until_ms, c->keeper, &ms)))
        st = kt_rpc_call(ep->kv, c->method, c->req, c->res, ms);
    return st ? kt_fail_context(st, "%s", ep->name) : KT_OK;
}

/* The rounds of the endpoints within until_ms (0: etcd.c's own budget). */
static kt_status on_endpoints_until(etcd_store *e, etcd_try_fn f, void *ctx, int64_t until_ms)
{
    if (!until_ms) return etcd_on_endpoints(e, f, ctx, NULL);
    int64_t left = until_ms - now_ms();
    return etcd_on_endpoints_within(e, f, ctx, NULL, left > 0 ? (long)left : 0);
}

/* A unary call of the lock (a lease's, or the lock key's), bounded as call_ms says. */
static kt_status lock_call(etcd_store *e, const char *method, const void *req, void *res,
                           int64_t until_ms, bool keeper)
{
    lease_call c = {method, req, res, until_ms, keeper};
    kt_status st = on_endpoints_until(e, try_lease, &c, until_ms);
    return st ? kt_fail_context(st, "%s", e->where) : KT_OK; /* the reason names the method */
}

static kt_status lease(etcd_store *e, const char *method, const void *req, void *res)
{
    return lock_call(e, method, req, res, 0, false);
}

/* Ends the lease (and the lock key with it, unless another client rewrote it), by until_ms.
 * Once lost, it is most likely gone already: a failure is worth no warning then. */
static void revoke(etcd_store *e, int64_t id, int64_t until_ms, bool quiet)
{
    Etcdserverpb__LeaseRevokeRequest req = ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
    Etcdserverpb__LeaseRevokeResponse res = ETCDSERVERPB__LEASE_REVOKE_RESPONSE__INIT;
    req.id = id;
    if (lock_call(e, "/etcdserverpb.Lease/LeaseRevoke", &req, &res, until_ms, false) &&
        !quiet) { /* it expires by itself then */
        char why[512];
        kt_escape_text(kt_last_error(), strlen(kt_last_error()), why, sizeof why);
        kt_log(KT_LOG_WARN, "store.etcd.lock_revoke_failed", "store", e->where, "reason", why,
               NULL);
    }
    kt_message_clear(&res);
}

typedef struct {
    const Etcdserverpb__LeaseKeepAliveRequest *req;
    int64_t ttl, until_ms;
    bool got;
} keepalive_ctx;

static kt_status on_keepalive(void *ctx, const ProtobufCMessage *msg)
{
    keepalive_ctx *k = ctx;
    k->ttl = ((const Etcdserverpb__LeaseKeepAliveResponse *)msg)->ttl;
    k->got = true;
    return KT_ERR_CANCELLED; /* one answer is all this call waits for */
}

static kt_status keepalive_once(etcd_store *e, etcd_endpoint *ep, keepalive_ctx *k)
{
    k->got = false;
    int ms = 0;
    kt_status st = call_ms(e, k->until_ms, true, &ms);
    if (st) return st;
    st = kt_rpc_call_stream(ep->kv, "/etcdserverpb.Lease/LeaseKeepAlive", k->req,
                            &etcdserverpb__lease_keep_alive_response__descriptor, on_keepalive, k,
                            ms);
    return k->got ? KT_OK
           : st   ? st
                  : kt_fail(KT_ERR_IO, "etcd ended a keepalive without an answer");
}

static kt_status try_keepalive(etcd_store *e, etcd_endpoint *ep, void *ctx)
{
    kt_status st = keepalive_once(e, ep, ctx);
    if (etcd_login_again(e, st)) st = keepalive_once(e, ep, ctx);
    return st ? kt_fail_context(st, "%s: lease keepalive", ep->name) : KT_OK;
}

/* ---- the keeper: renews the lease until stopped or lost ---- */

/* The lock key is still the one this store created, by the deadline: another client may
 * have deleted it (then a next holder could take it while this one serves on), put another,
 * or rewritten it (unbound from the lease). KT_ERR_STATE saying which. */
static kt_status check_key(etcd_store *e, int64_t until_ms)
{
    etcd_lock *l = e->lock;
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    Etcdserverpb__RangeResponse res = ETCDSERVERPB__RANGE_RESPONSE__INIT;
    req.key = lock_key(l);
    kt_status st = lock_call(e, "/etcdserverpb.KV/Range", &req, &res, until_ms, true);
    if (st) return kt_fail_context(st, "reading the lock key");
    char why[sizeof l->why];
    if (res.n_kvs > 1) {
        st = kt_fail(KT_ERR_MALFORMED, "%s: etcd answered a get of the lock key with %zu keys",
                     e->where, res.n_kvs);
    } else if (res.n_kvs == 0 || !ours(l, res.kvs[0])) {
        not_ours(l, res.n_kvs ? res.kvs[0] : NULL, why, sizeof why);
        st = kt_fail(KT_ERR_STATE, "%s", why);
    }
    kt_message_clear(&res);
    return st;
}

static void *keeper(void *arg)
{
    etcd_store *e = arg;
    etcd_lock *l = e->lock;
    Etcdserverpb__LeaseKeepAliveRequest req = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
    req.id = l->lease;
    bool failing = false;
    int64_t attempt = 0, retry_ms = l->ttl_ms / 10 < 1000 ? l->ttl_ms / 10 : 1000;
    pthread_mutex_lock(&l->mu);
    while (!l->stop && !atomic_load(&l->lost)) {
        int64_t next = failing ? attempt + retry_ms : atomic_load(&l->renewed_ms) + l->ttl_ms / 3;
        if (next > deadline_ms(l)) next = deadline_ms(l); /* lost then, whatever else */
        int64_t wait;
        /* the wait is on CLOCK_MONOTONIC (condvars take no BOOTTIME), each turn re-measured
         * on BOOTTIME: after a suspend, the first look (state, a write) loses the lock */
        while (!l->stop && !atomic_load(&l->lost) && (wait = next - now_ms()) > 0) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            t.tv_sec += wait / 1000;
            t.tv_nsec += (long)(wait % 1000) * 1000000;
            if (t.tv_nsec >= 1000000000) t.tv_sec++, t.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&l->cv, &l->mu, &t);
        }
        if (l->stop || atomic_load(&l->lost)) break;
        pthread_mutex_unlock(&l->mu);
        int64_t since;
        if (expired(l, &since)) { /* woken late: paused (SIGSTOP), or the host starved */
            lose_expired(e, since);
            pthread_mutex_lock(&l->mu);
            break;
        }
        attempt = now_ms();
        int64_t until = deadline_ms(l); /* every try and round of this renewal ends by then */
        keepalive_ctx k = {.req = &req, .until_ms = until};
        kt_status st = on_endpoints_until(e, try_keepalive, &k, until);
        if (!st && k.ttl <= 0) {
            lose(e, "etcd says its lease is gone: no renewal reached etcd for its TTL");
            pthread_mutex_lock(&l->mu);
            break;
        }
        if (!st) { /* renewed from its send on; then the key, by the new deadline */
            atomic_store(&l->renewed_ms, attempt);
            atomic_fetch_add(&l->renewals, 1);
            st = check_key(e, deadline_ms(l));
        }
        if (!st) {
            if (failing) kt_log(KT_LOG_INFO, "store.etcd.lock_renewed", "store", e->where, NULL);
            failing = false;
        } else if (st == KT_ERR_STATE) { /* check_key: the key is another's now, or gone */
            lose(e, kt_last_error());
        } else if (st == KT_ERR_CANCELLED) { /* stopped (or lost) meanwhile */
        } else {
            atomic_fetch_add(&l->failures, 1);
            char why[512];
            kt_escape_text(kt_last_error(), strlen(kt_last_error()), why, sizeof why);
            if (!failing) /* once per run of failures; each is counted in the metrics */
                kt_log(KT_LOG_WARN, "store.etcd.lock_renew_failed", "store", e->where, "reason",
                       why, NULL);
            failing = true;
            if (expired(l, &since)) lose_expired(e, since);
        }
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- take ---- */

/* The lock another holds, named: its words, and its lease's time left. */
static kt_status held(etcd_store *e, const Etcdserverpb__KeyValue *kv)
{
    char who[4 * HOLDER_MAX + 1], left[160];
    escape_value(kv->value, who, sizeof who);
    if (!kv->lease) {
        snprintf(left, sizeof left,
                 "bound to no lease: another client wrote it, and it stays until deleted");
    } else {
        Etcdserverpb__LeaseTimeToLiveRequest req = ETCDSERVERPB__LEASE_TIME_TO_LIVE_REQUEST__INIT;
        Etcdserverpb__LeaseTimeToLiveResponse res = ETCDSERVERPB__LEASE_TIME_TO_LIVE_RESPONSE__INIT;
        req.id = kv->lease;
        if (lease(e, "/etcdserverpb.Lease/LeaseTimeToLive", &req, &res))
            snprintf(left, sizeof left, "lease %llx, its time left unknown",
                     (unsigned long long)kv->lease);
        else
            snprintf(left, sizeof left,
                     "lease %llx: %lld s of its TTL of %lld s left, unless its holder renews it",
                     (unsigned long long)kv->lease, (long long)res.ttl, (long long)res.granted_ttl);
        kt_message_clear(&res);
    }
    return kt_fail(KT_ERR_UNAVAILABLE,
                   "%s is held by another holder: '%s' (the lock key %s%s, %s); one host per "
                   "namespace: stop that one, or, if it died, start this one again once its "
                   "lease expired",
                   e->where, who, e->ns, ETCD_LOCK_NAME, left);
}

/* The take's Txn, each try and round by the lease's deadline (a create retried past it
 * would find its lease gone). */
static kt_status take_call(etcd_store *e, const char *method, const void *req, void *res)
{
    return lock_call(e, method, req, res, deadline_ms(e->lock), false);
}

/* Our own create, landed: bound to our lease with our words, unmodified (its answer was
 * lost, and the Txn retried on the next endpoint found it). */
static bool own_take(const etcd_lock *l, const Etcdserverpb__KeyValue *kv, const char *holder)
{
    return kv->lease == l->lease && kv->mod_revision == kv->create_revision &&
           kv->value.len == strlen(holder) && !memcmp(kv->value.data, holder, kv->value.len);
}

/* One try: the lock key created if absent (no version: never created, or deleted since,
 * as create_revision == 0). *again: it went between the compare and the
 * read; try once more. */
static kt_status take_once(etcd_store *e, const char *holder, bool *again)
{
    etcd_lock *l = e->lock;
    Etcdserverpb__TxnResponse res = ETCDSERVERPB__TXN_RESPONSE__INIT;
    *again = false;
    kt_status st =
        etcd_create(e, lock_key(l), (ProtobufCBinaryData){strlen(holder), (uint8_t *)holder},
                    l->lease, take_call, &res);
    if (st) return kt_fail_context(st, "taking the lock");
    const Etcdserverpb__ResponseOp *o = res.n_responses == 1 ? res.responses[0] : NULL;
    if (!res.header || res.header->revision <= 0) {
        st = kt_fail(KT_ERR_MALFORMED, "%s: a Txn answer without a revision", e->where);
    } else if (res.succeeded) {
        l->create_rev = res.header->revision; /* the put's revision: the key's creation */
    } else if (!o || o->response_case != ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE ||
               !o->response_range || o->response_range->n_kvs > 1) {
        st = kt_fail(KT_ERR_MALFORMED, "%s: a failed Txn without the lock key's state", e->where);
    } else if (o->response_range->n_kvs == 0) {
        *again = true;
        st = kt_fail(KT_ERR_STATE, "%s: the lock key came and went while it was taken", e->where);
    } else if (own_take(l, o->response_range->kvs[0], holder)) {
        l->create_rev = o->response_range->kvs[0]->create_revision;
    } else {
        st = held(e, o->response_range->kvs[0]);
    }
    kt_message_clear(&res);
    return st;
}

static void set_ttl(etcd_lock *l, unsigned ttl_ms)
{
    l->ttl_ms = ttl_ms;
    l->call_ms = ttl_ms / 5 < LOCK_CALL_MS ? ttl_ms / 5 : LOCK_CALL_MS;
}

static kt_status grant(etcd_store *e, unsigned ttl_ms)
{
    etcd_lock *l = e->lock;
    Etcdserverpb__LeaseGrantRequest req = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
    Etcdserverpb__LeaseGrantResponse res = ETCDSERVERPB__LEASE_GRANT_RESPONSE__INIT;
    req.ttl = (ttl_ms + 999) / 1000;
    set_ttl(l, ttl_ms);                     /* as asked for, until etcd says */
    atomic_store(&l->renewed_ms, now_ms()); /* the lease's TTL runs from before etcd grants it */
    kt_status st =
        lock_call(e, "/etcdserverpb.Lease/LeaseGrant", &req, &res, deadline_ms(l), false);
    if (st) return kt_fail_context(st, "a lease for the lock");
    char err[256];
    if (res.error && *res.error) {
        kt_escape(res.error, strlen(res.error), err, sizeof err);
        st = kt_fail(KT_ERR_IO, "%s: etcd granted no lease for the lock: %s", e->where, err);
    } else if (res.id == 0 || res.ttl <= 0 || res.ttl > TTL_MAX_MS / 1000) {
        st = kt_fail(KT_ERR_MALFORMED, "%s: etcd granted a lease with ID %lld and TTL %lld s",
                     e->where, (long long)res.id, (long long)res.ttl);
    } else {
        l->lease = res.id;
        set_ttl(l, (unsigned)res.ttl * 1000); /* etcd's count: it may round up to its minimum */
    }
    kt_message_clear(&res);
    return st;
}

static void lock_free(etcd_lock *l)
{
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

kt_status etcd_lock_take(etcd_store *e, const kt_store_options *o)
{
    size_t hl = strlen(o->holder);
    bool ok = hl <= HOLDER_MAX;
    for (size_t i = 0; ok && i < hl; i++)
        ok = o->holder[i] >= 0x20 && o->holder[i] < 0x7f;
    if (!ok)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "%s: the lock's holder is 1..%d printable ASCII bytes", e->where,
                       HOLDER_MAX);
    unsigned ttl_ms = o->lock_ttl_ms ? o->lock_ttl_ms : DEFAULT_TTL_MS;
    if (ttl_ms < TTL_MIN_MS || ttl_ms > TTL_MAX_MS)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "%s: the lock's TTL of %u ms is outside %d..%d ms",
                       e->where, ttl_ms, TTL_MIN_MS, TTL_MAX_MS);
    etcd_lock *l = calloc(1, sizeof *l);
    if (!l) return kt_fail(KT_ERR_NO_MEMORY, "store etcd: lock");
    l->key_len = (size_t)snprintf(l->key, sizeof l->key, "%s%s", e->ns, ETCD_LOCK_NAME);
    l->on_lost = o->lock_lost;
    l->ctx = o->lock_ctx;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* glibc takes no CLOCK_BOOTTIME here */
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    e->lock = l;
    kt_status st = grant(e, ttl_ms);
    bool again = !st;
    for (int i = 0; again && i < TAKE_TRIES; i++)
        st = take_once(e, o->holder, &again);
    if (!st && pthread_create(&l->thread, NULL, keeper, e))
        st = kt_fail(KT_ERR_NO_MEMORY, "%s: the lock's keepalive thread", e->where);
    if (st) {
        char why[1200];
        snprintf(why, sizeof why, "%s", kt_last_error());
        if (l->lease) revoke(e, l->lease, now_ms() + STOP_MS, false);
        e->lock = NULL;
        lock_free(l);
        return kt_fail(st, "%s", why);
    }
    l->running = true;
    char lease_s[24], ttl_s[16];
    snprintf(lease_s, sizeof lease_s, "%llx", (unsigned long long)l->lease);
    snprintf(ttl_s, sizeof ttl_s, "%u", l->ttl_ms / 1000);
    kt_log(KT_LOG_INFO, "store.etcd.locked", "store", e->where, "lock_key", l->key, "lease",
           lease_s, "ttl_s", ttl_s, NULL);
    return KT_OK;
}

/* The release's calls, by its stop_ms. */
static kt_status stop_call(etcd_store *e, const char *method, const void *req, void *res)
{
    return lock_call(e, method, req, res, e->lock->stop_ms, false);
}

/* Deletes the lock key if this store created it (create_revision ours: a next holder's key
 * has another), by the release's stop_ms. */
static void drop_key(etcd_store *e)
{
    etcd_lock *l = e->lock;
    Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
    cmp.key = lock_key(l);
    cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
    cmp.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
    cmp.create_revision = l->create_rev;
    Etcdserverpb__DeleteRangeRequest del = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    del.key = cmp.key;
    Etcdserverpb__RequestOp op = ETCDSERVERPB__REQUEST_OP__INIT;
    op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
    op.request_delete_range = &del;
    Etcdserverpb__TxnResponse res = ETCDSERVERPB__TXN_RESPONSE__INIT;
    /* a failure: the revoke that follows ends the key with the lease, unless rewritten */
    (void)etcd_txn1(e, &cmp, &op, NULL, stop_call, &res);
    kt_message_clear(&res);
}

void etcd_lock_release(etcd_store *e)
{
    etcd_lock *l = e->lock;
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    atomic_store(&l->stopping, true); /* the keeper's call in flight is its last */
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->running) pthread_join(l->thread, NULL);
    /* lost or not, the lease is ours to end: a next holder need not wait out its TTL; and
     * the key, when we created it, goes first (rewritten by another client, it is bound to
     * no lease and would stay) */
    l->stop_ms = now_ms() + STOP_MS; /* etcd unreachable: the stop is not held up longer */
    if (l->create_rev) drop_key(e);
    revoke(e, l->lease, l->stop_ms, atomic_load(&l->lost));
    if (!atomic_load(&l->lost)) kt_log(KT_LOG_INFO, "store.etcd.unlocked", "store", e->where, NULL);
    e->lock = NULL;
    lock_free(l);
}

void etcd_lock_state(etcd_store *e, kt_store_lock_info *out)
{
    etcd_lock *l = e->lock;
    if (!l) return;
    int64_t since;
    if (!atomic_load(&l->lost) && expired(l, &since)) lose_expired(e, since); /* by the clock */
    out->lost = atomic_load(&l->lost);
    out->held = !out->lost;
    out->lease = l->lease;
    out->ttl_ms = l->ttl_ms;
    out->renewals = atomic_load(&l->renewals);
    out->renew_failures = atomic_load(&l->failures);
}

long etcd_lock_left_ms(const etcd_store *e)
{
    const etcd_lock *l = e->lock;
    if (!l->running) return LONG_MAX; /* the take bounds its own calls */
    return atomic_load(&l->lost) ? 0 : (long)(deadline_ms(l) - now_ms());
}
