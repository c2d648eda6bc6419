/* MRENCLAVE: SGX's measurement log, replayed over the enclave's page layout.
 *
 *   ECREATE  "ECREATE\0" | ssa_frame_size u32 | enclave size u64 | 44 zero bytes
 *   EADD     "EADD\0\0\0\0" | page offset u64 | SECINFO flags u64 | 40 zero bytes
 *   EEXTEND  "EEXTEND\0" | chunk offset u64 | 48 zero bytes, then the 256-byte chunk
 *
 * Layout, from offset 0: the ELF's loadable pages at their addresses (EADD + EEXTEND),
 * one config page (EADD + EEXTEND), the heap (EADD), then per TCS a guard page (absent),
 * the stack (EADD), the TCS page (EADD + EEXTEND) and one SSA page (EADD). The enclave
 * size is the layout rounded up to a power of two. Records are gathered in a buffer and
 * hashed in large updates, so the cost stays close to SHA-256's own. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define SECINFO_PT_TCS (1u << 8)
#define SECINFO_PT_REG (2u << 8)
#define CHUNK 256
#define PAGE_LOG (64 + 16 * (64 + CHUNK)) /* bytes one measured page adds to the log */
#define BATCH_PAGES 8

typedef struct {
    kt_sha256_ctx *h;
    uint8_t *buf;
    size_t len, cap;
    kt_status st;
} mlog;

static void flush(mlog *m)
{
    if (m->len && !m->st) m->st = kt_sha256_update(m->h, m->buf, m->len);
    m->len = 0;
}

static uint8_t *room(mlog *m, size_t n)
{
    if (m->len + n > m->cap) flush(m);
    uint8_t *p = m->buf + m->len;
    m->len += n;
    return p;
}

static void record(mlog *m, const char tag[8], uint64_t offset, uint64_t flags)
{
    uint8_t *p = room(m, 64);
    memcpy(p, tag, 8);
    kt_put_le64(p + 8, offset);
    kt_put_le64(p + 16, flags);
    memset(p + 24, 0, 40);
}

static void eadd(mlog *m, uint64_t offset, uint64_t secinfo)
{
    record(m, "EADD\0\0\0\0", offset, secinfo);
}

static void eadd_extend(mlog *m, uint64_t offset, uint64_t secinfo, const uint8_t *page)
{
    uint8_t *p = room(m, PAGE_LOG);
    memcpy(p, "EADD\0\0\0\0", 8);
    kt_put_le64(p + 8, offset);
    kt_put_le64(p + 16, secinfo);
    memset(p + 24, 0, 40);
    p += 64;
    for (unsigned c = 0; c < KT_PAGE_SIZE / CHUNK; c++) {
        memcpy(p, "EEXTEND\0", 8);
        kt_put_le64(p + 8, offset + c * CHUNK);
        memset(p + 16, 0, 48);
        memcpy(p + 64, page + c * CHUNK, CHUNK);
        p += 64 + CHUNK;
    }
}

static uint64_t pow2_at_least(uint64_t x)
{
    uint64_t p = KT_PAGE_SIZE;
    while (p < x)
        p <<= 1;
    return p;
}

/* The bytes of image page `a`: a view into the file when one segment's file bytes cover
 * it, else composed in scratch. Sets *flags to the union of covering segments' flags,
 * 0 when no segment touches the page. */
static const uint8_t *image_page(const kt_elf *elf, const uint8_t *data, uint64_t a,
                                 uint8_t *scratch, uint32_t *flags)
{
    uint64_t end = a + KT_PAGE_SIZE;
    *flags = 0;
    for (unsigned i = 0; i < elf->nseg; i++) {
        const kt_elf_segment *s = &elf->seg[i];
        if (s->vaddr <= a && end <= s->vaddr + s->filesz) {
            *flags = s->flags;
            bool shared = (i > 0 && elf->seg[i - 1].vaddr + elf->seg[i - 1].memsz > a) ||
                          (i + 1 < elf->nseg && elf->seg[i + 1].vaddr < end);
            if (!shared) return data + s->offset + (a - s->vaddr);
            break;
        }
    }
    *flags = 0;
    memset(scratch, 0, KT_PAGE_SIZE);
    for (unsigned i = 0; i < elf->nseg; i++) {
        const kt_elf_segment *s = &elf->seg[i];
        if (s->vaddr >= end || s->vaddr + s->memsz <= a) continue;
        *flags |= s->flags;
        uint64_t lo = s->vaddr > a ? s->vaddr : a;
        uint64_t hi = s->vaddr + s->filesz < end ? s->vaddr + s->filesz : end;
        if (hi > lo) memcpy(scratch + (lo - a), data + s->offset + (lo - s->vaddr), hi - lo);
    }
    return scratch;
}

static kt_status measure_elf(const kt_elf *elf, const uint8_t *data, const kt_enclave_config *c,
                             uint8_t mrenclave[KT_SHA256_LEN])
{
    if (!elf->entry)
        return kt_fail(KT_ERR_MALFORMED,
                       "ELF: no exported function '%s' (not linked with the "
                       "kubetee trusted runtime?)",
                       KT_ENTRY_SYMBOL);
    uint64_t config_page = elf->image_size;
    uint64_t heap = config_page + KT_PAGE_SIZE;
    uint64_t per_tcs = KT_PAGE_SIZE /* guard */ + c->stack_size + 2 * KT_PAGE_SIZE;
    uint64_t tcs_area = heap + c->heap_size;
    uint64_t end = tcs_area + per_tcs * c->tcs_count;

    mlog m = {0};
    m.cap = BATCH_PAGES * PAGE_LOG;
    m.buf = malloc(m.cap + 2 * KT_PAGE_SIZE);
    if (!m.buf) return kt_fail(KT_ERR_NO_MEMORY, "measure: out of memory");
    uint8_t *scratch = m.buf + m.cap;
    m.st = kt_sha256_new(&m.h);
    if (m.st) {
        free(m.buf);
        return m.st;
    }

    uint8_t *p = room(&m, 64);
    memset(p, 0, 64);
    memcpy(p, "ECREATE\0", 8);
    kt_put_le32(p + 8, 1); /* SSA frame size in pages */
    kt_put_le64(p + 12, pow2_at_least(end));

    for (uint64_t a = 0; a < elf->image_size; a += KT_PAGE_SIZE) {
        uint32_t flags;
        const uint8_t *page = image_page(elf, data, a, scratch, &flags);
        if (flags) eadd_extend(&m, a, SECINFO_PT_REG | flags, page);
    }

    memset(scratch, 0, KT_PAGE_SIZE);
    kt_config_encode(c, scratch);
    eadd_extend(&m, config_page, SECINFO_PT_REG | KT_PAGE_R, scratch);

    for (uint64_t a = heap; a < tcs_area; a += KT_PAGE_SIZE)
        eadd(&m, a, SECINFO_PT_REG | KT_PAGE_R | KT_PAGE_W);

    for (uint32_t t = 0; t < c->tcs_count; t++) {
        uint64_t stack = tcs_area + t * per_tcs + KT_PAGE_SIZE;
        uint64_t tcs = stack + c->stack_size, ssa = tcs + KT_PAGE_SIZE;
        for (uint64_t a = stack; a < tcs; a += KT_PAGE_SIZE)
            eadd(&m, a, SECINFO_PT_REG | KT_PAGE_R | KT_PAGE_W);
        memset(scratch, 0, KT_PAGE_SIZE);
        kt_put_le64(scratch + 16, ssa);        /* OSSA */
        kt_put_le32(scratch + 28, 1);          /* NSSA */
        kt_put_le64(scratch + 32, elf->entry); /* OENTRY */
        eadd_extend(&m, tcs, SECINFO_PT_TCS, scratch);
        eadd(&m, ssa, SECINFO_PT_REG | KT_PAGE_R | KT_PAGE_W);
    }
    flush(&m);
    kt_status st = m.st ? m.st : kt_sha256_final(m.h, mrenclave);
    kt_sha256_free(m.h);
    free(m.buf);
    return st;
}

kt_status kt_measure(const uint8_t *elf_bytes, size_t n, const kt_enclave_config *c,
                     uint8_t mrenclave[KT_SHA256_LEN])
{
    if (!elf_bytes || !c || !mrenclave)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "measure: NULL argument");
    kt_status st = kt_enclave_config_check(c);
    if (st) return st;
    kt_elf elf;
    if ((st = kt_elf_parse(elf_bytes, n, &elf))) return st;
    return measure_elf(&elf, elf_bytes, c, mrenclave);
}
