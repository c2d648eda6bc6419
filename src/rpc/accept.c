/* Connections within the file-descriptor budget, and a listener that survives a burst.
 *
 * gRPC core 1.51 stops listening for good when accept4 fails with anything but EAGAIN or
 * ECONNABORTED (grpc/grpc#20418): one burst past RLIMIT_NOFILE (EMFILE) leaves a server
 * that accepts nothing while it looks alive. gRPC offers no hook at accept time (a socket
 * mutator that refuses kills the listener the same way), so this file defines accept4
 * for the process: it calls the C library's, closes at once a connection whose fd is
 * within the headroom of the soft limit (Linux hands out the lowest free fd, so the fd's
 * number says how many are open), and turns EMFILE/ENFILE into EAGAIN after taking the
 * waiting connection off the queue with a reserved fd. Every accept4 in the process
 * (libmicrohttpd's too) keeps this budget.
 *
 * An error passed on to gRPC that it does not retry marks the listener dead, which
 * kt_rpc_server_listening (and so /readyz) reports: from the errno itself, never from
 * gRPC's log lines, which quote what clients sent. gRPC's log lines go to kt_log. */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grpc/support/log.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);

static atomic_int fd_cap = INT_MAX; /* accepted fds numbered at or above this are closed */
static atomic_ulong refused_cap, refused_exhausted, refused_max;
/* listeners gRPC gave up on: a TCP port each, or any Unix socket (port 0) */
#define DEAD_MAX 16
static atomic_int dead_ports[DEAD_MAX];
static atomic_bool dead_unix;
static atomic_int rpc_ports[DEAD_MAX]; /* the rpc servers' TCP ports */
static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static int reserve_fd = -1;
static atomic_long last_log;

static int libc_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    static _Atomic(accept4_fn) real;
    accept4_fn f = atomic_load(&real);
    if (!f) {
        f = (accept4_fn)dlsym(RTLD_NEXT, "accept4");
        if (!f) return (int)syscall(SYS_accept4, fd, addr, len, flags);
        atomic_store(&real, f);
    }
    return f(fd, addr, len, flags);
}

/* One line a second at most while connections are being refused. */
static void note_refusal(const char *why)
{
    long now = (long)time(NULL);
    long last = atomic_load(&last_log);
    if (now == last || !atomic_compare_exchange_strong(&last_log, &last, now)) return;
    char cap[16], a[24], b[24], c[24];
    snprintf(cap, sizeof cap, "%d", atomic_load(&fd_cap));
    snprintf(a, sizeof a, "%lu", atomic_load(&refused_cap));
    snprintf(b, sizeof b, "%lu", atomic_load(&refused_exhausted));
    snprintf(c, sizeof c, "%lu", atomic_load(&refused_max));
    kt_log(KT_LOG_WARN, "rpc.connection_refused", "reason", why, "fd_cap", cap, "refused_fd_cap", a,
           "refused_fd_exhausted", b,
           "refused_max_connections", c, NULL);
}

/* The TCP port a listening socket is bound to, 0 for a Unix socket, -1 unknown (errno
 * kept). */
static int listener_port(int fd)
{
    int saved = errno, port = -1;
    struct sockaddr_storage a;
    socklen_t n = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &n) == 0) {
        if (a.ss_family == AF_INET) port = ntohs(((struct sockaddr_in *)&a)->sin_port);
        if (a.ss_family == AF_INET6) port = ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
        if (a.ss_family == AF_UNIX) port = 0;
    }
    errno = saved;
    return port;
}

/* Is fd one of the rpc servers' listeners (not the metrics server's)? */
static bool rpc_listener(int fd)
{
    int port = listener_port(fd);
    if (port == 0) return true;
    for (int i = 0; port > 0 && i < DEAD_MAX; i++)
        if (atomic_load(&rpc_ports[i]) == port) return true;
    return false;
}

/* The listener on fd is dead (errno kept). */
static void mark_dead(int fd)
{
    int port = listener_port(fd);
    if (port == 0) atomic_store(&dead_unix, true);
    for (int i = 0; port > 0 && i < DEAD_MAX; i++) {
        int expect = 0;
        if (atomic_load(&dead_ports[i]) == port ||
            atomic_compare_exchange_strong(&dead_ports[i], &expect, port))
            break;
    }
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    for (;;) {
        int c = libc_accept4(fd, addr, len, flags);
        if (c >= 0) {
            if (c < atomic_load(&fd_cap)) {
                /* past max_connections only the rpc listeners refuse: /healthz stays */
                if (kt_rpc_conn_opened(c) || !rpc_listener(fd)) return c;
                close(c);
                atomic_fetch_add(&refused_max, 1);
                note_refusal("max_connections");
                continue;
            }
            close(c);
            atomic_fetch_add(&refused_cap, 1);
            note_refusal("fd_cap");
            continue; /* the next one, until the queue is empty */
        }
        if (errno != EMFILE && errno != ENFILE) {
            /* gRPC core stops listening on any error but these (tcp_server_posix.cc) */
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED && errno != EINTR)
                mark_dead(fd);
            return -1;
        }
        pthread_mutex_lock(&reserve_lock);
        c = -1;
        if (reserve_fd >= 0) {
            close(reserve_fd);
            c = libc_accept4(fd, addr, len, flags);
            if (c >= 0) close(c);
            reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        pthread_mutex_unlock(&reserve_lock);
        atomic_fetch_add(&refused_exhausted, 1);
        note_refusal("fd_exhausted");
        if (c >= 0) continue;
        errno = EAGAIN;
        return -1;
    }
}

static void grpc_log_line(gpr_log_func_args *a)
{
    const char *base = strrchr(a->file, '/');
    base = base ? base + 1 : a->file;
    kt_log_level level = a->severity == GPR_LOG_SEVERITY_ERROR  ? KT_LOG_ERROR
                         : a->severity == GPR_LOG_SEVERITY_INFO ? KT_LOG_INFO
                                                                : KT_LOG_DEBUG;
    /* its lines quote what clients sent (header values, handshake errors): a budget */
    static kt_rpc_log_budget budget;
    char where[32], n[16];
    if (!kt_rpc_log_allowed(&budget, n)) return;
    snprintf(where, sizeof where, "%s:%d", base, a->line);
    kt_log(level, "grpc.log", "at", where, "message", a->message, "not_logged_before", n, NULL);
}

static void once(void)
{
    gpr_set_log_function(grpc_log_line);
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        rlim_t want = r.rlim_max > (1u << 20) ? (1u << 20) : r.rlim_max;
        if (want > r.rlim_cur) {
            r.rlim_cur = want;
            setrlimit(RLIMIT_NOFILE, &r);
        }
    }
    pthread_mutex_lock(&reserve_lock);
    reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_unlock(&reserve_lock);
}

void kt_rpc_accept_serving(int port)
{
    for (int i = 0; port > 0 && i < DEAD_MAX; i++) {
        int expect = 0;
        if (atomic_load(&rpc_ports[i]) == port ||
            atomic_compare_exchange_strong(&rpc_ports[i], &expect, port))
            break;
    }
}

int kt_rpc_accept_guard(unsigned headroom)
{
    static pthread_once_t done = PTHREAD_ONCE_INIT;
    pthread_once(&done, once);
    struct rlimit r;
    long soft =
        getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < INT_MAX ? (long)r.rlim_cur : INT_MAX;
    long cap = soft - (long)headroom;
    if (cap < soft / 2) cap = soft / 2; /* a small limit still takes some connections */
    int want = (int)cap, cur = atomic_load(&fd_cap);
    while (want < cur && !atomic_compare_exchange_weak(&fd_cap, &cur, want))
        ;
    return atomic_load(&fd_cap);
}

bool kt_rpc_accept_failed(int port)
{
    if (port <= 0) return atomic_load(&dead_unix);
    for (int i = 0; i < DEAD_MAX; i++)
        if (atomic_load(&dead_ports[i]) == port) return true;
    return false;
}

void kt_rpc_accept_metrics(kt_buf *out)
{
    kt_metric(out, "kubetee_rpc_connections_refused_total", "counter",
              "connections closed at accept: fd_cap (within the fd headroom), fd_exhausted "
              "(the process was out of fds), max_connections (that many open)",
              "reason=\"fd_cap\"", (double)atomic_load(&refused_cap));
    kt_metric(out, "kubetee_rpc_connections_refused_total", NULL, NULL, "reason=\"fd_exhausted\"",
              (double)atomic_load(&refused_exhausted));
    kt_metric(out, "kubetee_rpc_connections_refused_total", NULL, NULL,
              "reason=\"max_connections\"", (double)atomic_load(&refused_max));
    kt_metric(out, "kubetee_rpc_connection_fd_cap", "gauge",
              "accepted connections get fds below this", NULL, (double)atomic_load(&fd_cap));
}
