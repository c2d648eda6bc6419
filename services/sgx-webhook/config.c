/* Settings from a YAML file, the environment and flags, each checked: an unknown key or
 * flag, a number that is not plain decimal or a resource name that is no qualified
 * Kubernetes name is an error naming it. */
#include "config.h"

#include <kubetee/yaml.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    O_CONFIG, O_LISTEN, O_CERT, O_KEY, O_RELOAD, O_EPC, O_ENCLAVE, O_PROVISION, O_DELIVERY,
    O_AESM, O_AESM_DIR, O_MAX_BODY, O_DRAIN, O_PER_ADDRESS, O_LOG, O_COUNT
};

static const struct {
    const char *flag, *env, *def, *help;
} opts[O_COUNT] = {
    {"config", "SGX_WH_CONFIG", "", "YAML file of these settings (keys are the flag names)"},
    {"listen", "SGX_WH_LISTEN", ":8443", "HTTPS address, host:port or :port"},
    {"tls-cert-file", "SGX_WH_TLS_CERT_FILE", "", "serving certificate chain, PEM (required)"},
    {"tls-key-file", "SGX_WH_TLS_KEY_FILE", "", "its private key, PEM (required)"},
    {"tls-reload-seconds", "SGX_WH_TLS_RELOAD_SECONDS", "10",
     "look for a changed certificate or key this often (0: only on SIGHUP)"},
    {"epc-resources", "SGX_WH_EPC_RESOURCES", "sgx.intel.com/epc,alibabacloud.com/sgx_epc_MiB",
     "resources that ask for EPC, comma-separated"},
    {"enclave-resource", "SGX_WH_ENCLAVE_RESOURCE", "sgx.intel.com/enclave",
     "added to every container asking for EPC (empty: none)"},
    {"provision-resource", "SGX_WH_PROVISION_RESOURCE", "sgx.intel.com/provision",
     "added to the container the quote-provider annotation names"},
    {"aesm-delivery", "SGX_WH_AESM_DELIVERY", "volume",
     "how AESM reaches a pod annotated aesmd: volume (hostPath) or resource"},
    {"aesm-resource", "SGX_WH_AESM_RESOURCE", "kubetee.io/aesm",
     "the device plugin's AESM resource (aesm-delivery=resource)"},
    {"aesm-host-dir", "SGX_WH_AESM_HOST_DIR", "/var/run/aesmd",
     "the node's AESM socket directory (aesm-delivery=volume)"},
    {"max-body-bytes", "SGX_WH_MAX_BODY_BYTES", "4194304", "largest AdmissionReview accepted"},
    {"drain-seconds", "SGX_WH_DRAIN_SECONDS", "10",
     "on SIGTERM, how long requests under way may take"},
    {"connections-per-address", "SGX_WH_CONNECTIONS_PER_ADDRESS", "128",
     "connections one address may hold at once (each kube-apiserver is one address)"},
    {"log-format", "SGX_WH_LOG_FORMAT", "kv", "kv or json"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: sgx-webhook [options]\n\nEach option is also a key of the --config YAML "
               "file and an environment variable;\nfile < environment < flag.\n\n");
    for (int i = 0; i < O_COUNT; i++)
        fprintf(f, "  --%-20s %-27s %s (default: %s)\n", opts[i].flag, opts[i].env, opts[i].help,
                opts[i].def[0] ? opts[i].def : "none");
}

static int bad(const char *what, const char *why)
{
    char e[200];
    kt_escape(what, strlen(what), e, sizeof e);
    fprintf(stderr, "sgx-webhook: %s: %s\n", e, why);
    return 2;
}

static int set(char vals[O_COUNT][1024], int i, const char *v, const char *from)
{
    if (strlen(v) >= sizeof vals[i]) return bad(from, "value too long");
    snprintf(vals[i], sizeof vals[i], "%s", v);
    return 0;
}

static int find(const char *name, size_t n)
{
    for (int i = 0; i < O_COUNT; i++)
        if (strlen(opts[i].flag) == n && !strncmp(opts[i].flag, name, n)) return i;
    return -1;
}

static int load_file(const char *path, char vals[O_COUNT][1024])
{
    kt_buf b = {0};
    kt_y *y = NULL;
    int rc = 0;
    if (kt_file_read(path, 1 << 20, &b) || kt_yaml_parse((char *)b.data, b.len, &y))
        rc = bad(path, kt_last_error());
    else if (!y || y->kind != KT_Y_MAP)
        rc = bad(path, "not a YAML mapping of settings");
    for (size_t i = 0; !rc && i < y->count; i += 2) {
        const char *k = y->items[i]->text;
        int o = find(k, strlen(k));
        char where[600];
        snprintf(where, sizeof where, "%s: key '%s' (line %zu)", path, k, y->items[i]->line);
        if (o < 0 || o == O_CONFIG) rc = bad(where, "not a setting");
        else if (y->items[i + 1]->kind != KT_Y_SCALAR) rc = bad(where, "not a plain value");
        else rc = set(vals, o, y->items[i + 1]->text, where);
    }
    kt_yaml_free(y);
    kt_buf_free(&b);
    return rc;
}

static int number(const char *v, uint64_t max, const char *name, uint64_t *out)
{
    if (kt_decimal_parse(v, max, out)) return bad(name, kt_last_error());
    return 0;
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
    strcpy(dst, v);
    return 0;
}

int wh_settings_load(int argc, char **argv, wh_settings *s)
{
    static char vals[O_COUNT][1024];
    const char *flags[O_COUNT] = {0};
    memset(s, 0, sizeof *s);
    wh_config_defaults(&s->review);
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
            usage(stdout);
            return -1;
        }
        const char *arg = argv[a], *eq = strchr(arg, '=');
        int o = strncmp(arg, "--", 2) ? -1 : find(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
        if (o < 0 || (!eq && a + 1 >= argc)) {
            bad(arg, "unknown or incomplete option");
            usage(stderr);
            return 2;
        }
        flags[o] = eq ? eq + 1 : argv[++a];
    }
    for (int i = 0; i < O_COUNT; i++) snprintf(vals[i], sizeof vals[i], "%s", opts[i].def);
    const char *cfg = flags[O_CONFIG] ? flags[O_CONFIG] : getenv(opts[O_CONFIG].env);
    if (cfg && *cfg && load_file(cfg, vals)) return 2;
    for (int i = 0; i < O_COUNT; i++) {
        const char *e = getenv(opts[i].env);
        if ((e && set(vals, i, e, opts[i].env)) || (flags[i] && set(vals, i, flags[i], opts[i].flag)))
            return 2;
    }
    wh_config *c = &s->review;
    snprintf(s->listen, sizeof s->listen, "%s", vals[O_LISTEN]);
    snprintf(s->cert_file, sizeof s->cert_file, "%s", vals[O_CERT]);
    snprintf(s->key_file, sizeof s->key_file, "%s", vals[O_KEY]);
    if (!s->cert_file[0] || !s->key_file[0])
        return bad("tls-cert-file/tls-key-file", "both are required (the webhook serves HTTPS only)");
    uint64_t n;
    if (number(vals[O_RELOAD], 86400, "tls-reload-seconds", &n)) return 2;
    s->reload_seconds = (unsigned)n;
    if (number(vals[O_DRAIN], 600, "drain-seconds", &n)) return 2;
    s->drain_seconds = (unsigned)n;
    if (number(vals[O_PER_ADDRESS], 512, "connections-per-address", &n)) return 2;
    if (!n) return bad("connections-per-address", "must be 1 to 512");
    s->per_address = (unsigned)n;
    if (number(vals[O_MAX_BODY], 64u << 20, "max-body-bytes", &n)) return 2;
    if (n < 1024) return bad("max-body-bytes", "below 1024");
    c->max_body = (size_t)n;
    c->n_epc = 0;
    for (char *save = NULL, *t = strtok_r(vals[O_EPC], ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (c->n_epc == WH_MAX_EPC) return bad("epc-resources", "more than 8");
        if (resource(t, "epc-resources", c->epc[c->n_epc++])) return 2;
    }
    if (!c->n_epc) return bad("epc-resources", "empty");
    c->enclave[0] = '\0';
    if (vals[O_ENCLAVE][0] && resource(vals[O_ENCLAVE], "enclave-resource", c->enclave)) return 2;
    if (resource(vals[O_PROVISION], "provision-resource", c->provision) ||
        resource(vals[O_AESM], "aesm-resource", c->aesm))
        return 2;
    if (strcmp(vals[O_DELIVERY], "volume") && strcmp(vals[O_DELIVERY], "resource"))
        return bad("aesm-delivery", "must be volume or resource");
    c->aesm_resource = !strcmp(vals[O_DELIVERY], "resource");
    if (vals[O_AESM_DIR][0] != '/' || strlen(vals[O_AESM_DIR]) >= sizeof c->aesm_dir)
        return bad("aesm-host-dir", "must be an absolute path");
    strcpy(c->aesm_dir, vals[O_AESM_DIR]);
    if (strcmp(vals[O_LOG], "kv") && strcmp(vals[O_LOG], "json"))
        return bad("log-format", "must be kv or json");
    s->log_json = !strcmp(vals[O_LOG], "json");
    return 0;
}
