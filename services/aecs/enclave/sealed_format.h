/* The byte layouts the host hands back to the AECS enclave (docs/aecs.md "Storage
 * layout"): a sealed object's header and aecs/master's clear header, split into their
 * fields, every length checked. Plain code, no enclave dependency, so the fuzz target runs
 * it too (fuzz/fuzz_aecs_sealed.c). */
#ifndef AECS_SEALED_FORMAT_H
#define AECS_SEALED_FORMAT_H

#include <kubetee/base.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AE_OBJ_MAGIC "KTAO"
#define AE_OBJ_FORMAT 2 /* written; 1 (generation 0, no field) is read */
#define AE_OBJ_ID_LEN 16
#define AE_OBJ_IV_LEN 12
#define AE_OBJ_TAG_LEN 16
#define AE_OBJ_HDR (4 + 1 + 4 + 8 + AE_OBJ_ID_LEN + AE_OBJ_IV_LEN)
#define AE_OBJ_HDR1 (4 + 1 + 8 + AE_OBJ_ID_LEN + AE_OBJ_IV_LEN)

/* A sealed object, pointing into the bytes parsed. */
typedef struct {
    int format;     /* 1 or 2 */
    uint32_t gen;   /* the storage key generation it is sealed under (format 1: 0) */
    uint64_t version;
    const uint8_t *id, *iv, *sealed, *tag;
    size_t sealed_len;
} ae_object_header;

/* KT_ERR_VERIFY (no reason set: the caller names the key) for anything but a format 1 or 2
 * object with room for its header and tag. */
kt_status ae_object_header_parse(const uint8_t *b, size_t n, ae_object_header *h);
/* Writes format 2's header (AE_OBJ_HDR bytes, the IV left to the caller) into out. */
void ae_object_header_write(uint8_t out[AE_OBJ_HDR], uint32_t gen, uint64_t version, const uint8_t id[AE_OBJ_ID_LEN]);

#define AE_MASTER_MAGIC "KTAECSM4" /* written; v3, v2 and v1 are read */
#define AE_MASTER_MAGIC3 "KTAECSM3"
#define AE_MASTER_MAGIC2 "KTAECSM2"
#define AE_MASTER_MAGIC_LEN 8
#define AE_MASTER_CLEAR_LEN (64 + 4 + 8 + 1) /* instance, u32le generation, u64le set version, flags */
#define AE_MASTER_ROTATING 1                 /* flags: the sealed part holds the key before too */
#define AE_MASTER_AAD_MAX 128

/* aecs/master's value split: its format (1..4), the instance it names (v2..v4), its key
 * generation, set version and rotating mark (v3, v4; else 0), the sealed part and the AAD
 * that part must carry. Every value parses (a v1 value is the sealed part alone). v4's
 * clear header is v3's; its sealed part also names the recovery set the key is for. */
typedef struct {
    int format;
    bool named, rotating;
    uint8_t instance[64];
    uint32_t gen;
    uint64_t set_version;
    const uint8_t *sealed;
    size_t n, aad_len;
    uint8_t aad[AE_MASTER_AAD_MAX];
} ae_master_value;

void ae_master_parse(const uint8_t *d, size_t n, ae_master_value *m);
/* v3's and v4's clear header (AE_MASTER_CLEAR_LEN bytes) and the seal's AAD of format
 * (3 or 4) over it (returns its length). */
void ae_master_clear(uint8_t out[AE_MASTER_CLEAR_LEN], const uint8_t instance[64], uint32_t gen, uint64_t set_version,
                     bool rotating);
size_t ae_master_aad(int format, const uint8_t clear[AE_MASTER_CLEAR_LEN], uint8_t aad[AE_MASTER_AAD_MAX]);

/* A key rotation's manifest (manifest.c; docs/aecs.md "Key rotation"): the digests of the
 * objects sealed under the key before, sorted, in chunks kept raw at AE_ROT_KEY_PREFIX
 * "<generation>/<index>" (no object of the table); while the rotation is unfinished aecs/master's
 * sealed part names their root, so only those objects open under the old key. A chunk is
 * the magic, its format, u32le generation (the new key's), index, count (of chunks) and
 * entries, then the entries' digests, strictly ascending. */
#define AE_ROT_KEY_PREFIX "aecs/rotation/"
#define AE_ROT_MAGIC "KTAR"
#define AE_ROT_FORMAT 1
#define AE_ROT_HDR (4 + 1 + 4 + 4 + 4 + 4)
#define AE_ROT_DIGEST_LEN 32
#define AE_ROT_PER_CHUNK 16384 /* 512 KiB of digests: within the store's 1 MiB values */
#define AE_ROT_CHUNKS_MAX 256

typedef struct {
    uint32_t gen, index, count, n;
    const uint8_t *digests; /* n of AE_ROT_DIGEST_LEN, pointing into the bytes parsed */
} ae_rotation_chunk;

/* KT_ERR_VERIFY naming what is wrong for anything but a whole chunk of this format. */
kt_status ae_rotation_chunk_parse(const uint8_t *b, size_t n, ae_rotation_chunk *c);
void ae_rotation_chunk_header(uint8_t out[AE_ROT_HDR], uint32_t gen, uint32_t index, uint32_t count,
                              uint32_t n);
/* Whether the enclave keeps key's value raw (aecs/master, the manifest's chunks), not as
 * a sealed object of its table. */
bool ae_store_raw_key(const char *key);
#endif
