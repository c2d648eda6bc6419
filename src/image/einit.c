/* EINIT-ready: the rules SGX hardware applies to an enclave's layout (ECREATE, EADD,
 * EINIT, EENTER; Intel SDM vol. 3D), checked on the pages exactly as they are measured.
 * A kubetee-signed image passes them all, so an sgx platform can load it unchanged. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PT_MASK 0xFF00ull
#define RWX (KT_PAGE_R | KT_PAGE_W | KT_PAGE_X)
#define RW_REG (KT_SECINFO_PT_REG | KT_PAGE_R | KT_PAGE_W)

typedef struct {
    uint64_t offset, pages, secinfo;
} run;

typedef struct {
    uint64_t offset;
    uint8_t head[KT_TCS_USED];
    bool rest_zero;
} tcs_seen;

/* What the walk saw: runs of pages with one SECINFO, the TCS pages, and order faults. */
typedef struct {
    run *runs;
    size_t nruns, cap;
    tcs_seen *tcs;
    size_t ntcs, tcs_cap;
    uint64_t next;      /* lowest offset the next page may have */
    uint64_t bad_order; /* first page out of order, or ~0 */
    uint64_t bad_secinfo, bad_secinfo_at;
    bool no_memory;
} seen;

static kt_status visit(void *arg, uint64_t off, uint64_t secinfo, const uint8_t *page)
{
    seen *s = arg;
    if ((off % KT_PAGE_SIZE || off < s->next) && s->bad_order == ~0ull) s->bad_order = off;
    s->next = off + KT_PAGE_SIZE;
    uint64_t pt = secinfo & PT_MASK;
    bool ok = (secinfo & ~(PT_MASK | RWX)) == 0 &&
              ((pt == KT_SECINFO_PT_REG && (!(secinfo & KT_PAGE_W) || (secinfo & KT_PAGE_R))) ||
               (pt == KT_SECINFO_PT_TCS && !(secinfo & RWX)));
    if (!ok && !s->bad_secinfo) s->bad_secinfo = secinfo, s->bad_secinfo_at = off;
    run *last = s->nruns ? &s->runs[s->nruns - 1] : NULL;
    if (last && last->secinfo == secinfo && last->offset + last->pages * KT_PAGE_SIZE == off) {
        last->pages++;
    } else {
        if (s->nruns == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 64;
            run *r = realloc(s->runs, cap * sizeof *r);
            if (!r) return s->no_memory = true, kt_fail(KT_ERR_NO_MEMORY, "out of memory");
            s->runs = r, s->cap = cap;
        }
        s->runs[s->nruns++] = (run){off, 1, secinfo};
    }
    if (pt == KT_SECINFO_PT_TCS) {
        if (s->ntcs == s->tcs_cap) {
            size_t cap = s->tcs_cap ? 2 * s->tcs_cap : 8;
            tcs_seen *t = realloc(s->tcs, cap * sizeof *t);
            if (!t) return s->no_memory = true, kt_fail(KT_ERR_NO_MEMORY, "out of memory");
            s->tcs = t, s->tcs_cap = cap;
        }
        tcs_seen *t = &s->tcs[s->ntcs++];
        t->offset = off;
        memset(t->head, 0, sizeof t->head);
        t->rest_zero = page != NULL;
        if (page) {
            memcpy(t->head, page, sizeof t->head);
            for (size_t i = KT_TCS_USED; i < KT_PAGE_SIZE; i++)
                if (page[i]) t->rest_zero = false;
        }
    }
    return KT_OK;
}

/* The SECINFO of the page holding offset a, 0 when no page was added there. */
static uint64_t secinfo_at(const seen *s, uint64_t a)
{
    size_t lo = 0, hi = s->nruns;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const run *r = &s->runs[mid];
        if (a < r->offset)
            hi = mid;
        else if (a >= r->offset + r->pages * KT_PAGE_SIZE)
            lo = mid + 1;
        else
            return r->secinfo;
    }
    return 0;
}

/* Every page of [from, from + len) was added with at least the bits of want. */
static bool covered(const seen *s, uint64_t from, uint64_t len, uint64_t want)
{
    if (from + len < from) return false;
    for (uint64_t a = from & ~(uint64_t)(KT_PAGE_SIZE - 1); a < from + len; a += KT_PAGE_SIZE) {
        uint64_t si = secinfo_at(s, a);
        if ((si & PT_MASK) != (want & PT_MASK) || (si & want & RWX) != (want & RWX)) return false;
    }
    return true;
}

static void rule(kt_einit_report *r, const char *name, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void rule(kt_einit_report *r, const char *name, bool ok, const char *fmt, ...)
{
    kt_einit_rule *x = &r->rule[r->n++];
    x->name = name;
    x->ok = ok;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->detail, sizeof x->detail, fmt, ap);
    va_end(ap);
    if (!ok) r->ready = false;
}

/* The first TCS (index) breaking a per-TCS check, or ntcs when all hold. */
typedef bool (*tcs_check)(const seen *s, const kt_layout *l, const tcs_seen *t);

static size_t first_bad(const seen *s, const kt_layout *l, tcs_check fn)
{
    size_t i = 0;
    while (i < s->ntcs && fn(s, l, &s->tcs[i]))
        i++;
    return i;
}

static bool tcs_reserved_ok(const seen *s, const kt_layout *l, const tcs_seen *t)
{
    (void)s, (void)l;
    return t->rest_zero && kt_le64(t->head) == 0 && kt_le32(t->head + KT_TCS_CSSA) == 0 &&
           kt_le64(t->head + KT_TCS_AEP) == 0 && !(kt_le64(t->head + KT_TCS_FLAGS) & ~1ull);
}

static bool tcs_dbgoptin_ok(const seen *s, const kt_layout *l, const tcs_seen *t)
{
    (void)s;
    return (kt_le64(t->head + KT_TCS_FLAGS) & 1) == (l->debug ? 1u : 0u);
}

static bool tcs_ssa_ok(const seen *s, const kt_layout *l, const tcs_seen *t)
{
    uint64_t ossa = kt_le64(t->head + KT_TCS_OSSA);
    uint32_t nssa = kt_le32(t->head + KT_TCS_NSSA);
    return ossa % KT_PAGE_SIZE == 0 && nssa >= 1 && ossa < l->size &&
           covered(s, ossa, (uint64_t)nssa * l->ssa_frame_pages * KT_PAGE_SIZE, RW_REG);
}

static bool tcs_entry_ok(const seen *s, const kt_layout *l, const tcs_seen *t)
{
    (void)l;
    return covered(s, kt_le64(t->head + KT_TCS_OENTRY), 1, KT_SECINFO_PT_REG | KT_PAGE_X);
}

static bool tcs_fs_gs_ok(const seen *s, const kt_layout *l, const tcs_seen *t)
{
    (void)l;
    uint64_t fs = kt_le64(t->head + KT_TCS_OFSBASGX), gs = kt_le64(t->head + KT_TCS_OGSBASGX);
    return fs % KT_PAGE_SIZE == 0 && gs % KT_PAGE_SIZE == 0 && covered(s, fs, 1, RW_REG) &&
           covered(s, gs, 1, RW_REG) && kt_le32(t->head + KT_TCS_FSLIMIT) == 0xFFFFFFFFu &&
           kt_le32(t->head + KT_TCS_GSLIMIT) == 0xFFFFFFFFu;
}

static bool tls_ok(const seen *s, const kt_layout *l, const tcs_seen *t)
{
    uint64_t fs = kt_le64(t->head + KT_TCS_OFSBASGX);
    return fs >= l->tls_bytes && fs % l->tls_align == 0 &&
           (l->tls_bytes == 0 || covered(s, fs - l->tls_bytes, l->tls_bytes, RW_REG));
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

/* No two TCS share an SSA frame or a thread control block; indexes of a pair in *i, *j. */
static bool tcs_private(const seen *s, const kt_layout *l, size_t *i, size_t *j)
{
    for (*i = 0; *i < s->ntcs; (*i)++)
        for (*j = *i + 1; *j < s->ntcs; (*j)++) {
            const uint8_t *a = s->tcs[*i].head, *b = s->tcs[*j].head;
            uint64_t la = (uint64_t)kt_le32(a + KT_TCS_NSSA) * l->ssa_frame_pages * KT_PAGE_SIZE;
            uint64_t lb = (uint64_t)kt_le32(b + KT_TCS_NSSA) * l->ssa_frame_pages * KT_PAGE_SIZE;
            if (overlap(kt_le64(a + KT_TCS_OSSA), la, kt_le64(b + KT_TCS_OSSA), lb) ||
                kt_le64(a + KT_TCS_OFSBASGX) == kt_le64(b + KT_TCS_OFSBASGX))
                return false;
        }
    return true;
}

static void per_tcs(kt_einit_report *r, const seen *s, const kt_layout *l, tcs_check fn,
                    const char *name, const char *holds)
{
    size_t bad = first_bad(s, l, fn);
    if (bad == s->ntcs)
        rule(r, name, true, "%s (%zu TCS)", holds, s->ntcs);
    else
        rule(r, name, false, "TCS %zu at 0x%llx: not %s", bad,
             (unsigned long long)s->tcs[bad].offset, holds);
}

static void evaluate(kt_einit_report *r, const seen *s, const kt_layout *l)
{
    kt_status xst = kt_xfrm_check(l->xfrm);
    rule(r, "xfrm", xst == KT_OK, "XFRM 0x%llx %s", (unsigned long long)l->xfrm,
         xst ? "is one ECREATE refuses" : "is one ECREATE accepts");
    bool pow2 = l->size >= 2 * KT_PAGE_SIZE && (l->size & (l->size - 1)) == 0;
    rule(r, "secs_size", pow2 && l->end <= l->size,
         "SECS.SIZE 0x%llx: a power of two of at least two pages holding 0x%llx bytes of layout "
         "(the loader aligns BASEADDR to it)",
         (unsigned long long)l->size, (unsigned long long)l->end);
    uint32_t need = kt_xfrm_ssa_bytes(l->xfrm);
    rule(r, "ssa_frame_size", (uint64_t)l->ssa_frame_pages * KT_PAGE_SIZE >= need,
         "SSAFRAMESIZE %u page(s) for %u bytes (XSAVE area of XFRM 0x%llx, MISC, GPRSGX)",
         l->ssa_frame_pages, need, (unsigned long long)l->xfrm);
    uint64_t last =
        s->nruns ? s->runs[s->nruns - 1].offset + s->runs[s->nruns - 1].pages * KT_PAGE_SIZE : 0;
    if (s->bad_order != ~0ull || last > l->size)
        rule(r, "page_order", false, "page 0x%llx is unaligned, out of order or past SIZE",
             (unsigned long long)(s->bad_order != ~0ull ? s->bad_order : last));
    else
        rule(r, "page_order", true, "every page is aligned, added once, in order, inside SIZE");
    if (s->bad_secinfo)
        rule(r, "secinfo", false,
             "page 0x%llx has SECINFO.FLAGS 0x%llx (W without R, permissions on a TCS, "
             "or a reserved bit)",
             (unsigned long long)s->bad_secinfo_at, (unsigned long long)s->bad_secinfo);
    else
        rule(r, "secinfo", true,
             "pages are PT_REG (W only with R) or PT_TCS (no permissions), no reserved bits");
    rule(r, "tcs_count", s->ntcs >= 1 && s->ntcs == l->tcs_count,
         "%zu PT_TCS pages for tcs_count %u", s->ntcs, l->tcs_count);
    per_tcs(r, s, l, tcs_reserved_ok, "tcs_reserved",
            "STATE, CSSA, AEP and bytes 72..4095 zero, FLAGS only DBGOPTIN");
    per_tcs(r, s, l, tcs_dbgoptin_ok, "tcs_dbgoptin",
            l->debug ? "FLAGS.DBGOPTIN set (debug enclave)" : "FLAGS.DBGOPTIN clear");
    per_tcs(r, s, l, tcs_ssa_ok, "tcs_ssa",
            "OSSA page-aligned, NSSA >= 1, NSSA frames of read-write PT_REG pages");
    per_tcs(r, s, l, tcs_entry_ok, "tcs_entry", "OENTRY in an executable PT_REG page");
    per_tcs(r, s, l, tcs_fs_gs_ok, "tcs_fs_gs",
            "OFSBASGX/OGSBASGX page-aligned on read-write pages, FSLIMIT/GSLIMIT 0xFFFFFFFF");
    per_tcs(r, s, l, tls_ok, "thread_locals",
            "the PT_TLS block right below FS base, in read-write pages, aligned");
    size_t i, j;
    if (tcs_private(s, l, &i, &j))
        rule(r, "tcs_private", true, "no two TCS share an SSA frame or an FS base");
    else
        rule(r, "tcs_private", false, "TCS %zu and %zu share an SSA frame or an FS base", i, j);
}

kt_status kt_layout_einit_check(const kt_layout *l, const kt_elf *elf, const uint8_t *data,
                                kt_einit_report *r)
{
    if (!l || !elf || !data || !r) return kt_fail(KT_ERR_INVALID_ARGUMENT, "EINIT: NULL argument");
    memset(r, 0, sizeof *r);
    r->ready = true;
    seen s = {.bad_order = ~0ull};
    kt_status st = kt_layout_walk(l, elf, data, visit, &s);
    if (!st) evaluate(r, &s, l);
    free(s.runs);
    free(s.tcs);
    return st;
}

kt_status kt_einit_check(const uint8_t *elf_bytes, size_t n, const kt_enclave_config *c,
                         kt_einit_report *r)
{
    if (!elf_bytes || !c || !r) return kt_fail(KT_ERR_INVALID_ARGUMENT, "EINIT: NULL argument");
    kt_elf elf;
    kt_layout l;
    kt_status st = kt_enclave_config_check(c);
    if (st || (st = kt_elf_parse(elf_bytes, n, &elf)) || (st = kt_layout_plan(&elf, c, &l)))
        return st;
    return kt_layout_einit_check(&l, &elf, elf_bytes, r);
}

kt_status kt_einit_report_require(const kt_einit_report *r)
{
    for (unsigned i = 0; i < r->n; i++)
        if (!r->rule[i].ok)
            return kt_fail(KT_ERR_DENIED, "the layout is not EINIT-ready: %s: %s", r->rule[i].name,
                           r->rule[i].detail);
    return KT_OK;
}

kt_status kt_einit_require(const uint8_t *elf_bytes, size_t n, const kt_enclave_config *c)
{
    kt_einit_report r;
    kt_status st = kt_einit_check(elf_bytes, n, c, &r);
    return st ? st : kt_einit_report_require(&r);
}
