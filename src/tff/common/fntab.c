/* Function tables. Appends take a lock and publish with a release store; lookups read
 * the published count with an acquire load and never lock, so calls don't contend. */
#include "runtime.h"

#include <string.h>

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

kt_status kt_fntab_add(kt_fntab *t, const kt_function *f)
{
    if (!t || !f || !f->name || !*f->name || !f->request || !f->response || !f->call == !f->raw)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "register: incomplete function");
    if (strlen(f->name) > 255)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "register: function name longer than 255");
    if (f->request->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC ||
        f->response->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "register %s: not protobuf-c message descriptors",
                       f->name);
    if (f->request->sizeof_message != f->request_size ||
        f->response->sizeof_message != f->response_size)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "register %s: C types do not match the message descriptors", f->name);
    pthread_mutex_lock(&t->lock);
    size_t n = atomic_load_explicit(&t->count, memory_order_relaxed);
    kt_status st = KT_OK;
    for (size_t i = 0; i < n && !st; i++)
        if (strcmp(t->entries[i].f->name, f->name) == 0)
            st = kt_fail(KT_ERR_EXISTS, "register: a function named '%s' already exists", f->name);
    if (!st && n == KT_FNTAB_MAX)
        st = kt_fail(KT_ERR_TOO_LARGE, "register: more than %d functions", KT_FNTAB_MAX);
    if (!st) {
        t->entries[n].f = f;
        t->entries[n].hash = fnv1a(f->name);
        atomic_store_explicit(&t->count, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&t->lock);
    return st;
}

const kt_function *kt_fntab_find(kt_fntab *t, const char *name)
{
    size_t n = atomic_load_explicit(&t->count, memory_order_acquire);
    uint32_t h = fnv1a(name);
    for (size_t i = 0; i < n; i++)
        if (t->entries[i].hash == h && strcmp(t->entries[i].f->name, name) == 0)
            return t->entries[i].f;
    return NULL;
}

size_t kt_fntab_count(kt_fntab *t)
{
    return atomic_load_explicit(&t->count, memory_order_acquire);
}

const kt_function *kt_fntab_at(kt_fntab *t, size_t i)
{
    return i < kt_fntab_count(t) ? t->entries[i].f : NULL;
}
