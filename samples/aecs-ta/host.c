/* samples/aecs-ta, the TA's host: loads the TA enclave on this machine's sim platform
 * ($KUBETEE_SIM_DIR), serves what it asks of the host (quotes from the simulated QE,
 * collateral and time for AECS's quote, kt.service.Relay carrying its session's bytes
 * over gRPC) and runs it. The host holds nothing: no key, no secret, no state of the TA.
 *   aecs_ta_host TA.signed.so AECS_ADDRESS SERVICE SECRET CIPHERTEXT_FILE */
#include <kubetee/attest.h>
#include <kubetee/service.h>
#include <kubetee/tff.h>
#include "aecs_ta.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *what, kt_status st)
{
    char shown[1024];
    fprintf(stderr, "aecs_ta_host: %s: %s (%s)\n", what,
            kt_escape_text(kt_last_error(), strlen(kt_last_error()), shown, sizeof shown),
            kt_status_name(st));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 6) return fprintf(stderr, "usage: aecs_ta_host TA.signed.so AECS_ADDRESS SERVICE SECRET CIPHERTEXT_FILE\n"), 2;
    kt_log_set_level(KT_LOG_WARN);
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with what goes to stderr */
    kt_sim_qe *qe = NULL;
    kt_enclave *e = NULL;
    kt_buf ct = {0};
    kt_status st = kt_file_read(argv[5], 1 << 16, &ct);
    if (st) return die(argv[5], st);
    if (!(st = kt_sim_qe_open(NULL, &qe))) st = kt_attest_serve_quotes(NULL);
    /* AECS's quote is judged inside the TA; the host only hands over collateral */
    if (!st) st = kt_attest_serve_collateral(kt_sim_qe_collateral_dir(qe), NULL, NULL);
    if (!st) st = kt_service_relay_serve(NULL);
    if (st) return die("serving the enclave's host functions", st);
    if ((st = kt_enclave_create(argv[1], NULL, &e))) return die("loading the TA", st);
    char hex[65];
    kt_hex_encode(kt_enclave_identity_of(e)->mrenclave, 32, hex, sizeof hex);
    const char *machine = getenv("KUBETEE_SIM_DIR");
    printf("TA               %s (this process, on the sim platform %s)\n", hex, machine ? machine : "~/.kubetee/sim");
    AecsTa__RunRequest req = AECS_TA__RUN_REQUEST__INIT;
    AecsTa__RunReply res = AECS_TA__RUN_REPLY__INIT;
    req.aecs = argv[2];
    req.service = argv[3];
    req.name = argv[4];
    req.ciphertext.data = ct.data;
    req.ciphertext.len = ct.len;
    st = kt_enclave_call(e, "aecs_ta.Run", &req, &res);
    int rc = 0;
    if (st) {
        rc = die("the TA", st);
    } else {
        kt_hex_encode(res.aecs_mrenclave.data, res.aecs_mrenclave.len < 32 ? res.aecs_mrenclave.len : 32, hex, sizeof hex);
        printf("AECS verified    %s\n", hex);
        printf("  by the TA      its signer and product pinned, under the sample's simulation root\n");
        printf("secret           %s/%s version %llu, public half sha256 %s\n", argv[3], argv[4],
               (unsigned long long)res.version, res.public_sha256);
        char shown[1024];
        printf("decrypted        %s\n", kt_escape((const char *)res.plaintext.data, res.plaintext.len, shown, sizeof shown));
    }
    kt_message_clear(&res);
    kt_buf_free(&ct);
    kt_enclave_destroy(e);
    kt_sim_qe_free(qe);
    return rc;
}
