/* The limits a server puts on its clients: defaults, parsing, and gRPC core's channel
 * arguments for them. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One row per setting: its name, where it lives, its default and its range. */
typedef struct {
    const char *name;
    size_t offset;
    bool is_duration; /* int, < 0 means never */
    long dflt;        /* 0: computed (workers, queue) */
    long min, max;
} setting;

#define U(f, d, lo, hi)                                                                            \
    {                                                                                              \
#f, offsetof(kt_rpc_limits, f), false, d, lo, hi                                           \
    }
#define D(f, d, hi)                                                                                \
    {                                                                                              \
#f, offsetof(kt_rpc_limits, f), true, d, -1, hi                                            \
    }
static const setting settings[] = {
    U(workers, 0, 1, 4096),
    U(queue, 0, 1, 1 << 20),
    U(per_connection, 0, 1, 1 << 20),
    U(streams, 32, 1, 1 << 16),
    U(max_message, 4 << 20, 1, 1 << 30),
    U(max_metadata, 8 << 10, 1 << 10, 1 << 24),
    U(memory_mb, 256, 8, 1 << 20),
    U(fd_headroom, 64, 8, 1 << 20),
    D(first_request_ms, 10000, INT_MAX),
    D(idle_ms, 300000, INT_MAX),
    D(max_age_ms, 1800000, INT_MAX),
    D(age_grace_ms, 60000, INT_MAX),
    D(keepalive_ms, 60000, INT_MAX),
    D(keepalive_timeout_ms, 20000, INT_MAX),
    D(min_ping_ms, 60000, INT_MAX),
    D(cancel_wait_ms, 1000, INT_MAX),
    U(resets, 100, 1, 1 << 20),
    U(control_frames, 100, 1, 1 << 20),
    D(send_stall_ms, 30000, INT_MAX),
    U(max_connections, 0, 1, 1 << 20),
    U(per_address, 0, 1, 1 << 20),
    U(unfinished_bytes, 0, 1 << 16, 1 << 30),
    U(unfinished_mb, 0, 1, 1 << 20),
};
#undef U
#undef D
#define NSETTINGS (sizeof settings / sizeof *settings)

static long get(const kt_rpc_limits *l, const setting *s)
{
    const char *p = (const char *)l + s->offset;
    return s->is_duration ? *(const int *)p : (long)*(const unsigned *)p;
}

static void put(kt_rpc_limits *l, const setting *s, long v)
{
    char *p = (char *)l + s->offset;
    if (s->is_duration)
        *(int *)p = (int)v;
    else
        *(unsigned *)p = (unsigned)v;
}

void kt_rpc_limits_resolve(kt_rpc_limits *l)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (get(l, &settings[i]) == 0 && settings[i].dflt) put(l, &settings[i], settings[i].dflt);
    if (!l->workers) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        long w = 2 * (cpus > 0 ? cpus : 1);
        l->workers = (unsigned)(w < 4 ? 4 : w > 64 ? 64 : w);
    }
    if (!l->queue) l->queue = 4 * l->workers;
    if (!l->per_connection) l->per_connection = l->workers + l->queue;
    if (!l->per_address) l->per_address = l->workers + l->queue;
    if (!l->unfinished_bytes) {
        uint64_t u = 2ull * l->max_message;
        l->unfinished_bytes = u < (1u << 16) ? (1u << 16) : u > (1u << 30) ? (1u << 30) : (unsigned)u;
    }
    if (!l->unfinished_mb) l->unfinished_mb = l->memory_mb / 2;
    /* an idle connection costs gRPC core ~20 KiB (measured): 16 per MiB leaves room */
    if (!l->max_connections)
        l->max_connections = l->memory_mb > (1u << 16) ? (1u << 20) : l->memory_mb * 16;
}

kt_status kt_rpc_limits_parse(const char *spec, kt_rpc_limits *l)
{
    if (!l) return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc limits: NULL argument");
    if (!spec) return KT_OK;
    bool seen[NSETTINGS] = {0};
    kt_rpc_limits out = *l;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc limits: '%.*s' is not name=value",
                           (int)(len > 64 ? 64 : len), p);
        size_t nlen = (size_t)(eq - p);
        const setting *s = NULL;
        for (size_t i = 0; i < NSETTINGS && !s; i++)
            if (strlen(settings[i].name) == nlen && !memcmp(settings[i].name, p, nlen)) {
                if (seen[i])
                    return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc limits: %s given twice",
                                   settings[i].name);
                seen[i] = true;
                s = &settings[i];
            }
        if (!s)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc limits: no setting named '%.*s'",
                           (int)(nlen > 64 ? 64 : nlen), p);
        char num[24];
        size_t vlen = len - nlen - 1;
        if (vlen == 0 || vlen >= sizeof num)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc limits: %s needs a number", s->name);
        memcpy(num, eq + 1, vlen);
        num[vlen] = 0;
        char *stop;
        errno = 0;
        long v = strtol(num, &stop, 10);
        if (*stop || errno || v < s->min || v > s->max)
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "rpc limits: %s must be a number from %ld to %ld", s->name, s->min,
                           s->max);
        put(&out, s, v);
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc limits: trailing ','");
        }
    }
    *l = out;
    return KT_OK;
}

void kt_rpc_limits_log(const kt_rpc_limits *l, const char *address)
{
    char v[NSETTINGS][24];
    for (size_t i = 0; i < NSETTINGS; i++)
        snprintf(v[i], sizeof v[i], "%ld", get(l, &settings[i]));
#define KV(i) settings[i].name, v[i]
    _Static_assert(NSETTINGS == 23, "log every setting");
    kt_log(KT_LOG_INFO, "rpc.limits", "address", address, KV(0), KV(1), KV(2), KV(3), KV(4), KV(5),
           KV(6), KV(7), KV(8), KV(9), KV(10), KV(11), KV(12), KV(13), KV(14), KV(15), KV(16),
           KV(17), KV(18), KV(19), KV(20), KV(21), KV(22), NULL);
#undef KV
}

static int ms_or_never(int ms)
{
    return ms < 0 ? INT_MAX : ms;
}

size_t kt_rpc_server_args(const kt_rpc_limits *l, grpc_resource_quota *quota, grpc_arg *a)
{
    size_t n = 0;
#define INT_ARG(k, v)                                                                              \
    a[n].type = GRPC_ARG_INTEGER, a[n].key = (char *)(k), a[n++].value.integer = (v)
    INT_ARG(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, (int)l->max_message);
    INT_ARG(GRPC_ARG_MAX_METADATA_SIZE, (int)l->max_metadata);
    INT_ARG(GRPC_ARG_MAX_CONCURRENT_STREAMS, (int)l->streams);
    INT_ARG(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, ms_or_never(l->first_request_ms));
    INT_ARG(GRPC_ARG_MAX_CONNECTION_IDLE_MS, ms_or_never(l->idle_ms));
    INT_ARG(GRPC_ARG_MAX_CONNECTION_AGE_MS, ms_or_never(l->max_age_ms));
    INT_ARG(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, ms_or_never(l->age_grace_ms));
    INT_ARG(GRPC_ARG_KEEPALIVE_TIME_MS, ms_or_never(l->keepalive_ms));
    INT_ARG(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms_or_never(l->keepalive_timeout_ms));
    INT_ARG(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, ms_or_never(l->min_ping_ms));
    INT_ARG(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
    /* the server's own keepalive pings must not be throttled on a quiet stream */
    INT_ARG(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    /* identity only: no request is inflated, so none can inflate past the limit */
    INT_ARG(GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET, 1);
    INT_ARG(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
    /* no window growth past what a message needs */
    INT_ARG(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    /* frames are acted on a read at a time: a small read bounds the work (and the PING
     * acknowledgements queued) before a flood's GOAWAY takes effect */
    INT_ARG(GRPC_ARG_TCP_MAX_READ_CHUNK_SIZE, 64 << 10);
#undef INT_ARG
    a[n].type = GRPC_ARG_POINTER;
    a[n].key = (char *)GRPC_ARG_RESOURCE_QUOTA;
    a[n].value.pointer.p = quota;
    a[n++].value.pointer.vtable = grpc_resource_quota_arg_vtable();
    return n;
}

size_t kt_rpc_client_args(unsigned max_receive, grpc_arg *a)
{
    size_t n = 0;
#define INT_ARG(k, v)                                                                              \
    a[n].type = GRPC_ARG_INTEGER, a[n].key = (char *)(k), a[n++].value.integer = (v)
    INT_ARG(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, (int)max_receive);
    INT_ARG(GRPC_ARG_MAX_METADATA_SIZE, 8 << 10);
    /* at gRPC's default server ping policy (5 min), so no server calls it a flood */
    INT_ARG(GRPC_ARG_KEEPALIVE_TIME_MS, 300000);
    INT_ARG(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
    INT_ARG(GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET, 1);
    INT_ARG(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
#undef INT_ARG
    return n;
}
