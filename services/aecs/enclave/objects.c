/* Sealed objects: every object the host keeps is AES-256-GCM under the storage key, with
 * its store key, version and object id in the AAD (docs/aecs.md "Storage layout"), and
 * the enclave remembers the version and id of every key it has seen since it started, so
 * a host that swaps, forges, moves, hides or replays an older object is caught. */
#include "aecs.h"
#include "objtable.h"
#include "sealed_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_LEN AE_OBJECT_ID_LEN
#define HDR AE_OBJ_HDR
#define AAD_LABEL "kubetee.aecs.object.v2"
#define AAD_LABEL1 "kubetee.aecs.object.v1"
_Static_assert(AE_OBJ_ID_LEN == AE_OBJECT_ID_LEN && AE_OBJ_IV_LEN == KT_GCM_IV_LEN && AE_OBJ_TAG_LEN == KT_GCM_TAG_LEN,
               "sealed_format.h agrees with the crypto it describes");

typedef ae_entry entry;
_Static_assert(AE_TABLE_ID_LEN == ID_LEN, "objtable.h's id is an object id");

static ae_table table; /* objtable.h: every key seen since start, hash-indexed */
/* the start's scan: an object whose header names a key generation after the storage key's */
static char newer_key[KT_STORE_KEY_MAX + 1];
static uint32_t newer_gen;
static uint64_t epoch;

uint64_t ae_obj_epoch(void)
{
    return epoch;
}

static entry *find(const char *key)
{
    return ae_table_find(&table, key);
}

/* *e: the entry of key, added if new; refused by name (objtable.h) */
static kt_status remember(const char *key, entry **e)
{
    return ae_table_add(&table, key, e);
}

void ae_obj_reset(void)
{
    epoch++;
    ae_cache_reset();
    ae_table_clear(&table);
}

/* the enclave is unloaded: nothing of the table or the key stays behind */
__attribute__((destructor)) static void unloaded(void)
{
    ae_obj_reset();
    kt_wipe(ae.master, sizeof ae.master);
    kt_wipe(ae.master_old, sizeof ae.master_old);
}

/* format 1's AAD ends at the id; format 2's has the key generation after it */
static kt_status aad(int format, const char *key, uint64_t version, const uint8_t id[ID_LEN], uint32_t gen,
                     kt_buf *out)
{
    uint8_t v[8], g[4];
    kt_put_le64(v, version);
    kt_put_le32(g, gen);
    const char *label = format == 1 ? AAD_LABEL1 : AAD_LABEL;
    kt_status st = kt_buf_append(out, label, strlen(label) + 1); /* with its NUL */
    if (!st) st = kt_buf_append(out, key, strlen(key) + 1);
    if (!st) st = kt_buf_append(out, v, 8);
    if (!st) st = kt_buf_append(out, id, ID_LEN);
    if (!st && format != 1) st = kt_buf_append(out, g, 4);
    return st;
}

/* What a key rotation's manifest lists (manifest.c): SHA-256 over a label, the store key
 * and the sealed bytes, so a sealed object is known by its exact bytes at its key. */
static kt_status digest(const char *key, const uint8_t *b, size_t n, uint8_t out[KT_SHA256_LEN])
{
    static const char label[] = "kubetee.aecs.object-digest.v1";
    kt_sha256_ctx *c = NULL;
    kt_status st = kt_sha256_new(&c);
    if (!st) st = kt_sha256_update(c, label, sizeof label); /* with their NULs */
    if (!st) st = kt_sha256_update(c, key, strlen(key) + 1);
    if (!st) st = kt_sha256_update(c, b, n);
    if (!st) st = kt_sha256_final(c, out);
    kt_sha256_free(c);
    return st;
}

/* The key of generation gen: the storage key, or the one before it while a rotation is
 * unfinished; any other is refused by name (an object from before a rotation). */
static kt_status key_of(const char *key, uint32_t gen, const uint8_t **k)
{
    if (gen == ae.key_gen) *k = ae.master;
    else if (ae.rotating && gen + 1 == ae.key_gen) *k = ae.master_old;
    else
        return kt_fail(KT_ERR_VERIFY,
                       "object %s is sealed under storage key generation %u; this store's key is generation %u (an "
                       "object from before a key rotation, or from another store)",
                       key, (unsigned)gen, (unsigned)ae.key_gen);
    return KT_OK;
}

/* ---- the host's store, through OCALLs ---- */
kt_status ae_store_get_raw(const char *key, kt_buf *value, uint64_t *version, bool *found)
{
    Kubetee__Aecs__V1__StoreGetRequest rq = KUBETEE__AECS__V1__STORE_GET_REQUEST__INIT;
    Kubetee__Aecs__V1__StoreGetResponse rs = KUBETEE__AECS__V1__STORE_GET_RESPONSE__INIT;
    rq.key = (char *)key;
    kt_status st = kt_ocall("aecs.store.Get", &rq, &rs);
    if (st) return kt_fail_context(st, "store get %s", key);
    *found = rs.found;
    *version = rs.version;
    if (rs.found && (rs.version == 0 || rs.value.len > KT_STORE_VALUE_MAX))
        return kt_fail(KT_ERR_VERIFY, "store: the host's answer for %s is impossible (version 0 or oversize)", key);
    return rs.found ? kt_buf_append(value, rs.value.data, rs.value.len) : KT_OK;
}

kt_status ae_store_put_raw(const char *key, const void *v, size_t n, uint64_t expected, uint64_t *version)
{
    Kubetee__Aecs__V1__StorePutRequest rq = KUBETEE__AECS__V1__STORE_PUT_REQUEST__INIT;
    Kubetee__Aecs__V1__StorePutResponse rs = KUBETEE__AECS__V1__STORE_PUT_RESPONSE__INIT;
    rq.key = (char *)key;
    rq.value.data = (uint8_t *)v;
    rq.value.len = n;
    rq.expected_version = expected;
    kt_status st = kt_ocall("aecs.store.Put", &rq, &rs);
    if (st) return kt_fail_context(st, "store put %s", key);
    if (rs.version != expected + 1)
        return kt_fail(KT_ERR_VERIFY, "store: the host reports version %llu for %s, not %llu",
                       (unsigned long long)rs.version, key, (unsigned long long)(expected + 1));
    if (rs.revision > ae.revision) ae.revision = rs.revision;
    *version = rs.version;
    return KT_OK;
}

kt_status ae_store_delete_raw(const char *key, uint64_t expected)
{
    Kubetee__Aecs__V1__StoreDeleteRequest rq = KUBETEE__AECS__V1__STORE_DELETE_REQUEST__INIT;
    Kubetee__Aecs__V1__Done rs = KUBETEE__AECS__V1__DONE__INIT;
    rq.key = (char *)key;
    rq.expected_version = expected;
    kt_status st = kt_ocall("aecs.store.Delete", &rq, &rs);
    return st ? kt_fail_context(st, "store delete %s", key) : KT_OK;
}

kt_status ae_store_put_batch_raw(const ae_raw_put *puts, size_t n, size_t *applied)
{
    *applied = 0;
    if (n < 1 || n > KT_STORE_BATCH_MAX) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store put batch: %zu puts", n);
    Kubetee__Aecs__V1__StorePutBatchRequest rq = KUBETEE__AECS__V1__STORE_PUT_BATCH_REQUEST__INIT;
    Kubetee__Aecs__V1__StorePutBatchResponse rs = KUBETEE__AECS__V1__STORE_PUT_BATCH_RESPONSE__INIT;
    Kubetee__Aecs__V1__StorePutRequest p[KT_STORE_BATCH_MAX], *pp[KT_STORE_BATCH_MAX];
    for (size_t i = 0; i < n; i++) {
        kubetee__aecs__v1__store_put_request__init(&p[i]);
        p[i].key = (char *)puts[i].key;
        p[i].value.data = (uint8_t *)puts[i].value;
        p[i].value.len = puts[i].n;
        p[i].expected_version = puts[i].expected;
        pp[i] = &p[i];
    }
    rq.n_puts = n;
    rq.puts = pp;
    kt_status st = kt_ocall("aecs.store.PutBatch", &rq, &rs);
    if (st) return kt_fail_context(st, "store put batch of %zu (%s first)", n, puts[0].key);
    /* the host's answer: the first n_applied did, and when not all, why the next did not */
    if (rs.n_applied > n || (rs.n_applied < n) != (rs.failed_status != KT_OK) || rs.failed_status < 0)
        return kt_fail(KT_ERR_VERIFY, "store: the host's answer to a batch of %zu puts is impossible (%zu applied, "
                                      "status %d)", n, rs.n_applied, (int)rs.failed_status);
    for (size_t i = 0; i < rs.n_applied; i++) {
        if (rs.applied[i]->version != puts[i].expected + 1)
            return kt_fail(KT_ERR_VERIFY, "store: the host reports version %llu for %s, not %llu",
                           (unsigned long long)rs.applied[i]->version, puts[i].key,
                           (unsigned long long)(puts[i].expected + 1));
        if (rs.applied[i]->revision > ae.revision) ae.revision = rs.applied[i]->revision;
    }
    *applied = rs.n_applied;
    if (rs.n_applied == n) return KT_OK;
    char why[512];
    kt_escape_text(rs.failed_reason, strlen(rs.failed_reason), why, sizeof why);
    return kt_fail(rs.failed_status, "store put %s: %s", puts[rs.n_applied].key, why);
}

/* ---- objects ---- */
static kt_status open_blob(const char *key, const uint8_t *b, size_t n, uint64_t store_version, kt_buf *plain,
                           uint8_t id[ID_LEN], uint32_t *gen_out)
{
    ae_object_header h;
    if (ae_object_header_parse(b, n, &h)) return kt_fail(KT_ERR_VERIFY, "object %s is not a sealed AECS object", key);
    if (h.version != store_version)
        return kt_fail(KT_ERR_VERIFY, "object %s says version %llu, the store %llu", key, (unsigned long long)h.version,
                       (unsigned long long)store_version);
    memcpy(id, h.id, ID_LEN);
    const uint8_t *k = NULL;
    kt_status st = key_of(key, h.gen, &k);
    if (st) return st;
    kt_buf a = {0};
    st = aad(h.format, key, h.version, id, h.gen, &a);
    if (!st) st = kt_buf_reserve(plain, h.sealed_len + 1);
    if (!st && kt_aead_open(k, h.iv, a.data, a.len, h.sealed, h.sealed_len, h.tag, plain->data + plain->len))
        st = kt_fail(KT_ERR_VERIFY,
                     "object %s does not open under this key and version (swapped, moved, forged or corrupted)", key);
    if (!st) plain->len += h.sealed_len;
    if (!st && gen_out) *gen_out = h.gen;
    kt_buf_free(&a);
    return st;
}

/* ---- puts whose outcome is unknown (attack7 A7-2, A7-5, A7-6) ----
 * A put the store failed, or whose answer was lost, may have applied, or may still apply
 * (an etcd Txn committing past its deadline: its compare, the version this enclave knows,
 * holds until something else moves the object on). Its entry keeps each such put's digest
 * (ae_pending); the store found holding one of them, at the version it would have made, is
 * this enclave's own write, which the entry adopts (at a read, and before the next write:
 * settle), so a lost answer never reads as damage and no key rotation drops the object; a
 * rotation's manifest lists them too. The next write of the object that applies (a compare
 * on the version before) ends them: none of them can land after it. */
static kt_status pend(const char *key, uint64_t expected, const uint8_t digest_[KT_SHA256_LEN], uint32_t gen)
{
    entry *e = find(key);
    kt_status st = KT_OK;
    if (!e) { /* a create: the key stays absent until one is found applied */
        if ((st = remember(key, &e))) return st;
        e->deleted = true;
    }
    ae_pending *p = e->pending;
    if (p && p->version != expected + 1) {
        free(p);
        p = e->pending = NULL;
    }
    if (!p && !(p = e->pending = calloc(1, sizeof *p))) return kt_fail(KT_ERR_NO_MEMORY, "objects: out of memory");
    p->version = expected + 1;
    if (!digest_) {
        p->del = true;
        return KT_OK;
    }
    if (p->n == AE_PENDING_MAX) { /* attack8 A8-1: the oldest goes (see objtable.h) */
        memmove(p->digest, p->digest + 1, (AE_PENDING_MAX - 1) * sizeof p->digest[0]);
        memmove(p->gen, p->gen + 1, (AE_PENDING_MAX - 1) * sizeof p->gen[0]);
        p->n--;
    }
    memcpy(p->digest[p->n], digest_, KT_SHA256_LEN);
    p->gen[p->n++] = gen;
    return KT_OK;
}

/* the store holds (version v, sealed bytes with digest d) of e: one of e's unknown puts,
 * adopted, or not */
static bool adopt(entry *e, uint64_t v, const uint8_t d[KT_SHA256_LEN], const uint8_t id[ID_LEN])
{
    ae_pending *p = e->pending;
    if (!p || v != p->version) return false;
    for (uint8_t i = 0; i < p->n; i++)
        if (kt_equal(p->digest[i], d, KT_SHA256_LEN)) {
            e->version = v;
            memcpy(e->id, id, ID_LEN);
            e->gen = p->gen[i];
            memcpy(e->digest, d, KT_SHA256_LEN);
            e->deleted = false;
            free(p);
            e->pending = NULL;
            kt_log(KT_LOG_INFO, "aecs.put_found_applied", "key", e->key, NULL);
            return true;
        }
    return false;
}

/* the store holds no object of e: its unknown delete applied, or not */
static bool adopt_absent(entry *e)
{
    if (!e->pending || !e->pending->del) return false;
    e->deleted = true;
    free(e->pending);
    e->pending = NULL;
    return true;
}

/* e's unknown puts: whether the store holds one of them now (read back); a read that fails
 * leaves them unknown (the next put's compare decides) */
static void settle(entry *e)
{
    if (!e->pending) return;
    char key[KT_STORE_KEY_MAX + 1];
    snprintf(key, sizeof key, "%s", e->key);
    kt_buf blob = {0};
    bool found = false;
    uint64_t v;
    ae_object_header h;
    uint8_t d[KT_SHA256_LEN];
    if (!ae_store_get_raw(key, &blob, &v, &found)) {
        if (!found) adopt_absent(e);
        else if (!ae_object_header_parse(blob.data, blob.len, &h) && !digest(key, blob.data, blob.len, d))
            adopt(e, v, d, h.id);
    }
    kt_buf_free(&blob);
}

kt_status ae_obj_settle(const char *key, uint64_t *version)
{
    entry *e = find(key);
    if (e) settle(e);
    *version = e && !e->deleted ? e->version : 0;
    return KT_OK;
}

kt_status ae_obj_get(const char *key, kt_buf *plain, uint64_t *version)
{
    entry *e = find(key);
    if (e && e->damage) return kt_fail(KT_ERR_VERIFY, "%s", e->damage);
    kt_buf blob = {0};
    bool found;
    uint64_t v;
    uint8_t id[ID_LEN];
    kt_status st = ae_store_get_raw(key, &blob, &v, &found);
    if (st) goto out;
    if (!found) {
        if (e) adopt_absent(e);
        st = e && !e->deleted ? kt_fail(KT_ERR_VERIFY, "object %s (version %llu) is missing from the store", key,
                                        (unsigned long long)e->version)
                              : kt_fail(KT_ERR_NOT_FOUND, "%s does not exist", key);
        goto out;
    }
    uint8_t d[KT_SHA256_LEN];
    if ((st = open_blob(key, blob.data, blob.len, v, plain, id, NULL)) ||
        (st = digest(key, blob.data, blob.len, d)))
        goto out;
    if (e && adopt(e, v, d, id)) {
        /* this enclave's own put, its answer lost: the entry is it now */
    } else if (e && e->deleted && !memcmp(e->id, id, ID_LEN)) {
        st = kt_fail(KT_ERR_VERIFY, "object %s was deleted; the host offers it again", key);
    } else if (e && !e->deleted && (e->version != v || memcmp(e->id, id, ID_LEN))) {
        st = kt_fail(KT_ERR_VERIFY, "object %s is version %llu of %s; this enclave wrote or read version %llu",
                     key, (unsigned long long)v, memcmp(e->id, id, ID_LEN) ? "another object" : "it",
                     (unsigned long long)e->version);
    } else if (e && e->deleted) {
        st = kt_fail(KT_ERR_VERIFY, "object %s was deleted and never created again by this enclave", key);
    } else if (!e) {
        /* first sight since start (the scan sees every key, so only a key the host added
         * since, which no write of ours made) */
        st = kt_fail(KT_ERR_VERIFY, "object %s appeared in the store without this enclave writing it", key);
    } else if (!kt_equal(d, e->digest, sizeof d)) {
        /* its version and id, other bytes: sealed by a holder of the storage key, not here */
        st = kt_fail(KT_ERR_VERIFY,
                     "object %s is version %llu of it but not the bytes this enclave wrote or read "
                     "(sealed elsewhere with the storage key)",
                     key, (unsigned long long)v);
    }
    if (!st) *version = v;
out:
    if (st) plain->len = 0;
    if (st && st != KT_ERR_NOT_FOUND) ae_cache_drop(key); /* found out: no kept copy serves it either */
    kt_buf_free(&blob);
    return st;
}

kt_status ae_obj_get_kept(const char *key, kt_buf *plain, uint64_t *version)
{
    entry *e = find(key);
    bool hit = false;
    kt_status st = e && !e->damage && !e->deleted ? ae_cache_get(key, e->version, e->id, plain, &hit) : KT_OK;
    if (st || hit) {
        if (hit) *version = e->version;
        return st;
    }
    if ((st = ae_obj_get(key, plain, version))) return st;
    if ((e = find(key))) ae_cache_put(key, e->version, e->id, plain->data, plain->len);
    return KT_OK;
}

/* An object sealed for its next put, not written yet. */
typedef struct {
    char key[KT_STORE_KEY_MAX + 1];
    uint64_t expected;
    uint8_t id[ID_LEN], digest[KT_SHA256_LEN];
    kt_buf blob;
} sealed;

/* plain sealed as the next version of key (expected: the version read, 0: create), after
 * the checks of a put; nothing is written */
static kt_status seal(const char *key, const void *plain, size_t n, uint64_t expected, sealed *out)
{
    ae_cache_drop(key); /* whatever happens next, the kept copy may be stale */
    kt_status w = ae_writable(key);
    if (w) return w;
    entry *pe = find(key);
    if (pe) settle(pe); /* an earlier put of it that applied after all is the version read */
    entry *se = ae.rotating && strcmp(key, "aecs/state") ? find("aecs/state") : NULL;
    if (se) settle(se);
    /* attack6: while a rotation is unfinished nothing but aecs/state is sealed under the
     * new key until aecs/state is, so a start that finds objects under the new key and
     * aecs/state under the old one knows aecs/state was put back (start.c) */
    if (ae.rotating && strcmp(key, "aecs/state") && ae_obj_gen("aecs/state") != ae.key_gen)
        return kt_fail(KT_ERR_STATE,
                       "%s: a storage key rotation is unfinished and aecs/state is not yet sealed under "
                       "the new key; nothing else is until it is (the next start, backup or rotate-key "
                       "goes on with it)",
                       key);
    entry *e = find(key);
    /* a new key the table has no room for: refused before anything is written */
    kt_status room = e ? KT_OK : ae_table_room(&table, key);
    if (room) return room;
    if (e && e->damage) return kt_fail(KT_ERR_VERIFY, "%s", e->damage);
    if (expected == 0 && e && !e->deleted) return kt_fail(KT_ERR_EXISTS, "%s exists", key);
    if (expected == 0 || !e || e->deleted) {
        if (expected) return kt_fail(KT_ERR_STATE, "%s: expected version %llu of an object that does not exist", key,
                                     (unsigned long long)expected);
        kt_status st = kt_random(out->id, ID_LEN);
        if (st) return st;
    } else {
        if (e->version != expected)
            return kt_fail(KT_ERR_STATE, "%s is at version %llu, not %llu", key, (unsigned long long)e->version,
                           (unsigned long long)expected);
        memcpy(out->id, e->id, ID_LEN);
    }
    snprintf(out->key, sizeof out->key, "%s", key);
    out->expected = expected;
    uint64_t v = expected + 1;
    kt_buf *blob = &out->blob, a = {0};
    kt_status st = kt_buf_reserve(blob, HDR + n + KT_GCM_TAG_LEN);
    if (!st) st = aad(AE_OBJ_FORMAT, key, v, out->id, ae.key_gen, &a);
    uint8_t *iv = blob->data + HDR - KT_GCM_IV_LEN;
    if (!st) {
        ae_object_header_write(blob->data, ae.key_gen, v, out->id);
        st = kt_random(iv, KT_GCM_IV_LEN);
    }
    if (!st) st = kt_aead_seal(ae.master, iv, a.data, a.len, plain, n, blob->data + HDR, blob->data + HDR + n);
    if (!st) blob->len = HDR + n + KT_GCM_TAG_LEN;
    if (!st) st = digest(key, blob->data, blob->len, out->digest);
    kt_buf_free(&a);
    return st;
}

/* s's put applied: the table knows its version, id, key generation and bytes */
static kt_status applied(const sealed *s)
{
    entry *r;
    kt_status st = remember(s->key, &r);
    if (st) return st;
    r->version = s->expected + 1;
    memcpy(r->id, s->id, ID_LEN);
    r->gen = ae.key_gen;
    memcpy(r->digest, s->digest, sizeof r->digest);
    r->deleted = false;
    free(r->pending); /* its compare was on the version before: none of them lands now */
    r->pending = NULL;
    return KT_OK;
}

kt_status ae_obj_put(const char *key, const void *plain, size_t n, uint64_t expected, uint64_t *version)
{
    sealed s = {0};
    kt_status st = seal(key, plain, n, expected, &s);
    if (st) return st;
    if ((st = ae_store_put_raw(key, s.blob.data, s.blob.len, expected, version)) != KT_OK) {
        char why[768];
        snprintf(why, sizeof why, "%s", kt_last_error());
        pend(key, expected, s.digest, ae.key_gen);
        st = kt_fail(st, "%s", why);
    }
    if (!st) st = applied(&s);
    kt_buf_free(&s.blob);
    return st;
}

/* the sealed objects b[0..n) put as one batch; *done of them applied (and known so) */
static kt_status put_sealed(const sealed *b, size_t n, size_t *done)
{
    ae_raw_put p[KT_STORE_BATCH_MAX];
    for (size_t i = 0; i < n; i++)
        p[i] = (ae_raw_put){b[i].key, b[i].blob.data, b[i].blob.len, b[i].expected};
    size_t k;
    kt_status st = ae_store_put_batch_raw(p, n, &k);
    char why[1024];
    snprintf(why, sizeof why, "%s", st ? kt_last_error() : "");
    kt_status ast = KT_OK;
    for (*done = 0; *done < k && !(ast = applied(&b[*done])); (*done)++)
        ;
    if (ast) return ast;
    for (size_t i = k; st && i < n; i++) /* the batch's answer may be lost: any of them may apply */
        pend(b[i].key, b[i].expected, b[i].digest, ae.key_gen);
    return st ? kt_fail(st, "%s", why) : KT_OK;
}

kt_status ae_obj_delete(const char *key, uint64_t expected)
{
    entry *e = find(key);
    if (!e || e->deleted) return kt_fail(KT_ERR_NOT_FOUND, "%s does not exist", key);
    kt_status w = ae_writable(key); /* attack6 A6-7: a delete is a write */
    if (w) return w;
    ae_cache_drop(key);
    settle(e);
    if (e->deleted) return kt_fail(KT_ERR_NOT_FOUND, "%s does not exist", key);
    if (expected != KT_STORE_ANY_VERSION && e->version != expected) /* attack8 O-2: after an adoption */
        return kt_fail(KT_ERR_STATE, "%s is at version %llu, not %llu", key, (unsigned long long)e->version,
                       (unsigned long long)expected);
    kt_status st = ae_store_delete_raw(key, expected);
    if (st) {
        char why[768];
        snprintf(why, sizeof why, "%s", kt_last_error());
        pend(key, expected, NULL, 0);
        return kt_fail(st, "%s", why);
    }
    e = find(key);
    e->deleted = true;
    free(e->damage);
    e->damage = NULL;
    free(e->pending);
    e->pending = NULL;
    return KT_OK;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

kt_status ae_obj_keys(const char *prefix, const char ***keys, size_t *n)
{
    size_t pl = strlen(prefix), k = 0;
    const char **out = kt_call_alloc((table.n + 1) * sizeof *out);
    if (!out) return kt_fail(KT_ERR_NO_MEMORY, "objects: out of memory");
    for (size_t i = 0; i < table.n; i++)
        if (!table.e[i].deleted && !strncmp(table.e[i].key, prefix, pl)) out[k++] = table.e[i].key;
    qsort(out, k, sizeof *out, by_key);
    *keys = out;
    *n = k;
    return KT_OK;
}

size_t ae_obj_quota_count(const char *prefix, const char *creating)
{
    size_t pl = strlen(prefix), k = 0;
    for (size_t i = 0; i < table.n; i++) {
        entry *e = &table.e[i];
        if (strncmp(e->key, prefix, pl)) continue;
        if (e->deleted && !strcmp(e->key, creating)) continue; /* attack9 A9-1: this create replaces it */
        if (e->deleted && e->pending && e->pending->n) settle(e); /* settle never adds an entry */
        k += !table.e[i].deleted || (table.e[i].pending && table.e[i].pending->n);
    }
    return k;
}

size_t ae_obj_count(const char *prefix)
{
    size_t pl = strlen(prefix), k = 0;
    for (size_t i = 0; i < table.n; i++)
        if (!table.e[i].deleted && !strncmp(table.e[i].key, prefix, pl)) k++;
    return k;
}

kt_status ae_obj_newer(char key[KT_STORE_KEY_MAX + 1], uint32_t *gen)
{
    snprintf(key, KT_STORE_KEY_MAX + 1, "%s", newer_key);
    *gen = newer_gen;
    return newer_key[0] ? KT_ERR_VERIFY : KT_OK;
}

kt_status ae_obj_scan(uint64_t *objects, uint64_t *damaged)
{
    *objects = *damaged = 0;
    newer_key[0] = '\0';
    epoch++;
    char after[KT_STORE_KEY_MAX + 1] = "";
    for (;;) {
        Kubetee__Aecs__V1__StoreListRequest rq = KUBETEE__AECS__V1__STORE_LIST_REQUEST__INIT;
        Kubetee__Aecs__V1__StoreListResponse rs = KUBETEE__AECS__V1__STORE_LIST_RESPONSE__INIT;
        rq.prefix = "";
        rq.after = after;
        rq.limit = 1000;
        kt_status st = kt_ocall("aecs.store.List", &rq, &rs);
        if (st) return kt_fail_context(st, "store list");
        if (rs.revision > ae.revision) ae.revision = rs.revision;
        for (size_t i = 0; i < rs.n_entries; i++) {
            const char *key = rs.entries[i]->key;
            if (ae_store_raw_key(key))
                continue; /* aecs/master, a rotation's manifest: no objects */
            if (find(key)) return kt_fail(KT_ERR_VERIFY, "store: the host lists %s twice", key);
            entry *e;
            if ((st = remember(key, &e))) return st;
            kt_buf plain = {0}, blob = {0};
            bool found;
            uint64_t v;
            st = ae_store_get_raw(key, &blob, &v, &found);
            if (st && st != KT_ERR_VERIFY) { /* attack7 A7-1, A7-3: a read that fails is no damage */
                kt_buf_free(&blob);
                return kt_fail_context(st, "reading %s (the start stops, to be tried again: a store read that fails "
                                           "is never taken for damage)",
                                       key);
            }
            if (!st && !found) st = kt_fail(KT_ERR_VERIFY, "object %s is listed but missing", key);
            ae_object_header h;
            if (!st && !newer_key[0] && !ae_object_header_parse(blob.data, blob.len, &h) && h.gen > ae.key_gen) {
                snprintf(newer_key, sizeof newer_key, "%s", key);
                newer_gen = h.gen;
            }
            if (!st) st = open_blob(key, blob.data, blob.len, v, &plain, e->id, &e->gen);
            if (!st) st = digest(key, blob.data, blob.len, e->digest);
            if (!st && ae.rotating && e->gen + 1 == ae.key_gen && !ae_manifest_lists(e->digest))
                st = kt_fail(KT_ERR_VERIFY,
                             "object %s is sealed under the key before (generation %u) but is not "
                             "one of the objects the unfinished key rotation started with (sealed "
                             "elsewhere with the old key, or put back)",
                             key, (unsigned)e->gen);
            e->version = v;
            if (st) {
                e->damage = strdup(kt_last_error());
                (*damaged)++;
                kt_log(KT_LOG_WARN, "aecs.object_damaged", "key", key, "reason", kt_last_error(), NULL);
            }
            kt_buf_free(&plain);
            kt_buf_free(&blob);
            (*objects)++;
        }
        if (!rs.more) break;
        if (strlen(rs.next) > KT_STORE_KEY_MAX || strcmp(rs.next, after) <= 0)
            return kt_fail(KT_ERR_VERIFY, "store: the host's list does not move forward");
        strcpy(after, rs.next);
    }
    return KT_OK;
}

kt_status ae_obj_opens(const char *key)
{
    kt_buf plain = {0}, blob = {0};
    bool found;
    uint64_t v;
    uint8_t id[ID_LEN];
    kt_status st = ae_store_get_raw(key, &blob, &v, &found);
    if (!st && !found) st = kt_fail(KT_ERR_NOT_FOUND, "%s does not exist", key);
    if (!st) st = open_blob(key, blob.data, blob.len, v, &plain, id, NULL);
    kt_wipe(plain.data, plain.len);
    kt_buf_free(&plain);
    kt_buf_free(&blob);
    return st;
}

uint32_t ae_obj_gen(const char *key)
{
    const entry *e = find(key);
    return e && !e->deleted && !e->damage ? e->gen : 0;
}

size_t ae_obj_sealed_under(uint32_t gen, uint8_t (*digests)[KT_SHA256_LEN])
{
    size_t k = 0;
    for (size_t i = 0; i < table.n; i++) {
        const entry *e = &table.e[i];
        if (!e->deleted && !e->damage && e->gen == gen) {
            if (digests) memcpy(digests[k], e->digest, KT_SHA256_LEN);
            k++;
        }
        for (uint8_t j = 0; e->pending && j < e->pending->n; j++)
            if (e->pending->gen[j] == gen) {
                if (digests) memcpy(digests[k], e->pending->digest[j], KT_SHA256_LEN);
                k++;
            }
    }
    return k;
}

size_t ae_obj_under(uint32_t gen)
{
    size_t k = 0;
    for (size_t i = 0; i < table.n; i++) {
        const entry *e = &table.e[i];
        k += !e->deleted && !e->damage && e->gen == gen;
    }
    return k;
}

kt_status ae_obj_reseal(size_t *cursor, size_t max, size_t *resealed, size_t *skipped, bool *done)
{
    *resealed = *skipped = 0;
    *done = false;
    if (max < 1 || max > KT_STORE_BATCH_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "reseal: %zu objects a batch is outside 1..%d", max, KT_STORE_BATCH_MAX);
    sealed *b = calloc(max, sizeof *b);
    if (!b) return kt_fail(KT_ERR_NO_MEMORY, "reseal: out of memory");
    size_t nb = 0;
    kt_status st = KT_OK;
    for (; *cursor < table.n && nb + *skipped < max && !st; (*cursor)++) {
        entry *e = &table.e[*cursor];
        if (e->deleted || e->gen == ae.key_gen || !strcmp(e->key, "aecs/state")) continue;
        if (e->damage) { /* found damaged before: it stays so (its reason kept), the old key going */
            (*skipped)++;
            continue;
        }
        char key[KT_STORE_KEY_MAX + 1];
        strcpy(key, e->key);
        kt_buf plain = {0};
        uint64_t v;
        st = ae_obj_get(key, &plain, &v);
        entry *now = find(key);
        if (st == KT_ERR_NOT_FOUND && now && now->deleted) { /* its unknown delete had applied */
            st = KT_OK;
        } else if (st == KT_ERR_VERIFY || st == KT_ERR_NOT_FOUND) {
            /* it does not open now and never will once the old key goes: damaged, named */
            entry *d = find(key);
            if (d && !d->damage) d->damage = strdup(kt_last_error());
            kt_log(KT_LOG_WARN, "aecs.rotate_skipped", "key", key, "reason", kt_last_error(), NULL);
            (*skipped)++;
            st = KT_OK;
        } else if (!st && !(st = seal(key, plain.data, plain.len, v, &b[nb]))) {
            nb++;
        }
        kt_wipe(plain.data, plain.len);
        kt_buf_free(&plain);
    }
    if (!st && nb) st = put_sealed(b, nb, resealed);
    for (size_t i = 0; i < max; i++)
        kt_buf_free(&b[i].blob);
    free(b);
    *done = !st && *cursor >= table.n;
    return st;
}

kt_status ae_pack(const ProtobufCMessage *m, kt_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_status st = kt_buf_reserve(out, n);
    if (st) return st;
    out->len += protobuf_c_message_pack(m, out->data + out->len);
    return KT_OK;
}

static void *call_alloc(void *d, size_t n)
{
    (void)d;
    return kt_call_alloc(n);
}
static void call_free(void *d, void *p)
{
    (void)d, (void)p; /* call memory goes, wiped, when the call ends */
}
static ProtobufCAllocator in_call = {call_alloc, call_free, NULL};

void *ae_unpack(const ProtobufCMessageDescriptor *d, const kt_buf *b)
{
    return protobuf_c_message_unpack(d, &in_call, b->len, b->data);
}

void ae_secret_free(ae_secret *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_versions; i++)
        if (s->versions[i]->data.data) kt_wipe(s->versions[i]->data.data, s->versions[i]->data.len);
    for (size_t i = 0; s->spec && i < s->spec->n_params; i++)
        if (s->spec->params[i]->value) kt_wipe(s->spec->params[i]->value, strlen(s->spec->params[i]->value));
    kubetee__aecs__v1__stored_secret__free_unpacked(s, NULL);
}
