/* A DER reader for what attestation parses itself: certificates, CRLs and the PCK
 * certificate's SGX extensions. Definite, minimal lengths only; every step is bounds-checked
 * and every failure names what was being read. */
#include "internal.h"

#include <string.h>
#include <time.h>

kt_status kt_der_next(kt_der *d, uint8_t tag, const char *what, kt_der *value)
{
    if (d->n < 2) return kt_fail(KT_ERR_MALFORMED, "%s: truncated DER", what);
    size_t len = d->p[1], hdr = 2;
    if (len & 0x80) {
        size_t nb = len & 0x7f;
        if (nb == 0 || nb > 3 || d->n < 2 + nb)
            return kt_fail(KT_ERR_MALFORMED, "%s: bad DER length", what);
        len = 0;
        for (size_t i = 0; i < nb; i++)
            len = len << 8 | d->p[2 + i];
        if (len < 128 || (len >> (8 * (nb - 1))) == 0)
            return kt_fail(KT_ERR_MALFORMED, "%s: DER length not in its shortest form", what);
        hdr += nb;
    }
    if (len > d->n - hdr)
        return kt_fail(KT_ERR_MALFORMED, "%s: DER value runs past its container", what);
    if (d->p[0] != tag)
        return kt_fail(KT_ERR_MALFORMED, "%s: DER tag 0x%02x where 0x%02x was expected", what,
                       d->p[0], tag);
    value->p = d->p + hdr;
    value->n = len;
    d->p += hdr + len;
    d->n -= hdr + len;
    return KT_OK;
}

bool kt_der_peek(const kt_der *d, uint8_t tag)
{
    return d->n > 0 && d->p[0] == tag;
}

bool kt_der_is(kt_der v, const uint8_t *bytes, size_t n)
{
    return v.n == n && memcmp(v.p, bytes, n) == 0;
}

kt_status kt_der_int(kt_der v, const char *what)
{
    if (v.n == 0) return kt_fail(KT_ERR_MALFORMED, "%s: empty INTEGER", what);
    if (v.n > 1 && ((v.p[0] == 0 && !(v.p[1] & 0x80)) || (v.p[0] == 0xFF && (v.p[1] & 0x80))))
        return kt_fail(KT_ERR_MALFORMED, "%s: INTEGER not in its shortest form", what);
    return KT_OK;
}

kt_status kt_der_uint(kt_der v, uint32_t max, const char *what, uint32_t *out)
{
    kt_status st = kt_der_int(v, what);
    if (st) return st;
    if (v.n > 5 || (v.p[0] & 0x80)) return kt_fail(KT_ERR_MALFORMED, "%s: bad INTEGER", what);
    uint64_t x = 0;
    for (size_t i = 0; i < v.n; i++)
        x = x << 8 | v.p[i];
    if (x > max)
        return kt_fail(KT_ERR_MALFORMED, "%s: INTEGER %llu over %u", what, (unsigned long long)x,
                       max);
    *out = (uint32_t)x;
    return KT_OK;
}

kt_status kt_der_oid(kt_der *d, const char *what, kt_der *oid)
{
    kt_status st = kt_der_next(d, 0x06, what, oid);
    if (st) return st;
    /* each arc base 128, shortest form (no leading 0x80), the last octet ending it */
    bool ok = oid->n > 0 && !(oid->p[oid->n - 1] & 0x80);
    for (size_t i = 0; ok && i < oid->n; i++)
        ok = !(oid->p[i] == 0x80 && (i == 0 || !(oid->p[i - 1] & 0x80)));
    return ok ? KT_OK : kt_fail(KT_ERR_MALFORMED, "%s: malformed OBJECT IDENTIFIER", what);
}

int kt_decimal(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* UTCTime YYMMDDhhmmssZ (years 1950..2049) or GeneralizedTime YYYYMMDDhhmmssZ. */
kt_status kt_der_time(kt_der *d, const char *what, time_t *out)
{
    kt_der v;
    bool utc = kt_der_peek(d, 0x17);
    kt_status st = kt_der_next(d, utc ? 0x17 : 0x18, what, &v);
    if (st) return st;
    size_t ylen = utc ? 2 : 4;
    if (v.n != ylen + 11 || v.p[v.n - 1] != 'Z')
        return kt_fail(KT_ERR_MALFORMED, "%s: time is not %s", what,
                       utc ? "YYMMDDhhmmssZ" : "YYYYMMDDhhmmssZ");
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *y = (const char *)v.p, *r = y + ylen;
    int year = kt_decimal(y, (int)ylen);
    tm.tm_mon = kt_decimal(r, 2) - 1;
    tm.tm_mday = kt_decimal(r + 2, 2);
    tm.tm_hour = kt_decimal(r + 4, 2);
    tm.tm_min = kt_decimal(r + 6, 2);
    tm.tm_sec = kt_decimal(r + 8, 2);
    if (utc && year >= 0) year += year < 50 ? 2000 : 1900;
    if (year < 1950 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 ||
        tm.tm_sec > 59)
        return kt_fail(KT_ERR_MALFORMED, "%s: time is out of range", what);
    tm.tm_year = year - 1900;
    int mday = tm.tm_mday;
    *out = timegm(&tm); /* normalises 31 April into 1 May: such a date is refused */
    if (tm.tm_mday != mday) return kt_fail(KT_ERR_MALFORMED, "%s: no such day", what);
    return KT_OK;
}
