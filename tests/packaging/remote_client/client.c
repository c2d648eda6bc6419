/* A program calling a `kubetee new --with-remote` project's enclave, against the installed
 * SDK: the session verifies the enclave's quote against POLICY (collateral of the sim
 * platform), then kt.Describe through the session; the enclave's own description of
 * app.GreetReply (kt_pbschema) must match the one compiled here field by field; the
 * request is made from JSON and the reply printed as JSON (kt_pbjson).
 *   app_client ENDPOINT POLICY KEY.pem '{"name": ...}' */
#include <kubetee/attest.h>
#include <kubetee/pbjson.h>
#include <kubetee/pbschema.h>
#include <kubetee/service.h>
#include "app.pb-c.h"
#include "enclave_service.pb-c.h"

#include <stdio.h>
#include <string.h>

static int die(const char *what, kt_status st)
{
    fprintf(stderr, "app_client: %s: %s (%s)\n", what, kt_last_error(), kt_status_name(st));
    return 1;
}

/* the enclave's description of name, against the descriptor compiled here */
static kt_status same_type(const kt_buf *describe, const ProtobufCMessageDescriptor *mine)
{
    Kubetee__Enclave__V1__DescribeResponse *d =
        kubetee__enclave__v1__describe_response__unpack(NULL, describe->len, describe->data);
    if (!d) return kt_fail(KT_ERR_MALFORMED, "kt.Describe does not decode");
    kt_buf files[16];
    size_t n = d->n_files;
    if (n > 16) {
        kubetee__enclave__v1__describe_response__free_unpacked(d, NULL);
        return kt_fail(KT_ERR_TOO_LARGE, "kt.Describe: %zu files, over 16", n);
    }
    for (size_t i = 0; i < n; i++) files[i] = (kt_buf){d->files[i].data, d->files[i].len, d->files[i].len};
    kt_pbschema *s = NULL;
    kt_status st = kt_pbschema_load(files, n, &s);
    const ProtobufCMessageDescriptor *theirs = st ? NULL : kt_pbschema_message(s, mine->name);
    if (!st && !theirs) st = kt_fail(KT_ERR_NOT_FOUND, "the enclave describes no %s", mine->name);
    if (!st && theirs->n_fields != mine->n_fields) st = kt_fail(KT_ERR_MALFORMED, "%s: field counts differ", mine->name);
    for (unsigned i = 0; !st && i < mine->n_fields; i++)
        if (strcmp(theirs->fields[i].name, mine->fields[i].name) || theirs->fields[i].id != mine->fields[i].id ||
            theirs->fields[i].type != mine->fields[i].type)
            st = kt_fail(KT_ERR_MALFORMED, "%s: field %s differs", mine->name, mine->fields[i].name);
    kt_pbschema_free(s);
    kubetee__enclave__v1__describe_response__free_unpacked(d, NULL);
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 5) return fprintf(stderr, "usage: app_client ENDPOINT POLICY KEY.pem JSON\n"), 2;
    kt_policy *policy = NULL;
    kt_sim_qe *qe = NULL;
    kt_collateral *coll = NULL;
    kt_key *key = NULL;
    kt_buf pem = {0}, describe = {0}, json = {0};
    kt_service_client *c = NULL;
    ProtobufCMessage *req = NULL, *res = NULL;
    int rc = 1;
    kt_status st;
    if ((st = kt_policy_load(argv[2], &policy))) return die("the policy", st);
    if ((st = kt_sim_qe_open(NULL, &qe)) || (st = kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &coll))) {
        rc = die("the sim platform's collateral", st);
        goto done;
    }
    if ((st = kt_file_read(argv[3], 65536, &pem)) || (st = kt_key_from_pem((const char *)pem.data, pem.len, &key))) {
        rc = die("the key", st);
        goto done;
    }
    kt_service_client_config cfg = {.key = key};
    cfg.peer.policy = policy;
    cfg.peer.collateral = coll;
    if ((st = kt_service_client_connect(argv[1], &cfg, &c))) {
        rc = die("the session", st);
        goto done;
    }
    if ((st = kt_service_client_describe(c, &describe)) || (st = same_type(&describe, &app__greet_reply__descriptor))) {
        rc = die("the enclave's types", st);
        goto done;
    }
    if ((st = kt_pbjson_parse(&app__greet_request__descriptor, argv[4], strlen(argv[4]), NULL, &req))) {
        rc = die("the request JSON", st);
        goto done;
    }
    if ((st = kt_service_client_call(c, "app.Greet", req, &app__greet_reply__descriptor, &res)) ||
        (st = kt_pbjson_print(res, NULL, &json))) {
        rc = die("app.Greet", st);
        goto done;
    }
    printf("%s\n", (const char *)json.data);
    rc = kt_service_client_close(c) ? die("closing", KT_ERR_IO) : 0;
done:
    if (req) protobuf_c_message_free_unpacked(req, NULL);
    if (res) protobuf_c_message_free_unpacked(res, NULL);
    kt_service_client_free(c);
    kt_key_free(key);
    kt_collateral_free(coll);
    kt_sim_qe_free(qe);
    kt_policy_free(policy);
    kt_buf_free(&pem);
    kt_buf_free(&describe);
    kt_buf_free(&json);
    return rc;
}
