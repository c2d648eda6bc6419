/* An enclave calling app.Greet through a session of its own, proving itself by its quote:
 * built and signed to show kubetee::service_client_trusted links into an enclave from the
 * installed SDK (signing refuses an OS import); tests/packaging/project.sh does not run it. */
#include <kubetee/attest.h>
#include <kubetee/service.h>
#include <kubetee/trusted.h>
#include "app.pb-c.h"

#include <string.h>

static kt_status quote(void *ctx, const uint8_t rd[64], kt_buf *out)
{
    (void)ctx;
    return kt_quote_create(rd, out);
}

static kt_status probe(const App__GreetRequest *req, App__GreetReply *res)
{
    static const char policy_json[] = "{\"rules\":[{\"isvprodid\":1,\"allow_debug\":false}]}";
    kt_policy *policy = NULL;
    kt_service_client *c = NULL;
    ProtobufCMessage *reply = NULL;
    kt_status st = kt_policy_parse(policy_json, strlen(policy_json), &policy);
    if (st) return st;
    kt_service_client_config cfg = {.quote = quote};
    cfg.peer.policy = policy;
    App__GreetRequest greet = APP__GREET_REQUEST__INIT;
    greet.name = (char *)"probe";
    if (!(st = kt_service_client_connect(req->name, &cfg, &c)))
        st = kt_service_client_call(c, "app.Greet", &greet.base, &app__greet_reply__descriptor, &reply);
    if (!st) res->count = ((App__GreetReply *)reply)->count;
    if (reply) protobuf_c_message_free_unpacked(reply, NULL);
    if (c) kt_service_client_close(c);
    kt_service_client_free(c);
    kt_policy_free(policy);
    return st;
}
KT_TRUSTED_FUNCTION(probe, "Probe", App__GreetRequest, app__greet_request, App__GreetReply, app__greet_reply)
