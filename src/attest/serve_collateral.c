/* The host's side of kt_collateral_for_quote: the untrusted function kt.attest.Collateral,
 * which answers an enclave's quote with the bundle of the collateral to verify it with,
 * from a directory or fetched from a PCCS. Nothing here is trusted by the enclave: it
 * judges the anchor by its own policy and verifies every signature itself. */
#include "internal.h"
#include "tff.pb-c.h"

#include <kubetee/tff.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *source, *root_pem, *cache_dir;
static bool registered;

static bool is_url(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

static kt_status collateral(const Kubetee__Tff__Blob *req, Kubetee__Tff__Blob *res)
{
    char dir[PATH_MAX];
    kt_buf b = {0};
    pthread_mutex_lock(&lock);
    kt_status st = KT_OK;
    if (!source)
        st = kt_fail(KT_ERR_STATE, "collateral: no source is served");
    else if (!is_url(source))
        snprintf(dir, sizeof dir, "%s", source);
    else
        st = kt_collateral_fetch(source, req->data.data, req->data.len, root_pem, cache_dir,
                                 time(NULL), dir, sizeof dir);
    if (!st) st = kt_collateral_bundle_dir(dir, root_pem, &b);
    pthread_mutex_unlock(&lock);
    if (!st) st = kt_call_bytes(&res->data, b.data, b.len);
    kt_buf_free(&b);
    return st;
}

static kt_status collateral_fn(const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    return collateral((const Kubetee__Tff__Blob *)rq, (Kubetee__Tff__Blob *)rs);
}

static kt_status host_time_fn(const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    (void)rq;
    uint64_t t = (uint64_t)time(NULL);
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(t >> (8 * i));
    return kt_call_bytes(&((Kubetee__Tff__Blob *)rs)->data, le, 8);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

kt_status kt_attest_serve_collateral(const char *src, const char *root, const char *cache)
{
    static const kt_function fns[] = {
        {"kt.attest.Collateral", &kubetee__tff__blob__descriptor, &kubetee__tff__blob__descriptor,
         collateral_fn, sizeof(Kubetee__Tff__Blob), sizeof(Kubetee__Tff__Blob)},
        {"kt.attest.Time", &kubetee__tff__empty__descriptor, &kubetee__tff__blob__descriptor,
         host_time_fn, sizeof(Kubetee__Tff__Empty), sizeof(Kubetee__Tff__Blob)},
    };
    if (!src) return kt_fail(KT_ERR_INVALID_ARGUMENT, "collateral: no source");
    if (is_url(src) && (!root || !cache))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "collateral: fetching from %s needs a root certificate and a cache "
                       "directory",
                       src);
    pthread_mutex_lock(&lock);
    kt_status st = KT_OK;
    for (size_t i = 0; !registered && !st && i < 2; i++)
        st = kt_untrusted_register_runtime(&fns[i]);
    if (!st) {
        registered = true;
        free(source), free(root_pem), free(cache_dir);
        source = strdup(src);
        root_pem = dup_or_null(root);
        cache_dir = dup_or_null(cache);
        if (!source || (root && !root_pem) || (cache && !cache_dir))
            st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    pthread_mutex_unlock(&lock);
    return st;
}
