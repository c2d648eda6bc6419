/* The TA signer allow-list as AECS receives it (an admin's aecs.SetTaSigners, aecs/state):
 * checked into entries, every field, the bad one named; and the one entry a TA's signer
 * and product pick. Plain code, no enclave dependency, so the fuzz target runs it too
 * (fuzz/fuzz_aecs_signers.c). */
#ifndef AECS_SIGNERS_CHECK_H
#define AECS_SIGNERS_CHECK_H

#include <kubetee/base.h>
#include "aecs.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

#define AE_MAX_TA_SIGNERS 64

typedef struct {
    uint8_t mrsigner[32];
    bool check_prod_id; /* else every product of the signer */
    uint16_t prod_id;
    uint32_t max_secrets; /* TA-bound secrets its TAs hold together */
    uint64_t max_bytes;   /* bytes of their data together */
} ae_ta_signer;

/* m[0..n) into out (room for AE_MAX_TA_SIGNERS): each mrsigner 32 bytes, prod_id at most
 * 65535, both quotas at least 1, no two entries one TA could both match (one signer
 * twice, or once for every product and once for one); with max_total (not 0), the
 * entries' max_secrets may add up to at most that (so that no signer starves another
 * under AECS's total). */
kt_status ae_signers_from_msg(Kubetee__Aecs__V1__TaSigner *const *m, size_t n, uint64_t max_total, ae_ta_signer *out,
                              size_t *n_out);
/* The entry a TA of this signer and product picks, or -1. */
int ae_signer_find(const ae_ta_signer *list, size_t n, const uint8_t mrsigner[32], uint16_t prod_id);
/* "<mrsigner hex>[:<prodid>]" */
void ae_signer_name(const ae_ta_signer *s, char out[72]);
#endif
