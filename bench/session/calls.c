/* bench/session (a): remote calls/s through an established session (kt_service_client to
 * an echo remote function in an enclave behind kt_service_serve's server) against plain
 * gRPC echo calls to a handler on the same server threads with no session and no
 * enclave, over loopback, in the same run, at 64-byte and 4 KiB payloads. One client
 * sends one call after another (the latency a caller sees); slices of each kind
 * alternate, each kind keeps its best, so a burst of other work on the shared machine
 * hits both alike. The CPU the process spends per call (client and server: both are
 * here) is printed too, the steadier comparison. Target: at least 0.8 of plain.
 *
 *   bench_session_calls ECHO.signed.so CLIENT_KEY.pem [session|plain SIZE]
 * (the second form runs one kind for 5 s, to profile with: profile() below) */
#include "../bench.h"
#include "bench.pb-c.h"
#include "work.h"
#include <kubetee/attest.h>
#include <kubetee/rpc.h>
#include <kubetee/service.h>
#include <kubetee/tff.h>

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define ROUNDS 6
#define SLICE 0.3 /* seconds */

static kt_service_client *session;
static kt_rpc_client *plain;
static uint8_t payload[4096];
static size_t payload_len;
static kt_buf packed; /* bench.Msg with the payload, for the session's call */

static int one_plain(void)
{
    Bench__Msg rq = BENCH__MSG__INIT, rs = BENCH__MSG__INIT;
    rq.id = 7;
    rq.payload.data = payload;
    rq.payload.len = payload_len;
    kt_status st = kt_rpc_call(plain, "/bench.Echo/Echo", &rq, &rs, 10000);
    int bad = st || rs.payload.len != payload_len || memcmp(rs.payload.data, payload, payload_len);
    kt_message_clear(&rs);
    if (bad) fprintf(stderr, "bench_session_calls: plain echo: %s\n", kt_last_error());
    return bad;
}

/* the caller's response buffer, kept from call to call as a caller on a hot path would */
static kt_buf res;

static int one_session(void)
{
    res.len = 0;
    kt_status st = kt_service_client_call_bytes(session, "bench.Echo", "bench.Msg", packed.data, packed.len, "bench.Msg", &res);
    int bad = st || res.len != packed.len || memcmp(res.data, packed.data, packed.len);
    if (bad) fprintf(stderr, "bench_session_calls: session echo: %s\n", kt_last_error());
    return bad;
}

static double cpu_now(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

/* One slice: calls/s by the wall clock, and the process's CPU per call. */
static int slice(int (*one)(void), double *rate, double *cpu)
{
    long n = 0;
    double t0 = bench_now(), c0 = cpu_now(), t = t0;
    while (t - t0 < SLICE) {
        if (one()) return 1;
        n++;
        t = bench_now();
    }
    *rate = (double)n / (t - t0);
    *cpu = (cpu_now() - c0) / (double)n;
    return 0;
}

static int prepare(size_t size)
{
    payload_len = size;
    for (size_t i = 0; i < size; i++) payload[i] = (uint8_t)(i * 31 + 7);
    Bench__Msg m = BENCH__MSG__INIT;
    m.id = 7;
    m.payload.data = payload;
    m.payload.len = size;
    packed.len = 0;
    if (kt_buf_reserve(&packed, bench__msg__get_packed_size(&m))) return 1;
    packed.len = bench__msg__pack(&m, packed.data);
    return 0;
}

static int run(size_t size, const char *name)
{
    if (prepare(size)) return 1;
    double best_s = 0, best_p = 0, cpu_s = 1, cpu_p = 1, r, c;
    for (int k = 0; k < 50; k++) /* warm both paths */
        if (one_plain() || one_session()) return 1;
    for (int k = 0; k < ROUNDS; k++) {
        if (slice(one_plain, &r, &c)) return 1;
        if (r > best_p) best_p = r, cpu_p = c;
        if (slice(one_session, &r, &c)) return 1;
        if (r > best_s) best_s = r, cpu_s = c;
    }
    printf("session calls, %zu-byte payload: %.0f/s (%.1f us CPU a call), plain gRPC echo: %.0f/s (%.1f us)\n", size,
           best_s, cpu_s * 1e6, best_p, cpu_p * 1e6);
    bench_line(name, best_s / best_p, ">=", 0.8, best_s, best_p);
    return 0;
}

/* The profiling form: one kind for 5 s (valgrind --tool=callgrind --zero-before=profile
 * --dump-after=profile counts only these calls). */
__attribute__((noinline)) static int profile(int (*one)(void))
{
    long n = 0;
    double t0 = bench_now(), c0 = cpu_now();
    for (; bench_now() - t0 < 5; n++)
        if (one()) return 1;
    fprintf(stderr, "%ld calls, %.0f/s, %.1f us CPU a call\n", n, (double)n / (bench_now() - t0),
            (cpu_now() - c0) / (double)n * 1e6);
    return 0;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_session_calls: %s: %s\n", what, kt_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5)
        return fprintf(stderr, "usage: bench_session_calls ECHO.signed.so CLIENT_KEY.pem [session|plain SIZE]\n"), 2;
    kt_log_set_level(KT_LOG_WARN);
    const char *sim = getenv("KUBETEE_SIM_DIR");
    kt_enclave_options eo = {.sim_dir = sim};
    kt_enclave *e = NULL;
    kt_sim_qe *qe = NULL;
    kt_collateral *coll = NULL;
    kt_policy *policy = NULL;
    kt_key *key = NULL;
    kt_buf pem = {0};
    if (kt_attest_serve_quotes(sim) || kt_enclave_create(argv[1], &eo, &e)) return fail("the enclave");
    const kt_enclave_identity *id = kt_enclave_identity_of(e);
    char mre[65], mrs[65], yaml[320];
    kt_hex_encode(id->mrenclave, 32, mre, sizeof mre);
    kt_hex_encode(id->mrsigner, 32, mrs, sizeof mrs);
    snprintf(yaml, sizeof yaml, "allow_simulation: true\nrules:\n- {mrenclave: %s, mrsigner: %s}\n", mre, mrs);
    if (kt_sim_qe_open(sim, &qe) || kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &coll) ||
        kt_policy_parse(yaml, strlen(yaml), &policy) || kt_file_read(argv[2], 1 << 16, &pem) ||
        kt_key_from_pem((const char *)pem.data, pem.len, &key))
        return fail("the client's policy and key");
    const kt_rpc_method echo = {"/bench.Echo/Echo", &bench__msg__descriptor, &bench__msg__descriptor, bench_plain_echo, NULL,
                                NULL};
    kt_service_config sc = {.listen = "127.0.0.1:0", .extra = &echo, .n_extra = 1};
    kt_service_server *server = NULL;
    if (kt_service_server_start(e, &sc, &server)) return fail("the server");
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", kt_service_server_port(server));
    kt_service_client_config cc = {.key = key};
    cc.peer.policy = policy;
    cc.peer.collateral = coll;
    if (kt_service_client_connect(target, &cc, &session)) return fail("the session");
    if (kt_rpc_client_new(target, NULL, &plain)) return fail("the plain client");
    int rc;
    if (argc == 5) {
        int (*one)(void) = strcmp(argv[3], "plain") ? one_session : one_plain;
        size_t size = (size_t)atoi(argv[4]);
        rc = size > sizeof payload || prepare(size) || profile(one);
    } else {
        rc = run(64, "session_call_64") || run(4096, "session_call_4k");
    }
    kt_service_client_close(session);
    kt_service_client_free(session);
    kt_rpc_client_free(plain);
    kt_service_server_stop(server);
    kt_enclave_destroy(e);
    kt_policy_free(policy);
    kt_collateral_free(coll);
    kt_sim_qe_free(qe);
    kt_key_free(key);
    kt_buf_free(&pem);
    kt_buf_free(&packed);
    kt_buf_free(&res);
    return rc;
}
