/* One item as stored and exported: a header line, then its issuer chain and body. */
#include "collateral.h"

#include <stdio.h>
#include <string.h>

#define MAGIC "KTCI1 "

kt_status kt_coll_record_write(kt_buf *out, const char *key, time_t verified_at, const void *chain,
                               size_t chain_len, const void *body, size_t body_len)
{
    char head[128];
    int n = snprintf(head, sizeof head, MAGIC "%s %lld %zu %zu\n", key,
                     (long long)(verified_at > 0 ? verified_at : 0), chain_len, body_len);
    if (n < 0 || (size_t)n >= sizeof head || chain_len > KT_COLL_ITEM_MAX ||
        body_len > KT_COLL_ITEM_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "record: item too large");
    kt_status st = kt_buf_append(out, head, (size_t)n);
    if (!st && chain_len) st = kt_buf_append(out, chain, chain_len);
    if (!st && body_len) st = kt_buf_append(out, body, body_len);
    return st;
}

/* The next space- or newline-ended field of at most max bytes. */
static kt_status field(const uint8_t **p, const uint8_t *end, char stop, char *out, size_t max,
                       const char *what)
{
    size_t i = 0;
    while (*p < end && **p != (uint8_t)stop) {
        if (i + 1 >= max || **p < 0x21 || **p > 0x7e)
            return kt_fail(KT_ERR_MALFORMED, "record: bad %s", what);
        out[i++] = (char)*(*p)++;
    }
    if (*p == end || i == 0) return kt_fail(KT_ERR_MALFORMED, "record: %s missing", what);
    (*p)++;
    out[i] = '\0';
    return KT_OK;
}

kt_status kt_coll_record_next(const uint8_t **data, size_t *n, kt_coll_record *r)
{
    if (!data || !*data || !n || !r) return kt_fail(KT_ERR_INVALID_ARGUMENT, "record: NULL");
    memset(r, 0, sizeof *r);
    const uint8_t *p = *data, *end = *data + *n;
    if (*n < sizeof MAGIC - 1 || memcmp(p, MAGIC, sizeof MAGIC - 1))
        return kt_fail(KT_ERR_MALFORMED, "record: not a kubetee collateral item");
    p += sizeof MAGIC - 1;
    char cl[16], bl[16], vl[24];
    uint64_t c, b, v;
    kt_coll_query q;
    kt_status st = field(&p, end, ' ', r->key, sizeof r->key, "key");
    if (!st) st = field(&p, end, ' ', vl, sizeof vl, "time verified");
    if (!st && kt_decimal_parse(vl, 1ull << 40, &v))
        st = kt_fail(KT_ERR_MALFORMED, "record %s: time verified must be decimal", r->key);
    if (!st) st = field(&p, end, ' ', cl, sizeof cl, "chain length");
    if (!st) st = field(&p, end, '\n', bl, sizeof bl, "body length");
    if (st) return st;
    if (kt_decimal_parse(cl, KT_COLL_ITEM_MAX, &c) || kt_decimal_parse(bl, KT_COLL_ITEM_MAX, &b))
        return kt_fail(KT_ERR_MALFORMED, "record %s: lengths must be decimal up to %u", r->key,
                       KT_COLL_ITEM_MAX);
    if ((st = kt_coll_key_parse(r->key, &q))) return kt_fail_context(st, "record");
    if ((size_t)(end - p) < c + b)
        return kt_fail(KT_ERR_MALFORMED, "record %s: truncated (%zu bytes of %llu)", r->key,
                       (size_t)(end - p), (unsigned long long)(c + b));
    r->verified_at = (time_t)v;
    r->chain = p;
    r->chain_len = (size_t)c;
    r->body = p + c;
    r->body_len = (size_t)b;
    p += c + b;
    *n -= (size_t)(p - *data);
    *data = p;
    return KT_OK;
}
