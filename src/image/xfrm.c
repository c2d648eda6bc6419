/* XFRM: the XSAVE state components an enclave runs with (SECS.ATTRIBUTES.XFRM), the
 * values ECREATE accepts, and the SSA frame they need.
 *
 * ECREATE accepts an XFRM that XSETBV would accept for XCR0 with x87 and SSE set (Intel
 * SDM vol. 3D, ECREATE; vol. 1, "XSAVE-Supported Features"). An SSA frame holds the
 * XSAVE area at its start, then MISC and GPRSGX at its end. */
#include "internal.h"

#define GPRSGX_LEN 184 /* SSA.GPRSGX */
#define EXINFO_LEN 16  /* SSA.MISC with MISCSELECT.EXINFO: always left room for */
#define XSAVE_BASE 576 /* legacy region (512) + XSAVE header (64): x87 and SSE */

/* The user state components an enclave may enable, with the end (offset + size) of each
 * in the standard XSAVE format, CPUID.(EAX=0DH, ECX=i):EBX + EAX on Intel CPUs. */
static const struct {
    unsigned bit;
    uint32_t end;
} components[] = {
    {0, XSAVE_BASE}, /* x87 */
    {1, XSAVE_BASE}, /* SSE */
    {2, 832},        /* AVX: YMM_Hi128 at 576, 256 bytes */
    {3, 1024},       /* MPX BNDREGS at 960, 64 */
    {4, 1088},       /* MPX BNDCSR at 1024, 64 */
    {5, 1152},       /* AVX-512 opmask at 1088, 64 */
    {6, 1664},       /* AVX-512 ZMM_Hi256 at 1152, 512 */
    {7, 2688},       /* AVX-512 Hi16_ZMM at 1664, 1024 */
    {9, 2696},       /* PKRU at 2688, 8 */
    {17, 2816},      /* AMX TILECFG at 2752, 64 */
    {18, 11008},     /* AMX TILEDATA at 2816, 8192 */
};
#define NCOMPONENTS (sizeof components / sizeof components[0])

kt_status kt_xfrm_check(uint64_t xfrm)
{
    uint64_t known = 0;
    for (size_t i = 0; i < NCOMPONENTS; i++)
        known |= 1ull << components[i].bit;
    if ((xfrm & 3) != 3)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "XFRM 0x%llx: x87 and SSE (bits 0 and 1) must be set (ECREATE)",
                       (unsigned long long)xfrm);
    if (xfrm & ~known) {
        unsigned bit = 0;
        while (!((xfrm & ~known) >> bit & 1))
            bit++;
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "XFRM 0x%llx: bit %u is not a user state component an enclave can enable "
                       "(allowed: bits 0-7, 9, 17, 18)",
                       (unsigned long long)xfrm, bit);
    }
    if (((xfrm >> 3) & 1) != ((xfrm >> 4) & 1))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "XFRM 0x%llx: MPX BNDREGS and BNDCSR (bits 3 and 4) go together",
                       (unsigned long long)xfrm);
    uint64_t avx512 = xfrm & 0xE0;
    if (avx512 && (avx512 != 0xE0 || !(xfrm & 4)))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "XFRM 0x%llx: AVX-512 (bits 5-7) goes as a whole and needs AVX (bit 2)",
                       (unsigned long long)xfrm);
    if (((xfrm >> 17) & 1) != ((xfrm >> 18) & 1))
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "XFRM 0x%llx: AMX TILECFG and TILEDATA (bits 17 and 18) go together",
                       (unsigned long long)xfrm);
    return KT_OK;
}

uint32_t kt_xfrm_ssa_bytes(uint64_t xfrm)
{
    uint32_t end = XSAVE_BASE;
    for (size_t i = 0; i < NCOMPONENTS; i++)
        if ((xfrm >> components[i].bit & 1) && components[i].end > end) end = components[i].end;
    return end + EXINFO_LEN + GPRSGX_LEN;
}

uint32_t kt_xfrm_ssa_pages(uint64_t xfrm)
{
    return (kt_xfrm_ssa_bytes(xfrm) + KT_PAGE_SIZE - 1) / KT_PAGE_SIZE;
}
