/* A key rotation's manifest (docs/aecs.md "Key rotation"): before aecs/master marks a
 * rotation, the digest of every object sealed under the old key (its store key and exact
 * sealed bytes, objects.c) is written out, sorted, in chunks (sealed_format.h), and the
 * rotating aecs/master's sealed part names their root. While the rotation is unfinished an
 * object of the old generation opens only if the manifest lists it, so whoever holds the
 * old key (the holders of a backup from before, a former recovery set) cannot make one
 * that AECS takes in and seals again under the new key; a kept rotating aecs/master put
 * back brings back only the objects the rotation started with. */
#include "aecs.h"
#include "objtable.h"
#include "sealed_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOT_LABEL "kubetee.aecs.rotation.v1"
#define D AE_ROT_DIGEST_LEN
_Static_assert(AE_ROT_DIGEST_LEN == KT_SHA256_LEN,
               "a manifest entry is an object's SHA-256 digest");
/* attack5 A5-3: every store the table holds can rotate */
_Static_assert(AE_TABLE_MAX <= (size_t)AE_ROT_CHUNKS_MAX * AE_ROT_PER_CHUNK,
               "a manifest lists every object the table can hold");

static uint8_t (*listed)[D]; /* the manifest loaded at start (ascending) */
static size_t n_listed;

#define KEY_LEN (sizeof AE_ROT_KEY_PREFIX + 21)

/* each rotation's own names (attack5 A5-5): a retry never overwrites the chunks of another
 * rotation an aecs/master in the store may name */
static void chunk_key(uint32_t gen, uint32_t i, char key[KEY_LEN])
{
    snprintf(key, KEY_LEN, AE_ROT_KEY_PREFIX "%u/%u", (unsigned)gen, (unsigned)i);
}

/* the chunks of the rotation before (to gen - 1, finished: aecs/master names gen - 1
 * alone), named by no aecs/master from the one this rotation writes on */
static kt_status drop_before(uint32_t gen)
{
    kt_status st = KT_OK;
    for (uint32_t i = 0; gen > 1 && i < AE_ROT_CHUNKS_MAX && !st; i++) {
        char key[KEY_LEN];
        chunk_key(gen - 1, i, key);
        if ((st = ae_store_delete_raw(key, KT_STORE_ANY_VERSION)) == KT_ERR_NOT_FOUND) return KT_OK;
    }
    return st;
}

static int by_digest(const void *a, const void *b)
{
    return memcmp(a, b, D);
}

/* root = SHA-256(label, generation, count, SHA-256 of each chunk in order) */
static kt_status root_begin(kt_sha256_ctx **c, uint32_t gen, uint32_t count)
{
    uint8_t g[8];
    kt_put_le32(g, gen);
    kt_put_le32(g + 4, count);
    kt_status st = kt_sha256_new(c);
    if (!st) st = kt_sha256_update(*c, ROOT_LABEL, sizeof ROOT_LABEL);
    if (!st) st = kt_sha256_update(*c, g, sizeof g);
    return st;
}

static kt_status root_add(kt_sha256_ctx *c, const uint8_t *chunk, size_t n)
{
    uint8_t h[KT_SHA256_LEN];
    kt_status st = kt_sha256(chunk, n, h);
    return st ? st : kt_sha256_update(c, h, sizeof h);
}

kt_status ae_manifest_write(uint32_t gen, uint8_t root[KT_SHA256_LEN], uint32_t *chunks)
{
    size_t n = ae_obj_sealed_under(gen - 1, NULL);
    size_t count = n ? (n + AE_ROT_PER_CHUNK - 1) / AE_ROT_PER_CHUNK : 1;
    if (count > AE_ROT_CHUNKS_MAX)
        return kt_fail(KT_ERR_STATE, "%zu objects: a rotation's manifest lists at most %d", n,
                       AE_ROT_CHUNKS_MAX * AE_ROT_PER_CHUNK);
    uint8_t(*d)[D] = malloc((n ? n : 1) * sizeof *d);
    kt_buf chunk = {0};
    kt_sha256_ctx *c = NULL;
    kt_status st = d ? KT_OK : kt_fail(KT_ERR_NO_MEMORY, "rotation manifest: out of memory");
    if (!st) st = drop_before(gen);
    if (!st) {
        ae_obj_sealed_under(gen - 1, d);
        qsort(d, n, sizeof *d, by_digest);
        st = root_begin(&c, gen, (uint32_t)count);
    }
    for (size_t i = 0; i < count && !st; i++) {
        size_t first = i * AE_ROT_PER_CHUNK,
               k = n - first < AE_ROT_PER_CHUNK ? n - first : AE_ROT_PER_CHUNK;
        char key[KEY_LEN];
        uint64_t v;
        chunk_key(gen, (uint32_t)i, key);
        chunk.len = 0;
        st = kt_buf_reserve(&chunk, AE_ROT_HDR + k * D);
        if (!st) {
            ae_rotation_chunk_header(chunk.data, gen, (uint32_t)i, (uint32_t)count, (uint32_t)k);
            if (k) memcpy(chunk.data + AE_ROT_HDR, d[first], k * D);
            chunk.len = AE_ROT_HDR + k * D;
            st = root_add(c, chunk.data, chunk.len);
        }
        /* one of this generation's rotation begun before and not in force (its aecs/master
         * put failed, read back: start.c) goes first */
        if (!st && (st = ae_store_delete_raw(key, KT_STORE_ANY_VERSION)) == KT_ERR_NOT_FOUND)
            st = KT_OK;
        if (!st) st = ae_store_put_raw(key, chunk.data, chunk.len, 0, &v);
    }
    if (!st) st = kt_sha256_final(c, root);
    if (!st) *chunks = (uint32_t)count;
    kt_sha256_free(c);
    kt_buf_free(&chunk);
    free(d);
    if (!st) {
        char g[16], o[24];
        snprintf(g, sizeof g, "%u", (unsigned)gen);
        snprintf(o, sizeof o, "%zu", n);
        kt_log(KT_LOG_INFO, "aecs.rotation_manifest", "generation", g, "objects", o, NULL);
    }
    return st;
}

kt_status ae_manifest_load(uint32_t gen, const uint8_t root[KT_SHA256_LEN], uint32_t count)
{
    ae_manifest_free();
    kt_sha256_ctx *c = NULL;
    kt_buf value = {0};
    size_t room = 0;
    kt_status st = count < 1 || count > AE_ROT_CHUNKS_MAX
                       ? kt_fail(KT_ERR_VERIFY, "aecs/master names %u chunks", (unsigned)count)
                       : root_begin(&c, gen, count);
    for (uint32_t i = 0; i < count && !st; i++) {
        char key[KEY_LEN];
        uint64_t v;
        bool found;
        ae_rotation_chunk ch;
        chunk_key(gen, i, key);
        value.len = 0;
        st = ae_store_get_raw(key, &value, &v, &found);
        if (!st && !found) st = kt_fail(KT_ERR_VERIFY, "%s is missing", key);
        if (!st && (st = ae_rotation_chunk_parse(value.data, value.len, &ch)) != KT_OK)
            st = kt_fail_context(st, "%s", key);
        if (!st && (ch.gen != gen || ch.index != i || ch.count != count))
            st = kt_fail(
                KT_ERR_VERIFY,
                "%s is chunk %u of %u of the rotation to generation %u, not chunk %u of %u of %u",
                key, (unsigned)ch.index, (unsigned)ch.count, (unsigned)ch.gen, (unsigned)i,
                (unsigned)count, (unsigned)gen);
        if (!st && ch.n && n_listed && memcmp(listed[n_listed - 1], ch.digests, D) >= 0)
            st = kt_fail(KT_ERR_VERIFY, "%s: its first entry is not after the chunk before's last",
                         key);
        /* grown geometrically: a manifest of many chunks is not copied once per chunk */
        if (!st && n_listed + ch.n + 1 > room) {
            size_t want = room ? room : AE_ROT_PER_CHUNK + 1;
            while (want < n_listed + ch.n + 1)
                want *= 2;
            uint8_t(*grown)[D] = realloc(listed, want * sizeof *listed);
            if (!grown)
                st = kt_fail(KT_ERR_NO_MEMORY, "rotation manifest: out of memory");
            else
                listed = grown, room = want;
        }
        if (!st) {
            memcpy(listed[n_listed], ch.digests, (size_t)ch.n * D);
            n_listed += ch.n;
            st = root_add(c, value.data, value.len);
        }
    }
    uint8_t got[KT_SHA256_LEN];
    if (!st) st = kt_sha256_final(c, got);
    if (!st && !kt_equal(got, root, sizeof got))
        st = kt_fail(KT_ERR_VERIFY, "it is not the manifest aecs/master names");
    kt_sha256_free(c);
    kt_buf_free(&value);
    if (st) {
        ae_manifest_free();
        return kt_fail_context(
            st,
            "aecs/master marks an unfinished key rotation to generation %u; its manifest (%s%u/*)",
            (unsigned)gen, AE_ROT_KEY_PREFIX, (unsigned)gen);
    }
    return KT_OK;
}

bool ae_manifest_lists(const uint8_t digest[KT_SHA256_LEN])
{
    return n_listed && bsearch(digest, listed, n_listed, sizeof *listed, by_digest);
}

void ae_manifest_free(void)
{
    free(listed);
    listed = NULL;
    n_listed = 0;
}
