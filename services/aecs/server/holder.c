/* aecs-server as its store's one holder (docs/operations.md "One AECS host per store"):
 * the words that name it in the lock (host, pid, start, listen address), and what it does
 * when the lock is lost or past its deadline: not ready, no request served nor answered
 * from then on, and the main loop woken to stop. */
#include "aecs_server.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static char words[512];
static int lost_fd = -1;
static atomic_bool lost;

/* From the store's thread that saw it (the keepalive, or a fenced write). */
static void on_lost(void *ctx, const char *why)
{
    (void)ctx, (void)why; /* the store logged why (store.etcd.lock_lost) */
    atomic_store(&lost, true);
    uint64_t one = 1;
    ssize_t n = write(lost_fd, &one, sizeof one); /* an eventfd's counter takes it */
    if (n != (ssize_t)sizeof one) kt_log(KT_LOG_ERROR, "aecs.store_lock_wake_failed", NULL);
}

/* Only what the lock takes: printable ASCII, no spaces inside a value. */
static void clean(char *s)
{
    for (; *s; s++)
        if (*s <= 0x20 || *s >= 0x7f) *s = '?';
}

kt_status aecs_holder_options(const aecs_config *c, kt_store_options *o)
{
    if (lost_fd < 0 && (lost_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return kt_fail(KT_ERR_IO, "the store lock's eventfd");
    char host[256] = "", listen[256], started[32];
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "?");
    host[sizeof host - 1] = '\0';
    clean(host);
    snprintf(listen, sizeof listen, "%s", c->listen);
    clean(listen);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(words, sizeof words, "aecs-server host=%.200s pid=%ld started=%s listen=%.200s", host,
             (long)getpid(), started, listen);
    o->holder = words;
    o->lock_ttl_ms = c->store_lock_ttl * 1000;
    o->lock_lost = on_lost;
    o->lock_ctx = NULL;
    return KT_OK;
}

int aecs_holder_fd(void)
{
    return lost_fd;
}

bool aecs_holder_lost(void)
{
    return atomic_load(&lost);
}

bool aecs_holder_holds(kt_store *store)
{
    kt_store_lock_info i = {0};
    kt_store_lock_state(store, &i); /* etcd: checks the lock's deadline by the clock (lost then) */
    return !i.lost && !aecs_holder_lost();
}

/* ---- the gRPC methods behind the lock ---- */

typedef struct {
    kt_rpc_method inner;
    kt_store *store;
} gated;
static gated gates[KT_SERVICE_METHODS];

static kt_status not_held(void)
{
    return kt_fail(KT_ERR_UNAVAILABLE, "aecs-server no longer holds its store (its lock's lease "
                                       "ended or was lost): another host may serve it; it stops");
}

static kt_status gate_unary(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    gated *g = ctx;
    if (!aecs_holder_holds(g->store)) return not_held();
    kt_status st = g->inner.unary(g->inner.ctx, rq, rs);
    return st || aecs_holder_holds(g->store) ? st : not_held(); /* no answer past the lease */
}

static kt_status gate_raw(void *ctx, const uint8_t *rq, size_t n, kt_rpc_reply *reply)
{
    gated *g = ctx;
    if (!aecs_holder_holds(g->store)) return not_held();
    kt_status st = g->inner.raw(g->inner.ctx, rq, n, reply);
    return st || aecs_holder_holds(g->store) ? st : not_held(); /* the server frees the reply */
}

size_t aecs_holder_gate(kt_store *store, kt_rpc_method *m, size_t n)
{
    for (size_t i = 0; i < n && i < KT_SERVICE_METHODS; i++) {
        gates[i] = (gated){m[i], store};
        m[i].ctx = &gates[i];
        if (m[i].unary) m[i].unary = gate_unary;
        if (m[i].raw) m[i].raw = gate_raw;
    }
    return n;
}

void aecs_holder_metrics(kt_store *store, kt_buf *out)
{
    kt_store_lock_info i;
    kt_store_lock_state(store, &i);
    kt_buf_printf(
        out,
        "# HELP kubetee_aecs_store_lock_held 1 while this host holds its store (etcd: its "
        "lease-bound "
        "lock key), 0 once lost\n# TYPE kubetee_aecs_store_lock_held gauge\n"
        "kubetee_aecs_store_lock_held %d\n"
        "# HELP kubetee_aecs_store_lock_lost 1 once the store's lock was lost (the server stops)\n"
        "# TYPE kubetee_aecs_store_lock_lost gauge\nkubetee_aecs_store_lock_lost %d\n"
        "# HELP kubetee_aecs_store_lock_ttl_seconds the lock's lease TTL as etcd granted it (0: "
        "fs)\n"
        "# TYPE kubetee_aecs_store_lock_ttl_seconds gauge\nkubetee_aecs_store_lock_ttl_seconds %u\n"
        "# HELP kubetee_aecs_store_lock_renewals_total lease renewals etcd confirmed\n"
        "# TYPE kubetee_aecs_store_lock_renewals_total "
        "counter\nkubetee_aecs_store_lock_renewals_total %llu\n"
        "# HELP kubetee_aecs_store_lock_renew_failures_total lease renewals that failed\n"
        "# TYPE kubetee_aecs_store_lock_renew_failures_total counter\n"
        "kubetee_aecs_store_lock_renew_failures_total %llu\n",
        i.held && !aecs_holder_lost(), i.lost || aecs_holder_lost(), i.ttl_ms / 1000,
        (unsigned long long)i.renewals, (unsigned long long)i.renew_failures);
}
