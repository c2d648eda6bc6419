/* SGX from CPUID (Intel SDM vol. 2A, CPUID leaves 07H and 12H):
 *   leaf 7, subleaf 0:  EBX[2] SGX, ECX[30] SGX_LC (flexible launch control)
 *   leaf 12H, subleaf 0: EAX[0] SGX1, EAX[1] SGX2, EDX[15:8] MaxEnclaveSize_64
 *   leaf 12H, subleaf n>=2: EAX[3:0] type (0 end, 1 EPC section);
 *     base = EAX[31:12] | EBX[19:0] << 32, size = ECX[31:12] | EDX[19:0] << 32 */
#include "plugin.h"

#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

kt_status kt_cpuid_load(const char *path, kt_cpuid_source *src)
{
    memset(src, 0, sizeof *src);
    src->from_file = true;
    kt_buf b = {0};
    kt_status st = kt_file_read(path, 1 << 16, &b);
    if (st) return st;
    unsigned line = 0;
    for (char *save = NULL, *l = strtok_r((char *)b.data, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        line++;
        while (*l == ' ' || *l == '\t')
            l++;
        if (!*l || *l == '#') continue;
        unsigned leaf, sub, a, bx, c, d;
        char extra;
        if (sscanf(l, "%x %x %x %x %x %x %c", &leaf, &sub, &a, &bx, &c, &d, &extra) != 6) {
            kt_buf_free(&b);
            return kt_fail(KT_ERR_MALFORMED,
                           "%s:%u: expected 'leaf subleaf eax ebx ecx edx' in hex", path, line);
        }
        if (src->n == sizeof src->rec / sizeof src->rec[0]) {
            kt_buf_free(&b);
            return kt_fail(KT_ERR_TOO_LARGE, "%s: more than %zu records", path,
                           sizeof src->rec / sizeof src->rec[0]);
        }
        src->rec[src->n].leaf = leaf;
        src->rec[src->n].subleaf = sub;
        src->rec[src->n++].r = (kt_cpuid_regs){a, bx, c, d};
    }
    kt_buf_free(&b);
    return KT_OK;
}

void kt_cpuid_live(kt_cpuid_source *src)
{
    memset(src, 0, sizeof *src);
}

void kt_cpuid_query(const kt_cpuid_source *src, uint32_t leaf, uint32_t subleaf, kt_cpuid_regs *r)
{
    memset(r, 0, sizeof *r);
    if (src->from_file) {
        for (unsigned i = 0; i < src->n; i++)
            if (src->rec[i].leaf == leaf && src->rec[i].subleaf == subleaf) {
                *r = src->rec[i].r;
                return;
            }
        return;
    }
    unsigned max = __get_cpuid_max(0, NULL);
    if (leaf <= max) __cpuid_count(leaf, subleaf, r->eax, r->ebx, r->ecx, r->edx);
}

void kt_sgx_caps_decode(const kt_cpuid_source *src, kt_sgx_caps *caps)
{
    memset(caps, 0, sizeof *caps);
    kt_cpuid_regs r;
    kt_cpuid_query(src, 7, 0, &r);
    caps->sgx = (r.ebx >> 2) & 1;
    caps->flc = (r.ecx >> 30) & 1;
    if (!caps->sgx) {
        snprintf(caps->why_not, sizeof caps->why_not, "CPUID.(EAX=7,ECX=0).EBX[2] (SGX) is clear");
        return;
    }
    kt_cpuid_query(src, 0x12, 0, &r);
    caps->sgx1 = r.eax & 1;
    caps->sgx2 = (r.eax >> 1) & 1;
    caps->max_enclave_bits_64 = (r.edx >> 8) & 0xff;
    if (!caps->sgx1) {
        snprintf(caps->why_not, sizeof caps->why_not,
                 "SGX is present but not enabled (CPUID.12H.0 reports no SGX1; check the BIOS)");
        return;
    }
    for (uint32_t sub = 2; sub < 2 + 64; sub++) {
        kt_cpuid_query(src, 0x12, sub, &r);
        unsigned type = r.eax & 0xf;
        if (type == 0) break;
        if (type != 1) continue;
        uint64_t size = (uint64_t)(r.ecx & 0xfffff000u) | ((uint64_t)(r.edx & 0xfffffu) << 32);
        caps->epc_bytes += size;
        caps->epc_sections++;
    }
    if (caps->epc_bytes == 0) {
        snprintf(caps->why_not, sizeof caps->why_not, "SGX is enabled but reports no EPC");
        return;
    }
    caps->usable = true;
}
