/* A bounded pool of worker threads behind a bounded queue: at most threads + queue items
 * are running or waiting at once. Threads start as work needs them, up to the limit, and
 * stay until the pool is freed. */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct kt_rpc_pool {
    pthread_mutex_t lock;
    pthread_cond_t work, idle;
    void (*fn)(void *item);
    void **ring;
    unsigned cap, head, len; /* queue */
    unsigned max_threads, threads, busy;
    pthread_t *tids;
    bool closing;
};

static void *worker(void *arg)
{
    kt_rpc_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->len && !p->closing)
            pthread_cond_wait(&p->work, &p->lock);
        if (!p->len) break; /* closing and nothing left */
        void *item = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        p->busy++;
        pthread_mutex_unlock(&p->lock);
        p->fn(item);
        pthread_mutex_lock(&p->lock);
        p->busy--;
        if (!p->busy && !p->len) pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

kt_status kt_rpc_pool_new(unsigned threads, unsigned queue, void (*fn)(void *), kt_rpc_pool **out)
{
    kt_rpc_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->ring = calloc((size_t)queue + threads, sizeof *p->ring)) ||
        !(p->tids = calloc(threads, sizeof *p->tids))) {
        if (p) free(p->ring);
        free(p);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->fn = fn;
    p->cap = queue + threads; /* what idle threads are about to take, and the queue */
    p->max_threads = threads;
    *out = p;
    return KT_OK;
}

bool kt_rpc_pool_submit(kt_rpc_pool *p, void *item)
{
    pthread_mutex_lock(&p->lock);
    bool ok = !p->closing && p->len + p->busy < p->cap;
    if (ok) {
        p->ring[(p->head + p->len) % p->cap] = item;
        p->len++;
        /* a thread more when every one is busy with work already queued */
        if (p->threads < p->max_threads && p->busy + p->len > p->threads &&
            pthread_create(&p->tids[p->threads], NULL, worker, p) == 0)
            p->threads++;
        if (!p->threads) { /* not even one thread: refuse rather than hold the call */
            p->len--;
            ok = false;
        }
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->lock);
    return ok;
}

void kt_rpc_pool_counts(kt_rpc_pool *p, unsigned *busy, unsigned *queued, unsigned *threads)
{
    pthread_mutex_lock(&p->lock);
    if (busy) *busy = p->busy;
    if (queued) *queued = p->len;
    if (threads) *threads = p->threads;
    pthread_mutex_unlock(&p->lock);
}

bool kt_rpc_pool_wait_idle(kt_rpc_pool *p, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&p->lock);
    while ((p->busy || p->len) && pthread_cond_timedwait(&p->idle, &p->lock, &until) == 0)
        ;
    bool idle = !p->busy && !p->len;
    pthread_mutex_unlock(&p->lock);
    return idle;
}

void kt_rpc_pool_free(kt_rpc_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->closing = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->threads; i++)
        pthread_join(p->tids[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->idle);
    free(p->ring);
    free(p->tids);
    free(p);
}
