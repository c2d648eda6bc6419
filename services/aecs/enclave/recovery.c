/* The recovery set and backup (docs/aecs.md "Identity backup and restore"). The set is
 * fixed inside the enclave: given at init, or changed with the consent of `threshold`
 * holders of the set in force; a store without one takes its first from the admin that
 * ran init. Each set rotates the storage key (rotate.c). aecs.Backup splits the storage
 * key (Shamir, threshold of count) and seals share i to recovery key i, so no admin and
 * no single holder (threshold >= 2) can open it. */
#include "aecs.h"

#include <stdio.h>
#include <string.h>

kt_status ae_recovery_parse(const Kubetee__Aecs__V1__RecoverySet *m, bool stored, ae_recovery *out)
{
    memset(out, 0, sizeof *out);
    if (m->n_keys > KT_RECOVERY_MAX_KEYS)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "the recovery set has %zu keys, at most %d", m->n_keys, KT_RECOVERY_MAX_KEYS);
    if (stored ? m->version == 0 : m->version != 0)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, stored ? "the recovery set has no version"
                                                       : "the recovery set's version is AECS's to give (send 0)");
    for (size_t i = 0; i < m->n_keys; i++) {
        if (m->keys[i]->type != KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_P256 || m->keys[i]->raw.len != 64)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "recovery key %zu is not a P-256 public key (x||y)", i + 1);
        memcpy(out->keys[i], m->keys[i]->raw.data, 64);
    }
    kt_status st = kt_recovery_set_check((const uint8_t(*)[64])out->keys, m->n_keys, m->threshold, m->single_holder);
    if (st) {
        memset(out, 0, sizeof *out);
        return st;
    }
    out->n = m->n_keys;
    out->threshold = m->threshold;
    out->single_holder = m->single_holder;
    out->version = m->version;
    return KT_OK;
}

void ae_recovery_fill(const ae_recovery *r, Kubetee__Aecs__V1__RecoverySet *m, ae_pubkey keys[KT_RECOVERY_MAX_KEYS],
                      ae_pubkey *ptrs[KT_RECOVERY_MAX_KEYS])
{
    kubetee__aecs__v1__recovery_set__init(m);
    for (size_t i = 0; i < r->n; i++) {
        kubetee__aecs__v1__public_key__init(&keys[i]);
        keys[i].type = KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_P256;
        keys[i].raw.data = (uint8_t *)r->keys[i];
        keys[i].raw.len = 64;
        ptrs[i] = &keys[i];
    }
    m->keys = ptrs;
    m->n_keys = r->n;
    m->threshold = r->threshold;
    m->single_holder = r->single_holder;
    m->version = r->version;
}

kt_status ae_recovery_to_call(const ae_recovery *r, Kubetee__Aecs__V1__RecoverySet **out)
{
    if (!r->n) return KT_OK;
    Kubetee__Aecs__V1__RecoverySet *m = kt_call_alloc(sizeof *m);
    ae_pubkey *keys = kt_call_alloc(KT_RECOVERY_MAX_KEYS * sizeof *keys);
    ae_pubkey **ptrs = kt_call_alloc(KT_RECOVERY_MAX_KEYS * sizeof *ptrs);
    if (!m || !keys || !ptrs) return KT_ERR_NO_MEMORY;
    ae_recovery_fill(r, m, keys, ptrs);
    for (size_t i = 0; i < r->n; i++) /* call memory of its own: r may change after the call */
        if (kt_call_bytes(&keys[i].raw, r->keys[i], 64)) return KT_ERR_NO_MEMORY;
    *out = m;
    return KT_OK;
}

#define SET_DIGEST_LABEL "kubetee.aecs.recovery-set.v1"

/* SHA-256(label 0x00 | u64le version | u32le threshold | u8 single_holder | u8 count |
 * count x 64-byte keys, in the set's order); no set: version 0, count 0 */
static kt_status set_digest(const ae_recovery *r, uint8_t out[KT_SHA256_LEN])
{
    uint8_t b[sizeof SET_DIGEST_LABEL + 14 + KT_RECOVERY_MAX_KEYS * 64], *p = b;
    memcpy(p, SET_DIGEST_LABEL, sizeof SET_DIGEST_LABEL); /* with its NUL */
    p += sizeof SET_DIGEST_LABEL;
    kt_put_le64(p, r->version);
    kt_put_le32(p + 8, r->threshold);
    p[12] = r->single_holder;
    p[13] = (uint8_t)r->n;
    p += 14;
    memcpy(p, r->keys, r->n * 64);
    return kt_sha256(b, (size_t)(p - b) + r->n * 64, out);
}

void ae_recovery_digest(const ae_recovery *r, uint8_t out[KT_SHA256_LEN])
{
    if (set_digest(r, out)) memset(out, 0, KT_SHA256_LEN);
}

void ae_key_for(const ae_recovery *r)
{
    ae.key_set_version = set_digest(r, ae.key_set_digest) ? UINT64_MAX : r->version;
}

bool ae_key_is_for(const ae_recovery *r)
{
    uint8_t d[KT_SHA256_LEN];
    return !set_digest(r, d) && r->version == ae.key_set_version && kt_equal(d, ae.key_set_digest, sizeof d);
}

/* The storage key split among the set in force: one sealed share file per key, each
 * signed by the instance key (so a restoring enclave refuses a forged one by itself). */
static kt_status backup_to(const ae_recovery *r, Kubetee__Aecs__V1__BackupResponse *rs)
{
    if (!r->n)
        return kt_fail(KT_ERR_STATE, "backup: no recovery set is configured; the admin that ran init sets the "
                                     "first (aecsadmin recovery set; docs/aecs.md \"Identity backup and restore\")");
    if (!ae.instance) return kt_fail(KT_ERR_STATE, "backup: AECS has no instance key");
    kt_status w = ae_writable("backup"); /* which key and set are in force is the next start's */
    if (w) return w;
    if (ae.rotating) return kt_fail(KT_ERR_STATE, "backup: a storage key rotation is unfinished");
    if (!ae_key_is_for(r)) /* attack6: shares of a key only ever go to the set it was made for */
        return kt_fail(KT_ERR_STATE,
                       "backup: the storage key is recovery set v%llu's, not this set's (v%llu): no shares are made",
                       (unsigned long long)ae.key_set_version, (unsigned long long)r->version);
    uint8_t values[KT_RECOVERY_MAX_KEYS][KT_RECOVERY_SECRET_LEN], id[16];
    kt_recovery_share s;
    kt_status st = kt_random(id, sizeof id);
    if (!st) st = kt_shamir_split(ae.master, r->threshold, (unsigned)r->n, values);
    rs->shares = kt_call_alloc(r->n * sizeof *rs->shares);
    if (!st && !rs->shares) st = KT_ERR_NO_MEMORY;
    for (size_t i = 0; i < r->n && !st; i++) {
        memset(&s, 0, sizeof s);
        s.kind = KT_SHARE_OPEN;
        memcpy(s.instance, ae.instance_pub, 64);
        s.version = r->version;
        memcpy(s.backup_id, id, sizeof id);
        s.index = (uint8_t)(i + 1);
        s.threshold = (uint8_t)r->threshold;
        s.count = (uint8_t)r->n;
        memcpy(s.recovery, r->keys[i], 64);
        memcpy(s.value, values[i], sizeof s.value);
        kt_buf m = {0}, sig = {0}, file = {0};
        st = kt_recovery_share_message(&s, &m);
        if (!st) st = kt_sign(ae.instance, m.data, m.len, &sig);
        if (!st && sig.len != 64) st = kt_fail(KT_ERR_CRYPTO, "backup: the instance signature is %zu bytes", sig.len);
        if (!st) memcpy(s.signature, sig.data, 64);
        if (!st) st = kt_recovery_share_seal(&s);
        if (!st) st = kt_recovery_share_encode(&s, &file);
        if (!st) st = kt_call_bytes(&rs->shares[i], file.data, file.len);
        if (!st) rs->n_shares = i + 1;
        kt_buf_free(&m);
        kt_buf_free(&sig);
        kt_buf_free(&file);
    }
    kt_wipe(&s, sizeof s);
    kt_wipe(values, sizeof values);
    return st ? st : ae_recovery_to_call(r, &rs->recovery);
}

kt_status ae_backup(Kubetee__Aecs__V1__BackupResponse *rs)
{
    return backup_to(&ae.recovery, rs);
}

static void set_target(const ae_recovery *r, char *t, size_t n)
{
    if (r->n) snprintf(t, n, "recovery v%llu %u of %zu", (unsigned long long)r->version, r->threshold, r->n);
    else snprintf(t, n, "recovery none");
}

static kt_status Backup(const Kubetee__Aecs__V1__BackupRequest *rq, Kubetee__Aecs__V1__BackupResponse *rs)
{
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    char target[64];
    set_target(&ae.recovery, target, sizeof target);
    if (!(st = ae_admin_only(&c))) {
        if (rq->recovery_key)
            st = kt_fail(KT_ERR_INVALID_ARGUMENT, "backup takes no recovery key: the shares go to the recovery set "
                                                  "fixed in AECS (status shows it; docs/aecs.md)");
        else if (!(st = ae_rotate_finish(true))) /* one a crash or failure left: its key is the one to back up */
            st = backup_to(&ae.recovery, rs);
    }
    ae_audit(&c, "Backup", target, st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_REMOTE_FUNCTION(Backup, "aecs.Backup", Kubetee__Aecs__V1__BackupRequest, kubetee__aecs__v1__backup_request,
                   Kubetee__Aecs__V1__BackupResponse, kubetee__aecs__v1__backup_response)

/* The consents to a statement m (a change of the set, a lowering of the clock floor:
 * clock.c): each from a distinct key of the set in force, each a valid signature of m;
 * `threshold` of them. Any bad one refuses it (naming it, and m as what: "this change
 * (...)"): nothing is skipped silently. act names it in the count's refusal. */
kt_status ae_consents_check(const ae_recovery *now, const kt_buf *m, const char *what, const char *act,
                            Kubetee__Aecs__V1__RecoveryConsent **cs, size_t n)
{
    kt_status st = KT_OK;
    bool used[KT_RECOVERY_MAX_KEYS] = {0};
    for (size_t i = 0; i < n && !st; i++) {
        size_t k = now->n;
        if (cs[i]->signer.len == 64)
            for (k = 0; k < now->n && !kt_equal(now->keys[k], cs[i]->signer.data, 64); k++) {}
        kt_key *key = NULL;
        if (k == now->n)
            st = kt_fail(KT_ERR_DENIED, "consent %zu: its signer is not a key of the recovery set in force (v%llu)",
                         i + 1, (unsigned long long)now->version);
        else if (used[k])
            st = kt_fail(KT_ERR_DENIED, "consent %zu: recovery key %zu consented already", i + 1, k + 1);
        else if ((st = kt_key_from_public_raw(KT_KEY_P256, now->keys[k], 64, &key)) == KT_OK &&
                 (cs[i]->signature.len != 64 || kt_verify(key, m->data, m->len, cs[i]->signature.data, 64)))
            st = kt_fail(KT_ERR_DENIED, "consent %zu: recovery key %zu's signature is not over %s", i + 1, k + 1, what);
        if (!st) used[k] = true;
        kt_key_free(key);
    }
    if (!st && n < now->threshold)
        st = kt_fail(KT_ERR_DENIED, "%s needs the consent of %u of its %zu holders; %zu given", act, now->threshold,
                     now->n, n);
    return st;
}

static kt_status consents_check(const ae_recovery *now, const ae_recovery *next,
                                Kubetee__Aecs__V1__RecoveryConsent **cs, size_t n)
{
    kt_recovery_proposal p = {0};
    memcpy(p.instance, ae.instance_pub, 64);
    p.version = now->version;
    p.threshold = next->threshold;
    p.single_holder = next->single_holder;
    p.count = next->n;
    memcpy(p.keys, next->keys, sizeof p.keys);
    kt_buf m = {0};
    char what[80];
    snprintf(what, sizeof what, "this change (this instance, set v%llu, this new set)", (unsigned long long)now->version);
    kt_status st = kt_recovery_change_message(&p, &m);
    if (!st) st = ae_consents_check(now, &m, what, "a change of the recovery set", cs, n);
    kt_buf_free(&m);
    return st;
}

static kt_status set_body(const ae_caller *c, const Kubetee__Aecs__V1__SetRecoveryRequest *rq,
                          Kubetee__Aecs__V1__BackupResponse *rs)
{
    ae_recovery next;
    kt_status st = rq->recovery ? ae_recovery_parse(rq->recovery, false, &next)
                                : kt_fail(KT_ERR_INVALID_ARGUMENT, "set recovery: no recovery set given");
    if (st) return kt_fail_context(st, "set recovery");
    const ae_recovery *now = &ae.recovery;
    if (now->n) {
        if ((st = consents_check(now, &next, rq->consents, rq->n_consents))) return st;
    } else { /* the first set: the admin that ran init is trusted with it, as with Backup before sets */
        if (ae.n_admins == 0 || c->key_type != ae.admin_type[0] || !kt_equal(c->raw, ae.admin_raw[0], 64))
            return kt_fail(KT_ERR_DENIED, "this store has no recovery set yet: only the admin that ran init sets the first");
        if (rq->n_consents)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "this store has no recovery set yet: there is nobody to consent");
    }
    next.version = now->version + 1;
    /* one left unfinished first */
    if ((st = ae_rotate_finish(true))) return kt_fail_context(st, "set recovery");
    /* A new storage key for the new set, every object sealed again under it: a key taken
     * from a copy of the store from before (or the shares of the set before) opens only
     * that copy's objects. The rotation begins first, under the set in force (its manifest
     * lists what the old key may open: the old set's aecs/state among it, nothing made
     * after), its aecs/master naming the new set as the one the new key is for; only then
     * is aecs/state with the new set saved, under the new key, and aecs/master, still
     * rotating, written with the new set's version, which from then on refuses the old
     * set's aecs/state at a start: the change's acknowledgement point. So the new set is
     * never in force while the old key is the live one (attack5 A5-1), and the new key
     * never serves the old set (attack6: a start that finds the old set's aecs/state with
     * that master drops the new key, start.c). */
    if ((st = ae_rotate_begin(&next)))
        return kt_fail_context(st, "set recovery (the recovery set is unchanged: v%llu)",
                               (unsigned long long)now->version);
    ae_recovery old = *now;
    ae.recovery = next;
    /* A5-6, attack6 A6-3: an aecs/state put whose answer is lost may have applied; attack6
     * A6-1: an aecs/master put that failed is no acknowledgement, the store may still take
     * the old set's aecs/state. Which set is in force is the next start's to read, and
     * nothing is written, nor any share made, until then. */
    const char *failed = (st = ae_state_save()) ? "aecs/state" : NULL;
    if (!failed && (st = ae_master_store(ae.master_version))) failed = "aecs/master";
    if (failed) {
        if (!strcmp(failed, "aecs/state")) ae.recovery = old;
        ae_freeze("a change of the recovery set to v%llu is not saved (its %s put failed): which set is in force "
                  "is unknown until AECS starts again",
                  (unsigned long long)next.version, failed);
        return kt_fail_context(st,
                               "set recovery: %s with the new set (v%llu): the recovery set may have changed "
                               "and is not saved; AECS writes nothing until its next start, which reads which "
                               "set is in force (aecsadmin status shows it)",
                               failed, (unsigned long long)next.version);
    }
    st = ae_rotate_finish(true);
    /* the new set's shares, of the new key: the old ones no longer restore */
    if (!st) st = backup_to(&ae.recovery, rs);
    if (st) /* attack4 B: no error may read as "nothing changed" */
        return kt_fail_context(
            st,
            "the recovery set changed to v%llu (%u of %zu) but %s; run aecsadmin backup for the "
            "new set's shares",
            (unsigned long long)next.version, next.threshold, next.n,
            ae_rotate_unfinished() ? "the key rotation is unfinished (the old key still opens "
                                     "the objects it started with until the next start, "
                                     "backup, recovery set or rotate-key finishes it)"
                                   : "its shares were not made");
    return KT_OK;
}

static kt_status SetRecovery(const Kubetee__Aecs__V1__SetRecoveryRequest *rq, Kubetee__Aecs__V1__BackupResponse *rs)
{
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    if (!(st = ae_admin_only(&c))) st = set_body(&c, rq, rs);
    char target[64];
    set_target(&ae.recovery, target, sizeof target);
    ae_audit(&c, "SetRecovery", target, st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_REMOTE_FUNCTION(SetRecovery, "aecs.SetRecovery", Kubetee__Aecs__V1__SetRecoveryRequest,
                   kubetee__aecs__v1__set_recovery_request, Kubetee__Aecs__V1__BackupResponse,
                   kubetee__aecs__v1__backup_response)
