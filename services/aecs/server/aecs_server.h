/* aecs-server: the AECS enclave's host. It relays sessions (the enclave service), keeps
 * the enclave's sealed objects in a kt_store, appends the audit lines the enclave makes,
 * and counts them for /metrics. It holds no secret and chooses no admin. */
#ifndef AECS_SERVER_H
#define AECS_SERVER_H

#include <kubetee/base.h>
#include <kubetee/store.h>

#include <stdio.h>

typedef struct {
    char listen[256];       /* gRPC address of the enclave service */
    char http[256];         /* /healthz /readyz /metrics */
    char store[1024];       /* kt_store URL: fs:/dir (etcd:// when its backend lands) */
    char enclave[1024];     /* the signed AECS enclave */
    char sim_dir[1024];     /* sim platform state ("" : $KUBETEE_SIM_DIR or ~/.kubetee/sim) */
    char audit_file[1024];  /* where the audit lines go */
    char limits[512];       /* the enclave service's limits (kt_service_limits_parse) */
    char log_format[8];
    char collateral[1024];       /* TA quotes: a collateral directory or a PCCS/PCS URL ("": the sim platform's) */
    char collateral_root[1024];  /* the anchor for a URL's collateral (PEM) */
    char collateral_cache[1024]; /* where a URL's collateral is kept */
    unsigned max_services, max_secrets, max_data, keep_versions, drain_ms, max_ta_secrets, max_ta_total;
    unsigned ta_session_max_age, ta_session_idle; /* seconds; the enclave's ceiling bounds them */
} aecs_config;

/* Defaults, then --config FILE (YAML, or $KT_AECS_CONFIG), then KT_AECS_<NAME>, then
 * flags --<name> VALUE; unknown names anywhere are refused by name. */
kt_status aecs_config_load(int argc, char **argv, aecs_config *c);
void aecs_config_usage(FILE *f);

/* The OCALLs the enclave makes (aecs.store.*, aecs.audit.Append, aecs.Time), served
 * from this store and audit file. */
kt_status aecs_host_open(kt_store *store, const char *audit_file);
/* The audit file's last lines (at most max), for the enclave to adopt at start. */
kt_status aecs_host_audit_tail(const char *audit_file, size_t max, char ***lines, size_t *n);
void aecs_host_free_lines(char **lines, size_t n);
/* Requests by operation and outcome (from the audit lines), Prometheus text. */
void aecs_host_metrics(kt_buf *out);
void aecs_host_close(void);
#endif
