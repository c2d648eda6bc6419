/* bench/aecs: TA secret gets/s over established sessions against plain gRPC echo calls,
 * both with 2 client threads over loopback, in the same run. aecs-server (the real one,
 * sim, an fs store) serves a TA enclave in this process; each thread holds its own
 * session (opened once) and sends one get after another: an ECALL into the TA, the
 * session's record relayed by this host over gRPC, the AECS enclave opening the secret's
 * sealed object (from the store once, then its kept copy) and judging the TA's verified
 * identity, writing its audit line, and back. The baseline is a plain gRPC echo of as
 * many bytes (no session, no enclave) from a server in this process with as many
 * workers as aecs-server. Slices of each kind alternate,
 * each kind keeps its best, so a burst of other work on the shared machine hits both
 * alike. Latency p50/p99 is over every timed call. Target: at least 0.7 of plain.
 *
 * Second line (aecs_sign): signs/s with a never-export P-256 key, each an aecs.Sign the TA
 * sends over its session (AECS opens the key, checks the TA's identity against the key's
 * rules, signs, writes its audit line), against raw P-256 signs/s (kt_sign in this process,
 * as many threads, the same 32-byte message): target at least 0.5. That single-sign line is
 * not met and cannot be: one call over a session costs about what a get costs (the echo
 * line bounds it), several raw signatures' worth, so it is printed with that ceiling.
 *
 * Third line (aecs_sign_batch): the same signs, BATCH messages to one aecs.SignBatch (one
 * request, one decision, one audit line; AECS signs outside its lock, so the two threads'
 * batches run side by side), counted per signature, against the same raw signs.
 *
 *   bench_aecs AECS_SERVER AECS.signed.so TA.signed.so SIM_DIR [get|echo|sign|raw|batch]
 * (the second form runs one kind for 5 s, to profile with) */
#include "../bench.h"
#include "aecs.pb-c.h"
#include "bench.pb-c.h"
#include "work.h"
#include <kubetee/aecs.h>
#include <kubetee/attest.h>
#include <kubetee/image.h>
#include <kubetee/rpc.h>
#include <kubetee/service.h>
#include <kubetee/tff.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 2
#define ROUNDS 6
#define SLICE 0.4 /* seconds */
#define MAX_SAMPLES 200000
#define SECRET "bench/key"
#define SIGNER "bench/signer"
#define BATCH 64 /* messages in one aecs.SignBatch */
enum { GET, ECHO, SIGN, RAW, BATCHED, KINDS };
static const char *const kind_names[KINDS] = {"get", "echo", "sign", "raw", "batch"};
static const int per_call[KINDS] = {1, 1, 1, 1, BATCH}; /* what one call counts for */

extern char **environ;

static kt_enclave *ta;
static pid_t server_pid;
static kt_rpc_client *plain; /* one channel for both threads, as the TA's host relays over one */
static uint8_t payload[32], batch_payload[32 * BATCH];
static volatile int stop;
static double samples[KINDS][MAX_SAMPLES]; /* by kind */
static size_t nsamples[KINDS];
static kt_key *raw_keys[THREADS];          /* the raw baseline's, one a thread */
static pthread_mutex_t samples_lock = PTHREAD_MUTEX_INITIALIZER;
static double echo_cpu; /* the plain echo's CPU seconds a call (run_get) */

static int fail(const char *what)
{
    fprintf(stderr, "bench_aecs: %s: %s\n", what, kt_last_error());
    return 1;
}

static int one_get(int t)
{
    Bench__Msg rq = BENCH__MSG__INIT, rs = BENCH__MSG__INIT;
    rq.id = (uint64_t)t;
    rq.name = SECRET;
    kt_status st = kt_enclave_call(ta, "bench.Get", &rq, &rs);
    int bad = st || rs.id != 32;
    if (bad) fprintf(stderr, "bench_aecs: TA get: %s\n", st ? kt_last_error() : "not a 32-byte key");
    return bad;
}

static int one_echo(int t)
{
    Bench__Msg rq = BENCH__MSG__INIT, rs = BENCH__MSG__INIT;
    rq.id = (uint64_t)t;
    rq.payload.data = payload;
    rq.payload.len = sizeof payload;
    kt_status st = kt_rpc_call(plain, "/bench.Echo/Echo", &rq, &rs, 10000);
    int bad = st || rs.payload.len != sizeof payload;
    kt_message_clear(&rs);
    if (bad) fprintf(stderr, "bench_aecs: plain echo: %s\n", kt_last_error());
    return bad;
}

/* The TA's fn on the signer over message bytes; want: what its answer's id must say. */
static int ta_sign(int t, const char *fn, uint8_t *msg, size_t n, uint64_t want)
{
    Bench__Msg rq = BENCH__MSG__INIT, rs = BENCH__MSG__INIT;
    rq.id = (uint64_t)t;
    rq.name = SIGNER;
    rq.payload.data = msg;
    rq.payload.len = n;
    kt_status st = kt_enclave_call(ta, fn, &rq, &rs);
    int bad = st || rs.id != want;
    if (bad) fprintf(stderr, "bench_aecs: TA %s: %s\n", fn, st ? kt_last_error() : "not the signatures asked for");
    return bad;
}

static int one_sign(int t)
{
    return ta_sign(t, "bench.Sign", payload, sizeof payload, 64); /* its length */
}

static int one_batch(int t)
{
    return ta_sign(t, "bench.SignBatch", batch_payload, sizeof batch_payload, BATCH); /* how many */
}

static int one_raw(int t)
{
    kt_buf sig = {0};
    kt_status st = kt_sign(raw_keys[t], payload, sizeof payload, &sig);
    int bad = st || sig.len != 64;
    kt_buf_free(&sig);
    if (bad) fprintf(stderr, "bench_aecs: raw sign: %s\n", kt_last_error());
    return bad;
}

static int one(int kind, int t)
{
    return kind == GET ? one_get(t) : kind == ECHO ? one_echo(t) : kind == SIGN ? one_sign(t) : kind == RAW ? one_raw(t)
                                                                                                   : one_batch(t);
}

typedef struct {
    int t, kind, bad;
    long n;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    double local[4096];
    size_t nl = 0;
    while (!stop && !w->bad) {
        double s = bench_now();
        w->bad = one(w->kind, w->t);
        local[nl++ % 4096] = bench_now() - s;
        w->n++;
    }
    pthread_mutex_lock(&samples_lock);
    for (size_t i = 0; i < nl && i < 4096 && nsamples[w->kind] < MAX_SAMPLES; i++)
        samples[w->kind][nsamples[w->kind]++] = local[i];
    pthread_mutex_unlock(&samples_lock);
    return NULL;
}

/* CPU seconds of this process and aecs-server's (both ends of every call are in them). */
static double cpu_now(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    double t = (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
    char path[64];
    kt_buf b = {0};
    snprintf(path, sizeof path, "/proc/%d/stat", (int)server_pid);
    const char *p = !kt_file_read(path, 4096, &b) && b.len ? strrchr((const char *)b.data, ')') : NULL;
    unsigned long long ut = 0, st = 0;
    /* after the command's ')': state and 10 numbers, then utime and stime (clock ticks) */
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
        t += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    kt_buf_free(&b);
    return t;
}

/* One slice of a kind on every thread: calls/s by the wall clock (signatures/s for a
 * batch), CPU per call (per signature). */
static int slice(int kind, double *rate, double *cpu)
{
    pthread_t th[THREADS];
    worker w[THREADS] = {{0}};
    stop = 0;
    double t0 = bench_now(), c0 = cpu_now();
    for (int t = 0; t < THREADS; t++) {
        w[t].t = t;
        w[t].kind = kind;
        if (pthread_create(&th[t], NULL, work, &w[t])) return 1;
    }
    while (bench_now() - t0 < SLICE) usleep(10000);
    stop = 1;
    long n = 0;
    int bad = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        n += w[t].n;
        bad |= w[t].bad;
    }
    n *= per_call[kind];
    *rate = (double)n / (bench_now() - t0);
    *cpu = n ? (cpu_now() - c0) / (double)n : 0;
    return bad;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(int kind, double p)
{
    qsort(samples[kind], nsamples[kind], sizeof(double), cmp);
    return nsamples[kind] ? samples[kind][(size_t)(p * (double)(nsamples[kind] - 1))] * 1e6 : 0;
}

/* Slices of kind a and kind b alternate, each keeps its best: the rates and CPU per call. */
static int alternate(int a, int b, double best[2], double cpu[2])
{
    double r, c;
    for (int k = 0; k < 50; k++) /* warm both paths */
        if (one(a, 0) || one(a, 1) || one(b, 0) || one(b, 1)) return 1;
    best[0] = best[1] = 0, cpu[0] = cpu[1] = 1;
    for (int k = 0; k < ROUNDS; k++) {
        if (slice(b, &r, &c)) return 1;
        if (r > best[1]) best[1] = r, cpu[1] = c;
        if (slice(a, &r, &c)) return 1;
        if (r > best[0]) best[0] = r, cpu[0] = c;
    }
    return 0;
}

static int run_get(void)
{
    double best[2], cpu[2];
    if (alternate(GET, ECHO, best, cpu)) return 1;
    double g50 = pct(GET, 0.5), g99 = pct(GET, 0.99), e50 = pct(ECHO, 0.5), e99 = pct(ECHO, 0.99);
    printf("TA secret gets, %d threads over established sessions: %.0f/s (p50 %.0f us, p99 %.0f us; %.0f us CPU a get)\n",
           THREADS, best[0], g50, g99, cpu[0] * 1e6);
    printf("plain gRPC echo of 32 bytes, %d threads: %.0f/s (p50 %.0f us, p99 %.0f us; %.0f us CPU a call)\n", THREADS,
           best[1], e50, e99, cpu[1] * 1e6);
    echo_cpu = cpu[1];
    bench_line("aecs_get", best[0] / best[1], ">=", 0.7, best[0], best[1]);
    return 0;
}

static int run_sign(void)
{
    double best[2], cpu[2], bbest[2], bcpu[2];
    if (alternate(SIGN, RAW, best, cpu) || alternate(BATCHED, RAW, bbest, bcpu)) return 1;
    if (bbest[1] > best[1]) best[1] = bbest[1], cpu[1] = bcpu[1]; /* raw: the best of both runs */
    printf("raw P-256 signs (kt_sign), %d threads: %.0f/s (p50 %.0f us; %.0f us CPU a sign)\n", THREADS, best[1],
           pct(RAW, 0.5), cpu[1] * 1e6);
    printf("never-export P-256 signs by a TA, one aecs.Sign each, %d threads over established sessions: %.0f/s (p50 "
           "%.0f us, p99 %.0f us; %.0f us CPU a sign)\n",
           THREADS, best[0], pct(SIGN, 0.5), pct(SIGN, 0.99), cpu[0] * 1e6);
    printf("  its ceiling: a call costs at least a plain echo's CPU (%.0f us, %.1f raw signatures), so one sign a "
           "call is at most %.2f of raw (by CPU: %.0f / (%.0f + %.0f))\n",
           echo_cpu * 1e6, echo_cpu / cpu[1], cpu[1] / (echo_cpu + cpu[1]), cpu[1] * 1e6, echo_cpu * 1e6, cpu[1] * 1e6);
    bench_line("aecs_sign", best[0] / best[1], ">=", 0.5, best[0], best[1]);
    printf("never-export P-256 signs by a TA, %d messages to one aecs.SignBatch, %d threads: %.0f signatures/s (p50 "
           "%.0f us a batch; %.0f us CPU a signature, %.2f of raw by CPU)\n",
           BATCH, THREADS, bbest[0], pct(BATCHED, 0.5), bcpu[0] * 1e6, cpu[1] / bcpu[0]);
    bench_line("aecs_sign_batch", bbest[0] / best[1], ">=", 0.5, bbest[0], best[1]);
    return 0;
}

/* aecs-server on loopback, its log in dir; its gRPC port into *port. */
static int start_server(char **argv, const char *dir, const char *collateral, pid_t *pid, int *port)
{
    char store[1100], audit[1100], log[1100];
    snprintf(store, sizeof store, "fs:%s/store", dir);
    snprintf(audit, sizeof audit, "%s/audit.log", dir);
    snprintf(log, sizeof log, "%s/aecs.log", dir);
    char *args[] = {argv[1], "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--store", store, "--enclave", argv[2],
                    "--sim-dir", argv[4], "--collateral", (char *)collateral, "--audit-file", audit, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawn(pid, argv[1], &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) return fprintf(stderr, "bench_aecs: cannot start %s\n", argv[1]), 1;
    for (int i = 0; i < 300; i++) {
        kt_buf b = {0};
        const char *p = !kt_file_read(log, 1 << 20, &b) && b.len ? strstr((const char *)b.data, "grpc_port=") : NULL;
        if (p) *port = atoi(p + 10);
        kt_buf_free(&b);
        if (p) return 0;
        if (waitpid(*pid, NULL, WNOHANG) == *pid) break;
        usleep(100000);
    }
    return fprintf(stderr, "bench_aecs: aecs-server did not start (its log: %s)\n", log), 1;
}

static kt_status identity_of(const char *path, kt_enclave_identity *id)
{
    kt_buf b = {0};
    kt_signed_image img;
    kt_status st = kt_file_read(path, 1 << 30, &b);
    if (!st) st = kt_image_verify(b.data, b.len, &img, id);
    kt_buf_free(&b);
    return st;
}

/* As an admin (who is also the service's admin): init with simulated TAs under this
 * simulation root, the service, and its AES key for the TA's MRENCLAVE. */
static kt_status provision(const char *target, const kt_enclave_identity *aecs, const uint8_t ta_mre[32],
                           const kt_collateral *coll)
{
    char mre[65], mrs[65], yaml[400];
    uint8_t root[32], raw[64];
    size_t rl;
    kt_hex_encode(aecs->mrenclave, 32, mre, sizeof mre);
    kt_hex_encode(aecs->mrsigner, 32, mrs, sizeof mrs);
    snprintf(yaml, sizeof yaml, "allow_simulation: true\nrules:\n- {mrenclave: %s, mrsigner: %s, isvprodid: %u}\n", mre,
             mrs, (unsigned)aecs->config.prodid);
    kt_policy *policy = NULL;
    kt_key *admin = NULL;
    kt_aecs_client *c = NULL;
    ProtobufCMessage *res = NULL;
    kt_status st = kt_policy_parse(yaml, strlen(yaml), &policy);
    if (!st) st = kt_key_generate(KT_KEY_P256, &admin);
    if (!st) st = kt_key_public_raw(admin, raw, sizeof raw, &rl);
    if (!st) st = kt_collateral_root_sha256(coll, root);
    kt_aecs_client_config cfg = {.address = target, .key = admin, .policy = policy, .collateral = coll};
    if (!st) st = kt_aecs_client_new(&cfg, &c);
#define CALL(op, rq, type)                                                                                             \
    do {                                                                                                               \
        if (!st) st = kt_aecs_call(c, op, &(rq).base, &kubetee__aecs__v1__##type##__descriptor, &res);                \
        if (res) protobuf_c_message_free_unpacked(res, NULL), res = NULL;                                              \
    } while (0)
    Kubetee__Aecs__V1__TaPlatformPolicy tp = KUBETEE__AECS__V1__TA_PLATFORM_POLICY__INIT;
    tp.allow_simulation = true;
    tp.simulation_root.data = root;
    tp.simulation_root.len = 32;
    Kubetee__Aecs__V1__InitRequest init = KUBETEE__AECS__V1__INIT_REQUEST__INIT;
    init.ta_platform = &tp;
    CALL("Init", init, init_response);
    Kubetee__Aecs__V1__PublicKey pk = KUBETEE__AECS__V1__PUBLIC_KEY__INIT;
    pk.type = KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_P256;
    pk.raw.data = raw;
    pk.raw.len = 64;
    Kubetee__Aecs__V1__RegisterServiceRequest reg = KUBETEE__AECS__V1__REGISTER_SERVICE_REQUEST__INIT;
    reg.name = "bench";
    reg.admin_key = &pk;
    CALL("RegisterService", reg, done);
    Kubetee__Aecs__V1__Rule rule = KUBETEE__AECS__V1__RULE__INIT, *rules[1] = {&rule};
    rule.mrenclave.data = (uint8_t *)ta_mre;
    rule.mrenclave.len = 32;
    Kubetee__Aecs__V1__SecretSpec spec = KUBETEE__AECS__V1__SECRET_SPEC__INIT;
    spec.name = "key";
    spec.service = "bench";
    spec.type = KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_AES256_KEY;
    spec.share = "";
    spec.policy = rules;
    spec.n_policy = 1;
    Kubetee__Aecs__V1__CreateSecretRequest cr = KUBETEE__AECS__V1__CREATE_SECRET_REQUEST__INIT;
    cr.spec = &spec;
    CALL("CreateSecret", cr, secret_info);
    spec.name = "signer"; /* a never-export P-256 key for the same TA */
    spec.type = KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_EC_P256_KEY_PAIR;
    spec.never_export = true;
    CALL("CreateSecret", cr, secret_info);
#undef CALL
    kt_aecs_client_free(c);
    kt_key_free(admin);
    kt_policy_free(policy);
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6)
        return fprintf(stderr, "usage: bench_aecs AECS_SERVER AECS.signed.so TA.signed.so SIM_DIR [get|echo|sign|raw|batch]\n"), 2;
    kt_log_set_level(KT_LOG_WARN);
    setenv("KUBETEE_SIM_DIR", argv[4], 1);
    char dir[] = "/tmp/bench-aecs-XXXXXX";
    if (!mkdtemp(dir)) return fprintf(stderr, "bench_aecs: no temporary directory\n"), 1;
    kt_enclave_identity aecs;
    kt_sim_qe *qe = NULL;
    kt_collateral *coll = NULL;
    kt_rpc_server *echo_server = NULL;
    pid_t pid = 0;
    int port = 0, eport = 0, rc = 1;
    char target[64], etarget[64];
    const kt_rpc_method echo = {"/bench.Echo/Echo", &bench__msg__descriptor, &bench__msg__descriptor, bench_plain_echo, NULL,
                                NULL};
    kt_rpc_limits lim = {0};
    if (identity_of(argv[2], &aecs)) {
        fail(argv[2]);
    } else if (kt_sim_qe_open(argv[4], &qe) || kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &coll) ||
               kt_attest_serve_quotes(argv[4]) || kt_attest_serve_collateral(kt_sim_qe_collateral_dir(qe), NULL, NULL) ||
               kt_service_relay_serve(NULL)) {
        fail("the sim platform and the TA's host functions");
    } else if (kt_enclave_create(argv[3], NULL, &ta)) {
        fail(argv[3]);
    } else if (!start_server(argv, dir, kt_sim_qe_collateral_dir(qe), &pid, &port)) {
        server_pid = pid;
        snprintf(target, sizeof target, "127.0.0.1:%d", port);
        kt_rpc_limits_resolve(&lim); /* the same default workers as aecs-server's */
        if (provision(target, &aecs, kt_enclave_identity_of(ta)->mrenclave, coll)) {
            fail("provisioning AECS");
        } else if (kt_rpc_server_new("127.0.0.1:0", NULL, &lim, &echo, 1, &echo_server) ||
                   kt_rpc_server_start(echo_server, &eport)) {
            fail("the echo server");
        } else {
            snprintf(etarget, sizeof etarget, "127.0.0.1:%d", eport);
            rc = 0;
            for (int t = 0; t < THREADS && !rc; t++) {
                Bench__Msg rq = BENCH__MSG__INIT, rs = BENCH__MSG__INIT;
                rq.id = (uint64_t)t;
                rq.name = target;
                if (kt_enclave_call(ta, "bench.Connect", &rq, &rs)) rc = fail("the TA's session");
            }
            if (!rc && kt_rpc_client_new(etarget, NULL, &plain)) rc = fail("the plain client");
            for (int t = 0; t < THREADS && !rc; t++)
                if (kt_key_generate(KT_KEY_P256, &raw_keys[t])) rc = fail("a raw P-256 key");
            if (!rc && argc == 6) {
                double r = 0, c = 0;
                int kind = 0;
                while (kind < KINDS && strcmp(argv[5], kind_names[kind])) kind++;
                if (kind == KINDS) {
                    fprintf(stderr, "bench_aecs: a kind is get, echo, sign, raw or batch\n");
                    rc = 2;
                }
                for (int k = 0; k < 12 && !rc; k++) rc = slice(kind, &r, &c);
                if (!rc) printf("%s: %.0f/s (p50 %.0f us, %.0f us CPU a call)\n", kind_names[kind], r, pct(kind, 0.5), c * 1e6);
            } else if (!rc) {
                rc = run_get();
                if (!rc) rc = run_sign();
            }
            for (int t = 0; t < THREADS; t++) {
                Bench__Msg rq = BENCH__MSG__INIT, rs = BENCH__MSG__INIT;
                rq.id = (uint64_t)t;
                kt_enclave_call(ta, "bench.Close", &rq, &rs);
            }
            kt_rpc_client_free(plain);
        }
    }
    if (echo_server) kt_rpc_server_shutdown(echo_server, 1000), kt_rpc_server_free(echo_server);
    if (pid > 0) kill(pid, SIGTERM), waitpid(pid, NULL, 0);
    if (ta) kt_enclave_destroy(ta);
    for (int t = 0; t < THREADS; t++) kt_key_free(raw_keys[t]);
    kt_collateral_free(coll);
    kt_sim_qe_free(qe);
    char *rm[] = {"rm", "-rf", dir, NULL};
    pid_t r;
    if (!posix_spawnp(&r, "rm", NULL, NULL, rm, environ)) waitpid(r, NULL, 0);
    return rc;
}
