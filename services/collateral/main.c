/* kubetee-collateral: serve (the default), export, import. */
#define _GNU_SOURCE /* memmem */
#include "collateral.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static int fail(const char *what)
{
    char shown[1024];
    fprintf(stderr, "kubetee-collateral: %s: %s\n", what,
            kt_escape_text(kt_last_error(), strlen(kt_last_error()), shown, sizeof shown));
    return 1;
}

/* Pulls "--name value" (or --name=value) out of argv; what is left goes to the config. */
static const char *take(int *argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int a = 2; a < *argc; a++) {
        if (strncmp(argv[a], name, n)) continue;
        const char *v = NULL;
        int drop = 0;
        if (argv[a][n] == '=')
            v = argv[a] + n + 1, drop = 1;
        else if (!argv[a][n] && a + 1 < *argc)
            v = argv[a + 1], drop = 2;
        if (!drop) continue;
        memmove(argv + a, argv + a + drop, (size_t)(*argc - a - drop) * sizeof *argv);
        *argc -= drop;
        return v;
    }
    return NULL;
}

/* The TLS certificate and key, NUL-terminated. */
static kt_status read_tls(const kt_coll_config *c, kt_buf *cert, kt_buf *key)
{
    kt_status st = kt_file_read(c->tls_cert, 1 << 20, cert);
    if (!st) st = kt_file_read(c->tls_key, 1 << 20, key);
    if (!st) st = kt_buf_append(cert, "", 1);
    if (!st) st = kt_buf_append(key, "", 1);
    return st ? kt_fail_context(st, "TLS") : KT_OK;
}

static int serve(kt_coll_config *c)
{
    kt_coll_proxy *p;
    if (kt_coll_proxy_new(c, &p)) return fail("starting");
    int sfd = kt_svc_signalfd();
    /* the admin paths (the admin token, checked before any body is read) */
    static const kt_http_route routes[] = {
        {"POST", "/sgx/certification/v4/platforms", "application/json", 96 * 1024,
         kt_coll_admin_admit, kt_coll_admin_body},
        {"PUT", "/sgx/certification/v4/platformcollateral", "application/json", 32u << 20,
         kt_coll_admin_admit, kt_coll_admin_body},
        {"POST", "/sgx/certification/v4/refresh", NULL, 0, kt_coll_admin_admit, kt_coll_admin_body},
        /* the same for v3's clients (PCCS's admin tool defaults to v3 URLs) */
        {"POST", "/sgx/certification/v3/platforms", "application/json", 96 * 1024,
         kt_coll_admin_admit, kt_coll_admin_body},
        {"PUT", "/sgx/certification/v3/platformcollateral", "application/json", 32u << 20,
         kt_coll_admin_admit, kt_coll_admin_body},
        {"POST", "/sgx/certification/v3/refresh", NULL, 0, kt_coll_admin_admit, kt_coll_admin_body},
    };
    kt_http_spec spec = {.address = c->listen,
                         .ready = kt_coll_proxy_ready,
                         .metrics = kt_coll_proxy_metrics,
                         .ctx = p,
                         .metric_prefix = "kubetee_collateral",
                         .get = kt_coll_proxy_handle,
                         .threads = c->threads,
                         .per_address = c->per_address,
                         .routes = routes,
                         .route_count = sizeof routes / sizeof routes[0]};
    kt_http *api = NULL, *ops = NULL;
    int port = 0;
    kt_buf cert = {0}, key = {0};
    kt_status st = c->tls_cert[0] ? read_tls(c, &cert, &key) : KT_OK;
    spec.tls_cert_pem = cert.len ? (const char *)cert.data : NULL;
    spec.tls_key_pem = key.len ? (const char *)key.data : NULL;
    if (!st && sfd >= 0) st = kt_http_serve(&spec, &api, &port);
    kt_buf_free(&cert);
    kt_buf_free(&key); /* wiped */
    if (st || sfd < 0) {
        kt_coll_proxy_free(p);
        return fail("listening");
    }
    if (c->metrics_address[0] && kt_http_start(c->metrics_address, kt_coll_proxy_ready,
                                               kt_coll_proxy_metrics, p, &ops, NULL)) {
        kt_http_stop(api);
        kt_coll_proxy_free(p);
        return fail("listening for metrics");
    }
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    kt_log(KT_LOG_INFO, "collateral.serving", "port", ports, "mode", c->mode, "upstream",
           c->upstream_url, NULL);
    for (;;) {
        struct pollfd f = {sfd, POLLIN, 0};
        int r = poll(&f, 1, (int)(c->refresh_every > 86400 ? 86400 : c->refresh_every) * 1000);
        if (r < 0 && errno != EINTR) break;
        if (r > 0) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGHUP) { /* a renewed TLS certificate */
                    if (c->tls_cert[0] &&
                        (read_tls(c, &cert, &key) ||
                         kt_http_reload_tls(api, (const char *)cert.data, (const char *)key.data)))
                        fail("reloading TLS (the old certificate stays)");
                    else if (c->tls_cert[0])
                        kt_log(KT_LOG_INFO, "collateral.tls_reloaded", NULL);
                    kt_buf_free(&cert);
                    kt_buf_free(&key);
                    continue;
                }
                kt_log(KT_LOG_INFO, "collateral.stopping", "signal",
                       si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
                break;
            }
        }
        kt_coll_proxy_refresh(p);
        kt_http_retire(api, c->drain_ms); /* the server a TLS reload replaced, once done */
    }
    kt_http_drain(api, c->drain_ms);
    kt_http_stop(ops);
    kt_coll_proxy_free(p);
    close(sfd);
    kt_log(KT_LOG_INFO, "collateral.stopped", NULL);
    return 0;
}

static int export_to(kt_coll_config *c, const char *out)
{
    kt_coll_proxy *p;
    kt_buf b = {0};
    if (!out) return fprintf(stderr, "kubetee-collateral: export needs --out FILE\n"), 2;
    if (kt_coll_proxy_new(c, &p)) return fail("export");
    kt_status st = kt_coll_proxy_export(p, &b);
    if (!st) st = kt_file_write_atomic(out, b.data, b.len, 0644);
    kt_buf_free(&b);
    kt_coll_proxy_free(p);
    return st ? fail("export") : 0;
}

/* A collateral directory's items (the layout of kt_collateral_load_dir), keyed by what
 * they say they are; verification then judges whether they are. */
static kt_status dir_item(kt_coll_proxy *p, const char *dir, const char *body_name,
                          const char *chain_name, bool keep)
{
    char path[PATH_MAX];
    kt_buf body = {0}, chain = {0};
    kt_coll_query q;
    snprintf(path, sizeof path, "%s/%s", dir, body_name);
    kt_status st = kt_file_read(path, KT_COLL_ITEM_MAX, &body);
    if (!st && chain_name) {
        snprintf(path, sizeof path, "%s/%s", dir, chain_name);
        st = kt_file_read(path, KT_COLL_ITEM_MAX, &chain);
    }
    const char *key = "rootcacrl";
    char k[KT_COLL_KEY_MAX];
    json_t *doc = NULL;
    if (!st && strstr(body_name, ".json")) {
        doc = json_loadb((const char *)body.data, body.len, JSON_REJECT_DUPLICATES, NULL);
        json_t *tcb = json_object_get(doc, "tcbInfo"),
               *id = json_object_get(doc, "enclaveIdentity"),
               *eval = json_object_get(doc, "tcbEvaluationDataNumbers");
        const char *tee = json_string_value(json_object_get(tcb ? tcb : id, "id"));
        const char *fmspc = json_string_value(json_object_get(tcb, "fmspc"));
        if (tcb && fmspc && strlen(fmspc) == 12) {
            snprintf(k, sizeof k, "%s-tcb-%s", tee && !strcmp(tee, "TDX") ? "tdx" : "sgx", fmspc);
            for (char *c = k; *c; c++)
                if (*c >= 'A' && *c <= 'F') *c = (char)(*c - 'A' + 'a');
            key = k;
        } else if (eval) {
            const char *e = json_string_value(json_object_get(eval, "id"));
            key = e && !strcmp(e, "TDX") ? "tdx-tcbeval" : "sgx-tcbeval";
        } else if (id && tee) {
            key = !strcmp(tee, "TD_QE") ? "tdx-qe" : !strcmp(tee, "QVE") ? "sgx-qve" : "sgx-qe";
        } else {
            st = kt_fail(KT_ERR_MALFORMED, "%s is neither TCB Info nor an enclave identity",
                         body_name);
        }
    }
    if (!st && !strcmp(body_name, "pck_crl.der")) key = "pckcrl-processor";
    if (!st && (st = kt_coll_key_parse(key, &q))) st = kt_fail_context(st, "%s", body_name);
    if (!st) {
        st = kt_coll_proxy_admit(p, &q, chain.data, chain.len, body.data, body.len, keep);
        if (st && !strcmp(key, "pckcrl-processor")) { /* or the Platform CA's */
            kt_coll_key_parse("pckcrl-platform", &q);
            st = kt_coll_proxy_admit(p, &q, chain.data, chain.len, body.data, body.len, keep);
        }
        if (st) st = kt_fail_context(st, "%s/%s", dir, body_name);
    }
    json_decref(doc);
    kt_buf_free(&body);
    kt_buf_free(&chain);
    return st;
}

static kt_status import_dir(kt_coll_proxy *p, const char *dir, bool keep)
{
    kt_status st = dir_item(p, dir, "root_ca_crl.der", NULL, keep);
    if (!st) st = dir_item(p, dir, "pck_crl.der", "pck_crl_issuer_chain.pem", keep);
    if (!st) st = dir_item(p, dir, "tcb_info.json", "tcb_info_issuer_chain.pem", keep);
    if (!st) st = dir_item(p, dir, "qe_identity.json", "qe_identity_issuer_chain.pem", keep);
    char path[PATH_MAX]; /* optional: Intel's shared sets carry none, the sim platform's do */
    snprintf(path, sizeof path, "%s/tcb_eval_numbers.json", dir);
    if (!st && access(path, F_OK) == 0)
        st = dir_item(p, dir, "tcb_eval_numbers.json", "tcb_info_issuer_chain.pem", keep);
    return st;
}

static kt_status import_file(kt_coll_proxy *p, const kt_buf *b, bool keep)
{
    size_t m = sizeof KT_COLL_EXPORT_MAGIC - 1, n = b->len - m, count = 0;
    if (b->len < m || memcmp(b->data, KT_COLL_EXPORT_MAGIC, m))
        return kt_fail(KT_ERR_MALFORMED, "not a kubetee-collateral export");
    const uint8_t *d = b->data + m;
    kt_status st = KT_OK;
    while (!st && n) {
        kt_coll_record r;
        kt_coll_query q;
        if ((st = kt_coll_record_next(&d, &n, &r))) break;
        kt_coll_key_parse(r.key, &q);
        st = kt_coll_proxy_admit(p, &q, r.chain, r.chain_len, r.body, r.body_len, keep);
        if (st) st = kt_fail_context(st, "item %zu (%s)", count, r.key);
        count++;
    }
    return st;
}

/* A platform registered from one of its quotes: the QE ID in the quote header's user data,
 * the PCK certificate and its issuer chain from the certification data. */
static kt_status import_quote(kt_coll_proxy *p, const kt_buf *b, bool keep)
{
    kt_quote q;
    kt_status st = kt_quote_parse(b->data, b->len, &q);
    if (st) return kt_fail_context(st, "quote");
    static const char end[] = "-----END CERTIFICATE-----";
    const char *pem = q.pck_chain_pem, *stop = pem + q.pck_chain_len;
    const char *e = q.pck_chain_pem ? memmem(pem, q.pck_chain_len, end, sizeof end - 1) : NULL;
    if (!e) return kt_fail(KT_ERR_MALFORMED, "quote: no PCK certificate in its certification data");
    const char *split = e + sizeof end - 1;
    while (split < stop && (*split == '\n' || *split == '\r'))
        split++;
    /* the user data's first 16 bytes: the QE ID, as Intel's QE writes it */
    return kt_coll_proxy_register_pck(p, b->data + 28, pem, (size_t)(split - pem), split,
                                      (size_t)(stop - split), keep);
}

static int import_from(kt_coll_config *c, const char *in, const char *dir, const char *quote)
{
    if ((in != NULL) + (dir != NULL) + (quote != NULL) != 1)
        return fprintf(stderr, "kubetee-collateral: import needs one of --in FILE, --dir DIR, "
                               "--quote FILE\n"),
               2;
    if (quote) in = quote;
    kt_coll_proxy *p;
    kt_buf b = {0};
    if (kt_coll_proxy_new(c, &p)) return fail("import");
    kt_status st = in ? kt_file_read(in, 64u << 20, &b) : KT_OK;
    /* everything verified first, then stored: a file with one bad item stores nothing */
    for (int keep = 0; keep < 2 && !st; keep++)
        st = quote ? import_quote(p, &b, keep)
             : in  ? import_file(p, &b, keep)
                   : import_dir(p, dir, keep);
    kt_buf_free(&b);
    kt_coll_proxy_free(p);
    if (st) return fail("import refused");
    kt_log(KT_LOG_INFO, "collateral.imported", "from", in ? in : dir, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 && argv[1][0] != '-' ? argv[1] : "serve";
    int first = argc > 1 && argv[1][0] != '-' ? 2 : 1;
    const char *out = NULL, *in = NULL, *dir = NULL, *quote = NULL;
    if (!strcmp(cmd, "export")) out = take(&argc, argv, "--out");
    if (!strcmp(cmd, "import"))
        in = take(&argc, argv, "--in"), dir = take(&argc, argv, "--dir"),
        quote = take(&argc, argv, "--quote");
    kt_coll_config c;
    if (strcmp(cmd, "serve") && strcmp(cmd, "export") && strcmp(cmd, "import")) {
        fprintf(stderr, "kubetee-collateral: unknown command '%s'\n", cmd);
        kt_coll_config_usage(stderr);
        return KT_SVC_EXIT_SETTINGS;
    }
    /* export and import only read and write storage */
    if (strcmp(cmd, "serve")) setenv("KT_COLLATERAL_MODE", "offline", 1);
    bool help;
    kt_status st = kt_coll_config_load(argc, argv, first, &c, &help);
    if (st) {
        fail("configuration");
        if (st == KT_ERR_INVALID_ARGUMENT) fprintf(stderr, "(kubetee-collateral --help lists the settings)\n");
        return KT_SVC_EXIT_SETTINGS;
    }
    if (help) return 0;
    kt_log_set_format(strcmp(c.log_format, "json") ? KT_LOG_KV : KT_LOG_JSON);
    if (!strcmp(cmd, "export")) return export_to(&c, out);
    if (!strcmp(cmd, "import")) return import_from(&c, in, dir, quote);
    kt_coll_config_log(&c);
    return serve(&c);
}
