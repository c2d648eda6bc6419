/* kubetee-signer: the enclave signing service (docs/operations.md, "kubetee-signer").
 *
 *   kubetee-signer [serve] --config signer.yaml [--listen ADDR] [--http ADDR] ...
 *   kubetee-signer keygen --config signer.yaml --key NAME
 *   kubetee-signer keys --config signer.yaml
 *
 * Settings come from the YAML file, then the environment (KT_SIGNER_*), then flags; the
 * token PIN only from the file or environment variable the configuration names. SIGTERM
 * or SIGINT drains: no new calls, calls under way finish within the grace period. */
#include "service.h"
#include <kubetee/svc.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int die(const char *what)
{
    kt_log(KT_LOG_ERROR, "signer.failed", "step", what, "error", kt_last_error(), NULL);
    return 1;
}

/* A refused setting: said on stderr, and the settings' exit status. */
static int bad_setting(const char *what)
{
    char e[512];
    fprintf(stderr, "kubetee-signer: %s%s (--help lists the settings)\n", what,
            kt_escape_text(kt_last_error(), strlen(kt_last_error()), e, sizeof e));
    return KT_SVC_EXIT_SETTINGS;
}

static kt_status open_token(const sg_config *c, kt_p11 **t)
{
    kt_buf pin = {0};
    kt_status st = kt_p11_pin_read(c->pin_file[0] ? c->pin_file : NULL,
                                   c->pin_env[0] ? c->pin_env : NULL, &pin);
    if (!st) st = kt_p11_open(c->module, c->token, &pin, t);
    kt_buf_free(&pin);
    return st;
}

static int keygen(const sg_config *c, const char *name)
{
    const sg_key *k = sg_config_key(c, name);
    if (!k) {
        kt_fail(KT_ERR_NOT_FOUND, "the configuration has no key named '%s'", name);
        return die("keygen");
    }
    kt_p11 *t;
    kt_p11_key *key;
    if (open_token(c, &t)) return die("opening the token");
    kt_status st = kt_p11_generate(t, k->label, &key);
    if (st) {
        kt_p11_free(t);
        return die("keygen");
    }
    kt_p11_key_free(key);
    kt_p11_free(t);
    kt_log(KT_LOG_INFO, "signer.key_generated", "key", k->name, "label", k->label, NULL);
    return 0;
}

/* Each configured key as the token holds it: MRSIGNER and its attributes. */
static int list(const sg_config *c)
{
    kt_p11 *t;
    if (open_token(c, &t)) return die("opening the token");
    sg_service s;
    if (sg_service_init(&s, c, t)) {
        kt_p11_free(t);
        return die("opening the keys");
    }
    for (size_t i = 0; i < c->nkeys; i++) {
        kt_p11_attrs a;
        char mrs[65];
        kt_hex_encode(s.mrsigner[i], 32, mrs, sizeof mrs);
        kt_p11_key_attributes(s.keys[i], &a);
        printf("%s label=%s mrsigner=%s production=%s debug=%s token=%d private=%d "
               "sensitive=%d extractable=%d never_extractable=%d private_parts_readable=%d\n",
               c->keys[i].name, c->keys[i].label, mrs, c->keys[i].production ? "true" : "false",
               c->keys[i].debug ? "true" : "false", a.token, a.private_obj, a.sensitive,
               a.extractable, a.never_extractable, !a.value_refused);
    }
    sg_service_free(&s);
    kt_p11_free(t);
    return 0;
}

typedef struct {
    sg_service *svc;
    kt_rpc_server *rpc;
} serving;

static bool ready(void *ctx)
{
    serving *s = ctx;
    return kt_rpc_server_listening(s->rpc);
}

static void metrics(void *ctx, kt_buf *out)
{
    serving *s = ctx;
    sg_service_metrics(s->svc, out);
    kt_rpc_server_metrics(&s->rpc, 1, out);
}

static int serve(const sg_config *c)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts */
    signal(SIGPIPE, SIG_IGN);
    kt_rpc_limits limits = {0};
    limits.max_message = 64u << 20; /* a name, 256 bytes, and an image for the build check */
    /* a Sign holds its worker while the token signs and the log entry is fsynced: more
     * workers than CPUs keep the token busy while others wait for the disk */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    limits.workers = cpus < 2 ? 8 : cpus > 16 ? 64 : (unsigned)cpus * 4;
    if (kt_rpc_limits_parse(c->rpc_limits, &limits)) return bad_setting("rpc_limits: ");
    kt_p11 *t;
    if (open_token(c, &t)) return die("opening the token");
    static sg_service svc;
    if (sg_service_init(&svc, c, t)) {
        kt_p11_free(t);
        return die("opening the keys");
    }
    kt_rpc_method m[5];
    size_t nm = sg_service_methods(&svc, m);
    kt_rpc_tls tls = {.cert = c->tls_cert, .key = c->tls_key, .ca = c->tls_client_ca,
                      .require_client_cert = true};
    serving s = {&svc, NULL};
    int port = 0, hport = 0;
    kt_http *http = NULL;
    int rc = 0;
    if (kt_rpc_server_new(c->listen, &tls, &limits, m, nm, &s.rpc) ||
        kt_rpc_server_start(s.rpc, &port)) {
        rc = die("starting the gRPC server");
    } else if (c->http[0] && kt_http_start(c->http, ready, metrics, &s, &http, &hport)) {
        rc = die("starting the HTTP server");
    } else {
        char ps[16], hs[16], nk[16];
        snprintf(ps, sizeof ps, "%d", port);
        snprintf(hs, sizeof hs, "%d", hport);
        snprintf(nk, sizeof nk, "%zu", c->nkeys);
        kt_log(KT_LOG_INFO, "signer.started", "listen", c->listen, "port", ps, "http_port", hs,
               "keys", nk, "token", c->token, NULL);
        int sig = 0;
        sigwait(&set, &sig);
        kt_log(KT_LOG_INFO, "signer.stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT",
               NULL);
    }
    if (s.rpc) kt_rpc_server_shutdown(s.rpc, 10000);
    if (http) kt_http_stop(http);
    kt_rpc_server_free(s.rpc);
    sg_service_free(&svc);
    kt_p11_free(t);
    if (!rc) kt_log(KT_LOG_INFO, "signer.stopped", NULL);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = "serve";
    if (argc > 1 && argv[1][0] != '-') cmd = argv[1], argc--, argv++;
    if (strcmp(cmd, "serve") && strcmp(cmd, "keygen") && strcmp(cmd, "keys")) {
        fprintf(stderr, "kubetee-signer: unknown command\n");
        sg_config_usage(stderr);
        return KT_SVC_EXIT_SETTINGS;
    }
    static sg_config c;
    bool help;
    if (sg_config_load(argc - 1, argv + 1, &c, &help)) return bad_setting("");
    if (help) return 0;
    kt_log_set_format(!strcmp(c.log_format, "json") ? KT_LOG_JSON : KT_LOG_KV);
    if (!strcmp(cmd, "keygen")) {
        if (!c.key[0]) {
            fprintf(stderr, "kubetee-signer: keygen needs --key NAME\n");
            return KT_SVC_EXIT_SETTINGS;
        }
        return keygen(&c, c.key);
    }
    if (!strcmp(cmd, "keys")) return list(&c);
    if (!c.listen[0]) {
        fprintf(stderr, "kubetee-signer: no listen address (listen:, KT_SIGNER_LISTEN or "
                        "--listen)\n");
        return KT_SVC_EXIT_SETTINGS;
    }
    sg_config_log(&c);
    return serve(&c);
}
