@extends base/host.c@
@block header@
/* @NAME@, the untrusted half: loads the signed enclave, checks who it is, and serves its
 * remote functions as an enclave service (gRPC, kt_service_serve) until SIGTERM, with
 * /healthz /readyz /metrics and one log line per event on stderr. It serves the
 * enclave's OCALL and its quotes too. Every call's bytes are sealed in a session between
 * the client and the enclave: this program only relays them.
 * Usage: @NAME@-host [@NAME@.signed.so] [LISTEN] [HTTP]   (default 127.0.0.1:7443, 127.0.0.1:7444) */
#include <kubetee/attest.h>
#include <kubetee/service.h>
#include <kubetee/svc.h>
#include <kubetee/tff.h>
@end@

@block log@
    kt_log(KT_LOG_INFO, "enclave.log", "line", kt_escape(req->line, strlen(req->line), safe, sizeof safe), NULL);
@end@

@block main@
int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "@NAME@.signed.so";
    kt_service_config c = {.listen = argc > 2 ? argv[2] : "127.0.0.1:7443",
                           .http = argc > 3 ? argv[3] : "127.0.0.1:7444"};
    /* before any thread starts (the enclave's, gRPC's): every thread inherits the mask */
    if (kt_svc_signalfd() < 0) return fprintf(stderr, "@NAME@: no signalfd\n"), 1;
    kt_status st = kt_attest_serve_quotes(NULL); /* the enclave's quotes, for its clients */
    if (st) return die("serving quotes", st);
    kt_enclave *e;
    st = kt_enclave_create(path, NULL, &e); /* verified before any code runs */
    if (st) return die("loading the enclave", st);
    char mre[65];
    kt_hex_encode(kt_enclave_identity_of(e)->mrenclave, 32, mre, sizeof mre);
    kt_log(KT_LOG_INFO, "enclave.loaded", "mrenclave", mre, NULL);
    st = kt_service_serve(e, &c); /* until SIGTERM or SIGINT, then drains */
    kt_enclave_destroy(e);
    return st ? die("serving", st) : 0;
}
@end@
