/* The host's side of kt_quote_create on the sim platform: the simulated QE as untrusted
 * functions enclaves call. */
#include "internal.h"
#include "tff.pb-c.h"

#include <kubetee/tff.h>
#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static kt_sim_qe *qe;

static kt_status target_info(const Kubetee__Tff__Empty *req, Kubetee__Tff__Blob *res)
{
    (void)req;
    res->data.data = kt_call_alloc(512);
    res->data.len = 512;
    return res->data.data ? kt_sim_qe_target_info(qe, res->data.data) : KT_ERR_NO_MEMORY;
}

static kt_status quote(const Kubetee__Tff__Blob *req, Kubetee__Tff__Blob *res)
{
    if (req->data.len != 432)
        return kt_fail(KT_ERR_MALFORMED, "QE: a REPORT is 432 bytes, got %zu", req->data.len);
    kt_buf q = {0};
    kt_status st = kt_sim_qe_quote(qe, req->data.data, &q);
    if (!st) st = kt_call_bytes(&res->data, q.data, q.len);
    kt_buf_free(&q);
    return st;
}

static kt_status target_info_fn(const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    return target_info((const Kubetee__Tff__Empty *)rq, (Kubetee__Tff__Blob *)rs);
}

static kt_status quote_fn(const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    return quote((const Kubetee__Tff__Blob *)rq, (Kubetee__Tff__Blob *)rs);
}

kt_status kt_attest_serve_quotes(const char *sim_dir)
{
    static const kt_function fns[] = {
        {"kt.qe.TargetInfo", &kubetee__tff__empty__descriptor, &kubetee__tff__blob__descriptor,
         target_info_fn, sizeof(Kubetee__Tff__Empty), sizeof(Kubetee__Tff__Blob)},
        {"kt.qe.Quote", &kubetee__tff__blob__descriptor, &kubetee__tff__blob__descriptor, quote_fn,
         sizeof(Kubetee__Tff__Blob), sizeof(Kubetee__Tff__Blob)},
    };
    pthread_mutex_lock(&lock);
    kt_status st = KT_OK;
    if (!qe && !(st = kt_sim_qe_open(sim_dir, &qe)))
        for (size_t i = 0; i < 2 && !st; i++)
            st = kt_untrusted_register_runtime(&fns[i]);
    pthread_mutex_unlock(&lock);
    return st;
}
