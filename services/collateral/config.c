/* Configuration: defaults, a YAML file, the environment, flags, in that order; each
 * setting named the same way in all three (listen, KT_COLLATERAL_LISTEN, --listen). */
#include "collateral.h"
#include <kubetee/yaml.h>

#include <openssl/crypto.h>

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_STR, T_UINT, T_INT } kind;

static const char *const modes[] = {"lazy", "req", "offline", NULL},
                         *const kinds[] = {"pccs", "pcs", NULL},
                         *const storages[] = {"dir", "sqlite", NULL},
                         *const formats[] = {"kv", "json", NULL};

static const struct {
    const char *name;
    kind k;
    size_t off, cap;
    const char *def, *help;
    const char *const *words; /* T_STR: the values allowed (NULL: any) */
} opts[] = {
#define S(f) offsetof(kt_coll_config, f), sizeof(((kt_coll_config *)0)->f)
    {"listen", T_STR, S(listen), "127.0.0.1:8081", "address of the PCCS API, host:port"},
    {"mode", T_STR, S(mode), "lazy",
     "lazy (fetch on a miss), req (fetch when a platform is registered) or offline (imported "
     "items only)",
     modes},
    {"upstream_url", T_STR, S(upstream_url), "", "another PCCS, or Intel PCS (lazy, req)"},
    {"upstream_kind", T_STR, S(upstream_kind), "pccs", "pccs or pcs (no rootcacrl endpoint)",
     kinds},
    {"admin_token_file", T_STR, S(admin_token_file), "",
     "file holding the admin token (admin-token header of the admin paths: platforms, "
     "platformcollateral, refresh); else the environment's KT_COLLATERAL_ADMIN_TOKEN; "
     "neither: they are refused"},
    {"user_token_file", T_STR, S(user_token_file), "",
     "file holding the user token every GET must carry (user-token header); else the "
     "environment's KT_COLLATERAL_USER_TOKEN; neither: GETs are open"},
    {"api_key_file", T_STR, S(api_key_file), "", "file holding the Intel PCS API key"},
    {"root_ca", T_STR, S(root_ca), "", "the pinned trust anchor, PEM (required)"},
    {"root_crl_url", T_STR, S(root_crl_url), "",
     "pcs: the root CA CRL's URL (default: the anchor's CRL distribution point)"},
    {"storage", T_STR, S(storage), "dir", "dir (storage_dir) or sqlite (storage_file)", storages},
    {"storage_dir", T_STR, S(storage_dir), "", "directory of verified items"},
    {"storage_file", T_STR, S(storage_file), "", "SQLite file of verified items"},
    {"tls_cert", T_STR, S(tls_cert), "", "PEM certificate chain: serve HTTPS (SIGHUP reloads it)"},
    {"tls_key", T_STR, S(tls_key), "", "PEM private key of tls_cert"},
    {"log_format", T_STR, S(log_format), "kv", "kv or json", formats},
    {"metrics_address", T_STR, S(metrics_address), "",
     "serve /healthz, /readyz, /metrics here too (they are on listen as well)"},
    {"threads", T_UINT, offsetof(kt_coll_config, threads), 0, "2", "serving threads, 1..64"},
    {"per_address", T_UINT, offsetof(kt_coll_config, per_address), 0, "16",
     "open connections from one client address at once, 1..4096 (raise it when many nodes "
     "reach the proxy through one NAT or SNAT address)"},
    {"grace", T_INT, offsetof(kt_coll_config, grace), 0, "0",
     "seconds an item may be served past its nextUpdate while upstream is down (0: never)"},
    {"refresh", T_INT, offsetof(kt_coll_config, refresh), 0, "86400",
     "fetch an item again this many seconds before it expires (0: off)"},
    {"refresh_every", T_UINT, offsetof(kt_coll_config, refresh_every), 0, "30",
     "seconds between refresh-ahead passes, 1..1000000"},
    {"upstream_rate", T_UINT, offsetof(kt_coll_config, upstream_rate), 0, "10",
     "upstream fetches per second at most, 1..1000000: misses for items nobody has (random "
     "FMSPCs) cannot make the proxy hammer upstream"},
    {"drain_ms", T_UINT, offsetof(kt_coll_config, drain_ms), 0, "5000",
     "on SIGTERM, wait this long for open requests"},
    {"now", T_INT, offsetof(kt_coll_config, now), 0, "0",
     "testing only: a fixed clock, Unix seconds (0: the real clock)"},
#undef S
};
#define NOPTS (sizeof opts / sizeof opts[0])

void kt_coll_config_usage(FILE *f)
{
    fprintf(
        f, "usage: kubetee-collateral [serve] [options]\n"
           "       kubetee-collateral export --root-ca PEM --storage-dir D --out FILE\n"
           "       kubetee-collateral import --root-ca PEM --storage-dir D "
           "(--in FILE | --dir COLLATERAL_DIR | --quote QUOTE)\n\n"
           "Every option is also a YAML key of --config FILE and an environment variable\n"
           "KT_COLLATERAL_<NAME>; a flag wins over the environment, which wins over the file.\n\n");
    fprintf(f, "  --%-18s %s\n", "config", "YAML file of the settings below");
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[32];
        snprintf(flag, sizeof flag, "%s", opts[i].name);
        for (char *c = flag; *c; c++)
            if (*c == '_') *c = '-';
        fprintf(f, "  --%-18s %s (default: %s)\n", flag, opts[i].help,
                opts[i].def[0] ? opts[i].def : "none");
    }
}

static kt_status set(kt_coll_config *c, size_t i, const char *v, const char *from)
{
    char *dst = (char *)c + opts[i].off;
    if (opts[i].k == T_STR) {
        if (strlen(v) >= opts[i].cap)
            return kt_fail(KT_ERR_TOO_LARGE, "%s: %s is over %zu bytes", from, opts[i].name,
                           opts[i].cap - 1);
        unsigned w;
        if (opts[i].words && kt_coll_word(opts[i].name, opts[i].words, v, strlen(v), &w))
            return kt_fail_context(KT_ERR_MALFORMED, "%s", from);
        memcpy(dst, v, strlen(v) + 1);
        return KT_OK;
    }
    uint64_t x;
    bool neg = opts[i].k == T_INT && v[0] == '-';
    uint64_t max = opts[i].k == T_UINT ? 1000000 : (1ull << 40);
    if (kt_decimal_parse(neg ? v + 1 : v, max, &x) || neg) {
        char shown[64];
        return kt_fail(KT_ERR_MALFORMED, "%s: %s must be a decimal number 0..%llu, not '%s'", from,
                       opts[i].name, (unsigned long long)max, kt_escape(v, strlen(v), shown, 64));
    }
    if (opts[i].k == T_UINT)
        *(unsigned *)dst = (unsigned)x;
    else
        *(long long *)dst = (long long)x;
    return KT_OK;
}

static size_t find(const char *name, size_t n, bool dashes)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const char *o = opts[i].name;
        if (strlen(o) != n) continue;
        size_t k;
        for (k = 0; k < n && (o[k] == name[k] || (dashes && o[k] == '_' && name[k] == '-')); k++)
            if (dashes && name[k] == '_') break;
        if (k == n) return i;
    }
    return NOPTS;
}

static kt_status load_file(kt_coll_config *c, const char *path)
{
    kt_buf b = {0};
    kt_y *doc = NULL;
    kt_status st = kt_file_read(path, 1 << 20, &b);
    if (!st) st = kt_yaml_parse((const char *)b.data, b.len, &doc);
    kt_buf_free(&b);
    if (!st && doc->kind != KT_Y_MAP) st = kt_fail(KT_ERR_MALFORMED, "not a mapping");
    for (size_t j = 0; !st && j + 1 < doc->count; j += 2) {
        const kt_y *k = doc->items[j], *v = doc->items[j + 1];
        size_t i = find(k->text, strlen(k->text), false);
        char shown[80];
        if (i == NOPTS)
            st = kt_fail(KT_ERR_MALFORMED, "unknown setting '%s' (line %zu)",
                         kt_escape(k->text, strlen(k->text), shown, sizeof shown), k->line);
        else if (v->kind != KT_Y_SCALAR)
            st = kt_fail(KT_ERR_MALFORMED, "%s must be a plain value (line %zu)", opts[i].name,
                         v->line);
        else
            st = set(c, i, v->text, "config");
    }
    kt_yaml_free(doc);
    return st ? kt_fail_context(st, "%s", path) : KT_OK;
}

/* A key or token: one printable word, from a file (a trailing newline dropped) or else
 * from the environment variable env; neither: empty. */
static kt_status secret(const char *name, const char *file, const char *env, char *out, size_t cap)
{
    kt_buf k = {0};
    const char *from = file[0] ? NULL : env ? getenv(env) : NULL;
    out[0] = '\0';
    if (!file[0] && !from) return KT_OK;
    kt_status st = from ? kt_buf_append(&k, from, strlen(from)) : kt_file_read(file, cap - 1, &k);
    if (st) return kt_fail_context(st, "%s", from ? env : name);
    size_t n = k.len;
    while (n && (k.data[n - 1] == '\n' || k.data[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n && !st; i++)
        if (!isgraph(k.data[i]))
            st = kt_fail(KT_ERR_MALFORMED, "%s: the %s must be one printable word",
                         from ? env : name, strstr(name, "token") ? "token" : "key");
    if (!st && !n) st = kt_fail(KT_ERR_MALFORMED, "%s is empty", from ? env : name);
    if (!st && n >= cap)
        st = kt_fail(KT_ERR_TOO_LARGE, "%s is over %zu bytes", from ? env : name, cap - 1);
    if (!st) {
        memcpy(out, k.data, n);
        out[n] = '\0';
    }
    OPENSSL_cleanse(k.data, k.len);
    kt_buf_free(&k);
    return st;
}

static kt_status check(kt_coll_config *c)
{
    if (!strcmp(c->storage, "dir") ? !c->storage_dir[0] : !c->storage_file[0])
        return kt_fail(KT_ERR_MALFORMED,
                       "storage must be dir (with storage_dir) or sqlite (with storage_file)");
    if (!c->tls_cert[0] != !c->tls_key[0])
        return kt_fail(KT_ERR_MALFORMED, "tls_cert and tls_key go together");
    if (c->threads < 1 || c->threads > 64)
        return kt_fail(KT_ERR_MALFORMED, "threads must be 1..64");
    if (c->per_address < 1 || c->per_address > 4096)
        return kt_fail(KT_ERR_MALFORMED, "per_address must be 1..4096");
    if (strcmp(c->mode, "offline") && !c->upstream_url[0])
        return kt_fail(KT_ERR_MALFORMED, "%s mode needs upstream_url", c->mode);
    if (c->upstream_url[0] && strncmp(c->upstream_url, "http://", 7) &&
        strncmp(c->upstream_url, "https://", 8))
        return kt_fail(KT_ERR_MALFORMED, "upstream_url must be http:// or https://");
    kt_status st = secret("api_key_file", c->api_key_file, NULL, c->api_key, sizeof c->api_key);
    if (!st)
        st = secret("admin_token_file", c->admin_token_file, "KT_COLLATERAL_ADMIN_TOKEN",
                    c->admin_token, sizeof c->admin_token);
    if (!st)
        st = secret("user_token_file", c->user_token_file, "KT_COLLATERAL_USER_TOKEN",
                    c->user_token, sizeof c->user_token);
    return st;
}

kt_status kt_coll_config_load(int argc, char **argv, int first, kt_coll_config *c)
{
    memset(c, 0, sizeof *c);
    kt_status st = KT_OK;
    for (size_t i = 0; i < NOPTS && !st; i++)
        st = set(c, i, opts[i].def, "default");
    const char *file = getenv("KT_COLLATERAL_CONFIG");
    for (int a = first; a < argc; a++)
        if (!strcmp(argv[a], "--config") && a + 1 < argc)
            file = argv[a + 1];
        else if (!strncmp(argv[a], "--config=", 9))
            file = argv[a] + 9;
    if (!st && file && file[0]) st = load_file(c, file);
    for (size_t i = 0; i < NOPTS && !st; i++) {
        char env[64];
        snprintf(env, sizeof env, "KT_COLLATERAL_%s", opts[i].name);
        for (char *p = env; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        const char *v = getenv(env);
        if (v) st = set(c, i, v, env);
    }
    for (int a = first; a < argc && !st; a++) {
        const char *arg = argv[a];
        char shown[80];
        if (strncmp(arg, "--", 2))
            return kt_fail(KT_ERR_MALFORMED, "unexpected argument '%s'",
                           kt_escape(arg, strlen(arg), shown, sizeof shown));
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        if (nl == 6 && !strncmp(name, "config", 6)) {
            if (!eq) a++;
            continue;
        }
        size_t i = find(name, nl, true);
        if (i == NOPTS)
            return kt_fail(KT_ERR_MALFORMED, "unknown option '%s'",
                           kt_escape(arg, strlen(arg), shown, sizeof shown));
        const char *v = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
        if (!v) return kt_fail(KT_ERR_MALFORMED, "option '%s' needs a value", arg);
        st = set(c, i, v, "flag");
    }
    if (!st) st = check(c);
    return st;
}
