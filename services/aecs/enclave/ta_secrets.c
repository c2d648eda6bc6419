/* TA-bound secrets (docs/aecs.md "TA-bound secrets"): a TA creates, reads and destroys
 * secrets owned by one of its verified identities, its MRENCLAVE or its MRSIGNER and
 * product id, as the request chooses; the values are the quote's, never the request's.
 * A debug enclave is never its production twin's owner (as SGX's own key derivation mixes
 * in the attributes: on hardware a debug build of the same pages has the same MRENCLAVE),
 * and an MRSIGNER-bound secret is refused to an ISVSVN below the highest that created or
 * read it, so an older, vulnerable release cannot read what a newer one holds.
 * One sealed object each, ta/<owner key>/<name>, whose record names its owner in full.
 * The AECS admin lists and deletes them (every owner's). */
#include "aecs.h"

#include <stdio.h>
#include <string.h>

#define OP(name, Req, req_prefix, Res, res_prefix)                                                                 \
    KT_REMOTE_FUNCTION(name, "aecs." #name, Kubetee__Aecs__V1__##Req, kubetee__aecs__v1__##req_prefix,             \
                       Kubetee__Aecs__V1__##Res, kubetee__aecs__v1__##res_prefix)

/* Every operation here: its caller, under the one lock, one audit line, and the
 * checkpoint after a change. */
typedef kt_status (*body_fn)(const ae_caller *c, const void *rq, void *rs);
static kt_status run(const char *op, const char *target, bool changes, body_fn body, const void *rq, void *rs)
{ /* target: "<binding>/<name>" for the caller's own, "<owner>/<name>" for an admin's */
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    st = body(&c, rq, rs);
    ae_audit(&c, op, target, st);
    if (!st && changes) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}

#define OWNER_MAX 120 /* "mrsigner:" 64 hex ":" prodid ":debug" */
#define SGX_FLAGS_DEBUG 2
#define OWNER_LABEL "kubetee.aecs.ta-owner.v1"

/* The owner's key segment: e-/s- and 16 bytes of SHA-256 over the owner's name (the
 * whole name does not fit a store key beside a secret name). */
static kt_status owner_prefix(const char *owner, char out[KT_STORE_KEY_MAX + 1])
{
    kt_buf m = {0};
    uint8_t h[KT_SHA256_LEN];
    char hex[33];
    kt_status st = kt_buf_append(&m, OWNER_LABEL, sizeof OWNER_LABEL);
    if (!st) st = kt_buf_append(&m, owner, strlen(owner));
    if (!st) st = kt_sha256(m.data, m.len, h);
    kt_buf_free(&m);
    if (st) return st;
    kt_hex_encode(h, 16, hex, sizeof hex);
    snprintf(out, KT_STORE_KEY_MAX + 1, "ta/%c-%s/", owner[2] == 'e' ? 'e' : 's', hex);
    return KT_OK;
}

/* The caller's own identity the binding names. */
static kt_status owner_of(const ae_caller *c, Kubetee__Aecs__V1__TaBinding b, char owner[OWNER_MAX])
{
    char hex[65];
    if (b == KUBETEE__AECS__V1__TA_BINDING__TA_BINDING_MRENCLAVE) {
        kt_hex_encode(c->peer.enclave.mrenclave, 32, hex, sizeof hex);
        snprintf(owner, OWNER_MAX, "mrenclave:%s", hex);
    } else if (b == KUBETEE__AECS__V1__TA_BINDING__TA_BINDING_MRSIGNER) {
        kt_hex_encode(c->peer.enclave.mrsigner, 32, hex, sizeof hex);
        snprintf(owner, OWNER_MAX, "mrsigner:%s:%u", hex, (unsigned)c->peer.enclave.prodid);
    } else {
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "a TA-bound secret is bound to TA_BINDING_MRENCLAVE or TA_BINDING_MRSIGNER");
    }
    if (c->peer.enclave.attr_flags & SGX_FLAGS_DEBUG) strcat(owner, ":debug");
    return KT_OK;
}

/* The audit target of a TA's own secret: its binding and name. */
static const char *binding_name(Kubetee__Aecs__V1__TaBinding b, const char *name, char *out)
{
    snprintf(out, AE_TARGET_MAX + OWNER_MAX, "%s/%s",
             b == KUBETEE__AECS__V1__TA_BINDING__TA_BINDING_MRENCLAVE  ? "mrenclave"
             : b == KUBETEE__AECS__V1__TA_BINDING__TA_BINDING_MRSIGNER ? "mrsigner"
                                                                        : "?",
             name);
    return out;
}

static kt_status key_of(const char *owner, const char *name, char key[KT_STORE_KEY_MAX + 1])
{
    char prefix[KT_STORE_KEY_MAX + 1];
    kt_status st = ae_name_check(name, AE_SECRET_NAME_MAX, "secret name");
    if (!st) st = owner_prefix(owner, prefix);
    if (!st) snprintf(key, KT_STORE_KEY_MAX + 1, "%s%s", prefix, name);
    return st;
}

/* How a record is read: from the store (ae_obj_get), or from the enclave's kept copy
 * while the table agrees (ae_obj_get_kept: a TA's get, as GetSecret's). */
typedef kt_status (*getter_fn)(const char *key, kt_buf *plain, uint64_t *version);

/* The record at key, which must be owner's: another owner's record under this key (a
 * hash collision, or a host's move) is damage, and said so. */
static kt_status open_owned(getter_fn get, const char *key, const char *owner, const char *name, ae_secret **out,
                            uint64_t *version)
{
    kt_buf b = {0};
    kt_status st = get(key, &b, version);
    ae_secret *s = st ? NULL : ae_unpack(&kubetee__aecs__v1__stored_secret__descriptor, &b);
    kt_buf_free(&b);
    if (st == KT_ERR_NOT_FOUND) return kt_fail(KT_ERR_NOT_FOUND, "this TA has no secret %s bound to %.9s", name, owner);
    if (st) return st;
    if (!s || !s->spec || !s->n_versions || strcmp(s->owner, owner))
        return kt_fail(KT_ERR_VERIFY, "%s opens but is not %s's secret %s", key, owner, name);
    *out = s;
    return KT_OK;
}

static kt_status answer(const ae_secret *s, uint64_t version, Kubetee__Aecs__V1__GetSecretResponse *rs)
{
    const Kubetee__Aecs__V1__StoredVersion *v = NULL;
    for (size_t k = 0; k < s->n_versions; k++)
        if (!version || s->versions[k]->version == version) v = s->versions[k];
    if (!v) return kt_fail(KT_ERR_NOT_FOUND, "TA secret %s has no version %llu", s->spec->name, (unsigned long long)version);
    Kubetee__Aecs__V1__SecretInfo *i = kt_call_alloc(sizeof *i);
    if (!i) return KT_ERR_NO_MEMORY;
    kubetee__aecs__v1__secret_info__init(i);
    i->name = s->spec->name;
    i->type = s->spec->type;
    i->version = v->version;
    rs->info = i;
    rs->version = v->version;
    rs->data = v->data; /* call memory, wiped when the call ends */
    return KT_OK;
}

static kt_status create_body(const ae_caller *c, const void *req, void *res)
{
    const Kubetee__Aecs__V1__TaCreateSecretRequest *rq = req;
    Kubetee__Aecs__V1__GetSecretResponse *rs = res;
    char owner[OWNER_MAX], key[KT_STORE_KEY_MAX + 1], prefix[KT_STORE_KEY_MAX + 1];
    kt_status st = ae_ta_only(c);
    if (!st) st = ae_signer_room(c, rq->data.len); /* F12: its signer allowed, under its quota */
    if (!st) st = owner_of(c, rq->binding, owner);
    if (!st) st = key_of(owner, rq->name, key);
    if (st) return st;
    ae_spec spec = KUBETEE__AECS__V1__SECRET_SPEC__INIT;
    spec.name = rq->name;
    spec.service = "ta";
    spec.type = rq->type;
    spec.share = "";
    spec.params = rq->params;
    spec.n_params = rq->n_params;
    if ((st = ae_spec_check(&spec, ae.max_data, rq->data.len))) return st;
    /* a service's CA signs only its own service's certificates: a TA's are self-signed */
    if (strcmp(ae_param(&spec, "issuer", "self-signed"), "self-signed"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "TA secret %s: a TA-bound certificate is self-signed (issuer "
                                                "service-ca is for a service's own secrets)", rq->name);
    owner_prefix(owner, prefix);
    size_t mine = ae_obj_quota_count(prefix, key), all = ae_obj_quota_count("ta/", key);
    if (mine >= ae.max_ta_secrets)
        return kt_fail(KT_ERR_TOO_LARGE, "quota: this TA identity has %zu TA-bound secrets, the most allowed is %u", mine,
                       ae.max_ta_secrets);
    if (all >= ae.max_ta_total)
        return kt_fail(KT_ERR_TOO_LARGE, "quota: AECS holds %zu TA-bound secrets, the most allowed is %u", all,
                       ae.max_ta_total);
    kt_buf data = {0}, packed = {0};
    Kubetee__Aecs__V1__StoredVersion v = KUBETEE__AECS__V1__STORED_VERSION__INIT, *vs[] = {&v};
    ae_secret s = KUBETEE__AECS__V1__STORED_SECRET__INIT;
    st = ae_generate(&spec, rq->data.data, rq->data.len, &data);
    if (!st && data.len > ae.max_data)
        st = kt_fail(KT_ERR_TOO_LARGE, "TA secret %s: %zu bytes of data is over the limit of %u", rq->name, data.len,
                     ae.max_data);
    if (!st) st = ae_signer_room(c, data.len); /* the bytes as made */
    if (!st) st = ae_now(&v.created);
    v.version = 1;
    v.data.data = data.data;
    v.data.len = data.len;
    s.spec = &spec;
    s.versions = vs;
    s.n_versions = 1;
    s.owner = owner;
    if (rq->binding == KUBETEE__AECS__V1__TA_BINDING__TA_BINDING_MRSIGNER) s.owner_min_svn = c->peer.enclave.svn;
    s.creator_signer.data = (uint8_t *)c->peer.enclave.mrsigner;
    s.creator_signer.len = 32;
    s.creator_prod_id = c->peer.enclave.prodid;
    uint64_t ov;
    if (!st) st = ae_pack(&s.base, &packed);
    if (!st) st = ae_obj_put(key, packed.data, packed.len, 0, &ov);
    if (st == KT_ERR_EXISTS) st = kt_fail(KT_ERR_EXISTS, "TA secret %s exists already for %.9s", rq->name, owner);
    if (!st) ae_signer_note(key, c, data.len);
    if (!st && !(st = kt_call_bytes(&v.data, data.data, data.len))) st = answer(&s, 1, rs);
    kt_buf_free(&data);
    kt_buf_free(&packed);
    return st;
}

static kt_status TaCreateSecret(const Kubetee__Aecs__V1__TaCreateSecretRequest *rq, Kubetee__Aecs__V1__GetSecretResponse *rs)
{
    char t[AE_TARGET_MAX + OWNER_MAX];
    return run("TaCreateSecret", binding_name(rq->binding, rq->name, t), true, create_body, rq, rs);
}
OP(TaCreateSecret, TaCreateSecretRequest, ta_create_secret_request, GetSecretResponse, get_secret_response)

/* The caller's own secret rq names: its key, record and version. */
static kt_status own(getter_fn get, const ae_caller *c, const Kubetee__Aecs__V1__TaSecretRequest *rq,
                     char key[KT_STORE_KEY_MAX + 1], ae_secret **s, uint64_t *version)
{
    char owner[OWNER_MAX];
    kt_status st = ae_ta_only(c);
    if (!st) st = owner_of(c, rq->binding, owner);
    if (!st) st = key_of(owner, rq->name, key);
    if (!st) st = open_owned(get, key, owner, rq->name, s, version);
    if (!st && c->peer.enclave.svn < (*s)->owner_min_svn)
        st = kt_fail(KT_ERR_DENIED, "TA secret %s: held for ISVSVN %u and up; this enclave is ISVSVN %u (an older release)",
                     rq->name, (unsigned)(*s)->owner_min_svn, (unsigned)c->peer.enclave.svn);
    return st;
}

/* A newer release that reads an MRSIGNER-bound secret raises its floor to its own
 * ISVSVN, written before the answer, so the older release is refused from then on. */
static kt_status raise_floor(const ae_caller *c, const char *key, ae_secret *s, uint64_t version, bool *changed)
{
    *changed = false;
    if (strncmp(s->owner, "mrsigner:", 9) || c->peer.enclave.svn <= s->owner_min_svn) return KT_OK;
    s->owner_min_svn = c->peer.enclave.svn;
    kt_buf packed = {0};
    uint64_t nv;
    kt_status st = ae_pack(&s->base, &packed);
    if (!st) st = ae_obj_put(key, packed.data, packed.len, version, &nv);
    kt_buf_free(&packed);
    *changed = !st;
    return st;
}

static kt_status get_body(const ae_caller *c, const void *req, void *res)
{
    const Kubetee__Aecs__V1__TaSecretRequest *rq = req;
    char key[KT_STORE_KEY_MAX + 1];
    ae_secret *s = NULL;
    uint64_t v;
    bool raised;
    kt_status st = own(ae_obj_get_kept, c, rq, key, &s, &v);
    if (!st) st = raise_floor(c, key, s, v, &raised);
    if (!st && raised) ae_state_save();
    return st ? st : answer(s, rq->version, res);
}

static kt_status TaGetSecret(const Kubetee__Aecs__V1__TaSecretRequest *rq, Kubetee__Aecs__V1__GetSecretResponse *rs)
{
    char t[AE_TARGET_MAX + OWNER_MAX];
    return run("TaGetSecret", binding_name(rq->binding, rq->name, t), false, get_body, rq, rs);
}
OP(TaGetSecret, TaSecretRequest, ta_secret_request, GetSecretResponse, get_secret_response)

static kt_status destroy_body(const ae_caller *c, const void *req, void *res)
{
    (void)res;
    char key[KT_STORE_KEY_MAX + 1];
    ae_secret *s = NULL;
    uint64_t v;
    kt_status st = own(ae_obj_get, c, req, key, &s, &v);
    if (!st && !(st = ae_obj_delete(key, v))) ae_signer_forget(key);
    return st;
}

static kt_status TaDestroySecret(const Kubetee__Aecs__V1__TaSecretRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    char t[AE_TARGET_MAX + OWNER_MAX];
    return run("TaDestroySecret", binding_name(rq->binding, rq->name, t), true, destroy_body, rq, rs);
}
OP(TaDestroySecret, TaSecretRequest, ta_secret_request, Done, done)

static kt_status list_body(const ae_caller *c, const void *rq, void *res)
{
    (void)rq;
    Kubetee__Aecs__V1__ListTaSecretsResponse *rs = res;
    const char **keys;
    size_t n;
    kt_status st = ae_admin_only(c);
    if (!st) st = ae_obj_keys("ta/", &keys, &n);
    if (st) return st;
    rs->secrets = kt_call_alloc((n + 1) * sizeof *rs->secrets);
    if (!rs->secrets) return KT_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) {
        kt_buf b = {0};
        uint64_t v;
        ae_secret *s = NULL;
        if (!(st = ae_obj_get(keys[i], &b, &v)) && (!(s = ae_unpack(&kubetee__aecs__v1__stored_secret__descriptor, &b)) ||
                                                    !s->spec || !s->n_versions))
            st = kt_fail(KT_ERR_VERIFY, "%s opens but does not decode", keys[i]);
        kt_buf_free(&b);
        if (st) return st;
        Kubetee__Aecs__V1__TaSecretInfo *t = kt_call_alloc(sizeof *t);
        if (!t) return KT_ERR_NO_MEMORY;
        kubetee__aecs__v1__ta_secret_info__init(t);
        t->owner = s->owner;
        t->name = s->spec->name;
        t->type = s->spec->type;
        t->version = s->versions[s->n_versions - 1]->version;
        rs->secrets[rs->n_secrets++] = t;
    }
    return KT_OK;
}

static kt_status ListTaSecrets(const Kubetee__Aecs__V1__ListTaSecretsRequest *rq, Kubetee__Aecs__V1__ListTaSecretsResponse *rs)
{
    return run("ListTaSecrets", "", false, list_body, rq, rs);
}
OP(ListTaSecrets, ListTaSecretsRequest, list_ta_secrets_request, ListTaSecretsResponse, list_ta_secrets_response)

/* An owner as ListTaSecrets names it: "mrenclave:<64 hex>" or "mrsigner:<64 hex>:<prodid>". */
static kt_status owner_check(const char *owner)
{
    size_t n = strlen(owner);
    const char *hex = !strncmp(owner, "mrenclave:", 10) ? owner + 10 : !strncmp(owner, "mrsigner:", 9) ? owner + 9 : NULL;
    uint8_t raw[32];
    uint64_t prodid;
    bool signer = hex == owner + 9;
    char digits[65] = "";
    if (hex && (size_t)(hex - owner) + 64 <= n) memcpy(digits, hex, 64);
    if (hex && digits[0] && !kt_hex_decode(digits, raw, 32)) {
        char rest[24] = "";
        size_t rl = strlen(hex + 64);
        if (rl < sizeof rest) memcpy(rest, hex + 64, rl + 1);
        else rl = 0, rest[0] = '?'; /* too long to be an owner */
        if (rl >= 6 && !strcmp(rest + rl - 6, ":debug")) rest[rl - 6] = 0; /* a debug enclave's own */
        if (!signer && !rest[0]) return KT_OK;
        if (signer && rest[0] == ':' && !kt_decimal_parse(rest + 1, 65535, &prodid)) return KT_OK;
    }
    char shown[OWNER_MAX + 16];
    return kt_fail(KT_ERR_INVALID_ARGUMENT,
                   "'%s' is no TA owner (mrenclave:<hex> or mrsigner:<hex>:<prodid>, either with :debug)",
                   kt_escape(owner, n, shown, sizeof shown));
}

static kt_status delete_body(const ae_caller *c, const void *req, void *res)
{
    (void)res;
    const Kubetee__Aecs__V1__DeleteTaSecretRequest *rq = req;
    char key[KT_STORE_KEY_MAX + 1];
    ae_secret *s = NULL;
    uint64_t v;
    kt_status st = ae_admin_only(c);
    if (!st) st = owner_check(rq->owner);
    if (!st) st = key_of(rq->owner, rq->name, key);
    if (!st) st = open_owned(ae_obj_get, key, rq->owner, rq->name, &s, &v);
    if (!st && !(st = ae_obj_delete(key, v))) ae_signer_forget(key);
    return st;
}

static kt_status DeleteTaSecret(const Kubetee__Aecs__V1__DeleteTaSecretRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    char t[AE_TARGET_MAX + OWNER_MAX];
    snprintf(t, sizeof t, "%s/%s", rq->owner, rq->name);
    return run("DeleteTaSecret", t, true, delete_body, rq, rs);
}
OP(DeleteTaSecret, DeleteTaSecretRequest, delete_ta_secret_request, Done, done)
