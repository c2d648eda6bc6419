@block header@
/* @NAME@, the trusted half: what runs inside the enclave. Each KT_TRUSTED_FUNCTION is an
 * ECALL the host calls by name with the messages of app.proto. No OS calls here: files,
 * sockets, time and environment go through OCALLs to the host (see log_line). */
#include <kubetee/trusted.h>
#include "app.pb-c.h"

#include <stdio.h>
#include <string.h>

static uint64_t greetings; /* enclave memory: lives as long as the enclave is loaded */
@end@

static kt_status log_line(const char *line)
{
    App__LogRequest req = APP__LOG_REQUEST__INIT;
    App__LogReply res = APP__LOG_REPLY__INIT;
    req.line = (char *)line;
    return kt_ocall("Log", &req, &res);
}

@block functions@
static kt_status greet(const App__GreetRequest *req, App__GreetReply *res)
{
    size_t n = strlen(req->name) + 64;
    char *s = kt_call_alloc(n); /* call memory: freed after the reply is sent */
    if (!s) return KT_ERR_NO_MEMORY;
    snprintf(s, n, "Hello, %s, from inside @NAME@!", req->name);
    res->greeting = s;
    res->count = ++greetings;
    return log_line("greeted someone");
}
KT_TRUSTED_FUNCTION(greet, "Greet", App__GreetRequest, app__greet_request, App__GreetReply,
                    app__greet_reply)

static kt_status seal(const App__SealRequest *req, App__SealReply *res)
{
    kt_buf blob = {0};
    kt_status st = kt_seal(KT_SEAL_MRENCLAVE, NULL, 0, req->data.data, req->data.len, &blob);
    if (!st) st = kt_call_bytes(&res->blob, blob.data, blob.len);
    kt_buf_free(&blob);
    return st;
}
KT_TRUSTED_FUNCTION(seal, "Seal", App__SealRequest, app__seal_request, App__SealReply,
                    app__seal_reply)

static kt_status unseal(const App__UnsealRequest *req, App__UnsealReply *res)
{
    kt_buf plain = {0};
    kt_status st = kt_unseal(req->blob.data, req->blob.len, &plain, NULL);
    if (!st) st = kt_call_bytes(&res->data, plain.data, plain.len);
    kt_buf_free(&plain);
    return st;
}
KT_TRUSTED_FUNCTION(unseal, "Unseal", App__UnsealRequest, app__unseal_request,
                    App__UnsealReply, app__unseal_reply)
@end@
