/* kubetee call ENDPOINT FUNCTION --json '{...}' --policy P [--key K] [--tls-ca CA ...]: one
 * remote call to an enclave served by kubetee-serve (or any kt_service_serve host). The handshake verifies the server's quote against the
 * policy before anything but the handshake is sent; then kt.Describe, through the session,
 * says what the function's request and response types are (no host can hand us other
 * field numbers), the JSON becomes the request, and the reply is printed as JSON. */
#include "cli.h"
#include "commands.h"
#include <kubetee/attest.h>
#include <kubetee/pbjson.h>
#include <kubetee/pbschema.h>
#include <kubetee/service.h>
#include <kubetee/session.h>
#include "enclave_service.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX (4u << 20)

static int usage(void)
{
    fprintf(stderr,
            "usage: kubetee call ENDPOINT FUNCTION --policy POLICY.yaml [--json '{...}' | --json-file F]\n"
            "                    [--key KEY.pem] [--collateral DIR | --sim-dir DIR] [--timeout-ms N]\n"
            "                    [--tls-ca CA.pem [--tls-cert ME.pem --tls-key ME.key] [--server-name NAME]]\n"
            "       kubetee call ENDPOINT --describe --policy POLICY.yaml [--key KEY.pem] ...\n"
            "  ENDPOINT    the service, host:port or unix:/path (kubetee-serve)\n"
            "  --policy    what the server's enclave must be (verified before anything is sent)\n"
            "  --key       this side's proof: a P-256 or SM2 key the server serves (default: a new\n"
            "              P-256 key, for servers that take any key)\n"
            "  --collateral  the DCAP collateral to verify the quote with (default: the sim\n"
            "              platform's, from --sim-dir or $KUBETEE_SIM_DIR: simulated quotes only)\n"
            "  --describe  print the remote functions and their types instead of calling\n"
            "  --tls-ca    gRPC over TLS: the CA that issued the server's certificate (without it,\n"
            "              plaintext gRPC: the session protects the calls either way)\n"
            "  --tls-cert, --tls-key  mutual TLS: this client's certificate and its key\n"
            "  --server-name  the name to check in the server's certificate (default: ENDPOINT's host)\n"
            "exit status: 0 answered, 1 refused or failed, 2 usage\n");
    return 2;
}

/* The JSON for the request: --json, --json-file, or {} */
static kt_status request_json(const char *inline_json, const char *file, kt_buf *out)
{
    if (inline_json && file) return kt_fail(KT_ERR_INVALID_ARGUMENT, "give --json or --json-file, not both");
    if (file) return kt_file_read(file, JSON_MAX, out);
    const char *j = inline_json ? inline_json : "{}";
    return kt_buf_append(out, j, strlen(j));
}

static const Kubetee__Enclave__V1__RemoteFunction *find_function(const Kubetee__Enclave__V1__DescribeResponse *d,
                                                                 const char *name)
{
    for (size_t i = 0; i < d->n_functions; i++)
        if (!strcmp(d->functions[i]->name, name)) return d->functions[i];
    return NULL;
}

static void print_functions(FILE *f, const Kubetee__Enclave__V1__DescribeResponse *d)
{
    for (size_t i = 0; i < d->n_functions; i++) {
        char n[300], a[300], b[300];
        const Kubetee__Enclave__V1__RemoteFunction *r = d->functions[i];
        fprintf(f, "  %s(%s) -> %s\n", kt_escape(r->name, strlen(r->name), n, sizeof n),
                kt_escape(r->request_type, strlen(r->request_type), a, sizeof a),
                kt_escape(r->response_type, strlen(r->response_type), b, sizeof b));
    }
}

static void print_peer(kt_service_client *c)
{
    kt_session_peer_info p;
    if (kt_service_client_peer(c, &p) || p.proof != KT_SESSION_PROOF_QUOTE) return;
    char mre[65], mrs[65];
    kt_hex_encode(p.enclave.mrenclave, 32, mre, sizeof mre);
    kt_hex_encode(p.enclave.mrsigner, 32, mrs, sizeof mrs);
    fprintf(stderr, "kubetee: server verified: mrenclave=%s mrsigner=%s prodid=%u svn=%u%s\n", mre, mrs,
            (unsigned)p.enclave.prodid, (unsigned)p.enclave.svn, p.simulated ? " (simulated quote)" : "");
}

/* Everything after the handshake; the caller closes and frees. */
static int run(kt_service_client *c, const char *function, bool describe, const kt_buf *json)
{
    kt_buf raw = {0}, wire = {0}, res = {0}, out = {0};
    kt_pbschema *schema = NULL;
    Kubetee__Enclave__V1__DescribeResponse *d = NULL;
    int rc = 1;
    kt_status st = kt_service_client_describe(c, &raw);
    if (st) {
        rc = cli_die("kt.Describe", st);
        goto done;
    }
    d = kubetee__enclave__v1__describe_response__unpack(NULL, raw.len, raw.data);
    if (!d) {
        rc = cli_die("kt.Describe", kt_fail(KT_ERR_MALFORMED, "the enclave's description does not decode"));
        goto done;
    }
    if (describe) {
        printf("remote functions:\n");
        print_functions(stdout, d);
        rc = 0;
        goto done;
    }
    const Kubetee__Enclave__V1__RemoteFunction *f = find_function(d, function);
    if (!f) {
        char n[300];
        fprintf(stderr, "kubetee: the enclave has no remote function '%s'; it has:\n",
                kt_escape(function, strlen(function), n, sizeof n));
        print_functions(stderr, d);
        goto done;
    }
    kt_buf *files = calloc(d->n_files ? d->n_files : 1, sizeof *files);
    if (!files) goto done;
    for (size_t i = 0; i < d->n_files; i++) files[i] = (kt_buf){d->files[i].data, d->files[i].len, d->files[i].len};
    st = kt_pbschema_load(files, d->n_files, &schema);
    free(files);
    if (st) {
        rc = cli_die("the enclave's message types", st);
        goto done;
    }
    const ProtobufCMessageDescriptor *rq = kt_pbschema_message(schema, f->request_type);
    const ProtobufCMessageDescriptor *rs = rq ? kt_pbschema_message(schema, f->response_type) : NULL;
    if (!rq || !rs) {
        rc = cli_die("the enclave's message types", KT_ERR_MALFORMED);
        goto done;
    }
    if ((st = kt_pbjson_to_wire(rq, (const char *)json->data, json->len, NULL, &wire))) {
        char what[400];
        snprintf(what, sizeof what, "--json is not a %s", rq->name);
        rc = cli_die(what, st);
        goto done;
    }
    if ((st = kt_service_client_call_bytes(c, f->name, rq->name, wire.data, wire.len, rs->name, &res))) {
        rc = cli_die("the call", st);
        goto done;
    }
    if ((st = kt_pbjson_print_wire(rs, res.data, res.len, NULL, &out))) {
        rc = cli_die("the reply", st);
        goto done;
    }
    printf("%s\n", (const char *)out.data);
    rc = 0;
done:
    if (d) kubetee__enclave__v1__describe_response__free_unpacked(d, NULL);
    kt_pbschema_free(schema);
    kt_buf_free(&raw);
    kt_buf_free(&wire);
    kt_buf_free(&res);
    kt_buf_free(&out);
    return rc;
}

int cmd_call(int argc, char **argv)
{
    if (argc < 1 || !strncmp(argv[0], "--", 2)) return usage();
    const char *endpoint = argv[0], *function = NULL;
    int rest = 1;
    if (argc > 1 && strncmp(argv[1], "--", 2)) function = argv[1], rest = 2;
    cli_opt o[] = {
        {"policy", true, "policy", NULL},          {"key", true, "key", NULL},
        {"json", true, "request JSON", NULL},      {"json-file", true, "request JSON file", NULL},
        {"collateral", true, "collateral", NULL},  {"sim-dir", true, "sim state", NULL},
        {"timeout-ms", true, "timeout", NULL},     {"describe", false, "describe", NULL},
        {"tls-ca", true, "TLS CA", NULL},          {"tls-cert", true, "TLS certificate", NULL},
        {"tls-key", true, "TLS key", NULL},        {"server-name", true, "TLS server name", NULL},
    };
    if (!cli_parse(argc - rest, argv + rest, o, CLI_NOPTS(o))) return usage();
    bool describe = o[7].value != NULL;
    if (!o[0].value || (!function && !describe) || (function && describe)) return usage();
    uint64_t timeout = 10000;
    if (o[6].value && (kt_decimal_parse(o[6].value, 600000, &timeout) || !timeout)) {
        fprintf(stderr, "kubetee: --timeout-ms must be a number of ms from 1 to 600000\n");
        return 2;
    }
    kt_rpc_tls tls = {.ca = o[8].value, .cert = o[9].value, .key = o[10].value, .server_name = o[11].value};
    if (!tls.ca && (tls.cert || tls.key || tls.server_name)) {
        fprintf(stderr, "kubetee: --tls-cert, --tls-key and --server-name need --tls-ca (the server's CA)\n");
        return 2;
    }
    if (!tls.cert != !tls.key) {
        fprintf(stderr, "kubetee: --tls-cert and --tls-key go together (mutual TLS)\n");
        return 2;
    }
    kt_buf json = {0};
    kt_policy *policy = NULL;
    kt_collateral *coll = NULL;
    kt_sim_qe *qe = NULL;
    kt_key *key = NULL;
    kt_service_client *c = NULL;
    int rc = 1;
    kt_status st;
    if (!describe && (st = request_json(o[2].value, o[3].value, &json))) {
        rc = cli_die("the request JSON", st);
        goto done;
    }
    if ((st = kt_policy_load(o[0].value, &policy))) {
        rc = cli_die("loading the policy", st);
        goto done;
    }
    const char *dir = o[4].value;
    if (!dir) {
        if ((st = kt_sim_qe_open(o[5].value, &qe))) {
            rc = cli_die("the sim platform's collateral (or give --collateral)", st);
            goto done;
        }
        dir = kt_sim_qe_collateral_dir(qe);
    }
    if ((st = kt_collateral_load_dir(dir, NULL, &coll))) {
        rc = cli_die("loading collateral", st);
        goto done;
    }
    if ((st = o[1].value ? cli_load_key(o[1].value, &key) : kt_key_generate(KT_KEY_P256, &key))) {
        rc = cli_die("the client key", st);
        goto done;
    }
    kt_service_client_config cc = {.key = key, .timeout_ms = (int)timeout, .tls = tls.ca ? &tls : NULL};
    cc.peer.policy = policy;
    cc.peer.collateral = coll;
    if ((st = kt_service_client_new(endpoint, &cc, &c))) {
        rc = cli_die(endpoint, st);
        goto done;
    }
    if ((st = kt_service_client_handshake(c))) {
        /* our side refused the server's proof: nothing but the Hello was sent */
        bool ours = kt_service_client_refusal(c) == KT_SESSION_PEER_REFUSED;
        rc = cli_die(ours ? "the server is refused by the policy (nothing was sent)" : "the handshake", st);
        goto done;
    }
    print_peer(c);
    rc = run(c, function, describe, &json);
    if ((st = kt_service_client_close(c)) && !rc) rc = cli_die("closing the session", st);
done:
    kt_service_client_free(c);
    kt_key_free(key);
    kt_collateral_free(coll);
    kt_sim_qe_free(qe);
    kt_policy_free(policy);
    kt_buf_free(&json);
    return rc;
}
