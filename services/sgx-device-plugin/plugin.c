/* The three resources and the DevicePlugin service for each.
 *
 *   <epc resource>        one device per MiB of EPC (as AliyunContainerService's plugin)
 *   <enclave resource>    enclave_limit devices: the enclave node
 *   <provision resource>  provision_limit devices: the provision node, only to containers
 *                         that ask for it
 * A container gets only the nodes its resources grant, the AESM socket directory
 * read-only when enabled and present, and SGX_VISIBLE_DEVICES (and SGX_EPC_MIB) in its
 * environment. Unknown device IDs are refused. */
#include "plugin.h"
#include "api.pb-c.h"
#include <kubetee/svc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DP_VERSION "v1beta1"

static const char *kind_name[] = {"epc", "enclave", "provision"};

void kt_plugin_plan(kt_plugin *p)
{
    p->nres = 0;
    if (!p->caps.usable) return;
    struct {
        kt_res_kind kind;
        const char *name;
        unsigned count;
    } want[] = {
        {KT_RES_EPC, p->cfg.epc_resource, (unsigned)(p->caps.epc_bytes >> 20)},
        {KT_RES_ENCLAVE, p->cfg.enclave_resource, p->cfg.enclave_limit},
        {KT_RES_PROVISION, p->cfg.provision_resource, p->cfg.provision_limit},
    };
    for (size_t i = 0; i < 3; i++) {
        if (!want[i].name[0] || want[i].count == 0)
            continue; /* an empty name turns a resource off */
        kt_resource *r = &p->res[p->nres++];
        memset(r, 0, sizeof *r);
        r->p = p;
        r->kind = want[i].kind;
        r->count = want[i].count;
        snprintf(r->name, sizeof r->name, "%s", want[i].name);
        snprintf(r->endpoint, sizeof r->endpoint, "kubetee-sgx-%s.sock", kind_name[want[i].kind]);
    }
}

/* Device IDs: "<kind>-<n>". Returns n, or -1 when id is not one of r's. */
static long device_index(const kt_resource *r, const char *id)
{
    size_t k = strlen(kind_name[r->kind]);
    if (strncmp(id, kind_name[r->kind], k) != 0 || id[k] != '-' || !id[k + 1]) return -1;
    char *end;
    long n = strtol(id + k + 1, &end, 10);
    if (*end || n < 0 || (unsigned long)n >= r->count || (id[k + 1] == '0' && id[k + 2])) return -1;
    return n;
}

static bool healthy(const kt_resource *r)
{
    const kt_sgx_nodes *n = &r->p->nodes;
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
        kt_status st = kt_rpc_stream_send(out, &res);
        free(devs), free(ptrs), free(ids);
        if (st) return KT_OK; /* kubelet went away */
        kt_log(KT_LOG_INFO, "dp.list_sent", "resource", r->name, "health", health, NULL);
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
        V1beta1__ContainerPreferredAllocationResponse *out = kt_call_alloc(sizeof *out);
        char **ids = kt_call_alloc((size_t)cr->allocation_size * sizeof *ids + 1);
        if (!out || !ids) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        v1beta1__container_preferred_allocation_response__init(out);
        size_t k = 0;
        for (size_t i = 0; i < cr->n_must_include_deviceids && k < (size_t)cr->allocation_size;
             i++) {
            if (device_index(r, cr->must_include_deviceids[i]) < 0)
                return kt_fail(KT_ERR_INVALID_ARGUMENT, "unknown device ID '%s' for %s",
                               cr->must_include_deviceids[i], r->name);
            ids[k++] = cr->must_include_deviceids[i];
        }
        /* then the lowest-numbered available devices, so allocations pack together */
        for (long want = 0; k < (size_t)cr->allocation_size && want < (long)r->count; want++)
            for (size_t i = 0; i < cr->n_available_deviceids; i++) {
                if (device_index(r, cr->available_deviceids[i]) != want) continue;
                bool taken = false;
                for (size_t j = 0; j < k; j++)
                    taken |= strcmp(ids[j], cr->available_deviceids[i]) == 0;
                if (!taken) ids[k++] = cr->available_deviceids[i];
                break;
            }
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

static kt_status add_env(V1beta1__ContainerAllocateResponse *out, const char *k, const char *v)
{
    V1beta1__ContainerAllocateResponse__EnvsEntry *e = kt_call_alloc(sizeof *e);
    V1beta1__ContainerAllocateResponse__EnvsEntry **arr =
        kt_call_alloc((out->n_envs + 1) * sizeof *arr);
    if (!e || !arr) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    v1beta1__container_allocate_response__envs_entry__init(e);
    e->key = (char *)k;
    e->value = kt_call_strdup(v);
    if (out->n_envs) memcpy(arr, out->envs, out->n_envs * sizeof *arr);
    arr[out->n_envs++] = e;
    out->envs = arr;
    return e->value ? KT_OK : kt_fail(KT_ERR_NO_MEMORY, "out of memory");
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
    for (size_t c = 0; c < n; c++) {
        const V1beta1__ContainerAllocateRequest *cr = req->container_requests[c];
        for (size_t i = 0; i < cr->n_devices_ids; i++)
            if (device_index(r, cr->devices_ids[i]) < 0) {
                pthread_mutex_lock(&p->lock);
                r->refusals++;
                pthread_mutex_unlock(&p->lock);
                kt_log(KT_LOG_WARN, "dp.allocate_refused", "resource", r->name, "device",
                       cr->devices_ids[i], NULL);
                return kt_fail(KT_ERR_INVALID_ARGUMENT, "unknown device ID '%s' for %s",
                               cr->devices_ids[i], r->name);
            }
        V1beta1__ContainerAllocateResponse *out = kt_call_alloc(sizeof *out);
        if (!out) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        v1beta1__container_allocate_response__init(out);
        bool prov = r->kind == KT_RES_PROVISION;
        const char *node = prov ? nodes.provision : nodes.enclave;
        if (!node[0])
            return kt_fail(KT_ERR_UNAVAILABLE, "%s: the %s device node is gone", r->name,
                           prov ? "provision" : "enclave");
        kt_status st = add_device(out, p->cfg.device_root, node);
        if (!st)
            st =
                add_device(out, p->cfg.device_root, prov ? nodes.provision_alt : nodes.enclave_alt);
        char visible[PATH_MAX * 2] = "";
        for (size_t i = 0; !st && i < out->n_devices; i++)
            snprintf(visible + strlen(visible), sizeof visible - strlen(visible), "%s%s",
                     i ? "," : "", out->devices[i]->container_path);
        if (!st) st = add_env(out, "SGX_VISIBLE_DEVICES", visible);
        if (!st && r->kind == KT_RES_EPC) {
            char mib[32];
            snprintf(mib, sizeof mib, "%zu", cr->n_devices_ids);
            st = add_env(out, "SGX_EPC_MIB", mib);
        }
        struct stat sb;
        if (!st && !prov && p->cfg.aesm_dir[0] && stat(p->cfg.aesm_dir, &sb) == 0 &&
            S_ISDIR(sb.st_mode)) {
            V1beta1__Mount *m = kt_call_alloc(sizeof *m);
            out->mounts = kt_call_alloc(sizeof *out->mounts);
            if (!m || !out->mounts) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
            v1beta1__mount__init(m);
            m->container_path = "/var/run/aesmd";
            m->host_path = p->cfg.aesm_dir;
            m->read_only = true;
            out->mounts[0] = m;
            out->n_mounts = 1;
        }
        if (st) return st;
        res->container_responses[c] = out;
        pthread_mutex_lock(&p->lock);
        r->allocations++;
        pthread_mutex_unlock(&p->lock);
        char count[16];
        snprintf(count, sizeof count, "%zu", cr->n_devices_ids);
        kt_log(KT_LOG_INFO, "dp.allocated", "resource", r->name, "devices", count, "nodes", visible,
               NULL);
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
    pthread_mutex_unlock(&p->lock);
}

bool kt_plugin_register(kt_plugin *p)
{
    bool all = true;
    char target[PATH_MAX + 32];
    snprintf(target, sizeof target, "unix:%s/kubelet.sock", p->cfg.kubelet_dir);
    for (unsigned i = 0; i < p->nres; i++) {
        kt_resource *r = &p->res[i];
        if (r->registered) continue;
        kt_rpc_client *c;
        V1beta1__RegisterRequest req = V1BETA1__REGISTER_REQUEST__INIT;
        V1beta1__DevicePluginOptions opts = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
        V1beta1__Empty res = V1BETA1__EMPTY__INIT;
        opts.get_preferred_allocation_available = true;
        req.version = DP_VERSION;
        req.endpoint = r->endpoint;
        req.resource_name = r->name;
        req.options = &opts;
        kt_status st = kt_rpc_client_new(target, NULL, &c);
        if (!st) {
            st = kt_rpc_call(c, "/v1beta1.Registration/Register", &req, &res, 5000);
            kt_rpc_client_free(c);
        }
        if (st) {
            all = false;
            kt_log(KT_LOG_WARN, "dp.register_failed", "resource", r->name, "reason",
                   kt_last_error(), NULL);
            continue;
        }
        pthread_mutex_lock(&p->lock);
        r->registered = true;
        pthread_mutex_unlock(&p->lock);
        kt_log(KT_LOG_INFO, "dp.registered", "resource", r->name, "endpoint", r->endpoint, NULL);
    }
    return all;
}

void kt_plugin_rescan_nodes(kt_plugin *p)
{
    kt_sgx_nodes now;
    kt_sgx_nodes_scan(p->cfg.device_root, &now);
    pthread_mutex_lock(&p->lock);
    bool changed = !kt_sgx_nodes_equal(&now, &p->nodes);
    if (changed) {
        p->nodes = now;
        p->generation++;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    if (changed)
        kt_log(KT_LOG_INFO, "dp.nodes_changed", "enclave",
               now.enclave[0] ? now.enclave : "(absent)", "provision",
               now.provision[0] ? now.provision : "(absent)", NULL);
}

kt_status kt_plugin_write_nfd(const kt_plugin *p)
{
    if (!p->cfg.nfd_file[0]) return KT_OK;
    char text[512];
    const kt_sgx_caps *c = &p->caps;
    int n = snprintf(text, sizeof text,
                     "kubetee.io/sgx=%s\nkubetee.io/sgx.flc=%s\nkubetee.io/sgx.sgx1=%s\n"
                     "kubetee.io/sgx.sgx2=%s\nkubetee.io/sgx.epc-mib=%llu\n",
                     c->usable ? "true" : "false", c->flc ? "true" : "false",
                     c->sgx1 ? "true" : "false", c->sgx2 ? "true" : "false",
                     (unsigned long long)(c->epc_bytes >> 20));
    return kt_file_write_atomic(p->cfg.nfd_file, text, (size_t)n, 0644);
}

bool kt_plugin_ready(void *plugin)
{
    kt_plugin *p = plugin;
    pthread_mutex_lock(&p->lock);
    bool ready = true;
    for (unsigned i = 0; i < p->nres; i++)
        ready &= p->res[i].registered && kt_rpc_server_listening(p->res[i].server);
    pthread_mutex_unlock(&p->lock);
    return ready;
}

void kt_plugin_metrics(void *plugin, kt_buf *out)
{
    kt_plugin *p = plugin;
    pthread_mutex_lock(&p->lock);
    kt_metric(out, "kubetee_sgx_usable", "gauge", "1 when the node has usable SGX", NULL,
              p->caps.usable);
    kt_metric(out, "kubetee_sgx_epc_bytes", "gauge", "EPC size from CPUID", NULL,
              (double)p->caps.epc_bytes);
    /* each family once, its samples together */
    char labels[3][160];
    kt_rpc_server *servers[3];
    size_t nservers = 0;
    for (unsigned i = 0; i < p->nres; i++) {
        snprintf(labels[i], sizeof labels[i], "resource=\"%s\"", p->res[i].name);
        if (p->res[i].server) servers[nservers++] = p->res[i].server;
    }
    for (unsigned i = 0; i < p->nres; i++)
        kt_metric(out, "kubetee_sgx_dp_registered", "gauge",
                  i ? NULL : "1 when kubelet accepted the resource", labels[i],
                  p->res[i].registered);
    for (unsigned i = 0; i < p->nres; i++)
        kt_metric(out, "kubetee_sgx_dp_devices_healthy", "gauge",
                  i ? NULL : "devices advertised Healthy", labels[i],
                  healthy(&p->res[i]) ? p->res[i].count : 0);
    for (unsigned i = 0; i < p->nres; i++)
        kt_metric(out, "kubetee_sgx_dp_allocations_total", "counter",
                  i ? NULL : "containers given devices", labels[i], (double)p->res[i].allocations);
    for (unsigned i = 0; i < p->nres; i++)
        kt_metric(out, "kubetee_sgx_dp_refusals_total", "counter",
                  i ? NULL : "allocations refused (unknown IDs)", labels[i],
                  (double)p->res[i].refusals);
    kt_rpc_server_metrics(servers, nservers, out);
    pthread_mutex_unlock(&p->lock);
}
