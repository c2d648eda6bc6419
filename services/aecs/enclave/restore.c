/* Restore from shares (docs/aecs.md "Identity backup and restore"). On a machine that
 * cannot unseal aecs/master, open shares arrive one per aecs.Restore over key-proven
 * sessions. Each is checked alone (its format, the instance's signature, that it belongs
 * with the shares collected, not given before); the enclave keeps them in memory only,
 * and at the threshold combines them and takes the key only if it opens this store's
 * aecs/state and that state names the instance and recovery set the shares do. A host's
 * restart drops the collection: progress is lost, nothing else. Only shares of the
 * instance aecs/master names are taken (start.c; a v1 aecs/master names none: then the
 * first share decides), so a share signed by a key of the sender's own cannot fix the
 * collection, and a made-up complete one costs no work beyond its signature. */
#include "aecs.h"

#include <stdio.h>
#include <string.h>

static struct {
    size_t n;
    kt_recovery_share first; /* the first share's header: what every other must match */
    uint8_t xs[KT_RECOVERY_MAX_KEYS];
    uint8_t values[KT_RECOVERY_MAX_KEYS][KT_RECOVERY_SECRET_LEN];
} col;

static struct {
    bool known;
    uint8_t instance[64];
    uint64_t set_version; /* 0: aecs/master names none (v1, v2) */
} expect;

void ae_restore_expect_set(uint64_t set_version)
{
    expect.set_version = set_version;
}

void ae_restore_expect(const uint8_t instance[64])
{
    expect.known = instance != NULL;
    if (instance) memcpy(expect.instance, instance, 64);
}

/* Cheap, first: the share names the instance this store is. */
static kt_status expected(const kt_recovery_share *s)
{
    char got[33], want[33];
    if (expect.set_version && s->version != expect.set_version)
        return kt_fail(KT_ERR_DENIED, "share %u is of recovery set v%llu, this store's aecs/master names set v%llu: %s",
                       s->index, (unsigned long long)s->version, (unsigned long long)expect.set_version,
                       s->version < expect.set_version
                           ? "a share of an older set (the storage key was rotated when the set changed)"
                           : "a share of a newer set than this copy of the store");
    if (!expect.known || kt_equal(s->instance, expect.instance, 64)) return KT_OK;
    kt_hex_encode(s->instance, 8, got, sizeof got);
    kt_hex_encode(expect.instance, 8, want, sizeof want);
    return kt_fail(KT_ERR_DENIED, "share %u is of instance %s..., this store's aecs/master names instance %s...: "
                                  "not this store's share", s->index, got, want);
}

static void drop(void)
{
    kt_wipe(&col, sizeof col);
}

kt_status ae_restore_progress(Kubetee__Aecs__V1__RestoreProgress **out)
{
    if (!col.n) return KT_OK;
    Kubetee__Aecs__V1__RestoreProgress *m = kt_call_alloc(sizeof *m);
    uint32_t *ix = kt_call_alloc(col.n * sizeof *ix);
    if (!m || !ix) return KT_ERR_NO_MEMORY;
    kubetee__aecs__v1__restore_progress__init(m);
    m->version = col.first.version;
    m->threshold = col.first.threshold;
    m->count = col.first.count;
    for (size_t i = 0; i < col.n; i++) ix[i] = col.xs[i];
    m->indexes = ix;
    m->n_indexes = col.n;
    *out = m;
    return kt_call_bytes(&m->instance_public, col.first.instance, 64);
}

static kt_status take(const kt_recovery_share *s)
{
    const kt_recovery_share *f = &col.first;
    char got[33], want[33];
    if (col.n && !kt_equal(s->instance, f->instance, 64)) {
        kt_hex_encode(s->instance, 8, got, sizeof got);
        kt_hex_encode(f->instance, 8, want, sizeof want);
        return kt_fail(KT_ERR_DENIED, "share %u is of instance %s..., the shares collected of instance %s... (another "
                                      "AECS's; a restart of aecs-server drops the collection)", s->index, got, want);
    }
    if (col.n && s->version != f->version)
        return kt_fail(KT_ERR_DENIED, "share %u is of recovery set v%llu, the shares collected of v%llu", s->index,
                       (unsigned long long)s->version, (unsigned long long)f->version);
    if (col.n && (!kt_equal(s->backup_id, f->backup_id, 16) || s->threshold != f->threshold || s->count != f->count)) {
        kt_hex_encode(s->backup_id, 16, got, sizeof got);
        kt_hex_encode(f->backup_id, 16, want, sizeof want);
        return kt_fail(KT_ERR_DENIED, "share %u is from backup %s, the shares collected from backup %s: shares of "
                                      "different backups do not combine", s->index, got, want);
    }
    for (size_t i = 0; i < col.n; i++)
        if (col.xs[i] == s->index)
            return kt_fail(KT_ERR_EXISTS, "share %u of %u has been given already", s->index, s->count);
    if (!col.n) col.first = *s;
    kt_wipe(col.first.value, sizeof col.first.value);
    kt_wipe(col.first.signature, sizeof col.first.signature);
    col.xs[col.n] = s->index;
    memcpy(col.values[col.n++], s->value, KT_RECOVERY_SECRET_LEN);
    return KT_OK;
}

/* The collection is complete: its key must open this store and the store must be the
 * shares' (instance, recovery set version, keys); else everything is forgotten. */
static kt_status finish(void)
{
    const kt_recovery_share *f = &col.first;
    uint64_t objects, damaged;
    kt_status st = kt_shamir_combine(col.xs, (const uint8_t(*)[KT_RECOVERY_SECRET_LEN])col.values, (unsigned)col.n, ae.master);
    /* one object first: a key that does not open aecs/state costs no scan of the store */
    if (!st && ae_obj_opens("aecs/state"))
        st = kt_fail(KT_ERR_DENIED, "restore: the %zu shares combine to a key that does not open this store's "
                                    "aecs/state: they are not this store's shares", col.n);
    if (!st) st = ae_obj_scan(&objects, &damaged);
    if (!st && ae_state_load())
        st = kt_fail(KT_ERR_DENIED, "restore: the %zu shares combine to a key that does not open this store's "
                                    "aecs/state: they are not this store's shares", col.n);
    if (!st && !kt_equal(ae.instance_pub, f->instance, 64))
        st = kt_fail(KT_ERR_DENIED, "restore: this store is another instance than the shares name");
    if (!st && ae.recovery.version != f->version)
        st = kt_fail(KT_ERR_DENIED, "restore: the shares are of recovery set v%llu, this store's aecs/state has v%llu "
                                    "(the shares its last set change gave restore it)",
                     (unsigned long long)f->version, (unsigned long long)ae.recovery.version);
    if (!st && (ae.recovery.threshold != f->threshold || ae.recovery.n != f->count))
        st = kt_fail(KT_ERR_DENIED, "restore: the shares say %u of %u, this store's recovery set %u of %zu",
                     f->threshold, f->count, ae.recovery.threshold, ae.recovery.n);
    if (!st) ae_key_for(&ae.recovery); /* the shares' set, the store's (checked above) */
    if (!st) st = ae_master_store(ae.master_version);
    drop();
    if (st) {
        ae_obj_reset();
        ae_forget();
        return st;
    }
    ae.phase = AE_READY;
    return KT_OK;
}

static kt_status restore_body(const ae_caller *c, const Kubetee__Aecs__V1__RestoreRequest *rq,
                              Kubetee__Aecs__V1__RestoreResponse *rs, char *target, size_t tn)
{
    if (ae.phase != AE_RESTORE)
        return kt_fail(KT_ERR_STATE, "restore: AECS opens its storage key here; nothing to restore");
    if (!c->key) return kt_fail(KT_ERR_DENIED, "restore: shares are delivered over a key-proven session (aecsadmin)");
    if (rq->storage_key.len)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "restore takes open shares, not a storage key (aecsadmin restore "
                                                "--share; docs/aecs.md)");
    kt_recovery_share s;
    kt_status st = kt_recovery_share_decode(rq->share.data, rq->share.len, &s);
    if (st) return kt_fail_context(st, "restore");
    snprintf(target, tn, "share %u of %u", s.index, s.count);
    if (s.kind != KT_SHARE_OPEN)
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "restore: share %u is sealed: its recovery key's holder opens it first "
                                              "(aecsadmin recovery open-share)", s.index);
    if (!st) st = expected(&s);
    if (!st) st = kt_recovery_share_verify(&s);
    if (!st) st = take(&s);
    kt_wipe(&s, sizeof s);
    if (st) return st;
    rs->shares = (uint32_t)col.n;
    rs->threshold = col.first.threshold;
    if (col.n < col.first.threshold) return KT_OK;
    st = finish();
    rs->restored = !st;
    return st;
}

static kt_status Restore(const Kubetee__Aecs__V1__RestoreRequest *rq, Kubetee__Aecs__V1__RestoreResponse *rs)
{
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    char target[40] = "";
    uint64_t seq = ae.audit_seq; /* the lines since this start (restore), their chain */
    uint8_t hash[32];
    memcpy(hash, ae.audit_hash, 32);
    st = restore_body(&c, rq, rs, target, sizeof target);
    if (!st && rs->restored) { /* the chain is aecs/state's checkpoint's now (M) */
        uint64_t from = ae.audit_seq;
        uint8_t from_hash[32];
        char hex[65], line[128];
        memcpy(from_hash, ae.audit_hash, 32);
        ae.audit_seq = seq, memcpy(ae.audit_hash, hash, 32);
        ae_audit(&c, "Restore", target, st); /* the last of this start's lines, signed */
        ae.audit_seq = from, memcpy(ae.audit_hash, from_hash, 32);
        kt_hex_encode(from_hash, 32, hex, sizeof hex);
        snprintf(line, sizeof line, "from checkpoint seq %llu hash %s", (unsigned long long)from, hex);
        /* the first line after the restore says so and names the checkpoint it goes on
         * from: lines the old machine wrote after it are another branch (docs/aecs.md) */
        ae_audit(&c, "Restored", line, KT_OK);
        ae_state_save();
    } else {
        ae_audit(&c, "Restore", target, st);
    }
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_REMOTE_FUNCTION(Restore, "aecs.Restore", Kubetee__Aecs__V1__RestoreRequest, kubetee__aecs__v1__restore_request,
                   Kubetee__Aecs__V1__RestoreResponse, kubetee__aecs__v1__restore_response)

/* wiped with the enclave */
__attribute__((destructor)) static void drop_shares(void)
{
    drop();
}
