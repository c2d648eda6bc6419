/* A clock floor proposal (src/aecs/recovery_floor.c), the file a recovery holder is asked
 * to sign (aecsadmin recovery sign): any bytes are decoded or refused as malformed, never
 * crash; what decodes encodes back to exactly the same bytes and is a lowering (a new
 * floor before the one it replaces). */
#include <kubetee/aecs_recovery.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    kt_floor_proposal p;
    kt_status st = kt_floor_proposal_decode(data, n, &p);
    if (st && st != KT_ERR_MALFORMED) abort();
    if (st) return 0;
    if (p.floor <= 0 || p.floor >= p.floor_was) abort();
    kt_buf b = {0}, m = {0};
    if (kt_floor_proposal_encode(&p, &b) || b.len != n || memcmp(b.data, data, n)) abort();
    if (kt_floor_change_message(&p, &m) || m.len != sizeof KT_RECOVERY_FLOOR_LABEL - 1 + n) abort();
    kt_buf_free(&b);
    kt_buf_free(&m);
    return 0;
}
