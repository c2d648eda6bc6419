/* kubetee sign --signer, kubetee signer keys: kubetee-signer's client, over mutual TLS
 * with this client's own certificate. */
#include "cli.h"
#include "commands.h"
#include "signer_client.h"
#include "signer.pb-c.h"

#include <kubetee/rpc.h>
#include <kubetee/tlog.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SIGNER_TIMEOUT_MS 30000
/* The options naming the signer and this client's TLS identity (who: "this client"), the
 * first five of every verb's table; SIGNER_AT(o) is the endpoint they give. */
#define SIGNER_OPTS(who)                                                                   \
    {"signer", true, "kubetee-signer's address"},                                          \
        {"tls-ca", true, "CA that issued the signer's certificate"},                       \
        {"tls-cert", true, who "'s certificate"}, {"tls-key", true, who "'s private key"}, \
        {"server-name", true, "name to check in the signer's certificate"}
#define SIGNER_AT(o) {(o)[0].value, (o)[1].value, (o)[2].value, (o)[3].value, (o)[4].value}

static kt_status connect_to(const signer_endpoint *e, kt_rpc_client **c)
{
    if (!e->ca || !e->cert || !e->key)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "the signer needs --tls-ca, --tls-cert and "
                                                "--tls-key (mutual TLS)");
    kt_rpc_tls tls = {.ca = e->ca, .cert = e->cert, .key = e->key,
                      .server_name = e->server_name};
    return kt_rpc_client_new(e->address, &tls, c);
}

kt_status signer_sign(const signer_endpoint *e, const signer_request *r, kt_key **pub,
                      kt_buf *sig)
{
    int wait_s = r->wait_s;
    kt_rpc_client *c;
    kt_status st = connect_to(e, &c);
    if (st) return st;
    Kubetee__Signer__V1__SignRequest req = KUBETEE__SIGNER__V1__SIGN_REQUEST__INIT;
    Kubetee__Signer__V1__SignResponse res = KUBETEE__SIGNER__V1__SIGN_RESPONSE__INIT;
    req.key = (char *)r->key;
    req.sigdata.data = (uint8_t *)r->sigdata;
    req.sigdata.len = KT_SIGDATA_LEN;
    req.image.data = (uint8_t *)r->image;
    req.image.len = r->image ? r->image_len : 0;
    req.config = (char *)(r->config ? r->config : "");
    /* a key under M-of-N approval answers FAILED_PRECONDITION until M officers approved:
     * asked again every 2 s for up to wait_s */
    char said[512] = "";
    time_t until = time(NULL) + wait_s;
    for (;;) {
        st = kt_rpc_call(c, "/kubetee.signer.v1.Signer/Sign", &req, &res, SIGNER_TIMEOUT_MS);
        if (st != KT_ERR_STATE || !strstr(kt_last_error(), "awaiting approval") ||
            time(NULL) >= until)
            break;
        if (strcmp(said, kt_last_error())) {
            snprintf(said, sizeof said, "%s", kt_last_error());
            fprintf(stderr, "kubetee: %s; waiting\n", said);
        }
        sleep(2);
    }
    kt_rpc_client_free(c);
    if (st) return kt_fail_context(st, "signer");
    if (res.modulus.len != KT_RSA3072_LEN || res.signature.len != KT_RSA3072_LEN)
        st = kt_fail(KT_ERR_MALFORMED, "signer: the answer's modulus or signature is not 384 "
                                       "bytes");
    if (!st) st = kt_key_from_public_raw(KT_KEY_RSA3072_E3, res.modulus.data, res.modulus.len, pub);
    if (!st) st = kt_buf_append(sig, res.signature.data, res.signature.len);
    kt_message_clear(&res);
    return st;
}

/* With --enclave: the entries that signed this MRENCLAVE with this MRSIGNER. */
typedef struct {
    const kt_enclave_identity *id;
    unsigned found;
} log_search;

static kt_status each_entry(void *arg, const kt_tlog_entry *e)
{
    log_search *s = arg;
    if (!s->id || !kt_equal(e->mrenclave, s->id->mrenclave, 32) ||
        !kt_equal(e->mrsigner, s->id->mrsigner, 32))
        return KT_OK;
    s->found++;
    printf("signed: entry %llu time %llu key %s client %s prodid %u svn %u debug %s\n",
           (unsigned long long)e->seq, (unsigned long long)e->time, e->key, e->client,
           (unsigned)e->prodid, (unsigned)e->svn, e->debug ? "true" : "false");
    return KT_OK;
}

static int log_verify(int argc, char **argv)
{
    cli_opt o[] = {{"log", true, "the signer's log"},
                   {"head", true, "its signed head"},
                   {"key", true, "the signer's log key (public PEM)"},
                   {"enclave", true, "a signed enclave: was it signed, by whom"}};
    if (!cli_parse(argc, argv, o, CLI_NOPTS(o)) || !o[0].value || !o[1].value || !o[2].value) {
        fprintf(stderr, "usage: kubetee signer log verify --log LOG --head HEAD --key "
                        "log-key.pub.pem [--enclave e.signed.so]\n"
                        "exit status: 0 the log verifies (and signed the enclave), 1 not\n");
        return 2;
    }
    kt_buf log = {0}, head = {0}, img = {0};
    kt_key *pub = NULL;
    kt_signed_image si;
    kt_enclave_identity id;
    log_search s = {NULL, 0};
    kt_tlog_head h;
    int rc = 0;
    kt_status st;
    if ((st = kt_file_read(o[0].value, 1u << 30, &log))) rc = cli_die("reading the log", st);
    else if ((st = kt_file_read(o[1].value, 4096, &head))) rc = cli_die("reading the head", st);
    else if ((st = cli_load_key(o[2].value, &pub))) rc = cli_die("reading the log key", st);
    else if (o[3].value && ((st = kt_file_read(o[3].value, KT_IMAGE_MAX, &img)) ||
                            (st = kt_image_verify(img.data, img.len, &si, &id))))
        rc = cli_die("reading the enclave", st);
    if (!rc && o[3].value) s.id = &id;
    if (!rc && (st = kt_tlog_verify(log.data, log.len, head.data, head.len, pub, each_entry, &s,
                                    &h)))
        rc = cli_die("the log does not verify", st);
    if (!rc) {
        char hex[65];
        kt_hex_encode(h.hash, 32, hex, sizeof hex);
        printf("log verifies: %llu entries, head %s, signed at %llu\n",
               (unsigned long long)h.entries, hex, (unsigned long long)h.time);
    }
    if (!rc && s.id && !s.found) {
        char mre[65];
        kt_hex_encode(id.mrenclave, 32, mre, sizeof mre);
        fprintf(stderr, "kubetee: MRENCLAVE %s with this MRSIGNER was never signed in this "
                        "log\n",
                mre);
        rc = 1;
    }
    kt_key_free(pub);
    kt_buf_free(&log), kt_buf_free(&head), kt_buf_free(&img);
    return rc;
}

/* An officer's approval of one MRENCLAVE: given, or measured here from the image and
 * config (the officer's own build, not the requester's word). */
static int approve(int argc, char **argv)
{
    cli_opt o[] = {SIGNER_OPTS("this officer"),
                   {"key", true, "the signer's key name"},
                   {"mrenclave", true, "the MRENCLAVE approved (64 hex digits)"},
                   {"enclave", true, "or: the unsigned enclave, measured here"},
                   {"config", true, "with --enclave: its config"}};
    size_t n = CLI_NOPTS(o);
    if (!cli_parse(argc, argv, o, n) || !o[0].value || !o[5].value ||
        !o[6].value == !o[7].value) {
        fprintf(stderr, "usage: kubetee signer approve --signer HOST:PORT --key NAME "
                        "(--mrenclave HEX | --enclave e.so [--config e.conf]) --tls-ca ca.pem "
                        "--tls-cert me.pem --tls-key me.key [--server-name NAME]\n");
        return 2;
    }
    uint8_t mre[32];
    kt_status st;
    if (o[6].value) {
        if (strlen(o[6].value) != 64 || kt_hex_decode(o[6].value, mre, 32))
            return cli_die("--mrenclave", kt_fail(KT_ERR_INVALID_ARGUMENT, "not 64 hex digits"));
    } else {
        kt_buf elf = {0};
        kt_enclave_config c;
        st = kt_file_read(o[7].value, KT_IMAGE_MAX, &elf);
        if (!st) st = cli_load_config(o[8].value, &c);
        if (!st) st = kt_measure(elf.data, elf.len, &c, mre);
        kt_buf_free(&elf);
        if (st) return cli_die("measuring the enclave", st);
    }
    signer_endpoint e = SIGNER_AT(o);
    kt_rpc_client *c;
    if ((st = connect_to(&e, &c))) return cli_die("connecting to the signer", st);
    Kubetee__Signer__V1__ApproveRequest req = KUBETEE__SIGNER__V1__APPROVE_REQUEST__INIT;
    Kubetee__Signer__V1__ApproveResponse res = KUBETEE__SIGNER__V1__APPROVE_RESPONSE__INIT;
    req.key = (char *)o[5].value;
    req.mrenclave.data = mre;
    req.mrenclave.len = sizeof mre;
    st = kt_rpc_call(c, "/kubetee.signer.v1.Signer/Approve", &req, &res, SIGNER_TIMEOUT_MS);
    kt_rpc_client_free(c);
    if (st) return cli_die("signer", st);
    char hex[65];
    kt_hex_encode(mre, 32, hex, sizeof hex);
    printf("approved %s: %u of %u approvals\n", hex, (unsigned)res.approvals,
           (unsigned)res.required);
    return 0;
}

/* The whole log and its head from the service, a page at a time, into files. */
static int log_fetch(int argc, char **argv)
{
    cli_opt o[] = {SIGNER_OPTS("this client"),
                   {"log", true, "file to write the log to"},
                   {"head", true, "file to write its signed head to"}};
    if (!cli_parse(argc, argv, o, CLI_NOPTS(o)) || !o[0].value || !o[5].value || !o[6].value) {
        fprintf(stderr, "usage: kubetee signer log fetch --signer HOST:PORT --log LOG --head "
                        "HEAD --tls-ca ca.pem --tls-cert me.pem --tls-key me.key\n"
                        "then: kubetee signer log verify --log LOG --head HEAD --key PUB\n");
        return 2;
    }
    signer_endpoint e = SIGNER_AT(o);
    kt_rpc_client *c;
    kt_status st = connect_to(&e, &c);
    if (st) return cli_die("connecting to the signer", st);
    kt_buf log = {0}, head = {0};
    uint64_t from = 1, entries = 1;
    while (!st && from <= entries) {
        Kubetee__Signer__V1__LogRequest req = KUBETEE__SIGNER__V1__LOG_REQUEST__INIT;
        Kubetee__Signer__V1__LogResponse res = KUBETEE__SIGNER__V1__LOG_RESPONSE__INIT;
        req.from = from;
        if ((st = kt_rpc_call(c, "/kubetee.signer.v1.Signer/Log", &req, &res, SIGNER_TIMEOUT_MS)))
            break;
        if (from == 1) { /* the first page's head is the one the pages are checked under */
            entries = res.entries;
            st = kt_buf_append(&head, res.head.data, res.head.len);
        }
        uint64_t got = 0;
        for (size_t i = 0; i < res.lines.len; i++)
            got += res.lines.data[i] == '\n';
        if (!st && got == 0 && from <= entries)
            st = kt_fail(KT_ERR_MALFORMED, "the signer sent no entries from %llu of %llu",
                         (unsigned long long)from, (unsigned long long)entries);
        if (!st) st = kt_buf_append(&log, res.lines.data, res.lines.len);
        from += got;
        kt_message_clear(&res);
    }
    kt_rpc_client_free(c);
    if (!st) st = kt_file_write_atomic(o[5].value, log.data, log.len, 0644);
    if (!st) st = kt_file_write_atomic(o[6].value, head.data, head.len, 0644);
    kt_buf_free(&log);
    kt_buf_free(&head);
    if (st) return cli_die("fetching the log", st);
    printf("fetched %llu entries\n", (unsigned long long)entries);
    return 0;
}

/* `kubetee signer VERB --signer HOST:PORT --tls-...`: connected, or the exit code. */
static int connect_cli(int argc, char **argv, const char *verb, kt_rpc_client **c)
{
    cli_opt o[] = {SIGNER_OPTS("this client")};
    if (!cli_parse(argc, argv, o, CLI_NOPTS(o)) || !o[0].value) {
        fprintf(stderr, "usage: kubetee signer %s --signer HOST:PORT --tls-ca ca.pem "
                        "--tls-cert me.pem --tls-key me.key [--server-name NAME]\n", verb);
        return 2;
    }
    signer_endpoint e = SIGNER_AT(o);
    kt_status st = connect_to(&e, c);
    return st ? cli_die("connecting to the signer", st) : 0;
}

/* The approvals given and not yet used up, on keys this client may use or approve. */
static int pending(int argc, char **argv)
{
    kt_rpc_client *c;
    int rc = connect_cli(argc, argv, "pending", &c);
    if (rc) return rc;
    kt_status st;
    Kubetee__Signer__V1__PendingRequest req = KUBETEE__SIGNER__V1__PENDING_REQUEST__INIT;
    Kubetee__Signer__V1__PendingResponse res = KUBETEE__SIGNER__V1__PENDING_RESPONSE__INIT;
    st = kt_rpc_call(c, "/kubetee.signer.v1.Signer/Pending", &req, &res, SIGNER_TIMEOUT_MS);
    kt_rpc_client_free(c);
    if (st) return cli_die("signer", st);
    time_t now = time(NULL);
    for (size_t i = 0; i < res.n_pending; i++) {
        const Kubetee__Signer__V1__Pending *p = res.pending[i];
        char mre[65] = "?", name[260], who[260];
        if (p->mrenclave.len == 32) kt_hex_encode(p->mrenclave.data, 32, mre, sizeof mre);
        printf("%s %s: %u of %u approvals by ", kt_escape(p->key, strlen(p->key), name, sizeof name), mre,
               (unsigned)p->approvals, (unsigned)p->required);
        for (size_t j = 0; j < p->n_approvers; j++)
            printf("%s%s", j ? "," : "", kt_escape(p->approvers[j], strlen(p->approvers[j]), who, sizeof who));
        printf(", expires in %llds%s\n", (long long)(p->expires - now), p->in_use ? " (in use by a signature)" : "");
    }
    if (!res.n_pending) printf("no approvals pending\n");
    kt_message_clear(&res);
    return 0;
}

int cmd_signer(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[0], "log") && !strcmp(argv[1], "fetch"))
        return log_fetch(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[0], "log") && !strcmp(argv[1], "verify"))
        return log_verify(argc - 2, argv + 2);
    if (argc >= 1 && !strcmp(argv[0], "approve")) return approve(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "pending")) return pending(argc - 1, argv + 1);
    if (argc < 1 || strcmp(argv[0], "keys")) {
        fprintf(stderr, "usage: kubetee signer keys --signer HOST:PORT --tls-ca ca.pem "
                        "--tls-cert me.pem --tls-key me.key [--server-name NAME]\n"
                        "       kubetee signer approve --signer HOST:PORT --key NAME "
                        "(--mrenclave HEX | --enclave e.so [--config e.conf]) --tls-...\n"
                        "       kubetee signer pending --signer HOST:PORT --tls-...\n"
                        "       kubetee signer log fetch --signer HOST:PORT --log LOG --head "
                        "HEAD --tls-...\n"
                        "       kubetee signer log verify --log LOG --head HEAD --key PUB "
                        "[--enclave E]\n");
        return 2;
    }
    kt_rpc_client *c;
    int rc = connect_cli(argc - 1, argv + 1, "keys", &c);
    if (rc) return rc;
    kt_status st;
    Kubetee__Signer__V1__KeysRequest req = KUBETEE__SIGNER__V1__KEYS_REQUEST__INIT;
    Kubetee__Signer__V1__KeysResponse res = KUBETEE__SIGNER__V1__KEYS_RESPONSE__INIT;
    st = kt_rpc_call(c, "/kubetee.signer.v1.Signer/Keys", &req, &res, SIGNER_TIMEOUT_MS);
    kt_rpc_client_free(c);
    if (st) return cli_die("signer", st);
    for (size_t i = 0; i < res.n_keys; i++) {
        const Kubetee__Signer__V1__Key *k = res.keys[i];
        char mrs[65] = "?", name[260];
        if (k->mrsigner.len == 32) kt_hex_encode(k->mrsigner.data, 32, mrs, sizeof mrs);
        printf("%s mrsigner=%s production=%s debug=%s approvals=%u reproducible=%s prodids=",
               kt_escape(k->name, strlen(k->name), name, sizeof name), mrs,
               k->production ? "true" : "false", k->debug_allowed ? "true" : "false",
               (unsigned)k->approvals_required, k->reproducible ? "true" : "false");
        for (size_t j = 0; j < k->n_prodids; j++)
            printf("%s%u", j ? "," : "", (unsigned)k->prodids[j]);
        printf("\n");
    }
    kt_message_clear(&res);
    return 0;
}
