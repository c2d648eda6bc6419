/* gRPC servers. One acceptor thread keeps a request outstanding for each method on the
 * server's completion queue; every arriving call gets a thread and a completion queue
 * of its own (pluck), so handlers may block and streams may live long. */
#include "internal.h"
#include "../tff/common/runtime.h"

#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct pending pending;

struct kt_rpc_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    kt_rpc_method *methods;
    void **tags; /* registered method handles */
    size_t n;
    char address[512];
    pthread_t acceptor;
    bool started, stopped;
    int port;
    atomic_bool stopping;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    unsigned active;
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
};

struct kt_rpc_stream {
    pending *p;
    int close_tag;
    bool closed;
};

static kt_status arm(kt_rpc_server *s, size_t m)
{
    pending *p = calloc(1, sizeof *p);
    if (!p) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    p->s = s;
    p->method = m;
    p->cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_metadata_array_init(&p->md);
    grpc_call_details_init(&p->details);
    grpc_call_error e =
        m == UNKNOWN_METHOD
            ? grpc_server_request_call(s->server, &p->call, &p->details, &p->md, p->cq, s->cq, p)
            : grpc_server_request_registered_call(s->server, s->tags[m], &p->call, &p->deadline,
                                                  &p->md, &p->payload, p->cq, s->cq, p);
    if (e != GRPC_CALL_OK) {
        grpc_completion_queue_shutdown(p->cq);
        grpc_completion_queue_destroy(p->cq);
        grpc_metadata_array_destroy(&p->md);
        grpc_call_details_destroy(&p->details);
        free(p);
        return kt_fail(KT_ERR_STATE, "rpc: cannot request calls (%d)", (int)e);
    }
    return KT_OK;
}

static void drain_cq(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
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

static void finish(pending *p)
{
    kt_rpc_server *s = p->s;
    if (p->payload) grpc_byte_buffer_destroy(p->payload);
    grpc_metadata_array_destroy(&p->md);
    grpc_call_details_destroy(&p->details);
    grpc_call_unref(p->call);
    drain_cq(p->cq);
    free(p);
    pthread_mutex_lock(&s->lock);
    s->active--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

static void *serve_call(void *arg)
{
    pending *p = arg;
    kt_rpc_server *s = p->s;
    if (p->method == UNKNOWN_METHOD) {
        char *name = grpc_slice_to_c_string(p->details.method);
        kt_fail(KT_ERR_UNSUPPORTED, "no method %s", name);
        kt_log(KT_LOG_WARN, "rpc.unknown_method", "method", name, NULL);
        gpr_free(name);
        grpc_op ops[3];
        int cancelled = 0, tag;
        memset(ops, 0, sizeof ops);
        grpc_slice details = grpc_slice_from_copied_string(kt_last_error());
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[1].data.send_status_from_server.status = GRPC_STATUS_UNIMPLEMENTED;
        ops[1].data.send_status_from_server.status_details = &details;
        ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[2].data.recv_close_on_server.cancelled = &cancelled;
        batch(p, ops, 3, &tag);
        grpc_slice_unref(details);
        finish(p);
        return NULL;
    }
    const kt_rpc_method *m = &s->methods[p->method];
    /* learn when the client closes or cancels, without waiting for it */
    kt_rpc_stream stream = {p, 0, false};
    grpc_op close_op;
    memset(&close_op, 0, sizeof close_op);
    int cancelled = 0;
    close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    close_op.data.recv_close_on_server.cancelled = &cancelled;
    grpc_call_start_batch(p->call, &close_op, 1, &stream.close_tag, NULL);

    kt_frame frame;
    kt_frame_push(&frame);
    ProtobufCAllocator arena = kt_frame_allocator(&frame);
    ProtobufCMessage *req = kt_frame_alloc(&frame, m->request->sizeof_message);
    kt_status st = req ? KT_OK : kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    if (!st) {
        protobuf_c_message_init(m->request, req);
        st = kt_rpc_unpack(p->payload, req, &arena);
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
            if (!st) st = kt_rpc_pack(res, &out);
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
        if (atomic_load(&s->stopping)) st = kt_fail(KT_ERR_UNAVAILABLE, "server shutting down");
        if (!stream.closed) send_status(p, st, NULL, false);
    }
    kt_frame_pop(&frame);
    if (!stream.closed)
        grpc_completion_queue_pluck(p->cq, &stream.close_tag, gpr_inf_future(GPR_CLOCK_REALTIME),
                                    NULL);
    finish(p);
    return NULL;
}

kt_status kt_rpc_stream_send(kt_rpc_stream *s, const void *msg)
{
    if (!s || !msg) return kt_fail(KT_ERR_INVALID_ARGUMENT, "stream send: NULL argument");
    /* flags only: polling for the close here cost each send a 1 ms wait, and a send on a
     * call the client ended fails by itself */
    if (s->closed || atomic_load(&s->p->s->stopping))
        return kt_fail(KT_ERR_CANCELLED, "stream ended");
    const ProtobufCMessage *m = msg;
    if (m->descriptor != s->p->s->methods[s->p->method].response)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "stream send: not a %s",
                       s->p->s->methods[s->p->method].response->name);
    grpc_byte_buffer *bb;
    kt_status st = kt_rpc_pack(msg, &bb);
    if (st) return st;
    grpc_op op;
    int tag;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb;
    bool ok = batch(s->p, &op, 1, &tag);
    grpc_byte_buffer_destroy(bb);
    return ok ? KT_OK : kt_fail(KT_ERR_CANCELLED, "stream ended by the client");
}

bool kt_rpc_stream_wait_closed(kt_rpc_stream *s, int ms)
{
    if (s->closed) return true;
    if (atomic_load(&s->p->s->stopping)) return true;
    /* wait in short slices so a shutdown is noticed promptly; ms <= 0 only looks */
    int left = ms > 0 ? ms : 0;
    for (;;) {
        int slice = left > 100 ? 100 : left;
        gpr_timespec until = slice ? kt_rpc_deadline(slice) : gpr_inf_past(GPR_CLOCK_REALTIME);
        grpc_event ev = grpc_completion_queue_pluck(s->p->cq, &s->close_tag, until, NULL);
        if (ev.type == GRPC_OP_COMPLETE) {
            s->closed = true;
            return true;
        }
        if (atomic_load(&s->p->s->stopping)) return true;
        left -= slice;
        if (left <= 0) return false;
    }
}

static void *accept_loop(void *arg)
{
    kt_rpc_server *s = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.tag == s) /* shutdown notification */
            continue;
        pending *p = ev.tag;
        if (!ev.success) { /* the server is shutting down: the request was never matched */
            grpc_metadata_array_destroy(&p->md);
            grpc_call_details_destroy(&p->details);
            drain_cq(p->cq);
            free(p);
            continue;
        }
        if (!atomic_load(&s->stopping)) arm(s, p->method);
        pthread_mutex_lock(&s->lock);
        s->active++;
        pthread_mutex_unlock(&s->lock);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, serve_call, p) != 0) {
            kt_fail(KT_ERR_NO_MEMORY, "no thread for the call");
            send_status(p, KT_ERR_NO_MEMORY, NULL, true);
            finish(p);
        }
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

kt_status kt_rpc_server_new(const char *address, const kt_rpc_tls *tls,
                            const kt_rpc_method *methods, size_t n, kt_rpc_server **out)
{
    if (!address || !methods || !n || !out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc server: bad argument");
    for (size_t i = 0; i < n; i++)
        if (!methods[i].method || methods[i].method[0] != '/' || !methods[i].request ||
            !methods[i].response || (!methods[i].unary == !methods[i].stream))
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc server: method %zu is incomplete", i);
    grpc_init();
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
    pthread_cond_init(&s->idle, NULL);
    grpc_arg arg = {.type = GRPC_ARG_INTEGER,
                    .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                    .value.integer = KT_RPC_MAX_MESSAGE};
    grpc_channel_args args = {1, &arg};
    s->server = grpc_server_create(&args, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    for (size_t i = 0; i < n; i++)
        s->tags[i] = grpc_server_register_method(s->server, methods[i].method, NULL,
                                                 GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    kt_status st = KT_OK;
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
    grpc_server_start(s->server);
    for (size_t i = 0; i < s->n; i++) {
        kt_status st = arm(s, i);
        if (st) return st;
    }
    kt_status st = arm(s, UNKNOWN_METHOD);
    if (st) return st;
    if (pthread_create(&s->acceptor, NULL, accept_loop, s) != 0)
        return kt_fail(KT_ERR_NO_MEMORY, "rpc server: no acceptor thread");
    s->started = true;
    if (port) *port = s->port;
    kt_log(KT_LOG_INFO, "rpc.listening", "address", s->address, NULL);
    return KT_OK;
}

unsigned kt_rpc_server_active(kt_rpc_server *s)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = s->active;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void kt_rpc_server_shutdown(kt_rpc_server *s, int grace_ms)
{
    if (!s || !s->started || s->stopped) return;
    s->stopped = true;
    atomic_store(&s->stopping, true); /* streams see this and end */
    grpc_server_shutdown_and_notify(s->server, s->cq, s);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += grace_ms / 1000;
    until.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&s->lock);
    while (s->active && pthread_cond_timedwait(&s->idle, &s->lock, &until) == 0)
        ;
    unsigned left = s->active;
    pthread_mutex_unlock(&s->lock);
    if (left) {
        kt_log(KT_LOG_WARN, "rpc.cancelling", "address", s->address, NULL);
        grpc_server_cancel_all_calls(s->server);
        pthread_mutex_lock(&s->lock);
        while (s->active)
            pthread_cond_wait(&s->idle, &s->lock);
        pthread_mutex_unlock(&s->lock);
    }
    grpc_completion_queue_shutdown(s->cq);
    pthread_join(s->acceptor, NULL);
    kt_log(KT_LOG_INFO, "rpc.stopped", "address", s->address, NULL);
}

void kt_rpc_server_free(kt_rpc_server *s)
{
    if (!s) return;
    if (s->started) kt_rpc_server_shutdown(s, 0);
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
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->idle);
    free(s->methods);
    free(s->tags);
    free(s);
    grpc_shutdown();
}
