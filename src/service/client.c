/* The enclave service's client, in a plain process or an enclave (the same source): a
 * session with the service's enclave over a link (client.h), remote calls through it,
 * the authenticated close. Nothing but the handshake is sent before the server's proof
 * has passed the peer rule: the Finish goes out only after kt_session_handshake has
 * verified the enclave's quote in the Reply. */
#include <kubetee/service.h>
#include <kubetee/session.h>
#include "client.h"
#include "enclave_service.pb-c.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 10000

struct kt_service_client {
    kt_service_link *link;
    kt_session *s;
    int timeout_ms;
    bool started;
    bool broken; /* a step failed midway (or the handshake has not passed): only free remains */
};

static kt_status refused(kt_service_client *c, kt_status st, const char *what)
{
    kt_session_refusal r = kt_session_last_refusal(c->s);
    if (r) return kt_fail_context(st, "service client: refused %s (%s)", what, kt_session_refusal_name(r));
    return kt_fail_context(st, "service client: %s", what);
}

kt_status kt_service_client_new(const char *target, const kt_service_client_config *cfg, kt_service_client **out)
{
    if (!target || !cfg || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: NULL argument");
    *out = NULL;
    kt_service_client *c = calloc(1, sizeof *c);
    if (!c) return kt_fail(KT_ERR_NO_MEMORY, "service client: out of memory");
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    kt_session_config sc = {.role = KT_SESSION_INITIATOR,
                            .quote = cfg->quote,
                            .quote_ctx = cfg->quote_ctx,
                            .key = cfg->key,
                            .peer = cfg->peer,
                            .now = cfg->now,
                            .max_payload = cfg->max_payload};
#ifndef KT_TRUSTED
    if (!sc.now) sc.now = time(NULL);
    const void *tls = cfg->tls;
#else
    const void *tls = NULL;
#endif
    kt_status st = kt_session_new(&sc, &c->s);
    if (!st) st = kt_service_link_open(target, tls, &c->link);
    if (st) {
        kt_service_client_free(c);
        return st;
    }
    *out = c;
    return KT_OK;
}

kt_status kt_service_client_handshake(kt_service_client *c)
{
    if (!c) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: NULL argument");
    if (c->started) return kt_fail(KT_ERR_STATE, "service client: the handshake ran already");
    c->started = c->broken = true; /* until it has passed */
    kt_buf hello = {0}, reply = {0}, finish = {0}, none = {0};
    kt_status st = kt_session_handshake(c->s, NULL, 0, &hello);
    if (st) st = refused(c, st, "the Hello");
    if (!st) st = kt_service_link_send(c->link, KT_SERVICE_HANDSHAKE, hello.data, hello.len, c->timeout_ms, &reply);
    /* the server's quote is verified against the peer rule here: nothing else is sent
     * unless it passes */
    if (!st && (st = kt_session_handshake(c->s, reply.data, reply.len, &finish)))
        st = refused(c, st, "the server's proof");
    if (!st) st = kt_service_link_send(c->link, KT_SERVICE_HANDSHAKE, finish.data, finish.len, c->timeout_ms, &none);
    if (!st && none.len) st = kt_fail(KT_ERR_MALFORMED, "service client: the server answered the Finish with %zu bytes", none.len);
    if (!st) c->broken = false;
    kt_buf_free(&hello);
    kt_buf_free(&reply);
    kt_buf_free(&finish);
    kt_buf_free(&none);
    return st;
}

kt_session_refusal kt_service_client_refusal(const kt_service_client *c)
{
    return c ? kt_session_last_refusal(c->s) : KT_SESSION_OK;
}

bool kt_service_client_usable(const kt_service_client *c)
{
    return c && c->started && !c->broken;
}

kt_status kt_service_client_connect(const char *target, const kt_service_client_config *cfg, kt_service_client **out)
{
    kt_service_client *c;
    kt_status st = kt_service_client_new(target, cfg, &c);
    if (st) return st;
    if ((st = kt_service_client_handshake(c))) {
        kt_service_client_free(c);
        return st;
    }
    *out = c;
    return KT_OK;
}

kt_status kt_service_client_peer(const kt_service_client *c, kt_session_peer_info *info)
{
    if (!c || !info) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: NULL argument");
    return kt_session_peer(c->s, info);
}

kt_status kt_service_client_session_id(const kt_service_client *c, uint8_t id[KT_SERVICE_ID_LEN])
{
    if (!c || !id) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: NULL argument");
    return kt_session_id(c->s, id);
}

/* kt_service_link_send on top of the exchange: in copied into the message, the answer
 * appended to out. */
typedef struct {
    const uint8_t *in;
    kt_buf *out;
} copying;

static kt_status fill_copy(void *ctx, uint8_t *buf, size_t n)
{
    copying *c = ctx;
    if (n) memcpy(buf, c->in, n);
    return KT_OK;
}

static kt_status got_copy(void *ctx, const uint8_t *p, size_t n)
{
    copying *c = ctx;
    return n ? kt_buf_append(c->out, p, n) : KT_OK;
}

kt_status kt_service_link_send(kt_service_link *l, kt_service_step step, const uint8_t *in, size_t n, int timeout_ms,
                               kt_buf *out)
{
    copying c = {in, out};
    return kt_service_link_exchange(l, step, n, fill_copy, got_copy, &c, timeout_ms);
}

/* A call in flight: the Invocation sealed straight into the link's message (its header
 * and the caller's request as two parts, never joined), the reply opened into the
 * caller's response and its CallResult read there in place. */
typedef struct {
    kt_service_client *c;
    const char *function;
    kt_bytes parts[2];
    kt_buf *response;
} calling;

static kt_status fill_call(void *ctx, uint8_t *buf, size_t n)
{
    calling *x = ctx;
    kt_status st = kt_session_seal_into(x->c->s, x->function, x->parts, 2, buf, n);
    if (st) return kt_fail_context(st, "service client: %s", x->function);
    x->c->broken = true; /* from here the session's sequence moved: a failure leaves it out of step */
    return KT_OK;
}

/* The CallResult at response[start..): the response bytes moved to start, or the remote
 * status and reason (and nothing left in response). */
static kt_status result(const char *function, kt_buf *response, size_t start)
{
    uint8_t *p = response->data + start;
    size_t n = response->len - start;
    kt_pb_field f[3];
    kt_status st = KT_OK;
    if (kt_pb_view(p, n, "VLL", f, "CallResult")) {
        st = kt_fail(KT_ERR_MALFORMED, "service client: %s: the reply is no CallResult", function);
    } else if (f[0].varint) {
        char why[512];
        int32_t code = (int32_t)(uint32_t)f[0].varint;
        st = kt_fail(code > 0 ? (kt_status)code : KT_ERR_FUNCTION, "%s: %s", function,
                     kt_escape_text(f[1].data, f[1].len, why, sizeof why)); /* its reason */
    } else {
        memmove(p, f[2].data, f[2].len);
        kt_wipe(p + f[2].len, n - f[2].len);
        response->len = start + f[2].len;
        return KT_OK;
    }
    kt_wipe(p, n);
    response->len = start;
    return st;
}

static kt_status got_call(void *ctx, const uint8_t *p, size_t n)
{
    calling *x = ctx;
    char name[KT_SESSION_NAME_MAX + 1];
    size_t start = x->response->len;
    kt_status st = kt_session_open(x->c->s, p, n, name, x->response);
    if (st) return refused(x->c, st, "the server's reply record");
    if (strcmp(name, x->function)) {
        kt_wipe(x->response->data + start, x->response->len - start);
        x->response->len = start;
        return kt_fail(KT_ERR_VERIFY, "service client: the reply to %s is named for another function", x->function);
    }
    x->c->broken = false;
    return result(x->function, x->response, start);
}

kt_status kt_service_client_call_bytes(kt_service_client *c, const char *function, const char *request_type,
                                       const uint8_t *request, size_t n, const char *response_type, kt_buf *response)
{
    if (!c || !function || !request_type || !response_type || !response || (n && !request))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: NULL argument");
    if (c->broken) return kt_fail(KT_ERR_STATE, "service client: an earlier step failed midway; the session is over");
    size_t lq = strlen(request_type), ls = strlen(response_type);
    if (lq > KT_SESSION_NAME_MAX || ls > KT_SESSION_NAME_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: a message type name is over %d bytes", KT_SESSION_NAME_MAX);
    /* the Invocation's bytes: request_type (1), response_type (2), request (3) */
    uint8_t head[3 * KT_PB_HEADER_MAX + 2 * KT_SESSION_NAME_MAX];
    size_t h = 0;
    if (lq) h += kt_pb_header(head + h, 1, lq), memcpy(head + h, request_type, lq), h += lq;
    if (ls) h += kt_pb_header(head + h, 2, ls), memcpy(head + h, response_type, ls), h += ls;
    if (n) h += kt_pb_header(head + h, 3, n);
    calling x = {c, function, {{head, h}, {request, n}}, response};
    size_t len = kt_session_record_len(function, h + n);
    if (!len) /* the session says what it refuses (the name, the size) */
        return kt_fail_context(kt_session_seal_into(c->s, function, x.parts, 2, head, 0), "service client: %s", function);
    return kt_service_link_exchange(c->link, KT_SERVICE_CALL, len, fill_call, got_call, &x, c->timeout_ms);
}

kt_status kt_service_client_call(kt_service_client *c, const char *function, const ProtobufCMessage *request,
                                 const ProtobufCMessageDescriptor *response_type, ProtobufCMessage **response)
{
    if (!c || !request || !response_type || !response) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: NULL argument");
    *response = NULL;
    kt_buf req = {0}, res = {0};
    kt_status st = kt_buf_reserve(&req, protobuf_c_message_get_packed_size(request));
    if (!st) req.len = protobuf_c_message_pack(request, req.data);
    if (!st)
        st = kt_service_client_call_bytes(c, function, request->descriptor->name, req.data, req.len, response_type->name,
                                          &res);
    if (!st && !(*response = protobuf_c_message_unpack(response_type, NULL, res.len, res.data)))
        st = kt_fail(KT_ERR_MALFORMED, "service client: %s: the response is not a valid %s", function, response_type->name);
    kt_buf_free(&req);
    kt_buf_free(&res);
    return st;
}

kt_status kt_service_client_describe(kt_service_client *c, kt_buf *describe)
{
    return kt_service_client_call_bytes(c, "kt.Describe", kubetee__enclave__v1__describe_request__descriptor.name, NULL,
                                        0, kubetee__enclave__v1__describe_response__descriptor.name, describe);
}

kt_status kt_service_client_close(kt_service_client *c)
{
    if (!c) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: NULL argument");
    if (c->broken) return kt_fail(KT_ERR_STATE, "service client: an earlier step failed midway; the session is over");
    kt_buf record = {0}, back = {0}, plain = {0};
    char name[KT_SESSION_NAME_MAX + 1];
    kt_status st = kt_session_close(c->s, &record);
    c->broken = true;
    if (!st) st = kt_service_link_send(c->link, KT_SERVICE_CLOSE, record.data, record.len, c->timeout_ms, &back);
    if (!st) {
        kt_status o = kt_session_open(c->s, back.data, back.len, name, &plain);
        if (o != KT_ERR_CANCELLED) st = o ? refused(c, o, "the server's close") : kt_fail(KT_ERR_VERIFY, "service client: the server's close did not come back");
    }
    if (!st) st = kt_session_end(c->s);
    kt_buf_free(&record);
    kt_buf_free(&back);
    kt_buf_free(&plain);
    return st;
}

void kt_service_client_free(kt_service_client *c)
{
    if (!c) return;
    kt_session_free(c->s);
    kt_service_link_free(c->link);
    free(c);
}
