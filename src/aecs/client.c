/* The AECS client: one attested session over the enclave service's gRPC methods, and
 * AECS's operations called through it (include/kubetee/aecs.h). */
#include <kubetee/aecs.h>
#include <kubetee/rpc.h>
#include <kubetee/session.h>
#include "aecs.pb-c.h"
#include "enclave_service.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define M(name) "/kubetee.enclave.v1.EnclaveService/" name

struct kt_aecs_client {
    kt_rpc_client *rpc;
    kt_session *s;
    unsigned timeout_ms;
    uint64_t until_ms; /* while the session is made: its end (monotonic); then 0 */
};

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* A call's deadline: the request timeout, or while the session is made what is left of
 * the connect timeout (at least 1 ms: past it the call fails at once, as a timeout). */
static int deadline_ms(const kt_aecs_client *c)
{
    if (!c->until_ms) return (int)c->timeout_ms;
    uint64_t now = now_ms();
    return now < c->until_ms ? (int)(c->until_ms - now) : 1;
}

static kt_status handshake(kt_aecs_client *c)
{
    kt_buf hello = {0}, finish = {0};
    Kubetee__Enclave__V1__HandshakeRequest rq = KUBETEE__ENCLAVE__V1__HANDSHAKE_REQUEST__INIT;
    Kubetee__Enclave__V1__HandshakeResponse rs = KUBETEE__ENCLAVE__V1__HANDSHAKE_RESPONSE__INIT,
                                            rs2 = KUBETEE__ENCLAVE__V1__HANDSHAKE_RESPONSE__INIT;
    kt_status st = kt_session_handshake(c->s, NULL, 0, &hello);
    rq.message.data = hello.data;
    rq.message.len = hello.len;
    if (!st) st = kt_rpc_call(c->rpc, M("Handshake"), &rq, &rs, deadline_ms(c));
    /* the enclave's quote is judged here, before anything of ours goes to it */
    if (!st && (st = kt_session_handshake(c->s, rs.message.data, rs.message.len, &finish)))
        st = kt_fail_context(st, "the AECS enclave");
    rq.message.data = finish.data;
    rq.message.len = finish.len;
    if (!st) st = kt_rpc_call(c->rpc, M("Handshake"), &rq, &rs2, deadline_ms(c));
    kt_message_clear(&rs);
    kt_message_clear(&rs2);
    kt_buf_free(&hello);
    kt_buf_free(&finish);
    return st;
}

/* The pinned instance, proved over this session (a fresh nonce) before anything else. */
static kt_status instance_check(kt_aecs_client *c, const uint8_t pin[64])
{
    Kubetee__Aecs__V1__StatusRequest rq = KUBETEE__AECS__V1__STATUS_REQUEST__INIT;
    uint8_t nonce[32], id[KT_SESSION_ID_LEN];
    ProtobufCMessage *m = NULL;
    rq.nonce.data = nonce;
    rq.nonce.len = sizeof nonce;
    kt_status st = kt_random(nonce, sizeof nonce);
    if (!st) st = kt_session_id(c->s, id);
    if (!st) st = kt_aecs_call(c, "Status", &rq.base, &kubetee__aecs__v1__status_response__descriptor, &m);
    const Kubetee__Aecs__V1__StatusResponse *r = (const void *)m;
    if (!st)
        st = kt_aecs_instance_check(pin, r->instance_public.data, r->instance_public.len, id, nonce, sizeof nonce,
                                    r->instance_proof.data, r->instance_proof.len);
    if (m) protobuf_c_message_free_unpacked(m, NULL);
    return st ? kt_fail_context(st, "aecs client: the pinned instance") : KT_OK;
}

kt_status kt_aecs_client_new(const kt_aecs_client_config *cfg, kt_aecs_client **out)
{
    if (!cfg || !out || !cfg->address || !cfg->key || !cfg->policy || !cfg->collateral)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs client: address, key, policy and collateral are required");
    *out = NULL;
    kt_aecs_client *c = calloc(1, sizeof *c);
    if (!c) return kt_fail(KT_ERR_NO_MEMORY, "aecs client: out of memory");
    /* connecting, the handshake and the instance's proof, all within connect_timeout_ms:
     * an address that never answers is given up on soon even when the request after may
     * take long */
    unsigned connect_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 30000;
    c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
    c->until_ms = now_ms() + connect_ms;
    kt_session_config sc = {.role = KT_SESSION_INITIATOR, .key = cfg->key, .now = time(NULL)};
    sc.peer.policy = cfg->policy;
    sc.peer.collateral = cfg->collateral;
    kt_status st = kt_rpc_client_new(cfg->address, NULL, &c->rpc);
    if (!st) st = kt_session_new(&sc, &c->s);
    if (!st) st = handshake(c);
    if (!st && cfg->instance) st = instance_check(c, cfg->instance);
    if (st == KT_ERR_TIMEOUT) {
        char shown[256];
        st = kt_fail_context(
            st, "aecs client: no attested session with '%s' within the connect timeout of %g s",
            kt_escape(cfg->address, strlen(cfg->address), shown, sizeof shown),
            connect_ms / 1000.0);
    }
    if (st) {
        kt_session_free(c->s);
        kt_rpc_client_free(c->rpc);
        free(c);
        return st;
    }
    c->until_ms = 0;
    *out = c;
    return KT_OK;
}

kt_status kt_aecs_call(kt_aecs_client *c, const char *op, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *res_type, ProtobufCMessage **res)
{
    if (!c || !op || !req || !res_type || !res) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs call: NULL argument");
    *res = NULL;
    char fn[128];
    if (snprintf(fn, sizeof fn, "aecs.%s", op) >= (int)sizeof fn) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs call: long name");
    kt_buf body = {0}, payload = {0}, rec = {0}, plain = {0};
    kt_status st = kt_buf_reserve(&body, protobuf_c_message_get_packed_size(req));
    if (!st) body.len = protobuf_c_message_pack(req, body.data);
    Kubetee__Enclave__V1__Invocation inv = KUBETEE__ENCLAVE__V1__INVOCATION__INIT;
    inv.request_type = (char *)req->descriptor->name;
    inv.response_type = (char *)res_type->name;
    inv.request.data = body.data;
    inv.request.len = body.len;
    if (!st) st = kt_buf_reserve(&payload, kubetee__enclave__v1__invocation__get_packed_size(&inv));
    if (!st) payload.len = kubetee__enclave__v1__invocation__pack(&inv, payload.data);
    if (!st) st = kt_session_seal(c->s, fn, payload.data, payload.len, &rec);
    Kubetee__Enclave__V1__CallRequest rq = KUBETEE__ENCLAVE__V1__CALL_REQUEST__INIT;
    Kubetee__Enclave__V1__CallResponse rs = KUBETEE__ENCLAVE__V1__CALL_RESPONSE__INIT;
    rq.record.data = rec.data;
    rq.record.len = rec.len;
    if (!st) st = kt_rpc_call(c->rpc, M("Call"), &rq, &rs, deadline_ms(c));
    char name[KT_SESSION_NAME_MAX + 1];
    if (!st) st = kt_session_open(c->s, rs.record.data, rs.record.len, name, &plain);
    if (!st && strcmp(name, fn)) st = kt_fail(KT_ERR_VERIFY, "aecs call: the answer is for %s, not %s", name, fn);
    Kubetee__Enclave__V1__CallResult *r = NULL;
    if (!st && !(r = kubetee__enclave__v1__call_result__unpack(NULL, plain.len, plain.data)))
        st = kt_fail(KT_ERR_MALFORMED, "aecs call: the answer is no CallResult");
    if (!st && r->status) {
        char shown[600];
        st = kt_fail(r->status, "%s",
                     kt_escape_text(r->reason, strlen(r->reason), shown, sizeof shown));
    }
    if (!st && !(*res = protobuf_c_message_unpack(res_type, NULL, r->response.len, r->response.data)))
        st = kt_fail(KT_ERR_MALFORMED, "aecs call: the response is no %s", res_type->name);
    if (r) kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
    kt_message_clear(&rs);
    kt_buf_free(&body);
    kt_buf_free(&payload);
    kt_buf_free(&rec);
    kt_buf_free(&plain);
    return st;
}

kt_status kt_aecs_client_peer(const kt_aecs_client *c, kt_report_body *enclave)
{
    kt_session_peer_info p;
    kt_status st = kt_session_peer(c->s, &p);
    if (!st) *enclave = p.enclave;
    return st;
}

void kt_aecs_client_free(kt_aecs_client *c)
{
    if (!c) return;
    kt_buf rec = {0}, plain = {0};
    Kubetee__Enclave__V1__CloseRequest rq = KUBETEE__ENCLAVE__V1__CLOSE_REQUEST__INIT;
    Kubetee__Enclave__V1__CloseResponse rs = KUBETEE__ENCLAVE__V1__CLOSE_RESPONSE__INIT;
    if (kt_session_established(c->s) && !kt_session_close(c->s, &rec)) {
        rq.record.data = rec.data;
        rq.record.len = rec.len;
        char name[KT_SESSION_NAME_MAX + 1];
        if (!kt_rpc_call(c->rpc, M("Close"), &rq, &rs, deadline_ms(c)))
            kt_session_open(c->s, rs.record.data, rs.record.len, name, &plain);
    }
    kt_message_clear(&rs);
    kt_buf_free(&rec);
    kt_buf_free(&plain);
    kt_session_free(c->s);
    kt_rpc_client_free(c->rpc);
    free(c);
}
