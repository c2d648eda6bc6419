/* Storage key rotation (docs/aecs.md "Key rotation"): a new storage key, every object
 * sealed again under it, and the old key dropped, so that a key taken from an older copy
 * of the store (or an older recovery set's shares) opens only that older data. Done at
 * every change of the recovery set (recovery.c) and by aecs.RotateKey. Crash-safe:
 * aecs/master holds both keys, marked rotating, from before the first object is sealed
 * under the new one until the last is; a start on such a master finishes it (start.c),
 * and until then an object opens under the key its header's generation names, one of the
 * old key's only if the rotation's manifest lists it (manifest.c). */
#include "aecs.h"

#include <stdio.h>
#include <string.h>

#define BATCH 16           /* objects sealed again per hold of ae_lock (aecs.RotateKey, SetRecovery) */
#define PAUSE_MS 5          /* between batches: the host's aecs.Pause */

static bool under_way; /* a request rotates with ae_lock let go between batches: one at a time */

bool ae_rotate_unfinished(void)
{
    return ae.rotating;
}

size_t ae_rotate_objects_left(void)
{
    return ae.rotating ? ae_obj_under(ae.key_gen - 1) : 0;
}

kt_status ae_rotate_begin(const ae_recovery *for_set)
{
    if (ae.rotating) return kt_fail(KT_ERR_STATE, "a storage key rotation is unfinished");
    if (ae.key_gen == UINT32_MAX) return kt_fail(KT_ERR_STATE, "the storage key has no generation left");
    kt_status st = ae_writable("key rotation");
    if (st) return st;
    uint8_t k[KT_AES256_KEY_LEN], root[KT_SHA256_LEN];
    /* what the old key may open from now on, written before anything names the new key */
    uint32_t chunks;
    st = ae_manifest_write(ae.key_gen + 1, root, &chunks);
    if (st) return kt_fail_context(st, "key rotation: its manifest");
    if ((st = kt_random(k, sizeof k))) return st;
    memcpy(ae.rotation_root, root, sizeof root);
    ae.rotation_chunks = chunks;
    memcpy(ae.master_old, ae.master, sizeof ae.master);
    memcpy(ae.master, k, sizeof k);
    kt_wipe(k, sizeof k);
    ae.key_gen++;
    ae.rotating = true;
    uint64_t was_version = ae.key_set_version;
    uint8_t was_digest[KT_SHA256_LEN];
    memcpy(was_digest, ae.key_set_digest, sizeof was_digest);
    ae_key_for(for_set); /* the new key is that set's alone (attack6) */
    /* a failed put is one that did not apply (read back: start.c); nothing is sealed under
     * the new key yet */
    if ((st = ae_master_store(ae.master_version)) != KT_OK) {
        memcpy(ae.master, ae.master_old, sizeof ae.master);
        kt_wipe(ae.master_old, sizeof ae.master_old);
        ae.key_gen--;
        ae.rotating = false;
        ae.key_set_version = was_version;
        memcpy(ae.key_set_digest, was_digest, sizeof was_digest);
        return kt_fail_context(ae_master_fence(st), "key rotation: aecs/master");
    }
    char g[16];
    snprintf(g, sizeof g, "%u", (unsigned)ae.key_gen);
    kt_log(KT_LOG_INFO, "aecs.key_rotation_started", "generation", g, NULL);
    return KT_OK;
}

kt_status ae_rotate_finish(bool unlock)
{
    if (!ae.rotating) return KT_OK;
    kt_status st = ae_writable("key rotation");
    if (st) return st;
    if (under_way)
        return kt_fail(KT_ERR_STATE, "a storage key rotation is under way (another request's): try again when it ends");
    under_way = unlock;
    /* aecs/state under the new key first: every other object then (ae_obj_put refuses
     * any other before it) */
    st = ae_state_save();
    size_t cursor = 0, resealed = 0, skipped = 0, r, s;
    bool done = false;
    uint64_t epoch = ae_obj_epoch();
    while (!st && !done) {
        st = ae_obj_reseal(&cursor, BATCH, &r, &s, &done);
        resealed += r, skipped += s;
        if (st || done || !unlock) continue;
        /* requests go on between batches: a waiting one is woken by the unlock, and the
         * host's pause lets it take the lock before this loop does again (a mutex hands
         * over nothing); a pause refused costs nothing but that */
        pthread_mutex_unlock(&ae_lock);
        Kubetee__Aecs__V1__PauseRequest prq = KUBETEE__AECS__V1__PAUSE_REQUEST__INIT;
        Kubetee__Aecs__V1__Done prs = KUBETEE__AECS__V1__DONE__INIT;
        prq.milliseconds = PAUSE_MS;
        (void)kt_ocall("aecs.Pause", &prq, &prs);
        pthread_mutex_lock(&ae_lock);
        if (ae.phase != AE_READY || ae_obj_epoch() != epoch)
            st = kt_fail(KT_ERR_STATE, "key rotation: AECS stopped or its object table was rebuilt meanwhile");
    }
    under_way = false;
    if (!st) {
        ae.rotating = false;
        if ((st = ae_master_store(ae.master_version)) != KT_OK) {
            ae.rotating = true; /* both keys still in force */
            st = ae_master_fence(st);
        } else {
            kt_wipe(ae.master_old, sizeof ae.master_old);
            kt_wipe(ae.rotation_root, sizeof ae.rotation_root);
            ae.rotation_chunks = 0;
        }
    }
    char g[16], n[24], k[24];
    snprintf(g, sizeof g, "%u", (unsigned)ae.key_gen);
    snprintf(n, sizeof n, "%zu", resealed);
    snprintf(k, sizeof k, "%zu", skipped);
    if (st) return kt_fail_context(st, "key rotation (unfinished: the next start, Backup or RotateKey goes on with it)");
    kt_log(KT_LOG_INFO, "aecs.key_rotated", "generation", g, "resealed", n, "skipped_damaged", k, NULL);
    return KT_OK;
}

static kt_status RotateKey(const Kubetee__Aecs__V1__RotateKeyRequest *rq, Kubetee__Aecs__V1__BackupResponse *rs)
{
    (void)rq;
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    if (!(st = ae_admin_only(&c))) {
        /* an unfinished one is finished, not begun again */
        st = ae_rotate_unfinished() ? KT_OK : ae_rotate_begin(&ae.recovery);
        if (!st) st = ae_rotate_finish(true);
        if (!st && ae.recovery.n) st = ae_backup(rs); /* the older backups no longer restore the store */
    }
    char target[24];
    snprintf(target, sizeof target, "generation %u", (unsigned)ae.key_gen);
    ae_audit(&c, "RotateKey", target, st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_REMOTE_FUNCTION(RotateKey, "aecs.RotateKey", Kubetee__Aecs__V1__RotateKeyRequest,
                   kubetee__aecs__v1__rotate_key_request, Kubetee__Aecs__V1__BackupResponse,
                   kubetee__aecs__v1__backup_response)
