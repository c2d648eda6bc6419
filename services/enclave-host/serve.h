/* kubetee-serve: serves one signed enclave's remote functions over the enclave service
 * (kt_service_serve). config.c holds its settings table (a YAML file, the environment
 * KT_SERVE_*, flags: kubetee/svc.h); main.c serves. docs/operations.md. */
#ifndef KT_SERVE_H
#define KT_SERVE_H

#include <kubetee/base.h>

#define SV_PATH_MAX 512

typedef struct {
    char enclave[SV_PATH_MAX];   /* the signed enclave (required) */
    char listen[256];            /* gRPC address (required) */
    char http[256];              /* /healthz /readyz /metrics (empty: none) */
    char sim_dir[SV_PATH_MAX];   /* the sim platform's state (empty: its default) */
    char expect_mrsigner[65];    /* hex: refuse an enclave signed by another key */
    char limits[512];            /* kt_service_limits_parse's name=value,... */
    char rpc_limits[512];        /* kt_rpc_limits_parse's */
    char log_format[8];          /* kv or json */
    unsigned drain_ms;
    char collateral[SV_PATH_MAX];       /* for client enclaves' quotes: a directory or a PCCS URL
                                           (empty: the sim platform's) */
    char collateral_root[SV_PATH_MAX];  /* with a URL: the trust anchor (PEM) */
    char collateral_cache[SV_PATH_MAX]; /* with a URL: where fetched collateral is kept */
    char tls_cert[SV_PATH_MAX], tls_key[SV_PATH_MAX], tls_client_ca[SV_PATH_MAX];
} sv_config;

/* The settings from defaults, the file (--config or KT_SERVE_CONFIG), the environment
 * and flags (argv[0] the program), then sv_config_check. --help sets *help (the usage
 * printed). */
kt_status sv_config_load(int argc, char **argv, sv_config *c, bool *help);
/* The checks between settings: MRSIGNER hex, collateral URL with its root and cache, TLS
 * files given together. */
kt_status sv_config_check(const sv_config *c);
/* The settings in effect, one log line. */
void sv_config_log(const sv_config *c);

#endif
