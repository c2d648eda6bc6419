@extends base/host.c@
@block header@
/* @NAME@, the untrusted half: loads the signed enclave and serves what it needs to reach
 * AECS: quotes of this enclave, DCAP collateral and time (with which the enclave verifies
 * AECS's quote itself) and the relay (kt.service.Relay), which carries the session's
 * sealed bytes to AECS over gRPC. It sees neither the key nor the session's plaintext.
 * Usage: @NAME@-host [@NAME@.signed.so] [AECS host:port] [message] */
#include <kubetee/attest.h>
#include <kubetee/service.h>
#include <kubetee/tff.h>
@end@

@block main@
int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "@NAME@.signed.so";
    const char *aecs = argc > 2 ? argv[2] : "127.0.0.1:7443";
    const char *message = argc > 3 ? argv[3] : "only @NAME@ can read this";
    kt_log_set_level(KT_LOG_WARN);
    kt_sim_qe *qe = NULL;
    kt_status st = kt_attest_serve_quotes(NULL); /* this enclave's quotes, for AECS */
    /* collateral for AECS's quote: the sim platform's here; a PCCS URL on SGX machines */
    if (!st) st = kt_sim_qe_open(NULL, &qe);
    if (!st) st = kt_attest_serve_collateral(kt_sim_qe_collateral_dir(qe), NULL, NULL);
    kt_sim_qe_free(qe);
    if (!st) st = kt_service_relay_serve(NULL); /* plaintext gRPC: the session protects it */
    if (st) return die("serving the enclave's OCALLs", st);
    kt_enclave *e;
    if ((st = kt_enclave_create(path, NULL, &e))) return die("loading the enclave", st);
    char hex[65];
    kt_hex_encode(kt_enclave_identity_of(e)->mrenclave, 32, hex, sizeof hex);
    printf("MRENCLAVE   %s\n", hex);

    App__StartRequest req = APP__START_REQUEST__INIT;
    App__StartReply res = APP__START_REPLY__INIT;
    req.aecs = (char *)aecs;
    req.message = (char *)message;
    if ((st = kt_enclave_call(e, "Start", &req, &res))) {
        kt_enclave_destroy(e);
        return die("Start", st);
    }
    kt_hex_encode(res.aecs_mrenclave.data, res.aecs_mrenclave.len, hex, sizeof hex);
    printf("AECS        %s\n", hex);
    kt_hex_encode(res.key_id.data, res.key_id.len, hex, sizeof hex);
    printf("key         %s version %llu, %s\n", hex, (unsigned long long)res.version,
           res.created ? "made by AECS now" : "handed back by AECS");
    printf("sealed      %zu bytes under it\n", res.sealed.len);
    kt_message_clear(&res);
    kt_enclave_destroy(e);
    return 0;
}
@end@
