/* aecs-server: the AECS enclave's host. It relays sessions (the enclave service), keeps
 * the enclave's sealed objects in a kt_store, appends the audit lines the enclave makes,
 * and counts them for /metrics. It holds no secret and chooses no admin. */
#ifndef AECS_SERVER_H
#define AECS_SERVER_H

#include <kubetee/base.h>
#include <kubetee/service.h>
#include <kubetee/store.h>

#include <stdio.h>

typedef struct {
    char listen[256];       /* gRPC address of the enclave service */
    char http[256];         /* /healthz /readyz /metrics */
    char store[1024];       /* kt_store URL: fs:/dir or etcd://host:port[,host:port...][/namespace] */
    char store_tls_ca[1024], store_tls_cert[1024], store_tls_key[1024], store_server_name[256]; /* etcd TLS */
    char store_insecure[8]; /* "true": plaintext to an etcd off loopback */
    char store_user[129], store_password_file[1024]; /* etcd auth */
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
    unsigned store_lock_ttl; /* seconds: etcd's lease on the namespace's lock */
    unsigned ta_session_requests;                 /* requests of one TA session; the same */
} aecs_config;

/* The settings table (config.c) read by kt_settings_load (kubetee/svc.h): defaults, then
 * --config FILE (YAML, or $KT_AECS_CONFIG), then KT_AECS_<NAME>, then flags --<name>
 * VALUE (argv[0] the program); unknown names anywhere are refused by name. --help sets
 * *help (the usage printed). */
kt_status aecs_config_load(int argc, char **argv, aecs_config *c, bool *help);
/* The settings in effect, one log line. */
void aecs_config_log(const aecs_config *c);

/* The OCALLs the enclave makes (aecs.store.*, aecs.audit.Append, aecs.Time), served
 * from this store and audit file. */
kt_status aecs_host_open(kt_store *store, const char *audit_file);
/* aecs.store.PutBatch (store_batch.c) on store: the puts as one kt_store_put_batch, up to
 * the first key refuse (may be NULL; a test host's failing store) fails. */
struct Kubetee__Aecs__V1__StorePutBatchRequest;
struct Kubetee__Aecs__V1__StorePutBatchResponse;
kt_status aecs_host_put_batch(kt_store *store, const struct Kubetee__Aecs__V1__StorePutBatchRequest *rq,
                              struct Kubetee__Aecs__V1__StorePutBatchResponse *rs,
                              kt_status (*refuse)(const char *key));
/* The audit file's last lines (at most max), for the enclave to adopt at start. */
kt_status aecs_host_audit_tail(const char *audit_file, size_t max, char ***lines, size_t *n);
void aecs_host_free_lines(char **lines, size_t n);
/* Requests by operation and outcome (from the audit lines), Prometheus text. */
void aecs_host_metrics(kt_buf *out);
void aecs_host_close(void);

/* The store's one holder (holder.c): the options that make this process the store's holder
 * (its words: host, pid, start time, listen address; the lock's TTL; what a lost lock
 * does: not ready, and aecs_holder_fd readable, for the main loop to stop). */
kt_status aecs_holder_options(const aecs_config *c, kt_store_options *o);
int aecs_holder_fd(void);
bool aecs_holder_lost(void);
/* Not lost, the lock's deadline checked by the clock now (/readyz, each request). */
bool aecs_holder_holds(kt_store *store);
/* The service host's n methods (KT_SERVICE_METHODS), each wrapped: refused with
 * KT_ERR_UNAVAILABLE before the enclave sees the request, and its answer dropped after,
 * unless the store is still held. Returns n. */
size_t aecs_holder_gate(kt_store *store, kt_rpc_method *m, size_t n);
/* The lock's state, Prometheus text. */
void aecs_holder_metrics(kt_store *store, kt_buf *out);
#endif
