/* serviceadmin: a service admin's tool for its own service's secrets (docs/aecs.md).
 *   serviceadmin VERB --server H:P --key SERVICE_ADMIN.pem --policy AECS.yaml --sim-dir D [--json] ... */
#include "common.h"
#include <kubetee/aecs_files.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T "serviceadmin"
#define D(x) &kubetee__aecs__v1__##x##__descriptor

static int usage(void)
{
    fprintf(stderr,
            "usage: serviceadmin VERB [--server HOST:PORT] --key ADMIN.pem --policy AECS_POLICY.yaml | --config KUBECONFIG\n"
            "                    (--sim-dir DIR | --collateral DIR) [--json] --service SERVICE [verb flags]\n"
            "verbs:\n"
            "  create --file SECRETS.yaml                 every secret of a SecretPolicy file (kind: SecretPolicy)\n"
            "  create --name N --type SECRET_TYPE_... [--readonly] [--share public] [--param KEY=VALUE]...\n"
            "         [--data-file FILE] [--mrenclave HEX] [--mrsigner HEX] [--prodid N] [--min-svn N]\n"
            "         [--allow-debug] [--any-enclave]       (one policy rule from the flags; debug TAs\n"
            "                                               are refused unless --allow-debug)\n"
            "         [--never-export]                      (a key TAs use in place, never read)\n"
            "  update --name N [--expected-version V] [--data-file FILE] [--keep-key]   (--keep-key: renew a\n"
            "         certificate with its key)\n"
            "  destroy --name N [--version V]              (--version: that one version, not the newest)\n"
            "  list\n"
            "  getpub --name N [--version V] [--nonce HEX] [--out PUB.pem]\n"
            "         (the answer's signature by the AECS identity over the service, name and nonce is checked)\n"
            "every verb: [--instance HEX] (else AECS_INSTANCE, else the kubeconfig's aecsServer.instance):\n"
            "  refuse an AECS that cannot prove this instance key\n"
            "every verb: [--timeout SECONDS] how long to wait for AECS's answer (1 to 86400, default 30)\n"
            "every verb: [--connect-timeout SECONDS] how long connecting and the attested handshake may take\n"
            "  (1 to 86400, default 30)\n");
    return 2;
}

static const char *const switches[] = {"readonly", "debug-disabled", "allow-debug", "any-enclave", "never-export", "keep-key", NULL};

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
                                        "SECRET_TYPE_CERTIFICATE", "SECRET_TYPE_SM2_KEY_PAIR", "SECRET_TYPE_CONFIGURATIONS",
                                        "SECRET_TYPE_EC_P256_KEY_PAIR"};
    Kubetee__Aecs__V1__SecretSpec spec = KUBETEE__AECS__V1__SECRET_SPEC__INIT;
    Kubetee__Aecs__V1__CreateSecretRequest rq = KUBETEE__AECS__V1__CREATE_SECRET_REQUEST__INIT;
    Kubetee__Aecs__V1__Rule rule = KUBETEE__AECS__V1__RULE__INIT, *rules[1] = {&rule};
    Kubetee__Aecs__V1__Param params[64], *pp[64];
    uint8_t mre[32], mrs[32];
    char keys[64][129];
    const char *type = tool_flag(a, "type");
    if (!type) return bad("--type is required");
    for (int i = 1; i < 8; i++)
        if (!strcmp(types[i], type)) spec.type = i;
    if (!spec.type) return bad("--type must be one of SECRET_TYPE_RSA_KEY_PAIR, _AES256_KEY, _IMPORT_DATA, _CERTIFICATE, "
                               "_SM2_KEY_PAIR, _CONFIGURATIONS, _EC_P256_KEY_PAIR");
    spec.service = (char *)service;
    spec.name = (char *)name;
    spec.readonly = tool_flag(a, "readonly") != NULL;
    spec.never_export = tool_flag(a, "never-export") != NULL;
    spec.share = (char *)(tool_flag(a, "share") ? tool_flag(a, "share") : "");
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->names[i], "param")) continue;
        const char *eq = strchr(a->values[i], '=');
        if (!eq || eq == a->values[i] || (size_t)(eq - a->values[i]) > 128) return bad("--param is KEY=VALUE");
        if (spec.n_params == 64) return bad("at most 64 --param");
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
    /* as a policy file's rule: a debug TA only when asked for (--debug-disabled, the old
     * way to say the default, is still read) */
    if (tool_flag(a, "allow-debug") && tool_flag(a, "debug-disabled"))
        return bad("--allow-debug and --debug-disabled contradict each other");
    rule.debug_disabled = tool_flag(a, "allow-debug") == NULL;
    rule.any_enclave = tool_flag(a, "any-enclave") != NULL;
    if (mre_h || mrs_h || prod || svn || rule.any_enclave) {
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

/* getpub: the public part, its signature checked against the identity key of the AECS
 * enclave this session attested (asked over the same session); --out FILE: the PEM. */
static int getpub(const tool_args *a, const Kubetee__Aecs__V1__GetPublicRequest *rq)
{
    Kubetee__Aecs__V1__StatusRequest srq = KUBETEE__AECS__V1__STATUS_REQUEST__INIT;
    ProtobufCMessage *sres = NULL, *pres = NULL;
    kt_aecs_client *c = NULL;
    kt_key *id = NULL;
    kt_buf m = {0};
    const char *out = tool_flag(a, "out");
    if (tool_connect(a, &c)) return tool_fail(T, "connecting");
    kt_status st = kt_aecs_call(c, "Status", &srq.base, D(status_response), &sres);
    if (!st) st = kt_aecs_call(c, "GetPublic", &rq->base, D(get_public_response), &pres);
    int rc = st ? tool_fail(T, sres ? "GetPublic" : "Status") : 0;
    const Kubetee__Aecs__V1__StatusResponse *s = (const Kubetee__Aecs__V1__StatusResponse *)sres;
    const Kubetee__Aecs__V1__GetPublicResponse *p = (const Kubetee__Aecs__V1__GetPublicResponse *)pres;
    if (!rc) {
        /* the message names the service and secret asked about: another's answer fails */
        st = kt_key_from_public_raw(KT_KEY_P256, s->identity_public.data, s->identity_public.len, &id);
        if (!st) st = p->info ? KT_OK : kt_fail(KT_ERR_MALFORMED, "the answer has no secret info");
        if (!st) st = kt_aecs_getpub_message(rq->service, rq->name, (uint32_t)p->info->type, p->version, rq->nonce.data,
                                             rq->nonce.len, p->public_pem.data, p->public_pem.len, &m);
        if (!st) st = kt_verify(id, m.data, m.len, p->signature.data, p->signature.len);
        if (st) rc = tool_fail(T, "the answer's signature by the AECS identity key");
    }
    if (!rc && out && kt_file_write_atomic(out, p->public_pem.data, p->public_pem.len, 0644))
        rc = tool_fail(T, out);
    if (!rc) {
        char h[17];
        kt_hex_encode(s->identity_public.data, 8, h, sizeof h);
        fprintf(stderr, T ": getpub: signed by the AECS identity %s... over %s/%s and this call's nonce: verified%s%s\n", h, rq->service, rq->name,
                out ? "; written to " : "", out ? out : "");
        rc = tool_call_print(a, T, pres);
    }
    kt_buf_free(&m);
    kt_key_free(id);
    if (sres) protobuf_c_message_free_unpacked(sres, NULL);
    if (pres) protobuf_c_message_free_unpacked(pres, NULL);
    kt_aecs_client_free(c);
    return rc;
}

/* One secret of a SecretPolicy file as AECS's spec: its rules from kt_policy's. */
static int create_one(kt_aecs_client *c, const tool_args *a, const kt_aecs_secret_spec *f)
{
    Kubetee__Aecs__V1__SecretSpec spec = KUBETEE__AECS__V1__SECRET_SPEC__INIT;
    Kubetee__Aecs__V1__CreateSecretRequest rq = KUBETEE__AECS__V1__CREATE_SECRET_REQUEST__INIT;
    Kubetee__Aecs__V1__Param params[8], *pp[8];
    Kubetee__Aecs__V1__Rule rules[64], *rp[64];
    char bits[16], days[16];
    const char *pk = f->pkcs == KT_AECS_PKCS1 ? "pkcs1" : "pkcs8";
    spec.name = (char *)f->name;
    spec.service = (char *)f->service;
    spec.type = (Kubetee__Aecs__V1__SecretType)f->type;
    spec.readonly = f->readonly;
    spec.never_export = f->binding == KT_AECS_NEVER_EXPORT;
    spec.share = f->share_public ? "public" : "";
#define PARAM(k, v)                                                                                                \
    do {                                                                                                           \
        kubetee__aecs__v1__param__init(&params[spec.n_params]);                                                    \
        params[spec.n_params].key = (k);                                                                           \
        params[spec.n_params].value = (char *)(v);                                                                 \
        pp[spec.n_params] = &params[spec.n_params];                                                                \
        spec.n_params++;                                                                                           \
    } while (0)
    if (f->type == KT_AECS_RSA_KEY_PAIR) {
        snprintf(bits, sizeof bits, "%u", f->bit_length);
        PARAM("bit_length", bits);
        PARAM("pkcs_type", pk);
    }
    if (f->type == KT_AECS_CERTIFICATE && !f->data.len) {
        snprintf(days, sizeof days, "%u", f->days);
        PARAM("days", days);
        if (f->subject[0]) PARAM("subject", f->subject);
        if (f->san[0]) PARAM("san", f->san);
        PARAM("issuer", f->issuer);
    }
    if (f->padding) PARAM("padding", f->padding);
    if (f->wrap) PARAM("wrap", f->wrap);
#undef PARAM
    spec.params = pp;
    size_t n = 0;
    const kt_policy_rule *r = f->policy ? kt_policy_rules(f->policy, &n) : NULL;
    if (n > 64) n = 64;
    for (size_t i = 0; i < n && f->binding != KT_AECS_UNBOUND; i++) {
        kubetee__aecs__v1__rule__init(&rules[i]);
        if (r[i].has_mrenclave) rules[i].mrenclave.data = (uint8_t *)r[i].mrenclave, rules[i].mrenclave.len = 32;
        if (r[i].has_mrsigner) rules[i].mrsigner.data = (uint8_t *)r[i].mrsigner, rules[i].mrsigner.len = 32;
        if (r[i].has_report_data) rules[i].user_data.data = (uint8_t *)r[i].report_data, rules[i].user_data.len = 64;
        rules[i].check_prod_id = r[i].has_prodid;
        rules[i].prod_id = r[i].prodid;
        rules[i].min_isv_svn = r[i].has_min_svn ? r[i].min_svn : 0;
        rules[i].debug_disabled = !r[i].allow_debug;
        rules[i].any_enclave = f->any_identity && !r[i].has_mrenclave && !r[i].has_mrsigner;
        rp[i] = &rules[i];
        spec.n_policy = i + 1;
    }
    spec.policy = rp;
    rq.spec = &spec;
    rq.data.data = f->data.data;
    rq.data.len = f->data.len;
    return tool_call(c, a, T, "CreateSecret", &rq.base, D(secret_info));
}

/* create --file SECRETS.yaml: every secret of the file, in order; the first refusal stops. */
static int create_file(const tool_args *a, const char *path)
{
    kt_aecs_secret_file f;
    if (kt_aecs_secret_file_load(path, &f)) return tool_fail(T, path);
    if (f.notes.len) fprintf(stderr, "%s", (const char *)f.notes.data);
    kt_aecs_client *c = NULL;
    int rc = tool_connect(a, &c) ? tool_fail(T, "connecting") : 0;
    for (size_t i = 0; i < f.count && !rc; i++) rc = create_one(c, a, &f.secrets[i]);
    kt_aecs_client_free(c);
    kt_aecs_secret_file_free(&f);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) return usage();
    const char *verb = argv[1];
    tool_args a;
    if (tool_parse(argc, argv, 2, switches, &a)) return 2;
    const char *service = tool_flag(&a, "service"), *name = tool_flag(&a, "name");
    if (!strcmp(verb, "create") && tool_flag(&a, "file")) return create_file(&a, tool_flag(&a, "file"));
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
        rq.keep_key = tool_flag(&a, "keep-key") != NULL;
        rq.data.data = data.data;
        rq.data.len = data.len;
        int rc = tool_run(&a, T, "UpdateSecret", &rq.base, D(secret_info));
        kt_buf_free(&data);
        return rc;
    }
    if (!strcmp(verb, "destroy")) {
        Kubetee__Aecs__V1__DestroySecretRequest rq = KUBETEE__AECS__V1__DESTROY_SECRET_REQUEST__INIT;
        const char *ver = tool_flag(&a, "version");
        if (ver && number(ver, UINT64_MAX >> 1, &v, "--version")) return 2;
        if (ver && !v) return bad("--version is 1 or more (without it: the whole secret)");
        rq.service = (char *)service;
        rq.name = (char *)name;
        rq.version = v;
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
        return getpub(&a, &rq);
    }
    fprintf(stderr, T ": no verb '%s'\n", verb);
    return usage();
}
