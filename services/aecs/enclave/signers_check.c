/* Checking a TA signer allow-list (signers_check.h). */
#include "signers_check.h"

#include <stdio.h>
#include <string.h>

static bool overlap(const ae_ta_signer *a, const ae_ta_signer *b)
{
    return !memcmp(a->mrsigner, b->mrsigner, 32) &&
           (!a->check_prod_id || !b->check_prod_id || a->prod_id == b->prod_id);
}

void ae_signer_name(const ae_ta_signer *s, char out[72])
{
    kt_hex_encode(s->mrsigner, 32, out, 65);
    if (s->check_prod_id) snprintf(out + 64, 8, ":%u", (unsigned)s->prod_id);
}

kt_status ae_signers_from_msg(Kubetee__Aecs__V1__TaSigner *const *m, size_t n, uint64_t max_total, ae_ta_signer *out,
                              size_t *n_out)
{
    *n_out = 0;
    if (n > AE_MAX_TA_SIGNERS)
        return kt_fail(KT_ERR_TOO_LARGE, "TA signers: %zu entries, the most is %d", n, AE_MAX_TA_SIGNERS);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        const Kubetee__Aecs__V1__TaSigner *s = m[i];
        ae_ta_signer *e = &out[i];
        memset(e, 0, sizeof *e);
        if (!s || s->mrsigner.len != 32)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "TA signers: entry %zu: mrsigner is 32 bytes, not %zu", i + 1,
                           s ? s->mrsigner.len : 0);
        if (s->prod_id > 65535)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "TA signers: entry %zu: prod_id %u is over 65535", i + 1,
                           (unsigned)s->prod_id);
        if (s->prod_id && !s->check_prod_id)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "TA signers: entry %zu gives prod_id %u without check_prod_id: it "
                                                    "would allow every product of the signer",
                           i + 1, (unsigned)s->prod_id);
        if (!s->max_secrets || !s->max_bytes)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "TA signers: entry %zu: max_secrets and max_bytes are at least 1 "
                                                    "(a quota is always given)", i + 1);
        memcpy(e->mrsigner, s->mrsigner.data, 32);
        e->check_prod_id = s->check_prod_id;
        e->prod_id = (uint16_t)s->prod_id;
        e->max_secrets = s->max_secrets;
        e->max_bytes = s->max_bytes;
        for (size_t j = 0; j < i; j++)
            if (overlap(&out[j], e)) {
                char a[72], b[72];
                ae_signer_name(&out[j], a);
                ae_signer_name(e, b);
                return kt_fail(KT_ERR_INVALID_ARGUMENT, "TA signers: entries %zu (%s) and %zu (%s) both match one TA: "
                                                        "give each signer and product once", j + 1, a, i + 1, b);
            }
        sum += e->max_secrets;
    }
    if (max_total && sum > max_total)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "TA signers: the entries' max_secrets add up to %llu, more than the %llu "
                                                "TA-bound secrets AECS holds in all (max_ta_total): one signer could "
                                                "then starve another", (unsigned long long)sum,
                       (unsigned long long)max_total);
    *n_out = n;
    return KT_OK;
}

int ae_signer_find(const ae_ta_signer *list, size_t n, const uint8_t mrsigner[32], uint16_t prod_id)
{
    for (size_t i = 0; i < n; i++)
        if (!memcmp(list[i].mrsigner, mrsigner, 32) && (!list[i].check_prod_id || list[i].prod_id == prod_id))
            return (int)i;
    return -1;
}
