/* The reproducible-build check: the request carries the unsigned image and its config,
 * and the service measures them itself, so a key with `reproducible: true` signs only an
 * MRENCLAVE it computed, never one a client merely claims. The image must also pass
 * what `kubetee sign` checks (the trusted runtime's import allow-lists, EINIT's layout
 * rules) and fit the signer's enclave size limit before it is measured. */
#include "signer.h"

#include <string.h>

#define CONFIG_MAX (64u << 10)

kt_status sg_build_check(const uint8_t *image, size_t n, const char *config, size_t config_len,
                         uint64_t max_enclave_size, const kt_sigdata_info *req)
{
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    if (config_len > CONFIG_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "build check: the enclave config is over %u bytes",
                       CONFIG_MAX);
    kt_status st = kt_enclave_config_parse(config, config_len, &c);
    if (!st) st = kt_enclave_config_check(&c);
    if (st) return kt_fail_context(st, "build check: the enclave config");
    kt_elf elf;
    kt_layout l;
    if ((st = kt_elf_parse(image, n, &elf)) || (st = kt_elf_check_imports(&elf)) ||
        (st = kt_layout_plan(&elf, &c, &l)))
        return kt_fail_context(st, "build check: the image");
    if (l.size > max_enclave_size)
        return kt_fail(KT_ERR_TOO_LARGE, "build check: the enclave is %llu MiB, over the "
                                         "signer's limit of %llu MiB; not measured",
                       (unsigned long long)(l.size >> 20),
                       (unsigned long long)(max_enclave_size >> 20));
    kt_einit_report r;
    if ((st = kt_layout_einit_check(&l, &elf, image, &r))) return st;
    for (unsigned i = 0; i < r.n; i++)
        if (!r.rule[i].ok)
            return kt_fail(KT_ERR_DENIED, "build check: EINIT would refuse the layout: %s (%s)",
                           r.rule[i].name, r.rule[i].detail);
    uint8_t mr[KT_SHA256_LEN];
    if ((st = kt_layout_measure(&l, &elf, image, mr))) return st;
    if (!kt_equal(mr, req->mrenclave, KT_SHA256_LEN)) {
        char got[65], want[65];
        kt_hex_encode(mr, 32, got, sizeof got);
        kt_hex_encode(req->mrenclave, 32, want, sizeof want);
        return kt_fail(KT_ERR_DENIED, "build check: the image and config measure %s, not the "
                                      "MRENCLAVE %s asked to be signed",
                       got, want);
    }
    if (c.prodid != req->prodid || c.svn != req->svn || c.debug != req->debug ||
        c.xfrm != req->xfrm)
        return kt_fail(KT_ERR_DENIED, "build check: the config's prodid, svn, debug or xfrm "
                                      "differ from the signing data's");
    return KT_OK;
}
