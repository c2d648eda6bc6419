/* aecs-server's settings table (kubetee/svc.h reads it: defaults, a YAML file, the
 * environment KT_AECS_*, flags), then the store URL's scheme checked. The host chooses no
 * admin key here: init does that, inside the enclave. */
#include "aecs_server.h"
#include <kubetee/svc.h>

#include <string.h>

static const char *const formats[] = {"kv", "json", NULL}, *const truth[] = {"true", "false", NULL};

#define F(m) KT_SET_FIELD(aecs_config, m)
/* clang-format off */
/* max: the AECS enclave's own ceiling for it (services/aecs/enclave/start.c), so a value the
 * enclave would lower is refused here by name, never lowered in silence */
#define QUOTA(name, def, help, max) {#name, KT_SET_UINT, F(name), def, help, 1, max}
/* clang-format on */
static const kt_setting table[] = {
    {"listen", KT_SET_STRING, F(listen), "127.0.0.1:7443",
     "gRPC address of the enclave service (host:port)"},
    {"http", KT_SET_STRING, F(http), "127.0.0.1:7444",
     "/healthz, /readyz and /metrics (host:port)"},
    {"store", KT_SET_STRING, F(store), "fs:/var/lib/kubetee/aecs/store",
     "object store URL: fs:/absolute/dir or etcd://host:port[,host:port...][/namespace]"},
    {"store_tls_ca", KT_SET_PATH, F(store_tls_ca), NULL,
     "etcd over TLS: the CA etcd's certificates chain to (PEM file)"},
    {"store_tls_cert", KT_SET_PATH, F(store_tls_cert), NULL,
     "etcd over TLS: the client certificate for etcd's --client-cert-auth (PEM file)"},
    {"store_tls_key", KT_SET_PATH, F(store_tls_key), NULL,
     "etcd over TLS: the client certificate's key (PEM file)"},
    {"store_server_name", KT_SET_STRING, F(store_server_name), NULL,
     "etcd over TLS: the name etcd's certificates must carry (default: each endpoint's host)"},
    {"store_insecure", KT_SET_ENUM, F(store_insecure), "false",
     "true: plaintext to an etcd off loopback (logged); false: refused", .words = truth},
    {"store_user", KT_SET_STRING, F(store_user), NULL,
     "etcd auth: the user AECS logs in as (with store_password_file)"},
    {"store_password_file", KT_SET_PATH, F(store_password_file), NULL,
     "etcd auth: a file whose first line is store_user's password"},
    {"store_lock_ttl", KT_SET_DURATION, F(store_lock_ttl), "10",
     "etcd: the TTL of the lease on the namespace's lock (a second host is refused while it "
     "lives; a host with no renewal confirmed for four fifths of it serves no more and exits 3; "
     "each of the lock's calls may take a fifth of it, 3 s at most)",
     5, 300, .unit_ms = 1000},
    {"enclave", KT_SET_PATH, F(enclave), "/usr/lib/kubetee/aecs/aecs.signed.so",
     "the signed AECS enclave"},
    {"sim_dir", KT_SET_PATH, F(sim_dir), NULL,
     "sim platform state directory (default $KUBETEE_SIM_DIR, ~/.kubetee/sim)"},
    {"audit_file", KT_SET_PATH, F(audit_file), "/var/lib/kubetee/aecs/audit.log",
     "the audit log (JSON lines, hash-chained)"},
    {"limits", KT_SET_STRING, F(limits), NULL,
     "session limits: max_message=,max_sessions=,max_per_peer=,handshake_ms=,idle_ms="},
    {"log_format", KT_SET_ENUM, F(log_format), "kv", "log lines", .words = formats},
    {"collateral", KT_SET_STRING, F(collateral), NULL,
     "collateral for TAs' quotes: a directory or a PCCS/PCS URL (default: the sim platform's)"},
    {"collateral_root", KT_SET_PATH, F(collateral_root), NULL,
     "with a collateral URL: the trust anchor (PEM file)"},
    {"collateral_cache", KT_SET_PATH, F(collateral_cache), NULL,
     "with a collateral URL: the directory the fetched collateral is kept in"},
    QUOTA(max_services, "64", "quota: registered services", 100000),
    QUOTA(max_secrets, "256", "quota: secrets of one service", 100000),
    QUOTA(max_data, "16384", "quota: bytes of one secret's data", 262144),
    QUOTA(keep_versions, "8", "versions kept of each secret", 64),
    QUOTA(max_ta_secrets, "16", "quota: TA-bound secrets of one TA identity", 100000),
    QUOTA(max_ta_total, "4096", "quota: TA-bound secrets of all TAs", 1000000),
    {"ta_session_max_age", KT_SET_DURATION, F(ta_session_max_age), "3600",
     "how long a TA's session lasts (the enclave allows at most 86400 s)", 1, 1000000,
     .unit_ms = 1000},
    {"ta_session_idle", KT_SET_DURATION, F(ta_session_idle), "600",
     "how long a TA's session may stay idle (the enclave allows at most 3600 s)", 1, 1000000,
     .unit_ms = 1000},
    {"ta_session_requests", KT_SET_UINT, F(ta_session_requests), "100000",
     "how many requests a TA's session serves, whatever the clock (the enclave allows at most 1000000)", 1,
     100000000},
    {"drain_ms", KT_SET_DURATION, F(drain_ms), "5000",
     "on SIGTERM, how long calls under way may finish", 1, 1000000},
};
#undef QUOTA
#undef F

static const kt_settings_spec spec = {
    .prog = "aecs-server",
    .usage = "usage: aecs-server [--config FILE] [--<setting> VALUE]...\n",
    .env_prefix = "KT_AECS_",
    KT_SET_TABLE(table),
};

kt_status aecs_config_load(int argc, char **argv, aecs_config *c, bool *help)
{
    memset(c, 0, sizeof *c);
    kt_status st = kt_settings_load(&spec, c, argc - 1, argv + 1, help, NULL);
    if (!st && !*help && strncmp(c->store, "fs:/", 4) && strncmp(c->store, "etcd://", 7))
        st = kt_fail(
            KT_ERR_MALFORMED,
            "store must be fs:/absolute/dir or etcd://host:port[,host:port...][/namespace]");
    return st;
}

void aecs_config_log(const aecs_config *c)
{
    kt_settings_log(&spec, c, "aecs.settings");
}
