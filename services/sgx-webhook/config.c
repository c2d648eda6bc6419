/* sgx-webhook's settings table (kubetee/svc.h reads it: defaults, a YAML file whose keys
 * are the flag names, the environment SGX_WH_*, flags), then the resource names checked:
 * each a qualified Kubernetes name. */
#include "config.h"

#include <stdio.h>
#include <string.h>

static const char *const deliveries[] = {"volume", "resource", NULL}, *const formats[] = {
                                                                          "kv", "json", NULL};

#define F(m) KT_SET_FIELD(wh_settings, m)
static const kt_setting table[] = {
    {"listen", KT_SET_STRING, F(listen), ":8443", "HTTPS address, host:port or :port"},
    {"tls-cert-file", KT_SET_PATH, F(cert_file), NULL, "serving certificate chain, PEM",
     .opts = KT_SET_REQUIRED},
    {"tls-key-file", KT_SET_PATH, F(key_file), NULL, "its private key, PEM",
     .opts = KT_SET_REQUIRED},
    {"tls-reload-seconds", KT_SET_DURATION, F(reload_seconds), "10",
     "look for a changed certificate or key this often (0: only on SIGHUP)", 0, 86400,
     .unit_ms = 1000},
    {"epc-resources", KT_SET_LIST, F(epc_list), "sgx.intel.com/epc,alibabacloud.com/sgx_epc_MiB",
     "resources that ask for EPC", 1, WH_MAX_EPC},
    {"enclave-resource", KT_SET_STRING, F(review.enclave), "sgx.intel.com/enclave",
     "added to every container asking for EPC (empty: none)"},
    {"provision-resource", KT_SET_STRING, F(review.provision), "sgx.intel.com/provision",
     "added to the container the quote-provider annotation names"},
    {"aesm-delivery", KT_SET_ENUM, F(delivery), "volume",
     "how AESM reaches a pod annotated aesmd: volume (hostPath) or resource", .words = deliveries},
    {"aesm-resource", KT_SET_STRING, F(review.aesm), "kubetee.io/aesm",
     "the device plugin's AESM resource (aesm-delivery=resource)"},
    {"aesm-host-dir", KT_SET_PATH, F(review.aesm_dir), "/var/run/aesmd",
     "the node's AESM socket directory (aesm-delivery=volume)",
     .opts = KT_SET_ABSOLUTE | KT_SET_REQUIRED},
    {"max-body-bytes", KT_SET_UINT, F(review.max_body), "4194304",
     "largest AdmissionReview accepted", 1024, 64u << 20},
    {"drain-seconds", KT_SET_DURATION, F(drain_seconds), "10",
     "on SIGTERM, how long requests under way may take", 0, 600, .unit_ms = 1000},
    {"connections-per-address", KT_SET_UINT, F(per_address), "128",
     "connections one address may hold at once (each kube-apiserver is one address)", 1, 512},
    {"log-format", KT_SET_ENUM, F(log_format), "kv", "log lines", .words = formats},
};
#undef F

static const kt_settings_spec spec = {
    .prog = "sgx-webhook",
    .usage = "usage: sgx-webhook [options]\n",
    .env_prefix = "SGX_WH_",
    KT_SET_TABLE(table),
};

static int bad(const char *what, const char *why)
{
    char e[600];
    fprintf(stderr, "sgx-webhook: %s: %s\n", what, kt_escape_text(why, strlen(why), e, sizeof e));
    return KT_SVC_EXIT_SETTINGS;
}

/* prefix/name: a DNS subdomain, a slash, then letters, digits, '-', '_', '.' */
static int resource(const char *v, const char *name, char *dst)
{
    const char *slash = strchr(v, '/');
    bool ok = slash && slash > v && slash[1] && strlen(v) < WH_NAME && !strchr(slash + 1, '/');
    for (const char *p = v; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
             *p == '/' || (p > slash && ((*p >= 'A' && *p <= 'Z') || *p == '_'));
    if (!ok) return bad(name, "not a qualified resource name (example.com/name)");
    memmove(dst, v, strlen(v) + 1);
    return 0;
}

int wh_settings_load(int argc, char **argv, wh_settings *s)
{
    bool help;
    memset(s, 0, sizeof *s);
    wh_config_defaults(&s->review);
    if (kt_settings_load(&spec, s, argc - 1, argv + 1, &help, NULL))
        return bad("settings", kt_last_error());
    if (help) return -1;
    wh_config *c = &s->review;
    c->n_epc = 0;
    for (char *save = NULL, *t = strtok_r(s->epc_list, ",", &save); t;
         t = strtok_r(NULL, ",", &save))
        if (resource(t, "epc-resources", c->epc[c->n_epc++])) return KT_SVC_EXIT_SETTINGS;
    if ((c->enclave[0] && resource(c->enclave, "enclave-resource", c->enclave)) ||
        resource(c->provision, "provision-resource", c->provision) ||
        resource(c->aesm, "aesm-resource", c->aesm))
        return KT_SVC_EXIT_SETTINGS;
    c->aesm_resource = !strcmp(s->delivery, "resource");
    s->log_json = !strcmp(s->log_format, "json");
    return 0;
}

void wh_settings_log(const wh_settings *s)
{
    kt_settings_log(&spec, s, "wh.settings");
}
