/* The byte layouts of sealed objects and aecs/master (sealed_format.h). */
#include "sealed_format.h"

#include <string.h>

#define MASTER_AAD1 "kubetee.aecs.master.v1"
#define MASTER_AAD2 "kubetee.aecs.master.v2"
#define MASTER_AAD3 "kubetee.aecs.master.v3"
#define MASTER_AAD4 "kubetee.aecs.master.v4"

kt_status ae_object_header_parse(const uint8_t *b, size_t n, ae_object_header *h)
{
    memset(h, 0, sizeof *h);
    int format = n >= 5 && !memcmp(b, AE_OBJ_MAGIC, 4) ? b[4] : 0;
    size_t hdr = format == 1 ? AE_OBJ_HDR1 : AE_OBJ_HDR;
    if ((format != 1 && format != AE_OBJ_FORMAT) || n < hdr + AE_OBJ_TAG_LEN) return KT_ERR_VERIFY;
    const uint8_t *p = b + (format == 1 ? 5 : 9);
    h->format = format;
    h->gen = format == 1 ? 0 : kt_le32(b + 5);
    h->version = kt_le64(p);
    h->id = p + 8;
    h->iv = p + 8 + AE_OBJ_ID_LEN;
    h->sealed = b + hdr;
    h->sealed_len = n - hdr - AE_OBJ_TAG_LEN;
    h->tag = b + n - AE_OBJ_TAG_LEN;
    return KT_OK;
}

void ae_object_header_write(uint8_t out[AE_OBJ_HDR], uint32_t gen, uint64_t version, const uint8_t id[AE_OBJ_ID_LEN])
{
    memcpy(out, AE_OBJ_MAGIC, 4);
    out[4] = AE_OBJ_FORMAT;
    kt_put_le32(out + 5, gen);
    kt_put_le64(out + 9, version);
    memcpy(out + 17, id, AE_OBJ_ID_LEN);
}

void ae_master_clear(uint8_t out[AE_MASTER_CLEAR_LEN], const uint8_t instance[64], uint32_t gen, uint64_t set_version,
                     bool rotating)
{
    memcpy(out, instance, 64);
    kt_put_le32(out + 64, gen);
    kt_put_le64(out + 68, set_version);
    out[76] = rotating ? AE_MASTER_ROTATING : 0;
}

size_t ae_master_aad(int format, const uint8_t clear[AE_MASTER_CLEAR_LEN], uint8_t aad[AE_MASTER_AAD_MAX])
{
    _Static_assert(sizeof MASTER_AAD3 == sizeof MASTER_AAD4, "one AAD length");
    size_t l = sizeof MASTER_AAD3 - 1;
    memcpy(aad, format == 4 ? MASTER_AAD4 : MASTER_AAD3, l);
    memcpy(aad + l, clear, AE_MASTER_CLEAR_LEN);
    return l + AE_MASTER_CLEAR_LEN;
}

void ae_master_parse(const uint8_t *d, size_t n, ae_master_value *m)
{
    memset(m, 0, sizeof *m);
    bool v4 = n > AE_MASTER_MAGIC_LEN && !memcmp(d, AE_MASTER_MAGIC, AE_MASTER_MAGIC_LEN);
    if (n > AE_MASTER_MAGIC_LEN + AE_MASTER_CLEAR_LEN && (v4 || !memcmp(d, AE_MASTER_MAGIC3, AE_MASTER_MAGIC_LEN))) {
        const uint8_t *c = d + AE_MASTER_MAGIC_LEN;
        m->format = v4 ? 4 : 3;
        memcpy(m->instance, c, 64);
        m->gen = kt_le32(c + 64);
        m->set_version = kt_le64(c + 68);
        m->rotating = c[76] & AE_MASTER_ROTATING;
        m->sealed = c + AE_MASTER_CLEAR_LEN;
        m->n = n - AE_MASTER_MAGIC_LEN - AE_MASTER_CLEAR_LEN;
        m->aad_len = ae_master_aad(m->format, c, m->aad);
    } else if (n > AE_MASTER_MAGIC_LEN + 64 && !memcmp(d, AE_MASTER_MAGIC2, AE_MASTER_MAGIC_LEN)) {
        m->format = 2;
        memcpy(m->instance, d + AE_MASTER_MAGIC_LEN, 64);
        m->sealed = d + AE_MASTER_MAGIC_LEN + 64;
        m->n = n - AE_MASTER_MAGIC_LEN - 64;
        memcpy(m->aad, MASTER_AAD2, sizeof MASTER_AAD2 - 1);
        memcpy(m->aad + sizeof MASTER_AAD2 - 1, m->instance, 64);
        m->aad_len = sizeof MASTER_AAD2 - 1 + 64;
    } else {
        m->format = 1;
        m->sealed = d;
        m->n = n;
        memcpy(m->aad, MASTER_AAD1, sizeof MASTER_AAD1 - 1);
        m->aad_len = sizeof MASTER_AAD1 - 1;
    }
    m->named = m->format >= 2;
}

kt_status ae_rotation_chunk_parse(const uint8_t *b, size_t n, ae_rotation_chunk *c)
{
    memset(c, 0, sizeof *c);
    if (n < AE_ROT_HDR || memcmp(b, AE_ROT_MAGIC, 4))
        return kt_fail(KT_ERR_VERIFY, "rotation manifest chunk: %zu bytes, no %s header", n,
                       AE_ROT_MAGIC);
    if (b[4] != AE_ROT_FORMAT)
        return kt_fail(KT_ERR_VERIFY, "rotation manifest chunk: format %u, not %d", b[4],
                       AE_ROT_FORMAT);
    c->gen = kt_le32(b + 5);
    c->index = kt_le32(b + 9);
    c->count = kt_le32(b + 13);
    c->n = kt_le32(b + 17);
    if (c->count == 0 || c->count > AE_ROT_CHUNKS_MAX || c->index >= c->count)
        return kt_fail(KT_ERR_VERIFY, "rotation manifest chunk: index %u of %u chunks (at most %d)",
                       (unsigned)c->index, (unsigned)c->count, AE_ROT_CHUNKS_MAX);
    if (c->n > AE_ROT_PER_CHUNK || n != AE_ROT_HDR + (size_t)c->n * AE_ROT_DIGEST_LEN)
        return kt_fail(KT_ERR_VERIFY,
                       "rotation manifest chunk: %zu bytes for %u entries (at most %d)", n,
                       (unsigned)c->n, AE_ROT_PER_CHUNK);
    c->digests = b + AE_ROT_HDR;
    for (uint32_t i = 1; i < c->n; i++)
        if (memcmp(c->digests + (i - 1) * AE_ROT_DIGEST_LEN, c->digests + i * AE_ROT_DIGEST_LEN,
                   AE_ROT_DIGEST_LEN) >= 0)
            return kt_fail(KT_ERR_VERIFY, "rotation manifest chunk: entry %u is not after entry %u",
                           (unsigned)i + 1, (unsigned)i);
    return KT_OK;
}

void ae_rotation_chunk_header(uint8_t out[AE_ROT_HDR], uint32_t gen, uint32_t index, uint32_t count,
                              uint32_t n)
{
    memcpy(out, AE_ROT_MAGIC, 4);
    out[4] = AE_ROT_FORMAT;
    kt_put_le32(out + 5, gen);
    kt_put_le32(out + 9, index);
    kt_put_le32(out + 13, count);
    kt_put_le32(out + 17, n);
}

bool ae_store_raw_key(const char *key)
{
    return !strcmp(key, "aecs/master") ||
           !strncmp(key, AE_ROT_KEY_PREFIX, sizeof AE_ROT_KEY_PREFIX - 1);
}
