/* MRENCLAVE: SGX's measurement log, replayed over the enclave's page layout (layout.c).
 *
 *   ECREATE  "ECREATE\0" | SSAFRAMESIZE u32 | SIZE u64 | 44 zero bytes
 *   EADD     "EADD\0\0\0\0" | page offset u64 | SECINFO.FLAGS u64 | 40 zero bytes
 *   EEXTEND  "EEXTEND\0" | chunk offset u64 | 48 zero bytes, then the 256-byte chunk
 *
 * A measured page's whole log (EADD, then 16 EEXTENDs each with its chunk: 5184 bytes) is
 * assembled in a buffer that stays in L1 and hashed in one update. That beats hashing the
 * chunks straight from the image: OpenSSL's block function costs about as much per call
 * as copying a chunk, and that would be 32 calls a page; buffers of several pages fall
 * out of L1 and cost more. So the cost stays close to SHA-256's own over the 1.27 bytes
 * the log holds per measured byte (bench/measure). */
#include "internal.h"

#include <string.h>

#define CHUNK 256
#define RECORD 64
#define PENDING 64 /* EADD-only records held before an update */

typedef struct {
    kt_sha256_ctx *h;
    _Alignas(64) uint8_t buf[PENDING * RECORD + RECORD + KT_PAGE_SIZE / CHUNK * (RECORD + CHUNK)];
    size_t len;
} mlog;

static uint8_t *record(mlog *m, const char tag[8], uint64_t a, uint64_t b)
{
    uint8_t *p = m->buf + m->len;
    memcpy(p, tag, 8);
    kt_put_le64(p + 8, a);
    kt_put_le64(p + 16, b);
    memset(p + 24, 0, RECORD - 24);
    m->len += RECORD;
    return p;
}

static kt_status flush(mlog *m)
{
    kt_status st = m->len ? kt_sha256_update(m->h, m->buf, m->len) : KT_OK;
    m->len = 0;
    return st;
}

static kt_status visit(void *arg, uint64_t offset, uint64_t secinfo, const uint8_t *page)
{
    mlog *m = arg;
    kt_status st;
    size_t need = page ? RECORD + (KT_PAGE_SIZE / CHUNK) * (RECORD + CHUNK) : RECORD;
    if (m->len + need > sizeof m->buf && (st = flush(m))) return st;
    record(m, "EADD\0\0\0\0", offset, secinfo);
    if (!page) return KT_OK;
    for (unsigned c = 0; c < KT_PAGE_SIZE / CHUNK; c++) {
        record(m, "EEXTEND\0", offset + c * CHUNK, 0);
        memcpy(m->buf + m->len, page + c * CHUNK, CHUNK);
        m->len += CHUNK;
    }
    return flush(m);
}

kt_status kt_layout_measure(const kt_layout *l, const kt_elf *elf, const uint8_t *data,
                            uint8_t mrenclave[KT_SHA256_LEN])
{
    mlog m;
    m.len = 0;
    kt_status st = kt_sha256_new(&m.h);
    if (st) return st;
    uint8_t *p = record(&m, "ECREATE\0", 0, 0);
    memset(p + 8, 0, RECORD - 8);
    kt_put_le32(p + 8, l->ssa_frame_pages);
    kt_put_le64(p + 12, l->size);
    st = kt_layout_walk(l, elf, data, visit, &m);
    if (!st) st = flush(&m);
    if (!st) st = kt_sha256_final(m.h, mrenclave);
    kt_sha256_free(m.h);
    return st;
}

kt_status kt_measure(const uint8_t *elf_bytes, size_t n, const kt_enclave_config *c,
                     uint8_t mrenclave[KT_SHA256_LEN])
{
    if (!elf_bytes || !c || !mrenclave)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "measure: NULL argument");
    kt_status st = kt_enclave_config_check(c);
    kt_elf elf;
    kt_layout l;
    if (st || (st = kt_elf_parse(elf_bytes, n, &elf)) || (st = kt_layout_plan(&elf, c, &l)))
        return st;
    return kt_layout_measure(&l, &elf, elf_bytes, mrenclave);
}
