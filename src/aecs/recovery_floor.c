/* A lowering of AECS's clock floor, as the recovery holders sign it (docs/aecs.md "Time",
 * docs/formats.md "AECS recovery files"): the instance, the floor it replaces, the new
 * floor. The decoder takes untrusted bytes (a proposal to sign) and checks every field. */
#include <kubetee/aecs_recovery.h>

#include <string.h>

#define FLOOR_MAGIC "KTCF"
#define FORMAT 1
#define FLOOR_LEN (4 + 1 + 64 + 8 + 8)

kt_status kt_floor_proposal_encode(const kt_floor_proposal *p, kt_buf *out)
{
    if (!p || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "clock floor proposal: NULL argument");
    uint8_t b[FLOOR_LEN];
    memcpy(b, FLOOR_MAGIC, 4);
    b[4] = FORMAT;
    memcpy(b + 5, p->instance, 64);
    kt_put_le64(b + 69, (uint64_t)p->floor_was);
    kt_put_le64(b + 77, (uint64_t)p->floor);
    return kt_buf_append(out, b, sizeof b);
}

kt_status kt_floor_proposal_decode(const uint8_t *b, size_t n, kt_floor_proposal *p)
{
    if (!b || !p) return kt_fail(KT_ERR_INVALID_ARGUMENT, "clock floor proposal: NULL argument");
    memset(p, 0, sizeof *p);
    if (n < 5 || memcmp(b, FLOOR_MAGIC, 4)) return kt_fail(KT_ERR_MALFORMED, "not an AECS clock floor proposal (no KTCF magic)");
    if (b[4] != FORMAT) return kt_fail(KT_ERR_MALFORMED, "clock floor proposal: format %u, this reads %u", b[4], FORMAT);
    if (n != FLOOR_LEN) return kt_fail(KT_ERR_MALFORMED, "clock floor proposal: %zu bytes, not %d", n, FLOOR_LEN);
    int64_t was = (int64_t)kt_le64(b + 69), to = (int64_t)kt_le64(b + 77);
    if (to <= 0 || to >= was)
        return kt_fail(KT_ERR_MALFORMED, "clock floor proposal: the new floor %lld is not a time before the floor %lld "
                                         "it replaces", (long long)to, (long long)was);
    memcpy(p->instance, b + 5, 64);
    p->floor_was = was;
    p->floor = to;
    return KT_OK;
}

kt_status kt_floor_change_message(const kt_floor_proposal *p, kt_buf *out)
{
    kt_status st = kt_buf_append(out, KT_RECOVERY_FLOOR_LABEL, sizeof KT_RECOVERY_FLOOR_LABEL - 1);
    return st ? st : kt_floor_proposal_encode(p, out);
}
