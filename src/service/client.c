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

/* The CallResult's outcome: the response bytes, or the remote status and reason. */
static kt_status result(const char *function, const kt_buf *plain, kt_buf *response)
{
    Kubetee__Enclave__V1__CallResult *r = kubetee__enclave__v1__call_result__unpack(NULL, plain->len, plain->data);
    if (!r) return kt_fail(KT_ERR_MALFORMED, "service client: %s: the reply is no CallResult", function);
    kt_status st = KT_OK;
    if (r->status) {
        char why[512];
        kt_status code = r->status > 0 ? (kt_status)r->status : KT_ERR_FUNCTION;
        st = kt_fail(code, "%s: %s", function, kt_escape(r->reason, strlen(r->reason), why, sizeof why));
    } else if (r->response.len) {
        st = kt_buf_append(response, r->response.data, r->response.len);
    }
    kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
    return st;
}

kt_status kt_service_client_call_bytes(kt_service_client *c, const char *function, const char *request_type,
                                       const uint8_t *request, size_t n, const char *response_type, kt_buf *response)
{
    if (!c || !function || !request_type || !response_type || !response || (n && !request))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "service client: NULL argument");
    if (c->broken) return kt_fail(KT_ERR_STATE, "service client: an earlier step failed midway; the session is over");
    Kubetee__Enclave__V1__Invocation inv = KUBETEE__ENCLAVE__V1__INVOCATION__INIT;
    inv.request_type = (char *)request_type;
    inv.response_type = (char *)response_type;
    inv.request.data = (uint8_t *)request;
    inv.request.len = n;
    kt_buf payload = {0}, record = {0}, back = {0}, plain = {0};
    size_t len = kubetee__enclave__v1__invocation__get_packed_size(&inv);
    kt_status st = kt_buf_reserve(&payload, len);
    if (!st) payload.len = kubetee__enclave__v1__invocation__pack(&inv, payload.data);
    if (!st && (st = kt_session_seal(c->s, function, payload.data, payload.len, &record)))
        st = kt_fail_context(st, "service client: %s", function);
    if (!st) {
        /* from here the session's sequence moved: a failure leaves it out of step */
        c->broken = true;
        st = kt_service_link_send(c->link, KT_SERVICE_CALL, record.data, record.len, c->timeout_ms, &back);
    }
    char name[KT_SESSION_NAME_MAX + 1];
    if (!st && (st = kt_session_open(c->s, back.data, back.len, name, &plain)))
        st = refused(c, st, "the server's reply record");
    if (!st && strcmp(name, function))
        st = kt_fail(KT_ERR_VERIFY, "service client: the reply to %s is named for another function", function);
    if (!st) {
        c->broken = false;
        st = result(function, &plain, response);
    }
    kt_buf_free(&payload);
    kt_buf_free(&record);
    kt_buf_free(&back);
    kt_buf_free(&plain);
    return st;
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
