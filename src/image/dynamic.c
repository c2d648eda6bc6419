/* The dynamic segment, read as the dynamic loader reads it: PT_DYNAMIC's entries at its
 * address, DT_SYMTAB and DT_STRTAB, the symbol count from DT_HASH or DT_GNU_HASH,
 * DT_NEEDED and the relocation tables. Section headers, which no loader reads and nothing
 * measures, are never consulted. Every address is translated through the loadable
 * segments' file ranges, so what is read here is what is measured and mapped. */
#include "internal.h"

#include <elf.h>
#include <string.h>

/* Bytes at image address va, n of them inside one segment's file range; NULL if not.
 * read_only: the segment is not writable, so relocation can't change them while the
 * dynamic loader reads them (DT_TEXTREL is refused). */
static const uint8_t *at(const kt_elf *elf, const uint8_t *data, uint64_t va, uint64_t n,
                         bool read_only)
{
    for (unsigned i = 0; i < elf->nseg; i++) {
        const kt_elf_segment *s = &elf->seg[i];
        if (va < s->vaddr || va - s->vaddr > s->filesz || n > s->filesz - (va - s->vaddr)) continue;
        if (read_only && (s->flags & KT_PAGE_W)) return NULL;
        return data + s->offset + (va - s->vaddr);
    }
    return NULL;
}

/* How many bytes from va to the end of its segment's file range (0 if none). */
static uint64_t room_at(const kt_elf *elf, uint64_t va)
{
    for (unsigned i = 0; i < elf->nseg; i++) {
        const kt_elf_segment *s = &elf->seg[i];
        if (va >= s->vaddr && va - s->vaddr < s->filesz) return s->filesz - (va - s->vaddr);
    }
    return 0;
}

/* Tags an enclave's dynamic segment may hold. Anything else (DT_TEXTREL, DT_RPATH,
 * DT_RUNPATH, DT_FILTER, DT_AUXILIARY, DT_AUDIT, DT_REL, ...) changes how or from where
 * the dynamic loader loads code, or is not an x86-64 shared object's. */
static bool tag_allowed(int64_t tag)
{
    switch (tag) {
    case DT_NEEDED:
    case DT_PLTRELSZ:
    case DT_PLTGOT:
    case DT_HASH:
    case DT_STRTAB:
    case DT_SYMTAB:
    case DT_RELA:
    case DT_RELASZ:
    case DT_RELAENT:
    case DT_STRSZ:
    case DT_SYMENT:
    case DT_INIT:
    case DT_FINI:
    case DT_SONAME:
    case DT_SYMBOLIC:
    case DT_PLTREL:
    case DT_JMPREL:
    case DT_BIND_NOW:
    case DT_INIT_ARRAY:
    case DT_FINI_ARRAY:
    case DT_INIT_ARRAYSZ:
    case DT_FINI_ARRAYSZ:
    case DT_FLAGS:
    case DT_RELRSZ:
    case DT_RELR:
    case DT_RELRENT:
    case DT_GNU_HASH:
    case DT_VERSYM:
    case DT_RELACOUNT:
    case DT_FLAGS_1:
    case DT_VERDEF:
    case DT_VERDEFNUM:
    case DT_VERNEED:
    case DT_VERNEEDNUM:
        return true;
    default:
        return false;
    }
}

/* The values read below, by tag. */
enum {
    V_HASH,
    V_GNU_HASH,
    V_STRTAB,
    V_SYMTAB,
    V_STRSZ,
    V_SYMENT,
    V_RELA,
    V_RELASZ,
    V_RELAENT,
    V_JMPREL,
    V_PLTRELSZ,
    V_PLTREL,
    V_FLAGS,
    NV
};
static const int64_t wanted[NV] = {DT_HASH,     DT_GNU_HASH, DT_STRTAB, DT_SYMTAB,  DT_STRSZ,
                                   DT_SYMENT,   DT_RELA,     DT_RELASZ, DT_RELAENT, DT_JMPREL,
                                   DT_PLTRELSZ, DT_PLTREL,   DT_FLAGS};

typedef struct {
    uint64_t val[NV];
    bool has[NV];
    uint64_t needed[KT_ELF_MAX_NEEDED];
    unsigned nneeded;
} dyn_tags;

static kt_status hash_count(const kt_elf *elf, const uint8_t *data, uint64_t va, uint64_t *count)
{
    const uint8_t *h = at(elf, data, va, 8, true);
    if (!h) return kt_fail(KT_ERR_MALFORMED, "ELF: DT_HASH outside the read-only segments");
    uint64_t nbucket = kt_le32(h), nchain = kt_le32(h + 4);
    if (!at(elf, data, va, 8 + 4 * (nbucket + nchain), true))
        return kt_fail(KT_ERR_MALFORMED, "ELF: DT_HASH table runs outside its segment");
    *count = nchain;
    return KT_OK;
}

/* GNU hash tables do not store the count: it is one past the last chain's end. */
static kt_status gnu_hash_count(const kt_elf *elf, const uint8_t *data, uint64_t va,
                                uint64_t *count)
{
    const uint8_t *h = at(elf, data, va, 16, true);
    if (!h) return kt_fail(KT_ERR_MALFORMED, "ELF: DT_GNU_HASH outside the read-only segments");
    uint64_t nbuckets = kt_le32(h), symoffset = kt_le32(h + 4), bloom = kt_le32(h + 8);
    uint64_t buckets_va = va + 16 + 8 * bloom, chains_va = buckets_va + 4 * nbuckets;
    const uint8_t *b = at(elf, data, buckets_va, 4 * nbuckets, true);
    if (!b || nbuckets == 0)
        return kt_fail(KT_ERR_MALFORMED, "ELF: DT_GNU_HASH buckets run outside their segment");
    uint64_t last = 0;
    for (uint64_t i = 0; i < nbuckets; i++) {
        uint64_t v = kt_le32(b + 4 * i);
        if (v && v < symoffset)
            return kt_fail(KT_ERR_MALFORMED, "ELF: DT_GNU_HASH bucket below its symbol offset");
        if (v > last) last = v;
    }
    if (last == 0) {
        *count = symoffset;
        return KT_OK;
    }
    uint64_t room = room_at(elf, chains_va) / 4;
    const uint8_t *chain = at(elf, data, chains_va, 4 * room, true);
    for (uint64_t i = last - symoffset;; i++) {
        if (!chain || i >= room)
            return kt_fail(KT_ERR_MALFORMED, "ELF: DT_GNU_HASH chain runs outside its segment");
        if (kt_le32(chain + 4 * i) & 1) {
            *count = symoffset + i + 1;
            return KT_OK;
        }
    }
}

/* Every symbol a relocation names must be in the table the check reads. */
static kt_status check_relocs(const kt_elf *elf, const uint8_t *data, uint64_t va, uint64_t size,
                              const char *what)
{
    if (size % sizeof(Elf64_Rela))
        return kt_fail(KT_ERR_MALFORMED, "ELF: %s size is not a multiple of 24", what);
    const uint8_t *r = at(elf, data, va, size, true);
    if (!r && size)
        return kt_fail(KT_ERR_MALFORMED, "ELF: %s outside the read-only segments", what);
    for (uint64_t i = 0; i < size / sizeof(Elf64_Rela); i++) {
        uint64_t sym = kt_le64(r + i * sizeof(Elf64_Rela) + 8) >> 32;
        if (sym >= elf->nsyms)
            return kt_fail(KT_ERR_MALFORMED,
                           "ELF: %s entry %llu names symbol %llu of a %zu-symbol table", what,
                           (unsigned long long)i, (unsigned long long)sym, elf->nsyms);
    }
    return KT_OK;
}

/* Reads the entries up to DT_NULL: allowed tags only, each once (DT_NEEDED aside). */
static kt_status read_tags(const uint8_t *d, uint64_t room, dyn_tags *t)
{
    memset(t, 0, sizeof *t);
    int64_t seen[64];
    unsigned nseen = 0;
    for (uint64_t i = 0;; i++) {
        if ((i + 1) * 16 > room)
            return kt_fail(KT_ERR_MALFORMED, "ELF: the dynamic segment has no DT_NULL end");
        int64_t tag = (int64_t)kt_le64(d + 16 * i);
        uint64_t val = kt_le64(d + 16 * i + 8);
        if (tag == DT_NULL) return KT_OK;
        if (!tag_allowed(tag))
            return kt_fail(KT_ERR_DENIED,
                           "ELF: dynamic tag 0x%llx is not allowed in an enclave (it changes "
                           "what the dynamic loader loads, or how)",
                           (unsigned long long)tag);
        if (tag == DT_NEEDED) {
            if (t->nneeded == KT_ELF_MAX_NEEDED)
                return kt_fail(KT_ERR_MALFORMED, "ELF: more than %d DT_NEEDED entries",
                               KT_ELF_MAX_NEEDED);
            t->needed[t->nneeded++] = val;
            continue;
        }
        for (unsigned k = 0; k < nseen; k++)
            if (seen[k] == tag)
                return kt_fail(KT_ERR_MALFORMED, "ELF: dynamic tag 0x%llx appears twice",
                               (unsigned long long)tag);
        if (nseen < sizeof seen / sizeof seen[0]) seen[nseen++] = tag;
        for (unsigned v = 0; v < NV; v++)
            if (wanted[v] == tag) t->val[v] = val, t->has[v] = true;
    }
}

static kt_status string_at(const kt_elf *elf, uint64_t off, const char *what, const char **out)
{
    if (off >= elf->strsz)
        return kt_fail(KT_ERR_MALFORMED, "ELF: %s has a name outside DT_STRTAB", what);
    *out = (const char *)elf->strtab + off;
    return KT_OK;
}

kt_status kt_elf_read_dynamic(kt_elf *elf, const uint8_t *data, uint64_t dyn_va)
{
    uint64_t room = room_at(elf, dyn_va);
    const uint8_t *d = at(elf, data, dyn_va, room, false);
    if (!d || room == 0)
        return kt_fail(KT_ERR_MALFORMED, "ELF: the dynamic segment lies outside the file bytes "
                                         "of the loadable segments");
    dyn_tags t;
    kt_status st = read_tags(d, room, &t);
    if (st) return st;
    if (t.has[V_FLAGS] && (t.val[V_FLAGS] & DF_TEXTREL))
        return kt_fail(KT_ERR_DENIED, "ELF: text relocations (DF_TEXTREL) are not allowed");
    if (!t.has[V_SYMTAB] || !t.has[V_STRTAB] || !t.has[V_STRSZ])
        return kt_fail(KT_ERR_MALFORMED, "ELF: no DT_SYMTAB, DT_STRTAB or DT_STRSZ");
    if (t.has[V_SYMENT] && t.val[V_SYMENT] != sizeof(Elf64_Sym))
        return kt_fail(KT_ERR_MALFORMED, "ELF: DT_SYMENT is not %zu", sizeof(Elf64_Sym));

    uint64_t n_hash = 0, n_gnu = 0;
    if (!t.has[V_HASH] && !t.has[V_GNU_HASH])
        return kt_fail(KT_ERR_MALFORMED, "ELF: no DT_HASH or DT_GNU_HASH (no symbol count)");
    if (t.has[V_HASH] && (st = hash_count(elf, data, t.val[V_HASH], &n_hash))) return st;
    if (t.has[V_GNU_HASH] && (st = gnu_hash_count(elf, data, t.val[V_GNU_HASH], &n_gnu))) return st;
    if (t.has[V_HASH] && t.has[V_GNU_HASH] && n_hash != n_gnu)
        return kt_fail(KT_ERR_MALFORMED, "ELF: DT_HASH counts %llu symbols, DT_GNU_HASH %llu",
                       (unsigned long long)n_hash, (unsigned long long)n_gnu);
    uint64_t nsyms = t.has[V_GNU_HASH] ? n_gnu : n_hash;
    if (nsyms > room_at(elf, t.val[V_SYMTAB]) / sizeof(Elf64_Sym) ||
        !(elf->symtab = at(elf, data, t.val[V_SYMTAB], nsyms * sizeof(Elf64_Sym), true)))
        return kt_fail(KT_ERR_MALFORMED,
                       "ELF: DT_SYMTAB (%llu symbols) outside the read-only "
                       "segments",
                       (unsigned long long)nsyms);
    elf->nsyms = (size_t)nsyms;
    uint64_t strsz = t.val[V_STRSZ];
    if (strsz == 0 || strsz > room_at(elf, t.val[V_STRTAB]) ||
        !(elf->strtab = at(elf, data, t.val[V_STRTAB], strsz, true)))
        return kt_fail(KT_ERR_MALFORMED, "ELF: DT_STRTAB outside the read-only segments");
    if (elf->strtab[strsz - 1] != '\0')
        return kt_fail(KT_ERR_MALFORMED, "ELF: DT_STRTAB does not end in a NUL");
    elf->strsz = (size_t)strsz;

    for (unsigned i = 0; i < t.nneeded; i++)
        if ((st = string_at(elf, t.needed[i], "DT_NEEDED", &elf->needed[i]))) return st;
    elf->nneeded = t.nneeded;

    if (t.has[V_RELA] != t.has[V_RELASZ] || t.has[V_JMPREL] != t.has[V_PLTRELSZ])
        return kt_fail(KT_ERR_MALFORMED, "ELF: a relocation table without its size");
    if (t.has[V_RELAENT] && t.val[V_RELAENT] != sizeof(Elf64_Rela))
        return kt_fail(KT_ERR_MALFORMED, "ELF: DT_RELAENT is not %zu", sizeof(Elf64_Rela));
    if (t.has[V_JMPREL] && (!t.has[V_PLTREL] || t.val[V_PLTREL] != DT_RELA))
        return kt_fail(KT_ERR_MALFORMED, "ELF: PLT relocations are not DT_RELA");
    if (t.has[V_RELA] && (st = check_relocs(elf, data, t.val[V_RELA], t.val[V_RELASZ], "DT_RELA")))
        return st;
    if (t.has[V_JMPREL] &&
        (st = check_relocs(elf, data, t.val[V_JMPREL], t.val[V_PLTRELSZ], "DT_JMPREL")))
        return st;
    return KT_OK;
}

kt_status kt_elf_symbol(const kt_elf *elf, size_t i, kt_elf_sym *out)
{
    if (!elf || !out || i >= elf->nsyms)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "ELF: no symbol %zu", i);
    Elf64_Sym sym;
    memcpy(&sym, elf->symtab + i * sizeof sym, sizeof sym);
    kt_status st = string_at(elf, sym.st_name, "a symbol", &out->name);
    if (st) return st;
    out->value = sym.st_value;
    out->defined = sym.st_shndx != SHN_UNDEF;
    out->function = ELF64_ST_TYPE(sym.st_info) == STT_FUNC;
    /* what the dynamic loader binds within the object, never looking it up elsewhere */
    out->binds_local = ELF64_ST_BIND(sym.st_info) == STB_LOCAL ||
                       ELF64_ST_VISIBILITY(sym.st_other) == STV_HIDDEN ||
                       ELF64_ST_VISIBILITY(sym.st_other) == STV_INTERNAL;
    return KT_OK;
}
