@block header@
/* @NAME@, the untrusted half: loads the signed enclave, checks who it is, calls it, and
 * serves its OCALL. Usage: @NAME@-host [@NAME@.signed.so] [name] */
#include <kubetee/tff.h>
@end@
#include "app.pb-c.h"

#include <stdio.h>
#include <string.h>

static kt_status log_ocall(const App__LogRequest *req, App__LogReply *res)
{
    (void)res;
    char safe[256]; /* the enclave's words are input like any other: escaped */
@block log@
    printf("enclave log %s\n", kt_escape(req->line, strlen(req->line), safe, sizeof safe));
@end@
    return KT_OK;
}
KT_UNTRUSTED_FUNCTION(log_ocall, "Log", App__LogRequest, app__log_request, App__LogReply,
                      app__log_reply)

static int die(const char *what, kt_status st)
{
    fprintf(stderr, "@NAME@: %s: %s (%s)\n", what, kt_last_error(), kt_status_name(st));
    return 1;
}

@block main@
int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "@NAME@.signed.so";
    const char *name = argc > 2 ? argv[2] : "world";
    kt_log_set_level(KT_LOG_WARN);
    kt_enclave *e;
    kt_status st = kt_enclave_create(path, NULL, &e); /* verified before any code runs */
    if (st) return die("loading the enclave", st);
    char mre[65];
    kt_hex_encode(kt_enclave_identity_of(e)->mrenclave, 32, mre, sizeof mre);
    printf("MRENCLAVE   %s\n", mre);

    App__GreetRequest greq = APP__GREET_REQUEST__INIT;
    App__GreetReply gres = APP__GREET_REPLY__INIT;
    greq.name = (char *)name;
    for (int i = 0; i < 2; i++) {
        if ((st = kt_enclave_call(e, "Greet", &greq, &gres))) return die("Greet", st);
        printf("Greet       %s (greeting %llu)\n", gres.greeting, (unsigned long long)gres.count);
        kt_message_clear(&gres); /* the caller owns the reply's fields */
    }

    const char *secret = "only @NAME@ can read this";
    App__SealRequest sreq = APP__SEAL_REQUEST__INIT;
    App__SealReply sres = APP__SEAL_REPLY__INIT;
    sreq.data.data = (uint8_t *)secret;
    sreq.data.len = strlen(secret);
    if ((st = kt_enclave_call(e, "Seal", &sreq, &sres))) return die("Seal", st);
    App__UnsealRequest ureq = APP__UNSEAL_REQUEST__INIT;
    App__UnsealReply ures = APP__UNSEAL_REPLY__INIT;
    ureq.blob = sres.blob;
    if ((st = kt_enclave_call(e, "Unseal", &ureq, &ures))) return die("Unseal", st);
    int ok = ures.data.len == sreq.data.len && !memcmp(ures.data.data, secret, sreq.data.len);
    printf("Seal        %zu bytes sealed into %zu, unsealed: %s\n", sreq.data.len, sres.blob.len,
           ok ? "round trip ok" : "MISMATCH");
    kt_message_clear(&sres);
    kt_message_clear(&ures);
    kt_enclave_destroy(e);
    return ok ? 0 : 1;
}
@end@
