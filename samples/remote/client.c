/* samples/remote, the client enclave: calls the server enclave through an attested
 * session. It proves itself with its own quote; it accepts the server only if the
 * server's quote passes the policy it compiles in (the sample's signer, the server's
 * product ID, no debug enclave, the sample's simulation root): no host can choose whom
 * it talks to. Every step goes to the host as the OCALL kt.service.Relay, which only
 * carries bytes. */
#include <kubetee/attest.h>
#include <kubetee/service.h>
#include <kubetee/trusted.h>
#include "remote.pb-c.h"
#include "remote_pins.h"

#include <string.h>

static const char server_policy[] = "{\"allow_simulation\":true,\"simulation_root\":\"" REMOTE_SIM_ROOT
                                    "\",\"rules\":[{\"mrsigner\":\"" REMOTE_MRSIGNER
                                    "\",\"isvprodid\":7,\"allow_debug\":false}]}";

static kt_status quote(void *ctx, const uint8_t rd[64], kt_buf *out)
{
    (void)ctx;
    return kt_quote_create(rd, out);
}

/* The three calls through the session; their results into res (call memory). */
static kt_status calls(kt_service_client *c, const Remote__RunRequest *req, Remote__RunReply *res)
{
    Remote__PutRequest put = REMOTE__PUT_REQUEST__INIT;
    Remote__GetRequest get = REMOTE__GET_REQUEST__INIT;
    Remote__SignRequest sign = REMOTE__SIGN_REQUEST__INIT;
    ProtobufCMessage *put_r = NULL, *get_r = NULL, *sign_r = NULL;
    put.key = get.key = req->key;
    put.value = req->value;
    sign.message = req->message;
    kt_status st = kt_service_client_call(c, "remote.Put", &put.base, &remote__put_reply__descriptor, &put_r);
    if (!st) st = kt_service_client_call(c, "remote.Get", &get.base, &remote__get_reply__descriptor, &get_r);
    if (!st) st = kt_service_client_call(c, "remote.Sign", &sign.base, &remote__sign_reply__descriptor, &sign_r);
    if (!st) {
        const Remote__GetReply *g = (const Remote__GetReply *)get_r;
        const Remote__SignReply *s = (const Remote__SignReply *)sign_r;
        res->version = ((const Remote__PutReply *)put_r)->version;
        if (!g->found) st = kt_fail(KT_ERR_NOT_FOUND, "remote.Get: the value just put is not there");
        if (!st) st = kt_call_bytes(&res->value, g->value.data, g->value.len);
        if (!st) st = kt_call_bytes(&res->signature, s->signature.data, s->signature.len);
        if (!st) st = kt_call_bytes(&res->public_key, s->public_key.data, s->public_key.len);
    }
    if (put_r) protobuf_c_message_free_unpacked(put_r, NULL);
    if (get_r) protobuf_c_message_free_unpacked(get_r, NULL);
    if (sign_r) protobuf_c_message_free_unpacked(sign_r, NULL);
    return st;
}

static kt_status run(const Remote__RunRequest *req, Remote__RunReply *res)
{
    kt_policy *policy = NULL;
    kt_service_client *c = NULL;
    kt_status st = kt_policy_parse(server_policy, strlen(server_policy), &policy);
    if (st) return kt_fail_context(st, "the client's policy for the server");
    /* collateral NULL: asked of the host per quote and judged by the policy's pinned root;
     * now 0: the host's clock, never before collateral this enclave has seen */
    kt_service_client_config cfg = {.quote = quote};
    cfg.peer.policy = policy;
    if (!(st = kt_service_client_connect(req->target, &cfg, &c))) {
        kt_session_peer_info p;
        if (!(st = kt_service_client_peer(c, &p))) {
            res->server_prodid = p.enclave.prodid;
            res->server_simulated = p.simulated;
            st = kt_call_bytes(&res->server_mrenclave, p.enclave.mrenclave, 32);
            if (!st) st = kt_call_bytes(&res->server_mrsigner, p.enclave.mrsigner, 32);
        }
        if (!st) st = calls(c, req, res);
        kt_status closed = kt_service_client_close(c);
        if (!st) st = closed;
    }
    kt_service_client_free(c);
    kt_policy_free(policy);
    return st;
}
KT_TRUSTED_FUNCTION(run, "RunClient", Remote__RunRequest, remote__run_request, Remote__RunReply, remote__run_reply)
