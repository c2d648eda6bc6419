/* EPC limits through the misc cgroup controller's "sgx_epc" resource.
 *
 * The device plugin's Allocate annotates each EPC grant with KT_EPC_ANNOTATION (bytes);
 * the runtime copies a device plugin's annotations into the container's OCI config,
 * where a pod cannot put them (pod annotations reach the OCI config only when the
 * runtime is told to pass them). sgx-epc-limit-hook, an OCI createRuntime hook, reads
 * the container's state from stdin (OCI runtime spec, "State"), the annotation from
 * <bundle>/config.json and the container's cgroup v2 path from /proc/<pid>/cgroup, and
 * writes "sgx_epc <bytes>" to that cgroup's misc.max. The SGX_EPC_MIB environment
 * variable is never a source: a pod can set its own environment. */
#include "plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static json_t *load(const char *json, size_t n, const char *what)
{
    json_error_t err;
    json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        char esc[200];
        kt_fail(KT_ERR_MALFORMED, "%s: line %d: %s", what, err.line,
                kt_escape_text(err.text, strlen(err.text), esc, sizeof esc));
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        kt_fail(KT_ERR_MALFORMED, "%s: not a JSON object", what);
        return NULL;
    }
    return root;
}

kt_status kt_oci_state_parse(const char *json, size_t n, kt_oci_state *s)
{
    memset(s, 0, sizeof *s);
    json_t *root = load(json, n, "OCI state");
    if (!root) return KT_ERR_MALFORMED;
    kt_status st = KT_OK;
    json_t *id = json_object_get(root, "id"), *pid = json_object_get(root, "pid"),
           *bundle = json_object_get(root, "bundle");
    if (!json_is_string(id) || json_string_length(id) == 0 ||
        json_string_length(id) >= sizeof s->id)
        st = kt_fail(KT_ERR_MALFORMED, "OCI state: \"id\" must be a string of 1 to %zu bytes",
                     sizeof s->id - 1);
    else if (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
             json_integer_value(pid) > 4194304) /* PID_MAX_LIMIT */
        st = kt_fail(KT_ERR_MALFORMED, "OCI state: \"pid\" must be an integer 1..4194304");
    else if (!json_is_string(bundle) || json_string_value(bundle)[0] != '/' ||
             json_string_length(bundle) >= sizeof s->bundle - 16)
        st = kt_fail(KT_ERR_MALFORMED, "OCI state: \"bundle\" must be an absolute path");
    if (!st) {
        snprintf(s->id, sizeof s->id, "%s", json_string_value(id));
        s->pid = (long)json_integer_value(pid);
        snprintf(s->bundle, sizeof s->bundle, "%s", json_string_value(bundle));
    }
    json_decref(root);
    return st;
}

kt_status kt_oci_config_epc(const char *json, size_t n, bool *found, uint64_t *bytes)
{
    *found = false;
    *bytes = 0;
    json_t *root = load(json, n, "OCI config");
    if (!root) return KT_ERR_MALFORMED;
    kt_status st = KT_OK;
    json_t *ann = json_object_get(root, "annotations");
    json_t *v = json_is_object(ann) ? json_object_get(ann, KT_EPC_ANNOTATION) : NULL;
    if (ann && !json_is_object(ann))
        st = kt_fail(KT_ERR_MALFORMED, "OCI config: \"annotations\" is not an object");
    else if (v && !json_is_string(v))
        st = kt_fail(KT_ERR_MALFORMED, "OCI config: annotation %s is not a string",
                     KT_EPC_ANNOTATION);
    else if (v && kt_decimal_parse(json_string_value(v), UINT64_C(1) << 50, bytes))
        st = kt_fail(KT_ERR_MALFORMED, "OCI config: annotation %s: %s", KT_EPC_ANNOTATION,
                     kt_last_error());
    else
        *found = v != NULL;
    json_decref(root);
    return st;
}

kt_status kt_cgroup_v2_path(const char *text, size_t n, char out[PATH_MAX])
{
    out[0] = 0;
    bool seen = false;
    for (size_t at = 0; at < n;) {
        const char *line = text + at;
        const char *nl = memchr(line, '\n', n - at);
        size_t len = nl ? (size_t)(nl - line) : n - at;
        at += len + 1;
        if (len < 3 || memcmp(line, "0::", 3) != 0) continue; /* a cgroup v1 hierarchy */
        if (seen) return kt_fail(KT_ERR_MALFORMED, "cgroup: two cgroup v2 lines");
        seen = true;
        const char *p = line + 3;
        size_t pl = len - 3;
        if (pl == 0 || p[0] != '/' || pl >= PATH_MAX || memchr(p, 0, pl))
            return kt_fail(KT_ERR_MALFORMED, "cgroup: the v2 path is not absolute");
        /* no "." or ".." component, no empty one: the path stays under the cgroup root */
        for (size_t i = 1, start = 1; i <= pl; i++) {
            if (i < pl && p[i] != '/') continue;
            size_t c = i - start;
            if ((c == 0 && pl > 1) || (c == 1 && p[start] == '.') ||
                (c == 2 && p[start] == '.' && p[start + 1] == '.'))
                return kt_fail(KT_ERR_MALFORMED,
                               "cgroup: the v2 path has an empty, '.' or '..' part");
            start = i + 1;
        }
        memcpy(out, p, pl);
        out[pl] = 0;
    }
    if (!seen) return kt_fail(KT_ERR_NOT_FOUND, "cgroup: the process is in no cgroup v2 hierarchy");
    if (!strcmp(out, "/"))
        return kt_fail(KT_ERR_DENIED, "cgroup: the process is in the root cgroup");
    return KT_OK;
}

kt_status kt_cgroup_keyed(const char *text, size_t n, const char *key, bool *found, char val[32])
{
    *found = false;
    val[0] = 0;
    size_t kl = strlen(key);
    for (size_t at = 0; at < n;) {
        const char *line = text + at;
        const char *nl = memchr(line, '\n', n - at);
        size_t len = nl ? (size_t)(nl - line) : n - at;
        at += len + 1;
        if (len <= kl || memcmp(line, key, kl) != 0 || line[kl] != ' ') continue;
        if (*found) return kt_fail(KT_ERR_MALFORMED, "cgroup file: %s twice", key);
        size_t vl = len - kl - 1;
        if (vl == 0 || vl >= 32)
            return kt_fail(KT_ERR_MALFORMED, "cgroup file: %s has no value", key);
        memcpy(val, line + kl + 1, vl);
        val[vl] = 0;
        *found = true;
    }
    return KT_OK;
}

/* Reads dir/name (a cgroupfs or procfs file). */
static kt_status read_small(const char *dir, const char *rel, const char *name, kt_buf *b)
{
    char path[PATH_MAX * 2 + 32];
    snprintf(path, sizeof path, "%s%s/%s", dir, rel, name);
    return kt_file_read(path, 1 << 16, b);
}

/* A reason the limit cannot be set on this node: an error with --require, else logged. */
static kt_status unsupported(const kt_epc_hook_cfg *cfg, const kt_oci_state *s, const char *why)
{
    kt_log(cfg->require ? KT_LOG_ERROR : KT_LOG_WARN, "epc_limit.unsupported", "container", s->id,
           "reason", why, "enforced", "no", NULL);
    return cfg->require ? kt_fail(KT_ERR_UNSUPPORTED, "%s", why) : KT_OK;
}

static kt_status apply(const kt_epc_hook_cfg *cfg, const kt_oci_state *s, uint64_t bytes)
{
    kt_buf b = {0};
    char pid[24], cgroup[PATH_MAX], val[32];
    bool found;
    /* the kernel's support first: misc.capacity at the root lists sgx_epc */
    kt_status st = read_small(cfg->cgroup_root, "", "misc.capacity", &b);
    if (st == KT_ERR_NOT_FOUND) {
        kt_buf_free(&b);
        return unsupported(cfg, s, "no misc.capacity: no cgroup v2 misc controller on this node");
    }
    if (!st) st = kt_cgroup_keyed((const char *)b.data, b.len, "sgx_epc", &found, val);
    kt_buf_free(&b);
    if (st) return st;
    if (!found)
        return unsupported(cfg, s,
                           "misc.capacity has no sgx_epc: the kernel has no SGX EPC cgroup");
    uint64_t capacity;
    if (kt_decimal_parse(val, UINT64_MAX, &capacity))
        return kt_fail(KT_ERR_MALFORMED, "misc.capacity: sgx_epc '%s': %s", val, kt_last_error());
    if (bytes > capacity)
        return kt_fail(KT_ERR_DENIED,
                       "a grant of %llu bytes is over the node's sgx_epc capacity of %llu",
                       (unsigned long long)bytes, (unsigned long long)capacity);
    snprintf(pid, sizeof pid, "/%ld", s->pid);
    st = read_small(cfg->proc_root, pid, "cgroup", &b);
    if (!st) st = kt_cgroup_v2_path((const char *)b.data, b.len, cgroup);
    kt_buf_free(&b);
    if (st) return st;
    char path[PATH_MAX * 2 + 32];
    snprintf(path, sizeof path, "%s%s/misc.max", cfg->cgroup_root, cgroup);
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC); /* never created: the kernel's file */
    if (fd < 0 && errno == ENOENT)
        return unsupported(cfg, s,
                           "the container's cgroup has no misc.max: misc is not in its "
                           "parent's cgroup.subtree_control");
    if (fd < 0) return kt_fail(KT_ERR_IO, "%s: %s", path, strerror(errno));
    char line[48];
    int n = snprintf(line, sizeof line, "sgx_epc %llu\n", (unsigned long long)bytes);
    ssize_t w = write(fd, line, (size_t)n);
    int werr = errno;
    close(fd);
    if (w != n) return kt_fail(KT_ERR_IO, "%s: %s", path, w < 0 ? strerror(werr) : "short write");
    /* read back: what the kernel now holds is the limit */
    snprintf(path, sizeof path, "%s%s", cfg->cgroup_root, cgroup);
    st = read_small(path, "", "misc.max", &b);
    if (!st) st = kt_cgroup_keyed((const char *)b.data, b.len, "sgx_epc", &found, val);
    kt_buf_free(&b);
    if (st) return st;
    char want[24];
    snprintf(want, sizeof want, "%llu", (unsigned long long)bytes);
    if (!found || strcmp(val, want))
        return kt_fail(KT_ERR_IO, "%s/misc.max: sgx_epc reads back as '%s', not %s", path,
                       found ? val : "(absent)", want);
    kt_log(KT_LOG_INFO, "epc_limit.set", "container", s->id, "cgroup", cgroup, "sgx_epc_bytes",
           want, NULL);
    return KT_OK;
}

kt_status kt_epc_hook_run(const kt_epc_hook_cfg *cfg, const char *state, size_t n)
{
    kt_oci_state s;
    kt_status st = kt_oci_state_parse(state, n, &s);
    if (st) return st;
    kt_buf b = {0};
    st = read_small(s.bundle, "", "config.json", &b);
    if (st == KT_ERR_TOO_LARGE) { /* configs with large environments: read more */
        kt_buf_free(&b);
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/config.json", s.bundle);
        st = kt_file_read(path, 4 << 20, &b);
    }
    bool found = false;
    uint64_t bytes = 0;
    if (!st) st = kt_oci_config_epc((const char *)b.data, b.len, &found, &bytes);
    kt_buf_free(&b);
    if (st) return st;
    if (!found) {
        kt_log(KT_LOG_DEBUG, "epc_limit.no_grant", "container", s.id, NULL);
        return KT_OK; /* no EPC resource: nothing of ours to limit */
    }
    return apply(cfg, &s, bytes);
}
