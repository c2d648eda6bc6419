/* The AECS enclave's start (the host's one ECALL, aecs.Start), its readiness for the
 * host's /readyz (aecs.HostStatus), its clean stop, and aecs/master, the storage key
 * sealed for this machine (backup and restore: recovery.c, restore.c). */
#include "aecs.h"
#include "sealed_format.h"

#include <stdio.h>
#include <string.h>

/* aecs/master v4's sealed part: the storage key, the recovery set it is for (u64le version,
 * SHA-256: ae_recovery_digest), then while rotating the key before, the manifest's root
 * and chunk count (u32le: checked at its first chunk, attack5 A5-2). v3's: the key, then
 * while rotating the key before, the root and the count. */
#define BOUND_LEN (8 + KT_SHA256_LEN)
#define KEY_LEN4 (KT_AES256_KEY_LEN + BOUND_LEN)
#define ROTATING_EXTRA (KT_AES256_KEY_LEN + KT_SHA256_LEN + 4)
#define ROTATING_LEN4 (KEY_LEN4 + ROTATING_EXTRA)
#define ROTATING_LEN3 (KT_AES256_KEY_LEN + ROTATING_EXTRA)

ae_globals ae;
static char abandoned[128]; /* a start drops a set change never saved: its audit target */
static uint64_t abandoned_master; /* then: aecs/master's version, where the key before goes */
static char landed[128]; /* a start finishes a set change whose answer said "may have changed" */
pthread_mutex_t ae_lock = PTHREAD_MUTEX_INITIALIZER;

KT_SERVICE_ANY_CLIENT_KEY()

/* aecs/master (sealed_format.h; docs/aecs.md "Storage layout"): v4 is the magic, the clear
 * header (instance public key, key generation, recovery set version, flags: rotating) and
 * the storage key sealed for this machine with the recovery set it is for, and the key
 * before it and the root of the rotation's manifest (manifest.c) after it while a rotation
 * is unfinished; the seal's AAD is the clear header. The instance and set version
 * are in the clear so that a machine that cannot unseal it knows which instance and set it
 * restores and refuses every other's shares (restore.c); on this machine the seal's AAD
 * binds them. v3 (no set in the sealed part), v2 (the instance, then the sealed key) and
 * v1 (the sealed key alone; v1 and v2 are generation 0) are rewritten as v4 at the first
 * start that opens them. */
/* attack5 A5-5: a put whose answer is lost (an etcd deadline) may have applied. aecs/master
 * is read back: its exact bytes (the seal's IV is new at every put) mean it applied; other
 * bytes, that it did not; no answer, that nothing may be written under either key until
 * the next start reads it (ae.master_unknown). */
static kt_status master_put_failed(kt_status put, const kt_buf *value, uint64_t *v)
{
    char why[512];
    snprintf(why, sizeof why, "%s", kt_last_error());
    kt_buf back = {0};
    bool found = false;
    kt_status st = ae_store_get_raw("aecs/master", &back, v, &found);
    bool applied =
        !st && found && back.len == value->len && !memcmp(back.data, value->data, back.len);
    kt_buf_free(&back);
    if (applied) {
        kt_log(KT_LOG_WARN, "aecs.master_put_applied", "reason", why, NULL);
        return KT_OK;
    }
    if (st) {
        ae_freeze("the last put of aecs/master failed and could not be read back: which key is in force is "
                  "unknown until AECS starts again");
        return kt_fail(put,
                       "%s (and reading aecs/master back failed: whether it applied is unknown; "
                       "AECS writes nothing until its next start)",
                       why);
    }
    ae.master_fence_due = true; /* "other bytes" is no final answer: ae_master_fence */
    ae.master_fence_version = *v;
    return kt_fail(put, "%s", why);
}

/* attack6 A6-6: a put read back as not applied may still land later: an etcd Txn that
 * commits past its deadline, or a host that holds it back; its compare (the version it
 * expected) still holds while nothing else moved aecs/master. Putting the master in force
 * again at the version read back moves the version on: once that put applied, the late
 * one's compare fails and the master in force is final. */
kt_status ae_master_fence(kt_status failed)
{
    if (!ae.master_fence_due) return failed;
    char why[768];
    snprintf(why, sizeof why, "%s", kt_last_error());
    ae.master_fence_due = false;
    kt_status st = ae_master_store(ae.master_fence_version);
    ae.master_fence_due = false;
    if (!st) {
        kt_log(KT_LOG_WARN, "aecs.master_fenced", "reason", why, NULL);
        return kt_fail(failed, "%s", why);
    }
    ae_freeze("a put of aecs/master read back as not applied may still land, and putting the master in force "
              "again failed: which master the store holds is unknown until AECS starts again");
    return kt_fail(failed,
                   "%s (it was read back as not applied, and putting the master in force again failed: "
                   "AECS writes nothing until its next start)",
                   why);
}

kt_status ae_master_store(uint64_t expected)
{
    uint8_t clear[AE_MASTER_CLEAR_LEN], aad[AE_MASTER_AAD_MAX], keys[ROTATING_LEN4];
    ae_master_clear(clear, ae.instance_pub, ae.key_gen, ae.recovery.version, ae.rotating);
    size_t an = ae_master_aad(4, clear, aad);
    memcpy(keys, ae.master, KT_AES256_KEY_LEN);
    kt_put_le64(keys + KT_AES256_KEY_LEN, ae.key_set_version);
    memcpy(keys + KT_AES256_KEY_LEN + 8, ae.key_set_digest, KT_SHA256_LEN);
    uint8_t *r = keys + KEY_LEN4;
    memcpy(r, ae.master_old, KT_AES256_KEY_LEN);
    memcpy(r + KT_AES256_KEY_LEN, ae.rotation_root, KT_SHA256_LEN);
    kt_put_le32(r + KT_AES256_KEY_LEN + KT_SHA256_LEN, ae.rotation_chunks);
    kt_buf blob = {0}, value = {0};
    uint64_t v;
    ae.master_fence_due = false; /* set again only by this put's own read-back */
    kt_status st = kt_seal(KT_SEAL_MRSIGNER, aad, an, keys, ae.rotating ? ROTATING_LEN4 : KEY_LEN4, &blob);
    kt_wipe(keys, sizeof keys);
    if (!st) st = kt_buf_append(&value, AE_MASTER_MAGIC, AE_MASTER_MAGIC_LEN);
    if (!st) st = kt_buf_append(&value, clear, sizeof clear);
    if (!st) st = kt_buf_append(&value, blob.data, blob.len);
    if (!st && (st = ae_store_put_raw("aecs/master", value.data, value.len, expected, &v)) != KT_OK)
        st = master_put_failed(st, &value, &v);
    if (!st) ae.master_version = v, ae.master_set_version = ae.recovery.version;
    kt_buf_free(&blob);
    kt_buf_free(&value);
    return st;
}

static uint32_t bounded(uint32_t v, uint32_t def, uint32_t max)
{
    return v == 0 ? def : v > max ? max : v;
}

/* A TA session limit from the host: 0 is the default; above the enclave's ceiling it is
 * refused (the host may shorten a TA's session, never lengthen it past the ceiling). */
static kt_status session_limit(uint32_t v, uint32_t def, uint32_t ceiling, const char *what, uint32_t *out)
{
    const char *unit = strcmp(what, "ta_session_requests") ? "s" : "requests";
    if (v > ceiling)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "%s is %u %s; the AECS enclave allows at most %u %s (the host may shorten a TA's session, "
                       "never lengthen it past that)",
                       what, (unsigned)v, unit, (unsigned)ceiling, unit);
    *out = v ? v : def;
    return KT_OK;
}

/* attack6: the recovery set aecs/state holds against the set aecs/master's key is for. A v4
 * master names it in its sealed part: a start serves the key only to that set, so whoever
 * chooses which aecs/state a start sees (the host) never hands a key to a set it was not
 * made for. While a rotation is unfinished no object but aecs/state is sealed under the new
 * key before aecs/state is (objects.c ae_obj_put), so an aecs/state under the key before
 * with other objects under the new one was put back. A rotating master of a set change
 * whose aecs/state save never landed (aecs/state: the set before, under the key before,
 * nothing under the new key): *abandon, the change never happened (abandon_change). v3
 * masters (no set in the sealed part) keep the rules they were written under; v1 and v2
 * name no set. */
static kt_status set_rules(const ae_master_value *m, const uint8_t *bound, bool *abandon)
{
    *abandon = false;
    unsigned long long sv = ae.recovery.version, mv = m->set_version;
    if (m->format >= 3 && mv > sv)
        return kt_fail(KT_ERR_VERIFY,
                       "aecs/master was written with recovery set v%llu, aecs/state holds v%llu: "
                       "aecs/state was put back from before a change of the set",
                       mv, sv);
    if (m->format < 4) {
        /* a v3 set change saves its aecs/state under the new key of a rotation begun under
         * the set before: nothing else is ahead of aecs/master */
        if (m->format == 3 && sv > mv && !(m->rotating && sv == mv + 1 && ae_obj_gen("aecs/state") == m->gen))
            return kt_fail(KT_ERR_VERIFY,
                           "aecs/state holds recovery set v%llu, aecs/master was written with "
                           "v%llu: not a change of the set this store's key rotation made",
                           sv, mv);
        ae_key_for(&ae.recovery);
        return KT_OK;
    }
    ae.key_set_version = kt_le64(bound);
    memcpy(ae.key_set_digest, bound + 8, KT_SHA256_LEN);
    unsigned long long kv = ae.key_set_version;
    bool is_for = ae_key_is_for(&ae.recovery);
    uint32_t sg = ae_obj_gen("aecs/state");
    size_t newer = m->rotating ? ae_obj_under(m->gen) - (sg == m->gen) : 0;
    if (m->rotating && sg + 1 == m->gen && newer)
        return is_for ? kt_fail(KT_ERR_VERIFY,
                                "aecs/state was put back from before the key rotation to generation %u (%zu "
                                "objects are sealed under the new key, aecs/state under the one before: no "
                                "rotation leaves that)",
                                (unsigned)m->gen, newer)
                      : kt_fail(KT_ERR_VERIFY,
                                "aecs/state was put back from before a change of the set (v%llu to v%llu: %zu "
                                "objects are sealed under the new key, aecs/state with v%llu under the one "
                                "before)",
                                mv, kv, newer, sv);
    if (is_for) return KT_OK; /* in force, or the rotation (and set change) to finish */
    if (m->rotating && sv == mv && sg + 1 == m->gen) {
        *abandon = true; /* nothing is under the new key: the change to kv never landed */
        return KT_OK;
    }
    if (!m->rotating)
        return kt_fail(KT_ERR_VERIFY,
                       "aecs/state holds recovery set v%llu, aecs/master's storage key is for %s v%llu: not "
                       "the set this store's key was made for",
                       sv, sv == kv ? "another set of" : "set", kv);
    return kt_fail(KT_ERR_VERIFY,
                   "aecs/state holds recovery set v%llu (under key generation %u); aecs/master's unfinished "
                   "key rotation to generation %u is from set v%llu to %s v%llu: neither",
                   sv, (unsigned)sg, (unsigned)m->gen, mv, sv == kv ? "another set of" : "set", kv);
}

/* The set change a rotating aecs/master names was never saved (set_rules): the new key is
 * dropped unused (it never serves the set before, attack6 A6-5) and aecs/master is the key
 * before alone again, at its generation, for the set in force. */
static kt_status abandon_change(uint64_t v)
{
    unsigned long long was = ae.key_set_version;
    kt_log(KT_LOG_WARN, "aecs.set_change_not_saved", "reason", abandoned, NULL);
    /* the master in force (rotating), for the fence if the put fails */
    uint8_t k2[KT_AES256_KEY_LEN], k1[KT_AES256_KEY_LEN], root[KT_SHA256_LEN], digest[KT_SHA256_LEN];
    memcpy(k2, ae.master, sizeof k2);
    memcpy(k1, ae.master_old, sizeof k1);
    memcpy(root, ae.rotation_root, sizeof root);
    memcpy(digest, ae.key_set_digest, sizeof digest);
    uint32_t chunks = ae.rotation_chunks;
    memcpy(ae.master, ae.master_old, sizeof ae.master);
    kt_wipe(ae.master_old, sizeof ae.master_old);
    kt_wipe(ae.rotation_root, sizeof ae.rotation_root);
    ae.rotation_chunks = 0;
    ae.key_gen--;
    ae.rotating = false;
    ae_key_for(&ae.recovery);
    kt_status st = ae_master_store(v);
    if (st) { /* attack8 A8-4: fenced like every aecs/master put, so it cannot land later */
        memcpy(ae.master, k2, sizeof k2);
        memcpy(ae.master_old, k1, sizeof k1);
        memcpy(ae.rotation_root, root, sizeof root);
        memcpy(ae.key_set_digest, digest, sizeof digest);
        ae.rotation_chunks = chunks;
        ae.key_gen++;
        ae.rotating = true;
        ae.key_set_version = was;
        st = ae_master_fence(st);
    }
    kt_wipe(k2, sizeof k2);
    kt_wipe(k1, sizeof k1);
    return st ? kt_fail_context(st, "aecs/master: the key of set change to v%llu (never saved) dropped", was) : KT_OK;
}

static kt_status start_body(const Kubetee__Aecs__V1__StartRequest *rq, Kubetee__Aecs__V1__StartResponse *rs)
{
    if (ae.phase != AE_STOPPED) return kt_fail(KT_ERR_STATE, "AECS has started already");
    kt_status lim = session_limit(rq->ta_session_max_age, AE_TA_SESSION_AGE_DEFAULT, AE_TA_SESSION_AGE_CEILING,
                                  "ta_session_max_age", &ae.ta_session_max_age);
    if (!lim)
        lim = session_limit(rq->ta_session_idle, AE_TA_SESSION_IDLE_DEFAULT, AE_TA_SESSION_IDLE_CEILING,
                            "ta_session_idle", &ae.ta_session_idle);
    if (!lim)
        lim = session_limit(rq->ta_session_requests, AE_TA_SESSION_REQUESTS_DEFAULT, AE_TA_SESSION_REQUESTS_CEILING,
                            "ta_session_requests", &ae.ta_session_requests);
    if (lim) return lim;
    kt_service_set_quote_session_limits(ae.ta_session_max_age, ae.ta_session_idle, ae.ta_session_requests);
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
    ae.frozen = false; /* what is in force is what was just read */
    ae.frozen_why[0] = '\0';
    abandoned[0] = landed[0] = '\0';
    if (!found) { /* a new AECS: nothing else may be there */
        st = ae_obj_scan(&objects, &damaged);
        /* init's one crash shape (aecs/state written, aecs/master not: init answered
         * nothing); never made uninitialized here, the host can hide aecs/master too */
        if (!st && objects == 1 && ae_obj_count("aecs/state") == 1)
            st = kt_fail(KT_ERR_VERIFY,
                         "the store holds aecs/state but no aecs/master: an init cut off between its two "
                         "writes (if no init ever answered: empty the store and init again) or aecs/master "
                         "lost (put it back from a copy)");
        else if (!st && objects)
            st = kt_fail(KT_ERR_VERIFY, "the store holds %llu objects but no aecs/master: not this AECS's store, or damaged",
                         (unsigned long long)objects);
        if (!st) ae.phase = AE_UNINIT;
    } else {
        ae_master_value m;
        ae_master_parse(blob.data, blob.len, &m);
        size_t want = m.format == 4 ? (m.rotating ? ROTATING_LEN4 : KEY_LEN4)
                                    : (m.rotating ? ROTATING_LEN3 : KT_AES256_KEY_LEN);
        if ((st = kt_unseal(m.sealed, m.n, &plain, &aad)) != KT_OK || plain.len != want || aad.len != m.aad_len ||
            memcmp(aad.data, m.aad, m.aad_len)) {
            /* sealed on another machine (or by another signer): only a restore opens it,
             * with shares of the instance and set aecs/master names (restore.c) */
            kt_log(KT_LOG_WARN, "aecs.master_sealed_elsewhere", "reason", st ? kt_last_error() : "not a storage key",
                   m.named ? NULL : "instance", m.named ? NULL : "not named (a v1 aecs/master)", NULL);
            ae.master_version = v;
            ae.key_gen = m.gen;
            ae_restore_expect(m.named ? m.instance : NULL);
            ae_restore_expect_set(m.set_version);
            ae.phase = AE_RESTORE;
            st = KT_OK;
        } else {
            const uint8_t *bound = m.format == 4 ? plain.data + KT_AES256_KEY_LEN : NULL;
            const uint8_t *extra = plain.data + (m.format == 4 ? KEY_LEN4 : KT_AES256_KEY_LEN);
            memcpy(ae.master, plain.data, KT_AES256_KEY_LEN);
            ae.key_gen = m.gen;
            ae.rotating = m.rotating;
            if (m.rotating) {
                memcpy(ae.master_old, extra, KT_AES256_KEY_LEN);
                memcpy(ae.rotation_root, extra + KT_AES256_KEY_LEN, KT_SHA256_LEN);
                ae.rotation_chunks = kt_le32(extra + KT_AES256_KEY_LEN + KT_SHA256_LEN);
                /* before the scan: it judges the old key's objects */
                st = ae_manifest_load(m.gen, ae.rotation_root, ae.rotation_chunks);
            }
            ae.master_version = v;
            ae.master_set_version = m.set_version;
            if (!st) st = ae_obj_scan(&objects, &damaged);
            ae_manifest_free(); /* each object's digest in the table carries it from here */
            kt_status s2 = st ? st : ae_state_load();
            bool abandon = false;
            char newer[KT_STORE_KEY_MAX + 1];
            uint32_t newer_gen;
            if (!st && (s2 == KT_ERR_NOT_FOUND || s2 == KT_ERR_VERIFY)) {
                /* init writes aecs/state before aecs/master: a storage key without its state
                 * (or with one that does not open: not the one an unfinished rotation started
                 * with) is damage, or objects the host hid or put back, never a store to
                 * initialise again */
                char why[400];
                snprintf(why, sizeof why, "the storage key opens but aecs/state is %s",
                         s2 == KT_ERR_NOT_FOUND ? "missing" : kt_last_error());
                kt_wipe(ae.master, sizeof ae.master);
                kt_wipe(ae.master_old, sizeof ae.master_old);
                ae.rotating = false;
                ae.phase = AE_DAMAGED;
                kt_log(KT_LOG_ERROR, "aecs.damaged", "reason", why, NULL);
            } else if (!st && s2) {
                st = kt_fail_context(s2, "aecs/state");
            } else if (!st && m.named && !kt_equal(m.instance, ae.instance_pub, 64)) {
                st = kt_fail(KT_ERR_VERIFY, "aecs/master names another instance than aecs/state's");
            } else if (!st && ae_obj_newer(newer, &newer_gen)) {
                /* attack8 A8-4: no rotation leaves an object under a key after aecs/master's */
                st = kt_fail(KT_ERR_VERIFY,
                             "object %s is sealed under key generation %u, after aecs/master's %u: aecs/master was "
                             "put back from before a key rotation (put the store back whole, or remove the object)",
                             newer, (unsigned)newer_gen, (unsigned)m.gen);
            } else if (!st && (st = set_rules(&m, bound, &abandon)) != KT_OK) {
            } else if (!st && !abandon && m.format < 4 && (st = ae_master_store(v)) != KT_OK) {
                st = kt_fail_context(st, "aecs/master: v%d to v4", m.format);
            } else if (!st) {
                /* attack8 A8-3: the change's aecs/state landed (step 3 did not): its audit line,
                 * so the log's last word on it is the set in force */
                if (!abandon && m.format == 4 && m.rotating && ae.recovery.version > m.set_version)
                    snprintf(landed, sizeof landed, "recovery v%llu was saved (its aecs/state landed): the set is v%llu",
                             (unsigned long long)ae.recovery.version, (unsigned long long)ae.recovery.version);
                if (abandon) { /* done by Start, after its audit line (attack7 A7-4) */
                    snprintf(abandoned, sizeof abandoned, "recovery v%llu was not saved: the set stays v%llu",
                             (unsigned long long)ae.key_set_version, (unsigned long long)ae.recovery.version);
                    abandoned_master = v;
                }
                ae.phase = AE_READY;
                ae_audit_adopt(rq->audit_tail, rq->n_audit_tail);
            }
        }
    }
    kt_buf_free(&blob);
    kt_buf_free(&plain);
    kt_buf_free(&aad);
    rs->state = (char *)ae_phase_name();
    rs->objects = objects;
    char o[24], d[24], age[16], idle[16], reqs[16];
    snprintf(o, sizeof o, "%llu", (unsigned long long)objects);
    snprintf(d, sizeof d, "%llu", (unsigned long long)damaged);
    snprintf(age, sizeof age, "%u", (unsigned)ae.ta_session_max_age);
    snprintf(idle, sizeof idle, "%u", (unsigned)ae.ta_session_idle);
    snprintf(reqs, sizeof reqs, "%u", (unsigned)ae.ta_session_requests);
    if (!st)
        kt_log(KT_LOG_INFO, "aecs.started", "state", ae_phase_name(), "objects", o, "damaged", d, "ta_session_max_age",
               age, "ta_session_idle", idle, "ta_session_requests", reqs, NULL);
    return st;
}

/* The host's own lines (Start, Stop): a clock that fails or cannot be fails them; one set
 * back gives them the floor's time (clock.c: ae_clock_start). */
static kt_status host_caller(ae_caller *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->label, sizeof h->label, "host");
    /* one clock: the TAs' attestation checks and session caps take the floored clock too */
    kt_status st = kt_attest_set_time_source(ae_clock_check);
    return st ? st : ae_clock_start(&h->now);
}

static kt_status Start(const Kubetee__Aecs__V1__StartRequest *rq, Kubetee__Aecs__V1__StartResponse *rs)
{
    pthread_mutex_lock(&ae_lock);
    ae_caller h;
    bool stopped = ae.phase == AE_STOPPED;
    kt_status st = start_body(rq, rs);
    if (!st && (st = host_caller(&h)) != KT_OK) st = kt_fail_context(st, "start"); /* after the state: its floor counts */
    /* a set change never saved: audited before aecs/master drops its key, so a start cut
     * off between leaves the line (and the next start drops the key, and says so, again) */
    if (!st && abandoned[0]) {
        ae_audit(&h, "SetRecovery", abandoned, KT_OK);
        st = abandon_change(abandoned_master);
    }
    if (!st && landed[0]) {
        kt_log(KT_LOG_WARN, "aecs.set_change_saved", "reason", landed, NULL);
        ae_audit(&h, "SetRecovery", landed, KT_OK);
    }
    if (st && stopped) { /* a second Start, refused, leaves the running AECS as it was */
        ae_obj_reset();
        ae_forget();
        ae.phase = AE_STOPPED;
    } else if (!st) {
        ae_audit(&h, "Start", ae_phase_name(), KT_OK);
        if (ae.phase == AE_READY) ae_state_save();
        /* a rotation a crash or failure left (or owes): finished first */
        if (ae.phase == AE_READY && ae_rotate_unfinished()) {
            kt_status r = ae_rotate_finish(false);
            ae_audit(&h, "RotateKey", "continued", r);
            if (r) /* AECS runs on both keys; Backup, SetRecovery, RotateKey and the next start go on with it */
                kt_log(KT_LOG_ERROR, "aecs.rotate_unfinished", "reason", kt_last_error(), NULL);
        }
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
    if (ae.phase == AE_READY) { /* an unfinished rotation: the key before still opens objects */
        rs->key_generation = ae.key_gen;
        rs->rotation_unfinished = ae_rotate_unfinished();
        rs->rotation_objects_left = ae_rotate_objects_left();
        rs->writes_stopped = ae.frozen;
    }
    size_t n = kubetee__aecs__v1__handshake_refusal__descriptor.n_values;
    kt_status st = (rs->handshake_refusals = kt_call_alloc(n * sizeof *rs->handshake_refusals)) ? KT_OK : KT_ERR_NO_MEMORY;
    if (!st) {
        ae_refusal_counts(rs->handshake_refusals, n);
        rs->n_handshake_refusals = n;
    }
    pthread_mutex_unlock(&ae_lock);
    return st;
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
    ae_caller h;
    kt_status st = host_caller(&h);
    if (!st && ae.phase != AE_STOPPED) ae_audit(&h, "Stop", ae_phase_name(), KT_OK);
    if (!st && ae.phase == AE_READY) st = ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_TRUSTED_FUNCTION(Stop, "aecs.Stop", Kubetee__Aecs__V1__StopRequest, kubetee__aecs__v1__stop_request,
                    Kubetee__Aecs__V1__Done, kubetee__aecs__v1__done)
