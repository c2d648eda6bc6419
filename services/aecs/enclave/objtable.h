/* The enclave's object table (objects.c): one entry per store key seen since start, with
 * its version, id, key generation and deleted / damage state, and a hash index over the
 * keys so a lookup costs O(1) however many objects the store holds (Start's full scan and
 * a key rotation look up every key). Entries are never removed one by one (a deleted key
 * stays, so the host cannot bring it back); they keep the order they were added in;
 * ae_table_clear forgets them all. The index is keyed by a random seed drawn when the
 * table gets its first key, so the host cannot choose store keys that collide. Plain code
 * (kt_base, kt_random): tests/aecs/test_aecs_objtable.c runs it on the host. */
#ifndef AECS_OBJTABLE_H
#define AECS_OBJTABLE_H

#include <kubetee/base.h>
#include <kubetee/store.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AE_TABLE_ID_LEN 16
/* entries at most: ~130 B each with its key, digest and index share, so the table stays within a
 * third of the enclave's 64 MiB heap (aecs.conf); far above the default quotas' 16,384
 * secrets. Past it a new key is refused by name. */
#define AE_TABLE_MAX 250000u

/* Puts (or a delete) of one key whose outcome is unknown (the store failed them or their
 * answer was lost; an etcd Txn may still commit after its deadline), all at the version after
 * the entry's: each put's sealed bytes by digest (objects.c ae_obj_settle). The last
 * AE_PENDING_MAX are kept: an older one an honest store lands after that many failed puts of
 * the same object since is not expected (an etcd Txn lands within its deadlines), and one a
 * hostile host lands reads as damage, which it could as well cause by deleting the object. */
#define AE_PENDING_MAX 8
typedef struct {
    uint64_t version; /* the version each would have made */
    bool del;         /* a delete among them */
    uint8_t n;
    uint8_t digest[AE_PENDING_MAX][32];
    uint32_t gen[AE_PENDING_MAX]; /* the key generation each is sealed under */
} ae_pending;

typedef struct {
    char *key; /* its own allocation: does not move when the table grows */
    uint64_t version;
    uint8_t id[AE_TABLE_ID_LEN];
    uint32_t gen; /* the key generation it is sealed under */
    uint8_t digest[32]; /* SHA-256 of the sealed bytes this enclave wrote or read (objects.c digest()) */
    bool deleted;
    char *damage; /* why it does not open (start scan), or NULL */
    ae_pending *pending; /* puts of it whose outcome is unknown, or NULL */
} ae_entry;

typedef struct {
    ae_entry *e; /* e[0..n), in the order added; the array may move when the table grows */
    size_t n, cap;
    uint32_t *slot; /* n_slot (a power of two, more than 2n) slots: entry index + 1, 0 empty */
    size_t n_slot;
    uint64_t seed[2]; /* the index's SipHash key, drawn with kt_random at the first key */
} ae_table;

/* The entry of key, or NULL. No allocation. */
ae_entry *ae_table_find(const ae_table *t, const char *key);
/* *e: the entry of key, added (zeroed but for its key) if new. Refused by name: a key
 * empty or over KT_STORE_KEY_MAX, a full table (AE_TABLE_MAX), no memory or randomness;
 * the table is unchanged then. Pointers into t->e may move; keys do not. */
kt_status ae_table_add(ae_table *t, const char *key, ae_entry **e);
/* KT_OK if ae_table_add may add key as a new entry (its length, AE_TABLE_MAX), else the
 * refusal ae_table_add would give: checked before a new object is written. */
kt_status ae_table_room(const ae_table *t, const char *key);
/* Frees every entry (its key, damage reason and pending puts) and the index: the table is empty, and its
 * next key draws a new seed. */
void ae_table_clear(ae_table *t);
/* The index's hash of key under the table's seed (tests: collisions, probe lengths). */
uint64_t ae_table_hash(const ae_table *t, const char *key);

#endif
