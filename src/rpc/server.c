/* gRPC servers. A request is kept outstanding for each method on the server's completion
 * queue, and the pool's threads (pool.c) that are not serving wait on that queue
 * themselves. The thread that receives a call decides at once what becomes of it: it is
 * refused there (unknown method, shutting down, compressed, oversized headers, deadline
 * already passed, the connection's share used, or every worker serving and the queue
 * full: RESOURCE_EXHAUSTED), served by that same thread, or queued when every worker is
 * serving. A call is served on a pluck completion queue of its own (reused from call to
 * call), so handlers may block. Refusals cost one cancel and nothing more. */
#include "internal.h"
#include "../tff/common/runtime.h"

#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct pending pending;

typedef enum {
    REFUSED_BUSY,
    REFUSED_UNKNOWN_METHOD,
    REFUSED_SHUTTING_DOWN,
    REFUSED_METADATA,
    REFUSED_COMPRESSED,
    REFUSED_DEADLINE,
    REFUSED_BAD_REQUEST,
    REFUSED_CONNECTION_SHARE,
    REFUSED_SEND_STALLED,
    REFUSED_ADDRESS_SHARE,
    REFUSED_FRAMING,
    REFUSED_N
} refusal;

static const char *const refusal_names[REFUSED_N] = {
    [REFUSED_BUSY] = "busy",
    [REFUSED_UNKNOWN_METHOD] = "unknown_method",
    [REFUSED_SHUTTING_DOWN] = "shutting_down",
    [REFUSED_METADATA] = "metadata_too_large",
    [REFUSED_COMPRESSED] = "compressed",
    [REFUSED_DEADLINE] = "deadline_passed",
    [REFUSED_BAD_REQUEST] = "bad_request",
    [REFUSED_CONNECTION_SHARE] = "connection_share",
    [REFUSED_SEND_STALLED] = "send_stalled",
    [REFUSED_ADDRESS_SHARE] = "address_share",
    [REFUSED_FRAMING] = "framing",
};

struct kt_rpc_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    grpc_resource_quota *quota;
    kt_rpc_limits limits;
    kt_rpc_pool *pool;
    kt_rpc_method *methods;
    void **tags; /* registered method handles */
    size_t n;
    char address[512];
    grpc_completion_queue **spare; /* per-call queues, empty, for the next calls */
    unsigned nspare, max_spare;
    bool started, stopped, stuck;
    int port;
    atomic_bool stopping; /* no new calls; streams end */
    atomic_bool ending;   /* the grace is over: calls still here are being ended */
    pthread_mutex_t lock;
    pending *calls; /* received and not finished: queued or being served */
    unsigned active;
    atomic_ulong served, refused[REFUSED_N];
    kt_rpc_log_budget log; /* refusal lines */
};

/* One outstanding request for a method, then the call it became. */
#define UNKNOWN_METHOD ((size_t)-1)

struct pending {
    kt_rpc_server *s;
    size_t method; /* UNKNOWN_METHOD: a call to a method nobody registered */
    grpc_call_details details;
    grpc_completion_queue *cq; /* the call's own */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    pending *prev, *next; /* in s->calls */
    uint64_t peer, addr;  /* hashes of the connection's peer (address and port), address */
    int close_tag;
    int cancelled;
    bool closed;
};

struct kt_rpc_stream {
    pending *p;
};

/* The call the handler on this thread serves. */
static _Thread_local pending *current;

static void drain_cq(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

static kt_status arm(kt_rpc_server *s, size_t m)
{
    pending *p = calloc(1, sizeof *p);
    if (!p) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    p->s = s;
    p->method = m;
    pthread_mutex_lock(&s->lock);
    p->cq = s->nspare ? s->spare[--s->nspare] : NULL;
    pthread_mutex_unlock(&s->lock);
    if (!p->cq) p->cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_metadata_array_init(&p->md);
    grpc_call_details_init(&p->details);
    grpc_call_error e =
        m == UNKNOWN_METHOD
            ? grpc_server_request_call(s->server, &p->call, &p->details, &p->md, p->cq, s->cq, p)
            : grpc_server_request_registered_call(s->server, s->tags[m], &p->call, &p->deadline,
                                                  &p->md, &p->payload, p->cq, s->cq, p);
    if (e != GRPC_CALL_OK) {
        drain_cq(p->cq);
        grpc_metadata_array_destroy(&p->md);
        grpc_call_details_destroy(&p->details);
        free(p);
        return kt_fail(KT_ERR_STATE, "rpc: cannot request calls (%d)", (int)e);
    }
    return KT_OK;
}

/* Runs a batch on the call's queue and waits for it. */
static bool batch(pending *p, grpc_op *ops, size_t n, void *tag)
{
    if (grpc_call_start_batch(p->call, ops, n, tag, NULL) != GRPC_CALL_OK) return false;
    grpc_event ev =
        grpc_completion_queue_pluck(p->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static void send_status(pending *p, kt_status st, grpc_byte_buffer *msg, bool send_md)
{
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    int tag;
    grpc_slice details = grpc_slice_from_copied_string(st ? kt_last_error() : "");
    if (send_md) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (msg) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = msg;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = kt_rpc_code_of(st);
    ops[n++].data.send_status_from_server.status_details = &details;
    batch(p, ops, n, &tag);
    grpc_slice_unref(details);
}

/* Every batch of the call has completed and been plucked by now: its queue is empty and
 * serves a next call (creating one per call cost ~7% of a unary call's CPU). */
static void release(pending *p)
{
    kt_rpc_server *s = p->s;
    if (p->payload) grpc_byte_buffer_destroy(p->payload);
    grpc_metadata_array_destroy(&p->md);
    grpc_call_details_destroy(&p->details);
    if (p->call) grpc_call_unref(p->call);
    pthread_mutex_lock(&s->lock);
    bool kept = s->nspare < s->max_spare;
    if (kept) s->spare[s->nspare++] = p->cq;
    pthread_mutex_unlock(&s->lock);
    if (!kept) drain_cq(p->cq);
    free(p);
}

static void finish(pending *p)
{
    kt_rpc_server *s = p->s;
    pthread_mutex_lock(&s->lock);
    if (p->prev)
        p->prev->next = p->next;
    else
        s->calls = p->next;
    if (p->next) p->next->prev = p->prev;
    s->active--;
    pthread_mutex_unlock(&s->lock);
    release(p);
}

/* Logs a refusal within the server's budget; the next line logged says how many were
 * not. */
static void log_refusal(kt_rpc_server *s, refusal why, const char *detail)
{
    char n[16];
    if (!kt_rpc_log_allowed(&s->log, n)) return;
    kt_log(KT_LOG_WARN, "rpc.refused", "address", s->address, "reason", refusal_names[why],
           "detail", detail, "not_logged_before", n, NULL);
}

/* Ends a call with code and message at once, from any thread, without waiting for it. */
static void refuse(pending *p, refusal why, grpc_status_code code, const char *message)
{
    kt_rpc_server *s = p->s;
    atomic_fetch_add(&s->refused[why], 1);
    log_refusal(s, why, message);
    grpc_call_cancel_with_status(p->call, code, message, NULL);
}

static bool deadline_passed(const pending *p)
{
    gpr_timespec d = gpr_convert_clock_type(p->deadline, GPR_CLOCK_MONOTONIC);
    return gpr_time_cmp(d, gpr_now(GPR_CLOCK_MONOTONIC)) <= 0;
}

/* Has the call ended under the handler (client cancelled or gone, deadline, shutdown)? */
static bool call_over(pending *p)
{
    if (p->closed || atomic_load(&p->s->ending)) return true;
    if (deadline_passed(p)) return true;
    grpc_event ev =
        grpc_completion_queue_pluck(p->cq, &p->close_tag, gpr_time_0(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type == GRPC_OP_COMPLETE) p->closed = true;
    return p->closed;
}

grpc_call *kt_rpc_current_call(void)
{
    return current ? current->call : NULL;
}

bool kt_rpc_cancelled(void)
{
    return current && call_over(current);
}

long kt_rpc_time_left_ms(void)
{
    if (!current) return -1;
    gpr_timespec d = gpr_convert_clock_type(current->deadline, GPR_CLOCK_MONOTONIC);
    if (gpr_time_cmp(d, gpr_inf_future(GPR_CLOCK_MONOTONIC)) == 0) return -1;
    gpr_timespec left = gpr_time_sub(d, gpr_now(GPR_CLOCK_MONOTONIC));
    if (gpr_time_cmp(left, gpr_time_0(GPR_TIMESPAN)) <= 0) return 0;
    int64_t ms = gpr_time_to_millis(left);
    return ms > LONG_MAX ? LONG_MAX : (long)ms;
}

/* A handler that failed because its call ended says why in the status a retry policy
 * reads: past the deadline DEADLINE_EXCEEDED, the server stopping UNAVAILABLE (never
 * CANCELLED). */
static kt_status why_over(pending *p, kt_status st)
{
    if (!call_over(p)) return st; /* the handler's own reason */
    if (atomic_load(&p->s->stopping)) return kt_fail(KT_ERR_UNAVAILABLE, "server shutting down");
    if (deadline_passed(p)) return kt_fail(KT_ERR_TIMEOUT, "deadline passed");
    return st;
}

/* The handler is done: the call's close awaited (its batch holds the call), the call
 * finished. */
static void end_call(pending *p)
{
    current = NULL;
    if (!p->closed)
        grpc_completion_queue_pluck(p->cq, &p->close_tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    finish(p);
}

void kt_rpc_reply_take(kt_rpc_reply *r, uint8_t *p, size_t n)
{
    if (!r) {
        free(p);
        return;
    }
    free(r->data);
    r->data = p;
    r->len = p ? n : 0;
}

/* A raw method: the request's bytes to the handler, its bytes back as the response's
 * slice (handed to gRPC, not copied). KT_ERR_MALFORMED and the like before the handler
 * runs count as bad requests, as an unpack failure does. */
static kt_status serve_raw(pending *p, const kt_rpc_method *m, grpc_byte_buffer **out)
{
    grpc_slice all;
    kt_status st = kt_rpc_bytes(p->payload, KT_RPC_MAX_MESSAGE, &all);
    if (st) {
        atomic_fetch_add(&p->s->refused[REFUSED_BAD_REQUEST], 1);
        return st;
    }
    kt_rpc_reply r = {0};
    kt_clear_error();
    st = m->raw(m->ctx, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), &r);
    grpc_slice_unref(all);
    if (!st && r.len > KT_RPC_MAX_MESSAGE)
        st = kt_fail(KT_ERR_TOO_LARGE, "rpc: response of %zu bytes over %u", r.len, KT_RPC_MAX_MESSAGE);
    if (st) {
        free(r.data);
        return why_over(p, st);
    }
    grpc_slice slice = r.data ? grpc_slice_new(r.data, r.len, free) : grpc_empty_slice();
    *out = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return KT_OK;
}

static void serve_call(void *arg)
{
    pending *p = arg;
    kt_rpc_server *s = p->s;
    const kt_rpc_method *m = &s->methods[p->method];
    /* learn when the client closes or cancels, without waiting for it */
    kt_rpc_stream stream = {p};
    grpc_op close_op;
    memset(&close_op, 0, sizeof close_op);
    close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    close_op.data.recv_close_on_server.cancelled = &p->cancelled;
    if (grpc_call_start_batch(p->call, &close_op, 1, &p->close_tag, NULL) != GRPC_CALL_OK)
        p->closed = true;
    if (p->closed || atomic_load(&s->ending) || deadline_passed(p)) {
        /* ended while it waited in the queue. At shutdown the client has its status
         * already; past the deadline gRPC's own timer may not have fired yet (late under
         * load), and a plain cancel would send CANCELLED, which retry policies skip. The
         * close batch still holds the call until its completion is plucked. */
        if (!p->closed) {
            if (atomic_load(&s->ending))
                grpc_call_cancel_with_status(p->call, GRPC_STATUS_UNAVAILABLE,
                                             "server shutting down", NULL);
            else
                refuse(p, REFUSED_DEADLINE, GRPC_STATUS_DEADLINE_EXCEEDED,
                       "deadline passed while queued");
            grpc_completion_queue_pluck(p->cq, &p->close_tag, gpr_inf_future(GPR_CLOCK_REALTIME),
                                        NULL);
        }
        finish(p);
        return;
    }
    atomic_fetch_add(&s->served, 1);
    current = p;

    if (m->raw) {
        grpc_byte_buffer *out = NULL;
        kt_status st = serve_raw(p, m, &out);
        send_status(p, st, out, true);
        if (out) grpc_byte_buffer_destroy(out);
        end_call(p);
        return;
    }
    kt_frame frame;
    kt_frame_push(&frame);
    ProtobufCAllocator arena = kt_frame_allocator(&frame);
    ProtobufCMessage *req = kt_frame_alloc(&frame, m->request->sizeof_message);
    kt_status st = req ? KT_OK : kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    if (!st) {
        protobuf_c_message_init(m->request, req);
        st = kt_rpc_unpack(p->payload, KT_RPC_MAX_MESSAGE, req, &arena);
        if (st) atomic_fetch_add(&s->refused[REFUSED_BAD_REQUEST], 1);
    }
    if (st) {
        send_status(p, st, NULL, true);
    } else if (m->unary) {
        ProtobufCMessage *res = kt_frame_alloc(&frame, m->response->sizeof_message);
        grpc_byte_buffer *out = NULL;
        if (!res) {
            st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        } else {
            protobuf_c_message_init(m->response, res);
            kt_clear_error();
            st = m->unary(m->ctx, req, res);
            if (!st)
                st = kt_rpc_pack(res, &out);
            else
                st = why_over(p, st);
        }
        send_status(p, st, out, true);
        if (out) grpc_byte_buffer_destroy(out);
    } else {
        grpc_op md;
        int tag;
        memset(&md, 0, sizeof md);
        md.op = GRPC_OP_SEND_INITIAL_METADATA;
        batch(p, &md, 1, &tag);
        kt_clear_error();
        st = m->stream(m->ctx, req, &stream);
        if (atomic_load(&s->stopping))
            st = kt_fail(KT_ERR_UNAVAILABLE, "server shutting down");
        else if (st)
            st = why_over(p, st);
        if (!p->closed) send_status(p, st, NULL, false);
    }
    kt_frame_pop(&frame);
    end_call(p);
}

/* Runs a send and waits for gRPC to take it. gRPC ends the call itself at its deadline or
 * when the client goes; a client that stays but reads nothing (flow control) would hold
 * the worker for as long as the connection lives, so past send_stall_ms without progress
 * the call is ended here (RESOURCE_EXHAUSTED, counted send_stalled). */
static bool send_or_stall(pending *p, grpc_op *op, bool *stalled)
{
    int tag, stall = p->s->limits.send_stall_ms, waited = 0;
    if (grpc_call_start_batch(p->call, op, 1, &tag, NULL) != GRPC_CALL_OK) return false;
    for (;;) {
        int slice = stall < 0 || *stalled ? 0 : stall - waited < 100 ? stall - waited : 100;
        grpc_event ev = grpc_completion_queue_pluck(p->cq, &tag, kt_rpc_deadline(slice), NULL);
        if (ev.type == GRPC_OP_COMPLETE) return ev.success && !*stalled;
        waited += slice;
        if (!*stalled && stall >= 0 && waited >= stall) { /* the cancel completes the send */
            char why[96];
            snprintf(why, sizeof why, "the client read nothing for %d ms", stall);
            refuse(p, REFUSED_SEND_STALLED, GRPC_STATUS_RESOURCE_EXHAUSTED, why);
            *stalled = true;
        }
    }
}

kt_status kt_rpc_stream_send(kt_rpc_stream *s, const void *msg)
{
    if (!s || !msg) return kt_fail(KT_ERR_INVALID_ARGUMENT, "stream send: NULL argument");
    /* flags only: polling for the close here cost each send a 1 ms wait, and a send on a
     * call the client ended fails by itself */
    if (s->p->closed || atomic_load(&s->p->s->stopping))
        return kt_fail(KT_ERR_CANCELLED, "stream ended");
    const ProtobufCMessage *m = msg;
    if (m->descriptor != s->p->s->methods[s->p->method].response)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "stream send: not a %s",
                       s->p->s->methods[s->p->method].response->name);
    grpc_byte_buffer *bb;
    kt_status st = kt_rpc_pack(msg, &bb);
    if (st) return st;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb;
    bool stalled = false, ok = send_or_stall(s->p, &op, &stalled);
    grpc_byte_buffer_destroy(bb);
    if (stalled) return kt_fail(KT_ERR_CANCELLED, "stream ended: the client read nothing");
    return ok ? KT_OK : kt_fail(KT_ERR_CANCELLED, "stream ended by the client");
}

bool kt_rpc_stream_wait_closed(kt_rpc_stream *s, int ms)
{
    pending *p = s->p;
    if (p->closed) return true;
    if (atomic_load(&p->s->stopping) || deadline_passed(p)) return true;
    /* wait in short slices so a shutdown or the deadline is noticed promptly; ms <= 0 only
     * looks */
    int left = ms > 0 ? ms : 0;
    for (;;) {
        int slice = left > 100 ? 100 : left;
        gpr_timespec until = slice ? kt_rpc_deadline(slice) : gpr_inf_past(GPR_CLOCK_REALTIME);
        grpc_event ev = grpc_completion_queue_pluck(p->cq, &p->close_tag, until, NULL);
        if (ev.type == GRPC_OP_COMPLETE) {
            p->closed = true;
            return true;
        }
        if (atomic_load(&p->s->stopping) || deadline_passed(p)) return true;
        left -= slice;
        if (left <= 0) return false;
    }
}

/* Bytes of a request's metadata as HPACK counts them (32 per entry). */
static size_t metadata_bytes(const grpc_metadata_array *md)
{
    size_t n = 0;
    for (size_t i = 0; i < md->count; i++)
        n += GRPC_SLICE_LENGTH(md->metadata[i].key) + GRPC_SLICE_LENGTH(md->metadata[i].value) + 32;
    return n;
}

/* FNV-1a of the peer ("ipv4:127.0.0.1:41234", "ipv6:[::1]:41234"): one per TCP
 * connection (every connection over a Unix socket reads "unix:" and so shares one); and of
 * the peer up to its last ':', the client's address. */
static void peer_hashes(pending *p)
{
    char *peer = grpc_call_get_peer(p->call);
    const char *last = peer ? strrchr(peer, ':') : NULL;
    uint64_t h = 14695981039346656037ull;
    for (const char *c = peer; c && *c; c++) {
        if (c == last) p->addr = h;
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    }
    p->peer = h;
    if (!last) p->addr = h;
    gpr_free(peer);
}

/* What becomes of an arriving call: refused here (NULL), or the pool's to serve. */
/* How the connection's meter found the request framed (it marks a message framed
 * wrongly in its first bytes, conn.c): read from the first two bytes. */
static kt_rpc_framing framing_of(grpc_byte_buffer *bb)
{
    if (!bb || bb->type != GRPC_BB_RAW) return KT_FRAMING_OK;
    uint8_t head[2];
    size_t have = 0;
    const grpc_slice_buffer *sb = &bb->data.raw.slice_buffer;
    for (size_t i = 0; i < sb->count && have < 2; i++) {
        size_t n = GRPC_SLICE_LENGTH(sb->slices[i]);
        for (size_t j = 0; j < n && have < 2; j++) head[have++] = GRPC_SLICE_START_PTR(sb->slices[i])[j];
    }
    return kt_rpc_framing_mark(head, have);
}

static pending *admit(kt_rpc_server *s, pending *p)
{
    char why[160];
    if (p->method == UNKNOWN_METHOD) {
        p->deadline = p->details.deadline;
        char *name = grpc_slice_to_c_string(p->details.method);
        snprintf(why, sizeof why, "no method %.120s", name);
        gpr_free(name);
        refuse(p, REFUSED_UNKNOWN_METHOD, GRPC_STATUS_UNIMPLEMENTED, why);
    } else if (atomic_load(&s->stopping)) {
        refuse(p, REFUSED_SHUTTING_DOWN, GRPC_STATUS_UNAVAILABLE, "server shutting down");
    } else if (metadata_bytes(&p->md) > s->limits.max_metadata) {
        snprintf(why, sizeof why, "request metadata over %u bytes", s->limits.max_metadata);
        refuse(p, REFUSED_METADATA, GRPC_STATUS_RESOURCE_EXHAUSTED, why);
    } else if (p->payload && (p->payload->type != GRPC_BB_RAW ||
                              p->payload->data.raw.compression != GRPC_COMPRESS_NONE)) {
        refuse(p, REFUSED_COMPRESSED, GRPC_STATUS_UNIMPLEMENTED,
               "compressed requests are not accepted");
    } else if (framing_of(p->payload)) {
        /* gRPC's own word for a message framed against the protocol */
        static const char *const why_framing[KT_FRAMING_N] = {
            [KT_FRAMING_FLAGS] = "request message framing: a flag byte other than 0 or 1",
            [KT_FRAMING_COMPRESSED] = "request message framing: the compressed flag without a grpc-encoding",
            [KT_FRAMING_SECOND] = "request message framing: a second message on a call that takes one",
            [KT_FRAMING_TRAILING] = "request message framing: bytes after the request message",
        };
        refuse(p, REFUSED_FRAMING, GRPC_STATUS_INTERNAL, why_framing[framing_of(p->payload)]);
    } else if (deadline_passed(p)) {
        refuse(p, REFUSED_DEADLINE, GRPC_STATUS_DEADLINE_EXCEEDED, "deadline passed on arrival");
    } else {
        peer_hashes(p);
        pthread_mutex_lock(&s->lock);
        unsigned same = 0, same_addr = 0;
        for (const pending *q = s->calls; q; q = q->next) {
            same += q->peer == p->peer;
            same_addr += q->addr == p->addr;
        }
        bool room = s->active < s->limits.workers + s->limits.queue; /* else: busy */
        if (room && (same >= s->limits.per_connection || same_addr >= s->limits.per_address)) {
            pthread_mutex_unlock(&s->lock);
            bool conn = same >= s->limits.per_connection;
            snprintf(why, sizeof why, "server busy: %u calls of this %s in use",
                     conn ? same : same_addr, conn ? "connection" : "client address");
            refuse(p, conn ? REFUSED_CONNECTION_SHARE : REFUSED_ADDRESS_SHARE,
                   GRPC_STATUS_RESOURCE_EXHAUSTED, why);
            release(p);
            return NULL;
        }
        p->next = s->calls;
        if (s->calls) s->calls->prev = p;
        s->calls = p;
        s->active++;
        pthread_mutex_unlock(&s->lock);
        return p;
    }
    release(p);
    return NULL;
}

/* Every worker serving and the queue full. */
static void refuse_busy(void *item)
{
    pending *p = item;
    char why[160];
    snprintf(why, sizeof why, "server busy: %u workers and %u queued calls in use",
             p->s->limits.workers, p->s->limits.queue);
    refuse(p, REFUSED_BUSY, GRPC_STATUS_RESOURCE_EXHAUSTED, why);
    finish(p);
}

/* The pool's wait: the next arriving call on the server's queue. */
static void *next_call(void *arg)
{
    kt_rpc_server *s = arg;
    grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) return KT_RPC_POOL_DONE;
    if (ev.tag == s) return NULL; /* shutdown notification */
    pending *p = ev.tag;
    if (!ev.success) { /* the server is shutting down: the request was never matched */
        release(p);
        return NULL;
    }
    /* keep a request outstanding; after shutdown began gRPC fails it at once */
    arm(s, p->method);
    return admit(s, p);
}

kt_status kt_rpc_server_new(const char *address, const kt_rpc_tls *tls, const kt_rpc_limits *limits,
                            const kt_rpc_method *methods, size_t n, kt_rpc_server **out)
{
    if (!address || !methods || !n || !out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc server: bad argument");
    for (size_t i = 0; i < n; i++)
        if (!methods[i].method || methods[i].method[0] != '/' || !methods[i].request ||
            !methods[i].response || !!methods[i].unary + !!methods[i].stream + !!methods[i].raw != 1)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc server: method %zu is incomplete", i);
    kt_rpc_grpc_init();
    kt_rpc_server *s = calloc(1, sizeof *s);
    if (!s || !(s->methods = calloc(n, sizeof *s->methods)) ||
        !(s->tags = calloc(n, sizeof *s->tags))) {
        if (s) free(s->methods), free(s->tags);
        free(s);
        grpc_shutdown();
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    memcpy(s->methods, methods, n * sizeof *methods);
    s->n = n;
    snprintf(s->address, sizeof s->address, "%s", address);
    pthread_mutex_init(&s->lock, NULL);
    if (limits) s->limits = *limits;
    kt_rpc_limits_resolve(&s->limits);
    kt_rpc_pool_fns fns = {next_call, serve_call, refuse_busy, s};
    kt_status st = kt_rpc_pool_new(s->limits.workers, s->limits.queue, &fns, &s->pool);
    s->max_spare = s->limits.workers + s->limits.queue + (unsigned)n + 1;
    if (!st && !(s->spare = calloc(s->max_spare, sizeof *s->spare)))
        st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    if (st) {
        kt_rpc_server_free(s);
        return st;
    }
    s->quota = grpc_resource_quota_create(s->address);
    grpc_resource_quota_resize(s->quota, (size_t)s->limits.memory_mb << 20);
    grpc_arg arg[KT_RPC_MAX_ARGS];
    grpc_channel_args args = {kt_rpc_server_args(&s->limits, s->quota, arg), arg};
    s->server = grpc_server_create(&args, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    for (size_t i = 0; i < n; i++)
        s->tags[i] = grpc_server_register_method(s->server, methods[i].method, NULL,
                                                 GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    grpc_server_credentials *creds;
    if (tls && (tls->cert || tls->key)) {
        kt_rpc_pems pems;
        if ((st = kt_rpc_pems_load(tls, &pems))) {
            kt_rpc_server_free(s);
            return st;
        }
        grpc_ssl_pem_key_cert_pair pair = {pems.key, pems.cert};
        creds = grpc_ssl_server_credentials_create_ex(
            pems.ca, &pair, 1,
            tls->require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                     : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
        kt_rpc_pems_free(&pems);
        if (tls->require_client_cert && !tls->ca)
            st = kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc server: mutual TLS needs the client CA");
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    int port = creds && !st ? grpc_server_add_http2_port(s->server, address, creds) : 0;
    if (creds) grpc_server_credentials_release(creds);
    if (!st && port == 0) st = kt_fail(KT_ERR_IO, "rpc server: cannot listen on %s", address);
    if (st) {
        kt_rpc_server_free(s);
        return st;
    }
    s->port = port;
    *out = s;
    return KT_OK;
}

kt_status kt_rpc_server_start(kt_rpc_server *s, int *port)
{
    if (!s || s->started) return kt_fail(KT_ERR_STATE, "rpc server: already started");
    kt_rpc_accept_guard(s->limits.fd_headroom);
    kt_rpc_conn_limits(&s->limits);
    if (strncmp(s->address, "unix:", 5)) kt_rpc_accept_serving(s->port);
    grpc_server_start(s->server);
    for (size_t i = 0; i < s->n; i++) {
        kt_status st = arm(s, i);
        if (st) return st;
    }
    kt_status st = arm(s, UNKNOWN_METHOD);
    if (st) return st;
    if ((st = kt_rpc_pool_start(s->pool))) return st;
    s->started = true;
    if (port) *port = s->port;
    kt_log(KT_LOG_INFO, "rpc.listening", "address", s->address, NULL);
    kt_rpc_limits_log(&s->limits, s->address);
    return KT_OK;
}

unsigned kt_rpc_server_active(kt_rpc_server *s)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = s->active;
    pthread_mutex_unlock(&s->lock);
    return n;
}

bool kt_rpc_server_listening(kt_rpc_server *s)
{
    return s && s->started && !atomic_load(&s->stopping) && 
           !kt_rpc_accept_failed(strncmp(s->address, "unix:", 5) ? s->port : 0);
}

void kt_rpc_server_shutdown(kt_rpc_server *s, int grace_ms)
{
    if (!s || !s->started || s->stopped) return;
    s->stopped = true;
    atomic_store(&s->stopping, true); /* streams see this and end; new calls are refused */
    grpc_server_shutdown_and_notify(s->server, s->cq, s);
    if (!kt_rpc_pool_wait_idle(s->pool, grace_ms > 0 ? grace_ms : 0)) {
        kt_log(KT_LOG_WARN, "rpc.ending_calls", "address", s->address, NULL);
        /* the status first, then the flag handlers see: theirs can never come first */
        pthread_mutex_lock(&s->lock);
        for (pending *p = s->calls; p; p = p->next)
            grpc_call_cancel_with_status(p->call, GRPC_STATUS_UNAVAILABLE, "server shutting down",
                                         NULL);
        pthread_mutex_unlock(&s->lock);
        atomic_store(&s->ending, true);
        int wait = s->limits.cancel_wait_ms < 0 ? 0 : s->limits.cancel_wait_ms;
        if (!kt_rpc_pool_wait_idle(s->pool, wait)) {
            char n[16];
            snprintf(n, sizeof n, "%u", kt_rpc_server_active(s));
            kt_log(KT_LOG_ERROR, "rpc.handlers_stuck", "address", s->address, "calls", n, NULL);
            s->stuck = true;
            return;
        }
    }
    grpc_completion_queue_shutdown(s->cq);
    kt_rpc_pool_join(s->pool);
    kt_log(KT_LOG_INFO, "rpc.stopped", "address", s->address, NULL);
}

void kt_rpc_server_free(kt_rpc_server *s)
{
    if (!s) return;
    if (s->started) kt_rpc_server_shutdown(s, 0);
    if (s->stuck) return; /* handlers still use it; the process is ending */
    if (s->server) {
        if (!s->started) {
            grpc_server_shutdown_and_notify(s->server, s->cq, s);
            grpc_completion_queue_shutdown(s->cq);
            while (
                grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
                GRPC_QUEUE_SHUTDOWN)
                ;
        }
        grpc_server_destroy(s->server);
    }
    if (s->cq) grpc_completion_queue_destroy(s->cq);
    kt_rpc_pool_free(s->pool);
    for (unsigned i = 0; i < s->nspare; i++)
        drain_cq(s->spare[i]);
    free(s->spare);
    if (s->quota) grpc_resource_quota_unref(s->quota);
    pthread_mutex_destroy(&s->lock);
    free(s->methods);
    free(s->tags);
    free(s);
    grpc_shutdown();
}

void kt_rpc_server_metrics(kt_rpc_server *const *servers, size_t n, kt_buf *out)
{
    char labels[n ? n : 1][600];
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)snprintf(labels[i], sizeof labels[i], "server=\"");
        for (const char *c = servers[i]->address; *c && k < sizeof labels[i] - 4; c++) {
            if (*c == '\\' || *c == '"') labels[i][k++] = '\\';
            labels[i][k++] = *c == '\n' ? ' ' : *c;
        }
        labels[i][k++] = '"';
        labels[i][k] = 0;
    }
    const char *help;
    help = "calls handed to a handler";
    for (size_t i = 0; i < n; i++, help = NULL)
        kt_metric(out, "kubetee_rpc_calls_total", "counter", help, labels[i],
                  (double)atomic_load(&servers[i]->served));
    help = "calls refused, by reason";
    for (size_t i = 0; i < n; i++)
        for (int r = 0; r < REFUSED_N; r++, help = NULL) {
            char l[700];
            snprintf(l, sizeof l, "%s,reason=\"%s\"", labels[i], refusal_names[r]);
            kt_metric(out, "kubetee_rpc_refusals_total", "counter", help, l,
                      (double)atomic_load(&servers[i]->refused[r]));
        }
    unsigned busy[n ? n : 1], queued[n ? n : 1], threads[n ? n : 1];
    for (size_t i = 0; i < n; i++)
        kt_rpc_pool_counts(servers[i]->pool, &busy[i], &queued[i], &threads[i]);
    help = "calls being served";
    for (size_t i = 0; i < n; i++, help = NULL)
        kt_metric(out, "kubetee_rpc_calls_running", "gauge", help, labels[i], busy[i]);
    help = "calls waiting for a worker";
    for (size_t i = 0; i < n; i++, help = NULL)
        kt_metric(out, "kubetee_rpc_calls_queued", "gauge", help, labels[i], queued[i]);
    help = "worker threads started";
    for (size_t i = 0; i < n; i++, help = NULL)
        kt_metric(out, "kubetee_rpc_workers", "gauge", help, labels[i], threads[i]);
    help = "1 while the server accepts connections";
    for (size_t i = 0; i < n; i++, help = NULL)
        kt_metric(out, "kubetee_rpc_listening", "gauge", help, labels[i],
                  kt_rpc_server_listening(servers[i]));
    kt_rpc_accept_metrics(out);
    kt_rpc_conn_metrics(out);
}
