/* The enclave service's test client: a plain process with a registered key that verifies
 * the enclave against a policy and calls remotetest.Sum through a session over gRPC, by
 * the client library (kt_service_client_*).
 *   service_client ADDRESS SIM_DIR KEY.pem POLICY.yaml MODE ...
 *     sum V...   one session: prints "sum=<total>", then closes it ("closed")
 *     hold N     opens N sessions, printing "session <i>: ok" or "session <i>: <error>",
 *                keeps them until stdin ends, then closes them
 *     idle MS    one session, MS of silence, then a call: "sum=..." or "error: ..."
 *     hello      prints a Hello in hex (for a client of another kind to send) */
#include "remotetest.pb-c.h"
#include <kubetee/attest.h>
#include <kubetee/service.h>
#include <kubetee/session.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static kt_key *key;
static kt_policy *policy;
static kt_collateral *coll;
static const char *target;

static kt_status die(const char *what)
{
    fprintf(stderr, "service_client: %s: %s\n", what, kt_last_error());
    fflush(stdout);
    _exit(1); /* at once: no leak report over what a refused client still holds */
}

/* The handshake, by the client library; NULL (reason in kt_last_error) when refused. */
static kt_service_client *connect_to(void)
{
    kt_service_client_config c = {.key = key};
    c.peer.policy = policy;
    c.peer.collateral = coll;
    kt_service_client *s = NULL;
    return kt_service_client_connect(target, &c, &s) ? NULL : s;
}

static kt_status sum(kt_service_client *s, int n, char **vals, int64_t *out)
{
    int64_t v[64];
    Remotetest__Numbers nums = REMOTETEST__NUMBERS__INIT;
    for (int i = 0; i < n && i < 64; i++) v[i] = strtoll(vals[i], NULL, 10);
    nums.values = v;
    nums.n_values = (size_t)(n < 64 ? n : 64);
    ProtobufCMessage *r = NULL;
    kt_status st = kt_service_client_call(s, "remotetest.Sum", &nums.base, &remotetest__number__descriptor, &r);
    if (!st) *out = ((Remotetest__Number *)r)->value;
    if (r) protobuf_c_message_free_unpacked(r, NULL);
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
    target = argv[1];
    const char *mode = argv[5];
    int rc = 0;
    if (!strcmp(mode, "hello")) {
        /* a bare Hello, for a client of another kind to send: the session library itself */
        kt_session_config c = {.role = KT_SESSION_INITIATOR, .key = key, .now = time(NULL)};
        c.peer.policy = policy;
        c.peer.collateral = coll;
        kt_session *s = NULL;
        if (kt_session_new(&c, &s)) die("session");
        kt_buf hello = {0};
        if (kt_session_handshake(s, NULL, 0, &hello)) die("hello");
        for (size_t i = 0; i < hello.len; i++) printf("%02x", hello.data[i]);
        printf("\n");
        kt_buf_free(&hello);
        kt_session_free(s);
    } else if (!strcmp(mode, "sum") || !strcmp(mode, "idle")) {
        kt_service_client *s = connect_to();
        if (!s) die("handshake");
        if (!strcmp(mode, "idle")) usleep((useconds_t)atoi(argv[6]) * 1000);
        int64_t total;
        char *one[] = {"1"};
        kt_status st = !strcmp(mode, "sum") ? sum(s, argc - 6, argv + 6, &total) : sum(s, 1, one, &total);
        if (st) {
            printf("error: %s\n", kt_last_error());
        } else {
            printf("sum=%lld\n", (long long)total);
            if (kt_service_client_close(s)) die("close");
            printf("closed\n");
        }
        kt_service_client_free(s);
    } else if (!strcmp(mode, "hold")) {
        int n = atoi(argv[6]);
        kt_service_client *held[64] = {0};
        for (int i = 0; i < n && i < 64; i++) {
            held[i] = connect_to();
            printf("session %d: %s\n", i, held[i] ? "ok" : kt_last_error());
            fflush(stdout);
        }
        char line[16];
        while (fgets(line, sizeof line, stdin)) {}
        for (int i = 0; i < n && i < 64; i++)
            if (held[i]) kt_service_client_close(held[i]), kt_service_client_free(held[i]);
    } else {
        fprintf(stderr, "service_client: no mode %s\n", mode);
        rc = 2;
    }
    fflush(stdout);
    kt_collateral_free(coll);
    kt_sim_qe_free(qe);
    kt_policy_free(policy);
    kt_key_free(key);
    kt_buf_free(&pem);
    kt_buf_free(&yaml);
    return rc;
}
