/* The etcd backend's insides, shared by etcd.c (the store's operations), etcd_lock.c
 * (the namespace's lock: a lease and a lock key bound to it) and etcd_ns.c (the namespace
 * claimed at open). */
#ifndef KT_STORE_ETCD_INTERNAL_H
#define KT_STORE_ETCD_INTERNAL_H

#include "backend.h"

#include "etcd_kv.pb-c.h"

#include <kubetee/rpc.h>
#include <pthread.h>
#include <stdatomic.h>

#define ETCD_KEY_MAX (KT_STORE_KEY_MAX + 1 + KT_STORE_KEY_MAX + 1)
/* The head's value (the key "<namespace>/" itself: every write puts it). */
#define ETCD_HEAD_VALUE "kt_store namespace head"

typedef struct {
    char name[sizeof(((kt_etcd_endpoint *)0)->host) + 8]; /* host:port */
    kt_rpc_client *kv, *watch;
} etcd_endpoint;

typedef struct etcd_lock etcd_lock;

typedef struct {
    etcd_endpoint ep[KT_ETCD_ENDPOINTS_MAX];
    size_t n;
    atomic_size_t cur;             /* the endpoint that answered last */
    char where[1400];              /* "store etcd://host:port,.../ns" for messages */
    char ns[KT_STORE_KEY_MAX + 2]; /* "<namespace>/", also the head key */
    size_t ns_len;
    /* etcd auth: a token from Authenticate in every call's "token" header, asked for
     * again when etcd refuses a call (the token expired, or etcd restarted) */
    bool auth;
    char user[129], password[257];
    pthread_mutex_t auth_mu;
    etcd_lock *lock; /* NULL: the store holds no lock (no holder was named) */
} etcd_store;

/* One try of a call on one endpoint. */
typedef kt_status (*etcd_try_fn)(etcd_store *e, etcd_endpoint *ep, void *ctx);
/* f on the endpoints in turn while they are unavailable (etcd.c). */
kt_status etcd_on_endpoints(etcd_store *e, etcd_try_fn f, void *ctx, bool *retried);
/* The same, rounds of the endpoints starting only within budget_ms of the first try (f
 * bounds each try itself). */
kt_status etcd_on_endpoints_within(etcd_store *e, etcd_try_fn f, void *ctx, bool *retried,
                                   long budget_ms);
/* A unary call on the endpoints in turn, named by the store when it fails. */
typedef kt_status (*etcd_call_fn)(etcd_store *e, const char *method, const void *req, void *res);
kt_status etcd_call(etcd_store *e, const char *method, const void *req, void *res);
/* A Txn creating key (bound to lease, if not 0) when it does not exist (compare its version
 * with 0), made by call (etcd_call, or one bounded otherwise); failing that, the key read
 * (res->responses[0]). res: the caller's to clear. */
kt_status etcd_create(etcd_store *e, ProtobufCBinaryData key, ProtobufCBinaryData value,
                      int64_t lease, etcd_call_fn call, Etcdserverpb__TxnResponse *res);
/* A Txn of one compare, one op on success and (if not NULL) one on failure, made by call. */
kt_status etcd_txn1(etcd_store *e, Etcdserverpb__Compare *cmp, Etcdserverpb__RequestOp *success,
                    Etcdserverpb__RequestOp *failure, etcd_call_fn call,
                    Etcdserverpb__TxnResponse *res);
/* A Txn answer's i-th response when it is a Range's, else NULL. */
const Etcdserverpb__RangeResponse *etcd_txn_range(const Etcdserverpb__TxnResponse *r, size_t i);
/* With auth: true when st is a refusal and a new token was had (try once more). */
bool etcd_login_again(etcd_store *e, kt_status st);
/* At open (etcd_ns.c): the namespace refused, KT_ERR_EXISTS naming both, when it lies
 * inside another kt_store namespace (that one's head exists) or holds one (a new namespace,
 * or one without its head, whose first key is a head); else its head put when missing. */
kt_status etcd_namespace_claim(etcd_store *e);

/* ---- the lock (etcd_lock.c) ---- */

/* The lock key: "<namespace>/#lock". '#' sorts below every byte a store key begins with,
 * so the key lies in the namespace's range (the prefix an operator grants covers it) but
 * between its head and its first store key: a list of the whole namespace starts past it
 * (ETCD_LOCK_NAME + NUL), and watches skip it as they skip the head. */
#define ETCD_LOCK_NAME "#lock"
bool etcd_is_lock(const etcd_store *e, ProtobufCBinaryData k);
/* Takes the namespace's lock for o->holder (a lease of o->lock_ttl_ms, the key created
 * only if absent), and starts the thread that keeps the lease alive. A lock another
 * holds: KT_ERR_UNAVAILABLE naming its holder and its lease's time left. */
kt_status etcd_lock_take(etcd_store *e, const kt_store_options *o);
/* Before a write: KT_ERR_UNAVAILABLE once the lock is lost, or past its deadline (no
 * renewal confirmed for four fifths of its TTL: lost then). */
kt_status etcd_lock_check(etcd_store *e);
/* The compare every write Txn adds (the lock key is still the one this store created,
 * unmodified: its mod_revision is its creation's) and the read its failure branch adds
 * (the lock key, to say why). */
void etcd_lock_compare(etcd_store *e, Etcdserverpb__Compare *cmp, Etcdserverpb__RangeRequest *read);
/* A write Txn's compare failed; r is its read of the lock key: KT_OK when the lock is
 * still this store's (the key's version was the reason), else KT_ERR_UNAVAILABLE, the
 * lock lost (logged, and the holder's lock_lost called). */
kt_status etcd_lock_fenced(etcd_store *e, const Etcdserverpb__RangeResponse *r);
/* Stops the keepalive thread, deletes the lock key if this store created it (also when
 * another client rewrote it) and revokes the lease: STOP_MS after the keeper's last try. */
void etcd_lock_release(etcd_store *e);
void etcd_lock_state(etcd_store *e, kt_store_lock_info *out);
/* Milliseconds left until the lock's deadline (<= 0: past it, or lost), LONG_MAX while it is
 * being taken: the store's own calls (etcd.c) end by then too. */
long etcd_lock_left_ms(const etcd_store *e);

#endif
