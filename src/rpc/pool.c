/* A bounded pool of serving threads with a bounded queue, leader/followers style: every
 * thread not serving waits for the next arrival itself (wait(), the server's completion
 * queue) and, while fewer than `workers` are serving, serves what it got on the spot, so
 * no call is handed from one thread to another. With every worker serving, the one
 * thread more that the pool keeps (workers + 1 in all) is still waiting: what it gets
 * goes to the queue, or to full() at once when the queue is full too. A thread that ends
 * a call takes the oldest queued one first. At most workers run and queue wait; threads
 * start as work needs them and stay until the pool is freed. */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct kt_rpc_pool {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    kt_rpc_pool_fns fns;
    void **ring;
    unsigned cap, head, len; /* queue */
    unsigned workers, serving;
    unsigned max_threads, threads;
    pthread_t *tids;
    bool done; /* wait() said the source is shut down */
};

static void *thread_main(void *arg);

/* A thread more when every started one is serving (locked). */
static void grow(kt_rpc_pool *p)
{
    if (!p->done && p->threads < p->max_threads && p->serving >= p->threads &&
        pthread_create(&p->tids[p->threads], NULL, thread_main, p) == 0)
        p->threads++;
}

/* Serves item on this thread (locked on entry and return), then what was queued. */
static void serve(kt_rpc_pool *p, void *item)
{
    p->serving++;
    grow(p);
    do {
        pthread_mutex_unlock(&p->lock);
        p->fns.serve(item);
        pthread_mutex_lock(&p->lock);
        item = NULL;
        if (p->len) {
            item = p->ring[p->head];
            p->head = (p->head + 1) % p->cap;
            p->len--;
        }
    } while (item);
    p->serving--;
    if (!p->serving) pthread_cond_broadcast(&p->idle);
}

static void *thread_main(void *arg)
{
    kt_rpc_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->done) {
        pthread_mutex_unlock(&p->lock);
        void *item = p->fns.wait(p->fns.ctx);
        pthread_mutex_lock(&p->lock);
        if (item == KT_RPC_POOL_DONE) {
            p->done = true;
        } else if (!item) {
            continue;
        } else if (p->serving < p->workers) { /* then the queue is empty */
            serve(p, item);
        } else if (p->len < p->cap) {
            p->ring[(p->head + p->len) % p->cap] = item;
            p->len++;
        } else {
            pthread_mutex_unlock(&p->lock);
            p->fns.full(item);
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

kt_status kt_rpc_pool_new(unsigned workers, unsigned queue, const kt_rpc_pool_fns *fns,
                          kt_rpc_pool **out)
{
    kt_rpc_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->ring = calloc(queue ? queue : 1, sizeof *p->ring)) ||
        !(p->tids = calloc((size_t)workers + 1, sizeof *p->tids))) {
        if (p) free(p->ring);
        free(p);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->fns = *fns;
    p->cap = queue;
    p->workers = workers;
    p->max_threads = workers + 1;
    *out = p;
    return KT_OK;
}

kt_status kt_rpc_pool_start(kt_rpc_pool *p)
{
    pthread_mutex_lock(&p->lock);
    if (!p->threads && pthread_create(&p->tids[0], NULL, thread_main, p) == 0) p->threads = 1;
    bool ok = p->threads > 0;
    pthread_mutex_unlock(&p->lock);
    return ok ? KT_OK : kt_fail(KT_ERR_NO_MEMORY, "rpc server: no serving thread");
}

void kt_rpc_pool_counts(kt_rpc_pool *p, unsigned *busy, unsigned *queued, unsigned *threads)
{
    pthread_mutex_lock(&p->lock);
    if (busy) *busy = p->serving;
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
    /* queued calls are served before serving drops to 0 */
    while (p->serving && pthread_cond_timedwait(&p->idle, &p->lock, &until) == 0)
        ;
    bool idle = !p->serving && !p->len;
    pthread_mutex_unlock(&p->lock);
    return idle;
}

void kt_rpc_pool_join(kt_rpc_pool *p)
{
    if (!p) return;
    for (unsigned i = 0;; i++) {
        pthread_mutex_lock(&p->lock);
        bool more = i < p->threads;
        pthread_t t = more ? p->tids[i] : 0;
        pthread_mutex_unlock(&p->lock);
        if (!more) break;
        pthread_join(t, NULL);
    }
}

void kt_rpc_pool_free(kt_rpc_pool *p)
{
    if (!p) return;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->idle);
    free(p->ring);
    free(p->tids);
    free(p);
}
