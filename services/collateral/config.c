/* Configuration: kubetee-collateral's settings table (kubetee/svc.h reads it: defaults,
 * a YAML file, the environment, flags), then the checks between settings and the keys
 * and tokens read from their files. */
#include "collateral.h"
#include <kubetee/svc.h>

#include <openssl/crypto.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const modes[] = {"lazy", "req", "offline", NULL},
                         *const kinds[] = {"pccs", "pcs", NULL},
                         *const storages[] = {"dir", "sqlite", NULL},
                         *const formats[] = {"kv", "json", NULL};

#define F(m) KT_SET_FIELD(kt_coll_config, m)
static const kt_setting table[] = {
    {"listen", KT_SET_STRING, F(listen), "127.0.0.1:8081", "address of the PCCS API, host:port"},
    {"mode", KT_SET_ENUM, F(mode), "lazy",
     "lazy (fetch on a miss), req (fetch when a platform is registered) or offline (imported "
     "items only)",
     .words = modes},
    {"upstream_url", KT_SET_STRING, F(upstream_url), NULL,
     "another PCCS, or Intel PCS (lazy, req)"},
    {"upstream_kind", KT_SET_ENUM, F(upstream_kind), "pccs", "pcs has no rootcacrl endpoint",
     .words = kinds},
    {"admin_token_file", KT_SET_PATH, F(admin_token_file), NULL,
     "file holding the admin token (admin-token header of the admin paths: platforms, "
     "platformcollateral, refresh); else KT_COLLATERAL_ADMIN_TOKEN; neither: they are refused"},
    {"admin_token", KT_SET_STRING, F(admin_token), NULL, "the admin token itself",
     .env = "KT_COLLATERAL_ADMIN_TOKEN", .flag = "", .opts = KT_SET_SECRET | KT_SET_NO_FILE},
    {"user_token_file", KT_SET_PATH, F(user_token_file), NULL,
     "file holding the user token every GET must carry (user-token header); else "
     "KT_COLLATERAL_USER_TOKEN; neither: GETs are open"},
    {"user_token", KT_SET_STRING, F(user_token), NULL, "the user token itself",
     .env = "KT_COLLATERAL_USER_TOKEN", .flag = "", .opts = KT_SET_SECRET | KT_SET_NO_FILE},
    {"api_key_file", KT_SET_PATH, F(api_key_file), NULL, "file holding the Intel PCS API key"},
    {"root_ca", KT_SET_PATH, F(root_ca), NULL, "the pinned trust anchor, PEM (required)"},
    {"root_crl_url", KT_SET_STRING, F(root_crl_url), NULL,
     "pcs: the root CA CRL's URL (default: the anchor's CRL distribution point)"},
    {"storage", KT_SET_ENUM, F(storage), "dir", "dir (storage_dir) or sqlite (storage_file)",
     .words = storages},
    {"storage_dir", KT_SET_PATH, F(storage_dir), NULL, "directory of verified items"},
    {"storage_file", KT_SET_PATH, F(storage_file), NULL, "SQLite file of verified items"},
    {"tls_cert", KT_SET_PATH, F(tls_cert), NULL,
     "PEM certificate chain: serve HTTPS (SIGHUP reloads it)"},
    {"tls_key", KT_SET_PATH, F(tls_key), NULL, "PEM private key of tls_cert"},
    {"log_format", KT_SET_ENUM, F(log_format), "kv", "log lines", .words = formats},
    {"metrics_address", KT_SET_STRING, F(metrics_address), NULL,
     "serve /healthz, /readyz, /metrics here too (they are on listen as well)"},
    {"threads", KT_SET_UINT, F(threads), "2", "serving threads", 1, 64},
    {"per_address", KT_SET_UINT, F(per_address), "16",
     "open connections from one client address at once (raise it when many nodes reach the "
     "proxy through one NAT or SNAT address)",
     1, 4096},
    {"grace", KT_SET_DURATION, F(grace), "0",
     "how long an item may be served past its nextUpdate while upstream is down (0: never)", 0,
     1ull << 40, .unit_ms = 1000},
    {"refresh", KT_SET_DURATION, F(refresh), "86400",
     "fetch an item again this long before it expires (0: off)", 0, 1ull << 40, .unit_ms = 1000},
    {"refresh_every", KT_SET_DURATION, F(refresh_every), "30", "time between refresh-ahead passes",
     1, 1000000, .unit_ms = 1000},
    {"upstream_rate", KT_SET_UINT, F(upstream_rate), "10",
     "upstream fetches per second at most: misses for items nobody has (random FMSPCs) cannot "
     "make the proxy hammer upstream",
     1, 1000000},
    {"drain_ms", KT_SET_DURATION, F(drain_ms), "5000",
     "on SIGTERM, wait this long for open requests", 0, 1000000},
    {"now", KT_SET_UINT, F(now), "0",
     "testing only: a fixed clock, Unix seconds (0: the real clock)", 0, 1ull << 40},
};
#undef F

static const kt_settings_spec spec = {
    .prog = "kubetee-collateral",
    .usage = "usage: kubetee-collateral [serve] [options]\n"
             "       kubetee-collateral export --root-ca PEM --storage-dir D --out FILE\n"
             "       kubetee-collateral import --root-ca PEM --storage-dir D "
             "(--in FILE | --dir COLLATERAL_DIR | --quote QUOTE)\n",
    .env_prefix = "KT_COLLATERAL_",
    KT_SET_TABLE(table),
};

void kt_coll_config_usage(FILE *f)
{
    kt_settings_usage(&spec, f);
}

void kt_coll_config_log(const kt_coll_config *c)
{
    kt_settings_log(&spec, c, "collateral.settings");
}

/* A key or token: one printable word, from a file (a trailing newline dropped) or else
 * from the environment variable env (already in out); neither: empty. */
static kt_status secret(const char *name, const char *file, const char *env, char *out, size_t cap)
{
    kt_buf k = {0};
    if (!file[0] && !out[0]) return KT_OK;
    const char *from = file[0] ? name : env;
    kt_status st = file[0] ? kt_file_read(file, cap - 1, &k) : kt_buf_append(&k, out, strlen(out));
    OPENSSL_cleanse(out, cap);
    if (st) return kt_fail_context(st, "%s", from);
    size_t n = k.len;
    while (n && (k.data[n - 1] == '\n' || k.data[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n && !st; i++)
        if (!isgraph(k.data[i]))
            st = kt_fail(KT_ERR_MALFORMED, "%s: the %s must be one printable word", from,
                         strstr(name, "token") ? "token" : "key");
    if (!st && !n) st = kt_fail(KT_ERR_MALFORMED, "%s is empty", from);
    if (!st && n >= cap) st = kt_fail(KT_ERR_TOO_LARGE, "%s is over %zu bytes", from, cap - 1);
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

kt_status kt_coll_config_load(int argc, char **argv, int first, kt_coll_config *c, bool *help)
{
    memset(c, 0, sizeof *c);
    kt_status st = kt_settings_load(&spec, c, argc - first, argv + first, help, NULL);
    return st || *help ? st : check(c);
}
