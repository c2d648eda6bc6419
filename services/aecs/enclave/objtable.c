/* The object table's hash index (objtable.h): open addressing with linear probing over
 * entry indexes, keyed SipHash-2-4 of the store key, kept under half full. */
#include "objtable.h"

#include <kubetee/crypto.h>

#include <stdlib.h>
#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define ROUND(v0, v1, v2, v3)                                                                      \
    do {                                                                                           \
        v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32);                                  \
        v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                                                     \
        v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                                                     \
        v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32);                                  \
    } while (0)

static uint64_t le64(const uint8_t *p, size_t n)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}

/* SipHash-2-4 (Aumasson, Bernstein) of s under the table's seed */
uint64_t ae_table_hash(const ae_table *t, const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = strlen(s), i = 0;
    uint64_t v0 = t->seed[0] ^ 0x736f6d6570736575ull, v1 = t->seed[1] ^ 0x646f72616e646f6dull,
             v2 = t->seed[0] ^ 0x6c7967656e657261ull, v3 = t->seed[1] ^ 0x7465646279746573ull;
    for (; i + 8 <= n; i += 8) {
        uint64_t m = le64(p + i, 8);
        v3 ^= m;
        ROUND(v0, v1, v2, v3);
        ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t m = le64(p + i, n - i) | (uint64_t)(n & 0xff) << 56;
    v3 ^= m;
    ROUND(v0, v1, v2, v3);
    ROUND(v0, v1, v2, v3);
    v0 ^= m;
    v2 ^= 0xff;
    for (int r = 0; r < 4; r++)
        ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

/* the slot holding key, or the empty one where it would go (there is always one) */
static size_t probe(const ae_table *t, const char *key)
{
    size_t mask = t->n_slot - 1, s = (size_t)ae_table_hash(t, key) & mask;
    while (t->slot[s] && strcmp(t->e[t->slot[s] - 1].key, key))
        s = (s + 1) & mask;
    return s;
}

ae_entry *ae_table_find(const ae_table *t, const char *key)
{
    if (!t->n) return NULL;
    uint32_t i = t->slot[probe(t, key)];
    return i ? &t->e[i - 1] : NULL;
}

/* the index rebuilt over n_slot slots; the old one kept if there is no memory */
static bool reindex(ae_table *t, size_t n_slot)
{
    uint32_t *s = calloc(n_slot, sizeof *s);
    if (!s) return false;
    free(t->slot);
    t->slot = s;
    t->n_slot = n_slot;
    for (size_t i = 0; i < t->n; i++)
        t->slot[probe(t, t->e[i].key)] = (uint32_t)(i + 1);
    return true;
}

kt_status ae_table_room(const ae_table *t, const char *key)
{
    size_t len = strlen(key);
    char shown[64];
    if (!len || len > KT_STORE_KEY_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "objects: store key \"%s\" is %zu bytes (1 to %d)",
                       kt_escape(key, len, shown, sizeof shown), len, KT_STORE_KEY_MAX);
    if (t->n >= AE_TABLE_MAX)
        return kt_fail(KT_ERR_TOO_LARGE,
                       "objects: the enclave's table of store keys is full (%u keys seen since "
                       "start, deleted ones "
                       "included); \"%s\" refused (a restart forgets the deleted ones)",
                       AE_TABLE_MAX, kt_escape(key, len, shown, sizeof shown));
    return KT_OK;
}

kt_status ae_table_add(ae_table *t, const char *key, ae_entry **e)
{
    if ((*e = ae_table_find(t, key))) return KT_OK;
    kt_status st = ae_table_room(t, key);
    if (st) return st;
    size_t len = strlen(key);
    if (!t->n) { /* a new seed for each filling: what collides under one tells nothing of the next
                  */
        uint8_t seed[16];
        if ((st = kt_random(seed, sizeof seed)))
            return kt_fail_context(st, "objects: the table's seed");
        t->seed[0] = le64(seed, 8), t->seed[1] = le64(seed + 8, 8);
        kt_wipe(seed, sizeof seed);
        if (t->n_slot) memset(t->slot, 0, t->n_slot * sizeof *t->slot);
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        if (cap > AE_TABLE_MAX) cap = AE_TABLE_MAX;
        ae_entry *g = realloc(t->e, cap * sizeof *g);
        if (!g)
            return kt_fail(KT_ERR_NO_MEMORY,
                           "objects: out of memory growing the key table past %zu", t->n);
        t->e = g, t->cap = cap;
    }
    if (2 * (t->n + 1) >= t->n_slot && !reindex(t, t->n_slot ? t->n_slot * 2 : 512))
        return kt_fail(KT_ERR_NO_MEMORY, "objects: out of memory growing the key index past %zu",
                       t->n);
    char *k = malloc(len + 1);
    if (!k) return kt_fail(KT_ERR_NO_MEMORY, "objects: out of memory adding key %zu", t->n + 1);
    memcpy(k, key, len + 1);
    *e = &t->e[t->n];
    memset(*e, 0, sizeof **e);
    (*e)->key = k;
    t->slot[probe(t, key)] = (uint32_t)(t->n + 1);
    t->n++;
    return KT_OK;
}

void ae_table_clear(ae_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->e[i].key), free(t->e[i].damage), free(t->e[i].pending);
    free(t->e);
    free(t->slot);
    kt_wipe(t, sizeof *t);
}
