/* The AECS admin's operations, and status for anyone (docs/aecs.md "Operations"). Each
 * runs under the enclave's one lock and writes one audit line. */
#include "aecs.h"

#include <stdio.h>
#include <string.h>

#define OP(name, Req, req_prefix, Res, res_prefix)                                                                 \
    KT_REMOTE_FUNCTION(name, "aecs." #name, Kubetee__Aecs__V1__##Req, kubetee__aecs__v1__##req_prefix,             \
                       Kubetee__Aecs__V1__##Res, kubetee__aecs__v1__##res_prefix)

const char *ae_phase_name(void)
{
    switch (ae.phase) {
    case AE_READY: return "ready";
    case AE_UNINIT: return "uninitialized";
    case AE_RESTORE: return "restore";
    case AE_DAMAGED: return "damaged";
    default: return "stopped";
    }
}

kt_status ae_ready(void)
{
    if (ae.phase == AE_READY) return KT_OK;
    if (ae.phase == AE_UNINIT) return kt_fail(KT_ERR_STATE, "AECS is not initialised yet (aecsadmin init)");
    if (ae.phase == AE_RESTORE)
        return kt_fail(KT_ERR_STATE, "AECS cannot unseal its storage key on this machine: it waits for a restore");
    if (ae.phase == AE_DAMAGED)
        return kt_fail(
            KT_ERR_VERIFY,
            "AECS's storage key opens but aecs/state is missing or refused (the aecs.damaged "
            "log line says why): the store is damaged or objects were hidden; init is "
            "refused; put the store back from a copy (docs/aecs.md \"Damaged, not "
            "uninitialized\")");
    return kt_fail(KT_ERR_STATE, "AECS has not started");
}

kt_status ae_admin_only(const ae_caller *c)
{
    kt_status st = ae_ready();
    if (st) return st;
    return ae_is_admin(c) ? KT_OK : kt_fail(KT_ERR_DENIED, "the caller (%.40s...) is not an AECS admin", c->label);
}

static kt_status key_check(const ae_pubkey *k, const char *what)
{
    if (!k || (k->type != KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_P256 && k->type != KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_SM2))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "%s must be a P-256 or SM2 public key", what);
    kt_key *key = NULL;
    kt_status st = k->raw.len == 64 ? kt_key_from_public_raw(k->type == KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_SM2 ? KT_KEY_SM2 : KT_KEY_P256,
                                                             k->raw.data, 64, &key)
                                    : kt_fail(KT_ERR_INVALID_ARGUMENT, "%s: a public key is x||y, 64 bytes", what);
    kt_key_free(key);
    return st ? kt_fail_context(KT_ERR_INVALID_ARGUMENT, "%s", what) : KT_OK;
}

static kt_status pub_to_call(const uint8_t *raw, uint8_t type, ae_pubkey **out)
{
    ae_pubkey *k = kt_call_alloc(sizeof *k);
    if (!k) return KT_ERR_NO_MEMORY;
    kubetee__aecs__v1__public_key__init(k);
    k->type = type;
    *out = k;
    return kt_call_bytes(&k->raw, raw, 64);
}

static kt_status Status(const Kubetee__Aecs__V1__StatusRequest *rq, Kubetee__Aecs__V1__StatusResponse *rs)
{
    ae_caller c;
    kt_status st = ae_caller_untimed(&c);
    if (st) return st;
    /* a read, answered on a clock AECS refuses too (its line at the floor's time), so that
     * an admin sees the floor a lowering replaces (clock.c AcceptClock) */
    if (ae_now(&c.now)) c.now = ae_clock_floor();
    pthread_mutex_lock(&ae_lock);
    rs->state = (char *)ae_phase_name();
    rs->services = (uint32_t)ae_obj_count("services/");
    rs->admins = kt_call_alloc((ae.n_admins + 1) * sizeof *rs->admins);
    st = rs->admins ? KT_OK : KT_ERR_NO_MEMORY;
    for (size_t i = 0; i < ae.n_admins && !st; i++) st = pub_to_call(ae.admin_raw[i], ae.admin_type[i], &rs->admins[i]);
    if (!st) rs->n_admins = ae.n_admins;
    uint8_t pub[64];
    if (!st) st = kt_identity_public(pub);
    if (!st) st = kt_call_bytes(&rs->identity_public, pub, 64);
    rs->audit_seq = ae.audit_seq;
    if (!st) st = kt_call_bytes(&rs->audit_hash, ae.audit_hash, 32);
    rs->store_revision = ae.revision;
    rs->rotation_objects_left = ae.phase == AE_READY ? ae_rotate_objects_left() : 0;
    if (!st) st = ae_platform_to_msg(&rs->ta_platform);
    if (!st && c.key) st = kt_call_bytes(&rs->caller, c.raw, 64);
    if (!st && ae.phase == AE_READY) st = ae_recovery_to_call(&ae.recovery, &rs->recovery);
    rs->time_floor = ae_clock_floor();
    if (!st && ae.phase == AE_READY) {
        Kubetee__Aecs__V1__StorageKeyStatus *k = kt_call_alloc(sizeof *k);
        if (!k) st = kt_fail(KT_ERR_NO_MEMORY, "status: out of memory");
        if (k) {
            kubetee__aecs__v1__storage_key_status__init(k);
            k->generation = ae.key_gen;
            k->rotation_unfinished = ae_rotate_unfinished(); /* also a rotation owed */
            rs->storage_key = k;
        }
    }
    if (!st && ae.phase == AE_READY && ae.frozen && !(rs->writes_stopped = kt_call_strdup(ae.frozen_why)))
        st = kt_fail(KT_ERR_NO_MEMORY, "status: out of memory");
    if (!st && ae.phase == AE_RESTORE) st = ae_restore_progress(&rs->restore);
    /* the instance, proved over this session and the caller's nonce (F6: a re-initialised
     * AECS has the same enclave and identity key, never this key) */
    if (!st && ae.instance) st = kt_call_bytes(&rs->instance_public, ae.instance_pub, 64);
    if (!st && rq->nonce.len) {
        uint8_t sig[64];
        if (!ae.instance) st = ae_ready();
        else if (rq->nonce.len < 16 || rq->nonce.len > 64) st = kt_fail(KT_ERR_INVALID_ARGUMENT, "status: the nonce is 16 to 64 bytes");
        else if (!(st = ae_instance_prove(rq->nonce.data, rq->nonce.len, sig))) st = kt_call_bytes(&rs->instance_proof, sig, 64);
    }
    ae_audit(&c, "Status", "", st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(Status, StatusRequest, status_request, StatusResponse, status_response)

static kt_status init_body(const ae_caller *c, const Kubetee__Aecs__V1__InitRequest *rq, Kubetee__Aecs__V1__InitResponse *rs)
{
    if (ae.phase != AE_UNINIT)
        return ae.phase == AE_READY ? kt_fail(KT_ERR_EXISTS, "AECS is initialised already: init is refused")
                                    : ae_ready();
    if (!c->key) return kt_fail(KT_ERR_DENIED, "init: the first admin proves itself with a key");
    size_t n = ae_obj_count("");
    if (n) return kt_fail(KT_ERR_STATE, "init: the store holds %zu objects; init only runs on an empty store", n);
    kt_platform_policy tp = {0};
    ae_recovery rec = {0};
    kt_status st = rq->ta_platform ? ae_platform_from_msg(rq->ta_platform, &tp) : KT_OK;
    if (!st && rq->recovery) st = ae_recovery_parse(rq->recovery, false, &rec);
    if (st) return kt_fail_context(st, "init");
    if (rec.n) rec.version = 1;
    /* Always a new storage key: init never adopts one already stored (that would hand a
     * key the old store's objects open under to a new admin). aecs/state goes first, then
     * aecs/master: a crash between leaves objects without aecs/master, which start refuses. */
    ae.n_admins = 1;
    ae.admin_type[0] = c->key_type;
    memcpy(ae.admin_raw[0], c->raw, 64);
    ae.ta_platform = tp;
    ae.has_ta_platform = rq->ta_platform != NULL;
    ae.recovery = rec;
    ae_key_for(&rec);
    st = kt_random(ae.master, sizeof ae.master);
    if (!st) st = ae_instance_new(); /* a new instance: clients that pinned another refuse it */
    if (!st) st = ae_state_save();
    if (!st && (st = ae_master_store(0)) != KT_OK) ae_obj_delete("aecs/state", ae.state_version);
    if (!st) st = ae_platform_apply();
    if (st) {
        ae_forget();
        return kt_fail_context(st, "init");
    }
    ae.phase = AE_READY;
    st = kt_call_bytes(&rs->instance_public, ae.instance_pub, 64);
    return st ? st : pub_to_call(c->raw, c->key_type, &rs->admin);
}

static kt_status Init(const Kubetee__Aecs__V1__InitRequest *rq, Kubetee__Aecs__V1__InitResponse *rs)
{
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    st = init_body(&c, rq, rs);
    ae_audit(&c, "Init", "", st);
    if (!st) ae_state_save(); /* the checkpoint holds the init's own line */
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(Init, InitRequest, init_request, InitResponse, init_response)

static kt_status AddAdmin(const Kubetee__Aecs__V1__AddAdminRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rs;
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    if (!(st = ae_admin_only(&c)) && !(st = key_check(rq->key, "the new admin's key"))) {
        for (size_t i = 0; i < ae.n_admins && !st; i++)
            if (ae.admin_type[i] == rq->key->type && kt_equal(ae.admin_raw[i], rq->key->raw.data, 64))
                st = kt_fail(KT_ERR_EXISTS, "that key is an admin already");
        if (!st && ae.n_admins == AE_MAX_ADMINS) st = kt_fail(KT_ERR_TOO_LARGE, "AECS has %d admins, the most it keeps", AE_MAX_ADMINS);
        if (!st) {
            ae.admin_type[ae.n_admins] = (uint8_t)rq->key->type;
            memcpy(ae.admin_raw[ae.n_admins++], rq->key->raw.data, 64);
            if ((st = ae_state_save())) ae.n_admins--;
        }
    }
    ae_audit(&c, "AddAdmin", "", st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(AddAdmin, AddAdminRequest, add_admin_request, Done, done)

static kt_status RegisterService(const Kubetee__Aecs__V1__RegisterServiceRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rs;
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    char key[KT_STORE_KEY_MAX + 1];
    if (!(st = ae_admin_only(&c)) && !(st = ae_service_name_new(rq->name)) &&
        !(st = key_check(rq->admin_key, "the service admin's key"))) {
        snprintf(key, sizeof key, "services/%s", rq->name);
        size_t n = ae_obj_quota_count("services/", key);
        if (n >= ae.max_services)
            st = kt_fail(KT_ERR_TOO_LARGE, "quota: %zu services registered, the most allowed is %u", n, ae.max_services);
    }
    if (!st) {
        Kubetee__Aecs__V1__Service s = KUBETEE__AECS__V1__SERVICE__INIT;
        s.name = rq->name;
        s.admin_key = rq->admin_key;
        s.created = c.now;
        kt_buf b = {0};
        uint64_t v;
        if (!(st = ae_pack(&s.base, &b))) st = ae_obj_put(key, b.data, b.len, 0, &v);
        if (st == KT_ERR_EXISTS) st = kt_fail(KT_ERR_EXISTS, "service %s is registered already", rq->name);
        kt_buf_free(&b);
    }
    ae_audit(&c, "RegisterService", rq->name, st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(RegisterService, RegisterServiceRequest, register_service_request, Done, done)

static kt_status UnregisterService(const Kubetee__Aecs__V1__UnregisterServiceRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rs;
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    char key[KT_STORE_KEY_MAX + 1], prefix[KT_STORE_KEY_MAX + 1];
    if (!(st = ae_admin_only(&c)) && !(st = ae_name_check(rq->name, AE_SERVICE_NAME_MAX, "service name"))) {
        snprintf(key, sizeof key, "services/%s", rq->name);
        snprintf(prefix, sizeof prefix, "secrets/%s/", rq->name);
        size_t n = ae_obj_count(prefix);
        kt_buf b = {0};
        uint64_t v;
        if (n) st = kt_fail(KT_ERR_STATE, "service %s still has %zu secrets; delete them first", rq->name, n);
        if (!st && !(st = ae_obj_get(key, &b, &v))) st = ae_obj_delete(key, v);
        if (!st) st = ae_ca_remove(rq->name); /* a later service of this name gets its own CA */
        kt_buf_free(&b);
    }
    ae_audit(&c, "UnregisterService", rq->name, st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(UnregisterService, UnregisterServiceRequest, unregister_service_request, Done, done)

static kt_status ListServices(const Kubetee__Aecs__V1__ListServicesRequest *rq, Kubetee__Aecs__V1__ListServicesResponse *rs)
{
    (void)rq;
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    const char **keys = NULL;
    size_t n = 0;
    if (!(st = ae_admin_only(&c)) && !(st = ae_obj_keys("services/", &keys, &n))) {
        rs->services = kt_call_alloc((n + 1) * sizeof *rs->services);
        if (!rs->services) st = KT_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < n && !st; i++) {
        kt_buf b = {0};
        uint64_t v;
        if (!(st = ae_obj_get(keys[i], &b, &v))) {
            rs->services[i] = ae_unpack(&kubetee__aecs__v1__service__descriptor, &b);
            if (!rs->services[i]) st = kt_fail(KT_ERR_VERIFY, "%s opens but does not decode", keys[i]);
            else rs->n_services = i + 1;
        }
        kt_buf_free(&b);
    }
    ae_audit(&c, "ListServices", "", st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(ListServices, ListServicesRequest, list_services_request, ListServicesResponse, list_services_response)

static kt_status AuditHead(const Kubetee__Aecs__V1__AuditHeadRequest *rq, Kubetee__Aecs__V1__AuditHeadResponse *rs)
{
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    if (!(st = ae_admin_only(&c)) && (rq->nonce.len < 16 || rq->nonce.len > 64))
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "the nonce is 16 to 64 bytes");
    /* the head includes this request's own line: audit first, then sign */
    ae_audit(&c, "AuditHead", "", st);
    if (!st) {
        static const char label[] = "kubetee.aecs.audit-head.v1";
        kt_buf m = {0};
        uint8_t seq[8], sig[64];
        kt_put_le64(seq, ae.audit_seq);
        rs->seq = ae.audit_seq;
        st = kt_buf_append(&m, label, sizeof label - 1);
        if (!st) st = kt_buf_append(&m, rq->nonce.data, rq->nonce.len);
        if (!st) st = kt_buf_append(&m, seq, 8);
        if (!st) st = kt_buf_append(&m, ae.audit_hash, 32);
        if (!st) st = kt_identity_sign(m.data, m.len, sig);
        if (!st) st = kt_call_bytes(&rs->hash, ae.audit_hash, 32);
        if (!st) st = kt_call_bytes(&rs->signature, sig, 64);
        kt_buf_free(&m);
    }
    pthread_mutex_unlock(&ae_lock);
    return st;
}
OP(AuditHead, AuditHeadRequest, audit_head_request, AuditHeadResponse, audit_head_response)
