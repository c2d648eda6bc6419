/* sgx-epc-limit-hook: an OCI createRuntime hook that sets a container's SGX EPC limit
 * (misc cgroup, "sgx_epc" in misc.max) from the grant the device plugin annotated it
 * with. The container's state comes on stdin (OCI runtime spec); exit status 0 lets the
 * container start, anything else stops it. Where the kernel has no SGX EPC cgroup the
 * hook logs so and lets the container start, unless --require. */
#include "plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: sgx-epc-limit-hook [--cgroup-root DIR] [--proc-root DIR] [--require]\n"
               "                          [--log-format kv|json]  < OCI state\n\n"
               "  --cgroup-root  the cgroup v2 mount (default: /sys/fs/cgroup)\n"
               "  --proc-root    procfs (default: /proc)\n"
               "  --require      refuse the container when the limit cannot be set (default: "
               "log and let it start)\n");
}

int main(int argc, char **argv)
{
    kt_epc_hook_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.cgroup_root, sizeof cfg.cgroup_root, "/sys/fs/cgroup");
    snprintf(cfg.proc_root, sizeof cfg.proc_root, "/proc");
    for (int a = 1; a < argc; a++) {
        char *dst = !strcmp(argv[a], "--cgroup-root") ? cfg.cgroup_root
                    : !strcmp(argv[a], "--proc-root") ? cfg.proc_root
                                                      : NULL;
        if (dst && a + 1 < argc && argv[a + 1][0] == '/') {
            snprintf(dst, PATH_MAX, "%s", argv[++a]);
        } else if (!strcmp(argv[a], "--require")) {
            cfg.require = true;
        } else if (!strcmp(argv[a], "--log-format") && a + 1 < argc &&
                   (!strcmp(argv[a + 1], "kv") || !strcmp(argv[a + 1], "json"))) {
            kt_log_set_format(strcmp(argv[++a], "json") ? KT_LOG_KV : KT_LOG_JSON);
        } else if (!strcmp(argv[a], "--help")) {
            usage(stdout);
            return 0;
        } else {
            char esc[160];
            fprintf(stderr, "sgx-epc-limit-hook: unknown or incomplete option '%s'\n",
                    kt_escape(argv[a], strlen(argv[a]), esc, sizeof esc));
            usage(stderr);
            return 2;
        }
    }
    /* the state is a few hundred bytes; more is refused, not read */
    char buf[65536];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf && (r = read(0, buf + n, sizeof buf - n)) > 0)
        n += (size_t)r;
    if (n == sizeof buf) {
        kt_log(KT_LOG_ERROR, "epc_limit.failed", "reason", "OCI state over 64 KiB", NULL);
        return 1;
    }
    if (kt_epc_hook_run(&cfg, buf, n)) {
        kt_log(KT_LOG_ERROR, "epc_limit.failed", "reason", kt_last_error(), NULL);
        return 1;
    }
    return 0;
}
