/* What servers and clients share: message buffers, status codes, TLS material. */
#include "internal.h"
#include "../tff/common/runtime.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The first reference is never given back: gRPC core's last grpc_shutdown drains its
 * executor, and a TCP endpoint whose write once found the socket full leaves a backup
 * poller there that waits up to 10 s in its pollset (tcp_posix.cc): a server freed, or a
 * service ending on SIGTERM, would take those 10 s. The process's exit frees it all. */
static void init_for_good(void)
{
    grpc_init();
}

void kt_rpc_grpc_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_for_good);
    grpc_init();
}

kt_status kt_rpc_pack(const void *msg, grpc_byte_buffer **out)
{
    const ProtobufCMessage *m = msg;
    if (!m || !m->descriptor)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc: not an initialised protobuf-c message");
    size_t n = protobuf_c_message_get_packed_size(m);
    if (n > KT_RPC_MAX_MESSAGE)
        return kt_fail(KT_ERR_TOO_LARGE, "rpc: message of %zu bytes over %u", n,
                       KT_RPC_MAX_MESSAGE);
    grpc_slice slice = grpc_slice_malloc(n);
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(slice));
    *out = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return KT_OK;
}

kt_status kt_rpc_bytes(grpc_byte_buffer *bb, size_t max, grpc_slice *all)
{
    if (!bb) return kt_fail(KT_ERR_MALFORMED, "rpc: no message");
    if (bb->type != GRPC_BB_RAW || bb->data.raw.compression != GRPC_COMPRESS_NONE)
        return kt_fail(KT_ERR_UNSUPPORTED, "rpc: compressed messages are not accepted");
    if (grpc_byte_buffer_length(bb) > max)
        return kt_fail(KT_ERR_TOO_LARGE, "rpc: message over %zu bytes", max);
    if (bb->data.raw.slice_buffer.count == 1) { /* in place: no copy */
        *all = grpc_slice_ref(bb->data.raw.slice_buffer.slices[0]);
        return KT_OK;
    }
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb))
        return kt_fail(KT_ERR_MALFORMED, "rpc: unreadable message");
    *all = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    return KT_OK;
}

kt_status kt_rpc_unpack(grpc_byte_buffer *bb, size_t max, void *msg, ProtobufCAllocator *allocator)
{
    ProtobufCMessage *m = msg;
    grpc_slice all;
    kt_status st = kt_rpc_bytes(bb, max, &all);
    if (st) return st;
    /* strings first: unpacking would cut a string at an embedded NUL */
    st = kt_rpc_check_strings(m->descriptor, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all));
    if (!st && !kt_unpack_into(m, allocator, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all)))
        st = kt_fail(KT_ERR_MALFORMED, "rpc: message is not a valid %s", m->descriptor->name);
    grpc_slice_unref(all);
    return st;
}

grpc_status_code kt_rpc_code_of(kt_status st)
{
    switch (st) {
    case KT_OK:
        return GRPC_STATUS_OK;
    case KT_ERR_INVALID_ARGUMENT:
    case KT_ERR_MALFORMED:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case KT_ERR_TOO_LARGE: /* a limit (size, sessions, places): as gRPC's own for sizes */
    case KT_ERR_NO_MEMORY:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case KT_ERR_NOT_FOUND:
        return GRPC_STATUS_NOT_FOUND;
    case KT_ERR_EXISTS:
        return GRPC_STATUS_ALREADY_EXISTS;
    case KT_ERR_DENIED:
    case KT_ERR_VERIFY:
        return GRPC_STATUS_PERMISSION_DENIED;
    case KT_ERR_UNSUPPORTED:
        return GRPC_STATUS_UNIMPLEMENTED;
    case KT_ERR_TIMEOUT:
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    case KT_ERR_UNAVAILABLE:
        return GRPC_STATUS_UNAVAILABLE;
    case KT_ERR_CANCELLED:
        return GRPC_STATUS_CANCELLED;
    case KT_ERR_STATE:
        return GRPC_STATUS_FAILED_PRECONDITION;
    default:
        return GRPC_STATUS_INTERNAL;
    }
}

kt_status kt_rpc_status_of(grpc_status_code code)
{
    switch (code) {
    case GRPC_STATUS_OK:
        return KT_OK;
    case GRPC_STATUS_INVALID_ARGUMENT:
        return KT_ERR_INVALID_ARGUMENT;
    case GRPC_STATUS_NOT_FOUND:
        return KT_ERR_NOT_FOUND;
    case GRPC_STATUS_ALREADY_EXISTS:
        return KT_ERR_EXISTS;
    case GRPC_STATUS_PERMISSION_DENIED:
    case GRPC_STATUS_UNAUTHENTICATED:
        return KT_ERR_DENIED;
    case GRPC_STATUS_UNIMPLEMENTED:
        return KT_ERR_UNSUPPORTED;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return KT_ERR_TIMEOUT;
    case GRPC_STATUS_UNAVAILABLE:
        return KT_ERR_UNAVAILABLE;
    case GRPC_STATUS_CANCELLED:
        return KT_ERR_CANCELLED;
    case GRPC_STATUS_FAILED_PRECONDITION:
        return KT_ERR_STATE;
    case GRPC_STATUS_RESOURCE_EXHAUSTED: /* a limit of the server's: sizes, calls, sessions */
        return KT_ERR_TOO_LARGE;
    default:
        return KT_ERR_IO;
    }
}

static kt_status read_pem(const char *path, char **out)
{
    *out = NULL;
    if (!path) return KT_OK;
    kt_buf b = {0};
    kt_status st = kt_file_read(path, 1 << 20, &b);
    if (st) {
        kt_buf_free(&b);
        return kt_fail_context(st, "rpc TLS");
    }
    *out = (char *)b.data; /* kt_file_read NUL-terminates */
    return KT_OK;
}

kt_status kt_rpc_pems_load(const kt_rpc_tls *tls, kt_rpc_pems *p)
{
    memset(p, 0, sizeof *p);
    kt_status st = read_pem(tls->cert, &p->cert);
    if (!st) st = read_pem(tls->key, &p->key);
    if (!st) st = read_pem(tls->ca, &p->ca);
    if (!st && (!p->cert) != (!p->key))
        st = kt_fail(KT_ERR_INVALID_ARGUMENT,
                     "rpc TLS: a certificate needs its key and a key its certificate");
    if (st) kt_rpc_pems_free(p);
    return st;
}

void kt_rpc_pems_free(kt_rpc_pems *p)
{
    if (p->key) kt_wipe(p->key, strlen(p->key));
    free(p->cert);
    free(p->key);
    free(p->ca);
    memset(p, 0, sizeof *p);
}

gpr_timespec kt_rpc_deadline(int timeout_ms)
{
    if (timeout_ms <= 0) return gpr_inf_future(GPR_CLOCK_REALTIME);
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

bool kt_rpc_log_allowed(kt_rpc_log_budget *b, char not_logged[16])
{
    long now = (long)time(NULL), was = atomic_load(&b->second);
    if (now != was && atomic_compare_exchange_strong(&b->second, &was, now))
        atomic_store(&b->logged, 0);
    if (atomic_fetch_add(&b->logged, 1) >= KT_RPC_LOG_PER_SECOND) {
        atomic_fetch_add(&b->suppressed, 1);
        return false;
    }
    snprintf(not_logged, 16, "%u", atomic_exchange(&b->suppressed, 0));
    return true;
}
