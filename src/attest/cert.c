/* X.509 certificates and CRLs as DCAP uses them (RFC 5280, Intel's "SGX PCK Certificate
 * and CRL Profile"): ECDSA P-256 with SHA-256 throughout. Parsed into views of the DER,
 * without OpenSSL's X.509 decoder (which spends ~100 us per certificate decoding its key);
 * anything outside the profile is refused with what was wrong. */
#define _GNU_SOURCE /* memmem */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t oid_ecdsa_sha256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
static const uint8_t oid_ec_public_key[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
static const uint8_t oid_prime256v1[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const uint8_t oid_basic_constraints[] = {0x55, 0x1D, 0x13};
static const uint8_t oid_key_usage[] = {0x55, 0x1D, 0x0F};
static const uint8_t oid_crl_dp[] = {0x55, 0x1D, 0x1F};
static const uint8_t oid_ski[] = {0x55, 0x1D, 0x0E};
static const uint8_t oid_aki[] = {0x55, 0x1D, 0x23};
static const uint8_t oid_common_name[] = {0x55, 0x04, 0x03};
static const uint8_t oid_sgx[] = {0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01};

/* AlgorithmIdentifier { ecdsa-with-SHA256 } with no parameters (RFC 5758). */
static kt_status sig_alg(kt_der *d, const char *what)
{
    kt_der alg, oid;
    kt_status st = kt_der_next(d, 0x30, what, &alg);
    if (!st) st = kt_der_next(&alg, 0x06, what, &oid);
    if (!st && (!kt_der_is(oid, oid_ecdsa_sha256, sizeof oid_ecdsa_sha256) || alg.n))
        st = kt_fail(KT_ERR_UNSUPPORTED, "%s: signature algorithm is not ecdsa-with-SHA256", what);
    return st;
}

/* A positive INTEGER of at most 32 bytes, right-aligned into out. */
static kt_status scalar(kt_der *d, const char *what, uint8_t out[32])
{
    kt_der v;
    kt_status st = kt_der_next(d, 0x02, what, &v);
    if (st) return st;
    /* positive and minimal: a leading zero only where the next byte's top bit is set */
    bool ok = v.n > 0 && !(v.p[0] & 0x80) && !(v.n > 1 && v.p[0] == 0 && !(v.p[1] & 0x80));
    if (ok && v.n > 1 && v.p[0] == 0) v.p++, v.n--;
    if (!ok || v.n > 32)
        return kt_fail(KT_ERR_MALFORMED, "%s: ECDSA signature value is not a 256-bit INTEGER",
                       what);
    memset(out, 0, 32);
    memcpy(out + 32 - v.n, v.p, v.n);
    return KT_OK;
}

/* SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING { ECDSA-Sig-Value } } and nothing after. */
static kt_status signed_object(const uint8_t *der, size_t n, const char *what, kt_der *tbs,
                               kt_der *tbs_content, uint8_t sig[64])
{
    kt_der all = {der, n}, obj, bits, pair;
    kt_status st = kt_der_next(&all, 0x30, what, &obj);
    if (st) return st;
    if (all.n) return kt_fail(KT_ERR_MALFORMED, "%s: bytes after the DER", what);
    const uint8_t *start = obj.p;
    if ((st = kt_der_next(&obj, 0x30, what, tbs_content))) return st;
    *tbs = (kt_der){start, (size_t)(obj.p - start)};
    if ((st = sig_alg(&obj, what)) || (st = kt_der_next(&obj, 0x03, what, &bits))) return st;
    if (obj.n) return kt_fail(KT_ERR_MALFORMED, "%s: extra fields after the signature", what);
    if (bits.n < 1 || bits.p[0] != 0)
        return kt_fail(KT_ERR_MALFORMED, "%s: signature BIT STRING has unused bits", what);
    bits.p++, bits.n--;
    if ((st = kt_der_next(&bits, 0x30, what, &pair)) || (st = scalar(&pair, what, sig)) ||
        (st = scalar(&pair, what, sig + 32)))
        return st;
    if (pair.n || bits.n)
        return kt_fail(KT_ERR_MALFORMED, "%s: extra bytes in the ECDSA signature", what);
    return KT_OK;
}

/* Extension { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
static kt_status extension(kt_der *list, const char *what, kt_der *oid, bool *critical,
                           kt_der *value)
{
    kt_der ext, b;
    kt_status st = kt_der_next(list, 0x30, what, &ext);
    if (!st) st = kt_der_oid(&ext, what, oid);
    if (st) return st;
    *critical = false;
    if (kt_der_peek(&ext, 0x01)) {
        if ((st = kt_der_next(&ext, 0x01, what, &b))) return st;
        if (b.n != 1 || b.p[0] != 0xFF)
            return kt_fail(KT_ERR_MALFORMED, "%s: extension's critical flag is not DER TRUE", what);
        *critical = true;
    }
    if ((st = kt_der_next(&ext, 0x04, what, value))) return st;
    return ext.n ? kt_fail(KT_ERR_MALFORMED, "%s: extra fields in an extension", what) : KT_OK;
}

/* A (well-formed) OID in dotted form for messages, cut at 63 characters. */
#define OID_TEXT 64
static const char *oid_text(kt_der oid, char out[OID_TEXT])
{
    size_t at = 0;
    uint64_t arc = 0;
    out[0] = '\0';
    for (size_t i = 0; i < oid.n && at < OID_TEXT - 24; i++) {
        arc = arc << 7 | (oid.p[i] & 0x7F);
        if (oid.p[i] & 0x80) {
            if (arc >> 56) break; /* longer than any arc worth printing */
            continue;
        }
        if (at == 0) {
            unsigned first = arc < 80 ? (unsigned)(arc / 40) : 2;
            at += (size_t)snprintf(out, OID_TEXT, "%u.%llu", first,
                                   (unsigned long long)(arc - 40u * first));
        } else {
            at += (size_t)snprintf(out + at, OID_TEXT - at, ".%llu", (unsigned long long)arc);
        }
        arc = 0;
    }
    return out;
}

static kt_status unknown_critical(kt_der oid, const char *what)
{
    char dotted[OID_TEXT];
    return kt_fail(KT_ERR_UNSUPPORTED, "%s: unknown critical extension %s", what,
                   oid_text(oid, dotted));
}

/* The extension OIDs met so far in one list: any OID a second time is refused, known or
 * not, so no reader can pick another copy than ours. */
#define MAX_EXTENSIONS 16
typedef struct {
    kt_der oid[MAX_EXTENSIONS];
    size_t n;
} oid_set;

static kt_status first_time(oid_set *seen, kt_der oid, const char *what)
{
    char dotted[OID_TEXT];
    for (size_t i = 0; i < seen->n; i++)
        if (kt_der_is(oid, seen->oid[i].p, seen->oid[i].n))
            return kt_fail(KT_ERR_MALFORMED, "%s: extension %s appears twice", what,
                           oid_text(oid, dotted));
    if (seen->n == MAX_EXTENSIONS)
        return kt_fail(KT_ERR_MALFORMED, "%s: more than %d extensions", what, MAX_EXTENSIONS);
    seen->oid[seen->n++] = oid;
    return KT_OK;
}

static kt_status basic_constraints(kt_der v, const char *what, kt_x509 *x)
{
    kt_der seq, b;
    kt_status st = kt_der_next(&v, 0x30, what, &seq);
    if (!st && v.n) st = kt_fail(KT_ERR_MALFORMED, "%s: bytes after basicConstraints", what);
    if (!st && kt_der_peek(&seq, 0x01)) {
        if ((st = kt_der_next(&seq, 0x01, what, &b))) return st;
        if (b.n != 1 || b.p[0] != 0xFF) /* DER leaves out FALSE, the default */
            return kt_fail(KT_ERR_MALFORMED, "%s: basicConstraints cA is not DER TRUE", what);
        x->is_ca = true;
    }
    if (!st && kt_der_peek(&seq, 0x02)) {
        uint32_t len = 0;
        if ((st = kt_der_next(&seq, 0x02, what, &b)) || (st = kt_der_uint(b, 255, what, &len)))
            return st;
        x->path_len = (int)len;
    }
    if (!st && seq.n) st = kt_fail(KT_ERR_MALFORMED, "%s: extra fields in basicConstraints", what);
    return st;
}

/* KeyUsage ::= BIT STRING in DER: the unused (padding) bits zero, and no trailing zero
 * bits (so the last octet is not zero and the unused count is its trailing zeros).
 * `03 02 06 C6` would otherwise grant keyCertSign and cRLSign in its padding. */
static kt_status key_usage(kt_der v, const char *what, kt_x509 *x)
{
    kt_der bits;
    kt_status st = kt_der_next(&v, 0x03, what, &bits);
    if (st) return st;
    if (v.n || bits.n < 2 || bits.n > 3 || bits.p[0] > 7)
        return kt_fail(KT_ERR_MALFORMED, "%s: keyUsage is not a short BIT STRING", what);
    uint8_t last = bits.p[bits.n - 1], unused = bits.p[0];
    if (last & ((1u << unused) - 1))
        return kt_fail(KT_ERR_MALFORMED, "%s: keyUsage has non-zero padding bits", what);
    if (last == 0 || (last & (1u << unused)) == 0)
        return kt_fail(KT_ERR_MALFORMED, "%s: keyUsage BIT STRING has trailing zero bits (not DER)",
                       what);
    x->key_usage = (uint16_t)(bits.p[1] << 8 | (bits.n == 3 ? bits.p[2] : 0));
    x->has_key_usage = true;
    return KT_OK;
}

/* An OCTET STRING key identifier of 1..64 bytes. */
static kt_status key_id(kt_der v, uint8_t tag, const char *what, const char *name)
{
    kt_der id;
    kt_status st = kt_der_next(&v, tag, what, &id);
    if (!st && (v.n || id.n == 0 || id.n > 64))
        st = kt_fail(KT_ERR_MALFORMED, "%s: %s is not a key identifier of 1 to 64 bytes", what,
                     name);
    return st;
}

/* AuthorityKeyIdentifier as DCAP has it: SEQUENCE { [0] keyIdentifier } and nothing else. */
static kt_status authority_key_id(kt_der v, const char *what)
{
    kt_der seq;
    kt_status st = kt_der_next(&v, 0x30, what, &seq);
    if (!st && v.n) st = kt_fail(KT_ERR_MALFORMED, "%s: bytes after authorityKeyIdentifier", what);
    return st ? st : key_id(seq, 0x80, what, "authorityKeyIdentifier");
}

/* CRLDistributionPoints as DCAP has it: SEQUENCE OF { [0] { [0] fullName { [6] URI ...
 * } } }, each URI printable ASCII. */
static kt_status crl_points(kt_der v, const char *what)
{
    static const char bad[] = "%s: CRL distribution points are not full-name URIs";
    kt_der points;
    kt_status st = kt_der_next(&v, 0x30, what, &points);
    if (!st && (v.n || !points.n)) st = kt_fail(KT_ERR_MALFORMED, bad, what);
    while (!st && points.n) {
        kt_der dp, name, full, uri;
        if ((st = kt_der_next(&points, 0x30, what, &dp)) ||
            (st = kt_der_next(&dp, 0xA0, what, &name)) ||
            (st = kt_der_next(&name, 0xA0, what, &full)))
            break;
        if (dp.n || name.n || !full.n) st = kt_fail(KT_ERR_MALFORMED, bad, what);
        while (!st && full.n && !(st = kt_der_next(&full, 0x86, what, &uri))) {
            bool ok = uri.n > 0;
            for (size_t i = 0; ok && i < uri.n; i++)
                ok = uri.p[i] >= 0x21 && uri.p[i] <= 0x7E;
            if (!ok) st = kt_fail(KT_ERR_MALFORMED, bad, what);
        }
    }
    return st;
}

/* Which extensions a DCAP certificate carries (Intel's profile; the sim PKI's are the
 * same): anything else is refused, so no reader finds a meaning in one that ours skips.
 * Only basicConstraints and keyUsage may be critical. */
static kt_status cert_extension(kt_der oid, bool critical, kt_der value, const char *what,
                                kt_x509 *x)
{
    if (kt_der_is(oid, oid_basic_constraints, sizeof oid_basic_constraints))
        return basic_constraints(value, what, x);
    if (kt_der_is(oid, oid_key_usage, sizeof oid_key_usage)) return key_usage(value, what, x);
    bool known = kt_der_is(oid, oid_sgx, sizeof oid_sgx) ||
                 kt_der_is(oid, oid_crl_dp, sizeof oid_crl_dp) ||
                 kt_der_is(oid, oid_ski, sizeof oid_ski) || kt_der_is(oid, oid_aki, sizeof oid_aki);
    char dotted[OID_TEXT];
    if (critical && !known) return unknown_critical(oid, what);
    if (critical)
        return kt_fail(KT_ERR_MALFORMED, "%s: extension %s is marked critical", what,
                       oid_text(oid, dotted));
    if (!known)
        return kt_fail(KT_ERR_UNSUPPORTED, "%s: extension %s is outside DCAP's profile", what,
                       oid_text(oid, dotted));
    if (kt_der_is(oid, oid_sgx, sizeof oid_sgx)) {
        x->sgx_ext = value;
        return KT_OK;
    }
    if (kt_der_is(oid, oid_crl_dp, sizeof oid_crl_dp)) {
        x->crl_dp = value;
        return crl_points(value, what);
    }
    if (kt_der_is(oid, oid_ski, sizeof oid_ski))
        return key_id(value, 0x04, what, "subjectKeyIdentifier");
    return authority_key_id(value, what);
}

static kt_status cert_extensions(kt_der *tbs, const char *what, kt_x509 *x)
{
    kt_der outer, list;
    kt_status st = kt_der_next(tbs, 0xA3, what, &outer);
    if (!st) st = kt_der_next(&outer, 0x30, what, &list);
    if (!st && outer.n) st = kt_fail(KT_ERR_MALFORMED, "%s: bytes after the extensions", what);
    oid_set seen = {.n = 0};
    while (!st && list.n) {
        kt_der oid, value;
        bool critical;
        if (!(st = extension(&list, what, &oid, &critical, &value)) &&
            !(st = first_time(&seen, oid, what)))
            st = cert_extension(oid, critical, value, what, x);
    }
    return st;
}

/* UTF-8 as RFC 3629 has it: shortest forms, no surrogates, at most U+10FFFF. */
static bool utf8(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t len = c < 0x80                 ? 1
                     : c >= 0xC2 && c <= 0xDF ? 2
                     : c >= 0xE0 && c <= 0xEF ? 3
                     : c >= 0xF0 && c <= 0xF4 ? 4
                                              : 0;
        if (len == 0 || len > n - i) return false;
        uint32_t cp = len == 1 ? c : c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += len;
    }
    return true;
}

static bool printable(const uint8_t *p, size_t n)
{
    static const char extra[] = " '()+,-./:=?";
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
              (p[i] >= '0' && p[i] <= '9') || (p[i] && memchr(extra, p[i], sizeof extra - 1))))
            return false;
    return true;
}

/* Name ::= SEQUENCE OF RDN, each RDN one { OID, PrintableString or UTF8String } as DCAP
 * names are; out is the whole element, compared byte for byte. */
static kt_status name(kt_der *d, const char *what, kt_der *out)
{
    static const char bad[] = "%s: a name is not a sequence of single attributes, each a "
                              "PrintableString or UTF-8 UTF8String";
    const uint8_t *at = d->p;
    kt_der seq;
    kt_status st = kt_der_next(d, 0x30, what, &seq);
    if (st) return st;
    *out = (kt_der){at, (size_t)(d->p - at)};
    while (seq.n) {
        kt_der rdn, atv, oid, value;
        if ((st = kt_der_next(&seq, 0x31, what, &rdn)) ||
            (st = kt_der_next(&rdn, 0x30, what, &atv)) || (st = kt_der_oid(&atv, what, &oid)))
            return st;
        bool ok = !rdn.n && atv.n >= 2;
        uint8_t tag = ok ? atv.p[0] : 0;
        ok = ok && (tag == 0x13 || tag == 0x0C) && !kt_der_next(&atv, tag, what, &value) &&
             !atv.n && (tag == 0x13 ? printable(value.p, value.n) : utf8(value.p, value.n));
        if (!ok) return kt_fail(KT_ERR_MALFORMED, bad, what);
    }
    return KT_OK;
}

/* CertificateSerialNumber: a positive INTEGER in its shortest form, at most 20 octets of
 * value (a 21st is the zero that keeps a high first octet positive). */
static kt_status serial_number(kt_der *d, const char *what, kt_der *out)
{
    kt_status st = kt_der_next(d, 0x02, what, out);
    if (!st) st = kt_der_int(*out, what);
    if (!st && ((out->p[0] & 0x80) || out->n > 21 || (out->n == 21 && out->p[0] != 0)))
        st = kt_fail(KT_ERR_MALFORMED,
                     "%s: serial number is not a positive INTEGER of at most 20 octets", what);
    return st;
}

/* SubjectPublicKeyInfo { { id-ecPublicKey, prime256v1 }, BIT STRING 04 || X || Y } */
static kt_status public_key(kt_der *tbs, const char *what, uint8_t pub[64])
{
    kt_der spki, alg, oid, bits;
    kt_status st = kt_der_next(tbs, 0x30, what, &spki);
    if (!st) st = kt_der_next(&spki, 0x30, what, &alg);
    if (!st) st = kt_der_next(&alg, 0x06, what, &oid);
    if (st) return st;
    if (!kt_der_is(oid, oid_ec_public_key, sizeof oid_ec_public_key))
        return kt_fail(KT_ERR_UNSUPPORTED, "%s: public key is not an EC key", what);
    if ((st = kt_der_next(&alg, 0x06, what, &oid))) return st;
    if (!kt_der_is(oid, oid_prime256v1, sizeof oid_prime256v1) || alg.n)
        return kt_fail(KT_ERR_UNSUPPORTED, "%s: public key is not on P-256", what);
    if ((st = kt_der_next(&spki, 0x03, what, &bits))) return st;
    if (spki.n || bits.n != 66 || bits.p[0] != 0 || bits.p[1] != 0x04)
        return kt_fail(KT_ERR_MALFORMED, "%s: public key is not an uncompressed P-256 point", what);
    memcpy(pub, bits.p + 2, 64);
    return KT_OK;
}

kt_status kt_x509_parse(const uint8_t *der, size_t n, kt_x509 *x)
{
    static const char what[] = "certificate";
    if (!der || !x) return kt_fail(KT_ERR_INVALID_ARGUMENT, "certificate: NULL argument");
    memset(x, 0, sizeof *x);
    x->path_len = -1;
    x->der = (kt_der){der, n};
    kt_der tbs = {0}, v = {0}, ver = {0};
    kt_status st = signed_object(der, n, what, &x->tbs, &tbs, x->sig);
    if (!st && (!kt_der_peek(&tbs, 0xA0) || kt_der_next(&tbs, 0xA0, what, &ver) ||
                kt_der_next(&ver, 0x02, what, &v) || ver.n || v.n != 1 || v.p[0] != 2))
        st = kt_fail(KT_ERR_UNSUPPORTED, "certificate: not an X.509 v3 certificate");
    if (!st) st = serial_number(&tbs, what, &x->serial);
    if (!st) st = sig_alg(&tbs, what);
    if (!st) st = name(&tbs, "certificate issuer", &x->issuer);
    kt_der validity;
    if (!st) st = kt_der_next(&tbs, 0x30, what, &validity);
    if (!st) st = kt_der_time(&validity, "certificate notBefore", &x->not_before);
    if (!st) st = kt_der_time(&validity, "certificate notAfter", &x->not_after);
    if (!st && validity.n) st = kt_fail(KT_ERR_MALFORMED, "certificate: extra fields in validity");
    if (!st) st = name(&tbs, "certificate subject", &x->subject);
    if (!st) st = public_key(&tbs, what, x->pub);
    if (!st && (kt_der_peek(&tbs, 0x81) || kt_der_peek(&tbs, 0x82)))
        st = kt_fail(KT_ERR_UNSUPPORTED, "certificate: has unique identifiers");
    if (!st && tbs.n) st = cert_extensions(&tbs, what, x);
    if (!st && tbs.n) st = kt_fail(KT_ERR_MALFORMED, "certificate: fields after the extensions");
    if (!st && x->path_len >= 0 && !x->is_ca)
        st = kt_fail(KT_ERR_MALFORMED, "certificate: a path length on a certificate that is no CA");
    return st;
}

/* ---- CRLs ---- */

/* Walks CRL extensions (whole [0] or an entry's SEQUENCE): each OID once, and no
 * critical one is known. */
static kt_status crl_extensions(kt_der list, const char *what)
{
    oid_set seen = {.n = 0};
    while (list.n) {
        kt_der oid, value;
        bool critical;
        kt_status st = extension(&list, what, &oid, &critical, &value);
        if (!st) st = first_time(&seen, oid, what);
        if (st) return st;
        if (critical) return unknown_critical(oid, what);
    }
    return KT_OK;
}

kt_status kt_crl_parse(const uint8_t *der, size_t n, kt_crl *c)
{
    static const char what[] = "CRL";
    if (!der || !c) return kt_fail(KT_ERR_INVALID_ARGUMENT, "CRL: NULL argument");
    memset(c, 0, sizeof *c);
    c->der = (kt_der){der, n};
    kt_der tbs, v;
    kt_status st = signed_object(der, n, what, &c->tbs, &tbs, c->sig);
    if (st) return st;
    uint32_t version = 0;
    if (!kt_der_peek(&tbs, 0x02) || (st = kt_der_next(&tbs, 0x02, what, &v)) ||
        (st = kt_der_uint(v, 1, what, &version)) || version != 1)
        return st ? st : kt_fail(KT_ERR_UNSUPPORTED, "CRL: not a version 2 CRL");
    if ((st = sig_alg(&tbs, what)) || (st = name(&tbs, "CRL issuer", &c->issuer))) return st;
    if ((st = kt_der_time(&tbs, "CRL thisUpdate", &c->this_update))) return st;
    if (!kt_der_peek(&tbs, 0x17) && !kt_der_peek(&tbs, 0x18))
        return kt_fail(KT_ERR_UNSUPPORTED, "CRL: has no nextUpdate");
    if ((st = kt_der_time(&tbs, "CRL nextUpdate", &c->next_update))) return st;
    if (kt_der_peek(&tbs, 0x30)) {
        if ((st = kt_der_next(&tbs, 0x30, what, &c->revoked))) return st;
        for (kt_der list = c->revoked; list.n;) {
            kt_der entry, serial, exts;
            time_t when;
            if ((st = kt_der_next(&list, 0x30, "CRL entry", &entry)) ||
                (st = serial_number(&entry, "CRL entry", &serial)) ||
                (st = kt_der_time(&entry, "CRL entry revocationDate", &when)))
                return st;
            if (entry.n && ((st = kt_der_next(&entry, 0x30, "CRL entry", &exts)) ||
                            (st = crl_extensions(exts, "CRL entry"))))
                return st;
            if (entry.n) return kt_fail(KT_ERR_MALFORMED, "CRL entry: extra fields");
        }
    }
    if (kt_der_peek(&tbs, 0xA0)) {
        kt_der outer, list;
        if ((st = kt_der_next(&tbs, 0xA0, what, &outer)) ||
            (st = kt_der_next(&outer, 0x30, what, &list)) || (st = crl_extensions(list, what)))
            return st;
        if (outer.n) return kt_fail(KT_ERR_MALFORMED, "CRL: bytes after the extensions");
    }
    return tbs.n ? kt_fail(KT_ERR_MALFORMED, "CRL: fields after the extensions") : KT_OK;
}

/* Serial numbers as numbers: the sign octet a high first octet needs is no part of one. */
bool kt_serial_equal(kt_der a, kt_der b)
{
    if (a.n > 1 && a.p[0] == 0) a.p++, a.n--;
    if (b.n > 1 && b.p[0] == 0) b.p++, b.n--;
    return kt_der_is(a, b.p, b.n);
}

bool kt_crl_lists(const kt_crl *c, const kt_x509 *x)
{
    kt_der list = c->revoked;
    while (list.n) {
        kt_der entry, serial;
        if (kt_der_next(&list, 0x30, "CRL entry", &entry) ||
            kt_der_next(&entry, 0x02, "CRL entry", &serial))
            return true; /* cannot happen after kt_crl_parse; fail closed */
        if (kt_serial_equal(serial, x->serial)) return true;
    }
    return false;
}

/* ---- names and extensions read on demand ---- */

kt_status kt_x509_common_name(kt_der name, char *out, size_t cap)
{
    kt_der seq;
    kt_status st = kt_der_next(&name, 0x30, "name", &seq);
    while (!st && seq.n) {
        kt_der rdn, atv, oid, value;
        if ((st = kt_der_next(&seq, 0x31, "name", &rdn))) break;
        while (!st && rdn.n) {
            if ((st = kt_der_next(&rdn, 0x30, "name", &atv)) ||
                (st = kt_der_next(&atv, 0x06, "name", &oid)))
                break;
            if (!kt_der_is(oid, oid_common_name, sizeof oid_common_name) || atv.n < 2) continue;
            uint8_t tag = atv.p[0];
            if (tag != 0x0C && tag != 0x13) continue; /* UTF8String, PrintableString */
            if ((st = kt_der_next(&atv, tag, "name", &value))) break;
            if (value.n >= cap || memchr(value.p, 0, value.n))
                return kt_fail(KT_ERR_MALFORMED, "name: common name too long or has NUL");
            memcpy(out, value.p, value.n);
            out[value.n] = '\0';
            return KT_OK;
        }
    }
    return st ? st : kt_fail(KT_ERR_NOT_FOUND, "name: no common name");
}

const char *kt_x509_label(const kt_x509 *x, char out[KT_X509_LABEL])
{
    char raw[KT_X509_LABEL];
    if (kt_x509_common_name(x->subject, raw, sizeof raw)) {
        kt_clear_error();
        return strcpy(out, "(no common name)");
    }
    return kt_escape(raw, strlen(raw), out, KT_X509_LABEL); /* the name is input */
}

/* CRLDistributionPoints: SEQUENCE OF { [0] { [0] fullName { [6] URI ... } } ... } */
kt_status kt_x509_crl_url(const kt_x509 *x, char *out, size_t cap)
{
    kt_der v = x->crl_dp, points;
    kt_status st = x->crl_dp.p ? kt_der_next(&v, 0x30, "CRL distribution points", &points)
                               : kt_fail(KT_ERR_NOT_FOUND, "no CRL distribution points");
    while (!st && points.n) {
        kt_der dp, name, full;
        if ((st = kt_der_next(&points, 0x30, "CRL distribution point", &dp))) break;
        if (!kt_der_peek(&dp, 0xA0) || kt_der_next(&dp, 0xA0, "CRL distribution point", &name) ||
            !kt_der_peek(&name, 0xA0) || kt_der_next(&name, 0xA0, "CRL distribution point", &full))
            continue;
        while (full.n) {
            kt_der gn;
            uint8_t tag = full.p[0];
            if (kt_der_next(&full, tag, "CRL distribution point", &gn)) break;
            if (tag != 0x86 || gn.n >= cap || memchr(gn.p, 0, gn.n)) continue;
            if ((gn.n >= 8 && !memcmp(gn.p, "https://", 8)) ||
                (gn.n >= 7 && !memcmp(gn.p, "http://", 7))) {
                memcpy(out, gn.p, gn.n);
                out[gn.n] = '\0';
                return KT_OK;
            }
        }
    }
    return st ? st : kt_fail(KT_ERR_NOT_FOUND, "no http(s) CRL distribution point");
}

kt_status kt_x509_key(const kt_x509 *x, kt_key **out)
{
    kt_status st = kt_key_from_public_raw(KT_KEY_P256, x->pub, 64, out);
    return st ? kt_fail_context(st, "certificate public key") : KT_OK;
}

/* ---- PEM chains ---- */

kt_status kt_chain_from_pem(const char *pem, size_t n, kt_chain *out)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    memset(out, 0, sizeof *out);
    size_t start[KT_CHAIN_MAX + 1];
    char *b64 = NULL;
    kt_status st = KT_OK;
    const char *at = pem, *stop = pem + n;
    while (!st) {
        const char *b = pem ? memmem(at, (size_t)(stop - at), begin, sizeof begin - 1) : NULL;
        if (!b) break;
        if (out->count == KT_CHAIN_MAX) {
            st = kt_fail(KT_ERR_TOO_LARGE, "certificate chain: more than %d certificates",
                         KT_CHAIN_MAX);
            break;
        }
        b += sizeof begin - 1;
        const char *e = memmem(b, (size_t)(stop - b), end, sizeof end - 1);
        if (!e) {
            st = kt_fail(KT_ERR_MALFORMED, "certificate chain: PEM without its END line");
            break;
        }
        char *grown = realloc(b64, (size_t)(e - b) + 1);
        if (!grown) {
            st = kt_fail(KT_ERR_NO_MEMORY, "out of memory");
            break;
        }
        b64 = grown;
        size_t k = 0;
        for (const char *c = b; c < e; c++)
            if (*c != '\n' && *c != '\r' && *c != ' ' && *c != '\t') b64[k++] = *c;
        start[out->count++] = out->der.len;
        st = kt_base64_decode(b64, k, &out->der);
        if (!st && out->der.len == start[out->count - 1])
            st = kt_fail(KT_ERR_MALFORMED, "certificate %u of the chain is empty", out->count);
        at = e + sizeof end - 1;
    }
    free(b64);
    if (!st && out->count == 0)
        st = kt_fail(KT_ERR_MALFORMED, "certificate chain: no PEM certificates");
    start[out->count] = out->der.len;
    for (unsigned i = 0; !st && i < out->count; i++)
        if ((st = kt_x509_parse(out->der.data + start[i], start[i + 1] - start[i], &out->cert[i])))
            st = kt_fail_context(st, "certificate %u of the chain", i + 1);
    if (st) kt_chain_free(out);
    return st;
}

void kt_chain_free(kt_chain *c)
{
    if (!c) return;
    for (unsigned i = 0; i < KT_CHAIN_MAX; i++)
        kt_key_free(c->key[i]);
    kt_buf_free(&c->der);
    memset(c, 0, sizeof *c);
}

kt_status kt_chain_key(kt_chain *c, unsigned i, const kt_key **out)
{
    if (i >= c->count) return kt_fail(KT_ERR_INVALID_ARGUMENT, "chain key: no certificate %u", i);
    if (!c->key[i]) {
        kt_status st = kt_x509_key(&c->cert[i], &c->key[i]);
        if (st) return kt_fail_context(st, "certificate %u of the chain", i + 1);
    }
    *out = c->key[i];
    return KT_OK;
}
