/* The byte layouts of sealed objects and aecs/master (sealed_format.h). */
#include "sealed_format.h"

#include <string.h>

#define MASTER_AAD1 "kubetee.aecs.master.v1"
#define MASTER_AAD2 "kubetee.aecs.master.v2"
#define MASTER_AAD3 "kubetee.aecs.master.v3"

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

size_t ae_master_aad(const uint8_t clear[AE_MASTER_CLEAR_LEN], uint8_t aad[AE_MASTER_AAD_MAX])
{
    size_t l = sizeof MASTER_AAD3 - 1;
    memcpy(aad, MASTER_AAD3, l);
    memcpy(aad + l, clear, AE_MASTER_CLEAR_LEN);
    return l + AE_MASTER_CLEAR_LEN;
}

void ae_master_parse(const uint8_t *d, size_t n, ae_master_value *m)
{
    memset(m, 0, sizeof *m);
    if (n > AE_MASTER_MAGIC_LEN + AE_MASTER_CLEAR_LEN && !memcmp(d, AE_MASTER_MAGIC, AE_MASTER_MAGIC_LEN)) {
        const uint8_t *c = d + AE_MASTER_MAGIC_LEN;
        m->format = 3;
        memcpy(m->instance, c, 64);
        m->gen = kt_le32(c + 64);
        m->set_version = kt_le64(c + 68);
        m->rotating = c[76] & AE_MASTER_ROTATING;
        m->sealed = c + AE_MASTER_CLEAR_LEN;
        m->n = n - AE_MASTER_MAGIC_LEN - AE_MASTER_CLEAR_LEN;
        m->aad_len = ae_master_aad(c, m->aad);
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
