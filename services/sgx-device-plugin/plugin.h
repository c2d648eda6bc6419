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
typedef enum { KT_RES_EPC, KT_RES_ENCLAVE, KT_RES_PROVISION } kt_res_kind;

typedef struct kt_plugin kt_plugin;

typedef struct {
    kt_plugin *p;
    kt_res_kind kind;
    char name[128];
    char endpoint[64];
    unsigned count;
    kt_rpc_server *server;
    bool registered;
    unsigned long allocations, refusals; /* under the plugin's lock */
} kt_resource;

typedef struct {
    char kubelet_dir[PATH_MAX];
    char device_root[PATH_MAX];
    char cpuid_file[PATH_MAX];
    char epc_resource[128], enclave_resource[128], provision_resource[128];
    unsigned enclave_limit, provision_limit;
    char aesm_dir[PATH_MAX];
    char nfd_file[PATH_MAX];
    char metrics_address[64];
    char rpc_limits_spec[512];
    kt_rpc_limits rpc_limits; /* from rpc_limits_spec over the plugin's defaults */
} kt_dp_config;

struct kt_plugin {
    kt_dp_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint64_t generation; /* bumped when health changes or the plugin stops */
    bool stopping;
    kt_sgx_caps caps;
    kt_sgx_nodes nodes;
    kt_resource res[3];
    unsigned nres;
};

/* Builds the resources from caps (none when SGX is unusable). */
void kt_plugin_plan(kt_plugin *p);
/* Serves each resource on its socket. */
kt_status kt_plugin_serve(kt_plugin *p);
void kt_plugin_stop_serving(kt_plugin *p);
/* Registers every resource with kubelet; true when all are. */
bool kt_plugin_register(kt_plugin *p);
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

#endif
