/* Every accepted connection's bytes go through a meter (meter.c) on their way to gRPC
 * core: this file defines recvmsg, sendmsg (what the server sent earns a reading client its
 * WINDOW_UPDATEs, and says which streams the server ended) and close for the process (as
 * accept.c defines accept4), keeps one meter per accepted fd, and fails the read with
 * ECONNRESET once a connection passed its budget, which makes gRPC close it; the bytes of
 * that read never reach gRPC. Only fds that accept4 returned are metered (libmicrohttpd's
 * too, whose HTTP/1.1 bytes turn their meters off), and close() ends a meter before the fd
 * number can be reused. The meters also count the connections open, for max_connections.
 *
 * A TLS connection's bytes on its fd are ciphertext (its fd meter turns itself off), so
 * the meter reads them where gRPC core has decrypted them: gRPC's TLS (tsi) calls
 * OpenSSL's SSL_read and SSL_write on the plaintext HTTP/2 bytes, and this file defines
 * those two for the process as well. A server-side SSL gets a meter of its own (held in
 * its ex_data, freed with it); once that is over budget SSL_read fails and SSL_get_error
 * (defined here too) says SSL_ERROR_SSL for it, which makes gRPC close the connection.
 * Client-side SSLs (this process's own clients, any library's) pass straight through. */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A metered connection: what it sent and what it was sent pass one at a time (gRPC reads
 * and writes a connection from different threads). */
typedef struct {
    pthread_mutex_t lock;
    kt_rpc_meter m;
    atomic_bool cut;
} conn;

typedef _Atomic(conn *) slot;
static slot *_Atomic meters; /* by fd */
static atomic_size_t nmeters;
static atomic_uint header_block, resets, control, streams, unfinished, max_message; /* 0 until a server started */
static _Atomic uint64_t unfinished_total;
static _Atomic uint64_t unfinished_now; /* bytes held by every connection's unfinished messages */
static atomic_uint max_conns, open_conns;          /* accepted and not closed */
static atomic_ulong cut[KT_METER_N];
static atomic_ulong framing[KT_FRAMING_N]; /* request messages framed wrongly, by how */
static atomic_long last_log;
static atomic_int ssl_index = -1; /* a server SSL's conn in its ex_data */

static const char *const cut_names[KT_METER_N] = {
    [KT_METER_HEADER_BLOCK] = "header_block",
    [KT_METER_RESETS] = "resets",
    [KT_METER_CONTROL] = "control_frames",
    [KT_METER_STREAMS] = "streams",
    [KT_METER_UNFINISHED] = "unfinished_bytes",
    [KT_METER_UNFINISHED_TOTAL] = "unfinished_total",
    [KT_METER_FRAMING] = "framing",
};

static void max_into(atomic_uint *a, unsigned v)
{
    unsigned cur = atomic_load(a);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
        ;
}

static void conn_free(conn *c)
{
    if (!c) return;
    kt_rpc_meter_release(&c->m);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void ssl_conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    conn_free(ptr);
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
    if (atomic_load(&ssl_index) < 0)
        atomic_store(&ssl_index, SSL_get_ex_new_index(0, NULL, NULL, NULL, ssl_conn_free));
    pthread_mutex_unlock(&once);
    uint64_t block = 4ull * l->max_metadata + (16u << 10);
    max_into(&header_block, block > UINT32_MAX ? UINT32_MAX : (unsigned)block);
    max_into(&resets, l->resets);
    max_into(&control, l->control_frames);
    max_into(&streams, l->streams);
    max_into(&unfinished, l->unfinished_bytes);
    max_into(&max_message, l->max_message);
    uint64_t total = (uint64_t)l->unfinished_mb << 20, cur = atomic_load(&unfinished_total);
    while (total > cur && !atomic_compare_exchange_weak(&unfinished_total, &cur, total))
        ;
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
                                 atomic_load(&control),      atomic_load(&streams),
                                 atomic_load(&unfinished),   atomic_load(&unfinished_total),
                                 atomic_load(&max_message)};
}

static conn *conn_new(void)
{
    conn *c = malloc(sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->lock, NULL);
    kt_rpc_meter_limits l = limits_now();
    kt_rpc_meter_init(&c->m, &l, now_ms(), &unfinished_now);
    atomic_init(&c->cut, false);
    return c;
}

static void drop(int fd)
{
    slot *t = atomic_load(&meters);
    if (!t || fd < 0 || (size_t)fd >= atomic_load(&nmeters)) return;
    conn *c = atomic_exchange(&t[fd], NULL);
    if (c) atomic_fetch_sub(&open_conns, 1);
    conn_free(c);
}

bool kt_rpc_conn_opened(int fd)
{
    slot *t = atomic_load(&meters);
    if (!t || fd < 0 || (size_t)fd >= atomic_load(&nmeters)) return true;
    unsigned max = atomic_load(&max_conns);
    if (max && atomic_load(&open_conns) >= max) return false;
    conn *c = conn_new();
    if (c) atomic_fetch_add(&open_conns, 1);
    conn *old = atomic_exchange(&t[fd], c);
    if (old) atomic_fetch_sub(&open_conns, 1); /* closed where close() did not see it */
    conn_free(old);
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

/* What the client sent (n bytes in iov, or in p when iov is NULL; the meter may mark a
 * request message in them): false once the connection is over budget (it is then cut for
 * good). */
static bool received(conn *c, const struct iovec *iov, size_t niov, void *p, size_t n)
{
    if (atomic_load(&c->cut)) return false;
    pthread_mutex_lock(&c->lock);
    kt_rpc_meter_limits l = limits_now();
    int64_t now = now_ms();
    kt_rpc_meter_verdict v = c->m.verdict;
    kt_rpc_meter_read(&c->m);
    if (!iov) v = kt_rpc_meter_feed(&c->m, &l, p, n, now);
    for (size_t i = 0; iov && i < niov && n && !v; i++) {
        size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;
        v = kt_rpc_meter_feed(&c->m, &l, (uint8_t *)iov[i].iov_base, k, now);
        n -= k;
    }
    for (int f = 1; f < KT_FRAMING_N; f++)
        if (c->m.framing[f]) atomic_fetch_add(&framing[f], c->m.framing[f]), c->m.framing[f] = 0;
    pthread_mutex_unlock(&c->lock);
    if (v <= KT_METER_OFF) return true;
    atomic_store(&c->cut, true);
    note_cut(v);
    return false;
}

/* What the server sent: the caller holds c->lock from before the bytes left (a client
 * answering them must find them counted). */
static void sent_locked(conn *c, const struct iovec *iov, size_t niov, const void *p, size_t n)
{
    kt_rpc_meter_limits l = limits_now();
    if (!iov) kt_rpc_meter_sent(&c->m, &l, p, n);
    for (size_t i = 0; iov && i < niov && n; i++) {
        size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;
        kt_rpc_meter_sent(&c->m, &l, (const uint8_t *)iov[i].iov_base, k);
        n -= k;
    }
}

static conn *conn_of_fd(int fd)
{
    slot *t = atomic_load(&meters);
    if (!t || fd < 0 || (size_t)fd >= atomic_load(&nmeters)) return NULL;
    conn *c = atomic_load(&t[fd]);
    return c && c->m.verdict != KT_METER_OFF ? c : NULL;
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    static void *_Atomic real;
    ssize_t (*f)(int, struct msghdr *, int) = next_of(&real, "recvmsg");
    if (!f) return -1;
    /* once cut, every read fails, whatever the socket holds: gRPC core passes on what an
     * earlier read of the same turn got and reads again before it looks at an error */
    conn *c = conn_of_fd(fd);
    if (c && atomic_load(&c->cut)) {
        errno = ECONNRESET;
        return -1;
    }
    ssize_t got = f(fd, msg, flags);
    if (got <= 0 || (flags & MSG_PEEK)) return got;
    if (!c || received(c, msg->msg_iov, msg->msg_iovlen, NULL, (size_t)got)) return got;
    shutdown(fd, SHUT_RDWR); /* and the socket says so too, should gRPC wait for it */
    errno = ECONNRESET;
    return -1;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    static void *_Atomic real;
    ssize_t (*f)(int, const struct msghdr *, int) = next_of(&real, "sendmsg");
    if (!f) return -1;
    conn *c = conn_of_fd(fd);
    if (!c) return f(fd, msg, flags);
    /* held across the send: the client's answer to what is sent (a new stream once one
     * ended) is read only after these bytes are counted */
    pthread_mutex_lock(&c->lock);
    ssize_t n = f(fd, msg, flags);
    int saved = errno;
    if (n > 0) sent_locked(c, msg->msg_iov, msg->msg_iovlen, NULL, (size_t)n);
    pthread_mutex_unlock(&c->lock);
    errno = saved;
    return n;
}

int close(int fd)
{
    drop(fd);
    return (int)syscall(SYS_close, fd);
}

/* A server-side SSL's conn, made at its first use once an rpc server started. */
static conn *conn_of_ssl(const SSL *ssl)
{
    int idx = atomic_load(&ssl_index);
    if (idx < 0 || !ssl || !SSL_is_server(ssl)) return NULL;
    conn *c = SSL_get_ex_data(ssl, idx);
    if (c) return c;
    static pthread_mutex_t making = PTHREAD_MUTEX_INITIALIZER; /* a read and a write at once */
    pthread_mutex_lock(&making);
    if (!(c = SSL_get_ex_data(ssl, idx)) && (c = conn_new()) && !SSL_set_ex_data((SSL *)ssl, idx, c)) {
        conn_free(c);
        c = NULL;
    }
    pthread_mutex_unlock(&making);
    return c;
}

int SSL_read(SSL *ssl, void *buf, int num)
{
    static void *_Atomic real;
    int (*f)(SSL *, void *, int) = next_of(&real, "SSL_read");
    if (!f) return -1;
    conn *c = conn_of_ssl(ssl);
    if (c && atomic_load(&c->cut)) return -1;
    int got = f(ssl, buf, num);
    if (got <= 0 || !c || c->m.verdict == KT_METER_OFF) return got;
    return received(c, NULL, 0, buf, (size_t)got) ? got : -1;
}

int SSL_write(SSL *ssl, const void *buf, int num)
{
    static void *_Atomic real;
    int (*f)(SSL *, const void *, int) = next_of(&real, "SSL_write");
    if (!f) return -1;
    conn *c = conn_of_ssl(ssl);
    if (!c) return f(ssl, buf, num);
    /* counted before the ciphertext leaves (gRPC sends it after this returns) */
    pthread_mutex_lock(&c->lock);
    int n = f(ssl, buf, num);
    if (n > 0 && c->m.verdict != KT_METER_OFF) sent_locked(c, NULL, 0, buf, (size_t)n);
    pthread_mutex_unlock(&c->lock);
    return n;
}

int SSL_get_error(const SSL *ssl, int ret)
{
    static void *_Atomic real;
    int (*f)(const SSL *, int) = next_of(&real, "SSL_get_error");
    if (!f) return SSL_ERROR_SYSCALL;
    int idx = atomic_load(&ssl_index);
    conn *c = idx >= 0 && ssl && ret <= 0 ? SSL_get_ex_data(ssl, idx) : NULL;
    if (c && atomic_load(&c->cut)) return SSL_ERROR_SSL;
    return f(ssl, ret);
}

void kt_rpc_conn_metrics(kt_buf *out)
{
    const char *help = "connections closed for what they sent: header_block (a header block "
                       "over the limit), resets (RST_STREAM), control_frames (PING, SETTINGS, "
                       "WINDOW_UPDATE, PRIORITY, empty DATA), streams (more open than streams), "
                       "unfinished_bytes (request messages not yet complete, one connection), "
                       "unfinished_total (all connections), framing (a request message framed "
                       "wrongly that reached gRPC core before it could be marked)";
    for (int r = KT_METER_HEADER_BLOCK; r < KT_METER_N; r++, help = NULL) {
        char label[48];
        snprintf(label, sizeof label, "reason=\"%s\"", cut_names[r]);
        kt_metric(out, "kubetee_rpc_connections_cut_total", help ? "counter" : NULL, help, label,
                  (double)atomic_load(&cut[r]));
    }
    help = "request messages framed wrongly, as they arrived: flags (a flag byte other than 0 "
           "and 1), compressed (the compressed flag: gRPC core refuses gzip's, the server the "
           "rest), second_message and trailing_bytes (after the one request message), "
           "too_large (over max_message: gRPC core refuses it)";
    for (int f = KT_FRAMING_FLAGS; f < KT_FRAMING_N; f++, help = NULL) {
        char label[48];
        snprintf(label, sizeof label, "reason=\"%s\"", kt_rpc_framing_name((kt_rpc_framing)f));
        kt_metric(out, "kubetee_rpc_messages_refused_total", help ? "counter" : NULL, help, label,
                  (double)atomic_load(&framing[f]));
    }
    kt_metric(out, "kubetee_rpc_unfinished_bytes", "gauge",
              "bytes of request messages received and not yet complete, all connections", NULL,
              (double)atomic_load(&unfinished_now));
}
