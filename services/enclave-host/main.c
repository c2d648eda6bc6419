/* kubetee-serve: serves a signed enclave's remote functions over the enclave service
 * (docs/operations.md, "kubetee-serve").
 *
 *   kubetee-serve [--config serve.yaml] [--enclave E] [--listen ADDR] [--http ADDR] ...
 *
 * Settings come from the YAML file, then the environment (KT_SERVE_*), then flags.
 * SIGTERM or SIGINT drains: no new calls, calls under way finish within drain_ms. */
#include "serve.h"
#include <kubetee/attest.h>
#include <kubetee/rpc.h>
#include <kubetee/service.h>
#include <kubetee/svc.h>
#include <kubetee/tff.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *flag, *env, *help;
    size_t off, cap; /* the sv_config field (cap 0: --config) */
} opt;

#define O(f, e, h, m) {f, e, h, offsetof(sv_config, m), sizeof(((sv_config *)0)->m)}
static const opt opts[] = {
    {"config", "KT_SERVE_CONFIG", "the YAML configuration (optional)", 0, 0},
    O("enclave", "KT_SERVE_ENCLAVE", "the signed enclave to serve", enclave),
    O("listen", "KT_SERVE_LISTEN", "gRPC address, host:port (port 0 picks one) or unix:/path", listen),
    O("http", "KT_SERVE_HTTP", "/healthz /readyz /metrics address (empty: none)", http),
    O("sim-dir", "KT_SERVE_SIM_DIR", "the sim platform's state directory", sim_dir),
    O("expect-mrsigner", "KT_SERVE_EXPECT_MRSIGNER", "refuse an enclave another key signed (hex)", expect_mrsigner),
    O("limits", "KT_SERVE_LIMITS", "session limits, name=value,... (docs/operations.md)", limits),
    O("rpc-limits", "KT_SERVE_RPC_LIMITS", "gRPC limits, name=value,... (docs/operations.md)", rpc_limits),
    O("log-format", "KT_SERVE_LOG_FORMAT", "kv or json", log_format),
    O("drain-ms", "KT_SERVE_DRAIN_MS", "how long calls under way get at SIGTERM", drain_ms),
    O("collateral", "KT_SERVE_COLLATERAL", "for client enclaves' quotes: a directory or PCCS URL", collateral),
    O("collateral-root", "KT_SERVE_COLLATERAL_ROOT", "with a URL: the trust anchor (PEM)", collateral_root),
    O("collateral-cache", "KT_SERVE_COLLATERAL_CACHE", "with a URL: the fetched collateral's directory",
      collateral_cache),
    O("tls-cert", "KT_SERVE_TLS_CERT", "TLS certificate chain (PEM)", tls_cert),
    O("tls-key", "KT_SERVE_TLS_KEY", "TLS private key (PEM)", tls_key),
    O("tls-client-ca", "KT_SERVE_TLS_CLIENT_CA", "mutual TLS: clients' CA (PEM)", tls_client_ca),
};
#undef O
#define N_OPTS (sizeof opts / sizeof opts[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: kubetee-serve [--config serve.yaml] [options]\n"
               "Options override the configuration; each also has an environment variable (a flag wins):\n");
    for (size_t i = 0; i < N_OPTS; i++) fprintf(f, "  --%-16s %-25s %s\n", opts[i].flag, opts[i].env, opts[i].help);
}

static int fail(const char *what)
{
    const char *e = kt_last_error();
    char shown[1024];
    kt_log(KT_LOG_ERROR, "service.failed", "step", what, "error", kt_escape(e, strlen(e), shown, sizeof shown), NULL);
    return 1;
}

static kt_status set(sv_config *c, const opt *o, const char *v, const char *from)
{
    if (strlen(v) >= o->cap) return kt_fail(KT_ERR_INVALID_ARGUMENT, "serve: %s for %s is longer than %zu bytes", from, o->flag, o->cap - 1);
    memcpy((char *)c + o->off, v, strlen(v) + 1);
    return KT_OK;
}

/* The file (if any), then the environment, then the flags; 0 or an exit status. */
static int settings(int argc, char **argv, sv_config *c)
{
    const char *given[N_OPTS] = {0};
    for (size_t i = 0; i < N_OPTS; i++) given[i] = getenv(opts[i].env);
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
            usage(stdout);
            exit(0);
        }
        size_t i = 0;
        while (i < N_OPTS && (strncmp(argv[a], "--", 2) || strcmp(argv[a] + 2, opts[i].flag))) i++;
        if (i == N_OPTS || a + 1 >= argc) {
            char e[128];
            fprintf(stderr, "kubetee-serve: unknown or incomplete option '%s'\n", kt_escape(argv[a], strlen(argv[a]), e, sizeof e));
            usage(stderr);
            return 2;
        }
        given[i] = argv[++a];
    }
    if (given[0]) {
        kt_buf b = {0};
        kt_status st = kt_file_read(given[0], 1 << 20, &b);
        if (!st) st = sv_config_parse((const char *)b.data, b.len, c);
        kt_buf_free(&b);
        if (st) return fail("reading the configuration");
    }
    for (size_t i = 1; i < N_OPTS; i++)
        if (given[i] && set(c, &opts[i], given[i], "the value")) return fail("settings");
    if (sv_config_check(c)) return fail("settings");
    return 0;
}

static int serve(const sv_config *c)
{
    kt_service_limits limits;
    kt_service_limits_default(&limits);
    kt_rpc_limits rl = {0};
    uint64_t drain = 10000;
    if (c->drain_ms[0]) kt_decimal_parse(c->drain_ms, 600000, &drain);
    if (kt_service_limits_parse(c->limits, &limits)) return fail("limits");
    if (kt_rpc_limits_parse(c->rpc_limits, &rl)) return fail("rpc_limits");
    if (limits.max_message + 1024 > (rl.max_message ? rl.max_message : 4u << 20)) {
        /* a service message rides in one gRPC message: the server must take the largest */
        if (limits.max_message + 1024 > UINT32_MAX) return fail("limits");
        rl.max_message = (unsigned)(limits.max_message + 1024);
    }
    uint8_t mrs[32];
    kt_enclave_options eo = {.sim_dir = c->sim_dir[0] ? c->sim_dir : NULL};
    if (c->expect_mrsigner[0] && !kt_hex_decode(c->expect_mrsigner, mrs, sizeof mrs)) eo.expect_mrsigner = mrs;
    kt_rpc_tls tls = {.cert = c->tls_cert, .key = c->tls_key, .ca = c->tls_client_ca[0] ? c->tls_client_ca : NULL,
                      .require_client_cert = c->tls_client_ca[0] != 0};
    kt_service_config sc = {.listen = c->listen,
                            .tls = c->tls_cert[0] ? &tls : NULL,
                            .rpc_limits = &rl,
                            .limits = &limits,
                            .http = c->http,
                            .drain_ms = (int)drain};
    kt_enclave *e = NULL;
    kt_sim_qe *qe = NULL;
    if (kt_attest_serve_quotes(eo.sim_dir)) return fail("serving quotes");
    /* collateral and time for the quotes of client enclaves, which the enclave judges by
     * its own policy: the host only hands them over */
    const char *coll = c->collateral;
    if (!coll[0]) {
        if (kt_sim_qe_open(eo.sim_dir, &qe)) return fail("the sim platform's collateral");
        coll = kt_sim_qe_collateral_dir(qe);
    }
    kt_status cs = kt_attest_serve_collateral(coll, c->collateral_root[0] ? c->collateral_root : NULL,
                                              c->collateral_cache[0] ? c->collateral_cache : NULL);
    kt_sim_qe_free(qe);
    if (cs) return fail("serving collateral");
    if (kt_enclave_create(c->enclave, &eo, &e)) return fail("loading the enclave");
    kt_status st = kt_service_serve(e, &sc);
    kt_enclave_destroy(e);
    return st ? fail("serving") : 0;
}

int main(int argc, char **argv)
{
    /* before any thread starts (the enclave's, gRPC's), so every thread inherits the mask */
    if (kt_svc_signalfd() < 0) return fprintf(stderr, "kubetee-serve: no signalfd\n"), 1;
    static sv_config c;
    int rc = settings(argc, argv, &c);
    if (rc) return rc;
    kt_log_set_format(!strcmp(c.log_format, "json") ? KT_LOG_JSON : KT_LOG_KV);
    return serve(&c);
}
