/* Opened objects kept in the enclave, so a TA's get need not ask the host's store for
 * what this enclave itself wrote or opened (docs/aecs.md "Storage layout"). An entry
 * holds the plaintext with the version and object id it was opened at; it serves only
 * while the version/id table (objects.c) still says that version and id, and any write
 * or delete of the key drops it. Bounded (AE_CACHE_ENTRIES, AE_CACHE_BYTES), least
 * recently used first out; every entry is wiped when it goes. Under ae_lock. */
#include "aecs.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char key[KT_STORE_KEY_MAX + 1];
    uint64_t version, used;
    uint8_t id[AE_OBJECT_ID_LEN];
    uint8_t *plain;
    size_t len;
} kept;

static kept cache[AE_CACHE_ENTRIES];
static size_t bytes;
static uint64_t tick;

static void drop(kept *k)
{
    if (!k->plain) return;
    kt_wipe(k->plain, k->len);
    free(k->plain);
    bytes -= k->len;
    memset(k, 0, sizeof *k);
}

static kept *find(const char *key)
{
    for (size_t i = 0; i < AE_CACHE_ENTRIES; i++)
        if (cache[i].plain && !strcmp(cache[i].key, key)) return &cache[i];
    return NULL;
}

static kept *oldest(void)
{
    kept *o = NULL;
    for (size_t i = 0; i < AE_CACHE_ENTRIES; i++)
        if (cache[i].plain && (!o || cache[i].used < o->used)) o = &cache[i];
    return o;
}

kt_status ae_cache_get(const char *key, uint64_t version, const uint8_t id[AE_OBJECT_ID_LEN], kt_buf *plain,
                       bool *hit)
{
    kept *k = find(key);
    *hit = false;
    if (!k) return KT_OK;
    if (k->version != version || !kt_equal(k->id, id, AE_OBJECT_ID_LEN)) { /* not what the table knows: gone */
        drop(k);
        return KT_OK;
    }
    kt_status st = kt_buf_append(plain, k->plain, k->len);
    if (st) return st;
    k->used = ++tick;
    *hit = true;
    return KT_OK;
}

void ae_cache_put(const char *key, uint64_t version, const uint8_t id[AE_OBJECT_ID_LEN], const void *plain, size_t n)
{
    ae_cache_drop(key);
    if (n == 0 || n > AE_CACHE_BYTES / 4 || strlen(key) > KT_STORE_KEY_MAX) return;
    kept *k = NULL;
    for (size_t i = 0; i < AE_CACHE_ENTRIES && !k; i++)
        if (!cache[i].plain) k = &cache[i];
    while (!k || bytes + n > AE_CACHE_BYTES) {
        kept *o = oldest();
        if (!o) return;
        drop(o);
        if (!k) k = o;
    }
    uint8_t *p = malloc(n);
    if (!p) return; /* not kept: the next get reads the store */
    memcpy(p, plain, n);
    strcpy(k->key, key);
    k->version = version;
    memcpy(k->id, id, AE_OBJECT_ID_LEN);
    k->plain = p;
    k->len = n;
    k->used = ++tick;
    bytes += n;
}

void ae_cache_drop(const char *key)
{
    kept *k = find(key);
    if (k) drop(k);
}

void ae_cache_reset(void)
{
    for (size_t i = 0; i < AE_CACHE_ENTRIES; i++) drop(&cache[i]);
    bytes = 0;
    tick = 0;
}
