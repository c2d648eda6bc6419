/* sgx-device-plugin, internal: SGX detection, resources, kubelet. */
#ifndef KT_SGX_DP_H
#define KT_SGX_DP_H

#include <kubetee/base.h>
#include <kubetee/rpc.h>
#include <protobuf-c/protobuf-c.h>
#include <limits.h>
#include <pthread.h>

/* ---- CPUID ---- */
typedef struct {
    uint32_t eax, ebx, ecx, edx;
} kt_cpuid_regs;

/* Where CPUID values come from: the CPU, or a file of recorded values. */
typedef struct {
    bool from_file;
    struct {
        uint32_t leaf, subleaf;
        kt_cpuid_regs r;
    } rec[64];
    unsigned n;
} kt_cpuid_source;

kt_status kt_cpuid_load(const char *path, kt_cpuid_source *src);
void kt_cpuid_live(kt_cpuid_source *src);
void kt_cpuid_query(const kt_cpuid_source *src, uint32_t leaf, uint32_t subleaf, kt_cpuid_regs *r);

typedef struct {
    bool sgx; /* CPUID.(7,0).EBX[2] */
    bool flc; /* CPUID.(7,0).ECX[30]: flexible launch control */
    bool sgx1, sgx2;
    unsigned max_enclave_bits_64;
    uint64_t epc_bytes;
    unsigned epc_sections;
    char why_not[128]; /* when !usable */
    bool usable;       /* sgx and sgx1 and some EPC */
} kt_sgx_caps;

void kt_sgx_caps_decode(const kt_cpuid_source *src, kt_sgx_caps *caps);

/* ---- device nodes ---- */
typedef struct {
    char enclave[PATH_MAX];     /* host path of the enclave node, "" when absent */
    char enclave_alt[PATH_MAX]; /* /dev/sgx/enclave beside /dev/sgx_enclave, when present */
    char provision[PATH_MAX];
    char provision_alt[PATH_MAX];
    bool legacy; /* /dev/isgx or /dev/sgx (out-of-tree drivers) */
} kt_sgx_nodes;

void kt_sgx_nodes_scan(const char *root, kt_sgx_nodes *n);
bool kt_sgx_nodes_equal(const kt_sgx_nodes *a, const kt_sgx_nodes *b);

/* ---- resources ---- */
typedef enum { KT_RES_EPC, KT_RES_ENCLAVE, KT_RES_PROVISION, KT_RES_AESM } kt_res_kind;
#define KT_RES_N 4

typedef struct kt_plugin kt_plugin;

/* kubelet's gRPC client keeps grpc-go's default receive limit: a ListAndWatch response
 * over it ends kubelet's stream, so the plugin never sends one. */
#define KT_DP_KUBELET_MAX_MESSAGE (4u << 20)
/* What the automatic EPC unit keeps a ListAndWatch response under: a quarter of it. */
#define KT_DP_LIST_BUDGET (1u << 20)

typedef struct {
    kt_plugin *p;
    kt_res_kind kind;
    char name[128];
    char endpoint[64];
    unsigned count;
    unsigned unit_mib; /* EPC: MiB per device */
    kt_rpc_server *server;
    bool registered;
    /* a registration runs in its own thread, so a hung kubelet delays nothing else */
    pthread_t reg_thread;
    bool reg_started, reg_running;
    bool list_failed; /* a ListAndWatch response could not be sent: not ready */
    unsigned long allocations, refusals, list_failures; /* under the plugin's lock */
} kt_resource;

/* The paths the configuration names, checked at every (re)start. */
typedef enum {
    KT_PATH_KUBELET_DIR,
    KT_PATH_DEVICE_ROOT,
    KT_PATH_NFD_DIR,
    KT_PATH_CPUID,
    KT_PATH_AESM_DIR,
    KT_PATH_N
} kt_path_kind;

typedef struct {
    char kubelet_dir[PATH_MAX];
    char device_root[PATH_MAX];
    char cpuid_file[PATH_MAX];
    char epc_resource[128], enclave_resource[128], provision_resource[128], aesm_resource[128];
    unsigned enclave_limit, provision_limit, aesm_limit;
    char aesm_dir[PATH_MAX]; /* served as aesm_resource to the containers that ask */
    unsigned epc_unit_mib;   /* MiB per EPC device; 0 chooses it (KT_DP_LIST_BUDGET) */
    char nfd_file[PATH_MAX];
    char metrics_address[64];
    char rpc_limits_spec[512];
    kt_rpc_limits rpc_limits; /* from rpc_limits_spec over the plugin's defaults */
    char log_format[8];
} kt_dp_config;

/* The settings (config.c): defaults, a YAML file (--config or SGX_DP_CONFIG), the
 * environment SGX_DP_*, flags; the log format set, the settings logged. 0, an exit
 * status after printing why (2), or -1 for --help (the usage printed). */
int kt_dp_config_load(int argc, char **argv, kt_dp_config *c);

struct kt_plugin {
    kt_dp_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint64_t generation; /* bumped when health changes or the plugin stops */
    bool stopping;
    kt_sgx_caps caps;
    kt_sgx_nodes nodes;
    kt_resource res[KT_RES_N];
    unsigned nres;
    bool aesm_present; /* <aesm_dir>/aesm.socket exists */
    bool served;       /* every resource's server started */
    bool path_missing[KT_PATH_N];
    unsigned long path_missing_total[KT_PATH_N];
};

/* Kubernetes' IsExtendedResourceName: "<DNS subdomain>/<name>", not in a kubernetes.io
 * domain, not "requests.*". NULL when name is one, else why not. */
const char *kt_dp_resource_name_invalid(const char *name);
/* Exact bytes of a ListAndWatch response of count devices "<prefix>-<i>", every one
 * "Unhealthy" (the longer health). */
size_t kt_dp_list_bytes(const char *prefix, unsigned count);
/* MiB per EPC device: the smallest power of two whose list fits KT_DP_LIST_BUDGET. */
unsigned kt_dp_epc_unit_auto(uint64_t epc_mib);
/* Checks the configured paths; logs and counts each one that went missing. */
void kt_plugin_check_paths(kt_plugin *p);

/* Builds the resources from caps (none when SGX is unusable). */
void kt_plugin_plan(kt_plugin *p);
/* Serves each resource on its socket. */
kt_status kt_plugin_serve(kt_plugin *p);
void kt_plugin_stop_serving(kt_plugin *p);
/* Starts a registration for each resource not registered and not being registered;
 * returns at once. */
void kt_plugin_register(kt_plugin *p);
/* Waits for r's registration thread, if one was started. */
void kt_plugin_register_join(kt_resource *r);
/* True when kubelet accepted every resource. */
bool kt_plugin_registered(kt_plugin *p);
/* Rescans device nodes; wakes ListAndWatch streams when health changed. */
void kt_plugin_rescan_nodes(kt_plugin *p);
kt_status kt_plugin_write_nfd(const kt_plugin *p);
/* The handlers that read what kubelet sends (also driven by fuzz/fuzz_device_plugin.c);
 * ctx is the kt_resource. */
kt_status kt_dp_allocate(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *res);
kt_status kt_dp_preferred(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *res);
/* For /readyz and /metrics. */
bool kt_plugin_ready(void *plugin);
void kt_plugin_metrics(void *plugin, kt_buf *out);

/* ---- EPC limits (epclimit.c, sgx-epc-limit-hook) ---- */
/* The annotation an EPC grant carries to the runtime: the granted EPC in bytes. */
#define KT_EPC_ANNOTATION "kubetee.io/epc-grant-bytes"

typedef struct {
    char id[128];
    long pid;
    char bundle[PATH_MAX];
} kt_oci_state;

typedef struct {
    char cgroup_root[PATH_MAX]; /* the cgroup v2 mount */
    char proc_root[PATH_MAX];
    bool require; /* refuse the container when the limit cannot be set */
} kt_epc_hook_cfg;

/* The OCI runtime's State JSON (id, pid, bundle); duplicate keys refused. */
kt_status kt_oci_state_parse(const char *json, size_t n, kt_oci_state *s);
/* KT_EPC_ANNOTATION of an OCI config.json; *found false when it has none. */
kt_status kt_oci_config_epc(const char *json, size_t n, bool *found, uint64_t *bytes);
/* The cgroup v2 path in /proc/<pid>/cgroup ("0::/path"): absolute, no '.', '..' or
 * empty part, not the root. */
kt_status kt_cgroup_v2_path(const char *text, size_t n, char out[PATH_MAX]);
/* The value after "key " in a cgroup keyed file (misc.capacity, misc.max); a key twice
 * is refused. */
kt_status kt_cgroup_keyed(const char *text, size_t n, const char *key, bool *found, char val[32]);
/* The hook: state is what the runtime wrote to stdin. */
kt_status kt_epc_hook_run(const kt_epc_hook_cfg *cfg, const char *state, size_t n);

#endif
