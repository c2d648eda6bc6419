/* The baseline: an echo server written against gRPC core's C API with nothing between,
 * the way gRPC's own C benchmarks drive it. One completion queue, a thread per CPU
 * taking its events, requests kept outstanding for both methods; Say sends the request
 * bytes back in one batch, Count sends its messages one batch after another. */
#include "rpc.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUTSTANDING 64 /* requests kept open per method */

enum { REQUESTED, SENDING, FINISHING };

typedef struct {
    int state;
    int method; /* 0 Say, 1 Count */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload, *out;
    long next, n; /* Count: messages sent, asked for */
    int cancelled;
} core_call;

static grpc_server *server;
static grpc_completion_queue *cq;
static void *methods[2];

static void request(int method)
{
    core_call *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->method = method;
    grpc_metadata_array_init(&c->md);
    grpc_server_request_registered_call(server, methods[method], &c->call, &c->deadline, &c->md,
                                        &c->payload, cq, cq, c);
}

/* The one field of a CountRequest (n, a varint); 0 when absent or malformed. */
static long count_of(grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader r;
    if (!bb || !grpc_byte_buffer_reader_init(&r, bb)) return 0;
    grpc_slice all = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    const uint8_t *p = GRPC_SLICE_START_PTR(all);
    size_t len = GRPC_SLICE_LENGTH(all);
    long n = 0;
    if (len >= 2 && p[0] == 0x08)
        for (size_t i = 1, shift = 0; i < len && shift < 35; i++, shift += 7) {
            n |= (long)(p[i] & 0x7f) << shift;
            if (!(p[i] & 0x80)) break;
        }
    grpc_slice_unref(all);
    return n;
}

/* A Msg whose text is the decimal i. */
static grpc_byte_buffer *numbered(long i)
{
    char buf[32];
    int len = snprintf(buf + 2, sizeof buf - 2, "%ld", i);
    buf[0] = 0x0a;
    buf[1] = (char)len;
    grpc_slice s = grpc_slice_from_copied_buffer(buf, (size_t)len + 2);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static void finish(core_call *c, bool first)
{
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (first) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n++].data.send_status_from_server.status = GRPC_STATUS_OK;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    c->state = FINISHING;
    grpc_call_start_batch(c->call, ops, n, c, NULL);
}

static void send_next(core_call *c)
{
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (c->next == 0) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (c->out) grpc_byte_buffer_destroy(c->out);
    c->out = numbered(c->next++);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = c->out;
    c->state = SENDING;
    grpc_call_start_batch(c->call, ops, n, c, NULL);
}

static void release(core_call *c)
{
    if (c->payload) grpc_byte_buffer_destroy(c->payload);
    if (c->out) grpc_byte_buffer_destroy(c->out);
    grpc_metadata_array_destroy(&c->md);
    if (c->call) grpc_call_unref(c->call);
    free(c);
}

static void on_event(core_call *c, bool ok)
{
    switch (c->state) {
    case REQUESTED:
        if (!ok) { /* shutting down: never matched */
            release(c);
            return;
        }
        request(c->method);
        if (c->method == 0) { /* Say: the request's bytes are the answer */
            grpc_op ops[4];
            memset(ops, 0, sizeof ops);
            ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
            ops[1].op = GRPC_OP_SEND_MESSAGE;
            ops[1].data.send_message.send_message = c->payload;
            ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
            ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
            ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
            ops[3].data.recv_close_on_server.cancelled = &c->cancelled;
            c->state = FINISHING;
            grpc_call_start_batch(c->call, ops, 4, c, NULL);
            return;
        }
        c->n = count_of(c->payload);
        if (c->n > 0)
            send_next(c);
        else
            finish(c, true);
        return;
    case SENDING:
        if (ok && c->next < c->n)
            send_next(c);
        else
            finish(c, false);
        return;
    default:
        release(c);
    }
}

static void *work(void *arg)
{
    (void)arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) return NULL;
        on_event(ev.tag, ev.success);
    }
}

int core_serve(const char *address)
{
    grpc_init();
    server = grpc_server_create(NULL, NULL);
    cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(server, cq, NULL);
    methods[0] = grpc_server_register_method(server, BENCH_SAY, NULL,
                                             GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    methods[1] = grpc_server_register_method(server, BENCH_COUNT, NULL,
                                             GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(server, address, creds);
    grpc_server_credentials_release(creds);
    if (!port) {
        fprintf(stderr, "core server: cannot listen on %s\n", address);
        return 1;
    }
    grpc_server_start(server);
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < OUTSTANDING; i++)
            request(m);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = cpus > 0 && cpus < 64 ? (int)cpus : 1;
    pthread_t threads[64];
    for (int i = 0; i < nthreads; i++)
        pthread_create(&threads[i], NULL, work, NULL);
    printf("READY %d\n", port);
    fflush(stdout);
    for (;;) /* until the benchmark ends this process */
        pause();
}
