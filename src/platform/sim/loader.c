/* Loading on sim: the verified bytes, never the file again, go into a sealed memfd that
 * the dynamic loader maps. The memfd holds the measured view only: every byte outside
 * the loadable segments' file ranges is zero, as EADD would copy it, because the dynamic
 * loader maps whole file pages (a segment's first and last page, the trailer, section
 * headers). The enclave exports only its entry point and binds its own symbols locally,
 * so host and enclave never resolve each other's names. */
#define _GNU_SOURCE
#include "sim.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

struct kt_platform_enclave {
    void *dl;
    int memfd; /* kept open while loaded: the loader knows the object by this path */
    kt_gate_entry entry;
    kt_sim_cpu cpu;
};

static kt_status write_at(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return kt_fail(KT_ERR_IO, "memfd write: %s", strerror(errno));
        p += w;
        off += (uint64_t)w;
        n -= (size_t)w;
    }
    return KT_OK;
}

/* The file as the enclave may see it: the segments' file bytes, zeros everywhere else. */
static kt_status write_measured_view(int fd, const kt_signed_image *img)
{
    kt_elf elf;
    kt_status st = kt_elf_parse(img->elf, img->elf_len, &elf);
    if (st) return st;
    if (ftruncate(fd, (off_t)img->elf_len))
        return kt_fail(KT_ERR_IO, "memfd size: %s", strerror(errno));
    for (unsigned i = 0; i < elf.nseg && !st; i++)
        st = write_at(fd, img->elf + elf.seg[i].offset, elf.seg[i].filesz, elf.seg[i].offset);
    return st;
}

/* F_SEAL_WRITE waits for the kernel's own transient references to the memfd's pages (page
 * monitoring, migration) and gives EBUSY if they outlast its wait: tried again a few times
 * (every write to the memfd is done by then; nothing maps it). */
static int seal_memfd(int fd)
{
    for (int tries = 0;; tries++) {
        if (!fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) return 0;
        if (errno != EBUSY || tries == 20) return -1;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
}

kt_status kt_sim_load(const kt_sim_state *state, const kt_signed_image *img,
                      const kt_enclave_identity *id, kt_platform_enclave **out)
{
    if (!state || !img || !id || !out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "sim load: NULL argument");
    kt_platform_enclave *pe = calloc(1, sizeof *pe);
    if (!pe) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    pe->memfd = memfd_create("kubetee-enclave", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (pe->memfd < 0) {
        free(pe);
        return kt_fail(KT_ERR_IO, "memfd_create: %s", strerror(errno));
    }
    kt_status st = write_measured_view(pe->memfd, img);
    if (!st && seal_memfd(pe->memfd)) st = kt_fail(KT_ERR_IO, "sealing the enclave memfd: %s", strerror(errno));
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", pe->memfd);
    if (!st && !(pe->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
        st = kt_fail(KT_ERR_UNSUPPORTED, "dlopen: %s", dlerror());
    if (!st) {
        struct link_map *lm = NULL;
        void *sym = dlsym(pe->dl, KT_ENTRY_SYMBOL);
        if (!sym || dlinfo(pe->dl, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
            st = kt_fail(KT_ERR_MALFORMED, "enclave has no entry point '%s'", KT_ENTRY_SYMBOL);
        else if ((uintptr_t)sym != lm->l_addr + id->entry)
            st = kt_fail(KT_ERR_VERIFY, "entry point is not at its measured offset");
        else
            pe->entry = (kt_gate_entry)sym;
    }
    if (st) {
        kt_platform_unload(pe);
        return st;
    }
    pe->cpu.state = state;
    pe->cpu.id = *id;
    *out = pe;
    return KT_OK;
}

kt_status kt_platform_enter(kt_platform_enclave *pe, void *gate_call)
{
    return pe->entry((kt_gate_call *)gate_call);
}

void kt_platform_cpu(kt_platform_enclave *pe, void *gate_host)
{
    kt_gate_host *h = gate_host;
    h->cpu = &pe->cpu;
    h->egetkey = kt_sim_egetkey;
    h->ereport = kt_sim_ereport;
}

void kt_platform_unload(kt_platform_enclave *pe)
{
    if (!pe) return;
    if (pe->dl) dlclose(pe->dl);
    if (pe->memfd >= 0) close(pe->memfd);
    kt_wipe(&pe->cpu, sizeof pe->cpu);
    free(pe);
}
