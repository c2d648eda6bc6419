/* The three resources and the DevicePlugin service for each.
 *
 *   <epc resource>        one device per unit of EPC (--epc-unit-mib, 1 MiB as
 *                         AliyunContainerService's plugin, or the smallest power of two
 *                         that keeps a ListAndWatch response under KT_DP_LIST_BUDGET)
 *   <enclave resource>    enclave_limit devices: the enclave node
 *   <provision resource>  provision_limit devices: the provision node, only to containers
 *                         that ask for it
 *   <aesm resource>       aesm_limit devices: the AESM socket directory, read-only, and
 *                         SGX_AESM_ADDR=1 (only with --aesm-socket-dir)
 * A container gets only the nodes its resources grant and SGX_VISIBLE_DEVICES (and
 * SGX_EPC_MIB) in its environment; the AESM socket only with the AESM resource, which the
 * admission webhook adds for pods that ask (sgx.intel.com/quote-provider: aesmd). Device
 * IDs are parsed exactly; unknown and repeated IDs are refused. */
#include "plugin.h"
#include "api.pb-c.h"
#include <kubetee/svc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *kind_name[] = {"epc", "enclave", "provision", "aesm"};

static unsigned epc_unit(kt_plugin *p)
{
    uint64_t mib = p->caps.epc_bytes >> 20;
    unsigned unit = p->cfg.epc_unit_mib ? p->cfg.epc_unit_mib : kt_dp_epc_unit_auto(mib);
    uint64_t n = mib / unit;
    if (n > UINT32_MAX) n = UINT32_MAX;
    size_t bytes = kt_dp_list_bytes("epc", (unsigned)n);
    char u[16], m[24], d[16], b[24];
    snprintf(u, sizeof u, "%u", unit);
    snprintf(m, sizeof m, "%llu", (unsigned long long)mib);
    snprintf(d, sizeof d, "%llu", (unsigned long long)n);
    snprintf(b, sizeof b, "%zu", bytes);
    kt_log(bytes > KT_DP_KUBELET_MAX_MESSAGE ? KT_LOG_ERROR : KT_LOG_INFO, "dp.epc_unit",
           "unit_mib", u, "chosen", p->cfg.epc_unit_mib ? "flag" : "auto", "epc_mib", m, "devices",
           d, "list_bytes", b, /* a NULL key ends the list: the problem only when there is one */
           bytes > KT_DP_KUBELET_MAX_MESSAGE ? "problem" : NULL,
           "over kubelet's 4 MiB receive limit: raise --epc-unit-mib or leave it unset", NULL);
    return unit;
}

void kt_plugin_plan(kt_plugin *p)
{
    p->nres = 0;
    if (!p->caps.usable) return;
    unsigned unit = p->cfg.epc_resource[0] ? epc_unit(p) : 1;
    uint64_t epc_devices = (p->caps.epc_bytes >> 20) / unit;
    struct {
        kt_res_kind kind;
        const char *name;
        unsigned count;
    } want[] = {
        {KT_RES_EPC, p->cfg.epc_resource,
         (unsigned)(epc_devices > UINT32_MAX ? UINT32_MAX : epc_devices)},
        {KT_RES_ENCLAVE, p->cfg.enclave_resource, p->cfg.enclave_limit},
        {KT_RES_PROVISION, p->cfg.provision_resource, p->cfg.provision_limit},
        {KT_RES_AESM, p->cfg.aesm_resource, p->cfg.aesm_dir[0] ? p->cfg.aesm_limit : 0},
    };
    for (size_t i = 0; i < KT_RES_N; i++) {
        if (!want[i].name[0] || want[i].count == 0)
            continue; /* an empty name turns a resource off */
        kt_resource *r = &p->res[p->nres++];
        memset(r, 0, sizeof *r);
        r->p = p;
        r->kind = want[i].kind;
        r->count = want[i].count;
        r->unit_mib = want[i].kind == KT_RES_EPC ? unit : 1;
        snprintf(r->name, sizeof r->name, "%s", want[i].name);
        snprintf(r->endpoint, sizeof r->endpoint, "kubetee-sgx-%s.sock", kind_name[want[i].kind]);
    }
}

/* Device IDs: "<kind>-<n>", n in decimal digits only, no leading zero. Returns n, or -1
 * when id is not one of r's. */
static long device_index(const kt_resource *r, const char *id)
{
    size_t k = strlen(kind_name[r->kind]);
    if (strncmp(id, kind_name[r->kind], k) != 0 || id[k] != '-') return -1;
    uint64_t n;
    if (!r->count || kt_decimal_parse(id + k + 1, r->count - 1, &n)) return -1;
    return (long)n;
}

/* One bit per device: which IDs a request named already. */
typedef struct {
    uint8_t *bits;
} idset;

static kt_status idset_new(const kt_resource *r, idset *s)
{
    s->bits = kt_call_alloc(((size_t)r->count + 7) / 8 + 1);
    if (!s->bits) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    memset(s->bits, 0, ((size_t)r->count + 7) / 8 + 1);
    return KT_OK;
}

/* Index of id, marked in s; fails naming it when unknown or already named. */
static kt_status idset_add(const kt_resource *r, idset *s, const char *id, long *out)
{
    long n = device_index(r, id);
    char esc[80];
    if (n < 0)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "unknown device ID '%s' for %s",
                       kt_escape(id, strlen(id), esc, sizeof esc), r->name);
    if (s->bits[n / 8] & (1u << (n % 8)))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "device ID '%s' repeated for %s",
                       kt_escape(id, strlen(id), esc, sizeof esc), r->name);
    s->bits[n / 8] |= (uint8_t)(1u << (n % 8));
    if (out) *out = n;
    return KT_OK;
}

static bool healthy(const kt_resource *r)
{
    const kt_sgx_nodes *n = &r->p->nodes;
    if (r->kind == KT_RES_AESM) return r->p->aesm_present;
    return r->kind == KT_RES_PROVISION ? n->provision[0] != 0 : n->enclave[0] != 0;
}

static kt_status options(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    (void)ctx, (void)rq;
    V1beta1__DevicePluginOptions *o = (V1beta1__DevicePluginOptions *)rs;
    o->pre_start_required = false;
    o->get_preferred_allocation_available = true;
    return KT_OK;
}

static kt_status list_and_watch(void *ctx, const ProtobufCMessage *rq, kt_rpc_stream *out)
{
    (void)rq;
    kt_resource *r = ctx;
    kt_plugin *p = r->p;
    uint64_t seen = UINT64_MAX;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (seen == p->generation && !p->stopping) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            t.tv_nsec += 200 * 1000000L;
            if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&p->changed, &p->lock, &t);
            if (seen == p->generation && !p->stopping) {
                pthread_mutex_unlock(&p->lock);
                if (kt_rpc_stream_wait_closed(out, 0)) return KT_OK;
                pthread_mutex_lock(&p->lock);
            }
        }
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            return KT_OK;
        }
        seen = p->generation;
        const char *health = healthy(r) ? "Healthy" : "Unhealthy";
        pthread_mutex_unlock(&p->lock);

        V1beta1__ListAndWatchResponse res = V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;
        V1beta1__Device *devs = calloc(r->count, sizeof *devs);
        V1beta1__Device **ptrs = calloc(r->count, sizeof *ptrs);
        char(*ids)[32] = calloc(r->count, 32);
        if (!devs || !ptrs || !ids) {
            free(devs), free(ptrs), free(ids);
            return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        }
        for (unsigned i = 0; i < r->count; i++) {
            v1beta1__device__init(&devs[i]);
            snprintf(ids[i], 32, "%s-%u", kind_name[r->kind], i);
            devs[i].id = ids[i];
            devs[i].health = (char *)health;
            ptrs[i] = &devs[i];
        }
        res.n_devices = r->count;
        res.devices = ptrs;
        size_t bytes = protobuf_c_message_get_packed_size(&res.base);
        if (bytes > KT_DP_KUBELET_MAX_MESSAGE) {
            free(devs), free(ptrs), free(ids);
            char b[24];
            snprintf(b, sizeof b, "%zu", bytes);
            pthread_mutex_lock(&p->lock);
            r->list_failed = true; /* not ready until a restart plans a list that fits */
            r->list_failures++;
            pthread_mutex_unlock(&p->lock);
            kt_log(KT_LOG_ERROR, "dp.list_too_large", "resource", r->name, "bytes", b, "limit",
                   "4194304", "fix", "raise --epc-unit-mib or leave it unset", NULL);
            return kt_fail(KT_ERR_TOO_LARGE,
                           "%s: ListAndWatch response of %zu bytes over kubelet's limit of %u",
                           r->name, bytes, KT_DP_KUBELET_MAX_MESSAGE);
        }
        kt_status st = kt_rpc_stream_send(out, &res);
        free(devs), free(ptrs), free(ids);
        if (st) return KT_OK; /* kubelet went away */
        char b[24];
        snprintf(b, sizeof b, "%zu", bytes);
        kt_log(KT_LOG_INFO, "dp.list_sent", "resource", r->name, "health", health, "bytes", b,
               NULL);
    }
}

kt_status kt_dp_preferred(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    kt_resource *r = ctx;
    const V1beta1__PreferredAllocationRequest *req =
        (const V1beta1__PreferredAllocationRequest *)rq;
    V1beta1__PreferredAllocationResponse *res = (V1beta1__PreferredAllocationResponse *)rs;
    size_t n = req->n_container_requests;
    res->container_responses = kt_call_alloc(n * sizeof *res->container_responses);
    if (n && !res->container_responses) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t c = 0; c < n; c++) {
        const V1beta1__ContainerPreferredAllocationRequest *cr = req->container_requests[c];
        if (cr->allocation_size < 0 || (size_t)cr->allocation_size > cr->n_available_deviceids)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "allocation size %d with %zu devices available",
                           cr->allocation_size, cr->n_available_deviceids);
        size_t want = (size_t)cr->allocation_size;
        V1beta1__ContainerPreferredAllocationResponse *out = kt_call_alloc(sizeof *out);
        char **ids = kt_call_alloc(want * sizeof *ids + 1);
        /* by index: the available IDs, then the ones already chosen */
        char **by_index = kt_call_alloc((size_t)r->count * sizeof *by_index + 1);
        idset avail, must;
        kt_status st = out && ids && by_index ? KT_OK : kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        if (!st) st = idset_new(r, &avail);
        if (!st) st = idset_new(r, &must);
        if (st) return st;
        memset(by_index, 0, (size_t)r->count * sizeof *by_index);
        v1beta1__container_preferred_allocation_response__init(out);
        for (size_t i = 0; i < cr->n_available_deviceids; i++) {
            long x;
            if ((st = idset_add(r, &avail, cr->available_deviceids[i], &x))) return st;
            by_index[x] = cr->available_deviceids[i];
        }
        size_t k = 0;
        for (size_t i = 0; i < cr->n_must_include_deviceids; i++) {
            long x;
            if ((st = idset_add(r, &must, cr->must_include_deviceids[i], &x))) return st;
            if (k < want) ids[k++] = cr->must_include_deviceids[i];
            by_index[x] = NULL;
        }
        /* then the lowest-numbered available devices, so allocations pack together */
        for (unsigned x = 0; k < want && x < r->count; x++)
            if (by_index[x]) ids[k++] = by_index[x];
        out->n_deviceids = k;
        out->deviceids = ids;
        res->container_responses[c] = out;
    }
    res->n_container_responses = n;
    return KT_OK;
}

static kt_status add_device(V1beta1__ContainerAllocateResponse *out, const char *root,
                            const char *host)
{
    if (!host[0]) return KT_OK;
    V1beta1__DeviceSpec *d = kt_call_alloc(sizeof *d);
    V1beta1__DeviceSpec **arr = kt_call_alloc((out->n_devices + 1) * sizeof *arr);
    if (!d || !arr) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    v1beta1__device_spec__init(d);
    d->host_path = (char *)host;
    size_t rl = strlen(root);
    char *c = kt_call_alloc(strlen(host) + 8);
    if (!c) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    sprintf(c, "/dev%s", host + rl); /* the node's path under /dev in the container */
    d->container_path = c;
    d->permissions = "rw";
    if (out->n_devices) memcpy(arr, out->devices, out->n_devices * sizeof *arr);
    arr[out->n_devices++] = d;
    out->devices = arr;
    return KT_OK;
}

/* envs and annotations are both map<string, string>: their entries have one layout */
typedef V1beta1__ContainerAllocateResponse__EnvsEntry map_entry;

static kt_status add_entry(size_t *n, map_entry ***entries, const ProtobufCMessageDescriptor *d,
                           const char *k, const char *v)
{
    map_entry *e = kt_call_alloc(d->sizeof_message);
    map_entry **arr = kt_call_alloc((*n + 1) * sizeof *arr);
    if (!e || !arr) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    protobuf_c_message_init(d, e);
    e->key = (char *)k;
    e->value = kt_call_strdup(v);
    if (*n) memcpy(arr, *entries, *n * sizeof *arr);
    arr[(*n)++] = e;
    *entries = arr;
    return e->value ? KT_OK : kt_fail(KT_ERR_NO_MEMORY, "out of memory");
}

static kt_status add_env(V1beta1__ContainerAllocateResponse *out, const char *k, const char *v)
{
    return add_entry(&out->n_envs, &out->envs,
                     &v1beta1__container_allocate_response__envs_entry__descriptor, k, v);
}

/* Annotations reach the container's OCI config (the runtime passes a device plugin's),
 * which is where sgx-epc-limit-hook reads the grant. */
static kt_status add_annotation(V1beta1__ContainerAllocateResponse *out, const char *k,
                                const char *v)
{
    _Static_assert(sizeof(V1beta1__ContainerAllocateResponse__AnnotationsEntry) ==
                       sizeof(map_entry),
                   "map entries differ");
    return add_entry(&out->n_annotations, (map_entry ***)&out->annotations,
                     &v1beta1__container_allocate_response__annotations_entry__descriptor, k, v);
}

/* The device nodes an EPC, enclave or provision grant brings. */
static kt_status grant_nodes(V1beta1__ContainerAllocateResponse *out, const kt_resource *r,
                             const kt_sgx_nodes *nodes, const V1beta1__ContainerAllocateRequest *cr)
{
    bool prov = r->kind == KT_RES_PROVISION;
    const char *node = prov ? nodes->provision : nodes->enclave;
    if (!node[0])
        return kt_fail(KT_ERR_UNAVAILABLE, "%s: the %s device node is gone", r->name,
                       prov ? "provision" : "enclave");
    const char *root = r->p->cfg.device_root;
    kt_status st = add_device(out, root, node);
    if (!st) st = add_device(out, root, prov ? nodes->provision_alt : nodes->enclave_alt);
    char visible[PATH_MAX * 2] = "";
    for (size_t i = 0; !st && i < out->n_devices; i++)
        snprintf(visible + strlen(visible), sizeof visible - strlen(visible), "%s%s", i ? "," : "",
                 out->devices[i]->container_path);
    if (!st) st = add_env(out, "SGX_VISIBLE_DEVICES", visible); /* envs[0], logged */
    if (!st && r->kind == KT_RES_EPC) {
        unsigned long long mib = (unsigned long long)cr->n_devices_ids * r->unit_mib;
        char v[32];
        snprintf(v, sizeof v, "%llu", mib);
        st = add_env(out, "SGX_EPC_MIB", v); /* for the application: not a limit */
        snprintf(v, sizeof v, "%llu", mib << 20);
        if (!st) st = add_annotation(out, KT_EPC_ANNOTATION, v); /* sgx-epc-limit-hook's */
    }
    return st;
}

/* The AESM socket directory, read-only, where Intel's libraries look for it. */
static kt_status grant_aesm(V1beta1__ContainerAllocateResponse *out, kt_plugin *p)
{
    pthread_mutex_lock(&p->lock);
    bool present = p->aesm_present;
    pthread_mutex_unlock(&p->lock);
    if (!present)
        return kt_fail(KT_ERR_UNAVAILABLE, "the AESM socket %s/aesm.socket is not there",
                       p->cfg.aesm_dir);
    V1beta1__Mount *m = kt_call_alloc(sizeof *m);
    out->mounts = kt_call_alloc(sizeof *out->mounts);
    if (!m || !out->mounts) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    v1beta1__mount__init(m);
    m->container_path = "/var/run/aesmd";
    m->host_path = p->cfg.aesm_dir;
    m->read_only = true;
    out->mounts[0] = m;
    out->n_mounts = 1;
    return add_env(out, "SGX_AESM_ADDR", "1");
}

kt_status kt_dp_allocate(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    kt_resource *r = ctx;
    kt_plugin *p = r->p;
    const V1beta1__AllocateRequest *req = (const V1beta1__AllocateRequest *)rq;
    V1beta1__AllocateResponse *res = (V1beta1__AllocateResponse *)rs;
    size_t n = req->n_container_requests;
    res->container_responses = kt_call_alloc(n * sizeof *res->container_responses + 1);
    if (!res->container_responses) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_lock(&p->lock);
    kt_sgx_nodes nodes = p->nodes;
    pthread_mutex_unlock(&p->lock);
    idset named; /* one device goes to one container, once */
    kt_status st0 = idset_new(r, &named);
    if (st0) return st0;
    for (size_t c = 0; c < n; c++) {
        const V1beta1__ContainerAllocateRequest *cr = req->container_requests[c];
        for (size_t i = 0; i < cr->n_devices_ids; i++)
            if ((st0 = idset_add(r, &named, cr->devices_ids[i], NULL))) {
                char why[256];
                snprintf(why, sizeof why, "%s", kt_last_error());
                pthread_mutex_lock(&p->lock);
                r->refusals++;
                pthread_mutex_unlock(&p->lock);
                kt_log(KT_LOG_WARN, "dp.allocate_refused", "resource", r->name, "reason", why,
                       NULL);
                return kt_fail(KT_ERR_INVALID_ARGUMENT, "%s", why);
            }
        V1beta1__ContainerAllocateResponse *out = kt_call_alloc(sizeof *out);
        if (!out) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        v1beta1__container_allocate_response__init(out);
        kt_status st =
            r->kind == KT_RES_AESM ? grant_aesm(out, p) : grant_nodes(out, r, &nodes, cr);
        if (st) return st;
        res->container_responses[c] = out;
        pthread_mutex_lock(&p->lock);
        r->allocations++;
        pthread_mutex_unlock(&p->lock);
        char count[16];
        snprintf(count, sizeof count, "%zu", cr->n_devices_ids);
        kt_log(KT_LOG_INFO, "dp.allocated", "resource", r->name, "devices", count, "nodes",
               r->kind == KT_RES_AESM ? "(none)" : out->envs[0]->value, NULL);
    }
    res->n_container_responses = n;
    return KT_OK;
}

static kt_status pre_start(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    (void)ctx, (void)rq, (void)rs;
    return KT_OK;
}

kt_status kt_plugin_serve(kt_plugin *p)
{
    for (unsigned i = 0; i < p->nres; i++) {
        kt_resource *r = &p->res[i];
        kt_rpc_method m[] = {
            {"/v1beta1.DevicePlugin/GetDevicePluginOptions", &v1beta1__empty__descriptor,
             &v1beta1__device_plugin_options__descriptor, options, NULL, r},
            {"/v1beta1.DevicePlugin/ListAndWatch", &v1beta1__empty__descriptor,
             &v1beta1__list_and_watch_response__descriptor, NULL, list_and_watch, r},
            {"/v1beta1.DevicePlugin/GetPreferredAllocation",
             &v1beta1__preferred_allocation_request__descriptor,
             &v1beta1__preferred_allocation_response__descriptor, kt_dp_preferred, NULL, r},
            {"/v1beta1.DevicePlugin/Allocate", &v1beta1__allocate_request__descriptor,
             &v1beta1__allocate_response__descriptor, kt_dp_allocate, NULL, r},
            {"/v1beta1.DevicePlugin/PreStartContainer",
             &v1beta1__pre_start_container_request__descriptor,
             &v1beta1__pre_start_container_response__descriptor, pre_start, NULL, r},
        };
        char sock[PATH_MAX + 80], addr[PATH_MAX + 90];
        snprintf(sock, sizeof sock, "%s/%s", p->cfg.kubelet_dir, r->endpoint);
        unlink(sock);
        snprintf(addr, sizeof addr, "unix:%s", sock);
        kt_rpc_server *server;
        kt_status st = kt_rpc_server_new(addr, NULL, &p->cfg.rpc_limits, m, 5, &server);
        if (!st && (st = kt_rpc_server_start(server, NULL))) kt_rpc_server_free(server);
        if (st) {
            kt_log(KT_LOG_ERROR, "dp.serve_failed", "resource", r->name, "reason", kt_last_error(),
                   NULL);
            return st;
        }
        pthread_mutex_lock(&p->lock); /* metrics and readiness read r->server under it */
        r->server = server;
        r->registered = false;
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_lock(&p->lock);
    p->served = true;
    pthread_mutex_unlock(&p->lock);
    return KT_OK;
}

void kt_plugin_stop_serving(kt_plugin *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = true; /* ends ListAndWatch streams */
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nres; i++) {
        kt_resource *r = &p->res[i];
        kt_plugin_register_join(r); /* at most its 5 s deadline */
        pthread_mutex_lock(&p->lock);
        kt_rpc_server *server = r->server;
        r->server = NULL;
        pthread_mutex_unlock(&p->lock);
        if (!server) continue;
        kt_rpc_server_shutdown(server, 2000);
        kt_rpc_server_free(server);
        char sock[PATH_MAX + 80];
        snprintf(sock, sizeof sock, "%s/%s", p->cfg.kubelet_dir, r->endpoint);
        unlink(sock);
    }
    pthread_mutex_lock(&p->lock);
    p->stopping = false;
    p->served = false;
    pthread_mutex_unlock(&p->lock);
}

void kt_plugin_rescan_nodes(kt_plugin *p)
{
    kt_sgx_nodes now;
    kt_sgx_nodes_scan(p->cfg.device_root, &now);
    bool aesm = false;
    if (p->cfg.aesm_dir[0]) {
        char sock[PATH_MAX + 16];
        struct stat sb;
        snprintf(sock, sizeof sock, "%s/aesm.socket", p->cfg.aesm_dir);
        aesm = stat(sock, &sb) == 0 && !S_ISDIR(sb.st_mode);
    }
    pthread_mutex_lock(&p->lock);
    bool aesm_changed = aesm != p->aesm_present;
    bool changed = !kt_sgx_nodes_equal(&now, &p->nodes) || aesm_changed;
    if (changed) {
        p->nodes = now;
        p->aesm_present = aesm;
        p->generation++;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    if (aesm_changed)
        kt_log(aesm ? KT_LOG_INFO : KT_LOG_WARN, "dp.aesm_changed", "socket",
               aesm ? "present" : "absent", "dir", p->cfg.aesm_dir, NULL);
    if (changed)
        kt_log(KT_LOG_INFO, "dp.nodes_changed", "enclave",
               now.enclave[0] ? now.enclave : "(absent)", "provision",
               now.provision[0] ? now.provision : "(absent)", NULL);
}

kt_status kt_plugin_write_nfd(const kt_plugin *p)
{
    if (!p->cfg.nfd_file[0]) return KT_OK;
    char text[768];
    const kt_sgx_caps *c = &p->caps;
    unsigned unit = 0;
    for (unsigned i = 0; i < p->nres; i++)
        if (p->res[i].kind == KT_RES_EPC) unit = p->res[i].unit_mib;
    /* labels first; after "# +no-label" raw features only (NFD's local source), read by
     * the NodeFeatureRule that makes sgx.intel.com/epc a node extended resource */
    int n = snprintf(text, sizeof text,
                     "kubetee.io/sgx=%s\nkubetee.io/sgx.flc=%s\nkubetee.io/sgx.sgx1=%s\n"
                     "kubetee.io/sgx.sgx2=%s\nkubetee.io/sgx.epc-mib=%llu\n"
                     "kubetee.io/sgx.epc-unit-mib=%u\n# +no-label\nkubetee.io/sgx.epc-bytes=%llu\n",
                     c->usable ? "true" : "false", c->flc ? "true" : "false",
                     c->sgx1 ? "true" : "false", c->sgx2 ? "true" : "false",
                     (unsigned long long)(c->epc_bytes >> 20), unit,
                     (unsigned long long)(c->usable ? c->epc_bytes : 0));
    kt_status st = kt_file_write_atomic(p->cfg.nfd_file, text, (size_t)n, 0644);
    if (st)
        kt_log(KT_LOG_ERROR, "dp.nfd_write_failed", "path", p->cfg.nfd_file, "reason",
               kt_last_error(), NULL);
    return st;
}

static const char *path_option[KT_PATH_N] = {"kubelet-dir", "device-root", "nfd-features-file",
                                             "cpuid-file", "aesm-socket-dir"};

void kt_plugin_check_paths(kt_plugin *p)
{
    for (int i = 0; i < KT_PATH_N; i++) {
        char path[PATH_MAX];
        bool want_dir = i != KT_PATH_CPUID;
        const char *cfg = i == KT_PATH_KUBELET_DIR   ? p->cfg.kubelet_dir
                          : i == KT_PATH_DEVICE_ROOT ? p->cfg.device_root
                          : i == KT_PATH_NFD_DIR     ? p->cfg.nfd_file
                          : i == KT_PATH_AESM_DIR    ? p->cfg.aesm_dir
                                                     : p->cfg.cpuid_file;
        if (!cfg[0]) continue;
        snprintf(path, sizeof path, "%s", cfg);
        if (i == KT_PATH_NFD_DIR) { /* the directory it is written in */
            char *slash = strrchr(path, '/');
            if (!slash) continue;
            slash == path ? (void)(slash[1] = 0) : (void)(*slash = 0);
        }
        struct stat sb;
        bool missing =
            stat(path, &sb) != 0 || (want_dir ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode));
        pthread_mutex_lock(&p->lock);
        bool was = p->path_missing[i];
        p->path_missing[i] = missing;
        if (missing && !was) p->path_missing_total[i]++;
        pthread_mutex_unlock(&p->lock);
        if (missing && !was)
            kt_log(KT_LOG_ERROR, "dp.path_missing", "option", path_option[i], "path", path, "want",
                   want_dir ? "directory" : "file", NULL);
        else if (!missing && was)
            kt_log(KT_LOG_INFO, "dp.path_found", "option", path_option[i], "path", path, NULL);
    }
}

bool kt_plugin_ready(void *plugin)
{
    kt_plugin *p = plugin;
    pthread_mutex_lock(&p->lock);
    bool ready = p->served || p->nres == 0;
    for (unsigned i = 0; i < p->nres; i++)
        ready &= p->res[i].registered && kt_rpc_server_listening(p->res[i].server) &&
                 !p->res[i].list_failed;
    pthread_mutex_unlock(&p->lock);
    return ready;
}

/* One family: HELP and TYPE once, then a sample per resource. */
static void per_resource(kt_buf *out, const kt_plugin *p, const char *name, const char *type,
                         const char *help, double (*value)(const kt_resource *))
{
    for (unsigned i = 0; i < p->nres; i++) {
        char labels[160];
        snprintf(labels, sizeof labels, "resource=\"%s\"", p->res[i].name);
        kt_metric(out, name, type, i ? NULL : help, labels, value(&p->res[i]));
    }
}

static double m_registered(const kt_resource *r)
{
    return r->registered;
}
static double m_healthy(const kt_resource *r)
{
    return healthy(r) ? r->count : 0;
}
static double m_devices(const kt_resource *r)
{
    return r->count;
}
static double m_unit(const kt_resource *r)
{
    return r->unit_mib;
}
static double m_allocations(const kt_resource *r)
{
    return (double)r->allocations;
}
static double m_refusals(const kt_resource *r)
{
    return (double)r->refusals;
}
static double m_list_failures(const kt_resource *r)
{
    return (double)r->list_failures;
}

void kt_plugin_metrics(void *plugin, kt_buf *out)
{
    kt_plugin *p = plugin;
    pthread_mutex_lock(&p->lock);
    kt_metric(out, "kubetee_sgx_usable", "gauge", "1 when the node has usable SGX", NULL,
              p->caps.usable);
    kt_metric(out, "kubetee_sgx_epc_bytes", "gauge", "EPC size from CPUID", NULL,
              (double)p->caps.epc_bytes);
    kt_rpc_server *servers[KT_RES_N];
    size_t nservers = 0;
    for (unsigned i = 0; i < p->nres; i++)
        if (p->res[i].server) servers[nservers++] = p->res[i].server;
    per_resource(out, p, "kubetee_sgx_dp_registered", "gauge",
                 "1 when kubelet accepted the resource", m_registered);
    per_resource(out, p, "kubetee_sgx_dp_devices", "gauge", "devices advertised", m_devices);
    per_resource(out, p, "kubetee_sgx_dp_devices_healthy", "gauge", "devices advertised Healthy",
                 m_healthy);
    per_resource(out, p, "kubetee_sgx_dp_device_unit_mib", "gauge",
                 "MiB of EPC per device (1 for the node resources)", m_unit);
    per_resource(out, p, "kubetee_sgx_dp_allocations_total", "counter", "containers given devices",
                 m_allocations);
    per_resource(out, p, "kubetee_sgx_dp_refusals_total", "counter",
                 "allocations refused (unknown or repeated IDs)", m_refusals);
    per_resource(out, p, "kubetee_sgx_dp_list_failures_total", "counter",
                 "ListAndWatch responses that could not be sent (over kubelet's limit)",
                 m_list_failures);
    for (int i = 0; i < KT_PATH_N; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "option=\"%s\"", path_option[i]);
        kt_metric(out, "kubetee_sgx_dp_path_absent", "gauge",
                  i ? NULL : "1 while a configured path is missing", labels, p->path_missing[i]);
    }
    for (int i = 0; i < KT_PATH_N; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "option=\"%s\"", path_option[i]);
        kt_metric(out, "kubetee_sgx_dp_path_missing_total", "counter",
                  i ? NULL : "times a configured path was found missing", labels,
                  (double)p->path_missing_total[i]);
    }
    kt_rpc_server_metrics(servers, nservers, out);
    pthread_mutex_unlock(&p->lock);
}
