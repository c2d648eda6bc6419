/* samples/remote, the client enclave's host: loads the client enclave, serves what it
 * asks of the host (quotes from the simulated QE, collateral and time for the server's
 * quote, and kt.service.Relay carrying its session's bytes over gRPC), and runs it.
 *   remote_client CLIENT.signed.so SERVER_ADDRESS KEY VALUE MESSAGE */
#include <kubetee/attest.h>
#include <kubetee/service.h>
#include <kubetee/tff.h>
#include "remote.pb-c.h"

#include <stdio.h>
#include <string.h>

static int die(const char *what, kt_status st)
{
    fprintf(stderr, "remote_client: %s: %s (%s)\n", what, kt_last_error(), kt_status_name(st));
    return 1;
}

static void hex(const char *label, const ProtobufCBinaryData *b)
{
    char h[129];
    kt_hex_encode(b->data, b->len < 64 ? b->len : 64, h, sizeof h);
    printf("%-16s %s\n", label, h);
}

int main(int argc, char **argv)
{
    if (argc != 6) return fprintf(stderr, "usage: remote_client CLIENT.signed.so SERVER KEY VALUE MESSAGE\n"), 2;
    kt_log_set_level(KT_LOG_WARN);
    kt_sim_qe *qe = NULL;
    kt_enclave *e = NULL;
    kt_status st = kt_sim_qe_open(NULL, &qe);
    if (!st) st = kt_attest_serve_quotes(NULL);
    /* the server's quote is judged inside the enclave; the host only hands over collateral */
    if (!st) st = kt_attest_serve_collateral(kt_sim_qe_collateral_dir(qe), NULL, NULL);
    if (!st) st = kt_service_relay_serve(NULL);
    if (st) return die("serving the enclave's host functions", st);
    if ((st = kt_enclave_create(argv[1], NULL, &e))) return die("loading the client enclave", st);
    const kt_enclave_identity *id = kt_enclave_identity_of(e);
    char mre[65];
    kt_hex_encode(id->mrenclave, 32, mre, sizeof mre);
    printf("client enclave   %s (prodid %u, this process)\n", mre, (unsigned)id->config.prodid);
    Remote__RunRequest req = REMOTE__RUN_REQUEST__INIT;
    Remote__RunReply res = REMOTE__RUN_REPLY__INIT;
    req.target = argv[2];
    req.key = argv[3];
    req.value.data = (uint8_t *)argv[4];
    req.value.len = strlen(argv[4]);
    req.message.data = (uint8_t *)argv[5];
    req.message.len = strlen(argv[5]);
    if ((st = kt_enclave_call(e, "RunClient", &req, &res))) {
        kt_enclave_destroy(e);
        kt_sim_qe_free(qe);
        return die("RunClient", st);
    }
    hex("server verified", &res.server_mrenclave);
    printf("  by the enclave  mrsigner and prodid %u pinned%s\n", res.server_prodid,
           res.server_simulated ? ", simulated quote under the pinned simulation root" : "");
    printf("remote.Put       version %llu\n", (unsigned long long)res.version);
    printf("remote.Get       \"%.*s\"\n", (int)res.value.len, (const char *)res.value.data);
    hex("remote.Sign", &res.signature);
    hex("  by key", &res.public_key);
    kt_message_clear(&res);
    kt_enclave_destroy(e);
    kt_sim_qe_free(qe);
    return 0;
}
