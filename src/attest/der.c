/* A DER reader for what attestation parses itself: certificates, CRLs and the PCK
 * certificate's SGX extensions. Definite, minimal lengths only; every step is bounds-checked
 * and every failure names what was being read. */
#include "internal.h"

#include <stdio.h>
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

/* Days from 1970-01-01 to year-month-day (proleptic Gregorian), by the civil-date
 * algorithm: years start in March, so the leap day is the last day of a year. */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

kt_status kt_utc_time(int year, int month, int day, int hour, int min, int sec, time_t *out)
{
    if (year < 1 || year > 9999 || month < 1 || month > 12 || hour < 0 || hour > 23 || min < 0 ||
        min > 59 || sec < 0 || sec > 59 || day < 1)
        return kt_fail(KT_ERR_MALFORMED, "time is out of range");
    if (day > month_days(year, month)) return kt_fail(KT_ERR_MALFORMED, "no such day");
    *out = (time_t)(days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec);
    return KT_OK;
}

void kt_utc_format(time_t t, char out[24])
{
    /* 0001-01-01 .. 9999-12-31T23:59:59 */
    if (t < -62135596800LL || t > 253402300799LL) {
        snprintf(out, 24, "@%lld", (long long)t);
        return;
    }
    long long days = (long long)t / 86400, secs = (long long)t % 86400;
    if (secs < 0) secs += 86400, days--;
    /* the inverse of days_from_civil */
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    long long y = yoe + era * 400 + (m <= 2);
    snprintf(out, 24, "%04lld-%02d-%02dT%02lld:%02lld:%02lldZ", y, m, d, secs / 3600,
             secs / 60 % 60, secs % 60);
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
    const char *y = (const char *)v.p, *r = y + ylen;
    int year = kt_decimal(y, (int)ylen);
    if (utc && year >= 0) year += year < 50 ? 2000 : 1900;
    if (year < 1950) return kt_fail(KT_ERR_MALFORMED, "%s: time is out of range", what);
    st = kt_utc_time(year, kt_decimal(r, 2), kt_decimal(r + 2, 2), kt_decimal(r + 4, 2),
                     kt_decimal(r + 6, 2), kt_decimal(r + 8, 2), out);
    return st ? kt_fail_context(st, "%s", what) : KT_OK;
}
