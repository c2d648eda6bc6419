/* The enclave's end of the enclave service: the sessions live here, their keys never leave,
 * and the host reaches them only through these built-in ECALLs, each handing bytes in and
 * out (kubetee.enclave.v1.EnclaveStep / EnclaveStepResult):
 *   kt.service.Hello   Hello -> Reply, with the new session's id
 *   kt.service.Finish  Finish -> (nothing), the session established, with the peer identity
 *   kt.service.Call    request record -> reply record (kt_remote_invoke inside); the
 *                      client's close record -> our close record, and the session ends
 *   kt.service.Drop    session id -> the session freed (the host expired or refused it)
 * A refused message comes back as a refusal name (for the host's counts), never as bytes
 * the session made. kt.service.Call reads and writes its bytes itself (a raw built-in):
 * the step is copied into the session's own buffer once, opened, run and sealed in
 * buffers the session keeps from call to call, and its result copied out once. The clients served are the keys the enclave compiled in
 * (KT_SERVICE_CLIENT_KEYS) and the enclaves its compiled-in policy admits
 * (KT_SERVICE_CLIENT_POLICY: their quotes verified here, collateral and time from the
 * host, the anchor judged by the policy): the host cannot choose them. Or, under a
 * platform policy the enclave sets at run time (kt_service_accept_any_enclave), any
 * enclave whose quote verifies on an accepted platform; its remote functions judge who
 * it is. */
#include <kubetee/attest.h>
#include <kubetee/service.h>
#include <kubetee/session.h>
#include <kubetee/trusted.h>
#include "enclave_service.pb-c.h"
#include "../tff/enclave/trts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* as many as the host's session table may hold (kt_service_table_new's bound) */
#define MAX_SESSIONS (1u << 20)

/* a call's buffers kept for the next one up to this size (larger ones are freed) */
#define KEEP_BUFFER (64u << 10)

typedef struct slot slot;
struct slot {
    kt_session *s;
    uint8_t id[KT_SESSION_ID_LEN];
    bool busy;
    kt_key *keys[KT_SERVICE_MAX_CLIENTS]; /* the session's peer rule points at them */
    size_t n_keys;
    kt_policy *platform; /* the platform gate as it was at the Hello (the peer rule points at it) */
    uint32_t max_age, max_idle; /* a quote peer's session limits as they were at the Hello (0: none) */
    uint32_t max_requests;      /* the same for its requests (no clock: a host that holds its clock) */
    uint32_t requests;          /* requests served in the session */
    int64_t began, last;        /* the host's clock at the Finish and at the last request served */
    slot *hnext; /* in its id's bucket, while it holds a session */
    /* a call's bytes: the step copied in, then the reply step; the request's and the
     * result's plaintext (wiped after each call) */
    kt_buf wire, plain, result;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* each slot allocated once and kept (a pointer to it stays valid while the arrays grow);
 * all freed at the enclave's FINI. Free slots on a stack, sessions found by id through a
 * chained hash (ids are random: their first 8 bytes spread well), both O(1). */
static slot **slots, **free_slots, **buckets;
static size_t n_slots, cap_slots, n_free, n_buckets;
static const uint8_t (*client_raw)[64];
static size_t client_count;
static bool any_client;
static const char *policy_json; /* KT_SERVICE_CLIENT_POLICY's text */
static kt_policy *client_policy; /* parsed once, at the first Hello; lives with the enclave */
static kt_platform_policy platform; /* kt_service_accept_any_enclave's, under the lock */
static bool has_platform;
static uint32_t quote_max_age, quote_max_idle, quote_max_requests; /* kt_service_set_quote_session_limits' */
static kt_service_refused_fn on_refused;      /* kt_service_on_refused's */
/* the session whose request this thread is running (kt_service_caller) */
static __thread slot *current;

void kt_service_set_clients(const uint8_t (*keys)[64], size_t n)
{
    client_raw = keys;
    client_count = n;
}

void kt_service_accept_any_key(void)
{
    any_client = true;
}

void kt_service_set_client_policy(const char *json)
{
    policy_json = json;
}

kt_status kt_service_accept_any_enclave(const kt_platform_policy *p)
{
    if (policy_json)
        return kt_fail(KT_ERR_STATE, "service: the enclave compiled in a client policy (KT_SERVICE_CLIENT_POLICY); "
                                     "a platform policy would be a second gate for quote clients");
    kt_policy *check = NULL;
    kt_status st = p ? kt_policy_from_platform(p, &check) : KT_OK;
    kt_policy_free(check);
    if (st) return st;
    pthread_mutex_lock(&lock);
    has_platform = p != NULL;
    if (p)
        platform = *p;
    else
        memset(&platform, 0, sizeof platform);
    pthread_mutex_unlock(&lock);
    return KT_OK;
}

void kt_service_set_quote_session_limits(uint32_t max_age, uint32_t max_idle, uint32_t max_requests)
{
    pthread_mutex_lock(&lock);
    quote_max_age = max_age;
    quote_max_idle = max_idle;
    quote_max_requests = max_requests;
    pthread_mutex_unlock(&lock);
}

void kt_service_on_refused(kt_service_refused_fn fn)
{
    pthread_mutex_lock(&lock);
    on_refused = fn;
    pthread_mutex_unlock(&lock);
}

/* The platform gate for one session, as it is now (NULL: none set). */
static kt_status load_platform(kt_policy **out)
{
    *out = NULL;
    pthread_mutex_lock(&lock);
    kt_platform_policy p = platform;
    bool has = has_platform;
    pthread_mutex_unlock(&lock);
    return has ? kt_policy_from_platform(&p, out) : KT_OK;
}

/* The compiled-in client policy, parsed under the lock the first time it is needed. */
static kt_status load_policy(const kt_policy **out)
{
    *out = NULL;
    if (!policy_json) return KT_OK;
    kt_status st = KT_OK;
    pthread_mutex_lock(&lock);
    if (!client_policy && (st = kt_policy_parse(policy_json, strlen(policy_json), &client_policy)))
        st = kt_fail_context(st, "service: the compiled-in client policy (KT_SERVICE_CLIENT_POLICY)");
    *out = client_policy;
    pthread_mutex_unlock(&lock);
    return st;
}

__attribute__((destructor)) static void free_policy(void)
{
    kt_policy_free(client_policy);
    client_policy = NULL;
}

kt_status kt_service_caller(kt_session_peer_info *info, uint8_t id[KT_SERVICE_ID_LEN])
{
    if (!current) return kt_fail(KT_ERR_STATE, "service: no session's call runs on this thread");
    kt_status st = kt_session_peer(current->s, info);
    if (!st && id) memcpy(id, current->id, KT_SESSION_ID_LEN);
    return st;
}

static kt_status quote(void *ctx, const uint8_t rd[64], kt_buf *out)
{
    (void)ctx;
    return kt_quote_create(rd, out);
}

/* The compiled-in keys as kt_keys, for one session (its peer rule points at them until
 * the handshake ends, so each session holds its own and frees them with itself). */
static kt_status load_clients(kt_key **keys, size_t *n)
{
    *n = 0;
    pthread_mutex_lock(&lock);
    bool gate = has_platform;
    pthread_mutex_unlock(&lock);
    if (!client_count && (any_client || policy_json || gate)) return KT_OK;
    if (!client_count)
        return kt_fail(KT_ERR_DENIED, "service: the enclave names no clients (KT_SERVICE_CLIENT_KEYS or "
                                      "KT_SERVICE_CLIENT_POLICY)");
    if (client_count > KT_SERVICE_MAX_CLIENTS)
        return kt_fail(KT_ERR_TOO_LARGE, "service: more than %d client keys", KT_SERVICE_MAX_CLIENTS);
    for (size_t i = 0; i < client_count; i++) {
        kt_status st = kt_key_from_public_raw(KT_KEY_P256, client_raw[i], 64, &keys[i]);
        if (st) return kt_fail_context(st, "service: client key %zu", i);
        *n = i + 1;
    }
    return KT_OK;
}

static void free_keys(kt_key **keys, size_t n)
{
    for (size_t i = 0; i < n; i++) kt_key_free(keys[i]);
}

static slot **bucket_of(const uint8_t id[KT_SESSION_ID_LEN])
{
    return &buckets[kt_le64(id) & (n_buckets - 1)];
}

static slot *find(const uint8_t id[KT_SESSION_ID_LEN])
{
    if (!n_buckets) return NULL;
    for (slot *sl = *bucket_of(id); sl; sl = sl->hnext)
        if (!memcmp(sl->id, id, KT_SESSION_ID_LEN)) return sl;
    return NULL;
}

static void index_add(slot *sl)
{
    slot **b = bucket_of(sl->id);
    sl->hnext = *b;
    *b = sl;
}

static void index_remove(slot *sl)
{
    slot **p = bucket_of(sl->id);
    while (*p && *p != sl) p = &(*p)->hnext;
    if (*p) *p = sl->hnext;
    sl->hnext = NULL;
}

/* Room for cap slots: the arrays grown, the index rebuilt with twice as many buckets. */
static bool grow(size_t cap)
{
    slot **a = realloc(slots, cap * sizeof *a);
    if (!a) return false;
    slots = a;
    if (!(a = realloc(free_slots, cap * sizeof *a))) return false;
    free_slots = a;
    slot **b = calloc(2 * cap, sizeof *b);
    if (!b) return false;
    free(buckets);
    buckets = b;
    n_buckets = 2 * cap;
    cap_slots = cap;
    for (size_t i = 0; i < n_slots; i++)
        if (slots[i]->s) index_add(slots[i]);
    return true;
}

/* A free slot, a new one when every slot holds a session; NULL at MAX_SESSIONS or
 * without memory. Under the lock. */
static slot *free_slot(void)
{
    if (n_free) return free_slots[--n_free];
    if (n_slots == MAX_SESSIONS) return NULL;
    if (n_slots == cap_slots && !grow(cap_slots ? 2 * cap_slots : 16)) return NULL;
    slot *sl = calloc(1, sizeof *sl);
    if (sl) slots[n_slots++] = sl;
    return sl;
}

/* The slot back on the free stack, its buffers kept. Under the lock. */
static void unused(slot *sl)
{
    free_slots[n_free++] = sl;
}

static void release(slot *sl)
{
    if (sl->s) index_remove(sl);
    kt_session_free(sl->s);
    kt_policy_free(sl->platform);
    free_keys(sl->keys, sl->n_keys);
    sl->s = NULL;
    sl->platform = NULL;
    sl->n_keys = 0;
    sl->busy = false;
    memset(sl->id, 0, sizeof sl->id);
    memset(sl->keys, 0, sizeof sl->keys);
    unused(sl);
}

static kt_status put_bytes(ProtobufCBinaryData *f, const void *p, size_t n)
{
    return n ? kt_call_bytes(f, p, n) : KT_OK;
}

static kt_status refused(Kubetee__Enclave__V1__EnclaveStepResult *res, const char *why)
{
    res->refusal = kt_call_strdup(why);
    return res->refusal ? KT_OK : KT_ERR_NO_MEMORY;
}

static kt_status hello(const Kubetee__Enclave__V1__EnclaveStep *req, Kubetee__Enclave__V1__EnclaveStepResult *res)
{
    /* a place is reserved under the lock; the handshake (a quote, through the host) runs
     * outside it, so one Hello does not hold up every other session's calls */
    pthread_mutex_lock(&lock);
    slot *sl = free_slot();
    if (sl) {
        sl->busy = true;
        sl->max_age = quote_max_age;
        sl->max_idle = quote_max_idle;
        sl->max_requests = quote_max_requests;
        sl->requests = 0;
        sl->began = sl->last = 0;
    }
    pthread_mutex_unlock(&lock);
    if (!sl) return kt_fail(KT_ERR_TOO_LARGE, "service: the enclave holds %zu sessions", n_slots);
    /* the reserved slot is this call's alone: the keys go straight into it, since the
     * session's peer rule keeps pointing at that array until the handshake ends */
    kt_session *s = NULL;
    uint8_t id[KT_SESSION_ID_LEN];
    kt_buf out = {0};
    const kt_policy *policy = NULL;
    kt_status st = load_clients(sl->keys, &sl->n_keys);
    if (!st) st = load_policy(&policy);
    if (!st && !policy && !(st = load_platform(&sl->platform))) policy = sl->platform;
    /* now 0: the host's clock when the client's quote is verified (at Finish) */
    kt_session_config c = {.role = KT_SESSION_RESPONDER, .quote = quote};
    c.peer.keys = (const kt_key *const *)sl->keys;
    c.peer.key_count = sl->n_keys;
    c.peer.any_key = any_client;
    c.peer.policy = policy; /* collateral NULL: the host's, for each client quote */
    if (!st) st = kt_session_new(&c, &s);
    if (!st && kt_session_handshake(s, req->message.data, req->message.len, &out)) {
        st = refused(res, kt_session_refusal_name(kt_session_last_refusal(s)));
        kt_session_free(s);
        s = NULL;
    } else if (!st && !(st = kt_session_id(s, id)) && !(st = put_bytes(&res->message, out.data, out.len))) {
        st = put_bytes(&res->session_id, id, KT_SESSION_ID_LEN);
    }
    kt_buf_free(&out);
    pthread_mutex_lock(&lock);
    if (!st && s) {
        sl->s = s;
        memcpy(sl->id, id, KT_SESSION_ID_LEN);
        index_add(sl);
    } else {
        kt_session_free(s);
        free_keys(sl->keys, sl->n_keys);
        sl->n_keys = 0;
        kt_policy_free(sl->platform);
        sl->platform = NULL;
        unused(sl);
    }
    sl->busy = false;
    pthread_mutex_unlock(&lock);
    return st;
}

/* The session with that id, taken for this call; NULL (*busy when it is in another
 * call: the host orders a session's calls, so a second one at once is refused). */
static slot *take_id(const uint8_t id[KT_SESSION_ID_LEN], bool *busy)
{
    pthread_mutex_lock(&lock);
    slot *sl = find(id);
    *busy = sl && sl->busy;
    if (sl && !*busy) sl->busy = true;
    pthread_mutex_unlock(&lock);
    return *busy ? NULL : sl;
}

/* The session a Finish names, taken for this call; refusal set when none. */
static slot *take(const ProtobufCBinaryData *msg, Kubetee__Enclave__V1__EnclaveStepResult *res, kt_status *st)
{
    uint8_t id[KT_SESSION_ID_LEN];
    bool busy = false;
    slot *sl = kt_session_message_id(msg->data, msg->len, id) == KT_OK ? take_id(id, &busy) : NULL;
    if (!sl) {
        *st = refused(res, busy ? "busy" : "unknown_session");
        return NULL;
    }
    *st = put_bytes(&res->session_id, sl->id, KT_SESSION_ID_LEN);
    return sl;
}

static void give_back(slot *sl, bool end)
{
    pthread_mutex_lock(&lock);
    if (end)
        release(sl);
    else
        sl->busy = false;
    pthread_mutex_unlock(&lock);
}

/* What the handshake proved, hashed: the host counts sessions per peer by it. */
static kt_status peer_identity(const kt_session *s, uint8_t out[KT_SHA256_LEN], uint32_t *proof)
{
    kt_session_peer_info p;
    kt_status st = kt_session_peer(s, &p);
    if (st) return st;
    *proof = (uint32_t)p.proof;
    uint8_t b[1 + 64];
    b[0] = (uint8_t)p.proof;
    if (p.proof == KT_SESSION_PROOF_QUOTE) {
        memcpy(b + 1, p.enclave.mrenclave, 32);
        memcpy(b + 33, p.enclave.mrsigner, 32);
    } else {
        memcpy(b + 1, p.public_key, 64);
    }
    return kt_sha256(b, sizeof b, out);
}

static kt_status finish(const Kubetee__Enclave__V1__EnclaveStep *req, Kubetee__Enclave__V1__EnclaveStepResult *res)
{
    kt_status st;
    slot *sl = take(&req->message, res, &st);
    if (!sl) return st;
    kt_buf out = {0};
    bool end = false;
    kt_session_peer_info claim;
    bool tell = false, proved = false; /* a refused peer to hand to the enclave's on_refused; what it proved */
    if (kt_session_handshake(sl->s, req->message.data, req->message.len, &out)) {
        kt_session_refusal r = kt_session_last_refusal(sl->s);
        /* a peer refused is told why (its own proof against the gate), in words */
        if (r == KT_SESSION_PEER_REFUSED && !(res->reason = kt_call_strdup(kt_last_error()))) st = KT_ERR_NO_MEMORY;
        tell = !st && r == KT_SESSION_PEER_REFUSED;
        proved = tell && kt_session_peer_claim(sl->s, &claim) == KT_OK;
        if (!st) st = refused(res, kt_session_refusal_name(r));
        end = true; /* a refused handshake message ends the handshake */
    } else {
        uint8_t peer[KT_SHA256_LEN];
        if (!(st = peer_identity(sl->s, peer, &res->proof))) st = put_bytes(&res->peer, peer, sizeof peer);
        /* a quote peer's age and idleness count from here, by the host's clock */
        time_t now;
        if (!st && res->proof == KT_SESSION_PROOF_QUOTE && (sl->max_age || sl->max_idle) &&
            !(st = kt_attest_host_time(&now)))
            sl->began = sl->last = (int64_t)now;
    }
    kt_buf_free(&out);
    res->ended = end || st;
    give_back(sl, end || st);
    pthread_mutex_lock(&lock);
    kt_service_refused_fn fn = on_refused;
    pthread_mutex_unlock(&lock);
    if (tell && fn) fn(res->reason, proved ? &claim : NULL); /* outside the lock: it may make OCALLs */
    return st;
}

/* ---- kt.service.Call on the bytes ----
 * In: an EnclaveStep (field 1, the record). Out: an EnclaveStepResult written here, in
 * field order, so the host can send its first field on as the CallResponse as it is:
 * message (1) the reply record, session_id (2), refusal (4), ended (5). */

/* The session id a step's record names, from a copy of the step's head (the host may
 * change its bytes meanwhile: the session refuses a record that is not its own). */
static kt_status step_id(const uint8_t *req, size_t n, uint8_t id[KT_SESSION_ID_LEN])
{
    uint8_t head[KT_PB_HEADER_MAX + 24];
    size_t h = n < sizeof head ? n : sizeof head, at = 1, len = 0;
    if (h) memcpy(head, req, h);
    if (h < 2 || head[0] != 0x0a) return kt_fail(KT_ERR_MALFORMED, "service: the step holds no record");
    for (unsigned shift = 0; at < h && shift < 35; shift += 7) {
        len |= (size_t)(head[at] & 0x7f) << shift;
        if (!(head[at++] & 0x80)) return kt_session_message_id(head + at, len < h - at ? len : h - at, id);
    }
    return kt_fail(KT_ERR_MALFORMED, "service: the step's record length is not a varint");
}

/* The result's fields after the message: the session id, the refusal, ended, the reason
 * (an expired session's, for its peer). At most TRAILER_MAX bytes. */
#define REASON_MAX 300
#define TRAILER_MAX (2 + KT_SESSION_ID_LEN + 2 + 64 + 2 + KT_PB_HEADER_MAX + REASON_MAX)
static size_t trailer(uint8_t *p, const uint8_t *id, const char *refusal, bool ended, const char *reason)
{
    size_t k = 0, r = refusal ? strlen(refusal) : 0; /* the session library's names */
    size_t w = reason ? strlen(reason) : 0;
    if (r > 64) r = 64;
    if (w > REASON_MAX) w = REASON_MAX;
    if (id) {
        k += kt_pb_header(p + k, 2, KT_SESSION_ID_LEN);
        memcpy(p + k, id, KT_SESSION_ID_LEN);
        k += KT_SESSION_ID_LEN;
    }
    if (r) {
        k += kt_pb_header(p + k, 4, r);
        memcpy(p + k, refusal, r);
        k += r;
    }
    if (ended) p[k++] = 5 << 3, p[k++] = 1;
    if (w) {
        k += kt_pb_header(p + k, 6, w);
        memcpy(p + k, reason, w);
        k += w;
    }
    return k;
}

/* The reply record into sl->wire (which held the request, read by now): the enclave's
 * close for a close, else the result sealed, then the trailer. */
static kt_status reply_step(slot *sl, const char *function, bool closing, const char *refusal, const char *why)
{
    kt_buf *w = &sl->wire;
    w->len = 0;
    kt_status st = KT_OK;
    if (closing) {
        kt_buf close = {0};
        if (!(st = kt_session_close(sl->s, &close)) && !(st = kt_buf_reserve(w, KT_PB_HEADER_MAX + close.len))) {
            w->len = kt_pb_header(w->data, 1, close.len);
            memcpy(w->data + w->len, close.data, close.len);
            w->len += close.len;
        }
        kt_buf_free(&close);
    } else if (!refusal || why) { /* a result, or an expired session's last one */
        size_t r = kt_session_record_len(function, sl->result.len);
        kt_bytes part = {sl->result.data, sl->result.len};
        if (!(st = kt_buf_reserve(w, KT_PB_HEADER_MAX + r + TRAILER_MAX))) {
            size_t h = kt_pb_header(w->data, 1, r);
            if (!(st = kt_session_seal_into(sl->s, function, &part, 1, w->data + h, r))) w->len = h + r;
        }
    }
    if (!st) st = kt_buf_reserve(w, TRAILER_MAX);
    if (!st) w->len += trailer(w->data + w->len, sl->id, refusal, closing || why, why);
    return st;
}

/* A call's plaintext wiped, and its buffers kept for the next call unless large. */
static void call_done(slot *sl)
{
    kt_buf *keep[] = {&sl->wire, &sl->plain, &sl->result};
    kt_wipe(sl->plain.data, sl->plain.len);
    kt_wipe(sl->result.data, sl->result.len);
    for (size_t i = 0; i < 3; i++) {
        keep[i]->len = 0;
        if (keep[i]->cap > KEEP_BUFFER) kt_buf_free(keep[i]);
    }
}

/* A quote peer is served only while its attestation holds (valid_until, by the host's
 * clock, as at the handshake), and within the session limits it took at its Hello (its
 * requests served, counted without any clock; its age since the Finish, its idleness
 * since its last request): past any the session ends, refused as expired with why in
 * why, and the client must re-attest with a new handshake. A clock that steps back makes
 * no session younger. Key peers never expire. */
static bool expired(slot *sl, char *why, size_t cap)
{
    kt_session_peer_info p;
    time_t t;
    if (kt_session_peer(sl->s, &p) || p.proof != KT_SESSION_PROOF_QUOTE ||
        (!p.valid_until && !sl->max_age && !sl->max_idle && !sl->max_requests))
        return false;
    if (sl->max_requests && sl->requests >= sl->max_requests) {
        snprintf(why, cap, "session: %u requests served, the enclave's maximum for one session; re-attest with a new "
                           "handshake", (unsigned)sl->requests);
        return true;
    }
    kt_frame f; /* the OCALL's call memory (the raw path runs outside a function's frame) */
    kt_frame_push(&f);
    kt_status st = kt_attest_host_time(&t);
    kt_frame_pop(&f);
    if (st) {
        snprintf(why, cap, "%s", kt_last_error());
        return true;
    }
    if (p.valid_until && t > p.valid_until) { /* the session stays open for the last record (it ends with it) */
        snprintf(why, cap, "session: the peer's attestation held until %lld, now is %lld; re-attest with a new handshake",
                 (long long)p.valid_until, (long long)t);
        return true;
    }
    int64_t now = (int64_t)t < sl->last ? sl->last : (int64_t)t;
    if (sl->max_age && now - sl->began > (int64_t)sl->max_age) {
        snprintf(why, cap,
                 "session: its handshake was %lld s ago, past the enclave's maximum session age of %u s; re-attest "
                 "with a new handshake",
                 (long long)(now - sl->began), (unsigned)sl->max_age);
        return true;
    }
    if (sl->max_idle && now - sl->last > (int64_t)sl->max_idle) {
        snprintf(why, cap,
                 "session: idle for %lld s, past the enclave's maximum idle time of %u s; re-attest with a new "
                 "handshake",
                 (long long)(now - sl->last), (unsigned)sl->max_idle);
        return true;
    }
    sl->last = now;
    sl->requests++;
    return false;
}

/* The CallResult of a request refused because its session ended: KT_ERR_CANCELLED and
 * KT_SERVICE_ENDED_EXPIRED then why. */
static kt_status ended_result(kt_buf *out, const char *why)
{
    char reason[REASON_MAX + sizeof KT_SERVICE_ENDED_EXPIRED];
    snprintf(reason, sizeof reason, KT_SERVICE_ENDED_EXPIRED "%s", why);
    Kubetee__Enclave__V1__CallResult r = KUBETEE__ENCLAVE__V1__CALL_RESULT__INIT;
    r.status = KT_ERR_CANCELLED;
    r.reason = reason;
    out->len = 0;
    kt_status st = kt_buf_reserve(out, kubetee__enclave__v1__call_result__get_packed_size(&r));
    if (!st) out->len = kubetee__enclave__v1__call_result__pack(&r, out->data);
    return st;
}

static kt_status call_raw(const uint8_t *req, size_t n, kt_raw_reply *reply)
{
    uint8_t id[KT_SESSION_ID_LEN], t[TRAILER_MAX];
    bool busy = false;
    slot *sl = step_id(req, n, id) == KT_OK ? take_id(id, &busy) : NULL;
    if (!sl) return kt_raw_reply_bytes(reply, t, trailer(t, NULL, busy ? "busy" : "unknown_session", false, NULL));
    /* copied in before it is read: from here only the copy counts */
    kt_pb_field f[1];
    const char *refusal = NULL, *ended = NULL;
    char function[KT_SESSION_NAME_MAX + 1], why[REASON_MAX + 1];
    bool closing = false;
    sl->wire.len = 0;
    kt_status st = kt_buf_append(&sl->wire, req, n);
    if (!st && (kt_pb_view(sl->wire.data, n, "L", f, "kubetee.enclave.v1.EnclaveStep") || !f[0].present)) {
        refusal = kt_session_refusal_name(KT_SESSION_MALFORMED);
    } else if (!st) {
        kt_status o = kt_session_open(sl->s, f[0].data, f[0].len, function, &sl->plain);
        if (o == KT_ERR_CANCELLED) {
            closing = true; /* the client's close: ours back, and the session is gone */
        } else if (o) {
            /* a refused record changes nothing in the session; the host counts the reason */
            refusal = kt_session_refusal_name(kt_session_last_refusal(sl->s));
        } else if (expired(sl, why, sizeof why)) {
            /* the peer is told in its session (a sealed CallResult no host can make up) that
             * the session ended and the request did not run; the trailer tells the host */
            refusal = kt_session_refusal_name(KT_SESSION_EXPIRED);
            ended = why;
            st = ended_result(&sl->result, why);
        } else {
            current = sl;
            st = kt_remote_invoke(function, sl->plain.data, sl->plain.len, &sl->result);
            current = NULL;
        }
    }
    if (!st) st = reply_step(sl, function, closing, refusal, ended);
    if (!st) st = kt_raw_reply_bytes(reply, sl->wire.data, sl->wire.len);
    call_done(sl);
    give_back(sl, closing || ended);
    return st;
}

static kt_status drop(const Kubetee__Enclave__V1__EnclaveStep *req, Kubetee__Enclave__V1__EnclaveStepResult *res)
{
    kt_status st = KT_OK;
    pthread_mutex_lock(&lock);
    slot *sl = req->message.len == KT_SESSION_ID_LEN ? find(req->message.data) : NULL;
    if (!sl)
        st = refused(res, "unknown_session");
    else if (sl->busy)
        st = refused(res, "busy");
    else
        release(sl);
    pthread_mutex_unlock(&lock);
    return st;
}

#define STEP(fn, fname)                                                                                           \
    static kt_status fn##_adapter(const ProtobufCMessage *rq, ProtobufCMessage *rs)                             \
    {                                                                                                             \
        return fn((const Kubetee__Enclave__V1__EnclaveStep *)rq, (Kubetee__Enclave__V1__EnclaveStepResult *)rs); \
    }                                                                                                             \
    static const kt_function fn##_fn = {fname,                                                                   \
                                        &kubetee__enclave__v1__enclave_step__descriptor,                         \
                                        &kubetee__enclave__v1__enclave_step_result__descriptor,                  \
                                        fn##_adapter,                                                            \
                                        sizeof(Kubetee__Enclave__V1__EnclaveStep),                               \
                                        sizeof(Kubetee__Enclave__V1__EnclaveStepResult)};
STEP(hello, "kt.service.Hello")
STEP(finish, "kt.service.Finish")
STEP(drop, "kt.service.Drop")
static const kt_function call_fn = {"kt.service.Call",
                                    &kubetee__enclave__v1__enclave_step__descriptor,
                                    &kubetee__enclave__v1__enclave_step_result__descriptor,
                                    NULL,
                                    sizeof(Kubetee__Enclave__V1__EnclaveStep),
                                    sizeof(Kubetee__Enclave__V1__EnclaveStepResult),
                                    call_raw};

/* The enclave is being destroyed (no call in flight): every session and its keys go. */
static void fini(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_slots; i++) {
        if (slots[i]->s) release(slots[i]);
        kt_buf_free(&slots[i]->wire);
        kt_buf_free(&slots[i]->plain);
        kt_buf_free(&slots[i]->result);
        free(slots[i]);
    }
    free(slots);
    free(free_slots);
    free(buckets);
    slots = free_slots = buckets = NULL;
    n_slots = cap_slots = n_free = n_buckets = 0;
    pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void register_steps(void)
{
    kt_trts_add_fini(fini);
    kt_trts_add_builtin(&hello_fn);
    kt_trts_add_builtin(&finish_fn);
    kt_trts_add_builtin(&call_fn);
    kt_trts_add_builtin(&drop_fn);
}
