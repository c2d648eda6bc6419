/* The host's half of the enclave service: the three gRPC methods, each relaying bytes to
 * the enclave's kt.service.* ECALLs under the session table's limits, and a thread that
 * ends sessions whose handshake or idle time ran out (in the enclave too). The host reads
 * nothing of a session but the id it routes by. */
#include <kubetee/rpc.h>
#include <kubetee/service.h>
#include <kubetee/session.h>
#include <kubetee/svc.h>
#include <kubetee/tff.h>
#include "enclave_service.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_SESSION_REFUSALS (KT_SESSION_STATE + 1)

/* How long the enclave took to judge a client's proof (the Finish step: a quote verified
 * inside the enclave, with collateral over OCALLs, or a key's signature), by outcome. */
static const double latency_le[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
#define N_LE (sizeof latency_le / sizeof latency_le[0])
enum { LAT_QUOTE, LAT_KEY, LAT_REFUSED, N_LAT };
static const char *const latency_label[N_LAT] = {"quote", "key", "refused"};
typedef struct {
    uint64_t bucket[N_LE + 1]; /* the last: over every bound */
    uint64_t count;
    double sum;
} latency;

struct kt_service_host {
    kt_enclave *enclave;
    kt_service_table *table;
    pthread_t expiry;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, started;
    uint64_t session_refusals[N_SESSION_REFUSALS + 1]; /* by kt_session_refusal; last: other */
    uint64_t expire_every_ms;
    uint64_t log_second, log_count, log_suppressed; /* refusal lines: 10 a second */
    latency attest[N_LAT];
};

#define REFUSAL_LINES_PER_SECOND 10

typedef Kubetee__Enclave__V1__EnclaveStep step;
typedef Kubetee__Enclave__V1__EnclaveStepResult step_result;

/* The enclave's refusal, counted by a name the session library has (an allow-list: the
 * enclave's words never become a label), and as the call's error. */
static kt_status enclave_refused(kt_service_host *h, const char *name, const char *reason)
{
    size_t r = N_SESSION_REFUSALS;
    for (size_t i = 1; i < N_SESSION_REFUSALS; i++)
        if (!strcmp(name, kt_session_refusal_name((kt_session_refusal)i))) r = i;
    if (!strcmp(name, "unknown_session")) {
        kt_service_count(h->table, KT_SERVICE_UNKNOWN_SESSION);
    } else {
        pthread_mutex_lock(&h->lock);
        h->session_refusals[r]++;
        pthread_mutex_unlock(&h->lock);
    }
    char esc[64], why[512];
    kt_status code = r == KT_SESSION_PEER_REFUSED ? KT_ERR_DENIED : KT_ERR_VERIFY;
    kt_escape(name, strlen(name), esc, sizeof esc);
    if (reason && *reason)
        return kt_fail(code, "service: %s: %s", esc,
                       kt_escape_text(reason, strlen(reason), why, sizeof why));
    return kt_fail(code, "service: the enclave refused the message: %s", esc);
}

/* One line per session event, the session named by its id (the host routes by it). */
static void log_session(const char *event, const uint8_t id[KT_SERVICE_ID_LEN], const uint8_t *peer)
{
    char ids[2 * KT_SERVICE_ID_LEN + 1], peers[2 * KT_SERVICE_PEER_ID_LEN + 1];
    kt_hex_encode(id, KT_SERVICE_ID_LEN, ids, sizeof ids);
    if (peer) kt_hex_encode(peer, KT_SERVICE_PEER_ID_LEN, peers, sizeof peers);
    kt_log(KT_LOG_INFO, event, "session", ids, peer ? "peer" : NULL, peers, NULL);
}

/* A refused request, in one line, at most REFUSAL_LINES_PER_SECOND lines a second (a
 * flood is counted in /metrics and summed up in the next second's first line). */
static kt_status log_refusal(kt_service_host *h, const char *method, kt_status st)
{
    if (!st) return st;
    uint64_t sec = kt_service_now_ms() / 1000, suppressed = 0;
    bool line;
    pthread_mutex_lock(&h->lock);
    if (sec != h->log_second) {
        suppressed = h->log_suppressed;
        h->log_second = sec;
        h->log_count = h->log_suppressed = 0;
    }
    line = h->log_count < REFUSAL_LINES_PER_SECOND;
    if (line)
        h->log_count++;
    else
        h->log_suppressed++;
    pthread_mutex_unlock(&h->lock);
    if (suppressed) {
        char n[24];
        snprintf(n, sizeof n, "%llu", (unsigned long long)suppressed);
        kt_log(KT_LOG_WARN, "service.refusals_not_logged", "count", n, NULL);
    }
    if (line) {
        char why[512];
        const char *e = kt_last_error();
        kt_log(KT_LOG_WARN, "service.refused", "method", method, "error",
               kt_escape_text(e, strlen(e), why, sizeof why), NULL);
    }
    return st;
}

static kt_status ecall(kt_service_host *h, const char *fn, const uint8_t *msg, size_t n, step_result *res)
{
    step req = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP__INIT;
    req.message.data = (uint8_t *)msg;
    req.message.len = n;
    return kt_enclave_call(h->enclave, fn, &req, res);
}

static void drop(void *ctx, const uint8_t id[KT_SERVICE_ID_LEN])
{
    kt_service_host *h = ctx;
    step_result res = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP_RESULT__INIT;
    if (ecall(h, "kt.service.Drop", id, KT_SERVICE_ID_LEN, &res) == KT_OK) kt_message_clear(&res);
}

static void expired(void *ctx, const uint8_t id[KT_SERVICE_ID_LEN])
{
    log_session("service.session_expired", id, NULL);
    drop(ctx, id);
}

/* Copies the enclave's bytes into the response (call memory). */
static kt_status answer(ProtobufCBinaryData *field, const step_result *res)
{
    return res->message.len ? kt_call_bytes(field, res->message.data, res->message.len) : KT_OK;
}

static kt_status hello(kt_service_host *h, const ProtobufCBinaryData *msg, Kubetee__Enclave__V1__HandshakeResponse *out)
{
    size_t slot;
    kt_status st = kt_service_open(h->table, kt_service_now_ms(), &slot);
    if (st) return st;
    step_result res = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP_RESULT__INIT;
    st = ecall(h, "kt.service.Hello", msg->data, msg->len, &res);
    if (!st && *res.refusal) st = enclave_refused(h, res.refusal, res.reason);
    if (!st && res.session_id.len != KT_SERVICE_ID_LEN) st = kt_fail(KT_ERR_MALFORMED, "service: the enclave gave no session id");
    if (!st && (st = kt_service_bind(h->table, slot, res.session_id.data))) drop(h, res.session_id.data);
    if (st)
        kt_service_release(h->table, slot);
    else
        st = answer(&out->message, &res);
    kt_message_clear(&res);
    return st;
}

static void count_latency(kt_service_host *h, int kind, uint64_t ms)
{
    double sec = (double)ms / 1000.0;
    size_t b = 0;
    while (b < N_LE && sec > latency_le[b]) b++;
    pthread_mutex_lock(&h->lock);
    h->attest[kind].bucket[b]++;
    h->attest[kind].count++;
    h->attest[kind].sum += sec;
    pthread_mutex_unlock(&h->lock);
}

static kt_status finish(kt_service_host *h, const uint8_t id[KT_SERVICE_ID_LEN], const ProtobufCBinaryData *msg)
{
    step_result res = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP_RESULT__INIT;
    uint64_t t0 = kt_service_now_ms();
    kt_status st = ecall(h, "kt.service.Finish", msg->data, msg->len, &res);
    if (!st) count_latency(h, *res.refusal ? LAT_REFUSED : res.proof == KT_SESSION_PROOF_QUOTE ? LAT_QUOTE : LAT_KEY,
                           kt_service_now_ms() - t0);
    if (!st && *res.refusal) {
        st = enclave_refused(h, res.refusal, res.reason);
        if (res.ended) kt_service_remove(h->table, id);
    } else if (!st && res.peer.len != KT_SERVICE_PEER_ID_LEN) {
        st = kt_fail(KT_ERR_MALFORMED, "service: the enclave gave no peer identity");
    } else if (!st && (st = kt_service_establish(h->table, id, res.peer.data, kt_service_now_ms()))) {
        /* over the peer's limit (or not open): ended here and in the enclave */
        kt_status why = st;
        char reason[256];
        snprintf(reason, sizeof reason, "%s", kt_last_error());
        kt_service_remove(h->table, id);
        drop(h, id);
        st = kt_fail(why, "%s", reason);
    } else if (!st) {
        log_session("service.session_established", id, res.peer.data);
    }
    kt_message_clear(&res);
    return st;
}

static kt_status on_handshake(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    kt_service_host *h = ctx;
    const Kubetee__Enclave__V1__HandshakeRequest *req = (const void *)rq;
    kt_status st = kt_service_check_size(h->table, req->message.len);
    uint8_t id[KT_SESSION_ID_LEN];
    /* a Finish names its session; a Hello names none */
    if (!st && kt_session_message_id(req->message.data, req->message.len, id) == KT_OK)
        st = finish(h, id, &req->message);
    else if (!st)
        st = hello(h, &req->message, (Kubetee__Enclave__V1__HandshakeResponse *)rs);
    return log_refusal(h, "Handshake", st);
}

/* A record (a call, or the client's close) for its session, in the session's turn,
 * relayed as bytes: the request (a CallRequest or CloseRequest, whose only field is the
 * record, field 1, as EnclaveStep's) goes to kt.service.Call as it came, and the reply's
 * first field (EnclaveStepResult's message, the record) goes back as the response
 * (CallResponse and CloseResponse are that field alone) without being copied. */
static kt_status relay_record(kt_service_host *h, const uint8_t *req, size_t n, kt_rpc_reply *reply, bool closing)
{
    kt_pb_field rq[1], r[7];
    if (kt_pb_view(req, n, "L", rq, closing ? "service: the CloseRequest" : "service: the CallRequest")) {
        char why[256];
        snprintf(why, sizeof why, "%s", kt_last_error());
        kt_service_count(h->table, KT_SERVICE_UNKNOWN_SESSION);
        return kt_fail(KT_ERR_MALFORMED, "%s (unknown_session)", why);
    }
    kt_status st = kt_service_check_size(h->table, rq[0].len);
    if (st) return st;
    uint8_t id[KT_SESSION_ID_LEN];
    if (kt_session_message_id(rq[0].data, rq[0].len, id) != KT_OK) {
        kt_service_count(h->table, KT_SERVICE_UNKNOWN_SESSION);
        return kt_fail(KT_ERR_MALFORMED, "service: the record names no session (unknown_session)");
    }
    size_t call;
    if ((st = kt_service_call_begin(h->table, id, kt_service_now_ms(), &call))) return st;
    uint8_t *res = NULL;
    size_t len = 0;
    st = kt_enclave_call_packed(h->enclave, "kt.service.Call", kubetee__enclave__v1__enclave_step__descriptor.name,
                                kubetee__enclave__v1__enclave_step_result__descriptor.name, req, n, &res, &len);
    kt_service_call_end(h->table, call, kt_service_now_ms());
    if (!st) st = kt_pb_view(res, len, "LLLLVLV", r, "the enclave's kubetee.enclave.v1.EnclaveStepResult");
    bool last = false; /* the record answers an expired session's request and ends it */
    if (!st && r[3].len) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(r[3].len < 63 ? r[3].len : 63), (const char *)r[3].data);
        char reason[512];
        snprintf(reason, sizeof reason, "%.*s", (int)(r[5].len < 511 ? r[5].len : 511), (const char *)r[5].data);
        st = enclave_refused(h, name, reason);
        /* an expired session's last record: counted, and it goes back (the client hears
         * the end in its session) */
        if (r[0].present && r[4].varint && !closing) st = KT_OK, last = true;
    }
    bool ended = !!r[4].varint;
    if (!st && closing != ended && !last)
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, closing ? "service: Close carried a record that is not a close"
                                                      : "service: Call carried the close record (use Close)");
    if (ended) {
        kt_service_remove(h->table, id);
        log_session(closing && !st ? "service.session_closed" : "service.session_ended", id, NULL);
    }
    if (!st && r[0].present && r[0].data == res + kt_pb_header_len(r[0].len)) {
        kt_rpc_reply_take(reply, res, (size_t)(r[0].data - res) + r[0].len); /* the message field, in place */
        res = NULL;
    } else if (!st && r[0].present) { /* not first: the field alone, copied */
        uint8_t *m = malloc(KT_PB_HEADER_MAX + r[0].len);
        if (!m) st = kt_fail(KT_ERR_NO_MEMORY, "service: out of memory");
        size_t k = m ? kt_pb_header(m, 1, r[0].len) : 0;
        if (m) memcpy(m + k, r[0].data, r[0].len), kt_rpc_reply_take(reply, m, k + r[0].len);
    }
    free(res);
    return st;
}

static kt_status on_call(void *ctx, const uint8_t *req, size_t n, kt_rpc_reply *reply)
{
    return log_refusal(ctx, "Call", relay_record(ctx, req, n, reply, false));
}

static kt_status on_close(void *ctx, const uint8_t *req, size_t n, kt_rpc_reply *reply)
{
    return log_refusal(ctx, "Close", relay_record(ctx, req, n, reply, true));
}

static void *expiry_thread(void *arg)
{
    kt_service_host *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(h->expire_every_ms / 1000);
        ts.tv_nsec += (long)(h->expire_every_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&h->wake, &h->lock, &ts);
        if (h->stop) break;
        pthread_mutex_unlock(&h->lock);
        kt_service_expire(h->table, kt_service_now_ms(), expired, h);
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

kt_status kt_service_host_new(kt_enclave *e, const kt_service_limits *l, kt_service_host **out)
{
    if (!e || !l || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service: NULL argument");
    *out = NULL;
    kt_service_host *h = calloc(1, sizeof *h);
    if (!h) return kt_fail(KT_ERR_NO_MEMORY, "service: out of memory");
    kt_status st = kt_service_table_new(l, &h->table);
    if (st) {
        free(h);
        return st;
    }
    h->enclave = e;
    uint64_t shortest = l->handshake_ms < l->idle_ms ? l->handshake_ms : l->idle_ms;
    h->expire_every_ms = shortest / 4 ? shortest / 4 : 1;
    if (h->expire_every_ms > 1000) h->expire_every_ms = 1000;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    if (pthread_create(&h->expiry, NULL, expiry_thread, h)) {
        kt_service_host_free(h);
        return kt_fail(KT_ERR_NO_MEMORY, "service: no expiry thread");
    }
    h->started = true;
    *out = h;
    return KT_OK;
}

void kt_service_host_free(kt_service_host *h)
{
    if (!h) return;
    if (h->started) {
        pthread_mutex_lock(&h->lock);
        h->stop = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->expiry, NULL);
    }
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->wake);
    kt_service_table_free(h->table);
    free(h);
}

size_t kt_service_host_methods(kt_service_host *h, kt_rpc_method out[KT_SERVICE_METHODS])
{
    const kt_rpc_method m[KT_SERVICE_METHODS] = {
        {"/kubetee.enclave.v1.EnclaveService/Handshake", &kubetee__enclave__v1__handshake_request__descriptor,
         &kubetee__enclave__v1__handshake_response__descriptor, on_handshake, NULL, h},
        {"/kubetee.enclave.v1.EnclaveService/Call", &kubetee__enclave__v1__call_request__descriptor,
         &kubetee__enclave__v1__call_response__descriptor, NULL, NULL, h, on_call},
        {"/kubetee.enclave.v1.EnclaveService/Close", &kubetee__enclave__v1__close_request__descriptor,
         &kubetee__enclave__v1__close_response__descriptor, NULL, NULL, h, on_close},
    };
    memcpy(out, m, sizeof m);
    return KT_SERVICE_METHODS;
}

static void latency_metrics(const latency lat[N_LAT], kt_buf *out)
{
    static const char name[] = "kubetee_enclave_attestation_seconds";
    kt_buf_printf(out, "# HELP %s How long the enclave took to judge a client's proof (its quote verified inside "
                       "the enclave, or its key's signature), by outcome\n# TYPE %s histogram\n", name, name);
    for (int k = 0; k < N_LAT; k++) {
        uint64_t cum = 0;
        for (size_t b = 0; b <= N_LE; b++) {
            cum += lat[k].bucket[b];
            if (b < N_LE)
                kt_buf_printf(out, "%s_bucket{proof=\"%s\",le=\"%g\"} %llu\n", name, latency_label[k], latency_le[b],
                              (unsigned long long)cum);
            else
                kt_buf_printf(out, "%s_bucket{proof=\"%s\",le=\"+Inf\"} %llu\n", name, latency_label[k],
                              (unsigned long long)cum);
        }
        kt_buf_printf(out, "%s_sum{proof=\"%s\"} %.6f\n%s_count{proof=\"%s\"} %llu\n", name, latency_label[k], lat[k].sum,
                      name, latency_label[k], (unsigned long long)lat[k].count);
    }
}

void kt_service_host_metrics(kt_service_host *h, kt_buf *out)
{
    kt_service_metrics(h->table, out);
    uint64_t c[N_SESSION_REFUSALS + 1];
    latency lat[N_LAT];
    pthread_mutex_lock(&h->lock);
    memcpy(c, h->session_refusals, sizeof c);
    memcpy(lat, h->attest, sizeof lat);
    pthread_mutex_unlock(&h->lock);
    latency_metrics(lat, out);
    for (size_t i = 1; i <= N_SESSION_REFUSALS; i++) {
        char label[64];
        snprintf(label, sizeof label, "reason=\"%s\"",
                 i < N_SESSION_REFUSALS ? kt_session_refusal_name((kt_session_refusal)i) : "other");
        kt_metric(out, "kubetee_enclave_session_refusals_total", i == 1 ? "counter" : NULL,
                  i == 1 ? "Session messages the enclave refused, by the session library's reason" : NULL, label,
                  (double)c[i]);
    }
}

size_t kt_service_host_open(kt_service_host *h)
{
    return kt_service_open_count(h->table);
}
