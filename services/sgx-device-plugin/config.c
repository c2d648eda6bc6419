/* sgx-device-plugin's settings table (kubetee/svc.h reads it: defaults, a YAML file whose
 * keys are the flag names, the environment SGX_DP_*, flags), then the resource names
 * checked as kubelet would and the gRPC limits over the plugin's own defaults. */
#include "plugin.h"
#include <kubetee/svc.h>

#include <stdio.h>
#include <string.h>

static const char *const formats[] = {"kv", "json", NULL};

#define F(m) KT_SET_FIELD(kt_dp_config, m)
static const kt_setting table[] = {
    {"kubelet-dir", KT_SET_PATH, F(kubelet_dir), "/var/lib/kubelet/device-plugins",
     "kubelet's device plugin directory (kubelet.sock and our sockets)"},
    {"device-root", KT_SET_PATH, F(device_root), "/dev", "where the SGX device nodes are"},
    {"cpuid-file", KT_SET_PATH, F(cpuid_file), NULL,
     "recorded CPUID values ('leaf subleaf eax ebx ecx edx', hex) instead of the CPU"},
    {"epc-resource", KT_SET_STRING, F(epc_resource), "alibabacloud.com/sgx_epc_MiB",
     "EPC resource, one device per --epc-unit-mib MiB (empty: off)"},
    {"enclave-resource", KT_SET_STRING, F(enclave_resource), "sgx.intel.com/enclave",
     "enclave device resource (empty: off)"},
    {"provision-resource", KT_SET_STRING, F(provision_resource), "sgx.intel.com/provision",
     "provision device resource (empty: off)"},
    {"enclave-limit", KT_SET_UINT, F(enclave_limit), "20",
     "containers that may share the enclave node", 0, 100000},
    {"provision-limit", KT_SET_UINT, F(provision_limit), "20",
     "containers that may share the provision node", 0, 100000},
    {"epc-unit-mib", KT_SET_UINT, F(epc_unit_mib), NULL,
     "MiB of EPC per device of the EPC resource (none: the smallest power of two that keeps "
     "ListAndWatch under 1 MiB)",
     1, 1u << 20},
    {"aesm-socket-dir", KT_SET_PATH, F(aesm_dir), NULL,
     "AESM socket directory, mounted read-only only into containers that ask for the AESM "
     "resource (empty: off)"},
    {"aesm-resource", KT_SET_STRING, F(aesm_resource), "kubetee.io/aesm",
     "AESM resource, which the admission webhook adds for pods annotated "
     "sgx.intel.com/quote-provider: aesmd (empty: off)"},
    {"aesm-limit", KT_SET_UINT, F(aesm_limit), "20", "containers that may share the AESM socket", 0,
     100000},
    {"nfd-features-file", KT_SET_PATH, F(nfd_file), NULL,
     "write NFD local features here (e.g. /etc/kubernetes/node-feature-discovery/features.d/sgx)"},
    {"log-format", KT_SET_ENUM, F(log_format), "kv", "log lines", .words = formats},
    {"metrics-address", KT_SET_STRING, F(metrics_address), NULL,
     "serve /healthz, /readyz, /metrics here, e.g. :9108 (empty: off)"},
    {"rpc-limits", KT_SET_STRING, F(rpc_limits_spec), NULL,
     "limits of the plugin's gRPC servers, name=value,... over the plugin's own defaults "
     "(docs/operations.md)"},
};
#undef F

static const kt_settings_spec spec = {
    .prog = "sgx-device-plugin",
    .usage = "usage: sgx-device-plugin [options]\n",
    .env_prefix = "SGX_DP_",
    KT_SET_TABLE(table),
};

int kt_dp_config_load(int argc, char **argv, kt_dp_config *c)
{
    bool help;
    memset(c, 0, sizeof *c);
    if (kt_settings_load(&spec, c, argc - 1, argv + 1, &help, NULL)) {
        fprintf(stderr, "sgx-device-plugin: %s\n", kt_last_error());
        return KT_SVC_EXIT_SETTINGS;
    }
    if (help) return -1;
    const char *names[] = {c->epc_resource, c->enclave_resource, c->provision_resource,
                           c->aesm_resource};
    const char *flags[] = {"--epc-resource", "--enclave-resource", "--provision-resource",
                           "--aesm-resource"};
    for (int i = 0; i < 4; i++) {
        const char *why = names[i][0] ? kt_dp_resource_name_invalid(names[i]) : NULL;
        if (why) {
            char esc[300];
            fprintf(stderr, "sgx-device-plugin: %s '%s' %s: kubelet would refuse it\n", flags[i],
                    kt_escape(names[i], strlen(names[i]), esc, sizeof esc), why);
            return KT_SVC_EXIT_SETTINGS;
        }
    }
    kt_log_set_format(strcmp(c->log_format, "json") ? KT_LOG_KV : KT_LOG_JSON);
    /* kubelet is the only client: a few workers (one ListAndWatch stream per resource and
     * its Allocate calls), and no maximum connection age, since kubelet takes an ended
     * ListAndWatch for a plugin that failed */
    c->rpc_limits.workers = 4;
    c->rpc_limits.queue = 16;
    c->rpc_limits.max_message = 1 << 20;
    c->rpc_limits.max_age_ms = -1;
    if (kt_rpc_limits_parse(c->rpc_limits_spec, &c->rpc_limits)) {
        fprintf(stderr, "sgx-device-plugin: --rpc-limits: %s\n", kt_last_error());
        return KT_SVC_EXIT_SETTINGS;
    }
    kt_settings_log(&spec, c, "dp.settings");
    return 0;
}
