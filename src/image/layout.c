/* The enclave's page layout: where every page sits, what ECREATE and EADD say about it
 * and what its TCS pages hold. Measurement (measure.c) and the EINIT-ready rules
 * (einit.c) walk the same pages, so what is checked is what is measured.
 *
 * From offset 0: the ELF's loadable pages; one config page; the heap; then per TCS a
 * guard page (not added), the stack, the TCS page, NSSA SSA frames, the thread-local
 * pages and the thread control block page that FS and GS point to. */
#include "internal.h"

#include <string.h>

#define TCS_FLAGS_DBGOPTIN 1ull
#define SEG_LIMIT_ALL 0xFFFFFFFFu

static uint64_t pages_of(uint64_t bytes)
{
    return (bytes + KT_PAGE_SIZE - 1) / KT_PAGE_SIZE;
}

kt_status kt_layout_plan(const kt_elf *elf, const kt_enclave_config *c, kt_layout *l)
{
    if (!elf || !c || !l) return kt_fail(KT_ERR_INVALID_ARGUMENT, "layout: NULL argument");
    if (!elf->entry)
        return kt_fail(KT_ERR_MALFORMED,
                       "ELF: no exported function '%s' (not linked with the "
                       "kubetee trusted runtime?)",
                       KT_ENTRY_SYMBOL);
    if (elf->tls_align > KT_PAGE_SIZE || (elf->tls_align & (elf->tls_align - 1)))
        return kt_fail(KT_ERR_MALFORMED,
                       "ELF: PT_TLS alignment %llu is not a power of two up to 4096",
                       (unsigned long long)elf->tls_align);
    if (elf->tls_memsz > KT_LAYOUT_TLS_MAX)
        return kt_fail(KT_ERR_MALFORMED, "ELF: PT_TLS of %llu bytes is over %u",
                       (unsigned long long)elf->tls_memsz, KT_LAYOUT_TLS_MAX);
    memset(l, 0, sizeof *l);
    l->config = *c;
    l->xfrm = c->xfrm;
    l->debug = c->debug;
    l->entry = elf->entry;
    l->image_size = elf->image_size;
    l->config_page = elf->image_size;
    l->heap = l->config_page + KT_PAGE_SIZE;
    l->heap_size = c->heap_size;
    l->stack_size = c->stack_size;
    l->tcs_count = c->tcs_count;
    l->ssa_frame_pages = kt_xfrm_ssa_pages(c->xfrm);
    l->nssa = KT_LAYOUT_NSSA;
    /* variant II TLS (x86-64): the block ends where the thread pointer points */
    l->tls_align = elf->tls_align ? elf->tls_align : 1;
    l->tls_bytes = (elf->tls_memsz + l->tls_align - 1) / l->tls_align * l->tls_align;
    l->tls_pages = pages_of(l->tls_bytes);
    l->threads = l->heap + c->heap_size;
    l->thread_stride = KT_PAGE_SIZE /* guard */ + c->stack_size + KT_PAGE_SIZE /* TCS */ +
                       (uint64_t)l->nssa * l->ssa_frame_pages * KT_PAGE_SIZE +
                       l->tls_pages * KT_PAGE_SIZE + KT_PAGE_SIZE /* TCB */;
    l->end = l->threads + l->thread_stride * c->tcs_count;
    l->size = 2 * KT_PAGE_SIZE;
    while (l->size < l->end)
        l->size <<= 1;
    return KT_OK;
}

kt_layout_thread kt_layout_thread_at(const kt_layout *l, uint32_t t)
{
    kt_layout_thread th;
    th.stack = l->threads + t * l->thread_stride + KT_PAGE_SIZE;
    th.tcs = th.stack + l->stack_size;
    th.ssa = th.tcs + KT_PAGE_SIZE;
    th.tls = th.ssa + (uint64_t)l->nssa * l->ssa_frame_pages * KT_PAGE_SIZE;
    th.tcb = th.tls + l->tls_pages * KT_PAGE_SIZE;
    return th;
}

void kt_layout_tcs_page(const kt_layout *l, uint32_t t, uint8_t page[KT_PAGE_SIZE])
{
    kt_layout_thread th = kt_layout_thread_at(l, t);
    memset(page, 0, KT_PAGE_SIZE);
    kt_put_le64(page + KT_TCS_FLAGS, l->debug ? TCS_FLAGS_DBGOPTIN : 0);
    kt_put_le64(page + KT_TCS_OSSA, th.ssa);
    kt_put_le32(page + KT_TCS_NSSA, l->nssa);
    kt_put_le64(page + KT_TCS_OENTRY, l->entry);
    kt_put_le64(page + KT_TCS_OFSBASGX, th.tcb);
    kt_put_le64(page + KT_TCS_OGSBASGX, th.tcb);
    kt_put_le32(page + KT_TCS_FSLIMIT, SEG_LIMIT_ALL);
    kt_put_le32(page + KT_TCS_GSLIMIT, SEG_LIMIT_ALL);
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

static kt_status add_run(uint64_t from, uint64_t pages, uint64_t secinfo, kt_layout_visit fn,
                         void *arg)
{
    kt_status st = KT_OK;
    for (uint64_t i = 0; i < pages && !st; i++)
        st = fn(arg, from + i * KT_PAGE_SIZE, secinfo, NULL);
    return st;
}

kt_status kt_layout_walk(const kt_layout *l, const kt_elf *elf, const uint8_t *data,
                         kt_layout_visit fn, void *arg)
{
    uint8_t scratch[KT_PAGE_SIZE];
    kt_status st = KT_OK;
    for (uint64_t a = 0; a < l->image_size && !st; a += KT_PAGE_SIZE) {
        uint32_t flags;
        const uint8_t *page = image_page(elf, data, a, scratch, &flags);
        if (flags) st = fn(arg, a, KT_SECINFO_PT_REG | flags, page);
    }
    if (st) return st;

    const uint64_t rw = KT_SECINFO_PT_REG | KT_PAGE_R | KT_PAGE_W;
    memset(scratch, 0, KT_PAGE_SIZE);
    kt_config_encode(&l->config, scratch);
    if ((st = fn(arg, l->config_page, KT_SECINFO_PT_REG | KT_PAGE_R, scratch)) ||
        (st = add_run(l->heap, l->heap_size / KT_PAGE_SIZE, rw, fn, arg)))
        return st;
    for (uint32_t t = 0; t < l->tcs_count && !st; t++) {
        kt_layout_thread th = kt_layout_thread_at(l, t);
        kt_layout_tcs_page(l, t, scratch);
        if (!(st = add_run(th.stack, l->stack_size / KT_PAGE_SIZE, rw, fn, arg)) &&
            !(st = fn(arg, th.tcs, KT_SECINFO_PT_TCS, scratch)) &&
            !(st = add_run(th.ssa, (uint64_t)l->nssa * l->ssa_frame_pages, rw, fn, arg)) &&
            !(st = add_run(th.tls, l->tls_pages, rw, fn, arg)))
            st = fn(arg, th.tcb, rw, NULL);
    }
    return st;
}
