/* The AECS enclave's start (the host's one ECALL, aecs.Start), its readiness for the
 * host's /readyz (aecs.HostStatus), and identity backup and restore (docs/aecs.md). */
#include "aecs.h"

#include <stdio.h>
#include <string.h>

ae_globals ae;
pthread_mutex_t ae_lock = PTHREAD_MUTEX_INITIALIZER;

KT_SERVICE_ANY_CLIENT_KEY()

#define MASTER_AAD "kubetee.aecs.master.v1"
#define BACKUP_LABEL "kubetee.aecs.backup.v1"

static uint32_t bounded(uint32_t v, uint32_t def, uint32_t max)
{
    return v == 0 ? def : v > max ? max : v;
}

static kt_status start_body(const Kubetee__Aecs__V1__StartRequest *rq, Kubetee__Aecs__V1__StartResponse *rs)
{
    if (ae.phase != AE_STOPPED) return kt_fail(KT_ERR_STATE, "AECS has started already");
    ae.max_services = bounded(rq->max_services, 64, 100000);
    ae.max_secrets = bounded(rq->max_secrets, 256, 100000);
    ae.max_data = bounded(rq->max_data, 16384, 256 * 1024);
    ae.keep_versions = bounded(rq->keep_versions, 8, 64);
    ae.max_ta_secrets = bounded(rq->max_ta_secrets, 16, 100000);
    ae.max_ta_total = bounded(rq->max_ta_total, 4096, 1000000);
    kt_buf blob = {0}, plain = {0}, aad = {0};
    bool found;
    uint64_t v, objects = 0, damaged = 0;
    kt_status st = ae_store_get_raw("aecs/master", &blob, &v, &found);
    if (st) return st;
    if (!found) { /* a new AECS: nothing else may be there */
        st = ae_obj_scan(&objects, &damaged);
        if (!st && objects)
            st = kt_fail(KT_ERR_VERIFY, "the store holds %llu objects but no aecs/master: not this AECS's store, or damaged",
                         (unsigned long long)objects);
        if (!st) ae.phase = AE_UNINIT;
    } else if ((st = kt_unseal(blob.data, blob.len, &plain, &aad)) != KT_OK || plain.len != 32 ||
               aad.len != sizeof MASTER_AAD - 1 || memcmp(aad.data, MASTER_AAD, aad.len)) {
        /* sealed on another machine (or by another signer): only a restore opens it */
        kt_log(KT_LOG_WARN, "aecs.master_sealed_elsewhere", "reason", st ? kt_last_error() : "not a storage key", NULL);
        ae.master_version = v;
        ae.phase = AE_RESTORE;
        st = KT_OK;
    } else {
        memcpy(ae.master, plain.data, 32);
        ae.master_version = v;
        st = ae_obj_scan(&objects, &damaged);
        kt_status s2 = st ? st : ae_state_load();
        if (!st && s2 == KT_ERR_NOT_FOUND) {
            /* init writes aecs/state before aecs/master: a storage key without its state
             * is damage (or objects the host hid), never a store to initialise again */
            kt_wipe(ae.master, sizeof ae.master);
            ae.phase = AE_DAMAGED;
            kt_log(KT_LOG_ERROR, "aecs.damaged", "reason", "the storage key opens but aecs/state is missing", NULL);
        } else if (!st && s2) {
            st = kt_fail_context(s2, "aecs/state");
        } else if (!st) {
            ae.phase = AE_READY;
            ae_audit_adopt(rq->audit_tail, rq->n_audit_tail);
        }
    }
    kt_buf_free(&blob);
    kt_buf_free(&plain);
    kt_buf_free(&aad);
    rs->state = (char *)ae_phase_name();
    rs->objects = objects;
    char o[24], d[24];
    snprintf(o, sizeof o, "%llu", (unsigned long long)objects);
    snprintf(d, sizeof d, "%llu", (unsigned long long)damaged);
    if (!st) kt_log(KT_LOG_INFO, "aecs.started", "state", ae_phase_name(), "objects", o, "damaged", d, NULL);
    return st;
}

static kt_status Start(const Kubetee__Aecs__V1__StartRequest *rq, Kubetee__Aecs__V1__StartResponse *rs)
{
    pthread_mutex_lock(&ae_lock);
    kt_status st = start_body(rq, rs);
    if (st) {
        ae_obj_reset();
        kt_wipe(ae.master, sizeof ae.master);
        ae_instance_clear();
        ae.phase = AE_STOPPED;
        ae.has_ta_platform = false;
        ae_platform_apply();
    } else {
        ae_audit(NULL, "Start", ae_phase_name(), KT_OK);
        if (ae.phase == AE_READY) ae_state_save();
    }
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_TRUSTED_FUNCTION(Start, "aecs.Start", Kubetee__Aecs__V1__StartRequest, kubetee__aecs__v1__start_request,
                    Kubetee__Aecs__V1__StartResponse, kubetee__aecs__v1__start_response)

static kt_status HostStatus(const Kubetee__Aecs__V1__HostStatusRequest *rq, Kubetee__Aecs__V1__StartResponse *rs)
{
    (void)rq;
    pthread_mutex_lock(&ae_lock);
    rs->state = (char *)ae_phase_name();
    rs->objects = ae_obj_count("");
    pthread_mutex_unlock(&ae_lock);
    return KT_OK;
}
KT_TRUSTED_FUNCTION(HostStatus, "aecs.HostStatus", Kubetee__Aecs__V1__HostStatusRequest,
                    kubetee__aecs__v1__host_status_request, Kubetee__Aecs__V1__StartResponse,
                    kubetee__aecs__v1__start_response)

/* A clean stop (the host's drain is over): the last line, signed, covers every read's
 * line before it, and the sealed checkpoint moves to it. */
static kt_status Stop(const Kubetee__Aecs__V1__StopRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rq, (void)rs;
    pthread_mutex_lock(&ae_lock);
    if (ae.phase != AE_STOPPED) ae_audit(NULL, "Stop", ae_phase_name(), KT_OK);
    kt_status st = ae.phase == AE_READY ? ae_state_save() : KT_OK;
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_TRUSTED_FUNCTION(Stop, "aecs.Stop", Kubetee__Aecs__V1__StopRequest, kubetee__aecs__v1__stop_request,
                    Kubetee__Aecs__V1__Done, kubetee__aecs__v1__done)

/* ECIES to the recovery key: ephemeral P-256 ECDH, HKDF-SHA256 over (ephemeral || recovery), AES-256-GCM. */
static kt_status backup_body(const Kubetee__Aecs__V1__BackupRequest *rq, Kubetee__Aecs__V1__BackupResponse *rs)
{
    const ae_pubkey *r = rq->recovery_key;
    if (!r || r->type != KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_P256 || r->raw.len != 64)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "backup: the recovery key is a P-256 public key (x||y)");
    kt_key *peer = NULL, *eph = NULL;
    uint8_t z[32], k[32], pub[64], salt[128], iv[KT_GCM_IV_LEN], ct[32 + KT_GCM_TAG_LEN];
    size_t n;
    kt_status st = kt_key_from_public_raw(KT_KEY_P256, r->raw.data, 64, &peer);
    if (!st) st = kt_key_generate(KT_KEY_P256, &eph);
    if (!st) st = kt_key_public_raw(eph, pub, sizeof pub, &n);
    if (!st) st = kt_ecdh(eph, peer, z);
    memcpy(salt, pub, 64);
    memcpy(salt + 64, r->raw.data, 64);
    if (!st) st = kt_hkdf_sha256(z, 32, salt, sizeof salt, (const uint8_t *)BACKUP_LABEL, sizeof BACKUP_LABEL - 1, k, 32);
    if (!st) st = kt_random(iv, sizeof iv);
    if (!st) st = kt_aead_seal(k, iv, (const uint8_t *)BACKUP_LABEL, sizeof BACKUP_LABEL - 1, ae.master, 32, ct, ct + 32);
    if (!st) st = kt_call_bytes(&rs->ephemeral_public, pub, 64);
    if (!st) st = kt_call_bytes(&rs->iv, iv, sizeof iv);
    if (!st) st = kt_call_bytes(&rs->ciphertext, ct, sizeof ct);
    kt_wipe(z, sizeof z);
    kt_wipe(k, sizeof k);
    kt_key_free(peer);
    kt_key_free(eph);
    return st;
}

static kt_status Backup(const Kubetee__Aecs__V1__BackupRequest *rq, Kubetee__Aecs__V1__BackupResponse *rs)
{
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    if (!(st = ae_admin_only(&c))) st = backup_body(rq, rs);
    ae_audit(&c, "Backup", "", st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_REMOTE_FUNCTION(Backup, "aecs.Backup", Kubetee__Aecs__V1__BackupRequest, kubetee__aecs__v1__backup_request,
                   Kubetee__Aecs__V1__BackupResponse, kubetee__aecs__v1__backup_response)

/* The storage key from a backup: it must open aecs/state, and the caller must be one of
 * the admins listed there; then it is sealed for this machine. */
static kt_status restore_body(const ae_caller *c, const Kubetee__Aecs__V1__RestoreRequest *rq)
{
    if (ae.phase != AE_RESTORE)
        return kt_fail(KT_ERR_STATE, "restore: AECS opens its storage key here; nothing to restore");
    if (!c->key || rq->storage_key.len != 32)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "restore: an admin key sends a 32-byte storage key");
    memcpy(ae.master, rq->storage_key.data, 32);
    uint64_t objects, damaged, v;
    kt_buf blob = {0};
    kt_status st = ae_obj_scan(&objects, &damaged);
    if (!st) st = ae_state_load();
    if (st) st = kt_fail(KT_ERR_DENIED, "restore: that key does not open this store's aecs/state");
    if (!st && !ae_is_admin(c)) st = kt_fail(KT_ERR_DENIED, "restore: the caller is not an admin of this store");
    if (!st) st = kt_seal(KT_SEAL_MRSIGNER, (const uint8_t *)MASTER_AAD, sizeof MASTER_AAD - 1, ae.master, 32, &blob);
    if (!st) st = ae_store_put_raw("aecs/master", blob.data, blob.len, ae.master_version, &v);
    kt_buf_free(&blob);
    if (st) {
        ae_obj_reset();
        kt_wipe(ae.master, sizeof ae.master);
        ae_instance_clear();
        ae.n_admins = 0;
        ae.state_version = 0;
        ae.has_ta_platform = false;
        ae_platform_apply();
        return st;
    }
    ae.master_version = v;
    ae.phase = AE_READY;
    return KT_OK;
}

static kt_status Restore(const Kubetee__Aecs__V1__RestoreRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rs;
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    st = restore_body(&c, rq);
    ae_audit(&c, "Restore", "", st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_REMOTE_FUNCTION(Restore, "aecs.Restore", Kubetee__Aecs__V1__RestoreRequest, kubetee__aecs__v1__restore_request,
                   Kubetee__Aecs__V1__Done, kubetee__aecs__v1__done)
