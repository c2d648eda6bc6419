/* serviceadmin: a service admin's tool for its own service's secrets (docs/aecs.md).
 *   serviceadmin VERB --server H:P --key SERVICE_ADMIN.pem --policy AECS.yaml --sim-dir D [--json] ... */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T "serviceadmin"
#define D(x) &kubetee__aecs__v1__##x##__descriptor

static int usage(void)
{
    fprintf(stderr,
            "usage: serviceadmin VERB [--server HOST:PORT] --key ADMIN.pem --policy AECS_POLICY.yaml\n"
            "                    (--sim-dir DIR | --collateral DIR) [--json] --service SERVICE [verb flags]\n"
            "verbs:\n"
            "  create --name N --type SECRET_TYPE_... [--readonly] [--share public] [--param KEY=VALUE]...\n"
            "         [--data-file FILE] [--mrenclave HEX] [--mrsigner HEX] [--prodid N] [--min-svn N]\n"
            "         [--debug-disabled] [--any-enclave]    (one policy rule from the flags)\n"
            "  update --name N [--expected-version V] [--data-file FILE]\n"
            "  destroy --name N\n"
            "  list\n"
            "  getpub --name N [--version V] [--nonce HEX]   (signed by AECS over the nonce)\n");
    return 2;
}

static const char *const switches[] = {"readonly", "debug-disabled", "any-enclave", NULL};

static int bad(const char *what)
{
    fprintf(stderr, T ": %s\n", what);
    return 2;
}

static int number(const char *v, uint64_t max, uint64_t *out, const char *flag)
{
    if (kt_decimal_parse(v, max, out)) {
        fprintf(stderr, T ": %s must be a decimal number up to %llu\n", flag, (unsigned long long)max);
        return 2;
    }
    return 0;
}

static int create(const tool_args *a, const char *service, const char *name)
{
    static const char *const types[] = {"", "SECRET_TYPE_RSA_KEY_PAIR", "SECRET_TYPE_AES256_KEY", "SECRET_TYPE_IMPORT_DATA",
                                        "SECRET_TYPE_CERTIFICATE", "SECRET_TYPE_SM2_KEY_PAIR", "SECRET_TYPE_CONFIGURATIONS"};
    Kubetee__Aecs__V1__SecretSpec spec = KUBETEE__AECS__V1__SECRET_SPEC__INIT;
    Kubetee__Aecs__V1__CreateSecretRequest rq = KUBETEE__AECS__V1__CREATE_SECRET_REQUEST__INIT;
    Kubetee__Aecs__V1__Rule rule = KUBETEE__AECS__V1__RULE__INIT, *rules[1] = {&rule};
    Kubetee__Aecs__V1__Param params[64], *pp[64];
    uint8_t mre[32], mrs[32];
    char keys[64][65];
    const char *type = tool_flag(a, "type");
    if (!type) return bad("--type is required");
    for (int i = 1; i < 7; i++)
        if (!strcmp(types[i], type)) spec.type = i;
    if (!spec.type) return bad("--type must be one of SECRET_TYPE_RSA_KEY_PAIR, _AES256_KEY, _IMPORT_DATA, _CERTIFICATE, "
                               "_SM2_KEY_PAIR, _CONFIGURATIONS");
    spec.service = (char *)service;
    spec.name = (char *)name;
    spec.readonly = tool_flag(a, "readonly") != NULL;
    spec.share = (char *)(tool_flag(a, "share") ? tool_flag(a, "share") : "");
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->names[i], "param")) continue;
        const char *eq = strchr(a->values[i], '=');
        if (!eq || eq == a->values[i] || (size_t)(eq - a->values[i]) > 64) return bad("--param is KEY=VALUE");
        kubetee__aecs__v1__param__init(&params[spec.n_params]);
        memcpy(keys[spec.n_params], a->values[i], (size_t)(eq - a->values[i]));
        keys[spec.n_params][eq - a->values[i]] = '\0';
        params[spec.n_params].key = keys[spec.n_params];
        params[spec.n_params].value = (char *)eq + 1;
        pp[spec.n_params] = &params[spec.n_params];
        spec.n_params++;
    }
    spec.params = pp;
    const char *mre_h = tool_flag(a, "mrenclave"), *mrs_h = tool_flag(a, "mrsigner"), *prod = tool_flag(a, "prodid"),
               *svn = tool_flag(a, "min-svn");
    uint64_t v;
    if (mre_h && (strlen(mre_h) != 64 || kt_hex_decode(mre_h, mre, 32))) return bad("--mrenclave is 64 hex digits");
    if (mrs_h && (strlen(mrs_h) != 64 || kt_hex_decode(mrs_h, mrs, 32))) return bad("--mrsigner is 64 hex digits");
    if (mre_h) rule.mrenclave.data = mre, rule.mrenclave.len = 32;
    if (mrs_h) rule.mrsigner.data = mrs, rule.mrsigner.len = 32;
    if (prod && number(prod, 65535, &v, "--prodid")) return 2;
    if (prod) rule.check_prod_id = true, rule.prod_id = (uint32_t)v;
    if (svn && number(svn, 65535, &v, "--min-svn")) return 2;
    if (svn) rule.min_isv_svn = (uint32_t)v;
    rule.debug_disabled = tool_flag(a, "debug-disabled") != NULL;
    rule.any_enclave = tool_flag(a, "any-enclave") != NULL;
    if (mre_h || mrs_h || prod || svn || rule.debug_disabled || rule.any_enclave) {
        spec.policy = rules;
        spec.n_policy = 1;
    }
    kt_buf data = {0};
    const char *df = tool_flag(a, "data-file");
    if (df && kt_file_read(df, 1 << 20, &data)) return tool_fail(T, df);
    rq.spec = &spec;
    rq.data.data = data.data;
    rq.data.len = data.len;
    int rc = tool_run(a, T, "CreateSecret", &rq.base, D(secret_info));
    kt_buf_free(&data);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) return usage();
    const char *verb = argv[1];
    tool_args a;
    if (tool_parse(argc, argv, 2, switches, &a)) return 2;
    const char *service = tool_flag(&a, "service"), *name = tool_flag(&a, "name");
    if (!service) return bad("--service is required");
    if (strcmp(verb, "list") && !name) return bad("--name is required");
    uint64_t v = 0;
    if (!strcmp(verb, "create")) return create(&a, service, name);
    if (!strcmp(verb, "update")) {
        Kubetee__Aecs__V1__UpdateSecretRequest rq = KUBETEE__AECS__V1__UPDATE_SECRET_REQUEST__INIT;
        const char *ev = tool_flag(&a, "expected-version"), *df = tool_flag(&a, "data-file");
        if (ev && number(ev, UINT64_MAX >> 1, &v, "--expected-version")) return 2;
        kt_buf data = {0};
        if (df && kt_file_read(df, 1 << 20, &data)) return tool_fail(T, df);
        rq.service = (char *)service;
        rq.name = (char *)name;
        rq.expected_version = v;
        rq.data.data = data.data;
        rq.data.len = data.len;
        int rc = tool_run(&a, T, "UpdateSecret", &rq.base, D(secret_info));
        kt_buf_free(&data);
        return rc;
    }
    if (!strcmp(verb, "destroy")) {
        Kubetee__Aecs__V1__DestroySecretRequest rq = KUBETEE__AECS__V1__DESTROY_SECRET_REQUEST__INIT;
        rq.service = (char *)service;
        rq.name = (char *)name;
        return tool_run(&a, T, "DestroySecret", &rq.base, D(done));
    }
    if (!strcmp(verb, "list")) {
        Kubetee__Aecs__V1__ListSecretsRequest rq = KUBETEE__AECS__V1__LIST_SECRETS_REQUEST__INIT;
        rq.service = (char *)service;
        return tool_run(&a, T, "ListSecrets", &rq.base, D(list_secrets_response));
    }
    if (!strcmp(verb, "getpub")) {
        Kubetee__Aecs__V1__GetPublicRequest rq = KUBETEE__AECS__V1__GET_PUBLIC_REQUEST__INIT;
        const char *ver = tool_flag(&a, "version"), *nh = tool_flag(&a, "nonce");
        uint8_t nonce[64];
        size_t nn = nh ? strlen(nh) / 2 : 32;
        if (ver && number(ver, UINT64_MAX >> 1, &v, "--version")) return 2;
        if (nh && (strlen(nh) % 2 || nn < 16 || nn > 64 || kt_hex_decode(nh, nonce, nn)))
            return bad("--nonce is 16 to 64 bytes in hex");
        if (!nh && kt_random(nonce, nn)) return tool_fail(T, "nonce");
        rq.service = (char *)service;
        rq.name = (char *)name;
        rq.version = v;
        rq.nonce.data = nonce;
        rq.nonce.len = nn;
        return tool_run(&a, T, "GetPublic", &rq.base, D(get_public_response));
    }
    fprintf(stderr, T ": no verb '%s'\n", verb);
    return usage();
}
