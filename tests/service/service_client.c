/* The enclave service's test client: a plain process with a registered key that verifies
 * the enclave against a policy and calls remotetest.Sum through a session over gRPC.
 *   service_client ADDRESS SIM_DIR KEY.pem POLICY.yaml MODE ...
 *     sum V...   one session: prints "sum=<total>", then closes it ("closed")
 *     hold N     opens N sessions, printing "session <i>: ok" or "session <i>: <error>",
 *                keeps them until stdin ends, then closes them
 *     idle MS    one session, MS of silence, then a call: "sum=..." or "error: ..."
 *     hello      prints a Hello in hex (for a client of another kind to send) */
#include "enclave_service.pb-c.h"
#include "remotetest.pb-c.h"
#include <kubetee/attest.h>
#include <kubetee/rpc.h>
#include <kubetee/session.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define M(name) "/kubetee.enclave.v1.EnclaveService/" name

static kt_rpc_client *rpc;
static kt_key *key;
static kt_policy *policy;
static kt_collateral *coll;

static kt_status die(const char *what)
{
    fprintf(stderr, "service_client: %s: %s\n", what, kt_last_error());
    fflush(stdout);
    _exit(1); /* at once: no leak report over what a refused client still holds */
}

static kt_session *new_session(void)
{
    kt_session_config c = {.role = KT_SESSION_INITIATOR, .key = key, .now = time(NULL)};
    c.peer.policy = policy;
    c.peer.collateral = coll;
    kt_session *s = NULL;
    if (kt_session_new(&c, &s)) die("session");
    return s;
}

/* The handshake over gRPC; NULL (reason in kt_last_error) when refused. */
static kt_session *connect(void)
{
    kt_session *s = new_session();
    kt_buf hello = {0}, finish = {0};
    Kubetee__Enclave__V1__HandshakeRequest rq = KUBETEE__ENCLAVE__V1__HANDSHAKE_REQUEST__INIT;
    Kubetee__Enclave__V1__HandshakeResponse rs = KUBETEE__ENCLAVE__V1__HANDSHAKE_RESPONSE__INIT,
                                            rs2 = KUBETEE__ENCLAVE__V1__HANDSHAKE_RESPONSE__INIT;
    kt_status st = kt_session_handshake(s, NULL, 0, &hello);
    rq.message.data = hello.data;
    rq.message.len = hello.len;
    if (!st) st = kt_rpc_call(rpc, M("Handshake"), &rq, &rs, 10000);
    /* the server's quote is verified against the policy here, before anything is sent */
    if (!st) st = kt_session_handshake(s, rs.message.data, rs.message.len, &finish);
    rq.message.data = finish.data;
    rq.message.len = finish.len;
    if (!st) st = kt_rpc_call(rpc, M("Handshake"), &rq, &rs2, 10000);
    kt_message_clear(&rs);
    kt_message_clear(&rs2);
    kt_buf_free(&hello);
    kt_buf_free(&finish);
    if (st) {
        kt_session_free(s);
        return NULL;
    }
    return s;
}

static kt_status sum(kt_session *s, int n, char **vals, int64_t *out)
{
    int64_t v[64];
    Remotetest__Numbers nums = REMOTETEST__NUMBERS__INIT;
    for (int i = 0; i < n && i < 64; i++) v[i] = strtoll(vals[i], NULL, 10);
    nums.values = v;
    nums.n_values = (size_t)(n < 64 ? n : 64);
    uint8_t body[1024], payload[1200];
    Kubetee__Enclave__V1__Invocation inv = KUBETEE__ENCLAVE__V1__INVOCATION__INIT;
    inv.request_type = "remotetest.Numbers";
    inv.response_type = "remotetest.Number";
    inv.request.data = body;
    inv.request.len = remotetest__numbers__pack(&nums, body);
    size_t plen = kubetee__enclave__v1__invocation__pack(&inv, payload);
    kt_buf rec = {0}, plain = {0};
    Kubetee__Enclave__V1__CallRequest rq = KUBETEE__ENCLAVE__V1__CALL_REQUEST__INIT;
    Kubetee__Enclave__V1__CallResponse rs = KUBETEE__ENCLAVE__V1__CALL_RESPONSE__INIT;
    kt_status st = kt_session_seal(s, "remotetest.Sum", payload, plen, &rec);
    rq.record.data = rec.data;
    rq.record.len = rec.len;
    if (!st) st = kt_rpc_call(rpc, M("Call"), &rq, &rs, 10000);
    char name[KT_SESSION_NAME_MAX + 1];
    if (!st) st = kt_session_open(s, rs.record.data, rs.record.len, name, &plain);
    if (!st) {
        Kubetee__Enclave__V1__CallResult *r = kubetee__enclave__v1__call_result__unpack(NULL, plain.len, plain.data);
        Remotetest__Number *num = r && !r->status ? remotetest__number__unpack(NULL, r->response.len, r->response.data) : NULL;
        if (!num) st = kt_fail(KT_ERR_MALFORMED, "no sum: %s", r ? r->reason : "no CallResult");
        else *out = num->value;
        if (num) remotetest__number__free_unpacked(num, NULL);
        if (r) kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
    }
    kt_message_clear(&rs);
    kt_buf_free(&rec);
    kt_buf_free(&plain);
    return st;
}

static kt_status close_session(kt_session *s)
{
    kt_buf rec = {0}, plain = {0};
    Kubetee__Enclave__V1__CloseRequest rq = KUBETEE__ENCLAVE__V1__CLOSE_REQUEST__INIT;
    Kubetee__Enclave__V1__CloseResponse rs = KUBETEE__ENCLAVE__V1__CLOSE_RESPONSE__INIT;
    kt_status st = kt_session_close(s, &rec);
    rq.record.data = rec.data;
    rq.record.len = rec.len;
    if (!st) st = kt_rpc_call(rpc, M("Close"), &rq, &rs, 10000);
    char name[KT_SESSION_NAME_MAX + 1];
    if (!st && kt_session_open(s, rs.record.data, rs.record.len, name, &plain) != KT_ERR_CANCELLED)
        st = kt_fail(KT_ERR_VERIFY, "the server's close did not come back");
    if (!st) st = kt_session_end(s);
    kt_message_clear(&rs);
    kt_buf_free(&rec);
    kt_buf_free(&plain);
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 6) return fprintf(stderr, "usage: service_client ADDRESS SIM_DIR KEY.pem POLICY.yaml MODE ...\n"), 2;
    kt_buf pem = {0}, yaml = {0};
    kt_sim_qe *qe = NULL;
    if (kt_file_read(argv[3], 1 << 16, &pem) || kt_key_from_pem((const char *)pem.data, pem.len, &key)) die(argv[3]);
    if (kt_file_read(argv[4], 1 << 16, &yaml) || kt_policy_parse((const char *)yaml.data, yaml.len, &policy)) die(argv[4]);
    if (kt_sim_qe_open(argv[2], &qe) || kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &coll)) die("collateral");
    if (kt_rpc_client_new(argv[1], NULL, &rpc)) die(argv[1]);
    const char *mode = argv[5];
    int rc = 0;
    if (!strcmp(mode, "hello")) {
        kt_session *s = new_session();
        kt_buf hello = {0};
        if (kt_session_handshake(s, NULL, 0, &hello)) die("hello");
        for (size_t i = 0; i < hello.len; i++) printf("%02x", hello.data[i]);
        printf("\n");
        kt_buf_free(&hello);
        kt_session_free(s);
    } else if (!strcmp(mode, "sum") || !strcmp(mode, "idle")) {
        kt_session *s = connect();
        if (!s) die("handshake");
        if (!strcmp(mode, "idle")) usleep((useconds_t)atoi(argv[6]) * 1000);
        int64_t total;
        char *one[] = {"1"};
        kt_status st = !strcmp(mode, "sum") ? sum(s, argc - 6, argv + 6, &total) : sum(s, 1, one, &total);
        if (st) {
            printf("error: %s\n", kt_last_error());
        } else {
            printf("sum=%lld\n", (long long)total);
            if (close_session(s)) die("close");
            printf("closed\n");
        }
        kt_session_free(s);
    } else if (!strcmp(mode, "hold")) {
        int n = atoi(argv[6]);
        kt_session *held[64] = {0};
        for (int i = 0; i < n && i < 64; i++) {
            held[i] = connect();
            printf("session %d: %s\n", i, held[i] ? "ok" : kt_last_error());
            fflush(stdout);
        }
        char line[16];
        while (fgets(line, sizeof line, stdin)) {}
        for (int i = 0; i < n && i < 64; i++)
            if (held[i]) close_session(held[i]), kt_session_free(held[i]);
    } else {
        fprintf(stderr, "service_client: no mode %s\n", mode);
        rc = 2;
    }
    fflush(stdout);
    kt_rpc_client_free(rpc);
    kt_collateral_free(coll);
    kt_sim_qe_free(qe);
    kt_policy_free(policy);
    kt_key_free(key);
    kt_buf_free(&pem);
    kt_buf_free(&yaml);
    return rc;
}
