/* Never-export keys used in place (docs/aecs.md "Never-export keys"): a TA whose verified
 * identity the secret's rules admit asks AECS to sign, decrypt, encrypt, wrap or unwrap
 * with the key; the key itself never leaves the enclave. The algorithm is the key's (its
 * type and params), never the request's, so one key serves one scheme. Who may is decided
 * here; the cryptography is src/aecs/keyuse.c. */
#include "aecs.h"
#include "keyuse.h" /* src/aecs */

#include <string.h>

#define T(x) KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_##x

typedef Kubetee__Aecs__V1__KeyOpRequest op_req;
typedef Kubetee__Aecs__V1__KeyOpResponse op_res;

static bool is_key_type(int t)
{
    return t == T(AES256_KEY) || t == T(RSA_KEY_PAIR) || t == T(SM2_KEY_PAIR) || t == T(EC_P256_KEY_PAIR) ||
           t == T(CERTIFICATE);
}

kt_status ae_use_spec_check(const ae_spec *s)
{
    const char *padding = ae_param(s, "padding", NULL), *wrap = ae_param(s, "wrap", NULL);
    if (s->never_export && !is_key_type(s->type))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "secret %s: never-export is for keys (AES-256, RSA, SM2, P-256, certificates); this type has "
                       "nothing to use in place",
                       s->name);
    if (padding && (!s->never_export || s->type != T(RSA_KEY_PAIR)))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: param padding is for never-export RSA keys", s->name);
    if (padding && strcmp(padding, "pss") && strcmp(padding, "pkcs1"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: padding must be pss or pkcs1", s->name);
    if (wrap && (!s->never_export || s->type != T(AES256_KEY)))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: param wrap is for never-export AES-256 keys", s->name);
    if (wrap && strcmp(wrap, "kwp") && strcmp(wrap, "gcm"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: wrap must be kwp or gcm", s->name);
    return KT_OK;
}

static kt_status use_body(const ae_caller *c, kt_aecs_key_op op, const op_req *rq, op_res *rs)
{
    ae_secret *s = NULL;
    const Kubetee__Aecs__V1__StoredVersion *v = NULL;
    kt_status st = ae_ta_secret(c, rq->service, rq->name, rq->version, &s, &v);
    if (st) return st;
    const ae_spec *spec = s->spec;
    if (!spec->never_export)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s/%s is not never-export: an admitted TA gets it with "
                                                "GetSecret and uses it itself", rq->service, rq->name);
    kt_aecs_key k = {.name = spec->name, .key = v->data.data, .key_len = v->data.len};
    k.kind = spec->type == T(AES256_KEY) ? KT_AECS_KEY_AES256 : spec->type == T(RSA_KEY_PAIR) ? KT_AECS_KEY_RSA
                                                                                             : KT_AECS_KEY_EC;
    k.pkcs1 = !strcmp(ae_param(spec, "padding", "pss"), "pkcs1");
    k.wrap_gcm = !strcmp(ae_param(spec, "wrap", "kwp"), "gcm");
    kt_buf out = {0};
    const char *alg = "";
    st = kt_aecs_key_use(&k, op, rq->input.data, rq->input.len, rq->aad.data, rq->aad.len, &out, &alg);
    if (!st) st = kt_call_bytes(&rs->output, out.data, out.len);
    rs->version = v->version;
    rs->algorithm = (char *)alg;
    kt_buf_free(&out);
    return st;
}

static kt_status use(kt_aecs_key_op k, const op_req *rq, op_res *rs)
{
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    st = use_body(&c, k, rq, rs);
    ae_audit(&c, kt_aecs_key_op_names[k], rq->name, st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}

#define USE(name, kind)                                                                                            \
    static kt_status name(const op_req *rq, op_res *rs) { return use(kind, rq, rs); }                             \
    KT_REMOTE_FUNCTION(name, "aecs." #name, Kubetee__Aecs__V1__KeyOpRequest, kubetee__aecs__v1__key_op_request,    \
                       Kubetee__Aecs__V1__KeyOpResponse, kubetee__aecs__v1__key_op_response)
USE(Sign, KT_AECS_SIGN)
USE(Encrypt, KT_AECS_ENCRYPT)
USE(Decrypt, KT_AECS_DECRYPT)
USE(Wrap, KT_AECS_WRAP)
USE(Unwrap, KT_AECS_UNWRAP)
