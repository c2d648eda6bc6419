/* sgx-device-plugin: advertises a node's SGX to kubelet (device plugin API v1beta1).
 * One event loop: signals (SIGTERM stop, SIGHUP rescan), inotify (device nodes come and
 * go; kubelet.sock is recreated when kubelet restarts), and a retry tick for
 * registration. */
#include "plugin.h"
#include <kubetee/svc.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

typedef struct {
    const char *flag, *env, *def, *help;
    char *dst;
    size_t cap;
} opt;

static void usage(const opt *o, size_t n, FILE *f)
{
    fprintf(f,
            "usage: sgx-device-plugin [options]\n\nEvery option can also be set by its environment "
            "variable; a flag wins.\n\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  --%-20s %-28s %s (default: %s)\n", o[i].flag, o[i].env, o[i].help,
                o[i].def[0] ? o[i].def : "none");
    fprintf(f, "  --%-20s %-28s %s\n", "help", "", "this text");
}

static int parse_args(int argc, char **argv, kt_dp_config *c)
{
    static char enclave_limit[16], provision_limit[16], aesm_limit[16], log_format[16],
        epc_unit[16];
    opt o[] = {
        {"kubelet-dir", "SGX_DP_KUBELET_DIR", "/var/lib/kubelet/device-plugins",
         "kubelet's device plugin directory (kubelet.sock and our sockets)", c->kubelet_dir,
         sizeof c->kubelet_dir},
        {"device-root", "SGX_DP_DEVICE_ROOT", "/dev", "where the SGX device nodes are",
         c->device_root, sizeof c->device_root},
        {"cpuid-file", "SGX_DP_CPUID_FILE", "",
         "recorded CPUID values ('leaf subleaf eax ebx ecx edx', hex) instead of the CPU",
         c->cpuid_file, sizeof c->cpuid_file},
        {"epc-resource", "SGX_DP_EPC_RESOURCE", "alibabacloud.com/sgx_epc_MiB",
         "EPC resource, one device per --epc-unit-mib MiB (empty: off)", c->epc_resource,
         sizeof c->epc_resource},
        {"enclave-resource", "SGX_DP_ENCLAVE_RESOURCE", "sgx.intel.com/enclave",
         "enclave device resource (empty: off)", c->enclave_resource, sizeof c->enclave_resource},
        {"provision-resource", "SGX_DP_PROVISION_RESOURCE", "sgx.intel.com/provision",
         "provision device resource (empty: off)", c->provision_resource,
         sizeof c->provision_resource},
        {"enclave-limit", "SGX_DP_ENCLAVE_LIMIT", "20",
         "containers that may share the enclave node", enclave_limit, sizeof enclave_limit},
        {"provision-limit", "SGX_DP_PROVISION_LIMIT", "20",
         "containers that may share the provision node", provision_limit, sizeof provision_limit},
        {"epc-unit-mib", "SGX_DP_EPC_UNIT_MIB", "",
         "MiB of EPC per device of the EPC resource (empty: the smallest power of two that "
         "keeps ListAndWatch under 1 MiB)",
         epc_unit, sizeof epc_unit},
        {"aesm-socket-dir", "SGX_DP_AESM_SOCKET_DIR", "",
         "AESM socket directory, mounted read-only only into containers that ask for the "
         "AESM resource (empty: off)",
         c->aesm_dir, sizeof c->aesm_dir},
        {"aesm-resource", "SGX_DP_AESM_RESOURCE", "kubetee.io/aesm",
         "AESM resource, which the admission webhook adds for pods annotated "
         "sgx.intel.com/quote-provider: aesmd (empty: off)",
         c->aesm_resource, sizeof c->aesm_resource},
        {"aesm-limit", "SGX_DP_AESM_LIMIT", "20", "containers that may share the AESM socket",
         aesm_limit, sizeof aesm_limit},
        {"nfd-features-file", "SGX_DP_NFD_FEATURES_FILE", "",
         "write NFD local features here (e.g. "
         "/etc/kubernetes/node-feature-discovery/features.d/sgx)",
         c->nfd_file, sizeof c->nfd_file},
        {"log-format", "SGX_DP_LOG_FORMAT", "kv", "kv or json", log_format, sizeof log_format},
        {"metrics-address", "SGX_DP_METRICS_ADDRESS", "",
         "serve /healthz, /readyz, /metrics here, e.g. :9108 (empty: off)", c->metrics_address,
         sizeof c->metrics_address},
        {"rpc-limits", "SGX_DP_RPC_LIMITS", "",
         "limits of the plugin's gRPC servers, name=value,... over the plugin's own defaults "
         "(docs/operations.md)",
         c->rpc_limits_spec, sizeof c->rpc_limits_spec},
    };
    size_t n = sizeof o / sizeof o[0];
    for (size_t i = 0; i < n; i++) {
        const char *e = getenv(o[i].env);
        snprintf(o[i].dst, o[i].cap, "%s", e ? e : o[i].def);
    }
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
            usage(o, n, stdout);
            exit(0);
        }
        size_t i;
        for (i = 0; i < n; i++) {
            size_t fl = strlen(o[i].flag);
            if (strncmp(argv[a], "--", 2) || strncmp(argv[a] + 2, o[i].flag, fl)) continue;
            const char *v = argv[a][2 + fl] == '=' ? argv[a] + 3 + fl : NULL;
            if (!v && argv[a][2 + fl] == '\0' && a + 1 < argc) v = argv[++a];
            if (v) {
                snprintf(o[i].dst, o[i].cap, "%s", v);
                break;
            }
        }
        if (i == n) {
            fprintf(stderr, "sgx-device-plugin: unknown or incomplete option '%s'\n", argv[a]);
            usage(o, n, stderr);
            return 2;
        }
    }
    uint64_t el, pl, al, unit = 0;
    if (kt_decimal_parse(enclave_limit, 100000, &el) ||
        kt_decimal_parse(provision_limit, 100000, &pl) ||
        kt_decimal_parse(aesm_limit, 100000, &al)) {
        fprintf(stderr,
                "sgx-device-plugin: --enclave-limit, --provision-limit, --aesm-limit: %s "
                "(0..100000)\n",
                kt_last_error());
        return 2;
    }
    c->enclave_limit = (unsigned)el;
    c->provision_limit = (unsigned)pl;
    c->aesm_limit = (unsigned)al;
    if (epc_unit[0] && (kt_decimal_parse(epc_unit, 1u << 20, &unit) || unit == 0)) {
        fprintf(stderr, "sgx-device-plugin: --epc-unit-mib '%s': %s (1..1048576)\n", epc_unit,
                unit == 0 && epc_unit[0] == '0' && !epc_unit[1] ? "zero" : kt_last_error());
        return 2;
    }
    c->epc_unit_mib = (unsigned)unit;
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
            return 2;
        }
    }
    if (strcmp(log_format, "kv") && strcmp(log_format, "json")) {
        fprintf(stderr, "sgx-device-plugin: --log-format must be kv or json\n");
        return 2;
    }
    kt_log_set_format(strcmp(log_format, "json") ? KT_LOG_KV : KT_LOG_JSON);
    /* kubelet is the only client: a few workers (one ListAndWatch stream per resource and
     * its Allocate calls), and no maximum connection age, since kubelet takes an ended
     * ListAndWatch for a plugin that failed */
    memset(&c->rpc_limits, 0, sizeof c->rpc_limits);
    c->rpc_limits.workers = 4;
    c->rpc_limits.queue = 16;
    c->rpc_limits.max_message = 1 << 20;
    c->rpc_limits.max_age_ms = -1;
    if (kt_rpc_limits_parse(c->rpc_limits_spec, &c->rpc_limits)) {
        fprintf(stderr, "sgx-device-plugin: --rpc-limits: %s\n", kt_last_error());
        return 2;
    }
    return 0;
}

static void detect(kt_plugin *p)
{
    kt_cpuid_source src;
    if (p->cfg.cpuid_file[0]) {
        if (kt_cpuid_load(p->cfg.cpuid_file, &src)) {
            kt_log(KT_LOG_ERROR, "dp.cpuid_unreadable", "reason", kt_last_error(), NULL);
            memset(&p->caps, 0, sizeof p->caps);
            snprintf(p->caps.why_not, sizeof p->caps.why_not, "CPUID file unreadable");
            return;
        }
    } else {
        kt_cpuid_live(&src);
    }
    kt_sgx_caps_decode(&src, &p->caps);
    char epc[32];
    snprintf(epc, sizeof epc, "%llu", (unsigned long long)(p->caps.epc_bytes >> 20));
    if (p->caps.usable)
        kt_log(KT_LOG_INFO, "dp.sgx_found", "sgx2", p->caps.sgx2 ? "true" : "false", "flc",
               p->caps.flc ? "true" : "false", "epc_mib", epc, NULL);
    else
        kt_log(KT_LOG_WARN, "dp.sgx_absent", "reason", p->caps.why_not, "advertising", "nothing",
               NULL);
}

static int watch_dirs(int fd, kt_plugin *p)
{
    char sub[PATH_MAX + 8];
    snprintf(sub, sizeof sub, "%s/sgx", p->cfg.device_root);
    inotify_add_watch(fd, p->cfg.device_root,
                      IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB);
    inotify_add_watch(fd, sub, IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB);
    if (p->cfg.aesm_dir[0]) /* aesm.socket comes and goes with aesmd */
        inotify_add_watch(fd, p->cfg.aesm_dir, IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO);
    return inotify_add_watch(fd, p->cfg.kubelet_dir, IN_CREATE | IN_DELETE | IN_MOVED_TO);
}

int main(int argc, char **argv)
{
    kt_plugin *p = calloc(1, sizeof *p);
    if (!p) return 1;
    int rc = parse_args(argc, argv, &p->cfg);
    if (rc) {
        free(p);
        return rc;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);
    int sfd = kt_svc_signalfd();
    int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    kt_log(KT_LOG_INFO, "dp.starting", "kubelet_dir", p->cfg.kubelet_dir, "device_root",
           p->cfg.device_root, NULL);
    int kubelet_wd = watch_dirs(ifd, p);
    kt_http *http = NULL;
    if (p->cfg.metrics_address[0] &&
        kt_http_start(p->cfg.metrics_address, kt_plugin_ready, kt_plugin_metrics, p, &http, NULL)) {
        kt_log(KT_LOG_ERROR, "dp.http_failed", "reason", kt_last_error(), NULL);
        return 1;
    }
    if (kubelet_wd < 0)
        kt_log(KT_LOG_WARN, "dp.kubelet_dir_unwatched", "dir", p->cfg.kubelet_dir, "reason",
               strerror(errno), NULL);

    bool restart = true;
    for (;;) {
        if (restart) {
            kt_plugin_stop_serving(p);
            kt_plugin_check_paths(p);
            kubelet_wd = watch_dirs(ifd, p); /* the kubelet directory may exist now */
            detect(p);
            kt_plugin_rescan_nodes(p);
            kt_plugin_plan(p);
            kt_plugin_write_nfd(p);
            if (p->nres && kt_plugin_serve(p) == KT_OK) kt_plugin_register(p);
            restart = false;
        }
        bool done = p->nres == 0 || (p->served && kt_plugin_registered(p));
        struct pollfd fds[2] = {{sfd, POLLIN, 0}, {ifd, POLLIN, 0}};
        int r = poll(fds, 2, done ? 60000 : 2000);
        if (r < 0 && errno != EINTR) break;
        if (r == 0 && !done) {
            /* kubelet not there yet: retry; a server that could not start (the kubelet
             * directory missing) is started again first, so no endpoint is registered
             * that nothing serves */
            if (!p->served)
                restart = true;
            else
                kt_plugin_register(p);
            continue;
        }
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGHUP) {
                    kt_log(KT_LOG_INFO, "dp.rescan", "signal", "SIGHUP", NULL);
                    restart = true;
                    continue;
                }
                kt_log(KT_LOG_INFO, "dp.stopping", "signal",
                       si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
                break;
            }
        }
        if (fds[1].revents & POLLIN) {
            char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
            ssize_t len;
            bool nodes = false;
            while ((len = read(ifd, buf, sizeof buf)) > 0) {
                for (char *at = buf; at < buf + len;) {
                    struct inotify_event *ev = (struct inotify_event *)at;
                    if (ev->wd == kubelet_wd && ev->len) {
                        if (!strcmp(ev->name, "kubelet.sock") &&
                            (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
                            kt_log(KT_LOG_INFO, "dp.kubelet_restarted", NULL);
                            restart = true;
                        }
                        /* kubelet removes plugin sockets when it restarts; a removal we
                         * made ourselves while restarting is followed by a new socket */
                        for (unsigned i = 0; i < p->nres; i++) {
                            char sock[PATH_MAX + 80];
                            snprintf(sock, sizeof sock, "%s/%s", p->cfg.kubelet_dir, ev->name);
                            if (!strcmp(ev->name, p->res[i].endpoint) && (ev->mask & IN_DELETE) &&
                                p->res[i].server && access(sock, F_OK) != 0) {
                                kt_log(KT_LOG_INFO, "dp.socket_removed", "endpoint", ev->name,
                                       NULL);
                                restart = true;
                            }
                        }
                    } else if (ev->wd != kubelet_wd) {
                        nodes = true;
                    }
                    at += sizeof *ev + ev->len;
                }
            }
            if (nodes) {
                watch_dirs(ifd, p); /* /dev/sgx may have appeared */
                kt_plugin_rescan_nodes(p);
            }
        }
    }
    kt_http_stop(http);
    kt_plugin_stop_serving(p);
    close(ifd);
    close(sfd);
    kt_log(KT_LOG_INFO, "dp.stopped", NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->changed);
    free(p);
    return 0;
}
