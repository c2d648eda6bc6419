/* ELF64 reader for enclave images: the ELF and program headers, then the dynamic segment
 * (dynamic.c). Every offset and size read from the file is checked before use. */
#include "internal.h"

#include <elf.h>
#include <string.h>

#define MAX_IMAGE_SPAN (64ull << 30)

static bool in_file(uint64_t off, uint64_t len, size_t n)
{
    return off <= n && len <= n - off;
}

static uint32_t seg_flags(uint32_t p_flags)
{
    return ((p_flags & PF_R) ? KT_PAGE_R : 0) | ((p_flags & PF_W) ? KT_PAGE_W : 0) |
           ((p_flags & PF_X) ? KT_PAGE_X : 0);
}

kt_status kt_elf_parse(const uint8_t *data, size_t n, kt_elf *out)
{
    if (!data || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "ELF: NULL argument");
    memset(out, 0, sizeof *out);
    Elf64_Ehdr eh;
    if (n < sizeof eh)
        return kt_fail(KT_ERR_MALFORMED, "ELF: file of %zu bytes is shorter than an ELF header", n);
    memcpy(&eh, data, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return kt_fail(KT_ERR_MALFORMED, "ELF: bad magic (not an ELF file)");
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return kt_fail(KT_ERR_MALFORMED, "ELF: not a 64-bit little-endian object");
    if (eh.e_machine != EM_X86_64)
        return kt_fail(KT_ERR_MALFORMED, "ELF: machine %u is not x86-64", eh.e_machine);
    if (eh.e_type != ET_DYN)
        return kt_fail(KT_ERR_MALFORMED, "ELF: type %u is not a shared object (ET_DYN)", eh.e_type);
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
        !in_file(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), n))
        return kt_fail(KT_ERR_MALFORMED, "ELF: program header table outside the file");

    uint64_t prev_end = 0, dyn_vaddr = 0;
    unsigned ndyn = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, data + eh.e_phoff + (uint64_t)i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_INTERP)
            return kt_fail(KT_ERR_MALFORMED,
                           "ELF: has an interpreter (an executable, not an enclave)");
        if (ph.p_type == PT_TLS) {
            if (out->tls_align || out->tls_memsz)
                return kt_fail(KT_ERR_MALFORMED, "ELF: more than one PT_TLS segment");
            out->tls_memsz = ph.p_memsz;
            out->tls_align = ph.p_align ? ph.p_align : 1;
        }
        if (ph.p_type == PT_DYNAMIC) {
            ndyn++;
            dyn_vaddr = ph.p_vaddr; /* the dynamic loader reads it at its address */
        }
        if (ph.p_type != PT_LOAD) continue;
        if (out->nseg == KT_ELF_MAX_SEGMENTS)
            return kt_fail(KT_ERR_MALFORMED, "ELF: more than %d loadable segments",
                           KT_ELF_MAX_SEGMENTS);
        if (ph.p_filesz > ph.p_memsz)
            return kt_fail(KT_ERR_MALFORMED, "ELF: segment %u file size exceeds memory size", i);
        if (!in_file(ph.p_offset, ph.p_filesz, n))
            return kt_fail(KT_ERR_MALFORMED, "ELF: segment %u bytes lie outside the file", i);
        if (ph.p_vaddr > MAX_IMAGE_SPAN || ph.p_memsz > MAX_IMAGE_SPAN - ph.p_vaddr)
            return kt_fail(KT_ERR_MALFORMED, "ELF: segment %u spans past 64 GiB", i);
        if (ph.p_vaddr < prev_end)
            return kt_fail(KT_ERR_MALFORMED,
                           "ELF: segment %u overlaps or precedes the previous one", i);
        if ((ph.p_vaddr % KT_PAGE_SIZE) != (ph.p_offset % KT_PAGE_SIZE))
            return kt_fail(KT_ERR_MALFORMED, "ELF: segment %u is not page-congruent", i);
        prev_end = ph.p_vaddr + ph.p_memsz;
        kt_elf_segment *s = &out->seg[out->nseg++];
        s->vaddr = ph.p_vaddr;
        s->memsz = ph.p_memsz;
        s->offset = ph.p_offset;
        s->filesz = ph.p_filesz;
        s->flags = seg_flags(ph.p_flags);
    }
    if (out->nseg == 0) return kt_fail(KT_ERR_MALFORMED, "ELF: no loadable segments");
    /* the dynamic loader reads the ELF and program headers from the file: they must be
     * measured bytes, inside the first segment's file range */
    uint64_t headers = eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
    if (headers < sizeof eh) headers = sizeof eh;
    if (out->seg[0].offset != 0 || out->seg[0].filesz < headers)
        return kt_fail(KT_ERR_MALFORMED,
                       "ELF: the ELF and program headers lie outside the first loadable segment");
    out->image_size = (prev_end + KT_PAGE_SIZE - 1) & ~(uint64_t)(KT_PAGE_SIZE - 1);

    if (ndyn != 1)
        return kt_fail(KT_ERR_MALFORMED, "ELF: %u dynamic segments (PT_DYNAMIC), not one", ndyn);
    kt_status st = kt_elf_read_dynamic(out, data, dyn_vaddr);
    if (st) return st;
    for (size_t i = 1; i < out->nsyms; i++) {
        kt_elf_sym sym;
        if ((st = kt_elf_symbol(out, i, &sym))) return st;
        if (!sym.defined || !sym.function || strcmp(sym.name, KT_ENTRY_SYMBOL) != 0) continue;
        if (out->entry)
            return kt_fail(KT_ERR_MALFORMED, "ELF: '%s' is defined twice", KT_ENTRY_SYMBOL);
        if (sym.value == 0 || sym.value >= out->image_size)
            return kt_fail(KT_ERR_MALFORMED, "ELF: entry point outside the image");
        out->entry = sym.value;
    }
    return KT_OK;
}

kt_status kt_elf_imports(const kt_elf *elf, kt_status (*fn)(const char *name, void *arg), void *arg)
{
    if (!elf || !fn) return kt_fail(KT_ERR_INVALID_ARGUMENT, "ELF imports: NULL argument");
    for (size_t i = 1; i < elf->nsyms; i++) {
        kt_elf_sym sym;
        kt_status st = kt_elf_symbol(elf, i, &sym);
        if (st) return st;
        if (!sym.defined && !sym.binds_local && sym.name[0] && (st = fn(sym.name, arg))) return st;
    }
    return KT_OK;
}
