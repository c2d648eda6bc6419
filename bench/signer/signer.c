/* bench/signer: signatures per second through kubetee-signer (mutual TLS gRPC, the
 * request check, the policy, the ISVSVN state, the token) against raw PKCS#11 signs
 * (C_SignInit + C_Sign, CKM_SHA256_RSA_PKCS) with the same key of the same SoftHSM2
 * token, in the same run, with the same number of threads. Rounds alternate between the
 * two so load on the shared machine falls on both. On a machine shared with others the
 * side with more runnable threads (the service: clients and workers) gets more of the
 * CPU, so what is compared is signatures per CPU second: for raw, this process's CPU;
 * for the service, this process's (the clients) and kubetee-signer's together. The best
 * round of each is compared; wall-clock rates are printed beside.
 *
 * usage: bench_signer KUBETEE_SIGNER [SECONDS_PER_ROUND] */
#include "../bench.h"
#include "signer.pb-c.h"
#include <kubetee/image.h>
#include <kubetee/rpc.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MODULE "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"
#define PIN "246810"
#define LABEL "bench-key"
#define ROUNDS 3
#define MAX_THREADS 16

static char dir[64] = "/tmp/kt-bench-signer-XXXXXX";
static uint8_t sigdata[KT_SIGDATA_LEN];
static double seconds = 2.0;
static atomic_bool stop_flag;

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    if (system(cmd)) {
        fprintf(stderr, "bench_signer: failed: %s\n", cmd);
        exit(1);
    }
}

static void write_file(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (kt_file_write_atomic(p, text, strlen(text), 0600)) {
        fprintf(stderr, "bench_signer: writing %s: %s\n", p, kt_last_error());
        exit(1);
    }
}

/* The token, a CA, the signer's certificate and a client's, the configuration. */
static void setup(void)
{
    if (!mkdtemp(dir)) exit(1);
    char conf[4096];
    snprintf(conf, sizeof conf,
             "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", dir);
    write_file("softhsm2.conf", conf);
    snprintf(conf, sizeof conf, "%s/softhsm2.conf", dir);
    setenv("SOFTHSM2_CONF", conf, 1);
    sh("softhsm2-util --init-token --free --label bench --pin " PIN
       " --so-pin 97531 >/dev/null%s%s", "", "");
    write_file("pin", PIN "\n");
    sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
       "-keyout ca.key -out ca.pem -subj /CN=bench-CA -days 1 2>/dev/null%s", dir, "");
    const char *certs =
        "cd %s && for n in server client; do "
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key "
        "-out $n.csr -subj /CN=$n 2>/dev/null && "
        "echo subjectAltName=DNS:localhost > $n.ext && "
        "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem "
        "-days 1 -extfile $n.ext 2>/dev/null || exit 1; done%s";
    sh(certs, dir, "");
    sh("cd %s && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out log.key "
       "2>/dev/null%s", dir, "");
    snprintf(conf, sizeof conf,
             "listen: 127.0.0.1:0\nstate: %s/state\n"
             "tls: {cert: %s/server.pem, key: %s/server.key, client_ca: %s/ca.pem}\n"
             "log: {path: %s/log, head: %s/log.head, key: %s/log.key}\n"
             "token: {module: " MODULE ", label: bench, pin_file: %s/pin}\n"
             "clients:\n  bench: {subject: \"CN = client\", issuer: \"CN = bench-CA\"}\n"
             "keys:\n  " LABEL ": {production: true, prodids: [1], clients: [bench]}\n",
             dir, dir, dir, dir, dir, dir, dir, dir);
    write_file("signer.yaml", conf);
}

static pid_t start_signer(const char *bin, int *port)
{
    char cfg[256], log[256];
    snprintf(cfg, sizeof cfg, "%s/signer.yaml", dir);
    snprintf(log, sizeof log, "%s/signer.log", dir);
    sh("%s keygen --config %s --key " LABEL " 2>/dev/null", bin, cfg);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stderr)) _exit(127);
        execl(bin, bin, "--config", cfg, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) { /* up to 20 s for the start line */
        usleep(100000);
        kt_buf b = {0};
        if (kt_file_read(log, 1 << 20, &b) == KT_OK && kt_buf_append(&b, "", 1) == KT_OK) {
            const char *s = strstr((const char *)b.data, "event=signer.started");
            const char *p = s ? strstr(s, " port=") : NULL;
            if (p) {
                *port = atoi(p + 6);
                kt_buf_free(&b);
                return pid;
            }
        }
        kt_buf_free(&b);
    }
    fprintf(stderr, "bench_signer: kubetee-signer did not start (see %s)\n", log);
    exit(1);
}

/* ---- raw PKCS#11 ---- */
static CK_FUNCTION_LIST *raw;
static CK_SLOT_ID raw_slot;
static CK_OBJECT_HANDLE raw_key;

static void raw_open(void)
{
    raw = p11_kit_module_load(MODULE, 0);
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    CK_SESSION_HANDLE s;
    if (!raw || p11_kit_module_initialize(raw) != CKR_OK ||
        raw->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n < 1 ||
        raw->C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
        raw->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)) != CKR_OK) {
        fprintf(stderr, "bench_signer: raw PKCS#11 open failed\n");
        exit(1);
    }
    raw_slot = slots[0];
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, LABEL, strlen(LABEL)}};
    if (raw->C_FindObjectsInit(s, t, 2) != CKR_OK ||
        raw->C_FindObjects(s, &raw_key, 1, &n) != CKR_OK || n != 1) {
        fprintf(stderr, "bench_signer: the key is not in the token\n");
        exit(1);
    }
    raw->C_FindObjectsFinal(s); /* s stays open: it holds the login */
}

typedef struct {
    unsigned long done;
    int port;
    bool failed;
} worker;

static void *raw_worker(void *arg)
{
    worker *w = arg;
    CK_SESSION_HANDLE s;
    if (raw->C_OpenSession(raw_slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
        w->failed = true;
        return NULL;
    }
    while (!atomic_load(&stop_flag)) {
        CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
        uint8_t sig[KT_RSA3072_LEN];
        CK_ULONG len = sizeof sig;
        if (raw->C_SignInit(s, &m, raw_key) != CKR_OK ||
            raw->C_Sign(s, sigdata, sizeof sigdata, sig, &len) != CKR_OK || len != sizeof sig) {
            w->failed = true;
            break;
        }
        w->done++;
    }
    raw->C_CloseSession(s);
    return NULL;
}

static void *service_worker(void *arg)
{
    worker *w = arg;
    char target[64], ca[128], cert[128], key[128];
    snprintf(target, sizeof target, "127.0.0.1:%d", w->port);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/client.pem", dir);
    snprintf(key, sizeof key, "%s/client.key", dir);
    kt_rpc_tls tls = {.ca = ca, .cert = cert, .key = key, .server_name = "localhost"};
    kt_rpc_client *c;
    if (kt_rpc_client_new(target, &tls, &c)) {
        w->failed = true;
        return NULL;
    }
    Kubetee__Signer__V1__SignRequest req = KUBETEE__SIGNER__V1__SIGN_REQUEST__INIT;
    req.key = LABEL;
    req.sigdata.data = sigdata;
    req.sigdata.len = sizeof sigdata;
    while (!atomic_load(&stop_flag)) {
        Kubetee__Signer__V1__SignResponse res = KUBETEE__SIGNER__V1__SIGN_RESPONSE__INIT;
        kt_status st = kt_rpc_call(c, "/kubetee.signer.v1.Signer/Sign", &req, &res, 10000);
        bool ok = !st && res.signature.len == KT_RSA3072_LEN;
        if (!st) kt_message_clear(&res);
        if (!ok) {
            fprintf(stderr, "bench_signer: Sign failed: %s\n", kt_last_error());
            w->failed = true;
            break;
        }
        w->done++;
    }
    kt_rpc_client_free(c);
    return NULL;
}

/* CPU seconds used so far by this process, and by process pid (0: none). */
static double cpu_of(pid_t pid)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double t = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
    if (!pid) return t;
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    kt_buf b = {0};
    if (kt_file_read(p, 4096, &b) || kt_buf_append(&b, "", 1)) exit(1);
    const char *s = strrchr((const char *)b.data, ')'); /* fields 14, 15 after the name */
    unsigned long ut = 0, st = 0;
    if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        exit(1);
    kt_buf_free(&b);
    return t + (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* One round: n threads of fn for `seconds`; signatures per wall second, and per CPU
 * second of this process and cpu_pid's. */
static double round_of(void *(*fn)(void *), unsigned n, int port, pid_t cpu_pid, double *per_cpu)
{
    double c0 = cpu_of(cpu_pid);
    pthread_t th[MAX_THREADS];
    worker w[MAX_THREADS] = {0};
    atomic_store(&stop_flag, false);
    double t0 = bench_now();
    for (unsigned i = 0; i < n; i++) {
        w[i].port = port;
        pthread_create(&th[i], NULL, fn, &w[i]);
    }
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&stop_flag, true);
    unsigned long total = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failed) exit(1);
        total += w[i].done;
    }
    double wall = bench_now() - t0, cpu = cpu_of(cpu_pid) - c0;
    *per_cpu = cpu > 0 ? (double)total / cpu : 0;
    return (double)total / wall;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_signer KUBETEE_SIGNER [SECONDS_PER_ROUND]\n");
        return 2;
    }
    if (argc > 2) seconds = atof(argv[2]);
    setup();
    int port;
    pid_t pid = start_signer(argv[1], &port);
    raw_open();
    uint8_t mr[32];
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    c.prodid = 1;
    c.svn = 1;
    if (kt_random(mr, sizeof mr) || kt_sigstruct_sigdata(mr, &c, kt_sigstruct_today(), sigdata))
        return 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    /* enough callers in flight for appends to share fsyncs, as a build farm would have */
    unsigned n = cpus < 2 ? 4 : cpus > 4 ? 16 : (unsigned)cpus * 4;
    double best_raw = 0, best_svc = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double ac, bc;
        double a = round_of(raw_worker, n, port, 0, &ac);
        double b = round_of(service_worker, n, port, pid, &bc);
        printf("round %d (%u threads): raw PKCS#11 %.0f/s wall, %.0f per CPU second; through "
               "kubetee-signer %.0f/s wall, %.0f per CPU second\n",
               r + 1, n, a, ac, b, bc);
        if (ac > best_raw) best_raw = ac;
        if (bc > best_svc) best_svc = bc;
    }
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return 1;
    bench_line("signer", best_svc / best_raw, ">=", 0.7, best_svc, best_raw);
    return 0;
}
