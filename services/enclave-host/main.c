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

static int fail(const char *what)
{
    const char *e = kt_last_error();
    char shown[1024];
    kt_log(KT_LOG_ERROR, "service.failed", "step", what, "error",
           kt_escape_text(e, strlen(e), shown, sizeof shown), NULL);
    return 1;
}

/* A refused setting: said on stderr, and the settings' exit status. */
static int bad_setting(const char *what)
{
    char e[512];
    fprintf(stderr, "kubetee-serve: %s%s (--help lists the settings)\n", what,
            kt_escape_text(kt_last_error(), strlen(kt_last_error()), e, sizeof e));
    return KT_SVC_EXIT_SETTINGS;
}

/* The settings; 0 or KT_SVC_EXIT_SETTINGS. */
static int settings(int argc, char **argv, sv_config *c, bool *help)
{
    return sv_config_load(argc - 1, argv + 1, c, help) ? bad_setting("") : 0;
}

static int serve(const sv_config *c)
{
    kt_service_limits limits;
    kt_service_limits_default(&limits);
    kt_rpc_limits rl = {0};
    if (kt_service_limits_parse(c->limits, &limits)) return bad_setting("limits: ");
    if (kt_rpc_limits_parse(c->rpc_limits, &rl)) return bad_setting("rpc_limits: ");
    if (limits.max_message + 1024 > (rl.max_message ? rl.max_message : 4u << 20)) {
        /* a service message rides in one gRPC message: the server must take the largest */
        if (limits.max_message + 1024 > UINT32_MAX) return bad_setting("limits: ");
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
                            .drain_ms = (int)c->drain_ms};
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
    bool help;
    int rc = settings(argc, argv, &c, &help);
    if (rc || help) return rc;
    kt_log_set_format(!strcmp(c.log_format, "json") ? KT_LOG_JSON : KT_LOG_KV);
    sv_config_log(&c);
    return serve(&c);
}
