@extends base/enclave.c@
@block header@
/* @NAME@, the trusted half: an enclave service. Each KT_REMOTE_FUNCTION is reached only
 * through an attested session that a client opened with this enclave (kubetee call, or
 * kt_service_client_* in a program or another enclave); the host relays the session's
 * sealed bytes and can neither read nor call these functions. No OS calls here: files,
 * sockets, time and environment go through OCALLs to the host (see log_line). */
#include <kubetee/service.h>
#include <kubetee/trusted.h>
#include "app.pb-c.h"
#include "clients.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static uint64_t greetings; /* enclave memory: lives as long as the enclave is loaded */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* calls run on several threads */
@end@

@block functions@
static kt_status greet(const App__GreetRequest *req, App__GreetReply *res)
{
    if (strlen(req->name) > 64) return kt_fail(KT_ERR_INVALID_ARGUMENT, "name: at most 64 bytes");
    /* who called: what the session's handshake proved, never what the host says */
    kt_session_peer_info who;
    uint8_t id[KT_SERVICE_ID_LEN];
    kt_status st = kt_service_caller(&who, id);
    if (st) return st;
    char *caller = kt_call_alloc(2 * 8 + 1); /* call memory: freed after the reply is sent */
    char *s = kt_call_alloc(128);
    if (!caller || !s) return KT_ERR_NO_MEMORY;
    kt_hex_encode(who.public_key, 8, caller, 2 * 8 + 1);
    snprintf(s, 128, "Hello, %s, from inside @NAME@!", req->name);
    res->greeting = s;
    res->caller = caller;
    pthread_mutex_lock(&lock);
    res->count = ++greetings;
    pthread_mutex_unlock(&lock);
    return log_line("greeted someone");
}
KT_REMOTE_FUNCTION(greet, "app.Greet", App__GreetRequest, app__greet_request, App__GreetReply,
                   app__greet_reply)

/* Who may open a session: the clients' P-256 keys, compiled in (clients.h is made at
 * build time from the keys CMakeLists.txt lists), so they are measured into MRENCLAVE
 * and no host can add one. Client enclaves proving themselves by quote would be served
 * under a compiled-in policy: KT_SERVICE_CLIENT_POLICY("{...}") (kubetee/service.h). */
KT_SERVICE_CLIENT_KEYS(APP_CLIENT_KEYS)
@end@
