/* gRPC clients: a channel, and a completion queue per call. */
#include "internal.h"

#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kt_rpc_client {
    grpc_channel *channel;
    char target[512];
    size_t max_receive;
    pthread_mutex_t mu; /* guards the header */
    char header_key[64], header_value[KT_RPC_HEADER_VALUE_MAX + 1]; /* "": none */
};

kt_status kt_rpc_client_new(const char *target, const kt_rpc_tls *tls, kt_rpc_client **out)
{
    kt_rpc_client_options o = {.tls = tls};
    return kt_rpc_client_open(target, &o, out);
}

kt_status kt_rpc_client_open(const char *target, const kt_rpc_client_options *o, kt_rpc_client **out)
{
    if (!target || !o || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc client: NULL argument");
    if (o->max_receive > 0x7fffffffu)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc client: max_receive %u is over 2^31 - 1", o->max_receive);
    const kt_rpc_tls *tls = o->tls;
    kt_rpc_grpc_init();
    kt_rpc_client *c = calloc(1, sizeof *c);
    if (!c) {
        grpc_shutdown();
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    snprintf(c->target, sizeof c->target, "%s", target);
    pthread_mutex_init(&c->mu, NULL);
    c->max_receive = o->max_receive ? o->max_receive : KT_RPC_MAX_MESSAGE;
    grpc_channel_credentials *creds;
    grpc_arg args[KT_RPC_MAX_ARGS];
    size_t nargs = kt_rpc_client_args((unsigned)c->max_receive, args);
    if (tls && (tls->ca || tls->cert)) {
        kt_rpc_pems pems;
        kt_status st = kt_rpc_pems_load(tls, &pems);
        if (st) {
            free(c);
            grpc_shutdown();
            return st;
        }
        grpc_ssl_pem_key_cert_pair pair = {pems.key, pems.cert};
        creds = grpc_ssl_credentials_create(pems.ca, pems.cert ? &pair : NULL, NULL, NULL);
        kt_rpc_pems_free(&pems);
        if (tls->server_name) {
            args[nargs].type = GRPC_ARG_STRING;
            args[nargs].key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
            args[nargs++].value.string = (char *)tls->server_name;
        }
    } else {
        creds = grpc_insecure_credentials_create();
    }
    grpc_channel_args ca = {nargs, args};
    c->channel = creds ? grpc_channel_create(target, creds, &ca) : NULL;
    if (creds) grpc_channel_credentials_release(creds);
    if (!c->channel) {
        free(c);
        grpc_shutdown();
        return kt_fail(KT_ERR_IO, "rpc client: cannot create a channel to %s", target);
    }
    *out = c;
    return KT_OK;
}

void kt_rpc_client_free(kt_rpc_client *c)
{
    if (!c) return;
    grpc_channel_destroy(c->channel);
    pthread_mutex_destroy(&c->mu);
    kt_wipe(c->header_value, sizeof c->header_value); /* a token, perhaps */
    free(c);
    grpc_shutdown();
}

static bool header_byte(char ch, bool key)
{
    if (key) return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
    return ch >= 0x20 && ch < 0x7f;
}

kt_status kt_rpc_client_set_header(kt_rpc_client *c, const char *key, const char *value)
{
    if (!c || !key) return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc client: NULL argument");
    size_t kn = strlen(key), vn = value ? strlen(value) : 0;
    bool ok = kn > 0 && kn < sizeof c->header_key && vn <= KT_RPC_HEADER_VALUE_MAX && strncmp(key, "grpc-", 5);
    for (size_t i = 0; ok && i < kn; i++) ok = header_byte(key[i], true);
    for (size_t i = 0; ok && i < vn; i++) ok = header_byte(value[i], false);
    if (!ok)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "rpc client: a header is a lowercase name (not grpc-) and up to %d printable ASCII bytes",
                       KT_RPC_HEADER_VALUE_MAX);
    pthread_mutex_lock(&c->mu);
    kt_wipe(c->header_value, sizeof c->header_value);
    if (value) {
        memcpy(c->header_key, key, kn + 1);
        memcpy(c->header_value, value, vn + 1);
    } else {
        c->header_key[0] = '\0';
    }
    pthread_mutex_unlock(&c->mu);
    return KT_OK;
}

typedef struct {
    grpc_completion_queue *cq;
    grpc_call *call;
    grpc_metadata_array md_initial, md_trailing;
    grpc_status_code code;
    grpc_slice details;
    grpc_metadata header; /* sent with the call when set (count 1) */
    size_t headers;
} client_call;

static kt_status open_call(kt_rpc_client *c, const char *method, int timeout_ms, client_call *cc)
{
    memset(cc, 0, sizeof *cc);
    cc->cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice m = grpc_slice_from_copied_string(method);
    cc->call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cc->cq, m, NULL,
                                        kt_rpc_deadline(timeout_ms), NULL);
    grpc_slice_unref(m);
    grpc_metadata_array_init(&cc->md_initial);
    grpc_metadata_array_init(&cc->md_trailing);
    pthread_mutex_lock(&c->mu);
    if (c->header_key[0]) {
        cc->header.key = grpc_slice_from_copied_string(c->header_key);
        cc->header.value = grpc_slice_from_copied_string(c->header_value);
        cc->headers = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return cc->call ? KT_OK : kt_fail(KT_ERR_IO, "rpc: cannot start a call to %s", method);
}

static bool run(client_call *cc, grpc_op *ops, size_t n, void *tag)
{
    if (grpc_call_start_batch(cc->call, ops, n, tag, NULL) != GRPC_CALL_OK) return false;
    grpc_event ev =
        grpc_completion_queue_pluck(cc->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static kt_status close_call(client_call *cc, const char *method)
{
    kt_status st = kt_rpc_status_of(cc->code);
    if (st) {
        char *d = grpc_slice_to_c_string(cc->details);
        kt_fail(st, "%s: %s", method, d && *d ? d : kt_status_name(st));
        gpr_free(d);
    }
    grpc_slice_unref(cc->details);
    if (cc->headers) {
        grpc_slice_unref(cc->header.key);
        grpc_slice_unref(cc->header.value);
    }
    grpc_metadata_array_destroy(&cc->md_initial);
    grpc_metadata_array_destroy(&cc->md_trailing);
    if (cc->call) grpc_call_unref(cc->call);
    grpc_completion_queue_shutdown(cc->cq);
    while (
        grpc_completion_queue_pluck(cc->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
        GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cc->cq);
    return st;
}

static void status_op(grpc_op *op, client_call *cc)
{
    op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op->data.recv_status_on_client.trailing_metadata = &cc->md_trailing;
    op->data.recv_status_on_client.status = &cc->code;
    op->data.recv_status_on_client.status_details = &cc->details;
}

/* Opens the call with the request in out; fills the four ops every call starts with
 * (send metadata, the request and the half-close; receive metadata). out is the caller's
 * to destroy. */
static kt_status begin(kt_rpc_client *c, const char *method, grpc_byte_buffer *out, int timeout_ms,
                       client_call *cc, grpc_op ops[4])
{
    kt_status st = open_call(c, method, timeout_ms, cc);
    if (st) return st;
    memset(ops, 0, 4 * sizeof *ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = cc->headers;
    ops[0].data.send_initial_metadata.metadata = cc->headers ? &cc->header : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = out;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &cc->md_initial;
    return KT_OK;
}

/* One unary exchange: out sent (and destroyed), the response in *in (the caller's). */
static kt_status unary(kt_rpc_client *c, const char *method, grpc_byte_buffer *out, int timeout_ms,
                       grpc_byte_buffer **in)
{
    client_call cc;
    grpc_op ops[6];
    int tag;
    *in = NULL;
    kt_status st = begin(c, method, out, timeout_ms, &cc, ops);
    if (st) {
        grpc_byte_buffer_destroy(out);
        return st;
    }
    memset(ops + 4, 0, 2 * sizeof *ops);
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = in;
    status_op(&ops[5], &cc);
    bool ok = run(&cc, ops, 6, &tag);
    grpc_byte_buffer_destroy(out);
    st = close_call(&cc, method);
    if (!st && !ok) st = kt_fail(KT_ERR_IO, "%s: the call failed", method);
    return st;
}

kt_status kt_rpc_call(kt_rpc_client *c, const char *method, const void *req, void *res,
                      int timeout_ms)
{
    if (!c || !method || !req || !res || !((ProtobufCMessage *)res)->descriptor)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc call: bad argument");
    grpc_byte_buffer *out, *in = NULL;
    kt_status st = kt_rpc_pack(req, &out);
    if (!st) st = unary(c, method, out, timeout_ms, &in);
    if (!st) st = kt_rpc_unpack(in, c->max_receive, res, NULL);
    if (in) grpc_byte_buffer_destroy(in);
    return st;
}

kt_status kt_rpc_call_raw(kt_rpc_client *c, const char *method, size_t n, kt_rpc_fill_fn fill, kt_rpc_got_fn got,
                          void *ctx, int timeout_ms)
{
    if (!c || !method || !fill || !got) return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc call: bad argument");
    if (n > KT_RPC_MAX_MESSAGE)
        return kt_fail(KT_ERR_TOO_LARGE, "rpc: message of %zu bytes over %u", n, KT_RPC_MAX_MESSAGE);
    grpc_slice slice = grpc_slice_malloc(n);
    kt_status st = fill(ctx, GRPC_SLICE_START_PTR(slice), n);
    if (st) {
        grpc_slice_unref(slice);
        return st;
    }
    grpc_byte_buffer *out = grpc_raw_byte_buffer_create(&slice, 1), *in = NULL;
    grpc_slice_unref(slice);
    st = unary(c, method, out, timeout_ms, &in);
    grpc_slice all;
    if (!st && !(st = kt_rpc_bytes(in, c->max_receive, &all))) {
        st = got(ctx, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all));
        grpc_slice_unref(all);
    }
    if (in) grpc_byte_buffer_destroy(in);
    return st;
}

kt_status kt_rpc_call_stream(kt_rpc_client *c, const char *method, const void *req,
                             const ProtobufCMessageDescriptor *res_type,
                             kt_rpc_on_message on_message, void *ctx, int timeout_ms)
{
    if (!c || !method || !req || !res_type || !on_message)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "rpc stream: bad argument");
    grpc_byte_buffer *out;
    client_call cc;
    grpc_op ops[4];
    int tag;
    kt_status st = kt_rpc_pack(req, &out);
    if (st) return st;
    if ((st = begin(c, method, out, timeout_ms, &cc, ops))) {
        grpc_byte_buffer_destroy(out);
        return st;
    }
    run(&cc, ops, 4, &tag);
    grpc_byte_buffer_destroy(out);
    kt_status stop = KT_OK;
    char reason[256] = "";
    for (;;) {
        grpc_byte_buffer *in = NULL;
        grpc_op recv;
        memset(&recv, 0, sizeof recv);
        recv.op = GRPC_OP_RECV_MESSAGE;
        recv.data.recv_message.recv_message = &in;
        if (!run(&cc, &recv, 1, &tag) || !in) break;
        void *m = calloc(1, res_type->sizeof_message);
        if (!m) {
            grpc_byte_buffer_destroy(in);
            stop = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
            break;
        }
        protobuf_c_message_init(res_type, m);
        st = kt_rpc_unpack(in, c->max_receive, m, NULL);
        grpc_byte_buffer_destroy(in);
        if (!st) st = on_message(ctx, m);
        kt_message_clear(m);
        free(m);
        if (st) {
            stop = st;
            snprintf(reason, sizeof reason, "%s", kt_last_error());
            grpc_call_cancel(cc.call, NULL);
            break;
        }
    }
    grpc_op status;
    memset(&status, 0, sizeof status);
    status_op(&status, &cc);
    run(&cc, &status, 1, &tag);
    st = close_call(&cc, method);
    if (stop) return kt_fail(stop, "%s", reason);
    return st;
}
