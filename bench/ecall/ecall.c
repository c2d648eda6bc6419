/* bench/ecall: an ECALL round trip with ~64-byte protobuf messages, against the same
 * function called directly in-process with the same pack and unpack. Target: the ECALL
 * costs at most 1.5x the direct call, with 1 and 2 threads. */
#include "../bench.h"
#include "work.h"
#include <kubetee/tff.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 5

static kt_enclave *enclave;
static volatile double seconds_per_run = 0.3;

static void fill(Bench__Msg *m, uint8_t payload[40])
{
    memset(payload, 7, 40);
    m->id = 42;
    m->name = "kubetee-bench";
    m->payload.data = payload;
    m->payload.len = 40;
}

/* The direct path: everything the gate does to messages, without the gate. */
static int direct_once(void)
{
    Bench__Msg req = BENCH__MSG__INIT, res = BENCH__MSG__INIT;
    uint8_t payload[40], buf[512], out[512];
    fill(&req, payload);
    size_t n = bench__msg__pack(&req, buf);
    Bench__Msg *in = bench__msg__unpack(NULL, n, buf);
    if (!in || bench_work(in, &res, malloc)) return 1;
    size_t m = bench__msg__pack(&res, out);
    free(res.payload.data);
    bench__msg__free_unpacked(in, NULL);
    Bench__Msg *back = bench__msg__unpack(NULL, m, out);
    int bad = !back || back->id != 43;
    bench__msg__free_unpacked(back, NULL);
    return bad;
}

static int ecall_once(void)
{
    Bench__Msg req = BENCH__MSG__INIT, res = BENCH__MSG__INIT;
    uint8_t payload[40];
    fill(&req, payload);
    kt_status st = kt_enclave_call(enclave, "Work", &req, &res);
    int bad = st || res.id != 43;
    kt_message_clear(&res);
    return bad;
}

typedef struct {
    _Alignas(64) int (*once)(void); /* one cache line per thread: no false sharing */
    long calls;
    int failures;
} run_arg;

static void *runner(void *p)
{
    run_arg *a = p;
    int (*once)(void) = a->once;
    long calls = 0;
    int failures = 0;
    double end = bench_now() + seconds_per_run;
    while (bench_now() < end) {
        for (int i = 0; i < 256; i++)
            failures += once();
        calls += 256;
    }
    a->calls = calls;
    a->failures = failures;
    return NULL;
}

/* Calls per second with `threads` threads. */
static double rate(int (*once)(void), int threads)
{
    pthread_t t[8];
    run_arg a[8] = {{0}};
    double t0 = bench_now();
    for (int i = 0; i < threads; i++) {
        a[i].once = once;
        pthread_create(&t[i], NULL, runner, &a[i]);
    }
    long calls = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        calls += a[i].calls;
        if (a[i].failures) {
            fprintf(stderr, "bench_ecall: %d calls failed: %s\n", a[i].failures, kt_last_error());
            exit(1);
        }
    }
    return (double)calls / (bench_now() - t0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_ecall bench_enclave.signed.so\n");
        return 2;
    }
    kt_log_set_level(KT_LOG_WARN);
    if (kt_enclave_create(argv[1], NULL, &enclave)) {
        fprintf(stderr, "bench_ecall: %s\n", kt_last_error());
        return 1;
    }
    const char *only = getenv("BENCH_ECALL_ONLY"); /* "direct" or "ecall": for profiling */
    if (only) {
        double r = rate(strcmp(only, "direct") == 0 ? direct_once : ecall_once, 1);
        printf("%s: %.0f calls/s\n", only, r);
        kt_enclave_destroy(enclave);
        return 0;
    }
    Bench__Msg probe = BENCH__MSG__INIT;
    uint8_t payload[40];
    fill(&probe, payload);
    printf("ecall: request of %zu bytes, response of the same size\n",
           bench__msg__get_packed_size(&probe));
    double ratio[3] = {0}, e_rate[3] = {0}, d_rate[3] = {0};
    for (int threads = 1; threads <= 2; threads++) {
        /* interleave the two paths and keep the best of each, against machine noise */
        for (int r = 0; r < ROUNDS; r++) {
            double d = rate(direct_once, threads), e = rate(ecall_once, threads);
            if (d > d_rate[threads]) d_rate[threads] = d;
            if (e > e_rate[threads]) e_rate[threads] = e;
        }
        ratio[threads] = d_rate[threads] / e_rate[threads];
        printf("ecall: %d thread%s: ECALL %.0f calls/s, direct %.0f calls/s, cost ratio %.3f\n",
               threads, threads > 1 ? "s" : "", e_rate[threads], d_rate[threads], ratio[threads]);
    }
    bench_line("ecall_1thread", ratio[1], "<=", 1.5, e_rate[1], d_rate[1]);
    bench_line("ecall_2threads", ratio[2], "<=", 1.5, e_rate[2], d_rate[2]);
    kt_enclave_destroy(enclave);
    return 0;
}
