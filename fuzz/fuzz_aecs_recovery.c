/* AECS recovery files (src/aecs/recovery.c): a share file from a holder or a restoring
 * admin (which the AECS enclave decodes too), a change proposal a holder is asked to sign,
 * a consent. The first byte picks the decoder. Any bytes are decoded or refused, never
 * crash; what decodes encodes back to exactly the same bytes (nothing is dropped or
 * defaulted), and an open share's signature check and a sealed share's opening with a
 * key it is not for refuse rather than crash. */
#include <kubetee/aecs_recovery.h>

#include <stdlib.h>
#include <string.h>

static void same(const kt_buf *b, const uint8_t *data, size_t n)
{
    if (b->len != n || memcmp(b->data, data, n)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    const uint8_t *p = data + 1;
    size_t len = n - 1;
    kt_buf b = {0};
    if (data[0] % 3 == 0) {
        kt_recovery_share s;
        if (kt_recovery_share_decode(p, len, &s) == KT_OK) {
            if (kt_recovery_share_encode(&s, &b)) abort();
            same(&b, p, len);
            if (s.index < 1 || s.index > s.count || s.threshold < 1 || s.threshold > s.count || s.count > 16) abort();
            static kt_key *k;
            if (!k && kt_key_generate(KT_KEY_P256, &k)) abort();
            if (s.kind == KT_SHARE_OPEN) kt_recovery_share_verify(&s);
            else if (kt_recovery_share_open(&s, k) == KT_OK) abort(); /* not sealed to this key */
        } else if (kt_recovery_share_decode(p, len, &s) != KT_ERR_MALFORMED) abort();
    } else if (data[0] % 3 == 1) {
        kt_recovery_proposal q;
        if (kt_recovery_proposal_decode(p, len, &q) == KT_OK) {
            if (kt_recovery_proposal_encode(&q, &b)) abort();
            same(&b, p, len);
            if (kt_recovery_set_check((const uint8_t(*)[64])q.keys, q.count, q.threshold, q.single_holder)) abort();
        }
    } else {
        kt_recovery_consent c;
        if (kt_recovery_consent_decode(p, len, &c) == KT_OK) {
            if (kt_recovery_consent_encode(&c, &b)) abort();
            same(&b, p, len);
        }
    }
    kt_buf_free(&b);
    return 0;
}
