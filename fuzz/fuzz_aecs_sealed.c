/* Fuzz target: the layouts the host hands the AECS enclave back
 * (services/aecs/enclave/sealed_format.c): a sealed object's header, aecs/master's value
 * and a key rotation's manifest chunk, over any bytes. What parses points inside the
 * input, its parts add up to it, and a header written from the fields is the one parsed. */
#include "sealed_format.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    ae_object_header h;
    if (ae_object_header_parse(data, n, &h) == KT_OK) {
        size_t hdr = h.format == 1 ? AE_OBJ_HDR1 : AE_OBJ_HDR;
        if ((h.format != 1 && h.format != 2) || (h.format == 1 && h.gen) ||
            h.sealed != data + hdr || hdr + h.sealed_len + AE_OBJ_TAG_LEN != n ||
            h.tag != data + n - AE_OBJ_TAG_LEN || h.iv + AE_OBJ_IV_LEN != h.sealed ||
            h.id + AE_OBJ_ID_LEN != h.iv)
            __builtin_trap();
        uint8_t again[AE_OBJ_HDR + AE_OBJ_TAG_LEN] = {0};
        ae_object_header h2;
        ae_object_header_write(again, h.gen, h.version, h.id);
        if (ae_object_header_parse(again, sizeof again, &h2) || h2.gen != h.gen ||
            h2.version != h.version || memcmp(h2.id, h.id, AE_OBJ_ID_LEN) || h2.sealed_len != 0)
            __builtin_trap();
    }
    ae_master_value m;
    ae_master_parse(data, n, &m);
    if (m.format < 1 || m.format > 4 || m.sealed < data || m.sealed + m.n != data + n ||
        m.aad_len > AE_MASTER_AAD_MAX || m.named != (m.format >= 2) ||
        ((m.rotating || m.gen || m.set_version) && m.format < 3))
        __builtin_trap();
    if (m.format >= 3) {
        uint8_t clear[AE_MASTER_CLEAR_LEN], aad[AE_MASTER_AAD_MAX];
        ae_master_clear(clear, m.instance, m.gen, m.set_version, m.rotating);
        size_t an = ae_master_aad(m.format, clear, aad);
        if (memcmp(clear, data + AE_MASTER_MAGIC_LEN, 77) &&
            !(data[AE_MASTER_MAGIC_LEN + 76] & ~AE_MASTER_ROTATING))
            __builtin_trap();
        if (an != m.aad_len) __builtin_trap();
    }
    ae_rotation_chunk c;
    if (ae_rotation_chunk_parse(data, n, &c) == KT_OK) {
        if (c.digests != data + AE_ROT_HDR || AE_ROT_HDR + (size_t)c.n * AE_ROT_DIGEST_LEN != n ||
            c.n > AE_ROT_PER_CHUNK || c.count == 0 || c.count > AE_ROT_CHUNKS_MAX || c.index >= c.count)
            __builtin_trap();
        for (uint32_t i = 1; i < c.n; i++)
            if (memcmp(c.digests + (i - 1) * AE_ROT_DIGEST_LEN, c.digests + i * AE_ROT_DIGEST_LEN,
                       AE_ROT_DIGEST_LEN) >= 0)
                __builtin_trap();
        uint8_t hdr[AE_ROT_HDR];
        ae_rotation_chunk_header(hdr, c.gen, c.index, c.count, c.n);
        if (memcmp(hdr, data, AE_ROT_HDR)) __builtin_trap();
    }
    return 0;
}
