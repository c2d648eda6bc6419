/* Secrets: the service admin's operations on its own service's secrets, the AECS admin's
 * delete, and the TA's get (docs/aecs.md "Operations"). A secret is one sealed object,
 * secrets/<service>/<name>, holding its spec and its kept versions. */
#include "aecs.h"

#include <kubetee/aecs.h>

#include <stdio.h>
#include <string.h>

#define OP(name, Req, req_prefix, Res, res_prefix)                                                                 \
    KT_REMOTE_FUNCTION(name, "aecs." #name, Kubetee__Aecs__V1__##Req, kubetee__aecs__v1__##req_prefix,             \
                       Kubetee__Aecs__V1__##Res, kubetee__aecs__v1__##res_prefix)

typedef Kubetee__Aecs__V1__SecretInfo info_t;


/* What an audit line names: the secret with its service, "service/name". */
static const char *target(const char *service, const char *name, char out[AE_TARGET_MAX])
{
    snprintf(out, AE_TARGET_MAX, "%s/%s", service ? service : "", name ? name : "");
    return out;
}

static kt_status secret_key(const char *service, const char *name, char key[KT_STORE_KEY_MAX + 1])
{
    kt_status st = ae_name_check(service, AE_SERVICE_NAME_MAX, "service name");
    if (!st) st = ae_name_check(name, AE_SECRET_NAME_MAX, "secret name");
    if (!st) snprintf(key, KT_STORE_KEY_MAX + 1, "secrets/%s/%s", service, name);
    return st;
}

/* The caller is the admin of service (by the key the service was registered with). The
 * same words whether the service exists or not. */
static kt_status service_admin(const ae_caller *c, const char *service)
{
    kt_status st = ae_ready();
    if (st) return st;
    if ((st = ae_name_check(service, AE_SERVICE_NAME_MAX, "service name"))) return st;
    char key[KT_STORE_KEY_MAX + 1];
    snprintf(key, sizeof key, "services/%s", service);
    kt_buf b = {0};
    uint64_t v;
    st = c->key ? ae_obj_get(key, &b, &v) : KT_ERR_NOT_FOUND;
    ae_service *s = st ? NULL : ae_unpack(&kubetee__aecs__v1__service__descriptor, &b);
    kt_buf_free(&b);
    /* damage is said as damage, a store failure as one (with its reason); only a service
     * that is not there reads as not the caller's */
    if (st && st != KT_ERR_NOT_FOUND) return kt_fail_context(st, "reading %s", key);
    if (!st && !s) return kt_fail(KT_ERR_VERIFY, "%s opens but does not decode", key);
    if (!s || !s->admin_key || s->admin_key->type != c->key_type || s->admin_key->raw.len != 64 ||
        !kt_equal(s->admin_key->raw.data, c->raw, 64))
        return kt_fail(KT_ERR_DENIED, "the caller is not the admin of service %s", service);
    return KT_OK;
}

static kt_status load_with(kt_status (*get)(const char *, kt_buf *, uint64_t *), const char *key, ae_secret **out,
                          uint64_t *version)
{
    kt_buf b = {0};
    kt_status st = get(key, &b, version);
    if (!st && !(*out = ae_unpack(&kubetee__aecs__v1__stored_secret__descriptor, &b)))
        st = kt_fail(KT_ERR_VERIFY, "%s opens but does not decode", key);
    if (!st && (!(*out)->spec || !(*out)->n_versions)) st = kt_fail(KT_ERR_VERIFY, "%s holds no version", key);
    kt_buf_free(&b);
    return st;
}

static kt_status load(const char *key, ae_secret **out, uint64_t *version)
{
    return load_with(ae_obj_get, key, out, version);
}

static kt_status save(const char *key, const ae_secret *s, uint64_t expected)
{
    kt_buf b = {0};
    uint64_t v;
    kt_status st = ae_pack(&s->base, &b);
    if (!st) st = ae_obj_put(key, b.data, b.len, expected, &v);
    kt_buf_free(&b);
    return st;
}

static kt_status info_of(const ae_secret *s, info_t **out)
{
    info_t *i = kt_call_alloc(sizeof *i);
    if (!i) return KT_ERR_NO_MEMORY;
    kubetee__aecs__v1__secret_info__init(i);
    i->service = s->spec->service;
    i->name = s->spec->name;
    i->type = s->spec->type;
    i->readonly = s->spec->readonly;
    i->share = s->spec->share;
    i->rules = (uint32_t)s->spec->n_policy;
    i->versions = kt_call_alloc((s->n_versions + 1) * sizeof *i->versions);
    if (!i->versions) return KT_ERR_NO_MEMORY;
    for (size_t k = 0; k < s->n_versions; k++) i->versions[k] = s->versions[k]->version;
    i->n_versions = s->n_versions;
    i->version = s->versions[s->n_versions - 1]->version;
    *out = i;
    return KT_OK;
}

static const Kubetee__Aecs__V1__StoredVersion *pick(const ae_secret *s, uint64_t version)
{
    if (!version) return s->versions[s->n_versions - 1];
    for (size_t k = 0; k < s->n_versions; k++)
        if (s->versions[k]->version == version) return s->versions[k];
    kt_fail(KT_ERR_NOT_FOUND, "secret %s/%s has no version %llu (kept: %llu..%llu)", s->spec->service, s->spec->name,
            (unsigned long long)version, (unsigned long long)s->versions[0]->version,
            (unsigned long long)s->versions[s->n_versions - 1]->version);
    return NULL;
}

static kt_status new_version(uint64_t number, kt_buf *data, Kubetee__Aecs__V1__StoredVersion **out)
{
    Kubetee__Aecs__V1__StoredVersion *v = kt_call_alloc(sizeof *v);
    if (!v) return KT_ERR_NO_MEMORY;
    kubetee__aecs__v1__stored_version__init(v);
    v->version = number;
    kt_status st = ae_now(&v->created);
    *out = v;
    return st ? st : kt_call_bytes(&v->data, data->data, data->len);
}

static kt_status CreateSecret(const Kubetee__Aecs__V1__CreateSecretRequest *rq, Kubetee__Aecs__V1__SecretInfo *rs)
{
    ae_caller c;
    char t[AE_TARGET_MAX];
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    const ae_spec *spec = rq->spec;
    char key[KT_STORE_KEY_MAX + 1], prefix[KT_STORE_KEY_MAX + 1];
    kt_buf data = {0};
    if (!(st = ae_spec_check(spec, ae.max_data, rq->data.len)) && !(st = service_admin(&c, spec->service)) &&
        !(st = secret_key(spec->service, spec->name, key))) {
        snprintf(prefix, sizeof prefix, "secrets/%s/", spec->service);
        size_t n = ae_obj_quota_count(prefix, key);
        if (n >= ae.max_secrets)
            st = kt_fail(KT_ERR_TOO_LARGE, "quota: service %s has %zu secrets, the most allowed is %u", spec->service,
                         n, ae.max_secrets);
    }
    if (!st) st = ae_generate(spec, rq->data.data, rq->data.len, &data);
    if (!st && data.len > ae.max_data)
        st = kt_fail(KT_ERR_TOO_LARGE, "secret %s: %zu bytes of data is over the limit of %u", spec->name, data.len,
                     ae.max_data);
    Kubetee__Aecs__V1__StoredVersion *v = NULL;
    if (!st) st = new_version(1, &data, &v);
    if (!st) {
        ae_secret s = KUBETEE__AECS__V1__STORED_SECRET__INIT;
        s.spec = (ae_spec *)spec;
        s.versions = &v;
        s.n_versions = 1;
        st = save(key, &s, 0);
        if (st == KT_ERR_EXISTS) st = kt_fail(KT_ERR_EXISTS, "secret %s/%s exists already", spec->service, spec->name);
        info_t *i = NULL;
        if (!st && !(st = info_of(&s, &i))) *rs = *i;
    }
    kt_buf_free(&data);
    ae_audit(&c, "CreateSecret", spec ? target(spec->service, spec->name, t) : "", st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(CreateSecret, CreateSecretRequest, create_secret_request, SecretInfo, secret_info)

static kt_status update_body(const ae_caller *c, const Kubetee__Aecs__V1__UpdateSecretRequest *rq, info_t **out)
{
    char key[KT_STORE_KEY_MAX + 1];
    ae_secret *s = NULL;
    uint64_t ov;
    kt_status st = service_admin(c, rq->service);
    if (!st) st = secret_key(rq->service, rq->name, key);
    if (!st) st = load(key, &s, &ov);
    if (st) return st;
    uint64_t latest = s->versions[s->n_versions - 1]->version;
    if (s->spec->readonly) return kt_fail(KT_ERR_DENIED, "secret %s/%s is readonly: update is refused", rq->service, rq->name);
    if (rq->expected_version && rq->expected_version != latest)
        return kt_fail(KT_ERR_STATE, "secret %s/%s is at version %llu, not %llu (check-and-set)", rq->service,
                       rq->name, (unsigned long long)latest, (unsigned long long)rq->expected_version);
    if (rq->data.len > ae.max_data)
        return kt_fail(KT_ERR_TOO_LARGE, "secret %s: %zu bytes of data is over the limit of %u", rq->name,
                       rq->data.len, ae.max_data);
    kt_buf data = {0};
    Kubetee__Aecs__V1__StoredVersion *v = NULL;
    const ProtobufCBinaryData *prev = &s->versions[s->n_versions - 1]->data;
    if (rq->keep_key && rq->data.len)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s/%s: keep_key renews with the key kept; it takes no data",
                       rq->service, rq->name);
    st = rq->keep_key ? ae_renew(s->spec, prev->data, prev->len, &data)
                      : ae_generate(s->spec, rq->data.data, rq->data.len, &data);
    if (!st) st = new_version(latest + 1, &data, &v);
    kt_buf_free(&data);
    if (st) return st;
    size_t keep = s->n_versions + 1 > ae.keep_versions ? ae.keep_versions : s->n_versions + 1;
    Kubetee__Aecs__V1__StoredVersion **vs = kt_call_alloc((keep + 1) * sizeof *vs);
    if (!vs) return KT_ERR_NO_MEMORY;
    for (size_t k = 0; k + 1 < keep; k++) vs[k] = s->versions[s->n_versions - (keep - 1) + k];
    vs[keep - 1] = v;
    s->versions = vs;
    s->n_versions = keep;
    if ((st = save(key, s, ov))) return st;
    return info_of(s, out);
}

static kt_status UpdateSecret(const Kubetee__Aecs__V1__UpdateSecretRequest *rq, Kubetee__Aecs__V1__SecretInfo *rs)
{
    ae_caller c;
    char t[AE_TARGET_MAX];
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    info_t *i = NULL;
    st = update_body(&c, rq, &i);
    if (!st) *rs = *i;
    ae_audit(&c, "UpdateSecret", target(rq->service, rq->name, t), st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(UpdateSecret, UpdateSecretRequest, update_secret_request, SecretInfo, secret_info)

/* The secret removed, or with version one version of it (as Vault KV's destroy: the others
 * stay). The newest is never removed alone, so that a version number never names two
 * values (update makes the newest + 1). */
static kt_status remove_secret(const char *service, const char *name, bool honour_readonly,
                               uint64_t version)
{
    char key[KT_STORE_KEY_MAX + 1];
    ae_secret *s = NULL;
    uint64_t v;
    kt_status st = secret_key(service, name, key);
    if (!st) st = load(key, &s, &v);
    if (st) return st;
    if (honour_readonly && s->spec->readonly)
        return kt_fail(KT_ERR_DENIED, "secret %s/%s is readonly: destroy is refused", service,
                       name);
    if (!version) return ae_obj_delete(key, v);
    if (!pick(s, version)) return KT_ERR_NOT_FOUND;
    if (s->versions[s->n_versions - 1]->version == version)
        return kt_fail(KT_ERR_STATE,
                       "secret %s/%s: version %llu is the newest; update the secret first, or "
                       "destroy all of it",
                       service, name, (unsigned long long)version);
    size_t k = 0;
    for (size_t i = 0; i < s->n_versions; i++)
        if (s->versions[i]->version != version) s->versions[k++] = s->versions[i];
    s->n_versions = k;
    return save(key, s, v);
}

static kt_status DestroySecret(const Kubetee__Aecs__V1__DestroySecretRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rs;
    ae_caller c;
    char t[AE_TARGET_MAX + 24]; /* and "@<version>" */
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    if (!(st = service_admin(&c, rq->service)))
        st = remove_secret(rq->service, rq->name, true, rq->version);
    target(rq->service, rq->name, t);
    if (rq->version)
        snprintf(t + strlen(t), sizeof t - strlen(t), "@%llu", (unsigned long long)rq->version);
    ae_audit(&c, "DestroySecret", t, st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(DestroySecret, DestroySecretRequest, destroy_secret_request, Done, done)

static kt_status DeleteSecret(const Kubetee__Aecs__V1__DeleteSecretRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rs;
    ae_caller c;
    char t[AE_TARGET_MAX];
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    if (!(st = ae_admin_only(&c))) st = remove_secret(rq->service, rq->name, false, 0);
    ae_audit(&c, "DeleteSecret", target(rq->service, rq->name, t), st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(DeleteSecret, DeleteSecretRequest, delete_secret_request, Done, done)

static kt_status list_body(const ae_caller *c, const char *service, Kubetee__Aecs__V1__ListSecretsResponse *rs)
{
    kt_status st = ae_is_admin(c) ? ae_ready() : service_admin(c, service);
    if (!st) st = ae_name_check(service, AE_SERVICE_NAME_MAX, "service name");
    if (st) return st;
    char prefix[KT_STORE_KEY_MAX + 1];
    snprintf(prefix, sizeof prefix, "secrets/%s/", service);
    const char **keys;
    size_t n;
    if ((st = ae_obj_keys(prefix, &keys, &n))) return st;
    rs->secrets = kt_call_alloc((n + 1) * sizeof *rs->secrets);
    if (!rs->secrets) return KT_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) {
        ae_secret *s;
        uint64_t v;
        if ((st = load(keys[i], &s, &v)) || (st = info_of(s, &rs->secrets[i]))) return st;
        rs->n_secrets = i + 1;
    }
    return KT_OK;
}

static kt_status ListSecrets(const Kubetee__Aecs__V1__ListSecretsRequest *rq, Kubetee__Aecs__V1__ListSecretsResponse *rs)
{
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    st = list_body(&c, rq->service, rs);
    ae_audit(&c, "ListSecrets", rq->service, st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(ListSecrets, ListSecretsRequest, list_secrets_request, ListSecretsResponse, list_secrets_response)

static kt_status getpub_body(const ae_caller *c, const Kubetee__Aecs__V1__GetPublicRequest *rq,
                             Kubetee__Aecs__V1__GetPublicResponse *rs)
{
    char key[KT_STORE_KEY_MAX + 1];
    ae_secret *s = NULL;
    uint64_t ov;
    kt_status st = ae_ready();
    if (!st && (rq->nonce.len < 16 || rq->nonce.len > 64)) st = kt_fail(KT_ERR_INVALID_ARGUMENT, "the nonce is 16 to 64 bytes");
    if (!st) st = secret_key(rq->service, rq->name, key);
    if (!st) st = load(key, &s, &ov);
    /* not public: only its service's admin; the same words as for a secret that is not there */
    if (st == KT_ERR_NOT_FOUND || (!st && strcmp(s->spec->share, "public"))) {
        kt_status a = service_admin(c, rq->service);
        if (a) return a;
    }
    if (st) return st;
    const Kubetee__Aecs__V1__StoredVersion *v = pick(s, rq->version);
    if (!v) return KT_ERR_NOT_FOUND;
    kt_buf pem = {0}, m = {0};
    uint8_t sig[64];
    /* the signature names the service, the secret and its type (v2): an answer about
     * another service's key does not pass for this one's */
    st = ae_public_part(s->spec, v->data.data, v->data.len, &pem);
    if (!st) st = kt_aecs_getpub_message(rq->service, rq->name, (uint32_t)s->spec->type, v->version, rq->nonce.data,
                                         rq->nonce.len, pem.data, pem.len, &m);
    if (!st) st = kt_identity_sign(m.data, m.len, sig);
    if (!st) st = kt_call_bytes(&rs->public_pem, pem.data, pem.len);
    if (!st) st = kt_call_bytes(&rs->signature, sig, 64);
    if (!st) st = info_of(s, &rs->info);
    rs->version = v->version;
    kt_buf_free(&pem);
    kt_buf_free(&m);
    return st;
}

static kt_status GetPublic(const Kubetee__Aecs__V1__GetPublicRequest *rq, Kubetee__Aecs__V1__GetPublicResponse *rs)
{
    ae_caller c;
    char t[AE_TARGET_MAX];
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    st = getpub_body(&c, rq, rs);
    ae_audit(&c, "GetPublic", target(rq->service, rq->name, t), st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(GetPublic, GetPublicRequest, get_public_request, GetPublicResponse, get_public_response)

/* A TA: only a caller the handshake proved by its quote, judged by the secret's rules
 * against its verified report body (never by anything the request says). */
kt_status ae_ta_secret(const ae_caller *c, const char *service, const char *name, uint64_t version, ae_secret **out,
                       const Kubetee__Aecs__V1__StoredVersion **v)
{
    char key[KT_STORE_KEY_MAX + 1];
    ae_secret *s = NULL;
    uint64_t ov;
    kt_status st = ae_ta_only(c);
    if (st) return st;
    if ((st = secret_key(service, name, key))) return st;
    st = load_with(ae_obj_get_kept, key, &s, &ov); /* the enclave's kept copy, if the table agrees */
    if (st == KT_ERR_NOT_FOUND) /* as a refusal would: no oracle for names */
        return ae_ta_refused(service, name, &c->peer.enclave);
    if (st || (st = ae_policy_admits(s->spec, &c->peer.enclave))) return st;
    if (!(*v = pick(s, version))) return KT_ERR_NOT_FOUND;
    *out = s;
    return KT_OK;
}

static kt_status getsecret_body(const ae_caller *c, const Kubetee__Aecs__V1__GetSecretRequest *rq,
                                Kubetee__Aecs__V1__GetSecretResponse *rs)
{
    ae_secret *s = NULL;
    const Kubetee__Aecs__V1__StoredVersion *v = NULL;
    kt_status st = ae_ta_secret(c, rq->service, rq->name, rq->version, &s, &v);
    if (st) return st;
    if (s->spec->never_export)
        return kt_fail(KT_ERR_DENIED, "secret %s/%s is never-export: it never leaves AECS; an admitted TA uses it with "
                                      "aecs.Sign, Decrypt, Encrypt, Wrap and Unwrap", rq->service, rq->name);
    rs->version = v->version;
    rs->data = v->data; /* call memory already, wiped when the call ends */
    return info_of(s, &rs->info);
}

static kt_status GetSecret(const Kubetee__Aecs__V1__GetSecretRequest *rq, Kubetee__Aecs__V1__GetSecretResponse *rs)
{
    ae_caller c;
    char t[AE_TARGET_MAX];
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    st = getsecret_body(&c, rq, rs);
    ae_audit(&c, "GetSecret", target(rq->service, rq->name, t), st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(GetSecret, GetSecretRequest, get_secret_request, GetSecretResponse, get_secret_response)
