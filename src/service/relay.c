/* The host's side of a client enclave's calls (kt_service_relay_serve): the untrusted
 * function kt.service.Relay carries each step the enclave's client sends to the service
 * it names, over gRPC, and hands back what came. One channel per target, kept. */
#include <kubetee/service.h>
#include <kubetee/tff.h>
#include "client.h"
#include "enclave_service.pb-c.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TARGETS 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *target;
    kt_service_link *link;
} links[MAX_TARGETS];
static size_t n_links;
static kt_rpc_tls relay_tls;
static bool use_tls, serving;

static kt_status link_for(const char *target, kt_service_link **out)
{
    kt_status st = KT_OK;
    pthread_mutex_lock(&lock);
    size_t i = 0;
    while (i < n_links && strcmp(links[i].target, target)) i++;
    if (i == n_links) {
        if (n_links == MAX_TARGETS) {
            st = kt_fail(KT_ERR_TOO_LARGE, "service relay: more than %d targets", MAX_TARGETS);
        } else if (!(links[i].target = strdup(target))) {
            st = kt_fail(KT_ERR_NO_MEMORY, "service relay: out of memory");
        } else if ((st = kt_service_link_open(target, use_tls ? &relay_tls : NULL, &links[i].link))) {
            free(links[i].target);
        } else {
            n_links++;
        }
    }
    if (!st) *out = links[i].link;
    pthread_mutex_unlock(&lock);
    return st;
}

static kt_status relay(const Kubetee__Enclave__V1__RelayRequest *rq, Kubetee__Enclave__V1__RelayResponse *rs)
{
    kt_service_step step = KT_SERVICE_HANDSHAKE;
    while (step <= KT_SERVICE_CLOSE && strcmp(kt_service_step_name(step), rq->step)) step++;
    if (step > KT_SERVICE_CLOSE) {
        char e[64];
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "service relay: no step \"%s\"", kt_escape(rq->step, strlen(rq->step), e, sizeof e));
    }
    kt_service_link *l;
    kt_status st = link_for(rq->target, &l);
    kt_buf back = {0};
    if (!st) st = kt_service_link_send(l, step, rq->message.data, rq->message.len, (int)rq->timeout_ms, &back);
    if (!st && back.len) st = kt_call_bytes(&rs->message, back.data, back.len);
    kt_buf_free(&back);
    return st;
}

static kt_status relay_fn(const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    return relay((const Kubetee__Enclave__V1__RelayRequest *)rq, (Kubetee__Enclave__V1__RelayResponse *)rs);
}

kt_status kt_service_relay_serve(const kt_rpc_tls *tls)
{
    static const kt_function fn = {"kt.service.Relay", &kubetee__enclave__v1__relay_request__descriptor,
                                   &kubetee__enclave__v1__relay_response__descriptor, relay_fn,
                                   sizeof(Kubetee__Enclave__V1__RelayRequest),
                                   sizeof(Kubetee__Enclave__V1__RelayResponse)};
    pthread_mutex_lock(&lock);
    kt_status st = KT_OK;
    if (!serving) {
        if (tls) relay_tls = *tls, use_tls = true;
        if (!(st = kt_untrusted_register_runtime(&fn))) serving = true;
    }
    pthread_mutex_unlock(&lock);
    return st;
}
