/* Every accepted connection's bytes go through a meter (meter.c) on their way to gRPC
 * core: this file defines recvmsg, sendmsg (what the server sent earns a reading client its
 * WINDOW_UPDATEs) and close for the process (as accept.c defines accept4),
 * keeps one meter per accepted fd, and fails the read with ECONNRESET once a connection
 * passed its budget, which makes gRPC close it; the bytes of that read never reach gRPC.
 * Only fds that accept4 returned are metered (libmicrohttpd's too, whose HTTP/1.1 bytes
 * turn their meters off), and close() ends a meter before the fd number can be reused.
 * The meters also count the connections open, for max_connections. */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef _Atomic(kt_rpc_meter *) slot;
static slot *_Atomic meters; /* by fd */
static atomic_size_t nmeters;
static atomic_uint header_block, resets, control; /* 0 until a server started */
static atomic_uint max_conns, open_conns;          /* accepted and not closed */
static atomic_ulong cut[KT_METER_N];
static atomic_long last_log;

static const char *const cut_names[KT_METER_N] = {
    [KT_METER_HEADER_BLOCK] = "header_block",
    [KT_METER_RESETS] = "resets",
    [KT_METER_CONTROL] = "control_frames",
};

static void max_into(atomic_uint *a, unsigned v)
{
    unsigned cur = atomic_load(a);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
        ;
}

void kt_rpc_conn_limits(const kt_rpc_limits *l)
{
    static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&once);
    if (!atomic_load(&meters)) {
        struct rlimit r;
        size_t n = getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < (1u << 20) ? r.rlim_cur
                                                                                 : (1u << 20);
        slot *t = calloc(n, sizeof *t); /* untouched pages cost nothing */
        if (t) {
            atomic_store(&nmeters, n);
            atomic_store(&meters, t);
        }
    }
    pthread_mutex_unlock(&once);
    uint64_t block = 4ull * l->max_metadata + (16u << 10);
    max_into(&header_block, block > UINT32_MAX ? UINT32_MAX : (unsigned)block);
    max_into(&resets, l->resets);
    max_into(&control, l->control_frames);
    max_into(&max_conns, l->max_connections);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static kt_rpc_meter_limits limits_now(void)
{
    return (kt_rpc_meter_limits){atomic_load(&header_block), atomic_load(&resets),
                                 atomic_load(&control)};
}

static void drop(int fd)
{
    slot *t = atomic_load(&meters);
    if (!t || fd < 0 || (size_t)fd >= atomic_load(&nmeters)) return;
    kt_rpc_meter *m = atomic_exchange(&t[fd], NULL);
    if (m) atomic_fetch_sub(&open_conns, 1);
    free(m);
}

bool kt_rpc_conn_opened(int fd)
{
    slot *t = atomic_load(&meters);
    if (!t || fd < 0 || (size_t)fd >= atomic_load(&nmeters)) return true;
    unsigned max = atomic_load(&max_conns);
    if (max && atomic_load(&open_conns) >= max) return false;
    kt_rpc_meter *m = malloc(sizeof *m);
    if (m) {
        kt_rpc_meter_limits l = limits_now();
        kt_rpc_meter_init(m, &l, now_ms());
        atomic_fetch_add(&open_conns, 1);
    }
    kt_rpc_meter *old = atomic_exchange(&t[fd], m);
    if (old) atomic_fetch_sub(&open_conns, 1); /* closed where close() did not see it */
    free(old);
    return true;
}

/* The C library's function of that name (the next definition after ours), looked up
 * once; NULL (errno ENOSYS) when there is none. */
static void *next_of(void *_Atomic *cache, const char *name)
{
    void *f = atomic_load(cache);
    if (!f && (f = dlsym(RTLD_NEXT, name))) atomic_store(cache, f);
    if (!f) errno = ENOSYS;
    return f;
}

/* One line a second at most while connections are being cut. */
static void note_cut(kt_rpc_meter_verdict why)
{
    unsigned long n = atomic_fetch_add(&cut[why], 1) + 1;
    long now = (long)time(NULL), last = atomic_load(&last_log);
    if (now == last || !atomic_compare_exchange_strong(&last_log, &last, now)) return;
    char count[24];
    snprintf(count, sizeof count, "%lu", n);
    kt_log(KT_LOG_WARN, "rpc.connection_cut", "reason", cut_names[why], "cut_for_reason", count,
           NULL);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    static void *_Atomic real;
    ssize_t (*f)(int, struct msghdr *, int) = next_of(&real, "recvmsg");
    if (!f) return -1;
    ssize_t got = f(fd, msg, flags);
    slot *t = atomic_load(&meters);
    if (got <= 0 || (flags & MSG_PEEK) || !t || fd < 0 || (size_t)fd >= atomic_load(&nmeters))
        return got;
    kt_rpc_meter *m = atomic_load(&t[fd]);
    if (!m) return got;
    if (m->verdict == KT_METER_OFF) return got;
    if (m->verdict) { /* cut already: gRPC reads again before it closes */
        errno = ECONNRESET;
        return -1;
    }
    kt_rpc_meter_limits l = limits_now();
    int64_t now = now_ms();
    kt_rpc_meter_verdict v = KT_METER_OK;
    size_t left = (size_t)got;
    for (size_t i = 0; i < msg->msg_iovlen && left && !v; i++) {
        size_t k = msg->msg_iov[i].iov_len < left ? msg->msg_iov[i].iov_len : left;
        v = kt_rpc_meter_feed(m, &l, (const uint8_t *)msg->msg_iov[i].iov_base, k, now);
        left -= k;
    }
    if (v <= KT_METER_OFF) return got;
    note_cut(v);
    errno = ECONNRESET;
    return -1;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    static void *_Atomic real;
    ssize_t (*f)(int, const struct msghdr *, int) = next_of(&real, "sendmsg");
    if (!f) return -1;
    ssize_t sent = f(fd, msg, flags);
    slot *t = atomic_load(&meters);
    if (sent > 0 && t && fd >= 0 && (size_t)fd < atomic_load(&nmeters)) {
        kt_rpc_meter *m = atomic_load(&t[fd]);
        if (m) {
            kt_rpc_meter_limits l = limits_now();
            kt_rpc_meter_sent(m, &l, (size_t)sent);
        }
    }
    return sent;
}

int close(int fd)
{
    drop(fd);
    return (int)syscall(SYS_close, fd);
}

void kt_rpc_conn_metrics(kt_buf *out)
{
    const char *help = "connections closed for what they sent: header_block (a header block "
                       "over the limit), resets (RST_STREAM), control_frames (PING, SETTINGS, "
                       "WINDOW_UPDATE, PRIORITY, empty DATA)";
    for (int r = KT_METER_HEADER_BLOCK; r < KT_METER_N; r++, help = NULL) {
        char label[48];
        snprintf(label, sizeof label, "reason=\"%s\"", cut_names[r]);
        kt_metric(out, "kubetee_rpc_connections_cut_total", help ? "counter" : NULL, help, label,
                  (double)atomic_load(&cut[r]));
    }
}
