/* aecs-server's settings: defaults, a YAML file, the environment, flags, in that order,
 * each named the same way in all three (store, KT_AECS_STORE, --store). An unknown name
 * anywhere is an error naming it. The host chooses no admin key here: init does that,
 * inside the enclave. */
#include "aecs_server.h"
#include <kubetee/yaml.h>

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define S(f) offsetof(aecs_config, f), sizeof(((aecs_config *)0)->f), false
#define U(f) offsetof(aecs_config, f), 0, true
static const struct {
    const char *name;
    size_t off, cap;
    bool number;
    const char *def, *help;
} opts[] = {
    {"listen", S(listen), "127.0.0.1:7443", "gRPC address of the enclave service (host:port)"},
    {"http", S(http), "127.0.0.1:7444", "/healthz, /readyz and /metrics (host:port)"},
    {"store", S(store), "fs:/var/lib/kubetee/aecs/store", "object store URL: fs:/absolute/dir or etcd://host:port[/namespace]"},
    {"enclave", S(enclave), "/usr/lib/kubetee/aecs/aecs.signed.so", "the signed AECS enclave"},
    {"sim_dir", S(sim_dir), "", "sim platform state directory (default $KUBETEE_SIM_DIR, ~/.kubetee/sim)"},
    {"audit_file", S(audit_file), "/var/lib/kubetee/aecs/audit.log", "the audit log (JSON lines, hash-chained)"},
    {"limits", S(limits), "", "session limits: max_message=,max_sessions=,max_per_peer=,handshake_ms=,idle_ms="},
    {"log_format", S(log_format), "kv", "kv or json"},
    {"collateral", S(collateral), "", "collateral for TAs' quotes: a directory or a PCCS/PCS URL (default: the sim platform's)"},
    {"collateral_root", S(collateral_root), "", "with a collateral URL: the trust anchor (PEM file)"},
    {"collateral_cache", S(collateral_cache), "", "with a collateral URL: the directory the fetched collateral is kept in"},
    {"max_services", U(max_services), "64", "quota: registered services"},
    {"max_secrets", U(max_secrets), "256", "quota: secrets of one service"},
    {"max_data", U(max_data), "16384", "quota: bytes of one secret's data"},
    {"keep_versions", U(keep_versions), "8", "versions kept of each secret"},
    {"max_ta_secrets", U(max_ta_secrets), "16", "quota: TA-bound secrets of one TA identity"},
    {"max_ta_total", U(max_ta_total), "4096", "quota: TA-bound secrets of all TAs"},
    {"ta_session_max_age", U(ta_session_max_age), "3600", "seconds a TA's session lasts (the enclave allows at most 86400)"},
    {"ta_session_idle", U(ta_session_idle), "600", "seconds a TA's session may stay idle (the enclave allows at most 3600)"},
    {"drain_ms", U(drain_ms), "5000", "on SIGTERM, how long calls under way may finish"},
};
#undef S
#undef U
#define NOPTS (sizeof opts / sizeof opts[0])

void aecs_config_usage(FILE *f)
{
    fprintf(f, "usage: aecs-server [--config FILE] [--<setting> VALUE]...\n"
               "Every setting is also a YAML key of --config FILE and an environment variable KT_AECS_<NAME>;\n"
               "a flag wins over the environment, which wins over the file.\n");
    for (size_t i = 0; i < NOPTS; i++) fprintf(f, "  --%-14s %s (default: %s)\n", opts[i].name, opts[i].help, opts[i].def);
}

static kt_status set(aecs_config *c, size_t i, const char *v, const char *from)
{
    char shown[80];
    if (!opts[i].number) {
        if (strlen(v) >= opts[i].cap)
            return kt_fail(KT_ERR_TOO_LARGE, "%s: %s is over %zu bytes", from, opts[i].name, opts[i].cap - 1);
        strcpy((char *)c + opts[i].off, v);
        return KT_OK;
    }
    uint64_t x;
    if (kt_decimal_parse(v, 1000000, &x) || x == 0)
        return kt_fail(KT_ERR_MALFORMED, "%s: %s must be a decimal number 1..1000000, not '%s'", from, opts[i].name,
                       kt_escape(v, strlen(v), shown, sizeof shown));
    *(unsigned *)((char *)c + opts[i].off) = (unsigned)x;
    return KT_OK;
}

/* The option named by n bytes of name ('-' and '_' alike when dashes). */
static size_t find(const char *name, size_t n, bool dashes)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const char *o = opts[i].name;
        size_t k = 0;
        if (strlen(o) != n) continue;
        while (k < n && (o[k] == name[k] || (dashes && o[k] == '_' && name[k] == '-'))) k++;
        if (k == n) return i;
    }
    return NOPTS;
}

static kt_status load_file(aecs_config *c, const char *path)
{
    kt_buf b = {0};
    kt_y *doc = NULL;
    kt_status st = kt_file_read(path, 1 << 20, &b);
    if (!st) st = kt_yaml_parse((const char *)b.data, b.len, &doc);
    kt_buf_free(&b);
    if (!st && doc->kind != KT_Y_MAP) st = kt_fail(KT_ERR_MALFORMED, "the file is not a mapping of settings");
    for (size_t j = 0; !st && j + 1 < doc->count; j += 2) {
        const kt_y *k = doc->items[j], *v = doc->items[j + 1];
        size_t i = find(k->text, strlen(k->text), false);
        char shown[80];
        if (i == NOPTS)
            st = kt_fail(KT_ERR_MALFORMED, "unknown setting '%s' (line %zu)",
                         kt_escape(k->text, strlen(k->text), shown, sizeof shown), k->line);
        else if (v->kind != KT_Y_SCALAR)
            st = kt_fail(KT_ERR_MALFORMED, "%s must be a plain value (line %zu)", opts[i].name, v->line);
        else
            st = set(c, i, v->text, "config");
    }
    kt_yaml_free(doc);
    return st ? kt_fail_context(st, "%s", path) : KT_OK;
}

kt_status aecs_config_load(int argc, char **argv, aecs_config *c)
{
    memset(c, 0, sizeof *c);
    kt_status st = KT_OK;
    for (size_t i = 0; i < NOPTS && !st; i++) st = set(c, i, opts[i].def, "default");
    const char *file = getenv("KT_AECS_CONFIG");
    for (int a = 1; a + 1 < argc; a++)
        if (!strcmp(argv[a], "--config")) file = argv[a + 1];
    if (!st && file && *file) st = load_file(c, file);
    for (size_t i = 0; i < NOPTS && !st; i++) {
        char env[64];
        snprintf(env, sizeof env, "KT_AECS_%s", opts[i].name);
        for (char *p = env; *p; p++) *p = (char)toupper((unsigned char)*p);
        const char *v = getenv(env);
        if (v) st = set(c, i, v, env);
    }
    for (int a = 1; a < argc && !st; a++) {
        char shown[80];
        const char *arg = argv[a];
        if (strncmp(arg, "--", 2) || a + 1 >= argc)
            return kt_fail(KT_ERR_MALFORMED, "'%s': flags are --name VALUE", kt_escape(arg, strlen(arg), shown, sizeof shown));
        a++;
        if (!strcmp(arg, "--config")) continue;
        size_t i = find(arg + 2, strlen(arg + 2), true);
        if (i == NOPTS) return kt_fail(KT_ERR_MALFORMED, "unknown flag '%s'", kt_escape(arg, strlen(arg), shown, sizeof shown));
        st = set(c, i, argv[a], "flag");
    }
    if (!st && strcmp(c->log_format, "kv") && strcmp(c->log_format, "json"))
        st = kt_fail(KT_ERR_MALFORMED, "log_format must be kv or json");
    if (!st && strncmp(c->store, "fs:/", 4) && strncmp(c->store, "etcd://", 7))
        st = kt_fail(KT_ERR_MALFORMED, "store must be fs:/absolute/dir or etcd://host:port");
    return st;
}
