/* Registration with kubelet: one thread per resource, so that a kubelet that hangs on
 * one Register call (5 s deadline) delays neither the other registrations nor the event
 * loop that turns device node changes into ListAndWatch updates. */
#include "plugin.h"
#include "api.pb-c.h"

#include <stdio.h>

#define DP_VERSION "v1beta1"

static void *register_one(void *arg)
{
    kt_resource *r = arg;
    kt_plugin *p = r->p;
    char target[PATH_MAX + 32];
    snprintf(target, sizeof target, "unix:%s/kubelet.sock", p->cfg.kubelet_dir);
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
    if (st)
        kt_log(KT_LOG_WARN, "dp.register_failed", "resource", r->name, "reason", kt_last_error(),
               NULL);
    else
        kt_log(KT_LOG_INFO, "dp.registered", "resource", r->name, "endpoint", r->endpoint, NULL);
    pthread_mutex_lock(&p->lock);
    r->registered = st == KT_OK;
    r->reg_running = false;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void kt_plugin_register_join(kt_resource *r)
{
    if (r->reg_started) pthread_join(r->reg_thread, NULL);
    r->reg_started = false;
}

void kt_plugin_register(kt_plugin *p)
{
    for (unsigned i = 0; i < p->nres; i++) {
        kt_resource *r = &p->res[i];
        pthread_mutex_lock(&p->lock);
        bool skip = r->registered || r->reg_running;
        pthread_mutex_unlock(&p->lock);
        if (skip) continue;
        kt_plugin_register_join(r); /* the last attempt ended */
        pthread_mutex_lock(&p->lock);
        r->reg_running = true;
        pthread_mutex_unlock(&p->lock);
        if (pthread_create(&r->reg_thread, NULL, register_one, r) != 0) {
            pthread_mutex_lock(&p->lock);
            r->reg_running = false;
            pthread_mutex_unlock(&p->lock);
            kt_log(KT_LOG_ERROR, "dp.register_failed", "resource", r->name, "reason", "no thread",
                   NULL);
            continue;
        }
        r->reg_started = true;
    }
}

bool kt_plugin_registered(kt_plugin *p)
{
    pthread_mutex_lock(&p->lock);
    bool all = true;
    for (unsigned i = 0; i < p->nres; i++)
        all &= p->res[i].registered;
    pthread_mutex_unlock(&p->lock);
    return all;
}
