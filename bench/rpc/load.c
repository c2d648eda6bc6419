/* The load: gRPC core's C API, asynchronous, one completion queue per thread, every
 * client its own connection with one call outstanding, a new call as soon as one ends.
 * The same load drives both servers. */
#include "rpc.h"
#include "../bench.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 2
#define WARMUP 0.3 /* seconds before counting starts */

typedef struct {
    grpc_channel *channel;
    void *method;
    grpc_call *call;
    grpc_byte_buffer *in;
    grpc_metadata_array md, trailing;
    grpc_status_code code;
    grpc_slice details;
} client;

typedef struct {
    client *clients;
    int n;
    grpc_byte_buffer *request;
    double start, end;
    long calls, total, failures;
} worker;

static grpc_channel *connect_to(const char *target)
{
    /* a connection of its own, not one shared by every channel to the target */
    grpc_arg arg = {
        .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, .value.integer = 1};
    grpc_channel_args args = {1, &arg};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    return ch;
}

static gpr_timespec in_seconds(double s)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_micros((int64_t)(s * 1e6), GPR_TIMESPAN));
}

/* The four ops every call opens with: metadata, the request, the half-close; and the
 * server's metadata back. */
static void opening_ops(grpc_op ops[4], grpc_byte_buffer *request, grpc_metadata_array *md)
{
    memset(ops, 0, 4 * sizeof *ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = request;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = md;
}

static void status_op(grpc_op *op, grpc_metadata_array *trailing, grpc_status_code *code,
                      grpc_slice *details)
{
    memset(op, 0, sizeof *op);
    op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op->data.recv_status_on_client.trailing_metadata = trailing;
    op->data.recv_status_on_client.status = code;
    op->data.recv_status_on_client.status_details = details;
}

static void start_call(client *c, grpc_completion_queue *cq, grpc_byte_buffer *request)
{
    c->call = grpc_channel_create_registered_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                                  c->method, in_seconds(5), NULL);
    grpc_metadata_array_init(&c->md);
    grpc_metadata_array_init(&c->trailing);
    c->in = NULL;
    grpc_op ops[6];
    opening_ops(ops, request, &c->md);
    memset(&ops[4], 0, sizeof ops[4]);
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &c->in;
    status_op(&ops[5], &c->trailing, &c->code, &c->details);
    grpc_call_start_batch(c->call, ops, 6, c, NULL);
}

/* Ends a finished call; true when it succeeded with a response. */
static bool end_call(client *c)
{
    bool ok = c->code == GRPC_STATUS_OK && c->in;
    if (c->in) grpc_byte_buffer_destroy(c->in);
    grpc_slice_unref(c->details);
    grpc_metadata_array_destroy(&c->md);
    grpc_metadata_array_destroy(&c->trailing);
    grpc_call_unref(c->call);
    return ok;
}

static void *drive(void *arg)
{
    worker *w = arg;
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    for (int i = 0; i < w->n; i++)
        start_call(&w->clients[i], cq, w->request);
    int open = w->n;
    while (open) {
        grpc_event ev = grpc_completion_queue_next(cq, in_seconds(10), NULL);
        if (ev.type != GRPC_OP_COMPLETE) { /* nothing for 10 s: the server is stuck */
            w->failures++;
            break;
        }
        client *c = ev.tag;
        bool ok = end_call(c) && ev.success;
        double now = bench_now();
        if (!ok) w->failures++;
        w->total += ok;
        if (now >= w->start && now < w->end) w->calls++;
        if (now < w->end && ok)
            start_call(c, cq, w->request);
        else
            open--;
    }
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    return NULL;
}

/* A Msg with a short text, packed by hand: field 1, length, bytes. */
static grpc_byte_buffer *say_request(void)
{
    static const char msg[] = "\x0a\x0ekubetee bench!";
    grpc_slice s = grpc_slice_from_static_buffer(msg, sizeof msg - 1);
    return grpc_raw_byte_buffer_create(&s, 1);
}

double load_unary(const char *target, int clients, double seconds, long *total)
{
    grpc_init();
    client *cs = calloc((size_t)clients, sizeof *cs);
    if (!cs) return -1;
    for (int i = 0; i < clients; i++) {
        cs[i].channel = connect_to(target);
        cs[i].method = grpc_channel_register_call(cs[i].channel, BENCH_SAY, NULL, NULL);
    }
    grpc_byte_buffer *request = say_request();
    worker w[THREADS];
    pthread_t t[THREADS];
    int nthreads = clients < THREADS ? clients : THREADS;
    double start = bench_now() + WARMUP;
    for (int i = 0, first = 0; i < nthreads; i++) {
        int n = clients / nthreads + (i < clients % nthreads);
        w[i] = (worker){cs + first, n, request, start, start + seconds, 0, 0, 0};
        first += n;
        pthread_create(&t[i], NULL, drive, &w[i]);
    }
    long calls = 0, failures = 0;
    *total = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(t[i], NULL);
        calls += w[i].calls;
        *total += w[i].total;
        failures += w[i].failures;
    }
    grpc_byte_buffer_destroy(request);
    for (int i = 0; i < clients; i++)
        grpc_channel_destroy(cs[i].channel);
    free(cs);
    grpc_shutdown();
    return failures ? -1 : (double)calls / seconds;
}

/* Receives one message of the stream; false when it ended. */
static bool receive(grpc_call *call, grpc_completion_queue *cq, grpc_op *op)
{
    grpc_byte_buffer *in = NULL;
    op->data.recv_message.recv_message = &in;
    if (grpc_call_start_batch(call, op, 1, op, NULL) != GRPC_CALL_OK) return false;
    grpc_event ev = grpc_completion_queue_pluck(cq, op, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (!in) return false;
    grpc_byte_buffer_destroy(in);
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

double load_stream(const char *target, double seconds, long *total)
{
    grpc_init();
    grpc_channel *ch = connect_to(target);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice method = grpc_slice_from_static_string(BENCH_COUNT);
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                               in_seconds(seconds + 10), NULL);
    /* CountRequest{n = 2^31 - 1}: more than any run reads */
    static const char req[] = "\x08\xff\xff\xff\xff\x07";
    grpc_slice s = grpc_slice_from_static_buffer(req, sizeof req - 1);
    grpc_byte_buffer *request = grpc_raw_byte_buffer_create(&s, 1);
    grpc_metadata_array md, trailing;
    grpc_metadata_array_init(&md);
    grpc_metadata_array_init(&trailing);
    grpc_op ops[4];
    opening_ops(ops, request, &md);
    bool ok = grpc_call_start_batch(call, ops, 4, ops, NULL) == GRPC_CALL_OK &&
              grpc_completion_queue_pluck(cq, ops, in_seconds(10), NULL).success;
    grpc_op recv;
    memset(&recv, 0, sizeof recv);
    recv.op = GRPC_OP_RECV_MESSAGE;
    long got = 0;
    *total = 0;
    double start = bench_now() + WARMUP, end = start + seconds, now = 0;
    while (ok && (now = bench_now()) < end) {
        ok = receive(call, cq, &recv);
        *total += ok;
        if (now >= start) got++;
    }
    grpc_call_cancel(call, NULL);
    grpc_status_code code;
    grpc_slice details;
    grpc_op status;
    status_op(&status, &trailing, &code, &details);
    grpc_call_start_batch(call, &status, 1, &status, NULL);
    grpc_completion_queue_pluck(cq, &status, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&md);
    grpc_metadata_array_destroy(&trailing);
    grpc_byte_buffer_destroy(request);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    grpc_shutdown();
    return ok ? (double)got / seconds : -1;
}
