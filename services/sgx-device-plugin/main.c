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
    int rc = kt_dp_config_load(argc, argv, &p->cfg);
    if (rc) {
        free(p);
        return rc < 0 ? 0 : rc;
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
