/* aecsadmin's and serviceadmin's shared parts (common.h). */
#include "common.h"
#include <kubetee/aecs_files.h>
#include <kubetee/pbjson.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tool_fail(const char *tool, const char *what)
{
    char shown[1024];
    fprintf(stderr, "%s: %s: %s\n", tool, what,
            kt_escape_text(kt_last_error(), strlen(kt_last_error()), shown, sizeof shown));
    return 1;
}

int tool_parse(int argc, char **argv, int first, const char *const *switches, tool_args *a)
{
    memset(a, 0, sizeof *a);
    a->server = getenv("AECS_SERVER");
    for (int i = first; i < argc; i++) {
        const char *f = argv[i];
        if (strncmp(f, "--", 2)) {
            if (a->n_args == 8) return fprintf(stderr, "too many arguments\n"), 2;
            a->args[a->n_args++] = f;
            continue;
        }
        f += 2;
        if (!strcmp(f, "json")) {
            a->json = true;
            continue;
        }
        bool sw = false;
        for (size_t k = 0; switches && switches[k]; k++) sw |= !strcmp(switches[k], f);
        const char *v = "";
        if (!sw) {
            if (i + 1 >= argc) return fprintf(stderr, "--%s needs a value\n", f), 2;
            v = argv[++i];
        }
        if (!strcmp(f, "server")) a->server = v;
        else if (!strcmp(f, "key")) a->key = v;
        else if (!strcmp(f, "policy")) a->policy = v;
        else if (!strcmp(f, "sim-dir")) a->sim_dir = v;
        else if (!strcmp(f, "collateral")) a->collateral = v;
        else if (!strcmp(f, "config")) a->config = v;
        else {
            if (a->n == 64) return fprintf(stderr, "too many flags\n"), 2;
            a->names[a->n] = f;
            a->values[a->n++] = v;
        }
    }
    return 0;
}

const char *tool_flag(const tool_args *a, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->names[i], name)) v = a->values[i];
    return v;
}

static kt_key *key;
static kt_policy *policy;
static kt_collateral *coll;

static kt_aecs_admin_config admin_config;
static bool config_loaded;

/* the original's admin kubeconfig, once: who (identityKey), where (serverEndpoint) and
 * which AECS enclave (verifyPolicy) and instance */
static kt_status load_config(const tool_args *a)
{
    if (!a->config || config_loaded) return KT_OK;
    kt_status st = kt_aecs_admin_config_load(a->config, &admin_config); /* it names the file */
    if (st) return st;
    config_loaded = true;
    key = admin_config.identity, admin_config.identity = NULL;
    policy = admin_config.verify, admin_config.verify = NULL;
    if (admin_config.notes.len) fprintf(stderr, "%s", (const char *)admin_config.notes.data);
    return KT_OK;
}

kt_status tool_instance_pin(const tool_args *a, const uint8_t **pin, const char **from)
{
    static uint8_t raw[64];
    *pin = NULL;
    const char *inst = tool_flag(a, "instance");
    *from = "--instance";
    if (!inst || !*inst) inst = getenv("AECS_INSTANCE"), *from = "AECS_INSTANCE";
    if (inst && *inst) {
        if (strlen(inst) != 128 || kt_hex_decode(inst, raw, sizeof raw))
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "%s is the AECS instance key as 128 hex digits (x||y, "
                                                    "as aecsadmin init and status print it)", *from);
        *pin = raw;
        return KT_OK;
    }
    kt_status st = load_config(a);
    if (st) return st;
    *from = "the kubeconfig's aecsServer.instance";
    if (a->config && admin_config.has_instance) *pin = admin_config.instance;
    return KT_OK;
}

/* --<flag> SECONDS (whole, 1 to a day), else default_s */
static kt_status seconds_of(const tool_args *a, const char *flag, unsigned default_s, unsigned *ms)
{
    const char *v = tool_flag(a, flag);
    *ms = default_s * 1000u;
    if (!v) return KT_OK;
    char *end = NULL, shown[64];
    unsigned long s = *v >= '0' && *v <= '9' ? strtoul(v, &end, 10) : 0;
    if (!end || *end || s < 1 || s > TOOL_TIMEOUT_MAX_S)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "--%s is whole seconds from 1 to %u, not \"%s\"", flag,
                       TOOL_TIMEOUT_MAX_S, kt_escape(v, strlen(v), shown, sizeof shown));
    *ms = (unsigned)s * 1000u;
    return KT_OK;
}

kt_status tool_connect(const tool_args *a, kt_aecs_client **c)
{
    return tool_connect_for(a, TOOL_TIMEOUT_S, c);
}

kt_status tool_connect_for(const tool_args *a, unsigned default_s, kt_aecs_client **c)
{
    unsigned timeout_ms, connect_ms;
    kt_status st = seconds_of(a, "timeout", default_s, &timeout_ms);
    if (!st) st = seconds_of(a, "connect-timeout", TOOL_CONNECT_TIMEOUT_S, &connect_ms);
    if (st) return st;
    st = load_config(a);
    if (st) return st;
    /* flags given beside the kubeconfig win */
    const char *server = a->server;
    if (a->config && !server) server = admin_config.endpoint;
    if (!server || !(a->key || key) || !(a->policy || policy) || (!a->sim_dir && !a->collateral))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "give --server HOST:PORT, --key PEM (yours), --policy YAML (the AECS enclave you accept), or "
                       "--config KUBECONFIG for those, and --collateral DIR or --sim-dir DIR");
    kt_buf pem = {0};
    kt_sim_qe *qe = NULL;
    if (a->key) {
        kt_key_free(key);
        key = NULL;
        st = kt_file_read(a->key, 1 << 16, &pem);
        if (!st) st = kt_key_from_pem((const char *)pem.data, pem.len, &key);
        kt_buf_free(&pem);
        if (st) return kt_fail_context(st, "%s", a->key);
    }
    if (a->policy) {
        kt_policy_free(policy);
        policy = NULL;
        if ((st = kt_policy_load(a->policy, &policy))) return kt_fail_context(st, "%s", a->policy);
    }
    if (a->collateral) st = kt_collateral_load_dir(a->collateral, NULL, &coll);
    else if (!(st = kt_sim_qe_open(a->sim_dir, &qe))) st = kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &coll);
    kt_sim_qe_free(qe);
    if (st) return kt_fail_context(st, "collateral");
    kt_aecs_client_config cfg = {.address = server,
                                 .key = key,
                                 .policy = policy,
                                 .collateral = coll,
                                 .timeout_ms = timeout_ms,
                                 .connect_timeout_ms = connect_ms};
    /* the AECS instance key aecsadmin init printed: AECS must prove it over the session, so a
     * store emptied and initialised again is refused */
    const char *from;
    if ((st = tool_instance_pin(a, &cfg.instance, &from))) return st;
    if (a->unpinned) cfg.instance = NULL;
    st = kt_aecs_client_new(&cfg, c);
    return st == KT_ERR_TIMEOUT ? kt_fail_context(st, "--connect-timeout %u", connect_ms / 1000u) : st;
}

/* One "field: value" line per top-level field; nested values as compact JSON. */
static void print_text(const char *json)
{
    json_t *doc = json_loads(json, 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v)
    {
        if (json_is_string(v)) printf("%s: %s\n", k, json_string_value(v));
        else {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("%s: %s\n", k, s ? s : "?");
            free(s);
        }
    }
    if (!json_object_size(doc)) printf("ok\n");
    json_decref(doc);
}

int tool_run(const tool_args *a, const char *tool, const char *op, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *res_type)
{
    kt_aecs_client *c = NULL;
    if (tool_connect(a, &c)) return tool_fail(tool, "connecting");
    int rc = tool_call(c, a, tool, op, req, res_type);
    kt_aecs_client_free(c);
    return rc;
}

int tool_call(kt_aecs_client *c, const tool_args *a, const char *tool, const char *op, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *res_type)
{
    ProtobufCMessage *res = NULL;
    if (kt_aecs_call(c, op, req, res_type, &res)) return tool_fail(tool, op);
    int rc = tool_call_print(a, tool, res);
    protobuf_c_message_free_unpacked(res, NULL);
    return rc;
}

int tool_call_print(const tool_args *a, const char *tool, const ProtobufCMessage *res)
{
    kt_buf j = {0};
    int rc = 0;
    if (kt_pbjson_print(res, NULL, &j)) rc = tool_fail(tool, "printing");
    else if (a->json) printf("%s\n", (const char *)j.data);
    else print_text((const char *)j.data);
    kt_buf_free(&j);
    return rc;
}

kt_status tool_public_key(const char *path, Kubetee__Aecs__V1__PublicKey *out, uint8_t raw[64])
{
    kt_buf pem = {0};
    kt_key *k = NULL;
    size_t n;
    kt_status st = kt_file_read(path, 1 << 16, &pem);
    if (!st) st = kt_key_from_pem((const char *)pem.data, pem.len, &k);
    if (!st && kt_key_type_of(k) != KT_KEY_P256 && kt_key_type_of(k) != KT_KEY_SM2)
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "the key is neither P-256 nor SM2");
    if (!st) st = kt_key_public_raw(k, raw, 64, &n);
    if (!st) {
        out->type = kt_key_type_of(k) == KT_KEY_SM2 ? KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_SM2
                                                    : KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_P256;
        out->raw.data = raw;
        out->raw.len = 64;
    }
    kt_key_free(k);
    kt_buf_free(&pem);
    return st ? kt_fail_context(st, "%s", path) : KT_OK;
}
