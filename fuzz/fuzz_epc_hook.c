/* Fuzz target: what sgx-epc-limit-hook reads. First byte: 0 the OCI state on stdin, 1
 * the container's config.json, 2 /proc/<pid>/cgroup, 3 a cgroup keyed file
 * (misc.capacity, misc.max); the rest is the file. */
#include "plugin.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t len = n - 1;
    switch (data[0] & 3) {
    case 0: {
        kt_oci_state s;
        if (kt_oci_state_parse(text, len, &s) == KT_OK && (s.pid <= 0 || s.bundle[0] != '/'))
            __builtin_trap();
        break;
    }
    case 1: {
        bool found;
        uint64_t bytes;
        kt_oci_config_epc(text, len, &found, &bytes);
        break;
    }
    case 2: {
        char path[PATH_MAX];
        if (kt_cgroup_v2_path(text, len, path) == KT_OK &&
            (path[0] != '/' || strstr(path, "/../") || strstr(path, "//")))
            __builtin_trap();
        break;
    }
    default: {
        bool found;
        char val[32];
        kt_cgroup_keyed(text, len, "sgx_epc", &found, val);
        break;
    }
    }
    return 0;
}
