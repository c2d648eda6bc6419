/* Server streaming through kubetee's rpc server and client, in one process over a Unix
 * socket: every message arrives, in order, and the stream completes; a client that ends
 * the stream makes the handler's next sends fail, and the handler sees the stream closed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../unit/testutil.h"
#include "echo.pb-c.h"
#include <kubetee/rpc.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* What the Count handler saw, read by the test after the handler returned. */
static struct {
    _Atomic long sent;
    _Atomic int status;        /* of the handler's last send, -1 while running */
    _Atomic int closed;        /* kt_rpc_stream_wait_closed after the sends ended */
    _Atomic int open_at_start; /* wait_closed(0) on the live stream */
} seen;

static kt_status count(void *ctx, const ProtobufCMessage *rq, kt_rpc_stream *out)
{
    (void)ctx;
    const Kubetee__Echo__CountRequest *req = (const Kubetee__Echo__CountRequest *)rq;
    atomic_store(&seen.open_at_start, !kt_rpc_stream_wait_closed(out, 0));
    kt_status st = KT_OK;
    for (int i = 0; i < req->n && !st; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%d", i);
        Kubetee__Echo__Msg m = KUBETEE__ECHO__MSG__INIT;
        m.text = buf;
        st = kt_rpc_stream_send(out, &m);
        if (!st) atomic_fetch_add(&seen.sent, 1);
    }
    if (st) atomic_store(&seen.closed, kt_rpc_stream_wait_closed(out, 10000));
    atomic_store(&seen.status, st);
    return st;
}

typedef struct {
    long got, stop_after;
    bool in_order;
} reader;

static kt_status on_msg(void *ctx, const ProtobufCMessage *m)
{
    reader *r = ctx;
    char want[32];
    snprintf(want, sizeof want, "%ld", r->got);
    if (strcmp(((const Kubetee__Echo__Msg *)m)->text, want)) r->in_order = false;
    if (++r->got == r->stop_after) return kt_fail(KT_ERR_CANCELLED, "reader has enough");
    return KT_OK;
}

typedef struct {
    char dir[64], target[128];
    kt_rpc_server *server;
    kt_rpc_client *client;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/kt-stream-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->target, sizeof f->target, "unix:%s/s.sock", f->dir);
    static const kt_rpc_method methods[] = {
        {"/kubetee.echo.Echo/Count", &kubetee__echo__count_request__descriptor,
         &kubetee__echo__msg__descriptor, NULL, count, NULL},
    };
    if (kt_rpc_server_new(f->target, NULL, NULL, methods, 1, &f->server) ||
        kt_rpc_server_start(f->server, NULL) || kt_rpc_client_new(f->target, NULL, &f->client))
        return -1;
    atomic_store(&seen.sent, 0);
    atomic_store(&seen.status, -1);
    atomic_store(&seen.closed, 0);
    atomic_store(&seen.open_at_start, 0);
    *state = f;
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The end is prompt: gRPC core's last grpc_shutdown once waited up to 10 s for a backup
 * poller that a write on a full socket left behind (kt_rpc now never makes the last). */
static int teardown(void **state)
{
    fixture *f = *state;
    double t = now_s();
    kt_rpc_client_free(f->client);
    kt_rpc_server_shutdown(f->server, 1000);
    kt_rpc_server_free(f->server);
    if (now_s() - t > 5) {
        fprintf(stderr, "teardown took %.1f s\n", now_s() - t);
        return -1;
    }
    char sock[128];
    snprintf(sock, sizeof sock, "%s/s.sock", f->dir);
    unlink(sock);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Waits (up to 10 s) for the handler to return; its last send's status. */
static int handler_status(void)
{
    for (int i = 0; i < 1000 && atomic_load(&seen.status) == -1; i++)
        nanosleep(&(struct timespec){0, 10000000L}, NULL);
    return atomic_load(&seen.status);
}

static void test_every_message_arrives_in_order(void **state)
{
    fixture *f = *state;
    Kubetee__Echo__CountRequest req = KUBETEE__ECHO__COUNT_REQUEST__INIT;
    req.n = 20000;
    reader r = {0, -1, true};
    assert_int_equal(kt_rpc_call_stream(f->client, "/kubetee.echo.Echo/Count", &req,
                                        &kubetee__echo__msg__descriptor, on_msg, &r, 60000),
                     KT_OK);
    assert_int_equal(r.got, 20000);
    assert_true(r.in_order);
    assert_int_equal(handler_status(), KT_OK);
    assert_int_equal(atomic_load(&seen.sent), 20000);
    assert_true(atomic_load(&seen.open_at_start)); /* a look at a live stream finds it open */
}

static void test_client_that_stops_ends_the_sends(void **state)
{
    fixture *f = *state;
    Kubetee__Echo__CountRequest req = KUBETEE__ECHO__COUNT_REQUEST__INIT;
    req.n = 100000000; /* more than flow control lets through before the client stops */
    reader r = {0, 5, true};
    assert_fails_with(kt_rpc_call_stream(f->client, "/kubetee.echo.Echo/Count", &req,
                                         &kubetee__echo__msg__descriptor, on_msg, &r, 60000),
                      KT_ERR_CANCELLED, "reader has enough");
    assert_int_equal(r.got, 5);
    assert_true(r.in_order);
    assert_int_equal(handler_status(), KT_ERR_CANCELLED);
    assert_true(atomic_load(&seen.sent) < req.n);
    assert_true(atomic_load(&seen.closed)); /* the handler sees the stream ended */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_message_arrives_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_that_stops_ends_the_sends, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
