/* kubetee-serve's settings table (kubetee/svc.h reads it: defaults, a YAML file, the
 * environment KT_SERVE_*, flags) and the checks between settings. docs/operations.md. */
#include "serve.h"
#include <kubetee/svc.h>

#include <string.h>

static const char *const formats[] = {"kv", "json", NULL};

#define F(m) KT_SET_FIELD(sv_config, m)
static const kt_setting table[] = {
    {"enclave", KT_SET_PATH, F(enclave), NULL, "the signed enclave to serve",
     .opts = KT_SET_REQUIRED},
    {"listen", KT_SET_STRING, F(listen), NULL,
     "gRPC address, host:port (port 0 picks one) or unix:/path", .opts = KT_SET_REQUIRED},
    {"http", KT_SET_STRING, F(http), NULL, "/healthz /readyz /metrics address (empty: none)"},
    {"sim_dir", KT_SET_PATH, F(sim_dir), NULL, "the sim platform's state directory"},
    {"expect_mrsigner", KT_SET_STRING, F(expect_mrsigner), NULL,
     "refuse an enclave another key signed (hex)"},
    {"limits", KT_SET_STRING, F(limits), NULL,
     "session limits, name=value,... (docs/operations.md)"},
    {"rpc_limits", KT_SET_STRING, F(rpc_limits), NULL,
     "gRPC limits, name=value,... (docs/operations.md)"},
    {"log_format", KT_SET_ENUM, F(log_format), "kv", "log lines", .words = formats},
    {"drain_ms", KT_SET_DURATION, F(drain_ms), "10000", "how long calls under way get at SIGTERM",
     1, 600000},
    {"collateral", KT_SET_STRING, F(collateral), NULL,
     "for client enclaves' quotes: a directory or PCCS URL (default: the sim platform's)"},
    {"collateral_root", KT_SET_PATH, F(collateral_root), NULL,
     "with a URL: the trust anchor (PEM)"},
    {"collateral_cache", KT_SET_PATH, F(collateral_cache), NULL,
     "with a URL: the fetched collateral's directory"},
    {"tls.cert", KT_SET_PATH, F(tls_cert), NULL, "TLS certificate chain (PEM)"},
    {"tls.key", KT_SET_PATH, F(tls_key), NULL, "TLS private key (PEM)"},
    {"tls.client_ca", KT_SET_PATH, F(tls_client_ca), NULL, "mutual TLS: clients' CA (PEM)"},
};
#undef F

static const kt_settings_spec spec = {
    .prog = "kubetee-serve",
    .usage = "usage: kubetee-serve [--config serve.yaml] [options]\n",
    .env_prefix = "KT_SERVE_",
    KT_SET_TABLE(table),
};

kt_status sv_config_load(int argc, char **argv, sv_config *c, bool *help)
{
    memset(c, 0, sizeof *c);
    kt_status st = kt_settings_load(&spec, c, argc, argv, help, NULL);
    return st || *help ? st : sv_config_check(c);
}

void sv_config_log(const sv_config *c)
{
    kt_settings_log(&spec, c, "serve.settings");
}

kt_status sv_config_check(const sv_config *c)
{
    uint8_t mrs[32];
    if (c->expect_mrsigner[0] && kt_hex_decode(c->expect_mrsigner, mrs, sizeof mrs))
        return kt_fail(KT_ERR_MALFORMED, "serve: expect_mrsigner must be 64 hex digits");
    bool url = !strncmp(c->collateral, "http://", 7) || !strncmp(c->collateral, "https://", 8);
    if (url && (!c->collateral_root[0] || !c->collateral_cache[0]))
        return kt_fail(KT_ERR_MALFORMED,
                       "serve: a collateral URL needs collateral_root and collateral_cache");
    if (!c->tls_cert[0] != !c->tls_key[0] || (c->tls_client_ca[0] && !c->tls_cert[0]))
        return kt_fail(KT_ERR_MALFORMED,
                       "serve: tls needs cert and key together (client_ca only with them)");
    return KT_OK;
}
