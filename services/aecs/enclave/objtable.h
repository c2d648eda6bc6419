/* The enclave's object table (objects.c): one entry per store key seen since start, with
 * its version, id, key generation and deleted / damage state, and a hash index over the
 * keys so a lookup costs O(1) however many objects the store holds (Start's full scan and
 * a key rotation look up every key). Entries are never removed (a deleted key stays, so
 * the host cannot bring it back); they keep the order they were added in. Plain code, no
 * enclave dependency: tests/aecs/test_aecs_objtable.c runs it on the host. */
#ifndef AECS_OBJTABLE_H
#define AECS_OBJTABLE_H

#include <kubetee/store.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AE_TABLE_ID_LEN 16
#define AE_TABLE_MAX 4000000u /* entries: far above any store's quota; the index stays 32-bit */

typedef struct {
    char key[KT_STORE_KEY_MAX + 1];
    uint64_t version;
    uint8_t id[AE_TABLE_ID_LEN];
    uint32_t gen; /* the key generation it is sealed under */
    bool deleted;
    char *damage; /* why it does not open (start scan), or NULL */
} ae_entry;

typedef struct {
    ae_entry *e; /* e[0..n), in the order added; may move when the table grows */
    size_t n, cap;
    uint32_t *slot; /* n_slot (a power of two, at least 2n) slots: entry index + 1, 0 empty */
    size_t n_slot;
    uint64_t seed[2]; /* the index's hash key: random, so the host cannot pick colliding keys */
} ae_table;

/* The entry of key, or NULL. No allocation. */
ae_entry *ae_table_find(const ae_table *t, const char *key);
/* The entry of key, added (zeroed but for its key) if new; NULL if the key is longer than
 * KT_STORE_KEY_MAX, the table full or out of memory. seed: the hash key, used when the
 * table is empty (16 random bytes), ignored otherwise. Pointers into e may move. */
ae_entry *ae_table_add(ae_table *t, const char *key, const uint8_t seed[16]);
/* Frees every entry (and its damage reason) and the index; the table is empty after. */
void ae_table_clear(ae_table *t);

#endif
